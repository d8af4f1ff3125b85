/* libFuzzer target: arbitrary bytes as if from a hostile server. Every
 * message the framer accepts is decoded fully by every backend decoder
 * (wb_pg_check_backend), and DataRow/RowDescription/arrays/numerics through
 * the client's own value codecs. Must never crash, over-read or hang; bad
 * input must come back as an error with a message. */
#include "wirebuf/pg.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    char err[256];
    wb_buf text = {0};
    while (off < size) {
        wb_pg_msg m;
        size_t need;
        int r = wb_pg_frame(data + off, size - off, 1u << 20, &m, &need, err, sizeof err);
        if (r < 0 && !err[0])
            abort(); /* an error must say what */
        if (r <= 0)
            break;
        err[0] = 0;
        if (wb_pg_check_backend(&m, err, sizeof err) != 0 && !err[0])
            abort();
        if (m.type == 'D' && m.len >= 2) {
            uint16_t n = wb_pg_be16(m.body), got;
            const uint8_t **vals = malloc(sizeof *vals * (n + 1u));
            int32_t *lens = malloc(sizeof *lens * (n + 1u));
            if (vals && lens && wb_pg_parse_datarow(&m, n, vals, lens, &got, err, sizeof err) == 0) {
                /* decode every column as each known type (a server may lie
                 * about types): no crash whatever the bytes */
                static const uint32_t oids[] = {WB_PG_OID_BOOL, WB_PG_OID_INT4, WB_PG_OID_INT8, WB_PG_OID_FLOAT8,
                                                WB_PG_OID_NUMERIC, WB_PG_OID_DATE, WB_PG_OID_TIMESTAMPTZ,
                                                WB_PG_OID_INTERVAL, WB_PG_OID_UUID, WB_PG_OID_JSONB,
                                                WB_PG_OID_TIMETZ, WB_PG_OID_INT4_ARRAY, WB_PG_OID_TEXT_ARRAY,
                                                WB_PG_OID_NUMERIC_ARRAY};
                for (uint16_t i = 0; i < got && i < 8; i++) {
                    for (size_t k = 0; k < sizeof oids / sizeof oids[0]; k++) {
                        wb_pg_value v;
                        if (wb_pg_decode(oids[k], vals[i], lens[i], &v, err, sizeof err) == 0) {
                            text.len = 0;
                            wb_pg_value_to_text(oids[k], &v, &text);
                        }
                    }
                    if (lens[i] >= 0) {
                        text.len = 0;
                        wb_pg_numeric_from_text((const char *)vals[i], (size_t)lens[i], &text);
                    }
                }
            }
            free(vals);
            free(lens);
        }
        off += 5 + (size_t)m.len;
    }
    /* the same bytes as a frontend stream (the server side of the codec) */
    off = 0;
    while (off < size) {
        wb_pg_msg m;
        size_t need;
        int r = off == 0 ? wb_pg_frame_startup(data, size, &m, &need, err, sizeof err)
                         : wb_pg_frame(data + off, size - off, 1u << 20, &m, &need, err, sizeof err);
        if (r <= 0)
            break;
        wb_pg_check_frontend(&m, err, sizeof err);
        off += (off == 0 ? 4 : 5) + (size_t)m.len;
    }
    wb_buf_free(&text);
    return 0;
}
