/* src/proxy/sql.h - what the pooling proxy must know about the SQL of a
 * simple Query (PostgreSQL 15 docs §55.2.2) to keep transaction pooling
 * true: SQL-level prepared statements (PREPARE / EXECUTE / DEALLOCATE),
 * DISCARD, LISTEN/UNLISTEN, session SET/RESET.
 *
 * Two steps, so the hot path stays cheap: wb_psql_maybe_special() is a
 * lexical pre-check (whitespace, comments, string/identifier/dollar-quoted
 * literals skipped; only the first keyword of each statement looked at;
 * false positives allowed, false negatives not); wb_psql_analyse() is the
 * real analysis with libpg_query (PostgreSQL's own parser; never regexes).
 *
 * Pure functions: no global state, any thread. Input text need not be
 * NUL-terminated; offsets are bytes into it.
 */
#ifndef WB_PROXY_SQL_H
#define WB_PROXY_SQL_H
#include <stddef.h>

enum wb_psql_kind {
    WB_PSQL_OTHER = 0,       /* nothing the proxy cares about */
    WB_PSQL_PREPARE,         /* PREPARE name [(types)] AS statement */
    WB_PSQL_EXECUTE,         /* EXECUTE name [(args)] (also CREATE TABLE AS EXECUTE: OTHER) */
    WB_PSQL_DEALLOCATE,      /* DEALLOCATE [PREPARE] name */
    WB_PSQL_DEALLOCATE_ALL,  /* DEALLOCATE [PREPARE] ALL */
    WB_PSQL_DISCARD_ALL,     /* DISCARD ALL */
    WB_PSQL_DISCARD_OTHER,   /* DISCARD PLANS / SEQUENCES / TEMP */
    WB_PSQL_LISTEN,          /* LISTEN channel */
    WB_PSQL_UNLISTEN,        /* UNLISTEN channel | * */
    WB_PSQL_SET,             /* SET [SESSION] name ... (not SET LOCAL, not SET TRANSACTION) */
    WB_PSQL_RESET,           /* RESET name */
    WB_PSQL_RESET_ALL,       /* RESET ALL */
    WB_PSQL_TXN_BEGIN,       /* BEGIN / START TRANSACTION */
    WB_PSQL_TXN_END          /* COMMIT / END / ROLLBACK / ABORT (not ... TO SAVEPOINT) */
};

/* One statement of the text. */
typedef struct wb_psql_stmt {
    int kind;          /* enum wb_psql_kind */
    size_t off, len;   /* the statement's bytes (without the terminating ';') */
    size_t name_off, name_len; /* PREPARE/EXECUTE/DEALLOCATE: the statement
                                  name as written (quoted or not), for
                                  rewriting; LISTEN/UNLISTEN: the channel;
                                  SET/RESET: the parameter; else 0, 0 */
    char name[64];     /* that name as PostgreSQL folds it (unquoted and
                          lower-cased unless quoted; NAMEDATALEN-1 bytes at
                          most, truncated as PostgreSQL does) */
    size_t body_off;   /* PREPARE: where the prepared statement's text
                          starts (after AS); it ends at off+len */
    size_t args_off;   /* PREPARE: '(' of the parameter type list, or 0
                          when there is none; EXECUTE: '(' of the
                          argument list or 0 */
} wb_psql_stmt;

/* 1 if some statement of sql[0..len) may be one of the kinds above (its
 * first keyword is PREPARE, EXECUTE, DEALLOCATE, DISCARD, LISTEN, UNLISTEN,
 * SET, RESET, BEGIN, START, COMMIT, END, ROLLBACK or ABORT), 0 if certainly
 * none. No allocation; linear in len. */
int wb_psql_maybe_special(const char *sql, size_t len);

/* Parse sql[0..len) with libpg_query and describe up to cap statements in
 * out (in order). Returns the number of statements (which may exceed cap:
 * only cap are filled), or -1 with a message in err when libpg_query
 * rejects the text (a syntax error: the proxy forwards the Query unchanged
 * and lets the server report it) or memory runs out. */
int wb_psql_analyse(const char *sql, size_t len, wb_psql_stmt *out, int cap, char *err, size_t errlen);

#endif
