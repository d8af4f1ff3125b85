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
 * stderr; import says "0 rows committed" only where that is certain),
 * 2 usage error or unreadable file, 3 import: the outcome is unknown (the
 * connection was lost after all data and CopyDone were sent: the server
 * may have committed; check the table before loading again), 130
 * interrupted (export sends a CancelRequest first, as psql does). */
#include "wirebuf/buf.h"
#include "wirebuf/pg.h"

#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
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
    "        input starts with a header line naming the columns (checked: COPY's\n"
    "        HEADER MATCH) unless --no-header. TABLE (schema.table) and COLUMNS are\n"
    "        identifiers, quoted as given.\n"
    "A progress line is shown on a terminal; row counts go to stderr at the end.\n"
    "Exit: 0 done, 1 failed, 2 usage, 3 import outcome unknown (connection lost\n"
    "after all data was sent: check the table), 130 interrupted.\n";

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

/* Ctrl-C during export: like psql, send a CancelRequest so the query stops
 * on the server too, then let the error come back through the stream. The
 * handler can only reach process state through these (set before the
 * handler is installed; wb_pg_cancel_send touches nothing else). */
static wb_pg_cancel_key sigint_key;
static volatile sig_atomic_t sigint_seen;
static void on_sigint(int sig)
{
    (void)sig;
    sigint_seen = 1;
    signal(SIGINT, SIG_DFL); /* a second Ctrl-C ends the process */
    wb_pg_cancel_send(&sigint_key, NULL);
}

/* jsonl keys must be unique: a repeated column name becomes name_2, name_3,
 * ... (skipping names the query already uses). */
static int unique_names(char **names, uint16_t n)
{
    for (uint16_t i = 1; i < n; i++) {
        int dup = 0;
        for (uint16_t j = 0; j < i && !dup; j++)
            dup = strcmp(names[i], names[j]) == 0;
        if (!dup)
            continue;
        size_t len = strlen(names[i]) + 24;
        char *nn = malloc(len);
        if (!nn)
            return -1;
        for (int k = 2;; k++) {
            snprintf(nn, len, "%s_%d", names[i], k);
            int taken = 0;
            for (uint16_t j = 0; j < n && !taken; j++)
                taken = j != i && strcmp(nn, names[j]) == 0;
            if (!taken)
                break;
        }
        free(names[i]);
        names[i] = nn;
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
    struct sigaction sa_old, sa_new;
    memset(&sa_new, 0, sizeof sa_new);
    sa_new.sa_handler = on_sigint;
    sigemptyset(&sa_new.sa_mask);
    int have_key = wb_pg_get_cancel_key(c, &sigint_key) == 0;
    if (have_key)
        sigaction(SIGINT, &sa_new, &sa_old);
    if (wb_pg_send_query(c, query, &e)) {
        fprintf(stderr, "wirebuf pg export: %s\n", e.message);
        rc = 1;
        goto out;
    }
    wb_pg_event ev;
    int s;
    int failed = 0, sets = 0;
    while ((s = wb_pg_step(c, &ev, &e)) == 1) {
        if (ev.type == WB_PG_EV_ROW_DESCRIPTION && ++sets > 1) {
            fprintf(stderr,
                    "wirebuf pg export: the query returns more than one result set (statement %lld is the second); "
                    "export one query at a time\n",
                    (long long)ev.statement + 1);
            rc = 1;
            goto out;
        }
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
            int nomem = 0;
            for (uint16_t i = 0; i < ncols; i++) {
                names[i] = strdup(ev.cols[i].name);
                nomem |= !names[i];
                oids[i] = ev.cols[i].type_oid;
            }
            if (nomem || (fmt == FMT_JSONL && unique_names(names, ncols))) {
                fprintf(stderr, "wirebuf pg export: out of memory\n");
                rc = 1;
                goto out;
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
    if (have_key)
        sigaction(SIGINT, &sa_old, NULL);
    if (sigint_seen) {
        fprintf(stderr, "wirebuf pg export: interrupted: the query was cancelled on the server\n");
        rc = 130;
    }
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

/* Identifiers as the Python package quotes them: each part of
 * "schema.table" (sep '.') or each column of "a,b" (sep ',', blanks around
 * a name trimmed) in double quotes, inner quotes doubled; a part that
 * already holds a double quote is taken as written (the user quoted it). */
static int put_idents(wb_buf *o, const char *s, char sep, const char *joiner)
{
    int rc = 0;
    for (const char *p = s;;) {
        const char *e = strchr(p, sep);
        if (!e)
            e = p + strlen(p);
        const char *a = p, *b = e;
        if (sep == ',') {
            while (a < b && (*a == ' ' || *a == '\t'))
                a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                b--;
        }
        if (p != s)
            rc |= wb_buf_puts(o, joiner);
        if (memchr(a, '"', (size_t)(b - a))) {
            rc |= wb_buf_append(o, a, (size_t)(b - a));
        } else {
            rc |= wb_buf_putc(o, '"');
            for (const char *q = a; q < b; q++) {
                if (*q == '"')
                    rc |= wb_buf_putc(o, '"');
                rc |= wb_buf_putc(o, *q);
            }
            rc |= wb_buf_putc(o, '"');
        }
        if (!*e)
            return rc;
        p = e + 1;
    }
}

/* COPY FROM STDIN ends the data at a line holding only \. (text and CSV
 * format, PostgreSQL 15 docs COPY "File Formats"): the rest of the file
 * would be dropped without a word. The scanner finds such a line (outside
 * CSV quotes) across read chunks. */
typedef struct eod_scan {
    int csv, in_quote;
    int state; /* 0 line start, 1 "\" at line start, 2 "\." at line start, 3 inside a line */
    long long line;
} eod_scan;
static int eod_scan_chunk(eod_scan *s, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = p[i];
        if (s->state == 3 && !s->csv) { /* the common case: skip to the end of the line */
            const uint8_t *nl = memchr(p + i, '\n', n - i);
            if (!nl)
                return 0;
            i = (size_t)(nl - p);
            c = '\n';
        }
        if (c == '\n' || c == '\r') {
            if (s->state == 2)
                return -1;
            if (c == '\n') {
                s->line++;
                s->state = s->in_quote ? 3 : 0;
            } else {
                s->state = 3;
            }
            continue;
        }
        if (s->csv && c == '"')
            s->in_quote ^= 1;
        s->state = s->state == 0 && c == '\\' ? 1 : s->state == 1 && c == '.' ? 2 : 3;
    }
    return 0;
}

/* One header field list (CSV with quotes, or text format with backslash
 * escapes) from line[0..len) into names (malloc'd strings). */
static int split_header(const char *line, size_t len, int csv, char ***names, int *n)
{
    *names = NULL;
    *n = 0;
    wb_buf f = {0};
    int rc = 0;
    for (size_t i = 0;; i++) {
        int end = i >= len;
        char c = end ? 0 : line[i];
        if (end || c == (csv ? ',' : '\t')) {
            /* on failure *names keeps what is there for the caller to free */
            char **nn = realloc(*names, sizeof *nn * (size_t)(*n + 1));
            if (nn)
                *names = nn;
            if (!nn || wb_buf_putc(&f, 0)) {
                rc = -1;
                break;
            }
            nn[(*n)++] = strdup((const char *)f.p);
            wb_buf_clear(&f);
            if (end)
                break;
            continue;
        }
        if (csv && c == '"') {
            for (i++; i < len; i++) {
                if (line[i] == '"') {
                    if (i + 1 < len && line[i + 1] == '"')
                        i++;
                    else
                        break;
                }
                rc |= wb_buf_putc(&f, line[i]);
            }
            continue;
        }
        if (!csv && c == '\\' && i + 1 < len) {
            char e = line[++i];
            c = e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e;
        }
        rc |= wb_buf_putc(&f, c);
    }
    wb_buf_free(&f);
    return rc;
}

/* The names PostgreSQL gives the columns of `select <list> from <table>`
 * (folded as it folds identifiers), from the RowDescription of a zero-row
 * SELECT: a calloc'ed array of *n strdup'ed names into *names. */
static int select_columns(wb_pg_conn *c, const char *list, const char *table_sql, char ***names, int *n,
                          wb_pg_error *e)
{
    wb_buf q = {0};
    wb_buf_puts(&q, "select ");
    wb_buf_puts(&q, list);
    wb_buf_puts(&q, " from ");
    wb_buf_puts(&q, table_sql);
    wb_buf_puts(&q, " limit 0");
    wb_buf_putc(&q, 0);
    wb_pg_result *r = wb_pg_exec(c, (const char *)q.p, e);
    wb_buf_free(&q);
    if (!r)
        return -1;
    *n = wb_pg_result_cols(r);
    *names = calloc((size_t)(*n ? *n : 1), sizeof **names);
    for (int i = 0; *names && i < *n; i++)
        (*names)[i] = strdup(wb_pg_result_column(r, (uint16_t)i)->name);
    wb_pg_result_free(r);
    return *names ? 0 : -1;
}

/* The column names COPY will fill: --columns, or all of the table's. */
static int target_columns(wb_pg_conn *c, const char *table_sql, const char *columns, char ***names, int *n,
                          wb_pg_error *e)
{
    if (!columns)
        return select_columns(c, "*", table_sql, names, n, e);
    wb_buf cl = {0};
    put_idents(&cl, columns, ',', ",");
    wb_buf_putc(&cl, 0);
    /* the identifiers as PostgreSQL folds them: ask it */
    int rc = select_columns(c, (const char *)cl.p, table_sql, names, n, e);
    wb_buf_free(&cl);
    return rc;
}

static void free_names(char **names, int n)
{
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
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
    size_t cap = 1024 * 1024;
    uint8_t *buf = malloc(cap);
    wb_buf tsql = {0}, sql = {0};
    if (!buf || put_idents(&tsql, table, '.', ".") || wb_buf_putc(&tsql, 0)) {
        fprintf(stderr, "wirebuf pg import: out of memory\n");
        free(buf);
        wb_buf_free(&tsql);
        if (fd)
            close(fd);
        return 1;
    }
    wb_pg_error e;
    wb_pg_conn *c = wb_pg_connect(conninfo, NULL, &e);
    if (!c) {
        fprintf(stderr, "wirebuf pg import: %s\n", e.message);
        free(buf);
        wb_buf_free(&tsql);
        if (fd)
            close(fd);
        return 1;
    }
    int rc = 0;
    ssize_t n = 0;
    size_t have = 0, skip = 0; /* bytes read ahead; header bytes not sent */
    /* HEADER MATCH (PostgreSQL 15): the server checks the header line names
     * the columns. Older servers: check it here and skip it. */
    int match = header && wb_pg_server_version(c) >= 150000;
    if (header && !match) {
        while (have < cap && !memchr(buf, '\n', have) && (n = read(fd, buf + have, cap - have)) > 0)
            have += (size_t)n;
        const uint8_t *nl = memchr(buf, '\n', have);
        size_t hl = nl ? (size_t)(nl - buf) : have;
        skip = nl ? hl + 1 : have;
        if (hl && buf[hl - 1] == '\r')
            hl--;
        char **got = NULL, **want = NULL;
        int ngot = 0, nwant = 0;
        if (n < 0 || split_header((const char *)buf, hl, fmt == FMT_CSV, &got, &ngot) ||
            target_columns(c, (const char *)tsql.p, columns, &want, &nwant, &e)) {
            fprintf(stderr, "wirebuf pg import: %s (0 rows committed)\n", n < 0 ? "cannot read the input" : e.message);
            rc = n < 0 ? 2 : 1;
        } else {
            for (int i = 0; !rc && i < (ngot > nwant ? ngot : nwant); i++) {
                if (i >= ngot || i >= nwant || strcmp(got[i], want[i]) != 0) {
                    fprintf(stderr,
                            "wirebuf pg import: the header line does not name the columns: field %d is \"%s\", "
                            "expected \"%s\" (if the input has no header line, use --no-header) (0 rows committed)\n",
                            i + 1, i < ngot ? got[i] : "", i < nwant ? want[i] : "");
                    rc = 1;
                }
            }
        }
        free_names(got, ngot);
        free_names(want, nwant);
        if (rc)
            goto out;
    }
    wb_buf_puts(&sql, "COPY ");
    wb_buf_puts(&sql, (const char *)tsql.p);
    if (columns) {
        wb_buf_puts(&sql, " (");
        put_idents(&sql, columns, ',', ", ");
        wb_buf_puts(&sql, ")");
    }
    wb_buf_puts(&sql, fmt == FMT_CSV ? " FROM STDIN WITH (FORMAT csv" : " FROM STDIN WITH (FORMAT text");
    wb_buf_puts(&sql, match ? ", HEADER MATCH)" : ")");
    if (wb_buf_putc(&sql, 0)) {
        fprintf(stderr, "wirebuf pg import: out of memory\n");
        rc = 1;
        goto out;
    }
    if (wb_pg_copy_in_start(c, (const char *)sql.p, &e)) {
        fprintf(stderr, "wirebuf pg import: %s%s%s (0 rows committed)\n", e.message, e.hint[0] ? "; hint: " : "",
                e.hint);
        rc = 1;
        goto out;
    }
    prog pr = {isatty(2), 0};
    long long done = (long long)skip;
    eod_scan scan = {fmt == FMT_CSV, 0, 0, 1};
    for (;;) {
        if (have == 0) {
            n = read(fd, buf, cap);
            if (n <= 0)
                break;
            have = (size_t)n;
        }
        const uint8_t *p = buf + skip;
        size_t len = have - skip;
        if (eod_scan_chunk(&scan, p, len)) {
            fprintf(stderr,
                    "wirebuf pg import: line %lld of the input is \\. alone, which COPY takes as the end of the data "
                    "(the rest would be dropped); quote it in CSV (\"\\.\") or remove it (0 rows committed)\n",
                    scan.line);
            wb_pg_copy_end(c, "the input holds an end-of-data marker line", NULL, &e);
            rc = 1;
            goto out;
        }
        if (len && wb_pg_copy_put(c, p, len, &e)) {
            fprintf(stderr, "wirebuf pg import: %s (0 rows committed)\n", e.message);
            rc = 1;
            goto out;
        }
        done += (long long)len;
        have = skip = 0;
        prog_show(&pr, "imported", done, total, 0);
    }
    if (n < 0 || (scan.state == 2 && scan.in_quote == 0)) {
        if (n < 0)
            fprintf(stderr, "wirebuf pg import: cannot read %s: %m (0 rows committed)\n", path ? path : "stdin");
        else
            fprintf(stderr,
                    "wirebuf pg import: line %lld of the input is \\. alone, which COPY takes as the end of the data; "
                    "quote it in CSV (\"\\.\") or remove it (0 rows committed)\n",
                    scan.line);
        wb_pg_copy_end(c, n < 0 ? "input could not be read" : "the input holds an end-of-data marker line", NULL, &e);
        rc = n < 0 ? 2 : 1;
        goto out;
    }
    int64_t rows = 0;
    if (wb_pg_copy_end(c, NULL, &rows, &e)) {
        if (rows < 0) {
            fprintf(stderr,
                    "wirebuf pg import: outcome unknown: the connection was lost after all data was sent (%s); "
                    "the rows may have been committed: check the table before loading again\n",
                    e.message);
            rc = 3;
        } else {
            fprintf(stderr, "wirebuf pg import: %s: %s%s%s%s%s (0 rows committed: COPY is one transaction)\n",
                    e.severity[0] ? e.severity : "error", e.message, e.where[0] ? "; " : "", e.where,
                    match && strstr(e.message, "header") ? "; if the input has no header line, use --no-header" : "",
                    "");
            rc = 1;
        }
    } else {
        prog_show(&pr, "imported", done, total, 1);
        fprintf(stderr, "wirebuf pg import: %lld rows committed into %s\n", (long long)rows, table);
    }
out:
    free(buf);
    wb_buf_free(&sql);
    wb_buf_free(&tsql);
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
