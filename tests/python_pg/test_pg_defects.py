"""Regression tests for the wirebuf.pg defects of issue 13, each against
the real PostgreSQL 15 of scripts/with_pg.sh (or a fake server where the
fault cannot be made on a real one)."""
import datetime as dt
import os
import socket
import struct
import tempfile
import threading

import pytest

import wirebuf.pg as pg


def test_commit_keeps_open_cursor_rows(conn):
    # 3. a cursor's rows belong to the cursor: commit() moves them into it
    cur = conn.cursor()
    cur.execute("select generate_series(1, 5000)")
    assert cur.fetchone() == (1,)
    conn.commit()
    rest = cur.fetchall()
    assert len(rest) == 4999 and rest[0] == (2,) and rest[-1] == (5000,)
    cur.execute("select generate_series(1, 3000)")
    cur.fetchmany(10)
    conn.rollback()
    assert len(cur.fetchall()) == 2990


def test_executemany_mixed_int_float(conn):
    # 4. the parameter type of a column is the widest any row needs
    cur = conn.cursor()
    cur.execute("create temp table m(x float8, n numeric, b int8)")
    cur.executemany("insert into m values (%s, %s, %s)",
                    [(1, 1, 1), (1.5, 2 ** 70, 2 ** 40), (None, 2.25, None), (2 ** 33, 3, 5)])
    cur.execute("select x, n, b from m order by x nulls last")
    rows = cur.fetchall()
    assert [r[0] for r in rows] == [1.0, 1.5, float(2 ** 33), None]
    assert sorted(str(r[1]) for r in rows) == sorted(["1", str(2 ** 70), "2.25", "3"])
    assert sorted(r[2] for r in rows if r[2] is not None) == [1, 5, 2 ** 40]
    conn.rollback()


def test_statement_cache_after_ddl(conn):
    # 5. outside a transaction: re-prepared and retried
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("drop table if exists d; create table d(a int4)")
    cur.execute("insert into d values (%s)", (7,))
    cur.execute("select * from d")
    assert cur.fetchall() == [(7,)]
    cur.execute("alter table d alter column a type text")
    cur.execute("select * from d")
    assert cur.fetchall() == [("7",)]
    # the stale statement is gone from the server too
    cur.execute("select count(*) from pg_prepared_statements where statement = 'select * from d'")
    assert cur.fetchone() == (1,)
    # first statement of a transaction: the transaction starts again
    conn.autocommit = False
    cur.execute("select * from d")
    cur.fetchall()
    conn.commit()
    cur.execute("alter table d alter column a type int8 using a::int8")
    conn.commit()
    cur.execute("select * from d")
    assert cur.fetchall() == [(7,)]
    conn.commit()
    # later in a transaction: no retry (work would be lost), a clear error
    cur.execute("select 1")
    cur.execute("select * from d")
    cur.fetchall()
    conn.commit()
    cur.execute("alter table d alter column a type text")
    conn.commit()
    cur.execute("insert into d values ('8')")
    with pytest.raises(pg.NotSupportedError) as e:
        cur.execute("select * from d")
    assert "cached plan must not change result type" in str(e.value) and "roll back" in str(e.value)
    conn.rollback()
    cur.execute("select * from d")
    assert cur.fetchall() == [("7",)]
    conn.autocommit = True
    cur.execute("drop table d")


def test_latin1_server_text(dsn):
    # 9. a server speaking Latin-1: pg.Error with the message, not UnicodeDecodeError
    c = pg.connect(dsn + " client_encoding=LATIN1")
    cur = c.cursor()
    with pytest.raises(pg.Error) as e:
        cur.execute("do $$ begin raise exception using message = 'caf' || chr(233), errcode = '22023'; end $$")
    assert e.value.sqlstate == "22023" and str(e.value).startswith("caf")
    c.close()


def _fake_server(reply):
    """A PostgreSQL-speaking fake on a Unix socket: answers the startup with
    `reply`, then closes. Returns (dsn, thread)."""
    d = tempfile.mkdtemp(prefix="wb_pyfake_")
    path = os.path.join(d, ".s.PGSQL.5432")
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(path)
    ls.listen(1)

    def serve():
        s, _ = ls.accept()
        s.recv(65536)
        s.sendall(reply)
        s.close()
        ls.close()
        os.unlink(path)
        os.rmdir(d)

    t = threading.Thread(target=serve)
    t.start()
    return "host=%s port=5432 user=x dbname=x" % d, t


def _error_response(fields):
    body = b"".join(k + v + b"\0" for k, v in fields) + b"\0"
    return b"E" + struct.pack("!I", len(body) + 4) + body


def test_latin1_fatal_during_startup():
    dsn, t = _fake_server(_error_response([(b"S", b"FATAL"), (b"V", b"FATAL"), (b"C", b"28000"),
                                           (b"M", "r\xf4le \xab x \xbb n'existe pas".encode("latin-1"))]))
    with pytest.raises(pg.OperationalError) as e:
        pg.connect(dsn)
    t.join()
    assert e.value.sqlstate == "28000" and "n'existe pas" in str(e.value)


def test_fieldless_error_response():
    # 11. an ErrorResponse with no fields: the message says so
    dsn, t = _fake_server(_error_response([]))
    with pytest.raises(pg.Error) as e:
        pg.connect(dsn)
    t.join()
    assert "without any fields" in str(e.value)


def test_values_out_of_python_range(conn):
    # 10. exact, or DataError naming the column and the value
    cur = conn.cursor()
    cur.execute("select '999999999 days'::interval as ok")
    assert cur.fetchone() == (dt.timedelta(days=999999999),)
    for lit in ("178000000 years", "2147483647 months", "-178000000 years"):
        with pytest.raises(pg.DataError) as e:
            cur.execute("select '%s'::interval as big" % lit)
            cur.fetchall()
        assert '"big"' in str(e.value) and "outside datetime.timedelta's range" in str(e.value)
    cur.execute("select '-1 days -00:00:01'::interval")
    assert cur.fetchone() == (dt.timedelta(days=-1, seconds=-1),)


def test_unadaptable_parameters(conn):
    # 11. never str() an arbitrary object into a parameter
    cur = conn.cursor()
    for bad in (object(), {1, 2}):
        with pytest.raises(pg.ProgrammingError) as e:
            cur.execute("select %s", (bad,))
        assert "can't adapt" in str(e.value)
    # executemany refuses it before sending anything: the transaction goes on
    cur.execute("create temp table ua(a int4)")
    with pytest.raises(pg.ProgrammingError) as e:
        cur.executemany("insert into ua values (%s)", [(1,), (object(),)])
    assert "row 1" in str(e.value)
    cur.execute("select count(*) from ua")
    assert cur.fetchone() == (0,)
    conn.rollback()
    cur.execute("select 1")
    assert cur.fetchone() == (1,)


def test_cancel_races_close(dsn):
    # §2: cancel() from one thread while another closes the connection and
    # reads parameters: never touches freed memory (the cancel key is a copy)
    for _ in range(20):
        c = pg.connect(dsn)
        stop = threading.Event()

        def worker():
            while not stop.is_set():
                try:
                    c.cancel()
                    c.get_parameter_status("application_name")
                except pg.Error:
                    pass

        th = threading.Thread(target=worker)
        th.start()
        cur = c.cursor()
        try:
            cur.execute("set application_name = 'x'")
        except pg.Error:
            pass
        c.close()
        stop.set()
        th.join()


def test_copy_outcome_unknown():
    # 8. the connection drops after CopyDone, before CommandComplete: the
    # error says the rows may be committed, not that nothing was
    import io
    d = tempfile.mkdtemp(prefix="wb_pycopy_")
    path = os.path.join(d, ".s.PGSQL.5432")
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(path)
    ls.listen(1)

    def msg(t, body):
        return t + struct.pack("!I", len(body) + 4) + body

    def serve():
        s, _ = ls.accept()
        f = s.makefile("rb")
        n = struct.unpack("!I", f.read(4))[0]
        f.read(n - 4)
        s.sendall(msg(b"R", b"\0\0\0\0") + msg(b"K", b"\0\0\0\1\0\0\0\2") +
                  msg(b"S", b"server_version\x0015.0\0") + msg(b"Z", b"I"))
        while True:
            t = f.read(1)
            if not t:
                break
            n = struct.unpack("!I", f.read(4))[0]
            f.read(n - 4)
            if t == b"Q":
                s.sendall(msg(b"G", b"\0\0\0"))
            elif t == b"c":
                break
        f.close()
        s.close()

    t = threading.Thread(target=serve)
    t.start()
    c = pg.connect("host=%s port=5432 user=x dbname=x" % d)
    c.autocommit = True
    with pytest.raises(pg.OperationalError) as e:
        c.cursor().copy_from(io.StringIO("1\tx\n2\ty\n"), "t")
    t.join()
    ls.close()
    os.unlink(path)
    os.rmdir(d)
    assert "outcome unknown" in str(e.value) and "may have been committed" in str(e.value)


def test_garbage_scram_message():
    # 9. non-UTF-8 garbage in a SCRAM server-first-message: a pg.Error that
    # keeps the text (decoded with replacement), not UnicodeDecodeError
    d = tempfile.mkdtemp(prefix="wb_pyscram_")
    path = os.path.join(d, ".s.PGSQL.5432")
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(path)
    ls.listen(1)

    def msg(t, body):
        return t + struct.pack("!I", len(body) + 4) + body

    def serve():
        s, _ = ls.accept()
        s.recv(65536)  # StartupMessage
        s.sendall(msg(b"R", struct.pack("!I", 10) + b"SCRAM-SHA-256\0\0"))
        s.recv(65536)  # SASLInitialResponse
        s.sendall(msg(b"R", struct.pack("!I", 11) + b"r=\xff\xfe\xe9garbage,s=\xff,i=x"))
        try:
            s.recv(65536)
        except OSError:
            pass
        s.close()

    t = threading.Thread(target=serve)
    t.start()
    with pytest.raises(pg.OperationalError) as e:
        pg.connect("host=%s port=5432 user=x dbname=x password=secret" % d)
    t.join()
    ls.close()
    os.unlink(path)
    os.rmdir(d)
    assert "SCRAM" in str(e.value) and "garbage" in str(e.value)
