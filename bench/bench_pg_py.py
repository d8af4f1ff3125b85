#!/usr/bin/python3
"""wirebuf.pg vs psycopg2, asyncpg and psycopg 3: same server, same run,
Unix socket. Prints one markdown table (wall = median per operation, CPU =
client process time per operation).

    bench_pg_py.py BUILD_DIR        (under scripts/with_pg.sh; bench/bench_pg.sh
                                     has created bench_rows with 100,000 rows)
"""
import asyncio
import datetime as dt
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(sys.argv[1] if len(sys.argv) > 1 else "build", "python"))
import wirebuf.pg  # noqa: E402

try:
    import psycopg2
    import psycopg2.extras
except ImportError:  # pragma: no cover
    psycopg2 = None
try:
    import asyncpg
except ImportError:  # pragma: no cover
    asyncpg = None
try:
    import psycopg
except ImportError:  # pragma: no cover
    psycopg = None

E = os.environ
DSN = "host=%s port=%s dbname=%s user=wb_trust" % (E["WB_PG_HOST"], E["WB_PG_PORT"], E["WB_PG_DB"])
RESULTS = []


def measure(fn, iters):
    fn()  # warm up (statement caches, connections)
    walls, cpus = [], []
    for _ in range(iters):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(walls) * 1e3, statistics.mean(cpus) * 1e3


def row(job, who, wall, cpu):
    RESULTS.append((job, who, wall, cpu))
    print("%-34s %-22s wall %9.2f ms  cpu %9.2f ms" % (job, who, wall, cpu), flush=True)


def fetch_sql(n):
    return "SELECT * FROM bench_rows WHERE id <= %d" % n


def bench_fetch(loop, n, iters):
    job = "fetch %d rows" % n
    sql = fetch_sql(n)
    w = wirebuf.pg.connect(DSN)
    w.autocommit = True
    wc = w.cursor()

    def f_wb():
        wc.execute(sql)
        assert len(wc.fetchall()) == n

    row(job, "wirebuf.pg", *measure(f_wb, iters))
    if psycopg2:
        p = psycopg2.connect(DSN)
        p.autocommit = True
        pc = p.cursor()

        def f_p2():
            pc.execute(sql)
            assert len(pc.fetchall()) == n

        row(job, "psycopg2", *measure(f_p2, iters))
        p.close()
    if asyncpg:
        a = loop.run_until_complete(asyncpg.connect(host=E["WB_PG_HOST"], port=E["WB_PG_PORT"],
                                                    database=E["WB_PG_DB"], user="wb_trust"))

        def f_a():
            assert len(loop.run_until_complete(a.fetch(sql))) == n

        row(job, "asyncpg", *measure(f_a, iters))
        loop.run_until_complete(a.close())
    if psycopg:
        p3 = psycopg.connect(DSN, autocommit=True)
        c3 = p3.cursor(binary=True)

        def f_p3():
            c3.execute(sql)
            assert len(c3.fetchall()) == n

        row(job, "psycopg 3 (binary)", *measure(f_p3, iters))
        p3.close()
    w.close()


def many_rows(n):
    t = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    return [(i, "name %d" % i, i * 0.5) for i in range(n)]


def bench_many(loop, n, iters):
    job = "executemany %d rows" % n
    rows = many_rows(n)
    w = wirebuf.pg.connect(DSN)
    w.autocommit = True
    wc = w.cursor()
    wc.execute("CREATE TABLE IF NOT EXISTS bench_many_py(id int4, name text, score float8)")

    def f_wb():
        wc.execute("TRUNCATE bench_many_py")
        wc.executemany("INSERT INTO bench_many_py VALUES (%s, %s, %s)", rows)

    row(job, "wirebuf.pg executemany", *measure(f_wb, iters))
    if psycopg2:
        p = psycopg2.connect(DSN)
        p.autocommit = True
        pc = p.cursor()

        def f_p2():
            pc.execute("TRUNCATE bench_many_py")
            pc.executemany("INSERT INTO bench_many_py VALUES (%s, %s, %s)", rows)

        row(job, "psycopg2 executemany", *measure(f_p2, max(1, iters // 3)))

        def f_p2v():
            pc.execute("TRUNCATE bench_many_py")
            psycopg2.extras.execute_values(pc, "INSERT INTO bench_many_py VALUES %s", rows, page_size=1000)

        row(job, "psycopg2 execute_values", *measure(f_p2v, iters))
        p.close()
    if asyncpg:
        a = loop.run_until_complete(asyncpg.connect(host=E["WB_PG_HOST"], port=E["WB_PG_PORT"],
                                                    database=E["WB_PG_DB"], user="wb_trust"))

        def f_a():
            loop.run_until_complete(a.execute("TRUNCATE bench_many_py"))
            loop.run_until_complete(a.executemany("INSERT INTO bench_many_py VALUES ($1, $2, $3)", rows))

        row(job, "asyncpg executemany", *measure(f_a, iters))
        loop.run_until_complete(a.close())
    w.close()


def bench_copy(loop, n, iters):
    job = "COPY %d rows from tuples" % n
    t0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    recs = [(i, "name %d" % i, i * 0.5, t0 + dt.timedelta(seconds=i), i % 2 == 0, i * 1000, "note %d" % (i % 97))
            for i in range(n)]
    w = wirebuf.pg.connect(DSN)
    w.autocommit = True
    wc = w.cursor()
    wc.execute("CREATE TABLE IF NOT EXISTS bench_copy_py (LIKE bench_rows)")

    def f_wb():
        wc.execute("TRUNCATE bench_copy_py")
        assert wc.copy_records("bench_copy_py", recs) == n

    row(job, "wirebuf.pg copy_records", *measure(f_wb, iters))
    if asyncpg:
        a = loop.run_until_complete(asyncpg.connect(host=E["WB_PG_HOST"], port=E["WB_PG_PORT"],
                                                    database=E["WB_PG_DB"], user="wb_trust"))

        def f_a():
            loop.run_until_complete(a.execute("TRUNCATE bench_copy_py"))
            loop.run_until_complete(a.copy_records_to_table("bench_copy_py", records=recs))

        row(job, "asyncpg copy_records_to_table", *measure(f_a, iters))
        loop.run_until_complete(a.close())
    if psycopg2:
        import io
        p = psycopg2.connect(DSN)
        p.autocommit = True
        pc = p.cursor()

        def f_p2():
            pc.execute("TRUNCATE bench_copy_py")
            buf = io.StringIO("".join("%d\t%s\t%r\t%s\t%s\t%d\t%s\n" % (r[0], r[1], r[2], r[3].isoformat(),
                                                                       "t" if r[4] else "f", r[5], r[6])
                                      for r in recs))
            pc.copy_expert("COPY bench_copy_py FROM STDIN", buf)

        row(job, "psycopg2 copy_expert (text built in Python)", *measure(f_p2, iters))
        p.close()
    w.close()


def main():
    loop = asyncio.new_event_loop()
    print("versions: psycopg2 %s, asyncpg %s, psycopg %s" % (
        psycopg2.__version__.split()[0] if psycopg2 else "-", asyncpg.__version__ if asyncpg else "-",
        psycopg.__version__ if psycopg else "-"))
    bench_fetch(loop, 1000, 100)
    bench_fetch(loop, 10000, 30)
    bench_fetch(loop, 100000, 7)
    bench_many(loop, 10000, 5)
    bench_copy(loop, 1000000, 3)
    print()
    print("| job | driver | wall (median) | client CPU |")
    print("|---|---|---|---|")
    for job, who, wall, cpu in RESULTS:
        print("| %s | %s | %.2f ms | %.2f ms |" % (job, who, wall, cpu))


if __name__ == "__main__":
    main()
