/* The MARCXML and MARC-in-JSON writers against a byte-at-a-time reference
 * (the escaping rules written out plainly, subfields through
 * wb_marc_subfield_next), on random records whose fields mix ASCII, the
 * characters that need escaping, control bytes, subfield delimiters in odd
 * places, UTF-8 and stray bytes >= 0x80, with lengths around the 16-byte
 * vector width; also wb_wbuf_write (coalescing, direct hand-off, order). */
#include "check.h"
#include "wirebuf/buf.h"
#include "wirebuf/marc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const fffd = "\xEF\xBF\xBD";

/* ---- reference ------------------------------------------------------------ */

static void ref_xml_data(wb_buf *o, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c == '&')
            wb_buf_puts(o, "&amp;");
        else if (c == '<')
            wb_buf_puts(o, "&lt;");
        else if (c == '>')
            wb_buf_puts(o, "&gt;");
        else if (c == '"')
            wb_buf_puts(o, "&quot;");
        else if (c < 0x20 && c != '\t' && c != '\n' && c != '\r')
            wb_buf_puts(o, fffd);
        else
            wb_buf_putc(o, c);
    }
}

/* leader, tag, indicator, one-byte subfield code */
static void ref_xml_struct(wb_buf *o, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        if (c < 0x20 || c >= 0x7F)
            wb_buf_puts(o, fffd);
        else
            ref_xml_data(o, &c, 1);
    }
}

static void ref_json_data(wb_buf *o, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = s[i];
        char esc[8];
        if (c == '"')
            wb_buf_puts(o, "\\\"");
        else if (c == '\\')
            wb_buf_puts(o, "\\\\");
        else if (c == '\n')
            wb_buf_puts(o, "\\n");
        else if (c == '\r')
            wb_buf_puts(o, "\\r");
        else if (c == '\t')
            wb_buf_puts(o, "\\t");
        else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            wb_buf_puts(o, esc);
        } else
            wb_buf_putc(o, c);
    }
}

static void ref_json_struct(wb_buf *o, const uint8_t *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] >= 0x80)
            wb_buf_puts(o, fffd);
        else
            ref_json_data(o, s + i, 1);
    }
}

static void ind_of(const wb_marc_field *f, uint8_t ind[2])
{
    ind[0] = ind[1] = ' ';
    for (size_t k = 0; k < 2 && k < f->len; k++)
        if (f->data[k] != WB_MARC_SD)
            ind[k] = f->data[k];
}

static void ref_xml(wb_buf *o, const wb_marc_record *r)
{
    wb_buf_puts(o, "<record>\n  <leader>");
    ref_xml_struct(o, r->leader, WB_MARC_LEADER_LEN);
    wb_buf_puts(o, "</leader>\n");
    for (size_t i = 0; i < r->nfields; i++) {
        const wb_marc_field *f = &r->fields[i];
        if (wb_marc_is_control(f)) {
            wb_buf_puts(o, "  <controlfield tag=\"");
            ref_xml_struct(o, (const uint8_t *)f->tag, 3);
            wb_buf_puts(o, "\">");
            ref_xml_data(o, f->data, f->len);
            wb_buf_puts(o, "</controlfield>\n");
            continue;
        }
        uint8_t ind[2];
        ind_of(f, ind);
        wb_buf_puts(o, "  <datafield tag=\"");
        ref_xml_struct(o, (const uint8_t *)f->tag, 3);
        wb_buf_puts(o, "\" ind1=\"");
        ref_xml_struct(o, ind, 1);
        wb_buf_puts(o, "\" ind2=\"");
        ref_xml_struct(o, ind + 1, 1);
        wb_buf_puts(o, "\">\n");
        size_t pos = 0;
        wb_marc_subfield sf;
        while (wb_marc_subfield_next(f, &pos, &sf)) {
            wb_buf_puts(o, "    <subfield code=\"");
            if (sf.code_len == 1)
                ref_xml_struct(o, sf.code, 1);
            else
                wb_buf_append(o, sf.code, sf.code_len);
            wb_buf_puts(o, "\">");
            ref_xml_data(o, sf.value, sf.len);
            wb_buf_puts(o, "</subfield>\n");
        }
        wb_buf_puts(o, "  </datafield>\n");
    }
    wb_buf_puts(o, "</record>\n");
}

static void ref_json(wb_buf *o, const wb_marc_record *r)
{
    wb_buf_puts(o, "{\"leader\":\"");
    ref_json_struct(o, r->leader, WB_MARC_LEADER_LEN);
    wb_buf_puts(o, "\",\"fields\":[");
    for (size_t i = 0; i < r->nfields; i++) {
        const wb_marc_field *f = &r->fields[i];
        if (i)
            wb_buf_putc(o, ',');
        wb_buf_puts(o, "{\"");
        ref_json_struct(o, (const uint8_t *)f->tag, 3);
        wb_buf_puts(o, "\":");
        if (wb_marc_is_control(f)) {
            wb_buf_putc(o, '"');
            ref_json_data(o, f->data, f->len);
            wb_buf_puts(o, "\"}");
            continue;
        }
        wb_buf_puts(o, "{\"subfields\":[");
        size_t pos = 0;
        wb_marc_subfield sf;
        int n = 0;
        while (wb_marc_subfield_next(f, &pos, &sf)) {
            if (n++)
                wb_buf_putc(o, ',');
            wb_buf_puts(o, "{\"");
            if (sf.code_len == 1)
                ref_json_struct(o, sf.code, 1);
            else
                wb_buf_append(o, sf.code, sf.code_len);
            wb_buf_puts(o, "\":\"");
            ref_json_data(o, sf.value, sf.len);
            wb_buf_puts(o, "\"}");
        }
        uint8_t ind[2];
        ind_of(f, ind);
        wb_buf_puts(o, "],\"ind1\":\"");
        ref_json_struct(o, ind, 1);
        wb_buf_puts(o, "\",\"ind2\":\"");
        ref_json_struct(o, ind + 1, 1);
        wb_buf_puts(o, "\"}}");
    }
    wb_buf_puts(o, "]}");
}

/* ---- random records ---------------------------------------------------------- */

static uint32_t rng = 12345;
static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static uint8_t rnd_byte(void)
{
    static const uint8_t odd[] = {'&', '<', '>', '"', '\\', '\t', '\n', '\r', 0x01, 0x1B, 0x1E, 0x1D, 0x7F,
                                  0x80, 0xFF, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, WB_MARC_SD};
    uint32_t k = rnd() % 100;
    if (k < 75)
        return (uint8_t)('a' + rnd() % 26);
    if (k < 80)
        return ' ';
    if (k < 90)
        return WB_MARC_SD;
    return odd[rnd() % sizeof odd];
}

/* Each field's bytes in their own exact-size allocation, so that ASAN sees
 * any read past a field. */
static void random_record(wb_marc_record *r, uint8_t **store, uint8_t *leader)
{
    size_t nf = rnd() % 12;
    for (int k = 0; k < WB_MARC_LEADER_LEN; k++)
        leader[k] = rnd() % 10 ? (uint8_t)('0' + rnd() % 10) : rnd_byte();
    r->leader = leader;
    r->nfields = nf;
    for (size_t i = 0; i < nf; i++) {
        wb_marc_field *f = &r->fields[i];
        int control = rnd() % 4 == 0;
        f->tag[0] = control ? '0' : (char)('1' + rnd() % 9);
        f->tag[1] = control ? '0' : (char)('0' + rnd() % 10);
        f->tag[2] = (char)('0' + rnd() % 10);
        f->tag[3] = 0;
        if (rnd() % 10 == 0)
            f->tag[rnd() % 3] = (char)rnd_byte();
        if (wb_marc_is_control(f) != control) /* a stray byte made it a data field or not */
            control = wb_marc_is_control(f);
        size_t len = rnd() % 3 == 0 ? rnd() % 8 : rnd() % 70;
        uint8_t *d = store[i] = malloc(len ? len : 1);
        for (size_t k = 0; k < len; k++)
            d[k] = rnd_byte();
        if (!control && len >= 3 && rnd() % 4) { /* mostly the usual shape */
            d[0] = rnd() % 8 ? ' ' : rnd_byte();
            d[1] = rnd() % 8 ? '0' : rnd_byte();
            d[2] = WB_MARC_SD;
        }
        f->data = d;
        f->len = (uint32_t)len;
    }
}

static void test_against_reference(void)
{
    wb_marc_field fields[16];
    uint8_t *store[16];
    uint8_t leader[WB_MARC_LEADER_LEN];
    wb_buf a = {0}, b = {0};
    int xml_bad = 0, json_bad = 0;
    for (int t = 0; t < 200000; t++) {
        wb_marc_record r;
        memset(&r, 0, sizeof r);
        r.fields = fields;
        random_record(&r, store, leader);
        a.len = b.len = 0;
        CHECK(wb_marc_write_marcxml(&a, &r) == 0);
        ref_xml(&b, &r);
        if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0) {
            if (!xml_bad++)
                fprintf(stderr, "MARCXML differs (case %d):\n%.*s\nwant:\n%.*s\n", t, (int)a.len, a.p, (int)b.len,
                        b.p);
        }
        a.len = b.len = 0;
        CHECK(wb_marc_write_json(&a, &r, 1) == 0);
        ref_json(&b, &r);
        if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0) {
            if (!json_bad++)
                fprintf(stderr, "JSON differs (case %d):\n%.*s\nwant:\n%.*s\n", t, (int)a.len, a.p, (int)b.len, b.p);
        }
        for (size_t i = 0; i < r.nfields; i++)
            free(store[i]);
    }
    CHECK(xml_bad == 0);
    CHECK(json_bad == 0);
    /* a separator before every record but the first */
    a.len = 0;
    wb_marc_record r;
    memset(&r, 0, sizeof r);
    r.fields = fields;
    r.leader = (const uint8_t *)"00000nam a2200000 a 4500";
    CHECK(wb_marc_write_json(&a, &r, 0) == 0);
    CHECK(a.len > 2 && memcmp(a.p, ",\n{\"leader\"", 11) == 0);
    wb_buf_free(&a);
    wb_buf_free(&b);
}

/* The writers' path for records straight from wb_marc_parse (rec->slices:
 * digit tags, usual data fields, and a field shorter than 16 bytes read with
 * one load that starts before it): random records written to ISO 2709 in an
 * exact-size allocation (ASAN sees any read outside the record), parsed, and
 * written again, against the reference. */
static void test_parsed_against_reference(void)
{
    wb_marc_field fields[16];
    uint8_t *store[16];
    uint8_t leader[WB_MARC_LEADER_LEN];
    wb_buf iso = {0}, a = {0}, b = {0};
    wb_marc_record p;
    memset(&p, 0, sizeof p);
    int bad = 0, fast = 0;
    for (int t = 0; t < 100000; t++) {
        wb_marc_record r;
        memset(&r, 0, sizeof r);
        r.fields = fields;
        random_record(&r, store, leader);
        memcpy(leader + 20, "4500", 4);
        iso.len = 0;
        CHECK(wb_marc_write_iso2709(&iso, &r) == 0);
        uint8_t *raw = malloc(iso.len);
        memcpy(raw, iso.p, iso.len);
        wb_marc_error e;
        if (wb_marc_parse(&p, raw, iso.len, 0, &e) >= 0) {
            fast += p.slices;
            a.len = b.len = 0;
            CHECK(wb_marc_write_marcxml(&a, &p) == 0);
            ref_xml(&b, &p);
            if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0) {
                if (!bad++)
                    fprintf(stderr, "parsed MARCXML differs (case %d):\n%.*s\nwant:\n%.*s\n", t, (int)a.len, a.p,
                            (int)b.len, b.p);
            }
            a.len = b.len = 0;
            CHECK(wb_marc_write_json(&a, &p, 1) == 0);
            ref_json(&b, &p);
            if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0) {
                if (!bad++)
                    fprintf(stderr, "parsed JSON differs (case %d):\n%.*s\nwant:\n%.*s\n", t, (int)a.len, a.p,
                            (int)b.len, b.p);
            }
        }
        free(raw);
        for (size_t i = 0; i < r.nfields; i++)
            free(store[i]);
    }
    CHECK(bad == 0);
    CHECK(fast > 10000); /* the fast path was taken, often */
    wb_marc_record_free(&p);
    wb_buf_free(&iso);
    wb_buf_free(&a);
    wb_buf_free(&b);
}

/* ---- wb_wbuf_write ------------------------------------------------------------ */

typedef struct sink_log {
    wb_buf all;
    int calls;
} sink_log;

static int log_sink(void *ctx, const uint8_t *data, size_t n, char *errbuf, size_t errlen)
{
    (void)errbuf;
    (void)errlen;
    sink_log *l = ctx;
    l->calls++;
    return wb_buf_append(&l->all, data, n);
}

static void test_wbuf_write(void)
{
    sink_log l = {{0}, 0};
    wb_wbuf w;
    wb_wbuf_init_sink(&w, log_sink, &l, 1000);
    static uint8_t big[5000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (uint8_t)i;
    CHECK(wb_wbuf_write(&w, "abc", 3) == 0); /* small: buffered */
    CHECK(l.calls == 0 && w.buf.len == 3);
    CHECK(wb_wbuf_write(&w, big, sizeof big) == 0); /* flush, then one direct call */
    CHECK(l.calls == 2 && w.buf.len == 0);
    CHECK(wb_wbuf_write(&w, "xy", 2) == 0);
    CHECK(wb_wbuf_flush(&w) == 0);
    CHECK(l.all.len == 3 + sizeof big + 2);
    CHECK(memcmp(l.all.p, "abc", 3) == 0 && memcmp(l.all.p + 3, big, sizeof big) == 0 &&
          memcmp(l.all.p + 3 + sizeof big, "xy", 2) == 0);
    CHECK(w.written == l.all.len);
    wb_wbuf_free(&w);
    wb_buf_free(&l.all);
}

int main(void)
{
    test_against_reference();
    test_parsed_against_reference();
    test_wbuf_write();
    return check_report("test_writers");
}
