/* src/engine/engine.c - the DATADIR (one SQLite file per PostgreSQL
 * database), the per-database pool of SQLite connections with their
 * prepared-statement caches, the session-aware SQL functions registered on
 * every connection, busy/progress handling, and SQLite errors mapped to
 * PostgreSQL's SQLSTATEs and wording.
 *
 * Concurrency: SQLite in WAL mode lets readers run beside one writer. A
 * writer that finds the write lock taken waits in busy_wait() (sleeping in
 * short steps, watching cancel/timeout) instead of failing with "database
 * is locked"; the session starts write transactions IMMEDIATE so a
 * transaction never has to upgrade a stale read snapshot (which SQLite can
 * only refuse: SQLITE_BUSY_SNAPSHOT, mapped to 40001 as PostgreSQL's
 * serialization failure). */
#include "../core/thread.h"
#include "internal.h"
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int64_t wb_eng_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int wb_eng_check_interrupt(wb_sess_hdr *h)
{
    if (!h)
        return WB_INT_NONE;
    int why = WB_INT_NONE;
    if (atomic_load(&h->terminate))
        why = WB_INT_TERMINATE;
    else if (atomic_load(&h->cancel))
        why = WB_INT_CANCEL;
    else if (h->deadline_us && wb_eng_now_us() >= h->deadline_us)
        why = WB_INT_TIMEOUT;
    if (why)
        h->why = why;
    return why;
}

/* ------------------------------------------------------------------ */
/* DATADIR                                                             */

/* A database name as a file name: [A-Za-z0-9_] kept, anything else %XX. */
static char *db_path(const char *datadir, const char *name)
{
    wb_buf b = {0};
    wb_buf_puts(&b, datadir);
    wb_buf_puts(&b, "/");
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_') {
            wb_buf_putc(&b, *p);
        } else {
            char t[4];
            snprintf(t, sizeof t, "%%%02X", *p);
            wb_buf_puts(&b, t);
        }
    }
    wb_buf_puts(&b, ".db");
    if (wb_buf_putc(&b, 0)) {
        wb_buf_free(&b);
        return NULL;
    }
    return (char *)b.p;
}

static void seterr(wb_engine_error *err, const char *state, const char *fmt, const char *a, const char *b)
{
    if (!err)
        return;
    snprintf(err->sqlstate, sizeof err->sqlstate, "%s", state);
    snprintf(err->message, sizeof err->message, fmt, a, b ? b : "");
}

/* Create a database file (WAL mode). 0, or -1 with msg. */
static int create_db_file(const char *path, char *msg, size_t msglen)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        snprintf(msg, msglen, "could not create database file \"%s\": %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

wb_engine *wb_engine_open(const char *datadir, const wb_engine_hooks *hooks, wb_engine_error *err)
{
    if (!datadir || !*datadir) {
        seterr(err, "58030", "%s%s", "no data directory given", NULL);
        return NULL;
    }
    struct stat sb;
    if (stat(datadir, &sb) != 0) {
        if (errno != ENOENT || mkdir(datadir, 0700) != 0) {
            seterr(err, "58030", "could not create data directory \"%s\": %s", datadir, strerror(errno));
            return NULL;
        }
    } else if (!S_ISDIR(sb.st_mode)) {
        seterr(err, "58030", "data directory \"%s\" is not a directory%s", datadir, NULL);
        return NULL;
    }
    if (access(datadir, W_OK | X_OK) != 0) {
        seterr(err, "58030", "data directory \"%s\" is not writable: %s", datadir, strerror(errno));
        return NULL;
    }
    /* SQLite's memory statistics take a process-wide mutex on every
     * malloc and free (3-4% of a COPY FROM's CPU, and contention between
     * the threads running statements); nothing here reads them. Only
     * possible before SQLite initialises (else SQLITE_MISUSE, ignored). */
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    char *pg = db_path(datadir, "postgres");
    if (!pg) {
        seterr(err, "53200", "%s%s", "out of memory", NULL);
        return NULL;
    }
    if (access(pg, F_OK) != 0) {
        char msg[256];
        if (create_db_file(pg, msg, sizeof msg)) {
            seterr(err, "58030", "%s%s", msg, NULL);
            free(pg);
            return NULL;
        }
    }
    free(pg);
    wb_engine *e = calloc(1, sizeof *e);
    if (!e || !(e->datadir = strdup(datadir))) {
        free(e);
        seterr(err, "53200", "%s%s", "out of memory", NULL);
        return NULL;
    }
    if (hooks)
        e->hooks = *hooks;
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        e->start_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    }
    const char *dbg = getenv("WB_ENGINE_DEBUG");
    e->debug = dbg && *dbg ? atoi(dbg) : 0; /* 1: translations, 2: and every SQLite statement */
    pthread_mutex_init(&e->mu, NULL);
    pthread_mutex_init(&e->adv_mu, NULL);
    pthread_cond_init(&e->adv_cv, NULL);
    pthread_cond_init(&e->ckpt_cv, NULL);
    return e;
}

static void conn_close(wb_econn *c)
{
    wb_buf_free(&c->conflict);
    if (c->tcache)
        wb_sql_cache_free(c->tcache);
    for (int i = 0; i < WB_STMT_CACHE; i++) {
        sqlite3_finalize(c->cache[i].st);
        free(c->cache[i].sql);
    }
    sqlite3_finalize(c->st_now);
    sqlite3_finalize(c->st_reset);
    sqlite3_close_v2(c->db);
    free(c);
}

static void db_free(wb_edb *d)
{
    while (d->free) {
        wb_econn *c = d->free;
        d->free = c->next_free;
        conn_close(c);
    }
    pthread_mutex_destroy(&d->mu);
    free(d->name);
    free(d->path);
    free(d);
}

void wb_engine_close(wb_engine *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&e->mu);
    for (wb_edb *d = e->dbs; d; d = d->next)
        while (d->ckpt)
            pthread_cond_wait(&e->ckpt_cv, &e->mu);
    pthread_mutex_unlock(&e->mu);
    pthread_cond_destroy(&e->ckpt_cv);
    while (e->dbs) {
        wb_edb *d = e->dbs;
        e->dbs = d->next;
        db_free(d);
    }
    pthread_mutex_destroy(&e->mu);
    while (e->adv) {
        wb_adv_lock *l = e->adv;
        e->adv = l->next;
        free(l);
    }
    pthread_mutex_destroy(&e->adv_mu);
    pthread_cond_destroy(&e->adv_cv);
    free(e->datadir);
    free(e);
}

wb_edb *wb_eng_db_attach(wb_engine *e, const char *name, wb_engine_error *err)
{
    pthread_mutex_lock(&e->mu);
    wb_edb *d;
    for (d = e->dbs; d; d = d->next)
        if (strcmp(d->name, name) == 0)
            break;
    if (!d) {
        char *path = db_path(e->datadir, name);
        if (!path) {
            pthread_mutex_unlock(&e->mu);
            seterr(err, "53200", "%s%s", "out of memory", NULL);
            return NULL;
        }
        if (access(path, F_OK) != 0) {
            free(path);
            pthread_mutex_unlock(&e->mu);
            seterr(err, "3D000", "database \"%s\" does not exist%s", name, NULL);
            return NULL;
        }
        d = calloc(1, sizeof *d);
        if (!d || !(d->name = strdup(name))) {
            free(d);
            free(path);
            pthread_mutex_unlock(&e->mu);
            seterr(err, "53200", "%s%s", "out of memory", NULL);
            return NULL;
        }
        d->path = path;
        d->debug = e->debug;
        d->e = e;
        pthread_mutex_init(&d->mu, NULL);
        d->next = e->dbs;
        e->dbs = d;
    }
    d->sessions++;
    pthread_mutex_unlock(&e->mu);
    return d;
}

void wb_eng_db_detach(wb_engine *e, wb_edb *d)
{
    pthread_mutex_lock(&e->mu);
    assert(d->sessions > 0);
    d->sessions--;
    pthread_mutex_unlock(&e->mu);
}

/* The error of CREATE/DROP DATABASE: SQLSTATE code (5 characters) into
 * sqlstate, the message into msg[msglen]; -1 to return. */
static int db_error(char *sqlstate, char *msg, size_t msglen, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int db_error(char *sqlstate, char *msg, size_t msglen, const char *code, const char *fmt, ...)
{
    va_list ap;
    strcpy(sqlstate, code);
    va_start(ap, fmt);
    vsnprintf(msg, msglen, fmt, ap);
    va_end(ap);
    return -1;
}

int wb_eng_create_database(wb_engine *e, const char *name, char *msg, size_t msglen, char *sqlstate)
{
    char *path = db_path(e->datadir, name);
    if (!path) {
        return db_error(sqlstate, msg, msglen, "53200", "out of memory");
    }
    pthread_mutex_lock(&e->mu);
    int rc = 0;
    if (access(path, F_OK) == 0) {
        rc = db_error(sqlstate, msg, msglen, "42P04", "database \"%s\" already exists", name);
    } else if (create_db_file(path, msg, msglen)) {
        strcpy(sqlstate, "58030");
        rc = -1;
    }
    pthread_mutex_unlock(&e->mu);
    free(path);
    return rc;
}

int wb_eng_drop_database(wb_engine *e, const char *name, int if_exists, const char *current, char *msg,
                         size_t msglen, char *sqlstate)
{
    if (strcmp(name, current) == 0) {
        return db_error(sqlstate, msg, msglen, "55006", "cannot drop the currently open database");
    }
    char *path = db_path(e->datadir, name);
    if (!path) {
        return db_error(sqlstate, msg, msglen, "53200", "out of memory");
    }
    pthread_mutex_lock(&e->mu);
    int rc = 0;
    wb_edb **pp;
    for (;;) {
        pp = &e->dbs;
        while (*pp && strcmp((*pp)->name, name) != 0)
            pp = &(*pp)->next;
        if (!*pp || !(*pp)->ckpt)
            break;
        pthread_cond_wait(&e->ckpt_cv, &e->mu); /* its background checkpoint ends first */
    }
    if (access(path, F_OK) != 0) {
        if (!if_exists) {
            rc = db_error(sqlstate, msg, msglen, "3D000", "database \"%s\" does not exist", name);
        } else {
            rc = 1; /* NOTICE: skipping */
        }
    } else if (*pp && (*pp)->sessions > 0) {
        rc = db_error(sqlstate, msg, msglen, "55006", "database \"%s\" is being accessed by other users", name);
    } else {
        if (*pp) {
            wb_edb *d = *pp;
            *pp = d->next;
            db_free(d);
        }
        char side[4096];
        unlink(path);
        snprintf(side, sizeof side, "%s-wal", path);
        unlink(side);
        snprintf(side, sizeof side, "%s-shm", path);
        unlink(side);
    }
    pthread_mutex_unlock(&e->mu);
    free(path);
    return rc;
}

/* ------------------------------------------------------------------ */
/* SQLite connections                                                  */

void wb_eng_waiting(wb_sess_hdr *h)
{
    if (h && h->e && h->e->hooks.waiting)
        h->e->hooks.waiting(h->e->hooks.ctx, h->pid);
}

static int busy_wait(void *ctx, int count)
{
    wb_econn *c = ctx;
    if (wb_eng_check_interrupt(c->session))
        return 0;
    if (count == 0)
        wb_eng_waiting(c->session);
    /* 50 µs growing to 2 ms per step: a writer waits as long as the lock
     * holder needs (statement_timeout or a cancel ends the wait) */
    long us = count < 10 ? 50L << (count / 2) : 2000;
    struct timespec ts = {0, us * 1000};
    nanosleep(&ts, NULL);
    return 1;
}

/* WAL checkpoints in the background: SQLite's automatic checkpoint runs
 * inside the COMMIT that passes 1000 WAL pages, so that client waits while
 * the whole WAL is copied into the database file and synced (a 1,000,000
 * row COPY: 60 MB). Instead that COMMIT starts a thread that checkpoints
 * (PASSIVE: never waits for or blocks readers and writers) on a pool
 * connection; one at a time per database. */
#define WB_CKPT_PAGES 1000

static void *checkpoint_main(void *arg)
{
    wb_edb *d = arg;
    wb_engine *e = d->e;
    char msg[128];
    wb_econn *c = wb_eng_conn_get(e, d, msg, sizeof msg);
    if (c) {
        sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        wb_eng_conn_put(c);
    }
    pthread_mutex_lock(&e->mu);
    d->ckpt = 0;
    pthread_cond_broadcast(&e->ckpt_cv);
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

static int wal_hook(void *ctx, sqlite3 *db, const char *name, int pages)
{
    (void)name;
    wb_econn *c = ctx;
    wb_edb *d = c->edb;
    if (pages < WB_CKPT_PAGES)
        return SQLITE_OK;
    pthread_mutex_lock(&d->e->mu);
    int start = !d->ckpt;
    d->ckpt = 1;
    pthread_mutex_unlock(&d->e->mu);
    if (!start)
        return SQLITE_OK;
    int r = wb_thread_detached(checkpoint_main, d);
    if (r != 0) { /* no thread: checkpoint here, as SQLite would */
        sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
        pthread_mutex_lock(&d->e->mu);
        d->ckpt = 0;
        pthread_cond_broadcast(&d->e->ckpt_cv);
        pthread_mutex_unlock(&d->e->mu);
    }
    return SQLITE_OK;
}

static int progress(void *ctx)
{
    wb_econn *c = ctx;
    return wb_eng_check_interrupt(c->session) != WB_INT_NONE;
}

static void fn_current_database(sqlite3_context *cx, int n, sqlite3_value **v)
{
    (void)n, (void)v;
    wb_econn *c = sqlite3_user_data(cx);
    sqlite3_result_text(cx, c->edb->name, -1, SQLITE_TRANSIENT);
}
static void fn_current_user(sqlite3_context *cx, int n, sqlite3_value **v)
{
    (void)n, (void)v;
    wb_econn *c = sqlite3_user_data(cx);
    if (c->session)
        sqlite3_result_text(cx, c->session->user, -1, SQLITE_TRANSIENT);
    else
        sqlite3_result_null(cx);
}
static void fn_backend_pid(sqlite3_context *cx, int n, sqlite3_value **v)
{
    (void)n, (void)v;
    wb_econn *c = sqlite3_user_data(cx);
    sqlite3_result_int(cx, c->session ? c->session->pid : 0);
}
static void fn_version(sqlite3_context *cx, int n, sqlite3_value **v)
{
    (void)n, (void)v;
    char t[256];
    snprintf(t, sizeof t,
             "PostgreSQL 15.4 (wirebuf serve, SQLite %s) on x86_64-pc-linux-gnu, compiled by gcc, 64-bit",
             sqlite3_libversion());
    sqlite3_result_text(cx, t, -1, SQLITE_TRANSIENT);
}
/* pg_sleep(seconds): sleeps in 10 ms steps so a cancel, a terminate or the
 * statement timeout ends it (57014 as PostgreSQL). */
static void fn_pg_sleep(sqlite3_context *cx, int n, sqlite3_value **v)
{
    (void)n;
    wb_econn *c = sqlite3_user_data(cx);
    double secs = sqlite3_value_double(v[0]);
    int64_t until = wb_eng_now_us() + (int64_t)(secs * 1e6);
    if (secs > 0)
        wb_eng_waiting(c->session);
    for (;;) {
        if (wb_eng_check_interrupt(c->session)) {
            sqlite3_result_error_code(cx, SQLITE_INTERRUPT);
            return;
        }
        int64_t left = until - wb_eng_now_us();
        if (left <= 0)
            break;
        if (left > 10000)
            left = 10000;
        struct timespec ts = {0, left * 1000};
        nanosleep(&ts, NULL);
    }
    sqlite3_result_null(cx);
}
static void signal_backend(sqlite3_context *cx, sqlite3_value **v, int terminate)
{
    wb_econn *c = sqlite3_user_data(cx);
    wb_engine *e = c->edb ? (c->session ? c->session->e : NULL) : NULL;
    if (sqlite3_value_type(v[0]) == SQLITE_NULL) {
        sqlite3_result_null(cx);
        return;
    }
    int32_t pid = sqlite3_value_int(v[0]);
    int ok = 0;
    if (e && e->hooks.signal_backend)
        ok = e->hooks.signal_backend(e->hooks.ctx, pid, terminate);
    sqlite3_result_int(cx, ok ? 1 : 0);
}
static void fn_cancel_backend(sqlite3_context *cx, int n, sqlite3_value **v)
{
    (void)n;
    signal_backend(cx, v, 0);
}
static void fn_terminate_backend(sqlite3_context *cx, int n, sqlite3_value **v)
{
    (void)n;
    signal_backend(cx, v, 1);
}

/* wb_note_conflict(v1, v2, ...): the first duplicate key seen (see
 * wb_eng_unique_detail) as PostgreSQL prints it: "v1, v2" */
static void fn_note_conflict(sqlite3_context *cx, int n, sqlite3_value **v)
{
    wb_econn *c = sqlite3_user_data(cx);
    if (c->conflict.len == 0) {
        for (int i = 0; i < n; i++) {
            if (i)
                wb_buf_puts(&c->conflict, ", ");
            const unsigned char *t = sqlite3_value_text(v[i]);
            wb_buf_puts(&c->conflict, t ? (const char *)t : "null");
        }
        if (n == 0 || c->conflict.len == 0)
            wb_buf_putc(&c->conflict, ' ');
    }
    sqlite3_result_null(cx);
}

/* pg_advisory_unlock_all(): the session-level advisory locks (poolers'
 * reset queries call it) */
static void fn_advisory_unlock_all(sqlite3_context *cx, int n, sqlite3_value **v)
{
    (void)n, (void)v;
    wb_econn *c = sqlite3_user_data(cx);
    if (c->session)
        wb_eng_advisory_release(c->session, 2); /* transaction-level ones stay, as in PostgreSQL */
    sqlite3_result_null(cx);
}

/* pg_postmaster_start_time(): when wb_engine_open ran, as timestamptz text */
static void fn_start_time(sqlite3_context *cx, int n, sqlite3_value **v)
{
    (void)n, (void)v;
    wb_econn *c = sqlite3_user_data(cx);
    wb_engine *e = c->session ? c->session->e : NULL;
    if (!e) {
        sqlite3_result_null(cx);
        return;
    }
    struct tm tm;
    time_t secs = (time_t)(e->start_us / 1000000);
    gmtime_r(&secs, &tm);
    char t[64];
    snprintf(t, sizeof t, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(e->start_us % 1000000));
    sqlite3_result_text(cx, t, -1, SQLITE_TRANSIENT);
}

/* txid_current(): one number per transaction of this engine, growing */
static void fn_txid_current(sqlite3_context *cx, int n, sqlite3_value **v)
{
    (void)n, (void)v;
    wb_econn *c = sqlite3_user_data(cx);
    wb_sess_hdr *h = c->session;
    if (!h) {
        sqlite3_result_null(cx);
        return;
    }
    if (!h->xid)
        h->xid = atomic_fetch_add(&h->e->next_xid, 1) + 1000; /* PostgreSQL's first normal xids are small too */
    sqlite3_result_int64(cx, (sqlite3_int64)h->xid);
}

/* Advisory locks (PostgreSQL 15 docs §9.27.10), exclusive ones: a lock is
 * a key (bigint, or two int4 in their own key space) held by one session,
 * re-entrantly, at session or transaction level. A waiter sleeps on the
 * engine's condition variable in 10 ms steps, watching cancel and
 * statement_timeout. (The shared variants are not offered: 42883.) */

static int adv_key(int n, sqlite3_value **v, int64_t *key)
{
    if (n == 1) {
        *key = sqlite3_value_int64(v[0]);
        return 0;
    }
    *key = (int64_t)(((uint64_t)(uint32_t)sqlite3_value_int(v[0]) << 32) | (uint32_t)sqlite3_value_int(v[1]));
    return 1;
}

/* 1 acquired, 0 held by another session (try), -1 interrupted */
static int adv_acquire(wb_sess_hdr *h, int64_t key, int two, int xact, int wait)
{
    wb_engine *e = h->e;
    pthread_mutex_lock(&e->adv_mu);
    for (;;) {
        wb_adv_lock *l = e->adv;
        while (l && !(l->key == key && l->two == two))
            l = l->next;
        if (!l) {
            l = calloc(1, sizeof *l);
            if (!l) {
                pthread_mutex_unlock(&e->adv_mu);
                return -1;
            }
            l->key = key, l->two = two, l->owner = h->serial;
            l->next = e->adv;
            e->adv = l;
        }
        if (l->owner == h->serial) {
            if (xact)
                l->xact_count++;
            else
                l->count++;
            pthread_mutex_unlock(&e->adv_mu);
            return 1;
        }
        if (!wait) {
            pthread_mutex_unlock(&e->adv_mu);
            return 0;
        }
        if (wb_eng_check_interrupt(h)) {
            pthread_mutex_unlock(&e->adv_mu);
            return -1;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 10000000;
        if (ts.tv_nsec >= 1000000000)
            ts.tv_sec++, ts.tv_nsec -= 1000000000;
        pthread_cond_timedwait(&e->adv_cv, &e->adv_mu, &ts);
    }
}

void wb_eng_advisory_release(wb_sess_hdr *h, int xact_only)
{
    wb_engine *e = h->e;
    int freed = 0;
    pthread_mutex_lock(&e->adv_mu);
    for (wb_adv_lock **pp = &e->adv; *pp;) {
        wb_adv_lock *l = *pp;
        if (l->owner == h->serial) {
            if (xact_only != 2)
                l->xact_count = 0;
            if (xact_only != 1)
                l->count = 0;
            if (l->count == 0 && l->xact_count == 0) {
                *pp = l->next;
                free(l);
                freed = 1;
                continue;
            }
        }
        pp = &l->next;
    }
    if (freed)
        pthread_cond_broadcast(&e->adv_cv);
    pthread_mutex_unlock(&e->adv_mu);
}

static void fn_adv_lock(sqlite3_context *cx, int n, sqlite3_value **v, int xact, int wait)
{
    wb_econn *c = sqlite3_user_data(cx);
    if (!c->session) {
        sqlite3_result_null(cx);
        return;
    }
    int64_t key;
    int two = adv_key(n, v, &key);
    int r = adv_acquire(c->session, key, two, xact, wait);
    if (r < 0)
        sqlite3_result_error_code(cx, SQLITE_INTERRUPT);
    else if (wait)
        sqlite3_result_null(cx); /* void */
    else
        sqlite3_result_int(cx, r);
}
static void fn_advisory_lock(sqlite3_context *cx, int n, sqlite3_value **v) { fn_adv_lock(cx, n, v, 0, 1); }
static void fn_advisory_xact_lock(sqlite3_context *cx, int n, sqlite3_value **v) { fn_adv_lock(cx, n, v, 1, 1); }
static void fn_try_advisory_lock(sqlite3_context *cx, int n, sqlite3_value **v) { fn_adv_lock(cx, n, v, 0, 0); }
static void fn_try_advisory_xact_lock(sqlite3_context *cx, int n, sqlite3_value **v) { fn_adv_lock(cx, n, v, 1, 0); }

/* pg_advisory_unlock: 1 if this session held it (at session level) */
static void fn_advisory_unlock(sqlite3_context *cx, int n, sqlite3_value **v)
{
    wb_econn *c = sqlite3_user_data(cx);
    wb_sess_hdr *h = c->session;
    if (!h) {
        sqlite3_result_null(cx);
        return;
    }
    int64_t key;
    int two = adv_key(n, v, &key), ok = 0;
    wb_engine *e = h->e;
    pthread_mutex_lock(&e->adv_mu);
    for (wb_adv_lock **pp = &e->adv; *pp; pp = &(*pp)->next) {
        wb_adv_lock *l = *pp;
        if (l->key == key && l->two == two && l->owner == h->serial && l->count > 0) {
            ok = 1;
            if (--l->count == 0 && l->xact_count == 0) {
                *pp = l->next;
                free(l);
                pthread_cond_broadcast(&e->adv_cv);
            }
            break;
        }
    }
    pthread_mutex_unlock(&e->adv_mu);
    sqlite3_result_int(cx, ok);
}

static int register_functions(wb_econn *c)
{
    int rc0 = sqlite3_create_function_v2(c->db, "wb_note_conflict", -1, SQLITE_UTF8, c, fn_note_conflict, NULL, NULL,
                                         NULL);
    if (rc0 != SQLITE_OK)
        return rc0;
    static const struct {
        const char *name;
        int nargs;
        void (*fn)(sqlite3_context *, int, sqlite3_value **);
    } fns[] = {
        {"current_database", 0, fn_current_database}, {"current_catalog", 0, fn_current_database},
        {"current_user", 0, fn_current_user},         {"session_user", 0, fn_current_user},
        {"user", 0, fn_current_user},                 {"current_role", 0, fn_current_user},
        {"pg_backend_pid", 0, fn_backend_pid},        {"version", 0, fn_version},
        {"pg_sleep", 1, fn_pg_sleep},                 {"pg_cancel_backend", 1, fn_cancel_backend},
        {"pg_terminate_backend", 1, fn_terminate_backend},
        {"pg_terminate_backend", 2, fn_terminate_backend}, /* the timeout: the hook does not wait */
        {"pg_postmaster_start_time", 0, fn_start_time},  {"txid_current", 0, fn_txid_current},
        {"pg_advisory_unlock_all", 0, fn_advisory_unlock_all},
        {"pg_advisory_lock", 1, fn_advisory_lock},         {"pg_advisory_lock", 2, fn_advisory_lock},
        {"pg_advisory_xact_lock", 1, fn_advisory_xact_lock}, {"pg_advisory_xact_lock", 2, fn_advisory_xact_lock},
        {"pg_try_advisory_lock", 1, fn_try_advisory_lock}, {"pg_try_advisory_lock", 2, fn_try_advisory_lock},
        {"pg_try_advisory_xact_lock", 1, fn_try_advisory_xact_lock},
        {"pg_try_advisory_xact_lock", 2, fn_try_advisory_xact_lock},
        {"pg_advisory_unlock", 1, fn_advisory_unlock},     {"pg_advisory_unlock", 2, fn_advisory_unlock},
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        int flags = SQLITE_UTF8; /* not DETERMINISTIC: the answers depend on the session */
        int rc = sqlite3_create_function_v2(c->db, fns[i].name, fns[i].nargs, flags, c, fns[i].fn, NULL, NULL,
                                            NULL);
        if (rc != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static int trace_stmt(unsigned type, void *ctx, void *p, void *x)
{
    (void)type;
    wb_econn *c = ctx;
    char *sql = sqlite3_expanded_sql(p);
    fprintf(stderr, "      [sqlite %p%s] %s\n", (void *)c, sqlite3_get_autocommit(c->db) ? "" : " tx",
            sql ? sql : (const char *)x);
    sqlite3_free(sql);
    return 0;
}

static wb_econn *conn_open(wb_edb *d, char *msg, size_t msglen)
{
    wb_econn *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(msg, msglen, "out of memory");
        return NULL;
    }
    c->edb = d;
    c->tcache = wb_sql_cache_new(256);
    c->tgen = atomic_load(&d->schema_gen);
    int rc = sqlite3_open_v2(d->path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c->db,
                          "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                          " PRAGMA recursive_triggers=ON; PRAGMA cache_size=-1024",
                          /* no mmap: mapped database pages count in the server's
                           * RSS (128 MB after pgbench -S at scale 5). A 1 MB page
                           * cache keeps the B-tree's inner pages; leaves come from
                           * the OS page cache */
                          NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_busy_handler(c->db, busy_wait, c);
    if (rc == SQLITE_OK) /* replaces SQLite's automatic checkpoint */
        sqlite3_wal_hook(c->db, wal_hook, c);
    if (rc == SQLITE_OK)
        rc = wb_sql_register(c->db);
    if (rc == SQLITE_OK)
        rc = register_functions(c);
    if (rc == SQLITE_OK)
        rc = wb_sess_register_functions(c->db, c);
    if (rc != SQLITE_OK) {
        snprintf(msg, msglen, "could not open database \"%s\": %s", d->name,
                 c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
        sqlite3_close_v2(c->db);
        free(c);
        return NULL;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_progress_handler(c->db, 1000, progress, c);
    if (d->debug > 1)
        sqlite3_trace_v2(c->db, SQLITE_TRACE_STMT, trace_stmt, c);
    return c;
}

wb_econn *wb_eng_conn_get(wb_engine *e, wb_edb *d, char *msg, size_t msglen)
{
    (void)e;
    pthread_mutex_lock(&d->mu);
    wb_econn *c = d->free;
    if (c) {
        d->free = c->next_free;
        d->nfree--;
    }
    pthread_mutex_unlock(&d->mu);
    if (!c)
        c = conn_open(d, msg, msglen);
    if (c)
        c->next_free = NULL;
    return c;
}

void wb_eng_conn_put(wb_econn *c)
{
    if (!c)
        return;
    c->session = NULL;
    if (!sqlite3_get_autocommit(c->db))
        sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
    wb_edb *d = c->edb;
    pthread_mutex_lock(&d->mu);
    int warm = d->nfree < WB_POOL_WARM;
    pthread_mutex_unlock(&d->mu);
    /* idle beyond the warm few: give its page cache back. Before it goes
     * on the free list: once there, another thread may take it */
    if (!warm)
        sqlite3_db_release_memory(c->db);
    pthread_mutex_lock(&d->mu);
    int keep = d->nfree < WB_POOL_IDLE_MAX;
    if (keep) {
        c->next_free = d->free;
        d->free = c;
        d->nfree++;
    }
    pthread_mutex_unlock(&d->mu);
    if (!keep) /* a burst of transactions is over: do not keep its connections */
        conn_close(c);
}

sqlite3_stmt *wb_eng_stmt_get(wb_econn *c, const char *sql, int *rc)
{
    int lru = -1;
    c->clock++;
    for (int i = 0; i < WB_STMT_CACHE; i++) {
        wb_cached_stmt *k = &c->cache[i];
        if (k->sql && !k->in_use && strcmp(k->sql, sql) == 0) {
            k->in_use = 1;
            k->used = c->clock;
            *rc = SQLITE_OK;
            return k->st;
        }
        if (!k->in_use && (lru < 0 || k->used < c->cache[lru].used))
            lru = i;
    }
    sqlite3_stmt *st = NULL;
    *rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
    if (*rc != SQLITE_OK) {
        sqlite3_finalize(st);
        return NULL;
    }
    if (!st) { /* only a comment: run nothing */
        *rc = SQLITE_MISUSE;
        return NULL;
    }
    if (lru >= 0) {
        char *copy = strdup(sql);
        if (copy) {
            wb_cached_stmt *k = &c->cache[lru];
            sqlite3_finalize(k->st);
            free(k->sql);
            k->sql = copy;
            k->st = st;
            k->in_use = 1;
            k->used = c->clock;
        }
    }
    return st;
}

static int run_helper(wb_econn *c, sqlite3_stmt **st, const char *sql, int nargs, int64_t arg)
{
    if (!*st) {
        int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, st, NULL);
        if (rc != SQLITE_OK)
            return rc;
    }
    if (nargs)
        sqlite3_bind_int64(*st, 1, arg);
    int rc = sqlite3_step(*st);
    sqlite3_reset(*st);
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

int wb_eng_set_now(wb_econn *c, int64_t usec)
{
    if (c->now_us == usec)
        return SQLITE_OK;
    int rc = run_helper(c, &c->st_now, "SELECT wb_set_now(?1)", 1, usec);
    if (rc == SQLITE_OK)
        c->now_us = usec;
    return rc;
}

int wb_eng_reset_session(wb_econn *c)
{
    return run_helper(c, &c->st_reset, "SELECT wb_reset_session()", 0, 0);
}

void wb_eng_stmt_put(wb_econn *c, sqlite3_stmt *st)
{
    if (!st)
        return;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    for (int i = 0; i < WB_STMT_CACHE; i++) {
        if (c->cache[i].st == st) {
            c->cache[i].in_use = 0;
            return;
        }
    }
    sqlite3_finalize(st); /* not cached (cache full of statements in use) */
}

/* ------------------------------------------------------------------ */
/* SQLite errors as PostgreSQL reports the same failure                */

static void copy_word(char *dst, size_t n, const char *src, size_t len)
{
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = 0;
}

/* "UNIQUE constraint failed: t.a, t.b" -> table t, columns "a, b"; the
 * constraint as PostgreSQL names it: t_pkey for the primary key, the
 * index's name for CREATE UNIQUE INDEX, t_a_b_key for a UNIQUE clause. */
static void unique_violation(sqlite3 *db, const char *m, wb_eng_err *out)
{
    const char *p = strstr(m, "failed: ");
    char table[128] = "", cols[256] = "", conname[160] = "";
    if (p) {
        p += 8;
        if (strncmp(p, "index '", 7) == 0) {
            const char *q = strchr(p + 7, '\'');
            if (q)
                copy_word(conname, sizeof conname, p + 7, (size_t)(q - p - 7));
        } else {
            const char *dot = strchr(p, '.');
            if (dot)
                copy_word(table, sizeof table, p, (size_t)(dot - p));
            size_t cl = 0;
            while (*p && cl + 2 < sizeof cols) {
                const char *d = strchr(p, '.');
                if (!d)
                    break;
                const char *end = strstr(d, ", ");
                size_t len = end ? (size_t)(end - d - 1) : strlen(d + 1);
                if (cl)
                    cl += (size_t)snprintf(cols + cl, sizeof cols - cl, ", ");
                cl += (size_t)snprintf(cols + cl, sizeof cols - cl, "%.*s", (int)len, d + 1);
                if (cl >= sizeof cols)
                    cl = sizeof cols - 1;
                if (!end)
                    break;
                p = end + 2;
            }
        }
    }
    if (!conname[0] && table[0]) {
        /* the primary key? */
        char sql[300];
        snprintf(sql, sizeof sql, "SELECT group_concat(name, ', ') FROM (SELECT name FROM pragma_table_info(%s) "
                                  "WHERE pk > 0 ORDER BY pk)", "?1");
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) &&
                strcmp((const char *)sqlite3_column_text(st, 0), cols) == 0)
                snprintf(conname, sizeof conname, "%s_pkey", table);
        }
        sqlite3_finalize(st);
        if (!conname[0]) {
            /* an index created by name whose columns are these */
            st = NULL;
            if (sqlite3_prepare_v2(db,
                                   "SELECT il.name FROM pragma_index_list(?1) il WHERE il.\"unique\" AND "
                                   "il.origin = 'c' AND (SELECT group_concat(name, ', ') FROM (SELECT name FROM "
                                   "pragma_index_info(il.name) ORDER BY seqno)) = ?2",
                                   -1, &st, NULL) == SQLITE_OK) {
                sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
                sqlite3_bind_text(st, 2, cols, -1, SQLITE_STATIC);
                if (sqlite3_step(st) == SQLITE_ROW)
                    snprintf(conname, sizeof conname, "%s", (const char *)sqlite3_column_text(st, 0));
            }
            sqlite3_finalize(st);
        }
        if (!conname[0]) {
            size_t n = (size_t)snprintf(conname, sizeof conname, "%s", table);
            for (const char *c = cols; *c && n + 2 < sizeof conname; c++) {
                if (*c == ',' && c[1] == ' ') {
                    continue;
                }
                if (*c == ' ')
                    conname[n++] = '_';
                else if (c == cols) {
                    conname[n++] = '_';
                    conname[n++] = *c;
                } else
                    conname[n++] = *c;
            }
            conname[n] = 0;
            snprintf(conname + strlen(conname), sizeof conname - strlen(conname), "_key");
        }
    }
    strcpy(out->sqlstate, "23505");
    snprintf(out->table, sizeof out->table, "%s", table);
    snprintf(out->columns, sizeof out->columns, "%s", cols);
    snprintf(out->message, sizeof out->message, "duplicate key value violates unique constraint \"%s\"", conname);
    snprintf(out->constraint, sizeof out->constraint, "%s", conname);
    if (cols[0])
        snprintf(out->detail, sizeof out->detail, "Key (%s) already exists.", cols);
}

void wb_eng_map_error(sqlite3 *db, int rc, wb_sess_hdr *h, wb_eng_err *out)
{
    const char *m = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    memset(out, 0, sizeof *out);
    const char *state = "XX000";
    snprintf(out->message, sizeof out->message, "%s", m);
    /* the translator's SQL functions raise "22012 division by zero" */
    char fstate[6];
    const char *fmsg;
    if (db && (rc & 0xff) == SQLITE_ERROR && wb_sql_sqlite_error(m, fstate, &fmsg)) {
        snprintf(out->sqlstate, sizeof out->sqlstate, "%s", fstate);
        snprintf(out->message, sizeof out->message, "%s", fmsg);
        return;
    }
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY: unique_violation(db, m, out); return;
    case SQLITE_CONSTRAINT_NOTNULL: {
        const char *p = strstr(m, "failed: ");
        const char *dot = p ? strchr(p + 8, '.') : NULL;
        state = "23502";
        if (dot)
            snprintf(out->message, sizeof out->message,
                     "null value in column \"%s\" of relation \"%.*s\" violates not-null constraint", dot + 1,
                     (int)(dot - p - 8), p + 8);
        break;
    }
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        state = "23503";
        snprintf(out->message, sizeof out->message, "%s",
                 "insert or update on table violates foreign key constraint");
        break;
    case SQLITE_CONSTRAINT_CHECK: {
        const char *p = strstr(m, "failed: ");
        state = "23514";
        if (p)
            snprintf(out->message, sizeof out->message, "new row violates check constraint \"%s\"", p + 8);
        break;
    }
    case SQLITE_CONSTRAINT:
    case SQLITE_CONSTRAINT_TRIGGER:
    case SQLITE_CONSTRAINT_FUNCTION: state = "23000"; break;
    case SQLITE_INTERRUPT: {
        int why = h ? h->why : WB_INT_CANCEL;
        state = why == WB_INT_TERMINATE ? "57P01" : "57014";
        snprintf(out->message, sizeof out->message, "%s",
                 why == WB_INT_TIMEOUT     ? "canceling statement due to statement timeout"
                 : why == WB_INT_TERMINATE ? "terminating connection due to administrator command"
                                           : "canceling statement due to user request");
        break;
    }
    case SQLITE_BUSY_SNAPSHOT:
        state = "40001";
        snprintf(out->message, sizeof out->message, "%s",
                 "could not serialize access due to concurrent update");
        break;
    case SQLITE_BUSY:
    case SQLITE_BUSY_RECOVERY:
    case SQLITE_LOCKED:
        if (h && h->why != WB_INT_NONE) { /* the wait for the lock was cancelled or timed out */
            wb_eng_map_error(NULL, SQLITE_INTERRUPT, h, out);
            return;
        }
        state = "55P03";
        break;
    case SQLITE_FULL: state = "53100"; break;
    case SQLITE_NOMEM: state = "53200"; break;
    case SQLITE_READONLY: state = "25006"; break;
    case SQLITE_TOOBIG: state = "54000"; break;
    case SQLITE_MISMATCH: state = "22P02"; break;
    case SQLITE_RANGE: state = "08P01"; break;
    default:
        if ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN || (rc & 0xff) == SQLITE_CORRUPT)
            state = "58030";
        else if ((rc & 0xff) == SQLITE_ERROR) {
            /* prepare-time errors: names PostgreSQL would have rejected */
            if (strncmp(m, "no such table: ", 15) == 0) {
                state = "42P01";
                const char *t = m + 15;
                const char *dot = strchr(t, '.');
                if (dot && strncmp(t, "main.", 5) == 0)
                    t = dot + 1;
                snprintf(out->message, sizeof out->message, "relation \"%s\" does not exist", t);
            } else if (strncmp(m, "no such column: ", 16) == 0) {
                state = "42703";
                snprintf(out->message, sizeof out->message, "column \"%s\" does not exist", m + 16);
            } else if (strncmp(m, "no such function: ", 18) == 0) {
                state = "42883";
                snprintf(out->message, sizeof out->message, "function %s does not exist", m + 18);
            } else if (strstr(m, "already exists")) {
                state = strncmp(m, "index", 5) == 0 || strncmp(m, "table", 5) == 0 ? "42P07" : "42710";
                const char *q = strchr(m, ' ');
                if (q && strncmp(q, " ", 1) == 0 && (strncmp(m, "table ", 6) == 0 || strncmp(m, "index ", 6) == 0)) {
                    const char *end = strstr(m, " already exists");
                    snprintf(out->message, sizeof out->message, "relation \"%.*s\" already exists",
                             (int)(end - m - 6), m + 6);
                }
            } else if (strstr(m, "syntax error") || strstr(m, "incomplete input")) {
                state = "42601";
            } else if (strstr(m, "ambiguous column name")) {
                state = "42702";
            } else if (strstr(m, "division by zero")) {
                state = "22012";
            } else if (strstr(m, "integer overflow")) {
                state = "22003";
            }
        }
    }
    snprintf(out->sqlstate, sizeof out->sqlstate, "%s", state);
}

void wb_eng_put_qident(wb_buf *b, const char *name, size_t n)
{
    wb_buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (name[i] == '"')
            wb_buf_putc(b, '"');
        wb_buf_putc(b, (uint8_t)name[i]);
    }
    wb_buf_putc(b, '"');
}

char *wb_eng_quote_ident(const char *name)
{
    wb_buf b = {0};
    wb_eng_put_qident(&b, name, strlen(name));
    if (wb_buf_putc(&b, 0)) {
        wb_buf_free(&b);
        return NULL;
    }
    return (char *)b.p;
}

void wb_eng_unique_detail(wb_econn *c, sqlite3_stmt *st, wb_eng_err *e)
{
    if (!e->table[0] || !e->columns[0] || !st)
        return;
    /* the key's columns: "a, b" */
    const char *cols[16];
    size_t lens[16];
    int n = 0;
    for (const char *p = e->columns; *p && n < 16;) {
        const char *end = strstr(p, ", ");
        size_t l = end ? (size_t)(end - p) : strlen(p);
        cols[n] = p;
        lens[n++] = l;
        p += l;
        if (*p)
            p += 2;
    }
    wb_buf when = {0}, args = {0}, sql = {0};
    for (int i = 0; i < n; i++) {
        wb_buf_puts(&when, i ? " AND " : "");
        wb_eng_put_qident(&when, cols[i], lens[i]);
        wb_buf_puts(&when, " IS NEW.");
        wb_eng_put_qident(&when, cols[i], lens[i]);
        wb_buf_puts(&args, i ? ", NEW." : "NEW.");
        wb_eng_put_qident(&args, cols[i], lens[i]);
    }
    wb_buf_putc(&when, 0);
    wb_buf_putc(&args, 0);
    wb_buf tq = {0};
    wb_eng_put_qident(&tq, e->table, strlen(e->table));
    wb_buf_putc(&tq, 0);
    for (int k = 0; k < 2; k++) {
        char *q = sqlite3_mprintf("CREATE TEMP TRIGGER wb_uq_%s BEFORE %s ON main.%s WHEN EXISTS (SELECT 1 FROM main.%s "
                                  "WHERE %s%s) BEGIN SELECT wb_note_conflict(%s); END;",
                                  k ? "u" : "i", k ? "UPDATE" : "INSERT", (char *)tq.p, (char *)tq.p, (char *)when.p,
                                  k ? " AND rowid IS NOT OLD.rowid" : "", (char *)args.p);
        if (q)
            wb_buf_puts(&sql, q);
        sqlite3_free(q);
    }
    wb_buf_putc(&sql, 0);
    c->conflict.len = 0;
    if (when.p && args.p && sql.p && sqlite3_exec(c->db, "SAVEPOINT wb_uq", NULL, NULL, NULL) == SQLITE_OK) {
        /* the UPDATE trigger fails on WITHOUT ROWID tables: the INSERT one
         * is created first and still works */
        sqlite3_exec(c->db, (const char *)sql.p, NULL, NULL, NULL);
        sqlite3_reset(st);
        while (sqlite3_step(st) == SQLITE_ROW)
            ;
        sqlite3_reset(st);
        sqlite3_exec(c->db, "ROLLBACK TO wb_uq; RELEASE wb_uq", NULL, NULL, NULL);
    }
    if (c->conflict.len > 0) {
        wb_buf_putc(&c->conflict, 0);
        snprintf(e->detail, sizeof e->detail, "Key (%s)=(%s) already exists.", e->columns, (char *)c->conflict.p);
        c->conflict.len = 0;
    }
    wb_buf_free(&when);
    wb_buf_free(&args);
    wb_buf_free(&sql);
    wb_buf_free(&tq);
}
