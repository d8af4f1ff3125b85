/* Internal to src/pg: connection settings and auth helpers shared by the
 * conninfo parser, the authenticator and the connection. */
#ifndef WB_PG_INTERNAL_H
#define WB_PG_INTERNAL_H
#include "wirebuf/pg.h"
#include <stdarg.h>

/* The connection keywords we act on, in libpq's spelling (§34.1.2). */
enum {
    KW_HOST, KW_HOSTADDR, KW_PORT, KW_USER, KW_PASSWORD, KW_DBNAME, KW_SSLMODE, KW_SSLROOTCERT, KW_APPNAME,
    KW_CONNECT_TIMEOUT, KW_OPTIONS, KW_PASSFILE, KW_CLIENT_ENCODING, KW_CHANNEL_BINDING, KW_COUNT
};

/* Settings after conninfo, environment and defaults are applied: each value
 * malloc'd (NULL when unset). */
typedef struct wb_pg_cfg {
    char *v[KW_COUNT];
} wb_pg_cfg;

/* Resolve conninfo + PG* environment + defaults into cfg. 0 or -1 (*err). */
int wb_pg_cfg_resolve(wb_pg_cfg *cfg, const char *conninfo, wb_pg_error *err);
void wb_pg_cfg_free(wb_pg_cfg *cfg);
/* Password from the password file for this host/port/db/user, malloc'd, or
 * NULL. `host` is the host entry being tried. */
char *wb_pg_pgpass_lookup(const wb_pg_cfg *cfg, const char *host, const char *port);

/* Fill err with kind and a formatted message; returns -1. */
int wb_pg_errf(wb_pg_error *err, int kind, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* MD5 password hash: "md5" + md5hex(md5hex(password + user) + salt) into
 * out (36 bytes incl. NUL). 0 or -1. */
int wb_pg_md5_password(const char *user, const char *password, const uint8_t salt[4], char out[36]);

/* SASLprep (RFC 4013) of a password for SCRAM, or a copy of the raw bytes
 * when it is not valid UTF-8 or is refused (as libpq). malloc'd, NULL when
 * out of memory. */
char *wb_pg_saslprep(const char *password);

/* SCRAM-SHA-256 client state (§55.3.1, RFC 5802 / RFC 7677). */
typedef struct wb_pg_scram {
    char nonce[64];        /* client nonce (base64 of 18 random bytes) */
    char *client_first_bare;
    char *server_first;
    char *client_final_wo_proof;
    uint8_t server_signature[32];
    char *password;
    const char *cbind_flag; /* "n,,", "y,," or "p=tls-server-end-point,," */
    uint8_t cbind_data[64]; /* tls-server-end-point hash */
    size_t cbind_len;
} wb_pg_scram;
/* Build client-first-message into out (malloc'd). */
int wb_pg_scram_first(wb_pg_scram *s, const char *password, int plus, const uint8_t *cb, size_t cblen, char **out,
                   wb_pg_error *err);
/* From server-first-message build client-final-message (malloc'd). */
int wb_pg_scram_final(wb_pg_scram *s, const uint8_t *server_first, size_t len, char **out, wb_pg_error *err);
/* Check server-final-message. 0 or -1. */
int wb_pg_scram_verify(wb_pg_scram *s, const uint8_t *server_final, size_t len, wb_pg_error *err);
void wb_pg_scram_free(wb_pg_scram *s);

#endif
