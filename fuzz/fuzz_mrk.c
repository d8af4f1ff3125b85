/* libFuzzer target: arbitrary bytes through the mnemonic (.mrk) reader, then
 * the ISO 2709 writer and back through the ISO 2709 reader. */
#include "wirebuf/marc.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wb_stream *st = wb_stream_from_mem(data, size);
    wb_marc_reader *r = wb_marc_reader_new(st, WB_MARC_MRK, 0);
    wb_buf out = {0};
    wb_marc_record *rec;
    wb_marc_error err;
    enum wb_marc_status s;
    while ((s = wb_marc_next(r, &rec, &err)) != WB_MARC_EOF && s != WB_MARC_FATAL) {
        if (s != WB_MARC_BAD)
            wb_marc_write_iso2709(&out, rec);
    }
    wb_marc_reader_free(r);
    wb_stream_close(st);
    wb_stream *st2 = wb_stream_from_mem(out.p, out.len);
    wb_marc_reader *r2 = wb_marc_reader_new(st2, WB_MARC_ISO2709, 0);
    while ((s = wb_marc_next(r2, &rec, &err)) != WB_MARC_EOF && s != WB_MARC_FATAL)
        ;
    wb_marc_reader_free(r2);
    wb_stream_close(st2);
    wb_buf_free(&out);
    return 0;
}
