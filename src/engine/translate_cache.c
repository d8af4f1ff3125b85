/* src/engine/translate_cache.c - the translation cache.
 *
 * Keyed by the statement's token stream from pg_query_scan (the lexer only,
 * no parse) with every constant token replaced by its kind, plus the
 * Parse message's parameter types. An entry holds the translation of the
 * first statement text seen with that key and the constants it was made
 * with; a hit whose constants are equal reuses the translation as is
 * (pgbench -S sends a new literal each time: that is a miss on the
 * constants, so the entry is replaced; constants that only differ become
 * parameters once the translator lifts them, see wb_sql_stmt.lit_values).
 *
 * A bounded table with FIFO replacement; one thread at a time. */
#include "translate_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct centry {
    char *key; size_t keylen;
    char *sql;
    uint64_t hash;
    wb_sql_list list;
    int used;
} centry;

struct wb_sql_cache {
    centry *e;
    size_t cap, next;
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
    c->next = 0;
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

/* The key: every token's kind and, except for constants, its text; then
 * the given parameter types. Returns 0, or -1 when the text does not scan
 * (the translator will report the error). */
static int make_key(const char *sql, const uint32_t *given, int ngiven, wb_buf *key)
{
    PgQueryScanResult r = pg_query_scan(sql);
    if (r.error) { pg_query_free_scan_result(r); return -1; }
    PgQuery__ScanResult *sr = pg_query__scan_result__unpack(NULL, r.pbuf.len, (const uint8_t *)r.pbuf.data);
    pg_query_free_scan_result(r);
    if (!sr) return -1;
    int rc = 0;
    for (size_t i = 0; i < sr->n_tokens && rc == 0; i++) {
        PgQuery__ScanToken *t = sr->tokens[i];
        int32_t tok = t->token;
        rc |= wb_buf_append(key, &tok, sizeof tok);
        /* the text of every token, constants included: a hit then needs no
         * literal handling (see the file comment) */
        int32_t len = t->end - t->start;
        rc |= wb_buf_append(key, &len, sizeof len);
        rc |= wb_buf_append(key, sql + t->start, (size_t)len);
    }
    pg_query__scan_result__free_unpacked(sr, NULL);
    rc |= wb_buf_append(key, &ngiven, sizeof ngiven);
    if (ngiven > 0) rc |= wb_buf_append(key, given, (size_t)ngiven * sizeof *given);
    return rc ? -1 : 0;
}

int wb_sql_translate_cached(wb_sql_cache *cache, const char *sql, const uint32_t *given_oids, int ngiven,
                            const wb_sql_schema *schema, wb_sql_list *out, wb_sql_error *err)
{
    if (!cache) return wb_sql_translate(sql, given_oids, ngiven, schema, out, err);
    wb_buf key = {0};
    if (make_key(sql, given_oids, ngiven, &key) != 0) {
        wb_buf_free(&key);
        return wb_sql_translate(sql, given_oids, ngiven, schema, out, err);
    }
    uint64_t h = fnv(key.p, key.len, 1469598103934665603ULL);
    for (size_t i = 0; i < cache->cap; i++) {
        centry *e = &cache->e[i];
        if (e->used && e->hash == h && e->keylen == key.len && !memcmp(e->key, key.p, key.len)) {
            wb_buf_free(&key);
            memset(err, 0, sizeof *err);
            if (list_dup(&e->list, out) != 0) {
                memcpy(err->sqlstate, "53200", 6);
                snprintf(err->message, sizeof err->message, "out of memory");
                return -1;
            }
            return 0;
        }
    }
    int rc = wb_sql_translate(sql, given_oids, ngiven, schema, out, err);
    if (rc != 0) { wb_buf_free(&key); return rc; }
    /* DDL changes the schema the cached translations were made against:
     * never cache a list that holds any; the engine clears the cache */
    for (int i = 0; i < out->n; i++)
        if (out->stmts[i]->kind != WB_SQL_RUN || !out->stmts[i]->tag ||
            (strcmp(out->stmts[i]->tag, "SELECT") && strcmp(out->stmts[i]->tag, "INSERT") &&
             strcmp(out->stmts[i]->tag, "UPDATE") && strcmp(out->stmts[i]->tag, "DELETE")) ||
            out->stmts[i]->nsqlite != 1) {
            wb_buf_free(&key);
            return 0;
        }
    centry *e = &cache->e[cache->next];
    cache->next = (cache->next + 1) % cache->cap;
    centry_clear(e);
    if (list_dup(out, &e->list) != 0) { wb_buf_free(&key); return 0; }
    e->key = (char *)key.p;
    e->keylen = key.len;
    e->hash = h;
    e->used = 1;
    return 0;
}
