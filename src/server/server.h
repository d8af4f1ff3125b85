/* src/server/server.h - `wirebuf serve`: the PostgreSQL v3 wire server.
 *
 * Shape (PgBouncer's, with a worker pool because the engine may block):
 *  - the main thread owns the listening sockets (TCP and the Unix socket
 *    SOCKET_DIR/.s.PGSQL.PORT) and SIGTERM/SIGINT, on its own libevent
 *    base; each accepted socket goes to one of --threads I/O threads
 *    (round-robin), each running a libevent (epoll) base;
 *  - an I/O thread never blocks on a client: it recv()s / SSL_read()s into
 *    the connection's push wb_stream, runs the startup/auth state machine
 *    (session.h) inline, and makes "this session has whole messages
 *    buffered" one job: run on the I/O thread itself after the loop round
 *    (a session outside a transaction block whose last run was short), or
 *    on the worker pool; when an inline job sleeps (engine hook waiting)
 *    or uses 5 ms of CPU, a helper thread takes the I/O thread's event base
 *    over and the old thread ends with that job; while the job runs the
 *    connection is not read (backpressure); the job's answers, coalesced in
 *    one wb_buf, are written when it ends (once per batch / Sync), and a
 *    connection whose output is not drained is not read either;
 *  - workers run wb_srv_session_login/run (the engine, SQLite). The pool
 *    grows when every worker is busy (a pg_sleep never stalls other
 *    sessions), up to --max-connections + 4, and shrinks back when idle;
 *  - a registry keyed by process id (BackendKeyData) serves CancelRequest,
 *    pg_cancel_backend/pg_terminate_backend (engine hook signal_backend)
 *    and NOTIFY delivery (engine hook notify); hook waiting finds the
 *    session's I/O thread.
 *
 * Lock order: the engine may call its hooks while holding its own locks;
 * the hooks take the server's registry lock and, under it, call
 * wb_engine_session_interrupt / wb_engine_session_listening. So those two
 * engine functions must not wait for a lock the engine holds while it calls
 * a hook.
 */
#ifndef WB_SERVER_SERVER_H
#define WB_SERVER_SERVER_H
#include <stddef.h>

typedef struct wb_server wb_server;
struct wb_proxy;

typedef struct wb_server_config {
    const char *datadir;     /* required unless proxy is set */
    const char *addresses;   /* -h: comma-separated host names/addresses, "*"
                                for all; "" = no TCP; NULL = "localhost" */
    int port;                /* 0 = 5432 */
    const char *socket_dir;  /* -k: NULL = "/tmp"; "" = no Unix socket */
    int auth;                /* enum wb_srv_auth, or -1: trust on the Unix
                                socket and loopback, scram-sha-256 else */
    const char *passwords;   /* password file, or NULL */
    const char *ssl_cert, *ssl_key; /* PEM files; both or neither */
    int max_connections;     /* 0 = 100 */
    int threads;             /* I/O threads; 0 = 2 (1 with proxy) */
    int auth_timeout_s;      /* authentication_timeout; 0 = 60 */
    int quiet;               /* no log lines on stderr */
    struct wb_proxy *proxy;  /* --upstream (src/proxy/proxy.h): no engine is
                                opened; an authenticated connection becomes
                                a proxy client (borrowed; freed by the caller
                                after wb_server_free) */
} wb_server_config;

/* Validate the configuration, load passwords and certificates, open the
 * engine on DATADIR, bind every listening socket. NULL with a message in
 * err (bad flags, a busy port, an unwritable DATADIR, trust on a
 * non-loopback address). */
wb_server *wb_server_new(const wb_server_config *cfg, char *err, size_t errlen);
/* Serve until SIGTERM or SIGINT (installed here), then: stop accepting,
 * let in-flight jobs finish, end every session (FATAL 57P01; open
 * transactions roll back when the engine session is freed), close.
 * Returns 0. */
int wb_server_run(wb_server *srv);
/* Ask a running server to shut down (any thread). */
void wb_server_stop(wb_server *srv);
void wb_server_free(wb_server *srv);

/* For the proxy: run t->fn(t) once on a worker thread (it may block: the
 * upstream connect). Any thread; t is the caller's until fn is called. Jobs
 * queued when the server stops still run before wb_server_run returns. */
typedef struct wb_srv_task {
    void (*fn)(struct wb_srv_task *t);
    struct wb_srv_task *next;
} wb_srv_task;
void wb_server_task(wb_server *srv, wb_srv_task *t);
/* Re-read the --passwords file (RELOAD): new connections authenticate with
 * the new roles. Any thread. 0, or -1 with a message (the old roles stay). */
int wb_server_reload(wb_server *srv, char *err, size_t errlen);

#endif
