/* Connecting (see include/wirebuf/pg.h): conninfo -> socket (TCP or Unix),
 * SSLRequest and TLS through the shared transport, the StartupMessage, the
 * authentication exchange (§55.2.1, §55.3) up to the first ReadyForQuery;
 * closing; CancelRequest (§55.2.8) on its own connection. */
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
            int left = deadline ? (int)(deadline - wb_pgc_now_ms()) : -1;
            int w = wb_pgc_wait_fd(fd, POLLOUT, deadline ? (left > 0 ? left : 0) : -1);
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
        int left = (int)(deadline - wb_pgc_now_ms());
        c->query_timeout_ms = left > 0 ? left : 1;
    }
    int rc = wb_pgc_next_msg(c, m, err);
    c->query_timeout_ms = save;
    if (rc && deadline && wb_pgc_now_ms() >= deadline)
        wb_pg_errf(err, WB_PG_ERR_CONNECT, "timeout expired waiting for the server during startup");
    return rc;
}

static int tls_start(wb_pg_conn *c, const wb_pg_cfg *cfg, const char *host, int64_t deadline, wb_pg_error *err)
{
    const char *mode = cfg->v[KW_SSLMODE];
    int verify = strcmp(mode, "verify-ca") == 0 || strcmp(mode, "verify-full") == 0;
    c->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ssl_ctx)
        return wb_pgc_io_fail(c, err, WB_PG_ERR_TLS, "could not create TLS context: %s", wb_pgc_ssl_errstr());
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
            return wb_pgc_io_fail(c, err, WB_PG_ERR_TLS, "could not read root certificate file \"%s\": %s", path,
                           wb_pgc_ssl_errstr());
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
    }
    if (wb_pg_io_tls_client(&c->io, c->ssl_ctx, host, strcmp(mode, "verify-full") == 0))
        return wb_pgc_io_fail(c, err, WB_PG_ERR_TLS, "%s", c->io.err);
    for (;;) {
        int r = wb_pg_io_handshake(&c->io);
        if (r == 1)
            break;
        if (r < 0) {
            long v = SSL_get_verify_result(c->io.ssl);
            if (v != X509_V_OK)
                return wb_pgc_io_fail(c, err, WB_PG_ERR_TLS, "TLS certificate verification failed (sslmode=%s): %s", mode,
                               X509_verify_cert_error_string(v));
            return wb_pgc_io_fail(c, err, WB_PG_ERR_TLS, "%s", c->io.err);
        }
        int left = deadline ? (int)(deadline - wb_pgc_now_ms()) : -1;
        if (deadline && left <= 0)
            return wb_pgc_io_fail(c, err, WB_PG_ERR_CONNECT, "timeout expired during the TLS handshake");
        if (wb_pgc_wait_fd(c->io.fd, c->io.want_write ? POLLOUT : POLLIN, left) <= 0)
            return wb_pgc_io_fail(c, err, WB_PG_ERR_CONNECT, "timeout expired during the TLS handshake");
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
            wb_pgc_take_error(c, &m, 1, err, err);
            goto out;
        }
        if (m.type == 'N' || m.type == 'S') {
            if (wb_pgc_handle_async(c, &m, err) < 0)
                goto out;
            continue;
        }
        if (m.type == 'v') { /* NegotiateProtocolVersion: fine as long as 3.0 */
            int32_t minor, n;
            const char *names;
            if (wb_pg_parse_negotiate_protocol_version(&m, &minor, &n, &names, c->errbuf, sizeof c->errbuf)) {
                wb_pgc_proto_fail(c, err, &m, c->errbuf);
                goto out;
            }
            continue;
        }
        if (m.type != 'R') {
            wb_pgc_proto_fail(c, err, &m, "expected an authentication request");
            goto out;
        }
        wb_pg_auth a;
        if (wb_pg_parse_auth(&m, &a, c->errbuf, sizeof c->errbuf)) {
            wb_pgc_proto_fail(c, err, &m, c->errbuf);
            goto out;
        }
        if (a.code == WB_PG_AUTH_OK) {
            if (in_sasl != 2 && in_sasl != 0) {
                wb_pgc_io_fail(c, err, WB_PG_ERR_AUTH, "server accepted SCRAM authentication without proving it knows the password");
                goto out;
            }
            rc = 0;
            goto out;
        }
        if ((a.code == WB_PG_AUTH_CLEARTEXT || a.code == WB_PG_AUTH_MD5 || a.code == WB_PG_AUTH_SASL) && !password) {
            wb_pgc_io_fail(c, err, WB_PG_ERR_AUTH,
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
                wb_pgc_io_fail(c, err, WB_PG_ERR_AUTH, "MD5 hashing failed");
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
            int cb_off = cb && strcmp(cb, "disable") == 0;
            int plus = has_plus && c->io.ssl && !cb_off;
            if (cb && strcmp(cb, "require") == 0 && !plus) {
                wb_pgc_io_fail(c, err, WB_PG_ERR_AUTH, "channel binding required, but the server did not offer it over TLS");
                goto out;
            }
            if (!has_scram && !plus) {
                wb_pgc_io_fail(c, err, WB_PG_ERR_AUTH, "none of the server's SASL authentication mechanisms are supported");
                goto out;
            }
            uint8_t hash[64];
            size_t hlen = 0;
            int hl = c->io.ssl ? wb_pg_io_tls_end_point(&c->io, 0, hash) : 0;
            if (hl >= 0)
                hlen = (size_t)hl;
            else {
                wb_pgc_io_fail(c, err, WB_PG_ERR_AUTH, "could not hash the server certificate for channel binding");
                goto out;
            }
            char *first = NULL;
            if (wb_pg_scram_first(&scram, password, plus, c->io.ssl && !cb_off ? hash : NULL, hlen, &first, err)) {
                free(first);
                wb_pgc_set_bad(c);
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
                    wb_pgc_io_fail(c, err, WB_PG_ERR_AUTH, "unexpected SASLContinue");
                wb_pgc_set_bad(c);
                goto out;
            }
            w = wb_pg_put_sasl_response(&c->out, final, strlen(final));
            free(final);
            break;
        }
        case WB_PG_AUTH_SASL_FINAL:
            if (in_sasl != 1 || wb_pg_scram_verify(&scram, a.data, a.len, err)) {
                if (in_sasl != 1)
                    wb_pgc_io_fail(c, err, WB_PG_ERR_AUTH, "unexpected SASLFinal");
                wb_pgc_set_bad(c);
                goto out;
            }
            in_sasl = 2;
            continue;
        default:
            wb_pgc_io_fail(c, err, WB_PG_ERR_AUTH, "authentication method %d requested by the server is not supported",
                    a.code);
            goto out;
        }
        if (w || wb_pgc_conn_flush(c, err)) {
            if (w)
                wb_pgc_io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
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
        int h = wb_pgc_handle_async(c, &m, err);
        if (h < 0)
            return -1;
        if (h)
            continue;
        if (m.type == 'K') {
            if (wb_pg_parse_backend_key_data(&m, &c->pid, &c->key, c->errbuf, sizeof c->errbuf))
                return wb_pgc_proto_fail(c, err, &m, c->errbuf);
        } else if (m.type == 'Z') {
            if (wb_pg_parse_ready_for_query(&m, &c->tx, c->errbuf, sizeof c->errbuf))
                return wb_pgc_proto_fail(c, err, &m, c->errbuf);
            return 0;
        } else if (m.type == 'E') {
            wb_pgc_take_error(c, &m, 1, err, err);
            return -1;
        } else {
            return wb_pgc_proto_fail(c, err, &m, "unexpected message during startup");
        }
    }
}

static void conn_close_socket(wb_pg_conn *c)
{
    if (c->io.ssl && c->state == WB_PGC_BAD)
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
    c->state = WB_PGC_STARTUP;
    int fd = host[0] == '/' ? unix_connect(c, host, port, msg, sizeof msg) : tcp_connect(c, host, port, deadline, msg, sizeof msg);
    if (fd < 0)
        return wb_pg_errf(err, WB_PG_ERR_CONNECT, "%s", msg);
    wb_pg_io_plain(&c->io, fd);
    c->in = wb_stream_from_fn(wb_pgc_conn_read, c, c->read_buffer);
    if (!c->in)
        return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
    wb_pg_reader_init(&c->rd, c->in, WB_PG_FROM_BACKEND);
    const char *mode = cfg->v[KW_SSLMODE];
    int want_tls = strcmp(mode, "disable") != 0;
    int need_tls = want_tls && strcmp(mode, "prefer") != 0;
    if (want_tls && host[0] != '/') {
        if (wb_pg_put_ssl_request(&c->out) || wb_pgc_conn_flush(c, err))
            return -1;
        /* the answer is one unframed byte: read it without buffering more
         * (anything after it belongs to the TLS handshake) */
        uint8_t b;
        for (;;) {
            ssize_t n = c->io.ops->recv(&c->io, &b, 1);
            if (n == 1)
                break;
            if (n != WB_STREAM_AGAIN)
                return wb_pgc_io_fail(c, err, WB_PG_ERR_CONNECT, "server closed the connection during the SSLRequest");
            int left = deadline ? (int)(deadline - wb_pgc_now_ms()) : -1;
            if ((deadline && left <= 0) || wb_pgc_wait_fd(c->io.fd, POLLIN, left) <= 0)
                return wb_pgc_io_fail(c, err, WB_PG_ERR_CONNECT, "timeout expired waiting for the SSLRequest answer");
        }
        if (b == 'S') {
            if (tls_start(c, cfg, host, deadline, err))
                return -1;
        } else if (b == 'N') {
            if (need_tls)
                return wb_pgc_io_fail(c, err, WB_PG_ERR_TLS, "server at \"%s\" does not support SSL, but SSL was required (sslmode=%s)",
                               host, mode);
        } else {
            return wb_pgc_io_fail(c, err, WB_PG_ERR_PROTOCOL, "unexpected answer 0x%02x to SSLRequest", b);
        }
    } else if (need_tls) {
        return wb_pgc_io_fail(c, err, WB_PG_ERR_TLS,
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
    if (wb_pg_put_startup(&c->out, kv) || wb_pgc_conn_flush(c, err))
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
            deadline = wb_pgc_now_ms() + (t < 2 ? 2 : t) * 1000; /* libpq: at least 2 s */
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
    c->state = WB_PGC_READY;
    return c;
}

void wb_pg_finish(wb_pg_conn *c)
{
    if (!c)
        return;
    if (c->io.fd >= 0 && c->state != WB_PGC_BAD && c->in) {
        c->out.len = 0;
        if (wb_pg_put_terminate(&c->out) == 0) {
            int wr;
            wb_pgc_raw_write(c, c->out.p, c->out.len, &wr);
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

int wb_pgc_send_cancel_request(const struct sockaddr_storage *addr, socklen_t addrlen, int32_t pid, int32_t key,
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
    if (wb_pgc_send_cancel_request(&a, (socklen_t)k->addrlen, k->pid, k->key, msg, sizeof msg))
        return wb_pg_errf(err, WB_PG_ERR_IO, "%s", msg);
    return 0;
}

/* ---------------------------------------------------------------- */
/* handing the connection over (wb_pg_detach)                        */

int wb_pg_detach(wb_pg_conn *c, wb_pg_handover *out, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    memset(out, 0, sizeof *out);
    wb_pg_io_plain(&out->io, -1);
    if (!c || c->state != WB_PGC_READY || c->pending || !c->in) {
        wb_pg_finish(c);
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "detach: the connection is not idle");
    }
    wb_pg_reader_consume(&c->rd); /* the last message read (ReadyForQuery) is done */
    size_t avail;
    const uint8_t *left = wb_stream_peek(c->in, &avail);
    wb_stream *in = wb_stream_new_push(avail > 4096 ? avail : 0);
    uint8_t *room = NULL;
    size_t cap = 0;
    if (in && avail) {
        room = wb_stream_reserve(in, avail, &cap);
        if (room) {
            memcpy(room, left, avail);
            wb_stream_commit(in, avail);
        }
    }
    char **params = c->params;
    if (!in || (avail && !room)) {
        wb_stream_close(in);
        wb_pg_finish(c);
        return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
    }
    if (c->blocking) {
        int fl = fcntl(c->io.fd, F_GETFL);
        if (fl >= 0)
            fcntl(c->io.fd, F_SETFL, fl | O_NONBLOCK);
        c->blocking = 0;
    }
    c->io.wait = 0;
    out->io = c->io;
    out->in = in;
    out->params = params;
    out->nparams = c->nparams;
    out->pid = c->pid;
    out->key = c->key;
    out->tx = c->tx;
    wb_pg_get_cancel_key(c, &out->cancel);
    /* the SSL session holds its own reference to the SSL_CTX */
    if (c->ssl_ctx) {
        SSL_CTX_free(c->ssl_ctx);
        c->ssl_ctx = NULL;
    }
    /* what is left of c is freed without touching the transport */
    wb_pg_io_plain(&c->io, -1);
    c->params = NULL;
    c->nparams = 0;
    c->state = WB_PGC_BAD;
    wb_pg_finish(c);
    return 0;
}

void wb_pg_handover_free(wb_pg_handover *h)
{
    if (!h)
        return;
    if (h->io.ops) {
        if (h->io.ssl)
            SSL_set_quiet_shutdown(h->io.ssl, 1);
        h->io.ops->close(&h->io);
    }
    if (h->io.fd >= 0)
        close(h->io.fd);
    wb_stream_close(h->in);
    for (size_t i = 0; i < 2 * h->nparams; i++)
        free(h->params[i]);
    free(h->params);
    memset(h, 0, sizeof *h);
    wb_pg_io_plain(&h->io, -1);
}
