#!/usr/bin/python3
"""psycopg 3 (Debian python3-psycopg) against the target of
scripts/with_serve.sh or scripts/with_pg.sh: binary results, pipeline mode,
server-side prepared statements (prepare=True, prepare_threshold=0),
COPY, transactions."""
import datetime
import decimal
import os
import sys
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clienttest import check, eq, env, main, need  # noqa: E402

psycopg = need("psycopg")
from psycopg import errors  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

E = env()


def connect(**kw):
    return psycopg.connect(host=E["host"], port=E["port"], dbname=E["db"], user=E["user"],
                           password=E["password"], connect_timeout=10, **kw)


@check
def binary_results():
    with connect(autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS p3_bin")
        c.execute("""CREATE TABLE p3_bin (id int8 primary key, a int2, b int4, c float4, d float8,
                     e numeric(10,2), f text, g bool, h bytea, i date, j timestamp, k timestamptz,
                     l interval, m uuid, n jsonb, o int8[], p time)""")
        tz = datetime.timezone.utc
        row = (1, 7, -2147483648, 0.5, -1e300, decimal.Decimal("-12345678.90"), "ünïcode",
               False, b"\x00bin\xff", datetime.date(1970, 1, 1),
               datetime.datetime(2000, 2, 29, 1, 2, 3, 456789),
               datetime.datetime(2030, 12, 31, 23, 0, tzinfo=tz),
               datetime.timedelta(days=-1, microseconds=1),
               uuid.UUID("12345678-1234-5678-1234-567812345678"), Jsonb({"x": [True, None]}),
               [1, -2, 3], datetime.time(0, 0, 0, 1))
        with c.cursor() as cur:
            cur.execute("INSERT INTO p3_bin VALUES (%b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b, %b)", row)
            eq(cur.rowcount, 1, "rowcount")
        for binary in (True, False):
            with c.cursor(binary=binary) as cur:
                cur.execute("SELECT * FROM p3_bin")
                got = cur.fetchone()
                eq(cur.pgresult.fformat(0), 1 if binary else 0, "result format")
                want = list(row)
                want[14] = {"x": [True, None]}
                for i, (g, w) in enumerate(zip(got, want)):
                    eq(g, w, "%s column %s" % ("binary" if binary else "text", cur.description[i].name))
        with c.cursor(binary=True) as cur:
            cur.execute("SELECT g, g::text, g * 1.5 FROM generate_series(1, 5000) g")
            rows = cur.fetchall()
            eq(len(rows), 5000, "rows")
            eq(rows[4999], (5000, "5000", decimal.Decimal("7500.0")), "last row")


@check
def pipeline_mode():
    with connect() as c:
        c.execute("DROP TABLE IF EXISTS p3_pipe")
        c.execute("CREATE TABLE p3_pipe (id int4 primary key, v text)")
        c.commit()
        with c.pipeline():
            cur = c.cursor()
            for i in range(500):
                cur.execute("INSERT INTO p3_pipe VALUES (%s, %s)", (i, "v%d" % i))
            last = c.execute("SELECT count(*), max(id) FROM p3_pipe")
        eq(last.fetchone(), (500, 499), "after the pipeline")
        c.commit()
        # an error inside a pipeline aborts what follows up to the Sync
        try:
            with c.pipeline():
                c.execute("INSERT INTO p3_pipe VALUES (1000, 'a')")
                c.execute("INSERT INTO p3_pipe VALUES (1, 'duplicate')")
                c.execute("INSERT INTO p3_pipe VALUES (1001, 'b')")
            raise AssertionError("duplicate key accepted in a pipeline")
        except errors.UniqueViolation as e:
            eq(e.sqlstate, "23505", "SQLSTATE")
        c.rollback()
        eq(c.execute("SELECT count(*) FROM p3_pipe").fetchone(), (500,), "rows after the failed pipeline")
        c.commit()
        with c.pipeline():
            cur.executemany("UPDATE p3_pipe SET v = %s WHERE id = %s", [("u%d" % i, i) for i in range(0, 500, 2)])
        c.commit()
        eq(c.execute("SELECT count(*) FROM p3_pipe WHERE v LIKE 'u%'").fetchone(), (250,), "updated")


@check
def prepared_statements():
    with connect(autocommit=True) as c:
        c.execute("DROP TABLE IF EXISTS p3_prep")
        c.execute("CREATE TABLE p3_prep (id int4 primary key, v float8)")
        for i in range(100):
            c.execute("INSERT INTO p3_prep VALUES (%s, %s)", (i, i * 0.25), prepare=True)
        total = 0
        for i in range(0, 100, 10):
            r = c.execute("SELECT v FROM p3_prep WHERE id = %s", (i,), prepare=True).fetchone()
            total += r[0]
        eq(total, sum(i * 0.25 for i in range(0, 100, 10)), "sum of prepared selects")
        # the same prepared statement with a NULL and with a value out of range
        eq(c.execute("SELECT v FROM p3_prep WHERE id = %s", (None,), prepare=True).fetchall(), [], "NULL")
        eq(c.execute("SELECT v FROM p3_prep WHERE id = %s", (99,), prepare=True).fetchall(), [(24.75,)], "99")


@check
def prepare_threshold_zero():
    with connect(autocommit=True, prepare_threshold=0) as c:
        c.execute("DROP TABLE IF EXISTS p3_thr")
        c.execute("CREATE TABLE p3_thr (id serial primary key, t text, at timestamptz default now())")
        for i in range(50):
            c.execute("INSERT INTO p3_thr (t) VALUES (%s)", ("row %d" % i,))
        rows = c.execute("SELECT id, t FROM p3_thr WHERE id > %s ORDER BY id", (45,)).fetchall()
        eq(rows, [(i, "row %d" % (i - 1)) for i in range(46, 51)], "rows")
        r = c.execute("SELECT count(*) FROM p3_thr WHERE at <= now() AND t = ANY(%s)",
                      (["row 1", "row 2", "nope"],)).fetchone()
        eq(r, (2,), "= ANY(array parameter)")
        # a bad parameter gives an error, and the session goes on
        try:
            c.execute("SELECT %s::int4", ("not an int",))
            raise AssertionError("bad int accepted")
        except errors.InvalidTextRepresentation as e:
            eq(e.sqlstate, "22P02", "SQLSTATE")
        eq(c.execute("SELECT 1").fetchone(), (1,), "after the error")


@check
def copy_and_transactions():
    with connect() as c:
        c.execute("DROP TABLE IF EXISTS p3_copy")
        c.execute("CREATE TABLE p3_copy (id int8, t text, f float8)")
        with c.cursor().copy("COPY p3_copy FROM STDIN") as cp:
            for i in range(3000):
                cp.write_row((i, "t%d" % i, i / 8))
        c.commit()
        with c.cursor(binary=True).copy("COPY p3_copy TO STDOUT (FORMAT BINARY)") as cp:
            cp.set_types(["int8", "text", "float8"])
            got = list(cp.rows())
        eq(len(got), 3000, "binary COPY rows")
        eq(sorted(got)[2999], (2999, "t2999", 2999 / 8), "last row")
        with c.transaction():
            c.execute("INSERT INTO p3_copy VALUES (-1, 'kept', 0)")
            try:
                with c.transaction():
                    c.execute("INSERT INTO p3_copy VALUES (-2, 'gone', 0)")
                    c.execute("SELECT 1/0")
            except errors.DivisionByZero:
                pass
        eq(c.execute("SELECT count(*) FROM p3_copy WHERE id < 0").fetchone(), (1,), "savepoint rollback")


if __name__ == "__main__":
    main()
