/* Internal to src/pg: connection settings and auth helpers shared by the
 * conninfo parser, the authenticator and the connection; the client
 * connection's struct and the helpers its files share (wb_pgc_*):
 *   conn_io.c  waits, the read buffer's source, flushing, write failures
 *   connect.c  conninfo -> socket, TLS, startup, authentication, close, cancel
 *   events.c   framing (the shared wb_pg_reader), wb_pg_step, request state
 *   query.c    simple/extended/prepared queries, pipelines, executemany
 *   result.c   materialised results
 *   copy.c     COPY FROM STDIN / TO STDOUT
 *   conn.c     accessors and ParameterStatus values */
#ifndef WB_PG_INTERNAL_H
#define WB_PG_INTERNAL_H
#include "wirebuf/buf.h"
#include "wirebuf/pg.h"
#include "wirebuf/pgreader.h"
#include "wirebuf/stream.h"
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdarg.h>
#include <sys/socket.h>

/* The connection keywords we act on, in libpq's spelling (§34.1.2). */
enum {
    KW_HOST, KW_HOSTADDR, KW_PORT, KW_USER, KW_PASSWORD, KW_DBNAME, KW_SSLMODE, KW_SSLROOTCERT, KW_APPNAME,
    KW_CONNECT_TIMEOUT, KW_OPTIONS, KW_PASSFILE, KW_CLIENT_ENCODING, KW_CHANNEL_BINDING, KW_COUNT
};

/* Settings after conninfo, environment and defaults are applied: each value
 * malloc'd (NULL when unset). */
typedef struct wb_pg_cfg {
    char *v[KW_COUNT];
} wb_pg_cfg;

/* Resolve conninfo + PG* environment + defaults into cfg. 0 or -1 (*err). */
int wb_pg_cfg_resolve(wb_pg_cfg *cfg, const char *conninfo, wb_pg_error *err);
void wb_pg_cfg_free(wb_pg_cfg *cfg);
/* Password from the password file for this host/port/db/user, malloc'd, or
 * NULL. `host` is the host entry being tried. */
char *wb_pg_pgpass_lookup(const wb_pg_cfg *cfg, const char *host, const char *port);

/* Fill err with kind and a formatted message; returns -1. */
int wb_pg_errf(wb_pg_error *err, int kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* MD5 password hash: "md5" + md5hex(md5hex(password + user) + salt) into
 * out (36 bytes incl. NUL). 0 or -1. */
int wb_pg_md5_password(const char *user, const char *password, const uint8_t salt[4], char out[36]);

/* SASLprep (RFC 4013) of a password for SCRAM, or a copy of the raw bytes
 * when it is not valid UTF-8 or is refused (as libpq). malloc'd, NULL when
 * out of memory. */
char *wb_pg_saslprep(const char *password);

/* SCRAM-SHA-256 client state (§55.3.1, RFC 5802 / RFC 7677). */
typedef struct wb_pg_scram {
    char nonce[64];        /* client nonce (base64 of 18 random bytes) */
    char *client_first_bare;
    char *server_first;
    char *client_final_wo_proof;
    uint8_t server_signature[32];
    char *password;
    const char *cbind_flag; /* "n,,", "y,," or "p=tls-server-end-point,," */
    uint8_t cbind_data[64]; /* tls-server-end-point hash */
    size_t cbind_len;
} wb_pg_scram;
/* Build client-first-message into out (malloc'd). */
int wb_pg_scram_first(wb_pg_scram *s, const char *password, int plus, const uint8_t *cb, size_t cblen, char **out,
                   wb_pg_error *err);
/* From server-first-message build client-final-message (malloc'd). */
int wb_pg_scram_final(wb_pg_scram *s, const uint8_t *server_first, size_t len, char **out, wb_pg_error *err);
/* Check server-final-message. 0 or -1. */
int wb_pg_scram_verify(wb_pg_scram *s, const uint8_t *server_final, size_t len, wb_pg_error *err);
void wb_pg_scram_free(wb_pg_scram *s);

/* ------------------------------------------------------------------ */
/* The client connection (include/wirebuf/pg.h).                       */

#define DEFAULT_READ_BUFFER (128u * 1024u)
#define DEFAULT_COPY_FLUSH (1024u * 1024u)
#define WRITE_THRESHOLD (64u * 1024u)

/* every public function accepts err == NULL (the error is then not reported) */
#define ERR_OR_LOCAL(e)                                                                                                \
    wb_pg_error e##_local_;                                                                                            \
    if (!(e))                                                                                                          \
    (e) = &e##_local_

/* What the connection is doing: one state at a time (the request queue is
 * counted apart, in `pending`: ReadyForQuery messages still to come).
 * Transitions: connect STARTUP -> READY; a row-limited Execute READY ->
 * PORTAL; PortalSuspended PORTAL -> SUSPENDED; wb_pg_send_more SUSPENDED ->
 * PORTAL; the portal's CommandComplete/ErrorResponse (the client then sends
 * Sync) or wb_pg_close_portal -> READY; CopyInResponse READY -> COPY_IN or
 * PORTAL -> PORTAL_COPY_IN; CopyDone/CopyFail sent or ReadyForQuery
 * COPY_IN -> READY, PORTAL_COPY_IN -> PORTAL; any failure of the
 * connection -> BAD, for good. */
enum wb_pgc_state {
    WB_PGC_STARTUP = 0,    /* connecting: TLS, startup, authentication */
    WB_PGC_READY,          /* requests may be queued (pending: in flight) */
    WB_PGC_PORTAL,         /* a row-limited Execute went out without Sync:
                              rows, then PortalSuspended or the end, come */
    WB_PGC_SUSPENDED,      /* PortalSuspended read: the server waits for an
                              Execute (wb_pg_send_more) or Close + Sync */
    WB_PGC_COPY_IN,        /* CopyInResponse read: the server waits for
                              CopyData, CopyDone or CopyFail */
    WB_PGC_PORTAL_COPY_IN, /* COPY FROM STDIN run by a row-limited Execute:
                              after it the portal still owes the Sync */
    WB_PGC_BAD             /* an error closed the connection: every call fails */
};

struct wb_pg_conn {
    wb_pg_io io;      /* the transport (plain or TLS); io.fd is the socket */
    SSL_CTX *ssl_ctx;
    wb_stream *in;    /* the one read buffer */
    wb_pg_reader rd;  /* frames backend messages out of `in` */
    wb_buf out;
    size_t read_buffer, copy_flush;
    int query_timeout_ms, connect_timeout_ms;
    enum wb_pgc_state state;
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
    int have_rowdesc; /* a RowDescription describes the rows that follow */
    int64_t stmt;     /* statement index of the next result */
    int64_t execs;    /* Executes queued in the current pipeline */
    int64_t *sync_execs; /* per queued Sync: Executes before it (-1: simple Query) */
    size_t sync_head, sync_tail, sync_cap;
    int cancel_sent;  /* the query timeout expired and a CancelRequest went
                         out (until the next ReadyForQuery ends the requests):
                         57014 is then reported as WB_PG_ERR_TIMEOUT */
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
    wb_pg_stats stats;
    char errbuf[256];
};

/* conn_io.c */
static inline void wb_pgc_set_bad(wb_pg_conn *c) { c->state = WB_PGC_BAD; }
/* a row-limited Execute's portal is open (no Sync sent for it yet) */
static inline int wb_pgc_portal_open(const wb_pg_conn *c)
{
    return c->state == WB_PGC_PORTAL || c->state == WB_PGC_SUSPENDED || c->state == WB_PGC_PORTAL_COPY_IN;
}
/* the server waits for COPY FROM STDIN data */
static inline int wb_pgc_copy_in(const wb_pg_conn *c)
{
    return c->state == WB_PGC_COPY_IN || c->state == WB_PGC_PORTAL_COPY_IN;
}
/* CopyInResponse read */
static inline void wb_pgc_copy_in_begin(wb_pg_conn *c)
{
    if (c->state == WB_PGC_READY)
        c->state = WB_PGC_COPY_IN;
    else if (c->state == WB_PGC_PORTAL)
        c->state = WB_PGC_PORTAL_COPY_IN;
}
/* the COPY FROM STDIN is over (CopyDone/CopyFail sent, or its end read) */
static inline void wb_pgc_copy_in_done(wb_pg_conn *c)
{
    if (c->state == WB_PGC_COPY_IN)
        c->state = WB_PGC_READY;
    else if (c->state == WB_PGC_PORTAL_COPY_IN)
        c->state = WB_PGC_PORTAL;
}
/* CLOCK_MONOTONIC in milliseconds */
int64_t wb_pgc_now_ms(void);
/* poll(2) one fd: revents, 0 on timeout (ms, -1 = none), -1 on error */
int wb_pgc_wait_fd(int fd, short events, int timeout_ms);
/* the connection fails: marks it bad, fills err; returns -1 */
int wb_pgc_io_fail(wb_pg_conn *c, wb_pg_error *err, int kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* OpenSSL's reason for the last error (static text) */
const char *wb_pgc_ssl_errstr(void);
/* one transport send: >0 bytes, 0 would block (*want_read: it waits for
 * POLLIN), -1 error (message in c->errbuf) */
ssize_t wb_pgc_raw_write(wb_pg_conn *c, const uint8_t *buf, size_t n, int *want_read);
/* the wb_stream source of c->in (a wb_read_fn on the connection): blocks
 * until bytes arrive, sends a CancelRequest when the query timeout expires */
ssize_t wb_pgc_conn_read(void *ctx, uint8_t *buf, size_t cap, char *errbuf, size_t errlen);
/* write all of c->out, reading arriving answers into c->in meanwhile */
int wb_pgc_conn_flush(wb_pg_conn *c, wb_pg_error *err);
/* conn_flush once c->out holds WRITE_THRESHOLD bytes */
int wb_pgc_maybe_flush(wb_pg_conn *c, wb_pg_error *err);

/* connect.c */
/* CancelRequest (§55.2.8) on a new connection to addr. 0, or -1 (msg). */
int wb_pgc_send_cancel_request(const struct sockaddr_storage *addr, socklen_t addrlen, int32_t pid, int32_t key,
                               char *msg, size_t msglen);

/* conn.c */
/* remember a ParameterStatus value (under params_mu). 0 or -1 (no memory) */
int wb_pgc_set_param(wb_pg_conn *c, const char *name, const char *value);

/* events.c */
/* the next backend message (blocking); its view dies at the next call */
int wb_pgc_next_msg(wb_pg_conn *c, wb_pg_msg *m, wb_pg_error *err);
/* malformed message m: the connection fails with a protocol error */
int wb_pgc_proto_fail(wb_pg_conn *c, wb_pg_error *err, const wb_pg_msg *m, const char *what);
/* ErrorResponse m -> *e; returns the kind (anything but SERVER marks the
 * connection bad), or -1 when malformed */
int wb_pgc_take_error(wb_pg_conn *c, const wb_pg_msg *m, int startup, wb_pg_error *e, wb_pg_error *err);
/* NoticeResponse / NotificationResponse / ParameterStatus: 1 handled, 0 not
 * one of them, -1 malformed */
int wb_pgc_handle_async(wb_pg_conn *c, const wb_pg_msg *m, wb_pg_error *err);
/* 0 if c can take a call (not NULL, not bad), else -1 with err */
int wb_pgc_usable(wb_pg_conn *c, wb_pg_error *err);
/* 0 if c can take a new request (usable, nothing in progress) */
int wb_pgc_idle(wb_pg_conn *c, wb_pg_error *err);
/* a Sync was queued (execs: Executes before it, -1 for a simple Query) */
int wb_pgc_push_sync(wb_pg_conn *c, int64_t execs);
/* out of memory while queuing: drop what this call added after mark */
int wb_pgc_oom_at(wb_pg_conn *c, size_t mark, wb_pg_error *err);
/* out of memory while reading: the connection fails */
int wb_pgc_oom_bad(wb_pg_conn *c, wb_pg_error *err);
/* remember RowDescription m as the current columns */
int wb_pgc_set_rowdesc(wb_pg_conn *c, const wb_pg_msg *m, wb_pg_error *err);
/* read the rest of the requests in progress (see events.c) */
int wb_pgc_read_rest(wb_pg_conn *c, int sum, int64_t *rows, wb_pg_error *first, wb_pg_error *err);
/* read_rest with a statement error reported as failure */
int wb_pgc_finish_request(wb_pg_conn *c, int sum, int64_t *rows, wb_pg_error *err);

#endif
