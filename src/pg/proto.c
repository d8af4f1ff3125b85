/* PostgreSQL v3 protocol codec (see include/wirebuf/pgproto.h).
 * Source: PostgreSQL 15 docs §55.7 Message Formats, §55.8 Error and Notice
 * Message Fields. Every decoder walks the body with a bounds-checked cursor;
 * nothing reads past m->body + m->len. */
#include "wirebuf/pgproto.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MSG_DEFAULT (1u << 30)

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *wb_pg_msg_name(uint8_t t, int from_backend)
{
    if (from_backend) {
        switch (t) {
        case 'R': return "Authentication";
        case 'K': return "BackendKeyData";
        case '2': return "BindComplete";
        case '3': return "CloseComplete";
        case 'C': return "CommandComplete";
        case 'd': return "CopyData";
        case 'c': return "CopyDone";
        case 'G': return "CopyInResponse";
        case 'H': return "CopyOutResponse";
        case 'W': return "CopyBothResponse";
        case 'D': return "DataRow";
        case 'I': return "EmptyQueryResponse";
        case 'E': return "ErrorResponse";
        case 'V': return "FunctionCallResponse";
        case 'v': return "NegotiateProtocolVersion";
        case 'n': return "NoData";
        case 'N': return "NoticeResponse";
        case 'A': return "NotificationResponse";
        case 't': return "ParameterDescription";
        case 'S': return "ParameterStatus";
        case '1': return "ParseComplete";
        case 's': return "PortalSuspended";
        case 'Z': return "ReadyForQuery";
        case 'T': return "RowDescription";
        }
    } else {
        switch (t) {
        case 0: return "StartupMessage";
        case 'B': return "Bind";
        case 'C': return "Close";
        case 'd': return "CopyData";
        case 'c': return "CopyDone";
        case 'f': return "CopyFail";
        case 'D': return "Describe";
        case 'E': return "Execute";
        case 'H': return "Flush";
        case 'F': return "FunctionCall";
        case 'p': return "PasswordMessage";
        case 'P': return "Parse";
        case 'Q': return "Query";
        case 'S': return "Sync";
        case 'X': return "Terminate";
        }
    }
    return "unknown";
}

int wb_pg_frame(const uint8_t *p, size_t n, size_t max_len, wb_pg_msg *m, size_t *need, char *err, size_t errlen)
{
    if (n < 5) {
        if (need)
            *need = 5;
        return 0;
    }
    uint32_t len = wb_pg_be32(p + 1);
    if (!max_len)
        max_len = MAX_MSG_DEFAULT;
    if (len < 4 || len - 4 > max_len)
        return fail(err, errlen, "message type 0x%02x ('%c') has invalid length %u", p[0],
                    p[0] >= 32 && p[0] < 127 ? p[0] : '?', len);
    if (n - 1 < len) {
        if (need)
            *need = (size_t)len + 1;
        return 0;
    }
    m->type = p[0];
    m->len = len - 4;
    m->body = p + 5;
    return 1;
}

int wb_pg_frame_startup(const uint8_t *p, size_t n, wb_pg_msg *m, size_t *need, char *err, size_t errlen)
{
    if (n < 4) {
        if (need)
            *need = 4;
        return 0;
    }
    uint32_t len = wb_pg_be32(p);
    if (len < 8 || len > 10000)
        return fail(err, errlen, "startup packet has invalid length %u", len);
    if (n < len) {
        if (need)
            *need = len;
        return 0;
    }
    m->type = 0;
    m->len = len - 4;
    m->body = p + 4;
    return 1;
}

/* ---- bounds-checked cursor ---- */
typedef struct rd {
    const uint8_t *p, *end, *start;
    const char *what; /* message name for errors */
    char *err;
    size_t errlen;
    int bad;
} rd;

static rd rd_init(const wb_pg_msg *m, const char *what, char *err, size_t errlen)
{
    rd r = {m->body, m->body + m->len, m->body, what, err, errlen, 0};
    return r;
}
static int rd_short(rd *r, const char *field)
{
    if (!r->bad)
        fail(r->err, r->errlen, "%s: message ends inside %s (body byte %td of %td)", r->what, field, r->p - r->start,
             r->end - r->start);
    r->bad = 1;
    r->p = r->end;
    return 0;
}
static uint8_t rd_u8(rd *r, const char *field)
{
    if (r->end - r->p < 1)
        return (uint8_t)rd_short(r, field);
    return *r->p++;
}
static uint16_t rd_u16(rd *r, const char *field)
{
    if (r->end - r->p < 2)
        return (uint16_t)rd_short(r, field);
    uint16_t v = wb_pg_be16(r->p);
    r->p += 2;
    return v;
}
static uint32_t rd_u32(rd *r, const char *field)
{
    if (r->end - r->p < 4)
        return (uint32_t)rd_short(r, field);
    uint32_t v = wb_pg_be32(r->p);
    r->p += 4;
    return v;
}
static const char *rd_str(rd *r, const char *field)
{
    const uint8_t *z = r->p < r->end ? memchr(r->p, 0, (size_t)(r->end - r->p)) : NULL;
    if (!z) {
        rd_short(r, field);
        return "";
    }
    const char *s = (const char *)r->p;
    r->p = z + 1;
    return s;
}
static const uint8_t *rd_bytes(rd *r, size_t n, const char *field)
{
    if ((size_t)(r->end - r->p) < n) {
        rd_short(r, field);
        return NULL;
    }
    const uint8_t *v = r->p;
    r->p += n;
    return v;
}
/* finish: error if malformed or trailing bytes */
static int rd_done(rd *r)
{
    if (r->bad)
        return -1;
    if (r->p != r->end)
        return fail(r->err, r->errlen, "%s: %td unexpected bytes after the last field", r->what, r->end - r->p);
    return 0;
}

/* ---- backend decoders ---- */
int wb_pg_parse_auth(const wb_pg_msg *m, wb_pg_auth *out, char *err, size_t errlen)
{
    rd r = rd_init(m, "Authentication", err, errlen);
    out->code = (int32_t)rd_u32(&r, "the request code");
    out->data = r.p;
    out->len = (size_t)(r.end - r.p);
    if (r.bad)
        return -1;
    switch (out->code) {
    case WB_PG_AUTH_OK:
    case WB_PG_AUTH_KERBEROS_V5:
    case WB_PG_AUTH_CLEARTEXT:
    case WB_PG_AUTH_GSS:
    case WB_PG_AUTH_SSPI:
        return out->len ? fail(err, errlen, "Authentication request %d has %zu unexpected bytes", out->code, out->len)
                        : 0;
    case WB_PG_AUTH_MD5:
        return out->len == 4 ? 0 : fail(err, errlen, "AuthenticationMD5Password salt is %zu bytes, not 4", out->len);
    case WB_PG_AUTH_SASL:
        /* mechanism names, each NUL-terminated, then an empty name */
        if (out->len == 0 || out->data[out->len - 1] != 0)
            return fail(err, errlen, "AuthenticationSASL mechanism list is not terminated");
        return 0;
    case WB_PG_AUTH_GSS_CONTINUE:
    case WB_PG_AUTH_SASL_CONTINUE:
    case WB_PG_AUTH_SASL_FINAL:
        return 0;
    default:
        return fail(err, errlen, "unknown Authentication request code %d", out->code);
    }
}

int wb_pg_parse_backend_key_data(const wb_pg_msg *m, int32_t *pid, int32_t *key, char *err, size_t errlen)
{
    rd r = rd_init(m, "BackendKeyData", err, errlen);
    *pid = (int32_t)rd_u32(&r, "the process ID");
    *key = (int32_t)rd_u32(&r, "the secret key");
    return rd_done(&r);
}

int wb_pg_parse_command_complete(const wb_pg_msg *m, const char **tag, char *err, size_t errlen)
{
    rd r = rd_init(m, "CommandComplete", err, errlen);
    *tag = rd_str(&r, "the command tag");
    return rd_done(&r);
}

int64_t wb_pg_tag_rows(const char *tag)
{
    const char *sp = strrchr(tag, ' ');
    if (!sp || !sp[1])
        return -1;
    int64_t v = 0;
    for (const char *q = sp + 1; *q; q++) {
        if (*q < '0' || *q > '9' || v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*q - '0');
    }
    return v;
}

int wb_pg_parse_copy_response(const wb_pg_msg *m, wb_pg_copy_response *out, char *err, size_t errlen)
{
    rd r = rd_init(m, wb_pg_msg_name(m->type, 1), err, errlen);
    out->format = rd_u8(&r, "the overall format");
    out->ncols = rd_u16(&r, "the column count");
    out->formats = rd_bytes(&r, (size_t)out->ncols * 2, "the column formats");
    if (rd_done(&r))
        return -1;
    if (out->format > 1)
        return fail(err, errlen, "%s: overall format %d is neither 0 (text) nor 1 (binary)", r.what, out->format);
    return 0;
}

int wb_pg_parse_datarow(const wb_pg_msg *m, uint16_t cap, const uint8_t **vals, int32_t *lens, uint16_t *ncols,
                        char *err, size_t errlen)
{
    const uint8_t *p = m->body, *end = m->body + m->len;
    if (m->len < 2)
        return fail(err, errlen, "DataRow: message ends inside the column count");
    uint16_t n = wb_pg_be16(p);
    p += 2;
    if (n > cap)
        return fail(err, errlen, "DataRow: %u columns where the RowDescription announced %u", n, cap);
    for (uint16_t i = 0; i < n; i++) {
        if (end - p < 4)
            return fail(err, errlen, "DataRow: message ends inside the length of column %u", i + 1);
        int32_t len = (int32_t)wb_pg_be32(p);
        p += 4;
        if (len < 0) {
            if (len != -1)
                return fail(err, errlen, "DataRow: column %u has negative length %d", i + 1, len);
            vals[i] = NULL;
            lens[i] = -1;
            continue;
        }
        if (end - p < len)
            return fail(err, errlen, "DataRow: column %u length %d runs past the end of the %u-byte message", i + 1,
                        len, m->len);
        vals[i] = p;
        lens[i] = len;
        p += len;
    }
    if (p != end)
        return fail(err, errlen, "DataRow: %td unexpected bytes after column %u", end - p, n);
    *ncols = n;
    return 0;
}

int wb_pg_parse_fields(const wb_pg_msg *m, wb_pg_fields *f, char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    rd r = rd_init(m, m->type == 'N' ? "NoticeResponse" : "ErrorResponse", err, errlen);
    for (;;) {
        uint8_t code = rd_u8(&r, "a field code");
        if (r.bad)
            return -1;
        if (code == 0)
            break;
        const char *v = rd_str(&r, "a field value");
        if (r.bad)
            return -1;
        switch (code) {
        case 'S': f->severity = v; break;
        case 'V': f->severity_nonlocal = v; break;
        case 'C': f->sqlstate = v; break;
        case 'M': f->message = v; break;
        case 'D': f->detail = v; break;
        case 'H': f->hint = v; break;
        case 'P': f->position = v; break;
        case 'p': f->internal_position = v; break;
        case 'q': f->internal_query = v; break;
        case 'W': f->where = v; break;
        case 's': f->schema = v; break;
        case 't': f->table = v; break;
        case 'c': f->column = v; break;
        case 'd': f->datatype = v; break;
        case 'n': f->constraint = v; break;
        case 'F': f->file = v; break;
        case 'L': f->line = v; break;
        case 'R': f->routine = v; break;
        default: break; /* §55.8: unrecognised field types are to be ignored */
        }
    }
    return rd_done(&r);
}

int wb_pg_parse_function_call_response(const wb_pg_msg *m, const uint8_t **val, int32_t *len, char *err,
                                       size_t errlen)
{
    rd r = rd_init(m, "FunctionCallResponse", err, errlen);
    *len = (int32_t)rd_u32(&r, "the result length");
    *val = NULL;
    if (*len < -1)
        return fail(err, errlen, "FunctionCallResponse: negative result length %d", *len);
    if (*len >= 0)
        *val = rd_bytes(&r, (size_t)*len, "the result value");
    return rd_done(&r);
}

int wb_pg_parse_negotiate_protocol_version(const wb_pg_msg *m, int32_t *minor, int32_t *n, const char **names,
                                           char *err, size_t errlen)
{
    rd r = rd_init(m, "NegotiateProtocolVersion", err, errlen);
    *minor = (int32_t)rd_u32(&r, "the minor version");
    *n = (int32_t)rd_u32(&r, "the option count");
    if (*n < 0)
        return fail(err, errlen, "NegotiateProtocolVersion: negative option count %d", *n);
    *names = (const char *)r.p;
    for (int32_t i = 0; i < *n && !r.bad; i++)
        rd_str(&r, "an option name");
    return rd_done(&r);
}

int wb_pg_parse_notification(const wb_pg_msg *m, int32_t *pid, const char **channel, const char **payload,
                             char *err, size_t errlen)
{
    rd r = rd_init(m, "NotificationResponse", err, errlen);
    *pid = (int32_t)rd_u32(&r, "the process ID");
    *channel = rd_str(&r, "the channel name");
    *payload = rd_str(&r, "the payload");
    return rd_done(&r);
}

int wb_pg_parse_parameter_description(const wb_pg_msg *m, uint16_t *n, const uint8_t **oids, char *err,
                                      size_t errlen)
{
    rd r = rd_init(m, "ParameterDescription", err, errlen);
    *n = rd_u16(&r, "the parameter count");
    *oids = rd_bytes(&r, (size_t)*n * 4, "the parameter type OIDs");
    return rd_done(&r);
}

int wb_pg_parse_parameter_status(const wb_pg_msg *m, const char **name, const char **value, char *err,
                                 size_t errlen)
{
    rd r = rd_init(m, "ParameterStatus", err, errlen);
    *name = rd_str(&r, "the parameter name");
    *value = rd_str(&r, "the parameter value");
    return rd_done(&r);
}

int wb_pg_parse_ready_for_query(const wb_pg_msg *m, char *status, char *err, size_t errlen)
{
    rd r = rd_init(m, "ReadyForQuery", err, errlen);
    *status = (char)rd_u8(&r, "the transaction status");
    if (rd_done(&r))
        return -1;
    if (*status != 'I' && *status != 'T' && *status != 'E')
        return fail(err, errlen, "ReadyForQuery: unknown transaction status 0x%02x", (uint8_t)*status);
    return 0;
}

int wb_pg_row_description_count(const wb_pg_msg *m) { return m->len < 2 ? -1 : wb_pg_be16(m->body); }

int wb_pg_parse_row_description(const wb_pg_msg *m, uint16_t cap, wb_pg_column *cols, uint16_t *ncols, char *err,
                                size_t errlen)
{
    rd r = rd_init(m, "RowDescription", err, errlen);
    uint16_t n = rd_u16(&r, "the field count");
    if (r.bad)
        return -1;
    if (n > cap)
        return fail(err, errlen, "RowDescription: %u fields, room for %u", n, cap);
    for (uint16_t i = 0; i < n && !r.bad; i++) {
        wb_pg_column *c = &cols[i];
        c->name = rd_str(&r, "a field name");
        c->table_oid = rd_u32(&r, "a table OID");
        c->attnum = (int16_t)rd_u16(&r, "a column attribute number");
        c->type_oid = rd_u32(&r, "a type OID");
        c->typlen = (int16_t)rd_u16(&r, "a type size");
        c->typmod = (int32_t)rd_u32(&r, "a type modifier");
        c->format = (int16_t)rd_u16(&r, "a format code");
        if (!r.bad && c->format != 0 && c->format != 1)
            return fail(err, errlen, "RowDescription: field %u has format code %d", i + 1, c->format);
    }
    if (rd_done(&r))
        return -1;
    *ncols = n;
    return 0;
}

int wb_pg_parse_empty(const wb_pg_msg *m, char *err, size_t errlen)
{
    return m->len ? fail(err, errlen, "message type '%c' should be empty but has %u bytes", m->type, m->len) : 0;
}

int wb_pg_check_backend(const wb_pg_msg *m, char *err, size_t errlen)
{
    union {
        wb_pg_auth a;
        wb_pg_copy_response cr;
        wb_pg_fields f;
    } u;
    int32_t i1, i2;
    uint16_t n16;
    const char *s1, *s2;
    const uint8_t *v;
    char st;
    switch (m->type) {
    case 'R': return wb_pg_parse_auth(m, &u.a, err, errlen);
    case 'K': return wb_pg_parse_backend_key_data(m, &i1, &i2, err, errlen);
    case '1': case '2': case '3': case 'c': case 'I': case 'n': case 's':
        return wb_pg_parse_empty(m, err, errlen);
    case 'C': return wb_pg_parse_command_complete(m, &s1, err, errlen);
    case 'd': return 0;
    case 'G': case 'H': case 'W': return wb_pg_parse_copy_response(m, &u.cr, err, errlen);
    case 'D': {
        if (m->len < 2)
            return fail(err, errlen, "DataRow: message ends inside the column count");
        uint16_t cap = wb_pg_be16(m->body);
        const uint8_t **vals = malloc(sizeof *vals * (cap + 1u));
        int32_t *lens = malloc(sizeof *lens * (cap + 1u));
        int rc = vals && lens ? wb_pg_parse_datarow(m, cap, vals, lens, &n16, err, errlen)
                              : fail(err, errlen, "out of memory");
        free(vals);
        free(lens);
        return rc;
    }
    case 'E': case 'N': return wb_pg_parse_fields(m, &u.f, err, errlen);
    case 'V': return wb_pg_parse_function_call_response(m, &v, &i1, err, errlen);
    case 'v': return wb_pg_parse_negotiate_protocol_version(m, &i1, &i2, &s1, err, errlen);
    case 'A': return wb_pg_parse_notification(m, &i1, &s1, &s2, err, errlen);
    case 't': return wb_pg_parse_parameter_description(m, &n16, &v, err, errlen);
    case 'S': return wb_pg_parse_parameter_status(m, &s1, &s2, err, errlen);
    case 'Z': return wb_pg_parse_ready_for_query(m, &st, err, errlen);
    case 'T': {
        int n = wb_pg_row_description_count(m);
        if (n < 0)
            return fail(err, errlen, "RowDescription: message ends inside the field count");
        wb_pg_column *cols = malloc(sizeof *cols * ((size_t)n + 1));
        int rc = cols ? wb_pg_parse_row_description(m, (uint16_t)n, cols, &n16, err, errlen)
                      : fail(err, errlen, "out of memory");
        free(cols);
        return rc;
    }
    default:
        return fail(err, errlen, "unknown backend message type 0x%02x", m->type);
    }
}

/* ---- frontend decoders ---- */
int wb_pg_parse_startup(const wb_pg_msg *m, wb_pg_startup *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    rd r = rd_init(m, "StartupMessage", err, errlen);
    out->code = rd_u32(&r, "the protocol version");
    if (r.bad)
        return -1;
    if (out->code == WB_PG_CANCEL_REQUEST_CODE) {
        r.what = "CancelRequest";
        out->pid = (int32_t)rd_u32(&r, "the process ID");
        out->key = (int32_t)rd_u32(&r, "the secret key");
        return rd_done(&r);
    }
    if (out->code == WB_PG_SSL_REQUEST_CODE || out->code == WB_PG_GSSENC_REQUEST_CODE) {
        r.what = out->code == WB_PG_SSL_REQUEST_CODE ? "SSLRequest" : "GSSENCRequest";
        return rd_done(&r);
    }
    if (out->code >> 16 != 3)
        return fail(err, errlen, "StartupMessage: unsupported protocol version %u.%u", out->code >> 16,
                    out->code & 0xffff);
    out->params = (const char *)r.p;
    for (;;) {
        const char *name = rd_str(&r, "a parameter name");
        if (r.bad)
            return -1;
        if (!*name)
            break;
        rd_str(&r, "a parameter value");
        if (r.bad)
            return -1;
        out->n++;
    }
    return rd_done(&r);
}

const char *wb_pg_startup_get(const wb_pg_startup *s, const char *name)
{
    const char *p = s->params;
    for (int i = 0; i < s->n; i++) {
        const char *v = p + strlen(p) + 1;
        if (strcmp(p, name) == 0)
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

int wb_pg_format_at(uint16_t n, const uint8_t *codes, uint16_t i)
{
    if (n == 0)
        return 0;
    return (int16_t)wb_pg_be16(codes + 2 * (n == 1 ? 0 : i));
}

/* values in the Bind / FunctionCall layout: n x (Int32 len, bytes) */
static void rd_values(rd *r, uint16_t n)
{
    for (uint16_t i = 0; i < n && !r->bad; i++) {
        int32_t len = (int32_t)rd_u32(r, "a value length");
        if (len < -1) {
            fail(r->err, r->errlen, "%s: value %u has negative length %d", r->what, i + 1, len);
            r->bad = 1;
        } else if (len > 0) {
            rd_bytes(r, (size_t)len, "a value");
        }
    }
}

int wb_pg_parse_bind(const wb_pg_msg *m, wb_pg_bind *b, char *err, size_t errlen)
{
    rd r = rd_init(m, "Bind", err, errlen);
    b->portal = rd_str(&r, "the portal name");
    b->statement = rd_str(&r, "the statement name");
    b->nformats = rd_u16(&r, "the format code count");
    b->formats = rd_bytes(&r, (size_t)b->nformats * 2, "the format codes");
    b->nparams = rd_u16(&r, "the parameter count");
    b->params = r.p;
    rd_values(&r, b->nparams);
    b->nresult_formats = rd_u16(&r, "the result format count");
    b->result_formats = rd_bytes(&r, (size_t)b->nresult_formats * 2, "the result format codes");
    if (rd_done(&r))
        return -1;
    if (b->nformats > 1 && b->nformats != b->nparams)
        return fail(err, errlen, "Bind: %u format codes for %u parameters", b->nformats, b->nparams);
    return 0;
}

const uint8_t *wb_pg_bind_next_param(const uint8_t **cursor, int32_t *len)
{
    const uint8_t *p = *cursor;
    *len = (int32_t)wb_pg_be32(p);
    p += 4;
    const uint8_t *v = *len >= 0 ? p : NULL;
    if (*len > 0)
        p += *len;
    *cursor = p;
    return v;
}

int wb_pg_parse_close_describe(const wb_pg_msg *m, char *kind, const char **name, char *err, size_t errlen)
{
    rd r = rd_init(m, m->type == 'C' ? "Close" : "Describe", err, errlen);
    *kind = (char)rd_u8(&r, "the kind");
    *name = rd_str(&r, "the name");
    if (rd_done(&r))
        return -1;
    if (*kind != 'S' && *kind != 'P')
        return fail(err, errlen, "%s: kind 0x%02x is neither 'S' nor 'P'", r.what, (uint8_t)*kind);
    return 0;
}

int wb_pg_parse_execute(const wb_pg_msg *m, const char **portal, int32_t *max_rows, char *err, size_t errlen)
{
    rd r = rd_init(m, "Execute", err, errlen);
    *portal = rd_str(&r, "the portal name");
    *max_rows = (int32_t)rd_u32(&r, "the row limit");
    return rd_done(&r);
}

int wb_pg_parse_parse(const wb_pg_msg *m, const char **name, const char **query, uint16_t *ntypes,
                      const uint8_t **types, char *err, size_t errlen)
{
    rd r = rd_init(m, "Parse", err, errlen);
    *name = rd_str(&r, "the statement name");
    *query = rd_str(&r, "the query");
    *ntypes = rd_u16(&r, "the parameter type count");
    *types = rd_bytes(&r, (size_t)*ntypes * 4, "the parameter types");
    return rd_done(&r);
}

int wb_pg_parse_string(const wb_pg_msg *m, const char **s, char *err, size_t errlen)
{
    rd r = rd_init(m, wb_pg_msg_name(m->type, 0), err, errlen);
    *s = rd_str(&r, "the string");
    return rd_done(&r);
}

int wb_pg_parse_sasl_initial(const wb_pg_msg *m, const char **mechanism, const uint8_t **data, int32_t *len,
                             char *err, size_t errlen)
{
    rd r = rd_init(m, "SASLInitialResponse", err, errlen);
    *mechanism = rd_str(&r, "the mechanism name");
    *len = (int32_t)rd_u32(&r, "the data length");
    *data = NULL;
    if (*len < -1)
        return fail(err, errlen, "SASLInitialResponse: negative data length %d", *len);
    if (*len >= 0)
        *data = rd_bytes(&r, (size_t)*len, "the data");
    return rd_done(&r);
}

int wb_pg_parse_function_call(const wb_pg_msg *m, uint32_t *oid, uint16_t *nformats, const uint8_t **formats,
                              uint16_t *nargs, const uint8_t **args, int16_t *result_format, char *err,
                              size_t errlen)
{
    rd r = rd_init(m, "FunctionCall", err, errlen);
    *oid = rd_u32(&r, "the function OID");
    *nformats = rd_u16(&r, "the format code count");
    *formats = rd_bytes(&r, (size_t)*nformats * 2, "the format codes");
    *nargs = rd_u16(&r, "the argument count");
    *args = r.p;
    rd_values(&r, *nargs);
    *result_format = (int16_t)rd_u16(&r, "the result format");
    return rd_done(&r);
}

int wb_pg_check_frontend(const wb_pg_msg *m, char *err, size_t errlen)
{
    union {
        wb_pg_startup s;
        wb_pg_bind b;
    } u;
    const char *s1, *s2;
    const uint8_t *v, *v2;
    uint16_t n1, n2;
    int32_t i1;
    int16_t i16;
    uint32_t u32;
    char k;
    switch (m->type) {
    case 0: return wb_pg_parse_startup(m, &u.s, err, errlen);
    case 'B': return wb_pg_parse_bind(m, &u.b, err, errlen);
    case 'C': case 'D': return wb_pg_parse_close_describe(m, &k, &s1, err, errlen);
    case 'd': case 'p': return 0;
    case 'c': case 'H': case 'S': case 'X': return wb_pg_parse_empty(m, err, errlen);
    case 'f': case 'Q': return wb_pg_parse_string(m, &s1, err, errlen);
    case 'E': return wb_pg_parse_execute(m, &s1, &i1, err, errlen);
    case 'P': return wb_pg_parse_parse(m, &s1, &s2, &n1, &v, err, errlen);
    case 'F': return wb_pg_parse_function_call(m, &u32, &n1, &v, &n2, &v2, &i16, err, errlen);
    default: return fail(err, errlen, "unknown frontend message type 0x%02x", m->type);
    }
}

/* ---- encoders ----
 * begin() appends the type byte and a placeholder length and returns the
 * offset of the length word; end() patches it. On any failure the buffer is
 * truncated back to where the message started. */
static void put32_at(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
typedef struct wr {
    wb_buf *b;
    size_t start, lenpos;
    int bad;
} wr;
static wr wr_begin(wb_buf *b, uint8_t type)
{
    wr w = {b, b->len, b->len, 0};
    if (type) {
        w.bad |= wb_buf_putc(b, type);
        w.lenpos = b->len;
    }
    w.bad |= wb_buf_append(b, "\0\0\0\0", 4);
    return w;
}
static void wr_u8(wr *w, uint8_t v) { w->bad |= wb_buf_putc(w->b, v); }
static void wr_u16(wr *w, uint16_t v)
{
    uint8_t t[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    w->bad |= wb_buf_append_fast(w->b, t, 2);
}
static void wr_u32(wr *w, uint32_t v)
{
    uint8_t t[4];
    put32_at(t, v);
    w->bad |= wb_buf_append_fast(w->b, t, 4);
}
static void wr_bytes(wr *w, const void *p, size_t n) { w->bad |= wb_buf_append_fast(w->b, p, n); }
static void wr_str(wr *w, const char *s)
{
    s = s ? s : "";
    w->bad |= wb_buf_append_fast(w->b, s, strlen(s) + 1);
}
static int wr_end(wr *w)
{
    size_t len = w->b->len - w->lenpos;
    if (w->bad || len > 0x7fffffffu) {
        w->b->len = w->start;
        return -1;
    }
    put32_at(w->b->p + w->lenpos, (uint32_t)len);
    return 0;
}
static void wr_values(wr *w, uint16_t n, const uint8_t *const *vals, const int32_t *lens)
{
    for (uint16_t i = 0; i < n; i++) {
        if (!vals || !vals[i] || lens[i] < 0) {
            wr_u32(w, 0xffffffffu);
        } else {
            wr_u32(w, (uint32_t)lens[i]);
            wr_bytes(w, vals[i], (size_t)lens[i]);
        }
    }
}
static void wr_formats(wr *w, uint16_t n, const int16_t *f)
{
    wr_u16(w, n);
    for (uint16_t i = 0; i < n; i++)
        wr_u16(w, (uint16_t)f[i]);
}

int wb_pg_put_startup(wb_buf *b, const char *const *params)
{
    wr w = wr_begin(b, 0);
    wr_u32(&w, WB_PG_PROTOCOL_3_0);
    for (size_t i = 0; params && params[i] && params[i + 1]; i += 2) {
        wr_str(&w, params[i]);
        wr_str(&w, params[i + 1]);
    }
    wr_u8(&w, 0);
    return wr_end(&w);
}
static int put_code(wb_buf *b, uint32_t code)
{
    wr w = wr_begin(b, 0);
    wr_u32(&w, code);
    return wr_end(&w);
}
int wb_pg_put_ssl_request(wb_buf *b) { return put_code(b, WB_PG_SSL_REQUEST_CODE); }
int wb_pg_put_gssenc_request(wb_buf *b) { return put_code(b, WB_PG_GSSENC_REQUEST_CODE); }
int wb_pg_put_cancel_request(wb_buf *b, int32_t pid, int32_t key)
{
    wr w = wr_begin(b, 0);
    wr_u32(&w, WB_PG_CANCEL_REQUEST_CODE);
    wr_u32(&w, (uint32_t)pid);
    wr_u32(&w, (uint32_t)key);
    return wr_end(&w);
}
int wb_pg_put_password(wb_buf *b, const char *password)
{
    wr w = wr_begin(b, 'p');
    wr_str(&w, password);
    return wr_end(&w);
}
int wb_pg_put_sasl_initial(wb_buf *b, const char *mechanism, const void *data, size_t len)
{
    wr w = wr_begin(b, 'p');
    wr_str(&w, mechanism);
    if (data) {
        wr_u32(&w, (uint32_t)len);
        wr_bytes(&w, data, len);
    } else {
        wr_u32(&w, 0xffffffffu);
    }
    return wr_end(&w);
}
int wb_pg_put_sasl_response(wb_buf *b, const void *data, size_t len)
{
    wr w = wr_begin(b, 'p');
    wr_bytes(&w, data, len);
    return wr_end(&w);
}
static int put_str_msg(wb_buf *b, uint8_t type, const char *s)
{
    wr w = wr_begin(b, type);
    wr_str(&w, s);
    return wr_end(&w);
}
int wb_pg_put_query(wb_buf *b, const char *sql) { return put_str_msg(b, 'Q', sql); }
int wb_pg_put_parse(wb_buf *b, const char *name, const char *sql, uint16_t ntypes, const uint32_t *types)
{
    wr w = wr_begin(b, 'P');
    wr_str(&w, name);
    wr_str(&w, sql);
    wr_u16(&w, ntypes);
    for (uint16_t i = 0; i < ntypes; i++)
        wr_u32(&w, types[i]);
    return wr_end(&w);
}
int wb_pg_put_bind(wb_buf *b, const char *portal, const char *statement, uint16_t nformats, const int16_t *formats,
                   uint16_t nparams, const uint8_t *const *vals, const int32_t *lens, uint16_t nresult,
                   const int16_t *result_formats)
{
    wr w = wr_begin(b, 'B');
    wr_str(&w, portal);
    wr_str(&w, statement);
    wr_formats(&w, nformats, formats);
    wr_u16(&w, nparams);
    wr_values(&w, nparams, vals, lens);
    wr_formats(&w, nresult, result_formats);
    return wr_end(&w);
}
static int put_kind_name(wb_buf *b, uint8_t type, char kind, const char *name)
{
    wr w = wr_begin(b, type);
    wr_u8(&w, (uint8_t)kind);
    wr_str(&w, name);
    return wr_end(&w);
}
int wb_pg_put_describe(wb_buf *b, char kind, const char *name) { return put_kind_name(b, 'D', kind, name); }
int wb_pg_put_close(wb_buf *b, char kind, const char *name) { return put_kind_name(b, 'C', kind, name); }
int wb_pg_put_execute(wb_buf *b, const char *portal, int32_t max_rows)
{
    wr w = wr_begin(b, 'E');
    wr_str(&w, portal);
    wr_u32(&w, (uint32_t)max_rows);
    return wr_end(&w);
}
int wb_pg_put_empty(wb_buf *b, uint8_t type)
{
    wr w = wr_begin(b, type);
    return wr_end(&w);
}
int wb_pg_put_sync(wb_buf *b) { return wb_pg_put_empty(b, 'S'); }
int wb_pg_put_flush(wb_buf *b) { return wb_pg_put_empty(b, 'H'); }
int wb_pg_put_terminate(wb_buf *b) { return wb_pg_put_empty(b, 'X'); }
int wb_pg_put_copy_data(wb_buf *b, const void *data, size_t len)
{
    wr w = wr_begin(b, 'd');
    wr_bytes(&w, data, len);
    return wr_end(&w);
}
int wb_pg_put_copy_done(wb_buf *b) { return wb_pg_put_empty(b, 'c'); }
int wb_pg_put_copy_fail(wb_buf *b, const char *reason) { return put_str_msg(b, 'f', reason); }
int wb_pg_put_function_call(wb_buf *b, uint32_t oid, uint16_t nformats, const int16_t *formats, uint16_t nargs,
                            const uint8_t *const *vals, const int32_t *lens, int16_t result_format)
{
    wr w = wr_begin(b, 'F');
    wr_u32(&w, oid);
    wr_formats(&w, nformats, formats);
    wr_u16(&w, nargs);
    wr_values(&w, nargs, vals, lens);
    wr_u16(&w, (uint16_t)result_format);
    return wr_end(&w);
}

int wb_pg_put_auth(wb_buf *b, int32_t code, const void *data, size_t len)
{
    wr w = wr_begin(b, 'R');
    wr_u32(&w, (uint32_t)code);
    wr_bytes(&w, data, len);
    return wr_end(&w);
}
int wb_pg_put_backend_key_data(wb_buf *b, int32_t pid, int32_t key)
{
    wr w = wr_begin(b, 'K');
    wr_u32(&w, (uint32_t)pid);
    wr_u32(&w, (uint32_t)key);
    return wr_end(&w);
}
int wb_pg_put_parameter_status(wb_buf *b, const char *name, const char *value)
{
    wr w = wr_begin(b, 'S');
    wr_str(&w, name);
    wr_str(&w, value);
    return wr_end(&w);
}
int wb_pg_put_ready_for_query(wb_buf *b, char status)
{
    wr w = wr_begin(b, 'Z');
    wr_u8(&w, (uint8_t)status);
    return wr_end(&w);
}
int wb_pg_put_row_description(wb_buf *b, uint16_t ncols, const wb_pg_column *cols)
{
    wr w = wr_begin(b, 'T');
    wr_u16(&w, ncols);
    for (uint16_t i = 0; i < ncols; i++) {
        wr_str(&w, cols[i].name);
        wr_u32(&w, cols[i].table_oid);
        wr_u16(&w, (uint16_t)cols[i].attnum);
        wr_u32(&w, cols[i].type_oid);
        wr_u16(&w, (uint16_t)cols[i].typlen);
        wr_u32(&w, (uint32_t)cols[i].typmod);
        wr_u16(&w, (uint16_t)cols[i].format);
    }
    return wr_end(&w);
}
int wb_pg_put_datarow(wb_buf *b, uint16_t ncols, const uint8_t *const *vals, const int32_t *lens)
{
    wr w = wr_begin(b, 'D');
    wr_u16(&w, ncols);
    wr_values(&w, ncols, vals, lens);
    return wr_end(&w);
}
int wb_pg_put_command_complete(wb_buf *b, const char *tag) { return put_str_msg(b, 'C', tag); }
int wb_pg_put_fields(wb_buf *b, uint8_t type, const wb_pg_fields *f)
{
    const struct {
        char code;
        const char *v;
    } t[] = {{'S', f->severity},       {'V', f->severity_nonlocal}, {'C', f->sqlstate},  {'M', f->message},
             {'D', f->detail},         {'H', f->hint},              {'P', f->position},  {'p', f->internal_position},
             {'q', f->internal_query}, {'W', f->where},             {'s', f->schema},    {'t', f->table},
             {'c', f->column},         {'d', f->datatype},          {'n', f->constraint}, {'F', f->file},
             {'L', f->line},           {'R', f->routine}};
    wr w = wr_begin(b, type);
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (t[i].v) {
            wr_u8(&w, (uint8_t)t[i].code);
            wr_str(&w, t[i].v);
        }
    }
    wr_u8(&w, 0);
    return wr_end(&w);
}
int wb_pg_put_parameter_description(wb_buf *b, uint16_t n, const uint32_t *oids)
{
    wr w = wr_begin(b, 't');
    wr_u16(&w, n);
    for (uint16_t i = 0; i < n; i++)
        wr_u32(&w, oids[i]);
    return wr_end(&w);
}
int wb_pg_put_copy_response(wb_buf *b, uint8_t type, int format, uint16_t ncols, const int16_t *formats)
{
    wr w = wr_begin(b, type);
    wr_u8(&w, (uint8_t)format);
    wr_formats(&w, ncols, formats);
    return wr_end(&w);
}
int wb_pg_put_notification(wb_buf *b, int32_t pid, const char *channel, const char *payload)
{
    wr w = wr_begin(b, 'A');
    wr_u32(&w, (uint32_t)pid);
    wr_str(&w, channel);
    wr_str(&w, payload);
    return wr_end(&w);
}
int wb_pg_put_function_call_response(wb_buf *b, const void *val, int32_t len)
{
    wr w = wr_begin(b, 'V');
    if (!val || len < 0) {
        wr_u32(&w, 0xffffffffu);
    } else {
        wr_u32(&w, (uint32_t)len);
        wr_bytes(&w, val, (size_t)len);
    }
    return wr_end(&w);
}
int wb_pg_put_negotiate_protocol_version(wb_buf *b, int32_t minor, int32_t n, const char *const *names)
{
    wr w = wr_begin(b, 'v');
    wr_u32(&w, (uint32_t)minor);
    wr_u32(&w, (uint32_t)n);
    for (int32_t i = 0; i < n; i++)
        wr_str(&w, names[i]);
    return wr_end(&w);
}
