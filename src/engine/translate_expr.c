/* src/engine/translate_expr.c - expressions: constants, parameters,
 * operators, functions, casts, CASE, sublinks, arrays, window clauses.
 *
 * Every walker writes SQLite SQL to t->o and returns the PostgreSQL type of
 * the value (0 when not known from the query; OID_UNKNOWN for an untyped
 * string literal, which PostgreSQL resolves from context). Parameters get
 * their types from the other side of comparisons and assignments. */
#include "translate_internal.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NC(x) PG_QUERY__NODE__NODE_##x

const char *tr_name_last(PgQuery__Node **names, size_t n)
{
    if (!n || names[n - 1]->node_case != NC(STRING)) return "";
    return names[n - 1]->string->sval;
}

static int is_param(PgQuery__Node *n) { return n && n->node_case == NC(PARAM_REF); }

static uint32_t param_oid(tr *t, int n)
{
    return (n >= 1 && n <= t->nparams) ? t->ptypes[n - 1] : 0;
}

/* a type that SQLite holds as a number and compares numerically */
static int numeric_like(uint32_t o)
{
    return o == OID_INT2 || o == OID_INT4 || o == OID_INT8 || o == OID_FLOAT4 || o == OID_FLOAT8 ||
           o == OID_NUMERIC || o == OID_OID;
}

uint32_t tr_expr_want(tr *t, PgQuery__Node *n, uint32_t want)
{
    if (!n) return 0;
    if (is_param(n) && want) tr_param_type(t, n->param_ref->number, want);
    if (n->node_case == NC(A_CONST) && want == OID_BOOL && !n->a_const->isnull &&
        n->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL) {
        /* 't' / 'true' / 'yes' ... as a bool literal */
        tr_puts(t, "wb_bool(");
        tr_string(t, n->a_const->sval->sval);
        tr_puts(t, ")");
        return OID_BOOL;
    }
    uint32_t ty = tr_expr(t, n);
    if (ty == OID_UNKNOWN && want) return want;
    return ty;
}

/* lift a constant into a parameter (see tr_lit); returns 1 when done */
static int lift_const(tr *t, PgQuery__AConst *c, uint32_t oid, const char *value)
{
    /* SQLite numbers parameters up to 32766: a statement with very many
     * literals (a long multi-row VALUES) keeps the rest in its text; the
     * cache then compares those as written */
    if (!t->lift || t->nolift || c->location < 0 || t->nlits >= 2000) return 0;
    int idx = -1;
    for (int i = 0; i < t->nlits; i++)
        if (t->lits[i].location == c->location) { idx = i; break; }
    if (idx < 0) {
        if (t->nlits == t->litcap) {
            int nc = t->litcap ? t->litcap * 2 : 8;
            tr_lit *nl = realloc(t->lits, (size_t)nc * sizeof *nl);
            if (!nl) { tr_nomem(t); return 1; }
            t->lits = nl; t->litcap = nc;
        }
        char *v = tr_strdup(t, value);
        if (!v) return 1;
        idx = t->nlits++;
        t->lits[idx].location = c->location;
        t->lits[idx].oid = oid;
        t->lits[idx].value = v;
    }
    tr_printf(t, "\x01%d\x02", idx);
    return 1;
}

static uint32_t emit_const(tr *t, PgQuery__AConst *c)
{
    if (c->isnull) { tr_puts(t, "NULL"); return OID_UNKNOWN; }
    if (t->lift && !t->nolift) {
        char num[32];
        switch (c->val_case) {
        case PG_QUERY__A__CONST__VAL_IVAL:
            snprintf(num, sizeof num, "%d", c->ival ? c->ival->ival : 0);
            if (lift_const(t, c, OID_INT4, num)) return OID_INT4;
            break;
        case PG_QUERY__A__CONST__VAL_FVAL: {
            const char *f = c->fval->fval;
            int isint = !strpbrk(f, ".eE");
            size_t digits = strlen(f) - (f[0] == '-');
            uint32_t o = isint ? (digits < 19 ? OID_INT8 : OID_NUMERIC) : OID_NUMERIC;
            if (lift_const(t, c, o, f)) return o;
            break;
        }
        case PG_QUERY__A__CONST__VAL_SVAL:
            if (lift_const(t, c, OID_UNKNOWN, c->sval->sval)) return OID_UNKNOWN;
            break;
        default: break;
        }
    }
    switch (c->val_case) {
    case PG_QUERY__A__CONST__VAL_IVAL:
        tr_printf(t, "%d", c->ival ? c->ival->ival : 0);
        return OID_INT4;
    case PG_QUERY__A__CONST__VAL_FVAL: {
        const char *f = c->fval->fval;
        int isint = 1, digits = 0;
        for (const char *p = f; *p; p++) {
            if (*p == '.' || *p == 'e' || *p == 'E') isint = 0;
            if (*p >= '0' && *p <= '9') digits++;
        }
        if (isint) {
            /* an integer beyond int4: int8 when it fits, else numeric */
            if (digits < 19 || (digits == 19 && strcmp(f + (f[0] == '-'), "9223372036854775807") <= 0)) {
                tr_puts(t, f);
                return OID_INT8;
            }
            tr_string(t, f);
            return OID_NUMERIC;
        }
        /* numeric literal: decimal text, as numeric values are stored
         * (its scale is part of the value: 1.50 * 2 is 3.00) */
        tr_string(t, f);
        return OID_NUMERIC;
    }
    case PG_QUERY__A__CONST__VAL_BOOLVAL:
        tr_puts(t, c->boolval->boolval ? "1" : "0");
        return OID_BOOL;
    case PG_QUERY__A__CONST__VAL_SVAL:
        tr_string(t, c->sval->sval);
        return OID_UNKNOWN;
    case PG_QUERY__A__CONST__VAL_BSVAL:
        tr_fail(t, "0A000", c->location, "bit string constants are not supported");
        return 0;
    default:
        tr_puts(t, "NULL");
        return OID_UNKNOWN;
    }
}

char *tr_fmt(tr *t, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *r = NULL;
    if (vasprintf(&r, f, ap) < 0) { r = NULL; tr_nomem(t); }
    va_end(ap);
    return r;
}

/* write n into a fresh string (for casts and rewrites that wrap it) */
static char *expr_str(tr *t, PgQuery__Node *n, uint32_t want, uint32_t *ty)
{
    wb_buf b = {0};
    wb_buf *save = t->o;
    t->o = &b;
    *ty = tr_expr_want(t, n, want);
    t->o = save;
    return tr_buf_take(t, &b);
}

static int is_datetime(uint32_t o)
{
    return o == OID_DATE || o == OID_TIMESTAMP || o == OID_TIMESTAMPTZ;
}

/* Wrap sql (a value of type from; 0/OID_UNKNOWN for parameters and untyped
 * literals, whose text the client chose) for a place of type to: values
 * are stored in one canonical form per type (translate_ddl.c), so
 * parameters and literals are checked and normalised on the way in, as
 * PostgreSQL's input functions do. assign: an assignment (INSERT, UPDATE,
 * DEFAULT), where typmods apply. Takes sql, returns the new text. */
static char *coerce(tr *t, char *sql, uint32_t from, uint32_t to, int32_t typmod, int assign)
{
    if (!sql) return NULL;
    int untyped = from == 0 || from == OID_UNKNOWN;
    char *r = NULL;
    if (is_datetime(to) && (untyped || (is_datetime(from) && from != to) || from == OID_TEXT))
        r = tr_fmt(t, "wb_datetime(%s, %u, %u)", sql, from, to);
    else if (to == OID_BOOL && (untyped || from == OID_TEXT))
        r = tr_fmt(t, "wb_bool(%s)", sql);
    else if ((to == OID_INT2 || to == OID_INT4 || to == OID_INT8) && (untyped || from == OID_TEXT))
        r = tr_fmt(t, "wb_int(%s, %u)", sql, to);
    else if ((to == OID_INT2 || to == OID_INT4) && assign && from == OID_INT8)
        r = tr_fmt(t, "wb_int(%s, %u)", sql, to);
    else if ((to == OID_FLOAT4 || to == OID_FLOAT8) && (untyped || from == OID_TEXT))
        r = tr_fmt(t, "wb_float(%s)", sql);
    else if (to == OID_NUMERIC && assign && typmod >= 4)
        r = tr_fmt(t, "wb_numeric(%s, %d, %d)", sql, ((typmod - 4) >> 16) & 0xffff, (typmod - 4) & 0xffff);
    else if (to == OID_NUMERIC && (untyped || from == OID_TEXT))
        r = tr_fmt(t, "wb_numeric(%s, -1, -1)", sql);
    else if ((to == OID_VARCHAR || to == OID_BPCHAR) && assign && typmod > 4)
        r = tr_fmt(t, "wb_char(%s, %d, %d)", sql, typmod - 4, to == OID_BPCHAR);
    else if (to == OID_UUID && untyped)
        r = tr_fmt(t, "wb_uuid(%s)", sql);
    else if ((to == OID_JSON || to == OID_JSONB) && untyped)
        r = tr_fmt(t, "wb_json(%s, %u)", sql, to);
    else if (to == OID_BYTEA && untyped)
        r = tr_fmt(t, "wb_bytea(%s)", sql);
    else if ((to == OID_OID) && (untyped || from == OID_TEXT))
        r = tr_fmt(t, "wb_int(%s, %u)", sql, to);
    else if ((to == OID_REGCLASS || to == OID_REGTYPE) && (untyped || from == OID_TEXT))
        r = tr_fmt(t, "%s(%s)", to == OID_REGCLASS ? "wb_regclass" : "wb_regtype", sql);
    else if (tr_type_by_array_oid(to) && (untyped || from == OID_TEXT))
        r = tr_fmt(t, "wb_array_in(%s, %u)", sql, to);
    else if (to == OID_VECTOR && (untyped || from == OID_TEXT || (assign && typmod >= 1)))
        r = tr_fmt(t, "wb_vec_in(%s, %d)", sql, assign ? typmod : -1);
    if (!r) return sql;
    free(sql);
    return r;
}

uint32_t tr_assign(tr *t, PgQuery__Node *n, uint32_t want, int32_t typmod)
{
    uint32_t ty;
    if (n && n->node_case == NC(A_CONST) && n->a_const->isnull) { tr_puts(t, "NULL"); return want; }
    char *sql = expr_str(t, n, want, &ty);
    if (!sql) return 0;
    /* a parameter typed from this place has no other type to convert from */
    int untyped = is_param(n) || (n->node_case == NC(A_CONST) && n->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL);
    sql = coerce(t, sql, untyped ? 0 : ty, want, typmod, 1);

    if (sql) tr_puts(t, sql);
    free(sql);
    return want ? want : ty;
}

uint32_t tr_assign_column(tr *t, PgQuery__Node *n, const char *table, const char *column, uint32_t want,
                          int32_t typmod)
{
    if (n && is_param(n) && table && column && t->schema && t->schema->column_domain)
        tr_param_domain(t, n->param_ref->number, t->schema->column_domain(t->schema->ctx, table, column));
    return tr_assign(t, n, want, typmod);
}

static int const_nonzero(PgQuery__Node *n)
{
    if (!n || n->node_case != NC(A_CONST) || n->a_const->isnull) return 0;
    if (n->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL) return n->a_const->ival && n->a_const->ival->ival != 0;
    if (n->a_const->val_case == PG_QUERY__A__CONST__VAL_FVAL) return strtod(n->a_const->fval->fval, NULL) != 0;
    return 0;
}

static uint32_t arith_type(uint32_t a, uint32_t b)
{
    if (a == OID_UNKNOWN || a == 0) return b == OID_UNKNOWN ? 0 : b;
    if (b == OID_UNKNOWN || b == 0) return a;
    if (a == OID_FLOAT8 || b == OID_FLOAT8 || a == OID_FLOAT4 || b == OID_FLOAT4) return OID_FLOAT8;
    if (a == OID_NUMERIC || b == OID_NUMERIC) return OID_NUMERIC;
    if (a == OID_INT8 || b == OID_INT8) return OID_INT8;
    if (a == OID_INT4 || b == OID_INT4) return OID_INT4;
    if (a == OID_INT2 && b == OID_INT2) return OID_INT2;
    return a;
}

static int is_cmp(const char *op)
{
    return !strcmp(op, "=") || !strcmp(op, "<>") || !strcmp(op, "!=") || !strcmp(op, "<") ||
           !strcmp(op, ">") || !strcmp(op, "<=") || !strcmp(op, ">=");
}

/* the two sides of a binary operator, each typed from the other */
/* (record).x of a _pg_expandarray record read back from its text: the
 * element's type is not in the text, so it is read as the type it meets */
static int record_field_x(const PgQuery__Node *n)
{
    return n->node_case == NC(A_INDIRECTION) && n->a_indirection->n_indirection == 1 &&
           n->a_indirection->indirection[0]->node_case == NC(STRING) &&
           !strcmp(n->a_indirection->indirection[0]->string->sval, "x") &&
           n->a_indirection->arg->node_case != NC(FUNC_CALL);
}

static void binary_sides_c(tr *t, PgQuery__Node *l, PgQuery__Node *r, char **ls, char **rs, uint32_t *lt, uint32_t *rt,
                           int convert);
static void binary_sides(tr *t, PgQuery__Node *l, PgQuery__Node *r, char **ls, char **rs, uint32_t *lt, uint32_t *rt)
{
    binary_sides_c(t, l, r, ls, rs, lt, rt, 1);
}

/* convert: read an untyped side as the other side's type (comparisons,
 * arithmetic); not for ||, LIKE or regular expressions, whose operands
 * are text whatever the other side is */
static void binary_sides_c(tr *t, PgQuery__Node *l, PgQuery__Node *r, char **ls, char **rs, uint32_t *lt, uint32_t *rt,
                           int convert)
{
    *ls = *rs = NULL;
    if (!convert) {
        *ls = expr_str(t, l, 0, lt);
        *rs = expr_str(t, r, 0, rt);
        return;
    }
    if (is_param(l) && !is_param(r)) {
        *rs = expr_str(t, r, 0, rt);
        *ls = expr_str(t, l, *rt == OID_UNKNOWN ? 0 : *rt, lt);
    } else {
        *ls = expr_str(t, l, 0, lt);
        *rs = expr_str(t, r, *lt == OID_UNKNOWN ? 0 : *lt, rt);
        if (is_param(l) && *rt && *rt != OID_UNKNOWN) tr_param_type(t, l->param_ref->number, *rt);
    }
    /* a parameter or untyped literal facing a bool, number or date/time
     * is read as that type (boolin, int4in, timestamp_in...) */
#define UNTYPED_NODE(n) (is_param(n) || ((n)->node_case == NC(A_CONST) && !(n)->a_const->isnull && \
                                          (n)->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL) || \
                         record_field_x(n))
    int lu = UNTYPED_NODE(l) || *lt == OID_UNKNOWN || *lt == 0, ru = UNTYPED_NODE(r) || *rt == OID_UNKNOWN || *rt == 0;
    if (convert && lu && !ru && *rt) *ls = coerce(t, *ls, 0, *rt, -1, 0);
    else if (convert && ru && !lu && *lt) *rs = coerce(t, *rs, 0, *lt, -1, 0);
    if (*lt == OID_UNKNOWN && *rt && *rt != OID_UNKNOWN) *lt = *rt;
    if (*rt == OID_UNKNOWN && *lt && *lt != OID_UNKNOWN) *rt = *lt;
}

/* a comparison side holding a bool literal string ('t') when the other is bool */
static uint32_t emit_op(tr *t, PgQuery__AExpr *e)
{
    const char *op = tr_name_last(e->name, e->n_name);
    if (!e->lexpr) {
        /* prefix operators */
        uint32_t ty = 0;
        if (!strcmp(op, "-")) {
            char *in = expr_str(t, e->rexpr, 0, &ty);
            if (!in) return 0;
            if (ty == OID_NUMERIC) tr_printf(t, "wb_num_sub('0', %s)", in);
            else tr_printf(t, "(- %s)", in);
            free(in);
            return ty;
        }
        if (!strcmp(op, "+")) { tr_puts(t, "(+ "); ty = tr_expr(t, e->rexpr); tr_puts(t, ")"); return ty; }
        if (!strcmp(op, "@")) { tr_puts(t, "abs("); ty = tr_expr(t, e->rexpr); tr_puts(t, ")"); return ty; }
        if (!strcmp(op, "~")) { tr_puts(t, "(~ "); ty = tr_expr(t, e->rexpr); tr_puts(t, ")"); return ty; }
        tr_fail(t, "0A000", e->location, "prefix operator %s is not supported", op);
        return 0;
    }
    char *ls, *rs;
    uint32_t lt, rt;
    int textop = !strcmp(op, "||") || strchr(op, '~') != NULL;
    binary_sides_c(t, e->lexpr, e->rexpr, &ls, &rs, &lt, &rt, !textop);
    if (textop) {
        /* their parameters are text unless the query says otherwise */
        if (is_param(e->lexpr)) tr_param_type(t, e->lexpr->param_ref->number, OID_TEXT);
        if (is_param(e->rexpr)) tr_param_type(t, e->rexpr->param_ref->number, OID_TEXT);
    }
    uint32_t res = 0;
    if (t->failed) goto out;
    if (is_cmp(op)) {
        /* a bool column compared with 't'/'true'... */
        int lb = lt == OID_BOOL && e->rexpr->node_case == NC(A_CONST) && e->rexpr->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL;
        int rb = rt == OID_BOOL && e->lexpr->node_case == NC(A_CONST) && e->lexpr->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL;
        const char *cop = !strcmp(op, "!=") ? "<>" : op;
        /* numeric (decimal text) compares by value: a numeric column does
         * so through its collation; other numeric expressions through
         * wb_num_cmp */
        int lnum = lt == OID_NUMERIC, rnum = rt == OID_NUMERIC;
        int lcol = e->lexpr->node_case == NC(COLUMN_REF), rcol = e->rexpr->node_case == NC(COLUMN_REF);
        if ((lnum || rnum) && !(lnum && lcol) && !(rnum && rcol) &&
            !(lnum && numeric_like(rt) && rt != OID_NUMERIC && rcol) && !(rnum && numeric_like(lt) && lt != OID_NUMERIC && lcol)) {
            tr_printf(t, "(wb_num_cmp(%s, %s) %s 0)", ls, rs, cop);
        } else {
            tr_puts(t, "(");
            if (rb) tr_printf(t, "wb_bool(%s)", ls); else tr_puts(t, ls);
            tr_printf(t, " %s ", cop);
            if (lb) tr_printf(t, "wb_bool(%s)", rs); else tr_puts(t, rs);
            tr_puts(t, ")");
        }
        res = OID_BOOL;
    } else if (!strcmp(op, "<->") || !strcmp(op, "<#>") || !strcmp(op, "<=>") || !strcmp(op, "<+>")) {
        /* pgvector's distance operators */
        const char *f = op[1] == '-' ? "wb_vec_l2" : op[1] == '#' ? "wb_vec_nip" : op[1] == '=' ? "wb_vec_cos" : "wb_vec_l1";
        tr_printf(t, "%s(%s, %s)", f, ls, rs);
        res = OID_FLOAT8;
    } else if ((lt == OID_VECTOR || rt == OID_VECTOR) && (op[0] == '+' || op[0] == '-' || op[0] == '*') && !op[1]) {
        tr_printf(t, "%s(%s, %s)", op[0] == '+' ? "wb_vec_add" : op[0] == '-' ? "wb_vec_sub" : "wb_vec_mul", ls, rs);
        res = OID_VECTOR;
    } else if ((lt == OID_INTERVAL || rt == OID_INTERVAL) && (op[0] == '*' || op[0] == '/') && !op[1]) {
        /* interval * number, number * interval, interval / number */
        if (lt == OID_INTERVAL) tr_printf(t, "%s(%s, %s)", op[0] == '*' ? "wb_iv_mul" : "wb_iv_div", ls, rs);
        else tr_printf(t, "wb_iv_mul(%s, %s)", rs, ls);
        res = OID_INTERVAL;
    } else if (lt == OID_INTERVAL && rt == OID_INTERVAL && (op[0] == '+' || op[0] == '-') && !op[1]) {
        tr_printf(t, "%s(%s, %s)", op[0] == '+' ? "wb_iv_add" : "wb_iv_sub", ls, rs);
        res = OID_INTERVAL;
    } else if (!strcmp(op, "+") || !strcmp(op, "-") || !strcmp(op, "*")) {
        uint32_t at = arith_type(lt, rt);
        if ((lt == OID_TIMESTAMP || lt == OID_TIMESTAMPTZ || lt == OID_DATE) && (rt == OID_INTERVAL || rt == OID_INT4 || rt == OID_UNKNOWN)) {
            /* timestamp +/- interval, date +/- days */
            tr_printf(t, "wb_ts_add(%s, %s%s, %u)", ls, op[0] == '-' ? "'-' || " : "", rs, lt);
            res = lt == OID_DATE && rt == OID_INT4 ? OID_DATE : (lt == OID_DATE ? OID_TIMESTAMP : lt);
        } else if ((lt == OID_TIMESTAMP || lt == OID_TIMESTAMPTZ || lt == OID_DATE) && rt == lt && op[0] == '-') {
            tr_printf(t, "wb_ts_diff(%s, %s, %u)", ls, rs, lt);
            res = lt == OID_DATE ? OID_INT4 : OID_INTERVAL;
        } else if (at == OID_NUMERIC) {
            /* exact decimal arithmetic with PostgreSQL's result scales */
            tr_printf(t, "%s(%s, %s)", op[0] == '+' ? "wb_num_add" : op[0] == '-' ? "wb_num_sub" : "wb_num_mul", ls, rs);
            res = at;
        } else if ((at == OID_INT4 || at == OID_INT2) && (lt == OID_INT4 || lt == OID_INT2) && (rt == OID_INT4 || rt == OID_INT2)) {
            /* SQLite computes in 64 bits; int4/int2 results are checked as
             * PostgreSQL's int4pl/int4mul (22003 integer out of range) */
            tr_printf(t, "wb_int((%s %s %s), %u)", ls, op, rs, at);
            res = at;
        } else {
            tr_printf(t, "(%s %s %s)", ls, op, rs);
            res = at;
        }
    } else if (!strcmp(op, "/") || !strcmp(op, "%")) {
        /* PostgreSQL raises 22012 on division by zero where SQLite gives
         * NULL: a nonzero constant divisor keeps the native operator */
        res = arith_type(lt, rt);
        /* numeric values are stored as text, which SQLite's operators
         * would read as integers and divide as integers: wb_div(,, 1)
         * divides as numbers with a fraction */
        int frac = res == OID_NUMERIC || res == OID_FLOAT8 || res == OID_FLOAT4;
        if (res == OID_NUMERIC && op[0] == '/') tr_printf(t, "wb_num_div(%s, %s)", ls, rs);
        else if (const_nonzero(e->rexpr) && !frac) tr_printf(t, "(%s %s %s)", ls, op, rs);
        else tr_printf(t, "%s(%s, %s, %d)", op[0] == '/' ? "wb_div" : "wb_mod", ls, rs, frac);
    } else if (!strcmp(op, "||")) {
        tr_printf(t, "(%s || %s)", ls, rs);
        res = OID_TEXT;
    } else if (!strcmp(op, "~") || !strcmp(op, "~*") || !strcmp(op, "!~") || !strcmp(op, "!~*")) {
        int neg = op[0] == '!';
        int icase = op[strlen(op) - 1] == '*';
        tr_printf(t, "(%swb_regex(%s, %s, %d))", neg ? "NOT " : "", ls, rs, icase);
        res = OID_BOOL;
    } else if (!strcmp(op, "~~") || !strcmp(op, "!~~") || !strcmp(op, "~~*") || !strcmp(op, "!~~*")) {
        int neg = op[0] == '!';
        int icase = op[strlen(op) - 1] == '*';
        if (icase) tr_printf(t, "(lower(%s) %sLIKE lower(%s) ESCAPE '\\')", ls, neg ? "NOT " : "", rs);
        else tr_printf(t, "(%s %sLIKE %s ESCAPE '\\')", ls, neg ? "NOT " : "", rs);
        res = OID_BOOL;
    } else if (!strcmp(op, "&") || !strcmp(op, "|") || !strcmp(op, "<<") || !strcmp(op, ">>")) {
        tr_printf(t, "(%s %s %s)", ls, op, rs);
        res = arith_type(lt, rt);
    } else if (!strcmp(op, "#")) {
        tr_printf(t, "((%s | %s) - (%s & %s))", ls, rs, ls, rs);
        res = arith_type(lt, rt);
    } else if (!strcmp(op, "^")) {
        tr_printf(t, "pow(%s, %s)", ls, rs);
        res = OID_FLOAT8;
    } else if (!strcmp(op, "->") || !strcmp(op, "->>")) {
        tr_printf(t, "(%s %s %s)", ls, op, rs);
        res = op[2] ? OID_TEXT : lt;
    } else {
        tr_fail(t, "0A000", e->location, "operator %s is not supported", op);
    }
out:
    free(ls); free(rs);
    return res;
}

static uint32_t array_elem(uint32_t arr)
{
    const tr_type *tt = tr_type_by_array_oid(arr);
    return tt ? tt->oid : 0;
}

/* int2vector / oidvector (pg_index.indkey, indclass, ...: text "1 2")
 * are arrays of int2 / oid with lower bound 0 in PostgreSQL: written as
 * the array text form ("{1,2}") for the array functions; *ty becomes the
 * array type. Returns arr itself (owned by the caller) for other types,
 * else a new string and frees arr. */
static char *vector_as_array(tr *t, char *arr, uint32_t *ty)
{
    if (!arr || (*ty != OID_INT2VECTOR && *ty != OID_OIDVECTOR)) return arr;
    wb_buf b = {0};
    wb_buf *save = t->o;
    t->o = &b;
    tr_printf(t, "('{' || replace(trim(%s), ' ', ',') || '}')", arr);
    t->o = save;
    free(arr);
    *ty = *ty == OID_INT2VECTOR ? 1005 /* int2[] */ : OID_OID_ARRAY;
    return tr_buf_take(t, &b);
}

/* an array element (text in PostgreSQL's array form) as the value SQLite
 * should compare: numbers as numbers, bools as 0/1 */
const char *tr_elem_value(uint32_t elem)
{
    switch (elem) {
    case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID: case OID_REGCLASS: case OID_REGTYPE:
        return "CAST(value AS INTEGER)";
    case OID_FLOAT4: case OID_FLOAT8: return "CAST(value AS REAL)";
    case OID_BOOL: return "wb_bool(value)";
    default: return "value";
    }
}

static uint32_t emit_any(tr *t, PgQuery__AExpr *e, int all)
{
    const char *op = tr_name_last(e->name, e->n_name);
    int eq = !strcmp(op, "=");
    int ne = !strcmp(op, "<>") || !strcmp(op, "!=");
    if ((!all && !eq) || (all && !ne)) {
        tr_fail(t, "0A000", e->location, "%s %s is not supported (only = ANY and <> ALL)", op, all ? "ALL" : "ANY");
        return 0;
    }
    uint32_t lt;
    char *ls = expr_str(t, e->lexpr, 0, &lt);
    if (!ls) return 0;
    tr_printf(t, "(%s %sIN (", ls, all ? "NOT " : "");
    free(ls);
    PgQuery__Node *r = e->rexpr;
    if (r->node_case == NC(A_ARRAY_EXPR)) {
        for (size_t i = 0; i < r->a_array_expr->n_elements; i++) {
            if (i) tr_puts(t, ", ");
            tr_expr_want(t, r->a_array_expr->elements[i], lt);
        }
    } else {
        const tr_type *tt = tr_type_by_oid(lt);
        uint32_t at;
        char *arr = expr_str(t, r, tt && tt->array_oid ? tt->array_oid : 0, &at);
        arr = vector_as_array(t, arr, &at);
        if (!arr) return 0;
        uint32_t el = array_elem(at);
        tr_printf(t, "SELECT %s FROM wb_unnest(%s)", tr_elem_value(el ? el : lt), arr);
        free(arr);
        if (is_param(e->lexpr) && el) tr_param_type(t, e->lexpr->param_ref->number, el);
    }
    tr_puts(t, "))");
    return OID_BOOL;
}

static uint32_t emit_aexpr(tr *t, PgQuery__AExpr *e)
{
    switch (e->kind) {
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP:
    case PG_QUERY__A__EXPR__KIND__AEXPR_LIKE:
    case PG_QUERY__A__EXPR__KIND__AEXPR_ILIKE:
        return emit_op(t, e);
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP_ANY: return emit_any(t, e, 0);
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP_ALL: return emit_any(t, e, 1);
    case PG_QUERY__A__EXPR__KIND__AEXPR_DISTINCT:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_DISTINCT: {
        char *ls, *rs; uint32_t lt, rt;
        binary_sides(t, e->lexpr, e->rexpr, &ls, &rs, &lt, &rt);
        if (!t->failed) tr_printf(t, "(%s IS %s%s)", ls, e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_DISTINCT ? "NOT " : "", rs);
        free(ls); free(rs);
        return OID_BOOL;
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF: {
        char *ls, *rs; uint32_t lt, rt;
        binary_sides(t, e->lexpr, e->rexpr, &ls, &rs, &lt, &rt);
        if (!t->failed) tr_printf(t, "nullif(%s, %s)", ls, rs);
        free(ls); free(rs);
        return lt;
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_IN: {
        const char *op = tr_name_last(e->name, e->n_name);
        uint32_t lt;
        char *ls = expr_str(t, e->lexpr, 0, &lt);
        if (!ls) return 0;
        tr_printf(t, "(%s %sIN (", ls, strcmp(op, "=") ? "NOT " : "");
        free(ls);
        PgQuery__List *l = e->rexpr->list;
        for (size_t i = 0; i < l->n_items; i++) {
            if (i) tr_puts(t, ", ");
            tr_expr_want(t, l->items[i], lt == OID_UNKNOWN ? 0 : lt);
        }
        tr_puts(t, "))");
        return OID_BOOL;
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN: {
        uint32_t lt;
        char *ls = expr_str(t, e->lexpr, 0, &lt);
        if (!ls) return 0;
        PgQuery__List *l = e->rexpr->list;
        tr_printf(t, "(%s %sBETWEEN ", ls, e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN ? "NOT " : "");
        free(ls);
        tr_expr_want(t, l->items[0], lt);
        tr_puts(t, " AND ");
        tr_expr_want(t, l->items[1], lt);
        tr_puts(t, ")");
        return OID_BOOL;
    }
    default:
        tr_fail(t, "0A000", e->location, "%s is not supported",
                e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_SIMILAR ? "SIMILAR TO" : "BETWEEN SYMMETRIC");
        return 0;
    }
}

/* ---------- functions ---------- */

enum rt { R_TEXT = 1, R_INT4, R_INT8, R_FLOAT8, R_NUMERIC, R_BOOL, R_ARG0, R_ARG1, R_SUM, R_AVG,
          R_TSTZ, R_DATE, R_ARRAYOF0, R_TEXTARR, R_OID, R_NAME, R_ELEM0, R_VOID, R_INT2, R_CHAR,
          R_TS, R_INTERVAL, R_VECTOR };

typedef struct fmap {
    const char *pg;     /* PostgreSQL name (lower case) */
    const char *sqlite; /* SQLite function to call (NULL = same name) */
    int rt;             /* result type rule */
    int minargs, maxargs;
} fmap;

/* Functions the translated SQL can call. The SQLite names without a wb_
 * prefix are SQLite built-ins; wb_* and the PostgreSQL-named ones are
 * registered by wb_sql_register (translate_funcs.c) or by the engine
 * (session state: current_setting, set_config, pg_backend_pid, pg_sleep,
 * pg_cancel_backend, pg_terminate_backend, current_user...). */
static const fmap fmaps[] = {
    /* aggregates */
    {"count", NULL, R_INT8, 0, 1}, {"sum", NULL, R_SUM, 1, 1}, {"avg", NULL, R_AVG, 1, 1},
    {"min", NULL, R_ARG0, 1, 1}, {"max", NULL, R_ARG0, 1, 1},
    {"string_agg", "group_concat", R_TEXT, 2, 2}, {"bool_and", "min", R_BOOL, 1, 1},
    {"bool_or", "max", R_BOOL, 1, 1}, {"every", "min", R_BOOL, 1, 1},
    {"array_agg", "wb_array_agg", R_ARRAYOF0, 1, 1},
    /* window */
    {"row_number", NULL, R_INT8, 0, 0}, {"rank", NULL, R_INT8, 0, 0}, {"dense_rank", NULL, R_INT8, 0, 0},
    {"percent_rank", NULL, R_FLOAT8, 0, 0}, {"cume_dist", NULL, R_FLOAT8, 0, 0}, {"ntile", NULL, R_INT4, 1, 1},
    {"lag", NULL, R_ARG0, 1, 3}, {"lead", NULL, R_ARG0, 1, 3}, {"first_value", NULL, R_ARG0, 1, 1},
    {"last_value", NULL, R_ARG0, 1, 1}, {"nth_value", NULL, R_ARG0, 2, 2},
    /* strings */
    {"lower", NULL, R_TEXT, 1, 1}, {"upper", NULL, R_TEXT, 1, 1}, {"length", NULL, R_INT4, 1, 1},
    {"char_length", "length", R_INT4, 1, 1}, {"character_length", "length", R_INT4, 1, 1},
    {"octet_length", "wb_octet_length", R_INT4, 1, 1},
    {"substr", NULL, R_TEXT, 2, 3}, {"substring", "substr", R_TEXT, 2, 3},
    {"position", "instr", R_INT4, 2, 2}, {"strpos", "instr", R_INT4, 2, 2},
    {"replace", NULL, R_TEXT, 3, 3}, {"btrim", "trim", R_TEXT, 1, 2}, {"ltrim", NULL, R_TEXT, 1, 2},
    {"rtrim", NULL, R_TEXT, 1, 2}, {"concat", "wb_concat", R_TEXT, 1, 100},
    {"concat_ws", "wb_concat_ws", R_TEXT, 2, 100}, {"left", "wb_left", R_TEXT, 2, 2},
    {"right", "wb_right", R_TEXT, 2, 2}, {"repeat", "wb_repeat", R_TEXT, 2, 2},
    {"lpad", "wb_lpad", R_TEXT, 2, 3}, {"rpad", "wb_rpad", R_TEXT, 2, 3},
    {"md5", "wb_md5", R_TEXT, 1, 1}, {"reverse", "wb_reverse", R_TEXT, 1, 1},
    {"split_part", "wb_split_part", R_TEXT, 3, 3}, {"initcap", "wb_initcap", R_TEXT, 1, 1},
    {"quote_ident", "wb_quote_ident", R_TEXT, 1, 1},
    {"chr", "char", R_TEXT, 1, 1}, {"ascii", "unicode", R_INT4, 1, 1},
    {"to_hex", "wb_to_hex", R_TEXT, 1, 1}, {"starts_with", "wb_starts_with", R_BOOL, 2, 2},
    {"regexp_replace", "wb_regexp_replace", R_TEXT, 3, 4},
    /* numbers */
    {"abs", NULL, R_ARG0, 1, 1}, {"round", "wb_round", R_ARG0, 1, 2}, {"trunc", "wb_trunc", R_ARG0, 1, 2},
    {"ceil", NULL, R_ARG0, 1, 1}, {"ceiling", "ceil", R_ARG0, 1, 1}, {"floor", NULL, R_ARG0, 1, 1},
    {"sqrt", NULL, R_FLOAT8, 1, 1}, {"power", "pow", R_FLOAT8, 2, 2}, {"pow", NULL, R_FLOAT8, 2, 2},
    {"exp", NULL, R_FLOAT8, 1, 1}, {"ln", NULL, R_FLOAT8, 1, 1}, {"log", "log10", R_FLOAT8, 1, 1},
    {"mod", "wb_mod", R_ARG1, 2, 2}, {"sign", NULL, R_ARG0, 1, 1}, {"pi", NULL, R_FLOAT8, 0, 0},
    /* pgvector (translate_vector.c) */
    {"l2_distance", NULL, R_FLOAT8, 2, 2}, {"inner_product", NULL, R_FLOAT8, 2, 2},
    {"cosine_distance", NULL, R_FLOAT8, 2, 2}, {"l1_distance", NULL, R_FLOAT8, 2, 2},
    {"vector_negative_inner_product", NULL, R_FLOAT8, 2, 2},
    {"vector_dims", NULL, R_INT4, 1, 1}, {"vector_norm", NULL, R_FLOAT8, 1, 1},
    {"l2_normalize", NULL, R_VECTOR, 1, 1},
    {"random", "wb_random", R_FLOAT8, 0, 0}, {"div", "wb_div", R_NUMERIC, 2, 2},
    /* dates */
    /* now() keeps its name in SQLite (registered as such), so a DEFAULT now()
     * reads back as PostgreSQL writes it */
    {"now", "now", R_TSTZ, 0, 0}, {"transaction_timestamp", "now", R_TSTZ, 0, 0},
    {"statement_timestamp", "now", R_TSTZ, 0, 0}, {"clock_timestamp", "wb_clock_timestamp", R_TSTZ, 0, 0},
    {"date_trunc", "wb_date_trunc", R_ARG1, 2, 2}, {"date_part", "wb_date_part", R_FLOAT8, 2, 2},
    {"extract", "wb_extract", R_NUMERIC, 2, 2}, {"to_char", "wb_to_char", R_TEXT, 2, 2},
    /* arrays */
    {"array_position", "wb_array_position", R_INT4, 2, 2}, {"array_length", "wb_array_length", R_INT4, 2, 2},
    {"cardinality", "wb_cardinality", R_INT4, 1, 1}, {"array_upper", "wb_array_length", R_INT4, 2, 2},
    {"array_lower", "wb_array_lower", R_INT4, 2, 2}, {"array_to_string", "wb_array_to_string", R_TEXT, 2, 3},
    {"string_to_array", "wb_string_to_array", R_TEXTARR, 2, 3},
    /* sequences */
    {"nextval", "nextval", R_INT8, 1, 1}, {"currval", "currval", R_INT8, 1, 1},
    {"setval", "setval", R_INT8, 2, 3}, {"lastval", "lastval", R_INT8, 0, 0},
    /* system information (PostgreSQL 15 docs §9.26) */
    {"version", NULL, R_TEXT, 0, 0}, {"current_database", NULL, R_NAME, 0, 0},
    {"current_schema", NULL, R_NAME, 0, 0}, {"current_schemas", NULL, R_TEXTARR, 1, 1},
    {"current_setting", NULL, R_TEXT, 1, 2}, {"set_config", NULL, R_TEXT, 3, 3},
    {"pg_backend_pid", NULL, R_INT4, 0, 0}, {"pg_sleep", NULL, R_VOID, 1, 1},
    {"pg_cancel_backend", NULL, R_BOOL, 1, 1}, {"pg_terminate_backend", NULL, R_BOOL, 1, 2},
    {"pg_is_in_recovery", NULL, R_BOOL, 0, 0}, {"txid_current", NULL, R_INT8, 0, 0},
    {"pg_postmaster_start_time", NULL, R_TSTZ, 0, 0},
    {"format_type", NULL, R_TEXT, 2, 2}, {"pg_table_is_visible", NULL, R_BOOL, 1, 1},
    {"pg_type_is_visible", NULL, R_BOOL, 1, 1}, {"pg_get_userbyid", NULL, R_NAME, 1, 1},
    {"pg_encoding_to_char", NULL, R_NAME, 1, 1}, {"obj_description", NULL, R_TEXT, 1, 2},
    {"col_description", NULL, R_TEXT, 2, 2}, {"shobj_description", NULL, R_TEXT, 2, 2},
    {"has_table_privilege", NULL, R_BOOL, 2, 3}, {"has_schema_privilege", NULL, R_BOOL, 2, 3},
    {"has_database_privilege", NULL, R_BOOL, 2, 3}, {"pg_get_expr", NULL, R_TEXT, 2, 3}, 
    
    
    {"pg_size_pretty", NULL, R_TEXT, 1, 1}, {"pg_relation_size", NULL, R_INT8, 1, 2},
    {"pg_table_size", NULL, R_INT8, 1, 1}, {"pg_total_relation_size", NULL, R_INT8, 1, 1},
    {"pg_get_serial_sequence", NULL, R_TEXT, 2, 2}, {"inet_server_addr", NULL, R_TEXT, 0, 0},
    {"inet_server_port", NULL, R_INT4, 0, 0}, {"inet_client_addr", NULL, R_TEXT, 0, 0},
    {"pg_get_indexdef", NULL, R_TEXT, 1, 3}, {"pg_get_constraintdef", NULL, R_TEXT, 1, 2},
    {"pg_get_viewdef", NULL, R_TEXT, 1, 2},
    {"pg_relation_is_publishable", NULL, R_BOOL, 1, 1}, {"pg_partition_ancestors", "wb_regclass", R_OID, 1, 1}, {"pg_get_statisticsobjdef_columns", NULL, R_TEXT, 1, 1},
    {"pg_get_triggerdef", NULL, R_TEXT, 1, 2}, {"pg_get_function_result", NULL, R_TEXT, 1, 1},
    {"pg_get_function_arguments", NULL, R_TEXT, 1, 1}, {"pg_get_function_identity_arguments", NULL, R_TEXT, 1, 1},
    {"pg_function_is_visible", NULL, R_BOOL, 1, 1}, {"json_build_object", NULL, R_TEXT, 0, 100},
    {"pg_notify", NULL, R_VOID, 2, 2}, {"pg_advisory_lock", NULL, R_VOID, 1, 2}, {"pg_advisory_unlock_all", NULL, R_VOID, 0, 0},
    {"pg_advisory_lock_shared", NULL, R_VOID, 1, 2}, {"pg_advisory_unlock_shared", NULL, R_BOOL, 1, 2},
    {"pg_try_advisory_xact_lock", NULL, R_BOOL, 1, 2},
    {"pg_advisory_unlock", NULL, R_BOOL, 1, 2}, {"pg_try_advisory_lock", NULL, R_BOOL, 1, 2},
    {"pg_advisory_xact_lock", NULL, R_VOID, 1, 2}, 
    {"to_regclass", NULL, R_OID, 1, 1}, {"gen_random_uuid", NULL, R_TEXT, 0, 0},
    /* json_build_object/json_agg/json_typeof are not mapped: SQLite's
     * json_object/json_group_array/json_type print differently */
};

static const fmap *fmap_find(const char *name)
{
    for (size_t i = 0; i < sizeof fmaps / sizeof fmaps[0]; i++)
        if (!strcmp(fmaps[i].pg, name)) return &fmaps[i];
    return NULL;
}

static void emit_window(tr *t, PgQuery__WindowDef *w, int with_parens);

/* unnest(array) / generate_subscripts(array, dim [, reverse]) in the
 * select list (t->srf set: translate.c joins the ordinals wb_srf): the
 * element / subscript at ordinal wb_srf.value, NULL past this array's
 * end. Its row count goes to t->srf. One-dimensional arrays (dim other
 * than 1 gives no rows, as PostgreSQL for a 1-D array).
 * information_schema._pg_expandarray(array) (field NULL): the record
 * (x element, n ordinal from 1) in record_out's text form; field "x" or
 * "n" for (_pg_expandarray(a)).x / .n. */
static uint32_t emit_srf(tr *t, PgQuery__FuncCall *fc, const char *name, const char *field)
{
    uint32_t at;
    char *arr = vector_as_array(t, expr_str(t, fc->args[0], 0, &at), &at);
    if (!arr) return 0;
    uint32_t el = array_elem(at);
    if (!el && at != OID_UNKNOWN && at != OID_TEXT) {
        tr_fail(t, "42883", fc->location, "function %s(%s) does not exist", name, tr_type_by_oid(at) ? tr_type_by_oid(at)->name : "unknown");
        free(arr);
        return 0;
    }
    int lb0 = strstr(arr, "('{' || replace(trim(") == arr; /* an int2vector/oidvector: subscripts from 0 */
    char *dim = NULL, *rev = NULL;
    uint32_t dt;
    if (fc->n_args >= 2) dim = expr_str(t, fc->args[1], OID_INT4, &dt);
    if (fc->n_args == 3) rev = expr_str(t, fc->args[2], OID_BOOL, &dt);
    if (t->failed) { free(arr); free(dim); free(rev); return 0; }
    wb_buf *save = t->o;
    t->o = t->srf;
    if (dim) tr_printf(t, "CASE WHEN (%s) = 1 THEN coalesce(wb_cardinality(%s), 0) ELSE 0 END, ", dim, arr);
    else tr_printf(t, "coalesce(wb_cardinality(%s), 0), ", arr);
    t->o = save;
    t->nsrf++;
    uint32_t ty;
    if (!strcmp(name, "_pg_expandarray")) {
        const char *conv = tr_elem_value(el);
        char *elem = !strcmp(conv, "value") ? tr_fmt(t, "wb_array_get(%s, wb_srf.value)", arr)
                     : conv[0] == 'w' ? tr_fmt(t, "wb_bool(wb_array_get(%s, wb_srf.value))", arr)
                     : tr_fmt(t, "CAST(wb_array_get(%s, wb_srf.value) AS %s)", arr, strstr(conv, "REAL") ? "REAL" : "INTEGER");
        if (!elem) { free(arr); return 0; }
        if (field && !strcmp(field, "x")) { tr_puts(t, elem); ty = el ? el : OID_TEXT; }
        else if (field) { tr_printf(t, "(CASE WHEN wb_srf.value <= wb_cardinality(%s) THEN wb_srf.value END)", arr); ty = OID_INT4; }
        else { tr_printf(t, "(CASE WHEN wb_srf.value <= wb_cardinality(%s) THEN wb_record(%s, wb_srf.value) END)", arr, elem); ty = OID_RECORD; }
        free(elem);
    } else if (dim) {
        /* the subscript: lower bound + ordinal - 1, or from the top when reverse */
        if (rev)
            tr_printf(t, "(CASE WHEN wb_srf.value <= wb_cardinality(%s) THEN CASE WHEN (%s) THEN wb_cardinality(%s) - wb_srf.value + %d "
                         "ELSE wb_srf.value - %d END END)", arr, rev, arr, lb0 ? 0 : 1, lb0 ? 1 : 0);
        else
            tr_printf(t, "(CASE WHEN wb_srf.value <= wb_cardinality(%s) THEN wb_srf.value - %d END)", arr, lb0 ? 1 : 0);
        ty = OID_INT4;
    } else {
        const char *conv = tr_elem_value(el);
        if (!strcmp(conv, "value")) tr_printf(t, "wb_array_get(%s, wb_srf.value)", arr);
        else if (conv[0] == 'w') tr_printf(t, "wb_bool(wb_array_get(%s, wb_srf.value))", arr);
        else tr_printf(t, "CAST(wb_array_get(%s, wb_srf.value) AS %s)", arr, strstr(conv, "REAL") ? "REAL" : "INTEGER");
        ty = el ? el : OID_TEXT;
    }
    free(arr); free(dim); free(rev);
    return ty;
}

static uint32_t emit_func(tr *t, PgQuery__FuncCall *fc)
{
    const char *name = tr_name_last(fc->funcname, fc->n_funcname);
    if (fc->n_funcname == 2 && fc->funcname[0]->node_case == NC(STRING)) {
        const char *schema = fc->funcname[0]->string->sval;
        if (strcmp(schema, "pg_catalog") && strcmp(schema, "public") && strcmp(schema, "information_schema")) {
            tr_fail(t, "42883", fc->location, "function %s.%s does not exist", schema, name);
            return 0;
        }
    }
    if (t->srf && !fc->agg_star && !fc->over &&
        ((!strcmp(name, "unnest") && fc->n_args == 1) ||
         (!strcmp(name, "generate_subscripts") && (fc->n_args == 2 || fc->n_args == 3)) ||
         (!strcmp(name, "_pg_expandarray") && fc->n_args == 1)))
        return emit_srf(t, fc, name, NULL);
    const fmap *m = fmap_find(name);
    if (!m) {
        if (!strcmp(name, "generate_series") || !strcmp(name, "unnest") || !strcmp(name, "generate_subscripts"))
            tr_fail(t, "0A000", fc->location, "set-returning function %s() in the select list is not supported (use it in FROM)", name);
        else
            tr_fail(t, "42883", fc->location, "function %s does not exist", name);
        return 0;
    }
    if ((int)fc->n_args < m->minargs || (int)fc->n_args > m->maxargs) {
        tr_fail(t, "42883", fc->location, "function %s with %zu arguments does not exist", name, fc->n_args);
        return 0;
    }
    if (fc->agg_within_group || fc->func_variadic) {
        tr_fail(t, "0A000", fc->location, "WITHIN GROUP / VARIADIC calls are not supported");
        return 0;
    }
    if (fc->n_agg_order) {
        int ordered = !strcmp(name, "array_agg") || !strcmp(name, "string_agg");
        int insensitive = !strcmp(name, "count") || !strcmp(name, "sum") || !strcmp(name, "min") || !strcmp(name, "max") ||
                          !strcmp(name, "bool_and") || !strcmp(name, "bool_or") || !strcmp(name, "every") || !strcmp(name, "avg");
        if (ordered && !fc->agg_distinct && fc->n_agg_order <= 4 && !fc->over) {
            /* array_agg(x ORDER BY k) / string_agg(x, sep ORDER BY k) */
            uint32_t a0 = 0;
            tr_puts(t, name[0] == 'a' ? "wb_array_agg_ord(" : "wb_string_agg_ord(");
            for (size_t i = 0; i < fc->n_args; i++) {
                if (i) tr_puts(t, ", ");
                uint32_t ty = tr_expr_want(t, fc->args[i], name[0] == 's' ? OID_TEXT : 0);
                if (i == 0) a0 = ty;
            }
            for (size_t i = 0; i < fc->n_agg_order; i++) {
                PgQuery__SortBy *sb = fc->agg_order[i]->sort_by;
                tr_puts(t, ", ");
                tr_expr(t, sb->node);
                tr_printf(t, ", %d", sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC);
            }
            tr_puts(t, ")");
            if (fc->agg_filter) { tr_puts(t, " FILTER (WHERE "); tr_expr(t, fc->agg_filter); tr_puts(t, ")"); }
            if (name[0] == 's') return OID_TEXT;
            if (a0 == OID_UNKNOWN) a0 = OID_TEXT;
            const tr_type *tt = tr_type_by_oid(a0);
            return tt && tt->array_oid ? tt->array_oid : OID_TEXT_ARRAY;
        }
        if (!insensitive) {
            tr_fail(t, "0A000", fc->location, "ORDER BY inside an aggregate call (%s) is not supported", name);
            return 0;
        }
        /* the order of the rows does not change these aggregates */
    }
    if (fc->agg_star && strcmp(name, "count")) {
        tr_fail(t, "42809", fc->location, "%s(*) specified, but %s is not an aggregate function", name, name);
        return 0;
    }
    const char *sq = m->sqlite ? m->sqlite : m->pg;
    uint32_t a0 = 0, a1 = 0;
    if ((!strcmp(name, "sum") || !strcmp(name, "avg")) && fc->n_args == 1 && !fc->agg_star) {
        /* sum(numeric) and avg of numeric or integers are exact decimals in
         * PostgreSQL (avg(int4) = 2.5000000000000000) */
        uint32_t at;
        char *arg = expr_str(t, fc->args[0], 0, &at);
        if (!arg) return 0;
        if (at == OID_VECTOR) {
            tr_printf(t, "%s(%s%s)", name[0] == 's' ? "wb_vec_sum" : "wb_vec_avg", fc->agg_distinct ? "DISTINCT " : "", arg);
            free(arg);
            if (fc->agg_filter) { tr_puts(t, " FILTER (WHERE "); tr_expr(t, fc->agg_filter); tr_puts(t, ")"); }
            if (fc->over) { tr_puts(t, " OVER "); emit_window(t, fc->over, 1); }
            return OID_VECTOR;
        }
        int exact = at == OID_NUMERIC || (name[0] == 'a' && (at == OID_INT2 || at == OID_INT4 || at == OID_INT8)) ||
                    (name[0] == 's' && at == OID_INT8);
        if (exact) {
            tr_printf(t, "%s(%s%s)", name[0] == 's' ? "wb_num_sum" : "wb_num_avg", fc->agg_distinct ? "DISTINCT " : "", arg);
            free(arg);
            if (fc->agg_filter) { tr_puts(t, " FILTER (WHERE "); tr_expr(t, fc->agg_filter); tr_puts(t, ")"); }
            if (fc->over) { tr_puts(t, " OVER "); emit_window(t, fc->over, 1); }
            return OID_NUMERIC;
        }
        free(arg);
    }
    if (!strcmp(name, "json_build_object") && !fc->n_agg_order && !fc->over && !fc->agg_filter) {
        /* PostgreSQL's text: {"k" : v, "k2" : v2}; keys string constants,
         * values of the types whose JSON form SQLite's text gives exactly */
        if (fc->n_args % 2) {
            tr_fail(t, "22023", fc->location, "argument list must have even number of elements");
            return 0;
        }
        tr_puts(t, "('{'");
        for (size_t i = 0; i < fc->n_args; i += 2) {
            PgQuery__Node *k = fc->args[i];
            if (k->node_case != NC(A_CONST) || k->a_const->val_case != PG_QUERY__A__CONST__VAL_SVAL) {
                tr_fail(t, "0A000", fc->location, "json_build_object keys other than string constants are not supported");
                return 0;
            }
            tr_puts(t, i ? " || ', ' || " : " || ");
            tr_puts(t, "json_quote(");
            tr_string(t, k->a_const->sval->sval);
            tr_puts(t, ") || ' : ' || ");
            uint32_t vt;
            char *v = expr_str(t, fc->args[i + 1], 0, &vt);
            if (!v) return 0;
            switch (vt) {
            case OID_BOOL:
                tr_printf(t, "CASE WHEN (%s) IS NULL THEN 'null' WHEN (%s) THEN 'true' ELSE 'false' END", v, v);
                break;
            case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID: case OID_NUMERIC:
                tr_printf(t, "coalesce(CAST((%s) AS TEXT), 'null')", v);
                break;
            case OID_TEXT: case OID_VARCHAR: case OID_NAME: case OID_BPCHAR: case OID_CHAR: case OID_UNKNOWN:
                tr_printf(t, "coalesce(json_quote(CAST((%s) AS TEXT)), 'null')", v);
                break;
            case OID_JSON:
                tr_printf(t, "coalesce((%s), 'null')", v);
                break;
            default:
                free(v);
                tr_fail(t, "0A000", fc->location, "json_build_object values of type %u are not supported", vt);
                return 0;
            }
            free(v);
        }
        tr_puts(t, " || '}')");
        return OID_JSON;
    }
    if (!strcmp(name, "position")) {
        /* position(needle IN haystack) arrives as position(haystack, needle) */
        tr_puts(t, "instr(");
        tr_expr_want(t, fc->args[0], OID_TEXT);
        tr_puts(t, ", ");
        tr_expr_want(t, fc->args[1], OID_TEXT);
        tr_puts(t, ")");
        return OID_INT4;
    }
    if (fc->agg_distinct && fc->n_args > 1) {
        /* SQLite's DISTINCT aggregates take one argument: string_agg(DISTINCT x, ',')
         * is group_concat(DISTINCT x), whose separator is ',' */
        PgQuery__Node *sep = fc->n_args == 2 ? fc->args[1] : NULL;
        if (!strcmp(name, "string_agg") && !fc->n_agg_order && sep && sep->node_case == NC(A_CONST) &&
            sep->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL && !strcmp(sep->a_const->sval->sval, ",")) {
            tr_puts(t, "group_concat(DISTINCT ");
            tr_expr_want(t, fc->args[0], OID_TEXT);
            tr_puts(t, ")");
            if (fc->agg_filter) { tr_puts(t, " FILTER (WHERE "); tr_expr(t, fc->agg_filter); tr_puts(t, ")"); }
            return OID_TEXT;
        }
        tr_fail(t, "0A000", fc->location, "%s(DISTINCT ...) with more than one argument is not supported", name);
        return 0;
    }
    if (!strcmp(name, "count") && fc->agg_distinct && fc->n_args == 1 && fc->args[0]->node_case == NC(ROW_EXPR)) {
        /* count(DISTINCT (a, b)): SQLite aggregates take no row values; a
         * row is never NULL, so its JSON array stands for it */
        PgQuery__RowExpr *re = fc->args[0]->row_expr;
        tr_puts(t, "count(DISTINCT json_array(");
        for (size_t i = 0; i < re->n_args; i++) {
            if (i) tr_puts(t, ", ");
            tr_expr(t, re->args[i]);
        }
        tr_puts(t, "))");
        if (fc->agg_filter) { tr_puts(t, " FILTER (WHERE "); tr_expr(t, fc->agg_filter); tr_puts(t, ")"); }
        if (fc->over) { tr_puts(t, " OVER "); emit_window(t, fc->over, 1); }
        return OID_INT8;
    }
    tr_puts(t, sq);
    tr_puts(t, "(");
    if (fc->agg_distinct) tr_puts(t, "DISTINCT ");
    if (fc->agg_star) tr_puts(t, "*");
    for (size_t i = 0; i < fc->n_args; i++) {
        if (i) tr_puts(t, ", ");
        uint32_t want = 0;
        if (!strcmp(name, "nextval") || !strcmp(name, "currval") || (!strcmp(name, "setval") && i == 0)) want = OID_TEXT;
        else if (!strcmp(name, "setval")) want = i == 1 ? OID_INT8 : OID_BOOL;
        else if (!strcmp(name, "pg_sleep")) want = OID_FLOAT8;
        else if (m->rt == R_TEXT && strncmp(sq, "wb_to_char", 10) && strcmp(name, "string_agg")) want = i == 0 ? OID_TEXT : 0;
        uint32_t ty = tr_expr_want(t, fc->args[i], want);
        if (i == 0) a0 = ty;
        if (i == 1) a1 = ty;
    }
    if (!strcmp(name, "date_trunc") || !strcmp(name, "extract") || !strcmp(name, "date_part")) {
        /* the session's time zone is UTC; the argument type decides the
         * output format */
    }
    if (!strcmp(name, "date_trunc")) tr_printf(t, ", %u", a1);
    if (!strcmp(name, "round") || !strcmp(name, "trunc")) tr_printf(t, "%s%u", fc->n_args == 1 ? ", 0, " : ", ", a0);
    tr_puts(t, ")");
    if (fc->agg_filter) {
        tr_puts(t, " FILTER (WHERE ");
        tr_expr(t, fc->agg_filter);
        tr_puts(t, ")");
    }
    if (fc->over) {
        tr_puts(t, " OVER ");
        emit_window(t, fc->over, 1);
    }
    if (a0 == OID_UNKNOWN) a0 = OID_TEXT;
    switch (m->rt) {
    case R_TEXT: return OID_TEXT;
    case R_INT2: return OID_INT2;
    case R_INT4: return OID_INT4;
    case R_INT8: return OID_INT8;
    case R_FLOAT8: return OID_FLOAT8;
    case R_VECTOR: return OID_VECTOR;
    case R_NUMERIC: return OID_NUMERIC;
    case R_BOOL: return OID_BOOL;
    case R_ARG0: return a0;
    case R_ARG1: return a1 == OID_UNKNOWN ? OID_TIMESTAMPTZ : a1;
    case R_SUM:
        if (a0 == OID_INT2 || a0 == OID_INT4) return OID_INT8;
        if (a0 == OID_INT8 || a0 == OID_NUMERIC) return OID_NUMERIC;
        if (a0 == OID_FLOAT4 || a0 == OID_FLOAT8) return OID_FLOAT8;
        return a0 == OID_INTERVAL ? OID_INTERVAL : 0;
    case R_AVG: return (a0 == OID_FLOAT4 || a0 == OID_FLOAT8) ? OID_FLOAT8 : OID_NUMERIC;
    case R_TSTZ: return OID_TIMESTAMPTZ;
    case R_TS: return OID_TIMESTAMP;
    case R_INTERVAL: return OID_INTERVAL;
    case R_DATE: return OID_DATE;
    case R_ARRAYOF0: { const tr_type *tt = tr_type_by_oid(a0); return tt ? tt->array_oid : 0; }
    case R_TEXTARR: return !strcmp(name, "current_schemas") ? OID_NAME_ARRAY : OID_TEXT_ARRAY;
    case R_OID: return OID_REGCLASS;
    case R_NAME: return OID_NAME;
    case R_VOID: return OID_VOID;
    case R_CHAR: return OID_CHAR;
    default: return 0;
    }
}

static void emit_frame_bound(tr *t, int opts, int start, PgQuery__Node *off)
{
    int up = start ? 0x20 : 0x40, uf = start ? 0x80 : 0x100, cr = start ? 0x200 : 0x400;
    int op = start ? 0x800 : 0x1000, of = start ? 0x2000 : 0x4000;
    if (opts & up) tr_puts(t, "UNBOUNDED PRECEDING");
    else if (opts & uf) tr_puts(t, "UNBOUNDED FOLLOWING");
    else if (opts & cr) tr_puts(t, "CURRENT ROW");
    else if (opts & (op | of)) { tr_expr(t, off); tr_puts(t, (opts & op) ? " PRECEDING" : " FOLLOWING"); }
}

static void emit_window(tr *t, PgQuery__WindowDef *w, int with_parens)
{
    if (w->name && with_parens && !w->n_partition_clause && !w->n_order_clause && !(w->frame_options & 1)) {
        tr_ident(t, w->name);
        return;
    }
    tr_puts(t, "(");
    int sp = 0;
    if (w->refname) { tr_ident(t, w->refname); sp = 1; }
    if (w->n_partition_clause) {
        tr_puts(t, sp ? " PARTITION BY " : "PARTITION BY ");
        for (size_t i = 0; i < w->n_partition_clause; i++) {
            if (i) tr_puts(t, ", ");
            tr_expr(t, w->partition_clause[i]);
        }
        sp = 1;
    }
    if (w->n_order_clause) {
        tr_puts(t, sp ? " ORDER BY " : "ORDER BY ");
        for (size_t i = 0; i < w->n_order_clause; i++) {
            PgQuery__SortBy *sb = w->order_clause[i]->sort_by;
            if (i) tr_puts(t, ", ");
            tr_expr(t, sb->node);
            int desc = sb->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
            tr_puts(t, desc ? " DESC" : " ASC");
            if (sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST) tr_puts(t, " NULLS FIRST");
            else if (sb->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST) tr_puts(t, " NULLS LAST");
            else tr_puts(t, desc ? " NULLS FIRST" : " NULLS LAST");
        }
        sp = 1;
    }
    int o = w->frame_options;
    if (o & 1) {
        tr_puts(t, sp ? " " : "");
        tr_puts(t, (o & 0x4) ? "ROWS " : (o & 0x8) ? "GROUPS " : "RANGE ");
        if (o & 0x10) {
            tr_puts(t, "BETWEEN ");
            emit_frame_bound(t, o, 1, w->start_offset);
            tr_puts(t, " AND ");
            emit_frame_bound(t, o, 0, w->end_offset);
        } else emit_frame_bound(t, o, 1, w->start_offset);
        if (o & 0x8000) tr_puts(t, " EXCLUDE CURRENT ROW");
        else if (o & 0x10000) tr_puts(t, " EXCLUDE GROUP");
        else if (o & 0x20000) tr_puts(t, " EXCLUDE TIES");
    }
    tr_puts(t, ")");
}

/* ---------- casts ---------- */

uint32_t tr_typename(tr *t, const PgQuery__TypeName *tn, int32_t *typmod)
{
    *typmod = -1;
    if (!tn) return 0;
    const char *name = tr_name_last(tn->names, tn->n_names);
    if (tn->n_names == 2 && tn->names[0]->node_case == NC(STRING) &&
        strcmp(tn->names[0]->string->sval, "pg_catalog") && strcmp(tn->names[0]->string->sval, "public")) {
        tr_fail(t, "42704", tn->location, "type \"%s.%s\" does not exist", tn->names[0]->string->sval, name);
        return 0;
    }
    memset(&t->domain, 0, sizeof t->domain);
    const tr_type *ty = tr_type_by_name(name);
    if (!ty) {
        wb_sql_domain d = {0};
        if (t->schema && t->schema->domain && t->schema->domain(t->schema->ctx, name, &d) && d.oid) {
            /* a CREATE DOMAIN type: its base type, the domain noted for
             * the caller (PostgreSQL 15 docs "CREATE DOMAIN") */
            if (tn->n_typmods) {
                tr_fail(t, "42601", tn->location, "type modifier is not allowed for type \"%s\"", name);
                return 0;
            }
            if (tn->n_array_bounds) {
                tr_fail(t, "0A000", tn->location, "arrays of domain \"%s\" are not supported", name);
                return 0;
            }
            t->domain = d;
            *typmod = d.base_typmod;
            return d.base_oid;
        }
        tr_fail(t, "42704", tn->location, "type \"%s\" does not exist", name);
        return 0;
    }
    uint32_t oid = ty->oid;
    int32_t mods[2] = {-1, -1};
    for (size_t i = 0; i < tn->n_typmods && i < 2; i++) {
        PgQuery__Node *m = tn->typmods[i];
        if (m->node_case == NC(A_CONST) && m->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL)
            mods[i] = m->a_const->ival ? m->a_const->ival->ival : 0;
    }
    if (tn->n_typmods) {
        /* the ranges of PostgreSQL's varchartypmodin / numerictypmodin */
        if ((oid == OID_VARCHAR || oid == OID_BPCHAR) && (mods[0] < 1 || mods[0] > 10485760)) {
            tr_fail(t, "22023", tn->location, mods[0] < 1 ? "length for type %s must be at least 1"
                                                           : "length for type %s cannot exceed 10485760",
                    oid == OID_VARCHAR ? "varchar" : "char");
            return 0;
        }
        if (oid == OID_NUMERIC && (mods[0] < 1 || mods[0] > 1000)) {
            tr_fail(t, "22023", tn->location, "NUMERIC precision %d must be between 1 and 1000", mods[0]);
            return 0;
        }
        if (oid == OID_NUMERIC && tn->n_typmods > 1 && (mods[1] < -1000 || mods[1] > 1000)) {
            tr_fail(t, "22023", tn->location, "NUMERIC scale %d must be between -1000 and 1000", mods[1]);
            return 0;
        }
        if (oid == OID_VARCHAR || oid == OID_BPCHAR) *typmod = mods[0] + 4;
        else if (oid == OID_NUMERIC) *typmod = (int32_t)(((uint32_t)mods[0] << 16) | (uint32_t)(mods[1] < 0 ? 0 : mods[1])) + 4;
        else if (oid == OID_TIMESTAMP || oid == OID_TIMESTAMPTZ || oid == OID_TIME || oid == OID_TIMETZ) *typmod = mods[0];
        else if (oid == OID_VECTOR) {
            /* pgvector vector_typmod_in */
            if (mods[0] < 1) { tr_fail(t, "22023", tn->location, "dimensions for type vector must be at least 1"); return 0; }
            if (mods[0] > 16000) { tr_fail(t, "22023", tn->location, "dimensions for type vector cannot exceed 16000"); return 0; }
            *typmod = mods[0];
        }
    } else if (oid == OID_BPCHAR && tn->n_names == 2) {
        *typmod = 1 + 4; /* char without length is char(1) */
    }
    if (tn->n_array_bounds) {
        if (tn->n_array_bounds > 1) { tr_fail(t, "0A000", tn->location, "multidimensional arrays are not supported"); return 0; }
        if (!ty->array_oid) { tr_fail(t, "42704", tn->location, "type \"%s[]\" does not exist", name); return 0; }
        oid = ty->array_oid;
    }
    return oid;
}

void tr_cast(tr *t, const char *in, uint32_t from, uint32_t to, int32_t typmod, int location)
{
    (void)location;
    if (from == to && (typmod < 0 || (to != OID_VARCHAR && to != OID_BPCHAR && to != OID_NUMERIC))) {
        tr_puts(t, in);
        return;
    }
    if (from == OID_VECTOR && to != OID_VECTOR && (to == OID_TEXT || to == OID_VARCHAR || to == OID_BPCHAR)) {
        tr_printf(t, "wb_vec_out(%s)", in);
        return;
    }
    switch (to) {
    case OID_VECTOR:
        tr_printf(t, "wb_vec_in(%s, %d)", in, typmod);
        return;
    case OID_INT2: case OID_INT4: case OID_INT8: case OID_OID:
        if (from == OID_INT2 || from == OID_INT4 || from == OID_INT8 || from == OID_BOOL) tr_puts(t, in);
        else tr_printf(t, "wb_int(%s, %u)", in, to);
        return;
    case OID_FLOAT4: case OID_FLOAT8:
        if (from == OID_FLOAT4 || from == OID_FLOAT8) tr_puts(t, in);
        else tr_printf(t, "wb_float(%s)", in);
        return;
    case OID_NUMERIC:
        if (typmod >= 4) tr_printf(t, "wb_numeric(%s, %d, %d)", in, ((typmod - 4) >> 16) & 0xffff, (typmod - 4) & 0xffff);
        else tr_printf(t, "wb_numeric(%s, -1, -1)", in);
        return;
    case OID_BOOL:
        if (from == OID_BOOL) tr_puts(t, in);
        else tr_printf(t, "wb_bool(%s)", in);
        return;
    case OID_TEXT: case OID_VARCHAR: case OID_BPCHAR: case OID_NAME: {
        char *s = NULL;
        if (from == OID_BOOL) {
            size_t n = strlen(in) + 64;
            s = malloc(n);
            if (!s) { tr_nomem(t); return; }
            snprintf(s, n, "(CASE WHEN %s THEN 'true' WHEN NOT %s THEN 'false' END)", in, in);
        }
        const char *v = s ? s : in;
        if (from == OID_BYTEA) {
            /* byteaout: \x and hex digits */
            tr_printf(t, "('\\x' || lower(hex(%s)))", v);
            free(s);
            return;
        }
        if (from == OID_REGCLASS || from == OID_REGTYPE || from == OID_REGNAMESPACE) {
            tr_printf(t, "%s(%s)", from == OID_REGCLASS ? "wb_regclass_name" : from == OID_REGTYPE ? "wb_regtype_name" : "wb_regnamespace_name", v);
            free(s);
            return;
        }
        if ((to == OID_VARCHAR || to == OID_BPCHAR) && typmod > 4) tr_printf(t, "substr(CAST(%s AS TEXT), 1, %d)", v, typmod - 4);
        else if (from == OID_NUMERIC || from == OID_FLOAT8 || from == OID_FLOAT4) tr_printf(t, "wb_text(%s, %u)", v, from);
        else tr_printf(t, "CAST(%s AS TEXT)", v);
        free(s);
        return;
    }
    case OID_DATE: case OID_TIMESTAMP: case OID_TIMESTAMPTZ: case OID_TIME: case OID_TIMETZ: case OID_INTERVAL:
        tr_printf(t, "wb_datetime(%s, %u, %u)", in, from, to);
        return;
    case OID_BYTEA:
        tr_printf(t, "wb_bytea(%s)", in);
        return;
    case OID_UUID:
        tr_printf(t, "wb_uuid(%s)", in);
        return;
    case OID_JSON: case OID_JSONB:
        tr_printf(t, "wb_json(%s, %u)", in, to);
        return;
    case OID_REGCLASS:
        if (from == OID_INT4 || from == OID_INT8 || from == OID_OID) tr_puts(t, in);
        else tr_printf(t, "wb_regclass(%s)", in);
        return;
    case OID_REGTYPE:
        if (from == OID_INT4 || from == OID_INT8 || from == OID_OID) tr_puts(t, in);
        else tr_printf(t, "wb_regtype(%s)", in);
        return;
    case OID_REGNAMESPACE:
        if (from == OID_INT4 || from == OID_INT8 || from == OID_OID) tr_puts(t, in);
        else tr_printf(t, "(SELECT oid FROM pg_namespace WHERE nspname = %s)", in);
        return;
    default:
        if (tr_type_by_array_oid(to)) { tr_printf(t, "wb_array_in(%s, %u)", in, to); return; }
        tr_puts(t, in);
    }
}

/* x::type / CAST(x AS type) for a type known to be `to` (a domain's base
 * type when domain is not 0) */
static void emit_cast_value(tr *t, PgQuery__TypeCast *tc, uint32_t to, int32_t typmod, uint32_t domain)
{
    PgQuery__Node *a = tc->arg;
    if (is_param(a)) {
        /* $1::int4 declares the parameter's type */
        tr_param_type(t, a->param_ref->number, to);
        tr_param_domain(t, a->param_ref->number, domain);
    }
    /* 'literal'::type of a number or text type needs no conversion call when
     * SQLite's affinity gets it right at the column; keep calls for checks */
    if (a->node_case == NC(A_CONST) && !a->a_const->isnull && a->a_const->val_case == PG_QUERY__A__CONST__VAL_SVAL &&
        (to == OID_TEXT || to == OID_VARCHAR || to == OID_NAME) && typmod < 0 && !t->lift) {
        tr_string(t, a->a_const->sval->sval);
        return;
    }
    uint32_t from;
    char *in = expr_str(t, a, 0, &from);
    if (!in) return;
    /* a $n::regclass/::regtype parameter is a name (text) or an OID: looked up */
    if (is_param(a)) from = (to == OID_REGCLASS || to == OID_REGTYPE) ? 0 : to;
    tr_cast(t, in, from, to, typmod, tc->location);
    free(in);
}

static uint32_t emit_typecast(tr *t, PgQuery__TypeCast *tc)
{
    int32_t typmod;
    uint32_t to = tr_typename(t, tc->type_name, &typmod);
    if (t->failed) return 0;
    /* a cast to a domain checks its constraints on the converted value */
    wb_sql_domain d = t->domain;
    if (d.oid && (d.not_null || d.has_check)) {
        tr_puts(t, "wb_domain_check(");
        emit_cast_value(t, tc, to, typmod, d.oid);
        tr_printf(t, ", %u)", d.oid);
    } else emit_cast_value(t, tc, to, typmod, d.oid);
    return t->failed ? 0 : to;
}
/* ---------- the rest ---------- */

static uint32_t emit_sqlvalue(tr *t, PgQuery__SQLValueFunction *f)
{
    switch (f->op) {
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_DATE: tr_puts(t, "wb_current_date()"); return OID_DATE;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME_N: tr_puts(t, "wb_current_time()"); return OID_TIMETZ;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP_N: tr_puts(t, "now()"); return OID_TIMESTAMPTZ;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME_N: tr_puts(t, "wb_localtime()"); return OID_TIME;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP_N: tr_puts(t, "wb_localtimestamp()"); return OID_TIMESTAMP;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_ROLE:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_USER:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_USER: tr_puts(t, "current_user()"); return OID_NAME;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_SESSION_USER: tr_puts(t, "session_user()"); return OID_NAME;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_CATALOG: tr_puts(t, "current_database()"); return OID_NAME;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_SCHEMA: tr_puts(t, "current_schema()"); return OID_NAME;
    default: tr_fail(t, "0A000", f->location, "this SQL value function is not supported"); return 0;
    }
}

static uint32_t emit_sublink(tr *t, PgQuery__SubLink *s)
{
    int nc = 0;
    switch (s->sub_link_type) {
    case PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK:
        tr_puts(t, "EXISTS (");
        tr_subselect(t, s->subselect, &nc);
        tr_puts(t, ")");
        return OID_BOOL;
    case PG_QUERY__SUB_LINK_TYPE__EXPR_SUBLINK: {
        tr_puts(t, "(");
        uint32_t ty = tr_subselect(t, s->subselect, &nc);
        tr_puts(t, ")");
        return ty;
    }
    case PG_QUERY__SUB_LINK_TYPE__ANY_SUBLINK:
    case PG_QUERY__SUB_LINK_TYPE__ALL_SUBLINK: {
        const char *op = s->n_oper_name ? tr_name_last(s->oper_name, s->n_oper_name) : "=";
        int any = s->sub_link_type == PG_QUERY__SUB_LINK_TYPE__ANY_SUBLINK;
        if ((any && strcmp(op, "=")) || (!any && strcmp(op, "<>"))) {
            tr_fail(t, "0A000", s->location, "%s %s (subquery) is not supported", op, any ? "ANY" : "ALL");
            return 0;
        }
        tr_puts(t, "(");
        tr_expr(t, s->testexpr);
        tr_puts(t, any ? " IN (" : " NOT IN (");
        tr_subselect(t, s->subselect, &nc);
        tr_puts(t, "))");
        return OID_BOOL;
    }
    case PG_QUERY__SUB_LINK_TYPE__ARRAY_SUBLINK: {
        /* ARRAY(subquery): the subquery's one column, aggregated */
        tr_puts(t, "(WITH wb_sub(x) AS (");
        uint32_t ty = tr_subselect(t, s->subselect, &nc);
        tr_puts(t, ") SELECT wb_array_agg(x) FROM wb_sub)");
        const tr_type *tt = tr_type_by_oid(ty);
        return tt && tt->array_oid ? tt->array_oid : OID_TEXT_ARRAY;
    }
    default:
        tr_fail(t, "0A000", s->location, "this kind of subquery expression is not supported");
        return 0;
    }
}

uint32_t tr_expr(tr *t, PgQuery__Node *n)
{
    if (t->failed || !n) return 0;
    switch (n->node_case) {
    case NC(A_CONST): return emit_const(t, n->a_const);
    case NC(PARAM_REF): {
        int k = n->param_ref->number;
        if (k < 1 || k > 65535) { tr_fail(t, "42P02", n->param_ref->location, "there is no parameter $%d", k); return 0; }
        tr_param_seen(t, k);
        if (k <= t->npchecks && t->pchecks[k - 1]) tr_printf(t, "wb_domain_check(?%d, %u)", k, t->pchecks[k - 1]);
        else tr_printf(t, "?%d", k);
        uint32_t ty = param_oid(t, k);
        return ty ? ty : OID_UNKNOWN;
    }
    case NC(COLUMN_REF): return tr_columnref(t, n->column_ref);
    case NC(A_EXPR): return emit_aexpr(t, n->a_expr);
    case NC(BOOL_EXPR): {
        PgQuery__BoolExpr *b = n->bool_expr;
        if (b->boolop == PG_QUERY__BOOL_EXPR_TYPE__NOT_EXPR) {
            tr_puts(t, "(NOT ");
            tr_expr_want(t, b->args[0], OID_BOOL);
            tr_puts(t, ")");
            return OID_BOOL;
        }
        tr_puts(t, "(");
        for (size_t i = 0; i < b->n_args; i++) {
            if (i) tr_puts(t, b->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR ? " AND " : " OR ");
            tr_expr_want(t, b->args[i], OID_BOOL);
        }
        tr_puts(t, ")");
        return OID_BOOL;
    }
    case NC(NULL_TEST):
        tr_puts(t, "(");
        tr_expr(t, n->null_test->arg);
        tr_puts(t, n->null_test->nulltesttype == PG_QUERY__NULL_TEST_TYPE__IS_NULL ? " IS NULL)" : " IS NOT NULL)");
        return OID_BOOL;
    case NC(BOOLEAN_TEST): {
        static const char *const tests[] = {"", " IS TRUE", " IS NOT TRUE", " IS FALSE", " IS NOT FALSE", " IS NULL", " IS NOT NULL"};
        int k = n->boolean_test->booltesttype;
        if (k < 1 || k > 6) k = 1;
        tr_puts(t, "(");
        tr_expr_want(t, n->boolean_test->arg, OID_BOOL);
        tr_puts(t, tests[k]);
        tr_puts(t, ")");
        return OID_BOOL;
    }
    case NC(FUNC_CALL): return emit_func(t, n->func_call);
    case NC(TYPE_CAST): return emit_typecast(t, n->type_cast);
    case NC(CASE_EXPR): {
        PgQuery__CaseExpr *c = n->case_expr;
        uint32_t ty = 0, at = 0;
        tr_puts(t, "(CASE");
        if (c->arg) { tr_puts(t, " "); at = tr_expr(t, c->arg); }
        for (size_t i = 0; i < c->n_args; i++) {
            PgQuery__CaseWhen *w = c->args[i]->case_when;
            tr_puts(t, " WHEN ");
            tr_expr_want(t, w->expr, c->arg ? at : OID_BOOL);
            tr_puts(t, " THEN ");
            uint32_t r = tr_expr(t, w->result);
            if (!ty || ty == OID_UNKNOWN) ty = r;
        }
        if (c->defresult) {
            tr_puts(t, " ELSE ");
            uint32_t r = tr_expr(t, c->defresult);
            if (!ty || ty == OID_UNKNOWN) ty = r;
        }
        tr_puts(t, " END)");
        return ty;
    }
    case NC(COALESCE_EXPR): {
        PgQuery__CoalesceExpr *c = n->coalesce_expr;
        uint32_t ty = 0;
        tr_puts(t, c->n_args > 1 ? "coalesce(" : "(");
        for (size_t i = 0; i < c->n_args; i++) {
            if (i) tr_puts(t, ", ");
            uint32_t r = tr_expr_want(t, c->args[i], ty == OID_UNKNOWN ? 0 : ty);
            if (!ty || ty == OID_UNKNOWN) ty = r;
        }
        tr_puts(t, ")");
        return ty;
    }
    case NC(MIN_MAX_EXPR): {
        PgQuery__MinMaxExpr *m = n->min_max_expr;
        uint32_t ty = 0;
        tr_puts(t, m->op == PG_QUERY__MIN_MAX_OP__IS_GREATEST ? "wb_greatest(" : "wb_least(");
        for (size_t i = 0; i < m->n_args; i++) {
            if (i) tr_puts(t, ", ");
            uint32_t r = tr_expr_want(t, m->args[i], ty == OID_UNKNOWN ? 0 : ty);
            if (!ty || ty == OID_UNKNOWN) ty = r;
            else ty = numeric_like(ty) && numeric_like(r) ? arith_type(ty, r) : ty;
        }
        tr_puts(t, ")");
        return ty;
    }
    case NC(SQLVALUE_FUNCTION): return emit_sqlvalue(t, n->sqlvalue_function);
    case NC(SUB_LINK): return emit_sublink(t, n->sub_link);
    case NC(A_ARRAY_EXPR): {
        PgQuery__AArrayExpr *a = n->a_array_expr;
        uint32_t ty = 0;
        tr_puts(t, "wb_array(");
        for (size_t i = 0; i < a->n_elements; i++) {
            if (i) tr_puts(t, ", ");
            if (a->elements[i]->node_case == NC(A_ARRAY_EXPR)) { tr_fail(t, "0A000", a->location, "multidimensional arrays are not supported"); return 0; }
            uint32_t r = tr_expr_want(t, a->elements[i], ty == OID_UNKNOWN ? 0 : ty);
            if (!ty || ty == OID_UNKNOWN) ty = r;
        }
        tr_puts(t, ")");
        if (ty == OID_UNKNOWN || ty == 0) ty = OID_TEXT;
        const tr_type *tt = tr_type_by_oid(ty);
        return tt && tt->array_oid ? tt->array_oid : OID_TEXT_ARRAY;
    }
    case NC(ROW_EXPR): {
        PgQuery__RowExpr *r = n->row_expr;
        tr_puts(t, "(");
        for (size_t i = 0; i < r->n_args; i++) {
            if (i) tr_puts(t, ", ");
            tr_expr(t, r->args[i]);
        }
        tr_puts(t, ")");
        return OID_RECORD;
    }
    case NC(COLLATE_CLAUSE): {
        PgQuery__CollateClause *c = n->collate_clause;
        const char *coll = tr_name_last(c->collname, c->n_collname);
        if (strcmp(coll, "C") && strcmp(coll, "POSIX") && strcmp(coll, "default") && strcmp(coll, "ucs_basic")) {
            tr_fail(t, "0A000", c->location, "collation \"%s\" is not supported (only \"C\")", coll);
            return 0;
        }
        return tr_expr(t, c->arg);
    }
    case NC(A_INDIRECTION): {
        PgQuery__AIndirection *ind = n->a_indirection;
        if (ind->n_indirection == 1 && ind->indirection[0]->node_case == NC(STRING)) {
            /* (record).field: _pg_expandarray's x / n, in the select list
             * straight from the call, elsewhere from its record text */
            const char *f = ind->indirection[0]->string->sval;
            int fx = !strcmp(f, "x"), fnum = !strcmp(f, "n");
            if (ind->arg->node_case == NC(FUNC_CALL) && t->srf && (fx || fnum)) {
                PgQuery__FuncCall *fc = ind->arg->func_call;
                const char *fname = tr_name_last(fc->funcname, fc->n_funcname);
                if (!strcmp(fname, "_pg_expandarray") && fc->n_args == 1 && !fc->over && !fc->agg_star)
                    return emit_srf(t, fc, fname, f);
            }
            uint32_t rt;
            char *rec = (fx || fnum) ? expr_str(t, ind->arg, 0, &rt) : NULL;
            if (rec && rt == OID_RECORD && ind->arg->node_case != NC(ROW_EXPR)) {
                /* x has the array's element type, which the record text
                 * does not keep: unknown, read as the type it meets */
                if (fx) tr_printf(t, "wb_record_field(%s, 1)", rec);
                else tr_printf(t, "CAST(wb_record_field(%s, 2) AS INTEGER)", rec);
                free(rec);
                return fx ? OID_UNKNOWN : OID_INT4;
            }
            free(rec);
            if (t->failed) return 0;
            tr_fail(t, "0A000", -1, "field selection .%s is not supported here", f);
            return 0;
        }
        if (ind->n_indirection != 1 || ind->indirection[0]->node_case != NC(A_INDICES) ||
            ind->indirection[0]->a_indices->is_slice) {
            tr_fail(t, "0A000", -1, "this kind of subscript or field selection is not supported");
            return 0;
        }
        uint32_t at, it;
        char *arr = expr_str(t, ind->arg, 0, &at);
        /* int2vector / oidvector (indkey, indoption, proargtypes) subscript
         * from 0 in PostgreSQL: indkey[0] is the first column */
        int lb0 = at == OID_INT2VECTOR || at == OID_OIDVECTOR;
        arr = vector_as_array(t, arr, &at);
        char *idx = arr ? expr_str(t, ind->indirection[0]->a_indices->uidx, OID_INT4, &it) : NULL;
        if (idx && lb0) {
            char *one = tr_fmt(t, "(%s) + 1", idx);
            free(idx);
            idx = one;
        }
        if (arr && idx) {
            const char *conv = tr_elem_value(array_elem(at));
            if (!strcmp(conv, "value")) tr_printf(t, "wb_array_get(%s, %s)", arr, idx);
            else if (conv[0] == 'w') tr_printf(t, "wb_bool(wb_array_get(%s, %s))", arr, idx);
            else tr_printf(t, "CAST(wb_array_get(%s, %s) AS %s)", arr, idx, strstr(conv, "REAL") ? "REAL" : "INTEGER");
        }
        free(arr); free(idx);
        return array_elem(at);
    }
    case NC(SET_TO_DEFAULT):
        tr_fail(t, "0A000", n->set_to_default->location, "DEFAULT is not supported here");
        return 0;
    case NC(WINDOW_DEF): emit_window(t, n->window_def, 0); return 0;
    case NC(GROUPING_FUNC): tr_fail(t, "0A000", -1, "GROUPING() is not supported"); return 0;
    default:
        tr_fail(t, "0A000", -1, "expression %s is not supported", tr_node_name(n));
        return 0;
    }
}

/* FigureColnameInternal (src/backend/parser/parse_target.c) */
static const char *colname_inner(PgQuery__Node *n, int *strength)
{
    *strength = 0;
    if (!n) return NULL;
    switch (n->node_case) {
    case NC(COLUMN_REF): {
        PgQuery__ColumnRef *c = n->column_ref;
        for (size_t i = c->n_fields; i > 0; i--)
            if (c->fields[i - 1]->node_case == NC(STRING)) { *strength = 2; return c->fields[i - 1]->string->sval; }
        return NULL;
    }
    case NC(A_INDIRECTION): {
        const char *r = colname_inner(n->a_indirection->arg, strength);
        return r;
    }
    case NC(FUNC_CALL): *strength = 2; return tr_name_last(n->func_call->funcname, n->func_call->n_funcname);
    case NC(A_EXPR):
        if (n->a_expr->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF) { *strength = 2; return "nullif"; }
        return NULL;
    case NC(TYPE_CAST): {
        const char *r = colname_inner(n->type_cast->arg, strength);
        if (*strength <= 1) {
            const char *tn = tr_name_last(n->type_cast->type_name->names, n->type_cast->type_name->n_names);
            if (tn && *tn) { *strength = 1; return tn; }
        }
        return r;
    }
    case NC(COLLATE_CLAUSE): return colname_inner(n->collate_clause->arg, strength);
    case NC(SUB_LINK):
        switch (n->sub_link->sub_link_type) {
        case PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK: *strength = 2; return "exists";
        case PG_QUERY__SUB_LINK_TYPE__ARRAY_SUBLINK: *strength = 2; return "array";
        case PG_QUERY__SUB_LINK_TYPE__EXPR_SUBLINK: {
            PgQuery__Node *q = n->sub_link->subselect;
            if (q && q->node_case == NC(SELECT_STMT) && q->select_stmt->n_target_list) {
                PgQuery__ResTarget *rt = q->select_stmt->target_list[0]->res_target;
                if (rt->name) { *strength = 2; return rt->name; }
                return colname_inner(rt->val, strength);
            }
            return NULL;
        }
        default: return NULL;
        }
    case NC(CASE_EXPR): {
        const char *r = colname_inner(n->case_expr->defresult, strength);
        if (*strength <= 1) { *strength = 1; return "case"; }
        return r;
    }
    case NC(A_ARRAY_EXPR): *strength = 2; return "array";
    case NC(ROW_EXPR): *strength = 2; return "row";
    case NC(COALESCE_EXPR): *strength = 2; return "coalesce";
    case NC(MIN_MAX_EXPR): *strength = 2; return n->min_max_expr->op == PG_QUERY__MIN_MAX_OP__IS_GREATEST ? "greatest" : "least";
    case NC(SQLVALUE_FUNCTION):
        *strength = 2;
        switch (n->sqlvalue_function->op) {
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_DATE: return "current_date";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME:
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME_N: return "current_time";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP:
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP_N: return "current_timestamp";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME:
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME_N: return "localtime";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP:
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP_N: return "localtimestamp";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_ROLE: return "current_role";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_USER: return "current_user";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_USER: return "user";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_SESSION_USER: return "session_user";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_CATALOG: return "current_catalog";
        case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_SCHEMA: return "current_schema";
        default: return NULL;
        }
    default: return NULL;
    }
}

const char *tr_colname(PgQuery__Node *n)
{
    int strength;
    const char *r = colname_inner(n, &strength);
    return r && *r ? r : "?column?";
}
