/* The wire server's I/O threads, worker pool and registries (server.h). */
#include "../core/thread.h"
#include "server.h"
#include "session.h"
#include "../proxy/proxy.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAX_LISTEN 16
#define REG_BUCKETS 4096
#define READ_ROUND (256u * 1024u) /* bytes read per readable event before yielding */

enum { MAIL_NEW = 1, MAIL_DONE = 2, MAIL_NOTIFY = 4 };
enum job { JOB_NONE, JOB_LOGIN, JOB_RUN, JOB_FREE };

typedef struct iothr iothr;

typedef struct conn {
    wb_srv_session s;
    wb_pg_io io;
    iothr *t;
    struct event *rev, *wev, *timer;
    size_t out_off;
    int local, tls_handshaking, closing, terminate, reading;
    enum job job;               /* the job in flight (JOB_NONE: none) */
    enum wb_srv_action result;  /* what the job returned */
    int run_after_flush;        /* FLUSH: submit JOB_RUN once out is drained */
    unsigned mail;              /* guarded by t->mu */
    struct conn *mail_next, *job_next, *reg_next, *prev, *next;
    int registered;
    wb_buf notify;              /* pending NotificationResponses; srv->reg_mu */
    atomic_int notify_pending;  /* notify.len != 0, readable without the lock */
    /* A JOB_RUN whose answer the worker sent in full, with nothing left to
     * read, ends quietly: no hand-back to the I/O thread, whose read event
     * stayed armed; the I/O thread reaps it (job_done) when the next request
     * arrives or it needs the connection (busy()). OWN_RUN: the job runs and
     * may end quietly; OWN_ATTN: the I/O thread asked for MAIL_DONE;
     * OWN_QUIET: it ended quietly. */
    atomic_uint own;
    int quiet_ok;               /* at submit (I/O thread): may end quietly */
    int slow;                   /* its last run took longer than INLINE_SLOW_US
                                   or had its I/O thread taken over:                                    the next one goes to the worker pool */
    int proxy_login;            /* --upstream: hand over once out is drained */
    char addr[64];              /* peer address, for the proxy's SHOW CLIENTS */
    int port;
} conn;

enum { OWN_RUN = 1, OWN_ATTN = 2, OWN_QUIET = 4 };

struct iothr {
    wb_server *srv;
    pthread_t th;
    struct event_base *base;
    struct event *wake;
    pthread_mutex_t mu;
    conn *mail;     /* conns with mail, guarded by mu */
    int stopping;   /* guarded by mu */
    conn *conns;    /* this thread's connections (thread-local list) */
    int nconns;
    /* Requests run inline by the thread driving this base, after each loop
     * round (run_inline): no hand-off to a worker, no wake-up. runq is the
     * driver's; inl/inl_job/inl_since/cpuclock tell the main thread's
     * pool_check how long the current inline job has run: past
     * INLINE_MAX_CPU_US of CPU between two checks, or INLINE_MAX_US of
     * wall time (waiting on I/O), a helper thread
     * takes the base over (INL_RUN -> INL_TAKEN) so that the other
     * sessions on it are not stalled by a long statement. */
    conn *runq, *runq_tail;
    conn *batch;              /* the inline batch not started yet; mu (a helper
                                 that takes over hands it to the worker pool:
                                 one of them may hold the lock another waits for) */
    int done;                 /* the loop was broken for good (shutdown) */
    atomic_int inl;           /* INL_LOOP, INL_RUN, INL_TAKEN */
    atomic_llong inl_since;   /* start of the inline job running (us, monotonic) */
    atomic_ullong inl_job;    /* count of inline jobs started */
    atomic_int cpuclock;      /* the driver's CPU-time clock (clockid_t) */
    /* pool_check's (main thread only): the job it saw running last */
    unsigned long long seen_job;
    int64_t seen_cpu;
    atomic_int takeover;      /* a helper thread is starting */
    _Atomic(conn *) inl_conn; /* the connection whose inline job runs */
};

enum { INL_LOOP = 0, INL_RUN = 1, INL_TAKEN = 2 };

/* password sets loaded by RELOAD: sessions keep pointing at older ones,
 * which live until the server is freed */
typedef struct pwset {
    wb_srv_passwords pw;
    struct pwset *prev;
} pwset;

struct wb_server {
    wb_server_config cfg;
    wb_srv_passwords pw;
    pwset *reloaded; /* newest first; reg_mu */
    SSL_CTX *ssl;
    wb_engine *engine;
    struct event_base *base;
    int lfd[MAX_LISTEN];
    int local_listener[MAX_LISTEN];
    struct event *lev[MAX_LISTEN];
    int nl;
    char sockpath[sizeof(((struct sockaddr_un *)0)->sun_path)];
    struct event *sigterm, *sigint, *pool_timer;
    iothr *io;
    int nio, next_io;
    /* workers */
    pthread_mutex_t wmu;
    pthread_cond_t wcv, wdone;
    conn *jobs, *jobs_tail;
    wb_srv_task *tasks, *tasks_tail; /* wb_server_task: proxy connects */
    int nworkers, idle, min_workers, max_workers, wstop;
    int helpers; /* I/O threads that took a base over (detached); wmu */
    /* registry of sessions by pid */
    pthread_mutex_t reg_mu;
    conn *reg[REG_BUCKETS];
    int nsessions; /* connections counted against max_connections; reg_mu */
    int32_t next_pid;
    int stopping;
};

static void logf_(wb_server *srv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(wb_server *srv, const char *fmt, ...)
{
    if (srv->cfg.quiet)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "wirebuf serve: %s\n", buf);
}

/* ---------------- registry ---------------- */

static void reg_add(wb_server *srv, conn *c)
{
    pthread_mutex_lock(&srv->reg_mu);
    conn **b = &srv->reg[(uint32_t)c->s.pid % REG_BUCKETS];
    c->reg_next = *b;
    *b = c;
    c->registered = 1;
    pthread_mutex_unlock(&srv->reg_mu);
}

static void reg_remove(wb_server *srv, conn *c)
{
    pthread_mutex_lock(&srv->reg_mu);
    if (c->registered) {
        for (conn **p = &srv->reg[(uint32_t)c->s.pid % REG_BUCKETS]; *p; p = &(*p)->reg_next)
            if (*p == c) {
                *p = c->reg_next;
                break;
            }
        c->registered = 0;
    }
    pthread_mutex_unlock(&srv->reg_mu);
}

/* caller holds reg_mu */
static conn *reg_find(wb_server *srv, int32_t pid)
{
    for (conn *c = srv->reg[(uint32_t)pid % REG_BUCKETS]; c; c = c->reg_next)
        if (c->s.pid == pid)
            return c;
    return NULL;
}

static void post(conn *c, unsigned what)
{
    iothr *t = c->t;
    pthread_mutex_lock(&t->mu);
    if (!c->mail) {
        c->mail_next = t->mail;
        t->mail = c;
    }
    c->mail |= what;
    pthread_mutex_unlock(&t->mu);
    event_active(t->wake, EV_READ, 0);
}

static int hook_signal_backend(void *ctx, int32_t pid, int terminate)
{
    wb_server *srv = ctx;
    pthread_mutex_lock(&srv->reg_mu);
    conn *c = reg_find(srv, pid);
    if (c)
        wb_engine_session_interrupt(c->s.es, terminate);
    pthread_mutex_unlock(&srv->reg_mu);
    return c != NULL;
}

static void hook_notify(void *ctx, const char *db, const char *channel, const char *payload, int32_t sender)
{
    wb_server *srv = ctx;
    pthread_mutex_lock(&srv->reg_mu);
    for (int i = 0; i < REG_BUCKETS; i++)
        for (conn *c = srv->reg[i]; c; c = c->reg_next)
            if (strcmp(c->s.database, db) == 0 && wb_engine_session_listening(c->s.es, channel)) {
                wb_pg_put_notification(&c->notify, sender, channel, payload);
                atomic_store(&c->notify_pending, 1);
                post(c, MAIL_NOTIFY);
            }
    pthread_mutex_unlock(&srv->reg_mu);
}

/* The engine's statement of session pid is about to sleep: if it runs
 * inline on an I/O thread, a helper takes that thread's base over now (the
 * lock it waits for may belong to a session on the same thread). */
static void takeover_start(iothr *t);
static void hook_waiting(void *ctx, int32_t pid)
{
    wb_server *srv = ctx;
    pthread_mutex_lock(&srv->reg_mu);
    conn *c = reg_find(srv, pid);
    iothr *t = c ? c->t : NULL;
    int inl = t && atomic_load(&t->inl_conn) == c && atomic_load(&t->inl) % 4 == INL_RUN;
    pthread_mutex_unlock(&srv->reg_mu);
    if (inl)
        takeover_start(t);
}

static void do_cancel(wb_server *srv, int32_t pid, int32_t key)
{
    pthread_mutex_lock(&srv->reg_mu);
    conn *c = reg_find(srv, pid);
    if (c && c->s.key == key)
        wb_engine_session_interrupt(c->s.es, 0);
    pthread_mutex_unlock(&srv->reg_mu);
}

/* ---------------- worker pool ---------------- */

static void take_notifications(conn *c);

/* Inline runs (run_inline): a job that used more than INLINE_MAX_CPU_US of
 * CPU between two of pool_check's ticks (10 ms apart), or that has run for
 * INLINE_MAX_US, gets its I/O thread's base taken over by a helper (CPU
 * time, not wall time: on a loaded machine a thread preempted for a few ms
 * is no long statement); a session whose last run took longer than
 * INLINE_SLOW_US, or was taken over, runs its next request on the worker
 * pool (COPY, long statements). */
#define INLINE_MAX_CPU_US 5000
#define INLINE_MAX_US 100000
#define INLINE_SLOW_US 10000

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Run c's job. inline_gen: the generation of c->t's base this thread
 * drives (run_inline), -1 on a worker. */
static void run_job(wb_server *srv, conn *c, int inline_gen)
{
    int64_t t0 = c->job == JOB_RUN ? mono_us() : 0;
    switch (c->job) {
    case JOB_LOGIN:
        c->result = wb_srv_session_login(&c->s, srv->engine);
        if (c->s.es)
            reg_add(srv, c);
        break;
    case JOB_RUN:
        c->result = wb_srv_session_run(&c->s);
        /* published by the CAS or post below */
        c->slow = mono_us() - t0 > INLINE_SLOW_US || (inline_gen >= 0 && atomic_load(&c->t->inl) / 4 != inline_gen);
        if (c->result == WB_SRV_WAIT) {
            /* answer from here: the client gets it one thread hop sooner
             * (the I/O thread only re-arms reading, off the critical path).
             * The job owns out and the transport until it is posted back;
             * whatever does not fit now is sent by the I/O thread. */
            take_notifications(c);
            while (c->out_off < c->s.out.len) {
                ssize_t n = c->io.ops->send(&c->io, c->s.out.p + c->out_off, c->s.out.len - c->out_off);
                if (n <= 0)
                    break; /* AGAIN or an error: the I/O thread's flush_out sees it again */
                c->out_off += (size_t)n;
            }
            if (c->quiet_ok && c->out_off == c->s.out.len) {
                size_t avail;
                wb_pg_reader_consume(&c->s.rd);
                wb_stream_peek(c->s.in, &avail);
                if (avail == 0) { /* all answered, nothing buffered: idle as advance() leaves it */
                    c->out_off = 0;
                    c->s.out.len = 0;
                    if (c->s.out.cap > 1024)
                        wb_buf_free(&c->s.out);
                    wb_stream_shrink(c->s.in, 0);
                    unsigned want = OWN_RUN;
                    if (atomic_compare_exchange_strong(&c->own, &want, OWN_QUIET))
                        return; /* the I/O thread reaps it (busy()) */
                }
            }
        }
        break;
    case JOB_FREE:
        reg_remove(srv, c);
        wb_engine_session_free(c->s.es);
        c->s.es = NULL;
        c->result = WB_SRV_CLOSE;
        break;
    default:
        break;
    }
    atomic_store(&c->own, 0);
    post(c, MAIL_DONE);
}

static void *worker_main(void *arg)
{
    wb_server *srv = arg;
    pthread_mutex_lock(&srv->wmu);
    for (;;) {
        while (!srv->jobs && !srv->tasks && !srv->wstop) {
            srv->idle++;
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 10;
            int r = pthread_cond_timedwait(&srv->wcv, &srv->wmu, &ts);
            srv->idle--;
            if (r == ETIMEDOUT && !srv->jobs && !srv->tasks && srv->nworkers > srv->min_workers)
                goto out;
        }
        if (!srv->jobs && srv->tasks) {
            wb_srv_task *t = srv->tasks;
            srv->tasks = t->next;
            if (!srv->tasks)
                srv->tasks_tail = NULL;
            pthread_mutex_unlock(&srv->wmu);
            t->fn(t);
            pthread_mutex_lock(&srv->wmu);
            continue;
        }
        if (!srv->jobs)
            break; /* stopping and nothing left */
        conn *c = srv->jobs;
        srv->jobs = c->job_next;
        if (!srv->jobs)
            srv->jobs_tail = NULL;
        pthread_mutex_unlock(&srv->wmu);
        run_job(srv, c, -1);
        pthread_mutex_lock(&srv->wmu);
    }
out:
    srv->nworkers--;
    pthread_cond_broadcast(&srv->wdone);
    pthread_mutex_unlock(&srv->wmu);
    return NULL;
}

static int spawn_worker(wb_server *srv) /* wmu held */
{
    int r = wb_thread_detached(worker_main, srv);
    if (r == 0)
        srv->nworkers++;
    return r;
}

/* Every POOL_CHECK_MS on the main thread: when jobs wait and no worker is
 * idle (every worker inside a long statement), add one worker. So a burst
 * of short jobs (10,000 logins) does not multiply threads, and sessions
 * blocked in pg_sleep or a lock never stall the others for long. */
#define POOL_CHECK_MS 10
static void pool_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wb_server *srv = arg;
    pthread_mutex_lock(&srv->wmu);
    if ((srv->jobs || srv->tasks) && srv->idle == 0 && srv->nworkers < srv->max_workers)
        spawn_worker(srv);
    pthread_mutex_unlock(&srv->wmu);
    int64_t now = mono_us();
    for (int i = 0; i < srv->nio; i++) {
        iothr *t = &srv->io[i];
        if (atomic_load(&t->inl) % 4 != INL_RUN) {
            t->seen_job = 0;
            continue;
        }
        unsigned long long job = atomic_load(&t->inl_job);
        struct timespec ts;
        int64_t cpu = clock_gettime((clockid_t)atomic_load(&t->cpuclock), &ts) == 0
                          ? (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000
                          : 0;
        if (job != t->seen_job) { /* a job we had not seen: measure from here */
            t->seen_job = job;
            t->seen_cpu = cpu;
            if (now - atomic_load(&t->inl_since) <= INLINE_MAX_US)
                continue;
        }
        if ((cpu && cpu - t->seen_cpu > INLINE_MAX_CPU_US) || now - atomic_load(&t->inl_since) > INLINE_MAX_US)
            takeover_start(t);
    }
}

/* I/O thread: c now has job j in flight (run by a worker or inline). */
static void job_start(conn *c, enum job j)
{
    c->job = j;
    /* a quiet end needs the read event armed to wake the I/O thread, and no
     * bytes hidden in a TLS record buffer */
    c->quiet_ok = j == JOB_RUN && c->reading && !c->s.tls_active && !c->closing && !c->terminate;
    atomic_store(&c->own, c->quiet_ok ? OWN_RUN : 0);
    c->job_next = NULL;
}

/* Queue c's started job for the worker pool. */
static void submit_started(conn *c)
{
    wb_server *srv = c->t->srv;
    pthread_mutex_lock(&srv->wmu);
    if (srv->jobs_tail)
        srv->jobs_tail->job_next = c;
    else
        srv->jobs = c;
    srv->jobs_tail = c;
    if (srv->nworkers == 0)
        spawn_worker(srv);
    int wake = srv->idle > 0; /* none idle: a busy worker takes it next (more workers: pool_check) */
    pthread_mutex_unlock(&srv->wmu);
    if (wake) /* after unlocking: the woken worker does not block on wmu */
        pthread_cond_signal(&srv->wcv);
}

static void submit(conn *c, enum job j)
{
    job_start(c, j);
    submit_started(c);
}

/* I/O thread: run c's request on this thread after the loop round
 * (run_inline), or on the pool when its last run was slow. */
static void submit_run(conn *c)
{
    /* inside a transaction block a session holds its SQLite connection and
     * often the write lock that others wait for: a worker runs it, so that
     * the waiters' hand-offs do not take I/O threads over one by one */
    if (c->slow || wb_engine_session_txn_status(c->s.es) != 'I') {
        submit(c, JOB_RUN);
        return;
    }
    iothr *t = c->t;
    job_start(c, JOB_RUN);
    if (t->runq_tail)
        t->runq_tail->job_next = c;
    else
        t->runq = c;
    t->runq_tail = c;
}

void wb_server_task(wb_server *srv, wb_srv_task *t)
{
    t->next = NULL;
    pthread_mutex_lock(&srv->wmu);
    if (srv->tasks_tail)
        srv->tasks_tail->next = t;
    else
        srv->tasks = t;
    srv->tasks_tail = t;
    if (srv->nworkers == 0)
        spawn_worker(srv);
    int wake = srv->idle > 0;
    pthread_mutex_unlock(&srv->wmu);
    if (wake)
        pthread_cond_signal(&srv->wcv);
}

int wb_server_reload(wb_server *srv, char *err, size_t errlen)
{
    if (!srv->cfg.passwords) {
        snprintf(err, errlen, "no --passwords file to reload");
        return -1;
    }
    pwset *ps = calloc(1, sizeof *ps);
    if (!ps) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (wb_srv_passwords_load(&ps->pw, srv->cfg.passwords, err, errlen) != 0) {
        wb_srv_passwords_free(&ps->pw);
        free(ps);
        return -1;
    }
    pthread_mutex_lock(&srv->reg_mu);
    ps->prev = srv->reloaded;
    srv->reloaded = ps;
    pthread_mutex_unlock(&srv->reg_mu);
    logf_(srv, "reloaded the password file \"%s\" (%d roles)", srv->cfg.passwords, ps->pw.n);
    return 0;
}

/* ---------------- connections (I/O thread) ---------------- */

static void advance(conn *c);
static void conn_free(conn *c);
static void job_done(conn *c);

/* I/O thread: is a job in flight? 0: no (or it had ended quietly with
 * nothing left to do); 1: yes, and its completion comes as MAIL_DONE; -1:
 * it had ended quietly and job_done(c) ran now (c may be gone: the caller
 * must not touch it). */
static int busy(conn *c)
{
    if (c->job == JOB_NONE)
        return 0;
    unsigned s = atomic_fetch_or(&c->own, OWN_ATTN);
    if (!(s & OWN_QUIET))
        return 1;
    atomic_store(&c->own, 0);
    if (!c->terminate && !c->closing && !atomic_load(&c->notify_pending)) {
        /* the worker left it as advance() leaves an idle session (answer
         * sent, buffers shrunk, reading armed): job_done has nothing to do */
        assert(c->result == WB_SRV_WAIT && c->s.out.len == 0 && c->reading);
        c->job = JOB_NONE;
        return 0;
    }
    job_done(c);
    return -1;
}

static void set_reading(conn *c, int on)
{
    if (on == c->reading)
        return;
    c->reading = on;
    if (on)
        event_add(c->rev, NULL);
    else
        event_del(c->rev);
}

/* The connection is dead (I/O error, peer gone): no more output. */
static void conn_abort(conn *c)
{
    c->out_off = 0;
    wb_buf_clear(&c->s.out);
    c->closing = 1;
    c->run_after_flush = 0;
    set_reading(c, 0);
    if (c->wev)
        event_del(c->wev);
    if (c->job != JOB_NONE)
        return; /* the job's completion comes back here */
    if (c->s.es)
        submit(c, JOB_FREE);
    else
        conn_free(c);
}

/* Send out. 1 = drained, 0 = waiting for POLLOUT, -1 = connection aborted. */
static int flush_out(conn *c)
{
    wb_buf *o = &c->s.out;
    while (c->out_off < o->len) {
        ssize_t n = c->io.ops->send(&c->io, o->p + c->out_off, o->len - c->out_off);
        if (n == WB_STREAM_AGAIN) {
            event_add(c->wev, NULL);
            set_reading(c, 0); /* backpressure: not drained, not read */
            return 0;
        }
        if (n <= 0) {
            conn_abort(c);
            return -1;
        }
        c->out_off += (size_t)n;
    }
    c->out_off = 0;
    o->len = 0;
    if (o->cap > 16384)
        wb_buf_free(o); /* an idle session keeps no large output buffer */
    return 1;
}

static void finish_close(conn *c)
{
    set_reading(c, 0);
    if (c->s.es)
        submit(c, JOB_FREE);
    else
        conn_free(c);
}

/* Move pending notifications into out: before a final ReadyForQuery. */
static void take_notifications(conn *c)
{
    wb_server *srv = c->t->srv;
    if (!atomic_load(&c->notify_pending))
        return; /* the common case: no global lock per request */
    pthread_mutex_lock(&srv->reg_mu);
    atomic_store(&c->notify_pending, 0);
    if (c->notify.len) {
        wb_buf *o = &c->s.out;
        if (c->out_off == o->len) { /* everything so far was sent (by the worker) */
            o->len = 0;
            c->out_off = 0;
        }
        uint8_t z[6];
        /* insert before a final ReadyForQuery that is not sent yet */
        int rfq = o->len >= c->out_off + 6 && o->p[o->len - 6] == 'Z' && wb_pg_be32(o->p + o->len - 5) == 5;
        if (rfq) {
            memcpy(z, o->p + o->len - 6, 6);
            o->len -= 6;
        }
        wb_buf_append(o, c->notify.p, c->notify.len);
        if (rfq)
            wb_buf_append(o, z, 6);
        wb_buf_free(&c->notify);
    }
    pthread_mutex_unlock(&srv->reg_mu);
}

/* Pull what the socket has into the push stream. -1: the connection was
 * aborted (and may be gone). */
static int read_some(conn *c)
{
    size_t total = 0;
    for (;;) {
        size_t room, avail;
        wb_pg_reader_consume(&c->s.rd);
        wb_stream_peek(c->s.in, &avail);
        /* grow toward the announced message as its bytes arrive, not at once:
         * a peer must send bytes to make the buffer grow */
        size_t min = c->s.rd.need > avail ? c->s.rd.need - avail : 0;
        if (min > READ_ROUND)
            min = READ_ROUND;
        uint8_t *p = wb_stream_reserve(c->s.in, min, &room);
        if (!p) {
            conn_abort(c);
            return -1;
        }
        ssize_t n = c->io.ops->recv(&c->io, p, room);
        if (n == WB_STREAM_AGAIN)
            return 0;
        if (n <= 0) { /* EOF; a reset peer is a vanished peer too */
            wb_stream_set_eof(c->s.in);
            set_reading(c, 0);
            return 0;
        }
        wb_stream_commit(c->s.in, (size_t)n);
        total += (size_t)n;
        if ((size_t)n < room || total >= READ_ROUND)
            return 0;
    }
}

static void tls_step(conn *c)
{
    int r = wb_pg_io_handshake(&c->io);
    if (r < 0) {
        logf_(c->t->srv, "%s", c->io.err);
        conn_abort(c);
        return;
    }
    if (r == 0) {
        if (c->io.want_write)
            event_add(c->wev, NULL);
        set_reading(c, !c->io.want_write);
        return;
    }
    c->tls_handshaking = 0;
    c->s.tls_active = 1;
    c->s.cbind_len = wb_pg_io_tls_end_point(&c->io, 1, c->s.cbind);
    set_reading(c, 1);
    advance(c);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn *c = arg;
    int b = busy(c);
    if (b < 0)
        return; /* reaped: the level-triggered event fires again for the bytes */
    if (b > 0) {
        set_reading(c, 0); /* the job owns the stream; job_done re-arms */
        return;
    }
    if (c->tls_handshaking) {
        tls_step(c);
        return;
    }
    if (read_some(c) == 0)
        advance(c);
}

static void proxy_handover(conn *c);

static void after_drain(conn *c)
{
    if (c->closing) {
        finish_close(c);
        return;
    }
    if (c->proxy_login) {
        proxy_handover(c);
        return;
    }
    if (c->run_after_flush) {
        c->run_after_flush = 0;
        submit(c, JOB_RUN);
        return;
    }
    set_reading(c, 1);
    advance(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn *c = arg;
    if (c->tls_handshaking) {
        event_del(c->wev);
        tls_step(c);
        return;
    }
    int r = flush_out(c);
    if (r == 1) {
        event_del(c->wev);
        after_drain(c);
    }
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn *c = arg;
    /* authentication_timeout: PostgreSQL closes without a word */
    if (c->s.state != WB_SRV_ST_READY && c->job == JOB_NONE && !c->closing)
        conn_abort(c);
}

/* Run the startup/auth machine and dispatch jobs until the connection
 * waits. I/O thread, no job in flight. */
static void advance(conn *c)
{
    if (c->job != JOB_NONE || c->closing || c->tls_handshaking)
        return;
    wb_server *srv = c->t->srv;
    enum wb_srv_action a = wb_srv_session_step(&c->s);
    switch (a) {
    case WB_SRV_WAIT:
        take_notifications(c);
        if (flush_out(c) == 1) {
            set_reading(c, !wb_stream_ended(c->s.in));
            /* idle: give the read and write buffers back (a few KB per
             * idle session, issue 10 §1) */
            wb_pg_reader_consume(&c->s.rd);
            size_t avail;
            wb_stream_peek(c->s.in, &avail);
            if (avail == 0)
                wb_stream_shrink(c->s.in, 0);
            if (c->s.out.len == 0 && c->s.out.cap > 1024)
                wb_buf_free(&c->s.out); /* small ones are reused per request */
        }
        return;
    case WB_SRV_TLS: {
        if (flush_out(c) != 1) {
            conn_abort(c);
            return;
        }
        if (wb_pg_io_tls_server(&c->io, srv->ssl) != 0) {
            conn_abort(c);
            return;
        }
        c->tls_handshaking = 1;
        tls_step(c);
        return;
    }
    case WB_SRV_CANCEL:
        if (srv->cfg.proxy)
            wb_proxy_cancel(srv->cfg.proxy, c->s.cancel_pid, c->s.cancel_key);
        else
            do_cancel(srv, c->s.cancel_pid, c->s.cancel_key);
        c->closing = 1;
        finish_close(c);
        return;
    case WB_SRV_LOGIN:
        if (srv->cfg.proxy) {
            c->proxy_login = 1;
            set_reading(c, 0);
            int r = flush_out(c);
            if (r == 1)
                proxy_handover(c);
            return; /* 0: after_drain hands it over */
        }
        if (flush_out(c) < 0)
            return;
        set_reading(c, 0);
        submit(c, JOB_LOGIN);
        return;
    case WB_SRV_ENGINE:
        /* reading stays armed: the next request's bytes wake this thread
         * (on_read reaps a quietly ended job or disarms until MAIL_DONE) */
        if (srv->cfg.proxy)
            submit(c, JOB_RUN);
        else
            submit_run(c);
        return;
    case WB_SRV_FLUSH:
    case WB_SRV_CLOSE:
    default:
        c->closing = 1;
        set_reading(c, 0);
        if (flush_out(c) == 1)
            finish_close(c);
        return;
    }
}

static void job_done(conn *c)
{
    enum job j = c->job;
    c->job = JOB_NONE;
    if (j == JOB_FREE) {
        conn_free(c);
        return;
    }
    if (c->closing) { /* aborted while the job ran */
        wb_buf_clear(&c->s.out);
        finish_close(c);
        return;
    }
    if (j == JOB_LOGIN && c->s.state == WB_SRV_ST_READY) {
        event_free(c->timer); /* authentication_timeout is over */
        c->timer = NULL;
    }
    enum wb_srv_action a = c->result;
    if (c->terminate && a != WB_SRV_CLOSE && a != WB_SRV_FLUSH) {
        wb_srv_put_error(&c->s.out, "FATAL", "57P01", "terminating connection due to administrator command");
        a = WB_SRV_CLOSE;
    }
    take_notifications(c);
    if (a == WB_SRV_CLOSE) {
        c->closing = 1;
        if (flush_out(c) == 1)
            finish_close(c);
        return;
    }
    if (a == WB_SRV_FLUSH)
        c->run_after_flush = 1;
    if (flush_out(c) == 1) {
        if (j == JOB_LOGIN)
            wb_buf_free(&c->s.out); /* most sessions idle after login */
        after_drain(c);
    }
}

static void conn_free(conn *c)
{
    iothr *t = c->t;
    wb_server *srv = t->srv;
    assert(c->job == JOB_NONE && !c->s.es);
    reg_remove(srv, c);
    pthread_mutex_lock(&t->mu); /* drop pending mail */
    for (conn **p = &t->mail; *p; p = &(*p)->mail_next)
        if (*p == c) {
            *p = c->mail_next;
            break;
        }
    int stopping = t->stopping; /* written under mu by the main thread */
    pthread_mutex_unlock(&t->mu);
    if (c->rev)
        event_free(c->rev);
    if (c->wev)
        event_free(c->wev);
    if (c->timer)
        event_free(c->timer);
    if (c->io.ops)
        c->io.ops->close(&c->io);
    if (c->io.fd >= 0)
        close(c->io.fd);
    wb_srv_session_destroy(&c->s);
    pthread_mutex_lock(&srv->reg_mu);
    srv->nsessions--;
    wb_buf_free(&c->notify);
    pthread_mutex_unlock(&srv->reg_mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    t->nconns--;
    free(c);
    if (stopping && t->nconns == 0) {
        t->done = 1;
        event_base_loopbreak(t->base);
    }
}

/* --upstream: the authenticated connection becomes a proxy client on this
 * I/O thread; the conn shell is freed without closing the socket. */
static void proxy_handover(conn *c)
{
    wb_server *srv = c->t->srv;
    wb_proxy_login l;
    memset(&l, 0, sizeof l);
    wb_pg_reader_consume(&c->s.rd);
    l.io = c->io;
    wb_pg_io_plain(&c->io, -1);
    l.in = c->s.in;
    c->s.in = NULL;
    l.user = c->s.user;
    l.database = c->s.database;
    c->s.user = c->s.database = NULL;
    l.names = c->s.names;
    l.values = c->s.values;
    l.nparams = c->s.nparams;
    c->s.names = c->s.values = NULL;
    c->s.nparams = 0;
    l.pid = c->s.pid;
    l.key = c->s.key;
    l.tls = c->s.tls_active;
    l.local = c->local;
    memcpy(l.addr, c->addr, sizeof l.addr);
    l.port = c->port;
    int idx = (int)(c->t - srv->io);
    conn_free(c);
    wb_proxy_client_login(srv->cfg.proxy, idx, &l);
}

static void conn_start(iothr *t, conn *c)
{
    wb_server *srv = t->srv;
    c->rev = event_new(t->base, c->io.fd, EV_READ | EV_PERSIST, on_read, c);
    c->wev = event_new(t->base, c->io.fd, EV_WRITE | EV_PERSIST, on_write, c);
    c->timer = evtimer_new(t->base, on_timeout, c);
    c->next = t->conns;
    if (t->conns)
        t->conns->prev = c;
    t->conns = c;
    t->nconns++;
    if (!c->rev || !c->wev || !c->timer) {
        conn_abort(c);
        return;
    }
    struct timeval tv = {srv->cfg.auth_timeout_s, 0};
    evtimer_add(c->timer, &tv);
    set_reading(c, 1);
}

static void shutdown_conn(conn *c)
{
    c->terminate = 1;
    if (busy(c) || c->closing)
        return; /* finishes its in-flight statement first (job_done), or ended quietly and job_done saw terminate */
    if (c->s.state == WB_SRV_ST_READY) {
        wb_srv_put_error(&c->s.out, "FATAL", "57P01", "terminating connection due to administrator command");
    }
    c->closing = 1;
    set_reading(c, 0);
    if (flush_out(c) == 1)
        finish_close(c);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    iothr *t = arg;
    for (;;) {
        pthread_mutex_lock(&t->mu);
        conn *c = t->mail;
        unsigned m = 0;
        if (c) {
            t->mail = c->mail_next;
            m = c->mail;
            c->mail = 0;
        }
        int stopping = t->stopping;
        pthread_mutex_unlock(&t->mu);
        if (!c) {
            if (stopping == 1) {
                pthread_mutex_lock(&t->mu);
                t->stopping = 2;
                pthread_mutex_unlock(&t->mu);
                if (t->srv->cfg.proxy)
                    wb_proxy_thread_stop(t->srv->cfg.proxy, (int)(t - t->srv->io));
                for (conn *x = t->conns, *nx; x; x = nx) {
                    nx = x->next;
                    shutdown_conn(x);
                }
                if (t->nconns == 0) {
                    t->done = 1;
                    event_base_loopbreak(t->base);
                }
            }
            return;
        }
        if (m & MAIL_NEW) {
            conn_start(t, c);
            if (stopping)
                shutdown_conn(c);
            continue;
        }
        if (m & MAIL_DONE) {
            job_done(c); /* may free c */
            continue;
        }
        if ((m & MAIL_NOTIFY) && busy(c) < 0)
            continue; /* job_done took the notifications */
        if ((m & MAIL_NOTIFY) && c->job == JOB_NONE && !c->closing && c->s.state == WB_SRV_ST_READY &&
            c->out_off == 0 && c->s.out.len == 0 && !c->run_after_flush) {
            take_notifications(c);
            if (flush_out(c) == 1)
                set_reading(c, 1);
        }
    }
}

/* The driver of t's base: run the requests queued by this loop round
 * inline, one after the other (each sends its own answer). Returns 1 when
 * a helper took the base over meanwhile (this thread is no longer its
 * driver: what was left queued went to the worker pool). */
static int run_inline(iothr *t, int gen)
{
    pthread_mutex_lock(&t->mu);
    assert(!t->batch);
    t->batch = t->runq;
    pthread_mutex_unlock(&t->mu);
    t->runq = t->runq_tail = NULL;
    atomic_store(&t->inl_since, mono_us());
    atomic_store(&t->inl, gen * 4 + INL_RUN);
    for (;;) {
        pthread_mutex_lock(&t->mu);
        if (atomic_load(&t->inl) / 4 != gen) { /* taken over: the helper took the batch */
            pthread_mutex_unlock(&t->mu);
            return 1;
        }
        conn *c = t->batch;
        if (c)
            t->batch = c->job_next;
        pthread_mutex_unlock(&t->mu);
        if (!c)
            break;
        c->job_next = NULL;
        atomic_store(&t->inl_since, mono_us());
        atomic_store(&t->inl_conn, c);
        atomic_fetch_add(&t->inl_job, 1);
        run_job(t->srv, c, gen); /* from here on c is the job's as on a worker */
    }
    int want = gen * 4 + INL_RUN;
    return !atomic_compare_exchange_strong(&t->inl, &want, gen * 4 + INL_LOOP);
}

/* Drive t's base until shutdown or until a helper takes it over. */
static void io_loop(iothr *t)
{
    int gen = atomic_load(&t->inl) / 4;
    clockid_t ck;
    if (pthread_getcpuclockid(pthread_self(), &ck) == 0)
        atomic_store(&t->cpuclock, (int)ck);
    for (;;) {
        event_base_loop(t->base, EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY);
        if (t->done)
            return;
        if (t->runq && run_inline(t, gen))
            return;
    }
}

static void *io_main(void *arg)
{
    iothr *t = arg;
    if (t->srv->cfg.proxy)
        wb_proxy_thread_start(t->srv->cfg.proxy, (int)(t - t->srv->io), t->base);
    io_loop(t);
    return NULL;
}

/* A helper: if t's driver is still inside the same inline run, take the
 * base over (the old driver, when its job ends, hands what it had queued
 * to the worker pool and exits). */
static void *takeover_main(void *arg)
{
    iothr *t = arg;
    wb_server *srv = t->srv;
    int st = atomic_load(&t->inl);
    int won = st % 4 == INL_RUN && atomic_compare_exchange_strong(&t->inl, &st, (st / 4 + 1) * 4 + INL_LOOP);
    atomic_store(&t->takeover, 0);
    if (won) {
        pthread_mutex_lock(&t->mu);
        conn *q = t->batch;
        t->batch = NULL;
        pthread_mutex_unlock(&t->mu);
        while (q) {
            conn *c = q;
            q = c->job_next;
            c->job_next = NULL;
            submit_started(c);
        }
        io_loop(t);
    }
    pthread_mutex_lock(&srv->wmu);
    srv->helpers--;
    pthread_cond_broadcast(&srv->wdone);
    pthread_mutex_unlock(&srv->wmu);
    return NULL;
}

/* Main thread (pool_check): t's driver has run one inline job for longer
 * than INLINE_MAX_US. */
static void takeover_start(iothr *t)
{
    wb_server *srv = t->srv;
    if (atomic_exchange(&t->takeover, 1))
        return; /* one is starting */
    pthread_mutex_lock(&srv->wmu);
    srv->helpers++;
    pthread_mutex_unlock(&srv->wmu);
    int r = wb_thread_detached(takeover_main, t);
    if (r != 0) {
        pthread_mutex_lock(&srv->wmu);
        srv->helpers--;
        pthread_cond_broadcast(&srv->wdone);
        pthread_mutex_unlock(&srv->wmu);
        atomic_store(&t->takeover, 0);
    }
}

/* ---------------- listening ---------------- */

static int is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_UNIX)
        return 1;
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a))
            return 1;
        if (IN6_IS_ADDR_V4MAPPED(a))
            return a->s6_addr[12] == 127;
    }
    return 0;
}

static void on_accept(evutil_socket_t lfd, short what, void *arg)
{
    (void)what;
    wb_server *srv = arg;
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                logf_(srv, "accept failed: %s", strerror(errno));
            return;
        }
        if (srv->stopping) {
            close(fd);
            continue;
        }
        conn *c = calloc(1, sizeof *c);
        if (!c || wb_srv_session_init(&c->s, 0) != 0) {
            free(c);
            close(fd);
            continue;
        }
        if (ss.ss_family != AF_UNIX) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        c->local = is_loopback((struct sockaddr *)&ss);
        if (srv->cfg.proxy) {
            if (ss.ss_family == AF_UNIX)
                snprintf(c->addr, sizeof c->addr, "unix");
            else {
                char port[16];
                getnameinfo((struct sockaddr *)&ss, sl, c->addr, sizeof c->addr, port, sizeof port,
                            NI_NUMERICHOST | NI_NUMERICSERV);
                c->port = atoi(port);
            }
        }
        wb_pg_io_plain(&c->io, fd);
        c->s.auth = srv->cfg.auth >= 0 ? srv->cfg.auth : c->local ? WB_SRV_AUTH_TRUST : WB_SRV_AUTH_SCRAM;
        c->s.tls_available = srv->ssl != NULL;
        int proxied = srv->cfg.proxy ? wb_proxy_clients(srv->cfg.proxy) : 0;
        pthread_mutex_lock(&srv->reg_mu);
        c->s.pw = srv->reloaded ? &srv->reloaded->pw : &srv->pw;
        c->s.too_many = srv->nsessions + proxied >= srv->cfg.max_connections;
        srv->nsessions++;
        c->s.pid = srv->next_pid++;
        if (srv->next_pid <= 0)
            srv->next_pid = 1000;
        pthread_mutex_unlock(&srv->reg_mu);
        RAND_bytes((uint8_t *)&c->s.key, sizeof c->s.key);
        c->t = &srv->io[srv->next_io++ % srv->nio];
        post(c, MAIL_NEW);
    }
}

static int listen_fd(wb_server *srv, const struct sockaddr *sa, socklen_t sl, const char *what, char *err,
                     size_t errlen)
{
    if (srv->nl >= MAX_LISTEN) {
        snprintf(err, errlen, "too many listening addresses");
        return -1;
    }
    int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "could not create socket for %s: %s", what, strerror(errno));
        return -1;
    }
    int one = 1;
    if (sa->sa_family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (sa->sa_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, sa, sl) != 0 || listen(fd, 1024) != 0) {
        snprintf(err, errlen, "could not bind %s: %s%s", what, strerror(errno),
                 errno == EADDRINUSE ? " (is another server already running on this port?)" : "");
        close(fd);
        return -1;
    }
    srv->local_listener[srv->nl] = is_loopback(sa);
    srv->lfd[srv->nl++] = fd;
    return 0;
}

static int listen_tcp(wb_server *srv, char *err, size_t errlen)
{
    const char *addrs = srv->cfg.addresses ? srv->cfg.addresses : "localhost";
    char *copy = strdup(addrs), *save = NULL;
    if (!copy)
        return -1;
    int rc = 0;
    char port[16];
    snprintf(port, sizeof port, "%d", srv->cfg.port);
    for (char *h = strtok_r(copy, ", ", &save); h && rc == 0; h = strtok_r(NULL, ", ", &save)) {
        struct addrinfo hints = {0}, *res = NULL;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        int g = getaddrinfo(strcmp(h, "*") == 0 ? NULL : h, port, &hints, &res);
        if (g != 0) {
            snprintf(err, errlen, "could not resolve listen address \"%s\": %s", h, gai_strerror(g));
            rc = -1;
            break;
        }
        for (struct addrinfo *ai = res; ai && rc == 0; ai = ai->ai_next) {
            char host[NI_MAXHOST] = "?", what[NI_MAXHOST + 64];
            getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, NULL, 0, NI_NUMERICHOST);
            snprintf(what, sizeof what, "%s address \"%s\" port %d", ai->ai_family == AF_INET6 ? "IPv6" : "IPv4",
                     host, srv->cfg.port);
            if (!is_loopback(ai->ai_addr)) {
                if (srv->cfg.auth == WB_SRV_AUTH_TRUST) {
                    snprintf(err, errlen,
                             "refusing --auth trust on non-loopback %s: anyone who can reach it could log in as "
                             "any role (use --auth scram-sha-256 --passwords FILE)",
                             what);
                    rc = -1;
                    break;
                }
                if (srv->pw.n == 0) {
                    snprintf(err, errlen, "listening on non-loopback %s needs --passwords FILE", what);
                    rc = -1;
                    break;
                }
            }
            if (listen_fd(srv, ai->ai_addr, ai->ai_addrlen, what, err, errlen) != 0) {
                if (ai->ai_family == AF_INET6 && errno == EADDRNOTAVAIL)
                    continue; /* no IPv6 on this box */
                rc = -1;
            }
        }
        freeaddrinfo(res);
    }
    free(copy);
    return rc;
}

static int listen_unix(wb_server *srv, char *err, size_t errlen)
{
    struct sockaddr_un sa = {0};
    sa.sun_family = AF_UNIX;
    int n = snprintf(sa.sun_path, sizeof sa.sun_path, "%s/.s.PGSQL.%d", srv->cfg.socket_dir, srv->cfg.port);
    if (n < 0 || (size_t)n >= sizeof sa.sun_path) {
        snprintf(err, errlen, "Unix socket path \"%s/.s.PGSQL.%d\" is too long", srv->cfg.socket_dir, srv->cfg.port);
        return -1;
    }
    /* a live server there: refuse; a stale socket file: remove */
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
        close(probe);
        snprintf(err, errlen, "could not create Unix socket \"%s\": another server is listening on it", sa.sun_path);
        return -1;
    }
    if (probe >= 0)
        close(probe);
    unlink(sa.sun_path);
    char what[200];
    snprintf(what, sizeof what, "Unix socket \"%s\"", sa.sun_path);
    if (listen_fd(srv, (struct sockaddr *)&sa, sizeof sa, what, err, errlen) != 0)
        return -1;
    chmod(sa.sun_path, 0777);
    snprintf(srv->sockpath, sizeof srv->sockpath, "%s", sa.sun_path);
    return 0;
}

static int setup_tls(wb_server *srv, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        snprintf(err, errlen, "could not create TLS context");
        return -1;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_use_certificate_chain_file(ctx, srv->cfg.ssl_cert) != 1) {
        snprintf(err, errlen, "could not load server certificate file \"%s\": %s", srv->cfg.ssl_cert,
                 ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, srv->cfg.ssl_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        snprintf(err, errlen, "could not load private key file \"%s\": %s", srv->cfg.ssl_key,
                 ERR_reason_error_string(ERR_get_error()));
        SSL_CTX_free(ctx);
        return -1;
    }
    ERR_clear_error();
    srv->ssl = ctx;
    return 0;
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    wb_server *srv = arg;
    logf_(srv, "received %s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    wb_server_stop(srv);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(((wb_server *)arg)->base);
}

void wb_server_stop(wb_server *srv)
{
    event_base_once(srv->base, -1, EV_TIMEOUT, stop_cb, srv, NULL);
}

wb_server *wb_server_new(const wb_server_config *cfg, char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, (void (*)(void))evthread_use_pthreads);
    wb_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->cfg = *cfg;
    if (!srv->cfg.port)
        srv->cfg.port = 5432;
    if (!srv->cfg.socket_dir)
        srv->cfg.socket_dir = "/tmp";
    if (!srv->cfg.max_connections)
        srv->cfg.max_connections = 100;
    /* the pooling proxy relays on its I/O threads; one thread saves the
     * cross-thread hand-offs of server connections (a wake-up and moving
     * their events each): on the 2-core benchmark machine 1 thread used
     * 19-21 us of CPU per pgbench -S transaction, 2 threads 25-28 us, same
     * run (DEVELOPERS.md, proxy plumbing). --threads N for more cores. */
    if (!srv->cfg.threads)
        srv->cfg.threads = srv->cfg.proxy ? 1 : 2;
    if (!srv->cfg.auth_timeout_s)
        srv->cfg.auth_timeout_s = 60;
    srv->next_pid = 1000 + (int32_t)(getpid() % 1000) * 1000;
    for (int i = 0; i < MAX_LISTEN; i++)
        srv->lfd[i] = -1;
    pthread_mutex_init(&srv->wmu, NULL);
    pthread_cond_init(&srv->wcv, NULL);
    pthread_cond_init(&srv->wdone, NULL);
    pthread_mutex_init(&srv->reg_mu, NULL);
    srv->min_workers = srv->cfg.threads * 2;
    srv->max_workers = srv->cfg.max_connections + 4;

    if ((srv->cfg.auth == WB_SRV_AUTH_PASSWORD || srv->cfg.auth == WB_SRV_AUTH_MD5 ||
         srv->cfg.auth == WB_SRV_AUTH_SCRAM) &&
        !srv->cfg.passwords) {
        snprintf(err, errlen, "password authentication needs --passwords FILE (role:password lines)");
        goto fail;
    }
    if (srv->cfg.passwords && wb_srv_passwords_load(&srv->pw, srv->cfg.passwords, err, errlen) != 0)
        goto fail;
    if (!srv->cfg.ssl_cert != !srv->cfg.ssl_key) {
        snprintf(err, errlen, "--ssl-cert and --ssl-key go together");
        goto fail;
    }
    if (srv->cfg.ssl_cert && setup_tls(srv, err, errlen) != 0)
        goto fail;
    srv->base = event_base_new();
    if (!srv->base) {
        snprintf(err, errlen, "could not create the event loop");
        goto fail;
    }
    /* listen before opening the engine: a busy port leaves DATADIR alone */
    if (*srv->cfg.socket_dir && listen_unix(srv, err, errlen) != 0)
        goto fail;
    if (!(srv->cfg.addresses && !*srv->cfg.addresses) && listen_tcp(srv, err, errlen) != 0)
        goto fail;
    if (srv->nl == 0) {
        snprintf(err, errlen, "no listening sockets: give -h ADDRESSES or -k SOCKET_DIR");
        goto fail;
    }
    if (srv->cfg.proxy)
        return srv; /* --upstream: no engine */
    wb_engine_hooks hooks = {srv, hook_signal_backend, hook_notify, hook_waiting};
    wb_engine_error eerr = {{0}, {0}};
    srv->engine = wb_engine_open(srv->cfg.datadir, &hooks, &eerr);
    if (!srv->engine) {
        snprintf(err, errlen, "%s", eerr.message[0] ? eerr.message : "could not open the data directory");
        goto fail;
    }
    return srv;
fail:
    wb_server_free(srv);
    return NULL;
}

int wb_server_run(wb_server *srv)
{
    srv->nio = srv->cfg.threads;
    srv->io = calloc((size_t)srv->nio, sizeof *srv->io);
    int rc = 0;
    if (srv->cfg.proxy) {
        char err[256];
        if (wb_proxy_main_start(srv->cfg.proxy, srv, srv->base, srv->nio, srv->cfg.max_connections, err,
                                sizeof err) != 0) {
            fprintf(stderr, "wirebuf serve: %s\n", err);
            wb_server_stop(srv);
            rc = 1;
        }
    }
    for (int i = 0; i < srv->nio; i++) {
        iothr *t = &srv->io[i];
        t->srv = srv;
        pthread_mutex_init(&t->mu, NULL);
        t->base = event_base_new();
        t->wake = event_new(t->base, -1, EV_PERSIST, on_wake, t);
        event_add(t->wake, NULL);
        pthread_create(&t->th, NULL, io_main, t);
    }
    pthread_mutex_lock(&srv->wmu);
    for (int i = 0; i < srv->min_workers; i++)
        spawn_worker(srv);
    pthread_mutex_unlock(&srv->wmu);

    for (int i = 0; i < srv->nl; i++) {
        srv->lev[i] = event_new(srv->base, srv->lfd[i], EV_READ | EV_PERSIST, on_accept, srv);
        event_add(srv->lev[i], NULL);
    }
    signal(SIGPIPE, SIG_IGN);
    srv->sigterm = evsignal_new(srv->base, SIGTERM, on_signal, srv);
    srv->sigint = evsignal_new(srv->base, SIGINT, on_signal, srv);
    event_add(srv->sigterm, NULL);
    event_add(srv->sigint, NULL);
    srv->pool_timer = event_new(srv->base, -1, EV_PERSIST, pool_check, srv);
    struct timeval pt = {0, POOL_CHECK_MS * 1000};
    event_add(srv->pool_timer, &pt);
    if (srv->cfg.proxy)
        logf_(srv, "listening (%d sockets), pooling proxy", srv->nl);
    else
        logf_(srv, "listening (%d sockets), data directory \"%s\"", srv->nl, srv->cfg.datadir);
    event_base_dispatch(srv->base);

    /* shutdown: stop accepting, end every session, wait for the threads */
    srv->stopping = 1;
    for (int i = 0; i < srv->nl; i++) {
        event_free(srv->lev[i]);
        srv->lev[i] = NULL;
        close(srv->lfd[i]);
        srv->lfd[i] = -1;
    }
    if (srv->sockpath[0])
        unlink(srv->sockpath);
    for (int i = 0; i < srv->nio; i++) {
        iothr *t = &srv->io[i];
        pthread_mutex_lock(&t->mu);
        t->stopping = 1;
        pthread_mutex_unlock(&t->mu);
        event_active(t->wake, EV_READ, 0);
    }
    for (int i = 0; i < srv->nio; i++)
        pthread_join(srv->io[i].th, NULL);
    pthread_mutex_lock(&srv->wmu);
    while (srv->helpers > 0) /* I/O threads that took a base over */
        pthread_cond_wait(&srv->wdone, &srv->wmu);
    srv->wstop = 1;
    pthread_cond_broadcast(&srv->wcv);
    while (srv->nworkers > 0)
        pthread_cond_wait(&srv->wdone, &srv->wmu);
    pthread_mutex_unlock(&srv->wmu);
    if (srv->cfg.proxy) /* I/O threads and workers gone, the bases still allocated */
        wb_proxy_main_stop(srv->cfg.proxy);
    logf_(srv, "shut down");
    return rc;
}

void wb_server_free(wb_server *srv)
{
    if (!srv)
        return;
    for (int i = 0; i < srv->nio; i++) {
        event_free(srv->io[i].wake);
        event_base_free(srv->io[i].base);
        pthread_mutex_destroy(&srv->io[i].mu);
    }
    free(srv->io);
    for (int i = 0; i < srv->nl; i++) {
        if (srv->lev[i])
            event_free(srv->lev[i]);
        if (srv->lfd[i] >= 0)
            close(srv->lfd[i]);
    }
    if (srv->sockpath[0] && !srv->stopping)
        unlink(srv->sockpath);
    if (srv->sigterm)
        event_free(srv->sigterm);
    if (srv->sigint)
        event_free(srv->sigint);
    if (srv->pool_timer)
        event_free(srv->pool_timer);
    if (srv->base)
        event_base_free(srv->base);
    if (srv->engine)
        wb_engine_close(srv->engine);
    SSL_CTX_free(srv->ssl);
    wb_srv_passwords_free(&srv->pw);
    while (srv->reloaded) {
        pwset *ps = srv->reloaded;
        srv->reloaded = ps->prev;
        wb_srv_passwords_free(&ps->pw);
        free(ps);
    }
    pthread_mutex_destroy(&srv->wmu);
    pthread_cond_destroy(&srv->wcv);
    pthread_cond_destroy(&srv->wdone);
    pthread_mutex_destroy(&srv->reg_mu);
    free(srv);
}
