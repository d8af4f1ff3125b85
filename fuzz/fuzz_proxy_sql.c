/* fuzz/fuzz_proxy_sql.c - libFuzzer target for the pooling proxy's SQL
 * classifier (src/proxy/sql.h) and admin console (src/proxy/console.h).
 *
 * Any bytes as a simple Query's text through wb_psql_maybe_special and
 * wb_psql_analyse, as is and embedded (followed by ";SET a = 1", and as
 * "SELECT <input>;BEGIN"), so that the input's quoting decides whether the
 * statement after it is seen. Beyond "no crash, leak or out-of-bounds read"
 * (the text is copied into a block of exactly its size, not NUL-terminated)
 * it asserts the contract between the two: the pre-check says 1 whenever
 * the analysis finds a statement of a kind other than OTHER (a false
 * negative would let the proxy relay a PREPARE or a SET without its
 * bookkeeping), and every range lies inside its statement. A second oracle
 * needs only a successful scan, not a parse: libpg_query's own scanner
 * (pg_query_scan) says where statements start (after ';'), and a special
 * keyword there must give 1 too.
 *
 * The same bytes as a console command (wb_console_query on a small fixed
 * snapshot): the answer must be whole backend messages, one of them the
 * command's CommandComplete, an ErrorResponse or an EmptyQueryResponse. */
#include "console.h"
#include "relay.h"
#include "sql.h"
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static void fail(const char *what, const char *sql, size_t len)
{
    fprintf(stderr, "fuzz_proxy_sql: %s for %zu bytes: \"%.*s\"\n", what, len, (int)(len > 400 ? 400 : len), sql);
    abort();
}

static void check_sql(const char *sql, size_t size)
{
    int maybe = wb_psql_maybe_special(sql, size);
    if (maybe != 0 && maybe != 1) fail("maybe_special not 0/1", sql, size);
    wb_psql_stmt st[16];
    char err[128];
    int n = wb_psql_analyse(sql, size, st, 16, err, sizeof err);
    if (n < 0 && !err[0]) fail("error without a message", sql, size);
    for (int i = 0; i < n && i < 16; i++) {
        const wb_psql_stmt *s = &st[i];
        if (s->kind < WB_PSQL_OTHER || s->kind > WB_PSQL_TXN_END) fail("kind out of range", sql, size);
        if (s->kind != WB_PSQL_OTHER && !maybe) fail("pre-check false negative", sql, size);
        if (s->off > size || s->len > size - s->off) fail("statement range outside the text", sql, size);
        if (s->name_len && (s->name_off < s->off || s->name_off + s->name_len > s->off + s->len))
            fail("name range outside the statement", sql, size);
        if (memchr(s->name, 0, sizeof s->name) == NULL) fail("name not terminated", sql, size);
        if (s->kind == WB_PSQL_PREPARE && (s->body_off < s->off || s->body_off >= s->off + s->len))
            fail("PREPARE body outside the statement", sql, size);
        if (s->args_off && (s->args_off < s->off || s->args_off >= s->off + s->len || sql[s->args_off] != '('))
            fail("argument list not at a '('", sql, size);
    }
}

static int special(const char *w, size_t l)
{
    static const char *const kw[] = {"prepare", "execute", "deallocate", "discard", "listen",
                                     "unlisten", "set", "reset", "begin", "start",
                                     "commit", "end", "rollback", "abort"};
    for (size_t k = 0; k < sizeof kw / sizeof kw[0]; k++)
        if (strlen(kw[k]) == l && strncasecmp(w, kw[k], l) == 0) return 1;
    return 0;
}

static void check_scanner(const char *sql, size_t size)
{
    if (memchr(sql, 0, size)) return;
    char *text = malloc(size + 1);
    if (!text) return;
    memcpy(text, sql, size);
    text[size] = 0;
    PgQueryScanResult r = pg_query_scan(text);
    if (!r.error) {
        PgQuery__ScanResult *sc = pg_query__scan_result__unpack(NULL, r.pbuf.len, (const uint8_t *)r.pbuf.data);
        int at_start = 1, expect = 0;
        for (size_t k = 0; sc && k < sc->n_tokens && !expect; k++) {
            const PgQuery__ScanToken *t = sc->tokens[k];
            if (t->token == PG_QUERY__TOKEN__SQL_COMMENT || t->token == PG_QUERY__TOKEN__C_COMMENT) continue;
            if (t->token == PG_QUERY__TOKEN__ASCII_59) { at_start = 1; continue; }
            if (at_start && t->start >= 0 && t->end > t->start && (size_t)t->end <= size &&
                special(text + t->start, (size_t)(t->end - t->start)))
                expect = 1;
            at_start = 0;
        }
        if (sc) pg_query__scan_result__free_unpacked(sc, NULL);
        if (expect && !wb_psql_maybe_special(sql, size)) fail("pre-check false negative (scanner)", sql, size);
    }
    pg_query_free_scan_result(r);
    free(text);
}

static void check_embedded(const uint8_t *data, size_t size, const char *pre, const char *post)
{
    size_t a = strlen(pre), b = strlen(post);
    char *s = malloc(a + size + b);
    if (!s) return;
    memcpy(s, pre, a);
    if (size) memcpy(s + a, data, size);
    memcpy(s + a + size, post, b);
    check_sql(s, a + size + b);
    check_scanner(s, a + size + b);
    free(s);
}

static void check_console(const char *q, size_t size)
{
    static wb_proxy_pool_stats pools[2];
    static wb_proxy_client_info clients[1];
    static wb_proxy_server_info servers[1];
    strcpy(pools[0].database, "db");
    strcpy(pools[0].user, "u\"\\\n");
    pools[0].xact_count = UINT64_MAX;
    memset(pools[1].database, 'x', sizeof pools[1].database); /* no NUL */
    memset(clients[0].user, 'y', sizeof clients[0].user);
    clients[0].state = "active";
    clients[0].connect_time_s = INT64_MAX;
    servers[0].connect_time_s = -5;
    wb_proxy_snapshot snap;
    memset(&snap, 0, sizeof snap);
    snap.pools = pools;
    snap.npools = 2;
    snap.clients = clients;
    snap.nclients = 1;
    snap.servers = servers;
    snap.nservers = 1;
    snap.upstream = "host=x";
    snap.start_time_s = INT64_MIN;
    wb_buf out = {0};
    wb_console_request req;
    int need = wb_console_needs_snapshot(q, size);
    if (wb_console_query(q, size, need ? &snap : NULL, &out, &req) != 0) fail("console out of memory", q, size);
    size_t i = 0;
    int final = 0;
    while (i < out.len) {
        if (out.len - i < 5) fail("console: a partial message", q, size);
        uint32_t l = (uint32_t)out.p[i + 1] << 24 | (uint32_t)out.p[i + 2] << 16 | (uint32_t)out.p[i + 3] << 8 | out.p[i + 4];
        if (l < 4 || l > out.len - i - 1) fail("console: a bad message length", q, size);
        if (out.p[i] == 'C' || out.p[i] == 'E' || out.p[i] == 'I') final++;
        i += 1 + l;
    }
    if (final != 1) fail("console: not exactly one CommandComplete/ErrorResponse/EmptyQueryResponse", q, size);
    if (req.cmd < WB_CONSOLE_NONE || req.cmd > WB_CONSOLE_SHUTDOWN || !memchr(req.database, 0, sizeof req.database))
        fail("console: bad request", q, size);
    wb_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sql = malloc(size ? size : 1);
    if (!sql) return 0;
    if (size) memcpy(sql, data, size);
    check_sql(sql, size);
    check_scanner(sql, size);
    check_embedded(data, size, "", "\n;SET a = 1");
    check_embedded(data, size, "SELECT ", ";BEGIN");
    check_console(sql, size);
    free(sql);
    return 0;
}
