/* fuzz/fuzz_sql_translate.c - libFuzzer target: any bytes as a Query
 * string through wb_sql_translate (with a small fake schema) and the
 * cache; nothing may crash, leak or read out of bounds. */
#include "translate.h"
#include <stdlib.h>
#include <string.h>

static int col_type(void *ctx, const char *table, const char *column, uint32_t *oid, int32_t *typmod)
{
    (void)ctx;
    if (strcmp(table, "t")) return 0;
    *typmod = -1;
    if (!strcmp(column, "a")) { *oid = 23; return 1; }
    if (!strcmp(column, "b")) { *oid = 25; return 1; }
    if (!strcmp(column, "c")) { *oid = 1043; *typmod = 12; return 1; }
    return 0;
}

static int table_cols(void *ctx, const char *table, char ***names, uint32_t **oids, int32_t **typmods, int *n)
{
    (void)ctx;
    if (strcmp(table, "t")) return 0;
    *names = malloc(2 * sizeof **names);
    *oids = malloc(2 * sizeof **oids);
    *typmods = malloc(2 * sizeof **typmods);
    (*names)[0] = strdup("a"); (*names)[1] = strdup("b");
    (*oids)[0] = 23; (*oids)[1] = 25;
    (*typmods)[0] = (*typmods)[1] = -1;
    *n = 2;
    return 1;
}

/* one domain, "d" over varchar(8) with NOT NULL and a CHECK, which
 * column t.c is of: the domain paths (declarations, casts, parameters) */
static int domain(void *ctx, const char *name, wb_sql_domain *out)
{
    (void)ctx;
    if (strcmp(name, "d")) return 0;
    *out = (wb_sql_domain){.oid = WB_SQL_DOMAIN_OID_MIN + 1, .base_oid = 1043, .base_typmod = 12, .not_null = 1,
                           .has_default = 1, .has_check = 1};
    return 1;
}
static int domain_by_oid(void *ctx, uint32_t oid, wb_sql_domain *out)
{
    return oid == WB_SQL_DOMAIN_OID_MIN + 1 && domain(ctx, "d", out);
}
static uint32_t column_domain(void *ctx, const char *table, const char *column)
{
    (void)ctx;
    return !strcmp(table, "t") && !strcmp(column, "c") ? WB_SQL_DOMAIN_OID_MIN + 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sql = malloc(size + 1);
    if (!sql) return 0;
    memcpy(sql, data, size);
    sql[size] = 0;
    wb_sql_schema schema;
    memset(&schema, 0, sizeof schema);
    schema.column_type = col_type;
    schema.table_columns = table_cols;
    schema.domain = domain;
    schema.domain_by_oid = domain_by_oid;
    schema.column_domain = column_domain;
    wb_sql_list l;
    wb_sql_error e;
    if (wb_sql_translate(sql, NULL, 0, &schema, &l, &e) == 0) wb_sql_list_free(&l);
    /* as a Parse with $1 declared of the domain */
    const uint32_t given[2] = {WB_SQL_DOMAIN_OID_MIN + 1, 23};
    if (wb_sql_translate(sql, given, 2, &schema, &l, &e) == 0) wb_sql_list_free(&l);
    wb_sql_cache *c = wb_sql_cache_new(4);
    if (c) {
        for (int i = 0; i < 2; i++)
            if (wb_sql_translate_cached(c, sql, NULL, 0, &schema, &l, &e) == 0) wb_sql_list_free(&l);
        wb_sql_cache_free(c);
    }
    free(sql);
    return 0;
}
