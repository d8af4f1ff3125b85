/* wirebuf/pgproto.h - the PostgreSQL v3 frontend/backend protocol codec.
 *
 * Sans-I/O: nothing here reads or writes a socket. Decoders take a byte
 * range (normally the unconsumed bytes of a connection's wb_stream) and
 * return views into it; encoders append one whole message to a caller-owned
 * wb_buf. Both directions are covered on both sides, so the client (pg.h)
 * and a server share this file:
 *
 *   backend -> frontend (PostgreSQL 15 docs §55.7 Message Formats):
 *     Authentication* (R), BackendKeyData (K), BindComplete (2),
 *     CloseComplete (3), CommandComplete (C), CopyData (d), CopyDone (c),
 *     CopyInResponse (G), CopyOutResponse (H), CopyBothResponse (W),
 *     DataRow (D), EmptyQueryResponse (I), ErrorResponse (E),
 *     FunctionCallResponse (V), NegotiateProtocolVersion (v), NoData (n),
 *     NoticeResponse (N), NotificationResponse (A), ParameterDescription (t),
 *     ParameterStatus (S), ParseComplete (1), PortalSuspended (s),
 *     ReadyForQuery (Z), RowDescription (T)
 *   frontend -> backend:
 *     StartupMessage, SSLRequest, GSSENCRequest, CancelRequest (untyped),
 *     Bind (B), Close (C), CopyData (d), CopyDone (c), CopyFail (f),
 *     Describe (D), Execute (E), Flush (H), FunctionCall (F),
 *     PasswordMessage / SASLInitialResponse / SASLResponse / GSSResponse (p),
 *     Parse (P), Query (Q), Sync (S), Terminate (X)
 *
 * Lifetimes: every `const uint8_t *` / `const char *` a decoder returns
 * points into the bytes the caller passed in and is valid exactly as long as
 * those bytes (for a wb_stream: until the next need/fill/consume). Strings
 * returned as `const char *` are the message's own NUL-terminated strings.
 *
 * Errors: decoders return 0 on success or -1 for a malformed message, after
 * writing a message that names the message type and what is wrong into
 * err (errlen bytes, NUL-terminated; err may be NULL). Encoders return 0, or
 * -1 when memory runs out or a field does not fit the protocol's integer
 * sizes (the wb_buf is then left as it was before the call).
 *
 * Threads: no function here has state; any thread may call any of them at
 * any time, concurrently, as long as no two threads write the same wb_buf.
 *
 * NULL: a NULL string argument of an encoder is sent as the empty string
 * (name "", the unnamed statement/portal); every array argument may be NULL
 * when its count is 0. err may be NULL (errlen then ignored). The message
 * m, the wb_buf b and the decoders' output pointers must not be NULL: that
 * is a precondition, not checked (these are the per-row hot path).
 */
#ifndef WIREBUF_PGPROTO_H
#define WIREBUF_PGPROTO_H
#include "wirebuf/buf.h"
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

/* Protocol constants (§55.7). */
#define WB_PG_PROTOCOL_3_0 196608u /* 3 << 16 */
#define WB_PG_SSL_REQUEST_CODE 80877103u
#define WB_PG_GSSENC_REQUEST_CODE 80877104u
#define WB_PG_CANCEL_REQUEST_CODE 80877102u

/* Authentication request codes (the Int32 after 'R'). */
enum {
    WB_PG_AUTH_OK = 0,
    WB_PG_AUTH_KERBEROS_V5 = 2,
    WB_PG_AUTH_CLEARTEXT = 3,
    WB_PG_AUTH_MD5 = 5,
    WB_PG_AUTH_GSS = 7,
    WB_PG_AUTH_GSS_CONTINUE = 8,
    WB_PG_AUTH_SSPI = 9,
    WB_PG_AUTH_SASL = 10,
    WB_PG_AUTH_SASL_CONTINUE = 11,
    WB_PG_AUTH_SASL_FINAL = 12
};

/* One framed message: a view. type is the message type byte, or 0 for the
 * untyped startup-phase frontend messages; body/len exclude the type byte
 * and the Int32 length word (len = length word - 4). */
typedef struct wb_pg_msg {
    uint8_t type;
    uint32_t len;
    const uint8_t *body;
} wb_pg_msg;

/* Frame one typed message from p[0, n).
 * Returns 1 and fills *m (the message occupies 5 + m->len bytes of p);
 * 0 when more bytes are needed (*need, if not NULL, gets the total number of
 * bytes the message needs once its header is known, else 5);
 * -1 when the length word is below 4 or above max_len (bytes; 0 means 1 GiB,
 * PostgreSQL's own limit), with a message in err. */
int wb_pg_frame(const uint8_t *p, size_t n, size_t max_len, wb_pg_msg *m, size_t *need, char *err,
                size_t errlen);

/* Frame one untyped startup-phase message (StartupMessage, SSLRequest,
 * GSSENCRequest, CancelRequest): Int32 length then body. Same returns; a
 * length word below 8 or above 10,000 bytes (the server's own limit for a
 * startup packet) is -1. m->type is 0. */
int wb_pg_frame_startup(const uint8_t *p, size_t n, wb_pg_msg *m, size_t *need, char *err, size_t errlen);

/* Name of a message type byte from the given side ("DataRow", ...); from_backend
 * selects the table because the same byte names different messages. Returns
 * "unknown" for bytes outside the protocol. Static string. */
const char *wb_pg_msg_name(uint8_t type, int from_backend);

/* Big-endian helpers (the protocol's byte order). */
static inline uint16_t wb_pg_be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t wb_pg_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t wb_pg_be64(const uint8_t *p) { return ((uint64_t)wb_pg_be32(p) << 32) | wb_pg_be32(p + 4); }

/* ------------------------------------------------------------------ */
/* Backend message decoders                                            */

/* Authentication (R): code is WB_PG_AUTH_*; data/len are the rest (MD5: the
 * 4-byte salt; SASL: the mechanism list, NUL-separated, ending with an empty
 * name; SASLContinue/SASLFinal/GSSContinue: the server's data). */
typedef struct wb_pg_auth {
    int32_t code;
    const uint8_t *data;
    size_t len;
} wb_pg_auth;
int wb_pg_parse_auth(const wb_pg_msg *m, wb_pg_auth *out, char *err, size_t errlen);

/* BackendKeyData (K): process ID and secret key for CancelRequest. */
int wb_pg_parse_backend_key_data(const wb_pg_msg *m, int32_t *pid, int32_t *key, char *err, size_t errlen);

/* CommandComplete (C): the command tag ("INSERT 0 5", "SELECT 3", ...). */
int wb_pg_parse_command_complete(const wb_pg_msg *m, const char **tag, char *err, size_t errlen);
/* The row count at the end of a command tag, or -1 when the tag has none. */
int64_t wb_pg_tag_rows(const char *tag);

/* CopyInResponse (G) / CopyOutResponse (H) / CopyBothResponse (W): overall
 * format (0 text, 1 binary) and per-column format codes (view of ncols
 * Int16s; read with wb_pg_be16(formats + 2*i)). Also decodes the same
 * layout when it comes from wb_pg_put_copy_response. */
typedef struct wb_pg_copy_response {
    int format;
    uint16_t ncols;
    const uint8_t *formats;
} wb_pg_copy_response;
int wb_pg_parse_copy_response(const wb_pg_msg *m, wb_pg_copy_response *out, char *err, size_t errlen);

/* DataRow (D): fill vals[i]/lens[i] for the row's columns (lens[i] == -1 is
 * SQL NULL, vals[i] then NULL). cap is the size of both arrays; the column
 * count is returned in *ncols (a row wider than cap is an error).
 * The hot path of every fetch: one pass, no allocation. */
int wb_pg_parse_datarow(const wb_pg_msg *m, uint16_t cap, const uint8_t **vals, int32_t *lens, uint16_t *ncols,
                        char *err, size_t errlen);

/* ErrorResponse (E) / NoticeResponse (N): the identified fields
 * (§55.8 Error and Notice Message Fields). Absent fields are NULL. */
typedef struct wb_pg_fields {
    const char *severity;          /* S: localized */
    const char *severity_nonlocal; /* V: ERROR, FATAL, PANIC, WARNING, NOTICE, ... */
    const char *sqlstate;          /* C */
    const char *message;           /* M */
    const char *detail;            /* D */
    const char *hint;              /* H */
    const char *position;          /* P: 1-based character index into the query */
    const char *internal_position; /* p */
    const char *internal_query;    /* q */
    const char *where;             /* W */
    const char *schema;            /* s */
    const char *table;             /* t */
    const char *column;            /* c */
    const char *datatype;          /* d */
    const char *constraint;        /* n */
    const char *file;              /* F */
    const char *line;              /* L */
    const char *routine;           /* R */
} wb_pg_fields;
int wb_pg_parse_fields(const wb_pg_msg *m, wb_pg_fields *out, char *err, size_t errlen);

/* FunctionCallResponse (V): result value (len -1 = NULL). */
int wb_pg_parse_function_call_response(const wb_pg_msg *m, const uint8_t **val, int32_t *len, char *err,
                                       size_t errlen);

/* NegotiateProtocolVersion (v): newest minor version the server supports and
 * the unrecognised protocol options (n names, NUL-terminated, back to back
 * starting at names). */
int wb_pg_parse_negotiate_protocol_version(const wb_pg_msg *m, int32_t *minor, int32_t *n, const char **names,
                                           char *err, size_t errlen);

/* NotificationResponse (A). */
int wb_pg_parse_notification(const wb_pg_msg *m, int32_t *pid, const char **channel, const char **payload,
                             char *err, size_t errlen);

/* ParameterDescription (t): n parameter type OIDs (view of n Int32s; read with
 * wb_pg_be32(oids + 4*i)). */
int wb_pg_parse_parameter_description(const wb_pg_msg *m, uint16_t *n, const uint8_t **oids, char *err,
                                      size_t errlen);

/* ParameterStatus (S). */
int wb_pg_parse_parameter_status(const wb_pg_msg *m, const char **name, const char **value, char *err,
                                 size_t errlen);

/* ReadyForQuery (Z): transaction status 'I' idle, 'T' in a transaction
 * block, 'E' in a failed transaction block. */
int wb_pg_parse_ready_for_query(const wb_pg_msg *m, char *status, char *err, size_t errlen);

/* RowDescription (T): one entry per result column. */
typedef struct wb_pg_column {
    const char *name;   /* view into the message */
    uint32_t table_oid; /* 0 when not a table column */
    int16_t attnum;
    uint32_t type_oid;
    int16_t typlen; /* negative: variable width */
    int32_t typmod;
    int16_t format; /* 0 text, 1 binary (zero in a Describe reply) */
} wb_pg_column;
/* Fill cols[0..*ncols) (cap entries available). */
int wb_pg_parse_row_description(const wb_pg_msg *m, uint16_t cap, wb_pg_column *cols, uint16_t *ncols, char *err,
                                size_t errlen);
/* The column count of a RowDescription without decoding it (-1 if short). */
int wb_pg_row_description_count(const wb_pg_msg *m);

/* Messages with an empty body (BindComplete, CloseComplete, CopyDone,
 * EmptyQueryResponse, NoData, ParseComplete, PortalSuspended, Flush, Sync,
 * Terminate): -1 if the body is not empty. */
int wb_pg_parse_empty(const wb_pg_msg *m, char *err, size_t errlen);

/* Decode any backend message fully (every field of every type above), for
 * validation and fuzzing: 0 if well-formed, -1 with a message otherwise. */
int wb_pg_check_backend(const wb_pg_msg *m, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* Frontend message decoders (the server side)                         */

/* StartupMessage: protocol version and the parameter pairs (n pairs of
 * NUL-terminated name, value back to back from `params`). SSLRequest,
 * GSSENCRequest and CancelRequest are told apart by *code (then n = 0). */
typedef struct wb_pg_startup {
    uint32_t code; /* WB_PG_PROTOCOL_3_0, or one of the *_REQUEST_CODE values */
    int32_t pid, key; /* CancelRequest only */
    int n;
    const char *params;
} wb_pg_startup;
int wb_pg_parse_startup(const wb_pg_msg *m, wb_pg_startup *out, char *err, size_t errlen);
/* Look up a StartupMessage parameter by name; NULL when absent. */
const char *wb_pg_startup_get(const wb_pg_startup *s, const char *name);

/* Bind (B). Parameter values: walk with wb_pg_bind_next_param. */
typedef struct wb_pg_bind {
    const char *portal, *statement;
    uint16_t nformats; /* 0, 1 or nparams parameter format codes */
    const uint8_t *formats;
    uint16_t nparams;
    const uint8_t *params; /* start of the parameter values */
    uint16_t nresult_formats;
    const uint8_t *result_formats;
} wb_pg_bind;
int wb_pg_parse_bind(const wb_pg_msg *m, wb_pg_bind *out, char *err, size_t errlen);
/* Format code of parameter / result column i per the 0/1/n rule. */
int wb_pg_format_at(uint16_t n, const uint8_t *codes, uint16_t i);
/* Parameter i's value from a validated Bind: walks from b->params. Callers
 * iterating all parameters use *cursor (start at b->params). */
const uint8_t *wb_pg_bind_next_param(const uint8_t **cursor, int32_t *len);

/* Close (C) / Describe (D): kind 'S' statement or 'P' portal, and its name. */
int wb_pg_parse_close_describe(const wb_pg_msg *m, char *kind, const char **name, char *err, size_t errlen);
/* Execute (E): portal name, row limit (0 = no limit). */
int wb_pg_parse_execute(const wb_pg_msg *m, const char **portal, int32_t *max_rows, char *err, size_t errlen);
/* Parse (P): statement name, query text, n parameter type OIDs (view). */
int wb_pg_parse_parse(const wb_pg_msg *m, const char **name, const char **query, uint16_t *ntypes,
                      const uint8_t **types, char *err, size_t errlen);
/* Query (Q) / CopyFail (f): the one string. */
int wb_pg_parse_string(const wb_pg_msg *m, const char **s, char *err, size_t errlen);
/* SASLInitialResponse (p, in the SASL exchange): mechanism name and the
 * client-first data (len -1 = none). SASLResponse / PasswordMessage are a
 * plain string/byte body: use m->body directly. */
int wb_pg_parse_sasl_initial(const wb_pg_msg *m, const char **mechanism, const uint8_t **data, int32_t *len,
                             char *err, size_t errlen);
/* FunctionCall (F): function OID, argument count; arguments follow the
 * Bind layout (walk with wb_pg_bind_next_param from *args). */
int wb_pg_parse_function_call(const wb_pg_msg *m, uint32_t *oid, uint16_t *nformats, const uint8_t **formats,
                              uint16_t *nargs, const uint8_t **args, int16_t *result_format, char *err,
                              size_t errlen);
/* Decode any frontend message fully: 0 if well-formed. */
int wb_pg_check_frontend(const wb_pg_msg *m, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* Frontend message encoders (append one message to b)                 */

/* StartupMessage: params is a NULL-terminated list of name, value, name,
 * value, ..., NULL (e.g. {"user","alice","database","db",NULL}). */
int wb_pg_put_startup(wb_buf *b, const char *const *params);
int wb_pg_put_ssl_request(wb_buf *b);
int wb_pg_put_gssenc_request(wb_buf *b);
int wb_pg_put_cancel_request(wb_buf *b, int32_t pid, int32_t key);
/* PasswordMessage (cleartext or "md5..." hash), also GSSResponse/SASLResponse
 * bodies: `p` then the bytes as given (the caller adds a NUL for passwords:
 * wb_pg_put_password does). */
int wb_pg_put_password(wb_buf *b, const char *password);
int wb_pg_put_sasl_initial(wb_buf *b, const char *mechanism, const void *data, size_t len);
int wb_pg_put_sasl_response(wb_buf *b, const void *data, size_t len);
int wb_pg_put_query(wb_buf *b, const char *sql);
/* Parse: ntypes parameter OIDs (0 = let the server infer). */
int wb_pg_put_parse(wb_buf *b, const char *name, const char *sql, uint16_t ntypes, const uint32_t *types);
/* Bind: nparams values (vals[i] NULL with lens[i] -1 = SQL NULL) with
 * nformats (0, 1 or nparams) parameter format codes, and nresult result
 * format codes (0, 1 or the column count). */
int wb_pg_put_bind(wb_buf *b, const char *portal, const char *statement, uint16_t nformats, const int16_t *formats,
                   uint16_t nparams, const uint8_t *const *vals, const int32_t *lens, uint16_t nresult,
                   const int16_t *result_formats);
/* Describe / Close: kind 'S' (prepared statement) or 'P' (portal). */
int wb_pg_put_describe(wb_buf *b, char kind, const char *name);
int wb_pg_put_close(wb_buf *b, char kind, const char *name);
/* Execute: max_rows 0 = all rows; otherwise the portal suspends after that
 * many (PortalSuspended). */
int wb_pg_put_execute(wb_buf *b, const char *portal, int32_t max_rows);
int wb_pg_put_sync(wb_buf *b);
int wb_pg_put_flush(wb_buf *b);
int wb_pg_put_terminate(wb_buf *b);
int wb_pg_put_copy_data(wb_buf *b, const void *data, size_t len);
int wb_pg_put_copy_done(wb_buf *b);
int wb_pg_put_copy_fail(wb_buf *b, const char *reason);
int wb_pg_put_function_call(wb_buf *b, uint32_t oid, uint16_t nformats, const int16_t *formats, uint16_t nargs,
                            const uint8_t *const *vals, const int32_t *lens, int16_t result_format);

/* ------------------------------------------------------------------ */
/* Backend message encoders (the server side)                          */

int wb_pg_put_auth(wb_buf *b, int32_t code, const void *data, size_t len);
int wb_pg_put_backend_key_data(wb_buf *b, int32_t pid, int32_t key);
int wb_pg_put_parameter_status(wb_buf *b, const char *name, const char *value);
int wb_pg_put_ready_for_query(wb_buf *b, char status);
/* RowDescription from ncols column descriptions. */
int wb_pg_put_row_description(wb_buf *b, uint16_t ncols, const wb_pg_column *cols);
/* DataRow: ncols values (NULL/-1 = SQL NULL). */
int wb_pg_put_datarow(wb_buf *b, uint16_t ncols, const uint8_t *const *vals, const int32_t *lens);
int wb_pg_put_command_complete(wb_buf *b, const char *tag);
/* ErrorResponse ('E') or NoticeResponse ('N') from the non-NULL fields. */
int wb_pg_put_fields(wb_buf *b, uint8_t type, const wb_pg_fields *f);
/* Empty-bodied backend messages: '1' ParseComplete, '2' BindComplete,
 * '3' CloseComplete, 'I' EmptyQueryResponse, 'n' NoData, 's' PortalSuspended,
 * 'c' CopyDone (also the frontend's Sync 'S', Flush 'H', Terminate 'X'). */
int wb_pg_put_empty(wb_buf *b, uint8_t type);
int wb_pg_put_parameter_description(wb_buf *b, uint16_t n, const uint32_t *oids);
/* CopyInResponse 'G' / CopyOutResponse 'H' / CopyBothResponse 'W'. */
int wb_pg_put_copy_response(wb_buf *b, uint8_t type, int format, uint16_t ncols, const int16_t *formats);
int wb_pg_put_notification(wb_buf *b, int32_t pid, const char *channel, const char *payload);
int wb_pg_put_function_call_response(wb_buf *b, const void *val, int32_t len);
int wb_pg_put_negotiate_protocol_version(wb_buf *b, int32_t minor, int32_t n, const char *const *names);

#ifdef __cplusplus
}
#endif
#endif
