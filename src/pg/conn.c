/* The PostgreSQL client connection (see include/wirebuf/pg.h).
 *
 * I/O lives here and only here: the codec (proto.c) frames and decodes in
 * place. The socket is non-blocking; waits are poll(2) calls with the
 * connect/query timeouts. Reads go through the connection's wb_stream (the
 * one read buffer); writes gather in c->out and go out in large writes.
 * While a write would block, the writer reads whatever the server has sent
 * into the read buffer, so pipelines of any size never deadlock
 * (PostgreSQL 15 docs §55.2.4: the client must keep reading while it
 * sends). */
#include "internal.h"
#include "wirebuf/pgreader.h"
#include "wirebuf/stream.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_READ_BUFFER (128u * 1024u)
#define DEFAULT_COPY_FLUSH (1024u * 1024u)
#define WRITE_THRESHOLD (64u * 1024u)

/* every public function accepts err == NULL (the error is then not reported) */
#define ERR_OR_LOCAL(e)                                                                                                \
    wb_pg_error e##_local_;                                                                                            \
    if (!(e))                                                                                                          \
    (e) = &e##_local_

struct wb_pg_conn {
    wb_pg_io io;      /* the transport (plain or TLS); io.fd is the socket */
    SSL_CTX *ssl_ctx;
    wb_stream *in;    /* the one read buffer */
    wb_pg_reader rd;  /* frames backend messages out of `in` */
    wb_buf out;
    size_t read_buffer, copy_flush;
    int query_timeout_ms, connect_timeout_ms;
    int bad;
    int blocking; /* plain socket switched to blocking mode after startup:
                     a wait is then one recv(2), not recv+poll+recv */
    char tx;
    int32_t pid, key;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    /* ParameterStatus: name, value pairs */
    char **params;
    size_t nparams;
    pthread_mutex_t params_mu; /* guards params/nparams (see wb_pg_parameter_copy) */
    wb_pg_notice_fn notice_fn;
    void *notice_ctx;
    wb_pg_notify_fn notify_fn;
    void *notify_ctx;
    /* request state */
    int64_t pending;  /* ReadyForQuery messages still to come */
    int portal_open;  /* Execute with a row limit sent without Sync */
    int have_rowdesc; /* a RowDescription describes the rows that follow */
    int portal_suspended; /* PortalSuspended read: the server waits for
                             Execute (wb_pg_send_more) or Close + Sync */
    int64_t stmt;     /* statement index of the next result */
    int64_t execs;    /* Executes queued in the current pipeline */
    int64_t *sync_execs; /* per queued Sync: Executes before it (-1: simple Query) */
    size_t sync_head, sync_tail, sync_cap;
    int timed_out, cancel_sent;
    /* current columns */
    wb_buf rowdesc;   /* copy of the last RowDescription body */
    wb_pg_column *cols;
    uint16_t ncols, cols_cap;
    const uint8_t **vals;
    int32_t *lens;
    uint16_t vals_cap;
    wb_pg_error error; /* the last statement error (for events) */
    /* COPY */
    wb_buf copybuf;
    int copy_in;
    wb_pg_stats stats;
    char errbuf[256];
};

/* ---------------------------------------------------------------- */
/* time and waiting                                                  */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait for events on the socket; returns revents, 0 on timeout, -1 error */
static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd p = {fd, events, 0};
    for (;;) {
        int r = poll(&p, 1, timeout_ms);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return r;
        return p.revents;
    }
}

static void set_bad(wb_pg_conn *c) { c->bad = 1; }

static int io_fail(wb_pg_conn *c, wb_pg_error *err, int kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int io_fail(wb_pg_conn *c, wb_pg_error *err, int kind, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    set_bad(c);
    return wb_pg_errf(err, kind, "%s", msg);
}

static const char *ssl_errstr(void)
{
    unsigned long e = ERR_get_error();
    static const char none[] = "unknown TLS error";
    return e ? ERR_reason_error_string(e) ? ERR_reason_error_string(e) : none : none;
}

/* ---------------------------------------------------------------- */
/* raw socket / TLS reads and writes (non-blocking)                   */

/* >0 bytes, 0 would block, -1 error/EOF (message in c->errbuf; eof=1 for
 * EOF). wait: a blocking plain socket may wait inside recv(2). */
static ssize_t raw_read(wb_pg_conn *c, uint8_t *buf, size_t cap, int *eof, int *want_write, int wait)
{
    *eof = 0;
    *want_write = 0;
    c->stats.reads++;
    c->io.wait = wait && c->blocking;
    ssize_t n = c->io.ops->recv(&c->io, buf, cap);
    if (n > 0)
        return n;
    if (n == WB_STREAM_AGAIN) {
        *want_write = c->io.want_write;
        return 0;
    }
    if (n == 0) {
        *eof = 1;
        snprintf(c->errbuf, sizeof c->errbuf, "server closed the connection unexpectedly");
        return -1;
    }
    snprintf(c->errbuf, sizeof c->errbuf, "could not receive data from server: %.200s", c->io.err);
    return -1;
}

/* >0 bytes, 0 would block, -1 error (message in c->errbuf) */
static ssize_t raw_write(wb_pg_conn *c, const uint8_t *buf, size_t n, int *want_read)
{
    *want_read = 0;
    c->stats.writes++;
    ssize_t w = c->io.ops->send(&c->io, buf, n);
    if (w >= 0)
        return w;
    if (w == WB_STREAM_AGAIN) {
        *want_read = !c->io.want_write;
        return 0;
    }
    snprintf(c->errbuf, sizeof c->errbuf, "could not send data to server: %.200s", c->io.err);
    return -1;
}

static int send_cancel_request(const struct sockaddr_storage *addr, socklen_t addrlen, int32_t pid, int32_t key,
                               char *msg, size_t msglen);

/* The wb_stream source: blocks (poll) until bytes arrive. With a query
 * timeout, the first expiry sends a CancelRequest and keeps waiting for the
 * server's answer; a second expiry gives up. */
static ssize_t conn_read(void *ctx, uint8_t *buf, size_t cap, char *errbuf, size_t errlen)
{
    wb_pg_conn *c = ctx;
    for (;;) {
        int eof, want_write;
        /* without a timeout to watch, a blocking socket waits inside recv */
        int wait = c->query_timeout_ms == 0 && !c->cancel_sent;
        ssize_t n = raw_read(c, buf, cap, &eof, &want_write, wait);
        if (n > 0) {
            c->stats.bytes_in += (uint64_t)n;
            return n;
        }
        if (n < 0) {
            snprintf(errbuf, errlen, "%s", c->errbuf);
            return -1;
        }
        int timeout = c->query_timeout_ms > 0 ? c->query_timeout_ms : -1;
        if (c->cancel_sent) /* a live server answers a cancel within milliseconds */
            timeout = timeout < 2000 ? 2000 : timeout;
        int r = wait_fd(c->io.fd, want_write ? POLLOUT : POLLIN, timeout);
        if (r < 0) {
            snprintf(errbuf, errlen, "poll failed: %s", strerror(errno));
            return -1;
        }
        if (r == 0) {
            if (c->cancel_sent || !c->pid) {
                snprintf(errbuf, errlen, "no answer from the server within %d ms%s", timeout,
                         c->cancel_sent ? " after cancelling the query" : "");
                return -1;
            }
            char msg[256];
            c->timed_out = 1;
            c->cancel_sent = 1;
            if (send_cancel_request(&c->addr, c->addrlen, c->pid, c->key, msg, sizeof msg) != 0) {
                snprintf(errbuf, errlen, "query timeout after %d ms and the cancel failed: %s", timeout, msg);
                return -1;
            }
        }
    }
}

static int take_error(wb_pg_conn *c, const wb_pg_msg *m, int startup, wb_pg_error *e, wb_pg_error *err);

/* A write failed (EPIPE, ECONNRESET, TLS): the server has usually said why
 * before it closed (a FATAL from pg_terminate_backend or a shutdown, an
 * ERROR then FATAL mid-COPY). Pull what already arrived (waiting at most
 * 200 ms) and report the server's ErrorResponse rather than the write
 * error; the connection is closed either way. */
static int write_failed(wb_pg_conn *c, wb_pg_error *err, const char *why)
{
    char msg[sizeof c->errbuf];
    snprintf(msg, sizeof msg, "%s", why);
    for (int i = 0; i < 256 && c->in; i++) {
        int r = wait_fd(c->io.fd, POLLIN, i == 0 ? 200 : 0);
        if (r <= 0 || !(r & (POLLIN | POLLHUP | POLLERR)) || wb_stream_fill(c->in) <= 0)
            break;
    }
    /* the connection ends here: frame what is buffered (never reading
     * more), consuming it */
    wb_pg_error found = {0};
    if (c->in)
        wb_pg_reader_consume(&c->rd);
    while (c->in && wb_pg_reader_has_message(&c->rd)) {
        wb_pg_msg m;
        if (wb_pg_reader_next(&c->rd, &m) != WB_PG_READ_MSG)
            break;
        if (m.type == 'E') {
            wb_pg_error scratch;
            if (take_error(c, &m, 0, &found, &scratch) >= 0 && found.kind == WB_PG_ERR_FATAL)
                break; /* the reason the session ended */
        }
    }
    set_bad(c);
    if (found.kind) {
        int kind = found.kind == WB_PG_ERR_FATAL ? WB_PG_ERR_FATAL : WB_PG_ERR_IO;
        *err = found;
        err->kind = kind;
        size_t l = strlen(err->message);
        snprintf(err->message + l, sizeof err->message - l, " (then: %s)", msg);
        return -1;
    }
    return wb_pg_errf(err, WB_PG_ERR_IO, "%s", msg);
}

/* Write all of c->out. While the socket is full, read what the server sends
 * into the read buffer (kept for wb_pg_step). */
static int conn_flush(wb_pg_conn *c, wb_pg_error *err)
{
    size_t off = 0;
    while (off < c->out.len) {
        int want_read;
        ssize_t w = raw_write(c, c->out.p + off, c->out.len - off, &want_read);
        if (w < 0) {
            c->out.len = 0;
            return write_failed(c, err, c->errbuf);
        }
        if (w > 0) {
            off += (size_t)w;
            c->stats.bytes_out += (uint64_t)w;
            continue;
        }
        int r = wait_fd(c->io.fd, want_read ? POLLIN : (POLLIN | POLLOUT), -1);
        if (r < 0) {
            c->out.len = 0;
            return io_fail(c, err, WB_PG_ERR_IO, "poll failed: %s", strerror(errno));
        }
        if ((r & (POLLIN | POLLHUP | POLLERR)) && !want_read) {
            /* answers are arriving: pull them into the read buffer */
            if (wb_stream_fill(c->in) < 0) {
                c->out.len = 0;
                char why[sizeof c->errbuf];
                snprintf(why, sizeof why, "%s", wb_stream_error(c->in) ? wb_stream_error(c->in) : "read failed");
                return write_failed(c, err, why);
            }
        }
    }
    c->out.len = 0;
    return 0;
}

static int maybe_flush(wb_pg_conn *c, wb_pg_error *err)
{
    return c->out.len >= WRITE_THRESHOLD ? conn_flush(c, err) : 0;
}

/* ---------------------------------------------------------------- */
/* reading messages                                                  */

/* Frame the next backend message in the read buffer (reading as needed).
 * The previous message's bytes are released first: views into it die. */
static int next_msg(wb_pg_conn *c, wb_pg_msg *m, wb_pg_error *err)
{
    int r = wb_pg_reader_next(&c->rd, m);
    if (r == WB_PG_READ_MSG) {
        c->stats.messages_in++;
        return 0;
    }
    if (r == WB_PG_READ_EOF) /* the source reports EOF as an error: not reached */
        return io_fail(c, err, WB_PG_ERR_IO, "server closed the connection unexpectedly");
    const char *e = wb_stream_error(c->in);
    if (e) {
        size_t avail;
        wb_stream_peek(c->in, &avail);
        return io_fail(c, err, WB_PG_ERR_IO, "%s%s", e, avail ? " (inside a message)" : "");
    }
    if (r == WB_PG_READ_AGAIN) /* conn_read blocks: not reached */
        return io_fail(c, err, WB_PG_ERR_IO, "read would block");
    return io_fail(c, err, WB_PG_ERR_PROTOCOL, "protocol error from the server: %s", c->rd.err);
}

static int proto_fail(wb_pg_conn *c, wb_pg_error *err, const wb_pg_msg *m, const char *what)
{
    return io_fail(c, err, WB_PG_ERR_PROTOCOL, "protocol error in %s (type '%c') at byte %llu: %s",
                   wb_pg_msg_name(m->type, 1), m->type >= 32 && m->type < 127 ? m->type : '?',
                   (unsigned long long)(wb_stream_offset(c->in)), what);
}

static void copy_field(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* ErrorResponse -> wb_pg_error */
static void fill_error(wb_pg_error *e, const wb_pg_fields *f, int kind)
{
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->statement = -1;
    copy_field(e->sqlstate, sizeof e->sqlstate, f->sqlstate);
    copy_field(e->severity, sizeof e->severity, f->severity_nonlocal ? f->severity_nonlocal : f->severity);
    if (f->message && f->message[0])
        copy_field(e->message, sizeof e->message, f->message);
    else if (e->sqlstate[0]) /* §55.8: M "always present"; say so, never print nothing */
        snprintf(e->message, sizeof e->message, "the server sent an ErrorResponse without a message (SQLSTATE %s)",
                 e->sqlstate);
    else
        snprintf(e->message, sizeof e->message, "the server sent an ErrorResponse without any fields");
    copy_field(e->detail, sizeof e->detail, f->detail);
    copy_field(e->hint, sizeof e->hint, f->hint);
    copy_field(e->where, sizeof e->where, f->where);
    copy_field(e->position, sizeof e->position, f->position);
    copy_field(e->schema, sizeof e->schema, f->schema);
    copy_field(e->table, sizeof e->table, f->table);
    copy_field(e->column, sizeof e->column, f->column);
    copy_field(e->datatype, sizeof e->datatype, f->datatype);
    copy_field(e->constraint, sizeof e->constraint, f->constraint);
}

/* The one ErrorResponse classifier of src/pg (§55.8 Severity, §55.2.1).
 * During startup and authentication every ErrorResponse ends the attempt:
 * class 28 (invalid authorization) is WB_PG_ERR_AUTH, the rest FATAL.
 * Afterwards FATAL and PANIC end the session (the server closes the
 * connection: WB_PG_ERR_FATAL); ERROR (or a missing severity) is a
 * statement error (WB_PG_ERR_SERVER), the connection stays usable. */
static int error_kind(const wb_pg_fields *f, int startup)
{
    const char *sev = f->severity_nonlocal ? f->severity_nonlocal : f->severity ? f->severity : "";
    if (startup)
        return f->sqlstate && strncmp(f->sqlstate, "28", 2) == 0 ? WB_PG_ERR_AUTH : WB_PG_ERR_FATAL;
    if (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0)
        return WB_PG_ERR_FATAL;
    return WB_PG_ERR_SERVER;
}

/* Parse ErrorResponse m into *e with error_kind's verdict; anything but a
 * statement error (SERVER) marks the connection bad. Returns the kind, or -1
 * (malformed: *err filled, the connection bad). */
static int take_error(wb_pg_conn *c, const wb_pg_msg *m, int startup, wb_pg_error *e, wb_pg_error *err)
{
    wb_pg_fields f;
    if (wb_pg_parse_fields(m, &f, c->errbuf, sizeof c->errbuf))
        return proto_fail(c, err, m, c->errbuf);
    int kind = error_kind(&f, startup);
    fill_error(e, &f, kind);
    if (kind != WB_PG_ERR_SERVER)
        set_bad(c);
    return kind;
}

static int set_param_locked(wb_pg_conn *c, const char *name, const char *value);
static int set_param(wb_pg_conn *c, const char *name, const char *value)
{
    pthread_mutex_lock(&c->params_mu);
    int rc = set_param_locked(c, name, value);
    pthread_mutex_unlock(&c->params_mu);
    return rc;
}
static int set_param_locked(wb_pg_conn *c, const char *name, const char *value)
{
    for (size_t i = 0; i < c->nparams; i++) {
        if (strcmp(c->params[2 * i], name) == 0) {
            char *v = strdup(value);
            if (!v)
                return -1;
            free(c->params[2 * i + 1]);
            c->params[2 * i + 1] = v;
            return 0;
        }
    }
    char **p = realloc(c->params, sizeof *p * 2 * (c->nparams + 1));
    if (!p)
        return -1;
    c->params = p;
    p[2 * c->nparams] = strdup(name);
    p[2 * c->nparams + 1] = strdup(value);
    if (!p[2 * c->nparams] || !p[2 * c->nparams + 1]) {
        free(p[2 * c->nparams]);
        free(p[2 * c->nparams + 1]);
        return -1;
    }
    c->nparams++;
    return 0;
}

/* NoticeResponse, NotificationResponse, ParameterStatus can come at any
 * time (§55.2.7). Returns 1 if m was one of them (handled), 0 if not, -1 on
 * a malformed one. */
static int handle_async(wb_pg_conn *c, const wb_pg_msg *m, wb_pg_error *err)
{
    switch (m->type) {
    case 'N': {
        wb_pg_fields f;
        if (wb_pg_parse_fields(m, &f, c->errbuf, sizeof c->errbuf))
            return proto_fail(c, err, m, c->errbuf);
        if (c->notice_fn)
            c->notice_fn(c->notice_ctx, &f);
        return 1;
    }
    case 'A': {
        int32_t pid;
        const char *ch, *pl;
        if (wb_pg_parse_notification(m, &pid, &ch, &pl, c->errbuf, sizeof c->errbuf))
            return proto_fail(c, err, m, c->errbuf);
        if (c->notify_fn)
            c->notify_fn(c->notify_ctx, pid, ch, pl);
        return 1;
    }
    case 'S': {
        const char *n, *v;
        if (wb_pg_parse_parameter_status(m, &n, &v, c->errbuf, sizeof c->errbuf))
            return proto_fail(c, err, m, c->errbuf);
        if (set_param(c, n, v))
            return io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
        return 1;
    }
    default:
        return 0;
    }
}

/* ---------------------------------------------------------------- */
/* connecting                                                        */

static int tcp_connect(wb_pg_conn *c, const char *host, const char *port, int64_t deadline, char *msg, size_t ml)
{
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    int g = getaddrinfo(host, port, &hints, &res);
    if (g) {
        snprintf(msg, ml, "could not translate host name \"%s\" to address: %s", host, gai_strerror(g));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        int r = connect(fd, a->ai_addr, a->ai_addrlen);
        if (r < 0 && errno == EINPROGRESS) {
            int left = deadline ? (int)(deadline - now_ms()) : -1;
            int w = wait_fd(fd, POLLOUT, deadline ? (left > 0 ? left : 0) : -1);
            int soerr = 0;
            socklen_t sl = sizeof soerr;
            if (w == 0) {
                snprintf(msg, ml, "timeout expired connecting to %s port %s", host, port);
                soerr = ETIMEDOUT;
            } else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr) {
                snprintf(msg, ml, "connection to server at \"%s\", port %s failed: %s", host, port, strerror(soerr));
            }
            r = soerr ? -1 : 0;
        } else if (r < 0) {
            snprintf(msg, ml, "connection to server at \"%s\", port %s failed: %s", host, port, strerror(errno));
        }
        if (r == 0) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            memcpy(&c->addr, a->ai_addr, a->ai_addrlen);
            c->addrlen = a->ai_addrlen;
            break;
        }
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int unix_connect(wb_pg_conn *c, const char *dir, const char *port, char *msg, size_t ml)
{
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/.s.PGSQL.%s", dir, port) >= sizeof sa.sun_path) {
        snprintf(msg, ml, "Unix-domain socket path \"%s/.s.PGSQL.%s\" is too long", dir, port);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(msg, ml, "could not create socket: %s", strerror(errno));
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(msg, ml, "connection to server on socket \"%s\" failed: %s", sa.sun_path, strerror(errno));
        close(fd);
        return -1;
    }
    memcpy(&c->addr, &sa, sizeof sa);
    c->addrlen = sizeof sa;
    return fd;
}

/* the startup phase reads with the connect deadline as the wait limit */
static int startup_msg(wb_pg_conn *c, wb_pg_msg *m, int64_t deadline, wb_pg_error *err)
{
    int save = c->query_timeout_ms;
    if (deadline) {
        int left = (int)(deadline - now_ms());
        c->query_timeout_ms = left > 0 ? left : 1;
    }
    int rc = next_msg(c, m, err);
    c->query_timeout_ms = save;
    if (rc && deadline && now_ms() >= deadline)
        wb_pg_errf(err, WB_PG_ERR_CONNECT, "timeout expired waiting for the server during startup");
    return rc;
}

static int tls_start(wb_pg_conn *c, const wb_pg_cfg *cfg, const char *host, int64_t deadline, wb_pg_error *err)
{
    const char *mode = cfg->v[KW_SSLMODE];
    int verify = strcmp(mode, "verify-ca") == 0 || strcmp(mode, "verify-full") == 0;
    c->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ssl_ctx)
        return io_fail(c, err, WB_PG_ERR_TLS, "could not create TLS context: %s", ssl_errstr());
    SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
    if (verify) {
        char path[4096];
        if (cfg->v[KW_SSLROOTCERT]) {
            snprintf(path, sizeof path, "%s", cfg->v[KW_SSLROOTCERT]);
        } else {
            const char *home = getenv("HOME");
            snprintf(path, sizeof path, "%s/.postgresql/root.crt", home ? home : "");
        }
        if (SSL_CTX_load_verify_locations(c->ssl_ctx, path, NULL) != 1)
            return io_fail(c, err, WB_PG_ERR_TLS, "could not read root certificate file \"%s\": %s", path,
                           ssl_errstr());
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
    }
    if (wb_pg_io_tls_client(&c->io, c->ssl_ctx, host, strcmp(mode, "verify-full") == 0))
        return io_fail(c, err, WB_PG_ERR_TLS, "%s", c->io.err);
    for (;;) {
        int r = wb_pg_io_handshake(&c->io);
        if (r == 1)
            break;
        if (r < 0) {
            long v = SSL_get_verify_result(c->io.ssl);
            if (v != X509_V_OK)
                return io_fail(c, err, WB_PG_ERR_TLS, "TLS certificate verification failed (sslmode=%s): %s", mode,
                               X509_verify_cert_error_string(v));
            return io_fail(c, err, WB_PG_ERR_TLS, "%s", c->io.err);
        }
        int left = deadline ? (int)(deadline - now_ms()) : -1;
        if (deadline && left <= 0)
            return io_fail(c, err, WB_PG_ERR_CONNECT, "timeout expired during the TLS handshake");
        if (wait_fd(c->io.fd, c->io.want_write ? POLLOUT : POLLIN, left) <= 0)
            return io_fail(c, err, WB_PG_ERR_CONNECT, "timeout expired during the TLS handshake");
    }
    return 0;
}

/* Authentication exchange (§55.2.1, §55.3): answers every request until
 * AuthenticationOk. */
static int authenticate(wb_pg_conn *c, const wb_pg_cfg *cfg, const char *password, int64_t deadline, wb_pg_error *err)
{
    const char *user = cfg->v[KW_USER];
    wb_pg_scram scram = {0};
    int in_sasl = 0, rc = -1;
    for (;;) {
        wb_pg_msg m;
        if (startup_msg(c, &m, deadline, err))
            goto out;
        if (m.type == 'E') {
            take_error(c, &m, 1, err, err);
            goto out;
        }
        if (m.type == 'N' || m.type == 'S') {
            if (handle_async(c, &m, err) < 0)
                goto out;
            continue;
        }
        if (m.type == 'v') { /* NegotiateProtocolVersion: fine as long as 3.0 */
            int32_t minor, n;
            const char *names;
            if (wb_pg_parse_negotiate_protocol_version(&m, &minor, &n, &names, c->errbuf, sizeof c->errbuf)) {
                proto_fail(c, err, &m, c->errbuf);
                goto out;
            }
            continue;
        }
        if (m.type != 'R') {
            proto_fail(c, err, &m, "expected an authentication request");
            goto out;
        }
        wb_pg_auth a;
        if (wb_pg_parse_auth(&m, &a, c->errbuf, sizeof c->errbuf)) {
            proto_fail(c, err, &m, c->errbuf);
            goto out;
        }
        if (a.code == WB_PG_AUTH_OK) {
            if (in_sasl != 2 && in_sasl != 0) {
                io_fail(c, err, WB_PG_ERR_AUTH, "server accepted SCRAM authentication without proving it knows the password");
                goto out;
            }
            rc = 0;
            goto out;
        }
        if ((a.code == WB_PG_AUTH_CLEARTEXT || a.code == WB_PG_AUTH_MD5 || a.code == WB_PG_AUTH_SASL) && !password) {
            io_fail(c, err, WB_PG_ERR_AUTH,
                    "password authentication for user \"%s\" requested by the server but no password supplied "
                    "(password=, PGPASSWORD or ~/.pgpass)",
                    user);
            goto out;
        }
        int w = 0;
        switch (a.code) {
        case WB_PG_AUTH_CLEARTEXT:
            w = wb_pg_put_password(&c->out, password);
            break;
        case WB_PG_AUTH_MD5: {
            char hash[36];
            if (wb_pg_md5_password(user, password, a.data, hash)) {
                io_fail(c, err, WB_PG_ERR_AUTH, "MD5 hashing failed");
                goto out;
            }
            w = wb_pg_put_password(&c->out, hash);
            break;
        }
        case WB_PG_AUTH_SASL: {
            int has_scram = 0, has_plus = 0;
            for (const char *mech = (const char *)a.data; *mech; mech += strlen(mech) + 1) {
                has_scram |= strcmp(mech, "SCRAM-SHA-256") == 0;
                has_plus |= strcmp(mech, "SCRAM-SHA-256-PLUS") == 0;
            }
            const char *cb = cfg->v[KW_CHANNEL_BINDING];
            int plus = has_plus && c->io.ssl && !(cb && strcmp(cb, "disable") == 0);
            if (cb && strcmp(cb, "require") == 0 && !plus) {
                io_fail(c, err, WB_PG_ERR_AUTH, "channel binding required, but the server did not offer it over TLS");
                goto out;
            }
            if (!has_scram && !plus) {
                io_fail(c, err, WB_PG_ERR_AUTH, "none of the server's SASL authentication mechanisms are supported");
                goto out;
            }
            uint8_t hash[64];
            size_t hlen = 0;
            int hl = c->io.ssl ? wb_pg_io_tls_end_point(&c->io, 0, hash) : 0;
            if (hl >= 0)
                hlen = (size_t)hl;
            else {
                io_fail(c, err, WB_PG_ERR_AUTH, "could not hash the server certificate for channel binding");
                goto out;
            }
            char *first = NULL;
            if (wb_pg_scram_first(&scram, password, plus, c->io.ssl ? hash : NULL, hlen, &first, err)) {
                free(first);
                set_bad(c);
                goto out;
            }
            w = wb_pg_put_sasl_initial(&c->out, plus ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256", first, strlen(first));
            free(first);
            in_sasl = 1;
            break;
        }
        case WB_PG_AUTH_SASL_CONTINUE: {
            char *final = NULL;
            if (in_sasl != 1 || wb_pg_scram_final(&scram, a.data, a.len, &final, err)) {
                free(final);
                if (in_sasl != 1)
                    io_fail(c, err, WB_PG_ERR_AUTH, "unexpected SASLContinue");
                set_bad(c);
                goto out;
            }
            w = wb_pg_put_sasl_response(&c->out, final, strlen(final));
            free(final);
            break;
        }
        case WB_PG_AUTH_SASL_FINAL:
            if (in_sasl != 1 || wb_pg_scram_verify(&scram, a.data, a.len, err)) {
                if (in_sasl != 1)
                    io_fail(c, err, WB_PG_ERR_AUTH, "unexpected SASLFinal");
                set_bad(c);
                goto out;
            }
            in_sasl = 2;
            continue;
        default:
            io_fail(c, err, WB_PG_ERR_AUTH, "authentication method %d requested by the server is not supported",
                    a.code);
            goto out;
        }
        if (w || conn_flush(c, err)) {
            if (w)
                io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
            goto out;
        }
    }
out:
    wb_pg_scram_free(&scram);
    return rc;
}

/* After AuthenticationOk: BackendKeyData, ParameterStatus... ReadyForQuery */
static int finish_startup(wb_pg_conn *c, int64_t deadline, wb_pg_error *err)
{
    for (;;) {
        wb_pg_msg m;
        if (startup_msg(c, &m, deadline, err))
            return -1;
        int h = handle_async(c, &m, err);
        if (h < 0)
            return -1;
        if (h)
            continue;
        if (m.type == 'K') {
            if (wb_pg_parse_backend_key_data(&m, &c->pid, &c->key, c->errbuf, sizeof c->errbuf))
                return proto_fail(c, err, &m, c->errbuf);
        } else if (m.type == 'Z') {
            if (wb_pg_parse_ready_for_query(&m, &c->tx, c->errbuf, sizeof c->errbuf))
                return proto_fail(c, err, &m, c->errbuf);
            return 0;
        } else if (m.type == 'E') {
            take_error(c, &m, 1, err, err);
            return -1;
        } else {
            return proto_fail(c, err, &m, "unexpected message during startup");
        }
    }
}

static void conn_close_socket(wb_pg_conn *c)
{
    if (c->io.ssl && c->bad)
        SSL_set_quiet_shutdown(c->io.ssl, 1); /* no close_notify into a broken connection */
    c->io.ops->close(&c->io); /* frees the TLS session, if any */
    if (c->ssl_ctx) {
        SSL_CTX_free(c->ssl_ctx);
        c->ssl_ctx = NULL;
    }
    if (c->io.fd >= 0)
        close(c->io.fd);
    wb_pg_io_plain(&c->io, -1);
    wb_stream_close(c->in);
    c->in = NULL;
    c->out.len = 0;
    memset(&c->rd, 0, sizeof c->rd);
}

/* One attempt at one host. */
static int try_host(wb_pg_conn *c, const wb_pg_cfg *cfg, const char *host, const char *port, int64_t deadline,
                    wb_pg_error *err)
{
    char msg[512] = "";
    c->bad = 0;
    int fd = host[0] == '/' ? unix_connect(c, host, port, msg, sizeof msg) : tcp_connect(c, host, port, deadline, msg, sizeof msg);
    if (fd < 0)
        return wb_pg_errf(err, WB_PG_ERR_CONNECT, "%s", msg);
    wb_pg_io_plain(&c->io, fd);
    c->in = wb_stream_from_fn(conn_read, c, c->read_buffer);
    if (!c->in)
        return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
    wb_pg_reader_init(&c->rd, c->in, WB_PG_FROM_BACKEND);
    const char *mode = cfg->v[KW_SSLMODE];
    int want_tls = strcmp(mode, "disable") != 0;
    int need_tls = want_tls && strcmp(mode, "prefer") != 0;
    if (want_tls && host[0] != '/') {
        if (wb_pg_put_ssl_request(&c->out) || conn_flush(c, err))
            return -1;
        /* the answer is one unframed byte: read it without buffering more
         * (anything after it belongs to the TLS handshake) */
        uint8_t b;
        for (;;) {
            ssize_t n = c->io.ops->recv(&c->io, &b, 1);
            if (n == 1)
                break;
            if (n != WB_STREAM_AGAIN)
                return io_fail(c, err, WB_PG_ERR_CONNECT, "server closed the connection during the SSLRequest");
            int left = deadline ? (int)(deadline - now_ms()) : -1;
            if ((deadline && left <= 0) || wait_fd(c->io.fd, POLLIN, left) <= 0)
                return io_fail(c, err, WB_PG_ERR_CONNECT, "timeout expired waiting for the SSLRequest answer");
        }
        if (b == 'S') {
            if (tls_start(c, cfg, host, deadline, err))
                return -1;
        } else if (b == 'N') {
            if (need_tls)
                return io_fail(c, err, WB_PG_ERR_TLS, "server at \"%s\" does not support SSL, but SSL was required (sslmode=%s)",
                               host, mode);
        } else {
            return io_fail(c, err, WB_PG_ERR_PROTOCOL, "unexpected answer 0x%02x to SSLRequest", b);
        }
    } else if (need_tls) {
        return io_fail(c, err, WB_PG_ERR_TLS,
                       "SSL was required (sslmode=%s) but \"%s\" is a Unix-domain socket, where the server does not "
                       "support SSL",
                       mode, host);
    }
    const char *kv[16];
    int n = 0;
    kv[n++] = "user";
    kv[n++] = cfg->v[KW_USER];
    kv[n++] = "database";
    kv[n++] = cfg->v[KW_DBNAME];
    if (cfg->v[KW_APPNAME]) {
        kv[n++] = "application_name";
        kv[n++] = cfg->v[KW_APPNAME];
    }
    if (cfg->v[KW_OPTIONS]) {
        kv[n++] = "options";
        kv[n++] = cfg->v[KW_OPTIONS];
    }
    if (cfg->v[KW_CLIENT_ENCODING]) {
        kv[n++] = "client_encoding";
        kv[n++] = cfg->v[KW_CLIENT_ENCODING];
    }
    kv[n] = NULL;
    if (wb_pg_put_startup(&c->out, kv) || conn_flush(c, err))
        return -1;
    char *password = cfg->v[KW_PASSWORD] ? strdup(cfg->v[KW_PASSWORD]) : wb_pg_pgpass_lookup(cfg, host, port);
    int rc = authenticate(c, cfg, password, deadline, err);
    if (password) {
        memset(password, 0, strlen(password));
        free(password);
    }
    if (rc == 0)
        rc = finish_startup(c, deadline, err);
    return rc;
}

wb_pg_conn *wb_pg_connect(const char *conninfo, const wb_pg_options *opts, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    wb_pg_error dummy;
    if (!err)
        err = &dummy;
    memset(err, 0, sizeof *err);
    err->statement = -1;
    wb_pg_cfg cfg;
    if (wb_pg_cfg_resolve(&cfg, conninfo, err))
        return NULL;
    wb_pg_conn *c = calloc(1, sizeof *c);
    if (!c) {
        wb_pg_cfg_free(&cfg);
        wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
        return NULL;
    }
    wb_pg_io_plain(&c->io, -1);
    pthread_mutex_init(&c->params_mu, NULL);
    c->read_buffer = opts && opts->read_buffer ? opts->read_buffer : DEFAULT_READ_BUFFER;
    c->copy_flush = opts && opts->copy_flush ? opts->copy_flush : DEFAULT_COPY_FLUSH;
    int qt = opts ? opts->query_timeout_ms : 0;
    int64_t deadline = 0;
    if (cfg.v[KW_CONNECT_TIMEOUT]) {
        long t = strtol(cfg.v[KW_CONNECT_TIMEOUT], NULL, 10);
        if (t > 0)
            deadline = now_ms() + (t < 2 ? 2 : t) * 1000; /* libpq: at least 2 s */
    }
    /* host list (comma-separated), port list: one port for all or one each */
    const char *hosts = cfg.v[KW_HOSTADDR] ? cfg.v[KW_HOSTADDR] : cfg.v[KW_HOST];
    char hostbuf[1024], portbuf[256];
    snprintf(hostbuf, sizeof hostbuf, "%s", hosts);
    snprintf(portbuf, sizeof portbuf, "%s", cfg.v[KW_PORT]);
    int nports = 1;
    for (const char *q = portbuf; *q; q++)
        nports += *q == ',';
    int rc = -1, i = 0;
    char *hsave = NULL, *psave = NULL;
    char *port = strtok_r(portbuf, ",", &psave);
    for (char *h = strtok_r(hostbuf, ",", &hsave); h; h = strtok_r(NULL, ",", &hsave), i++) {
        if (i > 0 && nports > 1)
            port = strtok_r(NULL, ",", &psave);
        if (!port || !*port)
            port = "5432";
        conn_close_socket(c);
        rc = try_host(c, &cfg, *h ? h : "/var/run/postgresql", port, deadline, err);
        if (rc == 0 || err->kind == WB_PG_ERR_AUTH || err->kind == WB_PG_ERR_NOMEM)
            break;
    }
    wb_pg_cfg_free(&cfg);
    if (rc) {
        wb_pg_finish(c);
        return NULL;
    }
    c->query_timeout_ms = qt;
    if (!c->io.ssl) {
        int fl = fcntl(c->io.fd, F_GETFL);
        if (fl >= 0 && fcntl(c->io.fd, F_SETFL, fl & ~O_NONBLOCK) == 0)
            c->blocking = 1;
    }
    c->stmt = 0;
    return c;
}

void wb_pg_finish(wb_pg_conn *c)
{
    if (!c)
        return;
    if (c->io.fd >= 0 && !c->bad && c->in) {
        c->out.len = 0;
        if (wb_pg_put_terminate(&c->out) == 0) {
            int wr;
            raw_write(c, c->out.p, c->out.len, &wr);
        }
        /* the TLS close_notify goes out in conn_close_socket's io close */
    }
    conn_close_socket(c);
    for (size_t i = 0; i < 2 * c->nparams; i++)
        free(c->params[i]);
    free(c->params);
    free(c->sync_execs);
    wb_buf_free(&c->rowdesc);
    free(c->cols);
    free(c->vals);
    free(c->lens);
    wb_buf_free(&c->out);
    wb_buf_free(&c->copybuf);
    pthread_mutex_destroy(&c->params_mu);
    free(c);
}

int wb_pg_status(const wb_pg_conn *c) { return !c || c->bad ? WB_PG_BAD : WB_PG_OK; }
char wb_pg_transaction_status(const wb_pg_conn *c) { return !c || c->pending || c->portal_open ? 0 : c->tx; }

/* ParameterStatus values: written by the thread reading the connection,
 * read by wb_pg_parameter (same thread) or wb_pg_parameter_copy (any
 * thread): params_mu guards the array. */
const char *wb_pg_parameter(const wb_pg_conn *c, const char *name)
{
    if (!c || !name)
        return NULL;
    for (size_t i = 0; i < c->nparams; i++)
        if (strcmp(c->params[2 * i], name) == 0)
            return c->params[2 * i + 1];
    return NULL;
}
int wb_pg_parameter_copy(wb_pg_conn *c, const char *name, char *buf, size_t cap)
{
    if (!c || !name)
        return -1;
    int n = -1;
    pthread_mutex_lock(&c->params_mu);
    const char *v = wb_pg_parameter(c, name);
    if (v) {
        n = (int)strlen(v);
        if (buf && cap)
            snprintf(buf, cap, "%s", v);
    }
    pthread_mutex_unlock(&c->params_mu);
    return n;
}
static int version_number(const char *v)
{
    int major = 0, minor = 0;
    if (!v || sscanf(v, "%d.%d", &major, &minor) < 1)
        return 0;
    return major >= 10 ? major * 10000 + minor : major * 10000 + minor * 100;
}
int wb_pg_server_version(const wb_pg_conn *c) { return version_number(wb_pg_parameter(c, "server_version")); }
int wb_pg_backend_pid(const wb_pg_conn *c) { return c ? c->pid : 0; }
int wb_pg_tls_in_use(const wb_pg_conn *c) { return c && c->io.ssl != NULL; }
int wb_pg_socket(const wb_pg_conn *c) { return c ? c->io.fd : -1; }
void wb_pg_set_query_timeout(wb_pg_conn *c, int ms)
{
    if (c)
        c->query_timeout_ms = ms > 0 ? ms : 0;
}
void wb_pg_set_notice_handler(wb_pg_conn *c, wb_pg_notice_fn fn, void *ctx)
{
    if (!c)
        return;
    c->notice_fn = fn;
    c->notice_ctx = ctx;
}
void wb_pg_set_notify_handler(wb_pg_conn *c, wb_pg_notify_fn fn, void *ctx)
{
    if (!c)
        return;
    c->notify_fn = fn;
    c->notify_ctx = ctx;
}
void wb_pg_get_stats(const wb_pg_conn *c, wb_pg_stats *out)
{
    if (!out)
        return;
    if (c)
        *out = c->stats;
    else
        memset(out, 0, sizeof *out);
}

static int send_cancel_request(const struct sockaddr_storage *addr, socklen_t addrlen, int32_t pid, int32_t key,
                               char *msg, size_t msglen)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(msg, msglen, "could not create socket: %s", strerror(errno));
        return -1;
    }
    struct timeval tv = {2, 0}; /* bounds the wait for the server's EOF */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    uint8_t pkt[16];
    wb_buf b = {pkt, 0, sizeof pkt}; /* fixed buffer: never grows (16 bytes fit) */
    wb_pg_put_cancel_request(&b, pid, key);
    int rc = -1;
    if (connect(fd, (const struct sockaddr *)addr, addrlen) != 0)
        snprintf(msg, msglen, "could not connect to send the cancel request: %s", strerror(errno));
    else if (send(fd, pkt, b.len, MSG_NOSIGNAL) != (ssize_t)b.len)
        snprintf(msg, msglen, "could not send the cancel request: %s", strerror(errno));
    else {
        /* the server closes the connection once it has the request */
        char tmp[16];
        while (recv(fd, tmp, sizeof tmp, 0) > 0) {
        }
        rc = 0;
    }
    close(fd);
    return rc;
}

int wb_pg_cancel(wb_pg_conn *c, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    wb_pg_cancel_key k;
    if (wb_pg_get_cancel_key(c, &k))
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "cancel: not connected");
    return wb_pg_cancel_send(&k, err);
}

int wb_pg_get_cancel_key(const wb_pg_conn *c, wb_pg_cancel_key *out)
{
    if (!out)
        return -1;
    memset(out, 0, sizeof *out);
    if (!c || !c->addrlen || !c->pid)
        return -1;
    _Static_assert(sizeof out->addr >= sizeof c->addr, "wb_pg_cancel_key.addr holds a sockaddr_storage");
    memcpy(out->addr, &c->addr, sizeof c->addr);
    out->addrlen = (uint32_t)c->addrlen;
    out->pid = c->pid;
    out->key = c->key;
    return 0;
}

int wb_pg_cancel_send(const wb_pg_cancel_key *k, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    char msg[256];
    if (!k || !k->addrlen || k->addrlen > sizeof(struct sockaddr_storage))
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "cancel: no cancel key (not connected)");
    struct sockaddr_storage a;
    memcpy(&a, k->addr, sizeof a);
    if (send_cancel_request(&a, (socklen_t)k->addrlen, k->pid, k->key, msg, sizeof msg))
        return wb_pg_errf(err, WB_PG_ERR_IO, "%s", msg);
    return 0;
}

/* ---------------------------------------------------------------- */
/* requests and the event stream                                      */

static int usable(wb_pg_conn *c, wb_pg_error *err)
{
    if (!c)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "no connection");
    if (c->bad)
        return wb_pg_errf(err, WB_PG_ERR_IO, "the connection is broken (an earlier error closed it)");
    return 0;
}

static int idle(wb_pg_conn *c, wb_pg_error *err)
{
    if (usable(c, err))
        return -1;
    if (c->pending || c->portal_open || c->copy_in)
        return wb_pg_errf(err, WB_PG_ERR_USAGE,
                       "a previous request is still in progress: read its results (wb_pg_step/wb_pg_drain) first");
    return 0;
}

static int push_sync(wb_pg_conn *c, int64_t execs)
{
    if (c->sync_tail == c->sync_cap) {
        if (c->sync_head > 0) {
            memmove(c->sync_execs, c->sync_execs + c->sync_head, (c->sync_tail - c->sync_head) * sizeof(int64_t));
            c->sync_tail -= c->sync_head;
            c->sync_head = 0;
        }
        if (c->sync_tail == c->sync_cap) {
            size_t cap = c->sync_cap ? c->sync_cap * 2 : 16;
            int64_t *p = realloc(c->sync_execs, cap * sizeof *p);
            if (!p)
                return -1;
            c->sync_execs = p;
            c->sync_cap = cap;
        }
    }
    c->sync_execs[c->sync_tail++] = execs;
    c->pending++;
    return 0;
}

/* Out of memory while queuing a request: drop only what this call added to
 * the write buffer (everything before `mark` was queued by earlier calls
 * that reported success and is kept), so the connection is as it was
 * before the call. */
static int oom_at(wb_pg_conn *c, size_t mark, wb_pg_error *err)
{
    if (c->out.len > mark)
        c->out.len = mark;
    return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory (or a value too large for the protocol)");
}

/* Out of memory while reading a response: the rest of the response cannot
 * be followed, the connection is closed. */
static int oom_bad(wb_pg_conn *c, wb_pg_error *err)
{
    return io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
}

/* remember a RowDescription: copy the body so names outlive the message */
static int set_rowdesc(wb_pg_conn *c, const wb_pg_msg *m, wb_pg_error *err)
{
    wb_buf_clear(&c->rowdesc);
    if (wb_buf_append(&c->rowdesc, m->body, m->len))
        return io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
    wb_pg_msg copy = {m->type, m->len, c->rowdesc.p};
    int n = wb_pg_row_description_count(&copy);
    if (n < 0)
        return proto_fail(c, err, m, "RowDescription too short");
    if (n > c->cols_cap) {
        wb_pg_column *p = realloc(c->cols, sizeof *p * (size_t)n);
        if (!p)
            return io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
        c->cols = p;
        c->cols_cap = (uint16_t)n;
    }
    if (wb_pg_parse_row_description(&copy, c->cols_cap, c->cols, &c->ncols, c->errbuf, sizeof c->errbuf))
        return proto_fail(c, err, m, c->errbuf);
    return 0;
}

static int ensure_vals(wb_pg_conn *c, uint16_t n)
{
    if (n <= c->vals_cap && c->vals)
        return 0;
    const uint8_t **v = realloc(c->vals, sizeof *v * (n ? n : 1));
    if (!v)
        return -1;
    c->vals = v;
    int32_t *l = realloc(c->lens, sizeof *l * (n ? n : 1));
    if (!l)
        return -1;
    c->lens = l;
    c->vals_cap = n;
    return 0;
}

/* portal finished or failed: end the request with a Sync */
static int close_portal(wb_pg_conn *c, wb_pg_error *err)
{
    if (!c->portal_open)
        return 0;
    c->portal_open = 0;
    c->portal_suspended = 0;
    if (wb_pg_put_sync(&c->out) || push_sync(c, -1))
        return oom_bad(c, err);
    return conn_flush(c, err);
}

int wb_pg_close_portal(wb_pg_conn *c, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    if (usable(c, err))
        return -1;
    if (!c->portal_open)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "no open portal to close");
    if (!c->portal_suspended)
        return wb_pg_errf(err, WB_PG_ERR_USAGE,
                          "the portal is still sending rows: read up to WB_PG_EV_SUSPENDED before closing it");
    size_t mark = c->out.len;
    if (wb_pg_put_close(&c->out, 'P', "") || wb_pg_put_sync(&c->out) || push_sync(c, -1))
        return oom_at(c, mark, err);
    c->portal_open = 0;
    c->portal_suspended = 0;
    return conn_flush(c, err);
}

static int step_impl(wb_pg_conn *c, wb_pg_event *ev, wb_pg_error *err);
/* the per-row/per-chunk calls keep the NULL-err scratch error out of their
 * own stack frame (it is 4 KiB): only a NULL err pays for it */
__attribute__((noinline)) static int step_impl_noerr(wb_pg_conn *c, wb_pg_event *ev)
{
    wb_pg_error scratch;
    return step_impl(c, ev, &scratch);
}
int wb_pg_step(wb_pg_conn *c, wb_pg_event *ev, wb_pg_error *err)
{
    return err ? step_impl(c, ev, err) : step_impl_noerr(c, ev);
}
static int step_impl(wb_pg_conn *c, wb_pg_event *ev, wb_pg_error *err)
{
    if (usable(c, err))
        return -1;
    if (!ev)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "wb_pg_step: ev is NULL");
    memset(ev, 0, sizeof *ev);
    if (!c->pending && !c->portal_open)
        return 0;
    if (c->portal_suspended && !c->pending) /* the server waits for us: nothing will come */
        return wb_pg_errf(err, WB_PG_ERR_USAGE,
                          "the portal is suspended: continue it with wb_pg_send_more() or end it with "
                          "wb_pg_close_portal() (or wb_pg_drain())");
    for (;;) {
        wb_pg_msg m;
        if (next_msg(c, &m, err))
            return -1;
        ev->statement = c->stmt;
        switch (m.type) {
        case 'D': {
            if (m.len < 2)
                return proto_fail(c, err, &m, "DataRow too short");
            uint16_t n = wb_pg_be16(m.body);
            if (n > c->vals_cap && ensure_vals(c, n))
                return io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
            if (wb_pg_parse_datarow(&m, c->vals_cap, c->vals, c->lens, &ev->ncols, c->errbuf, sizeof c->errbuf))
                return proto_fail(c, err, &m, c->errbuf);
            if (c->have_rowdesc && ev->ncols != c->ncols) {
                char what[96];
                snprintf(what, sizeof what, "DataRow has %u columns but the RowDescription has %u", ev->ncols,
                         c->ncols);
                proto_fail(c, err, &m, what);
                snprintf(err->sqlstate, sizeof err->sqlstate, "08P01"); /* protocol_violation */
                return -1;
            }
            ev->type = WB_PG_EV_ROW;
            ev->cols = c->ncols == ev->ncols ? c->cols : NULL;
            ev->vals = c->vals;
            ev->lens = c->lens;
            return 1;
        }
        case 'T':
            if (set_rowdesc(c, &m, err))
                return -1;
            c->have_rowdesc = 1;
            if (ensure_vals(c, c->ncols))
                return io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
            ev->type = WB_PG_EV_ROW_DESCRIPTION;
            ev->ncols = c->ncols;
            ev->cols = c->cols;
            return 1;
        case 'C':
            if (wb_pg_parse_command_complete(&m, &ev->tag, c->errbuf, sizeof c->errbuf))
                return proto_fail(c, err, &m, c->errbuf);
            ev->type = WB_PG_EV_COMMAND_COMPLETE;
            ev->rows = wb_pg_tag_rows(ev->tag);
            c->stmt++;
            c->ncols = 0;
            c->have_rowdesc = 0;
            if (close_portal(c, err))
                return -1;
            return 1;
        case 'I':
            ev->type = WB_PG_EV_EMPTY_QUERY;
            c->stmt++;
            if (close_portal(c, err))
                return -1;
            return 1;
        case 's':
            if (!c->portal_open)
                return proto_fail(c, err, &m, "PortalSuspended without a row-limited Execute");
            c->portal_suspended = 1;
            ev->type = WB_PG_EV_SUSPENDED;
            return 1;
        case 'E': {
            int kind = take_error(c, &m, 0, &c->error, err);
            if (kind < 0)
                return -1;
            if (kind != WB_PG_ERR_SERVER) {
                *err = c->error;
                return -1;
            }
            int timeout = c->timed_out && strcmp(c->error.sqlstate, "57014") == 0;
            if (timeout) {
                c->error.kind = WB_PG_ERR_TIMEOUT;
                char m2[sizeof c->error.message + 64];
                snprintf(m2, sizeof m2, "query timeout (%d ms): %s", c->query_timeout_ms, c->error.message);
                snprintf(c->error.message, sizeof c->error.message, "%.1000s", m2);
            }
            c->error.statement = c->stmt;
            c->stmt++;
            c->ncols = 0;
            c->have_rowdesc = 0;
            ev->type = WB_PG_EV_ERROR;
            ev->error = &c->error;
            if (close_portal(c, err))
                return -1;
            return 1;
        }
        case 'Z': {
            char st;
            if (wb_pg_parse_ready_for_query(&m, &st, c->errbuf, sizeof c->errbuf))
                return proto_fail(c, err, &m, c->errbuf);
            if (c->pending <= 0)
                return proto_fail(c, err, &m, "ReadyForQuery without a request");
            c->pending--;
            c->tx = st;
            int64_t execs = c->sync_head < c->sync_tail ? c->sync_execs[c->sync_head++] : -1;
            if (execs >= 0 && execs > c->stmt)
                c->stmt = execs; /* statements skipped after an error */
            if (!c->pending) {
                c->sync_head = c->sync_tail = 0;
                c->stmt = 0;
                c->execs = 0;
                c->timed_out = c->cancel_sent = 0;
            }
            c->copy_in = 0;
            c->have_rowdesc = 0;
            ev->type = WB_PG_EV_READY;
            ev->tx_status = st;
            return 1;
        }
        case 'G':
        case 'H': {
            wb_pg_copy_response cr;
            if (wb_pg_parse_copy_response(&m, &cr, c->errbuf, sizeof c->errbuf))
                return proto_fail(c, err, &m, c->errbuf);
            ev->type = m.type == 'G' ? WB_PG_EV_COPY_IN : WB_PG_EV_COPY_OUT;
            ev->copy_format = cr.format;
            ev->ncols = cr.ncols;
            if (m.type == 'G')
                c->copy_in = 1;
            return 1;
        }
        case 'W':
            return proto_fail(c, err, &m, "CopyBothResponse (replication) is not supported by this client");
        case '1': case '2': case '3': case 'n': case 't': case 'd': case 'c':
            continue; /* ParseComplete, BindComplete, CloseComplete, NoData,
                         ParameterDescription; stray COPY data when the
                         caller steps through a COPY OUT */
        default: {
            int h = handle_async(c, &m, err);
            if (h < 0)
                return -1;
            if (h)
                continue;
            return proto_fail(c, err, &m, "unexpected message while reading results");
        }
        }
    }
}

/* Read the rest of the request(s) in progress. Returns -1 only when the
 * connection fails; a statement error goes to *first (kind NONE if none).
 * *rows gets the sum of the row counts (sum != 0) or the last
 * CommandComplete's count. A COPY FROM STDIN nobody feeds is refused. */
static int read_rest(wb_pg_conn *c, int sum, int64_t *rows, wb_pg_error *first, wb_pg_error *err)
{
    int64_t n = sum ? 0 : -1;
    first->kind = WB_PG_ERR_NONE;
    for (;;) {
        wb_pg_event ev;
        if (c->portal_suspended && wb_pg_close_portal(c, err)) /* drain ends a suspended portal */
            return -1;
        int r = wb_pg_step(c, &ev, err);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        if (ev.type == WB_PG_EV_COMMAND_COMPLETE) {
            if (!sum)
                n = ev.rows;
            else if (ev.rows > 0)
                n += ev.rows;
        } else if (ev.type == WB_PG_EV_ERROR && first->kind == WB_PG_ERR_NONE) {
            *first = *ev.error;
        } else if (ev.type == WB_PG_EV_COPY_IN) {
            if (wb_pg_put_copy_fail(&c->out, "COPY FROM STDIN is not expected here") || conn_flush(c, err))
                return -1;
            c->copy_in = 0;
        }
    }
    if (rows)
        *rows = n;
    return 0;
}

/* read_rest, with a statement error reported as failure */
static int finish_request(wb_pg_conn *c, int sum, int64_t *rows, wb_pg_error *err)
{
    wb_pg_error first;
    if (read_rest(c, sum, rows, &first, err))
        return -1;
    if (first.kind) {
        *err = first;
        return -1;
    }
    return 0;
}

int wb_pg_drain(wb_pg_conn *c, wb_pg_error *first_error, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    wb_pg_error tmp;
    return read_rest(c, 0, NULL, first_error ? first_error : &tmp, err);
}

int wb_pg_send_query(wb_pg_conn *c, const char *sql, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (idle(c, err))
        return -1;
    if (!sql)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "query is NULL");
    if (wb_pg_put_query(&c->out, sql) || push_sync(c, -1))
        return oom_at(c, mark, err);
    c->stmt = 0;
    c->ncols = 0;
    return conn_flush(c, err);
}

/* Bind values from wb_pg_param (text lengths resolved) */
typedef struct bindv {
    const uint8_t *small_vals[16];
    int32_t small_lens[16];
    int16_t small_fmts[16];
    const uint8_t **vals;
    int32_t *lens;
    int16_t *fmts;
} bindv;

static int bindv_init(bindv *b, int n, const wb_pg_param *p)
{
    if (n <= 16) {
        b->vals = b->small_vals;
        b->lens = b->small_lens;
        b->fmts = b->small_fmts;
    } else {
        b->vals = malloc(sizeof *b->vals * (size_t)n);
        b->lens = malloc(sizeof *b->lens * (size_t)n);
        b->fmts = malloc(sizeof *b->fmts * (size_t)n);
        if (!b->vals || !b->lens || !b->fmts)
            return -1;
    }
    for (int i = 0; i < n; i++) {
        b->vals[i] = p[i].val;
        b->lens[i] = !p[i].val ? -1 : p[i].len < 0 ? (int32_t)strlen(p[i].val) : p[i].len;
        b->fmts[i] = p[i].format;
    }
    return 0;
}
static void bindv_free(bindv *b)
{
    if (b->vals != b->small_vals) {
        free(b->vals);
        free(b->lens);
        free(b->fmts);
    }
}

static int put_bind(wb_pg_conn *c, const char *stmt, int nparams, const wb_pg_param *params, uint16_t nres,
                    const int16_t *res)
{
    if (nparams < 0 || nparams > 65535)
        return -1;
    bindv b = {0};
    int rc = bindv_init(&b, nparams, params);
    if (rc == 0) {
        /* one format code for all when they agree (the common case) */
        int same = 1;
        for (int i = 1; i < nparams; i++)
            same &= b.fmts[i] == b.fmts[0];
        uint16_t nf = nparams == 0 ? 0 : same ? 1 : (uint16_t)nparams;
        rc = wb_pg_put_bind(&c->out, "", stmt, nf, b.fmts, (uint16_t)nparams, b.vals, b.lens, nres, res);
    }
    bindv_free(&b);
    return rc;
}

static int put_parse_params(wb_pg_conn *c, const char *name, const char *sql, int nparams, const wb_pg_param *params)
{
    uint32_t small[16], *types = nparams <= 16 ? small : malloc(sizeof *types * (size_t)nparams);
    if (!types)
        return -1;
    int any = 0;
    for (int i = 0; i < nparams; i++) {
        types[i] = params[i].oid;
        any |= types[i] != 0;
    }
    int rc = wb_pg_put_parse(&c->out, name, sql, any ? (uint16_t)nparams : 0, types);
    if (types != small)
        free(types);
    return rc;
}

/* result format codes for columns per the AUTO rule into c->rowdesc-free
 * array fmts (n entries) */
static void auto_formats(const wb_pg_column *cols, uint16_t n, int16_t *fmts)
{
    for (uint16_t i = 0; i < n; i++)
        fmts[i] = wb_pg_binary_known(cols[i].type_oid) ? 1 : 0;
}

/* Wait for the answer to Parse + Describe statement (+ Flush or Sync):
 * ParseComplete, ParameterDescription, RowDescription | NoData. On an
 * ErrorResponse returns 1 with the error in c->error (the caller syncs). */
static int read_describe(wb_pg_conn *c, uint16_t *nparams, uint32_t **oids, wb_pg_error *err)
{
    for (;;) {
        wb_pg_msg m;
        if (next_msg(c, &m, err))
            return -1;
        switch (m.type) {
        case '1':
            continue;
        case 't': {
            uint16_t n;
            const uint8_t *p;
            if (wb_pg_parse_parameter_description(&m, &n, &p, c->errbuf, sizeof c->errbuf))
                return proto_fail(c, err, &m, c->errbuf);
            if (oids) {
                *oids = malloc(sizeof **oids * (n ? n : 1));
                if (!*oids)
                    return io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
                for (uint16_t i = 0; i < n; i++)
                    (*oids)[i] = wb_pg_be32(p + 4 * i);
            }
            if (nparams)
                *nparams = n;
            continue;
        }
        case 'T':
            if (set_rowdesc(c, &m, err))
                return -1;
            return 0;
        case 'n':
            c->ncols = 0;
            return 0;
        case 'E': {
            int kind = take_error(c, &m, 0, &c->error, err);
            if (kind < 0)
                return -1;
            if (kind != WB_PG_ERR_SERVER) {
                *err = c->error;
                return -1;
            }
            return 1;
        }
        default: {
            int h = handle_async(c, &m, err);
            if (h < 0)
                return -1;
            if (!h)
                return proto_fail(c, err, &m, "unexpected message while describing a statement");
        }
        }
    }
}

/* after an error inside a Flush-ended exchange: Sync and read to ReadyForQuery,
 * then report c->error */
static int sync_and_fail(wb_pg_conn *c, wb_pg_error *err)
{
    wb_pg_error saved = c->error;
    if (wb_pg_put_sync(&c->out) || push_sync(c, -1))
        return oom_bad(c, err);
    if (conn_flush(c, err) || wb_pg_drain(c, NULL, err))
        return -1;
    *err = saved;
    return -1;
}

int wb_pg_send_query_params(wb_pg_conn *c, const char *sql, int nparams, const wb_pg_param *params,
                            int result_format, int32_t max_rows, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (idle(c, err))
        return -1;
    if (!sql || nparams < 0 || nparams > 65535 || (nparams && !params) || max_rows < 0)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "bad arguments to wb_pg_send_query_params");
    c->stmt = 0;
    if (put_parse_params(c, "", sql, nparams, params))
        return oom_at(c, mark, err);
    int16_t one = (int16_t)(result_format == WB_PG_BINARY), *fmts = &one;
    uint16_t nfmts = 1;
    int16_t *heap = NULL;
    if (result_format == WB_PG_AUTO) {
        if (wb_pg_put_describe(&c->out, 'S', "") || wb_pg_put_flush(&c->out))
            return oom_at(c, mark, err);
        if (conn_flush(c, err))
            return -1;
        mark = c->out.len;
        int r = read_describe(c, NULL, NULL, err);
        if (r < 0)
            return -1;
        if (r > 0)
            return sync_and_fail(c, err);
        nfmts = c->ncols;
        heap = malloc(sizeof *heap * (nfmts ? nfmts : 1));
        if (!heap)
            return oom_at(c, mark, err);
        auto_formats(c->cols, c->ncols, heap);
        fmts = heap;
    }
    int rc = put_bind(c, "", nparams, params, nfmts, fmts) || wb_pg_put_describe(&c->out, 'P', "") ||
             wb_pg_put_execute(&c->out, "", max_rows);
    free(heap);
    if (rc)
        return oom_at(c, mark, err);
    if (max_rows > 0) {
        if (wb_pg_put_flush(&c->out))
            return oom_at(c, mark, err);
        c->portal_open = 1;
    } else if (wb_pg_put_sync(&c->out) || push_sync(c, -1)) {
        return oom_at(c, mark, err);
    }
    return conn_flush(c, err);
}

int wb_pg_send_more(wb_pg_conn *c, int32_t max_rows, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (usable(c, err))
        return -1;
    if (!c->portal_open)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "no suspended portal to continue");
    if (max_rows < 0)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "negative row limit");
    if (!c->portal_suspended)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "the portal is still sending rows: read up to WB_PG_EV_SUSPENDED first");
    if (wb_pg_put_execute(&c->out, "", max_rows) || wb_pg_put_flush(&c->out))
        return oom_at(c, mark, err);
    c->portal_suspended = 0;
    return conn_flush(c, err);
}

void wb_pg_stmt_free(wb_pg_stmt *st)
{
    if (!st)
        return;
    for (uint16_t i = 0; st->cols && i < st->ncols; i++)
        free((char *)st->cols[i].name);
    free(st->cols);
    free(st->formats);
    free(st->param_oids);
    free(st->name);
    free(st);
}

wb_pg_stmt *wb_pg_prepare(wb_pg_conn *c, const char *name, const char *sql, uint16_t ntypes, const uint32_t *types,
                          wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (idle(c, err))
        return NULL;
    if (!sql) {
        wb_pg_errf(err, WB_PG_ERR_USAGE, "query is NULL");
        return NULL;
    }
    name = name ? name : "";
    if (wb_pg_put_parse(&c->out, name, sql, ntypes, types) || wb_pg_put_describe(&c->out, 'S', name) ||
        wb_pg_put_sync(&c->out) || push_sync(c, -1)) {
        oom_at(c, mark, err);
        return NULL;
    }
    if (conn_flush(c, err))
        return NULL;
    wb_pg_stmt *st = calloc(1, sizeof *st);
    if (!st) {
        if (wb_pg_drain(c, NULL, err) == 0) /* the request is answered: the connection stays usable */
            wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
        return NULL;
    }
    int r = read_describe(c, &st->nparams, &st->param_oids, err);
    if (r != 0) {
        wb_pg_stmt_free(st);
        if (r > 0) {
            wb_pg_error saved = c->error;
            if (wb_pg_drain(c, NULL, err) == 0)
                *err = saved;
        }
        return NULL;
    }
    st->name = strdup(name);
    st->cols = calloc(c->ncols ? c->ncols : 1, sizeof *st->cols);
    st->formats = calloc(c->ncols ? c->ncols : 1, sizeof *st->formats);
    int bad = !st->name || !st->cols || !st->formats;
    /* st->ncols counts the columns whose name is owned (wb_pg_stmt_free
     * walks exactly those) */
    for (uint16_t i = 0; !bad && i < c->ncols; i++) {
        st->cols[i] = c->cols[i];
        st->cols[i].name = strdup(c->cols[i].name);
        bad |= !st->cols[i].name;
        if (!bad)
            st->ncols = (uint16_t)(i + 1);
    }
    if (!bad)
        auto_formats(st->cols, st->ncols, st->formats);
    if (wb_pg_drain(c, NULL, err) || bad) {
        if (bad)
            wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
        wb_pg_stmt_free(st);
        return NULL;
    }
    return st;
}

int wb_pg_send_prepared(wb_pg_conn *c, const wb_pg_stmt *st, int nparams, const wb_pg_param *params, int32_t max_rows,
                        wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (idle(c, err))
        return -1;
    if (!st || nparams != st->nparams || (nparams && !params) || max_rows < 0)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "statement \"%s\" takes %u parameters, %d given", st ? st->name : "",
                       st ? st->nparams : 0, nparams);
    c->stmt = 0;
    if (put_bind(c, st->name, nparams, params, st->ncols, st->formats) || wb_pg_put_describe(&c->out, 'P', "") ||
        wb_pg_put_execute(&c->out, "", max_rows))
        return oom_at(c, mark, err);
    if (max_rows > 0) {
        if (wb_pg_put_flush(&c->out))
            return oom_at(c, mark, err);
        c->portal_open = 1;
    } else if (wb_pg_put_sync(&c->out) || push_sync(c, -1)) {
        return oom_at(c, mark, err);
    }
    return conn_flush(c, err);
}

int wb_pg_stmt_close(wb_pg_conn *c, wb_pg_stmt *st, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    int rc = 0;
    if (st && st->name && st->name[0]) {
        size_t mark = c ? c->out.len : 0;
        if (idle(c, err))
            rc = -1;
        else if (wb_pg_put_close(&c->out, 'S', st->name) || wb_pg_put_sync(&c->out) || push_sync(c, -1))
            rc = oom_at(c, mark, err);
        else
            rc = conn_flush(c, err) || finish_request(c, 0, NULL, err) ? -1 : 0;
    }
    wb_pg_stmt_free(st);
    return rc;
}

/* ---- pipelining ---- */
int wb_pg_pipeline_parse(wb_pg_conn *c, const char *name, const char *sql, uint16_t ntypes, const uint32_t *types,
                         wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (usable(c, err))
        return -1;
    if (c->portal_open || c->copy_in)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "a suspended portal or COPY is in progress");
    if (!sql)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "wb_pg_pipeline_parse: sql is NULL");
    if (ntypes > 0 && !types)
        ntypes = 0;
    if (!c->pending)
        c->stmt = 0;
    if (wb_pg_put_parse(&c->out, name ? name : "", sql, ntypes, types))
        return oom_at(c, mark, err);
    return maybe_flush(c, err);
}

int wb_pg_pipeline_exec(wb_pg_conn *c, const char *name, int nparams, const wb_pg_param *params, uint16_t nformats,
                        const int16_t *formats, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (usable(c, err))
        return -1;
    /* every argument is checked before a byte is queued: a refused call
     * leaves the pipeline exactly as the earlier calls built it */
    if (c->portal_open || c->copy_in)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "a suspended portal or COPY is in progress");
    if (nparams < 0 || nparams > 65535 || (nparams > 0 && !params))
        return wb_pg_errf(err, WB_PG_ERR_USAGE,
                          "wb_pg_pipeline_exec: nparams must be 0..65535 with params for nparams > 0 (got %d%s)",
                          nparams, nparams > 0 && !params ? ", params NULL" : "");
    if (nformats > 0 && !formats)
        nformats = 0;
    if (put_bind(c, name ? name : "", nparams, params, nformats, formats) || wb_pg_put_execute(&c->out, "", 0))
        return oom_at(c, mark, err);
    c->execs++;
    return maybe_flush(c, err);
}

int wb_pg_pipeline_sync(wb_pg_conn *c, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (usable(c, err))
        return -1;
    if (c->portal_open || c->copy_in)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "a suspended portal or COPY is in progress");
    if (wb_pg_put_sync(&c->out) || push_sync(c, c->execs))
        return oom_at(c, mark, err);
    return conn_flush(c, err);
}

int wb_pg_executemany(wb_pg_conn *c, const char *sql, int nparams, const uint32_t *types, int64_t nrows,
                      wb_pg_fill_fn fill, void *ctx, int64_t *affected, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    if (idle(c, err))
        return -1;
    if (!sql || !fill || nparams < 0 || nparams > 65535 || nrows < 0)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "bad arguments to wb_pg_executemany");
    wb_pg_param small[16], *params = nparams <= 16 ? small : calloc((size_t)nparams, sizeof *params);
    if (!params)
        return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
    int rc = -1;
    c->stmt = 0;
    c->execs = 0;
    if (wb_pg_pipeline_parse(c, "", sql, types ? (uint16_t)nparams : 0, types, err))
        goto out;
    int aborted = 0;
    for (int64_t r = 0; r < nrows; r++) {
        memset(params, 0, sizeof *params * (size_t)nparams);
        if (fill(ctx, r, params) != 0) {
            aborted = 1;
            wb_pg_errf(err, WB_PG_ERR_USAGE, "executemany: the fill callback failed at row %lld", (long long)r);
            err->statement = r;
            break;
        }
        if (wb_pg_pipeline_exec(c, "", nparams, params, 0, NULL, err)) {
            if (c->bad)
                goto out;
            aborted = 1; /* a bad row (USAGE) or no memory: end the batch, roll it back */
            err->statement = r;
            break;
        }
    }
    if (aborted) {
        /* rows already sent must not commit: a statement that fails before
         * the Sync makes the server skip the rest and roll back (§55.2.4) */
        wb_pg_error saved = *err;
        if (wb_pg_put_parse(&c->out, "", "wirebuf executemany aborted by its fill callback", 0, NULL) ||
            wb_pg_put_sync(&c->out) || push_sync(c, c->execs)) {
            oom_bad(c, err); /* rows already went out: the batch cannot be ended */
            goto out;
        }
        if (conn_flush(c, err) || wb_pg_drain(c, NULL, err))
            goto out;
        *err = saved;
        goto out;
    }
    if (wb_pg_pipeline_sync(c, err))
        goto out;
    int64_t total = 0;
    if (finish_request(c, 1, &total, err))
        goto out;
    if (affected)
        *affected = total;
    rc = 0;
out:
    if (params != small)
        free(params);
    return rc;
}

/* ---- materialised results ---- */
typedef struct cell {
    uint64_t off;
    int32_t len;
} cell;

struct wb_pg_result {
    uint16_t ncols;
    wb_pg_column *cols;
    wb_buf names; /* column names, NUL-terminated, back to back */
    wb_buf data;  /* values, each NUL-terminated */
    cell *cells;
    int64_t nrows;
    size_t cells_cap;
    char tag[64];
    int64_t affected;
};

void wb_pg_result_free(wb_pg_result *r)
{
    if (!r)
        return;
    free(r->cols);
    wb_buf_free(&r->names);
    wb_buf_free(&r->data);
    free(r->cells);
    free(r);
}

static int result_columns(wb_pg_result *r, uint16_t n, const wb_pg_column *cols)
{
    free(r->cols);
    wb_buf_clear(&r->names);
    wb_buf_clear(&r->data);
    r->nrows = 0;
    r->ncols = n;
    r->cols = calloc(n ? n : 1, sizeof *r->cols);
    if (!r->cols)
        return -1;
    size_t *offs = calloc(n ? n : 1, sizeof *offs);
    if (!offs)
        return -1;
    for (uint16_t i = 0; i < n; i++) {
        r->cols[i] = cols ? cols[i] : (wb_pg_column){0};
        offs[i] = r->names.len;
        if (wb_buf_append(&r->names, cols ? cols[i].name : "", strlen(cols ? cols[i].name : "") + 1)) {
            free(offs);
            return -1;
        }
    }
    for (uint16_t i = 0; i < n; i++)
        r->cols[i].name = (const char *)r->names.p + offs[i];
    free(offs);
    return 0;
}

static int result_row(wb_pg_result *r, const wb_pg_event *ev)
{
    if (r->ncols != ev->ncols && result_columns(r, ev->ncols, NULL))
        return -1;
    size_t need = (size_t)(r->nrows + 1) * r->ncols;
    if (need > r->cells_cap) {
        size_t cap = r->cells_cap ? r->cells_cap * 2 : 256;
        while (cap < need)
            cap *= 2;
        cell *p = realloc(r->cells, cap * sizeof *p);
        if (!p)
            return -1;
        r->cells = p;
        r->cells_cap = cap;
    }
    cell *row = r->cells + (size_t)r->nrows * r->ncols;
    for (uint16_t i = 0; i < ev->ncols; i++) {
        row[i].off = r->data.len;
        row[i].len = ev->lens[i];
        if (ev->lens[i] >= 0 && (wb_buf_append_fast(&r->data, ev->vals[i], (size_t)ev->lens[i]) ||
                                 wb_buf_putc(&r->data, 0)))
            return -1;
    }
    r->nrows++;
    return 0;
}

/* read a whole request into a result (the last result set wins) */
static wb_pg_result *collect(wb_pg_conn *c, wb_pg_error *err)
{
    wb_pg_result *r = calloc(1, sizeof *r);
    wb_pg_error first;
    first.kind = WB_PG_ERR_NONE;
    int nomem = !r;
    if (r)
        r->affected = -1;
    for (;;) {
        wb_pg_event ev;
        int s = wb_pg_step(c, &ev, err);
        if (s < 0) {
            wb_pg_result_free(r);
            return NULL;
        }
        if (s == 0)
            break;
        if (nomem)
            continue;
        switch (ev.type) {
        case WB_PG_EV_ROW_DESCRIPTION:
            nomem |= result_columns(r, ev.ncols, ev.cols) != 0;
            break;
        case WB_PG_EV_ROW:
            nomem |= result_row(r, &ev) != 0;
            break;
        case WB_PG_EV_COMMAND_COMPLETE:
            snprintf(r->tag, sizeof r->tag, "%s", ev.tag);
            r->affected = ev.rows;
            break;
        case WB_PG_EV_ERROR:
            if (first.kind == WB_PG_ERR_NONE)
                first = *ev.error;
            break;
        case WB_PG_EV_COPY_IN:
            if (wb_pg_put_copy_fail(&c->out, "COPY FROM STDIN needs wb_pg_copy_in_start") || conn_flush(c, err)) {
                wb_pg_result_free(r);
                return NULL;
            }
            c->copy_in = 0;
            break;
        default:
            break;
        }
    }
    if (first.kind) {
        *err = first;
        wb_pg_result_free(r);
        return NULL;
    }
    if (nomem) {
        wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory collecting the result");
        wb_pg_result_free(r);
        return NULL;
    }
    return r;
}

wb_pg_result *wb_pg_exec(wb_pg_conn *c, const char *sql, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    return wb_pg_send_query(c, sql, err) ? NULL : collect(c, err);
}

wb_pg_result *wb_pg_exec_params(wb_pg_conn *c, const char *sql, int nparams, const wb_pg_param *params,
                                int result_format, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    return wb_pg_send_query_params(c, sql, nparams, params, result_format, 0, err) ? NULL : collect(c, err);
}

int64_t wb_pg_result_rows(const wb_pg_result *r) { return r ? r->nrows : 0; }
uint16_t wb_pg_result_cols(const wb_pg_result *r) { return r ? r->ncols : 0; }
const wb_pg_column *wb_pg_result_column(const wb_pg_result *r, uint16_t col)
{
    return r && col < r->ncols ? &r->cols[col] : NULL;
}
const uint8_t *wb_pg_result_value(const wb_pg_result *r, int64_t row, uint16_t col, int32_t *len)
{
    if (!r || row < 0 || row >= r->nrows || col >= r->ncols) {
        if (len)
            *len = -1;
        return NULL;
    }
    const cell *x = &r->cells[(size_t)row * r->ncols + col];
    if (len)
        *len = x->len;
    return x->len < 0 ? NULL : r->data.p + x->off;
}
const char *wb_pg_result_tag(const wb_pg_result *r) { return r ? r->tag : NULL; }
int64_t wb_pg_result_affected(const wb_pg_result *r) { return r ? r->affected : -1; }

int wb_pg_command(wb_pg_conn *c, const char *sql, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    return wb_pg_send_query(c, sql, err) ? -1 : finish_request(c, 0, NULL, err);
}

/* ---- COPY ---- */
/* Send a COPY and wait for CopyInResponse / CopyOutResponse (want). */
static int copy_start(wb_pg_conn *c, const char *sql, int want, wb_pg_error *err)
{
    const char *what = want == WB_PG_EV_COPY_IN ? "COPY ... FROM STDIN" : "COPY ... TO STDOUT";
    if (wb_pg_send_query(c, sql, err))
        return -1;
    for (;;) {
        wb_pg_event ev;
        int s = wb_pg_step(c, &ev, err);
        if (s < 0)
            return -1;
        if (s == 0)
            return wb_pg_errf(err, WB_PG_ERR_USAGE, "the statement is not a %s", what);
        if (ev.type == want) {
            wb_buf_clear(&c->copybuf);
            return 0;
        }
        if (ev.type == WB_PG_EV_ERROR || ev.type == WB_PG_EV_COPY_IN || ev.type == WB_PG_EV_COPY_OUT) {
            wb_pg_error saved;
            if (ev.type == WB_PG_EV_ERROR)
                saved = *ev.error;
            else
                wb_pg_errf(&saved, WB_PG_ERR_USAGE, "the statement is a COPY in the other direction, not a %s", what);
            /* read_rest refuses an unexpected COPY FROM STDIN and skips a
             * COPY TO STDOUT's data */
            if (ev.type == WB_PG_EV_COPY_IN) {
                if (wb_pg_put_copy_fail(&c->out, "wrong COPY direction") || conn_flush(c, err))
                    return -1;
                c->copy_in = 0;
            }
            if (wb_pg_drain(c, NULL, err))
                return -1;
            *err = saved;
            return -1;
        }
    }
}

int wb_pg_copy_in_start(wb_pg_conn *c, const char *sql, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    return copy_start(c, sql, WB_PG_EV_COPY_IN, err);
}

static int copy_send(wb_pg_conn *c, wb_pg_error *err)
{
    size_t mark = c ? c->out.len : 0;
    if (c->copybuf.len) {
        if (wb_pg_put_copy_data(&c->out, c->copybuf.p, c->copybuf.len))
            return oom_at(c, mark, err);
        wb_buf_clear(&c->copybuf);
    }
    return conn_flush(c, err);
}

static int copy_put_impl(wb_pg_conn *c, const void *data, size_t len, wb_pg_error *err);
/* the per-row/per-chunk calls keep the NULL-err scratch error out of their
 * own stack frame (it is 4 KiB): only a NULL err pays for it */
__attribute__((noinline)) static int copy_put_impl_noerr(wb_pg_conn *c, const void *data, size_t len)
{
    wb_pg_error scratch;
    return copy_put_impl(c, data, len, &scratch);
}
int wb_pg_copy_put(wb_pg_conn *c, const void *data, size_t len, wb_pg_error *err)
{
    return err ? copy_put_impl(c, data, len, err) : copy_put_impl_noerr(c, data, len);
}
static int copy_put_impl(wb_pg_conn *c, const void *data, size_t len, wb_pg_error *err)
{
    size_t mark = c ? c->out.len : 0;
    if (usable(c, err))
        return -1;
    if (!c->copy_in)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "no COPY FROM STDIN in progress");
    if (!data && len)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "wb_pg_copy_put: data is NULL");
    /* large pieces go straight out as their own CopyData */
    if (len >= c->copy_flush) {
        if (copy_send(c, err))
            return -1;
        if (wb_pg_put_copy_data(&c->out, data, len))
            return oom_at(c, mark, err);
        return conn_flush(c, err);
    }
    if (wb_buf_append_fast(&c->copybuf, data, len))
        return oom_at(c, mark, err);
    return c->copybuf.len >= c->copy_flush ? copy_send(c, err) : 0;
}

int wb_pg_copy_end(wb_pg_conn *c, const char *reason, int64_t *rows, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (rows)
        *rows = 0;
    if (usable(c, err))
        return -1;
    if (!c->copy_in)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "no COPY FROM STDIN in progress");
    if (reason) {
        if (wb_pg_put_copy_fail(&c->out, reason))
            return oom_at(c, mark, err);
    } else {
        if ((c->copybuf.len && wb_pg_put_copy_data(&c->out, c->copybuf.p, c->copybuf.len)) ||
            wb_pg_put_copy_done(&c->out))
            return oom_at(c, mark, err);
    }
    wb_buf_clear(&c->copybuf);
    c->copy_in = 0;
    /* A failed write means CopyDone did not reach the server whole: nothing
     * can have been committed. */
    if (conn_flush(c, err))
        return -1;
    if (finish_request(c, 0, rows, err) == 0)
        return 0;
    /* CopyDone went out whole. Only a statement error (the server rolled
     * the COPY back) is certain; after a lost connection or a FATAL the
     * commit point may have passed. */
    if (rows)
        *rows = !reason && err->kind != WB_PG_ERR_SERVER && err->kind != WB_PG_ERR_TIMEOUT ? -1 : 0;
    return -1;
}

int wb_pg_copy_out_start(wb_pg_conn *c, const char *sql, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    return copy_start(c, sql, WB_PG_EV_COPY_OUT, err);
}

static int copy_get_impl(wb_pg_conn *c, const uint8_t **data, size_t *len, int64_t *rows, wb_pg_error *err);
/* the per-row/per-chunk calls keep the NULL-err scratch error out of their
 * own stack frame (it is 4 KiB): only a NULL err pays for it */
__attribute__((noinline)) static int copy_get_impl_noerr(wb_pg_conn *c, const uint8_t **data, size_t *len, int64_t *rows)
{
    wb_pg_error scratch;
    return copy_get_impl(c, data, len, rows, &scratch);
}
int wb_pg_copy_get(wb_pg_conn *c, const uint8_t **data, size_t *len, int64_t *rows, wb_pg_error *err)
{
    return err ? copy_get_impl(c, data, len, rows, err) : copy_get_impl_noerr(c, data, len, rows);
}
static int copy_get_impl(wb_pg_conn *c, const uint8_t **data, size_t *len, int64_t *rows, wb_pg_error *err)
{
    if (!data || !len)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "wb_pg_copy_get: data and len must not be NULL");
    if (usable(c, err))
        return -1;
    if (!c->pending)
        return 0;
    for (;;) {
        wb_pg_msg m;
        if (next_msg(c, &m, err))
            return -1;
        if (m.type == 'd') {
            *data = m.body;
            *len = m.len;
            return 1;
        }
        if (m.type == 'c')
            continue;
        /* CommandComplete / ErrorResponse / ReadyForQuery: let wb_pg_step
         * interpret them (un-consume by re-framing: step reads from the same
         * buffer position) */
        c->rd.consume = 0;
        c->rd.messages--;
        c->stats.messages_in--;
        return finish_request(c, 0, rows, err) ? -1 : 0;
    }
}

int wb_pg_consume_input(wb_pg_conn *c, int timeout_ms, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    if (idle(c, err))
        return -1;
    wb_pg_reader_consume(&c->rd);
    size_t avail;
    wb_stream_peek(c->in, &avail);
    if (!avail && !(c->io.ssl && SSL_pending(c->io.ssl))) {
        int r = wait_fd(c->io.fd, POLLIN, timeout_ms);
        if (r < 0)
            return io_fail(c, err, WB_PG_ERR_IO, "poll failed: %s", strerror(errno));
        if (r == 0)
            return 0;
        if (wb_stream_fill(c->in) <= 0)
            return io_fail(c, err, WB_PG_ERR_IO, "%s",
                           wb_stream_error(c->in) ? wb_stream_error(c->in) : "server closed the connection");
    }
    int handled = 0;
    for (;;) {
        wb_stream_peek(c->in, &avail);
        if (!avail)
            return handled;
        wb_pg_msg m;
        if (next_msg(c, &m, err)) /* a whole message, or the rest of a partial one */
            return -1;
        if (m.type == 'E') { /* while idle only a session-ending error can come */
            if (take_error(c, &m, 0, err, err) >= 0) {
                err->kind = WB_PG_ERR_FATAL;
                set_bad(c);
            }
            return -1;
        }
        int h = handle_async(c, &m, err);
        if (h < 0)
            return -1;
        if (!h)
            return proto_fail(c, err, &m, "unexpected message while idle");
        wb_pg_reader_consume(&c->rd);
        handled++;
    }
}
