/* src/proxy/proxy_int.h - what the proxy's plumbing files share (proxy.c:
 * clients, I/O threads, the relay hot path; pool.c: pools, server
 * connections, connecting upstream; admin.c: console, metrics, the
 * maintenance timer). Lock discipline: see the top of proxy.c. */
#ifndef WB_PROXY_INT_H
#define WB_PROXY_INT_H
#include "console.h"
#include "proxy.h"
#include "relay.h"
#include "../server/server.h"
#include "wirebuf/buf.h"
#include "wirebuf/pg.h"
#include "wirebuf/pgreader.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

struct event;
struct evhttp;

#define REG_BUCKETS 4096

typedef struct pthr pthr;
typedef struct pool pool;
typedef struct pclient pclient;
typedef struct sconn sconn;

/* client states (pool->mu for WAITING/ACTIVE transitions) */
enum { CL_LOGIN, CL_IDLE, CL_WAITING, CL_ACTIVE };
/* server connection states (atomic; see proxy.c) */
enum { SV_LOGIN, SV_IDLE, SV_CHECK, SV_ACTIVE, SV_RESET, SV_CLOSED };
/* client mail (t->mu) */
enum { CM_SERVER = 1, CM_LOGIN = 2, CM_FAIL = 4, CM_RUN = 8 };

struct sconn {
    pool *pool;
    pthr *t;               /* thread whose base holds rev/wev; NULL: none */
    pthr *home;            /* where the connect result is posted */
    wb_pg_handover h;      /* transport, read stream, params, keys */
    wb_pg_reader rd;
    wb_buf out;
    size_t out_off;
    struct event *rev, *wev;
    int reading;
    wb_relay_server *rs;
    pclient *client;       /* holder (pool->mu, or its thread while held) */
    atomic_int state;
    atomic_int holder_t;   /* SV_ACTIVE: index of the holder's thread, so a
                              callback on another thread never touches a
                              client that is not its own */
    int64_t connect_time_s, idle_since_us;
    sconn *inext, *iprev;  /* pool idle list (pool->mu) */
    sconn *anext, *aprev;  /* pool list of every connection (pool->mu) */
    sconn *mail_next;      /* t->mu */
    wb_srv_task task;
    int failed;            /* connect result */
    char sqlstate[6];
    char errmsg[256];
};

struct pclient {
    /* an idle client is this struct (fields ordered to pack), its read
     * event, its relay state once it has spoken (relay.h) and a reference to
     * its pool's shared start-up parameters: see DEVELOPERS.md, memory */
    pthr *t;               /* its I/O thread (t->p: the proxy) */
    pool *pool;            /* NULL: console */
    /* the transport (wb_pg_io without its 256-byte error text, which an
     * idle client does not need: wb_px_cio makes the wb_pg_io of a call) */
    const wb_pg_io_ops *io_ops;
    void *ssl;             /* OpenSSL SSL * with TLS, else NULL */
    wb_stream *in;         /* read buffer and its reader: taken from the */
    wb_pg_reader *rd;      /* thread's cache while the client has bytes,
                              NULL while it is idle */
    wb_buf out;            /* empty (no memory) while idle */
    size_t out_off;
    struct event *rev, *wev, *ptimer;
    wb_relay_client *rc;   /* made at its first request (NULL until then) */
    wb_relay_startup *startup; /* its start-up parameters (a reference; a
                                  pool client's is the pool's shared set) */
    sconn *sc;             /* held (this thread) */
    sconn *assigned;       /* handed over, not yet taken (pool->mu) */
    pclient *mail_next;    /* t->mu */
    pclient *wnext, *wprev; /* wait queue or login waiters (pool->mu) */
    pclient *next, *prev;  /* the thread's list */
    pclient *reg_next;     /* registry (reg_mu) */
    int64_t connect_time_s, wait_start_us, req_start_us, hold_start_us;
    uint64_t n_q, b_in, b_out;
    char *database, *user; /* owned (malloc'd); the pool's once names_pooled */
    const char *appname;   /* application_name in startup, or NULL */
    char *fail_msg;        /* CM_FAIL: FATAL message (malloc'd) */
    char *pause_db;        /* console PAUSE [db] waiting (malloc'd) */
    int fd;
    int state;             /* CL_* (pool->mu once logged in) */
    int32_t sv_pid;        /* backend pid of the server held (pool->mu) */
    unsigned mail;         /* t->mu */
    int32_t pid, key;
    uint16_t port;
    uint8_t addr_family;   /* 0: the Unix socket, 4 or 6: addr (binary) */
    uint8_t addr[16];
    char fail_state[6];    /* CM_FAIL: FATAL sqlstate */
    /* flags, one byte each (not bit-fields: in_mail is t->mu's, the
     * others the client thread's) */
    uint8_t reading, closing, out_blocked, wanted_write;
    uint8_t waiting;       /* queued for a server (this thread's view) */
    uint8_t logged_in;     /* the login answer went out (this thread) */
    uint8_t in_mail;       /* t->mu */
    uint8_t names_pooled, pause_pending;
};

struct pool {
    pool *next;
    char *db, *user, *conninfo;
    pthread_mutex_t mu;
    sconn *idle, *all;
    int n_total, n_login, n_active, n_idle, n_waiting, n_clients;
    struct wq { pclient *head, *tail; } *wq; /* wait queue per I/O thread, FIFO each */
    pclient *login_wait;
    char **params;         /* cached ParameterStatus of the first server */
    size_t nparams;
    int have_params, paused;
    int64_t retry_after_us;  /* min_pool_size connects wait after a failure */
    int nthreads;          /* wq entries */
    /* start-up parameter sets its clients sent, shared by them (mu) */
#define POOL_STARTUPS 8
    wb_relay_startup *startups[POOL_STARTUPS];
    int startup_next;
    atomic_uint_fast64_t xact_count, query_count, bytes_received, bytes_sent, xact_time_us, query_time_us,
        wait_time_us, server_errors;
};

struct pthr {
    wb_proxy *p;
    int idx;
    struct event_base *base;
    struct event *wake;
    pthread_mutex_t mu;
    pclient *cmail;        /* mu */
    sconn *smail;          /* mu */
    int stopped;           /* mu */
    pclient *clients;      /* this thread only */
    int nclients;
    wb_buf scratch;        /* to_server of a client without a server */
    /* read streams (with readers) and write buffers that clients gave back
     * when they went idle, for the next that speak: no allocation per
     * request (this thread only) */
#define IO_CACHE 32
    struct { wb_stream *in; wb_pg_reader *rd; } ioc[IO_CACHE];
    wb_buf outc[IO_CACHE];
    int nioc, noutc;
};

struct wb_proxy {
    wb_proxy_config cfg;
    char *upstream_kv;     /* CONNINFO as keyword=value without dbname/user */
    char *upstream_shown;  /* the same without the password */
    struct wb_server *srv;
    struct event_base *mbase;
    struct event *mtimer;
    struct evhttp *http;
    int nthreads, max_connections, next_home;
    pthr *thr;
    pthread_mutex_t reg_mu;
    pclient *reg[REG_BUCKETS];
    pthread_mutex_t pools_mu;
    pool *pools;
    atomic_int nclients;
    int64_t start_time_s;
    int trim_clients;      /* main loop: nclients at the last look (admin.c) */
    int64_t trim_at_us;    /* main loop: when to malloc_trim, 0 none */
};

/* proxy.c */
/* client c's peer address as text ("unix" for the Unix socket) */
void wb_px_client_addr(const pclient *c, char *out, size_t n);
/* client c's transport as a wb_pg_io for the calls of one moment (io is
 * the caller's, on its stack); returns io */
static inline wb_pg_io *wb_px_cio(const pclient *c, wb_pg_io *io)
{
    io->ops = c->io_ops;
    io->fd = c->fd;
    io->ssl = c->ssl;
    io->want_write = 0;
    io->wait = 0;
    io->err[0] = 0;
    return io;
}
int64_t wb_px_now_us(void);
void wb_px_log(wb_proxy *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* queue mail for client c on its thread (caller may hold pool->mu) */
void wb_px_post_client(pclient *c, unsigned what);
/* client c's snapshot-visible fields: see admin.c */

/* Take idle server connection sc out of pool pl's idle list (caller holds
 * pl->mu; sc is on the list). The caller sets sc's new state. */
static inline void wb_px_idle_remove(pool *pl, sconn *sc)
{
    if (sc->iprev)
        sc->iprev->inext = sc->inext;
    else
        pl->idle = sc->inext;
    if (sc->inext)
        sc->inext->iprev = sc->iprev;
    sc->inext = sc->iprev = NULL;
    pl->n_idle--;
}

/* pool.c */
pool *wb_px_pool_get(wb_proxy *p, const char *db, const char *user);
/* the pool's set equal to s (a reference; s's reference is dropped), or s
 * itself, remembered for the clients that come next */
wb_relay_startup *wb_px_pool_startup(pool *pl, wb_relay_startup *s);
void wb_px_pool_free(pool *pl);
/* a new server connection (state SV_LOGIN, counted in n_total/n_login by
 * the caller under pool->mu); start it with wb_px_connect_start after
 * unlocking */
sconn *wb_px_sconn_new(pool *pl, pthr *home);
void wb_px_connect_start(wb_proxy *p, sconn *sc);
/* on thread t: a connect result arrived */
void wb_px_sconn_connected(pthr *t, sconn *sc);
/* bind sc's events to thread t (moving them from another thread) */
int wb_px_sconn_bind(sconn *sc, pthr *t);
/* close a server connection no one else can reach (not in the idle list,
 * no holder); counted=1: it is in the pool's counters and list */
void wb_px_sconn_close(sconn *sc, int terminate);
/* a connect result nobody will use (its thread stopped): uncount it from
 * its pool (takes pool->mu) and free it with its handover */
void wb_px_sconn_discard_login(sconn *sc);
/* client c needs a server: the server (bound to c's thread) or NULL
 * (queued; CM_SERVER comes) */
sconn *wb_px_acquire(pclient *c);
/* c gives its server back (clean, idle): to the next waiter or idle */
/* direct=1: a waiter on c's thread that got sc is returned (not sent
 * CM_SERVER mail): the caller gives it sc with wb_px_take_server once it is
 * done with c; else NULL */
pclient *wb_px_release(pclient *c, sconn *sc, int direct);
/* an unheld server connection is usable again: to a waiter or idle */
void wb_px_sconn_put(sconn *sc, int was_active);
/* send buffered output; 1 drained, 0 waiting for POLLOUT, -1 failed */
int wb_px_sconn_flush(sconn *sc);
void wb_px_sconn_set_reading(sconn *sc, int on);
/* the event callback of a server connection's socket */
void wb_px_on_sconn_read(int fd, short what, void *arg);
void wb_px_on_sconn_write(int fd, short what, void *arg);
/* pool->mu held: the longest waiting client, or NULL */
pclient *wb_px_wq_oldest(pool *pl);
/* pool->mu held: take c (queued) out of its wait queue */
void wb_px_wq_remove(pool *pl, pclient *c);
/* a pool's waiters get idle servers / new connections (after RESUME) */
void wb_px_pool_kick(wb_proxy *p, pool *pl);
/* read what the socket has into a push stream: 1 bytes or nothing yet, 0
 * EOF, -1 error */
int wb_px_read_some(wb_pg_io *io, wb_stream *in, wb_pg_reader *rd);

/* proxy.c: the active server's messages for its client */
void wb_px_sconn_active_read(sconn *sc, pclient *c);
void wb_px_client_flush(pclient *c);
/* the server c holds failed (EOF, reset, write error): c gets FATAL 08006
 * and is closed, sc is closed */
void wb_px_sconn_lost(sconn *sc, pclient *c);

/* admin.c */
void wb_px_console_login(pclient *c);
/* one message of a console client; 0 go on, 1 stop processing for now */
int wb_px_console_msg(pclient *c, const wb_pg_msg *m);
int wb_px_admin_start(wb_proxy *p, char *err, size_t errlen);
void wb_px_admin_stop(wb_proxy *p);

#endif
