/* src/engine/translate_ddl.c - types and DDL.
 *
 * Column declarations: a PostgreSQL type becomes a SQLite declaration that
 * starts with the PostgreSQL name (so wb_sql_decltype_to_pg recovers it)
 * and whose words pick the affinity (SQLite docs §3.1 "Determination Of
 * Column Affinity": INT -> INTEGER; CHAR/CLOB/TEXT -> TEXT; BLOB -> BLOB;
 * REAL/FLOA/DOUB -> REAL; else NUMERIC):
 *   int2/int4/int8 -> INTEGER; float4/float8 -> REAL; numeric(p,s) ->
 *   "numeric text(p,s)" (TEXT: exact digits, never a double); bool ->
 *   "bool int" (0/1); bytea -> "bytea blob"; date/time/timestamps, uuid,
 *   json -> "<name> text" (PostgreSQL's text form); interval ->
 *   "timespan text" ("interval" would contain INT); arrays -> "_<elem>"
 *   holding PostgreSQL's text form '{...}'.
 * Sequences live in the table wb_sequences of each database (name,
 * last_value, start, increment, min, max, is_called, owner table/column);
 * nextval/currval/setval are registered functions (translate_funcs.c). */
#include "translate_internal.h"
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NC(x) PG_QUERY__NODE__NODE_##x

const tr_type tr_types[] = {
    {"bool", OID_BOOL, 1000, "bool int", 1, 'B'},
    {"bytea", OID_BYTEA, 1001, "bytea blob", -1, 'U'},
    {"char", OID_CHAR, 1002, "\"char\" text", 1, 'S'},
    {"name", OID_NAME, 1003, "name text", 64, 'S'},
    {"int8", OID_INT8, 1016, "int8", 8, 'N'},
    {"int2", OID_INT2, 1005, "int2", 2, 'N'},
    {"int4", OID_INT4, 1007, "int4", 4, 'N'},
    {"regproc", OID_REGPROC, 1008, "regproc int", 4, 'N'},
    {"text", OID_TEXT, 1009, "text", -1, 'S'},
    {"oid", OID_OID, 1028, "oid int", 4, 'N'},
    {"json", OID_JSON, 199, "json text", -1, 'U'},
    {"float4", OID_FLOAT4, 1021, "float4", 4, 'N'},
    {"float8", OID_FLOAT8, 1022, "float8", 8, 'N'},
    {"unknown", OID_UNKNOWN, 0, "text", -2, 'X'},
    {"bpchar", OID_BPCHAR, 1014, "bpchar%s", -1, 'S'},
    {"varchar", OID_VARCHAR, 1015, "varchar%s", -1, 'S'},
    {"date", OID_DATE, 1182, "date text", 4, 'D'},
    {"time", OID_TIME, 1183, "time text", 8, 'D'},
    {"timestamp", OID_TIMESTAMP, 1115, "timestamp text", 8, 'D'},
    {"timestamptz", OID_TIMESTAMPTZ, 1185, "timestamptz text", 8, 'D'},
    {"interval", OID_INTERVAL, 1187, "timespan text", 16, 'T'},
    {"timetz", OID_TIMETZ, 1270, "timetz text", 12, 'D'},
    {"numeric", OID_NUMERIC, 1231, "numeric text%s", -1, 'N'},
    {"regclass", OID_REGCLASS, 2210, "regclass int", 4, 'N'},
    {"regtype", OID_REGTYPE, 2211, "regtype int", 4, 'N'},
    {"regnamespace", OID_REGNAMESPACE, 4090, "regnamespace int", 4, 'N'},
    {"record", OID_RECORD, 2287, "text", -1, 'P'},
    {"void", OID_VOID, 0, "text", 4, 'P'},
    {"uuid", OID_UUID, 2951, "uuid text", 16, 'U'},
    {"jsonb", OID_JSONB, 3807, "jsonb text", -1, 'U'},
    {"int2vector", OID_INT2VECTOR, 1006, "int2vector text", -1, 'A'},
    {"oidvector", OID_OIDVECTOR, 1013, "oidvector text", -1, 'A'},
    {"vector", OID_VECTOR, 0, "vector blob%s", -1, 'U'}, /* pgvector; typmod = dimensions */
};
const int tr_ntypes = (int)(sizeof tr_types / sizeof tr_types[0]);

const tr_type *tr_type_by_oid(uint32_t oid)
{
    for (int i = 0; i < tr_ntypes; i++)
        if (tr_types[i].oid == oid) return &tr_types[i];
    return NULL;
}

const tr_type *tr_type_by_array_oid(uint32_t oid)
{
    if (!oid) return NULL;
    for (int i = 0; i < tr_ntypes; i++)
        if (tr_types[i].array_oid == oid) return &tr_types[i];
    return NULL;
}

/* PostgreSQL's names and aliases, as the grammar leaves them (int becomes
 * pg_catalog.int4 there) and as people write them */
static const struct { const char *alias, *name; } type_aliases[] = {
    {"integer", "int4"}, {"int", "int4"}, {"smallint", "int2"}, {"bigint", "int8"},
    {"real", "float4"}, {"double precision", "float8"}, {"float", "float8"}, {"boolean", "bool"},
    {"decimal", "numeric"}, {"character varying", "varchar"}, {"character", "bpchar"},
    {"char", "bpchar"}, {"timestamp without time zone", "timestamp"},
    {"timestamp with time zone", "timestamptz"}, {"time without time zone", "time"},
    {"time with time zone", "timetz"}, {"serial", "int4"}, {"serial4", "int4"},
    {"bigserial", "int8"}, {"serial8", "int8"}, {"smallserial", "int2"}, {"serial2", "int2"},
    {"string", "text"},
};

const tr_type *tr_type_by_name(const char *name)
{
    for (int i = 0; i < tr_ntypes; i++)
        if (!strcasecmp(tr_types[i].name, name)) return &tr_types[i];
    for (size_t i = 0; i < sizeof type_aliases / sizeof type_aliases[0]; i++)
        if (!strcasecmp(type_aliases[i].alias, name)) return tr_type_by_name(type_aliases[i].name);
    return NULL;
}

uint32_t wb_sql_type_oid(const char *name)
{
    if (!name) return 0;
    size_t n = strlen(name);
    if (n > 2 && !strcmp(name + n - 2, "[]")) {
        char tmp[64];
        if (n - 2 >= sizeof tmp) return 0;
        memcpy(tmp, name, n - 2);
        tmp[n - 2] = 0;
        const tr_type *t = tr_type_by_name(tmp);
        return t ? t->array_oid : 0;
    }
    if (name[0] == '_') {
        const tr_type *t = tr_type_by_name(name + 1);
        return t ? t->array_oid : 0;
    }
    const tr_type *t = tr_type_by_name(name);
    return t ? t->oid : 0;
}

int wb_sql_type_info(uint32_t oid, const char **name, int16_t *typlen, uint32_t *elem_oid, uint32_t *array_oid)
{
    const tr_type *t = tr_type_by_oid(oid);
    if (t) {
        if (name) *name = t->name;
        if (typlen) *typlen = t->len;
        if (elem_oid) *elem_oid = 0;
        if (array_oid) *array_oid = t->array_oid;
        return 1;
    }
    t = tr_type_by_array_oid(oid);
    if (!t) return 0;
    static const char *const anames[] = {"_bool", "_bytea", "_char", "_name", "_int8", "_int2", "_int4",
                                         "_regproc", "_text", "_oid", "_json", "_float4", "_float8",
                                         "_unknown", "_bpchar", "_varchar", "_date", "_time",
                                         "_timestamp", "_timestamptz", "_interval", "_timetz",
                                         "_numeric", "_regclass", "_regtype", "_regnamespace", "_record", "_void",
                                         "_uuid", "_jsonb", "_int2vector", "_oidvector"};
    if (name) *name = anames[t - tr_types];
    if (typlen) *typlen = -1;
    if (elem_oid) *elem_oid = t->oid;
    if (array_oid) *array_oid = 0;
    return 1;
}

/* Parse "(a[,b])" at p; returns count of numbers read. */
static int read_mods(const char *p, int *a, int *b)
{
    while (*p == ' ') p++;
    if (*p != '(') return 0;
    char *e;
    long x = strtol(p + 1, &e, 10);
    if (e == p + 1) return 0;
    *a = (int)x;
    while (*e == ' ') e++;
    if (*e == ',') {
        long y = strtol(e + 1, &e, 10);
        *b = (int)y;
        return 2;
    }
    return 1;
}

int wb_sql_decltype_to_pg(const char *decl, uint32_t *oid, int32_t *typmod)
{
    *oid = 0;
    *typmod = -1;
    if (!decl || !*decl) return 0;
    /* the first word (up to space or '(') is the PostgreSQL name */
    char word[64];
    size_t n = 0;
    const char *p = decl;
    if (*p == '"') { /* "char" */
        p++;
        while (*p && *p != '"' && n + 1 < sizeof word) word[n++] = *p++;
        if (*p == '"') p++;
    } else {
        while (*p && *p != ' ' && *p != '(' && n + 1 < sizeof word) word[n++] = (char)tolower((unsigned char)*p++);
    }
    word[n] = 0;
    /* "double precision", "character varying", "timestamp with time zone" */
    char two[96];
    snprintf(two, sizeof two, "%s", word);
    const char *rest = p;
    while (*rest == ' ') rest++;
    const tr_type *t = NULL;
    if (!strcmp(word, "timespan")) t = tr_type_by_oid(OID_INTERVAL);
    else if (word[0] == '_' && word[1]) {
        const tr_type *e = tr_type_by_name(word + 1);
        if (e && e->array_oid) { *oid = e->array_oid; return 1; }
        return 0;
    } else if (!strcasecmp(word, "double") || !strcasecmp(word, "character") || !strcasecmp(word, "timestamp") ||
               !strcasecmp(word, "time")) {
        /* multi-word names: compare case-insensitively with the rest */
        if (!strncasecmp(rest, "precision", 9)) t = tr_type_by_oid(OID_FLOAT8);
        else if (!strncasecmp(rest, "varying", 7)) t = tr_type_by_oid(OID_VARCHAR), p = rest + 7;
        else if (!strncasecmp(rest, "with time zone", 14)) t = tr_type_by_oid(word[4] ? OID_TIMESTAMPTZ : OID_TIMETZ);
        else t = tr_type_by_name(word);
    } else {
        t = tr_type_by_name(word);
    }
    if (!t) {
        /* SQLite's own spellings, by affinity rules */
        if (strcasestr(decl, "int")) { *oid = OID_INT8; return 1; }
        if (strcasestr(decl, "char") || strcasestr(decl, "clob") || strcasestr(decl, "text")) { *oid = OID_TEXT; return 1; }
        if (strcasestr(decl, "blob")) { *oid = OID_BYTEA; return 1; }
        if (strcasestr(decl, "real") || strcasestr(decl, "floa") || strcasestr(decl, "doub")) { *oid = OID_FLOAT8; return 1; }
        return 0;
    }
    *oid = t->oid;
    int a = -1, b = -1;
    const char *m = strchr(p, '(');
    int k = m ? read_mods(m, &a, &b) : 0;
    if (k >= 1) {
        if (t->oid == OID_VARCHAR || t->oid == OID_BPCHAR) *typmod = a + 4;
        else if (t->oid == OID_NUMERIC) *typmod = ((a << 16) | (k == 2 && b >= 0 ? b : 0)) + 4;
        else if (t->oid == OID_TIMESTAMP || t->oid == OID_TIMESTAMPTZ || t->oid == OID_TIME || t->oid == OID_TIMETZ) *typmod = a;
        else if (t->oid == OID_VECTOR) *typmod = a;
    }
    if (!strcasecmp(word, "integer") || !strcasecmp(word, "int")) *oid = strcasestr(decl, "int4") || !strcasecmp(word, "int") ? OID_INT4 : OID_INT8;
    return 1;
}

static char *decl_of_base(tr *t, uint32_t oid, int32_t typmod);
static char *fmt(tr *t, const char *f, ...) __attribute__((format(printf, 2, 3)));

/* The SQLite declaration of a PostgreSQL type name. Returns malloc'd text. */
static char *decl_of(tr *t, const PgQuery__TypeName *tn, uint32_t *oid_out, int *serial)
{
    const char *name = tr_name_last(tn->names, tn->n_names);
    *serial = 0;
    if (tn->n_names == 1) {
        if (!strcmp(name, "serial") || !strcmp(name, "serial4")) *serial = 4;
        else if (!strcmp(name, "bigserial") || !strcmp(name, "serial8")) *serial = 8;
        else if (!strcmp(name, "smallserial") || !strcmp(name, "serial2")) *serial = 2;
    }
    int32_t typmod;
    uint32_t oid = tr_typename(t, tn, &typmod);
    if (t->failed) return NULL;
    *oid_out = oid;
    if (t->domain.oid) {
        /* a domain: its base type's declaration with "wbdomain<OID>" before
         * any "(typmod)" (wb_sql_decltype_domain) */
        uint32_t dom = t->domain.oid;
        char *base = decl_of_base(t, oid, typmod);
        if (!base) return NULL;
        const char *paren = strchr(base, '(');
        size_t head = paren ? (size_t)(paren - base) : strlen(base);
        char *r = fmt(t, "%.*s wbdomain%u%s", (int)head, base, dom, paren ? paren : "");
        free(base);
        return r;
    }
    return decl_of_base(t, oid, typmod);
}

/* the SQLite declaration of the built-in type oid with typmod */
static char *decl_of_base(tr *t, uint32_t oid, int32_t typmod)
{
    char buf[96];
    const tr_type *el = tr_type_by_array_oid(oid);
    if (el) {
        snprintf(buf, sizeof buf, "_%s", el->name);
        return tr_strdup(t, buf);
    }
    const tr_type *ty = tr_type_by_oid(oid);
    char mods[48] = "";
    if (typmod >= 0) {
        if (oid == OID_VARCHAR || oid == OID_BPCHAR) snprintf(mods, sizeof mods, "(%d)", typmod - 4);
        else if (oid == OID_NUMERIC) snprintf(mods, sizeof mods, "(%d,%d)", ((typmod - 4) >> 16) & 0xffff, (typmod - 4) & 0xffff);
        else if (oid == OID_VECTOR) snprintf(mods, sizeof mods, "(%d)", typmod);
        else if (oid == OID_TIMESTAMP || oid == OID_TIMESTAMPTZ || oid == OID_TIME || oid == OID_TIMETZ) {
            snprintf(buf, sizeof buf, "%s text(%d)", ty->name, typmod);
            return tr_strdup(t, buf);
        }
    }
    snprintf(buf, sizeof buf, ty->decl, mods);
    return tr_strdup(t, buf);
}

/* ---------- small helpers ---------- */

/* s as an SQL string literal ('...' with ' doubled); malloc'd, NULL on OOM */
static char *sql_literal(const char *s)
{
    size_t n = strlen(s), q = 0;
    for (size_t i = 0; i < n; i++) q += s[i] == '\'';
    char *r = malloc(n + q + 3), *o = r;
    if (!r) return NULL;
    *o++ = '\'';
    for (size_t i = 0; i < n; i++) { if (s[i] == '\'') *o++ = '\''; *o++ = s[i]; }
    *o++ = '\'';
    *o = 0;
    return r;
}

static char *sql_ident(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(2 * n + 3), *q = o;
    if (!o) return NULL;
    *q++ = '"';
    for (; *s; s++) { if (*s == '"') *q++ = '"'; *q++ = *s; }
    *q++ = '"';
    *q = 0;
    return o;
}

static char *fmt(tr *t, const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    char *s = NULL;
    if (vasprintf(&s, f, ap) < 0) { s = NULL; tr_nomem(t); }
    va_end(ap);
    return s;
}

/* a statement run before the main one: before, then name as an SQL
 * string literal, then after */
static void pre_named(tr *t, const char *before, const char *name, const char *after)
{
    char *lit = sql_literal(name);
    if (!lit) { tr_nomem(t); return; }
    tr_add_pre(t, fmt(t, "%s%s%s", before, lit, after));
    free(lit);
}

/* the HNSW indexes' parameters (CREATE INDEX ... USING hnsw), beside the
 * plain SQLite index standing for each; DROP INDEX / DROP TABLE delete
 * their rows */
static const char *hnsw_table_sql =
    "CREATE TABLE IF NOT EXISTS wb_hnsw_indexes (name TEXT PRIMARY KEY, tbl TEXT, col TEXT, "
    "kind INTEGER, m INTEGER, efc INTEGER)";

static const char *seq_table_sql =
    "CREATE TABLE IF NOT EXISTS wb_sequences (name text PRIMARY KEY, last_value int8 NOT NULL, "
    "start_value int8 NOT NULL, increment_by int8 NOT NULL, min_value int8 NOT NULL, "
    "max_value int8 NOT NULL, is_called bool int NOT NULL DEFAULT 0, owner_table text, owner_column text, "
    "cycle bool int NOT NULL DEFAULT 0)";

static void add_sequence(tr *t, const char *name, int64_t start, int64_t inc, int64_t minv, int64_t maxv,
                         const char *owner_table, const char *owner_col, int if_not_exists)
{
    tr_add_pre(t, tr_strdup(t, seq_table_sql));
    wb_buf b = {0};
    wb_buf *save = t->o;
    t->o = &b;
    tr_puts(t, if_not_exists ? "INSERT OR IGNORE INTO wb_sequences VALUES (" : "INSERT INTO wb_sequences VALUES (");
    tr_string(t, name);
    tr_printf(t, ", %lld, %lld, %lld, %lld, %lld, 0, ", (long long)start, (long long)start, (long long)inc,
              (long long)minv, (long long)maxv);
    if (owner_table) tr_string(t, owner_table); else tr_puts(t, "NULL");
    tr_puts(t, ", ");
    if (owner_col) tr_string(t, owner_col); else tr_puts(t, "NULL");
    tr_puts(t, ", 0)");
    t->o = save;
    tr_add_pre(t, tr_buf_take(t, &b));
}

/* ---------- CREATE TABLE ---------- */

static char *deparse_query(PgQuery__Node *query);

/* an expression's PostgreSQL text (libpg_query's deparse), NULL when it
 * cannot be deparsed; the caller frees it */
static char *pg_text(PgQuery__Node *expr)
{
    PgQuery__ResTarget rt = PG_QUERY__RES_TARGET__INIT;
    rt.val = expr;
    rt.location = -1;
    PgQuery__Node rtn = PG_QUERY__NODE__INIT;
    rtn.node_case = NC(RES_TARGET);
    rtn.res_target = &rt;
    PgQuery__Node *tl = &rtn;
    PgQuery__SelectStmt sel = PG_QUERY__SELECT_STMT__INIT;
    sel.n_target_list = 1;
    sel.target_list = &tl;
    sel.limit_option = PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_DEFAULT;
    sel.op = PG_QUERY__SET_OPERATION__SETOP_NONE;
    PgQuery__Node q = PG_QUERY__NODE__INIT;
    q.node_case = NC(SELECT_STMT);
    q.select_stmt = &sel;
    char *s = deparse_query(&q);
    if (s && (strncmp(s, "SELECT ", 7) || strstr(s, "*/"))) { free(s); return NULL; }
    if (s) memmove(s, s + 7, strlen(s + 7) + 1);
    return s;
}

/* the PostgreSQL text of a CHECK, DEFAULT or index expression as a
 * leading comment of the SQLite text, which SQLite keeps in
 * sqlite_schema.sql and pragma_table_info's dflt_value: the catalogs
 * (translate_catalog.c pg_comment) show it as PostgreSQL would */
static void pg_text_comment(tr *t, PgQuery__Node *expr)
{
    char *s = pg_text(expr);
    if (s) tr_printf(t, "/*pg:%s*/ ", s);
    free(s);
}

/* the column-level CHECKs of a CREATE TABLE's SQLite text (emit_column
 * writes them) get the comment too: in each column definition, the
 * CHECK ( without one, when their number is that of the column's CHECK
 * constraints (else they keep the SQLite text alone). Returns the new
 * text (sql freed) or sql itself. */
static char *column_check_comments(tr *t, char *sql, PgQuery__CreateStmt *cs)
{
    ctok k;
    const char *p = sql;
    for (;;) {
        p = ctok_next(p, &k);
        if (!k.kind) return sql;
        if (k.kind == 'p' && *k.p == '(') break;
    }
    const char *close = ctok_close(p);
    wb_buf b = {0};
    wb_buf *save = t->o;
    t->o = &b;
    tr_printf(t, "%.*s", (int)(p - sql), sql);
    size_t col = 0;
    const char *item = p;
    while (item < close) {
        const char *end = close, *q = item;
        int nchecks = 0;
        for (;;) {
            const char *r = ctok_next(q, &k);
            if (!k.kind || k.p >= close) break;
            if (k.kind == 'p' && *k.p == ',') { end = k.p; break; }
            if (k.kind == 'p' && *k.p == '(') { r = ctok_close(r); if (*r) r++; }
            else if (ctok_is(&k, "CHECK")) nchecks++;
            q = r;
        }
        /* the column definition this item is (columns come first) */
        PgQuery__ColumnDef *cd = NULL;
        for (size_t i = 0, c = 0; i < cs->n_table_elts; i++)
            if (cs->table_elts[i]->node_case == NC(COLUMN_DEF) && c++ == col) { cd = cs->table_elts[i]->column_def; break; }
        col++;
        size_t ncons = 0;
        for (size_t i = 0; cd && i < cd->n_constraints; i++)
            ncons += cd->constraints[i]->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_CHECK;
        size_t next = 0;
        q = item;
        while (q < end) {
            const char *r = ctok_next(q, &k);
            if (!k.kind || k.p >= end) break;
            if (k.kind == 'p' && *k.p == '(') { r = ctok_close(r); if (*r) r++; }
            tr_printf(t, "%.*s", (int)(r - q), q);
            if (cd && ncons && (size_t)nchecks == ncons && ctok_is(&k, "CHECK")) {
                ctok open, first;
                const char *in = ctok_next(r, &open);
                ctok_next(in, &first);
                if (open.kind == 'p' && *open.p == '(' && !(first.kind == 'c' && !strncmp(first.p, "/*pg:", 5))) {
                    while (next < cd->n_constraints &&
                           cd->constraints[next]->constraint->contype != PG_QUERY__CONSTR_TYPE__CONSTR_CHECK)
                        next++;
                    if (next < cd->n_constraints) {
                        tr_printf(t, "%.*s", (int)(in - r), r);
                        pg_text_comment(t, cd->constraints[next++]->constraint->raw_expr);
                        r = in;
                    }
                }
            }
            q = r;
        }
        if (end > q) tr_printf(t, "%.*s", (int)(end - q), q);
        if (end >= close) break;
        tr_puts(t, ",");
        item = end + 1;
    }
    tr_puts(t, close);
    t->o = save;
    char *r = tr_buf_take(t, &b);
    if (!r) return sql;
    free(sql);
    return r;
}

typedef struct coldesc { const char *name; uint32_t oid; } coldesc;

static void emit_constraint_tail(tr *t, PgQuery__Constraint *c, const char *table)
{
    (void)table;
    if (c->conname) { tr_puts(t, "CONSTRAINT "); tr_ident(t, c->conname); tr_puts(t, " "); }
}

static void emit_key_list(tr *t, PgQuery__Node **keys, size_t n)
{
    tr_puts(t, "(");
    for (size_t i = 0; i < n; i++) {
        if (i) tr_puts(t, ", ");
        tr_ident(t, keys[i]->string->sval);
    }
    tr_puts(t, ")");
}

static const char *fk_action(const char *a)
{
    if (!a || !*a) return NULL;
    switch (a[0]) {
    case 'c': return "CASCADE";
    case 'n': return "SET NULL";
    case 'd': return "SET DEFAULT";
    case 'r': return "RESTRICT";
    default: return NULL; /* 'a' = NO ACTION, the default */
    }
}

static void emit_fk(tr *t, PgQuery__Constraint *c)
{
    tr_puts(t, "REFERENCES ");
    tr_ident(t, c->pktable->relname);
    if (c->n_pk_attrs) { tr_puts(t, " "); emit_key_list(t, c->pk_attrs, c->n_pk_attrs); }
    const char *d = fk_action(c->fk_del_action), *u = fk_action(c->fk_upd_action);
    if (d) tr_printf(t, " ON DELETE %s", d);
    if (u) tr_printf(t, " ON UPDATE %s", u);
    if (c->deferrable) tr_puts(t, c->initdeferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE INITIALLY IMMEDIATE");
}

/* table-level constraint (also ALTER TABLE ADD CONSTRAINT) */
static void emit_table_constraint(tr *t, PgQuery__Constraint *c, const char *table)
{
    switch (c->contype) {
    case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
        emit_constraint_tail(t, c, table);
        tr_puts(t, "PRIMARY KEY ");
        emit_key_list(t, c->keys, c->n_keys);
        break;
    case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
        emit_constraint_tail(t, c, table);
        tr_puts(t, "UNIQUE ");
        emit_key_list(t, c->keys, c->n_keys);
        break;
    case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
        emit_constraint_tail(t, c, table);
        tr_puts(t, "CHECK (");
        pg_text_comment(t, c->raw_expr);
        tr_expr(t, c->raw_expr);
        tr_puts(t, ")");
        break;
    case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
        emit_constraint_tail(t, c, table);
        tr_puts(t, "FOREIGN KEY ");
        emit_key_list(t, c->fk_attrs, c->n_fk_attrs);
        tr_puts(t, " ");
        emit_fk(t, c);
        break;
    default:
        tr_fail(t, "0A000", c->location, "this table constraint is not supported");
    }
}

/* A DEFAULT: an integer constant for a numeric(p,s) column is written
 * with its scale ('0.00'), so the stored default reads back as PostgreSQL
 * shows it; anything else is an assignment. */
static void emit_default(tr *t, PgQuery__Node *n, uint32_t oid, int32_t typmod)
{
    if (t->pg_defaults) pg_text_comment(t, n); /* a table column's (pg_attrdef), not a domain's */
    if (oid == OID_NUMERIC && typmod >= 4 && n->node_case == NC(A_CONST) && !n->a_const->isnull &&
        n->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
        int scale = (typmod - 4) & 0xffff, prec = ((typmod - 4) >> 16) & 0xffff;
        int v = n->a_const->ival ? n->a_const->ival->ival : 0;
        char buf[64];
        int k = snprintf(buf, sizeof buf, "%d", v);
        int digits = k - (v < 0);
        if (digits <= prec - scale && scale < 30) {
            if (scale) { buf[k++] = '.'; for (int i = 0; i < scale; i++) buf[k++] = '0'; buf[k] = 0; }
            tr_string(t, buf);
            return;
        }
    }
    tr_assign(t, n, oid, typmod);
}

/* column is one of a table-level PRIMARY KEY's (which makes it NOT NULL
 * in PostgreSQL; SQLite lets a non-INTEGER key column hold NULL) */
static int in_table_pk(PgQuery__CreateStmt *cs, const char *column)
{
    for (size_t pass = 0; cs && pass < 2; pass++) {
        size_t n = pass ? cs->n_constraints : cs->n_table_elts;
        PgQuery__Node **e = pass ? cs->constraints : cs->table_elts;
        for (size_t i = 0; i < n; i++) {
            if (e[i]->node_case != NC(CONSTRAINT) || e[i]->constraint->contype != PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY) continue;
            for (size_t k = 0; k < e[i]->constraint->n_keys; k++)
                if (e[i]->constraint->keys[k]->node_case == NC(STRING) && !strcmp(e[i]->constraint->keys[k]->string->sval, column))
                    return 1;
        }
    }
    return 0;
}

/* a column definition; cs: the CREATE TABLE it is in (NULL for ADD COLUMN) */
static void emit_column(tr *t, PgQuery__ColumnDef *cd, const char *table, int temp, PgQuery__CreateStmt *cs)
{
    uint32_t oid = 0;
    int serial = 0;
    char *decl = decl_of(t, cd->type_name, &oid, &serial);
    if (!decl) return;
    wb_sql_domain dom = t->domain; /* oid 0: not a domain */
    tr_ident(t, cd->colname);
    tr_puts(t, " ");
    tr_puts(t, decl);
    free(decl);
    if (oid == OID_NUMERIC) tr_puts(t, " COLLATE wb_numeric"); /* by value, not bytes (translate_numeric.c) */
    int notnull = cd->is_not_null || in_table_pk(cs, cd->colname), has_default = cd->raw_default != NULL;
    const char *identity = NULL;
    for (size_t i = 0; i < cd->n_constraints; i++) {
        PgQuery__Constraint *c = cd->constraints[i]->constraint;
        if (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY) identity = c->generated_when;
        if (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY || c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL) notnull = 1;
    }
    if (serial || identity) {
        char seq[256];
        snprintf(seq, sizeof seq, "%s_%s_seq", table, cd->colname);
        int64_t maxv = serial == 2 || oid == OID_INT2 ? 32767 : serial == 4 || oid == OID_INT4 ? 2147483647 : INT64_MAX;
        add_sequence(t, seq, 1, 1, 1, maxv, table, cd->colname, t->if_not_exists);
        (void)temp;
        notnull = 1;
        tr_puts(t, " NOT NULL DEFAULT (nextval(");
        tr_string(t, seq);
        tr_puts(t, "))");
        has_default = 1;
    } else if (notnull) tr_puts(t, " NOT NULL");
    int32_t typmod = -1;
    tr_typename(t, cd->type_name, &typmod);
    if (cd->raw_default) {
        tr_puts(t, " DEFAULT (");
        emit_default(t, cd->raw_default, oid, typmod);
        tr_puts(t, ")");
    }
    for (size_t i = 0; i < cd->n_constraints && !t->failed; i++) {
        PgQuery__Constraint *c = cd->constraints[i]->constraint;
        switch (c->contype) {
        case PG_QUERY__CONSTR_TYPE__CONSTR_NULL: case PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL:
        case PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY:
        case PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_DEFERRABLE: case PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_NOT_DEFERRABLE:
        case PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_DEFERRED: case PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_IMMEDIATE:
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT:
            if (has_default && (serial || identity)) { tr_fail(t, "42601", c->location, "multiple default values specified for column \"%s\" of table \"%s\"", cd->colname, table); return; }
            tr_puts(t, " DEFAULT (");
            emit_default(t, c->raw_expr, oid, typmod);
            tr_puts(t, ")");
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
            tr_puts(t, " ");
            emit_constraint_tail(t, c, table);
            tr_puts(t, "PRIMARY KEY");
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
            tr_puts(t, " ");
            emit_constraint_tail(t, c, table);
            tr_puts(t, "UNIQUE");
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
            tr_puts(t, " ");
            emit_constraint_tail(t, c, table);
            tr_puts(t, "CHECK (");
            tr_expr(t, c->raw_expr);
            tr_puts(t, ")");
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
            tr_puts(t, " ");
            emit_constraint_tail(t, c, table);
            emit_fk(t, c);
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED:
            tr_puts(t, " GENERATED ALWAYS AS (");
            tr_expr(t, c->raw_expr);
            tr_puts(t, ") STORED");
            break;
        default:
            tr_fail(t, "0A000", c->location, "this column constraint is not supported");
        }
    }
    if (dom.oid && !t->failed) {
        /* a domain's DEFAULT when the column has none, its NOT NULL and
         * CHECK on every value stored: calls the engine's catalog hides
         * (pg_attrdef, pg_constraint), as PostgreSQL keeps them on the
         * domain */
        int col_default = cd->raw_default != NULL || serial || identity;
        for (size_t i = 0; i < cd->n_constraints; i++)
            col_default |= cd->constraints[i]->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT;
        if (dom.has_default && !col_default) {
            if (!cs) {
                /* SQLite's ADD COLUMN takes constant defaults only */
                tr_fail(t, "0A000", cd->location,
                        "ADD COLUMN of domain \"%s\" with a DEFAULT is not supported: give the column its own DEFAULT",
                        tr_name_last(cd->type_name->names, cd->type_name->n_names));
                return;
            }
            tr_printf(t, " DEFAULT (wb_domain_default(%u))", dom.oid);
        }
        if (dom.not_null || dom.has_check) {
            tr_puts(t, " CHECK (wb_domain_ok(");
            tr_ident(t, cd->colname);
            tr_printf(t, ", %u))", dom.oid);
        }
    }
    if (cd->coll_clause) {
        const char *coll = tr_name_last(cd->coll_clause->collname, cd->coll_clause->n_collname);
        if (strcmp(coll, "C") && strcmp(coll, "POSIX") && strcmp(coll, "default"))
            tr_fail(t, "0A000", cd->location, "collation \"%s\" is not supported (only \"C\")", coll);
    }
}

static int create_table(tr *t, PgQuery__CreateStmt *cs, wb_sql_stmt *st)
{
    st->tag = tr_strdup(t, "CREATE TABLE");
    if (cs->n_inh_relations || cs->partbound || cs->partspec || cs->of_typename) {
        tr_fail(t, "0A000", cs->relation->location, "INHERITS, PARTITION and OF type are not supported");
        return -1;
    }
    const char *table = cs->relation->relname;
    int temp = cs->relation->relpersistence && cs->relation->relpersistence[0] == 't';
    /* the CHECK constraints see the new table's columns */
    tr_scope sc;
    tr_scope_push(t, &sc);
    tr_rel *r = tr_scope_add(t, &sc, table, NULL);
    if (r) {
        r->cols = calloc(cs->n_table_elts + 1, sizeof *r->cols);
        r->types = calloc(cs->n_table_elts + 1, sizeof *r->types);
        if (!r->cols || !r->types) tr_nomem(t);
        for (size_t i = 0; i < cs->n_table_elts && !t->failed; i++)
            if (cs->table_elts[i]->node_case == NC(COLUMN_DEF)) {
                PgQuery__ColumnDef *cd = cs->table_elts[i]->column_def;
                int32_t tm;
                r->cols[r->ncols] = tr_strdup(t, cd->colname);
                r->types[r->ncols++] = tr_typename(t, cd->type_name, &tm);
            }
    }
    wb_buf b = {0};
    wb_buf *save = t->o;
    t->o = &b;
    t->unqualified++;
    tr_puts(t, temp ? "CREATE TEMP TABLE " : "CREATE TABLE ");
    if (cs->if_not_exists) tr_puts(t, "IF NOT EXISTS ");
    tr_ident(t, table);
    tr_puts(t, " (");
    int n = 0;
    t->if_not_exists = cs->if_not_exists;
    /* columns first, then the table constraints: PostgreSQL takes them in
     * any order, SQLite's grammar wants every column before the first */
    for (size_t i = 0; i < cs->n_table_elts && !t->failed; i++) {
        PgQuery__Node *e = cs->table_elts[i];
        if (e->node_case == NC(CONSTRAINT)) continue;
        if (n++) tr_puts(t, ", ");
        t->pg_defaults = 1;
        if (e->node_case == NC(COLUMN_DEF)) emit_column(t, e->column_def, table, temp, cs);
        else tr_fail(t, "0A000", -1, "CREATE TABLE element (LIKE ...) is not supported");
    }
    for (size_t i = 0; i < cs->n_table_elts && !t->failed; i++) {
        PgQuery__Node *e = cs->table_elts[i];
        if (e->node_case != NC(CONSTRAINT)) continue;
        if (n++) tr_puts(t, ", ");
        emit_table_constraint(t, e->constraint, table);
    }
    for (size_t i = 0; i < cs->n_constraints && !t->failed; i++) {
        if (n++) tr_puts(t, ", ");
        emit_table_constraint(t, cs->constraints[i]->constraint, table);
    }
    t->pg_defaults = 0;
    if (n == 0) tr_puts(t, "wb_no_columns text"); /* SQLite needs a column; PostgreSQL allows none */
    tr_puts(t, ")");
    t->unqualified--;
    t->o = save;
    tr_scope_pop(t, &sc);
    /* WITH (fillfactor=...) and other storage parameters: accepted, no effect */
    char *sql = tr_buf_take(t, &b);
    if (t->failed) { free(sql); return -1; }
    tr_add_pre(t, column_check_comments(t, sql, cs));
    return 0;
}

/* ---------- CREATE INDEX / VIEW / SEQUENCE / TABLE AS ---------- */
static int64_t defelem_int(PgQuery__DefElem *d, int64_t dflt);

static int create_index(tr *t, PgQuery__IndexStmt *is, wb_sql_stmt *st)
{
    st->tag = tr_strdup(t, "CREATE INDEX");
    int hnsw_kind = -1;
    int64_t hnsw_m = 0, hnsw_efc = 0;
    if (is->access_method && (!strcmp(is->access_method, "hnsw") || !strcmp(is->access_method, "ivfflat"))) {
        /* pgvector's index methods: checked as pgvector does, and stood for
         * by a plain SQLite index (so that DROP INDEX and the catalogs see
         * it); an hnsw index is also recorded in wb_hnsw_indexes (name,
         * table, column, operator class as wb_knn's kind, m,
         * ef_construction) and wb_knn answers k-NN through hnswlib while the
         * SQLite index of that name exists; ivfflat is exact (recall 1) */
        int hnsw = is->access_method[0] == 'h';
        if (is->n_index_params != 1 || !is->index_params[0]->index_elem->name) {
            tr_fail(t, "0A000", is->relation->location, "%s indexes are supported on one vector column", is->access_method);
            return -1;
        }
        PgQuery__IndexElem *ie = is->index_params[0]->index_elem;
        int found;
        uint32_t cty = tr_column_type(t, is->relation->relname, ie->name, NULL, &found);
        if (cty != OID_VECTOR) {
            const tr_type *ty = tr_type_by_oid(cty);
            if (found)
                tr_fail(t, "42704", is->relation->location, "data type %s has no default operator class for access method \"%s\"",
                        ty ? ty->name : "unknown", is->access_method);
            else
                tr_fail(t, "42703", is->relation->location, "column \"%s\" does not exist", ie->name);
            return -1;
        }
        const char *opc = ie->n_opclass ? tr_name_last(ie->opclass, ie->n_opclass) : NULL;
        if (opc && strcmp(opc, "vector_l2_ops") && strcmp(opc, "vector_ip_ops") && strcmp(opc, "vector_cosine_ops") &&
            !(hnsw && !strcmp(opc, "vector_l1_ops"))) {
            tr_fail(t, "42704", is->relation->location, "operator class \"%s\" does not exist for access method \"%s\"", opc,
                    is->access_method);
            return -1;
        }
        int64_t m = 16, efc = 64;
        for (size_t i = 0; i < is->n_options; i++) {
            PgQuery__DefElem *d = is->options[i]->def_elem;
            int64_t lo, hi, v;
            if (hnsw && !strcmp(d->defname, "m")) lo = 2, hi = 100, v = m = defelem_int(d, 16);
            else if (hnsw && !strcmp(d->defname, "ef_construction")) lo = 4, hi = 1000, v = efc = defelem_int(d, 64);
            else if (!hnsw && !strcmp(d->defname, "lists")) lo = 1, hi = 32768, v = defelem_int(d, 100);
            else { tr_fail(t, "22023", -1, "unrecognized parameter \"%s\"", d->defname); return -1; }
            if (v < lo || v > hi) {
                tr_fail(t, "22023", -1, "value %lld out of bounds for option \"%s\"", (long long)v, d->defname);
                return -1;
            }
        }
        if (hnsw && efc < 2 * m) {
            tr_fail(t, "22023", -1, "ef_construction must be greater than or equal to 2 * m");
            return -1;
        }
        hnsw_kind = !hnsw ? -1 : !opc || !strcmp(opc, "vector_l2_ops") ? 0 : !strcmp(opc, "vector_ip_ops") ? 1
                  : !strcmp(opc, "vector_cosine_ops") ? 2 : 3;
        hnsw_m = m, hnsw_efc = efc;
    } else if (is->access_method && strcmp(is->access_method, "btree") && strcmp(is->access_method, "hash")) {
        tr_fail(t, "0A000", is->relation->location, "index access method \"%s\" is not supported", is->access_method);
        return -1;
    }
    const char *table = is->relation->relname;
    char namebuf[256];
    const char *name = is->idxname;
    if (!name) {
        /* PostgreSQL's ChooseRelationName: table_col[_col]_idx / _key */
        size_t off = (size_t)snprintf(namebuf, sizeof namebuf, "%s", table);
        for (size_t i = 0; i < is->n_index_params && off < sizeof namebuf; i++) {
            PgQuery__IndexElem *ie = is->index_params[i]->index_elem;
            off += (size_t)snprintf(namebuf + off, sizeof namebuf - off, "_%s", ie->name ? ie->name : "expr");
        }
        if (off < sizeof namebuf) snprintf(namebuf + off, sizeof namebuf - off, "%s", is->unique ? "_key" : "_idx");
        name = namebuf;
    }
    tr_scope sc;
    tr_scope_push(t, &sc);
    tr_scope_add(t, &sc, table, table);
    t->unqualified++;
    wb_buf b = {0};
    wb_buf *save = t->o;
    t->o = &b;
    tr_puts(t, is->unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ");
    if (is->if_not_exists) tr_puts(t, "IF NOT EXISTS ");
    tr_ident(t, name);
    tr_puts(t, " ON ");
    tr_ident(t, table);
    tr_puts(t, " (");
    for (size_t i = 0; i < is->n_index_params && !t->failed; i++) {
        PgQuery__IndexElem *ie = is->index_params[i]->index_elem;
        if (i) tr_puts(t, ", ");
        if (ie->name) tr_ident(t, ie->name);
        else { tr_puts(t, "("); pg_text_comment(t, ie->expr); tr_expr(t, ie->expr); tr_puts(t, ")"); }
        if (ie->ordering == PG_QUERY__SORT_BY_DIR__SORTBY_DESC) tr_puts(t, " DESC");
    }
    tr_puts(t, ")");
    if (is->where_clause) { tr_puts(t, " WHERE "); pg_text_comment(t, is->where_clause); tr_expr(t, is->where_clause); }
    t->unqualified--;
    t->o = save;
    tr_scope_pop(t, &sc);
    char *sql = tr_buf_take(t, &b);
    if (t->failed) { free(sql); return -1; }
    tr_add_pre(t, sql);
    if (hnsw_kind >= 0) {
        char *n = sql_literal(name), *tb = sql_literal(table), *cl = sql_literal(is->index_params[0]->index_elem->name);
        if (!n || !tb || !cl) { free(n); free(tb); free(cl); tr_nomem(t); return -1; }
        tr_add_pre(t, tr_strdup(t, hnsw_table_sql));
        tr_add_pre(t, fmt(t, "INSERT OR REPLACE INTO wb_hnsw_indexes VALUES (%s, %s, %s, %d, %lld, %lld)", n, tb, cl,
                          hnsw_kind, (long long)hnsw_m, (long long)hnsw_efc));
        free(n); free(tb); free(cl);
    }
    return 0;
}

/* a query's text as libpg_query deparses it (PostgreSQL's syntax,
 * normalised), NULL when it cannot; the caller frees it */
static char *deparse_query(PgQuery__Node *query)
{
    PgQuery__RawStmt raw = PG_QUERY__RAW_STMT__INIT;
    raw.stmt = query;
    PgQuery__RawStmt *rawp = &raw;
    PgQuery__ParseResult pr = PG_QUERY__PARSE_RESULT__INIT;
    pr.version = PG_VERSION_NUM;
    pr.n_stmts = 1;
    pr.stmts = &rawp;
    size_t len = pg_query__parse_result__get_packed_size(&pr);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf) return NULL;
    pg_query__parse_result__pack(&pr, buf);
    PgQueryProtobuf pb = {len, (char *)buf};
    PgQueryDeparseResult d = pg_query_deparse_protobuf(pb);
    free(buf);
    char *r = !d.error && d.query ? strdup(d.query) : NULL;
    pg_query_free_deparse_result(d);
    return r;
}

static int create_view(tr *t, PgQuery__ViewStmt *vs, wb_sql_stmt *st)
{
    st->tag = tr_strdup(t, "CREATE VIEW");
    const char *name = vs->view->relname;
    int temp = vs->view->relpersistence && vs->view->relpersistence[0] == 't';
    if (vs->query->node_case != NC(SELECT_STMT)) { tr_fail(t, "0A000", -1, "this view query is not supported"); return -1; }
    if (vs->replace) {
        char *id = sql_ident(name);
        if (!id) { tr_nomem(t); return -1; }
        tr_add_pre(t, fmt(t, "DROP VIEW IF EXISTS %s", id));
        free(id);
    }
    wb_buf b = {0};
    wb_buf *save = t->o;
    t->o = &b;
    tr_puts(t, temp ? "CREATE TEMP VIEW " : "CREATE VIEW ");
    tr_ident(t, name);
    if (vs->n_aliases) {
        tr_puts(t, " (");
        for (size_t i = 0; i < vs->n_aliases; i++) {
            if (i) tr_puts(t, ", ");
            tr_ident(t, vs->aliases[i]->string->sval);
        }
        tr_puts(t, ")");
    }
    tr_puts(t, " AS ");
    /* the view's query as PostgreSQL text (libpg_query's deparser) in a
     * leading comment, which SQLite keeps in sqlite_schema.sql: the
     * catalog's view_definition / pg_get_viewdef read it back */
    char *pgdef = deparse_query(vs->query);
    if (pgdef && !strstr(pgdef, "*/")) tr_printf(t, "/*pg:%s*/ ", pgdef);
    free(pgdef);
    int np = t->nparams;
    tr_select(t, vs->query->select_stmt, NULL, 0);
    if (t->nparams > np) tr_fail(t, "42P02", -1, "there is no parameter $1");
    t->o = save;
    char *sql = tr_buf_take(t, &b);
    if (t->failed) { free(sql); return -1; }
    tr_add_pre(t, sql);
    return 0;
}

static int64_t defelem_int(PgQuery__DefElem *d, int64_t dflt)
{
    if (!d->arg) return dflt;
    if (d->arg->node_case == NC(INTEGER)) return d->arg->integer->ival;
    if (d->arg->node_case == NC(FLOAT)) return strtoll(d->arg->float_->fval, NULL, 10);
    return dflt;
}

static int create_sequence(tr *t, PgQuery__CreateSeqStmt *cs, wb_sql_stmt *st)
{
    st->tag = tr_strdup(t, "CREATE SEQUENCE");
    int64_t start = 1, inc = 1, minv = 1, maxv = INT64_MAX;
    int has_start = 0, has_min = 0, has_max = 0;
    for (size_t i = 0; i < cs->n_options; i++) {
        PgQuery__DefElem *d = cs->options[i]->def_elem;
        if (!strcmp(d->defname, "start")) { start = defelem_int(d, 1); has_start = 1; }
        else if (!strcmp(d->defname, "increment")) inc = defelem_int(d, 1);
        else if (!strcmp(d->defname, "minvalue")) { if (d->arg) { minv = defelem_int(d, 1); has_min = 1; } }
        else if (!strcmp(d->defname, "maxvalue")) { if (d->arg) { maxv = defelem_int(d, INT64_MAX); has_max = 1; } }
        else if (!strcmp(d->defname, "cache") || !strcmp(d->defname, "owned_by") || !strcmp(d->defname, "as")) {}
        else if (!strcmp(d->defname, "cycle")) { tr_fail(t, "0A000", d->location, "CYCLE sequences are not supported"); return -1; }
    }
    if (inc < 0) {
        if (!has_max) maxv = -1;
        if (!has_min) minv = INT64_MIN;
        if (!has_start) start = maxv;
    } else if (!has_start) start = minv;
    if (inc == 0) { tr_fail(t, "22023", -1, "INCREMENT must not be zero"); return -1; }
    add_sequence(t, cs->sequence->relname, start, inc, minv, maxv, NULL, NULL, cs->if_not_exists);
    return 0;
}

static int create_table_as(tr *t, PgQuery__CreateTableAsStmt *c, wb_sql_stmt *st)
{
    if (c->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW) { tr_fail(t, "0A000", -1, "materialized views are not supported"); return -1; }
    st->tag = tr_strdup(t, "SELECT");
    if (c->query->node_case != NC(SELECT_STMT)) { tr_fail(t, "0A000", -1, "CREATE TABLE AS of this statement is not supported"); return -1; }
    const char *table = c->into->rel->relname;
    int temp = c->into->rel->relpersistence && c->into->rel->relpersistence[0] == 't';
    /* the SELECT first (into the main buffer), then the table from its
     * columns' PostgreSQL types */
    wb_sql_stmt tmp;
    memset(&tmp, 0, sizeof tmp);
    wb_buf sel = {0};
    wb_buf *save = t->o;
    t->o = &sel;
    tr_select(t, c->query->select_stmt, &tmp, 0);
    t->o = save;
    if (t->failed) { wb_buf_free(&sel); free(tmp.cols); return -1; }
    if (tmp.ncols <= 0) { wb_buf_free(&sel); tr_fail(t, "0A000", -1, "CREATE TABLE AS with columns not known at translation"); return -1; }
    wb_buf b = {0};
    t->o = &b;
    tr_puts(t, temp ? "CREATE TEMP TABLE " : "CREATE TABLE ");
    if (c->if_not_exists) tr_puts(t, "IF NOT EXISTS ");
    tr_ident(t, table);
    tr_puts(t, " (");
    for (int i = 0; i < tmp.ncols; i++) {
        if (i) tr_puts(t, ", ");
        const char *nm = (size_t)i < c->into->n_col_names ? c->into->col_names[i]->string->sval : tmp.cols[i].name;
        tr_ident(t, nm);
        const tr_type *ty = tr_type_by_oid(tmp.cols[i].type_oid);
        const tr_type *el = tr_type_by_array_oid(tmp.cols[i].type_oid);
        if (el) tr_printf(t, " _%s", el->name);
        else if (ty) {
            char d[64];
            snprintf(d, sizeof d, ty->decl, "");
            tr_puts(t, " ");
            tr_puts(t, d);
            if (ty->oid == OID_NUMERIC) tr_puts(t, " COLLATE wb_numeric");
        }
    }
    tr_puts(t, ")");
    t->o = save;
    for (int i = 0; i < tmp.ncols; i++) free(tmp.cols[i].name);
    free(tmp.cols);
    tr_add_pre(t, tr_buf_take(t, &b));
    if (!c->into->skip_data) {
        char *id = sql_ident(table);
        if (!id) { tr_nomem(t); wb_buf_free(&sel); return -1; }
        tr_puts(t, "INSERT INTO ");
        tr_puts(t, id);
        tr_puts(t, " ");
        free(id);
        if (wb_buf_append(t->o, sel.p, sel.len) != 0) tr_nomem(t);
    }
    wb_buf_free(&sel);
    return t->failed ? -1 : 0;
}

/* ---------- DROP / TRUNCATE ---------- */

/* DROP DOMAIN [IF EXISTS] name [, ...] [CASCADE | RESTRICT]: 42704 for
 * an unknown domain without IF EXISTS; 2BP01 while a column is of the
 * domain (its declaration names it, wb_sql_decltype_domain), as
 * PostgreSQL's RESTRICT. CASCADE, which would drop those columns, is
 * refused (0A000) while a column uses the domain. */
static int drop_domain(tr *t, PgQuery__DropStmt *d, wb_sql_stmt *st)
{
    st->tag = tr_strdup(t, "DROP DOMAIN");
    tr_add_pre(t, tr_strdup(t, TR_DOMAIN_TABLE_SQL));
    for (size_t i = 0; i < d->n_objects && !t->failed; i++) {
        PgQuery__Node *o = d->objects[i];
        const char *name = NULL;
        if (o->node_case == NC(TYPE_NAME)) name = tr_name_last(o->type_name->names, o->type_name->n_names);
        else if (o->node_case == NC(LIST)) name = tr_name_last(o->list->items, o->list->n_items);
        if (!name || !*name) { tr_fail(t, "0A000", -1, "DROP DOMAIN of this name is not supported"); return -1; }
        wb_buf b = {0};
        wb_buf *save = t->o;
        t->o = &b;
        if (!d->missing_ok) {
            tr_puts(t, "SELECT wb_raise('42704 type \"' || ");
            tr_string(t, name);
            tr_puts(t, " || '\" does not exist') WHERE NOT EXISTS (SELECT 1 FROM wb_domains WHERE name = ");
            tr_string(t, name);
            tr_puts(t, ")");
            t->o = save;
            tr_add_pre(t, tr_buf_take(t, &b));
            t->o = &b;
        }
        /* a table whose declaration names the domain depends on it */
        tr_puts(t, d->behavior == PG_QUERY__DROP_BEHAVIOR__DROP_CASCADE
                       ? "SELECT wb_raise('0A000 DROP DOMAIN ... CASCADE of domain \"' || d.name || '\" is not supported "
                         "while column ' || t.name || '.' || p.name || ' is of it: drop or alter the column first') "
                       : "SELECT wb_raise('2BP01 cannot drop type ' || d.name || ' because other objects depend on it') ");
        tr_puts(t, "FROM wb_domains d, sqlite_schema t, pragma_table_info(t.name) p WHERE d.name = ");
        tr_string(t, name);
        tr_puts(t, " AND t.type = 'table' AND instr(t.sql, 'wbdomain' || (" TR_DOMAIN_OID_BASE_SQL " + d.rowid)) > 0 "
                   "AND instr(p.type, 'wbdomain' || (" TR_DOMAIN_OID_BASE_SQL " + d.rowid)) > 0 LIMIT 1");
        t->o = save;
        tr_add_pre(t, tr_buf_take(t, &b));
        pre_named(t, "DELETE FROM wb_domains WHERE name = ", name, "");
    }
    return t->failed ? -1 : 0;
}

static int drop_stmt(tr *t, PgQuery__DropStmt *d, wb_sql_stmt *st)
{
    const char *what = NULL, *tag = NULL;
    switch (d->remove_type) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE: what = "TABLE"; tag = "DROP TABLE"; break;
    case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX: what = "INDEX"; tag = "DROP INDEX"; break;
    case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW: what = "VIEW"; tag = "DROP VIEW"; break;
    case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE: what = NULL; tag = "DROP SEQUENCE"; break;
    case PG_QUERY__OBJECT_TYPE__OBJECT_DOMAIN: return drop_domain(t, d, st);
    default:
        tr_fail(t, "0A000", -1, "DROP of this object type is not supported");
        return -1;
    }
    st->tag = tr_strdup(t, tag);
    for (size_t i = 0; i < d->n_objects && !t->failed; i++) {
        PgQuery__Node *o = d->objects[i];
        const char *name = NULL;
        if (o->node_case == NC(LIST)) name = tr_name_last(o->list->items, o->list->n_items);
        else if (o->node_case == NC(STRING)) name = o->string->sval;
        if (!name || !*name) { tr_fail(t, "0A000", -1, "DROP of this object name is not supported"); return -1; }
        char *id = sql_ident(name);
        if (!id) { tr_nomem(t); return -1; }
        if (what) {
            /* existence is checked by the engine's SQLite error (no such
             * table -> 42P01); IF EXISTS maps to SQLite's */
            tr_add_pre(t, fmt(t, "DROP %s %s%s", what, d->missing_ok ? "IF EXISTS " : "", id));
            if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE || d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX) {
                /* an HNSW index's record goes with it (or with its table) */
                tr_add_pre(t, tr_strdup(t, hnsw_table_sql));
                pre_named(t, d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE ? "DELETE FROM wb_hnsw_indexes WHERE tbl = "
                                                                                    : "DELETE FROM wb_hnsw_indexes WHERE name = ",
                          name, "");
            }
            if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
                tr_add_pre(t, tr_strdup(t, seq_table_sql));
                pre_named(t, "DELETE FROM wb_sequences WHERE owner_table = ", name, "");
            }
        } else {
            tr_add_pre(t, tr_strdup(t, seq_table_sql));
            if (d->missing_ok) pre_named(t, "DELETE FROM wb_sequences WHERE name = ", name, "");
            else pre_named(t, "SELECT wb_drop_sequence(", name, ")");
        }
        free(id);
    }
    return t->failed ? -1 : 0;
}

static int truncate_stmt(tr *t, PgQuery__TruncateStmt *ts, wb_sql_stmt *st)
{
    st->tag = tr_strdup(t, "TRUNCATE TABLE");
    for (size_t i = 0; i < ts->n_relations && !t->failed; i++) {
        const char *name = ts->relations[i]->range_var->relname;
        char *id = sql_ident(name);
        if (!id) { tr_nomem(t); return -1; }
        tr_add_pre(t, fmt(t, "DELETE FROM %s", id));
        free(id);
        if (ts->restart_seqs) {
            tr_add_pre(t, tr_strdup(t, seq_table_sql));
            pre_named(t, "UPDATE wb_sequences SET last_value = start_value, is_called = 0 WHERE owner_table = ", name, "");
        }
    }
    return t->failed ? -1 : 0;
}

/* ---------- ALTER TABLE ---------- */

/* the column list of a CREATE TABLE text (between open and close) with
 * NOT NULL added to the definitions of the primary key's columns (which
 * PostgreSQL makes NOT NULL on ADD PRIMARY KEY, PostgreSQL 15 docs "ALTER
 * TABLE"); *order gets the key columns in table order (the order in which
 * PostgreSQL checks existing rows), NULL-terminated, borrowed from pk.
 * NULL on a key column the table does not have (42703, as PostgreSQL). */
static char *columns_not_null(tr *t, const char *open, const char *close, const char *table, PgQuery__Constraint *pk,
                              const char ***order)
{
    wb_buf b = {0};
    wb_buf *save = t->o;
    t->o = &b;
    *order = calloc(pk->n_keys + 1, sizeof **order);
    char *seen = calloc(pk->n_keys + 1, 1);
    if (!*order || !seen) tr_nomem(t);
    size_t norder = 0;
    const char *item = open + 1;
    tr_puts(t, "(");
    while (!t->failed && item < close) {
        /* one item of the list: up to its ',' at depth 0 */
        ctok k, first;
        const char *end = item, *p = item;
        int has_notnull = 0, prev_not = 0;
        ctok_next(item, &first);
        for (;;) {
            const char *q = ctok_next(p, &k);
            if (!k.kind || k.p >= close) { end = close; break; }
            if (k.kind == 'p' && *k.p == ',') { end = k.p; break; }
            if (k.kind == 'p' && *k.p == '(') { q = ctok_close(q); if (*q) q++; }
            if (prev_not && ctok_is(&k, "NULL")) has_notnull = 1;
            prev_not = ctok_is(&k, "NOT");
            p = q;
        }
        tr_printf(t, "%.*s", (int)(end - item), item);
        int column = (first.kind == 'i' || first.kind == 'q') && !ctok_is(&first, "CONSTRAINT") &&
                     !ctok_is(&first, "PRIMARY") && !ctok_is(&first, "UNIQUE") && !ctok_is(&first, "CHECK") &&
                     !ctok_is(&first, "FOREIGN");
        for (size_t i = 0; column && i < pk->n_keys && !t->failed; i++) {
            const char *kn = pk->keys[i]->string->sval;
            if (seen[i] || !ctok_names(&first, kn)) continue;
            seen[i] = 1;
            (*order)[norder++] = kn;
            if (!has_notnull) tr_puts(t, " NOT NULL");
            has_notnull = 1;
        }
        if (end >= close) break;
        tr_puts(t, ",");
        item = end + 1;
    }
    for (size_t i = 0; i < pk->n_keys && !t->failed; i++)
        if (!seen[i]) tr_fail(t, "42703", pk->location, "column \"%s\" of relation \"%s\" does not exist",
                              pk->keys[i]->string->sval, table);
    free(seen);
    t->o = save;
    char *r = tr_buf_take(t, &b);
    if (t->failed) { free(r); free(*order); *order = NULL; return NULL; }
    return r;
}

/* Rebuild a table with one more table constraint (SQLite docs "Making
 * Other Kinds Of Table Schema Changes", §7 of lang_altertable). pk: the
 * constraint when it is a PRIMARY KEY, whose columns become NOT NULL (an
 * existing NULL fails with 23502 as in PostgreSQL's ATRewriteTable: the
 * first row in table order holding one, its first key column in table
 * order), else NULL. */
static void rebuild_with(tr *t, const char *table, const char *constraint_sql, PgQuery__Constraint *pk)
{
    if (!t->schema || !t->schema->table_ddl) {
        tr_fail(t, "0A000", -1, "ALTER TABLE ADD CONSTRAINT needs the table's definition (not available)");
        return;
    }
    char *create = NULL, **idx = NULL;
    int nidx = 0;
    if (!t->schema->table_ddl(t->schema->ctx, table, &create, &idx, &nidx) || !create) {
        tr_fail(t, "42P01", -1, "relation \"%s\" does not exist", table);
        return;
    }
    /* the column list is between the first '(' after the name and the last ')' */
    char *open = NULL;
    int inq = 0;
    for (char *p = create; *p; p++) {
        if (*p == '"') inq = !inq;
        else if (*p == '(' && !inq) { open = p; break; }
    }
    char *close = strrchr(create, ')');
    char *tmpname = fmt(t, "wb_rebuild_%s", table);
    char *idt = sql_ident(table), *idn = tmpname ? sql_ident(tmpname) : NULL;
    if (!open || !close || close < open || !idt || !idn) {
        if (!t->failed) tr_fail(t, "0A000", -1, "cannot rebuild table \"%s\" from its definition", table);
    } else {
        *close = 0;
        const char **order = NULL;
        char *cols = pk ? columns_not_null(t, open, close, table, pk, &order) : NULL;
        if (pk && order && order[0]) {
            /* SELECT wb_raise(...) FROM t WHERE a IS NULL OR b IS NULL LIMIT 1 */
            wb_buf b = {0};
            wb_buf *save = t->o;
            t->o = &b;
            tr_puts(t, "SELECT wb_raise('23502 column \"' || CASE");
            for (int i = 0; order[i]; i++) {
                tr_puts(t, " WHEN ");
                tr_ident(t, order[i]);
                tr_puts(t, " IS NULL THEN ");
                tr_string(t, order[i]);
            }
            tr_puts(t, " END || ");
            char *rel = fmt(t, "\" of relation \"%s\" contains null values", table);
            if (rel) tr_string(t, rel);
            free(rel);
            tr_printf(t, ") FROM %s WHERE", idt);
            for (int i = 0; order[i]; i++) {
                tr_puts(t, i ? " OR " : " ");
                tr_ident(t, order[i]);
                tr_puts(t, " IS NULL");
            }
            tr_puts(t, " LIMIT 1");
            t->o = save;
            tr_add_pre(t, tr_buf_take(t, &b));
        }
        free(order);
        /* the old table's DROP must not reach the tables that reference it
         * (wb_sql_stmt.fk_off): with foreign keys still enforced (inside a
         * transaction block) and such a table, refuse before any change */
        char *lit = sql_literal(table);
        if (lit)
            tr_add_pre(t, fmt(t, "SELECT wb_raise('0A000 ALTER TABLE \"' || %s || '\" rebuilds the table, which table \"' "
                                 "|| s.name || '\" references: run it outside a transaction block') "
                                 "FROM sqlite_schema s, pragma_foreign_key_list(s.name) f "
                                 "WHERE (SELECT foreign_keys FROM pragma_foreign_keys) AND s.type = 'table' "
                                 "AND s.name <> %s AND f.\"table\" = %s LIMIT 1", lit, lit, lit));
        else tr_nomem(t);
        if (!t->failed)
            tr_add_pre(t, fmt(t, "CREATE TABLE %s %s, %s)", idn, cols ? cols : open, constraint_sql));
        free(cols);
        tr_add_pre(t, fmt(t, "INSERT INTO %s SELECT * FROM %s", idn, idt));
        tr_add_pre(t, fmt(t, "DROP TABLE %s", idt));
        tr_add_pre(t, fmt(t, "ALTER TABLE %s RENAME TO %s", idn, idt));
        for (int i = 0; i < nidx; i++) tr_add_pre(t, tr_strdup(t, idx[i]));
        /* the rebuilt table's own foreign keys (also one just added), which
         * the copy did not check with enforcement off */
        if (lit)
            tr_add_pre(t, fmt(t, "SELECT wb_raise('23503 insert or update on table \"' || %s || '\" violates foreign key "
                                 "constraint') FROM pragma_foreign_key_check(%s) LIMIT 1", lit, lit));
        free(lit);
        t->rebuild = 1;
    }
    free(create);
    for (int i = 0; i < nidx; i++) free(idx[i]);
    free(idx);
    free(tmpname); free(idt); free(idn);
}

/* ADD PRIMARY KEY / UNIQUE over rows that repeat a key: PostgreSQL's
 * index build fails first, with 23505 'could not create unique index
 * "NAME"' (NAME the constraint's, TABLE_pkey / TABLE_COLS_key when
 * unnamed); without this the rebuilt table's copy would fail under the
 * temporary table's name. Rows with a NULL key column never conflict. */
static void key_duplicates_check(tr *t, const char *table, PgQuery__Constraint *con)
{
    if (!con->n_keys) return;
    int pk = con->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY;
    wb_buf name = {0}, b = {0};
    wb_buf *save = t->o;
    t->o = &name;
    if (con->conname) tr_puts(t, con->conname);
    else {
        tr_puts(t, table);
        for (size_t i = 0; i < con->n_keys && !pk; i++) tr_printf(t, "_%s", con->keys[i]->string->sval);
        tr_puts(t, pk ? "_pkey" : "_key");
    }
    char *nm = tr_buf_take(t, &name);
    t->o = &b;
    char *msg = nm ? fmt(t, "23505 could not create unique index \"%s\"", nm) : NULL;
    tr_puts(t, "SELECT wb_raise(");
    if (msg) tr_string(t, msg);
    tr_puts(t, ") FROM ");
    tr_ident(t, table);
    for (size_t i = 0; i < con->n_keys; i++) {
        tr_puts(t, i ? " AND " : " WHERE ");
        tr_ident(t, con->keys[i]->string->sval);
        tr_puts(t, " IS NOT NULL");
    }
    tr_puts(t, " GROUP BY ");
    for (size_t i = 0; i < con->n_keys; i++) {
        if (i) tr_puts(t, ", ");
        tr_ident(t, con->keys[i]->string->sval);
    }
    tr_puts(t, " HAVING count(*) > 1 LIMIT 1");
    t->o = save;
    free(nm);
    free(msg);
    tr_add_pre(t, tr_buf_take(t, &b));
}

static int alter_table(tr *t, PgQuery__AlterTableStmt *a, wb_sql_stmt *st)
{
    if (a->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX) st->tag = tr_strdup(t, "ALTER INDEX");
    else if (a->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE) st->tag = tr_strdup(t, "ALTER SEQUENCE");
    else if (a->objtype == PG_QUERY__OBJECT_TYPE__OBJECT_VIEW) st->tag = tr_strdup(t, "ALTER VIEW");
    else st->tag = tr_strdup(t, "ALTER TABLE");
    const char *table = a->relation->relname;
    char *idt = sql_ident(table);
    if (!idt) { tr_nomem(t); return -1; }
    for (size_t i = 0; i < a->n_cmds && !t->failed; i++) {
        PgQuery__AlterTableCmd *c = a->cmds[i]->alter_table_cmd;
        switch (c->subtype) {
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn: {
            PgQuery__ColumnDef *cd = c->def->column_def;
            for (size_t k = 0; k < cd->n_constraints; k++) {
                int ct = cd->constraints[k]->constraint->contype;
                if (ct == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY || ct == PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE) {
                    tr_fail(t, "0A000", cd->location, "ADD COLUMN with PRIMARY KEY or UNIQUE is not supported");
                    break;
                }
            }
            if (c->missing_ok) {
                int found;
                tr_column_type(t, table, cd->colname, NULL, &found);
                if (found) break;
            }
            wb_buf b = {0};
            wb_buf *save = t->o;
            t->o = &b;
            tr_puts(t, "ALTER TABLE ");
            tr_puts(t, idt);
            tr_puts(t, " ADD COLUMN ");
            tr_scope sc;
            tr_scope_push(t, &sc);
            t->pg_defaults = 1;
            emit_column(t, cd, table, 0, NULL);
            t->pg_defaults = 0;
            tr_scope_pop(t, &sc);
            t->o = save;
            tr_add_pre(t, tr_buf_take(t, &b));
            break;
        }
        case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn: {
            char *idc = sql_ident(c->name);
            if (!idc) { tr_nomem(t); break; }
            tr_add_pre(t, fmt(t, "ALTER TABLE %s DROP COLUMN %s", idt, idc));
            free(idc);
            break;
        }
        case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint: {
            PgQuery__Constraint *con = c->def->constraint;
            wb_buf b = {0};
            wb_buf *save = t->o;
            t->o = &b;
            tr_scope sc;
            tr_scope_push(t, &sc);
            tr_scope_add(t, &sc, table, table);
            t->unqualified++;
            if (!con->conname && con->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY) {
                /* PostgreSQL names it TABLE_pkey */
                char nm[256];
                snprintf(nm, sizeof nm, "%s_pkey", table);
                tr_puts(t, "CONSTRAINT ");
                tr_ident(t, nm);
                tr_puts(t, " ");
            }
            emit_table_constraint(t, con, table);
            t->unqualified--;
            tr_scope_pop(t, &sc);
            t->o = save;
            char *csql = tr_buf_take(t, &b);
            if (!t->failed && csql && (con->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ||
                                       con->contype == PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE))
                key_duplicates_check(t, table, con);
            if (!t->failed && csql)
                rebuild_with(t, table, csql, con->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ? con : NULL);
            free(csql);
            break;
        }
        case PG_QUERY__ALTER_TABLE_TYPE__AT_ChangeOwner:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_SetOptions:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_ResetOptions:
        case PG_QUERY__ALTER_TABLE_TYPE__AT_SetStatistics:
            break; /* no storage-level meaning in SQLite */
        default:
            tr_fail(t, "0A000", -1, "this ALTER TABLE action is not supported");
        }
    }
    free(idt);
    if (!t->failed && t->npre == 0) st->kind = WB_SQL_NOOP;
    return t->failed ? -1 : 0;
}

static int rename_stmt(tr *t, PgQuery__RenameStmt *r, wb_sql_stmt *st)
{
    if (!r->relation) { tr_fail(t, "0A000", -1, "this RENAME is not supported"); return -1; }
    char *idt = sql_ident(r->relation->relname), *idn = sql_ident(r->newname);
    if (!idt || !idn) { free(idt); free(idn); tr_nomem(t); return -1; }
    switch (r->rename_type) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
        st->tag = tr_strdup(t, "ALTER TABLE");
        tr_add_pre(t, fmt(t, "ALTER TABLE %s RENAME TO %s", idt, idn));
        break;
    case PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN: {
        char *idc = sql_ident(r->subname);
        st->tag = tr_strdup(t, "ALTER TABLE");
        if (!idc) tr_nomem(t);
        else tr_add_pre(t, fmt(t, "ALTER TABLE %s RENAME COLUMN %s TO %s", idt, idc, idn));
        free(idc);
        break;
    }
    default:
        tr_fail(t, "0A000", -1, "this RENAME is not supported");
    }
    free(idt); free(idn);
    return t->failed ? -1 : 0;
}

/* ---------- CREATE DOMAIN ----------
 *
 * PostgreSQL 15 docs "CREATE DOMAIN": name AS data_type [COLLATE c]
 * [DEFAULT expr] [CONSTRAINT name] {NOT NULL | NULL | CHECK (expr)} ...
 * The domain is a row of wb_domains (TR_DOMAIN_TABLE_SQL); pg_type lists
 * it (typtype 'd') with the OID TR_DOMAIN_OID_BASE + its rowid. One CHECK
 * per domain (a second is refused with 0A000). */
static int create_domain(tr *t, PgQuery__CreateDomainStmt *d, wb_sql_stmt *st)
{
    const char *name = tr_name_last(d->domainname, d->n_domainname);
    if (!name || !*name) { tr_fail(t, "42601", -1, "CREATE DOMAIN needs a name"); return -1; }
    if (d->n_domainname > 1) {
        const char *schema = d->domainname[0]->node_case == NC(STRING) ? d->domainname[0]->string->sval : NULL;
        if (!schema || strcmp(schema, "public")) {
            tr_fail(t, "0A000", -1, "schemas other than public are not supported");
            return -1;
        }
    }
    if (wb_sql_type_oid(name) || !strcmp(name, "vector")) {
        tr_fail(t, "0A000", -1, "a domain named like the built-in type \"%s\" is not supported", name);
        return -1;
    }
    int32_t typmod = -1;
    uint32_t base = tr_typename(t, d->type_name, &typmod);
    if (t->failed) return -1;
    if (t->domain.oid) {
        tr_fail(t, "0A000", d->type_name->location, "a domain over a domain is not supported");
        return -1;
    }
    if (d->type_name->n_array_bounds) {
        tr_fail(t, "0A000", d->type_name->location, "a domain over an array type is not supported");
        return -1;
    }
    int notnull = 0;
    char *defsql = NULL, *checksql = NULL, *checkname = NULL; /* malloc'd, freed below */
    for (size_t i = 0; i < d->n_constraints && !t->failed; i++) {
        PgQuery__Node *cn = d->constraints[i];
        if (cn->node_case != NC(CONSTRAINT)) { tr_fail(t, "0A000", -1, "this domain constraint is not supported"); break; }
        PgQuery__Constraint *c = cn->constraint;
        wb_buf b = {0};
        wb_buf *save = t->o;
        switch (c->contype) {
        case PG_QUERY__CONSTR_TYPE__CONSTR_NULL: notnull = 0; break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL: notnull = 1; break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT:
            if (defsql) { tr_fail(t, "42601", c->location, "multiple default expressions"); break; }
            t->o = &b;
            emit_default(t, c->raw_expr, base, typmod);
            t->o = save;
            defsql = tr_buf_take(t, &b);
            break;
        case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
            if (checksql) {
                tr_fail(t, "0A000", c->location, "more than one CHECK constraint on a domain is not supported");
                break;
            }
            {
                /* VALUE is the one column in scope: written as the
                 * identifier value (a column's name replaces it where the
                 * check is applied) */
                char *vcol[1] = {"value"};
                uint32_t vtype[1] = {base};
                tr_rel vr = {.cols = vcol, .types = vtype, .ncols = 1};
                tr_scope vs = {.rels = &vr, .n = 1, .cap = 1, .parent = NULL};
                tr_scope *saved_sc = t->sc;
                t->sc = &vs;
                t->o = &b;
                tr_expr(t, c->raw_expr);
                t->o = save;
                t->sc = saved_sc;
            }
            checksql = tr_buf_take(t, &b);
            /* the identifier "value" (outside string literals) is written
             * VALUE, as pg_get_constraintdef shows a domain's CHECK */
            if (checksql) {
                char *w = checksql;
                int q = 0;
                for (const char *r = checksql; *r;) {
                    if (*r == '\'') q = !q;
                    if (!q && !strncmp(r, "\"value\"", 7)) { memcpy(w, "VALUE", 5); w += 5; r += 7; }
                    else *w++ = *r++;
                }
                *w = 0;
            }
            checkname = c->conname ? strdup(c->conname) : fmt(t, "%s_check", name);
            if (!checkname) tr_nomem(t);
            break;
        default:
            tr_fail(t, "0A000", c->location, "this domain constraint is not supported");
        }
    }
    if (t->failed) goto done;
    st->tag = tr_strdup(t, "CREATE DOMAIN");
    tr_add_pre(t, tr_strdup(t, TR_DOMAIN_TABLE_SQL));
    pre_named(t, "SELECT wb_raise('42710 type \"' || name || '\" already exists') FROM wb_domains WHERE name = ", name, "");
    wb_buf b = {0};
    wb_buf *save = t->o;
    t->o = &b;
    tr_puts(t, "INSERT INTO wb_domains VALUES (");
    tr_string(t, name);
    tr_printf(t, ", %u, %d, %d, ", base, typmod, notnull);
    if (defsql) tr_string(t, defsql); else tr_puts(t, "NULL");
    tr_puts(t, ", ");
    if (checkname) tr_string(t, checkname); else tr_puts(t, "NULL");
    tr_puts(t, ", ");
    if (checksql) tr_string(t, checksql); else tr_puts(t, "NULL");
    tr_puts(t, ")");
    t->o = save;
    tr_add_pre(t, tr_buf_take(t, &b));
done:
    free(defsql);
    free(checksql);
    free(checkname);
    return t->failed ? -1 : 0;
}

/* Returns 1 when n is not DDL (the caller tries the next family). */
int tr_stmt_ddl(tr *t, PgQuery__Node *n, wb_sql_stmt *st)
{
    switch (n->node_case) {
    case NC(CREATE_STMT): return create_table(t, n->create_stmt, st);
    case NC(INDEX_STMT): return create_index(t, n->index_stmt, st);
    case NC(VIEW_STMT): return create_view(t, n->view_stmt, st);
    case NC(CREATE_SEQ_STMT): return create_sequence(t, n->create_seq_stmt, st);
    case NC(CREATE_DOMAIN_STMT): return create_domain(t, n->create_domain_stmt, st);
    case NC(CREATE_TABLE_AS_STMT): return create_table_as(t, n->create_table_as_stmt, st);
    case NC(DROP_STMT): return drop_stmt(t, n->drop_stmt, st);
    case NC(TRUNCATE_STMT): return truncate_stmt(t, n->truncate_stmt, st);
    case NC(ALTER_TABLE_STMT): return alter_table(t, n->alter_table_stmt, st);
    case NC(RENAME_STMT): return rename_stmt(t, n->rename_stmt, st);
    default: return 1;
    }
}
