/* Unit tests of the stream core: one-byte sources give the same results as
 * large ones, EOF in the middle of a record, records larger than the buffer,
 * offsets, zero-copy memory sources, the write buffer's coalescing. */
#include "check.h"
#include "wirebuf/buf.h"
#include "wirebuf/marc.h"
#include "wirebuf/stream.h"

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
    wb_stream *s = wb_stream_from_fd(fds[0], 0); /* 0 = one byte per read */
    uint64_t c, d, b;
    read_all(s, &c, &d, &b);
    CHECK(c == 20 && b == 0);
    CHECK(wb_stream_reads(s) == corpus.len + 1);
    wb_stream_close(s);
    close(fds[0]);
    wb_buf_free(&corpus);
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
    return check_report("test_stream");
}
