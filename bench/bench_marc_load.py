#!/usr/bin/python3
"""`wirebuf marc load` vs what users write today: pymarc reading the records
and psycopg2 COPY (FORMAT csv, in chunks of 10,000 rows, one transaction),
into the same table shape, same server, same run.

usage: bench_marc_load.py BUILD/wirebuf CORPUS RUNS   (under scripts/with_pg.sh)
pymarc is not packaged in Debian and there is no PyPI here: set
WB_PYMARC_SRC to a checkout of pymarc's source (the directory holding the
`pymarc` package) to include it; without it the baseline is skipped with a
message. Prints Markdown table rows."""
import csv
import io
import os
import resource
import subprocess
import sys
import time

import psycopg2

WB, CORPUS, RUNS = sys.argv[1], sys.argv[2], int(sys.argv[3])
ENV = os.environ
CONN = "host=%s port=%s dbname=%s user=wb_trust" % (ENV["WB_PG_HOST"], ENV["WB_PG_PORT"], ENV["WB_PG_DB"])
SHAPE = ("(id bigint primary key, file text, byte_offset bigint, leader text, control_number text, "
         "title text, record jsonb)")


def count(table):
    with psycopg2.connect(CONN) as c, c.cursor() as cur:
        cur.execute(f"select count(*) from {table}")
        return cur.fetchone()[0]


def drop(table):
    with psycopg2.connect(CONN) as c, c.cursor() as cur:
        cur.execute(f"drop table if exists {table}")


def wirebuf(threads):
    """Best wall time and best client CPU time (user + system, from wait4)."""
    best = cpu = None
    for _ in range(RUNS):
        drop("bench_load")
        t = time.perf_counter()
        p = subprocess.Popen([WB, "marc", "load", "-q", "--threads", str(threads), CONN, "bench_load", CORPUS],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err = p.stderr.read()
        _, status, ru = os.wait4(p.pid, 0)
        dt = time.perf_counter() - t
        if os.waitstatus_to_exitcode(status) not in (0, 1):
            raise SystemExit(f"wirebuf marc load failed: {err.decode()}")
        c = ru.ru_utime + ru.ru_stime
        best = dt if best is None or dt < best else best
        cpu = c if cpu is None or c < cpu else cpu
    return best, cpu, count("bench_load")


def pymarc_load(pymarc):
    drop("bench_pymarc")
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t = time.perf_counter()
    conn = psycopg2.connect(CONN)
    cur = conn.cursor()
    cur.execute(f"create table bench_pymarc {SHAPE}")
    buf = io.StringIO()
    w = csv.writer(buf)
    n = 0
    with open(CORPUS, "rb") as fh:
        reader = pymarc.MARCReader(fh, to_unicode=True, force_utf8=True, utf8_handling="replace", permissive=True)
        offset = 0
        for rec in reader:
            start, offset = offset, fh.tell()
            if rec is None:
                continue
            n += 1
            title = rec.title() if callable(rec.title) else rec.title
            c001 = rec["001"].data if rec["001"] else None
            w.writerow([n, CORPUS, start, str(rec.leader), c001, title, rec.as_json()])
            if n % 10000 == 0:
                buf.seek(0)
                cur.copy_expert("copy bench_pymarc from stdin (format csv)", buf)
                buf.seek(0)
                buf.truncate()
    buf.seek(0)
    cur.copy_expert("copy bench_pymarc from stdin (format csv)", buf)
    conn.commit()
    conn.close()
    dt = time.perf_counter() - t
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return dt, cpu, count("bench_pymarc")


w1, c1, n1 = wirebuf(1)
w2, c2, n2 = wirebuf(2)
print(f"| `wirebuf marc load --threads 1` | {n1} | {w1:.2f} s | {n1 / w1:,.0f} rec/s | {c1:.2f} s |")
print(f"| `wirebuf marc load --threads 2` | {n2} | {w2:.2f} s | {n2 / w2:,.0f} rec/s | {c2:.2f} s |")
src = ENV.get("WB_PYMARC_SRC")
if src and os.path.isdir(os.path.join(src, "pymarc")):
    sys.path.insert(0, src)
    import pymarc

    tp, cp, np_ = pymarc_load(pymarc)
    print(f"| pymarc (WB_PYMARC_SRC) + psycopg2 COPY csv | {np_} | {tp:.2f} s | {np_ / tp:,.0f} rec/s | {cp:.2f} s |")
    print(f"\nwall: wirebuf / pymarc {tp / w1:.1f}x (1 thread), {tp / w2:.1f}x (2 threads); "
          f"client CPU: {cp / c1:.0f}x (1 thread). The server's share (jsonb parsing, TOAST, "
          f"WAL, the primary key) is in both wall times.")
else:
    print("\npymarc baseline skipped: set WB_PYMARC_SRC to a pymarc source checkout (no PyPI here)")
drop("bench_load")
drop("bench_pymarc")
