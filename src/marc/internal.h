/* Private helpers shared by the MARC codec files: building records field by
 * field into the record's own store (readers of .mrk, MARCXML, JSON and the
 * character-set conversion use this). */
#ifndef WB_MARC_INTERNAL_H
#define WB_MARC_INTERNAL_H
#include "wirebuf/marc.h"

#include <stdio.h>

/* While a record is being built, field.data holds an offset into r->store
 * (the store may move as it grows); wb_rec_finish() turns offsets into
 * pointers. */
void wb_rec_reset(wb_marc_record *r);
/* Copy up to 24 bytes of leader (shorter is padded with blanks). */
void wb_rec_set_leader(wb_marc_record *r, const uint8_t *l, size_t n);
/* Start a field with tag (3 bytes); returns 0 or -1 (out of memory). The
 * field's bytes are then appended to r->store; wb_rec_end_field closes it. */
int wb_rec_begin_field(wb_marc_record *r, const char *tag, size_t taglen);
void wb_rec_end_field(wb_marc_record *r);
void wb_rec_finish(wb_marc_record *r);
/* Grow the fields array to hold n fields. */
int wb_rec_fields_reserve(wb_marc_record *r, size_t n);

void wb_marc_errorf(wb_marc_error *e, uint64_t offset, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* MARCMaker mnemonics: name (without braces, len bytes) -> MARC-8 bytes.
 * Returns the number of bytes written to out (max 8), 0 if unknown. */
size_t wb_mrk_mnemonic_to_marc8(const char *name, size_t len, uint8_t out[8]);
/* MARC-8 ANSEL byte -> mnemonic name, or NULL. */
const char *wb_mrk_marc8_to_mnemonic(uint8_t b);

/* Bytes of the first character of s (a UTF-8 string): 1-4, 1 for an
 * invalid lead byte, 0 for "". Subfield codes read from MARCXML/JSON are one
 * character, which may be several bytes. */
static inline size_t wb_first_char_len(const char *s)
{
    size_t n = 0;
    if (!s[0])
        return 0;
    uint8_t c = (uint8_t)s[0];
    size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    while (n < want && s[n])
        n++;
    return n == want ? n : 1;
}

/* Append code point c as UTF-8. Returns 0 or -1 (out of memory). */
int wb_utf8_append(wb_buf *o, uint32_t c);

/* Lookup of one MARC-8 code in the generated tables (for the mrk reader). */
uint32_t wb_marc8_lookup_ansel(uint8_t b);

/* Readers for formats other than ISO 2709 (one per file). They build into
 * rec and return a wb_marc_status. */
typedef struct wb_xml_reader wb_xml_reader;
wb_xml_reader *wb_xml_reader_new(void);
void wb_xml_reader_free(wb_xml_reader *x);
enum wb_marc_status wb_xml_next(wb_xml_reader *x, wb_stream *s, wb_marc_record *rec, wb_marc_error *err);

typedef struct wb_json_reader wb_json_reader;
wb_json_reader *wb_json_reader_new(void);
void wb_json_reader_free(wb_json_reader *j);
enum wb_marc_status wb_json_next(wb_json_reader *j, wb_stream *s, wb_marc_record *rec, wb_marc_error *err);

enum wb_marc_status wb_mrk_next(wb_stream *s, wb_marc_record *rec, wb_marc_error *err);

#endif
