/* A test double for src/server/engine.h: just enough of a backend to drive
 * the wire server in tests and the fuzzer without SQLite or SQL (never
 * linked into the product). Understands, per statement (';'-separated in a
 * simple Query):
 *   ""                         EmptyQueryResponse
 *   BEGIN / COMMIT / ROLLBACK  transaction status I/T/E
 *   SELECT pg_sleep(S)         sleeps in 10 ms steps; interruptible (57014)
 *   SELECT pg_backend_pid()
 *   SELECT pg_cancel_backend(P) / pg_terminate_backend(P)   via the hook
 *   SELECT generate_series(1,N) N rows, yielding WB_ENGINE_MORE at the
 *                              output high-water mark
 *   SELECT <anything else>     one text column holding <anything else>
 *                              ($1 replaced by the first Bind parameter)
 *   LISTEN ch / NOTIFY ch[, 'payload']
 *   anything else              ERROR 42601
 * Extended protocol: Parse/Bind/Describe/Execute/Close/Sync/Flush with
 * skip-to-Sync after an error, 26000/34000 for unknown names. */
#include "../src/server/engine.h"
#include "wirebuf/pgproto.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct wb_engine {
    char dir[512];
    wb_engine_hooks hooks;
};

#define NSTMT 16
struct wb_engine_session {
    wb_engine *e;
    char db[64];
    int32_t pid;
    char txn; /* I T E */
    atomic_int interrupt, terminate;
    _Atomic(char *) listen[8];
    struct { char name[64]; char *sql; } stmt[NSTMT];
    struct { char name[64]; char *sql; } portal[NSTMT];
    int skip; /* after an error in the extended protocol: until Sync */
    /* generate_series in progress */
    long series_next, series_end;
    int series_simple; /* finish with CommandComplete (+ RFQ for simple) */
    char *pending;     /* rest of a multi-statement Query after MORE */
};

wb_engine *wb_engine_open(const char *datadir, const wb_engine_hooks *hooks, wb_engine_error *err)
{
    if (mkdir(datadir, 0700) != 0 && errno != EEXIST) {
        snprintf(err->sqlstate, sizeof err->sqlstate, "58030");
        snprintf(err->message, sizeof err->message, "could not create data directory \"%s\": %s", datadir,
                 strerror(errno));
        return NULL;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/postgres.test", datadir);
    int fd = open(path, O_WRONLY | O_CREAT, 0600);
    if (fd < 0) {
        snprintf(err->sqlstate, sizeof err->sqlstate, "58030");
        snprintf(err->message, sizeof err->message, "data directory \"%s\" is not writable: %s", datadir,
                 strerror(errno));
        return NULL;
    }
    close(fd);
    wb_engine *e = calloc(1, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "%s", datadir);
    if (hooks)
        e->hooks = *hooks;
    return e;
}

void wb_engine_close(wb_engine *e) { free(e); }

static void put_status(wb_buf *out, const char *n, const char *v) { wb_pg_put_parameter_status(out, n, v); }

wb_engine_session *wb_engine_session_new(wb_engine *e, const char *db, const char *user,
                                         const char *const *names, const char *const *values, int n,
                                         int32_t pid, wb_buf *out, wb_engine_error *err)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s.test", e->dir, db);
    if (strchr(db, '/') || access(path, F_OK) != 0) {
        snprintf(err->sqlstate, sizeof err->sqlstate, "3D000");
        snprintf(err->message, sizeof err->message, "database \"%s\" does not exist", db);
        return NULL;
    }
    wb_engine_session *s = calloc(1, sizeof *s);
    s->e = e;
    snprintf(s->db, sizeof s->db, "%s", db);
    s->pid = pid;
    s->txn = 'I';
    const char *app = "";
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], "application_name") == 0)
            app = values[i];
    put_status(out, "application_name", app);
    put_status(out, "client_encoding", "UTF8");
    put_status(out, "DateStyle", "ISO, MDY");
    put_status(out, "default_transaction_read_only", "off");
    put_status(out, "in_hot_standby", "off");
    put_status(out, "integer_datetimes", "on");
    put_status(out, "IntervalStyle", "postgres");
    put_status(out, "is_superuser", "on");
    put_status(out, "server_encoding", "UTF8");
    put_status(out, "server_version", "15.0");
    put_status(out, "session_authorization", user);
    put_status(out, "standard_conforming_strings", "on");
    put_status(out, "TimeZone", "UTC");
    return s;
}

void wb_engine_session_free(wb_engine_session *s)
{
    if (!s)
        return;
    for (int i = 0; i < NSTMT; i++) {
        free(s->stmt[i].sql);
        free(s->portal[i].sql);
    }
    for (int i = 0; i < 8; i++)
        free(atomic_load(&s->listen[i]));
    free(s->pending);
    free(s);
}

char wb_engine_session_txn_status(const wb_engine_session *s) { return s->txn; }

void wb_engine_session_interrupt(wb_engine_session *s, int terminate)
{
    if (terminate)
        atomic_store(&s->terminate, 1);
    atomic_store(&s->interrupt, 1);
}

int wb_engine_session_listening(wb_engine_session *s, const char *channel)
{
    for (int i = 0; i < 8; i++) {
        char *c = atomic_load(&s->listen[i]);
        if (c && strcmp(c, channel) == 0)
            return 1;
    }
    return 0;
}

static void error(wb_engine_session *s, wb_buf *out, const char *sev, const char *code, const char *msg)
{
    wb_pg_fields f = {0};
    f.severity = f.severity_nonlocal = sev;
    f.sqlstate = code;
    f.message = msg;
    wb_pg_put_fields(out, 'E', &f);
    if (s->txn == 'T')
        s->txn = 'E';
}

static void one_col(wb_buf *out, const char *name)
{
    wb_pg_column c = {name, 0, 0, 25, -1, -1, 0};
    wb_pg_put_row_description(out, 1, &c);
}

static void text_row(wb_buf *out, const char *v)
{
    const uint8_t *vals[1] = {(const uint8_t *)v};
    int32_t lens[1] = {(int32_t)strlen(v)};
    wb_pg_put_datarow(out, 1, vals, lens);
}

/* Continue a generate_series; 1 if it yielded (MORE). */
static int series(wb_engine_session *s, wb_buf *out)
{
    char v[32];
    while (s->series_next <= s->series_end) {
        if (atomic_exchange(&s->interrupt, 0)) {
            s->series_next = s->series_end + 1;
            error(s, out, "ERROR", "57014", "canceling statement due to user request");
            return 0;
        }
        snprintf(v, sizeof v, "%ld", s->series_next++);
        text_row(out, v);
        if (out->len >= WB_ENGINE_OUT_HIGH && s->series_next <= s->series_end)
            return 1;
    }
    snprintf(v, sizeof v, "SELECT %ld", s->series_end);
    wb_pg_put_command_complete(out, v);
    return 0;
}

static int is(const char *q, const char *word)
{
    size_t n = strlen(word);
    return strncasecmp(q, word, n) == 0 && (q[n] == 0 || q[n] == ' ' || q[n] == '(' || q[n] == ';');
}

/* What follows a command word of n letters that is() matched: the text
 * after the separator, or "" when the statement is the word alone. */
static const char *after(const char *q, size_t n)
{
    return q[n] ? q + n + 1 : q + n;
}

/* Run one statement. describe: also send RowDescription (simple protocol).
 * Returns 1 when it yielded (generate_series), -1 for an error, 0 done. */
static int run(wb_engine_session *s, const char *q, const char *param, int describe, wb_buf *out)
{
    while (*q == ' ' || *q == '\n' || *q == '\t')
        q++;
    if (atomic_load(&s->terminate)) {
        error(s, out, "FATAL", "57P01", "terminating connection due to administrator command");
        return -2;
    }
    if (!*q) {
        wb_pg_put_empty(out, 'I');
        return 0;
    }
    if (s->txn == 'E' && !is(q, "ROLLBACK") && !is(q, "COMMIT")) {
        error(s, out, "ERROR", "25P02", "current transaction is aborted, commands ignored until end of transaction block");
        return -1;
    }
    char tag[64];
    if (is(q, "BEGIN")) {
        s->txn = 'T';
        wb_pg_put_command_complete(out, "BEGIN");
    } else if (is(q, "COMMIT") || is(q, "ROLLBACK")) {
        wb_pg_put_command_complete(out, s->txn == 'E' || is(q, "ROLLBACK") ? "ROLLBACK" : "COMMIT");
        s->txn = 'I';
    } else if (is(q, "LISTEN")) {
        for (int i = 0; i < 8; i++)
            if (!atomic_load(&s->listen[i])) {
                atomic_store(&s->listen[i], strdup(after(q, 6)));
                break;
            }
        wb_pg_put_command_complete(out, "LISTEN");
    } else if (is(q, "NOTIFY")) {
        char ch[64] = "", payload[128] = "";
        sscanf(after(q, 6), "%63[^, ], '%127[^']'", ch, payload);
        if (s->e->hooks.notify)
            s->e->hooks.notify(s->e->hooks.ctx, s->db, ch, payload, s->pid);
        wb_pg_put_command_complete(out, "NOTIFY");
    } else if (is(q, "SELECT")) {
        const char *x = after(q, 6);
        double secs;
        long a, b;
        char v[64];
        if (sscanf(x, "pg_sleep(%lf)", &secs) == 1) {
            struct timespec ts = {0, 10 * 1000 * 1000};
#ifdef WB_TEST_ENGINE_FUZZ
            secs = 0; /* the fuzzer must not wait */
#endif
            for (double t = 0; t < secs; t += 0.01) {
                if (atomic_exchange(&s->interrupt, 0)) {
                    if (atomic_load(&s->terminate)) {
                        error(s, out, "FATAL", "57P01", "terminating connection due to administrator command");
                        return -2;
                    }
                    error(s, out, "ERROR", "57014", "canceling statement due to user request");
                    return -1;
                }
                nanosleep(&ts, NULL);
            }
            if (describe)
                one_col(out, "pg_sleep");
            text_row(out, "");
            wb_pg_put_command_complete(out, "SELECT 1");
        } else if (strncmp(x, "pg_backend_pid()", 16) == 0) {
            if (describe)
                one_col(out, "pg_backend_pid");
            snprintf(v, sizeof v, "%d", s->pid);
            text_row(out, v);
            wb_pg_put_command_complete(out, "SELECT 1");
        } else if (sscanf(x, "pg_cancel_backend(%ld)", &a) == 1 || sscanf(x, "pg_terminate_backend(%ld)", &a) == 1) {
            int term = strstr(x, "terminate") != NULL;
            int ok = s->e->hooks.signal_backend && s->e->hooks.signal_backend(s->e->hooks.ctx, (int32_t)a, term);
            if (describe)
                one_col(out, term ? "pg_terminate_backend" : "pg_cancel_backend");
            text_row(out, ok ? "t" : "f");
            wb_pg_put_command_complete(out, "SELECT 1");
        } else if (sscanf(x, "generate_series(%ld,%ld)", &a, &b) == 2) {
#ifdef WB_TEST_ENGINE_FUZZ
            if (b - a > 100000)
                b = a + 100000;
#endif
            if (describe)
                one_col(out, "generate_series");
            s->series_next = a;
            s->series_end = b;
            return series(s, out);
        } else {
            size_t n = strcspn(x, ";");
            char *val = strndup(x, n);
            if (param && strcmp(val, "$1") == 0) {
                free(val);
                val = strdup(param);
            }
            if (describe)
                one_col(out, "?column?");
            text_row(out, val);
            free(val);
            wb_pg_put_command_complete(out, "SELECT 1");
        }
    } else {
        snprintf(tag, sizeof tag, "syntax error at or near \"%.20s\"", q);
        error(s, out, "ERROR", "42601", tag);
        return -1;
    }
    return 0;
}

/* simple Query: statements separated by ';' */
static enum wb_engine_status simple(wb_engine_session *s, const char *q, wb_buf *out)
{
    for (;;) {
        const char *semi = strchr(q, ';');
        char *one = semi ? strndup(q, (size_t)(semi - q)) : strdup(q);
        int all_blank = strspn(one, " \t\n") == strlen(one);
        int r = all_blank && semi ? 0 : run(s, one, NULL, 1, out);
        free(one);
        if (r == -2)
            return WB_ENGINE_CLOSE;
        if (r == 1) {
            s->series_simple = 1;
            free(s->pending);
            s->pending = semi ? strdup(semi + 1) : NULL;
            return WB_ENGINE_MORE;
        }
        if (r < 0 || !semi || !semi[1])
            break;
        q = semi + 1;
    }
    wb_pg_put_ready_for_query(out, s->txn);
    return WB_ENGINE_SYNCED;
}

static int find(void *arr, const char *name)
{
    struct { char name[64]; char *sql; } *a = arr;
    for (int i = 0; i < NSTMT; i++)
        if (a[i].sql && strcmp(a[i].name, name) == 0)
            return i;
    return -1;
}

static void store(void *arr, const char *name, const char *sql)
{
    struct { char name[64]; char *sql; } *a = arr;
    int i = find(arr, name);
    if (i < 0)
        for (i = 0; i < NSTMT && a[i].sql; i++)
            ;
    if (i == NSTMT)
        i = 0;
    free(a[i].sql);
    snprintf(a[i].name, sizeof a[i].name, "%s", name);
    a[i].sql = strdup(sql);
}

enum wb_engine_status wb_engine_message(wb_engine_session *s, uint8_t type, const uint8_t *body, uint32_t len,
                                        wb_buf *out)
{
    wb_pg_msg m = {type, len, body};
    char err[256];
    if (type == 'X')
        return WB_ENGINE_CLOSE;
    if (type == 'S') {
        s->skip = 0;
        wb_pg_put_ready_for_query(out, s->txn);
        return WB_ENGINE_SYNCED;
    }
    if (type == 'H')
        return WB_ENGINE_OK;
    if (type == 'Q') {
        const char *q;
        if (wb_pg_parse_string(&m, &q, err, sizeof err) != 0) {
            error(s, out, "FATAL", "08P01", err);
            return WB_ENGINE_CLOSE;
        }
        return simple(s, q, out);
    }
    if (s->skip)
        return WB_ENGINE_OK;
    switch (type) {
    case 'P': {
        const char *name, *q;
        uint16_t nt;
        const uint8_t *types;
        if (wb_pg_parse_parse(&m, &name, &q, &nt, &types, err, sizeof err) != 0)
            break;
        store(s->stmt, name, q);
        wb_pg_put_empty(out, '1');
        return WB_ENGINE_OK;
    }
    case 'B': {
        wb_pg_bind b;
        if (wb_pg_parse_bind(&m, &b, err, sizeof err) != 0)
            break;
        int i = find(s->stmt, b.statement);
        if (i < 0) {
            snprintf(err, sizeof err, "prepared statement \"%s\" does not exist", b.statement);
            error(s, out, "ERROR", "26000", err);
            s->skip = 1;
            return WB_ENGINE_OK;
        }
        char *sql = strdup(s->stmt[i].sql);
        const char *d = strstr(sql, "$1");
        if (b.nparams > 0 && d) {
            const uint8_t *cur = b.params;
            int32_t l;
            const uint8_t *v = wb_pg_bind_next_param(&cur, &l);
            size_t pre = (size_t)(d - sql), vl = l > 0 ? (size_t)l : 0;
            char *x = malloc(strlen(sql) + vl + 1);
            memcpy(x, sql, pre);
            if (vl)
                memcpy(x + pre, v, vl);
            strcpy(x + pre + vl, d + 2);
            free(sql);
            sql = x;
        }
        store(s->portal, b.portal, sql);
        free(sql);
        wb_pg_put_empty(out, '2');
        return WB_ENGINE_OK;
    }
    case 'D': {
        char kind;
        const char *name;
        if (wb_pg_parse_close_describe(&m, &kind, &name, err, sizeof err) != 0)
            break;
        int i = find(kind == 'S' ? (void *)s->stmt : (void *)s->portal, name);
        if (i < 0) {
            snprintf(err, sizeof err, "%s \"%s\" does not exist", kind == 'S' ? "prepared statement" : "portal", name);
            error(s, out, "ERROR", kind == 'S' ? "26000" : "34000", err);
            s->skip = 1;
            return WB_ENGINE_OK;
        }
        const char *q = kind == 'S' ? s->stmt[i].sql : s->portal[i].sql;
        if (kind == 'S') {
            uint32_t oid = 25;
            wb_pg_put_parameter_description(out, strstr(q, "$1") ? 1 : 0, &oid);
        }
        if (strncasecmp(q, "SELECT", 6) == 0)
            one_col(out, "?column?");
        else
            wb_pg_put_empty(out, 'n');
        return WB_ENGINE_OK;
    }
    case 'E': {
        const char *portal;
        int32_t max;
        if (wb_pg_parse_execute(&m, &portal, &max, err, sizeof err) != 0)
            break;
        int i = find(s->portal, portal);
        if (i < 0) {
            snprintf(err, sizeof err, "portal \"%s\" does not exist", portal);
            error(s, out, "ERROR", "34000", err);
            s->skip = 1;
            return WB_ENGINE_OK;
        }
        int r = run(s, s->portal[i].sql, NULL, 0, out);
        if (r == -2)
            return WB_ENGINE_CLOSE;
        if (r == 1) {
            s->series_simple = 0;
            return WB_ENGINE_MORE;
        }
        if (r < 0)
            s->skip = 1;
        return WB_ENGINE_OK;
    }
    case 'C': {
        char kind;
        const char *name;
        if (wb_pg_parse_close_describe(&m, &kind, &name, err, sizeof err) != 0)
            break;
        int i = find(kind == 'S' ? (void *)s->stmt : (void *)s->portal, name);
        if (i >= 0) {
            if (kind == 'S') {
                free(s->stmt[i].sql);
                s->stmt[i].sql = NULL;
            } else {
                free(s->portal[i].sql);
                s->portal[i].sql = NULL;
            }
        }
        wb_pg_put_empty(out, '3');
        return WB_ENGINE_OK;
    }
    default:
        snprintf(err, sizeof err, "unexpected message type '%c'", type);
        break;
    }
    error(s, out, "ERROR", "08P01", err);
    s->skip = 1;
    return WB_ENGINE_OK;
}

enum wb_engine_status wb_engine_resume(wb_engine_session *s, wb_buf *out)
{
    if (series(s, out))
        return WB_ENGINE_MORE;
    if (!s->series_simple)
        return WB_ENGINE_OK;
    char *rest = s->pending;
    s->pending = NULL;
    enum wb_engine_status st;
    if (rest && *rest)
        st = simple(s, rest, out);
    else {
        wb_pg_put_ready_for_query(out, s->txn);
        st = WB_ENGINE_SYNCED;
    }
    free(rest);
    return st;
}
