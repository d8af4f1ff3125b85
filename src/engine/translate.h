/* src/engine/translate.h - PostgreSQL SQL to SQLite, through libpg_query.
 *
 * The contract between the translator (src/engine/translate*.c: the
 * PostgreSQL 15 parser from libpg_query, a walk over its parse tree, SQLite
 * SQL out; the SQL functions and catalog views it relies on) and the engine
 * session (src/engine/session*.c: executes what comes out on SQLite, speaks
 * the protocol through src/server/engine.h). Never regular expressions.
 *
 * Sans-I/O and SQLite-free except where stated: wb_sql_translate only reads
 * the schema through the caller's lookup callbacks, so it can be tested and
 * fuzzed without a database. wb_sql_register() is the one place that
 * touches a sqlite3 handle (functions, collations, virtual tables).
 *
 * Threads: any thread; no global mutable state (a translation cache is an
 * object the caller owns and locks).
 */
#ifndef WIREBUF_ENGINE_TRANSLATE_H
#define WIREBUF_ENGINE_TRANSLATE_H
#include <stddef.h>
#include <stdint.h>

struct sqlite3;

/* pgvector's `vector` type and its array type `_vector` (issue 11): OIDs
 * fixed by wirebuf (pgvector's own are assigned at CREATE EXTENSION, so
 * clients look them up by name), in the user range but above every OID
 * wirebuf gives a relation (16384 + sqlite_schema rowid) or a constraint,
 * so they never collide. pg_type lists them (translate_catalog.c). */
#define WB_PG_VECTOR_OID 2000000001u
#define WB_PG_VECTOR_ARRAY_OID 2000000002u

/* What a statement is; the engine runs WB_SQL_RUN statements on SQLite and
 * implements the others itself (session and transaction control). */
typedef enum wb_sql_kind {
    WB_SQL_EMPTY = 0,  /* only comments/whitespace: EmptyQueryResponse */
    WB_SQL_RUN,        /* SELECT, INSERT, UPDATE, DELETE, DDL, ...: run sqlite[] */
    WB_SQL_BEGIN, WB_SQL_COMMIT, WB_SQL_ROLLBACK,
    WB_SQL_SAVEPOINT, WB_SQL_RELEASE, WB_SQL_ROLLBACK_TO, /* name */
    WB_SQL_SET, WB_SQL_RESET, WB_SQL_SHOW, /* name (lower case; "all" for RESET ALL / SHOW ALL), value (SET; NULL = DEFAULT), is_local */
    WB_SQL_COPY,       /* copy */
    WB_SQL_DECLARE,    /* name, inner (the cursor's query), cursor_flags */
    WB_SQL_FETCH, WB_SQL_MOVE, /* name, fetch_direction, fetch_count */
    WB_SQL_CLOSE_CURSOR, /* name (NULL = CLOSE ALL) */
    WB_SQL_PREPARE,    /* name, inner, nparams/param_oids = declared types */
    WB_SQL_EXECUTE,    /* name, nargs/args (SQL expressions translated to SQLite) */
    WB_SQL_DEALLOCATE, /* name (NULL = ALL) */
    WB_SQL_DISCARD,    /* name: "all", "plans", "sequences", "temp" */
    WB_SQL_LISTEN, WB_SQL_UNLISTEN, /* name (NULL = UNLISTEN *) */
    WB_SQL_NOTIFY,     /* name = channel, value = payload (may be NULL) */
    WB_SQL_CREATE_DATABASE, WB_SQL_DROP_DATABASE, /* name, if_exists */
    WB_SQL_NOOP        /* accepted and does nothing on SQLite (VACUUM, ANALYZE,
                          CHECKPOINT, CREATE EXTENSION of a built-in, ...): tag only */
} wb_sql_kind;

/* A result column as PostgreSQL describes it (RowDescription, §55.7).
 * type_oid 0 = not known from the query alone: the engine takes it from
 * the SQLite declared type of the source column, else from the value. */
typedef struct wb_sql_col {
    char *name;        /* PostgreSQL's column name ("?column?", "count", ...) */
    uint32_t table_oid; int16_t attnum; /* 0 when not a plain column */
    uint32_t type_oid; int32_t typmod;  /* typmod -1 when none */
} wb_sql_col;

typedef struct wb_sql_copy {
    int from;             /* 1 = COPY ... FROM STDIN, 0 = TO STDOUT */
    char *table;          /* NULL for COPY (query) TO */
    char **columns; int ncolumns;        /* NULL/0 = all, in table order */
    struct wb_sql_stmt *query;           /* COPY (query) TO */
    int format;           /* 0 text, 1 csv, 2 binary */
    char delimiter, quote, escape; char *null_string; int header; /* header: 0, 1, 2 = MATCH */
    char **force_quote; int nforce_quote; int force_quote_all;
    char **force_not_null; int nforce_not_null;
    char **force_null; int nforce_null;
} wb_sql_copy;

typedef struct wb_sql_stmt {
    wb_sql_kind kind;
    char *tag;            /* command tag as PostgreSQL writes it before any
                             count: "SELECT", "INSERT", "UPDATE", "DELETE",
                             "CREATE TABLE", "DROP INDEX", "BEGIN", ... The
                             engine adds the counts ("INSERT 0 n", "SELECT n"). */
    char **sqlite; int nsqlite; /* WB_SQL_RUN: SQLite statements run in order
                             inside one savepoint; the last one's rows (if it
                             returns any) are the result, and its changes()
                             the count. Parameters are SQLite ?NNN = $NNN. */
    int returns_rows;     /* RowDescription (1) or NoData (0) */
    wb_sql_col *cols; int ncols; /* when returns_rows, if known at translation */
    uint32_t *param_oids; int nparams; /* inferred ($n compared/assigned to a
                             column of known type, casts); 0 = unknown (text) */
    /* utility arguments, by kind (see above); strings owned by the stmt */
    char *name, *value; int is_local, if_exists;
    struct wb_sql_stmt *inner;
    char **args; int nargs;
    int cursor_flags;     /* 1 BINARY, 2 SCROLL, 4 WITH HOLD */
    int fetch_direction;  /* 0 FORWARD, 1 BACKWARD, 2 ABSOLUTE, 3 RELATIVE */
    int64_t fetch_count;  /* INT64_MAX = ALL */
    wb_sql_copy *copy;
    int location;         /* byte offset of the statement in the source */
    /* added after the first contract: literals lifted into parameters by
     * wb_sql_translate_cached (nlits = 0 from wb_sql_translate): SQLite
     * parameter ?(nparams + 1 + i) takes lit_values[i] (text; NULL = SQL NULL) */
    char **lit_values; int nlits;
    uint32_t *lit_oids;   /* their types: int4/int8 bind as integers, the
                             rest (numeric included: decimal text) as text;
                             wb_sql_bind_literals does exactly that */
    int *lit_tokens;      /* (cache bookkeeping: the scan token of each) */
    /* 1: the statement rebuilds a table (ALTER TABLE ... ADD CONSTRAINT:
     * create the new table, copy, drop the old, rename). SQLite's DROP
     * TABLE deletes the old rows first, which with foreign keys enforced
     * would run the ON DELETE actions of the tables that reference it
     * (deleting their rows) or fail. The engine runs such a statement with
     * PRAGMA foreign_keys off when it can (outside a transaction block);
     * the statement itself refuses (0A000) when foreign keys are still on
     * and another table references the rebuilt one, and checks the rebuilt
     * table's own foreign keys at its end (23503). */
    int fk_off;
} wb_sql_stmt;

/* Several statements (a simple Query may hold many). */
typedef struct wb_sql_list {
    wb_sql_stmt **stmts; int n;
} wb_sql_list;

/* An error as an ErrorResponse wants it. */
typedef struct wb_sql_error {
    char sqlstate[6];     /* 42601 syntax error, 0A000 not supported, 42P01, 42703, ... */
    char message[512];
    int position;         /* 1-based character position in the source, 0 = none */
} wb_sql_error;

/* A domain as the translator needs it (PostgreSQL 15 docs "CREATE
 * DOMAIN"): a value of the domain is stored as its base type; the
 * constraints are checked where a value is assigned to a column of the
 * domain or cast to it (wb_domain_ok / wb_domain_check, registered by
 * wb_sql_register), and RowDescription shows the base type, as PostgreSQL's
 * printtup does (getBaseTypeAndTypmod). */
typedef struct wb_sql_domain {
    uint32_t oid;          /* pg_type.oid of the domain */
    uint32_t base_oid;     /* pg_type.typbasetype (a built-in type) */
    int32_t base_typmod;   /* pg_type.typtypmod, -1 none */
    int not_null, has_default, has_check; /* 1 when the domain has them */
} wb_sql_domain;

/* Domain OIDs (pg_type typtype 'd'): WB_SQL_DOMAIN_OID_MIN + the domain's
 * row in the engine's wb_domains; below WB_SQL_DOMAIN_OID_MAX. */
#define WB_SQL_DOMAIN_OID_MIN 1600000000u
#define WB_SQL_DOMAIN_OID_MAX 1700000000u
#define WB_SQL_IS_DOMAIN_OID(o) ((o) > WB_SQL_DOMAIN_OID_MIN && (o) < WB_SQL_DOMAIN_OID_MAX)

/* The schema as the translator sees it, answered by the engine from SQLite
 * (PRAGMA table_info and the declared types, which keep PostgreSQL's type
 * names). Return 1 found / 0 not. */
typedef struct wb_sql_schema {
    void *ctx;
    /* type of table.column: OID and typmod of the declared type */
    int (*column_type)(void *ctx, const char *table, const char *column, uint32_t *oid, int32_t *typmod);
    /* the columns of a table in order (for *, COPY without a list, INSERT without one) */
    int (*table_columns)(void *ctx, const char *table, char ***names, uint32_t **oids, int32_t **typmods, int *n);
    /* Added after the first contract (both optional, NULL = not available;
     * initialise the struct with zeroes so that later additions stay NULL):
     * table_oid: the OID RowDescription shows for table (pg_class.oid as the
     *   engine's pg_catalog gives it); 0 = not found.
     * table_ddl: the table's SQLite CREATE TABLE statement and its CREATE
     *   INDEX statements (sqlite_master.sql, malloc'd, caller frees), for
     *   ALTER TABLE ... ADD CONSTRAINT / PRIMARY KEY / FOREIGN KEY, which
     *   SQLite cannot do in place: the translator emits the rebuild
     *   (create new, copy, drop, rename, recreate indexes). */
    int (*table_oid)(void *ctx, const char *table, uint32_t *oid);
    int (*table_ddl)(void *ctx, const char *table, char **create_sql, char ***index_sqls, int *nindex);
    /* domain: a CREATE DOMAIN type by name (pg_type typtype 'd', the
     *   engine's wb_domains), filled into *out; 1 found / 0 not (then the
     *   name is an unknown type, 42704). Optional (NULL = no domains).
     * column_domain: the domain OID a table's column was declared with
     *   (the declaration keeps it, wb_sql_decltype_domain); 0 when the
     *   column is of a plain type or unknown. Optional. */
    int (*domain)(void *ctx, const char *name, wb_sql_domain *out);
    uint32_t (*column_domain)(void *ctx, const char *table, const char *column);
    /* domain_by_oid: as domain, by pg_type OID (a Parse message's
     *   parameter type); 1 found / 0 not. Optional. */
    int (*domain_by_oid)(void *ctx, uint32_t oid, wb_sql_domain *out);
} wb_sql_schema;

/* Translate sql (NUL-terminated, PostgreSQL 15 dialect) into *out.
 * given_oids/ngiven: parameter types from a Parse message (0 = infer; a
 * domain's OID: its base type, the value checked against the domain's
 * constraints where the parameter is used).
 * Returns 0, or -1 with *err (no statement is returned then). */
int wb_sql_translate(const char *sql, const uint32_t *given_oids, int ngiven, const wb_sql_schema *schema,
                     wb_sql_list *out, wb_sql_error *err);
void wb_sql_list_free(wb_sql_list *l);
void wb_sql_stmt_free(wb_sql_stmt *s);

/* A translation cache keyed by the statement's token stream with literals
 * lifted out (pg_query_normalize / scan), so pgbench -S with a new literal
 * each time costs a lookup; the literals are passed as extra parameters.
 * The engine owns one per database and invalidates it after DDL
 * (wb_sql_cache_clear). */
typedef struct wb_sql_cache wb_sql_cache;
wb_sql_cache *wb_sql_cache_new(size_t max_entries);
void wb_sql_cache_free(wb_sql_cache *c);
void wb_sql_cache_clear(wb_sql_cache *c);

/* Register the SQL functions, operators-as-functions, collations and
 * virtual tables the translated SQL relies on (now(), generate_series,
 * regex match, ILIKE, pg_catalog views, ...) on one SQLite connection.
 * Returns SQLITE_OK or an SQLite error code.
 *
 * Session functions are the engine's to register on the connection a
 * session runs on (after this call; SQLite keeps the last registration):
 * current_setting(1-2 args), set_config(3), pg_backend_pid(0), pg_sleep(1),
 * pg_cancel_backend(1), pg_terminate_backend(1-2), pg_notify(2),
 * pg_advisory_lock/unlock/try_advisory_lock/advisory_xact_lock/
 * unlock_all/lock_shared/unlock_shared/try_advisory_xact_lock,
 * inet_server_addr/inet_server_port/inet_client_addr(0),
 * pg_postmaster_start_time(0), txid_current(0). Defaults registered here
 * that the engine should override per session: current_database(),
 * current_user(), session_user() (all "postgres" here). */
int wb_sql_register(struct sqlite3 *db);

/* ---- added after the first contract ---- */

/* Errors raised by the registered functions (division by zero, a bad
 * cast, a sequence at its end) carry the SQLSTATE as the first 5
 * characters of the SQLite error message: "22012 division by zero". This
 * splits such a message (sqlite3_errmsg); returns 1 and fills sqlstate and
 * *message (pointing into msg) when it has one, else 0 with *message = msg. */
int wb_sql_sqlite_error(const char *msg, char sqlstate[6], const char **message);

/* The declared type of a SQLite column (sqlite3_column_decltype, PRAGMA
 * table_info().type) -> PostgreSQL type OID and typmod. Knows the
 * declarations the translator emits ("int4", "numeric text(10,2)",
 * "timestamptz text", "_int4", ...) and plain SQLite/PostgreSQL spellings
 * ("INTEGER", "TEXT", "varchar(20)", "double precision", ...). decl NULL or
 * unknown: returns 0 with *oid = 0 (take the type from the value). typmod
 * is PostgreSQL's (varchar(n): n + 4; numeric(p,s): ((p << 16) | s) + 4;
 * -1 none). Returns 1 when known. Thread-safe, no allocation. */
int wb_sql_decltype_to_pg(const char *decl, uint32_t *oid, int32_t *typmod);

/* The domain a column was declared with: the translator writes a column
 * of a domain as its base type's declaration with the word
 * "wbdomain<OID>" before any "(typmod)" ("int4 integer wbdomain1600000001",
 * "numeric text wbdomain1600000002(10,2)": no word of it changes SQLite's
 * affinity, and wb_sql_decltype_to_pg reads the base type as before).
 * Returns the domain's OID, 0 when decl (NULL allowed) names none.
 * Thread-safe, no allocation. */
uint32_t wb_sql_decltype_domain(const char *decl);

/* A CREATE DOMAIN domain of the database db (its wb_domains table), by
 * name (name not NULL) or else by pg_type OID, into *out. Returns 1 found,
 * 0 not (also when db has no domains). For wb_sql_schema.domain /
 * domain_by_oid. Any thread using db. */
int wb_sql_domain_lookup(struct sqlite3 *db, const char *name, uint32_t oid, wb_sql_domain *out);

/* A built-in type by OID: name (pg_type.typname), typlen, element type for
 * arrays (0 otherwise), array type (0 if none). Returns 0 if unknown. */
int wb_sql_type_info(uint32_t oid, const char **name, int16_t *typlen, uint32_t *elem_oid,
                     uint32_t *array_oid);
/* OID of a type name as PostgreSQL spells it ("int4", "integer",
 * "character varying", "_int4", "int4[]"), 0 if unknown. */
uint32_t wb_sql_type_oid(const char *name);

/* wb_sql_translate through a cache: the same as wb_sql_translate, except
 * that a statement whose token stream (constants lifted out) was seen
 * before is answered from the cache. Every literal the translation turned
 * into a parameter is appended as an extra parameter: stmt->nparams counts
 * only the client's $n; the engine binds stmt->lit_values[i] (text form,
 * NULL = SQL NULL) to SQLite parameter ?(nparams + 1 + i) with type
 * stmt->lit_oids[i] (see wb_sql_stmt). cache NULL = no caching. The cache
 * is not locked: one thread at a time per cache. */
/* now(), CURRENT_TIMESTAMP, CURRENT_DATE, LOCALTIMESTAMP... on db return
 * usec (microseconds since the Unix epoch, UTC) from now on: PostgreSQL's
 * now() is the start of the transaction, so the engine sets it when a
 * transaction starts and sets 0 when it ends (0: the time of each call).
 * clock_timestamp() is never fixed. Returns SQLITE_OK or an SQLite error. */
int wb_sql_set_now(struct sqlite3 *db, int64_t usec);

/* currval()/lastval() are kept per SQLite connection: when a pooled
 * connection goes to another session, call this so that the new session
 * gets PostgreSQL's 55000 "not yet defined in this session" instead of the
 * previous session's value. Returns SQLITE_OK or an SQLite error. */
int wb_sql_reset_session(struct sqlite3 *db);

/* Bind stmt->lit_values to the prepared SQLite statement (parameters
 * ?(nparams + 1 + i)). Returns SQLITE_OK or an SQLite error code. */
struct sqlite3_stmt;
int wb_sql_bind_literals(struct sqlite3_stmt *st, const wb_sql_stmt *stmt);

int wb_sql_translate_cached(wb_sql_cache *cache, const char *sql, const uint32_t *given_oids, int ngiven,
                            const wb_sql_schema *schema, wb_sql_list *out, wb_sql_error *err);

/* ---- vectors (pgvector 0.8's `vector`, src/engine/translate_vector.c) ----
 * The OID the engine gives the type `vector` (pg_type, RowDescription):
 * WB_PG_VECTOR_OID above (clear of every relation and constraint OID).
 * Stored as a BLOB of n little-endian float4. */
#define WB_SQL_OID_VECTOR WB_PG_VECTOR_OID
/* pgvector's vector_in: "[1,2,3]" (len bytes, need not be NUL-terminated)
 * -> *out (malloc'd, caller frees) and *dim. Returns 0, or -1 with err
 * holding "SQLSTATE message" (pgvector's wording). */
int wb_vec_parse(const char *s, size_t len, float **out, int *dim, char *err, size_t errlen);
/* pgvector's vector_out of dim floats: *out malloc'd, NUL-terminated,
 * *outlen bytes. Returns 0, -1 when out of memory. */
int wb_vec_format(const float *v, int dim, char **out, size_t *outlen);
/* distance kernels over contiguous float arrays of n elements */
float wb_vec_l2sq(const float *a, const float *b, int n);
float wb_vec_dot(const float *a, const float *b, int n);
float wb_vec_l1(const float *a, const float *b, int n);
double wb_vec_cosine(const float *a, const float *b, int n);
/* the vector functions (wb_vec_*, l2_distance, ..., sum/avg); called by
 * wb_sql_register */
int wb_sql_register_vector(struct sqlite3 *db);

#endif
