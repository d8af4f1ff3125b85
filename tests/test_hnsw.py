"""HNSW indexes of `wirebuf serve` (issue 11 section 2: pgvector's
CREATE INDEX ... USING hnsw, answered through hnswlib).

Usage: test_hnsw.py WIREBUF_CLI

Starts `wirebuf serve` on a throwaway DATADIR and talks to it with psycopg2:
recall@10 of each operator class's index against a brute-force computation
here on clustered data (>= 0.9 at hnsw.ef_search 40, at least as high at
200); that the index is used (it does not hold NULL vectors, as pgvector's,
so LIMIT past the non-NULL rows returns fewer rows than the exact scan);
that it follows committed INSERT / UPDATE / DELETE, never shows rolled-back
rows, and that DROP INDEX returns to the exact answer.
Exit 77 (skip) when psycopg2 is not installed.
"""
import math
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_once import with_server  # noqa: E402

try:
    import psycopg2
except ImportError as e:
    print("test_hnsw: %s; skipped" % e)
    sys.exit(77)

failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what)


def dist(op, a, b):
    if op == "<->":
        return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))
    if op == "<#>":
        return -sum(x * y for x, y in zip(a, b))
    d = sum(x * y for x, y in zip(a, b))
    na = sum(x * x for x in a)
    nb = sum(x * x for x in b)
    return 1 - d / math.sqrt(na * nb)


def vtext(v):
    return "[" + ",".join("%.6g" % x for x in v) + "]"


def main():
    if with_server(sys.argv[1], "wb_hnsw_", run, check):
        return 1
    print("test_hnsw: %d checks, %d failures" % (checks, failures))
    return 1 if failures else 0


def run(port):
    dsn = "host=127.0.0.1 port=%d user=postgres dbname=postgres" % port
    conn = psycopg2.connect(dsn)
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
    cur.execute("SHOW hnsw.ef_search")
    check(cur.fetchone()[0] == "40", "hnsw.ef_search defaults to 40")
    for bad, msg in (("0", "0 is outside the valid range"), ("1001", "1001 is outside the valid range"),
                     ("abc", "invalid value for parameter")):
        try:
            cur.execute("SET hnsw.ef_search = '%s'" % bad)
            check(False, "SET hnsw.ef_search = %s accepted" % bad)
        except psycopg2.Error as e:
            check(e.pgcode == "22023" and msg in str(e), "SET hnsw.ef_search = %s: %s %s" % (bad, e.pgcode, e))
        conn.rollback()

    # clustered data: 40 centres, gaussian spread around each
    rng = random.Random(11)
    dim, n, ncl = 24, 4000, 40
    centres = [[rng.uniform(-1, 1) for _ in range(dim)] for _ in range(ncl)]
    rows = {}
    for i in range(1, n + 1):
        c = centres[rng.randrange(ncl)]
        rows[i] = [float("%.6g" % (x + rng.gauss(0, 0.15))) for x in c]
    cur.execute("CREATE TABLE items (id int PRIMARY KEY, embedding vector(%d))" % dim)
    cur.executemany("INSERT INTO items VALUES (%s, %s)", [(i, vtext(v)) for i, v in rows.items()])
    conn.commit()
    queries = []
    for _ in range(40):
        c = centres[rng.randrange(ncl)]
        queries.append([float("%.6g" % (x + rng.gauss(0, 0.15))) for x in c])

    def knn(op, q, k):
        cur.execute("SELECT id FROM items ORDER BY embedding %s %%s LIMIT %d" % (op, k), (vtext(q),))
        return [r[0] for r in cur.fetchall()]

    def recall(op, ef):
        cur.execute("SET hnsw.ef_search = %d" % ef)
        hit = total = 0
        for q in queries:
            want = set(sorted(rows, key=lambda i: dist(op, rows[i], q))[:10])
            got = knn(op, q, 10)
            check(len(got) == 10, "%s ef %d: %d rows" % (op, ef, len(got)))
            hit += len(want & set(got))
            total += 10
        return hit / total

    for opc, op in (("vector_l2_ops", "<->"), ("vector_ip_ops", "<#>"), ("vector_cosine_ops", "<=>")):
        cur.execute("CREATE INDEX items_hnsw ON items USING hnsw (embedding %s) WITH (m = 16, ef_construction = 64)" % opc)
        conn.commit()
        r40 = recall(op, 40)
        r200 = recall(op, 200)
        r1 = recall(op, 1)
        print("test_hnsw: %s recall@10 ef_search 1: %.3f, 40: %.3f, 200: %.3f" % (opc, r1, r40, r200))
        check(r40 >= 0.9, "%s recall@10 at ef_search 40: %.3f" % (opc, r40))
        check(r200 >= r40, "%s recall@10 at ef_search 200 %.3f < at 40 %.3f" % (opc, r200, r40))
        # answers: existing rows, nearest first by the exact distance
        q = queries[0]
        cur.execute("SELECT id, embedding %s %%s FROM items ORDER BY embedding %s %%s LIMIT 10" % (op, op),
                    (vtext(q), vtext(q)))
        res = cur.fetchall()
        ds = [d for _, d in res]
        check(ds == sorted(ds), "%s: ordered by distance %s" % (opc, ds))
        check(all(abs(d - dist(op, rows[i], q)) < 1e-4 for i, d in res), "%s: exact distances %s" % (opc, res))
        conn.commit()
        cur.execute("SET hnsw.ef_search = 40")

        # the index is kept current: a committed INSERT, UPDATE, DELETE
        # (for <#>, a long vector: the largest inner product with itself)
        target = [(x + 0.001) * (10 if op == "<#>" else 1) for x in queries[1]]
        cur.execute("INSERT INTO items VALUES (%s, %s)", (n + 1, vtext(target)))
        conn.commit()
        check(knn(op, target, 1) == [n + 1], "%s: inserted row found first" % opc)
        check(n + 1 in knn(op, target, 10), "%s: inserted row found" % opc)
        cur.execute("UPDATE items SET embedding = %s WHERE id = 5", (vtext(target),))
        conn.commit()
        check(5 in knn(op, target, 10), "%s: updated row found at its new place" % opc)
        cur.execute("DELETE FROM items WHERE id = %s", (n + 1,))
        conn.commit()
        got = knn(op, target, 10)
        check(n + 1 not in got and 5 in got, "%s: deleted row gone %s" % (opc, got))
        cur.execute("UPDATE items SET embedding = %s WHERE id = 5", (vtext(rows[5]),))
        conn.commit()
        check(5 not in knn(op, target, 3), "%s: updated row left its old place" % opc)

        # ROLLBACK: never served, neither inside (exact there) nor after
        other = psycopg2.connect(dsn)
        ocur = other.cursor()
        cur.execute("INSERT INTO items VALUES (%s, %s)", (n + 2, vtext(target)))
        check(n + 2 in knn(op, target, 10), "%s: own uncommitted row visible in its transaction" % opc)
        ocur.execute("SELECT id FROM items ORDER BY embedding %s %%s LIMIT 10" % op, (vtext(target),))
        check(n + 2 not in [r[0] for r in ocur.fetchall()], "%s: uncommitted row served to another session" % opc)
        other.commit()
        other.close()
        conn.rollback()
        check(n + 2 not in knn(op, target, 10), "%s: rolled-back row served" % opc)

        # used: the index holds no NULL vectors (as pgvector's), the exact
        # scan puts them last; DROP INDEX returns to the exact answer
        cur.execute("INSERT INTO items VALUES (%s, NULL)", (n + 3,))
        conn.commit()
        cur.execute("SELECT count(*) FROM items")
        total = cur.fetchone()[0]
        got = knn(op, queries[2], total)
        # (an approximate graph search may reach fewer than all the rows)
        check(n + 3 not in got and 0 < len(got) < total, "%s: index answers (no NULL rows): %d of %d" % (opc, len(got), total))
        cur.execute("SELECT count(*) FROM wb_hnsw_indexes WHERE name = 'items_hnsw'")
        check(cur.fetchone()[0] == 1, "%s: the HNSW index recorded" % opc)
        cur.execute("DROP INDEX items_hnsw")
        conn.commit()
        cur.execute("SELECT count(*) FROM wb_hnsw_indexes WHERE name = 'items_hnsw'")
        check(cur.fetchone()[0] == 0, "%s: DROP INDEX deletes the HNSW index's record" % opc)
        check(len(knn(op, queries[2], total)) == total, "%s: DROP INDEX: exact again (NULL rows last)" % opc)
        exact = knn(op, queries[3], 10)
        want = sorted(rows, key=lambda i: dist(op, rows[i], queries[3]))[:10]
        check(exact == want, "%s: exact after DROP INDEX %s want %s" % (opc, exact, want))
        cur.execute("DELETE FROM items WHERE id = %s", (n + 3,))
        conn.commit()

    # an l2 index does not serve <=> (operator class must match)
    cur.execute("INSERT INTO items VALUES (%s, NULL)", (n + 3,))
    cur.execute("CREATE INDEX ON items USING hnsw (embedding vector_l2_ops)")
    conn.commit()
    check(len(knn("<=>", queries[0], n + 1)) == n + 1, "an l2 index does not answer <=>")
    check(len(knn("<->", queries[0], n + 1)) == n, "the l2 index answers <->")
    # DROP TABLE takes its HNSW indexes' records with it
    cur.execute("DROP TABLE items")
    conn.commit()
    cur.execute("SELECT count(*) FROM wb_hnsw_indexes")
    check(cur.fetchone()[0] == 0, "DROP TABLE deletes its HNSW indexes' records")
    conn.close()


if __name__ == "__main__":
    sys.exit(main())
