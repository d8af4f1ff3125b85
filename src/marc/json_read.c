/* MARC-in-JSON reader on jansson. The input is one record object or an array
 * of them ({"leader": "...", "fields": [{"001": "..."}, {"245": {"ind1": "1",
 * "ind2": "0", "subfields": [{"a": "..."}]}}]}), as pymarc's JSONWriter and
 * marc4j write it. The whole input is read; an array is parsed element by
 * element, so a document cut short (or broken) after some complete records
 * still yields them, then the syntax error (fatal, with its byte offset), as
 * the MARCXML reader does. */
#include "internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct wb_json_reader {
    json_t *root;
    size_t next;
    int loaded;
    size_t *offsets;      /* byte offset of each array element */
    int failed;           /* a syntax error after the records in root */
    wb_marc_error ferr;
};

wb_json_reader *wb_json_reader_new(void) { return calloc(1, sizeof(wb_json_reader)); }

void wb_json_reader_free(wb_json_reader *j)
{
    if (!j)
        return;
    json_decref(j->root);
    free(j->offsets);
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
    size_t pos = 0, n = fixed.len;
    const char *t = (const char *)fixed.p;
    while (pos < n && (t[pos] == ' ' || t[pos] == '\n' || t[pos] == '\r' || t[pos] == '\t'))
        pos++;
    if (pos + 3 <= n && (uint8_t)t[pos] == 0xEF && (uint8_t)t[pos + 1] == 0xBB && (uint8_t)t[pos + 2] == 0xBF)
        pos += 3; /* BOM */
    if (pos >= n || t[pos] != '[') {
        j->root = json_loadb(t, n, JSON_ALLOW_NUL, &e);
        wb_buf_free(&fixed);
        wb_stream_consume(s, avail);
        if (!j->root) {
            wb_marc_errorf(err, (uint64_t)e.position, "MARC-in-JSON: %s at line %d, column %d", e.text, e.line,
                           e.column);
            return -1;
        }
        return 0;
    }
    /* an array: one element at a time */
    j->root = json_array();
    size_t cap = 0;
    pos++;
    const char *why = NULL;
    for (;;) {
        while (pos < n && (t[pos] == ' ' || t[pos] == '\n' || t[pos] == '\r' || t[pos] == '\t'))
            pos++;
        if (pos >= n) {
            why = "input ends inside the array (no closing ']')";
            break;
        }
        if (t[pos] == ']' && json_array_size(j->root) == 0)
            break;
        json_t *v = json_loadb(t + pos, n - pos, JSON_ALLOW_NUL | JSON_DISABLE_EOF_CHECK, &e);
        if (!v) {
            snprintf(j->ferr.msg, sizeof j->ferr.msg,
                     "MARC-in-JSON: %.120s (record %zu of the array, at byte %zu); %zu complete records before it kept",
                     e.text, json_array_size(j->root) + 1, pos + (size_t)e.position,
                     json_array_size(j->root));
            j->ferr.offset = pos + (size_t)e.position;
            j->failed = 1;
            break;
        }
        size_t k = json_array_size(j->root);
        if (k == cap) {
            cap = cap ? 2 * cap : 64;
            size_t *o = realloc(j->offsets, cap * sizeof *o);
            if (!o) {
                json_decref(v);
                why = "out of memory";
                break;
            }
            j->offsets = o;
        }
        j->offsets[k] = pos;
        json_array_append_new(j->root, v);
        pos += (size_t)e.position;
        while (pos < n && (t[pos] == ' ' || t[pos] == '\n' || t[pos] == '\r' || t[pos] == '\t'))
            pos++;
        if (pos < n && t[pos] == ',') {
            pos++;
            continue;
        }
        if (pos < n && t[pos] == ']')
            break;
        why = pos < n ? "expected ',' or ']' after a record" : "input ends inside the array (no closing ']')";
        break;
    }
    if (why && !j->failed) {
        snprintf(j->ferr.msg, sizeof j->ferr.msg, "MARC-in-JSON: %s at byte %zu; %zu complete records before it kept",
                 why, pos, json_array_size(j->root));
        j->ferr.offset = pos;
        j->failed = 1;
    }
    wb_buf_free(&fixed);
    wb_stream_consume(s, avail);
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
        if (j->next >= json_array_size(j->root)) {
            if (j->failed) {
                j->failed = 0;
                *err = j->ferr;
                return WB_MARC_FATAL;
            }
            return WB_MARC_EOF;
        }
        rec->offset = j->offsets ? j->offsets[j->next] : 0;
        obj = json_array_get(j->root, j->next++);
    } else {
        if (j->next++ > 0)
            return WB_MARC_EOF;
        obj = j->root;
    }
    return build(obj, rec, err);
}
