/* src/engine/session.c - the backend session after authentication
 * (src/server/engine.h): one function per frontend message (PostgreSQL 15
 * docs §55.2 Message Flow), transactions as PostgreSQL runs them on top of
 * SQLite's, the session commands (SET/SHOW, cursors, PREPARE, LISTEN), and
 * the result stream (RowDescription, DataRow, CommandComplete).
 *
 * Transactions: PostgreSQL's states (idle, implicit transaction of a
 * multi-statement Query or of an extended-protocol batch up to Sync,
 * transaction block, failed block) map onto one SQLite transaction on the
 * connection the session pins while it is open. The SQLite transaction
 * starts with the first statement: IMMEDIATE when that statement writes,
 * deferred when it reads; a later write that finds the lock taken waits,
 * and one whose snapshot went stale fails with 40001. A statement made of
 * several SQLite statements runs inside a savepoint so that it fails as a
 * whole, as PostgreSQL's statements do. */
#include "session.h"
#include "guc_meta.h"
#include <pg_query.h>
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

enum { R_DONE, R_ERROR, R_MORE, R_SUSPENDED, R_COPYIN, R_CLOSE };

/* ------------------------------------------------------------------ */
/* Settings (PostgreSQL 15 GUCs a client may SET/SHOW)                 */

static const struct guc_def {
    const char *name; /* as SHOW ALL / ParameterStatus spell it */
    const char *boot;
    int report;       /* ParameterStatus when it changes */
    int readonly;
} gucs[] = {
    {"application_name", "", 1, 0},
    {"client_encoding", "UTF8", 1, 0},
    {"DateStyle", "ISO, MDY", 1, 0},
    {"default_transaction_read_only", "off", 1, 0},
    {"in_hot_standby", "off", 1, 1},
    {"integer_datetimes", "on", 1, 1},
    {"IntervalStyle", "postgres", 1, 0},
    {"is_superuser", "on", 1, 1},
    {"server_encoding", "UTF8", 1, 1},
    {"server_version", "15.4", 1, 1},
    {"session_authorization", "", 1, 0},
    {"standard_conforming_strings", "on", 1, 0},
    {"TimeZone", "UTC", 1, 0},
    {"statement_timeout", "0", 0, 0},
    {"hnsw.ef_search", "40", 0, 0}, /* pgvector: the search width of hnsw indexes */
    {"search_path", "\"$user\", public", 0, 0},
    {"extra_float_digits", "1", 0, 0},
    {"lock_timeout", "0", 0, 0},
    {"idle_in_transaction_session_timeout", "0", 0, 0},
    {"idle_session_timeout", "0", 0, 0},
    {"client_min_messages", "notice", 0, 0},
    {"default_transaction_isolation", "read committed", 0, 0},
    {"transaction_isolation", "read committed", 0, 0},
    {"transaction_read_only", "off", 0, 0},
    {"default_transaction_deferrable", "off", 0, 0},
    {"max_identifier_length", "63", 0, 1},
    {"server_version_num", "150004", 0, 1},
    {"synchronous_commit", "on", 0, 0},
    {"bytea_output", "hex", 0, 0},
    {"lc_messages", "C", 0, 0},
    {"lc_monetary", "C", 0, 0},
    {"lc_numeric", "C", 0, 0},
    {"lc_time", "C", 0, 0},
    {"lc_collate", "C", 0, 1},
    {"lc_ctype", "C", 0, 1},
    {"work_mem", "4MB", 0, 0},
    {"maintenance_work_mem", "64MB", 0, 0},
    {"jit", "off", 0, 0},
    {"row_security", "on", 0, 0},
    {"check_function_bodies", "on", 0, 0},
    {"xmloption", "content", 0, 0},
    {"max_connections", "100", 0, 1},
    {"block_size", "8192", 0, 1},
    {"default_tablespace", "", 0, 0},
    {"temp_buffers", "8MB", 0, 0},
    {"plan_cache_mode", "auto", 0, 0},
    {"array_nulls", "on", 0, 0},
    {"escape_string_warning", "on", 0, 0},
    {"backslash_quote", "safe_encoding", 0, 0},
    {"session_replication_role", "origin", 0, 0},
    {"cursor_tuple_fraction", "0.1", 0, 0},
    {"quote_all_identifiers", "off", 0, 0},
    {"password_encryption", "scram-sha-256", 0, 0},
    {"enable_seqscan", "on", 0, 0},
    {"random_page_cost", "4", 0, 0},
    {"effective_cache_size", "4GB", 0, 0},
    {"join_collapse_limit", "8", 0, 0},
    {"geqo", "on", 0, 0},
    {"timezone_abbreviations", "Default", 0, 0},
    {"log_statement", "none", 0, 0},
    {"lo_compat_privileges", "off", 0, 0},
    {"max_parallel_workers_per_gather", "2", 0, 0},
};
#define NGUCS ((int)(sizeof gucs / sizeof gucs[0]))

static int guc_find(const char *name)
{
    for (int i = 0; i < NGUCS; i++)
        if (strcasecmp(gucs[i].name, name) == 0)
            return i;
    return -1;
}

static const char *guc_get(wb_engine_session *s, int i)
{
    return s->guc_values[i] ? s->guc_values[i] : gucs[i].boot; }

/* ------------------------------------------------------------------ */
/* Output helpers                                                      */

static void put_fields(wb_buf *out, uint8_t type, const char *sev, const char *state, const char *msg,
                       const char *detail, const char *where, const char *constraint, int position)
{
    wb_pg_fields f = {0};
    char pos[16];
    f.severity = f.severity_nonlocal = sev;
    f.sqlstate = state;
    f.message = msg;
    f.detail = detail && *detail ? detail : NULL;
    f.where = where && *where ? where : NULL;
    f.constraint = constraint && *constraint ? constraint : NULL;
    if (position > 0) {
        snprintf(pos, sizeof pos, "%d", position);
        f.position = pos;
    }
    wb_pg_put_fields(out, type, &f);
}

void wb_sess_error(wb_engine_session *s, wb_buf *out, const char *state, const char *msg, const char *detail,
                   const char *where)
{
    (void)s;
    put_fields(out, 'E', "ERROR", state, msg, detail, where, NULL, 0);
}

static void notice(wb_buf *out, const char *sev, const char *state, const char *msg)
{
    put_fields(out, 'N', sev, state, msg, NULL, NULL, NULL, 0);
}

void wb_sess_sqlite_error(wb_engine_session *s, wb_buf *out, sqlite3 *db, int rc, const char *where)
{
    wb_sess_sqlite_error_st(s, out, db, rc, where, NULL);
}

void wb_sess_sqlite_error_st(wb_engine_session *s, wb_buf *out, sqlite3 *db, int rc, const char *where,
                             sqlite3_stmt *st)
{
    wb_eng_err e;
    wb_eng_map_error(db, rc, &s->h, &e);
    if (st && s->conn && strcmp(e.sqlstate, "23505") == 0)
        wb_eng_unique_detail(s->conn, st, &e);
    put_fields(out, 'E', strcmp(e.sqlstate, "57P01") == 0 ? "FATAL" : "ERROR", e.sqlstate, e.message, e.detail,
               where, e.constraint, e.position);
    if (rc == SQLITE_INTERRUPT)
        atomic_store(&s->h.cancel, 0); /* consumed */
}

static const char *guc_get(wb_engine_session *s, int i);
static int guc_find(const char *name);

/* ParameterStatus for every reported setting whose value changed since it
 * was last reported (SET, set_config(), RESET, a ROLLBACK undoing a SET):
 * PostgreSQL 15 sends them just before ReadyForQuery. */
static void report_params(wb_engine_session *s, wb_buf *out)
{
    for (int i = 0; i < NGUCS; i++) {
        if (!gucs[i].report)
            continue;
        const char *v = guc_get(s, i);
        /* FNV-1a of the value last sent: no copy kept per session */
        uint64_t h = 14695981039346656037ULL;
        for (const unsigned char *c = (const unsigned char *)v; *c; c++)
            h = (h ^ *c) * 1099511628211ULL;
        h |= 1; /* 0 = never sent */
        assert(i < WB_NREPORTED);
        if (s->guc_sent[i] == h)
            continue;
        s->guc_sent[i] = h;
        wb_pg_put_parameter_status(out, gucs[i].name, v);
    }
}

static void ready(wb_engine_session *s, wb_buf *out)
{
    s->idle = 1;
    report_params(s, out);
    atomic_store(&s->h.cancel, 0); /* a cancel that arrives after its request ended is dropped */
    wb_pg_put_ready_for_query(out, wb_engine_session_txn_status(s));
}

/* ------------------------------------------------------------------ */
/* Connection and transactions                                         */

int wb_sess_need_conn(wb_engine_session *s, wb_buf *out)
{
    if (s->conn)
        return 0;
    char msg[256];
    wb_econn *c = wb_eng_conn_get(s->h.e, s->db, msg, sizeof msg);
    if (!c) {
        wb_sess_error(s, out, "53300", msg, NULL, NULL);
        return -1;
    }
    c->session = &s->h;
    if (c->last_serial != s->h.serial) {
        /* currval()/lastval() belong to the session that set them */
        wb_eng_reset_session(c);
        c->last_serial = s->h.serial;
    }
    pthread_mutex_lock(&s->imu);
    s->conn = c;
    s->running_db = c->db;
    pthread_mutex_unlock(&s->imu);
    return 0;
}

static int portal_holds_stmt(wb_engine_session *s)
{
    for (wb_portal *p = s->portals; p; p = p->next)
        if (p->st)
            return 1;
    return 0;
}

void wb_sess_release_conn(wb_engine_session *s)
{
    if (!s->conn || s->tx != TX_NONE || s->sqlite_tx || portal_holds_stmt(s) || s->copy)
        return;
    wb_eng_set_now(s->conn, 0);
    pthread_mutex_lock(&s->imu);
    wb_econn *c = s->conn;
    s->conn = NULL;
    s->running_db = NULL;
    pthread_mutex_unlock(&s->imu);
    wb_eng_conn_put(c);
}

static int exec_sql(wb_engine_session *s, const char *sql)
{
    int rc;
    for (;;) {
        rc = sqlite3_exec(s->conn->db, sql, NULL, NULL, NULL);
        /* BEGIN IMMEDIATE / COMMIT wait for the lock through the busy
         * handler; a COMMIT that still finds readers busy is retried */
        if ((rc & 0xff) == SQLITE_BUSY && rc != SQLITE_BUSY_SNAPSHOT && !wb_eng_check_interrupt(&s->h) &&
            strncmp(sql, "COMMIT", 6) == 0) {
            wb_eng_waiting(&s->h);
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
            continue;
        }
        return rc;
    }
}

int wb_sess_tx_begin(wb_engine_session *s, int write, wb_buf *out)
{
    if (s->sqlite_tx)
        return 0;
    int rc = exec_sql(s, write ? "BEGIN IMMEDIATE" : "BEGIN");
    if (rc != SQLITE_OK) {
        wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
        return -1;
    }
    s->sqlite_tx = 1;
    return 0;
}

static void portal_free(wb_engine_session *s, wb_portal *p);
static void query_free(wb_engine_session *s);

static void close_portals(wb_engine_session *s, int keep_hold)
{
    wb_portal **pp = &s->portals;
    while (*pp) {
        wb_portal *p = *pp;
        if (keep_hold && p->hold) {
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        portal_free(s, p);
    }
}

static void deliver_notifies(wb_engine_session *s, int send)
{
    while (s->notifies) {
        wb_notice_q *n = s->notifies;
        s->notifies = n->next;
        if (send && s->h.e->hooks.notify)
            s->h.e->hooks.notify(s->h.e->hooks.ctx, s->h.dbname, n->channel, n->payload ? n->payload : "",
                                 s->h.pid);
        free(n->channel);
        free(n->payload);
        free(n);
    }
    s->notifies_tail = &s->notifies;
}

static void gucs_tx_end(wb_engine_session *s, int commit)
{
    if (!s->guc_tx_saved)
        return; /* no SET in this session's transactions yet */
    for (int i = 0; i < NGUCS; i++) {
        if (s->guc_tx_saved[i]) {
            if (!commit || s->guc_local[i]) {
                free(s->guc_values[i]);
                s->guc_values[i] = strcmp(s->guc_tx_saved[i], "\x01") == 0 ? NULL : s->guc_tx_saved[i];
                if (!s->guc_values[i])
                    free(s->guc_tx_saved[i]);
            } else {
                free(s->guc_tx_saved[i]);
            }
            s->guc_tx_saved[i] = NULL;
        }
        s->guc_local[i] = 0;
    }
}

static void apply_guc_side_effects(wb_engine_session *s);
static void listen_add(wb_engine_session *s, const char *ch);
static void listen_remove(wb_engine_session *s, const char *ch);

/* LISTEN/UNLISTEN of the transaction: applied at COMMIT, dropped by ROLLBACK */
static void listen_ops_end(wb_engine_session *s, int commit)
{
    while (s->listen_ops) {
        wb_listen_op *op = s->listen_ops;
        s->listen_ops = op->next;
        if (commit) {
            if (op->listen)
                listen_add(s, op->channel ? op->channel : "");
            else
                listen_remove(s, op->channel);
        }
        free(op->channel);
        free(op);
    }
}

/* End the transaction (commit = 1: COMMIT, else ROLLBACK). Returns 0, or
 * -1 with an ErrorResponse written (commit failed: rolled back). */
static int tx_end(wb_engine_session *s, int commit, wb_buf *out)
{
    int rc = 0;
    /* WITH HOLD cursors outlive a COMMIT (their statement keeps its read
     * snapshot), not a ROLLBACK */
    close_portals(s, commit);
    if (s->sqlite_tx && s->conn) {
        if (commit) {
            int r = exec_sql(s, "COMMIT");
            if (r != SQLITE_OK) {
                wb_sess_sqlite_error(s, out, s->conn->db, r, NULL);
                exec_sql(s, "ROLLBACK");
                commit = 0;
                rc = -1;
            }
        } else if (!sqlite3_get_autocommit(s->conn->db)) {
            exec_sql(s, "ROLLBACK");
        }
    }
    s->sqlite_tx = 0;
    s->tx = TX_NONE;
    s->xact_start_us = 0;
    s->h.xid = 0;
    wb_eng_advisory_release(&s->h, 1);
    if (s->ddl_in_tx && !commit)
        atomic_fetch_add(&s->db->schema_gen, 1);
    s->ddl_in_tx = 0;
    gucs_tx_end(s, commit);
    apply_guc_side_effects(s);
    listen_ops_end(s, commit);
    deliver_notifies(s, commit);
    return rc;
}

void wb_sess_stmt_failed(wb_engine_session *s)
{
    if (s->conn && s->sqlite_tx && sqlite3_get_autocommit(s->conn->db))
        s->sqlite_tx = 0; /* SQLite rolled the whole transaction back itself */
    if (s->tx == TX_BLOCK)
        s->tx = TX_FAILED;
    else if (s->tx == TX_IMPLICIT) {
        wb_buf dummy = {0};
        tx_end(s, 0, &dummy);
        wb_buf_free(&dummy);
    } else if (s->tx == TX_NONE && s->sqlite_tx) {
        wb_buf dummy = {0};
        tx_end(s, 0, &dummy);
        wb_buf_free(&dummy);
    }
}

/* Step with PostgreSQL's waiting: inside a transaction SQLite does not call
 * the busy handler when a reader needs the write lock (it could deadlock),
 * so wait here while the snapshot is still current; a stale snapshot is
 * SQLITE_BUSY_SNAPSHOT (40001). */
int wb_sess_step(wb_engine_session *s, sqlite3_stmt *st)
{
    for (int n = 0;; n++) {
        int rc = sqlite3_step(st);
        if (rc != SQLITE_BUSY || wb_eng_check_interrupt(&s->h))
            return rc;
        sqlite3_reset(st);
        if (n == 0)
            wb_eng_waiting(&s->h);
        struct timespec ts = {0, (n < 10 ? 100000L : 2000000L)};
        nanosleep(&ts, NULL);
    }
}

/* ------------------------------------------------------------------ */
/* Schema callbacks for the translator                                 */

static int sch_column_type(void *ctx, const char *table, const char *column, uint32_t *oid, int32_t *typmod)
{
    wb_engine_session *s = ctx;
    if (!s->conn)
        return 0;
    sqlite3_stmt *st = NULL;
    int found = 0;
    if (sqlite3_prepare_v2(s->conn->db, "SELECT type FROM pragma_table_info(?1) WHERE name = ?2", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW) {
            wb_eng_decltype((const char *)sqlite3_column_text(st, 0), oid, typmod);
            if (!*oid)
                *oid = WB_PG_OID_TEXT;
            found = 1;
        }
    }
    sqlite3_finalize(st);
    return found;
}

static int sch_table_oid(void *ctx, const char *table, uint32_t *oid)
{
    wb_engine_session *s = ctx;
    int rc, found = 0;
    if (!s->conn)
        return 0;
    /* pg_class.oid as src/engine/translate_catalog.c shows it */
    sqlite3_stmt *st = wb_eng_stmt_get(
        s->conn, "SELECT 16384 + rowid FROM sqlite_schema WHERE name = ?1 AND type IN ('table', 'view')", &rc);
    if (!st)
        return 0;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        *oid = (uint32_t)sqlite3_column_int64(st, 0);
        found = 1;
    }
    wb_eng_stmt_put(s->conn, st);
    return found;
}

static int sch_table_ddl(void *ctx, const char *table, char **create_sql, char ***index_sqls, int *nindex)
{
    wb_engine_session *s = ctx;
    if (!s->conn)
        return 0;
    sqlite3_stmt *st = NULL;
    *create_sql = NULL;
    *index_sqls = NULL;
    *nindex = 0;
    if (sqlite3_prepare_v2(s->conn->db, "SELECT type, sql FROM sqlite_schema WHERE tbl_name = ?1 AND sql IS NOT NULL "
                                        "AND type IN ('table', 'index') ORDER BY type = 'index', rowid",
                           -1, &st, NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return 0;
    }
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 0);
        const char *sql = (const char *)sqlite3_column_text(st, 1);
        if (strcmp(type, "table") == 0) {
            if (!*create_sql)
                *create_sql = strdup(sql);
            continue;
        }
        if (*nindex == cap) {
            cap = cap ? cap * 2 : 4;
            char **n = realloc(*index_sqls, sizeof *n * (size_t)cap);
            if (!n)
                break;
            *index_sqls = n;
        }
        (*index_sqls)[(*nindex)++] = strdup(sql);
    }
    sqlite3_finalize(st);
    return *create_sql != NULL;
}

static int sch_table_columns(void *ctx, const char *table, char ***names, uint32_t **oids, int32_t **typmods, int *n)
{
    wb_engine_session *s = ctx;
    if (!s->conn)
        return 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->conn->db, "SELECT name, type FROM pragma_table_info(?1) ORDER BY cid", -1, &st,
                           NULL) != SQLITE_OK) {
        sqlite3_finalize(st);
        return 0;
    }
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int cap = 0, k = 0;
    char **nm = NULL;
    uint32_t *o = NULL;
    int32_t *t = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (k == cap) {
            cap = cap ? cap * 2 : 16;
            nm = realloc(nm, sizeof *nm * (size_t)cap);
            o = realloc(o, sizeof *o * (size_t)cap);
            t = realloc(t, sizeof *t * (size_t)cap);
            if (!nm || !o || !t)
                abort(); /* out of memory inside a callback with no error path */
        }
        nm[k] = strdup((const char *)sqlite3_column_text(st, 0));
        wb_eng_decltype((const char *)sqlite3_column_text(st, 1), &o[k], &t[k]);
        if (!o[k])
            o[k] = WB_PG_OID_TEXT;
        k++;
    }
    sqlite3_finalize(st);
    if (k == 0) {
        free(nm), free(o), free(t);
        return 0;
    }
    *names = nm;
    *oids = o;
    *typmods = t;
    *n = k;
    return 1;
}

/* CREATE DOMAIN domains (wb_domains, written by translate_ddl.c): the
 * translator's wb_sql_schema.domain / domain_by_oid */
static int sch_domain(void *ctx, const char *name, wb_sql_domain *out)
{
    wb_engine_session *s = ctx;
    return s->conn && wb_sql_domain_lookup(s->conn->db, name, 0, out);
}

static int sch_domain_by_oid(void *ctx, uint32_t oid, wb_sql_domain *out)
{
    wb_engine_session *s = ctx;
    return s->conn && wb_sql_domain_lookup(s->conn->db, NULL, oid, out);
}

/* the domain table.column was declared with (wb_sql_schema.column_domain) */
static uint32_t sch_column_domain(void *ctx, const char *table, const char *column)
{
    wb_engine_session *s = ctx;
    int rc;
    uint32_t dom = 0;
    if (!s->conn)
        return 0;
    sqlite3_stmt *st = wb_eng_stmt_get(s->conn, "SELECT type FROM pragma_table_info(?1) WHERE name = ?2", &rc);
    if (!st)
        return 0;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW)
        dom = wb_sql_decltype_domain((const char *)sqlite3_column_text(st, 0));
    wb_eng_stmt_put(s->conn, st);
    return dom;
}

/* A domain's base type (a parameter of a domain is sent in its base
 * type's format, PostgreSQL 15 docs "CREATE DOMAIN"); oid itself when it
 * is no domain, text when the domain is gone. */
static uint32_t domain_base(wb_engine_session *s, uint32_t oid)
{
    if (!WB_SQL_IS_DOMAIN_OID(oid) || !s->conn)
        return oid;
    int rc;
    uint32_t base = WB_PG_OID_TEXT;
    sqlite3_stmt *st = wb_eng_stmt_get(s->conn, "SELECT base_oid FROM wb_domains WHERE rowid = ?1", &rc);
    if (!st)
        return base;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)(oid - WB_SQL_DOMAIN_OID_MIN));
    if (sqlite3_step(st) == SQLITE_ROW)
        base = (uint32_t)sqlite3_column_int64(st, 0);
    wb_eng_stmt_put(s->conn, st);
    return base;
}

/* ps->param_types, looked up once when the statement is prepared (not on
 * every Bind); on failure it stays NULL and Bind looks each domain up */
static void pstmt_param_types(wb_engine_session *s, wb_pstmt *ps)
{
    for (int i = 0; ps->param_oids && i < ps->nparams; i++) {
        if (!WB_SQL_IS_DOMAIN_OID(ps->param_oids[i]))
            continue;
        if (!ps->param_types) {
            ps->param_types = malloc((size_t)ps->nparams * sizeof *ps->param_types);
            if (!ps->param_types)
                return;
            memcpy(ps->param_types, ps->param_oids, (size_t)ps->nparams * sizeof *ps->param_types);
        }
        ps->param_types[i] = domain_base(s, ps->param_oids[i]);
    }
}

static int translate(wb_engine_session *s, const char *sql, const uint32_t *oids, int n, wb_sql_list *out,
                     wb_buf *outbuf, int posoff)
{
    if (wb_sess_need_conn(s, outbuf))
        return -1;
    wb_sql_schema sch = {0};
    sch.ctx = s;
    sch.column_type = sch_column_type;
    sch.table_columns = sch_table_columns;
    sch.table_oid = sch_table_oid;
    sch.table_ddl = sch_table_ddl;
    sch.domain = sch_domain;
    sch.column_domain = sch_column_domain;
    sch.domain_by_oid = sch_domain_by_oid;
    wb_sql_error err = {0};
    memset(out, 0, sizeof *out);
    wb_econn *c = s->conn;
    uint64_t gen = atomic_load(&c->edb->schema_gen);
    if (c->tgen != gen && c->tcache) {
        wb_sql_cache_clear(c->tcache);
        c->tgen = gen;
    }
    int rc = wb_sql_translate_cached(c->tcache, sql, oids, n, &sch, out, &err);
    if (s->h.e->debug) {
        fprintf(stderr, "[engine %d] %s\n", s->h.pid, sql);
        for (int i = 0; rc == 0 && i < out->n; i++)
            for (int k = 0; k < out->stmts[i]->nsqlite; k++)
                fprintf(stderr, "    -> %s\n", out->stmts[i]->sqlite[k]);
    }
    if (rc != 0) {
        put_fields(outbuf, 'E', "ERROR", err.sqlstate[0] ? err.sqlstate : "42601", err.message, NULL, NULL, NULL,
                   err.position > 0 ? err.position + posoff : 0);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Prepared statements and portals                                     */

static void pstmt_unref(wb_pstmt *p)
{
    if (!p || --p->refs > 0)
        return;
    wb_sql_list_free(&p->list);
    free(p->name);
    free(p->sql);
    free(p->param_oids);
    free(p->param_types);
    for (int i = 0; i < p->ncols; i++)
        free(p->colnames[i]);
    free(p->colnames);
    free(p->cols);
    free(p);
}

static wb_pstmt *pstmt_find(wb_engine_session *s, const char *name, int sql_level)
{
    for (wb_pstmt *p = s->stmts; p; p = p->next)
        if (p->sql_level == sql_level && strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static void pstmt_remove(wb_engine_session *s, wb_pstmt *t)
{
    for (wb_pstmt **pp = &s->stmts; *pp; pp = &(*pp)->next)
        if (*pp == t) {
            *pp = t->next;
            pstmt_unref(t);
            return;
        }
}

static wb_portal *portal_find(wb_engine_session *s, const char *name)
{
    for (wb_portal *p = s->portals; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static void portal_release_stmt(wb_engine_session *s, wb_portal *p)
{
    if (p->st && s->conn)
        wb_eng_stmt_put(s->conn, p->st);
    p->st = NULL;
    if (p->own_sp && s->conn) {
        /* abandoned midway: undo what it did */
        sqlite3_exec(s->conn->db, "ROLLBACK TO wb_stmt; RELEASE wb_stmt", NULL, NULL, NULL);
        p->own_sp = 0;
    }
}

static void portal_free(wb_engine_session *s, wb_portal *p)
{
    if (s->run_portal == p) {
        s->run_portal = NULL;
        s->running = RUN_NONE;
    }
    portal_release_stmt(s, p);
    pstmt_unref(p->ps);
    free(p->name);
    free(p->formats);
    free(p->cols);
    free(p);
}

static void portal_drop(wb_engine_session *s, const char *name)
{
    for (wb_portal **pp = &s->portals; *pp; pp = &(*pp)->next)
        if (strcmp((*pp)->name, name) == 0) {
            wb_portal *p = *pp;
            *pp = p->next;
            portal_free(s, p);
            return;
        }
}

/* Result columns of a prepared statement: the translator's when it knows
 * them, else SQLite's (names, declared types). final = types that are
 * still unknown become text (a Describe has to answer now). */
static int resolve_cols(wb_engine_session *s, wb_pstmt *ps, sqlite3_stmt *st, int final, wb_buf *out)
{
    if (ps->cols_known || !ps->stmt || !ps->stmt->returns_rows)
        return 0;
    int own = 0, rc = SQLITE_OK;
    wb_sql_stmt *t = ps->stmt;
    if (!st && t->nsqlite > 0) {
        if (wb_sess_need_conn(s, out))
            return -1;
        st = wb_eng_stmt_get(s->conn, t->sqlite[t->nsqlite - 1], &rc);
        if (!st) {
            if (t->ncols == 0) {
                wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
                return -1;
            }
        } else
            own = 1;
    }
    int n = st ? sqlite3_column_count(st) : t->ncols;
    if (!ps->cols) {
        ps->cols = calloc((size_t)n + 1, sizeof *ps->cols);
        ps->colnames = calloc((size_t)n + 1, sizeof *ps->colnames);
        if (!ps->cols || !ps->colnames) {
            if (own)
                wb_eng_stmt_put(s->conn, st);
            return -1;
        }
        ps->ncols = n;
        for (int i = 0; i < n; i++) {
            wb_pg_column *c = &ps->cols[i];
            const char *nm = i < t->ncols && t->cols[i].name && t->cols[i].name[0] ? t->cols[i].name
                             : st                             ? sqlite3_column_name(st, i)
                                                              : "?column?";
            ps->colnames[i] = strdup(nm ? nm : "?column?");
            c->name = ps->colnames[i];
            c->typmod = -1;
            if (i < t->ncols) {
                c->table_oid = t->cols[i].table_oid;
                c->attnum = t->cols[i].attnum;
                c->type_oid = t->cols[i].type_oid;
                c->typmod = t->cols[i].typmod;
            }
            if (!c->type_oid && st) {
                uint32_t o;
                int32_t tm;
                wb_eng_decltype(sqlite3_column_decltype(st, i), &o, &tm);
                if (o) {
                    c->type_oid = o;
                    c->typmod = tm;
                }
            }
        }
    }
    if (final) {
        for (int i = 0; i < ps->ncols; i++) {
            if (!ps->cols[i].type_oid)
                ps->cols[i].type_oid = WB_PG_OID_TEXT;
            ps->cols[i].typlen = wb_eng_typlen(ps->cols[i].type_oid);
        }
        ps->cols_known = 1;
    }
    if (own)
        wb_eng_stmt_put(s->conn, st);
    return 0;
}

/* The portal's column types: the statement's, and for the ones nobody could
 * name beforehand, the storage class of the first row's values. */
static void portal_fix_cols(wb_portal *p, sqlite3_stmt *st, int have_row)
{
    for (int i = 0; i < p->ncols; i++) {
        if (p->cols[i].type_oid == 0) {
            p->cols[i].type_oid = have_row && i < sqlite3_column_count(st)
                                      ? (sqlite3_column_type(st, i) == SQLITE_NULL ? WB_PG_OID_TEXT
                                                                                   : wb_eng_oid_of_value(sqlite3_column_type(st, i)))
                                      : WB_PG_OID_TEXT;
            p->cols[i].typmod = -1;
        }
        p->cols[i].typlen = wb_eng_typlen(p->cols[i].type_oid);
        p->cols[i].format = p->formats ? p->formats[i] : 0;
    }
}

/* Bind a parameter set (n values in Bind layout) to every SQLite statement
 * parameter ?i. */
typedef struct params_view {
    uint16_t n;
    uint16_t nformats;
    const uint8_t *formats;
    const uint8_t *vals; /* Bind layout: Int32 len + bytes, n times */
    sqlite3_value **svals; /* EXECUTE's evaluated arguments instead */
} params_view;

static int bind_params(wb_engine_session *s, wb_pstmt *ps, sqlite3_stmt *st, const params_view *pv, wb_buf *out)
{
    int max = sqlite3_bind_parameter_count(st);
    const uint8_t *cur = pv->vals;
    for (int i = 0; i < pv->n; i++) {
        int32_t len = 0;
        const uint8_t *v = NULL;
        if (!pv->svals)
            v = wb_pg_bind_next_param(&cur, &len);
        if (i + 1 > max)
            continue;
        if (pv->svals) {
            sqlite3_bind_value(st, i + 1, pv->svals[i]);
            continue;
        }
        uint32_t oid = i >= ps->nparams ? 0 : ps->param_types ? ps->param_types[i] : domain_base(s, ps->param_oids[i]);
        char state[6] = "22P02", msg[300];
        int fmt = wb_pg_format_at(pv->nformats, pv->formats, (uint16_t)i);
        if (wb_eng_bind_value(st, i + 1, oid, fmt == 1, v, len, state, msg, sizeof msg)) {
            wb_sess_error(s, out, state, msg, NULL, NULL);
            return -1;
        }
    }
    return 0;
}

/* Constants the translation cache lifted out: ?(nparams + 1 + i), typed
 * by the translator (wb_sql_bind_literals). */
static void bind_literals(const wb_sql_stmt *t, sqlite3_stmt *st)
{
    if (t->nlits > 0)
        wb_sql_bind_literals(st, t);
}

static wb_portal *portal_new(wb_engine_session *s, const char *name, wb_pstmt *ps, uint16_t nrf,
                             const uint8_t *rformats, wb_buf *out)
{
    wb_portal *p = calloc(1, sizeof *p);
    if (!p || !(p->name = strdup(name))) {
        free(p);
        wb_sess_error(s, out, "53200", "out of memory", NULL, NULL);
        return NULL;
    }
    p->ps = ps;
    ps->refs++;
    if (ps->stmt && ps->stmt->returns_rows) {
        if (resolve_cols(s, ps, NULL, 0, out)) {
            portal_free(s, p);
            return NULL;
        }
        p->ncols = ps->ncols;
        p->cols = calloc((size_t)p->ncols + 1, sizeof *p->cols);
        p->formats = calloc((size_t)p->ncols + 1, sizeof *p->formats);
        if (!p->cols || !p->formats) {
            portal_free(s, p);
            wb_sess_error(s, out, "53200", "out of memory", NULL, NULL);
            return NULL;
        }
        memcpy(p->cols, ps->cols, sizeof *p->cols * (size_t)p->ncols);
        if (nrf > 1 && nrf != p->ncols) {
            char m[128];
            snprintf(m, sizeof m, "bind message has %u result formats but query has %d columns", nrf, p->ncols);
            portal_free(s, p);
            wb_sess_error(s, out, "08P01", m, NULL, NULL);
            return NULL;
        }
        for (int i = 0; i < p->ncols; i++)
            p->formats[i] = (int16_t)wb_pg_format_at(nrf, rformats, (uint16_t)i);
    }
    return p;
}

/* Prepare and bind the portal's main statement (Bind / EXECUTE / DECLARE). */
static int portal_prepare(wb_engine_session *s, wb_portal *p, const params_view *pv, wb_buf *out)
{
    wb_sql_stmt *t = p->ps->stmt;
    if (!t || t->kind != WB_SQL_RUN || t->nsqlite == 0)
        return 0;
    if (wb_sess_need_conn(s, out))
        return -1;
    int rc;
    p->st = wb_eng_stmt_get(s->conn, t->sqlite[t->nsqlite - 1], &rc);
    if (!p->st) {
        if (t->nsqlite > 1) /* may depend on what the earlier statements create: prepare at Execute */
            return 0;
        wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
        return -1;
    }
    if (pv && bind_params(s, p->ps, p->st, pv, out)) {
        portal_release_stmt(s, p);
        return -1;
    }
    bind_literals(t, p->st);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Running a portal                                                     */

static int is_ddl(const wb_sql_stmt *t)
{
    const char *g = t && t->tag ? t->tag : "";
    return !(strcmp(g, "SELECT") == 0 || strcmp(g, "INSERT") == 0 || strcmp(g, "UPDATE") == 0 ||
             strcmp(g, "DELETE") == 0 || strcmp(g, "MERGE") == 0 || strcmp(g, "VALUES") == 0 ||
             strcmp(g, "TABLE") == 0);
}

static void put_tag(wb_buf *out, const wb_sql_stmt *t, int64_t rows, int64_t changes, int fetch, int move)
{
    char tag[96];
    const char *base = t && t->tag ? t->tag : "SELECT";
    if (fetch || move)
        snprintf(tag, sizeof tag, "%s %lld", move ? "MOVE" : "FETCH", (long long)rows);
    else if (strcmp(base, "INSERT") == 0)
        snprintf(tag, sizeof tag, "INSERT 0 %lld", (long long)changes);
    else if (strcmp(base, "UPDATE") == 0 || strcmp(base, "DELETE") == 0 || strcmp(base, "MERGE") == 0)
        snprintf(tag, sizeof tag, "%s %lld", base, (long long)changes);
    else if (strcmp(base, "SELECT") == 0 || strcmp(base, "CREATE TABLE AS") == 0 ||
             strcmp(base, "SELECT INTO") == 0)
        snprintf(tag, sizeof tag, "SELECT %lld", (long long)(t && t->returns_rows ? rows : changes));
    else if (strcmp(base, "COPY") == 0)
        snprintf(tag, sizeof tag, "COPY %lld", (long long)rows);
    else
        snprintf(tag, sizeof tag, "%s", base);
    wb_pg_put_command_complete(out, tag);
}

/* One DataRow straight into out (the hot path: no intermediate arrays). */
static int put_row(wb_engine_session *s, wb_portal *p, sqlite3_stmt *st, wb_buf *out)
{
    size_t start = out->len;
    int n = p->ncols;
    if (wb_buf_reserve(out, 7 + (size_t)n * 16))
        return -1;
    out->p[out->len++] = 'D';
    out->len += 4;
    out->p[out->len++] = (uint8_t)(n >> 8);
    out->p[out->len++] = (uint8_t)n;
    for (int i = 0; i < n; i++) {
        if (p->cols[i].type_oid == 2278) { /* void (pg_sleep, pg_notify): an empty value, never NULL */
            static const uint8_t z[4] = {0, 0, 0, 0};
            if (wb_buf_append(out, z, 4))
                return -1;
            continue;
        }
        if (sqlite3_column_type(st, i) == SQLITE_NULL) {
            static const uint8_t m1[4] = {0xff, 0xff, 0xff, 0xff};
            if (wb_buf_append(out, m1, 4))
                return -1;
            continue;
        }
        if (wb_buf_reserve(out, 4))
            return -1;
        size_t lenpos = out->len;
        out->len += 4;
        int rc;
        if (p->formats && p->formats[i] == 1) {
            char msg[200] = "";
            rc = wb_eng_binary_out(st, i, p->cols[i].type_oid, p->cols[i].typmod, out, msg, sizeof msg);
            if (rc) {
                out->len = start;
                wb_sess_error(s, out, "22P02", msg[0] ? msg : "value cannot be sent in binary", NULL, NULL);
                return -2;
            }
        } else {
            rc = wb_eng_text_out(st, i, p->cols[i].type_oid, p->cols[i].typmod, out);
            if (rc)
                return -1;
        }
        uint32_t vl = (uint32_t)(out->len - lenpos - 4);
        out->p[lenpos] = (uint8_t)(vl >> 24);
        out->p[lenpos + 1] = (uint8_t)(vl >> 16);
        out->p[lenpos + 2] = (uint8_t)(vl >> 8);
        out->p[lenpos + 3] = (uint8_t)vl;
    }
    uint32_t ml = (uint32_t)(out->len - start - 1);
    out->p[start + 1] = (uint8_t)(ml >> 24);
    out->p[start + 2] = (uint8_t)(ml >> 16);
    out->p[start + 3] = (uint8_t)(ml >> 8);
    out->p[start + 4] = (uint8_t)ml;
    return 0;
}

static void set_deadline(wb_engine_session *s)
{
    s->h.why = WB_INT_NONE; /* what stops this statement, if anything */
    s->h.deadline_us = s->statement_timeout_ms > 0 ? wb_eng_now_us() + (int64_t)s->statement_timeout_ms * 1000 : 0;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* now() is the start of the transaction (PostgreSQL 15 docs §9.9.5): the
 * statement's own start in autocommit, the block's start inside one. */
void wb_sess_set_now(wb_engine_session *s)
{
    int64_t t = wall_us();
    if (s->tx != TX_NONE) {
        if (!s->xact_start_us)
            s->xact_start_us = t;
        t = s->xact_start_us;
    }
    if (s->conn)
        wb_eng_set_now(s->conn, t);
}

/* Start a portal: the SQLite transaction it needs, the statements before
 * the main one, then the main one prepared (if it was not at Bind). */
static int portal_begin(wb_engine_session *s, wb_portal *p, wb_buf *out)
{
    wb_sql_stmt *t = p->ps->stmt;
    if (wb_sess_need_conn(s, out))
        return -1;
    int interrupted = wb_eng_check_interrupt(&s->h);
    if (interrupted) {
        wb_sess_sqlite_error(s, out, NULL, SQLITE_INTERRUPT, NULL);
        return -1;
    }
    wb_sess_set_now(s);
    int write = t->nsqlite > 1 || (p->st && !sqlite3_stmt_readonly(p->st));
    if (s->tx == TX_BLOCK || s->tx == TX_IMPLICIT) {
        if (wb_sess_tx_begin(s, write, out))
            return -1;
    } else if (t->nsqlite > 1) {
        /* a statement of several SQLite statements is atomic on its own; a
         * table rebuild runs with foreign keys off (wb_sql_stmt.fk_off: the
         * pragma only takes effect outside a transaction) */
        if (t->fk_off && !s->sqlite_tx && exec_sql(s, "PRAGMA foreign_keys = OFF") == SQLITE_OK)
            p->fk_off = 1;
        if (wb_sess_tx_begin(s, 1, out)) {
            if (p->fk_off)
                exec_sql(s, "PRAGMA foreign_keys = ON");
            p->fk_off = 0;
            return -1;
        }
        p->own_tx = 1;
    }
    if (t->nsqlite > 1) {
        if (s->sqlite_tx && !p->own_tx) {
            int rc = sqlite3_exec(s->conn->db, "SAVEPOINT wb_stmt", NULL, NULL, NULL);
            if (rc != SQLITE_OK) {
                wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
                return -1;
            }
            p->own_sp = 1;
        }
        for (int i = 0; i < t->nsqlite - 1; i++) {
            int rc;
            sqlite3_stmt *st = wb_eng_stmt_get(s->conn, t->sqlite[i], &rc);
            if (!st) {
                if (rc == SQLITE_MISUSE)
                    continue;
                wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
                return -1;
            }
            bind_literals(t, st);
            while ((rc = wb_sess_step(s, st)) == SQLITE_ROW)
                ;
            if (rc != SQLITE_DONE) {
                wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
                wb_eng_stmt_put(s->conn, st);
                return -1;
            }
            wb_eng_stmt_put(s->conn, st);
        }
        if (!p->st) {
            int rc;
            p->st = wb_eng_stmt_get(s->conn, t->sqlite[t->nsqlite - 1], &rc);
            if (!p->st) {
                wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
                return -1;
            }
            bind_literals(t, p->st);
        }
    }
    p->started = 1;
    return 0;
}

/* The end of a portal's statement (done or failed): its savepoint and the
 * transaction it began itself. */
static int portal_finish(wb_engine_session *s, wb_portal *p, int ok, wb_buf *out)
{
    int rc = 0;
    if (p->own_sp) {
        sqlite3_exec(s->conn->db, ok ? "RELEASE wb_stmt" : "ROLLBACK TO wb_stmt; RELEASE wb_stmt", NULL, NULL, NULL);
        p->own_sp = 0;
    }
    if (p->own_tx) {
        p->own_tx = 0;
        if (ok) {
            int r = exec_sql(s, "COMMIT");
            if (r != SQLITE_OK) {
                wb_sess_sqlite_error(s, out, s->conn->db, r, NULL);
                rc = -1;
            }
        }
        if (!sqlite3_get_autocommit(s->conn->db))
            exec_sql(s, "ROLLBACK");
        s->sqlite_tx = 0;
        if (ok && rc == 0)
            deliver_notifies(s, 1);
    }
    if (p->fk_off) {
        exec_sql(s, "PRAGMA foreign_keys = ON");
        p->fk_off = 0;
    }
    return rc;
}

/* The portal's statement is over (ok or failed): reset it, close its
 * savepoint/transaction, give the statement back. */
static int portal_end(wb_engine_session *s, wb_portal *p, int ok, wb_buf *out)
{
    if (p->st)
        sqlite3_reset(p->st);
    int r = portal_finish(s, p, ok, out);
    portal_release_stmt(s, p);
    p->done = 1;
    if (s->tx == TX_NONE && !s->sqlite_tx) {
        deliver_notifies(s, ok && r == 0); /* pg_notify() in an autocommit statement */
        s->h.xid = 0;                       /* its transaction is over */
        wb_eng_advisory_release(&s->h, 1);  /* and its pg_advisory_xact_lock()s */
    }
    return r;
}

/* Send the portal's rows: up to max (0 = all). R_DONE with CommandComplete
 * written, R_SUSPENDED (max reached), R_MORE (out is full), R_ERROR. */
static int portal_run(wb_engine_session *s, wb_portal *p, int64_t max, int tag, wb_buf *out)
{
    wb_sql_stmt *t = p->ps->stmt;
    if (p->done) {
        if (tag)
            put_tag(out, t, 0, 0, s->run_fetch, s->run_move);
        return R_DONE;
    }
    if (!p->started) {
        set_deadline(s);
        if (portal_begin(s, p, out)) {
            portal_end(s, p, 0, out);
            p->done = 1;
            return R_ERROR;
        }
    }
    sqlite3_stmt *st = p->st;
    for (;;) {
        int rc;
        if (p->row_pending) {
            rc = p->row_pending == 2 ? SQLITE_DONE : SQLITE_ROW;
            p->row_pending = 0;
        } else {
            rc = wb_sess_step(s, st);
        }
        if (rc == SQLITE_ROW) {
            if (t->returns_rows && !s->run_move) {
                int r = put_row(s, p, st, out);
                if (r) {
                    if (r == -1)
                        wb_sess_error(s, out, "53200", "out of memory", NULL, NULL);
                    portal_end(s, p, 0, out);
                    p->done = 1;
                    s->h.deadline_us = 0;
                    return R_ERROR;
                }
            }
            p->rows++;
            p->total++;
            if (max > 0 && p->rows >= max)
                return R_SUSPENDED;
            if (out->len >= WB_ENGINE_OUT_HIGH)
                return R_MORE;
            continue;
        }
        s->h.deadline_us = 0;
        if (rc != SQLITE_DONE) {
            wb_sess_sqlite_error_st(s, out, s->conn->db, rc, NULL, st);
            portal_end(s, p, 0, out);
            p->done = 1;
            return R_ERROR;
        }
        int64_t changes = sqlite3_changes64(s->conn->db);
        if (is_ddl(t)) {
            /* translations made before may name what changed; a rolled
             * back transaction with DDL bumps it again (tx_end) */
            atomic_fetch_add(&s->db->schema_gen, 1);
            s->ddl_in_tx = 1;
        }
        if (portal_end(s, p, 1, out))
            return R_ERROR;
        if (tag)
            put_tag(out, t, p->rows, changes, s->run_fetch, s->run_move);
        return R_DONE;
    }
}

static void put_rowdesc(wb_buf *out, wb_portal *p)
{
    wb_pg_put_row_description(out, (uint16_t)p->ncols, p->cols);
}

/* Peek at the first row so that columns nobody could type get their type
 * from the value (simple Query, and portals never described before). */
static int portal_peek(wb_engine_session *s, wb_portal *p, wb_buf *out)
{
    int unknown = 0;
    for (int i = 0; i < p->ncols; i++)
        unknown |= p->cols[i].type_oid == 0;
    if (!unknown || p->started) {
        portal_fix_cols(p, p->st, 0);
        return 0;
    }
    set_deadline(s);
    if (portal_begin(s, p, out))
        return -1;
    int rc = wb_sess_step(s, p->st);
    if (rc == SQLITE_ROW)
        p->row_pending = 1;
    else if (rc != SQLITE_DONE) {
        wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
        portal_end(s, p, 0, out);
        p->done = 1;
        return -1;
    } else {
        /* no rows: finish now, the tag comes at Execute */
        p->row_pending = 2; /* the next step is this DONE: never run twice */
    }
    portal_fix_cols(p, p->st, rc == SQLITE_ROW);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Settings                                                            */

static int parse_ms(const char *v, int *ms)
{
    char *end;
    double x = strtod(v, &end);
    if (end == v)
        return -1;
    while (*end == ' ')
        end++;
    if (!*end || strcasecmp(end, "ms") == 0)
        ;
    else if (strcasecmp(end, "s") == 0)
        x *= 1000;
    else if (strcasecmp(end, "min") == 0)
        x *= 60000;
    else if (strcasecmp(end, "h") == 0)
        x *= 3600000;
    else if (strcasecmp(end, "us") == 0)
        x /= 1000;
    else
        return -1;
    if (x < 0 || x > 2147483647)
        return -1;
    *ms = (int)x;
    return 0;
}

static void apply_guc_side_effects(wb_engine_session *s)
{
    int i = guc_find("statement_timeout");
    int ms = 0;
    if (parse_ms(guc_get(s, i), &ms) == 0)
        s->statement_timeout_ms = ms;
}

/* Validate and normalise a value for setting i. NULL = rejected (message
 * in msg). Returns a malloc'd string. */
static char *guc_check(int i, const char *v, char *state, char *msg, size_t msglen)
{
    const char *name = gucs[i].name;
    if (gucs[i].readonly) {
        strcpy(state, "55P02");
        snprintf(msg, msglen, "parameter \"%s\" cannot be changed", name);
        return NULL;
    }
    if (strcasecmp(name, "hnsw.ef_search") == 0) {
        char *end;
        long ef = strtol(v, &end, 10);
        if (end == v || *end) {
            strcpy(state, "22023");
            snprintf(msg, msglen, "invalid value for parameter \"%s\": \"%s\"", name, v);
            return NULL;
        }
        if (ef < 1 || ef > 1000) {
            strcpy(state, "22023");
            snprintf(msg, msglen, "%ld is outside the valid range for parameter \"%s\" (1 .. 1000)", ef, name);
            return NULL;
        }
        char t[24];
        snprintf(t, sizeof t, "%ld", ef);
        return strdup(t);
    }
    if (strcasecmp(name, "statement_timeout") == 0 || strcasecmp(name, "lock_timeout") == 0 ||
        strcasecmp(name, "idle_in_transaction_session_timeout") == 0 || strcasecmp(name, "idle_session_timeout") == 0) {
        int ms;
        if (parse_ms(v, &ms)) {
            strcpy(state, "22023");
            snprintf(msg, msglen, "invalid value for parameter \"%s\": \"%s\"", name, v);
            return NULL;
        }
        char t[32];
        if (ms == 0)
            snprintf(t, sizeof t, "0");
        else if (ms % 60000 == 0)
            snprintf(t, sizeof t, "%dmin", ms / 60000);
        else if (ms % 1000 == 0)
            snprintf(t, sizeof t, "%ds", ms / 1000);
        else
            snprintf(t, sizeof t, "%dms", ms);
        return strdup(t);
    }
    if (strcasecmp(name, "client_encoding") == 0) {
        /* PostgreSQL's clean_encoding_name: letters and digits only
         * (asyncpg sends 'utf-8' with the quotes) */
        char clean[64];
        size_t k = 0;
        for (const char *c = v; *c && k + 1 < sizeof clean; c++)
            if (isalnum((unsigned char)*c))
                clean[k++] = (char)tolower((unsigned char)*c);
        clean[k] = 0;
        if (strcmp(clean, "utf8") == 0 || strcmp(clean, "unicode") == 0)
            return strdup("UTF8");
        if (strcmp(clean, "sqlascii") == 0)
            return strdup("SQL_ASCII");
        strcpy(state, "0A000");
        snprintf(msg, msglen, "conversion between %s and UTF8 is not supported", v);
        return NULL;
    }
    if (strcasecmp(name, "DateStyle") == 0) {
        char low[64];
        snprintf(low, sizeof low, "%s", v);
        for (char *c = low; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (strstr(low, "sql") || strstr(low, "postgres") || strstr(low, "german")) {
            strcpy(state, "0A000");
            snprintf(msg, msglen, "DateStyle \"%s\" is not supported (only ISO)", v);
            return NULL;
        }
        const char *order = strstr(low, "dmy") || strstr(low, "euro") ? "DMY" : strstr(low, "ymd") ? "YMD" : "MDY";
        char t[32];
        snprintf(t, sizeof t, "ISO, %s", order);
        return strdup(t);
    }
    if (strcasecmp(name, "IntervalStyle") == 0) {
        if (strcasecmp(v, "postgres") != 0) {
            strcpy(state, "0A000");
            snprintf(msg, msglen, "IntervalStyle \"%s\" is not supported (only postgres)", v);
            return NULL;
        }
        return strdup("postgres");
    }
    if (strcasecmp(name, "TimeZone") == 0) {
        if (strcasecmp(v, "UTC") == 0 || strcasecmp(v, "Etc/UTC") == 0 || strcasecmp(v, "GMT") == 0 ||
            strcasecmp(v, "Z") == 0 || strcasecmp(v, "Zulu") == 0 || strcmp(v, "0") == 0 ||
            strcasecmp(v, "Etc/GMT") == 0 || strcasecmp(v, "UCT") == 0 || strcasecmp(v, "Universal") == 0)
            return strdup(strcasecmp(v, "UTC") == 0 || strcmp(v, "0") == 0 ? "UTC" : v);
        /* timestamptz values are kept and shown in UTC: another zone would
         * be a silently different answer */
        strcpy(state, "0A000");
        snprintf(msg, msglen, "time zone \"%s\" is not supported (timestamptz is shown in UTC)", v);
        return NULL;
    }
    return strdup(v);
}

/* The startup packet's value of setting i (what RESET restores), or NULL. */
static const char *guc_reset_value(wb_engine_session *s, int i)
{
    for (int k = 0; k < s->nresets; k++)
        if (s->resets[k].idx == i)
            return s->resets[k].value;
    return NULL;
}

static int set_guc(wb_engine_session *s, const char *name, const char *value, int is_local, wb_buf *out)
{
    int i = guc_find(name);
    if (i < 0) {
        if (strchr(name, '.')) { /* custom (extension) settings are accepted as PostgreSQL does */
            return 0;
        }
        char m[200];
        snprintf(m, sizeof m, "unrecognized configuration parameter \"%s\"", name);
        wb_sess_error(s, out, "42704", m, NULL, NULL);
        return -1;
    }
    char state[6] = "22023", msg[256];
    char *nv = NULL;
    if (value) {
        nv = guc_check(i, value, state, msg, sizeof msg);
        if (!nv) {
            wb_sess_error(s, out, state, msg, NULL, NULL);
            return -1;
        }
    } else if (gucs[i].readonly) {
        snprintf(msg, sizeof msg, "parameter \"%s\" cannot be changed", gucs[i].name);
        wb_sess_error(s, out, "55P02", msg, NULL, NULL);
        return -1;
    } else if (guc_reset_value(s, i)) {
        /* RESET / DEFAULT: the value the session started with */
        nv = strdup(guc_reset_value(s, i));
    }
    if ((s->tx == TX_BLOCK || s->tx == TX_IMPLICIT) && !s->guc_tx_saved) {
        /* first SET inside a transaction: what ROLLBACK restores */
        s->guc_tx_saved = calloc(NGUCS, sizeof *s->guc_tx_saved);
        s->guc_local = calloc(NGUCS, 1);
        if (!s->guc_tx_saved || !s->guc_local) {
            free(s->guc_tx_saved), free(s->guc_local), free(nv);
            s->guc_tx_saved = NULL, s->guc_local = NULL;
            wb_sess_error(s, out, "53200", "out of memory", NULL, NULL);
            return -1;
        }
    }
    if ((s->tx == TX_BLOCK || s->tx == TX_IMPLICIT) && !s->guc_tx_saved[i]) {
        s->guc_tx_saved[i] = s->guc_values[i] ? strdup(s->guc_values[i]) : strdup("\x01");
    }
    free(s->guc_values[i]);
    s->guc_values[i] = nv;
    if (is_local && (s->tx == TX_BLOCK || s->tx == TX_IMPLICIT))
        s->guc_local[i] = 1; /* reverted at commit too */
    apply_guc_side_effects(s);
    return 0;
}

static void show_guc(wb_engine_session *s, const char *name, wb_buf *out)
{
    if (strcasecmp(name, "all") == 0) {
        wb_pg_column cols[3] = {{.name = "name", .type_oid = 25, .typlen = -1, .typmod = -1},
                                {.name = "setting", .type_oid = 25, .typlen = -1, .typmod = -1},
                                {.name = "description", .type_oid = 25, .typlen = -1, .typmod = -1}};
        wb_pg_put_row_description(out, 3, cols);
        int n = 0;
        for (int i = 0; i < NGUCS; i++) {
            if (guc_find(gucs[i].name) != i)
                continue;
            const char *v = guc_get(s, i);
            const uint8_t *vals[3] = {(const uint8_t *)gucs[i].name, (const uint8_t *)v, (const uint8_t *)""};
            int32_t lens[3] = {(int32_t)strlen(gucs[i].name), (int32_t)strlen(v), 0};
            wb_pg_put_datarow(out, 3, vals, lens);
            n++;
        }
        char tag[32];
        snprintf(tag, sizeof tag, "SHOW");
        wb_pg_put_command_complete(out, tag);
        return;
    }
    int i = guc_find(name);
    const char *v;
    char tmp[64];
    if (i < 0) {
        if (strcasecmp(name, "transaction isolation level") == 0)
            i = guc_find("transaction_isolation");
        else if (strcasecmp(name, "session authorization") == 0)
            i = guc_find("session_authorization");
        else if (strcasecmp(name, "time zone") == 0)
            i = guc_find("TimeZone");
    }
    if (i < 0) {
        char m[200];
        snprintf(m, sizeof m, "unrecognized configuration parameter \"%s\"", name);
        wb_sess_error(s, out, "42704", m, NULL, NULL);
        return;
    }
    v = guc_get(s, i);
    if (strcmp(gucs[i].name, "session_authorization") == 0 && !s->guc_values[i])
        v = s->h.user;
    (void)tmp;
    wb_pg_column col = {.name = gucs[i].name, .type_oid = 25, .typlen = -1, .typmod = -1};
    wb_pg_put_row_description(out, 1, &col);
    const uint8_t *vals[1] = {(const uint8_t *)v};
    int32_t lens[1] = {(int32_t)strlen(v)};
    wb_pg_put_datarow(out, 1, vals, lens);
    wb_pg_put_command_complete(out, "SHOW");
}

/* current_setting(name [, missing_ok]) and set_config(name, value,
 * is_local) on the session using the connection (PostgreSQL 15 docs
 * §9.27.1). Errors carry their SQLSTATE first, as the translator's
 * functions do (wb_sql_sqlite_error). */
static wb_engine_session *fn_session(sqlite3_context *cx)
{
    wb_econn *c = sqlite3_user_data(cx);
    return (wb_engine_session *)c->session; /* wb_sess_hdr is its first member */
}

static void fn_current_setting(sqlite3_context *cx, int n, sqlite3_value **v)
{
    wb_engine_session *s = fn_session(cx);
    const char *name = (const char *)sqlite3_value_text(v[0]);
    if (!s || !name) {
        sqlite3_result_null(cx);
        return;
    }
    int i = guc_find(name);
    if (i < 0) {
        if (n > 1 && sqlite3_value_int(v[1])) {
            sqlite3_result_null(cx);
            return;
        }
        char m[300];
        snprintf(m, sizeof m, "42704 unrecognized configuration parameter \"%s\"", name);
        sqlite3_result_error(cx, m, -1);
        return;
    }
    const char *val = guc_get(s, i);
    if (strcmp(gucs[i].name, "session_authorization") == 0 && !s->guc_values[i])
        val = s->h.user;
    sqlite3_result_text(cx, val, -1, SQLITE_TRANSIENT);
}

static void fn_set_config(sqlite3_context *cx, int n, sqlite3_value **v)
{
    (void)n;
    wb_engine_session *s = fn_session(cx);
    const char *name = (const char *)sqlite3_value_text(v[0]);
    const char *value = (const char *)sqlite3_value_text(v[1]);
    if (!s || !name) {
        sqlite3_result_null(cx);
        return;
    }
    wb_buf err = {0};
    if (set_guc(s, name, value, sqlite3_value_int(v[2]), &err)) {
        wb_pg_msg m = {'E', (uint32_t)(err.len - 5), err.p + 5};
        wb_pg_fields f;
        char e[100], msg[600];
        if (err.len > 5 && wb_pg_parse_fields(&m, &f, e, sizeof e) == 0 && f.sqlstate && f.message)
            snprintf(msg, sizeof msg, "%s %s", f.sqlstate, f.message);
        else
            snprintf(msg, sizeof msg, "22023 invalid value for parameter \"%s\"", name);
        wb_buf_free(&err);
        sqlite3_result_error(cx, msg, -1);
        return;
    }
    wb_buf_free(&err);
    int i = guc_find(name);
    sqlite3_result_text(cx, i >= 0 ? guc_get(s, i) : value, -1, SQLITE_TRANSIENT);
}

/* A setting's text in its pg_settings unit (PostgreSQL 15 docs §20.1.1:
 * memory in B/kB/MB/GB/TB, time in us/ms/s/min/h/d; pg_settings shows
 * setting, boot_val and reset_val as a number of `unit`): "4MB" with unit
 * kB is "4096". Values without a unit suffix, or settings without a unit,
 * are returned as they are. */
static void guc_in_unit(const char *v, const char *unit, char *dst, size_t cap)
{
    snprintf(dst, cap, "%s", v ? v : "");
    if (!v || !unit)
        return;
    char *end;
    double x = strtod(v, &end);
    if (end == v)
        return;
    while (*end == ' ')
        end++;
    static const struct { const char *u; double base; int mem; } units[] = {
        {"B", 1.0 / 1024, 1}, {"kB", 1, 1}, {"MB", 1024, 1}, {"GB", 1024.0 * 1024, 1}, {"TB", 1024.0 * 1024 * 1024, 1},
        {"8kB", 8, 1}, {"us", 0.001, 0}, {"ms", 1, 0}, {"s", 1000, 0}, {"min", 60000, 0}, {"h", 3600000, 0},
        {"d", 86400000, 0}};
    double from = -1, to = -1;
    int from_mem = -1, to_mem = -2;
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (*end && strcmp(units[i].u, end) == 0) { from = units[i].base; from_mem = units[i].mem; }
        if (strcmp(units[i].u, unit) == 0) { to = units[i].base; to_mem = units[i].mem; }
    }
    if (!*end || to < 0 || from < 0 || from_mem != to_mem)
        return;
    snprintf(dst, cap, "%.0f", x * from / to);
}

/* wb_settings(): the rows of pg_settings for this session as a JSON array
 * of [name, setting, unit, category, short_desc, extra_desc, context,
 * vartype, source, min_val, max_val, enumvals, boot_val, reset_val] (the
 * catalog view, translate_catalog.c, spreads them into columns). The
 * values are the session's, as current_setting and SHOW give them, in the
 * setting's unit; settings PostgreSQL leaves out of pg_settings
 * (is_superuser, session_authorization) are left out. source is default,
 * client (the startup packet) or session (SET / set_config). */
static void fn_settings(sqlite3_context *cx, int n, sqlite3_value **v)
{
    (void)n;
    (void)v;
    wb_engine_session *s = fn_session(cx);
    sqlite3 *db = sqlite3_context_db_handle(cx);
    sqlite3_str *out = sqlite3_str_new(db);
    sqlite3_str_appendchar(out, 1, '[');
    int first = 1;
    for (size_t m = 0; s && m < sizeof guc_meta / sizeof guc_meta[0]; m++) {
        const struct guc_meta *g = &guc_meta[m];
        int i = guc_find(g->name);
        if (i < 0)
            continue;
        const char *reset = gucs[i].boot, *source = "default";
        for (int r = 0; r < s->nresets; r++)
            if (s->resets[r].idx == i) {
                reset = s->resets[r].value;
                source = "client";
            }
        if (s->guc_values[i] && (source[0] == 'd' || strcmp(s->guc_values[i], reset) != 0))
            source = "session";
        char setting[64], boot[64], rst[64];
        guc_in_unit(guc_get(s, i), g->unit, setting, sizeof setting);
        guc_in_unit(gucs[i].boot, g->unit, boot, sizeof boot);
        guc_in_unit(reset, g->unit, rst, sizeof rst);
        /* JSON strings: the texts hold no control characters */
        const char *f[14] = {g->name, setting, g->unit, g->category, g->short_desc, g->extra_desc, g->context,
                             g->vartype, source, g->min_val, g->max_val, g->enumvals, boot, rst};
        sqlite3_str_appendall(out, first ? "[" : ",[");
        first = 0;
        for (int k = 0; k < 14; k++) {
            if (k)
                sqlite3_str_appendchar(out, 1, ',');
            if (!f[k]) {
                sqlite3_str_appendall(out, "null");
                continue;
            }
            sqlite3_str_appendchar(out, 1, '"');
            for (const char *c = f[k]; *c; c++) {
                if (*c == '"' || *c == '\\')
                    sqlite3_str_appendchar(out, 1, '\\');
                sqlite3_str_appendchar(out, 1, *c);
            }
            sqlite3_str_appendchar(out, 1, '"');
        }
        sqlite3_str_appendchar(out, 1, ']');
    }
    sqlite3_str_appendchar(out, 1, ']');
    char *r = sqlite3_str_finish(out);
    if (!r) {
        sqlite3_result_error_nomem(cx);
        return;
    }
    sqlite3_result_text(cx, r, -1, sqlite3_free);
}

/* pg_notify(channel, payload): NOTIFY as a function, delivered when the
 * transaction (or the autocommit statement) commits. */
static void fn_pg_notify(sqlite3_context *cx, int n, sqlite3_value **v)
{
    (void)n;
    wb_engine_session *s = fn_session(cx);
    const char *ch = (const char *)sqlite3_value_text(v[0]);
    const char *pl = (const char *)sqlite3_value_text(v[1]);
    if (!s || !ch || !*ch) {
        sqlite3_result_error(cx, "22023 channel name cannot be empty", -1);
        return;
    }
    wb_notice_q *q = calloc(1, sizeof *q);
    if (!q || !(q->channel = strdup(ch)) || (pl && !(q->payload = strdup(pl)))) {
        if (q)
            free(q->channel);
        free(q);
        sqlite3_result_error_nomem(cx);
        return;
    }
    *s->notifies_tail = q;
    s->notifies_tail = &q->next;
    sqlite3_result_null(cx);
}

int wb_sess_register_functions(sqlite3 *db, void *conn)
{
    int rc = sqlite3_create_function_v2(db, "current_setting", 1, SQLITE_UTF8, conn, fn_current_setting, NULL,
                                        NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function_v2(db, "current_setting", 2, SQLITE_UTF8, conn, fn_current_setting, NULL,
                                        NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function_v2(db, "set_config", 3, SQLITE_UTF8, conn, fn_set_config, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function_v2(db, "wb_settings", 0, SQLITE_UTF8, conn, fn_settings, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function_v2(db, "pg_notify", 2, SQLITE_UTF8, conn, fn_pg_notify, NULL, NULL, NULL);
    return rc;
}

/* ------------------------------------------------------------------ */
/* LISTEN / NOTIFY                                                     */

static void listen_add(wb_engine_session *s, const char *ch)
{
    pthread_mutex_lock(&s->lmu);
    int found = 0;
    for (int i = 0; i < s->nchannels; i++)
        found |= strcmp(s->channels[i], ch) == 0;
    if (!found) {
        char **n = realloc(s->channels, sizeof *n * (size_t)(s->nchannels + 1));
        if (n) {
            s->channels = n;
            if ((n[s->nchannels] = strdup(ch)))
                s->nchannels++;
        }
    }
    pthread_mutex_unlock(&s->lmu);
}

static void listen_remove(wb_engine_session *s, const char *ch)
{
    pthread_mutex_lock(&s->lmu);
    for (int i = 0; i < s->nchannels;) {
        if (!ch || strcmp(s->channels[i], ch) == 0) {
            free(s->channels[i]);
            s->channels[i] = s->channels[--s->nchannels];
        } else
            i++;
    }
    pthread_mutex_unlock(&s->lmu);
}

int wb_engine_session_listening(wb_engine_session *s, const char *channel)
{
    pthread_mutex_lock(&s->lmu);
    int r = 0;
    for (int i = 0; i < s->nchannels && !r; i++)
        r = strcmp(s->channels[i], channel) == 0;
    pthread_mutex_unlock(&s->lmu);
    return r;
}

void wb_engine_session_interrupt(wb_engine_session *s, int terminate)
{
    if (terminate)
        atomic_store(&s->h.terminate, 1);
    else
        atomic_store(&s->h.cancel, 1);
    pthread_mutex_lock(&s->imu);
    if (s->running_db)
        sqlite3_interrupt(s->running_db);
    pthread_mutex_unlock(&s->imu);
}

char wb_engine_session_txn_status(const wb_engine_session *s)
{
    switch (s->tx) {
    case TX_BLOCK: return 'T';
    case TX_FAILED: return 'E';
    default: return 'I';
    }
}

/* ------------------------------------------------------------------ */
/* Session lifetime                                                    */

static void apply_options(wb_engine_session *s, const char *opts, wb_buf *out)
{
    /* "-c name=value" / "--name=value", space-separated, backslash escapes */
    const char *p = opts;
    while (*p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        char tok[512];
        size_t n = 0;
        while (*p && *p != ' ' && n + 1 < sizeof tok) {
            if (*p == '\\' && p[1])
                p++;
            tok[n++] = *p++;
        }
        tok[n] = 0;
        const char *kv = NULL;
        if (strcmp(tok, "-c") == 0)
            continue;
        if (strncmp(tok, "--", 2) == 0)
            kv = tok + 2;
        else if (strncmp(tok, "-c", 2) == 0)
            kv = tok + 2;
        else
            kv = tok;
        char *eq = strchr(kv, '=');
        if (!eq)
            continue;
        *eq = 0;
        for (char *c = (char *)kv; *c; c++)
            if (*c == '-')
                *c = '_';
        wb_buf dummy = {0};
        set_guc(s, kv, eq + 1, 0, &dummy);
        wb_buf_free(&dummy);
    }
    (void)out;
}

wb_engine_session *wb_engine_session_new(wb_engine *e, const char *db, const char *user,
                                         const char *const *names, const char *const *values, int n,
                                         int32_t pid, wb_buf *out, wb_engine_error *err)
{
    wb_edb *d = wb_eng_db_attach(e, db, err);
    if (!d)
        return NULL;
    wb_engine_session *s = calloc(1, sizeof *s);
    if (!s || !(s->h.dbname = strdup(db)) || !(s->h.user = strdup(user)) ||
        !(s->guc_values = calloc(NGUCS, sizeof *s->guc_values))) {
        if (s) {
            free(s->h.dbname), free(s->h.user), free(s->guc_values);
            free(s);
        }
        wb_eng_db_detach(e, d);
        snprintf(err->sqlstate, sizeof err->sqlstate, "53300");
        snprintf(err->message, sizeof err->message, "out of memory");
        return NULL;
    }
    s->h.e = e;
    s->h.pid = pid;
    s->h.serial = atomic_fetch_add(&e->next_serial, 1) + 1;
    s->idle = 1; /* the server sends ReadyForQuery next */
    s->db = d;
    s->notifies_tail = &s->notifies;
    pthread_mutex_init(&s->imu, NULL);
    pthread_mutex_init(&s->lmu, NULL);
    s->guc_values[guc_find("session_authorization")] = strdup(user);
    for (int i = 0; i < n; i++) {
        if (strcmp(names[i], "options") == 0) {
            apply_options(s, values[i], out);
            continue;
        }
        if (strcmp(names[i], "replication") == 0) {
            if (strcasecmp(values[i], "false") != 0 && strcasecmp(values[i], "off") != 0 &&
                strcmp(values[i], "0") != 0) {
                snprintf(err->sqlstate, sizeof err->sqlstate, "0A000");
                snprintf(err->message, sizeof err->message, "replication connections are not supported");
                wb_engine_session_free(s);
                return NULL;
            }
            continue;
        }
        int gi = guc_find(names[i]);
        if (gi < 0 || gucs[gi].readonly)
            continue;
        char state[6], msg[256];
        char *v = guc_check(gi, values[i], state, msg, sizeof msg);
        if (!v) {
            snprintf(err->sqlstate, sizeof err->sqlstate, "%s", strcmp(state, "0A000") == 0 ? "22023" : state);
            snprintf(err->message, sizeof err->message, "%s", msg);
            wb_engine_session_free(s);
            return NULL;
        }
        free(s->guc_values[gi]);
        s->guc_values[gi] = v;
    }
    /* what RESET and DISCARD ALL go back to (PostgreSQL: the values of
     * the startup packet) */
    int nset = 0;
    for (int i = 0; i < NGUCS; i++)
        nset += s->guc_values[i] != NULL;
    s->resets = calloc((size_t)nset + 1, sizeof *s->resets);
    for (int i = 0; s->resets && i < NGUCS; i++)
        if (s->guc_values[i] && (s->resets[s->nresets].value = strdup(s->guc_values[i])))
            s->resets[s->nresets++].idx = i;
    apply_guc_side_effects(s);
    report_params(s, out);
    return s;
}

void wb_engine_session_free(wb_engine_session *s)
{
    if (!s)
        return;
    wb_copy_free(s);
    query_free(s);
    close_portals(s, 0);
    if (s->conn) {
        if (s->sqlite_tx && !sqlite3_get_autocommit(s->conn->db))
            sqlite3_exec(s->conn->db, "ROLLBACK", NULL, NULL, NULL);
        s->sqlite_tx = 0;
    }
    s->tx = TX_NONE;
    wb_eng_advisory_release(&s->h, 0);
    listen_ops_end(s, 0);
    deliver_notifies(s, 0);
    while (s->stmts) {
        wb_pstmt *p = s->stmts;
        s->stmts = p->next;
        pstmt_unref(p);
    }
    if (s->conn) {
        wb_econn *c = s->conn;
        pthread_mutex_lock(&s->imu);
        s->conn = NULL;
        s->running_db = NULL;
        pthread_mutex_unlock(&s->imu);
        wb_eng_conn_put(c);
    }
    wb_eng_db_detach(s->h.e, s->db);
    listen_remove(s, NULL);
    free(s->channels);
    for (int i = 0; i < NGUCS; i++) {
        free(s->guc_values[i]);
        if (s->guc_tx_saved)
            free(s->guc_tx_saved[i]);
    }
    for (int k = 0; k < s->nresets; k++)
        free(s->resets[k].value);
    free(s->resets);
    free(s->guc_values);
    free(s->guc_tx_saved);
    free(s->guc_local);
    pthread_mutex_destroy(&s->imu);
    pthread_mutex_destroy(&s->lmu);
    wb_buf_free(&s->scratch);
    free(s->h.dbname);
    free(s->h.user);
    free(s);
}

/* ------------------------------------------------------------------ */
/* Statements                                                          */

static int is_tx_exit(const wb_sql_stmt *t)
{
    return t && (t->kind == WB_SQL_COMMIT || t->kind == WB_SQL_ROLLBACK || t->kind == WB_SQL_ROLLBACK_TO);
}

static int savepoint_cmd(wb_engine_session *s, wb_sql_stmt *t, wb_buf *out)
{
    const char *what = t->kind == WB_SQL_SAVEPOINT ? "SAVEPOINT" : t->kind == WB_SQL_RELEASE ? "RELEASE SAVEPOINT"
                                                                                            : "ROLLBACK TO SAVEPOINT";
    if (s->tx != TX_BLOCK && s->tx != TX_FAILED) {
        char m[128];
        snprintf(m, sizeof m, "%s can only be used in transaction blocks", what);
        wb_sess_error(s, out, "25P01", m, NULL, NULL);
        return -1;
    }
    if (wb_sess_need_conn(s, out))
        return -1;
    if (t->kind == WB_SQL_SAVEPOINT && wb_sess_tx_begin(s, 0, out))
        return -1;
    char *q = wb_eng_quote_ident(t->name ? t->name : "");
    char sql[600];
    snprintf(sql, sizeof sql, "%s %s",
             t->kind == WB_SQL_SAVEPOINT ? "SAVEPOINT" : t->kind == WB_SQL_RELEASE ? "RELEASE" : "ROLLBACK TO", q);
    free(q);
    int rc = s->sqlite_tx ? sqlite3_exec(s->conn->db, sql, NULL, NULL, NULL) : SQLITE_ERROR;
    if (rc != SQLITE_OK) {
        char m[300];
        snprintf(m, sizeof m, "savepoint \"%s\" does not exist", t->name ? t->name : "");
        wb_sess_error(s, out, "3B001", m, NULL, NULL);
        return -1;
    }
    if (t->kind == WB_SQL_ROLLBACK_TO)
        s->tx = TX_BLOCK;
    wb_pg_put_command_complete(out, t->kind == WB_SQL_SAVEPOINT ? "SAVEPOINT" : t->kind == WB_SQL_RELEASE ? "RELEASE" : "ROLLBACK");
    return 0;
}

static int exec_stmt(wb_engine_session *s, wb_sql_stmt *t, wb_buf *out, int simple, wb_portal *p, int64_t max);

/* Run a statement through a portal (simple Query: a throwaway one). */
static int run_portal(wb_engine_session *s, wb_portal *p, wb_sql_stmt *t, int64_t max, int simple, wb_buf *out)
{
    s->running = RUN_PORTAL;
    s->run_portal = p;
    s->run_max = max;
    s->run_simple = simple;
    s->run_stmt = t;
    p->rows = 0;
    int r = portal_run(s, p, max, 1, out);
    if (r != R_MORE) {
        s->running = RUN_NONE;
        s->run_portal = NULL;
    }
    if (r == R_SUSPENDED && !simple)
        wb_pg_put_empty(out, 's');
    return r;
}

static int exec_run_simple(wb_engine_session *s, wb_sql_stmt *t, wb_buf *out)
{
    wb_pstmt *ps = calloc(1, sizeof *ps);
    if (!ps || !(ps->name = strdup(""))) {
        free(ps);
        wb_sess_error(s, out, "53200", "out of memory", NULL, NULL);
        return R_ERROR;
    }
    ps->stmt = t; /* borrowed from s->q: list stays empty */
    ps->refs = 1;
    wb_portal *p = portal_new(s, "\x01simple", ps, 0, NULL, out);
    pstmt_unref(ps);
    if (!p)
        return R_ERROR;
    p->next = s->portals;
    s->portals = p;
    if (portal_prepare(s, p, NULL, out) || (t->returns_rows && portal_peek(s, p, out))) {
        portal_drop(s, p->name);
        return R_ERROR;
    }
    if (t->returns_rows)
        put_rowdesc(out, p);
    int r = run_portal(s, p, t, 0, 1, out);
    if (r != R_MORE)
        portal_drop(s, p->name);
    return r;
}

/* FETCH / MOVE on a cursor or on a named protocol-level portal (asyncpg's
 * Cursor.forward() sends MOVE to its portal). Cursors read forward: NEXT,
 * FORWARD n, ALL, and ABSOLUTE/RELATIVE to a row ahead; going back is
 * PostgreSQL's 55000 for a cursor without SCROLL, and not offered (0A000)
 * for one with it. */
static int cursor_fetch(wb_engine_session *s, wb_sql_stmt *t, wb_buf *out, int simple)
{
    wb_portal *p = t->name && t->name[0] != '\x01' ? portal_find(s, t->name) : NULL;
    if (!p) {
        char m[300];
        snprintf(m, sizeof m, "cursor \"%s\" does not exist", t->name ? t->name : "");
        wb_sess_error(s, out, "34000", m, NULL, NULL);
        return R_ERROR;
    }
    int64_t pos = p->total, skip = 0, n = 0;
    int64_t cnt = t->fetch_count;
    int64_t target = -1; /* a row at or before the position: read again */
    switch (t->fetch_direction) {
    case 0: n = cnt == INT64_MAX ? 0 : cnt; break; /* FORWARD (0 = all) */
    case 2: /* ABSOLUTE */
        if (cnt <= pos) {
            if (cnt < 0)
                goto backward;
            target = cnt;
            break;
        }
        skip = cnt - pos - 1;
        n = 1;
        break;
    case 3: /* RELATIVE */
        if (cnt <= 0) {
            target = pos + cnt;
            break;
        }
        skip = cnt - 1;
        n = 1;
        break;
    default:
        if (cnt == 0) {
            n = 0;
            goto zero;
        }
        if (cnt != 1) /* BACKWARD n: rows in reverse order, not offered */
            goto backward;
        target = pos - 1; /* PRIOR */
        break;
    }
    if (target >= 0) {
        /* a SCROLL cursor goes back by reading its query again from the
         * start: the transaction's snapshot gives the same rows */
        if (!p->is_cursor || !p->scroll || !s->sqlite_tx || !p->ps->stmt)
            goto backward;
        if (p->st)
            sqlite3_reset(p->st);
        else if (portal_prepare(s, p, NULL, out) || !p->st)
            return R_ERROR;
        p->started = 1;
        p->done = 0;
        p->row_pending = 0;
        p->total = 0;
        if (target == 0) { /* before the first row */
            n = 0;
            goto zero;
        }
        skip = target - 1;
        n = 1;
    }
    s->run_fetch = t->kind == WB_SQL_FETCH;
    s->run_move = t->kind == WB_SQL_MOVE;
    if (cnt == 0 && t->fetch_direction == 0) {
    zero:
        if (simple && t->kind == WB_SQL_FETCH)
            put_rowdesc(out, p);
        put_tag(out, t, 0, 0, t->kind == WB_SQL_FETCH, t->kind == WB_SQL_MOVE);
        s->run_fetch = s->run_move = 0;
        return R_DONE;
    }
    if (skip > 0 && !p->done) {
        /* rows before the target: read, not sent */
        int fetch = s->run_fetch;
        s->run_fetch = 0;
        s->run_move = 1;
        p->rows = 0;
        int r;
        do
            r = portal_run(s, p, skip - p->rows, 0, out);
        while (r == R_MORE);
        s->run_move = t->kind == WB_SQL_MOVE;
        s->run_fetch = fetch;
        if (r == R_ERROR) {
            s->run_fetch = s->run_move = 0;
            return R_ERROR;
        }
    }
    if (simple && s->run_fetch)
        put_rowdesc(out, p);
    s->running = RUN_PORTAL;
    s->run_portal = p;
    s->run_max = n;
    s->run_simple = simple;
    s->run_stmt = t;
    p->rows = 0;
    int r = portal_run(s, p, n, 0, out);
    if (r == R_MORE)
        return r;
    s->running = RUN_NONE;
    s->run_portal = NULL;
    if (r == R_SUSPENDED || r == R_DONE)
        put_tag(out, t, p->rows, 0, s->run_fetch, s->run_move);
    s->run_fetch = s->run_move = 0;
    return r == R_ERROR ? R_ERROR : R_DONE;
backward:
    if (p->is_cursor && !p->scroll) {
        wb_sess_error(s, out, "55000", "cursor can only scan forward", NULL, NULL);
        return R_ERROR;
    }
    wb_sess_error(s, out, "0A000", "FETCH BACKWARD of several rows or from the end is not supported", NULL, NULL);
    return R_ERROR;
}

static int declare_cursor(wb_engine_session *s, wb_sql_stmt *t, wb_buf *out)
{
    int hold = (t->cursor_flags & 4) != 0;
    if (s->tx != TX_BLOCK && !hold) {
        wb_sess_error(s, out, "25P01", "DECLARE CURSOR can only be used in transaction blocks", NULL, NULL);
        return R_ERROR;
    }
    if (!t->inner || t->inner->kind != WB_SQL_RUN || !t->inner->returns_rows) {
        wb_sess_error(s, out, "42601", "DECLARE CURSOR needs a query that returns rows", NULL, NULL);
        return R_ERROR;
    }
    if (portal_find(s, t->name)) {
        char m[300];
        snprintf(m, sizeof m, "cursor \"%s\" already exists", t->name);
        wb_sess_error(s, out, "42P03", m, NULL, NULL);
        return R_ERROR;
    }
    wb_pstmt *ps = calloc(1, sizeof *ps);
    if (!ps || !(ps->name = strdup(t->name))) {
        free(ps);
        wb_sess_error(s, out, "53200", "out of memory", NULL, NULL);
        return R_ERROR;
    }
    /* the cursor owns its query: move it out of the DECLARE statement */
    ps->list.stmts = malloc(sizeof *ps->list.stmts);
    if (!ps->list.stmts) {
        free(ps->name);
        free(ps);
        return R_ERROR;
    }
    ps->list.stmts[0] = t->inner;
    ps->list.n = 1;
    t->inner = NULL;
    ps->stmt = ps->list.stmts[0];
    ps->refs = 1;
    int16_t fmt = (t->cursor_flags & 1) ? 1 : 0;
    wb_portal *p = portal_new(s, t->name, ps, 1, (const uint8_t *)(fmt ? "\0\1" : "\0\0"), out);
    pstmt_unref(ps);
    if (!p)
        return R_ERROR;
    p->is_cursor = 1;
    p->scroll = (t->cursor_flags & 2) != 0;
    p->hold = hold;
    p->next = s->portals;
    s->portals = p;
    if (portal_prepare(s, p, NULL, out) || portal_peek(s, p, out)) {
        portal_drop(s, t->name);
        return R_ERROR;
    }
    if (hold && !p->started) {
        /* PostgreSQL materialises a holdable cursor at COMMIT: its rows are
         * the transaction's snapshot. Reading the first row now opens that
         * snapshot; the statement keeps it after COMMIT. */
        set_deadline(s);
        int rc = SQLITE_OK;
        if (portal_begin(s, p, out) || ((rc = wb_sess_step(s, p->st)) != SQLITE_ROW && rc != SQLITE_DONE)) {
            if (rc != SQLITE_OK)
                wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
            portal_drop(s, t->name);
            s->h.deadline_us = 0;
            return R_ERROR;
        }
        s->h.deadline_us = 0;
        p->row_pending = rc == SQLITE_ROW ? 1 : 2;
    }
    wb_pg_put_command_complete(out, "DECLARE CURSOR");
    return R_DONE;
}

static int prepare_sql(wb_engine_session *s, wb_sql_stmt *t, wb_buf *out)
{
    if (pstmt_find(s, t->name, 1)) {
        char m[300];
        snprintf(m, sizeof m, "prepared statement \"%s\" already exists", t->name);
        wb_sess_error(s, out, "42P05", m, NULL, NULL);
        return R_ERROR;
    }
    wb_pstmt *ps = calloc(1, sizeof *ps);
    if (!ps || !(ps->name = strdup(t->name)) || !(ps->list.stmts = malloc(sizeof *ps->list.stmts))) {
        if (ps)
            free(ps->name);
        free(ps);
        wb_sess_error(s, out, "53200", "out of memory", NULL, NULL);
        return R_ERROR;
    }
    ps->list.stmts[0] = t->inner;
    ps->list.n = 1;
    t->inner = NULL;
    ps->stmt = ps->list.stmts[0];
    ps->sql_level = 1;
    ps->refs = 1;
    int np = ps->stmt ? ps->stmt->nparams : 0;
    if (t->nparams > np)
        np = t->nparams;
    ps->nparams = np;
    ps->param_oids = calloc((size_t)np + 1, sizeof *ps->param_oids);
    for (int i = 0; i < np; i++) {
        uint32_t o = i < t->nparams && t->param_oids[i] ? t->param_oids[i]
                     : ps->stmt && i < ps->stmt->nparams ? ps->stmt->param_oids[i]
                                                         : 0;
        ps->param_oids[i] = o ? o : WB_PG_OID_TEXT;
    }
    pstmt_param_types(s, ps);
    ps->next = s->stmts;
    s->stmts = ps;
    wb_pg_put_command_complete(out, "PREPARE");
    return R_DONE;
}

static int execute_sql(wb_engine_session *s, wb_sql_stmt *t, wb_buf *out, int simple)
{
    wb_pstmt *ps = pstmt_find(s, t->name ? t->name : "", 1);
    if (!ps) {
        char m[300];
        snprintf(m, sizeof m, "prepared statement \"%s\" does not exist", t->name ? t->name : "");
        wb_sess_error(s, out, "26000", m, NULL, NULL);
        return R_ERROR;
    }
    if (t->nargs != ps->nparams) {
        char m[200];
        snprintf(m, sizeof m, "wrong number of parameters for prepared statement \"%s\"", ps->name);
        wb_sess_error(s, out, "42601", m, NULL, NULL);
        return R_ERROR;
    }
    if (!ps->stmt || ps->stmt->kind != WB_SQL_RUN)
        return exec_stmt(s, ps->stmt, out, simple, NULL, 0);
    if (wb_sess_need_conn(s, out))
        return R_ERROR;
    /* evaluate the arguments on SQLite: SELECT arg1, arg2, ... */
    sqlite3_stmt *args = NULL;
    sqlite3_value **vals = NULL;
    if (t->nargs > 0) {
        wb_buf q = {0};
        wb_buf_puts(&q, "SELECT ");
        for (int i = 0; i < t->nargs; i++) {
            if (i)
                wb_buf_puts(&q, ", ");
            wb_buf_puts(&q, t->args[i]);
        }
        wb_buf_putc(&q, 0);
        int rc = sqlite3_prepare_v2(s->conn->db, (const char *)q.p, -1, &args, NULL);
        wb_buf_free(&q);
        if (rc != SQLITE_OK || (rc = sqlite3_step(args)) != SQLITE_ROW) {
            wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
            sqlite3_finalize(args);
            return R_ERROR;
        }
        vals = calloc((size_t)t->nargs, sizeof *vals);
        for (int i = 0; vals && i < t->nargs; i++)
            vals[i] = sqlite3_column_value(args, i);
    }
    wb_portal *p = portal_new(s, "\x01execute", ps, 0, NULL, out);
    if (!p) {
        free(vals);
        sqlite3_finalize(args);
        return R_ERROR;
    }
    p->next = s->portals;
    s->portals = p;
    params_view pv = {.n = (uint16_t)t->nargs, .svals = vals};
    int bad = portal_prepare(s, p, &pv, out);
    free(vals);
    sqlite3_finalize(args);
    if (bad || (simple && ps->stmt->returns_rows && portal_peek(s, p, out))) {
        portal_drop(s, p->name);
        return R_ERROR;
    }
    if (simple && ps->stmt->returns_rows)
        put_rowdesc(out, p);
    int r = run_portal(s, p, ps->stmt, 0, simple, out);
    if (r != R_MORE)
        portal_drop(s, p->name);
    return r;
}

static void discard_all(wb_engine_session *s)
{
    close_portals(s, 0);
    while (s->stmts) {
        wb_pstmt *p = s->stmts;
        s->stmts = p->next;
        pstmt_unref(p);
    }
    for (int i = 0; i < NGUCS; i++) {
        free(s->guc_values[i]);
        s->guc_values[i] = guc_reset_value(s, i) ? strdup(guc_reset_value(s, i)) : NULL;
    }
    apply_guc_side_effects(s);
    listen_remove(s, NULL);
}

/* Run one statement. p: the extended protocol's portal (NULL in a simple
 * Query). Returns R_*. */
static int exec_stmt(wb_engine_session *s, wb_sql_stmt *t, wb_buf *out, int simple, wb_portal *p, int64_t max)
{
    if (!t) {
        wb_pg_put_empty(out, 'I');
        return R_DONE;
    }
    if (s->tx == TX_FAILED && !is_tx_exit(t)) {
        wb_sess_error(s, out, "25P02", "current transaction is aborted, commands ignored until end of transaction block",
                      NULL, NULL);
        return R_ERROR;
    }
    if (wb_eng_check_interrupt(&s->h)) {
        if (s->h.why == WB_INT_TERMINATE)
            return R_CLOSE;
        if (s->h.why == WB_INT_CANCEL) {
            wb_sess_sqlite_error(s, out, NULL, SQLITE_INTERRUPT, NULL);
            return R_ERROR;
        }
    }
    switch (t->kind) {
    case WB_SQL_EMPTY: wb_pg_put_empty(out, 'I'); return R_DONE;
    case WB_SQL_RUN:
        if (p)
            return run_portal(s, p, t, max, 0, out);
        return exec_run_simple(s, t, out);
    case WB_SQL_BEGIN:
        if (s->tx == TX_BLOCK || s->tx == TX_FAILED)
            notice(out, "WARNING", "25001", "there is already a transaction in progress");
        else {
            if (s->tx == TX_NONE)
                s->xact_start_us = wall_us();
            s->tx = TX_BLOCK;
        }
        wb_pg_put_command_complete(out, "BEGIN");
        return R_DONE;
    case WB_SQL_COMMIT: {
        int failed = s->tx == TX_FAILED;
        if (s->tx == TX_NONE)
            notice(out, "WARNING", "25P01", "there is no transaction in progress");
        if (tx_end(s, !failed, out))
            return R_ERROR;
        wb_pg_put_command_complete(out, failed ? "ROLLBACK" : (t->tag ? t->tag : "COMMIT"));
        return R_DONE;
    }
    case WB_SQL_ROLLBACK:
        if (s->tx == TX_NONE)
            notice(out, "WARNING", "25P01", "there is no transaction in progress");
        tx_end(s, 0, out);
        wb_pg_put_command_complete(out, "ROLLBACK");
        return R_DONE;
    case WB_SQL_SAVEPOINT: case WB_SQL_RELEASE: case WB_SQL_ROLLBACK_TO:
        return savepoint_cmd(s, t, out) ? R_ERROR : R_DONE;
    case WB_SQL_SET:
        if (set_guc(s, t->name, t->value, t->is_local, out))
            return R_ERROR;
        wb_pg_put_command_complete(out, "SET");
        return R_DONE;
    case WB_SQL_RESET:
        if (t->name && strcasecmp(t->name, "all") == 0) {
            for (int i = 0; i < NGUCS; i++)
                if (!gucs[i].readonly && strcmp(gucs[i].name, "session_authorization") != 0 && s->guc_values[i])
                    set_guc(s, gucs[i].name, NULL, 0, out);
        } else if (set_guc(s, t->name, NULL, 0, out))
            return R_ERROR;
        wb_pg_put_command_complete(out, "RESET");
        return R_DONE;
    case WB_SQL_SHOW: {
        size_t before = out->len;
        show_guc(s, t->name ? t->name : "", out);
        if (!simple && out->len > before && out->p[before] == 'T') {
            /* extended: the RowDescription belongs to Describe */
            uint32_t l = wb_pg_be32(out->p + before + 1);
            memmove(out->p + before, out->p + before + 1 + l, out->len - before - 1 - l);
            out->len -= 1 + l;
        }
        return out->len > before && out->p[before] == 'E' ? R_ERROR : R_DONE;
    }
    case WB_SQL_COPY: {
        int r = wb_copy_start(s, t, out);
        return r == 0 ? R_COPYIN : r == 1 ? R_DONE : r == 2 ? R_MORE : R_ERROR;
    }
    case WB_SQL_DECLARE: return declare_cursor(s, t, out);
    case WB_SQL_FETCH: case WB_SQL_MOVE: return cursor_fetch(s, t, out, simple);
    case WB_SQL_CLOSE_CURSOR:
        if (!t->name) {
            wb_portal **pp = &s->portals;
            while (*pp) {
                if ((*pp)->is_cursor) {
                    wb_portal *q = *pp;
                    *pp = q->next;
                    portal_free(s, q);
                } else
                    pp = &(*pp)->next;
            }
        } else {
            wb_portal *c = portal_find(s, t->name);
            if (!c || !c->is_cursor) {
                char m[300];
                snprintf(m, sizeof m, "cursor \"%s\" does not exist", t->name);
                wb_sess_error(s, out, "34000", m, NULL, NULL);
                return R_ERROR;
            }
            portal_drop(s, t->name);
        }
        wb_pg_put_command_complete(out, "CLOSE CURSOR");
        return R_DONE;
    case WB_SQL_PREPARE: return prepare_sql(s, t, out);
    case WB_SQL_EXECUTE: return execute_sql(s, t, out, simple);
    case WB_SQL_DEALLOCATE:
        if (!t->name) {
            wb_pstmt **pp = &s->stmts;
            while (*pp) {
                if ((*pp)->sql_level) {
                    wb_pstmt *q = *pp;
                    *pp = q->next;
                    pstmt_unref(q);
                } else
                    pp = &(*pp)->next;
            }
        } else {
            wb_pstmt *q = pstmt_find(s, t->name, 1);
            if (!q) {
                char m[300];
                snprintf(m, sizeof m, "prepared statement \"%s\" does not exist", t->name);
                wb_sess_error(s, out, "26000", m, NULL, NULL);
                return R_ERROR;
            }
            pstmt_remove(s, q);
        }
        wb_pg_put_command_complete(out, t->name ? "DEALLOCATE" : "DEALLOCATE ALL");
        return R_DONE;
    case WB_SQL_DISCARD:
        if (s->tx == TX_BLOCK) {
            wb_sess_error(s, out, "25001", "DISCARD ALL cannot run inside a transaction block", NULL, NULL);
            return R_ERROR;
        }
        if (!t->name || strcasecmp(t->name, "all") == 0)
            discard_all(s);
        /* PLANS, SEQUENCES, TEMP: SQLite re-prepares on schema change, and
         * sequences/temp tables keep no per-session state here */
        {
            char tag[64];
            snprintf(tag, sizeof tag, "DISCARD %s", t->name ? t->name : "ALL");
            for (char *c = tag; *c; c++)
                *c = (char)toupper((unsigned char)*c);
            wb_pg_put_command_complete(out, tag);
        }
        return R_DONE;
    case WB_SQL_LISTEN:
    case WB_SQL_UNLISTEN: {
        int listen = t->kind == WB_SQL_LISTEN;
        const char *ch = t->name && strcmp(t->name, "*") != 0 ? t->name : NULL;
        if (s->tx == TX_NONE) {
            if (listen)
                listen_add(s, ch ? ch : "");
            else
                listen_remove(s, ch);
        } else {
            /* PostgreSQL 15 docs "LISTEN": takes effect at commit */
            wb_listen_op *op = calloc(1, sizeof *op);
            if (!op || (ch && !(op->channel = strdup(ch)))) {
                free(op);
                wb_sess_error(s, out, "53200", "out of memory", NULL, NULL);
                return R_ERROR;
            }
            op->listen = listen;
            wb_listen_op **tail = &s->listen_ops;
            while (*tail)
                tail = &(*tail)->next;
            *tail = op;
        }
        wb_pg_put_command_complete(out, listen ? "LISTEN" : "UNLISTEN");
        return R_DONE;
    }
    case WB_SQL_NOTIFY: {
        wb_notice_q *n = calloc(1, sizeof *n);
        if (!n || !(n->channel = strdup(t->name ? t->name : ""))) {
            free(n);
            wb_sess_error(s, out, "53200", "out of memory", NULL, NULL);
            return R_ERROR;
        }
        n->payload = t->value ? strdup(t->value) : NULL;
        *s->notifies_tail = n;
        s->notifies_tail = &n->next;
        if (s->tx == TX_NONE)
            deliver_notifies(s, 1);
        wb_pg_put_command_complete(out, "NOTIFY");
        return R_DONE;
    }
    case WB_SQL_CREATE_DATABASE: case WB_SQL_DROP_DATABASE: {
        int create = t->kind == WB_SQL_CREATE_DATABASE;
        if (s->tx == TX_BLOCK || s->tx == TX_IMPLICIT) {
            char m[128];
            snprintf(m, sizeof m, "%s cannot run inside a transaction block", create ? "CREATE DATABASE" : "DROP DATABASE");
            wb_sess_error(s, out, "25001", m, NULL, NULL);
            return R_ERROR;
        }
        char state[6] = "XX000", msg[300];
        int r = create ? wb_eng_create_database(s->h.e, t->name, msg, sizeof msg, state)
                       : wb_eng_drop_database(s->h.e, t->name, t->if_exists, s->h.dbname, msg, sizeof msg, state);
        if (r < 0) {
            wb_sess_error(s, out, state, msg, NULL, NULL);
            return R_ERROR;
        }
        if (r == 1) {
            char m[300];
            snprintf(m, sizeof m, "database \"%s\" does not exist, skipping", t->name);
            notice(out, "NOTICE", "00000", m);
        }
        wb_pg_put_command_complete(out, create ? "CREATE DATABASE" : "DROP DATABASE");
        return R_DONE;
    }
    case WB_SQL_NOOP:
        wb_pg_put_command_complete(out, t->tag ? t->tag : "");
        return R_DONE;
    }
    wb_sess_error(s, out, "0A000", "statement kind not supported", NULL, NULL);
    return R_ERROR;
}

/* ------------------------------------------------------------------ */
/* Simple Query                                                        */

static void query_free(wb_engine_session *s)
{
    if (s->q_active) {
        wb_sql_list_free(&s->q);
        s->q_active = 0;
    }
    if (s->cur_ready) {
        wb_sql_list_free(&s->cur);
        s->cur_ready = 0;
    }
    for (int i = 0; i < s->npieces; i++)
        free(s->pieces[i]);
    free(s->pieces);
    free(s->piece_loc);
    s->pieces = NULL;
    s->piece_loc = NULL;
    s->npieces = 0;
}

static enum wb_engine_status query_end(wb_engine_session *s, wb_buf *out)
{
    if (s->tx == TX_IMPLICIT)
        tx_end(s, 1, out);
    query_free(s);
    wb_sess_release_conn(s);
    ready(s, out);
    return WB_ENGINE_SYNCED;
}

static void query_next(wb_engine_session *s)
{
    s->qi++;
    if (s->cur_ready) {
        wb_sql_list_free(&s->cur);
        s->cur_ready = 0;
    }
}

/* Run (or go on running) the statements of a simple Query. With several
 * statements each is translated just before it runs, as PostgreSQL
 * analyses each statement after the ones before it have run (CREATE TABLE
 * t; INSERT INTO t ...). */
static enum wb_engine_status query_continue(wb_engine_session *s, wb_buf *out)
{
    for (;;) {
        int total = s->pieces ? s->npieces : s->q.n;
        if (s->qi >= total)
            break;
        wb_sql_stmt *t;
        if (s->pieces) {
            if (!s->cur_ready) {
                wb_buf errs = {0};
                if (translate(s, s->pieces[s->qi], NULL, 0, &s->cur, &errs, s->piece_loc[s->qi])) {
                    if (s->tx == TX_FAILED) /* what PostgreSQL reports in a failed block */
                        wb_sess_error(s, out, "25P02",
                                      "current transaction is aborted, commands ignored until end of transaction block",
                                      NULL, NULL);
                    else
                        wb_buf_append(out, errs.p, errs.len);
                    wb_buf_free(&errs);
                    wb_sess_stmt_failed(s);
                    return query_end(s, out);
                }
                wb_buf_free(&errs);
                s->cur_ready = 1;
            }
            if (s->cur.n == 0) {
                query_next(s);
                continue;
            }
            t = s->cur.stmts[0];
        } else {
            t = s->q.stmts[s->qi];
        }
        if (s->implicit_wanted && s->tx == TX_NONE && t->kind != WB_SQL_BEGIN && t->kind != WB_SQL_COMMIT &&
            t->kind != WB_SQL_ROLLBACK && t->kind != WB_SQL_CREATE_DATABASE && t->kind != WB_SQL_DROP_DATABASE)
            s->tx = TX_IMPLICIT;
        int r = exec_stmt(s, t, out, 1, NULL, 0);
        if (r == R_MORE)
            return WB_ENGINE_MORE;
        if (r == R_COPYIN)
            return WB_ENGINE_OK;
        if (r == R_CLOSE) {
            put_fields(out, 'E', "FATAL", "57P01", "terminating connection due to administrator command", NULL, NULL,
                       NULL, 0);
            return WB_ENGINE_CLOSE;
        }
        if (r == R_ERROR) {
            if (atomic_load(&s->h.terminate))
                return WB_ENGINE_CLOSE;
            wb_sess_stmt_failed(s);
            return query_end(s, out);
        }
        query_next(s);
    }
    return query_end(s, out);
}

/* A frontend message of an unknown type or that does not parse (e says
 * what and where) ends the session as in PostgreSQL: FATAL 08P01
 * protocol_violation. */
static enum wb_engine_status bad_message(wb_buf *out, const char *e)
{
    put_fields(out, 'E', "FATAL", "08P01", e, NULL, NULL, NULL, 0);
    return WB_ENGINE_CLOSE;
}

static enum wb_engine_status on_query(wb_engine_session *s, const uint8_t *body, uint32_t len, wb_buf *out)
{
    const char *sql;
    char e[200];
    wb_pg_msg m = {'Q', len, body};
    if (wb_pg_parse_string(&m, &sql, e, sizeof e))
        return bad_message(out, e);
    s->extended = 0;
    s->qi = 0;
    wb_buf errs = {0};
    int bad = translate(s, sql, NULL, 0, &s->q, &errs, 0);
    if (!bad)
        s->q_active = 1;
    if (bad || s->q.n > 1) {
        /* several statements: split them (the parser, no schema needed)
         * and translate each when its turn comes */
        PgQuerySplitResult sp = pg_query_split_with_parser(sql);
        if (!sp.error && sp.n_stmts > 1) {
            s->pieces = calloc((size_t)sp.n_stmts, sizeof *s->pieces);
            s->piece_loc = calloc((size_t)sp.n_stmts, sizeof *s->piece_loc);
            for (int i = 0; s->pieces && s->piece_loc && i < sp.n_stmts; i++) {
                s->pieces[i] = strndup(sql + sp.stmts[i]->stmt_location, (size_t)sp.stmts[i]->stmt_len);
                s->piece_loc[i] = sp.stmts[i]->stmt_location;
                if (s->pieces[i])
                    s->npieces = i + 1;
            }
            if (s->npieces != sp.n_stmts) {
                pg_query_free_split_result(sp);
                wb_buf_free(&errs);
                query_free(s);
                return WB_ENGINE_NOMEM;
            }
            bad = 0;
            if (s->q_active) {
                wb_sql_list_free(&s->q);
                s->q_active = 0;
            }
        }
        pg_query_free_split_result(sp);
    }
    if (bad) {
        wb_buf_append(out, errs.p, errs.len);
        wb_buf_free(&errs);
        wb_sess_stmt_failed(s);
        return query_end(s, out);
    }
    wb_buf_free(&errs);
    if (!s->pieces && s->q.n == 0) {
        wb_pg_put_empty(out, 'I');
        return query_end(s, out);
    }
    s->implicit_wanted = s->pieces != NULL;
    return query_continue(s, out);
}

/* ------------------------------------------------------------------ */
/* Extended query                                                      */

static enum wb_engine_status ext_error(wb_engine_session *s)
{
    s->skip_to_sync = 1;
    wb_sess_stmt_failed(s);
    return atomic_load(&s->h.terminate) ? WB_ENGINE_CLOSE : WB_ENGINE_OK;
}

/* An extended-protocol message naming a prepared statement (26000
 * invalid_sql_statement_name) or portal (34000 invalid_cursor_name) that
 * does not exist: the error, then skip to Sync. */
static enum wb_engine_status ext_missing(wb_engine_session *s, wb_buf *out, const char *sqlstate, const char *what,
                                         const char *name)
{
    char msg[300];
    snprintf(msg, sizeof msg, "%s \"%s\" does not exist", what, name);
    wb_sess_error(s, out, sqlstate, msg, NULL, NULL);
    return ext_error(s);
}

static enum wb_engine_status on_parse(wb_engine_session *s, const uint8_t *body, uint32_t len, wb_buf *out)
{
    wb_pg_msg m = {'P', len, body};
    const char *name, *sql;
    uint16_t nt;
    const uint8_t *types;
    char e[200];
    if (wb_pg_parse_parse(&m, &name, &sql, &nt, &types, e, sizeof e))
        return bad_message(out, e);
    if (*name && pstmt_find(s, name, 0)) {
        char msg[300];
        snprintf(msg, sizeof msg, "prepared statement \"%s\" already exists", name);
        wb_sess_error(s, out, "42P05", msg, NULL, NULL);
        return ext_error(s);
    }
    uint32_t *given = calloc((size_t)nt + 1, sizeof *given);
    if (!given)
        return WB_ENGINE_NOMEM;
    for (uint16_t i = 0; i < nt; i++)
        given[i] = wb_pg_be32(types + 4 * i);
    wb_pstmt *ps = calloc(1, sizeof *ps);
    if (!ps || !(ps->name = strdup(name)) || !(ps->sql = strdup(sql))) {
        if (ps)
            free(ps->name);
        free(ps);
        free(given);
        return WB_ENGINE_NOMEM;
    }
    ps->refs = 1;
    if (translate(s, sql, given, nt, &ps->list, out, 0)) {
        free(given);
        pstmt_unref(ps);
        return ext_error(s);
    }
    if (ps->list.n > 1) {
        free(given);
        pstmt_unref(ps);
        wb_sess_error(s, out, "42601", "cannot insert multiple commands into a prepared statement", NULL, NULL);
        return ext_error(s);
    }
    ps->stmt = ps->list.n ? ps->list.stmts[0] : NULL;
    if (s->tx == TX_FAILED && !is_tx_exit(ps->stmt)) {
        free(given);
        pstmt_unref(ps);
        wb_sess_error(s, out, "25P02",
                      "current transaction is aborted, commands ignored until end of transaction block", NULL, NULL);
        return ext_error(s);
    }
    int np = ps->stmt ? ps->stmt->nparams : 0;
    if (nt > np)
        np = nt;
    ps->nparams = np;
    ps->param_oids = calloc((size_t)np + 1, sizeof *ps->param_oids);
    for (int i = 0; ps->param_oids && i < np; i++) {
        uint32_t o = i < nt && given[i] ? given[i] : ps->stmt && i < ps->stmt->nparams ? ps->stmt->param_oids[i] : 0;
        ps->param_oids[i] = o ? o : WB_PG_OID_TEXT;
    }
    pstmt_param_types(s, ps);
    free(given);
    if (*name == 0) {
        wb_pstmt *old = pstmt_find(s, "", 0);
        if (old)
            pstmt_remove(s, old);
    }
    ps->next = s->stmts;
    s->stmts = ps;
    wb_pg_put_empty(out, '1');
    return WB_ENGINE_OK;
}

static enum wb_engine_status on_bind(wb_engine_session *s, const uint8_t *body, uint32_t len, wb_buf *out)
{
    wb_pg_msg m = {'B', len, body};
    wb_pg_bind b;
    char e[200];
    if (wb_pg_parse_bind(&m, &b, e, sizeof e))
        return bad_message(out, e);
    wb_pstmt *ps = pstmt_find(s, b.statement, 0);
    if (!ps)
        return ext_missing(s, out, "26000", "prepared statement", b.statement);
    if (s->tx == TX_FAILED && !is_tx_exit(ps->stmt)) {
        wb_sess_error(s, out, "25P02",
                      "current transaction is aborted, commands ignored until end of transaction block", NULL, NULL);
        return ext_error(s);
    }
    if (b.nparams != ps->nparams) {
        char msg[300];
        snprintf(msg, sizeof msg, "bind message supplies %u parameters, but prepared statement \"%s\" requires %d",
                 b.nparams, b.statement, ps->nparams);
        wb_sess_error(s, out, "08P01", msg, NULL, NULL);
        return ext_error(s);
    }
    if (*b.portal) {
        if (portal_find(s, b.portal)) {
            char msg[300];
            snprintf(msg, sizeof msg, "cursor \"%s\" already exists", b.portal);
            wb_sess_error(s, out, "42P03", msg, NULL, NULL);
            return ext_error(s);
        }
    } else {
        portal_drop(s, "");
    }
    wb_portal *p = portal_new(s, b.portal, ps, b.nresult_formats, b.result_formats, out);
    if (!p)
        return ext_error(s);
    p->next = s->portals;
    s->portals = p;
    params_view pv = {.n = b.nparams, .nformats = b.nformats, .formats = b.formats, .vals = b.params};
    if (portal_prepare(s, p, &pv, out)) {
        portal_drop(s, b.portal);
        return ext_error(s);
    }
    wb_pg_put_empty(out, '2');
    return WB_ENGINE_OK;
}

static int describe_rows(wb_engine_session *s, wb_pstmt *ps, wb_buf *out)
{
    wb_sql_stmt *t = ps->stmt;
    if (t && (t->kind == WB_SQL_FETCH) && t->name) {
        wb_portal *c = portal_find(s, t->name);
        if (c && c->is_cursor) {
            put_rowdesc(out, c);
            return 0;
        }
    }
    if (t && t->kind == WB_SQL_SHOW) {
        wb_pg_column col = {.name = t->name ? t->name : "", .type_oid = 25, .typlen = -1, .typmod = -1};
        int i = guc_find(col.name);
        if (i >= 0)
            col.name = gucs[i].name;
        wb_pg_put_row_description(out, 1, &col);
        return 0;
    }
    if (!t || !t->returns_rows || t->kind != WB_SQL_RUN) {
        wb_pg_put_empty(out, 'n');
        return 0;
    }
    if (resolve_cols(s, ps, NULL, 1, out))
        return -1;
    wb_pg_put_row_description(out, (uint16_t)ps->ncols, ps->cols);
    return 0;
}

static enum wb_engine_status on_describe(wb_engine_session *s, const uint8_t *body, uint32_t len, wb_buf *out)
{
    wb_pg_msg m = {'D', len, body};
    char kind;
    const char *name;
    char e[200];
    if (wb_pg_parse_close_describe(&m, &kind, &name, e, sizeof e))
        return bad_message(out, e);
    if (kind == 'S') {
        wb_pstmt *ps = pstmt_find(s, name, 0);
        if (!ps)
            return ext_missing(s, out, "26000", "prepared statement", name);
        wb_pg_put_parameter_description(out, (uint16_t)ps->nparams, ps->param_oids);
        if (describe_rows(s, ps, out))
            return ext_error(s);
        return WB_ENGINE_OK;
    }
    wb_portal *p = portal_find(s, name);
    if (!p)
        return ext_missing(s, out, "34000", "portal", name);
    wb_sql_stmt *t = p->ps->stmt;
    if (t && t->kind == WB_SQL_RUN && t->returns_rows) {
        if (!p->ps->cols_known && portal_peek(s, p, out))
            return ext_error(s);
        portal_fix_cols(p, p->st, 0);
        put_rowdesc(out, p);
        return WB_ENGINE_OK;
    }
    if (describe_rows(s, p->ps, out))
        return ext_error(s);
    return WB_ENGINE_OK;
}

static enum wb_engine_status on_execute(wb_engine_session *s, const uint8_t *body, uint32_t len, wb_buf *out)
{
    wb_pg_msg m = {'E', len, body};
    const char *name;
    int32_t max;
    char e[200];
    if (wb_pg_parse_execute(&m, &name, &max, e, sizeof e))
        return bad_message(out, e);
    wb_portal *p = portal_find(s, name);
    if (!p)
        return ext_missing(s, out, "34000", "portal", name);
    wb_sql_stmt *t = p->ps->stmt;
    /* the extended protocol's implicit transaction lasts until Sync: a
     * statement that writes outside a block starts it */
    if (s->tx == TX_NONE && t && t->kind == WB_SQL_RUN && !p->started &&
        (t->nsqlite > 1 || (p->st && !sqlite3_stmt_readonly(p->st)) || s->sqlite_tx))
        s->tx = TX_IMPLICIT;
    if (t && t->kind == WB_SQL_RUN && t->returns_rows)
        portal_fix_cols(p, p->st, 0);
    int r = exec_stmt(s, t, out, 0, p, max > 0 ? max : 0);
    if (r == R_MORE)
        return WB_ENGINE_MORE;
    if (r == R_CLOSE) {
        put_fields(out, 'E', "FATAL", "57P01", "terminating connection due to administrator command", NULL, NULL, NULL,
                   0);
        return WB_ENGINE_CLOSE;
    }
    if (r == R_ERROR)
        return ext_error(s);
    p = portal_find(s, name); /* COMMIT/ROLLBACK close portals, this one too */
    if (p && t && t->kind != WB_SQL_RUN && t->kind != WB_SQL_FETCH && t->kind != WB_SQL_MOVE && t->kind != WB_SQL_COPY)
        p->done = 1;
    return WB_ENGINE_OK;
}

static enum wb_engine_status on_close(wb_engine_session *s, const uint8_t *body, uint32_t len, wb_buf *out)
{
    wb_pg_msg m = {'C', len, body};
    char kind;
    const char *name;
    char e[200];
    if (wb_pg_parse_close_describe(&m, &kind, &name, e, sizeof e))
        return bad_message(out, e);
    if (kind == 'S') {
        wb_pstmt *ps = pstmt_find(s, name, 0);
        if (ps)
            pstmt_remove(s, ps);
    } else {
        portal_drop(s, name);
    }
    wb_pg_put_empty(out, '3');
    return WB_ENGINE_OK;
}

static enum wb_engine_status on_sync(wb_engine_session *s, wb_buf *out)
{
    s->skip_to_sync = 0;
    if (s->tx == TX_IMPLICIT)
        tx_end(s, 1, out);
    if (s->tx == TX_NONE) {
        close_portals(s, 1);
        if (s->sqlite_tx)
            tx_end(s, 1, out);
    }
    wb_sess_release_conn(s);
    ready(s, out);
    return WB_ENGINE_SYNCED;
}

/* ------------------------------------------------------------------ */
/* Dispatch                                                            */

enum wb_engine_status wb_engine_message(wb_engine_session *s, uint8_t type, const uint8_t *body, uint32_t len,
                                        wb_buf *out)
{
    if (atomic_load(&s->h.terminate)) {
        put_fields(out, 'E', "FATAL", "57P01", "terminating connection due to administrator command", NULL, NULL, NULL,
                   0);
        return WB_ENGINE_CLOSE;
    }
    if (s->idle) {
        /* a new request: a cancel that came while the session was idle
         * cancels nothing (PostgreSQL ignores it too) */
        s->idle = 0;
        atomic_store(&s->h.cancel, 0);
    }
    if (s->copy) {
        int r = wb_copy_message(s, type, body, len, out);
        if (r == 0)
            return WB_ENGINE_OK;
        if (r < 0) {
            wb_sess_stmt_failed(s);
            if (s->extended) {
                s->skip_to_sync = 1;
                return WB_ENGINE_OK;
            }
            return query_end(s, out);
        }
        if (s->extended)
            return WB_ENGINE_OK;
        query_next(s);
        return query_continue(s, out);
    }
    if (type == 'd' || type == 'c' || type == 'f')
        return WB_ENGINE_OK; /* the rest of a COPY that failed: dropped */
    if (type == 'X')
        return WB_ENGINE_CLOSE;
    if (type == 'S')
        return on_sync(s, out);
    if (type == 'H')
        return WB_ENGINE_OK;
    if (s->skip_to_sync && (type == 'P' || type == 'B' || type == 'D' || type == 'E' || type == 'C'))
        return WB_ENGINE_OK;
    switch (type) {
    case 'Q': return on_query(s, body, len, out);
    case 'P': s->extended = 1; return on_parse(s, body, len, out);
    case 'B': s->extended = 1; return on_bind(s, body, len, out);
    case 'D': s->extended = 1; return on_describe(s, body, len, out);
    case 'E': s->extended = 1; return on_execute(s, body, len, out);
    case 'C': s->extended = 1; return on_close(s, body, len, out);
    case 'F':
        wb_sess_error(s, out, "0A000", "FunctionCall messages are not supported", NULL, NULL);
        ready(s, out);
        return WB_ENGINE_SYNCED;
    default: {
        char msg[80];
        snprintf(msg, sizeof msg, "invalid frontend message type %d", type);
        return bad_message(out, msg);
    }
    }
}

enum wb_engine_status wb_engine_resume(wb_engine_session *s, wb_buf *out)
{
    if (s->running == RUN_COPY_OUT) {
        int r = wb_copy_resume(s, out);
        if (r == 2)
            return WB_ENGINE_MORE;
        s->running = RUN_NONE;
        if (r < 0) {
            if (s->extended)
                return ext_error(s);
            wb_sess_stmt_failed(s);
            return query_end(s, out);
        }
        if (s->extended)
            return WB_ENGINE_OK;
        query_next(s);
        return query_continue(s, out);
    }
    if (s->running != RUN_PORTAL || !s->run_portal)
        return WB_ENGINE_OK;
    wb_portal *p = s->run_portal;
    int fetch = s->run_fetch || s->run_move;
    int r = portal_run(s, p, s->run_max, !fetch, out);
    if (r == R_MORE)
        return WB_ENGINE_MORE;
    s->running = RUN_NONE;
    s->run_portal = NULL;
    if (fetch) {
        if (r != R_ERROR)
            put_tag(out, s->run_stmt, p->rows, 0, s->run_fetch, s->run_move);
        s->run_fetch = s->run_move = 0;
    }
    if (r == R_SUSPENDED && !s->run_simple && !fetch)
        wb_pg_put_empty(out, 's');
    if (!p->is_cursor && p->name[0] == '\x01')
        portal_drop(s, p->name);
    if (s->run_simple) {
        if (r == R_ERROR) {
            wb_sess_stmt_failed(s);
            return query_end(s, out);
        }
        query_next(s);
        return query_continue(s, out);
    }
    if (r == R_ERROR)
        return ext_error(s);
    return WB_ENGINE_OK;
}
