/* The client's event stream (see include/wirebuf/pg.h): backend messages
 * framed by the shared reader (wb_pg_reader, include/wirebuf/pgreader.h)
 * out of the connection's read buffer, turned into wb_pg_event by
 * wb_pg_step; errors, asynchronous messages (§55.2.7), the request state
 * (pending ReadyForQuery, open/suspended portal, COPY) and draining. */
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

/* ---------------------------------------------------------------- */
/* reading messages                                                  */

/* Frame the next backend message in the read buffer (reading as needed).
 * The previous message's bytes are released first: views into it die. */
int wb_pgc_next_msg(wb_pg_conn *c, wb_pg_msg *m, wb_pg_error *err)
{
    int r = wb_pg_reader_next(&c->rd, m);
    if (r == WB_PG_READ_MSG) {
        c->stats.messages_in++;
        return 0;
    }
    if (r == WB_PG_READ_EOF) /* the source reports EOF as an error: not reached */
        return wb_pgc_io_fail(c, err, WB_PG_ERR_IO, "server closed the connection unexpectedly");
    const char *e = wb_stream_error(c->in);
    if (e) {
        size_t avail;
        wb_stream_peek(c->in, &avail);
        return wb_pgc_io_fail(c, err, WB_PG_ERR_IO, "%s%s", e, avail ? " (inside a message)" : "");
    }
    if (r == WB_PG_READ_AGAIN) /* conn_read blocks: not reached */
        return wb_pgc_io_fail(c, err, WB_PG_ERR_IO, "read would block");
    return wb_pgc_io_fail(c, err, WB_PG_ERR_PROTOCOL, "protocol error from the server: %s", c->rd.err);
}

int wb_pgc_proto_fail(wb_pg_conn *c, wb_pg_error *err, const wb_pg_msg *m, const char *what)
{
    return wb_pgc_io_fail(c, err, WB_PG_ERR_PROTOCOL, "protocol error in %s (type '%c') at byte %llu: %s",
                   wb_pg_msg_name(m->type, 1), m->type >= 32 && m->type < 127 ? m->type : '?',
                   (unsigned long long)(wb_stream_offset(c->in)), what);
}

static void copy_field(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

/* ErrorResponse -> wb_pg_error */
static void fill_error(wb_pg_error *e, const wb_pg_fields *f, int kind)
{
    memset(e, 0, sizeof *e);
    e->kind = kind;
    e->statement = -1;
    copy_field(e->sqlstate, sizeof e->sqlstate, f->sqlstate);
    copy_field(e->severity, sizeof e->severity, f->severity_nonlocal ? f->severity_nonlocal : f->severity);
    if (f->message && f->message[0])
        copy_field(e->message, sizeof e->message, f->message);
    else if (e->sqlstate[0]) /* §55.8: M "always present"; say so, never print nothing */
        snprintf(e->message, sizeof e->message, "the server sent an ErrorResponse without a message (SQLSTATE %s)",
                 e->sqlstate);
    else
        snprintf(e->message, sizeof e->message, "the server sent an ErrorResponse without any fields");
    copy_field(e->detail, sizeof e->detail, f->detail);
    copy_field(e->hint, sizeof e->hint, f->hint);
    copy_field(e->where, sizeof e->where, f->where);
    copy_field(e->position, sizeof e->position, f->position);
    copy_field(e->schema, sizeof e->schema, f->schema);
    copy_field(e->table, sizeof e->table, f->table);
    copy_field(e->column, sizeof e->column, f->column);
    copy_field(e->datatype, sizeof e->datatype, f->datatype);
    copy_field(e->constraint, sizeof e->constraint, f->constraint);
}

/* The one ErrorResponse classifier of src/pg (§55.8 Severity, §55.2.1).
 * During startup and authentication every ErrorResponse ends the attempt:
 * class 28 (invalid authorization) is WB_PG_ERR_AUTH, the rest FATAL.
 * Afterwards FATAL and PANIC end the session (the server closes the
 * connection: WB_PG_ERR_FATAL); ERROR (or a missing severity) is a
 * statement error (WB_PG_ERR_SERVER), the connection stays usable. */
static int error_kind(const wb_pg_fields *f, int startup)
{
    const char *sev = f->severity_nonlocal ? f->severity_nonlocal : f->severity ? f->severity : "";
    if (startup)
        return f->sqlstate && strncmp(f->sqlstate, "28", 2) == 0 ? WB_PG_ERR_AUTH : WB_PG_ERR_FATAL;
    if (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0)
        return WB_PG_ERR_FATAL;
    return WB_PG_ERR_SERVER;
}

/* Parse ErrorResponse m into *e with error_kind's verdict; anything but a
 * statement error (SERVER) marks the connection bad. Returns the kind, or -1
 * (malformed: *err filled, the connection bad). */
int wb_pgc_take_error(wb_pg_conn *c, const wb_pg_msg *m, int startup, wb_pg_error *e, wb_pg_error *err)
{
    wb_pg_fields f;
    if (wb_pg_parse_fields(m, &f, c->errbuf, sizeof c->errbuf))
        return wb_pgc_proto_fail(c, err, m, c->errbuf);
    int kind = error_kind(&f, startup);
    fill_error(e, &f, kind);
    if (kind != WB_PG_ERR_SERVER)
        wb_pgc_set_bad(c);
    return kind;
}

/* NoticeResponse, NotificationResponse, ParameterStatus can come at any
 * time (§55.2.7). Returns 1 if m was one of them (handled), 0 if not, -1 on
 * a malformed one. */
int wb_pgc_handle_async(wb_pg_conn *c, const wb_pg_msg *m, wb_pg_error *err)
{
    switch (m->type) {
    case 'N': {
        wb_pg_fields f;
        if (wb_pg_parse_fields(m, &f, c->errbuf, sizeof c->errbuf))
            return wb_pgc_proto_fail(c, err, m, c->errbuf);
        if (c->notice_fn)
            c->notice_fn(c->notice_ctx, &f);
        return 1;
    }
    case 'A': {
        int32_t pid;
        const char *ch, *pl;
        if (wb_pg_parse_notification(m, &pid, &ch, &pl, c->errbuf, sizeof c->errbuf))
            return wb_pgc_proto_fail(c, err, m, c->errbuf);
        if (c->notify_fn)
            c->notify_fn(c->notify_ctx, pid, ch, pl);
        return 1;
    }
    case 'S': {
        const char *n, *v;
        if (wb_pg_parse_parameter_status(m, &n, &v, c->errbuf, sizeof c->errbuf))
            return wb_pgc_proto_fail(c, err, m, c->errbuf);
        if (wb_pgc_set_param(c, n, v))
            return wb_pgc_io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
        return 1;
    }
    default:
        return 0;
    }
}

/* ---------------------------------------------------------------- */
/* requests and the event stream                                      */

int wb_pgc_usable(wb_pg_conn *c, wb_pg_error *err)
{
    if (!c)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "no connection");
    if (c->state == WB_PGC_BAD)
        return wb_pg_errf(err, WB_PG_ERR_IO, "the connection is broken (an earlier error closed it)");
    return 0;
}

int wb_pgc_idle(wb_pg_conn *c, wb_pg_error *err)
{
    if (wb_pgc_usable(c, err))
        return -1;
    if (c->pending || c->state != WB_PGC_READY)
        return wb_pg_errf(err, WB_PG_ERR_USAGE,
                       "a previous request is still in progress: read its results (wb_pg_step/wb_pg_drain) first");
    return 0;
}

int wb_pgc_push_sync(wb_pg_conn *c, int64_t execs)
{
    if (c->sync_tail == c->sync_cap) {
        if (c->sync_head > 0) {
            memmove(c->sync_execs, c->sync_execs + c->sync_head, (c->sync_tail - c->sync_head) * sizeof(int64_t));
            c->sync_tail -= c->sync_head;
            c->sync_head = 0;
        }
        if (c->sync_tail == c->sync_cap) {
            size_t cap = c->sync_cap ? c->sync_cap * 2 : 16;
            int64_t *p = realloc(c->sync_execs, cap * sizeof *p);
            if (!p)
                return -1;
            c->sync_execs = p;
            c->sync_cap = cap;
        }
    }
    c->sync_execs[c->sync_tail++] = execs;
    c->pending++;
    return 0;
}

/* Out of memory while queuing a request: drop only what this call added to
 * the write buffer (everything before `mark` was queued by earlier calls
 * that reported success and is kept), so the connection is as it was
 * before the call. */
int wb_pgc_oom_at(wb_pg_conn *c, size_t mark, wb_pg_error *err)
{
    if (c->out.len > mark)
        c->out.len = mark;
    return wb_pg_errf(err, WB_PG_ERR_NOMEM, "out of memory (or a value too large for the protocol)");
}

/* Out of memory while reading a response: the rest of the response cannot
 * be followed, the connection is closed. */
int wb_pgc_oom_bad(wb_pg_conn *c, wb_pg_error *err)
{
    return wb_pgc_io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
}

/* remember a RowDescription: copy the body so names outlive the message */
int wb_pgc_set_rowdesc(wb_pg_conn *c, const wb_pg_msg *m, wb_pg_error *err)
{
    wb_buf_clear(&c->rowdesc);
    if (wb_buf_append(&c->rowdesc, m->body, m->len))
        return wb_pgc_io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
    wb_pg_msg copy = {m->type, m->len, c->rowdesc.p};
    int n = wb_pg_row_description_count(&copy);
    if (n < 0)
        return wb_pgc_proto_fail(c, err, m, "RowDescription too short");
    if (n > c->cols_cap) {
        wb_pg_column *p = realloc(c->cols, sizeof *p * (size_t)n);
        if (!p)
            return wb_pgc_io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
        c->cols = p;
        c->cols_cap = (uint16_t)n;
    }
    if (wb_pg_parse_row_description(&copy, c->cols_cap, c->cols, &c->ncols, c->errbuf, sizeof c->errbuf))
        return wb_pgc_proto_fail(c, err, m, c->errbuf);
    return 0;
}

static int ensure_vals(wb_pg_conn *c, uint16_t n)
{
    if (n <= c->vals_cap && c->vals)
        return 0;
    const uint8_t **v = realloc(c->vals, sizeof *v * (n ? n : 1));
    if (!v)
        return -1;
    c->vals = v;
    int32_t *l = realloc(c->lens, sizeof *l * (n ? n : 1));
    if (!l)
        return -1;
    c->lens = l;
    c->vals_cap = n;
    return 0;
}

/* portal finished or failed: end the request with a Sync */
static int close_portal(wb_pg_conn *c, wb_pg_error *err)
{
    if (!wb_pgc_portal_open(c))
        return 0;
    /* a COPY run by the portal goes on until its ReadyForQuery */
    c->state = c->state == WB_PGC_PORTAL_COPY_IN ? WB_PGC_COPY_IN : WB_PGC_READY;
    if (wb_pg_put_sync(&c->out) || wb_pgc_push_sync(c, -1))
        return wb_pgc_oom_bad(c, err);
    return wb_pgc_conn_flush(c, err);
}

int wb_pg_close_portal(wb_pg_conn *c, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    if (wb_pgc_usable(c, err))
        return -1;
    if (!wb_pgc_portal_open(c))
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "no open portal to close");
    if (c->state != WB_PGC_SUSPENDED)
        return wb_pg_errf(err, WB_PG_ERR_USAGE,
                          "the portal is still sending rows: read up to WB_PG_EV_SUSPENDED before closing it");
    size_t mark = c->out.len;
    if (wb_pg_put_close(&c->out, 'P', "") || wb_pg_put_sync(&c->out) || wb_pgc_push_sync(c, -1))
        return wb_pgc_oom_at(c, mark, err);
    c->state = WB_PGC_READY;
    return wb_pgc_conn_flush(c, err);
}

static int step_impl(wb_pg_conn *c, wb_pg_event *ev, wb_pg_error *err);

/* the per-row/per-chunk calls keep the NULL-err scratch error out of their
 * own stack frame (it is 4 KiB): only a NULL err pays for it */
__attribute__((noinline)) static int step_impl_noerr(wb_pg_conn *c, wb_pg_event *ev)
{
    wb_pg_error scratch;
    return step_impl(c, ev, &scratch);
}

int wb_pg_step(wb_pg_conn *c, wb_pg_event *ev, wb_pg_error *err)
{
    return err ? step_impl(c, ev, err) : step_impl_noerr(c, ev);
}

static int step_impl(wb_pg_conn *c, wb_pg_event *ev, wb_pg_error *err)
{
    if (wb_pgc_usable(c, err))
        return -1;
    if (!ev)
        return wb_pg_errf(err, WB_PG_ERR_USAGE, "wb_pg_step: ev is NULL");
    memset(ev, 0, sizeof *ev);
    if (!c->pending && !wb_pgc_portal_open(c))
        return 0;
    if (c->state == WB_PGC_SUSPENDED && !c->pending) /* the server waits for us: nothing will come */
        return wb_pg_errf(err, WB_PG_ERR_USAGE,
                          "the portal is suspended: continue it with wb_pg_send_more() or end it with "
                          "wb_pg_close_portal() (or wb_pg_drain())");
    for (;;) {
        wb_pg_msg m;
        if (wb_pgc_next_msg(c, &m, err))
            return -1;
        ev->statement = c->stmt;
        switch (m.type) {
        case 'D': {
            if (m.len < 2)
                return wb_pgc_proto_fail(c, err, &m, "DataRow too short");
            uint16_t n = wb_pg_be16(m.body);
            if (n > c->vals_cap && ensure_vals(c, n))
                return wb_pgc_io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
            if (wb_pg_parse_datarow(&m, c->vals_cap, c->vals, c->lens, &ev->ncols, c->errbuf, sizeof c->errbuf))
                return wb_pgc_proto_fail(c, err, &m, c->errbuf);
            if (c->have_rowdesc && ev->ncols != c->ncols) {
                char what[96];
                snprintf(what, sizeof what, "DataRow has %u columns but the RowDescription has %u", ev->ncols,
                         c->ncols);
                wb_pgc_proto_fail(c, err, &m, what);
                snprintf(err->sqlstate, sizeof err->sqlstate, "08P01"); /* protocol_violation */
                return -1;
            }
            ev->type = WB_PG_EV_ROW;
            ev->cols = c->ncols == ev->ncols ? c->cols : NULL;
            ev->vals = c->vals;
            ev->lens = c->lens;
            return 1;
        }
        case 'T':
            if (wb_pgc_set_rowdesc(c, &m, err))
                return -1;
            c->have_rowdesc = 1;
            if (ensure_vals(c, c->ncols))
                return wb_pgc_io_fail(c, err, WB_PG_ERR_NOMEM, "out of memory");
            ev->type = WB_PG_EV_ROW_DESCRIPTION;
            ev->ncols = c->ncols;
            ev->cols = c->cols;
            return 1;
        case 'C':
            if (wb_pg_parse_command_complete(&m, &ev->tag, c->errbuf, sizeof c->errbuf))
                return wb_pgc_proto_fail(c, err, &m, c->errbuf);
            ev->type = WB_PG_EV_COMMAND_COMPLETE;
            ev->rows = wb_pg_tag_rows(ev->tag);
            c->stmt++;
            c->ncols = 0;
            c->have_rowdesc = 0;
            if (close_portal(c, err))
                return -1;
            return 1;
        case 'I':
            ev->type = WB_PG_EV_EMPTY_QUERY;
            c->stmt++;
            if (close_portal(c, err))
                return -1;
            return 1;
        case 's':
            if (!wb_pgc_portal_open(c))
                return wb_pgc_proto_fail(c, err, &m, "PortalSuspended without a row-limited Execute");
            c->state = WB_PGC_SUSPENDED;
            ev->type = WB_PG_EV_SUSPENDED;
            return 1;
        case 'E': {
            int kind = wb_pgc_take_error(c, &m, 0, &c->error, err);
            if (kind < 0)
                return -1;
            if (kind != WB_PG_ERR_SERVER) {
                *err = c->error;
                return -1;
            }
            int timeout = c->cancel_sent && strcmp(c->error.sqlstate, "57014") == 0;
            if (timeout) {
                c->error.kind = WB_PG_ERR_TIMEOUT;
                char m2[sizeof c->error.message + 64];
                snprintf(m2, sizeof m2, "query timeout (%d ms): %s", c->query_timeout_ms, c->error.message);
                snprintf(c->error.message, sizeof c->error.message, "%.1000s", m2);
            }
            c->error.statement = c->stmt;
            c->stmt++;
            c->ncols = 0;
            c->have_rowdesc = 0;
            ev->type = WB_PG_EV_ERROR;
            ev->error = &c->error;
            if (close_portal(c, err))
                return -1;
            return 1;
        }
        case 'Z': {
            char st;
            if (wb_pg_parse_ready_for_query(&m, &st, c->errbuf, sizeof c->errbuf))
                return wb_pgc_proto_fail(c, err, &m, c->errbuf);
            if (c->pending <= 0)
                return wb_pgc_proto_fail(c, err, &m, "ReadyForQuery without a request");
            c->pending--;
            c->tx = st;
            int64_t execs = c->sync_head < c->sync_tail ? c->sync_execs[c->sync_head++] : -1;
            if (execs >= 0 && execs > c->stmt)
                c->stmt = execs; /* statements skipped after an error */
            if (!c->pending) {
                c->sync_head = c->sync_tail = 0;
                c->stmt = 0;
                c->execs = 0;
                c->cancel_sent = 0;
            }
            wb_pgc_copy_in_done(c);
            c->have_rowdesc = 0;
            ev->type = WB_PG_EV_READY;
            ev->tx_status = st;
            return 1;
        }
        case 'G':
        case 'H': {
            wb_pg_copy_response cr;
            if (wb_pg_parse_copy_response(&m, &cr, c->errbuf, sizeof c->errbuf))
                return wb_pgc_proto_fail(c, err, &m, c->errbuf);
            ev->type = m.type == 'G' ? WB_PG_EV_COPY_IN : WB_PG_EV_COPY_OUT;
            ev->copy_format = cr.format;
            ev->ncols = cr.ncols;
            if (m.type == 'G')
                wb_pgc_copy_in_begin(c);
            return 1;
        }
        case 'W':
            return wb_pgc_proto_fail(c, err, &m, "CopyBothResponse (replication) is not supported by this client");
        case '1': case '2': case '3': case 'n': case 't': case 'd': case 'c':
            continue; /* ParseComplete, BindComplete, CloseComplete, NoData,
                         ParameterDescription; stray COPY data when the
                         caller steps through a COPY OUT */
        default: {
            int h = wb_pgc_handle_async(c, &m, err);
            if (h < 0)
                return -1;
            if (h)
                continue;
            return wb_pgc_proto_fail(c, err, &m, "unexpected message while reading results");
        }
        }
    }
}

/* Read the rest of the request(s) in progress. Returns -1 only when the
 * connection fails; a statement error goes to *first (kind NONE if none).
 * *rows gets the sum of the row counts (sum != 0) or the last
 * CommandComplete's count. A COPY FROM STDIN nobody feeds is refused. */
int wb_pgc_read_rest(wb_pg_conn *c, int sum, int64_t *rows, wb_pg_error *first, wb_pg_error *err)
{
    int64_t n = sum ? 0 : -1;
    first->kind = WB_PG_ERR_NONE;
    for (;;) {
        wb_pg_event ev;
        if (c->state == WB_PGC_SUSPENDED && wb_pg_close_portal(c, err)) /* drain ends a suspended portal */
            return -1;
        int r = wb_pg_step(c, &ev, err);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        if (ev.type == WB_PG_EV_COMMAND_COMPLETE) {
            if (!sum)
                n = ev.rows;
            else if (ev.rows > 0)
                n += ev.rows;
        } else if (ev.type == WB_PG_EV_ERROR && first->kind == WB_PG_ERR_NONE) {
            *first = *ev.error;
        } else if (ev.type == WB_PG_EV_COPY_IN) {
            if (wb_pg_put_copy_fail(&c->out, "COPY FROM STDIN is not expected here") || wb_pgc_conn_flush(c, err))
                return -1;
            wb_pgc_copy_in_done(c);
        }
    }
    if (rows)
        *rows = n;
    return 0;
}

/* read_rest, with a statement error reported as failure */
int wb_pgc_finish_request(wb_pg_conn *c, int sum, int64_t *rows, wb_pg_error *err)
{
    wb_pg_error first;
    if (wb_pgc_read_rest(c, sum, rows, &first, err))
        return -1;
    if (first.kind) {
        *err = first;
        return -1;
    }
    return 0;
}

int wb_pg_drain(wb_pg_conn *c, wb_pg_error *first_error, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    wb_pg_error tmp;
    return wb_pgc_read_rest(c, 0, NULL, first_error ? first_error : &tmp, err);
}

int wb_pg_consume_input(wb_pg_conn *c, int timeout_ms, wb_pg_error *err)
{
    ERR_OR_LOCAL(err);
    if (wb_pgc_idle(c, err))
        return -1;
    wb_pg_reader_consume(&c->rd);
    size_t avail;
    wb_stream_peek(c->in, &avail);
    if (!avail && !(c->io.ssl && SSL_pending(c->io.ssl))) {
        int r = wb_pgc_wait_fd(c->io.fd, POLLIN, timeout_ms);
        if (r < 0)
            return wb_pgc_io_fail(c, err, WB_PG_ERR_IO, "poll failed: %s", strerror(errno));
        if (r == 0)
            return 0;
        if (wb_stream_fill(c->in) <= 0)
            return wb_pgc_io_fail(c, err, WB_PG_ERR_IO, "%s",
                           wb_stream_error(c->in) ? wb_stream_error(c->in) : "server closed the connection");
    }
    int handled = 0;
    for (;;) {
        wb_stream_peek(c->in, &avail);
        if (!avail)
            return handled;
        wb_pg_msg m;
        if (wb_pgc_next_msg(c, &m, err)) /* a whole message, or the rest of a partial one */
            return -1;
        if (m.type == 'E') { /* while idle only a session-ending error can come */
            if (wb_pgc_take_error(c, &m, 0, err, err) >= 0) {
                err->kind = WB_PG_ERR_FATAL;
                wb_pgc_set_bad(c);
            }
            return -1;
        }
        int h = wb_pgc_handle_async(c, &m, err);
        if (h < 0)
            return -1;
        if (!h)
            return wb_pgc_proto_fail(c, err, &m, "unexpected message while idle");
        wb_pg_reader_consume(&c->rd);
        handled++;
    }
}
