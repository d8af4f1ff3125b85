"""k-NN benchmark: wirebuf serve against PostgreSQL 15 + pgvector, same run.

Run by bench/bench_vector.sh under scripts/with_pg.sh (WB_PG_* set).
Usage: bench_vector.py WIREBUF_CLI HAVE_PGVECTOR(0/1)

Data: N x D float vectors in C clusters (gaussian around random centres,
fixed seed), Q query vectors drawn the same way; k = 10. Measures exact
k-NN queries/s (no index on both sides), and with pgvector's HNSW
(m = 16, ef_construction = 64, ef_search = 40) its build time, queries/s and
recall@10 against the exact answers. wirebuf's hnsw index (hnswlib, same
m / ef_construction / ef_search) is built on its first use on a connection:
its build time is CREATE INDEX plus that first query.
"""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import psycopg2

N = int(os.environ.get("WB_BENCH_N", "100000"))
D = int(os.environ.get("WB_BENCH_D", "128"))
Q = int(os.environ.get("WB_BENCH_Q", "50"))
C = 100
K = 10


def data():
    rng = random.Random(2026)
    centres = [[rng.uniform(-1, 1) for _ in range(D)] for _ in range(C)]

    def one():
        c = centres[rng.randrange(C)]
        return [x + rng.gauss(0, 0.1) for x in c]

    vecs = [one() for _ in range(N)]
    qs = [one() for _ in range(Q)]
    return vecs, qs


def vtext(v):
    return "[" + ",".join("%.6g" % x for x in v) + "]"


def load(conn, vecs, copy_ok=True):
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
    cur.execute("DROP TABLE IF EXISTS items")
    cur.execute("CREATE TABLE items (id int PRIMARY KEY, embedding vector(%d))" % D)
    conn.commit()
    t0 = time.time()
    B = 1000
    for s in range(0, N, B):
        rows = ",".join("(%d,'%s')" % (i + 1, vtext(vecs[i])) for i in range(s, min(N, s + B)))
        cur.execute("INSERT INTO items VALUES " + rows)
    conn.commit()
    return time.time() - t0


def run_queries(conn, qs):
    cur = conn.cursor()
    res = []
    t0 = time.time()
    for q in qs:
        cur.execute("SELECT id FROM items ORDER BY embedding <-> %s LIMIT 10", (vtext(q),))
        res.append([r[0] for r in cur.fetchall()])
    dt = time.time() - t0
    conn.commit()
    return len(qs) / dt, res


def recall(got, truth):
    return sum(len(set(g) & set(t)) for g, t in zip(got, truth)) / float(K * len(truth))


def main():
    cli, have_pgv = sys.argv[1], sys.argv[2] == "1"
    vecs, qs = data()
    out = []
    # ---- wirebuf serve ----
    tmp = tempfile.mkdtemp(prefix="wb_bvec_")
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    srv = subprocess.Popen([cli, "serve", "-D", tmp, "-h", "127.0.0.1", "-p", str(port), "-k", tmp, "--auth", "trust"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        wc = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        wload = load(wc, vecs)
        run_queries(wc, qs[:3])  # first query loads the vectors into memory
        w_qps, w_res = run_queries(wc, qs)
        cur = wc.cursor()
        t0 = time.time()
        cur.execute("CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64)")
        wc.commit()
        cur.execute("SET hnsw.ef_search = 40")
        wc.commit()
        run_queries(wc, qs[:1])  # builds the graph (first use)
        w_build = time.time() - t0
        run_queries(wc, qs[:3])
        w_hqps, w_hres = run_queries(wc, qs)
        wc.close()
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    truth = w_res
    out.append(("wirebuf serve", wload, w_qps, w_build, w_hqps, recall(w_hres, truth)))
    # ---- PostgreSQL 15 + pgvector ----
    if have_pgv:
        pc = psycopg2.connect(host=os.environ["WB_PG_HOST"], port=os.environ["WB_PG_PORT"],
                              user=os.environ["WB_PG_SUPER"], dbname=os.environ["WB_PG_DB"])
        pload = load(pc, vecs)
        run_queries(pc, qs[:3])
        p_qps, p_res = run_queries(pc, qs)
        exact_agree = recall(p_res, truth)
        cur = pc.cursor()
        cur.execute("SET maintenance_work_mem = '512MB'")
        t0 = time.time()
        cur.execute("CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64)")
        pc.commit()
        p_build = time.time() - t0
        cur.execute("SET hnsw.ef_search = 40")
        run_queries(pc, qs[:3])
        p_hqps, p_hres = run_queries(pc, qs)
        pc.close()
        out.append(("PostgreSQL 15 + pgvector", pload, p_qps, p_build, p_hqps, recall(p_hres, truth)))
        print("exact answers agree (wirebuf vs pgvector exact scan): %.4f" % exact_agree)
    print("%d x %d clustered vectors, %d queries, k = %d" % (N, D, Q, K))
    print("| server | load (s) | exact k-NN q/s | hnsw build (s) | with hnsw q/s | recall@10 |")
    print("|---|---|---|---|---|---|")
    for name, ld, qps, b, hq, rc in out:
        print("| %s | %.1f | %.1f | %.2f | %.1f | %.3f |" % (name, ld, qps, b, hq, rc))
    if len(out) == 2:
        print("exact k-NN: wirebuf %.1fx pgvector's exact scan" % (out[0][2] / out[1][2]))
    else:
        print("bench_vector: pgvector not available: no peer measured")


if __name__ == "__main__":
    main()
