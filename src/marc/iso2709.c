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

#include <string.h>

static int digits(const uint8_t *p, size_t n, size_t *val)
{
    size_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return 0;
        v = v * 10 + (size_t)(p[i] - '0');
    }
    *val = v;
    return 1;
}

static int is_blank(uint8_t c)
{
    return c == '\n' || c == '\r' || c == 0 || c == ' ' || c == '\t' || c == 0x1A;
}

/* Does p look like the start of a MARC 21 leader? 5 digits and the entry map
 * "45" at 20-21 (MARC 21 always has "4500"). Needs 24 bytes. */
static int plausible_leader(const uint8_t *p)
{
    size_t v;
    return digits(p, 5, &v) && p[20] == '4' && p[21] == '5';
}

enum wb_marc_frame_kind wb_marc_frame_next(const uint8_t *buf, size_t n, int eof,
                                           unsigned flags, wb_marc_frame *out)
{
    memset(out, 0, sizeof *out);
    size_t s = 0;
    while (s < n && is_blank(buf[s]))
        s++;
    const uint8_t *p = buf + s;
    size_t avail = n - s;
    if (avail == 0) {
        if (eof) {
            out->skip = s;
            return WB_FRAME_END;
        }
        out->need = n + 1;
        return WB_FRAME_NEED;
    }
    out->skip = s;
    size_t len;
    if (avail < 5 && !eof) {
        out->need = s + 5;
        return WB_FRAME_NEED;
    }
    if (avail >= 5 && digits(p, 5, &len) && len >= WB_MARC_LEADER_LEN + 2) {
        if (avail < len && !eof) {
            out->need = s + len;
            return WB_FRAME_NEED;
        }
        if (avail >= len && p[len - 1] == WB_MARC_RT) {
            out->len = len;
            return WB_FRAME_RECORD;
        }
    }
    /* The leader's length is missing, garbage or wrong: find the terminator. */
    const uint8_t *rt = memchr(p, WB_MARC_RT, avail);
    if (!rt) {
        if (!eof) {
            out->need = 0;
            return WB_FRAME_NEED;
        }
        out->skip = n;
        snprintf(out->msg, sizeof out->msg,
                 "truncated record: %zu bytes at end of input without a record terminator (0x1D)", avail);
        return WB_FRAME_JUNK;
    }
    size_t rlen = (size_t)(rt - p) + 1;
    size_t lv = 0;
    int numeric = avail >= 5 && digits(p, 5, &lv);
    if (flags & (WB_MARC_STRICT | WB_MARC_STRICT_FRAMING)) {
        out->skip = s + rlen;
        if (numeric)
            snprintf(out->msg, sizeof out->msg,
                     "record length %zu in leader does not end at a record terminator (next 0x1D ends %zu bytes in)",
                     lv, rlen);
        else
            snprintf(out->msg, sizeof out->msg, "record length in leader is not 5 digits");
        return WB_FRAME_JUNK;
    }
    /* Permissive: junk before a leader? Look for a plausible leader inside. */
    if (!numeric || rlen < WB_MARC_LEADER_LEN) {
        for (size_t k = 1; k + WB_MARC_LEADER_LEN <= rlen; k++) {
            if (plausible_leader(p + k)) {
                out->skip = s + k;
                snprintf(out->msg, sizeof out->msg, "%zu bytes of junk before a leader skipped", k);
                return WB_FRAME_JUNK;
            }
        }
        if (rlen < WB_MARC_LEADER_LEN + 2) {
            out->skip = s + rlen;
            snprintf(out->msg, sizeof out->msg, "%zu bytes ending in 0x1D are too short to be a record", rlen);
            return WB_FRAME_JUNK;
        }
    }
    out->len = rlen;
    out->resynced = 1;
    if (numeric)
        snprintf(out->msg, sizeof out->msg,
                 "record length %zu in leader is wrong; record ends at the terminator %zu bytes in", lv, rlen);
    else
        snprintf(out->msg, sizeof out->msg,
                 "record length in leader is not 5 digits; record ends at the terminator %zu bytes in", rlen);
    return WB_FRAME_RECORD;
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

int wb_marc_parse(wb_marc_record *rec, const uint8_t *buf, size_t len, unsigned flags, wb_marc_error *err)
{
    int strict = (flags & WB_MARC_STRICT) != 0;
    int repaired = 0;
    rec->nfields = 0;
    rec->leader = buf;
    rec->raw_len = len;
    if (len < WB_MARC_LEADER_LEN + 2 || buf[len - 1] != WB_MARC_RT) {
        wb_marc_errorf(err, 0, "record of %zu bytes is too short or does not end in 0x1D", len);
        return -1;
    }
    /* Leader positions with fixed MARC 21 values: indicator count (10),
     * subfield code length (11), entry map (20-23). Non-digits there are
     * repaired to the MARC 21 values (as yaz does). */
    static const char fixed_pos[6] = {10, 11, 20, 21, 22, 23};
    static const char fixed_val[6] = {'2', '2', '4', '5', '0', '0'};
    for (int k = 0; k < 6; k++) {
        uint8_t c = rec->leader[(int)fixed_pos[k]];
        if (c >= '0' && c <= '9')
            continue;
        if (strict) {
            wb_marc_errorf(err, (uint64_t)fixed_pos[k], "leader/%02d is not a digit (0x%02x)", fixed_pos[k], c);
            return -1;
        }
        if (rec->leader != rec->leader_buf) {
            memcpy(rec->leader_buf, buf, WB_MARC_LEADER_LEN);
            rec->leader = rec->leader_buf;
        }
        if (!repaired)
            wb_marc_errorf(err, (uint64_t)fixed_pos[k], "leader/%02d is not a digit (0x%02x); set to '%c'",
                           fixed_pos[k], c, fixed_val[k]);
        rec->leader_buf[(int)fixed_pos[k]] = (uint8_t)fixed_val[k];
        repaired = 1;
    }
    size_t end = len - 1; /* data ends before the record terminator */
    const uint8_t *ft = memchr(buf + WB_MARC_LEADER_LEN, WB_MARC_FT, end - WB_MARC_LEADER_LEN);
    if (!ft) {
        wb_marc_errorf(err, WB_MARC_LEADER_LEN, "directory has no field terminator (0x1E)");
        return -1;
    }
    size_t dir_end = (size_t)(ft - buf); /* index of the directory's 0x1E */
    size_t base;
    if (!digits(buf + 12, 5, &base) || base != dir_end + 1) {
        if (strict) {
            wb_marc_errorf(err, 12, "base address of data %.5s in leader does not follow the directory (ends at %zu)",
                           (const char *)buf + 12, dir_end + 1);
            return -1;
        }
        wb_marc_errorf(err, 12, "base address of data %.5s in leader is wrong; using %zu",
                       (const char *)buf + 12, dir_end + 1);
        repaired = 1;
        base = dir_end + 1;
    }
    size_t dir_len = dir_end - WB_MARC_LEADER_LEN;
    if (dir_len % WB_MARC_DIRENT_LEN != 0) {
        if (strict) {
            wb_marc_errorf(err, WB_MARC_LEADER_LEN, "directory length %zu is not a multiple of 12", dir_len);
            return -1;
        }
        if (!repaired)
            wb_marc_errorf(err, WB_MARC_LEADER_LEN, "directory length %zu is not a multiple of 12; %zu bytes ignored",
                           dir_len, dir_len % WB_MARC_DIRENT_LEN);
        repaired = 1;
    }
    size_t nent = dir_len / WB_MARC_DIRENT_LEN;
    if (wb_rec_fields_reserve(rec, nent) != 0) {
        wb_marc_errorf(err, 0, "out of memory for %zu fields", nent);
        return -1;
    }
    size_t next = base; /* where the next field starts if the data is in directory order */
    for (size_t i = 0; i < nent; i++) {
        const uint8_t *e = buf + WB_MARC_LEADER_LEN + i * WB_MARC_DIRENT_LEN;
        size_t flen = 0, fstart = 0;
        int nums = digits(e + 3, 4, &flen) && digits(e + 7, 5, &fstart);
        size_t a = base + fstart;
        int ok = nums && flen >= 1 && fstart <= end - base && flen <= end - a && buf[a + flen - 1] == WB_MARC_FT;
        if (!tag_ok(e)) {
            if (strict) {
                wb_marc_errorf(err, WB_MARC_LEADER_LEN + i * 12, "directory entry %zu has a bad tag", i + 1);
                return -1;
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
                if (!repaired)
                    wb_marc_errorf(err, WB_MARC_LEADER_LEN + i * 12,
                                   "directory entry %zu (tag %.3s) points past the data; dropped", i + 1,
                                   (const char *)e);
                repaired = 1;
                continue;
            }
            const uint8_t *t = memchr(buf + next, WB_MARC_FT, end - next);
            a = next;
            flen = t ? (size_t)(t - (buf + next)) + 1 : end - next;
            if (!repaired)
                wb_marc_errorf(err, WB_MARC_LEADER_LEN + i * 12,
                               "directory entry %zu (tag %.3s, length %.4s, start %.5s) is wrong; field recovered from the data",
                               i + 1, (const char *)e, (const char *)e + 3, (const char *)e + 7);
            repaired = 1;
        }
        wb_marc_field *f = &rec->fields[rec->nfields++];
        memcpy(f->tag, e, 3);
        f->tag[3] = 0;
        f->data = buf + a;
        f->len = (uint32_t)(buf[a + flen - 1] == WB_MARC_FT ? flen - 1 : flen);
        next = a + flen;
        /* A data field is two indicators, then subfields. Anything else
         * cannot be written to MARCXML/JSON: say so. */
        if (!wb_marc_is_control(f) && (f->len < 2 || (f->len > 2 && f->data[2] != WB_MARC_SD))) {
            if (strict) {
                wb_marc_errorf(err, a, "data field %.3s does not start with two indicators and a subfield delimiter",
                               f->tag);
                return -1;
            }
            if (!repaired)
                wb_marc_errorf(err, a, "data field %.3s does not start with two indicators and a subfield delimiter",
                               f->tag);
            repaired = 1;
        }
    }
    return repaired;
}

/* ---- writer ------------------------------------------------------------- */

static void put_num(uint8_t *p, size_t width, size_t v)
{
    for (size_t i = width; i-- > 0;) {
        p[i] = (uint8_t)('0' + v % 10);
        v /= 10;
    }
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
