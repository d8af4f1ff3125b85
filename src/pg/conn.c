/* The client connection's accessors (see include/wirebuf/pg.h): status,
 * ParameterStatus values, backend key, handlers, statistics. */
#include "internal.h"
#include "wirebuf/pgreader.h"
#include "wirebuf/stream.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int set_param_locked(wb_pg_conn *c, const char *name, const char *value);

int wb_pgc_set_param(wb_pg_conn *c, const char *name, const char *value)
{
    pthread_mutex_lock(&c->params_mu);
    int rc = set_param_locked(c, name, value);
    pthread_mutex_unlock(&c->params_mu);
    return rc;
}

static int set_param_locked(wb_pg_conn *c, const char *name, const char *value)
{
    for (size_t i = 0; i < c->nparams; i++) {
        if (strcmp(c->params[2 * i], name) == 0) {
            char *v = strdup(value);
            if (!v)
                return -1;
            free(c->params[2 * i + 1]);
            c->params[2 * i + 1] = v;
            return 0;
        }
    }
    char **p = realloc(c->params, sizeof *p * 2 * (c->nparams + 1));
    if (!p)
        return -1;
    c->params = p;
    p[2 * c->nparams] = strdup(name);
    p[2 * c->nparams + 1] = strdup(value);
    if (!p[2 * c->nparams] || !p[2 * c->nparams + 1]) {
        free(p[2 * c->nparams]);
        free(p[2 * c->nparams + 1]);
        return -1;
    }
    c->nparams++;
    return 0;
}

int wb_pg_status(const wb_pg_conn *c) { return !c || c->state == WB_PGC_BAD ? WB_PG_BAD : WB_PG_OK; }

char wb_pg_transaction_status(const wb_pg_conn *c) { return !c || c->pending || wb_pgc_portal_open(c) ? 0 : c->tx; }

/* ParameterStatus values: written by the thread reading the connection,
 * read by wb_pg_parameter (same thread) or wb_pg_parameter_copy (any
 * thread): params_mu guards the array. */
const char *wb_pg_parameter(const wb_pg_conn *c, const char *name)
{
    if (!c || !name)
        return NULL;
    for (size_t i = 0; i < c->nparams; i++)
        if (strcmp(c->params[2 * i], name) == 0)
            return c->params[2 * i + 1];
    return NULL;
}

int wb_pg_parameter_copy(wb_pg_conn *c, const char *name, char *buf, size_t cap)
{
    if (!c || !name)
        return -1;
    int n = -1;
    pthread_mutex_lock(&c->params_mu);
    const char *v = wb_pg_parameter(c, name);
    if (v) {
        n = (int)strlen(v);
        if (buf && cap)
            snprintf(buf, cap, "%s", v);
    }
    pthread_mutex_unlock(&c->params_mu);
    return n;
}

static int version_number(const char *v)
{
    int major = 0, minor = 0;
    if (!v || sscanf(v, "%d.%d", &major, &minor) < 1)
        return 0;
    return major >= 10 ? major * 10000 + minor : major * 10000 + minor * 100;
}

int wb_pg_server_version(const wb_pg_conn *c) { return version_number(wb_pg_parameter(c, "server_version")); }

int wb_pg_backend_pid(const wb_pg_conn *c) { return c ? c->pid : 0; }

int wb_pg_tls_in_use(const wb_pg_conn *c) { return c && c->io.ssl != NULL; }

int wb_pg_socket(const wb_pg_conn *c) { return c ? c->io.fd : -1; }

void wb_pg_set_query_timeout(wb_pg_conn *c, int ms)
{
    if (c)
        c->query_timeout_ms = ms > 0 ? ms : 0;
}

void wb_pg_set_notice_handler(wb_pg_conn *c, wb_pg_notice_fn fn, void *ctx)
{
    if (!c)
        return;
    c->notice_fn = fn;
    c->notice_ctx = ctx;
}

void wb_pg_set_notify_handler(wb_pg_conn *c, wb_pg_notify_fn fn, void *ctx)
{
    if (!c)
        return;
    c->notify_fn = fn;
    c->notify_ctx = ctx;
}

void wb_pg_get_stats(const wb_pg_conn *c, wb_pg_stats *out)
{
    if (!out)
        return;
    if (c)
        *out = c->stats;
    else
        memset(out, 0, sizeof *out);
}
