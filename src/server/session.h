/* src/server/session.h - one client connection of the wire server as a
 * sans-I/O state machine: bytes in (the connection's push wb_stream), bytes
 * out (a wb_buf), actions for the caller. No sockets, no threads, no clock:
 * src/server/server.c drives it from libevent I/O threads and a worker
 * pool, and tests and fuzz/fuzz_pg_frontend.c drive it directly.
 *
 * Protocol: PostgreSQL 15 docs §55.2.1 (Start-up), §55.2.8 (CancelRequest),
 * §55.2.10 (SSL Session Encryption), §55.3 (SASL), §55.7 (message formats).
 *
 * States (one function each in session.c):
 *   STARTUP   untyped packets: SSLRequest -> 'S' (TLS configured, action
 *             TLS) or 'N'; GSSENCRequest -> 'N'; CancelRequest -> action
 *             CANCEL; StartupMessage -> protocol check (3.x;
 *             NegotiateProtocolVersion for a newer minor or _pq_ options),
 *             user/database, the connection cap (53300), then the
 *             authentication request of the connection's method
 *   PASSWORD  expecting PasswordMessage (cleartext or md5)
 *   SASL      expecting SASLInitialResponse; SASL_CONT: SASLResponse
 *   LOGIN     authenticated: the caller runs wb_srv_session_login() on a
 *             worker (it opens the engine session, which may block)
 *   READY     frontend messages go to the engine: wb_srv_session_run() on
 *             a worker
 *   CLOSED    nothing more; flush out and close
 */
#ifndef WB_SERVER_SESSION_H
#define WB_SERVER_SESSION_H
#include "engine.h"
#include "wirebuf/buf.h"
#include "wirebuf/pgreader.h"
#include "wirebuf/stream.h"
#include <stdint.h>

/* Authentication methods (PostgreSQL's pg_hba.conf names). */
enum wb_srv_auth { WB_SRV_AUTH_TRUST, WB_SRV_AUTH_PASSWORD, WB_SRV_AUTH_MD5, WB_SRV_AUTH_SCRAM };

/* The password file in memory: per role a SCRAM-SHA-256 verifier (RFC 5802
 * §3: salt, iteration count, StoredKey, ServerKey) and the md5 hash
 * ("md5" + hex md5(password || role)); the cleartext is not kept. */
typedef struct wb_srv_role {
    char *name;
    uint8_t salt[16];
    int iterations;
    uint8_t stored_key[32], server_key[32];
    char md5[36]; /* "md5" + 32 hex digits + NUL */
} wb_srv_role;
typedef struct wb_srv_passwords {
    wb_srv_role *roles;
    int n;
} wb_srv_passwords;
/* Load `role:password` lines (blank lines and lines starting with '#'
 * skipped; the password is everything after the first ':'). Returns 0, or
 * -1 with a message naming the line in err. */
int wb_srv_passwords_load(wb_srv_passwords *pw, const char *path, char *err, size_t errlen);
/* Add one role (for tests and the loader). 0 or -1 (out of memory/crypto). */
int wb_srv_passwords_add(wb_srv_passwords *pw, const char *role, const char *password);
const wb_srv_role *wb_srv_passwords_find(const wb_srv_passwords *pw, const char *role);
void wb_srv_passwords_free(wb_srv_passwords *pw);

enum wb_srv_state {
    WB_SRV_ST_STARTUP,
    WB_SRV_ST_PASSWORD,
    WB_SRV_ST_SASL,
    WB_SRV_ST_SASL_CONT,
    WB_SRV_ST_LOGIN,
    WB_SRV_ST_READY,
    WB_SRV_ST_CLOSED
};

/* What the caller must do next (after sending whatever out holds). */
enum wb_srv_action {
    WB_SRV_WAIT,   /* read more bytes, push them, call step/run again */
    WB_SRV_TLS,    /* send out ('S'), then run the TLS handshake, then step */
    WB_SRV_CANCEL, /* CancelRequest for (cancel_pid, cancel_key); then close */
    WB_SRV_LOGIN,  /* call wb_srv_session_login (worker thread) */
    WB_SRV_ENGINE, /* a frontend message is buffered: call wb_srv_session_run
                      (worker thread) */
    WB_SRV_FLUSH,  /* run: send out, then call run again (output high water,
                      or the engine said WB_ENGINE_MORE) */
    WB_SRV_CLOSE   /* send out, then close the connection */
};

typedef struct wb_srv_session {
    enum wb_srv_state state;
    wb_stream *in;  /* owned push stream */
    wb_pg_reader rd;
    wb_buf out;     /* owned; the caller sends and clears it */
    /* set by the caller before the first step */
    int auth;                       /* enum wb_srv_auth */
    const wb_srv_passwords *pw;     /* NULL: no roles (password methods fail) */
    int tls_available, tls_active;  /* SSL configured / handshake done */
    uint8_t cbind[64];              /* tls-server-end-point data when tls_active */
    int cbind_len;
    int too_many;                   /* over --max-connections: 53300 at startup */
    int32_t pid, key;               /* BackendKeyData */
    /* from the StartupMessage */
    char *user, *database;
    char **names, **values;
    int nparams;
    /* CancelRequest */
    int32_t cancel_pid, cancel_key;
    /* authentication exchange */
    uint8_t md5_salt[4];
    int sasl_plus;
    char *sasl_client_first_bare, *sasl_server_first, *sasl_nonce, *sasl_gs2;
    wb_srv_role mock; /* verifier used for an unknown role (fails at the end) */
    /* engine */
    wb_engine_session *es;
    int engine_more; /* the engine returned WB_ENGINE_MORE: resume next */
    uint64_t messages_in;
} wb_srv_session;

/* Initialise (allocates the push stream; initial read buffer size `initial`
 * bytes, 0 = default). Returns 0 or -1 (out of memory). */
int wb_srv_session_init(wb_srv_session *s, size_t initial);
/* Free everything except the engine session (the caller frees that first,
 * with wb_engine_session_free, on a worker). */
void wb_srv_session_destroy(wb_srv_session *s);

/* Startup/authentication phase: consume buffered packets, append answers
 * to out. Any thread (the I/O thread: it never blocks). In READY it returns
 * ENGINE when a whole message is buffered, else WAIT. */
enum wb_srv_action wb_srv_session_step(wb_srv_session *s);
/* LOGIN: AuthenticationOk, the engine session (ParameterStatus...),
 * BackendKeyData, ReadyForQuery; or FATAL (3D000...) and CLOSE. Worker. */
enum wb_srv_action wb_srv_session_login(wb_srv_session *s, wb_engine *e);
/* READY: hand every buffered whole message to the engine (resuming first
 * if the engine said MORE), coalescing answers in out. Returns WAIT when
 * all buffered messages are done, FLUSH when out passed the high-water
 * mark (send, then call again), CLOSE on Terminate/FATAL/EOF/bad input.
 * Worker thread. */
enum wb_srv_action wb_srv_session_run(wb_srv_session *s);

/* Append an ErrorResponse (severity "ERROR"/"FATAL") to b. */
int wb_srv_put_error(wb_buf *b, const char *severity, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
