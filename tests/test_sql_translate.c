/* tests/test_sql_translate.c - wb_sql_translate against an in-memory
 * SQLite database with wb_sql_register: statements in PostgreSQL's
 * dialect, their SQLite SQL run, and the results, command tags, parameter
 * OIDs, column names/types and errors (SQLSTATE, position) checked. The
 * schema callbacks read the live SQLite schema, as the engine's do. */
#include "translate.h"
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int failures, checks;
#define CHECK(cond, ...) do { checks++; if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } } while (0)

static sqlite3 *db;

/* ---- the schema from SQLite, as the engine answers it ---- */
/* the declared type of table.column into decl; 1 found / 0 not */
static int col_decl(const char *table, const char *column, char *decl, size_t size)
{
    sqlite3_stmt *st;
    int found = 0;
    if (sqlite3_prepare_v2(db, "SELECT type FROM pragma_table_info(?1) WHERE name = ?2", -1, &st, NULL) != SQLITE_OK) return 0;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
        found = 1;
        const char *t = (const char *)sqlite3_column_text(st, 0);
        snprintf(decl, size, "%s", t ? t : "");
    }
    sqlite3_finalize(st);
    return found;
}

static int col_type(void *ctx, const char *table, const char *column, uint32_t *oid, int32_t *typmod)
{
    (void)ctx;
    char decl[256];
    if (!col_decl(table, column, decl, sizeof decl)) return 0;
    wb_sql_decltype_to_pg(decl, oid, typmod);
    return 1;
}

static int table_cols(void *ctx, const char *table, char ***names, uint32_t **oids, int32_t **typmods, int *n)
{
    (void)ctx;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT name, type FROM pragma_table_info(?1) ORDER BY cid", -1, &st, NULL) != SQLITE_OK) return 0;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    int cap = 16, k = 0;
    *names = malloc((size_t)cap * sizeof **names);
    *oids = malloc((size_t)cap * sizeof **oids);
    *typmods = malloc((size_t)cap * sizeof **typmods);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (k == cap) {
            cap *= 2;
            *names = realloc(*names, (size_t)cap * sizeof **names);
            *oids = realloc(*oids, (size_t)cap * sizeof **oids);
            *typmods = realloc(*typmods, (size_t)cap * sizeof **typmods);
        }
        (*names)[k] = strdup((const char *)sqlite3_column_text(st, 0));
        wb_sql_decltype_to_pg((const char *)sqlite3_column_text(st, 1), &(*oids)[k], &(*typmods)[k]);
        k++;
    }
    sqlite3_finalize(st);
    *n = k;
    if (!k) { free(*names); free(*oids); free(*typmods); *names = NULL; *oids = NULL; *typmods = NULL; }
    return k > 0;
}

static int table_oid(void *ctx, const char *table, uint32_t *oid)
{
    (void)ctx;
    sqlite3_stmt *st;
    *oid = 0;
    /* pg_class.oid is 16384 + the sqlite_schema rowid (translate_catalog.c) */
    if (sqlite3_prepare_v2(db, "SELECT 16384 + rowid FROM sqlite_schema WHERE name = ?1 AND type IN ('table', 'view')", -1, &st, NULL) != SQLITE_OK) return 0;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) *oid = (uint32_t)sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return *oid != 0;
}

static int table_ddl(void *ctx, const char *table, char **create, char ***idx, int *nidx)
{
    (void)ctx;
    sqlite3_stmt *st;
    *create = NULL; *idx = NULL; *nidx = 0;
    if (sqlite3_prepare_v2(db, "SELECT type, sql FROM sqlite_schema WHERE tbl_name = ?1 AND sql IS NOT NULL", -1, &st, NULL) != SQLITE_OK) return 0;
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    *idx = calloc(16, sizeof **idx);
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 0), *sql = (const char *)sqlite3_column_text(st, 1);
        if (!strcmp(type, "table")) *create = strdup(sql);
        else if (*nidx < 16) (*idx)[(*nidx)++] = strdup(sql);
    }
    sqlite3_finalize(st);
    return *create != NULL;
}

/* CREATE DOMAIN's domains, from wb_domains as the engine reads them */
static int domain(void *ctx, const char *name, wb_sql_domain *out) { (void)ctx; return wb_sql_domain_lookup(db, name, 0, out); }
static int domain_by_oid(void *ctx, uint32_t oid, wb_sql_domain *out) { (void)ctx; return wb_sql_domain_lookup(db, NULL, oid, out); }
static uint32_t column_domain(void *ctx, const char *table, const char *column)
{
    (void)ctx;
    char decl[256];
    return col_decl(table, column, decl, sizeof decl) ? wb_sql_decltype_domain(decl) : 0;
}

static wb_sql_schema schema = {.column_type = col_type, .table_columns = table_cols, .table_oid = table_oid,
                               .table_ddl = table_ddl, .domain = domain, .column_domain = column_domain,
                               .domain_by_oid = domain_by_oid};

/* ---- helpers ---- */

/* run a statement's SQLite SQL with text parameters; the last statement's
 * rows are rendered "a|b;c|d" into out; returns the SQLite error message
 * (static) or NULL */
static const char *run(const wb_sql_stmt *s, const char *const *params, int nparams, char *out, size_t outsz)
{
    static char errbuf[512];
    out[0] = 0;
    size_t o = 0;
    for (int i = 0; i < s->nsqlite; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, s->sqlite[i], -1, &st, NULL) != SQLITE_OK) {
            snprintf(errbuf, sizeof errbuf, "%s [%s]", sqlite3_errmsg(db), s->sqlite[i]);
            return errbuf;
        }
        for (int p = 0; p < nparams; p++)
            if (params[p]) sqlite3_bind_text(st, p + 1, params[p], -1, SQLITE_STATIC);
        if (s->nlits && wb_sql_bind_literals(st, s) != SQLITE_OK) {
            snprintf(errbuf, sizeof errbuf, "binding literals: %s", sqlite3_errmsg(db));
            sqlite3_finalize(st);
            return errbuf;
        }
        int rc, row = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (i != s->nsqlite - 1) continue;
            if (row++ && o + 1 < outsz) out[o++] = ';';
            for (int c = 0; c < sqlite3_column_count(st); c++) {
                const char *v = (const char *)sqlite3_column_text(st, c);
                o += (size_t)snprintf(out + o, outsz - o, "%s%s", c ? "|" : "", v ? v : "NULL");
                if (o >= outsz) o = outsz - 1;
            }
        }
        if (rc != SQLITE_DONE) {
            snprintf(errbuf, sizeof errbuf, "%s", sqlite3_errmsg(db));
            sqlite3_finalize(st);
            return errbuf;
        }
        sqlite3_finalize(st);
    }
    return NULL;
}

/* translate one statement and run it; expect rows (NULL: don't check) */
static wb_sql_stmt *tr1(const char *sql, wb_sql_list *l)
{
    wb_sql_error e;
    if (wb_sql_translate(sql, NULL, 0, &schema, l, &e) != 0) {
        CHECK(0, "translate failed: %s: %s %s (pos %d)", sql, e.sqlstate, e.message, e.position);
        return NULL;
    }
    CHECK(l->n == 1, "one statement expected: %s", sql);
    return l->n ? l->stmts[0] : NULL;
}

static void expect(const char *sql, const char *tag, const char *rows)
{
    wb_sql_list l;
    wb_sql_stmt *s = tr1(sql, &l);
    if (!s) return;
    CHECK(s->tag && !strcmp(s->tag, tag), "%s: tag %s, want %s", sql, s->tag ? s->tag : "(null)", tag);
    char out[4096];
    const char *err = run(s, NULL, 0, out, sizeof out);
    CHECK(!err, "%s: %s (sqlite: %s)", sql, err ? err : "", s->nsqlite ? s->sqlite[s->nsqlite - 1] : "");
    if (!err && rows) CHECK(!strcmp(out, rows), "%s:\n  got  %s\n  want %s\n  sql  %s", sql, out, rows, s->sqlite[s->nsqlite - 1]);
    wb_sql_list_free(&l);
}

static void expect_p(const char *sql, const char *const *params, int np, const char *rows)
{
    wb_sql_list l;
    wb_sql_stmt *s = tr1(sql, &l);
    if (!s) return;
    char out[4096];
    const char *err = run(s, params, np, out, sizeof out);
    CHECK(!err, "%s: %s", sql, err ? err : "");
    if (!err && rows) CHECK(!strcmp(out, rows), "%s:\n  got  %s\n  want %s\n  sql  %s", sql, out, rows, s->sqlite[s->nsqlite - 1]);
    wb_sql_list_free(&l);
}

static void expect_run_error(const char *sql, const char *sqlstate)
{
    wb_sql_list l;
    wb_sql_stmt *s = tr1(sql, &l);
    if (!s) return;
    char out[256];
    const char *err = run(s, NULL, 0, out, sizeof out);
    CHECK(err != NULL, "%s: no error, want %s", sql, sqlstate);
    if (err) {
        char st[6]; const char *msg;
        int has = wb_sql_sqlite_error(err, st, &msg);
        if (*sqlstate) CHECK(has && !strcmp(st, sqlstate), "%s: error %s, want %s", sql, err, sqlstate);
    }
    wb_sql_list_free(&l);
}

static void expect_error(const char *sql, const char *sqlstate, int position, const char *msg_part)
{
    wb_sql_list l;
    wb_sql_error e;
    int rc = wb_sql_translate(sql, NULL, 0, &schema, &l, &e);
    CHECK(rc != 0, "%s: translated, want error %s", sql, sqlstate);
    if (rc == 0) { wb_sql_list_free(&l); return; }
    CHECK(!strcmp(e.sqlstate, sqlstate), "%s: sqlstate %s (%s), want %s", sql, e.sqlstate, e.message, sqlstate);
    if (position >= 0) CHECK(e.position == position, "%s: position %d, want %d", sql, e.position, position);
    if (msg_part) CHECK(strstr(e.message, msg_part) != NULL, "%s: message \"%s\" lacks \"%s\"", sql, e.message, msg_part);
}

static void expect_cols(const char *sql, int n, const char *const *names, const uint32_t *oids)
{
    wb_sql_list l;
    wb_sql_stmt *s = tr1(sql, &l);
    if (!s) return;
    CHECK(s->returns_rows, "%s: returns_rows", sql);
    CHECK(s->ncols == n, "%s: %d columns, want %d", sql, s->ncols, n);
    for (int i = 0; i < n && i < s->ncols; i++) {
        CHECK(!strcmp(s->cols[i].name, names[i]), "%s: column %d named %s, want %s", sql, i, s->cols[i].name, names[i]);
        CHECK(s->cols[i].type_oid == oids[i], "%s: column %d (%s) type %u, want %u", sql, i, names[i], s->cols[i].type_oid, oids[i]);
    }
    wb_sql_list_free(&l);
}

static void expect_params(const char *sql, int n, const uint32_t *oids)
{
    wb_sql_list l;
    wb_sql_stmt *s = tr1(sql, &l);
    if (!s) return;
    CHECK(s->nparams == n, "%s: %d params, want %d", sql, s->nparams, n);
    for (int i = 0; i < n && i < s->nparams; i++)
        CHECK(s->param_oids[i] == oids[i], "%s: $%d type %u, want %u", sql, i + 1, s->param_oids[i], oids[i]);
    wb_sql_list_free(&l);
}

static void expect_kind(const char *sql, wb_sql_kind kind, const char *tag, const char *name, const char *value)
{
    wb_sql_list l;
    wb_sql_stmt *s = tr1(sql, &l);
    if (!s) return;
    CHECK(s->kind == kind, "%s: kind %d, want %d", sql, s->kind, kind);
    CHECK(s->tag && !strcmp(s->tag, tag), "%s: tag %s, want %s", sql, s->tag ? s->tag : "(null)", tag);
    if (name) CHECK(s->name && !strcmp(s->name, name), "%s: name %s, want %s", sql, s->name ? s->name : "(null)", name);
    if (value) CHECK(s->value && !strcmp(s->value, value), "%s: value %s, want %s", sql, s->value ? s->value : "(null)", value);
    wb_sql_list_free(&l);
}

/* ---- the tests ---- */

/* CREATE DOMAIN types used by columns, casts and parameters */
static void test_domains(void)
{
    expect("CREATE DOMAIN posint AS int4 DEFAULT 3 NOT NULL CONSTRAINT posint_pos CHECK (VALUE > 0)", "CREATE DOMAIN", NULL);
    expect("CREATE DOMAIN short AS varchar(10) CHECK (length(VALUE) < 4)", "CREATE DOMAIN", NULL);
    expect("CREATE DOMAIN plain AS numeric(6,2)", "CREATE DOMAIN", NULL);
    expect("CREATE TABLE dom (a posint, b short, c plain, d posint DEFAULT 9)", "CREATE TABLE", NULL);
    /* the declaration keeps the domain, storage and the base type unchanged */
    {
        sqlite3_stmt *st;
        char got[512] = "";
        size_t n = 0;
        if (sqlite3_prepare_v2(db, "SELECT type FROM pragma_table_info('dom') ORDER BY cid", -1, &st, NULL) == SQLITE_OK) {
            while (sqlite3_step(st) == SQLITE_ROW && n < sizeof got)
                n += (size_t)snprintf(got + n, sizeof got - n, "%s;", (const char *)sqlite3_column_text(st, 0));
            sqlite3_finalize(st);
        }
        CHECK(!strcmp(got, "int4 wbdomain1600000001;varchar wbdomain1600000002(10);numeric text wbdomain1600000003(6,2);"
                           "int4 wbdomain1600000001;"), "domain column declarations: %s", got);
    }
    CHECK(wb_sql_decltype_domain("numeric text wbdomain1600000003(6,2)") == 1600000003u, "decltype domain");
    CHECK(wb_sql_decltype_domain("int4") == 0 && wb_sql_decltype_domain(NULL) == 0 &&
              wb_sql_decltype_domain("int4 wbdomain12") == 0, "decltype without a domain");
    uint32_t oid; int32_t tm;
    CHECK(wb_sql_decltype_to_pg("numeric text wbdomain1600000003(6,2)", &oid, &tm) && oid == 1700 && tm == ((6 << 16) | 2) + 4,
          "base type of a domain column: %u %d", oid, tm);
    expect("INSERT INTO dom (b, c) VALUES ('abc', 1.005)", "INSERT", NULL);
    expect("SELECT a, b, c, d FROM dom", "SELECT", "3|abc|1.01|9");
    expect_run_error("INSERT INTO dom (a) VALUES (0)", "23514");
    expect_run_error("INSERT INTO dom (a) VALUES (NULL)", "23502");
    expect_run_error("INSERT INTO dom (b) VALUES ('abcd')", "23514");
    expect_run_error("UPDATE dom SET a = -1", "23514");
    expect("SELECT 5::posint, CAST('ab' AS short), 1.5::plain", "SELECT", "5|ab|1.50");
    expect_run_error("SELECT (-5)::posint", "23514");
    expect_run_error("SELECT NULL::posint", "23502");
    expect("SELECT NULL::short IS NULL", "SELECT", "1");
    expect_error("SELECT 1::posint(2)", "42601", -1, "type modifier is not allowed");
    expect_error("SELECT '{}'::posint[]", "0A000", -1, "arrays of domain");
    expect_error("CREATE DOMAIN pp AS posint", "0A000", -1, "domain over a domain");
    /* ParameterDescription: a parameter stored into a domain column is of the domain */
    expect_params("INSERT INTO dom (a, b, c) VALUES ($1, $2, $3)", 3, (const uint32_t[]){1600000001u, 1600000002u, 1600000003u});
    expect_params("UPDATE dom SET a = $1 WHERE b = $2", 2, (const uint32_t[]){1600000001u, 1043});
    expect_params("SELECT $1::posint", 1, (const uint32_t[]){1600000001u});
    /* a parameter declared of a domain (Parse) is checked where used */
    wb_sql_list l;
    wb_sql_error e;
    uint32_t given[1] = {1600000002u};
    CHECK(wb_sql_translate("SELECT $1 || '!'", given, 1, &schema, &l, &e) == 0 && l.n == 1, "given domain: %s", e.message);
    if (l.n == 1) {
        char out[64];
        const char *ok[1] = {"abc"}, *bad[1] = {"abcd"};
        const char *err = run(l.stmts[0], ok, 1, out, sizeof out);
        CHECK(!err && !strcmp(out, "abc!"), "given domain ok: %s %s", err ? err : "", out);
        err = run(l.stmts[0], bad, 1, out, sizeof out);
        CHECK(err && !strncmp(err, "23514", 5), "given domain checked: %s", err ? err : "no error");
        wb_sql_list_free(&l);
    }
    given[0] = 1600000099u;
    CHECK(wb_sql_translate("SELECT $1", given, 1, &schema, &l, &e) != 0 && !strcmp(e.sqlstate, "42704"), "unknown domain OID");
    /* DROP DOMAIN: refused while a column is of it */
    expect_run_error("DROP DOMAIN posint", "2BP01");
    expect_run_error("DROP DOMAIN posint CASCADE", "0A000");
    expect("DROP TABLE dom", "DROP TABLE", NULL);
    expect("DROP DOMAIN posint, short, plain", "DROP DOMAIN", NULL);
}

static void test_types(void)
{
    static const struct { const char *decl; uint32_t oid; int32_t typmod; } cases[] = {
        {"int4", 23, -1}, {"int8", 20, -1}, {"int2", 21, -1}, {"float8", 701, -1}, {"float4", 700, -1},
        {"numeric text(10,2)", 1700, (10 << 16 | 2) + 4}, {"numeric text", 1700, -1}, {"text", 25, -1},
        {"varchar(20)", 1043, 24}, {"bpchar(84)", 1042, 88}, {"bool int", 16, -1}, {"bytea blob", 17, -1},
        {"date text", 1082, -1}, {"timestamp text", 1114, -1}, {"timestamptz text", 1184, -1},
        {"timespan text", 1186, -1}, {"uuid text", 2950, -1}, {"jsonb text", 3802, -1}, {"json text", 114, -1},
        {"_int4", 1007, -1}, {"_text", 1009, -1}, {"INTEGER", 20, -1}, {"TEXT", 25, -1}, {"REAL", 700, -1},
        {"double precision", 701, -1}, {"character varying(5)", 1043, 9},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint32_t oid; int32_t tm;
        int ok = wb_sql_decltype_to_pg(cases[i].decl, &oid, &tm);
        CHECK(ok && oid == cases[i].oid && tm == cases[i].typmod, "decltype %s -> %u/%d, want %u/%d", cases[i].decl, oid, tm,
              cases[i].oid, cases[i].typmod);
    }
    CHECK(wb_sql_type_oid("integer") == 23 && wb_sql_type_oid("int4[]") == 1007 && wb_sql_type_oid("_text") == 1009,
          "type names");
    const char *nm; int16_t len; uint32_t elem, arr;
    CHECK(wb_sql_type_info(1007, &nm, &len, &elem, &arr) && !strcmp(nm, "_int4") && elem == 23, "type_info _int4");
    CHECK(wb_sql_type_info(1700, &nm, &len, &elem, &arr) && !strcmp(nm, "numeric") && arr == 1231, "type_info numeric");
}

static void test_basic(void)
{
    expect("CREATE TABLE items (id serial PRIMARY KEY, a int NOT NULL, b text, c numeric(10,2), d boolean, "
           "e timestamptz DEFAULT now(), f varchar(5)) WITH (fillfactor = 90)", "CREATE TABLE", NULL);
    expect("INSERT INTO items (a, b, c, d, f) VALUES (1, 'x', 1.5, true, 'ab'), (2, 'y''s', 2.25, false, NULL) RETURNING id, a",
           "INSERT", "1|1;2|2");
    expect("SELECT id, b, c, d FROM items ORDER BY id", "SELECT", "1|x|1.50|1;2|y's|2.25|0"); /* numeric(10,2) keeps its scale */
    expect("CREATE TABLE ts (t timestamp DEFAULT now(), tz timestamptz, d date, ch char(4), ok bool)", "CREATE TABLE", NULL);
    static const char *const tsp[] = {"2024-05-06 07:08:09+02", "t"};
    expect_p("INSERT INTO ts (tz, d, ch, ok) VALUES ($1, '2024-05-06', 'ab', $2)", tsp, 2, NULL);
    expect("SELECT t NOT LIKE '%+%', tz, d, ch || '|', ok FROM ts", "SELECT", "1|2024-05-06 05:08:09+00|2024-05-06|ab  ||1");
    static const char *const tsq[] = {"2024-05-06 06:00:00+01"};
    expect_p("SELECT count(*) FROM ts WHERE tz > $1", tsq, 1, "1");
    expect("SELECT count(*) FROM ts WHERE tz > '2024-05-06 06:00:00+01' AND ok = 't' AND d = '2024-05-06'", "SELECT", "1");
    expect("SELECT relname FROM pg_class WHERE oid = (SELECT oid FROM pg_class WHERE relname = 'ts')::text", "SELECT", "ts");
    expect("SELECT count(*), sum(a), max(b) FROM items", "SELECT", "2|3|y's");
    expect("UPDATE items SET a = a + 10 WHERE id = 1", "UPDATE", NULL);
    expect("SELECT a FROM items WHERE id = 1", "SELECT", "11");
    expect("DELETE FROM items WHERE a > 100", "DELETE", NULL);
    expect("SELECT currval('items_id_seq'), nextval('items_id_seq')", "SELECT", "2|3");
    CHECK(wb_sql_reset_session(db) == SQLITE_OK, "wb_sql_reset_session");
    expect_run_error("SELECT currval('items_id_seq')", "55000");
    expect("INSERT INTO items (a) VALUES (5) RETURNING id", "INSERT", "4");
    expect("SELECT setval('items_id_seq', 100)", "SELECT", "100");
    expect("INSERT INTO items (a) VALUES (6) RETURNING id", "INSERT", "101");
    expect("DELETE FROM items WHERE id > 2", "DELETE", NULL);
    expect("SELECT e IS NOT NULL, e > '2020-01-01' FROM items WHERE id = 1", "SELECT", "1|1");
    expect_run_error("INSERT INTO items (a, f) VALUES (1, 'toolong')", "22001");
    expect_run_error("INSERT INTO items (a, c) VALUES (1, 123456789.5)", "22003");
    expect_run_error("INSERT INTO items (a) VALUES ('x1')", "22P02");
    expect_run_error("UPDATE items SET a = a + 2147483647", "22003");
    expect_run_error("SELECT 2147483647 + 1", "22003");
    expect("SELECT 2147483647::int8 + 1, 46341 * 46340", "SELECT", "2147483648|2147441940");
    /* ON CONFLICT */
    expect("INSERT INTO items (id, a, b) VALUES (1, 7, 'new') ON CONFLICT (id) DO UPDATE SET b = EXCLUDED.b, a = items.a + EXCLUDED.a",
           "INSERT", NULL);
    expect("SELECT a, b FROM items WHERE id = 1", "SELECT", "18|new");
    expect("INSERT INTO items (id, a) VALUES (1, 0) ON CONFLICT DO NOTHING", "INSERT", NULL);
    /* NULL ordering as PostgreSQL: NULLs last ascending */
    expect("SELECT f FROM items ORDER BY f", "SELECT", "ab;NULL");
    expect("SELECT f FROM items ORDER BY f DESC", "SELECT", "NULL;ab");
    /* LIKE is case-sensitive, ILIKE not, ~ is a POSIX regex */
    expect("SELECT count(*) FROM items WHERE b LIKE 'N%'", "SELECT", "0");
    expect("SELECT count(*) FROM items WHERE b ILIKE 'N%'", "SELECT", "1");
    expect("SELECT b ~ '^n.w$', b ~* '^NEW', b !~ 'x' FROM items WHERE id = 1", "SELECT", "1|1|1");
    /* = ANY(array) */
    expect("SELECT count(*) FROM items WHERE id = ANY('{1,2,3}')", "SELECT", "2");
    expect("SELECT count(*) FROM items WHERE id = ANY(ARRAY[2, 5])", "SELECT", "1");
    static const char *const arr[] = {"{1,2}"};
    expect_p("SELECT count(*) FROM items WHERE id = ANY($1)", arr, 1, "2");
    expect_p("SELECT count(*) FROM items WHERE id <> ALL($1)", arr, 1, "0");
    /* casts */
    expect("SELECT '42'::int + 1, CAST('7' AS bigint), 3::text || 'x', '1.005'::numeric(5,2), 'yes'::boolean", "SELECT",
           "43|7|3x|1.01|1");
    expect_run_error("SELECT 'abc'::int", "22P02");
    expect_run_error("SELECT a / 0 FROM items", "22012");
    expect_run_error("SELECT 1 % (a - a) FROM items", "22012");
    expect("SELECT 7 / 2, 7.0 / 2, -7 / 2, 1.0 / 3, 1.50 * 2, -1.5", "SELECT", "3|3.5000000000000000|-3|0.33333333333333333333|3.00|-1.5");
    expect("SELECT c / 2, c / a, c * 2, c + 1, avg(a), sum(c) FROM items WHERE id = 2", "SELECT", "1.12500000000000000000|1.12500000000000000000|4.50|3.25|2.0000000000000000|2.25");
    expect("SELECT b FROM items WHERE c < 10 AND c > 2 AND c * 2 > 4.4 AND c = 2.250 ORDER BY c * 2", "SELECT", "y's"); /* numeric text divides with a fraction */
    /* functions */
    expect("SELECT lower('AbC'), upper('x'), length('héllo'), substring('hello' from 2 for 3), position('l' in 'hello'), "
           "concat('a', NULL, 'b'), coalesce(NULL, 2), nullif(1, 1), greatest(1, NULL, 3), least(4, 2)", "SELECT",
           "abc|X|5|ell|3|ab|2|NULL|3|2");
    expect("SELECT string_agg(b, ',') FROM (SELECT b FROM items ORDER BY id) s", "SELECT", "new,y's");
    expect("SELECT bool_and(d), bool_or(d) FROM items", "SELECT", "0|1");
    expect("SELECT string_agg(DISTINCT v, ',') FROM (VALUES ('a'), ('a'), ('b')) AS x(v)", "SELECT", "a,b");
    expect_error("SELECT string_agg(DISTINCT v, ';') FROM (VALUES ('a')) AS x(v)", "0A000", -1, "DISTINCT");
    expect("SELECT date_trunc('month', '2024-03-15 10:20:30'::timestamp), extract(year from '2024-03-15'::date)", "SELECT",
           "2024-03-01 00:00:00|2024");
    expect("SELECT to_char('2024-03-05 07:08:09'::timestamp, 'YYYY-MM-DD HH24:MI:SS')", "SELECT", "2024-03-05 07:08:09");
    expect("SELECT lpad('7', 3, '0'), rpad('ab', 4), md5('abc'), reverse('héllo'), split_part('a,b,c', ',', 2), "
           "initcap('hello wORLD'), quote_ident('Foo'), to_hex(255), starts_with('hello', 'he'), "
           "regexp_replace('a1b22c', '[0-9]+', '#', 'g'), round(2.345, 2), round(2.5), trunc(2.789, 1)", "SELECT",
           "007|ab  |900150983cd24fb0d6963f7d28e17f72|olléh|b|Hello World|\"Foo\"|ff|1|a#b#c|2.35|3|2.7");
    expect("SELECT '2024-01-31'::date + 1, '2024-01-31 10:00'::timestamp + interval '1 month', "
           "'2024-03-01 12:00'::timestamp - '2024-02-28 00:00'::timestamp, '2024-03-01'::date - '2024-02-01'::date",
           "SELECT", "2024-02-01|2024-02-29 10:00:00|2 days 12:00:00|29");
    expect("SELECT '\\x4142'::bytea, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid, length(gen_random_uuid()::text), "
           "array_to_string('{a,NULL,c}'::text[], '-', '*'), string_to_array('x,y', ','), array_agg(x ORDER BY x DESC), "
           "string_agg(x::text, ';' ORDER BY x) FROM generate_series(1, 3) AS x", "SELECT",
           "AB|a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|36|a-*-c|{x,y}|{3,2,1}|1;2;3");
    expect("SELECT interval '1 day 2 hours' * 2, interval '25 hours', interval '1 mon' + interval '3 days', "
           "interval '3 days' / 2", "SELECT", "2 days 04:00:00|25:00:00|1 mon 3 days|1 day 12:00:00");
    expect("SELECT count(DISTINCT (a, b)) FROM (VALUES (1, 'x'), (1, 'x'), (2, NULL)) AS v(a, b)", "SELECT", "2");
    expect("SELECT '{\"b\": 1, \"a\": [1, 2], \"aa\": \"x\\ny\"}'::jsonb, '{\"b\":1,  \"a\":2}'::json", "SELECT",
           "{\"a\": [1, 2], \"b\": 1, \"aa\": \"x\\ny\"}|{\"b\":1,  \"a\":2}");
    expect("SELECT '{1, 02,NULL}'::int[], '{a, \"b c\",\"x\"}'::text[], '{t,false}'::bool[]", "SELECT",
           "{1,2,NULL}|{a,\"b c\",x}|{t,f}");
    expect_run_error("SELECT '{1,x}'::int[]", "22P02");
    expect_run_error("SELECT 'nope'::uuid", "22P02");
    expect_run_error("SELECT '{\"a\":'::json", "22P02");
    expect("SELECT pg_size_pretty(123456789::int8), pg_get_serial_sequence('items', 'id')", "SELECT", "118 MB|public.items_id_seq");
    expect("SELECT to_regclass('nosuch') IS NULL, to_regclass('items') IS NOT NULL", "SELECT", "1|1");
    /* generate_series, CTEs, window functions */
    expect("SELECT sum(x) FROM generate_series(1, 10) AS x", "SELECT", "55");
    expect("SELECT string_agg('v' || g, ',') FROM generate_series(1, 3) g", "SELECT", "v1,v2,v3");
    expect_params("SELECT $1 || 5, 'a' LIKE $2", 2, (const uint32_t[]){25, 25});
    expect("SELECT g FROM generate_series(10, 1, -4) AS t(g)", "SELECT", "10;6;2");
    expect("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT sum(n) FROM r", "SELECT", "15");
    expect("WITH x AS (SELECT id, a FROM items) SELECT count(*) FROM x WHERE a > 1", "SELECT", "2");
    expect("SELECT id, row_number() OVER (ORDER BY id DESC), sum(a) OVER () FROM items ORDER BY id", "SELECT", "1|2|20;2|1|20");
    expect("SELECT x FROM unnest('{a,b,NULL}'::text[]) AS x", "SELECT", "a;b;NULL");
    expect("SELECT x, n FROM unnest('{a,b}'::text[]) WITH ORDINALITY AS u(x, n)", "SELECT", "a|1;b|2");
    expect("SELECT g, ordinality FROM generate_series(5, 6) WITH ORDINALITY AS g", "SELECT", "5|1;6|2");
    /* set-returning functions in the select list: lockstep, NULL past the
     * shorter one's end, no rows for an empty or NULL array */
    expect("SELECT unnest('{a,b}'::text[]), generate_subscripts('{a,b}'::text[], 1), 'k'", "SELECT", "a|1|k;b|2|k");
    expect("SELECT unnest('{a,b}'::text[]), unnest('{1,2,3}'::int[])", "SELECT", "a|1;b|2;NULL|3");
    expect("SELECT id, unnest('{5,6}'::int[]) + a FROM items ORDER BY 1, 2", "SELECT", "1|23;1|24;2|7;2|8"); /* a is 18 and 2 here */
    expect("SELECT count(*) FROM (SELECT unnest('{}'::int[]) UNION ALL SELECT unnest(NULL::int[])) s", "SELECT", "0");
    expect("SELECT generate_subscripts('{7,8,9}'::int[], 1, true)", "SELECT", "3;2;1");
    expect("SELECT generate_subscripts('{7,8,9}'::int[], 2)", "SELECT", "");
    expect("SELECT x FROM (SELECT unnest('{4,5}'::int[]) AS x) s JOIN items ON items.id = s.x - 3", "SELECT", "4;5");
    /* information_schema._pg_expandarray (pgjdbc getPrimaryKeys): the
     * record (x, n) in record_out's text form, its fields through a subquery */
    expect("SELECT information_schema._pg_expandarray('{a b,c,\"\"}'::text[])", "SELECT", "(\"a b\",1);(c,2);(\"\",3)");
    expect("SELECT (information_schema._pg_expandarray('{7,8}'::int[])).n, (information_schema._pg_expandarray('{7,8}'::int[])).x",
           "SELECT", "1|7;2|8");
    expect("SELECT (r.k).n FROM (SELECT information_schema._pg_expandarray('{7,8}'::int[]) AS k) r WHERE 8 = (r.k).x",
           "SELECT", "2");
    expect("SELECT (r.k).x FROM (SELECT information_schema._pg_expandarray('{x,\"y,z\"}'::text[]) AS k) r ORDER BY 1",
           "SELECT", "x;y,z");
    expect_error("SELECT information_schema._pg_expandarray('{1}'::int[]) IS NULL FROM items WHERE "
                 "information_schema._pg_expandarray('{1}'::int[]) IS NULL", "42883", -1, "_pg_expandarray");
    /* a table constraint written before a column (PostgreSQL allows it) */
    expect("CREATE TABLE ck_order (a int, CHECK (a > 0), b int, UNIQUE (b), c text)", "CREATE TABLE", NULL);
    expect("INSERT INTO ck_order VALUES (1, 2, 'x')", "INSERT", NULL);
    expect_run_error("INSERT INTO ck_order VALUES (0, 3, 'y')", ""); /* CHECK failed (23514 in the engine) */
    expect("SELECT a, b, c FROM ck_order", "SELECT", "1|2|x");
    /* a table-level PRIMARY KEY makes its columns NOT NULL, as in PostgreSQL */
    expect("CREATE TABLE pk2 (a int, b text, c int, PRIMARY KEY (b, a))", "CREATE TABLE", NULL);
    expect_run_error("INSERT INTO pk2 (a, c) VALUES (1, 2)", ""); /* NOT NULL (23502 in the engine) */
    expect("SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'pk2'::regclass ORDER BY attnum", "SELECT", "a|1;b|1;c|0");
    /* int2vector / oidvector subscripts start at 0 (indkey[0] is the first column) */
    expect("SELECT ('1 3'::int2vector)[0], ('1 3'::int2vector)[1], ('1 3'::int2vector)[2], ('{1,3}'::int2[])[1]",
           "SELECT", "1|3|NULL|1");
    expect("SELECT CASE WHEN a > 10 THEN 'big' ELSE 'small' END FROM items ORDER BY id", "SELECT", "big;small");
    expect("SELECT EXISTS (SELECT 1 FROM items WHERE a = 2), (SELECT max(id) FROM items)", "SELECT", "1|2");
    expect("SELECT id FROM items WHERE id IN (SELECT id FROM items WHERE a = 2)", "SELECT", "2");
    expect("SELECT 1 UNION SELECT 2 ORDER BY 1 DESC LIMIT 1", "SELECT", "2");
    expect("SELECT id FROM items ORDER BY id LIMIT ALL OFFSET 1", "SELECT", "2");
    expect("VALUES (1, 'a'), (2, 'b')", "SELECT", "1|a;2|b");
    expect("SELECT DISTINCT ON (k) k, v AS latest FROM (VALUES (1, 'a', 10), (1, 'b', 20), (2, 'c', 5)) AS x(k, v, t) "
           "ORDER BY k, t DESC", "SELECT", "1|b;2|c");
    expect("SELECT DISTINCT ON (1) k, v FROM (VALUES (1, 'a'), (1, 'b'), (2, 'c')) AS x(k, v) ORDER BY 1, v DESC LIMIT 1",
           "SELECT", "1|b");
    expect("SELECT i.id, j.a FROM items i JOIN items j USING (id) LEFT JOIN items k ON k.id = i.id + 100 ORDER BY 1",
           "SELECT", "1|18;2|2");
    expect("SELECT version() LIKE 'PostgreSQL 15%'", "SELECT", "1");
    CHECK(wb_sql_set_now(db, 1700000000123456LL) == SQLITE_OK, "wb_sql_set_now");
    expect("SELECT now(), now() = CURRENT_TIMESTAMP, CURRENT_DATE, LOCALTIMESTAMP, clock_timestamp() <> now()", "SELECT",
           "2023-11-14 22:13:20.123456+00|1|2023-11-14|2023-11-14 22:13:20.123456|1");
    CHECK(wb_sql_set_now(db, 0) == SQLITE_OK, "wb_sql_set_now(0)");
    expect("TRUNCATE items RESTART IDENTITY", "TRUNCATE TABLE", NULL);
    expect("SELECT count(*) FROM items", "SELECT", "0");
    expect("INSERT INTO items (a) VALUES (1) RETURNING id", "INSERT", "1");
    expect("INSERT INTO items (a, b) SELECT x, 'g' FROM generate_series(1, 3) AS x", "INSERT", NULL);
    expect("SELECT count(*) FROM items", "SELECT", "4");
}

static void test_ddl(void)
{
    /* pgbench -i */
    expect("drop table if exists pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers", "DROP TABLE", NULL);
    expect("create table pgbench_branches(bid int not null,bbalance int,filler char(88)) with (fillfactor=100)", "CREATE TABLE", NULL);
    expect("create table pgbench_accounts(aid int not null,bid int,abalance int,filler char(84)) with (fillfactor=100)", "CREATE TABLE", NULL);
    expect("create table pgbench_history(tid int,bid int,aid int,delta int,mtime timestamp,filler char(22))", "CREATE TABLE", NULL);
    expect("insert into pgbench_branches(bid,bbalance) select bid, 0 from generate_series(1, 2) as bid", "INSERT", NULL);
    expect("insert into pgbench_accounts(aid,bid,abalance,filler) select aid, (aid - 1) / 5 + 1, 0, '' from generate_series(1, 10) as aid",
           "INSERT", NULL);
    expect("vacuum analyze pgbench_branches", "VACUUM", NULL);
    expect("alter table pgbench_branches add primary key (bid)", "ALTER TABLE", NULL);
    expect("alter table pgbench_accounts add primary key (aid)", "ALTER TABLE", NULL);
    expect("select count(*), sum(bid) from pgbench_accounts", "SELECT", "10|15");
    expect_run_error("insert into pgbench_branches(bid, bbalance) values (1, 0)", "");
    /* pgbench 15's partition probe: one row for an unpartitioned table */
    expect("select o.n, p.partstrat, pg_catalog.count(i.inhparent) from pg_catalog.pg_class as c "
           "join pg_catalog.pg_namespace as n on (n.oid = c.relnamespace) "
           "cross join lateral (select pg_catalog.array_position(pg_catalog.current_schemas(true), n.nspname)) as o(n) "
           "left join pg_catalog.pg_partitioned_table as p on (p.partrelid = c.oid) "
           "left join pg_catalog.pg_inherits as i on (c.oid = i.inhparent) "
           "where c.relname = 'pgbench_accounts' and o.n is not null group by 1, 2 order by 1 asc limit 1",
           "SELECT", "2|NULL|0");
    /* the default TPC-B script */
    static const char *const p1[] = {"5", "3"};
    expect_p("UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2", p1, 2, NULL);
    static const char *const p2[] = {"3"};
    expect_p("SELECT abalance FROM pgbench_accounts WHERE aid = $1", p2, 1, "5");
    static const char *const p3[] = {"1", "1", "3", "5"};
    expect_p("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP)", p3, 4, NULL);
    expect("select count(*) from pgbench_history where mtime like '2%'", "SELECT", "1");
    expect("CREATE INDEX ON pgbench_history (aid)", "CREATE INDEX", NULL);
    expect("CREATE INDEX hist_expr ON pgbench_history (lower(filler), (tid + 1)) WHERE delta > 0", "CREATE INDEX", NULL);
    expect("CREATE TABLE chk (a int CHECK (a > 0), b int, CONSTRAINT b_ok CHECK (b < a))", "CREATE TABLE", NULL);
    expect_run_error("INSERT INTO chk VALUES (1, 2)", "");
    expect("ALTER TABLE chk ADD CONSTRAINT a_small CHECK (a < 100)", "ALTER TABLE", NULL);
    expect_run_error("INSERT INTO chk VALUES (200, 1)", "");
    expect("CREATE UNIQUE INDEX IF NOT EXISTS hist_tid ON pgbench_history (tid, aid DESC)", "CREATE INDEX", NULL);
    expect("CREATE VIEW v AS SELECT aid, abalance FROM pgbench_accounts WHERE abalance > 0", "CREATE VIEW", NULL);
    expect("SELECT * FROM v", "SELECT", "3|5");
    expect("DROP VIEW v", "DROP VIEW", NULL);
    expect("ALTER TABLE pgbench_history ADD COLUMN note text DEFAULT 'n'", "ALTER TABLE", NULL);
    expect("SELECT note FROM pgbench_history", "SELECT", "n");
    expect("CREATE TABLE kids (id bigserial PRIMARY KEY, bid int REFERENCES pgbench_branches (bid) ON DELETE CASCADE)", "CREATE TABLE", NULL);
    expect("INSERT INTO kids (bid) VALUES (1)", "INSERT", NULL);
    expect_run_error("INSERT INTO kids (bid) VALUES (99)", "");
    expect("CREATE TABLE IF NOT EXISTS kids (id bigserial PRIMARY KEY)", "CREATE TABLE", NULL); /* exists: a no-op */
    expect("SELECT conname, contype, conkey, confkey, confdeltype FROM pg_constraint WHERE conrelid = 'kids'::regclass ORDER BY 1",
           "SELECT", "kids_bid_fkey|f|{2}|{1}|c;kids_pkey|p|{1}|NULL| ");
    expect("SELECT conname, pg_get_constraintdef(oid, true) FROM pg_constraint, pg_partition_ancestors('kids') "
           "WHERE conrelid = relid AND contype = 'f' AND conparentid = 0", "SELECT",
           "kids_bid_fkey|FOREIGN KEY (bid) REFERENCES pgbench_branches(bid) ON DELETE CASCADE");
    expect("SELECT conrelid::regclass, 'pg_class'::regclass, 23::regtype FROM pg_constraint WHERE conname = 'kids_pkey'", "SELECT",
           "kids|pg_class|integer");
    expect("CREATE SEQUENCE s START 10 INCREMENT 5", "CREATE SEQUENCE", NULL);
    expect("SELECT nextval('s'), nextval('s')", "SELECT", "10|15");
    expect("DROP SEQUENCE s", "DROP SEQUENCE", NULL);
    expect_run_error("SELECT nextval('s')", "42P01");
    /* numeric orders and compares by value, not as text */
    expect("CREATE TABLE nums (v numeric(6,2), w numeric)", "CREATE TABLE", NULL);
    expect("INSERT INTO nums VALUES (9, 9), (10, 10.5), (1.5, 100), (NULL, NULL)", "INSERT", NULL);
    expect("SELECT v FROM nums ORDER BY v", "SELECT", "1.50;9.00;10.00;NULL");
    expect("SELECT w FROM nums ORDER BY w DESC", "SELECT", "NULL;100;10.5;9");
    expect("SELECT max(v), min(v), max(w), count(*) FILTER (WHERE v > 2), count(*) FILTER (WHERE w < 20) FROM nums", "SELECT",
           "10.00|1.50|100|2|2");
    expect("SELECT v FROM nums WHERE v BETWEEN 2 AND 9.5", "SELECT", "9.00");
    expect("CREATE TABLE ctas AS SELECT aid, abalance * 2 AS dbl FROM pgbench_accounts WHERE aid < 3", "SELECT", NULL);
    expect_cols("SELECT * FROM ctas", 2, (const char *const[]){"aid", "dbl"}, (const uint32_t[]){23, 23});
}

static void test_describe(void)
{
    expect_cols("SELECT 1, 'x', 1.5, true, count(*), now(), a AS alias, b, c, d, 1::int8, NULL FROM items",
                12, (const char *const[]){"?column?", "?column?", "?column?", "?column?", "count", "now", "alias", "b", "c", "d", "int8", "?column?"},
                (const uint32_t[]){23, 25, 1700, 16, 20, 1184, 23, 25, 1700, 16, 20, 25});
    wb_sql_list l;
    wb_sql_stmt *s = tr1("SELECT a, b FROM items", &l);
    if (s) {
        CHECK(s->ncols == 2 && s->cols[0].table_oid > 16384 && s->cols[0].attnum == 2 && s->cols[1].attnum == 3,
              "table_oid/attnum of plain columns: %u %d %d", s->ncols ? s->cols[0].table_oid : 0, s->ncols ? s->cols[0].attnum : 0,
              s->ncols > 1 ? s->cols[1].attnum : 0);
        wb_sql_list_free(&l);
    }
    expect_cols("SELECT sum(a), avg(a), max(c), string_agg(b, ','), lower(b), f FROM items", 6,
                (const char *const[]){"sum", "avg", "max", "string_agg", "lower", "f"},
                (const uint32_t[]){20, 1700, 1700, 25, 25, 1043});
    expect_cols("SELECT ARRAY[1, 2]::int4[], x.b::text, CASE WHEN true THEN 1 END, CASE WHEN true THEN a END FROM items AS x", 4,
                (const char *const[]){"array", "b", "case", "case"}, (const uint32_t[]){1007, 25, 23, 23});
    expect_cols("SELECT * FROM items", 7, (const char *const[]){"id", "a", "b", "c", "d", "e", "f"},
                (const uint32_t[]){23, 23, 25, 1700, 16, 1184, 1043});
    expect_cols("INSERT INTO items (a) VALUES (3) RETURNING id, a * 2 AS twice", 2, (const char *const[]){"id", "twice"},
                (const uint32_t[]){23, 23});
    /* parameter inference */
    expect_params("SELECT * FROM items WHERE id = $1 AND b = $2", 2, (const uint32_t[]){23, 25});
    expect_params("SELECT $1::int8, $2::text", 2, (const uint32_t[]){20, 25});
    expect_params("INSERT INTO items (a, b, c, d, e) VALUES ($1, $2, $3, $4, $5)", 5, (const uint32_t[]){23, 25, 1700, 16, 1184});
    expect_params("UPDATE items SET b = $1 WHERE id = $2", 2, (const uint32_t[]){25, 23});
    expect_params("SELECT a FROM items LIMIT $1 OFFSET $2", 2, (const uint32_t[]){20, 20});
    expect_params("SELECT a FROM items WHERE id = ANY($1)", 1, (const uint32_t[]){1007});
    expect_params("SELECT $1 + 1", 1, (const uint32_t[]){23});
    expect_params("SELECT $2", 2, (const uint32_t[]){25, 25});
    uint32_t given[1] = {20};
    wb_sql_error e;
    if (wb_sql_translate("SELECT $1", given, 1, &schema, &l, &e) == 0) {
        CHECK(l.stmts[0]->nparams == 1 && l.stmts[0]->param_oids[0] == 20, "given parameter type kept");
        wb_sql_list_free(&l);
    } else CHECK(0, "SELECT $1 with a given type");
}

static void test_utility(void)
{
    expect_kind("BEGIN", WB_SQL_BEGIN, "BEGIN", NULL, NULL);
    expect_kind("START TRANSACTION ISOLATION LEVEL SERIALIZABLE", WB_SQL_BEGIN, "START TRANSACTION", NULL, NULL);
    expect_kind("COMMIT", WB_SQL_COMMIT, "COMMIT", NULL, NULL);
    expect_kind("END", WB_SQL_COMMIT, "COMMIT", NULL, NULL);
    expect_kind("ROLLBACK", WB_SQL_ROLLBACK, "ROLLBACK", NULL, NULL);
    expect_kind("SAVEPOINT sp1", WB_SQL_SAVEPOINT, "SAVEPOINT", "sp1", NULL);
    expect_kind("RELEASE SAVEPOINT sp1", WB_SQL_RELEASE, "RELEASE", "sp1", NULL);
    expect_kind("ROLLBACK TO SAVEPOINT sp1", WB_SQL_ROLLBACK_TO, "ROLLBACK", "sp1", NULL);
    expect_kind("SET statement_timeout = 1000", WB_SQL_SET, "SET", "statement_timeout", "1000");
    expect_kind("SET search_path TO public, pg_catalog", WB_SQL_SET, "SET", "search_path", "public, pg_catalog");
    expect_kind("SET TIME ZONE 'UTC'", WB_SQL_SET, "SET", "timezone", "UTC");
    expect_kind("SET extra_float_digits = 3", WB_SQL_SET, "SET", "extra_float_digits", "3");
    expect_kind("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED", WB_SQL_SET, "SET",
                "default_transaction_isolation", "read committed");
    expect_kind("RESET ALL", WB_SQL_RESET, "RESET", "all", NULL);
    expect_kind("SHOW transaction isolation level", WB_SQL_SHOW, "SHOW", "transaction_isolation", NULL);
    expect_kind("SHOW server_version", WB_SQL_SHOW, "SHOW", "server_version", NULL);
    expect_kind("LISTEN ch", WB_SQL_LISTEN, "LISTEN", "ch", NULL);
    expect_kind("NOTIFY ch, 'hi'", WB_SQL_NOTIFY, "NOTIFY", "ch", "hi");
    expect_kind("UNLISTEN *", WB_SQL_UNLISTEN, "UNLISTEN", NULL, NULL);
    expect_kind("DISCARD ALL", WB_SQL_DISCARD, "DISCARD ALL", "all", NULL);
    expect_kind("DEALLOCATE ALL", WB_SQL_DEALLOCATE, "DEALLOCATE ALL", NULL, NULL);
    expect_kind("CREATE DATABASE foo", WB_SQL_CREATE_DATABASE, "CREATE DATABASE", "foo", NULL);
    expect_kind("DROP DATABASE IF EXISTS foo", WB_SQL_DROP_DATABASE, "DROP DATABASE", "foo", NULL);
    expect_kind("CHECKPOINT", WB_SQL_NOOP, "CHECKPOINT", NULL, NULL);
    expect_kind("ANALYZE", WB_SQL_NOOP, "ANALYZE", NULL, NULL);
    expect_kind("CLOSE ALL", WB_SQL_CLOSE_CURSOR, "CLOSE CURSOR ALL", NULL, NULL);
    wb_sql_list l;
    wb_sql_stmt *s = tr1("DECLARE c1 SCROLL CURSOR WITH HOLD FOR SELECT a FROM items WHERE id = $1", &l);
    if (s) {
        CHECK(s->kind == WB_SQL_DECLARE && !strcmp(s->name, "c1") && s->cursor_flags == 6 && s->inner &&
              s->inner->kind == WB_SQL_RUN && s->nparams == 1 && s->param_oids[0] == 23, "DECLARE decoded");
        wb_sql_list_free(&l);
    }
    s = tr1("FETCH FORWARD 5 FROM c1", &l);
    if (s) { CHECK(s->kind == WB_SQL_FETCH && s->fetch_count == 5 && s->fetch_direction == 0 && !strcmp(s->name, "c1"), "FETCH 5"); wb_sql_list_free(&l); }
    s = tr1("FETCH ALL c1", &l);
    if (s) { CHECK(s->fetch_count == INT64_MAX, "FETCH ALL"); wb_sql_list_free(&l); }
    s = tr1("MOVE BACKWARD 2 IN c1", &l);
    if (s) { CHECK(s->kind == WB_SQL_MOVE && s->fetch_direction == 1 && s->fetch_count == 2, "MOVE BACKWARD"); wb_sql_list_free(&l); }
    s = tr1("PREPARE q (int, text) AS SELECT a FROM items WHERE id = $1", &l);
    if (s) {
        CHECK(s->kind == WB_SQL_PREPARE && s->nparams == 2 && s->param_oids[0] == 23 && s->param_oids[1] == 25 && s->inner &&
              s->inner->nparams == 2, "PREPARE decoded");
        wb_sql_list_free(&l);
    }
    s = tr1("EXECUTE q (1, 'x')", &l);
    if (s) { CHECK(s->kind == WB_SQL_EXECUTE && s->nargs == 2 && !strcmp(s->args[0], "1") && !strcmp(s->args[1], "'x'"), "EXECUTE args"); wb_sql_list_free(&l); }
    s = tr1("COPY items (a, b) FROM STDIN WITH (FORMAT csv, HEADER true, DELIMITER ';', NULL 'NA')", &l);
    if (s) {
        wb_sql_copy *c = s->copy;
        CHECK(s->kind == WB_SQL_COPY && c && c->from && !strcmp(c->table, "items") && c->ncolumns == 2 && c->format == 1 &&
              c->header == 1 && c->delimiter == ';' && !strcmp(c->null_string, "NA") && c->quote == '"' && c->escape == '"', "COPY csv decoded");
        wb_sql_list_free(&l);
    }
    s = tr1("COPY (SELECT a FROM items) TO STDOUT", &l);
    if (s) {
        wb_sql_copy *c = s->copy;
        CHECK(c && !c->from && !c->table && c->query && c->query->returns_rows && c->format == 0 && c->delimiter == '\t' &&
              !strcmp(c->null_string, "\\N"), "COPY query decoded");
        wb_sql_list_free(&l);
    }
    s = tr1("copy pgbench_accounts from stdin with (freeze on)", &l);
    if (s) { CHECK(s->copy && s->copy->from && s->copy->format == 0, "pgbench copy"); wb_sql_list_free(&l); }
    /* several statements and an empty one */
    wb_sql_error e;
    if (wb_sql_translate("BEGIN; SELECT 1; COMMIT", NULL, 0, &schema, &l, &e) == 0) {
        CHECK(l.n == 3 && l.stmts[0]->kind == WB_SQL_BEGIN && l.stmts[1]->kind == WB_SQL_RUN && l.stmts[2]->kind == WB_SQL_COMMIT,
              "three statements");
        CHECK(l.n == 3 && l.stmts[1]->location == 6, "statement location %d", l.n == 3 ? l.stmts[1]->location : -1);
        wb_sql_list_free(&l);
    }
    if (wb_sql_translate("  -- nothing\n", NULL, 0, &schema, &l, &e) == 0) {
        CHECK(l.n == 1 && l.stmts[0]->kind == WB_SQL_EMPTY, "empty query");
        wb_sql_list_free(&l);
    } else CHECK(0, "empty query translates");
}

static void test_errors(void)
{
    expect_error("SELEC 1", "42601", 1, "syntax error");
    expect_error("SELECT * FROM nosuch", "42P01", 15, "\"nosuch\" does not exist");
    expect_error("SELECT nosuch FROM items", "42703", 8, "nosuch");
    expect_error("SELECT x.a FROM items", "42P01", 8, NULL);
    expect_error("SELECT no_such_function(1)", "42883", 8, "no_such_function");
    expect_error("SELECT a FROM items WHERE b SIMILAR TO 'x'", "0A000", -1, "SIMILAR TO");
    expect_error("SELECT 1 FROM items GROUP BY ROLLUP (a)", "0A000", -1, "ROLLUP");
    expect_error("CREATE FUNCTION f() RETURNS int AS 'select 1' LANGUAGE sql", "0A000", -1, "create_function_stmt");
    expect_error("SELECT generate_series(1, 3)", "0A000", -1, "generate_series");
    expect_error("SELECT 'x'::nosuchtype", "42704", -1, "nosuchtype");
    /* a parameter number beyond a Bind message's range: an error, and no
     * allocation sized by it (a fuzz finding) */
    expect_error("INSERT INTO items (id) VALUES ($914691236517205)", "42P02", -1, "there is no parameter");
    expect_error("SELECT 1 WHERE 2 = $70000", "42P02", -1, "there is no parameter $70000");
    /* type modifiers out of PostgreSQL's ranges (a fuzz finding: numeric(-1, 2)) */
    expect_error("CREATE TABLE tm (a numeric(-1, 2))", "22023", -1, "NUMERIC precision -1 must be between 1 and 1000");
    expect_error("SELECT 1::numeric(1001)", "22023", -1, "NUMERIC precision 1001");
    expect_error("SELECT 1::numeric(10, 1001)", "22023", -1, "NUMERIC scale 1001");
    expect_error("CREATE TABLE tm (a varchar(0))", "22023", -1, "length for type varchar must be at least 1");
    expect_error("SELECT 'x'::char(10485761)", "22023", -1, "length for type char cannot exceed 10485760");
    expect_error("INSERT INTO items (nosuch) VALUES (1)", "42703", -1, "nosuch");
    expect_error("SELECT 1; SELECT * FROM nosuch", "42P01", 25, NULL);
}

/* translate through the cache and run; rows must match */
static void cached(wb_sql_cache *c, const char *sql, const char *rows, int want_lits)
{
    wb_sql_list l;
    wb_sql_error e;
    if (wb_sql_translate_cached(c, sql, NULL, 0, &schema, &l, &e) != 0) {
        CHECK(0, "cached translate failed: %s: %s %s", sql, e.sqlstate, e.message);
        return;
    }
    char out[4096];
    const char *err = run(l.stmts[l.n - 1], NULL, 0, out, sizeof out);
    CHECK(!err, "%s: %s", sql, err ? err : "");
    if (!err && rows) CHECK(!strcmp(out, rows), "cached %s:\n  got  %s\n  want %s\n  sql  %s", sql, out, rows, l.stmts[l.n - 1]->sqlite[0]);
    if (want_lits >= 0) CHECK(l.stmts[l.n - 1]->nlits == want_lits, "%s: %d literals lifted, want %d", sql, l.stmts[l.n - 1]->nlits, want_lits);
    wb_sql_list_free(&l);
}

static void test_cache(void)
{
    wb_sql_cache *c = wb_sql_cache_new(64);
    CHECK(c != NULL, "cache");
    if (!c) return;
    expect("INSERT INTO items (a, b) VALUES (10, 'ten'), (20, 'it''s')", "INSERT", NULL);
    cached(c, "SELECT b FROM items WHERE a = 10", "ten", 1);
    cached(c, "SELECT b FROM items WHERE a = 20", "it's", 1);   /* a hit with another literal */
    cached(c, "SELECT b FROM items WHERE a = -10", "", 1);
    cached(c, "SELECT b FROM items WHERE b = 'it''s'", "it's", 1);
    cached(c, "SELECT b FROM items WHERE b = 'ten'", "ten", 1);
    cached(c, "SELECT a, b FROM items WHERE a >= 10 ORDER BY 1 LIMIT 1", "10|ten", 2);
    cached(c, "SELECT a, b FROM items WHERE a >= 10 ORDER BY 2 LIMIT 1", "20|it's", 2); /* ORDER BY 2 is not a literal */
    cached(c, "SELECT 1.5 * 2, 'x' || 'y', 7 / 2, 12345678901 + 1", "3.0|xy|3|12345678902", 8);
    cached(c, "SELECT 2.5 * 2, 'a' || 'b', 9 / 2, 12345678902 + 1", "5.0|ab|4|12345678903", 8);
    cached(c, "SELECT count(*) FROM items HAVING count(*) > 3", NULL, 1);
    cached(c, "SELECT sum(x) FROM generate_series(1, 4) AS x", "10", 2);
    cached(c, "SELECT sum(x) FROM generate_series(1, 5) AS x", "15", 2);
    cached(c, "SELECT date_trunc('year', '2024-05-06'::timestamp)", "2024-01-01 00:00:00", 2);
    cached(c, "SELECT date_trunc('month', '2024-05-06'::timestamp)", "2024-05-01 00:00:00", 2);
    cached(c, "SELECT b FROM items WHERE a = 10 AND b LIKE E'te%'", "ten", 0); /* E'' strings: not lifted */
    cached(c, "SELECT /* c */ b FROM \"items\" -- x\n WHERE a = 10", "ten", 1);
    cached(c, "SELECT /* c */ b FROM \"items\" -- y\n WHERE a = 20", "it's", 1);
    cached(c, "SELECT b FROM items WHERE a = 2147483648 OR a = 10", "ten", 2); /* an int8 literal: another key */
    cached(c, "SELECT b FROM items WHERE b = $$ten$$", "ten", 0);             /* dollar quoting: not cached */
    {
        wb_sql_list l;
        wb_sql_error e2;
        for (int round = 0; round < 2; round++) {
            int rc = wb_sql_translate_cached(c, round ? "SELECT b FROM items WHERE a = $1 AND b <> 'zz'" : "SELECT b FROM items WHERE a = $1 AND b <> 'yy'",
                                             NULL, 0, &schema, &l, &e2);
            CHECK(rc == 0 && l.stmts[0]->nparams == 1 && l.stmts[0]->param_oids[0] == 23 && l.stmts[0]->nlits == 1 &&
                  strstr(l.stmts[0]->sqlite[0], "?2") && !strcmp(l.stmts[0]->lit_values[0], round ? "zz" : "yy"),
                  "client parameters come first, literals after (round %d)", round);
            if (rc == 0) {
                static const char *const p10[] = {"10"};
                char out[256];
                const char *err = run(l.stmts[0], p10, 1, out, sizeof out);
                CHECK(!err && !strcmp(out, "ten"), "parameters and literals bound: %s %s", err ? err : "", out);
                wb_sql_list_free(&l);
            }
        }
    }
    cached(c, "UPDATE items SET b = 'TEN' WHERE a = 10", NULL, 2);
    cached(c, "SELECT b FROM items WHERE a = 10", "TEN", 1);
    wb_sql_list a;
    wb_sql_error e;
    int r1 = wb_sql_translate_cached(c, "SELECT * FROM nosuch WHERE x = 1", NULL, 0, &schema, &a, &e);
    CHECK(r1 != 0 && !strcmp(e.sqlstate, "42P01") && e.position == 15, "errors through the cache: %s %d", e.sqlstate, e.position);
    r1 = wb_sql_translate_cached(c, "CREATE TABLE cached_ddl (a int DEFAULT 5)", NULL, 0, &schema, &a, &e);
    CHECK(r1 == 0 && a.stmts[0]->nlits == 0 && strstr(a.stmts[0]->sqlite[0], "DEFAULT (/*pg:5*/ 5)"), "DDL keeps its literals");
    if (!r1) wb_sql_list_free(&a);
    {
        /* 3000 literals: 2000 lifted, the rest kept in the text */
        size_t cap = 64 * 1024, o = 0;
        char *big = malloc(cap);
        o += (size_t)snprintf(big + o, cap - o, "SELECT count(*) FROM items WHERE a IN (");
        for (int i = 0; i < 3000; i++) o += (size_t)snprintf(big + o, cap - o, "%s%d", i ? ", " : "", i + 100000);
        snprintf(big + o, cap - o, ") OR a = 10");
        cached(c, big, "1", 2000);
        cached(c, big, "1", 2000);
        free(big);
    }
    wb_sql_cache_clear(c);
    cached(c, "SELECT b FROM items WHERE a = 20", "it's", 1);
    wb_sql_cache_free(c);
}

/* test_sql_translate -b: translation cost, uncached and through the cache
 * (pgbench -S's statement with a new literal each time) */
static void bench(void)
{
    wb_sql_list l;
    wb_sql_error e;
    char sql[160];
    const int n = 20000;
    struct timespec t0, t1, t2;
    expect("CREATE TABLE IF NOT EXISTS pgbench_accounts (aid int not null, bid int, abalance int, filler char(84))", "CREATE TABLE", NULL);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        snprintf(sql, sizeof sql, "SELECT abalance FROM pgbench_accounts WHERE aid = %d;", i);
        if (wb_sql_translate(sql, NULL, 0, &schema, &l, &e) == 0) wb_sql_list_free(&l);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    wb_sql_cache *c = wb_sql_cache_new(256);
    for (int i = 0; i < n; i++) {
        snprintf(sql, sizeof sql, "SELECT abalance FROM pgbench_accounts WHERE aid = %d;", i);
        if (wb_sql_translate_cached(c, sql, NULL, 0, &schema, &l, &e) == 0) wb_sql_list_free(&l);
    }
    clock_gettime(CLOCK_MONOTONIC, &t2);
    wb_sql_cache_free(c);
    double a = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / n / 1e3;
    double b = ((t2.tv_sec - t1.tv_sec) * 1e9 + (t2.tv_nsec - t1.tv_nsec)) / n / 1e3;
    printf("translate (libpg_query parse + walk + schema lookups on SQLite): %.2f us/statement\n", a);
    printf("through the cache (new literal each time):                      %.2f us/statement\n", b);
}

/* manual use: test_sql_translate -e SQL... translates and runs each SQL
 * (after the built-in tests' schema is set up) and prints what happened */
static int manual(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        wb_sql_list l;
        wb_sql_error e;
        if (wb_sql_translate(argv[i], NULL, 0, &schema, &l, &e) != 0) {
            printf("ERROR %s %s (position %d)\n", e.sqlstate, e.message, e.position);
            continue;
        }
        for (int k = 0; k < l.n; k++) {
            wb_sql_stmt *s = l.stmts[k];
            printf("-- kind %d tag %s nparams %d ncols %d\n", s->kind, s->tag ? s->tag : "", s->nparams, s->ncols);
            for (int c = 0; c < s->ncols; c++) printf("--   col %s type %u\n", s->cols[c].name, s->cols[c].type_oid);
            for (int q = 0; q < s->nsqlite; q++) printf("%s;\n", s->sqlite[q]);
            if (s->kind == WB_SQL_RUN) {
                static char out[65536];
                const char *err = run(s, NULL, 0, out, sizeof out);
                printf(err ? "RUN ERROR %s\n" : "=> %s\n", err ? err : out);
            }
        }
        wb_sql_list_free(&l);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (sqlite3_open(":memory:", &db) != SQLITE_OK) { fprintf(stderr, "sqlite3_open failed\n"); return 1; }
    int rc = wb_sql_register(db);
    if (rc != SQLITE_OK) { fprintf(stderr, "wb_sql_register: %d %s\n", rc, sqlite3_errmsg(db)); return 1; }
    test_types();
    test_basic();
    test_ddl();
    test_describe();
    test_utility();
    test_errors();
    test_cache();
    test_domains();
    if (argc > 2 && !strcmp(argv[1], "-e")) { rc = manual(argc, argv); sqlite3_close(db); return rc; }
    if (argc > 1 && !strcmp(argv[1], "-b")) { bench(); sqlite3_close(db); return 0; }
    sqlite3_close(db);
    printf("test_sql_translate: %d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
