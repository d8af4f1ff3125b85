/* Connection strings, URIs, PG* environment variables and the password
 * file, with libpq's rules (PostgreSQL 15 docs §34.1.1 Connection Strings,
 * §34.1.2 Parameter Key Words, §34.15 Environment Variables, §34.16 The
 * Password File). */
#include "internal.h"
#include <ctype.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int wb_pg_errf(wb_pg_error *err, int kind, const char *fmt, ...)
{
    if (!err)
        return -1;
    memset(err, 0, sizeof *err);
    err->kind = kind;
    err->statement = -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return -1;
}

static const struct {
    const char *name;
    int kw;      /* KW_* or -1: accepted for libpq compatibility, no effect */
    const char *env;
} keywords[] = {
    {"host", KW_HOST, "PGHOST"},
    {"hostaddr", KW_HOSTADDR, "PGHOSTADDR"},
    {"port", KW_PORT, "PGPORT"},
    {"user", KW_USER, "PGUSER"},
    {"password", KW_PASSWORD, "PGPASSWORD"},
    {"dbname", KW_DBNAME, "PGDATABASE"},
    {"sslmode", KW_SSLMODE, "PGSSLMODE"},
    {"sslrootcert", KW_SSLROOTCERT, "PGSSLROOTCERT"},
    {"application_name", KW_APPNAME, "PGAPPNAME"},
    {"connect_timeout", KW_CONNECT_TIMEOUT, "PGCONNECT_TIMEOUT"},
    {"options", KW_OPTIONS, "PGOPTIONS"},
    {"passfile", KW_PASSFILE, "PGPASSFILE"},
    {"client_encoding", KW_CLIENT_ENCODING, "PGCLIENTENCODING"},
    {"channel_binding", KW_CHANNEL_BINDING, "PGCHANNELBINDING"},
    {"fallback_application_name", -1, NULL},
    {"keepalives", -1, NULL},
    {"keepalives_idle", -1, NULL},
    {"keepalives_interval", -1, NULL},
    {"keepalives_count", -1, NULL},
    {"tcp_user_timeout", -1, NULL},
    {"target_session_attrs", -1, NULL},
    {"gssencmode", -1, NULL},
    {"sslcompression", -1, NULL},
    {"sslsni", -1, NULL},
};
#define NKEYWORDS (sizeof keywords / sizeof keywords[0])

static int find_keyword(const char *name)
{
    for (size_t i = 0; i < NKEYWORDS; i++)
        if (strcmp(keywords[i].name, name) == 0)
            return (int)i;
    return -1;
}

typedef struct kvlist {
    char **kv;
    size_t n, cap;
} kvlist;

static int kv_add(kvlist *l, const char *k, size_t klen, const char *v, size_t vlen)
{
    if (l->n + 3 > l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **p = realloc(l->kv, cap * sizeof *p);
        if (!p)
            return -1;
        l->kv = p;
        l->cap = cap;
    }
    char *ks = strndup(k, klen), *vs = strndup(v, vlen);
    if (!ks || !vs) {
        free(ks);
        free(vs);
        return -1;
    }
    l->kv[l->n++] = ks;
    l->kv[l->n++] = vs;
    l->kv[l->n] = NULL;
    return 0;
}

void wb_pg_conninfo_free(char **kv)
{
    if (!kv)
        return;
    for (size_t i = 0; kv[i]; i++)
        free(kv[i]);
    free(kv);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* percent-decode s[0,n) into a new string; NULL on a bad escape */
static char *pct_decode(const char *s, size_t n)
{
    char *out = malloc(n + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int h, l;
            if (i + 2 >= n || (h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0) {
                free(out);
                return NULL;
            }
            *o++ = (char)(h * 16 + l);
            i += 2;
        } else {
            *o++ = s[i];
        }
    }
    *o = 0;
    return out;
}

static int kv_add_decoded(kvlist *l, const char *key, const char *v, size_t n, wb_pg_error *err)
{
    char *d = pct_decode(v, n);
    if (!d)
        return wb_pg_errf(err, WB_PG_ERR_CONNINFO, "invalid percent-encoded token in URI: \"%.*s\"", (int)n, v);
    int rc = kv_add(l, key, strlen(key), d, strlen(d));
    free(d);
    return rc ? wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory") : 0;
}

/* postgresql://[user[:password]@][host][:port][,host[:port]...][/dbname][?k=v&...] */
static int parse_uri(kvlist *l, const char *s, wb_pg_error *err)
{
    const char *p = strstr(s, "://") + 3;
    const char *end = p + strcspn(p, "/?");
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (kv_add_decoded(l, "user", p, (size_t)((colon ? colon : at) - p), err))
            return -1;
        if (colon && kv_add_decoded(l, "password", colon + 1, (size_t)(at - colon - 1), err))
            return -1;
        p = at + 1;
    }
    /* hosts and ports: comma-separated host[:port], host may be [ipv6] */
    if (p < end) {
        char hosts[1024] = "", ports[256] = "";
        size_t hl = 0, pl = 0;
        const char *q = p;
        int first = 1;
        while (q < end) {
            const char *item_end = q;
            if (*q == '[') {
                item_end = memchr(q, ']', (size_t)(end - q));
                if (!item_end)
                    return wb_pg_errf(err, WB_PG_ERR_CONNINFO, "missing ']' in IPv6 host address in URI \"%s\"", s);
                item_end++;
            }
            while (item_end < end && *item_end != ',' && *item_end != ':')
                item_end++;
            const char *h = q, *he = item_end;
            if (*h == '[') {
                h++;
                he--;
            }
            char *hd = pct_decode(h, (size_t)(he - h));
            if (!hd)
                return wb_pg_errf(err, WB_PG_ERR_CONNINFO, "invalid percent-encoded host in URI \"%s\"", s);
            hl += (size_t)snprintf(hosts + hl, sizeof hosts - hl, "%s%s", first ? "" : ",", hd);
            free(hd);
            const char *portv = "", *porte = portv;
            if (item_end < end && *item_end == ':') {
                portv = item_end + 1;
                porte = portv + strcspn(portv, ",");
                if (porte > end)
                    porte = end;
                item_end = porte;
            }
            pl += (size_t)snprintf(ports + pl, sizeof ports - pl, "%s%.*s", first ? "" : ",", (int)(porte - portv),
                                   portv);
            first = 0;
            q = item_end < end ? item_end + 1 : end;
            if (hl >= sizeof hosts || pl >= sizeof ports)
                return wb_pg_errf(err, WB_PG_ERR_CONNINFO, "host list too long in URI");
        }
        if (hosts[0] || strchr(hosts, ','))
            if (kv_add(l, "host", 4, hosts, strlen(hosts)))
                return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
        if (ports[strspn(ports, ",")])
            if (kv_add(l, "port", 4, ports, strlen(ports)))
                return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
    }
    p = end;
    if (*p == '/') {
        p++;
        size_t n = strcspn(p, "?");
        if (n && kv_add_decoded(l, "dbname", p, n, err))
            return -1;
        p += n;
    }
    if (*p == '?') {
        p++;
        while (*p) {
            size_t n = strcspn(p, "&");
            const char *eq = memchr(p, '=', n);
            if (!eq)
                return wb_pg_errf(err, WB_PG_ERR_CONNINFO, "missing '=' in URI query parameter \"%.*s\"", (int)n, p);
            char *k = pct_decode(p, (size_t)(eq - p));
            if (!k)
                return wb_pg_errf(err, WB_PG_ERR_CONNINFO, "invalid percent-encoded URI parameter name");
            /* libpq maps ssl=true to sslmode=require */
            const char *key = strcmp(k, "ssl") == 0 ? "sslmode" : k;
            int rc;
            if (strcmp(k, "ssl") == 0)
                rc = kv_add(l, "sslmode", 7, "require", 7) ? wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory") : 0;
            else
                rc = kv_add_decoded(l, key, eq + 1, (size_t)(p + n - eq - 1), err);
            free(k);
            if (rc)
                return -1;
            p += n;
            if (*p == '&')
                p++;
        }
    }
    return 0;
}

/* keyword = value pairs; values may be 'single quoted' with \' and \\ */
static int parse_kv(kvlist *l, const char *s, wb_pg_error *err)
{
    const char *p = s;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        if (!*p)
            return 0;
        const char *k = p;
        while (*p && *p != '=' && !isspace((unsigned char)*p))
            p++;
        size_t klen = (size_t)(p - k);
        while (isspace((unsigned char)*p))
            p++;
        if (*p != '=')
            return wb_pg_errf(err, WB_PG_ERR_CONNINFO, "missing \"=\" after \"%.*s\" in connection info string",
                           (int)klen, k);
        p++;
        while (isspace((unsigned char)*p))
            p++;
        char *v = malloc(strlen(p) + 1), *o = v;
        if (!v)
            return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
        if (*p == '\'') {
            p++;
            for (;;) {
                if (!*p) {
                    free(v);
                    return wb_pg_errf(err, WB_PG_ERR_CONNINFO, "unterminated quoted string in connection info string");
                }
                if (*p == '\\' && p[1]) {
                    *o++ = p[1];
                    p += 2;
                } else if (*p == '\'') {
                    p++;
                    break;
                } else {
                    *o++ = *p++;
                }
            }
        } else {
            while (*p && !isspace((unsigned char)*p)) {
                if (*p == '\\' && p[1])
                    p++;
                *o++ = *p++;
            }
        }
        *o = 0;
        int rc = kv_add(l, k, klen, v, (size_t)(o - v));
        free(v);
        if (rc)
            return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
    }
}

char **wb_pg_conninfo_parse(const char *conninfo, wb_pg_error *err)
{
    kvlist l = {0};
    if (kv_add(&l, "", 0, "", 0)) /* ensure an array exists */
        return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory"), NULL;
    free(l.kv[0]);
    free(l.kv[1]);
    l.n = 0;
    l.kv[0] = NULL;
    const char *s = conninfo ? conninfo : "";
    int rc = (strncmp(s, "postgresql://", 13) == 0 || strncmp(s, "postgres://", 11) == 0) ? parse_uri(&l, s, err)
                                                                                            : parse_kv(&l, s, err);
    for (size_t i = 0; rc == 0 && i < l.n; i += 2) {
        if (find_keyword(l.kv[i]) < 0)
            rc = wb_pg_errf(err, WB_PG_ERR_CONNINFO, "invalid connection option \"%s\"", l.kv[i]);
    }
    if (rc) {
        wb_pg_conninfo_free(l.kv);
        return NULL;
    }
    return l.kv;
}

void wb_pg_cfg_free(wb_pg_cfg *cfg)
{
    for (int i = 0; i < KW_COUNT; i++) {
        free(cfg->v[i]);
        cfg->v[i] = NULL;
    }
}

static int set(wb_pg_cfg *cfg, int kw, const char *v)
{
    char *d = strdup(v);
    if (!d)
        return -1;
    free(cfg->v[kw]);
    cfg->v[kw] = d;
    return 0;
}

int wb_pg_cfg_resolve(wb_pg_cfg *cfg, const char *conninfo, wb_pg_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    char **kv = wb_pg_conninfo_parse(conninfo, err);
    if (!kv)
        return -1;
    int rc = 0;
    for (size_t i = 0; kv[i] && rc == 0; i += 2) {
        int k = keywords[find_keyword(kv[i])].kw;
        if (k >= 0)
            rc = set(cfg, k, kv[i + 1]);
    }
    wb_pg_conninfo_free(kv);
    for (size_t i = 0; i < NKEYWORDS && rc == 0; i++) {
        int k = keywords[i].kw;
        const char *e = keywords[i].env ? getenv(keywords[i].env) : NULL;
        if (k >= 0 && !cfg->v[k] && e && *e)
            rc = set(cfg, k, e);
    }
    if (rc == 0 && !cfg->v[KW_USER]) {
        struct passwd pw, *res = NULL;
        char buf[1024];
        if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 && res)
            rc = set(cfg, KW_USER, pw.pw_name);
        else
            rc = set(cfg, KW_USER, "postgres");
    }
    if (rc == 0 && !cfg->v[KW_DBNAME])
        rc = set(cfg, KW_DBNAME, cfg->v[KW_USER]);
    if (rc == 0 && !cfg->v[KW_HOST] && !cfg->v[KW_HOSTADDR])
        rc = set(cfg, KW_HOST, "/var/run/postgresql");
    if (rc == 0 && !cfg->v[KW_PORT])
        rc = set(cfg, KW_PORT, "5432");
    if (rc == 0 && !cfg->v[KW_SSLMODE])
        rc = set(cfg, KW_SSLMODE, "prefer");
    if (rc) {
        wb_pg_cfg_free(cfg);
        return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
    }
    static const char *const modes[] = {"disable", "prefer", "require", "verify-ca", "verify-full"};
    int ok = 0;
    for (size_t i = 0; i < 5; i++)
        ok |= strcmp(cfg->v[KW_SSLMODE], modes[i]) == 0;
    if (!ok) {
        wb_pg_errf(err, WB_PG_ERR_CONNINFO,
                strcmp(cfg->v[KW_SSLMODE], "allow") == 0
                    ? "sslmode value \"%s\" is not supported (use disable, prefer or require)"
                    : "invalid sslmode value: \"%s\"",
                cfg->v[KW_SSLMODE]);
        wb_pg_cfg_free(cfg);
        return -1;
    }
    return 0;
}

/* One .pgpass field (up to ':' or end of line) with \ escapes; returns 1 if
 * it matches want ('*' matches anything). Advances *pp past the ':'. */
static int pgpass_field(const char **pp, const char *want, char *copy, size_t cap)
{
    const char *p = *pp;
    size_t n = 0;
    while (*p && *p != ':' && *p != '\n' && *p != '\r') {
        if (*p == '\\' && p[1] && p[1] != '\n')
            p++;
        if (n + 1 < cap)
            copy[n++] = *p;
        p++;
    }
    copy[n] = 0;
    if (*p == ':')
        p++;
    *pp = p;
    return want == NULL || strcmp(copy, "*") == 0 || strcmp(copy, want) == 0;
}

char *wb_pg_pgpass_lookup(const wb_pg_cfg *cfg, const char *host, const char *port)
{
    char path[4096];
    if (cfg->v[KW_PASSFILE]) {
        snprintf(path, sizeof path, "%s", cfg->v[KW_PASSFILE]);
    } else {
        const char *home = getenv("HOME");
        struct passwd pw, *res = NULL;
        char buf[1024];
        if (!home && getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 && res)
            home = pw.pw_dir;
        if (!home)
            return NULL;
        snprintf(path, sizeof path, "%s/.pgpass", home);
    }
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return NULL;
    if (st.st_mode & (S_IRWXG | S_IRWXO)) /* libpq: "has group or world access; permissions should be u=rw" */
        return NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    /* a Unix-socket host in the default directory also matches "localhost" */
    int is_default_sock = host[0] == '/' && strcmp(host, "/var/run/postgresql") == 0;
    char line[4096], field[1024];
    char *found = NULL;
    while (!found && fgets(line, sizeof line, f)) {
        const char *p = line;
        if (*p == '#' || *p == '\n')
            continue;
        const char *save = p;
        int hm = pgpass_field(&p, host, field, sizeof field);
        if (!hm && is_default_sock) {
            p = save;
            hm = pgpass_field(&p, "localhost", field, sizeof field);
        }
        if (!hm)
            continue;
        if (!pgpass_field(&p, port, field, sizeof field) || !pgpass_field(&p, cfg->v[KW_DBNAME], field, sizeof field) ||
            !pgpass_field(&p, cfg->v[KW_USER], field, sizeof field))
            continue;
        pgpass_field(&p, NULL, field, sizeof field);
        found = strdup(field);
    }
    fclose(f);
    return found;
}
