#!/usr/bin/python3
"""pg8000 (Debian python3-pg8000 1.10: pure Python, extended query with
unnamed/named statements, paramstyle "format") against the target of
scripts/with_serve.sh or scripts/with_pg.sh."""
import datetime
import decimal
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clienttest import check, eq, env, main, need  # noqa: E402

pg8000 = need("pg8000")

E = env()


def connect():
    # pg8000 1.10: connect(user, host, unix_sock, port, database, password, ssl, timeout)
    return pg8000.connect(user=E["user"], unix_sock=os.path.join(E["host"], ".s.PGSQL.%d" % E["port"]),
                          database=E["db"], password=E["password"] or None, timeout=20)


@check
def connect_tcp_and_unix():
    for c in (connect(), pg8000.connect(user=E["user"], host=E["addr"], port=E["port"], database=E["db"],
                                        password=E["password"] or None, timeout=20)):
        cur = c.cursor()
        cur.execute("SELECT %s + 1, %s", (41, "x"))
        eq(tuple(cur.fetchone()), (42, "x"), "row")
        c.close()


@check
def workflow():
    c = connect()
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS p8_t")
    cur.execute("""CREATE TABLE p8_t (id serial primary key, name varchar(20) not null,
                   price numeric(8,2), born date, at timestamp, ok bool, data bytea)""")
    c.commit()
    rows = [("n%d" % i, decimal.Decimal("%d.25" % i), datetime.date(2000, 1, 1 + i % 28),
             datetime.datetime(2020, 1, 1, 0, 0, i % 60), i % 2 == 0, b"\x00\x01" * i) for i in range(100)]
    cur.executemany("INSERT INTO p8_t (name, price, born, at, ok, data) VALUES (%s, %s, %s, %s, %s, %s)", rows)
    c.commit()
    cur.execute("SELECT name, price, born, at, ok, data FROM p8_t ORDER BY id")
    got = [tuple(r) for r in cur.fetchall()]
    eq(len(got), 100, "rows")
    for g, w in zip(got, rows):
        eq((g[0], g[1], g[2], g[3], g[4], bytes(g[5])), w, "row")
    # pg8000 1.10 gives column names as bytes
    eq([d[0].decode() if isinstance(d[0], bytes) else d[0] for d in cur.description], ["name", "price", "born", "at", "ok", "data"], "description")
    cur.execute("UPDATE p8_t SET price = price * 2 WHERE ok")
    eq(cur.rowcount, 50, "UPDATE rowcount")
    c.rollback()
    cur.execute("SELECT sum(price) FROM p8_t")
    eq(cur.fetchone()[0], sum(r[1] for r in rows), "sum after rollback")
    c.commit()
    try:
        cur.execute("INSERT INTO p8_t (name) VALUES (NULL)")
        raise AssertionError("NULL accepted")
    except pg8000.ProgrammingError as e:
        eq("23502" in str(e), True, "SQLSTATE in %s" % e)
    c.rollback()
    cur.execute("SELECT count(*) FROM p8_t")
    eq(cur.fetchone()[0], 100, "count")
    c.commit()
    c.close()


@check
def copy_streams():
    c = connect()
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS p8_copy")
    cur.execute("CREATE TABLE p8_copy (a int4, b text)")
    data = "".join("%d\tv%d\n" % (i, i) for i in range(1000))
    cur.execute("COPY p8_copy FROM STDIN", stream=io.BytesIO(data.encode()))
    c.commit()
    out = io.BytesIO()
    cur.execute("COPY (SELECT * FROM p8_copy ORDER BY a) TO STDOUT", stream=out)
    eq(out.getvalue().decode(), data, "COPY out")
    c.commit()
    c.close()


if __name__ == "__main__":
    main()
