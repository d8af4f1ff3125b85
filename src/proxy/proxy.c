/* src/proxy/proxy.c - the pooling proxy's plumbing: clients on the server's
 * I/O threads, the relay hot path, mail between threads, login, cancel,
 * start and shutdown (proxy.h). Pools and server connections: pool.c;
 * console, metrics and the maintenance timer: admin.c.
 *
 * Hot path (issue 12 "Hot path"): a client's messages are framed in its
 * read buffer and handed to the relay (relay.h), which appends them to the
 * held server connection's write buffer; one send per batch. The server's
 * answers are framed in its read buffer and appended to the client's write
 * buffer; one send per batch. All of it on the I/O thread of the client,
 * which also drives the server connection's socket while holding it. The
 * pool mutex is taken only to acquire and release a server connection.
 *
 * Lock discipline (order: reg_mu -> pools_mu -> pool->mu -> t->mu; no lock
 * is held across I/O, a relay call, or event_free of an event):
 *  - p->reg_mu: the client registry (pid -> client) for CancelRequest and
 *    the console; a client's immutable fields (names, pid, key, address)
 *    may be read under it.
 *  - p->pools_mu: the list of pools (it only grows until wb_proxy_free).
 *  - pool->mu: one pool's counters, idle list, list of every server
 *    connection, wait queue and login waiters; the hand-off fields
 *    client->state / assigned / sv_pid and sconn->client. sconn->state is
 *    atomic: written under pool->mu (or by the only thread that can reach
 *    the connection), read without it by the event callback of the thread
 *    holding the connection's events.
 *  - t->mu: an I/O thread's mailbox (client mail bits, connect results) and
 *    its stopped flag.
 * Threads: a client lives on one I/O thread. A server connection's events
 * are on the base of the thread that drives it (sconn->t): the thread of
 * the client holding it, or, while idle, of the last one. A thread taking
 * a connection bound elsewhere moves its events (wb_px_sconn_bind):
 * event_free waits for the other thread's callback on that event to end,
 * so two threads never run the connection at once. Callbacks of server
 * connections never move events of other threads (a client that can go on
 * after a release is posted CM_RUN instead), so such waits cannot form a
 * cycle. A released server connection whose next client (the waiter
 * wb_px_release picks) lives on the same thread is handed over at the end
 * of the releasing callback (take_server: nothing to move, no mail). The blocking upstream connect runs on the server's workers
 * (wb_server_task) and its result is posted to an I/O thread.
 */
#include "proxy_int.h"
#include "sql.h"

#include <arpa/inet.h>
#include <assert.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

int64_t wb_px_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void wb_px_log(wb_proxy *p, const char *fmt, ...)
{
    if (p->cfg.quiet)
        return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "wirebuf serve: %s\n", buf);
}

static void put_error(wb_buf *b, const char *severity, const char *sqlstate, const char *msg)
{
    wb_pg_fields f = {0};
    f.severity = f.severity_nonlocal = severity;
    f.sqlstate = sqlstate;
    f.message = msg;
    wb_pg_put_fields(b, 'E', &f);
}

/* ---------------- mail ---------------- */

void wb_px_post_client(pclient *c, unsigned what)
{
    pthr *t = c->t;
    pthread_mutex_lock(&t->mu);
    if (!c->in_mail) {
        c->in_mail = 1;
        c->mail_next = t->cmail;
        t->cmail = c;
    }
    c->mail |= what;
    pthread_mutex_unlock(&t->mu);
    event_active(t->wake, EV_READ, 0);
}

/* ---------------- clients ---------------- */

static void client_run(pclient *c);
static void take_server(pclient *c);
static void client_close(pclient *c);
static void on_client_write(evutil_socket_t fd, short what, void *arg);

static void client_set_reading(pclient *c, int on)
{
    if (c->reading == on || !c->rev)
        return;
    c->reading = on;
    if (on)
        event_add(c->rev, NULL);
    else
        event_del(c->rev);
}

void wb_px_client_flush(pclient *c)
{
    wb_buf *o = &c->out;
    wb_pg_io io;
    if (c->out_off < o->len)
        wb_px_cio(c, &io);
    while (c->out_off < o->len) {
        ssize_t n = io.ops->send(&io, o->p + c->out_off, o->len - c->out_off);
        if (n == WB_STREAM_AGAIN) {
            if (!c->wanted_write) {
                /* the write event exists only while a client's answers
                 * wait for POLLOUT (an idle client has none) */
                if (!c->wev)
                    c->wev = event_new(c->t->base, c->fd, EV_WRITE | EV_PERSIST, on_client_write, c);
                if (!c->wev) { /* out of memory: the client cannot be served */
                    c->out_off = 0;
                    o->len = 0;
                    c->closing = 1;
                    return;
                }
                c->wanted_write = 1;
                event_add(c->wev, NULL);
            }
            c->out_blocked = 1;
            if (c->sc) /* backpressure: the server's answers wait upstream */
                wb_px_sconn_set_reading(c->sc, 0);
            return;
        }
        if (n <= 0) { /* the client is gone */
            c->out_off = 0;
            o->len = 0;
            c->closing = 1;
            return;
        }
        c->out_off += (size_t)n;
        c->b_out += (uint64_t)n;
    }
    c->out_off = 0;
    o->len = 0;
    c->out_blocked = 0;
    if (o->cap > 65536)
        wb_buf_free(o);
}

void wb_px_client_addr(const pclient *c, char *out, size_t n)
{
    if (!c->addr_family || !inet_ntop(c->addr_family == 4 ? AF_INET : AF_INET6, c->addr, out, (socklen_t)n))
        snprintf(out, n, "unix");
}

static void client_set_addr(pclient *c, const char *a)
{
    char text[64];
    snprintf(text, sizeof text, "%s", a);
    char *scope = strchr(text, '%'); /* fe80::1%eth0: the address without its zone */
    if (scope)
        *scope = 0;
    if (inet_pton(AF_INET, text, c->addr) == 1)
        c->addr_family = 4;
    else if (inet_pton(AF_INET6, text, c->addr) == 1)
        c->addr_family = 6;
    else
        c->addr_family = 0; /* "unix" */
}

/* c has bytes to read: its read stream and reader (and a write buffer)
 * from the thread's cache, else new. 0 or -1 (out of memory). */
static int client_io_get(pclient *c)
{
    pthr *t = c->t;
    if (!c->out.p && t->noutc)
        c->out = t->outc[--t->noutc];
    if (t->nioc) {
        t->nioc--;
        c->in = t->ioc[t->nioc].in;
        c->rd = t->ioc[t->nioc].rd;
    } else {
        c->in = wb_stream_new_push(0);
        c->rd = malloc(sizeof *c->rd);
        if (!c->in || !c->rd)
            return -1;
    }
    wb_pg_reader_init(c->rd, c->in, WB_PG_FROM_FRONTEND);
    return 0;
}

/* c is idle (logged in, no server held, not waiting): the read stream with
 * its reader and the write buffer go back to the thread's cache when empty
 * (or are freed), the relay gives back its request state. An idle client
 * costs its structs and its read event (DEVELOPERS.md, memory). */
static void client_idle(pclient *c)
{
    pthr *t = c->t;
    if (c->in) {
        wb_pg_reader_consume(c->rd);
        size_t avail;
        wb_stream_peek(c->in, &avail);
        if (avail == 0 && !wb_stream_ended(c->in) && !wb_stream_error(c->in)) {
            if (t->nioc < IO_CACHE) {
                if (wb_stream_capacity(c->in) > WB_STREAM_DEFAULT_PUSH)
                    wb_stream_shrink(c->in, WB_STREAM_DEFAULT_PUSH);
                t->ioc[t->nioc].in = c->in;
                t->ioc[t->nioc].rd = c->rd;
                t->nioc++;
            } else {
                wb_stream_close(c->in);
                free(c->rd);
            }
            c->in = NULL;
            c->rd = NULL;
        }
    }
    if (c->out.len == 0 && c->out.p) {
        c->out_off = 0;
        if (t->noutc < IO_CACHE && c->out.cap <= 65536)
            t->outc[t->noutc++] = c->out;
        else
            wb_buf_free(&c->out);
        memset(&c->out, 0, sizeof c->out);
    }
    if (c->rc)
        wb_relay_client_trim(c->rc);
}

static void client_free(pclient *c)
{
    wb_proxy *p = c->t->p;
    pthr *t = c->t;
    pthread_mutex_lock(&p->reg_mu);
    for (pclient **q = &p->reg[(uint32_t)c->pid % REG_BUCKETS]; *q; q = &(*q)->reg_next)
        if (*q == c) {
            *q = c->reg_next;
            break;
        }
    pthread_mutex_unlock(&p->reg_mu);
    pthread_mutex_lock(&t->mu);
    if (c->in_mail)
        for (pclient **q = &t->cmail; *q; q = &(*q)->mail_next)
            if (*q == c) {
                *q = c->mail_next;
                break;
            }
    pthread_mutex_unlock(&t->mu);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->clients = c->next;
    if (c->next)
        c->next->prev = c->prev;
    t->nclients--;
    if (c->rev)
        event_free(c->rev);
    if (c->wev)
        event_free(c->wev);
    if (c->ptimer)
        event_free(c->ptimer);
    if (c->io_ops && c->ssl) {
        wb_pg_io io;
        c->io_ops->close(wb_px_cio(c, &io));
    }
    if (c->fd >= 0)
        close(c->fd);
    wb_stream_close(c->in);
    free(c->rd);
    wb_buf_free(&c->out);
    wb_relay_client_free(c->rc);
    wb_relay_startup_unref(c->startup);
    if (!c->names_pooled) {
        free(c->database);
        free(c->user);
    }
    free(c->fail_msg);
    free(c->pause_db);
    free(c);
    atomic_fetch_sub(&p->nclients, 1);
}

static void flush_stats(pclient *c)
{
    pool *pl = c->pool;
    if (!pl)
        return;
    if (c->n_q)
        atomic_fetch_add_explicit(&pl->query_count, c->n_q, memory_order_relaxed);
    if (c->b_in)
        atomic_fetch_add_explicit(&pl->bytes_received, c->b_in, memory_order_relaxed);
    if (c->b_out)
        atomic_fetch_add_explicit(&pl->bytes_sent, c->b_out, memory_order_relaxed);
    c->n_q = c->b_in = c->b_out = 0;
}

/* c lets go of the server it holds (it is leaving or failed) */
static void client_drop_server(pclient *c)
{
    sconn *sc = c->sc;
    if (!sc)
        return;
    wb_relay_detach(c->rc);
    pool *pl = c->pool;
    int clean = wb_relay_server_clean(sc->rs) && sc->out.len == 0;
    if (clean && c->t->p->cfg.pool_mode != WB_POOL_SESSION) {
        wb_px_release(c, sc, 0);
        return;
    }
    pthread_mutex_lock(&pl->mu);
    c->sc = NULL;
    c->state = CL_IDLE;
    c->sv_pid = 0;
    sc->client = NULL;
    if (clean)
        atomic_store(&sc->state, SV_RESET); /* still counted active until the reset ends */
    pthread_mutex_unlock(&pl->mu);
    if (!clean) {
        wb_px_sconn_close(sc, 1);
        return;
    }
    /* session mode: DISCARD ALL before anyone else gets it */
    if (wb_relay_server_reset(sc->rs, &sc->out) != 0 || wb_px_sconn_flush(sc) < 0) {
        wb_px_sconn_close(sc, 1);
        return;
    }
    wb_px_sconn_set_reading(sc, 1);
}

/* End client c: leave the pool, give the server back, send what is
 * buffered (best effort), free. */
static void client_close(pclient *c)
{
    pool *pl = c->pool;
    sconn *as = NULL;
    if (pl) {
        pthread_mutex_lock(&pl->mu);
        if (c->state == CL_WAITING)
            wb_px_wq_remove(pl, c);
        else if (c->state == CL_LOGIN) {
            for (pclient **q = &pl->login_wait; *q; q = &(*q)->wnext)
                if (*q == c) {
                    *q = c->wnext;
                    break;
                }
        }
        c->wnext = c->wprev = NULL;
        as = c->assigned; /* handed over, mail not read yet */
        c->assigned = NULL;
        if (as)
            as->client = NULL;
        if (c->state != CL_ACTIVE || as)
            c->state = CL_IDLE;
        pl->n_clients--;
        pthread_mutex_unlock(&pl->mu);
        if (as)
            wb_px_sconn_put(as, 1);
    }
    client_drop_server(c);
    flush_stats(c);
    c->closing = 1;
    if (c->out.len > c->out_off) { /* one last try; a slow peer loses it */
        wb_pg_io io;
        ssize_t n = c->io_ops->send(wb_px_cio(c, &io), c->out.p + c->out_off, c->out.len - c->out_off);
        (void)n;
    }
    client_free(c);
}

static void client_fatal(pclient *c, const char *sqlstate, const char *msg)
{
    put_error(&c->out, "FATAL", sqlstate, msg);
    client_close(c);
}

/* The server c holds failed under it. */
void wb_px_sconn_lost(sconn *sc, pclient *c)
{
    char msg[300];
    snprintf(msg, sizeof msg, "server connection to the upstream (backend %d) was lost", (int)sc->h.pid);
    wb_relay_server_lost(c->rc, "08006", msg, &c->out);
    wb_relay_detach(c->rc);
    pthread_mutex_lock(&c->pool->mu);
    c->sc = NULL;
    c->state = CL_IDLE;
    c->sv_pid = 0;
    sc->client = NULL;
    pthread_mutex_unlock(&c->pool->mu);
    wb_px_sconn_close(sc, 0);
    client_close(c);
}

static int client_attach(pclient *c, sconn *sc)
{
    c->sc = sc;
    c->hold_start_us = wb_px_now_us();
    if (wb_relay_attach(c->rc, sc->rs, &sc->out) != 0)
        return -1;
    if (c->out_blocked)
        wb_px_sconn_set_reading(sc, 0);
    else
        wb_px_sconn_set_reading(sc, 1);
    return 0;
}

/* Process c's buffered messages until it waits. */
static void client_run(pclient *c)
{
    pthr *t = c->t;
    for (;;) {
        if (c->closing) {
            client_close(c);
            return;
        }
        if (c->waiting || !c->logged_in || c->pause_pending)
            break;
        if (c->sc && c->sc->out.len >= 256 * 1024) { /* let the server catch up */
            int r = wb_px_sconn_flush(c->sc);
            if (r < 0) {
                wb_px_sconn_lost(c->sc, c);
                return;
            }
            if (r == 0) {
                client_set_reading(c, 0); /* on_sconn_write resumes */
                break;
            }
        }
        if (!c->in)
            break; /* idle: nothing buffered */
        wb_pg_msg m;
        int g = wb_pg_reader_next(c->rd, &m);
        if (g == WB_PG_READ_AGAIN)
            break;
        if (g == WB_PG_READ_EOF) {
            client_close(c);
            return;
        }
        if (g == WB_PG_READ_ERROR) {
            client_fatal(c, "08P01", c->rd->err[0] ? c->rd->err : "invalid frontend message");
            return;
        }
        c->b_in += 5 + (uint64_t)m.len;
        if (!c->pool) { /* console */
            if (wb_px_console_msg(c, &m))
                break;
            continue;
        }
        if (m.type == 'Q' || m.type == 'E')
            c->n_q++;
        if (!c->rc) { /* its first request: the relay's state is made now */
            c->rc = wb_relay_client_new_shared(c->t->p->cfg.pool_mode, c->startup);
            if (!c->rc) {
                client_fatal(c, "53200", "out of memory");
                return;
            }
        }
        int a;
        for (int tries = 0;; tries++) {
            wb_buf *ts = c->sc ? &c->sc->out : &t->scratch;
            a = wb_relay_from_client(c->rc, m.type, m.body, m.len, ts, &c->out);
            if (!c->sc && t->scratch.len) { /* the relay wrote to a server it does not have */
                assert(!"relay wrote to_server without a server");
                t->scratch.len = 0;
                a = WB_RELAY_NOMEM;
            }
            if (a != WB_RELAY_NEED_SERVER || tries > 0 || c->sc)
                break;
            sconn *sc = wb_px_acquire(c);
            if (!sc) {
                if (c->waiting) {
                    /* the message stays in the read buffer until a server comes */
                    c->rd->consume = 0;
                    c->rd->messages--;
                    goto out; /* reading stays armed: no epoll_ctl per wait */
                }
                client_fatal(c, "53200", "out of memory while acquiring a server connection");
                return;
            }
            if (!c->req_start_us)
                c->req_start_us = wb_px_now_us();
            if (client_attach(c, sc) != 0) {
                client_fatal(c, "53200", "out of memory");
                return;
            }
        }
        if (a == WB_RELAY_NEED_SERVER) {
            client_fatal(c, "XX000", "the relay asked for a second server connection");
            return;
        }
        if (a == WB_RELAY_CLOSE || a == WB_RELAY_NOMEM) {
            c->closing = 1;
            continue;
        }
        if (c->sc && !c->req_start_us)
            c->req_start_us = wb_px_now_us();
    }
out:
    if (c->sc && c->sc->out.len) {
        int r = wb_px_sconn_flush(c->sc);
        if (r < 0) {
            wb_px_sconn_lost(c->sc, c);
            return;
        }
        if (r == 0)
            client_set_reading(c, 0);
    }
    wb_px_client_flush(c);
    if (c->closing) {
        client_close(c);
        return;
    }
    if (!c->sc && !c->waiting && c->logged_in)
        client_idle(c);
}

/* the server c holds has answered: relay, maybe release */
void wb_px_sconn_active_read(sconn *sc, pclient *c)
{
    int r = wb_px_read_some(&sc->h.io, sc->h.in, &sc->rd);
    int lost = r <= 0, release = 0, broken = 0, saw_z = 0;
    for (;;) {
        wb_pg_msg m;
        int g = wb_pg_reader_next(&sc->rd, &m);
        if (g == WB_PG_READ_AGAIN)
            break;
        if (g != WB_PG_READ_MSG) {
            lost = 1;
            break;
        }
        if (m.type == 'Z')
            saw_z = 1;
        int a = wb_relay_from_server(c->rc, m.type, m.body, m.len, &c->out, &sc->out);
        if (a == WB_RELAY_S_OK)
            continue;
        if (a == WB_RELAY_S_RELEASE) {
            release = 1;
            lost = 0; /* an EOF after the answer ends only the server connection */
            if (r <= 0)
                broken = 1;
            break;
        }
        broken = 1;
        break;
    }
    if (!broken && !lost && sc->out.len && wb_px_sconn_flush(sc) < 0)
        lost = 1;
    if (saw_z && c->req_start_us) {
        int64_t now = wb_px_now_us();
        atomic_fetch_add_explicit(&c->pool->query_time_us, (uint64_t)(now - c->req_start_us), memory_order_relaxed);
        c->req_start_us = 0;
        if (wb_relay_client_txn_status(c->rc) == 'I')
            atomic_fetch_add_explicit(&c->pool->xact_count, 1, memory_order_relaxed);
        flush_stats(c);
    }
    if (lost && !release && !broken) {
        wb_px_sconn_lost(sc, c);
        return;
    }
    pclient *next = NULL; /* a waiter of this thread given sc: run below */
    if (release && !broken) {
        wb_relay_detach(c->rc);
        next = wb_px_release(c, sc, 1); /* sc is no longer ours from here */
    } else if (broken) { /* the relay forwarded the server's FATAL (57P01...) */
        wb_relay_detach(c->rc);
        pthread_mutex_lock(&c->pool->mu);
        c->sc = NULL;
        c->state = CL_IDLE;
        c->sv_pid = 0;
        sc->client = NULL;
        pthread_mutex_unlock(&c->pool->mu);
        wb_px_sconn_close(sc, 0);
        if (!release) {
            wb_px_client_flush(c);
            client_close(c);
            return;
        }
    }
    wb_px_client_flush(c);
    if (c->closing)
        client_close(c);
    else if (release && c->rd && wb_pg_reader_has_message(c->rd))
        wb_px_post_client(c, CM_RUN); /* not from here: see the lock discipline */
    else if (release && !c->sc && !c->waiting)
        client_idle(c); /* its buffers wait in the thread's cache meanwhile */
    if (next) /* same thread, sc's events here already: nothing is moved */
        take_server(next);
}

static void on_client_read(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pclient *c = arg;
    if (!c->in && client_io_get(c) != 0) { /* an idle client speaks again */
        client_fatal(c, "53200", "out of memory");
        return;
    }
    wb_pg_io io;
    int r = wb_px_read_some(wb_px_cio(c, &io), c->in, c->rd);
    if (r < 0) {
        c->closing = 1;
        client_close(c);
        return;
    }
    if (r == 0) {
        if (c->waiting) { /* gone while queued */
            client_close(c);
            return;
        }
        client_set_reading(c, 0); /* EOF: the reader reports it after the buffered messages */
    }
    client_run(c);
}

static void on_client_write(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pclient *c = arg;
    wb_px_client_flush(c);
    if (c->closing) {
        client_close(c);
        return;
    }
    if (c->out_blocked)
        return;
    event_free(c->wev); /* made again when the next answer would block */
    c->wev = NULL;
    c->wanted_write = 0;
    if (c->sc) {
        wb_px_sconn_set_reading(c->sc, 1);
        event_active(c->sc->rev, EV_READ, 0); /* answers may be buffered already */
    }
    client_run(c);
}

/* ---------------- login ---------------- */

/* AuthenticationOk, the pool's ParameterStatus values (the client's own
 * where it set them), BackendKeyData of the proxy, ReadyForQuery. */
static void login_ok(pclient *c)
{
    pool *pl = c->pool;
    wb_pg_put_auth(&c->out, WB_PG_AUTH_OK, NULL, 0);
    for (size_t i = 0; i < pl->nparams; i++) {
        const char *name = pl->params[2 * i], *v = wb_relay_startup_get(c->startup, name);
        wb_pg_put_parameter_status(&c->out, name, v ? v : pl->params[2 * i + 1]);
    }
    wb_pg_put_backend_key_data(&c->out, c->pid, c->key);
    wb_pg_put_ready_for_query(&c->out, 'I');
    pthread_mutex_lock(&pl->mu);
    c->state = CL_IDLE;
    pthread_mutex_unlock(&pl->mu);
    c->logged_in = 1;
    client_set_reading(c, 1);
    client_run(c);
}

void wb_proxy_client_login(wb_proxy *p, int i, wb_proxy_login *l)
{
    pthr *t = &p->thr[i];
    pclient *c = calloc(1, sizeof *c);
    if (!c) {
        wb_pg_handover h = {0};
        h.io = l->io;
        h.in = l->in;
        wb_pg_handover_free(&h);
        free(l->user);
        free(l->database);
        for (int k = 0; k < l->nparams; k++) {
            free(l->names[k]);
            free(l->values[k]);
        }
        free(l->names);
        free(l->values);
        memset(l, 0, sizeof *l);
        return;
    }
    atomic_fetch_add(&p->nclients, 1);
    c->t = t;
    c->io_ops = l->io.ops;
    c->fd = l->io.fd;
    c->ssl = l->io.ssl;
    c->in = l->in;
    c->rd = malloc(sizeof *c->rd);
    if (c->rd)
        wb_pg_reader_init(c->rd, c->in, WB_PG_FROM_FRONTEND);
    client_set_addr(c, l->addr);
    c->port = (uint16_t)l->port;
    /* the start-up parameters, parsed once (a pool client's become the
     * pool's shared set below) */
    c->startup = wb_relay_startup_new((const char *const *)l->names, (const char *const *)l->values, l->nparams);
    for (int k = 0; k < l->nparams; k++) {
        free(l->names[k]);
        free(l->values[k]);
    }
    free(l->names);
    free(l->values);
    c->pid = l->pid;
    c->key = l->key;
    c->connect_time_s = (int64_t)time(NULL);
    c->state = CL_LOGIN;
    const char *app = c->startup ? wb_relay_startup_get(c->startup, "application_name") : NULL;
    c->appname = app && *app ? app : NULL;
    int local = l->local;
    int long_names = l->database && l->user && (strlen(l->database) >= 64 || strlen(l->user) >= 64);
    char *db = l->database, *user = l->user;
    c->database = db;
    c->user = user;
    memset(l, 0, sizeof *l);
    /* the thread's list, the registry */
    c->next = t->clients;
    if (t->clients)
        t->clients->prev = c;
    t->clients = c;
    t->nclients++;
    pthread_mutex_lock(&p->reg_mu);
    pclient **b = &p->reg[(uint32_t)c->pid % REG_BUCKETS];
    c->reg_next = *b;
    *b = c;
    pthread_mutex_unlock(&p->reg_mu);
    c->rev = event_new(t->base, c->fd, EV_READ | EV_PERSIST, on_client_read, c);
    if (!c->rev || !c->rd || !db || !user || !c->startup) {
        client_fatal(c, "53200", "out of memory");
        return;
    }
    if (long_names) {
        client_fatal(c, "42602", "database and user names are limited to 63 bytes");
        return;
    }
    if (strcmp(db, "wirebuf") == 0) { /* the admin console */
        if (!local) { /* it can PAUSE and SHUTDOWN the proxy */
            client_fatal(c, "28000", "the console database \"wirebuf\" is only available on the Unix socket and loopback");
            return;
        }
        c->state = CL_IDLE;
        c->logged_in = 1;
        wb_px_console_login(c);
        client_set_reading(c, 1);
        client_run(c);
        return;
    }
    pool *pl = wb_px_pool_get(p, db, user);
    if (!pl) {
        client_fatal(c, "53200", "out of memory");
        return;
    }
    /* the pool's start-up set equal to the client's (one per distinct set,
     * not one per client); the relay's state is made at the first request */
    wb_relay_startup *own = c->startup;
    wb_relay_startup *shared = wb_px_pool_startup(pl, wb_relay_startup_ref(own));
    /* the names become the pool's (it lives until wb_proxy_free): two
     * allocations less per client; the console reads them under reg_mu */
    pthread_mutex_lock(&p->reg_mu); /* wb_proxy_cancel reads it under reg_mu */
    c->pool = pl;
    c->database = pl->db;
    c->user = pl->user;
    c->names_pooled = 1;
    c->startup = shared;
    app = wb_relay_startup_get(shared, "application_name");
    c->appname = app && *app ? app : NULL;
    pthread_mutex_unlock(&p->reg_mu);
    wb_relay_startup_unref(own);
    free(db);
    free(user);
    sconn *fresh = NULL;
    pthread_mutex_lock(&pl->mu);
    pl->n_clients++;
    int ready = pl->have_params;
    if (!ready) {
        c->wnext = pl->login_wait;
        pl->login_wait = c;
        if (pl->n_login == 0 && pl->n_total < p->cfg.pool_size) {
            fresh = wb_px_sconn_new(pl, t);
            if (fresh) {
                pl->n_total++;
                pl->n_login++;
            }
        }
    }
    pthread_mutex_unlock(&pl->mu);
    if (fresh)
        wb_px_connect_start(p, fresh);
    if (ready)
        login_ok(c);
    /* else CM_LOGIN or CM_FAIL comes */
}

/* ---------------- the thread's mail ---------------- */

static void take_server(pclient *c)
{
    pool *pl = c->pool;
    pthread_mutex_lock(&pl->mu);
    sconn *sc = c->assigned;
    c->assigned = NULL;
    pthread_mutex_unlock(&pl->mu);
    if (!sc)
        return;
    c->waiting = 0;
    if (wb_px_sconn_bind(sc, c->t) != 0 || client_attach(c, sc) != 0) {
        wb_relay_detach(c->rc);
        pthread_mutex_lock(&pl->mu);
        c->sc = NULL;
        c->state = CL_IDLE;
        sc->client = NULL;
        pthread_mutex_unlock(&pl->mu);
        wb_px_sconn_close(sc, 1);
        client_fatal(c, "53200", "out of memory");
        return;
    }
    client_set_reading(c, 1);
    client_run(c);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pthr *t = arg;
    pthread_mutex_lock(&t->mu);
    sconn *sl = t->smail;
    t->smail = NULL;
    pthread_mutex_unlock(&t->mu);
    while (sl) {
        sconn *sc = sl;
        sl = sc->mail_next;
        wb_px_sconn_connected(t, sc);
    }
    for (;;) {
        pthread_mutex_lock(&t->mu);
        pclient *c = t->cmail;
        unsigned m = 0;
        if (c) {
            t->cmail = c->mail_next;
            c->in_mail = 0;
            m = c->mail;
            c->mail = 0;
        }
        pthread_mutex_unlock(&t->mu);
        if (!c)
            return;
        if (m & CM_FAIL) {
            client_fatal(c, c->fail_state, c->fail_msg ? c->fail_msg : "no server connection");
            continue;
        }
        if (m & CM_LOGIN) {
            login_ok(c);
            continue;
        }
        if (m & CM_SERVER) {
            take_server(c);
            continue;
        }
        if (m & CM_RUN) {
            if (!c->reading && !c->out_blocked && !c->waiting)
                client_set_reading(c, 1);
            client_run(c);
        }
    }
}

/* ---------------- cancel ---------------- */

typedef struct cancel_task {
    wb_srv_task task;
    wb_pg_cancel_key key;
} cancel_task;

static void cancel_run(wb_srv_task *task)
{
    cancel_task *ct = (cancel_task *)task;
    wb_pg_error err;
    wb_pg_cancel_send(&ct->key, &err);
    free(ct);
}

void wb_proxy_cancel(wb_proxy *p, int32_t pid, int32_t key)
{
    cancel_task *ct = NULL;
    pthread_mutex_lock(&p->reg_mu);
    pclient *c = p->reg[(uint32_t)pid % REG_BUCKETS];
    while (c && c->pid != pid)
        c = c->reg_next;
    if (c && c->key == key && c->pool) {
        pool *pl = c->pool;
        pthread_mutex_lock(&pl->mu);
        for (sconn *sc = pl->all; sc; sc = sc->anext)
            if (sc->client == c && atomic_load(&sc->state) == SV_ACTIVE) {
                ct = calloc(1, sizeof *ct);
                if (ct)
                    ct->key = sc->h.cancel;
                break;
            }
        pthread_mutex_unlock(&pl->mu);
    }
    pthread_mutex_unlock(&p->reg_mu);
    if (ct) {
        ct->task.fn = cancel_run;
        wb_server_task(p->srv, &ct->task);
    }
}

int wb_proxy_clients(wb_proxy *p) { return atomic_load(&p->nclients); }

/* ---------------- life cycle ---------------- */

wb_proxy *wb_proxy_new(const wb_proxy_config *cfg, char *err, size_t errlen)
{
    if (!cfg->upstream) {
        snprintf(err, errlen, "--upstream CONNINFO is required");
        return NULL;
    }
    if (cfg->pool_mode < WB_POOL_SESSION || cfg->pool_mode > WB_POOL_STATEMENT || cfg->pool_size < 0 ||
        cfg->min_pool_size < 0 || cfg->server_idle_timeout_s < 0 || cfg->query_wait_timeout_s < 0) {
        snprintf(err, errlen, "invalid pool settings");
        return NULL;
    }
    wb_pg_error pe;
    char **kv = wb_pg_conninfo_parse(cfg->upstream, &pe);
    if (!kv) {
        snprintf(err, errlen, "invalid --upstream: %s", pe.message);
        return NULL;
    }
    wb_proxy *p = calloc(1, sizeof *p);
    if (!p) {
        wb_pg_conninfo_free(kv);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    p->cfg = *cfg;
    if (!p->cfg.pool_size)
        p->cfg.pool_size = 20;
    if (p->cfg.min_pool_size > p->cfg.pool_size)
        p->cfg.min_pool_size = p->cfg.pool_size;
    /* keyword=value form without dbname/user (each pool sets its own) */
    size_t cap = 1;
    for (char **k = kv; *k; k += 2)
        cap += strlen(k[0]) + 2 * strlen(k[1]) + 6;
    p->upstream_kv = calloc(1, cap);
    p->upstream_shown = calloc(1, cap);
    if (!p->upstream_kv || !p->upstream_shown) {
        wb_pg_conninfo_free(kv);
        wb_proxy_free(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char *w = p->upstream_kv, *ws = p->upstream_shown;
    for (char **k = kv; *k; k += 2) {
        if (strcmp(k[0], "dbname") == 0 || strcmp(k[0], "user") == 0)
            continue;
        int secret = strcmp(k[0], "password") == 0;
        char *dst[2] = {w, ws};
        for (int j = 0; j < 2; j++) {
            if (j == 1 && secret)
                continue;
            char *d = dst[j];
            if (d != (j ? p->upstream_shown : p->upstream_kv))
                *d++ = ' ';
            d += sprintf(d, "%s='", k[0]);
            for (const char *v = k[1]; *v; v++) {
                if (*v == '\'' || *v == '\\')
                    *d++ = '\\';
                *d++ = *v;
            }
            *d++ = '\'';
            *d = 0;
            if (j == 0)
                w = d;
            else
                ws = d;
        }
    }
    wb_pg_conninfo_free(kv);
    pthread_mutex_init(&p->reg_mu, NULL);
    pthread_mutex_init(&p->pools_mu, NULL);
    p->start_time_s = (int64_t)time(NULL);
    return p;
}

int wb_proxy_main_start(wb_proxy *p, struct wb_server *srv, struct event_base *base, int nthreads,
                        int max_connections, char *err, size_t errlen)
{
    p->srv = srv;
    p->mbase = base;
    p->nthreads = nthreads;
    p->max_connections = max_connections;
    p->thr = calloc((size_t)nthreads, sizeof *p->thr);
    if (!p->thr) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < nthreads; i++) {
        p->thr[i].p = p;
        p->thr[i].idx = i;
        pthread_mutex_init(&p->thr[i].mu, NULL);
    }
    return wb_px_admin_start(p, err, errlen);
}

void wb_proxy_thread_start(wb_proxy *p, int i, struct event_base *base)
{
    pthr *t = &p->thr[i];
    t->base = base;
    t->wake = event_new(base, -1, EV_PERSIST, on_wake, t);
    event_add(t->wake, NULL);
}

void wb_proxy_thread_stop(wb_proxy *p, int i)
{
    pthr *t = &p->thr[i];
    if (!t->base)
        return;
    while (t->clients) {
        pclient *c = t->clients;
        if (c->logged_in || !c->pool)
            client_fatal(c, "57P01", "terminating connection due to administrator command");
        else
            client_fatal(c, "57P01", "the server is shutting down");
    }
    pthread_mutex_lock(&t->mu);
    t->stopped = 1;
    sconn *sl = t->smail;
    t->smail = NULL;
    pthread_mutex_unlock(&t->mu);
    while (sl) { /* connect results nobody will use */
        sconn *sc = sl;
        sl = sc->mail_next;
        wb_px_sconn_discard_login(sc);
    }
    /* server connections whose events are on this base */
    pthread_mutex_lock(&p->pools_mu);
    pool *pools = p->pools;
    pthread_mutex_unlock(&p->pools_mu);
    for (pool *pl = pools; pl; pl = pl->next) {
        for (;;) {
            sconn *victim = NULL;
            pthread_mutex_lock(&pl->mu);
            for (sconn *sc = pl->all; sc; sc = sc->anext) {
                int st = atomic_load(&sc->state);
                if (sc->t == t && (st == SV_IDLE || st == SV_RESET)) {
                    if (st == SV_IDLE) {
                        wb_px_idle_remove(pl, sc);
                        atomic_store(&sc->state, SV_CHECK);
                    }
                    victim = sc;
                    break;
                }
            }
            pthread_mutex_unlock(&pl->mu);
            if (!victim)
                break;
            wb_px_sconn_close(victim, 1);
        }
    }
    event_free(t->wake);
    t->wake = NULL;
    wb_buf_free(&t->scratch);
    while (t->nioc) {
        t->nioc--;
        wb_stream_close(t->ioc[t->nioc].in);
        free(t->ioc[t->nioc].rd);
    }
    while (t->noutc)
        wb_buf_free(&t->outc[--t->noutc]);
}

void wb_proxy_main_stop(wb_proxy *p)
{
    wb_px_admin_stop(p);
    /* what is left (handed between threads while they stopped): the bases
     * still exist, no loop runs */
    for (pool *pl = p->pools; pl; pl = pl->next)
        while (pl->all) {
            sconn *sc = pl->all;
            if (atomic_load(&sc->state) == SV_IDLE) {
                wb_px_idle_remove(pl, sc);
            }
            atomic_store(&sc->state, SV_CHECK);
            wb_px_sconn_close(sc, 1);
        }
    for (int i = 0; p->thr && i < p->nthreads; i++) {
        pthr *t = &p->thr[i];
        if (t->wake)
            event_free(t->wake);
        t->wake = NULL;
        while (t->smail) {
            sconn *sc = t->smail;
            t->smail = sc->mail_next;
            wb_pg_handover_free(&sc->h);
            wb_relay_server_free(sc->rs);
            free(sc);
        }
    }
}

void wb_proxy_free(wb_proxy *p)
{
    if (!p)
        return;
    while (p->pools) {
        pool *pl = p->pools;
        p->pools = pl->next;
        wb_px_pool_free(pl);
    }
    for (int i = 0; p->thr && i < p->nthreads; i++) {
        wb_buf_free(&p->thr[i].scratch);
        pthread_mutex_destroy(&p->thr[i].mu);
    }
    free(p->thr);
    free(p->upstream_kv);
    free(p->upstream_shown);
    pthread_mutex_destroy(&p->reg_mu);
    pthread_mutex_destroy(&p->pools_mu);
    free(p);
}
