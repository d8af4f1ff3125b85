/* libFuzzer target: the pooling proxy's relay (src/proxy/relay.h) driven by
 * a script of client and server messages. The input picks, byte by byte,
 * who speaks and what: frontend messages built from a small vocabulary of
 * statement names and SQL (PREPARE/EXECUTE/DEALLOCATE/DISCARD/SET/RESET/
 * LISTEN/BEGIN/COMMIT, COPY, named and unnamed statements) or raw bytes,
 * and backend answers of every type with tags and SQLSTATEs that steer
 * the bookkeeping (42P05, FATAL, "DISCARD ALL", "COMMIT"), in any order.
 * Server connections are attached on NEED_SERVER (two, in turn, with a
 * tiny LRU bound), detached on RELEASE, closed on BROKEN, as the plumbing
 * does. Must never crash, leak, over-read or hang; the relay's output must
 * always frame as whole messages; the statement maps must stay consistent
 * (white box: relay.c is included). */
#include "../src/proxy/relay.c"

static const char *const names[] = {"", "s1", "s2", "P0_1", "wb_0000000000000000"};
static const char *const sqls[] = {
    "SELECT 1",
    "SELECT $1::int",
    "PREPARE s1 AS SELECT 1",
    "PREPARE s2 (int) AS SELECT $1",
    "EXECUTE s1",
    "EXECUTE s2(1)",
    "DEALLOCATE s1",
    "DEALLOCATE ALL",
    "DISCARD ALL",
    "SET search_path TO a, b",
    "SET application_name = 'x'",
    "RESET search_path",
    "RESET ALL",
    "LISTEN ch",
    "BEGIN",
    "COMMIT",
    "COPY t FROM STDIN",
    "PREPARE s1 AS SELECT 1; SELECT 2",
    "SELECT 1; SET work_mem = '1MB'",
};
static const char *const tags[] = {"SELECT 1", "DISCARD ALL", "COMMIT", "ROLLBACK", "SET", "PREPARE", "BEGIN"};
static const char *const states[] = {"42P05", "26000", "42601", "57P01", "22012"};

typedef struct in {
    const uint8_t *p;
    size_t n, i;
} in;

static unsigned take(in *s)
{
    return s->i < s->n ? s->p[s->i++] : 0;
}

static void client_msg(in *s, wb_buf *b)
{
    unsigned op = take(s) % 16;
    const char *nm = names[take(s) % (sizeof names / sizeof *names)];
    const char *q = sqls[take(s) % (sizeof sqls / sizeof *sqls)];
    const uint8_t *v[1] = {(const uint8_t *)"1"};
    int32_t l[1] = {1};
    uint32_t int4 = 23;
    switch (op) {
    case 0:
    case 1:
        wb_pg_put_query(b, q);
        break;
    case 2:
        wb_pg_put_parse(b, nm, q, (uint16_t)(take(s) & 1), &int4);
        break;
    case 3:
        wb_pg_put_bind(b, take(s) & 1 ? "p" : "", nm, 0, NULL, 1, v, l, 0, NULL);
        break;
    case 4:
        wb_pg_put_describe(b, take(s) & 1 ? 'S' : 'P', nm);
        break;
    case 5:
        wb_pg_put_execute(b, take(s) & 1 ? "p" : "", (int32_t)(take(s) & 3));
        break;
    case 6:
        wb_pg_put_close(b, take(s) & 1 ? 'S' : 'P', nm);
        break;
    case 7:
    case 8:
        wb_pg_put_sync(b);
        break;
    case 9:
        wb_pg_put_flush(b);
        break;
    case 10:
        wb_pg_put_copy_data(b, "1\n", 2);
        break;
    case 11:
        if (take(s) & 1)
            wb_pg_put_copy_done(b);
        else
            wb_pg_put_copy_fail(b, "no");
        break;
    case 12:
        wb_pg_put_function_call(b, 177, 0, NULL, 1, v, l, 0);
        break;
    case 13:
        wb_pg_put_terminate(b);
        break;
    default: { /* raw: type and body from the input */
        uint8_t t = (uint8_t)take(s);
        size_t len = take(s) % 24;
        uint8_t hdr[5] = {t, 0, 0, 0, (uint8_t)(len + 4)};
        wb_buf_append(b, hdr, 5);
        for (size_t i = 0; i < len; i++)
            wb_buf_putc(b, (uint8_t)take(s));
    }
    }
}

static void server_msg(in *s, wb_buf *b)
{
    unsigned op = take(s) % 20;
    static const char types[] = "123tTnDIsGHdcVNA";
    wb_pg_fields f;
    memset(&f, 0, sizeof f);
    switch (op) {
    case 0:
    case 1:
    case 2: {
        static const char st[] = "ITE";
        wb_pg_put_ready_for_query(b, st[take(s) % 3]);
        break;
    }
    case 3:
    case 4:
        wb_pg_put_command_complete(b, tags[take(s) % (sizeof tags / sizeof *tags)]);
        break;
    case 5:
    case 6:
        f.severity = f.severity_nonlocal = take(s) % 5 ? "ERROR" : "FATAL";
        f.sqlstate = states[take(s) % (sizeof states / sizeof *states)];
        f.message = "boom";
        wb_pg_put_fields(b, 'E', &f);
        break;
    case 7:
        wb_pg_put_parameter_status(b, take(s) & 1 ? "application_name" : "TimeZone", take(s) & 1 ? "x" : "y");
        break;
    case 8: {
        size_t len = take(s) % 8;
        uint8_t hdr[5] = {(uint8_t)take(s), 0, 0, 0, (uint8_t)(len + 4)};
        wb_buf_append(b, hdr, 5);
        for (size_t i = 0; i < len; i++)
            wb_buf_putc(b, (uint8_t)take(s));
        break;
    }
    default:
        wb_pg_put_empty(b, (uint8_t)types[take(s) % (sizeof types - 1)]);
    }
}

/* The output is whole messages. */
static void check_frames(const wb_buf *b)
{
    for (size_t pos = 0; pos < b->len;) {
        wb_pg_msg m;
        size_t need;
        if (wb_pg_frame(b->p + pos, b->len - pos, 0, &m, &need, NULL, 0) != 1)
            abort();
        pos += 5 + m.len;
    }
}

static void check_maps(const wb_relay_client *c, const wb_relay_server *s)
{
    size_t n = 0;
    for (size_t i = 0; i < c->tabcap; i++)
        if (c->tab[i]) {
            n++;
            if (!c->tab[i]->mapped || c->tab[i]->refs < 1 || cmap_get(c, c->tab[i]->name) != c->tab[i])
                abort();
        }
    if (n != c->count)
        abort();
    for (int k = 0; s && k < 1; k++) {
        size_t m = 0, l = 0;
        for (size_t i = 0; i < s->tabcap; i++)
            if (s->tab[i]) {
                m++;
                if (sset_get(s, s->tab[i]->key->hash) != s->tab[i])
                    abort();
            }
        for (const sstmt *e = s->lru_head; e; e = e->next)
            l++;
        if (m != s->count || l != s->count || s->count > s->max_prepared)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in s = {data, size, 0};
    int mode = (int)(take(&s) % 3);
    const char *pn[] = {"application_name", "options"};
    const char *pv[] = {"fuzz", "-c search_path=x --work-mem=1MB"};
    wb_relay_client *c = wb_relay_client_new(mode, pn, pv, 2);
    wb_relay_server *srv[2] = {wb_relay_server_new(2), wb_relay_server_new(3)};
    if (!c || !srv[0] || !srv[1])
        abort();
    wb_relay_server_param(srv[0], "application_name", "");
    wb_relay_server_param(srv[1], "TimeZone", "UTC");
    wb_buf ts = {0}, tc = {0}, m = {0};
    int held = -1, next = 0, steps = 0;
    while (s.i < s.n && steps++ < 2000) {
        wb_buf_clear(&m);
        int from_client = take(&s) & 1;
        if (from_client || held < 0) {
            client_msg(&s, &m);
            wb_pg_msg g;
            size_t need;
            if (wb_pg_frame(m.p, m.len, 0, &g, &need, NULL, 0) != 1)
                continue;
            int r = wb_relay_from_client(c, g.type, g.body, g.len, &ts, &tc);
            if (r == WB_RELAY_NEED_SERVER) {
                if (held >= 0 || ts.len)
                    abort(); /* a server only when none is held, nothing written */
                held = next;
                next ^= 1;
                if (!wb_relay_server_clean(srv[held])) { /* the plumbing closed it */
                    wb_relay_server_free(srv[held]);
                    srv[held] = wb_relay_server_new(held ? 3 : 2);
                }
                if (wb_relay_attach(c, srv[held], &ts) != 0)
                    abort();
                r = wb_relay_from_client(c, g.type, g.body, g.len, &ts, &tc);
                if (r == WB_RELAY_NEED_SERVER)
                    abort();
            }
            if (held < 0 && ts.len)
                abort(); /* wrote to a server it does not have */
            if (r == WB_RELAY_CLOSE || r == WB_RELAY_NOMEM) {
                wb_relay_server *x = wb_relay_detach(c);
                if (x != (held >= 0 ? srv[held] : NULL))
                    abort();
                held = -1;
                wb_relay_client_free(c);
                c = wb_relay_client_new(mode, pn, pv, 2);
            }
        } else {
            server_msg(&s, &m);
            wb_pg_msg g;
            size_t need;
            if (wb_pg_frame(m.p, m.len, 0, &g, &need, NULL, 0) != 1)
                continue;
            int r = wb_relay_from_server(c, g.type, g.body, g.len, &tc, &ts);
            if (r == WB_RELAY_S_RELEASE) {
                if (wb_relay_detach(c) != srv[held] || !wb_relay_server_clean(srv[held]))
                    abort();
                held = -1;
            } else if (r != WB_RELAY_S_OK) {
                wb_relay_detach(c);
                wb_relay_server_lost(c, "08006", "lost", &tc);
                /* the plumbing closes both: start both afresh */
                wb_relay_server_free(srv[held]);
                srv[held] = wb_relay_server_new(2);
                held = -1;
                wb_relay_client_free(c);
                c = wb_relay_client_new(mode, pn, pv, 2);
            }
        }
        check_frames(&ts);
        check_frames(&tc);
        check_maps(c, held >= 0 ? srv[held] : NULL);
        wb_buf_clear(&ts);
        wb_buf_clear(&tc);
    }
    wb_relay_detach(c);
    wb_relay_client_free(c);
    wb_relay_server_free(srv[0]);
    wb_relay_server_free(srv[1]);
    wb_buf_free(&ts);
    wb_buf_free(&tc);
    wb_buf_free(&m);
    return 0;
}
