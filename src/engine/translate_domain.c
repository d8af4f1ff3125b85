/* src/engine/translate_domain.c - CREATE DOMAIN types in use: the column
 * declaration that names a domain, and the SQL functions that apply a
 * domain's DEFAULT, NOT NULL and CHECK (PostgreSQL 15 docs "CREATE
 * DOMAIN"; the domains themselves are rows of wb_domains, written by
 * translate_ddl.c create_domain, listed by translate_catalog.c).
 *
 * A value of a domain is stored as its base type. The translator calls
 *   wb_domain_ok(value, domain_oid)       in a column's CHECK: 1, or the error
 *   wb_domain_check(value, domain_oid)    for x::domain: value, or the error
 *   wb_domain_default(domain_oid)         in a column's DEFAULT: the value
 * with PostgreSQL's errors: 23502 "domain D does not allow null values",
 * 23514 "value for domain D violates check constraint "C"" (the
 * "SQLSTATE message" form wb_sql_sqlite_error splits).
 *
 * The domain's row is read once per statement execution: it is kept as
 * SQLite auxiliary data on the constant OID argument (sqlite3_set_auxdata),
 * with the CHECK expression prepared once. No global state. */
#include "translate_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

uint32_t wb_sql_decltype_domain(const char *decl)
{
    if (!decl) return 0;
    for (const char *p = strstr(decl, "wbdomain"); p; p = strstr(p + 1, "wbdomain")) {
        if (p > decl && p[-1] != ' ') continue;
        char *e;
        unsigned long v = strtoul(p + 8, &e, 10);
        if (e != p + 8 && (*e == 0 || *e == ' ' || *e == '(') && WB_SQL_IS_DOMAIN_OID(v)) return (uint32_t)v;
    }
    return 0;
}

int wb_sql_domain_lookup(sqlite3 *db, const char *name, uint32_t oid, wb_sql_domain *out)
{
    sqlite3_stmt *st;
    int found = 0;
    if (!name && !WB_SQL_IS_DOMAIN_OID(oid)) return 0;
    if (sqlite3_prepare_v2(db,
                           name ? "SELECT rowid, base_oid, typmod, not_null, default_sql IS NOT NULL, check_sql IS NOT NULL "
                                  "FROM wb_domains WHERE name = ?1"
                                : "SELECT rowid, base_oid, typmod, not_null, default_sql IS NOT NULL, check_sql IS NOT NULL "
                                  "FROM wb_domains WHERE rowid = ?1",
                           -1, &st, NULL) != SQLITE_OK)
        return 0; /* no wb_domains: no domain was ever created */
    if (name) sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    else sqlite3_bind_int64(st, 1, (sqlite3_int64)(oid - WB_SQL_DOMAIN_OID_MIN));
    if (sqlite3_step(st) == SQLITE_ROW) {
        out->oid = WB_SQL_DOMAIN_OID_MIN + (uint32_t)sqlite3_column_int64(st, 0);
        out->base_oid = (uint32_t)sqlite3_column_int64(st, 1);
        out->base_typmod = sqlite3_column_int(st, 2);
        out->not_null = sqlite3_column_int(st, 3);
        out->has_default = sqlite3_column_int(st, 4);
        out->has_check = sqlite3_column_int(st, 5);
        found = 1;
    }
    sqlite3_finalize(st);
    return found;
}

/* a domain's row, for the statement being run */
typedef struct dom_state {
    int not_null;
    char *name, *check_name;  /* sqlite3_malloc'd */
    sqlite3_stmt *check;      /* SELECT (the CHECK with VALUE as ?1), NULL when none */
} dom_state;

static void dom_state_free(void *p)
{
    dom_state *d = p;
    if (!d) return;
    sqlite3_finalize(d->check);
    sqlite3_free(d->name);
    sqlite3_free(d->check_name);
    sqlite3_free(d);
}

/* the CHECK text as translate_ddl.c stores it (the translator's SQLite
 * SQL, the value written as the bare word VALUE) as "SELECT (...)" with
 * VALUE replaced by ?1 outside string literals and quoted identifiers */
static char *check_query(const char *check)
{
    sqlite3_str *o = sqlite3_str_new(NULL);
    sqlite3_str_appendall(o, "SELECT (");
    for (const char *p = check; *p;) {
        if (*p == '\'' || *p == '"') {
            char q = *p;
            const char *e = p + 1;
            while (*e && !(*e == q && e[1] != q)) e += *e == q ? 2 : 1;
            if (*e) e++;
            sqlite3_str_append(o, p, (int)(e - p));
            p = e;
            continue;
        }
        int at_word = p == check || !(isalnum((unsigned char)p[-1]) || p[-1] == '_');
        if (at_word && !strncmp(p, "VALUE", 5) && !(isalnum((unsigned char)p[5]) || p[5] == '_')) {
            sqlite3_str_appendall(o, "?1");
            p += 5;
            continue;
        }
        sqlite3_str_appendchar(o, 1, *p++);
    }
    sqlite3_str_appendchar(o, 1, ')');
    return sqlite3_str_finish(o);
}

/* the state for the OID in argument i: the auxdata kept from an earlier
 * row, else loaded (*fresh = 1: the caller hands it to sqlite3_set_auxdata
 * when done with it, as SQLite may free it inside that call); NULL with
 * the error set on c */
static dom_state *dom_get(sqlite3_context *c, sqlite3_value **a, int i, int *fresh)
{
    *fresh = 0;
    dom_state *d = sqlite3_get_auxdata(c, i);
    if (d) return d;
    sqlite3 *db = sqlite3_context_db_handle(c);
    sqlite3_int64 oid = sqlite3_value_int64(a[i]);
    sqlite3_stmt *st = NULL;
    char msg[300];
    if (!WB_SQL_IS_DOMAIN_OID(oid) ||
        sqlite3_prepare_v2(db, "SELECT name, not_null, check_name, check_sql FROM wb_domains WHERE rowid = ?1", -1, &st,
                           NULL) != SQLITE_OK) {
        snprintf(msg, sizeof msg, "42704 cache lookup failed for type %lld", (long long)oid);
        sqlite3_result_error(c, msg, -1);
        return NULL;
    }
    sqlite3_bind_int64(st, 1, oid - WB_SQL_DOMAIN_OID_MIN);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        snprintf(msg, sizeof msg, "42704 cache lookup failed for type %lld", (long long)oid);
        sqlite3_result_error(c, msg, -1);
        return NULL;
    }
    d = sqlite3_malloc(sizeof *d);
    if (!d) { sqlite3_finalize(st); sqlite3_result_error_nomem(c); return NULL; }
    memset(d, 0, sizeof *d);
    d->name = sqlite3_mprintf("%s", (const char *)sqlite3_column_text(st, 0));
    d->not_null = sqlite3_column_int(st, 1);
    d->check_name = sqlite3_mprintf("%s", sqlite3_column_type(st, 2) == SQLITE_NULL ? "" : (const char *)sqlite3_column_text(st, 2));
    char *q = sqlite3_column_type(st, 3) == SQLITE_NULL ? NULL : check_query((const char *)sqlite3_column_text(st, 3));
    sqlite3_finalize(st);
    int rc = q ? sqlite3_prepare_v2(db, q, -1, &d->check, NULL) : SQLITE_OK;
    sqlite3_free(q);
    if (!d->name || !d->check_name || rc != SQLITE_OK) {
        snprintf(msg, sizeof msg, "XX000 domain %s: its CHECK cannot be evaluated: %s", d->name ? d->name : "?",
                 rc != SQLITE_OK ? sqlite3_errmsg(db) : "out of memory");
        dom_state_free(d);
        sqlite3_result_error(c, msg, -1);
        return NULL;
    }
    *fresh = 1;
    return d;
}

/* 0 when v satisfies the domain, else -1 with the error set on c */
static int dom_test(sqlite3_context *c, dom_state *d, sqlite3_value *v)
{
    char msg[400];
    if (d->not_null && sqlite3_value_type(v) == SQLITE_NULL) {
        snprintf(msg, sizeof msg, "23502 domain %s does not allow null values", d->name);
        sqlite3_result_error(c, msg, -1);
        return -1;
    }
    if (!d->check) return 0;
    sqlite3_reset(d->check);
    sqlite3_bind_value(d->check, 1, v);
    int rc = sqlite3_step(d->check);
    int bad = 0;
    if (rc == SQLITE_ROW) bad = sqlite3_column_type(d->check, 0) != SQLITE_NULL && sqlite3_column_int64(d->check, 0) == 0;
    else {
        /* the CHECK itself failed (a function's error): that error */
        snprintf(msg, sizeof msg, "%s", sqlite3_errmsg(sqlite3_db_handle(d->check)));
        sqlite3_reset(d->check);
        sqlite3_result_error(c, msg, -1);
        return -1;
    }
    sqlite3_reset(d->check);
    if (bad) {
        snprintf(msg, sizeof msg, "23514 value for domain %s violates check constraint \"%s\"", d->name, d->check_name);
        sqlite3_result_error(c, msg, -1);
        return -1;
    }
    return 0;
}

/* wb_domain_ok (returns 1) and wb_domain_check (returns the value) */
static void f_domain_apply(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    int fresh;
    dom_state *d = dom_get(c, a, 1, &fresh);
    if (!d) return; /* the error is set */
    if (dom_test(c, d, a[0]) == 0) {
        if (sqlite3_user_data(c)) sqlite3_result_value(c, a[0]);
        else sqlite3_result_int(c, 1);
    }
    if (fresh) sqlite3_set_auxdata(c, 1, d, dom_state_free); /* d is not used after this */
}

/* wb_domain_default(oid): the domain's DEFAULT (its SQLite expression,
 * evaluated now: nextval() and now() as in a column default) */
static void f_domain_default(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    sqlite3 *db = sqlite3_context_db_handle(c);
    sqlite3_int64 oid = sqlite3_value_int64(a[0]);
    sqlite3_stmt *st = NULL;
    char msg[300];
    if (sqlite3_prepare_v2(db, "SELECT default_sql FROM wb_domains WHERE rowid = ?1", -1, &st, NULL) != SQLITE_OK) {
        sqlite3_result_error(c, sqlite3_errmsg(db), -1);
        return;
    }
    sqlite3_bind_int64(st, 1, oid - WB_SQL_DOMAIN_OID_MIN);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        snprintf(msg, sizeof msg, "42704 cache lookup failed for type %lld", (long long)oid);
        sqlite3_result_error(c, msg, -1);
        return;
    }
    if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
        sqlite3_finalize(st);
        sqlite3_result_null(c);
        return;
    }
    char *q = sqlite3_mprintf("SELECT (%s)", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (!q) { sqlite3_result_error_nomem(c); return; }
    int rc = sqlite3_prepare_v2(db, q, -1, &st, NULL);
    sqlite3_free(q);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) sqlite3_result_value(c, sqlite3_column_value(st, 0));
    else sqlite3_result_error(c, sqlite3_errmsg(db), -1);
    sqlite3_finalize(st);
}

int wb_sql_register_domain(sqlite3 *db)
{
    /* deterministic: SQLite allows them in CHECK constraints; the answer
     * depends only on the arguments while the domain exists (DROP DOMAIN
     * is refused while a column uses it) */
    const int det = SQLITE_UTF8 | SQLITE_DETERMINISTIC;
    int rc = sqlite3_create_function_v2(db, "wb_domain_ok", 2, det, NULL, f_domain_apply, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function_v2(db, "wb_domain_check", 2, det, db /* non-NULL: return the value */, f_domain_apply, NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function_v2(db, "wb_domain_default", 1, SQLITE_UTF8, NULL, f_domain_default, NULL, NULL, NULL);
    return rc;
}
