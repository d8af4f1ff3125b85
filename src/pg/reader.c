/* Message framing out of a wb_stream, and the plain/TLS transport
 * (see include/wirebuf/pgreader.h). */
#include "wirebuf/pgreader.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <openssl/x509v3.h>

size_t wb_pg_max_len(uint8_t type, int side)
{
    if (side == WB_PG_FROM_BACKEND)
        return WB_PG_LARGE_MESSAGE_LIMIT;
    switch (type) {
    case 'Q': case 'P': case 'B': case 'd': case 'F':
        return WB_PG_LARGE_MESSAGE_LIMIT;
    case 'p':
        return WB_PG_AUTH_MESSAGE_LIMIT;
    case 0:
        return WB_PG_STARTUP_LIMIT;
    default:
        return WB_PG_SMALL_MESSAGE_LIMIT;
    }
}

void wb_pg_reader_init(wb_pg_reader *r, wb_stream *in, int side)
{
    memset(r, 0, sizeof *r);
    r->in = in;
    r->side = side;
}

void wb_pg_reader_consume(wb_pg_reader *r)
{
    if (r->consume) {
        wb_stream_consume(r->in, r->consume);
        r->consume = 0;
    }
}

int wb_pg_reader_has_message(const wb_pg_reader *r)
{
    size_t avail;
    const uint8_t *p = wb_stream_peek(r->in, &avail);
    if (r->consume > avail)
        return 0;
    p += r->consume;
    avail -= r->consume;
    size_t hdr = r->startup ? 4 : 5;
    if (avail < hdr)
        return 0;
    uint32_t len = wb_pg_be32(p + hdr - 4);
    uint8_t type = r->startup ? 0 : p[0];
    if (len < (r->startup ? 8u : 4u) || len > wb_pg_max_len(type, r->side))
        return 1; /* next() reports the bad length word without waiting */
    return avail >= hdr - 4 + (size_t)len;
}

static int short_read(wb_pg_reader *r, size_t want, size_t avail)
{
    const char *e = wb_stream_error(r->in);
    if (e) {
        snprintf(r->err, sizeof r->err, "%s", e);
        return WB_PG_READ_ERROR;
    }
    if (wb_stream_ended(r->in)) {
        if (avail == 0)
            return WB_PG_READ_EOF;
        snprintf(r->err, sizeof r->err, "end of stream inside a message at byte %llu (%zu of %zu bytes)",
                 (unsigned long long)wb_stream_offset(r->in), avail, want);
        return WB_PG_READ_ERROR;
    }
    r->need = want;
    return WB_PG_READ_AGAIN;
}

int wb_pg_reader_next(wb_pg_reader *r, wb_pg_msg *m)
{
    wb_pg_reader_consume(r);
    size_t hdr = r->startup ? 4 : 5, avail;
    const uint8_t *p = wb_stream_peek(r->in, &avail);
    if (avail >= 5 && !r->startup) { /* fast path: a whole message is already buffered */
        uint32_t len = wb_pg_be32(p + 1);
        if (len >= 4 && len <= wb_pg_max_len(p[0], r->side) && avail - 1 >= (size_t)len) {
            m->type = p[0];
            m->len = len - 4;
            m->body = p + 5;
            r->consume = 1 + (size_t)len;
            r->need = 0;
            r->messages++;
            return WB_PG_READ_MSG;
        }
    }
    p = wb_stream_need(r->in, hdr, &avail);
    if (!p)
        return short_read(r, hdr, avail);
    uint8_t type = r->startup ? 0 : p[0];
    uint32_t len = wb_pg_be32(p + hdr - 4);
    size_t max = wb_pg_max_len(type, r->side), min = r->startup ? 8 : 4;
    if (len < min || len > max) {
        if (r->startup)
            snprintf(r->err, sizeof r->err, "invalid length %u of startup packet at byte %llu (must be %zu..%zu)",
                     len, (unsigned long long)wb_stream_offset(r->in), min, max);
        else
            snprintf(r->err, sizeof r->err, "invalid length %u of message type '%c' (%s) at byte %llu (%zu..%zu)",
                     len, type >= 32 && type < 127 ? type : '?', wb_pg_msg_name(type, r->side),
                     (unsigned long long)wb_stream_offset(r->in), min, max);
        return WB_PG_READ_ERROR;
    }
    size_t total = hdr - 4 + (size_t)len;
    p = wb_stream_need(r->in, total, &avail);
    if (!p)
        return short_read(r, total, avail);
    m->type = type;
    m->len = len - 4;
    m->body = p + hdr;
    r->consume = total;
    r->need = 0;
    r->messages++;
    return WB_PG_READ_MSG;
}

/* ---- transport ---- */

static ssize_t plain_recv(wb_pg_io *io, void *buf, size_t n)
{
    for (;;) {
        ssize_t r = recv(io->fd, buf, n, io->wait ? 0 : MSG_DONTWAIT);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            io->want_write = 0;
            return WB_STREAM_AGAIN;
        }
        snprintf(io->err, sizeof io->err, "recv failed: %s", strerror(errno));
        return -1;
    }
}

static ssize_t plain_send(wb_pg_io *io, const void *buf, size_t n)
{
    for (;;) {
        ssize_t r = send(io->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (r >= 0)
            return r;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            io->want_write = 1;
            return WB_STREAM_AGAIN;
        }
        snprintf(io->err, sizeof io->err, "send failed: %s", strerror(errno));
        return -1;
    }
}

static void plain_close(wb_pg_io *io) { (void)io; }

static const wb_pg_io_ops plain_ops = {plain_recv, plain_send, plain_close};

void wb_pg_io_plain(wb_pg_io *io, int fd)
{
    memset(io, 0, sizeof *io);
    io->ops = &plain_ops;
    io->fd = fd;
}

static ssize_t tls_result(wb_pg_io *io, int r, const char *what)
{
    int e = SSL_get_error(io->ssl, r);
    switch (e) {
    case SSL_ERROR_WANT_READ:
        io->want_write = 0;
        return WB_STREAM_AGAIN;
    case SSL_ERROR_WANT_WRITE:
        io->want_write = 1;
        return WB_STREAM_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default: {
        unsigned long le = ERR_get_error();
        char buf[160] = "";
        if (le)
            ERR_error_string_n(le, buf, sizeof buf);
        else if (e == SSL_ERROR_SYSCALL)
            snprintf(buf, sizeof buf, "%s", errno ? strerror(errno) : "unexpected EOF");
        ERR_clear_error();
        snprintf(io->err, sizeof io->err, "TLS %s failed: %s", what, buf);
        return -1;
    }
    }
}

static ssize_t tls_recv(wb_pg_io *io, void *buf, size_t n)
{
    ERR_clear_error();
    int r = SSL_read(io->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    if (r > 0)
        return r;
    ssize_t x = tls_result(io, r, "read");
    if (x == 0 || (x < 0 && x != WB_STREAM_AGAIN && strstr(io->err, "unexpected EOF")))
        return 0; /* peer closed (with or without close_notify) */
    return x;
}

static ssize_t tls_send(wb_pg_io *io, const void *buf, size_t n)
{
    ERR_clear_error();
    int r = SSL_write(io->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    if (r > 0)
        return r;
    ssize_t x = tls_result(io, r, "write");
    if (x == 0) {
        snprintf(io->err, sizeof io->err, "TLS write failed: peer closed");
        return -1;
    }
    return x;
}

static void tls_close(wb_pg_io *io)
{
    if (io->ssl) {
        SSL_shutdown(io->ssl); /* best effort close_notify, non-blocking */
        SSL_free(io->ssl);
        io->ssl = NULL;
    }
    ERR_clear_error();
}

static const wb_pg_io_ops tls_ops = {tls_recv, tls_send, tls_close};

int wb_pg_io_tls_server(wb_pg_io *io, void *ssl_ctx)
{
    SSL *ssl = SSL_new(ssl_ctx);
    if (!ssl || SSL_set_fd(ssl, io->fd) != 1) {
        SSL_free(ssl);
        snprintf(io->err, sizeof io->err, "TLS setup failed");
        return -1;
    }
    SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_ENABLE_PARTIAL_WRITE);
    SSL_set_accept_state(ssl);
    io->ssl = ssl;
    io->ops = &tls_ops;
    return 0;
}

int wb_pg_io_tls_client(wb_pg_io *io, void *ssl_ctx, const char *host, int verify_host)
{
    SSL *ssl = SSL_new(ssl_ctx);
    if (!ssl || SSL_set_fd(ssl, io->fd) != 1) {
        SSL_free(ssl);
        unsigned long e = ERR_get_error();
        snprintf(io->err, sizeof io->err, "could not set up TLS: %s",
                 e && ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "unknown TLS error");
        return -1;
    }
    SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (host) {
        struct in6_addr a6;
        struct in_addr a4;
        int is_ip = inet_pton(AF_INET, host, &a4) == 1 || inet_pton(AF_INET6, host, &a6) == 1;
        if (!is_ip)
            SSL_set_tlsext_host_name(ssl, host); /* SNI, as libpq's sslsni=1 */
        if (verify_host) {
            X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
            if (is_ip)
                X509_VERIFY_PARAM_set1_ip_asc(vp, host);
            else
                X509_VERIFY_PARAM_set1_host(vp, host, 0);
        }
    }
    SSL_set_connect_state(ssl);
    io->ssl = ssl;
    io->ops = &tls_ops;
    return 0;
}

int wb_pg_io_handshake(wb_pg_io *io)
{
    ERR_clear_error();
    int r = SSL_do_handshake(io->ssl);
    if (r == 1)
        return 1;
    ssize_t x = tls_result(io, r, "handshake");
    if (x == WB_STREAM_AGAIN)
        return 0;
    if (x == 0)
        snprintf(io->err, sizeof io->err, "TLS handshake failed: peer closed");
    return -1;
}

int wb_pg_io_tls_end_point(const wb_pg_io *io, int server_side, uint8_t out[64])
{
    if (!io->ssl)
        return -1;
    X509 *cert = server_side ? SSL_get_certificate(io->ssl) : SSL_get1_peer_certificate(io->ssl);
    if (!cert)
        return -1;
    int nid = 0, pk = 0;
    const EVP_MD *md = NULL;
    if (X509_get_signature_info(cert, &nid, &pk, NULL, NULL) == 1)
        md = EVP_get_digestbynid(nid);
    if (!md || nid == NID_md5 || nid == NID_sha1)
        md = EVP_sha256();
    unsigned int n = 0;
    int ok = X509_digest(cert, md, out, &n);
    if (!server_side)
        X509_free(cert);
    return ok ? (int)n : -1;
}
