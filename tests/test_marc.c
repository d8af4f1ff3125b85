/* Unit tests of the sans-I/O MARC codec: framing answers (record / need more
 * / junk), permissive resync, MARC-8 conversion cases from the LoC tables,
 * UTF-8 validation, subfield iteration, writer escaping, records over
 * 99,999 bytes. Real files are covered by test_real_data.py. */
#include "check.h"
#include "wirebuf/marc.h"

#include <stdlib.h>
#include <string.h>

static size_t build(wb_buf *out, const char *tag, const char *data, size_t len, char enc)
{
    uint8_t leader[24];
    memcpy(leader, "00000nam a2200000 a 4500", 24);
    leader[9] = (uint8_t)enc;
    wb_marc_field f = {.len = (uint32_t)len, .data = (const uint8_t *)data};
    memcpy(f.tag, tag, 4);
    wb_marc_record r = {.leader = leader, .fields = &f, .nfields = 1};
    size_t before = out->len;
    CHECK(wb_marc_write_iso2709(out, &r) == 0);
    return out->len - before;
}

static void test_framing(void)
{
    wb_buf b = {0};
    size_t n = build(&b, "245", "10\x1f" "aTitle", 9, 'a');
    wb_marc_frame fr;
    CHECK(wb_marc_frame_next(b.p, n, 0, 0, &fr) == WB_FRAME_RECORD && fr.len == n && fr.skip == 0);
    CHECK(wb_marc_frame_next(b.p, 3, 0, 0, &fr) == WB_FRAME_NEED && fr.need == 5);
    CHECK(wb_marc_frame_next(b.p, 10, 0, 0, &fr) == WB_FRAME_NEED && fr.need == n);
    CHECK(wb_marc_frame_next(b.p, 10, 1, 0, &fr) == WB_FRAME_JUNK && strstr(fr.msg, "truncated"));
    CHECK(wb_marc_frame_next((const uint8_t *)"\r\n", 2, 1, 0, &fr) == WB_FRAME_END);
    /* wrong length in the leader: strict = junk, permissive = resync */
    wb_buf w = {0};
    wb_buf_append(&w, b.p, n);
    memcpy(w.p, "00999", 5);
    CHECK(wb_marc_frame_next(w.p, n, 1, WB_MARC_STRICT, &fr) == WB_FRAME_JUNK && fr.skip == n);
    CHECK(wb_marc_frame_next(w.p, n, 1, 0, &fr) == WB_FRAME_RECORD && fr.len == n && fr.resynced);
    /* junk before a leader is skipped in permissive mode */
    wb_buf j = {0};
    wb_buf_append(&j, "garbage!", 8);
    wb_buf_append(&j, b.p, n);
    CHECK(wb_marc_frame_next(j.p, j.len, 1, 0, &fr) == WB_FRAME_JUNK && fr.skip == 8);
    CHECK(wb_marc_frame_next(j.p + 8, j.len - 8, 1, 0, &fr) == WB_FRAME_RECORD);
    wb_buf_free(&b);
    wb_buf_free(&w);
    wb_buf_free(&j);
}

/* Permissive framing of damaged input (issue 15): the boundary the data
 * proves, records without a terminator, junk not numbered, bounded junk. */
static void test_framing_damaged(void)
{
    wb_buf a = {0}, b = {0}, x = {0};
    size_t na = build(&a, "245", "10\x1f" "aFirst", 9, 'a');
    size_t nb = build(&b, "245", "10\x1f" "aSecond one", 14, 'a');
    wb_marc_frame fr;
    wb_marc_record r = {0};
    wb_marc_error e;
    /* blanks before more bytes may be consumed while waiting */
    CHECK(wb_marc_frame_next((const uint8_t *)"\0\0\r\n", 4, 0, 0, &fr) == WB_FRAME_NEED && fr.skip == 4);
    /* digits before a record: junk, not a record */
    wb_buf_append(&x, "12345", 5);
    wb_buf_append(&x, a.p, na);
    CHECK(wb_marc_frame_next(x.p, x.len, 1, 0, &fr) == WB_FRAME_JUNK && fr.skip == 5 && !fr.record);
    /* strict: the same bytes are a rejected record */
    CHECK(wb_marc_frame_next(x.p, x.len, 1, WB_MARC_STRICT, &fr) == WB_FRAME_JUNK && fr.record);
    /* a length landing on the next record's terminator: A's own 0x1D wins */
    x.len = 0;
    wb_buf_append(&x, a.p, na);
    wb_buf_append(&x, b.p, nb);
    char len5[6];
    snprintf(len5, sizeof len5, "%05zu", na + nb);
    memcpy(x.p, len5, 5);
    CHECK(wb_marc_frame_next(x.p, x.len, 1, 0, &fr) == WB_FRAME_RECORD && fr.len == na && fr.resynced);
    CHECK(wb_marc_frame_next(x.p, x.len, 1, WB_MARC_STRICT, &fr) == WB_FRAME_RECORD && fr.len == na + nb);
    /* A's 0x1D deleted: A ends where B's leader starts, its directory proves
     * it whole, the terminator is rebuilt */
    x.len = 0;
    wb_buf_append(&x, a.p, na - 1);
    wb_buf_append(&x, b.p, nb);
    CHECK(wb_marc_frame_next(x.p, x.len, 1, 0, &fr) == WB_FRAME_RECORD && fr.len == na - 1 && fr.resynced);
    CHECK(wb_marc_parse(&r, x.p, fr.len, 0, &e) == 1 && strstr(e.msg, "missing, rebuilt") && r.nfields == 1);
    CHECK(wb_marc_parse(&r, x.p, fr.len, WB_MARC_STRICT, &e) == -1);
    /* A cut short before B: A is not trusted, B comes next */
    x.len = 0;
    wb_buf_append(&x, a.p, na - 6);
    wb_buf_append(&x, b.p, nb);
    CHECK(wb_marc_frame_next(x.p, x.len, 1, 0, &fr) == WB_FRAME_RECORD && fr.len == na - 6);
    CHECK(wb_marc_parse(&r, x.p, fr.len, 0, &e) == -1 && strncmp(e.msg, "truncated record", 16) == 0);
    CHECK(wb_marc_frame_next(x.p + fr.len, x.len - fr.len, 1, 0, &fr) == WB_FRAME_RECORD && fr.len == nb &&
          !fr.resynced);
    /* no terminator yet: wait geometrically and remember the search */
    x.len = 0;
    wb_buf_append(&x, "00100", 5);
    for (int i = 0; i < 200; i++)
        wb_buf_putc(&x, 'x');
    CHECK(wb_marc_frame_next(x.p, x.len, 0, 0, &fr) == WB_FRAME_NEED && fr.need >= 2 * x.len &&
          fr.scanned == x.len);
    /* junk without leader or terminator is dropped after 64 KiB */
    x.len = 0;
    for (int i = 0; i < 70000; i++)
        wb_buf_putc(&x, 'j');
    CHECK(wb_marc_frame_next(x.p, x.len, 0, 0, &fr) == WB_FRAME_JUNK && fr.skip == x.len - 23 && !fr.record);
    /* every problem of a record, not only the first */
    x.len = 0;
    wb_buf_append(&x, a.p, na);
    memcpy(x.p + 12, "00099", 5);
    x.p[24 + 3] = 'x';
    x.p[24] = 0xC3;
    CHECK(wb_marc_parse(&r, x.p, na, 0, &e) == 1 && strstr(e.msg, "base address") && strstr(e.msg, "directory entry 1 (") &&
          strstr(e.msg, "tag bytes c3") && r.fields[0].tag[0] == '?');
    CHECK(wb_marc_parse(&r, x.p, na, WB_MARC_STRICT, &e) == -1);
    /* a data field without indicators keeps its subfields */
    x.len = 0;
    size_t nc = build(&x, "040", "\x1f" "aCaSfIA", 8, 'a');
    CHECK(wb_marc_parse(&r, x.p, nc, 0, &e) == 1 && strstr(e.msg, "no indicator(s)") && r.fields[0].len == 10 &&
          memcmp(r.fields[0].data, "  \x1f" "aCaSfIA", 10) == 0);
    /* one indicator that is not ASCII (fuzz): blank supplied and replaced */
    x.len = 0;
    nc = build(&x, "250", "\xfb\x1f" "aEd.", 6, 'a');
    CHECK(wb_marc_parse(&r, x.p, nc, 0, &e) == 1 && strstr(e.msg, "only one indicator") &&
          strstr(e.msg, "indicator byte fb not ASCII") && memcmp(r.fields[0].data, "  \x1f" "aEd.", 7) == 0);
    /* 200 directory entries all pointing at one 3,000-byte field without
     * indicators: every rebuilt copy stays valid while the store grows */
    {
        size_t nent = 200, flen = 3000, base = 24 + 12 * nent + 1, total = base + flen + 1 + 1;
        uint8_t *rb = malloc(total);
        char h[32];
        snprintf(h, sizeof h, "%05zunam a22%05zu   4500", total, base);
        memcpy(rb, h, 24);
        for (size_t i = 0; i < nent; i++) {
            snprintf(h, sizeof h, "500%04zu00000", flen + 1);
            memcpy(rb + 24 + 12 * i, h, 12);
        }
        rb[base - 1] = 0x1E;
        rb[base] = 0x1F;
        rb[base + 1] = 'a';
        memset(rb + base + 2, 'z', flen - 2);
        rb[base + flen] = 0x1E;
        rb[base + flen + 1] = 0x1D;
        CHECK(wb_marc_parse(&r, rb, total, 0, &e) == 1 && r.nfields == nent && strstr(e.msg, "200 fields without"));
        int same = 1;
        for (size_t i = 0; i < nent; i++)
            same &= r.fields[i].len == flen + 2 && memcmp(r.fields[i].data, "  \x1f" "azzz", 6) == 0 &&
                    r.fields[i].data[flen + 1] == 'z';
        CHECK(same);
        free(rb);
    }
    /* a data field with no subfield delimiter keeps its text as $a */
    x.len = 0;
    nc = build(&x, "040", "CaSfIA", 6, 'a');
    CHECK(wb_marc_parse(&r, x.p, nc, 0, &e) == 1 && strstr(e.msg, "content kept as $a") && r.fields[0].len == 10 &&
          memcmp(r.fields[0].data, "  \x1f" "aCaSfIA", 10) == 0);
    /* ISO 2709 limits */
    CHECK(wb_marc_parse(&r, a.p, na, 0, &e) == 0 && wb_marc_iso2709_check(&r, NULL, 0) == 0);
    wb_marc_record_free(&r);
    wb_buf_free(&a);
    wb_buf_free(&b);
    wb_buf_free(&x);
}

static void test_parse_and_subfields(void)
{
    wb_buf b = {0};
    static const char d[] = "10\x1f" "aTitle :\x1f" "bsub\x1f" "c";
    size_t n = build(&b, "245", d, sizeof d - 1, 'a');
    wb_marc_record r = {0};
    wb_marc_error e;
    CHECK(wb_marc_parse(&r, b.p, n, WB_MARC_STRICT, &e) == 0);
    CHECK(r.nfields == 1 && strcmp(r.fields[0].tag, "245") == 0);
    size_t pos = 0;
    wb_marc_subfield sf;
    CHECK(wb_marc_subfield_next(&r.fields[0], &pos, &sf) && sf.code[0] == 'a' && sf.len == 7 &&
          memcmp(sf.value, "Title :", 7) == 0);
    CHECK(wb_marc_subfield_next(&r.fields[0], &pos, &sf) && sf.code[0] == 'b' && sf.len == 3);
    CHECK(wb_marc_subfield_next(&r.fields[0], &pos, &sf) && sf.code[0] == 'c' && sf.len == 0);
    CHECK(!wb_marc_subfield_next(&r.fields[0], &pos, &sf));
    /* a bad directory entry: strict error naming the entry, permissive repair */
    b.p[24 + 3] = 'x';
    CHECK(wb_marc_parse(&r, b.p, n, WB_MARC_STRICT, &e) == -1 && strstr(e.msg, "directory entry 1"));
    CHECK(wb_marc_parse(&r, b.p, n, 0, &e) == 1 && r.nfields == 1 && r.fields[0].len == sizeof d - 1);
    wb_marc_record_free(&r);
    wb_buf_free(&b);
}

static int marc8(const char *in, const char *want)
{
    wb_buf o = {0};
    long p = wb_marc8_to_utf8(&o, (const uint8_t *)in, strlen(in));
    int ok = p == 0 && o.len == strlen(want) && memcmp(o.p, want, o.len) == 0;
    if (!ok)
        fprintf(stderr, "marc8(%s): got %.*s (%ld problems)\n", in, (int)o.len, o.p ? (char *)o.p : "", p);
    wb_buf_free(&o);
    return ok;
}

static void test_marc8(void)
{
    CHECK(marc8("plain ASCII", "plain ASCII"));
    CHECK(marc8("\xE2" "e", "e\xCC\x81"));                      /* acute before base -> after */
    CHECK(marc8("Bront\xE8" "e", "Bronte\xCC\x88"));            /* umlaut */
    CHECK(marc8("\xE2\xE3" "a", "a\xCC\x81\xCC\x82"));         /* two marks keep their order */
    CHECK(marc8("\xA1\xB1", "\xC5\x81\xC5\x82"));               /* L/l with stroke */
    CHECK(marc8("\xEB" "i\xEC" "a", "i\xCD\xA1" "a"));         /* ligature: second half maps to nothing */
    CHECK(marc8("\x1B(N" "KOT\x1B(B", "\xD0\xBA\xD0\xBE\xD1\x82")); /* кот */ /* Basic Cyrillic in G0 */
    CHECK(marc8("\x1Bg" "a\x1Bs" "b", "\xCE\xB1" "b"));          /* Greek symbol shortcut */
    CHECK(marc8("\x1B$1" "\x21\x30\x21", "\xE4\xB8\x80"));      /* EACC 213021 -> U+4E00 */
    CHECK(marc8("\x1Bp" "2\x1Bs", "\xC2\xB2"));                  /* superscript two */
    wb_buf o = {0};
    CHECK(wb_marc8_to_utf8(&o, (const uint8_t *)"a\x1B(Zb", 6) == 1); /* unknown set reported */
    wb_buf_free(&o);
}

/* Reference for wb_utf8_valid_prefix: RFC 3629 "UTF-8 definition" (the
 * table of well-formed byte sequences), one character at a time. */
static size_t ref_utf8_prefix(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        size_t l;
        uint8_t lo = 0x80, hi = 0xBF; /* bounds of the second byte */
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            l = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            l = 3;
            lo = c == 0xE0 ? 0xA0 : 0x80;
            hi = c == 0xED ? 0x9F : 0xBF;
        } else if (c >= 0xF0 && c <= 0xF4) {
            l = 4;
            lo = c == 0xF0 ? 0x90 : 0x80;
            hi = c == 0xF4 ? 0x8F : 0xBF;
        } else {
            return i;
        }
        if (i + l > n || p[i + 1] < lo || p[i + 1] > hi)
            return i;
        for (size_t k = 2; k < l; k++)
            if (p[i + k] < 0x80 || p[i + k] > 0xBF)
                return i;
        i += l;
    }
    return n;
}

/* Random text (mostly ASCII, valid characters of every length, stray and
 * cut-short bytes) in exact-size allocations (ASAN sees any read outside),
 * against the reference: the vector paths and their tails. */
static void test_utf8_random(void)
{
    static const char *const chars[] = {"\xC3\xA9", "\xCC\x81", "\xE2\x82\xAC", "\xE4\xB8\x80", "\xF0\x9F\x98\x80",
                                        "\xF4\x8F\xBF\xBF", "\xED\x9F\xBF", "\xEE\x80\x80"};
    static const uint8_t bad[] = {0x80, 0xBF, 0xC0, 0xC1, 0xC3, 0xE0, 0xED, 0xF0, 0xF4, 0xF5, 0xFF};
    uint32_t x = 2463534242u;
    int wrong = 0;
    for (int t = 0; t < 200000; t++) {
        size_t n = 0, want;
        uint8_t tmp[400];
        x ^= x << 13, x ^= x >> 17, x ^= x << 5;
        want = x % 300;
        int dense = x % 3 == 0;
        while (n < want) {
            x ^= x << 13, x ^= x >> 17, x ^= x << 5;
            unsigned k = x % 1000;
            if (k < (dense ? 600u : 970u)) {
                tmp[n++] = (uint8_t)(0x20 + x / 1000 % 95);
            } else if (k < 995) {
                const char *c = chars[x / 1000 % 8];
                size_t cl = strlen(c);
                memcpy(tmp + n, c, cl);
                n += cl;
            } else {
                tmp[n++] = bad[x / 1000 % sizeof bad];
            }
        }
        uint8_t *buf = malloc(n ? n : 1);
        memcpy(buf, tmp, n);
        if (wb_utf8_valid_prefix(buf, n) != ref_utf8_prefix(buf, n) && !wrong++)
            fprintf(stderr, "utf8 prefix: case %d (%zu bytes): %zu, want %zu\n", t, n, wb_utf8_valid_prefix(buf, n),
                    ref_utf8_prefix(buf, n));
        /* every cut of the string, too: tails of every length */
        for (size_t c = n > 40 ? n - 40 : 0; c < n && !wrong; c += 7)
            if (wb_utf8_valid_prefix(buf, c) != ref_utf8_prefix(buf, c) && !wrong++)
                fprintf(stderr, "utf8 prefix: case %d cut at %zu\n", t, c);
        free(buf);
    }
    CHECK(wrong == 0);
}

static void test_utf8(void)
{
    test_utf8_random();
    CHECK(wb_utf8_valid_prefix((const uint8_t *)"h\xC3\xA9llo w\xE2\x82\xAC" "rld!!", 15) == 15);
    CHECK(wb_utf8_valid_prefix((const uint8_t *)"ab\xC0\xAF", 4) == 2);   /* overlong */
    CHECK(wb_utf8_valid_prefix((const uint8_t *)"ab\xED\xA0\x80", 5) == 2); /* surrogate */
    CHECK(wb_utf8_valid_prefix((const uint8_t *)"abcdefgh\xF4\x90\x80\x80", 12) == 8);
    wb_buf o = {0};
    CHECK(wb_utf8_repair(&o, (const uint8_t *)"a\xFF" "b", 3) == 1);
    CHECK(o.len == 5 && memcmp(o.p, "a\xEF\xBF\xBD" "b", 5) == 0);
    wb_buf_free(&o);
}

static void test_writers_escape(void)
{
    wb_buf b = {0};
    static const char d[] = "10\x1f" "aA & B <c> \"q\" $ {x} \\";
    size_t n = build(&b, "245", d, sizeof d - 1, 'a');
    wb_marc_record r = {0};
    wb_marc_error e;
    CHECK(wb_marc_parse(&r, b.p, n, 0, &e) == 0);
    wb_buf o = {0};
    wb_marc_write_marcxml(&o, &r);
    wb_buf_putc(&o, 0);
    CHECK(strstr((char *)o.p, "A &amp; B &lt;c&gt; &quot;q&quot; $ {x} \\</subfield>") != NULL);
    o.len = 0;
    wb_marc_write_json(&o, &r, 1);
    wb_buf_putc(&o, 0);
    CHECK(strstr((char *)o.p, "{\"a\":\"A & B <c> \\\"q\\\" $ {x} \\\\\"}") != NULL);
    o.len = 0;
    wb_marc_write_mrk(&o, &r);
    wb_buf_putc(&o, 0);
    CHECK(strstr((char *)o.p, "=245  10$aA & B <c> \"q\" {dollar} {lcub}x{rcub} \\\n") != NULL);
    /* .mrk back to the same record */
    wb_stream *s = wb_stream_from_mem(o.p, o.len - 1);
    wb_marc_reader *rd = wb_marc_reader_new(s, WB_MARC_MRK, 0);
    wb_marc_record *rec;
    CHECK(wb_marc_next(rd, &rec, &e) == WB_MARC_OK);
    CHECK(rec->nfields == 1 && rec->fields[0].len == sizeof d - 1 &&
          memcmp(rec->fields[0].data, d, sizeof d - 1) == 0);
    wb_marc_reader_free(rd);
    wb_stream_close(s);
    wb_buf_free(&o);
    wb_buf_free(&b);
    wb_marc_record_free(&r);
}

static void test_oversize(void)
{
    /* 3 fields of 40,000 bytes: 120 KB, leader length written as 99999 */
    size_t fl = 40000;
    char *big = malloc(fl);
    memcpy(big, "  \x1f" "a", 4);
    memset(big + 4, 'x', fl - 4);
    uint8_t leader[24];
    memcpy(leader, "00000nam a2200000 a 4500", 24);
    wb_marc_field f[3];
    for (int i = 0; i < 3; i++) {
        memcpy(f[i].tag, "500", 4);
        f[i].data = (const uint8_t *)big;
        f[i].len = (uint32_t)fl;
    }
    wb_marc_record r = {.leader = leader, .fields = f, .nfields = 3};
    wb_buf b = {0};
    wb_marc_write_iso2709(&b, &r);
    CHECK(b.len > 99999 && memcmp(b.p, "99999", 5) == 0);
    char why[400];
    CHECK(wb_marc_iso2709_check(&r, why, sizeof why) == 1 && strstr(why, "99,999"));
    wb_stream *s = wb_stream_from_mem(b.p, b.len);
    wb_marc_reader *rd = wb_marc_reader_new(s, WB_MARC_ISO2709, 0);
    wb_marc_record *rec;
    wb_marc_error e;
    CHECK(wb_marc_next(rd, &rec, &e) == WB_MARC_RECOVERED && rec->nfields == 3 && rec->raw_len == b.len);
    CHECK(wb_marc_next(rd, &rec, &e) == WB_MARC_EOF);
    wb_marc_reader_free(rd);
    wb_stream_close(s);
    wb_buf_free(&b);
    free(big);
}

/* Directory entries (read 8 digits at a time by the parser): every digit
 * value in every position of the length and start, tags with letters, and
 * one entry damaged at each of its 12 bytes with each of the 256 values. */
static void test_directory_entries(void)
{
    static uint8_t data[99999];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)('a' + i % 26);
    memcpy(data, "10\x1f" "a", 4); /* indicators and a subfield, for strict parsing */
    static const char *const tags[] = {"245", "CAT", "9ab", "001", "500", "zZ0"};
    uint32_t seed = 12345;
    uint8_t leader[24];
    memcpy(leader, "00000nam a2200000 a 4500", 24);
    for (int round = 0; round < 60; round++) {
        wb_marc_field f[40];
        size_t nf = 0, total = 24 + 1 + 1;
        while (nf < 40) {
            seed = seed * 1103515245u + 12345u;
            size_t len = 4 + (seed >> 8) % (round % 3 ? 9995 : 40);
            if (total + 12 + len + 1 > 99999)
                break;
            seed = seed * 1103515245u + 12345u;
            memcpy(f[nf].tag, tags[(seed >> 10) % 6], 4);
            f[nf].len = (uint32_t)len;
            f[nf].data = data;
            total += 12 + len + 1;
            nf++;
        }
        wb_marc_record r = {.leader = leader, .fields = f, .nfields = nf}, p = {0};
        wb_buf b = {0};
        wb_marc_error e;
        CHECK(wb_marc_write_iso2709(&b, &r) == 0);
        int rc = wb_marc_parse(&p, b.p, b.len, WB_MARC_STRICT, &e);
        CHECK(rc == 0 && p.nfields == nf);
        size_t base = 24 + 12 * nf + 1, off = 0;
        for (size_t i = 0; rc == 0 && i < nf && i < p.nfields; i++) {
            CHECK(strcmp(p.fields[i].tag, f[i].tag) == 0 && p.fields[i].len == f[i].len &&
                  p.fields[i].data == b.p + base + off);
            off += f[i].len + 1;
        }
        wb_marc_record_free(&p);
        wb_buf_free(&b);
    }
    /* entry 2 of 3 damaged at byte k with value v */
    wb_marc_field f[3] = {{"001", 5, (const uint8_t *)"12345"},
                          {"245", 9, (const uint8_t *)"10\x1f" "aTitle"},
                          {"500", 7, (const uint8_t *)"  \x1f" "aNote"}};
    wb_marc_record r = {.leader = leader, .fields = f, .nfields = 3}, p = {0};
    wb_buf b = {0};
    CHECK(wb_marc_write_iso2709(&b, &r) == 0);
    int bad = 0;
    for (int k = 0; k < 12; k++) {
        uint8_t *e2 = b.p + 24 + 12;
        uint8_t keep = e2[k];
        for (int v = 0; v < 256; v++) {
            if (v == keep || v == WB_MARC_FT) /* 0x1E would end the directory there */
                continue;
            e2[k] = (uint8_t)v;
            wb_marc_error e;
            int rc = wb_marc_parse(&p, b.p, b.len, WB_MARC_STRICT, &e);
            int alnum = (v >= '0' && v <= '9') || (v >= 'A' && v <= 'Z') || (v >= 'a' && v <= 'z');
            if (k < 3) { /* tag: letters and digits are fine, the rest is a bad tag */
                if (alnum ? rc != 0 || p.fields[1].tag[k] != v : rc != -1 || !strstr(e.msg, "directory entry 2"))
                    bad++;
            } else if (!(v >= '0' && v <= '9')) { /* a number byte that is not a digit */
                if (rc != -1 || !strstr(e.msg, "directory entry 2"))
                    bad++;
                /* permissive: the field is rebuilt from the data, same bytes */
                rc = wb_marc_parse(&p, b.p, b.len, 0, &e);
                if (rc != 1 || p.nfields != 3 || p.fields[1].len != 9 || memcmp(p.fields[1].data, f[1].data, 9))
                    bad++;
            }
        }
        e2[k] = keep;
    }
    CHECK(bad == 0);
    wb_marc_record_free(&p);
    wb_buf_free(&b);
}

int main(void)
{
    test_framing();
    test_framing_damaged();
    test_parse_and_subfields();
    test_directory_entries();
    test_marc8();
    test_utf8();
    test_writers_escape();
    test_oversize();
    return check_report("test_marc");
}
