/* bench/bench_relay.c - what the pooling proxy's relay (src/proxy/relay.c)
 * costs per transaction on its own, without sockets: pgbench -S's simple
 * Query and pgbench -M prepared's Bind/Execute/Sync, each through attach,
 * the request, the server's answer and the release, on one server
 * connection; and the heap an idle client keeps. Allocations are counted
 * by wrapping malloc/calloc/realloc (glibc's __libc_* entry points).
 *
 *   build/bench_relay [transactions, default 2000000]
 *
 * A cost breakdown for developers, not a comparison: the proxy's figures
 * next to PgBouncer's come from bench/bench_proxy.sh (make bench). */
#include "../src/proxy/relay.c"
#include <malloc.h>
#include <time.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static long nalloc;
void *malloc(size_t n)
{
    nalloc++;
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b)
{
    nalloc++;
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n)
{
    nalloc++;
    return __libc_realloc(p, n);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Feed the messages of m; NEED_SERVER attaches s. */
static void from_client(wb_relay_client *c, wb_relay_server *s, const wb_buf *m, wb_buf *ts, wb_buf *tc)
{
    for (size_t pos = 0; pos < m->len;) {
        wb_pg_msg g;
        size_t need;
        wb_pg_frame(m->p + pos, m->len - pos, 0, &g, &need, NULL, 0);
        int rc = wb_relay_from_client(c, g.type, g.body, g.len, ts, tc);
        if (rc == WB_RELAY_NEED_SERVER) {
            if (wb_relay_attach(c, s, ts) != 0)
                abort();
            rc = wb_relay_from_client(c, g.type, g.body, g.len, ts, tc);
        }
        if (rc != WB_RELAY_OK)
            abort();
        pos += 5 + g.len;
    }
}

static void from_server(wb_relay_client *c, const wb_buf *m, wb_buf *ts, wb_buf *tc)
{
    for (size_t pos = 0; pos < m->len;) {
        wb_pg_msg g;
        size_t need;
        wb_pg_frame(m->p + pos, m->len - pos, 0, &g, &need, NULL, 0);
        int rc = wb_relay_from_server(c, g.type, g.body, g.len, tc, ts);
        if (rc == WB_RELAY_S_RELEASE)
            wb_relay_detach(c);
        else if (rc != WB_RELAY_S_OK)
            abort();
        pos += 5 + g.len;
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000000;
    if (n < 1)
        n = 1;
    /* what libpq sends for pgbench */
    const char *names[] = {"application_name", "client_encoding"}, *values[] = {"pgbench", "UTF8"};
    wb_relay_client *c = wb_relay_client_new(WB_POOL_TRANSACTION, names, values, 2);
    wb_relay_server *s = wb_relay_server_new(0);
    wb_relay_server_param(s, "application_name", "pgbench");
    wb_relay_server_param(s, "client_encoding", "UTF8");
    wb_relay_server_param(s, "TimeZone", "UTC");
    wb_relay_server_param(s, "DateStyle", "ISO, MDY");
    wb_buf q = {0}, qa = {0}, parse = {0}, pa = {0}, bes = {0}, besa = {0}, ts = {0}, tc = {0};
    wb_pg_put_query(&q, "SELECT abalance FROM pgbench_accounts WHERE aid = 48213;");
    wb_pg_column col = {.name = "abalance", .type_oid = 23, .typlen = 4, .typmod = -1};
    const uint8_t *v[1] = {(const uint8_t *)"0"};
    int32_t l[1] = {1};
    wb_pg_put_row_description(&qa, 1, &col);
    wb_pg_put_datarow(&qa, 1, v, l);
    wb_pg_put_command_complete(&qa, "SELECT 1");
    wb_pg_put_ready_for_query(&qa, 'I');
    uint32_t int4 = 23;
    wb_pg_put_parse(&parse, "P0_1", "SELECT abalance FROM pgbench_accounts WHERE aid = $1;", 1, &int4);
    wb_pg_put_sync(&parse);
    wb_pg_put_empty(&pa, '1');
    wb_pg_put_ready_for_query(&pa, 'I');
    const uint8_t *bv[1] = {(const uint8_t *)"48213"};
    int32_t bl[1] = {5};
    wb_pg_put_bind(&bes, "", "P0_1", 0, NULL, 1, bv, bl, 0, NULL);
    wb_pg_put_execute(&bes, "", 0);
    wb_pg_put_sync(&bes);
    wb_pg_put_empty(&besa, '2');
    wb_pg_put_datarow(&besa, 1, v, l);
    wb_pg_put_command_complete(&besa, "SELECT 1");
    wb_pg_put_ready_for_query(&besa, 'I');
    from_client(c, s, &parse, &ts, &tc);
    from_server(c, &pa, &ts, &tc);
    printf("relay alone, one server connection, %ld transactions each:\n", n);
    for (int mode = 0; mode < 2; mode++) {
        const wb_buf *req = mode ? &bes : &q, *ans = mode ? &besa : &qa;
        for (int i = 0; i < 1000; i++) { /* warm */
            from_client(c, s, req, &ts, &tc);
            from_server(c, ans, &ts, &tc);
            wb_buf_clear(&ts);
            wb_buf_clear(&tc);
        }
        long a0 = nalloc;
        double t0 = now();
        for (long i = 0; i < n; i++) {
            from_client(c, s, req, &ts, &tc);
            from_server(c, ans, &ts, &tc);
            wb_buf_clear(&ts);
            wb_buf_clear(&tc);
        }
        double t = now() - t0;
        printf("  %-38s %7.0f ns per transaction, %ld allocations\n",
               mode ? "pgbench -M prepared (Bind/Execute/Sync)" : "pgbench -S simple Query", t / (double)n * 1e9,
               nalloc - a0);
    }
    wb_relay_detach(c);
    wb_relay_client_free(c);

    /* idle clients after one transaction each */
    enum { IDLE = 10000 };
    static wb_relay_client *cs[IDLE];
    struct mallinfo2 m0 = mallinfo2();
    for (int i = 0; i < IDLE; i++) {
        cs[i] = wb_relay_client_new(WB_POOL_TRANSACTION, names, values, 2);
        from_client(cs[i], s, &q, &ts, &tc);
        from_server(cs[i], &qa, &ts, &tc);
        wb_buf_clear(&ts);
        wb_buf_clear(&tc);
    }
    struct mallinfo2 m1 = mallinfo2();
    printf("  idle client after a transaction:        %7zu bytes of heap each (%d clients)\n",
           (m1.uordblks - m0.uordblks) / IDLE, IDLE);
    for (int i = 0; i < IDLE; i++)
        wb_relay_client_free(cs[i]);
    wb_relay_server_free(s);
    wb_buf *bs[] = {&q, &qa, &parse, &pa, &bes, &besa, &ts, &tc};
    for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++)
        wb_buf_free(bs[i]);
    return 0;
}
