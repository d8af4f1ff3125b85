#!/usr/bin/python3
"""Concurrent writers against the target of scripts/with_serve.sh or
scripts/with_pg.sh (psycopg2, one connection per thread): no lost updates,
no "database is locked", every committed row there, rolled-back rows gone."""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clienttest import check, eq, env, main, need  # noqa: E402

psycopg2 = need("psycopg2")

E = env()
THREADS = 8
ROUNDS = 150


def connect():
    return psycopg2.connect(host=E["host"], port=E["port"], dbname=E["db"], user=E["user"],
                            password=E["password"], connect_timeout=10)


def setup():
    c = connect()
    c.autocommit = True
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS cw_counter, cw_log")
    cur.execute("CREATE TABLE cw_counter (id int4 primary key, n int8 not null)")
    cur.execute("INSERT INTO cw_counter VALUES (1, 0), (2, 0)")
    cur.execute("CREATE TABLE cw_log (id bigserial primary key, worker int4, k int4, note text)")
    c.close()


def in_threads(work):
    errors = []

    def wrap(w):
        try:
            work(w)
        except Exception as e:  # collected and reported by the check
            errors.append("worker %d: %s: %s" % (w, type(e).__name__, str(e).strip()))
    ts = [threading.Thread(target=wrap, args=(w,)) for w in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise AssertionError("%d workers failed; first: %s" % (len(errors), errors[0]))


@check
def autocommit_increments():
    def work(w):
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        for i in range(ROUNDS):
            cur.execute("UPDATE cw_counter SET n = n + 1 WHERE id = 1")
            eq(cur.rowcount, 1, "UPDATE rowcount")
        c.close()
    in_threads(work)
    c = connect()
    cur = c.cursor()
    cur.execute("SELECT n FROM cw_counter WHERE id = 1")
    eq(cur.fetchone()[0], THREADS * ROUNDS, "counter")
    c.close()


@check
def transactions_read_modify_write():
    # each transaction inserts a log row and bumps the counter; every third
    # one is rolled back: exactly the committed ones must remain
    def work(w):
        c = connect()
        cur = c.cursor()
        for i in range(ROUNDS // 3):
            cur.execute("INSERT INTO cw_log (worker, k, note) VALUES (%s, %s, 'tx')", (w, i))
            cur.execute("UPDATE cw_counter SET n = n + 1 WHERE id = 2 RETURNING n")
            eq(cur.fetchone()[0] > 0, True, "RETURNING")
            if i % 3 == 2:
                c.rollback()
            else:
                c.commit()
        c.close()
    in_threads(work)
    c = connect()
    cur = c.cursor()
    per = len([i for i in range(ROUNDS // 3) if i % 3 != 2])
    cur.execute("SELECT n FROM cw_counter WHERE id = 2")
    eq(cur.fetchone()[0], THREADS * per, "counter")
    cur.execute("SELECT count(*), count(DISTINCT (worker, k)) FROM cw_log WHERE note = 'tx'")
    eq(cur.fetchone(), (THREADS * per, THREADS * per), "log rows")
    cur.execute("SELECT count(*) FROM cw_log WHERE note = 'tx' AND k % 3 = 2")
    eq(cur.fetchone()[0], 0, "rolled-back rows")
    c.close()


@check
def concurrent_inserts_and_readers():
    stop = threading.Event()
    seen = []

    def reader():
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        last = 0
        while not stop.is_set():
            cur.execute("SELECT count(*) FROM cw_log WHERE note = 'ins'")
            n = cur.fetchone()[0]
            if n < last:
                seen.append("count went back from %d to %d" % (last, n))
            last = n
        c.close()
    r = threading.Thread(target=reader)
    r.start()

    def work(w):
        c = connect()
        c.autocommit = True
        cur = c.cursor()
        for i in range(ROUNDS):
            cur.execute("INSERT INTO cw_log (worker, k, note) VALUES (%s, %s, 'ins') RETURNING id", (w, i))
            eq(cur.fetchone()[0] > 0, True, "id")
        c.close()
    try:
        in_threads(work)
    finally:
        stop.set()
        r.join()
    eq(seen, [], "reader anomalies")
    c = connect()
    cur = c.cursor()
    cur.execute("SELECT count(*), count(DISTINCT id) FROM cw_log WHERE note = 'ins'")
    eq(cur.fetchone(), (THREADS * ROUNDS, THREADS * ROUNDS), "inserted rows")
    c.close()


@check
def long_statements_do_not_stall_others():
    # sessions sleeping (pg_sleep) or busy with a long CPU-bound query must
    # not hold up the short queries of other sessions (wirebuf serve runs a
    # request on the I/O thread that read it and moves that thread's other
    # sessions elsewhere when a statement sleeps or runs long)
    longs = ["SELECT pg_sleep(1.5)", "SELECT count(*) FROM generate_series(1, 3000000)"] * 2
    conns = []
    for i in range(len(longs) * 2):  # long, long, short, short, ...: with I/O threads
        c = connect()                # taken in turn, each has both kinds
        c.autocommit = True
        conns.append(c)
    lc = [c for i, c in enumerate(conns) if i % 4 < 2]
    sc = [c for i, c in enumerate(conns) if i % 4 >= 2]
    slow, errors = [], []
    started = threading.Barrier(len(longs) + 1)

    def run_long(c, sql):
        try:
            started.wait()
            c.cursor().execute(sql)
        except Exception as e:
            errors.append("%s: %s" % (sql, e))
    ts = [threading.Thread(target=run_long, args=(lc[i], sql)) for i, sql in enumerate(longs)]
    for t in ts:
        t.start()
    started.wait()
    time.sleep(0.2)  # the long ones are running
    for k in range(10):
        for c in sc:
            t0 = time.monotonic()
            cur = c.cursor()
            cur.execute("SELECT 1")
            eq(cur.fetchone()[0], 1, "SELECT 1")
            slow.append(time.monotonic() - t0)
    for t in ts:
        t.join()
    for c in conns:
        c.close()
    eq(errors, [], "long statements")
    worst = max(slow)
    if worst > 0.5:
        raise AssertionError("a SELECT 1 took %.3f s while other sessions ran long statements" % worst)


if __name__ == "__main__":
    main(setup)
