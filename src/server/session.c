/* The per-connection protocol state machine of the wire server, sans I/O
 * (see session.h). One function per state. */
#include "session.h"

#include <assert.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wb_srv_md5_hex(const void *a, size_t alen, const void *b, size_t blen, char out[33]);
int wb_srv_scram_keys(const char *password, const uint8_t *salt, size_t saltlen, int iterations,
                      uint8_t stored[32], uint8_t server[32]);

int wb_srv_put_error(wb_buf *b, const char *severity, const char *sqlstate, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    wb_pg_fields f = {0};
    f.severity = f.severity_nonlocal = severity;
    f.sqlstate = sqlstate;
    f.message = msg;
    return wb_pg_put_fields(b, 'E', &f);
}

int wb_srv_session_init(wb_srv_session *s, size_t initial)
{
    memset(s, 0, sizeof *s);
    s->in = wb_stream_new_push(initial);
    if (!s->in)
        return -1;
    wb_pg_reader_init(&s->rd, s->in, WB_PG_FROM_FRONTEND);
    s->rd.startup = 1;
    s->state = WB_SRV_ST_STARTUP;
    return 0;
}

static void sasl_clear(wb_srv_session *s)
{
    free(s->sasl_client_first_bare);
    free(s->sasl_server_first);
    free(s->sasl_nonce);
    free(s->sasl_gs2);
    s->sasl_client_first_bare = s->sasl_server_first = s->sasl_nonce = s->sasl_gs2 = NULL;
}

void wb_srv_session_destroy(wb_srv_session *s)
{
    assert(!s->es);
    wb_stream_close(s->in);
    wb_buf_free(&s->out);
    free(s->user);
    free(s->database);
    for (int i = 0; i < s->nparams; i++) {
        free(s->names[i]);
        free(s->values[i]);
    }
    free(s->names);
    free(s->values);
    sasl_clear(s);
    memset(s, 0, sizeof *s);
    s->state = WB_SRV_ST_CLOSED;
}

static enum wb_srv_action fatal(wb_srv_session *s, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum wb_srv_action fatal(wb_srv_session *s, const char *sqlstate, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    wb_srv_put_error(&s->out, "FATAL", sqlstate, "%s", msg);
    s->state = WB_SRV_ST_CLOSED;
    return WB_SRV_CLOSE;
}

static enum wb_srv_action auth_failed(wb_srv_session *s)
{
    const char *how = s->auth == WB_SRV_AUTH_SCRAM || s->auth == WB_SRV_AUTH_MD5 || s->auth == WB_SRV_AUTH_PASSWORD
                          ? "password"
                          : "trust";
    return fatal(s, "28P01", "%s authentication failed for user \"%s\"", how, s->user);
}

/* ---- STARTUP ---- */

static int keep_params(wb_srv_session *s, const wb_pg_startup *st)
{
    const char *p = st->params;
    s->names = calloc((size_t)st->n + 1, sizeof *s->names);
    s->values = calloc((size_t)st->n + 1, sizeof *s->values);
    if (!s->names || !s->values)
        return -1;
    for (int i = 0; i < st->n; i++) {
        const char *v = p + strlen(p) + 1;
        if (strcmp(p, "user") == 0) {
            free(s->user);
            s->user = strdup(v);
        } else if (strcmp(p, "database") == 0) {
            free(s->database);
            s->database = strdup(v);
        } else if (strncmp(p, "_pq_.", 5) != 0) {
            s->names[s->nparams] = strdup(p);
            s->values[s->nparams] = strdup(v);
            if (!s->names[s->nparams] || !s->values[s->nparams])
                return -1;
            s->nparams++;
        }
        p = v + strlen(v) + 1;
    }
    return 0;
}

static enum wb_srv_action start_auth(wb_srv_session *s)
{
    switch (s->auth) {
    case WB_SRV_AUTH_TRUST:
        s->state = WB_SRV_ST_LOGIN;
        return WB_SRV_LOGIN;
    case WB_SRV_AUTH_PASSWORD:
        wb_pg_put_auth(&s->out, WB_PG_AUTH_CLEARTEXT, NULL, 0);
        s->state = WB_SRV_ST_PASSWORD;
        return WB_SRV_WAIT;
    case WB_SRV_AUTH_MD5:
        if (RAND_bytes(s->md5_salt, 4) != 1)
            return fatal(s, "XX000", "could not generate random salt");
        wb_pg_put_auth(&s->out, WB_PG_AUTH_MD5, s->md5_salt, 4);
        s->state = WB_SRV_ST_PASSWORD;
        return WB_SRV_WAIT;
    default: {
        char mechs[64];
        size_t n = 0;
        if (s->tls_active && s->cbind_len > 0) {
            memcpy(mechs, "SCRAM-SHA-256-PLUS", 19);
            n = 19;
        }
        memcpy(mechs + n, "SCRAM-SHA-256\0", 15);
        n += 15;
        wb_pg_put_auth(&s->out, WB_PG_AUTH_SASL, mechs, n);
        s->state = WB_SRV_ST_SASL;
        return WB_SRV_WAIT;
    }
    }
}

static enum wb_srv_action on_startup(wb_srv_session *s, const wb_pg_msg *m)
{
    if (m->len < 4)
        return fatal(s, "08P01", "invalid startup packet layout: %u bytes", m->len);
    uint32_t code = wb_pg_be32(m->body);
    char err[256];
    wb_pg_startup st;
    if (code == WB_PG_SSL_REQUEST_CODE || code == WB_PG_GSSENC_REQUEST_CODE) {
        if (m->len != 4)
            return fatal(s, "08P01", "invalid length of %s", code == WB_PG_SSL_REQUEST_CODE ? "SSLRequest" : "GSSENCRequest");
        if (s->tls_active)
            return fatal(s, "08P01", "SSL negotiation requested on an encrypted connection");
        if (code == WB_PG_SSL_REQUEST_CODE && s->tls_available) {
            wb_pg_reader_consume(&s->rd);
            size_t avail;
            wb_stream_peek(s->in, &avail);
            if (avail) /* PostgreSQL refuses this too: a MITM could inject them */
                return fatal(s, "08P01", "received unencrypted data after SSL request");
            wb_buf_putc(&s->out, 'S');
            return WB_SRV_TLS;
        }
        wb_buf_putc(&s->out, 'N');
        return WB_SRV_WAIT; /* the client goes on with a StartupMessage */
    }
    if (code == WB_PG_CANCEL_REQUEST_CODE) {
        if (wb_pg_parse_startup(m, &st, err, sizeof err) != 0) {
            s->state = WB_SRV_ST_CLOSED;
            return WB_SRV_CLOSE; /* PostgreSQL answers nothing to a cancel either */
        }
        s->cancel_pid = st.pid;
        s->cancel_key = st.key;
        s->state = WB_SRV_ST_CLOSED;
        return WB_SRV_CANCEL;
    }
    if (code >> 16 != 3)
        return fatal(s, "0A000", "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0", code >> 16,
                     code & 0xffff);
    if (wb_pg_parse_startup(m, &st, err, sizeof err) != 0)
        return fatal(s, "08P01", "invalid startup packet layout: %s", err);
    if (keep_params(s, &st) != 0)
        return fatal(s, "53200", "out of memory");
    if (!s->user || !*s->user)
        return fatal(s, "28000", "no PostgreSQL user name specified in startup packet");
    if (!s->database || !*s->database) {
        free(s->database);
        if (!(s->database = strdup(s->user)))
            return fatal(s, "53200", "out of memory");
    }
    /* a newer minor version or protocol options: NegotiateProtocolVersion */
    const char *opts[64];
    int nopts = 0;
    const char *p = st.params;
    for (int i = 0; i < st.n; i++) {
        const char *v = p + strlen(p) + 1;
        if (strncmp(p, "_pq_.", 5) == 0 && nopts < 64)
            opts[nopts++] = p;
        p = v + strlen(v) + 1;
    }
    if ((code & 0xffff) > 0 || nopts > 0)
        wb_pg_put_negotiate_protocol_version(&s->out, 0, nopts, opts);
    if (s->too_many)
        return fatal(s, "53300", "sorry, too many clients already");
    s->rd.startup = 0;
    return start_auth(s);
}

/* ---- PASSWORD (cleartext, md5) ---- */

static enum wb_srv_action on_password(wb_srv_session *s, const wb_pg_msg *m)
{
    if (m->type != 'p')
        return fatal(s, "08P01", "expected password response, got message type %d", m->type);
    if (m->len == 0 || m->body[m->len - 1] != 0 || memchr(m->body, 0, m->len) != m->body + m->len - 1)
        return fatal(s, "08P01", "invalid password packet size");
    const char *given = (const char *)m->body;
    const wb_srv_role *r = wb_srv_passwords_find(s->pw, s->user);
    if (!r)
        return auth_failed(s);
    if (s->auth == WB_SRV_AUTH_MD5) {
        char h[33];
        if (wb_srv_md5_hex(r->md5 + 3, 32, s->md5_salt, 4, h) != 0 || strlen(given) != 35 ||
            memcmp(given, "md5", 3) != 0 || CRYPTO_memcmp(given + 3, h, 32) != 0)
            return auth_failed(s);
    } else {
        uint8_t stored[32], server[32];
        if (wb_srv_scram_keys(given, r->salt, sizeof r->salt, r->iterations, stored, server) != 0 ||
            CRYPTO_memcmp(stored, r->stored_key, 32) != 0)
            return auth_failed(s);
    }
    s->state = WB_SRV_ST_LOGIN;
    return WB_SRV_LOGIN;
}

/* ---- SASL (SCRAM-SHA-256[-PLUS], RFC 5802 / RFC 7677 / RFC 5929) ---- */

static char *b64(const uint8_t *d, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, d, (int)n);
    return out;
}

static int unb64(const char *str, size_t n, uint8_t *out, size_t cap)
{
    if (n % 4 || n / 4 * 3 > cap)
        return -1;
    int r = EVP_DecodeBlock(out, (const unsigned char *)str, (int)n);
    if (r < 0)
        return -1;
    if (n >= 1 && str[n - 1] == '=')
        r--;
    if (n >= 2 && str[n - 2] == '=')
        r--;
    return r;
}

static const wb_srv_role *scram_role(wb_srv_session *s)
{
    const wb_srv_role *r = s->user ? wb_srv_passwords_find(s->pw, s->user) : NULL;
    if (r)
        return r;
    /* unknown role: go through the exchange with a random verifier (as
     * PostgreSQL's mock authentication) so the answer does not tell */
    if (!s->mock.iterations) {
        s->mock.iterations = 4096;
        RAND_bytes(s->mock.salt, sizeof s->mock.salt);
        RAND_bytes(s->mock.stored_key, 32);
        RAND_bytes(s->mock.server_key, 32);
    }
    return &s->mock;
}

static enum wb_srv_action on_sasl_initial(wb_srv_session *s, const wb_pg_msg *m)
{
    if (m->type != 'p')
        return fatal(s, "08P01", "expected SASL response, got message type %d", m->type);
    const char *mech;
    const uint8_t *data;
    int32_t len;
    char err[256];
    if (wb_pg_parse_sasl_initial(m, &mech, &data, &len, err, sizeof err) != 0)
        return fatal(s, "08P01", "malformed SASLInitialResponse: %s", err);
    int plus = strcmp(mech, "SCRAM-SHA-256-PLUS") == 0;
    if (!plus && strcmp(mech, "SCRAM-SHA-256") != 0)
        return fatal(s, "08P01", "client selected an invalid SASL authentication mechanism");
    if (plus && !(s->tls_active && s->cbind_len > 0))
        return fatal(s, "08P01", "client selected an invalid SASL authentication mechanism");
    if (len < 0 || memchr(data, 0, (size_t)len))
        return fatal(s, "08P01", "malformed SCRAM message (client-first-message)");
    char *cf = strndup((const char *)data, (size_t)len);
    if (!cf)
        return fatal(s, "53200", "out of memory");
    /* gs2-header: cbind-flag "," [authzid] "," */
    enum wb_srv_action a = WB_SRV_WAIT;
    char *c1 = strchr(cf, ','), *c2 = c1 ? strchr(c1 + 1, ',') : NULL;
    if (!c2) {
        a = fatal(s, "08P01", "malformed SCRAM message (no GS2 header)");
        goto out;
    }
    if (plus) {
        if (strncmp(cf, "p=tls-server-end-point,", 23) != 0) {
            a = fatal(s, "08P01", "unsupported SCRAM channel-binding type or flag");
            goto out;
        }
    } else if (cf[0] == 'y' && c1 == cf + 1) {
        if (s->tls_active && s->cbind_len > 0) { /* RFC 5802 §6: a downgrade */
            a = fatal(s, "08P01", "SCRAM channel binding negotiation error");
            goto out;
        }
    } else if (!(cf[0] == 'n' && c1 == cf + 1)) {
        a = fatal(s, "08P01", "malformed SCRAM message (unexpected channel-binding flag)");
        goto out;
    }
    if (c1 + 1 != c2) {
        a = fatal(s, "0A000", "client uses authorization identity, but it is not supported");
        goto out;
    }
    const char *bare = c2 + 1;
    /* n=user (ignored: PostgreSQL uses the startup user), r=nonce */
    const char *rn = strstr(bare, ",r=");
    if (strncmp(bare, "n=", 2) != 0 || !rn || !rn[3]) {
        a = fatal(s, "08P01", "malformed SCRAM message (client-first-message-bare)");
        goto out;
    }
    const char *cn = rn + 3;
    size_t cnlen = strcspn(cn, ",");
    uint8_t raw[18];
    char *snonce = NULL;
    if (RAND_bytes(raw, sizeof raw) != 1 || !(snonce = b64(raw, sizeof raw))) {
        a = fatal(s, "XX000", "could not generate random nonce");
        goto out;
    }
    const wb_srv_role *r = scram_role(s);
    char *salt = b64(r->salt, sizeof r->salt);
    size_t nlen = cnlen + strlen(snonce);
    s->sasl_nonce = malloc(nlen + 1);
    s->sasl_gs2 = strndup(cf, (size_t)(bare - cf));
    s->sasl_client_first_bare = strdup(bare);
    size_t sflen = nlen + strlen(salt ? salt : "") + 32;
    s->sasl_server_first = malloc(sflen);
    if (!salt || !s->sasl_nonce || !s->sasl_gs2 || !s->sasl_client_first_bare || !s->sasl_server_first) {
        free(salt);
        free(snonce);
        a = fatal(s, "53200", "out of memory");
        goto out;
    }
    memcpy(s->sasl_nonce, cn, cnlen);
    strcpy(s->sasl_nonce + cnlen, snonce);
    snprintf(s->sasl_server_first, sflen, "r=%s,s=%s,i=%d", s->sasl_nonce, salt, r->iterations);
    free(salt);
    free(snonce);
    s->sasl_plus = plus;
    wb_pg_put_auth(&s->out, WB_PG_AUTH_SASL_CONTINUE, s->sasl_server_first, strlen(s->sasl_server_first));
    s->state = WB_SRV_ST_SASL_CONT;
out:
    free(cf);
    return a;
}

static enum wb_srv_action on_sasl_response(wb_srv_session *s, const wb_pg_msg *m)
{
    if (m->type != 'p')
        return fatal(s, "08P01", "expected SASL response, got message type %d", m->type);
    if (memchr(m->body, 0, m->len))
        return fatal(s, "08P01", "malformed SCRAM message (client-final-message)");
    char *cf = strndup((const char *)m->body, m->len);
    if (!cf)
        return fatal(s, "53200", "out of memory");
    enum wb_srv_action a;
    const wb_srv_role *r = scram_role(s);
    /* c=base64(gs2-header [cbind-data]),r=nonce[,...],p=proof */
    char *pp = strstr(cf, ",p=");
    char *rr = strstr(cf, ",r=");
    if (strncmp(cf, "c=", 2) != 0 || !pp || !rr || rr > pp) {
        a = fatal(s, "08P01", "malformed SCRAM message (client-final-message)");
        goto out;
    }
    /* channel binding */
    uint8_t cb[256];
    size_t gl = strlen(s->sasl_gs2);
    memcpy(cb, s->sasl_gs2, gl);
    size_t cbl = gl;
    if (s->sasl_plus) {
        memcpy(cb + gl, s->cbind, (size_t)s->cbind_len);
        cbl += (size_t)s->cbind_len;
    }
    char *want = b64(cb, cbl);
    size_t clen = (size_t)(rr - (cf + 2));
    int cb_ok = want && strlen(want) == clen && memcmp(want, cf + 2, clen) == 0;
    free(want);
    if (!cb_ok) {
        a = fatal(s, "08P01", "SCRAM channel binding check failed");
        goto out;
    }
    size_t nl = strcspn(rr + 3, ",");
    if (nl != strlen(s->sasl_nonce) || memcmp(rr + 3, s->sasl_nonce, nl) != 0) {
        a = fatal(s, "08P01", "SCRAM nonce mismatch");
        goto out;
    }
    uint8_t proof[40];
    const char *ps = pp + 3;
    if (unb64(ps, strlen(ps), proof, sizeof proof) != 32) {
        a = fatal(s, "08P01", "malformed SCRAM message (invalid proof)");
        goto out;
    }
    *pp = 0; /* client-final-message-without-proof */
    size_t amlen = strlen(s->sasl_client_first_bare) + strlen(s->sasl_server_first) + strlen(cf) + 3;
    char *am = malloc(amlen);
    if (!am) {
        a = fatal(s, "53200", "out of memory");
        goto out;
    }
    snprintf(am, amlen, "%s,%s,%s", s->sasl_client_first_bare, s->sasl_server_first, cf);
    uint8_t sig[32], key[32], stored[32], ssig[32];
    unsigned int n = 0;
    int ok = HMAC(EVP_sha256(), r->stored_key, 32, (uint8_t *)am, strlen(am), sig, &n) && n == 32;
    for (int i = 0; i < 32; i++)
        key[i] = proof[i] ^ sig[i];
    ok = ok && EVP_Digest(key, 32, stored, &n, EVP_sha256(), NULL) && n == 32;
    ok = ok && CRYPTO_memcmp(stored, r->stored_key, 32) == 0 && r != &s->mock;
    ok = ok && HMAC(EVP_sha256(), r->server_key, 32, (uint8_t *)am, strlen(am), ssig, &n) && n == 32;
    free(am);
    if (!ok) {
        a = auth_failed(s);
        goto out;
    }
    char *v = b64(ssig, 32);
    char final[64];
    snprintf(final, sizeof final, "v=%s", v ? v : "");
    free(v);
    wb_pg_put_auth(&s->out, WB_PG_AUTH_SASL_FINAL, final, strlen(final));
    sasl_clear(s);
    s->state = WB_SRV_ST_LOGIN;
    a = WB_SRV_LOGIN;
out:
    free(cf);
    return a;
}

/* ---- the driver ---- */

enum wb_srv_action wb_srv_session_step(wb_srv_session *s)
{
    for (;;) {
        if (s->state == WB_SRV_ST_LOGIN)
            return WB_SRV_LOGIN;
        if (s->state == WB_SRV_ST_CLOSED)
            return WB_SRV_CLOSE;
        if (s->state == WB_SRV_ST_READY)
            return s->engine_more || wb_pg_reader_has_message(&s->rd) ? WB_SRV_ENGINE
                   : wb_stream_ended(s->in)                           ? WB_SRV_CLOSE
                                                                      : WB_SRV_WAIT;
        wb_pg_msg m;
        int r = wb_pg_reader_next(&s->rd, &m);
        if (r == WB_PG_READ_AGAIN)
            return WB_SRV_WAIT;
        if (r == WB_PG_READ_EOF) {
            s->state = WB_SRV_ST_CLOSED;
            return WB_SRV_CLOSE;
        }
        if (r == WB_PG_READ_ERROR)
            return fatal(s, "08P01", "%s", s->rd.err);
        s->messages_in++;
        enum wb_srv_action a;
        switch (s->state) {
        case WB_SRV_ST_STARTUP: a = on_startup(s, &m); break;
        case WB_SRV_ST_PASSWORD: a = on_password(s, &m); break;
        case WB_SRV_ST_SASL: a = on_sasl_initial(s, &m); break;
        case WB_SRV_ST_SASL_CONT: a = on_sasl_response(s, &m); break;
        default: assert(0); return WB_SRV_CLOSE;
        }
        if (a != WB_SRV_WAIT)
            return a;
    }
}

enum wb_srv_action wb_srv_session_login(wb_srv_session *s, wb_engine *e)
{
    assert(s->state == WB_SRV_ST_LOGIN && !s->es);
    wb_pg_put_auth(&s->out, WB_PG_AUTH_OK, NULL, 0);
    wb_engine_error err = {{0}, {0}};
    s->es = wb_engine_session_new(e, s->database, s->user, (const char *const *)s->names,
                                  (const char *const *)s->values, s->nparams, s->pid, &s->out, &err);
    if (!s->es)
        return fatal(s, err.sqlstate[0] ? err.sqlstate : "XX000", "%s", err.message);
    wb_pg_put_backend_key_data(&s->out, s->pid, s->key);
    wb_pg_put_ready_for_query(&s->out, 'I');
    s->state = WB_SRV_ST_READY;
    return WB_SRV_WAIT;
}

static int known_type(uint8_t t)
{
    return strchr("QPBDECHSdcfFX", t) != NULL && t != 0;
}

enum wb_srv_action wb_srv_session_run(wb_srv_session *s)
{
    assert(s->state == WB_SRV_ST_READY && s->es);
    for (;;) {
        enum wb_engine_status st;
        if (s->engine_more) {
            s->engine_more = 0;
            st = wb_engine_resume(s->es, &s->out);
        } else {
            if (s->out.len >= WB_ENGINE_OUT_HIGH)
                return WB_SRV_FLUSH;
            wb_pg_msg m;
            int r = wb_pg_reader_next(&s->rd, &m);
            if (r == WB_PG_READ_AGAIN) {
                wb_pg_reader_consume(&s->rd);
                return WB_SRV_WAIT;
            }
            if (r == WB_PG_READ_EOF) { /* vanished peer: the caller frees the
                                          session, which rolls back */
                s->state = WB_SRV_ST_CLOSED;
                return WB_SRV_CLOSE;
            }
            if (r == WB_PG_READ_ERROR)
                return fatal(s, "08P01", "%s", s->rd.err);
            s->messages_in++;
            char err[256];
            if (!known_type(m.type))
                return fatal(s, "08P01", "invalid frontend message type %d", m.type);
            if (m.type != 'd' && wb_pg_check_frontend(&m, err, sizeof err) != 0)
                return fatal(s, "08P01", "invalid message format: %s", err);
            st = wb_engine_message(s->es, m.type, m.body, m.len, &s->out);
            if (m.type == 'X' && st != WB_ENGINE_NOMEM)
                st = WB_ENGINE_CLOSE;
        }
        switch (st) {
        case WB_ENGINE_OK:
        case WB_ENGINE_SYNCED:
            break;
        case WB_ENGINE_MORE:
            s->engine_more = 1;
            wb_pg_reader_consume(&s->rd);
            return WB_SRV_FLUSH;
        case WB_ENGINE_CLOSE:
            s->state = WB_SRV_ST_CLOSED;
            return WB_SRV_CLOSE;
        case WB_ENGINE_NOMEM:
        default:
            return fatal(s, "53200", "out of memory");
        }
    }
}
