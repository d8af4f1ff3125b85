/* src/engine/translate_vector.c - pgvector 0.8's `vector` type over SQLite.
 *
 * Storage: a vector value is a SQLite BLOB of n little-endian IEEE float4
 * (4n bytes, no header; columns are declared "vector blob(n)"). Values
 * arriving as text ('[1,2,3]', pgvector's vector_in syntax) are converted
 * by wb_vec_in; every function below also accepts the text form, so an
 * uncoerced literal works as an argument.
 *
 * Errors carry pgvector's wording and SQLSTATE (pgvector src/vector.c:
 * vector_in, CheckDims, CheckExpectedDim, CheckElement, float overflow),
 * as the first five characters of the SQLite message (wb_sql_sqlite_error).
 *
 * The distance kernels run over contiguous float arrays with eight
 * independent accumulators, so that the compiler vectorises them without
 * -ffast-math (a single running sum would be a serial dependency).
 */
#include "translate.h"
#include "hnsw.h"
#include <float.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdint.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "vector storage assumes a little-endian host (BLOB of native float4)"
#endif

#define VEC_MAX_DIM 16000 /* pgvector VECTOR_MAX_DIM */

static void vec_err(sqlite3_context *c, const char *state, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#include <stdarg.h>
static void vec_err(sqlite3_context *c, const char *state, const char *fmt, ...)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s ", state);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    sqlite3_result_error(c, buf, -1);
}

int wb_vec_parse(const char *s, size_t len, float **out, int *dim, char *err, size_t errlen)
{
    /* pgvector vector_in: optional whitespace, '[', elements separated by
     * ',', ']', optional whitespace; each element as strtof reads it */
    char *copy = malloc(len + 1);
    if (!copy) { snprintf(err, errlen, "53200 out of memory"); return -1; }
    memcpy(copy, s, len);
    copy[len] = 0;
    const char *p = copy;
    float *v = NULL;
    int n = 0, cap = 0;
#define BADSYN() do { snprintf(err, errlen, "22P02 invalid input syntax for type vector: \"%.400s\"", copy); goto fail; } while (0)
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f') p++;
    if (*p != '[') BADSYN();
    p++;
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f') p++;
    if (*p == ']') {
        snprintf(err, errlen, "22000 vector must have at least 1 dimension");
        goto fail;
    }
    for (;;) {
        if (n == VEC_MAX_DIM) {
            snprintf(err, errlen, "54000 vector cannot have more than %d dimensions", VEC_MAX_DIM);
            goto fail;
        }
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f') p++;
        if (!*p) BADSYN();
        char *end;
        float x = strtof(p, &end);
        if (end == p) BADSYN();
        if (isinf(x) && !(strncasecmp(p, "inf", 3) == 0 || strncasecmp(p + 1, "inf", 3) == 0)) {
            snprintf(err, errlen, "22003 \"%.*s\" is out of range for type vector", (int)(end - p), p);
            goto fail;
        }
        if (isnan(x)) { snprintf(err, errlen, "22000 NaN not allowed in vector"); goto fail; }
        if (isinf(x)) { snprintf(err, errlen, "22000 infinite value not allowed in vector"); goto fail; }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            float *nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv) { snprintf(err, errlen, "53200 out of memory"); goto fail; }
            v = nv;
        }
        v[n++] = x;
        p = end;
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f') p++;
        if (*p == ',') { p++; continue; }
        if (*p == ']') { p++; break; }
        BADSYN();
    }
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\v' || *p == '\f') p++;
    if (*p) BADSYN();
#undef BADSYN
    free(copy);
    *out = v;
    *dim = n;
    return 0;
fail:
    free(copy);
    free(v);
    return -1;
}

/* the vector in an argument: a BLOB (stored form) or text (vector_in).
 * Returns 1 with *v (borrowed or *owned), 0 for NULL, -1 after reporting
 * an error on c. */
typedef struct vec { const float *v; float *owned; int dim; } vec;

static int arg_vec(sqlite3_context *c, sqlite3_value *a, vec *out)
{
    out->owned = NULL;
    switch (sqlite3_value_type(a)) {
    case SQLITE_NULL: return 0;
    case SQLITE_BLOB: {
        int nb = sqlite3_value_bytes(a);
        const void *p = sqlite3_value_blob(a);
        if (nb <= 0 || nb % 4 || nb / 4 > VEC_MAX_DIM) {
            vec_err(c, "22P03", "invalid vector value: %d bytes", nb);
            return -1;
        }
        out->dim = nb / 4;
        if (((uintptr_t)p & 3) == 0) {
            out->v = p;
        } else {
            out->owned = malloc((size_t)nb);
            if (!out->owned) { sqlite3_result_error_nomem(c); return -1; }
            memcpy(out->owned, p, (size_t)nb);
            out->v = out->owned;
        }
        return 1;
    }
    default: {
        const char *s = (const char *)sqlite3_value_text(a);
        if (!s) { sqlite3_result_error_nomem(c); return -1; }
        char err[512];
        if (wb_vec_parse(s, (size_t)sqlite3_value_bytes(a), &out->owned, &out->dim, err, sizeof err)) {
            sqlite3_result_error(c, err, -1);
            return -1;
        }
        out->v = out->owned;
        return 1;
    }
    }
}

/* two vectors of the same dimension; 0 = a NULL (result NULL), -1 error */
static int two_vecs(sqlite3_context *c, sqlite3_value **argv, vec *a, vec *b)
{
    int ra = arg_vec(c, argv[0], a);
    if (ra <= 0) { if (ra == 0) sqlite3_result_null(c); return ra < 0 ? -1 : 0; }
    int rb = arg_vec(c, argv[1], b);
    if (rb <= 0) { free(a->owned); if (rb == 0) sqlite3_result_null(c); return rb < 0 ? -1 : 0; }
    if (a->dim != b->dim) {
        vec_err(c, "22000", "different vector dimensions %d and %d", a->dim, b->dim);
        free(a->owned); free(b->owned);
        return -1;
    }
    return 1;
}

/* ---- kernels (also used by the exact k-NN scan) ---- */

float wb_vec_l2sq(const float *a, const float *b, int n)
{
    float s[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) { float d = a[i + k] - b[i + k]; s[k] += d * d; }
    float r = 0;
    for (; i < n; i++) { float d = a[i] - b[i]; r += d * d; }
    return r + ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

float wb_vec_dot(const float *a, const float *b, int n)
{
    float s[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += a[i + k] * b[i + k];
    float r = 0;
    for (; i < n; i++) r += a[i] * b[i];
    return r + ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

float wb_vec_l1(const float *a, const float *b, int n)
{
    float s[8] = {0};
    int i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) s[k] += fabsf(a[i + k] - b[i + k]);
    float r = 0;
    for (; i < n; i++) r += fabsf(a[i] - b[i]);
    return r + ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

double wb_vec_cosine(const float *a, const float *b, int n)
{
    float d = wb_vec_dot(a, b, n), na = wb_vec_dot(a, a, n), nb = wb_vec_dot(b, b, n);
    /* pgvector: NaN when a norm is zero; the similarity clamped to [-1, 1] */
    double sim = (double)d / sqrt((double)na * (double)nb);
    if (isnan(sim)) return NAN;
    if (sim > 1) sim = 1;
    if (sim < -1) sim = -1;
    return 1 - sim;
}

/* kind: 0 L2, 1 negative inner product, 2 cosine, 3 L1, 4 inner product */
static void f_dist(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    (void)argc;
    vec a, b;
    if (two_vecs(c, argv, &a, &b) <= 0) return;
    int kind = (int)(intptr_t)sqlite3_user_data(c);
    double r;
    switch (kind) {
    case 0: r = sqrt((double)wb_vec_l2sq(a.v, b.v, a.dim)); break;
    case 1: r = -(double)wb_vec_dot(a.v, b.v, a.dim); break;
    case 2: r = wb_vec_cosine(a.v, b.v, a.dim); break;
    case 3: r = (double)wb_vec_l1(a.v, b.v, a.dim); break;
    default: r = (double)wb_vec_dot(a.v, b.v, a.dim); break;
    }
    free(a.owned); free(b.owned);
    sqlite3_result_double(c, r);
}

/* wb_vec_in(value, dims): the stored form; dims < 0 = any (typmod -1) */
static void f_vec_in(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    vec a;
    int r = arg_vec(c, argv[0], &a);
    if (r <= 0) { if (r == 0) sqlite3_result_null(c); return; }
    int want = argc > 1 ? sqlite3_value_int(argv[1]) : -1;
    if (want >= 0 && a.dim != want) {
        vec_err(c, "22000", "expected %d dimensions, not %d", want, a.dim);
        free(a.owned);
        return;
    }
    if (sqlite3_value_type(argv[0]) == SQLITE_BLOB) {
        for (int i = 0; i < a.dim; i++) {
            if (isnan(a.v[i])) { vec_err(c, "22000", "NaN not allowed in vector"); free(a.owned); return; }
            if (isinf(a.v[i])) { vec_err(c, "22000", "infinite value not allowed in vector"); free(a.owned); return; }
        }
    }
    sqlite3_result_blob(c, a.v, a.dim * 4, SQLITE_TRANSIENT);
    free(a.owned);
}

static void f_vector_dims(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    (void)argc;
    vec a;
    int r = arg_vec(c, argv[0], &a);
    if (r <= 0) { if (r == 0) sqlite3_result_null(c); return; }
    sqlite3_result_int(c, a.dim);
    free(a.owned);
}

static void f_vector_norm(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    (void)argc;
    vec a;
    int r = arg_vec(c, argv[0], &a);
    if (r <= 0) { if (r == 0) sqlite3_result_null(c); return; }
    double s = 0;
    for (int i = 0; i < a.dim; i++) s += (double)a.v[i] * (double)a.v[i];
    sqlite3_result_double(c, sqrt(s));
    free(a.owned);
}

static void result_vec(sqlite3_context *c, float *v, int dim)
{
    for (int i = 0; i < dim; i++) {
        if (isinf(v[i])) { free(v); vec_err(c, "22003", "value out of range: overflow"); return; }
        if (isnan(v[i])) { free(v); vec_err(c, "22003", "value out of range: underflow"); return; }
    }
    sqlite3_result_blob(c, v, dim * 4, free);
}

static void f_l2_normalize(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    (void)argc;
    vec a;
    int r = arg_vec(c, argv[0], &a);
    if (r <= 0) { if (r == 0) sqlite3_result_null(c); return; }
    float *o = malloc((size_t)a.dim * 4);
    if (!o) { free(a.owned); sqlite3_result_error_nomem(c); return; }
    double s = 0;
    for (int i = 0; i < a.dim; i++) s += (double)a.v[i] * (double)a.v[i];
    double norm = sqrt(s);
    for (int i = 0; i < a.dim; i++) o[i] = norm > 0 ? (float)(a.v[i] / norm) : 0.0f;
    free(a.owned);
    result_vec(c, o, a.dim);
}

/* elementwise: 0 +, 1 -, 2 * */
static void f_elementwise(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    (void)argc;
    vec a, b;
    if (two_vecs(c, argv, &a, &b) <= 0) return;
    int op = (int)(intptr_t)sqlite3_user_data(c);
    float *o = malloc((size_t)a.dim * 4);
    if (!o) { free(a.owned); free(b.owned); sqlite3_result_error_nomem(c); return; }
    for (int i = 0; i < a.dim; i++)
        o[i] = op == 0 ? a.v[i] + b.v[i] : op == 1 ? a.v[i] - b.v[i] : a.v[i] * b.v[i];
    int dim = a.dim;
    int under = 0;
    if (op == 2)
        for (int i = 0; i < dim; i++)
            if (o[i] == 0 && a.v[i] != 0 && b.v[i] != 0) under = 1;
    free(a.owned); free(b.owned);
    if (under) { free(o); vec_err(c, "22003", "value out of range: underflow"); return; }
    result_vec(c, o, dim);
}

/* sum/avg over vectors: double accumulators as pgvector's vector_accum */
typedef struct vec_acc { int64_t n; int dim; double *sum; } vec_acc;

static void agg_step(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    (void)argc;
    vec_acc *acc = sqlite3_aggregate_context(c, sizeof *acc);
    if (!acc) { sqlite3_result_error_nomem(c); return; }
    vec a;
    int r = arg_vec(c, argv[0], &a);
    if (r <= 0) return; /* NULLs are skipped; an error is already set */
    if (!acc->sum) {
        acc->sum = calloc((size_t)a.dim, sizeof *acc->sum);
        if (!acc->sum) { free(a.owned); sqlite3_result_error_nomem(c); return; }
        acc->dim = a.dim;
    } else if (acc->dim != a.dim) {
        vec_err(c, "22000", "expected %d dimensions, not %d", acc->dim, a.dim);
        free(a.owned);
        return;
    }
    for (int i = 0; i < a.dim; i++) acc->sum[i] += a.v[i];
    acc->n++;
    free(a.owned);
}

static void agg_final(sqlite3_context *c, int avg)
{
    vec_acc *acc = sqlite3_aggregate_context(c, 0);
    if (!acc || !acc->sum || acc->n == 0) { sqlite3_result_null(c); if (acc) free(acc->sum); return; }
    float *o = malloc((size_t)acc->dim * 4);
    if (!o) { free(acc->sum); sqlite3_result_error_nomem(c); return; }
    for (int i = 0; i < acc->dim; i++) o[i] = (float)(avg ? acc->sum[i] / (double)acc->n : acc->sum[i]);
    free(acc->sum);
    acc->sum = NULL;
    result_vec(c, o, acc->dim);
}
static void agg_sum_final(sqlite3_context *c) { agg_final(c, 0); }
static void agg_avg_final(sqlite3_context *c) { agg_final(c, 1); }

/* one float4 as PostgreSQL's float4out prints it (shortest digits that
 * read back; exponent form below 1e-4 and from 1e6), into t (32 bytes);
 * returns the length. Values are finite here (vectors refuse NaN/Inf). */
static int float4_text(float f, char *t)
{
    if (f == 0) return (int)strlen(strcpy(t, signbit(f) ? "-0" : "0"));
    char e[40];
    for (int prec = fabsf(f) < FLT_MIN ? 1 : 6; prec <= 9; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, (double)f);
        if (strtof(e, NULL) == f) break;
    }
    char *ep = strchr(e, 'e');
    int ex = atoi(ep + 1);
    *ep = 0;
    char d[16];
    int nd = 0, n = 0;
    for (char *q = e; *q; q++)
        if (*q >= '0' && *q <= '9') d[nd++] = *q;
    while (nd > 1 && d[nd - 1] == '0') nd--;
    if (f < 0) t[n++] = '-';
    if (ex < -4 || ex >= 6) {
        t[n++] = d[0];
        if (nd > 1) { t[n++] = '.'; memcpy(t + n, d + 1, (size_t)nd - 1); n += nd - 1; }
        n += snprintf(t + n, 32 - (size_t)n, "e%c%02d", ex < 0 ? '-' : '+', ex < 0 ? -ex : ex);
    } else if (ex < 0) {
        t[n++] = '0';
        t[n++] = '.';
        for (int k = -1; k > ex; k--) t[n++] = '0';
        memcpy(t + n, d, (size_t)nd);
        n += nd;
    } else {
        for (int k = 0; k <= ex; k++) t[n++] = k < nd ? d[k] : '0';
        if (ex + 1 < nd) { t[n++] = '.'; memcpy(t + n, d + ex + 1, (size_t)(nd - ex - 1)); n += nd - ex - 1; }
    }
    t[n] = 0;
    return n;
}

/* pgvector vector_out: "[1,2.5,-3]", each element as float4out prints it
 * (shortest text that reads back to the same float) */
int wb_vec_format(const float *v, int dim, char **out, size_t *outlen)
{
    size_t cap = (size_t)dim * 16 + 3, n = 0;
    char *b = malloc(cap);
    if (!b) return -1;
    b[n++] = '[';
    for (int i = 0; i < dim; i++) {
        if (i) b[n++] = ',';
        char tmp[32];
        int k = float4_text(v[i], tmp);
        memcpy(b + n, tmp, (size_t)k);
        n += (size_t)k;
    }
    b[n++] = ']';
    b[n] = 0;
    *out = b;
    *outlen = n;
    return 0;
}

static void f_vec_out(sqlite3_context *c, int argc, sqlite3_value **argv)
{
    (void)argc;
    vec a;
    int r = arg_vec(c, argv[0], &a);
    if (r <= 0) { if (r == 0) sqlite3_result_null(c); return; }
    char *s;
    size_t n;
    if (wb_vec_format(a.v, a.dim, &s, &n)) { free(a.owned); sqlite3_result_error_nomem(c); return; }
    free(a.owned);
    sqlite3_result_text(c, s, (int)n, free);
}

/* ---------- exact k-NN: the wb_knn table-valued function ----------
 *
 * SELECT rid FROM wb_knn(table, column, kind, query, k): the rowids of the
 * k rows of table whose column is nearest to query (kind 0 L2, 1 negative
 * inner product, 2 cosine, 3 L1), nearest first, ties by rowid; NULL
 * vectors and NaN distances (cosine of a zero vector) come last, as in
 * PostgreSQL's ORDER BY. One pass over the vectors with a bounded max-heap
 * of k entries. The vectors are copied once into one contiguous array per
 * connection (rowids beside them) and reused while the database is
 * unchanged: the key is the pager's data version (other connections'
 * commits) and this connection's total_changes; inside a write transaction
 * the table is read directly and nothing is kept, so uncommitted or
 * rolled-back rows are never cached. The translator targets it for
 * "ORDER BY col <op> q LIMIT k" with nothing else that would filter rows. */
typedef struct knn_cache {
    char *table, *column;
    unsigned int data_version;
    sqlite3_int64 changes;
    int valid, dim;
    int64_t n, nnull;   /* rows with a vector / with NULL */
    float *v;           /* n * dim floats */
    sqlite3_int64 *rowid, *nullrowid;
} knn_cache;

/* An HNSW index (CREATE INDEX ... USING hnsw, recorded in wb_hnsw_indexes
 * beside the plain SQLite index that stands for it) on this connection:
 * built on first use from the committed table, then kept current by
 * diffing its copy of the vectors (snap, sorted by rowid) against the
 * exact cache whenever that is reloaded: deleted rows are marked deleted,
 * new or changed rows added (hnswlib replaces a label's point). */
typedef struct knn_hnsw {
    char *name;
    int kind, m, efc;
    wb_hnsw *h;
    knn_cache snap;
} knn_hnsw;

typedef struct knn_vtab { sqlite3_vtab base; sqlite3 *db; knn_cache cache; knn_hnsw hx; } knn_vtab;
typedef struct knn_hit { double d; sqlite3_int64 rowid; } knn_hit;
typedef struct knn_cursor {
    sqlite3_vtab_cursor base;
    knn_hit *hits; int64_t nhits, pos;
} knn_cursor;

static void cache_clear(knn_cache *c)
{
    free(c->table); free(c->column); free(c->v); free(c->rowid); free(c->nullrowid);
    memset(c, 0, sizeof *c);
}

static void hx_clear(knn_hnsw *x)
{
    free(x->name);
    wb_hnsw_free(x->h);
    cache_clear(&x->snap);
    memset(x, 0, sizeof *x);
}

static int knn_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **err)
{
    (void)aux; (void)argc; (void)argv; (void)err;
    int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(rid INTEGER, dist REAL, tbl HIDDEN, col HIDDEN, kind HIDDEN, q HIDDEN, k HIDDEN, ef HIDDEN)");
    if (rc != SQLITE_OK) return rc;
    knn_vtab *v = calloc(1, sizeof *v);
    if (!v) return SQLITE_NOMEM;
    v->db = db;
    *out = &v->base;
    return SQLITE_OK;
}

static int knn_disconnect(sqlite3_vtab *vt)
{
    knn_vtab *v = (knn_vtab *)vt;
    cache_clear(&v->cache);
    hx_clear(&v->hx);
    free(v);
    return SQLITE_OK;
}

static int knn_best_index(sqlite3_vtab *vt, sqlite3_index_info *ii)
{
    (void)vt;
    int have = 0;
    for (int i = 0; i < ii->nConstraint; i++) {
        int col = ii->aConstraint[i].iColumn;
        if (col < 2 || col > 7) continue;
        if (!ii->aConstraint[i].usable || ii->aConstraint[i].op != SQLITE_INDEX_CONSTRAINT_EQ) return SQLITE_CONSTRAINT;
        ii->aConstraintUsage[i].omit = 1;
        have |= 1 << (col - 2);
    }
    /* arguments in column order (ef, the sixth, is optional) */
    int next = 1;
    for (int col = 2; col <= 7; col++)
        for (int i = 0; i < ii->nConstraint; i++)
            if (ii->aConstraint[i].iColumn == col && ii->aConstraintUsage[i].omit && !ii->aConstraintUsage[i].argvIndex) {
                ii->aConstraintUsage[i].argvIndex = next++;
                break;
            }
    if ((have & 0x1f) != 0x1f) return SQLITE_CONSTRAINT;
    ii->estimatedCost = 10;
    ii->estimatedRows = 10;
    if (ii->nOrderBy == 1 && ii->aOrderBy[0].iColumn == 1 && !ii->aOrderBy[0].desc) ii->orderByConsumed = 1;
    return SQLITE_OK;
}

static int knn_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out)
{
    (void)vt;
    knn_cursor *c = calloc(1, sizeof *c);
    if (!c) return SQLITE_NOMEM;
    *out = &c->base;
    return SQLITE_OK;
}

static int knn_close(sqlite3_vtab_cursor *cur)
{
    knn_cursor *c = (knn_cursor *)cur;
    free(c->hits);
    free(c);
    return SQLITE_OK;
}

static int hit_worse(const knn_hit *a, const knn_hit *b) /* a after b in the result order */
{
    int an = isnan(a->d), bn = isnan(b->d);
    if (an != bn) return an;
    if (!an && a->d != b->d) return a->d > b->d;
    return a->rowid > b->rowid;
}

/* max-heap of the k best so far: the worst on top */
static void heap_down(knn_hit *h, int64_t n, int64_t i)
{
    for (;;) {
        int64_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && hit_worse(&h[l], &h[m])) m = l;
        if (r < n && hit_worse(&h[r], &h[m])) m = r;
        if (m == i) return;
        knn_hit t = h[i]; h[i] = h[m]; h[m] = t;
        i = m;
    }
}
static void heap_up(knn_hit *h, int64_t i)
{
    while (i > 0) {
        int64_t p = (i - 1) / 2;
        if (!hit_worse(&h[i], &h[p])) return;
        knn_hit t = h[i]; h[i] = h[p]; h[p] = t;
        i = p;
    }
}
static void heap_offer(knn_hit *h, int64_t *n, int64_t k, double d, sqlite3_int64 rowid)
{
    knn_hit x = {d, rowid};
    if (*n < k) { h[*n] = x; heap_up(h, (*n)++); return; }
    if (hit_worse(&x, &h[0])) return;
    h[0] = x;
    heap_down(h, *n, 0);
}
static int hit_cmp(const void *a, const void *b)
{
    const knn_hit *x = a, *y = b;
    return hit_worse(x, y) ? 1 : hit_worse(y, x) ? -1 : 0;
}

static double knn_dist(int kind, const float *a, const float *q, int dim, float qnorm2)
{
    switch (kind) {
    case 0: return (double)wb_vec_l2sq(a, q, dim); /* squared: same order, sqrt only for the answer */
    case 1: return -(double)wb_vec_dot(a, q, dim);
    case 2: {
        float d = wb_vec_dot(a, q, dim), na = wb_vec_dot(a, a, dim);
        double sim = (double)d / sqrt((double)na * (double)qnorm2);
        if (isnan(sim)) return NAN;
        return 1 - (sim > 1 ? 1 : sim < -1 ? -1 : sim);
    }
    default: return (double)wb_vec_l1(a, q, dim);
    }
}

/* read table.column into c (all rows); returns SQLITE_OK or an error in *err */
static int cache_load(sqlite3 *db, knn_cache *c, const char *table, const char *column, int dim, char **err)
{
    char *sql = sqlite3_mprintf("SELECT rowid, \"%w\" FROM \"%w\" ORDER BY rowid", column, table);
    if (!sql) return SQLITE_NOMEM;
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    sqlite3_free(sql);
    if (rc != SQLITE_OK) { *err = sqlite3_mprintf("%s", sqlite3_errmsg(db)); return rc; }
    int64_t cap = 0, ncap = 0;
    c->dim = dim;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        sqlite3_int64 rid = sqlite3_column_int64(st, 0);
        if (sqlite3_column_type(st, 1) != SQLITE_BLOB) {
            if (c->nnull == ncap) {
                ncap = ncap ? ncap * 2 : 64;
                sqlite3_int64 *nr = realloc(c->nullrowid, (size_t)ncap * sizeof *nr);
                if (!nr) { rc = SQLITE_NOMEM; break; }
                c->nullrowid = nr;
            }
            c->nullrowid[c->nnull++] = rid;
            continue;
        }
        int nb = sqlite3_column_bytes(st, 1);
        if (nb != dim * 4) {
            *err = sqlite3_mprintf("22000 different vector dimensions %d and %d", nb / 4, dim);
            rc = SQLITE_ERROR;
            break;
        }
        if (c->n == cap) {
            cap = cap ? cap * 2 : 1024;
            float *nv = realloc(c->v, (size_t)cap * (size_t)dim * sizeof *nv);
            if (!nv) { rc = SQLITE_NOMEM; break; }
            c->v = nv;
            sqlite3_int64 *nr = realloc(c->rowid, (size_t)cap * sizeof *nr);
            if (!nr) { rc = SQLITE_NOMEM; break; }
            c->rowid = nr;
        }
        memcpy(c->v + (size_t)c->n * (size_t)dim, sqlite3_column_blob(st, 1), (size_t)nb);
        c->rowid[c->n++] = rid;
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    else if (rc != SQLITE_OK && rc != SQLITE_ERROR && rc != SQLITE_NOMEM && !*err) *err = sqlite3_mprintf("%s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return rc;
}

/* the hnsw index on table(column) with operator class kind: its name, m
 * and ef_construction; 0 when there is none */
static int hx_lookup(sqlite3 *db, const char *table, const char *column, int kind, char **name, int *m, int *efc)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db,
                           "SELECT h.name, h.m, h.efc FROM wb_hnsw_indexes h JOIN sqlite_schema s ON s.type = 'index' "
                           "AND s.name = h.name AND s.tbl_name = h.tbl WHERE h.tbl = ?1 AND h.col = ?2 AND h.kind = ?3 "
                           "ORDER BY h.name LIMIT 1",
                           -1, &st, NULL) != SQLITE_OK)
        return 0; /* no hnsw index was ever created here */
    sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, kind);
    int found = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        *name = strdup((const char *)sqlite3_column_text(st, 0));
        *m = sqlite3_column_int(st, 1);
        *efc = sqlite3_column_int(st, 2);
        found = *name != NULL;
    }
    sqlite3_finalize(st);
    return found;
}

static int64_t snap_find(const knn_cache *c, sqlite3_int64 rowid)
{
    int64_t lo = 0, hi = c->n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (c->rowid[mid] < rowid) lo = mid + 1;
        else hi = mid;
    }
    return lo < c->n && c->rowid[lo] == rowid ? lo : -1;
}

/* bring x (index and snapshot) to the rows of cur; SQLITE_OK or NOMEM */
static int hx_sync(knn_hnsw *x, const knn_cache *cur)
{
    const knn_cache *old = &x->snap;
    int dim = cur->dim;
    size_t vb = (size_t)dim * sizeof(float);
    int64_t i = 0, j = 0;
    while (i < old->n || j < cur->n) {
        if (j >= cur->n || (i < old->n && old->rowid[i] < cur->rowid[j])) {
            wb_hnsw_delete(x->h, old->rowid[i++]);
        } else if (i >= old->n || cur->rowid[j] < old->rowid[i]) {
            if (wb_hnsw_add(x->h, cur->rowid[j], cur->v + (size_t)j * (size_t)dim)) return SQLITE_NOMEM;
            j++;
        } else {
            if (memcmp(old->v + (size_t)i * (size_t)dim, cur->v + (size_t)j * (size_t)dim, vb) &&
                wb_hnsw_add(x->h, cur->rowid[j], cur->v + (size_t)j * (size_t)dim))
                return SQLITE_NOMEM;
            i++, j++;
        }
    }
    /* the snapshot: a copy of cur's vectors (NULL rows are not indexed) */
    knn_cache s = {0};
    s.dim = dim;
    s.n = cur->n;
    s.v = malloc(cur->n ? (size_t)cur->n * vb : 1);
    s.rowid = malloc(cur->n ? (size_t)cur->n * sizeof *s.rowid : 1);
    if (!s.v || !s.rowid) { cache_clear(&s); return SQLITE_NOMEM; }
    if (cur->n) {
        memcpy(s.v, cur->v, (size_t)cur->n * vb);
        memcpy(s.rowid, cur->rowid, (size_t)cur->n * sizeof *s.rowid);
    }
    s.data_version = cur->data_version;
    s.changes = cur->changes;
    s.valid = 1;
    cache_clear(&x->snap);
    x->snap = s;
    return SQLITE_OK;
}

/* k-NN through the hnsw index on table(column) for kind, if there is one
 * (else SQLITE_NOTFOUND): vt->cache holds the committed rows; the labels
 * found are given exact distances and sorted as wb_knn's exact answer. */
static int hx_search(knn_vtab *vt, knn_cursor *c, const char *table, const char *column, int kind, int dim,
                     const float *q, sqlite3_int64 k, int ef)
{
    char *name = NULL;
    int m = 0, efc = 0;
    if (!hx_lookup(vt->db, table, column, kind, &name, &m, &efc)) return SQLITE_NOTFOUND;
    knn_hnsw *x = &vt->hx;
    const knn_cache *cc = &vt->cache;
    if (!x->h || strcmp(x->name, name) || x->kind != kind || x->m != m || x->efc != efc || x->snap.dim != dim) {
        hx_clear(x);
        x->name = name;
        name = NULL;
        x->kind = kind, x->m = m, x->efc = efc;
        x->snap.dim = dim;
        x->h = wb_hnsw_new(kind, dim, m, efc);
        if (!x->h) { hx_clear(x); return SQLITE_NOMEM; }
    }
    free(name);
    if (!x->snap.valid || x->snap.data_version != cc->data_version || x->snap.changes != cc->changes) {
        int rc = hx_sync(x, cc);
        if (rc != SQLITE_OK) { hx_clear(x); return rc; }
    }
    int64_t kk = k < cc->n ? k : cc->n;
    int64_t *labels = malloc((size_t)(kk ? kk : 1) * sizeof *labels);
    c->hits = malloc((size_t)(kk ? kk : 1) * sizeof *c->hits);
    if (!labels || !c->hits) { free(labels); return SQLITE_NOMEM; }
    int64_t n = wb_hnsw_search(x->h, q, kk, ef, labels);
    if (n < 0) { free(labels); return SQLITE_NOMEM; }
    float qn = wb_vec_dot(q, q, dim);
    int64_t nh = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t at = snap_find(cc, labels[i]);
        if (at < 0) continue; /* not a committed row: never served */
        c->hits[nh++] = (knn_hit){knn_dist(kind, cc->v + (size_t)at * (size_t)dim, q, dim, qn), labels[i]};
    }
    free(labels);
    qsort(c->hits, (size_t)nh, sizeof *c->hits, hit_cmp);
    c->nhits = nh;
    return SQLITE_OK;
}

static int knn_filter(sqlite3_vtab_cursor *cur, int idxnum, const char *idxstr, int argc, sqlite3_value **argv)
{
    (void)idxnum; (void)idxstr;
    knn_cursor *c = (knn_cursor *)cur;
    knn_vtab *vt = (knn_vtab *)cur->pVtab;
    free(c->hits);
    c->hits = NULL;
    c->nhits = c->pos = 0;
    if (argc != 5 && argc != 6) return SQLITE_ERROR;
    int ef = argc == 6 && sqlite3_value_type(argv[5]) != SQLITE_NULL ? sqlite3_value_int(argv[5]) : 40;
    const char *table = (const char *)sqlite3_value_text(argv[0]);
    const char *column = (const char *)sqlite3_value_text(argv[1]);
    int kind = sqlite3_value_int(argv[2]);
    /* LIMIT NULL (a parameter) or negative: every row, as the outer LIMIT */
    sqlite3_int64 k = sqlite3_value_type(argv[4]) == SQLITE_NULL ? INT64_MAX : sqlite3_value_int64(argv[4]);
    if (k < 0) k = INT64_MAX;
    if (!table || !column || k == 0) return SQLITE_OK;
    if (sqlite3_value_type(argv[3]) == SQLITE_NULL) {
        /* distances to NULL are NULL: the outer ORDER BY keeps its order;
         * every row is a candidate */
        k = INT64_MAX;
        sqlite3_stmt *st;
        char *sql = sqlite3_mprintf("SELECT rowid FROM \"%w\"", table);
        if (!sql) return SQLITE_NOMEM;
        int rc = sqlite3_prepare_v2(vt->db, sql, -1, &st, NULL);
        sqlite3_free(sql);
        if (rc != SQLITE_OK) return rc;
        int64_t cap = 0;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (c->nhits == cap) {
                cap = cap ? cap * 2 : 256;
                knn_hit *nh = realloc(c->hits, (size_t)cap * sizeof *nh);
                if (!nh) { sqlite3_finalize(st); return SQLITE_NOMEM; }
                c->hits = nh;
            }
            c->hits[c->nhits++] = (knn_hit){NAN, sqlite3_column_int64(st, 0)};
        }
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    if (sqlite3_value_type(argv[3]) != SQLITE_BLOB || sqlite3_value_bytes(argv[3]) % 4 || !sqlite3_value_bytes(argv[3])) {
        vt->base.zErrMsg = sqlite3_mprintf("22P03 wb_knn: the query is not a vector");
        return SQLITE_ERROR;
    }
    int dim = sqlite3_value_bytes(argv[3]) / 4;
    float *q = malloc((size_t)dim * 4);
    if (!q) return SQLITE_NOMEM;
    memcpy(q, sqlite3_value_blob(argv[3]), (size_t)dim * 4);

    /* the cached copy, or a fresh one */
    knn_cache fresh = {0}, *cc = &vt->cache;
    unsigned int dv = 0;
    sqlite3_file_control(vt->db, "main", SQLITE_FCNTL_DATA_VERSION, &dv);
    sqlite3_int64 changes = sqlite3_total_changes64(vt->db);
    int writing = sqlite3_txn_state(vt->db, "main") == SQLITE_TXN_WRITE;
    int hit = !writing && cc->valid && cc->data_version == dv && cc->changes == changes && cc->dim == dim &&
              !strcmp(cc->table, table) && !strcmp(cc->column, column);
    if (!hit) {
        char *err = NULL;
        int rc = cache_load(vt->db, &fresh, table, column, dim, &err);
        if (rc != SQLITE_OK) {
            cache_clear(&fresh);
            free(q);
            if (err) vt->base.zErrMsg = err;
            return rc;
        }
        if (writing) {
            cc = &fresh;
        } else {
            cache_clear(cc);
            *cc = fresh;
            memset(&fresh, 0, sizeof fresh);
            cc->table = strdup(table);
            cc->column = strdup(column);
            cc->data_version = dv;
            cc->changes = changes;
            cc->valid = cc->table && cc->column;
        }
    }
    if (!writing && kind <= 2 && k != INT64_MAX) {
        /* an hnsw index with this operator class: approximate, on the
         * committed rows only (never inside a write transaction) */
        int rc = hx_search(vt, c, table, column, kind, dim, q, k, ef);
        if (rc != SQLITE_NOTFOUND) {
            free(q);
            return rc;
        }
    }
    int64_t total = cc->n + cc->nnull;
    int64_t kk = k < total ? k : total;
    c->hits = malloc((size_t)(kk ? kk : 1) * sizeof *c->hits);
    if (!c->hits) { free(q); cache_clear(&fresh); return SQLITE_NOMEM; }
    float qn = wb_vec_dot(q, q, dim);
    int64_t nh = 0;
    const float *base = cc->v;
    for (int64_t i = 0; i < cc->n; i++)
        heap_offer(c->hits, &nh, kk, knn_dist(kind, base + (size_t)i * (size_t)dim, q, dim, qn), cc->rowid[i]);
    /* NULL vectors sort after every distance (NULLS LAST), by rowid */
    for (int64_t i = 0; i < cc->nnull && nh < kk; i++) c->hits[nh++] = (knn_hit){INFINITY, cc->nullrowid[i]};
    qsort(c->hits, (size_t)nh, sizeof *c->hits, hit_cmp);
    c->nhits = nh;
    free(q);
    cache_clear(&fresh);
    return SQLITE_OK;
}

static int knn_next(sqlite3_vtab_cursor *cur) { ((knn_cursor *)cur)->pos++; return SQLITE_OK; }
static int knn_eof(sqlite3_vtab_cursor *cur) { knn_cursor *c = (knn_cursor *)cur; return c->pos >= c->nhits; }
static int knn_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
    knn_cursor *c = (knn_cursor *)cur;
    if (i == 0) sqlite3_result_int64(ctx, c->hits[c->pos].rowid);
    else if (i == 1) sqlite3_result_double(ctx, c->hits[c->pos].d);
    else sqlite3_result_null(ctx);
    return SQLITE_OK;
}
static int knn_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *r) { *r = ((knn_cursor *)cur)->pos; return SQLITE_OK; }

static sqlite3_module knn_module = {
    .iVersion = 0, .xCreate = NULL, .xConnect = knn_connect, .xBestIndex = knn_best_index,
    .xDisconnect = knn_disconnect, .xDestroy = knn_disconnect, .xOpen = knn_open, .xClose = knn_close,
    .xFilter = knn_filter, .xNext = knn_next, .xEof = knn_eof, .xColumn = knn_column, .xRowid = knn_rowid,
};

int wb_sql_register_vector(sqlite3 *db)
{
    static const struct { const char *name; int nargs; intptr_t data; void (*fn)(sqlite3_context *, int, sqlite3_value **); } f[] = {
        {"wb_vec_in", 1, 0, f_vec_in}, {"wb_vec_out", 1, 0, f_vec_out}, {"wb_vec_in", 2, 0, f_vec_in},
        {"wb_vec_l2", 2, 0, f_dist}, {"wb_vec_nip", 2, 1, f_dist}, {"wb_vec_cos", 2, 2, f_dist}, {"wb_vec_l1", 2, 3, f_dist},
        {"l2_distance", 2, 0, f_dist}, {"inner_product", 2, 4, f_dist}, {"cosine_distance", 2, 2, f_dist},
        {"l1_distance", 2, 3, f_dist}, {"vector_negative_inner_product", 2, 1, f_dist},
        {"vector_dims", 1, 0, f_vector_dims}, {"vector_norm", 1, 0, f_vector_norm}, {"l2_normalize", 1, 0, f_l2_normalize},
        {"wb_vec_add", 2, 0, f_elementwise}, {"wb_vec_sub", 2, 1, f_elementwise}, {"wb_vec_mul", 2, 2, f_elementwise},
    };
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
        int rc = sqlite3_create_function_v2(db, f[i].name, f[i].nargs, SQLITE_UTF8 | SQLITE_DETERMINISTIC, (void *)f[i].data,
                                            f[i].fn, NULL, NULL, NULL);
        if (rc != SQLITE_OK) return rc;
    }
    int rc = sqlite3_create_function_v2(db, "wb_vec_sum", 1, SQLITE_UTF8, NULL, NULL, agg_step, agg_sum_final, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function_v2(db, "wb_vec_avg", 1, SQLITE_UTF8, NULL, NULL, agg_step, agg_avg_final, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_module_v2(db, "wb_knn", &knn_module, NULL, NULL);
    return rc;
}
