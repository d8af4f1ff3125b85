"""wirebuf.pg against a real PostgreSQL 15: PEP 249 surface, types both
ways, paramstyle, executemany, streaming, COPY, errors, cancel, threads."""
import datetime as dt
import io
import os
import resource
import subprocess
import sys
import threading
import time
import uuid
from decimal import Decimal

import pytest

import wirebuf.pg as pg


def test_module_globals():
    assert pg.apilevel == "2.0" and pg.paramstyle == "pyformat" and pg.threadsafety == 2
    for name in ("Warning", "Error", "InterfaceError", "DatabaseError", "DataError", "OperationalError",
                 "IntegrityError", "InternalError", "ProgrammingError", "NotSupportedError"):
        assert issubclass(getattr(pg, name), Exception)
    assert issubclass(pg.IntegrityError, pg.DatabaseError) and issubclass(pg.DatabaseError, pg.Error)


def test_connect_forms(dsn):
    env = os.environ
    c = pg.connect(host=env["WB_PG_HOST"], port=env["WB_PG_PORT"], database=env["WB_PG_DB"], user="wb_scram",
                   password=env["WB_PG_PASSWORD"])
    cur = c.cursor()
    cur.execute("select current_user")
    assert cur.fetchone() == ("wb_scram",)
    assert c.server_version >= 150000 and c.get_parameter_status("client_encoding") == "UTF8"
    assert c.Error is pg.Error and c.IntegrityError is pg.IntegrityError
    c.close()
    assert c.closed
    with pytest.raises(pg.InterfaceError):
        c.cursor()
    with pytest.raises(pg.OperationalError) as e:
        pg.connect(dsn.replace("wb_trust", "wb_md5") + " password=wrong")
    assert e.value.sqlstate == "28P01"
    with pytest.raises(pg.OperationalError):
        pg.connect("host=127.0.0.1 port=1")


ROUND_TRIP = [
    ("bool", True), ("bool", False), ("int2", 7), ("int4", -2147483648), ("int8", 9223372036854775807),
    ("float4", 1.5), ("float8", 0.1), ("float8", float("inf")), ("numeric", Decimal("-12.340")),
    ("numeric", Decimal("123456789012345678901234567890.000000001")), ("text", "Grüße 日本語 🎉"),
    ("varchar(10)", "abc"), ("bytea", b"\x00\xff\x10" * 100), ("date", dt.date(2024, 2, 29)),
    ("time", dt.time(13, 45, 1, 500000)), ("timetz", dt.time(1, 2, 3, tzinfo=dt.timezone(dt.timedelta(hours=2)))),
    ("char(4)", "abcd"), ("int8", -5), ("oid", 4000000000), ("timestamp", dt.datetime(2024, 2, 29, 23, 59, 59, 999999)),
    ("timestamptz", dt.datetime(2024, 6, 1, 10, 0, tzinfo=dt.timezone.utc)),
    ("interval", dt.timedelta(days=3, seconds=14706, microseconds=700000)),
    ("uuid", uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")), ("jsonb", {"a": [1, 2.5, None], "b": "ü"}),
    ("json", pg.Json([1, {"x": True}])), ("int4[]", [1, 2, None, 4]), ("text[]", ["a b", "", None, 'x"y']),
    ("float8[]", [1.5, -2.0]), ("date[]", [dt.date(2024, 1, 1)]), ("numeric[]", [Decimal("1.5")]),
]


@pytest.mark.parametrize("typ,value", ROUND_TRIP, ids=[t + "-" + str(i) for i, (t, v) in enumerate(ROUND_TRIP)])
def test_types_round_trip_through_a_table(conn, typ, value):
    cur = conn.cursor()
    cur.execute("create temp table rt (v %s)" % typ)
    cur.execute("insert into rt values (%s), (%s)", (value, None))
    cur.execute("select v from rt")
    rows = cur.fetchall()
    if isinstance(value, pg.Json):
        value = value.adapted
    assert rows == [(value,), (None,)]
    assert type(rows[0][0]) is type(value)
    conn.rollback()


def test_more_type_details(conn):
    cur = conn.cursor()
    cur.execute("set timezone = 'Europe/Paris'")
    cur.execute("select '2024-06-01 12:00:00+02'::timestamptz, '13:45:01+05:30'::timetz, "
                "'1 mon 2 days'::interval, 'infinity'::date, 'NaN'::numeric, 'NaN'::float8")
    ts, ttz, iv, inf, nan, fnan = cur.fetchone()
    assert ts == dt.datetime(2024, 6, 1, 10, 0, tzinfo=dt.timezone.utc) and ts.tzinfo is dt.timezone.utc
    assert ttz.utcoffset() == dt.timedelta(hours=5, minutes=30)
    assert iv == dt.timedelta(days=32)
    assert inf == dt.date.max and nan.is_nan() and fnan != fnan
    # aware datetimes in another zone keep their instant
    paris = dt.timezone(dt.timedelta(hours=2))
    cur.execute("select %s::timestamptz = '2024-06-01 10:00:00+00'", (dt.datetime(2024, 6, 1, 12, tzinfo=paris),))
    assert cur.fetchone() == (True,)
    # unknown types come back as text
    cur.execute("select '(1,2)'::point, 'a'::\"char\"")
    assert cur.fetchone() == ("(1,2)", "a")
    cur.execute("select %s, %s", (bytearray(b"ab"), memoryview(b"cd")))
    assert cur.fetchone() == (b"ab", b"cd")


def test_paramstyle(conn):
    cur = conn.cursor()
    cur.execute("select %s, %s", ("%s", "it's 100%"))
    assert cur.fetchone() == ("%s", "it's 100%")
    cur.execute("select 'literal %%', %(a)s, %(b)s, %(a)s", {"a": 1, "b": "%(a)s"})
    assert cur.fetchone() == ("literal %", 1, "%(a)s", 1)
    cur.execute("select '100%'")  # no parameters: the text is not parsed
    assert cur.fetchone() == ("100%",)
    cur.execute("select %s || %s", ("'; drop table x; --", "'"))  # never interpolated
    assert cur.fetchone() == ("'; drop table x; --'",)
    with pytest.raises(pg.ProgrammingError):
        cur.execute("select %s, %s", (1,))
    with pytest.raises(pg.ProgrammingError):
        cur.execute("select %d", (1,))
    with pytest.raises(pg.ProgrammingError):
        cur.execute("select %(missing)s", {"other": 1})


def test_cursor_surface(conn):
    cur = conn.cursor()
    cur.execute("select g as n, 'x' || g as s from generate_series(1, 10) g")
    d = cur.description
    assert [c[0] for c in d] == ["n", "s"] and len(d[0]) == 7 and d[0][1] == 23
    assert d[0][1] == pg.NUMBER and d[1][1] == pg.STRING
    assert cur.fetchone() == (1, "x1")
    cur.arraysize = 3
    assert cur.fetchmany() == [(2, "x2"), (3, "x3"), (4, "x4")]
    assert cur.fetchmany(2) == [(5, "x5"), (6, "x6")]
    assert cur.fetchall() == [(7, "x7"), (8, "x8"), (9, "x9"), (10, "x10")]
    assert cur.fetchone() is None and cur.fetchall() == []
    assert cur.rowcount == 10
    cur.execute("create temp table cs(a int)")
    cur.execute("insert into cs select generate_series(1, 5)")
    assert cur.rowcount == 5 and cur.description is None
    with pytest.raises(pg.ProgrammingError):
        cur.fetchone()
    cur.setinputsizes([None])
    cur.setoutputsize(10)
    cur.execute("create function wb_add(a int, b int) returns int language sql as 'select a + b'")
    assert cur.callproc("wb_add", (2, 3)) == (2, 3)
    assert cur.fetchone() == (5,)
    with conn.cursor() as c2:
        c2.execute("select 1")
    assert c2.closed
    with pytest.raises(pg.InterfaceError):
        c2.execute("select 1")
    # re-executing in the middle of a result discards the rest
    cur.execute("select generate_series(1, 100000)")
    cur.fetchone()
    cur.execute("select 42")
    assert cur.fetchall() == [(42,)]
    # several statements in one execute: the last result
    cur.execute("select 1; select 2, 3")
    assert cur.fetchall() == [(2, 3)]


def test_transactions(dsn):
    a, b = pg.connect(dsn), pg.connect(dsn)
    ca, cb = a.cursor(), b.cursor()
    ca.execute("create table if not exists tx_t(x int)")
    a.commit()
    ca.execute("insert into tx_t values (1)")
    assert a.transaction_status == "T"
    cb.execute("select count(*) from tx_t")
    assert cb.fetchone() == (0,)
    a.rollback()
    ca.execute("insert into tx_t values (2)")
    a.commit()
    b.rollback()
    cb.execute("select array_agg(x) from tx_t")
    assert cb.fetchone() == ([2],)
    # context manager: commit on success, rollback on exception
    with a:
        ca.execute("insert into tx_t values (3)")
    with pytest.raises(ZeroDivisionError):
        with a:
            ca.execute("insert into tx_t values (4)")
            1 / 0
    b.rollback()
    cb.execute("select array_agg(x order by x) from tx_t")
    assert cb.fetchone() == ([2, 3],)
    # autocommit
    a.autocommit = True
    ca.execute("insert into tx_t values (5)")
    assert a.transaction_status == "I"
    b.rollback()  # b's open transaction would hold a lock the DROP waits for
    ca.execute("drop table tx_t")
    a.close()
    b.close()


def test_exceptions(conn):
    cur = conn.cursor()
    cur.execute("create temp table ex(id int primary key)")
    cur.execute("insert into ex values (1)")
    with pytest.raises(pg.IntegrityError) as e:
        cur.execute("insert into ex values (1)")
    assert e.value.sqlstate == e.value.pgcode == "23505" and "already exists" in e.value.diag.detail
    assert e.value.diag.constraint_name == "ex_pkey" and "duplicate key" in e.value.pgerror
    conn.rollback()
    with pytest.raises(pg.ProgrammingError) as e:
        cur.execute("selec 1")
    assert e.value.sqlstate == "42601" and e.value.diag.position
    conn.rollback()
    with pytest.raises(pg.DataError) as e:
        cur.execute("select 1/0")
    assert e.value.sqlstate == "22012"
    with pytest.raises(pg.InternalError) as e:  # in a failed transaction
        cur.execute("select 1")
    assert e.value.sqlstate == "25P02"
    conn.rollback()
    with pytest.raises(pg.ProgrammingError):
        cur.execute("select * from no_such_table")
    conn.rollback()
    # an error at once is raised by execute (it reads the first rows) ...
    with pytest.raises(pg.DataError):
        cur.execute("select 1 / (10 - g) from generate_series(1, 5000) g")
    conn.rollback()
    # ... one after many rows by the fetch that meets it
    cur.execute("select 1 / (30000 - g) from generate_series(1, 50000) g")
    with pytest.raises(pg.DataError):
        cur.fetchall()
    conn.rollback()
    cur.execute("select 'ok'")
    assert cur.fetchone() == ("ok",)


def test_executemany(conn):
    cur = conn.cursor()
    cur.execute("create temp table em(id int primary key, name text, score float8, at timestamptz)")
    now = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)
    rows = [(i, "name %d" % i, i * 0.5, now + dt.timedelta(seconds=i)) for i in range(100000)]
    cur.executemany("insert into em values (%s, %s, %s, %s)", rows)
    assert cur.rowcount == 100000
    cur.execute("select count(*), sum(id), max(at) from em")
    assert cur.fetchone() == (100000, sum(range(100000)), now + dt.timedelta(seconds=99999))
    conn.commit()
    # one bad row: error names it, the batch rolls back, the connection works
    bad = [(200000 + i, "x", 0.0, None) for i in range(100)]
    bad[37] = (37, "dup", 0.0, None)  # duplicate key
    with pytest.raises(pg.IntegrityError) as e:
        cur.executemany("insert into em values (%s, %s, %s, %s)", bad)
    assert e.value.statement == 37
    conn.rollback()
    cur.execute("select count(*) from em")
    assert cur.fetchone() == (100000,)
    cur.executemany("update em set name = %(n)s where id = %(i)s", [{"n": "z", "i": 1}, {"n": "y", "i": 2}])
    assert cur.rowcount == 2
    cur.executemany("insert into em values (%s, %s, %s, %s)", [])
    assert cur.rowcount == 0


def test_streaming_flat_memory(conn):
    cur = conn.cursor()
    cur.itersize = 5000
    cur.execute("select g, 'row ' || g from generate_series(1, 1000000) g")
    n = 0
    peak_at = {}
    for row in cur:
        n += 1
        if n in (100000, 900000):
            peak_at[n] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert n == 1000000 and cur.rowcount == 1000000
    # the peak did not grow with the rows read (a materialised result would be ~100 MB)
    assert peak_at[900000] - peak_at[100000] < 20000  # KiB


def test_named_cursor(conn):
    cur = conn.cursor(name="big one")
    cur.itersize = 1000
    cur.execute("select g from generate_series(1, 25000) g where g > %s", (0,))
    assert cur.fetchone() == (1,)
    assert len(cur.fetchmany(10)) == 10
    assert sum(1 for _ in cur) == 25000 - 11
    cur.close()
    conn.commit()


def test_copy(conn):
    cur = conn.cursor()
    cur.execute("create temp table cp(id int, name text, note text)")
    data = "".join("%d\tname %d\t%s\n" % (i, i, "\\N" if i % 10 == 0 else "n") for i in range(100000))
    cur.copy_from(io.StringIO(data), "cp")
    assert cur.rowcount == 100000
    out = io.StringIO()
    cur.copy_to(out, "cp")
    assert out.getvalue() == data
    cur.copy_from(io.BytesIO(b"1|a|x\n2|b|NULL\n"), "cp", sep="|", null="NULL", columns=["id", "name", "note"])
    cur.execute("select note from cp where id = 2 and name = 'b'")
    assert cur.fetchone() == (None,)
    buf = io.BytesIO()
    cur.copy_expert("copy (select id, name from cp where id < 3 order by id, name) to stdout with (format csv, header)",
                    buf)
    assert buf.getvalue() == b"id,name\n0,name 0\n1,a\n1,name 1\n2,b\n2,name 2\n"
    cur.copy_expert("copy cp (id, name) from stdin with (format csv)", io.StringIO("7,seven\n8,eight\n"))
    assert cur.rowcount == 2
    # binary format both ways: out of one table, into another
    cur.execute("create temp table cp2 (like cp)")
    bin_out = io.BytesIO()
    cur.copy_expert("copy cp to stdout with (format binary)", bin_out)
    assert bin_out.getvalue().startswith(b"PGCOPY\n\xff\r\n\0")
    bin_out.seek(0)
    cur.copy_expert("copy cp2 from stdin with (format binary)", bin_out)
    cur.execute("select count(*) from (table cp except all table cp2) x")
    assert cur.fetchone() == (0,)
    with pytest.raises(pg.DataError):
        cur.copy_expert("copy cp from stdin with (format csv)", io.StringIO("x,y,z\n"))
    conn.rollback()


def test_copy_records(conn):
    cur = conn.cursor()
    cur.execute("create temp table cr(id int4, big int8, name text, score float8, flag bool, at timestamptz, "
                "d date, n numeric, u uuid, j jsonb, b bytea, s int2, f float4, v varchar(20))")
    now = dt.datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=dt.timezone.utc)
    recs = [(i, i * 10 ** 12, "name %d" % i, i / 4, i % 2 == 0, now, dt.date(2024, 1, 1) + dt.timedelta(days=i % 300),
             Decimal("%d.25" % i), uuid.UUID(int=i), {"i": i}, bytes([i % 256]) * 3, i % 30000, 1.5, "v%d" % i)
            for i in range(20000)]
    recs.append((None,) * 14)
    assert cur.copy_records("cr", recs) == 20001
    cur.execute("select * from cr order by id nulls last")
    back = cur.fetchall()
    assert back[:-1] == [tuple(r) for r in recs[:-1]] and back[-1] == (None,) * 14
    assert cur.copy_records("cr", [(1, "one")], columns=["id", "name"]) == 1
    with pytest.raises(OverflowError):
        cur.copy_records("cr", [(2 ** 40,)], columns=["id"])
    conn.rollback()  # the failed COPY aborted the transaction, the connection is fine
    cur.execute("select 1")
    assert cur.fetchone() == (1,)


def test_cancel_from_another_thread(conn):
    cur = conn.cursor()
    t = threading.Timer(0.3, conn.cancel)
    t.start()
    t0 = time.monotonic()
    with pytest.raises(pg.OperationalError) as e:
        cur.execute("select pg_sleep(10)")
    assert time.monotonic() - t0 < 1.5 and e.value.sqlstate == "57014"
    conn.rollback()
    cur.execute("select 1")
    assert cur.fetchone() == (1,)


def test_threads_share_a_connection(conn):
    conn.autocommit = True
    errors = []

    def work(k):
        try:
            cur = conn.cursor()
            for i in range(200):
                cur.execute("select %s::int * 2", (k * 1000 + i,))
                assert cur.fetchall() == [((k * 1000 + i) * 2,)]
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert not errors


def test_gil_released_while_waiting(conn):
    ticks = []
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.001)

    t = threading.Thread(target=spin)
    t.start()
    cur = conn.cursor()
    cur.execute("select pg_sleep(0.5)")
    stop.set()
    t.join()
    assert len(ticks) > 100  # the other thread ran during the query


def test_notices(conn):
    cur = conn.cursor()
    cur.execute("do $$ begin raise notice 'hello %', 42; end $$")  # no parameters: % is literal
    assert any("hello 42" in n for n in conn.notices)


def test_shutdown_with_open_connections(dsn):
    code = ("import sys; sys.path.insert(0, %r); import wirebuf.pg as pg\n"
            "c = pg.connect(%r); cur = c.cursor(); cur.execute('select generate_series(1, 100000)')\n"
            "cur.fetchone(); d = pg.connect(%r); d.cursor().execute('begin')\n") % (
        os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(pg.__file__)))), dsn, dsn)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_interleaved_cursors_keep_their_rows(conn):
    a, b = conn.cursor(), conn.cursor()
    a.execute("select generate_series(1, 5000)")  # more rows than execute reads ahead
    assert a.fetchone() == (1,)
    b.execute("create temp table il(x int)")
    b.executemany("insert into il values (%s)", [(1,), (2,)])
    b.copy_from(io.StringIO("3\n"), "il")
    b.execute("select count(*) from il")
    assert b.fetchone() == (3,)
    rest = a.fetchall()
    assert len(rest) == 4999 and rest[-1] == (5000,)


def test_executemany_types_across_rows(conn):
    cur = conn.cursor()
    cur.execute("create temp table mt(a int8, j jsonb, b bytea)")
    # row 0 fits int4, a later row needs int8; Json and None in later rows
    cur.executemany("insert into mt values (%s, %s, %s)",
                    [(1, None, None), (2 ** 40, pg.Json([1, 2]), b"\x00"), (None, {"k": 1}, None)])
    cur.execute("select a, j, b from mt order by a nulls last")
    assert cur.fetchall() == [(1, None, None), (2 ** 40, [1, 2], b"\x00"), (None, {"k": 1}, None)]
    conn.commit()

    class Bad:  # not adaptable (never sent as its str()): ProgrammingError, as psycopg2
        def __str__(self):
            raise RuntimeError("cannot print")

    rows = [(i, None, None) for i in range(3000)] + [(Bad(), None, None)]
    with pytest.raises(pg.ProgrammingError):  # refused before anything is sent
        cur.executemany("insert into mt values (%s, %s, %s)", rows)
    cur.execute("select count(*) from mt")
    assert cur.fetchone() == (3,)  # the transaction goes on
    # a value that fails only while encoding (a lone surrogate is not UTF-8)
    rows = [(i, None, None) for i in range(3000)] + [(5, None, "\ud800")]
    with pytest.raises(pg.ProgrammingError):
        cur.executemany("insert into mt values (%s, %s, %s)", rows)
    conn.rollback()
    cur.execute("select count(*) from mt")
    assert cur.fetchone() == (3,)  # the 3,000 rows sent before the bad one were rolled back
    with pytest.raises(pg.ProgrammingError):
        cur.executemany("insert into mt values (%s, %s, %s)", [(1, None, None), (2, None)])
