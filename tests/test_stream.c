/* Unit tests of the stream core: one-byte sources give the same results as
 * large ones, EOF in the middle of a record, records larger than the buffer,
 * offsets, zero-copy memory sources, the write buffer's coalescing. */
#include "check.h"
#include "wirebuf/buf.h"
#include "wirebuf/marc.h"
#include "wirebuf/pgreader.h"
#include "wirebuf/stream.h"
#include <fcntl.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    const uint8_t *data;
    size_t len, pos, max_per_read;
    int fail_at; /* fail when pos reaches this (or -1) */
} memsrc;

static ssize_t memsrc_read(void *ctx, uint8_t *buf, size_t cap, char *err, size_t errlen)
{
    memsrc *m = ctx;
    if (m->fail_at >= 0 && m->pos >= (size_t)m->fail_at) {
        snprintf(err, errlen, "injected failure");
        return -1;
    }
    size_t n = m->len - m->pos;
    if (n > cap)
        n = cap;
    if (n > m->max_per_read)
        n = m->max_per_read;
    memcpy(buf, m->data + m->pos, n);
    m->pos += n;
    return (ssize_t)n;
}

/* Build a synthetic ISO 2709 record with one data field of `payload` bytes. */
static size_t make_record(wb_buf *out, size_t payload, char fill)
{
    wb_marc_record r = {0};
    uint8_t leader[24];
    memcpy(leader, "00000nam a2200000 a 4500", 24);
    wb_buf data = {0};
    wb_buf_append(&data, "10\x1f" "a", 4);
    for (size_t i = 0; i < payload; i++)
        wb_buf_putc(&data, (uint8_t)fill);
    wb_marc_field f = {.tag = "245", .len = (uint32_t)data.len, .data = data.p};
    r.leader = leader;
    r.fields = &f;
    r.nfields = 1;
    size_t before = out->len;
    wb_marc_write_iso2709(out, &r);
    wb_buf_free(&data);
    return out->len - before;
}

/* Read all records from s, return a checksum-ish digest and count. */
static void read_all(wb_stream *s, uint64_t *count, uint64_t *digest, uint64_t *bad)
{
    wb_marc_reader *r = wb_marc_reader_new(s, WB_MARC_ISO2709, 0);
    wb_marc_record *rec;
    wb_marc_error err;
    *count = *digest = *bad = 0;
    enum wb_marc_status st;
    while ((st = wb_marc_next(r, &rec, &err)) != WB_MARC_EOF && st != WB_MARC_FATAL) {
        if (st == WB_MARC_BAD) {
            (*bad)++;
            continue;
        }
        (*count)++;
        for (size_t i = 0; i < rec->nfields; i++)
            for (size_t k = 0; k < rec->fields[i].len; k++)
                *digest = *digest * 31 + rec->fields[i].data[k];
        *digest += rec->offset;
    }
    wb_marc_reader_free(r);
}

static void test_one_byte_vs_large(void)
{
    wb_buf corpus = {0};
    for (int i = 0; i < 50; i++)
        make_record(&corpus, (size_t)(i * 37 % 500), (char)('a' + i % 26));
    make_record(&corpus, 1200000, 'z'); /* 1.2 MB: larger than any buffer */
    make_record(&corpus, 10, 'q');
    uint64_t c1, d1, b1, c2, d2, b2, c3, d3, b3;
    memsrc m1 = {corpus.p, corpus.len, 0, 1, -1};
    wb_stream *s1 = wb_stream_from_fn(memsrc_read, &m1, 1);
    read_all(s1, &c1, &d1, &b1);
    memsrc m2 = {corpus.p, corpus.len, 0, 1 << 20, -1};
    wb_stream *s2 = wb_stream_from_fn(memsrc_read, &m2, 1 << 20);
    read_all(s2, &c2, &d2, &b2);
    wb_stream *s3 = wb_stream_from_mem(corpus.p, corpus.len);
    read_all(s3, &c3, &d3, &b3);
    CHECK(c1 == 52 && c2 == 52 && c3 == 52);
    CHECK(d1 == d2 && d2 == d3);
    CHECK(b1 == 0 && b2 == 0 && b3 == 0);
    CHECK(wb_stream_reads(s1) >= corpus.len); /* really one byte per read */
    CHECK(wb_stream_reads(s3) == 0);          /* memory: zero copy, no reads */
    wb_stream_close(s1);
    wb_stream_close(s2);
    wb_stream_close(s3);
    wb_buf_free(&corpus);
}

static void test_eof_mid_record(void)
{
    wb_buf corpus = {0};
    make_record(&corpus, 100, 'a');
    size_t second = corpus.len;
    make_record(&corpus, 100, 'b');
    for (size_t refill = 1; refill <= 4096; refill *= 64) {
        memsrc m = {corpus.p, corpus.len - 40, 0, refill, -1}; /* cut the second record */
        wb_stream *s = wb_stream_from_fn(memsrc_read, &m, refill);
        wb_marc_reader *r = wb_marc_reader_new(s, WB_MARC_ISO2709, 0);
        wb_marc_record *rec;
        wb_marc_error err;
        CHECK(wb_marc_next(r, &rec, &err) == WB_MARC_OK);
        CHECK(wb_marc_next(r, &rec, &err) == WB_MARC_BAD);
        CHECK(err.offset == second);
        CHECK(strstr(err.msg, "truncated") != NULL);
        CHECK(wb_marc_next(r, &rec, &err) == WB_MARC_EOF);
        CHECK(wb_marc_next(r, &rec, &err) == WB_MARC_EOF);
        wb_marc_reader_free(r);
        wb_stream_close(s);
    }
    wb_buf_free(&corpus);
}

static void test_need_and_offsets(void)
{
    uint8_t data[10000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7);
    memsrc m = {data, sizeof data, 0, 3, -1};
    wb_stream *s = wb_stream_from_fn(memsrc_read, &m, 3);
    size_t avail;
    const uint8_t *p = wb_stream_need(s, 100, &avail);
    CHECK(p && avail >= 100 && memcmp(p, data, 100) == 0);
    wb_stream_consume(s, 60);
    CHECK(wb_stream_offset(s) == 60);
    p = wb_stream_need(s, 5000, &avail); /* forces growth past the refill size */
    CHECK(p && memcmp(p, data + 60, 5000) == 0);
    CHECK(wb_stream_need(s, 9000, &avail) != NULL);
    wb_stream_consume(s, 9000);
    CHECK(wb_stream_offset(s) == 9060);
    p = wb_stream_need(s, 2000, &avail); /* only 940 left */
    CHECK(p == NULL && avail == 940);
    CHECK(wb_stream_error(s) == NULL);
    CHECK(memcmp(wb_stream_peek(s, NULL), data + 9060, 940) == 0);
    wb_stream_consume(s, 940);
    CHECK(wb_stream_eof(s));
    wb_stream_close(s);

    memsrc f = {data, sizeof data, 0, 100, 500};
    s = wb_stream_from_fn(memsrc_read, &f, 100);
    p = wb_stream_need(s, 1000, &avail);
    CHECK(p == NULL && wb_stream_error(s) && strstr(wb_stream_error(s), "injected"));
    wb_stream_close(s);
}

static void test_fd_source_and_pipe(void)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    wb_buf corpus = {0};
    for (int i = 0; i < 20; i++)
        make_record(&corpus, 200, 'p');
    CHECK(write(fds[1], corpus.p, corpus.len) == (ssize_t)corpus.len);
    close(fds[1]);
    wb_stream *s = wb_stream_from_fd(fds[0], 1); /* 1 = one byte per read */
    uint64_t c, d, b;
    read_all(s, &c, &d, &b);
    CHECK(c == 20 && b == 0);
    CHECK(wb_stream_reads(s) == corpus.len + 1);
    wb_stream_close(s);
    close(fds[0]);

    /* 0 means the default (256 KiB reads), as everywhere else */
    CHECK(pipe(fds) == 0);
    CHECK(write(fds[1], corpus.p, corpus.len) == (ssize_t)corpus.len);
    close(fds[1]);
    s = wb_stream_from_fd(fds[0], 0);
    read_all(s, &c, &d, &b);
    CHECK(c == 20 && b == 0);
    CHECK(wb_stream_reads(s) <= 3);
    wb_stream_close(s);
    close(fds[0]);

    /* a non-blocking fd with nothing to read is "would block", not an error */
    CHECK(pipe(fds) == 0);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    s = wb_stream_from_fd(fds[0], 0);
    size_t avail = 99;
    CHECK(wb_stream_need(s, 4, &avail) == NULL && avail == 0);
    CHECK(wb_stream_error(s) == NULL && !wb_stream_eof(s));
    CHECK(wb_stream_fill(s) == WB_STREAM_AGAIN);
    CHECK(write(fds[1], "abcdef", 6) == 6);
    const uint8_t *p = wb_stream_need(s, 4, &avail);
    CHECK(p && avail == 6 && memcmp(p, "abcd", 4) == 0);
    wb_stream_consume(s, 6);
    close(fds[1]);
    CHECK(wb_stream_need(s, 1, NULL) == NULL && wb_stream_eof(s) && !wb_stream_error(s));
    wb_stream_close(s);
    close(fds[0]);
    wb_buf_free(&corpus);
}

/* the push API: reserve / commit / set_eof, growth and shrinking */
static void test_push(void)
{
    wb_stream *s = wb_stream_new_push(0);
    CHECK(wb_stream_capacity(s) == 0); /* nothing allocated until needed */
    size_t room, avail;
    CHECK(wb_stream_need(s, 1, &avail) == NULL && avail == 0 && !wb_stream_error(s) && !wb_stream_eof(s));
    CHECK(wb_stream_fill(s) == WB_STREAM_AGAIN);
    uint8_t *w = wb_stream_reserve(s, 0, &room);
    CHECK(w && room == WB_STREAM_DEFAULT_PUSH);
    memcpy(w, "hello", 5);
    wb_stream_commit(s, 5);
    const uint8_t *p = wb_stream_need(s, 5, &avail);
    CHECK(p && avail == 5 && memcmp(p, "hello", 5) == 0);
    CHECK(wb_stream_need(s, 6, &avail) == NULL && avail == 5 && !wb_stream_error(s)); /* would block */
    wb_stream_consume(s, 2);
    CHECK(wb_stream_offset(s) == 2);
    /* a large message: grows to hold it, keeps unconsumed bytes */
    w = wb_stream_reserve(s, 1 << 20, &room);
    CHECK(w && room >= (1u << 20));
    memset(w, 'x', 1 << 20);
    wb_stream_commit(s, 1 << 20);
    p = wb_stream_need(s, 3 + (1 << 20), &avail);
    CHECK(p && memcmp(p, "llo", 3) == 0 && p[3 + (1 << 20) - 1] == 'x');
    CHECK(wb_stream_capacity(s) >= (1u << 20));
    wb_stream_consume(s, 3 + (1 << 20) - 10); /* 10 bytes left */
    wb_stream_shrink(s, 0);                   /* back to the initial size */
    CHECK(wb_stream_capacity(s) == WB_STREAM_DEFAULT_PUSH);
    p = wb_stream_need(s, 10, &avail);
    CHECK(p && avail == 10 && p[9] == 'x');
    CHECK(wb_stream_offset(s) == 2 + 3 + (1 << 20) - 10);
    wb_stream_consume(s, 10);
    wb_stream_shrink(s, 0); /* empty: the buffer is freed */
    CHECK(wb_stream_capacity(s) == 0);
    w = wb_stream_reserve(s, 0, &room);
    memcpy(w, "ab", 2);
    wb_stream_commit(s, 2);
    wb_stream_set_eof(s);
    CHECK(wb_stream_ended(s) && !wb_stream_eof(s));
    CHECK(wb_stream_need(s, 3, &avail) == NULL && avail == 2);
    wb_stream_consume(s, 2);
    CHECK(wb_stream_eof(s));
    wb_stream_close(s);
}

/* the protocol message reader over a push stream, byte by byte */
static void test_pg_reader(void)
{
    wb_buf b = {0};
    const char *params[] = {"user", "alice", "database", "db", NULL};
    wb_pg_put_startup(&b, params);
    wb_pg_put_query(&b, "SELECT 1");
    wb_pg_put_sync(&b);
    wb_stream *s = wb_stream_new_push(16);
    wb_pg_reader r;
    wb_pg_reader_init(&r, s, WB_PG_FROM_FRONTEND);
    r.startup = 1;
    int got[3] = {0}, n = 0;
    for (size_t i = 0; i <= b.len; i++) {
        wb_pg_msg m;
        int x;
        while ((x = wb_pg_reader_next(&r, &m)) == WB_PG_READ_MSG) {
            CHECK(n < 3);
            if (n < 3)
                got[n] = m.type;
            if (n == 0) {
                wb_pg_startup st;
                CHECK(wb_pg_parse_startup(&m, &st, NULL, 0) == 0 && st.n == 2);
                r.startup = 0;
            }
            if (n == 1)
                CHECK(m.len == 9 && memcmp(m.body, "SELECT 1", 9) == 0);
            n++;
        }
        CHECK(x == (i == b.len ? WB_PG_READ_EOF : WB_PG_READ_AGAIN));
        if (i == b.len)
            break;
        wb_pg_reader_consume(&r);
        size_t room;
        uint8_t *w = wb_stream_reserve(s, r.need, &room);
        *w = b.p[i];
        wb_stream_commit(s, 1);
        if (i + 1 == b.len)
            wb_stream_set_eof(s);
    }
    CHECK(n == 3 && got[0] == 0 && got[1] == 'Q' && got[2] == 'S');
    wb_stream_close(s);

    /* the length word is checked against the type's cap before any growth */
    uint8_t huge[5] = {'S', 0x7f, 0, 0, 0}; /* Sync claiming 2 GiB */
    s = wb_stream_from_mem(huge, 5);
    wb_pg_reader_init(&r, s, WB_PG_FROM_FRONTEND);
    wb_pg_msg m;
    CHECK(wb_pg_reader_next(&r, &m) == WB_PG_READ_ERROR && strstr(r.err, "Sync") && strstr(r.err, "byte 0"));
    wb_stream_close(s);
    uint8_t bigq[5] = {'Q', 0x3f, 0xff, 0xff, 0xff}; /* 1 GiB - 1: allowed for Query, then waits */
    wb_stream *ps = wb_stream_new_push(0);
    size_t room;
    memcpy(wb_stream_reserve(ps, 5, &room), bigq, 5);
    wb_stream_commit(ps, 5);
    wb_pg_reader_init(&r, ps, WB_PG_FROM_FRONTEND);
    CHECK(wb_pg_reader_next(&r, &m) == WB_PG_READ_AGAIN && r.need == 0x3fffffffu + 1);
    CHECK(wb_stream_capacity(ps) < 65536); /* nothing allocated for it yet */
    wb_stream_set_eof(ps);
    CHECK(wb_pg_reader_next(&r, &m) == WB_PG_READ_ERROR && strstr(r.err, "end of stream inside"));
    wb_stream_close(ps);
    uint8_t bigs[4] = {0, 0, 0x27, 0x11}; /* startup packet of 10,001 bytes */
    s = wb_stream_from_mem(bigs, 4);
    wb_pg_reader_init(&r, s, WB_PG_FROM_FRONTEND);
    r.startup = 1;
    CHECK(wb_pg_reader_next(&r, &m) == WB_PG_READ_ERROR && strstr(r.err, "startup packet"));
    wb_stream_close(s);
    CHECK(wb_pg_max_len('D', WB_PG_FROM_FRONTEND) == WB_PG_SMALL_MESSAGE_LIMIT);
    CHECK(wb_pg_max_len('D', WB_PG_FROM_BACKEND) == WB_PG_LARGE_MESSAGE_LIMIT);
    wb_buf_free(&b);
}

typedef struct {
    int calls;
    size_t bytes;
} sinkstat;

static int count_sink(void *ctx, const uint8_t *data, size_t n, char *err, size_t errlen)
{
    (void)data;
    (void)err;
    (void)errlen;
    sinkstat *st = ctx;
    st->calls++;
    st->bytes += n;
    return 0;
}

static void test_wbuf_coalesces(void)
{
    sinkstat st = {0};
    wb_wbuf w;
    wb_wbuf_init_sink(&w, count_sink, &st, 0);
    CHECK(w.threshold == 64 * 1024);
    for (int i = 0; i < 100000; i++) {
        wb_buf_append(&w.buf, "0123456789", 10);
        CHECK(wb_wbuf_maybe_flush(&w) == 0);
    }
    CHECK(wb_wbuf_flush(&w) == 0);
    CHECK(st.bytes == 1000000);
    CHECK(st.calls <= 16); /* 1 MB in ~64 KiB writes, not 100,000 */
    wb_wbuf_free(&w);
}

int main(void)
{
    test_one_byte_vs_large();
    test_eof_mid_record();
    test_need_and_offsets();
    test_fd_source_and_pipe();
    test_wbuf_coalesces();
    test_push();
    test_pg_reader();
    return check_report("test_stream");
}
