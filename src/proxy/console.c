/* src/proxy/console.c - console.h: the admin console's commands and the
 * Prometheus text endpoint, as pure functions of a snapshot.
 *
 * The commands are PgBouncer 1.18's console (doc/usage.md "Admin console"),
 * not SQL: a tiny tokenizer (words, "quoted" names, one trailing ';') reads
 * them; libpg_query would reject PAUSE. Errors: 42601 for what does not
 * tokenize or lacks an argument, 0A000 for a command or SHOW subject the
 * console does not have. An empty query answers EmptyQueryResponse, as
 * PostgreSQL does.
 *
 * Columns follow PgBouncer 1.18's names and order, adapted to what the
 * snapshot holds (a PgBouncer column the proxy has no figure for is left
 * out rather than shown as a made-up 0); values are text (25) or int8 (20),
 * all sent in text format. Per table:
 *  SHOW POOLS     database, user, cl_active, cl_waiting, sv_active, sv_idle,
 *                 sv_used, sv_tested, sv_login, maxwait, maxwait_us,
 *                 pool_mode (+ pool_size, paused); sv_used/sv_tested are 0:
 *                 the proxy has no server-check states
 *  SHOW CLIENTS   type 'C', user, database, state, addr, port, connect_time,
 *                 wait, wait_us, pid (the BackendKeyData pid the proxy gave
 *                 the client; PgBouncer shows ptr), server_pid (PgBouncer's
 *                 link), application_name, prepared
 *  SHOW SERVERS   type 'S', user, database, state, addr, port, connect_time,
 *                 remote_pid (the backend's pid, as PgBouncer), client_pid
 *                 (PgBouncer's link), tls, prepared
 *  SHOW STATS     per database (pools summed), PgBouncer's total_* and
 *                 avg_* columns; the averages are over the time since start
 *                 (PgBouncer: its last stats_period): avg_xact_count,
 *                 avg_query_count, avg_recv, avg_sent and avg_wait_time per
 *                 second, avg_xact_time per transaction, avg_query_time per
 *                 query, times in microseconds
 *  SHOW DATABASES name, upstream (CONNINFO, for PgBouncer's host and port),
 *                 database, pool_size, min_pool_size, pool_mode,
 *                 max_connections, current_connections (server connections),
 *                 paused (1 when every pool of it is paused)
 *  SHOW STATS_TOTALS / STATS_AVERAGES: the same figures apart, PgBouncer's
 *                 short names (xact_count, query_count, bytes_received, ...)
 *  SHOW LISTS     list, items: databases, users, pools, used_clients,
 *                 used_servers (PgBouncer's slab free lists do not exist)
 *  SHOW CONFIG    key, value, default, changeable
 *  SHOW VERSION   version;  SHOW HELP: a NoticeResponse, as PgBouncer
 */
#include "console.h"
#include "relay.h"
#include "wirebuf/pgproto.h"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define OID_INT8 20
#define OID_TEXT 25

/* ---------- the tokenizer ---------- */

#define MAX_WORDS 4

typedef struct words {
    int n;
    struct { const char *p; size_t len; int quoted; } w[MAX_WORDS];
    int bad;        /* something that is not a word, or too many words */
    size_t bad_off; /* where */
} words;

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
static int is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           (unsigned char)c >= 0x80;
}

static void tokenize(const char *s, size_t n, words *ws)
{
    memset(ws, 0, sizeof *ws);
    size_t i = 0;
    int semicolon = 0;
    while (i < n) {
        char c = s[i];
        if (is_space(c)) { i++; continue; }
        if (semicolon) goto bad; /* one ';', at the end */
        if (c == ';') { semicolon = 1; i++; continue; }
        if (ws->n == MAX_WORDS) goto bad;
        if (is_word(c)) {
            size_t j = i;
            while (j < n && is_word(s[j])) j++;
            ws->w[ws->n].p = s + i;
            ws->w[ws->n].len = j - i;
            ws->w[ws->n].quoted = 0;
            ws->n++;
            i = j;
        } else if (c == '"') {
            size_t j = i + 1;
            while (j < n && s[j] != '"') j++; /* a name with a '"' in it is not supported */
            if (j >= n || j == i + 1) goto bad;
            ws->w[ws->n].p = s + i + 1;
            ws->w[ws->n].len = j - i - 1;
            ws->w[ws->n].quoted = 1;
            ws->n++;
            i = j + 1;
        } else {
            goto bad;
        }
    }
    return;
bad:
    ws->bad = 1;
    ws->bad_off = i;
}

static int word_is(const words *ws, int k, const char *kw)
{
    if (k >= ws->n || ws->w[k].quoted) return 0;
    size_t l = strlen(kw);
    if (ws->w[k].len != l) return 0;
    for (size_t i = 0; i < l; i++) {
        char c = ws->w[k].p[i];
        if (c >= 'a' && c <= 'z') c = (char)(c - 32);
        if (c != kw[i]) return 0;
    }
    return 1;
}

int wb_console_needs_snapshot(const char *sql, size_t len)
{
    words ws;
    tokenize(sql, len, &ws);
    return !ws.bad && word_is(&ws, 0, "SHOW");
}

/* ---------- messages ---------- */

static int error(wb_buf *out, const char *sqlstate, const char *message, const char *hint)
{
    wb_pg_fields f;
    memset(&f, 0, sizeof f);
    f.severity = "ERROR";
    f.severity_nonlocal = "ERROR";
    f.sqlstate = sqlstate;
    f.message = message;
    f.hint = hint;
    return wb_pg_put_fields(out, 'E', &f);
}

/* A result set under construction: the columns, then rows of cells
 * (text cells point at the snapshot's bytes, numbers are formatted in num). */
typedef struct table {
    wb_buf *out;
    int ncols;
    int col;                      /* next cell of the current row */
    const uint8_t *vals[32];
    int32_t lens[32];
    char num[32][32];
    int failed;
} table;

static void t_begin(table *t, wb_buf *out, int ncols, const char *const *names, const uint32_t *oids)
{
    memset(t, 0, sizeof *t);
    t->out = out;
    t->ncols = ncols;
    wb_pg_column cols[32];
    for (int i = 0; i < ncols; i++) {
        memset(&cols[i], 0, sizeof cols[i]);
        cols[i].name = names[i];
        cols[i].type_oid = oids[i];
        cols[i].typlen = oids[i] == OID_INT8 ? 8 : -1;
        cols[i].typmod = -1;
    }
    if (wb_pg_put_row_description(out, (uint16_t)ncols, cols) != 0) t->failed = 1;
}

/* a text cell: s[0..strnlen(s, maxlen)), or NULL */
static void t_text(table *t, const char *s, size_t maxlen)
{
    if (t->col >= t->ncols) return;
    t->vals[t->col] = (const uint8_t *)s;
    t->lens[t->col] = s ? (int32_t)strnlen(s, maxlen) : -1;
    t->col++;
}

static void t_int(table *t, int64_t v)
{
    if (t->col >= t->ncols) return;
    t->lens[t->col] = (int32_t)snprintf(t->num[t->col], sizeof t->num[0], "%" PRId64, v);
    t->vals[t->col] = (const uint8_t *)t->num[t->col];
    t->col++;
}

static void t_uint(table *t, uint64_t v)
{
    /* int8 holds up to 2^63-1: a larger counter shows that bound */
    t_int(t, v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v);
}

static void t_row(table *t)
{
    if (!t->failed && wb_pg_put_datarow(t->out, (uint16_t)t->ncols, t->vals, t->lens) != 0) t->failed = 1;
    t->col = 0;
}

static int t_end(table *t)
{
    if (!t->failed && wb_pg_put_command_complete(t->out, "SHOW") != 0) t->failed = 1;
    return t->failed ? -1 : 0;
}

static const char *mode_name(int mode)
{
    switch (mode) {
    case WB_POOL_SESSION: return "session";
    case WB_POOL_TRANSACTION: return "transaction";
    case WB_POOL_STATEMENT: return "statement";
    default: return "unknown";
    }
}

/* PgBouncer's timestamps: "2026-11-22 06:59:49 UTC" */
static void t_time(table *t, int64_t unix_s)
{
    if (t->col >= t->ncols) return;
    char *s = t->num[t->col];
    time_t tt = (time_t)unix_s;
    struct tm tm;
    if (unix_s <= 0 || unix_s > 253402300799 /* 9999-12-31 */ || !gmtime_r(&tt, &tm) ||
        strftime(s, sizeof t->num[0], "%Y-%m-%d %H:%M:%S UTC", &tm) == 0) {
        t_text(t, NULL, 0);
        return;
    }
    t_text(t, s, sizeof t->num[0]);
}

#define FIELD(x) (x), sizeof(x) /* a char[N] field: at most N bytes */

/* ---------- SHOW ---------- */

static int show_pools(const wb_proxy_snapshot *sn, wb_buf *out)
{
    static const char *const names[] = {"database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle",
                                        "sv_used", "sv_tested", "sv_login", "maxwait", "maxwait_us",
                                        "pool_mode", "pool_size", "paused"};
    static const uint32_t oids[] = {OID_TEXT, OID_TEXT, OID_INT8, OID_INT8, OID_INT8, OID_INT8, OID_INT8,
                                    OID_INT8, OID_INT8, OID_INT8, OID_INT8, OID_TEXT, OID_INT8, OID_INT8};
    table t;
    t_begin(&t, out, 14, names, oids);
    for (int i = 0; i < sn->npools; i++) {
        const wb_proxy_pool_stats *p = &sn->pools[i];
        t_text(&t, FIELD(p->database));
        t_text(&t, FIELD(p->user));
        t_int(&t, p->cl_active);
        t_int(&t, p->cl_waiting);
        t_int(&t, p->sv_active);
        t_int(&t, p->sv_idle);
        t_int(&t, 0);
        t_int(&t, 0);
        t_int(&t, p->sv_login);
        t_uint(&t, p->maxwait_us / 1000000);
        t_uint(&t, p->maxwait_us % 1000000);
        t_text(&t, mode_name(p->pool_mode), 16);
        t_int(&t, p->pool_size);
        t_int(&t, p->paused ? 1 : 0);
        t_row(&t);
    }
    return t_end(&t);
}

static int show_clients(const wb_proxy_snapshot *sn, wb_buf *out)
{
    static const char *const names[] = {"type", "user", "database", "state", "addr", "port", "connect_time",
                                        "wait", "wait_us", "pid", "server_pid", "application_name", "prepared"};
    static const uint32_t oids[] = {OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8, OID_TEXT,
                                    OID_INT8, OID_INT8, OID_INT8, OID_INT8, OID_TEXT, OID_INT8};
    table t;
    t_begin(&t, out, 13, names, oids);
    for (int i = 0; i < sn->nclients; i++) {
        const wb_proxy_client_info *c = &sn->clients[i];
        int64_t w = c->wait_us < 0 ? 0 : c->wait_us;
        t_text(&t, "C", 1);
        t_text(&t, FIELD(c->user));
        t_text(&t, FIELD(c->database));
        t_text(&t, c->state ? c->state : "", 32);
        t_text(&t, FIELD(c->addr));
        t_int(&t, c->port);
        t_time(&t, c->connect_time_s);
        t_int(&t, w / 1000000);
        t_int(&t, w % 1000000);
        t_int(&t, c->pid);
        t_int(&t, c->server_pid);
        t_text(&t, FIELD(c->application_name));
        t_uint(&t, c->prepared);
        t_row(&t);
    }
    return t_end(&t);
}

static int show_servers(const wb_proxy_snapshot *sn, wb_buf *out)
{
    static const char *const names[] = {"type", "user", "database", "state", "addr", "port",
                                        "connect_time", "remote_pid", "client_pid", "tls", "prepared"};
    static const uint32_t oids[] = {OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8,
                                    OID_TEXT, OID_INT8, OID_INT8, OID_TEXT, OID_INT8};
    table t;
    t_begin(&t, out, 11, names, oids);
    for (int i = 0; i < sn->nservers; i++) {
        const wb_proxy_server_info *s = &sn->servers[i];
        t_text(&t, "S", 1);
        t_text(&t, FIELD(s->user));
        t_text(&t, FIELD(s->database));
        t_text(&t, s->state ? s->state : "", 32);
        t_text(&t, FIELD(s->addr));
        t_int(&t, s->port);
        t_time(&t, s->connect_time_s);
        t_int(&t, s->backend_pid);
        t_int(&t, s->client_pid);
        t_text(&t, s->tls ? "TLS" : "", 4);
        t_uint(&t, s->prepared);
        t_row(&t);
    }
    return t_end(&t);
}

/* the first pool index of each distinct database, in snapshot order */
static int first_of_database(const wb_proxy_snapshot *sn, int i)
{
    for (int j = 0; j < i; j++)
        if (strncmp(sn->pools[j].database, sn->pools[i].database, sizeof sn->pools[i].database) == 0) return 0;
    return 1;
}
static int same_database(const wb_proxy_pool_stats *a, const wb_proxy_pool_stats *b)
{
    return strncmp(a->database, b->database, sizeof a->database) == 0;
}

static uint64_t sat_add(uint64_t a, uint64_t b) { return a + b < a ? UINT64_MAX : a + b; }

enum { STATS_ALL, STATS_TOTALS, STATS_AVERAGES };

/* SHOW STATS (totals then averages), SHOW STATS_TOTALS, SHOW STATS_AVERAGES */
static int show_stats(const wb_proxy_snapshot *sn, wb_buf *out, int64_t now_s, int which)
{
    static const char *const all[] = {"database", "total_xact_count", "total_query_count", "total_received",
                                      "total_sent", "total_xact_time", "total_query_time", "total_wait_time",
                                      "avg_xact_count", "avg_query_count", "avg_recv", "avg_sent",
                                      "avg_xact_time", "avg_query_time", "avg_wait_time"};
    /* STATS_TOTALS and STATS_AVERAGES: the same figures, short names */
    static const char *const part[] = {"database", "xact_count", "query_count", "bytes_received",
                                       "bytes_sent", "xact_time", "query_time", "wait_time"};
    int ncols = which == STATS_ALL ? 15 : 8;
    uint32_t oids[15];
    oids[0] = OID_TEXT;
    for (int i = 1; i < 15; i++) oids[i] = OID_INT8;
    table t;
    t_begin(&t, out, ncols, which == STATS_ALL ? all : part, oids);
    /* seconds since start, at least 1 (a start time not in the past, or
     * unset, gives totals per 1 s rather than a division by zero) */
    uint64_t secs = sn->start_time_s > 0 && now_s > sn->start_time_s ? (uint64_t)(now_s - sn->start_time_s) : 1;
    for (int i = 0; i < sn->npools; i++) {
        if (!first_of_database(sn, i)) continue;
        uint64_t x = 0, q = 0, rx = 0, tx = 0, xt = 0, qt = 0, wt = 0;
        for (int j = i; j < sn->npools; j++) {
            const wb_proxy_pool_stats *p = &sn->pools[j];
            if (!same_database(p, &sn->pools[i])) continue;
            x = sat_add(x, p->xact_count);
            q = sat_add(q, p->query_count);
            rx = sat_add(rx, p->bytes_received);
            tx = sat_add(tx, p->bytes_sent);
            xt = sat_add(xt, p->xact_time_us);
            qt = sat_add(qt, p->query_time_us);
            wt = sat_add(wt, p->wait_time_us);
        }
        t_text(&t, FIELD(sn->pools[i].database));
        if (which != STATS_AVERAGES) {
            t_uint(&t, x);
            t_uint(&t, q);
            t_uint(&t, rx);
            t_uint(&t, tx);
            t_uint(&t, xt);
            t_uint(&t, qt);
            t_uint(&t, wt);
        }
        if (which != STATS_TOTALS) {
            t_uint(&t, x / secs);
            t_uint(&t, q / secs);
            t_uint(&t, rx / secs);
            t_uint(&t, tx / secs);
            t_uint(&t, x ? xt / x : 0);
            t_uint(&t, q ? qt / q : 0);
            t_uint(&t, wt / secs);
        }
        t_row(&t);
    }
    return t_end(&t);
}

/* SHOW LISTS: PgBouncer's list/items rows the proxy has figures for */
static int show_lists(const wb_proxy_snapshot *sn, wb_buf *out)
{
    static const char *const names[] = {"list", "items"};
    static const uint32_t oids[] = {OID_TEXT, OID_INT8};
    int64_t dbs = 0, users = 0;
    for (int i = 0; i < sn->npools; i++) {
        dbs += first_of_database(sn, i);
        int first = 1;
        for (int j = 0; j < i && first; j++)
            if (strncmp(sn->pools[j].user, sn->pools[i].user, sizeof sn->pools[i].user) == 0) first = 0;
        users += first;
    }
    table t;
    t_begin(&t, out, 2, names, oids);
    t_text(&t, "databases", 16);
    t_int(&t, dbs);
    t_row(&t);
    t_text(&t, "users", 16);
    t_int(&t, users);
    t_row(&t);
    t_text(&t, "pools", 16);
    t_int(&t, sn->npools);
    t_row(&t);
    t_text(&t, "used_clients", 16);
    t_int(&t, sn->nclients);
    t_row(&t);
    t_text(&t, "used_servers", 16);
    t_int(&t, sn->nservers);
    t_row(&t);
    return t_end(&t);
}

static int show_databases(const wb_proxy_snapshot *sn, wb_buf *out)
{
    static const char *const names[] = {"name", "upstream", "database", "pool_size", "min_pool_size", "pool_mode",
                                        "max_connections", "current_connections", "paused"};
    static const uint32_t oids[] = {OID_TEXT, OID_TEXT, OID_TEXT, OID_INT8, OID_INT8, OID_TEXT,
                                    OID_INT8, OID_INT8, OID_INT8};
    table t;
    t_begin(&t, out, 9, names, oids);
    for (int i = 0; i < sn->npools; i++) {
        if (!first_of_database(sn, i)) continue;
        int64_t conns = 0;
        int paused = 1;
        for (int j = i; j < sn->npools; j++) {
            const wb_proxy_pool_stats *p = &sn->pools[j];
            if (!same_database(p, &sn->pools[i])) continue;
            conns += (int64_t)p->sv_active + p->sv_idle + p->sv_login;
            if (!p->paused) paused = 0;
        }
        t_text(&t, FIELD(sn->pools[i].database));
        t_text(&t, sn->upstream, 4096);
        t_text(&t, FIELD(sn->pools[i].database));
        t_int(&t, sn->pool_size);
        t_int(&t, sn->min_pool_size);
        t_text(&t, mode_name(sn->pool_mode), 16);
        t_int(&t, sn->max_connections);
        t_int(&t, conns);
        t_int(&t, paused);
        t_row(&t);
    }
    return t_end(&t);
}

static int show_config(const wb_proxy_snapshot *sn, wb_buf *out)
{
    static const char *const names[] = {"key", "value", "default", "changeable"};
    static const uint32_t oids[] = {OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT};
    table t;
    t_begin(&t, out, 4, names, oids);
    /* the `wirebuf serve --upstream` flags (tools/serve.c) and their defaults */
    struct { const char *key; int value; const char *def; } ints[] = {
        {"pool_size", sn->pool_size, "20"},
        {"min_pool_size", sn->min_pool_size, "0"},
        {"max_connections", sn->max_connections, "100"},
        {"threads", sn->threads, "2"},
        {"server_idle_timeout", sn->server_idle_timeout_s, "600"},
        {"query_wait_timeout", sn->query_wait_timeout_s, "120"},
    };
    t_text(&t, "upstream", 16);
    t_text(&t, sn->upstream ? sn->upstream : "", 4096);
    t_text(&t, "", 1);
    t_text(&t, "no", 3);
    t_row(&t);
    t_text(&t, "pool_mode", 16);
    t_text(&t, mode_name(sn->pool_mode), 16);
    t_text(&t, "session", 16);
    t_text(&t, "no", 3);
    t_row(&t);
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        char v[24];
        snprintf(v, sizeof v, "%d", ints[i].value);
        t_text(&t, ints[i].key, 32);
        t_text(&t, v, sizeof v);
        t_text(&t, ints[i].def, 8);
        t_text(&t, "no", 3);
        t_row(&t);
    }
    return t_end(&t);
}

static int show_version(const wb_proxy_snapshot *sn, wb_buf *out)
{
    static const char *const names[] = {"version"};
    static const uint32_t oids[] = {OID_TEXT};
    table t;
    t_begin(&t, out, 1, names, oids);
    t_text(&t, sn->version ? sn->version : "wirebuf", 4096);
    t_row(&t);
    return t_end(&t);
}

static int show_help(wb_buf *out)
{
    wb_pg_fields f;
    memset(&f, 0, sizeof f);
    f.severity = "NOTICE";
    f.severity_nonlocal = "NOTICE";
    f.sqlstate = "00000";
    f.message = "Console usage";
    f.detail = "\n\tSHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|VERSION\n\tSHOW LISTS\n"
               "\tSHOW STATS|STATS_TOTALS|STATS_AVERAGES\n"
               "\tRELOAD\n\tPAUSE [<db>]\n\tRESUME [<db>]\n\tSHUTDOWN";
    if (wb_pg_put_fields(out, 'N', &f) != 0) return -1;
    return wb_pg_put_command_complete(out, "SHOW");
}

/* ---------- the console ---------- */

static int answer(const char *sql, size_t len, const wb_proxy_snapshot *sn, wb_buf *out, wb_console_request *req,
                  int64_t now_s)
{
    char msg[256];
    words ws;
    tokenize(sql, len, &ws);
    if (ws.bad) {
        snprintf(msg, sizeof msg, "syntax error at byte %zu of the console command", ws.bad_off);
        return error(out, "42601", msg, "Console commands: SHOW HELP;");
    }
    if (ws.n == 0) return wb_pg_put_empty(out, 'I');
    int cmd = WB_CONSOLE_NONE;
    int maxw = 1;
    if (word_is(&ws, 0, "SHOW")) {
        if (ws.n < 2) return error(out, "42601", "SHOW needs a subject", "Console commands: SHOW HELP;");
        if (ws.n > 2) return error(out, "42601", "syntax error: too many words after SHOW", "Console commands: SHOW HELP;");
        static const wb_proxy_snapshot empty = {0};
        if (!sn) sn = &empty;
        if (word_is(&ws, 1, "POOLS")) return show_pools(sn, out);
        if (word_is(&ws, 1, "CLIENTS")) return show_clients(sn, out);
        if (word_is(&ws, 1, "SERVERS")) return show_servers(sn, out);
        if (word_is(&ws, 1, "STATS")) return show_stats(sn, out, now_s, STATS_ALL);
        if (word_is(&ws, 1, "STATS_TOTALS")) return show_stats(sn, out, now_s, STATS_TOTALS);
        if (word_is(&ws, 1, "STATS_AVERAGES")) return show_stats(sn, out, now_s, STATS_AVERAGES);
        if (word_is(&ws, 1, "LISTS")) return show_lists(sn, out);
        if (word_is(&ws, 1, "DATABASES")) return show_databases(sn, out);
        if (word_is(&ws, 1, "CONFIG")) return show_config(sn, out);
        if (word_is(&ws, 1, "VERSION")) return show_version(sn, out);
        if (word_is(&ws, 1, "HELP")) return show_help(out);
        snprintf(msg, sizeof msg, "unknown console command: SHOW %.*s", (int)(ws.w[1].len > 64 ? 64 : ws.w[1].len),
                 ws.w[1].p);
        return error(out, "0A000", msg, "Console commands: SHOW HELP;");
    } else if (word_is(&ws, 0, "PAUSE")) {
        cmd = WB_CONSOLE_PAUSE;
        maxw = 2;
    } else if (word_is(&ws, 0, "RESUME")) {
        cmd = WB_CONSOLE_RESUME;
        maxw = 2;
    } else if (word_is(&ws, 0, "RELOAD")) {
        cmd = WB_CONSOLE_RELOAD;
    } else if (word_is(&ws, 0, "SHUTDOWN")) {
        cmd = WB_CONSOLE_SHUTDOWN;
    } else {
        snprintf(msg, sizeof msg, "unknown console command: %.*s", (int)(ws.w[0].len > 64 ? 64 : ws.w[0].len),
                 ws.w[0].p);
        return error(out, "0A000", msg, "Console commands: SHOW HELP;");
    }
    if (ws.n > maxw) {
        snprintf(msg, sizeof msg, "syntax error: %.*s takes %s", (int)ws.w[0].len, ws.w[0].p,
                 maxw == 2 ? "at most a database name" : "no argument");
        return error(out, "42601", msg, "Console commands: SHOW HELP;");
    }
    if (ws.n == 2) {
        if (ws.w[1].len >= sizeof req->database)
            return error(out, "42601", "database name longer than 63 bytes", NULL);
        /* as written (PgBouncer does not fold case); "quoted" for other bytes */
        memcpy(req->database, ws.w[1].p, ws.w[1].len);
        req->database[ws.w[1].len] = 0;
    }
    static const char *const tags[] = {"", "PAUSE", "RESUME", "RELOAD", "SHUTDOWN"};
    req->cmd = cmd;
    return wb_pg_put_command_complete(out, tags[cmd]);
}

int wb_console_query(const char *sql, size_t len, const wb_proxy_snapshot *snap, wb_buf *out,
                     wb_console_request *req)
{
    wb_console_request scratch;
    if (!req) req = &scratch;
    memset(req, 0, sizeof *req);
    size_t mark = out->len;
    if (answer(sql, len, snap, out, req, (int64_t)time(NULL)) != 0) {
        out->len = mark; /* out of memory: nothing half-written */
        memset(req, 0, sizeof *req);
        return -1;
    }
    return 0;
}

/* ---------- Prometheus text exposition format 0.0.4 ---------- */

/* Length of the well-formed UTF-8 sequence at s[0..n), 0 if there is none
 * (RFC 3629: no overlongs, no surrogates, nothing beyond U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t l = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
    if (!l || l > n) return 0;
    for (size_t i = 1; i < l; i++)
        if ((s[i] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0; /* overlong */
    if (c == 0xED && s[1] > 0x9F) return 0; /* surrogate */
    if (c == 0xF0 && s[1] < 0x90) return 0; /* overlong */
    if (c == 0xF4 && s[1] > 0x8F) return 0; /* > U+10FFFF */
    return l;
}

/* A label value: backslash, double-quote and line feed escaped; a byte
 * that is not UTF-8 (a client's database name in another encoding) shown
 * as U+FFFD, since one invalid label makes Prometheus reject the scrape. */
static int put_label(wb_buf *out, const char *str, size_t maxlen)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t l = str ? strnlen(str, maxlen) : 0;
    for (size_t i = 0; i < l;) {
        unsigned char c = s[i];
        const char *e = c == '\\' ? "\\\\" : c == '"' ? "\\\"" : c == '\n' ? "\\n" : NULL;
        if (e) {
            if (wb_buf_puts(out, e)) return -1;
            i++;
            continue;
        }
        size_t u = utf8_len(s + i, l - i);
        if (!u) {
            if (wb_buf_append(out, "\xEF\xBF\xBD", 3)) return -1;
            i++;
            continue;
        }
        if (wb_buf_append(out, s + i, u)) return -1;
        i += u;
    }
    return 0;
}

static int put_meta(wb_buf *out, const char *name, const char *type, const char *help)
{
    char line[512];
    int n = snprintf(line, sizeof line, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    return wb_buf_append(out, line, (size_t)n);
}

enum { U_COUNT, U_MICRO }; /* a value as is, or microseconds shown as seconds */

static int put_pool_metric(wb_buf *out, const wb_proxy_snapshot *sn, const char *name, const char *type,
                           const char *help, size_t field, int size, int unit)
{
    if (put_meta(out, name, type, help)) return -1;
    for (int i = 0; i < sn->npools; i++) {
        const wb_proxy_pool_stats *p = &sn->pools[i];
        const char *base = (const char *)p + field;
        uint64_t v;
        if (size == 4) {
            int iv;
            memcpy(&iv, base, sizeof iv);
            v = iv < 0 ? 0 : (uint64_t)iv;
        } else {
            memcpy(&v, base, sizeof v);
        }
        char num[48];
        if (unit == U_MICRO) snprintf(num, sizeof num, "%" PRIu64 ".%06" PRIu64, v / 1000000, v % 1000000);
        else snprintf(num, sizeof num, "%" PRIu64, v);
        if (wb_buf_puts(out, name) || wb_buf_puts(out, "{database=\"") || put_label(out, FIELD(p->database)) ||
            wb_buf_puts(out, "\",user=\"") || put_label(out, FIELD(p->user)) || wb_buf_puts(out, "\"} ") ||
            wb_buf_puts(out, num) || wb_buf_putc(out, '\n'))
            return -1;
    }
    return 0;
}

int wb_proxy_metrics(const wb_proxy_snapshot *snap, wb_buf *out)
{
    static const wb_proxy_snapshot empty = {0};
    const wb_proxy_snapshot *sn = snap ? snap : &empty;
    size_t mark = out->len;
#define P(name, type, help, field, unit)                                                                           \
    if (put_pool_metric(out, sn, "wirebuf_pool_" name, type, help, offsetof(wb_proxy_pool_stats, field),          \
                        (int)sizeof(((wb_proxy_pool_stats *)0)->field), unit))                                    \
        goto nomem;
    P("cl_active", "gauge", "Clients holding or not needing a server connection.", cl_active, U_COUNT)
    P("cl_waiting", "gauge", "Clients queued for a server connection.", cl_waiting, U_COUNT)
    P("sv_active", "gauge", "Server connections lent to a client.", sv_active, U_COUNT)
    P("sv_idle", "gauge", "Idle server connections ready for a client.", sv_idle, U_COUNT)
    P("sv_login", "gauge", "Server connections connecting or authenticating.", sv_login, U_COUNT)
    P("size", "gauge", "Most server connections the pool opens.", pool_size, U_COUNT)
    P("paused", "gauge", "1 while the pool is paused (PAUSE on the console).", paused, U_COUNT)
    P("maxwait_seconds", "gauge", "Longest current wait of a client for a server connection.", maxwait_us, U_MICRO)
    P("transactions_total", "counter", "Transactions relayed.", xact_count, U_COUNT)
    P("queries_total", "counter", "Queries relayed.", query_count, U_COUNT)
    P("received_bytes_total", "counter", "Bytes received from clients.", bytes_received, U_COUNT)
    P("sent_bytes_total", "counter", "Bytes sent to clients.", bytes_sent, U_COUNT)
    P("transaction_time_seconds_total", "counter", "Time spent in transactions.", xact_time_us, U_MICRO)
    P("query_time_seconds_total", "counter", "Time spent in queries.", query_time_us, U_MICRO)
    P("wait_time_seconds_total", "counter", "Time clients spent waiting for a server connection.", wait_time_us, U_MICRO)
    P("server_errors_total", "counter", "Server connections lost or refused.", server_errors, U_COUNT)
#undef P
    char line[128];
    if (put_meta(out, "wirebuf_clients", "gauge", "Client connections.")) goto nomem;
    snprintf(line, sizeof line, "wirebuf_clients %d\n", sn->nclients < 0 ? 0 : sn->nclients);
    if (wb_buf_puts(out, line)) goto nomem;
    if (put_meta(out, "wirebuf_servers", "gauge", "Server connections.")) goto nomem;
    snprintf(line, sizeof line, "wirebuf_servers %d\n", sn->nservers < 0 ? 0 : sn->nservers);
    if (wb_buf_puts(out, line)) goto nomem;
    if (put_meta(out, "wirebuf_start_time_seconds", "gauge", "When the proxy started, Unix seconds.")) goto nomem;
    snprintf(line, sizeof line, "wirebuf_start_time_seconds %" PRId64 "\n", sn->start_time_s);
    if (wb_buf_puts(out, line)) goto nomem;
    if (put_meta(out, "wirebuf_info", "gauge", "The proxy's version and pool mode.")) goto nomem;
    if (wb_buf_puts(out, "wirebuf_info{version=\"") || put_label(out, sn->version ? sn->version : "", 256) ||
        wb_buf_puts(out, "\",pool_mode=\"") || wb_buf_puts(out, mode_name(sn->pool_mode)) || wb_buf_puts(out, "\"} 1\n"))
        goto nomem;
    return 0;
nomem:
    out->len = mark;
    return -1;
}
