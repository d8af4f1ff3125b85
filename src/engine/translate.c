/* src/engine/translate.c - the parse-tree walk: wb_sql_translate, statement
 * dispatch, SELECT / INSERT / UPDATE / DELETE, FROM scopes and result
 * columns. Expressions are in translate_expr.c, DDL and types in
 * translate_ddl.c, utility statements in translate_util.c. */
#include "translate_internal.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NC(x) PG_QUERY__NODE__NODE_##x

/* ---------- errors and output ---------- */

void tr_fail(tr *t, const char *sqlstate, int location, const char *fmt, ...)
{
    if (t->failed) return;
    t->failed = 1;
    memcpy(t->err->sqlstate, sqlstate, 5);
    t->err->sqlstate[5] = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->err->message, sizeof t->err->message, fmt, ap);
    va_end(ap);
    /* PostgreSQL positions count characters, 1-based; location is a byte
     * offset: count UTF-8 lead bytes before it */
    int pos = 0;
    if (location >= 0 && t->src) {
        size_t srclen = strlen(t->src);
        if ((size_t)location > srclen) location = (int)srclen;
        for (int i = 0; i < location; i++)
            if (((unsigned char)t->src[i] & 0xC0) != 0x80) pos++;
        pos++;
    }
    t->err->position = pos;
}

void tr_nomem(tr *t) { tr_fail(t, "53200", -1, "out of memory"); }

void tr_puts(tr *t, const char *s)
{
    if (!t->failed && wb_buf_puts(t->o, s) != 0) tr_nomem(t);
}

void tr_printf(tr *t, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) { tr_nomem(t); return; }
    if ((size_t)n < sizeof small) { tr_puts(t, small); return; }
    char *big = malloc((size_t)n + 1);
    if (!big) { tr_nomem(t); return; }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    tr_puts(t, big);
    free(big);
}

void tr_ident(tr *t, const char *name)
{
    if (t->failed) return;
    if (wb_buf_putc(t->o, '"') != 0) { tr_nomem(t); return; }
    for (const char *p = name; *p; p++) {
        if (*p == '"' && wb_buf_putc(t->o, '"') != 0) { tr_nomem(t); return; }
        if (wb_buf_putc(t->o, (uint8_t)*p) != 0) { tr_nomem(t); return; }
    }
    if (wb_buf_putc(t->o, '"') != 0) tr_nomem(t);
}

void tr_string(tr *t, const char *s)
{
    if (t->failed) return;
    if (wb_buf_putc(t->o, '\'') != 0) { tr_nomem(t); return; }
    for (const char *p = s; *p; p++) {
        if (*p == '\'' && wb_buf_putc(t->o, '\'') != 0) { tr_nomem(t); return; }
        if (wb_buf_putc(t->o, (uint8_t)*p) != 0) { tr_nomem(t); return; }
    }
    if (wb_buf_putc(t->o, '\'') != 0) tr_nomem(t);
}

char *tr_strdup(tr *t, const char *s)
{
    if (!s) return NULL;
    char *d = strdup(s);
    if (!d) tr_nomem(t);
    return d;
}

char *tr_buf_take(tr *t, wb_buf *b)
{
    if (wb_buf_putc(b, 0) != 0) { tr_nomem(t); wb_buf_free(b); return NULL; }
    char *s = (char *)b->p;
    b->p = NULL; b->len = b->cap = 0;
    return s;
}

static void push_str(tr *t, char ***arr, int *n, int *cap, char *s)
{
    if (!s) return;
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 4;
        char **na = realloc(*arr, (size_t)nc * sizeof *na);
        if (!na) { free(s); tr_nomem(t); return; }
        *arr = na; *cap = nc;
    }
    (*arr)[(*n)++] = s;
}
void tr_add_pre(tr *t, char *sql) { push_str(t, &t->pre, &t->npre, &t->precap, sql); }
void tr_add_post(tr *t, char *sql) { push_str(t, &t->post, &t->npost, &t->postcap, sql); }

const char *tr_node_name(const PgQuery__Node *n)
{
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor, (unsigned)n->node_case);
    return f ? f->name : "this statement";
}

/* ---------- parameters ---------- */

/* Parameters are $1..$65535 (a Bind message's Int16 count); a larger
 * number is the 42P02 error where the ParamRef is translated, so nothing
 * is sized by it here (a fuzz finding: $914691236517205 exhausted memory). */
#define TR_MAX_PARAMS 65535

void tr_param_seen(tr *t, int n)
{
    if (n <= t->nparams || n > TR_MAX_PARAMS) return;
    if (n > t->pcap) {
        int nc = t->pcap ? t->pcap : 8;
        while (nc < n) nc *= 2;
        uint32_t *np = realloc(t->ptypes, (size_t)nc * sizeof *np);
        if (!np) { tr_nomem(t); return; }
        t->ptypes = np; t->pcap = nc;
    }
    for (int i = t->nparams; i < n; i++) t->ptypes[i] = 0;
    t->nparams = n;
}

void tr_param_domain(tr *t, int n, uint32_t domain_oid)
{
    if (n < 1 || n > TR_MAX_PARAMS || !domain_oid) return;
    if (n > t->npdomains) {
        uint32_t *np = realloc(t->pdomains, (size_t)n * sizeof *np);
        if (!np) { tr_nomem(t); return; }
        for (int i = t->npdomains; i < n; i++) np[i] = 0;
        t->pdomains = np;
        t->npdomains = n;
    }
    if (!t->pdomains[n - 1]) t->pdomains[n - 1] = domain_oid;
}

void tr_param_type(tr *t, int n, uint32_t oid)
{
    if (n < 1 || n > TR_MAX_PARAMS || oid == 0 || oid == OID_UNKNOWN) return;
    tr_param_seen(t, n);
    if (t->failed) return;
    if (t->ptypes[n - 1] == 0) t->ptypes[n - 1] = oid;
}

/* ---------- schema ---------- */

uint32_t tr_column_type(tr *t, const char *table, const char *col, int32_t *typmod, int *found)
{
    uint32_t oid = 0;
    int32_t tm = -1;
    *found = 0;
    if (typmod) *typmod = -1;
    if (table) {
        int c = tr_catalog_column(table, col, &oid);
        if (c >= 0) { *found = c; return c ? oid : 0; }
    }
    if (t->schema && t->schema->column_type && table)
        *found = t->schema->column_type(t->schema->ctx, table, col, &oid, &tm);
    if (typmod) *typmod = tm;
    return *found ? oid : 0;
}

const char *tr_relname(tr *t, PgQuery__RangeVar *rv)
{
    /* information_schema's views are the catalog views information_schema_NAME
     * (translate_catalog.c), apart from the user's tables of the same name */
    if (rv->schemaname && !strcmp(rv->schemaname, "information_schema") && rv->relname) {
        size_t n = strlen(rv->relname) + sizeof "information_schema_";
        char *q = malloc(n); /* the parse tree's strings are malloc'd (NULL allocator): it owns q now */
        if (!q) { tr_nomem(t); return rv->relname; }
        snprintf(q, n, "information_schema_%s", rv->relname);
        free(rv->relname);
        rv->relname = q;
        free(rv->schemaname);
        rv->schemaname = NULL;
    }
    return rv->relname;
}

/* ---------- scopes ---------- */

void tr_scope_push(tr *t, tr_scope *s)
{
    memset(s, 0, sizeof *s);
    s->parent = t->sc;
    t->sc = s;
}

static void rel_free(tr_rel *r)
{
    free(r->alias); free(r->table);
    for (int i = 0; i < r->nv; i++) { free(r->vcols[i]); free(r->vexpr[i]); }
    free(r->vcols); free(r->vexpr); free(r->vtypes);
    for (int i = 0; i < r->ncols; i++) free(r->cols[i]);
    free(r->cols); free(r->types); free(r->typmods);
}

void tr_scope_pop(tr *t, tr_scope *s)
{
    for (int i = 0; i < s->n; i++) rel_free(&s->rels[i]);
    free(s->rels);
    t->sc = s->parent;
}

tr_rel *tr_scope_add(tr *t, tr_scope *s, const char *alias, const char *table)
{
    if (s->n == s->cap) {
        int nc = s->cap ? s->cap * 2 : 4;
        tr_rel *nr = realloc(s->rels, (size_t)nc * sizeof *nr);
        if (!nr) { tr_nomem(t); return NULL; }
        s->rels = nr; s->cap = nc;
    }
    tr_rel *r = &s->rels[s->n++];
    memset(r, 0, sizeof *r);
    r->alias = tr_strdup(t, alias);
    r->table = tr_strdup(t, table);
    return r;
}

static int rel_load_columns(tr *t, tr_rel *r)
{
    if (r->ncols || !r->table) return r->ncols > 0 || !r->table;
    int c = tr_catalog_columns(r->table, &r->cols, &r->types, &r->ncols);
    if (c >= 0) return c;
    if (!t->schema || !t->schema->table_columns) return 0;
    char **names = NULL; uint32_t *oids = NULL; int32_t *tms = NULL; int n = 0;
    if (!t->schema->table_columns(t->schema->ctx, r->table, &names, &oids, &tms, &n)) return 0;
    r->cols = names; r->types = oids; r->ncols = n;
    r->typmods = tms;
    return 1;
}

static tr_cte *cte_find(tr *t, const char *name)
{
    for (int i = t->nctes - 1; i >= 0; i--)
        if (strcmp(t->ctes[i].name, name) == 0) return &t->ctes[i];
    return NULL;
}

static void set_plain(tr *t, const char *table, const char *col, int16_t attnum, int32_t typmod);

uint32_t tr_columnref(tr *t, PgQuery__ColumnRef *c)
{
    const char *qual = NULL, *col = NULL;
    if (c->n_fields == 1 && c->fields[0]->node_case == NC(STRING)) {
        col = c->fields[0]->string->sval;
    } else if (c->n_fields == 2 && c->fields[0]->node_case == NC(STRING) &&
               c->fields[1]->node_case == NC(STRING)) {
        qual = c->fields[0]->string->sval;
        col = c->fields[1]->string->sval;
    } else if (c->n_fields == 3 && c->fields[1]->node_case == NC(STRING) &&
               c->fields[2]->node_case == NC(STRING)) {
        qual = c->fields[1]->string->sval;   /* schema.table.column */
        col = c->fields[2]->string->sval;
    } else {
        tr_fail(t, "0A000", c->location, "column reference form not supported");
        return 0;
    }
    for (tr_scope *s = t->sc; s; s = s->parent) {
        for (int i = 0; i < s->n; i++) {
            tr_rel *r = &s->rels[i];
            if (qual && (!r->alias || strcmp(r->alias, qual) != 0)) continue;
            for (int k = 0; k < r->nv; k++)
                if (strcmp(r->vcols[k], col) == 0) {
                    tr_printf(t, "(%s)", r->vexpr[k]);
                    return r->vtypes[k];
                }
            if (r->table) {
                /* the table's columns, loaded once per statement */
                if (r->ncols > 0 || rel_load_columns(t, r)) {
                    int k = 0;
                    while (k < r->ncols && strcmp(r->cols[k], col) != 0) k++;
                    if (k < r->ncols) {
                        if (r->alias && !t->unqualified) { tr_ident(t, r->alias); tr_puts(t, "."); }
                        tr_ident(t, col);
                        set_plain(t, r->table, col, (int16_t)(k + 1), r->typmods ? r->typmods[k] : -1);
                        return r->types ? r->types[k] : 0;
                    }
                    if (qual) { tr_fail(t, "42703", c->location, "column %s.%s does not exist", qual, col); return 0; }
                    continue;
                }
                int found;
                int32_t tm;
                uint32_t oid = tr_column_type(t, r->table, col, &tm, &found);
                if (found) {
                    if (r->alias && !t->unqualified) { tr_ident(t, r->alias); tr_puts(t, "."); }
                    tr_ident(t, col);
                    set_plain(t, r->table, col, 0, tm);
                    return oid;
                }
                if (!t->schema || !t->schema->column_type) {
                    /* no schema: trust the reference */
                    if (qual) { tr_ident(t, qual); tr_puts(t, "."); }
                    tr_ident(t, col);
                    return 0;
                }
            } else {
                for (int k = 0; k < r->ncols; k++)
                    if (strcmp(r->cols[k], col) == 0) {
                        if (r->alias && !t->unqualified) { tr_ident(t, r->alias); tr_puts(t, "."); }
                        tr_ident(t, col);
                        return r->types ? r->types[k] : 0;
                    }
                if (r->ncols < 0 || (r->ncols == 0 && qual)) {
                    if (qual) { tr_ident(t, qual); tr_puts(t, "."); }
                    tr_ident(t, col);
                    return 0;
                }
            }
            if (qual) {
                tr_fail(t, "42703", c->location, "column %s.%s does not exist", qual, col);
                return 0;
            }
        }
    }
    if (qual) {
        /* EXCLUDED and other pseudo relations are added to scopes; a
         * qualifier found nowhere is PostgreSQL's 42P01 */
        tr_fail(t, "42P01", c->location, "missing FROM-clause entry for table \"%s\"", qual);
        return 0;
    }
    tr_fail(t, "42703", c->location, "column \"%s\" does not exist", col);
    return 0;
}

/* plain column bookkeeping for RowDescription table_oid/attnum */
static void set_plain(tr *t, const char *table, const char *col, int16_t attnum, int32_t typmod)
{
    if (t->plain) {
        t->plain->table = table; t->plain->col = col; t->plain->count++;
        t->plain->attnum = attnum; t->plain->typmod = typmod;
    }
}

/* ---------- FROM ---------- */

static int select_cols(tr *t, PgQuery__SelectStmt *s, wb_sql_col **cols, int *ncols);
static void cols_free(wb_sql_col *c, int n)
{
    if (!c) return;
    for (int i = 0; i < n; i++) free(c[i].name);
    free(c);
}

static void alias_cols_into(tr *t, tr_rel *r, PgQuery__Alias *al, wb_sql_col *cols, int n)
{
    if (!r) return;
    r->cols = calloc((size_t)(n ? n : 1), sizeof *r->cols);
    r->types = calloc((size_t)(n ? n : 1), sizeof *r->types);
    if (!r->cols || !r->types) { tr_nomem(t); return; }
    r->ncols = n;
    for (int i = 0; i < n; i++) {
        const char *nm = cols[i].name;
        if (al && (size_t)i < al->n_colnames && al->colnames[i]->node_case == NC(STRING))
            nm = al->colnames[i]->string->sval;
        r->cols[i] = tr_strdup(t, nm);
        r->types[i] = cols[i].type_oid;
    }
}

static void emit_subquery_with_alias(tr *t, const char *sqltext, wb_sql_col *cols, int n,
                                     PgQuery__Alias *al)
{
    if (al && al->n_colnames) {
        tr_puts(t, "(SELECT ");
        for (int i = 0; i < n; i++) {
            if (i) tr_puts(t, ", ");
            tr_ident(t, cols[i].name);
            tr_puts(t, " AS ");
            if ((size_t)i < al->n_colnames && al->colnames[i]->node_case == NC(STRING))
                tr_ident(t, al->colnames[i]->string->sval);
            else
                tr_ident(t, cols[i].name);
        }
        tr_puts(t, " FROM (");
        tr_puts(t, sqltext);
        tr_puts(t, "))");
    } else {
        tr_puts(t, "(");
        tr_puts(t, sqltext);
        tr_puts(t, ")");
    }
}

static void from_subselect(tr *t, PgQuery__RangeSubselect *rs, tr_scope *sc)
{
    if (!rs->subquery || rs->subquery->node_case != NC(SELECT_STMT)) {
        tr_fail(t, "0A000", -1, "subquery in FROM of this form is not supported");
        return;
    }
    PgQuery__SelectStmt *sub = rs->subquery->select_stmt;
    const char *alias = rs->alias ? rs->alias->aliasname : NULL;
    if (rs->lateral) {
        /* LATERAL (SELECT expr, ...) without FROM: a row of expressions that
         * may refer to the relations to its left; SQLite has no LATERAL, so
         * the expressions are inlined where the columns are used. */
        if (sub->n_from_clause || sub->where_clause || sub->n_group_clause || sub->n_values_lists ||
            sub->op != PG_QUERY__SET_OPERATION__SETOP_NONE) {
            tr_fail(t, "0A000", -1, "LATERAL subquery with FROM is not supported");
            return;
        }
        tr_rel *r = tr_scope_add(t, sc, alias, NULL);
        if (!r) return;
        r->ncols = 0;
        r->vcols = calloc(sub->n_target_list + 1, sizeof *r->vcols);
        r->vexpr = calloc(sub->n_target_list + 1, sizeof *r->vexpr);
        r->vtypes = calloc(sub->n_target_list + 1, sizeof *r->vtypes);
        if (!r->vcols || !r->vexpr || !r->vtypes) { tr_nomem(t); return; }
        for (size_t i = 0; i < sub->n_target_list && !t->failed; i++) {
            PgQuery__ResTarget *rt = sub->target_list[i]->res_target;
            const char *nm = rt->name ? rt->name : tr_colname(rt->val);
            if (rs->alias && i < rs->alias->n_colnames && rs->alias->colnames[i]->node_case == NC(STRING))
                nm = rs->alias->colnames[i]->string->sval;
            wb_buf b = {0};
            wb_buf *save = t->o;
            t->o = &b;
            uint32_t ty = tr_expr(t, rt->val);
            t->o = save;
            r->vexpr[r->nv] = tr_buf_take(t, &b);
            r->vcols[r->nv] = tr_strdup(t, nm);
            r->vtypes[r->nv] = ty;
            r->nv++;
        }
        tr_puts(t, "(SELECT 1) AS ");
        tr_ident(t, alias ? alias : "lateral");
        return;
    }
    wb_buf b = {0};
    wb_buf *save = t->o;
    t->o = &b;
    tr_scope *saved_sc = t->sc;
    t->sc = sc->parent; /* a plain subquery in FROM does not see its siblings */
    wb_sql_col *cols = NULL;
    int n = 0;
    select_cols(t, sub, &cols, &n);
    t->sc = saved_sc;
    t->o = save;
    char *text = tr_buf_take(t, &b);
    if (!t->failed && text) {
        emit_subquery_with_alias(t, text, cols, n, rs->alias);
        if (alias) { tr_puts(t, " AS "); tr_ident(t, alias); }
        tr_rel *r = tr_scope_add(t, sc, alias, NULL);
        alias_cols_into(t, r, rs->alias, cols, n);
    }
    free(text);
    cols_free(cols, n);
}

static void from_function(tr *t, PgQuery__RangeFunction *rf, tr_scope *sc)
{
    if (rf->is_rowsfrom || rf->n_functions != 1 || rf->n_coldeflist) {
        tr_fail(t, "0A000", -1, "ROWS FROM / column definition lists are not supported");
        return;
    }
    /* WITH ORDINALITY: the row number, SQLite's rowid of the virtual
     * tables (1, 2, ...), 1 for a one-row function */
    const char *ordcol = NULL;
    if (rf->ordinality) {
        ordcol = "ordinality";
        if (rf->alias && rf->alias->n_colnames > 1 && rf->alias->colnames[1]->node_case == NC(STRING))
            ordcol = rf->alias->colnames[1]->string->sval;
    }
    PgQuery__Node *lst = rf->functions[0];
    if (lst->node_case != NC(LIST) || lst->list->n_items < 1 || lst->list->items[0]->node_case != NC(FUNC_CALL)) {
        tr_fail(t, "0A000", -1, "function in FROM of this form is not supported");
        return;
    }
    PgQuery__FuncCall *fc = lst->list->items[0]->func_call;
    const char *fname = tr_name_last(fc->funcname, fc->n_funcname);
    const char *alias = rf->alias ? rf->alias->aliasname : fname;
    const char *col = alias;
    if (!strcmp(fname, "pg_partition_ancestors")) col = "relid"; /* its OUT column */
    if (rf->alias && rf->alias->n_colnames && rf->alias->colnames[0]->node_case == NC(STRING))
        col = rf->alias->colnames[0]->string->sval;
    uint32_t ty = 0;
    const char *vt = NULL;
    if (strcmp(fname, "generate_series") == 0) vt = "generate_series";
    else if (strcmp(fname, "unnest") == 0) vt = "wb_unnest";
    else {
        /* a scalar function in FROM: one row, one column */
        tr_puts(t, "(SELECT ");
        ty = tr_expr(t, lst->list->items[0]);
        tr_puts(t, " AS ");
        tr_ident(t, col);
        if (ordcol) { tr_puts(t, ", 1 AS "); tr_ident(t, ordcol); }
        tr_puts(t, ") AS ");
        tr_ident(t, alias);
        goto add;
    }
    wb_buf args = {0};
    wb_buf *save = t->o;
    t->o = &args;
    uint32_t at = 0;
    for (size_t i = 0; i < fc->n_args; i++) {
        if (i) tr_puts(t, ", ");
        uint32_t a = tr_expr_want(t, fc->args[i], vt[0] == 'g' ? OID_INT4 : OID_TEXT_ARRAY);
        if (i == 0) at = a;
    }
    t->o = save;
    char *argtext = tr_buf_take(t, &args);
    if (!argtext) return;
    if (vt[0] == 'g') ty = (at == OID_INT8 || at == OID_NUMERIC || at == OID_TIMESTAMP || at == OID_TIMESTAMPTZ) ? at : OID_INT4;
    else {
        const tr_type *tt = tr_type_by_array_oid(at);
        ty = tt ? tt->oid : OID_TEXT;
    }
    tr_printf(t, "(SELECT %s AS ", vt[0] == 'g' ? "value" : tr_elem_value(ty));
    tr_ident(t, col);
    if (ordcol) { tr_puts(t, ", rowid AS "); tr_ident(t, ordcol); }
    tr_printf(t, " FROM %s(%s)) AS ", vt, argtext);
    free(argtext);
    tr_ident(t, alias);
add:;
    tr_rel *r = tr_scope_add(t, sc, alias, NULL);
    if (!r) return;
    r->cols = calloc(2, sizeof *r->cols);
    r->types = calloc(2, sizeof *r->types);
    if (!r->cols || !r->types) { tr_nomem(t); return; }
    r->cols[0] = tr_strdup(t, col);
    r->types[0] = ty;
    r->ncols = 1;
    if (ordcol) { r->cols[1] = tr_strdup(t, ordcol); r->types[1] = OID_INT8; r->ncols = 2; }
}

void tr_from_item(tr *t, PgQuery__Node *n, tr_scope *sc)
{
    if (t->failed) return;
    switch (n->node_case) {
    case NC(RANGE_VAR): {
        PgQuery__RangeVar *rv = n->range_var;
        const char *name = tr_relname(t, rv);
        const char *alias = rv->alias ? rv->alias->aliasname : name;
        tr_cte *cte = rv->schemaname ? NULL : cte_find(t, name);
        if (rv->alias && rv->alias->n_colnames) {
            tr_fail(t, "0A000", rv->location, "column aliases on a table are not supported");
            return;
        }
        if (cte) {
            tr_ident(t, name);
            if (rv->alias) { tr_puts(t, " AS "); tr_ident(t, alias); }
            tr_rel *r = tr_scope_add(t, sc, alias, NULL);
            if (!r) return;
            r->cols = calloc((size_t)cte->ncols + 1, sizeof *r->cols);
            r->types = calloc((size_t)cte->ncols + 1, sizeof *r->types);
            if (!r->cols || !r->types) { tr_nomem(t); return; }
            for (int i = 0; i < cte->ncols; i++) { r->cols[i] = tr_strdup(t, cte->cols[i]); r->types[i] = cte->types[i]; }
            r->ncols = cte->ncols;
            return;
        }
        tr_rel *r = tr_scope_add(t, sc, alias, name);
        if (!r) return;
        if (((t->schema && t->schema->table_columns) || tr_catalog_column(name, "", &(uint32_t){0}) >= 0) &&
            !rel_load_columns(t, r)) {
            if (rv->schemaname)
                tr_fail(t, "42P01", rv->location, "relation \"%s.%s\" does not exist", rv->schemaname, name);
            else
                tr_fail(t, "42P01", rv->location, "relation \"%s\" does not exist", name);
            return;
        }
        tr_ident(t, name);
        if (rv->alias) { tr_puts(t, " AS "); tr_ident(t, alias); }
        return;
    }
    case NC(JOIN_EXPR): {
        PgQuery__JoinExpr *j = n->join_expr;
        if (j->alias) { tr_fail(t, "0A000", -1, "an alias on a JOIN is not supported"); return; }
        tr_from_item(t, j->larg, sc);
        if (j->is_natural) tr_puts(t, " NATURAL");
        switch (j->jointype) {
        case PG_QUERY__JOIN_TYPE__JOIN_INNER: tr_puts(t, (j->quals || j->n_using_clause || j->is_natural) ? " JOIN " : " CROSS JOIN "); break;
        case PG_QUERY__JOIN_TYPE__JOIN_LEFT: tr_puts(t, " LEFT JOIN "); break;
        case PG_QUERY__JOIN_TYPE__JOIN_RIGHT: tr_puts(t, " RIGHT JOIN "); break;
        case PG_QUERY__JOIN_TYPE__JOIN_FULL: tr_puts(t, " FULL JOIN "); break;
        default: tr_fail(t, "0A000", -1, "this join type is not supported"); return;
        }
        tr_from_item(t, j->rarg, sc);
        if (j->quals) { tr_puts(t, " ON "); tr_expr(t, j->quals); }
        if (j->n_using_clause) {
            tr_puts(t, " USING (");
            for (size_t i = 0; i < j->n_using_clause; i++) {
                if (i) tr_puts(t, ", ");
                tr_ident(t, j->using_clause[i]->string->sval);
            }
            tr_puts(t, ")");
        }
        return;
    }
    case NC(RANGE_SUBSELECT): from_subselect(t, n->range_subselect, sc); return;
    case NC(RANGE_FUNCTION): from_function(t, n->range_function, sc); return;
    default:
        tr_fail(t, "0A000", -1, "FROM item of this kind is not supported");
    }
}

/* ---------- SELECT ---------- */

/* ORDER BY name: an output column's name wins over an input column's
 * (PostgreSQL's findTargetlistEntrySQL92); 1 when it names one */
static int output_name(PgQuery__SelectStmt *s, PgQuery__Node *n)
{
    if (!s || !n || n->node_case != NC(COLUMN_REF) || n->column_ref->n_fields != 1 ||
        n->column_ref->fields[0]->node_case != NC(STRING))
        return 0;
    const char *nm = n->column_ref->fields[0]->string->sval;
    for (size_t i = 0; i < s->n_target_list; i++) {
        PgQuery__ResTarget *rt = s->target_list[i]->res_target;
        if (rt->name && !strcmp(rt->name, nm)) return 1;
    }
    return 0;
}

static void emit_sort_in(tr *t, PgQuery__Node **items, size_t n, PgQuery__SelectStmt *sel);
static void emit_sort(tr *t, PgQuery__Node **items, size_t n)
{
    emit_sort_in(t, items, n, NULL);
}

static void emit_sort_in(tr *t, PgQuery__Node **items, size_t n, PgQuery__SelectStmt *sel)
{
    for (size_t i = 0; i < n && !t->failed; i++) {
        PgQuery__SortBy *sb = items[i]->sort_by;
        if (i) tr_puts(t, ", ");
        int pos = sb->node && sb->node->node_case == NC(A_CONST);
        uint32_t sty = 0;
        if (output_name(sel, sb->node)) tr_ident(t, sb->node->column_ref->fields[0]->string->sval);
        else {
            t->nolift += pos;
            sty = tr_expr(t, sb->node);
            t->nolift -= pos;
        }
        if (sty == OID_NUMERIC && !pos) tr_puts(t, " COLLATE wb_numeric");
        int desc = sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
        if (sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_USING) {
            tr_fail(t, "0A000", sb->location, "ORDER BY USING is not supported");
            return;
        }
        tr_puts(t, desc ? " DESC" : " ASC");
        /* PostgreSQL sorts NULLs as larger than any value; SQLite as smaller */
        int nulls = sb->sortby_nulls;
        if (nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST) tr_puts(t, " NULLS FIRST");
        else if (nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST) tr_puts(t, " NULLS LAST");
        else tr_puts(t, desc ? " NULLS FIRST" : " NULLS LAST");
    }
}

static int cols_add(tr *t, wb_sql_col **cols, int *n, int *cap, const char *name, uint32_t oid,
                    int32_t typmod, uint32_t table_oid, int16_t attnum)
{
    if (*n == *cap) {
        int nc = *cap ? *cap * 2 : 8;
        wb_sql_col *na = realloc(*cols, (size_t)nc * sizeof *na);
        if (!na) { tr_nomem(t); return -1; }
        *cols = na; *cap = nc;
    }
    wb_sql_col *c = &(*cols)[(*n)++];
    c->name = tr_strdup(t, name);
    c->type_oid = oid == OID_UNKNOWN ? OID_TEXT : oid;
    c->typmod = typmod;
    c->table_oid = table_oid;
    c->attnum = attnum;
    return 0;
}

static void plain_info(tr *t, const tr_plain *pr, uint32_t *toid, int16_t *attnum, int32_t *typmod)
{
    const char *table = pr->table, *col = pr->col;
    *toid = 0; *attnum = 0;
    if (!t->schema) return;
    if (t->schema->table_oid) t->schema->table_oid(t->schema->ctx, table, toid);
    if (pr->attnum) { *attnum = pr->attnum; *typmod = pr->typmod; return; }
    if (t->schema->table_columns) {
        char **names = NULL; uint32_t *oids = NULL; int32_t *tms = NULL; int n = 0;
        if (t->schema->table_columns(t->schema->ctx, table, &names, &oids, &tms, &n)) {
            for (int i = 0; i < n; i++) {
                if (strcmp(names[i], col) == 0) { *attnum = (int16_t)(i + 1); if (tms) *typmod = tms[i]; }
                free(names[i]);
            }
            free(names); free(oids); free(tms);
        }
    }
}

/* Emit the target list (expanding *) and return the columns. */
static void emit_targets(tr *t, PgQuery__Node **tl, size_t ntl, wb_sql_col **cols, int *ncols)
{
    int cap = 0;
    for (size_t i = 0; i < ntl && !t->failed; i++) {
        PgQuery__ResTarget *rt = tl[i]->res_target;
        PgQuery__Node *v = rt->val;
        if (v && v->node_case == NC(COLUMN_REF) && v->column_ref->n_fields >= 1 &&
            v->column_ref->fields[v->column_ref->n_fields - 1]->node_case == NC(A_STAR)) {
            PgQuery__ColumnRef *c = v->column_ref;
            const char *qual = c->n_fields >= 2 && c->fields[c->n_fields - 2]->node_case == NC(STRING)
                                   ? c->fields[c->n_fields - 2]->string->sval : NULL;
            int any = 0;
            for (int k = 0; t->sc && k < t->sc->n && !t->failed; k++) {
                tr_rel *r = &t->sc->rels[k];
                if (qual && (!r->alias || strcmp(r->alias, qual) != 0)) continue;
                any = 1;
                if (r->table && !rel_load_columns(t, r)) {
                    /* columns unknown (no schema): let SQLite expand */
                    if (*ncols) tr_puts(t, ", ");
                    if (r->alias) { tr_ident(t, r->alias); tr_puts(t, "."); }
                    tr_puts(t, "*");
                    cols_free(*cols, *ncols);
                    *cols = NULL; *ncols = -1000000;
                    continue;
                }
                uint32_t toid = 0;
                if (r->table && t->schema && t->schema->table_oid) t->schema->table_oid(t->schema->ctx, r->table, &toid);
                for (int m = 0; m < r->ncols; m++) {
                    if (*ncols != 0) tr_puts(t, ", ");
                    if (r->alias) { tr_ident(t, r->alias); tr_puts(t, "."); }
                    tr_ident(t, r->cols[m]);
                    tr_puts(t, " AS ");
                    if (t->tgt_prefix) tr_printf(t, "\"wb_t%d\"", *ncols + 1);
                    else tr_ident(t, r->cols[m]);
                    int32_t tm = r->typmods ? r->typmods[m] : -1;
                    if (*ncols >= 0)
                        cols_add(t, cols, ncols, &cap, r->cols[m], r->types ? r->types[m] : 0, tm, toid,
                                 (int16_t)(r->table ? m + 1 : 0));
                    else (*ncols)++;
                }
            }
            if (!any) {
                if (qual) tr_fail(t, "42P01", c->location, "missing FROM-clause entry for table \"%s\"", qual);
                else tr_fail(t, "42601", c->location, "SELECT * with no tables specified is not valid");
            }
            continue;
        }
        if (*ncols != 0) tr_puts(t, ", ");
        tr_plain pr = {0};
        tr_plain *saved = t->plain;
        t->plain = &pr;
        wb_buf eb = {0};
        wb_buf *save_o = t->o;
        t->o = &eb;
        uint32_t ty = tr_expr(t, v);
        t->o = save_o;
        t->plain = saved;
        char *etext = tr_buf_take(t, &eb);
        if (etext) {
            /* reg* values print as names (regclassout...): the column is
             * their text */
            if (ty == OID_REGCLASS || ty == OID_REGTYPE || ty == OID_REGNAMESPACE) {
                tr_printf(t, "%s(%s)", ty == OID_REGCLASS ? "wb_regclass_name" : ty == OID_REGTYPE ? "wb_regtype_name"
                                                                                               : "wb_regnamespace_name", etext);
                ty = OID_TEXT;
            } else tr_puts(t, etext);
            free(etext);
        }
        const char *name = rt->name ? rt->name : tr_colname(v);
        tr_puts(t, " AS ");
        if (t->tgt_prefix) tr_printf(t, "\"wb_t%d\"", *ncols + 1);
        else tr_ident(t, name);
        uint32_t toid = 0; int16_t att = 0; int32_t tm = -1;
        if (v->node_case == NC(COLUMN_REF) && pr.count == 1 && pr.table) plain_info(t, &pr, &toid, &att, &tm);
        if (v->node_case == NC(TYPE_CAST)) tr_typename(t, v->type_cast->type_name, &tm);
        if (*ncols >= 0) cols_add(t, cols, ncols, &cap, name, ty, tm, toid, att);
        else (*ncols)++;
    }
}

static void emit_with(tr *t, PgQuery__WithClause *w)
{
    tr_puts(t, w->recursive ? "WITH RECURSIVE " : "WITH ");
    for (size_t i = 0; i < w->n_ctes && !t->failed; i++) {
        PgQuery__CommonTableExpr *c = w->ctes[i]->common_table_expr;
        if (i) tr_puts(t, ", ");
        if (c->search_clause || c->cycle_clause) { tr_fail(t, "0A000", c->location, "SEARCH/CYCLE clauses are not supported"); return; }
        if (!c->ctequery || c->ctequery->node_case != NC(SELECT_STMT)) {
            tr_fail(t, "0A000", c->location, "WITH with a data-modifying statement is not supported");
            return;
        }
        /* register the CTE before its body for WITH RECURSIVE */
        if (t->nctes == t->ctecap) {
            int nc = t->ctecap ? t->ctecap * 2 : 4;
            tr_cte *na = realloc(t->ctes, (size_t)nc * sizeof *na);
            if (!na) { tr_nomem(t); return; }
            t->ctes = na; t->ctecap = nc;
        }
        int idx = t->nctes++;
        tr_cte *ce = &t->ctes[idx];
        memset(ce, 0, sizeof *ce);
        ce->name = tr_strdup(t, c->ctename);
        PgQuery__SelectStmt *q = c->ctequery->select_stmt;
        if (w->recursive && q->op != PG_QUERY__SET_OPERATION__SETOP_NONE && q->larg) {
            /* the non-recursive term decides the columns */
            wb_buf tmp = {0};
            wb_buf *save = t->o;
            t->o = &tmp;
            wb_sql_col *lc = NULL; int ln = 0;
            select_cols(t, q->larg, &lc, &ln);
            t->o = save;
            wb_buf_free(&tmp);
            ce = &t->ctes[idx];
            if (ln > 0) {
                ce->cols = calloc((size_t)ln, sizeof *ce->cols);
                ce->types = calloc((size_t)ln, sizeof *ce->types);
                if (!ce->cols || !ce->types) { tr_nomem(t); cols_free(lc, ln); return; }
                for (int k = 0; k < ln; k++) {
                    const char *nm = (size_t)k < c->n_aliascolnames ? c->aliascolnames[k]->string->sval : lc[k].name;
                    ce->cols[k] = tr_strdup(t, nm);
                    ce->types[k] = lc[k].type_oid;
                }
                ce->ncols = ln;
            }
            cols_free(lc, ln > 0 ? ln : 0);
        }
        tr_ident(t, c->ctename);
        if (c->n_aliascolnames) {
            tr_puts(t, "(");
            for (size_t k = 0; k < c->n_aliascolnames; k++) {
                if (k) tr_puts(t, ", ");
                tr_ident(t, c->aliascolnames[k]->string->sval);
            }
            tr_puts(t, ")");
        }
        tr_puts(t, " AS ");
        if (c->ctematerialized == PG_QUERY__CTEMATERIALIZE__CTEMaterializeAlways) tr_puts(t, "MATERIALIZED ");
        else if (c->ctematerialized == PG_QUERY__CTEMATERIALIZE__CTEMaterializeNever) tr_puts(t, "NOT MATERIALIZED ");
        tr_puts(t, "(");
        wb_sql_col *cc = NULL; int cn = 0;
        tr_scope *saved_sc = t->sc;
        select_cols(t, q, &cc, &cn);
        t->sc = saved_sc;
        tr_puts(t, ")");
        ce = &t->ctes[idx];
        if (!ce->ncols && cn > 0) {
            ce->cols = calloc((size_t)cn, sizeof *ce->cols);
            ce->types = calloc((size_t)cn, sizeof *ce->types);
            if (!ce->cols || !ce->types) { tr_nomem(t); cols_free(cc, cn); return; }
            for (int k = 0; k < cn; k++) {
                const char *nm = (size_t)k < c->n_aliascolnames ? c->aliascolnames[k]->string->sval : cc[k].name;
                ce->cols[k] = tr_strdup(t, nm);
                ce->types[k] = cc[k].type_oid;
            }
            ce->ncols = cn;
        }
        cols_free(cc, cn > 0 ? cn : 0);
    }
    tr_puts(t, " ");
}


/* Exact k-NN (pgvector's "ORDER BY col <op> q LIMIT k"): when the SELECT
 * reads one table, has no WHERE/GROUP BY/HAVING/DISTINCT/OFFSET/window and
 * orders only by a distance between a vector column of that table and an
 * expression not referring to it, the rows are restricted to the k nearest
 * found by wb_knn (translate_vector.c: one pass, bounded heap, contiguous
 * vectors) and ties are broken by rowid. Returns the operator's kind (0 L2,
 * 1 negative inner product, 2 cosine, 3 L1) and fills the names, else -1. */
static int knn_shape(tr *t, PgQuery__SelectStmt *s, const char **table, const char **alias, const char **column,
                     PgQuery__Node **query)
{
    if (s->n_from_clause != 1 || s->where_clause || s->n_group_clause || s->having_clause || s->n_distinct_clause ||
        s->n_window_clause || s->limit_offset || !s->limit_count || s->n_sort_clause != 1 || s->n_locking_clause ||
        s->with_clause || s->limit_option == PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_WITH_TIES)
        return -1;
    if (s->limit_count->node_case == NC(A_CONST) && s->limit_count->a_const->isnull) return -1;
    PgQuery__Node *f = s->from_clause[0];
    if (f->node_case != NC(RANGE_VAR) || !f->range_var->relname || f->range_var->inh == 0) return -1;
    if (f->range_var->schemaname && strcmp(f->range_var->schemaname, "public")) return -1;
    PgQuery__SortBy *sb = s->sort_clause[0]->sort_by;
    if (sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC || sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_USING ||
        sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST)
        return -1;
    PgQuery__Node *e = sb->node;
    if (!e || e->node_case != NC(A_EXPR) || e->a_expr->kind != PG_QUERY__A__EXPR__KIND__AEXPR_OP) return -1;
    const char *op = tr_name_last(e->a_expr->name, e->a_expr->n_name);
    int kind = !strcmp(op, "<->") ? 0 : !strcmp(op, "<#>") ? 1 : !strcmp(op, "<=>") ? 2 : !strcmp(op, "<+>") ? 3 : -1;
    if (kind < 0 || !e->a_expr->lexpr || !e->a_expr->rexpr) return -1;
    PgQuery__Node *colside = e->a_expr->lexpr, *other = e->a_expr->rexpr;
    if (colside->node_case != NC(COLUMN_REF)) { colside = e->a_expr->rexpr; other = e->a_expr->lexpr; }
    if (colside->node_case != NC(COLUMN_REF)) return -1;
    /* the query side: a parameter, a constant or a cast of one */
    PgQuery__Node *q = other;
    while (q->node_case == NC(TYPE_CAST)) q = q->type_cast->arg;
    if (q->node_case != NC(PARAM_REF) && q->node_case != NC(A_CONST)) return -1;
    PgQuery__ColumnRef *c = colside->column_ref;
    const char *rel = f->range_var->alias && f->range_var->alias->aliasname ? f->range_var->alias->aliasname : f->range_var->relname;
    const char *col;
    if (c->n_fields == 1 && c->fields[0]->node_case == NC(STRING)) col = c->fields[0]->string->sval;
    else if (c->n_fields == 2 && c->fields[0]->node_case == NC(STRING) && c->fields[1]->node_case == NC(STRING) &&
             !strcmp(c->fields[0]->string->sval, rel))
        col = c->fields[1]->string->sval;
    else return -1;
    int found;
    if (tr_column_type(t, f->range_var->relname, col, NULL, &found) != OID_VECTOR || !found) return -1;
    if (t->schema && t->schema->table_ddl) {
        /* a base table (a view has no rowid) */
        char *create = NULL, **idx = NULL;
        int nidx = 0;
        int ok = t->schema->table_ddl(t->schema->ctx, f->range_var->relname, &create, &idx, &nidx) && create;
        free(create);
        for (int i = 0; i < nidx; i++) free(idx[i]);
        free(idx);
        if (!ok) return -1;
    }
    *table = f->range_var->relname;
    *alias = rel;
    *column = col;
    *query = other;
    return kind;
}

static void emit_knn_filter(tr *t, PgQuery__SelectStmt *s, int kind, const char *table, const char *alias,
                            const char *column, PgQuery__Node *query)
{
    tr_puts(t, " WHERE ");
    tr_ident(t, alias);
    tr_puts(t, ".rowid IN (SELECT rid FROM wb_knn(");
    tr_string(t, table);
    tr_puts(t, ", ");
    tr_string(t, column);
    tr_printf(t, ", %d, wb_vec_in(", kind);
    tr_expr_want(t, query, OID_VECTOR);
    tr_puts(t, ", -1), ");
    tr_expr_want(t, s->limit_count, OID_INT8);
    /* SET hnsw.ef_search, for an hnsw index with this operator class */
    tr_puts(t, ", CAST(current_setting('hnsw.ef_search', 1) AS INTEGER)))");
}

/* ---------- SELECT ---------- */

static void emit_limit(tr *t, PgQuery__SelectStmt *s)
{
    if (s->limit_option == PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_WITH_TIES) {
        tr_fail(t, "0A000", -1, "FETCH ... WITH TIES is not supported");
        return;
    }
    int has_count = s->limit_count && !(s->limit_count->node_case == NC(A_CONST) && s->limit_count->a_const->isnull);
    if (has_count || s->limit_offset) {
        tr_puts(t, " LIMIT ");
        if (has_count) tr_expr_want(t, s->limit_count, OID_INT8);
        else tr_puts(t, "-1");
        if (s->limit_offset) { tr_puts(t, " OFFSET "); tr_expr_want(t, s->limit_offset, OID_INT8); }
    }
}

/* an ORDER BY / DISTINCT ON item: a position (1) or an output column's
 * name stands for that target's expression */
static PgQuery__Node *target_or(PgQuery__SelectStmt *s, PgQuery__Node *n)
{
    if (n && n->node_case == NC(A_CONST) && n->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL && n->a_const->ival) {
        int k = n->a_const->ival->ival;
        if (k >= 1 && (size_t)k <= s->n_target_list) return s->target_list[k - 1]->res_target->val;
    }
    if (n && n->node_case == NC(COLUMN_REF) && n->column_ref->n_fields == 1 && n->column_ref->fields[0]->node_case == NC(STRING)) {
        const char *nm = n->column_ref->fields[0]->string->sval;
        for (size_t i = 0; i < s->n_target_list; i++) {
            PgQuery__ResTarget *rt = s->target_list[i]->res_target;
            if (rt->name && !strcmp(rt->name, nm)) return rt->val;
        }
    }
    return n;
}

/* Write a SELECT (any form) and describe its columns (*ncols < 0 when
 * they cannot be known at translation). Returns 0 / -1. */
static int select_cols(tr *t, PgQuery__SelectStmt *s, wb_sql_col **cols, int *ncols)
{
    *cols = NULL; *ncols = 0;
    int saved_nctes = t->nctes;
    /* an enclosing SELECT's SRF collection does not reach into this one */
    wb_buf *saved_srf = t->srf;
    int saved_nsrf = t->nsrf;
    wb_buf srf = {0};
    t->srf = NULL;
    if (s->with_clause) emit_with(t, s->with_clause);
    if (s->into_clause) { tr_fail(t, "0A000", -1, "SELECT INTO is not supported"); goto out; }
    if (s->op != PG_QUERY__SET_OPERATION__SETOP_NONE && s->op != 0) {
        wb_sql_col *rc = NULL; int rn = 0;
        /* SQLite wants bare compound members: no parentheses */
        if (s->larg->n_sort_clause || s->larg->limit_count || s->larg->with_clause) {
            tr_puts(t, "SELECT * FROM (");
            select_cols(t, s->larg, cols, ncols);
            tr_puts(t, ")");
        } else select_cols(t, s->larg, cols, ncols);
        switch (s->op) {
        case PG_QUERY__SET_OPERATION__SETOP_UNION: tr_puts(t, s->all ? " UNION ALL " : " UNION "); break;
        case PG_QUERY__SET_OPERATION__SETOP_INTERSECT:
            if (s->all) { tr_fail(t, "0A000", -1, "INTERSECT ALL is not supported"); goto out; }
            tr_puts(t, " INTERSECT "); break;
        default:
            if (s->all) { tr_fail(t, "0A000", -1, "EXCEPT ALL is not supported"); goto out; }
            tr_puts(t, " EXCEPT "); break;
        }
        if (s->rarg->n_sort_clause || s->rarg->limit_count || s->rarg->with_clause ||
            (s->rarg->op != PG_QUERY__SET_OPERATION__SETOP_NONE && s->rarg->op != 0)) {
            tr_puts(t, "SELECT * FROM (");
            select_cols(t, s->rarg, &rc, &rn);
            tr_puts(t, ")");
        } else select_cols(t, s->rarg, &rc, &rn);
        /* unknown-typed literals on the left take the right's types */
        for (int i = 0; i < *ncols && i < rn; i++)
            if ((*cols)[i].type_oid == OID_TEXT && rc[i].type_oid && rc[i].type_oid != OID_TEXT) (*cols)[i].type_oid = 0;
        cols_free(rc, rn > 0 ? rn : 0);
        if (s->n_sort_clause) { tr_puts(t, " ORDER BY "); emit_sort(t, s->sort_clause, s->n_sort_clause); }
        emit_limit(t, s);
        goto out;
    }
    if (s->n_values_lists) {
        int cap = 0;
        tr_puts(t, "VALUES ");
        for (size_t r = 0; r < s->n_values_lists && !t->failed; r++) {
            PgQuery__List *row = s->values_lists[r]->list;
            if (r) tr_puts(t, ", ");
            tr_puts(t, "(");
            for (size_t c = 0; c < row->n_items; c++) {
                if (c) tr_puts(t, ", ");
                uint32_t ty = tr_expr(t, row->items[c]);
                if (r == 0) {
                    char nm[32];
                    snprintf(nm, sizeof nm, "column%zu", c + 1);
                    cols_add(t, cols, ncols, &cap, nm, ty, -1, 0, 0);
                }
            }
            tr_puts(t, ")");
        }
        if (s->n_sort_clause) { tr_puts(t, " ORDER BY "); emit_sort(t, s->sort_clause, s->n_sort_clause); }
        emit_limit(t, s);
        goto out;
    }
    tr_scope sc;
    tr_scope_push(t, &sc);
    /* FROM first (its relations are what the targets see), written into a
     * side buffer, then assembled in SQL order */
    wb_buf from = {0};
    wb_buf *save = t->o;
    t->o = &from;
    for (size_t i = 0; i < s->n_from_clause && !t->failed; i++) {
        if (i) tr_puts(t, ", ");
        tr_from_item(t, s->from_clause[i], &sc);
    }
    t->o = save;
    int distinct_on = s->n_distinct_clause && !(s->n_distinct_clause == 1 &&
                      (s->distinct_clause[0] == NULL || s->distinct_clause[0]->node_case == PG_QUERY__NODE__NODE__NOT_SET));
    wb_buf inner = {0};
    wb_buf *outer_o = t->o;
    if (distinct_on) {
        /* DISTINCT ON: the first row of each group in ORDER BY order, as
         * row_number() over a partition by the DISTINCT ON expressions */
        if (s->n_window_clause) { tr_fail(t, "0A000", -1, "DISTINCT ON with a WINDOW clause is not supported"); }
        t->o = &inner;
        t->tgt_prefix++;
    }
    tr_puts(t, "SELECT ");
    if (s->n_distinct_clause && !distinct_on) tr_puts(t, "DISTINCT ");
    if (!distinct_on) { t->srf = &srf; t->nsrf = 0; }
    emit_targets(t, s->target_list, s->n_target_list, cols, ncols);
    int nsrf = t->srf ? t->nsrf : 0;
    t->srf = NULL;
    if (distinct_on) {
        t->tgt_prefix--;
        if (*ncols < 0) tr_fail(t, "0A000", -1, "DISTINCT ON with columns not known at translation is not supported");
        for (size_t i = 0; i < s->n_sort_clause && !t->failed; i++) {
            tr_puts(t, ", ");
            tr_expr(t, target_or(s, s->sort_clause[i]->sort_by->node));
            tr_printf(t, " AS \"wb_s%zu\"", i + 1);
        }
        tr_puts(t, ", row_number() OVER (PARTITION BY ");
        for (size_t i = 0; i < s->n_distinct_clause && !t->failed; i++) {
            if (i) tr_puts(t, ", ");
            tr_expr(t, target_or(s, s->distinct_clause[i]));
        }
        if (s->n_sort_clause) {
            tr_puts(t, " ORDER BY ");
            for (size_t i = 0; i < s->n_sort_clause && !t->failed; i++) {
                PgQuery__SortBy *sb = s->sort_clause[i]->sort_by;
                int desc = sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
                if (i) tr_puts(t, ", ");
                uint32_t sty = tr_expr(t, target_or(s, sb->node));
                if (sty == OID_NUMERIC) tr_puts(t, " COLLATE wb_numeric");
                tr_puts(t, desc ? " DESC" : " ASC");
                if (sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST) tr_puts(t, " NULLS FIRST");
                else if (sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST) tr_puts(t, " NULLS LAST");
                else tr_puts(t, desc ? " NULLS FIRST" : " NULLS LAST");
            }
        }
        tr_puts(t, ") AS \"wb_rn\"");
    }
    if (s->n_from_clause && !t->failed) {
        tr_puts(t, " FROM ");
        if (wb_buf_append(t->o, from.p, from.len) != 0) tr_nomem(t);
    }
    wb_buf_free(&from);
    if (nsrf && !t->failed) {
        /* set-returning functions in the select list (PostgreSQL 15 docs
         * §9.25, "Set-Returning Functions" in the target list): each row of
         * FROM gives as many rows as its longest SRF, the SRFs run in
         * lockstep and a shorter one gives NULL past its end. Written as a
         * join with the ordinals 1..max(rows); each SRF reads its element
         * at wb_srf.value; CROSS JOIN keeps it after the relations its
         * arguments read (SQLite does not reorder CROSS JOIN). */
        tr_puts(t, s->n_from_clause ? " CROSS JOIN " : " FROM ");
        tr_printf(t, "generate_series(1, max(%.*s0)) AS wb_srf", (int)srf.len, srf.p ? (const char *)srf.p : "");
    }
    wb_buf_free(&srf);
    const char *knn_table = NULL, *knn_alias = NULL, *knn_column = NULL;
    PgQuery__Node *knn_query = NULL;
    int knn = t->failed ? -1 : knn_shape(t, s, &knn_table, &knn_alias, &knn_column, &knn_query);
    if (knn >= 0) emit_knn_filter(t, s, knn, knn_table, knn_alias, knn_column, knn_query);
    if (s->where_clause) { tr_puts(t, " WHERE "); tr_expr_want(t, s->where_clause, OID_BOOL); }
    if (s->n_group_clause) {
        tr_puts(t, " GROUP BY ");
        for (size_t i = 0; i < s->n_group_clause && !t->failed; i++) {
            if (i) tr_puts(t, ", ");
            PgQuery__Node *g = s->group_clause[i];
            if (g->node_case == NC(GROUPING_SET)) { tr_fail(t, "0A000", -1, "GROUPING SETS / ROLLUP / CUBE are not supported"); break; }
            int pos = g->node_case == NC(A_CONST);
            t->nolift += pos;
            tr_expr(t, g);
            t->nolift -= pos;
        }
    }
    if (s->having_clause) { tr_puts(t, " HAVING "); tr_expr(t, s->having_clause); }
    if (s->n_window_clause) {
        tr_puts(t, " WINDOW ");
        for (size_t i = 0; i < s->n_window_clause && !t->failed; i++) {
            PgQuery__WindowDef *w = s->window_clause[i]->window_def;
            if (i) tr_puts(t, ", ");
            tr_ident(t, w->name);
            tr_puts(t, " AS ");
            PgQuery__Node wn = PG_QUERY__NODE__INIT;
            wn.node_case = NC(WINDOW_DEF);
            wn.window_def = w;
            tr_expr(t, &wn);
        }
    }
    if (distinct_on) {
        t->o = outer_o;
        tr_puts(t, "SELECT ");
        for (int i = 0; i < *ncols; i++) {
            if (i) tr_puts(t, ", ");
            tr_printf(t, "\"wb_t%d\" AS ", i + 1);
            tr_ident(t, (*cols)[i].name);
        }
        tr_puts(t, " FROM (");
        if (!t->failed && wb_buf_append(t->o, inner.p, inner.len) != 0) tr_nomem(t);
        tr_puts(t, ") WHERE \"wb_rn\" = 1");
        if (s->n_sort_clause) {
            tr_puts(t, " ORDER BY ");
            for (size_t i = 0; i < s->n_sort_clause; i++) {
                PgQuery__SortBy *sb = s->sort_clause[i]->sort_by;
                int desc = sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
                if (i) tr_puts(t, ", ");
                tr_printf(t, "\"wb_s%zu\"%s", i + 1, desc ? " DESC" : " ASC");
                if (sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST) tr_puts(t, " NULLS FIRST");
                else if (sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST) tr_puts(t, " NULLS LAST");
                else tr_puts(t, desc ? " NULLS FIRST" : " NULLS LAST");
            }
        }
        wb_buf_free(&inner);
    } else if (s->n_sort_clause) {
        tr_puts(t, " ORDER BY ");
        emit_sort_in(t, s->sort_clause, s->n_sort_clause, s);
        if (knn >= 0) { tr_puts(t, ", "); tr_ident(t, knn_alias); tr_puts(t, ".rowid"); }
    }
    emit_limit(t, s);
    tr_scope_pop(t, &sc);
out:
    wb_buf_free(&srf);
    t->srf = saved_srf;
    t->nsrf = saved_nsrf;
    for (int i = saved_nctes; i < t->nctes; i++) {
        free(t->ctes[i].name);
        for (int k = 0; k < t->ctes[i].ncols; k++) free(t->ctes[i].cols[k]);
        free(t->ctes[i].cols); free(t->ctes[i].types);
    }
    t->nctes = saved_nctes;
    return t->failed ? -1 : 0;
}

int tr_select(tr *t, PgQuery__SelectStmt *s, wb_sql_stmt *st, int top)
{
    wb_sql_col *cols = NULL;
    int n = 0;
    (void)top;
    select_cols(t, s, &cols, &n);
    if (st && !t->failed) {
        st->returns_rows = 1;
        if (n >= 0) { st->cols = cols; st->ncols = n; cols = NULL; }
    }
    cols_free(cols, n > 0 ? n : 0);
    return t->failed ? -1 : 0;
}

/* a subquery used in an expression: write it and return its first column's type */
uint32_t tr_subselect(tr *t, PgQuery__Node *n, int *ncols_out);
uint32_t tr_subselect(tr *t, PgQuery__Node *n, int *ncols_out)
{
    if (n->node_case != NC(SELECT_STMT)) { tr_fail(t, "0A000", -1, "subquery of this kind is not supported"); return 0; }
    wb_sql_col *cols = NULL; int nc = 0;
    select_cols(t, n->select_stmt, &cols, &nc);
    uint32_t ty = nc > 0 ? cols[0].type_oid : 0;
    if (ncols_out) *ncols_out = nc;
    cols_free(cols, nc > 0 ? nc : 0);
    return ty;
}

/* ---------- RETURNING ---------- */

static void emit_returning(tr *t, PgQuery__Node **rl, size_t n, wb_sql_stmt *st)
{
    if (!n) return;
    tr_puts(t, " RETURNING ");
    wb_sql_col *cols = NULL; int nc = 0;
    emit_targets(t, rl, n, &cols, &nc);
    st->returns_rows = 1;
    if (nc >= 0) { st->cols = cols; st->ncols = nc; }
    else cols_free(cols, 0);
}

/* ---------- INSERT ---------- */

static void table_cols(tr *t, const char *table, char ***names, uint32_t **oids, int *n, int location)
{
    int32_t *tms = NULL;
    *names = NULL; *oids = NULL; *n = 0;
    if (!t->schema || !t->schema->table_columns) return;
    if (!t->schema->table_columns(t->schema->ctx, table, names, oids, &tms, n)) {
        tr_fail(t, "42P01", location, "relation \"%s\" does not exist", table);
        *n = 0;
    }
    free(tms);
}
static void names_free(char **names, uint32_t *oids, int n)
{
    for (int i = 0; i < n; i++) free(names[i]);
    free(names); free(oids);
}

static int stmt_insert(tr *t, PgQuery__InsertStmt *s, wb_sql_stmt *st)
{
    const char *table = tr_relname(t, s->relation);
    char **tcols = NULL; uint32_t *toids = NULL; int ntc = 0;
    table_cols(t, table, &tcols, &toids, &ntc, s->relation->location);
    if (t->failed) return -1;
    if (s->with_clause) emit_with(t, s->with_clause);
    /* target columns and their types */
    size_t ncols = s->n_cols ? s->n_cols : (size_t)ntc;
    uint32_t *want = calloc(ncols + 1, sizeof *want);
    int32_t *wmod = calloc(ncols + 1, sizeof *wmod);
    const char **names = calloc(ncols + 1, sizeof *names);
    char *omit = calloc(ncols + 1, 1);
    if (!want || !names || !omit || !wmod) { tr_nomem(t); goto done; }
    for (size_t i = 0; i < ncols; i++) {
        if (s->n_cols) {
            PgQuery__ResTarget *rt = s->cols[i]->res_target;
            if (rt->n_indirection) { tr_fail(t, "0A000", rt->location, "INSERT into a subfield or array element is not supported"); goto done; }
            names[i] = rt->name;
            int found = 0;
            want[i] = tr_column_type(t, table, rt->name, &wmod[i], &found);
            if (!found && t->schema && t->schema->column_type) {
                tr_fail(t, "42703", rt->location, "column \"%s\" of relation \"%s\" does not exist", rt->name, table);
                goto done;
            }
        } else {
            int found;
            names[i] = tcols[i];
            want[i] = toids[i];
            tr_column_type(t, table, tcols[i], &wmod[i], &found);
        }
    }
    PgQuery__SelectStmt *sel = s->select_stmt ? s->select_stmt->select_stmt : NULL;
    /* DEFAULT in VALUES: SQLite has none; a column that is DEFAULT in every
     * row is left out of the column list */
    if (sel && sel->n_values_lists) {
        for (size_t c = 0; c < ncols; c++) {
            size_t ndef = 0;
            for (size_t r = 0; r < sel->n_values_lists; r++) {
                PgQuery__List *row = sel->values_lists[r]->list;
                if (c < row->n_items && row->items[c]->node_case == NC(SET_TO_DEFAULT)) ndef++;
            }
            if (ndef == sel->n_values_lists) omit[c] = 1;
            else if (ndef) { tr_fail(t, "0A000", -1, "DEFAULT for a column in only some rows of a multi-row VALUES is not supported"); goto done; }
        }
        for (size_t r = 0; r < sel->n_values_lists; r++) {
            PgQuery__List *row = sel->values_lists[r]->list;
            if (row->n_items > ncols) { tr_fail(t, "42601", -1, "INSERT has more expressions than target columns"); goto done; }
            if (row->n_items < ncols && s->n_cols) { tr_fail(t, "42601", -1, "INSERT has more target columns than expressions"); goto done; }
        }
    }
    size_t nkept = 0;
    for (size_t c = 0; c < ncols; c++) nkept += !omit[c];
    tr_puts(t, "INSERT INTO ");
    tr_ident(t, table);
    if (s->relation->alias) { tr_puts(t, " AS "); tr_ident(t, s->relation->alias->aliasname); }
    if (!sel) { tr_puts(t, " DEFAULT VALUES"); }
    else {
        size_t nvals = ncols;
        if (sel->n_values_lists) nvals = sel->values_lists[0]->list->n_items;
        else if (!s->n_cols) nvals = sel->n_target_list;
        if (nkept == 0) tr_puts(t, " DEFAULT VALUES");
        else {
            tr_puts(t, " (");
            int first = 1;
            for (size_t c = 0; c < ncols && c < nvals; c++) {
                if (omit[c]) continue;
                if (!first) tr_puts(t, ", ");
                first = 0;
                tr_ident(t, names[c]);
            }
            tr_puts(t, ") ");
            if (sel->n_values_lists) {
                tr_scope sc;
                tr_scope_push(t, &sc);
                tr_puts(t, "VALUES ");
                for (size_t r = 0; r < sel->n_values_lists && !t->failed; r++) {
                    PgQuery__List *row = sel->values_lists[r]->list;
                    if (r) tr_puts(t, ", ");
                    tr_puts(t, "(");
                    int f = 1;
                    for (size_t c = 0; c < row->n_items; c++) {
                        if (omit[c]) continue;
                        if (!f) tr_puts(t, ", ");
                        f = 0;
                        tr_assign_column(t, row->items[c], table, names[c], want[c], wmod[c]);
                    }
                    tr_puts(t, ")");
                }
                tr_scope_pop(t, &sc);
            } else {
                /* INSERT ... SELECT: the SELECT's parameters/literals take
                 * the target columns' types */
                for (size_t c = 0; c < sel->n_target_list && c < ncols; c++) {
                    PgQuery__Node *v = sel->target_list[c]->res_target->val;
                    if (v && v->node_case == NC(PARAM_REF)) tr_param_type(t, v->param_ref->number, want[c]);
                }
                wb_sql_col *cc = NULL; int cn = 0;
                /* "INSERT ... SELECT ... FROM t ON CONFLICT": SQLite needs a
                 * WHERE to parse the upsert, so wrap the SELECT */
                int wrap = s->on_conflict_clause != NULL;
                if (wrap) tr_puts(t, "SELECT * FROM (");
                select_cols(t, sel, &cc, &cn);
                if (wrap) tr_puts(t, ") WHERE true");
                cols_free(cc, cn > 0 ? cn : 0);
            }
        }
    }
    if (s->on_conflict_clause && !t->failed) {
        PgQuery__OnConflictClause *oc = s->on_conflict_clause;
        tr_puts(t, " ON CONFLICT");
        if (oc->infer) {
            if (oc->infer->conname) { tr_fail(t, "0A000", oc->location, "ON CONFLICT ON CONSTRAINT is not supported"); goto done; }
            tr_puts(t, " (");
            for (size_t i = 0; i < oc->infer->n_index_elems; i++) {
                if (i) tr_puts(t, ", ");
                PgQuery__IndexElem *ie = oc->infer->index_elems[i]->index_elem;
                if (ie->name) tr_ident(t, ie->name);
                else tr_expr(t, ie->expr);
            }
            tr_puts(t, ")");
            if (oc->infer->where_clause) { tr_puts(t, " WHERE "); tr_expr(t, oc->infer->where_clause); }
        }
        if (oc->action == PG_QUERY__ON_CONFLICT_ACTION__ONCONFLICT_NOTHING) tr_puts(t, " DO NOTHING");
        else {
            if (!oc->infer) { tr_fail(t, "42601", oc->location, "ON CONFLICT DO UPDATE requires inference specification or constraint name"); goto done; }
            tr_puts(t, " DO UPDATE SET ");
            tr_scope sc;
            tr_scope_push(t, &sc);
            tr_scope_add(t, &sc, s->relation->alias ? s->relation->alias->aliasname : table, table);
            tr_scope_add(t, &sc, "excluded", table);
            for (size_t i = 0; i < oc->n_target_list && !t->failed; i++) {
                PgQuery__ResTarget *rt = oc->target_list[i]->res_target;
                if (i) tr_puts(t, ", ");
                tr_ident(t, rt->name);
                tr_puts(t, " = ");
                int found;
                int32_t tm;
                uint32_t w = tr_column_type(t, table, rt->name, &tm, &found);
                tr_assign_column(t, rt->val, table, rt->name, w, tm);
            }
            if (oc->where_clause) { tr_puts(t, " WHERE "); tr_expr(t, oc->where_clause); }
            tr_scope_pop(t, &sc);
        }
    }
    if (s->n_returning_list && !t->failed) {
        tr_scope sc;
        tr_scope_push(t, &sc);
        tr_scope_add(t, &sc, s->relation->alias ? s->relation->alias->aliasname : table, table);
        emit_returning(t, s->returning_list, s->n_returning_list, st);
        tr_scope_pop(t, &sc);
    }
done:
    free(want); free(wmod); free(names); free(omit);
    names_free(tcols, toids, ntc);
    return t->failed ? -1 : 0;
}

/* ---------- UPDATE / DELETE ---------- */

static int stmt_update(tr *t, PgQuery__UpdateStmt *s, wb_sql_stmt *st)
{
    const char *table = tr_relname(t, s->relation);
    const char *alias = s->relation->alias ? s->relation->alias->aliasname : table;
    if (s->with_clause) emit_with(t, s->with_clause);
    tr_scope sc;
    tr_scope_push(t, &sc);
    tr_rel *r = tr_scope_add(t, &sc, alias, table);
    if (r && t->schema && t->schema->table_columns && !rel_load_columns(t, r))
        tr_fail(t, "42P01", s->relation->location, "relation \"%s\" does not exist", table);
    wb_buf from = {0};
    wb_buf *save = t->o;
    t->o = &from;
    for (size_t i = 0; i < s->n_from_clause && !t->failed; i++) {
        if (i) tr_puts(t, ", ");
        tr_from_item(t, s->from_clause[i], &sc);
    }
    t->o = save;
    tr_puts(t, "UPDATE ");
    tr_ident(t, table);
    if (s->relation->alias) { tr_puts(t, " AS "); tr_ident(t, alias); }
    tr_puts(t, " SET ");
    for (size_t i = 0; i < s->n_target_list && !t->failed; i++) {
        PgQuery__ResTarget *rt = s->target_list[i]->res_target;
        if (i) tr_puts(t, ", ");
        if (rt->n_indirection) { tr_fail(t, "0A000", rt->location, "UPDATE of a subfield or array element is not supported"); break; }
        int found;
        int32_t tm;
        uint32_t w = tr_column_type(t, table, rt->name, &tm, &found);
        if (!found && t->schema && t->schema->column_type) {
            tr_fail(t, "42703", rt->location, "column \"%s\" of relation \"%s\" does not exist", rt->name, table);
            break;
        }
        tr_ident(t, rt->name);
        tr_puts(t, " = ");
        if (rt->val->node_case == NC(MULTI_ASSIGN_REF)) {
            PgQuery__MultiAssignRef *m = rt->val->multi_assign_ref;
            if (m->source->node_case != NC(ROW_EXPR) || m->colno < 1 || (size_t)m->colno > m->source->row_expr->n_args) {
                tr_fail(t, "0A000", rt->location, "multiple-column UPDATE from a subquery is not supported");
                break;
            }
            tr_assign_column(t, m->source->row_expr->args[m->colno - 1], table, rt->name, w, tm);
        } else if (rt->val->node_case == NC(SET_TO_DEFAULT)) {
            tr_fail(t, "0A000", rt->location, "UPDATE ... SET col = DEFAULT is not supported");
            break;
        } else tr_assign_column(t, rt->val, table, rt->name, w, tm);
    }
    if (s->n_from_clause && !t->failed) {
        tr_puts(t, " FROM ");
        if (wb_buf_append(t->o, from.p, from.len) != 0) tr_nomem(t);
    }
    wb_buf_free(&from);
    if (s->where_clause) { tr_puts(t, " WHERE "); tr_expr_want(t, s->where_clause, OID_BOOL); }
    emit_returning(t, s->returning_list, s->n_returning_list, st);
    tr_scope_pop(t, &sc);
    return t->failed ? -1 : 0;
}

static int stmt_delete(tr *t, PgQuery__DeleteStmt *s, wb_sql_stmt *st)
{
    const char *table = tr_relname(t, s->relation);
    const char *alias = s->relation->alias ? s->relation->alias->aliasname : table;
    if (s->with_clause) emit_with(t, s->with_clause);
    tr_scope sc;
    tr_scope_push(t, &sc);
    tr_rel *r = tr_scope_add(t, &sc, alias, table);
    if (r && t->schema && t->schema->table_columns && !rel_load_columns(t, r))
        tr_fail(t, "42P01", s->relation->location, "relation \"%s\" does not exist", table);
    tr_puts(t, "DELETE FROM ");
    tr_ident(t, table);
    if (s->relation->alias) { tr_puts(t, " AS "); tr_ident(t, alias); }
    if (s->n_using_clause) {
        /* DELETE ... USING: SQLite has none; rewrite as a rowid subquery */
        tr_puts(t, " WHERE rowid IN (SELECT ");
        tr_ident(t, alias);
        tr_puts(t, ".rowid FROM ");
        tr_ident(t, table);
        if (s->relation->alias) { tr_puts(t, " AS "); tr_ident(t, alias); }
        for (size_t i = 0; i < s->n_using_clause && !t->failed; i++) {
            tr_puts(t, ", ");
            tr_from_item(t, s->using_clause[i], &sc);
        }
        if (s->where_clause) { tr_puts(t, " WHERE "); tr_expr_want(t, s->where_clause, OID_BOOL); }
        tr_puts(t, ")");
    } else if (s->where_clause) { tr_puts(t, " WHERE "); tr_expr_want(t, s->where_clause, OID_BOOL); }
    emit_returning(t, s->returning_list, s->n_returning_list, st);
    tr_scope_pop(t, &sc);
    return t->failed ? -1 : 0;
}

/* ---------- statements ---------- */

static int stmt_translate(tr *t, PgQuery__Node *n, wb_sql_stmt *st)
{
    st->kind = WB_SQL_RUN;
    switch (n->node_case) {
    case NC(SELECT_STMT):
        st->tag = tr_strdup(t, "SELECT");
        if (n->select_stmt->n_locking_clause) {
            /* FOR UPDATE/SHARE: SQLite takes the database write lock at the
             * first write of the transaction; rows cannot change under a
             * reader in the same transaction, so the clause is dropped */
        }
        return tr_select(t, n->select_stmt, st, 1);
    case NC(INSERT_STMT): st->tag = tr_strdup(t, "INSERT"); return stmt_insert(t, n->insert_stmt, st);
    case NC(UPDATE_STMT): st->tag = tr_strdup(t, "UPDATE"); return stmt_update(t, n->update_stmt, st);
    case NC(DELETE_STMT): st->tag = tr_strdup(t, "DELETE"); return stmt_delete(t, n->delete_stmt, st);
    default: break;
    }
    int r = tr_stmt_ddl(t, n, st);
    if (r != 1) return r;
    r = tr_stmt_utility(t, n, st);
    if (r != 1) return r;
    tr_fail(t, "0A000", -1, "%s is not supported", tr_node_name(n));
    return -1;
}

void wb_sql_stmt_free(wb_sql_stmt *s)
{
    if (!s) return;
    free(s->tag);
    for (int i = 0; i < s->nsqlite; i++) free(s->sqlite[i]);
    free(s->sqlite);
    cols_free(s->cols, s->ncols);
    free(s->param_oids);
    free(s->name); free(s->value);
    wb_sql_stmt_free(s->inner);
    for (int i = 0; i < s->nargs; i++) free(s->args[i]);
    free(s->args);
    for (int i = 0; i < s->nlits; i++) free(s->lit_values[i]);
    free(s->lit_values); free(s->lit_oids); free(s->lit_tokens);
    if (s->copy) {
        wb_sql_copy *c = s->copy;
        free(c->table);
        for (int i = 0; i < c->ncolumns; i++) free(c->columns[i]);
        free(c->columns);
        wb_sql_stmt_free(c->query);
        free(c->null_string);
        for (int i = 0; i < c->nforce_quote; i++) free(c->force_quote[i]);
        free(c->force_quote);
        for (int i = 0; i < c->nforce_not_null; i++) free(c->force_not_null[i]);
        free(c->force_not_null);
        for (int i = 0; i < c->nforce_null; i++) free(c->force_null[i]);
        free(c->force_null);
        free(c);
    }
    free(s);
}

void wb_sql_list_free(wb_sql_list *l)
{
    if (!l) return;
    for (int i = 0; i < l->n; i++) wb_sql_stmt_free(l->stmts[i]);
    free(l->stmts);
    l->stmts = NULL; l->n = 0;
}

static void tr_release(tr *t)
{
    for (int i = 0; i < t->npre; i++) free(t->pre[i]);
    for (int i = 0; i < t->npost; i++) free(t->post[i]);
    free(t->pre); free(t->post);
    t->pre = t->post = NULL;
    t->npre = t->npost = t->precap = t->postcap = 0;
    free(t->ptypes);
    t->ptypes = NULL; t->nparams = t->pcap = 0;
    free(t->pdomains);
    t->pdomains = NULL; t->npdomains = 0;
    free(t->pchecks);
    t->pchecks = NULL; t->npchecks = 0;
    t->rebuild = 0;
    free(t->ctes);
    t->ctes = NULL; t->nctes = t->ctecap = 0;
    for (int i = 0; i < t->nlits; i++) free(t->lits[i].value);
    free(t->lits);
    t->lits = NULL; t->nlits = t->litcap = 0;
}

/* replace the lifted-literal markers by ?(base + index) */
static char *renumber(tr *t, char *sql, int base)
{
    if (!strchr(sql, '\x01')) return sql;
    wb_buf b = {0};
    for (const char *p = sql; *p; p++) {
        if (*p == '\x01') {
            char *e;
            long idx = strtol(p + 1, &e, 10);
            if (*e == '\x02') {
                char num[24];
                snprintf(num, sizeof num, "?%ld", base + idx);
                if (wb_buf_puts(&b, num) != 0) tr_nomem(t);
                p = e;
                continue;
            }
        }
        if (wb_buf_putc(&b, (uint8_t)*p) != 0) tr_nomem(t);
    }
    free(sql);
    return tr_buf_take(t, &b);
}

/* Translate one parsed statement into st (allocated by the caller). */
int tr_translate_node(tr *t, PgQuery__Node *node, int location, int len, wb_sql_stmt *st);
int tr_translate_node(tr *t, PgQuery__Node *node, int location, int len, wb_sql_stmt *st)
{
    (void)len;
    st->location = location;
    wb_buf out = {0};
    t->o = &out;
    for (int i = 0; i < t->ngiven_internal && !t->failed; i++) {
        uint32_t g = t->given_internal[i];
        wb_sql_domain d = {0};
        if (WB_SQL_IS_DOMAIN_OID(g)) {
            if (!t->schema || !t->schema->domain_by_oid || !t->schema->domain_by_oid(t->schema->ctx, g, &d)) {
                tr_fail(t, "42704", -1, "type with OID %u does not exist", g);
                break;
            }
            g = d.base_oid;
            if (d.not_null || d.has_check) {
                if (!t->pchecks) {
                    t->pchecks = calloc((size_t)t->ngiven_internal, sizeof *t->pchecks);
                    if (!t->pchecks) { tr_nomem(t); break; }
                    t->npchecks = t->ngiven_internal;
                }
                t->pchecks[i] = d.oid;
            }
        }
        tr_param_type(t, i + 1, g);
    }
    int lift = t->lift;
    t->lift = lift && (node->node_case == NC(SELECT_STMT) || node->node_case == NC(INSERT_STMT) ||
                       node->node_case == NC(UPDATE_STMT) || node->node_case == NC(DELETE_STMT));
    int r = stmt_translate(t, node, st);
    t->lift = lift;
    st->fk_off = t->rebuild;
    if (r == 0 && !t->failed && st->kind == WB_SQL_RUN) {
        int total = t->npre + 1 + t->npost;
        int has_main = out.len > 0;
        if (!has_main) total--;
        st->sqlite = calloc((size_t)(total > 0 ? total : 1), sizeof *st->sqlite);
        if (!st->sqlite) tr_nomem(t);
        else {
            for (int i = 0; i < t->npre; i++) { st->sqlite[st->nsqlite++] = t->pre[i]; t->pre[i] = NULL; }
            t->npre = 0;
            if (has_main) st->sqlite[st->nsqlite++] = tr_buf_take(t, &out);
            for (int i = 0; i < t->npost; i++) { st->sqlite[st->nsqlite++] = t->post[i]; t->post[i] = NULL; }
            t->npost = 0;
        }
    }
    wb_buf_free(&out);
    if (!t->failed && t->nparams) {
        if (!st->param_oids) {
            st->param_oids = malloc((size_t)t->nparams * sizeof *st->param_oids);
            if (!st->param_oids) tr_nomem(t);
            else {
                memcpy(st->param_oids, t->ptypes, (size_t)t->nparams * sizeof *st->param_oids);
                st->nparams = t->nparams;
                /* a parameter assigned to a column of a domain shows the
                 * domain (unless Parse gave its type) */
                for (int i = 0; i < t->npdomains && i < t->nparams; i++)
                    if (t->pdomains[i] && !(i < t->ngiven_internal && t->given_internal[i]))
                        st->param_oids[i] = t->pdomains[i];
            }
        }
    }
    /* a parameter whose type nothing decides is text, as PostgreSQL
     * resolves unknown */
    for (int i = 0; i < st->nparams; i++)
        if (st->param_oids[i] == OID_UNKNOWN || st->param_oids[i] == 0) st->param_oids[i] = OID_TEXT;
    if (!t->failed && t->nlits) {
        for (int i = 0; i < st->nsqlite; i++) st->sqlite[i] = renumber(t, st->sqlite[i], st->nparams + 1);
        st->lit_values = calloc((size_t)t->nlits, sizeof *st->lit_values);
        st->lit_oids = calloc((size_t)t->nlits, sizeof *st->lit_oids);
        st->lit_tokens = calloc((size_t)t->nlits, sizeof *st->lit_tokens);
        if (!st->lit_values || !st->lit_oids || !st->lit_tokens) tr_nomem(t);
        else {
            for (int i = 0; i < t->nlits; i++) {
                st->lit_values[i] = t->lits[i].value;
                t->lits[i].value = NULL;
                st->lit_oids[i] = t->lits[i].oid;
                st->lit_tokens[i] = t->lits[i].location; /* a byte offset until the cache maps it */
            }
            st->nlits = t->nlits;
        }
    }
    int failed = t->failed;
    tr_release(t);
    return failed ? -1 : 0;
}

/* protobuf-c leaves unset proto3 string fields pointing at an empty
 * string; the walkers test for NULL (as in PostgreSQL's own nodes), so
 * empty strings become NULL everywhere except in String/BitString values,
 * where '' is a real value. */
static void null_empty_strings(ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    int keep = d == &pg_query__string__descriptor || d == &pg_query__bit_string__descriptor;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        char *base = (char *)m + f->offset;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            uint32_t which = *(uint32_t *)((char *)m + f->quantifier_offset);
            if (which != f->id) continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            if (f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
            size_t n = *(size_t *)((char *)m + f->quantifier_offset);
            ProtobufCMessage **arr = *(ProtobufCMessage ***)base;
            for (size_t k = 0; k < n; k++) if (arr[k]) null_empty_strings(arr[k]);
        } else if (f->type == PROTOBUF_C_TYPE_STRING) {
            char **sp = (char **)base;
            if (!keep && *sp && !**sp) *sp = NULL;
        } else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
            ProtobufCMessage *sub = *(ProtobufCMessage **)base;
            if (sub) null_empty_strings(sub);
        }
    }
}

int tr_translate_lift(const char *sql, const uint32_t *given_oids, int ngiven, const wb_sql_schema *schema,
                      wb_sql_list *out, wb_sql_error *err, int lift);
int wb_sql_translate(const char *sql, const uint32_t *given_oids, int ngiven, const wb_sql_schema *schema,
                     wb_sql_list *out, wb_sql_error *err)
{
    return tr_translate_lift(sql, given_oids, ngiven, schema, out, err, 0);
}

int tr_translate_lift(const char *sql, const uint32_t *given_oids, int ngiven, const wb_sql_schema *schema,
                      wb_sql_list *out, wb_sql_error *err, int lift)
{
    memset(out, 0, sizeof *out);
    memset(err, 0, sizeof *err);
    PgQueryProtobufParseResult pr = pg_query_parse_protobuf(sql);
    if (pr.error) {
        snprintf(err->message, sizeof err->message, "%s", pr.error->message);
        memcpy(err->sqlstate, "42601", 6);
        err->position = pr.error->cursorpos;
        pg_query_free_protobuf_parse_result(pr);
        return -1;
    }
    PgQuery__ParseResult *res = pg_query__parse_result__unpack(NULL, pr.parse_tree.len,
                                                               (const uint8_t *)pr.parse_tree.data);
    pg_query_free_protobuf_parse_result(pr);
    if (!res) {
        memcpy(err->sqlstate, "XX000", 6);
        snprintf(err->message, sizeof err->message, "could not decode the parse tree");
        return -1;
    }
    null_empty_strings(&res->base);
    int rc = 0;
    size_t n = res->n_stmts ? res->n_stmts : 1;
    out->stmts = calloc(n, sizeof *out->stmts);
    if (!out->stmts) goto nomem;
    if (res->n_stmts == 0) {
        wb_sql_stmt *st = calloc(1, sizeof *st);
        if (!st) goto nomem;
        st->kind = WB_SQL_EMPTY;
        out->stmts[out->n++] = st;
    }
    for (size_t i = 0; i < res->n_stmts; i++) {
        PgQuery__RawStmt *raw = res->stmts[i];
        wb_sql_stmt *st = calloc(1, sizeof *st);
        if (!st) goto nomem;
        out->stmts[out->n++] = st;
        tr t;
        memset(&t, 0, sizeof t);
        t.src = sql;
        t.schema = schema;
        t.err = err;
        t.given_internal = given_oids;
        t.ngiven_internal = ngiven;
        t.lift = lift && !strchr(sql, '\x01');
        if (!raw->stmt) { st->kind = WB_SQL_EMPTY; continue; }
        if (tr_translate_node(&t, raw->stmt, raw->stmt_location, raw->stmt_len, st) != 0) {
            rc = -1;
            break;
        }
    }
    pg_query__parse_result__free_unpacked(res, NULL);
    if (rc) wb_sql_list_free(out);
    return rc;
nomem:
    pg_query__parse_result__free_unpacked(res, NULL);
    wb_sql_list_free(out);
    memcpy(err->sqlstate, "53200", 6);
    snprintf(err->message, sizeof err->message, "out of memory");
    return -1;
}
