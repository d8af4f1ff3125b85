/* MARCXML reader (MARC 21 slim schema) on expat. Streaming: the document is
 * fed to expat in chunks from the stream, completed records queue up and are
 * handed out one by one, so memory stays bounded by a chunk's worth of
 * records whatever the document's size. Any namespace (or none) is accepted
 * for the MARCXML elements: collection, record, leader, controlfield,
 * datafield, subfield. */
#include "internal.h"

#include <expat.h>
#include <stdlib.h>
#include <string.h>

enum { IN_NONE, IN_LEADER, IN_TEXT };

struct wb_xml_reader {
    XML_Parser p;
    wb_marc_record build;   /* record being built */
    wb_buf leader;
    int in_record, text, in_field;
    wb_marc_record *queue;  /* completed records [head, n) */
    size_t head, n, cap;
    int done;
    char err[200];
    uint64_t err_offset;
};

static const char *local(const char *name)
{
    const char *bar = strrchr(name, '|');
    name = bar ? bar + 1 : name;
    const char *colon = strrchr(name, ':');
    return colon ? colon + 1 : name;
}

static const char *attr(const char **atts, const char *key)
{
    for (int i = 0; atts[i]; i += 2)
        if (strcmp(local(atts[i]), key) == 0)
            return atts[i + 1];
    return NULL;
}

static void fail(wb_xml_reader *x, const char *msg)
{
    if (!x->err[0]) {
        snprintf(x->err, sizeof x->err, "%s", msg);
        x->err_offset = (uint64_t)XML_GetCurrentByteIndex(x->p);
    }
}

static void XMLCALL on_start(void *ud, const char *name, const char **atts)
{
    wb_xml_reader *x = ud;
    const char *n = local(name);
    if (strcmp(n, "record") == 0) {
        wb_rec_reset(&x->build);
        x->build.offset = (uint64_t)XML_GetCurrentByteIndex(x->p);
        x->leader.len = 0;
        x->in_record = 1;
        return;
    }
    if (!x->in_record)
        return;
    if (strcmp(n, "leader") == 0) {
        x->leader.len = 0;
        x->text = IN_LEADER;
    } else if (strcmp(n, "controlfield") == 0 || strcmp(n, "datafield") == 0) {
        const char *tag = attr(atts, "tag");
        if (!tag)
            tag = "   ";
        wb_rec_begin_field(&x->build, tag, strlen(tag));
        x->in_field = 1;
        if (n[0] == 'd') {
            const char *i1 = attr(atts, "ind1"), *i2 = attr(atts, "ind2");
            wb_buf_putc(&x->build.store, (uint8_t)(i1 && i1[0] ? i1[0] : ' '));
            wb_buf_putc(&x->build.store, (uint8_t)(i2 && i2[0] ? i2[0] : ' '));
        } else {
            x->text = IN_TEXT;
        }
    } else if (strcmp(n, "subfield") == 0 && x->in_field) {
        const char *code = attr(atts, "code");
        wb_buf_putc(&x->build.store, WB_MARC_SD);
        size_t cl = code ? wb_first_char_len(code) : 0;
        if (cl)
            wb_buf_append(&x->build.store, code, cl);
        else
            wb_buf_putc(&x->build.store, ' ');
        x->text = IN_TEXT;
    }
}

static void XMLCALL on_end(void *ud, const char *name)
{
    wb_xml_reader *x = ud;
    const char *n = local(name);
    if (!x->in_record)
        return;
    if (strcmp(n, "record") == 0) {
        wb_rec_set_leader(&x->build, x->leader.p ? x->leader.p : (const uint8_t *)"", x->leader.len);
        wb_rec_finish(&x->build);
        if (x->n == x->cap) {
            size_t cap = x->cap ? x->cap * 2 : 16;
            wb_marc_record *q = realloc(x->queue, cap * sizeof *q);
            if (!q) {
                fail(x, "out of memory");
                return;
            }
            memset(q + x->cap, 0, (cap - x->cap) * sizeof *q);
            x->queue = q;
            x->cap = cap;
        }
        if (wb_marc_record_copy(&x->queue[x->n], &x->build) != 0)
            fail(x, "out of memory");
        else
            x->n++;
        x->in_record = 0;
    } else if (strcmp(n, "leader") == 0 || strcmp(n, "subfield") == 0) {
        x->text = IN_NONE;
    } else if (strcmp(n, "controlfield") == 0 || strcmp(n, "datafield") == 0) {
        if (x->in_field)
            wb_rec_end_field(&x->build);
        x->in_field = 0;
        x->text = IN_NONE;
    }
}

static void XMLCALL on_text(void *ud, const char *s, int len)
{
    wb_xml_reader *x = ud;
    if (x->text == IN_LEADER)
        wb_buf_append(&x->leader, s, (size_t)len);
    else if (x->text == IN_TEXT)
        wb_buf_append(&x->build.store, s, (size_t)len);
}

wb_xml_reader *wb_xml_reader_new(void)
{
    wb_xml_reader *x = calloc(1, sizeof *x);
    if (!x)
        return NULL;
    x->p = XML_ParserCreateNS(NULL, '|');
    if (!x->p) {
        free(x);
        return NULL;
    }
    XML_SetUserData(x->p, x);
    XML_SetElementHandler(x->p, on_start, on_end);
    XML_SetCharacterDataHandler(x->p, on_text);
    return x;
}

void wb_xml_reader_free(wb_xml_reader *x)
{
    if (!x)
        return;
    XML_ParserFree(x->p);
    wb_marc_record_free(&x->build);
    wb_buf_free(&x->leader);
    for (size_t i = 0; i < x->cap; i++)
        wb_marc_record_free(&x->queue[i]);
    free(x->queue);
    free(x);
}

enum wb_marc_status wb_xml_next(wb_xml_reader *x, wb_stream *s, wb_marc_record *rec, wb_marc_error *err)
{
    while (x->head == x->n) {
        x->head = x->n = 0;
        if (x->err[0]) {
            wb_marc_errorf(err, x->err_offset, "MARCXML: %s", x->err);
            return WB_MARC_FATAL;
        }
        if (x->done)
            return WB_MARC_EOF;
        size_t avail;
        const uint8_t *p = wb_stream_need(s, 1, &avail);
        if (!p && wb_stream_error(s)) {
            wb_marc_errorf(err, wb_stream_offset(s), "%s", wb_stream_error(s));
            return WB_MARC_FATAL;
        }
        int final = p == NULL;
        if (final)
            avail = 0;
        if (avail > 65536)
            avail = 65536; /* bounded queue: parse 64 KiB at a time */
        if (XML_Parse(x->p, (const char *)wb_stream_peek(s, NULL), (int)avail, final) == XML_STATUS_ERROR) {
            snprintf(x->err, sizeof x->err, "%s at line %lu, column %lu", XML_ErrorString(XML_GetErrorCode(x->p)),
                     (unsigned long)XML_GetCurrentLineNumber(x->p),
                     (unsigned long)XML_GetCurrentColumnNumber(x->p));
            x->err_offset = (uint64_t)XML_GetCurrentByteIndex(x->p);
        }
        wb_stream_consume(s, avail);
        if (final)
            x->done = 1;
    }
    wb_marc_record *q = &x->queue[x->head++];
    /* hand out by swapping storage: no copy */
    wb_marc_record tmp = *rec;
    *rec = *q;
    *q = tmp;
    /* leader points into the struct itself: follow the move */
    rec->leader = rec->leader_buf;
    q->leader = q->leader_buf;
    return WB_MARC_OK;
}
