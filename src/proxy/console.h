/* src/proxy/console.h - the pooling proxy's admin console (the database
 * "wirebuf": `psql -d wirebuf`, as PgBouncer's "pgbouncer" database) and
 * its Prometheus text endpoint (`--metrics ADDRESS:PORT`, GET /metrics).
 *
 * Sans-I/O: the plumbing (src/proxy/proxy.c) takes a snapshot of its pools,
 * clients and server connections (under its own locks), and these functions
 * turn a console command or a metrics request into bytes. Pure functions of
 * their arguments; any thread.
 *
 * Commands (PgBouncer 1.18's console, "SHOW" docs): SHOW POOLS, SHOW
 * CLIENTS, SHOW SERVERS, SHOW STATS, SHOW DATABASES, SHOW CONFIG, SHOW
 * VERSION, SHOW HELP; PAUSE [db], RESUME [db], RELOAD, SHUTDOWN. Keywords
 * are case-insensitive; a trailing ';' is allowed.
 */
#ifndef WB_PROXY_CONSOLE_H
#define WB_PROXY_CONSOLE_H
#include "wirebuf/buf.h"
#include <stddef.h>
#include <stdint.h>

/* One pool: (database, user). Counts are now; totals since start. */
typedef struct wb_proxy_pool_stats {
    char database[64], user[64];
    int pool_mode;              /* enum wb_pool_mode */
    int paused;
    int cl_active;              /* clients holding or not needing a server */
    int cl_waiting;             /* clients queued for a server connection */
    int sv_active;              /* server connections lent to a client */
    int sv_idle;                /* idle, ready */
    int sv_login;               /* connecting / authenticating */
    int pool_size;
    uint64_t maxwait_us;        /* longest current wait, microseconds */
    uint64_t xact_count, query_count;   /* transactions / queries relayed */
    uint64_t bytes_received, bytes_sent; /* from clients / to clients */
    uint64_t xact_time_us, query_time_us, wait_time_us; /* totals, microseconds */
    uint64_t server_errors;     /* server connections lost or refused */
} wb_proxy_pool_stats;

typedef struct wb_proxy_client_info {
    char database[64], user[64], application_name[64], addr[64];
    int port;
    int32_t pid;                /* the BackendKeyData the proxy gave it */
    const char *state;          /* "active", "waiting", "idle" (static string) */
    int64_t connect_time_s;     /* Unix seconds */
    int64_t wait_us;            /* current wait for a server, 0 if none */
    int32_t server_pid;         /* backend pid of the server connection held, 0 if none */
    size_t prepared;            /* named prepared statements */
} wb_proxy_client_info;

typedef struct wb_proxy_server_info {
    char database[64], user[64], addr[64];
    int port;
    int32_t backend_pid;
    const char *state;          /* "active", "idle", "login", "used" (static) */
    int tls;
    int64_t connect_time_s;
    int32_t client_pid;         /* client holding it, 0 if none */
    size_t prepared;            /* server-side statements present */
} wb_proxy_server_info;

typedef struct wb_proxy_snapshot {
    const wb_proxy_pool_stats *pools;    int npools;
    const wb_proxy_client_info *clients; int nclients;
    const wb_proxy_server_info *servers; int nservers;
    const char *upstream;       /* CONNINFO with any password removed */
    int pool_mode, pool_size, min_pool_size, max_connections, threads;
    int server_idle_timeout_s, query_wait_timeout_s;
    int64_t start_time_s;       /* Unix seconds */
    const char *version;        /* e.g. "wirebuf 0.x" */
} wb_proxy_snapshot;

/* What the plumbing must do after a console command. */
enum wb_console_cmd {
    WB_CONSOLE_NONE = 0,  /* answered (SHOW ...), or an error was appended */
    WB_CONSOLE_PAUSE,     /* PAUSE [db]: stop lending server connections, wait
                             until none is active, then answer "PAUSE" */
    WB_CONSOLE_RESUME,    /* RESUME [db] */
    WB_CONSOLE_RELOAD,    /* RELOAD: re-read the password file */
    WB_CONSOLE_SHUTDOWN   /* SHUTDOWN: stop like SIGTERM */
};
typedef struct wb_console_request {
    int cmd;              /* enum wb_console_cmd */
    char database[64];    /* PAUSE/RESUME: the database, "" for all */
} wb_console_request;

/* 1 if the command text needs a snapshot (SHOW ...), 0 if not. */
int wb_console_needs_snapshot(const char *sql, size_t len);
/* Answer one simple Query on the console: appends RowDescription, DataRows
 * and CommandComplete (SHOW: tag "SHOW"), or CommandComplete alone for a
 * command the plumbing then carries out (req->cmd set), or ErrorResponse
 * (42601 for a syntax error, 0A000 for an unknown command) - never
 * ReadyForQuery (the caller adds it). snap may be NULL when
 * wb_console_needs_snapshot() said 0. Returns 0 or -1 (out of memory). */
int wb_console_query(const char *sql, size_t len, const wb_proxy_snapshot *snap, wb_buf *out,
                     wb_console_request *req);
/* The Prometheus text exposition format (version 0.0.4) of the snapshot:
 * wirebuf_pool_* gauges and counters labelled {database,user}, and
 * wirebuf_clients / wirebuf_servers totals. Appends to out; 0 or -1. */
int wb_proxy_metrics(const wb_proxy_snapshot *snap, wb_buf *out);

#endif
