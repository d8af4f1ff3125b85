/* src/proxy/pool.c - pools per (database, user) and their server
 * connections: connecting upstream with the C client (wb_pg_connect on a
 * worker thread, then wb_pg_detach and the result posted to an I/O thread),
 * acquire/release with a FIFO wait queue, idle connections watched for the
 * upstream ending them, closing. Lock discipline: the top of proxy.c. */
#include "proxy_int.h"

#include <assert.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define READ_ROUND (256u * 1024u)

/* ---------------- pools ---------------- */

static char *kv_quote_append(char *s, const char *key, const char *val)
{
    size_t n = s ? strlen(s) : 0, vl = strlen(val);
    char *r = realloc(s, n + strlen(key) + 2 * vl + 8);
    if (!r) {
        free(s);
        return NULL;
    }
    char *w = r + n;
    if (n)
        *w++ = ' ';
    w += sprintf(w, "%s='", key);
    for (const char *v = val; *v; v++) {
        if (*v == '\'' || *v == '\\')
            *w++ = '\\';
        *w++ = *v;
    }
    *w++ = '\'';
    *w = 0;
    return r;
}

pool *wb_px_pool_get(wb_proxy *p, const char *db, const char *user)
{
    pthread_mutex_lock(&p->pools_mu);
    for (pool *pl = p->pools; pl; pl = pl->next)
        if (strcmp(pl->db, db) == 0 && strcmp(pl->user, user) == 0) {
            pthread_mutex_unlock(&p->pools_mu);
            return pl;
        }
    pool *pl = calloc(1, sizeof *pl);
    if (pl)
        pl->wq = calloc((size_t)p->nthreads, sizeof *pl->wq);
    char *ci = p->upstream_kv[0] ? strdup(p->upstream_kv) : NULL;
    if (pl && (ci || !p->upstream_kv[0])) {
        ci = kv_quote_append(ci, "dbname", db);
        if (ci)
            ci = kv_quote_append(ci, "user", user);
    }
    if (!pl || !pl->wq || !ci || !(pl->db = strdup(db)) || !(pl->user = strdup(user))) {
        pthread_mutex_unlock(&p->pools_mu);
        if (pl) {
            free(pl->db);
            free(pl->wq);
            free(pl);
        }
        free(ci);
        return NULL;
    }
    pl->conninfo = ci;
    pl->nthreads = p->nthreads;
    pthread_mutex_init(&pl->mu, NULL);
    pl->next = p->pools;
    p->pools = pl;
    pthread_mutex_unlock(&p->pools_mu);
    return pl;
}

wb_relay_startup *wb_px_pool_startup(pool *pl, wb_relay_startup *s)
{
    pthread_mutex_lock(&pl->mu);
    for (int i = 0; i < POOL_STARTUPS; i++)
        if (pl->startups[i] && wb_relay_startup_same(pl->startups[i], s)) {
            wb_relay_startup *shared = wb_relay_startup_ref(pl->startups[i]);
            pthread_mutex_unlock(&pl->mu);
            wb_relay_startup_unref(s);
            return shared;
        }
    /* a new set: kept in place of the oldest one (clients keep theirs) */
    wb_relay_startup *old = pl->startups[pl->startup_next];
    pl->startups[pl->startup_next] = wb_relay_startup_ref(s);
    pl->startup_next = (pl->startup_next + 1) % POOL_STARTUPS;
    pthread_mutex_unlock(&pl->mu);
    wb_relay_startup_unref(old);
    return s;
}

void wb_px_pool_free(pool *pl)
{
    for (int i = 0; i < POOL_STARTUPS; i++)
        wb_relay_startup_unref(pl->startups[i]);
    /* every connection was closed by the threads; what the connect tasks
     * left behind is freed by wb_proxy_free */
    for (size_t i = 0; i < 2 * pl->nparams; i++)
        free(pl->params[i]);
    free(pl->params);
    free(pl->db);
    free(pl->user);
    free(pl->conninfo);
    free(pl->wq);
    pthread_mutex_destroy(&pl->mu);
    free(pl);
}

/* ---------------- lists (pool->mu) ---------------- */

static void idle_push(pool *pl, sconn *sc)
{
    sc->iprev = NULL;
    sc->inext = pl->idle;
    if (pl->idle)
        pl->idle->iprev = sc;
    pl->idle = sc;
    pl->n_idle++;
}

static void all_push(pool *pl, sconn *sc)
{
    sc->aprev = NULL;
    sc->anext = pl->all;
    if (pl->all)
        pl->all->aprev = sc;
    pl->all = sc;
}

static void all_remove(pool *pl, sconn *sc)
{
    if (sc->aprev)
        sc->aprev->anext = sc->anext;
    else if (pl->all == sc)
        pl->all = sc->anext;
    if (sc->anext)
        sc->anext->aprev = sc->aprev;
    sc->anext = sc->aprev = NULL;
}

/* Wait queues: one FIFO per I/O thread, so a server connection released
 * on a thread goes to a waiter of the same thread (its socket's events stay
 * where they are: no wake-up of another thread, no epoll_ctl) unless a
 * waiter of another thread has waited WQ_AGE_US longer: fair within a
 * thread, and no thread's clients starve. */
#define WQ_AGE_US 1000

pclient *wb_px_wq_oldest(pool *pl)
{
    pclient *o = NULL;
    for (int i = 0; i < pl->nthreads; i++) {
        pclient *h = pl->wq[i].head;
        if (h && (!o || h->wait_start_us < o->wait_start_us))
            o = h;
    }
    return o;
}

void wb_px_wq_remove(pool *pl, pclient *c)
{
    struct wq *q = &pl->wq[c->t->idx];
    if (c->wprev)
        c->wprev->wnext = c->wnext;
    else
        q->head = c->wnext;
    if (c->wnext)
        c->wnext->wprev = c->wprev;
    else
        q->tail = c->wprev;
    c->wnext = c->wprev = NULL;
    pl->n_waiting--;
}

static pclient *wq_pop(pool *pl, const pthr *pref)
{
    pclient *c = pref ? pl->wq[pref->idx].head : NULL, *o = wb_px_wq_oldest(pl);
    if (!c || (o && o->wait_start_us + WQ_AGE_US < c->wait_start_us))
        c = o;
    if (c)
        wb_px_wq_remove(pl, c);
    return c;
}

/* hand sc to waiter c (pool->mu held): the client's thread takes it */
static void give_locked(pool *pl, sconn *sc, pclient *c, int64_t now, int post)
{
    atomic_fetch_add_explicit(&pl->wait_time_us, (uint64_t)(now - c->wait_start_us), memory_order_relaxed);
    c->assigned = sc;
    c->state = CL_ACTIVE;
    c->sv_pid = sc->h.pid;
    sc->client = c;
    atomic_store(&sc->holder_t, c->t->idx);
    atomic_store(&sc->state, SV_ACTIVE);
    pl->n_active++;
    if (post)
        wb_px_post_client(c, CM_SERVER);
}

/* another connection for the waiters? (pool->mu held) */
static sconn *maybe_connect_locked(wb_proxy *p, pool *pl, pthr *home)
{
    if (pl->paused || !pl->n_waiting || pl->n_total >= p->cfg.pool_size || pl->n_login >= pl->n_waiting)
        return NULL;
    sconn *sc = wb_px_sconn_new(pl, home);
    if (sc) {
        pl->n_total++;
        pl->n_login++;
    }
    return sc;
}

/* ---------------- server connections ---------------- */

sconn *wb_px_sconn_new(pool *pl, pthr *home)
{
    sconn *sc = calloc(1, sizeof *sc);
    if (!sc)
        return NULL;
    sc->pool = pl;
    sc->home = home;
    wb_pg_io_plain(&sc->h.io, -1);
    atomic_init(&sc->state, SV_LOGIN);
    return sc;
}

static void post_sconn(pthr *t, sconn *sc)
{
    pthread_mutex_lock(&t->mu);
    int stopped = t->stopped;
    if (!stopped) {
        sc->mail_next = t->smail;
        t->smail = sc;
    }
    pthread_mutex_unlock(&t->mu);
    if (stopped) { /* shutting down: nobody will use it */
        wb_px_sconn_discard_login(sc);
        return;
    }
    event_active(t->wake, EV_READ, 0);
}

/* worker thread: the blocking connect with the existing C client */
static void connect_task(wb_srv_task *task)
{
    sconn *sc = (sconn *)((char *)task - offsetof(sconn, task));
    wb_pg_error err;
    wb_pg_conn *pc = wb_pg_connect(sc->pool->conninfo, NULL, &err);
    if (pc && wb_pg_detach(pc, &sc->h, &err) == 0) {
        sc->rs = wb_relay_server_new(0);
        int bad = !sc->rs;
        for (size_t i = 0; !bad && i < sc->h.nparams; i++)
            bad = wb_relay_server_param(sc->rs, sc->h.params[2 * i], sc->h.params[2 * i + 1]) != 0;
        if (bad) {
            sc->failed = 1;
            snprintf(sc->sqlstate, sizeof sc->sqlstate, "53200");
            snprintf(sc->errmsg, sizeof sc->errmsg, "out of memory");
        }
        wb_pg_reader_init(&sc->rd, sc->h.in, WB_PG_FROM_BACKEND);
    } else {
        sc->failed = 1;
        snprintf(sc->sqlstate, sizeof sc->sqlstate, "%s", err.sqlstate[0] ? err.sqlstate : "08006");
        snprintf(sc->errmsg, sizeof sc->errmsg, "%.255s", err.message);
    }
    sc->connect_time_s = (int64_t)time(NULL);
    post_sconn(sc->home, sc);
}

void wb_px_connect_start(wb_proxy *p, sconn *sc)
{
    sc->task.fn = connect_task;
    wb_server_task(p->srv, &sc->task);
}

int wb_px_sconn_bind(sconn *sc, pthr *t)
{
    if (sc->t == t)
        return 0;
    if (sc->rev) /* another thread's events: event_free waits for a running callback */
        event_free(sc->rev);
    if (sc->wev)
        event_free(sc->wev);
    sc->rev = event_new(t->base, sc->h.io.fd, EV_READ | EV_PERSIST, wb_px_on_sconn_read, sc);
    sc->wev = event_new(t->base, sc->h.io.fd, EV_WRITE | EV_PERSIST, wb_px_on_sconn_write, sc);
    sc->t = t;
    sc->reading = 0;
    if (!sc->rev || !sc->wev)
        return -1;
    wb_px_sconn_set_reading(sc, 1);
    return 0;
}

void wb_px_sconn_set_reading(sconn *sc, int on)
{
    if (sc->reading == on || !sc->rev)
        return;
    sc->reading = on;
    if (on)
        event_add(sc->rev, NULL);
    else
        event_del(sc->rev);
}

void wb_px_sconn_close(sconn *sc, int terminate)
{
    pool *pl = sc->pool;
    int st = atomic_load(&sc->state);
    pthread_mutex_lock(&pl->mu);
    all_remove(pl, sc);
    pl->n_total--;
    if (st == SV_ACTIVE || st == SV_RESET)
        pl->n_active--;
    atomic_store(&sc->state, SV_CLOSED);
    wb_proxy *p = sc->home->p;
    sconn *more = maybe_connect_locked(p, pl, sc->t ? sc->t : sc->home);
    pthread_mutex_unlock(&pl->mu);
    if (sc->rev)
        event_free(sc->rev);
    if (sc->wev)
        event_free(sc->wev);
    if (terminate && sc->h.io.ops) {
        uint8_t x[5] = {'X', 0, 0, 0, 4};
        sc->h.io.ops->send(&sc->h.io, x, sizeof x);
    }
    wb_pg_handover_free(&sc->h);
    wb_relay_server_free(sc->rs);
    wb_buf_free(&sc->out);
    free(sc);
    if (more)
        wb_px_connect_start(p, more);
}

int wb_px_read_some(wb_pg_io *io, wb_stream *in, wb_pg_reader *rd)
{
    size_t total = 0;
    for (;;) {
        size_t room, avail;
        wb_pg_reader_consume(rd);
        wb_stream_peek(in, &avail);
        size_t min = rd->need > avail ? rd->need - avail : 0;
        if (min > READ_ROUND)
            min = READ_ROUND;
        uint8_t *b = wb_stream_reserve(in, min, &room);
        if (!b)
            return -1;
        ssize_t n = io->ops->recv(io, b, room);
        if (n == WB_STREAM_AGAIN)
            return 1;
        if (n == 0) {
            wb_stream_set_eof(in);
            return 0;
        }
        if (n < 0)
            return -1;
        wb_stream_commit(in, (size_t)n);
        total += (size_t)n;
        if ((size_t)n < room || total >= READ_ROUND)
            return 1;
    }
}

int wb_px_sconn_flush(sconn *sc)
{
    wb_buf *o = &sc->out;
    while (sc->out_off < o->len) {
        ssize_t n = sc->h.io.ops->send(&sc->h.io, o->p + sc->out_off, o->len - sc->out_off);
        if (n == WB_STREAM_AGAIN) {
            event_add(sc->wev, NULL);
            return 0;
        }
        if (n <= 0)
            return -1;
        sc->out_off += (size_t)n;
    }
    sc->out_off = 0;
    o->len = 0;
    if (o->cap > 65536)
        wb_buf_free(o);
    return 1;
}

/* ---------------- acquire / release ---------------- */

sconn *wb_px_acquire(pclient *c)
{
    pool *pl = c->pool;
    wb_proxy *p = c->t->p;
    sconn *sc = NULL, *fresh = NULL;
    int64_t now = wb_px_now_us();
    pthread_mutex_lock(&pl->mu);
    if (!pl->paused) {
        for (sconn *x = pl->idle; x; x = x->inext)
            if (x->t == c->t) { /* its events are on this thread already */
                sc = x;
                break;
            }
        if (!sc)
            sc = pl->idle;
    }
    if (sc) {
        wb_px_idle_remove(pl, sc);
        sc->client = c;
        atomic_store(&sc->holder_t, c->t->idx);
        atomic_store(&sc->state, SV_ACTIVE);
        pl->n_active++;
        c->state = CL_ACTIVE;
        c->sv_pid = sc->h.pid;
    } else {
        struct wq *q = &pl->wq[c->t->idx];
        c->wnext = NULL;
        c->wprev = q->tail;
        if (q->tail)
            q->tail->wnext = c;
        else
            q->head = c;
        q->tail = c;
        pl->n_waiting++;
        c->state = CL_WAITING;
        c->waiting = 1;
        c->wait_start_us = now;
        fresh = maybe_connect_locked(p, pl, c->t);
    }
    pthread_mutex_unlock(&pl->mu);
    if (fresh)
        wb_px_connect_start(p, fresh);
    if (sc && wb_px_sconn_bind(sc, c->t) != 0) {
        pthread_mutex_lock(&pl->mu);
        c->state = CL_IDLE;
        sc->client = NULL;
        pthread_mutex_unlock(&pl->mu);
        wb_px_sconn_close(sc, 1);
        return NULL;
    }
    return sc;
}

/* pool->mu held: sc (no holder) goes to the first waiter, or idle */
static void put_locked(pool *pl, sconn *sc, int64_t now)
{
    pclient *w = pl->paused ? NULL : wq_pop(pl, sc->t);
    if (w) {
        give_locked(pl, sc, w, now, 1);
        return;
    }
    sc->client = NULL;
    atomic_store(&sc->state, SV_IDLE);
    sc->idle_since_us = now;
    idle_push(pl, sc);
}

pclient *wb_px_release(pclient *c, sconn *sc, int direct)
{
    pool *pl = c->pool;
    int64_t now = wb_px_now_us();
    pclient *w = NULL;
    atomic_fetch_add_explicit(&pl->xact_time_us, (uint64_t)(now - c->hold_start_us), memory_order_relaxed);
    pthread_mutex_lock(&pl->mu);
    c->sc = NULL;
    c->state = CL_IDLE;
    c->sv_pid = 0;
    pl->n_active--;
    if (direct && !pl->paused && (w = wq_pop(pl, sc->t)) != NULL && w->t == c->t) {
        /* a waiter of this thread: the caller hands sc over itself (no
         * mail, no wake-up event, sc's events stay where they are) */
        give_locked(pl, sc, w, now, 0);
    } else if (w) {
        give_locked(pl, sc, w, now, 1);
        w = NULL;
    } else {
        put_locked(pl, sc, now);
    }
    pthread_mutex_unlock(&pl->mu);
    /* sc is no longer ours: another thread may be moving it already */
    return w;
}

void wb_px_sconn_put(sconn *sc, int was_active)
{
    pool *pl = sc->pool;
    pthread_mutex_lock(&pl->mu);
    if (was_active)
        pl->n_active--;
    put_locked(pl, sc, wb_px_now_us());
    pthread_mutex_unlock(&pl->mu);
}

void wb_px_pool_kick(wb_proxy *p, pool *pl)
{
    sconn *fresh[64];
    int nf = 0;
    int64_t now = wb_px_now_us();
    pthread_mutex_lock(&pl->mu);
    while (!pl->paused && pl->n_waiting && pl->idle) {
        sconn *sc = pl->idle;
        wb_px_idle_remove(pl, sc);
        pclient *w = wq_pop(pl, sc->t);
        give_locked(pl, sc, w, now, 1);
    }
    while (nf < 64) {
        pclient *o = wb_px_wq_oldest(pl);
        sconn *sc = maybe_connect_locked(p, pl, o ? o->t : &p->thr[0]);
        if (!sc)
            break;
        fresh[nf++] = sc;
    }
    pthread_mutex_unlock(&pl->mu);
    for (int i = 0; i < nf; i++)
        wb_px_connect_start(p, fresh[i]);
}

/* ---------------- connect results (I/O thread t) ---------------- */

static void fail_client_locked(pclient *c, const char *sqlstate, const char *msg)
{
    snprintf(c->fail_state, sizeof c->fail_state, "%s", sqlstate);
    free(c->fail_msg);
    c->fail_msg = strdup(msg);
    wb_px_post_client(c, CM_FAIL);
}

void wb_px_sconn_connected(pthr *t, sconn *sc)
{
    pool *pl = sc->pool;
    wb_proxy *p = t->p;
    if (sc->failed) {
        wb_px_log(p, "could not connect to the upstream for database \"%s\" user \"%s\": %s", pl->db, pl->user,
                  sc->errmsg);
        pthread_mutex_lock(&pl->mu);
        pl->n_total--;
        pl->n_login--;
        pl->retry_after_us = wb_px_now_us() + 1000000; /* no reconnect storm while the upstream is down */
        atomic_fetch_add_explicit(&pl->server_errors, 1, memory_order_relaxed);
        if (!pl->have_params) { /* nobody can log in to this pool yet */
            while (pl->login_wait) {
                pclient *c = pl->login_wait;
                pl->login_wait = c->wnext;
                c->wnext = c->wprev = NULL;
                fail_client_locked(c, sc->sqlstate, sc->errmsg);
            }
        }
        if (pl->n_total == 0) { /* nothing else will serve the waiters */
            while (pl->n_waiting) {
                pclient *c = wq_pop(pl, NULL);
                c->state = CL_IDLE;
                fail_client_locked(c, sc->sqlstate, sc->errmsg);
            }
        }
        pthread_mutex_unlock(&pl->mu);
        wb_pg_handover_free(&sc->h);
        wb_relay_server_free(sc->rs);
        free(sc);
        return;
    }
    if (wb_px_sconn_bind(sc, t) != 0) {
        pthread_mutex_lock(&pl->mu);
        pl->n_login--;
        all_push(pl, sc);
        pthread_mutex_unlock(&pl->mu);
        wb_px_sconn_close(sc, 1);
        return;
    }
    pthread_mutex_lock(&pl->mu);
    pl->n_login--;
    all_push(pl, sc);
    if (!pl->have_params) {
        pl->params = sc->h.params; /* the first connection's values */
        pl->nparams = sc->h.nparams;
        sc->h.params = NULL;
        sc->h.nparams = 0;
        pl->have_params = 1;
    }
    while (pl->login_wait) {
        pclient *c = pl->login_wait;
        pl->login_wait = c->wnext;
        c->wnext = c->wprev = NULL;
        wb_px_post_client(c, CM_LOGIN);
    }
    put_locked(pl, sc, wb_px_now_us());
    pthread_mutex_unlock(&pl->mu);
}

/* ---------------- server connection events ---------------- */

/* An unheld connection (idle, or resetting in session mode) on its own
 * thread: the reset's replies, notices, the upstream ending it. */
static void sconn_unheld_read(sconn *sc, int st)
{
    int r = wb_px_read_some(&sc->h.io, sc->h.in, &sc->rd);
    int broken = r < 0, released = 0;
    for (;;) {
        wb_pg_msg m;
        int g = wb_pg_reader_next(&sc->rd, &m);
        if (g == WB_PG_READ_AGAIN)
            break;
        if (g != WB_PG_READ_MSG) {
            broken = 1;
            break;
        }
        int a = wb_relay_server_idle_msg(sc->rs, m.type, m.body, m.len);
        if (a == WB_RELAY_S_RELEASE)
            released = 1;
        else if (a != WB_RELAY_S_OK) {
            broken = 1;
            break;
        }
    }
    if (r == 0)
        broken = 1; /* EOF */
    if (!broken && sc->out.len && wb_px_sconn_flush(sc) < 0)
        broken = 1;
    if (broken) {
        wb_px_sconn_close(sc, 0);
        return;
    }
    wb_pg_reader_consume(&sc->rd);
    size_t avail;
    wb_stream_peek(sc->h.in, &avail);
    if (avail == 0)
        wb_stream_shrink(sc->h.in, 0);
    if (st == SV_RESET && !released) {
        atomic_store(&sc->state, SV_RESET);
        return;
    }
    wb_px_sconn_put(sc, st == SV_RESET);
}

void wb_px_on_sconn_read(int fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sconn *sc = arg;
    pthr *t = sc->t;
    int st = atomic_load(&sc->state);
    if (st == SV_ACTIVE) {
        if (atomic_load(&sc->holder_t) != t->idx)
            return; /* handed to a client of another thread, which moves the events */
        pclient *c = sc->client; /* a client of this thread: only we free it */
        if (c && c->sc == sc)
            wb_px_sconn_active_read(sc, c);
        /* else: handed to a client that has not taken it yet (its thread
         * moves the events) */
        return;
    }
    if (st == SV_IDLE) {
        pool *pl = sc->pool;
        pthread_mutex_lock(&pl->mu);
        if (atomic_load(&sc->state) != SV_IDLE) {
            pthread_mutex_unlock(&pl->mu);
            return; /* taken meanwhile */
        }
        wb_px_idle_remove(pl, sc);
        atomic_store(&sc->state, SV_CHECK);
        pthread_mutex_unlock(&pl->mu);
        sconn_unheld_read(sc, SV_IDLE);
        return;
    }
    if (st == SV_RESET)
        sconn_unheld_read(sc, SV_RESET);
}

void wb_px_on_sconn_write(int fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    sconn *sc = arg;
    int st = atomic_load(&sc->state);
    if (st == SV_ACTIVE &&
        (atomic_load(&sc->holder_t) != sc->t->idx || !sc->client || sc->client->sc != sc))
        return;
    int r = wb_px_sconn_flush(sc);
    if (r == 0)
        return;
    event_del(sc->wev);
    if (st == SV_ACTIVE) {
        pclient *c = sc->client;
        if (r < 0) {
            wb_px_sconn_lost(sc, c);
            return;
        }
        /* drained: the client may be read again */
        if (!c->reading && !c->closing && c->state == CL_ACTIVE) {
            c->reading = 1;
            event_add(c->rev, NULL);
        }
        wb_px_post_client(c, CM_RUN);
    } else if (r < 0) {
        wb_px_sconn_close(sc, 0);
    }
}

void wb_px_sconn_discard_login(sconn *sc)
{
    pool *pl = sc->pool;
    pthread_mutex_lock(&pl->mu);
    pl->n_total--;
    pl->n_login--;
    pthread_mutex_unlock(&pl->mu);
    wb_pg_handover_free(&sc->h);
    wb_relay_server_free(sc->rs);
    free(sc);
}
