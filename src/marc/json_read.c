/* MARC-in-JSON reader on jansson. The input is one record object or an array
 * of them ({"leader": "...", "fields": [{"001": "..."}, {"245": {"ind1": "1",
 * "ind2": "0", "subfields": [{"a": "..."}]}}]}), as pymarc's JSONWriter and
 * marc4j write it. A JSON document has no record boundaries a parser could
 * resume at, so the whole input is read and parsed once; a syntax error is
 * fatal and names line, column and byte offset. */
#include "internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct wb_json_reader {
    json_t *root;
    size_t next;
    int loaded;
};

wb_json_reader *wb_json_reader_new(void) { return calloc(1, sizeof(wb_json_reader)); }

void wb_json_reader_free(wb_json_reader *j)
{
    if (!j)
        return;
    json_decref(j->root);
    free(j);
}

static int load(wb_json_reader *j, wb_stream *s, wb_marc_error *err)
{
    size_t avail;
    while (wb_stream_fill(s) > 0)
        ;
    if (wb_stream_error(s)) {
        wb_marc_errorf(err, wb_stream_offset(s), "%s", wb_stream_error(s));
        return -1;
    }
    const uint8_t *p = wb_stream_peek(s, &avail);
    /* Raw control characters inside strings are not JSON, but real files
     * (pymarc's test.json) have them and pymarc reads them (strict=False):
     * escape them before parsing. */
    wb_buf fixed = {0};
    int in_str = 0;
    for (size_t i = 0; i < avail; i++) {
        uint8_t c = p[i];
        if (in_str && c < 0x20) {
            char esc[8];
            snprintf(esc, sizeof esc, "\\u%04x", c);
            wb_buf_append(&fixed, esc, 6);
            continue;
        }
        if (c == '"')
            in_str = !in_str;
        else if (c == '\\' && in_str && i + 1 < avail) {
            wb_buf_putc(&fixed, c);
            c = p[++i];
        }
        wb_buf_putc(&fixed, c);
    }
    json_error_t e;
    j->root = json_loadb((const char *)fixed.p, fixed.len, JSON_ALLOW_NUL, &e);
    wb_buf_free(&fixed);
    wb_stream_consume(s, avail);
    if (!j->root) {
        wb_marc_errorf(err, (uint64_t)e.position, "MARC-in-JSON: %s at line %d, column %d", e.text, e.line,
                       e.column);
        return -1;
    }
    return 0;
}

static enum wb_marc_status build(json_t *obj, wb_marc_record *rec, wb_marc_error *err)
{
    wb_rec_reset(rec);
    if (!json_is_object(obj)) {
        wb_marc_errorf(err, 0, "record is not a JSON object");
        return WB_MARC_BAD;
    }
    json_t *leader = json_object_get(obj, "leader");
    json_t *fields = json_object_get(obj, "fields");
    if (!json_is_string(leader) || !json_is_array(fields)) {
        wb_marc_errorf(err, 0, "record lacks a \"leader\" string or a \"fields\" array");
        return WB_MARC_BAD;
    }
    wb_rec_set_leader(rec, (const uint8_t *)json_string_value(leader), json_string_length(leader));
    int problems = 0;
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        const char *tag;
        json_t *v;
        if (!json_is_object(f) || json_object_size(f) != 1) {
            problems++;
            continue;
        }
        json_object_foreach(f, tag, v) {
            wb_rec_begin_field(rec, tag, strlen(tag));
            if (json_is_string(v)) {
                wb_buf_append(&rec->store, json_string_value(v), json_string_length(v));
            } else if (json_is_object(v)) {
                json_t *i1 = json_object_get(v, "ind1"), *i2 = json_object_get(v, "ind2");
                json_t *subs = json_object_get(v, "subfields");
                const char *s1 = json_is_string(i1) ? json_string_value(i1) : " ";
                const char *s2 = json_is_string(i2) ? json_string_value(i2) : " ";
                wb_buf_putc(&rec->store, (uint8_t)(s1[0] ? s1[0] : ' '));
                wb_buf_putc(&rec->store, (uint8_t)(s2[0] ? s2[0] : ' '));
                size_t k;
                json_t *sf;
                json_array_foreach(subs, k, sf) {
                    const char *code;
                    json_t *sv;
                    json_object_foreach(sf, code, sv) {
                        wb_buf_putc(&rec->store, WB_MARC_SD);
                        size_t cl = wb_first_char_len(code);
                        if (cl)
                            wb_buf_append(&rec->store, code, cl);
                        else
                            wb_buf_putc(&rec->store, ' ');
                        if (json_is_string(sv))
                            wb_buf_append(&rec->store, json_string_value(sv), json_string_length(sv));
                        else
                            problems++;
                    }
                }
            } else {
                problems++;
            }
            wb_rec_end_field(rec);
        }
    }
    wb_rec_finish(rec);
    if (problems) {
        wb_marc_errorf(err, 0, "%d fields or subfields of unexpected JSON type skipped", problems);
        return WB_MARC_RECOVERED;
    }
    return WB_MARC_OK;
}

enum wb_marc_status wb_json_next(wb_json_reader *j, wb_stream *s, wb_marc_record *rec, wb_marc_error *err)
{
    if (!j->loaded) {
        j->loaded = 1;
        if (load(j, s, err) != 0)
            return WB_MARC_FATAL;
    }
    json_t *obj;
    if (json_is_array(j->root)) {
        if (j->next >= json_array_size(j->root))
            return WB_MARC_EOF;
        obj = json_array_get(j->root, j->next++);
    } else {
        if (j->next++ > 0)
            return WB_MARC_EOF;
        obj = j->root;
    }
    return build(obj, rec, err);
}
