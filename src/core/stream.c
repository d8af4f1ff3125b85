/* The stream-scoped read buffer (see include/wirebuf/stream.h).
 *
 * Layout: data[0, pos) consumed, data[pos, end) unconsumed, and for owned
 * buffers data[end, cap) free. base is the absolute offset of data[0].
 * Compaction (moving the unconsumed tail to the front) happens only when a
 * refill would not fit, so a parser walking a large buffer pays nothing for
 * it; growth happens only when one request is larger than the buffer. */
#include "wirebuf/stream.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { SRC_FD, SRC_MEM, SRC_FN, SRC_PUSH };

struct wb_stream {
    uint8_t *buf;        /* owned buffer (NULL for memory sources) */
    const uint8_t *data; /* buf, or the caller's memory */
    size_t cap, pos, end;
    uint64_t base;
    size_t refill;  /* bytes per read; for push streams the initial size */
    int kind, fd, eof, failed;
    wb_read_fn fn;
    void *ctx;
    uint64_t reads;
    char err[256];
};

static wb_stream *stream_new(int kind, size_t refill)
{
    wb_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->kind = kind;
    s->fd = -1;
    s->refill = refill ? refill : WB_STREAM_DEFAULT_REFILL;
    return s;
}

wb_stream *wb_stream_new_push(size_t initial)
{
    return stream_new(SRC_PUSH, initial ? initial : WB_STREAM_DEFAULT_PUSH);
}

wb_stream *wb_stream_from_fd(int fd, size_t refill)
{
    wb_stream *s = stream_new(SRC_FD, refill);
    if (s)
        s->fd = fd;
    return s;
}

wb_stream *wb_stream_from_mem(const void *data, size_t len)
{
    wb_stream *s = stream_new(SRC_MEM, 1);
    if (!s)
        return NULL;
    s->data = data;
    s->end = len;
    s->cap = len;
    s->eof = 1;
    return s;
}

wb_stream *wb_stream_from_fn(wb_read_fn fn, void *ctx, size_t refill)
{
    wb_stream *s = stream_new(SRC_FN, refill);
    if (s) {
        s->fn = fn;
        s->ctx = ctx;
    }
    return s;
}

void wb_stream_close(wb_stream *s)
{
    if (!s)
        return;
    free(s->buf);
    free(s);
}

/* Make room for `room` free bytes after end, compacting first, growing if
 * still short. Returns 0 or -1. */
static int make_room(wb_stream *s, size_t room)
{
    if (s->cap - s->end >= room)
        return 0;
    if (s->pos > 0) {
        size_t n = s->end - s->pos;
        memmove(s->buf, s->buf + s->pos, n);
        s->base += s->pos;
        s->pos = 0;
        s->end = n;
        s->data = s->buf;
        if (s->cap - s->end >= room)
            return 0;
    }
    size_t want = s->end + room;
    size_t cap = s->cap ? s->cap : (s->kind == SRC_PUSH ? s->refill : 4096);
    while (cap < want) {
        if (cap > SIZE_MAX / 2) {
            snprintf(s->err, sizeof s->err, "read buffer cannot grow to %zu bytes", want);
            return -1;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(s->buf, cap);
    if (!p) {
        snprintf(s->err, sizeof s->err, "out of memory growing read buffer to %zu bytes", cap);
        return -1;
    }
    s->buf = p;
    s->data = p;
    s->cap = cap;
    return 0;
}

ssize_t wb_stream_fill(wb_stream *s)
{
    if (s->failed)
        return -1;
    if (s->eof)
        return 0;
    if (s->kind == SRC_PUSH)
        return WB_STREAM_AGAIN;
    if (make_room(s, s->refill) != 0) {
        s->failed = 1;
        return -1;
    }
    size_t want = s->refill == 1 ? 1 : s->cap - s->end;
    ssize_t r;
    for (;;) {
        s->reads++;
        if (s->kind == SRC_FD) {
            r = read(s->fd, s->buf + s->end, want);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                return WB_STREAM_AGAIN;
            if (r < 0)
                snprintf(s->err, sizeof s->err, "read from fd %d failed at offset %llu: %s", s->fd,
                         (unsigned long long)(s->base + s->end), strerror(errno));
        } else {
            s->err[0] = 0;
            r = s->fn(s->ctx, s->buf + s->end, want, s->err, sizeof s->err);
            if (r == WB_STREAM_AGAIN)
                return WB_STREAM_AGAIN;
            if (r < 0 && !s->err[0])
                snprintf(s->err, sizeof s->err, "read callback failed at offset %llu",
                         (unsigned long long)(s->base + s->end));
            if (r > (ssize_t)want) {
                snprintf(s->err, sizeof s->err, "read callback returned %zd bytes for a %zu-byte buffer", r, want);
                r = -1;
            }
        }
        break;
    }
    if (r < 0) {
        s->failed = 1;
        return -1;
    }
    if (r == 0)
        s->eof = 1;
    s->end += (size_t)r;
    return r;
}

const uint8_t *wb_stream_need(wb_stream *s, size_t n, size_t *avail)
{
    while (s->end - s->pos < n) {
        if (s->eof || s->failed)
            break;
        if (s->kind == SRC_PUSH)
            break; /* would block: the owner pushes more */
        if (s->kind != SRC_MEM && make_room(s, n - (s->end - s->pos)) != 0) {
            s->failed = 1;
            break;
        }
        if (wb_stream_fill(s) <= 0)
            break;
    }
    if (avail)
        *avail = s->end - s->pos;
    if (s->end - s->pos < n)
        return NULL;
    return s->data + s->pos;
}

const uint8_t *wb_stream_peek(const wb_stream *s, size_t *avail)
{
    if (avail)
        *avail = s->end - s->pos;
    return s->data ? s->data + s->pos : (const uint8_t *)"";
}

void wb_stream_consume(wb_stream *s, size_t n)
{
    size_t have = s->end - s->pos;
    s->pos += n < have ? n : have;
}

uint64_t wb_stream_offset(const wb_stream *s) { return s->base + s->pos; }
int wb_stream_eof(const wb_stream *s) { return s->eof && s->pos == s->end; }
int wb_stream_ended(const wb_stream *s) { return s->eof; }
const char *wb_stream_error(const wb_stream *s) { return s->failed ? s->err : NULL; }
uint64_t wb_stream_reads(const wb_stream *s) { return s->reads; }

uint8_t *wb_stream_reserve(wb_stream *s, size_t min, size_t *room)
{
    assert(s->kind == SRC_PUSH);
    if (s->failed)
        return NULL;
    if (s->pos == s->end && s->pos > 0) { /* empty: restart at the front for free */
        s->base += s->pos;
        s->pos = s->end = 0;
    }
    size_t want = min ? min : (s->cap > s->end ? s->cap - s->end : s->refill);
    if (make_room(s, want) != 0) {
        s->failed = 1;
        return NULL;
    }
    if (room)
        *room = s->cap - s->end;
    return s->buf + s->end;
}

void wb_stream_commit(wb_stream *s, size_t n)
{
    assert(s->kind == SRC_PUSH && n <= s->cap - s->end);
    s->end += n;
    s->reads++;
}

void wb_stream_set_eof(wb_stream *s) { s->eof = 1; }

void wb_stream_shrink(wb_stream *s, size_t keep)
{
    if (s->kind == SRC_MEM || !s->buf)
        return;
    size_t n = s->end - s->pos;
    if (s->kind == SRC_PUSH && n == 0 && keep == 0) {
        free(s->buf);
        s->base += s->pos;
        s->buf = NULL;
        s->data = NULL;
        s->cap = s->pos = s->end = 0;
        return;
    }
    if (keep < (s->kind == SRC_PUSH ? s->refill : 1))
        keep = s->kind == SRC_PUSH ? s->refill : keep;
    if (n > keep || s->cap <= keep)
        return;
    if (s->pos > 0) {
        memmove(s->buf, s->buf + s->pos, n);
        s->base += s->pos;
        s->pos = 0;
        s->end = n;
    }
    uint8_t *p = realloc(s->buf, keep);
    if (p) { /* a failed shrink keeps the larger block: nothing lost */
        s->buf = p;
        s->cap = keep;
    }
    s->data = s->buf;
}

size_t wb_stream_capacity(const wb_stream *s) { return s->kind == SRC_MEM ? 0 : s->cap; }
