/* src/proxy/proxy.h - the pooling proxy's plumbing (`wirebuf serve
 * --upstream CONNINFO`), as the wire server (src/server/server.c) drives it.
 *
 * The server keeps what it already does for every connection: listening,
 * TLS, the startup packet and client authentication (session.c). With a
 * proxy configured, an authenticated connection is handed over here
 * (wb_proxy_client_login) instead of opening an engine session; from then on
 * the proxy drives it on the same I/O thread (libevent base) and relays its
 * messages to server connections from per-(database, user) pools.
 *
 * Threads: wb_proxy_new/free on the main thread before/after the server
 * runs; wb_proxy_thread_start/stop and wb_proxy_client_login on I/O thread
 * `i` itself (start: before its loop runs); wb_proxy_main_start/stop on the
 * main thread around its loop; wb_proxy_cancel and wb_proxy_clients on any
 * thread. Lock discipline: see the top of proxy.c.
 */
#ifndef WB_PROXY_PROXY_H
#define WB_PROXY_PROXY_H
#include "wirebuf/pgreader.h"
#include "wirebuf/stream.h"
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct wb_server;
typedef struct wb_proxy wb_proxy;

typedef struct wb_proxy_config {
    const char *upstream;       /* CONNINFO (libpq string or URI); required */
    int pool_mode;              /* enum wb_pool_mode (relay.h) */
    int pool_size;              /* per (database, user); 0 = 20 */
    int min_pool_size;          /* kept open per pool once it exists */
    int server_idle_timeout_s;  /* close idle server connections; 0 = never */
    int query_wait_timeout_s;   /* 0 = wait forever */
    const char *metrics;        /* "ADDRESS:PORT" for GET /metrics, or NULL */
    int quiet;                  /* no log lines on stderr */
} wb_proxy_config;

/* Check the configuration (pool numbers, the CONNINFO's syntax, the metrics
 * address). NULL with a message in err. Nothing is connected yet: server
 * connections are opened lazily (and min_pool_size of them once a pool
 * exists). */
wb_proxy *wb_proxy_new(const wb_proxy_config *cfg, char *err, size_t errlen);
/* Free everything left (after wb_server_run returned and the workers are
 * gone). NULL is fine. */
void wb_proxy_free(wb_proxy *p);

/* Main thread, before its loop: remember the server (worker tasks, reload,
 * stop), its thread count and limits for the console, arm the maintenance
 * timer (wait timeouts, idle timeouts, min_pool_size) and the metrics
 * listener on `base`. 0, or -1 with err (metrics address busy...). */
int wb_proxy_main_start(wb_proxy *p, struct wb_server *srv, struct event_base *base, int nthreads,
                        int max_connections, char *err, size_t errlen);
/* Main thread, after the I/O threads and workers ended (the bases still
 * exist): close what is left, free the events on the main base. */
void wb_proxy_main_stop(wb_proxy *p);
/* I/O thread i (0 <= i < nthreads) with its base, before the loop runs. */
void wb_proxy_thread_start(wb_proxy *p, int i, struct event_base *base);
/* On I/O thread i at shutdown: every client of the thread gets FATAL 57P01
 * and is closed, the thread's server connections are closed, its events
 * freed. Afterwards nothing of the proxy is left on that base. */
void wb_proxy_thread_stop(wb_proxy *p, int i);

/* An authenticated client connection, handed over by the server. */
typedef struct wb_proxy_login {
    wb_pg_io io;           /* transport (plain or TLS), socket non-blocking */
    wb_stream *in;         /* its push read stream; bytes after the last
                              authentication message stay buffered */
    char *user, *database; /* malloc'd */
    char **names, **values; /* StartupMessage parameters other than user and
                               database (malloc'd strings and arrays) */
    int nparams;
    int32_t pid, key;      /* the BackendKeyData the proxy gives the client */
    int tls;
    int local;             /* Unix socket or loopback (the console is only
                              offered there) */
    char addr[64];         /* peer address ("unix" for the Unix socket) */
    int port;
} wb_proxy_login;
/* On I/O thread i: take the connection over. Ownership of everything in *l
 * moves to the proxy, whatever happens (a failure closes the connection);
 * *l is zeroed. The client gets AuthenticationOk, ParameterStatus values,
 * BackendKeyData and ReadyForQuery once its pool has them (the first server
 * connection of a new pool is opened first), or a FATAL error. */
void wb_proxy_client_login(wb_proxy *p, int i, wb_proxy_login *l);

/* CancelRequest (pid, key) from a client (any thread): forwarded with the
 * server connection's own key to the server connection that client holds,
 * if any, on a worker thread. */
void wb_proxy_cancel(wb_proxy *p, int32_t pid, int32_t key);
/* Clients connected now (counted against --max-connections). */
int wb_proxy_clients(wb_proxy *p);

#endif
