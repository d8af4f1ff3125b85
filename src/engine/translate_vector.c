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
    return rc;
}
