/* MARC-8 -> UTF-8 and UTF-8 validation ("MARC 21 Specifications, Character
 * Sets and Encoding Options", Part 2 "MARC-8 Encoding Environment").
 *
 * MARC-8 is ISO 2022-like: G0 (bytes 0x21-0x7E) starts as Basic Latin,
 * G1 (0xA1-0xFE) as Extended Latin (ANSEL). Escape sequences designate other
 * sets; EACC (CJK) uses 3 bytes per character. Combining diacritics come
 * BEFORE their base character in MARC-8 and AFTER it in Unicode, so they are
 * held back until the base character has been written. */
#include "internal.h"
#include "marc8_tables.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define SET_EACC (-2)
#define SET_NONE (-1)
#define MAX_PENDING 16

static int set_index(uint8_t final)
{
    for (int i = 0; i < WB_MARC8_NSETS; i++)
        if (wb_marc8_set_finals[i] == final)
            return i;
    return SET_NONE;
}

static uint32_t eacc_lookup(uint32_t code)
{
    size_t lo = 0, hi = wb_marc8_eacc_count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (wb_marc8_eacc[mid][0] < code)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < wb_marc8_eacc_count && wb_marc8_eacc[lo][0] == code)
        return wb_marc8_eacc[lo][1];
    return 0;
}

uint32_t wb_marc8_lookup_ansel(uint8_t b)
{
    return wb_marc8_single[1][b & 0x7F];
}

static inline size_t put_utf8(uint8_t *p, uint32_t c)
{
    if (c < 0x80) {
        p[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        p[0] = (uint8_t)(0xC0 | (c >> 6));
        p[1] = (uint8_t)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        p[0] = (uint8_t)(0xE0 | (c >> 12));
        p[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
        p[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    p[0] = (uint8_t)(0xF0 | (c >> 18));
    p[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3F));
    p[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3F));
    p[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

int wb_utf8_append(wb_buf *o, uint32_t c)
{
    if (wb_buf_reserve(o, 4) != 0)
        return -1;
    o->len += put_utf8(o->p + o->len, c);
    return 0;
}

/* Append code point c. Reserve is done by the caller (4 bytes per code point
 * plus pending marks). */
static inline void emit(wb_buf *o, uint32_t c)
{
    o->len += put_utf8(o->p + o->len, c);
}

long wb_marc8_to_utf8(wb_buf *out, const uint8_t *in, size_t n)
{
    /* Worst case: each input byte becomes one 4-byte UTF-8 sequence (U+FFFD
     * is 3 bytes, EACC 3 bytes in -> one code point). */
    if (n > SIZE_MAX / 4 || wb_buf_reserve(out, n * 4 + 4 * MAX_PENDING) != 0)
        return -1;
    int g0 = 0, g1 = 1;  /* Basic Latin, ANSEL */
    long problems = 0;
    uint32_t pending[MAX_PENDING];
    int npending = 0;
    size_t i = 0;
    while (i < n) {
        uint8_t b = in[i];
        uint32_t u;
        if (g0 == 0 && npending == 0 && b >= 0x20 && b < 0x7F) {
            /* hot path: a run of Basic Latin (ASCII, an identity mapping)
             * with no combining mark held back is copied as it is */
            size_t j = i + 1;
#if defined(__SSE2__)
            /* 16 bytes per test: printable ASCII is 0x20-0x7E as signed bytes */
            const __m128i lo = _mm_set1_epi8(0x1F), hi = _mm_set1_epi8(0x7F);
            while (j + 16 <= n) {
                __m128i x = _mm_loadu_si128((const __m128i *)(in + j));
                unsigned m = ~(unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(x, lo), _mm_cmplt_epi8(x, hi))) &
                             0xFFFFu;
                if (m) {
                    j += (size_t)__builtin_ctz(m);
                    goto run_end;
                }
                j += 16;
            }
#endif
            while (j < n && in[j] >= 0x20 && in[j] < 0x7F)
                j++;
#if defined(__SSE2__)
        run_end:
#endif
            memcpy(out->p + out->len, in + i, j - i);
            out->len += j - i;
            i = j;
            continue;
        }
        if (b == 0x1B) {
            /* Escape sequence: ESC [$] [(,)-] [!] F, or ESC g/b/p/s. */
            size_t j = i + 1;
            if (j < n && (in[j] == 'g' || in[j] == 'b' || in[j] == 'p')) {
                g0 = set_index(in[j]);
                i = j + 1;
                continue;
            }
            if (j < n && in[j] == 's') {
                g0 = 0;
                i = j + 1;
                continue;
            }
            int multi = 0;
            if (j < n && in[j] == '$') {
                multi = 1;
                j++;
            }
            int target = 0; /* 0: G0, 1: G1 */
            if (j < n && (in[j] == '(' || in[j] == ',')) {
                j++;
            } else if (j < n && (in[j] == ')' || in[j] == '-')) {
                target = 1;
                j++;
            } else if (!multi) {
                problems++; /* lone or unknown escape: drop the ESC */
                i++;
                continue;
            }
            if (j < n && in[j] == '!')
                j++;
            if (j >= n) {
                problems++;
                i = n;
                break;
            }
            uint8_t f = in[j];
            int set = (multi || f == '1') ? (f == '1' ? SET_EACC : SET_NONE) : set_index(f);
            if (set == SET_NONE) {
                problems++;
                i++;  /* unknown set: drop the ESC, keep the rest as text */
                continue;
            }
            if (target)
                g1 = set;
            else
                g0 = set;
            i = j + 1;
            continue;
        }
        if (b < 0x20 || b == 0x7F) {
            /* C0 controls (subfield delimiter, field/record terminator):
             * flush held marks first, they have no base to attach to. */
            for (int k = 0; k < npending; k++)
                emit(out, pending[k]);
            npending = 0;
            out->p[out->len++] = b;
            i++;
            continue;
        }
        if (b == 0x20) {
            u = 0x20;
            i++;
        } else if (b >= 0x80 && b < 0xA0) {
            u = wb_marc8_single[1][b & 0x7F];
            i++;
        } else {
            int set = b < 0x80 ? g0 : g1;
            if (set == SET_EACC) {
                if (i + 3 <= n) {
                    uint32_t code = ((uint32_t)(in[i] & 0x7F) << 16) | ((uint32_t)(in[i + 1] & 0x7F) << 8) |
                                    (uint32_t)(in[i + 2] & 0x7F);
                    u = eacc_lookup(code);
                    /* a code not in EACC: skip one byte and resynchronise
                     * (mangled multibyte data often lost a byte) */
                    i += u ? 3 : 1;
                } else {
                    u = 0;
                    i = n;
                }
            } else if (set < 0) {
                u = 0;
                i++;
            } else {
                u = wb_marc8_single[set][b & 0x7F];
                i++;
            }
        }
        if (u == 0) {
            problems++; /* unmapped: dropped (and reported), as yaz does */
            continue;
        }
        if (u == WB_MARC8_IGNORE)
            continue;
        if (u & WB_MARC8_COMBINING) {
            if (npending < MAX_PENDING)
                pending[npending++] = u & ~WB_MARC8_COMBINING;
            else
                problems++;
            continue;
        }
        emit(out, u);
        for (int k = 0; k < npending; k++)
            emit(out, pending[k]);
        npending = 0;
    }
    for (int k = 0; k < npending; k++)
        emit(out, pending[k]);
    return problems;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if invalid. */
static inline size_t utf8_seq(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return n >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (n < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && p[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && p[1] >= 0xA0)
            return 0; /* surrogate */
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (n < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && p[1] < 0x90)
            return 0;
        if (c == 0xF4 && p[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}

/* From buf[i] >= 0x80: the index past the run of valid multi-byte
 * characters there, with *bad = 0; or, with *bad = 1, the index of the
 * invalid sequence that ended it. */
static inline size_t utf8_run(const uint8_t *buf, size_t n, size_t i, int *bad)
{
    do {
        size_t l = utf8_seq(buf + i, n - i);
        if (!l) {
            *bad = 1;
            return i;
        }
        i += l;
    } while (i < n && buf[i] >= 0x80);
    *bad = 0;
    return i;
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define WB_UTF8_AVX2 1
/* wb_utf8_valid_prefix for n >= 32 on a CPU with AVX2: 64, then 32 bytes
 * per test for ASCII, the last < 32 bytes by one load ending at buf + n
 * (nothing is read outside buf[0, n)); at a byte >= 0x80 (found by its bit
 * in the mask, not by a byte loop) the run of multi-byte characters is
 * checked one character at a time, then the vector loop resumes. A record
 * of MARC text is ~1 KB with a couple of such runs: a few dozen tests, no
 * per-byte loop, no cascade of block sizes. */
__attribute__((target("avx2"))) static size_t utf8_prefix_avx2(const uint8_t *buf, size_t n)
{
    size_t i = 0;
    for (;;) {
        while (i + 64 <= n) {
            __m256i a = _mm256_loadu_si256((const __m256i *)(buf + i));
            __m256i b = _mm256_loadu_si256((const __m256i *)(buf + i + 32));
            if (_mm256_movemask_epi8(_mm256_or_si256(a, b))) {
                unsigned ma = (unsigned)_mm256_movemask_epi8(a);
                i += ma ? (size_t)__builtin_ctz(ma) : 32 + (size_t)__builtin_ctz((unsigned)_mm256_movemask_epi8(b));
                goto multi;
            }
            i += 64;
        }
        while (i + 32 <= n) {
            unsigned m = (unsigned)_mm256_movemask_epi8(_mm256_loadu_si256((const __m256i *)(buf + i)));
            if (m) {
                i += (size_t)__builtin_ctz(m);
                goto multi;
            }
            i += 32;
        }
        if (i >= n)
            return n;
        {
            /* the last n - i < 32 bytes: one load ending at buf + n */
            unsigned m = (unsigned)_mm256_movemask_epi8(_mm256_loadu_si256((const __m256i *)(buf + n - 32)));
            m >>= 32 - (n - i);
            if (!m)
                return n;
            i += (size_t)__builtin_ctz(m);
        }
    multi:; /* buf[i] >= 0x80: a run of multi-byte characters */
        int bad;
        i = utf8_run(buf, n, i, &bad);
        if (bad)
            return i;
        if (i >= n)
            return n;
    }
}
#endif

size_t wb_utf8_valid_prefix(const uint8_t *buf, size_t n)
{
    size_t i = 0;
#ifdef WB_UTF8_AVX2
    if (n >= 32 && __builtin_cpu_supports("avx2"))
        return utf8_prefix_avx2(buf, n);
#endif
    while (i < n) {
        /* ASCII fast path: 64, then 16 bytes per test (SSE2: the sign bits
         * of OR-ed loads), then 8 */
#if defined(__SSE2__)
        while (i + 64 <= n) {
            __m128i a = _mm_loadu_si128((const __m128i *)(buf + i));
            __m128i b = _mm_loadu_si128((const __m128i *)(buf + i + 16));
            __m128i c = _mm_loadu_si128((const __m128i *)(buf + i + 32));
            __m128i d = _mm_loadu_si128((const __m128i *)(buf + i + 48));
            if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d))))
                break;
            i += 64;
        }
        while (i + 16 <= n) {
            int m = _mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(buf + i)));
            if (m) {
                i += (size_t)__builtin_ctz((unsigned)m);
                break;
            }
            i += 16;
        }
#else
        while (i + 16 <= n) {
            uint64_t w1, w2;
            memcpy(&w1, buf + i, 8);
            memcpy(&w2, buf + i + 8, 8);
            if ((w1 | w2) & 0x8080808080808080ull)
                break;
            i += 16;
        }
#endif
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, buf + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= n)
            break;
        if (buf[i] < 0x80) {
            i++;
            continue;
        }
        /* a run of non-ASCII characters (e.g. CJK) stays in this loop */
        int bad;
        i = utf8_run(buf, n, i, &bad);
        if (bad)
            return i;
    }
    return n;
}

long wb_utf8_repair(wb_buf *out, const uint8_t *buf, size_t n)
{
    if (n > SIZE_MAX / 3 || wb_buf_reserve(out, n * 3) != 0)
        return -1;
    long bad = 0;
    size_t i = 0;
    while (i < n) {
        size_t v = wb_utf8_valid_prefix(buf + i, n - i);
        memcpy(out->p + out->len, buf + i, v);
        out->len += v;
        i += v;
        if (i < n) {
            emit(out, 0xFFFD);
            bad++;
            i++;
        }
    }
    return bad;
}

/* Rebuild every field into rec->scratch with conv(), then swap buffers. */
static long rebuild(wb_marc_record *rec, int marc8)
{
    wb_buf *o = &rec->scratch;
    o->len = 0;
    rec->slices = 0; /* the fields move to rec->store */
    long problems = 0;
    for (size_t i = 0; i < rec->nfields; i++) {
        wb_marc_field *f = &rec->fields[i];
        size_t start = o->len;
        const uint8_t *d = f->data;
        size_t len = f->len, k = 0;
        if (!wb_marc_is_control(f)) {
            /* indicators and each delimiter + subfield code stay as they are;
             * the escape state starts afresh in each subfield, as in yaz */
            size_t ind = len < 2 ? len : 2;
            if (wb_buf_append(o, d, ind) != 0)
                return -1;
            k = ind;
        }
        if (!marc8) { /* UTF-8 repair: delimiters are ASCII, do it in one go */
            long p = wb_utf8_repair(o, d + k, len - k);
            if (p < 0)
                return -1;
            problems += p;
            k = len;
        }
        while (k < len) {
            size_t seg_end = k;
            if (d[k] == WB_MARC_SD && !wb_marc_is_control(f)) {
                if (wb_buf_putc(o, WB_MARC_SD) != 0)
                    return -1;
                k++;
                if (k < len && d[k] != WB_MARC_SD) {
                    /* the subfield code: ASCII as is, anything else is
                     * converted on its own (never dropped: that would make
                     * the value's first character the code) */
                    if (d[k] < 0x80) {
                        if (wb_buf_putc(o, d[k]) != 0)
                            return -1;
                    } else {
                        size_t before = o->len;
                        if (wb_marc8_to_utf8(o, d + k, 1) < 0)
                            return -1;
                        if (o->len == before && wb_buf_append(o, "\xEF\xBF\xBD", 3) != 0)
                            return -1;
                        problems++;
                    }
                    k++;
                }
                seg_end = k;
            }
            const uint8_t *nx = wb_marc_is_control(f) ? NULL : memchr(d + seg_end, WB_MARC_SD, len - seg_end);
            size_t e = nx ? (size_t)(nx - d) : len;
            long p = wb_marc8_to_utf8(o, d + seg_end, e - seg_end);
            if (p < 0)
                return -1;
            problems += p;
            k = e;
        }
        f->data = (const uint8_t *)(uintptr_t)start;
        f->len = (uint32_t)(o->len - start);
    }
    wb_buf tmp = rec->store;
    rec->store = rec->scratch;
    rec->scratch = tmp;
    const uint8_t *base = rec->store.p ? rec->store.p : (const uint8_t *)"";
    for (size_t i = 0; i < rec->nfields; i++)
        rec->fields[i].data = base + (size_t)(uintptr_t)rec->fields[i].data;
    return problems;
}

int wb_marc_to_utf8(wb_marc_record *rec, unsigned flags, wb_marc_error *err)
{
    uint8_t enc = rec->leader[9];
    if (enc == ' ') {
        if (rec->leader != rec->leader_buf) {
            memcpy(rec->leader_buf, rec->leader, WB_MARC_LEADER_LEN);
            rec->leader = rec->leader_buf;
        }
        rec->leader_buf[9] = 'a';
        long p = rebuild(rec, 1);
        if (p < 0) {
            wb_marc_errorf(err, 0, "out of memory converting MARC-8");
            return -1;
        }
        if (p > 0) {
            if (flags & WB_MARC_STRICT) {
                wb_marc_errorf(err, 0, "%ld MARC-8 codes or escape sequences could not be converted", p);
                return -1;
            }
            wb_marc_errorf(err, 0, "%ld MARC-8 codes or escape sequences could not be converted (dropped)", p);
            return 1;
        }
        return 0;
    }
    for (size_t i = 0; i < rec->nfields; i++) {
        const wb_marc_field *f = &rec->fields[i];
        size_t v = wb_utf8_valid_prefix(f->data, f->len);
        if (v == f->len)
            continue;
        if (flags & WB_MARC_STRICT) {
            wb_marc_errorf(err, 0, "field %s: invalid UTF-8 at byte %zu of the field", f->tag, v);
            return -1;
        }
        long p = rebuild(rec, 0);
        if (p < 0) {
            wb_marc_errorf(err, 0, "out of memory repairing UTF-8");
            return -1;
        }
        wb_marc_errorf(err, 0, "field %s: invalid UTF-8 at byte %zu of the field; %ld sequences replaced by U+FFFD",
                       f->tag, v, p);
        return 1;
    }
    return 0;
}

/* ---- pymarc compatibility ------------------------------------------------
 * pymarc 5.3.1's MARC8ToUnicode.translate(), reproduced for wirebuf.marc's
 * drop-in mode (the CLI keeps the LoC/yaz-compatible converter above).
 * Where the two differ, pymarc's behaviour is: an unmappable code or a
 * truncated 3-byte sequence becomes a space; an unknown 3-byte code consumes
 * its 3 bytes; in 3-byte mode every byte (space included) belongs to a code;
 * codes below 0x20 and 0x81-0x9F are dropped; a G0 set is looked up with
 * codes 0x21-0x7E and a G1 set (Extended Latin, Arabic, Cyrillic) with
 * 0xA1-0xFE, whatever register they were designated to; an escape too short
 * to designate a set keeps the ESC; combining marks left at the end are
 * dropped; III's extra 3-byte codes are mapped; and pymarc's tables differ
 * from the current LoC tables for the 17 codes below. */

static const uint32_t pymarc_eacc_overlay[][2] = {
    {0x214339, 0xFA12}, {0x215061, 0xFA1D}, {0x215C32, 0xFA25}, {0x215F71, 0xFA1C}, {0x217559, 0x3013},
    {0x222A34, 0x3013}, {0x223339, 0x3013}, {0x4B333E, 0xF92E}, {0x4B4B3E, 0xF9AD}, {0x4B5F58, 0xF9B2},
    {0x4B7421, 0xF9A9}, {0x6F7625, 0xE8B1}, {0x6F773C, 0xE8CB}};

/* 3-byte codes used by III systems (pymarc's ODD_MAP) */
static const uint32_t pymarc_odd[][2] = {{0x21203D, 0x2026}, {0x212040, 0x201C}, {0x7F2014, 0x2014},
                                         {0x7F2019, 0x2019}, {0x7F2020, 0x201D}, {0x7F2122, 0x2122}};

/* pymarc's keys for the double-width marks of Extended Latin (LoC <alt>) */
static uint32_t pymarc_ansel_overlay(uint32_t cp)
{
    switch (cp) {
    case 0xEB: return 0xFE20 | WB_MARC8_COMBINING;
    case 0xEC: return 0xFE21 | WB_MARC8_COMBINING;
    case 0xFA: return 0xFE22 | WB_MARC8_COMBINING;
    case 0xFB: return 0xFE23 | WB_MARC8_COMBINING;
    default: return 0;
    }
}

static int is_pymarc_codeset(unsigned f)
{
    return f == 0x31 || (f < 256 && set_index((uint8_t)f) != SET_NONE);
}

/* Code point (with WB_MARC8_COMBINING) of cp in pymarc's table for set f,
 * or 0 when pymarc's table has no such key. */
static uint32_t pymarc_lookup(unsigned f, uint32_t cp)
{
    if (f == 0x31) {
        for (size_t k = 0; k < sizeof pymarc_eacc_overlay / sizeof pymarc_eacc_overlay[0]; k++)
            if (pymarc_eacc_overlay[k][0] == cp)
                return pymarc_eacc_overlay[k][1];
        if (cp & 0x808080u)
            return 0;
        uint32_t u = eacc_lookup(cp);
        return u == WB_MARC8_IGNORE ? 0 : u;
    }
    if (f >= 256 || cp > 0xFF)
        return 0;
    int idx = set_index((uint8_t)f);
    if (idx == SET_NONE)
        return 0;
    int g1_coded = f == 0x45 || f == 0x34 || f == 0x51; /* tables keyed 0xA1-0xFE */
    if ((cp >= 0x80) != g1_coded)
        return 0;
    if (f == 0x45) {
        uint32_t o = pymarc_ansel_overlay(cp);
        if (o)
            return o;
    }
    uint32_t u = wb_marc8_single[idx][cp & 0x7F];
    return u == WB_MARC8_IGNORE ? 0 : u;
}

long wb_marc8_to_utf8_pymarc(wb_buf *out, const uint8_t *in, size_t n, unsigned *g0p, unsigned *g1p)
{
    if (n > SIZE_MAX / 4 || wb_buf_reserve(out, n * 4 + 4 * MAX_PENDING + 4) != 0)
        return -1;
    unsigned g0 = *g0p, g1 = *g1p;
    long problems = 0;
    wb_buf pend = {0}; /* combining marks waiting for their base (no limit, as pymarc) */
    size_t pos = 0;
    long rc = 0;
    while (pos < n) {
        if (in[pos] == 0x1B) {
            if (pos + 1 >= n) {
                rc = -2; /* pymarc: ord(b'') raises */
                break;
            }
            uint8_t nb = in[pos + 1];
            if (nb == '(' || nb == ',' || nb == '$') {
                if (n >= pos + 3) {
                    if (in[pos + 2] == ',' && nb == '$')
                        pos++;
                    if (pos + 2 >= n) {
                        rc = -2;
                        break;
                    }
                    g0 = in[pos + 2];
                    pos += 3;
                } else {
                    emit(out, 0x1B); /* kept so the defect stays visible */
                    pos++;
                }
                continue;
            }
            if (nb == ')' || nb == '-') {
                if (pos + 2 >= n) {
                    rc = -2;
                    break;
                }
                g1 = in[pos + 2];
                pos += 3;
                continue;
            }
            if (is_pymarc_codeset(nb)) {
                g0 = nb;
                pos += 2;
            } else if (nb == 0x73) {
                g0 = 0x42;
                pos += 2;
                if (pos == n)
                    break;
            }
        }
        int mb = g0 == 0x31;
        uint32_t cp;
        if (mb) {
            cp = n < pos + 3 ? 0x20 : (uint32_t)in[pos] << 16 | (uint32_t)in[pos + 1] << 8 | in[pos + 2];
            pos += 3;
        } else {
            if (pos >= n) {
                rc = -2;
                break;
            }
            cp = in[pos++];
        }
        if (cp < 0x20 || (cp > 0x80 && cp < 0xA0))
            continue;
        uint32_t u = pymarc_lookup(cp > 0x80 && !mb ? g1 : g0, cp);
        if (!u) {
            int odd = 0;
            for (size_t k = 0; k < sizeof pymarc_odd / sizeof pymarc_odd[0]; k++)
                if (pymarc_odd[k][0] == cp) {
                    emit(out, pymarc_odd[k][1]);
                    odd = 1;
                }
            if (odd)
                continue;
            problems++;
            u = 0x20;
        }
        if (u & WB_MARC8_COMBINING) {
            if (wb_utf8_append(&pend, u & ~WB_MARC8_COMBINING) != 0) {
                rc = -1;
                break;
            }
            continue;
        }
        emit(out, u);
        if (pend.len) {
            memcpy(out->p + out->len, pend.p, pend.len); /* reserved: one code point per input byte at most */
            out->len += pend.len;
            pend.len = 0;
        }
    }
    wb_buf_free(&pend);
    *g0p = g0;
    *g1p = g1;
    return rc < 0 ? rc : problems;
}

uint32_t wb_marc8_lookup_pymarc(unsigned set, uint32_t code)
{
    return pymarc_lookup(set, code);
}
