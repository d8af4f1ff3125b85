/* test_engine_session: the SQL engine driven through src/server/engine.h with
 * frontend messages built by src/pg/proto.c's encoders, no sockets. Every
 * backend message the engine answers is rendered into a short transcript
 * ("T[id:23]D[1]C[SELECT 1]Z[I]") compared with what PostgreSQL 15 sends
 * for the same input. Each run uses its own throwaway DATADIR.
 * WB_TEST_ONLY=simple,copy,... runs a subset. */
#include "check.h"
#include "server/engine.h"
#include "wirebuf/pg.h"
#include "wirebuf/pgproto.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static wb_engine *eng;
static char datadir[256];

/* ------------------------------------------------------------------ */
/* transcript                                                          */

static void hexs(wb_buf *t, const uint8_t *p, size_t n)
{
    static const char hx[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        wb_buf_putc(t, (uint8_t)hx[p[i] >> 4]);
        wb_buf_putc(t, (uint8_t)hx[p[i] & 15]);
    }
}

/* binary_rows: show DataRow values as hex */
static int binary_rows;

static void render(wb_buf *t, const uint8_t *p, size_t n)
{
    size_t pos = 0;
    while (pos + 5 <= n) {
        wb_pg_msg m;
        size_t need;
        char err[200];
        int r = wb_pg_frame(p + pos, n - pos, 0, &m, &need, err, sizeof err);
        if (r != 1) {
            wb_buf_puts(t, "<bad frame>");
            return;
        }
        pos += 5 + m.len;
        char tmp[600];
        switch (m.type) {
        case 'T': {
            wb_pg_column cols[64];
            uint16_t nc;
            wb_pg_parse_row_description(&m, 64, cols, &nc, err, sizeof err);
            wb_buf_puts(t, "T[");
            for (int i = 0; i < nc; i++) {
                snprintf(tmp, sizeof tmp, "%s%s:%u", i ? "," : "", cols[i].name, cols[i].type_oid);
                wb_buf_puts(t, tmp);
                if (cols[i].typmod != -1) {
                    snprintf(tmp, sizeof tmp, "(%d)", cols[i].typmod);
                    wb_buf_puts(t, tmp);
                }
            }
            wb_buf_puts(t, "]");
            break;
        }
        case 'D': {
            const uint8_t *vals[64];
            int32_t lens[64];
            uint16_t nc;
            wb_pg_parse_datarow(&m, 64, vals, lens, &nc, err, sizeof err);
            wb_buf_puts(t, "D[");
            for (int i = 0; i < nc; i++) {
                if (i)
                    wb_buf_puts(t, "|");
                if (lens[i] < 0)
                    wb_buf_puts(t, "NULL");
                else if (binary_rows)
                    hexs(t, vals[i], (size_t)lens[i]);
                else
                    wb_buf_append(t, vals[i], (size_t)lens[i]);
            }
            wb_buf_puts(t, "]");
            break;
        }
        case 'C': {
            const char *tag;
            wb_pg_parse_command_complete(&m, &tag, err, sizeof err);
            snprintf(tmp, sizeof tmp, "C[%s]", tag);
            wb_buf_puts(t, tmp);
            break;
        }
        case 'E': case 'N': {
            wb_pg_fields f;
            wb_pg_parse_fields(&m, &f, err, sizeof err);
            CHECK(f.severity && f.severity_nonlocal && f.sqlstate); /* S, V, C always */
            snprintf(tmp, sizeof tmp, "%c[%s:%s%s%s%s%s]", m.type, f.sqlstate ? f.sqlstate : "?", f.message ? f.message : "",
                     f.detail ? " / " : "", f.detail ? f.detail : "", f.where ? " @ " : "", f.where ? f.where : "");
            wb_buf_puts(t, tmp);
            break;
        }
        case 'Z': snprintf(tmp, sizeof tmp, "Z[%c]", m.body[0]); wb_buf_puts(t, tmp); break;
        case 't': {
            uint16_t np;
            const uint8_t *o;
            wb_pg_parse_parameter_description(&m, &np, &o, err, sizeof err);
            wb_buf_puts(t, "t[");
            for (int i = 0; i < np; i++) {
                snprintf(tmp, sizeof tmp, "%s%u", i ? "," : "", wb_pg_be32(o + 4 * i));
                wb_buf_puts(t, tmp);
            }
            wb_buf_puts(t, "]");
            break;
        }
        case 'S': {
            const char *nm, *v;
            wb_pg_parse_parameter_status(&m, &nm, &v, err, sizeof err);
            snprintf(tmp, sizeof tmp, "S[%s=%s]", nm, v);
            wb_buf_puts(t, tmp);
            break;
        }
        case 'G': case 'H': {
            wb_pg_copy_response cr;
            wb_pg_parse_copy_response(&m, &cr, err, sizeof err);
            snprintf(tmp, sizeof tmp, "%c[%d,%u]", m.type, cr.format, cr.ncols);
            wb_buf_puts(t, tmp);
            break;
        }
        case 'd':
            wb_buf_puts(t, "d[");
            if (binary_rows)
                hexs(t, m.body, m.len);
            else
                wb_buf_append(t, m.body, m.len);
            wb_buf_puts(t, "]");
            break;
        default: {
            char c[2] = {(char)m.type, 0};
            wb_buf_puts(t, c);
        }
        }
    }
}

/* Feed every frontend message in msgs to the engine; transcript of all
 * answers (resuming after WB_ENGINE_MORE). */
static enum wb_engine_status last_status;
static char *feed(wb_engine_session *s, const wb_buf *msgs)
{
    wb_buf out = {0}, t = {0};
    size_t pos = 0;
    while (pos < msgs->len) {
        wb_pg_msg m;
        size_t need;
        char err[200];
        int r = wb_pg_frame(msgs->p + pos, msgs->len - pos, 0, &m, &need, err, sizeof err);
        if (r != 1)
            break;
        pos += 5 + m.len;
        enum wb_engine_status st = wb_engine_message(s, m.type, m.body, m.len, &out);
        while (st == WB_ENGINE_MORE) {
            CHECK(out.len >= WB_ENGINE_OUT_HIGH);
            render(&t, out.p, out.len);
            out.len = 0;
            st = wb_engine_resume(s, &out);
        }
        last_status = st;
        if (st == WB_ENGINE_CLOSE || st == WB_ENGINE_NOMEM)
            break;
    }
    render(&t, out.p, out.len);
    wb_buf_free(&out);
    wb_buf_putc(&t, 0);
    return (char *)t.p;
}

static char *q(wb_engine_session *s, const char *sql)
{
    wb_buf m = {0};
    wb_pg_put_query(&m, sql);
    char *r = feed(s, &m);
    wb_buf_free(&m);
    return r;
}

static int expect_eq(const char *got, const char *want, const char *file, int line)
{
    check_count++;
    if (strcmp(got, want) != 0) {
        check_failures++;
        fprintf(stderr, "%s:%d: mismatch\n  want: %s\n  got:  %s\n", file, line, want, got);
        return 0;
    }
    return 1;
}
#define EXPECT(got_expr, want)                                                                                         \
    do {                                                                                                               \
        char *g_ = (got_expr);                                                                                         \
        expect_eq(g_, (want), __FILE__, __LINE__);                                                                     \
        free(g_);                                                                                                      \
    } while (0)
/* the transcript starts with want */
#define EXPECT_PREFIX(got_expr, want)                                                                                  \
    do {                                                                                                               \
        char *g_ = (got_expr);                                                                                         \
        size_t wl_ = strlen(want);                                                                                     \
        char sv_ = 0;                                                                                                  \
        if (strlen(g_) > wl_) {                                                                                        \
            sv_ = g_[wl_];                                                                                             \
            g_[wl_] = 0;                                                                                               \
        }                                                                                                              \
        expect_eq(g_, (want), __FILE__, __LINE__);                                                                     \
        (void)sv_;                                                                                                     \
        free(g_);                                                                                                      \
    } while (0)

/* numeric's binary form as hex (src/pg/types.c, checked against
 * PostgreSQL by the client's tests) */
static const char *numeric_hex(const char *text)
{
    static char h[200];
    wb_buf b = {0}, t = {0};
    wb_pg_numeric_from_text(text, strlen(text), &b);
    hexs(&t, b.p, b.len);
    wb_buf_putc(&t, 0);
    snprintf(h, sizeof h, "%s", (char *)t.p);
    wb_buf_free(&b);
    wb_buf_free(&t);
    return h;
}

static wb_engine_session *connect_db(const char *db, char *transcript, size_t tlen)
{
    wb_buf out = {0};
    wb_engine_error err;
    const char *names[] = {"application_name", "client_encoding"};
    const char *values[] = {"test_engine", "UTF8"};
    static atomic_int next_pid = 1000;
    wb_engine_session *s = wb_engine_session_new(eng, db, "postgres", names, values, 2, atomic_fetch_add(&next_pid, 1),
                                                 &out, &err);
    if (transcript) {
        wb_buf t = {0};
        if (s)
            render(&t, out.p, out.len);
        else {
            wb_buf_puts(&t, err.sqlstate);
            wb_buf_puts(&t, ":");
            wb_buf_puts(&t, err.message);
        }
        wb_buf_putc(&t, 0);
        snprintf(transcript, tlen, "%s", (char *)t.p);
        wb_buf_free(&t);
    }
    wb_buf_free(&out);
    return s;
}

static int want(const char *name)
{
    const char *only = getenv("WB_TEST_ONLY");
    if (!only || !*only)
        return 1;
    size_t n = strlen(name);
    for (const char *p = only; (p = strstr(p, name)); p += n)
        if ((p == only || p[-1] == ',') && (p[n] == 0 || p[n] == ','))
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* hooks                                                               */

static pthread_mutex_t hook_mu = PTHREAD_MUTEX_INITIALIZER;
static char notified[1024];
static wb_engine_session *registry[64];
static int32_t registry_pid[64];

static void on_notify(void *ctx, const char *db, const char *channel, const char *payload, int32_t pid)
{
    (void)ctx;
    (void)pid;
    pthread_mutex_lock(&hook_mu);
    size_t l = strlen(notified);
    snprintf(notified + l, sizeof notified - l, "%s/%s/%s;", db, channel, payload);
    pthread_mutex_unlock(&hook_mu);
}

static int on_signal(void *ctx, int32_t pid, int terminate)
{
    (void)ctx;
    pthread_mutex_lock(&hook_mu);
    int found = 0;
    for (int i = 0; i < 64; i++)
        if (registry[i] && registry_pid[i] == pid) {
            wb_engine_session_interrupt(registry[i], terminate);
            found = 1;
        }
    pthread_mutex_unlock(&hook_mu);
    return found;
}

/* ------------------------------------------------------------------ */
/* tests                                                               */

static void test_startup(void)
{
    char t[4096];
    wb_engine_session *s = connect_db("postgres", t, sizeof t);
    CHECK(s != NULL);
    CHECK(strstr(t, "S[server_version=15.") != NULL);
    CHECK(strstr(t, "S[server_encoding=UTF8]") != NULL);
    CHECK(strstr(t, "S[client_encoding=UTF8]") != NULL);
    CHECK(strstr(t, "S[DateStyle=ISO, MDY]") != NULL);
    CHECK(strstr(t, "S[IntervalStyle=postgres]") != NULL);
    CHECK(strstr(t, "S[TimeZone=") != NULL);
    CHECK(strstr(t, "S[integer_datetimes=on]") != NULL);
    CHECK(strstr(t, "S[standard_conforming_strings=on]") != NULL);
    CHECK(strstr(t, "S[application_name=test_engine]") != NULL);
    CHECK(strstr(t, "S[is_superuser=on]") != NULL);
    CHECK(strstr(t, "S[session_authorization=postgres]") != NULL);
    CHECK(strstr(t, "S[default_transaction_read_only=off]") != NULL);
    CHECK(strstr(t, "S[in_hot_standby=off]") != NULL);
    CHECK(wb_engine_session_txn_status(s) == 'I');
    wb_engine_session_free(s);
    /* a missing database is 3D000 */
    CHECK(connect_db("nosuchdb", t, sizeof t) == NULL);
    CHECK(strcmp(t, "3D000:database \"nosuchdb\" does not exist") == 0);
}

static void test_simple(void)
{
    wb_engine_session *s = connect_db("postgres", NULL, 0);
    EXPECT(q(s, "CREATE TABLE t (id int PRIMARY KEY, name text, n bigint)"), "C[CREATE TABLE]Z[I]");
    EXPECT(q(s, "INSERT INTO t VALUES (1, 'one', 10), (2, 'two', 20)"), "C[INSERT 0 2]Z[I]");
    EXPECT(q(s, "SELECT id, name, n FROM t ORDER BY id"),
           "T[id:23,name:25,n:20]D[1|one|10]D[2|two|20]C[SELECT 2]Z[I]");
    EXPECT(q(s, "UPDATE t SET n = n + 1 WHERE id = 1"), "C[UPDATE 1]Z[I]");
    EXPECT(q(s, "DELETE FROM t WHERE id = 7"), "C[DELETE 0]Z[I]");
    EXPECT(q(s, ""), "IZ[I]");
    EXPECT(q(s, "  -- only a comment\n"), "IZ[I]");
    /* several statements: one implicit transaction; an error rolls back
     * the statements before it and skips the rest */
    EXPECT(q(s, "INSERT INTO t VALUES (3, 'three', 30); INSERT INTO t VALUES (1, 'dup', 0); SELECT 1"),
           "C[INSERT 0 1]E[23505:duplicate key value violates unique constraint \"t_pkey\" / Key (id)=(1) already "
           "exists.]Z[I]");
    EXPECT(q(s, "SELECT count(*) FROM t"), "T[count:20]D[2]C[SELECT 1]Z[I]");
    EXPECT(q(s, "INSERT INTO t VALUES (3, 'three', 30); SELECT name FROM t WHERE id = 3"),
           "C[INSERT 0 1]T[name:25]D[three]C[SELECT 1]Z[I]");
    /* errors */
    EXPECT(q(s, "SELECT * FROM nosuch"), "E[42P01:relation \"nosuch\" does not exist]Z[I]");
    EXPECT_PREFIX(q(s, "SELEC 1"), "E[42601:");
    EXPECT(q(s, "SELECT 1/0"), "T[?column?:23]E[22012:division by zero]Z[I]");
    EXPECT(q(s, "INSERT INTO t (id) VALUES (NULL)"),
           "E[23502:null value in column \"id\" of relation \"t\" violates not-null constraint]Z[I]");
    EXPECT(q(s, "DROP TABLE t"), "C[DROP TABLE]Z[I]");
    wb_engine_session_free(s);
}

static void test_transactions(void)
{
    wb_engine_session *s = connect_db("postgres", NULL, 0);
    EXPECT(q(s, "CREATE TABLE tx (id int PRIMARY KEY, v text)"), "C[CREATE TABLE]Z[I]");
    EXPECT(q(s, "BEGIN"), "C[BEGIN]Z[T]");
    CHECK(wb_engine_session_txn_status(s) == 'T');
    EXPECT(q(s, "INSERT INTO tx VALUES (1, 'a')"), "C[INSERT 0 1]Z[T]");
    EXPECT(q(s, "SELECT * FROM nosuch"), "E[42P01:relation \"nosuch\" does not exist]Z[E]");
    EXPECT(q(s, "SELECT 1"),
           "E[25P02:current transaction is aborted, commands ignored until end of transaction block]Z[E]");
    EXPECT(q(s, "COMMIT"), "C[ROLLBACK]Z[I]");
    EXPECT(q(s, "SELECT count(*) FROM tx"), "T[count:20]D[0]C[SELECT 1]Z[I]");
    /* now() is the transaction's start: the same for every statement of a block */
    {
        char *a = q(s, "BEGIN; SELECT now()::text");
        struct timespec d = {0, 20 * 1000000};
        nanosleep(&d, NULL);
        char *b = q(s, "SELECT now()::text; COMMIT");
        char *ta = strstr(a, "D["), *tb = strstr(b, "D[");
        CHECK(ta && tb && strncmp(ta, tb, 30) == 0);
        free(a);
        free(b);
        a = q(s, "SELECT now()::text");
        nanosleep(&d, NULL);
        b = q(s, "SELECT now()::text");
        ta = strstr(a, "D["), tb = strstr(b, "D[");
        CHECK(ta && tb && strncmp(ta, tb, 30) != 0); /* autocommit: each its own */
        free(a);
        free(b);
    }
    /* savepoints */
    EXPECT(q(s, "BEGIN; INSERT INTO tx VALUES (1, 'a'); SAVEPOINT s1; INSERT INTO tx VALUES (2, 'b')"),
           "C[BEGIN]C[INSERT 0 1]C[SAVEPOINT]C[INSERT 0 1]Z[T]");
    EXPECT_PREFIX(q(s, "INSERT INTO tx VALUES (1, 'dup')"), "E[23505:");
    EXPECT(q(s, "ROLLBACK TO SAVEPOINT s1"), "C[ROLLBACK]Z[T]");
    EXPECT(q(s, "INSERT INTO tx VALUES (3, 'c'); RELEASE s1; COMMIT"), "C[INSERT 0 1]C[RELEASE]C[COMMIT]Z[I]");
    EXPECT(q(s, "SELECT id, v FROM tx ORDER BY id"), "T[id:23,v:25]D[1|a]D[3|c]C[SELECT 2]Z[I]");
    EXPECT(q(s, "ROLLBACK"), "N[25P01:there is no transaction in progress]C[ROLLBACK]Z[I]");
    EXPECT(q(s, "SAVEPOINT x"), "E[25P01:SAVEPOINT can only be used in transaction blocks]Z[I]");
    /* ROLLBACK undoes */
    EXPECT(q(s, "BEGIN; DELETE FROM tx; ROLLBACK; SELECT count(*) FROM tx"),
           "C[BEGIN]C[DELETE 2]C[ROLLBACK]T[count:20]D[2]C[SELECT 1]Z[I]");
    /* DDL in a block is committed with it (psycopg2 creates tables so) */
    EXPECT(q(s, "BEGIN"), "C[BEGIN]Z[T]");
    EXPECT(q(s, "DROP TABLE IF EXISTS p3"), "C[DROP TABLE]Z[T]");
    EXPECT(q(s, "CREATE TABLE p3 (id serial PRIMARY KEY, v text NOT NULL)"), "C[CREATE TABLE]Z[T]");
    EXPECT(q(s, "COMMIT"), "C[COMMIT]Z[I]");
    EXPECT(q(s, "INSERT INTO p3 (v) VALUES ('kept') RETURNING id"), "T[id:23]D[1]C[INSERT 0 1]Z[I]");
    EXPECT(q(s, "DROP TABLE p3"), "C[DROP TABLE]Z[I]");
    /* freeing a session inside a transaction rolls it back */
    EXPECT(q(s, "BEGIN; DELETE FROM tx"), "C[BEGIN]C[DELETE 2]Z[T]");
    wb_engine_session_free(s);
    s = connect_db("postgres", NULL, 0);
    EXPECT(q(s, "SELECT count(*) FROM tx"), "T[count:20]D[2]C[SELECT 1]Z[I]");
    EXPECT(q(s, "DROP TABLE tx"), "C[DROP TABLE]Z[I]");
    wb_engine_session_free(s);
}

static void put_bind_text(wb_buf *m, const char *portal, const char *stmt, int n, const char **vals, int nres,
                          const int16_t *rfmt)
{
    const uint8_t *v[16];
    int32_t l[16];
    for (int i = 0; i < n; i++) {
        v[i] = (const uint8_t *)vals[i];
        l[i] = vals[i] ? (int32_t)strlen(vals[i]) : -1;
    }
    wb_pg_put_bind(m, portal, stmt, 0, NULL, (uint16_t)n, v, l, (uint16_t)nres, rfmt);
}

static void test_extended(void)
{
    wb_engine_session *s = connect_db("postgres", NULL, 0);
    EXPECT(q(s, "CREATE TABLE e (id int PRIMARY KEY, name varchar(20), price numeric(10,2))"), "C[CREATE TABLE]Z[I]");
    wb_buf m = {0};
    /* named statement, types inferred: ParameterDescription from the columns */
    wb_pg_put_parse(&m, "ins", "INSERT INTO e (id, name, price) VALUES ($1, $2, $3)", 0, NULL);
    wb_pg_put_describe(&m, 'S', "ins");
    const char *v1[] = {"1", "apple", "1.5"};
    put_bind_text(&m, "", "ins", 3, v1, 0, NULL);
    wb_pg_put_execute(&m, "", 0);
    const char *v2[] = {"2", "pear", "0.255"};
    put_bind_text(&m, "", "ins", 3, v2, 0, NULL);
    wb_pg_put_execute(&m, "", 0);
    wb_pg_put_sync(&m);
    EXPECT(feed(s, &m), "1t[23,1043,1700]n2C[INSERT 0 1]2C[INSERT 0 1]Z[I]");
    m.len = 0;
    /* row description with typmods; numeric scale in the text output */
    wb_pg_put_parse(&m, "", "SELECT id, name, price FROM e WHERE id >= $1 ORDER BY id", 0, NULL);
    wb_pg_put_describe(&m, 'S', "");
    const char *v3[] = {"1"};
    put_bind_text(&m, "p", "", 1, v3, 0, NULL);
    wb_pg_put_describe(&m, 'P', "p");
    wb_pg_put_execute(&m, "p", 1);
    wb_pg_put_execute(&m, "p", 1);
    wb_pg_put_execute(&m, "p", 1);
    wb_pg_put_sync(&m);
    EXPECT(feed(s, &m),
           "1t[23]T[id:23,name:1043(24),price:1700(655366)]2T[id:23,name:1043(24),price:1700(655366)]"
           "D[1|apple|1.50]sD[2|pear|0.26]sC[SELECT 0]Z[I]");
    m.len = 0;
    /* binary parameters and binary results */
    wb_pg_put_parse(&m, "sel", "SELECT id, name, price FROM e WHERE id = $1", 1, (uint32_t[]){23});
    uint8_t id2[4];
    wb_pg_put_i32(id2, 2);
    const uint8_t *bv[] = {id2};
    int32_t bl[] = {4};
    int16_t one = 1;
    int16_t rf[] = {1, 0, 1};
    wb_pg_put_bind(&m, "", "sel", 1, &one, 1, bv, bl, 3, rf);
    wb_pg_put_execute(&m, "", 0);
    wb_pg_put_sync(&m);
    binary_rows = 1;
    {
        char want[200];
        snprintf(want, sizeof want, "12D[00000002|70656172|%s]C[SELECT 1]Z[I]", numeric_hex("0.26"));
        EXPECT(feed(s, &m), want);
    }
    binary_rows = 0;
    m.len = 0;
    /* errors: skip until Sync, 26000, 34000 */
    put_bind_text(&m, "", "nosuch", 0, NULL, 0, NULL);
    wb_pg_put_execute(&m, "", 0);
    wb_pg_put_sync(&m);
    wb_pg_put_describe(&m, 'P', "nope");
    wb_pg_put_sync(&m);
    EXPECT(feed(s, &m), "E[26000:prepared statement \"nosuch\" does not exist]Z[I]E[34000:portal \"nope\" does not "
                        "exist]Z[I]");
    m.len = 0;
    /* a bad parameter value */
    const char *bad[] = {"x1", "q", "1"};
    put_bind_text(&m, "", "ins", 3, bad, 0, NULL);
    wb_pg_put_execute(&m, "", 0);
    wb_pg_put_sync(&m);
    EXPECT(feed(s, &m), "E[22P02:invalid input syntax for type integer: \"x1\"]Z[I]");
    m.len = 0;
    /* a pipeline: an error in the implicit transaction rolls back the
     * statements before it up to Sync; the next batch runs */
    const char *v4[] = {"3", "fig", "2"};
    put_bind_text(&m, "", "ins", 3, v4, 0, NULL);
    wb_pg_put_execute(&m, "", 0);
    put_bind_text(&m, "", "ins", 3, v1, 0, NULL);
    wb_pg_put_execute(&m, "", 0);
    put_bind_text(&m, "", "ins", 3, v4, 0, NULL);
    wb_pg_put_execute(&m, "", 0);
    wb_pg_put_sync(&m);
    wb_pg_put_parse(&m, "", "SELECT count(*) FROM e", 0, NULL);
    put_bind_text(&m, "", "", 0, NULL, 0, NULL);
    wb_pg_put_execute(&m, "", 0);
    wb_pg_put_sync(&m);
    EXPECT(feed(s, &m), "2C[INSERT 0 1]2E[23505:duplicate key value violates unique constraint \"e_pkey\" / Key (id)=(1) "
                        "already exists.]Z[I]12D[2]C[SELECT 1]Z[I]");
    /* (the rendered SELECT shows no T: no Describe was sent) */
    m.len = 0;
    wb_pg_put_parse(&m, "", "SELECT count(*) FROM e", 0, NULL);
    wb_pg_put_describe(&m, 'S', "");
    put_bind_text(&m, "", "", 0, NULL, 0, NULL);
    wb_pg_put_execute(&m, "", 0);
    wb_pg_put_sync(&m);
    EXPECT(feed(s, &m), "1t[]T[count:20]2D[2]C[SELECT 1]Z[I]");
    m.len = 0;
    /* Close, a statement used after Close */
    wb_pg_put_close(&m, 'S', "sel");
    wb_pg_put_sync(&m);
    put_bind_text(&m, "", "sel", 0, NULL, 0, NULL);
    wb_pg_put_sync(&m);
    EXPECT(feed(s, &m), "3Z[I]E[26000:prepared statement \"sel\" does not exist]Z[I]");
    m.len = 0;
    /* BEGIN through the extended protocol, then an error: block fails */
    wb_pg_put_parse(&m, "", "BEGIN", 0, NULL);
    put_bind_text(&m, "", "", 0, NULL, 0, NULL);
    wb_pg_put_execute(&m, "", 0);
    wb_pg_put_sync(&m);
    EXPECT(feed(s, &m), "12C[BEGIN]Z[T]");
    EXPECT(q(s, "ROLLBACK"), "C[ROLLBACK]Z[I]");
    wb_buf_free(&m);
    EXPECT(q(s, "DROP TABLE e"), "C[DROP TABLE]Z[I]");
    wb_engine_session_free(s);
}

static void test_types(void)
{
    wb_engine_session *s = connect_db("postgres", NULL, 0);
    EXPECT(q(s, "CREATE TABLE ty (b boolean, i2 smallint, i8 bigint, f8 double precision, f4 real, n numeric(12,3), "
                "by bytea, ts timestamp, tz timestamptz, d date, u uuid, j jsonb, ia int[])"),
           "C[CREATE TABLE]Z[I]");
    wb_buf m = {0};
    wb_pg_put_parse(&m, "tyi", "INSERT INTO ty VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)", 0, NULL);
    const char *v[] = {"true", "-7", "9007199254740993", "0.1", "1.5", "12.3456", "\\xdeadbeef", "2024-02-29 13:45:06.5",
                       "2024-02-29 13:45:06+02", "2024-02-29", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                       "{\"a\": 1}", "{1,2,NULL}"};
    put_bind_text(&m, "", "tyi", 13, v, 0, NULL);
    wb_pg_put_execute(&m, "", 0);
    wb_pg_put_sync(&m);
    EXPECT(feed(s, &m), "12C[INSERT 0 1]Z[I]");
    EXPECT(q(s, "INSERT INTO ty (b, n) VALUES (false, NULL)"), "C[INSERT 0 1]Z[I]");
    /* date input as pgjdbc sends it; a bad date is 22007 */
    m.len = 0;
    wb_pg_put_parse(&m, "", "SELECT $1::date", 1, (uint32_t[]){1082});
    const char *dv[] = {"2024-02-29 +00"};
    put_bind_text(&m, "", "", 1, dv, 0, NULL);
    wb_pg_put_execute(&m, "", 0);
    const char *dbad[] = {"2023-02-29"};
    put_bind_text(&m, "", "", 1, dbad, 0, NULL);
    wb_pg_put_execute(&m, "", 0);
    wb_pg_put_sync(&m);
    EXPECT(feed(s, &m), "12D[2024-02-29]C[SELECT 1]E[22007:invalid input syntax for type date: \"2023-02-29\"]Z[I]");
    EXPECT(q(s, "SELECT b, i2, i8, f8, f4, n, by, ts, tz, d, u, ia FROM ty ORDER BY b DESC"),
           "T[b:16,i2:21,i8:20,f8:701,f4:700,n:1700(786439),by:17,ts:1114,tz:1184,d:1082,u:2950,ia:1007]"
           "D[t|-7|9007199254740993|0.1|1.5|12.346|\\xdeadbeef|2024-02-29 13:45:06.5|2024-02-29 11:45:06+00|2024-02-29|"
           "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|{1,2,NULL}]"
           "D[f|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL]C[SELECT 2]Z[I]");
    /* binary results for the same row */
    m.len = 0;
    wb_pg_put_parse(&m, "", "SELECT b, i2, i8, f8, n, by, ts, d, u, ia FROM ty WHERE b", 0, NULL);
    int16_t one = 1;
    wb_pg_put_bind(&m, "", "", 0, NULL, 0, NULL, NULL, 1, &one);
    wb_pg_put_execute(&m, "", 0);
    wb_pg_put_sync(&m);
    binary_rows = 1;
    char want[600];
    snprintf(want, sizeof want, "12D[01|fff9|0020000000000001|3fb999999999999a|%s|deadbeef|"
                        "0002b5843c5d9da0|00002279|a0eebc999c0b4ef8bb6d6bb9bd380a11|"
                        "000000010000000100000017000000030000000100000004000000010000000400000002ffffffff]"
                        "C[SELECT 1]Z[I]", numeric_hex("12.346"));
    EXPECT(feed(s, &m), want);
    binary_rows = 0;
    wb_buf_free(&m);
    /* float output as float8out/float4out (shortest exact digits) */
    EXPECT(q(s, "CREATE TABLE fl (d float8, r real)"), "C[CREATE TABLE]Z[I]");
    EXPECT(q(s, "INSERT INTO fl VALUES (0.30000000000000004, 0.1), (1e15, 1e6), (123456.789, 123456.7), "
                "(-0.0001, 1.5e-5), (1e-5, 3.4e38)"),
           "C[INSERT 0 5]Z[I]");
    EXPECT(q(s, "SELECT d, r FROM fl"),
           "T[d:701,r:700]D[0.30000000000000004|0.1]D[1e+15|1e+06]D[123456.789|123456.7]D[-0.0001|1.5e-05]"
           "D[1e-05|3.4e+38]C[SELECT 5]Z[I]");
    EXPECT(q(s, "DROP TABLE fl"), "C[DROP TABLE]Z[I]");
    /* interval as interval_out prints it, whatever form it came in */
    EXPECT(q(s, "CREATE TABLE iv (i interval)"), "C[CREATE TABLE]Z[I]");
    EXPECT(q(s, "INSERT INTO iv VALUES ('3 days 14405.000000 seconds'), ('P1DT2H'), ('1 day ago'), ('1 year 14 mons'), "
                "('-1 days +02:03:00')"),
           "C[INSERT 0 5]Z[I]");
    EXPECT(q(s, "SELECT i FROM iv"), "T[i:1186]D[3 days 04:00:05]D[1 day 02:00:00]D[-1 days]D[2 years 2 mons]"
                                     "D[-1 days +02:03:00]C[SELECT 5]Z[I]");
    EXPECT(q(s, "DROP TABLE ty; DROP TABLE iv"), "C[DROP TABLE]C[DROP TABLE]Z[I]");
    wb_engine_session_free(s);
}

static char *copy_in(wb_engine_session *s, const char *sql, const char **chunks, int n, int fail)
{
    wb_buf m = {0};
    wb_pg_put_query(&m, sql);
    for (int i = 0; i < n; i++)
        wb_pg_put_copy_data(&m, chunks[i], strlen(chunks[i]));
    if (fail)
        wb_pg_put_copy_fail(&m, "client gave up");
    else
        wb_pg_put_copy_done(&m);
    char *r = feed(s, &m);
    wb_buf_free(&m);
    return r;
}

static void test_copy(void)
{
    wb_engine_session *s = connect_db("postgres", NULL, 0);
    EXPECT(q(s, "CREATE TABLE c (id int PRIMARY KEY, t text, f float8, d date)"), "C[CREATE TABLE]Z[I]");
    const char *text[] = {"1\tone\t1.5\t2024-01-02\n2\ttab\\there\t\\N\t", "\\N\n3\tback\\\\slash\t-0.25\t2020-02-29\n"};
    EXPECT(copy_in(s, "COPY c FROM STDIN", text, 2, 0), "G[0,4]C[COPY 3]Z[I]");
    const char *csv[] = {"id,t,f,d\n4,\"quoted, comma\",2,\n5,\"multi\nline\",,2001-01-01\n6,\"\",3,\n"};
    EXPECT(copy_in(s, "COPY c (id, t, f, d) FROM STDIN WITH (FORMAT csv, HEADER)", csv, 1, 0), "G[0,4]C[COPY 3]Z[I]");
    EXPECT(q(s, "COPY c TO STDOUT"),
           "H[0,4]d[1\tone\t1.5\t2024-01-02\n]d[2\ttab\\there\t\\N\t\\N\n]d[3\tback\\\\slash\t-0.25\t2020-02-29\n]"
           "d[4\tquoted, comma\t2\t\\N\n]d[5\tmulti\\nline\t\\N\t2001-01-01\n]d[6\t\t3\t\\N\n]cC[COPY 6]Z[I]");
    EXPECT(q(s, "COPY (SELECT id, t FROM c WHERE id IN (4, 5, 6) ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER, "
                "FORCE_QUOTE (id))"),
           "H[0,2]d[id,t\n]d[\"4\",\"quoted, comma\"\n]d[\"5\",\"multi\nline\"\n]d[\"6\",\"\"\n]cC[COPY 3]Z[I]");
    /* CopyFail and a bad row leave nothing behind */
    const char *more[] = {"7\tseven\t1\t2024-01-01\n"};
    EXPECT(copy_in(s, "COPY c FROM STDIN", more, 1, 1), "G[0,4]E[57014:COPY from stdin failed: client gave up]Z[I]");
    const char *bad[] = {"8\teight\t1\t2024-01-01\n9\tnine\tx\t2024-01-01\n"};
    EXPECT(copy_in(s, "COPY c FROM STDIN", bad, 1, 0),
           "G[0,4]E[22P02:invalid input syntax for type double precision: \"x\" @ COPY c, line 2, column f: \"x\"]Z[I]");
    const char *dup[] = {"10\tten\t1\t2024-01-01\n1\tdup\t1\t2024-01-01\n"};
    EXPECT(copy_in(s, "COPY c FROM STDIN", dup, 1, 0),
           "G[0,4]E[23505:duplicate key value violates unique constraint \"c_pkey\" / Key (id)=(1) already exists. @ "
           "COPY c, line 2]Z[I]");
    const char *shortrow[] = {"11\televen\n"};
    EXPECT(copy_in(s, "COPY c FROM STDIN", shortrow, 1, 0),
           "G[0,4]E[22P04:missing data for column \"f\" @ COPY c, line 1]Z[I]");
    EXPECT(q(s, "SELECT count(*) FROM c"), "T[count:20]D[6]C[SELECT 1]Z[I]");
    /* rows go in as multi-row INSERTs of 64 (copy.c): a failure inside a
     * full batch, a value error after rows not inserted yet, rows split
     * across CopyData, the rest of a batch at CopyDone; each error names
     * the first bad line as row-by-row would */
    {
        wb_buf d = {0};
        for (int i = 100; i < 300; i++) { /* lines 1..200; line 101 (id 200) is fine */
            char l[64];
            snprintf(l, sizeof l, "%d\tr%d\t%d.5\t2024-01-%02d\n", i, i, i, 1 + i % 28);
            wb_buf_puts(&d, l);
        }
        wb_buf_putc(&d, 0);
        char *all = (char *)d.p;
        const char *ok[] = {all};
        EXPECT(copy_in(s, "COPY c FROM STDIN", ok, 1, 0), "G[0,4]C[COPY 200]Z[I]");
        EXPECT(q(s, "SELECT count(*), sum(id), sum(f) FROM c WHERE id >= 100"),
               "T[count:20,sum:20,sum:701]D[200|39900|40000]C[SELECT 1]Z[I]");
        EXPECT(q(s, "DELETE FROM c WHERE id >= 100"), "C[DELETE 200]Z[I]");
        /* split mid-line into three CopyData */
        size_t n = strlen(all);
        char *p1 = strndup(all, 1000), *p2 = strndup(all + 1000, 3000), *p3 = strdup(all + 4000);
        const char *split[] = {p1, p2, p3};
        (void)n;
        EXPECT(copy_in(s, "COPY c FROM STDIN", split, 3, 0), "G[0,4]C[COPY 200]Z[I]");
        EXPECT(q(s, "DELETE FROM c WHERE id >= 100"), "C[DELETE 200]Z[I]");
        free(p1), free(p2), free(p3);
        /* line 100 (in the second batch of 64) repeats id 1 */
        char *dupline = strstr(all, "199\t");
        memcpy(dupline, "001", 3);
        EXPECT(copy_in(s, "COPY c FROM STDIN", ok, 1, 0),
               "G[0,4]E[23505:duplicate key value violates unique constraint \"c_pkey\" / Key (id)=(1) already exists. "
               "@ COPY c, line 100]Z[I]");
        /* and line 110 has a bad float: line 100's error comes first */
        char *badf = strstr(all, "\tr209\t209.5");
        memcpy(badf + 6, "x", 1);
        EXPECT_PREFIX(copy_in(s, "COPY c FROM STDIN", ok, 1, 0), "G[0,4]E[23505:");
        memcpy(dupline, "199", 3);
        EXPECT(copy_in(s, "COPY c FROM STDIN", ok, 1, 0),
               "G[0,4]E[22P02:invalid input syntax for type double precision: \"x09.5\" @ COPY c, line 110, "
               "column f: \"x09.5\"]Z[I]");
        /* the last line (in the partial batch at CopyDone) is short */
        memcpy(badf + 6, "2", 1);
        d.len -= 1;
        while (d.len && d.p[d.len - 1] != '\t')
            d.len--;
        d.len--;
        wb_buf_puts(&d, "\n");
        wb_buf_putc(&d, 0);
        all = (char *)d.p;
        const char *shortlast[] = {all};
        EXPECT(copy_in(s, "COPY c FROM STDIN", shortlast, 1, 0),
               "G[0,4]E[22P04:missing data for column \"d\" @ COPY c, line 200]Z[I]");
        /* csv in batches */
        wb_buf_clear(&d);
        for (int i = 100; i < 230; i++) {
            char l[64];
            snprintf(l, sizeof l, "%d,\"r,%d\",%d,\n", i, i, i);
            wb_buf_puts(&d, l);
        }
        wb_buf_putc(&d, 0);
        const char *csvb[] = {(const char *)d.p};
        EXPECT(copy_in(s, "COPY c FROM STDIN (FORMAT csv)", csvb, 1, 0), "G[0,4]C[COPY 130]Z[I]");
        EXPECT(q(s, "SELECT count(*), min(t), sum(f) FROM c WHERE id >= 100 AND d IS NULL"),
               "T[count:20,min:25,sum:701]D[130|r,100|21385]C[SELECT 1]Z[I]");
        EXPECT(q(s, "DELETE FROM c WHERE id >= 100"), "C[DELETE 130]Z[I]");
        wb_buf_free(&d);
    }
    EXPECT(q(s, "SELECT count(*) FROM c"), "T[count:20]D[6]C[SELECT 1]Z[I]");
    /* binary out and back in */
    binary_rows = 1;
    char *bin = q(s, "COPY (SELECT id, t FROM c WHERE id = 1) TO STDOUT (FORMAT binary)");
    binary_rows = 0;
    expect_eq(bin,
              "H[1,2]d[5047434f50590aff0d0a00000000000000000000020000000400000001000000036f6e65]d[ffff]cC[COPY 1]Z[I]",
              __FILE__, __LINE__);
    free(bin);
    EXPECT(q(s, "CREATE TABLE c2 (id int, t text)"), "C[CREATE TABLE]Z[I]");
    {
        static const uint8_t data[] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                       0, 2, 0, 0, 0, 4, 0, 0, 0, 42, 0, 0, 0, 2, 'h', 'i',
                                       0, 2, 0, 0, 0, 4, 0, 0, 0, 43, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
        wb_buf m = {0};
        wb_pg_put_query(&m, "COPY c2 FROM STDIN (FORMAT binary)");
        wb_pg_put_copy_data(&m, data, 30); /* split mid-tuple */
        wb_pg_put_copy_data(&m, data + 30, sizeof data - 30);
        wb_pg_put_copy_done(&m);
        EXPECT(feed(s, &m), "G[1,2]C[COPY 2]Z[I]");
        wb_buf_free(&m);
    }
    EXPECT(q(s, "SELECT id, t FROM c2 ORDER BY id"), "T[id:23,t:25]D[42|hi]D[43|NULL]C[SELECT 2]Z[I]");
    /* inside a transaction block: a failed COPY fails the block, ROLLBACK TO
     * keeps what came before */
    EXPECT(q(s, "BEGIN; INSERT INTO c2 VALUES (1, 'x'); SAVEPOINT a"), "C[BEGIN]C[INSERT 0 1]C[SAVEPOINT]Z[T]");
    const char *bad2[] = {"2\tok\nzz\tbad\n"};
    EXPECT_PREFIX(copy_in(s, "COPY c2 FROM STDIN", bad2, 1, 0), "G[0,2]E[22P02:");
    CHECK(wb_engine_session_txn_status(s) == 'E');
    EXPECT(q(s, "ROLLBACK TO a; COMMIT"), "C[ROLLBACK]C[COMMIT]Z[I]");
    EXPECT(q(s, "SELECT count(*) FROM c2"), "T[count:20]D[3]C[SELECT 1]Z[I]");
    /* the session freed mid-COPY (client gone): nothing left behind */
    {
        wb_buf m = {0}, out = {0};
        wb_pg_put_query(&m, "COPY c2 FROM STDIN");
        wb_pg_put_copy_data(&m, "100\tgone\n", 9);
        char *r = feed(s, &m);
        CHECK(strcmp(r, "G[0,2]") == 0);
        free(r);
        wb_engine_session_free(s);
        wb_buf_free(&m);
        wb_buf_free(&out);
        s = connect_db("postgres", NULL, 0);
        EXPECT(q(s, "SELECT count(*) FROM c2 WHERE id = 100"), "T[count:20]D[0]C[SELECT 1]Z[I]");
    }
    /* a large COPY TO yields (WB_ENGINE_MORE) and resumes */
    EXPECT(q(s, "CREATE TABLE big (id int, pad text)"), "C[CREATE TABLE]Z[I]");
    {
        wb_buf m = {0};
        wb_pg_put_query(&m, "COPY big FROM STDIN");
        char line[200];
        wb_buf chunk = {0};
        for (int i = 0; i < 20000; i++) {
            int n = snprintf(line, sizeof line, "%d\t%s\n", i, "padding-padding-padding-padding-padding-padding");
            wb_buf_append(&chunk, line, (size_t)n);
            if (chunk.len > 60000 || i == 19999) {
                wb_pg_put_copy_data(&m, chunk.p, chunk.len);
                chunk.len = 0;
            }
        }
        wb_pg_put_copy_done(&m);
        EXPECT(feed(s, &m), "G[0,2]C[COPY 20000]Z[I]");
        wb_buf_free(&m);
        wb_buf_free(&chunk);
        char *r = q(s, "COPY big TO STDOUT");
        CHECK(strstr(r, "C[COPY 20000]Z[I]") != NULL);
        free(r);
        r = q(s, "SELECT id, pad FROM big");
        CHECK(strstr(r, "C[SELECT 20000]Z[I]") != NULL);
        free(r);
    }
    /* options: DELIMITER, NULL, QUOTE, ESCAPE, FORCE_NOT_NULL, FORCE_NULL */
    EXPECT(q(s, "CREATE TABLE o (a int, b text, c text)"), "C[CREATE TABLE]Z[I]");
    const char *opt[] = {"1;NA;'x;y'\n2;'';'NA'\n3;'it''s';\n"};
    EXPECT(copy_in(s, "COPY o FROM STDIN WITH (FORMAT csv, DELIMITER ';', NULL 'NA', QUOTE '''', FORCE_NULL (c))", opt,
                   1, 0),
           "G[0,3]C[COPY 3]Z[I]");
    EXPECT(q(s, "SELECT a, b IS NULL, b, c IS NULL, c FROM o ORDER BY a"),
           "T[a:23,?column?:16,b:25,?column?:16,c:25]D[1|t|NULL|f|x;y]D[2|f||t|NULL]D[3|f|it's|f|]C[SELECT 3]Z[I]");
    const char *pipe[] = {"4||z\n"};
    EXPECT(copy_in(s, "COPY o FROM STDIN WITH (DELIMITER '|', NULL '')", pipe, 1, 0), "G[0,3]C[COPY 1]Z[I]");
    EXPECT(q(s, "SELECT b IS NULL, c FROM o WHERE a = 4"), "T[?column?:16,c:25]D[t|z]C[SELECT 1]Z[I]");
    EXPECT(q(s, "COPY (SELECT a, b FROM o WHERE a IN (1, 2) ORDER BY a) TO STDOUT WITH (FORMAT csv, NULL 'NA', "
                "DELIMITER ';')"),
           "H[0,2]d[1;NA\n]d[2;\n]cC[COPY 2]Z[I]"); /* "" only when it would read as NULL */
    /* a COPY between statements of one Query, and COPY through the
     * extended protocol */
    {
        wb_buf m = {0};
        wb_pg_put_query(&m, "DELETE FROM o; COPY o (a) FROM STDIN; SELECT count(*) FROM o");
        wb_pg_put_copy_data(&m, "7\n8\n", 4);
        wb_pg_put_copy_done(&m);
        EXPECT(feed(s, &m), "C[DELETE 4]G[0,1]C[COPY 2]T[count:20]D[2]C[SELECT 1]Z[I]");
        m.len = 0;
        wb_pg_put_parse(&m, "", "COPY o (a) FROM STDIN", 0, NULL);
        put_bind_text(&m, "", "", 0, NULL, 0, NULL);
        wb_pg_put_execute(&m, "", 0);
        wb_pg_put_copy_data(&m, "9\n", 2);
        wb_pg_put_copy_done(&m);
        wb_pg_put_sync(&m);
        EXPECT(feed(s, &m), "12G[0,1]C[COPY 1]Z[I]");
        wb_buf_free(&m);
    }
    EXPECT(q(s, "DROP TABLE c; DROP TABLE c2; DROP TABLE big; DROP TABLE o"),
           "C[DROP TABLE]C[DROP TABLE]C[DROP TABLE]C[DROP TABLE]Z[I]");
    wb_engine_session_free(s);
}

static void test_cursors_prepare(void)
{
    wb_engine_session *s = connect_db("postgres", NULL, 0);
    EXPECT(q(s, "CREATE TABLE k (id int)"), "C[CREATE TABLE]Z[I]");
    EXPECT(q(s, "INSERT INTO k VALUES (1), (2), (3), (4), (5)"), "C[INSERT 0 5]Z[I]");
    EXPECT(q(s, "DECLARE cur CURSOR FOR SELECT id FROM k"),
           "E[25P01:DECLARE CURSOR can only be used in transaction blocks]Z[I]");
    EXPECT(q(s, "BEGIN; DECLARE cur CURSOR FOR SELECT id FROM k ORDER BY id"), "C[BEGIN]C[DECLARE CURSOR]Z[T]");
    EXPECT(q(s, "FETCH 2 FROM cur"), "T[id:23]D[1]D[2]C[FETCH 2]Z[T]");
    EXPECT(q(s, "MOVE 1 IN cur"), "C[MOVE 1]Z[T]");
    EXPECT(q(s, "FETCH ALL FROM cur"), "T[id:23]D[4]D[5]C[FETCH 2]Z[T]");
    EXPECT(q(s, "FETCH 1 FROM cur"), "T[id:23]C[FETCH 0]Z[T]");
    EXPECT(q(s, "CLOSE cur"), "C[CLOSE CURSOR]Z[T]");
    EXPECT(q(s, "FETCH 1 FROM cur"), "E[34000:cursor \"cur\" does not exist]Z[E]");
    EXPECT(q(s, "ROLLBACK"), "C[ROLLBACK]Z[I]");
    /* psycopg2's scroll(n, "absolute"): forward moves */
    EXPECT(q(s, "BEGIN; DECLARE sc SCROLL CURSOR WITHOUT HOLD FOR SELECT id FROM k ORDER BY id"),
           "C[BEGIN]C[DECLARE CURSOR]Z[T]");
    EXPECT(q(s, "FETCH FORWARD 1 FROM sc"), "T[id:23]D[1]C[FETCH 1]Z[T]");
    EXPECT(q(s, "MOVE ABSOLUTE 3 FROM sc"), "C[MOVE 1]Z[T]");
    EXPECT(q(s, "FETCH NEXT FROM sc"), "T[id:23]D[4]C[FETCH 1]Z[T]");
    EXPECT(q(s, "FETCH RELATIVE 1 FROM sc"), "T[id:23]D[5]C[FETCH 1]Z[T]");
    EXPECT(q(s, "FETCH ABSOLUTE 2 FROM sc"), "T[id:23]D[2]C[FETCH 1]Z[T]"); /* back: read again */
    EXPECT(q(s, "FETCH PRIOR FROM sc"), "T[id:23]D[1]C[FETCH 1]Z[T]");
    EXPECT(q(s, "FETCH NEXT FROM sc"), "T[id:23]D[2]C[FETCH 1]Z[T]");
    EXPECT(q(s, "FETCH RELATIVE 0 FROM sc"), "T[id:23]D[2]C[FETCH 1]Z[T]");
    EXPECT(q(s, "FETCH ALL FROM sc"), "T[id:23]D[3]D[4]D[5]C[FETCH 3]Z[T]");
    EXPECT(q(s, "FETCH ABSOLUTE 1 FROM sc"), "T[id:23]D[1]C[FETCH 1]Z[T]"); /* after the end, too */
    EXPECT(q(s, "FETCH BACKWARD 2 FROM sc"), "E[0A000:FETCH BACKWARD of several rows or from the end is not supported]Z[E]");
    EXPECT(q(s, "ROLLBACK"), "C[ROLLBACK]Z[I]");
    EXPECT(q(s, "BEGIN; DECLARE sc SCROLL CURSOR WITHOUT HOLD FOR SELECT id FROM k ORDER BY id; FETCH 3 FROM sc"),
           "C[BEGIN]C[DECLARE CURSOR]T[id:23]D[1]D[2]D[3]C[FETCH 3]Z[T]");
    EXPECT(q(s, "FETCH ABSOLUTE 9 FROM sc"), "T[id:23]C[FETCH 0]Z[T]");
    EXPECT(q(s, "ROLLBACK"), "C[ROLLBACK]Z[I]");
    EXPECT(q(s, "BEGIN; DECLARE fw CURSOR FOR SELECT id FROM k ORDER BY id; FETCH 2 FROM fw"),
           "C[BEGIN]C[DECLARE CURSOR]T[id:23]D[1]D[2]C[FETCH 2]Z[T]");
    EXPECT(q(s, "FETCH PRIOR FROM fw"), "E[55000:cursor can only scan forward]Z[E]");
    EXPECT(q(s, "ROLLBACK"), "C[ROLLBACK]Z[I]");
    /* WITH HOLD: readable after COMMIT, with the rows of its transaction */
    EXPECT(q(s, "BEGIN; DECLARE h CURSOR WITH HOLD FOR SELECT id FROM k ORDER BY id; FETCH 1 FROM h; COMMIT"),
           "C[BEGIN]C[DECLARE CURSOR]T[id:23]D[1]C[FETCH 1]C[COMMIT]Z[I]");
    EXPECT(q(s, "DELETE FROM k WHERE id = 2"), "C[DELETE 1]Z[I]");
    EXPECT(q(s, "FETCH 2 FROM h"), "T[id:23]D[2]D[3]C[FETCH 2]Z[I]");
    EXPECT(q(s, "CLOSE h"), "C[CLOSE CURSOR]Z[I]");
    EXPECT(q(s, "INSERT INTO k VALUES (2)"), "C[INSERT 0 1]Z[I]");
    EXPECT(q(s, "BEGIN; DECLARE h2 CURSOR WITH HOLD FOR SELECT id FROM k; ROLLBACK; FETCH 1 FROM h2"),
           "C[BEGIN]C[DECLARE CURSOR]C[ROLLBACK]E[34000:cursor \"h2\" does not exist]Z[I]");
    /* FETCH/MOVE on a named protocol-level portal (asyncpg's Cursor.forward) */
    {
        wb_buf m = {0};
        EXPECT(q(s, "BEGIN"), "C[BEGIN]Z[T]");
        wb_pg_put_parse(&m, "", "SELECT id FROM k ORDER BY id", 0, NULL);
        put_bind_text(&m, "ap_portal", "", 0, NULL, 0, NULL);
        wb_pg_put_execute(&m, "ap_portal", 1);
        wb_pg_put_sync(&m);
        EXPECT(feed(s, &m), "12D[1]sZ[T]");
        EXPECT(q(s, "MOVE FORWARD 2 ap_portal"), "C[MOVE 2]Z[T]");
        m.len = 0;
        wb_pg_put_execute(&m, "ap_portal", 5);
        wb_pg_put_sync(&m);
        EXPECT(feed(s, &m), "D[4]D[5]C[SELECT 2]Z[T]");
        EXPECT(q(s, "COMMIT"), "C[COMMIT]Z[I]");
        wb_buf_free(&m);
    }
    EXPECT(q(s, "PREPARE p (int) AS SELECT id FROM k WHERE id > $1 ORDER BY id"), "C[PREPARE]Z[I]");
    EXPECT(q(s, "EXECUTE p(3)"), "T[id:23]D[4]D[5]C[SELECT 2]Z[I]");
    EXPECT(q(s, "PREPARE p AS SELECT 1"), "E[42P05:prepared statement \"p\" already exists]Z[I]");
    EXPECT(q(s, "DEALLOCATE p"), "C[DEALLOCATE]Z[I]");
    EXPECT(q(s, "EXECUTE p(3)"), "E[26000:prepared statement \"p\" does not exist]Z[I]");
    EXPECT(q(s, "PREPARE ins AS INSERT INTO k VALUES ($1)"), "C[PREPARE]Z[I]");
    EXPECT(q(s, "EXECUTE ins(6)"), "C[INSERT 0 1]Z[I]");
    EXPECT(q(s, "DISCARD ALL"), "C[DISCARD ALL]Z[I]");
    EXPECT(q(s, "EXECUTE ins(7)"), "E[26000:prepared statement \"ins\" does not exist]Z[I]");
    EXPECT(q(s, "DROP TABLE k"), "C[DROP TABLE]Z[I]");
    wb_engine_session_free(s);
}

static void test_settings(void)
{
    wb_engine_session *s = connect_db("postgres", NULL, 0);
    /* ParameterStatus comes just before ReadyForQuery, as in PostgreSQL 15 */
    EXPECT(q(s, "SET application_name = 'myapp'"), "C[SET]S[application_name=myapp]Z[I]");
    EXPECT(q(s, "SELECT current_setting('application_name'), set_config('application_name', 'other', false)"),
           "T[current_setting:25,set_config:25]D[myapp|other]C[SELECT 1]S[application_name=other]Z[I]");
    EXPECT(q(s, "SELECT current_setting('no.such', true) IS NULL"), "T[?column?:16]D[t]C[SELECT 1]Z[I]");
    EXPECT(q(s, "SELECT current_setting('nosuch')"),
           "T[current_setting:25]E[42704:unrecognized configuration parameter \"nosuch\"]Z[I]");
    /* RESET goes back to the startup packet's value; a ROLLBACK undoes SET */
    EXPECT(q(s, "RESET application_name"), "C[RESET]S[application_name=test_engine]Z[I]");
    EXPECT(q(s, "BEGIN; SET application_name = 'x'; ROLLBACK"), "C[BEGIN]C[SET]C[ROLLBACK]Z[I]");
    EXPECT(q(s, "SET application_name = 'myapp'"), "C[SET]S[application_name=myapp]Z[I]");
    EXPECT(q(s, "SHOW application_name"), "T[application_name:25]D[myapp]C[SHOW]Z[I]");
    EXPECT(q(s, "SET DateStyle = 'ISO'"), "C[SET]Z[I]"); /* ISO, MDY unchanged: no ParameterStatus */
    EXPECT(q(s, "SET no_such_setting = 1"), "E[42704:unrecognized configuration parameter \"no_such_setting\"]Z[I]");
    EXPECT(q(s, "BEGIN; SET statement_timeout = '5s'; ROLLBACK; SHOW statement_timeout"),
           "C[BEGIN]C[SET]C[ROLLBACK]T[statement_timeout:25]D[0]C[SHOW]Z[I]");
    EXPECT(q(s, "SET statement_timeout = 100"), "C[SET]Z[I]");
    int64_t t0 = 0;
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t0 = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    EXPECT(q(s, "SELECT pg_sleep(5)"), "T[pg_sleep:2278]E[57014:canceling statement due to statement timeout]Z[I]");
    {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t el = ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - t0;
        CHECK(el < 2000);
    }
    EXPECT(q(s, "RESET statement_timeout"), "C[RESET]Z[I]");
    {
        /* txid_current(): one per transaction */
        char *a = q(s, "BEGIN; SELECT txid_current() = txid_current(); COMMIT");
        CHECK(strstr(a, "D[t]") != NULL);
        free(a);
        a = q(s, "SELECT txid_current()");
        char *b = q(s, "SELECT txid_current()");
        CHECK(strcmp(a, b) != 0);
        free(a);
        free(b);
        a = q(s, "SELECT pg_postmaster_start_time() <= now()");
        CHECK(strstr(a, "D[t]") != NULL);
        free(a);
    }
    EXPECT(q(s, "SELECT current_database(), current_user"),
           "T[current_database:19,current_user:19]D[postgres|postgres]C[SELECT 1]Z[I]");
    wb_engine_session_free(s);
}

struct sleeper {
    wb_engine_session *s;
    char *result;
};
static void *sleeper_run(void *arg)
{
    struct sleeper *sl = arg;
    sl->result = q(sl->s, "SELECT pg_sleep(10)");
    return NULL;
}

static void test_interrupt(void)
{
    wb_engine_session *s = connect_db("postgres", NULL, 0);
    struct sleeper sl = {s, NULL};
    pthread_t th;
    pthread_create(&th, NULL, sleeper_run, &sl);
    struct timespec d = {0, 200 * 1000000};
    nanosleep(&d, NULL);
    wb_engine_session_interrupt(s, 0);
    pthread_join(th, NULL);
    CHECK(sl.result && strstr(sl.result, "E[57014:canceling statement due to user request]Z[I]"));
    free(sl.result);
    /* the session goes on */
    EXPECT(q(s, "SELECT 1"), "T[?column?:23]D[1]C[SELECT 1]Z[I]");
    /* pg_cancel_backend through the hook */
    wb_engine_session *s2 = connect_db("postgres", NULL, 0);
    char *pidr = q(s, "SELECT pg_backend_pid()");
    int32_t pid = 0;
    const char *dp = strstr(pidr, "D[");
    if (dp)
        pid = atoi(dp + 2);
    free(pidr);
    pthread_mutex_lock(&hook_mu);
    registry[0] = s;
    registry_pid[0] = pid;
    pthread_mutex_unlock(&hook_mu);
    sl.result = NULL;
    pthread_create(&th, NULL, sleeper_run, &sl);
    nanosleep(&d, NULL);
    char buf[64];
    snprintf(buf, sizeof buf, "SELECT pg_cancel_backend(%d)", pid);
    char *r = q(s2, buf);
    CHECK(strstr(r, "D[t]") != NULL);
    free(r);
    pthread_join(th, NULL);
    CHECK(sl.result && strstr(sl.result, "E[57014:canceling statement due to user request]"));
    free(sl.result);
    /* terminate: FATAL 57P01 and the session closes */
    sl.result = NULL;
    pthread_create(&th, NULL, sleeper_run, &sl);
    nanosleep(&d, NULL);
    wb_engine_session_interrupt(s, 1);
    pthread_join(th, NULL);
    CHECK(sl.result && strstr(sl.result, "57P01"));
    CHECK(last_status == WB_ENGINE_CLOSE || (sl.result && strstr(sl.result, "FATAL") == NULL));
    free(sl.result);
    pthread_mutex_lock(&hook_mu);
    registry[0] = NULL;
    pthread_mutex_unlock(&hook_mu);
    wb_engine_session_free(s);
    wb_engine_session_free(s2);
}

static void test_notify(void)
{
    wb_engine_session *s = connect_db("postgres", NULL, 0);
    EXPECT(q(s, "LISTEN chan"), "C[LISTEN]Z[I]");
    CHECK(wb_engine_session_listening(s, "chan") == 1);
    CHECK(wb_engine_session_listening(s, "other") == 0);
    notified[0] = 0;
    EXPECT(q(s, "BEGIN; NOTIFY chan, 'hello'"), "C[BEGIN]C[NOTIFY]Z[T]");
    CHECK(notified[0] == 0); /* not before commit */
    EXPECT(q(s, "COMMIT"), "C[COMMIT]Z[I]");
    CHECK(strcmp(notified, "postgres/chan/hello;") == 0);
    notified[0] = 0;
    EXPECT(q(s, "BEGIN; NOTIFY chan, 'lost'; ROLLBACK"), "C[BEGIN]C[NOTIFY]C[ROLLBACK]Z[I]");
    CHECK(notified[0] == 0);
    EXPECT(q(s, "UNLISTEN *"), "C[UNLISTEN]Z[I]");
    CHECK(wb_engine_session_listening(s, "chan") == 0);
    /* inside a transaction LISTEN takes effect at COMMIT, not at all after ROLLBACK */
    EXPECT(q(s, "BEGIN; LISTEN later"), "C[BEGIN]C[LISTEN]Z[T]");
    CHECK(wb_engine_session_listening(s, "later") == 0);
    EXPECT(q(s, "COMMIT"), "C[COMMIT]Z[I]");
    CHECK(wb_engine_session_listening(s, "later") == 1);
    EXPECT(q(s, "BEGIN; LISTEN never; ROLLBACK"), "C[BEGIN]C[LISTEN]C[ROLLBACK]Z[I]");
    CHECK(wb_engine_session_listening(s, "never") == 0);
    /* pg_notify(): at the end of an autocommit statement, at COMMIT in a block */
    notified[0] = 0;
    EXPECT(q(s, "SELECT pg_notify('chan', 'fn')"), "T[pg_notify:2278]D[]C[SELECT 1]Z[I]");
    CHECK(strcmp(notified, "postgres/chan/fn;") == 0);
    notified[0] = 0;
    EXPECT(q(s, "BEGIN; SELECT pg_notify('chan', 'later')"), "C[BEGIN]T[pg_notify:2278]D[]C[SELECT 1]Z[T]");
    CHECK(notified[0] == 0);
    EXPECT(q(s, "COMMIT"), "C[COMMIT]Z[I]");
    CHECK(strcmp(notified, "postgres/chan/later;") == 0);
    /* currval() belongs to the session, not to the pooled SQLite connection */
    EXPECT(q(s, "CREATE SEQUENCE sq"), "C[CREATE SEQUENCE]Z[I]");
    EXPECT(q(s, "SELECT nextval('sq'), currval('sq')"), "T[nextval:20,currval:20]D[1|1]C[SELECT 1]Z[I]");
    {
        wb_engine_session *o = connect_db("postgres", NULL, 0);
        EXPECT_PREFIX(q(o, "SELECT currval('sq')"), "T[currval:20]E[55000:");
        wb_engine_session_free(o);
    }
    EXPECT(q(s, "DROP SEQUENCE sq"), "C[DROP SEQUENCE]Z[I]");
    EXPECT(q(s, "BEGIN; LISTEN dangling"), "C[BEGIN]C[LISTEN]Z[T]"); /* freed with the session */
    wb_engine_session_free(s);
}

static void test_databases(void)
{
    wb_engine_session *s = connect_db("postgres", NULL, 0);
    EXPECT(q(s, "CREATE DATABASE other"), "C[CREATE DATABASE]Z[I]");
    EXPECT(q(s, "CREATE DATABASE other"), "E[42P04:database \"other\" already exists]Z[I]");
    wb_engine_session *o = connect_db("other", NULL, 0);
    CHECK(o != NULL);
    if (o) {
        EXPECT(q(o, "CREATE TABLE only_here (x int)"), "C[CREATE TABLE]Z[I]");
        EXPECT(q(o, "SELECT current_database()"), "T[current_database:19]D[other]C[SELECT 1]Z[I]");
        EXPECT(q(s, "DROP DATABASE other"), "E[55006:database \"other\" is being accessed by other users]Z[I]");
        wb_engine_session_free(o);
    }
    EXPECT(q(s, "SELECT * FROM only_here"), "E[42P01:relation \"only_here\" does not exist]Z[I]");
    EXPECT(q(s, "DROP DATABASE other"), "C[DROP DATABASE]Z[I]");
    EXPECT(q(s, "DROP DATABASE IF EXISTS other"), "N[00000:database \"other\" does not exist, skipping]C[DROP DATABASE]Z[I]");
    EXPECT(q(s, "BEGIN; CREATE DATABASE x"), "C[BEGIN]E[25001:CREATE DATABASE cannot run inside a transaction block]Z[E]");
    EXPECT(q(s, "ROLLBACK"), "C[ROLLBACK]Z[I]");
    wb_engine_session_free(s);
}

/* concurrent writers: no lost update, never "database is locked" */
struct writer {
    int id, mode;
    int ok, serialization, other;
};
static void *writer_run(void *arg)
{
    struct writer *w = arg;
    wb_engine_session *s = connect_db("postgres", NULL, 0);
    for (int i = 0; i < 100; i++) {
        char *r;
        if (w->mode == 0) {
            r = q(s, "UPDATE counter SET n = n + 1");
        } else if (w->mode == 1) {
            r = q(s, "BEGIN; UPDATE counter SET n = n + 1; INSERT INTO log VALUES (1); COMMIT");
        } else {
            /* read, then write what was read + 1: a stale snapshot must fail
             * (40001), never overwrite another writer's increment */
            free(q(s, "BEGIN"));
            char *v = q(s, "SELECT n FROM counter");
            const char *d = strstr(v, "D[");
            long n = d ? atol(d + 2) : -1;
            free(v);
            char sql[100];
            snprintf(sql, sizeof sql, "UPDATE counter SET n = %ld", n + 1);
            char *u = q(s, sql);
            int fail = strstr(u, "E[") != NULL;
            if (strstr(u, "40001"))
                w->serialization++;
            else if (fail) {
                w->other++;
                fprintf(stderr, "writer: %s\n", u);
            }
            free(u);
            r = q(s, fail ? "ROLLBACK" : "COMMIT");
            if (!fail && strstr(r, "C[COMMIT]"))
                w->ok++;
            free(r);
            continue;
        }
        if (strstr(r, "E[")) {
            w->other++;
            fprintf(stderr, "writer: %s\n", r);
        } else
            w->ok++;
        free(r);
    }
    wb_engine_session_free(s);
    return NULL;
}

static void test_concurrency(void)
{
    wb_engine_session *s = connect_db("postgres", NULL, 0);
    EXPECT(q(s, "CREATE TABLE counter (n int); INSERT INTO counter VALUES (0); CREATE TABLE log (x int)"),
           "C[CREATE TABLE]C[INSERT 0 1]C[CREATE TABLE]Z[I]");
    pthread_t th[6];
    struct writer w[6];
    for (int i = 0; i < 6; i++) {
        w[i] = (struct writer){.id = i, .mode = i % 3};
        pthread_create(&th[i], NULL, writer_run, &w[i]);
    }
    int ok = 0, other = 0;
    for (int i = 0; i < 6; i++) {
        pthread_join(th[i], NULL);
        ok += w[i].ok;
        other += w[i].other;
    }
    CHECK(other == 0);
    char want[100];
    snprintf(want, sizeof want, "T[n:23]D[%d]C[SELECT 1]Z[I]", ok);
    EXPECT(q(s, "SELECT n FROM counter"), want);
    EXPECT(q(s, "SELECT count(*) FROM log"), "T[count:20]D[200]C[SELECT 1]Z[I]");
    CHECK(ok >= 400); /* modes 0 and 1 never fail */
    /* a writer waiting for the lock: statement_timeout ends the wait with
     * 57014, and once the lock is free the same write goes through */
    wb_engine_session *s2 = connect_db("postgres", NULL, 0);
    EXPECT(q(s, "BEGIN; UPDATE counter SET n = n + 1"), "C[BEGIN]C[UPDATE 1]Z[T]");
    EXPECT(q(s2, "SET statement_timeout = 200"), "C[SET]Z[I]");
    EXPECT(q(s2, "UPDATE counter SET n = n + 1"), "E[57014:canceling statement due to statement timeout]Z[I]");
    EXPECT(q(s2, "SELECT count(*) FROM counter"), "T[count:20]D[1]C[SELECT 1]Z[I]"); /* readers never wait */
    EXPECT(q(s, "COMMIT"), "C[COMMIT]Z[I]");
    EXPECT(q(s2, "UPDATE counter SET n = n + 1"), "C[UPDATE 1]Z[I]");
    /* a cancel that arrives while the session is idle cancels nothing */
    wb_engine_session_interrupt(s2, 0);
    EXPECT(q(s2, "SELECT 1"), "T[?column?:23]D[1]C[SELECT 1]Z[I]");
    /* advisory locks: exclusive between sessions, re-entrant, xact ones end with the transaction */
    EXPECT(q(s, "SELECT pg_advisory_lock(42), pg_try_advisory_lock(42)"),
           "T[pg_advisory_lock:2278,pg_try_advisory_lock:16]D[|t]C[SELECT 1]Z[I]");
    EXPECT(q(s2, "SELECT pg_try_advisory_lock(42), pg_try_advisory_lock(1, 42)"),
           "T[pg_try_advisory_lock:16,pg_try_advisory_lock:16]D[f|t]C[SELECT 1]Z[I]");
    EXPECT(q(s2, "SELECT pg_advisory_lock(42)"),
           "T[pg_advisory_lock:2278]E[57014:canceling statement due to statement timeout]Z[I]");
    EXPECT(q(s, "SELECT pg_advisory_unlock(42), pg_advisory_unlock(42), pg_advisory_unlock(42)"),
           "T[pg_advisory_unlock:16,pg_advisory_unlock:16,pg_advisory_unlock:16]D[t|t|f]C[SELECT 1]Z[I]");
    EXPECT(q(s2, "BEGIN; SELECT pg_advisory_xact_lock(42)"), "C[BEGIN]T[pg_advisory_xact_lock:2278]D[]C[SELECT 1]Z[T]");
    EXPECT(q(s, "SELECT pg_try_advisory_lock(42)"), "T[pg_try_advisory_lock:16]D[f]C[SELECT 1]Z[I]");
    EXPECT(q(s2, "COMMIT"), "C[COMMIT]Z[I]");
    EXPECT(q(s, "SELECT pg_try_advisory_lock(42); SELECT pg_advisory_unlock_all()"),
           "T[pg_try_advisory_lock:16]D[t]C[SELECT 1]T[pg_advisory_unlock_all:2278]D[]C[SELECT 1]Z[I]");
    EXPECT(q(s2, "SELECT pg_try_advisory_lock(42)"), "T[pg_try_advisory_lock:16]D[t]C[SELECT 1]Z[I]");
    wb_engine_session_free(s2); /* its locks go with it */
    EXPECT(q(s, "SELECT pg_try_advisory_lock(42)"), "T[pg_try_advisory_lock:16]D[t]C[SELECT 1]Z[I]");
    EXPECT(q(s, "DROP TABLE counter; DROP TABLE log"), "C[DROP TABLE]C[DROP TABLE]Z[I]");
    wb_engine_session_free(s);
}

/* hostile and random message sequences: every answer is well-formed, the
 * session survives, nothing crashes (run under ASAN in make asan) */
static void test_random_messages(void)
{
    static const char *sqls[] = {"SELECT 1", "SELECT $1::int", "INSERT INTO rnd VALUES ($1)", "BEGIN", "COMMIT",
                                 "ROLLBACK", "SELECT * FROM rnd", "COPY rnd FROM STDIN", "COPY rnd TO STDOUT",
                                 "DECLARE c CURSOR FOR SELECT 1", "FETCH 1 FROM c", "SAVEPOINT a", "ROLLBACK TO a",
                                 "SELECT pg_sleep(0)", "SET statement_timeout = 1000", "", "SELEC", "SELECT 1; SELECT 2",
                                 "PREPARE p AS SELECT 1", "EXECUTE p", "DEALLOCATE ALL", "LISTEN x", "NOTIFY x, 'y'"};
    const int nsql = (int)(sizeof sqls / sizeof sqls[0]);
    wb_engine_session *s = connect_db("postgres", NULL, 0);
    free(q(s, "CREATE TABLE rnd (v int)"));
    uint64_t seed = getenv("WB_TEST_SEED") ? strtoull(getenv("WB_TEST_SEED"), NULL, 10) : 12345;
    wb_buf m = {0}, out = {0};
    for (int iter = 0; iter < 3000; iter++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t r = (uint32_t)(seed >> 33);
        m.len = 0;
        const char *sql = sqls[r % nsql];
        const char *val = (r >> 8) % 3 == 0 ? "7" : (r >> 8) % 3 == 1 ? "x" : NULL;
        const uint8_t *vals[1] = {(const uint8_t *)val};
        int32_t lens[1] = {val ? (int32_t)strlen(val) : -1};
        switch ((r >> 12) % 12) {
        case 0: wb_pg_put_query(&m, sql); break;
        case 1: wb_pg_put_parse(&m, (r >> 16) % 2 ? "n" : "", sql, 0, NULL); break;
        case 2: wb_pg_put_bind(&m, (r >> 16) % 2 ? "pn" : "", (r >> 17) % 2 ? "n" : "", 0, NULL, (uint16_t)((r >> 18) % 2), vals, lens, 0, NULL); break;
        case 3: wb_pg_put_describe(&m, (r >> 16) % 2 ? 'S' : 'P', (r >> 17) % 2 ? "n" : ""); break;
        case 4: wb_pg_put_execute(&m, (r >> 16) % 2 ? "pn" : "", (int32_t)((r >> 17) % 3)); break;
        case 5: wb_pg_put_close(&m, (r >> 16) % 2 ? 'S' : 'P', "n"); break;
        case 6: wb_pg_put_sync(&m); break;
        case 7: wb_pg_put_flush(&m); break;
        case 8: wb_pg_put_copy_data(&m, "1\n2\tx\n", (size_t)((r >> 16) % 7)); break;
        case 9: wb_pg_put_copy_done(&m); break;
        case 10: wb_pg_put_copy_fail(&m, "no"); break;
        default: {
            /* garbage body under a random type */
            uint8_t body[16];
            for (int k = 0; k < 16; k++)
                body[k] = (uint8_t)(seed >> (k * 3));
            uint8_t types[] = {'P', 'B', 'D', 'E', 'C', 'F', 'Q', 'z'};
            out.len = 0;
            enum wb_engine_status st = wb_engine_message(s, types[(r >> 16) % 8], body, (r >> 20) % 17, &out);
            if (st == WB_ENGINE_CLOSE) { /* a protocol violation closes: start again */
                wb_engine_session_free(s);
                s = connect_db("postgres", NULL, 0);
            }
            continue;
        }
        }
        char *t = feed(s, &m);
        CHECK(strstr(t, "<bad frame>") == NULL);
        free(t);
        if (last_status == WB_ENGINE_CLOSE) {
            wb_engine_session_free(s);
            s = connect_db("postgres", NULL, 0);
        }
    }
    wb_buf_free(&m);
    wb_buf_free(&out);
    /* the session still works after it all */
    m.len = 0;
    wb_pg_put_sync(&m);
    free(feed(s, &m));
    wb_buf_free(&m);
    char *t = q(s, "ROLLBACK");
    free(t);
    EXPECT(q(s, "SELECT 41 + 1"), "T[?column?:23]D[42]C[SELECT 1]Z[I]");
    EXPECT(q(s, "DROP TABLE rnd"), "C[DROP TABLE]Z[I]");
    wb_engine_session_free(s);
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* A COMMIT that passes 1000 WAL pages starts a checkpoint in the background
 * (engine.c wal_hook): the database file grows with no further statement;
 * DROP DATABASE right after such a COMMIT waits for it, never 55006. */
static void test_checkpoint(void)
{
    wb_engine_session *s = connect_db("postgres", NULL, 0);
    EXPECT(q(s, "CREATE DATABASE ckpt"), "C[CREATE DATABASE]Z[I]");
    wb_engine_session *k = connect_db("ckpt", NULL, 0);
    char path[300];
    snprintf(path, sizeof path, "%s/ckpt.db", datadir);
    long before = file_size(path);
    CHECK(before >= 0);
    EXPECT(q(k, "CREATE TABLE w (id int, pad text)"), "C[CREATE TABLE]Z[I]");
    EXPECT(q(k, "INSERT INTO w SELECT g, repeat('x', 1000) FROM generate_series(1, 6000) g"), "C[INSERT 0 6000]Z[I]");
    long after = before;
    for (int i = 0; i < 500 && after < before + 4000000; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        after = file_size(path);
    }
    CHECK(after >= before + 4000000);
    EXPECT(q(k, "SELECT count(*) FROM w"), "T[count:20]D[6000]C[SELECT 1]Z[I]");
    EXPECT(q(k, "INSERT INTO w SELECT g, repeat('y', 1000) FROM generate_series(1, 6000) g"), "C[INSERT 0 6000]Z[I]");
    wb_engine_session_free(k);
    EXPECT(q(s, "DROP DATABASE ckpt"), "C[DROP DATABASE]Z[I]");
    CHECK(file_size(path) < 0);
    wb_engine_session_free(s);
}

int main(void)
{
    snprintf(datadir, sizeof datadir, "/tmp/wb_test_engine_session.XXXXXX");
    if (!mkdtemp(datadir)) {
        perror("mkdtemp");
        return 1;
    }
    wb_engine_hooks hooks = {.ctx = NULL, .signal_backend = on_signal, .notify = on_notify};
    wb_engine_error err;
    eng = wb_engine_open(datadir, &hooks, &err);
    CHECK(eng != NULL);
    if (!eng) {
        fprintf(stderr, "wb_engine_open: %s %s\n", err.sqlstate, err.message);
        return 1;
    }
    /* an unwritable DATADIR is an error, not a crash */
    CHECK(wb_engine_open("/proc/nonexistent/x", NULL, &err) == NULL && strcmp(err.sqlstate, "58030") == 0);
    if (want("startup")) test_startup();
    if (want("simple")) test_simple();
    if (want("tx")) test_transactions();
    if (want("extended")) test_extended();
    if (want("types")) test_types();
    if (want("copy")) test_copy();
    if (want("cursors")) test_cursors_prepare();
    if (want("settings")) test_settings();
    if (want("interrupt")) test_interrupt();
    if (want("notify")) test_notify();
    if (want("databases")) test_databases();
    if (want("concurrency")) test_concurrency();
    if (want("random")) test_random_messages();
    if (want("checkpoint")) test_checkpoint();
    wb_engine_close(eng);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", datadir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", datadir);
    return check_report("test_engine_session");
}
