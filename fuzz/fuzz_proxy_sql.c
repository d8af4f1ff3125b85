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
 * keyword there must give 1 too. The input bytes also pick fragments
 * (quotes, escapes, comment marks, newlines, keywords) for a dense text of
 * the constructs that matter.
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

/* libpg_query's scanner, unlike PostgreSQL's, does not continue a string
 * across a "--" comment ('a' -- c<newline>'b' is one string to the server,
 * two to libpg_query, and a syntax error there: no string follows a string
 * in the grammar). The pre-check follows PostgreSQL; where libpg_query
 * shows two string constants in a row the scanner is no oracle. */
static int is_string_token(int t)
{
    return t == PG_QUERY__TOKEN__SCONST || t == PG_QUERY__TOKEN__USCONST || t == PG_QUERY__TOKEN__BCONST ||
           t == PG_QUERY__TOKEN__XCONST;
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
        int at_start = 1, expect = 0, prev = 0;
        for (size_t k = 0; sc && k < sc->n_tokens; k++) {
            const PgQuery__ScanToken *t = sc->tokens[k];
            if (t->token == PG_QUERY__TOKEN__SQL_COMMENT || t->token == PG_QUERY__TOKEN__C_COMMENT) continue;
            if (is_string_token(prev) && is_string_token(t->token)) { expect = 0; break; }
            prev = t->token;
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

/* Each input byte picks a fragment: dense text of the lexical constructs
 * that hide or show a statement start. */
static void check_fragments(const uint8_t *data, size_t size)
{
    static const char *const frag[] = {
        "'", "''", "E'", "e'", "\\", "\\'", "\"", "\"\"", "U&'", "U&\"", "u&", "B'", "X'", "N'", "$$", "$a$",
        "$b$", "$1", "$", "a$", "1", "1e", "--", "/*", "*/", "*", "/", "-", "\n", "\r", " ", "\t", "\f", "\v",
        ";", "SET a = 1", " BEGIN", "END", "PREPARE p AS SELECT 1", "EXECUTE p", "x", "e", "u", "&", "(", ")",
        "SELECT ", "ALL", "LOCAL",
    };
    size_t nf = sizeof frag / sizeof frag[0];
    char buf[4096];
    size_t n = 0;
    for (size_t i = 0; i < size; i++) {
        const char *f = frag[data[i] % nf];
        size_t l = strlen(f);
        if (n + l > sizeof buf) break;
        memcpy(buf + n, f, l);
        n += l;
    }
    char *s = malloc(n ? n : 1);
    if (!s) return;
    if (n) memcpy(s, buf, n);
    check_sql(s, n);
    check_scanner(s, n);
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

    /* the input as a database name in the Prometheus text: valid UTF-8,
     * every sample line "name{labels} value" with the value's digits last */
    memset(pools[0].database, 0, sizeof pools[0].database);
    memcpy(pools[0].database, q, size < sizeof pools[0].database ? size : sizeof pools[0].database);
    if (wb_proxy_metrics(&snap, &out) != 0) fail("metrics out of memory", q, size);
    for (size_t k = 0; k < out.len;) {
        unsigned char c = out.p[k];
        size_t l = c < 0x80 ? 1 : c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        if (!l || k + l > out.len) fail("metrics: not UTF-8", q, size);
        for (size_t m = 1; m < l; m++)
            if ((out.p[k + m] & 0xC0) != 0x80) fail("metrics: not UTF-8", q, size);
        k += l;
    }
    for (size_t k = 0; k < out.len;) {
        const uint8_t *nl = memchr(out.p + k, '\n', out.len - k);
        if (!nl) fail("metrics: a line without a newline", q, size);
        size_t e = (size_t)(nl - out.p);
        if (out.p[k] != '#' && (e == k || out.p[e - 1] < '0' || out.p[e - 1] > '9'))
            fail("metrics: a sample line not ending in a value", q, size);
        k = e + 1;
    }
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
    check_fragments(data, size);
    check_console(sql, size);
    free(sql);
    return 0;
}
