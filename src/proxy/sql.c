/* src/proxy/sql.c - sql.h: the pooling proxy's view of a simple Query's SQL.
 *
 * wb_psql_maybe_special mirrors the hiding rules of PostgreSQL 15's lexer
 * (src/backend/parser/scan.l) - whitespace [ \t\n\r\f], "--" comments to
 * the end of the line, nested slash-star comments, 'strings' (with ''),
 * E'strings' (backslash escapes), B'' X'' N'' U&'' strings, a string's
 * continuation across a newline ('a'<newline>'b' is one string, in the first
 * one's mode), "identifiers" and U&"identifiers", $tag$dollar quotes$tag$,
 * $1 parameters - so that it sees every ';' the parser sees and every
 * statement's first word. It splits at every ';' outside those (a ';' the
 * parser would not split at, as in CREATE RULE ... (a; b), only adds a
 * statement start: a false positive, never a false negative). Strings follow
 * standard_conforming_strings = on, as libpg_query does (and PostgreSQL by
 * default since 9.1).
 *
 * wb_psql_analyse parses with libpg_query (pg_query_parse_protobuf) and
 * takes the statement kinds from the parse tree; byte ranges come from
 * RawStmt (stmt_location, stmt_len) and, for names, which the tree holds
 * without a location, from libpg_query's scanner (pg_query_scan) over the
 * same text. A statement's range is its first token to its last one
 * (comments and whitespace around it left out).
 *
 * Classification beyond sql.h's comments: PREPARE TRANSACTION ends the
 * session's transaction block and is WB_PSQL_TXN_END; COMMIT PREPARED /
 * ROLLBACK PREPARED run outside a transaction block and are OTHER, as are
 * SAVEPOINT, RELEASE, ROLLBACK TO, SET LOCAL, SET TRANSACTION, SET SESSION
 * CHARACTERISTICS, EXPLAIN EXECUTE and CREATE TABLE AS EXECUTE.
 */
#include "sql.h"
#include <limits.h>
#include <stdarg.h>
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------- the lexical pre-check ---------- */

/* Byte classes of scan.l: 'W' ident_start [A-Za-z\200-\377_], 'D' digit,
 * 's' space [ \t\n\r\f] (not \v: PostgreSQL 15), the bytes that can
 * start a comment, a quoted token or a statement as themselves, '.' any
 * other (a one-byte token for this purpose). */
static const char cls[257] =
    ".........ss.ss.................."
    "s.\".$..\'.....-./DDDDDDDDDD.;...."
    ".WWWWWWWWWWWWWWWWWWWWWWWWWW....W"
    ".WWWWWWWWWWWWWWWWWWWWWWWWWW....."
    "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW"
    "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW"
    "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW"
    "WWWWWWWWWWWWWWWWWWWWWWWWWWWWWWWW";
static int is_space(unsigned char c) { return cls[c] == 's'; }
static int is_ident_start(unsigned char c) { return cls[c] == 'W'; }
/* ident_cont [A-Za-z\200-\377_0-9\$] */
static int is_ident_cont(unsigned char c) { return cls[c] == 'W' || cls[c] == 'D' || c == '$'; }
static int is_digit(unsigned char c) { return cls[c] == 'D'; }
static unsigned char lower(unsigned char c) { return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c; }

/* Past whitespace and comments from i (an unterminated comment runs to n). */
static size_t skip_space(const char *s, size_t n, size_t i)
{
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (is_space(c)) {
            i++;
        } else if (c == '-' && i + 1 < n && s[i + 1] == '-') {
            i += 2;
            while (i < n && s[i] != '\n' && s[i] != '\r') i++;
        } else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
            size_t depth = 1;
            i += 2;
            while (i < n && depth > 0) {
                if (s[i] == '*' && i + 1 < n && s[i + 1] == '/') { depth--; i += 2; }
                else if (s[i] == '/' && i + 1 < n && s[i + 1] == '*') { depth++; i += 2; }
                else i++;
            }
        } else {
            break;
        }
    }
    return i;
}

/* After a string's closing quote at k-1: scan.l's quotecontinue, whitespace
 * holding a newline ("--" comments allowed, slash-star not) and another
 * quote continue the same string. Returns the index after that quote, or 0. */
static size_t quote_continue(const char *s, size_t n, size_t k)
{
    int newline = 0;
    while (k < n) {
        char c = s[k];
        if (c == ' ' || c == '\t' || c == '\f') k++;
        else if (c == '\n' || c == '\r') { newline = 1; k++; }
        else if (c == '-' && k + 1 < n && s[k + 1] == '-') {
            k += 2;
            while (k < n && s[k] != '\n' && s[k] != '\r') k++;
        } else if (c == '\'' && newline) return k + 1;
        else break;
    }
    return 0;
}

/* A string whose opening quote is at i-1; esc: backslash escapes (E'').
 * Returns the index after the closing quote (n when unterminated). */
static size_t string_end(const char *s, size_t n, size_t i, int esc)
{
    for (;;) {
        while (i < n) {
            if (esc && s[i] == '\\') {
                i += 2;
            } else if (s[i] == '\'') {
                if (i + 1 < n && s[i + 1] == '\'') i += 2;
                else break;
            } else {
                i++;
            }
        }
        if (i >= n) return n;
        size_t c = quote_continue(s, n, i + 1);
        if (!c) return i + 1;
        i = c;
    }
}

/* A quoted identifier whose opening '"' is at i-1. */
static size_t ident_end(const char *s, size_t n, size_t i)
{
    while (i < n) {
        if (s[i] == '"') {
            if (i + 1 < n && s[i + 1] == '"') i += 2;
            else return i + 1;
        } else {
            i++;
        }
    }
    return n;
}

/* The end of the token starting at i (not whitespace, not a comment). Only
 * what can hide a ';', a comment or a word matters: other characters are
 * tokens of one byte (an operator's "--" or slash-star starts a comment
 * even inside the operator, scan.l's operator rule). */
static size_t token_end(const char *s, size_t n, size_t i)
{
    unsigned char c = (unsigned char)s[i];
    if (is_ident_start(c)) {
        size_t j = i + 1;
        while (j < n && is_ident_cont((unsigned char)s[j])) j++;
        if (j - i == 1 && j < n) {
            unsigned char p = lower(c);
            if (s[j] == '\'') {
                if (p == 'e') return string_end(s, n, j + 1, 1);
                if (p == 'b' || p == 'x' || p == 'n') return string_end(s, n, j + 1, 0);
            }
            if (p == 'u' && s[j] == '&' && j + 1 < n) {
                if (s[j + 1] == '\'') return string_end(s, n, j + 2, 0);
                if (s[j + 1] == '"') return ident_end(s, n, j + 2);
            }
        }
        return j;
    }
    if (is_digit(c)) {
        size_t j = i + 1;
        while (j < n && is_digit((unsigned char)s[j])) j++;
        return j;
    }
    if (c == '\'') return string_end(s, n, i + 1, 0);
    if (c == '"') return ident_end(s, n, i + 1);
    if (c == '$') {
        size_t j = i + 1;
        if (j < n && is_digit((unsigned char)s[j])) {
            while (j < n && is_digit((unsigned char)s[j])) j++;
            return j;
        }
        /* dolqdelim \$({dolq_start}{dolq_cont}*)?\$ */
        if (j < n && is_ident_start((unsigned char)s[j])) {
            j++;
            while (j < n && is_ident_cont((unsigned char)s[j]) && s[j] != '$') j++;
        }
        if (j < n && s[j] == '$') {
            size_t dl = j + 1 - i; /* the delimiter, both '$' included */
            /* the first later occurrence of the same delimiter closes it
             * (every '$' inside starts a scan.l token, so this is exact) */
            for (size_t k = j + 1; k + dl <= n; k++)
                if (s[k] == '$' && memcmp(s + k, s + i, dl) == 0) return k + dl;
            return n;
        }
        return i + 1;
    }
    return i + 1;
}

static int word_is(const char *w, size_t wl, const char *kw)
{
    size_t kl = strlen(kw);
    if (wl != kl) return 0;
    for (size_t i = 0; i < kl; i++)
        if (lower((unsigned char)w[i]) != (unsigned char)kw[i]) return 0;
    return 1;
}

static int special_word(const char *w, size_t wl)
{
    if (wl < 3 || wl > 10) return 0;
    switch (lower((unsigned char)w[0])) {
    case 'a': return word_is(w, wl, "abort");
    case 'b': return word_is(w, wl, "begin");
    case 'c': return word_is(w, wl, "commit");
    case 'd': return word_is(w, wl, "deallocate") || word_is(w, wl, "discard");
    case 'e': return word_is(w, wl, "execute") || word_is(w, wl, "end");
    case 'l': return word_is(w, wl, "listen");
    case 'p': return word_is(w, wl, "prepare");
    case 'r': return word_is(w, wl, "reset") || word_is(w, wl, "rollback");
    case 's': return word_is(w, wl, "set") || word_is(w, wl, "start");
    case 'u': return word_is(w, wl, "unlisten");
    default: return 0;
    }
}

/* The hot path (every simple Query the proxy relays): one pass, a byte
 * class per byte; words scanned whole (an identifier's '$' is not a dollar
 * quote), the rest through token_end/skip_space. */
int wb_psql_maybe_special(const char *sql, size_t len)
{
    const unsigned char *s = (const unsigned char *)sql;
    int at_start = 1;
    size_t i = 0;
    while (i < len) {
        switch (cls[s[i]]) {
        case 's':
            i++;
            continue;
        case ';':
            at_start = 1;
            i++;
            continue;
        case 'W': {
            size_t j = i + 1;
            while (j < len && is_ident_cont(s[j])) j++;
            if (at_start && special_word(sql + i, j - i)) return 1;
            at_start = 0;
            /* E'' B'' X'' N'' U&'' U&"" */
            i = j - i == 1 && j < len && (s[j] == '\'' || s[j] == '&') ? token_end(sql, len, i) : j;
            continue;
        }
        case '-':
        case '/':
            if (i + 1 < len && s[i + 1] == (s[i] == '-' ? '-' : '*')) {
                i = skip_space(sql, len, i);
                continue;
            }
            break;
        case '.':
            break;
        default: /* a digit, ' " $ */
            i = token_end(sql, len, i);
            at_start = 0;
            continue;
        }
        at_start = 0;
        i++;
    }
    return 0;
}

/* ---------- the analysis (libpg_query) ---------- */

typedef struct tok {
    size_t start, end;
    int token; /* PgQuery__Token */
} tok;

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The name folded as PostgreSQL's parser does for an identifier token:
 * unquoted ASCII letters lower-cased, "quoted" taken as is with "" -> ";
 * NAMEDATALEN-1 = 63 bytes at most, cut at a UTF-8 character boundary.
 * Returns 0, or -1 when the token is not a plain identifier (U&"...", a
 * string, ...). */
static int fold_ident(const char *s, const tok *t, char *out, size_t outcap, size_t *outlen)
{
    size_t o = *outlen;
    size_t i = t->start, e = t->end;
    size_t first = o;
    if (e > i && s[i] == '"') {
        if (e - i < 2 || s[e - 1] != '"') return -1;
        for (i++; i < e - 1; i++) {
            if (s[i] == '"') i++; /* "" */
            if (o + 1 < outcap) out[o++] = s[i];
        }
    } else {
        for (; i < e; i++) {
            unsigned char c = (unsigned char)s[i];
            if (!is_ident_cont(c)) return -1;
            if (o + 1 < outcap) out[o++] = (char)lower(c);
        }
    }
    if (o - first > 63) {
        o = first + 63; /* not inside a character */
        while (o > first && ((unsigned char)out[o] & 0xC0) == 0x80) o--;
    }
    *outlen = o;
    out[o] = 0;
    return 0;
}

static void copy_name(char dst[64], const char *src)
{
    size_t l = strlen(src);
    if (l > 63) {
        l = 63;
        while (l > 0 && ((unsigned char)src[l] & 0xC0) == 0x80) l--; /* not inside a character */
    }
    memcpy(dst, src, l);
    dst[l] = 0;
}

static int tok_is(const char *s, const tok *t, const char *kw) { return word_is(s + t->start, t->end - t->start, kw); }

static void name_range(wb_psql_stmt *st, const tok *t)
{
    st->name_off = t->start;
    st->name_len = t->end - t->start;
}

/* SET/RESET: the parameter's tokens from index a, spelled as the parse tree
 * names it (name): a var_name (ColId ('.' ColId)*) or one of the grammar's
 * special forms. Returns the index after the last token, or 0. */
static size_t match_var(const char *s, const tok *tk, size_t nt, size_t a, const char *name)
{
    static const struct { const char *name; const char *words[3]; } forms[] = {
        {"timezone", {"time", "zone", NULL}},
        {"client_encoding", {"names", NULL, NULL}},
        {"search_path", {"schema", NULL, NULL}},
        {"session_authorization", {"session", "authorization", NULL}},
        {"xmloption", {"xml", "option", NULL}},
        {"transaction_isolation", {"transaction", "isolation", "level"}},
    };
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
        if (strcmp(forms[f].name, name) != 0) continue;
        size_t k = a;
        int w = 0;
        while (w < 3 && forms[f].words[w] && k < nt && tok_is(s, &tk[k], forms[f].words[w])) { w++; k++; }
        if (w == 3 || !forms[f].words[w]) return k;
    }
    char buf[256];
    size_t bl = 0;
    size_t k = a;
    for (;;) {
        if (k >= nt || fold_ident(s, &tk[k], buf, sizeof buf, &bl) != 0) return 0;
        k++;
        if (strcmp(buf, name) == 0) return k;
        if (k >= nt || tk[k].end - tk[k].start != 1 || s[tk[k].start] != '.') return 0;
        if (bl + 1 < sizeof buf) buf[bl++] = '.';
        buf[bl] = 0;
        k++;
    }
}

/* Fill st's name range (and PREPARE's body/args) from the statement's
 * tokens tk[0..nt) (comments left out). */
static void locate(const char *s, const tok *tk, size_t nt, wb_psql_stmt *st, const char *treename)
{
    switch (st->kind) {
    case WB_PSQL_PREPARE: {
        if (nt < 2) return;
        name_range(st, &tk[1]);
        size_t k = 2;
        if (k < nt && tk[k].end - tk[k].start == 1 && s[tk[k].start] == '(') {
            st->args_off = tk[k].start;
            int depth = 0;
            for (; k < nt; k++) {
                char c = tk[k].end - tk[k].start == 1 ? s[tk[k].start] : 0;
                if (c == '(') depth++;
                else if (c == ')' && --depth == 0) { k++; break; }
            }
        }
        if (k < nt && tok_is(s, &tk[k], "as") && k + 1 < nt) st->body_off = tk[k + 1].start;
        break;
    }
    case WB_PSQL_EXECUTE:
        if (nt < 2) return;
        name_range(st, &tk[1]);
        if (nt > 2 && tk[2].end - tk[2].start == 1 && s[tk[2].start] == '(') st->args_off = tk[2].start;
        break;
    case WB_PSQL_DEALLOCATE:
    case WB_PSQL_LISTEN:
        /* DEALLOCATE [PREPARE] name, LISTEN channel: the last token */
        if (nt >= 2) name_range(st, &tk[nt - 1]);
        break;
    case WB_PSQL_UNLISTEN:
        if (nt >= 2 && treename[0]) name_range(st, &tk[nt - 1]);
        break;
    case WB_PSQL_SET:
    case WB_PSQL_RESET: {
        /* SET [SESSION] var ..., RESET var */
        for (size_t a = 1; a <= 2 && a < nt; a++) {
            size_t e = match_var(s, tk, nt, a, treename);
            if (e) {
                st->name_off = tk[a].start;
                st->name_len = tk[e - 1].end - tk[a].start;
                return;
            }
            if (st->kind == WB_PSQL_RESET || !tok_is(s, &tk[1], "session")) break;
        }
        /* not spelled as the tree names it (U&"..." escapes): the token after
         * SET [SESSION] / RESET */
        size_t a = st->kind == WB_PSQL_SET && nt > 2 && tok_is(s, &tk[1], "session") ? 2 : 1;
        if (a < nt) name_range(st, &tk[a]);
        break;
    }
    default:
        break;
    }
}

/* Kind and the tree's name of one parsed statement. */
static int classify(const PgQuery__Node *n, const char **name)
{
    *name = "";
    if (!n) return WB_PSQL_OTHER;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_PREPARE_STMT:
        *name = n->prepare_stmt->name;
        return WB_PSQL_PREPARE;
    case PG_QUERY__NODE__NODE_EXECUTE_STMT:
        *name = n->execute_stmt->name;
        return WB_PSQL_EXECUTE;
    case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
        *name = n->deallocate_stmt->name;
        return (*name)[0] ? WB_PSQL_DEALLOCATE : WB_PSQL_DEALLOCATE_ALL;
    case PG_QUERY__NODE__NODE_DISCARD_STMT:
        return n->discard_stmt->target == PG_QUERY__DISCARD_MODE__DISCARD_ALL ? WB_PSQL_DISCARD_ALL
                                                                             : WB_PSQL_DISCARD_OTHER;
    case PG_QUERY__NODE__NODE_LISTEN_STMT:
        *name = n->listen_stmt->conditionname;
        return WB_PSQL_LISTEN;
    case PG_QUERY__NODE__NODE_UNLISTEN_STMT:
        *name = n->unlisten_stmt->conditionname; /* "" for UNLISTEN * */
        return WB_PSQL_UNLISTEN;
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT: {
        const PgQuery__VariableSetStmt *v = n->variable_set_stmt;
        *name = v->name;
        switch (v->kind) {
        case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE:
        case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT:
        case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_CURRENT:
            return v->is_local ? WB_PSQL_OTHER : WB_PSQL_SET;
        case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET: return WB_PSQL_RESET;
        case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL: *name = ""; return WB_PSQL_RESET_ALL;
        default: *name = ""; return WB_PSQL_OTHER; /* SET TRANSACTION, SESSION CHARACTERISTICS */
        }
    }
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
        switch (n->transaction_stmt->kind) {
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START: return WB_PSQL_TXN_BEGIN;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE: return WB_PSQL_TXN_END;
        default: return WB_PSQL_OTHER;
        }
    default:
        return WB_PSQL_OTHER;
    }
}

int wb_psql_analyse(const char *sql, size_t len, wb_psql_stmt *out, int cap, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (len >= INT_MAX) {
        set_err(err, errlen, "query text of %zu bytes: more than libpg_query takes", len);
        return -1;
    }
    if (len && memchr(sql, 0, len)) {
        /* a Query message's string ends at its first NUL (PostgreSQL 15
         * docs §55.7): the server rejects such a message */
        set_err(err, errlen, "query text holds a zero byte at offset %zu",
                (size_t)((const char *)memchr(sql, 0, len) - sql));
        return -1;
    }
    char *text = malloc(len + 1);
    if (!text) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    if (len) memcpy(text, sql, len); /* sql may be NULL when len is 0 */
    text[len] = 0;

    int result = -1;
    PgQuery__ParseResult *tree = NULL;
    PgQuery__ScanResult *scan = NULL;
    tok *toks = NULL;
    PgQueryScanResult sr = {0};
    int scanned = 0;
    PgQueryProtobufParseResult pr = pg_query_parse_protobuf(text);
    if (pr.error) {
        set_err(err, errlen, "%s (at character %d)", pr.error->message ? pr.error->message : "syntax error",
                pr.error->cursorpos);
        goto done;
    }
    tree = pg_query__parse_result__unpack(NULL, pr.parse_tree.len, (const uint8_t *)pr.parse_tree.data);
    if (!tree) {
        set_err(err, errlen, "out of memory");
        goto done;
    }
    if (tree->n_stmts > (size_t)INT_MAX) {
        set_err(err, errlen, "too many statements");
        goto done;
    }
    int nstmts = (int)tree->n_stmts;
    size_t ntoks = 0;
    for (int si = 0; si < nstmts && si < cap; si++) {
        const PgQuery__RawStmt *rs = tree->stmts[si];
        wb_psql_stmt *st = &out[si];
        memset(st, 0, sizeof *st);
        const char *treename;
        st->kind = classify(rs->stmt, &treename);
        if (st->kind == WB_PSQL_OTHER) treename = "";
        size_t from = rs->stmt_location < 0 ? 0 : (size_t)rs->stmt_location;
        size_t to = rs->stmt_len > 0 ? from + (size_t)rs->stmt_len : len;
        if (from > len) from = len;
        if (to > len) to = len;
        if (!scanned) {
            /* the whole text once: every statement's tokens, comments out */
            scanned = 1;
            sr = pg_query_scan(text);
            if (sr.error) {
                set_err(err, errlen, "%s (at character %d)", sr.error->message ? sr.error->message : "scanner error",
                        sr.error->cursorpos);
                goto done;
            }
            scan = pg_query__scan_result__unpack(NULL, sr.pbuf.len, (const uint8_t *)sr.pbuf.data);
            if (!scan || !(toks = malloc((scan->n_tokens ? scan->n_tokens : 1) * sizeof *toks))) {
                set_err(err, errlen, "out of memory");
                goto done;
            }
            for (size_t k = 0; k < scan->n_tokens; k++) {
                const PgQuery__ScanToken *t = scan->tokens[k];
                if (t->token == PG_QUERY__TOKEN__SQL_COMMENT || t->token == PG_QUERY__TOKEN__C_COMMENT) continue;
                if (t->start < 0 || (size_t)t->start >= len) continue;
                tok *o = &toks[ntoks++];
                o->start = (size_t)t->start;
                o->token = t->token;
                /* libpg_query's scanner ends U&"..." / U&'...' after the U:
                 * their end is ours */
                if (t->token == PG_QUERY__TOKEN__UIDENT || t->token == PG_QUERY__TOKEN__USCONST ||
                    t->end <= t->start || (size_t)t->end > len)
                    o->end = token_end(text, len, o->start);
                else
                    o->end = (size_t)t->end;
            }
        }
        /* this statement's tokens: a binary search for the first */
        size_t lo = 0, hi = ntoks;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            if (toks[mid].start < from) lo = mid + 1;
            else hi = mid;
        }
        size_t end = lo;
        while (end < ntoks && toks[end].start < to) end++;
        if (end > lo) {
            st->off = toks[lo].start;
            st->len = toks[end - 1].end - st->off;
        } else {
            st->off = from;
            st->len = to - from;
        }
        copy_name(st->name, treename);
        locate(text, toks + lo, end - lo, st, treename);
    }
    result = nstmts;
done:
    free(toks);
    if (scan) pg_query__scan_result__free_unpacked(scan, NULL);
    if (scanned) pg_query_free_scan_result(sr);
    if (tree) pg_query__parse_result__free_unpacked(tree, NULL);
    pg_query_free_protobuf_parse_result(pr);
    free(text);
    return result;
}
