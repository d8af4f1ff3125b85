/* src/proxy/relay.h - the pooling proxy's protocol bookkeeping between one
 * client session and the server connection it holds, as a sans-I/O state
 * machine: whole messages in (framed by wb_pg_reader out of each side's read
 * buffer), bytes appended to the other side's write buffer out. No sockets,
 * no threads, no clock, no pools: src/proxy/proxy.c (the plumbing) owns the
 * pools and the I/O and calls this; tests drive it with byte fixtures.
 *
 * Terms are PgBouncer's: a client is a frontend connected to the proxy; a
 * server connection is one backend connection to the upstream; pool mode
 * session / transaction / statement says when a server connection goes back
 * to its pool. Message names: PostgreSQL 15 docs §55.7.
 *
 * What it does (issue 12 §1):
 *  - decides when the client needs a server connection (the first message
 *    of a request: Query, Parse, Bind, FunctionCall, ...) and when the server
 *    connection may be released (ReadyForQuery 'I' with nothing outstanding
 *    in transaction mode; after each ReadyForQuery in statement mode; never
 *    in session mode);
 *  - server-side prepared statements: a client's named statements (Parse
 *    with a name; SQL PREPARE/EXECUTE/DEALLOCATE) are kept per client and
 *    given server-side names derived from a hash of their text and
 *    parameter types ("wb_" + hex), so identical statements of different
 *    clients share one server-side statement and names never collide; a
 *    statement is Parsed on a server connection the first time a client
 *    needs it there (its ParseComplete swallowed); Close of a client's
 *    statement answers CloseComplete without closing the shared server-side
 *    statement; DEALLOCATE / DISCARD ALL keep the bookkeeping true;
 *  - ParameterStatus: the values the client set (StartupMessage parameters,
 *    ParameterStatus reported during its statements) are replayed with SET on
 *    a server connection whose values differ, the replies swallowed;
 *  - LISTEN in transaction/statement mode: ErrorResponse 0A000 to the client
 *    without involving a server connection;
 *  - the order of responses: a response the proxy synthesises (ParseComplete,
 *    CloseComplete for cached statements) is emitted exactly where the
 *    server's response to that message would have been; after an
 *    ErrorResponse in the extended protocol the server skips to Sync and so
 *    does the bookkeeping.
 *
 * In detail (src/proxy/relay.c; tests/test_proxy_relay.c checks each
 * point with byte fixtures and, under scripts/with_pg.sh, differentially
 * against a direct connection to PostgreSQL 15):
 *  - server-side names are "wb_" + 16 lower-case hex digits of a 64-bit
 *    FNV-1a hash of (how the statement is created, its text, its parameter
 *    types); each server connection keeps the texts of the statements it
 *    has, so a hash collision is seen (the other statement is closed and
 *    this one parsed: the wrong statement never runs). A client name of
 *    the form "wb_..." the client never prepared reaches the server as is.
 *  - a Parse of a name the client already has is sent to the server under
 *    the existing statement's server name, so that PostgreSQL itself
 *    reports what it would (a syntax error first, else 42P05, whose message
 *    is rewritten to the client's name) and the transaction fails as it
 *    would; Bind/Describe/Execute of names the client lacks go to the
 *    server unchanged, which reports 26000 in the client's words; an
 *    error that names a renamed statement (a Bind's parameter count, an
 *    EXECUTE's) is rewritten to the client's name. A Parse of a text the
 *    server connection has is answered ParseComplete by the proxy, or
 *    25P02 when the transaction has failed and the text is not a
 *    transaction exit (COMMIT, ROLLBACK [TO SAVEPOINT], ...: PostgreSQL
 *    accepts those there; pgjdbc prepares them) (also when an earlier batch of
 *    a pipeline failed it: the rest of that batch's answers are then
 *    swallowed, as PostgreSQL skips to Sync).
 *  - the statements present on a server connection are bounded by
 *    max_prepared (LRU; the eviction's Close 'S' and CloseComplete are the
 *    proxy's). Closing a statement also closes portals made from it: with a
 *    max_prepared smaller than the statements one pipeline uses, an evicted
 *    statement's open portal can be lost.
 *  - SQL level, simple Query only: PREPARE is recorded per client and sent
 *    renamed, or answered here ("PREPARE") when the server connection has
 *    the statement; EXECUTE is renamed, with "PREPARE wb_... AS ...; " put
 *    in front of it in the same Query when the server connection lacks the
 *    statement (that CommandComplete is swallowed; an error position P then
 *    counts from the start of the sent text); a statement prepared with
 *    Parse with explicit parameter types is injected as Parse + Sync
 *    (swallowed) before such an EXECUTE; DEALLOCATE [PREPARE] name | ALL is
 *    answered here (26000 for a name the client lacks, 25P02 in a failed
 *    transaction) and leaves the shared server-side statement in place;
 *    DISCARD ALL is forwarded and, when it succeeds, empties the client's
 *    statements and the server connection's set. With the extended
 *    protocol (psycopg 3 sends its DEALLOCATE / DEALLOCATE ALL so): an
 *    unnamed Parse of DEALLOCATE of a statement the client has, or of
 *    DEALLOCATE ALL, and the Bind / Describe / Execute of it through the
 *    unnamed portal are answered here; DISCARD ALL is forwarded and
 *    clears as above; PREPARE / EXECUTE sent with the extended protocol
 *    pass through unchanged (not tracked). A Query that mixes
 *    PREPARE / EXECUTE / DEALLOCATE / DISCARD ALL with other statements is
 *    refused with 0A000 ("... must be the only statement of a simple Query
 *    in a pooled session"), before anything is sent. A protocol-level
 *    Bind of a statement the client made with a typed SQL PREPARE on a
 *    server connection that lacks it is preceded by a Query "PREPARE ..."
 *    (its answers swallowed), which ends an open implicit transaction of
 *    the extended protocol (not an explicit BEGIN block).
 *  - parameters: the client wants its StartupMessage values (also each
 *    "-c name=value" / "--name=value" of options), then every value the
 *    server reports with ParameterStatus during its statements, and, for
 *    parameters the server does not report (search_path, work_mem, ...),
 *    the value text of each SET / RESET / RESET ALL of its simple Queries
 *    once the Query succeeds (inside a transaction block: at COMMIT; void
 *    after ROLLBACK or an error; SET LOCAL is not tracked); a SET sent
 *    with the extended protocol (psycopg 3, pgjdbc: Parse of a single SET
 *    or RESET, executed through the unnamed portal) counts once its Sync's
 *    ReadyForQuery comes without an error in that batch (through a named
 *    portal it is not tracked). Attach appends one Query: set_config()
 *    for reported values that differ, SET name TO <the client's text> for
 *    the others, and puts back to the server connection's own start-up
 *    values (or RESETs) what an earlier client changed that this one does
 *    not want. All its answers are swallowed; if it fails, the values it
 *    touched are unknown and set again at the next attach. After RESET /
 *    RESET ALL / DISCARD ALL the client's start-up values are replayed at
 *    once and their ParameterStatus reach the client, as PostgreSQL's
 *    RESET would report them. SET SESSION AUTHORIZATION does not follow a
 *    client to another server connection (it holds for its transaction /
 *    server connection only) and never stays for the next client: the
 *    replay starts with RESET SESSION AUTHORIZATION when the server
 *    connection reports another session_authorization than at its start.
 *  - COPY FROM STDIN: CopyData/CopyDone/CopyFail are relayed unchanged;
 *    Syncs the client sends between an Execute that starts COPY and its
 *    CopyDone are ignored by the server and by the bookkeeping.
 *  - statement mode: a ReadyForQuery with status T or E (a transaction
 *    block) becomes ErrorResponse FATAL 0A000 "transaction blocks are not
 *    allowed in statement pooling mode" and WB_RELAY_S_BROKEN, as PgBouncer
 *    closes such a client.
 *  - hot path: an ordinary Query costs wb_psql_maybe_special and a copy;
 *    Bind/Execute/Sync of a statement the server connection has costs two
 *    hash lookups, a compare of its text and a renamed copy; no allocation
 *    per message (the queue grows and stays; the scratch buffers of rare
 *    paths go back when nothing is outstanding). bench/bench_relay.c
 *    measures it.
 *
 * Ownership: a wb_relay_client and a wb_relay_server are owned by the
 * plumbing; attach lends the server to the client until detach. Message
 * bodies passed in are only read during the call. Threads: an object is
 * used by one thread at a time (the plumbing hands it over with proper
 * synchronisation).
 */
#ifndef WB_PROXY_RELAY_H
#define WB_PROXY_RELAY_H
#include "wirebuf/buf.h"
#include <stddef.h>
#include <stdint.h>

enum wb_pool_mode { WB_POOL_SESSION = 0, WB_POOL_TRANSACTION = 1, WB_POOL_STATEMENT = 2 };

typedef struct wb_relay_client wb_relay_client;
typedef struct wb_relay_server wb_relay_server;

/* ---- server connections ---------------------------------------------- */
/* A server connection's bookkeeping (prepared statements present on it,
 * its session parameter values). max_prepared: server-side statements kept
 * before the least recently used is closed (0 = 1000). NULL: out of memory. */
wb_relay_server *wb_relay_server_new(size_t max_prepared);
void wb_relay_server_free(wb_relay_server *s);
/* Record a ParameterStatus the server sent during its start-up (before the
 * first attach): its value now and its default (what RESET and DISCARD ALL
 * go back to). 0 or -1 (out of memory). */
int wb_relay_server_param(wb_relay_server *s, const char *name, const char *value);
/* Session mode, when a client leaves: append DISCARD ALL (as a Query) to
 * to_server and forget the statements present; the server connection is
 * idle again when wb_relay_server_idle_msg() returns WB_RELAY_S_RELEASE. */
int wb_relay_server_reset(wb_relay_server *s, wb_buf *to_server);
/* A message from a server connection that no client holds (the reset's
 * replies, NoticeResponse, ParameterStatus, an ErrorResponse FATAL when the
 * backend is terminated): WB_RELAY_S_OK (nothing to do), WB_RELAY_S_RELEASE
 * (the reset finished: idle and usable), WB_RELAY_S_BROKEN (close it). */
int wb_relay_server_idle_msg(wb_relay_server *s, uint8_t type, const uint8_t *body, uint32_t len);

/* ---- clients --------------------------------------------------------- */
/* A client session in pool mode `mode` (enum wb_pool_mode), with its
 * StartupMessage parameters other than user and database (names[i] =
 * values[i], i < n: client_encoding, DateStyle, TimeZone, application_name,
 * search_path, options "-c name=value" ...; copied): the values to replay.
 * NULL: out of memory. */
wb_relay_client *wb_relay_client_new(int mode, const char *const *names, const char *const *values, int n);
/* Free (detach first; a server still attached is not freed). */
void wb_relay_client_free(wb_relay_client *c);

/* A client's start-up parameters as the relay keeps them (the names and
 * values of wb_relay_client_new, parsed the same way), immutable, so that
 * the clients of a pool that sent the same ones share one set: a client
 * reads it until the session changes a value (SET, a ParameterStatus of
 * its statements), then keeps its own copy; RESET ALL / DISCARD ALL go
 * back to the shared set. Reference counted, atomically: any thread may
 * take or drop a reference. new: one reference, NULL when out of memory. */
typedef struct wb_relay_startup wb_relay_startup;
wb_relay_startup *wb_relay_startup_new(const char *const *names, const char *const *values, int n);
wb_relay_startup *wb_relay_startup_ref(wb_relay_startup *s); /* returns s; NULL: no-op */
void wb_relay_startup_unref(wb_relay_startup *s);            /* NULL: no-op */
/* 1 if a and b hold the same names and values (in any order). */
int wb_relay_startup_same(const wb_relay_startup *a, const wb_relay_startup *b);
/* The value of parameter `name` (case-insensitive) in s, or NULL; valid
 * while a reference to s is held. */
const char *wb_relay_startup_get(const wb_relay_startup *s, const char *name);
/* A client session on start-up set `s` (a reference is taken; s must not be
 * NULL). NULL: out of memory. wb_relay_client_new is this on a set of its
 * own. */
wb_relay_client *wb_relay_client_new_shared(int mode, wb_relay_startup *s);
/* An idle client (no server attached, nothing outstanding) gives back what
 * it allocated for requests: its queue, scratch buffers and empty tables
 * (made again by its next request). No-op otherwise. */
void wb_relay_client_trim(wb_relay_client *c);

/* Lend server connection s to client c (c holds none). Appends to to_server
 * what makes s fit c: a Query of SET commands for the parameters whose
 * values differ (replies swallowed). 0 or -1 (out of memory). */
int wb_relay_attach(wb_relay_client *c, wb_relay_server *s, wb_buf *to_server);
/* Take the server connection back from c (NULL if none). After
 * WB_RELAY_S_RELEASE it is idle and clean; otherwise (the client went away
 * mid-transaction, or the server broke) the plumbing closes it unless
 * wb_relay_server_clean() says it is idle outside a transaction. */
wb_relay_server *wb_relay_detach(wb_relay_client *c);
/* 1 if s has nothing outstanding and its last ReadyForQuery said 'I'. */
int wb_relay_server_clean(const wb_relay_server *s);

/* Results of wb_relay_from_client. */
enum wb_relay_act {
    WB_RELAY_OK = 0,          /* handled: bytes appended to to_server and/or
                                 to_client (a synthesised answer, an error) */
    WB_RELAY_NEED_SERVER = 1, /* nothing consumed, nothing appended: attach a
                                 server connection, then call again with the
                                 same message (it stays in the client's read
                                 buffer meanwhile) */
    WB_RELAY_CLOSE = 2,       /* Terminate, or a protocol violation (FATAL
                                 08P01 appended to to_client): flush
                                 to_client and close the client */
    WB_RELAY_NOMEM = -1       /* out of memory: close the client */
};
/* One whole frontend message of the client (type byte; body without the
 * length word). Appends the message (renamed where needed, preceded by any
 * Parse the server connection lacks) to to_server, or a synthesised answer
 * to to_client. */
int wb_relay_from_client(wb_relay_client *c, uint8_t type, const uint8_t *body, uint32_t len,
                         wb_buf *to_server, wb_buf *to_client);

/* Results of wb_relay_from_server (and wb_relay_server_idle_msg). */
enum wb_relay_sact {
    WB_RELAY_S_OK = 0,      /* forwarded to to_client, or swallowed */
    WB_RELAY_S_RELEASE = 1, /* as OK, and the pool mode lets the server
                               connection go back now: wb_relay_detach */
    WB_RELAY_S_BROKEN = 2,  /* the server sent something out of sequence or
                               a FATAL error (forwarded to to_client): close
                               the server connection and the client */
    WB_RELAY_S_NOMEM = -1
};
/* One whole backend message from the server connection c holds. */
int wb_relay_from_server(wb_relay_client *c, uint8_t type, const uint8_t *body, uint32_t len,
                         wb_buf *to_client, wb_buf *to_server);

/* The server connection c holds broke (EOF, reset, the upstream restarted):
 * append ErrorResponse FATAL `sqlstate` (08006, or 57P01 when the server
 * said so) with message to to_client; the plumbing then closes the client.
 * Returns 0 or -1. */
int wb_relay_server_lost(wb_relay_client *c, const char *sqlstate, const char *message, wb_buf *to_client);

/* For the plumbing and the console. */
int wb_relay_client_waiting_for_server(const wb_relay_client *c); /* 1: requests outstanding */
char wb_relay_client_txn_status(const wb_relay_client *c);       /* last ReadyForQuery: I/T/E */
size_t wb_relay_client_prepared(const wb_relay_client *c);       /* client's named statements */

#endif
