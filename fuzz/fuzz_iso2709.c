/* libFuzzer target: arbitrary bytes through the ISO 2709 reader (framing,
 * parsing, MARC-8 / UTF-8 conversion) in strict and permissive mode, with a
 * 7-byte refill so records straddle refills, and every writer on each
 * record. Must never crash or read out of bounds (ASAN/UBSAN build), and
 * whatever the input, every record handed out must give valid UTF-8 MARCXML
 * and JSON (structural bytes are replaced by the parser, data by the UTF-8
 * repair), and the reader's counts must add up. */
#include "wirebuf/marc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t n, pos;
} src;

static ssize_t rd(void *ctx, uint8_t *buf, size_t cap, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    src *s = ctx;
    size_t k = s->n - s->pos;
    if (k > cap)
        k = cap;
    if (k > 7)
        k = 7;
    memcpy(buf, s->p + s->pos, k);
    s->pos += k;
    return (ssize_t)k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    for (unsigned flags = 0; flags < 2; flags++) {
        src s = {data, size, 0};
        wb_stream *st = flags ? wb_stream_from_mem(data, size) : wb_stream_from_fn(rd, &s, 7);
        wb_marc_reader *r = wb_marc_reader_new(st, WB_MARC_ISO2709, flags ? WB_MARC_STRICT : 0);
        wb_buf out = {0};
        wb_marc_record *rec;
        wb_marc_error err;
        enum wb_marc_status stt;
        while ((stt = wb_marc_next(r, &rec, &err)) != WB_MARC_EOF && stt != WB_MARC_FATAL) {
            if (stt == WB_MARC_BAD)
                continue;
            wb_marc_write_iso2709(&out, rec);
            out.len = 0;
            wb_marc_write_marcxml(&out, rec);
            wb_marc_write_json(&out, rec, 1);
            if (wb_utf8_valid_prefix(out.p, out.len) != out.len)
                abort(); /* MARCXML / JSON that is not UTF-8 */
            wb_marc_write_mrk(&out, rec);
            wb_marc_write_text(&out, rec);
            out.len = 0;
        }
        wb_buf_free(&out);
        wb_marc_reader_free(r);
        wb_stream_close(st);
    }
    return 0;
}
