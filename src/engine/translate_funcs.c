/* src/engine/translate_funcs.c - wb_sql_register: the SQL functions and
 * virtual tables the translated SQL calls on SQLite.
 *
 * Errors raised here carry their SQLSTATE in the message: "22012 division
 * by zero" (wb_sql_sqlite_error splits it for the engine). Values follow
 * the storage forms of translate_ddl.c: bool 0/1, numeric as exact text,
 * timestamps as PostgreSQL's text (session time zone UTC), arrays as
 * PostgreSQL's text form '{a,b}'. */
#include "translate_internal.h"
#include <sqlite3.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <openssl/evp.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <sys/time.h>

int wb_sql_sqlite_error(const char *msg, char sqlstate[6], const char **message)
{
    if (msg && strlen(msg) > 6 && msg[5] == ' ') {
        int ok = 1;
        for (int i = 0; i < 5; i++) ok &= isdigit((unsigned char)msg[i]) || isupper((unsigned char)msg[i]);
        if (ok) {
            memcpy(sqlstate, msg, 5);
            sqlstate[5] = 0;
            *message = msg + 6;
            return 1;
        }
    }
    *message = msg;
    return 0;
}

static void err(sqlite3_context *c, const char *state, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void err(sqlite3_context *c, const char *state, const char *fmt, ...)
{
    char buf[400];
    int n = snprintf(buf, sizeof buf, "%s ", state);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
    va_end(ap);
    sqlite3_result_error(c, buf, -1);
}

/* ---------- arithmetic ---------- */

static int is_zero(sqlite3_value *v)
{
    switch (sqlite3_value_numeric_type(v)) {
    case SQLITE_INTEGER: return sqlite3_value_int64(v) == 0;
    case SQLITE_FLOAT: return sqlite3_value_double(v) == 0.0;
    default: return 0;
    }
}

static void f_div(sqlite3_context *c, int argc, sqlite3_value **a)
{
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    if (is_zero(a[1])) { err(c, "22012", "division by zero"); return; }
    int t0 = sqlite3_value_numeric_type(a[0]), t1 = sqlite3_value_numeric_type(a[1]);
    int frac = argc > 2 && sqlite3_value_int(a[2]);
    if (t0 == SQLITE_INTEGER && t1 == SQLITE_INTEGER && !frac) {
        sqlite3_int64 x = sqlite3_value_int64(a[0]), y = sqlite3_value_int64(a[1]);
        if (y == -1) { if (x == INT64_MIN) { err(c, "22003", "bigint out of range"); return; } sqlite3_result_int64(c, -x); return; }
        sqlite3_result_int64(c, x / y);
        return;
    }
    sqlite3_result_double(c, sqlite3_value_double(a[0]) / sqlite3_value_double(a[1]));
}

static void f_mod(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    if (is_zero(a[1])) { err(c, "22012", "division by zero"); return; }
    int t0 = sqlite3_value_numeric_type(a[0]), t1 = sqlite3_value_numeric_type(a[1]);
    if (t0 == SQLITE_INTEGER && t1 == SQLITE_INTEGER) {
        sqlite3_int64 y = sqlite3_value_int64(a[1]);
        sqlite3_result_int64(c, y == -1 ? 0 : sqlite3_value_int64(a[0]) % y);
        return;
    }
    sqlite3_result_double(c, fmod(sqlite3_value_double(a[0]), sqlite3_value_double(a[1])));
}

/* ---------- conversions (casts) ---------- */

static void f_bool(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    switch (sqlite3_value_type(a[0])) {
    case SQLITE_NULL: sqlite3_result_null(c); return;
    case SQLITE_INTEGER: sqlite3_result_int(c, sqlite3_value_int64(a[0]) != 0); return;
    case SQLITE_FLOAT: sqlite3_result_int(c, sqlite3_value_double(a[0]) != 0); return;
    default: break;
    }
    const char *s = (const char *)sqlite3_value_text(a[0]);
    if (!s) { sqlite3_result_null(c); return; }
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) n--;
    /* PostgreSQL's boolin: any unique prefix of true/false/yes/no, on/off, 1/0 */
    if (n && (!strncasecmp(s, "true", n) || !strncasecmp(s, "yes", n) || (n >= 2 && !strncasecmp(s, "on", n)) || (n == 1 && s[0] == '1'))) {
        sqlite3_result_int(c, 1);
        return;
    }
    if (n && (!strncasecmp(s, "false", n) || !strncasecmp(s, "no", n) || (n >= 2 && !strncasecmp(s, "off", n)) || (n == 1 && s[0] == '0'))) {
        sqlite3_result_int(c, 0);
        return;
    }
    err(c, "22P02", "invalid input syntax for type boolean: \"%s\"", s);
}

static void f_int(sqlite3_context *c, int argc, sqlite3_value **a)
{
    uint32_t to = argc > 1 ? (uint32_t)sqlite3_value_int(a[1]) : OID_INT8;
    const char *tname = to == OID_INT2 ? "smallint" : to == OID_INT4 ? "integer" : "bigint";
    int64_t lo = to == OID_INT2 ? -32768 : to == OID_INT4 ? INT32_MIN : INT64_MIN;
    int64_t hi = to == OID_INT2 ? 32767 : to == OID_INT4 ? INT32_MAX : INT64_MAX;
    int64_t v;
    switch (sqlite3_value_type(a[0])) {
    case SQLITE_NULL: sqlite3_result_null(c); return;
    case SQLITE_INTEGER: v = sqlite3_value_int64(a[0]); break;
    case SQLITE_FLOAT: {
        double d = rint(sqlite3_value_double(a[0]));
        if (!(d >= -9.2233720368547758e18 && d < 9.2233720368547758e18)) { err(c, "22003", "%s out of range", tname); return; }
        v = (int64_t)d;
        break;
    }
    default: {
        const char *s = (const char *)sqlite3_value_text(a[0]);
        if (!s) { sqlite3_result_null(c); return; }
        const char *p = s;
        while (isspace((unsigned char)*p)) p++;
        errno = 0;
        char *e;
        long long x = strtoll(p, &e, 10);
        if (e == p) { err(c, "22P02", "invalid input syntax for type %s: \"%s\"", tname, s); return; }
        if (*e == '.') {
            /* numeric text: round half away from zero */
            char *e2;
            double d = strtod(p, &e2);
            while (isspace((unsigned char)*e2)) e2++;
            if (*e2) { err(c, "22P02", "invalid input syntax for type %s: \"%s\"", tname, s); return; }
            d = round(d);
            if (!(d >= -9.2233720368547758e18 && d < 9.2233720368547758e18)) { err(c, "22003", "%s out of range", tname); return; }
            v = (int64_t)d;
            break;
        }
        while (isspace((unsigned char)*e)) e++;
        if (*e) { err(c, "22P02", "invalid input syntax for type %s: \"%s\"", tname, s); return; }
        if (errno == ERANGE) { err(c, "22003", "value \"%s\" is out of range for type %s", s, tname); return; }
        v = x;
    }
    }
    if (v < lo || v > hi) { err(c, "22003", "%s out of range", tname); return; }
    sqlite3_result_int64(c, v);
}

static void f_float(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    switch (sqlite3_value_type(a[0])) {
    case SQLITE_NULL: sqlite3_result_null(c); return;
    case SQLITE_INTEGER: case SQLITE_FLOAT: sqlite3_result_double(c, sqlite3_value_double(a[0])); return;
    default: break;
    }
    const char *s = (const char *)sqlite3_value_text(a[0]);
    char *e;
    double d = strtod(s, &e);
    while (isspace((unsigned char)*e)) e++;
    if (e == s || *e) { err(c, "22P02", "invalid input syntax for type double precision: \"%s\"", s); return; }
    sqlite3_result_double(c, d);
}

/* exact decimal rounding of a decimal string to scale digits (half away
 * from zero); out must hold strlen(s) + scale + 4 bytes */
static int dec_round(const char *s, int scale, char *out, size_t outsz)
{
    while (isspace((unsigned char)*s)) s++;
    int neg = 0;
    if (*s == '-' || *s == '+') { neg = *s == '-'; s++; }
    char ip[400], fp[400];
    size_t ni = 0, nf = 0;
    while (isdigit((unsigned char)*s) && ni < sizeof ip - 1) ip[ni++] = *s++;
    if (*s == '.') { s++; while (isdigit((unsigned char)*s) && nf < sizeof fp - 1) fp[nf++] = *s++; }
    while (isspace((unsigned char)*s)) s++;
    if (*s || (ni == 0 && nf == 0)) return -1;
    if (ni == 0) ip[ni++] = '0';
    ip[ni] = 0;
    if (scale >= 0) {
        int roundup = (size_t)scale < nf && fp[scale] >= '5';
        while (nf < (size_t)scale && nf < sizeof fp - 1) fp[nf++] = '0';
        nf = (size_t)scale;
        if (roundup) {
            int i = (int)nf - 1;
            for (; i >= 0; i--) { if (fp[i] == '9') fp[i] = '0'; else { fp[i]++; break; } }
            if (i < 0) {
                int j = (int)ni - 1;
                for (; j >= 0; j--) { if (ip[j] == '9') ip[j] = '0'; else { ip[j]++; break; } }
                if (j < 0) { memmove(ip + 1, ip, ni + 1); ip[0] = '1'; ni++; }
            }
        }
    }
    fp[nf] = 0;
    /* strip leading zeros of the integer part */
    char *ipp = ip;
    while (ipp[0] == '0' && ipp[1]) ipp++;
    int zero = !strcmp(ipp, "0");
    for (size_t i = 0; i < nf; i++) zero &= fp[i] == '0';
    snprintf(out, outsz, "%s%s%s%s", neg && !zero ? "-" : "", ipp, nf ? "." : "", fp);
    return (int)strlen(ipp);
}

static void f_numeric(sqlite3_context *c, int argc, sqlite3_value **a)
{
    int prec = argc > 1 ? sqlite3_value_int(a[1]) : -1, scale = argc > 2 ? sqlite3_value_int(a[2]) : -1;
    char in[64];
    const char *s;
    switch (sqlite3_value_type(a[0])) {
    case SQLITE_NULL: sqlite3_result_null(c); return;
    case SQLITE_INTEGER: snprintf(in, sizeof in, "%lld", (long long)sqlite3_value_int64(a[0])); s = in; break;
    case SQLITE_FLOAT: {
        double d = sqlite3_value_double(a[0]);
        if (isnan(d)) { sqlite3_result_text(c, "NaN", 3, SQLITE_STATIC); return; }
        snprintf(in, sizeof in, "%.15g", d);
        if (strchr(in, 'e')) snprintf(in, sizeof in, "%.*f", 15, d);
        s = in;
        break;
    }
    default: s = (const char *)sqlite3_value_text(a[0]);
    }
    char out[900];
    int ndig = dec_round(s, scale, out, sizeof out);
    if (ndig < 0) { err(c, "22P02", "invalid input syntax for type numeric: \"%s\"", s); return; }
    if (prec > 0 && scale >= 0) {
        int intdigits = !strcmp(out + (out[0] == '-'), "0") || !strncmp(out + (out[0] == '-'), "0.", 2) ? 0 : ndig;
        if (intdigits > prec - scale) {
            err(c, "22003", "numeric field overflow");
            return;
        }
    }
    sqlite3_result_text(c, out, -1, SQLITE_TRANSIENT);
}

/* the text form PostgreSQL gives float8 (shortest round-trip, 15+ digits) */
static void fmt_float8(double d, char *buf, size_t n)
{
    if (isnan(d)) { snprintf(buf, n, "NaN"); return; }
    if (isinf(d)) { snprintf(buf, n, d > 0 ? "Infinity" : "-Infinity"); return; }
    for (int p = 15; p <= 17; p++) {
        snprintf(buf, n, "%.*g", p, d);
        if (strtod(buf, NULL) == d) break;
    }
    /* PostgreSQL writes exponents as e+NN */
    char *e = strchr(buf, 'e');
    if (e && (e[2] == '0') && isdigit((unsigned char)e[3])) memmove(e + 2, e + 3, strlen(e + 3) + 1);
}

static void f_text(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_FLOAT) {
        char buf[64];
        fmt_float8(sqlite3_value_double(a[0]), buf, sizeof buf);
        sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
        return;
    }
    sqlite3_result_value(c, a[0]);
    if (sqlite3_value_type(a[0]) != SQLITE_NULL) {
        const unsigned char *s = sqlite3_value_text(a[0]);
        sqlite3_result_text(c, (const char *)s, -1, SQLITE_TRANSIENT);
    }
}

/* ---------- dates and times (UTC session time zone) ---------- */

static void fmt_ts(char *buf, size_t n, int64_t usec, int tz, int date_only)
{
    time_t secs = (time_t)(usec >= 0 ? usec / 1000000 : -((-usec + 999999) / 1000000));
    int frac = (int)(usec - (int64_t)secs * 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    if (date_only) { snprintf(buf, n, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday); return; }
    int k = snprintf(buf, n, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (frac) {
        k += snprintf(buf + k, n - (size_t)k, ".%06d", frac);
        while (buf[k - 1] == '0') buf[--k] = 0;
    }
    if (tz) snprintf(buf + k, n - (size_t)k, "+00");
}

/* parse 'YYYY-MM-DD[ T]HH:MM[:SS[.ffffff]][Z|+hh[:mm]|-hh[:mm]]' or a date;
 * returns 0 and microseconds since the epoch (UTC) */
static int parse_ts(const char *s, int64_t *usec, int *has_time)
{
    int y, mo, d, h = 0, mi = 0, n = 0;
    double sec = 0;
    while (isspace((unsigned char)*s)) s++;
    if (!strcasecmp(s, "epoch")) { *usec = 0; *has_time = 1; return 0; }
    if (sscanf(s, "%d-%d-%d%n", &y, &mo, &d, &n) != 3) return -1;
    s += n;
    *has_time = 0;
    if (*s == ' ' || *s == 'T' || *s == 't') {
        const char *p = s + 1;
        int m2 = 0;
        if (sscanf(p, "%d:%d%n", &h, &mi, &m2) == 2) {
            p += m2;
            if (*p == ':') { char *e; sec = strtod(p + 1, &e); p = e; }
            s = p;
            *has_time = 1;
        }
    }
    int tzsec = 0;
    while (*s == ' ') s++;
    if (*s == 'Z' || *s == 'z') s++;
    else if (*s == '+' || *s == '-') {
        int sign = *s == '-' ? -1 : 1, th = 0, tm = 0, m3 = 0;
        s++;
        if (sscanf(s, "%2d%n", &th, &m3) != 1) return -1;
        s += m3;
        if (*s == ':') s++;
        if (isdigit((unsigned char)*s)) { sscanf(s, "%2d%n", &tm, &m3); s += m3; }
        tzsec = sign * (th * 3600 + tm * 60);
    } else if (!strncasecmp(s, "UTC", 3)) s += 3;
    while (*s == ' ') s++;
    if (*s) return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 24 || mi > 59 || sec >= 61) return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900; tm.tm_mon = mo - 1; tm.tm_mday = d; tm.tm_hour = h; tm.tm_min = mi;
    time_t t = timegm(&tm);
    *usec = ((int64_t)t - tzsec) * 1000000 + (int64_t)llround(sec * 1e6);
    return 0;
}

/* now(): the transaction's timestamp when the engine has set one
 * (wb_sql_set_now), else the time of the call. One per connection: the
 * user data of the now() family. */
typedef struct time_state { int64_t fixed; } time_state;

static int64_t now_usec(sqlite3_context *c)
{
    time_state *ts = sqlite3_user_data(c);
    if (ts && ts->fixed) return ts->fixed;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000000 + tv.tv_usec;
}

static void f_set_now(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    time_state *ts = sqlite3_user_data(c);
    ts->fixed = sqlite3_value_int64(a[0]);
    sqlite3_result_null(c);
}

int wb_sql_set_now(sqlite3 *db, int64_t usec)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "SELECT wb_set_now(?1)", -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    sqlite3_bind_int64(st, 1, usec);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void f_now(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc; (void)a;
    char buf[64];
    /* PostgreSQL's now() is the transaction's start; SQLite evaluates
     * non-deterministic functions per call: one value per statement is
     * kept through sqlite3_set_auxdata-free approach: statement time */
    fmt_ts(buf, sizeof buf, now_usec(c), 1, 0);
    sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
}

static void f_localts(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc; (void)a;
    char buf[64];
    fmt_ts(buf, sizeof buf, now_usec(c), 0, 0);
    sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
}

static void f_current_date(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc; (void)a;
    char buf[64];
    fmt_ts(buf, sizeof buf, now_usec(c), 0, 1);
    sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
}

static void f_interval_in(sqlite3_context *c, const char *s);
static void f_datetime(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    uint32_t to = (uint32_t)sqlite3_value_int(a[2]);
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const char *s = (const char *)sqlite3_value_text(a[0]);
    if (to == OID_INTERVAL) { f_interval_in(c, s); return; }
    if (to == OID_TIME || to == OID_TIMETZ) {
        /* kept in their text form */
        sqlite3_result_text(c, s, -1, SQLITE_TRANSIENT);
        return;
    }
    int64_t us;
    int has_time;
    if (!strcasecmp(s, "now") || !strcasecmp(s, "today")) { us = now_usec(c); if (s[0] == 't' || s[0] == 'T') us -= us % 86400000000LL; }
    else if (parse_ts(s, &us, &has_time) != 0) {
        const char *tn = to == OID_DATE ? "date" : to == OID_TIMESTAMP ? "timestamp" : "timestamp with time zone";
        err(c, "22007", "invalid input syntax for type %s: \"%s\"", tn, s);
        return;
    }
    char buf[64];
    fmt_ts(buf, sizeof buf, us, to == OID_TIMESTAMPTZ, to == OID_DATE);
    sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
}

static void f_date_trunc(sqlite3_context *c, int argc, sqlite3_value **a)
{
    uint32_t ty = argc > 2 ? (uint32_t)sqlite3_value_int(a[2]) : OID_TIMESTAMPTZ;
    if (sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const char *field = (const char *)sqlite3_value_text(a[0]);
    const char *s = (const char *)sqlite3_value_text(a[1]);
    int64_t us;
    int ht;
    if (parse_ts(s, &us, &ht) != 0) { err(c, "22007", "invalid input syntax for type timestamp: \"%s\"", s); return; }
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    int64_t frac = us % 1000000;
    if (!strcasecmp(field, "microseconds")) {}
    else if (!strcasecmp(field, "milliseconds")) frac -= frac % 1000;
    else {
        frac = 0;
        if (!strcasecmp(field, "second")) {}
        else if (!strcasecmp(field, "minute")) tm.tm_sec = 0;
        else if (!strcasecmp(field, "hour")) tm.tm_sec = tm.tm_min = 0;
        else if (!strcasecmp(field, "day")) tm.tm_sec = tm.tm_min = tm.tm_hour = 0;
        else if (!strcasecmp(field, "week")) { tm.tm_sec = tm.tm_min = tm.tm_hour = 0; tm.tm_mday -= (tm.tm_wday + 6) % 7; }
        else if (!strcasecmp(field, "month")) { tm.tm_sec = tm.tm_min = tm.tm_hour = 0; tm.tm_mday = 1; }
        else if (!strcasecmp(field, "quarter")) { tm.tm_sec = tm.tm_min = tm.tm_hour = 0; tm.tm_mday = 1; tm.tm_mon -= tm.tm_mon % 3; }
        else if (!strcasecmp(field, "year")) { tm.tm_sec = tm.tm_min = tm.tm_hour = 0; tm.tm_mday = 1; tm.tm_mon = 0; }
        else if (!strcasecmp(field, "decade")) { tm.tm_sec = tm.tm_min = tm.tm_hour = 0; tm.tm_mday = 1; tm.tm_mon = 0; tm.tm_year -= (tm.tm_year + 1900) % 10; }
        else if (!strcasecmp(field, "century")) { tm.tm_sec = tm.tm_min = tm.tm_hour = 0; tm.tm_mday = 1; tm.tm_mon = 0; tm.tm_year = ((tm.tm_year + 1900 - 1) / 100) * 100 + 1 - 1900; }
        else { err(c, "22023", "unit \"%s\" not recognized for type timestamp", field); return; }
    }
    tm.tm_isdst = 0;
    int64_t r = (int64_t)timegm(&tm) * 1000000 + frac;
    char buf[64];
    fmt_ts(buf, sizeof buf, r, ty == OID_TIMESTAMPTZ, 0);
    sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
}

static void f_extract(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const char *field = (const char *)sqlite3_value_text(a[0]);
    const char *s = (const char *)sqlite3_value_text(a[1]);
    int64_t us;
    int ht;
    if (parse_ts(s, &us, &ht) != 0) { err(c, "22007", "invalid input syntax for type timestamp: \"%s\"", s); return; }
    time_t secs = (time_t)(us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000));
    struct tm tm;
    gmtime_r(&secs, &tm);
    double frac = (double)(us - (int64_t)secs * 1000000) / 1e6;
    double v;
    if (!strcasecmp(field, "year")) v = tm.tm_year + 1900;
    else if (!strcasecmp(field, "month")) v = tm.tm_mon + 1;
    else if (!strcasecmp(field, "day")) v = tm.tm_mday;
    else if (!strcasecmp(field, "hour")) v = tm.tm_hour;
    else if (!strcasecmp(field, "minute")) v = tm.tm_min;
    else if (!strcasecmp(field, "second")) v = tm.tm_sec + frac;
    else if (!strcasecmp(field, "dow")) v = tm.tm_wday;
    else if (!strcasecmp(field, "isodow")) v = tm.tm_wday ? tm.tm_wday : 7;
    else if (!strcasecmp(field, "doy")) v = tm.tm_yday + 1;
    else if (!strcasecmp(field, "quarter")) v = tm.tm_mon / 3 + 1;
    else if (!strcasecmp(field, "epoch")) v = (double)us / 1e6;
    else if (!strcasecmp(field, "milliseconds")) v = (tm.tm_sec + frac) * 1000;
    else if (!strcasecmp(field, "microseconds")) v = (tm.tm_sec + frac) * 1e6;
    else if (!strcasecmp(field, "decade")) v = (tm.tm_year + 1900) / 10;
    else if (!strcasecmp(field, "century")) v = (tm.tm_year + 1900 + 99) / 100;
    else if (!strcasecmp(field, "week")) {
        char wk[8];
        strftime(wk, sizeof wk, "%V", &tm);
        v = atoi(wk);
    } else { err(c, "22023", "unit \"%s\" not recognized for type timestamp", field); return; }
    if (v == floor(v) && fabs(v) < 9e15) sqlite3_result_int64(c, (sqlite3_int64)v);
    else sqlite3_result_double(c, v);
}

static void f_to_char(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const char *s = (const char *)sqlite3_value_text(a[0]);
    const char *f = (const char *)sqlite3_value_text(a[1]);
    int64_t us;
    int ht;
    if (parse_ts(s, &us, &ht) != 0) { err(c, "0A000", "to_char of a non-timestamp value is not supported"); return; }
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    static const char *const dy[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    char out[512];
    size_t o = 0;
    while (*f && o < sizeof out - 16) {
#define PAT(p) (!strncmp(f, p, strlen(p)) && (f += strlen(p), 1))
        if (PAT("YYYY")) o += (size_t)snprintf(out + o, sizeof out - o, "%04d", tm.tm_year + 1900);
        else if (PAT("YY")) o += (size_t)snprintf(out + o, sizeof out - o, "%02d", (tm.tm_year + 1900) % 100);
        else if (PAT("MM")) o += (size_t)snprintf(out + o, sizeof out - o, "%02d", tm.tm_mon + 1);
        else if (PAT("Mon")) o += (size_t)snprintf(out + o, sizeof out - o, "%s", mon[tm.tm_mon]);
        else if (PAT("DD")) o += (size_t)snprintf(out + o, sizeof out - o, "%02d", tm.tm_mday);
        else if (PAT("Dy")) o += (size_t)snprintf(out + o, sizeof out - o, "%s", dy[tm.tm_wday]);
        else if (PAT("HH24")) o += (size_t)snprintf(out + o, sizeof out - o, "%02d", tm.tm_hour);
        else if (PAT("HH12") || PAT("HH")) o += (size_t)snprintf(out + o, sizeof out - o, "%02d", tm.tm_hour % 12 ? tm.tm_hour % 12 : 12);
        else if (PAT("MI")) o += (size_t)snprintf(out + o, sizeof out - o, "%02d", tm.tm_min);
        else if (PAT("SS")) o += (size_t)snprintf(out + o, sizeof out - o, "%02d", tm.tm_sec);
        else if (PAT("MS")) o += (size_t)snprintf(out + o, sizeof out - o, "%03d", (int)(us % 1000000) / 1000);
        else if (PAT("US")) o += (size_t)snprintf(out + o, sizeof out - o, "%06d", (int)(us % 1000000));
        else if (PAT("AM") || PAT("PM")) o += (size_t)snprintf(out + o, sizeof out - o, "%s", tm.tm_hour < 12 ? "AM" : "PM");
        else out[o++] = *f++;
#undef PAT
    }
    out[o] = 0;
    sqlite3_result_text(c, out, -1, SQLITE_TRANSIENT);
}

/* ---------- strings, regex ---------- */

typedef struct rx_cache { char *pat; int icase; regex_t re; } rx_cache;
static void rx_free(void *p)
{
    rx_cache *r = p;
    regfree(&r->re);
    free(r->pat);
    free(r);
}

static void f_regex(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const char *s = (const char *)sqlite3_value_text(a[0]);
    const char *pat = (const char *)sqlite3_value_text(a[1]);
    int icase = sqlite3_value_int(a[2]);
    rx_cache *r = sqlite3_get_auxdata(c, 1);
    if (!r || r->icase != icase || strcmp(r->pat, pat)) {
        r = calloc(1, sizeof *r);
        if (!r) { sqlite3_result_error_nomem(c); return; }
        r->pat = strdup(pat);
        r->icase = icase;
        int rc = r->pat ? regcomp(&r->re, pat, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0)) : REG_ESPACE;
        if (rc != 0) {
            char msg[200];
            if (r->pat) regerror(rc, &r->re, msg, sizeof msg); else snprintf(msg, sizeof msg, "out of memory");
            free(r->pat);
            free(r);
            err(c, "2201B", "invalid regular expression: %s", msg);
            return;
        }
        sqlite3_set_auxdata(c, 1, r, rx_free);
        r = sqlite3_get_auxdata(c, 1);
        if (!r) { sqlite3_result_error_nomem(c); return; }
    }
    sqlite3_result_int(c, regexec(&r->re, s, 0, NULL, 0) == 0);
}

static void f_concat(sqlite3_context *c, int argc, sqlite3_value **a)
{
    sqlite3_str *s = sqlite3_str_new(NULL);
    for (int i = 0; i < argc; i++)
        if (sqlite3_value_type(a[i]) != SQLITE_NULL) sqlite3_str_appendall(s, (const char *)sqlite3_value_text(a[i]));
    int n = sqlite3_str_length(s);
    char *r = sqlite3_str_finish(s);
    if (!r && n) { sqlite3_result_error_nomem(c); return; }
    sqlite3_result_text(c, r ? r : "", n, sqlite3_free);
}

static void f_concat_ws(sqlite3_context *c, int argc, sqlite3_value **a)
{
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const char *sep = (const char *)sqlite3_value_text(a[0]);
    sqlite3_str *s = sqlite3_str_new(NULL);
    int first = 1;
    for (int i = 1; i < argc; i++) {
        if (sqlite3_value_type(a[i]) == SQLITE_NULL) continue;
        if (!first) sqlite3_str_appendall(s, sep);
        first = 0;
        sqlite3_str_appendall(s, (const char *)sqlite3_value_text(a[i]));
    }
    int n = sqlite3_str_length(s);
    char *r = sqlite3_str_finish(s);
    sqlite3_result_text(c, r ? r : "", n, sqlite3_free);
}

/* greatest/least: NULLs ignored, as PostgreSQL does */
static void f_minmax(sqlite3_context *c, int argc, sqlite3_value **a, int want)
{
    sqlite3_value *best = NULL;
    for (int i = 0; i < argc; i++) {
        if (sqlite3_value_type(a[i]) == SQLITE_NULL) continue;
        if (!best) { best = a[i]; continue; }
        int t1 = sqlite3_value_numeric_type(a[i]), t2 = sqlite3_value_numeric_type(best);
        int cmp;
        if ((t1 == SQLITE_INTEGER || t1 == SQLITE_FLOAT) && (t2 == SQLITE_INTEGER || t2 == SQLITE_FLOAT)) {
            double x = sqlite3_value_double(a[i]), y = sqlite3_value_double(best);
            cmp = x < y ? -1 : x > y;
        } else cmp = strcmp((const char *)sqlite3_value_text(a[i]), (const char *)sqlite3_value_text(best));
        if (cmp * want > 0) best = a[i];
    }
    if (best) sqlite3_result_value(c, best); else sqlite3_result_null(c);
}
static void f_greatest(sqlite3_context *c, int argc, sqlite3_value **a) { f_minmax(c, argc, a, 1); }
static void f_least(sqlite3_context *c, int argc, sqlite3_value **a) { f_minmax(c, argc, a, -1); }

static void f_octet_length(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    sqlite3_result_int(c, sqlite3_value_bytes(a[0]));
}

static void f_left(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const unsigned char *s = sqlite3_value_text(a[0]);
    int n = sqlite3_value_int(a[1]);
    /* count characters (UTF-8) */
    int len = 0;
    for (const unsigned char *p = s; *p; p++) len += (*p & 0xC0) != 0x80;
    int keep = n >= 0 ? (n < len ? n : len) : (len + n > 0 ? len + n : 0);
    const unsigned char *p = s;
    for (int k = 0; *p && k <= keep; p++) { if ((*p & 0xC0) != 0x80) { if (k == keep) break; k++; } }
    sqlite3_result_text(c, (const char *)s, (int)(p - s), SQLITE_TRANSIENT);
}

static void f_right(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const unsigned char *s = sqlite3_value_text(a[0]);
    int n = sqlite3_value_int(a[1]);
    int len = 0;
    for (const unsigned char *p = s; *p; p++) len += (*p & 0xC0) != 0x80;
    int skip = n >= 0 ? (len > n ? len - n : 0) : (-n < len ? -n : len);
    const unsigned char *p = s;
    int k = 0;
    while (*p && k < skip) { p++; while ((*p & 0xC0) == 0x80) p++; k++; }
    sqlite3_result_text(c, (const char *)p, -1, SQLITE_TRANSIENT);
}

static void f_repeat(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const char *s = (const char *)sqlite3_value_text(a[0]);
    int n = sqlite3_value_int(a[1]);
    sqlite3_str *o = sqlite3_str_new(NULL);
    for (int i = 0; i < n; i++) sqlite3_str_appendall(o, s);
    int len = sqlite3_str_length(o);
    char *r = sqlite3_str_finish(o);
    sqlite3_result_text(c, r ? r : "", len, sqlite3_free);
}

/* ---------- arrays (PostgreSQL text form) ---------- */

static void arr_append_elem(sqlite3_str *o, sqlite3_value *v)
{
    if (sqlite3_value_type(v) == SQLITE_NULL) { sqlite3_str_appendall(o, "NULL"); return; }
    if (sqlite3_value_type(v) == SQLITE_INTEGER) { sqlite3_str_appendf(o, "%lld", (long long)sqlite3_value_int64(v)); return; }
    if (sqlite3_value_type(v) == SQLITE_FLOAT) { char b[64]; fmt_float8(sqlite3_value_double(v), b, sizeof b); sqlite3_str_appendall(o, b); return; }
    const char *s = (const char *)sqlite3_value_text(v);
    int quote = !*s || !strcasecmp(s, "NULL");
    for (const char *p = s; *p && !quote; p++)
        if (*p == ',' || *p == '{' || *p == '}' || *p == '"' || *p == '\\' || isspace((unsigned char)*p)) quote = 1;
    if (!quote) { sqlite3_str_appendall(o, s); return; }
    sqlite3_str_appendchar(o, 1, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\') sqlite3_str_appendchar(o, 1, '\\');
        sqlite3_str_appendchar(o, 1, *p);
    }
    sqlite3_str_appendchar(o, 1, '"');
}

static void f_array(sqlite3_context *c, int argc, sqlite3_value **a)
{
    sqlite3_str *o = sqlite3_str_new(NULL);
    sqlite3_str_appendchar(o, 1, '{');
    for (int i = 0; i < argc; i++) {
        if (i) sqlite3_str_appendchar(o, 1, ',');
        arr_append_elem(o, a[i]);
    }
    sqlite3_str_appendchar(o, 1, '}');
    int n = sqlite3_str_length(o);
    sqlite3_result_text(c, sqlite3_str_finish(o), n, sqlite3_free);
}

typedef struct agg_arr { sqlite3_str *s; int n; } agg_arr;
static void f_array_agg_step(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    agg_arr *g = sqlite3_aggregate_context(c, sizeof *g);
    if (!g) { sqlite3_result_error_nomem(c); return; }
    if (!g->s) { g->s = sqlite3_str_new(NULL); sqlite3_str_appendchar(g->s, 1, '{'); }
    if (g->n++) sqlite3_str_appendchar(g->s, 1, ',');
    arr_append_elem(g->s, a[0]);
}
static void f_array_agg_final(sqlite3_context *c)
{
    agg_arr *g = sqlite3_aggregate_context(c, 0);
    if (!g || !g->s) { sqlite3_result_null(c); return; }
    sqlite3_str_appendchar(g->s, 1, '}');
    int n = sqlite3_str_length(g->s);
    sqlite3_result_text(c, sqlite3_str_finish(g->s), n, sqlite3_free);
    g->s = NULL;
}

/* array_agg / string_agg with ORDER BY inside the call: the rows are
 * kept with their sort keys and sorted at the end (SQLite 3.40 has no
 * ORDER BY in aggregate calls). Arguments: array: value, then (key, desc)
 * pairs; string: value, separator, then the pairs. NULL keys sort last
 * ascending and first descending, as in PostgreSQL. */
typedef struct ord_item { sqlite3_value *v, *sep; sqlite3_value *k[4]; } ord_item;
typedef struct ord_agg { ord_item *items; int n, cap, nkeys; int desc[4]; } ord_agg;

static int val_cmp(sqlite3_value *a, sqlite3_value *b)
{
    int ta = sqlite3_value_type(a), tb = sqlite3_value_type(b);
    if (ta == SQLITE_NULL || tb == SQLITE_NULL) return (ta == SQLITE_NULL) - (tb == SQLITE_NULL);
    int na = ta == SQLITE_INTEGER || ta == SQLITE_FLOAT, nb = tb == SQLITE_INTEGER || tb == SQLITE_FLOAT;
    if (na && nb) {
        if (ta == SQLITE_INTEGER && tb == SQLITE_INTEGER) {
            sqlite3_int64 x = sqlite3_value_int64(a), y = sqlite3_value_int64(b);
            return x < y ? -1 : x > y;
        }
        double x = sqlite3_value_double(a), y = sqlite3_value_double(b);
        return x < y ? -1 : x > y;
    }
    if (na != nb) return na ? -1 : 1;
    int la = sqlite3_value_bytes(a), lb = sqlite3_value_bytes(b);
    const void *pa = sqlite3_value_blob(a), *pb = sqlite3_value_blob(b);
    int c = memcmp(pa, pb, (size_t)(la < lb ? la : lb));
    return c ? c : (la > lb) - (la < lb);
}

static int ord_cmp(const void *x, const void *y, void *ctx)
{
    const ord_agg *g = ctx;
    const ord_item *a = x, *b = y;
    for (int i = 0; i < g->nkeys; i++) {
        int an = sqlite3_value_type(a->k[i]) == SQLITE_NULL, bn = sqlite3_value_type(b->k[i]) == SQLITE_NULL;
        int c;
        if (an || bn) c = an - bn; /* NULLs larger: last ascending, first descending */
        else c = val_cmp(a->k[i], b->k[i]);
        if (c) return g->desc[i] ? -c : c;
    }
    return 0;
}

static void ord_step(sqlite3_context *c, int argc, sqlite3_value **a, int is_string)
{
    ord_agg *g = sqlite3_aggregate_context(c, sizeof *g);
    if (!g) { sqlite3_result_error_nomem(c); return; }
    int first = is_string ? 2 : 1;
    int nk = (argc - first) / 2;
    if (nk > 4) nk = 4;
    g->nkeys = nk;
    if (g->n == g->cap) {
        int nc = g->cap ? g->cap * 2 : 16;
        ord_item *ni = sqlite3_realloc64(g->items, (sqlite3_uint64)nc * sizeof *ni);
        if (!ni) { sqlite3_result_error_nomem(c); return; }
        g->items = ni; g->cap = nc;
    }
    ord_item *it = &g->items[g->n];
    memset(it, 0, sizeof *it);
    it->v = sqlite3_value_dup(a[0]);
    if (is_string) it->sep = sqlite3_value_dup(a[1]);
    for (int i = 0; i < nk; i++) {
        it->k[i] = sqlite3_value_dup(a[first + 2 * i]);
        g->desc[i] = sqlite3_value_int(a[first + 2 * i + 1]);
    }
    g->n++;
}

static void ord_free(ord_agg *g)
{
    for (int i = 0; i < g->n; i++) {
        sqlite3_value_free(g->items[i].v);
        sqlite3_value_free(g->items[i].sep);
        for (int k = 0; k < g->nkeys; k++) sqlite3_value_free(g->items[i].k[k]);
    }
    sqlite3_free(g->items);
    g->items = NULL; g->n = 0;
}

static void f_array_agg_ord_step(sqlite3_context *c, int argc, sqlite3_value **a) { ord_step(c, argc, a, 0); }
static void f_string_agg_ord_step(sqlite3_context *c, int argc, sqlite3_value **a) { ord_step(c, argc, a, 1); }

static void ord_final(sqlite3_context *c, int is_string)
{
    ord_agg *g = sqlite3_aggregate_context(c, 0);
    if (!g || !g->n) { sqlite3_result_null(c); if (g) ord_free(g); return; }
    qsort_r(g->items, (size_t)g->n, sizeof *g->items, ord_cmp, g);
    sqlite3_str *o = sqlite3_str_new(NULL);
    int any = 0;
    if (!is_string) sqlite3_str_appendchar(o, 1, '{');
    for (int i = 0; i < g->n; i++) {
        if (is_string) {
            if (sqlite3_value_type(g->items[i].v) == SQLITE_NULL) continue;
            if (any && sqlite3_value_type(g->items[i].sep) != SQLITE_NULL)
                sqlite3_str_appendall(o, (const char *)sqlite3_value_text(g->items[i].sep));
            sqlite3_str_appendall(o, (const char *)sqlite3_value_text(g->items[i].v));
        } else {
            if (i) sqlite3_str_appendchar(o, 1, ',');
            arr_append_elem(o, g->items[i].v);
        }
        any = 1;
    }
    if (!is_string) sqlite3_str_appendchar(o, 1, '}');
    int n = sqlite3_str_length(o);
    char *r = sqlite3_str_finish(o);
    if (is_string && !any) { sqlite3_free(r); sqlite3_result_null(c); }
    else sqlite3_result_text(c, r ? r : "", n, sqlite3_free);
    ord_free(g);
}
static void f_array_agg_ord_final(sqlite3_context *c) { ord_final(c, 0); }
static void f_string_agg_ord_final(sqlite3_context *c) { ord_final(c, 1); }

/* Split a PostgreSQL array text '{a,"b c",NULL}' into elements; calls cb
 * for each (NULL for SQL NULL). Returns -1 on malformed input. */
typedef int (*arr_cb)(void *ctx, const char *elem, size_t len, int is_null);
static int arr_parse(const char *s, arr_cb cb, void *ctx)
{
    while (isspace((unsigned char)*s)) s++;
    if (*s == '[') { s = strchr(s, '='); if (!s) return -1; s++; }
    if (*s++ != '{') return -1;
    char *buf = malloc(strlen(s) + 1);
    if (!buf) return -1;
    while (isspace((unsigned char)*s)) s++;
    if (*s == '}') { free(buf); return 0; }
    for (;;) {
        size_t n = 0;
        int quoted = 0;
        while (isspace((unsigned char)*s)) s++;
        if (*s == '{') { free(buf); return -1; } /* multidimensional */
        if (*s == '"') {
            quoted = 1;
            s++;
            while (*s && *s != '"') { if (*s == '\\' && s[1]) s++; buf[n++] = *s++; }
            if (*s != '"') { free(buf); return -1; }
            s++;
        } else {
            while (*s && *s != ',' && *s != '}') { if (*s == '\\' && s[1]) s++; buf[n++] = *s++; }
            while (n && isspace((unsigned char)buf[n - 1])) n--;
        }
        buf[n] = 0;
        int isnull = !quoted && n == 4 && !strncasecmp(buf, "NULL", 4);
        if (cb(ctx, buf, n, isnull) != 0) { free(buf); return 0; }
        while (isspace((unsigned char)*s)) s++;
        if (*s == ',') { s++; continue; }
        if (*s == '}') break;
        free(buf);
        return -1;
    }
    free(buf);
    return 0;
}

typedef struct pos_ctx { const char *want; int idx, found; } pos_ctx;
static int pos_cb(void *ctx, const char *e, size_t len, int isnull)
{
    pos_ctx *p = ctx;
    (void)len;
    p->idx++;
    if (!isnull && !strcmp(e, p->want)) { p->found = p->idx; return 1; }
    return 0;
}
static void f_array_position(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    pos_ctx p = {(const char *)sqlite3_value_text(a[1]), 0, 0};
    if (arr_parse((const char *)sqlite3_value_text(a[0]), pos_cb, &p) != 0) { err(c, "22P02", "malformed array literal"); return; }
    if (p.found) sqlite3_result_int(c, p.found); else sqlite3_result_null(c);
}

static int count_cb(void *ctx, const char *e, size_t len, int isnull) { (void)e; (void)len; (void)isnull; (*(int *)ctx)++; return 0; }
static void f_array_length(sqlite3_context *c, int argc, sqlite3_value **a)
{
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    if (argc > 1 && sqlite3_value_int(a[1]) != 1) { sqlite3_result_null(c); return; }
    int n = 0;
    if (arr_parse((const char *)sqlite3_value_text(a[0]), count_cb, &n) != 0) { err(c, "22P02", "malformed array literal"); return; }
    if (n == 0 && argc > 1) sqlite3_result_null(c); else sqlite3_result_int(c, n);
}

typedef struct get_ctx { int want, idx; sqlite3_context *c; } get_ctx;
static int get_cb(void *ctx, const char *e, size_t len, int isnull)
{
    get_ctx *g = ctx;
    if (++g->idx != g->want) return 0;
    if (isnull) sqlite3_result_null(g->c); else sqlite3_result_text(g->c, e, (int)len, SQLITE_TRANSIENT);
    return 1;
}
static void f_array_get(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    sqlite3_result_null(c);
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) return;
    get_ctx g = {sqlite3_value_int(a[1]), 0, c};
    if (arr_parse((const char *)sqlite3_value_text(a[0]), get_cb, &g) != 0) err(c, "22P02", "malformed array literal");
}

/* wb_raise('SQLSTATE message'): fails the statement with that error (for
 * checks the translator writes as a SELECT over the rows that violate) */
static void f_raise(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    const char *m = (const char *)sqlite3_value_text(a[0]);
    sqlite3_result_error(c, m ? m : "XX000 wb_raise", -1);
}

/* wb_record(v1, v2, ...): a composite value in record_out's text form
 * (PostgreSQL 15 docs §8.16.6): "(v1,v2)", a NULL field empty, a field
 * that is empty or holds a quote, backslash, parenthesis, comma or space
 * double-quoted with quotes and backslashes doubled. */
static void f_record(sqlite3_context *c, int argc, sqlite3_value **a)
{
    sqlite3_str *o = sqlite3_str_new(sqlite3_context_db_handle(c));
    sqlite3_str_appendchar(o, 1, '(');
    for (int i = 0; i < argc; i++) {
        if (i) sqlite3_str_appendchar(o, 1, ',');
        if (sqlite3_value_type(a[i]) == SQLITE_NULL) continue;
        const char *v = (const char *)sqlite3_value_text(a[i]);
        if (!v) continue;
        int quote = !*v;
        for (const char *p = v; *p && !quote; p++)
            quote = strchr("\"\\(),", *p) != NULL || isspace((unsigned char)*p);
        if (!quote) { sqlite3_str_appendall(o, v); continue; }
        sqlite3_str_appendchar(o, 1, '"');
        for (const char *p = v; *p; p++) {
            if (*p == '"' || *p == '\\') sqlite3_str_appendchar(o, 1, *p);
            sqlite3_str_appendchar(o, 1, *p);
        }
        sqlite3_str_appendchar(o, 1, '"');
    }
    sqlite3_str_appendchar(o, 1, ')');
    int len = sqlite3_str_length(o);
    char *r = sqlite3_str_finish(o);
    if (!r) { sqlite3_result_error_nomem(c); return; }
    sqlite3_result_text(c, r, len, sqlite3_free);
}

/* wb_record_field(record text, n): field n (from 1) of a record in
 * record_out's form as text, NULL for a NULL field or n past the end */
static void f_record_field(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    sqlite3_result_null(c);
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) return;
    const char *p = (const char *)sqlite3_value_text(a[0]);
    int want = sqlite3_value_int(a[1]);
    if (!p || *p != '(') { err(c, "22P02", "malformed record literal"); return; }
    p++;
    sqlite3_str *o = sqlite3_str_new(sqlite3_context_db_handle(c));
    for (int k = 1;; k++) {
        int isnull = 1;
        sqlite3_str_reset(o);
        while (*p && *p != ',' && *p != ')') {
            isnull = 0;
            if (*p == '"') {
                for (p++; *p; p++) {
                    if (*p == '"' && p[1] == '"') { sqlite3_str_appendchar(o, 1, '"'); p++; }
                    else if (*p == '"') { p++; break; }
                    else if (*p == '\\' && p[1]) { sqlite3_str_appendchar(o, 1, p[1]); p++; }
                    else sqlite3_str_appendchar(o, 1, *p);
                }
            } else if (*p == '\\' && p[1]) { sqlite3_str_appendchar(o, 1, p[1]); p += 2; }
            else sqlite3_str_appendchar(o, 1, *p++);
        }
        if (!*p) { sqlite3_free(sqlite3_str_finish(o)); err(c, "22P02", "malformed record literal"); return; }
        if (k == want) {
            if (!isnull) sqlite3_result_text(c, sqlite3_str_value(o) ? sqlite3_str_value(o) : "", sqlite3_str_length(o), SQLITE_TRANSIENT);
            break;
        }
        if (*p == ')') break;
        p++;
    }
    sqlite3_free(sqlite3_str_finish(o));
}

/* array input (array_in): checked and written in PostgreSQL's canonical
 * text form, elements read as the element type (ints and bools
 * normalised, text quoted only where needed) */
typedef struct ain_ctx { sqlite3_str *o; uint32_t elem; int n; const char *bad; } ain_ctx;
static int ain_cb(void *ctx, const char *e, size_t len, int isnull)
{
    ain_ctx *k = ctx;
    if (k->n++) sqlite3_str_appendchar(k->o, 1, ',');
    if (isnull) { sqlite3_str_appendall(k->o, "NULL"); return 0; }
    char tmp[64];
    if (k->elem == OID_INT2 || k->elem == OID_INT4 || k->elem == OID_INT8 || k->elem == OID_OID) {
        if (len >= sizeof tmp) { k->bad = "integer"; return 1; }
        memcpy(tmp, e, len); tmp[len] = 0;
        char *end;
        errno = 0;
        long long v = strtoll(tmp, &end, 10);
        while (isspace((unsigned char)*end)) end++;
        if (end == tmp || *end || errno) { k->bad = "integer"; return 1; }
        if ((k->elem == OID_INT2 && (v < -32768 || v > 32767)) || (k->elem == OID_INT4 && (v < INT32_MIN || v > INT32_MAX))) {
            k->bad = "integer"; return 1;
        }
        sqlite3_str_appendf(k->o, "%lld", v);
        return 0;
    }
    if (k->elem == OID_BOOL) {
        int t = len && (!strncasecmp(e, "true", len) || !strncasecmp(e, "yes", len) || !strncasecmp(e, "on", len > 2 ? len : 2) || (len == 1 && e[0] == '1'));
        int f = len && (!strncasecmp(e, "false", len) || !strncasecmp(e, "no", len) || !strncasecmp(e, "off", len > 2 ? len : 3) || (len == 1 && e[0] == '0'));
        if (t == f) { k->bad = "boolean"; return 1; }
        sqlite3_str_appendchar(k->o, 1, t ? 't' : 'f');
        return 0;
    }
    int quote = !len || (len == 4 && !strncasecmp(e, "NULL", 4));
    for (size_t i = 0; i < len && !quote; i++)
        if (e[i] == ',' || e[i] == '{' || e[i] == '}' || e[i] == '"' || e[i] == '\\' || isspace((unsigned char)e[i])) quote = 1;
    if (!quote) { sqlite3_str_append(k->o, e, (int)len); return 0; }
    sqlite3_str_appendchar(k->o, 1, '"');
    for (size_t i = 0; i < len; i++) {
        if (e[i] == '"' || e[i] == '\\') sqlite3_str_appendchar(k->o, 1, '\\');
        sqlite3_str_appendchar(k->o, 1, e[i]);
    }
    sqlite3_str_appendchar(k->o, 1, '"');
    return 0;
}

static void f_array_in(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const char *s = (const char *)sqlite3_value_text(a[0]);
    uint32_t elem = 0;
    wb_sql_type_info((uint32_t)sqlite3_value_int64(a[1]), NULL, NULL, &elem, NULL);
    ain_ctx k = {sqlite3_str_new(NULL), elem, 0, NULL};
    sqlite3_str_appendchar(k.o, 1, '{');
    int rc = arr_parse(s, ain_cb, &k);
    sqlite3_str_appendchar(k.o, 1, '}');
    int n = sqlite3_str_length(k.o);
    char *r = sqlite3_str_finish(k.o);
    if (rc != 0 || k.bad) {
        sqlite3_free(r);
        if (k.bad) err(c, "22P02", "invalid input syntax for type %s in array: \"%s\"", k.bad, s);
        else err(c, "22P02", "malformed array literal: \"%s\"", s);
        return;
    }
    sqlite3_result_text(c, r ? r : "{}", r ? n : 2, r ? sqlite3_free : SQLITE_STATIC);
}

/* ---------- virtual tables: generate_series, wb_unnest ---------- */

typedef struct series_vtab { sqlite3_vtab base; int unnest; } series_vtab;
typedef struct series_cur {
    sqlite3_vtab_cursor base;
    int unnest;
    int64_t cur, stop, step, rowid;
    int isfloat; double fcur, fstop, fstep;
    int ists; int64_t tscur, tsstop, tsstep_us; int tsmonths; int tstz; /* timestamps with an interval step */
    char **elems; int *nulls; int nelems;
    int eof;
} series_cur;

static int series_connect(sqlite3 *db, void *aux, int argc, const char *const *argv, sqlite3_vtab **out, char **errp)
{
    (void)argc; (void)argv; (void)errp;
    int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(value, start HIDDEN, stop HIDDEN, step HIDDEN)");
    if (rc != SQLITE_OK) return rc;
    series_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v) return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->unnest = aux != NULL;
    *out = &v->base;
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
    return SQLITE_OK;
}
static int series_disconnect(sqlite3_vtab *v) { sqlite3_free(v); return SQLITE_OK; }
static int series_open(sqlite3_vtab *v, sqlite3_vtab_cursor **out)
{
    series_cur *c = sqlite3_malloc(sizeof *c);
    if (!c) return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    c->unnest = ((series_vtab *)v)->unnest;
    *out = &c->base;
    return SQLITE_OK;
}
static void cur_clear(series_cur *c)
{
    for (int i = 0; i < c->nelems; i++) free(c->elems[i]);
    free(c->elems); free(c->nulls);
    c->elems = NULL; c->nulls = NULL; c->nelems = 0;
}
static int series_close(sqlite3_vtab_cursor *cur) { cur_clear((series_cur *)cur); sqlite3_free(cur); return SQLITE_OK; }

typedef struct collect { series_cur *c; int cap; int oom; } collect;
static int collect_cb(void *ctx, const char *e, size_t len, int isnull)
{
    collect *k = ctx;
    series_cur *c = k->c;
    if (c->nelems == k->cap) {
        int nc = k->cap ? k->cap * 2 : 16;
        char **ne = realloc(c->elems, (size_t)nc * sizeof *ne);
        int *nn = ne ? realloc(c->nulls, (size_t)nc * sizeof *nn) : NULL;
        if (ne) c->elems = ne;
        if (!ne || !nn) { k->oom = 1; return 1; }
        c->nulls = nn;
        k->cap = nc;
    }
    c->elems[c->nelems] = isnull ? NULL : strndup(e, len);
    c->nulls[c->nelems] = isnull;
    if (!isnull && !c->elems[c->nelems]) { k->oom = 1; return 1; }
    c->nelems++;
    return 0;
}

/* interval text '1 day', '2 hours', '00:30:00', '1 mon' -> months + usec */
static int parse_interval(const char *s, int *months, int64_t *usec)
{
    *months = 0; *usec = 0;
    while (*s) {
        while (isspace((unsigned char)*s)) s++;
        if (!*s) break;
        char *e;
        double v = strtod(s, &e);
        if (e == s) return -1;
        if (*e == ':') {
            int h = (int)v, m = 0; double sec = 0;
            const char *p = e + 1;
            m = (int)strtol(p, &e, 10);
            if (*e == ':') sec = strtod(e + 1, &e);
            *usec += ((int64_t)h * 3600 + m * 60) * 1000000 + (int64_t)llround(sec * 1e6) * (h < 0 ? -1 : 1);
            s = e;
            continue;
        }
        s = e;
        while (isspace((unsigned char)*s)) s++;
        const char *u = s;
        while (isalpha((unsigned char)*s)) s++;
        size_t ul = (size_t)(s - u);
        if (!ul) return -1;
        if (!strncasecmp(u, "year", 4) || !strncasecmp(u, "y", ul)) *months += (int)(v * 12);
        else if (!strncasecmp(u, "mon", 3)) *months += (int)v;
        else if (!strncasecmp(u, "week", 4) || !strncasecmp(u, "w", ul)) *usec += (int64_t)(v * 7 * 86400e6);
        else if (!strncasecmp(u, "day", 3) || !strncasecmp(u, "d", ul)) *usec += (int64_t)(v * 86400e6);
        else if (!strncasecmp(u, "hour", 4) || !strncasecmp(u, "h", ul)) *usec += (int64_t)(v * 3600e6);
        else if (!strncasecmp(u, "min", 3) || !strncasecmp(u, "m", ul)) *usec += (int64_t)(v * 60e6);
        else if (!strncasecmp(u, "sec", 3) || !strncasecmp(u, "s", ul)) *usec += (int64_t)(v * 1e6);
        else if (!strncasecmp(u, "ms", 2) || !strncasecmp(u, "millisecond", ul)) *usec += (int64_t)(v * 1e3);
        else if (!strncasecmp(u, "us", 2) || !strncasecmp(u, "microsecond", ul)) *usec += (int64_t)v;
        else return -1;
        if (!strncasecmp(s, " ago", 4)) { *months = -*months; *usec = -*usec; s += 4; }
    }
    return 0;
}

static int64_t add_months(int64_t us, int months)
{
    if (!months) return us;
    time_t secs = (time_t)(us / 1000000);
    int64_t frac = us % 1000000;
    struct tm tm;
    gmtime_r(&secs, &tm);
    int total = tm.tm_mon + months;
    tm.tm_year += total / 12 - (total % 12 < 0);
    tm.tm_mon = ((total % 12) + 12) % 12;
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y = tm.tm_year + 1900;
    int md = mdays[tm.tm_mon] + (tm.tm_mon == 1 && ((y % 4 == 0 && y % 100) || y % 400 == 0));
    if (tm.tm_mday > md) tm.tm_mday = md;
    return (int64_t)timegm(&tm) * 1000000 + frac;
}

static int series_filter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr, int argc, sqlite3_value **argv)
{
    (void)idxStr; (void)idxNum;
    series_cur *c = (series_cur *)cur;
    cur_clear(c);
    c->rowid = 1;
    c->eof = 0;
    c->isfloat = c->ists = 0;
    if (c->unnest) {
        if (argc < 1 || sqlite3_value_type(argv[0]) == SQLITE_NULL) { c->eof = 1; return SQLITE_OK; }
        collect k = {c, 0, 0};
        if (arr_parse((const char *)sqlite3_value_text(argv[0]), collect_cb, &k) != 0) {
            sqlite3_free(cur->pVtab->zErrMsg);
            cur->pVtab->zErrMsg = sqlite3_mprintf("22P02 malformed array literal: \"%s\"", sqlite3_value_text(argv[0]));
            return SQLITE_ERROR;
        }
        if (k.oom) return SQLITE_NOMEM;
        c->cur = 0;
        c->eof = c->nelems == 0;
        return SQLITE_OK;
    }
    if (argc < 2 || sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL ||
        (argc > 2 && sqlite3_value_type(argv[2]) == SQLITE_NULL)) { c->eof = 1; return SQLITE_OK; }
    int t0 = sqlite3_value_numeric_type(argv[0]);
    if (t0 == SQLITE_TEXT) {
        /* timestamps with an interval step */
        int64_t a, b; int ht;
        const char *s0 = (const char *)sqlite3_value_text(argv[0]);
        if (parse_ts(s0, &a, &ht) != 0 || parse_ts((const char *)sqlite3_value_text(argv[1]), &b, &ht) != 0 || argc < 3 ||
            parse_interval((const char *)sqlite3_value_text(argv[2]), &c->tsmonths, &c->tsstep_us) != 0) {
            sqlite3_free(cur->pVtab->zErrMsg);
            cur->pVtab->zErrMsg = sqlite3_mprintf("22023 generate_series: invalid timestamp bounds or step");
            return SQLITE_ERROR;
        }
        if (!c->tsmonths && !c->tsstep_us) {
            sqlite3_free(cur->pVtab->zErrMsg);
            cur->pVtab->zErrMsg = sqlite3_mprintf("22023 step size cannot equal zero");
            return SQLITE_ERROR;
        }
        c->ists = 1;
        c->tstz = strchr(s0, '+') != NULL || strchr(s0 + 10, '-') != NULL;
        c->tscur = a; c->tsstop = b;
        c->eof = (c->tsmonths > 0 || c->tsstep_us > 0) ? a > b : a < b;
        return SQLITE_OK;
    }
    if (t0 == SQLITE_FLOAT || sqlite3_value_numeric_type(argv[1]) == SQLITE_FLOAT ||
        (argc > 2 && sqlite3_value_numeric_type(argv[2]) == SQLITE_FLOAT)) {
        c->isfloat = 1;
        c->fcur = sqlite3_value_double(argv[0]);
        c->fstop = sqlite3_value_double(argv[1]);
        c->fstep = argc > 2 ? sqlite3_value_double(argv[2]) : 1;
        if (c->fstep == 0) { sqlite3_free(cur->pVtab->zErrMsg); cur->pVtab->zErrMsg = sqlite3_mprintf("22023 step size cannot equal zero"); return SQLITE_ERROR; }
        c->eof = c->fstep > 0 ? c->fcur > c->fstop : c->fcur < c->fstop;
        return SQLITE_OK;
    }
    c->cur = sqlite3_value_int64(argv[0]);
    c->stop = sqlite3_value_int64(argv[1]);
    c->step = argc > 2 ? sqlite3_value_int64(argv[2]) : 1;
    if (c->step == 0) {
        sqlite3_free(cur->pVtab->zErrMsg);
        cur->pVtab->zErrMsg = sqlite3_mprintf("22023 step size cannot equal zero");
        return SQLITE_ERROR;
    }
    c->eof = c->step > 0 ? c->cur > c->stop : c->cur < c->stop;
    return SQLITE_OK;
}

static int series_next(sqlite3_vtab_cursor *cur)
{
    series_cur *c = (series_cur *)cur;
    c->rowid++;
    if (c->unnest) { c->cur++; c->eof = c->cur >= c->nelems; return SQLITE_OK; }
    if (c->ists) {
        c->tscur = add_months(c->tscur, c->tsmonths) + c->tsstep_us;
        c->eof = (c->tsmonths > 0 || c->tsstep_us > 0) ? c->tscur > c->tsstop : c->tscur < c->tsstop;
        return SQLITE_OK;
    }
    if (c->isfloat) {
        c->fcur += c->fstep;
        c->eof = c->fstep > 0 ? c->fcur > c->fstop : c->fcur < c->fstop;
        return SQLITE_OK;
    }
    if (__builtin_add_overflow(c->cur, c->step, &c->cur)) { c->eof = 1; return SQLITE_OK; }
    c->eof = c->step > 0 ? c->cur > c->stop : c->cur < c->stop;
    return SQLITE_OK;
}
static int series_eof(sqlite3_vtab_cursor *cur) { return ((series_cur *)cur)->eof; }
static int series_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i)
{
    series_cur *c = (series_cur *)cur;
    if (i != 0) { sqlite3_result_null(ctx); return SQLITE_OK; }
    if (c->unnest) {
        if (c->nulls[c->cur]) sqlite3_result_null(ctx);
        else sqlite3_result_text(ctx, c->elems[c->cur], -1, SQLITE_TRANSIENT);
    } else if (c->ists) {
        char buf[64];
        fmt_ts(buf, sizeof buf, c->tscur, c->tstz, 0);
        sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
    } else if (c->isfloat) sqlite3_result_double(ctx, c->fcur);
    else sqlite3_result_int64(ctx, c->cur);
    return SQLITE_OK;
}
static int series_rowid(sqlite3_vtab_cursor *cur, sqlite_int64 *r) { *r = ((series_cur *)cur)->rowid; return SQLITE_OK; }

/* arguments are the hidden columns start/stop/step (unnest: start) */
static int series_best_index(sqlite3_vtab *v, sqlite3_index_info *info)
{
    (void)v;
    int slot[3] = {-1, -1, -1};
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *k = &info->aConstraint[i];
        if (k->iColumn < 1 || k->iColumn > 3) continue;
        if (!k->usable || k->op != SQLITE_INDEX_CONSTRAINT_EQ) return SQLITE_CONSTRAINT;
        slot[k->iColumn - 1] = i;
    }
    int n = 0;
    for (int j = 0; j < 3; j++) {
        if (slot[j] < 0) break;
        info->aConstraintUsage[slot[j]].argvIndex = ++n;
        info->aConstraintUsage[slot[j]].omit = 1;
    }
    info->idxNum = n;
    info->estimatedCost = 10;
    info->estimatedRows = 100;
    return SQLITE_OK;
}

static const sqlite3_module series_module = {
    0, NULL, series_connect, series_best_index, series_disconnect, NULL, series_open, series_close,
    series_filter, series_next, series_eof, series_column, series_rowid,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
};

/* ---------- sequences ---------- */

typedef struct seq_state { sqlite3 *db; char last_name[128]; int64_t last; int has_last; } seq_state;

static int seq_get(sqlite3 *db, const char *name, int64_t *last, int64_t *inc, int64_t *minv, int64_t *maxv,
                   int *called, int64_t *start)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT last_value, increment_by, min_value, max_value, is_called, start_value "
                               "FROM wb_sequences WHERE name = ?1", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *last = sqlite3_column_int64(st, 0);
        *inc = sqlite3_column_int64(st, 1);
        *minv = sqlite3_column_int64(st, 2);
        *maxv = sqlite3_column_int64(st, 3);
        *called = sqlite3_column_int(st, 4);
        *start = sqlite3_column_int64(st, 5);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : 0;
}

static int seq_put(sqlite3 *db, const char *name, int64_t v, int called)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "UPDATE wb_sequences SET last_value = ?1, is_called = ?2 WHERE name = ?3", -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, v);
    sqlite3_bind_int(st, 2, called);
    sqlite3_bind_text(st, 3, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* 'public.t_id_seq' / '"T_seq"' -> t_id_seq */
static void seq_name(const char *in, char *out, size_t n)
{
    const char *dot = strrchr(in, '.');
    if (dot && (!strncmp(in, "public.", 7) || !strncmp(in, "\"public\".", 9))) in = dot + 1;
    size_t k = 0;
    if (*in == '"') {
        in++;
        while (*in && k + 1 < n) { if (*in == '"') { if (in[1] == '"') in++; else break; } out[k++] = *in++; }
    } else {
        while (*in && k + 1 < n) { out[k++] = (char)tolower((unsigned char)*in); in++; }
    }
    out[k] = 0;
}

/* a sequence argument: its name, or its OID from ::regclass (pg_class
 * gives sequences TR_SEQ_OID_BASE + their rowid in wb_sequences) */
static void seq_arg_name(sqlite3 *db, sqlite3_value *v, char *out, size_t n)
{
    if (sqlite3_value_numeric_type(v) == SQLITE_INTEGER && sqlite3_value_int64(v) > TR_SEQ_OID_BASE) {
        sqlite3_stmt *st;
        out[0] = 0;
        if (sqlite3_prepare_v2(db, "SELECT name FROM wb_sequences WHERE rowid = ?1", -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, sqlite3_value_int64(v) - TR_SEQ_OID_BASE);
            if (sqlite3_step(st) == SQLITE_ROW) snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
            sqlite3_finalize(st);
        }
        if (out[0]) return;
    }
    seq_name((const char *)sqlite3_value_text(v), out, n);
}

static void f_nextval(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    seq_state *ss = sqlite3_user_data(c);
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    char name[128];
    seq_arg_name(ss->db, a[0], name, sizeof name);
    int64_t last, inc, minv, maxv, start;
    int called;
    int r = seq_get(ss->db, name, &last, &inc, &minv, &maxv, &called, &start);
    if (r <= 0) { err(c, "42P01", "relation \"%s\" does not exist", name); return; }
    int64_t v = last;
    if (called) {
        if (__builtin_add_overflow(last, inc, &v) || v > maxv || v < minv) {
            err(c, "2200H", "nextval: reached %s value of sequence \"%s\" (%lld)", inc > 0 ? "maximum" : "minimum", name,
                (long long)(inc > 0 ? maxv : minv));
            return;
        }
    }
    if (seq_put(ss->db, name, v, 1) != 0) { err(c, "XX000", "nextval: %s", sqlite3_errmsg(ss->db)); return; }
    snprintf(ss->last_name, sizeof ss->last_name, "%s", name);
    ss->last = v;
    ss->has_last = 1;
    sqlite3_result_int64(c, v);
}

static void f_currval(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    seq_state *ss = sqlite3_user_data(c);
    char name[128];
    seq_arg_name(ss->db, a[0], name, sizeof name);
    if (!ss->has_last || strcmp(ss->last_name, name)) {
        err(c, "55000", "currval of sequence \"%s\" is not yet defined in this session", name);
        return;
    }
    sqlite3_result_int64(c, ss->last);
}

static void f_lastval(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc; (void)a;
    seq_state *ss = sqlite3_user_data(c);
    if (!ss->has_last) { err(c, "55000", "lastval is not yet defined in this session"); return; }
    sqlite3_result_int64(c, ss->last);
}

static void f_setval(sqlite3_context *c, int argc, sqlite3_value **a)
{
    seq_state *ss = sqlite3_user_data(c);
    char name[128];
    seq_arg_name(ss->db, a[0], name, sizeof name);
    int64_t v = sqlite3_value_int64(a[1]);
    int called = argc > 2 ? sqlite3_value_int(a[2]) : 1;
    int64_t last, inc, minv, maxv, start;
    int was;
    if (seq_get(ss->db, name, &last, &inc, &minv, &maxv, &was, &start) <= 0) { err(c, "42P01", "relation \"%s\" does not exist", name); return; }
    if (v < minv || v > maxv) {
        err(c, "22003", "setval: value %lld is out of bounds for sequence \"%s\" (%lld..%lld)", (long long)v, name,
            (long long)minv, (long long)maxv);
        return;
    }
    if (seq_put(ss->db, name, v, called) != 0) { err(c, "XX000", "setval: %s", sqlite3_errmsg(ss->db)); return; }
    sqlite3_result_int64(c, v);
}

/* wb_reset_session(): forget currval/lastval (a pooled connection handed
 * to another session) */
static void f_reset_session(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc; (void)a;
    seq_state *ss = sqlite3_user_data(c);
    ss->has_last = 0;
    ss->last_name[0] = 0;
    sqlite3_result_null(c);
}

int wb_sql_reset_session(sqlite3 *db)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, "SELECT wb_reset_session()", -1, &st, NULL);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static void f_drop_sequence(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    seq_state *ss = sqlite3_user_data(c);
    char name[128];
    seq_name((const char *)sqlite3_value_text(a[0]), name, sizeof name);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(ss->db, "DELETE FROM wb_sequences WHERE name = ?1", -1, &st, NULL) != SQLITE_OK) {
        err(c, "XX000", "%s", sqlite3_errmsg(ss->db));
        return;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_finalize(st);
    if (sqlite3_changes(ss->db) == 0) { err(c, "42P01", "sequence \"%s\" does not exist", name); return; }
    sqlite3_result_null(c);
}

/* ---------- system information defaults (the engine may override) ---------- */

static void f_version(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc; (void)a;
    char buf[200];
    snprintf(buf, sizeof buf, "PostgreSQL 15.1 (wirebuf, SQLite %s) on x86_64-pc-linux-gnu, compiled by gcc, 64-bit", sqlite3_libversion());
    sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
}
static void f_const_text(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc; (void)a;
    sqlite3_result_text(c, sqlite3_user_data(c), -1, SQLITE_STATIC);
}
/* pg_get_userbyid(oid): the session's role (current_user(), which the
 * engine registers; else the default) owns everything, as pg_roles says,
 * except that public belongs to pg_database_owner (OID 6171) as in
 * PostgreSQL 15 */
static void f_userbyid(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    if (sqlite3_value_int64(a[0]) == 6171) { sqlite3_result_text(c, "pg_database_owner", -1, SQLITE_STATIC); return; }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(sqlite3_context_db_handle(c), "SELECT current_user()", -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) == SQLITE_TEXT) {
            sqlite3_result_text(c, (const char *)sqlite3_column_text(st, 0), -1, SQLITE_TRANSIENT);
            sqlite3_finalize(st);
            return;
        }
        sqlite3_finalize(st);
    }
    sqlite3_result_text(c, (const char *)sqlite3_user_data(c), -1, SQLITE_STATIC);
}
static void f_current_schemas(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    sqlite3_result_text(c, sqlite3_value_int(a[0]) ? "{pg_catalog,public}" : "{public}", -1, SQLITE_STATIC);
}
static void f_true(sqlite3_context *c, int argc, sqlite3_value **a) { (void)argc; (void)a; sqlite3_result_int(c, 1); }
static void f_false(sqlite3_context *c, int argc, sqlite3_value **a) { (void)argc; (void)a; sqlite3_result_int(c, 0); }
static void f_null(sqlite3_context *c, int argc, sqlite3_value **a) { (void)argc; (void)a; sqlite3_result_null(c); }

static void f_random(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc; (void)a;
    uint64_t r;
    sqlite3_randomness(sizeof r, &r);
    sqlite3_result_double(c, (double)(r >> 11) / 9007199254740992.0);
}

static void f_format_type(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    uint32_t oid = (uint32_t)sqlite3_value_int64(a[0]);
    int32_t tm = sqlite3_value_type(a[1]) == SQLITE_NULL ? -1 : sqlite3_value_int(a[1]);
    const char *name;
    uint32_t elem;
    if (oid > 1600000000u && oid < 1700000000u) { /* a domain (translate_catalog.c): its name */
        sqlite3 *db = sqlite3_context_db_handle(c);
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, "SELECT wb_domain_name(?1)", -1, &st, NULL) == SQLITE_OK) {
            sqlite3_bind_int64(st, 1, oid);
            if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
                sqlite3_result_text(c, (const char *)sqlite3_column_text(st, 0), -1, SQLITE_TRANSIENT);
                sqlite3_finalize(st);
                return;
            }
            sqlite3_finalize(st);
        }
    }
    if (!wb_sql_type_info(oid, &name, NULL, &elem, NULL)) { sqlite3_result_text(c, "???", -1, SQLITE_STATIC); return; }
    static const struct { uint32_t oid; const char *sql; } pretty[] = {
        {OID_INT2, "smallint"}, {OID_INT4, "integer"}, {OID_INT8, "bigint"}, {OID_FLOAT4, "real"},
        {OID_FLOAT8, "double precision"}, {OID_BOOL, "boolean"}, {OID_VARCHAR, "character varying"},
        {OID_BPCHAR, "character"}, {OID_TIMESTAMP, "timestamp without time zone"},
        {OID_TIMESTAMPTZ, "timestamp with time zone"}, {OID_TIME, "time without time zone"},
        {OID_TIMETZ, "time with time zone"}, {OID_CHAR, "\"char\""},
    };
    uint32_t base = elem ? elem : oid;
    const char *bn = NULL;
    wb_sql_type_info(base, &bn, NULL, NULL, NULL);
    for (size_t i = 0; i < sizeof pretty / sizeof pretty[0]; i++) if (pretty[i].oid == base) bn = pretty[i].sql;
    char buf[128];
    if (tm >= 4 && (base == OID_VARCHAR || base == OID_BPCHAR)) snprintf(buf, sizeof buf, "%s(%d)%s", bn, tm - 4, elem ? "[]" : "");
    else if (tm >= 4 && base == OID_NUMERIC) snprintf(buf, sizeof buf, "numeric(%d,%d)%s", ((tm - 4) >> 16) & 0xffff, (tm - 4) & 0xffff, elem ? "[]" : "");
    else snprintf(buf, sizeof buf, "%s%s", bn, elem ? "[]" : "");
    sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
}

/* ---------- more strings, numbers, dates ---------- */

static const char *arg_text(sqlite3_value *v) { return (const char *)sqlite3_value_text(v); }
static int any_null(int argc, sqlite3_value **a)
{
    for (int i = 0; i < argc; i++) if (sqlite3_value_type(a[i]) == SQLITE_NULL) return 1;
    return 0;
}
static int utf8_len(const char *s) { int n = 0; for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80; return n; }
static const char *utf8_skip(const char *s, int n) { while (*s && n > 0) { s++; while (((unsigned char)*s & 0xC0) == 0x80) s++; n--; } return s; }

static void pad(sqlite3_context *c, int argc, sqlite3_value **a, int left)
{
    if (any_null(argc, a)) { sqlite3_result_null(c); return; }
    const char *s = arg_text(a[0]), *fill = argc > 2 ? arg_text(a[2]) : " ";
    int len = sqlite3_value_int(a[1]);
    if (len < 0) len = 0;
    int sl = utf8_len(s);
    sqlite3_str *o = sqlite3_str_new(NULL);
    if (sl >= len) { sqlite3_str_append(o, s, (int)(utf8_skip(s, len) - s)); }
    else {
        int need = len - sl, fl = utf8_len(fill);
        if (!left) sqlite3_str_appendall(o, s);
        for (int i = 0; fl && i < need; i++) {
            const char *p = utf8_skip(fill, i % fl);
            sqlite3_str_append(o, p, (int)(utf8_skip(p, 1) - p));
        }
        if (left) sqlite3_str_appendall(o, s);
    }
    int n = sqlite3_str_length(o);
    char *r = sqlite3_str_finish(o);
    sqlite3_result_text(c, r ? r : "", n, sqlite3_free);
}
static void f_lpad(sqlite3_context *c, int argc, sqlite3_value **a) { pad(c, argc, a, 1); }
static void f_rpad(sqlite3_context *c, int argc, sqlite3_value **a) { pad(c, argc, a, 0); }

static void f_md5(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    const void *p = sqlite3_value_type(a[0]) == SQLITE_BLOB ? sqlite3_value_blob(a[0]) : (const void *)sqlite3_value_text(a[0]);
    if (!EVP_Digest(p, (size_t)sqlite3_value_bytes(a[0]), d, &n, EVP_md5(), NULL)) { err(c, "XX000", "md5 failed"); return; }
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    for (unsigned i = 0; i < n; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
    sqlite3_result_text(c, hex, (int)(2 * n), SQLITE_TRANSIENT);
}

static void f_reverse(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const char *s = arg_text(a[0]);
    size_t n = strlen(s);
    char *r = sqlite3_malloc64(n + 1);
    if (!r) { sqlite3_result_error_nomem(c); return; }
    size_t o = n;
    for (const char *p = s; *p;) {
        const char *q = utf8_skip(p, 1);
        o -= (size_t)(q - p);
        memcpy(r + o, p, (size_t)(q - p));
        p = q;
    }
    r[n] = 0;
    sqlite3_result_text(c, r, (int)n, sqlite3_free);
}

static void f_split_part(sqlite3_context *c, int argc, sqlite3_value **a)
{
    if (any_null(argc, a)) { sqlite3_result_null(c); return; }
    const char *s = arg_text(a[0]), *d = arg_text(a[1]);
    int k = sqlite3_value_int(a[2]);
    if (k == 0) { err(c, "22023", "field position must not be zero"); return; }
    size_t dl = strlen(d);
    /* fields */
    const char *starts[256]; size_t lens[256]; int nf = 0;
    const char *p = s;
    for (;;) {
        const char *q = dl ? strstr(p, d) : NULL;
        if (nf < 256) { starts[nf] = p; lens[nf] = q ? (size_t)(q - p) : strlen(p); nf++; }
        if (!q) break;
        p = q + dl;
    }
    if (!*s) nf = 0;
    int idx = k > 0 ? k - 1 : nf + k;
    if (idx < 0 || idx >= nf) { sqlite3_result_text(c, "", 0, SQLITE_STATIC); return; }
    sqlite3_result_text(c, starts[idx], (int)lens[idx], SQLITE_TRANSIENT);
}

static void f_initcap(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const char *s = arg_text(a[0]);
    size_t n = strlen(s);
    char *r = sqlite3_malloc64(n + 1);
    if (!r) { sqlite3_result_error_nomem(c); return; }
    int inword = 0;
    for (size_t i = 0; i <= n; i++) {
        unsigned char ch = (unsigned char)s[i];
        r[i] = (char)(isalnum(ch) ? (inword ? tolower(ch) : toupper(ch)) : ch);
        inword = isalnum(ch) || ch >= 0x80;
    }
    sqlite3_result_text(c, r, (int)n, sqlite3_free);
}

static void f_quote_ident(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const char *s = arg_text(a[0]);
    int plain = *s && (islower((unsigned char)*s) || *s == '_');
    for (const char *p = s; *p && plain; p++) plain = islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '_';
    if (plain) { sqlite3_result_text(c, s, -1, SQLITE_TRANSIENT); return; }
    sqlite3_str *o = sqlite3_str_new(NULL);
    sqlite3_str_appendchar(o, 1, '"');
    for (const char *p = s; *p; p++) { if (*p == '"') sqlite3_str_appendchar(o, 1, '"'); sqlite3_str_appendchar(o, 1, *p); }
    sqlite3_str_appendchar(o, 1, '"');
    int n = sqlite3_str_length(o);
    sqlite3_result_text(c, sqlite3_str_finish(o), n, sqlite3_free);
}

static void f_to_hex(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    char buf[32];
    snprintf(buf, sizeof buf, "%llx", (unsigned long long)sqlite3_value_int64(a[0]));
    sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
}

static void f_starts_with(sqlite3_context *c, int argc, sqlite3_value **a)
{
    if (any_null(argc, a)) { sqlite3_result_null(c); return; }
    const char *s = arg_text(a[0]), *p = arg_text(a[1]);
    sqlite3_result_int(c, strncmp(s, p, strlen(p)) == 0);
}

static void f_regexp_replace(sqlite3_context *c, int argc, sqlite3_value **a)
{
    if (any_null(argc, a)) { sqlite3_result_null(c); return; }
    const char *s = arg_text(a[0]), *pat = arg_text(a[1]), *rep = arg_text(a[2]);
    const char *flags = argc > 3 ? arg_text(a[3]) : "";
    int global = strchr(flags, 'g') != NULL, icase = strchr(flags, 'i') != NULL;
    regex_t re;
    int rc = regcomp(&re, pat, REG_EXTENDED | (icase ? REG_ICASE : 0));
    if (rc) { char m[200]; regerror(rc, &re, m, sizeof m); err(c, "2201B", "invalid regular expression: %s", m); return; }
    sqlite3_str *o = sqlite3_str_new(NULL);
    const char *p = s;
    regmatch_t m[10];
    int eflags = 0;
    while (*p || p == s) {
        if (regexec(&re, p, 10, m, eflags) != 0) break;
        sqlite3_str_append(o, p, (int)m[0].rm_so);
        for (const char *r = rep; *r; r++) {
            if (*r == '\\' && r[1] >= '0' && r[1] <= '9') {
                int g = r[1] - '0';
                if (m[g].rm_so >= 0) sqlite3_str_append(o, p + m[g].rm_so, (int)(m[g].rm_eo - m[g].rm_so));
                r++;
            } else if (*r == '\\' && r[1] == '&') { sqlite3_str_append(o, p + m[0].rm_so, (int)(m[0].rm_eo - m[0].rm_so)); r++; }
            else sqlite3_str_appendchar(o, 1, *r);
        }
        if (m[0].rm_eo == m[0].rm_so) {
            if (!p[m[0].rm_eo]) { p += m[0].rm_eo; break; }
            sqlite3_str_appendchar(o, 1, p[m[0].rm_eo]);
            p += m[0].rm_eo + 1;
        } else p += m[0].rm_eo;
        eflags = REG_NOTBOL;
        if (!global) break;
    }
    sqlite3_str_appendall(o, p);
    regfree(&re);
    int n = sqlite3_str_length(o);
    char *r = sqlite3_str_finish(o);
    sqlite3_result_text(c, r ? r : "", n, sqlite3_free);
}

/* round / trunc: numeric exactly (half away from zero), float8 as libm
 * (round half to even, as PostgreSQL's float8 round) */
static void round_trunc(sqlite3_context *c, int argc, sqlite3_value **a, int trunc_)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    int scale = sqlite3_value_int(a[1]);
    uint32_t ty = (uint32_t)sqlite3_value_int(a[2]);
    if (ty == OID_FLOAT8 || ty == OID_FLOAT4) {
        double d = sqlite3_value_double(a[0]), m = pow(10, scale);
        sqlite3_result_double(c, trunc_ ? trunc(d * m) / m : rint(d * m) / m);
        return;
    }
    if (sqlite3_value_type(a[0]) == SQLITE_INTEGER && scale >= 0) { sqlite3_result_int64(c, sqlite3_value_int64(a[0])); return; }
    char in[64];
    const char *s;
    if (sqlite3_value_type(a[0]) == SQLITE_FLOAT) { snprintf(in, sizeof in, "%.15g", sqlite3_value_double(a[0])); s = in; }
    else s = arg_text(a[0]);
    if (trunc_) {
        /* cut the digits beyond scale */
        char buf[400];
        snprintf(buf, sizeof buf, "%s", s);
        char *dot = strchr(buf, '.');
        if (scale >= 0) {
            if (dot) { if (scale == 0) *dot = 0; else if ((int)strlen(dot + 1) > scale) dot[1 + scale] = 0; }
        }
        char out[900];
        if (dec_round(buf, scale < 0 ? -1 : scale, out, sizeof out) < 0) { err(c, "22P02", "invalid input syntax for type numeric: \"%s\"", s); return; }
        sqlite3_result_text(c, out, -1, SQLITE_TRANSIENT);
        return;
    }
    char out[900];
    if (dec_round(s, scale < 0 ? 0 : scale, out, sizeof out) < 0) { err(c, "22P02", "invalid input syntax for type numeric: \"%s\"", s); return; }
    if (ty == OID_INT4 || ty == OID_INT8 || ty == OID_INT2) sqlite3_result_int64(c, strtoll(out, NULL, 10));
    else sqlite3_result_text(c, out, -1, SQLITE_TRANSIENT);
}
static void f_round(sqlite3_context *c, int argc, sqlite3_value **a) { round_trunc(c, argc, a, 0); }
static void f_trunc(sqlite3_context *c, int argc, sqlite3_value **a) { round_trunc(c, argc, a, 1); }

static void fmt_interval(char *buf, size_t n, int months, int64_t us)
{
    size_t o = 0;
    buf[0] = 0;
    int y = months / 12, mo = months % 12;
    if (y) o += (size_t)snprintf(buf + o, n - o, "%d year%s", y, y == 1 || y == -1 ? "" : "s");
    if (mo) o += (size_t)snprintf(buf + o, n - o, "%s%d mon%s", o ? " " : "", mo, mo == 1 || mo == -1 ? "" : "s");
    int64_t days = us / 86400000000LL;
    us -= days * 86400000000LL;
    if (days) o += (size_t)snprintf(buf + o, n - o, "%s%lld day%s", o ? " " : "", (long long)days, days == 1 || days == -1 ? "" : "s");
    if (us || !o) {
        int neg = us < 0;
        if (neg) us = -us;
        int64_t secs = us / 1000000, frac = us % 1000000;
        o += (size_t)snprintf(buf + o, n - o, "%s%s%02lld:%02lld:%02lld", o ? " " : "", neg ? "-" : "", (long long)(secs / 3600),
                              (long long)(secs / 60 % 60), (long long)(secs % 60));
        if (frac) {
            o += (size_t)snprintf(buf + o, n - o, ".%06lld", (long long)frac);
            while (buf[o - 1] == '0') buf[--o] = 0;
        }
    }
}

/* timestamp/date + interval (or + integer days for a date) */
static void f_ts_add(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    uint32_t ty = (uint32_t)sqlite3_value_int(a[2]);
    int64_t us; int ht;
    if (parse_ts(arg_text(a[0]), &us, &ht) != 0) { err(c, "22007", "invalid input syntax for type timestamp: \"%s\"", arg_text(a[0])); return; }
    const char *iv = arg_text(a[1]);
    int neg = iv[0] == '-' && iv[1] == '-';
    if (iv[0] == '-' && !neg) { /* "-" || '1 day' from subtraction */ }
    int months; int64_t add;
    const char *ivp = iv[0] == '-' ? iv + 1 : iv;
    char *e;
    long long days = strtoll(ivp, &e, 10);
    if (ty == OID_DATE && *e == 0 && e != ivp) { months = 0; add = days * 86400000000LL; }
    else if (parse_interval(ivp, &months, &add) != 0) { err(c, "22007", "invalid input syntax for type interval: \"%s\"", ivp); return; }
    if (iv[0] == '-') { months = -months; add = -add; }
    int64_t r = add_months(us, months) + add;
    char buf[64];
    int date_only = ty == OID_DATE && *e == 0 && e != ivp;
    fmt_ts(buf, sizeof buf, r, ty == OID_TIMESTAMPTZ, date_only);
    sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
}

static void f_ts_diff(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    uint32_t ty = (uint32_t)sqlite3_value_int(a[2]);
    int64_t x, y; int ht;
    if (parse_ts(arg_text(a[0]), &x, &ht) != 0 || parse_ts(arg_text(a[1]), &y, &ht) != 0) { err(c, "22007", "invalid input syntax for type timestamp"); return; }
    if (ty == OID_DATE) { sqlite3_result_int64(c, (x - y) / 86400000000LL); return; }
    char buf[96];
    fmt_interval(buf, sizeof buf, 0, x - y);
    sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
}

static void current_time(sqlite3_context *c, int tz)
{
    char buf[64];
    fmt_ts(buf, sizeof buf, now_usec(c), tz, 0);
    sqlite3_result_text(c, buf + 11, -1, SQLITE_TRANSIENT);
}
static void f_current_time(sqlite3_context *c, int argc, sqlite3_value **a) { (void)argc; (void)a; current_time(c, 1); }
static void f_localtime(sqlite3_context *c, int argc, sqlite3_value **a) { (void)argc; (void)a; current_time(c, 0); }

static int hexval(int ch) { return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1; }

/* text -> bytea: '\x4142' (hex) or the escape format */
static void f_bytea(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    if (sqlite3_value_type(a[0]) == SQLITE_BLOB) { sqlite3_result_value(c, a[0]); return; }
    const char *s = arg_text(a[0]);
    size_t n = strlen(s);
    unsigned char *out = sqlite3_malloc64(n + 1);
    if (!out) { sqlite3_result_error_nomem(c); return; }
    size_t o = 0;
    if (s[0] == '\\' && s[1] == 'x') {
        for (const char *p = s + 2; *p;) {
            if (isspace((unsigned char)*p)) { p++; continue; }
            int h = hexval(p[0]), l = p[1] ? hexval(p[1]) : -1;
            if (h < 0 || l < 0) { sqlite3_free(out); err(c, "22P02", "invalid hexadecimal digit"); return; }
            out[o++] = (unsigned char)(h * 16 + l);
            p += 2;
        }
    } else {
        for (const char *p = s; *p;) {
            if (*p != '\\') { out[o++] = (unsigned char)*p++; continue; }
            if (p[1] == '\\') { out[o++] = '\\'; p += 2; continue; }
            if (p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
                out[o++] = (unsigned char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
                p += 4;
                continue;
            }
            sqlite3_free(out);
            err(c, "22P02", "invalid input syntax for type bytea");
            return;
        }
    }
    sqlite3_result_blob64(c, out, o, sqlite3_free);
}

static void f_uuid(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const char *s = arg_text(a[0]);
    char hex[33];
    int n = 0;
    const char *p = s;
    if (*p == '{') p++;
    for (; *p && *p != '}' && n < 33; p++) {
        if (*p == '-' && n && n % 4 == 0) continue;
        if (hexval(*p) < 0) break;
        hex[n++] = (char)tolower((unsigned char)*p);
    }
    if (n != 32 || (*p && !(*p == '}' && s[0] == '{' && !p[1]))) { err(c, "22P02", "invalid input syntax for type uuid: \"%s\"", s); return; }
    char out[37];
    snprintf(out, sizeof out, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
    sqlite3_result_text(c, out, 36, SQLITE_TRANSIENT);
}

static void f_gen_random_uuid(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc; (void)a;
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1) { err(c, "XX000", "could not generate random values"); return; }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char out[37];
    snprintf(out, sizeof out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2], b[3],
             b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
    sqlite3_result_text(c, out, 36, SQLITE_TRANSIENT);
}

/* jsonb's text form (jsonb_out): keys ordered by length then bytes,
 * ", " and ": " between items, strings escaped as escape_json does */
static void jsonb_str(sqlite3_str *o, const char *v, size_t n)
{
    sqlite3_str_appendchar(o, 1, '"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        switch (ch) {
        case '"': sqlite3_str_appendall(o, "\\\""); break;
        case '\\': sqlite3_str_appendall(o, "\\\\"); break;
        case '\b': sqlite3_str_appendall(o, "\\b"); break;
        case '\f': sqlite3_str_appendall(o, "\\f"); break;
        case '\n': sqlite3_str_appendall(o, "\\n"); break;
        case '\r': sqlite3_str_appendall(o, "\\r"); break;
        case '\t': sqlite3_str_appendall(o, "\\t"); break;
        default:
            if (ch < 0x20) sqlite3_str_appendf(o, "\\u%04x", ch);
            else sqlite3_str_appendchar(o, 1, (char)ch);
        }
    }
    sqlite3_str_appendchar(o, 1, '"');
}

static int key_cmp(const void *x, const void *y)
{
    const char *a = *(const char *const *)x, *b = *(const char *const *)y;
    size_t la = strlen(a), lb = strlen(b);
    if (la != lb) return la < lb ? -1 : 1;
    return memcmp(a, b, la);
}

static int jsonb_out(sqlite3_str *o, json_t *j, int depth)
{
    if (depth > 200) return -1;
    switch (json_typeof(j)) {
    case JSON_OBJECT: {
        size_t n = json_object_size(j), k = 0;
        const char **keys = malloc((n ? n : 1) * sizeof *keys);
        if (!keys) return -1;
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v) keys[k++] = key;
        qsort(keys, n, sizeof *keys, key_cmp);
        sqlite3_str_appendchar(o, 1, '{');
        for (size_t i = 0; i < n; i++) {
            if (i) sqlite3_str_appendall(o, ", ");
            jsonb_str(o, keys[i], strlen(keys[i]));
            sqlite3_str_appendall(o, ": ");
            if (jsonb_out(o, json_object_get(j, keys[i]), depth + 1)) { free(keys); return -1; }
        }
        sqlite3_str_appendchar(o, 1, '}');
        free(keys);
        return 0;
    }
    case JSON_ARRAY:
        sqlite3_str_appendchar(o, 1, '[');
        for (size_t i = 0; i < json_array_size(j); i++) {
            if (i) sqlite3_str_appendall(o, ", ");
            if (jsonb_out(o, json_array_get(j, i), depth + 1)) return -1;
        }
        sqlite3_str_appendchar(o, 1, ']');
        return 0;
    case JSON_STRING: jsonb_str(o, json_string_value(j), json_string_length(j)); return 0;
    case JSON_INTEGER: sqlite3_str_appendf(o, "%lld", (long long)json_integer_value(j)); return 0;
    case JSON_REAL: { char b[64]; fmt_float8(json_real_value(j), b, sizeof b); sqlite3_str_appendall(o, b); return 0; }
    case JSON_TRUE: sqlite3_str_appendall(o, "true"); return 0;
    case JSON_FALSE: sqlite3_str_appendall(o, "false"); return 0;
    default: sqlite3_str_appendall(o, "null"); return 0;
    }
}

/* json: checked, kept as written (json_in); jsonb: checked and written in
 * jsonb's canonical form (jsonb_out) through jansson */
static void f_json(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const char *s = arg_text(a[0]);
    json_error_t je;
    json_t *j = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    if (!j) { err(c, "22P02", "invalid input syntax for type json: %s", je.text); return; }
    if ((uint32_t)sqlite3_value_int(a[1]) != OID_JSONB) {
        json_decref(j);
        sqlite3_result_text(c, s, -1, SQLITE_TRANSIENT);
        return;
    }
    sqlite3_str *o = sqlite3_str_new(NULL);
    int rc = jsonb_out(o, j, 0);
    json_decref(j);
    int n = sqlite3_str_length(o);
    char *r = sqlite3_str_finish(o);
    if (rc || !r) { sqlite3_free(r); err(c, "54000", "jsonb value too deep or too large"); return; }
    sqlite3_result_text(c, r, n, sqlite3_free);
}

static int join_cb(void *ctx, const char *e, size_t len, int isnull)
{
    void **k = ctx;
    sqlite3_str *o = k[0];
    const char *sep = k[1], *nullstr = k[2];
    int *first = k[3];
    if (isnull && !nullstr) return 0;
    if (!*first) sqlite3_str_appendall(o, sep);
    *first = 0;
    if (isnull) sqlite3_str_appendall(o, nullstr); else sqlite3_str_append(o, e, (int)len);
    return 0;
}
static void f_array_to_string(sqlite3_context *c, int argc, sqlite3_value **a)
{
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    sqlite3_str *o = sqlite3_str_new(NULL);
    int first = 1;
    void *k[4] = {o, (void *)arg_text(a[1]), argc > 2 && sqlite3_value_type(a[2]) != SQLITE_NULL ? (void *)arg_text(a[2]) : NULL, &first};
    if (arr_parse(arg_text(a[0]), join_cb, k) != 0) { sqlite3_free(sqlite3_str_finish(o)); err(c, "22P02", "malformed array literal"); return; }
    int n = sqlite3_str_length(o);
    char *r = sqlite3_str_finish(o);
    sqlite3_result_text(c, r ? r : "", n, sqlite3_free);
}

static void f_string_to_array(sqlite3_context *c, int argc, sqlite3_value **a)
{
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const char *s = arg_text(a[0]);
    const char *d = sqlite3_value_type(a[1]) == SQLITE_NULL ? NULL : arg_text(a[1]);
    const char *nullstr = argc > 2 && sqlite3_value_type(a[2]) != SQLITE_NULL ? arg_text(a[2]) : NULL;
    sqlite3_str *o = sqlite3_str_new(NULL);
    sqlite3_str_appendchar(o, 1, '{');
    if (*s) {
        size_t dl = d ? strlen(d) : 0;
        const char *p = s;
        int first = 1;
        for (;;) {
            const char *q;
            size_t len;
            if (!d) { q = utf8_skip(p, 1); len = (size_t)(q - p); }
            else if (!dl) { q = NULL; len = strlen(p); }
            else { q = strstr(p, d); len = q ? (size_t)(q - p) : strlen(p); }
            if (!first) sqlite3_str_appendchar(o, 1, ',');
            first = 0;
            char *piece = sqlite3_mprintf("%.*s", (int)len, p);
            if (nullstr && piece && !strcmp(piece, nullstr)) sqlite3_str_appendall(o, "NULL");
            else {
                int quote = !len || (piece && !strcasecmp(piece, "NULL"));
                for (size_t i = 0; piece && i < len && !quote; i++)
                    if (strchr(",{}\"\\ \t\n", piece[i])) quote = 1;
                if (quote) sqlite3_str_appendchar(o, 1, '"');
                for (size_t i = 0; piece && i < len; i++) {
                    if (quote && (piece[i] == '"' || piece[i] == '\\')) sqlite3_str_appendchar(o, 1, '\\');
                    sqlite3_str_appendchar(o, 1, piece[i]);
                }
                if (quote) sqlite3_str_appendchar(o, 1, '"');
            }
            sqlite3_free(piece);
            if (!d) { p = q; if (!*p) break; continue; }
            if (!q) break;
            p = q + dl;
        }
    }
    sqlite3_str_appendchar(o, 1, '}');
    int n = sqlite3_str_length(o);
    sqlite3_result_text(c, sqlite3_str_finish(o), n, sqlite3_free);
}

static void f_array_lower(sqlite3_context *c, int argc, sqlite3_value **a)
{
    if (any_null(argc, a) || sqlite3_value_int(a[1]) != 1) { sqlite3_result_null(c); return; }
    int n = 0;
    if (arr_parse(arg_text(a[0]), count_cb, &n) != 0) { err(c, "22P02", "malformed array literal"); return; }
    if (n) sqlite3_result_int(c, 1); else sqlite3_result_null(c);
}

static void f_size_pretty(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    /* PostgreSQL's pg_size_pretty(bigint): round half up at each unit, switch when >= 10240 */
    int64_t v = sqlite3_value_int64(a[0]);
    static const char *const units[] = {"bytes", "kB", "MB", "GB", "TB", "PB"};
    int u = 0;
    int64_t x = v;
    while (u < 5 && (x >= 10 * 1024 || x <= -10 * 1024)) { x = (x + (x < 0 ? -512 : 512)) / 1024; u++; }
    if (u) { x = v; for (int i = 0; i < u; i++) x = i == u - 1 ? (x + (x < 0 ? -512 : 512)) / 1024 : x / 1024; }
    char buf[64];
    snprintf(buf, sizeof buf, "%lld %s", (long long)x, units[u]);
    sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
}

static void f_serial_sequence(sqlite3_context *c, int argc, sqlite3_value **a)
{
    if (any_null(argc, a)) { sqlite3_result_null(c); return; }
    sqlite3 *db = sqlite3_context_db_handle(c);
    const char *t = arg_text(a[0]);
    const char *dot = strrchr(t, '.');
    if (dot) t = dot + 1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT name FROM wb_sequences WHERE owner_table = ?1 AND owner_column = ?2", -1, &st, NULL) != SQLITE_OK) {
        sqlite3_result_null(c);
        return;
    }
    sqlite3_bind_text(st, 1, t, -1, SQLITE_TRANSIENT);
    sqlite3_bind_value(st, 2, a[1]);
    if (sqlite3_step(st) == SQLITE_ROW) {
        char *r = sqlite3_mprintf("public.%s", sqlite3_column_text(st, 0));
        sqlite3_result_text(c, r, -1, sqlite3_free);
    } else sqlite3_result_null(c);
    sqlite3_finalize(st);
}

/* intervals as PostgreSQL keeps them: months, days and microseconds apart */
static int parse_interval3(const char *s, int *months, int *days, int64_t *usec)
{
    *months = 0; *days = 0; *usec = 0;
    while (*s) {
        while (isspace((unsigned char)*s)) s++;
        if (!*s) break;
        if (!strncasecmp(s, "@", 1)) { s++; continue; }
        char *e;
        double v = strtod(s, &e);
        if (e == s) return -1;
        if (*e == ':') {
            const char *st = s;
            int neg = *st == '-';
            long h = strtol(st, &e, 10);
            long m = 0; double sec = 0;
            if (*e == ':') m = strtol(e + 1, &e, 10);
            if (*e == ':') sec = strtod(e + 1, &e);
            int64_t t = ((int64_t)(neg ? -h : h) * 3600 + m * 60) * 1000000 + (int64_t)llround(sec * 1e6);
            *usec += neg ? -t : t;
            s = e;
            continue;
        }
        s = e;
        while (isspace((unsigned char)*s)) s++;
        const char *u = s;
        while (isalpha((unsigned char)*s)) s++;
        size_t ul = (size_t)(s - u);
        if (!ul) return -1;
        if (!strncasecmp(u, "year", 4) || (ul == 1 && (*u == 'y' || *u == 'Y'))) *months += (int)(v * 12);
        else if (!strncasecmp(u, "mon", 3)) *months += (int)v;
        else if (!strncasecmp(u, "week", 4) || (ul == 1 && *u == 'w')) *days += (int)(v * 7);
        else if (!strncasecmp(u, "day", 3) || (ul == 1 && *u == 'd')) *days += (int)v;
        else if (!strncasecmp(u, "hour", 4) || (ul == 1 && *u == 'h')) *usec += (int64_t)llround(v * 3600e6);
        else if (!strncasecmp(u, "min", 3) || (ul == 1 && *u == 'm')) *usec += (int64_t)llround(v * 60e6);
        else if (!strncasecmp(u, "ms", 2) || !strncasecmp(u, "millisecond", 11)) *usec += (int64_t)llround(v * 1e3);
        else if (!strncasecmp(u, "us", 2) || !strncasecmp(u, "microsecond", 11)) *usec += (int64_t)llround(v);
        else if (!strncasecmp(u, "sec", 3) || (ul == 1 && *u == 's')) *usec += (int64_t)llround(v * 1e6);
        else return -1;
        while (isspace((unsigned char)*s)) s++;
        if (!strncasecmp(s, "ago", 3)) { *months = -*months; *days = -*days; *usec = -*usec; s += 3; }
    }
    return 0;
}

/* interval_out, IntervalStyle postgres */
static void fmt_interval3(char *buf, size_t n, int months, int days, int64_t us)
{
    size_t o = 0;
    buf[0] = 0;
    int y = months / 12, mo = months % 12;
    if (y) o += (size_t)snprintf(buf + o, n - o, "%d year%s", y, y == 1 || y == -1 ? "" : "s");
    if (mo) o += (size_t)snprintf(buf + o, n - o, "%s%d mon%s", o ? " " : "", mo, mo == 1 || mo == -1 ? "" : "s");
    if (days) o += (size_t)snprintf(buf + o, n - o, "%s%d day%s", o ? " " : "", days, days == 1 || days == -1 ? "" : "s");
    if (us || !o) {
        int neg = us < 0;
        if (neg) us = -us;
        int64_t secs = us / 1000000, frac = us % 1000000;
        o += (size_t)snprintf(buf + o, n - o, "%s%s%02lld:%02lld:%02lld", o ? " " : "", neg ? "-" : "", (long long)(secs / 3600),
                              (long long)(secs / 60 % 60), (long long)(secs % 60));
        if (frac) {
            o += (size_t)snprintf(buf + o, n - o, ".%06lld", (long long)frac);
            while (buf[o - 1] == '0') buf[--o] = 0;
        }
    }
}

static void f_interval_in(sqlite3_context *c, const char *s)
{
    int m, d;
    int64_t us;
    if (parse_interval3(s, &m, &d, &us) != 0) { err(c, "22007", "invalid input syntax for type interval: \"%s\"", s); return; }
    char buf[128];
    fmt_interval3(buf, sizeof buf, m, d, us);
    sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
}

static void f_iv_mul(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    int m, d;
    int64_t us;
    if (parse_interval3(arg_text(a[0]), &m, &d, &us) != 0) { err(c, "22007", "invalid input syntax for type interval: \"%s\"", arg_text(a[0])); return; }
    double f = sqlite3_value_double(a[1]);
    if (sqlite3_user_data(c)) { if (f == 0) { err(c, "22012", "division by zero"); return; } f = 1 / f; }
    /* fractions carry down as PostgreSQL's interval_mul: months to days (30), days to time */
    double fm = m * f, fd = d * f + (fm - (int)fm) * 30;
    int64_t nus = (int64_t)llround((double)us * f + (fd - (int)fd) * 86400e6);
    char buf[128];
    fmt_interval3(buf, sizeof buf, (int)fm, (int)fd, nus);
    sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
}

static void f_iv_add(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL || sqlite3_value_type(a[1]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    int m1, d1, m2, d2;
    int64_t u1, u2;
    if (parse_interval3(arg_text(a[0]), &m1, &d1, &u1) || parse_interval3(arg_text(a[1]), &m2, &d2, &u2)) {
        err(c, "22007", "invalid input syntax for type interval");
        return;
    }
    int sign = sqlite3_user_data(c) ? -1 : 1;
    char buf[128];
    fmt_interval3(buf, sizeof buf, m1 + sign * m2, d1 + sign * d2, u1 + sign * u2);
    sqlite3_result_text(c, buf, -1, SQLITE_TRANSIENT);
}

/* varchar(n)/char(n) assignment: too long is 22001 unless the excess is
 * spaces (cut); char(n) is blank-padded to n characters */
static void f_char(sqlite3_context *c, int argc, sqlite3_value **a)
{
    (void)argc;
    if (sqlite3_value_type(a[0]) == SQLITE_NULL) { sqlite3_result_null(c); return; }
    const char *s = arg_text(a[0]);
    int n = sqlite3_value_int(a[1]), pad_ = sqlite3_value_int(a[2]);
    int len = utf8_len(s);
    if (len > n) {
        const char *cut = utf8_skip(s, n);
        for (const char *p = cut; *p; p++)
            if (*p != ' ') { err(c, "22001", "value too long for type %s(%d)", pad_ ? "character" : "character varying", n); return; }
        sqlite3_result_text(c, s, (int)(cut - s), SQLITE_TRANSIENT);
        return;
    }
    if (!pad_ || len == n) { sqlite3_result_value(c, a[0]); if (sqlite3_value_type(a[0]) != SQLITE_TEXT) sqlite3_result_text(c, s, -1, SQLITE_TRANSIENT); return; }
    size_t bl = strlen(s);
    char *r = sqlite3_malloc64(bl + (size_t)(n - len) + 1);
    if (!r) { sqlite3_result_error_nomem(c); return; }
    memcpy(r, s, bl);
    memset(r + bl, ' ', (size_t)(n - len));
    r[bl + (size_t)(n - len)] = 0;
    sqlite3_result_text(c, r, (int)(bl + (size_t)(n - len)), sqlite3_free);
}

/* ---------- registration ---------- */

typedef struct fdef { const char *name; int nargs; int flags; void (*fn)(sqlite3_context *, int, sqlite3_value **); const void *data; } fdef;

#define DET (SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS)
#define NDET (SQLITE_UTF8)

static const fdef fdefs[] = {
    {"wb_div", 2, DET, f_div, NULL}, {"wb_mod", 2, DET, f_mod, NULL},
    {"wb_div", 3, DET, f_div, NULL}, {"wb_mod", 3, DET, f_mod, NULL},
    {"wb_bool", 1, DET, f_bool, NULL}, {"wb_int", 2, DET, f_int, NULL}, {"wb_int", 1, DET, f_int, NULL},
    {"wb_float", 1, DET, f_float, NULL}, {"wb_numeric", 3, DET, f_numeric, NULL}, {"wb_numeric", 1, DET, f_numeric, NULL},
    {"wb_text", 2, DET, f_text, NULL},
    {"wb_datetime", 3, NDET, f_datetime, NULL},
    {"wb_clock_timestamp", 0, NDET, f_now, NULL},
    {"wb_date_trunc", 3, DET, f_date_trunc, NULL}, {"wb_date_trunc", 2, DET, f_date_trunc, NULL},
    {"wb_extract", 2, DET, f_extract, NULL}, {"wb_date_part", 2, DET, f_extract, NULL},
    {"wb_to_char", 2, DET, f_to_char, NULL},
    {"wb_regex", 3, DET, f_regex, NULL},
    {"wb_concat", -1, DET, f_concat, NULL}, {"wb_concat_ws", -1, DET, f_concat_ws, NULL},
    {"wb_greatest", -1, DET, f_greatest, NULL}, {"wb_least", -1, DET, f_least, NULL},
    {"wb_octet_length", 1, DET, f_octet_length, NULL}, {"wb_left", 2, DET, f_left, NULL},
    {"wb_right", 2, DET, f_right, NULL}, {"wb_repeat", 2, DET, f_repeat, NULL},
    {"wb_array", -1, DET, f_array, NULL}, {"wb_array_position", 2, DET, f_array_position, NULL},
    {"wb_array_length", 2, DET, f_array_length, NULL}, {"wb_cardinality", 1, DET, f_array_length, NULL},
    {"wb_array_get", 2, DET, f_array_get, NULL}, {"wb_array_in", 2, DET, f_array_in, NULL},
    {"wb_raise", 1, NDET, f_raise, NULL}, {"wb_record", -1, DET, f_record, NULL}, {"wb_record_field", 2, DET, f_record_field, NULL},
    {"wb_random", 0, NDET, f_random, NULL}, {"wb_char", 3, DET, f_char, NULL},
    {"wb_iv_mul", 2, DET, f_iv_mul, NULL}, {"wb_iv_div", 2, DET, f_iv_mul, "div"},
    {"wb_iv_add", 2, DET, f_iv_add, NULL}, {"wb_iv_sub", 2, DET, f_iv_add, "sub"},
    {"wb_lpad", 2, DET, f_lpad, NULL}, {"wb_lpad", 3, DET, f_lpad, NULL}, {"wb_rpad", 2, DET, f_rpad, NULL},
    {"wb_rpad", 3, DET, f_rpad, NULL}, {"wb_md5", 1, DET, f_md5, NULL}, {"wb_reverse", 1, DET, f_reverse, NULL},
    {"wb_split_part", 3, DET, f_split_part, NULL}, {"wb_initcap", 1, DET, f_initcap, NULL},
    {"wb_quote_ident", 1, DET, f_quote_ident, NULL}, {"wb_to_hex", 1, DET, f_to_hex, NULL},
    {"wb_starts_with", 2, DET, f_starts_with, NULL}, {"wb_regexp_replace", 3, DET, f_regexp_replace, NULL},
    {"wb_regexp_replace", 4, DET, f_regexp_replace, NULL}, {"wb_round", 3, DET, f_round, NULL},
    {"wb_trunc", 3, DET, f_trunc, NULL}, {"wb_ts_add", 3, DET, f_ts_add, NULL}, {"wb_ts_diff", 3, DET, f_ts_diff, NULL},

    {"wb_bytea", 1, DET, f_bytea, NULL}, {"wb_uuid", 1, DET, f_uuid, NULL}, {"gen_random_uuid", 0, NDET, f_gen_random_uuid, NULL},
    {"wb_json", 2, DET, f_json, NULL}, {"wb_array_to_string", 2, DET, f_array_to_string, NULL},
    {"wb_array_to_string", 3, DET, f_array_to_string, NULL}, {"wb_string_to_array", 2, DET, f_string_to_array, NULL},
    {"wb_string_to_array", 3, DET, f_string_to_array, NULL}, {"wb_array_lower", 2, DET, f_array_lower, NULL},
    {"pg_size_pretty", 1, DET, f_size_pretty, NULL}, {"pg_get_serial_sequence", 2, NDET, f_serial_sequence, NULL},
    {"version", 0, DET, f_version, NULL},
    {"current_schema", 0, DET, f_const_text, "public"},
    {"current_schemas", 1, DET, f_current_schemas, NULL},
    {"current_database", 0, DET, f_const_text, "postgres"},
    {"current_user", 0, DET, f_const_text, "postgres"}, {"session_user", 0, DET, f_const_text, "postgres"},
    {"pg_is_in_recovery", 0, DET, f_false, NULL},
    {"pg_table_is_visible", 1, DET, f_true, NULL}, {"pg_type_is_visible", 1, DET, f_true, NULL},
    {"has_table_privilege", 2, DET, f_true, NULL}, {"has_table_privilege", 3, DET, f_true, NULL},
    {"has_schema_privilege", 2, DET, f_true, NULL}, {"has_schema_privilege", 3, DET, f_true, NULL},
    {"has_database_privilege", 2, DET, f_true, NULL}, {"has_database_privilege", 3, DET, f_true, NULL},
    {"obj_description", 1, DET, f_null, NULL}, {"obj_description", 2, DET, f_null, NULL},
    {"col_description", 2, DET, f_null, NULL}, {"shobj_description", 2, DET, f_null, NULL},
    {"pg_encoding_to_char", 1, DET, f_const_text, "UTF8"},
    {"pg_get_userbyid", 1, NDET, f_userbyid, "postgres"},
    {"format_type", 2, DET, f_format_type, NULL},
};

int wb_sql_register(struct sqlite3 *db)
{
    int rc;
    for (size_t i = 0; i < sizeof fdefs / sizeof fdefs[0]; i++) {
        rc = sqlite3_create_function_v2(db, fdefs[i].name, fdefs[i].nargs, fdefs[i].flags, (void *)fdefs[i].data,
                                        fdefs[i].fn, NULL, NULL, NULL);
        if (rc != SQLITE_OK) return rc;
    }
    rc = wb_sql_register_vector(db);
    if (rc != SQLITE_OK) return rc;
    time_state *tstate = calloc(1, sizeof *tstate);
    if (!tstate) return SQLITE_NOMEM;
    /* freed with the connection, by the destructor of wb_set_now */
    rc = sqlite3_create_function_v2(db, "wb_set_now", 1, SQLITE_UTF8, tstate, f_set_now, NULL, NULL, free);
    if (rc != SQLITE_OK) { free(tstate); return rc; }
    static const struct { const char *n; void (*f)(sqlite3_context *, int, sqlite3_value **); } tf[] = {
        {"wb_now", f_now}, {"now", f_now}, {"wb_localtimestamp", f_localts}, {"wb_current_date", f_current_date},
        {"wb_current_time", f_current_time}, {"wb_localtime", f_localtime},
    };
    for (size_t i = 0; i < sizeof tf / sizeof tf[0]; i++) {
        rc = sqlite3_create_function_v2(db, tf[i].n, 0, SQLITE_UTF8, tstate, tf[i].f, NULL, NULL, NULL);
        if (rc != SQLITE_OK) return rc;
    }
    rc = sqlite3_create_function_v2(db, "wb_array_agg", 1, SQLITE_UTF8, NULL, NULL, f_array_agg_step, f_array_agg_final, NULL);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_create_function_v2(db, "wb_array_agg_ord", -1, SQLITE_UTF8, NULL, NULL, f_array_agg_ord_step, f_array_agg_ord_final, NULL);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_create_function_v2(db, "wb_string_agg_ord", -1, SQLITE_UTF8, NULL, NULL, f_string_agg_ord_step, f_string_agg_ord_final, NULL);
    if (rc != SQLITE_OK) return rc;
    seq_state *ss = calloc(1, sizeof *ss);
    if (!ss) return SQLITE_NOMEM;
    ss->db = db;
    /* the sequence state lives as long as the "nextval" function: freed by
     * its destructor when the connection closes */
    rc = sqlite3_create_function_v2(db, "nextval", 1, SQLITE_UTF8, ss, f_nextval, NULL, NULL, free);
    if (rc != SQLITE_OK) return rc;
    static const struct { const char *n; int a; void (*f)(sqlite3_context *, int, sqlite3_value **); } sf[] = {
        {"currval", 1, f_currval}, {"lastval", 0, f_lastval}, {"setval", 2, f_setval}, {"setval", 3, f_setval},
        {"wb_drop_sequence", 1, f_drop_sequence}, {"wb_reset_session", 0, f_reset_session},
    };
    for (size_t i = 0; i < sizeof sf / sizeof sf[0]; i++) {
        rc = sqlite3_create_function_v2(db, sf[i].n, sf[i].a, SQLITE_UTF8, ss, sf[i].f, NULL, NULL, NULL);
        if (rc != SQLITE_OK) return rc;
    }
    rc = sqlite3_create_module_v2(db, "generate_series", &series_module, NULL, NULL);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_create_module_v2(db, "wb_unnest", &series_module, (void *)1, NULL);
    if (rc != SQLITE_OK) return rc;
    /* PostgreSQL's LIKE is case-sensitive; foreign keys are enforced */
    rc = sqlite3_exec(db, "PRAGMA case_sensitive_like = ON; PRAGMA foreign_keys = ON", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return rc;
    rc = wb_sql_register_numeric(db);
    if (rc != SQLITE_OK) return rc;
    rc = wb_sql_register_domain(db);
    if (rc != SQLITE_OK) return rc;
    return wb_sql_register_catalog(db);
}
