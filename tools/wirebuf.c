/* wirebuf - the command-line tool.
 *
 *   wirebuf marc count FILE...
 *   wirebuf marc validate [--strict] FILE...
 *   wirebuf marc convert --to FMT [--from FMT] [--strict] [-o OUT] [FILE|-]
 *   wirebuf marc dump FILE
 *   wirebuf pg export|import ...   (tools/pg_cmd.c)
 *
 * ISO 2709 input goes through the parallel ordered pipeline
 * (wirebuf/pipeline.h) when --threads (else WIREBUF_THREADS, else the core
 * count) is 2 or more; output is byte-identical to --threads 1.
 *
 * Exit status: 0 clean, 1 some records had errors (count on stderr),
 * 2 usage error or a file that cannot be opened/read. */
#include "wirebuf/buf.h"
#include "wirebuf/marc.h"
#include "wirebuf/pipeline.h"
#include "wirebuf/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

typedef struct opts {
    int strict, keep_marc8, quiet, from, to, oversize;
    const char *out;
    size_t refill;
    unsigned threads; /* 1 = sequential; >= 2 = pipeline workers */
} opts;

static const char *const usage_top =
    "usage: wirebuf marc <count|validate|convert|dump> [options] [FILE...]\n"
    "       wirebuf marc load [--truncate|--append] [--strict] CONNINFO TABLE FILE...\n"
    "       wirebuf pg <export|import> [options] CONNINFO ...\n"
#ifdef WB_HAVE_SERVE
    "       wirebuf serve [-D DATADIR] [-h ADDRESSES] [-p PORT] [-k SOCKET_DIR] ...\n"
#endif
    "       wirebuf <command> --help\n";

int wb_cli_pg(int argc, char **argv); /* tools/pg_cmd.c */
int wb_cli_marc_load(int argc, char **argv); /* tools/marc_load.c */
#ifdef WB_HAVE_SERVE
int wb_cli_serve(int argc, char **argv); /* tools/serve.c */
#endif
int wb_cli_marc_format(const char *name);
int wb_cli_threads(const char *arg, unsigned *threads);

/* --from/--to FMT (also of `marc load`): the wb_marc_format named, or -1
 * after saying so on stderr. */
int wb_cli_marc_format(const char *name)
{
    int f = wb_marc_format_from_name(name);
    if (f < 0)
        fprintf(stderr, "wirebuf: unknown format '%s' (iso2709, marcxml, json, mrk)\n", name);
    return f;
}

/* --threads N (also of `marc load`): N in 1..WB_PIPELINE_MAX_THREADS into
 * *threads and 0, or -1 after saying so on stderr (*threads untouched). */
int wb_cli_threads(const char *arg, unsigned *threads)
{
    char *end;
    long v = strtol(arg, &end, 10);
    if (*end || v < 1 || v > WB_PIPELINE_MAX_THREADS) {
        fprintf(stderr, "wirebuf: --threads must be 1..%d\n", WB_PIPELINE_MAX_THREADS);
        return -1;
    }
    *threads = (unsigned)v;
    return 0;
}

static const char *const usage_count =
    "usage: wirebuf marc count [--from FMT] [--strict] FILE...\n"
    "Count the readable records in each file (stdin when FILE is - or absent).\n";
static const char *const usage_validate =
    "usage: wirebuf marc validate [--strict] [--from FMT] FILE...\n"
    "Check structure (leader, directory, terminators) and character encoding;\n"
    "report every problem with record number and byte offset. Exit 1 if any.\n"
    "  --strict   any structural defect is an error (default: permissive, repair\n"
    "             what can be recovered and report it)\n";
static const char *const usage_convert =
    "usage: wirebuf marc convert --to iso2709|marcxml|json|mrk [--from FMT]\n"
    "                            [--strict] [--keep-marc8] [-o OUT] [FILE|-]\n"
    "Convert records. Input format is detected from the first byte unless\n"
    "--from is given. MARC-8 records are converted to UTF-8 (leader/09 = 'a')\n"
    "unless --keep-marc8. Output goes to stdout unless -o OUT.\n"
    "  --allow-oversize  write records over 99,999 bytes (fields over 9,999)\n"
    "               to ISO 2709 with lengths capped at 99999 (9999), the common\n"
    "               convention; without it such records are errors, not written\n"
    "  --threads N  decode/convert ISO 2709 on N worker threads, output in input\n"
    "               order (default: WIREBUF_THREADS, else the number of cores;\n"
    "               1 = sequential in one thread)\n";
static const char *const usage_dump =
    "usage: wirebuf marc dump [--from FMT] FILE\n"
    "Print records in a human-readable form (tag, indicators, $-subfields).\n";

static int usage(const char *text, int rc)
{
    fputs(text, rc ? stderr : stdout);
    return rc;
}

static int open_input(const char *path)
{
    if (!path || strcmp(path, "-") == 0)
        return 0;
    return open(path, O_RDONLY | O_CLOEXEC);
}

/* Progress bar on stderr for large regular files when stderr is a terminal. */
typedef struct progress {
    int on;
    uint64_t total;
    struct timespec last;
} progress;

static void progress_init(progress *pg, int fd)
{
    struct stat st;
    memset(pg, 0, sizeof *pg);
    if (isatty(2) && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > (32 << 20)) {
        pg->on = 1;
        pg->total = (uint64_t)st.st_size;
    }
}

static void progress_show(progress *pg, uint64_t done, int final)
{
    if (!pg->on)
        return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double dt = (double)(now.tv_sec - pg->last.tv_sec) + (double)(now.tv_nsec - pg->last.tv_nsec) / 1e9;
    if (!final && dt < 0.2)
        return;
    pg->last = now;
    int pct = pg->total ? (int)(done * 100 / pg->total) : 100;
    char bar[41];
    int fill = pct * 40 / 100;
    for (int i = 0; i < 40; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[40] = 0;
    fprintf(stderr, "\r[%s] %3d%% %llu MB", bar, pct, (unsigned long long)(done >> 20));
    if (final)
        fputc('\n', stderr);
}

typedef enum { CMD_COUNT, CMD_VALIDATE, CMD_CONVERT, CMD_DUMP } command;

typedef struct cli_work {
    command cmd;
    int to, oversize;
    unsigned flags;
} cli_work;

/* Pipeline work function: the same steps as the sequential path (bring to
 * UTF-8, then the writer), run on a worker thread. JSON records are written
 * with their ",\n" separator; the consumer drops the document's first. */
static enum wb_marc_status cli_work_fn(void *arg, wb_marc_record *rec, const uint8_t *raw, size_t len,
                                       wb_buf *out, uint32_t *user, wb_marc_error *err)
{
    const cli_work *w = arg;
    enum wb_marc_status st = WB_MARC_OK;
    (void)user;
    if (!(w->flags & WB_MARC_KEEP_MARC8)) {
        int c = wb_marc_bring_to_utf8(rec, raw, len, w->flags, err);
        if (c < 0)
            return WB_MARC_BAD;
        if (c > 0)
            st = WB_MARC_RECOVERED;
    }
    int rc = 0;
    switch (w->cmd == CMD_DUMP ? -1 : w->cmd == CMD_CONVERT ? w->to : -2) {
    case -2: break;
    case WB_MARC_ISO2709:
        if (!w->oversize && wb_marc_iso2709_check(rec, err->msg, sizeof err->msg)) {
            err->offset = rec->offset;
            return WB_MARC_BAD;
        }
        rc = wb_marc_write_iso2709(out, rec);
        break;
    case WB_MARC_MARCXML: rc = wb_marc_write_marcxml(out, rec); break;
    case WB_MARC_JSON: rc = wb_marc_write_json(out, rec, 0); break; /* with ",\n" */
    case WB_MARC_MRK: rc = wb_marc_write_mrk(out, rec); break;
    default: rc = wb_marc_write_text(out, rec); break;
    }
    if (rc) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return WB_MARC_BAD;
    }
    return st;
}

/* Problem reports on stderr. Runs of the same problem (the same message
 * once numbers are ignored) are collapsed: the first two are printed, then
 * one line says how many more there were and over which bytes. Junk (bytes
 * that are no record) is reported as junk at its offset, without a record
 * number. */
typedef struct reporter {
    const char *name;
    int quiet;
    char shape[400];
    unsigned long run;       /* reports in the current run */
    uint64_t first, last;    /* offsets of the suppressed ones */
    long junk;               /* junk reports in all */
} reporter;

static void shape_of(char *dst, size_t cap, const wb_marc_error *err, enum wb_marc_status st)
{
    size_t j = 0;
    dst[j++] = err->record ? 'r' : 'j';
    dst[j++] = st == WB_MARC_RECOVERED ? 'R' : 'B';
    for (const char *p = err->msg; *p && j + 1 < cap; p++)
        if (!(*p >= '0' && *p <= '9'))
            dst[j++] = *p;
    dst[j] = 0;
}

static void report_flush(reporter *rp)
{
    if (rp->run > 2 && !rp->quiet)
        fprintf(stderr, "wirebuf: %s: ... and %lu more of the same problem (bytes %llu to %llu)\n", rp->name,
                rp->run - 2, (unsigned long long)rp->first, (unsigned long long)rp->last);
    rp->run = 0;
    rp->shape[0] = 0;
}

static void report(reporter *rp, const wb_marc_error *err, enum wb_marc_status st)
{
    char sh[400];
    if (!err->record)
        rp->junk++;
    if (rp->quiet)
        return;
    shape_of(sh, sizeof sh, err, st);
    if (rp->run && strcmp(sh, rp->shape) == 0) {
        if (++rp->run > 2) {
            if (rp->run == 3)
                rp->first = err->offset;
            rp->last = err->offset;
            return;
        }
    } else {
        report_flush(rp);
        memcpy(rp->shape, sh, sizeof sh);
        rp->run = 1;
    }
    if (!err->record)
        fprintf(stderr, "wirebuf: %s: junk at byte %llu: %s\n", rp->name, (unsigned long long)err->offset,
                err->msg);
    else
        fprintf(stderr, "wirebuf: %s: record %llu at byte %llu: %s%s\n", rp->name, (unsigned long long)err->record,
                (unsigned long long)err->offset, err->msg, st == WB_MARC_RECOVERED ? " (recovered)" : " (skipped)");
}

/* ISO 2709 through the parallel pipeline. Same contract as run_file(). */
static long run_pipeline(wb_stream *s, const char *name, const opts *o, command cmd, wb_wbuf *out,
                         int *first, uint64_t *nrec, long *njunk, progress *pg)
{
    cli_work w = {.cmd = cmd, .to = o->to, .oversize = o->oversize,
                  .flags = (o->strict ? WB_MARC_STRICT : 0) | (o->keep_marc8 ? WB_MARC_KEEP_MARC8 : 0)};
    wb_marc_pipeline_opts po = {.threads = o->threads, .flags = w.flags, .work = cli_work_fn, .arg = &w};
    char why[120];
    wb_marc_pipeline *p = wb_marc_pipeline_new(s, &po, why);
    if (!p) {
        fprintf(stderr, "wirebuf: %s\n", why);
        return -1;
    }
    long problems = 0;
    int fatal = 0;
    uint64_t count = 0;
    reporter rp = {.name = name, .quiet = o->quiet};
    wb_marc_batch *b;
    wb_marc_error err;
    enum wb_marc_status st;
    while (!fatal && (st = wb_marc_pipeline_next(p, &b, &err)) == WB_MARC_OK) {
        for (size_t i = 0; i < b->n; i++) {
            const wb_marc_item *it = &b->items[i];
            if (it->status != WB_MARC_OK) {
                problems++;
                report(&rp, &it->err, it->status);
                if (it->status == WB_MARC_BAD)
                    continue;
            }
            (*nrec)++;
            count++;
        }
        /* The workers wrote finished bytes (JSON records each with their
         * ",\n" separator): the consumer only writes the batch, in one go;
         * the document's first record drops its separator. */
        if (out && b->out.len) {
            size_t skip = cmd == CMD_CONVERT && o->to == WB_MARC_JSON && *first ? 2 : 0;
            *first = 0;
            if (wb_wbuf_write(out, b->out.p + skip, b->out.len - skip) != 0) {
                fprintf(stderr, "wirebuf: %s\n", out->err);
                fatal = 1;
            }
        }
        wb_marc_pipeline_release(p, b);
        progress_show(pg, wb_stream_offset(s), 0);
    }
    if (!fatal && st == WB_MARC_FATAL) {
        fprintf(stderr, "wirebuf: %s: at byte %llu: %s\n", name, (unsigned long long)err.offset, err.msg);
        fatal = 1;
    }
    wb_marc_pipeline_free(p);
    report_flush(&rp);
    *njunk += rp.junk;
    progress_show(pg, wb_stream_offset(s), 1);
    if (cmd == CMD_COUNT)
        printf("%llu\t%s\n", (unsigned long long)count, name);
    return fatal ? -1 : problems;
}

/* Run one input through the reader; write records when out != NULL.
 * Returns the number of bad/recovered records, or -1 on a fatal error. */
static long run_file(const char *path, const opts *o, command cmd, wb_wbuf *out, int *first, uint64_t *nrec,
                     long *njunk)
{
    const char *name = path && strcmp(path, "-") ? path : "<stdin>";
    int fd = open_input(path);
    if (fd < 0) {
        fprintf(stderr, "wirebuf: cannot open %s: %s\n", name, strerror(errno));
        return -1;
    }
    wb_stream *s = wb_stream_from_fd(fd, o->refill);
    if (!s) {
        fprintf(stderr, "wirebuf: out of memory\n");
        return -1;
    }
    int fmt = o->from >= 0 ? o->from : (int)wb_marc_sniff_format(s);
    unsigned flags = (o->strict ? WB_MARC_STRICT : 0) | (o->keep_marc8 ? WB_MARC_KEEP_MARC8 : 0);
    progress pg;
    progress_init(&pg, fd);
    if (fmt == WB_MARC_ISO2709 && o->threads >= 2) {
        long rc = run_pipeline(s, name, o, cmd, out, first, nrec, njunk, &pg);
        wb_stream_close(s);
        if (fd > 0)
            close(fd);
        return rc;
    }
    wb_marc_reader *r = wb_marc_reader_new(s, (wb_marc_format)fmt, flags);
    long problems = 0;
    int fatal = 0;
    wb_marc_record *rec;
    reporter rp = {.name = name, .quiet = o->quiet};
    wb_marc_error err;
    for (;;) {
        enum wb_marc_status st = wb_marc_next(r, &rec, &err);
        if (st == WB_MARC_EOF)
            break;
        if (st == WB_MARC_FATAL) {
            fprintf(stderr, "wirebuf: %s: at byte %llu: %s\n", name, (unsigned long long)err.offset, err.msg);
            fatal = 1;
            break;
        }
        if (st != WB_MARC_BAD && out && cmd == CMD_CONVERT && o->to == WB_MARC_ISO2709 && !o->oversize &&
            wb_marc_iso2709_check(rec, err.msg, sizeof err.msg)) {
            /* not written: a bad record (as the pipeline's work function says) */
            err.offset = rec->offset;
            err.record = rec->number;
            st = WB_MARC_BAD;
        }
        if (st != WB_MARC_OK) {
            problems++;
            report(&rp, &err, st);
            if (st == WB_MARC_BAD)
                continue;
        }
        (*nrec)++;
        if (out) {
            int rc = 0;
            wb_buf *b = &out->buf;
            switch (cmd == CMD_DUMP ? -1 : o->to) {
            case WB_MARC_ISO2709: rc = wb_marc_write_iso2709(b, rec); break;
            case WB_MARC_MARCXML: rc = wb_marc_write_marcxml(b, rec); break;
            case WB_MARC_JSON: rc = wb_marc_write_json(b, rec, *first); break;
            case WB_MARC_MRK: rc = wb_marc_write_mrk(b, rec); break;
            default: rc = wb_marc_write_text(b, rec); break;
            }
            *first = 0;
            if (rc != 0 || wb_wbuf_maybe_flush(out) != 0) {
                fprintf(stderr, "wirebuf: %s\n", rc ? "out of memory" : out->err);
                fatal = 1;
                break;
            }
        }
        if (pg.on && ((*nrec) & 1023) == 0)
            progress_show(&pg, wb_stream_offset(s), 0);
    }
    report_flush(&rp);
    *njunk += rp.junk;
    progress_show(&pg, wb_stream_offset(s), 1);
    if (cmd == CMD_COUNT)
        printf("%llu\t%s\n", (unsigned long long)wb_marc_reader_count(r), name);
    wb_marc_reader_free(r);
    wb_stream_close(s);
    if (fd > 0)
        close(fd);
    return fatal ? -1 : problems;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return usage(usage_top, argc < 2 ? 2 : 0);
    if (strcmp(argv[1], "pg") == 0)
        return wb_cli_pg(argc - 1, argv + 1);
#ifdef WB_HAVE_SERVE
    if (strcmp(argv[1], "serve") == 0)
        return wb_cli_serve(argc - 1, argv + 1);
#endif
    if (strcmp(argv[1], "marc") != 0 || argc < 3) {
        fprintf(stderr, "wirebuf: unknown command '%s'\n", argv[1]);
        return usage(usage_top, 2);
    }
    const char *sub = argv[2];
    if (strcmp(sub, "load") == 0)
        return wb_cli_marc_load(argc - 2, argv + 2);
    command cmd;
    const char *help;
    if (strcmp(sub, "count") == 0) {
        cmd = CMD_COUNT;
        help = usage_count;
    } else if (strcmp(sub, "validate") == 0) {
        cmd = CMD_VALIDATE;
        help = usage_validate;
    } else if (strcmp(sub, "convert") == 0) {
        cmd = CMD_CONVERT;
        help = usage_convert;
    } else if (strcmp(sub, "dump") == 0) {
        cmd = CMD_DUMP;
        help = usage_dump;
    } else {
        fprintf(stderr, "wirebuf marc: unknown subcommand '%s'\n", sub);
        return usage(usage_top, 2);
    }
    opts o = {.from = -1, .to = -1, .refill = WB_STREAM_DEFAULT_REFILL};
    static const struct option longopts[] = {
        {"to", required_argument, 0, 't'},      {"from", required_argument, 0, 'f'},
        {"strict", no_argument, 0, 's'},        {"keep-marc8", no_argument, 0, 'k'},
        {"output", required_argument, 0, 'o'},  {"quiet", no_argument, 0, 'q'},
        {"refill", required_argument, 0, 'r'},  {"help", no_argument, 0, 'h'},
        {"threads", required_argument, 0, 'j'}, {"allow-oversize", no_argument, 0, 'O'},
        {0, 0, 0, 0}};
    int c;
    optind = 3;
    o.threads = wb_marc_default_threads();
    while ((c = getopt_long(argc, argv, "t:f:o:qhj:", longopts, NULL)) != -1) {
        switch (c) {
        case 't':
            if ((o.to = wb_cli_marc_format(optarg)) < 0)
                return 2;
            break;
        case 'f':
            if ((o.from = wb_cli_marc_format(optarg)) < 0)
                return 2;
            break;
        case 's': o.strict = 1; break;
        case 'k': o.keep_marc8 = 1; break;
        case 'O': o.oversize = 1; break;
        case 'o': o.out = optarg; break;
        case 'q': o.quiet = 1; break;
        case 'r': o.refill = (size_t)strtoull(optarg, NULL, 10); break;
        case 'j':
            if (wb_cli_threads(optarg, &o.threads))
                return 2;
            break;
        case 'h': return usage(help, 0);
        default: return usage(help, 2);
        }
    }
    if (cmd == CMD_CONVERT && o.to < 0) {
        fprintf(stderr, "wirebuf marc convert: --to is required\n");
        return usage(help, 2);
    }
    int nfiles = argc - optind;
    if ((cmd == CMD_CONVERT || cmd == CMD_DUMP) && nfiles > 1) {
        fprintf(stderr, "wirebuf marc %s: one input at a time\n", sub);
        return usage(help, 2);
    }
    int outfd = -1;
    wb_wbuf w;
    wb_wbuf *out = NULL;
    if (cmd == CMD_CONVERT || cmd == CMD_DUMP) {
        outfd = 1;
        if (o.out && strcmp(o.out, "-") != 0) {
            /* never truncate an input: -o x.mrc x.mrc would empty x.mrc */
            struct stat so, si;
            if (stat(o.out, &so) == 0 && S_ISREG(so.st_mode)) {
                for (int i = 0; i < (nfiles ? nfiles : 1); i++) {
                    const char *in = nfiles ? argv[optind + i] : "-";
                    int same = strcmp(in, "-") == 0 ? fstat(0, &si) == 0 : stat(in, &si) == 0;
                    if (same && si.st_dev == so.st_dev && si.st_ino == so.st_ino) {
                        fprintf(stderr, "wirebuf: output %s is the input %s: refusing to overwrite it\n", o.out,
                                strcmp(in, "-") == 0 ? "<stdin>" : in);
                        return 2;
                    }
                }
            }
            outfd = open(o.out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (outfd < 0) {
                fprintf(stderr, "wirebuf: cannot create %s: %s\n", o.out, strerror(errno));
                return 2;
            }
        }
        wb_wbuf_init_fd(&w, outfd, 0);
        out = &w;
        if (cmd == CMD_CONVERT && o.to == WB_MARC_MARCXML)
            wb_marc_xml_begin(&w.buf);
        if (cmd == CMD_CONVERT && o.to == WB_MARC_JSON)
            wb_marc_json_begin(&w.buf);
    }
    long problems = 0, njunk = 0;
    int failed = 0, first = 1;
    uint64_t nrec = 0;
    for (int i = 0; i < (nfiles ? nfiles : 1); i++) {
        long p = run_file(nfiles ? argv[optind + i] : NULL, &o, cmd, out, &first, &nrec, &njunk);
        if (p < 0)
            failed = 1;
        else
            problems += p;
    }
    if (out) {
        if (cmd == CMD_CONVERT && o.to == WB_MARC_MARCXML)
            wb_marc_xml_end(&w.buf);
        if (cmd == CMD_CONVERT && o.to == WB_MARC_JSON)
            wb_marc_json_end(&w.buf);
        if (wb_wbuf_flush(&w) != 0) {
            fprintf(stderr, "wirebuf: %s\n", w.err);
            failed = 1;
        }
        wb_wbuf_free(&w);
        if (outfd > 1)
            close(outfd);
    }
    if (cmd == CMD_VALIDATE || problems) {
        fprintf(stderr, "wirebuf: %llu records, %ld with errors", (unsigned long long)nrec, problems - njunk);
        if (njunk)
            fprintf(stderr, ", %ld runs of junk skipped", njunk);
        fputc('\n', stderr);
    }
    if (failed)
        return 2;
    return problems ? 1 : 0;
}
