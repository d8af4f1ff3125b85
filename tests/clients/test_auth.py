#!/usr/bin/python3
"""Authentication with real clients against the target of
scripts/with_serve.sh or scripts/with_pg.sh: cleartext password, md5 and
SCRAM-SHA-256 (asyncpg and libpq/psycopg2), a wrong password (28P01), and
over TLS (WB_PG_CA) libpq's sslmode=verify-full with channel_binding=require
(SCRAM-SHA-256-PLUS).

Against PostgreSQL (with_pg.sh) the roles wb_clear, wb_md5 and wb_scram use
password, md5 and scram-sha-256. `wirebuf serve` has one method for all
connections: run with WB_SERVE_AUTH=password|md5|scram-sha-256 (and
WB_SERVE_TLS=1 for the TLS checks); the passwords file has every role. The
same through scripts/with_proxy.sh with WB_PROXY_AUTH and WB_PROXY_TLS=1."""
import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clienttest import check, eq, env, main, need, skip  # noqa: E402

asyncpg = need("asyncpg")
psycopg2 = need("psycopg2")

E = env()
ROLE = {"password": "wb_clear", "md5": "wb_md5", "scram-sha-256": "wb_scram"}
if E["target"] in ("serve", "proxy"):
    # one method at the front for all connections (the proxy logs in upstream
    # with the method PostgreSQL's pg_hba.conf gives each role)
    var = "WB_SERVE_AUTH" if E["target"] == "serve" else "WB_PROXY_AUTH"
    method = os.environ.get(var, "")
    if method not in ROLE:
        skip("run under %s=password|md5|scram-sha-256 scripts/with_%s.sh" % (var, E["target"]))
    METHODS = [method]
else:
    METHODS = list(ROLE)
CA = os.environ.get("WB_PG_CA", "")


async def aconnect(role, password, tcp):
    return await asyncpg.connect(host=E["addr"] if tcp else E["host"], port=E["port"], database=E["db"],
                                 user=role, password=password, timeout=10, ssl=False)


@check
def asyncpg_right_password():
    async def go():
        for m in METHODS:
            for tcp in (False, True):
                c = await aconnect(ROLE[m], E["password"], tcp)
                eq(await c.fetchval("SELECT 6 * 7"), 42, m)
                eq(c.get_settings().session_authorization, ROLE[m], "session_authorization")
                await c.close()
    asyncio.run(go())


@check
def asyncpg_wrong_password():
    async def go():
        for m in METHODS:
            try:
                c = await aconnect(ROLE[m], "not the password", True)
                await c.close()
                raise AssertionError("%s: wrong password accepted" % m)
            except asyncpg.InvalidPasswordError as e:
                eq(e.sqlstate, "28P01", m)
            try:
                c = await aconnect("wb_nosuch_role", E["password"], True)
                await c.close()
                raise AssertionError("%s: unknown role accepted" % m)
            except asyncpg.PostgresError as e:
                eq(e.sqlstate in ("28P01", "28000"), True, "%s: unknown role: %s" % (m, e.sqlstate))
    asyncio.run(go())


@check
def libpq_methods():
    for m in METHODS:
        c = psycopg2.connect(host=E["addr"], port=E["port"], dbname=E["db"], user=ROLE[m],
                             password=E["password"], sslmode="disable", connect_timeout=10)
        cur = c.cursor()
        cur.execute("SELECT 1")
        eq(cur.fetchone(), (1,), m)
        eq(c.get_parameter_status("session_authorization"), ROLE[m], "session_authorization")
        c.close()
        try:
            psycopg2.connect(host=E["addr"], port=E["port"], dbname=E["db"], user=ROLE[m],
                             password="wrong", sslmode="disable", connect_timeout=10).close()
            raise AssertionError("%s: wrong password accepted" % m)
        except psycopg2.OperationalError as e:
            eq("password authentication failed" in str(e), True, "%s: message %r" % (m, str(e)))


@check
def libpq_tls_channel_binding():
    if not CA:
        print("     (no WB_PG_CA: the server has no certificate; TLS not checked)")
        return
    for m in METHODS:
        kw = dict(host="localhost", port=E["port"], dbname=E["db"], user=ROLE[m], password=E["password"],
                  sslmode="verify-full", sslrootcert=CA, connect_timeout=10)
        if m == "scram-sha-256":
            kw["channel_binding"] = "require"
        c = psycopg2.connect(**kw)
        eq(c.info.ssl_in_use, True, "%s: TLS in use" % m)
        cur = c.cursor()
        cur.execute("SELECT 'over tls'")
        eq(cur.fetchone(), ("over tls",), m)
        c.close()


if __name__ == "__main__":
    main()
