/* wirebuf/marc.h - MARC 21 / ISO 2709 records: framing, parsing, MARC-8,
 * and the ISO 2709, MARCXML, MARC-in-JSON and mnemonic (.mrk) formats.
 *
 * Sources: ISO 2709:2008; "MARC 21 Specifications for Record Structure,
 * Character Sets, and Exchange Media" (Library of Congress), in particular
 * "Record Structure" (leader, directory, field and record terminators) and
 * "Character Sets: MARC-8 encoding environment"; MARC 21 XML schema (MARCXML
 * slim); MARC-in-JSON (Ross Singer's proposal, as written by pymarc's
 * JSONWriter and marc4j); MarcEdit/MARCMaker mnemonic text format.
 *
 * Shape of a record in memory. A data field's bytes are kept exactly as in
 * ISO 2709, without the field terminator: two indicator bytes, then
 * subfields, each 0x1F + subfield code + value. Control fields (tags 001-009)
 * are their value. Every reader (ISO 2709, .mrk, MARCXML, JSON) produces this
 * shape and every writer consumes it, so every format converts to every other.
 *
 * Ownership. A record returned by wb_marc_next() is a view: its leader and
 * field pointers point into the stream's read buffer (ISO 2709) or into the
 * reader's own storage (other formats, or records that had to be converted),
 * and stay valid until the next wb_marc_next() or wb_marc_reader_free().
 * wb_marc_record_copy() makes a record that owns its bytes.
 *
 * Errors are values. Every function that can fail fills a wb_marc_error with
 * the record number (1-based), the absolute byte offset in the input and a
 * message; a bad record never stops the reader from reading the next one.
 */
#ifndef WIREBUF_MARC_H
#define WIREBUF_MARC_H

#include <stddef.h>
#include <stdint.h>

#include "wirebuf/buf.h"
#include "wirebuf/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WB_MARC_RT 0x1D /* record terminator */
#define WB_MARC_FT 0x1E /* field terminator */
#define WB_MARC_SD 0x1F /* subfield delimiter */
#define WB_MARC_LEADER_LEN 24
#define WB_MARC_DIRENT_LEN 12

/* One field: tag (3 bytes + NUL) and its bytes (see the shape above). data is
 * borrowed from the record's storage; len is in bytes. */
typedef struct wb_marc_field {
    char tag[4];
    uint32_t len;
    const uint8_t *data;
} wb_marc_field;

/* 1 for control fields (tag 001-009 and other tags starting "00"). */
static inline int wb_marc_is_control(const wb_marc_field *f)
{
    return f->tag[0] == '0' && f->tag[1] == '0';
}

/* A record. Zero-initialise ({0}) before first use; wb_marc_record_free()
 * frees what it owns. leader points at 24 bytes. fields[0..nfields). */
typedef struct wb_marc_record {
    const uint8_t *leader;
    wb_marc_field *fields;
    size_t nfields;
    uint64_t number;  /* 1-based position in the input */
    uint64_t offset;  /* absolute byte offset of the record in the input */
    size_t raw_len;   /* ISO 2709 input: the record's length in bytes */
    /* private */
    size_t fields_cap;
    wb_buf store;     /* bytes the record owns (converted or rebuilt data) */
    wb_buf scratch;   /* second buffer, swapped with store by conversions */
    uint8_t leader_buf[WB_MARC_LEADER_LEN];
    /* 1 when wb_marc_parse() left every field a slice of the raw record that
     * follows a 0x1E and ends before one (cleared by anything that changes
     * the fields): then raw bytes that are valid UTF-8 as a whole make every
     * field valid UTF-8, with no per-field test (wb_marc_bring_to_utf8) */
    uint8_t slices;
} wb_marc_record;

void wb_marc_record_free(wb_marc_record *r);
/* Make dst an owning deep copy of src (dst's previous contents are freed).
 * Returns 0, or -1 when out of memory. */
int wb_marc_record_copy(wb_marc_record *dst, const wb_marc_record *src);

/* One subfield, borrowed from its field. The subfield code is one byte in
 * ISO 2709 (identifier length 2); when that byte starts a valid multi-byte
 * UTF-8 character the whole character is the code (code_len 2-4), as yaz and
 * pymarc read it, so no writer ever splits a character. */
typedef struct wb_marc_subfield {
    const uint8_t *code;
    size_t code_len;
    const uint8_t *value;
    size_t len;
} wb_marc_subfield;

/* Subfield iteration over a data field: start with *pos = 0. Returns 1 and
 * fills *sf, or 0 at the end. Bytes between the indicators and the first 0x1F
 * are skipped. */
int wb_marc_subfield_next(const wb_marc_field *f, size_t *pos, wb_marc_subfield *sf);

typedef struct wb_marc_error {
    uint64_t record;  /* 1-based record number, 0 if not within a record */
    uint64_t offset;  /* absolute byte offset of the problem */
    char msg[400];   /* every problem of a record, joined with "; " */
} wb_marc_error;

/* ---- Sans-I/O framing and parsing of ISO 2709 -------------------------- */

enum {
    WB_MARC_STRICT = 1u << 0,      /* any structural defect is an error */
    WB_MARC_KEEP_MARC8 = 1u << 1,  /* do not convert MARC-8 records to UTF-8 */
    WB_MARC_STRICT_FRAMING = 1u << 2, /* frame strictly (the leader's length must
                                         land on 0x1D, no resync) but parse
                                         permissively: pymarc's default */
};

enum wb_marc_frame_kind {
    WB_FRAME_RECORD, /* a record is buf[skip, skip + len) */
    WB_FRAME_NEED,   /* need more bytes: at least `need` in total if known */
    WB_FRAME_JUNK,   /* buf[0, skip) is not a record: report msg, skip it */
    WB_FRAME_END     /* nothing (or only blank bytes) left and eof */
};

typedef struct wb_marc_frame {
    size_t skip;   /* blank bytes (CR, LF, NUL, space) before the record, or junk */
    size_t len;    /* record length in bytes, terminator included */
    size_t need;   /* WB_FRAME_NEED: total bytes wanted (0: unknown, any more) */
    int resynced;  /* the leader's length was wrong; the record ends where the
                      data proves (permissive mode only; see below) */
    int record;    /* WB_FRAME_JUNK: the junk is a rejected record (strict
                      framing), so it takes a record number; otherwise it
                      is bytes between records and takes none */
    size_t scanned; /* WB_FRAME_NEED: bytes of buf already searched for a
                       terminator; pass back to wb_marc_frame_scan() */
    char msg[160];
} wb_marc_frame;

/* Find the next record in buf[0, n). eof says no more bytes will come.
 * The length in the leader (5 ASCII digits) must land on a record terminator
 * (0x1D). Strict mode (WB_MARC_STRICT or WB_MARC_STRICT_FRAMING): anything
 * else is JUNK up to and including the next 0x1D. Permissive mode, "every
 * good record out of a damaged file":
 *  - junk (digits, a stray leader copy, runs of 0x1D) before a leader is
 *    JUNK up to that leader; junk is never numbered as a record;
 *  - when the length lands on a 0x1D but the data holds an earlier 0x1D
 *    that is followed by a leader, or that closes a directory which fits
 *    the data, the record ends there (the boundary the data proves);
 *  - when the length is wrong (or 99999 for a longer record, or garbage) the
 *    record ends at the first 0x1D, or just before a leader that comes
 *    earlier (a record cut short, or whose 0x1D was deleted or
 *    overwritten: then the RECORD does not end in 0x1D), with resynced set;
 *    wb_marc_parse() then accepts it only if its directory and data agree;
 *  - at most 64 KiB of junk without a leader or terminator is buffered
 *    before it is reported (JUNK) and dropped; a record without a
 *    terminator at most 1 GiB.
 * On WB_FRAME_NEED, buf[0, skip) are blank bytes the caller may consume, and
 * `need` grows geometrically while no terminator is found, so a caller that
 * refills to `need` scans each byte O(1) times. Never reads outside
 * buf[0, n). */
enum wb_marc_frame_kind wb_marc_frame_next(const uint8_t *buf, size_t n, int eof,
                                           unsigned flags, wb_marc_frame *out);
/* wb_marc_frame_next() resuming the terminator search at buf[scanned] (the
 * previous NEED answer's `scanned`, less any bytes consumed since). */
enum wb_marc_frame_kind wb_marc_frame_scan(const uint8_t *buf, size_t n, int eof, unsigned flags,
                                           size_t scanned, wb_marc_frame *out);

/* Parse one framed record buf[0, len) into rec (a view into buf; fields
 * rebuilt by a repair point into rec->store). Returns 0 (clean), 1
 * (permissive mode repaired or found something: every problem, joined with
 * "; ", in *err), or -1 (bad record: message in *err; rec is unusable).
 * Reported and repaired in permissive mode: bytes that are not printable
 * ASCII in the leader (set to blank), tags ('?') and indicators (blank), so
 * every writer's output stays well-formed; a wrong base address; bad
 * directory entries (fields rebuilt from the data); data fields without
 * indicators (blank ones supplied, subfields kept) or without any subfield
 * delimiter (text kept as $a); a missing or overwritten record terminator.
 * A record whose leader length is not len (the framer resynced) must prove
 * itself, else -1 ("not trusted"), never a made-up record: without a final
 * 0x1D its data must hold exactly one field per directory entry; with one,
 * its directory must be 12-byte entries of digits.
 * err->offset is relative to buf. Does not convert character sets. */
int wb_marc_parse(wb_marc_record *rec, const uint8_t *buf, size_t len,
                  unsigned flags, wb_marc_error *err);

/* ---- Character sets ------------------------------------------------------ */

/* Convert MARC-8 bytes to UTF-8, appending to out. Escape sequences switch
 * G0/G1 sets (ISO 2022 as MARC-8 uses it: ESC ( , ) - $ designations and the
 * ESC g/b/p/s shortcuts); combining marks, which MARC-8 puts before their
 * base character, are moved after it. Unmapped codes are dropped (as yaz
 * and the LoC tables' notes do) and counted.
 * Returns the number of unmapped codes or bad escapes (0 = clean), -1 if
 * out of memory. */
long wb_marc8_to_utf8(wb_buf *out, const uint8_t *in, size_t n);

/* pymarc-compatibility mode (wirebuf.marc's drop-in reader): convert as
 * pymarc 5.3.1's MARC8ToUnicode.translate() does, byte for byte, before its
 * NFC step (unmapped codes become a space, an unknown 3-byte code consumes 3
 * bytes, 0x00-0x1F and 0x81-0x9F are dropped, trailing combining marks are
 * dropped, pymarc's table choices; see marc8.c). *g0 / *g1 are the ISO
 * finals of the G0 / G1 sets in use (0x42 / 0x45 to start) and are updated,
 * as pymarc's converter object keeps them between calls. Returns the number
 * of codes replaced by a space, -1 if out of memory, -2 where pymarc raises
 * (an ESC at the very end, or a designation cut short): then out holds the
 * text so far. Any thread; no state besides *g0 / *g1. */
long wb_marc8_to_utf8_pymarc(wb_buf *out, const uint8_t *in, size_t n, unsigned *g0, unsigned *g1);

/* The entry of pymarc's code table for set `set` (ISO final, 0x31 = EACC)
 * and code `code` (as pymarc keys it: 0x21-0x7E for G0 sets, 0xA1-0xFE for
 * Extended Latin/Arabic/Cyrillic, 3 bytes for EACC): the code point with
 * bit 31 set for a combining mark, or 0 when pymarc's table has none. */
uint32_t wb_marc8_lookup_pymarc(unsigned set, uint32_t code);

/* Number of bytes at the start of buf[0, n) that are valid UTF-8 (n if all
 * of it is). */
size_t wb_utf8_valid_prefix(const uint8_t *buf, size_t n);

/* Append buf to out with each invalid UTF-8 sequence replaced by U+FFFD.
 * Returns the number of replacements, -1 if out of memory. */
long wb_utf8_repair(wb_buf *out, const uint8_t *buf, size_t n);

/* Bring a record to UTF-8 in place (its fields then point into rec->store):
 * MARC-8 (leader/09 = ' ') is converted and leader/09 set to 'a'; UTF-8
 * (leader/09 = 'a') is validated: in strict mode invalid bytes are an error
 * (-1), in permissive mode they become U+FFFD (returns 1 and a warning).
 * Returns 0 when nothing needed to change or the conversion was clean. */
int wb_marc_to_utf8(wb_marc_record *rec, unsigned flags, wb_marc_error *err);

/* wb_marc_to_utf8() with a fast path for ISO 2709: when raw[0, len) (the
 * record's framed bytes, or NULL) is all valid UTF-8 and leader/09 is 'a',
 * nothing is done (one scan, no per-field work). Returns as wb_marc_to_utf8();
 * on a non-zero return err->msg says what and err->offset = rec->offset
 * (err->record is left as it was). */
int wb_marc_bring_to_utf8(wb_marc_record *rec, const uint8_t *raw, size_t len, unsigned flags,
                          wb_marc_error *err);

/* ---- Writers: append one record to out ---------------------------------- */

/* ISO 2709: leader record length / base address recomputed, directory
 * rebuilt. Byte-exact for well-formed input. Record length over 99,999 bytes
 * is written as 99999 (as others do). Returns 0 or -1 (out of memory). */
int wb_marc_write_iso2709(wb_buf *out, const wb_marc_record *rec);
/* Does rec fit ISO 2709's length fields (record length <= 99,999 bytes,
 * every field <= 9,999 bytes with its terminator)? Returns 0, or 1 with a
 * message in why (whylen bytes, NUL-terminated; why may be NULL). Writers
 * that must not emit capped lengths (the CLI without --allow-oversize) call
 * this first. */
int wb_marc_iso2709_check(const wb_marc_record *rec, char *why, size_t whylen);

/* MARCXML (MARC 21 slim). Use wb_marc_xml_begin/end around the records for
 * one <collection>. Control characters not allowed in XML 1.0 are written as
 * U+FFFD's bytes; &, <, >, " are escaped. In structural positions (leader,
 * tag, indicators, a one-byte subfield code) every byte that is not
 * printable ASCII is written as U+FFFD, in the JSON and mrk writers too
 * (JSON escapes control bytes as \u00XX there), so the output is valid
 * UTF-8 / XML / JSON whatever the record holds (data bytes are valid UTF-8
 * after wb_marc_to_utf8; WB_MARC_KEEP_MARC8 leaves them as they are). */
int wb_marc_xml_begin(wb_buf *out);
int wb_marc_write_marcxml(wb_buf *out, const wb_marc_record *rec);
int wb_marc_xml_end(wb_buf *out);

/* MARC-in-JSON; wb_marc_json_begin/end write the enclosing array, and
 * `first` says whether a separating comma is needed. */
int wb_marc_json_begin(wb_buf *out);
int wb_marc_write_json(wb_buf *out, const wb_marc_record *rec, int first);
int wb_marc_json_end(wb_buf *out);

/* MarcEdit mnemonic text: "=LDR  ...", "=245  10$aTitle", blank line after
 * each record. Blanks in the leader, control fields and indicators are '\';
 * '$', '{', '}' and '\' in data are {dollar}, {lcub}, {rcub}, {bsol}. */
int wb_marc_write_mrk(wb_buf *out, const wb_marc_record *rec);

/* Human-readable dump (the CLI's `dump`): leader, then "245 10 $a ..." */
int wb_marc_write_text(wb_buf *out, const wb_marc_record *rec);

/* ---- Readers ------------------------------------------------------------- */

typedef enum wb_marc_format {
    WB_MARC_ISO2709,
    WB_MARC_MARCXML,
    WB_MARC_JSON,
    WB_MARC_MRK
} wb_marc_format;

/* The format of what stream s holds, from its first byte that is not blank
 * or a UTF-8 BOM: '<' MARCXML, '[' or '{' MARC-in-JSON, '=' mnemonic (mrk),
 * anything else (or nothing) ISO 2709. Looks at up to 64 bytes (it may
 * fill the stream's buffer) and consumes nothing. */
wb_marc_format wb_marc_sniff_format(wb_stream *s);

/* Name <-> format ("iso2709", "marcxml", "json", "mrk"). -1 if unknown. */
int wb_marc_format_from_name(const char *name);
const char *wb_marc_format_name(wb_marc_format f);

typedef struct wb_marc_reader wb_marc_reader;

/* A reader of records in `format` from stream s. The reader borrows s (the
 * caller closes it after wb_marc_reader_free). flags: WB_MARC_STRICT,
 * WB_MARC_KEEP_MARC8 (otherwise every record comes out as UTF-8). Returns
 * NULL when out of memory. */
wb_marc_reader *wb_marc_reader_new(wb_stream *s, wb_marc_format format, unsigned flags);
void wb_marc_reader_free(wb_marc_reader *r);

enum wb_marc_status {
    WB_MARC_OK = 0,        /* *rec is a clean record */
    WB_MARC_RECOVERED = 1, /* *rec is usable; *err says what was repaired */
    WB_MARC_BAD = 2,       /* a bad record was skipped; *err says where/why */
    WB_MARC_EOF = 3,       /* no more records */
    WB_MARC_FATAL = 4      /* I/O or memory error, or unparseable document
                              (XML/JSON syntax); *err says what. Final. */
};

/* Next record. On OK/RECOVERED *rec points to a record owned by the reader,
 * valid until the next call. Reading goes on after BAD and RECOVERED. */
enum wb_marc_status wb_marc_next(wb_marc_reader *r, wb_marc_record **rec, wb_marc_error *err);

/* Records returned so far (OK + RECOVERED) and bad ones skipped. */
uint64_t wb_marc_reader_count(const wb_marc_reader *r);
uint64_t wb_marc_reader_bad(const wb_marc_reader *r);

#ifdef __cplusplus
}
#endif
#endif
