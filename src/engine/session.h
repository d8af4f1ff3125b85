/* src/engine/session.h - the session's state, shared by session.c (the
 * message state machine, transactions, session commands) and copy.c.
 * Not a public header. */
#ifndef WIREBUF_ENGINE_SESSION_H
#define WIREBUF_ENGINE_SESSION_H
#include "internal.h"

/* A prepared statement: protocol-level (Parse) or SQL-level (PREPARE). */
typedef struct wb_pstmt {
    char *name;
    char *sql;
    wb_sql_list list;        /* the translation; list.n is 0 (empty) or 1 */
    wb_sql_stmt *stmt;       /* list.stmts[0] or an inner statement; NULL = empty query */
    uint32_t *param_oids;    /* nparams; 0 never stays: unknown becomes text */
    uint32_t *param_types;   /* param_oids with each domain replaced by its base
                                type (how Bind values are decoded); NULL when
                                no parameter is of a domain */
    int nparams;
    wb_pg_column *cols;      /* result columns once resolved (names owned in colnames) */
    char **colnames;
    int ncols;
    int cols_known;          /* 1 once cols are final (Describe has shown them) */
    int refs;                /* portals using it + 1 for the statement list */
    int sql_level;           /* created by PREPARE (pg_prepared_statements) */
    struct wb_pstmt *next;
} wb_pstmt;

/* A portal: a bound statement being executed (also a DECLAREd cursor). */
typedef struct wb_portal {
    char *name;
    wb_pstmt *ps;
    sqlite3_stmt *st;       /* the main SQLite statement, bound */
    int pre_done;           /* the statements before the main one have run */
    int started, done, row_pending;
    int16_t *formats;       /* per result column: 0 text, 1 binary */
    wb_pg_column *cols;     /* as described to the client */
    int ncols;
    int64_t rows;           /* rows sent by the current Execute/FETCH */
    int64_t total;          /* rows sent since the portal began */
    int is_cursor, hold, scroll;
    int own_sp;             /* a savepoint wraps a multi-statement translation */
    int own_tx;             /* the portal began an SQLite transaction itself */
    int fk_off;             /* it turned PRAGMA foreign_keys off for a table
                               rebuild (wb_sql_stmt.fk_off): on again at its end */
    struct wb_portal *next;
} wb_portal;

typedef struct wb_notice_q {
    char *channel, *payload;
    struct wb_notice_q *next;
} wb_notice_q;

/* settings reported by ParameterStatus: the first entries of session.c's table */
#define WB_NREPORTED 13

typedef struct wb_listen_op {
    int listen;      /* 1 LISTEN, 0 UNLISTEN */
    char *channel;   /* NULL: UNLISTEN * */
    struct wb_listen_op *next;
} wb_listen_op;

enum wb_tx { TX_NONE, TX_IMPLICIT, TX_BLOCK, TX_FAILED };

/* What a yield (WB_ENGINE_MORE) interrupted. */
enum wb_running { RUN_NONE, RUN_PORTAL, RUN_COPY_OUT };

struct wb_copy_state;

struct wb_engine_session {
    wb_sess_hdr h;          /* first: the connection callbacks see it */
    wb_edb *db;
    wb_econn *conn;         /* pinned SQLite connection, or NULL */
    pthread_mutex_t imu;    /* guards running_db against interrupt() */
    sqlite3 *running_db;
    enum wb_tx tx;
    int sqlite_tx;          /* an SQLite transaction is open on conn */
    int extended;           /* current request came by the extended protocol */
    int skip_to_sync;       /* extended protocol: after an error */
    int drop_copy;          /* drop CopyData/Done/Fail after a failed COPY */
    int ddl_in_tx;          /* DDL ran in the open transaction */
    int idle;               /* ReadyForQuery sent, no message since */
    int64_t xact_start_us;  /* transaction start (now()), 0 outside one */
    int implicit_wanted;    /* simple Query with several statements */
    wb_pstmt *stmts;        /* named (and the unnamed "") statements */
    wb_portal *portals;
    /* simple query in progress */
    wb_sql_list q;          /* the whole Query translated (one statement) */
    int qi;
    int q_active;
    char **pieces;          /* several statements: their texts, translated one by one */
    int *piece_loc, npieces;
    wb_sql_list cur;        /* the translation of pieces[qi] */
    int cur_ready;
    /* a portal being run (a yield may interrupt it) */
    enum wb_running running;
    wb_portal *run_portal;
    int64_t run_max;
    int run_simple;          /* simple protocol: tags and RowDescription */
    int run_fetch;           /* the run is a FETCH: tag "FETCH n" */
    int run_move;
    wb_sql_stmt *run_stmt;   /* statement whose tag ends the run */
    /* settings */
    char **guc_values;       /* one per entry of the setting table */
    char **guc_tx_saved;     /* values at BEGIN (restored by ROLLBACK); NULL until a SET in a transaction */
    char *guc_local;         /* SET LOCAL in this transaction (allocated with guc_tx_saved) */
    uint64_t guc_sent[WB_NREPORTED]; /* hash of the value last sent in ParameterStatus */
    struct wb_guc_reset { int idx; char *value; } *resets; /* startup values: what RESET restores */
    int nresets;
    int statement_timeout_ms;
    /* LISTEN */
    pthread_mutex_t lmu;
    char **channels;
    int nchannels;
    wb_notice_q *notifies, **notifies_tail;
    wb_listen_op *listen_ops; /* LISTEN/UNLISTEN waiting for COMMIT */
    struct wb_copy_state *copy;
    wb_buf scratch;
};

/* session.c helpers used by copy.c */
int wb_sess_need_conn(wb_engine_session *s, wb_buf *out);
void wb_sess_error(wb_engine_session *s, wb_buf *out, const char *state, const char *msg, const char *detail,
                   const char *where);
void wb_sess_sqlite_error(wb_engine_session *s, wb_buf *out, sqlite3 *db, int rc, const char *where);
/* The same for a failure of statement st (a 23505 then gets its DETAIL). */
void wb_sess_sqlite_error_st(wb_engine_session *s, wb_buf *out, sqlite3 *db, int rc, const char *where,
                             sqlite3_stmt *st);
int wb_sess_tx_begin(wb_engine_session *s, int write, wb_buf *out);
/* After a statement failed: the transaction state PostgreSQL would have. */
void wb_sess_stmt_failed(wb_engine_session *s);
int wb_sess_step(wb_engine_session *s, sqlite3_stmt *st);
void wb_sess_release_conn(wb_engine_session *s);
/* Fix now() for the statement about to run (wb_sql_set_now). */
void wb_sess_set_now(wb_engine_session *s);

/* copy.c: COPY FROM STDIN / TO STDOUT.
 * wb_copy_start: 0 = CopyInResponse sent, waiting for CopyData; 1 = done
 * (CommandComplete written); 2 = COPY TO yielded (out is full: call
 * wb_copy_resume); -1 = failed (ErrorResponse written).
 * wb_copy_message (CopyData/CopyDone/CopyFail during COPY FROM): 0 = go on,
 * 1 = done (CommandComplete written), -1 = failed (ErrorResponse written,
 * nothing of the COPY left behind).
 * wb_copy_resume: as wb_copy_start's 1, 2, -1.
 * wb_copy_free: abandon a COPY in progress (rolls back what it wrote). */
int wb_copy_start(wb_engine_session *s, wb_sql_stmt *st, wb_buf *out);
int wb_copy_message(wb_engine_session *s, uint8_t type, const uint8_t *body, uint32_t len, wb_buf *out);
int wb_copy_resume(wb_engine_session *s, wb_buf *out);
void wb_copy_free(wb_engine_session *s);

#endif
