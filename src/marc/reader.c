/* The record reader: a wb_stream plus a format's parser. For ISO 2709 the
 * record handed out is a view into the stream's buffer (zero copy): its bytes
 * are consumed from the stream only when the caller asks for the next
 * record, so the pointer stays valid until then. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct wb_marc_reader {
    wb_stream *s;
    wb_marc_format format;
    unsigned flags;
    wb_marc_record rec;
    size_t pending; /* bytes of the last ISO 2709 record still to consume */
    const uint8_t *raw; /* the last ISO 2709 record's bytes (in the stream) */
    uint64_t number, count, bad;
    int done;
    wb_xml_reader *xml;
    wb_json_reader *json;
};

static const char *const names[] = {"iso2709", "marcxml", "json", "mrk"};

wb_marc_format wb_marc_sniff_format(wb_stream *s)
{
    size_t avail;
    wb_stream_need(s, 64, &avail);
    const uint8_t *p = wb_stream_peek(s, &avail);
    for (size_t i = 0; i < avail; i++) {
        uint8_t c = p[i];
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        if (c == 0xEF && i + 2 < avail && p[i + 1] == 0xBB && p[i + 2] == 0xBF) { /* BOM */
            i += 2;
            continue;
        }
        if (c == '<')
            return WB_MARC_MARCXML;
        if (c == '[' || c == '{')
            return WB_MARC_JSON;
        if (c == '=')
            return WB_MARC_MRK;
        break;
    }
    return WB_MARC_ISO2709;
}

int wb_marc_format_from_name(const char *name)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    if (strcmp(name, "xml") == 0)
        return WB_MARC_MARCXML;
    if (strcmp(name, "marc") == 0 || strcmp(name, "mrc") == 0)
        return WB_MARC_ISO2709;
    return -1;
}

const char *wb_marc_format_name(wb_marc_format f) { return (unsigned)f < 4 ? names[f] : "?"; }

wb_marc_reader *wb_marc_reader_new(wb_stream *s, wb_marc_format format, unsigned flags)
{
    wb_marc_reader *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->s = s;
    r->format = format;
    r->flags = flags;
    if (format == WB_MARC_MARCXML && !(r->xml = wb_xml_reader_new())) {
        free(r);
        return NULL;
    }
    if (format == WB_MARC_JSON && !(r->json = wb_json_reader_new())) {
        free(r);
        return NULL;
    }
    return r;
}

void wb_marc_reader_free(wb_marc_reader *r)
{
    if (!r)
        return;
    wb_marc_record_free(&r->rec);
    wb_xml_reader_free(r->xml);
    wb_json_reader_free(r->json);
    free(r);
}

uint64_t wb_marc_reader_count(const wb_marc_reader *r) { return r->count; }
uint64_t wb_marc_reader_bad(const wb_marc_reader *r) { return r->bad; }

static enum wb_marc_status next_iso2709(wb_marc_reader *r, wb_marc_error *err)
{
    wb_stream *s = r->s;
    int eof = 0;
    size_t scanned = 0; /* bytes already searched for a terminator */
    for (;;) {
        size_t avail;
        const uint8_t *p = wb_stream_peek(s, &avail);
        wb_marc_frame fr;
        enum wb_marc_frame_kind k = wb_marc_frame_scan(p, avail, eof, r->flags, scanned, &fr);
        if (k == WB_FRAME_NEED) {
            /* blanks before the record need not stay buffered */
            wb_stream_consume(s, fr.skip);
            avail -= fr.skip;
            scanned = fr.scanned > fr.skip ? fr.scanned - fr.skip : 0;
            size_t want = fr.need > fr.skip ? fr.need - fr.skip : 0;
            if (want <= avail)
                want = avail + 1;
            if (!wb_stream_need(s, want, NULL)) {
                if (wb_stream_error(s)) {
                    wb_marc_errorf(err, wb_stream_offset(s), "%s", wb_stream_error(s));
                    return WB_MARC_FATAL;
                }
                eof = 1;
            }
            continue;
        }
        if (k == WB_FRAME_END) {
            wb_stream_consume(s, fr.skip);
            return WB_MARC_EOF;
        }
        if (k == WB_FRAME_JUNK) {
            /* junk is not a record (no record number) unless strict
             * framing rejected a record */
            err->record = fr.record ? ++r->number : 0;
            wb_marc_errorf(err, wb_stream_offset(s), "%s", fr.msg);
            wb_stream_consume(s, fr.skip);
            return WB_MARC_BAD;
        }
        err->record = ++r->number;
        wb_stream_consume(s, fr.skip);
        uint64_t at = wb_stream_offset(s);
        r->pending = fr.len;
        r->raw = p + fr.skip;
        wb_marc_record *rec = &r->rec;
        rec->number = r->number;
        rec->offset = at;
        int rc = wb_marc_parse(rec, p + fr.skip, fr.len, r->flags, err);
        if (rc < 0) {
            err->offset += at;
            if (fr.resynced) { /* say why the framer distrusted the length too */
                wb_marc_error e = *err;
                wb_marc_errorf(err, e.offset, "%s (%s)", e.msg, fr.msg);
            }
            return WB_MARC_BAD;
        }
        int recovered = rc > 0 || fr.resynced;
        if (rc > 0) {
            err->offset += at;
            if (fr.resynced) {
                wb_marc_error e = *err;
                wb_marc_errorf(err, e.offset, "%s; %s", fr.msg, e.msg);
            }
        } else if (fr.resynced)
            wb_marc_errorf(err, at, "%s", fr.msg);
        return recovered ? WB_MARC_RECOVERED : WB_MARC_OK;
    }
}

static int printable(uint8_t c) { return c >= 0x20 && c < 0x7F; }

/* Records built from MARCXML, JSON or .mrk text: the leader, tags and
 * indicators must be printable ASCII (a multi-byte character cut to a tag's
 * 3 bytes or an indicator's 1 byte is not even UTF-8). Report and replace
 * (leader and indicators: blank, tags: '?'), as the ISO 2709 parser does.
 * The record owns these bytes (leader_buf, store). Returns 1 if anything was
 * replaced; the message is added to err (joined when `more`). */
static int fix_structure(wb_marc_record *rec, wb_marc_error *err, int more)
{
    int nl = 0, nt = 0, ni = 0;
    for (int k = 0; k < WB_MARC_LEADER_LEN; k++)
        if (!printable(rec->leader[k])) {
            if (rec->leader != rec->leader_buf) {
                memcpy(rec->leader_buf, rec->leader, WB_MARC_LEADER_LEN);
                rec->leader = rec->leader_buf;
            }
            rec->leader_buf[k] = ' ';
            nl++;
        }
    for (size_t i = 0; i < rec->nfields; i++) {
        wb_marc_field *f = &rec->fields[i];
        int bad = 0;
        for (int x = 0; x < 3; x++)
            if (!printable((uint8_t)f->tag[x])) {
                f->tag[x] = '?';
                bad = 1;
            }
        nt += bad;
        if (wb_marc_is_control(f) || f->len < 2)
            continue;
        bad = 0;
        for (int x = 0; x < 2; x++)
            if (!printable(f->data[x]) && f->data[x] != WB_MARC_SD) {
                ((uint8_t *)(uintptr_t)f->data)[x] = ' '; /* rec->store: the reader's own bytes */
                bad = 1;
            }
        ni += bad;
    }
    if (!nl && !nt && !ni)
        return 0;
    char m[160];
    snprintf(m, sizeof m, "bytes that are not printable ASCII replaced: %d in the leader, %d tags, %d fields' indicators",
             nl, nt, ni);
    if (more) {
        wb_marc_error e = *err;
        wb_marc_errorf(err, e.offset, "%s; %s", e.msg, m);
    } else {
        wb_marc_errorf(err, err->offset, "%s", m);
    }
    return 1;
}

enum wb_marc_status wb_marc_next(wb_marc_reader *r, wb_marc_record **out, wb_marc_error *err)
{
    wb_marc_error local;
    if (!err)
        err = &local;
    err->record = err->offset = 0; /* (not the whole 400-byte message: hot path) */
    err->msg[0] = 0;
    if (r->pending) {
        wb_stream_consume(r->s, r->pending);
        r->pending = 0;
    }
    if (r->done)
        return WB_MARC_EOF;
    enum wb_marc_status st;
    switch (r->format) {
    case WB_MARC_ISO2709: st = next_iso2709(r, err); break;
    case WB_MARC_MARCXML: st = wb_xml_next(r->xml, r->s, &r->rec, err); break;
    case WB_MARC_JSON: st = wb_json_next(r->json, r->s, &r->rec, err); break;
    case WB_MARC_MRK: st = wb_mrk_next(r->s, &r->rec, err); break;
    default: st = WB_MARC_FATAL; break;
    }
    if (r->format != WB_MARC_ISO2709 && (st == WB_MARC_OK || st == WB_MARC_RECOVERED || st == WB_MARC_BAD)) {
        err->record = r->rec.number = ++r->number;
        if (r->format == WB_MARC_MARCXML || r->format == WB_MARC_JSON)
            err->offset = r->rec.offset; /* the parsers know only the document */
    }
    if (st == WB_MARC_EOF || st == WB_MARC_FATAL) {
        r->done = 1;
        return st;
    }
    if (r->format != WB_MARC_ISO2709 && st != WB_MARC_BAD && fix_structure(&r->rec, err, st == WB_MARC_RECOVERED))
        st = WB_MARC_RECOVERED;
    if (st == WB_MARC_BAD) {
        r->bad++;
        return st;
    }
    /* Bring the record to UTF-8 unless asked not to. MARCXML and JSON are
     * Unicode by definition; MARC-8 applies to ISO 2709 and .mrk. */
    if (!(r->flags & WB_MARC_KEEP_MARC8)) {
        int c;
        wb_marc_error cerr; /* (filled only when c != 0: not copied on the hot path) */
        cerr.record = err->record;
        cerr.offset = err->offset;
        cerr.msg[0] = 0;
        if (r->format == WB_MARC_ISO2709 || r->format == WB_MARC_MRK || r->rec.leader[9] == 'a') {
            c = wb_marc_bring_to_utf8(&r->rec, r->format == WB_MARC_ISO2709 ? r->raw : NULL,
                                      r->pending, r->flags, &cerr);
        } else {
            /* MARCXML and JSON are Unicode whatever leader/09 says */
            r->rec.leader_buf[9] = 'a';
            c = 0;
        }
        if (c < 0 || (c > 0 && st == WB_MARC_OK))
            *err = cerr;
        else if (c > 0) { /* every problem of the record, not only the first */
            wb_marc_error e = *err;
            wb_marc_errorf(err, e.offset, "%s; %s", e.msg, cerr.msg);
        }
        if (c < 0) {
            r->bad++;
            return WB_MARC_BAD;
        }
        if (c > 0 && st == WB_MARC_OK)
            st = WB_MARC_RECOVERED;
    }
    r->count++;
    *out = &r->rec;
    return st;
}

/* 1 if every field of a record whose raw bytes are valid UTF-8 is valid on
 * its own: a field that is a slice of raw is, unless the directory cut it
 * inside a character (first byte a continuation byte, or its last character
 * incomplete); a field rebuilt into rec->store is checked whole. */
static int fields_utf8(const wb_marc_record *rec, const uint8_t *raw, size_t len)
{
    for (size_t i = 0; i < rec->nfields; i++) {
        const wb_marc_field *f = &rec->fields[i];
        if (!f->len)
            continue;
        if (f->data < raw || f->data + f->len > raw + len) {
            if (wb_utf8_valid_prefix(f->data, f->len) != f->len)
                return 0;
            continue;
        }
        const uint8_t *p = f->data, *e = f->data + f->len;
        if ((p[0] & 0xC0) == 0x80)
            return 0;
        if (e[-1] < 0x80)
            continue;
        const uint8_t *q = e - 1; /* back to the last character's first byte */
        while (q > p && (*q & 0xC0) == 0x80 && e - q < 4)
            q--;
        size_t need = *q >= 0xF0 ? 4 : *q >= 0xE0 ? 3 : *q >= 0xC0 ? 2 : 1;
        if ((size_t)(e - q) != need)
            return 0;
    }
    return 1;
}

/* 1 when p[0, n) holds no byte >= 0x80 and no ESC (0x1B): MARC-8 text of
 * Basic Latin only, which converts to the same bytes in UTF-8. 16 bytes per
 * test. */
static int ascii_no_escape(const uint8_t *p, size_t n)
{
    size_t i = 0;
#if defined(__SSE2__)
    const __m128i esc = _mm_set1_epi8(0x1B);
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(p + i));
        if (_mm_movemask_epi8(_mm_or_si128(x, _mm_cmpeq_epi8(x, esc))))
            return 0;
    }
#endif
    for (; i < n; i++)
        if (p[i] >= 0x80 || p[i] == 0x1B)
            return 0;
    return 1;
}

int wb_marc_bring_to_utf8(wb_marc_record *rec, const uint8_t *raw, size_t len, unsigned flags,
                          wb_marc_error *err)
{
    /* a MARC-8 record of Basic Latin only (no byte >= 0x80, no escape) is
     * its own UTF-8: wb_marc_to_utf8 would copy every byte as it is and set
     * leader/09; only leader/09 changes here, the fields stay views */
    if (raw && rec->slices && rec->leader[9] == ' ' && ascii_no_escape(raw, len)) {
        if (rec->leader != rec->leader_buf) {
            memcpy(rec->leader_buf, rec->leader, WB_MARC_LEADER_LEN);
            rec->leader = rec->leader_buf;
        }
        rec->leader_buf[9] = 'a';
        return 0;
    }
    /* hot path: the whole record is valid UTF-8 in one scan and no field
     * starts or ends inside a character; no per-field validation calls */
    if (raw && rec->leader[9] == 'a' && wb_utf8_valid_prefix(raw, len) == len &&
        (rec->slices || fields_utf8(rec, raw, len)))
        return 0;
    wb_marc_error cerr = {0};
    int c = wb_marc_to_utf8(rec, flags, &cerr);
    if (c != 0)
        wb_marc_errorf(err, rec->offset, "%s", cerr.msg);
    return c;
}
