/* tests/test_proxy_console.c - src/proxy/console.h: the admin console's
 * answers decoded message by message (RowDescription column names and type
 * OIDs, DataRow values, CommandComplete tags, ErrorResponse SQLSTATEs, the
 * request handed to the plumbing) for a fixed snapshot, and the Prometheus
 * text exposition of the same snapshot. */
#include "check.h"
#include "console.h"
#include "relay.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a decoder for the backend messages the console sends ---- */

typedef struct reply {
    int ncols;
    char cols[32][64];
    uint32_t oids[32];
    int nrows;
    char cells[16][32][256]; /* rows x columns, "\\N" for NULL */
    char tag[64];
    char sqlstate[6];
    char message[256];
    char notice_detail[512];
    int empty;       /* EmptyQueryResponse */
    int nmsgs;
    int malformed;
} reply;

static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static reply *decode(const wb_buf *b)
{
    reply *r = calloc(1, sizeof *r);
    size_t i = 0;
    while (i < b->len) {
        if (b->len - i < 5) { r->malformed = 1; break; }
        uint8_t type = b->p[i];
        uint32_t len = be32(b->p + i + 1);
        if (len < 4 || len > b->len - i - 1) { r->malformed = 1; break; }
        const uint8_t *m = b->p + i + 5;
        size_t ml = len - 4;
        r->nmsgs++;
        if (type == 'T') {
            r->ncols = be16(m);
            size_t k = 2;
            for (int c = 0; c < r->ncols && c < 32; c++) {
                size_t nl = strnlen((const char *)m + k, ml - k);
                snprintf(r->cols[c], sizeof r->cols[c], "%.*s", (int)nl, m + k);
                k += nl + 1;
                r->oids[c] = be32(m + k + 6);
                k += 18;
            }
            if (k != ml) r->malformed = 1;
        } else if (type == 'D') {
            int n = be16(m);
            if (n != r->ncols) r->malformed = 1;
            size_t k = 2;
            for (int c = 0; c < n && c < 32; c++) {
                int32_t l = (int32_t)be32(m + k);
                k += 4;
                if (r->nrows < 16) {
                    if (l < 0) strcpy(r->cells[r->nrows][c], "\\N");
                    else snprintf(r->cells[r->nrows][c], 256, "%.*s", (int)l, m + k);
                }
                if (l > 0) k += (size_t)l;
            }
            if (k != ml) r->malformed = 1;
            r->nrows++;
        } else if (type == 'C') {
            snprintf(r->tag, sizeof r->tag, "%s", (const char *)m);
        } else if (type == 'E' || type == 'N') {
            size_t k = 0;
            while (k < ml && m[k]) {
                uint8_t f = m[k++];
                const char *v = (const char *)m + k;
                if (type == 'E' && f == 'C') snprintf(r->sqlstate, sizeof r->sqlstate, "%s", v);
                if (type == 'E' && f == 'M') snprintf(r->message, sizeof r->message, "%s", v);
                if (type == 'N' && f == 'D') snprintf(r->notice_detail, sizeof r->notice_detail, "%s", v);
                k += strlen(v) + 1;
            }
        } else if (type == 'I') {
            r->empty = 1;
        } else {
            r->malformed = 1;
        }
        i += 1 + len;
    }
    return r;
}

static int col(const reply *r, const char *name)
{
    for (int c = 0; c < r->ncols; c++)
        if (!strcmp(r->cols[c], name)) return c;
    return -1;
}
static const char *cell(const reply *r, int row, const char *name)
{
    int c = col(r, name);
    return c < 0 || row >= r->nrows ? "(none)" : r->cells[row][c];
}

/* ---- the fixed snapshot ---- */

static wb_proxy_pool_stats pools[3];
static wb_proxy_client_info clients[2];
static wb_proxy_server_info servers[2];
static wb_proxy_snapshot snap;

static void setup(void)
{
    memset(pools, 0, sizeof pools);
    strcpy(pools[0].database, "app");
    strcpy(pools[0].user, "alice");
    pools[0].pool_mode = WB_POOL_TRANSACTION;
    pools[0].cl_active = 5;
    pools[0].cl_waiting = 2;
    pools[0].sv_active = 3;
    pools[0].sv_idle = 1;
    pools[0].sv_login = 1;
    pools[0].pool_size = 8;
    pools[0].maxwait_us = 2500000;
    pools[0].xact_count = 1000;
    pools[0].query_count = 3000;
    pools[0].bytes_received = 100000;
    pools[0].bytes_sent = 400000;
    pools[0].xact_time_us = 2000000;
    pools[0].query_time_us = 1500000;
    pools[0].wait_time_us = 50000;
    pools[0].server_errors = 1;
    strcpy(pools[1].database, "app");
    strcpy(pools[1].user, "bob");
    pools[1].pool_mode = WB_POOL_TRANSACTION;
    pools[1].paused = 1;
    pools[1].sv_idle = 2;
    pools[1].pool_size = 8;
    pools[1].xact_count = 200;
    pools[1].query_count = 200;
    pools[1].xact_time_us = 1000000;
    /* a database name that needs escaping in a label, 64 bytes without a NUL */
    strcpy(pools[2].database, "we\"ird\\db\nx");
    memset(pools[2].user, 'u', sizeof pools[2].user);
    pools[2].pool_mode = WB_POOL_SESSION;
    pools[2].xact_count = UINT64_MAX; /* beyond int8 */

    memset(clients, 0, sizeof clients);
    strcpy(clients[0].database, "app");
    strcpy(clients[0].user, "alice");
    strcpy(clients[0].application_name, "pgbench");
    strcpy(clients[0].addr, "127.0.0.1");
    clients[0].port = 50123;
    clients[0].pid = 17;
    clients[0].state = "waiting";
    clients[0].connect_time_s = 1700000000; /* 2023-11-14 22:13:20 UTC */
    clients[0].wait_us = 1250000;
    clients[0].prepared = 4;
    strcpy(clients[1].database, "app");
    strcpy(clients[1].user, "bob");
    strcpy(clients[1].addr, "unix");
    clients[1].state = "active";
    clients[1].server_pid = 4242;

    memset(servers, 0, sizeof servers);
    strcpy(servers[0].database, "app");
    strcpy(servers[0].user, "bob");
    strcpy(servers[0].addr, "10.0.0.5");
    servers[0].port = 5432;
    servers[0].backend_pid = 4242;
    servers[0].state = "active";
    servers[0].tls = 1;
    servers[0].connect_time_s = 1700000000;
    servers[0].client_pid = 2;
    servers[0].prepared = 9;
    strcpy(servers[1].database, "app");
    strcpy(servers[1].user, "alice");
    servers[1].state = "idle";

    memset(&snap, 0, sizeof snap);
    snap.pools = pools;
    snap.npools = 3;
    snap.clients = clients;
    snap.nclients = 2;
    snap.servers = servers;
    snap.nservers = 2;
    snap.upstream = "host=10.0.0.5 port=5432 sslmode=require";
    snap.pool_mode = WB_POOL_TRANSACTION;
    snap.pool_size = 8;
    snap.min_pool_size = 1;
    snap.max_connections = 1000;
    snap.threads = 4;
    snap.server_idle_timeout_s = 600;
    snap.query_wait_timeout_s = 30;
    snap.start_time_s = 1000; /* long ago: averages over a long time */
    snap.version = "wirebuf 0.9";
}

static reply *run(const char *q, const wb_proxy_snapshot *sn, wb_console_request *req)
{
    wb_buf b = {0};
    wb_console_request scratch;
    CHECK(wb_console_query(q, strlen(q), sn, &b, req ? req : &scratch) == 0);
    reply *r = decode(&b);
    CHECK(!r->malformed);
    wb_buf_free(&b);
    return r;
}

static void names_are(const reply *r, const char *const *want, int n)
{
    CHECK(r->ncols == n);
    for (int i = 0; i < n && i < r->ncols; i++) {
        if (strcmp(r->cols[i], want[i])) fprintf(stderr, "column %d is %s, want %s\n", i, r->cols[i], want[i]);
        CHECK(!strcmp(r->cols[i], want[i]));
        CHECK(r->oids[i] == 20 || r->oids[i] == 25);
    }
}

static void test_show(void)
{
    reply *r = run("SHOW POOLS", &snap, NULL);
    static const char *const pool_cols[] = {"database", "user", "cl_active", "cl_waiting", "sv_active", "sv_idle",
                                            "sv_used", "sv_tested", "sv_login", "maxwait", "maxwait_us",
                                            "pool_mode", "pool_size", "paused"};
    names_are(r, pool_cols, 14);
    CHECK(r->nrows == 3 && !strcmp(r->tag, "SHOW"));
    CHECK(!strcmp(cell(r, 0, "database"), "app") && !strcmp(cell(r, 0, "user"), "alice"));
    CHECK(!strcmp(cell(r, 0, "cl_active"), "5") && !strcmp(cell(r, 0, "cl_waiting"), "2"));
    CHECK(!strcmp(cell(r, 0, "sv_active"), "3") && !strcmp(cell(r, 0, "sv_idle"), "1"));
    CHECK(!strcmp(cell(r, 0, "sv_login"), "1"));
    CHECK(!strcmp(cell(r, 0, "maxwait"), "2") && !strcmp(cell(r, 0, "maxwait_us"), "500000"));
    CHECK(!strcmp(cell(r, 0, "pool_mode"), "transaction") && !strcmp(cell(r, 2, "pool_mode"), "session"));
    CHECK(!strcmp(cell(r, 1, "paused"), "1") && !strcmp(cell(r, 0, "paused"), "0"));
    CHECK(r->oids[col(r, "cl_active")] == 20 && r->oids[col(r, "database")] == 25);
    CHECK(strlen(cell(r, 2, "user")) == 64); /* a full char[64] without a NUL: 64 bytes, no more */
    free(r);

    /* case-insensitive, a trailing ';', whitespace */
    r = run("  show\tclients ;\n", &snap, NULL);
    static const char *const client_cols[] = {"type", "user", "database", "state", "addr", "port", "connect_time",
                                              "wait", "wait_us", "pid", "server_pid", "application_name", "prepared"};
    names_are(r, client_cols, 13);
    CHECK(r->nrows == 2);
    CHECK(!strcmp(cell(r, 0, "type"), "C") && !strcmp(cell(r, 0, "state"), "waiting"));
    CHECK(!strcmp(cell(r, 0, "connect_time"), "2023-11-14 22:13:20 UTC"));
    CHECK(!strcmp(cell(r, 0, "wait"), "1") && !strcmp(cell(r, 0, "wait_us"), "250000"));
    CHECK(!strcmp(cell(r, 0, "port"), "50123") && !strcmp(cell(r, 0, "pid"), "17"));
    CHECK(!strcmp(cell(r, 0, "application_name"), "pgbench") && !strcmp(cell(r, 0, "prepared"), "4"));
    CHECK(!strcmp(cell(r, 1, "server_pid"), "4242") && !strcmp(cell(r, 1, "connect_time"), "\\N"));
    free(r);

    r = run("SHOW SERVERS", &snap, NULL);
    static const char *const server_cols[] = {"type", "user", "database", "state", "addr", "port",
                                              "connect_time", "remote_pid", "client_pid", "tls", "prepared"};
    names_are(r, server_cols, 11);
    CHECK(r->nrows == 2);
    CHECK(!strcmp(cell(r, 0, "type"), "S") && !strcmp(cell(r, 0, "remote_pid"), "4242"));
    CHECK(!strcmp(cell(r, 0, "tls"), "TLS") && !strcmp(cell(r, 1, "tls"), ""));
    CHECK(!strcmp(cell(r, 0, "client_pid"), "2") && !strcmp(cell(r, 0, "prepared"), "9"));
    CHECK(!strcmp(cell(r, 1, "state"), "idle"));
    free(r);

    /* STATS: per database, the two "app" pools summed */
    r = run("SHOW STATS", &snap, NULL);
    static const char *const stats_cols[] = {"database", "total_xact_count", "total_query_count", "total_received",
                                             "total_sent", "total_xact_time", "total_query_time", "total_wait_time",
                                             "avg_xact_count", "avg_query_count", "avg_recv", "avg_sent",
                                             "avg_xact_time", "avg_query_time", "avg_wait_time"};
    names_are(r, stats_cols, 15);
    CHECK(r->nrows == 2);
    CHECK(!strcmp(cell(r, 0, "database"), "app"));
    CHECK(!strcmp(cell(r, 0, "total_xact_count"), "1200") && !strcmp(cell(r, 0, "total_query_count"), "3200"));
    CHECK(!strcmp(cell(r, 0, "total_received"), "100000") && !strcmp(cell(r, 0, "total_sent"), "400000"));
    CHECK(!strcmp(cell(r, 0, "total_xact_time"), "3000000"));
    CHECK(!strcmp(cell(r, 0, "avg_xact_time"), "2500"));  /* 3 s / 1200 */
    CHECK(!strcmp(cell(r, 0, "avg_query_time"), "468")); /* 1.5 s / 3200 */
    CHECK(!strcmp(cell(r, 1, "total_xact_count"), "9223372036854775807"));
    free(r);

    r = run("SHOW STATS_TOTALS", &snap, NULL);
    static const char *const tot_cols[] = {"database", "xact_count", "query_count", "bytes_received",
                                           "bytes_sent", "xact_time", "query_time", "wait_time"};
    names_are(r, tot_cols, 8);
    CHECK(r->nrows == 2 && !strcmp(cell(r, 0, "xact_count"), "1200") && !strcmp(cell(r, 0, "wait_time"), "50000"));
    free(r);
    r = run("show stats_averages", &snap, NULL);
    names_are(r, tot_cols, 8);
    CHECK(r->nrows == 2 && !strcmp(cell(r, 0, "xact_time"), "2500") && !strcmp(cell(r, 0, "query_time"), "468"));
    free(r);
    r = run("SHOW LISTS", &snap, NULL);
    CHECK(r->ncols == 2 && !strcmp(r->cols[0], "list") && !strcmp(r->cols[1], "items") && r->nrows == 5);
    CHECK(!strcmp(r->cells[0][0], "databases") && !strcmp(r->cells[0][1], "2"));
    CHECK(!strcmp(r->cells[1][0], "users") && !strcmp(r->cells[1][1], "3"));
    CHECK(!strcmp(r->cells[2][0], "pools") && !strcmp(r->cells[2][1], "3"));
    CHECK(!strcmp(r->cells[3][0], "used_clients") && !strcmp(r->cells[3][1], "2"));
    free(r);

    /* a start time not in the past (or INT64_MIN: a fuzz finding, signed
     * overflow): averages over 1 s, no overflow */
    wb_proxy_snapshot odd = snap;
    odd.start_time_s = INT64_MIN;
    r = run("SHOW STATS", &odd, NULL);
    CHECK(!strcmp(cell(r, 0, "avg_xact_count"), "1200"));
    free(r);
    odd.start_time_s = INT64_MAX;
    r = run("SHOW STATS", &odd, NULL);
    CHECK(!strcmp(cell(r, 0, "avg_query_count"), "3200"));
    free(r);

    r = run("SHOW DATABASES", &snap, NULL);
    static const char *const db_cols[] = {"name", "upstream", "database", "pool_size", "min_pool_size", "pool_mode",
                                          "max_connections", "current_connections", "paused"};
    names_are(r, db_cols, 9);
    CHECK(r->nrows == 2);
    CHECK(!strcmp(cell(r, 0, "name"), "app") && !strcmp(cell(r, 0, "current_connections"), "7"));
    CHECK(!strcmp(cell(r, 0, "paused"), "0")); /* one of its pools is paused, not all */
    CHECK(!strcmp(cell(r, 0, "upstream"), snap.upstream));
    CHECK(!strcmp(cell(r, 0, "max_connections"), "1000"));
    free(r);

    r = run("SHOW CONFIG", &snap, NULL);
    static const char *const cfg_cols[] = {"key", "value", "default", "changeable"};
    names_are(r, cfg_cols, 4);
    int found = 0;
    for (int i = 0; i < r->nrows; i++) {
        if (!strcmp(r->cells[i][0], "query_wait_timeout")) {
            found++;
            CHECK(!strcmp(r->cells[i][1], "30") && !strcmp(r->cells[i][2], "120"));
        }
        if (!strcmp(r->cells[i][0], "pool_mode")) {
            found++;
            CHECK(!strcmp(r->cells[i][1], "transaction"));
        }
    }
    CHECK(found == 2);
    free(r);

    r = run("SHOW VERSION", &snap, NULL);
    CHECK(r->ncols == 1 && !strcmp(r->cols[0], "version") && r->nrows == 1 && !strcmp(r->cells[0][0], "wirebuf 0.9"));
    free(r);

    r = run("SHOW HELP", NULL, NULL);
    CHECK(strstr(r->notice_detail, "SHOW HELP|CONFIG") != NULL && !strcmp(r->tag, "SHOW") && r->ncols == 0);
    free(r);

    /* no snapshot: empty tables, nothing crashes */
    r = run("SHOW POOLS", NULL, NULL);
    CHECK(r->ncols == 14 && r->nrows == 0 && !strcmp(r->tag, "SHOW"));
    free(r);
    r = run("SHOW CONFIG", NULL, NULL);
    CHECK(r->nrows >= 2);
    free(r);
}

static void test_commands(void)
{
    wb_console_request req;
    reply *r = run("PAUSE", NULL, &req);
    CHECK(req.cmd == WB_CONSOLE_PAUSE && req.database[0] == 0 && !strcmp(r->tag, "PAUSE") && r->nmsgs == 1);
    free(r);
    r = run("pause app;", NULL, &req);
    CHECK(req.cmd == WB_CONSOLE_PAUSE && !strcmp(req.database, "app"));
    free(r);
    r = run("RESUME \"My DB\"", NULL, &req);
    CHECK(req.cmd == WB_CONSOLE_RESUME && !strcmp(req.database, "My DB") && !strcmp(r->tag, "RESUME"));
    free(r);
    r = run("Reload", NULL, &req);
    CHECK(req.cmd == WB_CONSOLE_RELOAD && !strcmp(r->tag, "RELOAD"));
    free(r);
    r = run("SHUTDOWN;", NULL, &req);
    CHECK(req.cmd == WB_CONSOLE_SHUTDOWN && !strcmp(r->tag, "SHUTDOWN"));
    free(r);
    r = run("SHOW POOLS", &snap, &req);
    CHECK(req.cmd == WB_CONSOLE_NONE);
    free(r);

    /* errors: the SQLSTATE, no request, nothing else sent */
    struct { const char *q; const char *state; } bad[] = {
        {"SELECT 1", "0A000"}, {"SHOW FOO", "0A000"}, {"KILL app", "0A000"},
        {"SHOW", "42601"}, {"SHOW POOLS extra", "42601"}, {"RELOAD now", "42601"},
        {"PAUSE a b", "42601"}, {"SHOW POOLS; SHOW CLIENTS", "42601"}, {"SHOW POOLS;;", "42601"},
        {"PAUSE 'app'", "42601"}, {"PAUSE \"\"", "42601"}, {"PAUSE \"open", "42601"},
        {"SHOW (POOLS)", "42601"},
        {"PAUSE aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "42601"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = run(bad[i].q, &snap, &req);
        if (strcmp(r->sqlstate, bad[i].state)) fprintf(stderr, "%s: SQLSTATE %s, want %s\n", bad[i].q, r->sqlstate, bad[i].state);
        CHECK(!strcmp(r->sqlstate, bad[i].state));
        CHECK(req.cmd == WB_CONSOLE_NONE && r->nmsgs == 1 && r->message[0]);
        free(r);
    }
    /* empty: EmptyQueryResponse, as PostgreSQL */
    r = run("", NULL, &req);
    CHECK(r->empty && r->nmsgs == 1);
    free(r);
    r = run(" ; ", NULL, &req);
    CHECK(r->empty && r->nmsgs == 1);
    free(r);

    CHECK(wb_console_needs_snapshot("show pools", 10) == 1);
    CHECK(wb_console_needs_snapshot(" SHOW VERSION;", 14) == 1);
    CHECK(wb_console_needs_snapshot("PAUSE", 5) == 0);
    CHECK(wb_console_needs_snapshot("SHOWX", 5) == 0);
    CHECK(wb_console_needs_snapshot("SHOW POOLS", 4) == 1); /* only len bytes: "SHOW" */
    CHECK(wb_console_needs_snapshot("", 0) == 0);

    /* appends after what out holds */
    wb_buf b = {0};
    wb_buf_puts(&b, "xyz");
    CHECK(wb_console_query("RELOAD", 6, NULL, &b, &req) == 0);
    CHECK(b.len > 3 && !memcmp(b.p, "xyz", 3) && b.p[3] == 'C');
    wb_buf_free(&b);
}

static void test_metrics(void)
{
    wb_buf b = {0};
    CHECK(wb_proxy_metrics(&snap, &b) == 0);
    CHECK(wb_buf_putc(&b, 0) == 0);
    const char *t = (const char *)b.p;
    CHECK(strstr(t, "# HELP wirebuf_pool_cl_active ") != NULL);
    CHECK(strstr(t, "# TYPE wirebuf_pool_cl_active gauge\n") != NULL);
    CHECK(strstr(t, "# TYPE wirebuf_pool_transactions_total counter\n") != NULL);
    CHECK(strstr(t, "wirebuf_pool_cl_active{database=\"app\",user=\"alice\"} 5\n") != NULL);
    CHECK(strstr(t, "wirebuf_pool_cl_waiting{database=\"app\",user=\"alice\"} 2\n") != NULL);
    CHECK(strstr(t, "wirebuf_pool_maxwait_seconds{database=\"app\",user=\"alice\"} 2.500000\n") != NULL);
    CHECK(strstr(t, "wirebuf_pool_transactions_total{database=\"app\",user=\"bob\"} 200\n") != NULL);
    CHECK(strstr(t, "wirebuf_pool_received_bytes_total{database=\"app\",user=\"alice\"} 100000\n") != NULL);
    CHECK(strstr(t, "wirebuf_pool_query_time_seconds_total{database=\"app\",user=\"alice\"} 1.500000\n") != NULL);
    CHECK(strstr(t, "wirebuf_pool_paused{database=\"app\",user=\"bob\"} 1\n") != NULL);
    CHECK(strstr(t, "wirebuf_pool_server_errors_total{database=\"app\",user=\"alice\"} 1\n") != NULL);
    CHECK(strstr(t, "wirebuf_pool_transactions_total{database=\"we\\\"ird\\\\db\\nx\",user=\"uuuu") != NULL);
    CHECK(strstr(t, "18446744073709551615\n") != NULL); /* counters are unsigned 64-bit */
    CHECK(strstr(t, "\nwirebuf_clients 2\n") != NULL && strstr(t, "\nwirebuf_servers 2\n") != NULL);
    CHECK(strstr(t, "wirebuf_info{version=\"wirebuf 0.9\",pool_mode=\"transaction\"} 1\n") != NULL);
    /* every line: a comment, or name{labels} value with no raw newline in a label */
    int lines = 0, bad = 0;
    for (const char *p = t; *p;) {
        const char *e = strchr(p, '\n');
        if (!e) { bad++; break; }
        lines++;
        if (*p != '#') {
            const char *sp = memchr(p, ' ', (size_t)(e - p));
            if (!sp || sp == p || !(sp[1] >= '0' && sp[1] <= '9')) bad++;
        }
        p = e + 1;
    }
    CHECK(bad == 0 && lines > 50);
    wb_buf_free(&b);
    /* label values are UTF-8: a LATIN1 byte becomes U+FFFD, UTF-8 stays */
    wb_proxy_pool_stats enc[1];
    memset(enc, 0, sizeof enc);
    strcpy(enc[0].database, "caf\xe9");
    strcpy(enc[0].user, "caf\xc3\xa9\xed\xa0\x80"); /* é, then a surrogate */
    wb_proxy_snapshot es;
    memset(&es, 0, sizeof es);
    es.pools = enc;
    es.npools = 1;
    CHECK(wb_proxy_metrics(&es, &b) == 0);
    CHECK(wb_buf_putc(&b, 0) == 0);
    CHECK(strstr((const char *)b.p, "{database=\"caf\xef\xbf\xbd\",user=\"caf\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\"} ") != NULL);
    wb_buf_free(&b);
    /* NULL snapshot: the HELP/TYPE lines and zero totals */
    CHECK(wb_proxy_metrics(NULL, &b) == 0);
    CHECK(wb_buf_putc(&b, 0) == 0);
    CHECK(strstr((const char *)b.p, "\nwirebuf_clients 0\n") != NULL);
    wb_buf_free(&b);
}

int main(void)
{
    setup();
    test_show();
    test_commands();
    test_metrics();
    return check_report("test_proxy_console");
}
