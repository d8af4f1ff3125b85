/* Password authentication: MD5 (§55.3 AuthenticationMD5Password) and
 * SCRAM-SHA-256 (§55.3.1, RFC 5802, RFC 7677). All cryptography (MD5,
 * SHA-256, HMAC, PBKDF2, random nonces, base64) is OpenSSL's. */
#include "internal.h"
#include <stringprep.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void hex(const uint8_t *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = 0;
}

static int md5_of(const void *a, size_t alen, const void *b, size_t blen, uint8_t out[16])
{
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) && EVP_DigestUpdate(ctx, a, alen) &&
             EVP_DigestUpdate(ctx, b, blen) && EVP_DigestFinal_ex(ctx, out, &n);
    EVP_MD_CTX_free(ctx);
    return ok && n == 16 ? 0 : -1;
}

int wb_pg_md5_password(const char *user, const char *password, const uint8_t salt[4], char out[36])
{
    uint8_t d[16];
    char h[33];
    if (md5_of(password, strlen(password), user, strlen(user), d))
        return -1;
    hex(d, 16, h);
    if (md5_of(h, 32, salt, 4, d))
        return -1;
    memcpy(out, "md5", 3);
    hex(d, 16, out + 3);
    return 0;
}

static char *b64(const uint8_t *d, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out)
        EVP_EncodeBlock((unsigned char *)out, d, (int)n);
    return out;
}

/* base64 decode; returns length or -1 */
static int unb64(const char *s, size_t n, uint8_t *out, size_t cap)
{
    if (n % 4 || n / 4 * 3 > cap)
        return -1;
    int r = EVP_DecodeBlock(out, (const unsigned char *)s, (int)n);
    if (r < 0)
        return -1;
    if (n >= 1 && s[n - 1] == '=')
        r--;
    if (n >= 2 && s[n - 2] == '=')
        r--;
    return r;
}

static int hmac256(const uint8_t *key, size_t klen, const void *d, size_t n, uint8_t out[32])
{
    unsigned int len = 0;
    return HMAC(EVP_sha256(), key, (int)klen, d, n, out, &len) && len == 32 ? 0 : -1;
}

/* SASLprep (RFC 4013: the RFC 3454 tables B.1 mapped to nothing, C.1.2
 * non-ASCII spaces to SPACE, NFKC, prohibited output, bidi check) of a SCRAM
 * password, by libidn's stringprep with its "SASLprep" profile, unassigned
 * code points allowed (a "query", as PostgreSQL's own saslprep). Where the
 * password is not valid UTF-8 or SASLprep refuses it, the raw bytes are
 * used, as libpq and the server do (src/common/saslprep.c). malloc'd. */
char *wb_pg_saslprep(const char *password)
{
    char *out = NULL;
    if (stringprep_profile(password, &out, "SASLprep", 0) == STRINGPREP_OK && out)
        return out;
    free(out);
    return strdup(password);
}

int wb_pg_scram_first(wb_pg_scram *s, const char *password, int plus, const uint8_t *cb, size_t cblen, char **out,
                   wb_pg_error *err)
{
    memset(s, 0, sizeof *s);
    uint8_t raw[18];
    if (RAND_bytes(raw, sizeof raw) != 1)
        return wb_pg_errf(err, WB_PG_ERR_AUTH, "SCRAM: could not generate a random nonce");
    EVP_EncodeBlock((unsigned char *)s->nonce, raw, sizeof raw);
    s->password = wb_pg_saslprep(password);
    if (plus) {
        s->cbind_flag = "p=tls-server-end-point,,";
        if (cblen > sizeof s->cbind_data)
            return wb_pg_errf(err, WB_PG_ERR_AUTH, "SCRAM: channel binding data too long");
        memcpy(s->cbind_data, cb, cblen);
        s->cbind_len = cblen;
    } else {
        /* y: we could bind (TLS, channel_binding not disabled: the caller passes
         * cb) but the server offers no -PLUS; n: no TLS, or channel binding
         * disabled (as libpq) */
        s->cbind_flag = cb ? "y,," : "n,,";
    }
    /* the user name is taken from the StartupMessage: send it empty (§55.3.1) */
    size_t n = strlen(s->nonce) + 16;
    s->client_first_bare = malloc(n);
    *out = malloc(n + strlen(s->cbind_flag));
    if (!s->password || !s->client_first_bare || !*out)
        return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
    snprintf(s->client_first_bare, n, "n=,r=%s", s->nonce);
    sprintf(*out, "%s%s", s->cbind_flag, s->client_first_bare);
    return 0;
}

/* value of attribute `a=` in a SCRAM message, as a new string */
static char *attr(const char *msg, char a)
{
    for (const char *p = msg; *p;) {
        if (p[0] == a && p[1] == '=') {
            size_t n = strcspn(p + 2, ",");
            return strndup(p + 2, n);
        }
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    return NULL;
}

int wb_pg_scram_final(wb_pg_scram *s, const uint8_t *server_first, size_t len, char **out, wb_pg_error *err)
{
    s->server_first = strndup((const char *)server_first, len);
    if (!s->server_first)
        return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
    char *r = attr(s->server_first, 'r'), *salt64 = attr(s->server_first, 's'), *iters = attr(s->server_first, 'i');
    int rc = -1;
    uint8_t salt[256], salted[32], ckey[32], skey[32], stored[32], sig[32], proof[32];
    int saltlen;
    long it = iters ? strtol(iters, NULL, 10) : 0;
    if (!r || !salt64 || !iters || it < 1 || it > 100000000) {
        wb_pg_errf(err, WB_PG_ERR_AUTH, "SCRAM: malformed server-first-message \"%.200s\"", s->server_first);
        goto out;
    }
    if (strncmp(r, s->nonce, strlen(s->nonce)) != 0 || strlen(r) <= strlen(s->nonce)) {
        wb_pg_errf(err, WB_PG_ERR_AUTH, "SCRAM: server nonce does not extend the client nonce");
        goto out;
    }
    if ((saltlen = unb64(salt64, strlen(salt64), salt, sizeof salt)) <= 0) {
        wb_pg_errf(err, WB_PG_ERR_AUTH, "SCRAM: server sent an invalid salt");
        goto out;
    }
    if (PKCS5_PBKDF2_HMAC(s->password, (int)strlen(s->password), salt, saltlen, (int)it, EVP_sha256(), 32, salted) !=
            1 ||
        hmac256(salted, 32, "Client Key", 10, ckey) || hmac256(salted, 32, "Server Key", 10, skey)) {
        wb_pg_errf(err, WB_PG_ERR_AUTH, "SCRAM: key derivation failed");
        goto out;
    }
    unsigned int slen = 0;
    EVP_Digest(ckey, 32, stored, &slen, EVP_sha256(), NULL);
    /* c= base64(gs2 header [+ channel binding data]) */
    uint8_t cbuf[128];
    size_t flen = strlen(s->cbind_flag);
    memcpy(cbuf, s->cbind_flag, flen);
    memcpy(cbuf + flen, s->cbind_data, s->cbind_len);
    char *c64 = b64(cbuf, flen + s->cbind_len);
    size_t wlen = strlen(r) + (c64 ? strlen(c64) : 0) + 16;
    s->client_final_wo_proof = malloc(wlen);
    if (!c64 || !s->client_final_wo_proof) {
        free(c64);
        wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
        goto out;
    }
    snprintf(s->client_final_wo_proof, wlen, "c=%s,r=%s", c64, r);
    free(c64);
    /* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
    size_t alen = strlen(s->client_first_bare) + strlen(s->server_first) + strlen(s->client_final_wo_proof) + 3;
    char *auth = malloc(alen);
    if (!auth) {
        wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
        goto out;
    }
    snprintf(auth, alen, "%s,%s,%s", s->client_first_bare, s->server_first, s->client_final_wo_proof);
    hmac256(stored, 32, auth, strlen(auth), sig);
    hmac256(skey, 32, auth, strlen(auth), s->server_signature);
    free(auth);
    for (int i = 0; i < 32; i++)
        proof[i] = ckey[i] ^ sig[i];
    char *p64 = b64(proof, 32);
    size_t olen = strlen(s->client_final_wo_proof) + 64;
    *out = malloc(olen);
    if (!p64 || !*out) {
        free(p64);
        wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
        goto out;
    }
    snprintf(*out, olen, "%s,p=%s", s->client_final_wo_proof, p64);
    free(p64);
    rc = 0;
out:
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(ckey, sizeof ckey);
    free(r);
    free(salt64);
    free(iters);
    return rc;
}

int wb_pg_scram_verify(wb_pg_scram *s, const uint8_t *server_final, size_t len, wb_pg_error *err)
{
    char *msg = strndup((const char *)server_final, len);
    if (!msg)
        return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
    char *e = attr(msg, 'e'), *v = attr(msg, 'v');
    int rc;
    uint8_t sig[64];
    int n;
    if (e)
        rc = wb_pg_errf(err, WB_PG_ERR_AUTH, "SCRAM: server reported error \"%s\"", e);
    else if (!v || (n = unb64(v, strlen(v), sig, sizeof sig)) != 32 || CRYPTO_memcmp(sig, s->server_signature, 32))
        rc = wb_pg_errf(err, WB_PG_ERR_AUTH, "SCRAM: the server's signature is wrong: it does not know the password");
    else
        rc = 0;
    free(e);
    free(v);
    free(msg);
    return rc;
}

void wb_pg_scram_free(wb_pg_scram *s)
{
    if (s->password)
        OPENSSL_cleanse(s->password, strlen(s->password));
    free(s->password);
    free(s->client_first_bare);
    free(s->server_first);
    free(s->client_final_wo_proof);
    memset(s, 0, sizeof *s);
}
