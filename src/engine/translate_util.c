/* src/engine/translate_util.c - utility statements decoded into the
 * wb_sql_stmt fields the engine acts on (translate.h lists them by kind):
 * transactions, SET/SHOW/RESET, COPY, cursors, PREPARE/EXECUTE, DISCARD,
 * LISTEN/NOTIFY, databases, and the statements accepted as no-ops. */
#include "translate_internal.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NC(x) PG_QUERY__NODE__NODE_##x

int tr_translate_node(tr *t, PgQuery__Node *node, int location, int len, wb_sql_stmt *st);

static char *lower_dup(tr *t, const char *s)
{
    char *d = tr_strdup(t, s);
    if (d) for (char *p = d; *p; p++) *p = (char)tolower((unsigned char)*p);
    return d;
}

/* the text of a constant or name argument (SET x = 1, 'a', on, DEFAULT) */
static void arg_text(tr *t, PgQuery__Node *n, wb_buf *b)
{
    wb_buf *save = t->o;
    t->o = b;
    if (n->node_case == NC(A_CONST)) {
        PgQuery__AConst *c = n->a_const;
        switch (c->val_case) {
        case PG_QUERY__A__CONST__VAL_IVAL: tr_printf(t, "%d", c->ival ? c->ival->ival : 0); break;
        case PG_QUERY__A__CONST__VAL_FVAL: tr_puts(t, c->fval->fval); break;
        case PG_QUERY__A__CONST__VAL_SVAL: tr_puts(t, c->sval->sval); break;
        case PG_QUERY__A__CONST__VAL_BOOLVAL: tr_puts(t, c->boolval->boolval ? "on" : "off"); break;
        default: break;
        }
    } else if (n->node_case == NC(TYPE_CAST) && n->type_cast->arg->node_case == NC(A_CONST)) {
        /* SET TIME ZONE INTERVAL '+00:00' HOUR TO MINUTE */
        arg_text(t, n->type_cast->arg, b);
    } else if (n->node_case == NC(STRING)) {
        tr_puts(t, n->string->sval);
    } else {
        tr_fail(t, "0A000", -1, "this SET value is not supported");
    }
    t->o = save;
}

static int set_stmt(tr *t, PgQuery__VariableSetStmt *v, wb_sql_stmt *st)
{
    st->is_local = v->is_local;
    switch (v->kind) {
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE:
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT:
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_CURRENT: {
        st->kind = WB_SQL_SET;
        st->tag = tr_strdup(t, "SET");
        st->name = lower_dup(t, v->name);
        if (v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE) {
            wb_buf b = {0};
            for (size_t i = 0; i < v->n_args && !t->failed; i++) {
                if (i) { wb_buf *s = t->o; t->o = &b; tr_puts(t, ", "); t->o = s; }
                arg_text(t, v->args[i], &b);
            }
            st->value = tr_buf_take(t, &b);
        }
        return t->failed ? -1 : 0;
    }
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_MULTI: {
        /* SET TRANSACTION / SET SESSION CHARACTERISTICS AS TRANSACTION:
         * each option becomes the equivalent setting */
        st->kind = WB_SQL_SET;
        st->tag = tr_strdup(t, "SET");
        int session = v->name && !strcmp(v->name, "SESSION CHARACTERISTICS");
        for (size_t i = 0; i < v->n_args; i++) {
            if (v->args[i]->node_case != NC(DEF_ELEM)) continue;
            PgQuery__DefElem *d = v->args[i]->def_elem;
            if (st->name) break; /* one option per statement is decoded; the others are defaults */
            if (!strcmp(d->defname, "transaction_isolation") || !strcmp(d->defname, "transaction_read_only") ||
                !strcmp(d->defname, "transaction_deferrable")) {
                char nm[64];
                snprintf(nm, sizeof nm, "%s%s", session ? "default_" : "", d->defname);
                st->name = tr_strdup(t, nm);
                wb_buf b = {0};
                if (d->arg) arg_text(t, d->arg, &b);
                st->value = tr_buf_take(t, &b);
            }
        }
        if (!st->name) st->kind = WB_SQL_NOOP;
        return t->failed ? -1 : 0;
    }
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET:
        st->kind = WB_SQL_RESET;
        st->tag = tr_strdup(t, "RESET");
        st->name = lower_dup(t, v->name);
        return t->failed ? -1 : 0;
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL:
        st->kind = WB_SQL_RESET;
        st->tag = tr_strdup(t, "RESET");
        st->name = tr_strdup(t, "all");
        return t->failed ? -1 : 0;
    default:
        tr_fail(t, "0A000", -1, "this SET form is not supported");
        return -1;
    }
}

static char opt_char(tr *t, PgQuery__DefElem *d, const char *what)
{
    if (!d->arg || d->arg->node_case != NC(STRING) || strlen(d->arg->string->sval) != 1) {
        tr_fail(t, "22023", d->location, "COPY %s must be a single one-byte character", what);
        return 0;
    }
    return d->arg->string->sval[0];
}

static int opt_bool(PgQuery__DefElem *d, int *match)
{
    *match = 0;
    if (!d->arg) return 1;
    if (d->arg->node_case == NC(BOOLEAN)) return d->arg->boolean->boolval;
    if (d->arg->node_case == NC(INTEGER)) return d->arg->integer->ival != 0;
    if (d->arg->node_case == NC(STRING)) {
        const char *s = d->arg->string->sval;
        if (!strcasecmp(s, "match")) { *match = 1; return 2; }
        return !strcasecmp(s, "true") || !strcasecmp(s, "on") || !strcasecmp(s, "1") || !strcasecmp(s, "yes");
    }
    return 1;
}

static void opt_names(tr *t, PgQuery__DefElem *d, char ***names, int *n, int *all)
{
    if (d->arg && d->arg->node_case == NC(A_STAR)) { if (all) *all = 1; return; }
    if (!d->arg || d->arg->node_case != NC(LIST)) return;
    PgQuery__List *l = d->arg->list;
    *names = calloc(l->n_items + 1, sizeof **names);
    if (!*names) { tr_nomem(t); return; }
    for (size_t i = 0; i < l->n_items; i++)
        if (l->items[i]->node_case == NC(STRING)) (*names)[(*n)++] = tr_strdup(t, l->items[i]->string->sval);
}

static int copy_stmt(tr *t, PgQuery__CopyStmt *c, wb_sql_stmt *st)
{
    st->kind = WB_SQL_COPY;
    st->tag = tr_strdup(t, "COPY");
    if (c->filename || c->is_program) {
        tr_fail(t, "0A000", -1, "COPY to or from a file or program on the server is not supported (use STDIN/STDOUT)");
        return -1;
    }
    if (c->where_clause) { tr_fail(t, "0A000", -1, "COPY FROM ... WHERE is not supported"); return -1; }
    wb_sql_copy *cp = calloc(1, sizeof *cp);
    if (!cp) { tr_nomem(t); return -1; }
    st->copy = cp;
    cp->from = c->is_from;
    cp->delimiter = '\t';
    cp->quote = '"';
    cp->escape = 0;
    int delim_set = 0, null_set = 0, escape_set = 0;
    for (size_t i = 0; i < c->n_options && !t->failed; i++) {
        PgQuery__DefElem *d = c->options[i]->def_elem;
        int match;
        if (!strcmp(d->defname, "format")) {
            const char *f = d->arg && d->arg->node_case == NC(STRING) ? d->arg->string->sval : "";
            if (!strcmp(f, "text")) cp->format = 0;
            else if (!strcmp(f, "csv")) cp->format = 1;
            else if (!strcmp(f, "binary")) cp->format = 2;
            else tr_fail(t, "22023", d->location, "COPY format \"%s\" not recognized", f);
        } else if (!strcmp(d->defname, "delimiter")) { cp->delimiter = opt_char(t, d, "delimiter"); delim_set = 1; }
        else if (!strcmp(d->defname, "null")) {
            free(cp->null_string);
            cp->null_string = tr_strdup(t, d->arg && d->arg->node_case == NC(STRING) ? d->arg->string->sval : "");
            null_set = 1;
        } else if (!strcmp(d->defname, "header")) cp->header = opt_bool(d, &match);
        else if (!strcmp(d->defname, "quote")) cp->quote = opt_char(t, d, "quote");
        else if (!strcmp(d->defname, "escape")) { cp->escape = opt_char(t, d, "escape"); escape_set = 1; }
        else if (!strcmp(d->defname, "force_quote")) opt_names(t, d, &cp->force_quote, &cp->nforce_quote, &cp->force_quote_all);
        else if (!strcmp(d->defname, "force_not_null")) opt_names(t, d, &cp->force_not_null, &cp->nforce_not_null, NULL);
        else if (!strcmp(d->defname, "force_null")) opt_names(t, d, &cp->force_null, &cp->nforce_null, NULL);
        else if (!strcmp(d->defname, "freeze") || !strcmp(d->defname, "encoding")) {
            if (!strcmp(d->defname, "encoding") && d->arg && d->arg->node_case == NC(STRING) &&
                strcasecmp(d->arg->string->sval, "utf8") && strcasecmp(d->arg->string->sval, "utf-8"))
                tr_fail(t, "0A000", d->location, "COPY encoding \"%s\" is not supported (only UTF8)", d->arg->string->sval);
        } else tr_fail(t, "42601", d->location, "option \"%s\" not recognized", d->defname);
    }
    if (t->failed) return -1;
    if (cp->format == 1) {
        if (!delim_set) cp->delimiter = ',';
        if (!escape_set) cp->escape = cp->quote;
    }
    if (!null_set) cp->null_string = tr_strdup(t, cp->format == 1 ? "" : "\\N");
    if (cp->format == 2 && (delim_set || null_set || cp->header)) {
        tr_fail(t, "42601", -1, "cannot specify DELIMITER, NULL or HEADER in BINARY mode");
        return -1;
    }
    if (c->relation) {
        cp->table = tr_strdup(t, c->relation->relname);
        if (c->n_attlist) {
            cp->columns = calloc(c->n_attlist, sizeof *cp->columns);
            if (!cp->columns) { tr_nomem(t); return -1; }
            for (size_t i = 0; i < c->n_attlist; i++) cp->columns[cp->ncolumns++] = tr_strdup(t, c->attlist[i]->string->sval);
        }
        if (t->schema && t->schema->table_columns) {
            char **names = NULL; uint32_t *oids = NULL; int32_t *tms = NULL; int n = 0;
            if (!t->schema->table_columns(t->schema->ctx, cp->table, &names, &oids, &tms, &n)) {
                tr_fail(t, "42P01", c->relation->location, "relation \"%s\" does not exist", cp->table);
                return -1;
            }
            for (int k = 0; k < cp->ncolumns && !t->failed; k++) {
                int found = 0;
                for (int m = 0; m < n; m++) found |= !strcmp(names[m], cp->columns[k]);
                if (!found) tr_fail(t, "42703", -1, "column \"%s\" of relation \"%s\" does not exist", cp->columns[k], cp->table);
            }
            for (int m = 0; m < n; m++) free(names[m]);
            free(names); free(oids); free(tms);
        }
    } else if (c->query) {
        if (c->is_from) { tr_fail(t, "42601", -1, "COPY (query) FROM is not valid"); return -1; }
        wb_sql_stmt *q = calloc(1, sizeof *q);
        if (!q) { tr_nomem(t); return -1; }
        cp->query = q;
        tr sub;
        memset(&sub, 0, sizeof sub);
        sub.src = t->src; sub.schema = t->schema; sub.err = t->err;
        if (tr_translate_node(&sub, c->query, -1, 0, q) != 0) { t->failed = 1; return -1; }
        if (!q->returns_rows) { tr_fail(t, "0A000", -1, "COPY query must have a RETURNING clause or be a SELECT"); return -1; }
    }
    return t->failed ? -1 : 0;
}

static int prepare_stmt(tr *t, PgQuery__PrepareStmt *p, wb_sql_stmt *st)
{
    st->kind = WB_SQL_PREPARE;
    st->tag = tr_strdup(t, "PREPARE");
    st->name = tr_strdup(t, p->name);
    uint32_t *oids = NULL;
    if (p->n_argtypes) {
        oids = calloc(p->n_argtypes, sizeof *oids);
        if (!oids) { tr_nomem(t); return -1; }
        for (size_t i = 0; i < p->n_argtypes && !t->failed; i++) {
            int32_t tm;
            oids[i] = tr_typename(t, p->argtypes[i]->type_name, &tm);
            if (t->domain.oid) oids[i] = t->domain.oid; /* the inner translation checks it */
        }
    }
    wb_sql_stmt *in = calloc(1, sizeof *in);
    if (!in) { free(oids); tr_nomem(t); return -1; }
    st->inner = in;
    if (!t->failed) {
        tr sub;
        memset(&sub, 0, sizeof sub);
        sub.src = t->src; sub.schema = t->schema; sub.err = t->err;
        sub.given_internal = oids; sub.ngiven_internal = (int)p->n_argtypes;
        if (tr_translate_node(&sub, p->query, -1, 0, in) != 0) t->failed = 1;
    }
    if (!t->failed && in->nparams < (int)p->n_argtypes) {
        /* declared but unused parameters still count */
        uint32_t *np = realloc(in->param_oids, p->n_argtypes * sizeof *np);
        if (!np) tr_nomem(t);
        else {
            for (size_t i = (size_t)in->nparams; i < p->n_argtypes; i++) np[i] = oids[i];
            in->param_oids = np;
            in->nparams = (int)p->n_argtypes;
        }
    }
    if (!t->failed) {
        st->param_oids = oids;
        st->nparams = (int)p->n_argtypes;
        oids = NULL;
    }
    free(oids);
    return t->failed ? -1 : 0;
}

static int execute_stmt(tr *t, PgQuery__ExecuteStmt *e, wb_sql_stmt *st)
{
    st->kind = WB_SQL_EXECUTE;
    st->tag = tr_strdup(t, "EXECUTE");
    st->name = tr_strdup(t, e->name);
    if (e->n_params) {
        st->args = calloc(e->n_params, sizeof *st->args);
        if (!st->args) { tr_nomem(t); return -1; }
        for (size_t i = 0; i < e->n_params && !t->failed; i++) {
            wb_buf b = {0};
            wb_buf *save = t->o;
            t->o = &b;
            tr_expr(t, e->params[i]);
            t->o = save;
            st->args[st->nargs++] = tr_buf_take(t, &b);
        }
    }
    return t->failed ? -1 : 0;
}

int tr_stmt_utility(tr *t, PgQuery__Node *n, wb_sql_stmt *st)
{
    switch (n->node_case) {
    case NC(TRANSACTION_STMT): {
        PgQuery__TransactionStmt *x = n->transaction_stmt;
        switch (x->kind) {
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN: st->kind = WB_SQL_BEGIN; st->tag = tr_strdup(t, "BEGIN"); break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START: st->kind = WB_SQL_BEGIN; st->tag = tr_strdup(t, "START TRANSACTION"); break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT: st->kind = WB_SQL_COMMIT; st->tag = tr_strdup(t, "COMMIT"); break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK: st->kind = WB_SQL_ROLLBACK; st->tag = tr_strdup(t, "ROLLBACK"); break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT: st->kind = WB_SQL_SAVEPOINT; st->tag = tr_strdup(t, "SAVEPOINT"); break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE: st->kind = WB_SQL_RELEASE; st->tag = tr_strdup(t, "RELEASE"); break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO: st->kind = WB_SQL_ROLLBACK_TO; st->tag = tr_strdup(t, "ROLLBACK"); break;
        default: tr_fail(t, "0A000", -1, "two-phase commit is not supported"); return -1;
        }
        if (x->chain) { tr_fail(t, "0A000", -1, "AND CHAIN is not supported"); return -1; }
        if (x->savepoint_name) st->name = tr_strdup(t, x->savepoint_name);
        /* BEGIN ISOLATION LEVEL ... / READ ONLY: SQLite transactions are
         * serializable; the options are accepted */
        return t->failed ? -1 : 0;
    }
    case NC(VARIABLE_SET_STMT): return set_stmt(t, n->variable_set_stmt, st);
    case NC(VARIABLE_SHOW_STMT):
        st->kind = WB_SQL_SHOW;
        st->tag = tr_strdup(t, "SHOW");
        st->name = lower_dup(t, n->variable_show_stmt->name);
        st->returns_rows = 1;
        return t->failed ? -1 : 0;
    case NC(COPY_STMT): return copy_stmt(t, n->copy_stmt, st);
    case NC(DECLARE_CURSOR_STMT): {
        PgQuery__DeclareCursorStmt *d = n->declare_cursor_stmt;
        st->kind = WB_SQL_DECLARE;
        st->tag = tr_strdup(t, "DECLARE CURSOR");
        st->name = tr_strdup(t, d->portalname);
        st->cursor_flags = ((d->options & 0x1) ? 1 : 0) | ((d->options & 0x2) ? 2 : 0) | ((d->options & 0x20) ? 4 : 0);
        wb_sql_stmt *in = calloc(1, sizeof *in);
        if (!in) { tr_nomem(t); return -1; }
        st->inner = in;
        tr sub;
        memset(&sub, 0, sizeof sub);
        sub.src = t->src; sub.schema = t->schema; sub.err = t->err;
        sub.given_internal = t->given_internal; sub.ngiven_internal = t->ngiven_internal;
        if (tr_translate_node(&sub, d->query, -1, 0, in) != 0) { t->failed = 1; return -1; }
        /* DECLARE's own parameters are the cursor query's */
        if (in->nparams) {
            st->param_oids = malloc((size_t)in->nparams * sizeof *st->param_oids);
            if (!st->param_oids) { tr_nomem(t); return -1; }
            memcpy(st->param_oids, in->param_oids, (size_t)in->nparams * sizeof *st->param_oids);
            st->nparams = in->nparams;
        }
        return 0;
    }
    case NC(FETCH_STMT): {
        PgQuery__FetchStmt *f = n->fetch_stmt;
        st->kind = f->ismove ? WB_SQL_MOVE : WB_SQL_FETCH;
        st->tag = tr_strdup(t, f->ismove ? "MOVE" : "FETCH");
        st->name = tr_strdup(t, f->portalname);
        st->fetch_direction = f->direction >= 1 && f->direction <= 4 ? (int)f->direction - 1 : 0;
        st->fetch_count = f->how_many >= INT64_MAX / 2 || f->how_many == 0x7fffffffffffffffLL ? INT64_MAX : f->how_many;
        if (!f->ismove) st->returns_rows = 1;
        return t->failed ? -1 : 0;
    }
    case NC(CLOSE_PORTAL_STMT):
        st->kind = WB_SQL_CLOSE_CURSOR;
        st->tag = tr_strdup(t, n->close_portal_stmt->portalname ? "CLOSE CURSOR" : "CLOSE CURSOR ALL");
        st->name = tr_strdup(t, n->close_portal_stmt->portalname);
        return t->failed ? -1 : 0;
    case NC(PREPARE_STMT): return prepare_stmt(t, n->prepare_stmt, st);
    case NC(EXECUTE_STMT): return execute_stmt(t, n->execute_stmt, st);
    case NC(DEALLOCATE_STMT):
        st->kind = WB_SQL_DEALLOCATE;
        st->tag = tr_strdup(t, n->deallocate_stmt->name ? "DEALLOCATE" : "DEALLOCATE ALL");
        st->name = tr_strdup(t, n->deallocate_stmt->name);
        return t->failed ? -1 : 0;
    case NC(DISCARD_STMT): {
        static const char *const modes[] = {"all", "all", "plans", "sequences", "temp"};
        static const char *const tags[] = {"DISCARD ALL", "DISCARD ALL", "DISCARD PLANS", "DISCARD SEQUENCES", "DISCARD TEMP"};
        int m = n->discard_stmt->target;
        if (m < 0 || m > 4) m = 1;
        st->kind = WB_SQL_DISCARD;
        st->tag = tr_strdup(t, tags[m]);
        st->name = tr_strdup(t, modes[m]);
        return t->failed ? -1 : 0;
    }
    case NC(LISTEN_STMT):
        st->kind = WB_SQL_LISTEN;
        st->tag = tr_strdup(t, "LISTEN");
        st->name = tr_strdup(t, n->listen_stmt->conditionname);
        return t->failed ? -1 : 0;
    case NC(UNLISTEN_STMT):
        st->kind = WB_SQL_UNLISTEN;
        st->tag = tr_strdup(t, "UNLISTEN");
        st->name = tr_strdup(t, n->unlisten_stmt->conditionname);
        return t->failed ? -1 : 0;
    case NC(NOTIFY_STMT):
        st->kind = WB_SQL_NOTIFY;
        st->tag = tr_strdup(t, "NOTIFY");
        st->name = tr_strdup(t, n->notify_stmt->conditionname);
        st->value = tr_strdup(t, n->notify_stmt->payload);
        return t->failed ? -1 : 0;
    case NC(CREATEDB_STMT):
        st->kind = WB_SQL_CREATE_DATABASE;
        st->tag = tr_strdup(t, "CREATE DATABASE");
        st->name = tr_strdup(t, n->createdb_stmt->dbname);
        return t->failed ? -1 : 0;
    case NC(DROPDB_STMT):
        st->kind = WB_SQL_DROP_DATABASE;
        st->tag = tr_strdup(t, "DROP DATABASE");
        st->name = tr_strdup(t, n->dropdb_stmt->dbname);
        st->if_exists = n->dropdb_stmt->missing_ok;
        return t->failed ? -1 : 0;
    case NC(VACUUM_STMT):
        st->kind = WB_SQL_NOOP;
        st->tag = tr_strdup(t, n->vacuum_stmt->is_vacuumcmd ? "VACUUM" : "ANALYZE");
        return t->failed ? -1 : 0;
    case NC(CHECK_POINT_STMT): st->kind = WB_SQL_NOOP; st->tag = tr_strdup(t, "CHECKPOINT"); return t->failed ? -1 : 0;
    case NC(LOCK_STMT): st->kind = WB_SQL_NOOP; st->tag = tr_strdup(t, "LOCK TABLE"); return t->failed ? -1 : 0;
    case NC(COMMENT_STMT): st->kind = WB_SQL_NOOP; st->tag = tr_strdup(t, "COMMENT"); return t->failed ? -1 : 0;
    case NC(GRANT_STMT):
        st->kind = WB_SQL_NOOP;
        st->tag = tr_strdup(t, n->grant_stmt->is_grant ? "GRANT" : "REVOKE");
        return t->failed ? -1 : 0;
    case NC(CREATE_EXTENSION_STMT):
        if (!strcmp(n->create_extension_stmt->extname, "plpgsql")) { /* pg_extension lists it from the start */
            st->kind = WB_SQL_NOOP;
            st->tag = tr_strdup(t, "CREATE EXTENSION");
            return t->failed ? -1 : 0;
        }
        if (!strcmp(n->create_extension_stmt->extname, "vector")) {
            /* the vector type is always there; the database records that
             * the extension was created so pg_extension (psql \dx) lists
             * it (translate_catalog.c reads wb_extensions) */
            st->tag = tr_strdup(t, "CREATE EXTENSION");
            tr_add_pre(t, tr_strdup(t, "CREATE TABLE IF NOT EXISTS wb_extensions (name text PRIMARY KEY, version text NOT NULL)"));
            /* without IF NOT EXISTS a second CREATE EXTENSION fails as in
             * PostgreSQL (42710); with it, it is a no-op */
            if (!n->create_extension_stmt->if_not_exists)
                tr_add_pre(t, tr_strdup(t, "SELECT wb_raise('42710 extension \"vector\" already exists') "
                                           "FROM wb_extensions WHERE name = 'vector'"));
            tr_add_pre(t, tr_strdup(t, "INSERT OR IGNORE INTO wb_extensions VALUES ('vector', '0.8.0')"));
            return t->failed ? -1 : 0;
        }
        tr_fail(t, "0A000", -1, "extension \"%s\" is not available", n->create_extension_stmt->extname);
        return -1;
    case NC(CREATE_SCHEMA_STMT):
        if (n->create_schema_stmt->schemaname && !strcmp(n->create_schema_stmt->schemaname, "public") &&
            n->create_schema_stmt->if_not_exists && !n->create_schema_stmt->n_schema_elts) {
            st->kind = WB_SQL_NOOP;
            st->tag = tr_strdup(t, "CREATE SCHEMA");
            return t->failed ? -1 : 0;
        }
        tr_fail(t, "0A000", -1, "schemas other than public are not supported");
        return -1;
    default:
        return 1;
    }
}
