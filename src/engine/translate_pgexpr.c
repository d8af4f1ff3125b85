/* src/engine/translate_pgexpr.c - the text PostgreSQL's pg_get_expr,
 * pg_get_constraintdef and pg_get_indexdef show for a stored CHECK,
 * DEFAULT or index expression, from the expression's PostgreSQL source
 * (libpg_query's deparse, which the translator keeps beside the SQLite
 * text: translate_ddl.c pg_text_comment).
 *
 * PostgreSQL prints the analysed expression tree (ruleutils.c); wirebuf has
 * the raw one. The raw tree is brought closer to what analysis makes of
 * it, then printed by libpg_query's deparser (no second SQL printer):
 *   - x BETWEEN a AND b becomes x >= a AND x <= b (NOT BETWEEN: x < a OR
 *     x > b), LIKE / ILIKE their operators ~~ !~~ ~~* !~~*;
 *   - a literal compared with a column of a known type gets the label or
 *     cast PostgreSQL shows: 'x'::text (a varchar column is cast:
 *     vc::text), 0::numeric and 0::double precision for an integer against
 *     numeric / float columns (written (0)::numeric unless pretty);
 *   - nextval / currval / setval('name') take 'name'::regclass;
 *   - unless pretty, every operator, AND / OR / NOT, IS [NOT] NULL and IS
 *     [NOT] TRUE... is parenthesised, as ruleutils does without
 *     PRETTY_PAREN (libpg_query parenthesises operator operands already;
 *     an operand of AND / OR / NOT is wrapped in a one-argument AND, which
 *     the deparser prints in parentheses and as the argument alone).
 * Left as written (README): literals against other types, IN (...)
 * (PostgreSQL: = ANY (ARRAY[...])), negative literals ('-1'::integer),
 * operator precedence in pretty mode (ruleutils drops parentheses that
 * precedence makes redundant, libpg_query keeps them around nested
 * operators), implicit casts inside function arguments. */
#include "translate_internal.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NC(x) PG_QUERY__NODE__NODE_##x

typedef struct xctx {
    const tr_pgcol *cols;
    int ncols;
    int pretty;
} xctx;

static PgQuery__Node *new_node(PgQuery__Node__NodeCase kind)
{
    PgQuery__Node *n = malloc(sizeof *n);
    if (!n) return NULL;
    pg_query__node__init(n);
    n->node_case = kind;
    return n;
}

static PgQuery__Node *new_string(const char *s)
{
    PgQuery__Node *n = new_node(NC(STRING));
    PgQuery__String *v = malloc(sizeof *v);
    char *d = strdup(s);
    if (!n || !v || !d) { free(n); free(v); free(d); return NULL; }
    pg_query__string__init(v);
    v->sval = d;
    n->string = v;
    return n;
}

/* a TypeName of one or two names (pg_catalog.X deparses as PostgreSQL's
 * spelling of X, e.g. float8 -> double precision) */
static PgQuery__TypeName *new_typename(const char *schema, const char *name)
{
    PgQuery__TypeName *tn = malloc(sizeof *tn);
    PgQuery__Node **names = calloc(2, sizeof *names);
    PgQuery__Node *a = schema ? new_string(schema) : NULL, *b = new_string(name);
    if (!tn || !names || (schema && !a) || !b) {
        free(tn);
        free(names);
        if (a) pg_query__node__free_unpacked(a, NULL);
        if (b) pg_query__node__free_unpacked(b, NULL);
        return NULL;
    }
    pg_query__type_name__init(tn);
    tn->names = names;
    if (a) names[tn->n_names++] = a;
    names[tn->n_names++] = b;
    tn->typemod = -1;
    tn->location = -1;
    return tn;
}

/* *np becomes (*np)::schema.name; unchanged when out of memory */
static void wrap_cast(PgQuery__Node **np, const char *schema, const char *name)
{
    PgQuery__Node *n = new_node(NC(TYPE_CAST));
    PgQuery__TypeCast *tc = malloc(sizeof *tc);
    PgQuery__TypeName *tn = new_typename(schema, name);
    if (!n || !tc || !tn) {
        free(n); free(tc);
        if (tn) pg_query__type_name__free_unpacked(tn, NULL);
        return;
    }
    pg_query__type_cast__init(tc);
    tc->arg = *np;
    tc->type_name = tn;
    tc->location = -1;
    n->type_cast = tc;
    *np = n;
}

/* *np becomes a one-argument AND over it (printed in parentheses inside
 * AND / OR / NOT, and as its argument alone) */
static void wrap_paren(PgQuery__Node **np)
{
    PgQuery__Node *n = new_node(NC(BOOL_EXPR));
    PgQuery__BoolExpr *b = malloc(sizeof *b);
    PgQuery__Node **args = malloc(sizeof *args);
    if (!n || !b || !args) { free(n); free(b); free(args); return; }
    pg_query__bool_expr__init(b);
    b->boolop = PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR;
    b->n_args = 1;
    b->args = args;
    args[0] = *np;
    b->location = -1;
    n->bool_expr = b;
    *np = n;
}

/* a deep copy (pack and unpack), NULL when out of memory */
static PgQuery__Node *copy_node(const PgQuery__Node *n)
{
    size_t len = pg_query__node__get_packed_size(n);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return NULL;
    pg_query__node__pack(n, buf);
    PgQuery__Node *c = pg_query__node__unpack(NULL, len, buf);
    free(buf);
    return c;
}

static PgQuery__Node *new_op(const char *op, PgQuery__Node *l, PgQuery__Node *r)
{
    PgQuery__Node *n = new_node(NC(A_EXPR));
    PgQuery__AExpr *e = malloc(sizeof *e);
    PgQuery__Node **name = malloc(sizeof *name);
    PgQuery__Node *opn = new_string(op);
    if (!n || !e || !name || !opn || !l || !r) {
        free(n); free(e); free(name);
        if (opn) pg_query__node__free_unpacked(opn, NULL);
        if (l) pg_query__node__free_unpacked(l, NULL);
        if (r) pg_query__node__free_unpacked(r, NULL);
        return NULL;
    }
    pg_query__a__expr__init(e);
    e->kind = PG_QUERY__A__EXPR__KIND__AEXPR_OP;
    e->n_name = 1;
    e->name = name;
    name[0] = opn;
    e->lexpr = l;
    e->rexpr = r;
    e->location = -1;
    n->a_expr = e;
    return n;
}

/* x [NOT] BETWEEN a AND b as PostgreSQL's transformAExprBetween makes it */
static void expand_between(PgQuery__Node **np)
{
    PgQuery__AExpr *e = (*np)->a_expr;
    int not = e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN;
    if (!e->rexpr || e->rexpr->node_case != NC(LIST) || e->rexpr->list->n_items != 2) return;
    PgQuery__Node *l1 = copy_node(e->lexpr), *l2 = copy_node(e->lexpr);
    PgQuery__Node *a = copy_node(e->rexpr->list->items[0]), *b = copy_node(e->rexpr->list->items[1]);
    PgQuery__Node *lo = new_op(not ? "<" : ">=", l1, a), *hi = new_op(not ? ">" : "<=", l2, b);
    PgQuery__Node *n = new_node(NC(BOOL_EXPR));
    PgQuery__BoolExpr *be = malloc(sizeof *be);
    PgQuery__Node **args = malloc(2 * sizeof *args);
    if (!lo || !hi || !n || !be || !args) {
        if (lo) pg_query__node__free_unpacked(lo, NULL);
        if (hi) pg_query__node__free_unpacked(hi, NULL);
        free(n); free(be); free(args);
        return;
    }
    pg_query__bool_expr__init(be);
    be->boolop = not ? PG_QUERY__BOOL_EXPR_TYPE__OR_EXPR : PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR;
    be->n_args = 2;
    be->args = args;
    args[0] = lo;
    args[1] = hi;
    be->location = -1;
    n->bool_expr = be;
    pg_query__node__free_unpacked(*np, NULL);
    *np = n;
}

/* the type of a plain column reference, 0 when it is none or unknown */
static uint32_t column_oid(const PgQuery__Node *n, const xctx *x)
{
    if (!n || n->node_case != NC(COLUMN_REF) || !n->column_ref->n_fields) return 0;
    const PgQuery__Node *f = n->column_ref->fields[n->column_ref->n_fields - 1];
    if (f->node_case != NC(STRING)) return 0;
    for (int i = 0; i < x->ncols; i++)
        if (!strcmp(x->cols[i].name, f->string->sval)) return x->cols[i].oid;
    return 0;
}

/* the label PostgreSQL gives a string literal of this type, where
 * libpg_query's deparser spells the type as format_type does */
static int string_label(uint32_t oid, const char **schema, const char **name)
{
    static const struct { uint32_t oid; const char *schema, *name; } labels[] = {
        {OID_TEXT, NULL, "text"}, {OID_VARCHAR, NULL, "text"}, {OID_BPCHAR, NULL, "bpchar"},
        {OID_NUMERIC, "pg_catalog", "numeric"}, {OID_FLOAT8, "pg_catalog", "float8"}, {OID_FLOAT4, "pg_catalog", "float4"},
        {OID_INT2, "pg_catalog", "int2"}, {OID_INT8, "pg_catalog", "int8"}, {OID_DATE, NULL, "date"},
        {OID_TIMESTAMPTZ, "pg_catalog", "timestamptz"}, {OID_INTERVAL, "pg_catalog", "interval"},
        {OID_UUID, NULL, "uuid"}, {OID_JSON, NULL, "json"}, {OID_JSONB, NULL, "jsonb"}, {OID_BYTEA, NULL, "bytea"}};
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (labels[i].oid == oid) { *schema = labels[i].schema; *name = labels[i].name; return 1; }
    return 0;
}

/* column op literal (either side): the literal's label or cast */
static void decorate_operands(PgQuery__AExpr *e, const xctx *x)
{
    for (int side = 0; side < 2; side++) {
        PgQuery__Node **colp = side ? &e->rexpr : &e->lexpr, **litp = side ? &e->lexpr : &e->rexpr;
        uint32_t oid = column_oid(*colp, x);
        PgQuery__Node *lit = *litp;
        if (!oid || !lit || lit->node_case != NC(A_CONST) || lit->a_const->isnull) continue;
        PgQuery__AConst *k = lit->a_const;
        const char *schema, *name;
        if (k->val_case == PG_QUERY__A__CONST__VAL_SVAL && string_label(oid, &schema, &name)) {
            if (oid == OID_VARCHAR) wrap_cast(colp, NULL, "text"); /* varchar has no operators of its own */
            wrap_cast(litp, schema, name);
        } else if ((k->val_case == PG_QUERY__A__CONST__VAL_IVAL && (!k->ival || k->ival->ival >= 0)) ||
                   (k->val_case == PG_QUERY__A__CONST__VAL_FVAL && k->fval->fval[0] != '-')) {
            /* an integer becomes numeric / float8, a numeric literal float8
             * (float4 columns compare through float48 operators) */
            int isint = k->val_case == PG_QUERY__A__CONST__VAL_IVAL;
            const char *to = oid == OID_NUMERIC && isint ? "numeric"
                           : oid == OID_FLOAT8 || oid == OID_FLOAT4 ? "float8" : NULL;
            if (!to) continue;
            if (isint && !x->pretty) {
                /* ruleutils writes (0)::numeric: a float literal is
                 * what libpg_query parenthesises under a cast */
                char buf[16];
                snprintf(buf, sizeof buf, "%d", k->ival ? k->ival->ival : 0);
                PgQuery__Float *f = malloc(sizeof *f);
                char *d = strdup(buf);
                if (!f || !d) { free(f); free(d); continue; }
                pg_query__float__init(f);
                f->fval = d;
                if (k->ival) pg_query__integer__free_unpacked(k->ival, NULL);
                k->val_case = PG_QUERY__A__CONST__VAL_FVAL;
                k->fval = f;
            }
            wrap_cast(litp, "pg_catalog", to);
        }
        return;
    }
}

static int is_operator(const PgQuery__Node *n)
{
    return n->node_case == NC(A_EXPR) || n->node_case == NC(NULL_TEST) || n->node_case == NC(BOOLEAN_TEST) ||
           (n->node_case == NC(BOOL_EXPR) && n->bool_expr->boolop == PG_QUERY__BOOL_EXPR_TYPE__NOT_EXPR);
}

static void xform(PgQuery__Node **np, const xctx *x)
{
    PgQuery__Node *n = *np;
    if (!n) return;
    switch (n->node_case) {
    case NC(A_EXPR): {
        PgQuery__AExpr *e = n->a_expr;
        if (e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN || e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN) {
            expand_between(np);
            if (*np != n) xform(np, x);
            return;
        }
        if (e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_LIKE || e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_ILIKE)
            e->kind = PG_QUERY__A__EXPR__KIND__AEXPR_OP; /* its name is the operator */
        if (e->kind != PG_QUERY__A__EXPR__KIND__AEXPR_IN) {
            xform(&e->lexpr, x);
            xform(&e->rexpr, x);
        }
        if (e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP) decorate_operands(e, x);
        return;
    }
    case NC(BOOL_EXPR):
        for (size_t i = 0; i < n->bool_expr->n_args; i++) {
            xform(&n->bool_expr->args[i], x);
            if (!x->pretty && is_operator(n->bool_expr->args[i])) wrap_paren(&n->bool_expr->args[i]);
        }
        return;
    case NC(NULL_TEST): xform(&n->null_test->arg, x); return;
    case NC(BOOLEAN_TEST): xform(&n->boolean_test->arg, x); return;
    case NC(TYPE_CAST): xform(&n->type_cast->arg, x); return;
    case NC(FUNC_CALL): {
        PgQuery__FuncCall *f = n->func_call;
        const char *fn = f->n_funcname && f->funcname[f->n_funcname - 1]->node_case == NC(STRING)
                       ? f->funcname[f->n_funcname - 1]->string->sval : "";
        for (size_t i = 0; i < f->n_args; i++) xform(&f->args[i], x);
        /* nextval(regclass), currval(regclass), setval(regclass, ...) */
        if (f->n_args && (!strcmp(fn, "nextval") || !strcmp(fn, "currval") || !strcmp(fn, "setval")) &&
            f->args[0]->node_case == NC(A_CONST) && f->args[0]->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL)
            wrap_cast(&f->args[0], NULL, "regclass");
        return;
    }
    default:
        return;
    }
}

/* every column the expression names is one of the table's (a column
 * renamed since the text was kept is not: the caller then reads the SQLite
 * text, which SQLite's RENAME COLUMN rewrote); walks the whole tree
 * through the protobuf descriptors */
static int refs_known(const ProtobufCMessage *m, const xctx *x)
{
    if (!m) return 1;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == &pg_query__column_ref__descriptor) {
        const PgQuery__ColumnRef *c = (const PgQuery__ColumnRef *)m;
        const PgQuery__Node *f = c->n_fields ? c->fields[c->n_fields - 1] : NULL;
        if (!f || f->node_case != NC(STRING)) return 1;
        for (int i = 0; i < x->ncols; i++)
            if (!strcmp(x->cols[i].name, f->string->sval)) return 1;
        return 0;
    }
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE) continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) && *(const uint32_t *)(base + f->quantifier_offset) != f->id) continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t k = 0; k < n; k++)
                if (!refs_known(arr[k], x)) return 0;
        } else if (!refs_known(*(ProtobufCMessage *const *)(base + f->offset), x)) return 0;
    }
    return 1;
}

/* the expression of SELECT expr, unpacked; *pr to free */
static PgQuery__Node **parse_expr(const char *expr, PgQuery__ParseResult **pr)
{
    *pr = NULL;
    size_t n = strlen(expr);
    char *sql = malloc(n + 8);
    if (!sql) return NULL;
    memcpy(sql, "SELECT ", 7);
    memcpy(sql + 7, expr, n + 1);
    PgQueryProtobufParseResult r = pg_query_parse_protobuf(sql);
    free(sql);
    if (!r.error)
        *pr = pg_query__parse_result__unpack(NULL, r.parse_tree.len, (const uint8_t *)r.parse_tree.data);
    pg_query_free_protobuf_parse_result(r);
    if (!*pr) return NULL;
    PgQuery__ParseResult *p = *pr;
    if (p->n_stmts != 1 || !p->stmts[0]->stmt || p->stmts[0]->stmt->node_case != NC(SELECT_STMT)) return NULL;
    PgQuery__SelectStmt *s = p->stmts[0]->stmt->select_stmt;
    if (s->n_target_list != 1 || s->n_from_clause || s->where_clause || s->target_list[0]->node_case != NC(RES_TARGET) ||
        (s->target_list[0]->res_target->name && *s->target_list[0]->res_target->name) || !s->target_list[0]->res_target->val)
        return NULL;
    return &s->target_list[0]->res_target->val;
}

/* the parse result deparsed, without its "SELECT " */
static char *deparse_expr(PgQuery__ParseResult *pr)
{
    size_t len = pg_query__parse_result__get_packed_size(pr);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return NULL;
    pg_query__parse_result__pack(pr, buf);
    PgQueryProtobuf pb = {len, (char *)buf};
    PgQueryDeparseResult d = pg_query_deparse_protobuf(pb);
    free(buf);
    char *r = !d.error && d.query && !strncmp(d.query, "SELECT ", 7) ? strdup(d.query + 7) : NULL;
    pg_query_free_deparse_result(d);
    return r;
}

static char *parenthesised(char *s)
{
    if (!s) return NULL;
    size_t n = strlen(s);
    char *r = malloc(n + 3);
    if (r) { r[0] = '('; memcpy(r + 1, s, n); r[n + 1] = ')'; r[n + 2] = 0; }
    free(s);
    return r;
}

char *tr_pg_exprdef(const char *expr, const tr_pgcol *cols, int ncols, int pretty, int *is_call)
{
    PgQuery__ParseResult *pr;
    PgQuery__Node **np = expr ? parse_expr(expr, &pr) : NULL;
    if (!np) {
        if (expr && pr) pg_query__parse_result__free_unpacked(pr, NULL);
        return NULL;
    }
    xctx x = {cols, ncols, pretty};
    if (ncols && !refs_known(&(*np)->base, &x)) {
        pg_query__parse_result__free_unpacked(pr, NULL);
        return NULL;
    }
    xform(np, &x);
    int paren = !pretty && is_operator(*np);
    if ((*np)->node_case == NC(BOOL_EXPR)) paren = !pretty;
    if (is_call) *is_call = (*np)->node_case == NC(FUNC_CALL);
    char *r = deparse_expr(pr);
    pg_query__parse_result__free_unpacked(pr, NULL);
    return paren ? parenthesised(r) : r;
}

/* PostgreSQL's names of the SQL-standard functions without parentheses
 * (ruleutils.c, T_SQLValueFunction) */
static const char *sqlvalue_name(PgQuery__SQLValueFunctionOp op)
{
    switch (op) {
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_DATE: return "CURRENT_DATE";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME: return "CURRENT_TIME";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP: return "CURRENT_TIMESTAMP";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME: return "LOCALTIME";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP: return "LOCALTIMESTAMP";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_ROLE: return "CURRENT_ROLE";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_USER: return "CURRENT_USER";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_USER: return "USER";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_SESSION_USER: return "SESSION_USER";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_CATALOG: return "CURRENT_CATALOG";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_SCHEMA: return "CURRENT_SCHEMA";
    default: return NULL; /* with a precision: libpg_query's text */
    }
}

/* 'text' as PostgreSQL's simple_quote_literal writes it (standard
 * conforming strings: quotes doubled) followed by ::type_name */
static char *labelled(const char *s, const char *type_name)
{
    size_t n = strlen(s), k = 0;
    char *r = malloc(2 * n + strlen(type_name) + 5);
    if (!r) return NULL;
    r[k++] = '\'';
    for (const char *p = s; *p; p++) {
        if (*p == '\'') r[k++] = '\'';
        r[k++] = *p;
    }
    r[k++] = '\'';
    r[k++] = ':';
    r[k++] = ':';
    strcpy(r + k, type_name);
    return r;
}

char *tr_pg_defaultdef(const char *expr, uint32_t target_oid, const char *type_name, const tr_pgcol *cols, int ncols)
{
    PgQuery__ParseResult *pr;
    PgQuery__Node **np = expr ? parse_expr(expr, &pr) : NULL;
    if (!np) {
        if (expr && pr) pg_query__parse_result__free_unpacked(pr, NULL);
        return NULL;
    }
    PgQuery__Node *n = *np;
    xctx x = {cols, ncols, 0};
    if (ncols && !refs_known(&n->base, &x)) {
        pg_query__parse_result__free_unpacked(pr, NULL);
        return NULL;
    }
    char *r = NULL, buf[64];
    int done = 0;
    if (n->node_case == NC(A_CONST) && !n->a_const->isnull) {
        /* ruleutils' get_const_expr: the literal coerced to the column's
         * type, the coercion not shown at the top */
        PgQuery__AConst *k = n->a_const;
        done = 1;
        if (k->val_case == PG_QUERY__A__CONST__VAL_SVAL && type_name) {
            /* bpchar without a length is shown as bpchar */
            r = labelled(k->sval->sval, target_oid == OID_BPCHAR ? "bpchar" : type_name);
        } else if (k->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
            int v = k->ival ? k->ival->ival : 0;
            snprintf(buf, sizeof buf, v < 0 ? "'%d'::integer" : "%d", v);
            r = strdup(buf);
        } else if (k->val_case == PG_QUERY__A__CONST__VAL_FVAL && k->fval->fval[0] == '-') {
            r = labelled(k->fval->fval, "numeric");
        } else done = 0;
    } else if (n->node_case == NC(SQLVALUE_FUNCTION) && sqlvalue_name(n->sqlvalue_function->op)) {
        r = strdup(sqlvalue_name(n->sqlvalue_function->op));
        done = 1;
    }
    if (!done) {
        xform(np, &x);
        int paren = is_operator(*np) || (*np)->node_case == NC(BOOL_EXPR);
        r = deparse_expr(pr);
        if (paren) r = parenthesised(r);
    }
    pg_query__parse_result__free_unpacked(pr, NULL);
    return r;
}
