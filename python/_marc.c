/* wirebuf._marc — the CPython veneer over the C MARC codec and pipeline.
 *
 * What is here and why:
 * - Reader: picks a source by type (path -> fd reads without the GIL; an
 *   io.FileIO/BufferedReader on a regular file or pipe -> a dup of its
 *   descriptor, pread from its position, without the GIL; bytes-like -> the
 *   caller's memory, zero copy, buffer held; other .read() -> called in
 *   256 KiB requests with the GIL held only around the call) and hands out
 *   one Record per next() from a batch decoded with the GIL released.
 *   Two modes:
 *     pymarc mode (default): pm_fill frames as pymarc 5.3.1's
 *       MARCReader.__next__ (5-digit length, FatalReaderErrors end the
 *       input) and pm_decode checks as its Record.decode_marc, in its order;
 *       an error is kept as a pm_err and turned into pymarc's exception (same
 *       class, same message) with the GIL held by pm_exception.
 *     recover=True: the parallel ordered pipeline (wirebuf/pipeline.h) with
 *       the codec's repairs; py_work runs on its workers.
 *   One owner at a time: a lock held by the thread inside next()/close()/
 *   __init__ (others wait without the GIL); a .read() that calls back into
 *   its own reader is refused (read_thread). The native batch touches only
 *   memory the reader owns.
 * - Payloads: each record becomes a compact bytes object the Python Record
 *   keeps and decodes lazily, field by field, only when the caller touches a
 *   field. Shape (integers little-endian uint32):
 *       nfields | nfields * (tag[3], kind, offset, length) | leader[24] | data
 *   offset/length locate the field's bytes (indicators + subfields, no field
 *   terminator) inside the payload; kind says how to decode values (MODE_*).
 *   In pymarc mode "leader | data" is the record's chunk as read (leader,
 *   directory, fields): one copy, and current_chunk is read from it.
 * - Record and Field are Python classes deriving from RecordBase/FieldBase
 *   (no state: record[tag] and field[code] in C); their hot attributes are
 *   __slots__ that C reads and fills at the offsets found by setup().
 * - Field/Record building from a payload; the pymarc-compatible MARC-8
 *   converter per subfield; ISO 2709 assembly for wirebuf's own serialiser.
 * The pymarc-compatible classes themselves are Python (the wirebuf/marc package);
 * they register with setup() so that C can create their instances without
 * running __init__. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "wirebuf/marc.h"
#include "wirebuf/pipeline.h"
#include "wirebuf/stream.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum {
    MODE_UTF8 = 0,    /* valid UTF-8: decode strictly */
    MODE_REPLACE = 1, /* invalid UTF-8 kept: decode with errors="replace" */
    MODE_IGNORE = 2,  /* invalid UTF-8 kept: decode with errors="ignore" */
    MODE_MARC8 = 3,   /* converted from MARC-8 by C: UTF-8, NFC-normalise non-ASCII */
    MODE_BYTES = 4,   /* to_unicode=False: values are bytes */
    MODE_OTHER = 5,   /* decode with the reader's file_encoding */
    MODE_BAD_UTF8 = 6 /* (item only) invalid UTF-8 with utf8_handling="strict" */
};

/* Classes and helpers registered by wirebuf.marc at import (setup()). Module
 * level because every Record/Field built anywhere needs them; set once. */
static struct {
    PyObject *Record, *Field, *RawField, *Subfield, *Indicators;
    PyObject *normalize_code; /* record._normalize_code(bytes) -> (code, skip) (warns) */
    PyObject *exc_base_nf;
    PyObject *exc_base, *exc_length, *exc_leader, *exc_directory, *exc_base_address, *exc_nofields,
        *exc_eor, *exc_truncated, *exc_fatal;
    PyObject *normalize; /* unicodedata.normalize */
    PyObject *io_FileIO, *io_BufferedReader, *io_BufferedRandom; /* read natively */
    /* byte offsets of the __slots__ of Record (_raw, _fields, _cache,
     * _leader) and Field (tag, data, control_field, _indicators, subfields):
     * C reads and stores them directly in instances of those classes */
    Py_ssize_t off_raw, off_fields, off_cache, off_leader, off_tag, off_data, off_control, off_ind, off_subs;
    PyObject *s_raw, *s_mode, *s_enc, *s_fields, *s_cache, *s_tag, *s_data, *s_subfields,
        *s_indicators, *s_control, *s_nfc, *s_force_utf8, *s_leader, *s_latin1, *empty;
    int ready;
} G;

/* ---- payloads ------------------------------------------------------------ */

static inline void put32(uint8_t *p, uint32_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 4);
    return;
#endif
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}
static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Append rec as a payload; leader24 is the leader to keep (the original
 * bytes for ISO 2709). Returns 0 or -1 (out of memory or > 4 GiB). */
static int payload_write(wb_buf *out, const wb_marc_record *rec, const uint8_t *leader24, unsigned kind)
{
    size_t n = rec->nfields, head = 4 + 12 * n + WB_MARC_LEADER_LEN, total = head;
    for (size_t i = 0; i < n; i++)
        total += rec->fields[i].len;
    if (total > UINT32_MAX || wb_buf_reserve(out, total) != 0)
        return -1;
    uint8_t *base = out->p + out->len, *d = base + 4;
    put32(base, (uint32_t)n);
    size_t off = head;
    uint8_t *data = base + head;
    for (size_t i = 0; i < n; i++, d += 12) {
        const wb_marc_field *f = &rec->fields[i];
        memcpy(d, f->tag, 3);
        d[3] = (uint8_t)kind;
        put32(d + 4, (uint32_t)off);
        put32(d + 8, f->len);
        if (f->len)
            memcpy(data, f->data, f->len);
        data += f->len;
        off += f->len;
    }
    memcpy(base + 4 + 12 * n, leader24, WB_MARC_LEADER_LEN);
    out->len += total;
    return 0;
}

typedef struct pl_view {
    const uint8_t *p;
    size_t n, nfields;
} pl_view;

static int pl_open(PyObject *raw, pl_view *v)
{
    if (!PyBytes_Check(raw) || PyBytes_GET_SIZE(raw) < 4 + WB_MARC_LEADER_LEN) {
        PyErr_SetString(PyExc_ValueError, "record payload is missing or damaged");
        return -1;
    }
    v->p = (const uint8_t *)PyBytes_AS_STRING(raw);
    v->n = (size_t)PyBytes_GET_SIZE(raw);
    v->nfields = get32(v->p);
    if (4 + 12 * v->nfields + WB_MARC_LEADER_LEN > v->n) {
        PyErr_SetString(PyExc_ValueError, "record payload is damaged");
        return -1;
    }
    return 0;
}

/* ---- configuration shared by the workers (read-only while running) ------ */

typedef struct cfg {
    int to_unicode, force_utf8, marc8; /* marc8: file_encoding is iso8859-1 (pymarc: MARC-8) */
    int handling;                      /* MODE_UTF8 (strict), MODE_REPLACE, MODE_IGNORE */
    unsigned flags;
} cfg;

/* The per-record work: bring the record to what Python will decode and
 * write its payload. Runs on worker threads without the GIL. */
static enum wb_marc_status py_work(void *arg, wb_marc_record *rec, const uint8_t *raw, size_t len,
                                   wb_buf *out, uint32_t *user, wb_marc_error *err)
{
    const cfg *c = arg;
    const uint8_t *leader = raw && len >= WB_MARC_LEADER_LEN ? raw : rec->leader;
    /* A tag must be 3 ASCII characters (ISO 2709). The codec replaces bad
     * tag bytes with '?' so that its own outputs stay well-formed; Python
     * reports such a record instead, naming the tag's original bytes, which
     * are read from the raw directory (entries of 12 bytes from byte 24 up to
     * the 0x1E that ends the directory). */
    if (raw && len > WB_MARC_LEADER_LEN) {
        const uint8_t *dir = raw + WB_MARC_LEADER_LEN, *end = raw + len;
        for (size_t i = 0; dir + 3 <= end && dir[0] != WB_MARC_FT; i++, dir += 12) {
            if ((dir[0] | dir[1] | dir[2]) & 0x80) {
                snprintf(err->msg, sizeof err->msg, "field %zu: tag %.3s is not ASCII", i + 1, (const char *)dir);
                return WB_MARC_BAD;
            }
            if ((size_t)(end - dir) < 12)
                break;
        }
    } else {
        for (size_t i = 0; i < rec->nfields; i++) {
            const unsigned char *t = (const unsigned char *)rec->fields[i].tag;
            if ((t[0] | t[1] | t[2]) & 0x80) {
                snprintf(err->msg, sizeof err->msg, "field %zu: tag %.3s is not ASCII", i + 1, (const char *)t);
                return WB_MARC_BAD;
            }
        }
    }
    uint8_t l9 = rec->leader[9];
    unsigned kind;
    enum wb_marc_status st = WB_MARC_OK;
    if (!c->to_unicode) {
        kind = MODE_BYTES;
    } else if (l9 == 'a' || c->force_utf8) {
        kind = MODE_UTF8;
        for (size_t i = 0; i < rec->nfields; i++) {
            const wb_marc_field *f = &rec->fields[i];
            size_t ok = wb_utf8_valid_prefix(f->data, f->len);
            if (ok != f->len) {
                if (c->handling == MODE_UTF8) {
                    /* the bad byte's position in the record rides in the
                     * high bits, for UnicodeDecodeError.start */
                    size_t at = raw && f->data >= raw && f->data < raw + len ? (size_t)(f->data - raw) + ok : 0;
                    *user = MODE_BAD_UTF8 | (uint32_t)(at << 4);
                    snprintf(err->msg, sizeof err->msg,
                             "field %.3s: invalid UTF-8 at byte %zu of the field (utf8_handling='strict')",
                             f->tag, ok);
                    return WB_MARC_BAD;
                }
                kind = (unsigned)c->handling;
                break;
            }
        }
    } else if (c->marc8) {
        wb_marc_error ce = {0};
        int rc = wb_marc_to_utf8(rec, c->flags & ~(unsigned)WB_MARC_STRICT, &ce);
        if (rc < 0) {
            snprintf(err->msg, sizeof err->msg, "%s", ce.msg);
            return WB_MARC_BAD;
        }
        if (rc > 0) {
            snprintf(err->msg, sizeof err->msg, "%s", ce.msg);
            st = WB_MARC_RECOVERED;
        }
        kind = MODE_MARC8;
    } else {
        kind = MODE_OTHER;
    }
    if (payload_write(out, rec, leader, kind) != 0) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return WB_MARC_BAD;
    }
    *user = kind;
    return st;
}

/* ---- exceptions ---------------------------------------------------------- */

static PyObject *exc_class_for(const char *msg)
{
    if (strncmp(msg, "truncated", 9) == 0)
        return G.exc_truncated;
    if (strncmp(msg, "record length", 13) == 0 || strstr(msg, "too short"))
        return G.exc_length;
    if (strstr(msg, "does not end in 0x1D"))
        return G.exc_eor;
    if (strstr(msg, "base address"))
        return G.exc_base_address;
    if (strstr(msg, "directory"))
        return G.exc_directory;
    if (strncmp(msg, "leader", 6) == 0)
        return G.exc_leader;
    if (strstr(msg, "no fields"))
        return G.exc_nofields;
    return G.exc_fatal;
}

/* A new exception instance for a bad record (not raised). */
static PyObject *make_record_error(const wb_marc_error *e, uint32_t user, const uint8_t *raw, size_t rawlen)
{
    if ((user & 15) == MODE_BAD_UTF8) {
        Py_ssize_t at = (Py_ssize_t)(user >> 4);
        if ((size_t)at >= rawlen)
            at = 0;
        PyObject *why = PyUnicode_DecodeUTF8(e->msg, (Py_ssize_t)strnlen(e->msg, sizeof e->msg), "backslashreplace");
        PyObject *ex = why ? PyObject_CallFunction(PyExc_UnicodeDecodeError, "sy#nnO", "utf-8", (const char *)raw,
                                                   (Py_ssize_t)rawlen, at, at + (rawlen ? 1 : 0), why)
                           : NULL;
        Py_XDECREF(why);
        return ex;
    }
    PyObject *cls = strcmp(e->msg, "out of memory") == 0 ? PyExc_MemoryError : exc_class_for(e->msg);
    /* messages may quote the record's own bytes (a tag byte 0xE9): show
     * anything that is not UTF-8 escaped rather than failing */
    PyObject *m = PyUnicode_DecodeUTF8(e->msg, (Py_ssize_t)strnlen(e->msg, sizeof e->msg), "backslashreplace");
    PyObject *ex = m ? PyObject_CallFunctionObjArgs(cls, m, NULL) : NULL;
    Py_XDECREF(m);
    if (ex) {
        PyObject *v;
        if ((v = PyLong_FromUnsignedLongLong(e->record))) {
            PyObject_SetAttrString(ex, "record", v);
            Py_DECREF(v);
        }
        if ((v = PyLong_FromUnsignedLongLong(e->offset))) {
            PyObject_SetAttrString(ex, "offset", v);
            Py_DECREF(v);
        }
        PyErr_Clear();
    }
    return ex;
}

static inline int is_control_tag(const uint8_t *t)
{
    /* pymarc: tag < "010" and tag.isdigit() */
    return t[0] == '0' && t[1] == '0' && t[2] >= '0' && t[2] <= '9';
}

/* ---- pymarc 5.3.1 semantics: framing and decoding ------------------------
 *
 * pymarc's MARCReader reads 5 bytes, int()s them, reads the rest of the
 * record and hands the chunk to Record.decode_marc, which trusts the leader
 * and directory as they are. The functions below do the same checks in the
 * same order without the GIL and without Python objects; an error is kept as
 * a description (pm_err) from which the same Python exception is made later
 * with the GIL held, by running the same Python operation (int(), .decode())
 * on the same bytes, so class and message are pymarc's. */

enum pm_kind {
    PE_NONE = 0,
    PE_LENGTH,      /* RecordLengthInvalid (fatal) */
    PE_TRUNCATED,   /* TruncatedRecord (fatal) */
    PE_EOR,         /* EndOfRecordNotFound (fatal) */
    PE_LEADER,      /* RecordLeaderInvalid */
    PE_DECODE,      /* UnicodeDecodeError: raw[off, off+len).decode(codec) */
    PE_INT_BYTES,   /* ValueError: int(raw[off, off+len]) */
    PE_INT_STR,     /* ValueError: int(raw[off, off+len].decode('ascii')) */
    PE_BASE_NF,     /* BaseAddressNotFound */
    PE_BASE_INV,    /* BaseAddressInvalid */
    PE_DIRECTORY,   /* RecordDirectoryInvalid */
    PE_NOFIELDS,    /* NoFieldsFound */
    PE_OOM,         /* MemoryError */
    PE_READ,        /* the source failed: end of input with the read error */
    PE_MARC8        /* UnicodeDecodeError from marc8_to_unicode (pymarc's message) */
};

typedef struct pm_err {
    int kind;
    size_t off, len;  /* bytes of the chunk the failing operation ran on */
    const char *codec;
} pm_err;

static inline int pm_fatal(int kind)
{
    return kind == PE_LENGTH || kind == PE_TRUNCATED || kind == PE_EOR;
}

/* Python's int() of an ASCII text in base 10: surrounding ASCII whitespace
 * (space, \t \n \v \f \r; not 0x1C-0x1F, which str.isspace() accepts but
 * int() does not), a sign, digits with single underscores between them.
 * is_str (the text is a str, else bytes) makes no difference for ASCII.
 * Returns 0 and *v, or -1. */
static int py_int_slow(const uint8_t *s, size_t n, int is_str, long long *v);

static inline int py_int(const uint8_t *s, size_t n, int is_str, long long *v)
{
    /* the usual case: all digits */
    long long x = 0;
    size_t i = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        x = x * 10 + (s[i] - '0');
    if (i == n && n) {
        *v = x;
        return 0;
    }
    return py_int_slow(s, n, is_str, v);
}

static int py_int_slow(const uint8_t *s, size_t n, int is_str, long long *v)
{
    (void)is_str;
#define PYSPACE(c) ((c) == ' ' || ((c) >= 0x09 && (c) <= 0x0D))
    while (n && PYSPACE(s[0]))
        s++, n--;
    while (n && PYSPACE(s[n - 1]))
        n--;
#undef PYSPACE
    int neg = 0;
    if (n && (s[0] == '+' || s[0] == '-'))
        neg = s[0] == '-', s++, n--;
    if (!n || s[0] < '0' || s[0] > '9')
        return -1;
    long long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '_') {
            if (i + 1 >= n || s[i + 1] < '0' || s[i + 1] > '9')
                return -1;
            continue;
        }
        if (s[i] < '0' || s[i] > '9')
            return -1;
        if (x < 1000000000000LL)
            x = x * 10 + (s[i] - '0');
    }
    *v = neg ? -x : x;
    return 0;
}

/* Python's seq[a:b] on a sequence of n items: the clamped [*lo, *hi). */
static void py_slice(long long a, long long b, size_t n, size_t *lo, size_t *hi)
{
    long long N = (long long)n;
    if (a < 0 && (a += N) < 0)
        a = 0;
    if (a > N)
        a = N;
    if (b < 0 && (b += N) < 0)
        b = 0;
    if (b > N)
        b = N;
    *lo = (size_t)a;
    *hi = (size_t)(b > a ? b : a);
}

/* 1 when no byte of s[0, n) has the high bit (a loop the compiler vectorises) */
static inline int ascii_only(const uint8_t *s, size_t n)
{
    uint64_t acc = 0;
    size_t i = 0;
#ifdef __SSE2__
    __m128i v = _mm_setzero_si128();
    for (; i + 64 <= n; i += 64)
        v = _mm_or_si128(v, _mm_or_si128(_mm_or_si128(_mm_loadu_si128((const __m128i *)(s + i)),
                                                        _mm_loadu_si128((const __m128i *)(s + i + 16))),
                                         _mm_or_si128(_mm_loadu_si128((const __m128i *)(s + i + 32)),
                                                      _mm_loadu_si128((const __m128i *)(s + i + 48)))));
    for (; i + 16 <= n; i += 16)
        v = _mm_or_si128(v, _mm_loadu_si128((const __m128i *)(s + i)));
    if (_mm_movemask_epi8(v))
        return 0;
#endif
    for (; i + 32 <= n; i += 32) {
        uint64_t w[4];
        memcpy(w, s + i, 32);
        acc |= w[0] | w[1] | w[2] | w[3];
    }
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        acc |= w;
    }
    for (; i < n; i++)
        acc |= s[i];
    return !(acc & 0x8080808080808080ull);
}

static inline int all_ascii(const uint8_t *s, size_t n, size_t *bad)
{
    if (ascii_only(s, n))
        return 1;
    for (size_t i = 0; i < n; i++)
        if (s[i] & 0x80) {
            if (bad)
                *bad = i;
            return 0;
        }
    return 1;
}

static inline void pm_set(pm_err *e, int kind, size_t off, size_t len, const char *codec)
{
    e->kind = kind;
    e->off = off;
    e->len = len;
    e->codec = codec;
}

/* Bytes of the UTF-8 character starting s[0] when s[0, n) is all valid UTF-8
 * (pymarc's normalize_subfield_code decodes the whole subfield), else 1. */
static size_t pm_code_skip(const uint8_t *s, size_t n)
{
    if (wb_utf8_valid_prefix(s, n) != n)
        return 1;
    return s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 1;
}

/* A directory entry's length (bytes 3-6) and starting position (7-11)
 * when all nine are digits (one word test for bytes 3-10): 1, else 0 (the
 * caller runs Python's int() rules). */
static inline int dirent_nums(const uint8_t *ent, long long *flen, long long *foff)
{
    uint64_t w;
    memcpy(&w, ent + 3, 8);
    const uint64_t hi = 0xF0F0F0F0F0F0F0F0ull, zeros = 0x3030303030303030ull;
    if ((w & hi) != zeros || ((w + 0x0606060606060606ull) & hi) != zeros || ent[11] < '0' || ent[11] > '9')
        return 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* byte k of w is ent[3 + k]: pairs of digits, then pairs of pairs */
    uint64_t x = w - zeros;
    x = (x * 10 + (x >> 8)) & 0x00FF00FF00FF00FFull;
    x = (x * 100 + (x >> 16)) & 0x0000FFFF0000FFFFull;
    *flen = (long long)(x & 0xFFFFFFFFu);
    *foff = (long long)(x >> 32) * 10 + (ent[11] - '0');
#else
    *flen = (ent[3] - '0') * 1000 + (ent[4] - '0') * 100 + (ent[5] - '0') * 10 + (ent[6] - '0');
    *foff = (ent[7] - '0') * 10000 + (ent[8] - '0') * 1000 + (ent[9] - '0') * 100 + (ent[10] - '0') * 10 +
            (ent[11] - '0');
#endif
    return 1;
}

/* Payload kinds of pymarc mode, beyond MODE_*: */
#define MODE_MARC8_RAW 7 /* MARC-8 bytes kept; subfields converted one by one, control fields Latin-1 */
#define KIND_BAD_CODES 0x100 /* (record) a subfield code is not ASCII: BadSubfieldCodeWarning */
#define MODE_NULL_CONTROL 8  /* (field) a data field whose tag pymarc's Field() turns into a
                                control tag (' 08' -> '008'): control field, data None */

/* Record.decode_marc of pymarc 5.3.1 over chunk p[0, n): on success append
 * the payload to out, set *kind and return 0; else fill *e and return -1. */
static int pm_decode(const cfg *c, const uint8_t *p, size_t n, wb_buf *out, uint32_t *kind, pm_err *e)
{
    size_t bad;
    size_t ll = n < WB_MARC_LEADER_LEN ? n : WB_MARC_LEADER_LEN;
    if (!all_ascii(p, ll, &bad)) {
        pm_set(e, PE_DECODE, 0, ll, "ascii");
        return -1;
    }
    if (n < WB_MARC_LEADER_LEN) {
        pm_set(e, PE_LEADER, 0, 0, NULL);
        return -1;
    }
    int utf8 = p[9] == 'a' || c->force_utf8;
    long long base, reclen;
    if (py_int(p + 12, 5, 0, &base) < 0) {
        pm_set(e, PE_INT_BYTES, 12, 5, NULL);
        return -1;
    }
    if (base <= 0) {
        pm_set(e, PE_BASE_NF, 0, 0, NULL);
        return -1;
    }
    if (base >= (long long)n) {
        pm_set(e, PE_BASE_INV, 0, 0, NULL);
        return -1;
    }
    if (py_int(p, 5, 1, &reclen) < 0) {
        pm_set(e, PE_INT_STR, 0, 5, NULL);
        return -1;
    }
    if ((long long)n < reclen) {
        pm_set(e, PE_TRUNCATED, 0, 0, NULL);
        return -1;
    }
    size_t dlo, dhi;
    py_slice(WB_MARC_LEADER_LEN, base - 1, n, &dlo, &dhi);
    if (!all_ascii(p + dlo, dhi - dlo, &bad)) {
        pm_set(e, PE_DECODE, dlo, dhi - dlo, "ascii");
        return -1;
    }
    if ((dhi - dlo) % WB_MARC_DIRENT_LEN) {
        pm_set(e, PE_DIRECTORY, 0, 0, NULL);
        return -1;
    }
    size_t nf = (dhi - dlo) / WB_MARC_DIRENT_LEN;
    unsigned k;
    if (!c->to_unicode)
        k = MODE_BYTES;
    else if (utf8)
        k = MODE_UTF8;
    else if (c->marc8)
        k = MODE_MARC8_RAW;
    else
        k = MODE_OTHER;
    /* first pass: check everything pymarc checks, in its order, and keep
     * each entry's slice for the second */
    unsigned rk = k;
    /* A chunk that is all ASCII (most records) cannot fail any check made
     * on field bytes below (UTF-8 or ASCII decoding, non-ASCII subfield
     * codes) and, without an ESC, holds no MARC-8 escape to convert: one
     * pass over the chunk replaces the per-field and per-subfield scans. */
    int plain = ascii_only(p, n) && (k != MODE_MARC8_RAW || !memchr(p, 0x1B, n));
    size_t stack_sl[2 * 128], *sl = nf <= 128 ? stack_sl : malloc(2 * nf * sizeof *sl);
    if (!sl) {
        pm_set(e, PE_OOM, 0, 0, NULL);
        return -1;
    }
    int rc = -1;
    for (size_t i = 0; i < nf; i++) {
        const uint8_t *ent = p + dlo + 12 * i;
        long long flen, foff;
        if (!dirent_nums(ent, &flen, &foff)) {
            if (py_int(ent + 3, 4, 1, &flen) < 0) {
                pm_set(e, PE_INT_STR, dlo + 12 * i + 3, 4, NULL);
                goto done;
            }
            if (py_int(ent + 7, 5, 1, &foff) < 0) {
                pm_set(e, PE_INT_STR, dlo + 12 * i + 7, 5, NULL);
                goto done;
            }
        }
        size_t lo, hi;
        py_slice(base + foff, base + foff + flen - 1, n, &lo, &hi);
        sl[2 * i] = lo;
        sl[2 * i + 1] = hi;
        if (plain)
            continue;
        const uint8_t *s = p + lo;
        size_t len = hi - lo;
        if (is_control_tag(ent)) {
            if (k == MODE_UTF8 && !ascii_only(s, len) && wb_utf8_valid_prefix(s, len) != len) {
                pm_set(e, PE_DECODE, lo, len, "utf-8");
                goto done;
            }
            continue;
        }
        const uint8_t *sd = memchr(s, WB_MARC_SD, len);
        size_t ilen = sd ? (size_t)(sd - s) : len;
        if (!all_ascii(s, ilen, NULL)) {
            pm_set(e, PE_DECODE, lo, ilen, "ascii");
            goto done;
        }
        /* ASCII only (most fields): no bad code, valid UTF-8, no escape */
        if (k != MODE_MARC8_RAW && ascii_only(s + ilen, len - ilen))
            continue;
        /* valid UTF-8 as a whole means every value is (0x1F never splits a
         * sequence): then only non-ASCII codes need a look */
        int whole_ok = k != MODE_UTF8 || wb_utf8_valid_prefix(s + ilen, len - ilen) == len - ilen;
        int has_esc = k == MODE_MARC8_RAW && memchr(s + ilen, 0x1B, len - ilen) != NULL;
        size_t pos = ilen;
        while (pos < len) {
            size_t start = pos + 1;
            const uint8_t *nx = memchr(s + start, WB_MARC_SD, len - start);
            size_t end = nx ? (size_t)(nx - s) : len;
            pos = end;
            if (end == start)
                continue;
            size_t skip = 1;
            if (s[start] & 0x80) {
                rk |= KIND_BAD_CODES;
                skip = pm_code_skip(s + start, end - start);
            }
            size_t vs = start + skip, vl = end - vs;
            if (has_esc) {
                /* pymarc converts while decoding: where its converter
                 * raises, the record fails */
                wb_buf tmp = {0};
                unsigned g0 = 0x42, g1 = 0x45;
                long mrc = wb_marc8_to_utf8_pymarc(&tmp, s + vs, vl, &g0, &g1);
                wb_buf_free(&tmp);
                if (mrc == -2) {
                    pm_set(e, PE_MARC8, lo + vs, vl, NULL);
                    goto done;
                }
            } else if (!whole_ok && wb_utf8_valid_prefix(s + vs, vl) != vl) {
                if (c->handling == MODE_UTF8) {
                    pm_set(e, PE_DECODE, lo + vs, vl, "utf-8");
                    goto done;
                }
                rk = (rk & ~0xFFu) | (unsigned)c->handling;
            }
        }
    }
    if (nf == 0) {
        pm_set(e, PE_NOFIELDS, 0, 0, NULL);
        goto done;
    }
    /* second pass: the payload (nfields | one entry per directory entry |
     * the chunk itself, so that its leader is at 4 + 12 * nfields and the
     * entries point into it; current_chunk is read from it too) */
    size_t head = 4 + 12 * nf;
    if (head + n > UINT32_MAX || wb_buf_reserve(out, head + n) != 0) {
        pm_set(e, PE_OOM, 0, 0, NULL);
        goto done;
    }
    uint8_t *b0 = out->p + out->len, *d = b0 + 4;
    put32(b0, (uint32_t)nf);
    for (size_t i = 0; i < nf; i++, d += 12) {
        size_t lo = sl[2 * i], hi = sl[2 * i + 1];
        const uint8_t *t = p + dlo + 12 * i;
        memcpy(d, t, 3);
        d[3] = (uint8_t)(rk & 0xFF);
        long long iv;
        if (!(t[0] >= '0' && t[0] <= '9' && t[1] >= '0' && t[1] <= '9' && t[2] >= '0' && t[2] <= '9') &&
            py_int_slow(t, 3, 1, &iv) == 0 && iv > -100 && iv < 1000) {
            /* pymarc's Field() keeps f"{int(tag):03}" when the tag is an int */
            long long a = iv < 0 ? -iv : iv;
            d[2] = (uint8_t)('0' + a % 10);
            d[1] = (uint8_t)('0' + a / 10 % 10);
            d[0] = iv < 0 ? '-' : (uint8_t)('0' + a / 100);
            if (!is_control_tag(t) && is_control_tag(d)) {
                d[3] = MODE_NULL_CONTROL; /* no data */
                hi = lo;
            }
        }
        put32(d + 4, (uint32_t)(head + lo));
        put32(d + 8, (uint32_t)(hi - lo));
    }
    memcpy(b0 + head, p, n);
    out->len += head + n;
    *kind = rk;
    rc = 0;
done:
    if (sl != stack_sl)
        free(sl);
    return rc;
}

/* The exception pymarc raises for e over chunk raw[0, n) (a new reference,
 * not raised), or NULL with an exception set if even that fails. */
static PyObject *pm_exception(const pm_err *e, const uint8_t *raw, size_t n)
{
    PyObject *cls = NULL;
    switch (e->kind) {
    case PE_LENGTH: cls = G.exc_length; break;
    case PE_TRUNCATED: cls = G.exc_truncated; break;
    case PE_EOR: cls = G.exc_eor; break;
    case PE_LEADER: cls = G.exc_leader; break;
    case PE_BASE_NF: cls = G.exc_base_nf; break;
    case PE_BASE_INV: cls = G.exc_base_address; break;
    case PE_DIRECTORY: cls = G.exc_directory; break;
    case PE_NOFIELDS: cls = G.exc_nofields; break;
    case PE_OOM: return PyObject_CallFunction(PyExc_MemoryError, NULL);
    default: break;
    }
    if (cls)
        return PyObject_CallNoArgs(cls);
    size_t off = e->off <= n ? e->off : n, len = e->len <= n - off ? e->len : n - off;
    PyObject *r = NULL;
    if (e->kind == PE_MARC8)
        return PyObject_CallFunction(PyExc_UnicodeDecodeError, "sy#nns", "marc8_to_unicode", (const char *)raw + off,
                                     (Py_ssize_t)len, (Py_ssize_t)0, (Py_ssize_t)len,
                                     "invalid multibyte character encoding");
    if (e->kind == PE_DECODE) {
        r = PyUnicode_Decode((const char *)raw + off, (Py_ssize_t)len, e->codec, "strict");
    } else if (e->kind == PE_INT_BYTES || e->kind == PE_INT_STR) {
        PyObject *arg = e->kind == PE_INT_BYTES ? PyBytes_FromStringAndSize((const char *)raw + off, (Py_ssize_t)len)
                                                : PyUnicode_DecodeASCII((const char *)raw + off, (Py_ssize_t)len, NULL);
        if (arg) {
            r = PyObject_CallOneArg((PyObject *)&PyLong_Type, arg);
            Py_DECREF(arg);
        }
    }
    if (r) { /* the operation succeeded after all: should not happen */
        Py_DECREF(r);
        return PyObject_CallFunction(PyExc_ValueError, "s", "record could not be decoded");
    }
    if (!PyErr_ExceptionMatches(PyExc_ValueError))
        return NULL; /* MemoryError etc.: raise it */
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    PyErr_NormalizeException(&t, &v, &tb);
    Py_XDECREF(t);
    Py_XDECREF(tb);
    if (v)
        PyException_SetTraceback(v, Py_None);
    return v;
}

/* ---- building Records and Fields ----------------------------------------- */

static PyObject *new_instance(PyObject *cls)
{
    PyTypeObject *t = (PyTypeObject *)cls;
    return t->tp_new(t, G.empty, NULL);
}

/* Slot `off` of o (an instance of the class whose slot it is): borrowed,
 * NULL when unset. */
static inline PyObject *slot_get(PyObject *o, Py_ssize_t off)
{
    return *(PyObject **)((char *)o + off);
}

/* Store v (a new reference, stolen) in slot `off` of o. */
static inline void slot_put(PyObject *o, Py_ssize_t off, PyObject *v)
{
    PyObject **p = (PyObject **)((char *)o + off);
    PyObject *old = *p;
    *p = v;
    Py_XDECREF(old);
}

static inline PyObject *new_ref(PyObject *o)
{
    Py_INCREF(o);
    return o;
}

static PyObject *make_record(PyObject *payload, unsigned kind, PyObject *enc, int force_utf8)
{
    PyObject *r = new_instance(G.Record);
    if (!r)
        return NULL;
    /* what Record.__init__ would set; the payload says each field's kind:
     * _mode stays the class default */
    slot_put(r, G.off_raw, new_ref(payload));
    slot_put(r, G.off_fields, new_ref(Py_None));
    slot_put(r, G.off_cache, new_ref(Py_None));
    slot_put(r, G.off_leader, new_ref(Py_None));
    if ((kind == MODE_OTHER && PyObject_GenericSetAttr(r, G.s_enc, enc) < 0) ||
        (force_utf8 && PyObject_GenericSetAttr(r, G.s_force_utf8, Py_True) < 0)) {
        Py_DECREF(r);
        return NULL;
    }
    return r;
}

static PyObject *decode_value(const uint8_t *s, size_t n, unsigned kind, PyObject *enc)
{
    switch (kind) {
    case MODE_UTF8: return PyUnicode_DecodeUTF8((const char *)s, (Py_ssize_t)n, "strict");
    case MODE_REPLACE: return PyUnicode_DecodeUTF8((const char *)s, (Py_ssize_t)n, "replace");
    case MODE_IGNORE: return PyUnicode_DecodeUTF8((const char *)s, (Py_ssize_t)n, "ignore");
    case MODE_BYTES: return PyBytes_FromStringAndSize((const char *)s, (Py_ssize_t)n);
    case MODE_OTHER: {
        const char *e = enc && PyUnicode_Check(enc) ? PyUnicode_AsUTF8(enc) : "iso8859-1";
        return e ? PyUnicode_Decode((const char *)s, (Py_ssize_t)n, e, "strict") : NULL;
    }
    case MODE_MARC8_RAW: {
        wb_buf out = {0};
        unsigned g0 = 0x42, g1 = 0x45;
        long rc = wb_marc8_to_utf8_pymarc(&out, s, n, &g0, &g1);
        if (rc == -2) {
            wb_buf_free(&out);
            PyObject *ex = PyObject_CallFunction(PyExc_UnicodeDecodeError, "sy#nns", "marc8_to_unicode",
                                                 (const char *)s, (Py_ssize_t)n, (Py_ssize_t)0, (Py_ssize_t)n,
                                                 "invalid multibyte character encoding");
            if (ex) {
                PyErr_SetObject(PyExc_UnicodeDecodeError, ex);
                Py_DECREF(ex);
            }
            return NULL;
        }
        if (rc < 0) {
            wb_buf_free(&out);
            return PyErr_NoMemory();
        }
        PyObject *u = decode_value(out.p ? out.p : (const uint8_t *)"", out.len, MODE_MARC8, NULL);
        wb_buf_free(&out);
        return u;
    }
    case MODE_MARC8: {
        PyObject *u = PyUnicode_DecodeUTF8((const char *)s, (Py_ssize_t)n, "replace");
        if (!u || PyUnicode_IS_ASCII(u))
            return u;
        PyObject *v = PyObject_CallFunctionObjArgs(G.normalize, G.s_nfc, u, NULL);
        Py_DECREF(u);
        return v;
    }
    default: PyErr_SetString(PyExc_ValueError, "unknown payload kind"); return NULL;
    }
}

static PyObject *make_pair(PyObject *cls, PyObject *a, PyObject *b)
{
    PyTypeObject *t = (PyTypeObject *)cls;
    PyObject *o = t->tp_alloc(t, 2);
    if (!o) {
        Py_DECREF(a);
        Py_DECREF(b);
        return NULL;
    }
    PyTuple_SET_ITEM(o, 0, a);
    PyTuple_SET_ITEM(o, 1, b);
    return o;
}


/* Length of the subfield code at s[0..n): one UTF-8 character (1 byte for
 * ASCII, the common case). */
static size_t code_len(const uint8_t *s, size_t n)
{
    if (!n)
        return 0;
    size_t want = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 1;
    return want <= n && wb_utf8_valid_prefix(s, want) == want ? want : 1;
}

static PyObject *build_field(const pl_view *v, size_t i, PyObject *enc)
{
    const uint8_t *d = v->p + 4 + 12 * i;
    unsigned kind = d[3];
    size_t off = get32(d + 4), len = get32(d + 8);
    if (off > v->n || len > v->n - off) {
        PyErr_SetString(PyExc_ValueError, "record payload is damaged");
        return NULL;
    }
    const uint8_t *s = v->p + off;
    PyObject *f = new_instance(kind == MODE_BYTES ? G.RawField : G.Field);
    if (!f)
        return NULL;
    /* every slot Field.__init__ sets */
    PyObject *tag = PyUnicode_DecodeLatin1((const char *)d, 3, NULL);
    if (!tag)
        goto fail;
    slot_put(f, G.off_tag, tag);
    slot_put(f, G.off_data, new_ref(Py_None));
    slot_put(f, G.off_ind, new_ref(Py_None));
    if (kind == MODE_NULL_CONTROL || is_control_tag(d)) {
        PyObject *subs = PyList_New(0);
        if (!subs)
            goto fail;
        slot_put(f, G.off_subs, subs);
        slot_put(f, G.off_control, new_ref(Py_True));
        if (kind == MODE_NULL_CONTROL)
            return f;
        /* pymarc decodes the control fields of MARC-8 records as Latin-1 */
        PyObject *data = kind == MODE_MARC8_RAW ? PyUnicode_DecodeLatin1((const char *)s, (Py_ssize_t)len, NULL)
                                                : decode_value(s, len, kind == MODE_MARC8 ? MODE_UTF8 : kind, enc);
        if (!data)
            goto fail;
        slot_put(f, G.off_data, data);
        return f;
    }
    slot_put(f, G.off_control, new_ref(Py_False));
    /* indicators: what comes before the first subfield delimiter (pymarc's
     * rules: none -> blanks, one -> it and a blank, more -> the first two) */
    const uint8_t *sd = memchr(s, WB_MARC_SD, len);
    size_t ilen = sd ? (size_t)(sd - s) : len;
    PyObject *i1, *i2;
    i1 = PyUnicode_DecodeLatin1(ilen > 0 ? (const char *)s : " ", 1, NULL);
    i2 = PyUnicode_DecodeLatin1(ilen > 1 ? (const char *)s + 1 : " ", 1, NULL);
    if (!i1 || !i2) {
        Py_XDECREF(i1);
        Py_XDECREF(i2);
        goto fail;
    }
    PyObject *ind = make_pair(G.Indicators, i1, i2);
    if (!ind)
        goto fail;
    slot_put(f, G.off_ind, ind);
    PyObject *subs = PyList_New(0);
    if (!subs)
        goto fail;
    size_t pos = ilen;
    while (pos < len) {
        /* s[pos] is a subfield delimiter */
        size_t start = pos + 1;
        const uint8_t *nx = memchr(s + start, WB_MARC_SD, len - start);
        size_t end = nx ? (size_t)(nx - s) : len;
        pos = end;
        if (end == start)
            continue; /* empty subfield: pymarc skips it */
        size_t cl = 1;
        PyObject *code;
        if (s[start] < 0x80) {
            code = PyUnicode_DecodeLatin1((const char *)s + start, 1, NULL);
        } else if (G.normalize_code) {
            /* pymarc's normalize_subfield_code (and its warning) */
            PyObject *sub = PyBytes_FromStringAndSize((const char *)s + start, (Py_ssize_t)(end - start));
            PyObject *res = sub ? PyObject_CallOneArg(G.normalize_code, sub) : NULL;
            Py_XDECREF(sub);
            Py_ssize_t skip = 1;
            code = NULL;
            if (res && PyArg_ParseTuple(res, "On", &code, &skip) && skip >= 1 && (size_t)skip <= end - start) {
                Py_INCREF(code);
                cl = (size_t)skip;
            } else if (res && !PyErr_Occurred()) {
                PyErr_SetString(PyExc_ValueError, "normalize_code returned a bad skip");
            }
            Py_XDECREF(res);
        } else {
            cl = code_len(s + start, end - start);
            code = PyUnicode_DecodeUTF8((const char *)s + start, (Py_ssize_t)cl, "replace");
        }
        PyObject *val = code ? decode_value(s + start + cl, end - start - cl, kind, enc) : NULL;
        if (!code || !val) {
            Py_XDECREF(code);
            Py_XDECREF(val);
            Py_DECREF(subs);
            goto fail;
        }
        PyObject *sf = make_pair(G.Subfield, code, val);
        if (!sf || PyList_Append(subs, sf) < 0) {
            Py_XDECREF(sf);
            Py_DECREF(subs);
            goto fail;
        }
        Py_DECREF(sf);
    }
    slot_put(f, G.off_subs, subs);
    return f;
fail:
    Py_DECREF(f);
    return NULL;
}

/* The field at index i of record r's payload, from r._cache (a list with
 * one slot per payload field, None until built) or new (and then cached,
 * so the same Field object comes back every time). */
static PyObject *cached_field(PyObject *r, PyObject **cache, const pl_view *v, size_t i, PyObject *enc)
{
    if (*cache == NULL || !PyList_CheckExact(*cache) || (size_t)PyList_GET_SIZE(*cache) != v->nfields) {
        PyObject *l = PyList_New((Py_ssize_t)v->nfields);
        if (!l)
            return NULL;
        for (size_t k = 0; k < v->nfields; k++) {
            Py_INCREF(Py_None);
            PyList_SET_ITEM(l, (Py_ssize_t)k, Py_None);
        }
        slot_put(r, G.off_cache, l); /* the record holds it */
        *cache = l;
    }
    PyObject *f = PyList_GET_ITEM(*cache, (Py_ssize_t)i);
    if (f != Py_None) {
        Py_INCREF(f);
        return f;
    }
    /* building may run Python code (a warning filter) that replaces
     * r._cache: keep this list alive until the field is stored in it */
    PyObject *l = *cache;
    Py_INCREF(l);
    if (!(f = build_field(v, i, enc))) {
        Py_DECREF(l);
        return NULL;
    }
    Py_INCREF(f);
    PyList_SetItem(l, (Py_ssize_t)i, f); /* steals one reference */
    Py_DECREF(l);
    return f;
}

typedef struct rec_view {
    PyObject *raw, *cache, *enc;
    pl_view v;
} rec_view;

/* r's payload state: raw is a new reference (building a field may run
 * Python code that replaces r._raw; rec_close drops it), cache borrowed
 * (cached_field keeps it alive while it builds). */
static int rec_open(PyObject *r, rec_view *rv)
{
    if (!PyObject_TypeCheck(r, (PyTypeObject *)G.Record)) {
        PyErr_Format(PyExc_TypeError, "expected a wirebuf.marc.Record, not %.80s", Py_TYPE(r)->tp_name);
        return -1;
    }
    rv->raw = slot_get(r, G.off_raw);
    rv->cache = slot_get(r, G.off_cache);
    rv->enc = NULL;
    if (pl_open(rv->raw ? rv->raw : Py_None, &rv->v) < 0)
        return -1;
    Py_INCREF(rv->raw);
    /* the record's file_encoding matters only for MODE_OTHER values */
    for (size_t i = 0; i < rv->v.nfields; i++)
        if (rv->v.p[4 + 12 * i + 3] == MODE_OTHER) {
            rv->enc = PyObject_GetAttr(r, G.s_enc);
            if (!rv->enc)
                PyErr_Clear();
            break;
        }
    return 0;
}

static void rec_close(rec_view *rv)
{
    Py_CLEAR(rv->raw);
    Py_CLEAR(rv->enc);
}

/* get_fields(record, tags) -> list of Fields with those tags (all if tags
 * is empty), in record order, without building the others. */
static PyObject *py_get_fields(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *r, *tags;
    if (!PyArg_ParseTuple(args, "OO!", &r, &PyTuple_Type, &tags))
        return NULL;
    rec_view rv;
    if (rec_open(r, &rv) < 0)
        return NULL;
    Py_ssize_t nt = PyTuple_GET_SIZE(tags);
    char want[16][3];
    if (nt > 16)
        nt = -1; /* many tags: compare by string below */
    for (Py_ssize_t k = 0; k < nt; k++) {
        PyObject *t = PyTuple_GET_ITEM(tags, k);
        Py_ssize_t tl;
        const char *ts = PyUnicode_Check(t) ? PyUnicode_AsUTF8AndSize(t, &tl) : NULL;
        if (!ts) {
            PyErr_Clear();
            tl = 0;
        }
        if (tl != 3)
            memset(want[k], 0xFF, 3); /* matches no tag */
        else
            memcpy(want[k], ts, 3);
    }
    PyObject *out = PyList_New(0);
    if (!out) {
        rec_close(&rv);
        return NULL;
    }
    for (size_t i = 0; i < rv.v.nfields; i++) {
        const uint8_t *d = rv.v.p + 4 + 12 * i;
        int hit = nt == 0;
        if (nt > 0) {
            for (Py_ssize_t k = 0; k < nt && !hit; k++)
                hit = memcmp(d, want[k], 3) == 0;
        } else if (nt < 0) {
            PyObject *t = PyUnicode_DecodeLatin1((const char *)d, 3, NULL);
            hit = t ? PySequence_Contains(tags, t) : -1;
            Py_XDECREF(t);
            if (hit < 0) {
                Py_DECREF(out);
                rec_close(&rv);
                return NULL;
            }
        }
        if (!hit)
            continue;
        PyObject *f = cached_field(r, &rv.cache, &rv.v, i, rv.enc);
        if (!f || PyList_Append(out, f) < 0) {
            Py_XDECREF(f);
            Py_DECREF(out);
            rec_close(&rv);
            return NULL;
        }
        Py_DECREF(f);
    }
    rec_close(&rv);
    return out;
}

/* Record[tag] (pymarc: the first field whose tag == tag, else a bare
 * KeyError). A record still in payload form compares the payload's tags
 * and builds only the field found; one whose fields were built (or that
 * was made by hand) looks through _fields as pymarc does. */
static PyObject *record_subscript(PyObject *self, PyObject *tag)
{
    if (!PyObject_TypeCheck(self, (PyTypeObject *)G.Record)) {
        PyErr_Format(PyExc_TypeError, "expected a wirebuf.marc.Record, not %.80s", Py_TYPE(self)->tp_name);
        return NULL;
    }
    PyObject *fl = slot_get(self, G.off_fields);
    if (!fl || fl == Py_None) {
        rec_view rv;
        if (rec_open(self, &rv) < 0)
            return NULL;
        const char *t = NULL;
        if (PyUnicode_Check(tag) && PyUnicode_IS_COMPACT_ASCII(tag) && PyUnicode_GET_LENGTH(tag) == 3)
            t = (const char *)PyUnicode_DATA(tag);
        for (size_t i = 0; i < rv.v.nfields; i++) {
            const uint8_t *d = rv.v.p + 4 + 12 * i;
            int hit;
            if (t) {
                hit = d[0] == (uint8_t)t[0] && d[1] == (uint8_t)t[1] && d[2] == (uint8_t)t[2];
            } else {
                /* any other key: compare as pymarc does, f.tag == tag */
                PyObject *ft = PyUnicode_DecodeLatin1((const char *)d, 3, NULL);
                PyObject *eq = ft ? PyObject_RichCompare(ft, tag, Py_EQ) : NULL;
                Py_XDECREF(ft);
                hit = eq ? PyObject_IsTrue(eq) : -1;
                Py_XDECREF(eq);
                if (hit < 0) {
                    rec_close(&rv);
                    return NULL;
                }
            }
            if (hit) {
                PyObject *f = cached_field(self, &rv.cache, &rv.v, i, rv.enc);
                rec_close(&rv);
                return f;
            }
        }
        rec_close(&rv);
        PyErr_SetNone(PyExc_KeyError);
        return NULL;
    }
    PyObject *it = PyObject_GetIter(fl);
    if (!it)
        return NULL;
    PyObject *f;
    while ((f = PyIter_Next(it))) {
        PyObject *ft = PyObject_GetAttr(f, G.s_tag);
        PyObject *eq = ft ? PyObject_RichCompare(ft, tag, Py_EQ) : NULL;
        Py_XDECREF(ft);
        int hit = eq ? PyObject_IsTrue(eq) : -1;
        Py_XDECREF(eq);
        if (hit != 0) {
            Py_DECREF(it);
            if (hit > 0)
                return f;
            Py_DECREF(f);
            return NULL;
        }
        Py_DECREF(f);
    }
    Py_DECREF(it);
    if (!PyErr_Occurred())
        PyErr_SetNone(PyExc_KeyError);
    return NULL;
}

/* Field[code] (pymarc: the value of the first subfield whose code ==
 * code; a bare KeyError when there is none or for a control field). */
static PyObject *field_subscript(PyObject *self, PyObject *code)
{
    if (!PyObject_TypeCheck(self, (PyTypeObject *)G.Field)) {
        PyErr_Format(PyExc_TypeError, "expected a wirebuf.marc.Field, not %.80s", Py_TYPE(self)->tp_name);
        return NULL;
    }
    /* Field and RawField themselves: straight from the slots; a subclass
     * may override the attributes, so ask it */
    int exact = Py_TYPE(self) == (PyTypeObject *)G.Field || Py_TYPE(self) == (PyTypeObject *)G.RawField;
    PyObject *ctl = exact ? slot_get(self, G.off_control) : PyObject_GetAttr(self, G.s_control);
    if (!ctl && !exact)
        return NULL;
    int is_ctl = ctl == Py_False ? 0 : ctl == Py_True ? 1 : ctl ? PyObject_IsTrue(ctl) : 0;
    if (!exact)
        Py_DECREF(ctl);
    if (is_ctl < 0)
        return NULL;
    if (is_ctl) {
        PyErr_SetNone(PyExc_KeyError);
        return NULL;
    }
    PyObject *subs;
    if (exact) {
        subs = slot_get(self, G.off_subs);
        if (!subs) {
            PyErr_SetString(PyExc_AttributeError, "subfields");
            return NULL;
        }
        Py_INCREF(subs);
    } else if (!(subs = PyObject_GetAttr(self, G.s_subfields))) {
        return NULL;
    }
    PyObject *res = NULL;
    if (PyList_CheckExact(subs) && PyUnicode_CheckExact(code)) {
        /* the usual case: a list of Subfield(str, value) */
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(subs); i++) {
            PyObject *sf = PyList_GET_ITEM(subs, i);
            if (!PyTuple_Check(sf) || PyTuple_GET_SIZE(sf) < 2 || !PyUnicode_CheckExact(PyTuple_GET_ITEM(sf, 0)))
                goto general;
            PyObject *c = PyTuple_GET_ITEM(sf, 0);
            if (c == code || PyUnicode_Compare(c, code) == 0) {
                res = PyTuple_GET_ITEM(sf, 1);
                Py_INCREF(res);
                Py_DECREF(subs);
                return res;
            }
        }
        Py_DECREF(subs);
        PyErr_SetNone(PyExc_KeyError);
        return NULL;
    }
general:;
    /* anything else: for sf in self.subfields: if sf[0] == code: return sf[1] */
    PyObject *it = PyObject_GetIter(subs);
    Py_DECREF(subs);
    if (!it)
        return NULL;
    PyObject *sf;
    while ((sf = PyIter_Next(it))) {
        PyObject *c = PySequence_GetItem(sf, 0);
        PyObject *eq = c ? PyObject_RichCompare(c, code, Py_EQ) : NULL;
        Py_XDECREF(c);
        int hit = eq ? PyObject_IsTrue(eq) : -1;
        Py_XDECREF(eq);
        if (hit != 0) {
            if (hit > 0)
                res = PySequence_GetItem(sf, 1);
            Py_DECREF(sf);
            Py_DECREF(it);
            return res;
        }
        Py_DECREF(sf);
    }
    Py_DECREF(it);
    if (!PyErr_Occurred())
        PyErr_SetNone(PyExc_KeyError);
    return NULL;
}

static PyMappingMethods record_mapping = {.mp_subscript = record_subscript};
static PyMappingMethods field_mapping = {.mp_subscript = field_subscript};

/* Bases of the Python Record and Field classes: no state of their own
 * (instances keep everything in their __dict__, so copy and pickle are
 * unaffected), only the C lookups record[tag] and field[code]. */
static PyTypeObject RecordBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "wirebuf._marc.RecordBase",
    .tp_basicsize = sizeof(PyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "C lookups of wirebuf.marc.Record (record[tag])",
    .tp_as_mapping = &record_mapping,
    .tp_new = PyType_GenericNew,
};
static PyTypeObject FieldBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "wirebuf._marc.FieldBase",
    .tp_basicsize = sizeof(PyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "C lookups of wirebuf.marc.Field (field[code])",
    .tp_as_mapping = &field_mapping,
    .tp_new = PyType_GenericNew,
};

/* leader(record) -> the payload's leader as str. */
static PyObject *py_leader(PyObject *self, PyObject *r)
{
    (void)self;
    rec_view rv;
    if (rec_open(r, &rv) < 0)
        return NULL;
    PyObject *l = PyUnicode_DecodeLatin1((const char *)rv.v.p + 4 + 12 * rv.v.nfields, WB_MARC_LEADER_LEN, NULL);
    rec_close(&rv);
    return l;
}

/* ---- serialising Python records ------------------------------------------ */

static int put_str(wb_buf *b, PyObject *o, const char *encoding, const char *what)
{
    if (PyBytes_Check(o))
        return wb_buf_append(b, PyBytes_AS_STRING(o), (size_t)PyBytes_GET_SIZE(o)) ? (PyErr_NoMemory(), -1) : 0;
    if (!PyUnicode_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be str, not %.80s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    if (strcmp(encoding, "utf-8") == 0) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(o, &n);
        if (!s)
            return -1;
        return wb_buf_append(b, s, (size_t)n) ? (PyErr_NoMemory(), -1) : 0;
    }
    PyObject *e = PyUnicode_AsEncodedString(o, encoding, "strict");
    if (!e)
        return -1;
    int rc = wb_buf_append(b, PyBytes_AS_STRING(e), (size_t)PyBytes_GET_SIZE(e));
    Py_DECREF(e);
    return rc ? (PyErr_NoMemory(), -1) : 0;
}

/* Assemble ISO 2709 from a leader (str) and a sequence of pymarc Fields, as
 * pymarc's Record.as_marc() does: directory rebuilt, record length and base
 * address recomputed, values encoded with `encoding`. */
static int assemble(wb_buf *out, PyObject *leader, PyObject *fields, const char *encoding)
{
    PyObject *seq = PySequence_Fast(fields, "fields must be a sequence");
    if (!seq)
        return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    wb_buf dir = {0}, data = {0};
    int rc = -1;
    char ent[16];
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = PySequence_Fast_GET_ITEM(seq, i);
        size_t start = data.len;
        PyObject *tag = PyObject_GetAttr(f, G.s_tag);
        if (!tag)
            goto done;
        Py_ssize_t tl = 0;
        const char *ts = PyUnicode_Check(tag) ? PyUnicode_AsUTF8AndSize(tag, &tl) : NULL;
        if (!ts || tl != 3) {
            if (!PyErr_Occurred())
                PyErr_Format(PyExc_ValueError, "field tag must be 3 characters, got %R", tag);
            Py_DECREF(tag);
            goto done;
        }
        memcpy(ent, ts, 3);
        Py_DECREF(tag);
        PyObject *ctl = PyObject_GetAttr(f, G.s_control);
        int is_ctl = ctl ? PyObject_IsTrue(ctl) : -1;
        Py_XDECREF(ctl);
        if (is_ctl < 0)
            goto done;
        if (is_ctl) {
            PyObject *d = PyObject_GetAttr(f, G.s_data);
            int r2 = !d ? -1 : d == Py_None ? 0 : put_str(&data, d, encoding, "control field data");
            Py_XDECREF(d);
            if (r2 < 0)
                goto done;
        } else {
            PyObject *ind = PyObject_GetAttr(f, G.s_indicators);
            PyObject *iseq = ind ? PySequence_Fast(ind, "indicators must be a sequence of two") : NULL;
            Py_XDECREF(ind);
            if (!iseq)
                goto done;
            for (Py_ssize_t k = 0; k < 2; k++) {
                PyObject *c = k < PySequence_Fast_GET_SIZE(iseq) ? PySequence_Fast_GET_ITEM(iseq, k) : NULL;
                int r2 = !c || c == Py_None ? wb_buf_putc(&data, ' ') : put_str(&data, c, encoding, "indicator");
                if (r2 < 0) {
                    Py_DECREF(iseq);
                    goto done;
                }
            }
            Py_DECREF(iseq);
            PyObject *subs = PyObject_GetAttr(f, G.s_subfields);
            PyObject *sseq = subs ? PySequence_Fast(subs, "subfields must be a list") : NULL;
            Py_XDECREF(subs);
            if (!sseq)
                goto done;
            for (Py_ssize_t k = 0; k < PySequence_Fast_GET_SIZE(sseq); k++) {
                PyObject *sf = PySequence_Fast_GET_ITEM(sseq, k);
                if (!PyTuple_Check(sf) || PyTuple_GET_SIZE(sf) != 2) {
                    PyErr_SetString(PyExc_TypeError, "subfields must be Subfield(code, value) items");
                    Py_DECREF(sseq);
                    goto done;
                }
                if (wb_buf_putc(&data, WB_MARC_SD) < 0 ||
                    put_str(&data, PyTuple_GET_ITEM(sf, 0), encoding, "subfield code") < 0 ||
                    put_str(&data, PyTuple_GET_ITEM(sf, 1), encoding, "subfield value") < 0) {
                    Py_DECREF(sseq);
                    goto done;
                }
            }
            Py_DECREF(sseq);
        }
        if (wb_buf_putc(&data, WB_MARC_FT) < 0)
            goto nomem;
        snprintf(ent + 3, sizeof ent - 3, "%04zu%05zu", (data.len - start) % 10000, start % 100000);
        if (wb_buf_append(&dir, ent, 12) < 0)
            goto nomem;
    }
    if (wb_buf_putc(&dir, WB_MARC_FT) < 0 || wb_buf_putc(&data, WB_MARC_RT) < 0)
        goto nomem;
    {
        wb_buf lb = {0};
        if (put_str(&lb, leader, "utf-8", "leader") < 0) {
            wb_buf_free(&lb);
            goto done;
        }
        char l[WB_MARC_LEADER_LEN + 1];
        memset(l, ' ', WB_MARC_LEADER_LEN);
        memcpy(l, lb.p, lb.len < WB_MARC_LEADER_LEN ? lb.len : WB_MARC_LEADER_LEN);
        wb_buf_free(&lb);
        size_t base = WB_MARC_LEADER_LEN + dir.len, total = base + data.len;
        char num[8];
        snprintf(num, sizeof num, "%05zu", total > 99999 ? (size_t)99999 : total);
        memcpy(l, num, 5);
        snprintf(num, sizeof num, "%05zu", base > 99999 ? (size_t)99999 : base);
        memcpy(l + 12, num, 5);
        if (wb_buf_append(out, l, WB_MARC_LEADER_LEN) < 0 || wb_buf_append(out, dir.p, dir.len) < 0 ||
            wb_buf_append(out, data.p, data.len) < 0)
            goto nomem;
    }
    rc = 0;
    goto done;
nomem:
    PyErr_NoMemory();
done:
    Py_DECREF(seq);
    wb_buf_free(&dir);
    wb_buf_free(&data);
    return rc;
}

/* serialize(leader, fields, fmt, encoding) -> bytes. fmt: "marc" (ISO 2709,
 * values in `encoding`), "xml" (one MARCXML <record>), "json" (one
 * MARC-in-JSON object), "mrk" (MARCMaker), "text" (dump). The non-ISO
 * formats assemble UTF-8 ISO 2709 and run the C writers over it. */
static PyObject *py_serialize(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *leader, *fields;
    const char *fmt, *encoding = "utf-8";
    if (!PyArg_ParseTuple(args, "OOs|s", &leader, &fields, &fmt, &encoding))
        return NULL;
    int marc = strcmp(fmt, "marc") == 0;
    wb_buf iso = {0}, out = {0};
    if (assemble(&iso, leader, fields, marc ? encoding : "utf-8") < 0) {
        wb_buf_free(&iso);
        return NULL;
    }
    if (marc) {
        PyObject *b = PyBytes_FromStringAndSize((const char *)iso.p, (Py_ssize_t)iso.len);
        wb_buf_free(&iso);
        return b;
    }
    wb_marc_record rec = {0};
    wb_marc_error e = {0};
    PyObject *res = NULL;
    if (wb_marc_parse(&rec, iso.p, iso.len, 0, &e) < 0) {
        PyErr_Format(PyExc_ValueError, "record cannot be serialised: %s", e.msg);
        goto out;
    }
    rec.leader_buf[9] = 'a';
    memcpy(rec.leader_buf, rec.leader, WB_MARC_LEADER_LEN);
    int rc;
    if (strcmp(fmt, "xml") == 0)
        rc = wb_marc_write_marcxml(&out, &rec);
    else if (strcmp(fmt, "json") == 0)
        rc = wb_marc_write_json(&out, &rec, 1);
    else if (strcmp(fmt, "mrk") == 0)
        rc = wb_marc_write_mrk(&out, &rec);
    else if (strcmp(fmt, "text") == 0)
        rc = wb_marc_write_text(&out, &rec);
    else {
        PyErr_Format(PyExc_ValueError, "unknown format %s (marc, xml, json, mrk, text)", fmt);
        goto out;
    }
    if (rc)
        PyErr_NoMemory();
    else
        res = PyBytes_FromStringAndSize((const char *)out.p, (Py_ssize_t)out.len);
out:
    wb_marc_record_free(&rec);
    wb_buf_free(&iso);
    wb_buf_free(&out);
    return res;
}

/* ---- configuration from Python arguments --------------------------------- */

static int parse_cfg(cfg *c, int to_unicode, int force_utf8, const char *handling, PyObject *file_encoding,
                     int strict)
{
    memset(c, 0, sizeof *c);
    c->to_unicode = to_unicode;
    c->force_utf8 = force_utf8;
    if (strcmp(handling, "strict") == 0)
        c->handling = MODE_UTF8;
    else if (strcmp(handling, "replace") == 0)
        c->handling = MODE_REPLACE;
    else if (strcmp(handling, "ignore") == 0)
        c->handling = MODE_IGNORE;
    else {
        PyErr_Format(PyExc_ValueError, "utf8_handling must be 'strict', 'replace' or 'ignore', not '%s'",
                     handling);
        return -1;
    }
    if (!PyUnicode_Check(file_encoding)) {
        PyErr_SetString(PyExc_TypeError, "file_encoding must be a str");
        return -1;
    }
    const char *fe = PyUnicode_AsUTF8(file_encoding);
    if (!fe)
        return -1;
    c->marc8 = strcmp(fe, "iso8859-1") == 0;
    /* pymarc's default mode raises on framing errors but reads records whose
     * leader or directory has defects it does not check: frame strictly,
     * parse permissively (repairs). permissive=True also resyncs framing. */
    c->flags = strict ? WB_MARC_STRICT_FRAMING : 0;
    return 0;
}

/* decode(data, to_unicode, force_utf8, utf8_handling, file_encoding)
 * -> (payload, kind): one record, as Record(data) / decode_marc() need. */
static PyObject *py_decode(PyObject *self, PyObject *args)
{
    (void)self;
    Py_buffer buf;
    int to_unicode = 1, force_utf8 = 0;
    const char *handling = "strict";
    PyObject *fe = NULL;
    if (!PyArg_ParseTuple(args, "y*|ppsU", &buf, &to_unicode, &force_utf8, &handling, &fe))
        return NULL;
    cfg c;
    PyObject *res = NULL;
    if (parse_cfg(&c, to_unicode, force_utf8, handling, fe ? fe : G.s_latin1, 0) < 0) {
        PyBuffer_Release(&buf);
        return NULL;
    }
    wb_buf out = {0};
    const uint8_t *p = buf.buf;
    size_t n = (size_t)buf.len;
    uint32_t kind = 0;
    pm_err pe = {0};
    if (pm_decode(&c, p, n, &out, &kind, &pe) < 0) {
        PyObject *ex = pm_exception(&pe, p, n);
        if (ex) {
            PyErr_SetObject((PyObject *)Py_TYPE(ex), ex);
            Py_DECREF(ex);
        }
        goto out;
    }
    res = Py_BuildValue("y#I", (const char *)out.p, (Py_ssize_t)out.len, (unsigned)kind);
out:
    wb_buf_free(&out);
    PyBuffer_Release(&buf);
    return res;
}

/* marc8_to_unicode(data) -> str, NFC-normalised (as pymarc). */
static PyObject *py_marc8_to_unicode(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *arg, *b = NULL;
    unsigned g0 = 0x42, g1 = 0x45;
    if (!PyArg_ParseTuple(args, "O|II", &arg, &g0, &g1))
        return NULL;
    if (PyUnicode_Check(arg)) {
        b = PyUnicode_AsEncodedString(arg, "latin-1", "replace");
        if (!b)
            return NULL;
        arg = b;
    }
    Py_buffer buf;
    if (PyObject_GetBuffer(arg, &buf, PyBUF_SIMPLE) < 0) {
        Py_XDECREF(b);
        return NULL;
    }
    wb_buf out = {0};
    long rc;
    Py_BEGIN_ALLOW_THREADS
    rc = wb_marc8_to_utf8_pymarc(&out, buf.buf, (size_t)buf.len, &g0, &g1);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&buf);
    Py_XDECREF(b);
    if (rc == -2) {
        wb_buf_free(&out);
        PyErr_SetString(PyExc_TypeError, "MARC-8 escape sequence cut short");
        return NULL;
    }
    if (rc < 0) {
        wb_buf_free(&out);
        return PyErr_NoMemory();
    }
    PyObject *u = decode_value(out.p ? out.p : (const uint8_t *)"", out.len, MODE_MARC8, NULL);
    wb_buf_free(&out);
    return u ? Py_BuildValue("NIIl", u, g0, g1, rc) : NULL;
}

/* ---- pymarc-mode reading: framing as pymarc's MARCReader.__next__ ------- */

typedef struct pm_item {
    int bad;                 /* 1: e says why (no payload) */
    uint32_t kind;           /* payload kind (MODE_*, KIND_BAD_CODES) */
    size_t out_off, out_len; /* payload in batch->out */
    size_t raw_off, raw_len; /* the chunk (pymarc's current_chunk) in batch->out */
    uint64_t offset;         /* stream offset of the chunk */
    pm_err e;
} pm_item;

typedef struct pm_batch {
    size_t n, i;
    int eof, stop;  /* clean end of input / a fatal item ends the input */
    char readerr[200];
    wb_buf out; /* payloads (each holding its chunk) and the chunks of bad records */
    pm_item items[WB_PIPELINE_MAX_BATCH];
} pm_batch;

/* Frame and decode up to maxn records (maxbytes of input) from s into b, as
 * pymarc would one next() at a time. Runs without the GIL; touches only b,
 * s and the read-only cfg. */
static void pm_fill(pm_batch *b, wb_stream *s, const cfg *c, size_t maxn, size_t maxbytes)
{
    b->n = b->i = 0;
    b->out.len = 0;
    while (b->n < maxn && b->out.len < maxbytes && !b->stop) {
        pm_item *it = &b->items[b->n];
        memset(it, 0, sizeof *it);
        it->offset = wb_stream_offset(s);
        size_t avail = 0, len;
        const uint8_t *p = wb_stream_need(s, 5, &avail);
        int kind = PE_NONE;
        if (!p && wb_stream_error(s)) {
            kind = PE_READ;
        } else if (!p && avail == 0) {
            b->eof = b->stop = 1;
            break;
        } else if (!p) {
            p = wb_stream_peek(s, &len); /* read(5) gave fewer than 5 bytes */
            kind = PE_TRUNCATED;
        } else {
            long long L;
            if (py_int(p, 5, 0, &L) < 0) {
                len = 5;
                kind = PE_LENGTH;
            } else if (L < 5) {
                /* read(length - 5) with a negative length reads everything */
                ssize_t k;
                while ((k = wb_stream_fill(s)) > 0)
                    ;
                if (k < 0)
                    kind = PE_READ;
                else
                    p = wb_stream_peek(s, &len);
            } else if (!(p = wb_stream_need(s, (size_t)L, &avail))) {
                if (wb_stream_error(s)) {
                    kind = PE_READ;
                } else {
                    p = wb_stream_peek(s, &len);
                    kind = PE_TRUNCATED;
                }
            } else {
                len = (size_t)L;
            }
            if (kind == PE_NONE && p[len - 1] != WB_MARC_RT)
                kind = PE_EOR;
        }
        if (kind == PE_READ) {
            snprintf(b->readerr, sizeof b->readerr, "%s", wb_stream_error(s) ? wb_stream_error(s) : "read error");
            it->bad = 1;
            it->e.kind = PE_READ;
            b->n++;
            b->stop = 1;
            break;
        }
        /* a record's payload holds its chunk; a bad one keeps the chunk alone */
        it->raw_len = len;
        it->out_off = b->out.len;
        if (kind == PE_NONE && pm_decode(c, p, len, &b->out, &it->kind, &it->e) == 0) {
            it->out_len = b->out.len - it->out_off;
            it->raw_off = it->out_off + 4 + 12 * (size_t)get32(b->out.p + it->out_off);
        } else {
            if (kind != PE_NONE)
                it->e.kind = kind;
            it->bad = 1;
            b->out.len = it->out_off;
            it->raw_off = b->out.len;
            if (wb_buf_append(&b->out, p, len) != 0) {
                it->e.kind = PE_OOM;
                it->raw_len = 0;
                kind = PE_OOM;
            }
        }
        wb_stream_consume(s, len);
        b->n++;
        if (kind != PE_NONE) {
            b->stop = 1; /* pymarc: a FatalReaderError ends the iteration */
            break;
        }
    }
}

static void pm_free(pm_batch *b)
{
    if (b) {
        wb_buf_free(&b->out);
        PyMem_RawFree(b);
    }
}

/* pymarc mode with threads >= 2: one worker fills the next batch while
 * Python consumes the current one (double buffering). The worker touches
 * only the stream, the read-only cfg and the batch it was handed; batches
 * change hands under `mu`. */
typedef struct pm_pref {
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pm_batch *ready; /* filled, waiting for the consumer */
    pm_batch *spare; /* empty, for the worker to fill */
    int stop;        /* the owner asks the worker to exit */
    int done;        /* the worker filled a batch that ends the input */
    wb_stream *s;
    const void *c;
    size_t batch, batch_bytes;
} pm_pref;

static void pm_fill(pm_batch *b, wb_stream *s, const cfg *c, size_t maxn, size_t maxbytes);

static void *pm_worker(void *arg)
{
    pm_pref *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && (w->spare == NULL || w->done))
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop)
            break;
        pm_batch *b = w->spare;
        w->spare = NULL;
        pthread_mutex_unlock(&w->mu);
        pm_fill(b, w->s, w->c, w->batch, w->batch_bytes);
        pthread_mutex_lock(&w->mu);
        w->ready = b;
        if (b->stop)
            w->done = 1;
        pthread_cond_broadcast(&w->cv);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

/* Stop and join the worker, free its batches. Call without the GIL (the
 * worker may be waiting for it inside .read()). */
static void pm_pref_free(pm_pref *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->th, NULL);
    pm_free(w->ready);
    pm_free(w->spare);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
    PyMem_RawFree(w);
}

/* marc8_table(final) -> {code: (code point, combining)}: pymarc's CHARSET
 * table for that set, from wirebuf's tables (for wirebuf.marc.marc8_mapping). */
static PyObject *py_marc8_table(PyObject *self, PyObject *arg)
{
    (void)self;
    unsigned long f = PyLong_AsUnsignedLong(arg);
    if (f == (unsigned long)-1 && PyErr_Occurred())
        return NULL;
    PyObject *d = PyDict_New();
    if (!d)
        return NULL;
    uint32_t lo = 0x1B, hi = 0xFF;
    int eacc = f == 0x31;
    for (uint32_t a = eacc ? 0x21 : 0; a <= (eacc ? 0x7Fu : 0u); a++)
        for (uint32_t b = eacc ? 0x20 : 0; b <= (eacc ? 0x7Fu : 0u); b++)
            for (uint32_t c = eacc ? 0x14 : lo; c <= (eacc ? 0x7Fu : hi); c++) {
                uint32_t code = eacc ? a << 16 | b << 8 | c : c;
                uint32_t u = wb_marc8_lookup_pymarc((unsigned)f, code);
                if (!u)
                    continue;
                PyObject *k = PyLong_FromUnsignedLong(code);
                PyObject *v = Py_BuildValue("(ki)", (unsigned long)(u & 0x7FFFFFFFu), (u & 0x80000000u) ? 1 : 0);
                if (!k || !v || PyDict_SetItem(d, k, v) < 0) {
                    Py_XDECREF(k);
                    Py_XDECREF(v);
                    Py_DECREF(d);
                    return NULL;
                }
                Py_DECREF(k);
                Py_DECREF(v);
            }
    return d;
}

/* ---- the Reader type ----------------------------------------------------- */

typedef struct Reader {
    PyObject_HEAD
    wb_stream *s;
    int fd;
    Py_buffer view;
    int have_view;
    PyObject *file;          /* object with .read() */
    PyObject *read_exc;      /* exception raised by .read() (set by the framer) */
    wb_marc_pipeline *p;
    wb_marc_batch *b;
    size_t i;
    wb_marc_reader *seq;     /* MARCXML / JSON / MRK: the sequential C reader */
    int format;
    cfg c;
    PyObject *enc;
    int permissive, done;
    PyObject *cur_exc, *cur_chunk;
    const char *backend;
    unsigned threads;
    /* One owner at a time (section "reader state" below): `lock` is held by
     * the thread inside next()/close()/__init__ (also while it waits for the
     * pipeline with the GIL released); `owner` is its thread ident.
     * `read_thread` is the thread inside the file object's .read() (0 when
     * none), so a read() that calls back into the reader is refused instead
     * of deadlocking or freeing the pipeline under itself. All three are
     * read and written with the GIL held. */
    PyThread_type_lock lock;
    unsigned long owner, read_thread;
    /* native file object source: a dup of the object's descriptor, read
     * with pread from `pos` (regular file) or read (pipe) without the GIL,
     * after `prefix` (bytes the object had buffered, pipes only) */
    struct fdsrc {
        int fd, seekable;
        uint64_t start, pos; /* file offset where reading began / next pread */
        uint8_t *prefix;
        size_t plen, poff;
    } nat;
    PyObject *fobj;        /* the file object read natively (to seek it back) */
    pm_batch *pm;          /* pymarc mode (recover=False): the current batch */
    pm_pref *pref;         /* pymarc mode, threads >= 2: the worker filling the next batch */
    int pm_filling;        /* r->pm is being refilled or handed over without the GIL: getters
                              must not look at it (read/written with the GIL held) */
    size_t batch, batch_bytes;
    int recover;           /* wirebuf's repairs (the pipeline) instead of pymarc's semantics */
    uint64_t handed;       /* stream offset just past the last record handed out */
    int at_end;            /* the source reached its end: position the object at nat.pos */
} Reader;

/* Read from a file object's descriptor without the GIL (wb_read_fn). */
static ssize_t fd_read(void *ctx, uint8_t *buf, size_t cap, char *errbuf, size_t errlen)
{
    struct fdsrc *f = ctx;
    if (f->poff < f->plen) {
        size_t n = f->plen - f->poff < cap ? f->plen - f->poff : cap;
        memcpy(buf, f->prefix + f->poff, n);
        f->poff += n;
        return (ssize_t)n;
    }
    for (;;) {
        ssize_t n = f->seekable ? pread(f->fd, buf, cap, (off_t)f->pos) : read(f->fd, buf, cap);
        if (n >= 0) {
            f->pos += (uint64_t)n;
            return n;
        }
        if (errno != EINTR) {
            snprintf(errbuf, errlen, "read: %s", strerror(errno));
            return -1;
        }
    }
}

static ssize_t py_read(void *ctx, uint8_t *buf, size_t cap, char *errbuf, size_t errlen)
{
    Reader *r = ctx;
    ssize_t n = -1;
    PyGILState_STATE g = PyGILState_Ensure();
    if (!r->file) {
        snprintf(errbuf, errlen, "the reader was closed");
        PyGILState_Release(g);
        return -1;
    }
    PyObject *file = r->file;
    Py_INCREF(file);
    unsigned long prev = r->read_thread;
    r->read_thread = PyThread_get_thread_ident();
    PyObject *res = PyObject_CallMethod(file, "read", "n", (Py_ssize_t)cap);
    r->read_thread = prev;
    Py_DECREF(file);
    if (!res) {
        PyObject *t, *v, *tb;
        PyErr_Fetch(&t, &v, &tb);
        PyErr_NormalizeException(&t, &v, &tb);
        if (v && tb)
            PyException_SetTraceback(v, tb);
        Py_XDECREF(t);
        Py_XDECREF(tb);
        Py_XDECREF(r->read_exc);
        r->read_exc = v;
        snprintf(errbuf, errlen, "read() raised an exception");
    } else if (PyUnicode_Check(res)) {
        snprintf(errbuf, errlen, "read() returned str: open the file in binary mode ('rb')");
        Py_XDECREF(r->read_exc);
        r->read_exc = PyObject_CallFunction(PyExc_TypeError, "s", errbuf);
    } else {
        Py_buffer v;
        if (PyObject_GetBuffer(res, &v, PyBUF_SIMPLE) < 0) {
            PyErr_Clear();
            snprintf(errbuf, errlen, "read() returned %.60s, not bytes", Py_TYPE(res)->tp_name);
            Py_XDECREF(r->read_exc);
            r->read_exc = PyObject_CallFunction(PyExc_TypeError, "s", errbuf);
        } else {
            if ((size_t)v.len > cap) {
                snprintf(errbuf, errlen, "read(%zu) returned %zd bytes", cap, v.len);
            } else {
                memcpy(buf, v.buf, (size_t)v.len);
                n = v.len;
            }
            PyBuffer_Release(&v);
        }
    }
    Py_XDECREF(res);
    PyGILState_Release(g);
    return n;
}

static void reader_stop(Reader *r)
{
    if (r->p || r->seq) {
        wb_marc_pipeline *p = r->p;
        wb_marc_reader *sq = r->seq;
        r->p = NULL;
        r->seq = NULL;
        r->b = NULL;
        /* workers may be waiting for the GIL inside .read(): let them go */
        Py_BEGIN_ALLOW_THREADS
        wb_marc_pipeline_free(p);
        wb_marc_reader_free(sq);
        Py_END_ALLOW_THREADS
    }
    if (r->pref) {
        pm_pref *w = r->pref;
        r->pref = NULL;
        Py_BEGIN_ALLOW_THREADS
        pm_pref_free(w);
        Py_END_ALLOW_THREADS
    }
    pm_free(r->pm);
    r->pm = NULL;
    if (r->s) {
        wb_stream_close(r->s);
        r->s = NULL;
    }
    if (r->fd >= 0) {
        close(r->fd);
        r->fd = -1;
    }
    if (r->nat.fd >= 0) {
        close(r->nat.fd);
        r->nat.fd = -1;
    }
    PyMem_RawFree(r->nat.prefix);
    r->nat.prefix = NULL;
    r->nat.plen = r->nat.poff = 0;
    if (r->have_view) {
        PyBuffer_Release(&r->view);
        r->have_view = 0;
    }
    r->done = 1;
}

/* Leave a natively read file object where pymarc would have left it: just
 * past the last record handed out, or at the end of the data once the end
 * was reached. Errors (a closed file) are ignored: there is nothing to
 * position. The caller holds the GIL; an exception being raised is kept. */
static void sync_position(Reader *r)
{
    if (!r->fobj || !r->nat.seekable)
        return;
    if (r->at_end && r->nat.fd < 0)
        return; /* a .read() source read to its end is at its end already */
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    unsigned long long pos = r->at_end ? r->nat.pos : r->nat.start + r->handed;
    PyObject *res = PyObject_CallMethod(r->fobj, "seek", "K", pos);
    Py_XDECREF(res);
    PyErr_Clear();
    PyErr_Restore(t, v, tb);
}

/* ---- reader state: one owner at a time ------------------------------------ */

static int reader_acquire(Reader *r)
{
    unsigned long me = PyThread_get_thread_ident();
    if (!r->lock) {
        PyErr_SetString(PyExc_RuntimeError, "MARCReader was not initialised");
        return -1;
    }
    if (r->read_thread == me) {
        PyErr_SetString(PyExc_RuntimeError, "MARCReader re-entered from its own read()");
        return -1;
    }
    if (r->owner == me) {
        PyErr_SetString(PyExc_RuntimeError, "MARCReader re-entered while it is reading");
        return -1;
    }
    if (!PyThread_acquire_lock(r->lock, NOWAIT_LOCK)) {
        /* another thread is in next()/close(): wait for it without the GIL */
        Py_BEGIN_ALLOW_THREADS
        PyThread_acquire_lock(r->lock, WAIT_LOCK);
        Py_END_ALLOW_THREADS
    }
    r->owner = me;
    return 0;
}

static void reader_release(Reader *r)
{
    r->owner = 0;
    PyThread_release_lock(r->lock);
}

static int reader_traverse(Reader *r, visitproc visit, void *arg)
{
    Py_VISIT(r->fobj);
    Py_VISIT(r->file);
    Py_VISIT(r->read_exc);
    Py_VISIT(r->cur_exc);
    Py_VISIT(r->cur_chunk);
    Py_VISIT(r->enc);
    return 0;
}

static int reader_clear(Reader *r)
{
    Py_CLEAR(r->fobj);
    Py_CLEAR(r->file);
    Py_CLEAR(r->read_exc);
    Py_CLEAR(r->cur_exc);
    Py_CLEAR(r->cur_chunk);
    Py_CLEAR(r->enc);
    return 0;
}

static void reader_dealloc(Reader *r)
{
    PyObject_GC_UnTrack(r);
    r->b = NULL; /* freed with the pipeline */
    reader_stop(r);
    sync_position(r);
    reader_clear(r);
    if (r->lock)
        PyThread_free_lock(r->lock);
    Py_TYPE(r)->tp_free((PyObject *)r);
}

static PyObject *reader_new(PyTypeObject *t, PyObject *args, PyObject *kw)
{
    (void)args;
    (void)kw;
    Reader *r = (Reader *)t->tp_alloc(t, 0);
    if (r) {
        r->fd = -1;
        r->nat.fd = -1;
        r->backend = "none";
        r->done = 1;
        if (!(r->lock = PyThread_allocate_lock())) {
            Py_DECREF(r);
            return PyErr_NoMemory();
        }
    }
    return (PyObject *)r;
}

/* A file object whose bytes are exactly its descriptor's (io.FileIO, or an
 * io.BufferedReader/BufferedRandom over one; not subclasses, which may
 * override read(), and not wrappers such as GzipFile whose fileno() is the
 * compressed file) on a regular file or a pipe: read it natively. Returns 1
 * when set up, 0 to use .read() instead, -1 on error. */
static int open_native(Reader *r, PyObject *src, size_t refill)
{
    PyTypeObject *t = Py_TYPE(src);
    int buffered = 0;
    if (t == (PyTypeObject *)G.io_FileIO) {
        buffered = 0;
    } else if (t == (PyTypeObject *)G.io_BufferedReader || t == (PyTypeObject *)G.io_BufferedRandom) {
        PyObject *raw = PyObject_GetAttrString(src, "raw");
        int ok = raw && Py_TYPE(raw) == (PyTypeObject *)G.io_FileIO;
        Py_XDECREF(raw);
        PyErr_Clear();
        if (!ok)
            return 0;
        buffered = 1;
    } else {
        return 0;
    }
    PyObject *o = PyObject_CallMethod(src, "readable", NULL);
    int readable = o ? PyObject_IsTrue(o) : -1;
    Py_XDECREF(o);
    if (readable != 1) {
        PyErr_Clear();
        return 0; /* .read() will say why */
    }
    o = PyObject_CallMethod(src, "fileno", NULL);
    long fd = o ? PyLong_AsLong(o) : -1;
    Py_XDECREF(o);
    if (fd < 0) {
        PyErr_Clear();
        return 0;
    }
    struct stat st;
    if (fstat((int)fd, &st) != 0)
        return 0;
    int seekable = S_ISREG(st.st_mode);
    if (!seekable && !(S_ISFIFO(st.st_mode) && t != (PyTypeObject *)G.io_BufferedRandom))
        return 0;
    uint64_t start = 0;
    PyObject *prefix = NULL;
    if (seekable) {
        /* the object's position accounts for what it has buffered */
        o = PyObject_CallMethod(src, "tell", NULL);
        unsigned long long pos = o ? PyLong_AsUnsignedLongLong(o) : (unsigned long long)-1;
        Py_XDECREF(o);
        if (PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        start = pos;
    } else if (buffered) {
        /* a pipe: take over the bytes the object has buffered (peek returns
         * them without reading when there are any), then read the pipe */
        PyObject *pk = PyObject_CallMethod(src, "peek", "n", (Py_ssize_t)1);
        if (!pk)
            return -1;
        Py_ssize_t have = PyBytes_Check(pk) ? PyBytes_GET_SIZE(pk) : 0;
        Py_DECREF(pk);
        if (have > 0 && !(prefix = PyObject_CallMethod(src, "read", "n", have)))
            return -1;
        if (prefix && !PyBytes_Check(prefix)) {
            Py_DECREF(prefix);
            return 0;
        }
    }
    int nfd = fcntl((int)fd, F_DUPFD_CLOEXEC, 0);
    if (nfd < 0) {
        Py_XDECREF(prefix);
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    r->nat.fd = nfd;
    r->nat.seekable = seekable;
    r->nat.start = r->nat.pos = start;
    if (prefix) {
        size_t n = (size_t)PyBytes_GET_SIZE(prefix);
        r->nat.prefix = PyMem_RawMalloc(n ? n : 1);
        if (!r->nat.prefix) {
            Py_DECREF(prefix);
            PyErr_NoMemory();
            return -1;
        }
        memcpy(r->nat.prefix, PyBytes_AS_STRING(prefix), n);
        r->nat.plen = n;
        Py_DECREF(prefix);
    }
    r->fobj = src;
    Py_INCREF(src);
    r->s = wb_stream_from_fn(fd_read, &r->nat, refill);
    r->backend = "fd";
    return 1;
}

static int reader_init_locked(Reader *r, PyObject *args, PyObject *kw);

static int reader_init(Reader *r, PyObject *args, PyObject *kw)
{
    if (reader_acquire(r) < 0)
        return -1;
    int rc = reader_init_locked(r, args, kw);
    reader_release(r);
    return rc;
}

static int reader_init_locked(Reader *r, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"source", "format", "threads", "batch_size", "batch_bytes", "to_unicode",
                             "force_utf8", "utf8_handling", "file_encoding", "permissive", "refill",
                             "recover", NULL};
    PyObject *src, *threads = Py_None, *fe = NULL;
    const char *format = "iso2709", *handling = "strict";
    Py_ssize_t batch = 100, batch_bytes = 300000, refill = WB_STREAM_DEFAULT_REFILL;
    int to_unicode = 1, force_utf8 = 0, permissive = 0, recover = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O|sOnnppsUpnp", kwlist, &src, &format, &threads, &batch,
                                     &batch_bytes, &to_unicode, &force_utf8, &handling, &fe, &permissive,
                                     &refill, &recover))
        return -1;
    if (!G.ready) {
        PyErr_SetString(PyExc_RuntimeError, "wirebuf._marc.setup() was not called (import wirebuf.marc)");
        return -1;
    }
    r->b = NULL; /* freed with the pipeline */
    reader_stop(r);
    reader_clear(r);
    r->handed = 0;
    r->at_end = 0;
    r->nat.start = r->nat.pos = 0;
    r->nat.seekable = 0;
    int fmt = wb_marc_format_from_name(format);
    if (fmt < 0) {
        PyErr_Format(PyExc_ValueError, "unknown format '%s' (iso2709, marcxml, json, mrk)", format);
        return -1;
    }
    r->format = fmt;
    if (batch < 1 || batch > WB_PIPELINE_MAX_BATCH) {
        PyErr_Format(PyExc_ValueError, "batch_size must be 1..%d records, not %zd", WB_PIPELINE_MAX_BATCH, batch);
        return -1;
    }
    if (batch_bytes < 1) {
        PyErr_SetString(PyExc_ValueError, "batch_bytes must be >= 1");
        return -1;
    }
    long nthreads;
    if (threads == Py_None) {
        nthreads = (long)wb_marc_default_threads();
    } else {
        nthreads = PyLong_AsLong(threads);
        if (nthreads == -1 && PyErr_Occurred())
            return -1;
        if (nthreads < 1 || nthreads > WB_PIPELINE_MAX_THREADS) {
            PyErr_Format(PyExc_ValueError, "threads must be 1..%d or None, not %ld", WB_PIPELINE_MAX_THREADS,
                         nthreads);
            return -1;
        }
    }
    r->threads = (unsigned)nthreads;
    if (parse_cfg(&r->c, to_unicode, force_utf8, handling, fe ? fe : G.s_latin1, !permissive) < 0)
        return -1;
    r->enc = fe ? fe : G.s_latin1;
    Py_INCREF(r->enc);
    r->permissive = permissive;
    /* pick the source by type, fail fast */
    if (PyUnicode_Check(src) || PyObject_HasAttrString(src, "__fspath__")) {
        PyObject *enc_path = NULL;
        if (!PyUnicode_FSConverter(src, &enc_path)) /* ValueError for an embedded NUL, as open() */
            return -1;
        const char *ps = PyBytes_AS_STRING(enc_path);
        int fd;
        Py_BEGIN_ALLOW_THREADS
        fd = open(ps, O_RDONLY | O_CLOEXEC);
        Py_END_ALLOW_THREADS
        if (fd < 0) {
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, src);
            Py_DECREF(enc_path);
            return -1;
        }
        Py_DECREF(enc_path);
        r->fd = fd;
        r->s = wb_stream_from_fd(fd, (size_t)refill);
        r->backend = "file";
    } else if (PyObject_CheckBuffer(src)) {
        if (PyObject_GetBuffer(src, &r->view, PyBUF_SIMPLE) < 0)
            return -1;
        r->have_view = 1;
        r->s = wb_stream_from_mem(r->view.buf, (size_t)r->view.len);
        r->backend = "memory";
    } else if (PyObject_HasAttrString(src, "read")) {
        int nat = open_native(r, src, (size_t)refill);
        if (nat < 0)
            return -1;
        if (nat > 0)
            goto have_source;
        r->file = src;
        Py_INCREF(src);
        /* a seekable object is put back where pymarc would leave it when the
         * reader is closed or dropped mid-stream (we read ahead) */
        PyObject *sk = PyObject_HasAttrString(src, "seekable") ? PyObject_CallMethod(src, "seekable", NULL) : NULL;
        int seekable = sk ? PyObject_IsTrue(sk) : 0;
        Py_XDECREF(sk);
        PyObject *pos = seekable == 1 ? PyObject_CallMethod(src, "tell", NULL) : NULL;
        if (pos && PyLong_Check(pos)) {
            unsigned long long start = PyLong_AsUnsignedLongLong(pos);
            if (!PyErr_Occurred()) {
                r->nat.start = start;
                r->nat.seekable = 1;
                r->fobj = src;
                Py_INCREF(src);
            }
        }
        Py_XDECREF(pos);
        PyErr_Clear();
        r->s = wb_stream_from_fn(py_read, r, refill < 65536 && refill > 1 ? 65536 : (size_t)refill);
        r->backend = "python";
    } else {
        PyErr_Format(PyExc_TypeError,
                     "MARCReader: unsupported source type %.80s; expected a path (str or os.PathLike), "
                     "a bytes-like object (bytes, bytearray, memoryview) or a binary file object with .read()",
                     Py_TYPE(src)->tp_name);
        return -1;
    }
have_source:
    if (!r->s) {
        PyErr_NoMemory();
        return -1;
    }
    r->batch = (size_t)batch;
    r->batch_bytes = (size_t)batch_bytes;
    r->recover = recover;
    if (fmt == WB_MARC_ISO2709 && !recover) {
        /* pymarc's semantics: its framing, its checks, None + current_exception */
        if (!(r->pm = PyMem_RawCalloc(1, sizeof *r->pm))) {
            PyErr_NoMemory();
            return -1;
        }
        if (r->threads > 1) {
            pm_pref *w = PyMem_RawCalloc(1, sizeof *w);
            pm_batch *spare = w ? PyMem_RawCalloc(1, sizeof *spare) : NULL;
            if (!spare) {
                PyMem_RawFree(w);
                PyErr_NoMemory();
                return -1;
            }
            w->spare = spare;
            w->s = r->s;
            w->c = &r->c;
            w->batch = r->batch;
            w->batch_bytes = r->batch_bytes;
            pthread_mutex_init(&w->mu, NULL);
            pthread_cond_init(&w->cv, NULL);
            if (pthread_create(&w->th, NULL, pm_worker, w) != 0) {
                pthread_cond_destroy(&w->cv);
                pthread_mutex_destroy(&w->mu);
                pm_free(spare);
                PyMem_RawFree(w);
                PyErr_SetString(PyExc_RuntimeError, "MARCReader: cannot start the decoding thread");
                return -1;
            }
            r->threads = 2; /* the calling thread and one decoder */
            r->pref = w;
        } else {
            r->threads = 1;
        }
    } else if (fmt == WB_MARC_ISO2709) {
        if (recover) {
            r->c.flags = 0; /* wirebuf's repairs: resync, directory recovery */
            r->permissive = 1;
        }
        wb_marc_pipeline_opts po = {.threads = r->threads > 1 ? r->threads : 0,
                                    .flags = r->c.flags,
                                    .batch_records = (size_t)batch,
                                    .batch_bytes = (size_t)batch_bytes,
                                    .work = py_work,
                                    .arg = &r->c};
        char why[120];
        if (!(r->p = wb_marc_pipeline_new(r->s, &po, why))) {
            PyErr_SetString(PyExc_RuntimeError, why);
            return -1;
        }
    } else if (!(r->seq = wb_marc_reader_new(r->s, (wb_marc_format)fmt, r->c.flags | WB_MARC_KEEP_MARC8))) {
        /* KEEP_MARC8: MARCXML and JSON are Unicode already; keep leader/09 as
         * the document says (pymarc does) */
        PyErr_NoMemory();
        return -1;
    }
    r->done = 0;
    return 0;
}

/* Raise (or, permissive, remember and return None for) a bad record. */
static PyObject *bad_record(Reader *r, const wb_marc_error *e, uint32_t user, const uint8_t *raw, size_t rawlen)
{
    PyObject *ex = make_record_error(e, user, raw, rawlen);
    if (!ex)
        return NULL;
    Py_XSETREF(r->cur_exc, ex);
    if (r->permissive)
        Py_RETURN_NONE;
    Py_INCREF(ex);
    PyErr_SetObject((PyObject *)Py_TYPE(ex), ex);
    Py_DECREF(ex);
    return NULL;
}

static PyObject *end_of_input(Reader *r, enum wb_marc_status st, const wb_marc_error *e)
{
    r->done = 1;
    r->at_end = st == WB_MARC_EOF;
    sync_position(r);
    if (st != WB_MARC_FATAL)
        return NULL; /* StopIteration */
    if (r->read_exc) {
        PyObject *ex = r->read_exc;
        r->read_exc = NULL;
        PyErr_SetObject((PyObject *)Py_TYPE(ex), ex);
        Py_DECREF(ex);
        return NULL;
    }
    PyErr_Format(PyExc_OSError, "reading MARC records: at byte %llu: %s", (unsigned long long)e->offset, e->msg);
    return NULL;
}

static PyObject *next_sequential(Reader *r)
{
    wb_marc_record *rec = NULL;
    wb_marc_error e;
    enum wb_marc_status st;
    Py_BEGIN_ALLOW_THREADS
    st = wb_marc_next(r->seq, &rec, &e);
    Py_END_ALLOW_THREADS
    if (st == WB_MARC_EOF || st == WB_MARC_FATAL)
        return end_of_input(r, st, &e);
    Py_CLEAR(r->cur_chunk);
    if (st == WB_MARC_BAD)
        return bad_record(r, &e, 0, NULL, 0);
    wb_buf out = {0};
    if (payload_write(&out, rec, rec->leader, MODE_UTF8) != 0) {
        wb_buf_free(&out);
        return PyErr_NoMemory();
    }
    PyObject *payload = PyBytes_FromStringAndSize((const char *)out.p, (Py_ssize_t)out.len);
    wb_buf_free(&out);
    if (!payload)
        return NULL;
    Py_CLEAR(r->cur_exc);
    PyObject *res = make_record(payload, MODE_UTF8, r->enc, 0);
    Py_DECREF(payload);
    return res;
}

/* An item's framed bytes (an empty string when none were kept, e.g. junk). */
static const uint8_t *item_raw(const wb_marc_batch *b, const wb_marc_item *it)
{
    return b->raw.p ? b->raw.p + it->raw_off : (const uint8_t *)"";
}

static void drop_batch(Reader *r)
{
    if (!r->b)
        return;
    /* keep the last record's bytes for current_chunk */
    if (r->i > 0 && !r->cur_chunk) {
        const wb_marc_item *it = &r->b->items[r->i - 1];
        r->cur_chunk = PyBytes_FromStringAndSize((const char *)item_raw(r->b, it), (Py_ssize_t)it->raw_len);
        if (!r->cur_chunk)
            PyErr_Clear();
    }
    wb_marc_pipeline_release(r->p, r->b);
    r->b = NULL;
}

static PyObject *pm_next(Reader *r)
{
    for (;;) {
        pm_batch *b = r->pm;
        if (b->i < b->n) {
            pm_item *it = &b->items[b->i++];
            r->handed = it->offset + it->raw_len;
            Py_CLEAR(r->cur_chunk);
            const uint8_t *raw = b->out.p ? b->out.p + it->raw_off : (const uint8_t *)"";
            if (it->bad && it->e.kind == PE_READ) {
                wb_marc_error e = {0};
                snprintf(e.msg, sizeof e.msg, "%s", b->readerr);
                e.offset = it->offset;
                b->n = b->i = 0;
                return end_of_input(r, WB_MARC_FATAL, &e);
            }
            if (it->bad) {
                PyObject *ex = pm_exception(&it->e, raw, it->raw_len);
                if (!ex)
                    return NULL;
                Py_XSETREF(r->cur_exc, ex);
                if (pm_fatal(it->e.kind)) {
                    r->done = 1; /* pymarc: the next call raises StopIteration */
                    sync_position(r);
                }
                Py_RETURN_NONE;
            }
            Py_CLEAR(r->cur_exc);
            PyObject *payload = PyBytes_FromStringAndSize((const char *)b->out.p + it->out_off,
                                                          (Py_ssize_t)it->out_len);
            if (!payload)
                return NULL;
            unsigned kind = it->kind & 0xFF;
            PyObject *rec = make_record(payload, kind, r->enc, r->c.force_utf8);
            Py_DECREF(payload);
            if (rec && kind == MODE_BYTES && PyObject_SetAttrString(rec, "to_unicode", Py_False) < 0)
                Py_CLEAR(rec);
            if (rec && (it->kind & KIND_BAD_CODES)) {
                /* pymarc normalises non-ASCII subfield codes (with a
                 * BadSubfieldCodeWarning) while decoding: do it now */
                PyObject *fl = PyObject_GetAttrString(rec, "fields");
                if (!fl) {
                    Py_DECREF(rec);
                    if (!PyErr_ExceptionMatches(PyExc_Exception))
                        return NULL;
                    PyObject *t, *v, *tb;
                    PyErr_Fetch(&t, &v, &tb);
                    PyErr_NormalizeException(&t, &v, &tb);
                    Py_XDECREF(t);
                    Py_XDECREF(tb);
                    Py_XSETREF(r->cur_exc, v);
                    Py_RETURN_NONE;
                }
                Py_DECREF(fl);
            }
            return rec;
        }
        if (b->n > 0 && !r->cur_chunk) {
            /* keep the last chunk for current_chunk */
            const pm_item *it = &b->items[b->n - 1];
            r->cur_chunk = PyBytes_FromStringAndSize(b->out.p ? (const char *)b->out.p + it->raw_off : "",
                                                     (Py_ssize_t)it->raw_len);
            if (!r->cur_chunk)
                return NULL;
        }
        if (r->done)
            return NULL;
        if (b->eof) {
            /* pymarc: read(5) gave b'' */
            Py_XSETREF(r->cur_chunk, PyBytes_FromStringAndSize("", 0));
            Py_CLEAR(r->cur_exc);
            b->n = b->i = 0;
            return end_of_input(r, WB_MARC_EOF, NULL);
        }
        if (b->stop) { /* ended by an item already handed out (out of memory) */
            r->done = 1;
            return NULL;
        }
        r->pm_filling = 1;
        if (r->pref) {
            /* swap: hand the consumed batch to the worker, take the filled one */
            pm_pref *w = r->pref;
            pm_batch *next;
            Py_BEGIN_ALLOW_THREADS
            pthread_mutex_lock(&w->mu);
            while (!w->ready)
                pthread_cond_wait(&w->cv, &w->mu);
            next = w->ready;
            w->ready = NULL;
            b->n = b->i = 0;
            w->spare = b;
            pthread_cond_broadcast(&w->cv);
            pthread_mutex_unlock(&w->mu);
            Py_END_ALLOW_THREADS
            r->pm = next;
        } else {
            Py_BEGIN_ALLOW_THREADS
            pm_fill(b, r->s, &r->c, r->batch, r->batch_bytes);
            Py_END_ALLOW_THREADS
        }
        r->pm_filling = 0;
    }
}

static PyObject *reader_next_locked(Reader *r)
{
    if (r->pm)
        return pm_next(r);
    for (;;) {
        if (r->b && r->i < r->b->n) {
            const wb_marc_item *it = &r->b->items[r->i++];
            r->handed = it->err.offset + it->raw_len;
            Py_CLEAR(r->cur_chunk);
            if (it->status == WB_MARC_BAD)
                return bad_record(r, &it->err, it->user, item_raw(r->b, it), it->raw_len);
            Py_CLEAR(r->cur_exc);
            PyObject *payload = PyBytes_FromStringAndSize((const char *)r->b->out.p + it->out_off,
                                                          (Py_ssize_t)it->out_len);
            if (!payload)
                return NULL;
            PyObject *rec = make_record(payload, it->user, r->enc, r->c.force_utf8);
            Py_DECREF(payload);
            return rec;
        }
        drop_batch(r);
        if (r->done)
            return NULL;
        if (r->seq)
            return next_sequential(r);
        wb_marc_batch *b = NULL;
        wb_marc_error e;
        enum wb_marc_status st;
        Py_BEGIN_ALLOW_THREADS
        st = wb_marc_pipeline_next(r->p, &b, &e);
        Py_END_ALLOW_THREADS
        if (st != WB_MARC_OK)
            return end_of_input(r, st, &e);
        r->b = b;
        r->i = 0;
    }
}

static PyObject *reader_next(Reader *r)
{
    if (reader_acquire(r) < 0)
        return NULL;
    PyObject *res = reader_next_locked(r);
    reader_release(r);
    return res;
}

static PyObject *reader_get_chunk(Reader *r, void *c)
{
    (void)c;
    if (r->cur_chunk) {
        Py_INCREF(r->cur_chunk);
        return r->cur_chunk;
    }
    if (r->pm && !r->pm_filling && r->pm->i > 0) {
        const pm_item *it = &r->pm->items[r->pm->i - 1];
        return PyBytes_FromStringAndSize(r->pm->out.p ? (const char *)r->pm->out.p + it->raw_off : "",
                                         (Py_ssize_t)it->raw_len);
    }
    if (r->b && r->i > 0) {
        const wb_marc_item *it = &r->b->items[r->i - 1];
        return PyBytes_FromStringAndSize((const char *)item_raw(r->b, it), (Py_ssize_t)it->raw_len);
    }
    Py_RETURN_NONE;
}

static PyObject *reader_get_exc(Reader *r, void *c)
{
    (void)c;
    PyObject *e = r->cur_exc ? r->cur_exc : Py_None;
    Py_INCREF(e);
    return e;
}

static PyObject *reader_get_backend(Reader *r, void *c)
{
    (void)c;
    return PyUnicode_FromString(r->backend);
}

static PyObject *reader_get_threads(Reader *r, void *c)
{
    (void)c;
    return PyLong_FromUnsignedLong(r->threads);
}

static PyObject *reader_close(Reader *r, PyObject *unused)
{
    (void)unused;
    if (reader_acquire(r) < 0)
        return NULL;
    drop_batch(r);
    reader_stop(r);
    sync_position(r);
    Py_CLEAR(r->fobj);
    reader_release(r);
    Py_RETURN_NONE;
}

static PyGetSetDef reader_getset[] = {
    {"current_chunk", (getter)reader_get_chunk, NULL, "bytes of the record last returned or rejected", NULL},
    {"current_exception", (getter)reader_get_exc, NULL, "the exception for the last bad record, or None", NULL},
    {"backend", (getter)reader_get_backend, NULL, "'file', 'memory' or 'python' (.read())", NULL},
    {"threads", (getter)reader_get_threads, NULL, "decode threads (1 = the calling thread)", NULL},
    {NULL, NULL, NULL, NULL, NULL}};

static PyMethodDef reader_methods[] = {
    {"close", (PyCFunction)reader_close, METH_NOARGS, "Stop reading and free the buffers and threads."},
    {NULL, NULL, 0, NULL}};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "wirebuf._marc.Reader",
    .tp_basicsize = sizeof(Reader),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Reader(source, format='iso2709', threads=None, batch_size=100, batch_bytes=300000, "
              "to_unicode=True, force_utf8=False, utf8_handling='strict', file_encoding='iso8859-1', "
              "permissive=False, refill=262144, recover=False)\n\n"
              "Iterate Records from a path, a bytes-like object or a binary file object.",
    .tp_new = reader_new,
    .tp_init = (initproc)reader_init,
    .tp_dealloc = (destructor)reader_dealloc,
    .tp_traverse = (traverseproc)reader_traverse,
    .tp_clear = (inquiry)reader_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)reader_next,
    .tp_getset = reader_getset,
    .tp_methods = reader_methods,
};

/* ---- module functions ---------------------------------------------------- */

/* count(path) -> number of readable ISO 2709 records (GIL released). */
static PyObject *py_count(PyObject *self, PyObject *arg)
{
    (void)self;
    PyObject *enc = NULL;
    if (!PyUnicode_FSConverter(arg, &enc))
        return NULL;
    int fd;
    uint64_t n = 0;
    int failed = 0;
    char msg[sizeof(((wb_marc_error *)0)->msg)] = "";
    Py_BEGIN_ALLOW_THREADS
    fd = open(PyBytes_AS_STRING(enc), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        wb_stream *s = wb_stream_from_fd(fd, WB_STREAM_DEFAULT_REFILL);
        wb_marc_reader *rd = s ? wb_marc_reader_new(s, WB_MARC_ISO2709, WB_MARC_KEEP_MARC8) : NULL;
        wb_marc_record *rec;
        wb_marc_error e;
        enum wb_marc_status st;
        if (!rd)
            failed = 1;
        while (rd && (st = wb_marc_next(rd, &rec, &e)) != WB_MARC_EOF) {
            if (st == WB_MARC_FATAL) {
                failed = 1;
                snprintf(msg, sizeof msg, "%s", e.msg);
                break;
            }
        }
        if (rd)
            n = wb_marc_reader_count(rd);
        wb_marc_reader_free(rd);
        wb_stream_close(s);
        close(fd);
    }
    Py_END_ALLOW_THREADS
    if (fd < 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, arg);
        Py_DECREF(enc);
        return NULL;
    }
    Py_DECREF(enc);
    if (failed)
        return PyErr_Format(PyExc_OSError, "count: %s", msg[0] ? msg : "out of memory");
    return PyLong_FromUnsignedLongLong(n);
}

static PyObject *py_setup(PyObject *self, PyObject *args, PyObject *kw)
{
    (void)self;
    (void)args;
    struct {
        const char *name;
        PyObject **slot;
    } want[] = {{"Record", &G.Record},
                {"Field", &G.Field},
                {"Subfield", &G.Subfield},
                {"Indicators", &G.Indicators},
                {"PymarcException", &G.exc_base},
                {"RecordLengthInvalid", &G.exc_length},
                {"RecordLeaderInvalid", &G.exc_leader},
                {"RecordDirectoryInvalid", &G.exc_directory},
                {"BaseAddressInvalid", &G.exc_base_address},
                {"NoFieldsFound", &G.exc_nofields},
                {"EndOfRecordNotFound", &G.exc_eor},
                {"TruncatedRecord", &G.exc_truncated},
                {"FatalReaderError", &G.exc_fatal},
                {"BaseAddressNotFound", &G.exc_base_nf},
                {"RawField", &G.RawField},
                {"normalize_code", &G.normalize_code}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        PyObject *o = kw ? PyDict_GetItemString(kw, want[i].name) : NULL;
        if (!o || (!PyType_Check(o) && !PyCallable_Check(o))) {
            PyErr_Format(PyExc_TypeError, "setup: %s must be a class", want[i].name);
            return NULL;
        }
        Py_INCREF(o);
        Py_XSETREF(*want[i].slot, o);
    }
    struct {
        PyObject *cls;
        const char *name;
        Py_ssize_t *off;
    } slots[] = {{G.Record, "_raw", &G.off_raw},         {G.Record, "_fields", &G.off_fields},
                 {G.Record, "_cache", &G.off_cache},     {G.Record, "_leader", &G.off_leader},
                 {G.Field, "tag", &G.off_tag},           {G.Field, "data", &G.off_data},
                 {G.Field, "control_field", &G.off_control}, {G.Field, "_indicators", &G.off_ind},
                 {G.Field, "subfields", &G.off_subs}};
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        PyObject *d = PyType_Check(slots[i].cls) ? PyObject_GetAttrString(slots[i].cls, slots[i].name) : NULL;
        PyErr_Clear();
        PyMemberDef *m = d && Py_IS_TYPE(d, &PyMemberDescr_Type) ? ((PyMemberDescrObject *)d)->d_member : NULL;
        int ok = m && m->type == T_OBJECT_EX && !(m->flags & READONLY) && m->offset >= (Py_ssize_t)sizeof(PyObject);
        if (ok)
            *slots[i].off = m->offset;
        Py_XDECREF(d);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "setup: %s must be a __slots__ member", slots[i].name);
            return NULL;
        }
    }
    if (!PyType_IsSubtype((PyTypeObject *)G.Record, &RecordBaseType) ||
        !PyType_IsSubtype((PyTypeObject *)G.Field, &FieldBaseType) ||
        !PyType_IsSubtype((PyTypeObject *)G.RawField, (PyTypeObject *)G.Field)) {
        PyErr_SetString(PyExc_TypeError, "setup: Record, Field and RawField must derive from RecordBase, FieldBase, Field");
        return NULL;
    }
    G.ready = 1;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"setup", (PyCFunction)(void (*)(void))py_setup, METH_VARARGS | METH_KEYWORDS,
     "Register the pymarc-compatible classes (called by wirebuf.marc)."},
    {"get_fields", py_get_fields, METH_VARARGS, "get_fields(record, tags) -> list of Field"},
    {"leader", py_leader, METH_O, "leader(record) -> the record's leader as read"},
    {"serialize", py_serialize, METH_VARARGS, "serialize(leader, fields, fmt, encoding='utf-8') -> bytes"},
    {"decode", py_decode, METH_VARARGS, "decode(data, to_unicode, force_utf8, utf8_handling, file_encoding)"},
    {"marc8_to_unicode", py_marc8_to_unicode, METH_VARARGS,
     "marc8_to_unicode(data, g0=0x42, g1=0x45) -> (NFC str, g0, g1, codes replaced), as pymarc's converter"},
    {"count", py_count, METH_O, "count(path) -> number of ISO 2709 records"},
    {"marc8_table", py_marc8_table, METH_O, "marc8_table(final) -> pymarc's CHARSET table for that set"},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef moddef = {PyModuleDef_HEAD_INIT, "wirebuf._marc",
                                    "C core of wirebuf.marc (see wirebuf/marc/__init__.py).", -1, module_methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__marc(void)
{
    if (PyType_Ready(&ReaderType) < 0 || PyType_Ready(&RecordBaseType) < 0 || PyType_Ready(&FieldBaseType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&moddef);
    if (!m)
        return NULL;
    PyObject *ud = PyImport_ImportModule("unicodedata");
    if (!ud)
        return NULL;
    G.normalize = PyObject_GetAttrString(ud, "normalize");
    Py_DECREF(ud);
    if (!G.normalize)
        return NULL;
    PyObject *io = PyImport_ImportModule("io");
    if (!io)
        return NULL;
    G.io_FileIO = PyObject_GetAttrString(io, "FileIO");
    G.io_BufferedReader = PyObject_GetAttrString(io, "BufferedReader");
    G.io_BufferedRandom = PyObject_GetAttrString(io, "BufferedRandom");
    Py_DECREF(io);
    if (!G.io_FileIO || !G.io_BufferedReader || !G.io_BufferedRandom)
        return NULL;
#define INTERN(var, text) if (!(G.var = PyUnicode_InternFromString(text))) return NULL
    INTERN(s_raw, "_raw");
    INTERN(s_mode, "_mode");
    INTERN(s_enc, "_enc");
    INTERN(s_fields, "_fields");
    INTERN(s_cache, "_cache");
    INTERN(s_tag, "tag");
    INTERN(s_data, "data");
    INTERN(s_subfields, "subfields");
    INTERN(s_indicators, "_indicators");
    INTERN(s_control, "control_field");
    INTERN(s_nfc, "NFC");
    INTERN(s_force_utf8, "force_utf8");
    INTERN(s_leader, "_leader");
    INTERN(s_latin1, "iso8859-1");
#undef INTERN
    if (!(G.empty = PyTuple_New(0)))
        return NULL;
    Py_INCREF(&ReaderType);
    if (PyModule_AddObject(m, "Reader", (PyObject *)&ReaderType) < 0)
        return NULL;
    Py_INCREF(&RecordBaseType);
    if (PyModule_AddObject(m, "RecordBase", (PyObject *)&RecordBaseType) < 0)
        return NULL;
    Py_INCREF(&FieldBaseType);
    if (PyModule_AddObject(m, "FieldBase", (PyObject *)&FieldBaseType) < 0)
        return NULL;
    return m;
}
