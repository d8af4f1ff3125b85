/* src/engine/value.c - values between SQLite's storage (see internal.h for
 * the conventions) and PostgreSQL's text and binary forms (PostgreSQL 15
 * docs ch. 8 for the text forms; the send/recv layouts are src/pg/types.c's,
 * shared with the client). Declared column types -> OID/typmod. */
#include "internal.h"
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Declared types                                                      */

static int word_is(const char *p, size_t n, const char *w) { return strlen(w) == n && strncasecmp(p, w, n) == 0; }

void wb_eng_decltype(const char *decl, uint32_t *oid, int32_t *typmod)
{
    *oid = 0;
    *typmod = -1;
    if (!decl || !*decl)
        return;
    /* the translator's mapping knows the declarations it writes
     * ("numeric text(10,2)", "timespan text", "_int4"); the spellings below
     * cover tables made by other SQLite tools */
    if (wb_sql_decltype_to_pg(decl, oid, typmod) && *oid)
        return;
    *oid = 0;
    *typmod = -1;
    char t[128];
    size_t n = 0;
    /* lower case, single spaces, stop at the first '(' (typmod) */
    const char *p = decl;
    while (*p == ' ')
        p++;
    int array = 0;
    long m1 = -1, m2 = -1;
    for (; *p && n + 1 < sizeof t; p++) {
        if (*p == '(') {
            char *end;
            m1 = strtol(p + 1, &end, 10);
            if (*end == ',')
                m2 = strtol(end + 1, &end, 10);
            p = strchr(p, ')');
            if (!p)
                break;
            continue;
        }
        if (*p == '[') {
            array = 1;
            break;
        }
        if (*p == '"')
            continue;
        if (*p == ' ' && (n == 0 || t[n - 1] == ' '))
            continue;
        t[n++] = (char)tolower((unsigned char)*p);
    }
    while (n && t[n - 1] == ' ')
        n--;
    t[n] = 0;
    if (n > 6 && strcmp(t + n - 6, " array") == 0) {
        array = 1;
        t[n -= 6] = 0;
    }
    if (strncmp(t, "pg_catalog.", 11) == 0)
        memmove(t, t + 11, strlen(t + 11) + 1), n -= 11;
    static const struct {
        const char *name;
        uint32_t oid;
    } names[] = {
        {"bool", 16}, {"boolean", 16}, {"bytea", 17}, {"char", 18}, {"\"char\"", 18}, {"name", 19},
        {"int8", 20}, {"bigint", 20}, {"bigserial", 20}, {"serial8", 20},
        {"int2", 21}, {"smallint", 21}, {"smallserial", 21}, {"serial2", 21},
        {"int4", 23}, {"int", 23}, {"integer", 23}, {"serial", 23}, {"serial4", 23},
        {"text", 25}, {"oid", 26}, {"regclass", 26}, {"regtype", 26}, {"regproc", 26}, {"json", 114},
        {"float4", 700}, {"real", 700}, {"float8", 701}, {"double precision", 701}, {"float", 701},
        {"double", 701}, {"bpchar", 1042}, {"character", 1042},
        {"varchar", 1043}, {"character varying", 1043}, {"date", 1082}, {"time", 1083},
        {"time without time zone", 1083}, {"timestamp", 1114}, {"timestamp without time zone", 1114},
        {"datetime", 1114}, {"timestamptz", 1184}, {"timestamp with time zone", 1184}, {"interval", 1186},
        {"timetz", 1266}, {"time with time zone", 1266}, {"numeric", 1700}, {"decimal", 1700},
        {"uuid", 2950}, {"jsonb", 3802}, {"blob", 17},
    };
    if (t[0] == '_') { /* _int4: pg_type's array name */
        array = 1;
        memmove(t, t + 1, n--);
    }
    /* "numeric text", "timestamptz text": the PostgreSQL name comes first,
     * later words only pick SQLite's affinity: drop words until one matches */
    uint32_t o = 0;
    for (;;) {
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            if (word_is(t, n, names[i].name)) {
                o = names[i].oid;
                break;
            }
        char *sp = o ? NULL : strrchr(t, ' ');
        if (!sp)
            break;
        *sp = 0;
        n = (size_t)(sp - t);
    }
    if (!o)
        return;
    int32_t tm = -1;
    if (o == 1043 || o == 1042) {
        if (m1 >= 0)
            tm = (int32_t)m1 + 4;
        else if (o == 1042 && word_is(t, n, "character"))
            tm = 5; /* character = character(1) */
    } else if (o == 18 && strcmp(t, "char") == 0) {
        /* SQL char = character(1) */
        o = 1042;
        tm = (m1 >= 0 ? (int32_t)m1 : 1) + 4;
    } else if (o == 1700 && m1 >= 0) {
        tm = (int32_t)(((m1 << 16) | (m2 >= 0 ? m2 : 0)) + 4);
    } else if ((o == 1114 || o == 1184 || o == 1083 || o == 1266 || o == 1186) && m1 >= 0) {
        tm = (int32_t)m1;
    }
    if (array) {
        static const uint32_t arr[][2] = {{16, 1000}, {17, 1001}, {19, 1003}, {21, 1005}, {23, 1007},
                                          {25, 1009}, {1042, 1014}, {1043, 1015}, {20, 1016}, {700, 1021},
                                          {701, 1022}, {26, 1028}, {1114, 1115}, {1082, 1182}, {1083, 1183},
                                          {1184, 1185}, {1186, 1187}, {1700, 1231}, {1266, 1270}, {2950, 2951},
                                          {114, 199}, {3802, 3807}};
        uint32_t ao = 0;
        for (size_t i = 0; i < sizeof arr / sizeof arr[0]; i++)
            if (arr[i][0] == o)
                ao = arr[i][1];
        o = ao;
    }
    *oid = o;
    *typmod = o ? tm : -1;
}

int16_t wb_eng_typlen(uint32_t oid)
{
    switch (oid) {
    case 16: case 18: return 1;
    case 21: return 2;
    case 23: case 26: case 700: case 1082: return 4;
    case 20: case 701: case 1083: case 1114: case 1184: return 8;
    case 1266: return 12;
    case 1186: case 2950: return 16;
    case 19: return 64;
    default: return -1;
    }
}

const char *wb_eng_type_name(uint32_t oid)
{
    switch (oid) {
    case 16: return "boolean";
    case 17: return "bytea";
    case 20: return "bigint";
    case 21: return "smallint";
    case 23: return "integer";
    case 26: return "oid";
    case 700: return "real";
    case 701: return "double precision";
    case 1700: return "numeric";
    case 1082: return "date";
    case 1083: return "time without time zone";
    case 1114: return "timestamp without time zone";
    case 1184: return "timestamp with time zone";
    case 1186: return "interval";
    case 2950: return "uuid";
    case 114: return "json";
    case 3802: return "jsonb";
    default: return "text";
    }
}

uint32_t wb_eng_oid_of_value(int t)
{
    switch (t) {
    case SQLITE_INTEGER: return WB_PG_OID_INT8;
    case SQLITE_FLOAT: return WB_PG_OID_FLOAT8;
    case SQLITE_BLOB: return WB_PG_OID_BYTEA;
    default: return WB_PG_OID_TEXT;
    }
}

/* ------------------------------------------------------------------ */
/* Dates and times (proleptic Gregorian, days from 2000-01-01)          */

static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468 - 10957; /* 1970 -> 2000 */
}

static int digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

/* "HH:MM[:SS[.ffffff]]" -> µs */
static int parse_time(const char **pp, int64_t *us)
{
    const char *p = *pp;
    int h, mi, s = 0;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi))
        return -1;
    int64_t frac = 0;
    if (*p == ':') {
        p++;
        if (digits(&p, 2, &s))
            return -1;
        if (*p == '.') {
            p++;
            int nd = 0;
            while (isdigit((unsigned char)*p)) {
                if (nd < 6) {
                    frac = frac * 10 + (*p - '0');
                    nd++;
                } else if (nd == 6) { /* round the 7th digit, as PostgreSQL */
                    if (*p >= '5')
                        frac++;
                    nd++;
                }
                p++;
            }
            for (int k = nd > 6 ? 6 : nd; k < 6; k++)
                frac *= 10;
        }
    }
    if (h > 24 || mi > 59 || s > 60)
        return -1;
    *us = (((int64_t)h * 60 + mi) * 60 + s) * 1000000 + frac;
    *pp = p;
    return 0;
}

/* "+HH[:MM[:SS]]" / "-HHMM" / "Z" -> seconds east of UTC */
static int parse_tz(const char **pp, int32_t *east)
{
    const char *p = *pp;
    while (*p == ' ')
        p++;
    if (*p == 'Z' || *p == 'z') {
        *east = 0;
        *pp = p + 1;
        return 0;
    }
    if (strncasecmp(p, "UTC", 3) == 0 || strncasecmp(p, "GMT", 3) == 0) {
        *east = 0;
        *pp = p + 3;
        return 0;
    }
    if (*p != '+' && *p != '-')
        return -1;
    int sign = *p++ == '-' ? -1 : 1, h, m = 0, s = 0;
    if (digits(&p, 2, &h))
        return -1;
    if (*p == ':')
        p++;
    if (isdigit((unsigned char)*p) && digits(&p, 2, &m))
        return -1;
    if (*p == ':') {
        p++;
        if (digits(&p, 2, &s))
            return -1;
    }
    *east = sign * (h * 3600 + m * 60 + s);
    *pp = p;
    return 0;
}

/* Parse text as type oid (date, time, timestamp, timestamptz) into a
 * wb_pg_value; 0, or -1 when it is not such a value. */
static int parse_datetime(uint32_t oid, const char *s, size_t len, wb_pg_value *v)
{
    char buf[80];
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    const char *p = buf;
    while (*p == ' ')
        p++;
    memset(v, 0, sizeof *v);
    if (oid == WB_PG_OID_TIME) {
        if (parse_time(&p, &v->i))
            return -1;
        v->kind = WB_PG_K_TIME;
        while (*p == ' ')
            p++;
        return *p ? -1 : 0;
    }
    if (strcasecmp(p, "infinity") == 0 || strcasecmp(p, "-infinity") == 0) {
        int neg = *p == '-';
        if (oid == WB_PG_OID_DATE) {
            v->kind = WB_PG_K_DATE;
            v->i = neg ? INT32_MIN : INT32_MAX;
        } else {
            v->kind = oid == WB_PG_OID_TIMESTAMP ? WB_PG_K_TIMESTAMP : WB_PG_K_TIMESTAMPTZ;
            v->i = neg ? INT64_MIN : INT64_MAX;
        }
        return 0;
    }
    int y, mo, d;
    if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap))
        return -1;
    int64_t days = days_from_civil(y, mo, d);
    int bc = 0;
    if (oid == WB_PG_OID_DATE) {
        /* date_in takes the date of a timestamp text too: pgjdbc sends
         * setDate() as "2024-02-29 +00" */
        if (*p == ' ' || *p == 'T' || *p == 't') {
            const char *q = p + 1;
            int64_t ignored;
            if (isdigit((unsigned char)*q) && parse_time(&q, &ignored) == 0)
                p = q;
            while (*p == ' ')
                p++;
            int32_t east;
            if (*p && (*p == '+' || *p == '-' || *p == 'Z' || *p == 'z') && parse_tz(&p, &east))
                return -1;
        }
        while (*p == ' ')
            p++;
        if (strcasecmp(p, "BC") == 0)
            bc = 1, p += 2;
        if (*p || bc)
            return -1;
        v->kind = WB_PG_K_DATE;
        v->i = days;
        return 0;
    }
    int64_t us = 0;
    if (*p == ' ' || *p == 'T' || *p == 't') {
        p++;
        if (parse_time(&p, &us))
            return -1;
    }
    int32_t east = 0;
    while (*p == ' ')
        p++;
    if (*p) {
        if (parse_tz(&p, &east))
            return -1;
        while (*p == ' ')
            p++;
        if (*p)
            return -1;
    }
    v->kind = oid == WB_PG_OID_TIMESTAMP ? WB_PG_K_TIMESTAMP : WB_PG_K_TIMESTAMPTZ;
    v->i = days * 86400000000LL + us;
    if (oid != WB_PG_OID_TIMESTAMP)
        v->i -= (int64_t)east * 1000000;
    return 0;
}

/* 1 when s is already in the canonical text form of type oid (what
 * PostgreSQL prints: "2024-01-02", "12:34:56.5", "2024-01-02 12:34:56.5",
 * and "+00" after a timestamptz): then it is stored / sent as it is,
 * without a parse and a print (COPY of a million timestamps). */
static int canonical_datetime(uint32_t oid, const char *s, size_t n)
{
#define D(k) (s[k] >= '0' && s[k] <= '9')
    size_t p = 0;
    if (oid != WB_PG_OID_TIME) {
        if (n < 10 || !(D(0) && D(1) && D(2) && D(3) && s[4] == '-' && D(5) && D(6) && s[7] == '-' && D(8) && D(9)))
            return 0;
        if (s[0] == '0' && s[1] == '0' && s[2] == '0' && s[3] == '0')
            return 0; /* year 0 is 1 BC */
        if (oid == WB_PG_OID_DATE)
            return n == 10;
        if (n < 11 || s[10] != ' ')
            return 0;
        p = 11;
    }
    if (n < p + 8 || !(D(p) && D(p + 1) && s[p + 2] == ':' && D(p + 3) && D(p + 4) && s[p + 5] == ':' && D(p + 6) &&
                       D(p + 7)))
        return 0;
    p += 8;
    if (p < n && s[p] == '.') {
        size_t f = ++p;
        while (p < n && D(p))
            p++;
        if (p == f || p - f > 6 || s[p - 1] == '0')
            return 0;
    }
    if (oid == WB_PG_OID_TIMESTAMPTZ)
        return n == p + 3 && s[p] == '+' && s[p + 1] == '0' && s[p + 2] == '0';
    return n == p;
#undef D
}

/* ------------------------------------------------------------------ */
/* Numeric text with the column's scale                                */

/* Append the decimal text s (as stored) rounded/padded to scale digits
 * after the point (numeric(p,s) output), half away from zero as PostgreSQL. */
static int put_numeric_scaled(wb_buf *out, const char *s, size_t len, int scale)
{
    while (len && *s == ' ')
        s++, len--;
    while (len && s[len - 1] == ' ')
        len--;
    /* NaN, Infinity, exponent forms: as stored */
    for (size_t i = 0; i < len; i++)
        if (!(isdigit((unsigned char)s[i]) || s[i] == '.' || (i == 0 && (s[i] == '-' || s[i] == '+'))))
            return wb_buf_append(out, s, len);
    int neg = len && s[0] == '-';
    if (len && (s[0] == '-' || s[0] == '+'))
        s++, len--;
    const char *dot = memchr(s, '.', len);
    size_t ilen = dot ? (size_t)(dot - s) : len;
    const char *frac = dot ? dot + 1 : s + len;
    size_t flen = dot ? len - ilen - 1 : 0;
    /* digits: integer part + scale fraction digits, then round */
    wb_buf d = {0};
    if (ilen == 0)
        wb_buf_putc(&d, '0');
    else
        wb_buf_append(&d, s, ilen);
    for (int k = 0; k < scale; k++)
        wb_buf_putc(&d, (size_t)k < flen ? (uint8_t)frac[k] : '0');
    if (!d.p)
        return -1;
    if ((size_t)scale < flen && frac[scale] >= '5') {
        size_t k = d.len;
        while (k > 0) {
            k--;
            if (d.p[k] == '9') {
                d.p[k] = '0';
                continue;
            }
            d.p[k]++;
            break;
        }
        if (k == 0 && d.p[0] == '0' && d.len) {
            /* carried out of the top digit */
            int all0 = 1;
            for (size_t q = 0; q < d.len; q++)
                all0 &= d.p[q] == '0';
            if (all0) {
                wb_buf t = {0};
                wb_buf_putc(&t, '1');
                wb_buf_append(&t, d.p, d.len);
                wb_buf_free(&d);
                d = t;
            }
        }
    }
    size_t ip = d.len - (size_t)scale;
    size_t z = 0;
    while (z + 1 < ip && d.p[z] == '0')
        z++;
    int allzero = 1;
    for (size_t q = 0; q < d.len; q++)
        allzero &= d.p[q] == '0';
    int rc = 0;
    if (neg && !allzero)
        rc |= wb_buf_putc(out, '-');
    rc |= wb_buf_append(out, d.p + z, ip - z);
    if (scale > 0) {
        rc |= wb_buf_putc(out, '.');
        rc |= wb_buf_append(out, d.p + ip, (size_t)scale);
    }
    wb_buf_free(&d);
    return rc;
}

static int put_i64(wb_buf *out, int64_t v)
{
    char t[24];
    char *e = t + sizeof t, *p = e;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    if (v < 0)
        *--p = '-';
    return wb_buf_append(out, p, (size_t)(e - p));
}

/* float8out/float4out text: src/pg/types.c's (the client's codec), through
 * its public entry */
static int put_float_fast(wb_buf *out, double f, int is4)
{
    wb_pg_value v = {.kind = WB_PG_K_FLOAT, .f = f};
    return wb_pg_value_to_text(is4 ? WB_PG_OID_FLOAT4 : WB_PG_OID_FLOAT8, &v, out);
}

static int put_hex_bytes(wb_buf *out, const uint8_t *p, size_t n)
{
    wb_pg_value v = {.kind = WB_PG_K_BYTES, .p = p, .len = n};
    return wb_pg_value_to_text(WB_PG_OID_BYTEA, &v, out);
}

static int parse_interval(const char *s, size_t len, wb_pg_value *v);

/* a stored vector (BLOB of float4, translate_vector.c) as pgvector prints it */
static int put_vector_text(sqlite3_stmt *st, int i, wb_buf *out)
{
    int nb = sqlite3_column_bytes(st, i);
    const void *p = sqlite3_column_blob(st, i);
    if (nb <= 0 || nb % 4)
        return put_hex_bytes(out, p, (size_t)nb);
    float *v = malloc((size_t)nb);
    if (!v)
        return -1;
    memcpy(v, p, (size_t)nb);
    char *s;
    size_t n;
    int rc = wb_vec_format(v, nb / 4, &s, &n);
    free(v);
    if (rc)
        return -1;
    rc = wb_buf_append(out, s, n);
    free(s);
    return rc;
}

int wb_eng_text_out(sqlite3_stmt *st, int i, uint32_t oid, int32_t typmod, wb_buf *out)
{
    int t = sqlite3_column_type(st, i);
    if (oid == WB_SQL_OID_VECTOR && t == SQLITE_BLOB)
        return put_vector_text(st, i, out);
    switch (oid) {
    case WB_PG_OID_BOOL:
        if (t == SQLITE_INTEGER || t == SQLITE_FLOAT)
            return wb_buf_putc(out, sqlite3_column_int64(st, i) ? 't' : 'f');
        if (t == SQLITE_TEXT) {
            const char *s = (const char *)sqlite3_column_text(st, i);
            if (strcasecmp(s, "t") == 0 || strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
                return wb_buf_putc(out, 't');
            if (strcasecmp(s, "f") == 0 || strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)
                return wb_buf_putc(out, 'f');
        }
        break;
    case WB_PG_OID_INT2: case WB_PG_OID_INT4: case WB_PG_OID_INT8: case WB_PG_OID_OID:
        if (t == SQLITE_INTEGER)
            return put_i64(out, sqlite3_column_int64(st, i));
        if (t == SQLITE_FLOAT) {
            double f = sqlite3_column_double(st, i);
            if (f == floor(f) && fabs(f) < 9.2e18)
                return put_i64(out, (int64_t)f);
        }
        break;
    case WB_PG_OID_FLOAT4: case WB_PG_OID_FLOAT8:
        if (t == SQLITE_INTEGER || t == SQLITE_FLOAT)
            return put_float_fast(out, sqlite3_column_double(st, i), oid == WB_PG_OID_FLOAT4);
        break;
    case WB_PG_OID_NUMERIC: {
        int scale = typmod >= 4 ? (int)((typmod - 4) & 0xffff) : -1;
        if (t == SQLITE_INTEGER && scale <= 0)
            return put_i64(out, sqlite3_column_int64(st, i));
        char tmp[64];
        const char *s;
        size_t len;
        if (t == SQLITE_FLOAT) {
            /* a REAL that reached a numeric column: its shortest exact text */
            double f = sqlite3_column_double(st, i);
            len = (size_t)snprintf(tmp, sizeof tmp, "%.15g", f);
            if (strtod(tmp, NULL) != f)
                len = (size_t)snprintf(tmp, sizeof tmp, "%.17g", f);
            if (strchr(tmp, 'e')) {
                wb_pg_value v = {.kind = WB_PG_K_FLOAT, .f = f};
                return wb_pg_value_to_text(WB_PG_OID_FLOAT8, &v, out);
            }
            s = tmp;
        } else {
            s = (const char *)sqlite3_column_text(st, i);
            len = (size_t)sqlite3_column_bytes(st, i);
        }
        if (scale >= 0)
            return put_numeric_scaled(out, s, len, scale);
        return wb_buf_append(out, s, len);
    }
    case WB_PG_OID_BYTEA:
        return put_hex_bytes(out, sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i));
    case WB_PG_OID_INTERVAL:
        /* stored as written ("3 days 14405.000000 seconds", "P1DT2H"):
         * printed as interval_out does (IntervalStyle postgres) */
        if (t == SQLITE_TEXT) {
            wb_pg_value v;
            if (parse_interval((const char *)sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i), &v) == 0)
                return wb_pg_value_to_text(oid, &v, out);
        }
        break;
    case WB_PG_OID_DATE: case WB_PG_OID_TIME: case WB_PG_OID_TIMESTAMP: case WB_PG_OID_TIMESTAMPTZ:
        if (t == SQLITE_TEXT) {
            const char *txt = (const char *)sqlite3_column_text(st, i);
            size_t n = (size_t)sqlite3_column_bytes(st, i);
            if (canonical_datetime(oid, txt, n))
                return wb_buf_append(out, txt, n);
            wb_pg_value v;
            if (parse_datetime(oid, txt, n, &v) == 0)
                return wb_pg_value_to_text(oid, &v, out);
        }
        break;
    default: break;
    }
    if (t == SQLITE_BLOB)
        return put_hex_bytes(out, sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i));
    if (t == SQLITE_FLOAT)
        return put_float_fast(out, sqlite3_column_double(st, i), 0);
    if (t == SQLITE_INTEGER)
        return put_i64(out, sqlite3_column_int64(st, i));
    const unsigned char *s = sqlite3_column_text(st, i);
    return wb_buf_append(out, s, (size_t)sqlite3_column_bytes(st, i));
}

/* ------------------------------------------------------------------ */
/* Binary output                                                       */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* interval text (postgres style "1 year 2 mons 3 days 04:05:06.5",
 * also "@ ..." verbose units) -> months, days, µs */
static int parse_interval(const char *s, size_t len, wb_pg_value *v)
{
    char buf[160];
    if (len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    memset(v, 0, sizeof *v);
    v->kind = WB_PG_K_INTERVAL;
    char *p = buf;
    int any = 0;
    if (*p == 'P') { /* ISO 8601: PnYnMnWnDTnHnMnS */
        int in_time = 0;
        p++;
        while (*p) {
            if (*p == 'T') {
                in_time = 1;
                p++;
                continue;
            }
            char *end;
            double n = strtod(p, &end);
            if (end == p || !*end)
                return -1;
            switch (*end) {
            case 'Y': v->months += (int32_t)(n * 12); break;
            case 'M':
                if (in_time)
                    v->i += (int64_t)(n * 60e6);
                else
                    v->months += (int32_t)n;
                break;
            case 'W': v->days += (int32_t)(n * 7); break;
            case 'D': v->days += (int32_t)n; break;
            case 'H': v->i += (int64_t)(n * 3600e6); break;
            case 'S': v->i += (int64_t)llround(n * 1e6); break;
            default: return -1;
            }
            p = end + 1;
            any = 1;
        }
        return any ? 0 : -1;
    }
    while (*p) {
        while (*p == ' ' || *p == '@')
            p++;
        if (!*p)
            break;
        int sign = 1;
        const char *q = p;
        if (*q == '-' || *q == '+')
            sign = *q == '-' ? -1 : 1, q++;
        if (strchr(q, ':') && (strchr(q, ' ') == NULL || strchr(q, ':') < strchr(q, ' '))) {
            const char *t = q;
            int64_t us;
            /* H may have more than 2 digits */
            char *end;
            long h = strtol(t, &end, 10);
            if (*end != ':')
                return -1;
            char tb[32];
            snprintf(tb, sizeof tb, "00%s", end);
            const char *tp = tb;
            if (parse_time(&tp, &us))
                return -1;
            v->i += sign * (us + (int64_t)h * 3600000000LL);
            p = (char *)q + (end - q) + (tp - tb) - 2;
            any = 1;
            continue;
        }
        if (strncasecmp(p, "ago", 3) == 0 && (p[3] == 0 || p[3] == ' ')) {
            v->i = -v->i, v->days = -v->days, v->months = -v->months;
            p += 3;
            continue;
        }
        char *end;
        double n = strtod(p, &end);
        if (end == p)
            return -1;
        p = end;
        while (*p == ' ')
            p++;
        char unit[16];
        size_t k = 0;
        while (isalpha((unsigned char)*p) && k + 1 < sizeof unit)
            unit[k++] = (char)tolower((unsigned char)*p++);
        unit[k] = 0;
        if (strncmp(unit, "year", 4) == 0)
            v->months += (int32_t)(n * 12);
        else if (strncmp(unit, "mon", 3) == 0)
            v->months += (int32_t)n;
        else if (strncmp(unit, "week", 4) == 0)
            v->days += (int32_t)(n * 7);
        else if (strncmp(unit, "day", 3) == 0)
            v->days += (int32_t)n;
        else if (strncmp(unit, "hour", 4) == 0)
            v->i += (int64_t)(n * 3600e6);
        else if (strncmp(unit, "min", 3) == 0)
            v->i += (int64_t)(n * 60e6);
        else if (strncmp(unit, "sec", 3) == 0 || strcmp(unit, "s") == 0)
            v->i += (int64_t)llround(n * 1e6);
        else if (strcmp(unit, "ago") == 0) {
            v->i = -v->i, v->days = -v->days, v->months = -v->months;
        } else
            return -1;
        any = 1;
    }
    return any ? 0 : -1;
}

static int put_be(wb_buf *out, uint64_t v, int n)
{
    uint8_t b[8];
    for (int k = 0; k < n; k++)
        b[k] = (uint8_t)(v >> (8 * (n - 1 - k)));
    return wb_buf_append(out, b, (size_t)n);
}

/* Text (as stored) -> binary of type oid. */
static int text_to_binary(uint32_t oid, const char *s, size_t len, wb_buf *out, char *msg, size_t msglen);

/* '{a,b,"c d",NULL}' -> binary one-dimensional array of elem */
static int array_to_binary(uint32_t elem, const char *s, size_t len, wb_buf *out, char *msg, size_t msglen)
{
    const char *p = s, *end = s + len;
    while (p < end && *p == ' ')
        p++;
    if (p >= end || *p != '{') {
        snprintf(msg, msglen, "malformed array literal: \"%.*s\"", (int)len, s);
        return -1;
    }
    p++;
    wb_buf elems = {0}, item = {0};
    size_t *offs = NULL;
    int32_t *lens = NULL;
    int n = 0, cap = 0, rc = 0;
    while (p < end && *p != '}') {
        item.len = 0;
        int quoted = 0;
        while (p < end && *p == ' ')
            p++;
        if (*p == '"') {
            quoted = 1;
            p++;
            while (p < end && *p != '"') {
                if (*p == '\\' && p + 1 < end)
                    p++;
                wb_buf_putc(&item, (uint8_t)*p++);
            }
            p++;
        } else {
            while (p < end && *p != ',' && *p != '}') {
                if (*p == '\\' && p + 1 < end)
                    p++;
                wb_buf_putc(&item, (uint8_t)*p++);
            }
            while (item.len && item.p[item.len - 1] == ' ')
                item.len--;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            offs = realloc(offs, sizeof *offs * (size_t)cap);
            lens = realloc(lens, sizeof *lens * (size_t)cap);
            if (!offs || !lens) {
                rc = -1;
                break;
            }
        }
        if (!quoted && item.len == 4 && strncasecmp((char *)item.p, "NULL", 4) == 0) {
            lens[n] = -1;
            offs[n] = 0;
        } else {
            size_t before = elems.len;
            if (text_to_binary(elem, item.p ? (char *)item.p : "", item.len, &elems, msg, msglen)) {
                rc = -1;
                break;
            }
            offs[n] = before;
            lens[n] = (int32_t)(elems.len - before);
        }
        n++;
        while (p < end && *p == ' ')
            p++;
        if (p < end && *p == ',')
            p++;
    }
    if (rc == 0) {
        const uint8_t **vals = calloc((size_t)n + 1, sizeof *vals);
        if (!vals)
            rc = -1;
        for (int k = 0; rc == 0 && k < n; k++)
            vals[k] = lens[k] < 0 ? NULL : (elems.p ? elems.p + offs[k] : (const uint8_t *)"");
        if (rc == 0)
            rc = wb_pg_array_encode(out, elem, n, vals, lens);
        free(vals);
    }
    free(offs);
    free(lens);
    wb_buf_free(&elems);
    wb_buf_free(&item);
    return rc;
}

static int text_to_binary(uint32_t oid, const char *s, size_t len, wb_buf *out, char *msg, size_t msglen)
{
    char tmp[64];
    switch (oid) {
    case WB_PG_OID_BOOL:
        return wb_buf_putc(out, (len && (s[0] == 't' || s[0] == 'T' || s[0] == '1' || s[0] == 'y' ||
                                         s[0] == 'Y' || (len > 1 && (s[1] == 'n' || s[1] == 'N'))))
                                    ? 1
                                    : 0);
    case WB_PG_OID_INT2: case WB_PG_OID_INT4: case WB_PG_OID_INT8: case WB_PG_OID_OID:
    case WB_PG_OID_FLOAT4: case WB_PG_OID_FLOAT8: {
        if (len >= sizeof tmp)
            goto bad;
        memcpy(tmp, s, len);
        tmp[len] = 0;
        char *end;
        errno = 0;
        if (oid == WB_PG_OID_FLOAT4 || oid == WB_PG_OID_FLOAT8) {
            double f = strtod(tmp, &end);
            if (end == tmp)
                goto bad;
            uint8_t b[8];
            if (oid == WB_PG_OID_FLOAT4) {
                wb_pg_put_f32(b, (float)f);
                return wb_buf_append(out, b, 4);
            }
            wb_pg_put_f64(b, f);
            return wb_buf_append(out, b, 8);
        }
        long long v = strtoll(tmp, &end, 10);
        if (end == tmp || *end)
            goto bad;
        int n = oid == WB_PG_OID_INT2 ? 2 : oid == WB_PG_OID_INT8 ? 8 : 4;
        return put_be(out, (uint64_t)v, n);
    }
    case WB_PG_OID_NUMERIC:
        if (wb_pg_numeric_from_text(s, len, out))
            goto bad;
        return 0;
    case WB_PG_OID_BYTEA:
        if (len >= 2 && s[0] == '\\' && s[1] == 'x') {
            for (size_t k = 2; k + 1 < len; k += 2) {
                int h = hexval(s[k]), l = hexval(s[k + 1]);
                if (h < 0 || l < 0)
                    goto bad;
                if (wb_buf_putc(out, (uint8_t)(h << 4 | l)))
                    return -1;
            }
            return 0;
        }
        return wb_buf_append(out, s, len);
    case WB_PG_OID_DATE: case WB_PG_OID_TIME: case WB_PG_OID_TIMESTAMP: case WB_PG_OID_TIMESTAMPTZ: {
        wb_pg_value v;
        if (parse_datetime(oid, s, len, &v))
            goto bad;
        return put_be(out, (uint64_t)v.i, oid == WB_PG_OID_DATE ? 4 : 8);
    }
    case WB_PG_OID_INTERVAL: {
        wb_pg_value v;
        if (parse_interval(s, len, &v))
            goto bad;
        return put_be(out, (uint64_t)v.i, 8) | put_be(out, (uint32_t)v.days, 4) | put_be(out, (uint32_t)v.months, 4);
    }
    case WB_PG_OID_UUID: {
        uint8_t u[16];
        size_t k = 0;
        for (size_t q = 0; q < len && k < 32; q++) {
            if (s[q] == '-' || s[q] == '{' || s[q] == '}')
                continue;
            int h = hexval(s[q]);
            if (h < 0)
                goto bad;
            if (k % 2 == 0)
                u[k / 2] = (uint8_t)(h << 4);
            else
                u[k / 2] |= (uint8_t)h;
            k++;
        }
        if (k != 32)
            goto bad;
        return wb_buf_append(out, u, 16);
    }
    case WB_PG_OID_JSONB:
        return wb_buf_putc(out, 1) | wb_buf_append(out, s, len);
    default: {
        uint32_t elem = wb_pg_array_elem(oid);
        if (elem)
            return array_to_binary(elem, s, len, out, msg, msglen);
        return wb_buf_append(out, s, len);
    }
    }
bad:
    snprintf(msg, msglen, "invalid input syntax for type %s: \"%.*s\"", wb_eng_type_name(oid), (int)(len > 100 ? 100 : len), s);
    return -1;
}

int wb_eng_binary_out(sqlite3_stmt *st, int i, uint32_t oid, int32_t typmod, wb_buf *out, char *msg, size_t msglen)
{
    int t = sqlite3_column_type(st, i);
    uint8_t b[8];
    if (oid == WB_SQL_OID_VECTOR && t == SQLITE_BLOB) {
        /* pgvector vector_send: uint16 dimensions, uint16 unused, float4s
         * in network order */
        int nb = sqlite3_column_bytes(st, i);
        const uint8_t *p = sqlite3_column_blob(st, i);
        if (nb > 0 && nb % 4 == 0) {
            if (put_be(out, (uint64_t)(nb / 4), 2) || put_be(out, 0, 2))
                return -1;
            for (int k = 0; k < nb; k += 4) {
                uint32_t u;
                memcpy(&u, p + k, 4);
                if (put_be(out, u, 4))
                    return -1;
            }
            return 0;
        }
    }
    switch (oid) {
    case WB_PG_OID_BOOL:
        if (t == SQLITE_INTEGER)
            return wb_buf_putc(out, sqlite3_column_int64(st, i) ? 1 : 0);
        break;
    case WB_PG_OID_INT2:
        if (t == SQLITE_INTEGER)
            return put_be(out, (uint64_t)sqlite3_column_int64(st, i), 2);
        break;
    case WB_PG_OID_INT4: case WB_PG_OID_OID:
        if (t == SQLITE_INTEGER)
            return put_be(out, (uint64_t)sqlite3_column_int64(st, i), 4);
        break;
    case WB_PG_OID_INT8:
        if (t == SQLITE_INTEGER)
            return put_be(out, (uint64_t)sqlite3_column_int64(st, i), 8);
        break;
    case WB_PG_OID_FLOAT4:
        if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
            wb_pg_put_f32(b, (float)sqlite3_column_double(st, i));
            return wb_buf_append(out, b, 4);
        }
        break;
    case WB_PG_OID_FLOAT8:
        if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
            wb_pg_put_f64(b, sqlite3_column_double(st, i));
            return wb_buf_append(out, b, 8);
        }
        break;
    case WB_PG_OID_BYTEA:
        return wb_buf_append(out, sqlite3_column_blob(st, i), (size_t)sqlite3_column_bytes(st, i));
    default: break;
    }
    /* everything else goes through its text form */
    wb_buf txt = {0};
    if (t == SQLITE_TEXT && oid != WB_PG_OID_NUMERIC)
        wb_buf_append(&txt, sqlite3_column_text(st, i), (size_t)sqlite3_column_bytes(st, i));
    else if (wb_eng_text_out(st, i, oid == WB_PG_OID_NUMERIC ? oid : 0, typmod, &txt)) { /* numeric: column scale */
        wb_buf_free(&txt);
        return -1;
    }
    int rc = text_to_binary(oid, txt.p ? (char *)txt.p : "", txt.len, out, msg, msglen);
    wb_buf_free(&txt);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Parameters                                                          */

static int bind_err(char *sqlstate, const char *state, char *msg, size_t msglen, uint32_t oid, const uint8_t *v,
                    int32_t len)
{
    strcpy(sqlstate, state);
    if (strcmp(state, "22003") == 0)
        snprintf(msg, msglen, "value \"%.*s\" is out of range for type %s", (int)(len > 100 ? 100 : len),
                 (const char *)v, wb_eng_type_name(oid));
    else
        snprintf(msg, msglen, "invalid input syntax for type %s: \"%.*s\"", wb_eng_type_name(oid),
                 (int)(len > 100 ? 100 : len), (const char *)v);
    return -1;
}

int wb_eng_bind_value(sqlite3_stmt *st, int idx, uint32_t oid, int binary, const uint8_t *v, int32_t len,
                      char *sqlstate, char *msg, size_t msglen)
{
    if (len < 0 || !v)
        return sqlite3_bind_null(st, idx) == SQLITE_OK ? 0 : -1;
    if (binary && oid == WB_SQL_OID_VECTOR) {
        /* pgvector vector_recv: uint16 dimensions, uint16 unused, float4s */
        int dim = len >= 4 ? (v[0] << 8 | v[1]) : -1;
        if (dim < 1 || len != 4 + 4 * dim) {
            strcpy(sqlstate, "22P03");
            snprintf(msg, msglen, "incorrect binary data format in bind parameter %d", idx);
            return -1;
        }
        uint8_t *f = malloc((size_t)dim * 4);
        if (!f) {
            strcpy(sqlstate, "53200");
            snprintf(msg, msglen, "out of memory");
            return -1;
        }
        for (int k = 0; k < dim; k++) {
            uint32_t u = (uint32_t)v[4 + 4 * k] << 24 | (uint32_t)v[5 + 4 * k] << 16 | (uint32_t)v[6 + 4 * k] << 8 | v[7 + 4 * k];
            float x;
            memcpy(&x, &u, 4);
            if (isnan(x) || isinf(x)) {
                free(f);
                strcpy(sqlstate, "22000");
                snprintf(msg, msglen, isnan(x) ? "NaN not allowed in vector" : "infinite value not allowed in vector");
                return -1;
            }
            memcpy(f + 4 * k, &x, 4);
        }
        /* the SQL around the parameter (wb_vec_in) checks the dimensions */
        return sqlite3_bind_blob(st, idx, f, dim * 4, free) == SQLITE_OK ? 0 : -1;
    }
    if (binary) {
        wb_pg_value val;
        char e[200];
        if (wb_pg_decode(oid, v, len, &val, e, sizeof e)) {
            strcpy(sqlstate, "22P03");
            snprintf(msg, msglen, "incorrect binary data format in bind parameter %d", idx);
            return -1;
        }
        switch (val.kind) {
        case WB_PG_K_BOOL: case WB_PG_K_INT: sqlite3_bind_int64(st, idx, val.i); return 0;
        case WB_PG_K_FLOAT: sqlite3_bind_double(st, idx, val.f); return 0;
        case WB_PG_K_TEXT: sqlite3_bind_text(st, idx, (const char *)val.p, (int)val.len, SQLITE_TRANSIENT); return 0;
        case WB_PG_K_BYTES:
            if (oid == 0 || oid == WB_PG_OID_BYTEA)
                sqlite3_bind_blob(st, idx, val.p ? (const void *)val.p : "", (int)val.len, SQLITE_TRANSIENT);
            else
                sqlite3_bind_text(st, idx, (const char *)val.p, (int)val.len, SQLITE_TRANSIENT);
            return 0;
        default: {
            wb_buf t = {0};
            if (wb_pg_value_to_text(oid, &val, &t)) {
                wb_buf_free(&t);
                strcpy(sqlstate, "22P03");
                snprintf(msg, msglen, "incorrect binary data format in bind parameter %d", idx);
                return -1;
            }
            sqlite3_bind_text(st, idx, t.p ? (const char *)t.p : "", (int)t.len, SQLITE_TRANSIENT);
            wb_buf_free(&t);
            return 0;
        }
        }
    }
    const char *s = (const char *)v;
    char tmp[80];
    switch (oid) {
    case WB_PG_OID_INT2: case WB_PG_OID_INT4: case WB_PG_OID_INT8: case WB_PG_OID_OID: {
        if ((size_t)len >= sizeof tmp)
            return bind_err(sqlstate, "22P02", msg, msglen, oid, v, len);
        memcpy(tmp, s, (size_t)len);
        tmp[len] = 0;
        char *p = tmp, *end;
        while (isspace((unsigned char)*p))
            p++;
        errno = 0;
        long long x = strtoll(p, &end, 10);
        if (end == p)
            return bind_err(sqlstate, "22P02", msg, msglen, oid, v, len);
        while (isspace((unsigned char)*end))
            end++;
        if (*end)
            return bind_err(sqlstate, "22P02", msg, msglen, oid, v, len);
        if (errno == ERANGE || (oid == WB_PG_OID_INT2 && (x < -32768 || x > 32767)) ||
            (oid == WB_PG_OID_INT4 && (x < INT32_MIN || x > INT32_MAX)) ||
            (oid == WB_PG_OID_OID && (x < INT32_MIN || x > UINT32_MAX)))
            return bind_err(sqlstate, "22003", msg, msglen, oid, v, len);
        sqlite3_bind_int64(st, idx, x);
        return 0;
    }
    case WB_PG_OID_FLOAT4: case WB_PG_OID_FLOAT8: {
        if ((size_t)len >= sizeof tmp)
            return bind_err(sqlstate, "22P02", msg, msglen, oid, v, len);
        memcpy(tmp, s, (size_t)len);
        tmp[len] = 0;
        char *end;
        double f = strtod(tmp, &end);
        while (isspace((unsigned char)*end))
            end++;
        if (end == tmp || *end)
            return bind_err(sqlstate, "22P02", msg, msglen, oid, v, len);
        sqlite3_bind_double(st, idx, f);
        return 0;
    }
    case WB_PG_OID_BOOL: {
        size_t n = (size_t)len;
        while (n && isspace((unsigned char)*s))
            s++, n--;
        while (n && isspace((unsigned char)s[n - 1]))
            n--;
        static const char *yes[] = {"true", "yes", "on", "1"}, *no[] = {"false", "no", "off", "0"};
        int r = -1;
        for (int k = 0; k < 4 && r < 0 && n; k++) {
            if (n <= strlen(yes[k]) && strncasecmp(s, yes[k], n) == 0 && (k != 2 || n >= 2))
                r = 1;
            else if (n <= strlen(no[k]) && strncasecmp(s, no[k], n) == 0 && (k != 2 || n >= 2))
                r = 0;
        }
        if (r < 0)
            return bind_err(sqlstate, "22P02", msg, msglen, oid, v, len);
        sqlite3_bind_int(st, idx, r);
        return 0;
    }
    case WB_PG_OID_BYTEA: {
        wb_buf b = {0};
        int rc = 0;
        if (len >= 2 && s[0] == '\\' && s[1] == 'x') {
            for (int32_t k = 2; k < len; k += 2) {
                while (k < len && isspace((unsigned char)s[k]))
                    k++;
                if (k >= len)
                    break;
                int h = hexval(s[k]), l = k + 1 < len ? hexval(s[k + 1]) : -1;
                if (h < 0 || l < 0) {
                    rc = -1;
                    break;
                }
                wb_buf_putc(&b, (uint8_t)(h << 4 | l));
            }
        } else { /* escape format: \\ and \ooo */
            for (int32_t k = 0; k < len; k++) {
                if (s[k] != '\\') {
                    wb_buf_putc(&b, (uint8_t)s[k]);
                } else if (k + 1 < len && s[k + 1] == '\\') {
                    wb_buf_putc(&b, '\\');
                    k++;
                } else if (k + 3 < len && s[k + 1] >= '0' && s[k + 1] <= '3' && s[k + 2] >= '0' && s[k + 2] <= '7' &&
                           s[k + 3] >= '0' && s[k + 3] <= '7') {
                    wb_buf_putc(&b, (uint8_t)((s[k + 1] - '0') * 64 + (s[k + 2] - '0') * 8 + (s[k + 3] - '0')));
                    k += 3;
                } else {
                    rc = -1;
                    break;
                }
            }
        }
        if (rc) {
            wb_buf_free(&b);
            return bind_err(sqlstate, "22P02", msg, msglen, oid, v, len);
        }
        sqlite3_bind_blob(st, idx, b.p ? (const void *)b.p : "", (int)b.len, SQLITE_TRANSIENT);
        wb_buf_free(&b);
        return 0;
    }
    case WB_PG_OID_NUMERIC: {
        wb_buf b = {0};
        size_t n = (size_t)len;
        while (n && isspace((unsigned char)*s))
            s++, n--;
        while (n && isspace((unsigned char)s[n - 1]))
            n--;
        int bad = wb_pg_numeric_from_text(s, n, &b);
        wb_buf_free(&b);
        if (bad)
            return bind_err(sqlstate, "22P02", msg, msglen, oid, v, len);
        sqlite3_bind_text(st, idx, s, (int)n, SQLITE_TRANSIENT);
        return 0;
    }
    case WB_PG_OID_DATE: case WB_PG_OID_TIME: case WB_PG_OID_TIMESTAMP: case WB_PG_OID_TIMESTAMPTZ: {
        wb_pg_value val;
        if (parse_datetime(oid, s, (size_t)len, &val))
            return bind_err(sqlstate, "22007", msg, msglen, oid, v, len);
        if (canonical_datetime(oid, s, (size_t)len)) {
            sqlite3_bind_text(st, idx, s, len, SQLITE_TRANSIENT);
            return 0;
        }
        wb_buf t = {0};
        /* stored in the canonical form (timestamptz in UTC) */
        if (wb_pg_value_to_text(oid, &val, &t)) {
            wb_buf_free(&t);
            return bind_err(sqlstate, "22007", msg, msglen, oid, v, len);
        }
        sqlite3_bind_text(st, idx, (const char *)t.p, (int)t.len, SQLITE_TRANSIENT);
        wb_buf_free(&t);
        return 0;
    }
    default:
        sqlite3_bind_text(st, idx, s, len, SQLITE_TRANSIENT);
        return 0;
    }
}
