/* Binary value codecs (each type's send/recv function in the PostgreSQL 15
 * sources: boolsend, int4send, float8send, numeric_send, date_send,
 * timestamp_send, interval_send, uuid_send, jsonb_send, array_send) and the
 * text form of decoded values (the type output functions with DateStyle ISO,
 * IntervalStyle postgres, extra_float_digits 1). Sans-I/O. */
#include "wirebuf/pg.h"
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, unsigned oid, long n)
{
    if (err && errlen)
        snprintf(err, errlen, fmt, oid, n);
    return -1;
}

uint32_t wb_pg_array_elem(uint32_t oid)
{
    switch (oid) {
    case WB_PG_OID_BOOL_ARRAY: return WB_PG_OID_BOOL;
    case WB_PG_OID_BYTEA_ARRAY: return WB_PG_OID_BYTEA;
    case WB_PG_OID_NAME_ARRAY: return WB_PG_OID_NAME;
    case WB_PG_OID_INT2_ARRAY: return WB_PG_OID_INT2;
    case WB_PG_OID_INT4_ARRAY: return WB_PG_OID_INT4;
    case WB_PG_OID_TEXT_ARRAY: return WB_PG_OID_TEXT;
    case WB_PG_OID_BPCHAR_ARRAY: return WB_PG_OID_BPCHAR;
    case WB_PG_OID_VARCHAR_ARRAY: return WB_PG_OID_VARCHAR;
    case WB_PG_OID_INT8_ARRAY: return WB_PG_OID_INT8;
    case WB_PG_OID_FLOAT4_ARRAY: return WB_PG_OID_FLOAT4;
    case WB_PG_OID_FLOAT8_ARRAY: return WB_PG_OID_FLOAT8;
    case WB_PG_OID_OID_ARRAY: return WB_PG_OID_OID;
    case WB_PG_OID_TIMESTAMP_ARRAY: return WB_PG_OID_TIMESTAMP;
    case WB_PG_OID_DATE_ARRAY: return WB_PG_OID_DATE;
    case WB_PG_OID_TIME_ARRAY: return WB_PG_OID_TIME;
    case WB_PG_OID_TIMESTAMPTZ_ARRAY: return WB_PG_OID_TIMESTAMPTZ;
    case WB_PG_OID_INTERVAL_ARRAY: return WB_PG_OID_INTERVAL;
    case WB_PG_OID_NUMERIC_ARRAY: return WB_PG_OID_NUMERIC;
    case WB_PG_OID_TIMETZ_ARRAY: return WB_PG_OID_TIMETZ;
    case WB_PG_OID_UUID_ARRAY: return WB_PG_OID_UUID;
    case WB_PG_OID_JSON_ARRAY: return WB_PG_OID_JSON;
    case WB_PG_OID_JSONB_ARRAY: return WB_PG_OID_JSONB;
    default: return 0;
    }
}

static int scalar_known(uint32_t oid)
{
    switch (oid) {
    case WB_PG_OID_BOOL: case WB_PG_OID_BYTEA: case WB_PG_OID_CHAR: case WB_PG_OID_NAME: case WB_PG_OID_INT8:
    case WB_PG_OID_INT2: case WB_PG_OID_INT4: case WB_PG_OID_TEXT: case WB_PG_OID_OID: case WB_PG_OID_JSON:
    case WB_PG_OID_FLOAT4: case WB_PG_OID_FLOAT8: case WB_PG_OID_BPCHAR: case WB_PG_OID_VARCHAR:
    case WB_PG_OID_DATE: case WB_PG_OID_TIME: case WB_PG_OID_TIMESTAMP: case WB_PG_OID_TIMESTAMPTZ:
    case WB_PG_OID_INTERVAL: case WB_PG_OID_TIMETZ: case WB_PG_OID_NUMERIC: case WB_PG_OID_UUID:
    case WB_PG_OID_JSONB:
        return 1;
    default:
        return 0;
    }
}

int wb_pg_binary_known(uint32_t oid) { return scalar_known(oid) || wb_pg_array_elem(oid) != 0; }

void wb_pg_put_i16(uint8_t o[2], int16_t v)
{
    o[0] = (uint8_t)((uint16_t)v >> 8);
    o[1] = (uint8_t)v;
}
void wb_pg_put_i32(uint8_t o[4], int32_t v)
{
    uint32_t u = (uint32_t)v;
    o[0] = (uint8_t)(u >> 24);
    o[1] = (uint8_t)(u >> 16);
    o[2] = (uint8_t)(u >> 8);
    o[3] = (uint8_t)u;
}
void wb_pg_put_i64(uint8_t o[8], int64_t v)
{
    wb_pg_put_i32(o, (int32_t)((uint64_t)v >> 32));
    wb_pg_put_i32(o + 4, (int32_t)(uint32_t)v);
}
void wb_pg_put_f64(uint8_t o[8], double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    wb_pg_put_i64(o, (int64_t)u);
}
void wb_pg_put_f32(uint8_t o[4], float v)
{
    uint32_t u;
    memcpy(&u, &v, 4);
    wb_pg_put_i32(o, (int32_t)u);
}

static int want_len(uint32_t oid, int32_t len, int32_t n, char *err, size_t errlen)
{
    if (len == n)
        return 0;
    return fail(err, errlen, "binary value of type OID %u has %ld bytes", oid, len);
}

int wb_pg_decode(uint32_t oid, const uint8_t *v, int32_t len, wb_pg_value *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len < 0 || !v) {
        out->kind = WB_PG_K_NULL;
        return 0;
    }
    out->p = v;
    out->len = (size_t)len;
    switch (oid) {
    case WB_PG_OID_BOOL:
        if (want_len(oid, len, 1, err, errlen))
            return -1;
        out->kind = WB_PG_K_BOOL;
        out->i = v[0] != 0;
        return 0;
    case WB_PG_OID_INT2:
        if (want_len(oid, len, 2, err, errlen))
            return -1;
        out->kind = WB_PG_K_INT;
        out->i = (int16_t)wb_pg_be16(v);
        return 0;
    case WB_PG_OID_INT4:
        if (want_len(oid, len, 4, err, errlen))
            return -1;
        out->kind = WB_PG_K_INT;
        out->i = (int32_t)wb_pg_be32(v);
        return 0;
    case WB_PG_OID_OID:
        if (want_len(oid, len, 4, err, errlen))
            return -1;
        out->kind = WB_PG_K_INT;
        out->i = wb_pg_be32(v);
        return 0;
    case WB_PG_OID_INT8:
        if (want_len(oid, len, 8, err, errlen))
            return -1;
        out->kind = WB_PG_K_INT;
        out->i = (int64_t)wb_pg_be64(v);
        return 0;
    case WB_PG_OID_FLOAT4: {
        if (want_len(oid, len, 4, err, errlen))
            return -1;
        uint32_t u = wb_pg_be32(v);
        float f;
        memcpy(&f, &u, 4);
        out->kind = WB_PG_K_FLOAT;
        out->f = f;
        return 0;
    }
    case WB_PG_OID_FLOAT8: {
        if (want_len(oid, len, 8, err, errlen))
            return -1;
        uint64_t u = wb_pg_be64(v);
        memcpy(&out->f, &u, 8);
        out->kind = WB_PG_K_FLOAT;
        return 0;
    }
    case WB_PG_OID_TEXT: case WB_PG_OID_VARCHAR: case WB_PG_OID_BPCHAR: case WB_PG_OID_NAME: case WB_PG_OID_JSON:
    case WB_PG_OID_CHAR:
        out->kind = WB_PG_K_TEXT;
        return 0;
    case WB_PG_OID_JSONB:
        if (len < 1 || v[0] != 1)
            return fail(err, errlen, "jsonb value (type OID %u) has unknown format version (%ld bytes)", oid, len);
        out->kind = WB_PG_K_TEXT;
        out->p = v + 1;
        out->len = (size_t)len - 1;
        return 0;
    case WB_PG_OID_BYTEA:
        out->kind = WB_PG_K_BYTES;
        return 0;
    case WB_PG_OID_NUMERIC: {
        if (len < 8)
            return fail(err, errlen, "numeric value (type OID %u) has only %ld bytes", oid, len);
        uint16_t nd = wb_pg_be16(v);
        if ((size_t)len != 8 + 2 * (size_t)nd)
            return fail(err, errlen, "numeric value (type OID %u) has %ld bytes for its digit count", oid, len);
        out->kind = WB_PG_K_NUMERIC;
        return 0;
    }
    case WB_PG_OID_DATE:
        if (want_len(oid, len, 4, err, errlen))
            return -1;
        out->kind = WB_PG_K_DATE;
        out->i = (int32_t)wb_pg_be32(v);
        return 0;
    case WB_PG_OID_TIME:
        if (want_len(oid, len, 8, err, errlen))
            return -1;
        out->kind = WB_PG_K_TIME;
        out->i = (int64_t)wb_pg_be64(v);
        if (out->i < 0 || out->i > INT64_C(86400000000)) /* time_recv: 00:00 to 24:00 */
            return fail(err, errlen, "binary value of type OID %u: time %ld µs out of range", oid, (long)out->i);
        return 0;
    case WB_PG_OID_TIMETZ:
        if (want_len(oid, len, 12, err, errlen))
            return -1;
        out->kind = WB_PG_K_TIMETZ;
        out->i = (int64_t)wb_pg_be64(v);
        out->tz_offset = (int32_t)wb_pg_be32(v + 8);
        if (out->i < 0 || out->i > INT64_C(86400000000)) /* timetz_recv: 00:00 to 24:00 */
            return fail(err, errlen, "binary value of type OID %u: time %ld µs out of range", oid, (long)out->i);
        /* timetz_recv: zone displacement within ±15:59:59 */
        if (out->tz_offset < -57599 || out->tz_offset > 57599)
            return fail(err, errlen, "binary value of type OID %u: time zone displacement %ld s out of range", oid,
                        (long)out->tz_offset);
        return 0;
    case WB_PG_OID_TIMESTAMP:
    case WB_PG_OID_TIMESTAMPTZ:
        if (want_len(oid, len, 8, err, errlen))
            return -1;
        out->kind = oid == WB_PG_OID_TIMESTAMP ? WB_PG_K_TIMESTAMP : WB_PG_K_TIMESTAMPTZ;
        out->i = (int64_t)wb_pg_be64(v);
        return 0;
    case WB_PG_OID_INTERVAL:
        if (want_len(oid, len, 16, err, errlen))
            return -1;
        out->kind = WB_PG_K_INTERVAL;
        out->i = (int64_t)wb_pg_be64(v);
        out->days = (int32_t)wb_pg_be32(v + 8);
        out->months = (int32_t)wb_pg_be32(v + 12);
        return 0;
    case WB_PG_OID_UUID:
        if (want_len(oid, len, 16, err, errlen))
            return -1;
        out->kind = WB_PG_K_UUID;
        return 0;
    default:
        if (wb_pg_array_elem(oid)) {
            wb_pg_array a;
            if (wb_pg_array_open(v, (size_t)len, &a, err, errlen))
                return -1;
            out->kind = WB_PG_K_ARRAY;
            return 0;
        }
        out->kind = WB_PG_K_BYTES;
        return 0;
    }
}

/* ---- numeric ---- */
#define NUMERIC_POS 0x0000
#define NUMERIC_NEG 0x4000
#define NUMERIC_NAN 0xC000
#define NUMERIC_PINF 0xD000
#define NUMERIC_NINF 0xF000

int wb_pg_numeric_to_text(const uint8_t *v, size_t len, wb_buf *out)
{
    if (len < 8)
        return -1;
    int nd = wb_pg_be16(v), weight = (int16_t)wb_pg_be16(v + 2), sign = wb_pg_be16(v + 4),
        dscale = wb_pg_be16(v + 6);
    if (len != 8 + 2 * (size_t)nd || dscale > 0x3fff)
        return -1;
    if (sign == NUMERIC_NAN)
        return wb_buf_puts(out, "NaN");
    if (sign == NUMERIC_PINF)
        return wb_buf_puts(out, "Infinity");
    if (sign == NUMERIC_NINF)
        return wb_buf_puts(out, "-Infinity");
    if (sign != NUMERIC_POS && sign != NUMERIC_NEG)
        return -1;
    const uint8_t *d = v + 8;
    for (int i = 0; i < nd; i++)
        if (wb_pg_be16(d + 2 * i) > 9999)
            return -1;
    int rc = 0;
    if (sign == NUMERIC_NEG)
        rc |= wb_buf_putc(out, '-');
    char tmp[8];
    if (weight < 0) {
        rc |= wb_buf_putc(out, '0');
    } else {
        for (int i = 0; i <= weight; i++) {
            int dig = i < nd ? wb_pg_be16(d + 2 * i) : 0;
            snprintf(tmp, sizeof tmp, i == 0 ? "%d" : "%04d", dig);
            rc |= wb_buf_puts(out, tmp);
        }
    }
    if (dscale > 0) {
        rc |= wb_buf_putc(out, '.');
        int written = 0;
        for (int i = weight + 1; written < dscale; i++) {
            int dig = i >= 0 && i < nd ? wb_pg_be16(d + 2 * i) : 0;
            snprintf(tmp, sizeof tmp, "%04d", dig);
            for (int k = 0; k < 4 && written < dscale; k++, written++)
                rc |= wb_buf_putc(out, (uint8_t)tmp[k]);
        }
    }
    return rc ? -1 : 0;
}

int wb_pg_numeric_from_text(const char *s, size_t len, wb_buf *out)
{
    uint8_t hdr[8];
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    while (len > i && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    const char *t = s + i;
    size_t n = len - i;
    struct {
        const char *txt;
        uint16_t sign;
    } specials[] = {{"NaN", NUMERIC_NAN}, {"Infinity", NUMERIC_PINF}, {"+Infinity", NUMERIC_PINF},
                    {"-Infinity", NUMERIC_NINF}, {"inf", NUMERIC_PINF}, {"-inf", NUMERIC_NINF}};
    for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++) {
        if (n == strlen(specials[k].txt) && strncasecmp(t, specials[k].txt, n) == 0) {
            memset(hdr, 0, 8);
            hdr[4] = (uint8_t)(specials[k].sign >> 8);
            return wb_buf_append(out, hdr, 8);
        }
    }
    int neg = 0;
    size_t p = 0;
    if (p < n && (t[p] == '+' || t[p] == '-'))
        neg = t[p++] == '-';
    /* collect digits; point = digits before the decimal point */
    char *dig = malloc(n + 8);
    if (!dig)
        return -1;
    size_t nd = 0, intd = 0, fracd = 0;
    int seen_point = 0, any = 0;
    for (; p < n; p++) {
        if (t[p] >= '0' && t[p] <= '9') {
            dig[nd++] = t[p];
            any = 1;
            if (seen_point)
                fracd++;
            else
                intd++;
        } else if (t[p] == '.' && !seen_point) {
            seen_point = 1;
        } else {
            break;
        }
    }
    long exp10 = 0;
    if (p < n && (t[p] == 'e' || t[p] == 'E')) {
        char *e;
        char buf[32];
        size_t el = n - p - 1 < sizeof buf - 1 ? n - p - 1 : sizeof buf - 1;
        memcpy(buf, t + p + 1, el);
        buf[el] = 0;
        exp10 = strtol(buf, &e, 10);
        if (e == buf || *e || exp10 > 100000 || exp10 < -100000) {
            free(dig);
            return -1;
        }
        p = n;
    }
    if (!any || p != n) {
        free(dig);
        return -1;
    }
    long point = (long)intd + exp10; /* digits before the point */
    long dscale = (long)fracd - exp10;
    if (dscale < 0)
        dscale = 0;
    /* strip leading zeros */
    size_t lead = 0;
    while (lead < nd && dig[lead] == '0') {
        lead++;
        point--;
    }
    size_t end = nd;
    while (end > lead && dig[end - 1] == '0')
        end--;
    int rc;
    if (lead == end) { /* zero */
        memset(hdr, 0, 8);
        hdr[6] = (uint8_t)(dscale >> 8);
        hdr[7] = (uint8_t)dscale;
        free(dig);
        return wb_buf_append(out, hdr, 8);
    }
    /* align: the digit at index lead sits at decimal position point-1
     * (positions counted from the point, left positive). Group by 4 from
     * the point. */
    long first_pos = point - 1;                    /* power of ten of dig[lead] */
    long last_pos = point - 1 - (long)(end - lead - 1);
    long wfirst = first_pos >= 0 ? first_pos / 4 : -((-first_pos + 3) / 4);
    long wlast = last_pos >= 0 ? last_pos / 4 : -((-last_pos + 3) / 4);
    long ngroups = wfirst - wlast + 1;
    if (ngroups > 0xffff || wfirst > 0x7fff || wfirst < -0x8000) {
        free(dig);
        return -1;
    }
    size_t start = out->len;
    memset(hdr, 0, 8);
    rc = wb_buf_append(out, hdr, 8);
    for (long g = wfirst; rc == 0 && g >= wlast; g--) {
        int val = 0;
        for (long pos = g * 4 + 3; pos >= g * 4; pos--) {
            long idx = (long)lead + (first_pos - pos);
            int dd = idx >= (long)lead && idx < (long)end ? dig[idx] - '0' : 0;
            val = val * 10 + dd;
        }
        uint8_t b[2] = {(uint8_t)(val >> 8), (uint8_t)val};
        rc = wb_buf_append(out, b, 2);
    }
    free(dig);
    if (rc)
        return -1;
    uint8_t *h = out->p + start;
    h[0] = (uint8_t)(ngroups >> 8);
    h[1] = (uint8_t)ngroups;
    h[2] = (uint8_t)((uint16_t)(int16_t)wfirst >> 8);
    h[3] = (uint8_t)(uint16_t)(int16_t)wfirst;
    uint16_t sign = neg ? NUMERIC_NEG : NUMERIC_POS;
    h[4] = (uint8_t)(sign >> 8);
    h[6] = (uint8_t)(dscale >> 8);
    h[7] = (uint8_t)dscale;
    return 0;
}

/* ---- arrays ---- */
int wb_pg_array_open(const uint8_t *v, size_t len, wb_pg_array *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    if (len < 12)
        return fail(err, errlen, "array value too short (%u/%ld bytes)", 0, (long)len);
    a->ndim = (int32_t)wb_pg_be32(v);
    a->elem_oid = wb_pg_be32(v + 8);
    if (a->ndim == 0) {
        a->cur = a->end = v + len;
        return len == 12 ? 0 : fail(err, errlen, "empty array (element OID %u) with %ld trailing bytes", a->elem_oid,
                                    (long)len - 12);
    }
    if (a->ndim != 1)
        return fail(err, errlen, "array of element type %u has %ld dimensions; only 1 is supported", a->elem_oid,
                    a->ndim);
    if (len < 20)
        return fail(err, errlen, "array (element OID %u) too short: %ld bytes", a->elem_oid, (long)len);
    a->nelems = (int32_t)wb_pg_be32(v + 12);
    a->lbound = (int32_t)wb_pg_be32(v + 16);
    if (a->nelems < 0)
        return fail(err, errlen, "array (element OID %u) has negative length %ld", a->elem_oid, a->nelems);
    a->cur = v + 20;
    a->end = v + len;
    /* validate the element framing once */
    const uint8_t *p = a->cur;
    for (int32_t i = 0; i < a->nelems; i++) {
        if (a->end - p < 4)
            return fail(err, errlen, "array (element OID %u) ends inside element %ld", a->elem_oid, i + 1);
        int32_t l = (int32_t)wb_pg_be32(p);
        p += 4;
        if (l < -1 || (l > 0 && a->end - p < l))
            return fail(err, errlen, "array (element OID %u): element %ld has a bad length", a->elem_oid, i + 1);
        if (l > 0)
            p += l;
    }
    if (p != a->end)
        return fail(err, errlen, "array (element OID %u) has %ld trailing bytes", a->elem_oid, (long)(a->end - p));
    return 0;
}

int wb_pg_array_next(wb_pg_array *a, const uint8_t **val, int32_t *len)
{
    if (a->cur >= a->end)
        return 0;
    if (a->end - a->cur < 4)
        return -1;
    int32_t l = (int32_t)wb_pg_be32(a->cur);
    a->cur += 4;
    if (l < -1 || (l > 0 && a->end - a->cur < l))
        return -1;
    *len = l;
    *val = l >= 0 ? a->cur : NULL;
    if (l > 0)
        a->cur += l;
    return 1;
}

int wb_pg_array_encode(wb_buf *out, uint32_t elem_oid, int32_t n, const uint8_t *const *vals, const int32_t *lens)
{
    uint8_t h[20];
    int has_null = 0;
    for (int32_t i = 0; i < n; i++)
        has_null |= !vals[i] || lens[i] < 0;
    wb_pg_put_i32(h, n > 0 ? 1 : 0);
    wb_pg_put_i32(h + 4, has_null);
    wb_pg_put_i32(h + 8, (int32_t)elem_oid);
    wb_pg_put_i32(h + 12, n);
    wb_pg_put_i32(h + 16, 1);
    size_t start = out->len;
    if (wb_buf_append(out, h, n > 0 ? 20 : 12))
        return -1;
    for (int32_t i = 0; i < n; i++) {
        uint8_t l[4];
        int32_t len = !vals[i] || lens[i] < 0 ? -1 : lens[i];
        wb_pg_put_i32(l, len);
        if (wb_buf_append(out, l, 4) || (len > 0 && wb_buf_append(out, vals[i], (size_t)len))) {
            out->len = start;
            return -1;
        }
    }
    return 0;
}

/* ---- text forms ---- */
#define USECS_PER_DAY INT64_C(86400000000)
#define POSTGRES_EPOCH_JDATE 2451545 /* Julian day of 2000-01-01 */

/* Julian day number -> y/m/d (PostgreSQL's j2date) */
static void j2date(int64_t jd, int *year, int *month, int *day)
{
    uint64_t julian = (uint64_t)(jd + 32044);
    uint64_t quad = julian / 146097;
    uint64_t extra = (julian - quad * 146097) * 4 + 3;
    julian += 60 + quad * 3 + extra / 146097;
    quad = julian / 1461;
    julian -= quad * 1461;
    int64_t y = (int64_t)(julian * 4 / 1461);
    julian = ((y != 0) ? ((julian + 305) % 365) : ((julian + 306) % 366)) + 123;
    y += (int64_t)quad * 4;
    *year = (int)(y - 4800);
    quad = julian * 2141 / 65536;
    *day = (int)(julian - 7834 * quad / 256);
    *month = (int)((quad + 10) % 12 + 1);
}

static int put_date(wb_buf *out, int64_t days, int *bc)
{
    int y, m, d;
    j2date(days + POSTGRES_EPOCH_JDATE, &y, &m, &d);
    *bc = y <= 0;
    char t[32];
    snprintf(t, sizeof t, "%04d-%02d-%02d", *bc ? -(y - 1) : y, m, d);
    return wb_buf_puts(out, t);
}

/* HH:MM:SS[.ffffff] of a non-negative duration (unsigned, so that the
 * magnitude of INT64_MIN µs fits) */
static int put_time(wb_buf *out, uint64_t us)
{
    char t[48];
    uint64_t h = us / UINT64_C(3600000000), mi = us / 60000000 % 60, s = us / 1000000 % 60, f = us % 1000000;
    int n = snprintf(t, sizeof t, "%02llu:%02llu:%02llu", (unsigned long long)h, (unsigned long long)mi,
                     (unsigned long long)s);
    if (f) {
        n += snprintf(t + n, sizeof t - (size_t)n, ".%06llu", (unsigned long long)f);
        while (t[n - 1] == '0')
            t[--n] = 0;
    }
    return wb_buf_puts(out, t);
}

static int put_tz(wb_buf *out, int32_t west)
{
    int32_t east = -west;
    char t[16];
    int a = east < 0 ? -east : east;
    int n = snprintf(t, sizeof t, "%c%02d", east < 0 ? '-' : '+', a / 3600);
    if (a % 3600)
        n += snprintf(t + n, sizeof t - (size_t)n, ":%02d", a / 60 % 60);
    if (a % 60)
        snprintf(t + n, sizeof t - (size_t)n, ":%02d", a % 60);
    return wb_buf_puts(out, t);
}

static int put_timestamp(wb_buf *out, int64_t us, int tz)
{
    if (us == INT64_MAX)
        return wb_buf_puts(out, "infinity");
    if (us == INT64_MIN)
        return wb_buf_puts(out, "-infinity");
    int64_t days = us / USECS_PER_DAY, rem = us % USECS_PER_DAY;
    if (rem < 0) {
        rem += USECS_PER_DAY;
        days--;
    }
    int bc;
    int rc = put_date(out, days, &bc) | wb_buf_putc(out, ' ') | put_time(out, (uint64_t)rem);
    if (tz)
        rc |= wb_buf_puts(out, "+00");
    if (bc)
        rc |= wb_buf_puts(out, " BC");
    return rc ? -1 : 0;
}

/* float8out/float4out (extra_float_digits = 1, PostgreSQL 12+): the
 * shortest digits that read back exactly, exponent form outside
 * 1e-4 <= |x| < 1e15 (float4: 1e6). Found in at most three printf calls
 * instead of one per precision: when a representation of at most 15
 * (float4: 6) digits reads back, rounding to that many digits yields it,
 * trailing zeros aside (15-digit decimals are further apart than doubles, so
 * only one lies within a double's rounding interval). The server's text
 * output (src/engine/value.c) uses this too. */
static int put_float(wb_buf *out, double f, int is4)
{
    if (isnan(f))
        return wb_buf_puts(out, "NaN");
    if (isinf(f))
        return wb_buf_puts(out, f > 0 ? "Infinity" : "-Infinity");
    if (f == 0)
        return wb_buf_puts(out, signbit(f) ? "-0" : "0");
    char e[64];
    int lo = is4 ? 6 : 15, hi = is4 ? 9 : 17, prec;
    if (is4 ? fabs(f) < FLT_MIN : fabs(f) < DBL_MIN)
        lo = 1; /* subnormal: fewer digits than the type's precision can read back */
    for (prec = lo; prec <= hi; prec++) {
        snprintf(e, sizeof e, "%.*e", prec - 1, f);
        if (is4 ? (float)strtod(e, NULL) == (float)f : strtod(e, NULL) == f)
            break;
    }
    char *ep = strchr(e, 'e');
    int ex = atoi(ep + 1);
    *ep = 0;
    char digits[40];
    size_t nd = 0;
    int neg = e[0] == '-';
    for (char *q = e + neg; *q; q++)
        if (*q >= '0' && *q <= '9')
            digits[nd++] = *q;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    char t[80];
    size_t n = 0;
    if (neg)
        t[n++] = '-';
    if (ex < -4 || ex >= (is4 ? 6 : 15)) {
        t[n++] = digits[0];
        if (nd > 1) {
            t[n++] = '.';
            memcpy(t + n, digits + 1, nd - 1);
            n += nd - 1;
        }
        n += (size_t)snprintf(t + n, sizeof t - n, "e%c%02d", ex < 0 ? '-' : '+', ex < 0 ? -ex : ex);
    } else if (ex < 0) {
        t[n++] = '0';
        t[n++] = '.';
        for (int k = -1; k > ex; k--)
            t[n++] = '0';
        memcpy(t + n, digits, nd);
        n += nd;
    } else {
        for (int k = 0; k <= ex; k++)
            t[n++] = (size_t)k < nd ? digits[k] : '0';
        if ((size_t)ex + 1 < nd) {
            t[n++] = '.';
            memcpy(t + n, digits + ex + 1, nd - (size_t)ex - 1);
            n += nd - (size_t)ex - 1;
        }
    }
    return wb_buf_append(out, t, n);
}

static int put_interval(wb_buf *out, const wb_pg_value *v)
{
    char t[128] = "";
    int n = 0;
    int32_t years = v->months / 12, mons = v->months % 12;
    if (years)
        n += snprintf(t + n, sizeof t - (size_t)n, "%s%d year%s", n ? " " : "", years, years == 1 ? "" : "s");
    if (mons)
        n += snprintf(t + n, sizeof t - (size_t)n, "%s%d mon%s", n ? " " : "", mons, mons == 1 ? "" : "s");
    if (v->days)
        n += snprintf(t + n, sizeof t - (size_t)n, "%s%d day%s", n ? " " : "", v->days,
                      v->days == 1 ? "" : "s");
    int rc = wb_buf_append(out, t, (size_t)n);
    if (v->i != 0 || n == 0) {
        int neg = v->i < 0;
        /* postgres style: a sign on the time part when negative, or '+' when
         * an earlier field was negative */
        int earlier_neg = v->months < 0 || v->days < 0;
        if (n)
            rc |= wb_buf_putc(out, ' ');
        if (neg)
            rc |= wb_buf_putc(out, '-');
        else if (earlier_neg)
            rc |= wb_buf_putc(out, '+');
        rc |= put_time(out, neg ? UINT64_C(0) - (uint64_t)v->i : (uint64_t)v->i);
    }
    return rc ? -1 : 0;
}

int wb_pg_value_to_text(uint32_t oid, const wb_pg_value *v, wb_buf *out)
{
    char t[64];
    switch (v->kind) {
    case WB_PG_K_NULL: return 0;
    case WB_PG_K_BOOL: return wb_buf_putc(out, v->i ? 't' : 'f');
    case WB_PG_K_INT:
        snprintf(t, sizeof t, "%lld", (long long)v->i);
        return wb_buf_puts(out, t);
    case WB_PG_K_FLOAT: return put_float(out, v->f, oid == WB_PG_OID_FLOAT4);
    case WB_PG_K_TEXT: return wb_buf_append(out, v->p, v->len);
    case WB_PG_K_BYTES: {
        static const char hx[] = "0123456789abcdef";
        if (wb_buf_reserve(out, 2 + 2 * v->len))
            return -1;
        out->p[out->len++] = '\\';
        out->p[out->len++] = 'x';
        for (size_t i = 0; i < v->len; i++) {
            out->p[out->len++] = (uint8_t)hx[v->p[i] >> 4];
            out->p[out->len++] = (uint8_t)hx[v->p[i] & 15];
        }
        return 0;
    }
    case WB_PG_K_NUMERIC: return wb_pg_numeric_to_text(v->p, v->len, out);
    case WB_PG_K_DATE: {
        if (v->i == INT32_MAX)
            return wb_buf_puts(out, "infinity");
        if (v->i == INT32_MIN)
            return wb_buf_puts(out, "-infinity");
        int bc;
        int rc = put_date(out, v->i, &bc);
        return rc | (bc ? wb_buf_puts(out, " BC") : 0);
    }
    case WB_PG_K_TIME: return put_time(out, v->i);
    case WB_PG_K_TIMETZ: return put_time(out, v->i) | put_tz(out, v->tz_offset);
    case WB_PG_K_TIMESTAMP: return put_timestamp(out, v->i, 0);
    case WB_PG_K_TIMESTAMPTZ: return put_timestamp(out, v->i, 1);
    case WB_PG_K_INTERVAL: return put_interval(out, v);
    case WB_PG_K_UUID: {
        const uint8_t *u = v->p;
        snprintf(t, sizeof t, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
                 u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
        return wb_buf_puts(out, t);
    }
    case WB_PG_K_ARRAY: {
        wb_pg_array a;
        if (wb_pg_array_open(v->p, v->len, &a, NULL, 0))
            return -1;
        int rc = wb_buf_putc(out, '{');
        const uint8_t *ev;
        int32_t el;
        int first = 1, r;
        while ((r = wb_pg_array_next(&a, &ev, &el)) == 1) {
            if (!first)
                rc |= wb_buf_putc(out, ',');
            first = 0;
            if (el < 0) {
                rc |= wb_buf_puts(out, "NULL");
                continue;
            }
            wb_pg_value e;
            if (wb_pg_decode(a.elem_oid, ev, el, &e, NULL, 0))
                return -1;
            size_t start = out->len;
            if (wb_pg_value_to_text(a.elem_oid, &e, out))
                return -1;
            /* array_out quotes elements that are empty, NULL-like or contain
             * special characters, escaping " and \ */
            size_t n = out->len - start;
            int quote = n == 0 || (n == 4 && strncasecmp((char *)out->p + start, "NULL", 4) == 0);
            for (size_t k = start; k < out->len && !quote; k++) {
                uint8_t ch = out->p[k];
                quote = ch == '"' || ch == '\\' || ch == '{' || ch == '}' || ch == ',' || ch == ' ' || ch == '\t' ||
                        ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
            }
            if (quote) {
                wb_buf tmp = {0};
                rc |= wb_buf_putc(&tmp, '"');
                for (size_t k = start; k < out->len; k++) {
                    if (out->p[k] == '"' || out->p[k] == '\\')
                        rc |= wb_buf_putc(&tmp, '\\');
                    rc |= wb_buf_putc(&tmp, out->p[k]);
                }
                rc |= wb_buf_putc(&tmp, '"');
                out->len = start;
                rc |= wb_buf_append(out, tmp.p, tmp.len);
                wb_buf_free(&tmp);
            }
        }
        if (r < 0)
            return -1;
        return rc | wb_buf_putc(out, '}');
    }
    default: return -1;
    }
}
