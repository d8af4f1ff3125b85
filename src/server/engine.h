/* src/server/engine.h - the contract between the wire server (src/server/:
 * listening, TLS, startup, authentication, I/O threads, cancel registry,
 * notifications hub) and the SQL engine (src/engine/: PostgreSQL SQL parsed
 * by libpg_query and run on SQLite).
 *
 * The engine is the backend's session state machine after authentication:
 * it takes whole frontend messages (PostgreSQL 15 docs §55.7: Query, Parse,
 * Bind, Describe, Execute, Close, Flush, Sync, CopyData, CopyDone, CopyFail,
 * FunctionCall, Terminate) and appends every backend message they cause
 * (RowDescription, DataRow, CommandComplete, ErrorResponse, ParameterStatus,
 * CopyInResponse, ReadyForQuery, ...) to a caller-owned wb_buf through the
 * encoders of src/pg/proto.c. It never touches a socket and never blocks on
 * a client; it may block on SQLite (busy handling, long statements), so the
 * server calls it from worker threads, or from an I/O thread only with a
 * way out (hooks.waiting, and a helper that takes the I/O thread's other
 * sessions over when a call runs long).
 *
 * Threads: one wb_engine is shared by every thread. A wb_engine_session is
 * used by one thread at a time (the server hands it from thread to thread
 * with proper synchronisation); wb_engine_session_interrupt() and
 * wb_engine_session_listening() may be called from any thread at any time
 * while the session exists.
 *
 * Errors: SQL errors are never return values: they are ErrorResponse
 * messages in `out` (S, V, C always; SQLSTATE as PostgreSQL gives it), and
 * the session goes on (in the extended protocol it skips to the next Sync).
 */
#ifndef WIREBUF_SERVER_ENGINE_H
#define WIREBUF_SERVER_ENGINE_H
#include "wirebuf/buf.h"
#include <stddef.h>
#include <stdint.h>

typedef struct wb_engine wb_engine;
typedef struct wb_engine_session wb_engine_session;

/* An error outside a session (opening a DATADIR, a missing database). */
typedef struct wb_engine_error {
    char sqlstate[6]; /* e.g. "3D000", "58030" */
    char message[256];
} wb_engine_error;

/* Calls from the engine into the server. All may be NULL. Called from the
 * engine's (worker) thread; the server makes them thread-safe.
 *   signal_backend: pg_cancel_backend (terminate = 0) / pg_terminate_backend
 *     (terminate = 1) of process id pid; returns 1 if such a session exists.
 *   notify: NOTIFY delivered at commit of the sending session's transaction
 *     (PostgreSQL 15 docs "NOTIFY"): the server sends NotificationResponse
 *     to every session of database db for which
 *     wb_engine_session_listening(channel) is true.
 *   Lock order (srvwire): both hooks take the server's session registry
 *   lock and, under it, call wb_engine_session_interrupt() /
 *   wb_engine_session_listening() on other sessions and on the calling
 *   session itself; so the engine must not hold, while calling a hook, a
 *   lock that those two functions take. */
typedef struct wb_engine_hooks {
    void *ctx;
    int (*signal_backend)(void *ctx, int32_t pid, int terminate);
    void (*notify)(void *ctx, const char *db, const char *channel, const char *payload,
                   int32_t sender_pid);
    /* waiting: the thread running a statement of session pid is about to
     * sleep (a lock held by another session, pg_sleep): the server may move
     * other work off this thread. Called on that thread, with no engine
     * lock held; may be NULL. */
    void (*waiting)(void *ctx, int32_t pid);
} wb_engine_hooks;

/* Open (creating when fresh: database "postgres", superuser role "postgres")
 * the DATADIR: one SQLite file per PostgreSQL database, WAL mode. hooks is
 * copied. Returns NULL with *err filled on failure (unwritable DATADIR...). */
wb_engine *wb_engine_open(const char *datadir, const wb_engine_hooks *hooks, wb_engine_error *err);
/* Close every SQLite connection. All sessions must have been freed. */
void wb_engine_close(wb_engine *e);

/* A new backend session for database `db` and role `user` (both NUL-terminated,
 * copied), with the StartupMessage's other parameters (names[i]=values[i],
 * i < n: application_name, client_encoding, DateStyle, TimeZone, options,
 * ...) and the process id the server chose (pg_backend_pid()). Appends the
 * ParameterStatus messages PostgreSQL 15 sends after AuthenticationOk
 * (server_version, server_encoding, client_encoding, DateStyle, IntervalStyle,
 * TimeZone, integer_datetimes, standard_conforming_strings, application_name,
 * is_superuser, session_authorization, default_transaction_read_only,
 * in_hot_standby) to out; the server then writes BackendKeyData and
 * ReadyForQuery('I'). Returns NULL with *err filled (3D000 for a missing
 * database, 53300 when the engine is out of resources, 22023 for a bad
 * startup parameter). */
wb_engine_session *wb_engine_session_new(wb_engine *e, const char *db, const char *user,
                                         const char *const *names, const char *const *values,
                                         int n, int32_t pid, wb_buf *out, wb_engine_error *err);
/* Roll back any open transaction, close cursors and portals, free. */
void wb_engine_session_free(wb_engine_session *s);

/* Return values of wb_engine_message / wb_engine_resume. */
enum wb_engine_status {
    WB_ENGINE_OK = 0,    /* message fully handled; output (if any) in out */
    WB_ENGINE_SYNCED,    /* as OK, and out ends with ReadyForQuery: flush now
                            (Sync, or the end of a simple Query) */
    WB_ENGINE_MORE,      /* out passed WB_ENGINE_OUT_HIGH bytes in the middle of
                            a result: flush out, then call wb_engine_resume() */
    WB_ENGINE_CLOSE,     /* Terminate, or a FATAL error (already in out):
                            flush out and close the connection */
    WB_ENGINE_NOMEM      /* out of memory: close the connection */
};
/* How large out may grow before the engine yields with WB_ENGINE_MORE. */
#define WB_ENGINE_OUT_HIGH (256u * 1024u)

/* Handle one whole frontend message (type byte, body without the length
 * word; body is only valid during the call). The server may call this (and
 * wb_engine_resume) on an I/O thread: it moves that thread's other work
 * elsewhere when a call runs long or hooks.waiting says it will sleep. Messages arriving while a COPY
 * FROM STDIN is in progress are CopyData/CopyDone/CopyFail (anything else is
 * an 08P01 error as in PostgreSQL). Flush needs no output: the server flushes
 * whatever out holds. */
enum wb_engine_status wb_engine_message(wb_engine_session *s, uint8_t type, const uint8_t *body,
                                        uint32_t len, wb_buf *out);
/* Continue after WB_ENGINE_MORE (large results, COPY TO, the rest of a
 * multi-statement Query). */
enum wb_engine_status wb_engine_resume(wb_engine_session *s, wb_buf *out);

/* Transaction status for ReadyForQuery: 'I', 'T' or 'E'. */
char wb_engine_session_txn_status(const wb_engine_session *s);
/* Cancel the statement running (or the next one to run if it is between
 * statements of the same request) with 57014 "canceling statement due to
 * user request"; terminate = 1 ends the session with FATAL 57P01
 * "terminating connection due to administrator command". Any thread. */
void wb_engine_session_interrupt(wb_engine_session *s, int terminate);
/* 1 if the session has LISTENed on channel. Any thread. */
int wb_engine_session_listening(wb_engine_session *s, const char *channel);

#endif
