/* src/engine/internal.h - shapes shared by the engine's files (engine.c:
 * DATADIR, databases, SQLite connection pool and per-connection functions;
 * session.c: the message state machine; value.c: values between SQLite and
 * the protocol; copy.c: COPY). Not a public header.
 *
 * Storage conventions agreed with the translator (src/engine/translate*.c):
 * a PostgreSQL value lives in SQLite as
 *   bool                      INTEGER 0/1
 *   int2/int4/int8, oid       INTEGER
 *   float4/float8             REAL
 *   numeric                   TEXT (exact decimal text; INTEGER accepted)
 *   text, varchar, char, name, json, jsonb, uuid, interval   TEXT
 *   bytea                     BLOB
 *   date                      TEXT 'YYYY-MM-DD'
 *   time                      TEXT 'HH:MM:SS[.ffffff]'
 *   timestamp                 TEXT 'YYYY-MM-DD HH:MM:SS[.ffffff]'
 *   timestamptz               TEXT 'YYYY-MM-DD HH:MM:SS[.ffffff]+00' (UTC)
 *   one-dimensional arrays    TEXT in PostgreSQL's array literal form
 * and the declared column type keeps PostgreSQL's type name, which is where
 * RowDescription's OID and typmod come from (wb_eng_decltype). */
#ifndef WIREBUF_ENGINE_INTERNAL_H
#define WIREBUF_ENGINE_INTERNAL_H
#include "../server/engine.h"
#include "translate.h"
#include "wirebuf/buf.h"
#include "wirebuf/pg.h"
#include "wirebuf/pgproto.h"
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct wb_edb wb_edb;
/* One advisory lock (engine.c) */
typedef struct wb_adv_lock {
    int64_t key;
    int two;              /* key made of two int4 */
    uint64_t owner;       /* session serial */
    int count, xact_count;
    struct wb_adv_lock *next;
} wb_adv_lock;
typedef struct wb_econn wb_econn;

/* What the per-connection SQL functions and the busy/progress handlers
 * need of the session using a connection; the first member of the session. */
typedef struct wb_sess_hdr {
    wb_engine *e;
    char *dbname, *user;
    int32_t pid;
    atomic_int cancel;    /* 1 = cancel requested (CancelRequest, pg_cancel_backend) */
    atomic_int terminate; /* 1 = pg_terminate_backend / shutdown */
    int64_t deadline_us;  /* statement_timeout expiry (CLOCK_MONOTONIC µs), 0 = none */
    int why;              /* reason of the last interrupt: WB_INT_* */
    uint64_t xid;         /* txid_current() of the open transaction, 0 = none yet */
    uint64_t serial;      /* unique per session of this engine (never 0) */
} wb_sess_hdr;
enum { WB_INT_NONE = 0, WB_INT_CANCEL, WB_INT_TIMEOUT, WB_INT_TERMINATE };
/* The reason to stop the running statement now, or WB_INT_NONE (also
 * records it in h->why). */
int wb_eng_check_interrupt(wb_sess_hdr *h);
/* Release h's advisory locks: xact_only = 1 the transaction-level ones
 * (transaction end), 2 the session-level ones (pg_advisory_unlock_all),
 * 0 all (session end). */
void wb_eng_advisory_release(wb_sess_hdr *h, int xact_only);
int64_t wb_eng_now_us(void);
/* h's statement is about to sleep (lock wait, pg_sleep): tell the server
 * (hooks.waiting). h may be NULL. */
void wb_eng_waiting(wb_sess_hdr *h);

/* One cached prepared statement of a connection, keyed by its SQL text. */
typedef struct wb_cached_stmt {
    char *sql;
    sqlite3_stmt *st;
    int in_use; /* handed to a portal: not shared */
    uint64_t used; /* LRU clock */
} wb_cached_stmt;

#define WB_STMT_CACHE 64
/* Idle SQLite connections a database keeps (each holds its page cache and
 * prepared statements); more are opened while sessions need them. */
#define WB_POOL_IDLE_MAX 16
/* Idle connections that keep their page cache (the rest release it). */
#define WB_POOL_WARM 8

/* One SQLite connection of a database. Used by one session at a time. */
struct wb_econn {
    sqlite3 *db;
    wb_edb *edb;
    wb_econn *next_free;
    wb_sess_hdr *session; /* the session using it (functions read it) */
    wb_cached_stmt cache[WB_STMT_CACHE];
    uint64_t clock;
    wb_buf conflict; /* wb_note_conflict(): the duplicate key's values */
    uint64_t last_serial; /* the session that used it last (wb_sql_reset_session) */
    wb_sql_cache *tcache; /* translations made on this connection's schema */
    uint64_t tgen;        /* edb->schema_gen when tcache was last valid */
    sqlite3_stmt *st_now, *st_reset; /* wb_eng_set_now / wb_eng_reset_session */
    int64_t now_us;       /* the value now() is fixed at (0: the call's time) */
};

/* One PostgreSQL database = one SQLite file. */
struct wb_edb {
    char *name, *path;
    pthread_mutex_t mu;
    wb_econn *free;   /* idle connections, at most WB_POOL_IDLE_MAX */
    int nfree;
    int sessions;     /* sessions attached (DROP DATABASE refuses while > 0) */
    atomic_uint_fast64_t schema_gen; /* bumped after DDL: connections clear their translation caches */
    wb_edb *next;
    int debug;
    wb_engine *e;
    int ckpt;         /* a checkpoint thread runs on it (e->mu) */
};

struct wb_engine {
    char *datadir;
    wb_engine_hooks hooks;
    pthread_mutex_t mu; /* dbs list */
    wb_edb *dbs;
    atomic_uint_fast64_t next_serial; /* session serial numbers */
    atomic_uint_fast64_t next_xid;    /* txid_current() */
    int64_t start_us;                 /* pg_postmaster_start_time(), µs since the Unix epoch */
    pthread_mutex_t adv_mu;           /* advisory locks (pg_advisory_lock...) */
    pthread_cond_t adv_cv;
    struct wb_adv_lock *adv;
    pthread_cond_t ckpt_cv; /* a checkpoint thread ended (with mu) */
    int debug; /* WB_ENGINE_DEBUG set: print each statement's translation to stderr */
};

/* engine.c */
wb_edb *wb_eng_db_attach(wb_engine *e, const char *name, wb_engine_error *err);
void wb_eng_db_detach(wb_engine *e, wb_edb *d);
wb_econn *wb_eng_conn_get(wb_engine *e, wb_edb *d, char *errmsg, size_t errlen);
void wb_eng_conn_put(wb_econn *c);
/* A prepared statement for sql from c's cache (or newly prepared); give it
 * back with wb_eng_stmt_put. Returns NULL with the SQLite error. */
sqlite3_stmt *wb_eng_stmt_get(wb_econn *c, const char *sql, int *rc);
void wb_eng_stmt_put(wb_econn *c, sqlite3_stmt *st);
/* wb_sql_set_now / wb_sql_reset_session on c with statements prepared once
 * per connection (they run for every statement of a session). */
int wb_eng_set_now(wb_econn *c, int64_t usec);
int wb_eng_reset_session(wb_econn *c);
int wb_eng_create_database(wb_engine *e, const char *name, char *errmsg, size_t errlen, char *sqlstate);
int wb_eng_drop_database(wb_engine *e, const char *name, int if_exists, const char *current, char *errmsg,
                         size_t errlen, char *sqlstate);

/* session.c: the session-aware SQL functions (current_setting,
 * set_config) on a connection; conn is the wb_econn (user data). */
int wb_sess_register_functions(sqlite3 *db, void *conn);

/* value.c: declared type text -> PostgreSQL type */
void wb_eng_decltype(const char *decl, uint32_t *oid, int32_t *typmod);
int16_t wb_eng_typlen(uint32_t oid);
/* Append the text form of column i of st as PostgreSQL prints type oid. */
int wb_eng_text_out(sqlite3_stmt *st, int i, uint32_t oid, int32_t typmod, wb_buf *out);
/* Append the binary form (PostgreSQL's send function). -1 with msg when the
 * stored value is not a value of that type. */
int wb_eng_binary_out(sqlite3_stmt *st, int i, uint32_t oid, int32_t typmod, wb_buf *out, char *msg, size_t msglen);
/* Bind a parameter value (text or binary form of type oid) to SQLite
 * parameter idx. Returns 0, or -1 with sqlstate/msg (22P02 ...). */
int wb_eng_bind_value(sqlite3_stmt *st, int idx, uint32_t oid, int binary, const uint8_t *v, int32_t len,
                      char *sqlstate, char *msg, size_t msglen);
/* The PostgreSQL name of a type OID ("integer", ...), for messages. */
const char *wb_eng_type_name(uint32_t oid);
/* Type OID that describes an SQLite storage class (expression results). */
uint32_t wb_eng_oid_of_value(int sqlite_type);
/* SQLite error -> PostgreSQL ErrorResponse fields (engine.c); writes into
 * the caller's buffers. */
typedef struct wb_eng_err {
    char sqlstate[6];
    char message[512];
    char detail[512];
    char constraint[160];
    int position;
    char table[128], columns[256]; /* 23505: the unique key, for wb_eng_unique_detail */
} wb_eng_err;
void wb_eng_map_error(sqlite3 *db, int rc, wb_sess_hdr *h, wb_eng_err *out);
/* After a 23505 from statement st (bindings kept): run st once more inside
 * a savepoint that is rolled back, with a temporary BEFORE trigger noting
 * the row whose key already exists, and write PostgreSQL's DETAIL
 * "Key (a, b)=(1, x) already exists." into e->detail. Leaves nothing
 * behind; e->detail unchanged when the key cannot be found. */
void wb_eng_unique_detail(wb_econn *c, sqlite3_stmt *st, wb_eng_err *e);
/* SQL identifier quoting ("a""b"): appends name[0, n) quoted to b, or
 * returns it quoted as a new NUL-terminated string (the caller frees; NULL
 * when out of memory). */
void wb_eng_put_qident(wb_buf *b, const char *name, size_t n);
char *wb_eng_quote_ident(const char *name);

#endif
