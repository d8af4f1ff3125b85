/* Wire-server tests (issue 10 §1-2, the wire half): with no server, the
 * backend encoders round-tripped through the decoders and the sans-I/O
 * session state machine driven with bytes; then `wirebuf serve` linked with
 * the test engine (build/wirebuf_serve_test) driven by our own client
 * (wb_pg_connect), raw sockets (hostile peers), psql and pg_isready.
 *   usage: test_server SERVE_BINARY */
#include "../src/server/session.h"
#include "check.h"
#include "wirebuf/pg.h"
#include "wirebuf/pgproto.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *serve_bin;
static const char *real_bin; /* the product `wirebuf` (real engine), or NULL */
static char tmp[256];
static int port_base;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---------------- no server: codec round trip ---------------- */

static int frame1(const wb_buf *b, size_t *off, wb_pg_msg *m)
{
    size_t need;
    int r = wb_pg_frame(b->p + *off, b->len - *off, 0, m, &need, NULL, 0);
    if (r == 1)
        *off += 5 + m->len;
    return r;
}

static void test_backend_codec(void)
{
    wb_buf b = {0};
    CHECK(wb_pg_put_auth(&b, WB_PG_AUTH_MD5, "salt", 4) == 0);
    CHECK(wb_pg_put_backend_key_data(&b, 1234, -5) == 0);
    CHECK(wb_pg_put_parameter_status(&b, "server_version", "15.0") == 0);
    CHECK(wb_pg_put_ready_for_query(&b, 'T') == 0);
    wb_pg_column cols[2] = {{"id", 16384, 1, 23, 4, -1, 0}, {"name", 0, 0, 25, -1, -1, 1}};
    CHECK(wb_pg_put_row_description(&b, 2, cols) == 0);
    const uint8_t *vals[2] = {(const uint8_t *)"42", NULL};
    int32_t lens[2] = {2, -1};
    CHECK(wb_pg_put_datarow(&b, 2, vals, lens) == 0);
    CHECK(wb_pg_put_command_complete(&b, "INSERT 0 7") == 0);
    wb_pg_fields f = {0};
    f.severity = f.severity_nonlocal = "ERROR";
    f.sqlstate = "23505";
    f.message = "duplicate key";
    f.detail = "Key (id)=(1) already exists.";
    f.position = "8";
    CHECK(wb_pg_put_fields(&b, 'E', &f) == 0);
    CHECK(wb_pg_put_empty(&b, '1') == 0);
    uint32_t oids[3] = {23, 25, 1043};
    CHECK(wb_pg_put_parameter_description(&b, 3, oids) == 0);
    int16_t fmts[2] = {0, 1};
    CHECK(wb_pg_put_copy_response(&b, 'G', 1, 2, fmts) == 0);
    CHECK(wb_pg_put_notification(&b, 77, "chan", "payload") == 0);
    CHECK(wb_pg_put_function_call_response(&b, "xyz", 3) == 0);
    const char *names[2] = {"_pq_.a", "_pq_.b"};
    CHECK(wb_pg_put_negotiate_protocol_version(&b, 0, 2, names) == 0);

    size_t off = 0;
    wb_pg_msg m;
    char err[256];
    wb_pg_auth a;
    CHECK(frame1(&b, &off, &m) == 1 && m.type == 'R' && wb_pg_parse_auth(&m, &a, err, sizeof err) == 0 &&
          a.code == WB_PG_AUTH_MD5 && a.len == 4 && memcmp(a.data, "salt", 4) == 0);
    int32_t pid, key;
    CHECK(frame1(&b, &off, &m) == 1 && wb_pg_parse_backend_key_data(&m, &pid, &key, err, sizeof err) == 0 &&
          pid == 1234 && key == -5);
    const char *n1, *v1;
    CHECK(frame1(&b, &off, &m) == 1 && wb_pg_parse_parameter_status(&m, &n1, &v1, err, sizeof err) == 0 &&
          strcmp(n1, "server_version") == 0 && strcmp(v1, "15.0") == 0);
    char st;
    CHECK(frame1(&b, &off, &m) == 1 && wb_pg_parse_ready_for_query(&m, &st, err, sizeof err) == 0 && st == 'T');
    wb_pg_column got[4];
    uint16_t nc;
    CHECK(frame1(&b, &off, &m) == 1 && wb_pg_parse_row_description(&m, 4, got, &nc, err, sizeof err) == 0 &&
          nc == 2 && strcmp(got[0].name, "id") == 0 && got[0].table_oid == 16384 && got[0].attnum == 1 &&
          got[0].type_oid == 23 && got[0].typlen == 4 && got[1].format == 1 && got[1].typmod == -1);
    const uint8_t *gv[4];
    int32_t gl[4];
    CHECK(frame1(&b, &off, &m) == 1 && wb_pg_parse_datarow(&m, 4, gv, gl, &nc, err, sizeof err) == 0 && nc == 2 &&
          gl[0] == 2 && memcmp(gv[0], "42", 2) == 0 && gl[1] == -1);
    const char *tag;
    CHECK(frame1(&b, &off, &m) == 1 && wb_pg_parse_command_complete(&m, &tag, err, sizeof err) == 0 &&
          strcmp(tag, "INSERT 0 7") == 0 && wb_pg_tag_rows(tag) == 7);
    wb_pg_fields gf;
    CHECK(frame1(&b, &off, &m) == 1 && m.type == 'E' && wb_pg_parse_fields(&m, &gf, err, sizeof err) == 0 &&
          strcmp(gf.sqlstate, "23505") == 0 && strcmp(gf.severity_nonlocal, "ERROR") == 0 &&
          strcmp(gf.detail, f.detail) == 0 && strcmp(gf.position, "8") == 0 && gf.hint == NULL);
    CHECK(frame1(&b, &off, &m) == 1 && m.type == '1' && wb_pg_parse_empty(&m, err, sizeof err) == 0);
    uint16_t np;
    const uint8_t *po;
    CHECK(frame1(&b, &off, &m) == 1 && wb_pg_parse_parameter_description(&m, &np, &po, err, sizeof err) == 0 &&
          np == 3 && wb_pg_be32(po + 8) == 1043);
    wb_pg_copy_response cr;
    CHECK(frame1(&b, &off, &m) == 1 && m.type == 'G' && wb_pg_parse_copy_response(&m, &cr, err, sizeof err) == 0 &&
          cr.format == 1 && cr.ncols == 2 && wb_pg_be16(cr.formats + 2) == 1);
    const char *ch, *pl;
    CHECK(frame1(&b, &off, &m) == 1 && wb_pg_parse_notification(&m, &pid, &ch, &pl, err, sizeof err) == 0 &&
          pid == 77 && strcmp(ch, "chan") == 0 && strcmp(pl, "payload") == 0);
    const uint8_t *fv;
    int32_t fl;
    CHECK(frame1(&b, &off, &m) == 1 &&
          wb_pg_parse_function_call_response(&m, &fv, &fl, err, sizeof err) == 0 && fl == 3 &&
          memcmp(fv, "xyz", 3) == 0);
    int32_t minor, nn;
    const char *nm;
    CHECK(frame1(&b, &off, &m) == 1 &&
          wb_pg_parse_negotiate_protocol_version(&m, &minor, &nn, &nm, err, sizeof err) == 0 && minor == 0 &&
          nn == 2 && strcmp(nm, "_pq_.a") == 0);
    CHECK(off == b.len);
    /* every message also passes the full checker */
    off = 0;
    while (frame1(&b, &off, &m) == 1)
        CHECK(wb_pg_check_backend(&m, err, sizeof err) == 0);
    wb_buf_free(&b);
}

/* ---------------- no server: the session state machine ---------------- */

static void push(wb_srv_session *s, const void *p, size_t n)
{
    size_t room;
    uint8_t *w = wb_stream_reserve(s->in, n, &room);
    memcpy(w, p, n);
    wb_stream_commit(s->in, n);
}

/* the types of the messages in out, as a string; clears out */
static void out_types(wb_srv_session *s, char *types, size_t cap)
{
    size_t off = 0, k = 0;
    wb_pg_msg m;
    while (k + 1 < cap && frame1(&s->out, &off, &m) == 1)
        types[k++] = (char)m.type;
    types[k] = 0;
    wb_buf_clear(&s->out);
}

static void test_session_sans_io(void)
{
    wb_engine_error eerr;
    char dir[300];
    snprintf(dir, sizeof dir, "%s/sansio", tmp);
    wb_engine *e = wb_engine_open(dir, NULL, &eerr);
    CHECK(e != NULL);
    wb_srv_passwords pw = {0};
    CHECK(wb_srv_passwords_add(&pw, "alice", "secret") == 0);

    /* SSLRequest without TLS -> 'N'; startup; md5 */
    wb_srv_session s;
    CHECK(wb_srv_session_init(&s, 0) == 0);
    s.auth = WB_SRV_AUTH_MD5;
    s.pw = &pw;
    s.pid = 42;
    s.key = 7;
    wb_buf b = {0};
    wb_pg_put_ssl_request(&b);
    push(&s, b.p, b.len);
    CHECK(wb_srv_session_step(&s) == WB_SRV_WAIT && s.out.len == 1 && s.out.p[0] == 'N');
    wb_buf_clear(&s.out);
    wb_buf_clear(&b);
    const char *params[] = {"user", "alice", "database", "postgres", "application_name", "t", NULL};
    wb_pg_put_startup(&b, params);
    push(&s, b.p, b.len - 3); /* half a message: waits */
    CHECK(wb_srv_session_step(&s) == WB_SRV_WAIT && s.out.len == 0);
    push(&s, b.p + b.len - 3, 3);
    CHECK(wb_srv_session_step(&s) == WB_SRV_WAIT && s.state == WB_SRV_ST_PASSWORD);
    CHECK(s.out.len == 13 && s.out.p[0] == 'R' && wb_pg_be32(s.out.p + 5) == WB_PG_AUTH_MD5);
    uint8_t salt[4];
    memcpy(salt, s.out.p + 9, 4);
    wb_buf_clear(&s.out);
    /* md5(md5(password || user) || salt) */
    char inner[33], outer[36];
    extern int wb_srv_md5_hex(const void *, size_t, const void *, size_t, char[33]);
    wb_srv_md5_hex("secret", 6, "alice", 5, inner);
    memcpy(outer, "md5", 3);
    wb_srv_md5_hex(inner, 32, salt, 4, outer + 3);
    wb_buf_clear(&b);
    wb_pg_put_password(&b, outer);
    push(&s, b.p, b.len);
    CHECK(wb_srv_session_step(&s) == WB_SRV_LOGIN);
    CHECK(wb_srv_session_login(&s, e) == WB_SRV_WAIT && s.state == WB_SRV_ST_READY);
    char types[64];
    out_types(&s, types, sizeof types);
    CHECK(types[0] == 'R' && strchr(types, 'S') && strstr(types, "KZ") && types[strlen(types) - 1] == 'Z');
    /* a pipelined batch handed to the engine in one run, answers coalesced */
    wb_buf_clear(&b);
    wb_pg_put_parse(&b, "s1", "SELECT $1", 0, NULL);
    const uint8_t *pv[1] = {(const uint8_t *)"abc"};
    int32_t plen[1] = {3};
    for (int i = 0; i < 3; i++) {
        wb_pg_put_bind(&b, "", "s1", 0, NULL, 1, pv, plen, 0, NULL);
        wb_pg_put_execute(&b, "", 0);
    }
    wb_pg_put_sync(&b);
    wb_pg_put_query(&b, "SELECT x; BEGIN");
    push(&s, b.p, b.len);
    CHECK(wb_srv_session_step(&s) == WB_SRV_ENGINE);
    CHECK(wb_srv_session_run(&s) == WB_SRV_WAIT);
    out_types(&s, types, sizeof types);
    CHECK(strcmp(types, "12DC2DC2DCZTDCCZ") == 0);
    /* error -> skip to Sync; unknown portal 34000 */
    wb_buf_clear(&b);
    wb_pg_put_execute(&b, "nope", 0);
    wb_pg_put_parse(&b, "", "SELECT 1", 0, NULL);
    wb_pg_put_sync(&b);
    push(&s, b.p, b.len);
    CHECK(wb_srv_session_run(&s) == WB_SRV_WAIT);
    out_types(&s, types, sizeof types);
    CHECK(strcmp(types, "EZ") == 0);
    /* big result: FLUSH at the high-water mark, then resumes */
    wb_buf_clear(&b);
    wb_pg_put_query(&b, "ROLLBACK; SELECT generate_series(1,100000)"); /* the failed transaction ends */
    push(&s, b.p, b.len);
    int flushes = 0;
    enum wb_srv_action a;
    size_t total = 0;
    while ((a = wb_srv_session_run(&s)) == WB_SRV_FLUSH) {
        flushes++;
        CHECK(s.out.len >= WB_ENGINE_OUT_HIGH && s.out.len < 2 * WB_ENGINE_OUT_HIGH);
        total += s.out.len;
        wb_buf_clear(&s.out);
    }
    CHECK(a == WB_SRV_WAIT && flushes >= 3);
    if (flushes < 3)
        fprintf(stderr, "a=%d flushes=%d total=%zu out=%zu\n", a, flushes, total, s.out.len);
    CHECK(s.out.len > 6 && s.out.p[s.out.len - 6] == 'Z');
    wb_buf_clear(&s.out);
    /* unknown message type: FATAL 08P01 */
    push(&s, "?\0\0\0\4", 5);
    CHECK(wb_srv_session_run(&s) == WB_SRV_CLOSE);
    wb_pg_msg m;
    size_t off = 0;
    wb_pg_fields f;
    CHECK(frame1(&s.out, &off, &m) == 1 && m.type == 'E' && wb_pg_parse_fields(&m, &f, NULL, 0) == 0 &&
          strcmp(f.sqlstate, "08P01") == 0 && strcmp(f.severity_nonlocal, "FATAL") == 0);
    wb_engine_session_free(s.es);
    s.es = NULL;
    wb_srv_session_destroy(&s);

    /* wrong cleartext password -> 28P01; a huge length word in startup -> 08P01 */
    CHECK(wb_srv_session_init(&s, 0) == 0);
    s.auth = WB_SRV_AUTH_PASSWORD;
    s.pw = &pw;
    wb_buf_clear(&b);
    wb_pg_put_startup(&b, params);
    wb_pg_put_password(&b, "wrong");
    push(&s, b.p, b.len);
    CHECK(wb_srv_session_step(&s) == WB_SRV_CLOSE);
    off = 0;
    CHECK(frame1(&s.out, &off, &m) == 1 && m.type == 'R');
    CHECK(frame1(&s.out, &off, &m) == 1 && m.type == 'E' && wb_pg_parse_fields(&m, &f, NULL, 0) == 0 &&
          strcmp(f.sqlstate, "28P01") == 0);
    wb_srv_session_destroy(&s);
    CHECK(wb_srv_session_init(&s, 0) == 0);
    push(&s, "\x7f\0\0\0\0\3\0\0", 8);
    CHECK(wb_srv_session_step(&s) == WB_SRV_CLOSE);
    CHECK(s.out.len > 0 && s.out.p[0] == 'E' && wb_stream_capacity(s.in) <= WB_STREAM_DEFAULT_PUSH);
    wb_srv_session_destroy(&s);
    /* protocol 3.1 with an option -> NegotiateProtocolVersion; 2.0 -> 0A000 */
    CHECK(wb_srv_session_init(&s, 0) == 0);
    uint8_t sp[64];
    size_t n = 0;
    memcpy(sp + 4, "\0\3\0\1user\0bob\0_pq_.x\0y\0\0", 23);
    n = 27;
    sp[0] = 0, sp[1] = 0, sp[2] = 0, sp[3] = (uint8_t)n;
    push(&s, sp, n);
    CHECK(wb_srv_session_step(&s) == WB_SRV_LOGIN);
    off = 0;
    int32_t minor, nn;
    const char *names;
    CHECK(frame1(&s.out, &off, &m) == 1 && m.type == 'v' &&
          wb_pg_parse_negotiate_protocol_version(&m, &minor, &nn, &names, NULL, 0) == 0 && nn == 1 &&
          strcmp(names, "_pq_.x") == 0 && strcmp(s.database, "bob") == 0);
    wb_srv_session_destroy(&s);
    CHECK(wb_srv_session_init(&s, 0) == 0);
    push(&s, "\0\0\0\x08\0\2\0\0", 8);
    CHECK(wb_srv_session_step(&s) == WB_SRV_CLOSE && s.out.len && s.out.p[0] == 'E');
    wb_srv_session_destroy(&s);
    /* CancelRequest */
    CHECK(wb_srv_session_init(&s, 0) == 0);
    wb_buf_clear(&b);
    wb_pg_put_cancel_request(&b, 99, -3);
    push(&s, b.p, b.len);
    CHECK(wb_srv_session_step(&s) == WB_SRV_CANCEL && s.cancel_pid == 99 && s.cancel_key == -3 && s.out.len == 0);
    wb_srv_session_destroy(&s);
    wb_buf_free(&b);
    wb_srv_passwords_free(&pw);
    wb_engine_close(e);
}

/* ---------------- with a server process ---------------- */

typedef struct server {
    int real; /* run the product with the SQL engine */
    pid_t pid;
    int port;
    char sock[80], log[300];
} server;

/* Ready when both listeners (the Unix socket and 127.0.0.1:port) accept:
 * tests use either right after start(). */
static int wait_ready(server *sv)
{
    for (int i = 0; i < 500; i++) {
        struct sockaddr_un sa = {0};
        sa.sun_family = AF_UNIX;
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/.s.PGSQL.%d", sv->sock, sv->port);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (ok) {
            struct sockaddr_in in = {0};
            in.sin_family = AF_INET;
            in.sin_port = htons((uint16_t)sv->port);
            in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            fd = socket(AF_INET, SOCK_STREAM, 0);
            ok = connect(fd, (struct sockaddr *)&in, sizeof in) == 0;
            close(fd);
        }
        if (ok)
            return 0;
        int st;
        if (waitpid(sv->pid, &st, WNOHANG) == sv->pid)
            return -1;
        usleep(10000);
    }
    return -1;
}

/* start serve with extra args (NULL-terminated); returns 0 when it listens */
static int start(server *sv, int k, const char *const *extra)
{
    int real = sv->real;
    memset(sv, 0, sizeof *sv);
    sv->real = real;
    sv->port = port_base + k;
    snprintf(sv->sock, sizeof sv->sock, "%.60s/sock%d", tmp, k);
    snprintf(sv->log, sizeof sv->log, "%s/log%d", tmp, k);
    mkdir(sv->sock, 0700);
    char data[300], port[16];
    snprintf(data, sizeof data, "%s/data%d", tmp, k);
    snprintf(port, sizeof port, "%d", sv->port);
    const char *bin = sv->real ? real_bin : serve_bin;
    const char *argv[40] = {bin, "-D", data, "-p", port, "-k", sv->sock, "-h", "127.0.0.1"};
    int n = 9;
    if (sv->real) { /* `wirebuf serve ...` */
        memmove(argv + 2, argv + 1, 9 * sizeof *argv);
        argv[1] = "serve";
        n = 10;
    }
    for (int i = 0; extra && extra[i] && n < 38; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    sv->pid = fork();
    if (sv->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive a crashed test */
        int fd = open(sv->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        dup2(fd, 1);
        execv(bin, (char **)argv);
        _exit(127);
    }
    return wait_ready(sv);
}

/* SIGTERM and wait; returns the exit status, or -1 if it did not exit in 10 s */
static int stop(server *sv)
{
    kill(sv->pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        int st;
        if (waitpid(sv->pid, &st, WNOHANG) == sv->pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        usleep(10000);
    }
    kill(sv->pid, SIGKILL);
    waitpid(sv->pid, NULL, 0);
    return -1;
}

static wb_pg_conn *conn(const server *sv, const char *extra, wb_pg_error *err)
{
    char ci[512];
    snprintf(ci, sizeof ci, "host=%s port=%d user=postgres dbname=postgres sslmode=disable %s", sv->sock, sv->port,
             extra ? extra : "");
    return wb_pg_connect(ci, NULL, err);
}

static wb_pg_conn *conn_tcp(const server *sv, const char *extra, wb_pg_error *err)
{
    char ci[512];
    snprintf(ci, sizeof ci, "host=127.0.0.1 port=%d dbname=postgres %s", sv->port, extra ? extra : "");
    return wb_pg_connect(ci, NULL, err);
}

static int query_text(wb_pg_conn *c, const char *sql, char *out, size_t cap)
{
    wb_pg_error err;
    wb_pg_result *r = wb_pg_exec(c, sql, &err);
    if (!r) {
        snprintf(out, cap, "ERR %s %.100s", err.sqlstate, err.message);
        return -1;
    }
    int32_t len;
    const uint8_t *v = wb_pg_result_rows(r) > 0 ? wb_pg_result_value(r, 0, 0, &len) : NULL;
    snprintf(out, cap, "%.*s", v ? (int)len : 0, v ? (const char *)v : "");
    wb_pg_result_free(r);
    return 0;
}

static void test_trust_and_queries(void)
{
    server sv = {0};
    CHECK(start(&sv, 0, NULL) == 0);
    wb_pg_error err;
    wb_pg_conn *c = conn(&sv, NULL, &err);
    CHECK(c != NULL);
    if (!c) {
        fprintf(stderr, "connect: %s\n", err.message);
        stop(&sv);
        return;
    }
    char out[256];
    CHECK(query_text(c, "SELECT hello", out, sizeof out) == 0 && strcmp(out, "hello") == 0);
    CHECK(strcmp(wb_pg_parameter(c, "server_version"), "15.0") == 0);
    /* parameters over the extended protocol */
    wb_pg_param p = {"world", -1, 0, 0};
    wb_pg_result *r = wb_pg_exec_params(c, "SELECT $1", 1, &p, WB_PG_TEXT, &err);
    int32_t len;
    CHECK(r && wb_pg_result_rows(r) == 1 && memcmp(wb_pg_result_value(r, 0, 0, &len), "world", 5) == 0);
    wb_pg_result_free(r);
    /* a pipeline of 1,000 statements in one batch */
    CHECK(wb_pg_pipeline_parse(c, "p", "SELECT $1", 0, NULL, &err) == 0);
    for (int i = 0; i < 1000; i++) {
        char v[16];
        snprintf(v, sizeof v, "%d", i);
        wb_pg_param q = {v, -1, 0, 0};
        CHECK(wb_pg_pipeline_exec(c, "p", 1, &q, 0, NULL, &err) == 0);
    }
    CHECK(wb_pg_pipeline_sync(c, &err) == 0);
    wb_pg_event ev;
    int rows = 0, bad = 0;
    while (wb_pg_step(c, &ev, &err) == 1) {
        if (ev.type == WB_PG_EV_ROW) {
            char v[16];
            snprintf(v, sizeof v, "%d", rows);
            bad += ev.lens[0] != (int32_t)strlen(v) || memcmp(ev.vals[0], v, strlen(v)) != 0;
            rows++;
        }
    }
    CHECK(rows == 1000 && bad == 0);
    /* a large result crosses the engine's high-water mark many times */
    r = wb_pg_exec(c, "SELECT generate_series(1,300000)", &err);
    CHECK(r && wb_pg_result_rows(r) == 300000);
    if (r)
        CHECK(memcmp(wb_pg_result_value(r, 299999, 0, &len), "300000", 6) == 0);
    wb_pg_result_free(r);
    /* transaction status and errors */
    CHECK(wb_pg_command(c, "BEGIN", &err) == 0 && wb_pg_transaction_status(c) == 'T');
    CHECK(wb_pg_command(c, "bogus", &err) != 0 && strcmp(err.sqlstate, "42601") == 0);
    CHECK(wb_pg_transaction_status(c) == 'E');
    CHECK(wb_pg_command(c, "ROLLBACK", &err) == 0 && wb_pg_transaction_status(c) == 'I');
    /* TCP loopback is trusted by default too */
    wb_pg_conn *t = conn_tcp(&sv, "user=postgres sslmode=disable", &err);
    CHECK(t != NULL);
    CHECK(t && query_text(t, "SELECT tcp", out, sizeof out) == 0 && strcmp(out, "tcp") == 0);
    wb_pg_finish(t);
    /* a missing database: FATAL 3D000 */
    t = conn(&sv, "dbname=nope", &err);
    CHECK(!t && strcmp(err.sqlstate, "3D000") == 0);
    /* psql and pg_isready through the Unix socket */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "psql -X -A -t -h %s -p %d -U postgres -d postgres -c 'SELECT from_psql' 2>&1",
             sv.sock, sv.port);
    FILE *f = popen(cmd, "r");
    char line[256] = "";
    CHECK(f && fgets(line, sizeof line, f) && strcmp(line, "from_psql\n") == 0);
    if (f)
        pclose(f);
    snprintf(cmd, sizeof cmd, "pg_isready -q -h %s -p %d", sv.sock, sv.port);
    CHECK(system(cmd) == 0);
    snprintf(cmd, sizeof cmd, "psql -X -h %s -p %d -U postgres -d postgres -c 'bogus' >/dev/null 2>&1", sv.sock,
             sv.port);
    CHECK(WEXITSTATUS(system(cmd)) == 1);
    wb_pg_finish(c);
    CHECK(stop(&sv) == 0);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_auth_methods(void)
{
    char pw[300];
    snprintf(pw, sizeof pw, "%s/passwords", tmp);
    write_file(pw, "# roles\nalice:s3cret:with:colons\npostgres:pgpass\n");
    const char *methods[] = {"password", "md5", "scram-sha-256"};
    for (int i = 0; i < 3; i++) {
        server sv = {0};
        const char *extra[] = {"--auth", methods[i], "--passwords", pw, NULL};
        CHECK(start(&sv, 1 + i, extra) == 0);
        wb_pg_error err;
        wb_pg_conn *c = conn_tcp(&sv, "user=alice password=s3cret:with:colons sslmode=disable", &err);
        CHECK(c != NULL);
        if (!c)
            fprintf(stderr, "%s: %s\n", methods[i], err.message);
        char out[64];
        CHECK(c && query_text(c, "SELECT ok", out, sizeof out) == 0 && strcmp(out, "ok") == 0);
        wb_pg_finish(c);
        /* the Unix socket asks too when --auth is given */
        c = conn(&sv, "user=postgres password=pgpass", &err);
        CHECK(c != NULL);
        wb_pg_finish(c);
        c = conn_tcp(&sv, "user=alice password=wrong sslmode=disable", &err);
        CHECK(!c && strcmp(err.sqlstate, "28P01") == 0);
        c = conn_tcp(&sv, "user=nobody password=x sslmode=disable", &err);
        CHECK(!c && strcmp(err.sqlstate, "28P01") == 0);
        /* psql with PGPASSWORD */
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "PGPASSWORD=pgpass psql -X -A -t -h 127.0.0.1 -p %d -U postgres -d postgres -c 'SELECT p' 2>&1",
                 sv.port);
        FILE *f = popen(cmd, "r");
        char line[256] = "";
        CHECK(f && fgets(line, sizeof line, f) && strcmp(line, "p\n") == 0);
        if (f)
            pclose(f);
        CHECK(stop(&sv) == 0);
    }
}

static void test_tls(void)
{
    char cert[300], key[300], cmd[1024], pw[300];
    snprintf(cert, sizeof cert, "%s/server.crt", tmp);
    snprintf(key, sizeof key, "%s/server.key", tmp);
    snprintf(pw, sizeof pw, "%s/passwords", tmp);
    write_file(pw, "# roles\nalice:s3cret:with:colons\npostgres:pgpass\n");
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout %s -out %s "
             ">/dev/null 2>&1",
             key, cert);
    if (system(cmd) != 0) {
        fprintf(stderr, "test_tls: openssl could not make a certificate; skipped\n");
        return;
    }
    server sv = {0};
    const char *extra[] = {"--auth", "scram-sha-256", "--passwords", pw, "--ssl-cert", cert, "--ssl-key", key, NULL};
    CHECK(start(&sv, 4, extra) == 0);
    wb_pg_error err;
    /* SCRAM-SHA-256-PLUS (channel binding required) over TLS */
    wb_pg_conn *c = conn_tcp(&sv, "user=alice password=s3cret:with:colons sslmode=require channel_binding=require",
                             &err);
    CHECK(c != NULL && wb_pg_tls_in_use(c));
    if (!c)
        fprintf(stderr, "tls: %s\n", err.message);
    char out[64];
    CHECK(c && query_text(c, "SELECT over_tls", out, sizeof out) == 0 && strcmp(out, "over_tls") == 0);
    CHECK(c && query_text(c, "SELECT generate_series(1,100000)", out, sizeof out) == 0);
    wb_pg_finish(c);
    /* verify-full against our own certificate */
    char ci[600];
    snprintf(ci, sizeof ci, "user=alice password=s3cret:with:colons sslmode=verify-full sslrootcert=%s host=localhost",
             cert);
    c = conn_tcp(&sv, ci, &err);
    CHECK(c != NULL && wb_pg_tls_in_use(c));
    wb_pg_finish(c);
    /* over TLS with channel_binding=disable the client sends gs2 flag 'n'
     * (as libpq): 'y' would be a downgrade to a server offering -PLUS */
    c = conn_tcp(&sv, "user=alice password=s3cret:with:colons sslmode=require channel_binding=disable", &err);
    CHECK(c != NULL && wb_pg_tls_in_use(c));
    if (!c)
        fprintf(stderr, "tls, channel_binding=disable: %s\n", err.message);
    wb_pg_finish(c);
    /* plain SCRAM without TLS still works; a wrong password fails over TLS */
    c = conn_tcp(&sv, "user=alice password=s3cret:with:colons sslmode=disable", &err);
    CHECK(c != NULL && !wb_pg_tls_in_use(c));
    wb_pg_finish(c);
    c = conn_tcp(&sv, "user=alice password=nope sslmode=require", &err);
    CHECK(!c && strcmp(err.sqlstate, "28P01") == 0);
    /* psql over TLS */
    snprintf(cmd, sizeof cmd,
             "PGPASSWORD=pgpass psql -X -A -t 'host=127.0.0.1 port=%d user=postgres dbname=postgres sslmode=require "
             "channel_binding=require' -c 'SELECT tls' 2>&1",
             sv.port);
    FILE *f = popen(cmd, "r");
    char line[256] = "";
    CHECK(f && fgets(line, sizeof line, f) && strcmp(line, "tls\n") == 0);
    if (f)
        pclose(f);
    CHECK(stop(&sv) == 0);
}

typedef struct {
    wb_pg_conn *c;
    const char *sql;
    char sqlstate[6];
    double secs;
} bg;

static void *bg_query(void *arg)
{
    bg *b = arg;
    wb_pg_error err;
    double t0 = now();
    b->sqlstate[0] = 0;
    if (wb_pg_command(b->c, b->sql, &err) != 0)
        snprintf(b->sqlstate, sizeof b->sqlstate, "%s", err.sqlstate[0] ? err.sqlstate : "?????");
    b->secs = now() - t0;
    return NULL;
}

static void test_cancel_notify_limits(void)
{
    server sv = {0};
    const char *extra[] = {"--max-connections", "4", "--authentication-timeout", "1", NULL};
    CHECK(start(&sv, 5, extra) == 0);
    wb_pg_error err;
    wb_pg_conn *a = conn(&sv, NULL, &err), *b = conn(&sv, NULL, &err);
    CHECK(a && b);
    if (!a || !b)
        return;
    /* CancelRequest interrupts a running statement; other sessions go on */
    bg job = {a, "SELECT pg_sleep(20)", "", 0};
    pthread_t th;
    pthread_create(&th, NULL, bg_query, &job);
    usleep(200000);
    char out[64];
    double t0 = now();
    CHECK(query_text(b, "SELECT meanwhile", out, sizeof out) == 0 && strcmp(out, "meanwhile") == 0);
    CHECK(now() - t0 < 1.0);
    CHECK(wb_pg_cancel(a, &err) == 0);
    pthread_join(th, NULL);
    CHECK(strcmp(job.sqlstate, "57014") == 0 && job.secs < 5);
    CHECK(query_text(a, "SELECT alive", out, sizeof out) == 0 && strcmp(out, "alive") == 0);
    /* pg_cancel_backend from another session (engine hook) */
    job.sql = "SELECT pg_sleep(20)";
    pthread_create(&th, NULL, bg_query, &job);
    usleep(200000);
    char q[64];
    snprintf(q, sizeof q, "SELECT pg_cancel_backend(%d)", wb_pg_backend_pid(a));
    CHECK(query_text(b, q, out, sizeof out) == 0 && strcmp(out, "t") == 0);
    pthread_join(th, NULL);
    CHECK(strcmp(job.sqlstate, "57014") == 0);
    /* LISTEN / NOTIFY across sessions: delivered while idle */
    CHECK(wb_pg_command(a, "LISTEN chan", &err) == 0);
    CHECK(wb_pg_command(b, "NOTIFY chan, 'hi there'", &err) == 0);
    struct {
        int n;
        char payload[64];
        int32_t pid;
    } got = {0, "", 0};
    extern void note_cb(void *, int32_t, const char *, const char *);
    wb_pg_set_notify_handler(a, note_cb, &got);
    int nc = wb_pg_consume_input(a, 2000, &err);
    CHECK(nc >= 1);
    if (nc < 1)
        fprintf(stderr, "consume_input: %d %s\n", nc, err.message);
    CHECK(got.n == 1 && strcmp(got.payload, "hi there") == 0 && got.pid == wb_pg_backend_pid(b));
    /* ... and before the ReadyForQuery of a listener's own NOTIFY */
    got.n = 0;
    CHECK(wb_pg_command(a, "NOTIFY chan, 'self'", &err) == 0);
    CHECK(got.n == 1 && strcmp(got.payload, "self") == 0);
    /* --max-connections 4: a, b + 2 more; the fifth gets FATAL 53300 */
    wb_pg_conn *c3 = conn(&sv, NULL, &err), *c4 = conn(&sv, NULL, &err);
    CHECK(c3 && c4);
    wb_pg_conn *c5 = conn(&sv, NULL, &err);
    CHECK(!c5 && strcmp(err.sqlstate, "53300") == 0);
    wb_pg_finish(c4);
    usleep(100000);
    c5 = conn(&sv, NULL, &err);
    CHECK(c5 != NULL);
    wb_pg_finish(c5);
    wb_pg_finish(c3);
    /* pg_terminate_backend */
    wb_pg_conn *victim = NULL;
    for (int i = 0; i < 100 && !victim; i++) { /* closed sessions leave the count asynchronously */
        victim = conn(&sv, NULL, &err);
        if (!victim)
            usleep(20000);
    }
    CHECK(victim != NULL);
    if (!victim)
        return;
    snprintf(q, sizeof q, "SELECT pg_terminate_backend(%d)", wb_pg_backend_pid(victim));
    CHECK(query_text(b, q, out, sizeof out) == 0 && strcmp(out, "t") == 0);
    CHECK(wb_pg_command(victim, "SELECT 1", &err) != 0 && strcmp(err.sqlstate, "57P01") == 0);
    wb_pg_finish(victim);
    wb_pg_finish(a);
    wb_pg_finish(b);
    CHECK(stop(&sv) == 0);
}

void note_cb(void *ctx, int32_t pid, const char *channel, const char *payload)
{
    struct {
        int n;
        char payload[64];
        int32_t pid;
    } *g = ctx;
    (void)channel;
    g->n++;
    g->pid = pid;
    snprintf(g->payload, sizeof g->payload, "%s", payload);
}

/* raw TCP connection to the server */
static int raw(const server *sv)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)sv->port);
    sa.sin_addr.s_addr = htonl(0x7f000001);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* read until EOF or timeout; returns bytes read, first byte in *first */
static ssize_t read_to_eof(int fd, double timeout, uint8_t *buf, size_t cap, int *eof)
{
    size_t n = 0;
    double end = now() + timeout;
    *eof = 0;
    while (now() < end) {
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t r = read(fd, buf + n, cap - n);
        if (r <= 0) {
            *eof = 1;
            break;
        }
        n += (size_t)r;
        if (n == cap)
            break;
    }
    return (ssize_t)n;
}

static int login_raw(const server *sv)
{
    int fd = raw(sv);
    wb_buf b = {0};
    const char *params[] = {"user", "postgres", "database", "postgres", NULL};
    wb_pg_put_startup(&b, params);
    CHECK(write(fd, b.p, b.len) == (ssize_t)b.len);
    wb_buf_free(&b);
    uint8_t buf[4096];
    size_t n = 0;
    double end = now() + 5;
    while (now() < end && (n < 6 || buf[n - 6] != 'Z')) {
        ssize_t r = read(fd, buf + n, sizeof buf - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    CHECK(n >= 6 && buf[n - 6] == 'Z');
    return fd;
}

static int fatal_code(const uint8_t *buf, size_t n, const char *code)
{
    for (size_t i = 0; i + 5 < n;) {
        uint32_t len = wb_pg_be32(buf + i + 1);
        if (buf[i] == 'E') {
            wb_pg_msg m = {'E', len - 4, buf + i + 5};
            wb_pg_fields f;
            if (i + 1 + len <= n && wb_pg_parse_fields(&m, &f, NULL, 0) == 0 && f.sqlstate &&
                strcmp(f.sqlstate, code) == 0)
                return 1;
        }
        i += 1 + len;
    }
    return 0;
}

static void test_hostile_peers(void)
{
    server sv = {0};
    const char *extra[] = {"--authentication-timeout", "1", NULL};
    CHECK(start(&sv, 6, extra) == 0);
    wb_pg_error err;
    wb_pg_conn *good = conn(&sv, NULL, &err);
    CHECK(good != NULL);
    uint8_t buf[65536];
    int eof;
    char out[64];
    /* garbage instead of a startup packet */
    int fd = raw(&sv);
    CHECK(write(fd, "GET / HTTP/1.1\r\n\r\n", 18) == 18);
    ssize_t n = read_to_eof(fd, 3, buf, sizeof buf, &eof);
    CHECK(eof && n > 0 && buf[0] == 'E' && fatal_code(buf, (size_t)n, "08P01"));
    close(fd);
    /* half a startup packet, then silence: closed after authentication_timeout */
    fd = raw(&sv);
    CHECK(write(fd, "\0\0\0\x50\0\3", 6) == 6);
    double t0 = now();
    n = read_to_eof(fd, 5, buf, sizeof buf, &eof);
    CHECK(eof && n == 0 && now() - t0 > 0.5 && now() - t0 < 4);
    close(fd);
    /* meanwhile the good session was never stalled */
    CHECK(query_text(good, "SELECT fine", out, sizeof out) == 0 && strcmp(out, "fine") == 0);
    /* after login: a huge length word on a small message type */
    fd = login_raw(&sv);
    CHECK(write(fd, "S\x7f\xff\xff\xff", 5) == 5);
    n = read_to_eof(fd, 3, buf, sizeof buf, &eof);
    CHECK(eof && fatal_code(buf, (size_t)n, "08P01"));
    close(fd);
    /* a Query claiming 1 GiB, then silence: nothing is allocated up front and others go on */
    fd = login_raw(&sv);
    CHECK(write(fd, "Q\x3f\xff\xff\xff" "SELECT", 11) == 11);
    CHECK(query_text(good, "SELECT still", out, sizeof out) == 0 && strcmp(out, "still") == 0);
    close(fd); /* vanished mid-message */
    /* an unknown message type */
    fd = login_raw(&sv);
    CHECK(write(fd, "\x01\0\0\0\x04", 5) == 5);
    n = read_to_eof(fd, 3, buf, sizeof buf, &eof);
    CHECK(eof && fatal_code(buf, (size_t)n, "08P01"));
    close(fd);
    /* a malformed Bind */
    fd = login_raw(&sv);
    CHECK(write(fd, "B\0\0\0\x06\0\0", 7) == 7);
    n = read_to_eof(fd, 3, buf, sizeof buf, &eof);
    CHECK(eof && fatal_code(buf, (size_t)n, "08P01"));
    close(fd);
    /* a vanished peer inside a transaction, in the middle of a statement */
    fd = login_raw(&sv);
    wb_buf b = {0};
    wb_pg_put_query(&b, "BEGIN; SELECT pg_sleep(0.3)");
    CHECK(write(fd, b.p, b.len) == (ssize_t)b.len);
    wb_buf_free(&b);
    close(fd);
    /* a flood of connections that send nothing and vanish */
    int fds[50];
    for (int i = 0; i < 50; i++)
        fds[i] = raw(&sv);
    for (int i = 0; i < 50; i++)
        close(fds[i]);
    /* SSLRequest without a certificate: 'N', then a normal startup works */
    fd = raw(&sv);
    CHECK(write(fd, "\0\0\0\x08\x04\xd2\x16\x2f", 8) == 8);
    CHECK(read(fd, buf, 1) == 1 && buf[0] == 'N');
    close(fd);
    /* GSSENCRequest: 'N' */
    fd = raw(&sv);
    CHECK(write(fd, "\0\0\0\x08\x04\xd2\x16\x30", 8) == 8);
    CHECK(read(fd, buf, 1) == 1 && buf[0] == 'N');
    close(fd);
    CHECK(query_text(good, "SELECT survived", out, sizeof out) == 0 && strcmp(out, "survived") == 0);
    wb_pg_finish(good);
    CHECK(stop(&sv) == 0);
}

static void test_sigterm(void)
{
    server sv = {0};
    CHECK(start(&sv, 7, NULL) == 0);
    wb_pg_error err;
    wb_pg_conn *idle = conn(&sv, NULL, &err), *busy = conn(&sv, NULL, &err), *intx = conn(&sv, NULL, &err);
    CHECK(idle && busy && intx);
    if (!idle || !busy || !intx)
        return;
    CHECK(wb_pg_command(intx, "BEGIN", &err) == 0);
    bg job = {busy, "SELECT pg_sleep(1)", "", 0};
    pthread_t th;
    pthread_create(&th, NULL, bg_query, &job);
    usleep(300000);
    double t0 = now();
    kill(sv.pid, SIGTERM);
    pthread_join(th, NULL);
    CHECK(job.sqlstate[0] == 0); /* the in-flight statement finished */
    int st = -1;
    for (int i = 0; i < 500; i++) {
        if (waitpid(sv.pid, &st, WNOHANG) == sv.pid)
            break;
        usleep(10000);
    }
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && now() - t0 < 5);
    /* every session was told (FATAL 57P01) and closed */
    CHECK(wb_pg_command(idle, "SELECT 1", &err) != 0);
    CHECK(wb_pg_command(intx, "SELECT 1", &err) != 0);
    wb_pg_finish(idle);
    wb_pg_finish(busy);
    wb_pg_finish(intx);
    struct stat sb;
    char path[400];
    snprintf(path, sizeof path, "%s/.s.PGSQL.%d", sv.sock, sv.port);
    CHECK(stat(path, &sb) != 0); /* the socket file is gone */
}

static int run_cli(const char *args, char *out, size_t cap)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", serve_bin, args);
    FILE *f = popen(cmd, "r");
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    int st = pclose(f);
    if (getenv("WB_TEST_VERBOSE"))
        fprintf(stderr, "serve %s -> %d: %s", args, WIFEXITED(st) ? WEXITSTATUS(st) : -1, out);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli_errors(void)
{
    char out[4096], args[600];
    CHECK(run_cli("--help", out, sizeof out) == 0 && strstr(out, "--max-connections"));
    CHECK(run_cli("--bogus", out, sizeof out) == 2 && strstr(out, "unknown option \"--bogus\""));
    CHECK(run_cli("-D /x -p notaport", out, sizeof out) == 2 && strstr(out, "invalid value \"notaport\" for -p"));
    CHECK(run_cli("-D /x --auth kerberos", out, sizeof out) == 2 && strstr(out, "invalid --auth"));
    CHECK(run_cli("-D /x -p", out, sizeof out) == 2 && strstr(out, "needs a value"));
    CHECK(run_cli("-p 1", out, sizeof out) == 2 && strstr(out, "no data directory"));
    /* trust on a non-loopback address is refused */
    snprintf(args, sizeof args, "-D %s/cli -k '' -h 0.0.0.0 -p %d --auth trust", tmp, port_base + 8);
    CHECK(run_cli(args, out, sizeof out) == 1 && strstr(out, "refusing --auth trust"));
    snprintf(args, sizeof args, "-D %s/cli -k '' -h 0.0.0.0 -p %d", tmp, port_base + 8);
    CHECK(run_cli(args, out, sizeof out) == 1 && strstr(out, "needs --passwords"));
    snprintf(args, sizeof args, "-D %s/cli -k '' --auth md5 -p %d", tmp, port_base + 8);
    CHECK(run_cli(args, out, sizeof out) == 1 && strstr(out, "--passwords"));
    /* an unwritable DATADIR */
    snprintf(args, sizeof args, "-D /proc/version/data -k %s -h '' -p %d", tmp, port_base + 8);
    CHECK(run_cli(args, out, sizeof out) == 1 && strstr(out, "/proc/version/data"));
    /* a busy port: another server already listens */
    server sv = {0};
    CHECK(start(&sv, 9, NULL) == 0);
    snprintf(args, sizeof args, "-D %s/cli -k '' -h 127.0.0.1 -p %d", tmp, sv.port);
    CHECK(run_cli(args, out, sizeof out) == 1 && strstr(out, "Address already in use"));
    snprintf(args, sizeof args, "-D %s/cli -k %s -h '' -p %d", tmp, sv.sock, sv.port);
    CHECK(run_cli(args, out, sizeof out) == 1 && strstr(out, "another server is listening"));
    CHECK(stop(&sv) == 0);
    /* a missing certificate */
    snprintf(args, sizeof args, "-D %s/cli -k '' -p %d --ssl-cert /nonexistent.crt --ssl-key /nonexistent.key", tmp,
             port_base + 8);
    CHECK(run_cli(args, out, sizeof out) == 1 && strstr(out, "/nonexistent.crt"));
}

/* The product: `wirebuf serve` on the SQL engine. The wire paths that need
 * the engine's real behaviour: a cancelled pg_sleep, a rolled-back
 * transaction of a vanished client and of SIGTERM, NOTIFY at commit, a
 * pipeline of inserts, md5 and SCRAM logins. */
static void test_real_engine(void)
{
    if (!real_bin) {
        fprintf(stderr, "test_real_engine: no wirebuf binary given; skipped\n");
        return;
    }
    char pw[300];
    snprintf(pw, sizeof pw, "%s/passwords_real", tmp);
    write_file(pw, "postgres:pgpass\n");
    server sv = {0};
    sv.real = 1;
    const char *extra[] = {"--auth", "scram-sha-256", "--passwords", pw, NULL};
    CHECK(start(&sv, 10, extra) == 0);
    wb_pg_error err;
    wb_pg_conn *a = conn(&sv, "password=pgpass", &err), *b = conn(&sv, "password=pgpass", &err);
    CHECK(a && b);
    if (!a || !b) {
        fprintf(stderr, "real engine: %s\n", err.message);
        stop(&sv);
        return;
    }
    CHECK(wb_pg_command(a, "CREATE TABLE t (id int PRIMARY KEY, v text)", &err) == 0);
    /* a pipeline of 500 inserts, one Sync */
    CHECK(wb_pg_pipeline_parse(a, "ins", "INSERT INTO t VALUES ($1, $2)", 0, NULL, &err) == 0);
    for (int i = 0; i < 500; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d", i);
        wb_pg_param p[2] = {{id, -1, 0, 0}, {"x", -1, 0, 0}};
        CHECK(wb_pg_pipeline_exec(a, "ins", 2, p, 0, NULL, &err) == 0);
    }
    CHECK(wb_pg_pipeline_sync(a, &err) == 0);
    wb_pg_error first = {0};
    CHECK(wb_pg_drain(a, &first, &err) == 0 && first.kind == WB_PG_ERR_NONE);
    char out[128];
    CHECK(query_text(b, "SELECT count(*) FROM t", out, sizeof out) == 0 && strcmp(out, "500") == 0);
    /* cancel a running pg_sleep */
    bg job = {a, "SELECT pg_sleep(20)", "", 0};
    pthread_t th;
    pthread_create(&th, NULL, bg_query, &job);
    usleep(300000);
    CHECK(query_text(b, "SELECT 'meanwhile'", out, sizeof out) == 0 && strcmp(out, "meanwhile") == 0);
    CHECK(wb_pg_cancel(a, &err) == 0);
    pthread_join(th, NULL);
    CHECK(strcmp(job.sqlstate, "57014") == 0 && job.secs < 5);
    /* NOTIFY at commit reaches the listener */
    struct {
        int n;
        char payload[64];
        int32_t pid;
    } got = {0, "", 0};
    wb_pg_set_notify_handler(a, note_cb, &got);
    CHECK(wb_pg_command(a, "LISTEN ch", &err) == 0);
    CHECK(wb_pg_command(b, "BEGIN", &err) == 0 && wb_pg_command(b, "NOTIFY ch, 'at commit'", &err) == 0);
    CHECK(wb_pg_consume_input(a, 300, &err) == 0 && got.n == 0); /* not before commit */
    CHECK(wb_pg_command(b, "COMMIT", &err) == 0);
    CHECK(wb_pg_consume_input(a, 3000, &err) >= 1 && got.n == 1 && strcmp(got.payload, "at commit") == 0);
    /* a client that vanishes inside a transaction leaves nothing behind */
    wb_pg_conn *v = conn(&sv, "password=pgpass", &err);
    CHECK(v && wb_pg_command(v, "BEGIN", &err) == 0 && wb_pg_command(v, "INSERT INTO t VALUES (1000, 'gone')", &err) == 0);
    close(wb_pg_socket(v));
    usleep(300000);
    CHECK(query_text(b, "SELECT count(*) FROM t WHERE id = 1000", out, sizeof out) == 0 && strcmp(out, "0") == 0);
    wb_pg_finish(v);
    /* SIGTERM with an open transaction: rolled back, committed rows kept */
    CHECK(wb_pg_command(b, "BEGIN", &err) == 0 && wb_pg_command(b, "INSERT INTO t VALUES (2000, 'open')", &err) == 0);
    CHECK(stop(&sv) == 0);
    wb_pg_finish(a);
    wb_pg_finish(b);
    const char *md5[] = {"--auth", "md5", "--passwords", pw, NULL};
    CHECK(start(&sv, 10, md5) == 0);
    a = conn(&sv, "password=pgpass", &err);
    CHECK(a && query_text(a, "SELECT count(*) FROM t", out, sizeof out) == 0 && strcmp(out, "500") == 0);
    wb_pg_finish(a);
    a = conn(&sv, "password=wrong", &err);
    CHECK(!a && strcmp(err.sqlstate, "28P01") == 0);
    CHECK(stop(&sv) == 0);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_server SERVE_BINARY\n");
        return 2;
    }
    serve_bin = argv[1];
    real_bin = argc > 2 ? argv[2] : NULL;
    signal(SIGPIPE, SIG_IGN);
    snprintf(tmp, sizeof tmp, "/tmp/wb_test_server.XXXXXX");
    if (!mkdtemp(tmp))
        return 2;
    /* below the kernel's ephemeral range (32768-60999), so that no
     * outgoing connection of another test holds one of our ports */
    port_base = 20000 + (int)(getpid() % 790) * 16;
    const char *only = getenv("WB_TEST_ONLY");
#define RUN(name)                                                                                                      \
    if (!only || strstr(only, #name))                                                                                  \
    test_##name()
    RUN(backend_codec);
    RUN(session_sans_io);
    RUN(trust_and_queries);
    RUN(auth_methods);
    RUN(tls);
    RUN(cancel_notify_limits);
    RUN(hostile_peers);
    RUN(sigterm);
    RUN(cli_errors);
    RUN(real_engine);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", tmp);
    return check_report("test_server");
}
