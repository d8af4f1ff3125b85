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
#include <poll.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int sum_values; /* sum(): DataRow shows its first value */

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
            case 'D': {
                const uint8_t *vals[4];
                int32_t lens[4];
                uint16_t nc = 0;
                if (sum_values && wb_pg_parse_datarow(&m, 4, vals, lens, &nc, NULL, 0) == 0 && nc > 0)
                    snprintf(f, sizeof f, "D[%.*s]", lens[0] < 0 ? 4 : (int)lens[0],
                             lens[0] < 0 ? "NULL" : (const char *)vals[0]);
                else
                    snprintf(f, sizeof f, "D");
                break;
            }
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

/* SQL PREPARE / EXECUTE / DEALLOCATE in simple Query: recorded per client,
 * renamed, the PREPARE put ahead of an EXECUTE on a server connection that
 * lacks it (its CommandComplete swallowed), answered here where PostgreSQL's
 * answer is known; DISCARD ALL clears both sides. */
static void test_sql_prepare(void)
{
    rig a;
    rig_init(&a, WB_POOL_TRANSACTION, NULL, NULL, 0);
    wb_relay_server *s1 = wb_relay_server_new(0), *s2 = wb_relay_server_new(0);
    const char *body = "SELECT $1 + 1";
    const char *n = sname(body, 0, NULL);
    char tn[SRVNAME_LEN + 1];
    srvname(tn, key_hash(KEY_PREPARE, "SELECT $1::int", 14, "(int)", 5));

    wb_pg_put_query(&msg, "PREPARE q1 AS SELECT $1 + 1");
    CHECK(client_sends(&a) == WB_RELAY_NEED_SERVER);
    attach(&a, s1);
    wb_pg_put_query(&msg, "PREPARE q1 AS SELECT $1 + 1");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "Q[PREPARE %s AS SELECT $1 + 1]", n);
    b_cc("PREPARE");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "C[PREPARE] ZI");
    CHECK(wb_relay_client_prepared(a.c) == 1);
    wb_relay_detach(a.c);

    /* a second PREPARE of the name: 42P05 from here, no server needed */
    wb_pg_put_query(&msg, "prepare Q1 as select 2");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_CLIENT(&a, "E[ERROR 42P05 prepared statement \"q1\" already exists] ZI");
    TO_SERVER(&a, "");

    /* EXECUTE on s1 (has it): renamed */
    attach(&a, s1);
    wb_pg_put_query(&msg, "EXECUTE q1(41)");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "Q[EXECUTE %s(41)]", n);
    b_rowdesc();
    b_row("42");
    b_cc("SELECT 1");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "T D C[SELECT 1] ZI");
    wb_relay_detach(a.c);

    /* EXECUTE on s2 (lacks it): PREPARE first in the same Query, its
     * CommandComplete swallowed */
    attach(&a, s2);
    wb_pg_put_query(&msg, "EXECUTE q1(1)");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "Q[PREPARE %s AS SELECT $1 + 1; EXECUTE %s(1)]", n, n);
    b_cc("PREPARE");
    b_rowdesc();
    b_row("2");
    b_cc("SELECT 1");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "T D C[SELECT 1] ZI");
    wb_relay_detach(a.c);
    /* the server has it now */
    attach(&a, s2);
    wb_pg_put_query(&msg, "EXECUTE q1(1)");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "Q[EXECUTE %s(1)]", n);
    b_cc("SELECT 1");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "C[SELECT 1] ZI");
    wb_relay_detach(a.c);

    /* a typed PREPARE, and the protocol's Bind of a SQL-prepared name */
    attach(&a, s1);
    wb_pg_put_query(&msg, "PREPARE t1 (int) AS SELECT $1::int");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "Q[PREPARE %s (int) AS SELECT $1::int]", tn);
    b_cc("PREPARE");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "C[PREPARE] ZI");
    wb_relay_detach(a.c);
    attach(&a, s2);
    f_bind("", "t1");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "Q[PREPARE %s (int) AS SELECT $1::int] B[|%s|1] E[] S", tn, tn);
    b_cc("PREPARE");
    b_z('I');
    b_empty('2');
    b_row("1");
    b_cc("SELECT 1");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "2 D C[SELECT 1] ZI");
    wb_relay_detach(a.c);

    /* a failed PREPARE is not the client's */
    attach(&a, s1);
    wb_pg_put_query(&msg, "PREPARE bad AS SELECT * FROM nosuch");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    wb_buf_clear(&a.ts);
    b_err("ERROR", "42P01", "relation \"nosuch\" does not exist");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "E[ERROR 42P01 relation \"nosuch\" does not exist] ZI");
    CHECK(cmap_get(a.c, "bad") == NULL);
    CHECK(wb_relay_client_prepared(a.c) == 2);
    wb_relay_detach(a.c);

    /* DEALLOCATE: the client's name only (the shared statement stays) */
    wb_pg_put_query(&msg, "DEALLOCATE q1");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_CLIENT(&a, "C[DEALLOCATE] ZI");
    wb_pg_put_query(&msg, "DEALLOCATE PREPARE q1");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_CLIENT(&a, "E[ERROR 26000 prepared statement \"q1\" does not exist] ZI");
    TO_SERVER(&a, "");
    CHECK(wb_relay_client_prepared(a.c) == 1);
    CHECK(sset_get(s1, key_hash(KEY_PARSE, body, strlen(body), NULL, 0)) != NULL);
    wb_pg_put_query(&msg, "DEALLOCATE ALL");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_CLIENT(&a, "C[DEALLOCATE ALL] ZI");
    CHECK(wb_relay_client_prepared(a.c) == 0);

    /* mixed with other statements: refused with 0A000, nothing sent */
    wb_pg_put_query(&msg, "PREPARE x AS SELECT 1; SELECT 2");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    CHECK(strstr(sum(&a.tc, 1), "E[ERROR 0A000 wirebuf proxy: PREPARE, EXECUTE, DEALLOCATE and DISCARD ALL must be "
                                "the only statement") != NULL);
    CHECK(strstr(sum(&a.tc, 1), "ZI") != NULL);
    wb_buf_clear(&a.tc);
    TO_SERVER(&a, "");
    /* EXECUTE of a name the client does not have: the server says so */
    attach(&a, s1);
    wb_pg_put_query(&msg, "EXECUTE nope");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "Q[EXECUTE nope]");
    b_err("ERROR", "26000", "prepared statement \"nope\" does not exist");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    wb_buf_clear(&a.tc);

    /* DISCARD ALL: forwarded; both maps cleared when it succeeds */
    wb_pg_put_query(&msg, "PREPARE d AS SELECT 1");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    b_cc("PREPARE");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    wb_buf_clear(&a.ts);
    wb_buf_clear(&a.tc);
    CHECK(wb_relay_client_prepared(a.c) == 1);
    CHECK(s1->count > 0);
    wb_pg_put_query(&msg, "DISCARD ALL");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "Q[DISCARD ALL]");
    b_cc("DISCARD ALL");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "C[DISCARD ALL] ZI");
    CHECK(wb_relay_client_prepared(a.c) == 0);
    CHECK(s1->count == 0);
    wb_relay_detach(a.c);

    rig_free(&a);
    wb_relay_server_free(s1);
    wb_relay_server_free(s2);
}

/* LISTEN in transaction and statement mode: 0A000 without a server; in
 * session mode it passes. */
static void test_listen(void)
{
    rig a;
    rig_init(&a, WB_POOL_TRANSACTION, NULL, NULL, 0);
    wb_pg_put_query(&msg, "LISTEN jobs");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_CLIENT(&a, "E[ERROR 0A000 wirebuf proxy: LISTEN is not supported in transaction pooling mode (use session "
                  "mode)] ZI");
    TO_SERVER(&a, "");
    /* the pre-check's result of a Query answered NEED_SERVER is reused only
     * for that same message: another text of the same length in the same
     * place is looked at afresh */
    wb_relay_server *s0 = wb_relay_server_new(0);
    wb_pg_put_query(&msg, "SELECT 1234");
    CHECK(client_sends(&a) == WB_RELAY_NEED_SERVER);
    attach(&a, s0);
    wb_pg_put_query(&msg, "LISTEN jobx");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_CLIENT(&a, "E[ERROR 0A000 wirebuf proxy: LISTEN is not supported in transaction pooling mode (use session "
                  "mode)] ZI");
    TO_SERVER(&a, "");
    wb_relay_detach(a.c);
    wb_relay_server_free(s0);
    rig_free(&a);
    rig_init(&a, WB_POOL_STATEMENT, NULL, NULL, 0);
    wb_pg_put_query(&msg, "/* hi */ listen \"Jobs\"");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    CHECK(strstr(sum(&a.tc, 1), "E[ERROR 0A000 wirebuf proxy: LISTEN is not supported in statement pooling") != NULL);
    wb_buf_clear(&a.tc);
    rig_free(&a);
    rig_init(&a, WB_POOL_SESSION, NULL, NULL, 0);
    wb_relay_server *s = wb_relay_server_new(0);
    wb_pg_put_query(&msg, "LISTEN jobs");
    CHECK(client_sends(&a) == WB_RELAY_NEED_SERVER);
    attach(&a, s);
    wb_pg_put_query(&msg, "LISTEN jobs");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "Q[LISTEN jobs]");
    b_cc("LISTEN");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_OK); /* session mode: never released */
    TO_CLIENT(&a, "C[LISTEN] ZI");
    wb_pg_put_notification(&msg, 42, "jobs", "hello");
    CHECK(server_sends(&a) == WB_RELAY_S_OK);
    TO_CLIENT(&a, "A");
    rig_free(&a);
    wb_relay_server_free(s);
}

/* ParameterStatus: the client's startup values (and options -c) replayed
 * with set_config on a server connection whose values differ, the replies
 * swallowed; values reported during the client's statements become its
 * own and follow it to the next server connection. */
static void test_parameters(void)
{
    const char *names[] = {"user", "database", "application_name", "client_encoding", "options"};
    const char *values[] = {"alice", "db", "app's", "UTF8", "-c search_path=a,\\ b --statement-timeout=5s"};
    rig a;
    rig_init(&a, WB_POOL_TRANSACTION, names, values, 5);
    wb_relay_server *s1 = wb_relay_server_new(0), *s2 = wb_relay_server_new(0);
    CHECK(wb_relay_server_param(s1, "client_encoding", "UTF8") == 0);
    CHECK(wb_relay_server_param(s1, "application_name", "") == 0);
    CHECK(wb_relay_server_param(s1, "TimeZone", "UTC") == 0);
    CHECK(wb_relay_server_param(s2, "client_encoding", "UTF8") == 0);
    CHECK(wb_relay_server_param(s2, "application_name", "app's") == 0);
    CHECK(wb_relay_server_param(s2, "TimeZone", "UTC") == 0);
    attach(&a, s1);
    TO_SERVER(&a, "Q[SELECT pg_catalog.set_config(E'application_name', E'app''s', false), "
                  "pg_catalog.set_config(E'search_path', E'a, b', false), "
                  "pg_catalog.set_config(E'statement_timeout', E'5s', false)]");
    wb_pg_put_query(&msg, "SET TimeZone = 'Europe/Paris'");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "Q[SET TimeZone = 'Europe/Paris']");
    b_rowdesc();
    b_row("x");
    b_cc("SELECT 1");
    wb_pg_put_parameter_status(&msg, "application_name", "app's");
    b_z('I');
    b_cc("SET");
    wb_pg_put_parameter_status(&msg, "TimeZone", "Europe/Paris");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "C[SET] S[TimeZone=Europe/Paris] ZI");
    wb_relay_detach(a.c);
    /* s2: only what differs */
    attach(&a, s2);
    TO_SERVER(&a, "Q[SELECT pg_catalog.set_config(E'search_path', E'a, b', false), "
                  "pg_catalog.set_config(E'statement_timeout', E'5s', false), "
                  "pg_catalog.set_config(E'TimeZone', E'Europe/Paris', false)]");
    wb_pg_put_query(&msg, "SELECT 1");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    /* the replay fails: its error is swallowed, the values forgotten */
    b_err("ERROR", "22023", "invalid value");
    b_z('I');
    b_cc("SELECT 1");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "C[SELECT 1] ZI");
    wb_relay_detach(a.c);
    attach(&a, s2);
    CHECK(strstr(sum(&a.ts, 0), "E'application_name', E'app''s'") != NULL); /* tried again */
    wb_buf_clear(&a.ts);
    wb_relay_detach(a.c);
    /* s1 now has what a wants: nothing to replay */
    attach(&a, s1);
    TO_SERVER(&a, "");
    wb_relay_detach(a.c);
    rig_free(&a);
    wb_relay_server_free(s1);
    wb_relay_server_free(s2);
}

/* Start-up parameter sets shared by the clients that sent the same ones:
 * a client reads the shared set until its session changes a value, then
 * has its own copy (the set and the other client unchanged); RESET ALL
 * goes back to the shared set. An idle client's trim gives back its queue
 * and a later request works as before. */
static void test_shared_startup(void)
{
    const char *names[] = {"user", "database", "application_name", "options"};
    const char *values[] = {"alice", "db", "app", "-c search_path=a"};
    const char *names2[] = {"options", "application_name"};
    const char *values2[] = {"-c search_path=a", "app"};
    wb_relay_startup *st = wb_relay_startup_new(names, values, 4), *st2 = wb_relay_startup_new(names2, values2, 2);
    CHECK(st && st2);
    CHECK(wb_relay_startup_same(st, st2)); /* same names and values, another order */
    CHECK(wb_relay_startup_get(st, "APPLICATION_NAME") && strcmp(wb_relay_startup_get(st, "application_name"), "app") == 0);
    CHECK(wb_relay_startup_get(st, "search_path") && strcmp(wb_relay_startup_get(st, "search_path"), "a") == 0);
    CHECK(wb_relay_startup_get(st, "user") == NULL); /* not a parameter */
    const char *values3[] = {"-c search_path=b", "app"};
    wb_relay_startup *st3 = wb_relay_startup_new(names2, values3, 2);
    CHECK(st3 && !wb_relay_startup_same(st, st3));
    wb_relay_startup_unref(st3);
    wb_relay_startup_unref(st2);
    rig a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    a.c = wb_relay_client_new_shared(WB_POOL_TRANSACTION, st);
    b.c = wb_relay_client_new_shared(WB_POOL_TRANSACTION, st);
    wb_relay_startup_unref(st); /* the clients hold it */
    CHECK(a.c && b.c);
    CHECK(a.c->wanted == &st->p && b.c->wanted == &st->p);
    wb_relay_server *s = wb_relay_server_new(0);
    CHECK(wb_relay_server_param(s, "application_name", "app") == 0);
    CHECK(wb_relay_server_param(s, "TimeZone", "UTC") == 0);
    attach(&a, s);
    TO_SERVER(&a, "Q[SELECT pg_catalog.set_config(E'search_path', E'a', false)]");
    wb_pg_put_query(&msg, "SET TimeZone = 'Europe/Paris'");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "Q[SET TimeZone = 'Europe/Paris']");
    b_row("a"); /* the replay's answers are swallowed */
    b_cc("SELECT 1");
    b_z('I');
    b_cc("SET");
    wb_pg_put_parameter_status(&msg, "TimeZone", "Europe/Paris");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "C[SET] S[TimeZone=Europe/Paris] ZI");
    CHECK(wb_relay_detach(a.c) == s);
    /* a has its own values now; the set and b are unchanged */
    CHECK(a.c->wanted != &st->p && b.c->wanted == &st->p);
    CHECK(params_find(a.c->wanted, "TimeZone") && strcmp(params_find(a.c->wanted, "TimeZone")->value, "Europe/Paris") == 0);
    CHECK(params_find(&st->p, "TimeZone") == NULL);
    /* idle: trim gives the queue back; b's attach puts TimeZone back */
    CHECK(a.c->q != NULL);
    wb_relay_client_trim(a.c);
    CHECK(a.c->q == NULL && a.c->qcap == 0);
    attach(&b, s);
    TO_SERVER(&b, "Q[SELECT pg_catalog.set_config(E'TimeZone', E'UTC', false)]");
    wb_pg_put_query(&msg, "SELECT 1");
    CHECK(client_sends(&b) == WB_RELAY_OK);
    TO_SERVER(&b, "Q[SELECT 1]");
    b_row("UTC");
    b_cc("SELECT 1");
    wb_pg_put_parameter_status(&msg, "TimeZone", "UTC");
    b_z('I');
    b_row("1");
    b_cc("SELECT 1");
    b_z('I');
    CHECK(server_sends(&b) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&b, "D C[SELECT 1] ZI");
    CHECK(wb_relay_detach(b.c) == s);
    CHECK(b.c->wanted == &st->p);
    /* a again (after its trim): RESET ALL goes back to the shared set */
    attach(&a, s);
    TO_SERVER(&a, "Q[SELECT pg_catalog.set_config(E'TimeZone', E'Europe/Paris', false)]");
    wb_pg_put_query(&msg, "RESET ALL");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "Q[RESET ALL]");
    b_row("x");
    b_cc("SELECT 1");
    wb_pg_put_parameter_status(&msg, "TimeZone", "Europe/Paris");
    b_z('I');
    b_cc("RESET");
    wb_pg_put_parameter_status(&msg, "TimeZone", "UTC");
    b_z('I');
    server_sends(&a);
    CHECK(a.c->wanted == &st->p);
    wb_relay_detach(a.c);
    rig_free(&a);
    rig_free(&b);
    wb_relay_server_free(s);
}

/* COPY keeps the server held until done; Syncs sent during COPY FROM STDIN
 * under the extended protocol are ignored by the server and so by the
 * bookkeeping. FunctionCall passes through. */
static void test_copy_and_function_call(void)
{
    rig a;
    rig_init(&a, WB_POOL_TRANSACTION, NULL, NULL, 0);
    wb_relay_server *s = wb_relay_server_new(0);
    attach(&a, s);
    wb_pg_put_query(&msg, "COPY t FROM STDIN");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    wb_pg_put_copy_response(&msg, 'G', 0, 1, (int16_t[]){0});
    CHECK(server_sends(&a) == WB_RELAY_S_OK);
    TO_CLIENT(&a, "G");
    wb_pg_put_copy_data(&msg, "1\n", 2);
    wb_pg_put_copy_data(&msg, "2\n", 2);
    wb_pg_put_copy_done(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "Q[COPY t FROM STDIN] d d c");
    b_cc("COPY 2");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "C[COPY 2] ZI");
    wb_relay_detach(a.c);

    /* COPY TO STDOUT */
    attach(&a, s);
    wb_pg_put_query(&msg, "COPY t TO STDOUT");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    wb_pg_put_copy_response(&msg, 'H', 0, 1, (int16_t[]){0});
    wb_pg_put_copy_data(&msg, "1\n", 2);
    wb_pg_put_copy_done(&msg);
    b_cc("COPY 1");
    CHECK(server_sends(&a) == WB_RELAY_S_OK);
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "H d c C[COPY 1] ZI");
    wb_relay_detach(a.c);
    wb_buf_clear(&a.ts);

    /* extended: Parse/Bind/Execute/Sync, then data, CopyDone, Sync */
    attach(&a, s);
    wb_pg_put_parse(&msg, "", "COPY t FROM STDIN", 0, NULL);
    wb_pg_put_bind(&msg, "", "", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    b_empty('1');
    b_empty('2');
    wb_pg_put_copy_response(&msg, 'G', 0, 1, (int16_t[]){0});
    CHECK(server_sends(&a) == WB_RELAY_S_OK);
    TO_CLIENT(&a, "1 2 G");
    wb_pg_put_copy_data(&msg, "1\n", 2);
    wb_pg_put_copy_done(&msg);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "P[|COPY t FROM STDIN|0] B[||0] E[] S d c S");
    b_cc("COPY 1");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "C[COPY 1] ZI");
    CHECK(wb_relay_detach(a.c) == s);
    CHECK(wb_relay_server_clean(s));

    /* FunctionCall */
    wb_pg_put_function_call(&msg, 1598, 0, NULL, 0, NULL, NULL, 0);
    CHECK(client_sends(&a) == WB_RELAY_NEED_SERVER);
    attach(&a, s);
    wb_pg_put_function_call(&msg, 1598, 0, NULL, 0, NULL, NULL, 0);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "F");
    wb_pg_put_function_call_response(&msg, "0.5", 3);
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "V ZI");
    wb_relay_detach(a.c);
    rig_free(&a);
    wb_relay_server_free(s);
}

/* Statement mode: released after every ReadyForQuery, a transaction block
 * is an error that closes the client (as PgBouncer). Session mode: never
 * released; reset with DISCARD ALL when the client leaves. */
static void test_pool_modes(void)
{
    rig a;
    rig_init(&a, WB_POOL_STATEMENT, NULL, NULL, 0);
    wb_relay_server *s = wb_relay_server_new(0);
    attach(&a, s);
    wb_pg_put_query(&msg, "SELECT 1");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    b_cc("SELECT 1");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    wb_buf_clear(&a.tc);
    wb_relay_detach(a.c);
    attach(&a, s);
    wb_pg_put_query(&msg, "BEGIN");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    b_cc("BEGIN");
    b_z('T');
    CHECK(server_sends(&a) == WB_RELAY_S_BROKEN);
    TO_CLIENT(&a, "C[BEGIN] E[FATAL 0A000 wirebuf proxy: transaction blocks are not allowed in statement pooling mode]");
    CHECK(wb_relay_detach(a.c) == s);
    CHECK(!wb_relay_server_clean(s));
    rig_free(&a);
    wb_relay_server_free(s);

    rig_init(&a, WB_POOL_SESSION, NULL, NULL, 0);
    s = wb_relay_server_new(0);
    attach(&a, s);
    wb_pg_put_parse(&msg, "s", "SELECT 1", 0, NULL);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    b_empty('1');
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_OK);
    wb_buf_clear(&a.tc);
    wb_buf_clear(&a.ts);
    CHECK(wb_relay_detach(a.c) == s);
    CHECK(wb_relay_server_clean(s));
    CHECK(s->count == 1);
    wb_buf to = {0};
    CHECK(wb_relay_server_reset(s, &to) == 0);
    CHECK(expect_at(__FILE__, __LINE__, &to, 0, "Q[DISCARD ALL]"));
    CHECK(s->count == 0);
    CHECK(!wb_relay_server_clean(s));
    wb_buf_free(&to);
    uint8_t dis[] = "DISCARD ALL";
    CHECK(wb_relay_server_idle_msg(s, 'C', dis, sizeof dis) == WB_RELAY_S_OK);
    wb_pg_put_parameter_status(&msg, "application_name", "");
    CHECK(wb_relay_server_idle_msg(s, 'S', msg.p + 5, (uint32_t)msg.len - 5) == WB_RELAY_S_OK);
    wb_buf_clear(&msg);
    uint8_t idle = 'I';
    CHECK(wb_relay_server_idle_msg(s, 'Z', &idle, 1) == WB_RELAY_S_RELEASE);
    CHECK(wb_relay_server_clean(s));
    /* unexpected messages on an idle server connection */
    CHECK(wb_relay_server_idle_msg(s, 'D', dis, 2) == WB_RELAY_S_BROKEN);
    b_err("FATAL", "57P01", "terminating connection due to administrator command");
    CHECK(wb_relay_server_idle_msg(s, 'E', msg.p + 5, (uint32_t)msg.len - 5) == WB_RELAY_S_BROKEN);
    wb_buf_clear(&msg);
    rig_free(&a);
    wb_relay_server_free(s);
}

/* Faults: the server connection lost, a FATAL from the server, the client's
 * Terminate and protocol violations. */
static void test_faults(void)
{
    rig a;
    rig_init(&a, WB_POOL_TRANSACTION, NULL, NULL, 0);
    wb_relay_server *s = wb_relay_server_new(0);
    attach(&a, s);
    wb_pg_put_query(&msg, "SELECT pg_sleep(10)");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "Q[SELECT pg_sleep(10)]");
    b_err("FATAL", "57P01", "terminating connection due to administrator command");
    CHECK(server_sends(&a) == WB_RELAY_S_BROKEN);
    TO_CLIENT(&a, "E[FATAL 57P01 terminating connection due to administrator command]");
    CHECK(wb_relay_detach(a.c) == s);
    CHECK(!wb_relay_server_clean(s));
    CHECK(wb_relay_server_lost(a.c, "08006", "server closed the connection unexpectedly", &a.tc) == 0);
    TO_CLIENT(&a, "E[FATAL 08006 server closed the connection unexpectedly]");
    wb_pg_put_terminate(&msg);
    CHECK(client_sends(&a) == WB_RELAY_CLOSE);
    uint8_t junk[] = "x";
    CHECK(wb_relay_from_client(a.c, 'p', junk, 2, &a.ts, &a.tc) == WB_RELAY_CLOSE);
    CHECK(strstr(sum(&a.tc, 1), "E[FATAL 08P01") != NULL);
    wb_buf_clear(&a.tc);
    CHECK(wb_relay_from_client(a.c, 'Q', junk, 1, &a.ts, &a.tc) == WB_RELAY_CLOSE); /* no NUL */
    wb_buf_clear(&a.tc);
    CHECK(wb_relay_from_client(a.c, 'B', junk, 1, &a.ts, &a.tc) == WB_RELAY_CLOSE);
    wb_buf_clear(&a.tc);
    TO_SERVER(&a, "");
    rig_free(&a);
    wb_relay_server_free(s);
}

/* SET / RESET of parameters the server does not report (search_path,
 * work_mem, ...): recorded when the Query succeeds (at COMMIT inside a
 * transaction block, never after ROLLBACK or an error), replayed on the
 * next server connection, and what a client left on a server connection is
 * put back to the server's defaults before another client uses it. */
static void test_set_tracking(void)
{
    const char *names[] = {"application_name"};
    const char *values[] = {"app"};
    rig a, b;
    rig_init(&a, WB_POOL_TRANSACTION, names, values, 1);
    rig_init(&b, WB_POOL_TRANSACTION, NULL, NULL, 0);
    wb_relay_server *s1 = wb_relay_server_new(0), *s2 = wb_relay_server_new(0);
    wb_relay_server *ss[2] = {s1, s2};
    for (int i = 0; i < 2; i++) {
        wb_relay_server_param(ss[i], "application_name", "");
        wb_relay_server_param(ss[i], "TimeZone", "UTC");
        wb_relay_server_param(ss[i], "server_version", "15.4");
    }
    attach(&a, s1);
    TO_SERVER(&a, "Q[SELECT pg_catalog.set_config(E'application_name', E'app', false)]");
    wb_pg_put_query(&msg, "SET search_path TO myschema, public");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    b_cc("SELECT 1");
    b_z('I');
    b_cc("SET");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "C[SET] ZI");
    wb_buf_clear(&a.ts);
    wb_relay_detach(a.c);
    /* the next server connection gets it */
    attach(&a, s2);
    TO_SERVER(&a, "Q[SELECT pg_catalog.set_config(E'application_name', E'app', false); "
                  "SET \"search_path\" TO myschema, public]");
    wb_relay_detach(a.c);
    /* another client on s1: application_name back to the default, search_path reset */
    attach(&b, s1);
    TO_SERVER(&b, "Q[SELECT pg_catalog.set_config(E'application_name', E'', false); RESET \"search_path\"]");
    wb_relay_detach(b.c);
    attach(&b, s1);
    TO_SERVER(&b, "");
    wb_relay_detach(b.c);

    /* in a transaction block: void after ROLLBACK, kept after COMMIT */
    wb_relay_server *s3 = wb_relay_server_new(0);
    attach(&a, s3);
    wb_buf_clear(&a.ts);
    wb_pg_put_query(&msg, "BEGIN");
    client_sends(&a);
    wb_pg_put_query(&msg, "SET work_mem = '64MB'");
    client_sends(&a);
    wb_pg_put_query(&msg, "ROLLBACK");
    client_sends(&a);
    b_cc("SELECT 1");
    b_z('I');
    b_cc("BEGIN");
    b_z('T');
    b_cc("SET");
    b_z('T');
    b_cc("ROLLBACK");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "C[BEGIN] ZT C[SET] ZT C[ROLLBACK] ZI");
    CHECK(params_find(a.c->wanted, "work_mem") == NULL);
    wb_pg_put_query(&msg, "BEGIN");
    client_sends(&a);
    wb_pg_put_query(&msg, "SET work_mem = '64MB'");
    client_sends(&a);
    wb_pg_put_query(&msg, "COMMIT");
    client_sends(&a);
    b_cc("BEGIN");
    b_z('T');
    b_cc("SET");
    b_z('T');
    b_cc("COMMIT");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    wb_buf_clear(&a.tc);
    wb_buf_clear(&a.ts);
    CHECK(params_find(a.c->wanted, "work_mem") != NULL);
    /* a failed Query's SET is void */
    wb_pg_put_query(&msg, "SET statement_timeout = 5; SELECT 1/0");
    client_sends(&a);
    b_cc("SET");
    b_err("ERROR", "22012", "division by zero");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    wb_buf_clear(&a.tc);
    wb_buf_clear(&a.ts);
    CHECK(params_find(a.c->wanted, "statement_timeout") == NULL);
    wb_relay_detach(a.c);
    attach(&a, s2);
    TO_SERVER(&a, "Q[SET \"work_mem\" TO '64MB']");
    /* RESET application_name: the client's start-up value again, reported
     * to the client after the server went back to its default */
    wb_pg_put_query(&msg, "RESET application_name; RESET work_mem");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "Q[RESET application_name; RESET work_mem]");
    b_cc("SELECT 1");
    b_z('I');
    b_cc("RESET");
    wb_pg_put_parameter_status(&msg, "application_name", "");
    b_cc("RESET");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_OK);
    TO_CLIENT(&a, "C[RESET] S[application_name=] C[RESET] ZI");
    TO_SERVER(&a, "Q[SELECT pg_catalog.set_config(E'application_name', E'app', false)]");
    CHECK(params_find(a.c->wanted, "work_mem") == NULL);
    b_rowdesc();
    b_row("app");
    b_cc("SELECT 1");
    wb_pg_put_parameter_status(&msg, "application_name", "app");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "S[application_name=app]");
    wb_relay_detach(a.c);

    /* SET through the extended protocol (psycopg 3, pgjdbc): decided at
     * the Sync; an error anywhere in the batch voids it */
    attach(&a, s3);
    if (a.ts.len) { /* the replay's answers */
        wb_buf_clear(&a.ts);
        b_cc("SELECT 1");
        b_z('I');
        CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
        CHECK(a.tc.len == 0);
        CHECK(wb_relay_detach(a.c) == s3);
        attach(&a, s3);
        TO_SERVER(&a, "");
    }
    wb_pg_put_parse(&msg, "", "SET search_path TO ext", 0, NULL);
    wb_pg_put_bind(&msg, "", "", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_parse(&msg, "", "SELECT 1", 0, NULL); /* the portal keeps the SET */
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    b_empty('1');
    b_empty('2');
    b_cc("SET");
    b_empty('1');
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    wb_buf_clear(&a.tc);
    wb_buf_clear(&a.ts);
    param *sp = params_find(a.c->wanted, "search_path");
    CHECK(sp && strcmp(sp->value, "\001ext") == 0);
    wb_pg_put_parse(&msg, "setwm", "SET work_mem = '2MB'", 0, NULL);
    wb_pg_put_bind(&msg, "", "setwm", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_parse(&msg, "", "SELEC", 0, NULL);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    b_empty('1');
    b_empty('2');
    b_cc("SET");
    b_err("ERROR", "42601", "syntax error");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    wb_buf_clear(&a.tc);
    CHECK(params_find(a.c->wanted, "work_mem") == NULL);
    /* the named SET statement, executed alone: kept */
    wb_pg_put_bind(&msg, "", "setwm", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    b_empty('2');
    b_cc("SET");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    wb_buf_clear(&a.tc);
    wb_buf_clear(&a.ts);
    sp = params_find(a.c->wanted, "work_mem");
    CHECK(sp && strcmp(sp->value, "\001'2MB'") == 0);
    wb_relay_detach(a.c);
    rig_free(&a);
    rig_free(&b);
    wb_relay_server_free(s1);
    wb_relay_server_free(s2);
    wb_relay_server_free(s3);
}

/* ---- differential: the relay in front of a real PostgreSQL 15 ---------
 * The same client messages go to one direct connection and, through the
 * relay in transaction mode, to two server connections taken in turn (so
 * statements must be injected, parameters replayed); what the client
 * receives must be the same messages, rows, tags and SQLSTATEs. */

typedef struct pgc {
    int fd;
    wb_buf in;
    size_t pos;
} pgc;

static int pg_next(pgc *p, wb_pg_msg *m)
{
    if (p->pos && p->pos == p->in.len) {
        p->in.len = 0;
        p->pos = 0;
    }
    for (;;) {
        size_t need;
        char err[200];
        int r = p->in.p ? wb_pg_frame(p->in.p + p->pos, p->in.len - p->pos, 0, m, &need, err, sizeof err) : 0;
        if (r == 1) {
            p->pos += 5 + m->len;
            return 1;
        }
        if (r < 0)
            return -1;
        struct pollfd pf = {p->fd, POLLIN, 0};
        if (poll(&pf, 1, 10000) != 1) {
            fprintf(stderr, "pg: no answer in 10 s\n");
            return -1;
        }
        if (wb_buf_reserve(&p->in, 65536) != 0)
            return -1;
        ssize_t n = read(p->fd, p->in.p + p->in.len, p->in.cap - p->in.len);
        if (n <= 0)
            return -1;
        p->in.len += (size_t)n;
    }
}

static int pg_write(pgc *p, wb_buf *b)
{
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = write(p->fd, b->p + off, b->len - off);
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    wb_buf_clear(b);
    return 0;
}

static int pg_open(pgc *p, const char *host, const char *port, const char *db, wb_relay_server *s)
{
    memset(p, 0, sizeof *p);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s/.s.PGSQL.%s", host, port);
    p->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    if (p->fd < 0 || connect(p->fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("pg: connect");
        return -1;
    }
    wb_buf b = {0};
    const char *params[] = {"user", "wb_trust", "database", db, "application_name", "relaytest", NULL};
    wb_pg_put_startup(&b, params);
    if (pg_write(p, &b) != 0)
        return -1;
    wb_buf_free(&b);
    wb_pg_msg m;
    while (pg_next(p, &m) == 1) {
        const char *n, *v;
        if (m.type == 'S' && s && wb_pg_parse_parameter_status(&m, &n, &v, NULL, 0) == 0)
            wb_relay_server_param(s, n, v);
        if (m.type == 'E')
            return -1;
        if (m.type == 'Z')
            return 0;
    }
    return -1;
}

static void pg_close(pgc *p)
{
    if (p->fd >= 0)
        close(p->fd);
    wb_buf_free(&p->in);
}

typedef struct diff {
    pgc direct, srv[2];
    wb_relay_server *rs[2];
    int next, held;
    wb_relay_client *c;
    wb_buf ts, tc, dout;
} diff;

/* Messages in b that a client counts: all but the asynchronous ones. */
static int count_msgs(const wb_buf *b, int *zs)
{
    int n = 0;
    *zs = 0;
    for (size_t pos = 0; pos < b->len;) {
        wb_pg_msg m;
        size_t need;
        if (wb_pg_frame(b->p + pos, b->len - pos, 0, &m, &need, NULL, 0) != 1)
            break;
        pos += 5 + m.len;
        if (m.type == 'S' || m.type == 'N' || m.type == 'A')
            continue;
        n++;
        if (m.type == 'Z')
            ++*zs;
    }
    return n;
}

/* Run one batch of client messages (msg) both ways until want_z
 * ReadyForQuery (or, with want_z 0, want_msgs messages) arrived; compare. */
static void run_batch(diff *d, int want_z, int want_msgs, int line)
{
    wb_buf batch = msg;
    memset(&msg, 0, sizeof msg);
    int fails = check_failures;
    /* direct */
    wb_buf w = {0};
    wb_buf_append(&w, batch.p, batch.len);
    CHECK(pg_write(&d->direct, &w) == 0);
    wb_buf_free(&w);
    int zs = 0, n = 0;
    while (want_z ? zs < want_z : n < want_msgs) {
        wb_pg_msg m;
        if (pg_next(&d->direct, &m) != 1) {
            CHECK(!"direct connection failed");
            break;
        }
        put_msg(&d->dout, m.type, m.body, m.len);
        n = count_msgs(&d->dout, &zs);
    }
    /* through the relay */
    for (size_t pos = 0; pos < batch.len;) {
        wb_pg_msg m;
        size_t need;
        wb_pg_frame(batch.p + pos, batch.len - pos, 0, &m, &need, NULL, 0);
        int rc = wb_relay_from_client(d->c, m.type, m.body, m.len, &d->ts, &d->tc);
        if (rc == WB_RELAY_NEED_SERVER) {
            CHECK(d->held < 0);
            d->held = d->next;
            d->next ^= 1;
            CHECK(wb_relay_attach(d->c, d->rs[d->held], &d->ts) == 0);
            rc = wb_relay_from_client(d->c, m.type, m.body, m.len, &d->ts, &d->tc);
        }
        CHECK(rc == WB_RELAY_OK);
        pos += 5 + m.len;
    }
    if (d->held >= 0 && d->ts.len)
        CHECK(pg_write(&d->srv[d->held], &d->ts) == 0);
    n = count_msgs(&d->tc, &zs);
    while (d->held >= 0 && (want_z ? zs < want_z : n < want_msgs)) {
        wb_pg_msg m;
        if (pg_next(&d->srv[d->held], &m) != 1) {
            CHECK(!"server connection failed");
            break;
        }
        int rc = wb_relay_from_server(d->c, m.type, m.body, m.len, &d->tc, &d->ts);
        CHECK(rc == WB_RELAY_S_OK || rc == WB_RELAY_S_RELEASE);
        if (d->ts.len)
            CHECK(pg_write(&d->srv[d->held], &d->ts) == 0);
        if (rc == WB_RELAY_S_RELEASE) {
            CHECK(wb_relay_detach(d->c) == d->rs[d->held]);
            CHECK(wb_relay_server_clean(d->rs[d->held]));
            d->held = -1;
        }
        n = count_msgs(&d->tc, &zs);
    }
    sum_values = 1;
    char direct[8192];
    snprintf(direct, sizeof direct, "%s", sum(&d->dout, 1));
    const char *got = sum(&d->tc, 1);
    sum_values = 0;
    CHECK(strcmp(direct, got) == 0);
    if (check_failures != fails)
        fprintf(stderr, "line %d:\n  direct: %s\n  relay:  %s\n", line, direct, got);
    wb_buf_clear(&d->dout);
    wb_buf_clear(&d->tc);
    wb_buf_free(&batch);
}
#define RUN(d, z) run_batch(d, z, 0, __LINE__)
#define RUN_MSGS(d, n) run_batch(d, 0, n, __LINE__)

static void q(const char *sql) { wb_pg_put_query(&msg, sql); }

/* A Query on the direct connection only (set-up shared by both sides). */
static void direct_only(diff *d, const char *sql)
{
    wb_buf b = {0};
    wb_pg_put_query(&b, sql);
    CHECK(pg_write(&d->direct, &b) == 0);
    wb_buf_free(&b);
    wb_pg_msg m;
    while (pg_next(&d->direct, &m) == 1 && m.type != 'Z')
        CHECK(m.type != 'E');
}

static void test_against_postgres(int mode, size_t max_prepared)
{
    const char *host = getenv("WB_PG_HOST"), *port = getenv("WB_PG_PORT"), *db = getenv("WB_PG_DB");
    if (!host || !port || !db) {
        printf("test_proxy_relay: WB_PG_HOST unset: the differential part needs scripts/with_pg.sh\n");
        return;
    }
    diff d;
    memset(&d, 0, sizeof d);
    d.held = -1;
    const char *names[] = {"application_name"};
    const char *values[] = {"relaytest"};
    d.c = wb_relay_client_new(mode, names, values, 1);
    for (int i = 0; i < 2; i++) {
        d.rs[i] = wb_relay_server_new(max_prepared);
        CHECK(pg_open(&d.srv[i], host, port, db, d.rs[i]) == 0);
    }
    CHECK(pg_open(&d.direct, host, port, db, NULL) == 0);
    if (check_failures)
        return;

    /* simple Queries, errors, a transaction block */
    q("SELECT 1");
    RUN(&d, 1);
    q("SELECT 1/0");
    RUN(&d, 1);
    q("BEGIN");
    RUN(&d, 1);
    q("SELECT 2");
    RUN(&d, 1);
    q("SELECT nosuch");
    RUN(&d, 1);
    q("SELECT 3");
    RUN(&d, 1);
    q("ROLLBACK");
    RUN(&d, 1);
    q("SHOW application_name");
    RUN(&d, 1);

    /* pgbench -M prepared: Parse once, then Bind/Execute/Sync on either
     * server connection */
    uint32_t int4 = 23;
    wb_pg_put_parse(&msg, "P0_1", "SELECT $1::int + 1", 1, &int4);
    f_bind("", "P0_1");
    wb_pg_put_describe(&msg, 'P', "");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    for (int i = 0; i < 4; i++) {
        f_bind("", "P0_1");
        wb_pg_put_execute(&msg, "", 0);
        wb_pg_put_sync(&msg);
        RUN(&d, 1);
    }
    /* Describe of the statement on the other server connection */
    wb_pg_put_describe(&msg, 'S', "P0_1");
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    /* a duplicate name, an error mid-batch, Close and Parse again */
    wb_pg_put_parse(&msg, "P0_1", "SELECT 5", 0, NULL);
    f_bind("", "P0_1");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    wb_pg_put_parse(&msg, "bad", "SELEC 1", 0, NULL);
    wb_pg_put_parse(&msg, "good", "SELECT 1", 0, NULL);
    f_bind("", "bad");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    wb_pg_put_describe(&msg, 'S', "good"); /* never created */
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    wb_pg_put_close(&msg, 'S', "P0_1");
    wb_pg_put_parse(&msg, "P0_1", "SELECT 6", 0, NULL);
    wb_pg_put_bind(&msg, "", "P0_1", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    wb_pg_put_bind(&msg, "", "nosuch", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    /* a portal with a row limit inside a transaction */
    q("BEGIN");
    RUN(&d, 1);
    wb_pg_put_parse(&msg, "gs", "SELECT generate_series(1, 5)", 0, NULL);
    wb_pg_put_bind(&msg, "cur", "gs", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_execute(&msg, "cur", 2);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    wb_pg_put_execute(&msg, "cur", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    q("COMMIT");
    RUN(&d, 1);
    /* asyncpg: Parse + Describe + Flush, later Bind/Execute/Sync */
    wb_pg_put_parse(&msg, "__asyncpg_1__", "SELECT $1::text", 0, NULL);
    wb_pg_put_describe(&msg, 'S', "__asyncpg_1__");
    wb_pg_put_flush(&msg);
    RUN_MSGS(&d, 3);
    f_bind("", "__asyncpg_1__");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);

    /* a pipeline: three batches at once, the second fails */
    for (int i = 0; i < 3; i++) {
        wb_pg_put_parse(&msg, i == 1 ? "pipe_bad" : "", i == 1 ? "SELECT 1/0" : "SELECT 7", 0, NULL);
        wb_pg_put_bind(&msg, "", i == 1 ? "pipe_bad" : "", 0, NULL, 0, NULL, NULL, 0, NULL);
        wb_pg_put_execute(&msg, "", 0);
        wb_pg_put_sync(&msg);
    }
    RUN(&d, 3);
    /* named portals in a transaction block, a statement prepared inside it */
    q("BEGIN");
    RUN(&d, 1);
    wb_pg_put_parse(&msg, "inblock", "SELECT generate_series(1, $1::int)", 0, NULL);
    wb_pg_put_bind(&msg, "c1", "inblock", 0, NULL, 1, (const uint8_t *const[]){(const uint8_t *)"3"},
                   (const int32_t[]){1}, 0, NULL);
    wb_pg_put_bind(&msg, "c2", "P0_1", 0, NULL, 1, (const uint8_t *const[]){(const uint8_t *)"8"},
                   (const int32_t[]){1}, 0, NULL);
    wb_pg_put_execute(&msg, "c1", 1);
    wb_pg_put_execute(&msg, "c2", 0);
    wb_pg_put_execute(&msg, "c1", 0);
    wb_pg_put_close(&msg, 'P', "c1");
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    q("DISCARD ALL"); /* not in a transaction block: 25001 */
    RUN(&d, 1);
    /* a failed transaction: Parse of a statement the server has (25P02,
     * not a ParseComplete from the proxy), Describe, Close, Sync */
    wb_pg_put_parse(&msg, "again_inblock", "SELECT generate_series(1, $1::int)", 0, NULL);
    wb_pg_put_bind(&msg, "", "again_inblock", 0, NULL, 1, (const uint8_t *const[]){(const uint8_t *)"3"},
                   (const int32_t[]){1}, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    wb_pg_put_close(&msg, 'S', "inblock");
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    wb_pg_put_describe(&msg, 'S', "P0_1");
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    /* pipelined: a batch fails the block, the next one Parses a text the
     * server has (PostgreSQL: 25P02, not ParseComplete) */
    wb_pg_put_parse(&msg, "x1", "SELECT 42", 0, NULL);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    q("ROLLBACK");
    RUN(&d, 1);
    q("BEGIN");
    RUN(&d, 1);
    wb_pg_put_parse(&msg, "x1b", "SELECT 42", 0, NULL); /* on this server now */
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    wb_pg_put_parse(&msg, "", "SELECT 1/0", 0, NULL);
    wb_pg_put_bind(&msg, "", "", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    wb_pg_put_parse(&msg, "x2", "SELECT 42", 0, NULL);
    wb_pg_put_bind(&msg, "", "x2", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_close(&msg, 'P', "");
    wb_pg_put_sync(&msg);
    RUN(&d, 2);
    q("COMMIT");
    RUN(&d, 1);
    /* pgjdbc server-prepares ROLLBACK after a few uses: its Parse in a
     * failed transaction is accepted by PostgreSQL (a transaction exit) */
    q("BEGIN");
    RUN(&d, 1);
    wb_pg_put_parse(&msg, "rb0", "ROLLBACK", 0, NULL);
    wb_pg_put_parse(&msg, "sp0", "ROLLBACK TO SAVEPOINT a", 0, NULL);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    q("SAVEPOINT a");
    RUN(&d, 1);
    q("SELECT 1/0");
    RUN(&d, 1);
    wb_pg_put_parse(&msg, "sp1", "ROLLBACK TO SAVEPOINT a", 0, NULL);
    wb_pg_put_bind(&msg, "", "sp1", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    q("SELECT 1/0");
    RUN(&d, 1);
    wb_pg_put_parse(&msg, "rb1", "ROLLBACK", 0, NULL);
    wb_pg_put_bind(&msg, "", "rb1", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    f_bind("", "x2"); /* never made */
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    f_bind("", "x1b");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    f_bind("", "inblock"); /* closed in the failed block: 26000 */
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    f_bind("", "again_inblock"); /* never made */
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    /* many statements on one server connection (evictions with a small
     * bound), then each again */
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 5; i++) {
            char nm[16], sql[64];
            snprintf(nm, sizeof nm, "many%d", i);
            snprintf(sql, sizeof sql, "SELECT %d + $1::int", i);
            if (round == 0)
                wb_pg_put_parse(&msg, nm, sql, 0, NULL);
            f_bind("", nm);
            wb_pg_put_execute(&msg, "", 0);
        }
        wb_pg_put_sync(&msg);
        RUN(&d, 1);
    }

    /* psycopg 3's maintenance: DEALLOCATE with the extended protocol */
    wb_pg_put_parse(&msg, "_pg3_0", "SELECT 'p3'", 0, NULL);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    for (int i = 0; i < 3; i++) {
        wb_pg_put_parse(&msg, "", i == 2 ? "DEALLOCATE ALL" : "DEALLOCATE _pg3_0", 0, NULL);
        wb_pg_put_bind(&msg, "", "", 0, NULL, 0, NULL, NULL, 0, NULL);
        wb_pg_put_describe(&msg, 'P', "");
        wb_pg_put_execute(&msg, "", 0);
        wb_pg_put_sync(&msg);
        RUN(&d, 1); /* then: 26000 from the server, in the client's words */
    }
    f_bind("", "_pg3_0");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    wb_pg_put_parse(&msg, "_pg3_1", "SELECT 'p3'", 0, NULL);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    wb_pg_put_parse(&msg, "", "DISCARD ALL", 0, NULL);
    wb_pg_put_bind(&msg, "", "", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_describe(&msg, 'P', "");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    wb_pg_put_bind(&msg, "", "_pg3_1", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    q("SHOW application_name");
    RUN(&d, 1);
    q("PREPARE q1 AS SELECT 1"); /* DISCARD ALL took it: free again */
    RUN(&d, 1);
    q("DEALLOCATE q1");
    RUN(&d, 1);

    /* SQL PREPARE / EXECUTE / DEALLOCATE */
    q("PREPARE q1 AS SELECT $1::int * 2");
    RUN(&d, 1);
    q("EXECUTE q1(21)");
    RUN(&d, 1);
    q("EXECUTE q1"); /* 42P02 naming the statement: the client's name */
    RUN(&d, 1);
    q("EXECUTE q1('x')");
    RUN(&d, 1);
    q("EXECUTE q1(4)");
    RUN(&d, 1);
    q("PREPARE q1 AS SELECT 1");
    RUN(&d, 1);
    q("PREPARE t1 (int, text) AS SELECT $1 + 1, $2");
    RUN(&d, 1);
    q("EXECUTE t1(1, 'a')");
    RUN(&d, 1);
    q("EXECUTE t1(2, 'b')");
    RUN(&d, 1);
    wb_pg_put_bind(&msg, "", "t1", 0, NULL, 2, (const uint8_t *const[]){(const uint8_t *)"7", (const uint8_t *)"x"},
                   (const int32_t[]){1, 1}, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    wb_pg_put_parse(&msg, "P0_2", "SELECT $1::int - 1", 1, &int4);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    q("EXECUTE P0_2(1)"); /* folded: p0_2 does not exist */
    RUN(&d, 1);
    q("EXECUTE \"P0_2\"(10)");
    RUN(&d, 1);
    q("EXECUTE \"P0_2\"(11)");
    RUN(&d, 1);
    q("DEALLOCATE q1");
    RUN(&d, 1);
    q("EXECUTE q1(1)");
    RUN(&d, 1);
    q("DEALLOCATE q1");
    RUN(&d, 1);
    q("PREPARE q1 AS SELECT 'again'");
    RUN(&d, 1);
    q("EXECUTE q1");
    RUN(&d, 1);
    q("BEGIN");
    RUN(&d, 1);
    q("SELECT 1/0");
    RUN(&d, 1);
    q("EXECUTE q1");
    RUN(&d, 1);
    q("DEALLOCATE q1");
    RUN(&d, 1);
    q("ROLLBACK");
    RUN(&d, 1);
    q("DEALLOCATE ALL");
    RUN(&d, 1);
    q("EXECUTE t1(1, 'a')");
    RUN(&d, 1);

    /* parameters: SET of a reported and an unreported one, RESET */
    q("SET search_path TO pg_catalog, public");
    RUN(&d, 1);
    q("SHOW search_path");
    RUN(&d, 1);
    q("SHOW search_path");
    RUN(&d, 1);
    q("SET application_name = 'changed'");
    RUN(&d, 1);
    q("SHOW application_name");
    RUN(&d, 1);
    q("SHOW application_name");
    RUN(&d, 1);
    q("BEGIN");
    RUN(&d, 1);
    q("SET work_mem = '7MB'");
    RUN(&d, 1);
    q("ROLLBACK");
    RUN(&d, 1);
    q("SHOW work_mem");
    RUN(&d, 1);
    q("SHOW work_mem");
    RUN(&d, 1);
    q("RESET application_name");
    RUN(&d, 1);
    q("SHOW application_name");
    RUN(&d, 1);
    q("RESET ALL");
    RUN(&d, 1);
    q("SHOW search_path");
    RUN(&d, 1);
    /* SET with the extended protocol, as psycopg 3 and pgjdbc send it */
    wb_pg_put_parse(&msg, "", "SET search_path TO information_schema, public", 0, NULL);
    wb_pg_put_bind(&msg, "", "", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    for (int i = 0; i < 2; i++) {
        wb_pg_put_parse(&msg, "", "SHOW search_path", 0, NULL);
        wb_pg_put_bind(&msg, "", "", 0, NULL, 0, NULL, NULL, 0, NULL);
        wb_pg_put_execute(&msg, "", 0);
        wb_pg_put_sync(&msg);
        RUN(&d, 1);
    }
    q("RESET search_path");
    RUN(&d, 1);
    q("SHOW search_path");
    RUN(&d, 1);
    q("SHOW application_name");
    RUN(&d, 1);

    /* COPY both ways, simple and extended */
    direct_only(&d, "CREATE TABLE relay_copy(a int)");
    q("COPY relay_copy FROM STDIN");
    wb_pg_put_copy_data(&msg, "1\n2\n", 4);
    wb_pg_put_copy_done(&msg);
    RUN(&d, 1);
    q("COPY relay_copy FROM STDIN");
    wb_pg_put_copy_data(&msg, "x\n", 2);
    wb_pg_put_copy_done(&msg);
    RUN(&d, 1);
    wb_pg_put_parse(&msg, "", "COPY relay_copy FROM STDIN", 0, NULL);
    wb_pg_put_bind(&msg, "", "", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    wb_pg_put_copy_data(&msg, "3\n", 2);
    wb_pg_put_copy_done(&msg);
    wb_pg_put_sync(&msg);
    RUN(&d, 1);
    q("COPY (SELECT generate_series(1, 3)) TO STDOUT");
    RUN(&d, 1);
    /* FunctionCall: int4pl(2, 3) */
    wb_pg_put_function_call(&msg, 177, 0, NULL, 2,
                            (const uint8_t *const[]){(const uint8_t *)"\0\0\0\2", (const uint8_t *)"\0\0\0\3"},
                            (const int32_t[]){4, 4}, 0);
    RUN(&d, 1);
    q("DISCARD ALL");
    RUN(&d, 1);
    q("EXECUTE t1(1, 'a')");
    RUN(&d, 1);
    q("SHOW application_name");
    RUN(&d, 1);
    direct_only(&d, "DROP TABLE relay_copy");

    CHECK(mode == WB_POOL_SESSION ? d.held >= 0 : d.held < 0);
    wb_relay_detach(d.c);
    wb_relay_client_free(d.c);
    for (int i = 0; i < 2; i++) {
        pg_close(&d.srv[i]);
        wb_relay_server_free(d.rs[i]);
    }
    pg_close(&d.direct);
    wb_buf_free(&d.ts);
    wb_buf_free(&d.tc);
    wb_buf_free(&d.dout);
}

/* SET SESSION AUTHORIZATION never stays on a server connection for the
 * next client: the replay resets it first. */
static void test_session_authorization(void)
{
    rig a, b;
    rig_init(&a, WB_POOL_TRANSACTION, NULL, NULL, 0);
    rig_init(&b, WB_POOL_TRANSACTION, NULL, NULL, 0);
    wb_relay_server *s = wb_relay_server_new(0);
    wb_relay_server_param(s, "session_authorization", "alice");
    wb_relay_server_param(s, "is_superuser", "on");
    attach(&a, s);
    TO_SERVER(&a, "");
    wb_pg_put_query(&msg, "SET SESSION AUTHORIZATION bob");
    CHECK(client_sends(&a) == WB_RELAY_OK);
    b_cc("SET");
    wb_pg_put_parameter_status(&msg, "is_superuser", "off");
    wb_pg_put_parameter_status(&msg, "session_authorization", "bob");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "C[SET] S[is_superuser=off] S[session_authorization=bob] ZI");
    wb_buf_clear(&a.ts);
    wb_relay_detach(a.c);
    attach(&b, s);
    TO_SERVER(&b, "Q[RESET SESSION AUTHORIZATION; ]");
    b_cc("RESET");
    wb_pg_put_parameter_status(&msg, "is_superuser", "on");
    wb_pg_put_parameter_status(&msg, "session_authorization", "alice");
    b_z('I');
    CHECK(server_sends(&b) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&b, "");
    wb_relay_detach(b.c);
    attach(&b, s);
    TO_SERVER(&b, "");
    rig_free(&a);
    rig_free(&b);
    wb_relay_server_free(s);
}

/* psycopg 3's maintenance commands, sent with the extended protocol:
 * DEALLOCATE of a client statement answered here (no server needed),
 * DEALLOCATE ALL likewise, DISCARD ALL forwarded and both maps cleared. */
static void test_extended_deallocate(void)
{
    rig a;
    rig_init(&a, WB_POOL_TRANSACTION, NULL, NULL, 0);
    wb_relay_server *s = wb_relay_server_new(0);
    attach(&a, s);
    wb_pg_put_parse(&msg, "_pg3_0", "SELECT 1", 0, NULL);
    wb_pg_put_parse(&msg, "_pg3_1", "SELECT 2", 0, NULL);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    b_empty('1');
    b_empty('1');
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    wb_relay_detach(a.c);
    wb_buf_clear(&a.ts);
    wb_buf_clear(&a.tc);
    CHECK(wb_relay_client_prepared(a.c) == 2);
    /* libpq's PQsendQueryParams: Parse, Bind, Describe portal, Execute, Sync */
    wb_pg_put_parse(&msg, "", "DEALLOCATE _pg3_0", 0, NULL);
    wb_pg_put_bind(&msg, "", "", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_describe(&msg, 'P', "");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "");
    TO_CLIENT(&a, "1 2 n C[DEALLOCATE] ZI");
    CHECK(wb_relay_client_prepared(a.c) == 1);
    wb_pg_put_parse(&msg, "", "DEALLOCATE ALL", 0, NULL);
    wb_pg_put_bind(&msg, "", "", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_describe(&msg, 'P', "");
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "");
    TO_CLIENT(&a, "1 2 n C[DEALLOCATE ALL] ZI");
    CHECK(wb_relay_client_prepared(a.c) == 0);
    /* a name the client lacks: the server says so, in the client's words */
    wb_pg_put_parse(&msg, "", "DEALLOCATE nope", 0, NULL);
    CHECK(client_sends(&a) == WB_RELAY_NEED_SERVER);
    attach(&a, s);
    wb_pg_put_parse(&msg, "", "DEALLOCATE nope", 0, NULL);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    TO_SERVER(&a, "P[|DEALLOCATE nope|0] S");
    b_empty('1');
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    wb_relay_detach(a.c);
    wb_buf_clear(&a.tc);
    /* DISCARD ALL: the server's statements are gone, so are the client's */
    attach(&a, s);
    wb_pg_put_parse(&msg, "keep", "SELECT 3", 0, NULL);
    wb_pg_put_parse(&msg, "", "DISCARD ALL", 0, NULL);
    wb_pg_put_bind(&msg, "", "", 0, NULL, 0, NULL, NULL, 0, NULL);
    wb_pg_put_execute(&msg, "", 0);
    wb_pg_put_sync(&msg);
    CHECK(client_sends(&a) == WB_RELAY_OK);
    wb_buf_clear(&a.ts);
    CHECK(s->count == 3);
    b_empty('1');
    b_empty('1');
    b_empty('2');
    b_cc("DISCARD ALL");
    b_z('I');
    CHECK(server_sends(&a) == WB_RELAY_S_RELEASE);
    TO_CLIENT(&a, "1 1 2 C[DISCARD ALL] ZI");
    CHECK(s->count == 0);
    CHECK(wb_relay_client_prepared(a.c) == 0);
    wb_relay_detach(a.c);
    rig_free(&a);
    wb_relay_server_free(s);
}

int main(void)
{
    test_simple_query();
    test_named_statements();
    test_flush_holds();
    test_close_and_duplicate();
    test_error_skips_to_sync();
    test_lru_and_collision();
    test_sql_prepare();
    test_listen();
    test_parameters();
    test_shared_startup();
    test_copy_and_function_call();
    test_pool_modes();
    test_faults();
    test_set_tracking();
    test_session_authorization();
    test_extended_deallocate();
    test_against_postgres(WB_POOL_TRANSACTION, 0);
    test_against_postgres(WB_POOL_TRANSACTION, 2); /* every few statements evicted */
    test_against_postgres(WB_POOL_SESSION, 0);
    wb_buf_free(&msg);
    return check_report("test_proxy_relay");
}
