#!/usr/bin/python3
"""asyncpg (Debian python3-asyncpg: binary protocol, extended query only)
against the target of scripts/with_serve.sh or scripts/with_pg.sh: codecs of
the built-in types (asyncpg introspects what it does not know), prepared
statements with ParameterDescription, cursors with prefetch (Execute with a
row limit, PortalSuspended), copy_records_to_table (binary COPY), a timeout
that sends CancelRequest."""
import asyncio
import datetime
import decimal
import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clienttest import check, eq, env, main, need  # noqa: E402

asyncpg = need("asyncpg")

E = env()


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 50))


async def connect():
    return await asyncpg.connect(host=E["host"], port=E["port"], database=E["db"],
                                 user=E["user"], password=E["password"], timeout=10)


@check
def builtin_types():
    async def go():
        c = await connect()
        try:
            await c.execute("DROP TABLE IF EXISTS ap_types")
            await c.execute("""CREATE TABLE ap_types (id int4, a int2, b int8, c float4, d float8,
                e numeric(20,6), f text, g varchar(5), h char(3), i bool, j bytea, k date, l time,
                m timestamp, n timestamptz, o interval, p uuid, q json, r jsonb, s text[], t int4[])""")
            tz = datetime.timezone.utc
            row = (1, 2, -(2 ** 63), 1.25, 3.5e-10, decimal.Decimal("12345678901234.000001"),
                   "tëxt", "abc", "xy ", True, b"\x00\x10\xff", datetime.date(2000, 1, 1),
                   datetime.time(12, 30), datetime.datetime(2020, 5, 17, 8, 9, 10, 11),
                   datetime.datetime(2021, 1, 1, tzinfo=tz), datetime.timedelta(days=400, seconds=3),
                   uuid.UUID(int=0x1234), '{"j": 1}', '{"k": [1, 2]}', ["a", None, "c"], [1, 2])
            await c.execute("INSERT INTO ap_types VALUES (%s)" % ", ".join("$%d" % i for i in range(1, 22)), *row)
            got = await c.fetchrow("SELECT * FROM ap_types")
            for i, w in enumerate(row):
                eq(got[i], w, "column %s" % list(got.keys())[i])
            # server-inferred parameter types (ParameterDescription)
            st = await c.prepare("SELECT $1::int8 + $2, $3 || 'x', $4::numeric * 2")
            eq([t.name for t in st.get_parameters()], ["int8", "int8", "text", "numeric"], "parameter types")
            eq([a.type.name for a in st.get_attributes()], ["int8", "text", "numeric"], "result types")
            eq(tuple(await st.fetchrow(40, 2, "y", decimal.Decimal("1.5"))),
               (42, "yx", decimal.Decimal("3.0")), "values")
            st = await c.prepare("SELECT * FROM ap_types WHERE id = $1 AND f = $2")
            eq([t.name for t in st.get_parameters()], ["int4", "text"], "inferred from the columns")
            eq(await c.fetchval("SELECT $1::int4[]", [1, None, 3]), [1, None, 3], "array parameter")
            eq(await c.fetchval("SELECT count(*) FROM ap_types WHERE id = ANY($1)", [1, 5]), 1, "= ANY($1)")
        finally:
            await c.close()
    run(go())


@check
def prepared_statements():
    async def go():
        c = await connect()
        try:
            await c.execute("DROP TABLE IF EXISTS ap_prep")
            await c.execute("CREATE TABLE ap_prep (id int4 primary key, name text, score float8)")
            ins = await c.prepare("INSERT INTO ap_prep VALUES ($1, $2, $3)")
            for i in range(200):
                await ins.fetch(i, "n%d" % i, i / 2)
            await c.executemany("INSERT INTO ap_prep VALUES ($1, $2, $3)",
                                [(i, "m%d" % i, None) for i in range(200, 400)])
            sel = await c.prepare("SELECT name, score FROM ap_prep WHERE id = $1")
            eq(tuple(await sel.fetchrow(7)), ("n7", 3.5), "row 7")
            eq(tuple(await sel.fetchrow(300)), ("m300", None), "row 300")
            eq(await sel.fetchrow(1000), None, "no row")
            eq(await c.fetchval("SELECT count(*) FROM ap_prep"), 400, "count")
            try:
                await ins.fetch(1, "dup", 0)
                raise AssertionError("duplicate key accepted")
            except asyncpg.UniqueViolationError as e:
                eq(e.sqlstate, "23505", "SQLSTATE")
            eq(await sel.fetchval(1), "n1", "after the error")
        finally:
            await c.close()
    run(go())


@check
def cursors_with_prefetch():
    async def go():
        c = await connect()
        try:
            n = s = 0
            async with c.transaction():
                async for r in c.cursor("SELECT g, 'r' || g FROM generate_series(1, 5000) g", prefetch=137):
                    n += 1
                    s += r[0]
                    if r[1] != "r%d" % r[0]:
                        raise AssertionError("row %r" % (r,))
                cur = await c.cursor("SELECT g FROM generate_series(1, 100) g")
                eq([r[0] for r in await cur.fetch(5)], [1, 2, 3, 4, 5], "fetch 5")
                await cur.forward(10)
                eq(await cur.fetchrow(), (16,), "after forward 10")
            eq((n, s), (5000, 5000 * 5001 // 2), "rows through the cursor")
        finally:
            await c.close()
    run(go())


@check
def copy_records_to_table():
    async def go():
        c = await connect()
        try:
            await c.execute("DROP TABLE IF EXISTS ap_copy")
            await c.execute("CREATE TABLE ap_copy (id int8, t text, f float8, ts timestamp)")
            base = datetime.datetime(2024, 1, 1)
            recs = [(i, "t%d" % i, i * 0.125, base + datetime.timedelta(seconds=i)) for i in range(20000)]
            res = await c.copy_records_to_table("ap_copy", records=recs)
            eq(res, "COPY 20000", "command tag")
            eq(await c.fetchval("SELECT sum(id) FROM ap_copy"), 20000 * 19999 // 2, "sum(id)")
            eq(tuple(await c.fetchrow("SELECT * FROM ap_copy WHERE id = 19999")), recs[19999], "last record")
            import io
            buf = io.BytesIO()
            await c.copy_from_query("SELECT id, t FROM ap_copy WHERE id < 3 ORDER BY id", output=buf, format="csv")
            eq(buf.getvalue(), b"0,t0\n1,t1\n2,t2\n", "copy_from_query csv")
        finally:
            await c.close()
    run(go())


@check
def timeout_sends_cancel():
    async def go():
        c = await connect()
        try:
            t0 = time.monotonic()
            try:
                await c.fetchval("SELECT pg_sleep(20)", timeout=0.5)
                raise AssertionError("no timeout")
            except asyncio.TimeoutError:
                pass
            # asyncpg cancels the statement with a CancelRequest and waits for it
            eq(await c.fetchval("SELECT 7", timeout=5), 7, "the connection after the timeout")
            dt = time.monotonic() - t0
            eq(dt < 5, True, "timeout + cancel took %.1f s" % dt)
            try:
                await c.execute("SET statement_timeout = 200; SELECT pg_sleep(20)")
                raise AssertionError("statement_timeout not enforced")
            except asyncpg.QueryCanceledError as e:
                eq(e.sqlstate, "57014", "SQLSTATE")
        finally:
            await c.close()
    run(go())


@check
def concurrent_connections():
    async def go():
        pool = await asyncpg.create_pool(host=E["host"], port=E["port"], database=E["db"],
                                         user=E["user"], password=E["password"], min_size=4, max_size=8)
        try:
            async def one(i):
                async with pool.acquire() as c:
                    return await c.fetchval("SELECT $1::int4 * 2", i)
            got = await asyncio.gather(*(one(i) for i in range(200)))
            eq(got, [i * 2 for i in range(200)], "results")
        finally:
            await pool.close()
    run(go())


@check
def databases():
    async def go():
        try:
            c = await asyncpg.connect(host=E["host"], port=E["port"], database="wb_no_such_db",
                                      user=E["user"], password=E["password"], timeout=10)
            await c.close()
            raise AssertionError("connected to a missing database")
        except asyncpg.InvalidCatalogNameError as e:
            eq(e.sqlstate, "3D000", "SQLSTATE")
        c = await connect()
        try:
            await c.execute("DROP DATABASE IF EXISTS wb_ap_extra")
            await c.execute("CREATE DATABASE wb_ap_extra")
            d = await asyncpg.connect(host=E["host"], port=E["port"], database="wb_ap_extra",
                                      user=E["user"], password=E["password"], timeout=10)
            try:
                await d.execute("CREATE TABLE only_here (v int4)")
                await d.execute("INSERT INTO only_here VALUES (1), (2)")
                eq(await d.fetchval("SELECT sum(v) FROM only_here"), 2 + 1, "table in the new database")
            finally:
                await d.close()
            try:
                await c.fetchval("SELECT count(*) FROM only_here")
                raise AssertionError("a table of another database is visible")
            except asyncpg.UndefinedTableError as e:
                eq(e.sqlstate, "42P01", "SQLSTATE")
            # a pooling proxy keeps its server connection to the database
            # after the client left (PgBouncer too): FORCE ends it, and the
            # proxy must notice and not hand out the dead connection
            await c.execute("DROP DATABASE wb_ap_extra" + (" WITH (FORCE)" if E["target"] == "proxy" else ""))
            try:
                d = await asyncpg.connect(host=E["host"], port=E["port"], database="wb_ap_extra",
                                          user=E["user"], password=E["password"], timeout=10)
                if E["target"] != "proxy":
                    await d.close()
                    raise AssertionError("connected to a dropped database")
                # a proxy that knows the pool may accept the login (PgBouncer
                # does): the first statement must then fail, never answer
                try:
                    v = await d.fetchval("SELECT 1")
                    raise AssertionError("a statement in a dropped database answered %r" % v)
                except (asyncpg.PostgresError, asyncpg.InterfaceError):
                    pass
                finally:
                    await d.close()
            except asyncpg.InvalidCatalogNameError:
                pass
        finally:
            await c.close()
    run(go())


if __name__ == "__main__":
    main()
