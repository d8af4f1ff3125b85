/* Text writers: MARCXML (MARC 21 slim), MARC-in-JSON, MarcEdit mnemonic
 * (.mrk) and a human-readable dump. All append to a wb_buf (sans-I/O).
 *
 * Hot path (MARCXML, JSON). Most bytes need no escaping, so the writers copy
 * runs, not bytes: 16 bytes are loaded, stored to the output unconditionally
 * and tested at once (SSE2) for the bytes that need attention (< 0x20, which
 * includes the subfield delimiter 0x1F, and the format's specials); only at
 * such a byte does the loop leave the vector path. A data field is written in
 * one pass over its bytes: each 0x1F closes a subfield and opens the next, so
 * there is no per-subfield call. Each field reserves its worst case once and
 * then writes through a raw pointer. Tag/indicator openings are copied from a
 * template and patched when the bytes are plain ASCII.
 *
 * Well-formed output whatever the input: data bytes are valid UTF-8 after
 * wb_marc_to_utf8(), but structural positions (leader, tag, indicators) are
 * copied as they were read. There every byte >= 0x80 is written as U+FFFD,
 * and control bytes as U+FFFD (XML 1.0 has no way to write them) or \u00XX
 * (JSON), so the document is valid UTF-8 / XML / JSON whatever the record. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#define WB_SSE2 1
#endif

#define TRY(x)          \
    do {                \
        if ((x) != 0)   \
            return -1;  \
    } while (0)

#define LIT(b, s) wb_buf_append_fast((b), (s), sizeof(s) - 1)
/* Raw-pointer literal copy (room already reserved). */
#define WLIT(w, s) (memcpy((w), (s), sizeof(s) - 1), (w) += sizeof(s) - 1)

static const uint8_t fffd[3] = {0xEF, 0xBF, 0xBD};

/* Make sure n more bytes (plus 16 bytes of slack for the vector stores) fit. */
static inline int room(wb_buf *o, size_t n)
{
    n += 16;
    return o->cap - o->len >= n ? 0 : wb_buf_reserve(o, n);
}

/* ---- escaping ---------------------------------------------------------- */

/* 1: needs attention in XML text/attributes: &, <, >, " and every control
 * byte (TAB/LF/CR are copied, the others are not allowed in XML 1.0 and are
 * written as U+FFFD). */
static const uint8_t xml_class[256] = {
    [0] = 1, [1] = 1, [2] = 1, [3] = 1, [4] = 1, [5] = 1, [6] = 1, [7] = 1, [8] = 1, [9] = 1,
    [10] = 1, [11] = 1, [12] = 1, [13] = 1, [14] = 1, [15] = 1, [16] = 1, [17] = 1, [18] = 1, [19] = 1, [20] = 1,
    [21] = 1, [22] = 1, [23] = 1, [24] = 1, [25] = 1, [26] = 1, [27] = 1, [28] = 1, [29] = 1,
    [30] = 1, [31] = 1, ['&'] = 1, ['<'] = 1, ['>'] = 1, ['"'] = 1,
};

/* 1: needs escaping in a JSON string. */
static const uint8_t json_class[256] = {
    [0] = 1, [1] = 1, [2] = 1, [3] = 1, [4] = 1, [5] = 1, [6] = 1, [7] = 1, [8] = 1, [9] = 1,
    [10] = 1, [11] = 1, [12] = 1, [13] = 1, [14] = 1, [15] = 1, [16] = 1, [17] = 1, [18] = 1,
    [19] = 1, [20] = 1, [21] = 1, [22] = 1, [23] = 1, [24] = 1, [25] = 1, [26] = 1, [27] = 1,
    [28] = 1, [29] = 1, [30] = 1, [31] = 1, ['"'] = 1, ['\\'] = 1,
};

/* Plain in a structural position: printable ASCII that needs no escape in
 * either format. */
#define P16 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1
static const uint8_t plain_tab[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 0x20 */ 1, 1, 0 /* " */, 1, 1, 1, 0 /* & */, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 0x30 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 /* < */, 1, 0 /* > */, 1,
    /* 0x40 */ P16,
    /* 0x50 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 /* \\ */, 1, 1, 1,
    /* 0x60 */ P16,
    /* 0x70 */ 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0 /* DEL */,
};
#undef P16

static inline int plain(uint8_t c) { return plain_tab[c]; }

#ifdef WB_SSE2
/* Bit i set when p[i] needs attention (XML). */
static inline unsigned xml_mask(__m128i x)
{
    const __m128i c1f = _mm_set1_epi8(0x1F);
    __m128i m = _mm_cmpeq_epi8(_mm_min_epu8(x, c1f), x); /* x <= 0x1F */
    m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('&')));
    m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('<')));
    m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('>')));
    m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('"')));
    return (unsigned)_mm_movemask_epi8(m);
}

static inline unsigned json_mask(__m128i x)
{
    const __m128i c1f = _mm_set1_epi8(0x1F);
    __m128i m = _mm_cmpeq_epi8(_mm_min_epu8(x, c1f), x);
    m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('"')));
    m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
    return (unsigned)_mm_movemask_epi8(m);
}
#endif

/* Copy exactly k < 16 bytes from s to w with a few overlapping moves (no
 * read outside s[0, k)). */
static inline void copy_small(uint8_t *w, const uint8_t *s, size_t k)
{
    if (k >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + k - 8, 8);
        memcpy(w, &a, 8);
        memcpy(w + k - 8, &b, 8);
    } else if (k >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + k - 4, 4);
        memcpy(w, &a, 4);
        memcpy(w + k - 4, &b, 4);
    } else if (k) {
        w[0] = s[0];
        w[k / 2] = s[k / 2];
        w[k - 1] = s[k - 1];
    }
}

/* Copy s[i, n) to *wp up to the first byte that needs attention (its index
 * is returned; n when none). 16 bytes at a time, stored unconditionally
 * (the output has 16 bytes of slack); the last < 16 bytes are tested with
 * one load that ends at s + n (overlapping what was already copied), so no
 * byte is read after s + n and no per-byte loop runs unless n < 16. `back`
 * says that the 16 bytes before s + n are readable whatever n (s is a field
 * of a parsed record, rec->slices: the leader and directory come before
 * it), so that even a field shorter than 16 bytes takes that one load. */
static inline __attribute__((always_inline)) size_t scan_copy(uint8_t **wp, const uint8_t *s, size_t i, size_t n,
                                                               const uint8_t *cls, int xml, int back)
{
    uint8_t *w = *wp;
#ifdef WB_SSE2
    while (i + 16 <= n) {
        __m128i x = _mm_loadu_si128((const __m128i *)(s + i));
        _mm_storeu_si128((__m128i *)w, x);
        unsigned m = xml ? xml_mask(x) : json_mask(x);
        if (m) {
            unsigned k = (unsigned)__builtin_ctz(m);
            *wp = w + k;
            return i + k;
        }
        i += 16;
        w += 16;
    }
    if (i < n && (n >= 16 || back)) {
        size_t rem = n - i;
        __m128i x = _mm_loadu_si128((const __m128i *)(s + n - 16));
        unsigned m = (xml ? xml_mask(x) : json_mask(x)) >> (16 - rem);
        size_t k = m ? (size_t)__builtin_ctz(m) : rem;
        copy_small(w, s + i, k);
        *wp = w + k;
        return i + k;
    }
#endif
    (void)xml;
    (void)back;
    while (i < n && !cls[s[i]])
        *w++ = s[i++];
    *wp = w;
    return i;
}

/* Copy s[*ip, n) to *wp with XML escapes, stopping before the first 0x1F
 * when stop_sd (the end of a subfield). Room for 6 bytes per input byte plus
 * 16 must be reserved. */
static inline __attribute__((always_inline)) void xml_run(uint8_t **wp, const uint8_t *s, size_t *ip, size_t n,
                                                           int stop_sd, int back)
{
    uint8_t *w = *wp;
    size_t i = *ip;
    for (;;) {
        i = scan_copy(&w, s, i, n, xml_class, 1, back);
        if (i >= n)
            break;
        switch (s[i]) {
        case WB_MARC_SD:
            if (stop_sd)
                goto out;
            memcpy(w, fffd, 3), w += 3;
            break;
        case '&': WLIT(w, "&amp;"); break;
        case '<': WLIT(w, "&lt;"); break;
        case '>': WLIT(w, "&gt;"); break;
        case '"': WLIT(w, "&quot;"); break;
        case '\t': case '\n': case '\r': *w++ = s[i]; break;
        default: memcpy(w, fffd, 3), w += 3; break;
        }
        i++;
    }
out:
    *wp = w;
    *ip = i;
}

static const char hexd[] = "0123456789abcdef";

static inline uint8_t *json_esc(uint8_t *w, uint8_t c)
{
    switch (c) {
    case '"': WLIT(w, "\\\""); break;
    case '\\': WLIT(w, "\\\\"); break;
    case '\n': WLIT(w, "\\n"); break;
    case '\r': WLIT(w, "\\r"); break;
    case '\t': WLIT(w, "\\t"); break;
    default:
        WLIT(w, "\\u00");
        *w++ = (uint8_t)hexd[c >> 4];
        *w++ = (uint8_t)hexd[c & 15];
    }
    return w;
}

/* As xml_run, for the inside of a JSON string. */
static inline __attribute__((always_inline)) void json_run(uint8_t **wp, const uint8_t *s, size_t *ip, size_t n,
                                                            int stop_sd, int back)
{
    uint8_t *w = *wp;
    size_t i = *ip;
    for (;;) {
        i = scan_copy(&w, s, i, n, json_class, 0, back);
        if (i >= n)
            break;
        if (s[i] == WB_MARC_SD && stop_sd)
            break;
        w = json_esc(w, s[i]);
        i++;
    }
    *wp = w;
    *ip = i;
}

/* A structural byte (leader, tag, indicator) in XML: plain ASCII as is,
 * specials escaped, anything else U+FFFD. At most 6 bytes. */
static inline uint8_t *xml_struct_byte(uint8_t *w, uint8_t c)
{
    if (plain(c) || c == '\\') {
        *w++ = c;
        return w;
    }
    switch (c) {
    case '&': WLIT(w, "&amp;"); break;
    case '<': WLIT(w, "&lt;"); break;
    case '>': WLIT(w, "&gt;"); break;
    case '"': WLIT(w, "&quot;"); break;
    default: memcpy(w, fffd, 3), w += 3; break;
    }
    return w;
}

/* A structural byte in a JSON string: >= 0x80 as U+FFFD, controls escaped. */
static inline uint8_t *json_struct_byte(uint8_t *w, uint8_t c)
{
    if (c >= 0x80) {
        memcpy(w, fffd, 3);
        return w + 3;
    }
    if (json_class[c])
        return json_esc(w, c);
    *w++ = c;
    return w;
}

static inline int all_plain(const uint8_t *s, size_t n)
{
    unsigned bad = 0;
    for (size_t i = 0; i < n; i++)
        bad |= plain_tab[s[i]] ^ 1u;
    return !bad;
}

/* A tag of three ASCII digits (nearly every tag): one 32-bit test. */
static inline int digit_tag(const char *tag)
{
    uint32_t v;
    memcpy(&v, tag, 4); /* tag[3] is the NUL */
    v &= 0xFFFFFFu;
    return (v & 0xF0F0F0u) == 0x303030u && ((v + 0x060606u) & 0xF0F0F0u) == 0x303030u;
}

static inline int plain_tag(const char *tag)
{
    return digit_tag(tag) || all_plain((const uint8_t *)tag, 3);
}

/* The 24 leader bytes all plain? Two overlapping 16-byte tests. */
static inline int plain_leader(const uint8_t *l)
{
#ifdef WB_SSE2
    __m128i a = _mm_loadu_si128((const __m128i *)l), b = _mm_loadu_si128((const __m128i *)(l + 8));
    const __m128i lo = _mm_set1_epi8(0x1F), hi = _mm_set1_epi8(0x7E);
    /* bad: <= 0x1F or > 0x7E (as unsigned), or a special */
    unsigned m = 0;
    __m128i v[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        __m128i x = v[k];
        __m128i bad = _mm_cmpeq_epi8(_mm_min_epu8(x, lo), x);
        bad = _mm_or_si128(bad, _mm_xor_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, hi), x), _mm_set1_epi8(-1)));
        bad = _mm_or_si128(bad, _mm_cmpeq_epi8(x, _mm_set1_epi8('&')));
        bad = _mm_or_si128(bad, _mm_cmpeq_epi8(x, _mm_set1_epi8('<')));
        bad = _mm_or_si128(bad, _mm_cmpeq_epi8(x, _mm_set1_epi8('>')));
        bad = _mm_or_si128(bad, _mm_cmpeq_epi8(x, _mm_set1_epi8('"')));
        bad = _mm_or_si128(bad, _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
        m |= (unsigned)_mm_movemask_epi8(bad);
    }
    return m == 0;
#else
    return all_plain(l, WB_MARC_LEADER_LEN);
#endif
}

/* Bytes of the subfield code at d[i] (the byte after a 0x1F) in a field of
 * len bytes: 0 when the subfield is empty (end or another 0x1F), the whole
 * character when the byte starts a valid multi-byte UTF-8 character, else 1.
 * The same rule as wb_marc_subfield_next(). */
static inline size_t code_len(const uint8_t *d, size_t i, size_t len)
{
    if (i >= len || d[i] == WB_MARC_SD)
        return 0;
    if (d[i] < 0xC2)
        return 1;
    size_t want = d[i] >= 0xF0 ? 4 : d[i] >= 0xE0 ? 3 : 2;
    if (i + want <= len && wb_utf8_valid_prefix(d + i, want) == want)
        return want;
    return 1;
}

/* A field takes the one-pass path when it has the usual shape: two
 * indicators, then a subfield delimiter. Anything else goes through
 * wb_marc_subfield_next(), the one definition of the odd cases. */
static inline int usual_shape(const wb_marc_field *f)
{
    return f->len >= 3 && f->data[2] == WB_MARC_SD && f->data[0] != WB_MARC_SD && f->data[1] != WB_MARC_SD;
}

static void indicators(const wb_marc_field *f, uint8_t ind[2])
{
    ind[0] = ind[1] = ' ';
    for (size_t k = 0; k < 2 && k < f->len; k++)
        if (f->data[k] != WB_MARC_SD)
            ind[k] = f->data[k];
}

/* ---- MARCXML ------------------------------------------------------------ */

int wb_marc_xml_begin(wb_buf *o)
{
    return wb_buf_puts(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                          "<collection xmlns=\"http://www.loc.gov/MARC21/slim\">\n");
}

int wb_marc_xml_end(wb_buf *o) { return wb_buf_puts(o, "</collection>\n"); }

static inline uint8_t *xml_struct(uint8_t *w, const uint8_t *s, size_t n)
{
    if (n == 3 ? plain_tag((const char *)s) : n == WB_MARC_LEADER_LEN ? plain_leader(s) : all_plain(s, n)) {
        memcpy(w, s, n);
        return w + n;
    }
    for (size_t k = 0; k < n; k++)
        w = xml_struct_byte(w, s[k]);
    return w;
}

/* The subfield code: a whole UTF-8 character (cl > 1) as is, one byte as a
 * structural byte, none as a blank. */
static inline uint8_t *xml_code(uint8_t *w, const uint8_t *c, size_t cl)
{
    if (cl == 0) {
        *w++ = ' ';
    } else if (cl == 1) {
        w = xml_struct_byte(w, c[0]);
    } else {
        memcpy(w, c, cl);
        w += cl;
    }
    return w;
}

static int xml_field_slow(wb_buf *o, const wb_marc_field *f)
{
    size_t pos = 0;
    wb_marc_subfield sf;
    while (wb_marc_subfield_next(f, &pos, &sf)) {
        TRY(room(o, sf.len * 6 + sf.code_len * 6 + 64));
        uint8_t *w = o->p + o->len;
        WLIT(w, "    <subfield code=\"");
        w = sf.code_len == 1 ? xml_struct_byte(w, sf.code[0]) : xml_code(w, sf.code, sf.code_len);
        WLIT(w, "\">");
        size_t i = 0;
        xml_run(&w, sf.value, &i, sf.len, 0, 0);
        WLIT(w, "</subfield>\n");
        o->len = (size_t)(w - o->p);
    }
    return 0;
}

int wb_marc_write_marcxml(wb_buf *o, const wb_marc_record *r)
{
    /* a record straight from wb_marc_parse's hot path (rec->slices): every
     * tag is three digits, every data field two printable indicators and
     * 0x1F, and the 16 bytes before each field are readable */
    const int sl = r->slices;
    TRY(room(o, 64 + WB_MARC_LEADER_LEN * 6));
    uint8_t *w = o->p + o->len;
    WLIT(w, "<record>\n  <leader>");
    w = xml_struct(w, r->leader, WB_MARC_LEADER_LEN);
    WLIT(w, "</leader>\n");
    o->len = (size_t)(w - o->p);
    for (size_t fi = 0; fi < r->nfields; fi++) {
        const wb_marc_field *f = &r->fields[fi];
        const uint8_t *d = f->data;
        size_t len = f->len;
        TRY(room(o, len * 40 + 160));
        w = o->p + o->len;
        if (wb_marc_is_control(f)) {
            WLIT(w, "  <controlfield tag=\"");
            w = xml_struct(w, (const uint8_t *)f->tag, 3);
            WLIT(w, "\">");
            size_t i = 0;
            xml_run(&w, d, &i, len, 0, sl);
            WLIT(w, "</controlfield>\n");
            o->len = (size_t)(w - o->p);
            continue;
        }
        uint8_t ind[2];
        if (sl) {
            ind[0] = d[0];
            ind[1] = d[1];
        } else {
            indicators(f, ind);
        }
        if ((sl || plain_tag(f->tag)) && plain(ind[0]) && plain(ind[1])) {
            /* the opening tag from a template, patched */
            static const char tpl[] = "  <datafield tag=\"TTT\" ind1=\"1\" ind2=\"2\">\n";
            memcpy(w, tpl, sizeof tpl - 1);
            memcpy(w + 18, f->tag, 3);
            w[29] = ind[0];
            w[38] = ind[1];
            w += sizeof tpl - 1;
        } else {
            WLIT(w, "  <datafield tag=\"");
            w = xml_struct(w, (const uint8_t *)f->tag, 3);
            WLIT(w, "\" ind1=\"");
            w = xml_struct_byte(w, ind[0]);
            WLIT(w, "\" ind2=\"");
            w = xml_struct_byte(w, ind[1]);
            WLIT(w, "\">\n");
        }
        if (sl || usual_shape(f)) {
            size_t i = 2; /* d[i] is a subfield delimiter */
            while (i < len) {
                i++;
                if (i < len && plain(d[i])) {
                    /* the usual one-byte code: one templated copy */
                    static const char tpl[] = "    <subfield code=\"c\">";
                    memcpy(w, tpl, sizeof tpl - 1);
                    w[20] = d[i];
                    w += sizeof tpl - 1;
                    i++;
                } else {
                    size_t cl = code_len(d, i, len);
                    WLIT(w, "    <subfield code=\"");
                    w = xml_code(w, d + i, cl);
                    WLIT(w, "\">");
                    i += cl;
                }
                xml_run(&w, d, &i, len, 1, sl);
                WLIT(w, "</subfield>\n");
            }
            o->len = (size_t)(w - o->p);
        } else {
            o->len = (size_t)(w - o->p);
            TRY(xml_field_slow(o, f));
            TRY(room(o, 32));
            w = o->p + o->len;
        }
        w = o->p + o->len;
        WLIT(w, "  </datafield>\n");
        o->len = (size_t)(w - o->p);
    }
    return LIT(o, "</record>\n");
}

/* ---- MARC-in-JSON ------------------------------------------------------- */

int wb_marc_json_begin(wb_buf *o) { return wb_buf_putc(o, '['); }
int wb_marc_json_end(wb_buf *o) { return wb_buf_puts(o, "]\n"); }

static inline uint8_t *json_struct(uint8_t *w, const uint8_t *s, size_t n)
{
    if (n == 3 ? plain_tag((const char *)s) : n == WB_MARC_LEADER_LEN ? plain_leader(s) : all_plain(s, n)) {
        memcpy(w, s, n);
        return w + n;
    }
    for (size_t k = 0; k < n; k++)
        w = json_struct_byte(w, s[k]);
    return w;
}

static inline uint8_t *json_code(uint8_t *w, const uint8_t *c, size_t cl)
{
    if (cl == 0) {
        *w++ = ' ';
    } else if (cl == 1) {
        w = json_struct_byte(w, c[0]);
    } else {
        memcpy(w, c, cl);
        w += cl;
    }
    return w;
}

static int json_field_slow(wb_buf *o, const wb_marc_field *f)
{
    size_t pos = 0;
    wb_marc_subfield sf;
    int n = 0;
    while (wb_marc_subfield_next(f, &pos, &sf)) {
        TRY(room(o, sf.len * 6 + sf.code_len * 6 + 32));
        uint8_t *w = o->p + o->len;
        if (n++)
            *w++ = ',';
        WLIT(w, "{\"");
        w = json_code(w, sf.code, sf.code_len);
        WLIT(w, "\":\"");
        size_t i = 0;
        json_run(&w, sf.value, &i, sf.len, 0, 0);
        WLIT(w, "\"}");
        o->len = (size_t)(w - o->p);
    }
    return 0;
}

int wb_marc_write_json(wb_buf *o, const wb_marc_record *r, int first)
{
    const int sl = r->slices; /* as in wb_marc_write_marcxml */
    TRY(room(o, 64 + WB_MARC_LEADER_LEN * 6));
    uint8_t *w = o->p + o->len;
    if (!first)
        WLIT(w, ",\n");
    WLIT(w, "{\"leader\":\"");
    w = json_struct(w, r->leader, WB_MARC_LEADER_LEN);
    WLIT(w, "\",\"fields\":[");
    o->len = (size_t)(w - o->p);
    for (size_t fi = 0; fi < r->nfields; fi++) {
        const wb_marc_field *f = &r->fields[fi];
        const uint8_t *d = f->data;
        size_t len = f->len;
        TRY(room(o, len * 20 + 160));
        w = o->p + o->len;
        if (fi)
            *w++ = ',';
        WLIT(w, "{\"");
        if (sl) { /* three digits */
            memcpy(w, f->tag, 3);
            w += 3;
        } else {
            w = json_struct(w, (const uint8_t *)f->tag, 3);
        }
        WLIT(w, "\":");
        if (wb_marc_is_control(f)) {
            *w++ = '"';
            size_t i = 0;
            json_run(&w, d, &i, len, 0, sl);
            WLIT(w, "\"}");
            o->len = (size_t)(w - o->p);
            continue;
        }
        WLIT(w, "{\"subfields\":[");
        if (sl || usual_shape(f)) {
            size_t i = 2; /* d[i] is a subfield delimiter */
            int n = 0;
            while (i < len) {
                i++;
                if (n++)
                    *w++ = ',';
                if (i < len && plain(d[i])) {
                    /* the usual one-byte code: one templated copy */
                    memcpy(w, "{\"c\":\"", 6);
                    w[2] = d[i];
                    w += 6;
                    i++;
                } else {
                    size_t cl = code_len(d, i, len);
                    WLIT(w, "{\"");
                    w = json_code(w, d + i, cl);
                    WLIT(w, "\":\"");
                    i += cl;
                }
                json_run(&w, d, &i, len, 1, sl);
                WLIT(w, "\"}");
            }
            o->len = (size_t)(w - o->p);
        } else {
            o->len = (size_t)(w - o->p);
            TRY(json_field_slow(o, f));
            TRY(room(o, 64));
        }
        w = o->p + o->len;
        uint8_t ind[2];
        if (sl) {
            ind[0] = d[0];
            ind[1] = d[1];
        } else {
            indicators(f, ind);
        }
        WLIT(w, "],\"ind1\":\"");
        w = json_struct_byte(w, ind[0]);
        WLIT(w, "\",\"ind2\":\"");
        w = json_struct_byte(w, ind[1]);
        WLIT(w, "\"}}");
        o->len = (size_t)(w - o->p);
    }
    return LIT(o, "]}");
}

/* ---- MarcEdit mnemonic (.mrk) ------------------------------------------- */

enum { MRK_LEADER, MRK_CONTROL, MRK_DATA };

/* structural: leader, tag or indicators, where a byte >= 0x80 cannot be part
 * of a character and is written as U+FFFD (the text stays valid UTF-8). */
static int put_mrk(wb_buf *o, const uint8_t *s, size_t n, int mode, int marc8, int structural)
{
    TRY(wb_buf_reserve(o, n));
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (structural && c >= 0x80) {
            TRY(wb_buf_append(o, fffd, 3));
            continue;
        }
        const char *m = NULL;
        char hex[12];
        switch (c) {
        case '$': m = "{dollar}"; break;
        case '{': m = "{lcub}"; break;
        case '}': m = "{rcub}"; break;
        case '\\': m = mode == MRK_DATA ? NULL : "{bsol}"; break;
        case ' ': if (mode != MRK_DATA) m = "\\"; break;
        case WB_MARC_SD: if (mode == MRK_DATA) m = "$"; break;
        default:
            if (c < 0x20) {
                snprintf(hex, sizeof hex, "{U+%04X}", c);
                m = hex;
            } else if (marc8 && c >= 0x80) {
                const char *name = wb_mrk_marc8_to_mnemonic(c);
                if (name) {
                    TRY(wb_buf_putc(o, '{'));
                    TRY(wb_buf_puts(o, name));
                    TRY(wb_buf_putc(o, '}'));
                    continue;
                }
            }
        }
        if (m)
            TRY(wb_buf_puts(o, m));
        else
            TRY(wb_buf_putc(o, c));
    }
    return 0;
}

int wb_marc_write_mrk(wb_buf *o, const wb_marc_record *r)
{
    int marc8 = r->leader[9] == ' ';
    TRY(LIT(o, "=LDR  "));
    TRY(put_mrk(o, r->leader, WB_MARC_LEADER_LEN, MRK_LEADER, 0, 1));
    TRY(wb_buf_putc(o, '\n'));
    for (size_t i = 0; i < r->nfields; i++) {
        const wb_marc_field *f = &r->fields[i];
        TRY(wb_buf_putc(o, '='));
        TRY(put_mrk(o, (const uint8_t *)f->tag, 3, MRK_CONTROL, 0, 1));
        TRY(LIT(o, "  "));
        if (wb_marc_is_control(f)) {
            TRY(put_mrk(o, f->data, f->len, MRK_CONTROL, marc8, 0));
        } else {
            size_t ni = f->len < 2 ? f->len : 2;
            TRY(put_mrk(o, f->data, ni, MRK_CONTROL, 0, 1));
            for (size_t k = ni; k < 2; k++)
                TRY(wb_buf_putc(o, '\\'));
            TRY(put_mrk(o, f->data + ni, f->len - ni, MRK_DATA, marc8, 0));
        }
        TRY(wb_buf_putc(o, '\n'));
    }
    return wb_buf_putc(o, '\n');
}

/* ---- dump --------------------------------------------------------------- */

int wb_marc_write_text(wb_buf *o, const wb_marc_record *r)
{
    char head[64];
    snprintf(head, sizeof head, "# record %llu at byte %llu\n", (unsigned long long)r->number,
             (unsigned long long)r->offset);
    TRY(wb_buf_puts(o, head));
    TRY(LIT(o, "LDR "));
    TRY(wb_buf_append(o, r->leader, WB_MARC_LEADER_LEN));
    TRY(wb_buf_putc(o, '\n'));
    for (size_t i = 0; i < r->nfields; i++) {
        const wb_marc_field *f = &r->fields[i];
        TRY(wb_buf_append(o, f->tag, 3));
        TRY(wb_buf_putc(o, ' '));
        if (wb_marc_is_control(f)) {
            TRY(wb_buf_append(o, f->data, f->len));
        } else {
            for (size_t k = 0; k < 2; k++)
                TRY(wb_buf_putc(o, k < f->len && f->data[k] != WB_MARC_SD ? f->data[k] : ' '));
            size_t pos = 0;
            wb_marc_subfield sf;
            while (wb_marc_subfield_next(f, &pos, &sf)) {
                TRY(LIT(o, " $"));
                TRY(wb_buf_append(o, sf.code, sf.code_len));
                TRY(wb_buf_putc(o, ' '));
                TRY(wb_buf_append(o, sf.value, sf.len));
            }
        }
        TRY(wb_buf_putc(o, '\n'));
    }
    return wb_buf_putc(o, '\n');
}
