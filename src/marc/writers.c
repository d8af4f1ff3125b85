/* Text writers: MARCXML (MARC 21 slim), MARC-in-JSON, MarcEdit mnemonic
 * (.mrk) and a human-readable dump. All append to a wb_buf (sans-I/O).
 *
 * Hot path: escaping. Each writer copies runs of bytes that need no escape
 * with one memcpy, found through a 256-entry class table, so an ordinary
 * subfield costs one table scan and one copy. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define TRY(x)          \
    do {                \
        if ((x) != 0)   \
            return -1;  \
    } while (0)

#define LIT(b, s) wb_buf_append_fast((b), (s), sizeof(s) - 1)

/* ---- escaping ---------------------------------------------------------- */

/* 1: escape for XML text/attributes; control bytes other than TAB/LF/CR
 * are not allowed in XML 1.0 and are written as U+FFFD. */
static const uint8_t xml_class[256] = {
    [0] = 1, [1] = 1, [2] = 1, [3] = 1, [4] = 1, [5] = 1, [6] = 1, [7] = 1, [8] = 1,
    [11] = 1, [12] = 1, [14] = 1, [15] = 1, [16] = 1, [17] = 1, [18] = 1, [19] = 1, [20] = 1,
    [21] = 1, [22] = 1, [23] = 1, [24] = 1, [25] = 1, [26] = 1, [27] = 1, [28] = 1, [29] = 1,
    [30] = 1, [31] = 1, ['&'] = 1, ['<'] = 1, ['>'] = 1, ['"'] = 1,
};

static int put_xml(wb_buf *o, const uint8_t *s, size_t n)
{
    TRY(wb_buf_reserve(o, n));
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && !xml_class[s[j]])
            j++;
        TRY(wb_buf_append_fast(o, s + i, j - i));
        if (j >= n)
            break;
        switch (s[j]) {
        case '&': TRY(LIT(o, "&amp;")); break;
        case '<': TRY(LIT(o, "&lt;")); break;
        case '>': TRY(LIT(o, "&gt;")); break;
        case '"': TRY(LIT(o, "&quot;")); break;
        default: TRY(LIT(o, "\xEF\xBF\xBD")); break;
        }
        i = j + 1;
    }
    return 0;
}

/* 1: escape in a JSON string. */
static const uint8_t json_class[256] = {
    [0] = 1, [1] = 1, [2] = 1, [3] = 1, [4] = 1, [5] = 1, [6] = 1, [7] = 1, [8] = 1, [9] = 1,
    [10] = 1, [11] = 1, [12] = 1, [13] = 1, [14] = 1, [15] = 1, [16] = 1, [17] = 1, [18] = 1,
    [19] = 1, [20] = 1, [21] = 1, [22] = 1, [23] = 1, [24] = 1, [25] = 1, [26] = 1, [27] = 1,
    [28] = 1, [29] = 1, [30] = 1, [31] = 1, ['"'] = 1, ['\\'] = 1,
};

static int put_json_str(wb_buf *o, const uint8_t *s, size_t n)
{
    TRY(wb_buf_reserve(o, n + 2));
    o->p[o->len++] = '"';
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j < n && !json_class[s[j]])
            j++;
        TRY(wb_buf_append_fast(o, s + i, j - i));
        if (j >= n)
            break;
        char esc[8];
        uint8_t c = s[j];
        switch (c) {
        case '"': TRY(LIT(o, "\\\"")); break;
        case '\\': TRY(LIT(o, "\\\\")); break;
        case '\n': TRY(LIT(o, "\\n")); break;
        case '\r': TRY(LIT(o, "\\r")); break;
        case '\t': TRY(LIT(o, "\\t")); break;
        default:
            snprintf(esc, sizeof esc, "\\u%04x", c);
            TRY(wb_buf_append_fast(o, esc, 6));
        }
        i = j + 1;
    }
    return wb_buf_putc(o, '"');
}

/* ---- MARCXML ------------------------------------------------------------ */

int wb_marc_xml_begin(wb_buf *o)
{
    return wb_buf_puts(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                          "<collection xmlns=\"http://www.loc.gov/MARC21/slim\">\n");
}

int wb_marc_xml_end(wb_buf *o) { return wb_buf_puts(o, "</collection>\n"); }

static int put_tag_attr(wb_buf *o, const char *tag)
{
    return put_xml(o, (const uint8_t *)tag, 3);
}

int wb_marc_write_marcxml(wb_buf *o, const wb_marc_record *r)
{
    TRY(LIT(o, "<record>\n  <leader>"));
    TRY(put_xml(o, r->leader, WB_MARC_LEADER_LEN));
    TRY(LIT(o, "</leader>\n"));
    for (size_t i = 0; i < r->nfields; i++) {
        const wb_marc_field *f = &r->fields[i];
        if (wb_marc_is_control(f)) {
            TRY(LIT(o, "  <controlfield tag=\""));
            TRY(put_tag_attr(o, f->tag));
            TRY(LIT(o, "\">"));
            TRY(put_xml(o, f->data, f->len));
            TRY(LIT(o, "</controlfield>\n"));
            continue;
        }
        uint8_t ind[2] = {' ', ' '};
        for (size_t k = 0; k < 2 && k < f->len; k++)
            if (f->data[k] != WB_MARC_SD)
                ind[k] = f->data[k];
        TRY(LIT(o, "  <datafield tag=\""));
        TRY(put_tag_attr(o, f->tag));
        TRY(LIT(o, "\" ind1=\""));
        TRY(put_xml(o, ind, 1));
        TRY(LIT(o, "\" ind2=\""));
        TRY(put_xml(o, ind + 1, 1));
        TRY(LIT(o, "\">\n"));
        size_t pos = 0;
        wb_marc_subfield sf;
        while (wb_marc_subfield_next(f, &pos, &sf)) {
            TRY(LIT(o, "    <subfield code=\""));
            TRY(put_xml(o, sf.code, sf.code_len));
            TRY(LIT(o, "\">"));
            TRY(put_xml(o, sf.value, sf.len));
            TRY(LIT(o, "</subfield>\n"));
        }
        TRY(LIT(o, "  </datafield>\n"));
    }
    return LIT(o, "</record>\n");
}

/* ---- MARC-in-JSON ------------------------------------------------------- */

int wb_marc_json_begin(wb_buf *o) { return wb_buf_putc(o, '['); }
int wb_marc_json_end(wb_buf *o) { return wb_buf_puts(o, "]\n"); }

int wb_marc_write_json(wb_buf *o, const wb_marc_record *r, int first)
{
    if (!first)
        TRY(LIT(o, ",\n"));
    TRY(LIT(o, "{\"leader\":"));
    TRY(put_json_str(o, r->leader, WB_MARC_LEADER_LEN));
    TRY(LIT(o, ",\"fields\":["));
    for (size_t i = 0; i < r->nfields; i++) {
        const wb_marc_field *f = &r->fields[i];
        if (i)
            TRY(wb_buf_putc(o, ','));
        TRY(wb_buf_putc(o, '{'));
        TRY(put_json_str(o, (const uint8_t *)f->tag, 3));
        TRY(wb_buf_putc(o, ':'));
        if (wb_marc_is_control(f)) {
            TRY(put_json_str(o, f->data, f->len));
            TRY(wb_buf_putc(o, '}'));
            continue;
        }
        TRY(LIT(o, "{\"subfields\":["));
        size_t pos = 0;
        wb_marc_subfield sf;
        int n = 0;
        while (wb_marc_subfield_next(f, &pos, &sf)) {
            if (n++)
                TRY(wb_buf_putc(o, ','));
            TRY(wb_buf_putc(o, '{'));
            TRY(put_json_str(o, sf.code, sf.code_len));
            TRY(wb_buf_putc(o, ':'));
            TRY(put_json_str(o, sf.value, sf.len));
            TRY(wb_buf_putc(o, '}'));
        }
        uint8_t ind[2] = {' ', ' '};
        for (size_t k = 0; k < 2 && k < f->len; k++)
            if (f->data[k] != WB_MARC_SD)
                ind[k] = f->data[k];
        TRY(LIT(o, "],\"ind1\":"));
        TRY(put_json_str(o, ind, 1));
        TRY(LIT(o, ",\"ind2\":"));
        TRY(put_json_str(o, ind + 1, 1));
        TRY(LIT(o, "}}"));
    }
    return LIT(o, "]}");
}

/* ---- MarcEdit mnemonic (.mrk) ------------------------------------------- */

enum { MRK_LEADER, MRK_CONTROL, MRK_DATA };

static int put_mrk(wb_buf *o, const uint8_t *s, size_t n, int mode, int marc8)
{
    TRY(wb_buf_reserve(o, n));
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
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
    TRY(put_mrk(o, r->leader, WB_MARC_LEADER_LEN, MRK_LEADER, 0));
    TRY(wb_buf_putc(o, '\n'));
    for (size_t i = 0; i < r->nfields; i++) {
        const wb_marc_field *f = &r->fields[i];
        TRY(wb_buf_putc(o, '='));
        TRY(put_mrk(o, (const uint8_t *)f->tag, 3, MRK_CONTROL, 0));
        TRY(LIT(o, "  "));
        if (wb_marc_is_control(f)) {
            TRY(put_mrk(o, f->data, f->len, MRK_CONTROL, marc8));
        } else {
            size_t ni = f->len < 2 ? f->len : 2;
            TRY(put_mrk(o, f->data, ni, MRK_CONTROL, 0));
            for (size_t k = ni; k < 2; k++)
                TRY(wb_buf_putc(o, '\\'));
            TRY(put_mrk(o, f->data + ni, f->len - ni, MRK_DATA, marc8));
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
