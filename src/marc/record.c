/* Record helpers: subfield iteration, copies, and the field-by-field builder
 * the non-ISO 2709 readers use. */
#include "internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void wb_marc_errorf(wb_marc_error *e, uint64_t offset, const char *fmt, ...)
{
    if (!e)
        return;
    e->offset = offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
}

int wb_marc_subfield_next(const wb_marc_field *f, size_t *pos, wb_marc_subfield *sf)
{
    size_t i = *pos;
    if (i == 0) {
        i = f->len < 2 ? f->len : 2;
        const uint8_t *d = memchr(f->data + i, WB_MARC_SD, f->len - i);
        if (!d)
            return 0;
        i = (size_t)(d - f->data);
    }
    if (i >= f->len)
        return 0;
    i++; /* f->data[i - 1] is a subfield delimiter */
    const uint8_t *d = i < f->len ? memchr(f->data + i, WB_MARC_SD, f->len - i) : NULL;
    size_t end = d ? (size_t)(d - f->data) : f->len;
    size_t cl = end > i ? 1 : 0;
    if (cl && f->data[i] >= 0xC2) {
        size_t want = f->data[i] >= 0xF0 ? 4 : f->data[i] >= 0xE0 ? 3 : 2;
        if (i + want <= end && wb_utf8_valid_prefix(f->data + i, want) == want)
            cl = want;
    }
    sf->code = cl ? f->data + i : (const uint8_t *)" ";
    sf->code_len = 1;
    if (cl)
        sf->code_len = cl;
    sf->value = f->data + i + cl;
    sf->len = end - i - cl;
    *pos = end;
    return 1;
}

int wb_rec_fields_reserve(wb_marc_record *r, size_t n)
{
    if (n <= r->fields_cap)
        return 0;
    size_t cap = r->fields_cap ? r->fields_cap : 32;
    while (cap < n)
        cap *= 2;
    wb_marc_field *f = realloc(r->fields, cap * sizeof *f);
    if (!f)
        return -1;
    r->fields = f;
    r->fields_cap = cap;
    return 0;
}

void wb_rec_reset(wb_marc_record *r)
{
    r->nfields = 0;
    r->slices = 0;
    r->store.len = 0;
    memset(r->leader_buf, ' ', sizeof r->leader_buf);
    r->leader = r->leader_buf;
}

void wb_rec_set_leader(wb_marc_record *r, const uint8_t *l, size_t n)
{
    memset(r->leader_buf, ' ', sizeof r->leader_buf);
    memcpy(r->leader_buf, l, n < WB_MARC_LEADER_LEN ? n : WB_MARC_LEADER_LEN);
    r->leader = r->leader_buf;
}

int wb_rec_begin_field(wb_marc_record *r, const char *tag, size_t taglen)
{
    if (wb_rec_fields_reserve(r, r->nfields + 1) != 0)
        return -1;
    wb_marc_field *f = &r->fields[r->nfields++];
    memset(f->tag, ' ', 3);
    memcpy(f->tag, tag, taglen < 3 ? taglen : 3);
    f->tag[3] = 0;
    f->data = (const uint8_t *)(uintptr_t)r->store.len;
    f->len = 0;
    return 0;
}

void wb_rec_end_field(wb_marc_record *r)
{
    wb_marc_field *f = &r->fields[r->nfields - 1];
    f->len = (uint32_t)(r->store.len - (size_t)(uintptr_t)f->data);
}

void wb_rec_finish(wb_marc_record *r)
{
    /* never NULL, even for a record of empty fields (no store allocated) */
    const uint8_t *base = r->store.p ? r->store.p : (const uint8_t *)"";
    for (size_t i = 0; i < r->nfields; i++)
        r->fields[i].data = base + (size_t)(uintptr_t)r->fields[i].data;
}

int wb_marc_record_copy(wb_marc_record *dst, const wb_marc_record *src)
{
    if (dst == src)
        return 0;
    wb_rec_reset(dst);
    wb_rec_set_leader(dst, src->leader, WB_MARC_LEADER_LEN);
    dst->number = src->number;
    dst->offset = src->offset;
    dst->raw_len = src->raw_len;
    size_t total = 0;
    for (size_t i = 0; i < src->nfields; i++)
        total += src->fields[i].len;
    if (wb_buf_reserve(&dst->store, total) != 0 || wb_rec_fields_reserve(dst, src->nfields) != 0)
        return -1;
    for (size_t i = 0; i < src->nfields; i++) {
        wb_rec_begin_field(dst, src->fields[i].tag, 3);
        wb_buf_append(&dst->store, src->fields[i].data, src->fields[i].len);
        wb_rec_end_field(dst);
    }
    wb_rec_finish(dst);
    return 0;
}

void wb_marc_record_free(wb_marc_record *r)
{
    free(r->fields);
    wb_buf_free(&r->store);
    wb_buf_free(&r->scratch);
    memset(r, 0, sizeof *r);
}
