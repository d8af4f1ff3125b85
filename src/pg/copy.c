/* COPY FROM STDIN / TO STDOUT (§55.2.6, see include/wirebuf/pg.h). */
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

/* ---- COPY ---- */
/* Send a COPY and wait for CopyInResponse / CopyOutResponse (want). */
static int copy_start(wb_pg_conn *c, const char *sql, int want, wb_pg_error *err)
{
    const char *what = want == WB_PG_EV_COPY_IN ? "COPY ... FROM STDIN" : "COPY ... TO STDOUT";
    if (wb_pg_send_query(c, sql, err))
        return -1;
    for (;;) {
        wb_pg_event ev;
        int s = wb_pg_step(c, &ev, err);
        if (s < 0)
            return -1;
        if (s == 0)
            return wb_pg_errf(err, WB_PG_ERR_USAGE, "the statement is not a %s", what);
        if (ev.type == want) {
            wb_buf_clear(&c->copybuf);
            return 0;
        }
        if (ev.type == WB_PG_EV_ERROR || ev.type == WB_PG_EV_COPY_IN || ev.type == WB_PG_EV_COPY_OUT) {
            wb_pg_error saved;
            if (ev.type == WB_PG_EV_ERROR)
                saved = *ev.error;
            else
                wb_pg_errf(&saved, WB_PG_ERR_USAGE, "the statement is a COPY in the other direction, not a %s", what);
            /* read_rest refuses an unexpected COPY FROM STDIN and skips a
             * COPY TO STDOUT's data */
            if (ev.type == WB_PG_EV_COPY_IN) {
                if (wb_pg_put_copy_fail(&c->out, "wrong COPY direction") || wb_pgc_conn_flush(c, err))
                    return -1;
                wb_pgc_copy_in_done(c);
            }
            if (wb_pg_drain(c, NULL, err))
                return -1;
            *err = saved;
            return -1;
        }
    }
}

int wb_pg_copy_in_start(wb_pg_conn *c, const char *sql, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    return copy_start(c, sql, WB_PG_EV_COPY_IN, err);
}

static int copy_send(wb_pg_conn *c, wb_pg_error *err)
{
    size_t mark = c ? c->out.len : 0;
    if (c->copybuf.len) {
        if (wb_pg_put_copy_data(&c->out, c->copybuf.p, c->copybuf.len))
            return wb_pgc_oom_at(c, mark, err);
        wb_buf_clear(&c->copybuf);
    }
    return wb_pgc_conn_flush(c, err);
}

static int copy_put_impl(wb_pg_conn *c, const void *data, size_t len, wb_pg_error *err);

/* the per-row/per-chunk calls keep the NULL-err scratch error out of their
 * own stack frame (it is 4 KiB): only a NULL err pays for it */
__attribute__((noinline)) static int copy_put_impl_noerr(wb_pg_conn *c, const void *data, size_t len)
{
    wb_pg_error scratch;
    return copy_put_impl(c, data, len, &scratch);
}

int wb_pg_copy_put(wb_pg_conn *c, const void *data, size_t len, wb_pg_error *err)
{
    return err ? copy_put_impl(c, data, len, err) : copy_put_impl_noerr(c, data, len);
}

static int copy_put_impl(wb_pg_conn *c, const void *data, size_t len, wb_pg_error *err)
{
    size_t mark = c ? c->out.len : 0;
    if (wb_pgc_usable(c, err))
        return -1;
    if (!wb_pgc_copy_in(c))
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "no COPY FROM STDIN in progress");
    if (!data && len)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "wb_pg_copy_put: data is NULL");
    /* large pieces go straight out as their own CopyData */
    if (len >= c->copy_flush) {
        if (copy_send(c, err))
            return -1;
        if (wb_pg_put_copy_data(&c->out, data, len))
            return wb_pgc_oom_at(c, mark, err);
        return wb_pgc_conn_flush(c, err);
    }
    if (wb_buf_append_fast(&c->copybuf, data, len))
        return wb_pgc_oom_at(c, mark, err);
    return c->copybuf.len >= c->copy_flush ? copy_send(c, err) : 0;
}

int wb_pg_copy_end(wb_pg_conn *c, const char *reason, int64_t *rows, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    size_t mark = c ? c->out.len : 0;
    if (rows)
        *rows = 0;
    if (wb_pgc_usable(c, err))
        return -1;
    if (!wb_pgc_copy_in(c))
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "no COPY FROM STDIN in progress");
    if (reason) {
        if (wb_pg_put_copy_fail(&c->out, reason))
            return wb_pgc_oom_at(c, mark, err);
    } else {
        if ((c->copybuf.len && wb_pg_put_copy_data(&c->out, c->copybuf.p, c->copybuf.len)) ||
            wb_pg_put_copy_done(&c->out))
            return wb_pgc_oom_at(c, mark, err);
    }
    wb_buf_clear(&c->copybuf);
    wb_pgc_copy_in_done(c);
    /* A failed write means CopyDone did not reach the server whole: nothing
     * can have been committed. */
    if (wb_pgc_conn_flush(c, err))
        return -1;
    if (wb_pgc_finish_request(c, 0, rows, err) == 0)
        return 0;
    /* CopyDone went out whole. Only a statement error (the server rolled
     * the COPY back) is certain; after a lost connection or a FATAL the
     * commit point may have passed. */
    if (rows)
        *rows = !reason && err->kind != WB_PG_ERR_SERVER && err->kind != WB_PG_ERR_TIMEOUT ? -1 : 0;
    return -1;
}

int wb_pg_copy_out_start(wb_pg_conn *c, const char *sql, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    return copy_start(c, sql, WB_PG_EV_COPY_OUT, err);
}

static int copy_get_impl(wb_pg_conn *c, const uint8_t **data, size_t *len, int64_t *rows, wb_pg_error *err);

/* the per-row/per-chunk calls keep the NULL-err scratch error out of their
 * own stack frame (it is 4 KiB): only a NULL err pays for it */
__attribute__((noinline)) static int copy_get_impl_noerr(wb_pg_conn *c, const uint8_t **data, size_t *len, int64_t *rows)
{
    wb_pg_error scratch;
    return copy_get_impl(c, data, len, rows, &scratch);
}

int wb_pg_copy_get(wb_pg_conn *c, const uint8_t **data, size_t *len, int64_t *rows, wb_pg_error *err)
{
    return err ? copy_get_impl(c, data, len, rows, err) : copy_get_impl_noerr(c, data, len, rows);
}

static int copy_get_impl(wb_pg_conn *c, const uint8_t **data, size_t *len, int64_t *rows, wb_pg_error *err)
{
    if (!data || !len)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "wb_pg_copy_get: data and len must not be NULL");
    if (wb_pgc_usable(c, err))
        return -1;
    if (!c->pending)
        return 0;
    for (;;) {
        wb_pg_msg m;
        if (wb_pgc_next_msg(c, &m, err))
            return -1;
        if (m.type == 'd') {
            *data = m.body;
            *len = m.len;
            return 1;
        }
        if (m.type == 'c')
            continue;
        /* CommandComplete / ErrorResponse / ReadyForQuery: let wb_pg_step
         * interpret them (un-consume by re-framing: step reads from the same
         * buffer position) */
        c->rd.consume = 0;
        c->rd.messages--;
        c->stats.messages_in--;
        return wb_pgc_finish_request(c, 0, rows, err) ? -1 : 0;
    }
}
