"""pgvector-compatible vectors through `wirebuf serve` (issue 11 section 2).

Usage: test_vector.py WIREBUF_CLI

Starts `wirebuf serve` on a throwaway DATADIR and talks to it with real
clients: psycopg2 (text, literals) and psycopg 3 (server-side parameters,
binary results and binary parameters). k-NN answers are checked against a
brute-force computation here, for all four operators, k = 1..100, with ties
(small integer components, so many equal distances) broken by id.
Exit 77 (skip) when psycopg2 or psycopg 3 is not installed.
"""
import math
import os
import random
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_once import with_server  # noqa: E402

try:
    import psycopg2
    import psycopg
    from psycopg.adapt import Dumper
    from psycopg.pq import Format
except ImportError as e:
    print("test_vector: %s; skipped" % e)
    sys.exit(77)

VECTOR_OID = 2000000001  # WB_PG_VECTOR_OID (src/engine/translate.h)
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what)


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def dist(op, a, b):
    if op == "<->":
        return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b)))
    if op == "<#>":
        return -sum(x * y for x, y in zip(a, b))
    if op == "<+>":
        return sum(abs(x - y) for x, y in zip(a, b))
    d = sum(x * y for x, y in zip(a, b))
    na = sum(x * x for x in a)
    nb = sum(x * x for x in b)
    if na == 0 or nb == 0:
        return float("nan")
    sim = max(-1.0, min(1.0, d / math.sqrt(na * nb)))
    return 1 - sim


def expect_error(cur, conn, sql, state, message, params=None):
    try:
        cur.execute(sql, params)
    except psycopg2.Error as e:
        check(e.pgcode == state, "%s: SQLSTATE %s, want %s" % (sql, e.pgcode, state))
        check(message in str(e), "%s: message %r, want %r" % (sql, str(e), message))
        conn.rollback()
        return
    check(False, "%s: no error (want %s %s)" % (sql, state, message))
    conn.rollback()


def main():
    if with_server(sys.argv[1], "wb_vec_", run, check):
        return 1
    print("test_vector: %d checks, %d failures" % (checks, failures))
    return 1 if failures else 0


def run(port):
    dsn = "host=127.0.0.1 port=%d user=postgres dbname=postgres" % port
    conn = psycopg2.connect(dsn)
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION vector")
    cur.execute("CREATE EXTENSION IF NOT EXISTS vector")
    conn.commit()

    # ---- k-NN against brute force ----
    rng = random.Random(11)
    dim, n = 8, 400
    rows = []
    for i in range(1, n + 1):
        v = [float(rng.randint(-3, 3)) for _ in range(dim)]
        if i == 7:
            v = [0.0] * dim  # a zero vector: cosine distance NaN, as pgvector
        rows.append((i, v))
    cur.execute("CREATE TABLE items (id int PRIMARY KEY, embedding vector(%d))" % dim)
    cur.executemany("INSERT INTO items VALUES (%s, %s)",
                    [(i, "[" + ",".join("%g" % x for x in v) + "]") for i, v in rows])
    conn.commit()
    cur.execute("SELECT id, embedding FROM items ORDER BY id")
    got = cur.fetchall()
    check(len(got) == n, "row count %d" % len(got))
    check(got[0][1] == "[" + ",".join("%g" % x for x in rows[0][1]) + "]", "text form %r" % (got[0][1],))

    queries = [[float(rng.randint(-3, 3)) for _ in range(dim)] for _ in range(6)]
    queries.append([0.5, -1.25, 2, 0, 0, 1, -3, 0.75])
    for op in ("<->", "<#>", "<=>", "<+>"):
        for qi, q in enumerate(queries):
            qtext = "[" + ",".join("%g" % x for x in q) + "]"
            brute = []
            for i, v in rows:
                d = dist(op, v, q)
                brute.append((d, i))
            # NaN (zero vector under <=>) sorts last in PostgreSQL
            brute.sort(key=lambda t: (math.isnan(t[0]), 0 if math.isnan(t[0]) else t[0], t[1]))
            for k in (1, 2, 3, 5, 10, 17, 50, 99, 100):
                cur.execute("SELECT id, embedding %s %%s FROM items ORDER BY embedding %s %%s, id LIMIT %d" % (op, op, k),
                            (qtext, qtext))
                res = cur.fetchall()
                check(len(res) == k, "%s k=%d: %d rows" % (op, k, len(res)))
                want = brute[:k]
                if op == "<=>":
                    # float rounding may reorder near-equal cosines: compare distances
                    ok = all(abs(r[1] - w[0]) < 1e-6 for r, w in zip(res, want) if not math.isnan(w[0]))
                    check(ok, "%s q%d k=%d distances" % (op, qi, k))
                else:
                    check([r[0] for r in res] == [w[1] for w in want], "%s q%d k=%d ids %s want %s" %
                          (op, qi, k, [r[0] for r in res][:10], [w[1] for w in want][:10]))
                    check(all(abs(r[1] - w[0]) < 1e-9 for r, w in zip(res, want)), "%s q%d k=%d distances" % (op, qi, k))
    conn.commit()

    # ---- the exact k-NN path (ORDER BY one distance LIMIT k: wb_knn), ties by
    # rowid, which is id here; checked again after the data changes (its
    # cached copy of the vectors must follow INSERT/UPDATE/DELETE/ROLLBACK) ----
    cur.execute("INSERT INTO items VALUES (%d, NULL)" % (n + 1))
    conn.commit()
    live = {i: v for i, v in rows}
    live[n + 1] = None

    def knn_check(label, approx=()):
        for op in ("<->", "<#>", "<=>", "<+>"):
            for qi, q in enumerate(queries[:3] + queries[-1:]):
                qtext = "[" + ",".join("%g" % x for x in q) + "]"
                brute = []
                for i, v in live.items():
                    d = float("inf") if v is None else dist(op, v, q)
                    brute.append((math.isnan(d), 0 if math.isnan(d) else d, i, d))
                brute.sort(key=lambda t: (t[0] or t[3] == float("inf"), t[0], t[1], t[2]))
                for k in (1, 4, 10, 33, 100):
                    cur.execute("SELECT id FROM items ORDER BY embedding %s %%s LIMIT %d" % (op, k), (qtext,))
                    got = [r[0] for r in cur.fetchall()]
                    want = [b[2] for b in brute[:k]]
                    if op in approx:
                        # an hnsw index: approximate (tests/test_hnsw.py
                        # measures recall); rows that exist, nearest first,
                        # most of them within the true k-th distance
                        dd = {b[2]: b[3] for b in brute}
                        ds = [dd.get(g) for g in got]
                        kth = brute[k - 1][3] if k <= len(brute) else float("inf")
                        inside = sum(1 for d in ds if d is not None and d <= kth + 1e-6)
                        ok = (len(got) == k and None not in ds and ds == sorted(ds)
                              and inside >= 0.9 * k)
                    elif op == "<=>":
                        # near-equal cosines may round differently: compare distances
                        dd = {b[2]: b[3] for b in brute}
                        ok = len(got) == k and all(abs(dd[g] - b[3]) < 1e-6 or (math.isnan(dd[g]) and math.isnan(b[3]))
                                                   for g, b in zip(got, brute[:k]))
                    else:
                        ok = got == want
                    check(ok, "%s: knn %s q%d k=%d got %s want %s" % (label, op, qi, k, got[:12], want[:12]))

    conn.rollback()
    knn_check("initial")
    knn_check("cached")
    cur.execute("DELETE FROM items WHERE id IN (3, 5, 8)")
    cur.execute("UPDATE items SET embedding = '[3,3,3,3,3,3,3,3]' WHERE id = 10")
    cur.execute("INSERT INTO items VALUES (1000, '[-3,-3,-3,-3,-3,-3,-3,-3]'), (1001, '[0,0,0,0,0,0,0,1]')")
    conn.commit()
    for i in (3, 5, 8):
        del live[i]
    live[10] = [3.0] * 8
    live[1000] = [-3.0] * 8
    live[1001] = [0.0] * 7 + [1.0]
    knn_check("after changes")
    cur.execute("INSERT INTO items VALUES (2000, '[3,3,3,3,3,3,3,2]')")
    live[2000] = [3.0] * 7 + [2.0]
    knn_check("inside a write transaction")
    conn.rollback()
    del live[2000]
    knn_check("after rollback")
    conn.commit()

    # a view over the table takes the ordinary path (no rowid there)
    cur.execute("CREATE VIEW items_v AS SELECT id, embedding FROM items")
    cur.execute("SELECT id FROM items_v ORDER BY embedding <-> %s LIMIT 3", ("[3,3,3,3,3,3,3,3]",))
    check(cur.fetchall()[0][0] == 10, "k-NN over a view")
    cur.execute("DROP VIEW items_v")
    conn.commit()

    # ---- CREATE INDEX USING hnsw / ivfflat: accepted with pgvector's checks;
    # <-> and <=> go through the hnsw indexes (approximate), <#> (ivfflat:
    # exact) and <+> stay exact ----
    cur.execute("CREATE INDEX items_hnsw ON items USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64)")
    cur.execute("CREATE INDEX ON items USING hnsw (embedding vector_cosine_ops)")
    cur.execute("CREATE INDEX items_ivf ON items USING ivfflat (embedding vector_ip_ops) WITH (lists = 10)")
    cur.execute("SET hnsw.ef_search = 40")
    conn.commit()
    knn_check("with hnsw indexes", approx=("<->", "<=>"))
    cur.execute("DROP INDEX items_hnsw")
    cur.execute("DROP INDEX items_embedding_idx")
    cur.execute("DROP INDEX items_ivf")
    conn.commit()
    expect_error(cur, conn, "CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (m = 1)", "22023",
                 'value 1 out of bounds for option "m"')
    expect_error(cur, conn, "CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (m = 48, ef_construction = 64)",
                 "22023", "ef_construction must be greater than or equal to 2 * m")
    expect_error(cur, conn, "CREATE INDEX ON items USING hnsw (embedding vector_l2_ops) WITH (foo = 1)", "22023",
                 'unrecognized parameter "foo"')
    expect_error(cur, conn, "CREATE INDEX ON items USING hnsw (embedding bogus_ops)", "42704",
                 'operator class "bogus_ops" does not exist for access method "hnsw"')
    expect_error(cur, conn, "CREATE INDEX ON items USING hnsw (id)", "42704",
                 'has no default operator class for access method "hnsw"')

    # ---- functions and arithmetic ----
    def one(sql, params=None):
        cur.execute(sql, params)
        return cur.fetchone()[0]

    check(one("SELECT '[1,2,3]'::vector <-> '[4,6,3]'") == 5.0, "<->")
    check(one("SELECT l2_distance('[1,2,3]', '[4,6,3]'::vector)") == 5.0, "l2_distance")
    check(one("SELECT '[1,2,3]'::vector <#> '[4,5,6]'") == -32.0, "<#>")
    check(one("SELECT inner_product('[1,2,3]'::vector, '[4,5,6]')") == 32.0, "inner_product")
    check(abs(one("SELECT '[1,0]'::vector <=> '[0,1]'") - 1.0) < 1e-12, "<=> orthogonal")
    check(abs(one("SELECT cosine_distance('[1,1]'::vector, '[2,2]')")) < 1e-7, "cosine_distance parallel")
    check(one("SELECT '[1,2,3]'::vector <+> '[4,6,3]'") == 7.0, "<+>")
    check(one("SELECT l1_distance('[1,2,3]'::vector, '[4,6,3]')") == 7.0, "l1_distance")
    check(one("SELECT vector_dims('[1,2,3]'::vector)") == 3, "vector_dims")
    check(one("SELECT vector_norm('[3,4]'::vector)") == 5.0, "vector_norm")
    check(one("SELECT l2_normalize('[3,4]'::vector)") == "[0.6,0.8]", "l2_normalize")
    check(one("SELECT l2_normalize('[0,0]'::vector)") == "[0,0]", "l2_normalize zero")
    check(one("SELECT '[1,2,3]'::vector + '[4,5,6]'") == "[5,7,9]", "+")
    check(one("SELECT '[1,2,3]'::vector - '[4,5,6]'") == "[-3,-3,-3]", "-")
    r = one("SELECT '[1,2,3]'::vector * '[4,5,6]'"); check(r == "[4,10,18]", "* %r" % r)
    check(one("SELECT '[0.1,1e-7,-2.5,123456.7]'::vector") == "[0.1,1e-07,-2.5,123456.7]", "float4 text form")
    check(one("SELECT '  [ 1 , 2 ]  '::vector") == "[1,2]", "whitespace")
    check(one("SELECT '[1,2]'::vector::text") == "[1,2]", "::text")
    cur.execute("CREATE TABLE agg (g int, v vector(2))")
    cur.execute("INSERT INTO agg VALUES (1, '[1,2]'), (1, '[3,4]'), (2, '[10,10]'), (2, NULL)")
    cur.execute("SELECT g, avg(v), sum(v) FROM agg GROUP BY g ORDER BY g")
    r = cur.fetchall(); check(r == [(1, "[2,3]", "[4,6]"), (2, "[10,10]", "[10,10]")], "avg/sum %r" % r)
    check(one("SELECT avg(v) FROM agg WHERE g = 3") is None, "avg of no rows")
    cur.execute("UPDATE agg SET v = v + '[1,1]' WHERE g = 1")
    check(one("SELECT sum(v) FROM agg WHERE g = 1") == "[6,8]", "UPDATE with +")
    conn.commit()

    # ---- errors: pgvector's wording and SQLSTATEs ----
    expect_error(cur, conn, "INSERT INTO items VALUES (1000, '[1,2,3]')", "22000", "expected 8 dimensions, not 3")
    expect_error(cur, conn, "SELECT '[1,2]'::vector <-> '[1,2,3]'", "22000", "different vector dimensions 2 and 3")
    expect_error(cur, conn, "SELECT '[1,2]'::vector + '[1,2,3]'", "22000", "different vector dimensions 2 and 3")
    expect_error(cur, conn, "SELECT '[1,NaN]'::vector", "22000", "NaN not allowed in vector")
    expect_error(cur, conn, "SELECT '[1,Infinity]'::vector", "22000", "infinite value not allowed in vector")
    expect_error(cur, conn, "SELECT '[1,-inf]'::vector", "22000", "infinite value not allowed in vector")
    expect_error(cur, conn, "SELECT '[1,1e39]'::vector", "22003", "\"1e39\" is out of range for type vector")
    expect_error(cur, conn, "SELECT '1,2'::vector", "22P02", "invalid input syntax for type vector: \"1,2\"")
    expect_error(cur, conn, "SELECT '[1,2'::vector", "22P02", "invalid input syntax for type vector: \"[1,2\"")
    expect_error(cur, conn, "SELECT '[1,,2]'::vector", "22P02", "invalid input syntax for type vector")
    expect_error(cur, conn, "SELECT '[1,2]x'::vector", "22P02", "invalid input syntax for type vector")
    expect_error(cur, conn, "SELECT '[a]'::vector", "22P02", "invalid input syntax for type vector")
    expect_error(cur, conn, "SELECT '[]'::vector", "22000", "vector must have at least 1 dimension")
    expect_error(cur, conn, "SELECT '[1,2]'::vector(3)", "22000", "expected 3 dimensions, not 2")
    expect_error(cur, conn, "CREATE TABLE bad (v vector(0))", "22023", "dimensions for type vector must be at least 1")
    expect_error(cur, conn, "CREATE TABLE bad (v vector(16001))", "22023", "dimensions for type vector cannot exceed 16000")
    expect_error(cur, conn, "SELECT '[3e38]'::vector + '[3e38]'", "22003", "value out of range: overflow")
    check(one("SELECT count(*) FROM items") == n, "nothing inserted by the failed statements")
    conn.close()

    # ---- psycopg 3: server-side parameters, binary results and parameters ----
    class Vec(list):
        pass

    class VecBinaryDumper(Dumper):
        format = Format.BINARY
        oid = VECTOR_OID

        def dump(self, obj):
            return struct.pack(">HH%df" % len(obj), len(obj), 0, *obj)

    with psycopg.connect("host=127.0.0.1 port=%d user=postgres dbname=postgres" % port, autocommit=True) as c3:
        q = queries[0]
        qtext = "[" + ",".join("%g" % x for x in q) + "]"
        r = c3.execute("SELECT id FROM items ORDER BY embedding <-> %s, id LIMIT 5", (qtext,)).fetchall()
        brute = sorted((dist("<->", v, q), i) for i, v in live.items() if v is not None)[:5]
        check([x[0] for x in r] == [b[1] for b in brute], "psycopg3 $1 k-NN %s" % r)
        r = c3.execute("SELECT id FROM items ORDER BY embedding <-> %s LIMIT %s", (qtext, 5)).fetchall()
        check(len(c3.execute("SELECT id FROM items ORDER BY embedding <-> %s LIMIT 3", (None,)).fetchall()) == 3,
              "NULL query vector on the k-NN path")
        check([x[0] for x in r] == [b[1] for b in brute], "psycopg3 $1 exact k-NN path %s" % r)
        # binary results: vector_send's form
        raw = c3.cursor(binary=True).execute("SELECT embedding FROM items WHERE id = 1").fetchone()[0]
        want = rows[0][1]
        check(bytes(raw) == struct.pack(">HH%df" % dim, dim, 0, *want), "binary DataRow %r" % bytes(raw))
        # binary parameters: vector_recv's form, stored and read back as text
        c3.adapters.register_dumper(Vec, VecBinaryDumper)
        c3.execute("CREATE TABLE bin (id int, v vector(3))")
        c3.execute("INSERT INTO bin VALUES (%s, %b)", (1, Vec([1.5, -2.0, 0.25])))
        check(c3.execute("SELECT v FROM bin").fetchone()[0] == "[1.5,-2,0.25]", "binary Bind")
        r = c3.execute("SELECT v <-> %b FROM bin", (Vec([1.5, -2.0, 1.25]),)).fetchone()[0]
        check(r == 1.0, "binary parameter in <-> %r" % r)
        try:
            c3.execute("INSERT INTO bin VALUES (%s, %b)", (2, Vec([1.0, 2.0])))
            check(False, "binary 2-d into vector(3) accepted")
        except psycopg.Error as e:
            check(e.sqlstate == "22000" and "expected 3 dimensions, not 2" in str(e), "binary dims error %s" % e)
        try:
            c3.execute("INSERT INTO bin VALUES (%s, %b)", (3, Vec([1.0, float("nan"), 2.0])))
            check(False, "binary NaN accepted")
        except psycopg.Error as e:
            check(e.sqlstate == "22000" and "NaN not allowed in vector" in str(e), "binary NaN error %s" % e)
        check(c3.execute("SELECT count(*) FROM bin").fetchone()[0] == 1, "bin rows")


if __name__ == "__main__":
    sys.exit(main())
