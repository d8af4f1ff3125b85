/* src/engine/translate_catalog.c - a first slice of pg_catalog: the
 * relations the clients' startup probes read (psql, pgbench's partition
 * probe, asyncpg/pgjdbc type lookups by OID), as TEMP views built from the
 * live SQLite schema (sqlite_schema, pragma_table_info) on each connection.
 * Issue 11 extends this table of views; every view is one entry below.
 *
 * OIDs: built-in types keep PostgreSQL's; pg_catalog is 11, public 2200;
 * a user relation is 16384 + its sqlite_schema rowid (stable until the
 * table is rebuilt). */
#include "translate_internal.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void f_decl_oid(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    uint32_t oid; int32_t tm;
    wb_sql_decltype_to_pg((const char *)sqlite3_value_text(a[0]), &oid, &tm);
    sqlite3_result_int64(c, oid ? oid : OID_TEXT);
}
static void f_decl_typmod(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    uint32_t oid; int32_t tm;
    wb_sql_decltype_to_pg((const char *)sqlite3_value_text(a[0]), &oid, &tm);
    sqlite3_result_int(c, tm);
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
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT oid FROM pg_class WHERE relname = ?1", -1, &st, NULL) != SQLITE_OK) {
        sqlite3_result_error(c, sqlite3_errmsg(db), -1);
        return;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) sqlite3_result_int64(c, sqlite3_column_int64(st, 0));
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
    uint32_t oid = wb_sql_type_oid((const char *)sqlite3_value_text(a[0]));
    if (!oid) {
        char msg[300];
        snprintf(msg, sizeof msg, "42704 type \"%s\" does not exist", (const char *)sqlite3_value_text(a[0]));
        sqlite3_result_error(c, msg, -1);
        return;
    }
    sqlite3_result_int64(c, oid);
}

static const char *const views[] = {
    "CREATE TEMP VIEW IF NOT EXISTS pg_namespace (oid, nspname, nspowner, nspacl) AS "
    "VALUES (11, 'pg_catalog', 10, NULL), (2200, 'public', 10, NULL), (99, 'pg_toast', 10, NULL), "
    "(13000, 'information_schema', 10, NULL)",

    "CREATE TEMP VIEW IF NOT EXISTS pg_class (oid, relname, relnamespace, reltype, relowner, relam, "
    "relfilenode, reltablespace, relpages, reltuples, relallvisible, reltoastrelid, relhasindex, "
    "relisshared, relpersistence, relkind, relnatts, relchecks, relhasrules, relhastriggers, "
    "relhassubclass, relrowsecurity, relforcerowsecurity, relispopulated, relreplident, relispartition, "
    "relrewrite, relfrozenxid, relminmxid, relacl, reloptions, relpartbound) AS "
    "SELECT 16384 + s.rowid, s.name, 2200, 0, 10, CASE s.type WHEN 'index' THEN 403 WHEN 'table' THEN 2 ELSE 0 END, "
    "16384 + s.rowid, 0, 0, -1, 0, 0, "
    "EXISTS (SELECT 1 FROM sqlite_schema i WHERE i.type = 'index' AND i.tbl_name = s.name), 0, 'p', "
    "CASE s.type WHEN 'table' THEN 'r' WHEN 'view' THEN 'v' ELSE 'i' END, "
    "(SELECT count(*) FROM pragma_table_info(s.name)), 0, 0, 0, 0, 0, 0, 1, 'd', 0, 0, 0, 0, NULL, NULL, NULL "
    "FROM sqlite_schema s WHERE s.type IN ('table', 'view', 'index') AND s.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
    "AND s.name NOT LIKE 'wb\\_%' ESCAPE '\\'",

    "CREATE TEMP VIEW IF NOT EXISTS pg_attribute (attrelid, attname, atttypid, attstattarget, attlen, attnum, "
    "attndims, attcacheoff, atttypmod, attbyval, attalign, attstorage, attcompression, attnotnull, atthasdef, "
    "atthasmissing, attidentity, attgenerated, attisdropped, attislocal, attinhcount, attcollation) AS "
    "SELECT c.oid, p.name, wb_decl_oid(p.type), -1, -1, p.cid + 1, 0, -1, wb_decl_typmod(p.type), 0, 'i', 'x', '', "
    "p.\"notnull\", p.dflt_value IS NOT NULL, 0, '', '', 0, 1, 0, 0 "
    "FROM pg_class c, pragma_table_info(c.relname) p WHERE c.relkind IN ('r', 'v')",

    "CREATE TEMP VIEW IF NOT EXISTS pg_partitioned_table (partrelid, partstrat, partnatts, partdefid, "
    "partattrs, partclass, partcollation, partexprs) AS SELECT 0, 'h', 0, 0, NULL, NULL, NULL, NULL WHERE 0",

    "CREATE TEMP VIEW IF NOT EXISTS pg_inherits (inhrelid, inhparent, inhseqno, inhdetachpending) AS "
    "SELECT 0, 0, 0, 0 WHERE 0",

    "CREATE TEMP VIEW IF NOT EXISTS pg_database (oid, datname, datdba, encoding, datlocprovider, "
    "datistemplate, datallowconn, datconnlimit, datcollate, datctype, datacl) AS "
    "VALUES (5, current_database(), 10, 6, 'c', 0, 1, -1, 'C.UTF-8', 'C.UTF-8', NULL)",

    "CREATE TEMP VIEW IF NOT EXISTS pg_roles (oid, rolname, rolsuper, rolinherit, rolcreaterole, "
    "rolcreatedb, rolcanlogin, rolreplication, rolconnlimit, rolvaliduntil, rolbypassrls) AS "
    "VALUES (10, current_user(), 1, 1, 1, 1, 1, 1, -1, NULL, 1)",
};

int wb_sql_register_catalog(sqlite3 *db)
{
    int rc = sqlite3_create_function_v2(db, "wb_decl_oid", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, f_decl_oid, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_decl_typmod", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, f_decl_typmod, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_regclass", 1, SQLITE_UTF8, NULL, f_regclass, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "to_regclass", 1, SQLITE_UTF8, NULL, f_regclass, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_regtype", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL, f_regtype, NULL, NULL, NULL);
    if (rc != SQLITE_OK) return rc;
    for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
        rc = sqlite3_exec(db, views[i], NULL, NULL, NULL);
        if (rc != SQLITE_OK) return rc;
    }
    /* pg_type from the built-in type table */
    sqlite3_str *s = sqlite3_str_new(db);
    sqlite3_str_appendall(s, "CREATE TEMP VIEW IF NOT EXISTS pg_type (oid, typname, typnamespace, typowner, typlen, "
                             "typbyval, typtype, typcategory, typispreferred, typisdefined, typdelim, typrelid, "
                             "typsubscript, typelem, typarray, typinput, typoutput, typreceive, typsend, typmodin, "
                             "typmodout, typanalyze, typalign, typstorage, typnotnull, typbasetype, typtypmod, "
                             "typndims, typcollation, typdefaultbin, typdefault, typacl) AS VALUES ");
    int first = 1;
    for (int i = 0; i < tr_ntypes; i++) {
        const tr_type *t = &tr_types[i];
        sqlite3_str_appendf(s, "%s(%u, '%s', 11, 10, %d, %d, '%c', '%c', 0, 1, ',', 0, '-', 0, %u, '%sin', '%sout', "
                               "'%srecv', '%ssend', '-', '-', '-', 'i', 'p', 0, 0, -1, 0, 0, NULL, NULL, NULL)",
                            first ? "" : ", ", t->oid, t->name, t->len, t->len > 0 && t->len <= 8, t->category == 'P' ? 'p' : 'b',
                            t->category, t->array_oid, t->name, t->name, t->name, t->name);
        first = 0;
        if (t->array_oid) {
            const char *an;
            wb_sql_type_info(t->array_oid, &an, NULL, NULL, NULL);
            sqlite3_str_appendf(s, ", (%u, '%s', 11, 10, -1, 0, 'b', 'A', 0, 1, ',', 0, 'array_subscript_handler', %u, 0, "
                                   "'array_in', 'array_out', 'array_recv', 'array_send', '-', '-', '-', 'i', 'x', 0, 0, -1, "
                                   "0, 0, NULL, NULL, NULL)",
                                t->array_oid, an, t->oid);
        }
    }
    char *sql = sqlite3_str_finish(s);
    if (!sql) return SQLITE_NOMEM;
    rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    sqlite3_free(sql);
    return rc;
}
