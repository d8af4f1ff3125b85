#!/usr/bin/python3
"""psycopg2 (Debian python3-psycopg2, libpq underneath) against the target
of scripts/with_serve.sh or scripts/with_pg.sh: types round trip,
transactions, executemany, COPY via copy_expert, named (server-side)
cursors, cancel."""
import datetime
import decimal
import io
import os
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clienttest import check, eq, env, main, need  # noqa: E402

psycopg2 = need("psycopg2")
import psycopg2.errors  # noqa: E402
import psycopg2.extras  # noqa: E402

psycopg2.extras.register_uuid()

E = env()


def connect(tcp=False, **kw):
    return psycopg2.connect(host=E["addr"] if tcp else E["host"], port=E["port"],
                            dbname=E["db"], user=E["user"], password=E["password"],
                            connect_timeout=10, application_name="wb_psycopg2", **kw)


def fresh(cur, name, ddl):
    cur.execute("DROP TABLE IF EXISTS %s" % name)
    cur.execute("CREATE TABLE %s (%s)" % (name, ddl))


@check
def connect_unix_and_tcp():
    for tcp in (False, True):
        c = connect(tcp=tcp)
        cur = c.cursor()
        cur.execute("SELECT 1 + 1, 'x' || 'y'")
        eq(cur.fetchone(), (2, "xy"))
        eq(c.server_version >= 150000, True, "server_version %d" % c.server_version)
        eq(c.get_parameter_status("client_encoding"), "UTF8", "client_encoding")
        eq(c.get_parameter_status("standard_conforming_strings"), "on", "scs")
        eq(c.get_parameter_status("integer_datetimes"), "on", "integer_datetimes")
        eq(c.get_parameter_status("application_name"), "wb_psycopg2", "application_name")
        cur.execute("SHOW DateStyle")
        eq(cur.fetchone()[0], "ISO, MDY", "DateStyle")
        c.close()


@check
def types_round_trip():
    c = connect()
    c.autocommit = True
    cur = c.cursor()
    fresh(cur, "p2_types", """id int4 primary key, a int2, b int8, c float4, d float8,
        e numeric(12,3), f text, g varchar(10), h bool, i bytea, j date, k time,
        l timestamp, m timestamptz, n interval, o uuid, p json, q jsonb,
        r int4[], s text[]""")
    u = uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")
    tz = datetime.timezone.utc
    row = (1, -32768, 9007199254740993, 1.5, 2.25, decimal.Decimal("123456789.125"),
           "héllo, wörld ☃", "short", True, b"\x00\x01\xff'\\", datetime.date(2024, 2, 29),
           datetime.time(23, 59, 58, 123456), datetime.datetime(1999, 12, 31, 23, 59, 59, 1),
           datetime.datetime(2024, 6, 1, 12, 0, 0, 500000, tzinfo=tz),
           datetime.timedelta(days=3, hours=4, seconds=5), u,
           psycopg2.extras.Json({"a": [1, 2, None]}), psycopg2.extras.Json({"k": "v"}),
           [1, 2, 3, None], ["a", "b c", 'q"uote', None])
    cur.execute("INSERT INTO p2_types VALUES (%s)" % ", ".join(["%s"] * len(row)), row)
    eq(cur.rowcount, 1, "rowcount")
    cur.execute("INSERT INTO p2_types (id) VALUES (2)")
    cur.execute("SELECT * FROM p2_types ORDER BY id")
    got = cur.fetchall()
    eq(len(got), 2, "rows")
    want = list(row)
    want[16] = {"a": [1, 2, None]}
    want[17] = {"k": "v"}
    for i, (g, w) in enumerate(zip(got[0], want)):
        if isinstance(g, memoryview):
            g = bytes(g)
        eq(g, w, "column %s" % cur.description[i].name)
    eq(got[1], (2,) + (None,) * 19, "the all-NULL row")
    oids = [d.type_code for d in cur.description]
    eq(oids, [23, 21, 20, 700, 701, 1700, 25, 1043, 16, 17, 1082, 1083, 1114, 1184, 1186,
              2950, 114, 3802, 1007, 1009], "RowDescription type OIDs")
    # server-side text formatting of values, as PostgreSQL prints them
    cur.execute("""SELECT true::text, 1.50::numeric(5,2)::text, '\\x00ff'::bytea::text,
                   '2024-01-02 03:04:05.5'::timestamp::text, 7/2, 7.0/2, 2^10""")
    eq(cur.fetchone(), ("true", "1.50", "\\x00ff", "2024-01-02 03:04:05.5", 3,
                        decimal.Decimal("3.5000000000000000"), 1024.0), "casts")
    c.close()


@check
def transactions():
    c = connect()
    cur = c.cursor()
    fresh(cur, "p2_tx", "id serial primary key, v text not null")
    c.commit()
    cur.execute("INSERT INTO p2_tx (v) VALUES ('kept') RETURNING id")
    eq(cur.fetchone(), (1,), "RETURNING serial")
    c.commit()
    cur.execute("INSERT INTO p2_tx (v) VALUES ('rolled back')")
    c.rollback()
    eq(c.get_transaction_status(), psycopg2.extensions.TRANSACTION_STATUS_IDLE, "status")
    # an error aborts the transaction: 25P02 until rollback
    cur.execute("INSERT INTO p2_tx (v) VALUES ('lost')")
    try:
        cur.execute("INSERT INTO p2_tx (v) VALUES (NULL)")
        raise AssertionError("NOT NULL violation accepted")
    except psycopg2.errors.NotNullViolation as e:
        eq(e.pgcode, "23502", "SQLSTATE")
    eq(c.get_transaction_status(), psycopg2.extensions.TRANSACTION_STATUS_INERROR, "status")
    try:
        cur.execute("SELECT 1")
        raise AssertionError("statement accepted in an aborted transaction")
    except psycopg2.errors.InFailedSqlTransaction as e:
        eq(e.pgcode, "25P02", "SQLSTATE")
    c.rollback()
    # savepoints
    cur.execute("INSERT INTO p2_tx (v) VALUES ('a')")
    cur.execute("SAVEPOINT s1")
    cur.execute("INSERT INTO p2_tx (v) VALUES ('b')")
    try:
        cur.execute("INSERT INTO p2_tx (id, v) VALUES (1, 'dup')")
        raise AssertionError("duplicate key accepted")
    except psycopg2.errors.UniqueViolation as e:
        eq(e.pgcode, "23505", "SQLSTATE")
    cur.execute("ROLLBACK TO SAVEPOINT s1")
    cur.execute("INSERT INTO p2_tx (v) VALUES ('c')")
    cur.execute("RELEASE SAVEPOINT s1")
    c.commit()
    cur.execute("SELECT v FROM p2_tx ORDER BY id")
    eq([r[0] for r in cur.fetchall()], ["kept", "a", "c"], "committed rows")
    c.commit()
    # another session sees only committed data
    c2 = connect()
    cur.execute("INSERT INTO p2_tx (v) VALUES ('uncommitted')")
    cur2 = c2.cursor()
    cur2.execute("SELECT count(*) FROM p2_tx")
    eq(cur2.fetchone()[0], 3, "count seen by another session")
    c2.rollback()
    c.commit()
    cur2.execute("SELECT count(*) FROM p2_tx")
    eq(cur2.fetchone()[0], 4, "count after commit")
    c2.close()
    # errors with their SQLSTATE
    for sql, code in (("SELECT * FROM p2_missing", "42P01"), ("SELECT nosuch FROM p2_tx", "42703"),
                      ("SELEC 1", "42601"), ("SELECT 1/0", "22012")):
        try:
            cur.execute(sql)
            raise AssertionError("%s: no error" % sql)
        except psycopg2.Error as e:
            eq(e.pgcode, code, sql)
        c.rollback()
    c.close()


@check
def executemany_and_batch():
    c = connect()
    cur = c.cursor()
    fresh(cur, "p2_many", "id int8 primary key, name text, score float8")
    rows = [(i, "name %d" % i, i * 0.5) for i in range(2000)]
    cur.executemany("INSERT INTO p2_many VALUES (%s, %s, %s)", rows)
    psycopg2.extras.execute_values(cur, "INSERT INTO p2_many VALUES %s",
                                   [(i, "v%d" % i, None) for i in range(2000, 3000)])
    psycopg2.extras.execute_batch(cur, "UPDATE p2_many SET score = %s WHERE id = %s",
                                  [(-1.0, i) for i in range(0, 3000, 3)])
    c.commit()
    cur.execute("SELECT count(*), sum(id), count(score), sum(score) FROM p2_many")
    n, s, ns, ss = cur.fetchone()
    eq((n, int(s), ns), (3000, 3000 * 2999 // 2, 2000 + len(range(2001, 3000, 3))), "counts")
    want = sum(i * 0.5 for i in range(2000) if i % 3) - len(range(0, 3000, 3))
    eq(abs(ss - want) < 1e-6, True, "sum(score) %r vs %r" % (ss, want))
    c.close()


@check
def copy_expert_both_ways():
    c = connect()
    cur = c.cursor()
    fresh(cur, "p2_copy", "id int8, t text, f float8, ts timestamp")
    lines = ["%d\tline %d\\twith tab\t%g\t2024-01-01 00:00:%02d" % (i, i, i / 4, i % 60) for i in range(5000)]
    lines.append("5000\t\\N\t\\N\t\\N")
    cur.copy_expert("COPY p2_copy FROM STDIN", io.StringIO("\n".join(lines) + "\n"))
    eq(cur.rowcount, 5001, "COPY FROM rowcount")
    c.commit()
    out = io.StringIO()
    cur.copy_expert("COPY (SELECT * FROM p2_copy ORDER BY id) TO STDOUT", out)
    eq(out.getvalue(), "\n".join(lines) + "\n", "COPY TO text equals what went in")
    out = io.StringIO()
    cur.copy_expert("COPY p2_copy (id, t) TO STDOUT WITH (FORMAT csv, HEADER)", out)
    got = out.getvalue().splitlines()
    eq(got[0], "id,t", "csv header")
    eq(len(got), 5002, "csv lines")
    eq("1,line 1\twith tab" in got, True, "csv row with a tab")
    # a bad row aborts the COPY and leaves nothing behind
    bad = io.StringIO("6000\tok\t1\t2024-01-01\nnot-a-number\tx\t1\t2024-01-01\n")
    try:
        cur.copy_expert("COPY p2_copy FROM STDIN", bad)
        raise AssertionError("bad COPY row accepted")
    except psycopg2.errors.InvalidTextRepresentation as e:
        eq(e.pgcode, "22P02", "SQLSTATE")
    c.rollback()
    cur.execute("SELECT count(*) FROM p2_copy")
    eq(cur.fetchone()[0], 5001, "rows after the failed COPY")
    c.close()


@check
def named_cursors():
    c = connect()
    cur = c.cursor()
    fresh(cur, "p2_big", "id int4 primary key, v text")
    cur.execute("INSERT INTO p2_big SELECT g, 'v' || g FROM generate_series(1, 10000) g")
    c.commit()
    nc = c.cursor("p2_named")
    nc.itersize = 333
    nc.execute("SELECT id, v FROM p2_big ORDER BY id")
    n = s = 0
    for i, (id_, v) in enumerate(nc, 1):
        eq((id_, v), (i, "v%d" % i), "row")
        n += 1
        s += id_
    eq((n, s), (10000, 10000 * 10001 // 2), "named cursor rows")
    nc.close()
    nc = c.cursor("p2_scroll", scrollable=True)
    nc.execute("SELECT id FROM p2_big WHERE id <= 100 ORDER BY id")
    eq([r[0] for r in nc.fetchmany(3)], [1, 2, 3], "fetchmany")
    nc.scroll(10, mode="absolute")
    eq(nc.fetchone(), (11,), "after MOVE ABSOLUTE")
    nc.close()
    c.commit()
    # SQL-level DECLARE / FETCH / MOVE / CLOSE
    cur.execute("BEGIN")
    cur.execute("DECLARE k CURSOR FOR SELECT id FROM p2_big ORDER BY id")
    cur.execute("FETCH 5 FROM k")
    eq([r[0] for r in cur.fetchall()], [1, 2, 3, 4, 5], "FETCH 5")
    cur.execute("MOVE 10 IN k")
    cur.execute("FETCH NEXT FROM k")
    eq(cur.fetchone(), (16,), "FETCH after MOVE 10")
    cur.execute("CLOSE k")
    c.commit()
    c.close()


@check
def cancel():
    c = connect()
    cur = c.cursor()
    timer = threading.Timer(0.5, c.cancel)
    t0 = time.monotonic()
    timer.start()
    try:
        cur.execute("SELECT pg_sleep(20)")
        raise AssertionError("pg_sleep(20) was not cancelled")
    except psycopg2.errors.QueryCanceled as e:
        eq(e.pgcode, "57014", "SQLSTATE")
    finally:
        timer.cancel()
    dt = time.monotonic() - t0
    eq(dt < 5, True, "cancel took %.1f s" % dt)
    c.rollback()
    cur.execute("SELECT 42")
    eq(cur.fetchone(), (42,), "the session after cancel")
    # statement_timeout is enforced as a cancel too
    cur.execute("SET statement_timeout = '300ms'")
    try:
        cur.execute("SELECT pg_sleep(20)")
        raise AssertionError("statement_timeout not enforced")
    except psycopg2.errors.QueryCanceled as e:
        eq(e.pgcode, "57014", "SQLSTATE")
    c.rollback()
    c.close()


@check
def notices_and_listen_notify():
    a = connect()
    b = connect()
    a.autocommit = b.autocommit = True
    a.cursor().execute("LISTEN p2_chan")
    b.cursor().execute("NOTIFY p2_chan, 'hello'")
    # libpq reads a pending NotificationResponse with the next result
    deadline = time.monotonic() + 5
    ca = a.cursor()
    while not a.notifies and time.monotonic() < deadline:
        ca.execute("SELECT 1")
        if not a.notifies:
            time.sleep(0.05)
    eq([(n.channel, n.payload) for n in a.notifies], [("p2_chan", "hello")], "notifies")
    eq(a.notifies[0].pid, b.get_backend_pid(), "sender pid")
    a.close()
    b.close()


if __name__ == "__main__":
    main()
