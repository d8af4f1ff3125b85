/* wirebuf pg export|import - move rows out of and into PostgreSQL.
 *
 *   wirebuf pg export [--format csv|tsv|jsonl] [--no-header] [-o FILE] CONNINFO QUERY
 *   wirebuf pg import [--format csv|tsv] [--no-header] [--columns a,b] CONNINFO TABLE [FILE|-]
 *
 * export streams the query's rows (simple query, text format: the values
 * are the server's own output functions, exactly what COPY prints) through
 * one write buffer; CSV and TSV follow COPY's quoting rules, so
 * `export --format csv` is byte-identical to
 * COPY (QUERY) TO STDOUT WITH (FORMAT csv, HEADER).
 * import sends the file through COPY ... FROM STDIN in large CopyData
 * messages (the client's COPY flush size, 1 MiB).
 *
 * Exit status: 0 done, 1 the server or the connection failed (message on
 * stderr, with the rows committed), 2 usage error or unreadable file. */
#include "wirebuf/buf.h"
#include "wirebuf/pg.h"

#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int wb_cli_pg(int argc, char **argv);

static const char *const usage_pg =
    "usage: wirebuf pg export [--format csv|tsv|jsonl] [--no-header] [-o FILE] CONNINFO QUERY\n"
    "       wirebuf pg import [--format csv|tsv] [--no-header] [--columns a,b] CONNINFO TABLE [FILE|-]\n"
    "CONNINFO is a libpq connection string or postgresql:// URI (\"\" = PG* environment).\n"
    "export: csv is identical to COPY (QUERY) TO STDOUT WITH (FORMAT csv, HEADER);\n"
    "        tsv is COPY's text format (\\N for NULL) with a header line; jsonl is one\n"
    "        JSON object per row (numbers, booleans and json/jsonb kept as JSON).\n"
    "import: loads FILE (or stdin) with COPY TABLE [(COLUMNS)] FROM STDIN; csv/tsv\n"
    "        input starts with a header line unless --no-header.\n"
    "A progress line is shown on a terminal; row counts go to stderr at the end.\n";

enum { FMT_CSV, FMT_TSV, FMT_JSONL };

static int pg_usage(int rc)
{
    fputs(usage_pg, rc ? stderr : stdout);
    return rc;
}

typedef struct prog {
    int on;
    double last;
} prog;
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}
static void prog_show(prog *p, const char *what, long long n, long long total, int final)
{
    if (!p->on)
        return;
    double t = now_s();
    if (!final && t - p->last < 0.2)
        return;
    p->last = t;
    if (total > 0)
        fprintf(stderr, "\r%s %lld / %lld bytes (%d%%)%s", what, n, total, (int)(100.0 * n / total), final ? "\n" : "");
    else
        fprintf(stderr, "\r%s %lld rows%s", what, n, final ? "\n" : "");
}

/* COPY CSV quoting (CopyAttributeOutCSV): quote when the value contains the
 * delimiter, the quote, CR or LF, equals the NULL string (empty), or is \. as
 * the only column. */
static int put_csv(wb_buf *o, const uint8_t *v, int32_t len, int single)
{
    if (len < 0)
        return 0; /* NULL: nothing */
    int quote = len == 0 || (single && len == 2 && v[0] == '\\' && v[1] == '.');
    for (int32_t i = 0; i < len && !quote; i++)
        quote = v[i] == ',' || v[i] == '"' || v[i] == '\n' || v[i] == '\r';
    if (!quote)
        return wb_buf_append_fast(o, v, (size_t)len);
    int rc = wb_buf_putc(o, '"');
    for (int32_t i = 0; i < len; i++) {
        if (v[i] == '"')
            rc |= wb_buf_putc(o, '"');
        rc |= wb_buf_putc(o, v[i]);
    }
    return rc | wb_buf_putc(o, '"');
}

/* COPY text format escaping (CopyAttributeOutText) */
static int put_tsv(wb_buf *o, const uint8_t *v, int32_t len)
{
    if (len < 0)
        return wb_buf_append_fast(o, "\\N", 2);
    int rc = 0;
    int32_t start = 0;
    for (int32_t i = 0; i < len; i++) {
        uint8_t c = v[i], e = 0;
        switch (c) {
        case '\\': e = '\\'; break;
        case '\b': e = 'b'; break;
        case '\f': e = 'f'; break;
        case '\n': e = 'n'; break;
        case '\r': e = 'r'; break;
        case '\t': e = 't'; break;
        case '\v': e = 'v'; break;
        default: continue;
        }
        rc |= wb_buf_append_fast(o, v + start, (size_t)(i - start));
        rc |= wb_buf_putc(o, '\\');
        rc |= wb_buf_putc(o, e);
        start = i + 1;
    }
    return rc | wb_buf_append_fast(o, v + start, (size_t)(len - start));
}

static int put_json_string(wb_buf *o, const uint8_t *v, size_t len)
{
    static const char hx[] = "0123456789abcdef";
    int rc = wb_buf_putc(o, '"');
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        uint8_t c = v[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        rc |= wb_buf_append_fast(o, v + start, i - start);
        start = i + 1;
        char esc[7] = {'\\', 0};
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = hx[c >> 4];
            esc[5] = hx[c & 15];
            rc |= wb_buf_append_fast(o, esc, 6);
            continue;
        }
        rc |= wb_buf_append_fast(o, esc, 2);
    }
    rc |= wb_buf_append_fast(o, v + start, len - start);
    return rc | wb_buf_putc(o, '"');
}

static int put_jsonl_value(wb_buf *o, uint32_t oid, const uint8_t *v, int32_t len)
{
    if (len < 0)
        return wb_buf_append_fast(o, "null", 4);
    switch (oid) {
    case WB_PG_OID_INT2: case WB_PG_OID_INT4: case WB_PG_OID_INT8: case WB_PG_OID_OID:
        return wb_buf_append_fast(o, v, (size_t)len);
    case WB_PG_OID_FLOAT4: case WB_PG_OID_FLOAT8: case WB_PG_OID_NUMERIC:
        /* NaN and the infinities are not JSON numbers */
        if ((len >= 1 && (v[0] == 'N' || v[0] == 'I')) || (len >= 2 && v[0] == '-' && v[1] == 'I'))
            return put_json_string(o, v, (size_t)len);
        return wb_buf_append_fast(o, v, (size_t)len);
    case WB_PG_OID_BOOL:
        return len == 1 && v[0] == 't' ? wb_buf_append_fast(o, "true", 4) : wb_buf_append_fast(o, "false", 5);
    case WB_PG_OID_JSON: case WB_PG_OID_JSONB:
        return wb_buf_append_fast(o, v, (size_t)len);
    default:
        return put_json_string(o, v, (size_t)len);
    }
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int do_export(const char *conninfo, const char *query, int fmt, int header, const char *outpath)
{
    int fd = 1;
    if (outpath && strcmp(outpath, "-") != 0) {
        fd = open(outpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0) {
            fprintf(stderr, "wirebuf pg export: cannot open %s: %m\n", outpath);
            return 2;
        }
    }
    wb_pg_error e;
    wb_pg_conn *c = wb_pg_connect(conninfo, NULL, &e);
    if (!c) {
        fprintf(stderr, "wirebuf pg export: %s\n", e.message);
        if (fd != 1)
            close(fd);
        return 1;
    }
    prog pr = {isatty(2), 0};
    wb_buf o = {0};
    long long rows = 0;
    int rc = 0, single = 0;
    uint16_t ncols = 0;
    char **names = NULL;
    uint32_t *oids = NULL;
    if (wb_pg_send_query(c, query, &e)) {
        fprintf(stderr, "wirebuf pg export: %s\n", e.message);
        rc = 1;
        goto out;
    }
    wb_pg_event ev;
    int s;
    int failed = 0;
    while ((s = wb_pg_step(c, &ev, &e)) == 1) {
        if (ev.type == WB_PG_EV_ROW_DESCRIPTION) {
            for (uint16_t i = 0; i < ncols; i++)
                free(names[i]);
            free(names);
            free(oids);
            ncols = ev.ncols;
            single = ncols == 1;
            names = calloc(ncols ? ncols : 1, sizeof *names);
            oids = calloc(ncols ? ncols : 1, sizeof *oids);
            if (!names || !oids) {
                fprintf(stderr, "wirebuf pg export: out of memory\n");
                rc = 1;
                goto out;
            }
            for (uint16_t i = 0; i < ncols; i++) {
                names[i] = strdup(ev.cols[i].name);
                oids[i] = ev.cols[i].type_oid;
            }
            if (header && fmt != FMT_JSONL) {
                for (uint16_t i = 0; i < ncols; i++) {
                    if (i)
                        wb_buf_putc(&o, fmt == FMT_CSV ? ',' : '\t');
                    int32_t l = (int32_t)strlen(names[i]);
                    if (fmt == FMT_CSV)
                        put_csv(&o, (const uint8_t *)names[i], l, single);
                    else
                        put_tsv(&o, (const uint8_t *)names[i], l);
                }
                wb_buf_putc(&o, '\n');
            }
        } else if (ev.type == WB_PG_EV_ROW) {
            int orc = 0;
            if (fmt == FMT_JSONL)
                orc |= wb_buf_putc(&o, '{');
            for (uint16_t i = 0; i < ev.ncols; i++) {
                if (fmt == FMT_CSV) {
                    if (i)
                        orc |= wb_buf_putc(&o, ',');
                    orc |= put_csv(&o, ev.vals[i], ev.lens[i], single);
                } else if (fmt == FMT_TSV) {
                    if (i)
                        orc |= wb_buf_putc(&o, '\t');
                    orc |= put_tsv(&o, ev.vals[i], ev.lens[i]);
                } else {
                    if (i)
                        orc |= wb_buf_putc(&o, ',');
                    const char *nm = i < ncols ? names[i] : "?";
                    orc |= put_json_string(&o, (const uint8_t *)nm, strlen(nm));
                    orc |= wb_buf_putc(&o, ':');
                    orc |= put_jsonl_value(&o, i < ncols ? oids[i] : 0, ev.vals[i], ev.lens[i]);
                }
            }
            if (fmt == FMT_JSONL)
                orc |= wb_buf_putc(&o, '}');
            orc |= wb_buf_putc(&o, '\n');
            if (orc) {
                fprintf(stderr, "wirebuf pg export: out of memory\n");
                rc = 1;
                goto out;
            }
            rows++;
            if (o.len >= 256 * 1024) {
                if (write_all(fd, o.p, o.len)) {
                    fprintf(stderr, "wirebuf pg export: write failed: %m\n");
                    rc = 1;
                    goto out;
                }
                o.len = 0;
                prog_show(&pr, "exported", rows, 0, 0);
            }
        } else if (ev.type == WB_PG_EV_ERROR && !failed) {
            failed = 1;
            fprintf(stderr, "wirebuf pg export: %s: %s%s%s (after %lld rows)\n", ev.error->severity, ev.error->message,
                    ev.error->detail[0] ? "; " : "", ev.error->detail, rows);
        } else if (ev.type == WB_PG_EV_COPY_IN) {
            fprintf(stderr, "wirebuf pg export: the query is a COPY FROM STDIN; use wirebuf pg import\n");
            rc = 1;
            goto out;
        }
    }
    if (s < 0) {
        fprintf(stderr, "wirebuf pg export: %s (after %lld rows)\n", e.message, rows);
        rc = 1;
    }
    if (failed)
        rc = 1;
    if (o.len && write_all(fd, o.p, o.len)) {
        fprintf(stderr, "wirebuf pg export: write failed: %m\n");
        rc = 1;
    }
    prog_show(&pr, "exported", rows, 0, 1);
    if (!rc)
        fprintf(stderr, "wirebuf pg export: %lld rows\n", rows);
out:
    for (uint16_t i = 0; names && i < ncols; i++)
        free(names[i]);
    free(names);
    free(oids);
    wb_buf_free(&o);
    wb_pg_finish(c);
    if (fd != 1 && close(fd) != 0 && !rc) {
        fprintf(stderr, "wirebuf pg export: close failed: %m\n");
        rc = 1;
    }
    return rc;
}

static int do_import(const char *conninfo, const char *table, const char *columns, int fmt, int header,
                     const char *path)
{
    int fd = 0;
    if (path && strcmp(path, "-") != 0) {
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            fprintf(stderr, "wirebuf pg import: cannot open %s: %m\n", path);
            return 2;
        }
    }
    struct stat st;
    long long total = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (long long)st.st_size : 0;
    wb_pg_error e;
    wb_pg_conn *c = wb_pg_connect(conninfo, NULL, &e);
    if (!c) {
        fprintf(stderr, "wirebuf pg import: %s\n", e.message);
        if (fd)
            close(fd);
        return 1;
    }
    size_t sqlcap = strlen(table) + (columns ? strlen(columns) : 0) + 128;
    char *sql = malloc(sqlcap);
    snprintf(sql, sqlcap, "COPY %s%s%s%s FROM STDIN WITH (FORMAT %s%s)", table, columns ? " (" : "",
             columns ? columns : "", columns ? ")" : "", fmt == FMT_CSV ? "csv" : "text", header ? ", HEADER" : "");
    int rc = 0;
    if (wb_pg_copy_in_start(c, sql, &e)) {
        fprintf(stderr, "wirebuf pg import: %s%s%s (0 rows committed)\n", e.message, e.hint[0] ? "; hint: " : "",
                e.hint);
        rc = 1;
        goto out;
    }
    prog pr = {isatty(2), 0};
    size_t cap = 1024 * 1024;
    uint8_t *buf = malloc(cap);
    long long done = 0;
    ssize_t n;
    while (buf && (n = read(fd, buf, cap)) > 0) {
        if (wb_pg_copy_put(c, buf, (size_t)n, &e)) {
            fprintf(stderr, "wirebuf pg import: %s (0 rows committed)\n", e.message);
            rc = 1;
            break;
        }
        done += n;
        prog_show(&pr, "imported", done, total, 0);
    }
    if (!buf || n < 0) {
        fprintf(stderr, "wirebuf pg import: cannot read %s\n", path ? path : "stdin");
        if (!rc)
            wb_pg_copy_end(c, "input could not be read", NULL, &e);
        free(buf);
        rc = 2;
        goto out;
    }
    free(buf);
    if (rc == 0) {
        int64_t rows = 0;
        if (wb_pg_copy_end(c, NULL, &rows, &e)) {
            fprintf(stderr, "wirebuf pg import: %s: %s%s%s (0 rows committed: COPY is one transaction)\n",
                    e.severity[0] ? e.severity : "error", e.message, e.where[0] ? "; " : "", e.where);
            rc = 1;
        } else {
            prog_show(&pr, "imported", done, total, 1);
            fprintf(stderr, "wirebuf pg import: %lld rows into %s\n", (long long)rows, table);
        }
    }
out:
    free(sql);
    wb_pg_finish(c);
    if (fd)
        close(fd);
    return rc;
}

int wb_cli_pg(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return pg_usage(argc < 2 ? 2 : 0);
    int export = strcmp(argv[1], "export") == 0;
    if (!export && strcmp(argv[1], "import") != 0) {
        fprintf(stderr, "wirebuf pg: unknown command '%s'\n", argv[1]);
        return pg_usage(2);
    }
    static const struct option lo[] = {{"format", required_argument, 0, 'f'}, {"output", required_argument, 0, 'o'},
                                       {"columns", required_argument, 0, 'c'}, {"no-header", no_argument, 0, 'n'},
                                       {"help", no_argument, 0, 'h'},          {0, 0, 0, 0}};
    int fmt = FMT_CSV, header = 1, ch;
    const char *out = NULL, *columns = NULL;
    optind = 1;
    argc--;
    argv++;
    while ((ch = getopt_long(argc, argv, "f:o:c:h", lo, NULL)) != -1) {
        switch (ch) {
        case 'f':
            if (strcmp(optarg, "csv") == 0)
                fmt = FMT_CSV;
            else if (strcmp(optarg, "tsv") == 0)
                fmt = FMT_TSV;
            else if (strcmp(optarg, "jsonl") == 0 && export)
                fmt = FMT_JSONL;
            else {
                fprintf(stderr, "wirebuf pg %s: unknown format '%s'\n", argv[0], optarg);
                return pg_usage(2);
            }
            break;
        case 'o': out = optarg; break;
        case 'c': columns = optarg; break;
        case 'n': header = 0; break;
        case 'h': return pg_usage(0);
        default: return pg_usage(2);
        }
    }
    int rest = argc - optind;
    if (export) {
        if (rest != 2 || columns)
            return pg_usage(2);
        return do_export(argv[optind], argv[optind + 1], fmt, header, out);
    }
    if ((rest != 2 && rest != 3) || out)
        return pg_usage(2);
    return do_import(argv[optind], argv[optind + 1], columns, fmt, header, rest == 3 ? argv[optind + 2] : NULL);
}
