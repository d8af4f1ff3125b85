/* Materialised results (see include/wirebuf/pg.h): wb_pg_exec and friends
 * collect a request's events into one wb_pg_result. */
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

/* ---- materialised results ---- */
typedef struct cell {
    uint64_t off;
    int32_t len;
} cell;

struct wb_pg_result {
    uint16_t ncols;
    wb_pg_column *cols;
    wb_buf names; /* column names, NUL-terminated, back to back */
    wb_buf data;  /* values, each NUL-terminated */
    cell *cells;
    int64_t nrows;
    size_t cells_cap;
    char tag[64];
    int64_t affected;
};

void wb_pg_result_free(wb_pg_result *r)
{
    if (!r)
        return;
    free(r->cols);
    wb_buf_free(&r->names);
    wb_buf_free(&r->data);
    free(r->cells);
    free(r);
}

static int result_columns(wb_pg_result *r, uint16_t n, const wb_pg_column *cols)
{
    free(r->cols);
    wb_buf_clear(&r->names);
    wb_buf_clear(&r->data);
    r->nrows = 0;
    r->ncols = n;
    r->cols = calloc(n ? n : 1, sizeof *r->cols);
    if (!r->cols)
        return -1;
    size_t *offs = calloc(n ? n : 1, sizeof *offs);
    if (!offs)
        return -1;
    for (uint16_t i = 0; i < n; i++) {
        r->cols[i] = cols ? cols[i] : (wb_pg_column){0};
        offs[i] = r->names.len;
        if (wb_buf_append(&r->names, cols ? cols[i].name : "", strlen(cols ? cols[i].name : "") + 1)) {
            free(offs);
            return -1;
        }
    }
    for (uint16_t i = 0; i < n; i++)
        r->cols[i].name = (const char *)r->names.p + offs[i];
    free(offs);
    return 0;
}

static int result_row(wb_pg_result *r, const wb_pg_event *ev)
{
    if (r->ncols != ev->ncols && result_columns(r, ev->ncols, NULL))
        return -1;
    size_t need = (size_t)(r->nrows + 1) * r->ncols;
    if (need > r->cells_cap) {
        size_t cap = r->cells_cap ? r->cells_cap * 2 : 256;
        while (cap < need)
            cap *= 2;
        cell *p = realloc(r->cells, cap * sizeof *p);
        if (!p)
            return -1;
        r->cells = p;
        r->cells_cap = cap;
    }
    cell *row = r->cells + (size_t)r->nrows * r->ncols;
    for (uint16_t i = 0; i < ev->ncols; i++) {
        row[i].off = r->data.len;
        row[i].len = ev->lens[i];
        if (ev->lens[i] >= 0 && (wb_buf_append_fast(&r->data, ev->vals[i], (size_t)ev->lens[i]) ||
                                 wb_buf_putc(&r->data, 0)))
            return -1;
    }
    r->nrows++;
    return 0;
}

/* read a whole request into a result (the last result set wins) */
static wb_pg_result *collect(wb_pg_conn *c, wb_pg_error *err)
{
    wb_pg_result *r = calloc(1, sizeof *r);
    wb_pg_error first;
    first.kind = WB_PG_ERR_NONE;
    int nomem = !r;
    if (r)
        r->affected = -1;
    for (;;) {
        wb_pg_event ev;
        int s = wb_pg_step(c, &ev, err);
        if (s < 0) {
            wb_pg_result_free(r);
            return NULL;
        }
        if (s == 0)
            break;
        if (nomem)
            continue;
        switch (ev.type) {
        case WB_PG_EV_ROW_DESCRIPTION:
            nomem |= result_columns(r, ev.ncols, ev.cols) != 0;
            break;
        case WB_PG_EV_ROW:
            nomem |= result_row(r, &ev) != 0;
            break;
        case WB_PG_EV_COMMAND_COMPLETE:
            snprintf(r->tag, sizeof r->tag, "%s", ev.tag);
            r->affected = ev.rows;
            break;
        case WB_PG_EV_ERROR:
            if (first.kind == WB_PG_ERR_NONE)
                first = *ev.error;
            break;
        case WB_PG_EV_COPY_IN:
            if (wb_pg_put_copy_fail(&c->out, "COPY FROM STDIN needs wb_pg_copy_in_start") || wb_pgc_conn_flush(c, err)) {
                wb_pg_result_free(r);
                return NULL;
            }
            wb_pgc_copy_in_done(c);
            break;
        default:
            break;
        }
    }
    if (first.kind) {
        *err = first;
        wb_pg_result_free(r);
        return NULL;
    }
    if (nomem) {
        wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory collecting the result");
        wb_pg_result_free(r);
        return NULL;
    }
    return r;
}

wb_pg_result *wb_pg_exec(wb_pg_conn *c, const char *sql, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    return wb_pg_send_query(c, sql, err) ? NULL : collect(c, err);
}

wb_pg_result *wb_pg_exec_params(wb_pg_conn *c, const char *sql, int nparams, const wb_pg_param *params,
                                int result_format, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    return wb_pg_send_query_params(c, sql, nparams, params, result_format, 0, err) ? NULL : collect(c, err);
}

int64_t wb_pg_result_rows(const wb_pg_result *r) { return r ? r->nrows : 0; }

uint16_t wb_pg_result_cols(const wb_pg_result *r) { return r ? r->ncols : 0; }

const wb_pg_column *wb_pg_result_column(const wb_pg_result *r, uint16_t col)
{
    return r && col < r->ncols ? &r->cols[col] : NULL;
}

const uint8_t *wb_pg_result_value(const wb_pg_result *r, int64_t row, uint16_t col, int32_t *len)
{
    if (!r || row < 0 || row >= r->nrows || col >= r->ncols) {
        if (len)
            *len = -1;
        return NULL;
    }
    const cell *x = &r->cells[(size_t)row * r->ncols + col];
    if (len)
        *len = x->len;
    return x->len < 0 ? NULL : r->data.p + x->off;
}

const char *wb_pg_result_tag(const wb_pg_result *r) { return r ? r->tag : NULL; }

int64_t wb_pg_result_affected(const wb_pg_result *r) { return r ? r->affected : -1; }

int wb_pg_command(wb_pg_conn *c, const char *sql, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    return wb_pg_send_query(c, sql, err) ? -1 : wb_pgc_finish_request(c, 0, NULL, err);
}
