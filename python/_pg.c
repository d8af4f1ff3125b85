/* wirebuf._pg — the CPython veneer over the C PostgreSQL client (pg.h).
 *
 * What is here and why:
 * - Conn wraps one wb_pg_conn plus a lock (one call at a time per
 *   connection, from any thread: DB-API threadsafety 2).
 * - execute(): Python values -> parameters (text format with a type OID for
 *   non-str values, bytes in binary), a per-connection prepared statement
 *   cache keyed by (SQL, parameter OIDs) so repeated queries skip Parse and
 *   get binary results for known types without an extra round trip.
 * - fetch(n): with the GIL released, reads up to n rows from the socket and
 *   copies their bytes into a batch buffer (the read buffer's views die at
 *   the next message); then, with the GIL, turns the batch into tuples of
 *   Python objects (int, float, Decimal, str, bytes, date/time/datetime,
 *   timedelta, UUID, json, lists for arrays).
 * - executemany(): encodes every row's parameters first (GIL held), then runs
 *   the C pipeline (one Parse, N Bind/Execute, one Sync) with the GIL released.
 * - COPY: copy_in from bytes chunks, copy_out to a write callable, and
 *   copy_records: binary COPY built here from Python tuples.
 * Errors are raised through a factory the Python package registers
 * (wirebuf.pg maps SQLSTATE classes to the PEP 249 exception classes). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <pythread.h>

#include "wirebuf/pg.h"

#include <string.h>

/* Registered by wirebuf.pg at import (setup()). */
static struct {
    PyObject *error_factory; /* (kind, sqlstate, message, fields: dict, statement) -> exception */
    PyObject *Decimal, *UUID, *json_loads, *json_dumps, *utc, *timezone, *Json;
    PyObject *s_isoformat, *s_bytes;
    int ready;
} G;

/* Server text is not always UTF-8 (a server localised in Latin-1 sends
 * FATALs during startup in its own encoding; SCRAM garbage is echoed in our
 * messages): decode with replacement so the message and SQLSTATE survive. */
static PyObject *text_or_replace(const char *s)
{
    return PyUnicode_DecodeUTF8(s, (Py_ssize_t)strlen(s), "replace");
}

static PyObject *raise_err(const wb_pg_error *e)
{
    if (!G.ready || !G.error_factory) {
        PyObject *m = text_or_replace(e->message);
        if (m) {
            PyErr_SetObject(PyExc_RuntimeError, m);
            Py_DECREF(m);
        }
        return NULL;
    }
    static const char *const names[] = {"severity", "detail", "hint", "where", "position", "schema",
                                        "table", "column", "datatype", "constraint", "sqlstate"};
    const char *vals[] = {e->severity, e->detail, e->hint, e->where, e->position, e->schema,
                          e->table, e->column, e->datatype, e->constraint, e->sqlstate};
    PyObject *fields = PyDict_New();
    for (size_t i = 0; fields && i < sizeof names / sizeof *names; i++) {
        PyObject *v = text_or_replace(vals[i]);
        if (!v || PyDict_SetItemString(fields, names[i], v)) {
            Py_XDECREF(v);
            Py_CLEAR(fields);
            break;
        }
        Py_DECREF(v);
    }
    PyObject *sqlstate = text_or_replace(e->sqlstate), *message = text_or_replace(e->message),
             *severity = text_or_replace(e->severity);
    PyObject *exc = NULL;
    if (fields && sqlstate && message && severity)
        exc = PyObject_CallFunction(G.error_factory, "iOOOOL", e->kind, sqlstate, message, severity, fields,
                                    (long long)e->statement);
    Py_XDECREF(fields);
    Py_XDECREF(sqlstate);
    Py_XDECREF(message);
    Py_XDECREF(severity);
    if (!exc)
        return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(exc), exc);
    Py_DECREF(exc);
    return NULL;
}

/* ---------------------------------------------------------------- */
/* Python -> parameter                                                */

/* Encoded parameters of one execute: values live in `arena` (offsets), so
 * many rows can be encoded before sending. */
typedef struct pbuf {
    wb_buf arena;
    size_t *off;
    int32_t *len;
    int16_t *fmt;
    uint32_t *oid;
    size_t n, cap;
} pbuf;

static void pbuf_free(pbuf *p)
{
    wb_buf_free(&p->arena);
    PyMem_Free(p->off);
    PyMem_Free(p->len);
    PyMem_Free(p->fmt);
    PyMem_Free(p->oid);
    memset(p, 0, sizeof *p);
}

/* One of parallel arrays grown to cap elements of elem bytes: the new
 * block, or on failure the old one (still valid) with *failed set; the
 * caller keeps its old capacity then, which every array still holds. */
static inline void *grow_array(void *old, size_t cap, size_t elem, int *failed)
{
    void *p = PyMem_Realloc(old, cap * elem);
    if (!p) {
        *failed = 1;
        return old;
    }
    return p;
}

static int pbuf_slot(pbuf *p)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        int failed = 0;
        p->off = grow_array(p->off, cap, sizeof *p->off, &failed);
        p->len = grow_array(p->len, cap, sizeof *p->len, &failed);
        p->fmt = grow_array(p->fmt, cap, sizeof *p->fmt, &failed);
        p->oid = grow_array(p->oid, cap, sizeof *p->oid, &failed);
        if (failed) {
            PyErr_NoMemory();
            return -1;
        }
        p->cap = cap;
    }
    return 0;
}

static int put_bytes(pbuf *p, const void *data, Py_ssize_t n, int16_t fmt, uint32_t oid)
{
    if (pbuf_slot(p))
        return -1;
    if (n > INT32_MAX) {
        PyErr_SetString(PyExc_ValueError, "parameter larger than 2 GiB");
        return -1;
    }
    p->off[p->n] = p->arena.len;
    p->len[p->n] = (int32_t)n;
    p->fmt[p->n] = fmt;
    p->oid[p->n] = oid;
    if (wb_buf_append(&p->arena, data, (size_t)n)) {
        PyErr_NoMemory();
        return -1;
    }
    p->n++;
    return 0;
}

static int put_null(pbuf *p, uint32_t oid)
{
    if (pbuf_slot(p))
        return -1;
    p->off[p->n] = 0;
    p->len[p->n] = -1;
    p->fmt[p->n] = 0;
    p->oid[p->n] = oid;
    p->n++;
    return 0;
}

static int put_str_obj(pbuf *p, PyObject *s, uint32_t oid)
{
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    return u ? put_bytes(p, u, n, 0, oid) : -1;
}

/* text via a method/func result (str) */
static int put_call(pbuf *p, PyObject *obj, PyObject *(*fn)(PyObject *), uint32_t oid)
{
    PyObject *s = fn(obj);
    if (!s)
        return -1;
    int rc = put_str_obj(p, s, oid);
    Py_DECREF(s);
    return rc;
}

static PyObject *isoformat(PyObject *o) { return PyObject_CallMethodNoArgs(o, G.s_isoformat); }

/* array literal for a list/tuple: {a,"b c",NULL,{1,2}} */
static int array_literal(PyObject *seq, wb_buf *out)
{
    if (wb_buf_putc(out, '{'))
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(seq, i);
        if (i && wb_buf_putc(out, ','))
            return -1;
        if (o == Py_None) {
            if (wb_buf_puts(out, "NULL"))
                return -1;
            continue;
        }
        if (PyList_Check(o) || PyTuple_Check(o)) {
            PyObject *f = PySequence_Fast(o, "");
            int rc = f ? array_literal(f, out) : -1;
            Py_XDECREF(f);
            if (rc)
                return -1;
            continue;
        }
        PyObject *s;
        if (PyBool_Check(o))
            s = PyUnicode_FromString(o == Py_True ? "t" : "f");
        else if (PyDateTime_Check(o) || PyDate_Check(o) || PyTime_Check(o))
            s = isoformat(o);
        else if (PyDict_Check(o))
            s = PyObject_CallOneArg(G.json_dumps, o);
        else
            s = PyObject_Str(o);
        if (!s)
            return -1;
        Py_ssize_t len;
        const char *u = PyUnicode_AsUTF8AndSize(s, &len);
        int rc = u ? wb_buf_putc(out, '"') : -1;
        for (Py_ssize_t k = 0; rc == 0 && k < len; k++) {
            if (u[k] == '"' || u[k] == '\\')
                rc |= wb_buf_putc(out, '\\');
            rc |= wb_buf_putc(out, (uint8_t)u[k]);
        }
        rc = rc ? rc : wb_buf_putc(out, '"');
        Py_DECREF(s);
        if (rc)
            return -1;
    }
    return wb_buf_putc(out, '}');
}

/* array type from the first non-None (innermost) element; 0 = let the
 * server infer (empty or all-NULL lists, other element types) */
static uint32_t array_oid(PyObject *seq)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = PySequence_Fast_GET_ITEM(seq, i);
        if (o == Py_None)
            continue;
        if (PyList_Check(o) || PyTuple_Check(o)) {
            PyObject *f = PySequence_Fast(o, "");
            uint32_t r = f ? array_oid(f) : 0;
            Py_XDECREF(f);
            if (r)
                return r;
            continue;
        }
        if (PyBool_Check(o))
            return WB_PG_OID_BOOL_ARRAY;
        if (PyLong_Check(o))
            return WB_PG_OID_INT8_ARRAY;
        if (PyFloat_Check(o))
            return WB_PG_OID_FLOAT8_ARRAY;
        if (PyUnicode_Check(o))
            return WB_PG_OID_TEXT_ARRAY;
        if (PyDateTime_Check(o))
            return ((PyDateTime_DateTime *)o)->hastzinfo ? WB_PG_OID_TIMESTAMPTZ_ARRAY : WB_PG_OID_TIMESTAMP_ARRAY;
        if (PyDate_Check(o))
            return WB_PG_OID_DATE_ARRAY;
        if (G.Decimal && PyObject_IsInstance(o, G.Decimal) == 1)
            return WB_PG_OID_NUMERIC_ARRAY;
        if (G.UUID && PyObject_IsInstance(o, G.UUID) == 1)
            return WB_PG_OID_UUID_ARRAY;
        return 0;
    }
    return 0;
}

/* The type OID a Python value is sent with (0 = untyped, like a literal:
 * str, dict/Json as JSON text, lists of unknown elements, other objects). */
static uint32_t param_oid(PyObject *o)
{
    if (o == Py_None || PyUnicode_Check(o))
        return 0;
    if (PyBool_Check(o))
        return WB_PG_OID_BOOL;
    if (PyLong_Check(o)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow)
            return WB_PG_OID_NUMERIC;
        /* int4 when it fits (so functions taking integer resolve), else int8 */
        return v >= INT32_MIN && v <= INT32_MAX ? WB_PG_OID_INT4 : WB_PG_OID_INT8;
    }
    if (PyFloat_Check(o))
        return WB_PG_OID_FLOAT8;
    if (PyBytes_Check(o) || PyByteArray_Check(o) || PyMemoryView_Check(o))
        return WB_PG_OID_BYTEA;
    if (PyDateTime_Check(o))
        return ((PyDateTime_DateTime *)o)->hastzinfo && ((PyDateTime_DateTime *)o)->tzinfo != Py_None
                   ? WB_PG_OID_TIMESTAMPTZ
                   : WB_PG_OID_TIMESTAMP;
    if (PyDate_Check(o))
        return WB_PG_OID_DATE;
    if (PyTime_Check(o))
        return ((PyDateTime_Time *)o)->hastzinfo && ((PyDateTime_Time *)o)->tzinfo != Py_None ? WB_PG_OID_TIMETZ
                                                                                               : WB_PG_OID_TIME;
    if (PyDelta_Check(o))
        return WB_PG_OID_INTERVAL;
    if (PyList_Check(o) || PyTuple_Check(o)) {
        PyObject *f = PySequence_Fast(o, "");
        uint32_t r = f ? array_oid(f) : 0;
        Py_XDECREF(f);
        PyErr_Clear();
        return r;
    }
    if (PyObject_IsInstance(o, G.Decimal) == 1)
        return WB_PG_OID_NUMERIC;
    if (PyObject_IsInstance(o, G.UUID) == 1)
        return WB_PG_OID_UUID;
    PyErr_Clear();
    return 0;
}

/* one Python value -> one parameter (text format, bytes binary) with
 * param_oid's type */
static int encode_param(pbuf *p, PyObject *o)
{
    uint32_t oid = param_oid(o);
    if (o == Py_None)
        return put_null(p, 0);
    switch (oid) {
    case WB_PG_OID_BOOL:
        return put_bytes(p, o == Py_True ? "t" : "f", 1, 0, oid);
    case WB_PG_OID_INT4:
    case WB_PG_OID_INT8: {
        long long v = PyLong_AsLongLong(o);
        if (v == -1 && PyErr_Occurred())
            return -1;
        char t[24];
        return put_bytes(p, t, snprintf(t, sizeof t, "%lld", v), 0, oid);
    }
    case WB_PG_OID_FLOAT8: {
        double d = PyFloat_AS_DOUBLE(o);
        if (d != d)
            return put_bytes(p, "NaN", 3, 0, oid);
        if (d > 1.7976931348623157e308)
            return put_bytes(p, "Infinity", 8, 0, oid);
        if (d < -1.7976931348623157e308)
            return put_bytes(p, "-Infinity", 9, 0, oid);
        char *s = PyOS_double_to_string(d, 'r', 0, 0, NULL);
        if (!s)
            return -1;
        int rc = put_bytes(p, s, (Py_ssize_t)strlen(s), 0, oid);
        PyMem_Free(s);
        return rc;
    }
    case WB_PG_OID_BYTEA: {
        Py_buffer view;
        if (PyObject_GetBuffer(o, &view, PyBUF_CONTIG_RO))
            return -1;
        int rc = put_bytes(p, view.buf, view.len, 1, oid);
        PyBuffer_Release(&view);
        return rc;
    }
    case WB_PG_OID_TIMESTAMP: case WB_PG_OID_TIMESTAMPTZ: case WB_PG_OID_DATE: case WB_PG_OID_TIME:
    case WB_PG_OID_TIMETZ:
        return put_call(p, o, isoformat, oid);
    case WB_PG_OID_INTERVAL: {
        char t[96];
        int n = snprintf(t, sizeof t, "%d days %d seconds %d microseconds", PyDateTime_DELTA_GET_DAYS(o),
                         PyDateTime_DELTA_GET_SECONDS(o), PyDateTime_DELTA_GET_MICROSECONDS(o));
        return put_bytes(p, t, n, 0, oid);
    }
    case WB_PG_OID_NUMERIC: case WB_PG_OID_UUID:
        return put_call(p, o, PyObject_Str, oid);
    default:
        break;
    }
    if (PyUnicode_Check(o))
        return put_str_obj(p, o, 0);
    if (PyList_Check(o) || PyTuple_Check(o)) { /* oid: a typed array, or 0 */
        PyObject *f = PySequence_Fast(o, "");
        wb_buf lit = {0};
        int rc = f && array_literal(f, &lit) == 0 ? put_bytes(p, lit.p, (Py_ssize_t)lit.len, 0, oid) : -1;
        if (rc && !PyErr_Occurred())
            PyErr_NoMemory();
        Py_XDECREF(f);
        wb_buf_free(&lit);
        return rc;
    }
    if (PyDict_Check(o) || (G.Json && PyObject_TypeCheck(o, (PyTypeObject *)G.Json))) {
        /* JSON text, untyped so json and jsonb columns both take it */
        PyObject *s = PyDict_Check(o) ? PyObject_CallOneArg(G.json_dumps, o) : PyObject_CallMethod(o, "getquoted", NULL);
        if (!s)
            return -1;
        int rc = put_str_obj(p, s, 0);
        Py_DECREF(s);
        return rc;
    }
    /* never str() an arbitrary object into a parameter (psycopg2: "can't
     * adapt"): wirebuf.pg raises ProgrammingError */
    PyErr_Format(PyExc_TypeError, "can't adapt type '%.100s'", Py_TYPE(o)->tp_name);
    return -1;
}

static int encode_params(pbuf *p, PyObject *params)
{
    if (params == Py_None)
        return 0;
    PyObject *f = PySequence_Fast(params, "query parameters must be a sequence");
    if (!f)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(f);
    if (n > 65535) {
        Py_DECREF(f);
        PyErr_SetString(PyExc_ValueError, "more than 65535 query parameters");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (encode_param(p, PySequence_Fast_GET_ITEM(f, i))) {
            Py_DECREF(f);
            return -1;
        }
    }
    Py_DECREF(f);
    return 0;
}

static void pbuf_params(const pbuf *p, size_t first, size_t n, wb_pg_param *out)
{
    for (size_t i = 0; i < n; i++) {
        size_t k = first + i;
        out[i].val = p->len[k] < 0 ? NULL : (const void *)(p->arena.p ? p->arena.p + p->off[k] : (const uint8_t *)"");
        out[i].len = p->len[k];
        out[i].format = p->fmt[k];
        out[i].oid = p->oid[k];
    }
}

/* ---------------------------------------------------------------- */
/* value -> Python                                                    */

static void civil_from_days(int64_t z, int *y, int *m, int *d)
{
    z += 719468 + 10957; /* days since 1970-01-01 -> since 0000-03-01; PG epoch is 2000-01-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yy + (*m <= 2));
}

static PyObject *text_fallback(uint32_t oid, const wb_pg_value *v)
{
    wb_buf t = {0};
    if (wb_pg_value_to_text(oid, v, &t)) {
        wb_buf_free(&t);
        return PyErr_Format(PyExc_ValueError, "cannot convert a value of type OID %u", oid);
    }
    PyObject *r = PyUnicode_DecodeUTF8(t.p ? (const char *)t.p : "", (Py_ssize_t)t.len, "replace");
    wb_buf_free(&t);
    return r;
}

static PyObject *to_py(uint32_t oid, int fmt, const uint8_t *v, int32_t len);

static PyObject *from_text(uint32_t oid, const uint8_t *v, int32_t len)
{
    /* text format (unknown types, or the simple-query path) */
    PyObject *s = PyUnicode_DecodeUTF8((const char *)v, len, "replace");
    if (!s)
        return NULL;
    PyObject *r = NULL;
    switch (oid) {
    case WB_PG_OID_INT2: case WB_PG_OID_INT4: case WB_PG_OID_INT8: case WB_PG_OID_OID:
        r = PyLong_FromUnicodeObject(s, 10);
        break;
    case WB_PG_OID_FLOAT4: case WB_PG_OID_FLOAT8:
        r = PyFloat_FromString(s);
        break;
    case WB_PG_OID_NUMERIC:
        r = PyObject_CallOneArg(G.Decimal, s);
        break;
    case WB_PG_OID_BOOL:
        r = PyBool_FromLong(len > 0 && v[0] == 't');
        break;
    case WB_PG_OID_JSON: case WB_PG_OID_JSONB:
        r = PyObject_CallOneArg(G.json_loads, s);
        break;
    default:
        return s;
    }
    Py_DECREF(s);
    return r;
}

static PyObject *make_datetime(int64_t us, int tz)
{
    if (us == INT64_MAX || us == INT64_MIN) {
        PyObject *dt = PyObject_GetAttrString((PyObject *)PyDateTimeAPI->DateTimeType, us > 0 ? "max" : "min");
        if (dt && tz) {
            PyObject *r = PyObject_CallMethod(dt, "replace", NULL);
            Py_DECREF(dt);
            if (!r)
                return NULL;
            PyObject *kw = Py_BuildValue("{s:O}", "tzinfo", G.utc);
            PyObject *meth = PyObject_GetAttrString(r, "replace");
            PyObject *noargs = PyTuple_New(0);
            PyObject *r2 = meth && kw && noargs ? PyObject_Call(meth, noargs, kw) : NULL;
            Py_XDECREF(noargs);
            Py_XDECREF(meth);
            Py_XDECREF(kw);
            Py_DECREF(r);
            return r2;
        }
        return dt;
    }
    int64_t days = us / 86400000000LL, rem = us % 86400000000LL;
    if (rem < 0) {
        rem += 86400000000LL;
        days--;
    }
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 1 || y > 9999)
        return NULL; /* caller falls back to text */
    return PyDateTimeAPI->DateTime_FromDateAndTime(y, m, d, (int)(rem / 3600000000LL), (int)(rem / 60000000 % 60),
                                                   (int)(rem / 1000000 % 60), (int)(rem % 1000000),
                                                   tz ? G.utc : Py_None, PyDateTimeAPI->DateTimeType);
}

static PyObject *value_to_py(uint32_t oid, const wb_pg_value *xp);

static PyObject *to_py(uint32_t oid, int fmt, const uint8_t *v, int32_t len)
{
    if (len < 0)
        Py_RETURN_NONE;
    if (fmt == 0)
        return from_text(oid, v, len);
    wb_pg_value x;
    char err[160];
    if (wb_pg_decode(oid, v, len, &x, err, sizeof err)) {
        PyErr_SetString(PyExc_ValueError, err);
        return NULL;
    }
    return value_to_py(oid, &x);
}

/* a decoded binary value (wb_pg_decode, done without the GIL) -> Python */
static PyObject *value_to_py(uint32_t oid, const wb_pg_value *xp)
{
    wb_pg_value x = *xp;
    char err[160];
    switch (x.kind) {
    case WB_PG_K_NULL: Py_RETURN_NONE;
    case WB_PG_K_BOOL: return PyBool_FromLong((long)x.i);
    case WB_PG_K_INT: return PyLong_FromLongLong(x.i);
    case WB_PG_K_FLOAT: return PyFloat_FromDouble(x.f);
    case WB_PG_K_TEXT:
        if (oid == WB_PG_OID_JSON || oid == WB_PG_OID_JSONB) {
            PyObject *s = PyUnicode_DecodeUTF8((const char *)x.p, (Py_ssize_t)x.len, "strict");
            if (!s)
                return NULL;
            PyObject *r = PyObject_CallOneArg(G.json_loads, s);
            Py_DECREF(s);
            return r;
        }
        return PyUnicode_DecodeUTF8((const char *)x.p, (Py_ssize_t)x.len, "replace");
    case WB_PG_K_BYTES: return PyBytes_FromStringAndSize((const char *)x.p, (Py_ssize_t)x.len);
    case WB_PG_K_NUMERIC: {
        wb_buf t = {0};
        if (wb_pg_numeric_to_text(x.p, x.len, &t)) {
            wb_buf_free(&t);
            PyErr_SetString(PyExc_ValueError, "malformed numeric value");
            return NULL;
        }
        PyObject *s = PyUnicode_FromStringAndSize((const char *)t.p, (Py_ssize_t)t.len);
        wb_buf_free(&t);
        if (!s)
            return NULL;
        PyObject *r = PyObject_CallOneArg(G.Decimal, s);
        Py_DECREF(s);
        return r;
    }
    case WB_PG_K_DATE: {
        if (x.i == INT32_MAX || x.i == INT32_MIN)
            return PyObject_GetAttrString((PyObject *)PyDateTimeAPI->DateType, x.i > 0 ? "max" : "min");
        int y, m, d;
        civil_from_days(x.i, &y, &m, &d);
        if (y < 1 || y > 9999)
            return text_fallback(oid, &x);
        return PyDate_FromDate(y, m, d);
    }
    case WB_PG_K_TIME:
    case WB_PG_K_TIMETZ: {
        int64_t us = x.i;
        PyObject *tz = Py_None, *delta = NULL;
        if (x.kind == WB_PG_K_TIMETZ) {
            delta = PyDelta_FromDSU(0, -x.tz_offset, 0);
            tz = delta ? PyObject_CallOneArg(G.timezone, delta) : NULL;
            Py_XDECREF(delta);
            if (!tz)
                return NULL;
        }
        PyObject *r = us >= 86400000000LL ? text_fallback(oid, &x)
                                          : PyDateTimeAPI->Time_FromTime((int)(us / 3600000000LL),
                                                                         (int)(us / 60000000 % 60),
                                                                         (int)(us / 1000000 % 60),
                                                                         (int)(us % 1000000), tz,
                                                                         PyDateTimeAPI->TimeType);
        if (tz != Py_None)
            Py_DECREF(tz);
        return r;
    }
    case WB_PG_K_TIMESTAMP:
    case WB_PG_K_TIMESTAMPTZ: {
        PyObject *r = make_datetime(x.i, x.kind == WB_PG_K_TIMESTAMPTZ);
        if (!r && !PyErr_Occurred())
            return text_fallback(oid, &x);
        return r;
    }
    case WB_PG_K_INTERVAL: {
        /* exact in 64 bits: |months * 30| < 2^37, |µs / day| < 2^37 */
        long long days = (long long)x.days + (long long)x.months * 30 + x.i / 86400000000LL;
        long long rem = x.i % 86400000000LL;
        if (rem < 0) {
            rem += 86400000000LL;
            days--;
        }
        if (days > 999999999LL || days < -999999999LL) /* datetime.timedelta's range */
            return PyErr_Format(PyExc_OverflowError, "%lld days is outside datetime.timedelta's range", days);
        return PyDelta_FromDSU((int)days, (int)(rem / 1000000), (int)(rem % 1000000));
    }
    case WB_PG_K_UUID: {
        PyObject *b = PyBytes_FromStringAndSize((const char *)x.p, 16);
        if (!b)
            return NULL;
        PyObject *kw = Py_BuildValue("{s:O}", "bytes", b);
        Py_DECREF(b);
        PyObject *args = PyTuple_New(0);
        PyObject *r = kw && args ? PyObject_Call(G.UUID, args, kw) : NULL;
        Py_XDECREF(kw);
        Py_XDECREF(args);
        return r;
    }
    case WB_PG_K_ARRAY: {
        wb_pg_array a;
        if (wb_pg_array_open(x.p, x.len, &a, err, sizeof err)) {
            PyErr_SetString(PyExc_ValueError, err);
            return NULL;
        }
        PyObject *list = PyList_New(0);
        const uint8_t *ev;
        int32_t el;
        int r;
        while (list && (r = wb_pg_array_next(&a, &ev, &el)) == 1) {
            PyObject *item = to_py(a.elem_oid, 1, ev, el);
            if (!item || PyList_Append(list, item)) {
                Py_XDECREF(item);
                Py_CLEAR(list);
                break;
            }
            Py_DECREF(item);
        }
        return list;
    }
    default: return text_fallback(oid, &x);
    }
}

/* ---------------------------------------------------------------- */
/* the connection                                                     */

typedef struct {
    PyObject_HEAD
    wb_pg_conn *c;
    PyThread_type_lock lock;
    /* current result */
    int active;          /* rows may still come */
    uint16_t ncols;
    uint32_t *oids;
    int16_t *fmts;
    PyObject *description; /* tuple of (name, type_code, ...) or None */
    long long rowcount;
    PyObject *statusmessage;
    /* fetch batch: cell offsets into data; pre_rows > 0: a whole result
     * read ahead (simple-query path), served from pre_pos */
    size_t pre_rows, pre_pos;
    int decoded; /* cell_val holds the batch's binary cells */
    wb_buf data;
    int64_t *cell_off;
    int32_t *cell_len;
    wb_pg_value *cell_val; /* binary cells decoded without the GIL */
    size_t cells_cap;
    /* prepared statement cache: key -> capsule(wb_pg_stmt*) */
    PyObject *cache;
    unsigned long stmt_seq;
    PyObject *notices; /* list of str (psycopg2's connection.notices) */
    wb_buf notice_buf;  /* notices gathered without the GIL, NUL-separated */
    wb_pg_error last_err; /* the statement error read_header raised */
    int has_last_err;
    wb_pg_cancel_key cancel_key; /* copied at connect: cancel never touches c */
    int server_version;          /* from the startup ParameterStatus */
} Conn;

static PyTypeObject ConnType;

#define RELEASE Py_BEGIN_ALLOW_THREADS
#define ACQUIRE Py_END_ALLOW_THREADS

/* take the connection lock without holding the GIL while waiting */
static void conn_lock(Conn *self)
{
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK)) {
        RELEASE
        PyThread_acquire_lock(self->lock, WAIT_LOCK);
        ACQUIRE
    }
}
static void conn_unlock(Conn *self)
{
    /* GIL held: publish the notices gathered during the call */
    if (self->notice_buf.len) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        const char *p = (const char *)self->notice_buf.p, *end = p + self->notice_buf.len;
        while (p < end) {
            size_t n = strlen(p);
            PyObject *s = PyUnicode_DecodeUTF8(p, (Py_ssize_t)n, "replace");
            if (s) {
                PyList_Append(self->notices, s);
                Py_DECREF(s);
            }
            p += n + 1;
        }
        PyErr_Clear();
        PyErr_Restore(t, v, tb);
        wb_buf_clear(&self->notice_buf);
    }
    PyThread_release_lock(self->lock);
}

static int check_open(Conn *self)
{
    if (!self->c) {
        wb_pg_error e = {0};
        e.kind = WB_PG_ERR_USAGE;
        e.statement = -1;
        snprintf(e.message, sizeof e.message, "connection already closed");
        raise_err(&e);
        return -1;
    }
    return 0;
}

/* Called from inside the C client with the GIL released: keep the text in
 * a C buffer; conn_unlock moves it to self->notices. */
static void on_notice(void *ctx, const wb_pg_fields *f)
{
    Conn *self = ctx;
    const char *sev = f->severity ? f->severity : "NOTICE";
    const char *msg = f->message ? f->message : "";
    if (self->notice_buf.len < 1024 * 1024) { /* bounded */
        wb_buf_puts(&self->notice_buf, sev);
        wb_buf_puts(&self->notice_buf, ":  ");
        wb_buf_puts(&self->notice_buf, msg);
        wb_buf_append(&self->notice_buf, "\n", 2);
    }
}

static void stmt_capsule_free(PyObject *cap)
{
    wb_pg_stmt_free(PyCapsule_GetPointer(cap, "wirebuf.pg.stmt"));
}

static PyObject *Conn_new(PyTypeObject *type, PyObject *args, PyObject *kw)
{
    const char *conninfo = "";
    int read_buffer = 0;
    static char *kwlist[] = {"conninfo", "read_buffer", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|si", kwlist, &conninfo, &read_buffer))
        return NULL;
    Conn *self = (Conn *)type->tp_alloc(type, 0);
    if (!self)
        return NULL;
    self->lock = PyThread_allocate_lock();
    self->cache = PyDict_New();
    self->notices = PyList_New(0);
    self->description = Py_None;
    Py_INCREF(Py_None);
    self->statusmessage = Py_None;
    Py_INCREF(Py_None);
    self->rowcount = -1;
    if (!self->lock || !self->cache || !self->notices) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    wb_pg_error e;
    wb_pg_options o = {(size_t)(read_buffer > 0 ? read_buffer : 0), 0, 0};
    RELEASE
    self->c = wb_pg_connect(conninfo, &o, &e);
    ACQUIRE
    if (!self->c) {
        Py_DECREF(self);
        return raise_err(&e);
    }
    wb_pg_set_notice_handler(self->c, on_notice, self);
    wb_pg_get_cancel_key(self->c, &self->cancel_key);
    self->server_version = wb_pg_server_version(self->c);
    return (PyObject *)self;
}

static void free_result(Conn *self)
{
    PyMem_Free(self->oids);
    PyMem_Free(self->fmts);
    self->oids = NULL;
    self->fmts = NULL;
    self->ncols = 0;
    Py_CLEAR(self->description);
    self->description = Py_None;
    Py_INCREF(Py_None);
}

static void Conn_dealloc(Conn *self)
{
    if (self->c) {
        wb_pg_conn *c = self->c;
        self->c = NULL;
        RELEASE
        wb_pg_finish(c);
        ACQUIRE
    }
    free_result(self);
    Py_CLEAR(self->description);
    Py_CLEAR(self->statusmessage);
    Py_CLEAR(self->cache);
    Py_CLEAR(self->notices);
    wb_buf_free(&self->data);
    wb_buf_free(&self->notice_buf);
    PyMem_Free(self->cell_off);
    PyMem_Free(self->cell_len);
    PyMem_Free(self->cell_val);
    if (self->lock)
        PyThread_free_lock(self->lock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* Skip whatever is left of the current request (cursor re-executed early). */
static int finish_active(Conn *self)
{
    if (!self->active)
        return 0;
    wb_pg_error e;
    int rc;
    RELEASE
    rc = wb_pg_drain(self->c, NULL, &e);
    ACQUIRE
    self->active = 0;
    if (rc) {
        raise_err(&e);
        return -1;
    }
    return 0;
}

/* Every request starts here: the connection is open, the previous result
 * (rows still on the wire, rows read ahead, description) is discarded. */
static int begin_request(Conn *self)
{
    if (check_open(self) || finish_active(self))
        return -1;
    free_result(self);
    self->pre_rows = self->pre_pos = 0;
    return 0;
}

static int set_description(Conn *self, uint16_t n, const wb_pg_column *cols)
{
    free_result(self);
    self->oids = PyMem_Malloc(sizeof *self->oids * (n ? n : 1));
    self->fmts = PyMem_Malloc(sizeof *self->fmts * (n ? n : 1));
    PyObject *d = PyTuple_New(n);
    if (!self->oids || !self->fmts || !d) {
        Py_XDECREF(d);
        PyErr_NoMemory();
        return -1;
    }
    self->ncols = n;
    for (uint16_t i = 0; i < n; i++) {
        self->oids[i] = cols[i].type_oid;
        self->fmts[i] = cols[i].format;
        int32_t size = cols[i].typlen;
        PyObject *item = Py_BuildValue("(sIOiOOO)", cols[i].name, cols[i].type_oid, Py_None, (int)size, Py_None,
                                       Py_None, Py_None);
        if (!item) {
            Py_DECREF(d);
            return -1;
        }
        PyTuple_SET_ITEM(d, i, item);
    }
    Py_DECREF(self->description);
    self->description = d;
    return 0;
}

static int read_batch(Conn *self, size_t batch, size_t *nrows);

/* after sending: read events up to the first row set / command result */
static PyObject *read_header(Conn *self)
{
    for (;;) {
        wb_pg_event ev;
        wb_pg_error e;
        int r;
        RELEASE
        r = wb_pg_step(self->c, &ev, &e);
        ACQUIRE
        if (r < 0) {
            self->active = 0;
            return raise_err(&e);
        }
        if (r == 0) {
            self->active = 0;
            Py_RETURN_NONE;
        }
        switch (ev.type) {
        case WB_PG_EV_ROW_DESCRIPTION: {
            if (set_description(self, ev.ncols, ev.cols))
                return NULL;
            self->active = 1;
            self->rowcount = -1;
            /* read the first rows now: a query that fails at once (or is
             * cancelled) raises here, in execute, and small results need no
             * further round trip */
            size_t rows;
            if (read_batch(self, 1000, &rows))
                return NULL;
            self->pre_rows = rows;
            self->pre_pos = 0;
            Py_RETURN_NONE;
        }
        case WB_PG_EV_COMMAND_COMPLETE:
            self->rowcount = ev.rows;
            Py_XSETREF(self->statusmessage, PyUnicode_FromString(ev.tag));
            break;
        case WB_PG_EV_ERROR: {
            wb_pg_error saved = *ev.error;
            int rc;
            RELEASE
            rc = wb_pg_drain(self->c, NULL, &e);
            ACQUIRE
            self->active = 0;
            if (rc == 0) {
                self->last_err = saved;
                self->has_last_err = 1;
            }
            return raise_err(rc ? &e : &saved);
        }
        case WB_PG_EV_COPY_IN:
        case WB_PG_EV_COPY_OUT: {
            int rc;
            RELEASE
            rc = wb_pg_drain(self->c, NULL, &e);
            ACQUIRE
            self->active = 0;
            if (rc)
                return raise_err(&e);
            PyErr_SetString(PyExc_ValueError, "COPY statements need copy_from/copy_to/copy_expert");
            return NULL;
        }
        default:
            break;
        }
    }
}

/* 1 when sql holds more than one statement: a ';' followed by more than
 * blanks/';', outside quotes, dollar quotes and comments. Such text cannot be
 * prepared (and a failed Parse would abort the caller's transaction), so it
 * goes as a simple Query. */
static int multiple_statements(const char *q)
{
    int seen_semicolon = 0;
    for (const char *p = q; *p; p++) {
        char c = *p;
        if (seen_semicolon && c != ';' && c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return 1;
        if (c == ';') {
            seen_semicolon = 1;
        } else if (c == '\'' || c == '"') {
            for (p++; *p && *p != c; p++)
                ;
            if (!*p)
                return 0;
        } else if (c == '-' && p[1] == '-') {
            while (*p && *p != '\n')
                p++;
            if (!*p)
                return 0;
        } else if (c == '/' && p[1] == '*') {
            const char *e = strstr(p + 2, "*/");
            if (!e)
                return 0;
            p = e + 1;
        } else if (c == '$') {
            /* $tag$ ... $tag$ */
            const char *t = p + 1;
            while (*t == '_' || (*t >= 'a' && *t <= 'z') || (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9'))
                t++;
            if (*t != '$' || (t > p + 1 && p[1] >= '0' && p[1] <= '9'))
                continue; /* $1 parameter or a lone $ */
            size_t taglen = (size_t)(t - p) + 1;
            const char *e = t + 1;
            for (;;) {
                e = strchr(e, '$');
                if (!e)
                    return 0;
                if (strncmp(e, p, taglen) == 0)
                    break;
                e++;
            }
            p = e + taglen - 1;
        }
    }
    return 0;
}

static int ensure_cells(Conn *self, size_t n);

/* Simple Query with several statements: read every result, keep the last
 * result set in the batch buffer (DB-API shows the last one). */
static PyObject *read_all_simple(Conn *self)
{
    wb_pg_error e, first;
    first.kind = WB_PG_ERR_NONE;
    int rc = 0, nomem = 0;
    size_t rows = 0;
    for (;;) {
        wb_pg_event ev;
        int r;
        RELEASE
        r = wb_pg_step(self->c, &ev, &e);
        ACQUIRE
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 0)
            break;
        if (ev.type == WB_PG_EV_ROW_DESCRIPTION) {
            if (set_description(self, ev.ncols, ev.cols))
                return NULL;
            rows = 0;
            wb_buf_clear(&self->data);
            self->rowcount = -1;
        } else if (ev.type == WB_PG_EV_ROW && ev.ncols == self->ncols) {
            if (ensure_cells(self, (rows + 1) * (self->ncols ? self->ncols : 1))) {
                nomem = 1;
                continue;
            }
            for (size_t i = 0; i < self->ncols; i++) {
                self->cell_len[rows * self->ncols + i] = ev.lens[i];
                self->cell_off[rows * self->ncols + i] = (int64_t)self->data.len;
                if (ev.lens[i] > 0 && wb_buf_append_fast(&self->data, ev.vals[i], (size_t)ev.lens[i]))
                    nomem = 1;
            }
            rows++;
        } else if (ev.type == WB_PG_EV_COMMAND_COMPLETE) {
            self->rowcount = ev.rows;
            Py_XSETREF(self->statusmessage, PyUnicode_FromString(ev.tag));
            if (self->ncols == 0)
                free_result(self);
        } else if (ev.type == WB_PG_EV_ERROR && first.kind == WB_PG_ERR_NONE) {
            first = *ev.error;
        }
    }
    self->active = 0;
    if (rc)
        return raise_err(&e);
    if (first.kind)
        return raise_err(&first);
    if (nomem)
        return PyErr_NoMemory();
    self->pre_rows = rows;
    self->pre_pos = 0;
    self->decoded = 0; /* simple-query results are text */
    Py_RETURN_NONE;
}

static PyObject *stmt_for(Conn *self, PyObject *sql, const pbuf *p)
{
    /* key: (sql, oids) */
    PyObject *oids = PyBytes_FromStringAndSize((const char *)p->oid, (Py_ssize_t)(p->n * sizeof(uint32_t)));
    if (!oids)
        return NULL;
    PyObject *key = PyTuple_Pack(2, sql, oids);
    Py_DECREF(oids);
    if (!key)
        return NULL;
    PyObject *cap = PyDict_GetItemWithError(self->cache, key);
    if (cap) {
        Py_INCREF(cap);
        Py_DECREF(key);
        return cap;
    }
    if (PyErr_Occurred()) {
        Py_DECREF(key);
        return NULL;
    }
    char name[32] = "";
    int cache = PyDict_GET_SIZE(self->cache) < 256;
    if (cache)
        snprintf(name, sizeof name, "wbpy_%lu", ++self->stmt_seq);
    const char *text = PyUnicode_AsUTF8(sql);
    if (!text) {
        Py_DECREF(key);
        return NULL;
    }
    if (p->n == 0 && multiple_statements(text)) {
        Py_DECREF(key);
        Py_RETURN_NONE; /* the caller runs it as a simple query */
    }
    wb_pg_error e;
    wb_pg_stmt *st;
    RELEASE
    st = wb_pg_prepare(self->c, name, text, (uint16_t)p->n, p->oid, &e);
    ACQUIRE
    if (!st) {
        Py_DECREF(key);
        return raise_err(&e);
    }
    cap = PyCapsule_New(st, "wirebuf.pg.stmt", stmt_capsule_free);
    if (!cap) {
        wb_pg_stmt_free(st);
        Py_DECREF(key);
        return NULL;
    }
    if (cache && PyDict_SetItem(self->cache, key, cap)) {
        Py_DECREF(key);
        Py_DECREF(cap);
        return NULL;
    }
    Py_DECREF(key);
    return cap;
}

/* A cached statement the server no longer matches: its result type changed
 * (DDL since it was prepared: 0A000 "cached plan must not change result
 * type") or it is gone (26000, e.g. after DISCARD ALL). */
static int stale_statement(const wb_pg_error *e)
{
    return (strcmp(e->sqlstate, "0A000") == 0 && strstr(e->message, "cached plan must not change result type")) ||
           strcmp(e->sqlstate, "26000") == 0;
}

/* Drop a stale statement from the cache; outside a transaction block also
 * from the server (DEALLOCATE; a failure there changes nothing). */
static void cache_forget(Conn *self, PyObject *sql, const pbuf *p)
{
    PyObject *oids = PyBytes_FromStringAndSize((const char *)p->oid, (Py_ssize_t)(p->n * sizeof(uint32_t)));
    PyObject *key = oids ? PyTuple_Pack(2, sql, oids) : NULL;
    PyObject *cap = key ? PyDict_GetItemWithError(self->cache, key) : NULL;
    char q[64] = "";
    if (cap && self->c && wb_pg_transaction_status(self->c) == 'I') {
        wb_pg_stmt *st = PyCapsule_GetPointer(cap, "wirebuf.pg.stmt");
        if (st && st->name && st->name[0])
            snprintf(q, sizeof q, "DEALLOCATE \"%.40s\"", st->name);
    }
    if (key && PyDict_DelItem(self->cache, key) != 0)
        PyErr_Clear(); /* not cached (or already gone) */
    PyErr_Clear();
    Py_XDECREF(key);
    Py_XDECREF(oids);
    if (q[0]) {
        wb_pg_error e;
        RELEASE
        wb_pg_command(self->c, q, &e);
        ACQUIRE
    }
}

/* One attempt: prepare (or take from the cache), bind, execute, read the
 * first rows. NULL with the exception set. */
static PyObject *execute_once(Conn *self, PyObject *sql, pbuf *p)
{
    self->has_last_err = 0;
    PyObject *cap = stmt_for(self, sql, p);
    if (!cap)
        return NULL;
    wb_pg_error e;
    int rc;
    if (cap == Py_None) {
        /* several statements: simple query (text results) */
        Py_DECREF(cap);
        if (p->n) {
            PyErr_SetString(PyExc_ValueError, "parameters cannot be used with several statements in one query");
            return NULL;
        }
        const char *text = PyUnicode_AsUTF8(sql);
        if (!text)
            return NULL;
        RELEASE
        rc = wb_pg_send_query(self->c, text, &e);
        ACQUIRE
        if (rc)
            return raise_err(&e);
        return read_all_simple(self);
    }
    wb_pg_stmt *st = PyCapsule_GetPointer(cap, "wirebuf.pg.stmt");
    wb_pg_param small[32], *pp = p->n <= 32 ? small : PyMem_Malloc(sizeof *pp * p->n);
    if (!pp) {
        Py_DECREF(cap);
        return PyErr_NoMemory();
    }
    pbuf_params(p, 0, p->n, pp);
    /* a bytes value bound to a parameter the server typed otherwise goes as text hex */
    for (size_t i = 0; i < p->n; i++)
        if (pp[i].format == 1 && i < st->nparams && st->param_oids[i] != WB_PG_OID_BYTEA)
            pp[i].format = 0;
    RELEASE
    rc = wb_pg_send_prepared(self->c, st, (int)p->n, pp, 0, &e);
    ACQUIRE
    if (pp != small)
        PyMem_Free(pp);
    Py_DECREF(cap); /* an uncached (unnamed) statement is freed here */
    if (rc)
        return raise_err(&e);
    self->active = 1;
    return read_header(self);
}

/* execute(sql: str, params: sequence | None) -> None. sql uses $n.
 * A cached statement that went stale (stale_statement) is dropped from the
 * cache and, when no transaction work can be lost (the failed statement
 * ran in its own implicit transaction: status 'I' afterwards), re-prepared
 * and run once more, as asyncpg does. Inside a transaction block the error
 * names the cause; wirebuf.pg retries when the statement was the first of
 * its transaction. */
static PyObject *Conn_execute(Conn *self, PyObject *args)
{
    PyObject *sql, *params = Py_None;
    if (!PyArg_ParseTuple(args, "U|O", &sql, &params))
        return NULL;
    conn_lock(self);
    PyObject *result = NULL;
    pbuf p = {0};
    if (begin_request(self))
        goto out;
    self->rowcount = -1;
    Py_XSETREF(self->statusmessage, Py_NewRef(Py_None));
    if (encode_params(&p, params))
        goto out;
    for (int attempt = 0;; attempt++) {
        result = execute_once(self, sql, &p);
        if (result || !self->has_last_err || !stale_statement(&self->last_err))
            break;
        cache_forget(self, sql, &p);
        if (attempt == 0 && self->c && wb_pg_transaction_status(self->c) == 'I') {
            PyErr_Clear();
            continue;
        }
        wb_pg_error e2 = self->last_err;
        char msg[sizeof e2.message];
        snprintf(msg, sizeof msg,
                 "%.700s (the statement was prepared before the table or type it uses changed, e.g. by ALTER "
                 "TABLE; it is re-prepared on the next execute, but this transaction is aborted: roll back and "
                 "run it again)",
                 e2.message);
        memcpy(e2.message, msg, sizeof msg);
        PyErr_Clear();
        raise_err(&e2);
        break;
    }
out:
    pbuf_free(&p);
    conn_unlock(self);
    return result;
}

static int ensure_cells(Conn *self, size_t n)
{
    if (n <= self->cells_cap)
        return 0;
    size_t cap = self->cells_cap ? self->cells_cap : 1024;
    while (cap < n)
        cap *= 2;
    int failed = 0;
    self->cell_off = grow_array(self->cell_off, cap, sizeof *self->cell_off, &failed);
    self->cell_len = grow_array(self->cell_len, cap, sizeof *self->cell_len, &failed);
    self->cell_val = grow_array(self->cell_val, cap, sizeof *self->cell_val, &failed);
    if (failed)
        return -1;
    self->cells_cap = cap;
    return 0;
}

/* Read up to `batch` rows of the current result into the batch buffer with
 * the GIL released (*rows = how many). The end of the request clears
 * self->active; a statement error (even after some rows) is raised after the
 * request is drained: returns -1 with the exception set, else 0. */
static int read_batch(Conn *self, size_t batch, size_t *nrows)
{
    size_t rows = 0, ncols = self->ncols;
    int rc = 0, nomem = 0, ended = 0;
    wb_pg_error e, stmt_err;
    stmt_err.kind = WB_PG_ERR_NONE;
    *nrows = 0;
    if (ensure_cells(self, (batch ? batch : 1) * (ncols ? ncols : 1))) {
        PyErr_NoMemory();
        return -1;
    }
    wb_buf_clear(&self->data);
    long long tagrows = -1;
    char tag[64] = "";
    char decode_err[160] = "";
    RELEASE
    while (rows < batch) {
        wb_pg_event ev;
        int r = wb_pg_step(self->c, &ev, &e);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r == 0) {
            ended = 1;
            break;
        }
        if (ev.type == WB_PG_EV_ROW) {
            if (ev.ncols != ncols)
                continue;
            int64_t *co = self->cell_off + rows * ncols;
            int32_t *cl = self->cell_len + rows * ncols;
            for (size_t i = 0; i < ncols; i++) {
                cl[i] = ev.lens[i];
                co[i] = (int64_t)self->data.len;
                if (ev.lens[i] > 0 && wb_buf_append_fast(&self->data, ev.vals[i], (size_t)ev.lens[i]))
                    nomem = 1;
            }
            rows++;
        } else if (ev.type == WB_PG_EV_COMMAND_COMPLETE) {
            tagrows = ev.rows;
            snprintf(tag, sizeof tag, "%s", ev.tag);
        } else if (ev.type == WB_PG_EV_ERROR && stmt_err.kind == WB_PG_ERR_NONE) {
            stmt_err = *ev.error;
        }
    }
    if (rc == 0 && stmt_err.kind && !ended)
        rc = wb_pg_drain(self->c, NULL, &e) ? -1 : 0, ended = 1;
    /* still without the GIL: decode the binary cells into C values (the
     * data buffer no longer moves) */
    for (size_t r = 0; rc == 0 && !nomem && r < rows; r++) {
        for (size_t i = 0; i < ncols; i++) {
            size_t k = r * ncols + i;
            if (self->fmts[i] != 1 || self->cell_len[k] < 0) {
                self->cell_val[k].kind = WB_PG_K_NULL;
                continue;
            }
            if (wb_pg_decode(self->oids[i], self->data.p + self->cell_off[k], self->cell_len[k], &self->cell_val[k],
                             decode_err, sizeof decode_err)) {
                nomem = 2; /* reported below */
                break;
            }
        }
    }
    ACQUIRE
    if (ended || rc)
        self->active = 0;
    if (rc) {
        raise_err(&e);
        return -1;
    }
    if (tag[0]) {
        self->rowcount = tagrows;
        Py_XSETREF(self->statusmessage, PyUnicode_FromString(tag));
    }
    if (stmt_err.kind) {
        raise_err(&stmt_err);
        return -1;
    }
    if (nomem == 2) {
        PyErr_Format(PyExc_ValueError, "bad value from the server: %s", decode_err);
        return -1;
    }
    if (nomem) {
        PyErr_NoMemory();
        return -1;
    }
    self->decoded = 1;
    *nrows = rows;
    return 0;
}

/* batch rows [first, first + count) -> tuples appended to out */
/* A value Python cannot hold (an interval beyond timedelta's range, ...):
 * DataError naming the column and the value, as PostgreSQL prints it. */
static void convert_error(Conn *self, size_t k, size_t col)
{
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyObject *why = v ? PyObject_Str(v) : NULL;
    const char *whys = why ? PyUnicode_AsUTF8(why) : NULL;
    if (!whys)
        PyErr_Clear();
    const char *name = "?";
    if (PyTuple_Check(self->description) && (Py_ssize_t)col < PyTuple_GET_SIZE(self->description)) {
        PyObject *d = PyTuple_GET_ITEM(self->description, (Py_ssize_t)col);
        const char *n = PyTuple_Check(d) && PyTuple_GET_SIZE(d) > 0 ? PyUnicode_AsUTF8(PyTuple_GET_ITEM(d, 0)) : NULL;
        if (n)
            name = n;
        else
            PyErr_Clear();
    }
    wb_buf text = {0};
    int32_t len = self->cell_len[k];
    if (self->fmts[col] == 1 && self->decoded) {
        if (wb_pg_value_to_text(self->oids[col], &self->cell_val[k], &text))
            wb_buf_clear(&text);
    } else if (len > 0 && self->data.p) {
        wb_buf_append(&text, self->data.p + self->cell_off[k], (size_t)len);
    }
    wb_pg_error e = {0};
    e.kind = WB_PG_ERR_SERVER; /* reported like the server's own data errors */
    e.statement = -1;
    snprintf(e.sqlstate, sizeof e.sqlstate, "22008"); /* datetime_field_overflow / out of range */
    snprintf(e.severity, sizeof e.severity, "ERROR");
    snprintf(e.message, sizeof e.message, "column \"%.100s\" (type OID %u): value \"%.*s\" cannot be represented in Python: %.300s",
             name, self->oids[col], (int)(text.len > 200 ? 200 : text.len), text.p ? (const char *)text.p : "",
             whys ? whys : "out of range");
    snprintf(e.column, sizeof e.column, "%.63s", name);
    wb_buf_free(&text);
    Py_XDECREF(why);
    Py_XDECREF(t);
    Py_XDECREF(v);
    Py_XDECREF(tb);
    raise_err(&e);
}

static int build_rows(Conn *self, size_t first, size_t count, PyObject *out)
{
    size_t ncols = self->ncols;
    for (size_t r = first; r < first + count; r++) {
        PyObject *t = PyTuple_New((Py_ssize_t)ncols);
        if (!t)
            return -1;
        for (size_t i = 0; i < ncols; i++) {
            size_t k = r * ncols + i;
            int32_t len = self->cell_len[k];
            PyObject *o;
            if (len >= 0 && self->fmts[i] == 1 && self->decoded) {
                o = value_to_py(self->oids[i], &self->cell_val[k]);
            } else {
                const uint8_t *v = len < 0 ? NULL : self->data.p ? self->data.p + self->cell_off[k]
                                                                 : (const uint8_t *)"";
                o = to_py(self->oids[i], self->fmts[i], v, len);
            }
            if (!o) {
                Py_DECREF(t);
                if (PyErr_ExceptionMatches(PyExc_OverflowError) || PyErr_ExceptionMatches(PyExc_ValueError))
                    convert_error(self, k, i);
                return -1;
            }
            PyTuple_SET_ITEM(t, (Py_ssize_t)i, o);
        }
        if (PyList_Append(out, t)) {
            Py_DECREF(t);
            return -1;
        }
        Py_DECREF(t);
    }
    return 0;
}

/* fetch(n) -> list of up to n tuples (n < 0: all); [] at the end */
static PyObject *Conn_fetch(Conn *self, PyObject *args)
{
    Py_ssize_t want = -1;
    if (!PyArg_ParseTuple(args, "|n", &want))
        return NULL;
    conn_lock(self);
    PyObject *out = PyList_New(0);
    if (!out || check_open(self)) {
        Py_CLEAR(out);
        goto done;
    }
    if (self->pre_pos < self->pre_rows) { /* a result read ahead */
        size_t n = self->pre_rows - self->pre_pos;
        if (want >= 0 && (size_t)want < n)
            n = (size_t)want;
        self->pre_pos += n;
        if (build_rows(self, self->pre_pos - n, n, out)) {
            Py_CLEAR(out);
            goto done;
        }
    }
    while (self->active && (want < 0 || PyList_GET_SIZE(out) < want)) {
        /* 1. without the GIL: up to a batch of rows into self->data */
        size_t batch = 2000;
        if (want >= 0 && (size_t)(want - PyList_GET_SIZE(out)) < batch)
            batch = (size_t)(want - PyList_GET_SIZE(out));
        size_t rows = 0;
        if (read_batch(self, batch, &rows) < 0) {
            Py_CLEAR(out);
            goto done;
        }
        /* 2. with the GIL: tuples */
        if (build_rows(self, 0, rows, out)) {
            Py_CLEAR(out);
            goto done;
        }
        if (rows == 0 && !self->active)
            break;
    }
done:
    conn_unlock(self);
    return out;
}

/* executemany(sql, rows) -> rows affected. One Parse (types from a scan of
 * every row: the widest integer type a column needs), then Bind/Execute per
 * row sent in chunks of 1,000 rows as they are encoded (the server works
 * on chunk k while chunk k+1 is encoded), one Sync. */
#define MANY_CHUNK 1000

/* The parameter type of a column of values: the widest any row needs, as the
 * server would infer for literals (int4 < int8 < numeric; int with float is
 * float8, unless an int needs numeric; float with Decimal is numeric). Two
 * unrelated types (a date and an int, a str and anything): 0, the server
 * infers the type from the statement, every value goes as text. */
static uint32_t widest_type(uint32_t a, uint32_t b)
{
    if (a == b)
        return a;
    int ra = a == WB_PG_OID_INT4 ? 1 : a == WB_PG_OID_INT8 ? 2 : a == WB_PG_OID_FLOAT8 ? 3 : a == WB_PG_OID_NUMERIC ? 4 : 0;
    int rb = b == WB_PG_OID_INT4 ? 1 : b == WB_PG_OID_INT8 ? 2 : b == WB_PG_OID_FLOAT8 ? 3 : b == WB_PG_OID_NUMERIC ? 4 : 0;
    if (!ra || !rb)
        return 0;
    return ra > rb ? a : b;
}

static PyObject *Conn_executemany(Conn *self, PyObject *args)
{
    PyObject *sql, *seq;
    if (!PyArg_ParseTuple(args, "UO", &sql, &seq))
        return NULL;
    PyObject *rows = PySequence_Fast(seq, "executemany needs a sequence of parameter sequences");
    if (!rows)
        return NULL;
    const char *text = PyUnicode_AsUTF8(sql);
    if (!text) {
        Py_DECREF(rows);
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(rows);
    PyObject **fast = PyMem_Calloc((size_t)(n ? n : 1), sizeof *fast);
    uint32_t *types = NULL;
    char *seen = NULL; /* per column: a non-NULL value was typed */
    Py_ssize_t nparams = -1;
    conn_lock(self);
    PyObject *result = NULL;
    pbuf p = {0};
    wb_pg_error e;
    int rc = 0, sent_parse = 0;
    if (!fast) {
        PyErr_NoMemory();
        goto out;
    }
    if (begin_request(self))
        goto out;
    /* 1. shapes and types */
    for (Py_ssize_t i = 0; i < n; i++) {
        fast[i] = PySequence_Fast(PySequence_Fast_GET_ITEM(rows, i), "executemany: each row must be a sequence");
        if (!fast[i])
            goto out;
        Py_ssize_t m = PySequence_Fast_GET_SIZE(fast[i]);
        if (i == 0) {
            nparams = m;
            if (m > 65535) {
                PyErr_SetString(PyExc_ValueError, "more than 65535 query parameters");
                goto out;
            }
            types = PyMem_Calloc((size_t)(m ? m : 1), sizeof *types);
            seen = PyMem_Calloc((size_t)(m ? m : 1), 1);
            if (!types || !seen) {
                PyErr_NoMemory();
                goto out;
            }
        } else if (m != nparams) {
            PyErr_Format(PyExc_ValueError, "executemany: row %zd has %zd parameters, row 0 has %zd", i, m, nparams);
            goto out;
        }
        for (Py_ssize_t k = 0; k < m; k++) {
            PyObject *v = PySequence_Fast_GET_ITEM(fast[i], k);
            if (v == Py_None)
                continue; /* NULL fits every type */
            uint32_t o = param_oid(v);
            if (PyErr_Occurred())
                goto out;
            /* refuse what encode_param cannot adapt now, before anything is
             * sent (the caller's transaction stays as it was) */
            if (o == 0 && !PyUnicode_Check(v) && !PyList_Check(v) && !PyTuple_Check(v) && !PyDict_Check(v) &&
                !(G.Json && PyObject_TypeCheck(v, (PyTypeObject *)G.Json))) {
                PyErr_Format(PyExc_TypeError, "can't adapt type '%.100s' (row %zd, parameter %zd)",
                             Py_TYPE(v)->tp_name, i, k + 1);
                goto out;
            }
            types[k] = i == 0 || !seen[k] ? o : widest_type(types[k], o);
            seen[k] = 1;
        }
    }
    if (n == 0) {
        self->rowcount = 0;
        result = PyLong_FromLong(0);
        goto out;
    }
    /* 2. Parse, then chunks of Bind/Execute */
    RELEASE
    rc = wb_pg_pipeline_parse(self->c, "", text, (uint16_t)nparams, types, &e);
    ACQUIRE
    if (rc) {
        raise_err(&e);
        goto out;
    }
    sent_parse = 1;
    wb_pg_param small[32], *pp = nparams <= 32 ? small : PyMem_Malloc(sizeof *pp * (size_t)nparams);
    if (!pp) {
        PyErr_NoMemory();
        goto abort;
    }
    for (Py_ssize_t start = 0; start < n && rc == 0; start += MANY_CHUNK) {
        Py_ssize_t end = start + MANY_CHUNK < n ? start + MANY_CHUNK : n;
        p.n = 0;
        wb_buf_clear(&p.arena);
        for (Py_ssize_t i = start; i < end; i++)
            for (Py_ssize_t k = 0; k < nparams; k++)
                if (encode_param(&p, PySequence_Fast_GET_ITEM(fast[i], k))) {
                    if (pp != small)
                        PyMem_Free(pp);
                    goto abort;
                }
        for (size_t i = 0; i < p.n; i++) /* bytes bound to a non-bytea parameter: never binary */
            if (p.fmt[i] == 1 && types[i % (size_t)nparams] != WB_PG_OID_BYTEA)
                p.fmt[i] = 0;
        RELEASE
        for (Py_ssize_t i = 0; i < end - start && rc == 0; i++) {
            pbuf_params(&p, (size_t)(i * nparams), (size_t)nparams, pp);
            rc = wb_pg_pipeline_exec(self->c, "", (int)nparams, pp, 0, NULL, &e);
        }
        ACQUIRE
    }
    if (pp != small)
        PyMem_Free(pp);
    if (rc) { /* the connection failed */
        raise_err(&e);
        goto out;
    }
    /* 3. Sync and the answers: total rows, the first error (its row) */
    int64_t affected = 0;
    wb_pg_error first;
    first.kind = WB_PG_ERR_NONE;
    RELEASE
    rc = wb_pg_pipeline_sync(self->c, &e);
    for (;;) {
        wb_pg_event ev;
        int r = rc ? -1 : wb_pg_step(self->c, &ev, &e);
        if (r <= 0) {
            rc = r;
            break;
        }
        if (ev.type == WB_PG_EV_COMMAND_COMPLETE && ev.rows > 0)
            affected += ev.rows;
        else if (ev.type == WB_PG_EV_ERROR && first.kind == WB_PG_ERR_NONE)
            first = *ev.error;
    }
    ACQUIRE
    if (rc) {
        raise_err(&e);
        goto out;
    }
    if (first.kind) {
        raise_err(&first);
        goto out;
    }
    self->rowcount = affected;
    result = PyLong_FromLongLong(affected);
    goto out;
abort:
    /* a row could not be encoded: make the server skip and roll back what
     * was sent (a statement that fails before the Sync), keep the exception */
    if (sent_parse && wb_pg_status(self->c) == WB_PG_OK) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        RELEASE
        if (wb_pg_pipeline_parse(self->c, "", "wirebuf executemany aborted by a bad parameter", 0, NULL, &e) == 0 &&
            wb_pg_pipeline_sync(self->c, &e) == 0)
            wb_pg_drain(self->c, NULL, &e);
        ACQUIRE
        PyErr_Restore(t, v, tb);
    }
out:
    if (fast) {
        for (Py_ssize_t i = 0; i < n; i++)
            Py_XDECREF(fast[i]);
        PyMem_Free(fast);
    }
    PyMem_Free(types);
    PyMem_Free(seen);
    pbuf_free(&p);
    Py_DECREF(rows);
    conn_unlock(self);
    return result;
}

/* A failed wb_pg_copy_end: rows -1 means CopyDone went out whole and the
 * connection failed before the answer, so the rows may be committed: say so. */
static PyObject *raise_copy_end(const wb_pg_error *e, int64_t rows)
{
    if (rows >= 0)
        return raise_err(e);
    wb_pg_error u = *e;
    char msg[sizeof u.message];
    snprintf(msg, sizeof msg,
             "outcome unknown: the connection was lost after all COPY data was sent (%.700s); the rows may have "
             "been committed: check the table",
             e->message);
    memcpy(u.message, msg, sizeof msg);
    return raise_err(&u);
}

/* The answer to a COPY FROM STDIN after wb_pg_copy_end (rc, *e, rows): the
 * row count, also kept as rowcount, or NULL with the error raised. */
static PyObject *copy_end_result(Conn *self, int rc, const wb_pg_error *e, int64_t rows)
{
    if (rc)
        return raise_copy_end(e, rows);
    self->rowcount = rows;
    return PyLong_FromLongLong(rows);
}

/* Begin a request and start a COPY (FROM STDIN when in, else TO STDOUT):
 * 0, or -1 with the exception set. */
static int copy_start(Conn *self, PyObject *sql, int in)
{
    if (begin_request(self))
        return -1;
    const char *text = PyUnicode_AsUTF8(sql);
    if (!text)
        return -1;
    wb_pg_error e;
    int rc;
    RELEASE
    rc = in ? wb_pg_copy_in_start(self->c, text, &e) : wb_pg_copy_out_start(self->c, text, &e);
    ACQUIRE
    if (rc) {
        raise_err(&e);
        return -1;
    }
    return 0;
}

/* A Python exception stopped a COPY FROM STDIN: send CopyFail (the server
 * rolls the COPY back) and keep the caller's exception. */
static void copy_abort(Conn *self, const char *reason)
{
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    if (wb_pg_status(self->c) == WB_PG_OK) {
        wb_pg_error e;
        RELEASE
        wb_pg_copy_end(self->c, reason, NULL, &e);
        ACQUIRE
    }
    PyErr_Restore(t, v, tb);
}

/* copy_in(sql, chunks_iterable) -> rows. Each chunk: bytes-like or str. */
static PyObject *Conn_copy_in(Conn *self, PyObject *args)
{
    PyObject *sql, *chunks;
    if (!PyArg_ParseTuple(args, "UO", &sql, &chunks))
        return NULL;
    PyObject *it = PyObject_GetIter(chunks);
    if (!it)
        return NULL;
    conn_lock(self);
    PyObject *result = NULL;
    wb_pg_error e;
    int rc = 0;
    if (copy_start(self, sql, 1))
        goto out;
    PyObject *item;
    while ((item = PyIter_Next(it)) != NULL) {
        Py_buffer view;
        int ok;
        if (PyUnicode_Check(item)) {
            Py_ssize_t n;
            const char *u = PyUnicode_AsUTF8AndSize(item, &n);
            ok = u != NULL;
            if (ok) {
                RELEASE
                rc = wb_pg_copy_put(self->c, u, (size_t)n, &e);
                ACQUIRE
            }
        } else {
            ok = PyObject_GetBuffer(item, &view, PyBUF_CONTIG_RO) == 0;
            if (ok) {
                RELEASE
                rc = wb_pg_copy_put(self->c, view.buf, (size_t)view.len, &e);
                ACQUIRE
                PyBuffer_Release(&view);
            }
        }
        Py_DECREF(item);
        if (!ok || rc)
            break;
    }
    if (PyErr_Occurred()) { /* the caller's iterator or a chunk failed */
        copy_abort(self, "the client's data source failed");
        goto out;
    }
    if (rc) {
        raise_err(&e);
        goto out;
    }
    int64_t rows = 0;
    RELEASE
    rc = wb_pg_copy_end(self->c, NULL, &rows, &e);
    ACQUIRE
    result = copy_end_result(self, rc, &e, rows);
out:
    Py_DECREF(it);
    conn_unlock(self);
    return result;
}

/* copy_out(sql, write) -> rows; write(bytes) per chunk of up to ~256 KiB */
static PyObject *Conn_copy_out(Conn *self, PyObject *args)
{
    PyObject *sql, *write;
    if (!PyArg_ParseTuple(args, "UO", &sql, &write))
        return NULL;
    conn_lock(self);
    PyObject *result = NULL;
    wb_pg_error e;
    wb_buf acc = {0};
    if (copy_start(self, sql, 0))
        goto out;
    int64_t rows = -1;
    for (;;) {
        int r = 1, nomem = 0;
        wb_buf_clear(&acc);
        RELEASE
        while (acc.len < 256 * 1024) {
            const uint8_t *d;
            size_t len;
            r = wb_pg_copy_get(self->c, &d, &len, &rows, &e);
            if (r != 1)
                break;
            nomem |= wb_buf_append_fast(&acc, d, len);
        }
        ACQUIRE
        if (nomem) {
            PyErr_NoMemory();
            goto out;
        }
        if (acc.len) {
            PyObject *res = PyObject_CallFunction(write, "y#", (const char *)acc.p, (Py_ssize_t)acc.len);
            if (!res) {
                if (r == 1) { /* stop reading: skip the rest */
                    PyObject *t, *v, *tb;
                    PyErr_Fetch(&t, &v, &tb);
                    RELEASE
                    wb_pg_drain(self->c, NULL, &e);
                    ACQUIRE
                    PyErr_Restore(t, v, tb);
                }
                goto out;
            }
            Py_DECREF(res);
        }
        if (r < 0) {
            raise_err(&e);
            goto out;
        }
        if (r == 0)
            break;
    }
    self->rowcount = rows;
    result = PyLong_FromLongLong(rows);
out:
    wb_buf_free(&acc);
    conn_unlock(self);
    return result;
}

/* binary COPY encoding of one Python value for column type oid */
static int copy_value(wb_buf *out, uint32_t oid, PyObject *o)
{
    uint8_t b[16];
    if (o == Py_None)
        return wb_buf_append(out, "\377\377\377\377", 4);
    size_t lenpos = out->len;
    if (wb_buf_append(out, "\0\0\0\0", 4))
        return -1;
    int rc = 0;
    switch (oid) {
    case WB_PG_OID_BOOL:
    {
        int t = PyObject_IsTrue(o);
        if (t < 0)
            return -1;
        rc = wb_buf_putc(out, t ? 1 : 0);
        break;
    }
    case WB_PG_OID_INT2: case WB_PG_OID_INT4: case WB_PG_OID_INT8: {
        long long v = PyLong_AsLongLong(o);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (oid == WB_PG_OID_INT2) {
            if (v < INT16_MIN || v > INT16_MAX)
                goto range;
            wb_pg_put_i16(b, (int16_t)v);
            rc = wb_buf_append(out, b, 2);
        } else if (oid == WB_PG_OID_INT4) {
            if (v < INT32_MIN || v > INT32_MAX)
                goto range;
            wb_pg_put_i32(b, (int32_t)v);
            rc = wb_buf_append(out, b, 4);
        } else {
            wb_pg_put_i64(b, v);
            rc = wb_buf_append(out, b, 8);
        }
        break;
    }
    case WB_PG_OID_FLOAT4: case WB_PG_OID_FLOAT8: {
        double d = PyFloat_AsDouble(o);
        if (d == -1 && PyErr_Occurred())
            return -1;
        if (oid == WB_PG_OID_FLOAT4) {
            wb_pg_put_f32(b, (float)d);
            rc = wb_buf_append(out, b, 4);
        } else {
            wb_pg_put_f64(b, d);
            rc = wb_buf_append(out, b, 8);
        }
        break;
    }
    case WB_PG_OID_BYTEA: {
        Py_buffer v;
        if (PyObject_GetBuffer(o, &v, PyBUF_CONTIG_RO))
            return -1;
        rc = wb_buf_append(out, v.buf, (size_t)v.len);
        PyBuffer_Release(&v);
        break;
    }
    case WB_PG_OID_NUMERIC: {
        PyObject *s = PyObject_Str(o);
        Py_ssize_t n;
        const char *u = s ? PyUnicode_AsUTF8AndSize(s, &n) : NULL;
        rc = u ? wb_pg_numeric_from_text(u, (size_t)n, out) : -1;
        if (rc && u)
            PyErr_Format(PyExc_ValueError, "copy_records: %R is not a numeric", o);
        Py_XDECREF(s);
        if (rc)
            return -1;
        break;
    }
    case WB_PG_OID_DATE:
    case WB_PG_OID_TIMESTAMP:
    case WB_PG_OID_TIMESTAMPTZ: {
        if (!PyDate_Check(o)) {
            PyErr_Format(PyExc_TypeError, "copy_records: %R is not a date/datetime", o);
            return -1;
        }
        /* days since 2000-01-01 from the proleptic Gregorian ordinal */
        PyObject *ord = PyObject_CallMethod(o, "toordinal", NULL);
        if (!ord)
            return -1;
        long long days = PyLong_AsLongLong(ord) - 730120;
        Py_DECREF(ord);
        if (oid == WB_PG_OID_DATE) {
            wb_pg_put_i32(b, (int32_t)days);
            rc = wb_buf_append(out, b, 4);
            break;
        }
        long long us = days * 86400000000LL;
        if (PyDateTime_Check(o)) {
            us += (long long)PyDateTime_DATE_GET_HOUR(o) * 3600000000LL +
                  (long long)PyDateTime_DATE_GET_MINUTE(o) * 60000000LL +
                  (long long)PyDateTime_DATE_GET_SECOND(o) * 1000000LL + PyDateTime_DATE_GET_MICROSECOND(o);
            PyObject *off = PyObject_CallMethod(o, "utcoffset", NULL);
            if (!off)
                return -1;
            if (off != Py_None && oid == WB_PG_OID_TIMESTAMPTZ)
                us -= ((long long)PyDateTime_DELTA_GET_DAYS(off) * 86400 + PyDateTime_DELTA_GET_SECONDS(off)) *
                          1000000LL +
                      PyDateTime_DELTA_GET_MICROSECONDS(off);
            Py_DECREF(off);
        }
        wb_pg_put_i64(b, us);
        rc = wb_buf_append(out, b, 8);
        break;
    }
    case WB_PG_OID_UUID: {
        PyObject *by = PyObject_GetAttr(o, G.s_bytes);
        if (!by || !PyBytes_Check(by) || PyBytes_GET_SIZE(by) != 16) {
            Py_XDECREF(by);
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_TypeError, "copy_records: %R is not a UUID", o);
            return -1;
        }
        rc = wb_buf_append(out, PyBytes_AS_STRING(by), 16);
        Py_DECREF(by);
        break;
    }
    case WB_PG_OID_JSONB:
    case WB_PG_OID_JSON: {
        PyObject *s = PyUnicode_Check(o) ? Py_NewRef(o) : PyObject_CallOneArg(G.json_dumps, o);
        Py_ssize_t n;
        const char *u = s ? PyUnicode_AsUTF8AndSize(s, &n) : NULL;
        rc = u ? ((oid == WB_PG_OID_JSONB ? wb_buf_putc(out, 1) : 0) | wb_buf_append(out, u, (size_t)n)) : -1;
        Py_XDECREF(s);
        if (!u)
            return -1;
        break;
    }
    case WB_PG_OID_TEXT: case WB_PG_OID_VARCHAR: case WB_PG_OID_BPCHAR: case WB_PG_OID_NAME: {
        PyObject *s = PyUnicode_Check(o) ? Py_NewRef(o) : PyObject_Str(o);
        Py_ssize_t n;
        const char *u = s ? PyUnicode_AsUTF8AndSize(s, &n) : NULL;
        rc = u ? wb_buf_append(out, u, (size_t)n) : -1;
        Py_XDECREF(s);
        if (!u)
            return -1;
        break;
    }
    default:
        PyErr_Format(PyExc_TypeError, "copy_records: columns of type OID %u are not supported (use copy_from)", oid);
        return -1;
    }
    if (rc) {
        PyErr_NoMemory();
        return -1;
    }
    wb_pg_put_i32(out->p + lenpos, (int32_t)(out->len - lenpos - 4));
    return 0;
range:
    PyErr_Format(PyExc_OverflowError, "copy_records: %R out of range for type OID %u", o, oid);
    return -1;
}

/* copy_records(sql, oids: tuple[int], records: iterable) -> rows.
 * sql is the COPY ... FROM STDIN (FORMAT binary) statement. */
static PyObject *Conn_copy_records(Conn *self, PyObject *args)
{
    PyObject *sql, *oidt, *records;
    if (!PyArg_ParseTuple(args, "UO!O", &sql, &PyTuple_Type, &oidt, &records))
        return NULL;
    Py_ssize_t ncols = PyTuple_GET_SIZE(oidt);
    uint32_t small[64], *oids = ncols <= 64 ? small : PyMem_Malloc(sizeof *oids * (size_t)ncols);
    if (!oids)
        return PyErr_NoMemory();
    for (Py_ssize_t i = 0; i < ncols; i++)
        oids[i] = (uint32_t)PyLong_AsUnsignedLong(PyTuple_GET_ITEM(oidt, i));
    if (PyErr_Occurred()) {
        if (oids != small)
            PyMem_Free(oids);
        return NULL;
    }
    PyObject *it = PyObject_GetIter(records);
    if (!it) {
        if (oids != small)
            PyMem_Free(oids);
        return NULL;
    }
    conn_lock(self);
    PyObject *result = NULL;
    wb_buf buf = {0};
    wb_pg_error e;
    int rc;
    if (copy_start(self, sql, 1))
        goto out;
    static const uint8_t header[19] = "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0";
    if (wb_buf_append(&buf, header, 19))
        PyErr_NoMemory();
    PyObject *rec;
    long long n = 0;
    while (!PyErr_Occurred() && (rec = PyIter_Next(it)) != NULL) {
        PyObject *f = PySequence_Fast(rec, "copy_records: each record must be a sequence");
        Py_DECREF(rec);
        if (!f)
            break;
        if (PySequence_Fast_GET_SIZE(f) != ncols) {
            PyErr_Format(PyExc_ValueError, "copy_records: record %lld has %zd values for %zd columns", n,
                         PySequence_Fast_GET_SIZE(f), ncols);
            Py_DECREF(f);
            break;
        }
        uint8_t c2[2];
        wb_pg_put_i16(c2, (int16_t)ncols);
        int bad = wb_buf_append(&buf, c2, 2);
        for (Py_ssize_t i = 0; !bad && i < ncols; i++)
            bad = copy_value(&buf, oids[i], PySequence_Fast_GET_ITEM(f, i));
        Py_DECREF(f);
        if (bad) {
            if (!PyErr_Occurred())
                PyErr_NoMemory();
            break;
        }
        n++;
        if (buf.len >= 1024 * 1024) {
            RELEASE
            rc = wb_pg_copy_put(self->c, buf.p, buf.len, &e);
            ACQUIRE
            buf.len = 0;
            if (rc) {
                raise_err(&e);
                break;
            }
        }
    }
    if (PyErr_Occurred()) {
        copy_abort(self, "copy_records failed on the client");
        goto out;
    }
    if (wb_buf_append(&buf, "\377\377", 2)) {
        PyErr_NoMemory();
        copy_abort(self, "copy_records: out of memory on the client");
        goto out;
    }
    int64_t rows = 0;
    RELEASE
    rc = wb_pg_copy_put(self->c, buf.p, buf.len, &e);
    if (rc == 0)
        rc = wb_pg_copy_end(self->c, NULL, &rows, &e);
    ACQUIRE
    result = copy_end_result(self, rc, &e, rows);
out:
    wb_buf_free(&buf);
    Py_DECREF(it);
    if (oids != small)
        PyMem_Free(oids);
    conn_unlock(self);
    return result;
}

static PyObject *Conn_cancel(Conn *self, PyObject *unused)
{
    (void)unused;
    /* no lock: cancel is for another thread's running query. It uses the
     * cancel key copied at connect, never self->c, which close() may free
     * while the request is on its way. */
    if (check_open(self))
        return NULL;
    wb_pg_cancel_key key = self->cancel_key;
    wb_pg_error e;
    int rc;
    RELEASE
    rc = wb_pg_cancel_send(&key, &e);
    ACQUIRE
    if (rc)
        return raise_err(&e);
    Py_RETURN_NONE;
}

static PyObject *Conn_close(Conn *self, PyObject *unused)
{
    (void)unused;
    conn_lock(self);
    if (self->c) {
        wb_pg_conn *c = self->c;
        self->c = NULL;
        self->active = 0;
        RELEASE
        wb_pg_finish(c);
        ACQUIRE
    }
    PyDict_Clear(self->cache);
    conn_unlock(self);
    Py_RETURN_NONE;
}

static PyObject *Conn_parameter(Conn *self, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name))
        return NULL;
    if (check_open(self))
        return NULL;
    /* Another thread may be inside a query on c (the GIL released) and
     * replace values as ParameterStatus arrives: copy under the client's
     * lock. close() clears self->c before it releases the GIL, so c is
     * alive for as long as this holds the GIL. */
    char small[256];
    int n = wb_pg_parameter_copy(self->c, name, small, sizeof small);
    if (n < 0)
        Py_RETURN_NONE;
    if ((size_t)n < sizeof small)
        return PyUnicode_DecodeUTF8(small, n, "replace");
    char *big = PyMem_Malloc((size_t)n + 1);
    if (!big)
        return PyErr_NoMemory();
    int m = wb_pg_parameter_copy(self->c, name, big, (size_t)n + 1);
    PyObject *r = m < 0 ? Py_NewRef(Py_None) : PyUnicode_DecodeUTF8(big, m > n ? n : m, "replace");
    PyMem_Free(big);
    return r;
}

/* The status getters must not read the connection while another thread is
 * inside a call on it (the GIL is released there): they only look when the
 * connection's lock is free, and otherwise answer what a running request
 * means (a request in progress: no transaction status, not closed). */
static PyObject *Conn_get_tx(Conn *self, void *closure)
{
    (void)closure;
    if (!self->c)
        Py_RETURN_NONE;
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK))
        return PyUnicode_FromString("");
    char t = self->c ? wb_pg_transaction_status(self->c) : 0;
    PyThread_release_lock(self->lock);
    return PyUnicode_FromStringAndSize(t ? &t : "", t ? 1 : 0);
}
static PyObject *Conn_get_closed(Conn *self, void *closure)
{
    (void)closure;
    if (!self->c)
        Py_RETURN_TRUE;
    if (!PyThread_acquire_lock(self->lock, NOWAIT_LOCK))
        Py_RETURN_FALSE;
    int bad = !self->c || wb_pg_status(self->c) != WB_PG_OK;
    PyThread_release_lock(self->lock);
    return PyBool_FromLong(bad);
}
static PyObject *Conn_get_version(Conn *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong(self->c ? self->server_version : 0); /* read at connect */
}
static PyObject *Conn_get_pid(Conn *self, void *closure)
{
    (void)closure;
    return PyLong_FromLong(self->c ? wb_pg_backend_pid(self->c) : 0);
}
static PyObject *Conn_get_description(Conn *self, void *closure)
{
    (void)closure;
    return Py_NewRef(self->description);
}
static PyObject *Conn_get_rowcount(Conn *self, void *closure)
{
    (void)closure;
    return PyLong_FromLongLong(self->rowcount);
}
static PyObject *Conn_get_status(Conn *self, void *closure)
{
    (void)closure;
    return Py_NewRef(self->statusmessage);
}
static PyObject *Conn_get_active(Conn *self, void *closure)
{
    (void)closure;
    return PyBool_FromLong(self->active || self->pre_pos < self->pre_rows);
}

static PyObject *Conn_get_notices(Conn *self, void *closure)
{
    (void)closure;
    return Py_NewRef(self->notices);
}

static PyMethodDef Conn_methods[] = {
    {"execute", (PyCFunction)Conn_execute, METH_VARARGS,
     "execute(sql, params=None): run one statement ($1.. placeholders); rows via fetch()."},
    {"fetch", (PyCFunction)Conn_fetch, METH_VARARGS, "fetch(n=-1) -> list of up to n row tuples ([] at the end)."},
    {"executemany", (PyCFunction)Conn_executemany, METH_VARARGS,
     "executemany(sql, rows) -> rows affected: one Parse, N Bind/Execute, one Sync."},
    {"copy_in", (PyCFunction)Conn_copy_in, METH_VARARGS, "copy_in(copy_sql, chunks) -> rows copied."},
    {"copy_out", (PyCFunction)Conn_copy_out, METH_VARARGS, "copy_out(copy_sql, write) -> rows copied."},
    {"copy_records", (PyCFunction)Conn_copy_records, METH_VARARGS,
     "copy_records(copy_binary_sql, column_oids, records) -> rows copied (binary COPY)."},
    {"cancel", (PyCFunction)Conn_cancel, METH_NOARGS, "Cancel the running query (any thread)."},
    {"close", (PyCFunction)Conn_close, METH_NOARGS, "Close the connection."},
    {"parameter", (PyCFunction)Conn_parameter, METH_VARARGS, "A ParameterStatus value, or None."},
    {NULL, NULL, 0, NULL}};

static PyGetSetDef Conn_getset[] = {
    {"transaction_status", (getter)Conn_get_tx, NULL, "'I', 'T', 'E' or '' while busy", NULL},
    {"closed", (getter)Conn_get_closed, NULL, "True once closed or broken", NULL},
    {"server_version", (getter)Conn_get_version, NULL, "e.g. 150018", NULL},
    {"backend_pid", (getter)Conn_get_pid, NULL, "server process ID", NULL},
    {"description", (getter)Conn_get_description, NULL, "columns of the current result", NULL},
    {"rowcount", (getter)Conn_get_rowcount, NULL, "rows of the last command (-1 unknown)", NULL},
    {"statusmessage", (getter)Conn_get_status, NULL, "the last command tag", NULL},
    {"active", (getter)Conn_get_active, NULL, "rows may still be fetched", NULL},
    {"notices", (getter)Conn_get_notices, NULL, "list of notice strings (appended to)", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyTypeObject ConnType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "wirebuf._pg.Conn",
    .tp_basicsize = sizeof(Conn),
    .tp_dealloc = (destructor)Conn_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Conn(conninfo='', read_buffer=0): one PostgreSQL connection (wirebuf/pg.h).",
    .tp_methods = Conn_methods,
    .tp_getset = Conn_getset,
    .tp_new = Conn_new,
};

static PyObject *mod_setup(PyObject *m, PyObject *args)
{
    (void)m;
    PyObject *factory, *dec, *uuid, *loads, *dumps, *utc, *tz, *json_cls;
    if (!PyArg_ParseTuple(args, "OOOOOOOO!", &factory, &dec, &uuid, &loads, &dumps, &utc, &tz, &PyType_Type,
                          &json_cls))
        return NULL;
    Py_XSETREF(G.Json, Py_NewRef(json_cls));
    Py_XSETREF(G.error_factory, Py_NewRef(factory));
    Py_XSETREF(G.Decimal, Py_NewRef(dec));
    Py_XSETREF(G.UUID, Py_NewRef(uuid));
    Py_XSETREF(G.json_loads, Py_NewRef(loads));
    Py_XSETREF(G.json_dumps, Py_NewRef(dumps));
    Py_XSETREF(G.utc, Py_NewRef(utc));
    Py_XSETREF(G.timezone, Py_NewRef(tz));
    G.ready = 1;
    Py_RETURN_NONE;
}

static PyMethodDef mod_methods[] = {
    {"setup", mod_setup, METH_VARARGS,
     "setup(error_factory, Decimal, UUID, json.loads, json.dumps, timezone.utc, timezone, Json): called by wirebuf.pg"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "wirebuf._pg",
                                    "PostgreSQL client (C veneer; use wirebuf.pg)", -1, mod_methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__pg(void)
{
    PyDateTime_IMPORT;
    if (!PyDateTimeAPI)
        return NULL;
    if (PyType_Ready(&ConnType) < 0)
        return NULL;
    G.s_isoformat = PyUnicode_InternFromString("isoformat");
    G.s_bytes = PyUnicode_InternFromString("bytes");
    PyObject *m = PyModule_Create(&moddef);
    if (!m)
        return NULL;
    Py_INCREF(&ConnType);
    if (PyModule_AddObject(m, "Conn", (PyObject *)&ConnType) < 0) {
        Py_DECREF(&ConnType);
        Py_DECREF(m);
        return NULL;
    }
    PyModule_AddIntConstant(m, "ERR_SERVER", WB_PG_ERR_SERVER);
    PyModule_AddIntConstant(m, "ERR_TIMEOUT", WB_PG_ERR_TIMEOUT);
    return m;
}
