#!/usr/bin/python3
"""Open N PostgreSQL sessions that complete startup (StartupMessage ->
AuthenticationOk ... ReadyForQuery, trust auth) and stay idle, then report
the server's memory from /proc/PID/status; used by bench/bench_serve.sh.

usage: idle_sessions.py SOCKET_DIR PORT USER DATABASE N SERVER_PID
prints: key=value lines (sessions, failed, retried (a connection lost during
        startup is tried again, twice at most), rss_kb_before, rss_kb_idle,
        hwm_kb, per_session_kb, connect_seconds)
"""
import asyncio
import os
import resource
import struct
import sys
import time


def rss(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


async def session(path, user, db, sem, held, retries):
    for attempt in range(3):
        try:
            return await session1(path, user, db, sem, held)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            if attempt == 2:
                raise
            retries.append(1)
            await asyncio.sleep(0.1)


async def session1(path, user, db, sem, held):
    async with sem:
        reader, writer = await asyncio.open_unix_connection(path)
        params = b"user\0" + user.encode() + b"\0database\0" + db.encode() + b"\0\0"
        writer.write(struct.pack("!ii", 8 + len(params), 196608) + params)
        await writer.drain()
        while True:
            head = await reader.readexactly(5)
            kind, n = head[:1], struct.unpack("!i", head[1:])[0]
            body = await reader.readexactly(n - 4)
            if kind == b"E":
                raise RuntimeError("ErrorResponse at startup: %r" % body[:200])
            if kind == b"R" and struct.unpack("!i", body[:4])[0] != 0:
                raise RuntimeError("the server asks for a password (run it with trust)")
            if kind == b"Z":
                break
        held.append(writer)


async def main():
    sockdir, port, user, db, n, pid = sys.argv[1:7]
    n, pid = int(n), int(pid)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 1000), hard))
    path = os.path.join(sockdir, ".s.PGSQL.%s" % port)
    before = rss(pid)
    sem = asyncio.Semaphore(64)
    held = []
    retries = []
    t0 = time.monotonic()
    results = await asyncio.gather(*(session(path, user, db, sem, held, retries) for _ in range(n)),
                                   return_exceptions=True)
    dt = time.monotonic() - t0
    errors = [r for r in results if isinstance(r, Exception)]
    await asyncio.sleep(1.0)  # let the server settle (buffers shrink back when idle)
    idle = rss(pid)
    print("sessions=%d" % len(held))
    print("failed=%d" % len(errors))
    print("retried=%d" % len(retries))
    if errors:
        print("first_error=%s" % str(errors[0]).replace("\n", " ")[:200])
    print("connect_seconds=%.2f" % dt)
    print("rss_kb_before=%d" % before["VmRSS"])
    print("rss_kb_idle=%d" % idle["VmRSS"])
    print("hwm_kb=%d" % idle["VmHWM"])
    if held:
        print("per_session_kb=%.2f" % ((idle["VmRSS"] - before["VmRSS"]) / len(held)))
    for w in held:
        w.write(b"X\0\0\0\4")
        w.close()
    await asyncio.sleep(0.2)


asyncio.run(main())
