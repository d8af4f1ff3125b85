/* wirebuf's PostgreSQL client vs libpq, same process, same server, same run.
 *
 *   bench_pg CONNINFO fetch ROWS ITERS      both clients, alternating rounds
 *   bench_pg CONNINFO fetch1 wirebuf|libpq ROWS   one fetch (for strace -c)
 *   bench_pg CONNINFO many ROWS ITERS       executemany vs libpq pipeline mode
 *   bench_pg CONNINFO copy FILE             COPY FROM STDIN of FILE (wirebuf)
 *
 * many: wirebuf's executemany (one Parse, N Bind/Execute, one Sync) vs libpq
 * pipeline mode with PQprepare + N PQsendQueryPrepared + PQpipelineSync.
 *
 * fetch: SELECT * FROM bench_rows WHERE id <= ROWS. wirebuf runs a prepared
 * statement with binary results and decodes every value into C types
 * (int4, text view, float8, timestamptz µs, bool, int8, varchar view);
 * libpq runs PQexec and reads every cell with PQgetvalue + PQgetlength (text
 * format, nothing parsed: the cheapest libpq path). Reports the median wall
 * time per fetch and the client CPU time (getrusage user+sys) per fetch. */
#include "wirebuf/pg.h"
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}
static double cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 +
           ru.ru_stime.tv_usec / 1e3;
}
static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench_pg: %s: %s\n", what, msg);
    exit(1);
}

static volatile int64_t sink;

static int64_t wb_fetch(wb_pg_conn *c, const wb_pg_stmt *st, int rows)
{
    char n[16];
    snprintf(n, sizeof n, "%d", rows);
    wb_pg_param p = {n, -1, 0, 0};
    wb_pg_error e;
    if (wb_pg_send_prepared(c, st, 1, &p, 0, &e))
        die("wirebuf send", e.message);
    wb_pg_event ev;
    int64_t got = 0, acc = 0;
    int r;
    while ((r = wb_pg_step(c, &ev, &e)) == 1) {
        if (ev.type != WB_PG_EV_ROW)
            continue;
        for (uint16_t i = 0; i < ev.ncols; i++) {
            wb_pg_value v;
            if (wb_pg_decode(ev.cols[i].type_oid, ev.vals[i], ev.lens[i], &v, NULL, 0))
                die("decode", "bad value");
            acc += v.kind == WB_PG_K_FLOAT ? (int64_t)v.f : v.kind == WB_PG_K_TEXT ? (int64_t)v.len : v.i;
        }
        got++;
    }
    if (r < 0)
        die("wirebuf step", e.message);
    sink += acc;
    return got;
}

static int64_t pq_fetch(PGconn *c, int rows)
{
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT * FROM bench_rows WHERE id <= %d", rows);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        die("libpq", PQerrorMessage(c));
    int n = PQntuples(r), m = PQnfields(r);
    int64_t acc = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < m; j++) {
            const char *v = PQgetvalue(r, i, j);
            acc += PQgetlength(r, i, j) + (v[0] & 1);
        }
    PQclear(r);
    sink += acc;
    return n;
}

static wb_pg_conn *wb_open(const char *ci)
{
    wb_pg_error e;
    wb_pg_conn *c = wb_pg_connect(ci, NULL, &e);
    if (!c)
        die("wirebuf connect", e.message);
    return c;
}
static PGconn *pq_open(const char *ci)
{
    PGconn *c = PQconnectdb(ci);
    if (PQstatus(c) != CONNECTION_OK)
        die("libpq connect", PQerrorMessage(c));
    return c;
}
static wb_pg_stmt *wb_stmt(wb_pg_conn *c)
{
    wb_pg_error e;
    wb_pg_stmt *st = wb_pg_prepare(c, "fetch", "SELECT * FROM bench_rows WHERE id <= $1::int4", 0, NULL, &e);
    if (!st)
        die("prepare", e.message);
    return st;
}

static void fetch(const char *ci, int rows, int iters)
{
    wb_pg_conn *w = wb_open(ci);
    PGconn *q = pq_open(ci);
    wb_pg_stmt *st = wb_stmt(w);
    double *tw = calloc((size_t)iters, sizeof *tw), *tq = calloc((size_t)iters, sizeof *tq);
    double cw = 0, cq = 0;
    /* warm up both (server caches, allocations) */
    wb_fetch(w, st, rows);
    pq_fetch(q, rows);
    for (int i = 0; i < iters; i++) {
        double c0 = cpu_ms(), t0 = now_ms();
        if (wb_fetch(w, st, rows) != rows)
            die("wirebuf", "wrong row count");
        tw[i] = now_ms() - t0;
        cw += cpu_ms() - c0;
        c0 = cpu_ms();
        t0 = now_ms();
        if (pq_fetch(q, rows) != rows)
            die("libpq", "wrong row count");
        tq[i] = now_ms() - t0;
        cq += cpu_ms() - c0;
    }
    qsort(tw, (size_t)iters, sizeof *tw, cmp_d);
    qsort(tq, (size_t)iters, sizeof *tq, cmp_d);
    double mw = tw[iters / 2], mq = tq[iters / 2];
    printf("fetch %d rows: wirebuf %.3f ms wall %.3f ms cpu | libpq %.3f ms wall %.3f ms cpu | wall %.2fx cpu %.2fx\n",
           rows, mw, cw / iters, mq, cq / iters, mw / mq, (cw / iters) / (cq / iters));
    wb_pg_stmt_free(st);
    wb_pg_finish(w);
    PQfinish(q);
    free(tw);
    free(tq);
}

typedef struct rowbuf {
    char id[16], name[32], score[32];
} rowbuf;
static int fill(void *ctx, int64_t row, wb_pg_param *p)
{
    rowbuf *b = ctx;
    snprintf(b->id, sizeof b->id, "%lld", (long long)row);
    snprintf(b->name, sizeof b->name, "name %lld", (long long)row);
    snprintf(b->score, sizeof b->score, "%lld.25", (long long)(row % 1000));
    p[0] = (wb_pg_param){b->id, -1, 0, 0};
    p[1] = (wb_pg_param){b->name, -1, 0, 0};
    p[2] = (wb_pg_param){b->score, -1, 0, 0};
    return 0;
}

static void many(const char *ci, int rows, int iters)
{
    wb_pg_conn *w = wb_open(ci);
    PGconn *q = pq_open(ci);
    const char *ins = "INSERT INTO bench_many VALUES ($1::int4, $2::text, $3::float8)";
    double *tw = calloc((size_t)iters, sizeof *tw), *tq = calloc((size_t)iters, sizeof *tq);
    double cw = 0, cq = 0;
    wb_pg_error e;
    rowbuf b;
    for (int i = 0; i < iters; i++) {
        if (wb_pg_command(w, "TRUNCATE bench_many", &e))
            die("truncate", e.message);
        double c0 = cpu_ms(), t0 = now_ms();
        int64_t aff = 0;
        if (wb_pg_executemany(w, ins, 3, NULL, rows, fill, &b, &aff, &e) || aff != rows)
            die("executemany", e.message);
        tw[i] = now_ms() - t0;
        cw += cpu_ms() - c0;
        if (wb_pg_command(w, "TRUNCATE bench_many", &e))
            die("truncate", e.message);
        /* libpq pipeline mode: PQsendQueryParams per row, one PQpipelineSync */
        c0 = cpu_ms();
        t0 = now_ms();
        /* the fair peer: a prepared statement, so the server parses once */
        PGresult *pr = PQprepare(q, "ins", ins, 3, NULL);
        if (PQresultStatus(pr) != PGRES_COMMAND_OK)
            die("libpq prepare", PQerrorMessage(q));
        PQclear(pr);
        if (!PQenterPipelineMode(q))
            die("libpq pipeline", PQerrorMessage(q));
        PQsetnonblocking(q, 1);
        int64_t sent = 0, done = 0;
        int synced = 0, got_sync = 0;
        while (!got_sync) {
            for (int k = 0; k < 100 && sent < rows; k++, sent++) {
                wb_pg_param p[3];
                fill(&b, sent, p);
                const char *vals[3] = {p[0].val, p[1].val, p[2].val};
                if (!PQsendQueryPrepared(q, "ins", 3, vals, NULL, NULL, 0))
                    die("libpq send", PQerrorMessage(q));
            }
            if (sent == rows && !synced) {
                if (!PQpipelineSync(q))
                    die("libpq sync", PQerrorMessage(q));
                synced = 1;
            }
            int pending = PQflush(q);
            if (pending < 0)
                die("libpq flush", PQerrorMessage(q));
            if (sent == rows || pending) {
                struct pollfd pf = {PQsocket(q), (short)(POLLIN | (pending ? POLLOUT : 0)), 0};
                poll(&pf, 1, -1);
            }
            if (!PQconsumeInput(q))
                die("libpq consume", PQerrorMessage(q));
            while (!PQisBusy(q)) {
                PGresult *r = PQgetResult(q);
                if (!r) {
                    if (done == sent && !synced)
                        break; /* every query sent so far is answered */
                    continue;  /* next query's results */
                }
                ExecStatusType s = PQresultStatus(r);
                PQclear(r);
                if (s == PGRES_COMMAND_OK)
                    done++;
                else if (s == PGRES_PIPELINE_SYNC) {
                    got_sync = 1;
                    break;
                } else
                    die("libpq result", PQerrorMessage(q));
            }
        }
        PQsetnonblocking(q, 0);
        PGresult *r;
        PQexitPipelineMode(q);
        tq[i] = now_ms() - t0;
        cq += cpu_ms() - c0;
        PQclear(PQexec(q, "DEALLOCATE ins"));
        r = PQexec(q, "SELECT count(*) FROM bench_many");
        if (atoi(PQgetvalue(r, 0, 0)) != rows)
            die("libpq pipeline", "wrong row count");
        PQclear(r);
    }
    qsort(tw, (size_t)iters, sizeof *tw, cmp_d);
    qsort(tq, (size_t)iters, sizeof *tq, cmp_d);
    printf("executemany %d rows: wirebuf %.2f ms wall %.2f ms cpu | libpq pipeline %.2f ms wall %.2f ms cpu | wall %.2fx\n",
           rows, tw[iters / 2], cw / iters, tq[iters / 2], cq / iters, tw[iters / 2] / tq[iters / 2]);
    wb_pg_finish(w);
    PQfinish(q);
    free(tw);
    free(tq);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_pg CONNINFO fetch ROWS ITERS | fetch1 wirebuf|libpq ROWS | many ROWS ITERS\n");
        return 2;
    }
    const char *ci = argv[1], *mode = argv[2];
    if (strcmp(mode, "fetch") == 0 && argc == 5) {
        fetch(ci, atoi(argv[3]), atoi(argv[4]));
    } else if (strcmp(mode, "fetch1") == 0 && argc == 5) {
        int rows = atoi(argv[4]);
        if (strcmp(argv[3], "wirebuf") == 0) {
            wb_pg_conn *w = wb_open(ci);
            wb_pg_stmt *st = wb_stmt(w);
            wb_fetch(w, st, rows);
            wb_pg_stats s;
            wb_pg_get_stats(w, &s);
            fprintf(stderr, "wirebuf: %llu reads, %llu writes, %llu bytes in\n", (unsigned long long)s.reads,
                    (unsigned long long)s.writes, (unsigned long long)s.bytes_in);
            wb_pg_stmt_free(st);
            wb_pg_finish(w);
        } else {
            PGconn *q = pq_open(ci);
            pq_fetch(q, rows);
            PQfinish(q);
        }
    } else if (strcmp(mode, "many") == 0 && argc == 5) {
        many(ci, atoi(argv[3]), atoi(argv[4]));
    } else {
        fprintf(stderr, "bench_pg: bad arguments\n");
        return 2;
    }
    return 0;
}
