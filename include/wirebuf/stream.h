/* wirebuf/stream.h - the stream-scoped read buffer.
 *
 * The buffer is state, the reader is a view. A wb_stream owns one read
 * buffer for the life of a file, pipe or socket; parsers ask it for bytes
 * with wb_stream_need() and get a pointer into that buffer, valid until the
 * next call that may refill (need/fill) or until wb_stream_close(). Bytes a
 * parser has not consumed stay in the buffer for the next parser: nothing
 * pulled from the source is ever lost.
 *
 * Every byte has an absolute stream offset (bytes from the start of the
 * source), so errors can say exactly where they are.
 *
 * Sources:
 *  - a file descriptor (regular file, pipe, stdin, socket): refilled with one
 *    large read(2) of `refill` bytes (default 256 KiB; 0 or 1 mean 1 byte
 *    per read, the A/B switch for measuring the buffer's effect);
 *  - a caller-owned memory region: zero copy, the stream points into it and
 *    the caller keeps it alive and unchanged until wb_stream_close();
 *  - a callback (a Python file-like later): called like read(2).
 */
#ifndef WIREBUF_STREAM_H
#define WIREBUF_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wb_stream wb_stream;

/* Callback source: copy up to cap bytes into buf. Return the count, 0 at end
 * of stream, or -1 on error (after writing a message into errbuf, errlen
 * bytes, NUL-terminated). Called only from wb_stream_need/fill. */
typedef ssize_t (*wb_read_fn)(void *ctx, uint8_t *buf, size_t cap, char *errbuf, size_t errlen);

#define WB_STREAM_DEFAULT_REFILL (256u * 1024u)

/* Constructors return a new stream owned by the caller (free it with
 * wb_stream_close) or NULL when out of memory. `refill` is the size in bytes
 * of one read from the source; 0 means 1 (one byte per read). The fd and the
 * callback's ctx are not closed or freed by the stream. */
wb_stream *wb_stream_from_fd(int fd, size_t refill);
wb_stream *wb_stream_from_mem(const void *data, size_t len);
wb_stream *wb_stream_from_fn(wb_read_fn fn, void *ctx, size_t refill);
void wb_stream_close(wb_stream *s);

/* Make at least n unconsumed bytes available, reading from the source as
 * needed (the buffer grows to hold n bytes whatever the refill size).
 * Returns a pointer to the first unconsumed byte; *avail (if not NULL) gets
 * the number of unconsumed bytes, which may exceed n. Returns NULL when fewer
 * than n bytes remain before end of stream (then *avail holds what there is,
 * and wb_stream_peek() still returns them) or on a source or memory error
 * (wb_stream_error() says which). The pointer is valid until the next
 * need/fill/consume-beyond-it call or wb_stream_close(). */
const uint8_t *wb_stream_need(wb_stream *s, size_t n, size_t *avail);

/* Read once more from the source (one refill) unless at EOF; returns the
 * number of new bytes, 0 at end of stream, -1 on error. */
ssize_t wb_stream_fill(wb_stream *s);

/* The unconsumed bytes now buffered, without reading. */
const uint8_t *wb_stream_peek(const wb_stream *s, size_t *avail);

/* Mark n bytes (n <= avail) as consumed. */
void wb_stream_consume(wb_stream *s, size_t n);

/* Absolute offset (bytes from the start of the source) of the first
 * unconsumed byte. */
uint64_t wb_stream_offset(const wb_stream *s);

/* 1 when the source has reported end of stream and every buffered byte has
 * been consumed. */
int wb_stream_eof(const wb_stream *s);

/* NULL, or the message of the last source/memory error. */
const char *wb_stream_error(const wb_stream *s);

/* Number of reads issued to the source (for tests and benchmarks). */
uint64_t wb_stream_reads(const wb_stream *s);

#ifdef __cplusplus
}
#endif
#endif
