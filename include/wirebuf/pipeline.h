/* wirebuf/pipeline.h — the parallel, ordered ISO 2709 record pipeline.
 *
 * One framer thread pulls bytes from a wb_stream, frames records with
 * wb_marc_frame_next() (leader length checked against the record terminator,
 * 0x1D; the codec's resync rules in permissive mode) and copies them into
 * batches. N worker threads parse each record (wb_marc_parse) and hand it to
 * a caller-supplied work function, which appends its output for the record
 * to the batch's output buffer. The consumer gets batches back strictly in
 * input order. Batches live in a ring of 2 * threads + 2 slots: when the
 * consumer is slow the framer waits (backpressure), so memory stays bounded
 * by slots * (batch bytes in + out) whatever the consumer's speed.
 *
 * threads = 0 runs the same stages synchronously in the caller's thread
 * inside wb_marc_pipeline_next() (no threads are started): the sequential
 * mode, with the same batches and the same results.
 *
 * Ownership: the pipeline borrows the wb_stream (the caller closes it after
 * wb_marc_pipeline_free) and owns every batch. A batch returned by
 * wb_marc_pipeline_next() stays valid, and is not touched by any thread,
 * until wb_marc_pipeline_release() or wb_marc_pipeline_free().
 * The stream is read only by the framer thread (or, with threads = 0, by the
 * caller inside _next), so a wb_read_fn source is called from that thread.
 *
 * Errors: a bad record becomes an item with status WB_MARC_BAD and its
 * wb_marc_error (record number, absolute byte offset, message) at its place
 * in the order; a read error or out-of-memory ends the stream with
 * WB_MARC_FATAL after all records before it. A work function that fails
 * marks only its record bad. Freeing a pipeline mid-stream stops and joins
 * every thread and frees every batch. */
#ifndef WIREBUF_PIPELINE_H
#define WIREBUF_PIPELINE_H

#include "wirebuf/marc.h"

#include <stddef.h>
#include <stdint.h>

/* Called by a worker for each record that framed and parsed. rec is a view
 * into raw[0, len) (the framed record bytes, valid for the call only);
 * rec->number and rec->offset are set. Append the record's output to out
 * and set *user to any per-record word the consumer needs. Return
 * WB_MARC_OK, WB_MARC_RECOVERED (with a message in *err) or WB_MARC_BAD
 * (message in *err; what was appended to out is discarded). Called from
 * several threads at once: arg must be safe to share (read-only). */
typedef enum wb_marc_status (*wb_marc_work_fn)(void *arg, wb_marc_record *rec, const uint8_t *raw,
                                               size_t len, wb_buf *out, uint32_t *user,
                                               wb_marc_error *err);

typedef struct wb_marc_item {
    enum wb_marc_status status; /* OK, RECOVERED or BAD */
    uint32_t user;              /* set by the work function */
    size_t out_off, out_len;    /* the record's output: batch->out.p[out_off, +out_len) */
    size_t raw_off, raw_len;    /* the framed input bytes: batch->raw.p[raw_off, +raw_len) */
    wb_marc_error err;          /* record number and absolute offset always set;
                                   msg when status != OK */
} wb_marc_item;

typedef struct wb_marc_batch {
    size_t n;              /* records in this batch (>= 1) */
    wb_marc_item *items;   /* n items, in input order */
    wb_buf out;            /* outputs of the work function */
    wb_buf raw;            /* the framed records' input bytes */
    /* private */
    size_t cap;
    uint64_t seq;
    int state;
} wb_marc_batch;

typedef struct wb_marc_pipeline_opts {
    unsigned threads;     /* workers; 0 = synchronous in the caller's thread */
    unsigned flags;       /* WB_MARC_STRICT etc. for framing and parsing */
    size_t batch_records; /* records per batch, 1..WB_PIPELINE_MAX_BATCH; 0 = 100 */
    size_t batch_bytes;   /* input bytes per batch before it is closed; 0 = 300 KB.
                             A larger record travels alone in its batch. */
    wb_marc_work_fn work; /* NULL: parse only, output nothing */
    void *arg;
} wb_marc_pipeline_opts;

#define WB_PIPELINE_MAX_BATCH 200
#define WB_PIPELINE_MAX_THREADS 64

typedef struct wb_marc_pipeline wb_marc_pipeline;

/* Start a pipeline over s. Returns NULL (and a message in *why if given,
 * NUL-terminated, at most 120 bytes) on bad options or when threads cannot
 * be started or memory allocated. */
wb_marc_pipeline *wb_marc_pipeline_new(wb_stream *s, const wb_marc_pipeline_opts *opts, char *why);

/* The next batch in input order. Returns WB_MARC_OK with *batch set,
 * WB_MARC_EOF at the end (idempotent), or WB_MARC_FATAL with the read error
 * in *err (after every batch framed before it was handed out). Blocks until
 * the batch is done; with threads = 0 it does the work itself. */
enum wb_marc_status wb_marc_pipeline_next(wb_marc_pipeline *p, wb_marc_batch **batch, wb_marc_error *err);

/* Give a batch back (its slot is reused: pointers into it become invalid). */
void wb_marc_pipeline_release(wb_marc_pipeline *p, wb_marc_batch *batch);

/* Stop every thread, free every batch. Safe at any point, also mid-stream
 * with batches not released. NULL is a no-op. */
void wb_marc_pipeline_free(wb_marc_pipeline *p);

/* Threads to use when the caller gives none: WIREBUF_THREADS if set to a
 * number >= 1, else the number of online cores (at least 1). */
unsigned wb_marc_default_threads(void);

#endif
