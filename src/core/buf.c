/* Growable buffer and coalescing write buffer (see include/wirebuf/buf.h). */
#include "wirebuf/buf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int wb_buf_reserve(wb_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    if (extra > SIZE_MAX / 2 - b->len)
        return -1;
    size_t want = b->len + extra;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2; /* doubling keeps appends amortised O(1) */
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int wb_buf_append(wb_buf *b, const void *data, size_t n)
{
    return wb_buf_append_fast(b, data, n);
}

int wb_buf_puts(wb_buf *b, const char *s)
{
    return wb_buf_append_fast(b, s, strlen(s));
}

void wb_buf_free(wb_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static int fd_sink(void *ctx, const uint8_t *data, size_t n, char *errbuf, size_t errlen)
{
    int fd = (int)(intptr_t)ctx;
    while (n > 0) {
        ssize_t w = write(fd, data, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            snprintf(errbuf, errlen, "write to fd %d failed: %s", fd, strerror(errno));
            return -1;
        }
        data += w;
        n -= (size_t)w;
    }
    return 0;
}

void wb_wbuf_init_sink(wb_wbuf *w, wb_sink_fn sink, void *ctx, size_t threshold)
{
    memset(w, 0, sizeof *w);
    w->sink = sink;
    w->ctx = ctx;
    w->threshold = threshold ? threshold : WB_WBUF_DEFAULT_THRESHOLD;
}

void wb_wbuf_init_fd(wb_wbuf *w, int fd, size_t threshold)
{
    wb_wbuf_init_sink(w, fd_sink, (void *)(intptr_t)fd, threshold);
}

int wb_wbuf_flush(wb_wbuf *w)
{
    if (w->buf.len == 0)
        return 0;
    if (w->sink(w->ctx, w->buf.p, w->buf.len, w->err, sizeof w->err) != 0)
        return -1;
    w->written += w->buf.len;
    w->buf.len = 0;
    return 0;
}

void wb_wbuf_free(wb_wbuf *w)
{
    wb_buf_free(&w->buf);
}

int wb_wbuf_write(wb_wbuf *w, const void *data, size_t n)
{
    if (w->buf.len + n < w->threshold) { /* small: coalesce */
        if (wb_buf_append(&w->buf, data, n) != 0) {
            snprintf(w->err, sizeof w->err, "out of memory");
            return -1;
        }
        return 0;
    }
    if (wb_wbuf_flush(w) != 0)
        return -1;
    if (n == 0)
        return 0;
    if (w->sink(w->ctx, data, n, w->err, sizeof w->err) != 0)
        return -1;
    w->written += n;
    return 0;
}
