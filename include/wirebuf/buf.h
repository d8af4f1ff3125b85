/* wirebuf/buf.h - a growable byte buffer and a coalescing write buffer.
 *
 * wb_buf is one idea: bytes [0, len) of a heap block of cap bytes that the
 * wb_buf owns. Codecs (the MARC writers, later the PostgreSQL encoders) append
 * to a wb_buf and never do I/O; a wb_wbuf adds a sink and flushes the bytes
 * at a threshold, so many small appends become one large write(2).
 */
#ifndef WIREBUF_BUF_H
#define WIREBUF_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A growable byte buffer. Zero-initialise ({0}) before use; the bytes at
 * p[0..len) belong to the wb_buf and are freed by wb_buf_free(). p may be
 * NULL while cap == 0. Pointers into p are invalidated by any call that grows
 * the buffer. */
typedef struct wb_buf {
    uint8_t *p;
    size_t len;
    size_t cap;
} wb_buf;

/* Make room for at least `extra` more bytes after len. Returns 0, or -1 when
 * the allocation fails (the buffer is unchanged). */
int wb_buf_reserve(wb_buf *b, size_t extra);
/* Append n bytes. Returns 0, or -1 on allocation failure (unchanged). */
int wb_buf_append(wb_buf *b, const void *data, size_t n);
/* Append a NUL-terminated string (without the NUL). */
int wb_buf_puts(wb_buf *b, const char *s);
/* Append one byte (inline: the writers call it per punctuation mark). */
static inline int wb_buf_putc(wb_buf *b, uint8_t c)
{
    if (b->len == b->cap && wb_buf_reserve(b, 1) != 0)
        return -1;
    b->p[b->len++] = c;
    return 0;
}
/* Forget the contents (len = 0), keep the allocation for reuse. */
static inline void wb_buf_clear(wb_buf *b) { b->len = 0; }
/* Free the allocation and zero the struct. */
void wb_buf_free(wb_buf *b);

/* Inline fast path for appends that already fit (the writers' hot path). */
static inline int wb_buf_append_fast(wb_buf *b, const void *data, size_t n)
{
    if (n == 0)
        return 0; /* b->p may still be NULL: NULL + 0 is undefined in C */
    if (b->cap - b->len < n && wb_buf_reserve(b, n) != 0)
        return -1;
    memcpy(b->p + b->len, data, n);
    b->len += n;
    return 0;
}

/* Where a wb_wbuf's bytes go. write() must consume all n bytes or fail:
 * return 0 on success, -1 on error (it may fill errbuf, errlen bytes). */
typedef int (*wb_sink_fn)(void *ctx, const uint8_t *data, size_t n, char *errbuf, size_t errlen);

/* A coalescing write buffer: appends go to `buf`; wb_wbuf_maybe_flush()
 * writes them out once `threshold` bytes (default 64 KiB) have gathered.
 * The wb_wbuf owns buf; ctx belongs to the caller. */
typedef struct wb_wbuf {
    wb_buf buf;
    size_t threshold;
    wb_sink_fn sink;
    void *ctx;
    uint64_t written;  /* bytes handed to the sink so far */
    char err[256];     /* message of the last failure */
} wb_wbuf;

#define WB_WBUF_DEFAULT_THRESHOLD (64u * 1024u)

/* Set up a write buffer writing to file descriptor fd (not closed by wirebuf).
 * threshold 0 means the default (64 KiB). */
void wb_wbuf_init_fd(wb_wbuf *w, int fd, size_t threshold);
/* Set up a write buffer on a caller-supplied sink. */
void wb_wbuf_init_sink(wb_wbuf *w, wb_sink_fn sink, void *ctx, size_t threshold);
/* Write everything buffered. Returns 0 or -1 (message in w->err). */
int wb_wbuf_flush(wb_wbuf *w);
/* Flush if at least `threshold` bytes are buffered. Returns 0 or -1. */
static inline int wb_wbuf_maybe_flush(wb_wbuf *w)
{
    return w->buf.len >= w->threshold ? wb_wbuf_flush(w) : 0;
}
/* Write n bytes in order after what is buffered: small amounts are
 * appended (coalesced); once buffered + n reaches the threshold, the buffer
 * is flushed and data handed to the sink directly, without a copy (one sink
 * call for the whole block). data stays the caller's. Returns 0 or -1
 * (message in w->err; what was buffered may be partly written). */
int wb_wbuf_write(wb_wbuf *w, const void *data, size_t n);
/* Free the buffer (does not flush). */
void wb_wbuf_free(wb_wbuf *w);

#ifdef __cplusplus
}
#endif
#endif
