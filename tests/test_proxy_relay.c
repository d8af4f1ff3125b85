/* tests/test_proxy_relay.c - the pooling proxy's relay state machine
 * (src/proxy/relay.h) driven with byte fixtures: frontend messages built
 * with wb_pg_put_* go in as the client sent them, backend messages as the
 * server would answer; what the relay appends for the server and for the
 * client is decoded and compared with what PostgreSQL's protocol requires.
 *
 * White box: relay.c is included so that the tests can reach the server's
 * statement set (a forced hash collision) and the server-side names. */
#include "../src/proxy/relay.c"
#include "check.h"
#include <stdarg.h>

/* ---- decoding what the relay wrote ---- */

/* One line per buffer: the messages, space-separated, with the fields that
 * matter. to_server bytes are frontend messages, to_client backend ones. */
static const char *sum(const wb_buf *b, int from_backend)
{
    static char out[2][8192];
    static int which;
    char *o = out[which ^= 1];
    size_t n = 0;
    o[0] = 0;
    size_t pos = 0;
    while (pos < b->len) {
        wb_pg_msg m;
        size_t need;
        char err[200];
        if (wb_pg_frame(b->p + pos, b->len - pos, 0, &m, &need, err, sizeof err) != 1) {
            snprintf(o + n, sizeof out[0] - n, "%s<junk>", n ? " " : "");
            return o;
        }
        pos += 5 + m.len;
        char f[1200] = "";
        const char *s1, *s2;
        char kind;
        if (!from_backend) {
            switch (m.type) {
            case 'Q':
                wb_pg_parse_string(&m, &s1, NULL, 0);
                snprintf(f, sizeof f, "Q[%s]", s1);
                break;
            case 'P': {
                uint16_t nt;
                const uint8_t *ty;
                wb_pg_parse_parse(&m, &s1, &s2, &nt, &ty, NULL, 0);
                snprintf(f, sizeof f, "P[%s|%s|%u]", s1, s2, nt);
                break;
            }
            case 'B': {
                wb_pg_bind bd;
                if (wb_pg_parse_bind(&m, &bd, NULL, 0) == 0)
                    snprintf(f, sizeof f, "B[%s|%s|%u]", bd.portal, bd.statement, bd.nparams);
                else
                    snprintf(f, sizeof f, "B<bad>");
                break;
            }
            case 'D':
            case 'C':
                wb_pg_parse_close_describe(&m, &kind, &s1, NULL, 0);
                snprintf(f, sizeof f, "%c[%c%s]", m.type, kind, s1);
                break;
            case 'E': {
                int32_t mr;
                wb_pg_parse_execute(&m, &s1, &mr, NULL, 0);
                snprintf(f, sizeof f, "E[%s]", s1);
                break;
            }
            default:
                snprintf(f, sizeof f, "%c", m.type);
            }
        } else {
            switch (m.type) {
            case 'C':
                wb_pg_parse_command_complete(&m, &s1, NULL, 0);
                snprintf(f, sizeof f, "C[%s]", s1);
                break;
            case 'Z':
                wb_pg_parse_ready_for_query(&m, &kind, NULL, 0);
                snprintf(f, sizeof f, "Z%c", kind);
                break;
            case 'E':
            case 'N': {
                wb_pg_fields fl;
                wb_pg_parse_fields(&m, &fl, NULL, 0);
                snprintf(f, sizeof f, "%c[%s %s %s]", m.type, fl.severity ? fl.severity : "-",
                         fl.sqlstate ? fl.sqlstate : "-", fl.message ? fl.message : "-");
                break;
            }
            case 'S':
                wb_pg_parse_parameter_status(&m, &s1, &s2, NULL, 0);
                snprintf(f, sizeof f, "S[%s=%s]", s1, s2);
                break;
            default:
                snprintf(f, sizeof f, "%c", m.type);
            }
        }
        n += (size_t)snprintf(o + n, sizeof out[0] - n, "%s%s", n ? " " : "", f);
        if (n >= sizeof out[0])
            break;
    }
    return o;
}

/* ---- the rig: one client, the server it may hold, the two outputs ---- */

typedef struct rig {
    wb_relay_client *c;
    wb_buf ts, tc; /* to_server, to_client */
    int rc;        /* result of the last call */
} rig;

static wb_buf msg; /* messages being built */

/* Feed every message of msg to the client side; stop at the first result
 * other than OK (returned). msg is cleared. */
static int client_sends(rig *r)
{
    size_t pos = 0;
    int rc = WB_RELAY_OK;
    while (pos < msg.len) {
        wb_pg_msg m;
        size_t need;
        CHECK(wb_pg_frame(msg.p + pos, msg.len - pos, 0, &m, &need, NULL, 0) == 1);
        rc = wb_relay_from_client(r->c, m.type, m.body, m.len, &r->ts, &r->tc);
        if (rc != WB_RELAY_OK)
            break;
        pos += 5 + m.len;
    }
    wb_buf_clear(&msg);
    r->rc = rc;
    return rc;
}

/* Feed every message of msg as the server's; the last result is returned,
 * any earlier result other than OK fails the check. */
static int server_sends(rig *r)
{
    size_t pos = 0;
    int rc = WB_RELAY_S_OK;
    while (pos < msg.len) {
        wb_pg_msg m;
        size_t need;
        CHECK(wb_pg_frame(msg.p + pos, msg.len - pos, 0, &m, &need, NULL, 0) == 1);
        if (rc != WB_RELAY_S_OK)
            fprintf(stderr, "result %d before the last backend message\n", rc);
        CHECK(rc == WB_RELAY_S_OK);
        rc = wb_relay_from_server(r->c, m.type, m.body, m.len, &r->tc, &r->ts);
        pos += 5 + m.len;
    }
    wb_buf_clear(&msg);
    r->rc = rc;
    return rc;
}

static int expect_at(const char *file, int line, wb_buf *b, int from_backend, const char *fmt, ...)
{
    char want[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(want, sizeof want, fmt, ap);
    va_end(ap);
    const char *got = sum(b, from_backend);
    int ok = strcmp(got, want) == 0;
    if (!ok)
        fprintf(stderr, "%s:%d: %s\n   got: %s\n  want: %s\n", file, line, from_backend ? "to client" : "to server",
                got, want);
    wb_buf_clear(b);
    return ok;
}
/* what went to the server / to the client since the last look */
#define TO_SERVER(r, ...) CHECK(expect_at(__FILE__, __LINE__, &(r)->ts, 0, __VA_ARGS__))
#define TO_CLIENT(r, ...) CHECK(expect_at(__FILE__, __LINE__, &(r)->tc, 1, __VA_ARGS__))

static void rig_init(rig *r, int mode, const char *const *names, const char *const *values, int n)
{
    memset(r, 0, sizeof *r);
    r->c = wb_relay_client_new(mode, names, values, n);
    CHECK(r->c != NULL);
}

static void rig_free(rig *r)
{
    wb_relay_server *s = wb_relay_detach(r->c);
    (void)s;
    wb_relay_client_free(r->c);
    wb_buf_free(&r->ts);
    wb_buf_free(&r->tc);
}

static void attach(rig *r, wb_relay_server *s)
{
    CHECK(wb_relay_attach(r->c, s, &r->ts) == 0);
}

/* the server-side name of a protocol statement */
static const char *sname(const char *query, uint16_t ntypes, const uint32_t *types)
{
    static char out[4][SRVNAME_LEN + 1];
    static int which;
    uint8_t tb[64 * 4];
    for (uint16_t i = 0; i < ntypes; i++) {
        tb[4 * i] = (uint8_t)(types[i] >> 24);
        tb[4 * i + 1] = (uint8_t)(types[i] >> 16);
        tb[4 * i + 2] = (uint8_t)(types[i] >> 8);
        tb[4 * i + 3] = (uint8_t)types[i];
    }
    which = (which + 1) % 4;
    srvname(out[which], key_hash(KEY_PARSE, query, strlen(query), tb, (size_t)ntypes * 4));
    return out[which];
}

/* backend message builders (append to msg) */
static void b_empty(uint8_t t) { wb_pg_put_empty(&msg, t); }
static void b_cc(const char *tag) { wb_pg_put_command_complete(&msg, tag); }
static void b_z(char st) { wb_pg_put_ready_for_query(&msg, st); }
static void b_err(const char *sev, const char *code, const char *m)
{
    wb_pg_fields f;
    memset(&f, 0, sizeof f);
    f.severity = f.severity_nonlocal = sev;
    f.sqlstate = code;
    f.message = m;
    wb_pg_put_fields(&msg, 'E', &f);
}
static void b_row(const char *v)
{
    const uint8_t *vals[1] = {(const uint8_t *)v};
    int32_t lens[1] = {(int32_t)strlen(v)};
    wb_pg_put_datarow(&msg, 1, vals, lens);
}
static void b_rowdesc(void)
{
    wb_pg_column col = {.name = "x", .type_oid = 23, .typlen = 4, .typmod = -1};
    wb_pg_put_row_description(&msg, 1, &col);
}
static void f_bind(const char *portal, const char *stmt)
{
    const uint8_t *vals[1] = {(const uint8_t *)"1"};
    int32_t lens[1] = {1};
    wb_pg_put_bind(&msg, portal, stmt, 0, NULL, 1, vals, lens, 0, NULL);
}

/* ---- tests ---- */

/* A simple Query in transaction mode: a server is needed, the answer is
 * relayed unchanged, ReadyForQuery 'I' releases it; a transaction holds
 * it to its end. */
static void test_simple_query(void)
{
    rig r;
    rig_init(&r, WB_POOL_TRANSACTION, NULL, NULL, 0);
    wb_relay_server *s = wb_relay_server_new(0);
    wb_pg_put_query(&msg, "SELECT 1");
    CHECK(client_sends(&r) == WB_RELAY_NEED_SERVER);
    TO_SERVER(&r, "");
    TO_CLIENT(&r, "");
    CHECK(wb_relay_client_waiting_for_server(r.c) == 0);
    attach(&r, s);
    TO_SERVER(&r, ""); /* no parameters to replay */
    wb_pg_put_query(&msg, "SELECT 1");
    CHECK(client_sends(&r) == WB_RELAY_OK);
    TO_SERVER(&r, "Q[SELECT 1]");
    CHECK(wb_relay_client_waiting_for_server(r.c) == 1);
    b_rowdesc();
    b_row("1");
    b_cc("SELECT 1");
    b_z('I');
    CHECK(server_sends(&r) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&r, "T D C[SELECT 1] ZI");
    CHECK(wb_relay_detach(r.c) == s);
    CHECK(wb_relay_server_clean(s));

    /* BEGIN ... COMMIT: held across the block */
    attach(&r, s);
    wb_pg_put_query(&msg, "BEGIN");
    CHECK(client_sends(&r) == WB_RELAY_OK);
    TO_SERVER(&r, "Q[BEGIN]");
    b_cc("BEGIN");
    b_z('T');
    CHECK(server_sends(&r) == WB_RELAY_S_OK);
    TO_CLIENT(&r, "C[BEGIN] ZT");
    CHECK(wb_relay_client_txn_status(r.c) == 'T');
    wb_pg_put_query(&msg, "SELECT 2");
    CHECK(client_sends(&r) == WB_RELAY_OK);
    b_err("ERROR", "22012", "division by zero");
    b_z('E');
    CHECK(server_sends(&r) == WB_RELAY_S_OK);
    TO_CLIENT(&r, "E[ERROR 22012 division by zero] ZE");
    wb_pg_put_query(&msg, "ROLLBACK");
    CHECK(client_sends(&r) == WB_RELAY_OK);
    b_cc("ROLLBACK");
    b_z('I');
    CHECK(server_sends(&r) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&r, "C[ROLLBACK] ZI");
    TO_SERVER(&r, "Q[SELECT 2] Q[ROLLBACK]");
    CHECK(wb_relay_detach(r.c) == s);

    /* a server message nobody asked for breaks the connection */
    attach(&r, s);
    b_empty('2');
    CHECK(server_sends(&r) == WB_RELAY_S_BROKEN);
    CHECK(strstr(sum(&r.tc, 1), "E[FATAL 08P01") != NULL);
    wb_buf_clear(&r.tc);
    wb_relay_detach(r.c);
    rig_free(&r);
    wb_relay_server_free(s);
}

/* Named statements: renamed on the server, shared by clients, injected on a
 * server connection that lacks them, answered locally where the server has
 * them; unnamed ones pass through unchanged. */
static void test_named_statements(void)
{
    rig a, b;
    rig_init(&a, WB_POOL_TRANSACTION, NULL, NULL, 0);
    rig_init(&b, WB_POOL_TRANSACTION, NULL, NULL, 0);
    wb_relay_server *s1 = wb_relay_server_new(0), *s2 = wb_relay_server_new(0);
    const char *q = "SELECT abalance FROM pgbench_accounts WHERE aid = $1";
    uint32_t int4 = 23;
    const char *n = sname(q, 1, &int4);
    CHECK(strncmp(n, "wb_", 3) == 0 && strlen(n) == 19);

    /* a: Parse/Bind/Describe/Execute/Sync on s1 */
    wb_pg_put_parse(&msg, "P0_1", q, 1, &int4);
    CHECK(client_sends(&a) == WB_RELAY_NEED_SERVER);
    attach(&a, s1);
    wb_pg_put_parse(&msg, "P0_1", q, 1, &int4);
    f_bind("", "P0_1");
    wb_pg_put_describe(&msg, 'P', "");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "P[%s|%s|1] B[|%s|1] D[P] E[] S", n, q, n);
    CHECK(wb_relay_client_prepared(a.c) == 1);
    b_empty('1');
    b_empty('2');
    b_rowdesc();
    b_row("7");
    b_cc("SELECT 1");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "1 2 T D C[SELECT 1] ZI");
    CHECK(wb_relay_detach(a.c) == s1);
    CHECK(wb_relay_server_clean(s1));

    /* b prepares the same statement under another name on s1: s1 has it,
     * ParseComplete comes from the proxy, in its place */
    attach(&b, s1);
    wb_pg_put_parse(&msg, "mine", q, 1, &int4);
    f_bind("", "mine");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&b) == WB_RELAY_OK);
    TO_SERVER(&b, "B[|%s|1] E[] S", n);
    TO_CLIENT(&b, "1");
    b_empty('2');
    b_row("7");
    b_cc("SELECT 1");
    b_z('I');
    CHECK(server_sends(&b) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&b, "2 D C[SELECT 1] ZI");
    wb_relay_detach(b.c);

    /* a executes its statement on s2, which lacks it: Parse injected, its
     * ParseComplete swallowed */
    attach(&a, s2);
    f_bind("", "P0_1");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "P[%s|%s|1] B[|%s|1] E[] S", n, q, n);
    b_empty('1');
    b_empty('2');
    b_row("7");
    b_cc("SELECT 1");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "2 D C[SELECT 1] ZI");
    wb_relay_detach(a.c);
    /* and again: now s2 has it */
    attach(&a, s2);
    f_bind("", "P0_1");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "B[|%s|1] E[] S", n);
    wb_relay_detach(a.c);
    CHECK(!wb_relay_server_clean(s2)); /* detached with answers outstanding */

    /* unnamed statements and portals: unchanged */
    wb_relay_server *s3 = wb_relay_server_new(0);
    attach(&a, s3);
    wb_pg_put_parse(&msg, "", "SELECT 1", 0, NULL);
    wb_pg_put_bind(&msg, "p1", "", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_describe(&msg, 'S', "");
    wb_pg_put_execute(&msg, "p1", 10);
    wb_pg_put_close(&msg, 'P', "p1");
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "P[|SELECT 1|0] B[p1||0] D[S] E[p1] C[Pp1] S");
    b_empty('1');
    b_empty('2');
    wb_pg_put_parameter_description(&msg, 0, NULL);
    b_rowdesc();
    b_row("1");
    b_empty('s');
    b_empty('3');
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "1 2 t T D s 3 ZI");
    wb_relay_detach(a.c);

    rig_free(&a);
    rig_free(&b);
    wb_relay_server_free(s1);
    wb_relay_server_free(s2);
    wb_relay_server_free(s3);
}

/* Describe 'S' of a named statement renamed; asyncpg's Parse + Describe +
 * Flush, answered without ReadyForQuery, keeps the server held until the
 * Bind/Execute/Sync that follows later. */
static void test_flush_holds(void)
{
    rig a;
    rig_init(&a, WB_POOL_TRANSACTION, NULL, NULL, 0);
    wb_relay_server *s = wb_relay_server_new(0);
    const char *q = "SELECT $1::int";
    const char *n = sname(q, 0, NULL);
    attach(&a, s);
    wb_pg_put_parse(&msg, "__asyncpg_stmt_1__", q, 0, NULL);
    wb_pg_put_describe(&msg, 'S', "__asyncpg_stmt_1__");
    wb_pg_put_flush(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "P[%s|%s|0] D[S%s] H", n, q, n);
    uint32_t oid = 23;
    b_empty('1');
    wb_pg_put_parameter_description(&msg, 1, &oid);
    b_rowdesc();
    CHECK(server_sends(&a) == WB_RELAY_S_OK);
    TO_CLIENT(&a, "1 t T");
    CHECK(!wb_relay_server_clean(s)); /* mid-batch: not to be given away */
    CHECK(wb_relay_client_waiting_for_server(a.c) == 1);
    f_bind("", "__asyncpg_stmt_1__");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "B[|%s|1] E[] S", n);
    b_empty('2');
    b_row("1");
    b_cc("SELECT 1");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "2 D C[SELECT 1] ZI");
    CHECK(wb_relay_detach(a.c) == s);
    CHECK(wb_relay_server_clean(s));
    rig_free(&a);
    wb_relay_server_free(s);
}

/* Close of a client's statement: CloseComplete from the proxy in order,
 * nothing sent; re-Parse of a name in use: 42P05 naming the client's name;
 * after Close the name is free again. */
static void test_close_and_duplicate(void)
{
    rig a;
    rig_init(&a, WB_POOL_TRANSACTION, NULL, NULL, 0);
    wb_relay_server *s = wb_relay_server_new(0);
    const char *q = "SELECT 1";
    const char *n = sname(q, 0, NULL);
    attach(&a, s);
    wb_pg_put_parse(&msg, "s1", q, 0, NULL);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    b_empty('1');
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "1 ZI");
    TO_SERVER(&a, "P[%s|%s|0] S", n, q);

    /* Bind, Execute, Close s1, Sync: CloseComplete after the rows */
    f_bind("", "s1");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_close(&msg, 'S', "s1");
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "B[|%s|1] E[] S", n);
    TO_CLIENT(&a, "");
    CHECK(wb_relay_client_prepared(a.c) == 0);
    b_empty('2');
    b_row("1");
    b_cc("SELECT 1");
    CHECK(server_sends(&a) == WB_RELAY_S_OK);
    TO_CLIENT(&a, "2 D C[SELECT 1] 3");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "ZI");

    /* the name is free: Parse again (the server still has the text) */
    wb_pg_put_parse(&msg, "s1", q, 0, NULL);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "");
    TO_CLIENT(&a, "1");
    /* a second Parse of s1 (another text): the server says 42P05 about our
     * name; the client reads its own */
    wb_pg_put_parse(&msg, "s1", "SELECT 2", 0, NULL);
    f_bind("", "s1");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "P[%s|SELECT 2|0] B[|%s|1] E[] S", n, n);
    char m[200];
    snprintf(m, sizeof m, "prepared statement \"%s\" already exists", n);
    b_err("ERROR", "42P05", m);
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "E[ERROR 42P05 prepared statement \"s1\" already exists] ZI");
    CHECK(wb_relay_client_prepared(a.c) == 1);
    /* Close of an unknown name and of nothing, with no server: answered here */
    wb_relay_detach(a.c);
    wb_pg_put_close(&msg, 'S', "nope");
    wb_pg_put_close(&msg, 'P', "");
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_CLIENT(&a, "3 3 ZI");
    TO_SERVER(&a, "");
    rig_free(&a);
    wb_relay_server_free(s);
}

/* An error in the extended protocol: the server skips to Sync, so do the
 * bookkeeping (the failed statement is not the client's, synthesised
 * answers after the error are not sent) and the client's messages that
 * arrive before the Sync. */
static void test_error_skips_to_sync(void)
{
    rig a;
    rig_init(&a, WB_POOL_TRANSACTION, NULL, NULL, 0);
    wb_relay_server *s = wb_relay_server_new(0);
    const char *bad = "SELEC 1", *good = "SELECT 1";
    const char *nb = sname(bad, 0, NULL), *ng = sname(good, 0, NULL);
    attach(&a, s);
    /* good is on the server first */
    wb_pg_put_parse(&msg, "g", good, 0, NULL);
    wb_pg_put_sync(&msg);
    client_sends(&a);
    b_empty('1');
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "1 ZI");
    TO_SERVER(&a, "P[%s|SELECT 1|0] S", ng);

    wb_pg_put_parse(&msg, "b", bad, 0, NULL);
    wb_pg_put_parse(&msg, "g2", good, 0, NULL); /* present: synthesised */
    f_bind("", "b");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "P[%s|%s|0] B[|%s|1] E[] S", nb, bad, nb);
    CHECK(wb_relay_client_prepared(a.c) == 3);
    b_err("ERROR", "42601", "syntax error at or near \"SELEC\"");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "E[ERROR 42601 syntax error at or near \"SELEC\"] ZI");
    CHECK(wb_relay_client_prepared(a.c) == 1); /* neither b nor g2 exists */
    CHECK(cmap_get(a.c, "g") != NULL && cmap_get(a.c, "b") == NULL && cmap_get(a.c, "g2") == NULL);
    CHECK(sset_get(s, key_hash(KEY_PARSE, bad, strlen(bad), NULL, 0)) == NULL);

    /* the error arrives before the client's Sync: what the client sends
     * meanwhile is dropped, as the server would drop it */
    wb_pg_put_parse(&msg, "b", bad, 0, NULL);
    wb_pg_put_flush(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "P[%s|%s|0] H", nb, bad);
    b_err("ERROR", "42601", "syntax error");
    CHECK(server_sends(&a) == WB_RELAY_S_OK);
    TO_CLIENT(&a, "E[ERROR 42601 syntax error]");
    CHECK(!wb_relay_server_clean(s));
    f_bind("", "g");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_query(&msg, "SELECT 3");
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "S");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "ZI");
    rig_free(&a);
    wb_relay_server_free(s);
}

/* The server's statement set: LRU bound (Close 'S' of the least recently
 * used, its CloseComplete swallowed) and a hash collision (another text
 * under the same server name) closed and replaced, never executed. */
static void test_lru_and_collision(void)
{
    rig a;
    rig_init(&a, WB_POOL_SESSION, NULL, NULL, 0);
    wb_relay_server *s = wb_relay_server_new(2);
    attach(&a, s);
    const char *q1 = "SELECT 1", *q2 = "SELECT 2", *q3 = "SELECT 3";
    const char *n1 = sname(q1, 0, NULL), *n2 = sname(q2, 0, NULL), *n3 = sname(q3, 0, NULL);
    wb_pg_put_parse(&msg, "a", q1, 0, NULL);
    wb_pg_put_parse(&msg, "b", q2, 0, NULL);
    f_bind("", "a"); /* a becomes the most recently used */
    wb_pg_put_parse(&msg, "c", q3, 0, NULL);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "P[%s|SELECT 1|0] P[%s|SELECT 2|0] B[|%s|1] C[S%s] P[%s|SELECT 3|0] S", n1, n2, n1, n2, n3);
    b_empty('1');
    b_empty('1');
    b_empty('2');
    b_empty('3');
    b_empty('1');
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_OK); /* session mode: kept */
    TO_CLIENT(&a, "1 1 2 1 ZI");
    CHECK(s->count == 2);
    /* b is still the client's: Bind injects it again (evicting q1's) */
    f_bind("", "b");
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "C[S%s] P[%s|SELECT 2|0] B[|%s|1] S", n1, n2, n2);
    b_empty('3');
    b_empty('1');
    b_empty('2');
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_OK);
    TO_CLIENT(&a, "2 ZI");

    /* force a collision: the server holds another text under c's hash */
    cstmt *c3 = cmap_get(a.c, "c");
    CHECK(c3 != NULL);
    sstmt *e = sset_get(s, c3->key->hash);
    CHECK(e != NULL);
    skey *other = key_new(KEY_PARSE, "DELETE FROM t", 13, NULL, 0);
    other->hash = c3->key->hash;
    free(e->key);
    e->key = other;
    f_bind("", "c");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "C[S%s] P[%s|SELECT 3|0] B[|%s|1] E[] S", n3, n3, n3);
    b_empty('3');
    b_empty('1');
    b_empty('2');
    b_row("3");
    b_cc("SELECT 1");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_OK);
    TO_CLIENT(&a, "2 D C[SELECT 1] ZI");
    /* an injected Parse that fails: its error reaches the client */
    wb_relay_server *s2 = wb_relay_server_new(0);
    wb_relay_detach(a.c);
    attach(&a, s2);
    f_bind("", "c");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "P[%s|SELECT 3|0] B[|%s|1] E[] S", n3, n3);
    b_err("ERROR", "42P01", "relation does not exist");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_OK);
    TO_CLIENT(&a, "E[ERROR 42P01 relation does not exist] ZI");
    CHECK(s2->count == 0);
    CHECK(cmap_get(a.c, "c") != NULL); /* still the client's */
    rig_free(&a);
    wb_relay_server_free(s);
    wb_relay_server_free(s2);
}

int main(void)
{
    test_simple_query();
    test_named_statements();
    test_flush_holds();
    test_close_and_duplicate();
    test_error_skips_to_sync();
    test_lru_and_collision();
    wb_buf_free(&msg);
    return check_report("test_proxy_relay");
}
