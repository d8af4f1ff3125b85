/* wirebuf marc load - MARC records into a PostgreSQL table over binary COPY.
 *
 *   wirebuf marc load [--truncate|--append] [--strict] [--threads N] [--from FMT]
 *                     [-q] CONNINFO TABLE FILE...
 *
 * Table shape (created if missing):
 *   id bigint primary key   1-based record position in the input (records of
 *                           later files continue the count; --append starts
 *                           after the table's max(id))
 *   file text               the input file name as given ("-" for stdin)
 *   byte_offset bigint      the record's byte offset in its file
 *   leader text             the leader as written to MARC-in-JSON
 *   control_number text     001, NULL when absent
 *   title text              245 $a, then " " and 245 $b when present (as
 *                           pymarc's title); NULL without 245 $a
 *   record jsonb            the record's MARC-in-JSON, exactly the object
 *                           `wirebuf marc convert --to json` writes for it
 *
 * Everything happens in one transaction: BEGIN, CREATE TABLE IF NOT EXISTS,
 * TRUNCATE (--truncate) or max(id) (--append), one COPY ... FROM STDIN
 * (FORMAT binary; FREEZE when the table was created by this load) for all
 * files, COMMIT. The session asks for lz4 TOAST compression (the JSON of
 * most records is over the TOAST threshold; pglz costs the server more than
 * the whole client side). Without --truncate or --append a
 * table that already has rows is refused. ISO 2709 goes through the parallel
 * ordered pipeline (wirebuf/pipeline.h): the workers parse, bring to UTF-8,
 * write the JSON and encode finished COPY rows (PostgreSQL 15 docs, COPY,
 * "Binary Format": int16 column count, then int32 length + bytes per value,
 * -1 for NULL; jsonb's binary form is a version byte 1 and the JSON text);
 * the main thread only sends each batch's rows with one wb_pg_copy_put().
 * Other formats are read sequentially and encoded by the same function.
 *
 * Bad records are reported on stderr (record number, byte offset, why) and
 * skipped; a record holding a NUL byte is bad here (PostgreSQL text and jsonb
 * cannot store U+0000). --strict makes structural defects errors (as in
 * convert --strict) and the first bad record aborts the load: CopyFail,
 * ROLLBACK, nothing committed.
 *
 * Exit status: 0 every record loaded; 1 records were skipped or repaired
 * (the committed row count is printed), or the load failed (nothing is
 * committed: the message says so); 2 usage error or unreadable file. */
#include "wirebuf/buf.h"
#include "wirebuf/marc.h"
#include "wirebuf/pg.h"
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

int wb_cli_marc_load(int argc, char **argv);
int wb_cli_marc_format(const char *name);               /* tools/wirebuf.c */
int wb_cli_threads(const char *arg, unsigned *threads); /* tools/wirebuf.c */

static const char *const usage_load =
    "usage: wirebuf marc load [--truncate|--append] [--strict] [--threads N] [--from FMT]\n"
    "                         [-q] CONNINFO TABLE FILE...\n"
    "Load records into TABLE (id bigint primary key, file text, byte_offset bigint,\n"
    "leader text, control_number text, title text, record jsonb), created if missing,\n"
    "with binary COPY in one transaction. record is the MARC-in-JSON that\n"
    "`wirebuf marc convert --to json` writes; id is the record's 1-based position.\n"
    "  --truncate  empty the table first       --append  add after max(id)\n"
    "  (without either, a table that has rows is refused)\n"
    "  --strict    structural defects are errors and any bad record aborts the\n"
    "              load (nothing committed); default: bad records are reported\n"
    "              and skipped\n"
    "  --threads N decode/encode ISO 2709 on N worker threads (default:\n"
    "              WIREBUF_THREADS, else the number of cores)\n"
    "CONNINFO is a libpq connection string or postgresql:// URI (\"\" = PG* environment).\n";

/* ---- COPY binary row encoding ------------------------------------------ */

static inline void be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void be64(uint8_t *p, uint64_t v)
{
    be32(p, (uint32_t)(v >> 32));
    be32(p + 4, (uint32_t)v);
}

static int put_i64(wb_buf *o, uint64_t v)
{
    if (wb_buf_reserve(o, 12) != 0)
        return -1;
    be32(o->p + o->len, 8);
    be64(o->p + o->len + 4, v);
    o->len += 12;
    return 0;
}

static int put_text(wb_buf *o, const void *s, size_t n)
{
    if (n > INT32_MAX || wb_buf_reserve(o, 4 + n) != 0)
        return -1;
    be32(o->p + o->len, (uint32_t)n);
    o->len += 4;
    return wb_buf_append_fast(o, s, n);
}

static int put_null(wb_buf *o)
{
    if (wb_buf_reserve(o, 4) != 0)
        return -1;
    be32(o->p + o->len, 0xFFFFFFFFu);
    o->len += 4;
    return 0;
}

typedef struct load_ctx {
    unsigned flags;      /* WB_MARC_STRICT or 0 */
    uint64_t id_base;    /* id = id_base + record number in this file */
    const uint8_t *file; /* file name as valid UTF-8 */
    size_t file_len;
} load_ctx;

/* First value of subfield `code` in f, or NULL. */
static const uint8_t *subfield(const wb_marc_field *f, uint8_t code, size_t *len)
{
    size_t pos = 0;
    wb_marc_subfield sf;
    while (wb_marc_subfield_next(f, &pos, &sf))
        if (sf.code_len == 1 && sf.code[0] == code) {
            *len = sf.len;
            return sf.value;
        }
    return NULL;
}

/* Encode one record (already UTF-8) as a COPY row. WB_MARC_BAD with *err
 * when PostgreSQL could not store it; out is then left as it was. */
static enum wb_marc_status encode_row(const load_ctx *x, const wb_marc_record *rec, wb_buf *out,
                                      wb_marc_error *err)
{
    size_t start = out->len;
    /* U+0000 cannot be stored in text or jsonb */
    if (memchr(rec->leader, 0, WB_MARC_LEADER_LEN)) {
        snprintf(err->msg, sizeof err->msg, "NUL byte (0x00) in the leader, which PostgreSQL cannot store");
        return WB_MARC_BAD;
    }
    const wb_marc_field *f001 = NULL, *f245 = NULL;
    for (size_t i = 0; i < rec->nfields; i++) {
        const wb_marc_field *f = &rec->fields[i];
        if (memchr(f->tag, 0, 3) || (f->len && memchr(f->data, 0, f->len))) {
            snprintf(err->msg, sizeof err->msg,
                     "NUL byte (0x00) in field %u (tag %.3s), which PostgreSQL text/jsonb cannot store",
                     (unsigned)i + 1, f->tag);
            return WB_MARC_BAD;
        }
        if (!f001 && memcmp(f->tag, "001", 3) == 0)
            f001 = f;
        else if (!f245 && memcmp(f->tag, "245", 3) == 0)
            f245 = f;
    }
    uint8_t hdr[2];
    be16(hdr, 7);
    int rc = wb_buf_append(out, hdr, 2);
    rc |= put_i64(out, x->id_base + rec->number);
    rc |= put_text(out, x->file, x->file_len);
    rc |= put_i64(out, rec->offset);
    /* the leader as MARC-in-JSON has it: bytes >= 0x80 are U+FFFD */
    uint8_t ld[WB_MARC_LEADER_LEN * 3];
    size_t ll = 0;
    for (size_t k = 0; k < WB_MARC_LEADER_LEN; k++) {
        if (rec->leader[k] >= 0x80) {
            memcpy(ld + ll, "\xEF\xBF\xBD", 3);
            ll += 3;
        } else {
            ld[ll++] = rec->leader[k];
        }
    }
    rc |= put_text(out, ld, ll);
    rc |= f001 ? put_text(out, f001->data, f001->len) : put_null(out);
    size_t alen = 0, blen = 0;
    const uint8_t *a = f245 ? subfield(f245, 'a', &alen) : NULL;
    const uint8_t *b = a ? subfield(f245, 'b', &blen) : NULL;
    if (!a) {
        rc |= put_null(out);
    } else {
        /* as pymarc's title: " " + $b only after a non-empty $a */
        if (!alen)
            b = NULL;
        size_t n = alen + (b ? 1 + blen : 0);
        uint8_t l4[4];
        be32(l4, (uint32_t)n);
        rc |= wb_buf_append(out, l4, 4);
        rc |= wb_buf_append(out, a, alen);
        if (b) {
            rc |= wb_buf_putc(out, ' ');
            rc |= wb_buf_append(out, b, blen);
        }
    }
    /* jsonb: int32 length, version 1, the JSON text; length patched after */
    size_t at = out->len;
    rc |= wb_buf_append(out, "\0\0\0\0\1", 5);
    rc |= wb_marc_write_json(out, rec, 1);
    if (rc) {
        out->len = start;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return WB_MARC_BAD;
    }
    size_t jl = out->len - at - 4;
    if (jl > INT32_MAX) {
        out->len = start;
        snprintf(err->msg, sizeof err->msg, "record too large for one jsonb value");
        return WB_MARC_BAD;
    }
    be32(out->p + at, (uint32_t)jl);
    return WB_MARC_OK;
}

/* Pipeline work function: bring to UTF-8, then encode the row. */
static enum wb_marc_status load_work(void *arg, wb_marc_record *rec, const uint8_t *raw, size_t len, wb_buf *out,
                                     uint32_t *user, wb_marc_error *err)
{
    const load_ctx *x = arg;
    (void)user;
    enum wb_marc_status st = WB_MARC_OK;
    int c = wb_marc_bring_to_utf8(rec, raw, len, x->flags, err);
    if (c < 0)
        return WB_MARC_BAD;
    if (c > 0)
        st = WB_MARC_RECOVERED;
    wb_marc_error e = {0};
    if (encode_row(x, rec, out, &e) == WB_MARC_BAD) {
        err->offset = rec->offset;
        memcpy(err->msg, e.msg, sizeof err->msg);
        return WB_MARC_BAD;
    }
    return st;
}

/* ---- the command --------------------------------------------------------- */

typedef struct loader {
    wb_pg_conn *c;
    load_ctx x;
    int strict, quiet, from;
    unsigned threads;
    uint64_t rows, bad, repaired;
    int aborted; /* --strict saw a bad record */
    int prog_on;
    double prog_last;
    uint64_t prog_bytes;
    wb_pg_error e;
    int pg_failed;
} loader;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(loader *L, const char *name, uint64_t bytes, int final)
{
    if (!L->prog_on)
        return;
    double t = now_s();
    if (!final && t - L->prog_last < 0.2)
        return;
    L->prog_last = t;
    fprintf(stderr, "\rloading %s: %llu records, %llu MB%s", name, (unsigned long long)L->rows,
            (unsigned long long)((L->prog_bytes + bytes) >> 20), final ? "\n" : "");
}

/* A record that did not load (or was repaired). Returns 1 when the load must
 * stop (--strict). */
static int problem(loader *L, const char *name, const wb_marc_error *err, enum wb_marc_status st)
{
    if (st == WB_MARC_BAD)
        L->bad++;
    else
        L->repaired++;
    if (!L->quiet || L->strict)
        fprintf(stderr, "%swirebuf marc load: %s: record %llu at byte %llu: %s%s\n", L->prog_on ? "\n" : "", name,
                (unsigned long long)err->record, (unsigned long long)err->offset, err->msg,
                st == WB_MARC_RECOVERED ? " (recovered)" : L->strict ? " (aborting: --strict)" : " (skipped)");
    if (st == WB_MARC_BAD && L->strict) {
        L->aborted = 1;
        return 1;
    }
    return 0;
}

static int put_rows(loader *L, const void *p, size_t n)
{
    if (n && wb_pg_copy_put(L->c, p, n, &L->e) != 0) {
        L->pg_failed = 1;
        return -1;
    }
    return 0;
}

/* Load one input. Returns 0, or -1 when the load must stop (message
 * printed, or L->pg_failed / L->aborted set). *last is the highest record
 * number seen. */
static int load_file(loader *L, const char *path, int fd, uint64_t *last)
{
    const char *name = strcmp(path, "-") ? path : "<stdin>";
    wb_stream *s = wb_stream_from_fd(fd, WB_STREAM_DEFAULT_REFILL);
    if (!s) {
        fprintf(stderr, "wirebuf marc load: out of memory\n");
        return -1;
    }
    int fmt = L->from >= 0 ? L->from : (int)wb_marc_sniff_format(s);
    int rc = 0;
    *last = 0;
    if (fmt == WB_MARC_ISO2709) {
        wb_marc_pipeline_opts po = {.threads = L->threads >= 2 ? L->threads : 0, .flags = L->x.flags,
                                    .work = load_work, .arg = &L->x};
        char why[120];
        wb_marc_pipeline *p = wb_marc_pipeline_new(s, &po, why);
        if (!p) {
            fprintf(stderr, "wirebuf marc load: %s\n", why);
            wb_stream_close(s);
            return -1;
        }
        wb_marc_batch *b;
        wb_marc_error err;
        enum wb_marc_status st = WB_MARC_EOF;
        while (rc == 0 && (st = wb_marc_pipeline_next(p, &b, &err)) == WB_MARC_OK) {
            for (size_t i = 0; i < b->n && rc == 0; i++) {
                const wb_marc_item *it = &b->items[i];
                if (it->err.record > *last)
                    *last = it->err.record;
                if (it->status != WB_MARC_OK && problem(L, name, &it->err, it->status))
                    rc = -1;
                else if (it->status != WB_MARC_BAD)
                    L->rows++;
            }
            if (rc == 0 && put_rows(L, b->out.p, b->out.len) != 0)
                rc = -1;
            wb_marc_pipeline_release(p, b);
            progress(L, name, wb_stream_offset(s), 0);
        }
        if (rc == 0 && st == WB_MARC_FATAL) {
            fprintf(stderr, "wirebuf marc load: %s: at byte %llu: %s\n", name, (unsigned long long)err.offset,
                    err.msg);
            rc = -1;
        }
        wb_marc_pipeline_free(p);
    } else {
        wb_marc_reader *r = wb_marc_reader_new(s, (wb_marc_format)fmt, L->x.flags);
        wb_buf row = {0};
        wb_marc_record *rec;
        wb_marc_error err;
        for (;;) {
            enum wb_marc_status st = wb_marc_next(r, &rec, &err);
            if (st == WB_MARC_EOF)
                break;
            if (st == WB_MARC_FATAL) {
                fprintf(stderr, "wirebuf marc load: %s: at byte %llu: %s\n", name,
                        (unsigned long long)err.offset, err.msg);
                rc = -1;
                break;
            }
            if (err.record > *last)
                *last = err.record;
            if (st == WB_MARC_BAD) {
                if (problem(L, name, &err, st)) {
                    rc = -1;
                    break;
                }
                continue;
            }
            wb_marc_error e2 = {0};
            if (encode_row(&L->x, rec, &row, &e2) == WB_MARC_BAD) {
                e2.record = rec->number;
                e2.offset = rec->offset;
                if (problem(L, name, &e2, WB_MARC_BAD)) {
                    rc = -1;
                    break;
                }
                continue;
            }
            if (st == WB_MARC_RECOVERED && problem(L, name, &err, st)) {
                rc = -1;
                break;
            }
            L->rows++;
            if (row.len >= (1u << 20)) {
                if (put_rows(L, row.p, row.len) != 0) {
                    rc = -1;
                    break;
                }
                row.len = 0;
            }
            if ((L->rows & 1023) == 0)
                progress(L, name, wb_stream_offset(s), 0);
        }
        if (rc == 0 && put_rows(L, row.p, row.len) != 0)
            rc = -1;
        wb_buf_free(&row);
        wb_marc_reader_free(r);
    }
    L->prog_bytes += wb_stream_offset(s);
    progress(L, name, 0, 1);
    wb_stream_close(s);
    return rc;
}

/* TABLE as SQL: each dot-separated part that is a plain lower-case
 * identifier is used as is, any other part is double-quoted (so "Books" keeps
 * its case and nothing in TABLE can end the statement). */
static int quote_table(const char *t, char *out, size_t cap)
{
    size_t o = 0;
    const char *p = t;
    if (!*t)
        return -1;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0)
            return -1;
        int simple = !(p[0] >= '0' && p[0] <= '9');
        for (size_t i = 0; i < n; i++)
            if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
                simple = 0;
        if (o + 2 * n + 4 >= cap)
            return -1;
        if (!simple)
            out[o++] = '"';
        for (size_t i = 0; i < n; i++) {
            if (p[i] == '"' && !simple)
                out[o++] = '"';
            out[o++] = p[i];
        }
        if (!simple)
            out[o++] = '"';
        if (!dot)
            break;
        out[o++] = '.';
        p = dot + 1;
    }
    out[o] = 0;
    return 0;
}

static int fail(loader *L, const char *what)
{
    fprintf(stderr, "wirebuf marc load: %s%s%s%s%s (0 rows committed)\n", what, what[0] ? ": " : "",
            L->e.message, L->e.hint[0] ? "; hint: " : "", L->e.hint);
    return 1;
}

int wb_cli_marc_load(int argc, char **argv)
{
    loader L;
    memset(&L, 0, sizeof L);
    L.from = -1;
    L.threads = wb_marc_default_threads();
    int truncate_ = 0, append = 0;
    static const struct option longopts[] = {
        {"truncate", no_argument, 0, 'T'}, {"append", no_argument, 0, 'A'},   {"strict", no_argument, 0, 's'},
        {"threads", required_argument, 0, 'j'}, {"from", required_argument, 0, 'f'},
        {"quiet", no_argument, 0, 'q'},    {"help", no_argument, 0, 'h'},     {0, 0, 0, 0}};
    int ch;
    optind = 1;
    while ((ch = getopt_long(argc, argv, "qhj:f:", longopts, NULL)) != -1) {
        switch (ch) {
        case 'T': truncate_ = 1; break;
        case 'A': append = 1; break;
        case 's': L.strict = 1; break;
        case 'q': L.quiet = 1; break;
        case 'f':
            if ((L.from = wb_cli_marc_format(optarg)) < 0)
                return 2;
            break;
        case 'j':
            if (wb_cli_threads(optarg, &L.threads))
                return 2;
            break;
        case 'h': fputs(usage_load, stdout); return 0;
        default: fputs(usage_load, stderr); return 2;
        }
    }
    if (truncate_ && append) {
        fprintf(stderr, "wirebuf marc load: --truncate and --append exclude each other\n");
        return 2;
    }
    if (argc - optind < 3) {
        fputs(usage_load, stderr);
        return 2;
    }
    const char *conninfo = argv[optind], *table = argv[optind + 1];
    int nfiles = argc - optind - 2;
    char **files = argv + optind + 2;
    char qt[1024];
    if (quote_table(table, qt, sizeof qt) != 0) {
        fprintf(stderr, "wirebuf marc load: bad table name '%s'\n", table);
        return 2;
    }
    int *fds = calloc((size_t)nfiles, sizeof *fds);
    if (!fds)
        return 2;
    int nstdin = 0;
    for (int i = 0; i < nfiles; i++) {
        if (strcmp(files[i], "-") == 0) {
            fds[i] = 0;
            if (++nstdin > 1) {
                fprintf(stderr, "wirebuf marc load: stdin (-) given twice\n");
                return 2;
            }
            continue;
        }
        if ((fds[i] = open(files[i], O_RDONLY | O_CLOEXEC)) < 0) {
            fprintf(stderr, "wirebuf marc load: cannot open %s: %s\n", files[i], strerror(errno));
            for (int k = 0; k < i; k++)
                if (fds[k] > 0)
                    close(fds[k]);
            free(fds);
            return 2;
        }
    }
    L.x.flags = L.strict ? WB_MARC_STRICT : 0;
    L.prog_on = isatty(2) && !L.quiet;

    int rc = 1;
    wb_pg_result *res = NULL;
    char sql[4096];
    L.c = wb_pg_connect(conninfo, NULL, &L.e);
    if (!L.c) {
        fail(&L, "cannot connect");
        goto out;
    }
    /* Records' JSON is mostly over the TOAST threshold: lz4 compresses it
     * several times faster than the default pglz. A session setting, only
     * for this load; servers without lz4 (or before 14) keep their default. */
    wb_pg_error ign;
    wb_pg_command(L.c, "SET default_toast_compression = 'lz4'", &ign);
    if (wb_pg_command(L.c, "BEGIN", &L.e) != 0) {
        fail(&L, "BEGIN failed");
        goto out;
    }
    /* Does the table exist? (A table created in this transaction can take
     * COPY FREEZE: rows written frozen, no later rewrite of hint bits.) */
    char lit[2100];
    size_t k = 0;
    for (const char *q = qt; *q && k + 2 < sizeof lit; q++) {
        if (*q == '\'')
            lit[k++] = '\'';
        lit[k++] = *q;
    }
    lit[k] = 0;
    snprintf(sql, sizeof sql, "SELECT to_regclass('%s') IS NULL", lit);
    if (!(res = wb_pg_exec(L.c, sql, &L.e))) {
        fail(&L, "cannot look up the table");
        goto out;
    }
    int32_t l0;
    const uint8_t *v0 = wb_pg_result_value(res, 0, 0, &l0);
    int created = v0 && v0[0] == 't';
    wb_pg_result_free(res);
    res = NULL;
    snprintf(sql, sizeof sql,
             "CREATE TABLE IF NOT EXISTS %s (id bigint PRIMARY KEY, file text, byte_offset bigint, "
             "leader text, control_number text, title text, record jsonb)",
             qt);
    if (wb_pg_command(L.c, sql, &L.e) != 0) {
        fail(&L, "cannot create the table");
        goto out;
    }
    if (truncate_) {
        snprintf(sql, sizeof sql, "TRUNCATE %s", qt);
        if (wb_pg_command(L.c, sql, &L.e) != 0) {
            fail(&L, "cannot truncate the table");
            goto out;
        }
    } else {
        snprintf(sql, sizeof sql, "SELECT coalesce((SELECT max(id) FROM %s), 0), EXISTS (SELECT 1 FROM %s)", qt, qt);
        if (!(res = wb_pg_exec(L.c, sql, &L.e))) {
            fail(&L, "cannot read the table");
            goto out;
        }
        int32_t l1, l2;
        const uint8_t *v1 = wb_pg_result_value(res, 0, 0, &l1), *v2 = wb_pg_result_value(res, 0, 1, &l2);
        int has_rows = v2 && v2[0] == 't';
        if (has_rows && !append) {
            fprintf(stderr,
                    "wirebuf marc load: %s already has rows; use --truncate to replace them or --append to add "
                    "(0 rows committed)\n",
                    table);
            rc = 2;
            goto out;
        }
        if (append && v1)
            L.x.id_base = strtoull((const char *)v1, NULL, 10);
    }
    snprintf(sql, sizeof sql,
             "COPY %s (id, file, byte_offset, leader, control_number, title, record) FROM STDIN (FORMAT binary%s)",
             qt, created ? ", FREEZE" : "");
    if (wb_pg_copy_in_start(L.c, sql, &L.e) != 0) {
        fail(&L, "COPY failed");
        goto out;
    }
    /* COPY binary header: signature, flags (int32 0), extension length (0) */
    static const uint8_t header[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xFF, '\r', '\n', 0, 0, 0, 0, 0, 0, 0, 0, 0};
    int stop = put_rows(&L, header, sizeof header) != 0;
    wb_buf fname = {0};
    for (int i = 0; i < nfiles && !stop; i++) {
        fname.len = 0;
        const char *nm = files[i];
        if (wb_utf8_repair(&fname, (const uint8_t *)nm, strlen(nm)) < 0) {
            stop = 1;
            break;
        }
        L.x.file = fname.p;
        L.x.file_len = fname.len;
        uint64_t last = 0;
        if (load_file(&L, nm, fds[i], &last) != 0)
            stop = 1;
        L.x.id_base += last;
    }
    wb_buf_free(&fname);
    if (stop) {
        int64_t ignored;
        if (!L.pg_failed) {
            wb_pg_error e2;
            wb_pg_copy_end(L.c, L.aborted ? "bad record with --strict" : "input could not be read", &ignored, &e2);
        }
        wb_pg_command(L.c, "ROLLBACK", &L.e);
        if (L.pg_failed)
            fail(&L, "COPY failed");
        else
            fprintf(stderr, "wirebuf marc load: %s; rolled back (0 rows committed)\n",
                    L.aborted ? "a bad record with --strict" : "input failed");
        goto out;
    }
    static const uint8_t trailer[2] = {0xFF, 0xFF};
    int64_t rows = 0;
    if (put_rows(&L, trailer, 2) != 0 || wb_pg_copy_end(L.c, NULL, &rows, &L.e) != 0) {
        wb_pg_error e2;
        wb_pg_command(L.c, "ROLLBACK", &e2);
        fail(&L, "COPY failed");
        goto out;
    }
    if (wb_pg_command(L.c, "COMMIT", &L.e) != 0) {
        fail(&L, "COMMIT failed");
        goto out;
    }
    printf("%lld rows committed to %s\n", (long long)rows, table);
    if (L.bad || L.repaired)
        fprintf(stderr, "wirebuf marc load: %llu bad records skipped, %llu repaired\n", (unsigned long long)L.bad,
                (unsigned long long)L.repaired);
    rc = L.bad || L.repaired ? 1 : 0;
out:
    wb_pg_result_free(res);
    wb_pg_finish(L.c);
    for (int i = 0; i < nfiles; i++)
        if (fds[i] > 0)
            close(fds[i]);
    free(fds);
    return rc;
}
