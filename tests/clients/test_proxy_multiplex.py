#!/usr/bin/python3
"""Many client sessions multiplexed over few server connections, through the
transaction-pooling proxy of scripts/with_proxy.sh (WB_PG_TARGET=proxy; the
pool has WB_PROXY_POOL_SIZE server connections, fewer than the sessions
here). Every session prepares statements of its own under the same names
the others use (protocol-level Parse with a name: asyncpg, psycopg 3 with
prepare_threshold=0; SQL PREPARE/EXECUTE/DEALLOCATE: psycopg2) and checks
that each answer is its own; session parameters (TimeZone,
application_name) stay per session; DISCARD ALL and DEALLOCATE keep the
bookkeeping true; the server backends the sessions saw (pg_backend_pid())
are never more than the pool size; SQLAlchemy reflects the schema through
the proxy.

Also runs against with_pg.sh / with_serve.sh (the pool-size bound is then
not checked): the answers are the same.

PgBouncer 1.18 in transaction mode (WB_PROXY_BIN=pgbouncer) fails the
prepared-statement checks: that is the breakage the wirebuf proxy fixes.
"""
import asyncio
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clienttest import check, eq, env, main, need  # noqa: E402

E = env()
POOL = int(os.environ.get("WB_PROXY_POOL_SIZE", "0")) if E["target"] == "proxy" else 0
SESSIONS = int(os.environ.get("WB_MULTIPLEX_SESSIONS", "12"))
ROUNDS = int(os.environ.get("WB_MULTIPLEX_ROUNDS", "40"))


def bound_backends(pids, what):
    """The sessions ran on at most POOL server backends (through the proxy)."""
    eq(len(pids) > 0, True, "%s: backends seen" % what)
    if POOL:
        if len(pids) > POOL:
            raise AssertionError("%s: %d sessions ran on %d server backends, pool size %d"
                                 % (what, SESSIONS, len(pids), POOL))


def in_threads(n, work):
    errors = []

    def wrap(i):
        try:
            work(i)
        except Exception as e:  # collected and reported by the check
            errors.append("session %d: %s: %s" % (i, type(e).__name__, str(e).strip().splitlines()[0]
                                                   if str(e).strip() else ""))
    ts = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise AssertionError("%d of %d sessions failed; first: %s" % (len(errors), n, errors[0]))


def setup():
    psycopg2 = need("psycopg2")
    c = psycopg2.connect(host=E["host"], port=E["port"], dbname=E["db"], user=E["user"],
                         password=E["password"], connect_timeout=10)
    c.autocommit = True
    cur = c.cursor()
    cur.execute("DROP TABLE IF EXISTS mx_kv")
    cur.execute("CREATE TABLE mx_kv (id int4 primary key, v text not null)")
    cur.execute("INSERT INTO mx_kv SELECT g, 'v' || g FROM generate_series(1, 1000) g")
    c.close()


@check
def asyncpg_statement_cache():
    """asyncpg names and caches a server-side statement per query text
    (__asyncpg_stmt_N__): sessions with the same names, different texts,
    all interleaved, some in explicit transactions."""
    asyncpg = need("asyncpg")

    async def session(i, pids):
        c = await asyncpg.connect(host=E["host"], port=E["port"], database=E["db"], user=E["user"],
                                  password=E["password"], timeout=10)
        try:
            # the same text in every session, and one text of its own
            own = "SELECT $1::int4 + %d, 's%d'" % (i * 1000, i)
            for r in range(ROUNDS):
                k = (i * 37 + r) % 1000 + 1
                eq(await c.fetchval("SELECT v FROM mx_kv WHERE id = $1", k), "v%d" % k, "shared text")
                eq(tuple(await c.fetchrow(own, r)), (i * 1000 + r, "s%d" % i), "own text")
                pids.add(await c.fetchval("SELECT pg_backend_pid()"))
                if r % 5 == 0:
                    async with c.transaction():
                        st = await c.prepare("SELECT $1::text || '/' || $2::int4")
                        eq(await st.fetchval("t%d" % i, r), "t%d/%d" % (i, r), "in a transaction")
                        eq(await c.fetchval(own, -r), i * 1000 - r, "own text in a transaction")
                await asyncio.sleep(0)
            # a long-lived prepared statement object, used across many transactions
            st = await c.prepare("SELECT $1::int8 * %d" % (i + 2))
            for r in range(ROUNDS):
                eq(await st.fetchval(r), r * (i + 2), "long-lived statement")
        finally:
            await c.close()

    async def go():
        pids = set()
        await asyncio.gather(*(session(i, pids) for i in range(SESSIONS)))
        return pids
    pids = asyncio.run(asyncio.wait_for(go(), 50))
    bound_backends(pids, "asyncpg")


@check
def psycopg3_prepare_threshold_zero():
    """psycopg 3 prepares every statement server-side (named _pg3_N, the
    same names in every session), threads interleaving."""
    psycopg = need("psycopg")
    pids = set()
    lock = threading.Lock()

    def work(i):
        with psycopg.connect(host=E["host"], port=E["port"], dbname=E["db"], user=E["user"],
                             password=E["password"], connect_timeout=10, autocommit=True,
                             prepare_threshold=0) as c:
            for r in range(ROUNDS):
                k = (i * 53 + r) % 1000 + 1
                eq(c.execute("SELECT v FROM mx_kv WHERE id = %s", (k,)).fetchone(), ("v%d" % k,), "shared text")
                eq(c.execute("SELECT %%s::int4 * %d" % (i + 1), (r,)).fetchone(), (r * (i + 1),), "own text")
                if r % 4 == 0:
                    with c.transaction():
                        eq(c.execute("SELECT %s::text", ("x%d" % i,)).fetchone(), ("x%d" % i,), "transaction")
                        eq(c.execute("SELECT %%s::int4 * %d" % (i + 1), (-r,)).fetchone(), (-r * (i + 1),),
                           "own text in a transaction")
                with lock:
                    pids.add(c.execute("SELECT pg_backend_pid()").fetchone()[0])
    in_threads(SESSIONS, work)
    bound_backends(pids, "psycopg 3")


@check
def sql_prepare_execute():
    """SQL PREPARE q / EXECUTE q / DEALLOCATE q: the same name in every
    session, a different body each; redefined after DEALLOCATE; gone after
    DISCARD ALL (26000); DEALLOCATE ALL."""
    psycopg2 = need("psycopg2")
    pids = set()
    lock = threading.Lock()

    def work(i):
        c = psycopg2.connect(host=E["host"], port=E["port"], dbname=E["db"], user=E["user"],
                             password=E["password"], connect_timeout=10)
        c.autocommit = True
        cur = c.cursor()
        try:
            cur.execute("PREPARE q(int4) AS SELECT $1 + %d, v FROM mx_kv WHERE id = $1" % (i * 10000))
            for r in range(1, ROUNDS + 1):
                cur.execute("EXECUTE q(%s)", (r,))
                eq(cur.fetchone(), (r + i * 10000, "v%d" % r), "EXECUTE q")
                with lock:
                    cur.execute("SELECT pg_backend_pid()")
                    pids.add(cur.fetchone()[0])
            cur.execute("DEALLOCATE q")
            cur.execute("PREPARE q(text) AS SELECT $1 || '-%d'" % i)
            cur.execute("EXECUTE q('again')")
            eq(cur.fetchone(), ("again-%d" % i,), "redefined after DEALLOCATE")
            # in an explicit transaction, twice
            c.autocommit = False
            cur.execute("EXECUTE q('tx')")
            eq(cur.fetchone(), ("tx-%d" % i,), "in a transaction")
            cur.execute("EXECUTE q('tx2')")
            eq(cur.fetchone(), ("tx2-%d" % i,), "in a transaction, again")
            c.commit()
            c.autocommit = True
            cur.execute("PREPARE q2 AS SELECT %d" % i)
            cur.execute("DEALLOCATE ALL")
            for name in ("q('x')", "q2"):
                try:
                    cur.execute("EXECUTE " + name)
                    raise AssertionError("EXECUTE %s after DEALLOCATE ALL answered %r" % (name, cur.fetchall()))
                except psycopg2.Error as e:
                    eq(e.pgcode, "26000", "EXECUTE %s after DEALLOCATE ALL" % name)
            cur.execute("PREPARE q3 AS SELECT 'q3-%d'" % i)
            cur.execute("EXECUTE q3")
            eq(cur.fetchone(), ("q3-%d" % i,), "q3")
            cur.execute("DISCARD ALL")
            try:
                cur.execute("EXECUTE q3")
                raise AssertionError("EXECUTE q3 after DISCARD ALL answered %r" % (cur.fetchall(),))
            except psycopg2.Error as e:
                eq(e.pgcode, "26000", "EXECUTE q3 after DISCARD ALL")
            cur.execute("PREPARE q3 AS SELECT 'q3 again-%d'" % i)
            cur.execute("EXECUTE q3")
            eq(cur.fetchone(), ("q3 again-%d" % i,), "q3 prepared again after DISCARD ALL")
        finally:
            c.close()
    in_threads(SESSIONS, work)
    bound_backends(pids, "PREPARE/EXECUTE")


@check
def session_parameters():
    """SET TimeZone / application_name / DateStyle per session: each session
    sees its own values whichever server connection runs its statement."""
    psycopg2 = need("psycopg2")
    zones = ["UTC", "Europe/Paris", "Asia/Tokyo", "America/New_York", "Australia/Sydney", "Africa/Cairo"]

    def work(i):
        c = psycopg2.connect(host=E["host"], port=E["port"], dbname=E["db"], user=E["user"],
                             password=E["password"], connect_timeout=10)
        c.autocommit = True
        cur = c.cursor()
        try:
            zone = zones[i % len(zones)]
            ds = "SQL, DMY" if i % 2 else "ISO, MDY"
            cur.execute("SET TimeZone = '%s'" % zone)
            cur.execute("SET application_name = 'mx_session_%d'" % i)
            cur.execute("SET DateStyle = '%s'" % ds)
            for r in range(ROUNDS):
                cur.execute("SELECT current_setting('TimeZone'), current_setting('application_name'), "
                            "current_setting('DateStyle')")
                eq(cur.fetchone(), (zone, "mx_session_%d" % i, ds), "settings in round %d" % r)
            eq(c.get_parameter_status("application_name"), "mx_session_%d" % i, "ParameterStatus")
        finally:
            c.close()
    in_threads(SESSIONS, work)


@check
def sqlalchemy_reflection():
    """SQLAlchemy (psycopg2 dialect, a pool of connections) reflects tables,
    columns, keys and indexes through the proxy, from threads at once."""
    sa = need("sqlalchemy")
    need("psycopg2")
    url = sa.engine.URL.create("postgresql+psycopg2", username=E["user"], password=E["password"],
                               host=E["host"], port=E["port"], database=E["db"])
    eng = sa.create_engine(url, pool_size=SESSIONS, max_overflow=0)
    try:
        with eng.begin() as c:
            c.execute(sa.text("DROP TABLE IF EXISTS mx_child, mx_parent"))
            c.execute(sa.text("CREATE TABLE mx_parent (id int4 PRIMARY KEY, name varchar(40) NOT NULL UNIQUE)"))
            c.execute(sa.text("CREATE TABLE mx_child (id bigserial PRIMARY KEY, parent_id int4 NOT NULL "
                              "REFERENCES mx_parent (id), note text, created timestamptz DEFAULT now())"))
            c.execute(sa.text("CREATE INDEX mx_child_parent ON mx_child (parent_id, created)"))

        def work(i):
            insp = sa.inspect(eng)
            names = set(insp.get_table_names())
            eq({"mx_parent", "mx_child"} <= names, True, "tables %r" % sorted(names))
            cols = [(col["name"], str(col["type"]), col["nullable"]) for col in insp.get_columns("mx_child")]
            eq(cols, [("id", "BIGINT", False), ("parent_id", "INTEGER", False), ("note", "TEXT", True),
                      ("created", "TIMESTAMP", True)], "columns")
            eq(insp.get_pk_constraint("mx_child")["constrained_columns"], ["id"], "primary key")
            fks = insp.get_foreign_keys("mx_child")
            eq([(f["constrained_columns"], f["referred_table"], f["referred_columns"]) for f in fks],
               [(["parent_id"], "mx_parent", ["id"])], "foreign keys")
            eq([(x["name"], x["column_names"]) for x in insp.get_indexes("mx_child")],
               [("mx_child_parent", ["parent_id", "created"])], "indexes")
            eq([u["column_names"] for u in insp.get_unique_constraints("mx_parent")], [["name"]], "unique")
            md = sa.MetaData()
            t = sa.Table("mx_child", md, autoload_with=eng)
            eq([c.name for c in t.columns], ["id", "parent_id", "note", "created"], "autoload")
        in_threads(min(SESSIONS, 6), work)
    finally:
        eng.dispose()


if __name__ == "__main__":
    main(setup)
