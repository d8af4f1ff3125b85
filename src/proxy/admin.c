/* src/proxy/admin.c - the proxy's admin side: the console database
 * "wirebuf" (console.h answers, this file carries out PAUSE / RESUME /
 * RELOAD / SHUTDOWN and takes the snapshots under the locks), the
 * Prometheus endpoint (--metrics, libevent's evhttp on the main loop), and
 * the maintenance timer on the main loop: query_wait_timeout,
 * server_idle_timeout, min_pool_size. Lock discipline: top of proxy.c. */
#include "proxy_int.h"

#include <event2/buffer.h>
#include <event2/event.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TICK_MS 100

/* ---------------- snapshot ---------------- */

typedef struct snapbuf {
    wb_proxy_snapshot s;
    wb_proxy_pool_stats *pools;
    wb_proxy_client_info *clients;
    wb_proxy_server_info *servers;
} snapbuf;

static void snap_free(snapbuf *b)
{
    free(b->pools);
    free(b->clients);
    free(b->servers);
}

/* Take every lock in order (reg_mu, pools_mu, each pool's mu), copy. */
static int snap_take(wb_proxy *p, snapbuf *b)
{
    memset(b, 0, sizeof *b);
    int64_t now = wb_px_now_us();
    pthread_mutex_lock(&p->reg_mu);
    pthread_mutex_lock(&p->pools_mu);
    int np = 0, nc = 0, ns = 0;
    for (pool *pl = p->pools; pl; pl = pl->next) {
        np++;
        pthread_mutex_lock(&pl->mu);
        for (sconn *sc = pl->all; sc; sc = sc->anext)
            ns++;
    }
    for (int i = 0; i < REG_BUCKETS; i++)
        for (pclient *c = p->reg[i]; c; c = c->reg_next)
            nc++;
    b->pools = calloc((size_t)np + 1, sizeof *b->pools);
    b->clients = calloc((size_t)nc + 1, sizeof *b->clients);
    b->servers = calloc((size_t)ns + 1, sizeof *b->servers);
    int ok = b->pools && b->clients && b->servers;
    int ip = 0, ic = 0, is = 0;
    for (pool *pl = p->pools; ok && pl; pl = pl->next) {
        wb_proxy_pool_stats *ps = &b->pools[ip++];
        snprintf(ps->database, sizeof ps->database, "%s", pl->db);
        snprintf(ps->user, sizeof ps->user, "%s", pl->user);
        ps->pool_mode = p->cfg.pool_mode;
        ps->paused = pl->paused;
        ps->cl_waiting = pl->n_waiting;
        ps->cl_active = pl->n_clients - pl->n_waiting;
        ps->sv_active = pl->n_active;
        ps->sv_idle = pl->n_idle;
        ps->sv_login = pl->n_login;
        ps->pool_size = p->cfg.pool_size;
        pclient *o = wb_px_wq_oldest(pl);
        ps->maxwait_us = o ? (uint64_t)(now - o->wait_start_us) : 0;
        ps->xact_count = atomic_load(&pl->xact_count);
        ps->query_count = atomic_load(&pl->query_count);
        ps->bytes_received = atomic_load(&pl->bytes_received);
        ps->bytes_sent = atomic_load(&pl->bytes_sent);
        ps->xact_time_us = atomic_load(&pl->xact_time_us);
        ps->query_time_us = atomic_load(&pl->query_time_us);
        ps->wait_time_us = atomic_load(&pl->wait_time_us);
        ps->server_errors = atomic_load(&pl->server_errors);
        for (sconn *sc = pl->all; sc; sc = sc->anext) {
            wb_proxy_server_info *si = &b->servers[is++];
            snprintf(si->database, sizeof si->database, "%s", pl->db);
            snprintf(si->user, sizeof si->user, "%s", pl->user);
            snprintf(si->addr, sizeof si->addr, "upstream");
            si->backend_pid = sc->h.pid;
            int st = atomic_load(&sc->state);
            si->state = st == SV_ACTIVE ? "active" : st == SV_RESET ? "used" : st == SV_LOGIN ? "login" : "idle";
            si->tls = sc->h.io.ssl != NULL;
            si->connect_time_s = sc->connect_time_s;
            si->client_pid = st == SV_ACTIVE && sc->client ? sc->client->pid : 0;
        }
    }
    for (int i = 0; ok && i < REG_BUCKETS; i++)
        for (pclient *c = p->reg[i]; c; c = c->reg_next) {
            wb_proxy_client_info *ci = &b->clients[ic++];
            snprintf(ci->database, sizeof ci->database, "%s", c->database ? c->database : "");
            snprintf(ci->user, sizeof ci->user, "%s", c->user ? c->user : "");
            snprintf(ci->application_name, sizeof ci->application_name, "%s", c->appname ? c->appname : "");
            wb_px_client_addr(c, ci->addr, sizeof ci->addr);
            ci->port = c->port;
            ci->pid = c->pid;
            ci->connect_time_s = c->connect_time_s;
            /* state, sv_pid: pool->mu (held) */
            ci->state = c->state == CL_WAITING ? "waiting" : c->state == CL_ACTIVE ? "active" : "idle";
            ci->wait_us = c->state == CL_WAITING ? now - c->wait_start_us : 0;
            ci->server_pid = c->state == CL_ACTIVE ? c->sv_pid : 0;
        }
    for (pool *pl = p->pools; pl; pl = pl->next)
        pthread_mutex_unlock(&pl->mu);
    pthread_mutex_unlock(&p->pools_mu);
    pthread_mutex_unlock(&p->reg_mu);
    if (!ok) {
        snap_free(b);
        return -1;
    }
    b->s.pools = b->pools;
    b->s.npools = ip;
    b->s.clients = b->clients;
    b->s.nclients = ic;
    b->s.servers = b->servers;
    b->s.nservers = is;
    b->s.upstream = p->upstream_shown;
    b->s.pool_mode = p->cfg.pool_mode;
    b->s.pool_size = p->cfg.pool_size;
    b->s.min_pool_size = p->cfg.min_pool_size;
    b->s.max_connections = p->max_connections;
    b->s.threads = p->nthreads;
    b->s.server_idle_timeout_s = p->cfg.server_idle_timeout_s;
    b->s.query_wait_timeout_s = p->cfg.query_wait_timeout_s;
    b->s.start_time_s = p->start_time_s;
    b->s.version = "wirebuf 0.1";
    return 0;
}

/* ---------------- console ---------------- */

void wb_px_console_login(pclient *c)
{
    static const char *const ps[][2] = {{"server_version", "15.0 (wirebuf console)"},
                                        {"server_encoding", "UTF8"},
                                        {"client_encoding", "UTF8"},
                                        {"DateStyle", "ISO, MDY"},
                                        {"integer_datetimes", "on"},
                                        {"standard_conforming_strings", "on"},
                                        {"TimeZone", "UTC"}};
    wb_pg_put_auth(&c->out, WB_PG_AUTH_OK, NULL, 0);
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        wb_pg_put_parameter_status(&c->out, ps[i][0], ps[i][1]);
    wb_pg_put_parameter_status(&c->out, "application_name", c->appname ? c->appname : "");
    wb_pg_put_backend_key_data(&c->out, c->pid, c->key);
    wb_pg_put_ready_for_query(&c->out, 'I');
}

static int paused_active(wb_proxy *p, const char *db)
{
    int n = 0;
    pthread_mutex_lock(&p->pools_mu);
    for (pool *pl = p->pools; pl; pl = pl->next)
        if (!*db || strcmp(db, pl->db) == 0) {
            pthread_mutex_lock(&pl->mu);
            n += pl->n_active;
            pthread_mutex_unlock(&pl->mu);
        }
    pthread_mutex_unlock(&p->pools_mu);
    return n;
}

static void pause_check(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    pclient *c = arg;
    if (paused_active(c->t->p, c->pause_db) > 0)
        return;
    event_free(c->ptimer);
    c->ptimer = NULL;
    c->pause_pending = 0;
    wb_pg_put_ready_for_query(&c->out, 'I');
    wb_px_post_client(c, CM_RUN); /* flushes and goes on */
}

static void set_paused(wb_proxy *p, const char *db, int on)
{
    pthread_mutex_lock(&p->pools_mu);
    pool *pools = p->pools;
    for (pool *pl = pools; pl; pl = pl->next)
        if (!*db || strcmp(db, pl->db) == 0) {
            pthread_mutex_lock(&pl->mu);
            pl->paused = on;
            pthread_mutex_unlock(&pl->mu);
        }
    pthread_mutex_unlock(&p->pools_mu);
    if (!on)
        for (pool *pl = pools; pl; pl = pl->next)
            if (!*db || strcmp(db, pl->db) == 0)
                wb_px_pool_kick(p, pl);
}

int wb_px_console_msg(pclient *c, const wb_pg_msg *m)
{
    wb_proxy *p = c->t->p;
    if (m->type == 'X') {
        c->closing = 1;
        return 0;
    }
    if (m->type != 'Q') {
        wb_pg_fields f = {0};
        f.severity = f.severity_nonlocal = "FATAL";
        f.sqlstate = "08P01";
        f.message = "the console speaks the simple query protocol only";
        wb_pg_put_fields(&c->out, 'E', &f);
        c->closing = 1;
        return 0;
    }
    const char *sql = (const char *)m->body;
    size_t len = m->len ? m->len - 1 : 0; /* without the terminating NUL */
    snapbuf sb;
    int have = 0;
    if (wb_console_needs_snapshot(sql, len)) {
        if (snap_take(p, &sb) != 0) {
            wb_pg_fields f = {0};
            f.severity = f.severity_nonlocal = "ERROR";
            f.sqlstate = "53200";
            f.message = "out of memory";
            wb_pg_put_fields(&c->out, 'E', &f);
            wb_pg_put_ready_for_query(&c->out, 'I');
            return 0;
        }
        have = 1;
    }
    wb_console_request req = {0};
    size_t mark = c->out.len;
    int rc = wb_console_query(sql, len, have ? &sb.s : NULL, &c->out, &req);
    if (have)
        snap_free(&sb);
    if (rc != 0) {
        c->out.len = mark;
        c->closing = 1;
        return 0;
    }
    char err[256];
    switch (req.cmd) {
    case WB_CONSOLE_PAUSE:
        set_paused(p, req.database, 1);
        if (paused_active(p, req.database) > 0) {
            free(c->pause_db);
            c->pause_db = strdup(req.database);
            c->ptimer = c->pause_db ? event_new(c->t->base, -1, EV_PERSIST, pause_check, c) : NULL;
            if (c->ptimer) {
                struct timeval tv = {0, 20000};
                event_add(c->ptimer, &tv);
                c->pause_pending = 1;
                return 1; /* ReadyForQuery once no server connection is active */
            }
        }
        break;
    case WB_CONSOLE_RESUME: set_paused(p, req.database, 0); break;
    case WB_CONSOLE_RELOAD:
        if (wb_server_reload(p->srv, err, sizeof err) != 0) {
            c->out.len = mark;
            wb_pg_fields f = {0};
            f.severity = f.severity_nonlocal = "ERROR";
            f.sqlstate = "58030";
            f.message = err;
            wb_pg_put_fields(&c->out, 'E', &f);
        }
        break;
    case WB_CONSOLE_SHUTDOWN: wb_server_stop(p->srv); break;
    default: break;
    }
    wb_pg_put_ready_for_query(&c->out, 'I');
    return 0;
}

/* ---------------- metrics ---------------- */

static void on_http(struct evhttp_request *req, void *arg)
{
    wb_proxy *p = arg;
    const char *uri = evhttp_request_get_uri(req);
    if (evhttp_request_get_command(req) != EVHTTP_REQ_GET || !uri ||
        (strcmp(uri, "/metrics") != 0 && strncmp(uri, "/metrics?", 9) != 0)) {
        evhttp_send_error(req, HTTP_NOTFOUND, "GET /metrics");
        return;
    }
    snapbuf sb;
    wb_buf out = {0};
    if (snap_take(p, &sb) != 0 || wb_proxy_metrics(&sb.s, &out) != 0) {
        wb_buf_free(&out);
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    snap_free(&sb);
    struct evbuffer *eb = evbuffer_new();
    if (!eb) {
        wb_buf_free(&out);
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    evbuffer_add(eb, out.p, out.len);
    wb_buf_free(&out);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "text/plain; version=0.0.4");
    evhttp_send_reply(req, HTTP_OK, "OK", eb);
    evbuffer_free(eb);
}

/* ---------------- maintenance (main loop) ---------------- */

/* glibc keeps freed heap pages resident: the login buffers of thousands of
 * connections that came and went sit between the structs of the clients
 * that stayed. Once the number of clients has settled (0.3 s) after a change, give
 * the free pages back (malloc_trim madvises every free page of every arena;
 * a few ms for 10,000 clients, never while the count keeps changing, so
 * not on the hot path). */
static void maybe_trim(wb_proxy *p, int64_t now)
{
#ifdef __GLIBC__
    int n = atomic_load(&p->nclients);
    if (n != p->trim_clients) {
        p->trim_clients = n;
        p->trim_at_us = now + 300000; /* settled for 0.3 s */
        return;
    }
    if (p->trim_at_us && now >= p->trim_at_us) {
        p->trim_at_us = 0;
        malloc_trim(0);
    }
#else
    (void)p;
    (void)now;
#endif
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    wb_proxy *p = arg;
    int64_t now = wb_px_now_us();
    maybe_trim(p, now);
    int64_t qwait = (int64_t)p->cfg.query_wait_timeout_s * 1000000;
    int64_t sidle = (int64_t)p->cfg.server_idle_timeout_s * 1000000;
    pthread_mutex_lock(&p->pools_mu);
    pool *pools = p->pools;
    pthread_mutex_unlock(&p->pools_mu);
    for (pool *pl = pools; pl; pl = pl->next) {
        sconn *victims[32], *fresh[32];
        int nv = 0, nf = 0;
        pthread_mutex_lock(&pl->mu);
        pclient *c;
        while (qwait && (c = wb_px_wq_oldest(pl)) && now - c->wait_start_us >= qwait) {
            wb_px_wq_remove(pl, c);
            c->state = CL_IDLE;
            snprintf(c->fail_state, sizeof c->fail_state, "57014");
            char msg[300];
            snprintf(msg, sizeof msg,
                     "query_wait_timeout: no server connection for database \"%.63s\" user \"%.63s\" within %d s",
                     pl->db, pl->user, p->cfg.query_wait_timeout_s);
            free(c->fail_msg);
            c->fail_msg = strdup(msg);
            wb_px_post_client(c, CM_FAIL);
        }
        if (sidle) {
            for (sconn *sc = pl->idle, *nx; sc && nv < 32; sc = nx) {
                nx = sc->inext;
                if (pl->n_total - nv <= p->cfg.min_pool_size)
                    break;
                if (now - sc->idle_since_us < sidle)
                    continue;
                wb_px_idle_remove(pl, sc);
                atomic_store(&sc->state, SV_CHECK);
                victims[nv++] = sc;
            }
        }
        while (!pl->paused && pl->have_params && pl->n_total < p->cfg.min_pool_size && now >= pl->retry_after_us &&
               nf < 32) {
            sconn *sc = wb_px_sconn_new(pl, &p->thr[p->next_home++ % p->nthreads]);
            if (!sc)
                break;
            pl->n_total++;
            pl->n_login++;
            fresh[nf++] = sc;
        }
        pthread_mutex_unlock(&pl->mu);
        for (int i = 0; i < nv; i++)
            wb_px_sconn_close(victims[i], 1);
        for (int i = 0; i < nf; i++)
            wb_px_connect_start(p, fresh[i]);
    }
}

int wb_px_admin_start(wb_proxy *p, char *err, size_t errlen)
{
    p->mtimer = event_new(p->mbase, -1, EV_PERSIST, on_tick, p);
    if (!p->mtimer) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct timeval tv = {0, TICK_MS * 1000};
    event_add(p->mtimer, &tv);
    if (!p->cfg.metrics)
        return 0;
    char host[256];
    const char *colon = strrchr(p->cfg.metrics, ':');
    long port = colon ? strtol(colon + 1, NULL, 10) : 0;
    if (!colon || port <= 0 || port > 65535 || (size_t)(colon - p->cfg.metrics) >= sizeof host) {
        snprintf(err, errlen, "invalid --metrics \"%s\" (ADDRESS:PORT)", p->cfg.metrics);
        return -1;
    }
    memcpy(host, p->cfg.metrics, (size_t)(colon - p->cfg.metrics));
    host[colon - p->cfg.metrics] = 0;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') { /* [::1]:9187 */
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = 0;
    }
    p->http = evhttp_new(p->mbase);
    if (!p->http || evhttp_bind_socket(p->http, host[0] ? host : "0.0.0.0", (uint16_t)port) != 0) {
        snprintf(err, errlen, "could not listen for --metrics on %s", p->cfg.metrics);
        return -1;
    }
    evhttp_set_allowed_methods(p->http, EVHTTP_REQ_GET);
    evhttp_set_gencb(p->http, on_http, p);
    return 0;
}

void wb_px_admin_stop(wb_proxy *p)
{
    if (p->mtimer)
        event_free(p->mtimer);
    p->mtimer = NULL;
    if (p->http)
        evhttp_free(p->http);
    p->http = NULL;
}
