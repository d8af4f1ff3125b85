/* ISO 2709 framing, parsing and writing (MARC 21 "Record Structure").
 *
 * Sans-I/O: everything here takes a byte range and never reads or writes a
 * file. The reader (reader.c) feeds it from a wb_stream.
 *
 * Record layout: leader (24 bytes; 00-04 record length, 12-16 base address
 * of data), directory (12-byte entries: tag 3, field length 4, start 5),
 * field terminator 0x1E, the fields (each ending in 0x1E), record
 * terminator 0x1D. */
#include "internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* n ASCII digits at p -> *val. Branch-free over the digits (one test at the
 * end): the directory has two of these per entry on the hot path. */
static inline int digits(const uint8_t *p, size_t n, size_t *val)
{
    size_t v = 0;
    unsigned bad = 0;
#pragma GCC unroll 5
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)p[i] - '0';
        bad |= d > 9;
        v = v * 10 + d;
    }
    *val = v; /* (meaningless when 0 is returned) */
    return !bad;
}

/* Five ASCII digits at p (a leader's record length or base address) ->
 * *val, SWAR: one 8-byte load when 8 bytes are readable (always in a
 * leader: p + 8 <= leader + 24), then as digits(). */
static inline int digits5(const uint8_t *p, size_t *val)
{
    uint64_t w;
    memcpy(&w, p, 8);
    w &= 0xFFFFFFFFFFull; /* the five bytes */
    const uint64_t z = 0x3030303030ull, hi = 0x8080808080ull;
    if (((w | (w + 0x4646464646ull) | (w - z)) & hi) != 0) {
        *val = 0;
        return 0;
    }
    uint64_t d = w - z;                                /* 5 digits, one per byte */
    uint64_t lo4 = d & 0xFFFFFFFFull, d4 = d >> 32;     /* digits 0-3, digit 4 */
    lo4 = (lo4 * 10 + (lo4 >> 8)) & 0x00FF00FFull;     /* 2 x 2-digit numbers */
    lo4 = (lo4 * 100 + (lo4 >> 16)) & 0xFFFFull;       /* the first 4 digits */
    *val = (size_t)lo4 * 10 + (size_t)d4;
    return 1;
}

/* A directory entry's numbers (MARC 21 "Directory": tag 3, length of field
 * 4, starting character position 5) read 8 digits at a time (SWAR): bytes
 * 3-10 as one little-endian word, tested for all-digits with one carry-free
 * test (a byte outside '0'..'9' sets its high bit in w, w + 0x46.. or
 * w - 0x30..; carries and borrows only ever start at such a byte), then
 * converted pairwise (2 digits per byte lane, 4 per 16-bit lane). Byte 11
 * is the start's last digit. *tag_digits says whether the tag is three
 * digits (the usual case; other tags take the byte-wise path); *tag_word is
 * bytes 0-3 as loaded (little-endian). Returns 1
 * when all 9 number bytes are digits (*flen, *fstart meaningful only then). */
static inline int entry_nums(const uint8_t *e, size_t *flen, size_t *fstart, int *tag_digits, uint32_t *tag_word)
{
    const uint64_t z = 0x3030303030303030ull, hi = 0x8080808080808080ull;
    uint64_t w;
    uint32_t t;
    memcpy(&w, e + 3, 8);
    memcpy(&t, e, 4); /* tag and the length's first digit */
    *tag_word = t;
    unsigned last = (unsigned)e[11] - '0';
    *tag_digits = ((t | (t + 0x46464646u) | (t - 0x30303030u)) & 0x80808080u) == 0;
    int ok = ((w | (w + 0x4646464646464646ull) | (w - z)) & hi) == 0 && last <= 9;
    uint64_t d = w - z;
    d = (d * 10 + (d >> 8)) & 0x00FF00FF00FF00FFull;     /* 16-bit lanes: 2-digit numbers */
    d = (d * 100 + (d >> 16)) & 0x0000FFFF0000FFFFull;   /* 32-bit lanes: 4-digit numbers */
    *flen = (size_t)(d & 0xFFFFFFFFu);
    *fstart = (size_t)(d >> 32) * 10 + last;
    return ok;
}

/* 1 when p[0, n) is all ASCII digits. The directory of a well-formed MARC 21
 * record is (tags, lengths and starts all numeric): one test over the whole
 * directory, 16 bytes at a time (the last 16 by one load ending at p + n),
 * instead of one per entry. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* all_digits() 32 bytes at a time (n >= 32), for CPUs with AVX2. */
__attribute__((target("avx2"))) static int all_digits_avx2(const uint8_t *p, size_t n)
{
    const __m256i zero = _mm256_set1_epi8('0'), nine = _mm256_set1_epi8(9);
    __m256i ok = _mm256_set1_epi8(-1);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i d = _mm256_sub_epi8(_mm256_loadu_si256((const __m256i *)(p + i)), zero);
        ok = _mm256_and_si256(ok, _mm256_cmpeq_epi8(_mm256_min_epu8(d, nine), d));
    }
    if (i < n) {
        __m256i d = _mm256_sub_epi8(_mm256_loadu_si256((const __m256i *)(p + n - 32)), zero);
        ok = _mm256_and_si256(ok, _mm256_cmpeq_epi8(_mm256_min_epu8(d, nine), d));
    }
    return (unsigned)_mm256_movemask_epi8(ok) == 0xFFFFFFFFu;
}
#define WB_DIGITS_AVX2 1
#endif

static inline int all_digits(const uint8_t *p, size_t n)
{
#ifdef WB_DIGITS_AVX2
    if (n >= 32 && __builtin_cpu_supports("avx2"))
        return all_digits_avx2(p, n);
#endif
#if defined(__SSE2__)
    if (n >= 16) {
        const __m128i zero = _mm_set1_epi8('0'), nine = _mm_set1_epi8(9);
        __m128i bad = _mm_setzero_si128();
        size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            __m128i d = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(p + i)), zero);
            bad = _mm_or_si128(bad, _mm_xor_si128(_mm_cmpeq_epi8(_mm_min_epu8(d, nine), d), _mm_set1_epi8(-1)));
        }
        if (i < n) {
            __m128i d = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)(p + n - 16)), zero);
            bad = _mm_or_si128(bad, _mm_xor_si128(_mm_cmpeq_epi8(_mm_min_epu8(d, nine), d), _mm_set1_epi8(-1)));
        }
        return _mm_movemask_epi8(bad) == 0;
    }
#endif
    unsigned bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= (unsigned)p[i] - '0' > 9;
    return !bad;
}

/* A directory entry's length and start (9 digits, already known to be
 * digits) converted 8 at a time as in entry_nums(). */
static inline void entry_len_start(const uint8_t *e, size_t *flen, size_t *fstart)
{
    uint64_t w;
    memcpy(&w, e + 3, 8);
    uint64_t d = w - 0x3030303030303030ull;
    d = (d * 10 + (d >> 8)) & 0x00FF00FF00FF00FFull;
    d = (d * 100 + (d >> 16)) & 0x0000FFFF0000FFFFull;
    *flen = (size_t)(d & 0xFFFFFFFFu);
    *fstart = (size_t)(d >> 32) * 10 + (size_t)(e[11] - '0');
}

static int is_blank(uint8_t c)
{
    return c == '\n' || c == '\r' || c == 0 || c == ' ' || c == '\t' || c == 0x1A;
}

/* Does p look like the start of a MARC 21 leader? Record length and base
 * address are digits and the entry map starts "45" (MARC 21 always has
 * "4500", UNIMARC "450 "). Needs 24 bytes. */
static int plausible_leader(const uint8_t *p)
{
    size_t v;
    return p[20] == '4' && p[21] == '5' && digits(p, 5, &v) && digits(p + 12, 5, &v);
}

/* A leader found inside other bytes must look like a whole record start:
 * a plausible leader, a first directory entry of 9 digits after its tag,
 * and a base address that closes a directory of whole entries (with its
 * 0x1E when that byte is in p[0, n)). Text in a field rarely passes. */
static int leader_at(const uint8_t *p, size_t n)
{
    size_t base, v;
    if (!plausible_leader(p) || !digits(p + 12, 5, &base) || base < WB_MARC_LEADER_LEN + 1 ||
        (base - 1 - WB_MARC_LEADER_LEN) % WB_MARC_DIRENT_LEN != 0)
        return 0;
    if (base > WB_MARC_LEADER_LEN + 1 &&
        (n < WB_MARC_LEADER_LEN + WB_MARC_DIRENT_LEN || !digits(p + 27, 9, &v)))
        return 0;
    return base > n || p[base - 1] == WB_MARC_FT;
}

/* First k in [from, kend) where a record start (leader_at) is found in
 * p[0, n), or SIZE_MAX. Looks for the "45" of the entry map with memchr. */
static size_t find_leader(const uint8_t *p, size_t from, size_t kend, size_t n)
{
    if (n < WB_MARC_LEADER_LEN)
        return SIZE_MAX;
    if (kend > n - WB_MARC_LEADER_LEN + 1)
        kend = n - WB_MARC_LEADER_LEN + 1;
    size_t i = from + 20;
    while (i < kend + 20) {
        const uint8_t *f = memchr(p + i, '4', kend + 20 - i);
        if (!f)
            break;
        size_t k = (size_t)(f - p) - 20;
        if (leader_at(p + k, n - k))
            return k;
        i = (size_t)(f - p) + 1;
    }
    return SIZE_MAX;
}

/* Do the directory of p[0, len) and its data agree, for a record whose last
 * byte is its terminator (index len - 1)? The base address follows the
 * directory's 0x1E and every entry points at a field ending in 0x1E inside
 * the data, the last one ending just before the terminator. */
static int dir_fits(const uint8_t *p, size_t len)
{
    size_t base, flen, fstart, maxend = 0;
    if (len < WB_MARC_LEADER_LEN + 2 || !digits5(p + 12, &base) || base < WB_MARC_LEADER_LEN + 1 ||
        base >= len || p[base - 1] != WB_MARC_FT || (base - 1 - WB_MARC_LEADER_LEN) % WB_MARC_DIRENT_LEN)
        return 0;
    size_t end = len - 1;
    for (size_t e = WB_MARC_LEADER_LEN; e + 1 < base; e += WB_MARC_DIRENT_LEN) {
        if (!digits(p + e + 3, 4, &flen) || !digits(p + e + 7, 5, &fstart) || flen < 1 ||
            fstart > end - base || flen > end - base - fstart || p[base + fstart + flen - 1] != WB_MARC_FT)
            return 0;
        if (base + fstart + flen > maxend)
            maxend = base + fstart + flen;
    }
    return maxend == end || (maxend == 0 && base == end);
}

/* Does the directory's last entry end its field just before the terminator
 * at len - 1? True for every well-formed record whose directory is in data
 * order, so the framer can skip looking for an earlier 0x1D (a few bytes
 * read instead of a scan of the record). */
static int last_entry_ends(const uint8_t *p, size_t len)
{
    size_t base = 0, flen = 0, start = 0;
    if (!digits5(p + 12, &base) || base < WB_MARC_LEADER_LEN + 1 + WB_MARC_DIRENT_LEN || base >= len ||
        p[base - 1] != WB_MARC_FT)
        return 0;
    int tag_digits;
    uint32_t tag_word;
    return entry_nums(p + base - 1 - WB_MARC_DIRENT_LEN, &flen, &start, &tag_digits, &tag_word) &&
           base + start + flen == len - 1;
}

/* Bytes that only ever appear as structure or padding: a run of them after
 * junk is the same junk. */
static int is_filler(uint8_t c) { return c == WB_MARC_RT || c == WB_MARC_FT || c == WB_MARC_SD || is_blank(c); }

/* Longest a record without a terminator is buffered before it is junk. */
#define MAX_UNTERMINATED ((size_t)1 << 30)
/* Longest run of junk (no leader, no terminator) buffered before it is
 * reported and dropped. */
#define JUNK_WINDOW ((size_t)64 << 10)

static enum wb_marc_frame_kind junk(wb_marc_frame *out, size_t skip, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum wb_marc_frame_kind junk(wb_marc_frame *out, size_t skip, const char *fmt, ...)
{
    va_list ap;
    out->skip = skip;
    out->len = 0;
    va_start(ap, fmt);
    vsnprintf(out->msg, sizeof out->msg, fmt, ap);
    va_end(ap);
    return WB_FRAME_JUNK;
}

/* A leader k bytes in (k > 0) ends what comes before it: junk, or, when
 * the first leader was numeric and k bytes can hold a record, a record cut
 * short whose leader's length (lv) is wrong. Permissive mode. */
static inline enum wb_marc_frame_kind cut_at_leader(wb_marc_frame *out, size_t s, size_t k, int numeric, size_t lv)
{
    if (!numeric || k < WB_MARC_LEADER_LEN + 2)
        return junk(out, s + k, "%zu bytes of junk before a leader skipped", k);
    out->len = k;
    out->resynced = 1;
    snprintf(out->msg, sizeof out->msg,
             "record length %zu in leader is wrong and no record terminator (0x1D) comes before the next leader %zu bytes in",
             lv, k);
    return WB_FRAME_RECORD;
}

/* p[0, rt] ends in a terminator but the leader's length (lv, if numeric)
 * did not prove it: junk before a leader, a record missing its terminator,
 * or a record whose length is wrong. Permissive mode. */
static enum wb_marc_frame_kind resync(const uint8_t *p, size_t avail, size_t s, size_t rt, int numeric,
                                      size_t lv, wb_marc_frame *out)
{
    size_t rlen = rt + 1;
    /* a leader that starts before the terminator: the bytes before it are
     * junk, or a record cut short (or missing its terminator) */
    size_t k = find_leader(p, 1, rt, avail);
    if (k != SIZE_MAX)
        return cut_at_leader(out, s, k, numeric, lv);
    if (!numeric || rlen < WB_MARC_LEADER_LEN + 2) {
        /* junk up to the terminator, and the filler bytes after it */
        size_t e = rlen;
        while (e < avail && is_filler(p[e]))
            e++;
        return junk(out, s + e, "%zu bytes of junk (no leader) skipped", e);
    }
    out->len = rlen;
    out->resynced = 1;
    snprintf(out->msg, sizeof out->msg,
             "record length %zu in leader is wrong, record ends at the terminator %zu bytes in", lv, rlen);
    return WB_FRAME_RECORD;
}

enum wb_marc_frame_kind wb_marc_frame_next(const uint8_t *buf, size_t n, int eof, unsigned flags,
                                           wb_marc_frame *out)
{
    return wb_marc_frame_scan(buf, n, eof, flags, 0, out);
}

enum wb_marc_frame_kind wb_marc_frame_scan(const uint8_t *buf, size_t n, int eof, unsigned flags,
                                           size_t scanned, wb_marc_frame *out)
{
    /* every field but the message (160 bytes: only its first byte, on the
     * hot path) */
    out->skip = out->len = out->need = out->scanned = 0;
    out->resynced = out->record = 0;
    out->msg[0] = 0;
    size_t s = 0;
    while (s < n && is_blank(buf[s]))
        s++;
    const uint8_t *p = buf + s;
    size_t avail = n - s;
    out->skip = s;
    if (avail == 0) {
        if (eof)
            return WB_FRAME_END;
        out->need = n + 1;
        return WB_FRAME_NEED;
    }
    if (avail < 5 && !eof) {
        out->need = s + 5;
        return WB_FRAME_NEED;
    }
    int strict = (flags & (WB_MARC_STRICT | WB_MARC_STRICT_FRAMING)) != 0;
    size_t len = 0;
    int numeric = avail >= 8 ? digits5(p, &len) : avail >= 5 && digits(p, 5, &len);
    if (numeric && len >= WB_MARC_LEADER_LEN + 2) {
        if (avail < len && !eof) {
            out->need = s + len;
            return WB_FRAME_NEED;
        }
        if (avail >= len && p[len - 1] == WB_MARC_RT) {
            out->len = len;
            if (strict)
                return WB_FRAME_RECORD;
            /* Does the data prove an earlier end? A terminator inside,
             * followed by a leader or closing a directory that fits, is
             * where the record really ends (its length field is wrong). */
            if (last_entry_ends(p, len))
                return WB_FRAME_RECORD; /* the directory agrees: the usual case */
            const uint8_t *q = memchr(p, WB_MARC_RT, len - 1);
            if (!q)
                return WB_FRAME_RECORD;
            size_t qi = (size_t)(q - p);
            size_t k = find_leader(p, 1, qi, avail);
            if (k != SIZE_MAX || (qi + 1 + WB_MARC_LEADER_LEN <= avail && leader_at(p + qi + 1, avail - qi - 1)) ||
                dir_fits(p, qi + 1))
                return resync(p, avail, s, qi, numeric, len, out);
            /* a stray 0x1D in the data: the record stands, but say so */
            out->resynced = 1;
            snprintf(out->msg, sizeof out->msg, "record terminator (0x1D) inside the record's data, %zu bytes in", qi);
            return WB_FRAME_RECORD;
        }
    }
    /* The leader's length is missing, garbage or wrong: find the terminator,
     * from where the last call's search stopped. */
    size_t from = scanned > s ? scanned - s : 0;
    if (from > avail)
        from = avail;
    const uint8_t *rt = memchr(p + from, WB_MARC_RT, avail - from);
    if (strict) {
        if (!rt) {
            if (!eof) {
                out->need = n + (n > 65536 ? n : 65536); /* geometric: each byte scanned O(1) times */
                out->scanned = n;
                return WB_FRAME_NEED;
            }
            out->skip = n;
            out->record = 1;
            snprintf(out->msg, sizeof out->msg,
                     "truncated record: %zu bytes at end of input without a record terminator (0x1D)", avail);
            return WB_FRAME_JUNK;
        }
        size_t rlen = (size_t)(rt - p) + 1;
        out->skip = s + rlen;
        out->record = 1;
        if (numeric)
            snprintf(out->msg, sizeof out->msg,
                     "record length %zu in leader does not end at a record terminator (next 0x1D ends %zu bytes in)",
                     len, rlen);
        else
            snprintf(out->msg, sizeof out->msg, "record length in leader is not 5 digits");
        return WB_FRAME_JUNK;
    }
    if (rt)
        return resync(p, avail, s, (size_t)(rt - p), numeric, len, out);
    /* No terminator in what is buffered. A leader inside ends what comes
     * before it (junk, or a record cut short); otherwise wait for more, but
     * never buffer junk without bound. */
    size_t k = find_leader(p, 1, avail, avail);
    if (k != SIZE_MAX)
        return cut_at_leader(out, s, k, numeric, len);
    if (!eof) {
        /* only what starts like a leader may be buffered as one record */
        int lead = numeric && (avail < WB_MARC_LEADER_LEN || plausible_leader(p));
        if (!lead && avail >= JUNK_WINDOW)
            return junk(out, s + avail - (WB_MARC_LEADER_LEN - 1),
                        "%zu bytes of junk (no leader, no record terminator) skipped",
                        avail - (WB_MARC_LEADER_LEN - 1));
        if (avail >= MAX_UNTERMINATED)
            return junk(out, n, "%zu bytes without a record terminator (0x1D) skipped (longer than %zu bytes)", avail,
                        MAX_UNTERMINATED);
        out->need = n + (n > 65536 ? n : 65536);
        out->scanned = n;
        return WB_FRAME_NEED;
    }
    if (numeric && avail >= WB_MARC_LEADER_LEN + 2) {
        /* the last record lacks its terminator: the parser decides whether
         * its directory proves it whole */
        out->len = avail;
        out->resynced = 1;
        snprintf(out->msg, sizeof out->msg,
                 "record at end of input has no record terminator (0x1D) (leader length %zu, %zu bytes left)", len,
                 avail);
        return WB_FRAME_RECORD;
    }
    return junk(out, n, "truncated record: %zu bytes at end of input without a record terminator (0x1D)", avail);
}

static int tag_ok(const uint8_t *t)
{
    for (int i = 0; i < 3; i++) {
        uint8_t c = t[i];
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
            return 0;
    }
    return 1;
}

/* A byte that may stand in a structural position (leader, tag, indicator):
 * printable ASCII. Anything else makes MARCXML/JSON invalid or lies. */
static int printable(uint8_t c) { return c >= 0x20 && c < 0x7F; }

/* 1 when all 24 bytes are printable ASCII: three 8-byte words, each
 * tested for a byte < 0x20 and a byte >= 0x7F at once (the leader check
 * costs nothing on the hot path). */
static int all_printable24(const uint8_t *p)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t bad = 0;
    for (int i = 0; i < 24; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        bad |= ((w - ones * 0x20) & ~w & high) | ((w + ones) | w);
    }
    return (bad & high) == 0;
}

/* Add one problem to err: the first sets the offset, later ones are joined
 * with "; " (as many as fit). */
static void problem(wb_marc_error *err, int *n, uint64_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void problem(wb_marc_error *err, int *n, uint64_t off, const char *fmt, ...)
{
    char m[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    if ((*n)++ == 0) {
        err->offset = off;
        snprintf(err->msg, sizeof err->msg, "%s", m);
        return;
    }
    size_t have = strlen(err->msg);
    if (have + 2 + strlen(m) < sizeof err->msg)
        snprintf(err->msg + have, sizeof err->msg - have, "; %s", m);
    else if (have + 5 < sizeof err->msg && strcmp(err->msg + have - 3, "...") != 0)
        snprintf(err->msg + have, sizeof err->msg - have, "; ...");
}

/* Space for n bytes of a rebuilt field in rec->store. The first call of a
 * parse (*mark == SIZE_MAX) empties the store (it holds nothing the new
 * record uses). When the store must grow, fields already rebuilt into it are
 * moved with it (directory entries may point at the same data many times,
 * so no reservation made up front is always enough). NULL if out of
 * memory. */
static uint8_t *field_space(wb_marc_record *rec, size_t *mark, size_t n)
{
    wb_buf *b = &rec->store;
    if (*mark == SIZE_MAX) {
        b->len = 0;
        *mark = 0;
    }
    if (b->cap - b->len < n) {
        size_t cap = 2 * (b->len + n) + 4096;
        uint8_t *np = malloc(cap);
        if (!np)
            return NULL;
        if (b->len)
            memcpy(np, b->p, b->len);
        uintptr_t lo = (uintptr_t)b->p, hi = lo + b->len;
        for (size_t i = 0; i < rec->nfields; i++) {
            uintptr_t d = (uintptr_t)rec->fields[i].data;
            if (b->p && d >= lo && d < hi)
                rec->fields[i].data = np + (d - lo);
        }
        free(b->p);
        b->p = np;
        b->cap = cap;
    }
    uint8_t *o = b->p + b->len;
    b->len += n;
    return o;
}

/* Copy the leader to the record's own buffer before changing it. */
static void own_leader(wb_marc_record *rec, const uint8_t *buf)
{
    if (rec->leader != rec->leader_buf) {
        memcpy(rec->leader_buf, buf, WB_MARC_LEADER_LEN);
        rec->leader = rec->leader_buf;
    }
}

/* The hot path of parse() over a directory known to be all digits: store
 * entries 0.. as fields while each points at a field ending in 0x1E inside
 * the data (room bytes from base) and each data field has the usual shape
 * (two printable indicators, then 0x1F). Returns the index of the first
 * entry that is anything else (nent when none); *next is where the data
 * after the last stored field starts, *edge the OR of the bytes before each
 * stored field. Its own function, so that its few variables stay in
 * registers; CONVERT(e, flen, fstart) reads an entry's two numbers. */
#define USUAL_FIELDS_BODY(CONVERT)                                                                                  \
    const uint8_t *e = buf + WB_MARC_LEADER_LEN;                                                                    \
    const uint8_t *data = buf + base;                                                                               \
    unsigned ed = 0;                                                                                                \
    size_t i = 0;                                                                                                   \
    const uint8_t *last = NULL;                                                                                     \
    for (; i < nent; i++, e += WB_MARC_DIRENT_LEN) {                                                                \
        size_t flen, fstart;                                                                                        \
        CONVERT(e, flen, fstart);                                                                                   \
        /* fstart and flen are below 100,000: fstart + flen cannot wrap */                                         \
        if (flen < 1 || fstart + flen > room || data[fstart + flen - 1] != WB_MARC_FT)                              \
            break;                                                                                                  \
        const uint8_t *d = data + fstart;                                                                           \
        uint32_t tw;                                                                                                \
        memcpy(&tw, e, 4);                                                                                          \
        tw &= 0x00FFFFFFu; /* the tag and its NUL (little-endian) */                                               \
        if ((tw & 0xFFFFu) != 0x3030u && /* not "00x": a data field (wb_marc_is_control) */                        \
            !(flen >= 4 && d[2] == WB_MARC_SD && (uint8_t)(d[0] - 0x20) < 0x5F && (uint8_t)(d[1] - 0x20) < 0x5F)) \
            break;                                                                                                  \
        wb_marc_field lf;                                                                                           \
        memcpy(lf.tag, &tw, 4);                                                                                     \
        lf.len = (uint32_t)(flen - 1);                                                                              \
        lf.data = d;                                                                                                \
        fo[i] = lf;                                                                                                 \
        ed |= d[-1];                                                                                                \
        last = d + flen;                                                                                            \
    }                                                                                                               \
    if (last)                                                                                                       \
        *next = (size_t)(last - buf);                                                                               \
    *edge = ed;                                                                                                     \
    return i;

#define SCALAR_CONVERT(e, flen, fstart) entry_len_start((e), &(flen), &(fstart))

static size_t usual_fields(wb_marc_field *fo, const uint8_t *buf, size_t base, size_t room, size_t nent,
                           size_t *next, unsigned *edge)
{
    USUAL_FIELDS_BODY(SCALAR_CONVERT)
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <tmmintrin.h>
#define WB_DIR_SSSE3 1
/* An entry's length (4 digits) and start (5 digits) with SSSE3: one load of
 * the 16 bytes that end with the entry (the 4 before it are the previous
 * entry or the leader: always readable), the digits moved into two 8-digit
 * lanes (0000LLLL, 000SSSSS) by one shuffle, then multiply-adds by 10, 100
 * and 10,000 (pmaddubsw, pmaddwd). */
#define SSSE3_CONVERT(e, flen, fstart)                                                                              \
    do {                                                                                                            \
        __m128i v_ = _mm_sub_epi8(_mm_loadu_si128((const __m128i *)((e) - 4)), _mm_set1_epi8('0'));                 \
        v_ = _mm_shuffle_epi8(v_, _mm_setr_epi8(-1, -1, -1, -1, 7, 8, 9, 10, -1, -1, -1, 11, 12, 13, 14, 15));      \
        v_ = _mm_maddubs_epi16(v_, _mm_setr_epi8(10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1, 10, 1));          \
        v_ = _mm_madd_epi16(v_, _mm_setr_epi16(100, 1, 100, 1, 100, 1, 100, 1));                                    \
        v_ = _mm_packs_epi32(v_, v_);                                                                               \
        v_ = _mm_madd_epi16(v_, _mm_setr_epi16(10000, 1, 10000, 1, 10000, 1, 10000, 1));                            \
        uint64_t both_ = (uint64_t)_mm_cvtsi128_si64(v_);                                                          \
        (flen) = (size_t)(uint32_t)both_;                                                                           \
        (fstart) = (size_t)(both_ >> 32);                                                                           \
    } while (0)

__attribute__((target("ssse3"))) static size_t usual_fields_ssse3(wb_marc_field *fo, const uint8_t *buf, size_t base,
                                                                  size_t room, size_t nent, size_t *next,
                                                                  unsigned *edge)
{
    USUAL_FIELDS_BODY(SSSE3_CONVERT)
}
#endif

static int parse(wb_marc_record *rec, const uint8_t *buf, size_t len, unsigned flags, wb_marc_error *err)
{
    int strict = (flags & WB_MARC_STRICT) != 0;
    int np = 0; /* problems found (repaired, in permissive mode) */
    rec->nfields = 0;
    rec->slices = 0;
    rec->leader = buf;
    rec->raw_len = len;
    err->msg[0] = 0;
    if (len < WB_MARC_LEADER_LEN + 2) {
        wb_marc_errorf(err, 0, "record of %zu bytes is too short to be a record", len);
        return -1;
    }
    /* Where the data ends: before the record terminator. A record framed
     * without one (the framer found the next leader, or the end of input)
     * is kept only if its directory proves it whole (below). */
    size_t end = len - 1;
    int unterminated = buf[len - 1] != WB_MARC_RT;
    if (unterminated) {
        if (strict) {
            wb_marc_errorf(err, len - 1, "record of %zu bytes does not end in 0x1D", len);
            return -1;
        }
        end = buf[len - 1] == WB_MARC_FT ? len : len - 1; /* terminator missing, or overwritten */
    }
    size_t lv = 0;
    /* the length field was not trusted by the framer: the directory and the
     * data must agree before the record is accepted */
    int verify = unterminated || !digits5(buf, &lv) || lv != len;
    /* Leader bytes: printable ASCII everywhere; positions with fixed MARC 21
     * values (indicator count 10, subfield code length 11, entry map 20-23)
     * must be digits and are repaired to the MARC 21 values (as yaz does). */
    for (int k = all_printable24(buf) ? WB_MARC_LEADER_LEN : 0; k < WB_MARC_LEADER_LEN; k++) {
        uint8_t c = buf[k];
        if (printable(c))
            continue;
        if (strict) {
            wb_marc_errorf(err, (uint64_t)k, "leader/%02d holds byte 0x%02x (not printable ASCII)", k, c);
            return -1;
        }
        own_leader(rec, buf);
        rec->leader_buf[k] = k == 9 ? 'a' : ' '; /* 10, 11, 20-23 get their values below */
        problem(err, &np, (uint64_t)k, "leader/%02d byte 0x%02x not ASCII, set to '%c'", k, c,
                rec->leader_buf[k]);
    }
    static const char fixed_pos[6] = {10, 11, 20, 21, 22, 23};
    static const char fixed_val[6] = {'2', '2', '4', '5', '0', '0'};
    /* leader/10-11 and 20-23 digits (the usual case): two word tests */
    uint16_t l10;
    uint32_t l20;
    memcpy(&l10, rec->leader + 10, 2);
    memcpy(&l20, rec->leader + 20, 4);
    int fixed_ok = ((l10 | (uint16_t)(l10 + 0x4646u) | (uint16_t)(l10 - 0x3030u)) & 0x8080u) == 0 &&
                   ((l20 | (l20 + 0x46464646u) | (l20 - 0x30303030u)) & 0x80808080u) == 0;
    for (int k = fixed_ok ? 6 : 0; k < 6; k++) {
        uint8_t c = rec->leader[(int)fixed_pos[k]];
        if (c >= '0' && c <= '9')
            continue;
        if (strict) {
            wb_marc_errorf(err, (uint64_t)fixed_pos[k], "leader/%02d is not a digit (0x%02x)", fixed_pos[k], c);
            return -1;
        }
        own_leader(rec, buf);
        problem(err, &np, (uint64_t)fixed_pos[k], "leader/%02d not a digit (0x%02x), set to '%c'", fixed_pos[k], c,
                fixed_val[k]);
        rec->leader_buf[(int)fixed_pos[k]] = (uint8_t)fixed_val[k];
    }
    if (unterminated)
        problem(err, &np, len - 1, "record terminator (0x1D) %s, rebuilt",
                buf[len - 1] == WB_MARC_FT ? "missing" : "overwritten");
    /* The directory ends at the first 0x1E. When the base address points
     * just past a 0x1E and everything before it is whole entries of digits
     * (no 0x1E among them), that is it, without a search. */
    size_t b0;
    int dir_digits = digits5(buf + 12, &b0) && b0 > WB_MARC_LEADER_LEN && b0 <= end && buf[b0 - 1] == WB_MARC_FT &&
                     (b0 - 1 - WB_MARC_LEADER_LEN) % WB_MARC_DIRENT_LEN == 0 &&
                     all_digits(buf + WB_MARC_LEADER_LEN, b0 - 1 - WB_MARC_LEADER_LEN);
    const uint8_t *ft = dir_digits ? buf + b0 - 1 : memchr(buf + WB_MARC_LEADER_LEN, WB_MARC_FT, end - WB_MARC_LEADER_LEN);
    if (!ft) {
        wb_marc_errorf(err, WB_MARC_LEADER_LEN, "directory has no field terminator (0x1E)");
        return -1;
    }
    size_t dir_end = (size_t)(ft - buf); /* index of the directory's 0x1E */
    size_t base;
    if (!digits5(buf + 12, &base) || base != dir_end + 1) {
        if (strict) {
            wb_marc_errorf(err, 12, "base address of data %.5s in leader does not follow the directory (ends at %zu)",
                           (const char *)buf + 12, dir_end + 1);
            return -1;
        }
        problem(err, &np, 12, "base address '%.5s' wrong, using %zu", (const char *)buf + 12, dir_end + 1);
        base = dir_end + 1;
    }
    size_t dir_len = dir_end - WB_MARC_LEADER_LEN;
    if (dir_len % WB_MARC_DIRENT_LEN != 0) {
        if (strict) {
            wb_marc_errorf(err, WB_MARC_LEADER_LEN, "directory length %zu is not a multiple of 12", dir_len);
            return -1;
        }
        problem(err, &np, WB_MARC_LEADER_LEN, "directory length %zu not a multiple of 12 (%zu bytes ignored)",
                dir_len, dir_len % WB_MARC_DIRENT_LEN);
    }
    size_t nent = dir_len / WB_MARC_DIRENT_LEN;
    if (wb_rec_fields_reserve(rec, nent) != 0) {
        wb_marc_errorf(err, 0, "out of memory for %zu fields", nent);
        return -1;
    }
    if (verify && unterminated) {
        /* Cut short, or only its terminator lost? Trust it only if its data
         * holds one field per directory entry. */
        size_t nft = 0;
        for (const uint8_t *q = buf + base, *e = buf + end; q < e && (q = memchr(q, WB_MARC_FT, (size_t)(e - q)));
             q++)
            nft++;
        if (nft != nent || end <= base || buf[end - 1] != WB_MARC_FT) {
            wb_marc_errorf(err, 0,
                           "truncated record of %zu bytes (leader length %.5s): its directory has %zu entries but its "
                           "data %zu fields; not trusted",
                           len, (const char *)buf, nent, nft);
            return -1;
        }
    } else if (verify) {
        /* Ended at the first terminator, no leader inside: its directory
         * must at least be one (a stray leader copy followed by the rest of
         * a record is not). */
        size_t v;
        for (size_t i = 0; i < nent; i++) {
            const uint8_t *e = buf + WB_MARC_LEADER_LEN + i * WB_MARC_DIRENT_LEN;
            if (!digits(e + 3, 9, &v)) {
                wb_marc_errorf(err, WB_MARC_LEADER_LEN + i * WB_MARC_DIRENT_LEN,
                               "damaged record of %zu bytes (leader length %.5s): directory entry %zu is not a directory "
                               "entry; not trusted",
                               len, (const char *)buf, i + 1);
                return -1;
            }
        }
    }
    size_t next = base;   /* where the next field starts if the data is in directory order */
    int bad_entries = 0, bad_tags = 0, bad_inds = 0, no_inds = 0;
    size_t rebuilt = SIZE_MAX; /* rec->store holds rebuilt fields from here on */
    size_t room = base <= end ? end - base : 0; /* bytes of data before the terminator */
    size_t i = 0;
    if (dir_digits || all_digits(buf + WB_MARC_LEADER_LEN, nent * WB_MARC_DIRENT_LEN)) {
        /* The hot path: a directory of digits (one test above), each entry
         * pointing at a field that ends in 0x1E inside the data, every data
         * field of the usual shape. Fields are stored through a local
         * pointer; the first entry that is anything else leaves this loop
         * and is done again, with every repair, by the general loop below.
         * `edge` collects the byte before each field: when every field
         * follows an ASCII byte (a 0x1E), a record that is valid UTF-8 as a
         * whole has no field cut inside a character (rec->slices). */
        unsigned edge = 0;
#ifdef WB_DIR_SSSE3
        if (__builtin_cpu_supports("ssse3"))
            i = usual_fields_ssse3(rec->fields, buf, base, room, nent, &next, &edge);
        else
#endif
            i = usual_fields(rec->fields, buf, base, room, nent, &next, &edge);
        rec->nfields = i;
        rec->slices = i == nent && edge < 0x80;
    }
    for (; i < nent; i++) {
        const uint8_t *e = buf + WB_MARC_LEADER_LEN + i * WB_MARC_DIRENT_LEN;
        size_t flen = 0, fstart = 0;
        int tag_digits;
        uint32_t tag_word;
        int nums = entry_nums(e, &flen, &fstart, &tag_digits, &tag_word);
        size_t a = base + fstart;
        wb_marc_field *f;
        /* fstart and flen are below 100,000: fstart + flen cannot wrap */
        if (nums & tag_digits & (flen >= 1) & (fstart + flen <= room) && buf[a + flen - 1] == WB_MARC_FT) {
            /* The usual entry (a numeric tag pointing at a field that ends
             * in 0x1E inside the data): what the general path below does for
             * it, with one store per field. */
            wb_marc_field lf;
            uint32_t tw = tag_word & 0x00FFFFFFu; /* the tag and its NUL (little-endian) */
            memcpy(lf.tag, &tw, 4);
            lf.len = (uint32_t)(flen - 1);
            lf.data = buf + a;
            f = &rec->fields[rec->nfields++];
            *f = lf;
            next = a + flen;
            if ((tag_word & 0xFFFFu) == 0x3030u) /* "00": a control field (wb_marc_is_control) */
                continue;
            if (lf.len >= 3 && lf.data[2] == WB_MARC_SD && printable(lf.data[0]) && printable(lf.data[1]))
                continue; /* the usual data field */
            goto data_field;
        }
        int ok = nums && flen >= 1 && base <= end && fstart <= end - base && flen <= end - a &&
                 buf[a + flen - 1] == WB_MARC_FT;
        int bad_tag = 0;
        if (!tag_digits && !tag_ok(e)) {
            if (strict) {
                wb_marc_errorf(err, WB_MARC_LEADER_LEN + i * 12, "directory entry %zu has a bad tag", i + 1);
                return -1;
            }
            if (!printable(e[0]) || !printable(e[1]) || !printable(e[2])) {
                bad_tag = 1;
                if (!bad_tags++)
                    problem(err, &np, WB_MARC_LEADER_LEN + i * 12,
                            "directory entry %zu: tag bytes %02x %02x %02x not ASCII, replaced by '?'", i + 1, e[0],
                            e[1], e[2]);
            }
        }
        if (!ok) {
            if (strict) {
                wb_marc_errorf(err, WB_MARC_LEADER_LEN + i * 12,
                               "directory entry %zu (tag %.3s, length %.4s, start %.5s) does not point at a field ending in 0x1E",
                               i + 1, (const char *)e, (const char *)e + 3, (const char *)e + 7);
                return -1;
            }
            /* Recover: the field after the previous one, up to its 0x1E. */
            if (next >= end) {
                if (!bad_entries++)
                    problem(err, &np, WB_MARC_LEADER_LEN + i * 12, "directory entry %zu (%.3s) points past the data, dropped",
                            i + 1, (const char *)e);
                continue;
            }
            const uint8_t *t = memchr(buf + next, WB_MARC_FT, end - next);
            a = next;
            flen = t ? (size_t)(t - (buf + next)) + 1 : end - next;
            if (!bad_entries++)
                problem(err, &np, WB_MARC_LEADER_LEN + i * 12,
                        "directory entry %zu (%.3s %.4s %.5s) wrong, field rebuilt from the data",
                        i + 1, (const char *)e, (const char *)e + 3, (const char *)e + 7);
        }
        f = &rec->fields[rec->nfields++];
        memcpy(f->tag, e, 3);
        f->tag[3] = 0;
        if (bad_tag) /* reported above; replaced so every output stays well-formed */
            for (int x = 0; x < 3; x++)
                if (!printable(e[x]))
                    f->tag[x] = '?';
        f->data = buf + a;
        f->len = (uint32_t)(buf[a + flen - 1] == WB_MARC_FT ? flen - 1 : flen);
        next = a + flen;
        if (wb_marc_is_control(f))
            continue;
    data_field:;
        /* A data field is two indicators, then subfields. */
        const uint8_t *d = f->data;
        if (f->len >= 3 && d[2] == WB_MARC_SD && printable(d[0]) && printable(d[1]))
            continue; /* the usual case */
        if (strict && (f->len < 2 || (f->len > 2 && d[2] != WB_MARC_SD))) {
            wb_marc_errorf(err, a, "data field %.3s does not start with two indicators and a subfield delimiter",
                           f->tag);
            return -1;
        }
        if (f->len > 2 && !memchr(d, WB_MARC_SD, f->len)) {
            /* no subfield at all ("040 CaSfIA"): MARCXML and JSON could not
             * carry the text, so keep it as $a; the first two bytes stay
             * indicators only if they look like indicators */
            int inds = (isdigit(d[0]) || d[0] == ' ') && (isdigit(d[1]) || d[1] == ' ');
            size_t skip = inds ? 2 : 0;
            uint8_t *o = field_space(rec, &rebuilt, f->len - skip + 4);
            if (!o) {
                wb_marc_errorf(err, 0, "out of memory");
                return -1;
            }
            o[0] = inds ? d[0] : ' ';
            o[1] = inds ? d[1] : ' ';
            o[2] = WB_MARC_SD;
            o[3] = 'a';
            memcpy(o + 4, d + skip, f->len - skip);
            f->data = o;
            f->len = (uint32_t)(f->len - skip + 4);
            problem(err, &np, a, "data field %.3s has no subfield delimiter: its content kept as $a%s", f->tag,
                    inds ? "" : " (blank indicators supplied)");
            continue;
        }
        size_t k = 0; /* bytes before the first subfield delimiter */
        while (k < f->len && k < 2 && d[k] != WB_MARC_SD)
            k++;
        if (k < 2 && k < f->len) {
            /* indicators missing (real records have "040 $aCaSfIA"): keep
             * the subfields, supply blank indicators */
            if (strict) {
                wb_marc_errorf(err, a, "data field %.3s has no indicators", f->tag);
                return -1;
            }
            uint8_t *o = field_space(rec, &rebuilt, 2 - k + f->len);
            if (!o) {
                wb_marc_errorf(err, 0, "out of memory");
                return -1;
            }
            memset(o, ' ', 2 - k);
            memcpy(o + 2 - k, d, f->len);
            if (k == 1 && !printable(o[1])) {
                problem(err, &np, a, "data field %.3s: indicator byte %02x not ASCII, set to blank", f->tag, o[1]);
                o[1] = ' ';
            }
            f->data = o;
            f->len += (uint32_t)(2 - k);
            if (!no_inds++)
                problem(err, &np, a, "data field %.3s has %s indicator(s): blank supplied, content kept",
                        f->tag, k ? "only one" : "no");
            continue;
        }
        if (f->len >= 2 && (!printable(d[0]) || !printable(d[1]))) {
            if (strict) {
                wb_marc_errorf(err, a, "data field %.3s: indicator bytes %02x %02x are not printable ASCII", f->tag,
                               d[0], d[1]);
                return -1;
            }
            if (!bad_inds++)
                problem(err, &np, a, "data field %.3s: indicator bytes %02x %02x not ASCII, set to blank", f->tag,
                        d[0], d[1]);
            /* replaced, so that every writer's output stays well-formed */
            uint8_t *o = field_space(rec, &rebuilt, f->len);
            if (!o) {
                wb_marc_errorf(err, 0, "out of memory");
                return -1;
            }
            memcpy(o, d, f->len);
            for (int x = 0; x < 2; x++)
                if (!printable(o[x]))
                    o[x] = ' ';
            f->data = o;
            if (f->len > 2 && o[2] != WB_MARC_SD)
                problem(err, &np, a, "data field %.3s: no subfield delimiter after the indicators", f->tag);
            continue;
        }
        if (f->len < 2 || (f->len > 2 && d[2] != WB_MARC_SD))
            problem(err, &np, a, "data field %.3s: no subfield delimiter after the indicators", f->tag);
    }
    if (bad_entries > 1)
        problem(err, &np, 0, "%d bad directory entries in all", bad_entries);
    if (bad_tags > 1)
        problem(err, &np, 0, "%d non-ASCII tags in all", bad_tags);
    if (bad_inds > 1)
        problem(err, &np, 0, "%d fields with non-ASCII indicators in all", bad_inds);
    if (no_inds > 1)
        problem(err, &np, 0, "%d fields without indicators in all", no_inds);
    return np > 0;
}

int wb_marc_parse(wb_marc_record *rec, const uint8_t *buf, size_t len, unsigned flags, wb_marc_error *err)
{
    int rc = parse(rec, buf, len, flags, err);
    if (rc < 0 && len > 0 && buf[len - 1] != WB_MARC_RT && strncmp(err->msg, "truncated", 9) != 0) {
        /* framed without a terminator and not whole: a record cut short */
        wb_marc_error e = *err;
        wb_marc_errorf(err, e.offset, "truncated record: %s", e.msg);
    }
    /* messages quote tags and leader bytes: keep them printable (and valid
     * UTF-8) whatever the input held */
    if (rc != 0)
        for (char *c = err->msg; *c; c++)
            if (!printable((uint8_t)*c))
                *c = '?';
    return rc;
}

/* ---- writer ------------------------------------------------------------- */

static void put_num(uint8_t *p, size_t width, size_t v)
{
    for (size_t i = width; i-- > 0;) {
        p[i] = (uint8_t)('0' + v % 10);
        v /= 10;
    }
}

int wb_marc_iso2709_check(const wb_marc_record *rec, char *why, size_t whylen)
{
    size_t n = rec->nfields;
    size_t base = WB_MARC_LEADER_LEN + n * WB_MARC_DIRENT_LEN + 1;
    size_t off = 0, longest = 0;
    const char *tag = "";
    for (size_t i = 0; i < n; i++) {
        size_t l = rec->fields[i].len + 1;
        if (l > longest) {
            longest = l;
            tag = rec->fields[i].tag;
        }
        off += l;
    }
    size_t total = base + off + 1;
    if (total <= 99999 && longest <= 9999)
        return 0;
    if (why && whylen) {
        if (total > 99999)
            snprintf(why, whylen,
                     "record of %zu bytes is over ISO 2709's 99,999-byte limit: not written (--allow-oversize writes "
                     "it with the record length 99999 and capped directory entries, a convention readers must resync)",
                     total);
        else
            snprintf(why, whylen,
                     "field %.3s of %zu bytes is over ISO 2709's 9,999-byte field limit: not written (--allow-oversize "
                     "writes it with the field length capped at 9999)",
                     tag, longest);
    }
    return 1;
}

int wb_marc_write_iso2709(wb_buf *out, const wb_marc_record *rec)
{
    size_t n = rec->nfields;
    size_t base = WB_MARC_LEADER_LEN + n * WB_MARC_DIRENT_LEN + 1;
    size_t data = 0;
    for (size_t i = 0; i < n; i++)
        data += rec->fields[i].len + 1;
    size_t total = base + data + 1;
    if (wb_buf_reserve(out, total) != 0)
        return -1;
    uint8_t *p = out->p + out->len;
    memcpy(p, rec->leader, WB_MARC_LEADER_LEN);
    put_num(p, 5, total > 99999 ? 99999 : total);
    put_num(p + 12, 5, base > 99999 ? 99999 : base);
    uint8_t *d = p + WB_MARC_LEADER_LEN;
    uint8_t *f = p + base;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const wb_marc_field *fl = &rec->fields[i];
        size_t l = fl->len + 1;
        memcpy(d, fl->tag, 3);
        put_num(d + 3, 4, l > 9999 ? 9999 : l);
        put_num(d + 7, 5, off > 99999 ? 99999 : off);
        d += WB_MARC_DIRENT_LEN;
        memcpy(f, fl->data, fl->len);
        f[fl->len] = WB_MARC_FT;
        f += l;
        off += l;
    }
    *d = WB_MARC_FT;
    *f = WB_MARC_RT;
    out->len += total;
    return 0;
}
