#!/usr/bin/python3
"""10,000 idle clients through the pooling proxy of scripts/with_proxy.sh
(run it with WB_PROXY_MAX_CLIENTS above WB_IDLE_CLIENTS): every client
completes startup (StartupMessage ... ReadyForQuery, trust) over the
proxy's Unix socket with a small raw-socket opener (asyncio, 64 at a time)
and stays idle. Then, with all of them open:
  - the proxy's RSS (/proc/WB_PROXY_PID/status VmRSS) is under
    WB_IDLE_RSS_MB (default 64: a generous bound; PgBouncer 1.18 needs
    about 13 MB for 10,000 here);
  - the upstream has no more client backends for the pool's database than
    the pool size (idle clients hold no server connection);
  - a new client gets an answer, and a sample of the idle clients answer a
    query on their own connection (each its own value);
  - then every client runs a query and goes idle again: the RSS bound still
    holds (the read and write buffers of idle clients are given back).
Prints the figures (clients, connect seconds, RSS before/idle, KB a
client). WB_IDLE_CLIENTS (default 10000) sets the count; the descriptor
limit is raised to fit.
"""
import asyncio
import os
import resource
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clienttest import check, eq, env, main, need, skip  # noqa: E402

E = env()
N = int(os.environ.get("WB_IDLE_CLIENTS", "10000"))
BOUND_MB = float(os.environ.get("WB_IDLE_RSS_MB", "64"))
if E["target"] != "proxy" or not os.environ.get("WB_PROXY_PID"):
    skip("run under scripts/with_proxy.sh (WB_PROXY_PID: the proxy's RSS is measured)")
PID = int(os.environ["WB_PROXY_PID"])
POOL = int(os.environ.get("WB_PROXY_POOL_SIZE", "0"))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


async def read_message(reader):
    head = await reader.readexactly(5)
    body = await reader.readexactly(struct.unpack("!i", head[1:])[0] - 4)
    return head[:1], body


async def open_client(path, sem):
    async with sem:
        for attempt in range(3):
            try:
                reader, writer = await asyncio.open_unix_connection(path)
                params = b"user\0" + E["user"].encode() + b"\0database\0" + E["db"].encode() + b"\0\0"
                writer.write(struct.pack("!ii", 8 + len(params), 196608) + params)
                await writer.drain()
                while True:
                    kind, body = await read_message(reader)
                    if kind == b"E":
                        raise AssertionError("ErrorResponse at startup: %r" % body[:200])
                    if kind == b"R" and struct.unpack("!i", body[:4])[0] != 0:
                        raise AssertionError("the proxy asks for a password (run it with trust)")
                    if kind == b"Z":
                        return reader, writer
            except (ConnectionError, asyncio.IncompleteReadError) as e:
                if attempt == 2:
                    raise AssertionError("connection lost during startup 3 times: %s" % e)
                await asyncio.sleep(0.1)


async def simple_query(reader, writer, sql):
    """Query -> the first column of each DataRow (text), up to ReadyForQuery."""
    q = sql.encode() + b"\0"
    writer.write(b"Q" + struct.pack("!i", 4 + len(q)) + q)
    await writer.drain()
    rows = []
    while True:
        kind, body = await read_message(reader)
        if kind == b"E":
            raise AssertionError("ErrorResponse: %r" % body[:200])
        if kind == b"D":
            n = struct.unpack("!i", body[2:6])[0]
            rows.append(body[6:6 + n].decode())
        if kind == b"Z":
            return rows


def upstream_backends():
    psycopg2 = need("psycopg2")
    c = psycopg2.connect(host=os.environ["WB_UPSTREAM_HOST"], port=os.environ["WB_UPSTREAM_PORT"],
                         dbname="postgres", user=E["user"], connect_timeout=10)
    try:
        cur = c.cursor()
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' "
                    "AND datname = %s AND pid <> pg_backend_pid()", (E["db"],))
        return cur.fetchone()[0]
    finally:
        c.close()


@check
def idle_clients():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < N + 200:
        if hard != resource.RLIM_INFINITY and hard < N + 200:
            skip("RLIMIT_NOFILE hard limit %d < %d clients" % (hard, N))
        resource.setrlimit(resource.RLIMIT_NOFILE, (N + 1000 if hard == resource.RLIM_INFINITY
                                                    else min(hard, N + 1000), hard))
    path = os.path.join(E["host"], ".s.PGSQL.%d" % E["port"])

    async def go():
        before = rss_kb(PID)
        sem = asyncio.Semaphore(64)
        t0 = time.monotonic()
        results = await asyncio.gather(*(open_client(path, sem) for _ in range(N)), return_exceptions=True)
        dt = time.monotonic() - t0
        held = [r for r in results if not isinstance(r, BaseException)]
        errors = [r for r in results if isinstance(r, BaseException)]
        try:
            if errors:
                raise AssertionError("%d of %d clients failed; first: %s" % (len(errors), N, errors[0]))
            await asyncio.sleep(1.0)  # let the proxy settle (buffers given back when idle)
            idle = rss_kb(PID)
            print("     %d idle clients, connected in %.1f s; proxy RSS %d KB before, %d KB idle, "
                  "%.2f KB a client" % (len(held), dt, before, idle, (idle - before) / len(held)))
            if idle > BOUND_MB * 1024:
                raise AssertionError("proxy RSS with %d idle clients: %.1f MB > %.0f MB"
                                     % (N, idle / 1024.0, BOUND_MB))
            if POOL:
                n = upstream_backends()
                if n > POOL:
                    raise AssertionError("%d upstream backends for %d idle clients, pool size %d" % (n, N, POOL))
            # a new client, and a sample of the idle ones, each its own value
            r, w = await open_client(path, asyncio.Semaphore(1))
            eq(await simple_query(r, w, "SELECT 6 * 7"), ["42"], "a new client")
            w.close()
            step = max(1, len(held) // 50)
            for i in range(0, len(held), step):
                eq(await simple_query(held[i][0], held[i][1], "SELECT %d + 1" % i), [str(i + 1)],
                   "idle client %d" % i)
            # every client runs a query and goes idle again: the buffers it
            # used go back (an idle client that worked holds no read or
            # write buffer), so the bound still holds
            qsem = asyncio.Semaphore(64)

            async def one(i, r, w):
                async with qsem:
                    eq(await simple_query(r, w, "SELECT %d" % i), [str(i)], "client %d" % i)
            await asyncio.gather(*(one(i, r, w) for i, (r, w) in enumerate(held)))
            await asyncio.sleep(1.0)
            worked = rss_kb(PID)
            print("     after a query each: proxy RSS %d KB, %.2f KB a client"
                  % (worked, (worked - before) / len(held)))
            if worked > BOUND_MB * 1024:
                raise AssertionError("proxy RSS with %d idle clients that ran a query: %.1f MB > %.0f MB"
                                     % (N, worked / 1024.0, BOUND_MB))
        finally:
            for _, w in held:
                try:
                    w.write(b"X\0\0\0\4")
                    w.close()
                except Exception:  # a client the proxy dropped: nothing to close
                    pass
            await asyncio.sleep(0.5)
    asyncio.run(go())


if __name__ == "__main__":
    main()
