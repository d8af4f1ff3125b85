/* The client connection's I/O (see include/wirebuf/pg.h, src/pg/internal.h).
 *
 * The socket is reached only through the shared transport (wb_pg_io,
 * include/wirebuf/pgreader.h): plain or TLS behind one ops table. The
 * socket is non-blocking during startup; afterwards a plain socket is made
 * blocking so a wait is one recv(2). Waits otherwise are poll(2) calls with
 * the connect/query timeouts. Reads go through the connection's wb_stream
 * (the one read buffer, filled by wb_pgc_conn_read); writes gather in c->out
 * and go out in large writes. While a write would block, the writer reads
 * whatever the server has sent into the read buffer, so pipelines of any
 * size never deadlock (PostgreSQL 15 docs §55.2.4: the client must keep
 * reading while it sends). */
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

/* ---------------------------------------------------------------- */
/* time and waiting                                                  */

int64_t wb_pgc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* wait for events on the socket; returns revents, 0 on timeout, -1 error */
int wb_pgc_wait_fd(int fd, short events, int timeout_ms)
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


int wb_pgc_io_fail(wb_pg_conn *c, wb_pg_error *err, int kind, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    wb_pgc_set_bad(c);
    return wb_pg_errf(err, kind, "%s", msg);
}

const char *wb_pgc_ssl_errstr(void)
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
ssize_t wb_pgc_raw_write(wb_pg_conn *c, const uint8_t *buf, size_t n, int *want_read)
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

/* The wb_stream source: blocks (poll) until bytes arrive. With a query
 * timeout, the first expiry sends a CancelRequest and keeps waiting for the
 * server's answer; a second expiry gives up. */
ssize_t wb_pgc_conn_read(void *ctx, uint8_t *buf, size_t cap, char *errbuf, size_t errlen)
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
        int r = wb_pgc_wait_fd(c->io.fd, want_write ? POLLOUT : POLLIN, timeout);
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
            c->cancel_sent = 1;
            if (wb_pgc_send_cancel_request(&c->addr, c->addrlen, c->pid, c->key, msg, sizeof msg) != 0) {
                snprintf(errbuf, errlen, "query timeout after %d ms and the cancel failed: %s", timeout, msg);
                return -1;
            }
        }
    }
}

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
        int r = wb_pgc_wait_fd(c->io.fd, POLLIN, i == 0 ? 200 : 0);
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
            if (wb_pgc_take_error(c, &m, 0, &found, &scratch) >= 0 && found.kind == WB_PG_ERR_FATAL)
                break; /* the reason the session ended */
        }
    }
    wb_pgc_set_bad(c);
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
int wb_pgc_conn_flush(wb_pg_conn *c, wb_pg_error *err)
{
    size_t off = 0;
    while (off < c->out.len) {
        int want_read;
        ssize_t w = wb_pgc_raw_write(c, c->out.p + off, c->out.len - off, &want_read);
        if (w < 0) {
            c->out.len = 0;
            return write_failed(c, err, c->errbuf);
        }
        if (w > 0) {
            off += (size_t)w;
            c->stats.bytes_out += (uint64_t)w;
            continue;
        }
        int r = wb_pgc_wait_fd(c->io.fd, want_read ? POLLIN : (POLLIN | POLLOUT), -1);
        if (r < 0) {
            c->out.len = 0;
            return wb_pgc_io_fail(c, err, WB_PG_ERR_IO, "poll failed: %s", strerror(errno));
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

int wb_pgc_maybe_flush(wb_pg_conn *c, wb_pg_error *err)
{
    return c->out.len >= WRITE_THRESHOLD ? wb_pgc_conn_flush(c, err) : 0;
}
