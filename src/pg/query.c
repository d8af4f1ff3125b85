/* Sending requests (see include/wirebuf/pg.h): simple Query, the extended
 * protocol (Parse/Bind/Describe/Execute/Sync), prepared statements,
 * row-limited portals, pipelines and executemany. Results are read through
 * the event stream (events.c). */
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

int wb_pg_send_query(wb_pg_conn *c, const char *sql, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (wb_pgc_idle(c, err))
        return -1;
    if (!sql)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "query is NULL");
    if (wb_pg_put_query(&c->out, sql) || wb_pgc_push_sync(c, -1))
        return wb_pgc_oom_at(c, mark, err);
    c->stmt = 0;
    c->ncols = 0;
    return wb_pgc_conn_flush(c, err);
}

/* Bind values from wb_pg_param (text lengths resolved) */
typedef struct bindv {
    const uint8_t *small_vals[16];
    int32_t small_lens[16];
    int16_t small_fmts[16];
    const uint8_t **vals;
    int32_t *lens;
    int16_t *fmts;
} bindv;

static int bindv_init(bindv *b, int n, const wb_pg_param *p)
{
    if (n <= 16) {
        b->vals = b->small_vals;
        b->lens = b->small_lens;
        b->fmts = b->small_fmts;
    } else {
        b->vals = malloc(sizeof *b->vals * (size_t)n);
        b->lens = malloc(sizeof *b->lens * (size_t)n);
        b->fmts = malloc(sizeof *b->fmts * (size_t)n);
        if (!b->vals || !b->lens || !b->fmts)
            return -1;
    }
    for (int i = 0; i < n; i++) {
        b->vals[i] = p[i].val;
        b->lens[i] = !p[i].val ? -1 : p[i].len < 0 ? (int32_t)strlen(p[i].val) : p[i].len;
        b->fmts[i] = p[i].format;
    }
    return 0;
}

static void bindv_free(bindv *b)
{
    if (b->vals != b->small_vals) {
        free(b->vals);
        free(b->lens);
        free(b->fmts);
    }
}

static int put_bind(wb_pg_conn *c, const char *stmt, int nparams, const wb_pg_param *params, uint16_t nres,
                    const int16_t *res)
{
    if (nparams < 0 || nparams > 65535)
        return -1;
    bindv b = {0};
    int rc = bindv_init(&b, nparams, params);
    if (rc == 0) {
        /* one format code for all when they agree (the common case) */
        int same = 1;
        for (int i = 1; i < nparams; i++)
            same &= b.fmts[i] == b.fmts[0];
        uint16_t nf = nparams == 0 ? 0 : same ? 1 : (uint16_t)nparams;
        rc = wb_pg_put_bind(&c->out, "", stmt, nf, b.fmts, (uint16_t)nparams, b.vals, b.lens, nres, res);
    }
    bindv_free(&b);
    return rc;
}

static int put_parse_params(wb_pg_conn *c, const char *name, const char *sql, int nparams, const wb_pg_param *params)
{
    uint32_t small[16], *types = nparams <= 16 ? small : malloc(sizeof *types * (size_t)nparams);
    if (!types)
        return -1;
    int any = 0;
    for (int i = 0; i < nparams; i++) {
        types[i] = params[i].oid;
        any |= types[i] != 0;
    }
    int rc = wb_pg_put_parse(&c->out, name, sql, any ? (uint16_t)nparams : 0, types);
    if (types != small)
        free(types);
    return rc;
}

/* result format codes for columns per the AUTO rule into c->rowdesc-free
 * array fmts (n entries) */
static void auto_formats(const wb_pg_column *cols, uint16_t n, int16_t *fmts)
{
    for (uint16_t i = 0; i < n; i++)
        fmts[i] = wb_pg_binary_known(cols[i].type_oid) ? 1 : 0;
}

/* Wait for the answer to Parse + Describe statement (+ Flush or Sync):
 * ParseComplete, ParameterDescription, RowDescription | NoData. On an
 * ErrorResponse returns 1 with the error in c->error (the caller syncs). */
static int read_describe(wb_pg_conn *c, uint16_t *nparams, uint32_t **oids, wb_pg_error *err)
{
    for (;;) {
        wb_pg_msg m;
        if (wb_pgc_next_msg(c, &m, err))
            return -1;
        switch (m.type) {
        case '1':
            continue;
        case 't': {
            uint16_t n;
            const uint8_t *p;
            if (wb_pg_parse_parameter_description(&m, &n, &p, c->errbuf, sizeof c->errbuf))
                return wb_pgc_proto_fail(c, err, &m, c->errbuf);
            if (oids) {
                *oids = malloc(sizeof **oids * (n ? n : 1));
                if (!*oids)
                    return wb_pgc_io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
                for (uint16_t i = 0; i < n; i++)
                    (*oids)[i] = wb_pg_be32(p + 4 * i);
            }
            if (nparams)
                *nparams = n;
            continue;
        }
        case 'T':
            if (wb_pgc_set_rowdesc(c, &m, err))
                return -1;
            return 0;
        case 'n':
            c->ncols = 0;
            return 0;
        case 'E': {
            int kind = wb_pgc_take_error(c, &m, 0, &c->error, err);
            if (kind < 0)
                return -1;
            if (kind != WB_PG_ERR_SERVER) {
                *err = c->error;
                return -1;
            }
            return 1;
        }
        default: {
            int h = wb_pgc_handle_async(c, &m, err);
            if (h < 0)
                return -1;
            if (!h)
                return wb_pgc_proto_fail(c, err, &m, "unexpected message while describing a statement");
        }
        }
    }
}

/* after an error inside a Flush-ended exchange: Sync and read to ReadyForQuery,
 * then report c->error */
static int sync_and_fail(wb_pg_conn *c, wb_pg_error *err)
{
    wb_pg_error saved = c->error;
    if (wb_pg_put_sync(&c->out) || wb_pgc_push_sync(c, -1))
        return wb_pgc_oom_bad(c, err);
    if (wb_pgc_conn_flush(c, err) || wb_pg_drain(c, NULL, err))
        return -1;
    *err = saved;
    return -1;
}

/* After Bind, Describe and Execute of the unnamed portal: a row limit keeps
 * the portal open (Flush, not Sync: PostgreSQL 15 docs §55.2.3 "Extended
 * Query"), otherwise Sync ends the implicit transaction. `mark` is where
 * this call's messages start in c->out: out of memory drops them all. */
static int end_execute(wb_pg_conn *c, size_t mark, int32_t max_rows, wb_pg_error *err)
{
    if (max_rows > 0) {
        if (wb_pg_put_flush(&c->out))
            return wb_pgc_oom_at(c, mark, err);
        c->state = WB_PGC_PORTAL;
    } else if (wb_pg_put_sync(&c->out) || wb_pgc_push_sync(c, -1)) {
        return wb_pgc_oom_at(c, mark, err);
    }
    return wb_pgc_conn_flush(c, err);
}

int wb_pg_send_query_params(wb_pg_conn *c, const char *sql, int nparams, const wb_pg_param *params,
                            int result_format, int32_t max_rows, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (wb_pgc_idle(c, err))
        return -1;
    if (!sql || nparams < 0 || nparams > 65535 || (nparams && !params) || max_rows < 0)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "bad arguments to wb_pg_send_query_params");
    c->stmt = 0;
    if (put_parse_params(c, "", sql, nparams, params))
        return wb_pgc_oom_at(c, mark, err);
    int16_t one = (int16_t)(result_format == WB_PG_BINARY), *fmts = &one;
    uint16_t nfmts = 1;
    int16_t *heap = NULL;
    if (result_format == WB_PG_AUTO) {
        if (wb_pg_put_describe(&c->out, 'S', "") || wb_pg_put_flush(&c->out))
            return wb_pgc_oom_at(c, mark, err);
        if (wb_pgc_conn_flush(c, err))
            return -1;
        mark = c->out.len;
        int r = read_describe(c, NULL, NULL, err);
        if (r < 0)
            return -1;
        if (r > 0)
            return sync_and_fail(c, err);
        nfmts = c->ncols;
        heap = malloc(sizeof *heap * (nfmts ? nfmts : 1));
        if (!heap)
            return wb_pgc_oom_at(c, mark, err);
        auto_formats(c->cols, c->ncols, heap);
        fmts = heap;
    }
    int rc = put_bind(c, "", nparams, params, nfmts, fmts) || wb_pg_put_describe(&c->out, 'P', "") ||
             wb_pg_put_execute(&c->out, "", max_rows);
    free(heap);
    if (rc)
        return wb_pgc_oom_at(c, mark, err);
    return end_execute(c, mark, max_rows, err);
}

int wb_pg_send_more(wb_pg_conn *c, int32_t max_rows, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (wb_pgc_usable(c, err))
        return -1;
    if (!wb_pgc_portal_open(c))
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "no suspended portal to continue");
    if (max_rows < 0)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "negative row limit");
    if (c->state != WB_PGC_SUSPENDED)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "the portal is still sending rows: read up to WB_PG_EV_SUSPENDED first");
    if (wb_pg_put_execute(&c->out, "", max_rows) || wb_pg_put_flush(&c->out))
        return wb_pgc_oom_at(c, mark, err);
    c->state = WB_PGC_PORTAL;
    return wb_pgc_conn_flush(c, err);
}

void wb_pg_stmt_free(wb_pg_stmt *st)
{
    if (!st)
        return;
    for (uint16_t i = 0; st->cols && i < st->ncols; i++)
        free((char *)st->cols[i].name);
    free(st->cols);
    free(st->formats);
    free(st->param_oids);
    free(st->name);
    free(st);
}

wb_pg_stmt *wb_pg_prepare(wb_pg_conn *c, const char *name, const char *sql, uint16_t ntypes, const uint32_t *types,
                          wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (wb_pgc_idle(c, err))
        return NULL;
    if (!sql) {
        wb_pg_errf(err, WB_PG_ERR_USAGE, "query is NULL");
        return NULL;
    }
    name = name ? name : "";
    if (wb_pg_put_parse(&c->out, name, sql, ntypes, types) || wb_pg_put_describe(&c->out, 'S', name) ||
        wb_pg_put_sync(&c->out) || wb_pgc_push_sync(c, -1)) {
        wb_pgc_oom_at(c, mark, err);
        return NULL;
    }
    if (wb_pgc_conn_flush(c, err))
        return NULL;
    wb_pg_stmt *st = calloc(1, sizeof *st);
    if (!st) {
        if (wb_pg_drain(c, NULL, err) == 0) /* the request is answered: the connection stays usable */
            wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
        return NULL;
    }
    int r = read_describe(c, &st->nparams, &st->param_oids, err);
    if (r != 0) {
        wb_pg_stmt_free(st);
        if (r > 0) {
            wb_pg_error saved = c->error;
            if (wb_pg_drain(c, NULL, err) == 0)
                *err = saved;
        }
        return NULL;
    }
    st->name = strdup(name);
    st->cols = calloc(c->ncols ? c->ncols : 1, sizeof *st->cols);
    st->formats = calloc(c->ncols ? c->ncols : 1, sizeof *st->formats);
    int bad = !st->name || !st->cols || !st->formats;
    /* st->ncols counts the columns whose name is owned (wb_pg_stmt_free
     * walks exactly those) */
    for (uint16_t i = 0; !bad && i < c->ncols; i++) {
        st->cols[i] = c->cols[i];
        st->cols[i].name = strdup(c->cols[i].name);
        bad |= !st->cols[i].name;
        if (!bad)
            st->ncols = (uint16_t)(i + 1);
    }
    if (!bad)
        auto_formats(st->cols, st->ncols, st->formats);
    if (wb_pg_drain(c, NULL, err) || bad) {
        if (bad)
            wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
        wb_pg_stmt_free(st);
        return NULL;
    }
    return st;
}

int wb_pg_send_prepared(wb_pg_conn *c, const wb_pg_stmt *st, int nparams, const wb_pg_param *params, int32_t max_rows,
                        wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (wb_pgc_idle(c, err))
        return -1;
    if (!st || nparams != st->nparams || (nparams && !params) || max_rows < 0)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "statement \"%s\" takes %u parameters, %d given", st ? st->name : "",
                       st ? st->nparams : 0, nparams);
    c->stmt = 0;
    if (put_bind(c, st->name, nparams, params, st->ncols, st->formats) || wb_pg_put_describe(&c->out, 'P', "") ||
        wb_pg_put_execute(&c->out, "", max_rows))
        return wb_pgc_oom_at(c, mark, err);
    return end_execute(c, mark, max_rows, err);
}

int wb_pg_stmt_close(wb_pg_conn *c, wb_pg_stmt *st, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    int rc = 0;
    if (st && st->name && st->name[0]) {
        size_t mark = c ? c->out.len : 0;
        if (wb_pgc_idle(c, err))
            rc = -1;
        else if (wb_pg_put_close(&c->out, 'S', st->name) || wb_pg_put_sync(&c->out) || wb_pgc_push_sync(c, -1))
            rc = wb_pgc_oom_at(c, mark, err);
        else
            rc = wb_pgc_conn_flush(c, err) || wb_pgc_finish_request(c, 0, NULL, err) ? -1 : 0;
    }
    wb_pg_stmt_free(st);
    return rc;
}

/* ---- pipelining ---- */
/* A pipeline call may queue messages: the connection is usable and no
 * suspended portal or COPY is in progress. 0, or -1 with err set. */
static int pipeline_ready(wb_pg_conn *c, wb_pg_error *err)
{
    if (wb_pgc_usable(c, err))
        return -1;
    if (c->state != WB_PGC_READY)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "a suspended portal or COPY is in progress");
    return 0;
}

int wb_pg_pipeline_parse(wb_pg_conn *c, const char *name, const char *sql, uint16_t ntypes, const uint32_t *types,
                         wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (pipeline_ready(c, err))
        return -1;
    if (!sql)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "wb_pg_pipeline_parse: sql is NULL");
    if (ntypes > 0 && !types)
        ntypes = 0;
    if (!c->pending)
        c->stmt = 0;
    if (wb_pg_put_parse(&c->out, name ? name : "", sql, ntypes, types))
        return wb_pgc_oom_at(c, mark, err);
    return wb_pgc_maybe_flush(c, err);
}

int wb_pg_pipeline_exec(wb_pg_conn *c, const char *name, int nparams, const wb_pg_param *params, uint16_t nformats,
                        const int16_t *formats, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    /* every argument is checked before a byte is queued: a refused call
     * leaves the pipeline exactly as the earlier calls built it */
    if (pipeline_ready(c, err))
        return -1;
    if (nparams < 0 || nparams > 65535 || (nparams > 0 && !params))
        return wb_pg_errf(err, WB_PG_ERR_USAGE,
                          "wb_pg_pipeline_exec: nparams must be 0..65535 with params for nparams > 0 (got %d%s)",
                          nparams, nparams > 0 && !params ? ", params NULL" : "");
    if (nformats > 0 && !formats)
        nformats = 0;
    if (put_bind(c, name ? name : "", nparams, params, nformats, formats) || wb_pg_put_execute(&c->out, "", 0))
        return wb_pgc_oom_at(c, mark, err);
    c->execs++;
    return wb_pgc_maybe_flush(c, err);
}

int wb_pg_pipeline_sync(wb_pg_conn *c, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (pipeline_ready(c, err))
        return -1;
    if (wb_pg_put_sync(&c->out) || wb_pgc_push_sync(c, c->execs))
        return wb_pgc_oom_at(c, mark, err);
    return wb_pgc_conn_flush(c, err);
}

int wb_pg_executemany(wb_pg_conn *c, const char *sql, int nparams, const uint32_t *types, int64_t nrows,
                      wb_pg_fill_fn fill, void *ctx, int64_t *affected, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    if (wb_pgc_idle(c, err))
        return -1;
    if (!sql || !fill || nparams < 0 || nparams > 65535 || nrows < 0)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "bad arguments to wb_pg_executemany");
    wb_pg_param small[16], *params = nparams <= 16 ? small : calloc((size_t)nparams, sizeof *params);
    if (!params)
        return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory");
    int rc = -1;
    c->stmt = 0;
    c->execs = 0;
    if (wb_pg_pipeline_parse(c, "", sql, types ? (uint16_t)nparams : 0, types, err))
        goto out;
    int aborted = 0;
    for (int64_t r = 0; r < nrows; r++) {
        memset(params, 0, sizeof *params * (size_t)nparams);
        if (fill(ctx, r, params) != 0) {
            aborted = 1;
            wb_pg_errf(err, WB_PG_ERR_USAGE, "executemany: the fill callback failed at row %lld", (long long)r);
            err->statement = r;
            break;
        }
        if (wb_pg_pipeline_exec(c, "", nparams, params, 0, NULL, err)) {
            if (c->state == WB_PGC_BAD)
                goto out;
            aborted = 1; /* a bad row (USAGE) or no memory: end the batch, roll it back */
            err->statement = r;
            break;
        }
    }
    if (aborted) {
        /* rows already sent must not commit: a statement that fails before
         * the Sync makes the server skip the rest and roll back (§55.2.4) */
        wb_pg_error saved = *err;
        if (wb_pg_put_parse(&c->out, "", "wirebuf executemany aborted by its fill callback", 0, NULL) ||
            wb_pg_put_sync(&c->out) || wb_pgc_push_sync(c, c->execs)) {
            wb_pgc_oom_bad(c, err); /* rows already went out: the batch cannot be ended */
            goto out;
        }
        if (wb_pgc_conn_flush(c, err) || wb_pg_drain(c, NULL, err))
            goto out;
        *err = saved;
        goto out;
    }
    if (wb_pg_pipeline_sync(c, err))
        goto out;
    int64_t total = 0;
    if (wb_pgc_finish_request(c, 1, &total, err))
        goto out;
    if (affected)
        *affected = total;
    rc = 0;
out:
    if (params != small)
        free(params);
    return rc;
}
