/* src/engine/translate_catalog.c - a first slice of pg_catalog: the
 * relations the clients' startup probes read (psql, pgbench's partition
 * probe, asyncpg/pgjdbc type lookups by OID), as TEMP views built from the
 * live SQLite schema (sqlite_schema, pragma_table_info) on each connection.
 * Issue 11 extends this table (cat_rels below: columns with their types and
 * the SELECT computing them); the translator takes the catalog columns'
 * types from it (tr_catalog_column), since SQLite views have none.
 *
 * OIDs: built-in types keep PostgreSQL's; pg_catalog is 11, public 2200;
 * a user relation is 16384 + its sqlite_schema rowid (stable until the
 * table is rebuilt). */
#include "translate_internal.h"
#include <assert.h>
#include <ctype.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* catalog relations' OIDs as PostgreSQL 15 has them */
static const struct { const char *name; uint32_t oid; } cat_oids[] = {
    {"pg_namespace", 2615}, {"pg_class", 1259}, {"pg_attribute", 1249}, {"pg_type", 1247},
    {"pg_partitioned_table", 3350}, {"pg_inherits", 2611}, {"pg_database", 1262}, {"pg_authid", 1260},
    {"pg_am", 2601}, {"pg_range", 3541}, {"pg_index", 2610}, {"pg_description", 2609}, {"pg_proc", 1255},
    {"pg_constraint", 2606}, {"pg_attrdef", 2604}, {"pg_collation", 3456}, {"pg_policy", 3256},
    {"pg_statistic_ext", 3381}, {"pg_publication", 6104}, {"pg_publication_rel", 6106},
    {"pg_publication_namespace", 6237}, {"pg_trigger", 2620}, {"pg_sequence", 2224}, {"pg_enum", 3501}, {"pg_extension", 3079},
};

/* the OID of a catalog relation by name (regclass), 0 if none */
static uint32_t cat_oid(const char *name)
{
    for (size_t i = 0; i < sizeof cat_oids / sizeof cat_oids[0]; i++)
        if (!strcmp(cat_oids[i].name, name)) return cat_oids[i].oid;
    return 0;
}

static uint32_t domain_oid(sqlite3 *db, const char *name);

/* wb_decl_oid(decl) / wb_decl_typmod(decl): the type of a declared column;
 * as wb_decl_atttypid / wb_decl_atttypmod (user data non-NULL) a column
 * of a domain is of the domain, typmod -1, as pg_attribute shows it */
static void f_decl_oid(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    const char *decl = (const char *)sqlite3_value_text(a[0]);
    uint32_t oid, dom = sqlite3_user_data(c) ? wb_sql_decltype_domain(decl) : 0;
    int32_t tm;
    wb_sql_decltype_to_pg(decl, &oid, &tm);
    sqlite3_result_int64(c, dom ? dom : oid ? oid : OID_TEXT);
}
static void f_decl_typmod(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    const char *decl = (const char *)sqlite3_value_text(a[0]);
    uint32_t oid;
    int32_t tm;
    wb_sql_decltype_to_pg(decl, &oid, &tm);
    sqlite3_result_int(c, sqlite3_user_data(c) && wb_sql_decltype_domain(decl) ? -1 : tm);
}
static void f_regclass(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    if (sqlite3_value_numeric_type(a[0]) == SQLITE_INTEGER) { sqlite3_result_int64(c, sqlite3_value_int64(a[0])); return; }
    sqlite3 *db = sqlite3_context_db_handle(c);
    const char *name = (const char *)sqlite3_value_text(a[0]);
    const char *dot = strrchr(name, '.');
    if (dot) name = dot + 1;
    uint32_t coid = cat_oid(name);
    if (coid) { sqlite3_result_int64(c, coid); return; }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT oid FROM pg_class WHERE relname = ?1", -1, &st, NULL) != SQLITE_OK) {
        sqlite3_result_error(c, sqlite3_errmsg(db), -1);
        return;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) sqlite3_result_int64(c, sqlite3_column_int64(st, 0));
    else if (sqlite3_user_data(c)) sqlite3_result_null(c); /* to_regclass: NULL when missing */
    else {
        char msg[300];
        snprintf(msg, sizeof msg, "42P01 relation \"%s\" does not exist", (const char *)sqlite3_value_text(a[0]));
        sqlite3_result_error(c, msg, -1);
    }
    sqlite3_finalize(st);
}
static void f_regtype(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    if (sqlite3_value_numeric_type(a[0]) == SQLITE_INTEGER) { sqlite3_result_int64(c, sqlite3_value_int64(a[0])); return; }
    const char *tn = (const char *)sqlite3_value_text(a[0]);
    uint32_t oid = wb_sql_type_oid(tn);
    if (!oid && !strncmp(tn, "public.", 7)) tn += 7;
    /* pgvector's types (pg_type lists them) when the type table does not */
    if (!oid && !strcmp(tn, "vector")) oid = WB_PG_VECTOR_OID;
    if (!oid && (!strcmp(tn, "_vector") || !strcmp(tn, "vector[]"))) oid = WB_PG_VECTOR_ARRAY_OID;
    if (!oid) oid = domain_oid(sqlite3_context_db_handle(c), tn);
    if (!oid) {
        char msg[300];
        snprintf(msg, sizeof msg, "42704 type \"%s\" does not exist", (const char *)sqlite3_value_text(a[0]));
        sqlite3_result_error(c, msg, -1);
        return;
    }
    sqlite3_result_int64(c, oid);
}

/* ---------- constraints from the stored CREATE TABLE text ----------
 *
 * SQLite keeps CHECK constraints and constraint names only in the text of
 * CREATE TABLE (sqlite_schema.sql, which the translator wrote). A small
 * tokenizer (SQLite docs "SQL Language Expressions" / tokens: identifiers
 * bare or in "" [] ``, strings in '', comments) walks its column list. */
const char *ctok_next(const char *p, ctok *t)
{
    while (*p && isspace((unsigned char)*p)) p++;
    t->p = p;
    if (!*p) { t->len = 0; t->kind = 0; return p; }
    if (p[0] == '-' && p[1] == '-') {
        while (*p && *p != '\n') p++;
        t->kind = 'c';
    } else if (p[0] == '/' && p[1] == '*') {
        const char *e = strstr(p + 2, "*/");
        p = e ? e + 2 : p + strlen(p);
        t->kind = 'c';
    } else if (*p == '"' || *p == '\'' || *p == '`' || *p == '[') {
        char close = *p == '[' ? ']' : *p;
        t->kind = *p == '\'' ? 's' : 'q';
        for (p++; *p; p++) {
            if (*p == close && p[1] == close && close != ']') { p++; continue; }
            if (*p == close) { p++; break; }
        }
    } else if (isalnum((unsigned char)*p) || *p == '_' || (unsigned char)*p >= 0x80) {
        t->kind = isdigit((unsigned char)*p) ? 'x' : 'i';
        while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '$' || (unsigned char)*p >= 0x80 ||
                      (t->kind == 'x' && *p == '.')))
            p++;
    } else {
        t->kind = 'p';
        p++;
    }
    t->len = (size_t)(p - t->p);
    return p;
}

int ctok_is(const ctok *t, const char *kw)
{
    return t->kind == 'i' && strlen(kw) == t->len && !strncasecmp(t->p, kw, t->len);
}

int ctok_names(const ctok *t, const char *name)
{
    size_t n = strlen(name);
    if (t->kind == 'i') return t->len == n && !strncasecmp(t->p, name, n);
    if (t->kind != 'q') return 0;
    char close = t->p[0] == '[' ? ']' : t->p[0];
    size_t k = 0;
    for (size_t i = 1; i + 1 < t->len; i++, k++) {
        if (t->p[i] == close && close != ']' && i + 2 < t->len && t->p[i + 1] == close) i++;
        if (k >= n || name[k] != t->p[i]) return 0;
    }
    return k == n;
}

/* an identifier token's name (quotes removed, doubled quotes undone) */
static void ctok_name(const ctok *t, sqlite3_str *o)
{
    if (t->kind != 'q') { sqlite3_str_append(o, t->p, (int)t->len); return; }
    char close = t->p[0] == '[' ? ']' : t->p[0];
    for (size_t i = 1; i + 1 < t->len; i++) {
        if (t->p[i] == close && close != ']' && i + 2 < t->len && t->p[i + 1] == close) i++;
        sqlite3_str_appendchar(o, 1, t->p[i]);
    }
}

static void json_str(sqlite3_str *o, const char *s, size_t n)
{
    sqlite3_str_appendchar(o, 1, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') { sqlite3_str_appendchar(o, 1, '\\'); sqlite3_str_appendchar(o, 1, (char)ch); }
        else if (ch < 0x20) sqlite3_str_appendf(o, "\\u%04x", ch);
        else sqlite3_str_appendchar(o, 1, (char)ch);
    }
    sqlite3_str_appendchar(o, 1, '"');
}

static void json_name(sqlite3_str *o, const ctok *t)
{
    sqlite3_str *n = sqlite3_str_new(NULL);
    ctok_name(t, n);
    int len = sqlite3_str_length(n);
    char *v = sqlite3_str_finish(n);
    json_str(o, v ? v : "", v ? (size_t)len : 0);
    sqlite3_free(v);
}

const char *ctok_close(const char *p)
{
    int depth = 1;
    ctok t;
    for (;;) {
        const char *q = ctok_next(p, &t);
        if (!t.kind) return t.p;
        if (t.kind == 'p' && *t.p == '(') depth++;
        if (t.kind == 'p' && *t.p == ')' && --depth == 0) return t.p;
        p = q;
    }
}

/* the PostgreSQL text of a view's query from its CREATE VIEW in
 * sqlite_schema (the translator's leading comment, translate_ddl.c
 * create_view), with pg_get_viewdef's closing ';'; NULL for a view made
 * before wirebuf kept it. The translator writes no other comments. */
static char *view_pgdef(const char *sql)
{
    ctok t;
    for (const char *p = sql; p && *p;) {
        p = ctok_next(p, &t);
        if (!t.kind) break;
        if (t.kind == 'c' && t.len >= 7 && !strncmp(t.p, "/*pg:", 5))
            return sqlite3_mprintf("%.*s;", (int)(t.len - 7), t.p + 5);
    }
    return NULL;
}

static void f_view_def(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    char *r = view_pgdef((const char *)sqlite3_value_text(a[0]));
    if (r) sqlite3_result_text(c, r, -1, sqlite3_free); else sqlite3_result_null(c);
}

/* pg_get_viewdef(view oid or name [, pretty]): the view's query as above;
 * NULL for an OID that is no view, 42P01 for a name that is none */
static void f_get_viewdef(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    sqlite3 *db = sqlite3_context_db_handle(c);
    sqlite3_stmt *st;
    int byname = sqlite3_value_numeric_type(a[0]) != SQLITE_INTEGER;
    if (sqlite3_prepare_v2(db, byname ? "SELECT sql FROM sqlite_schema WHERE type = 'view' AND name = ?1"
                                      : "SELECT sql FROM sqlite_schema WHERE type = 'view' AND 16384 + rowid = ?1",
                           -1, &st, NULL) != SQLITE_OK) {
        sqlite3_result_error(c, sqlite3_errmsg(db), -1);
        return;
    }
    const char *name = byname ? (const char *)sqlite3_value_text(a[0]) : NULL;
    if (name && !strncmp(name, "public.", 7)) name += 7;
    if (byname) sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    else sqlite3_bind_int64(st, 1, sqlite3_value_int64(a[0]));
    if (sqlite3_step(st) == SQLITE_ROW) {
        char *r = view_pgdef((const char *)sqlite3_column_text(st, 0));
        if (r) sqlite3_result_text(c, r, -1, sqlite3_free); else sqlite3_result_null(c);
    } else if (byname) {
        char msg[300];
        snprintf(msg, sizeof msg, "42P01 relation \"%s\" does not exist", name);
        sqlite3_result_error(c, msg, -1);
    } else sqlite3_result_null(c);
    sqlite3_finalize(st);
}

#define MAX_TCOLS 2000
/* wb_table_constraints(create_sql, table): the constraints of a CREATE
 * TABLE, a JSON array of [contype, name, [columns], check expression] in
 * the order written: p / u / f with their name (null when unnamed) and
 * key columns (f: the referencing ones); c with its name (PostgreSQL's TABLE_COL_check
 * / TABLE_check when unnamed, COL the one column it reads, numbered on a
 * repeat), the columns it reads and its expression as SQLite keeps it. */
static void f_table_constraints(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    const char *sql = (const char *)sqlite3_value_text(a[0]);
    const char *table = (const char *)sqlite3_value_text(a[1]);
    if (!sql || !table) { sqlite3_result_null(c); return; }
    ctok t;
    const char *p = sql;
    /* the column list: after the first '(' */
    for (;;) {
        p = ctok_next(p, &t);
        if (!t.kind) { sqlite3_result_text(c, "[]", 2, SQLITE_STATIC); return; }
        if (t.kind == 'p' && *t.p == '(') break;
    }
    const char *body = p, *end = ctok_close(p);
    /* pass 1: the column names (items not starting with a constraint keyword) */
    char *cols[MAX_TCOLS];
    int ncols = 0;
    int item_start = 1;
    for (const char *q = body; q < end;) {
        q = ctok_next(q, &t);
        if (!t.kind || t.p >= end) break;
        if (t.kind == 'p' && *t.p == '(') { q = ctok_close(q); if (*q) q++; continue; }
        if (t.kind == 'p' && *t.p == ',') { item_start = 1; continue; }
        if (item_start && (t.kind == 'i' || t.kind == 'q') && !ctok_is(&t, "CONSTRAINT") && !ctok_is(&t, "PRIMARY") &&
            !ctok_is(&t, "UNIQUE") && !ctok_is(&t, "CHECK") && !ctok_is(&t, "FOREIGN") && ncols < MAX_TCOLS) {
            sqlite3_str *n = sqlite3_str_new(NULL);
            ctok_name(&t, n);
            cols[ncols++] = sqlite3_str_finish(n);
        }
        item_start = 0;
    }
    sqlite3_str *o = sqlite3_str_new(sqlite3_context_db_handle(c));
    sqlite3_str_appendchar(o, 1, '[');
    int nout = 0, col = -1;
    ctok name = {0};
    int have_name = 0;
    char *checknames[256];
    int nchecks = 0;
    item_start = 1;
    int colidx = -1, after_foreign = 0;
    for (const char *q = body; q < end;) {
        q = ctok_next(q, &t);
        if (!t.kind || t.p >= end) break;
        if (t.kind == 'p' && *t.p == ',') { item_start = 1; have_name = 0; continue; }
        if (item_start) {
            item_start = 0;
            if ((t.kind == 'i' || t.kind == 'q') && !ctok_is(&t, "CONSTRAINT") && !ctok_is(&t, "PRIMARY") &&
                !ctok_is(&t, "UNIQUE") && !ctok_is(&t, "CHECK") && !ctok_is(&t, "FOREIGN")) {
                col = ++colidx; /* a column definition: its constraints follow */
                continue;
            }
            col = -1;
        }
        if (t.kind == 'p' && *t.p == '(') { q = ctok_close(q); if (*q) q++; continue; }
        if (ctok_is(&t, "CONSTRAINT")) {
            q = ctok_next(q, &name);
            have_name = name.kind == 'i' || name.kind == 'q';
            continue;
        }
        int pk = ctok_is(&t, "PRIMARY"), uq = ctok_is(&t, "UNIQUE"), ck = ctok_is(&t, "CHECK");
        int fk = ctok_is(&t, "FOREIGN"), ref = ctok_is(&t, "REFERENCES");
        if (ref && (after_foreign || col < 0)) { after_foreign = 0; have_name = 0; continue; } /* listed at FOREIGN KEY */
        if (!pk && !uq && !ck && !fk && !ref) continue;
        if (pk || fk) { ctok k; const char *r = ctok_next(q, &k); if (ctok_is(&k, "KEY")) q = r; }
        after_foreign = fk;
        ctok open;
        const char *after = ctok_next(q, &open);
        const char *in = NULL, *close = NULL;
        if (!ref && open.kind == 'p' && *open.p == '(') { in = after; close = ctok_close(after); }
        if (ck && in) {
            /* a column's domain (translate_domain.c): the domain's
             * constraint, not the table's */
            ctok f;
            ctok_next(in, &f);
            if (ctok_is(&f, "wb_domain_ok")) {
                have_name = 0;
                q = *close ? close + 1 : close;
                continue;
            }
        }
        if (nout++) sqlite3_str_appendchar(o, 1, ',');
        sqlite3_str_appendf(o, "[\"%c\",", pk ? 'p' : uq ? 'u' : ck ? 'c' : 'f');
        /* the columns: a key list, the column itself, or those a CHECK reads */
        sqlite3_str *ks = sqlite3_str_new(NULL);
        sqlite3_str_appendchar(ks, 1, '[');
        int nk = 0, one = -1, many = 0;
        if (in && !ck) {
            for (const char *r = in; r < close;) {
                ctok k;
                r = ctok_next(r, &k);
                if (!k.kind || k.p >= close) break;
                if (k.kind == 'i' || k.kind == 'q') {
                    if (ctok_is(&k, "ASC") || ctok_is(&k, "DESC") || ctok_is(&k, "COLLATE")) continue;
                    if (nk++) sqlite3_str_appendchar(ks, 1, ',');
                    json_name(ks, &k);
                    /* skip to the next comma of this list */
                    while (r < close) {
                        const char *r2 = ctok_next(r, &k);
                        if (k.kind == 'p' && *k.p == ',') { r = r2; break; }
                        if (k.kind == 'p' && *k.p == '(') { r = ctok_close(r2); if (*r) r++; continue; }
                        r = r2;
                    }
                }
            }
        } else if (!ck && col >= 0 && col < ncols) {
            json_str(ks, cols[col], strlen(cols[col]));
            nk = 1;
        } else if (ck && in) {
            int seen[MAX_TCOLS / 8 + 1] = {0};
            for (const char *r = in; r < close;) {
                ctok k, nx;
                r = ctok_next(r, &k);
                if (!k.kind || k.p >= close) break;
                if (k.kind != 'i' && k.kind != 'q') continue;
                ctok_next(r, &nx);
                if (nx.kind == 'p' && (*nx.p == '(' || *nx.p == '.')) continue; /* a function or a qualifier */
                sqlite3_str *n = sqlite3_str_new(NULL);
                ctok_name(&k, n);
                char *v = sqlite3_str_finish(n);
                for (int i = 0; v && i < ncols; i++)
                    if (!strcasecmp(v, cols[i]) && !(seen[i / 8] & (1 << (i % 8)))) {
                        seen[i / 8] |= 1 << (i % 8);
                        if (nk++) sqlite3_str_appendchar(ks, 1, ',');
                        json_str(ks, cols[i], strlen(cols[i]));
                        if (one < 0) one = i; else many = 1;
                    }
                sqlite3_free(v);
            }
        }
        sqlite3_str_appendchar(ks, 1, ']');
        /* the name */
        char *cname = NULL;
        if (have_name) {
            sqlite3_str *n = sqlite3_str_new(NULL);
            ctok_name(&name, n);
            cname = sqlite3_str_finish(n);
        } else if (ck) {
            char base[300], nm[320];
            if (one >= 0 && !many) snprintf(base, sizeof base, "%.140s_%.140s_check", table, cols[one]);
            else snprintf(base, sizeof base, "%.280s_check", table);
            snprintf(nm, sizeof nm, "%s", base);
            for (int k = 1;; k++) {
                int dup = 0;
                for (int i = 0; i < nchecks; i++) dup |= checknames[i] && !strcmp(checknames[i], nm);
                if (!dup) break;
                snprintf(nm, sizeof nm, "%.300s%d", base, k);
            }
            cname = sqlite3_mprintf("%s", nm);
        }
        if (cname) json_str(o, cname, strlen(cname)); else sqlite3_str_appendall(o, "null");
        if (ck && cname && nchecks < 256) checknames[nchecks++] = cname;
        else sqlite3_free(cname);
        have_name = 0;
        sqlite3_str_appendchar(o, 1, ',');
        int klen = sqlite3_str_length(ks);
        char *kv = sqlite3_str_finish(ks);
        sqlite3_str_append(o, kv ? kv : "[]", kv ? klen : 2);
        sqlite3_free(kv);
        sqlite3_str_appendchar(o, 1, ',');
        if (ck && in) {
            /* the expression as SQLite keeps it (the translator's text,
             * led by its PostgreSQL text: pg_get_constraintdef) */
            ctok first;
            ctok_next(in, &first);
            const char *tend = close;
            while (tend > first.p && isspace((unsigned char)tend[-1])) tend--;
            json_str(o, first.p, (size_t)(tend - first.p));
        } else sqlite3_str_appendall(o, "null");
        sqlite3_str_appendchar(o, 1, ']');
        if (close) q = *close ? close + 1 : close;
    }
    sqlite3_str_appendchar(o, 1, ']');
    for (int i = 0; i < nchecks; i++) sqlite3_free(checknames[i]);
    for (int i = 0; i < ncols; i++) sqlite3_free(cols[i]);
    int len = sqlite3_str_length(o);
    char *r = sqlite3_str_finish(o);
    if (!r) { sqlite3_result_error_nomem(c); return; }
    sqlite3_result_text(c, r, len, sqlite3_free);
}

/* The catalog relations: columns with their PostgreSQL types (the
 * translator answers column types and `*` from here, since SQLite views
 * carry no declared types) and the SELECT that computes them. */
typedef struct cat_col { const char *name; uint32_t oid; } cat_col;
typedef struct cat_rel { const char *name; const cat_col *cols; const char *body; } cat_rel;

#define OID_ACL 1034 /* aclitem[] */
static const cat_col c_namespace[] = {{"oid", OID_OID}, {"nspname", OID_NAME}, {"nspowner", OID_OID}, {"nspacl", OID_ACL}, {0, 0}};
static const cat_col c_class[] = {
    {"oid", OID_OID}, {"relname", OID_NAME}, {"relnamespace", OID_OID}, {"reltype", OID_OID}, {"reloftype", OID_OID},
    {"relowner", OID_OID}, {"relam", OID_OID}, {"relfilenode", OID_OID}, {"reltablespace", OID_OID},
    {"relpages", OID_INT4}, {"reltuples", OID_FLOAT4}, {"relallvisible", OID_INT4}, {"reltoastrelid", OID_OID},
    {"relhasindex", OID_BOOL}, {"relisshared", OID_BOOL}, {"relpersistence", OID_CHAR}, {"relkind", OID_CHAR},
    {"relnatts", OID_INT2}, {"relchecks", OID_INT2}, {"relhasrules", OID_BOOL}, {"relhastriggers", OID_BOOL},
    {"relhassubclass", OID_BOOL}, {"relrowsecurity", OID_BOOL}, {"relforcerowsecurity", OID_BOOL},
    {"relispopulated", OID_BOOL}, {"relreplident", OID_CHAR}, {"relispartition", OID_BOOL}, {"relrewrite", OID_OID},
    {"relfrozenxid", OID_INT4}, {"relminmxid", OID_INT4}, {"relacl", OID_ACL}, {"reloptions", OID_TEXT_ARRAY},
    {"relpartbound", OID_TEXT}, {0, 0}};
static const cat_col c_attribute[] = {
    {"attrelid", OID_OID}, {"attname", OID_NAME}, {"atttypid", OID_OID}, {"attstattarget", OID_INT4},
    {"attlen", OID_INT2}, {"attnum", OID_INT2}, {"attndims", OID_INT4}, {"attcacheoff", OID_INT4},
    {"atttypmod", OID_INT4}, {"attbyval", OID_BOOL}, {"attalign", OID_CHAR}, {"attstorage", OID_CHAR},
    {"attcompression", OID_CHAR}, {"attnotnull", OID_BOOL}, {"atthasdef", OID_BOOL}, {"atthasmissing", OID_BOOL},
    {"attidentity", OID_CHAR}, {"attgenerated", OID_CHAR}, {"attisdropped", OID_BOOL}, {"attislocal", OID_BOOL},
    {"attinhcount", OID_INT4}, {"attcollation", OID_OID}, {"attacl", OID_ACL}, {"attoptions", OID_TEXT_ARRAY}, {0, 0}};
static const cat_col c_type[] = {
    {"oid", OID_OID}, {"typname", OID_NAME}, {"typnamespace", OID_OID}, {"typowner", OID_OID}, {"typlen", OID_INT2},
    {"typbyval", OID_BOOL}, {"typtype", OID_CHAR}, {"typcategory", OID_CHAR}, {"typispreferred", OID_BOOL},
    {"typisdefined", OID_BOOL}, {"typdelim", OID_CHAR}, {"typrelid", OID_OID}, {"typsubscript", OID_REGPROC},
    {"typelem", OID_OID}, {"typarray", OID_OID}, {"typinput", OID_REGPROC}, {"typoutput", OID_REGPROC},
    {"typreceive", OID_REGPROC}, {"typsend", OID_REGPROC}, {"typmodin", OID_REGPROC}, {"typmodout", OID_REGPROC},
    {"typanalyze", OID_REGPROC}, {"typalign", OID_CHAR}, {"typstorage", OID_CHAR}, {"typnotnull", OID_BOOL},
    {"typbasetype", OID_OID}, {"typtypmod", OID_INT4}, {"typndims", OID_INT4}, {"typcollation", OID_OID},
    {"typdefaultbin", OID_TEXT}, {"typdefault", OID_TEXT}, {"typacl", OID_ACL}, {0, 0}};
static const cat_col c_partitioned[] = {{"partrelid", OID_OID}, {"partstrat", OID_CHAR}, {"partnatts", OID_INT2},
                                        {"partdefid", OID_OID}, {"partattrs", OID_INT2VECTOR}, {"partclass", OID_OIDVECTOR},
                                        {"partcollation", OID_OIDVECTOR}, {"partexprs", OID_TEXT}, {0, 0}};
static const cat_col c_inherits[] = {{"inhrelid", OID_OID}, {"inhparent", OID_OID}, {"inhseqno", OID_INT4},
                                     {"inhdetachpending", OID_BOOL}, {0, 0}};
static const cat_col c_database[] = {
    {"oid", OID_OID}, {"datname", OID_NAME}, {"datdba", OID_OID}, {"encoding", OID_INT4}, {"datlocprovider", OID_CHAR},
    {"datistemplate", OID_BOOL}, {"datallowconn", OID_BOOL}, {"datconnlimit", OID_INT4}, {"datfrozenxid", OID_INT4},
    {"datminmxid", OID_INT4}, {"dattablespace", OID_OID}, {"datcollate", OID_TEXT}, {"datctype", OID_TEXT},
    {"daticulocale", OID_TEXT}, {"datcollversion", OID_TEXT}, {"datacl", OID_ACL}, {0, 0}};
static const cat_col c_roles[] = {
    {"oid", OID_OID}, {"rolname", OID_NAME}, {"rolsuper", OID_BOOL}, {"rolinherit", OID_BOOL},
    {"rolcreaterole", OID_BOOL}, {"rolcreatedb", OID_BOOL}, {"rolcanlogin", OID_BOOL}, {"rolreplication", OID_BOOL},
    {"rolconnlimit", OID_INT4}, {"rolpassword", OID_TEXT}, {"rolvaliduntil", OID_TIMESTAMPTZ},
    {"rolbypassrls", OID_BOOL}, {"rolconfig", OID_TEXT_ARRAY}, {0, 0}};
static const cat_col c_description[] = {{"objoid", OID_OID}, {"classoid", OID_OID}, {"objsubid", OID_INT4},
                                        {"description", OID_TEXT}, {0, 0}};
static const cat_col c_attrdef[] = {{"oid", OID_OID}, {"adrelid", OID_OID}, {"adnum", OID_INT2}, {"adbin", OID_TEXT}, {0, 0}};
static const cat_col c_constraint[] = {
    {"oid", OID_OID}, {"conname", OID_NAME}, {"connamespace", OID_OID}, {"contype", OID_CHAR},
    {"condeferrable", OID_BOOL}, {"condeferred", OID_BOOL}, {"convalidated", OID_BOOL}, {"conrelid", OID_OID},
    {"contypid", OID_OID}, {"conindid", OID_OID}, {"conparentid", OID_OID}, {"confrelid", OID_OID},
    {"confupdtype", OID_CHAR}, {"confdeltype", OID_CHAR}, {"confmatchtype", OID_CHAR}, {"conislocal", OID_BOOL},
    {"coninhcount", OID_INT4}, {"connoinherit", OID_BOOL}, {"conkey", 1005}, {"confkey", 1005}, {"conbin", OID_TEXT},
    {0, 0}};
static const cat_col c_collation[] = {{"oid", OID_OID}, {"collname", OID_NAME}, {"collnamespace", OID_OID},
                                      {"collowner", OID_OID}, {"collprovider", OID_CHAR}, {"collisdeterministic", OID_BOOL},
                                      {"collencoding", OID_INT4}, {"collcollate", OID_TEXT}, {"collctype", OID_TEXT},
                                      {"colliculocale", OID_TEXT}, {"collversion", OID_TEXT}, {0, 0}};
static const cat_col c_policy[] = {{"oid", OID_OID}, {"polname", OID_NAME}, {"polrelid", OID_OID}, {"polcmd", OID_CHAR},
                                   {"polpermissive", OID_BOOL}, {"polroles", OID_OID_ARRAY}, {"polqual", OID_TEXT},
                                   {"polwithcheck", OID_TEXT}, {0, 0}};
static const cat_col c_statext[] = {{"oid", OID_OID}, {"stxrelid", OID_OID}, {"stxname", OID_NAME},
                                    {"stxnamespace", OID_OID}, {"stxowner", OID_OID}, {"stxstattarget", OID_INT4},
                                    {"stxkeys", OID_INT2VECTOR}, {"stxkind", OID_CHAR_ARRAY}, {"stxexprs", OID_TEXT}, {0, 0}};
static const cat_col c_publication[] = {{"oid", OID_OID}, {"pubname", OID_NAME}, {"pubowner", OID_OID},
                                        {"puballtables", OID_BOOL}, {"pubinsert", OID_BOOL}, {"pubupdate", OID_BOOL},
                                        {"pubdelete", OID_BOOL}, {"pubtruncate", OID_BOOL}, {"pubviaroot", OID_BOOL}, {0, 0}};
static const cat_col c_pubrel[] = {{"oid", OID_OID}, {"prpubid", OID_OID}, {"prrelid", OID_OID}, {"prqual", OID_TEXT},
                                   {"prattrs", OID_INT2VECTOR}, {0, 0}};
static const cat_col c_pubns[] = {{"oid", OID_OID}, {"pnpubid", OID_OID}, {"pnnspid", OID_OID}, {0, 0}};
static const cat_col c_trigger[] = {{"oid", OID_OID}, {"tgrelid", OID_OID}, {"tgparentid", OID_OID}, {"tgname", OID_NAME},
                                    {"tgfoid", OID_OID}, {"tgtype", OID_INT2}, {"tgenabled", OID_CHAR},
                                    {"tgisinternal", OID_BOOL}, {"tgconstrrelid", OID_OID}, {"tgconstrindid", OID_OID},
                                    {"tgconstraint", OID_OID}, {"tgdeferrable", OID_BOOL}, {"tginitdeferred", OID_BOOL},
                                    {"tgnargs", OID_INT2}, {"tgattr", OID_INT2VECTOR}, {"tgargs", OID_BYTEA},
                                    {"tgqual", OID_TEXT}, {"tgoldtable", OID_NAME}, {"tgnewtable", OID_NAME}, {0, 0}};
static const cat_col c_proc[] = {
    {"oid", OID_OID}, {"proname", OID_NAME}, {"pronamespace", OID_OID}, {"proowner", OID_OID}, {"prolang", OID_OID},
    {"procost", OID_FLOAT4}, {"prorows", OID_FLOAT4}, {"provariadic", OID_OID}, {"prosupport", OID_REGPROC},
    {"prokind", OID_CHAR}, {"prosecdef", OID_BOOL}, {"proleakproof", OID_BOOL}, {"proisstrict", OID_BOOL},
    {"proretset", OID_BOOL}, {"provolatile", OID_CHAR}, {"proparallel", OID_CHAR}, {"pronargs", OID_INT2},
    {"pronargdefaults", OID_INT2}, {"prorettype", OID_OID}, {"proargtypes", OID_OIDVECTOR},
    {"proallargtypes", OID_OID_ARRAY}, {"proargmodes", OID_CHAR_ARRAY}, {"proargnames", OID_TEXT_ARRAY},
    {"proargdefaults", OID_TEXT}, {"protrftypes", OID_OID_ARRAY}, {"prosrc", OID_TEXT}, {"probin", OID_TEXT},
    {"prosqlbody", OID_TEXT}, {"proconfig", OID_TEXT_ARRAY}, {"proacl", OID_ACL}, {0, 0}};
static const cat_col c_enum[] = {{"oid", OID_OID}, {"enumtypid", OID_OID}, {"enumsortorder", OID_FLOAT4},
                                 {"enumlabel", OID_NAME}, {0, 0}};
/* information_schema (SQL standard views; PostgreSQL's domains
 * sql_identifier / character_data / yes_or_no / cardinal_number are given
 * as their base types name / varchar / varchar / int4) */
static const cat_col c_is_schemata[] = {
    {"catalog_name", OID_NAME}, {"schema_name", OID_NAME}, {"schema_owner", OID_NAME},
    {"default_character_set_catalog", OID_NAME}, {"default_character_set_schema", OID_NAME},
    {"default_character_set_name", OID_NAME}, {"sql_path", OID_VARCHAR}, {0, 0}};
static const cat_col c_is_tables[] = {
    {"table_catalog", OID_NAME}, {"table_schema", OID_NAME}, {"table_name", OID_NAME}, {"table_type", OID_VARCHAR},
    {"self_referencing_column_name", OID_NAME}, {"reference_generation", OID_VARCHAR},
    {"user_defined_type_catalog", OID_NAME}, {"user_defined_type_schema", OID_NAME},
    {"user_defined_type_name", OID_NAME}, {"is_insertable_into", OID_VARCHAR}, {"is_typed", OID_VARCHAR},
    {"commit_action", OID_VARCHAR}, {0, 0}};
static const cat_col c_is_columns[] = {
    {"table_catalog", OID_NAME}, {"table_schema", OID_NAME}, {"table_name", OID_NAME}, {"column_name", OID_NAME},
    {"ordinal_position", OID_INT4}, {"column_default", OID_VARCHAR}, {"is_nullable", OID_VARCHAR},
    {"data_type", OID_VARCHAR}, {"character_maximum_length", OID_INT4}, {"numeric_precision", OID_INT4},
    {"numeric_precision_radix", OID_INT4}, {"numeric_scale", OID_INT4}, {"datetime_precision", OID_INT4},
    {"udt_catalog", OID_NAME}, {"udt_schema", OID_NAME}, {"udt_name", OID_NAME}, {"is_identity", OID_VARCHAR},
    {"is_generated", OID_VARCHAR}, {"is_updatable", OID_VARCHAR}, {"domain_catalog", OID_NAME},
    {"domain_schema", OID_NAME}, {"domain_name", OID_NAME}, {0, 0}};
static const cat_col c_is_table_constraints[] = {
    {"constraint_catalog", OID_NAME}, {"constraint_schema", OID_NAME}, {"constraint_name", OID_NAME},
    {"table_catalog", OID_NAME}, {"table_schema", OID_NAME}, {"table_name", OID_NAME},
    {"constraint_type", OID_VARCHAR}, {"is_deferrable", OID_VARCHAR}, {"initially_deferred", OID_VARCHAR},
    {"enforced", OID_VARCHAR}, {"nulls_distinct", OID_VARCHAR}, {0, 0}};
static const cat_col c_is_check_constraints[] = {
    {"constraint_catalog", OID_NAME}, {"constraint_schema", OID_NAME}, {"constraint_name", OID_NAME},
    {"check_clause", OID_VARCHAR}, {0, 0}};
static const cat_col c_is_key_column_usage[] = {
    {"constraint_catalog", OID_NAME}, {"constraint_schema", OID_NAME}, {"constraint_name", OID_NAME},
    {"table_catalog", OID_NAME}, {"table_schema", OID_NAME}, {"table_name", OID_NAME}, {"column_name", OID_NAME},
    {"ordinal_position", OID_INT4}, {"position_in_unique_constraint", OID_INT4}, {0, 0}};
static const cat_col c_is_referential_constraints[] = {
    {"constraint_catalog", OID_NAME}, {"constraint_schema", OID_NAME}, {"constraint_name", OID_NAME},
    {"unique_constraint_catalog", OID_NAME}, {"unique_constraint_schema", OID_NAME},
    {"unique_constraint_name", OID_NAME}, {"match_option", OID_VARCHAR}, {"update_rule", OID_VARCHAR},
    {"delete_rule", OID_VARCHAR}, {0, 0}};
static const cat_col c_is_constraint_column_usage[] = {
    {"table_catalog", OID_NAME}, {"table_schema", OID_NAME}, {"table_name", OID_NAME}, {"column_name", OID_NAME},
    {"constraint_catalog", OID_NAME}, {"constraint_schema", OID_NAME}, {"constraint_name", OID_NAME}, {0, 0}};
static const cat_col c_is_views[] = {
    {"table_catalog", OID_NAME}, {"table_schema", OID_NAME}, {"table_name", OID_NAME},
    {"view_definition", OID_VARCHAR}, {"check_option", OID_VARCHAR}, {"is_updatable", OID_VARCHAR},
    {"is_insertable_into", OID_VARCHAR}, {"is_trigger_updatable", OID_VARCHAR},
    {"is_trigger_deletable", OID_VARCHAR}, {"is_trigger_insertable_into", OID_VARCHAR}, {0, 0}};
static const cat_col c_is_sequences[] = {
    {"sequence_catalog", OID_NAME}, {"sequence_schema", OID_NAME}, {"sequence_name", OID_NAME},
    {"data_type", OID_VARCHAR}, {"numeric_precision", OID_INT4}, {"numeric_precision_radix", OID_INT4},
    {"numeric_scale", OID_INT4}, {"start_value", OID_VARCHAR}, {"minimum_value", OID_VARCHAR},
    {"maximum_value", OID_VARCHAR}, {"increment", OID_VARCHAR}, {"cycle_option", OID_VARCHAR}, {0, 0}};
static const cat_col c_user[] = {
    {"usename", OID_NAME}, {"usesysid", OID_OID}, {"usecreatedb", OID_BOOL}, {"usesuper", OID_BOOL},
    {"userepl", OID_BOOL}, {"usebypassrls", OID_BOOL}, {"passwd", OID_TEXT}, {"valuntil", OID_TIMESTAMPTZ},
    {"useconfig", OID_TEXT_ARRAY}, {0, 0}};
static const cat_col c_authid[] = {
    {"oid", OID_OID}, {"rolname", OID_NAME}, {"rolsuper", OID_BOOL}, {"rolinherit", OID_BOOL},
    {"rolcreaterole", OID_BOOL}, {"rolcreatedb", OID_BOOL}, {"rolcanlogin", OID_BOOL}, {"rolreplication", OID_BOOL},
    {"rolbypassrls", OID_BOOL}, {"rolconnlimit", OID_INT4}, {"rolpassword", OID_TEXT},
    {"rolvaliduntil", OID_TIMESTAMPTZ}, {0, 0}};
static const cat_col c_extension[] = {
    {"oid", OID_OID}, {"extname", OID_NAME}, {"extowner", OID_OID}, {"extnamespace", OID_OID},
    {"extrelocatable", OID_BOOL}, {"extversion", OID_TEXT}, {"extconfig", OID_OID_ARRAY}, {"extcondition", OID_TEXT_ARRAY},
    {0, 0}};
static const cat_col c_settings[] = {
    {"name", OID_TEXT}, {"setting", OID_TEXT}, {"unit", OID_TEXT}, {"category", OID_TEXT}, {"short_desc", OID_TEXT},
    {"extra_desc", OID_TEXT}, {"context", OID_TEXT}, {"vartype", OID_TEXT}, {"source", OID_TEXT},
    {"min_val", OID_TEXT}, {"max_val", OID_TEXT}, {"enumvals", OID_TEXT_ARRAY}, {"boot_val", OID_TEXT},
    {"reset_val", OID_TEXT}, {"sourcefile", OID_TEXT}, {"sourceline", OID_INT4}, {"pending_restart", OID_BOOL},
    {0, 0}};
static const cat_col c_am[] = {{"oid", OID_OID}, {"amname", OID_NAME}, {"amhandler", OID_REGPROC}, {"amtype", OID_CHAR}, {0, 0}};
static const cat_col c_range[] = {{"rngtypid", OID_OID}, {"rngsubtype", OID_OID}, {"rngmultitypid", OID_OID},
                                  {"rngcollation", OID_OID}, {"rngsubopc", OID_OID}, {"rngcanonical", OID_REGPROC},
                                  {"rngsubdiff", OID_REGPROC}, {0, 0}};
static const cat_col c_index[] = {
    {"indexrelid", OID_OID}, {"indrelid", OID_OID}, {"indnatts", OID_INT2}, {"indnkeyatts", OID_INT2},
    {"indisunique", OID_BOOL}, {"indnullsnotdistinct", OID_BOOL}, {"indisprimary", OID_BOOL},
    {"indisexclusion", OID_BOOL}, {"indimmediate", OID_BOOL}, {"indisclustered", OID_BOOL}, {"indisvalid", OID_BOOL},
    {"indcheckxmin", OID_BOOL}, {"indisready", OID_BOOL}, {"indislive", OID_BOOL}, {"indisreplident", OID_BOOL},
    {"indkey", OID_INT2VECTOR}, {"indcollation", OID_OIDVECTOR}, {"indclass", OID_OIDVECTOR},
    {"indoption", OID_INT2VECTOR}, {"indexprs", OID_TEXT}, {"indpred", OID_TEXT}, {0, 0}};

static const cat_col c_sequence[] = {{"seqrelid", OID_OID}, {"seqtypid", OID_OID}, {"seqstart", OID_INT8},
                                     {"seqincrement", OID_INT8}, {"seqmax", OID_INT8}, {"seqmin", OID_INT8},
                                     {"seqcache", OID_INT8}, {"seqcycle", OID_BOOL}, {0, 0}};

/* pg_get_expr(adbin, relid [, pretty]): pg_attrdef's adbin already is
 * PostgreSQL's text of the default (wb_pg_default); pretty drops the
 * parentheses around the whole of it, as ruleutils does with
 * PRETTY_PAREN */
static void f_get_expr(sqlite3_context *c, int argc, sqlite3_value **a)
{
    const char *s = (const char *)sqlite3_value_text(a[0]);
    if (argc == 3 && sqlite3_value_int(a[2]) && s && s[0] == '(') {
        const char *close = ctok_close(s + 1);
        ctok t;
        if (*close && (ctok_next(close + 1, &t), !t.kind)) {
            sqlite3_result_text(c, s + 1, (int)(close - s - 1), SQLITE_TRANSIENT);
            return;
        }
    }
    sqlite3_result_value(c, a[0]);
}

/* run sql with ?1 = an integer, the first column of the first row as text */
static char *query_text(sqlite3 *db, const char *sql, int64_t arg)
{
    sqlite3_stmt *st;
    char *r = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) return NULL;
    sqlite3_bind_int64(st, 1, arg);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        r = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return r;
}

/* the PostgreSQL text the translator keeps as the leading comment of an
 * expression at p (translate_ddl.c pg_text_comment), NULL without one;
 * sqlite3_free it. *after (may be NULL): where the SQLite text follows. */
static char *pg_comment(const char *p, const char **after)
{
    ctok t;
    const char *q = ctok_next(p, &t);
    if (after) *after = q;
    if (t.kind != 'c' || t.len < 7 || strncmp(t.p, "/*pg:", 5)) return NULL;
    return sqlite3_mprintf("%.*s", (int)(t.len - 7), t.p + 5);
}

/* a table's columns and their PostgreSQL types (for tr_pg_exprdef);
 * free with free_cols */
typedef struct colset { tr_pgcol *cols; int n; } colset;
static void free_cols(colset *cs)
{
    for (int i = 0; i < cs->n; i++) sqlite3_free((char *)cs->cols[i].name);
    sqlite3_free(cs->cols);
    cs->cols = NULL;
    cs->n = 0;
}
static void load_cols(sqlite3 *db, const char *table, colset *cs)
{
    cs->cols = NULL;
    cs->n = 0;
    sqlite3_stmt *st;
    if (!table || sqlite3_prepare_v2(db, "SELECT name, type FROM pragma_table_info(?1)", -1, &st, NULL) != SQLITE_OK) return;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (cs->n == cap) {
            cap = cap ? 2 * cap : 16;
            tr_pgcol *n = sqlite3_realloc64(cs->cols, (sqlite3_uint64)cap * sizeof *n);
            if (!n) break;
            cs->cols = n;
        }
        uint32_t oid = 0;
        int32_t tm;
        wb_sql_decltype_to_pg((const char *)sqlite3_column_text(st, 1), &oid, &tm);
        char *name = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
        if (!name) break;
        cs->cols[cs->n].name = name;
        cs->cols[cs->n++].oid = oid ? oid : OID_TEXT;
    }
    sqlite3_finalize(st);
}

/* a table's name by its OID; sqlite3_free it */
static char *table_name(sqlite3 *db, int64_t oid)
{
    return query_text(db, "SELECT name FROM sqlite_schema WHERE type = 'table' AND 16384 + rowid = ?1", oid);
}

/* the SQLite text after its leading whitespace and PostgreSQL comment */
static const char *sqlite_text(const char *text, char **pg)
{
    const char *after;
    *pg = pg_comment(text, &after);
    if (!*pg) after = text;
    while (isspace((unsigned char)*after)) after++;
    return after;
}

/* wb_pg_default(dflt_value, table, type oid, format_type name): pg_get_expr's
 * text of a column DEFAULT, from its PostgreSQL text (the comment) or, for
 * one without (a serial's nextval('t_id_seq'), a table made before wirebuf
 * kept it), the SQLite text read as PostgreSQL's; the SQLite text when
 * neither parses */
static void f_pg_default(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    const char *d = (const char *)sqlite3_value_text(a[0]);
    if (!d) { sqlite3_result_null(c); return; }
    char *pg;
    const char *lite = sqlite_text(d, &pg);
    colset cs;
    load_cols(sqlite3_context_db_handle(c), (const char *)sqlite3_value_text(a[1]), &cs);
    uint32_t oid = (uint32_t)sqlite3_value_int64(a[2]);
    const char *tn = (const char *)sqlite3_value_text(a[3]);
    char *r = pg ? tr_pg_defaultdef(pg, oid, tn, cs.cols, cs.n) : NULL;
    if (!r) r = tr_pg_defaultdef(lite, oid, tn, cs.cols, cs.n);
    free_cols(&cs);
    if (r) sqlite3_result_text(c, r, -1, free);
    else sqlite3_result_text(c, lite, -1, SQLITE_TRANSIENT);
    sqlite3_free(pg);
}

/* PostgreSQL's text of an expression of the table (its columns typed) from
 * the PostgreSQL text leading text, else from the SQLite text read as
 * PostgreSQL's (a column renamed since, a table made before wirebuf kept
 * it), else the SQLite text itself; sqlite3_free it */
static char *expr_def(sqlite3 *db, const char *table, const char *text, int pretty, int *is_call)
{
    colset cs;
    load_cols(db, table, &cs);
    if (is_call) *is_call = 0;
    char *pg;
    const char *lite = sqlite_text(text, &pg);
    char *r = pg ? tr_pg_exprdef(pg, cs.cols, cs.n, pretty, is_call) : NULL;
    if (!r) r = tr_pg_exprdef(lite, cs.cols, cs.n, pretty, is_call);
    free_cols(&cs);
    sqlite3_free(pg);
    char *out = sqlite3_mprintf("%s", r ? r : lite);
    free(r);
    return out;
}

static int plain_ident(const char *n)
{
    int plain = n && (islower((unsigned char)n[0]) || n[0] == '_');
    for (const char *p = n; plain && *p; p++)
        plain = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_' || *p == '$';
    return plain;
}

/* an identifier as quote_ident writes it */
static void append_ident(sqlite3_str *o, const char *n)
{
    if (plain_ident(n)) sqlite3_str_appendall(o, n);
    else sqlite3_str_appendf(o, "\"%w\"", n ? n : "");
}

/* pg_get_indexdef(index oid) / (index oid, column, pretty): PostgreSQL's
 * CREATE INDEX text, or that key column alone (its name, without DESC /
 * opclass as PostgreSQL's attrsOnly form; '' past the last column): names
 * quoted as quote_ident does, an expression and the WHERE of a partial
 * index in PostgreSQL's text (the translator's comments in the index's
 * SQL), a function call bare, other expressions in parentheses */
static void f_indexdef(sqlite3_context *c, int argc, sqlite3_value **a)
{
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    sqlite3 *db = sqlite3_context_db_handle(c);
    int64_t oid = sqlite3_value_int64(a[0]);
    int only = argc == 3 ? (int)sqlite3_value_int64(a[1]) : 0;
    int pretty = argc == 3 && sqlite3_value_int(a[2]);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT i.sql, i.tbl_name, l.\"unique\", l.partial, CASE WHEN i.name LIKE 'sqlite\\_autoindex\\_%' "
                               "ESCAPE '\\' THEN (SELECT conname FROM pg_constraint WHERE oid = ?1) ELSE i.name END, i.name "
                               "FROM sqlite_schema i JOIN pragma_index_list(i.tbl_name) l ON l.name = i.name "
                               "WHERE i.type = 'index' AND 16384 + i.rowid = ?1", -1, &st, NULL) != SQLITE_OK) {
        sqlite3_result_error(c, sqlite3_errmsg(db), -1);
        return;
    }
    sqlite3_bind_int64(st, 1, oid);
    if (sqlite3_step(st) != SQLITE_ROW) { sqlite3_finalize(st); sqlite3_result_null(c); return; }
    const char *sql = (const char *)sqlite3_column_text(st, 0); /* NULL for an automatic index */
    const char *table = (const char *)sqlite3_column_text(st, 1);
    int unique = sqlite3_column_int(st, 2), partial = sqlite3_column_int(st, 3);
    const char *shown = (const char *)sqlite3_column_text(st, 4), *name = (const char *)sqlite3_column_text(st, 5);
    /* the expressions' and the WHERE's PostgreSQL texts, from the SQL:
     * CREATE [UNIQUE] INDEX name ON table (items) [WHERE expr] */
    char *exprs[64];
    int nexprs = 0;
    const char *where = NULL;
    ctok t;
    const char *p = sql;
    while (p && *p) {
        p = ctok_next(p, &t);
        if (!t.kind || (t.kind == 'p' && *t.p == '(')) break;
    }
    if (p && t.kind) {
        const char *close = ctok_close(p);
        for (const char *q = p; q < close;) {
            q = ctok_next(q, &t);
            if (!t.kind || t.p >= close) break;
            if (t.kind == 'p' && *t.p == '(') {
                const char *e = ctok_close(q);
                if (nexprs < 64) exprs[nexprs++] = sqlite3_mprintf("%.*s", (int)(e - q), q);
                q = *e ? e + 1 : e;
            }
        }
        const char *q = *close ? close + 1 : close;
        q = ctok_next(q, &t);
        if (ctok_is(&t, "WHERE")) where = q;
    }
    sqlite3_str *o = sqlite3_str_new(db);
    if (!only) {
        sqlite3_str_appendall(o, unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ");
        append_ident(o, shown);
        sqlite3_str_appendall(o, pretty ? " ON " : " ON public."); /* pretty: unqualified when visible */
        append_ident(o, table);
        sqlite3_str_appendall(o, " USING btree (");
    }
    sqlite3_stmt *xs;
    int k = 0, ex = 0, found = 0;
    if (sqlite3_prepare_v2(db, "SELECT cid, name, \"desc\" FROM pragma_index_xinfo(?1) WHERE key ORDER BY seqno", -1, &xs,
                           NULL) == SQLITE_OK) {
        sqlite3_bind_text(xs, 1, name, -1, SQLITE_STATIC);
        while (sqlite3_step(xs) == SQLITE_ROW) {
            k++;
            int cid = sqlite3_column_int(xs, 0);
            const char *expr = cid < 0 && ex < nexprs ? exprs[ex++] : NULL;
            if (only && k != only) continue;
            found = 1;
            if (!only && k > 1) sqlite3_str_appendall(o, ", ");
            if (cid >= 0) append_ident(o, (const char *)sqlite3_column_text(xs, 1));
            else if (expr) {
                int call;
                char *d = expr_def(db, table, expr, pretty, &call);
                sqlite3_str_appendf(o, call ? "%s" : "(%s)", d ? d : expr);
                sqlite3_free(d);
            } else sqlite3_str_appendall(o, "expression");
            if (!only && sqlite3_column_int(xs, 2)) sqlite3_str_appendall(o, " DESC");
        }
        sqlite3_finalize(xs);
    }
    if (!only) {
        sqlite3_str_appendchar(o, 1, ')');
        if (partial && where) {
            char *d = expr_def(db, table, where, pretty, NULL);
            sqlite3_str_appendf(o, " WHERE %s", d ? d : "");
            sqlite3_free(d);
        }
    }
    for (int i = 0; i < nexprs; i++) sqlite3_free(exprs[i]);
    sqlite3_finalize(st);
    int len = sqlite3_str_length(o);
    char *r = sqlite3_str_finish(o);
    if (!r && len) { sqlite3_result_error_nomem(c); return; }
    if (only && !found) sqlite3_result_text(c, "", 0, SQLITE_STATIC); /* past the index's last column */
    else sqlite3_result_text(c, r ? r : "", -1, SQLITE_TRANSIENT);
    sqlite3_free(r);
}

/* pg_get_constraintdef(constraint oid [, pretty]): key columns and the
 * referenced table quoted as quote_ident does, ON UPDATE before ON DELETE
 * (ruleutils.c); a table's CHECK in PostgreSQL's text (tr_pg_exprdef), a
 * domain's as SQLite keeps it */
static void f_constraintdef(sqlite3_context *c, int argc, sqlite3_value **a)
{
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    sqlite3 *db = sqlite3_context_db_handle(c);
    int pretty = argc > 1 && sqlite3_value_int(a[1]);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT contype, conrelid, conbin FROM pg_constraint WHERE oid = ?1", -1, &st, NULL) != SQLITE_OK) {
        sqlite3_result_error(c, sqlite3_errmsg(db), -1);
        return;
    }
    sqlite3_bind_int64(st, 1, sqlite3_value_int64(a[0]));
    if (sqlite3_step(st) != SQLITE_ROW) { sqlite3_finalize(st); sqlite3_result_null(c); return; }
    const char *type = (const char *)sqlite3_column_text(st, 0), *bin = (const char *)sqlite3_column_text(st, 2);
    int64_t relid = sqlite3_column_int64(st, 1);
    if (type && type[0] == 'c') {
        char *table = relid ? table_name(db, relid) : NULL;
        char *d = table && bin ? expr_def(db, table, bin, pretty, NULL) : NULL;
        char *r = sqlite3_mprintf("CHECK (%s)", d ? d : bin ? bin : "");
        sqlite3_free(d);
        sqlite3_free(table);
        sqlite3_finalize(st);
        if (r) sqlite3_result_text(c, r, -1, sqlite3_free); else sqlite3_result_error_nomem(c);
        return;
    }
    sqlite3_finalize(st);
    char *r = query_text(db,
        "SELECT CASE k.contype WHEN 'p' THEN 'PRIMARY KEY (' WHEN 'u' THEN 'UNIQUE (' ELSE 'FOREIGN KEY (' END || "
        "(SELECT group_concat(wb_quote_ident(p.name), ', ') FROM wb_unnest(k.conkey) u JOIN pragma_table_info(wb_regclass_name(k.conrelid)) p "
        " ON p.cid + 1 = CAST(u.value AS INTEGER)) || ')' || "
        "CASE k.contype WHEN 'f' THEN ' REFERENCES ' || wb_quote_ident(wb_regclass_name(k.confrelid)) || '(' || "
        "(SELECT group_concat(wb_quote_ident(p.name), ', ') FROM wb_unnest(k.confkey) u JOIN pragma_table_info(wb_regclass_name(k.confrelid)) p "
        " ON p.cid + 1 = CAST(u.value AS INTEGER)) || ')' || "
        "CASE k.confupdtype WHEN 'c' THEN ' ON UPDATE CASCADE' WHEN 'n' THEN ' ON UPDATE SET NULL' WHEN 'd' THEN ' ON UPDATE SET DEFAULT' WHEN 'r' THEN ' ON UPDATE RESTRICT' ELSE '' END || "
        "CASE k.confdeltype WHEN 'c' THEN ' ON DELETE CASCADE' WHEN 'n' THEN ' ON DELETE SET NULL' WHEN 'd' THEN ' ON DELETE SET DEFAULT' WHEN 'r' THEN ' ON DELETE RESTRICT' ELSE '' END "
        "ELSE '' END FROM pg_constraint k WHERE k.oid = ?1", sqlite3_value_int64(a[0]));
    if (r) sqlite3_result_text(c, r, -1, sqlite3_free); else sqlite3_result_null(c);
}

static void f_regnamespace_name(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    char *r = query_text(sqlite3_context_db_handle(c), "SELECT nspname FROM pg_namespace WHERE oid = ?1", sqlite3_value_int64(a[0]));
    if (r) sqlite3_result_text(c, r, -1, sqlite3_free);
    else sqlite3_result_text(c, (const char *)sqlite3_value_text(a[0]), -1, SQLITE_TRANSIENT);
}

/* a user table can be published (pg_relation_is_publishable) */
static void f_publishable(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    sqlite3_result_int(c, sqlite3_value_int64(a[0]) >= 16384);
}

static void f_null1(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc; (void)a;
    sqlite3_result_null(c);
}

static void f_regclass_name(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    /* regclassout shows InvalidOid (a domain CHECK's conrelid) as - */
    if (sqlite3_value_numeric_type(a[0]) == SQLITE_INTEGER && sqlite3_value_int64(a[0]) == 0) {
        sqlite3_result_text(c, "-", 1, SQLITE_STATIC);
        return;
    }
    sqlite3 *db = sqlite3_context_db_handle(c);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT relname FROM pg_class WHERE oid = ?1", -1, &st, NULL) != SQLITE_OK) {
        sqlite3_result_error(c, sqlite3_errmsg(db), -1);
        return;
    }
    sqlite3_bind_int64(st, 1, sqlite3_value_int64(a[0]));
    for (size_t i = 0; i < sizeof cat_oids / sizeof cat_oids[0]; i++)
        if (cat_oids[i].oid == (uint32_t)sqlite3_value_int64(a[0])) {
            sqlite3_finalize(st);
            sqlite3_result_text(c, cat_oids[i].name, -1, SQLITE_STATIC);
            return;
        }
    if (sqlite3_step(st) == SQLITE_ROW) sqlite3_result_text(c, (const char *)sqlite3_column_text(st, 0), -1, SQLITE_TRANSIENT);
    else sqlite3_result_text(c, (const char *)sqlite3_value_text(a[0]), -1, SQLITE_TRANSIENT);
    sqlite3_finalize(st);
}

/* wb_catalog_sequences(): the rows of wb_sequences (translate_ddl.c) as a
 * JSON array of [rowid, name, owner_table, owner_column, start, increment,
 * min, max, cycle], '[]' before the first sequence creates that table (a
 * view cannot name a table that may not exist) */
static void f_catalog_sequences(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc; (void)a;
    sqlite3 *db = sqlite3_context_db_handle(c);
    char *r = query_text(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'wb_sequences' AND ?1", 1);
    int have = r && strcmp(r, "0");
    sqlite3_free(r);
    if (!have) { sqlite3_result_text(c, "[]", 2, SQLITE_STATIC); return; }
    r = query_text(db, "SELECT json_group_array(json_array(rowid, name, owner_table, owner_column, start_value, "
                       "increment_by, min_value, max_value, cycle)) FROM wb_sequences WHERE ?1", 1);
    if (!r) { sqlite3_result_error(c, sqlite3_errmsg(db), -1); return; }
    sqlite3_result_text(c, r, -1, sqlite3_free);
}

/* wb_catalog_domains(): the rows of wb_domains (CREATE DOMAIN,
 * translate_ddl.c) as a JSON array of [rowid, name, base_oid, typmod,
 * not_null, default_sql, check_name, check_sql], '[]' before the first
 * CREATE DOMAIN creates that table */
static void f_catalog_domains(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc; (void)a;
    sqlite3 *db = sqlite3_context_db_handle(c);
    char *r = query_text(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'wb_domains' AND ?1", 1);
    int have = r && strcmp(r, "0");
    sqlite3_free(r);
    if (!have) { sqlite3_result_text(c, "[]", 2, SQLITE_STATIC); return; }
    r = query_text(db, "SELECT json_group_array(json_array(rowid, name, base_oid, typmod, not_null, default_sql, "
                       "check_name, check_sql)) FROM wb_domains WHERE ?1", 1);
    if (!r) { sqlite3_result_error(c, sqlite3_errmsg(db), -1); return; }
    sqlite3_result_text(c, r, -1, sqlite3_free);
}

/* a domain's name by its pg_type OID (TR_DOMAIN_OID_BASE + rowid of
 * wb_domains), NULL when it is none; sqlite3_free it */
static char *domain_name(sqlite3 *db, uint32_t oid)
{
    if (oid <= 1600000000u || oid >= 1700000000u) return NULL;
    char *r = query_text(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'wb_domains' AND ?1", 1);
    int have = r && strcmp(r, "0");
    sqlite3_free(r);
    if (!have) return NULL;
    return query_text(db, "SELECT name FROM wb_domains WHERE rowid = ?1 - " TR_DOMAIN_OID_BASE_SQL, oid);
}

/* a domain's pg_type OID by name, 0 when there is none */
static uint32_t domain_oid(sqlite3 *db, const char *name)
{
    char *r = query_text(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'wb_domains' AND ?1", 1);
    int have = r && strcmp(r, "0");
    sqlite3_free(r);
    if (!have) return 0;
    sqlite3_stmt *st;
    uint32_t oid = 0;
    if (sqlite3_prepare_v2(db, "SELECT " TR_DOMAIN_OID_BASE_SQL " + rowid FROM wb_domains WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
        return 0;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) oid = (uint32_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return oid;
}

/* wb_domain_name(oid): the domain's name, NULL when the OID is no domain
 * (format_type, translate_funcs.c, asks it first) */
static void f_domain_name(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    char *dn = domain_name(sqlite3_context_db_handle(c), (uint32_t)sqlite3_value_int64(a[0]));
    if (dn) sqlite3_result_text(c, dn, -1, sqlite3_free);
    else sqlite3_result_null(c);
}

/* wb_catalog_extensions(): the rows of wb_extensions (CREATE EXTENSION,
 * translate_util.c) as a JSON array of [rowid, name, version], '[]' before
 * the first CREATE EXTENSION creates that table */
static void f_catalog_extensions(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc; (void)a;
    sqlite3 *db = sqlite3_context_db_handle(c);
    char *r = query_text(db, "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'wb_extensions' AND ?1", 1);
    int have = r && strcmp(r, "0");
    sqlite3_free(r);
    if (!have) { sqlite3_result_text(c, "[]", 2, SQLITE_STATIC); return; }
    r = query_text(db, "SELECT json_group_array(json_array(rowid, name, version)) FROM wb_extensions WHERE ?1", 1);
    if (!r) { sqlite3_result_error(c, sqlite3_errmsg(db), -1); return; }
    sqlite3_result_text(c, r, -1, sqlite3_free);
}

/* pg_relation_size(oid [, fork]) / pg_table_size(oid) /
 * pg_total_relation_size(oid): bytes of the SQLite b-trees behind the
 * relation (SQLite's dbstat: pages * page size). user_data: 0 the
 * relation itself (main fork; other forks are empty), 1 with its indexes.
 * A view has no storage (0); an OID that is no table or index gives NULL,
 * as PostgreSQL for a missing relation (sequences live in a row of
 * wb_sequences and have no pages of their own: NULL too). */
static void f_relation_size(sqlite3_context *c, int argc, sqlite3_value **a)
{
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    if (argc > 1 && sqlite3_value_type(a[1]) != SQLITE_NULL && strcmp((const char *)sqlite3_value_text(a[1]), "main")) {
        sqlite3_result_int64(c, 0);
        return;
    }
    sqlite3 *db = sqlite3_context_db_handle(c);
    int total = sqlite3_user_data(c) != NULL;
    int64_t oid = sqlite3_value_int64(a[0]);
    if (sqlite3_value_numeric_type(a[0]) != SQLITE_INTEGER) {
        /* a relation name (the text that PostgreSQL would cast to regclass) */
        const char *name = (const char *)sqlite3_value_text(a[0]);
        if (!strncmp(name, "public.", 7)) name += 7;
        sqlite3_stmt *st;
        oid = 0;
        if (sqlite3_prepare_v2(db, "SELECT oid FROM pg_class WHERE relname = ?1", -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
            if (sqlite3_step(st) == SQLITE_ROW) oid = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
        if (!oid) {
            char msg[300];
            snprintf(msg, sizeof msg, "42P01 relation \"%s\" does not exist", (const char *)sqlite3_value_text(a[0]));
            sqlite3_result_error(c, msg, -1);
            return;
        }
    }
    char *kind = query_text(db, "SELECT type FROM sqlite_schema WHERE rowid = ?1 - 16384", oid);
    if (!kind || (strcmp(kind, "table") && strcmp(kind, "index") && strcmp(kind, "view"))) {
        sqlite3_free(kind);
        sqlite3_result_null(c);
        return;
    }
    int view = !strcmp(kind, "view");
    sqlite3_free(kind);
    if (view) { sqlite3_result_int64(c, 0); return; }
    char *r = query_text(db, total
        ? "SELECT coalesce(sum(d.pgsize), 0) FROM sqlite_schema s JOIN sqlite_schema o "
          "ON o.tbl_name = s.tbl_name AND o.type IN ('table', 'index') JOIN dbstat d ON d.name = o.name AND d.aggregate = 1 "
          "WHERE s.rowid = ?1 - 16384"
        : "SELECT coalesce(sum(d.pgsize), 0) FROM sqlite_schema s JOIN dbstat d ON d.name = s.name AND d.aggregate = 1 "
          "WHERE s.rowid = ?1 - 16384", oid);
    if (!r) { sqlite3_result_error(c, sqlite3_errmsg(db), -1); return; }
    sqlite3_result_int64(c, strtoll(r, NULL, 10));
    sqlite3_free(r);
}

static void f_regtype_name(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    uint32_t oid = (uint32_t)sqlite3_value_int64(a[0]);
    const char *name;
    if (oid == 0) { sqlite3_result_text(c, "-", 1, SQLITE_STATIC); return; }
    if (oid == WB_PG_VECTOR_OID && !tr_type_by_oid(oid)) { sqlite3_result_text(c, "vector", -1, SQLITE_STATIC); return; }
    if (oid == WB_PG_VECTOR_ARRAY_OID && !tr_type_by_array_oid(oid)) { sqlite3_result_text(c, "vector[]", -1, SQLITE_STATIC); return; }
    char *dn = domain_name(sqlite3_context_db_handle(c), oid);
    if (dn) { sqlite3_result_text(c, dn, -1, sqlite3_free); return; }
    if (!wb_sql_type_info(oid, &name, NULL, NULL, NULL)) { sqlite3_result_text(c, (const char *)sqlite3_value_text(a[0]), -1, SQLITE_TRANSIENT); return; }
    /* format_type's spelling (regtypeout) */
    char buf[96];
    static const struct { const char *n, *pretty; } pretty[] = {
        {"int2", "smallint"}, {"int4", "integer"}, {"int8", "bigint"}, {"float4", "real"}, {"float8", "double precision"},
        {"bool", "boolean"}, {"varchar", "character varying"}, {"bpchar", "character"},
        {"timestamp", "timestamp without time zone"}, {"timestamptz", "timestamp with time zone"},
        {"time", "time without time zone"}, {"timetz", "time with time zone"}};
    const char *base = name[0] == '_' ? name + 1 : name;
    for (size_t i = 0; i < sizeof pretty / sizeof pretty[0]; i++)
        if (!strcmp(pretty[i].n, base)) base = pretty[i].pretty;
    snprintf(buf, sizeof buf, "%s%s", base, name[0] == '_' ? "[]" : "");
    sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
}

static const cat_rel cat_rels[] = {
    {"pg_namespace", c_namespace,
     "VALUES (11, 'pg_catalog', 10, NULL), (2200, 'public', 6171, NULL), (99, 'pg_toast', 10, NULL), "
     "(13000, 'information_schema', 10, NULL)"},
    /* pg_class reads its relations (sqlite_schema's tables, views and
     * indexes, then wb_sequences' sequences) from ONE json_each source, not
     * a UNION ALL of the two: SQLite 3.40 flattening a UNION ALL view into
     * a join, together with an ORDER BY (optimizations QueryFlattener and
     * OrderByIdxJoin), returned no rows for pg_class JOIN pg_attribute JOIN pg_index ...
     * ORDER BY (tests/test_catalog.py, the README has the pure-SQLite
     * reproducer). The UNION ALL below is inside an aggregate scalar
     * subquery, which SQLite never flattens into the caller; the view
     * itself stays a simple SELECT that SQLite flattens into the caller's
     * query. s.t is the sqlite_schema type or 'sequence'. */
    {"pg_class", c_class,
     "SELECT s.o, CASE WHEN s.t = 'index' AND s.n LIKE 'sqlite\\_autoindex\\_%' ESCAPE '\\' THEN "
     "(SELECT conname FROM pg_constraint WHERE oid = s.o) ELSE s.n END, "
     "2200, 0, 0, 10, CASE s.t WHEN 'index' THEN 403 WHEN 'table' THEN 2 ELSE 0 END, "
     "s.o, 0, s.t = 'sequence', -1, 0, 0, "
     "s.t = 'table' AND EXISTS (SELECT 1 FROM sqlite_schema i WHERE i.type = 'index' AND i.tbl_name = s.n), 0, 'p', "
     "CASE s.t WHEN 'table' THEN 'r' WHEN 'view' THEN 'v' WHEN 'sequence' THEN 'S' ELSE 'i' END, "
     "CASE s.t WHEN 'index' THEN (SELECT count(*) FROM pragma_index_info(s.n)) WHEN 'sequence' THEN 3 "
     "ELSE (SELECT count(*) FROM pragma_table_info(s.n)) END, "
     "CASE s.t WHEN 'table' THEN (SELECT count(*) FROM sqlite_schema q, json_each(wb_table_constraints(q.sql, q.name)) c "
     "WHERE q.type = 'table' AND q.name = s.n AND c.value->>0 = 'c') ELSE 0 END, 0, "
     /* relhastriggers: PostgreSQL enforces foreign keys with triggers, and
      * psql lists them only when it is set */
     "s.t = 'table' AND (EXISTS (SELECT 1 FROM pragma_foreign_key_list(s.n)) OR EXISTS (SELECT 1 FROM sqlite_schema t2, "
     "pragma_foreign_key_list(t2.name) f WHERE t2.type = 'table' AND f.\"table\" = s.n)), "
     "0, 0, 0, 1, CASE s.t WHEN 'sequence' THEN 'n' ELSE 'd' END, 0, 0, 0, 0, NULL, NULL, NULL "
     "FROM (SELECT j.value->>0 AS o, j.value->>1 AS n, j.value->>2 AS t FROM json_each((SELECT json_group_array(json_array(o, n, t)) "
     "FROM (SELECT 16384 + s.rowid AS o, s.name AS n, s.type AS t FROM sqlite_schema s WHERE s.type IN ('table', 'view', 'index') "
     "AND (s.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' OR s.name LIKE 'sqlite\\_autoindex\\_%' ESCAPE '\\') "
     "AND s.tbl_name NOT LIKE 'wb\\_%' ESCAPE '\\' "
     /* sequences (relkind S, three columns as PostgreSQL 15's) */
     "UNION ALL SELECT " TR_SEQ_OID_BASE_SQL " + (q.value->>0), q.value->>1, 'sequence' "
     "FROM json_each(wb_catalog_sequences()) q))) j) s"},
    {"pg_sequence", c_sequence,
     "SELECT " TR_SEQ_OID_BASE_SQL " + (j.value->>0), CASE WHEN j.value->>2 IS NULL THEN 20 ELSE coalesce((SELECT "
     "wb_decl_oid(p.type) FROM pragma_table_info(j.value->>2) p WHERE p.name = j.value->>3), 20) END, "
     "j.value->>4, j.value->>5, j.value->>7, j.value->>6, 1, j.value->>8 FROM json_each(wb_catalog_sequences()) j"},
    {"pg_attribute", c_attribute,
     "SELECT c.oid, p.name, wb_decl_atttypid(p.type), -1, -1, p.cid + 1, 0, -1, wb_decl_atttypmod(p.type), 0, 'i', 'x', '', "
     /* a domain's DEFAULT (translate_domain.c) is the domain's, not the column's */
     "p.\"notnull\", p.dflt_value IS NOT NULL AND p.dflt_value NOT LIKE 'wb\\_domain\\_default(%' ESCAPE '\\', "
     "0, '', '', 0, 1, 0, 0, NULL, NULL "
     "FROM pg_class c, pragma_table_info(c.relname) p WHERE c.relkind IN ('r', 'v')"},
    {"pg_type", c_type, NULL},
    {"pg_partitioned_table", c_partitioned, "SELECT 0, 'h', 0, 0, NULL, NULL, NULL, NULL WHERE 0"},
    {"pg_inherits", c_inherits, "SELECT 0, 0, 0, 0 WHERE 0"},
    {"pg_database", c_database,
     "VALUES (5, current_database(), 10, 6, 'c', 0, 1, -1, 0, 1, 1663, 'C.UTF-8', 'C.UTF-8', NULL, NULL, NULL)"},
    {"pg_roles", c_roles, "VALUES (10, current_user(), 1, 1, 1, 1, 1, 1, -1, '********', NULL, 1, NULL)"},
    {"pg_am", c_am, "VALUES (2, 'heap', 'heap_tableam_handler', 't'), (403, 'btree', 'bthandler', 'i'), "
                    "(405, 'hash', 'hashhandler', 'i')"},
    {"pg_range", c_range, "SELECT 0, 0, 0, 0, 0, '-', '-' WHERE 0"},
    {"pg_description", c_description, "SELECT 0, 0, 0, NULL WHERE 0"},
    /* primary keys, unique constraints and foreign keys as SQLite keeps
     * them (pragma_index_list / pragma_foreign_key_list), CHECK constraints
     * and constraint names from the CREATE TABLE text (wb_table_constraints).
     * Never flattened into a caller's query (its FK arm is an aggregate),
     * so the UNION ALL is safe from the SQLite 3.40 bug described at
     * pg_class. */
    {"pg_constraint", c_constraint,
     "SELECT 16384 + i.rowid, CASE WHEN i.name LIKE 'sqlite\\_autoindex\\_%' ESCAPE '\\' THEN "
     /* a named PRIMARY KEY / UNIQUE under its name (the CREATE TABLE text
      * keeps it), else PostgreSQL's TABLE_pkey / TABLE_COLS_key */
     "coalesce((SELECT c.value->>1 FROM json_each(wb_table_constraints(t.sql, t.name)) c "
     "WHERE c.value->>0 = CASE l.origin WHEN 'pk' THEN 'p' ELSE 'u' END AND c.value->>1 IS NOT NULL "
     "AND c.value->2 = (SELECT json_group_array(x.name) FROM pragma_index_info(i.name) x) LIMIT 1), "
     "t.name || CASE l.origin WHEN 'pk' THEN '_pkey' ELSE '_' || (SELECT group_concat(x.name, '_') FROM pragma_index_info(i.name) x) "
     "|| '_key' END) ELSE i.name END, 2200, CASE l.origin WHEN 'pk' THEN 'p' ELSE 'u' END, 0, 0, 1, 16384 + t.rowid, 0, "
     "16384 + i.rowid, 0, 0, ' ', ' ', ' ', 1, 0, 1, "
     "(SELECT '{' || group_concat(x.cid + 1, ',') || '}' FROM pragma_index_info(i.name) x), NULL, NULL "
     "FROM sqlite_schema t JOIN pragma_index_list(t.name) l JOIN sqlite_schema i ON i.type = 'index' AND i.name = l.name "
     "WHERE t.type = 'table' AND l.origin IN ('pk', 'u') AND t.name NOT LIKE 'wb\\_%' ESCAPE '\\' "
     "UNION ALL "
     "SELECT 16384 * 1000 + t.rowid * 100 + f.id, coalesce((SELECT c.value->>1 FROM json_each(wb_table_constraints(t.sql, t.name)) c "
     "WHERE c.value->>0 = 'f' AND c.value->>1 IS NOT NULL AND (SELECT group_concat(k.value, ',') FROM json_each(c.value->2) k) "
     "= (SELECT group_concat(f2.\"from\", ',') FROM pragma_foreign_key_list(t.name) f2 WHERE f2.id = f.id) LIMIT 1), t.name || '_' || group_concat(f.\"from\", '_') || '_fkey'), 2200, 'f', 0, 0, 1, "
     "16384 + t.rowid, 0, 0, 0, (SELECT 16384 + r.rowid FROM sqlite_schema r WHERE r.type = 'table' AND r.name = f.\"table\"), "
     "CASE max(f.on_update) WHEN 'CASCADE' THEN 'c' WHEN 'SET NULL' THEN 'n' WHEN 'SET DEFAULT' THEN 'd' WHEN 'RESTRICT' THEN 'r' ELSE 'a' END, "
     "CASE max(f.on_delete) WHEN 'CASCADE' THEN 'c' WHEN 'SET NULL' THEN 'n' WHEN 'SET DEFAULT' THEN 'd' WHEN 'RESTRICT' THEN 'r' ELSE 'a' END, "
     "'s', 1, 0, 1, "
     "'{' || group_concat((SELECT p.cid + 1 FROM pragma_table_info(t.name) p WHERE p.name = f.\"from\"), ',') || '}', "
     "'{' || group_concat((SELECT p.cid + 1 FROM pragma_table_info(f.\"table\") p WHERE p.name = f.\"to\"), ',') || '}', NULL "
     "FROM sqlite_schema t JOIN pragma_foreign_key_list(t.name) f WHERE t.type = 'table' GROUP BY t.name, f.id "
     /* CHECK constraints from the CREATE TABLE text: conkey the columns
      * the expression reads in the order it names them (as PostgreSQL's),
      * conbin its text as SQLite keeps it */
     "UNION ALL "
     "SELECT " TR_CHECK_OID_BASE_SQL " + t.rowid * 1000 + c.key, c.value->>1, 2200, 'c', 0, 0, 1, 16384 + t.rowid, 0, 0, 0, 0, "
     "' ', ' ', ' ', 1, 0, 0, (SELECT '{' || group_concat(q.cid + 1, ',') || '}' FROM (SELECT p.cid FROM json_each(c.value->2) k "
     "JOIN pragma_table_info(t.name) p ON p.name = k.value ORDER BY k.key) q), NULL, c.value->>3 "
     "FROM sqlite_schema t, json_each(wb_table_constraints(t.sql, t.name)) c "
     "WHERE t.type = 'table' AND c.value->>0 = 'c' AND t.name NOT LIKE 'wb\\_%' ESCAPE '\\' "
     /* a domain's CHECK (CREATE DOMAIN, wb_domains): contypid the domain,
      * conbin the expression over VALUE as SQLite keeps it */
     "UNION ALL "
     "SELECT " TR_DOMAIN_CHECK_OID_BASE_SQL " + (d.value->>0), d.value->>6, 2200, 'c', 0, 0, 1, 0, "
     TR_DOMAIN_OID_BASE_SQL " + (d.value->>0), 0, 0, 0, ' ', ' ', ' ', 1, 0, 0, NULL, NULL, d.value->>7 "
     "FROM json_each(wb_catalog_domains()) d WHERE d.value->>7 IS NOT NULL"},
    {"pg_collation", c_collation,
     "VALUES (100, 'default', 11, 10, 'd', 1, -1, NULL, NULL, NULL, NULL), "
     "(950, 'C', 11, 10, 'c', 1, -1, 'C', 'C', NULL, NULL), (951, 'POSIX', 11, 10, 'c', 1, -1, 'POSIX', 'POSIX', NULL, NULL)"},
    /* nothing of these exists in wirebuf (row security, extended
     * statistics, logical replication, triggers cannot be created): empty */
    {"pg_policy", c_policy, "SELECT 0, '', 0, '', 0, NULL, NULL, NULL WHERE 0"},
    {"pg_statistic_ext", c_statext, "SELECT 0, 0, '', 0, 0, 0, NULL, NULL, NULL WHERE 0"},
    {"pg_publication", c_publication, "SELECT 0, '', 0, 0, 0, 0, 0, 0, 0 WHERE 0"},
    {"pg_publication_rel", c_pubrel, "SELECT 0, 0, 0, NULL, NULL WHERE 0"},
    {"pg_publication_namespace", c_pubns, "SELECT 0, 0, 0 WHERE 0"},
    /* functions: wirebuf has no CREATE FUNCTION, and its built-in ones
     * (the translator's function map) are not listed */
    {"pg_proc", c_proc, "SELECT 0, '', 0, 0, 0, 0, 0, 0, '-', 'f', 0, 0, 0, 0, 'v', 'u', 0, 0, 0, '', NULL, NULL, NULL, "
                        "NULL, NULL, '', NULL, NULL, NULL, NULL WHERE 0"},
    {"information_schema_schemata", c_is_schemata,
     "SELECT current_database(), n.nspname, pg_get_userbyid(n.nspowner), NULL, NULL, 'UTF8', NULL FROM pg_namespace n "
     "WHERE n.nspname <> 'pg_toast'"},
    {"information_schema_tables", c_is_tables,
     "SELECT current_database(), 'public', c.relname, CASE c.relkind WHEN 'r' THEN 'BASE TABLE' ELSE 'VIEW' END, "
     "NULL, NULL, NULL, NULL, NULL, CASE c.relkind WHEN 'r' THEN 'YES' ELSE 'NO' END, 'NO', NULL "
     "FROM pg_class c WHERE c.relkind IN ('r', 'v')"},
    {"information_schema_columns", c_is_columns,
     "SELECT current_database(), 'public', c.relname, a.attname, a.attnum, "
     "(SELECT d.adbin FROM pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum), "
     "CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END, "
     "CASE WHEN t.typcategory = 'A' THEN 'ARRAY' WHEN t.typnamespace <> 11 THEN 'USER-DEFINED' "
     "ELSE wb_regtype_name(a.atttypid) END, "
     "CASE WHEN a.atttypid IN (1042, 1043) AND a.atttypmod > 0 THEN a.atttypmod - 4 END, "
     "CASE a.atttypid WHEN 21 THEN 16 WHEN 23 THEN 32 WHEN 20 THEN 64 WHEN 700 THEN 24 WHEN 701 THEN 53 "
     "WHEN 1700 THEN CASE WHEN a.atttypmod > 0 THEN ((a.atttypmod - 4) >> 16) & 65535 END END, "
     "CASE WHEN a.atttypid IN (21, 23, 20, 700, 701) THEN 2 WHEN a.atttypid = 1700 THEN 10 END, "
     "CASE a.atttypid WHEN 21 THEN 0 WHEN 23 THEN 0 WHEN 20 THEN 0 "
     "WHEN 1700 THEN CASE WHEN a.atttypmod > 0 THEN (a.atttypmod - 4) & 65535 END END, "
     "CASE WHEN a.atttypid IN (1082) THEN 0 WHEN a.atttypid IN (1083, 1114, 1184, 1266, 1186) THEN "
     "CASE WHEN a.atttypmod >= 0 THEN a.atttypmod ELSE 6 END END, "
     "current_database(), CASE WHEN t.typnamespace = 11 THEN 'pg_catalog' ELSE 'public' END, t.typname, "
     "'NO', 'NEVER', CASE c.relkind WHEN 'r' THEN 'YES' ELSE 'NO' END "
     /* a column of a domain: described by its base type, and named in
      * domain_catalog / domain_schema / domain_name */
     ", CASE WHEN a.domname IS NOT NULL THEN current_database() END, CASE WHEN a.domname IS NOT NULL THEN 'public' END, "
     "a.domname "
     "FROM (SELECT x.attrelid, x.attname, x.attnum, x.attnotnull OR (y.typtype = 'd' AND y.typnotnull) AS attnotnull, "
     "CASE WHEN y.typtype = 'd' THEN y.typbasetype ELSE x.atttypid END AS atttypid, "
     "CASE WHEN y.typtype = 'd' THEN y.typtypmod ELSE x.atttypmod END AS atttypmod, "
     "CASE WHEN y.typtype = 'd' THEN y.typname END AS domname "
     "FROM pg_attribute x JOIN pg_type y ON y.oid = x.atttypid) a "
     "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_type t ON t.oid = a.atttypid "
     "WHERE a.attnum > 0"},
    {"information_schema_table_constraints", c_is_table_constraints,
     "SELECT current_database(), 'public', k.conname, current_database(), 'public', c.relname, "
     "CASE k.contype WHEN 'p' THEN 'PRIMARY KEY' WHEN 'u' THEN 'UNIQUE' WHEN 'f' THEN 'FOREIGN KEY' ELSE 'CHECK' END, "
     "'NO', 'NO', 'YES', CASE WHEN k.contype IN ('p', 'u') THEN 'YES' END "
     "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
     /* NOT NULL columns of tables as CHECK constraints named
      * NSPOID_RELOID_ATTNUM_not_null, as PostgreSQL 15 lists them. DISTINCT
      * (the rows are distinct anyway) keeps SQLite from flattening this
      * UNION ALL into a caller's join (the SQLite 3.40 bug at pg_class) */
     "UNION ALL SELECT DISTINCT current_database(), 'public', '2200_' || c.oid || '_' || a.attnum || '_not_null', "
     "current_database(), 'public', c.relname, 'CHECK', 'NO', 'NO', 'YES', NULL "
     "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relkind = 'r' AND a.attnum > 0 AND a.attnotnull"},
    {"information_schema_check_constraints", c_is_check_constraints,
     /* a table's CHECK as PostgreSQL's view has it: pg_get_constraintdef
      * after 'CHECK ' */
     "SELECT current_database(), 'public', k.conname, CASE WHEN k.conrelid <> 0 THEN substr(pg_get_constraintdef(k.oid), 7) "
     "ELSE '(' || k.conbin || ')' END FROM pg_constraint k WHERE k.contype = 'c' "
     "UNION ALL SELECT DISTINCT current_database(), 'public', '2200_' || c.oid || '_' || a.attnum || '_not_null', "
     "a.attname || ' IS NOT NULL' "
     "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid WHERE c.relkind = 'r' AND a.attnum > 0 AND a.attnotnull"},
    {"information_schema_key_column_usage", c_is_key_column_usage,
     "SELECT current_database(), 'public', k.conname, current_database(), 'public', c.relname, a.attname, "
     "j.key + 1, CASE WHEN k.contype = 'f' THEN (SELECT u.key + 1 FROM json_each('[' || substr(k.confkey, 2, "
     "length(k.confkey) - 2) || ']') f, pg_constraint r, json_each('[' || substr(r.conkey, 2, length(r.conkey) - 2) || ']') u "
     "WHERE f.key = j.key AND r.conrelid = k.confrelid AND r.contype IN ('p', 'u') AND u.value = f.value "
     "ORDER BY r.contype, r.oid LIMIT 1) END "
     "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid, "
     "json_each('[' || substr(k.conkey, 2, length(k.conkey) - 2) || ']') j "
     "JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = j.value WHERE k.contype IN ('p', 'u', 'f')"},
    {"information_schema_referential_constraints", c_is_referential_constraints,
     "SELECT current_database(), 'public', k.conname, current_database(), 'public', "
     "(SELECT r.conname FROM pg_constraint r WHERE r.conrelid = k.confrelid AND r.contype IN ('p', 'u') "
     "AND r.conkey = k.confkey ORDER BY r.contype LIMIT 1), 'NONE', "
     "CASE k.confupdtype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' "
     "WHEN 'r' THEN 'RESTRICT' ELSE 'NO ACTION' END, "
     "CASE k.confdeltype WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' "
     "WHEN 'r' THEN 'RESTRICT' ELSE 'NO ACTION' END FROM pg_constraint k WHERE k.contype = 'f'"},
    /* the columns a constraint uses: its own for p/u/c, the referenced ones for f */
    {"information_schema_constraint_column_usage", c_is_constraint_column_usage,
     "SELECT current_database(), 'public', c.relname, a.attname, current_database(), 'public', k.conname "
     "FROM pg_constraint k, json_each('[' || substr(CASE k.contype WHEN 'f' THEN k.confkey ELSE k.conkey END, 2, "
     "length(CASE k.contype WHEN 'f' THEN k.confkey ELSE k.conkey END) - 2) || ']') j "
     "JOIN pg_class c ON c.oid = CASE k.contype WHEN 'f' THEN k.confrelid ELSE k.conrelid END "
     "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = j.value WHERE k.contype IN ('p', 'u', 'f', 'c')"},
    /* view_definition: the query as libpg_query deparses it (PostgreSQL's
     * pg_get_viewdef prints its own normalised form: README) */
    {"information_schema_views", c_is_views,
     "SELECT current_database(), 'public', c.relname, (SELECT wb_view_def(q.sql) FROM sqlite_schema q "
     "WHERE q.type = 'view' AND q.name = c.relname), 'NONE', 'NO', 'NO', 'NO', 'NO', 'NO' "
     "FROM pg_class c WHERE c.relkind = 'v'"},
    {"information_schema_sequences", c_is_sequences,
     "SELECT current_database(), 'public', c.relname, CASE s.seqtypid WHEN 23 THEN 'integer' WHEN 21 THEN 'smallint' "
     "ELSE 'bigint' END, CASE s.seqtypid WHEN 23 THEN 32 WHEN 21 THEN 16 ELSE 64 END, 2, 0, "
     "CAST(s.seqstart AS TEXT), CAST(s.seqmin AS TEXT), CAST(s.seqmax AS TEXT), CAST(s.seqincrement AS TEXT), "
     "CASE WHEN s.seqcycle THEN 'YES' ELSE 'NO' END FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid"},
    {"pg_user", c_user, "VALUES (current_user(), 10, 1, 1, 1, 1, '********', NULL, NULL)"},
    {"pg_authid", c_authid, "VALUES (10, current_user(), 1, 1, 1, 1, 1, 1, 1, -1, NULL, NULL)"},
    /* plpgsql as PostgreSQL 15 has it in every database (its OID there),
     * vector once CREATE EXTENSION vector ran in this database */
    {"pg_extension", c_extension,
     "SELECT 13743, 'plpgsql', 10, 11, 0, '1.0', NULL, NULL "
     "UNION ALL SELECT " TR_EXT_OID_BASE_SQL " + (j.value->>0), j.value->>1, 10, 2200, 1, j.value->>2, NULL, NULL "
     "FROM json_each(wb_catalog_extensions()) j"},
    /* the session's settings, read-only (session.c wb_settings: SHOW and
     * current_setting are the source of truth; UPDATE pg_settings fails as
     * on any view) */
    {"pg_settings", c_settings,
     "SELECT j.value->>0, j.value->>1, j.value->>2, j.value->>3, j.value->>4, j.value->>5, j.value->>6, "
     "j.value->>7, j.value->>8, j.value->>9, j.value->>10, j.value->>11, j.value->>12, j.value->>13, NULL, NULL, 0 "
     "FROM json_each(wb_settings()) j"},
    {"pg_enum", c_enum, "SELECT 0, 0, 0, '' WHERE 0"}, /* no CREATE TYPE ... AS ENUM */
    {"pg_trigger", c_trigger, "SELECT 0, 0, 0, '', 0, 0, '', 0, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL WHERE 0"},
    /* adbin holds the default as SQLite text (pg_get_expr returns it) */
    {"pg_attrdef", c_attrdef,
     "SELECT c.oid * 1000 + p.cid + 1, c.oid, p.cid + 1, "
     "wb_pg_default(p.dflt_value, c.relname, wb_decl_oid(p.type), format_type(wb_decl_oid(p.type), NULL)) "
     "FROM pg_class c, pragma_table_info(c.relname) p WHERE c.relkind = 'r' AND p.dflt_value IS NOT NULL "
     /* a domain's DEFAULT (translate_domain.c) is the domain's, not the column's */
     "AND p.dflt_value NOT LIKE 'wb\\_domain\\_default(%' ESCAPE '\\'"},
    {"pg_index", c_index,
     "SELECT 16384 + i.rowid, 16384 + t.rowid, (SELECT count(*) FROM pragma_index_info(i.name)), "
     "(SELECT count(*) FROM pragma_index_info(i.name)), l.\"unique\", 0, l.origin = 'pk', 0, 1, 0, 1, 0, 1, 1, 0, "
     "(SELECT group_concat(x.cid + 1, ' ') FROM pragma_index_info(i.name) x), '', '', "
     /* indoption per key column as PostgreSQL sets it for the declared
      * order: bit 1 DESC, bit 2 NULLS FIRST (a plain DESC is NULLS FIRST) */
     "(SELECT group_concat(CASE WHEN x.\"desc\" THEN 3 ELSE 0 END, ' ') FROM pragma_index_xinfo(i.name) x WHERE x.key), NULL, NULL "
     "FROM sqlite_schema i JOIN sqlite_schema t ON t.type = 'table' AND t.name = i.tbl_name "
     "JOIN pragma_index_list(t.name) l ON l.name = i.name WHERE i.type = 'index'"},
};

static const cat_rel *cat_find(const char *name)
{
    for (size_t i = 0; i < sizeof cat_rels / sizeof cat_rels[0]; i++)
        if (!strcmp(cat_rels[i].name, name)) return &cat_rels[i];
    return NULL;
}

int tr_catalog_column(const char *table, const char *col, uint32_t *oid)
{
    const cat_rel *r = cat_find(table);
    if (!r) return -1;
    for (const cat_col *c = r->cols; c->name; c++)
        if (!strcmp(c->name, col)) { *oid = c->oid; return 1; }
    return 0;
}

int tr_catalog_columns(const char *table, char ***names, uint32_t **oids, int *n)
{
    const cat_rel *r = cat_find(table);
    if (!r) return -1;
    int k = 0;
    while (r->cols[k].name) k++;
    *names = calloc((size_t)k, sizeof **names);
    *oids = calloc((size_t)k, sizeof **oids);
    if (!*names || !*oids) { free(*names); free(*oids); *names = NULL; *oids = NULL; return 0; }
    for (int i = 0; i < k; i++) {
        (*names)[i] = strdup(r->cols[i].name);
        (*oids)[i] = r->cols[i].oid;
        if (!(*names)[i]) { for (int j = 0; j < i; j++) free((*names)[j]); free(*names); free(*oids); return 0; }
    }
    *n = k;
    return 1;
}

static int create_view(sqlite3 *db, const cat_rel *r, const char *body)
{
    sqlite3_str *s = sqlite3_str_new(db);
    sqlite3_str_appendf(s, "CREATE TEMP VIEW IF NOT EXISTS %s (", r->name);
    for (const cat_col *c = r->cols; c->name; c++) sqlite3_str_appendf(s, "%s\"%w\"", c == r->cols ? "" : ", ", c->name);
    sqlite3_str_appendf(s, ") AS %s", body);
    char *sql = sqlite3_str_finish(s);
    if (!sql) return SQLITE_NOMEM;
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
    return rc;
}

/* a built-in type's I/O function names as PostgreSQL 15's pg_type has
 * them: most are typname || 'in'/'out'/'recv'/'send', these use '_in'
 * (some under another stem), and some pseudo-types have no binary I/O */
static void type_io_names(const char *name, char io[4][64])
{
    static const char *const underscore[] = {
        "any", "anyarray", "anycompatible", "anycompatiblearray", "anycompatiblemultirange", "anycompatiblenonarray",
        "anycompatiblerange", "anyelement", "anyenum", "anymultirange", "anynonarray", "anyrange", "bit", "box",
        "cidr", "circle", "cstring", "date", "event_trigger", "fdw_handler", "index_am_handler", "inet", "internal",
        "interval", "json", "jsonb", "jsonpath", "language_handler", "line", "lseg", "macaddr", "macaddr8",
        "numeric", "path", "pg_ddl_command", "pg_dependencies", "pg_lsn", "pg_mcv_list", "pg_ndistinct",
        "pg_node_tree", "pg_snapshot", "point", "record", "table_am_handler", "time", "timestamp", "timestamptz",
        "timetz", "trigger", "tsm_handler", "txid_snapshot", "uuid", "varbit", "void", "xml"};
    static const char *const no_binary[] = {
        "aclitem", "any", "anycompatible", "anycompatiblemultirange", "anycompatiblenonarray", "anycompatiblerange",
        "anyelement", "anyenum", "anymultirange", "anynonarray", "anyrange", "event_trigger", "fdw_handler",
        "gtsvector", "index_am_handler", "internal", "language_handler", "table_am_handler", "trigger", "tsm_handler"};
    static const struct { const char *type, *stem; } stems[] = {
        {"money", "cash_"}, {"polygon", "poly_"}, {"refcursor", "text"}};
    static const char *const suffix[4] = {"in", "out", "recv", "send"};
    char stem[64];
    snprintf(stem, sizeof stem, "%s", name);
    for (size_t i = 0; i < sizeof underscore / sizeof underscore[0]; i++)
        if (!strcmp(underscore[i], name)) snprintf(stem, sizeof stem, "%s_", name);
    for (size_t i = 0; i < sizeof stems / sizeof stems[0]; i++)
        if (!strcmp(stems[i].type, name)) snprintf(stem, sizeof stem, "%s", stems[i].stem);
    int binary = 1;
    for (size_t i = 0; i < sizeof no_binary / sizeof no_binary[0]; i++)
        if (!strcmp(no_binary[i], name)) binary = 0;
    for (int k = 0; k < 4; k++) {
        if (k >= 2 && !binary) snprintf(io[k], 64, "-");
        else snprintf(io[k], 64, "%s%s", stem, suffix[k]);
    }
}

/* The pg_type columns of a built-in type beyond the type table
 * (translate_ddl.c tr_types), as PostgreSQL 15's pg_type has them
 * (src/include/catalog/pg_type.dat): typtype, typalign, typstorage,
 * typcategory, typelem, typcollation, typispreferred, typsubscript and the
 * stem of typmodin / typmodout ("" for none). An array type (typcategory
 * 'A', named _ELEM) takes array_in/out/recv/send, typstorage 'x', typalign
 * 'd' when its element's is 'd' else 'i', the element's collation and
 * typmod functions, array_typanalyze and array_subscript_handler; only
 * _record, a pseudo-type, is listed here. test_catalog compares every row
 * with PostgreSQL's. */
typedef struct type_meta {
    const char *name;
    char typtype, align, storage, category;
    uint32_t elem, collation;
    int preferred;
    const char *subscript, *typmod;
} type_meta;
static const type_meta type_metas[] = {
    {"bool", 'b', 'c', 'p', 'B', 0, 0, 1, "-", ""},
    {"bytea", 'b', 'i', 'x', 'U', 0, 0, 0, "-", ""},
    {"char", 'b', 'c', 'p', 'Z', 0, 0, 0, "-", ""},
    {"name", 'b', 'c', 'p', 'S', 18, 950, 0, "raw_array_subscript_handler", ""},
    {"int8", 'b', 'd', 'p', 'N', 0, 0, 0, "-", ""},
    {"int2", 'b', 's', 'p', 'N', 0, 0, 0, "-", ""},
    {"int2vector", 'b', 'i', 'p', 'A', 21, 0, 0, "array_subscript_handler", ""},
    {"int4", 'b', 'i', 'p', 'N', 0, 0, 0, "-", ""},
    {"regproc", 'b', 'i', 'p', 'N', 0, 0, 0, "-", ""},
    {"text", 'b', 'i', 'x', 'S', 0, 100, 1, "-", ""},
    {"oid", 'b', 'i', 'p', 'N', 0, 0, 1, "-", ""},
    {"oidvector", 'b', 'i', 'p', 'A', 26, 0, 0, "array_subscript_handler", ""},
    {"json", 'b', 'i', 'x', 'U', 0, 0, 0, "-", ""},
    {"float4", 'b', 'i', 'p', 'N', 0, 0, 0, "-", ""},
    {"float8", 'b', 'd', 'p', 'N', 0, 0, 1, "-", ""},
    {"unknown", 'p', 'c', 'p', 'X', 0, 0, 0, "-", ""},
    {"bpchar", 'b', 'i', 'x', 'S', 0, 100, 0, "-", "bpchar"},
    {"varchar", 'b', 'i', 'x', 'S', 0, 100, 0, "-", "varchar"},
    {"date", 'b', 'i', 'p', 'D', 0, 0, 0, "-", ""},
    {"time", 'b', 'd', 'p', 'D', 0, 0, 0, "-", "time"},
    {"timestamp", 'b', 'd', 'p', 'D', 0, 0, 0, "-", "timestamp"},
    {"timestamptz", 'b', 'd', 'p', 'D', 0, 0, 1, "-", "timestamptz"},
    {"interval", 'b', 'd', 'p', 'T', 0, 0, 1, "-", "interval"},
    {"timetz", 'b', 'd', 'p', 'D', 0, 0, 0, "-", "timetz"},
    {"numeric", 'b', 'i', 'm', 'N', 0, 0, 0, "-", "numeric"},
    {"regclass", 'b', 'i', 'p', 'N', 0, 0, 0, "-", ""},
    {"regtype", 'b', 'i', 'p', 'N', 0, 0, 0, "-", ""},
    {"regnamespace", 'b', 'i', 'p', 'N', 0, 0, 0, "-", ""},
    {"record", 'p', 'd', 'x', 'P', 0, 0, 0, "-", ""},
    {"_record", 'p', 'd', 'x', 'P', 2249, 0, 0, "array_subscript_handler", ""},
    {"void", 'p', 'i', 'p', 'P', 0, 0, 0, "-", ""},
    {"uuid", 'b', 'c', 'p', 'U', 0, 0, 0, "-", ""},
    {"jsonb", 'b', 'i', 'x', 'U', 0, 0, 0, "jsonb_subscript_handler", ""},
};

/* a built-in type's row above; every entry of tr_types but pgvector's
 * (which has its own pg_type rows) has one */
static const type_meta *type_meta_of(const char *name)
{
    for (size_t i = 0; i < sizeof type_metas / sizeof type_metas[0]; i++)
        if (!strcmp(type_metas[i].name, name)) return &type_metas[i];
    return NULL;
}

/* "-" or the typmod function STEMtypmodSUFFIX */
static void typmod_fn(char out[64], const char *stem, const char *suffix)
{
    if (*stem) snprintf(out, 64, "%stypmod%s", stem, suffix);
    else snprintf(out, 64, "-");
}

int wb_sql_register_catalog(sqlite3 *db)
{
    int rc = sqlite3_create_function_v2(db, "wb_decl_oid", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, f_decl_oid, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_decl_typmod", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, f_decl_typmod, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_decl_atttypid", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, db, f_decl_oid, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_decl_atttypmod", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, db, f_decl_typmod, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_regclass", 1, SQLITE_UTF8, NULL, f_regclass, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "to_regclass", 1, SQLITE_UTF8, (void *)1, f_regclass, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_get_expr", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, f_get_expr, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_get_expr", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, f_get_expr, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_get_indexdef", 1, SQLITE_UTF8, NULL, f_indexdef, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_get_indexdef", 3, SQLITE_UTF8, NULL, f_indexdef, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_get_constraintdef", 1, SQLITE_UTF8, NULL, f_constraintdef, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_get_constraintdef", 2, SQLITE_UTF8, NULL, f_constraintdef, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_regnamespace_name", 1, SQLITE_UTF8, NULL, f_regnamespace_name, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_relation_is_publishable", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, f_publishable, NULL, NULL, NULL);
    /* statistics objects cannot exist: the function is never reached with a row */
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_get_statisticsobjdef_columns", 1, SQLITE_UTF8, NULL, f_null1, NULL, NULL, NULL);
    /* pg_proc is empty: every function OID is unknown, NULL as PostgreSQL gives for those */
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_get_function_result", 1, SQLITE_UTF8, NULL, f_null1, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_get_function_arguments", 1, SQLITE_UTF8, NULL, f_null1, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_get_function_identity_arguments", 1, SQLITE_UTF8, NULL, f_null1, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_function_is_visible", 1, SQLITE_UTF8, NULL, f_null1, NULL, NULL, NULL);
    /* triggers cannot be created either (pg_trigger is empty) */
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_get_triggerdef", 1, SQLITE_UTF8, NULL, f_null1, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_get_triggerdef", 2, SQLITE_UTF8, NULL, f_null1, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_regclass_name", 1, SQLITE_UTF8, NULL, f_regclass_name, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_regtype_name", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, f_regtype_name, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_catalog_sequences", 0, SQLITE_UTF8, NULL, f_catalog_sequences, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_catalog_domains", 0, SQLITE_UTF8, NULL, f_catalog_domains, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_domain_name", 1, SQLITE_UTF8, NULL, f_domain_name, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_catalog_extensions", 0, SQLITE_UTF8, NULL, f_catalog_extensions, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_relation_size", 1, SQLITE_UTF8, NULL, f_relation_size, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_relation_size", 2, SQLITE_UTF8, NULL, f_relation_size, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_table_size", 1, SQLITE_UTF8, NULL, f_relation_size, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_total_relation_size", 1, SQLITE_UTF8, (void *)1, f_relation_size, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_view_def", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, f_view_def, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_get_viewdef", 1, SQLITE_UTF8, NULL, f_get_viewdef, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "pg_get_viewdef", 2, SQLITE_UTF8, NULL, f_get_viewdef, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_table_constraints", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, f_table_constraints, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_pg_default", 4, SQLITE_UTF8, NULL, f_pg_default, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_regtype", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, f_regtype, NULL, NULL, NULL);
    if (rc != SQLITE_OK) return rc;
    for (size_t i = 0; i < sizeof cat_rels / sizeof cat_rels[0]; i++) {
        if (!cat_rels[i].body) continue;
        rc = create_view(db, &cat_rels[i], cat_rels[i].body);
        if (rc != SQLITE_OK) return rc;
    }
    /* pg_type from the built-in type table */
    sqlite3_str *s = sqlite3_str_new(db);
    sqlite3_str_appendall(s, "VALUES ");
    int first = 1;
    for (int i = 0; i < tr_ntypes; i++) {
        const tr_type *t = &tr_types[i];
        if (t->oid == WB_PG_VECTOR_OID)
            continue; /* pgvector's own rows below */
        const type_meta *m = type_meta_of(t->name);
        assert(m);
        if (!m) continue;
        char io[4][64], modin[64], modout[64];
        type_io_names(t->name, io);
        typmod_fn(modin, m->typmod, "in");
        typmod_fn(modout, m->typmod, "out");
        sqlite3_str_appendf(s, "%s(%u, '%s', 11, 10, %d, %d, '%c', '%c', %d, 1, ',', 0, '%s', %u, %u, '%s', '%s', "
                               "'%s', '%s', '%s', '%s', '-', '%c', '%c', 0, 0, -1, 0, %u, NULL, NULL, NULL)",
                            first ? "" : ", ", t->oid, t->name, t->len, t->len > 0 && t->len <= 8, m->typtype,
                            m->category, m->preferred, m->subscript, m->elem, t->array_oid, io[0], io[1], io[2], io[3],
                            modin, modout, m->align, m->storage, m->collation);
        first = 0;
        if (t->array_oid) {
            const char *an;
            wb_sql_type_info(t->array_oid, &an, NULL, NULL, NULL);
            const type_meta *am = type_meta_of(an); /* a pseudo-type's array (_record) */
            sqlite3_str_appendf(s, ", (%u, '%s', 11, 10, -1, 0, '%c', '%c', 0, 1, ',', 0, 'array_subscript_handler', %u, 0, "
                                   "'array_in', 'array_out', 'array_recv', 'array_send', '%s', '%s', 'array_typanalyze', "
                                   "'%c', 'x', 0, 0, -1, 0, %u, NULL, NULL, NULL)",
                                t->array_oid, an, am ? am->typtype : 'b', am ? am->category : 'A', t->oid, modin, modout,
                                m->align == 'd' ? 'd' : 'i', m->collation);
        }
    }
    /* pgvector's type as CREATE EXTENSION vector makes it in public
     * (STORAGE = external, typmod = dimensions); the type table's entry
     * (translate_ddl.c) is the same OID */
    sqlite3_str_appendf(s, ", (%u, 'vector', 2200, 10, -1, 0, 'b', 'U', 0, 1, ',', 0, '-', 0, %u, 'vector_in', "
                               "'vector_out', 'vector_recv', 'vector_send', 'vector_typmod_in', '-', '-', 'i', 'e', 0, 0, "
                               "-1, 0, 0, NULL, NULL, NULL), "
                               "(%u, '_vector', 2200, 10, -1, 0, 'b', 'A', 0, 1, ',', 0, 'array_subscript_handler', %u, 0, "
                               "'array_in', 'array_out', 'array_recv', 'array_send', 'vector_typmod_in', '-', "
                               "'array_typanalyze', 'i', 'x', 0, 0, -1, 0, 0, NULL, NULL, NULL)",
                            WB_PG_VECTOR_OID, WB_PG_VECTOR_ARRAY_OID, WB_PG_VECTOR_ARRAY_OID, WB_PG_VECTOR_OID);
    char *body = sqlite3_str_finish(s);
    if (!body) return SQLITE_NOMEM;
    static const cat_rel builtin = {"wb_pg_type_builtin", c_type, NULL};
    rc = create_view(db, &builtin, body);
    sqlite3_free(body);
    if (rc != SQLITE_OK) return rc;
    /* CREATE DOMAIN's domains (wb_domains) after the built-in types, as
     * PostgreSQL makes them: typtype 'd', the base type's storage and
     * output/send functions, domain_in/domain_recv, typarray 0 (no array
     * type over a domain). DISTINCT (the rows are distinct anyway) keeps
     * SQLite from flattening this UNION ALL into a caller's join (the
     * SQLite 3.40 bug at pg_class). */
    return create_view(db, cat_find("pg_type"),
                       "SELECT * FROM wb_pg_type_builtin UNION ALL SELECT DISTINCT "
                       TR_DOMAIN_OID_BASE_SQL " + (j.value->>0), j.value->>1, 2200, 10, b.typlen, b.typbyval, 'd', "
                       "b.typcategory, 0, 1, ',', 0, '-', 0, 0, 'domain_in', b.typoutput, 'domain_recv', b.typsend, '-', '-', "
                       "'-', b.typalign, b.typstorage, j.value->>4, b.oid, j.value->>3, 0, b.typcollation, NULL, j.value->>5, NULL "
                       "FROM json_each(wb_catalog_domains()) j JOIN wb_pg_type_builtin b ON b.oid = j.value->>2");
}
