/* src/engine/copy.c - COPY FROM STDIN and COPY TO STDOUT (PostgreSQL 15
 * docs "COPY": text, csv and binary formats; §55.2.6 Copy Operations).
 *
 * COPY FROM runs inside its own savepoint (in a transaction block) or its
 * own IMMEDIATE transaction: a CopyFail, a bad row, or the session freed
 * mid-COPY (client gone) rolls back every row it inserted. Rows are parsed
 * straight out of the CopyData bytes; a partial line waits in `pend` for
 * the next CopyData. Errors name the line as PostgreSQL does:
 * CONTEXT "COPY t, line N, column c: "value"". */
#include "session.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COPY_BATCH 64

static const uint8_t bin_header[19] = {'P', 'G', 'C', 'O', 'P', 'Y', '\n', 0xff, '\r', '\n', 0, 0, 0, 0, 0, 0, 0, 0, 0};

typedef struct wb_copy_state {
    int from, format; /* 0 text, 1 csv, 2 binary */
    char delim, quote, escape;
    char *null_s;
    size_t null_len;
    int header;
    char *table;      /* for messages */
    int ncols;
    char **names;
    uint32_t *oids;
    int32_t *typmods;
    char *force_quote, *force_not_null, *force_null; /* per column */
    sqlite3_stmt *st; /* INSERT (FROM) or SELECT (TO) */
    int prepared_cached;
    wb_buf pend;      /* bytes of an incomplete line / tuple */
    wb_buf field;     /* scratch: one unescaped field */
    int64_t line, rows;
    int own_tx, own_sp;
    int bin_header_done;
    int bin_header_pending; /* COPY TO binary: header not sent yet */
    int done_marker;  /* text: "\." seen */
    wb_sql_stmt *stmt;
    /* COPY FROM text/csv: rows go in batches of COPY_BATCH through one
     * multi-row INSERT (bst), bound as they are parsed; each row's bytes
     * and line number are kept until its batch is in, so that a failed
     * batch (or the rest at CopyDone) is run again row by row through st:
     * the first bad row then fails with its own error and line. */
    sqlite3_stmt *bst;
    int batch;        /* rows per batch (0: no batching) */
    int nb;           /* rows bound in bst */
    int single;       /* running rows one by one (bind to st) */
    wb_buf brows;     /* the bytes of the nb rows */
    size_t boff[COPY_BATCH + 1];
    int64_t bline[COPY_BATCH];
} wb_copy_state;

static void cs_free(wb_engine_session *s, wb_copy_state *c)
{
    if (!c)
        return;
    sqlite3_finalize(c->bst);
    wb_buf_free(&c->brows);
    if (c->st) {
        if (c->prepared_cached && s->conn)
            wb_eng_stmt_put(s->conn, c->st);
        else
            sqlite3_finalize(c->st);
    }
    for (int i = 0; i < c->ncols; i++)
        free(c->names[i]);
    free(c->names);
    free(c->oids);
    free(c->typmods);
    free(c->force_quote);
    free(c->force_not_null);
    free(c->force_null);
    free(c->null_s);
    free(c->table);
    wb_buf_free(&c->pend);
    wb_buf_free(&c->field);
    free(c);
}

/* Undo (ok = 0) or keep (ok = 1) what the COPY wrote. */
static int cs_end(wb_engine_session *s, wb_copy_state *c, int ok, wb_buf *out)
{
    int rc = 0;
    if (c->st) {
        sqlite3_finalize(c->st);
        c->st = NULL;
    }
    sqlite3_finalize(c->bst);
    c->bst = NULL;
    if (!s->conn)
        return ok ? 0 : -1;
    if (c->own_sp) {
        sqlite3_exec(s->conn->db, ok ? "RELEASE wb_copy" : "ROLLBACK TO wb_copy; RELEASE wb_copy", NULL, NULL, NULL);
        c->own_sp = 0;
    }
    if (c->own_tx) {
        c->own_tx = 0;
        if (ok) {
            int r;
            while ((r = sqlite3_exec(s->conn->db, "COMMIT", NULL, NULL, NULL)) == SQLITE_BUSY)
                ;
            if (r != SQLITE_OK) {
                if (out)
                    wb_sess_sqlite_error(s, out, s->conn->db, r, NULL);
                rc = -1;
            }
        }
        if (!sqlite3_get_autocommit(s->conn->db))
            sqlite3_exec(s->conn->db, "ROLLBACK", NULL, NULL, NULL);
        s->sqlite_tx = 0;
    }
    return rc;
}

void wb_copy_free(wb_engine_session *s)
{
    if (!s->copy)
        return;
    cs_end(s, s->copy, 0, NULL);
    cs_free(s, s->copy);
    s->copy = NULL;
}

static int col_index(wb_copy_state *c, const char *name)
{
    for (int i = 0; i < c->ncols; i++)
        if (strcmp(c->names[i], name) == 0)
            return i;
    return -1;
}

/* The table's columns (all, or the COPY's list). */
static int load_columns(wb_engine_session *s, wb_copy_state *c, const wb_sql_copy *cp, wb_buf *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->conn->db, "SELECT name, type FROM pragma_table_info(?1) ORDER BY cid", -1, &st,
                                NULL);
    if (rc != SQLITE_OK) {
        wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
        return -1;
    }
    sqlite3_bind_text(st, 1, cp->table, -1, SQLITE_STATIC);
    int cap = 0, n = 0;
    char **names = NULL;
    char **types = NULL;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = realloc(names, sizeof *names * (size_t)cap);
            types = realloc(types, sizeof *types * (size_t)cap);
            if (!names || !types)
                abort();
        }
        names[n] = strdup((const char *)sqlite3_column_text(st, 0));
        const unsigned char *ty = sqlite3_column_text(st, 1);
        types[n] = strdup(ty ? (const char *)ty : "");
        n++;
    }
    sqlite3_finalize(st);
    int result = 0;
    if (n == 0) {
        char m[300];
        snprintf(m, sizeof m, "relation \"%s\" does not exist", cp->table);
        wb_sess_error(s, out, "42P01", m, NULL, NULL);
        result = -1;
    } else {
        int want = cp->ncolumns > 0 ? cp->ncolumns : n;
        c->names = calloc((size_t)want, sizeof *c->names);
        c->oids = calloc((size_t)want, sizeof *c->oids);
        c->typmods = calloc((size_t)want, sizeof *c->typmods);
        for (int i = 0; i < want && result == 0; i++) {
            int k = i;
            if (cp->ncolumns > 0) {
                for (k = 0; k < n && strcmp(names[k], cp->columns[i]) != 0; k++)
                    ;
                if (k == n) {
                    char m[300];
                    snprintf(m, sizeof m, "column \"%s\" of relation \"%s\" does not exist", cp->columns[i],
                             cp->table);
                    wb_sess_error(s, out, "42703", m, NULL, NULL);
                    result = -1;
                    break;
                }
            }
            c->names[i] = strdup(names[k]);
            wb_eng_decltype(types[k], &c->oids[i], &c->typmods[i]);
            c->ncols = i + 1;
        }
    }
    for (int i = 0; i < n; i++) {
        free(names[i]);
        free(types[i]);
    }
    free(names);
    free(types);
    return result;
}

static int set_flags(wb_engine_session *s, wb_copy_state *c, char **list, int n, int all, char **flags,
                     const char *what, wb_buf *out)
{
    *flags = calloc((size_t)c->ncols + 1, 1);
    if (!*flags)
        return -1;
    for (int i = 0; all && i < c->ncols; i++)
        (*flags)[i] = 1;
    for (int i = 0; i < n; i++) {
        int k = col_index(c, list[i]);
        if (k < 0) {
            char m[300];
            snprintf(m, sizeof m, "%s column \"%s\" is not referenced by COPY", what, list[i]);
            wb_sess_error(s, out, "42P10", m, NULL, NULL);
            return -1;
        }
        (*flags)[k] = 1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* COPY FROM                                                           */

static void context(wb_copy_state *c, char *buf, size_t n, int col, const char *val, size_t vlen)
{
    if (col >= 0 && col < c->ncols && val)
        snprintf(buf, n, "COPY %s, line %lld, column %s: \"%.*s\"", c->table, (long long)c->line, c->names[col],
                 (int)(vlen > 100 ? 100 : vlen), val);
    else if (col >= 0 && col < c->ncols)
        snprintf(buf, n, "COPY %s, line %lld, column %s", c->table, (long long)c->line, c->names[col]);
    else
        snprintf(buf, n, "COPY %s, line %lld", c->table, (long long)c->line);
}

static int batch_run_single(wb_engine_session *s, wb_copy_state *c, wb_buf *out);

static int row_error(wb_engine_session *s, wb_copy_state *c, wb_buf *out, const char *state, const char *msg, int col,
                     const char *val, size_t vlen)
{
    /* the rows before this one, not inserted yet, may fail first */
    if (c->batch && !c->single && c->nb > 0) {
        int64_t line = c->line;
        int r = batch_run_single(s, c, out);
        c->line = line;
        if (r)
            return -1;
    }
    char where[400];
    context(c, where, sizeof where, col, val, vlen);
    wb_sess_error(s, out, state, msg, NULL, where);
    return -1;
}

/* Bind field i (NULL: val == NULL) and, after the last, insert the row. */
static int bind_field(wb_engine_session *s, wb_copy_state *c, int i, const char *val, size_t len, int binary,
                      wb_buf *out)
{
    if (i >= c->ncols)
        return row_error(s, c, out, "22P04", "extra data after last expected column", -1, NULL, 0);
    char state[6] = "22P02", msg[300];
    int batched = c->batch && !c->single;
    sqlite3_stmt *st = batched ? c->bst : c->st;
    int idx = batched ? c->nb * c->ncols + i + 1 : i + 1;
    if (wb_eng_bind_value(st, idx, c->oids[i], binary, (const uint8_t *)val, val ? (int32_t)len : -1, state, msg,
                          sizeof msg))
        return row_error(s, c, out, state, msg, i, binary ? NULL : val, len);
    return 0;
}

static int insert_row(wb_engine_session *s, wb_copy_state *c, int nfields, wb_buf *out)
{
    if (nfields < c->ncols) {
        char m[200];
        snprintf(m, sizeof m, "missing data for column \"%s\"", c->names[nfields]);
        return row_error(s, c, out, "22P04", m, -1, NULL, 0);
    }
    if (c->batch && !c->single) {
        if (++c->nb < c->batch)
            return 0;
        int rc = wb_sess_step(s, c->bst);
        sqlite3_reset(c->bst);
        if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
            c->rows += c->nb;
            c->nb = 0;
            c->brows.len = 0;
            return 0;
        }
        /* the failed statement left nothing behind: find the bad row */
        int64_t line = c->line;
        int r = batch_run_single(s, c, out);
        c->line = line;
        if (r == 0) { /* no row fails on its own */
            char where[400];
            context(c, where, sizeof where, -1, NULL, 0);
            wb_sess_sqlite_error(s, out, s->conn->db, rc, where);
        }
        return -1;
    }
    int rc = wb_sess_step(s, c->st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
        char where[400];
        context(c, where, sizeof where, -1, NULL, 0);
        wb_sess_sqlite_error_st(s, out, s->conn->db, rc, where, c->st);
        sqlite3_reset(c->st);
        return -1;
    }
    sqlite3_reset(c->st);
    c->rows++;
    return 0;
}

static int is_null_field(wb_copy_state *c, const char *raw, size_t n)
{
    return c->null_s && n == c->null_len && memcmp(raw, c->null_s, n) == 0;
}

static int text_line(wb_engine_session *s, wb_copy_state *c, const char *p, size_t n, wb_buf *out);
static int csv_record(wb_engine_session *s, wb_copy_state *c, const char *p, size_t n, wb_buf *out);

/* Run the nb rows kept for the batch one by one through st (c->line is
 * each row's). 0 when all went in, -1 at the first that failed (its error
 * in out). Leaves no batch pending. */
static int batch_run_single(wb_engine_session *s, wb_copy_state *c, wb_buf *out)
{
    int n = c->nb, r = 0;
    c->nb = 0;
    c->single = 1;
    for (int i = 0; i < n && r == 0; i++) {
        const char *p = (const char *)c->brows.p + c->boff[i];
        size_t len = c->boff[i + 1] - c->boff[i];
        c->line = c->bline[i];
        r = c->format == 1 ? csv_record(s, c, p, len, out) : text_line(s, c, p, len, out);
    }
    c->single = 0;
    c->brows.len = 0;
    return r;
}

/* One record of text/csv format: kept for its batch, then parsed. */
static int batch_record(wb_engine_session *s, wb_copy_state *c, const char *p, size_t n, wb_buf *out)
{
    if (c->batch && !(n == 2 && p[0] == '\\' && p[1] == '.')) {
        if (c->nb == 0)
            c->brows.len = 0;
        c->boff[c->nb] = c->brows.len;
        c->bline[c->nb] = c->line;
        if (wb_buf_append(&c->brows, p, n)) {
            wb_sess_error(s, out, "53200", "out of memory", NULL, NULL);
            return -1;
        }
        c->boff[c->nb + 1] = c->brows.len;
    }
    return c->format == 1 ? csv_record(s, c, p, n, out) : text_line(s, c, p, n, out);
}

/* One line of text format (without its newline). */
static int text_line(wb_engine_session *s, wb_copy_state *c, const char *p, size_t n, wb_buf *out)
{
    if (n == 2 && p[0] == '\\' && p[1] == '.') {
        c->done_marker = 1;
        return 0;
    }
    int f = 0;
    size_t start = 0;
    int esc = 0; /* the field holds a backslash */
    for (size_t k = 0; k <= n; k++) {
        if (k < n && p[k] == '\\') {
            k++; /* an escaped character never ends the field */
            esc = 1;
            continue;
        }
        if (k < n && p[k] != c->delim)
            continue;
        const char *raw = p + start;
        size_t rl = k - start;
        if (is_null_field(c, raw, rl)) {
            if (bind_field(s, c, f, NULL, 0, 0, out))
                return -1;
        } else if (!esc) { /* nothing to unescape: bind the bytes where they are */
            if (bind_field(s, c, f, raw, rl, 0, out))
                return -1;
        } else {
            wb_buf *b = &c->field;
            b->len = 0;
            for (size_t q = 0; q < rl; q++) {
                char ch = raw[q];
                if (ch != '\\' || q + 1 >= rl) {
                    wb_buf_putc(b, (uint8_t)ch);
                    continue;
                }
                ch = raw[++q];
                switch (ch) {
                case 'b': wb_buf_putc(b, '\b'); break;
                case 'f': wb_buf_putc(b, '\f'); break;
                case 'n': wb_buf_putc(b, '\n'); break;
                case 'r': wb_buf_putc(b, '\r'); break;
                case 't': wb_buf_putc(b, '\t'); break;
                case 'v': wb_buf_putc(b, '\v'); break;
                case 'x': {
                    int v = 0, d = 0;
                    while (d < 2 && q + 1 < rl) {
                        char h = raw[q + 1];
                        int hv = h >= '0' && h <= '9' ? h - '0' : (h | 0x20) >= 'a' && (h | 0x20) <= 'f' ? (h | 0x20) - 'a' + 10 : -1;
                        if (hv < 0)
                            break;
                        v = v * 16 + hv;
                        q++;
                        d++;
                    }
                    if (d)
                        wb_buf_putc(b, (uint8_t)v);
                    else
                        wb_buf_putc(b, 'x');
                    break;
                }
                default:
                    if (ch >= '0' && ch <= '7') {
                        int v = ch - '0', d = 1;
                        while (d < 3 && q + 1 < rl && raw[q + 1] >= '0' && raw[q + 1] <= '7') {
                            v = v * 8 + (raw[++q] - '0');
                            d++;
                        }
                        wb_buf_putc(b, (uint8_t)v);
                    } else
                        wb_buf_putc(b, (uint8_t)ch);
                }
            }
            wb_buf_putc(b, 0);
            if (bind_field(s, c, f, (const char *)b->p, b->len - 1, 0, out))
                return -1;
        }
        f++;
        start = k + 1;
        esc = 0;
    }
    return insert_row(s, c, f, out);
}

/* One CSV record (may hold quoted newlines). */
static int csv_record(wb_engine_session *s, wb_copy_state *c, const char *p, size_t n, wb_buf *out)
{
    if (n == 2 && p[0] == '\\' && p[1] == '.') {
        c->done_marker = 1;
        return 0;
    }
    int f = 0;
    size_t k = 0;
    for (;;) {
        wb_buf *b = &c->field;
        b->len = 0;
        int quoted = 0;
        size_t start = k;
        while (k < n && p[k] != c->delim) {
            if (p[k] == c->quote) {
                quoted = 1;
                k++;
                while (k < n) {
                    if (p[k] == c->escape && k + 1 < n && (p[k + 1] == c->quote || p[k + 1] == c->escape) &&
                        !(c->escape == c->quote && p[k + 1] != c->quote)) {
                        wb_buf_putc(b, (uint8_t)p[k + 1]);
                        k += 2;
                        continue;
                    }
                    if (p[k] == c->quote)
                        break;
                    wb_buf_putc(b, (uint8_t)p[k++]);
                }
                if (k >= n)
                    return row_error(s, c, out, "22P04", "unterminated CSV quoted field", -1, NULL, 0);
                k++; /* closing quote */
                continue;
            }
            wb_buf_putc(b, (uint8_t)p[k++]);
        }
        const char *raw = p + start;
        size_t rl = k - start;
        int null = !quoted && is_null_field(c, raw, rl);
        if (f < c->ncols) {
            if (null && c->force_not_null && c->force_not_null[f])
                null = 0;
            else if (!null && quoted && c->force_null && c->force_null[f] && c->null_s && b->len == c->null_len &&
                     (b->len == 0 || memcmp(b->p, c->null_s, b->len) == 0))
                null = 1;
        }
        wb_buf_putc(b, 0);
        if (bind_field(s, c, f, null ? NULL : (const char *)b->p, b->len - 1, 0, out))
            return -1;
        f++;
        if (k >= n)
            break;
        k++; /* delimiter */
    }
    return insert_row(s, c, f, out);
}

/* Process the complete lines/records/tuples in pend; keep the rest. final:
 * CopyDone came (a last line without a newline counts). */
static int process(wb_engine_session *s, wb_copy_state *c, int final, wb_buf *out)
{
    const char *p = (const char *)c->pend.p;
    size_t n = c->pend.len, pos = 0;
    if (c->format == 2) {
        if (!c->bin_header_done) {
            if (n < 19)
                goto keep;
            if (memcmp(p, "PGCOPY\n\377\r\n\0", 11) != 0)
                return row_error(s, c, out, "22P04", "COPY file signature not recognized", -1, NULL, 0);
            uint32_t ext = wb_pg_be32((const uint8_t *)p + 15);
            if (n < 19 + (size_t)ext)
                goto keep;
            pos = 19 + ext;
            c->bin_header_done = 1;
        }
        while (pos + 2 <= n && !c->done_marker) {
            int16_t nf = (int16_t)wb_pg_be16((const uint8_t *)p + pos);
            if (nf == -1) {
                c->done_marker = 1;
                pos += 2;
                break;
            }
            /* is the whole tuple here? */
            size_t q = pos + 2;
            int complete = 1;
            for (int i = 0; i < nf; i++) {
                if (q + 4 > n) {
                    complete = 0;
                    break;
                }
                int32_t l = (int32_t)wb_pg_be32((const uint8_t *)p + q);
                q += 4 + (l > 0 ? (size_t)l : 0);
                if (q > n) {
                    complete = 0;
                    break;
                }
            }
            if (!complete)
                break;
            c->line++;
            if (nf != c->ncols)
                return row_error(s, c, out, "22P04", "row field count is different from expected", -1, NULL, 0);
            q = pos + 2;
            for (int i = 0; i < nf; i++) {
                int32_t l = (int32_t)wb_pg_be32((const uint8_t *)p + q);
                q += 4;
                if (bind_field(s, c, i, l < 0 ? NULL : p + q, l < 0 ? 0 : (size_t)l, 1, out))
                    return -1;
                q += l > 0 ? (size_t)l : 0;
            }
            if (insert_row(s, c, nf, out))
                return -1;
            pos = q;
        }
        if (final && pos < n && !c->done_marker)
            return row_error(s, c, out, "22P04", "unexpected EOF in COPY data", -1, NULL, 0);
        goto keep;
    }
    while (pos < n && !c->done_marker) {
        size_t end;
        if (c->format == 1) {
            int inq = 0;
            for (end = pos; end < n; end++) {
                if (p[end] == c->quote)
                    inq = !inq; /* escape == quote doubling toggles twice */
                else if (inq && p[end] == c->escape && c->escape != c->quote && end + 1 < n)
                    end++;
                else if (!inq && p[end] == '\n')
                    break;
            }
        } else {
            const char *nl = memchr(p + pos, '\n', n - pos);
            end = nl ? (size_t)(nl - p) : n;
        }
        if (end >= n && !final)
            break;
        size_t len = end - pos;
        if (len && p[pos + len - 1] == '\r')
            len--;
        c->line++;
        int r = 0;
        if (c->header && c->line == 1)
            r = 0;
        else
            r = batch_record(s, c, p + pos, len, out);
        if (r)
            return -1;
        pos = end < n ? end + 1 : n;
    }
keep:
    if (pos > 0) {
        memmove(c->pend.p, c->pend.p + pos, n - pos);
        c->pend.len = n - pos;
    }
    if (c->done_marker)
        c->pend.len = 0;
    return 0;
}

static int fail_copy(wb_engine_session *s, wb_buf *out)
{
    (void)out;
    wb_copy_free(s);
    return -1;
}

int wb_copy_message(wb_engine_session *s, uint8_t type, const uint8_t *body, uint32_t len, wb_buf *out)
{
    wb_copy_state *c = s->copy;
    if (!c->from)
        return 0;
    switch (type) {
    case 'd':
        if (c->done_marker)
            return 0;
        if (wb_buf_append(&c->pend, body, len)) {
            wb_sess_error(s, out, "53200", "out of memory", NULL, NULL);
            return fail_copy(s, out);
        }
        if (process(s, c, 0, out))
            return fail_copy(s, out);
        /* a 1 GiB pending line is PostgreSQL's limit too */
        if (c->pend.len > (1u << 30)) {
            wb_sess_error(s, out, "54000", "COPY line is too long", NULL, NULL);
            return fail_copy(s, out);
        }
        return 0;
    case 'c': {
        if (process(s, c, 1, out) || (c->nb > 0 && batch_run_single(s, c, out)))
            return fail_copy(s, out);
        int64_t rows = c->rows;
        int r = cs_end(s, c, 1, out);
        cs_free(s, c);
        s->copy = NULL;
        if (r)
            return -1;
        char tag[40];
        snprintf(tag, sizeof tag, "COPY %lld", (long long)rows);
        wb_pg_put_command_complete(out, tag);
        wb_sess_release_conn(s);
        return 1;
    }
    case 'f': {
        const char *why = "";
        wb_pg_msg m = {'f', len, body};
        char e[100];
        if (wb_pg_parse_string(&m, &why, e, sizeof e))
            why = "";
        char msg[600];
        snprintf(msg, sizeof msg, "COPY from stdin failed: %s", why);
        wb_sess_error(s, out, "57014", msg, NULL, NULL);
        return fail_copy(s, out);
    }
    case 'H': case 'S':
        return 0; /* Flush/Sync during COPY: ignored, as PostgreSQL does */
    default: {
        char msg[120];
        snprintf(msg, sizeof msg, "unexpected message type 0x%02X during COPY from stdin", type);
        wb_sess_error(s, out, "08P01", msg, NULL, NULL);
        return fail_copy(s, out);
    }
    }
}

/* CopyInResponse ('G') or CopyOutResponse ('H'): every column in the
 * COPY's format (PostgreSQL 15 docs §55.7) */
static void put_copy_response(wb_buf *out, uint8_t type, const wb_copy_state *c)
{
    int16_t *fm = calloc((size_t)c->ncols + 1, sizeof *fm);
    for (int i = 0; fm && i < c->ncols; i++)
        fm[i] = c->format == 2 ? 1 : 0;
    wb_pg_put_copy_response(out, type, c->format == 2 ? 1 : 0, (uint16_t)c->ncols, fm);
    free(fm);
}

/* ------------------------------------------------------------------ */
/* COPY TO                                                             */

static void put_copy_header(wb_buf *out, wb_copy_state *c)
{
    wb_buf line = {0};
    for (int i = 0; i < c->ncols; i++) {
        if (i)
            wb_buf_putc(&line, (uint8_t)c->delim);
        const char *nm = c->names[i];
        if (c->format == 1 && (strchr(nm, c->delim) || strchr(nm, c->quote) || strchr(nm, '\n'))) {
            wb_buf_putc(&line, (uint8_t)c->quote);
            for (const char *q = nm; *q; q++) {
                if (*q == c->quote)
                    wb_buf_putc(&line, (uint8_t)c->escape);
                wb_buf_putc(&line, (uint8_t)*q);
            }
            wb_buf_putc(&line, (uint8_t)c->quote);
        } else
            wb_buf_puts(&line, nm);
    }
    wb_buf_putc(&line, '\n');
    wb_pg_put_copy_data(out, line.p, line.len);
    wb_buf_free(&line);
}

/* One row as one CopyData message. */
static int put_copy_row(wb_engine_session *s, wb_copy_state *c, wb_buf *out)
{
    sqlite3_stmt *st = c->st;
    size_t start = out->len;
    if (wb_buf_reserve(out, 5))
        return -1;
    out->p[out->len++] = 'd';
    out->len += 4;
    wb_buf *f = &c->field;
    if (c->bin_header_pending) {
        wb_buf_append(out, bin_header, sizeof bin_header);
        c->bin_header_pending = 0;
    }
    if (c->format == 2) {
        uint8_t h[2] = {(uint8_t)(c->ncols >> 8), (uint8_t)c->ncols};
        wb_buf_append(out, h, 2);
    }
    for (int i = 0; i < c->ncols; i++) {
        int null = sqlite3_column_type(st, i) == SQLITE_NULL;
        if (c->format == 2) {
            if (null) {
                static const uint8_t m1[4] = {0xff, 0xff, 0xff, 0xff};
                wb_buf_append(out, m1, 4);
                continue;
            }
            size_t lp = out->len;
            if (wb_buf_reserve(out, 4))
                return -1;
            out->len += 4;
            char msg[200] = "";
            if (wb_eng_binary_out(st, i, c->oids[i], c->typmods[i], out, msg, sizeof msg)) {
                out->len = start;
                wb_sess_error(s, out, "22P02", msg[0] ? msg : "value cannot be sent in binary", NULL, NULL);
                return -2;
            }
            uint32_t l = (uint32_t)(out->len - lp - 4);
            out->p[lp] = (uint8_t)(l >> 24), out->p[lp + 1] = (uint8_t)(l >> 16);
            out->p[lp + 2] = (uint8_t)(l >> 8), out->p[lp + 3] = (uint8_t)l;
            continue;
        }
        if (i)
            wb_buf_putc(out, (uint8_t)c->delim);
        if (null) {
            wb_buf_append(out, c->null_s, c->null_len);
            continue;
        }
        f->len = 0;
        if (wb_eng_text_out(st, i, c->oids[i], c->typmods[i], f))
            return -1;
        if (c->format == 0) {
            for (size_t k = 0; k < f->len; k++) {
                uint8_t ch = f->p[k];
                const char *esc = NULL;
                switch (ch) {
                case '\\': esc = "\\\\"; break;
                case '\b': esc = "\\b"; break;
                case '\f': esc = "\\f"; break;
                case '\n': esc = "\\n"; break;
                case '\r': esc = "\\r"; break;
                case '\t': esc = c->delim == '\t' ? "\\t" : NULL; break;
                case '\v': esc = "\\v"; break;
                default: break;
                }
                if (esc)
                    wb_buf_puts(out, esc);
                else {
                    if (ch == (uint8_t)c->delim)
                        wb_buf_putc(out, '\\');
                    wb_buf_putc(out, ch);
                }
            }
        } else {
            int q = (c->force_quote && c->force_quote[i]) ||
                    (f->len == c->null_len && (f->len == 0 || memcmp(f->p, c->null_s, f->len) == 0));
            for (size_t k = 0; k < f->len && !q; k++)
                q = f->p[k] == (uint8_t)c->delim || f->p[k] == (uint8_t)c->quote || f->p[k] == '\n' ||
                    f->p[k] == '\r' || (f->p[k] == (uint8_t)c->escape && c->escape != c->quote);
            if (!q && f->len == 2 && f->p[0] == '\\' && f->p[1] == '.')
                q = 1;
            if (!q) {
                wb_buf_append(out, f->p, f->len);
            } else {
                wb_buf_putc(out, (uint8_t)c->quote);
                for (size_t k = 0; k < f->len; k++) {
                    if (f->p[k] == (uint8_t)c->quote || f->p[k] == (uint8_t)c->escape)
                        wb_buf_putc(out, (uint8_t)c->escape);
                    wb_buf_putc(out, f->p[k]);
                }
                wb_buf_putc(out, (uint8_t)c->quote);
            }
        }
    }
    if (c->format != 2)
        wb_buf_putc(out, '\n');
    uint32_t ml = (uint32_t)(out->len - start - 1);
    out->p[start + 1] = (uint8_t)(ml >> 24), out->p[start + 2] = (uint8_t)(ml >> 16);
    out->p[start + 3] = (uint8_t)(ml >> 8), out->p[start + 4] = (uint8_t)ml;
    return 0;
}

int wb_copy_resume(wb_engine_session *s, wb_buf *out)
{
    wb_copy_state *c = s->copy;
    for (;;) {
        int rc = wb_sess_step(s, c->st);
        if (rc == SQLITE_ROW) {
            int r = put_copy_row(s, c, out);
            if (r) {
                if (r == -1)
                    wb_sess_error(s, out, "53200", "out of memory", NULL, NULL);
                wb_copy_free(s);
                return -1;
            }
            c->rows++;
            if (out->len >= WB_ENGINE_OUT_HIGH) {
                s->running = RUN_COPY_OUT;
                return 2;
            }
            continue;
        }
        if (rc != SQLITE_DONE) {
            wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
            wb_copy_free(s);
            return -1;
        }
        if (c->format == 2) {
            uint8_t tail[sizeof bin_header + 2];
            size_t n = 0;
            if (c->bin_header_pending) { /* no rows: header and trailer together */
                memcpy(tail, bin_header, sizeof bin_header);
                n = sizeof bin_header;
            }
            tail[n++] = 0xff;
            tail[n++] = 0xff;
            wb_pg_put_copy_data(out, tail, n);
        }
        wb_pg_put_empty(out, 'c');
        char tag[40];
        snprintf(tag, sizeof tag, "COPY %lld", (long long)c->rows);
        wb_pg_put_command_complete(out, tag);
        cs_end(s, c, 1, NULL);
        cs_free(s, c);
        s->copy = NULL;
        s->running = RUN_NONE;
        return 1;
    }
}

/* ------------------------------------------------------------------ */
/* Start                                                               */

int wb_copy_start(wb_engine_session *s, wb_sql_stmt *t, wb_buf *out)
{
    const wb_sql_copy *cp = t->copy;
    if (!cp) {
        wb_sess_error(s, out, "0A000", "COPY without options", NULL, NULL);
        return -1;
    }
    if (wb_sess_need_conn(s, out))
        return -1;
    wb_sess_set_now(s); /* DEFAULT now() columns */
    wb_copy_state *c = calloc(1, sizeof *c);
    if (!c) {
        wb_sess_error(s, out, "53200", "out of memory", NULL, NULL);
        return -1;
    }
    c->from = cp->from;
    c->format = cp->format;
    c->stmt = t;
    c->delim = cp->delimiter ? cp->delimiter : (cp->format == 1 ? ',' : '\t');
    c->quote = cp->quote ? cp->quote : '"';
    c->escape = cp->escape ? cp->escape : c->quote;
    c->header = cp->header;
    const char *ns = cp->null_string ? cp->null_string : (cp->format == 1 ? "" : "\\N");
    c->null_s = strdup(ns);
    c->null_len = strlen(ns);
    c->table = strdup(cp->table ? cp->table : "");
    if (!c->null_s || !c->table) {
        cs_free(s, c);
        wb_sess_error(s, out, "53200", "out of memory", NULL, NULL);
        return -1;
    }
    if (cp->format == 2 && cp->header) {
        cs_free(s, c);
        wb_sess_error(s, out, "0A000", "cannot specify HEADER in BINARY mode", NULL, NULL);
        return -1;
    }
    int rc;
    if (cp->table) {
        if (load_columns(s, c, cp, out)) {
            cs_free(s, c);
            return -1;
        }
    }
    if (cp->from) {
        if (!cp->table) {
            cs_free(s, c);
            wb_sess_error(s, out, "42601", "COPY FROM needs a table", NULL, NULL);
            return -1;
        }
        if (set_flags(s, c, cp->force_not_null, cp->nforce_not_null, 0, &c->force_not_null, "FORCE_NOT_NULL", out) ||
            set_flags(s, c, cp->force_null, cp->nforce_null, 0, &c->force_null, "FORCE_NULL", out)) {
            cs_free(s, c);
            return -1;
        }
        wb_buf q = {0};
        char *tq = wb_eng_quote_ident(cp->table);
        wb_buf_puts(&q, "INSERT INTO ");
        wb_buf_puts(&q, tq);
        free(tq);
        wb_buf_puts(&q, " (");
        for (int i = 0; i < c->ncols; i++) {
            char *cq = wb_eng_quote_ident(c->names[i]);
            wb_buf_puts(&q, i ? ", " : "");
            wb_buf_puts(&q, cq);
            free(cq);
        }
        wb_buf_puts(&q, ") VALUES (");
        for (int i = 0; i < c->ncols; i++) {
            char t2[16];
            snprintf(t2, sizeof t2, "%s?%d", i ? ", " : "", i + 1);
            wb_buf_puts(&q, t2);
        }
        wb_buf_puts(&q, ")");
        size_t one_row = q.len; /* INSERT ... VALUES (?1, ...) */
        wb_buf_putc(&q, 0);
        rc = sqlite3_prepare_v2(s->conn->db, (const char *)q.p, -1, &c->st, NULL);
        if (rc == SQLITE_OK && c->format != 2 && c->ncols > 0) {
            /* the same INSERT with COPY_BATCH rows of plain ? parameters */
            int batch = COPY_BATCH;
            if (batch * c->ncols > 32766) /* SQLite's SQLITE_MAX_VARIABLE_NUMBER */
                batch = 32766 / c->ncols;
            q.len = one_row - 1;
            while (q.len > 0 && q.p[q.len - 1] != '(')
                q.len--;
            for (int r = 0; r < batch; r++) {
                if (r)
                    wb_buf_puts(&q, ", (");
                for (int i = 0; i < c->ncols; i++)
                    wb_buf_puts(&q, i ? ", ?" : "?");
                wb_buf_puts(&q, ")");
            }
            wb_buf_putc(&q, 0);
            if (batch > 1 && sqlite3_prepare_v2(s->conn->db, (const char *)q.p, -1, &c->bst, NULL) == SQLITE_OK)
                c->batch = batch;
            else {
                sqlite3_finalize(c->bst);
                c->bst = NULL;
            }
        }
        wb_buf_free(&q);
        if (rc != SQLITE_OK) {
            wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
            cs_free(s, c);
            return -1;
        }
        /* everything the COPY writes goes or stays together */
        if (s->sqlite_tx) {
            rc = sqlite3_exec(s->conn->db, "SAVEPOINT wb_copy", NULL, NULL, NULL);
            c->own_sp = rc == SQLITE_OK;
        } else {
            rc = sqlite3_exec(s->conn->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
            c->own_tx = rc == SQLITE_OK;
            s->sqlite_tx = c->own_tx;
        }
        if (rc != SQLITE_OK) {
            wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
            cs_free(s, c);
            return -1;
        }
        s->copy = c;
        put_copy_response(out, 'G', c);
        return 0;
    }
    /* COPY TO: the table's columns, or the query's */
    const char *sql = NULL;
    wb_buf q = {0};
    if (cp->table) {
        char *tq = wb_eng_quote_ident(cp->table);
        wb_buf_puts(&q, "SELECT ");
        for (int i = 0; i < c->ncols; i++) {
            char *cq = wb_eng_quote_ident(c->names[i]);
            wb_buf_puts(&q, i ? ", " : "");
            wb_buf_puts(&q, cq);
            free(cq);
        }
        wb_buf_puts(&q, " FROM ");
        wb_buf_puts(&q, tq);
        free(tq);
        wb_buf_putc(&q, 0);
        sql = (const char *)q.p;
    } else if (cp->query && cp->query->kind == WB_SQL_RUN && cp->query->nsqlite > 0 && cp->query->returns_rows) {
        wb_sql_stmt *qs = cp->query;
        for (int i = 0; i + 1 < qs->nsqlite; i++) {
            rc = sqlite3_exec(s->conn->db, qs->sqlite[i], NULL, NULL, NULL);
            if (rc != SQLITE_OK) {
                wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
                cs_free(s, c);
                return -1;
            }
        }
        sql = qs->sqlite[qs->nsqlite - 1];
    } else {
        cs_free(s, c);
        wb_sess_error(s, out, "0A000", "COPY query must be a SELECT or have RETURNING", NULL, NULL);
        return -1;
    }
    rc = sqlite3_prepare_v2(s->conn->db, sql, -1, &c->st, NULL);
    wb_buf_free(&q);
    if (rc != SQLITE_OK) {
        wb_sess_sqlite_error(s, out, s->conn->db, rc, NULL);
        cs_free(s, c);
        return -1;
    }
    if (!cp->table) {
        wb_sql_stmt *qs = cp->query;
        c->ncols = sqlite3_column_count(c->st);
        c->names = calloc((size_t)c->ncols + 1, sizeof *c->names);
        c->oids = calloc((size_t)c->ncols + 1, sizeof *c->oids);
        c->typmods = calloc((size_t)c->ncols + 1, sizeof *c->typmods);
        if (!c->names || !c->oids || !c->typmods) {
            cs_free(s, c);
            wb_sess_error(s, out, "53200", "out of memory", NULL, NULL);
            return -1;
        }
        for (int i = 0; i < c->ncols; i++) {
            c->names[i] = strdup(i < qs->ncols && qs->cols[i].name ? qs->cols[i].name : sqlite3_column_name(c->st, i));
            c->typmods[i] = -1;
            if (i < qs->ncols && qs->cols[i].type_oid) {
                c->oids[i] = qs->cols[i].type_oid;
                c->typmods[i] = qs->cols[i].typmod;
            } else
                wb_eng_decltype(sqlite3_column_decltype(c->st, i), &c->oids[i], &c->typmods[i]);
        }
    }
    if (set_flags(s, c, cp->force_quote, cp->nforce_quote, cp->force_quote_all, &c->force_quote, "FORCE_QUOTE", out)) {
        cs_free(s, c);
        return -1;
    }
    s->copy = c;
    put_copy_response(out, 'H', c);
    if (c->format == 2) {
        c->bin_header_pending = 1; /* goes out with the first row, as PostgreSQL sends it */
    } else if (c->header) {
        put_copy_header(out, c);
    }
    return wb_copy_resume(s, out);
}
