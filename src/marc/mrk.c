/* MarcEdit / MARCMaker mnemonic text (.mrk, .mrk8) reader and the mnemonic
 * table. Format: one field per line, "=TAG  " then the content; "=LDR" is the
 * leader; a blank line ends a record. In the leader, control fields and
 * indicators '\' is a blank; in data fields '$' starts a subfield. Characters
 * can be written as mnemonics in braces ({dollar}, {acute}, ...), the names
 * of LoC's MARCMaker character list; {U+XXXX} is any code point.
 *
 * A record whose leader/09 is blank is MARC-8: mnemonics become MARC-8
 * bytes, so brkrtest.mrk compiles to the same bytes as brkrtest.mrc. Otherwise
 * it is UTF-8: mnemonics become the Unicode characters, and combining marks
 * (written before their base, as MARC-8 does) are moved after it. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

static const struct {
    const char *name;
    uint8_t code;
} mnemonics[] = {
    /* Basic Latin characters that are syntax in .mrk */
    {"dollar", 0x24}, {"lcub", 0x7B}, {"rcub", 0x7D}, {"bsol", 0x5C}, {"verbar", 0x7C},
    {"lsqb", 0x5B}, {"rsqb", 0x5D}, {"esc", 0x1B}, {"joiner", 0x8D}, {"zwj", 0x8D},
    {"nonjoin", 0x8E}, {"zwnj", 0x8E}, {"nsb", 0x88}, {"nse", 0x89},
    /* Extended Latin (ANSEL) spacing characters */
    {"Lstrok", 0xA1}, {"Ostrok", 0xA2}, {"Dstrok", 0xA3}, {"THORN", 0xA4}, {"AElig", 0xA5},
    {"OElig", 0xA6}, {"softsign", 0xA7}, {"middot", 0xA8}, {"flat", 0xA9}, {"reg", 0xAA},
    {"plusmn", 0xAB}, {"Ohorn", 0xAC}, {"Uhorn", 0xAD}, {"mlrhring", 0xAE}, {"alif", 0xAE},
    {"mllhring", 0xB0}, {"ayn", 0xB0}, {"lstrok", 0xB1}, {"ostrok", 0xB2}, {"dstrok", 0xB3},
    {"thorn", 0xB4}, {"aelig", 0xB5}, {"oelig", 0xB6}, {"hardsign", 0xB7}, {"inodot", 0xB8},
    {"pound", 0xB9}, {"eth", 0xBA}, {"ohorn", 0xBC}, {"uhorn", 0xBD}, {"deg", 0xC0},
    {"scriptl", 0xC1}, {"phono", 0xC2}, {"copy", 0xC3}, {"sharp", 0xC4}, {"iquest", 0xC5},
    {"iexcl", 0xC6}, {"eszett", 0xC7}, {"euro", 0xC8},
    /* Extended Latin (ANSEL) combining diacritics */
    {"hooka", 0xE0}, {"grave", 0xE1}, {"acute", 0xE2}, {"circ", 0xE3}, {"tilde", 0xE4},
    {"macr", 0xE5}, {"breve", 0xE6}, {"dot", 0xE7}, {"uml", 0xE8}, {"caron", 0xE9},
    {"ring", 0xEA}, {"llig", 0xEB}, {"rlig", 0xEC}, {"rcommaa", 0xED}, {"dblac", 0xEE},
    {"candra", 0xEF}, {"cedil", 0xF0}, {"ogon", 0xF1}, {"dotb", 0xF2}, {"dbldotb", 0xF3},
    {"ringb", 0xF4}, {"dblunder", 0xF5}, {"under", 0xF6}, {"commab", 0xF7}, {"rcedil", 0xF8},
    {"breveb", 0xF9}, {"ldbltil", 0xFA}, {"rdbltil", 0xFB}, {"commaa", 0xFE},
};

#define NMNEMONICS (sizeof mnemonics / sizeof mnemonics[0])

size_t wb_mrk_mnemonic_to_marc8(const char *name, size_t len, uint8_t out[8])
{
    for (size_t i = 0; i < NMNEMONICS; i++)
        if (strlen(mnemonics[i].name) == len && memcmp(mnemonics[i].name, name, len) == 0) {
            out[0] = mnemonics[i].code;
            return 1;
        }
    return 0;
}

const char *wb_mrk_marc8_to_mnemonic(uint8_t b)
{
    for (size_t i = 0; i < NMNEMONICS; i++)
        if (mnemonics[i].code == b && b >= 0x80)
            return mnemonics[i].name;
    return NULL;
}

static void put_cp(wb_buf *o, uint32_t c) { wb_utf8_append(o, c); }

enum { M_LEADER, M_CONTROL, M_INDICATORS, M_DATA };

/* Decode .mrk text s[0, n) into o. Returns the number of problems. */
static int decode(wb_buf *o, const uint8_t *s, size_t n, int mode, int marc8)
{
    uint32_t pending[8];
    int npending = 0, problems = 0;
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        uint32_t cp = 0; /* UTF-8 mode: code point to emit; 0 = byte c */
        int have_cp = 0;
        if (c == '{') {
            const uint8_t *close = memchr(s + i + 1, '}', n - i - 1);
            size_t nl = close ? (size_t)(close - (s + i + 1)) : 0;
            const char *name = (const char *)s + i + 1;
            uint8_t m8[8];
            if (close && nl >= 3 && nl <= 8 && name[0] == 'U' && name[1] == '+') {
                char hex[8] = {0};
                memcpy(hex, name + 2, nl - 2);
                char *endp;
                unsigned long v = strtoul(hex, &endp, 16);
                if (*endp == 0 && v <= 0x10FFFF) {
                    if (marc8 && v < 0x100)
                        wb_buf_putc(o, (uint8_t)v);
                    else
                        put_cp(o, (uint32_t)v);
                    i += nl + 2;
                    continue;
                }
            }
            if (close && wb_mrk_mnemonic_to_marc8(name, nl, m8)) {
                i += nl + 2;
                if (marc8 || m8[0] < 0x80) {
                    if (marc8)
                        wb_buf_putc(o, m8[0]);
                    else {
                        cp = m8[0];
                        have_cp = 1;
                    }
                } else {
                    uint32_t u = wb_marc8_lookup_ansel(m8[0]);
                    if (!u) {
                        problems++;
                        u = 0xFFFD;
                    }
                    if (u & 0x80000000u) {
                        if (npending < 8)
                            pending[npending++] = u & 0x7FFFFFFFu;
                        continue;
                    }
                    cp = u;
                    have_cp = 1;
                }
                if (!have_cp)
                    continue;
            }
        }
        if (have_cp) {
            put_cp(o, cp);
        } else {
            uint8_t b = c;
            if (c == '\\' && mode != M_DATA)
                b = ' ';
            else if (c == '$' && mode == M_DATA)
                b = WB_MARC_SD;
            /* copy a whole UTF-8 sequence so held marks follow the character */
            size_t l = 1;
            if (!marc8 && c >= 0xC0) {
                while (i + l < n && (s[i + l] & 0xC0) == 0x80 && l < 4)
                    l++;
            }
            if (l == 1)
                wb_buf_putc(o, b);
            else
                wb_buf_append(o, s + i, l);
            i += l;
        }
        for (int k = 0; k < npending; k++)
            put_cp(o, pending[k]);
        npending = 0;
    }
    for (int k = 0; k < npending; k++)
        put_cp(o, pending[k]);
    return problems;
}

/* One line, without its line ending; 0 at end of input. Pointer valid until
 * the next call. */
static int next_line(wb_stream *s, const uint8_t **line, size_t *len, size_t *consume)
{
    size_t avail, scanned = 0;
    const uint8_t *p = wb_stream_peek(s, &avail);
    for (;;) {
        const uint8_t *nl = memchr(p + scanned, '\n', avail - scanned);
        if (nl) {
            *line = p;
            *len = (size_t)(nl - p);
            *consume = *len + 1;
            break;
        }
        scanned = avail;
        if (!wb_stream_need(s, avail + 1, &avail)) {
            p = wb_stream_peek(s, &avail);
            if (avail == 0)
                return 0;
            *line = p;
            *len = avail;
            *consume = avail;
            break;
        }
        p = wb_stream_peek(s, &avail);
    }
    if (*len > 0 && (*line)[*len - 1] == '\r')
        (*len)--;
    return 1;
}

enum wb_marc_status wb_mrk_next(wb_stream *s, wb_marc_record *rec, wb_marc_error *err)
{
    wb_rec_reset(rec);
    int started = 0, have_leader = 0, problems = 0;
    const uint8_t *line;
    size_t len, consume;
    rec->offset = wb_stream_offset(s);
    char first_problem[160] = "";
    uint64_t problem_at = 0;
    while (next_line(s, &line, &len, &consume)) {
        uint64_t at = wb_stream_offset(s);
        size_t k = 0;
        while (k < len && (line[k] == ' ' || line[k] == '\t'))
            k++;
        if (k == len) { /* blank line */
            wb_stream_consume(s, consume);
            if (started)
                break;
            rec->offset = wb_stream_offset(s);
            continue;
        }
        started = 1;
        if (line[0] != '=' || len < 4) {
            if (!problems++) {
                snprintf(first_problem, sizeof first_problem, "line is not \"=TAG  value\"; skipped");
                problem_at = at;
            }
            wb_stream_consume(s, consume);
            continue;
        }
        const uint8_t *tag = line + 1;
        size_t c = 4;
        for (int sp = 0; sp < 2 && c < len && line[c] == ' '; sp++)
            c++;
        const uint8_t *val = line + c;
        size_t vlen = len - c;
        if (len >= 4 && memcmp(tag, "LDR", 3) == 0) {
            wb_buf tmp = {0};
            decode(&tmp, val, vlen, M_LEADER, 1);
            if (tmp.len != WB_MARC_LEADER_LEN && !problems++) {
                snprintf(first_problem, sizeof first_problem, "leader is %zu bytes, not 24", tmp.len);
                problem_at = at;
            }
            wb_rec_set_leader(rec, tmp.p ? tmp.p : (const uint8_t *)"", tmp.len);
            wb_buf_free(&tmp);
            have_leader = 1;
        } else {
            int marc8 = rec->leader[9] == ' ';
            if (wb_rec_begin_field(rec, (const char *)tag, 3) != 0) {
                wb_marc_errorf(err, at, "out of memory");
                return WB_MARC_FATAL;
            }
            if (tag[0] == '0' && tag[1] == '0') {
                problems += decode(&rec->store, val, vlen, M_CONTROL, marc8);
            } else {
                size_t ni = vlen < 2 ? vlen : 2;
                decode(&rec->store, val, ni, M_INDICATORS, marc8);
                for (size_t q = ni; q < 2; q++)
                    wb_buf_putc(&rec->store, ' ');
                problems += decode(&rec->store, val + ni, vlen - ni, M_DATA, marc8);
            }
            wb_rec_end_field(rec);
        }
        wb_stream_consume(s, consume);
    }
    if (!started) {
        if (wb_stream_error(s)) {
            wb_marc_errorf(err, wb_stream_offset(s), "%s", wb_stream_error(s));
            return WB_MARC_FATAL;
        }
        return WB_MARC_EOF;
    }
    wb_rec_finish(rec);
    if (!have_leader) {
        wb_marc_errorf(err, rec->offset, "record has no =LDR line");
        return WB_MARC_BAD;
    }
    if (problems) {
        if (first_problem[0])
            wb_marc_errorf(err, problem_at, "%s", first_problem);
        else
            wb_marc_errorf(err, rec->offset, "%d mnemonics could not be converted", problems);
        return WB_MARC_RECOVERED;
    }
    return WB_MARC_OK;
}
