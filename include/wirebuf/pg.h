/* wirebuf/pg.h - PostgreSQL v3 wire client.
 *
 * A wb_pg_conn owns one read buffer (a wb_stream over the socket or TLS
 * session) and one write buffer (a wb_buf). Every backend message is framed
 * in place in the read buffer and handed to the caller as a view (see
 * wb_pg_step): nothing is copied per row and nothing pulled from the socket
 * is ever dropped between messages, so any number of queued requests
 * (pipelining) can be answered in one read.
 *
 * Protocol: PostgreSQL 15 docs §55 (Frontend/Backend Protocol): §55.2.2
 * Simple Query, §55.2.3 Extended Query, §55.2.4 Pipelining, §55.2.6 COPY,
 * §55.2.7 Asynchronous Operations, §55.2.8 Canceling Requests, §55.3 SASL.
 * Connection parameters: §34.1.2 Parameter Key Words, §34.15 environment
 * variables, §34.16 the password file (libpq's rules).
 *
 * Threads: the library has no global mutable state; different connections
 * may be used from different threads freely. One connection is used by one
 * thread at a time (the caller serialises), with two exceptions that may
 * run on any thread at any time while another thread is inside a call on
 * the same connection: wb_pg_cancel() and wb_pg_parameter_copy(). Neither
 * may race wb_pg_finish() (it frees the connection); a thread that must
 * cancel independently of the connection's life takes a wb_pg_cancel_key
 * (wb_pg_get_cancel_key) and calls wb_pg_cancel_send(), which never touches
 * the connection.
 *
 * NULL: every function accepts err == NULL (the error is then not
 * reported). A NULL connection makes the accessors answer as for a closed
 * connection (WB_PG_BAD, 0, NULL, -1 for the socket) and every request fail
 * with WB_PG_ERR_USAGE; wb_pg_finish(NULL) and the *_free(NULL) functions do
 * nothing. Other pointer arguments are stated per function.
 *
 * Errors: functions that can fail return -1 (or NULL) and fill a
 * wb_pg_error, which names the kind of failure, carries the server's
 * ErrorResponse fields when the server sent one, and for pipelines the index
 * of the statement that failed. The state each kind leaves:
 *   SERVER, TIMEOUT  a statement failed (or was cancelled by the query
 *                    timeout, SQLSTATE 57014): the connection stays usable
 *                    (WB_PG_OK); calls that read their own answers have read
 *                    to ReadyForQuery, the event stream reports it as an
 *                    event (WB_PG_EV_ERROR) and goes on to READY.
 *   USAGE            a bad argument or a call in the wrong state: nothing
 *                    was sent or queued, the connection is as before (one
 *                    exception: wb_pg_copy_in_start/copy_out_start ran a
 *                    statement that was not the COPY asked for; it has been
 *                    read to its end and the connection is idle).
 *   NOMEM            while queuing a request (send_*, pipeline_*, copy_put,
 *                    copy_end before its write): this call's bytes are
 *                    removed, earlier queued work is kept, the connection is
 *                    as before the call. While reading a response: the
 *                    connection is closed (WB_PG_BAD), except where a call
 *                    collects a whole answer (wb_pg_exec* results, the
 *                    statement wb_pg_prepare builds after the server's
 *                    answer): it reads on to ReadyForQuery and leaves the
 *                    connection usable.
 *   FATAL, PROTOCOL, IO   the connection is closed (WB_PG_BAD); later calls
 *                    fail with IO ("the connection is broken").
 *   CONNINFO, CONNECT, TLS, AUTH   only from wb_pg_connect (no connection).
 * Every ErrorResponse is classified in one place: during startup class 28
 * is AUTH and the rest FATAL; afterwards severity FATAL or PANIC is FATAL,
 * anything else (ERROR, or no severity) is SERVER. An ErrorResponse without
 * a message gets one saying so.
 */
#ifndef WIREBUF_PG_H
#define WIREBUF_PG_H
#include "wirebuf/pgproto.h"
#include "wirebuf/pgreader.h"
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct wb_pg_conn wb_pg_conn;

/* ---- errors ---- */
enum wb_pg_err_kind {
    WB_PG_ERR_NONE = 0,
    WB_PG_ERR_CONNINFO, /* bad connection string / parameter */
    WB_PG_ERR_CONNECT,  /* could not reach the server (also connect_timeout) */
    WB_PG_ERR_TLS,      /* TLS required/verification failed */
    WB_PG_ERR_AUTH,     /* authentication failed or unsupported method */
    WB_PG_ERR_SERVER,   /* ErrorResponse for a statement: connection still usable */
    WB_PG_ERR_FATAL,    /* ErrorResponse with FATAL/PANIC: connection closed */
    WB_PG_ERR_PROTOCOL, /* malformed or unexpected message from the server */
    WB_PG_ERR_IO,       /* socket error, or the server closed the connection */
    WB_PG_ERR_TIMEOUT,  /* query timeout (the query was cancelled) */
    WB_PG_ERR_USAGE,    /* bad argument or call in the wrong state */
    WB_PG_ERR_NOMEM
};

/* Copies of the server's fields (§55.8), truncated to the array sizes, empty
 * when absent. Self-contained: may be copied by value. */
typedef struct wb_pg_error {
    int kind;           /* enum wb_pg_err_kind */
    int64_t statement;  /* 0-based index of the failing statement in a
                           pipeline / executemany batch, else -1 */
    char sqlstate[6];   /* "23505"; "" when not from the server */
    char severity[16];  /* "ERROR", "FATAL", ... (non-localized) */
    char message[1024]; /* always set: the server's message, or ours */
    char detail[1024];
    char hint[512];
    char where[512];
    char position[16]; /* 1-based character position in the query */
    char schema[64], table[64], column[64], datatype[64], constraint[64];
} wb_pg_error;

/* ---- connecting ---- */
typedef struct wb_pg_options {
    size_t read_buffer;    /* bytes per read from the socket; 0 = 128 KiB;
                              1 = one byte per read (correct, slow: the A/B
                              switch for measuring the buffer) */
    size_t copy_flush;     /* bytes of COPY data gathered before a write;
                              0 = 1 MiB */
    int query_timeout_ms;  /* 0 = none; on expiry the query is cancelled
                              (CancelRequest) and fails with
                              WB_PG_ERR_TIMEOUT */
} wb_pg_options;

/* Connect and authenticate. conninfo is a libpq keyword/value string
 * ("host=/tmp port=5432 user=alice sslmode=require") or a URI
 * ("postgresql://alice:secret@localhost:5432/db?sslmode=require"); NULL or
 * "" uses only the environment (PGHOST, PGPORT, PGUSER, PGPASSWORD,
 * PGDATABASE, PGSSLMODE, PGSSLROOTCERT, PGAPPNAME, PGCONNECT_TIMEOUT,
 * PGOPTIONS, PGPASSFILE) and defaults (Unix socket /var/run/postgresql,
 * port 5432, the OS user). Keywords: host (a name, an address, or a Unix
 * socket directory starting with '/'; a comma-separated list is tried in
 * order), hostaddr, port, user, password, dbname, sslmode (disable,
 * prefer, require, verify-ca, verify-full; libpq's "allow" is refused with
 * an error), sslrootcert, application_name,
 * connect_timeout (seconds), options, passfile, client_encoding.
 * The password comes from the string, else PGPASSWORD, else ~/.pgpass (a
 * file readable by group/others is ignored, as in libpq).
 * Auth: trust, cleartext password, MD5, SCRAM-SHA-256 (and -PLUS over TLS).
 * opts may be NULL. Returns a connection the caller frees with
 * wb_pg_finish(), or NULL with *err filled. */
wb_pg_conn *wb_pg_connect(const char *conninfo, const wb_pg_options *opts, wb_pg_error *err);

/* Send Terminate, close the socket, free everything. NULL is allowed. Must
 * not run while another thread is inside any call on c (wb_pg_cancel and
 * wb_pg_parameter_copy included). */
void wb_pg_finish(wb_pg_conn *c);

/* Parse a conninfo string or URI into a NULL-terminated array of keyword,
 * value pairs (malloc'd; free with wb_pg_conninfo_free, which accepts NULL).
 * conninfo NULL is "". Environment variables and defaults are not applied.
 * NULL with *err on a syntax error or unknown keyword (CONNINFO) or NOMEM.
 * No state: any thread. */
char **wb_pg_conninfo_parse(const char *conninfo, wb_pg_error *err);
void wb_pg_conninfo_free(char **kv);

/* Accessors: the connection's thread only (except wb_pg_parameter_copy);
 * never fail; NULL c answers as a closed connection. */
enum wb_pg_status { WB_PG_OK = 0, WB_PG_BAD = 1 };
/* WB_PG_OK, or WB_PG_BAD once an error closed the connection (or c NULL). */
int wb_pg_status(const wb_pg_conn *c);
/* 'I' idle, 'T' in a transaction block, 'E' failed transaction block, from
 * the last ReadyForQuery; 0 while a request is in progress (or c NULL). */
char wb_pg_transaction_status(const wb_pg_conn *c);
/* A ParameterStatus value the server reported (server_version,
 * client_encoding, TimeZone, ...), or NULL (also for c or name NULL). The
 * string belongs to the connection, valid until the next call on c that
 * reads from the server (it may change the value) or wb_pg_finish. */
const char *wb_pg_parameter(const wb_pg_conn *c, const char *name);
/* The same, copied into buf (cap bytes, NUL-terminated, truncated): safe
 * from any thread while another thread uses c (not during wb_pg_finish).
 * Returns the value's full length, or -1 when unknown (or c/name NULL);
 * buf may be NULL (cap 0) to ask for the length. */
int wb_pg_parameter_copy(wb_pg_conn *c, const char *name, char *buf, size_t cap);
/* Server version as 150018-style integer (from server_version); 0 unknown. */
int wb_pg_server_version(const wb_pg_conn *c);
/* The backend's process ID (BackendKeyData); 0 unknown. */
int wb_pg_backend_pid(const wb_pg_conn *c);
/* 1 when the connection runs over TLS. */
int wb_pg_tls_in_use(const wb_pg_conn *c);
/* The socket (for poll/select on wb_pg_consume_input); -1 when closed. */
int wb_pg_socket(const wb_pg_conn *c);
/* Change the query timeout (milliseconds, 0 = none); NULL c: no effect. */
void wb_pg_set_query_timeout(wb_pg_conn *c, int ms);

/* NoticeResponse (and NotificationResponse) handlers; called on the thread
 * of whatever call is reading (wb_pg_step, ...), which must not be
 * re-entered from the handler. The fields are views valid during the call.
 * Without a handler (fn NULL) they are dropped. NULL c: no effect. */
typedef void (*wb_pg_notice_fn)(void *ctx, const wb_pg_fields *notice);
typedef void (*wb_pg_notify_fn)(void *ctx, int32_t pid, const char *channel, const char *payload);
void wb_pg_set_notice_handler(wb_pg_conn *c, wb_pg_notice_fn fn, void *ctx);
void wb_pg_set_notify_handler(wb_pg_conn *c, wb_pg_notify_fn fn, void *ctx);
/* While idle: wait up to timeout_ms (-1 = forever) for asynchronous messages
 * (NotificationResponse, NoticeResponse, ParameterStatus) and dispatch them.
 * Returns the number of messages handled, or -1 with *err: USAGE when a
 * request is in progress; an ErrorResponse while idle ends the session
 * (FATAL, e.g. pg_terminate_backend). */
int wb_pg_consume_input(wb_pg_conn *c, int timeout_ms, wb_pg_error *err);

/* Ask the server to cancel the request in progress (§55.2.8): a new
 * connection carrying CancelRequest (blocking, at most ~2 s per step).
 * Safe from any thread while another thread uses c, but not concurrently
 * with wb_pg_finish(c). Returns 0 once the request is delivered (the
 * cancelled call then fails with SQLSTATE 57014: WB_PG_ERR_SERVER, the
 * connection stays usable), -1 with *err (USAGE: c NULL or not connected;
 * IO: could not be sent). The connection itself is never changed. */
int wb_pg_cancel(wb_pg_conn *c, wb_pg_error *err);

/* What a CancelRequest needs (the server's address, BackendKeyData),
 * copied out of the connection: a self-contained value that outlives the
 * connection, for a watchdog thread or a pooler. */
typedef struct wb_pg_cancel_key {
    unsigned char addr[128]; /* a struct sockaddr_storage */
    uint32_t addrlen;
    int32_t pid, key;
} wb_pg_cancel_key;
/* Fill *out (connection's thread, or any thread while c is alive). 0, or
 * -1 when c is NULL / not connected / out NULL. */
int wb_pg_get_cancel_key(const wb_pg_conn *c, wb_pg_cancel_key *out);
/* Send the CancelRequest for k (any thread, any time). 0, or -1 with *err
 * (USAGE: k NULL or empty; IO). */
int wb_pg_cancel_send(const wb_pg_cancel_key *k, wb_pg_error *err);

/* ---- handing a connection over (a pooler) ----
 * What a connected, idle wb_pg_conn is made of, taken out of it so an event
 * loop can drive the connection itself (the pooling proxy connects with
 * wb_pg_connect on a worker thread, then relays on an I/O thread). */
typedef struct wb_pg_handover {
    wb_pg_io io;          /* the transport: plain or TLS (io.ssl, its SSL_CTX
                             kept alive by the session); the socket io.fd is
                             non-blocking again. Owned: close with
                             wb_pg_handover_free */
    wb_stream *in;        /* a push stream (wirebuf/stream.h) holding the
                             bytes already read from the server and not yet
                             framed (usually none: the buffer is state, so
                             nothing read is lost). Owned */
    char **params;        /* ParameterStatus values: name, value, name,
                             value... (2 * nparams strings, malloc'd) */
    size_t nparams;
    int32_t pid, key;     /* BackendKeyData */
    wb_pg_cancel_key cancel; /* for wb_pg_cancel_send */
    char tx;              /* last ReadyForQuery status ('I') */
} wb_pg_handover;
/* Take c apart into *out and free c (c is gone whatever the result). c must
 * be idle (WB_PG_OK, no request in progress, no COPY or portal open).
 * Returns 0, or -1 with *err: USAGE (c NULL/bad/busy: c is finished as by
 * wb_pg_finish, *out zeroed), NOMEM (c finished, *out zeroed). Any thread
 * that may use c. */
int wb_pg_detach(wb_pg_conn *c, wb_pg_handover *out, wb_pg_error *err);
/* Close the transport (no Terminate is sent: the caller writes one first
 * if it wants a clean end) and free everything of h; h zeroed. NULL and a
 * zeroed h are fine. */
void wb_pg_handover_free(wb_pg_handover *h);

/* Counters for tests and benchmarks (zeroes for NULL c; out NULL: no-op). */
typedef struct wb_pg_stats {
    uint64_t reads, writes;             /* socket read/write calls */
    uint64_t bytes_in, bytes_out;
    uint64_t messages_in;
} wb_pg_stats;
void wb_pg_get_stats(const wb_pg_conn *c, wb_pg_stats *out);

/* ---- parameters ---- */
/* One bound parameter: val/len (val NULL = SQL NULL), format 0 text / 1
 * binary, oid the type (0 = let the server infer; a binary parameter needs
 * its type). Text values need not be NUL-terminated (len counts bytes;
 * len < 0 with a non-NULL val means strlen). */
typedef struct wb_pg_param {
    const void *val;
    int32_t len;
    int16_t format;
    uint32_t oid;
} wb_pg_param;

/* Result format choice for extended-protocol queries. */
enum wb_pg_result_format {
    WB_PG_TEXT = 0,   /* every column as text */
    WB_PG_BINARY = 1, /* every column binary */
    WB_PG_AUTO = 2    /* binary for the types wb_pg_decode knows, text for the rest */
};

/* ---- the event stream: every request's responses ---- */
enum wb_pg_event_type {
    WB_PG_EV_ROW_DESCRIPTION = 1, /* a result set starts: ncols, cols */
    WB_PG_EV_ROW,                 /* one row: vals/lens (views) */
    WB_PG_EV_COMMAND_COMPLETE,    /* tag, rows */
    WB_PG_EV_EMPTY_QUERY,         /* an empty statement */
    WB_PG_EV_SUSPENDED,           /* Execute's row limit reached (portal suspended) */
    WB_PG_EV_ERROR,               /* a statement failed: error (kind SERVER) */
    WB_PG_EV_COPY_IN,             /* server waits for COPY data: copy_format, ncols */
    WB_PG_EV_COPY_OUT,            /* COPY TO STDOUT starts: use wb_pg_copy_get */
    WB_PG_EV_READY                /* ReadyForQuery: one Sync / Query is answered */
};

/* One event. All pointers are views into the connection's read buffer or
 * its current RowDescription, valid until the next call on the connection. */
typedef struct wb_pg_event {
    int type;
    int64_t statement;        /* 0-based index of the statement in the current
                                 request (multi-statement Query or pipeline) */
    uint16_t ncols;
    const wb_pg_column *cols; /* ROW_DESCRIPTION, ROW: the columns (NULL for
                                 rows of a pipelined Execute, which has no
                                 RowDescription) */
    const uint8_t *const *vals; /* ROW: column values (NULL = SQL NULL) */
    const int32_t *lens;        /* ROW: byte lengths (-1 = SQL NULL) */
    const char *tag;          /* COMMAND_COMPLETE: "INSERT 0 1" */
    int64_t rows;             /* COMMAND_COMPLETE: rows affected/returned (-1 none) */
    const wb_pg_error *error; /* ERROR */
    int copy_format;          /* COPY_IN/COPY_OUT: 0 text/csv, 1 binary */
    char tx_status;           /* READY: 'I', 'T' or 'E' */
} wb_pg_event;

/* Read the next event of the request(s) in progress. Returns 1 with *ev, 0
 * when nothing is in progress (every request answered by READY), -1 with
 * *err: USAGE (ev NULL, or a portal is suspended: the server waits for
 * wb_pg_send_more or wb_pg_close_portal, so nothing would come; the
 * connection is unchanged), otherwise a connection failure (the connection
 * is then WB_PG_BAD). A statement error is an event (WB_PG_EV_ERROR), not a
 * -1. A DataRow whose column count differs from the RowDescription is a
 * protocol error. */
int wb_pg_step(wb_pg_conn *c, wb_pg_event *ev, wb_pg_error *err);

/* Skip the rest of the current request(s) up to and including the last
 * ReadyForQuery; a suspended portal is closed (Close + Sync) on the way.
 * Returns 0 (the connection is then idle and usable), or -1 on a
 * connection failure. If a statement failed on the way, its error is
 * copied to *first_error when not NULL (first_error->kind stays
 * WB_PG_ERR_NONE otherwise). */
int wb_pg_drain(wb_pg_conn *c, wb_pg_error *first_error, wb_pg_error *err);

/* Simple Query (§55.2.2): one or more statements separated by ';', results
 * in text format. Sends and returns; read the results with wb_pg_step. */
int wb_pg_send_query(wb_pg_conn *c, const char *sql, wb_pg_error *err);

/* Extended Query with the unnamed statement and portal (Parse, Bind,
 * Describe portal, Execute, Sync). result_format WB_PG_AUTO first asks the
 * server for the column types (Parse + Describe statement + Flush, one extra
 * round trip) and then binds binary for known types. sql must not be NULL;
 * params may be NULL only when nparams is 0 (USAGE otherwise).
 *
 * The suspended-portal life cycle (§55.2.3 Execute row limit): max_rows 0
 * = all rows; otherwise Execute is followed by Flush (no Sync) and the
 * portal suspends after max_rows rows (WB_PG_EV_SUSPENDED). The server then
 * waits: resume with wb_pg_send_more() (another Execute) or end it with
 * wb_pg_close_portal() (Close + Sync), then step to READY. wb_pg_drain()
 * closes a suspended portal itself. When the portal completes or fails the
 * client sends the Sync itself. Until READY, wb_pg_transaction_status()
 * is 0 and other requests are refused (USAGE). */
int wb_pg_send_query_params(wb_pg_conn *c, const char *sql, int nparams, const wb_pg_param *params,
                            int result_format, int32_t max_rows, wb_pg_error *err);
/* Another Execute of the suspended portal (max_rows 0 = the rest). USAGE
 * (nothing sent) unless the last event was WB_PG_EV_SUSPENDED. */
int wb_pg_send_more(wb_pg_conn *c, int32_t max_rows, wb_pg_error *err);
/* Close the suspended portal and end the request (Close portal + Sync);
 * step on to READY. USAGE (nothing sent) unless a portal is suspended. */
int wb_pg_close_portal(wb_pg_conn *c, wb_pg_error *err);

/* ---- prepared statements ---- */
typedef struct wb_pg_stmt {
    char *name;          /* owned by the statement */
    uint16_t nparams;
    uint32_t *param_oids;
    uint16_t ncols;
    wb_pg_column *cols;  /* names owned by the statement */
    int16_t *formats;    /* result format chosen per column (AUTO rule) */
} wb_pg_stmt;
/* Parse + Describe statement + Sync, waiting for the answer. name NULL or ""
 * means the unnamed statement. types may be NULL (server infers). Returns a
 * statement the caller frees with wb_pg_stmt_free (which does not close it
 * on the server: wb_pg_stmt_close does both), or NULL with *err (SERVER:
 * e.g. a syntax error, the connection is usable; NOMEM after the answer was
 * read: usable). wb_pg_stmt_free(NULL) does nothing; wb_pg_stmt_close with
 * st NULL or unnamed only frees. */
wb_pg_stmt *wb_pg_prepare(wb_pg_conn *c, const char *name, const char *sql, uint16_t ntypes, const uint32_t *types,
                          wb_pg_error *err);
/* Bind + Execute (+ Sync) of a prepared statement: results in binary for
 * known types, text otherwise (no extra round trip: the columns are known).
 * max_rows as for wb_pg_send_query_params. */
int wb_pg_send_prepared(wb_pg_conn *c, const wb_pg_stmt *st, int nparams, const wb_pg_param *params, int32_t max_rows,
                        wb_pg_error *err);
int wb_pg_stmt_close(wb_pg_conn *c, wb_pg_stmt *st, wb_pg_error *err);
void wb_pg_stmt_free(wb_pg_stmt *st);

/* ---- pipelining (§55.2.4) ----
 * Queue any number of Parse / Bind+Execute, then one wb_pg_pipeline_sync.
 * Queued bytes are written as they pile up (beyond 64 KiB) without waiting
 * for answers; while the socket cannot take more, the client reads the
 * server's answers into the read buffer, so a batch of any size cannot
 * deadlock. Results come from wb_pg_step with ev->statement counting the
 * Executes since the pipeline started. After an error the server skips the
 * rest up to the Sync (§55.2.3); the connection is usable after READY.
 * Each call checks its arguments before queuing anything: USAGE or NOMEM
 * leaves everything queued by earlier successful calls in place (nothing of
 * the failed call is queued), so the pipeline can go on or be synced. */
int wb_pg_pipeline_parse(wb_pg_conn *c, const char *name, const char *sql, uint16_t ntypes, const uint32_t *types,
                         wb_pg_error *err);
/* Bind statement `name` with the parameters and Execute it. nformats /
 * formats are the result format codes (0, 1 or one per column; NULL =
 * text). nparams must be 0..65535, params non-NULL when nparams > 0. */
int wb_pg_pipeline_exec(wb_pg_conn *c, const char *name, int nparams, const wb_pg_param *params, uint16_t nformats,
                        const int16_t *formats, wb_pg_error *err);
int wb_pg_pipeline_sync(wb_pg_conn *c, wb_pg_error *err);

/* executemany: Parse sql once, then for each of nrows rows Bind (values
 * from fill(ctx, row, params), which fills nparams wb_pg_param and returns
 * 0, or -1 to abort) + Execute, then one Sync: all pipelined. Returns 0 with
 * *affected (sum of the row counts) or -1: err->statement is the row index
 * the server rejected (the rest of the batch is skipped by the server; in
 * autocommit the whole batch is one implicit transaction and rolls back).
 * A fill failure or a row that cannot be queued (USAGE/NOMEM) ends the
 * batch with a failing statement before the Sync, so nothing of it
 * commits, and reports err->statement = that row; the connection is
 * usable afterwards. */
typedef int (*wb_pg_fill_fn)(void *ctx, int64_t row, wb_pg_param *params);
int wb_pg_executemany(wb_pg_conn *c, const char *sql, int nparams, const uint32_t *types, int64_t nrows,
                      wb_pg_fill_fn fill, void *ctx, int64_t *affected, wb_pg_error *err);

/* ---- materialised results ---- */
typedef struct wb_pg_result wb_pg_result;
/* Run sql (simple query; with nparams > 0 or result_format != WB_PG_TEXT the
 * extended protocol) and collect the last result set into memory owned by
 * the result (free with wb_pg_result_free). NULL with *err on failure
 * (server errors included; the connection stays usable after them). The
 * result accessors accept NULL r (0 rows/cols, NULL values, tag NULL,
 * affected -1); wb_pg_result_free(NULL) does nothing. */
wb_pg_result *wb_pg_exec(wb_pg_conn *c, const char *sql, wb_pg_error *err);
wb_pg_result *wb_pg_exec_params(wb_pg_conn *c, const char *sql, int nparams, const wb_pg_param *params,
                                int result_format, wb_pg_error *err);
int64_t wb_pg_result_rows(const wb_pg_result *r);
uint16_t wb_pg_result_cols(const wb_pg_result *r);
const wb_pg_column *wb_pg_result_column(const wb_pg_result *r, uint16_t col);
/* Value of (row, col): pointer owned by the result, NULL for SQL NULL (then
 * *len = -1). Text values are NUL-terminated. */
const uint8_t *wb_pg_result_value(const wb_pg_result *r, int64_t row, uint16_t col, int32_t *len);
const char *wb_pg_result_tag(const wb_pg_result *r);
int64_t wb_pg_result_affected(const wb_pg_result *r);
void wb_pg_result_free(wb_pg_result *r);

/* Run one or more statements, discarding rows. 0, or -1 with *err. */
int wb_pg_command(wb_pg_conn *c, const char *sql, wb_pg_error *err);

/* ---- COPY (§55.2.6) ---- */
/* Start COPY ... FROM STDIN (any format). Returns 0 when the server is ready
 * for data (CopyInResponse), -1 with *err (e.g. the table does not exist). */
int wb_pg_copy_in_start(wb_pg_conn *c, const char *sql, wb_pg_error *err);
/* Queue COPY data (any split: rows may cross calls). Data is sent as
 * CopyData messages once copy_flush bytes have gathered. 0 or -1. */
int wb_pg_copy_put(wb_pg_conn *c, const void *data, size_t len, wb_pg_error *err);
/* Finish: CopyDone (reason NULL) or CopyFail(reason), then wait for the
 * result. Returns 0 with *rows (rows copied), -1 with *err (bad data:
 * WB_PG_ERR_SERVER, the connection stays usable). On failure *rows says
 * what is known about the commit: 0 when nothing was committed for
 * certain (a statement error, CopyFail, or CopyDone never got out whole),
 * -1 when the outcome is unknown: CopyDone was sent whole and then the
 * connection failed (IO, FATAL, PROTOCOL) before CommandComplete, so the
 * server may have committed every row. rows may be NULL. */
int wb_pg_copy_end(wb_pg_conn *c, const char *reason, int64_t *rows, wb_pg_error *err);
/* Start COPY ... TO STDOUT. 0 or -1. */
int wb_pg_copy_out_start(wb_pg_conn *c, const char *sql, wb_pg_error *err);
/* Next chunk (one CopyData message: usually one row) as a view valid until
 * the next call. Returns 1 with data/len, 0 at the end (then *rows holds the
 * row count if rows is not NULL), -1 with *err. data and len must not be
 * NULL (USAGE). */
int wb_pg_copy_get(wb_pg_conn *c, const uint8_t **data, size_t *len, int64_t *rows, wb_pg_error *err);

/* ---- binary value codecs (§ "binary" send/recv functions of each type) ----
 * Pure functions without state: any thread, concurrently. err (with
 * errlen) may be NULL; v may be NULL only for len -1 (SQL NULL) or 0; the
 * out / a / wb_buf arguments must not be NULL (a precondition, not checked:
 * these run per value). On failure *out is unspecified and what was
 * appended to a wb_buf is unspecified (keep its length to truncate).
 * Type OIDs of the built-in types (pg_type.dat). */
enum {
    WB_PG_OID_BOOL = 16, WB_PG_OID_BYTEA = 17, WB_PG_OID_CHAR = 18, WB_PG_OID_NAME = 19, WB_PG_OID_INT8 = 20,
    WB_PG_OID_INT2 = 21, WB_PG_OID_INT4 = 23, WB_PG_OID_TEXT = 25, WB_PG_OID_OID = 26, WB_PG_OID_JSON = 114,
    WB_PG_OID_FLOAT4 = 700, WB_PG_OID_FLOAT8 = 701, WB_PG_OID_UNKNOWN = 705, WB_PG_OID_BPCHAR = 1042,
    WB_PG_OID_VARCHAR = 1043, WB_PG_OID_DATE = 1082, WB_PG_OID_TIME = 1083, WB_PG_OID_TIMESTAMP = 1114,
    WB_PG_OID_TIMESTAMPTZ = 1184, WB_PG_OID_INTERVAL = 1186, WB_PG_OID_TIMETZ = 1266, WB_PG_OID_NUMERIC = 1700,
    WB_PG_OID_UUID = 2950, WB_PG_OID_JSONB = 3802,
    /* one-dimensional arrays of the above */
    WB_PG_OID_BOOL_ARRAY = 1000, WB_PG_OID_BYTEA_ARRAY = 1001, WB_PG_OID_NAME_ARRAY = 1003,
    WB_PG_OID_INT2_ARRAY = 1005, WB_PG_OID_INT4_ARRAY = 1007, WB_PG_OID_TEXT_ARRAY = 1009,
    WB_PG_OID_BPCHAR_ARRAY = 1014, WB_PG_OID_VARCHAR_ARRAY = 1015, WB_PG_OID_INT8_ARRAY = 1016,
    WB_PG_OID_FLOAT4_ARRAY = 1021, WB_PG_OID_FLOAT8_ARRAY = 1022, WB_PG_OID_OID_ARRAY = 1028,
    WB_PG_OID_TIMESTAMP_ARRAY = 1115, WB_PG_OID_DATE_ARRAY = 1182, WB_PG_OID_TIME_ARRAY = 1183,
    WB_PG_OID_TIMESTAMPTZ_ARRAY = 1185, WB_PG_OID_INTERVAL_ARRAY = 1187, WB_PG_OID_NUMERIC_ARRAY = 1231,
    WB_PG_OID_TIMETZ_ARRAY = 1270, WB_PG_OID_UUID_ARRAY = 2951, WB_PG_OID_JSON_ARRAY = 199,
    WB_PG_OID_JSONB_ARRAY = 3807
};

/* 1 when the type (or array element type) has a binary codec here. */
int wb_pg_binary_known(uint32_t oid);
/* Element type of a known array type, 0 otherwise. */
uint32_t wb_pg_array_elem(uint32_t oid);

/* A decoded binary value. Times: microseconds; dates: days; both relative
 * to 2000-01-01 (PostgreSQL's epoch). Text-like and bytea values are views
 * into the input. */
enum wb_pg_kind {
    WB_PG_K_NULL, WB_PG_K_BOOL, WB_PG_K_INT, WB_PG_K_FLOAT, WB_PG_K_TEXT, WB_PG_K_BYTES, WB_PG_K_NUMERIC,
    WB_PG_K_DATE, WB_PG_K_TIME, WB_PG_K_TIMETZ, WB_PG_K_TIMESTAMP, WB_PG_K_TIMESTAMPTZ, WB_PG_K_INTERVAL,
    WB_PG_K_UUID, WB_PG_K_ARRAY
};
typedef struct wb_pg_value {
    int kind;
    int64_t i;          /* BOOL (0/1), INT, DATE (days), TIME/TIMETZ/TIMESTAMP*(µs) */
    double f;           /* FLOAT */
    int32_t tz_offset;  /* TIMETZ: seconds west of UTC, as sent */
    int32_t days, months; /* INTERVAL (i = µs part) */
    const uint8_t *p;   /* TEXT/BYTES/NUMERIC (raw binary numeric)/UUID (16
                           bytes)/ARRAY (raw): view into the input */
    size_t len;
} wb_pg_value;
/* Decode one binary value of type oid (len -1 = NULL). Unknown types come
 * back as BYTES. Returns 0, or -1 with a message naming the type when the
 * bytes are not a valid value of that type. */
int wb_pg_decode(uint32_t oid, const uint8_t *v, int32_t len, wb_pg_value *out, char *err, size_t errlen);

/* Binary numeric -> its text form ("-12.340", "NaN", "Infinity"), appended
 * to out. 0 or -1 (malformed). */
int wb_pg_numeric_to_text(const uint8_t *v, size_t len, wb_buf *out);
/* Text numeric -> binary numeric appended to out. 0 or -1 (not a number). */
int wb_pg_numeric_from_text(const char *s, size_t len, wb_buf *out);

/* One-dimensional array (binary): header then elements. */
typedef struct wb_pg_array {
    int32_t ndim;       /* 0 (empty) or 1 */
    uint32_t elem_oid;
    int32_t nelems, lbound;
    const uint8_t *cur, *end; /* element cursor */
} wb_pg_array;
int wb_pg_array_open(const uint8_t *v, size_t len, wb_pg_array *a, char *err, size_t errlen);
/* Next element: 1 with *val and *len (len -1 = NULL), 0 at the end, -1 malformed. */
int wb_pg_array_next(wb_pg_array *a, const uint8_t **val, int32_t *len);
/* Encode a one-dimensional array of n elements (vals/lens, NULL = SQL NULL)
 * of type elem_oid (each element already in binary) appended to out. */
int wb_pg_array_encode(wb_buf *out, uint32_t elem_oid, int32_t n, const uint8_t *const *vals, const int32_t *lens);

/* Fixed-width binary encoders: write into out (2, 4 or 8 bytes). */
void wb_pg_put_i16(uint8_t out[2], int16_t v);
void wb_pg_put_i32(uint8_t out[4], int32_t v);
void wb_pg_put_i64(uint8_t out[8], int64_t v);
void wb_pg_put_f64(uint8_t out[8], double v);
void wb_pg_put_f32(uint8_t out[4], float v);

/* Text form of a decoded value, as PostgreSQL's output function prints it
 * with DateStyle ISO and IntervalStyle postgres (timestamptz in UTC, "+00").
 * Appends to out; 0 or -1. */
int wb_pg_value_to_text(uint32_t oid, const wb_pg_value *v, wb_buf *out);

#ifdef __cplusplus
}
#endif
#endif
