/* Server-side authentication data: the password file as SCRAM-SHA-256
 * verifiers (RFC 5802 §3, RFC 7677) and md5 hashes (PostgreSQL 15 docs
 * §55.3). All cryptography is OpenSSL's. */
#include "session.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SCRAM_ITERATIONS 4096 /* PostgreSQL's scram_iterations default */

static void hex(const uint8_t *d, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[d[i] >> 4];
        out[2 * i + 1] = digits[d[i] & 15];
    }
    out[2 * n] = 0;
}

int wb_srv_md5_hex(const void *a, size_t alen, const void *b, size_t blen, char out[33])
{
    uint8_t d[16];
    unsigned int n = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex(ctx, EVP_md5(), NULL) && EVP_DigestUpdate(ctx, a, alen) &&
             EVP_DigestUpdate(ctx, b, blen) && EVP_DigestFinal_ex(ctx, d, &n);
    EVP_MD_CTX_free(ctx);
    if (!ok || n != 16)
        return -1;
    hex(d, 16, out);
    return 0;
}

/* SaltedPassword -> StoredKey, ServerKey */
int wb_srv_scram_keys(const char *password, const uint8_t *salt, size_t saltlen, int iterations,
                      uint8_t stored[32], uint8_t server[32])
{
    uint8_t salted[32], client[32];
    unsigned int n = 0;
    if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, (int)saltlen, iterations, EVP_sha256(), 32,
                          salted) != 1)
        return -1;
    if (!HMAC(EVP_sha256(), salted, 32, (const uint8_t *)"Client Key", 10, client, &n) || n != 32)
        return -1;
    if (!HMAC(EVP_sha256(), salted, 32, (const uint8_t *)"Server Key", 10, server, &n) || n != 32)
        return -1;
    if (!EVP_Digest(client, 32, stored, &n, EVP_sha256(), NULL) || n != 32)
        return -1;
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(client, sizeof client);
    return 0;
}

int wb_srv_passwords_add(wb_srv_passwords *pw, const char *role, const char *password)
{
    wb_srv_role *r = realloc(pw->roles, (size_t)(pw->n + 1) * sizeof *r);
    if (!r)
        return -1;
    pw->roles = r;
    r += pw->n;
    memset(r, 0, sizeof *r);
    r->iterations = SCRAM_ITERATIONS;
    char h[33];
    if (!(r->name = strdup(role)) || RAND_bytes(r->salt, sizeof r->salt) != 1 ||
        wb_srv_scram_keys(password, r->salt, sizeof r->salt, r->iterations, r->stored_key, r->server_key) ||
        wb_srv_md5_hex(password, strlen(password), role, strlen(role), h)) {
        free(r->name);
        return -1;
    }
    memcpy(r->md5, "md5", 3);
    memcpy(r->md5 + 3, h, 33);
    pw->n++;
    return 0;
}

const wb_srv_role *wb_srv_passwords_find(const wb_srv_passwords *pw, const char *role)
{
    for (int i = 0; pw && i < pw->n; i++)
        if (strcmp(pw->roles[i].name, role) == 0)
            return &pw->roles[i];
    return NULL;
}

void wb_srv_passwords_free(wb_srv_passwords *pw)
{
    for (int i = 0; i < pw->n; i++) {
        free(pw->roles[i].name);
        OPENSSL_cleanse(&pw->roles[i], sizeof pw->roles[i]);
    }
    free(pw->roles);
    pw->roles = NULL;
    pw->n = 0;
}

int wb_srv_passwords_load(wb_srv_passwords *pw, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "could not open password file \"%s\": %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lineno = 0, rc = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0 || line[0] == '#')
            continue;
        char *colon = strchr(line, ':');
        if (!colon || colon == line) {
            snprintf(err, errlen, "%s:%d: expected role:password", path, lineno);
            rc = -1;
            break;
        }
        *colon = 0;
        if (wb_srv_passwords_find(pw, line)) {
            snprintf(err, errlen, "%s:%d: role \"%s\" listed twice", path, lineno, line);
            rc = -1;
            break;
        }
        if (wb_srv_passwords_add(pw, line, colon + 1) != 0) {
            snprintf(err, errlen, "%s:%d: out of memory", path, lineno);
            rc = -1;
            break;
        }
        OPENSSL_cleanse(colon + 1, strlen(colon + 1));
    }
    free(line);
    fclose(f);
    return rc;
}
