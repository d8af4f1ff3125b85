/* src/engine/translate_cache.c - the translation cache.
 *
 * Keyed by the statement's token stream (a small lexer below, checked
 * against the parser's literal positions) with every constant token
 * replaced by its kind, plus the
 * Parse message's parameter types. A translation made for the cache lifts
 * the literals in value positions into extra parameters (wb_sql_stmt.
 * lit_values, bound by wb_sql_bind_literals), so pgbench -S's new literal
 * each time is a hit: the values are read back from the new token stream.
 * Constants the translation had to write into the SQL (ORDER BY 1) are
 * kept with the entry and must match for a hit.
 *
 * A direct-mapped table (hash of the key modulo the size: a collision
 * replaces the entry); one thread at a time. */
#include "translate_internal.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct centry {
    char *key; size_t keylen;
    char *sql; size_t fixedlen;   /* the constants written into the SQL: (token, length, text)... */
    uint64_t hash;
    wb_sql_list list;
    int used;
} centry;

struct wb_sql_cache {
    centry *e;
    size_t cap;
};

wb_sql_cache *wb_sql_cache_new(size_t max_entries)
{
    wb_sql_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->cap = max_entries ? max_entries : 256;
    c->e = calloc(c->cap, sizeof *c->e);
    if (!c->e) { free(c); return NULL; }
    return c;
}

static void centry_clear(centry *e)
{
    free(e->key); free(e->sql);
    wb_sql_list_free(&e->list);
    memset(e, 0, sizeof *e);
}

void wb_sql_cache_clear(wb_sql_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->cap; i++) centry_clear(&c->e[i]);
}

void wb_sql_cache_free(wb_sql_cache *c)
{
    if (!c) return;
    wb_sql_cache_clear(c);
    free(c->e);
    free(c);
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) { h ^= s[i]; h *= 1099511628211ULL; }
    return h;
}

/* ---------- deep copies ---------- */

static char *sdup(const char *s, int *oom)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) *oom = 1;
    return d;
}

static char **sarr_dup(char **a, int n, int *oom)
{
    if (!a || n <= 0) return NULL;
    char **d = calloc((size_t)n, sizeof *d);
    if (!d) { *oom = 1; return NULL; }
    for (int i = 0; i < n; i++) d[i] = sdup(a[i], oom);
    return d;
}

static wb_sql_stmt *stmt_dup(const wb_sql_stmt *s, int *oom)
{
    if (!s) return NULL;
    wb_sql_stmt *d = calloc(1, sizeof *d);
    if (!d) { *oom = 1; return NULL; }
    *d = *s;
    d->tag = sdup(s->tag, oom);
    d->sqlite = sarr_dup(s->sqlite, s->nsqlite, oom);
    if (s->ncols > 0) {
        d->cols = calloc((size_t)s->ncols, sizeof *d->cols);
        if (!d->cols) *oom = 1;
        else for (int i = 0; i < s->ncols; i++) { d->cols[i] = s->cols[i]; d->cols[i].name = sdup(s->cols[i].name, oom); }
    }
    if (s->nlits > 0) {
        d->lit_oids = malloc((size_t)s->nlits * sizeof *d->lit_oids);
        d->lit_tokens = malloc((size_t)s->nlits * sizeof *d->lit_tokens);
        if (!d->lit_oids || !d->lit_tokens) *oom = 1;
        else {
            memcpy(d->lit_oids, s->lit_oids, (size_t)s->nlits * sizeof *d->lit_oids);
            memcpy(d->lit_tokens, s->lit_tokens, (size_t)s->nlits * sizeof *d->lit_tokens);
        }
    }
    if (s->nparams > 0) {
        d->param_oids = malloc((size_t)s->nparams * sizeof *d->param_oids);
        if (!d->param_oids) *oom = 1;
        else memcpy(d->param_oids, s->param_oids, (size_t)s->nparams * sizeof *d->param_oids);
    }
    d->name = sdup(s->name, oom);
    d->value = sdup(s->value, oom);
    d->inner = stmt_dup(s->inner, oom);
    d->args = sarr_dup(s->args, s->nargs, oom);
    d->lit_values = sarr_dup(s->lit_values, s->nlits, oom);
    if (s->copy) {
        const wb_sql_copy *c = s->copy;
        wb_sql_copy *k = calloc(1, sizeof *k);
        if (!k) *oom = 1;
        else {
            *k = *c;
            k->table = sdup(c->table, oom);
            k->columns = sarr_dup(c->columns, c->ncolumns, oom);
            k->query = stmt_dup(c->query, oom);
            k->null_string = sdup(c->null_string, oom);
            k->force_quote = sarr_dup(c->force_quote, c->nforce_quote, oom);
            k->force_not_null = sarr_dup(c->force_not_null, c->nforce_not_null, oom);
            k->force_null = sarr_dup(c->force_null, c->nforce_null, oom);
        }
        d->copy = k;
    }
    return d;
}

static int list_dup(const wb_sql_list *src, wb_sql_list *dst)
{
    int oom = 0;
    dst->n = 0;
    dst->stmts = calloc((size_t)(src->n ? src->n : 1), sizeof *dst->stmts);
    if (!dst->stmts) return -1;
    for (int i = 0; i < src->n; i++) {
        dst->stmts[i] = stmt_dup(src->stmts[i], &oom);
        dst->n = i + 1;
    }
    if (oom) { wb_sql_list_free(dst); return -1; }
    return 0;
}

/* ---------- key ---------- */

typedef struct scan_tok { int start, end, token; } scan_tok;

static int is_const_tok(int tok)
{
    return tok == PG_QUERY__TOKEN__ICONST || tok == PG_QUERY__TOKEN__FCONST || tok == PG_QUERY__TOKEN__SCONST ||
           tok == PG_QUERY__TOKEN__USCONST || tok == PG_QUERY__TOKEN__BCONST || tok == PG_QUERY__TOKEN__XCONST;
}

/* A small SQL lexer for the key (the hot path: pg_query_scan costs ~10 us
 * with its protobuf round trip; this costs well under one). It follows
 * PostgreSQL's scan.l for what it accepts: whitespace and comments
 * (nested), identifiers, "quoted identifiers", $n, numbers, plain '...'
 * strings, and operator characters one per token; anything else (E'',
 * U&'', B'', X'', dollar quoting, a number glued to a letter) makes the
 * statement uncacheable (-1). Agreement with the real parser is checked
 * when an entry is made: every lifted literal must start a constant token
 * here, else the entry is not stored. */
static int lex_push(scan_tok **toks, int *n, int *cap, int start, int end, int token)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 32;
        scan_tok *nt = realloc(*toks, (size_t)nc * sizeof *nt);
        if (!nt) return -1;
        *toks = nt; *cap = nc;
    }
    (*toks)[*n].start = start; (*toks)[*n].end = end; (*toks)[*n].token = token;
    (*n)++;
    return 0;
}

static int ident_start(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80; }
static int ident_char(unsigned char c) { return ident_start(c) || (c >= '0' && c <= '9') || c == '$'; }

static int lex(const char *sql, scan_tok **toks, int *ntoks)
{
    int cap = 0, n = 0;
    *toks = NULL;
    const unsigned char *s = (const unsigned char *)sql;
    size_t i = 0;
    while (s[i]) {
        unsigned char c = s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') { i++; continue; }
        if (c == '-' && s[i + 1] == '-') { while (s[i] && s[i] != '\n' && s[i] != '\r') i++; continue; }
        if (c == '/' && s[i + 1] == '*') {
            int depth = 1;
            i += 2;
            while (s[i] && depth) {
                if (s[i] == '/' && s[i + 1] == '*') { depth++; i += 2; }
                else if (s[i] == '*' && s[i + 1] == '/') { depth--; i += 2; }
                else i++;
            }
            if (depth) return -1;
            continue;
        }
        size_t st = i;
        int tok = 1;
        if (ident_start(c)) {
            while (ident_char(s[i])) i++;
            if (s[i] == '\'' || (s[i] == '&' && s[i + 1] == '\'')) return -1; /* E'', B'', X'', N'', U&'' */
        } else if (c == '"') {
            i++;
            for (;;) {
                if (!s[i]) return -1;
                if (s[i] == '"') { if (s[i + 1] == '"') { i += 2; continue; } i++; break; }
                i++;
            }
        } else if (c == '$') {
            i++;
            if (!(s[i] >= '0' && s[i] <= '9')) return -1; /* dollar quoting */
            while (s[i] >= '0' && s[i] <= '9') i++;
            if (ident_char(s[i])) return -1;
        } else if ((c >= '0' && c <= '9') || (c == '.' && s[i + 1] >= '0' && s[i + 1] <= '9')) {
            int isfloat = 0;
            while (s[i] >= '0' && s[i] <= '9') i++;
            if (s[i] == '.' && s[i + 1] != '.') { isfloat = 1; i++; while (s[i] >= '0' && s[i] <= '9') i++; }
            if (s[i] == 'e' || s[i] == 'E') {
                size_t j = i + 1;
                if (s[j] == '+' || s[j] == '-') j++;
                if (!(s[j] >= '0' && s[j] <= '9')) return -1;
                isfloat = 1;
                i = j;
                while (s[i] >= '0' && s[i] <= '9') i++;
            }
            if (ident_char(s[i]) || s[i] == '.') return -1;
            /* an integer beyond int4 is FCONST in PostgreSQL */
            if (!isfloat) {
                size_t len = i - st;
                const char *p = sql + st;
                while (len > 1 && *p == '0') { p++; len--; }
                isfloat = len > 10 || (len == 10 && memcmp(p, "2147483647", 10) > 0);
            }
            tok = isfloat ? PG_QUERY__TOKEN__FCONST : PG_QUERY__TOKEN__ICONST;
        } else if (c == '\'') {
            i++;
            for (;;) {
                if (!s[i]) return -1;
                if (s[i] == '\'') { if (s[i + 1] == '\'') { i += 2; continue; } i++; break; }
                i++;
            }
            tok = PG_QUERY__TOKEN__SCONST;
        } else {
            i++;
            tok = c == '-' ? PG_QUERY__TOKEN__ASCII_45 : 1;
        }
        if (lex_push(toks, &n, &cap, (int)st, (int)i, tok) != 0) return -1;
    }
    *ntoks = n;
    return 0;
}

/* The key: each token's kind and, except for constants, its text; then the
 * given parameter types. Fills the token list. Returns 0, or -1 when the
 * text is not cacheable (see lex). */
static int make_key(const char *sql, const uint32_t *given, int ngiven, wb_buf *key, scan_tok **toks, int *ntoks)
{
    *toks = NULL; *ntoks = 0;
    if (lex(sql, toks, ntoks) != 0) { free(*toks); *toks = NULL; return -1; }
    int rc = 0;
    size_t need = strlen(sql) + (size_t)*ntoks * 2 + 16;
    rc |= wb_buf_reserve(key, need);
    for (int i = 0; i < *ntoks && rc == 0; i++) {
        const scan_tok *t = &(*toks)[i];
        if (is_const_tok(t->token)) {
            rc |= wb_buf_putc(key, 1);
            rc |= wb_buf_putc(key, (uint8_t)(t->token & 0xff));
        } else {
            rc |= wb_buf_append(key, sql + t->start, (size_t)(t->end - t->start));
            rc |= wb_buf_putc(key, 0);
        }
    }
    rc |= wb_buf_append(key, &ngiven, sizeof ngiven);
    if (ngiven > 0) rc |= wb_buf_append(key, given, (size_t)ngiven * sizeof *given);
    if (rc) { free(*toks); *toks = NULL; }
    return rc ? -1 : 0;
}

/* the value of constant token k (with a preceding '-' when neg); NULL when
 * its form is not a plain one (E'', U&'', $$, adjacent strings) */
static char *tok_value(const char *sql, const scan_tok *t, int k, int ntoks, int neg)
{
    const scan_tok *x = &t[k];
    const char *p = sql + x->start;
    size_t n = (size_t)(x->end - x->start);
    if (x->token == PG_QUERY__TOKEN__ICONST || x->token == PG_QUERY__TOKEN__FCONST) {
        char *v = malloc(n + 2);
        if (!v) return NULL;
        size_t o = 0;
        if (neg) v[o++] = '-';
        memcpy(v + o, p, n);
        v[o + n] = 0;
        return v;
    }
    if (x->token != PG_QUERY__TOKEN__SCONST || n < 2 || p[0] != '\'' || p[n - 1] != '\'' || neg) return NULL;
    if (k + 1 < ntoks && t[k + 1].token == PG_QUERY__TOKEN__SCONST) return NULL;
    char *v = malloc(n);
    if (!v) return NULL;
    size_t o = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        v[o++] = p[i];
        if (p[i] == '\'') i++; /* '' */
    }
    v[o] = 0;
    return v;
}

/* the token index holding the constant at byte offset loc: *neg when a
 * unary minus was folded into it */
static int tok_at(const scan_tok *t, int ntoks, int loc, int *neg)
{
    *neg = 0;
    for (int k = 0; k < ntoks; k++) {
        if (t[k].start != loc) continue;
        if (t[k].token == PG_QUERY__TOKEN__ASCII_45 && k + 1 < ntoks && is_const_tok(t[k + 1].token)) { *neg = 1; return k + 1; }
        return is_const_tok(t[k].token) ? k : -1;
    }
    return -1;
}

/* After a fresh translation: map each lifted literal to its token. The
 * constant tokens that were not lifted are remembered by text (entry->
 * fixed); returns -1 when the list cannot be reused with other constants. */
static int map_tokens(const char *sql, wb_sql_list *l, const scan_tok *toks, int ntoks, char **fixed)
{
    char *lifted = calloc((size_t)ntoks + 1, 1);
    if (!lifted) return -1;
    for (int i = 0; i < l->n; i++) {
        wb_sql_stmt *s = l->stmts[i];
        for (int k = 0; k < s->nlits; k++) {
            int neg;
            int tk = tok_at(toks, ntoks, s->lit_tokens[k], &neg);
            char *v = tk >= 0 ? tok_value(sql, toks, tk, ntoks, neg) : NULL;
            if (!v) { free(lifted); return -1; }
            free(v);
            s->lit_tokens[k] = neg ? -(tk + 1) - 1 : tk; /* negative: with a minus */
            lifted[tk] = 1;
        }
    }
    wb_buf b = {0};
    for (int k = 0; k < ntoks; k++) {
        if (!is_const_tok(toks[k].token) || lifted[k]) continue;
        int32_t len = toks[k].end - toks[k].start;
        if (wb_buf_append(&b, &k, sizeof k) || wb_buf_append(&b, &len, sizeof len) ||
            wb_buf_append(&b, sql + toks[k].start, (size_t)len)) { wb_buf_free(&b); free(lifted); return -1; }
    }
    free(lifted);
    if (wb_buf_putc(&b, 0) != 0) { wb_buf_free(&b); return -1; }
    *fixed = (char *)b.p;
    return (int)b.len - 1;
}

int tr_translate_lift(const char *sql, const uint32_t *given_oids, int ngiven, const wb_sql_schema *schema,
                      wb_sql_list *out, wb_sql_error *err, int lift);

static int cacheable(const wb_sql_list *l)
{
    for (int i = 0; i < l->n; i++) {
        const wb_sql_stmt *s = l->stmts[i];
        if (s->kind == WB_SQL_BEGIN || s->kind == WB_SQL_COMMIT || s->kind == WB_SQL_ROLLBACK) continue;
        /* DDL changes the schema the translations were made against (the
         * engine clears the cache after it); only DML is kept */
        if (s->kind != WB_SQL_RUN || !s->tag || s->nsqlite != 1 ||
            (strcmp(s->tag, "SELECT") && strcmp(s->tag, "INSERT") && strcmp(s->tag, "UPDATE") && strcmp(s->tag, "DELETE")))
            return 0;
    }
    return 1;
}

int wb_sql_translate_cached(wb_sql_cache *cache, const char *sql, const uint32_t *given_oids, int ngiven,
                            const wb_sql_schema *schema, wb_sql_list *out, wb_sql_error *err)
{
    if (!cache) return tr_translate_lift(sql, given_oids, ngiven, schema, out, err, 0);
    wb_buf key = {0};
    scan_tok *toks = NULL;
    int ntoks = 0;
    if (make_key(sql, given_oids, ngiven, &key, &toks, &ntoks) != 0) {
        wb_buf_free(&key);
        free(toks);
        return wb_sql_translate(sql, given_oids, ngiven, schema, out, err);
    }
    uint64_t h = fnv(key.p, key.len, 1469598103934665603ULL);
    centry *e = &cache->e[h % cache->cap];
    if (e->used && e->hash == h && e->keylen == key.len && !memcmp(e->key, key.p, key.len)) {
        /* the constants that were written into the SQL must be the same */
        int same = 1;
        const char *f = e->sql, *end = e->sql + e->fixedlen;
        while (same && f < end) {
            int k; int32_t len;
            memcpy(&k, f, sizeof k); memcpy(&len, f + sizeof k, sizeof len);
            f += sizeof k + sizeof len;
            same = k < ntoks && toks[k].end - toks[k].start == len && !memcmp(sql + toks[k].start, f, (size_t)len);
            f += len;
        }
        if (same) {
            memset(err, 0, sizeof *err);
            int oom = list_dup(&e->list, out) != 0;
            for (int i = 0; !oom && i < out->n; i++) {
                wb_sql_stmt *s = out->stmts[i];
                for (int k = 0; k < s->nlits; k++) {
                    int tk = s->lit_tokens[k], neg = tk < 0;
                    if (neg) tk = -tk - 2;
                    char *v = tok_value(sql, toks, tk, ntoks, neg);
                    if (!v) { oom = 1; break; }
                    free(s->lit_values[k]);
                    s->lit_values[k] = v;
                }
            }
            wb_buf_free(&key);
            free(toks);
            if (oom) {
                wb_sql_list_free(out);
                return tr_translate_lift(sql, given_oids, ngiven, schema, out, err, 0);
            }
            return 0;
        }
    }
    int rc = tr_translate_lift(sql, given_oids, ngiven, schema, out, err, 1);
    if (rc != 0 || !cacheable(out)) { wb_buf_free(&key); free(toks); return rc; }
    char *fixed = NULL;
    int fixedlen = map_tokens(sql, out, toks, ntoks, &fixed);
    free(toks);
    if (fixedlen < 0) {
        /* literals in a form the cache cannot re-read: translate again
         * without lifting, uncached */
        wb_buf_free(&key);
        free(fixed);
        wb_sql_list_free(out);
        return tr_translate_lift(sql, given_oids, ngiven, schema, out, err, 0);
    }
    centry_clear(e);
    if (list_dup(out, &e->list) != 0) { wb_buf_free(&key); free(fixed); return 0; }
    e->key = (char *)key.p;
    e->keylen = key.len;
    e->sql = fixed;
    e->fixedlen = (size_t)fixedlen;
    e->hash = h;
    e->used = 1;
    return 0;
}

int wb_sql_bind_literals(sqlite3_stmt *st, const wb_sql_stmt *s)
{
    for (int i = 0; i < s->nlits; i++) {
        int idx = s->nparams + 1 + i, rc;
        const char *v = s->lit_values[i];
        uint32_t oid = s->lit_oids ? s->lit_oids[i] : OID_TEXT;
        if (!v) rc = sqlite3_bind_null(st, idx);
        else if (oid == OID_INT4 || oid == OID_INT8) rc = sqlite3_bind_int64(st, idx, strtoll(v, NULL, 10));
        else rc = sqlite3_bind_text(st, idx, v, -1, SQLITE_TRANSIENT); /* numeric: decimal text, as written uncached */
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}
