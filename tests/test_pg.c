/* PostgreSQL client tests against the real PostgreSQL 15 that
 * scripts/with_pg.sh starts (WB_PG_* variables); exit 77 (skip) without it.
 * Also a fake server (a thread on a Unix socket) for protocol faults. */
#include "check.h"
#include "wirebuf/pg.h"
#include <openssl/evp.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

static const char *HOST, *PORT, *DB, *PASSWORD, *CA;
static char TRUST[512];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static wb_pg_conn *conn_opts(const char *ci, const wb_pg_options *o)
{
    wb_pg_error e;
    wb_pg_conn *c = wb_pg_connect(ci, o, &e);
    if (!c)
        fprintf(stderr, "connect \"%s\" failed: %s\n", ci, e.message);
    return c;
}
static wb_pg_conn *conn(void) { return conn_opts(TRUST, NULL); }

static int cmd(wb_pg_conn *c, const char *sql)
{
    wb_pg_error e;
    int rc = wb_pg_command(c, sql, &e);
    if (rc)
        fprintf(stderr, "command \"%.80s\" failed: %s\n", sql, e.message);
    return rc;
}

/* first value of the first row as a string (static buffer) */
static const char *scalar(wb_pg_conn *c, const char *sql)
{
    static char out[4096];
    wb_pg_error e;
    wb_pg_result *r = wb_pg_exec(c, sql, &e);
    if (!r) {
        snprintf(out, sizeof out, "ERROR: %s", e.message);
        return out;
    }
    int32_t len;
    const uint8_t *v = wb_pg_result_rows(r) ? wb_pg_result_value(r, 0, 0, &len) : NULL;
    snprintf(out, sizeof out, "%s", v ? (const char *)v : "(null)");
    wb_pg_result_free(r);
    return out;
}

/* ---------------------------------------------------------------- */
static void test_conninfo(void)
{
    wb_pg_error e;
    char **kv = wb_pg_conninfo_parse("host=/tmp port = 5433 user='al ice' password='a\\'b' dbname=x", &e);
    CHECK(kv != NULL);
    if (kv) {
        CHECK(strcmp(kv[0], "host") == 0 && strcmp(kv[1], "/tmp") == 0);
        CHECK(strcmp(kv[2], "port") == 0 && strcmp(kv[3], "5433") == 0);
        CHECK(strcmp(kv[5], "al ice") == 0);
        CHECK(strcmp(kv[7], "a'b") == 0);
        wb_pg_conninfo_free(kv);
    }
    kv = wb_pg_conninfo_parse("postgresql://us%40er:p%3Ass@[::1]:5433,h2:5434/my%20db?sslmode=require&application_name=x", &e);
    CHECK(kv != NULL);
    if (kv) {
        const char *want[] = {"user", "us@er", "password", "p:ss", "host", "::1,h2", "port", "5433,5434", "dbname",
                              "my db", "sslmode", "require", "application_name", "x", NULL};
        for (int i = 0; want[i]; i++)
            CHECK(kv[i] && strcmp(kv[i], want[i]) == 0);
        wb_pg_conninfo_free(kv);
    }
    kv = wb_pg_conninfo_parse("postgresql:///db?host=%2Ftmp%2Fsock", &e);
    CHECK(kv && strcmp(kv[1], "db") == 0 && strcmp(kv[3], "/tmp/sock") == 0);
    wb_pg_conninfo_free(kv);
    CHECK(wb_pg_conninfo_parse("hots=x", &e) == NULL && e.kind == WB_PG_ERR_CONNINFO && strstr(e.message, "hots"));
    CHECK(wb_pg_conninfo_parse("host", &e) == NULL && strstr(e.message, "missing"));
    CHECK(wb_pg_conninfo_parse("user='x", &e) == NULL && strstr(e.message, "unterminated"));
    CHECK(wb_pg_conninfo_parse("postgresql://h/d?x%zz=1", &e) == NULL);
    CHECK(wb_pg_connect("sslmode=allow", NULL, &e) == NULL && strstr(e.message, "allow"));
    CHECK(wb_pg_connect("sslmode=bogus", NULL, &e) == NULL && e.kind == WB_PG_ERR_CONNINFO);
}

/* connect with each auth method, right and wrong passwords, socket and TCP */
static void test_auth(void)
{
    const char *users[] = {"wb_clear", "wb_md5", "wb_scram"};
    char ci[1024];
    wb_pg_error e;
    for (int i = 0; i < 3; i++) {
        for (int tcp = 0; tcp < 2; tcp++) {
            snprintf(ci, sizeof ci, "host=%s port=%s dbname=%s user=%s password='%s' sslmode=disable",
                     tcp ? "127.0.0.1" : HOST, PORT, DB, users[i], PASSWORD);
            wb_pg_conn *c = conn_opts(ci, NULL);
            CHECK(c != NULL);
            if (c)
                CHECK(strcmp(scalar(c, "select current_user"), users[i]) == 0);
            wb_pg_finish(c);
            snprintf(ci, sizeof ci, "host=%s port=%s dbname=%s user=%s password=wrong sslmode=disable",
                     tcp ? "127.0.0.1" : HOST, PORT, DB, users[i]);
            c = wb_pg_connect(ci, NULL, &e);
            CHECK(c == NULL && e.kind == WB_PG_ERR_AUTH);
            CHECK(strstr(e.message, "password authentication failed") != NULL);
            CHECK(strcmp(e.sqlstate, "28P01") == 0);
            /* no password at all */
            snprintf(ci, sizeof ci, "host=%s port=%s dbname=%s user=%s passfile=/nonexistent", HOST, PORT, DB,
                     users[i]);
            unsetenv("PGPASSWORD");
            c = wb_pg_connect(ci, NULL, &e);
            CHECK(c == NULL && e.kind == WB_PG_ERR_AUTH && strstr(e.message, "no password supplied"));
        }
    }
    /* the environment: PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE */
    setenv("PGHOST", "127.0.0.1", 1);
    setenv("PGPORT", PORT, 1);
    setenv("PGUSER", "wb_scram", 1);
    setenv("PGPASSWORD", PASSWORD, 1);
    setenv("PGDATABASE", DB, 1);
    setenv("PGAPPNAME", "wb-env-test", 1);
    wb_pg_conn *c = conn_opts("", NULL);
    CHECK(c != NULL);
    if (c) {
        CHECK(strcmp(scalar(c, "select current_user"), "wb_scram") == 0);
        CHECK(strcmp(scalar(c, "select current_setting('application_name')"), "wb-env-test") == 0);
        CHECK(wb_pg_tls_in_use(c)); /* sslmode=prefer on TCP */
    }
    wb_pg_finish(c);
    unsetenv("PGPASSWORD");
    unsetenv("PGAPPNAME");
    /* ~/.pgpass (via passfile): used when 0600, ignored when group-readable */
    char pf[] = "/tmp/wb_pgpass_XXXXXX";
    int fd = mkstemp(pf);
    CHECK(fd >= 0);
    char line[512];
    int n = snprintf(line, sizeof line, "# comment\notherhost:*:*:*:nope\n127.0.0.1:%s:*:wb_md5:%s\n", PORT, PASSWORD);
    CHECK(write(fd, line, (size_t)n) == n);
    close(fd);
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%s dbname=%s user=wb_md5 passfile=%s", PORT, DB, pf);
    c = conn_opts(ci, NULL);
    CHECK(c != NULL);
    wb_pg_finish(c);
    chmod(pf, 0644);
    c = wb_pg_connect(ci, NULL, &e);
    CHECK(c == NULL && strstr(e.message, "no password supplied"));
    unlink(pf);
    unsetenv("PGHOST");
    unsetenv("PGPORT");
    unsetenv("PGUSER");
    unsetenv("PGDATABASE");
    /* options= reaches the server */
    snprintf(ci, sizeof ci, "host=%s port=%s dbname=%s user=wb_trust options='-c search_path=wb_opt_test'", HOST, PORT, DB);
    c = conn_opts(ci, NULL);
    CHECK(c && strcmp(scalar(c, "show search_path"), "wb_opt_test") == 0);
    wb_pg_finish(c);
    /* URI form, with a second host that is tried after the first fails */
    snprintf(ci, sizeof ci, "postgresql://wb_scram:wb%%20secret@127.0.0.1:1,127.0.0.1:%s/%s?sslmode=disable", PORT,
             DB);
    c = conn_opts(ci, NULL);
    CHECK(c != NULL && !wb_pg_tls_in_use(c));
    wb_pg_finish(c);
    /* server not there */
    c = wb_pg_connect("host=127.0.0.1 port=1 connect_timeout=2", NULL, &e);
    CHECK(c == NULL && e.kind == WB_PG_ERR_CONNECT && strstr(e.message, "refused"));
}

static void test_tls(void)
{
    char ci[1024];
    wb_pg_error e;
    const char *modes[] = {"require", "verify-ca", "verify-full"};
    for (int i = 0; i < 3; i++) {
        snprintf(ci, sizeof ci, "host=127.0.0.1 port=%s dbname=%s user=wb_scram password='%s' sslmode=%s sslrootcert=%s",
                 PORT, DB, PASSWORD, modes[i], CA);
        wb_pg_conn *c = conn_opts(ci, NULL);
        CHECK(c != NULL && wb_pg_tls_in_use(c));
        if (c)
            CHECK(strcmp(scalar(c, "select ssl::text from pg_stat_ssl where pid = pg_backend_pid()"), "true") == 0);
        wb_pg_finish(c);
    }
    /* verify-full with a host name in the certificate */
    snprintf(ci, sizeof ci, "host=localhost port=%s dbname=%s user=wb_trust sslmode=verify-full sslrootcert=%s", PORT,
             DB, CA);
    wb_pg_conn *c = conn_opts(ci, NULL);
    CHECK(c != NULL && wb_pg_tls_in_use(c));
    wb_pg_finish(c);
    /* channel binding over TLS (SCRAM-SHA-256-PLUS) */
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%s dbname=%s user=wb_scram password='%s' sslmode=require channel_binding=require",
             PORT, DB, PASSWORD);
    c = conn_opts(ci, NULL);
    CHECK(c != NULL);
    wb_pg_finish(c);
    /* wrong CA: verification fails clearly (use a system CA bundle) */
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%s dbname=%s user=wb_trust sslmode=verify-ca sslrootcert=/etc/ssl/certs/ca-certificates.crt",
             PORT, DB);
    c = wb_pg_connect(ci, NULL, &e);
    CHECK(c == NULL && e.kind == WB_PG_ERR_TLS && strstr(e.message, "verif"));
    wb_pg_finish(c);
    /* TLS required but the server has none on this path (Unix socket) */
    snprintf(ci, sizeof ci, "host=%s port=%s dbname=%s user=wb_trust sslmode=require", HOST, PORT, DB);
    c = wb_pg_connect(ci, NULL, &e);
    CHECK(c == NULL && e.kind == WB_PG_ERR_TLS && strstr(e.message, "SSL was required"));
}

typedef struct events {
    int rowdesc, rows, complete, errors, ready, empty;
    int64_t err_stmt, last_stmt;
    char err_state[6];
} events;

static int run_events(wb_pg_conn *c, events *ev)
{
    memset(ev, 0, sizeof *ev);
    ev->err_stmt = -1;
    wb_pg_event e;
    wb_pg_error err;
    int r;
    while ((r = wb_pg_step(c, &e, &err)) == 1) {
        ev->last_stmt = e.statement;
        switch (e.type) {
        case WB_PG_EV_ROW_DESCRIPTION: ev->rowdesc++; break;
        case WB_PG_EV_ROW: ev->rows++; break;
        case WB_PG_EV_COMMAND_COMPLETE: ev->complete++; break;
        case WB_PG_EV_EMPTY_QUERY: ev->empty++; break;
        case WB_PG_EV_READY: ev->ready++; break;
        case WB_PG_EV_ERROR:
            if (!ev->errors++) {
                ev->err_stmt = e.error->statement;
                memcpy(ev->err_state, e.error->sqlstate, 6);
            }
            break;
        }
    }
    if (r < 0)
        fprintf(stderr, "step failed: %s\n", err.message);
    return r;
}

static void test_simple_query(void)
{
    wb_pg_conn *c = conn();
    if (!c)
        return;
    wb_pg_error e;
    events ev;
    CHECK(wb_pg_send_query(c, "select 1; select generate_series(1,3); ; select 2", &e) == 0);
    CHECK(run_events(c, &ev) == 0);
    CHECK(ev.rowdesc == 3 && ev.rows == 5 && ev.complete == 3 && ev.ready == 1);
    /* an error in statement 1 (0-based) of a multi-statement query */
    CHECK(wb_pg_send_query(c, "select 1; select 1/0; select 3", &e) == 0);
    CHECK(run_events(c, &ev) == 0);
    CHECK(ev.errors == 1 && ev.err_stmt == 1 && strcmp(ev.err_state, "22012") == 0 && ev.rows == 1);
    /* full error fields */
    CHECK(cmd(c, "create temp table u(id int primary key)") == 0);
    CHECK(cmd(c, "insert into u values (1)") == 0);
    CHECK(wb_pg_command(c, "insert into u values (1)", &e) == -1);
    CHECK(e.kind == WB_PG_ERR_SERVER && strcmp(e.sqlstate, "23505") == 0 && strcmp(e.severity, "ERROR") == 0);
    CHECK(strstr(e.detail, "already exists") && strcmp(e.constraint, "u_pkey") == 0 && strcmp(e.table, "u") == 0);
    CHECK(wb_pg_command(c, "select * frm u", &e) == -1 && strcmp(e.sqlstate, "42601") == 0 && strcmp(e.position, "10") == 0);
    CHECK(wb_pg_status(c) == WB_PG_OK);
    /* transaction status */
    CHECK(wb_pg_transaction_status(c) == 'I');
    CHECK(cmd(c, "begin") == 0 && wb_pg_transaction_status(c) == 'T');
    CHECK(wb_pg_command(c, "select 1/0", &e) == -1 && wb_pg_transaction_status(c) == 'E');
    CHECK(cmd(c, "rollback") == 0 && wb_pg_transaction_status(c) == 'I');
    /* parameter status */
    CHECK(wb_pg_server_version(c) >= 150000);
    CHECK(strcmp(wb_pg_parameter(c, "client_encoding"), "UTF8") == 0);
    CHECK(cmd(c, "set application_name = 'changed'") == 0);
    CHECK(strcmp(wb_pg_parameter(c, "application_name"), "changed") == 0);
    /* NULLs and non-ASCII text */
    wb_pg_result *r = wb_pg_exec(c, "select null::text, 'Grüße, 日本語 🎉'::text, ''::text", &e);
    CHECK(r != NULL);
    if (r) {
        int32_t len;
        CHECK(wb_pg_result_value(r, 0, 0, &len) == NULL && len == -1);
        CHECK(strcmp((const char *)wb_pg_result_value(r, 0, 1, &len), "Grüße, 日本語 🎉") == 0);
        CHECK(wb_pg_result_value(r, 0, 2, &len) != NULL && len == 0);
        CHECK(strcmp(wb_pg_result_column(r, 1)->name, "text") == 0);
        wb_pg_result_free(r);
    }
    /* using the connection while a request is unread is refused, not corrupting */
    CHECK(wb_pg_send_query(c, "select 1", &e) == 0);
    CHECK(wb_pg_send_query(c, "select 2", &e) == -1 && e.kind == WB_PG_ERR_USAGE);
    CHECK(wb_pg_drain(c, NULL, &e) == 0);
    CHECK(strcmp(scalar(c, "select 42"), "42") == 0);
    wb_pg_finish(c);
}

static int notices, notifies;
static char notify_payload[64];
static void on_notice(void *ctx, const wb_pg_fields *f)
{
    (void)ctx;
    if (f->message && strcmp(f->message, "hello notice") == 0)
        notices++;
}
static void on_notify(void *ctx, int32_t pid, const char *ch, const char *payload)
{
    (void)ctx;
    (void)pid;
    if (strcmp(ch, "wbchan") == 0) {
        notifies++;
        snprintf(notify_payload, sizeof notify_payload, "%s", payload);
    }
}

static void test_async(void)
{
    wb_pg_conn *a = conn(), *b = conn();
    if (!a || !b)
        goto out;
    wb_pg_set_notice_handler(a, on_notice, NULL);
    wb_pg_set_notify_handler(a, on_notify, NULL);
    CHECK(cmd(a, "do $$ begin raise notice 'hello notice'; end $$") == 0);
    CHECK(notices == 1);
    CHECK(cmd(a, "listen wbchan") == 0);
    CHECK(cmd(b, "notify wbchan, 'payload-1'") == 0);
    wb_pg_error e;
    int got = wb_pg_consume_input(a, 2000, &e);
    CHECK(got >= 1 && notifies == 1 && strcmp(notify_payload, "payload-1") == 0);
    /* a notification arriving during a query is dispatched too */
    CHECK(cmd(b, "notify wbchan, 'payload-2'") == 0);
    usleep(100000);
    CHECK(strcmp(scalar(a, "select 1"), "1") == 0);
    CHECK(notifies == 2 && strcmp(notify_payload, "payload-2") == 0);
out:
    wb_pg_finish(a);
    wb_pg_finish(b);
}

/* binary decoding checked against the server's own text output */
static void test_types(void)
{
    wb_pg_conn *c = conn();
    if (!c)
        return;
    CHECK(cmd(c, "set timezone = 'UTC'; set extra_float_digits = 1") == 0);
    const char *exprs[] = {
        "true", "false", "(-32768)::int2", "2147483647::int4", "(-9223372036854775808)::int8", "1.5::float4",
        "0.1::float8", "1e300::float8", "(-2.5e-10)::float8", "100::float8", "123456789012345678::float8",
        "'NaN'::float8", "'-Infinity'::float8", "3.14159::float4", "1e6::float4",
        "0::numeric", "0.000::numeric", "-12.340::numeric", "123456789012345678901234567890.000000001::numeric",
        "0.00001234::numeric", "10000::numeric", "'NaN'::numeric", "'Infinity'::numeric", "1e-20::numeric",
        "'héllo'::text", "'abc'::varchar(10)", "'ab'::char(4)", "'nm'::name", "'\\x00ff10'::bytea",
        "'2024-02-29'::date", "'0044-03-15 BC'::date", "'infinity'::date", "'13:45:01.5'::time",
        "'00:00:00'::time", "'13:45:01.123456+05:30'::timetz", "'2024-02-29 23:59:59.999999'::timestamp",
        "'1999-12-31 00:00:00'::timestamp", "'2024-06-01 12:00:00+02'::timestamptz", "'-infinity'::timestamptz",
        "'1 year 2 months 3 days 04:05:06.7'::interval", "'-1 day -00:00:01'::interval", "'0'::interval",
        "'-3 mons'::interval",
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid", "'{\"a\": [1, 2.5, null]}'::json",
        "'{\"b\": {\"c\": true}, \"a\": 1}'::jsonb", "42::oid", "array[1,2,null,4]::int4[]",
        "array['a b','',null,'x\"y','NULL']::text[]", "'{}'::int8[]", "array[1.5,-2]::numeric[]",
        "array['2024-01-01'::date]", "array[true,false]", NULL};
    wb_pg_error e;
    for (int i = 0; exprs[i]; i++) {
        char sql[512];
        snprintf(sql, sizeof sql, "select %s", exprs[i]);
        wb_pg_result *t = wb_pg_exec(c, sql, &e);
        wb_pg_result *b = wb_pg_exec_params(c, sql, 0, NULL, WB_PG_AUTO, &e);
        CHECK(t && b);
        if (!t || !b) {
            fprintf(stderr, "  %s: %s\n", exprs[i], e.message);
            wb_pg_result_free(t);
            wb_pg_result_free(b);
            continue;
        }
        const wb_pg_column *col = wb_pg_result_column(b, 0);
        int32_t tl, bl;
        const uint8_t *tv = wb_pg_result_value(t, 0, 0, &tl), *bv = wb_pg_result_value(b, 0, 0, &bl);
        CHECK(col->format == 1);
        wb_pg_value v;
        int rc = wb_pg_decode(col->type_oid, bv, bl, &v, NULL, 0);
        CHECK(rc == 0);
        wb_buf out = {0};
        CHECK(wb_pg_value_to_text(col->type_oid, &v, &out) == 0);
        int same = out.len == (size_t)tl && memcmp(out.p, tv, out.len) == 0;
        CHECK(same);
        if (!same)
            fprintf(stderr, "  %s (oid %u): server \"%s\", decoded \"%.*s\"\n", exprs[i], col->type_oid, tv,
                    (int)out.len, out.p);
        /* numeric text -> binary -> text round trip matches the server too */
        if (col->type_oid == WB_PG_OID_NUMERIC) {
            wb_buf nb = {0}, nt = {0};
            CHECK(wb_pg_numeric_from_text((const char *)tv, (size_t)tl, &nb) == 0);
            CHECK(wb_pg_numeric_to_text(nb.p, nb.len, &nt) == 0);
            CHECK(nt.len == (size_t)tl && memcmp(nt.p, tv, nt.len) == 0);
            wb_buf_free(&nb);
            wb_buf_free(&nt);
        }
        wb_buf_free(&out);
        wb_pg_result_free(t);
        wb_pg_result_free(b);
    }
    /* binary parameters of every kind go in and come back equal */
    uint8_t i8[8], f8[8], i4[4], b1[1] = {1}, ts[8];
    wb_pg_put_i64(i8, -1234567890123LL);
    wb_pg_put_f64(f8, 2.75);
    wb_pg_put_i32(i4, 77);
    wb_pg_put_i64(ts, 86400000000LL); /* 2000-01-02 */
    wb_buf num = {0}, arr = {0};
    wb_pg_numeric_from_text("-98765.4321", 11, &num);
    const uint8_t *ev[3] = {i4, NULL, i4};
    int32_t el[3] = {4, -1, 4};
    wb_pg_array_encode(&arr, WB_PG_OID_INT4, 3, ev, el);
    wb_pg_param p[8] = {
        {i8, 8, 1, WB_PG_OID_INT8}, {f8, 8, 1, WB_PG_OID_FLOAT8}, {b1, 1, 1, WB_PG_OID_BOOL},
        {num.p, (int32_t)num.len, 1, WB_PG_OID_NUMERIC}, {"text ü", -1, 0, 0}, {ts, 8, 1, WB_PG_OID_TIMESTAMP},
        {arr.p, (int32_t)arr.len, 1, WB_PG_OID_INT4_ARRAY}, {NULL, 0, 0, WB_PG_OID_INT4}};
    wb_pg_result *r = wb_pg_exec_params(
        c, "select $1::int8::text, $2::float8::text, $3::bool::text, $4::numeric::text, $5::text, $6::timestamp::text, "
           "$7::int4[]::text, $8::int4 is null",
        8, p, WB_PG_TEXT, &e);
    CHECK(r != NULL);
    if (r) {
        const char *want[] = {"-1234567890123", "2.75", "true", "-98765.4321", "text ü", "2000-01-02 00:00:00",
                              "{77,NULL,77}", "t"};
        for (uint16_t i = 0; i < 8; i++) {
            int32_t l;
            const char *v = (const char *)wb_pg_result_value(r, 0, i, &l);
            CHECK(v && strcmp(v, want[i]) == 0);
        }
        wb_pg_result_free(r);
    } else {
        fprintf(stderr, "binary params: %s\n", e.message);
    }
    wb_buf_free(&num);
    wb_buf_free(&arr);
    /* a malformed binary value is an error, not a crash */
    wb_pg_value v;
    char msg[128];
    CHECK(wb_pg_decode(WB_PG_OID_INT4, (const uint8_t *)"abc", 3, &v, msg, sizeof msg) == -1 && strstr(msg, "3 bytes"));
    CHECK(wb_pg_decode(WB_PG_OID_INT4_ARRAY, (const uint8_t *)"\0\0\0\1\0\0\0\0\0\0\0\x17\0\0\0\5\0\0\0\1", 20, &v,
                       msg, sizeof msg) == -1);
    wb_pg_finish(c);
}

static void test_extended(void)
{
    wb_pg_conn *c = conn();
    if (!c)
        return;
    wb_pg_error e;
    /* prepared statement with inferred parameter types, binary results */
    wb_pg_stmt *st = wb_pg_prepare(c, "s1", "select g, g * $1::int8, 'row ' || g from generate_series(1, $2::int4) g",
                                   0, NULL, &e);
    CHECK(st != NULL);
    if (st) {
        CHECK(st->nparams == 2 && st->param_oids[0] == WB_PG_OID_INT8 && st->ncols == 3);
        CHECK(st->formats[0] == 1 && st->formats[2] == 1);
        wb_pg_param p[2] = {{"10", -1, 0, 0}, {"1000", -1, 0, 0}};
        /* portal suspension: 300 rows at a time */
        CHECK(wb_pg_send_prepared(c, st, 2, p, 300, &e) == 0);
        int rows = 0, suspended = 0, done = 0;
        int64_t sum = 0;
        wb_pg_event ev;
        while (wb_pg_step(c, &ev, &e) == 1) {
            if (ev.type == WB_PG_EV_ROW) {
                rows++;
                wb_pg_value v;
                wb_pg_decode(ev.cols[1].type_oid, ev.vals[1], ev.lens[1], &v, NULL, 0);
                sum += v.i;
            } else if (ev.type == WB_PG_EV_SUSPENDED) {
                suspended++;
                CHECK(rows == 300 * suspended);
                CHECK(wb_pg_send_more(c, 300, &e) == 0);
            } else if (ev.type == WB_PG_EV_COMMAND_COMPLETE) {
                done = 1;
            }
        }
        CHECK(rows == 1000 && suspended == 3 && done && sum == 10 * 500500);
        CHECK(wb_pg_transaction_status(c) == 'I');
        /* wrong parameter count is a usage error */
        CHECK(wb_pg_send_prepared(c, st, 1, p, 0, &e) == -1 && e.kind == WB_PG_ERR_USAGE);
        CHECK(wb_pg_stmt_close(c, st, &e) == 0);
    }
    /* preparing bad SQL: error, connection fine */
    CHECK(wb_pg_prepare(c, "bad", "selec 1", 0, NULL, &e) == NULL && strcmp(e.sqlstate, "42601") == 0);
    CHECK(wb_pg_send_query_params(c, "select nope", 0, NULL, WB_PG_AUTO, 0, &e) == -1 &&
          strcmp(e.sqlstate, "42703") == 0);
    CHECK(strcmp(scalar(c, "select 'still fine'"), "still fine") == 0);
    wb_pg_finish(c);
}

static int fill_rows(void *ctx, int64_t row, wb_pg_param *p)
{
    char(*buf)[2][32] = ctx;
    snprintf(buf[0][0], 32, "%lld", (long long)row);
    snprintf(buf[0][1], 32, "name-%lld", (long long)row);
    p[0] = (wb_pg_param){buf[0][0], -1, 0, 0};
    p[1] = (wb_pg_param){buf[0][1], -1, 0, 0};
    return 0;
}
static int fill_bad_at_500(void *ctx, int64_t row, wb_pg_param *p)
{
    fill_rows(ctx, row, p);
    if (row == 500)
        p[0] = (wb_pg_param){"not-a-number", -1, 0, 0};
    return 0;
}

static void test_pipeline(size_t read_buffer)
{
    wb_pg_options o = {read_buffer, 0, 0};
    wb_pg_conn *c = conn_opts(TRUST, &o);
    if (!c)
        return;
    wb_pg_error e;
    char buf[2][32];
    CHECK(cmd(c, "drop table if exists pipe; create table pipe(id int4 primary key, name text)") == 0);
    int64_t sizes[] = {1000, read_buffer == 1 ? 5000 : 100000};
    int64_t base = 0;
    for (int k = 0; k < 2; k++) {
        int64_t n = sizes[k], affected = 0;
        /* shift ids per batch via a SQL expression */
        char sql[128];
        snprintf(sql, sizeof sql, "insert into pipe values ($1::int4 + %lld, $2)", (long long)base);
        double t0 = now_s();
        CHECK(wb_pg_executemany(c, sql, 2, NULL, n, fill_rows, buf, &affected, &e) == 0);
        CHECK(affected == n);
        char want[64];
        snprintf(want, sizeof want, "%lld", (long long)(base + n));
        CHECK(strcmp(scalar(c, "select count(*) from pipe"), want) == 0);
        snprintf(want, sizeof want, "%lld", (long long)((base + n) * (base + n - 1) / 2));
        CHECK(strcmp(scalar(c, "select sum(id) from pipe"), want) == 0);
        if (read_buffer != 1)
            printf("  executemany %lld rows: %.3f s\n", (long long)n, now_s() - t0);
        base += n;
    }
    /* one bad row (500) in a batch: error names it, the batch (one implicit
     * transaction) is rolled back, the connection is usable */
    CHECK(cmd(c, "truncate pipe") == 0);
    int64_t affected = -1;
    CHECK(wb_pg_executemany(c, "insert into pipe values ($1, $2)", 2, NULL, 1000, fill_bad_at_500, buf, &affected,
                            &e) == -1);
    CHECK(e.kind == WB_PG_ERR_SERVER && e.statement == 500 && strcmp(e.sqlstate, "22P02") == 0);
    CHECK(strcmp(scalar(c, "select count(*) from pipe"), "0") == 0);
    /* a pipeline with a Sync after each statement keeps the rows before the
     * bad one (each is its own transaction) and reports statement 3 */
    CHECK(wb_pg_pipeline_parse(c, "ins", "insert into pipe values ($1, $2)", 0, NULL, &e) == 0);
    const char *ids[] = {"1", "2", "3", "x", "5"};
    for (int i = 0; i < 5; i++) {
        wb_pg_param p[2] = {{ids[i], -1, 0, 0}, {"n", -1, 0, 0}};
        CHECK(wb_pg_pipeline_exec(c, "ins", 2, p, 0, NULL, &e) == 0);
        CHECK(wb_pg_pipeline_sync(c, &e) == 0);
    }
    events ev;
    CHECK(run_events(c, &ev) == 0);
    CHECK(ev.errors == 1 && ev.err_stmt == 3 && ev.complete == 4 && ev.ready == 6 - 1);
    CHECK(strcmp(scalar(c, "select string_agg(id::text, ',' order by id) from pipe"), "1,2,3,5") == 0);
    /* pipelined selects: rows of several statements, read in one go */
    CHECK(wb_pg_pipeline_parse(c, "", "select g from generate_series(1, $1::int4) g", 0, NULL, &e) == 0);
    for (int i = 1; i <= 50; i++) {
        char v[8];
        snprintf(v, sizeof v, "%d", i);
        wb_pg_param p = {v, -1, 0, 0};
        CHECK(wb_pg_pipeline_exec(c, "", 1, &p, 0, NULL, &e) == 0);
    }
    CHECK(wb_pg_pipeline_sync(c, &e) == 0);
    CHECK(run_events(c, &ev) == 0);
    CHECK(ev.rows == 50 * 51 / 2 && ev.complete == 50 && ev.ready == 1);
    wb_pg_finish(c);
}

static void test_copy(size_t read_buffer, int64_t nrows)
{
    /* with the 1-byte read buffer also a tiny COPY flush size (100 bytes) */
    wb_pg_options o = {read_buffer, read_buffer == 1 ? 100 : 0, 0};
    wb_pg_conn *c = conn_opts(TRUST, &o);
    if (!c)
        return;
    wb_pg_error e;
    CHECK(cmd(c, "drop table if exists cp; create table cp(id int8, name text, score float8)") == 0);
    double t0 = now_s();
    CHECK(wb_pg_copy_in_start(c, "copy cp from stdin", &e) == 0);
    char line[128];
    int64_t idsum = 0;
    for (int64_t i = 0; i < nrows; i++) {
        int n = snprintf(line, sizeof line, "%lld\tname %lld\t%lld.5\n", (long long)i, (long long)i, (long long)(i % 1000));
        if (wb_pg_copy_put(c, line, (size_t)n, &e)) {
            CHECK(0);
            break;
        }
        idsum += i;
    }
    int64_t rows = -1;
    CHECK(wb_pg_copy_end(c, NULL, &rows, &e) == 0 && rows == nrows);
    if (nrows >= 1000000)
        printf("  COPY in %lld rows: %.3f s\n", (long long)nrows, now_s() - t0);
    char want[64];
    snprintf(want, sizeof want, "%lld", (long long)nrows);
    CHECK(strcmp(scalar(c, "select count(*) from cp"), want) == 0);
    snprintf(want, sizeof want, "%lld", (long long)idsum);
    CHECK(strcmp(scalar(c, "select sum(id) from cp"), want) == 0);
    /* checksum of the text: the same md5 computed from COPY OUT */
    char server_md5[64];
    snprintf(server_md5, sizeof server_md5, "%s",
             scalar(c, "select md5(string_agg(id || ':' || name, ',' order by id)) from cp"));
    CHECK(strlen(server_md5) == 32);
    /* COPY OUT streams the rows back; the client-side md5 of the same
     * "id:name,id:name,..." string must equal the server's */
    CHECK(wb_pg_copy_out_start(c, "copy (select id, name from cp order by id) to stdout", &e) == 0);
    const uint8_t *d;
    size_t len;
    int64_t got = 0, outrows = -1, bytes = 0;
    int r;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_md5(), NULL);
    while ((r = wb_pg_copy_get(c, &d, &len, &outrows, &e)) == 1) {
        /* one CopyData per row: "id\tname\n" */
        const uint8_t *tab = memchr(d, '\t', len);
        if (got)
            EVP_DigestUpdate(md, ",", 1);
        if (tab && len >= 1 && d[len - 1] == '\n') {
            EVP_DigestUpdate(md, d, (size_t)(tab - d));
            EVP_DigestUpdate(md, ":", 1);
            EVP_DigestUpdate(md, tab + 1, (size_t)(d + len - 1 - tab - 1));
        }
        got++;
        bytes += (int64_t)len;
    }
    unsigned char dig[16];
    unsigned int dl = 0;
    EVP_DigestFinal_ex(md, dig, &dl);
    EVP_MD_CTX_free(md);
    char client_md5[33];
    for (int i = 0; i < 16; i++)
        snprintf(client_md5 + 2 * i, 3, "%02x", dig[i]);
    CHECK(r == 0 && got == nrows && outrows == nrows && bytes > nrows * 8);
    CHECK(strcmp(client_md5, server_md5) == 0);
    /* malformed COPY data: error naming the line, connection usable */
    CHECK(wb_pg_copy_in_start(c, "copy cp from stdin (format csv)", &e) == 0);
    CHECK(wb_pg_copy_put(c, "1,a,1.0\n2,b,notafloat\n", 22, &e) == 0);
    CHECK(wb_pg_copy_end(c, NULL, &rows, &e) == -1 && strcmp(e.sqlstate, "22P02") == 0 && strstr(e.where, "line 2"));
    CHECK(wb_pg_status(c) == WB_PG_OK);
    snprintf(want, sizeof want, "%lld", (long long)nrows);
    CHECK(strcmp(scalar(c, "select count(*) from cp"), want) == 0);
    /* CopyFail from the client */
    CHECK(wb_pg_copy_in_start(c, "copy cp from stdin", &e) == 0);
    CHECK(wb_pg_copy_end(c, "client gave up", &rows, &e) == -1 && strstr(e.message, "client gave up"));
    /* binary COPY: header, one tuple, trailer */
    CHECK(cmd(c, "create temp table cb(a int4, b text)") == 0);
    CHECK(wb_pg_copy_in_start(c, "copy cb from stdin (format binary)", &e) == 0);
    static const uint8_t bin[] = "PGCOPY\n\377\r\n\0"
                                 "\0\0\0\0"
                                 "\0\0\0\0"
                                 "\0\2"
                                 "\0\0\0\4\0\0\0\x2a"
                                 "\0\0\0\3xyz"
                                 "\377\377";
    CHECK(wb_pg_copy_put(c, bin, sizeof bin - 1, &e) == 0);
    CHECK(wb_pg_copy_end(c, NULL, &rows, &e) == 0 && rows == 1);
    CHECK(strcmp(scalar(c, "select a || b from cb"), "42xyz") == 0);
    /* wrong direction / not a COPY */
    CHECK(wb_pg_copy_in_start(c, "select 1", &e) == -1 && e.kind == WB_PG_ERR_USAGE);
    CHECK(wb_pg_copy_in_start(c, "copy nosuchtable from stdin", &e) == -1 && strcmp(e.sqlstate, "42P01") == 0);
    CHECK(strcmp(scalar(c, "select 1"), "1") == 0);
    wb_pg_finish(c);
}

static void test_big_values(void)
{
    wb_pg_conn *c = conn();
    if (!c)
        return;
    wb_pg_error e;
    /* a 100 MB bytea, sent as a binary parameter and read back binary */
    size_t n = 100u * 1024 * 1024;
    uint8_t *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (uint8_t)(i * 7 + (i >> 13));
    CHECK(cmd(c, "create temp table bb(b bytea)") == 0);
    wb_pg_param p = {big, (int32_t)n, 1, WB_PG_OID_BYTEA};
    wb_pg_result *r = wb_pg_exec_params(c, "insert into bb values ($1)", 1, &p, WB_PG_TEXT, &e);
    CHECK(r != NULL);
    wb_pg_result_free(r);
    CHECK(strcmp(scalar(c, "select length(b) from bb"), "104857600") == 0);
    CHECK(wb_pg_send_query_params(c, "select b from bb", 0, NULL, WB_PG_AUTO, 0, &e) == 0);
    wb_pg_event ev;
    int same = 0;
    while (wb_pg_step(c, &ev, &e) == 1)
        if (ev.type == WB_PG_EV_ROW)
            same = ev.lens[0] == (int32_t)n && memcmp(ev.vals[0], big, n) == 0;
    CHECK(same);
    free(big);
    /* a 1,600-column row (PostgreSQL's column limit) */
    char *sql = malloc(64 * 1600 + 64);
    size_t o = (size_t)sprintf(sql, "select ");
    for (int i = 0; i < 1600; i++)
        o += (size_t)sprintf(sql + o, "%s%d as c%d", i ? "," : "", i, i);
    r = wb_pg_exec(c, sql, &e);
    CHECK(r && wb_pg_result_cols(r) == 1600);
    if (r) {
        int32_t l;
        CHECK(strcmp((const char *)wb_pg_result_value(r, 0, 1599, &l), "1599") == 0);
        CHECK(strcmp(wb_pg_result_column(r, 1599)->name, "c1599") == 0);
    }
    wb_pg_result_free(r);
    free(sql);
    wb_pg_finish(c);
}

/* A fake PostgreSQL server's listening socket, <dir>/.s.PGSQL.5432 in a
 * new temporary directory (dir: a mkdtemp template, filled in; sa: the
 * socket's address, for fake_unlisten): its fd, or -1 when no directory
 * could be made. */
static int fake_listen(char *dir, struct sockaddr_un *sa, int backlog)
{
    if (!mkdtemp(dir))
        return -1;
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    snprintf(sa->sun_path, sizeof sa->sun_path, "%s/.s.PGSQL.5432", dir);
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(bind(fd, (struct sockaddr *)sa, sizeof *sa) == 0 && listen(fd, backlog) == 0);
    return fd;
}

static void fake_unlisten(int fd, const struct sockaddr_un *sa, const char *dir)
{
    close(fd);
    unlink(sa->sun_path);
    rmdir(dir);
}

/* A connection to the fake server listening in dir; opts: more conninfo. */
static wb_pg_conn *fake_connect(const char *dir, const char *opts, wb_pg_error *e)
{
    char ci[256];
    snprintf(ci, sizeof ci, "host=%s port=5432 %s", dir, opts);
    return wb_pg_connect(ci, NULL, e);
}

typedef struct canceller {
    wb_pg_conn *c;
    int delay_ms;
    int rc;
} canceller;
static void *cancel_thread(void *arg)
{
    canceller *k = arg;
    usleep((useconds_t)k->delay_ms * 1000);
    wb_pg_error e;
    k->rc = wb_pg_cancel(k->c, &e);
    return NULL;
}
static void *terminate_thread(void *arg)
{
    canceller *k = arg;
    usleep((useconds_t)k->delay_ms * 1000);
    wb_pg_conn *o = conn();
    char sql[128];
    snprintf(sql, sizeof sql, "select pg_terminate_backend(%d)", wb_pg_backend_pid(k->c));
    k->rc = o ? strcmp(scalar(o, sql), "t") : -1;
    wb_pg_finish(o);
    return NULL;
}

static void test_cancel_timeout_kill(void)
{
    wb_pg_conn *c = conn();
    if (!c)
        return;
    wb_pg_error e;
    /* cancel pg_sleep(10) from another thread: control back within 1 s */
    canceller k = {c, 200, -1};
    pthread_t t;
    pthread_create(&t, NULL, cancel_thread, &k);
    double t0 = now_s();
    int rc = wb_pg_command(c, "select pg_sleep(10)", &e);
    double took = now_s() - t0;
    pthread_join(t, NULL);
    CHECK(k.rc == 0 && rc == -1 && strcmp(e.sqlstate, "57014") == 0 && took < 1.2);
    CHECK(strcmp(scalar(c, "select 'after cancel'"), "after cancel") == 0);
    /* query timeout: cancelled after 300 ms, reported as a timeout */
    wb_pg_set_query_timeout(c, 300);
    t0 = now_s();
    rc = wb_pg_command(c, "select pg_sleep(10)", &e);
    took = now_s() - t0;
    CHECK(rc == -1 && e.kind == WB_PG_ERR_TIMEOUT && strstr(e.message, "timeout") && took < 1.5);
    CHECK(strcmp(scalar(c, "select 'after timeout'"), "after timeout") == 0);
    wb_pg_set_query_timeout(c, 0);
    /* the server process is killed mid-query: a clear error, no hang */
    k = (canceller){c, 200, -1};
    pthread_create(&t, NULL, terminate_thread, &k);
    t0 = now_s();
    rc = wb_pg_command(c, "select pg_sleep(10)", &e);
    took = now_s() - t0;
    pthread_join(t, NULL);
    CHECK(rc == -1 && (e.kind == WB_PG_ERR_FATAL || e.kind == WB_PG_ERR_IO) && took < 2);
    CHECK(strstr(e.message, "terminating connection") != NULL);
    CHECK(wb_pg_status(c) == WB_PG_BAD);
    CHECK(wb_pg_command(c, "select 1", &e) == -1 && e.kind == WB_PG_ERR_IO);
    wb_pg_finish(c);
    /* connect timeout against a server that never answers (a listening
     * socket nobody accepts from) */
    char dir[] = "/tmp/wb_silent_XXXXXX";
    struct sockaddr_un sa;
    int ls = fake_listen(dir, &sa, 4);
    CHECK(ls >= 0);
    if (ls < 0)
        return;
    t0 = now_s();
    CHECK(fake_connect(dir, "connect_timeout=2", &e) == NULL && e.kind == WB_PG_ERR_CONNECT &&
          strstr(e.message, "timeout"));
    took = now_s() - t0;
    CHECK(took >= 1.9 && took < 3.5);
    fake_unlisten(ls, &sa, dir);
}

/* the backend is terminated mid-COPY: the server's FATAL reason is reported,
 * not the write error ("Broken pipe") that follows it */
static void test_copy_killed(void)
{
    wb_pg_conn *c = conn();
    if (!c)
        return;
    wb_pg_error e;
    CHECK(cmd(c, "drop table if exists ck; create table ck(a int4, b text)") == 0);
    CHECK(wb_pg_copy_in_start(c, "copy ck from stdin", &e) == 0);
    canceller k = {c, 300, -1};
    pthread_t t;
    pthread_create(&t, NULL, terminate_thread, &k);
    static char chunk[1 << 20];
    size_t n = 0;
    while (n + 32 < sizeof chunk)
        n += (size_t)snprintf(chunk + n, sizeof chunk - n, "%zu\tsome text to fill the pipe\n", n);
    double t0 = now_s();
    int rc = 0;
    while (rc == 0 && now_s() - t0 < 20)
        rc = wb_pg_copy_put(c, chunk, n, &e);
    if (rc == 0)
        rc = wb_pg_copy_end(c, NULL, NULL, &e);
    pthread_join(t, NULL);
    CHECK(rc == -1 && k.rc == 0);
    if (!strstr(e.message, "terminating connection due to administrator command")) {
        CHECK(!"copy killed: the server's reason");
        fprintf(stderr, "  got \"%s\"\n", e.message);
    }
    CHECK(wb_pg_status(c) == WB_PG_BAD);
    wb_pg_finish(c);
}

/* SCRAM passwords are SASLprep-normalised (RFC 4013): a password of
 * fullwidth letters logs in, and so does its NFKC form. */
static void test_saslprep(void)
{
    wb_pg_conn *c = conn();
    if (!c)
        return;
    /* U+FF21..FF23 FULLWIDTH A, B, C; U+00A0 NO-BREAK SPACE (C.1.2 -> space); U+00AD SOFT HYPHEN (B.1 -> nothing) */
    CHECK(cmd(c, "set password_encryption = 'scram-sha-256'; "
                 "alter role wb_scram password E'\\uFF21\\uFF22\\uFF23-p\\u00ADw\\u00A0x'") == 0);
    const char *forms[] = {"\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3-p\xc2\xadw\xc2\xa0x", "ABC-pw x"};
    for (int i = 0; i < 2; i++) {
        char ci[512];
        snprintf(ci, sizeof ci, "host=%s port=%s dbname=%s user=wb_scram password='%s'", HOST, PORT, DB, forms[i]);
        wb_pg_error e;
        wb_pg_conn *s = wb_pg_connect(ci, NULL, &e);
        CHECK(s != NULL);
        if (!s)
            fprintf(stderr, "  saslprep form %d: %s\n", i, e.message);
        wb_pg_finish(s);
    }
    CHECK(cmd(c, "alter role wb_scram password 'wb secret'") == 0);
    wb_pg_finish(c);
}

/* ---- issue 13: the suspended-portal life cycle, pipeline usage errors,
 * threads ---- */
static void test_portal(void)
{
    wb_pg_conn *c = conn();
    if (!c)
        return;
    wb_pg_error e, first;
    wb_pg_event ev;
    /* suspend after 10 of 100 rows, then drain: drain closes the portal
     * (Close + Sync) and returns; the connection is usable */
    CHECK(wb_pg_send_query_params(c, "select g from generate_series(1, 100) g", 0, NULL, WB_PG_TEXT, 10, &e) == 0);
    int rows = 0, r;
    while ((r = wb_pg_step(c, &ev, &e)) == 1 && ev.type != WB_PG_EV_SUSPENDED)
        rows += ev.type == WB_PG_EV_ROW;
    CHECK(r == 1 && ev.type == WB_PG_EV_SUSPENDED && rows == 10);
    /* stepping on would wait forever: a usage error, nothing changed */
    CHECK(wb_pg_step(c, &ev, &e) == -1 && e.kind == WB_PG_ERR_USAGE && wb_pg_status(c) == WB_PG_OK);
    CHECK(wb_pg_transaction_status(c) == 0);
    CHECK(wb_pg_send_query(c, "select 1", &e) == -1 && e.kind == WB_PG_ERR_USAGE);
    double t0 = now_s();
    CHECK(wb_pg_drain(c, &first, &e) == 0 && first.kind == WB_PG_ERR_NONE);
    CHECK(now_s() - t0 < 2);
    CHECK(wb_pg_transaction_status(c) == 'I');
    CHECK(strcmp(scalar(c, "select 'after drain'"), "after drain") == 0);
    /* close explicitly, then step to READY */
    CHECK(wb_pg_send_query_params(c, "select g from generate_series(1, 100) g", 0, NULL, WB_PG_TEXT, 10, &e) == 0);
    while ((r = wb_pg_step(c, &ev, &e)) == 1 && ev.type != WB_PG_EV_SUSPENDED) {
    }
    CHECK(wb_pg_close_portal(c, &e) == 0);
    int ready = 0, more_rows = 0;
    while (wb_pg_step(c, &ev, &e) == 1) {
        ready += ev.type == WB_PG_EV_READY;
        more_rows += ev.type == WB_PG_EV_ROW;
    }
    CHECK(ready == 1 && more_rows == 0 && wb_pg_transaction_status(c) == 'I');
    /* resume: another Execute fetches the rest */
    CHECK(wb_pg_send_query_params(c, "select g from generate_series(1, 100) g", 0, NULL, WB_PG_TEXT, 10, &e) == 0);
    rows = 0;
    while ((r = wb_pg_step(c, &ev, &e)) == 1) {
        rows += ev.type == WB_PG_EV_ROW;
        if (ev.type == WB_PG_EV_SUSPENDED)
            CHECK(wb_pg_send_more(c, 0, &e) == 0);
    }
    CHECK(r == 0 && rows == 100);
    CHECK(wb_pg_close_portal(c, &e) == -1 && e.kind == WB_PG_ERR_USAGE);
    /* inside a transaction the portal's close keeps the transaction */
    CHECK(cmd(c, "begin") == 0);
    CHECK(wb_pg_send_query_params(c, "select g from generate_series(1, 100) g", 0, NULL, WB_PG_TEXT, 5, &e) == 0);
    CHECK(wb_pg_drain(c, NULL, &e) == 0 && wb_pg_transaction_status(c) == 'T');
    CHECK(cmd(c, "commit") == 0);
    wb_pg_finish(c);
}

static void test_pipeline_usage(void)
{
    wb_pg_conn *c = conn();
    if (!c)
        return;
    wb_pg_error e;
    CHECK(cmd(c, "drop table if exists pu; create table pu(a int4)") == 0);
    CHECK(wb_pg_pipeline_parse(c, "pu_ins", "insert into pu values ($1)", 0, NULL, &e) == 0);
    wb_pg_param p1 = {"1", -1, 0, 0}, p2 = {"2", -1, 0, 0};
    CHECK(wb_pg_pipeline_exec(c, "pu_ins", 1, &p1, 0, NULL, &e) == 0);
    CHECK(wb_pg_pipeline_exec(c, "pu_ins", 1, &p2, 0, NULL, &e) == 0);
    /* a usage error: reported as such, the two queued inserts survive */
    CHECK(wb_pg_pipeline_exec(c, "pu_ins", -1, &p1, 0, NULL, &e) == -1 && e.kind == WB_PG_ERR_USAGE);
    CHECK(wb_pg_pipeline_exec(c, "pu_ins", 1, NULL, 0, NULL, &e) == -1 && e.kind == WB_PG_ERR_USAGE);
    CHECK(wb_pg_pipeline_exec(c, "pu_ins", 70000, &p1, 0, NULL, &e) == -1 && e.kind == WB_PG_ERR_USAGE);
    CHECK(wb_pg_status(c) == WB_PG_OK);
    CHECK(wb_pg_pipeline_sync(c, &e) == 0);
    wb_pg_error first;
    CHECK(wb_pg_drain(c, &first, &e) == 0 && first.kind == WB_PG_ERR_NONE);
    CHECK(strcmp(scalar(c, "select string_agg(a::text, ',' order by a) from pu"), "1,2") == 0);
    /* NULL arguments: answered, never dereferenced */
    CHECK(wb_pg_status(NULL) == WB_PG_BAD && wb_pg_transaction_status(NULL) == 0 && wb_pg_parameter(NULL, "x") == NULL);
    CHECK(wb_pg_parameter(c, NULL) == NULL && wb_pg_socket(NULL) == -1 && wb_pg_server_version(NULL) == 0);
    CHECK(wb_pg_send_query(NULL, "select 1", NULL) == -1 && wb_pg_step(c, NULL, NULL) == -1);
    CHECK(wb_pg_result_rows(NULL) == 0 && wb_pg_result_value(NULL, 0, 0, NULL) == NULL);
    CHECK(wb_pg_command(c, "select 1", NULL) == 0);
    wb_pg_finish(c);
}

/* Thread safety (run under TSAN by `make tsan`): one thread runs queries
 * that change ParameterStatus values; another reads them with
 * wb_pg_parameter_copy and cancels; a third cancels with a key copied out of
 * the connection and keeps cancelling after the connection is closed. */
typedef struct tsafe {
    wb_pg_conn *c;
    wb_pg_cancel_key key;
    volatile int stop; /* read/written under mu */
    pthread_mutex_t mu;
    int reads, cancels;
} tsafe;
static int tsafe_stopped(tsafe *t)
{
    pthread_mutex_lock(&t->mu);
    int s = t->stop;
    pthread_mutex_unlock(&t->mu);
    return s;
}
static void *tsafe_reader(void *arg)
{
    tsafe *t = arg;
    for (int i = 0; !tsafe_stopped(t); i++) {
        char buf[128];
        if (wb_pg_parameter_copy(t->c, "application_name", buf, sizeof buf) >= 0)
            t->reads++;
        wb_pg_error e;
        if (i % 200 == 199 && wb_pg_cancel(t->c, &e) == 0)
            t->cancels++;
        usleep(100);
    }
    return NULL;
}
static void *tsafe_key_canceller(void *arg)
{
    tsafe *t = arg;
    for (int i = 0; i < 30; i++) {
        wb_pg_error e;
        wb_pg_cancel_send(&t->key, &e); /* after finish: the backend is gone, harmless */
        usleep(5000);
    }
    return NULL;
}
static void test_threads(void)
{
    tsafe t = {0};
    pthread_mutex_init(&t.mu, NULL);
    t.c = conn();
    if (!t.c)
        return;
    CHECK(wb_pg_get_cancel_key(t.c, &t.key) == 0 && t.key.pid == wb_pg_backend_pid(t.c));
    pthread_t r, k;
    pthread_create(&r, NULL, tsafe_reader, &t);
    pthread_create(&k, NULL, tsafe_key_canceller, &t);
    int done = 0;
    for (int i = 0; i < 300; i++) {
        char sql[96];
        snprintf(sql, sizeof sql, "set application_name = 'wb_thread_%d'", i);
        wb_pg_error e;
        /* a cancel may hit a statement: that is a server error, never a broken connection */
        if (wb_pg_command(t.c, sql, &e) == 0 || e.kind == WB_PG_ERR_SERVER)
            done++;
    }
    CHECK(done == 300 && wb_pg_status(t.c) == WB_PG_OK);
    pthread_mutex_lock(&t.mu);
    t.stop = 1;
    pthread_mutex_unlock(&t.mu);
    pthread_join(r, NULL);
    CHECK(t.reads > 0);
    wb_pg_finish(t.c); /* the key canceller goes on without the connection */
    pthread_join(k, NULL);
    pthread_mutex_destroy(&t.mu);
}

/* ---- a fake server for protocol faults ---- */
typedef struct fake {
    int listen_fd;
    const uint8_t *reply; /* sent after the first Query */
    size_t reply_len;
    int close_after;
    int serve_cancel; /* accept and close one more connection (the CancelRequest) */
} fake;

static void *fake_server(void *arg)
{
    fake *f = arg;
    int fd = accept(f->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    uint8_t buf[4096];
    ssize_t n = read(fd, buf, sizeof buf); /* StartupMessage */
    (void)n;
    static const uint8_t hello[] = "R\0\0\0\x08\0\0\0\0"            /* AuthenticationOk */
                                   "K\0\0\0\x0c\0\0\0\1\0\0\0\2"    /* BackendKeyData */
                                   "Z\0\0\0\x05I";                  /* ReadyForQuery */
    if (write(fd, hello, sizeof hello - 1) < 0)
        goto out;
    n = read(fd, buf, sizeof buf); /* Query */
    if (write(fd, f->reply, f->reply_len) < 0)
        goto out;
    if (f->serve_cancel) {
        struct pollfd p = {f->listen_fd, POLLIN, 0};
        if (poll(&p, 1, 4000) == 1) {
            int cfd = accept(f->listen_fd, NULL, NULL);
            if (cfd >= 0) {
                n = read(cfd, buf, sizeof buf);
                close(cfd);
            }
        }
        sleep(3); /* stay silent on the main connection */
    } else if (!f->close_after) {
        usleep(300000);
    }
out:
    close(fd);
    return NULL;
}

static void fake_case(const char *name, const void *reply, size_t len, int close_after, int serve_cancel,
                      const char *want)
{
    char dir[] = "/tmp/wb_fake_XXXXXX";
    struct sockaddr_un sa;
    fake f = {fake_listen(dir, &sa, 1), reply, len, close_after, serve_cancel};
    if (f.listen_fd < 0)
        return;
    pthread_t t;
    pthread_create(&t, NULL, fake_server, &f);
    wb_pg_error e;
    wb_pg_conn *c = fake_connect(dir, "user=x dbname=x", &e);
    CHECK(c != NULL);
    if (c) {
        wb_pg_set_query_timeout(c, 500);
        double t0 = now_s();
        wb_pg_result *r = wb_pg_exec(c, "select 1", &e);
        CHECK(r == NULL && now_s() - t0 < 4);
        int ok = strstr(e.message, want) != NULL;
        CHECK(ok);
        if (!ok)
            fprintf(stderr, "  fake %s: got \"%s\"\n", name, e.message);
        wb_pg_result_free(r);
        wb_pg_finish(c);
    }
    pthread_join(t, NULL);
    fake_unlisten(f.listen_fd, &sa, dir);
}

/* a TCP server that answers SSLRequest with 'N' (no TLS) */
static void *no_tls_server(void *arg)
{
    int ls = *(int *)arg;
    for (int k = 0; k < 2; k++) {
        int fd = accept(ls, NULL, NULL);
        if (fd < 0)
            return NULL;
        uint8_t buf[64];
        if (read(fd, buf, sizeof buf) == 8 && write(fd, "N", 1) == 1) {
            /* sslmode=prefer goes on without TLS: answer the startup with an error */
            ssize_t n = read(fd, buf, sizeof buf);
            if (n > 0) {
                static const char em[] = "E\0\0\0\x1eSFATAL\0C28000\0Mno thanks\0\0";
                if (write(fd, em, sizeof em - 1) < 0)
                    k = 2;
            }
        }
        close(fd);
    }
    return NULL;
}

static void test_no_tls_server(void)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    CHECK(bind(ls, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(ls, 4) == 0);
    getsockname(ls, (struct sockaddr *)&sa, &sl);
    pthread_t t;
    pthread_create(&t, NULL, no_tls_server, &ls);
    char ci[128];
    wb_pg_error e;
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d user=x sslmode=require", ntohs(sa.sin_port));
    CHECK(wb_pg_connect(ci, NULL, &e) == NULL && e.kind == WB_PG_ERR_TLS && strstr(e.message, "does not support SSL"));
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d user=x sslmode=prefer", ntohs(sa.sin_port));
    CHECK(wb_pg_connect(ci, NULL, &e) == NULL && e.kind == WB_PG_ERR_AUTH && strcmp(e.message, "no thanks") == 0);
    pthread_join(t, NULL);
    close(ls);
}

/* A fake server for COPY FROM STDIN: CopyInResponse, then read the
 * client's CopyData up to CopyDone ('c'), then either close at once (the
 * commit point may have passed: nothing says whether it did) or send
 * `after` and close. */
typedef struct fake_copy {
    int listen_fd;
    const char *after;
    size_t after_len;
    int64_t bytes;
} fake_copy;
static int read_full(int fd, uint8_t *p, size_t n)
{
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0)
            return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}
static void *fake_copy_server(void *arg)
{
    fake_copy *f = arg;
    int fd = accept(f->listen_fd, NULL, NULL);
    if (fd < 0)
        return NULL;
    uint8_t buf[65536];
    ssize_t n = read(fd, buf, sizeof buf); /* StartupMessage */
    (void)n;
    static const uint8_t hello[] = "R\0\0\0\x08\0\0\0\0K\0\0\0\x0c\0\0\0\1\0\0\0\2Z\0\0\0\x05I";
    if (write(fd, hello, sizeof hello - 1) < 0)
        goto out;
    for (;;) { /* frame the client's messages */
        uint8_t h[5];
        if (read_full(fd, h, 5))
            goto out;
        uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
        for (uint32_t left = len - 4; left;) {
            uint32_t k = left < sizeof buf ? left : (uint32_t)sizeof buf;
            if (read_full(fd, buf, k))
                goto out;
            left -= k;
        }
        if (h[0] == 'Q') {
            static const uint8_t cin[] = "G\0\0\0\x07\0\0\0"; /* CopyInResponse text, 0 columns */
            if (write(fd, cin, sizeof cin - 1) < 0)
                goto out;
        } else if (h[0] == 'd') {
            f->bytes += len - 4;
        } else if (h[0] == 'c') {
            if (f->after_len && write(fd, f->after, f->after_len) < 0)
                goto out;
            break;
        }
    }
out:
    close(fd);
    return NULL;
}
static void fake_copy_case(const char *after, size_t after_len, int64_t want_rows, int want_kind, const char *want)
{
    char dir[] = "/tmp/wb_fakecopy_XXXXXX";
    struct sockaddr_un sa;
    fake_copy f = {fake_listen(dir, &sa, 1), after, after_len, 0};
    if (f.listen_fd < 0)
        return;
    pthread_t t;
    pthread_create(&t, NULL, fake_copy_server, &f);
    wb_pg_error e;
    wb_pg_conn *c = fake_connect(dir, "user=x dbname=x", &e);
    CHECK(c != NULL);
    if (c) {
        CHECK(wb_pg_copy_in_start(c, "copy t from stdin", &e) == 0);
        CHECK(wb_pg_copy_put(c, "1\n2\n3\n", 6, &e) == 0);
        int64_t rows = 99;
        CHECK(wb_pg_copy_end(c, NULL, &rows, &e) == -1);
        CHECK(rows == want_rows && e.kind == want_kind);
        if (!strstr(e.message, want)) {
            CHECK(!"copy fake: message");
            fprintf(stderr, "  got \"%s\"\n", e.message);
        }
        wb_pg_finish(c);
    }
    pthread_join(t, NULL);
    CHECK(f.bytes == 6);
    fake_unlisten(f.listen_fd, &sa, dir);
}

static void test_fake_server(void)
{
    /* the connection closes inside a DataRow */
    static const char eof[] = "T\0\0\0\x1a\0\1a\0\0\0\0\0\0\0\0\0\0\x17\0\4\xff\xff\xff\xff\0\0"
                              "D\0\0\0\x0e\0\1\0\0";
    fake_case("eof", eof, sizeof eof - 1, 1, 0, "server closed the connection");
    /* a DataRow whose column length runs past the message */
    fake_case("overrun", "D\0\0\0\x0b\0\1\0\0\0\x09x", 12, 0, 0, "runs past the end");
    /* a length word of 2 */
    fake_case("badlen", "D\0\0\0\x02", 5, 0, 0, "invalid length");
    /* a message type the protocol does not have */
    fake_case("badtype", "?\0\0\0\x04", 5, 0, 0, "unexpected message");
    /* ReadyForQuery with a bad status */
    fake_case("badrfq", "Z\0\0\0\x05Q", 6, 0, 0, "unknown transaction status");
    /* silence: the query timeout sends a CancelRequest, then gives up */
    fake_case("silent", "", 0, 0, 1, "no answer from the server");
    /* an ErrorResponse with no fields at all: the message says so */
    fake_case("fieldless", "E\0\0\0\x05\0Z\0\0\0\x05I", 12, 0, 0, "ErrorResponse without any fields");
    /* a DataRow with 2 columns after a RowDescription of 1: protocol violation */
    static const char cols[] = "T\0\0\0\x1a\0\1a\0\0\0\0\0\0\0\0\0\0\x17\0\4\xff\xff\xff\xff\0\0"
                               "D\0\0\0\x10\0\2\0\0\0\1" "1\0\0\0\1" "2";
    fake_case("columns", cols, sizeof cols - 1, 0, 0, "DataRow has 2 columns but the RowDescription has 1");
    /* COPY: the connection drops after CopyDone, before CommandComplete: the
     * outcome is unknown (rows -1), not "nothing committed" */
    fake_copy_case(NULL, 0, -1, WB_PG_ERR_IO, "server closed the connection");
    /* ... a FATAL after CopyDone: unknown as well */
    static const char fatal[] = "E\0\0\0\x32SFATAL\0VFATAL\0C57P01\0Mterminating connection\0\0";
    fake_copy_case(fatal, sizeof fatal - 1, -1, WB_PG_ERR_FATAL, "terminating connection");
    /* ... an ERROR (bad data): the COPY rolled back, 0 rows for certain */
    static const char bad[] = "E\0\0\0\x29SERROR\0VERROR\0C22P02\0Minvalid input\0\0Z\0\0\0\x05I";
    fake_copy_case(bad, sizeof bad - 1, 0, WB_PG_ERR_SERVER, "invalid input");
}

/* Binary values at the edges of their types (fuzz findings): an interval of
 * INT64_MIN µs prints its magnitude without overflow; times outside
 * 00:00-24:00 and zones beyond ±15:59:59 are decode errors (time_recv). */
static void test_codec_edges(void)
{
    wb_pg_value v = {.kind = WB_PG_K_INTERVAL, .i = INT64_MIN};
    wb_buf out = {0};
    CHECK(wb_pg_value_to_text(WB_PG_OID_INTERVAL, &v, &out) == 0);
    CHECK(out.len == 24 && memcmp(out.p, "-2562047788:00:54.775808", 24) == 0);
    wb_buf_free(&out);
    uint8_t t[12] = {0x80, 0, 0, 0, 0, 0, 0, 0};
    char err[200];
    CHECK(wb_pg_decode(WB_PG_OID_TIME, t, 8, &v, err, sizeof err) == -1 && strstr(err, "out of range"));
    memset(t, 0, sizeof t);
    CHECK(wb_pg_decode(WB_PG_OID_TIME, t, 8, &v, err, sizeof err) == 0 && v.i == 0);
    t[8] = 0x7f; /* zone displacement 2^31-ish seconds */
    CHECK(wb_pg_decode(WB_PG_OID_TIMETZ, t, 12, &v, err, sizeof err) == -1 && strstr(err, "out of range"));
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_conninfo();
    test_codec_edges();
    test_fake_server();
    test_no_tls_server();
    HOST = getenv("WB_PG_HOST");
    PORT = getenv("WB_PG_PORT");
    DB = getenv("WB_PG_DB");
    PASSWORD = getenv("WB_PG_PASSWORD");
    CA = getenv("WB_PG_CA");
    if (!HOST || !PORT || !DB || !PASSWORD || !CA) {
        printf("test_pg: no PostgreSQL (run under scripts/with_pg.sh); server tests skipped\n");
        check_report("test_pg");
        return check_failures ? 1 : 77;
    }
    snprintf(TRUST, sizeof TRUST, "host=%s port=%s dbname=%s user=wb_trust", HOST, PORT, DB);
    const char *only = getenv("WB_TEST_ONLY");
#define RUN(name, call)                                                                                                \
    if (!only || strstr(only, name)) {                                                                                 \
        printf("- %s\n", name);                                                                                        \
        fflush(stdout);                                                                                                \
        call;                                                                                                          \
    }
    RUN("auth", test_auth());
    RUN("tls", test_tls());
    RUN("simple", test_simple_query());
    RUN("async", test_async());
    RUN("types", test_types());
    RUN("extended", test_extended());
    RUN("pipeline", test_pipeline(0));
    RUN("pipeline-1byte", test_pipeline(1));
    RUN("copy", test_copy(0, 1000000));
    RUN("copy-1byte", test_copy(1, 2000));
    RUN("big", test_big_values());
    RUN("cancel", test_cancel_timeout_kill());
    RUN("copy-killed", test_copy_killed());
    RUN("saslprep", test_saslprep());
    RUN("portal", test_portal());
    RUN("pipeline-usage", test_pipeline_usage());
    RUN("threads", test_threads());
    return check_report("test_pg");
}
