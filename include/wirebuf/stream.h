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
 *    large read(2) of `refill` bytes (0 = the default, 256 KiB; 1 = one byte
 *    per read, the A/B switch for measuring the buffer's effect). A
 *    non-blocking descriptor that has nothing to read is "would block"
 *    (WB_STREAM_AGAIN), not an error;
 *  - a caller-owned memory region: zero copy, the stream points into it and
 *    the caller keeps it alive and unchanged until wb_stream_close();
 *  - a callback (a Python file-like later): called like read(2);
 *  - push (a non-blocking server or client's event loop): the stream has no
 *    source of its own. The owner borrows room in the stream's buffer with
 *    wb_stream_reserve(), recv(2)s / SSL_read()s into it, and commits what
 *    arrived with wb_stream_commit() (redis sdsMakeRoomFor/sdsIncrLen,
 *    libuv alloc_cb/read_cb); wb_stream_set_eof() records the peer's end.
 *    need() on a push stream never reads: fewer bytes than asked is "would
 *    block" (NULL with wb_stream_error() NULL and wb_stream_eof() 0).
 *
 * Memory: an owned buffer starts small and grows only when one request is
 * larger than it; wb_stream_shrink() gives memory back after a large
 * message, so an idle connection costs a few KB. Size caps on what a peer
 * may make the buffer grow to are the framer's job, checked from a length
 * word before need() is asked for the bytes (see wirebuf/pgreader.h).
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
/* First allocation of a push stream's buffer (bytes) when 0 is passed. */
#define WB_STREAM_DEFAULT_PUSH (4u * 1024u)
/* "Would block": returned by wb_stream_fill() for a non-blocking fd with
 * nothing to read (EAGAIN) or a push stream short of bytes, and the value a
 * wb_read_fn returns to say the same. The stream stays usable. */
#define WB_STREAM_AGAIN (-2)

/* Constructors return a new stream owned by the caller (free it with
 * wb_stream_close) or NULL when out of memory. `refill` is the size in bytes
 * of one read from the source; 0 means the default (WB_STREAM_DEFAULT_REFILL),
 * 1 means one byte per read. The fd and the callback's ctx are not closed or
 * freed by the stream. */
wb_stream *wb_stream_from_fd(int fd, size_t refill);
wb_stream *wb_stream_from_mem(const void *data, size_t len);
wb_stream *wb_stream_from_fn(wb_read_fn fn, void *ctx, size_t refill);
/* A push stream (see above). `initial` is the buffer size allocated by the
 * first reserve and kept by wb_stream_shrink(); 0 = WB_STREAM_DEFAULT_PUSH.
 * Nothing is allocated until the first wb_stream_reserve(). */
wb_stream *wb_stream_new_push(size_t initial);
void wb_stream_close(wb_stream *s);

/* Push API (push streams only; asserts otherwise). One thread at a time,
 * like every other call on a stream.
 *
 * wb_stream_reserve: room for at least `min` more bytes (0 = whatever is
 * free, at least the initial size) after the unconsumed bytes, compacting
 * and growing as needed. Returns a pointer to the free room and its size in
 * *room, or NULL when memory runs out (wb_stream_error() says so; the stream
 * is then failed). The pointer is valid until the next call on the stream;
 * views from need/peek stay valid across reserve only if no growth or
 * compaction happened, so finish with them first.
 * wb_stream_commit: n (<= *room) bytes were written at the reserved pointer.
 * wb_stream_set_eof: the peer ended the stream; need() then returns what is
 * left and NULL beyond it, wb_stream_eof() becomes 1 once all is consumed. */
uint8_t *wb_stream_reserve(wb_stream *s, size_t min, size_t *room);
void wb_stream_commit(wb_stream *s, size_t n);
void wb_stream_set_eof(wb_stream *s);

/* Give memory back: when the unconsumed bytes fit in the initial size (push)
 * or in `keep` bytes, move them to the front and shrink the allocation to
 * max(keep, unconsumed); an empty push stream frees its buffer when keep is
 * 0. No-op for memory sources. Views from need/peek are invalidated. */
void wb_stream_shrink(wb_stream *s, size_t keep);
/* Bytes currently allocated for the buffer (for tests and RSS accounting). */
size_t wb_stream_capacity(const wb_stream *s);

/* Make at least n unconsumed bytes available, reading from the source as
 * needed (the buffer grows to hold n bytes whatever the refill size).
 * Returns a pointer to the first unconsumed byte; *avail (if not NULL) gets
 * the number of unconsumed bytes, which may exceed n. Returns NULL when fewer
 * than n bytes remain before end of stream (then *avail holds what there is,
 * and wb_stream_peek() still returns them), when the source would block
 * (push streams, non-blocking fds: wb_stream_error() NULL, wb_stream_eof()
 * 0; call again when more has arrived) or on a source or memory error
 * (wb_stream_error() says which). The pointer is valid until the next
 * need/fill/consume-beyond-it call or wb_stream_close(). */
const uint8_t *wb_stream_need(wb_stream *s, size_t n, size_t *avail);

/* Read once more from the source (one refill) unless at EOF; returns the
 * number of new bytes, 0 at end of stream, WB_STREAM_AGAIN when the source
 * would block (non-blocking fd, a callback returning WB_STREAM_AGAIN, any
 * push stream not at EOF), -1 on error. */
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

/* 1 once the source has reported end of stream (or wb_stream_set_eof was
 * called), whether or not buffered bytes remain. */
int wb_stream_ended(const wb_stream *s);

/* NULL, or the message of the last source/memory error. */
const char *wb_stream_error(const wb_stream *s);

/* Number of reads issued to the source (for tests and benchmarks). */
uint64_t wb_stream_reads(const wb_stream *s);

#ifdef __cplusplus
}
#endif
#endif
