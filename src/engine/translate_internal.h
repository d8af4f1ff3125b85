/* src/engine/translate_internal.h - shared state of the translator files.
 *
 * translate.c        entry point, statement dispatch, SELECT/INSERT/UPDATE/
 *                    DELETE walk, result columns, error helpers
 * translate_expr.c   expressions (operators, functions, casts, sublinks)
 * translate_ddl.c    types (PostgreSQL name <-> SQLite declaration), CREATE/
 *                    DROP/ALTER/TRUNCATE, sequences
 * translate_util.c   utility statements decoded into wb_sql_stmt fields
 * translate_funcs.c  wb_sql_register: the SQL functions, virtual tables and
 *                    pg_catalog views the emitted SQL relies on
 * translate_cache.c  the translation cache
 *
 * One translation is one `tr` context on the caller's stack: it owns the
 * output buffer, the inferred parameter types and the first error. Errors
 * set tr->failed and every walker returns as soon as it is set.
 */
#ifndef WIREBUF_ENGINE_TRANSLATE_INTERNAL_H
#define WIREBUF_ENGINE_TRANSLATE_INTERNAL_H
#include "translate.h"
#include "wirebuf/buf.h"
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

/* PostgreSQL type OIDs (src/include/catalog/pg_type.dat) */
enum {
    OID_BOOL = 16, OID_BYTEA = 17, OID_CHAR = 18, OID_NAME = 19, OID_INT8 = 20, OID_INT2 = 21,
    OID_INT4 = 23, OID_REGPROC = 24, OID_TEXT = 25, OID_OID = 26, OID_JSON = 114,
    OID_FLOAT4 = 700, OID_FLOAT8 = 701, OID_UNKNOWN = 705, OID_BPCHAR = 1042, OID_VARCHAR = 1043,
    OID_DATE = 1082, OID_TIME = 1083, OID_TIMESTAMP = 1114, OID_TIMESTAMPTZ = 1184,
    OID_INTERVAL = 1186, OID_TIMETZ = 1266, OID_NUMERIC = 1700, OID_REGCLASS = 2205,
    OID_REGTYPE = 2206, OID_REGNAMESPACE = 4089, OID_RECORD = 2249, OID_VOID = 2278, OID_UUID = 2950, OID_JSONB = 3802,
    OID_TEXT_ARRAY = 1009, OID_INT4_ARRAY = 1007, OID_NAME_ARRAY = 1003, OID_OID_ARRAY = 1028,
    OID_INT2VECTOR = 22, OID_OIDVECTOR = 30, OID_CHAR_ARRAY = 1002,
    OID_VECTOR = WB_SQL_OID_VECTOR
};

/* a sequence's OID in pg_class: this + its rowid in wb_sequences (stable
 * until it is dropped), above relations (16384 + sqlite_schema rowid) and
 * constraints, below WB_PG_VECTOR_OID */
#define TR_SEQ_OID_BASE 1000000000
#define TR_SEQ_OID_BASE_SQL "1000000000"
/* extensions created in a database (pg_extension): this + the row of wb_extensions */
#define TR_EXT_OID_BASE_SQL "1500000000"
/* CHECK constraints (pg_constraint contype c): this + table rowid * 1000 +
 * the constraint's place in its CREATE TABLE */
#define TR_CHECK_OID_BASE_SQL "1200000000"
/* domains (pg_type typtype d): this + the row of wb_domains; a domain's
 * CHECK constraint (pg_constraint contypid) TR_DOMAIN_CHECK_OID_BASE_SQL +
 * the same row */
#define TR_DOMAIN_OID_BASE_SQL "1600000000"
#define TR_DOMAIN_CHECK_OID_BASE_SQL "1700000000"
/* the bookkeeping table of CREATE DOMAIN (translate_ddl.c writes it,
 * translate_catalog.c reads it): name, base type OID and typmod, NOT NULL,
 * the DEFAULT and the CHECK (SQLite expressions over the identifier
 * "value", as translated; NULL when absent) and the CHECK's name */
#define TR_DOMAIN_TABLE_SQL                                                                                  \
    "CREATE TABLE IF NOT EXISTS wb_domains (name text PRIMARY KEY, base_oid int8 NOT NULL, typmod int NOT NULL, " \
    "not_null int NOT NULL, default_sql text, check_name text, check_sql text)"

/* One built-in type: its names, OIDs and how a column of it is declared in
 * SQLite (the declaration keeps the PostgreSQL name first, and its words
 * pick the affinity, SQLite docs "Determination Of Column Affinity"). */
typedef struct tr_type {
    const char *name;      /* PostgreSQL's canonical name (pg_type.typname) */
    uint32_t oid, array_oid;
    const char *decl;      /* SQLite declaration ("%s" = typmod part) */
    int16_t len;           /* pg_type.typlen */
    char category;         /* pg_type.typcategory */
} tr_type;
const tr_type *tr_type_by_oid(uint32_t oid);
const tr_type *tr_type_by_name(const char *name);
const tr_type *tr_type_by_array_oid(uint32_t oid);
extern const tr_type tr_types[];
extern const int tr_ntypes;

/* a FROM item visible to column references */
typedef struct tr_rel {
    char *alias;           /* name by which columns are qualified */
    char *table;           /* a base table (schema lookups), else NULL */
    char **vcols; char **vexpr; uint32_t *vtypes; int nv; /* inlined LATERAL columns */
    char **cols; uint32_t *types; int ncols; /* known output columns (subqueries, CTEs, functions),
                                                or a base table's columns once loaded */
    int32_t *typmods;      /* a base table's typmods (NULL: none known) */
} tr_rel;

typedef struct tr_scope {
    tr_rel *rels; int n, cap;
    struct tr_scope *parent;
} tr_scope;

/* a CTE name visible in the current statement */
typedef struct tr_cte { char *name; char **cols; uint32_t *types; int ncols; } tr_cte;

typedef struct tr_plain { const char *table, *col; int count; int16_t attnum; int32_t typmod; } tr_plain;

/* a literal lifted into a parameter (wb_sql_translate_cached): written as
 * the marker "\x01<index>\x02" until the statement's parameter count is
 * known, then renumbered to ?(nparams + 1 + index) */
typedef struct tr_lit { int location; uint32_t oid; char *value; } tr_lit;

typedef struct tr {
    const char *src;
    const wb_sql_schema *schema;
    wb_sql_error *err;
    int failed;
    wb_buf *o;                    /* where SQL is being written now */
    uint32_t *ptypes; int nparams, pcap;
    tr_scope *sc;
    tr_cte *ctes; int nctes, ctecap;
    /* statements run before the main one (DDL sequences) */
    char **pre; int npre, precap;
    char **post; int npost, postcap;
    const uint32_t *given_internal; int ngiven_internal; /* Parse's parameter types */
    tr_plain *plain;              /* records base-table column references */
    int lift;                     /* lift literals into parameters */
    int if_not_exists;            /* CREATE TABLE IF NOT EXISTS: sequences too */
    int pg_defaults;              /* a column's DEFAULT keeps its PostgreSQL text (translate_ddl.c emit_default) */
    int tgt_prefix;               /* >0: targets are named wb_t1.. (DISTINCT ON) */
    int unqualified;              /* >0: column references without table (index
                                     expressions, CHECK: SQLite forbids them) */
    int nolift;                   /* >0: inside ORDER BY / GROUP BY positions */
    tr_lit *lits; int nlits, litcap;
    /* set-returning functions in the select list of the SELECT being
     * written (unnest, generate_subscripts): non-NULL only while its
     * targets are; each SRF appends its row count here and reads its
     * element at the shared ordinal wb_srf.value (translate.c) */
    wb_buf *srf; int nsrf;
    /* the domain (wb_sql_domain) the last tr_typename resolved, else
     * oid 0: callers that store or cast to the type read it right after */
    wb_sql_domain domain;
    /* parameters assigned to a column of a domain: ParameterDescription
     * shows the domain's OID, as PostgreSQL does (0 = the inferred type) */
    uint32_t *pdomains; int npdomains;
    /* parameters declared of a domain with constraints (Parse, PREPARE):
     * each use is written wb_domain_check(?n, domain) */
    uint32_t *pchecks; int npchecks;
    int rebuild;                  /* a table rebuild was emitted (wb_sql_stmt.fk_off) */
} tr;
const char *tr_node_name(const PgQuery__Node *n); /* "create_function_stmt", ... */
uint32_t tr_subselect(tr *t, PgQuery__Node *n, int *ncols_out);

/* errors */
void tr_fail(tr *t, const char *sqlstate, int location, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void tr_nomem(tr *t);

/* output */
void tr_puts(tr *t, const char *s);
void tr_printf(tr *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void tr_ident(tr *t, const char *name);   /* "quoted" identifier */
void tr_string(tr *t, const char *s);     /* 'quoted' literal */
char *tr_strdup(tr *t, const char *s);
char *tr_buf_take(tr *t, wb_buf *b);      /* NUL-terminate and hand over */
void tr_add_pre(tr *t, char *sql);        /* takes ownership */
void tr_add_post(tr *t, char *sql);

/* parameters */
void tr_param_seen(tr *t, int n);
void tr_param_type(tr *t, int n, uint32_t oid); /* sets only if unknown */
void tr_param_domain(tr *t, int n, uint32_t domain_oid); /* the first one stays */

/* expressions: write SQLite SQL for n into t->o, return its PostgreSQL type
 * OID (0 unknown, OID_UNKNOWN for an untyped string literal). */
uint32_t tr_expr(tr *t, PgQuery__Node *n);
/* as tr_expr, and when n is a bare parameter or untyped literal, type it as want */
uint32_t tr_expr_want(tr *t, PgQuery__Node *n, uint32_t want);
/* an assignment (INSERT value, UPDATE SET, DEFAULT) of n to a column of
 * type want/typmod: parameters and literals checked and normalised,
 * typmods applied (numeric scale, varchar/char length) */
uint32_t tr_assign(tr *t, PgQuery__Node *n, uint32_t want, int32_t typmod);
/* tr_assign to table.column: also records a bare parameter's domain when
 * the column is of one (ParameterDescription) */
uint32_t tr_assign_column(tr *t, PgQuery__Node *n, const char *table, const char *column, uint32_t want,
                          int32_t typmod);
char *tr_fmt(tr *t, const char *f, ...) __attribute__((format(printf, 2, 3)));
/* SQL for an array element column "value" of the given element type */
const char *tr_elem_value(uint32_t elem);
/* the column name PostgreSQL gives an expression (FigureColname) */
const char *tr_colname(PgQuery__Node *n);
/* last element of a qualified name list, as a string */
const char *tr_name_last(PgQuery__Node **names, size_t n);
/* type of a TypeName: OID and typmod; 0 if unknown (error set) */
uint32_t tr_typename(tr *t, const PgQuery__TypeName *tn, int32_t *typmod);
/* emit a conversion of the SQL already written as `inner` (a complete SQLite
 * expression) from type `from` to `to` (a cast) */
void tr_cast(tr *t, const char *inner, uint32_t from, uint32_t to, int32_t typmod, int location);

/* statements */
int tr_select(tr *t, PgQuery__SelectStmt *s, wb_sql_stmt *st, int top);
int tr_stmt_ddl(tr *t, PgQuery__Node *n, wb_sql_stmt *st);
int tr_stmt_utility(tr *t, PgQuery__Node *n, wb_sql_stmt *st);
/* column lookups through the schema callbacks */
uint32_t tr_column_type(tr *t, const char *table, const char *col, int32_t *typmod, int *found);
/* resolve a column reference in the scopes: writes SQL, returns type */
uint32_t tr_columnref(tr *t, PgQuery__ColumnRef *c);
void tr_scope_push(tr *t, tr_scope *s);
void tr_scope_pop(tr *t, tr_scope *s);
tr_rel *tr_scope_add(tr *t, tr_scope *s, const char *alias, const char *table);
void tr_from_item(tr *t, PgQuery__Node *n, tr_scope *sc);

/* the table name of a RangeVar (schema public/pg_catalog folded) */
const char *tr_relname(tr *t, PgQuery__RangeVar *rv);

struct sqlite3;
int wb_sql_register_catalog(struct sqlite3 *db);
int wb_sql_register_domain(struct sqlite3 *db); /* translate_domain.c */
int wb_sql_register_numeric(struct sqlite3 *db);
/* catalog relations (translate_catalog.c): -1 = not a catalog relation,
 * else 1 found / 0 no such column */
int tr_catalog_column(const char *table, const char *col, uint32_t *oid);
int tr_catalog_columns(const char *table, char ***names, uint32_t **oids, int *n);

/* a token of the SQL text SQLite keeps in sqlite_schema (translate_catalog.c;
 * SQLite docs "SQL Language Expressions" / tokens): kind 'i' identifier,
 * 'q' quoted identifier ("" [] ``), 's' string, 'c' comment, 'p' one
 * punctuation character, 'x' a number or other; 0 at the end of text.
 * p points into the text, which must outlive the token. */
typedef struct ctok { const char *p; size_t len; char kind; } ctok;
/* the token at p into *t; returns where the next one starts */
const char *ctok_next(const char *p, ctok *t);
/* t is the identifier kw (ASCII case-insensitive, unquoted) */
int ctok_is(const ctok *t, const char *kw);
/* after an opening '(' at p: the position of its matching ')' (or the end) */
const char *ctok_close(const char *p);
/* PostgreSQL's text of a stored expression (translate_pgexpr.c). expr:
 * the expression's PostgreSQL source as libpg_query deparses it; cols:
 * the table's columns and types (literals compared with them get
 * PostgreSQL's labels and casts). Both return malloc'd text, NULL when
 * expr does not parse as one expression (the caller shows what it has).
 * tr_pg_exprdef: as pg_get_constraintdef / pg_get_indexdef show it,
 * pretty or not (PRETTY_PAREN); *is_call (may be NULL) set when it is a
 * function call. tr_pg_defaultdef: pg_get_expr of a DEFAULT for a column
 * of type target_oid whose format_type spelling is type_name. */
typedef struct tr_pgcol { const char *name; uint32_t oid; } tr_pgcol;
char *tr_pg_exprdef(const char *expr, const tr_pgcol *cols, int ncols, int pretty, int *is_call);
char *tr_pg_defaultdef(const char *expr, uint32_t target_oid, const char *type_name, const tr_pgcol *cols, int ncols);

/* t is an identifier naming name: quoted exactly (doubled quotes undone),
 * bare ASCII case-insensitively as SQLite compares names */
int ctok_names(const ctok *t, const char *name);

#endif
