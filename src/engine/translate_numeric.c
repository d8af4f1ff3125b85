/* src/engine/translate_numeric.c - exact numeric on SQLite: numeric values
 * are stored as decimal text (translate_ddl.c); these functions do
 * PostgreSQL's numeric arithmetic on that text with PostgreSQL's result
 * scales (src/backend/utils/adt/numeric.c: add/sub keep the larger scale,
 * mul adds the scales, div and avg use select_div_scale), and the
 * collation wb_numeric orders decimal text by value (numeric columns are
 * declared with it, so comparisons, ORDER BY, indexes and min/max are by
 * value, never lexicographic).
 *
 * A value is sign, digits (most significant first, fraction included)
 * and scale (how many of the digits are the fraction). */
#include "translate_internal.h"
#include <sqlite3.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEC_MAX 1200 /* digits */

typedef struct dec { int neg; int n; int scale; unsigned char d[DEC_MAX]; } dec;

static void dec_norm(dec *x)
{
    int lead = 0;
    while (lead < x->n - x->scale - 1 && x->d[lead] == 0) lead++;
    if (lead) { memmove(x->d, x->d + lead, (size_t)(x->n - lead)); x->n -= lead; }
    if (x->n <= x->scale) { /* ensure one integer digit */
        int add = x->scale - x->n + 1;
        memmove(x->d + add, x->d, (size_t)x->n);
        memset(x->d, 0, (size_t)add);
        x->n += add;
    }
    int zero = 1;
    for (int i = 0; i < x->n; i++) zero &= x->d[i] == 0;
    if (zero) x->neg = 0;
}

/* text/int/real -> dec; returns -1 if not a number ("NaN" unsupported) */
static int dec_from_value(sqlite3_value *v, dec *x)
{
    char buf[64];
    const char *s;
    switch (sqlite3_value_type(v)) {
    case SQLITE_INTEGER: snprintf(buf, sizeof buf, "%lld", (long long)sqlite3_value_int64(v)); s = buf; break;
    case SQLITE_FLOAT: snprintf(buf, sizeof buf, "%.15g", sqlite3_value_double(v)); s = buf; break;
    default: s = (const char *)sqlite3_value_text(v); if (!s) return -1;
    }
    memset(x, 0, sizeof *x - sizeof x->d);
    while (isspace((unsigned char)*s)) s++;
    if (*s == '-' || *s == '+') { x->neg = *s == '-'; s++; }
    int any = 0, frac = 0;
    for (; *s; s++) {
        if (isdigit((unsigned char)*s)) {
            if (x->n >= DEC_MAX - 2) return -1;
            x->d[x->n++] = (unsigned char)(*s - '0');
            if (frac) x->scale++;
            any = 1;
        } else if (*s == '.' && !frac) frac = 1;
        else break;
    }
    if (*s == 'e' || *s == 'E') {
        long e = strtol(s + 1, (char **)&s, 10);
        if (e > 0) {
            while (e > 0 && x->scale > 0) { x->scale--; e--; }
            while (e-- > 0) { if (x->n >= DEC_MAX - 2) return -1; x->d[x->n++] = 0; }
        } else x->scale += (int)-e;
        if (x->scale > DEC_MAX / 2) return -1;
    }
    while (isspace((unsigned char)*s)) s++;
    if (*s || !any) return -1;
    dec_norm(x);
    return 0;
}

static void dec_result(sqlite3_context *c, const dec *x)
{
    char buf[DEC_MAX + 4];
    int o = 0;
    if (x->neg) buf[o++] = '-';
    for (int i = 0; i < x->n; i++) {
        if (i == x->n - x->scale) buf[o++] = '.';
        buf[o++] = (char)('0' + x->d[i]);
    }
    buf[o] = 0;
    sqlite3_result_text(c, buf, o, SQLITE_TRANSIENT);
}

/* give x scale s (s >= x->scale: append zeros) */
static int dec_rescale_up(dec *x, int s)
{
    while (x->scale < s) {
        if (x->n >= DEC_MAX - 1) return -1;
        x->d[x->n++] = 0;
        x->scale++;
    }
    return 0;
}

/* magnitude compare of two with equal scale */
static int mag_cmp(const dec *a, const dec *b)
{
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    return memcmp(a->d, b->d, (size_t)a->n) < 0 ? -1 : memcmp(a->d, b->d, (size_t)a->n) > 0;
}

static void pad_left(dec *x, int n)
{
    if (x->n >= n) return;
    int add = n - x->n;
    memmove(x->d + add, x->d, (size_t)x->n);
    memset(x->d, 0, (size_t)add);
    x->n = n;
}

/* r = a + b (signed); a, b copies */
static int dec_add(dec a, dec b, dec *r)
{
    int s = a.scale > b.scale ? a.scale : b.scale;
    if (dec_rescale_up(&a, s) || dec_rescale_up(&b, s)) return -1;
    int n = (a.n > b.n ? a.n : b.n) + 1;
    if (n >= DEC_MAX) return -1;
    pad_left(&a, n); pad_left(&b, n);
    memset(r, 0, sizeof *r - sizeof r->d);
    r->n = n; r->scale = s;
    if (a.neg == b.neg) {
        int carry = 0;
        for (int i = n - 1; i >= 0; i--) { int v = a.d[i] + b.d[i] + carry; r->d[i] = (unsigned char)(v % 10); carry = v / 10; }
        r->neg = a.neg;
    } else {
        const dec *big = mag_cmp(&a, &b) >= 0 ? &a : &b, *small = big == &a ? &b : &a;
        int borrow = 0;
        for (int i = n - 1; i >= 0; i--) {
            int v = big->d[i] - small->d[i] - borrow;
            borrow = v < 0;
            r->d[i] = (unsigned char)(v + (borrow ? 10 : 0));
        }
        r->neg = big->neg;
    }
    dec_norm(r);
    return 0;
}

static int dec_mul(const dec *a, const dec *b, dec *r)
{
    int n = a->n + b->n;
    if (n >= DEC_MAX) return -1;
    int acc[DEC_MAX];
    memset(acc, 0, sizeof(int) * (size_t)n);
    for (int i = a->n - 1; i >= 0; i--)
        for (int j = b->n - 1; j >= 0; j--) acc[i + j + 1] += a->d[i] * b->d[j];
    for (int k = n - 1; k > 0; k--) { acc[k - 1] += acc[k] / 10; acc[k] %= 10; }
    memset(r, 0, sizeof *r - sizeof r->d);
    r->n = n;
    for (int k = 0; k < n; k++) r->d[k] = (unsigned char)acc[k];
    r->scale = a->scale + b->scale;
    r->neg = a->neg != b->neg;
    dec_norm(r);
    return 0;
}

/* PostgreSQL's select_div_scale: weights and first digits in base 10000 */
static void base10000(const dec *x, int *weight, int *first)
{
    /* integer digits: n - scale; group boundaries are at the decimal point */
    int intd = x->n - x->scale;
    int lead_groups_digits = ((intd % 4) + 4) % 4; /* digits in the first integer group */
    int i = 0;
    /* find the first nonzero digit */
    while (i < x->n && x->d[i] == 0) i++;
    if (i == x->n) { *weight = 0; *first = 0; return; }
    /* position of digit i relative to the point: p = intd - 1 - i (10^p) */
    int p = intd - 1 - i;
    int w = p >= 0 ? p / 4 : -((-p + 3) / 4);
    /* the group value: digits from 10^(4w+3) down to 10^(4w) */
    int v = 0;
    for (int e = 4 * w + 3; e >= 4 * w; e--) {
        int idx = intd - 1 - e;
        v = v * 10 + (idx >= 0 && idx < x->n ? x->d[idx] : 0);
    }
    (void)lead_groups_digits;
    *weight = w;
    *first = v;
}

static int div_scale(const dec *a, const dec *b)
{
    int w1, f1, w2, f2;
    base10000(a, &w1, &f1);
    base10000(b, &w2, &f2);
    int qweight = w1 - w2;
    if (f1 <= f2) qweight--;
    int rscale = 16 - qweight * 4;
    if (rscale < a->scale) rscale = a->scale;
    if (rscale < b->scale) rscale = b->scale;
    if (rscale < 0) rscale = 0;
    if (rscale > 1000) rscale = 1000;
    return rscale;
}

/* r = round(a / b, rscale), half away from zero; b != 0 */
static int dec_div(const dec *a, const dec *b, int rscale, dec *r)
{
    /* integer numerator N = |a| * 10^(rscale + 1 + b.scale - a.scale), D = |b| digits */
    int shift = rscale + 1 + b->scale - a->scale;
    dec num = *a;
    num.neg = 0;
    if (shift >= 0) { for (int i = 0; i < shift; i++) { if (num.n >= DEC_MAX - 1) return -1; num.d[num.n++] = 0; } }
    else { num.n += shift; if (num.n <= 0) { num.n = 1; num.d[0] = 0; } }
    /* long division of num.d (as an integer) by b->d (as an integer) */
    unsigned char q[DEC_MAX] = {0};
    unsigned char rem[DEC_MAX + 1];
    int rn = 0;
    int bn = b->n, bl = 0;
    while (bl < bn - 1 && b->d[bl] == 0) bl++;
    const unsigned char *bd = b->d + bl;
    bn -= bl;
    for (int i = 0; i < num.n; i++) {
        /* rem = rem * 10 + digit */
        if (rn == 1 && rem[0] == 0) rn = 0;
        rem[rn++] = num.d[i];
        int qd = 0;
        for (;;) {
            /* compare rem with bd */
            int cmp;
            int rl = 0;
            while (rl < rn - 1 && rem[rl] == 0) rl++;
            int rlen = rn - rl;
            if (rlen != bn) cmp = rlen < bn ? -1 : 1;
            else cmp = memcmp(rem + rl, bd, (size_t)bn) < 0 ? -1 : (memcmp(rem + rl, bd, (size_t)bn) > 0);
            if (cmp < 0) break;
            /* rem -= bd */
            int borrow = 0;
            for (int k = 0; k < rn; k++) {
                int ri = rn - 1 - k, bi = bn - 1 - k;
                int v = rem[ri] - (bi >= 0 ? bd[bi] : 0) - borrow;
                borrow = v < 0;
                rem[ri] = (unsigned char)(v + (borrow ? 10 : 0));
            }
            qd++;
        }
        q[i] = (unsigned char)qd;
    }
    /* q has rscale + 1 fraction digits: round on the last */
    memset(r, 0, sizeof *r - sizeof r->d);
    int n = num.n;
    int roundup = q[n - 1] >= 5;
    n--;
    if (n <= 0) { r->n = 1; r->d[0] = 0; n = 0; }
    else { memcpy(r->d, q, (size_t)n); r->n = n; }
    r->scale = rscale;
    if (roundup) {
        int i = r->n - 1;
        for (; i >= 0; i--) { if (r->d[i] == 9) r->d[i] = 0; else { r->d[i]++; break; } }
        if (i < 0) { memmove(r->d + 1, r->d, (size_t)r->n); r->d[0] = 1; r->n++; }
    }
    r->neg = a->neg != b->neg;
    dec_norm(r);
    return 0;
}

static int is_zero_dec(const dec *x)
{
    for (int i = 0; i < x->n; i++) if (x->d[i]) return 0;
    return 1;
}

static int args2(sqlite3_context *c, sqlite3_value **a, dec *x, dec *y)
{
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return 0; }
    if (dec_from_value(a[0], x) || dec_from_value(a[1], y)) {
        sqlite3_result_error(c, "22P02 invalid input syntax for type numeric", -1);
        return 0;
    }
    return 1;
}

static void f_num_add(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    dec x, y, r;
    if (!args2(c, a, &x, &y)) return;
    if (sqlite3_user_data(c)) y.neg = !y.neg && !is_zero_dec(&y);
    if (dec_add(x, y, &r)) { sqlite3_result_error(c, "22003 value overflows numeric format", -1); return; }
    dec_result(c, &r);
}

static void f_num_mul(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    dec x, y, r;
    if (!args2(c, a, &x, &y)) return;
    if (dec_mul(&x, &y, &r)) { sqlite3_result_error(c, "22003 value overflows numeric format", -1); return; }
    dec_result(c, &r);
}

static void f_num_div(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    dec x, y, r;
    if (!args2(c, a, &x, &y)) return;
    if (is_zero_dec(&y)) { sqlite3_result_error(c, "22012 division by zero", -1); return; }
    if (dec_div(&x, &y, div_scale(&x, &y), &r)) { sqlite3_result_error(c, "22003 value overflows numeric format", -1); return; }
    dec_result(c, &r);
}

/* -1/0/1 by value; NULL if either is NULL */
static void f_num_cmp(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    dec x, y, r;
    if (!args2(c, a, &x, &y)) return;
    y.neg = !y.neg;
    if (dec_add(x, y, &r)) { sqlite3_result_error(c, "22003 value overflows numeric format", -1); return; }
    sqlite3_result_int(c, is_zero_dec(&r) ? 0 : r.neg ? -1 : 1);
}

/* sum and avg over numeric (and avg over integers, which PostgreSQL
 * computes as numeric) */
typedef struct num_agg { dec sum; int64_t count; int init, bad; } num_agg;
static void f_num_sum_step(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) return;
    num_agg *g = sqlite3_aggregate_context(c, sizeof *g);
    if (!g) { sqlite3_result_error_nomem(c); return; }
    dec x;
    if (dec_from_value(a[0], &x)) { g->bad = 1; return; }
    if (!g->init) { g->sum = x; g->init = 1; }
    else {
        dec r;
        if (dec_add(g->sum, x, &r)) { g->bad = 2; return; }
        g->sum = r;
    }
    g->count++;
}
static void f_num_sum_final(sqlite3_context *c)
{
    num_agg *g = sqlite3_aggregate_context(c, 0);
    if (!g || !g->init) { sqlite3_result_null(c); return; }
    if (g->bad) { sqlite3_result_error(c, g->bad == 1 ? "22P02 invalid input syntax for type numeric" : "22003 value overflows numeric format", -1); return; }
    dec_result(c, &g->sum);
}
static void f_num_avg_final(sqlite3_context *c)
{
    num_agg *g = sqlite3_aggregate_context(c, 0);
    if (!g || !g->init) { sqlite3_result_null(c); return; }
    if (g->bad) { sqlite3_result_error(c, g->bad == 1 ? "22P02 invalid input syntax for type numeric" : "22003 value overflows numeric format", -1); return; }
    dec n, r;
    memset(&n, 0, sizeof n - sizeof n.d);
    char buf[32];
    int k = snprintf(buf, sizeof buf, "%lld", (long long)g->count);
    for (int i = 0; i < k; i++) n.d[n.n++] = (unsigned char)(buf[i] - '0');
    if (dec_div(&g->sum, &n, div_scale(&g->sum, &n), &r)) { sqlite3_result_error(c, "22003 value overflows numeric format", -1); return; }
    dec_result(c, &r);
}

/* the collation: decimal text by value; text that is not a number sorts
 * after numbers, bytewise */
static int coll_numeric(void *ctx, int n1, const void *p1, int n2, const void *p2)
{
    (void)ctx;
    char b1[DEC_MAX], b2[DEC_MAX];
    if (n1 >= (int)sizeof b1 || n2 >= (int)sizeof b2) goto bytes;
    memcpy(b1, p1, (size_t)n1); b1[n1] = 0;
    memcpy(b2, p2, (size_t)n2); b2[n2] = 0;
    /* fast path: plain digit strings of the same shape */
    dec x, y, r;
    const char *s[2] = {b1, b2};
    dec *d[2] = {&x, &y};
    for (int k = 0; k < 2; k++) {
        dec *z = d[k];
        memset(z, 0, sizeof *z - sizeof z->d);
        const char *q = s[k];
        while (isspace((unsigned char)*q)) q++;
        if (*q == '-' || *q == '+') { z->neg = *q == '-'; q++; }
        int any = 0, frac = 0;
        for (; *q; q++) {
            if (isdigit((unsigned char)*q)) { z->d[z->n++] = (unsigned char)(*q - '0'); if (frac) z->scale++; any = 1; }
            else if (*q == '.' && !frac) frac = 1;
            else break;
        }
        while (isspace((unsigned char)*q)) q++;
        if (*q || !any) goto bytes;
        dec_norm(z);
    }
    y.neg = !y.neg && !is_zero_dec(&y);
    if (dec_add(x, y, &r)) goto bytes;
    return is_zero_dec(&r) ? 0 : r.neg ? -1 : 1;
bytes:;
    int m = memcmp(p1, p2, (size_t)(n1 < n2 ? n1 : n2));
    return m ? m : (n1 > n2) - (n1 < n2);
}

int wb_sql_register_numeric(sqlite3 *db)
{
    int rc = sqlite3_create_collation_v2(db, "wb_numeric", SQLITE_UTF8, NULL, coll_numeric, NULL);
    const int det = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_num_add", 2, det, NULL, f_num_add, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_num_sub", 2, det, (void *)1, f_num_add, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_num_mul", 2, det, NULL, f_num_mul, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_num_div", 2, det, NULL, f_num_div, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_num_cmp", 2, det, NULL, f_num_cmp, NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_num_sum", 1, SQLITE_UTF8, NULL, NULL, f_num_sum_step, f_num_sum_final, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function_v2(db, "wb_num_avg", 1, SQLITE_UTF8, NULL, NULL, f_num_sum_step, f_num_avg_final, NULL);
    return rc;
}
