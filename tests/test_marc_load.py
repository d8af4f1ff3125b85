#!/usr/bin/python3
"""`wirebuf marc load` against the real PostgreSQL started by
scripts/with_pg.sh (psycopg2 reads the table back):

- the row count equals `wirebuf marc count`, ids are 1..N in input order,
  file/byte_offset/leader/control_number/title are the record's;
- every record's jsonb equals the record `wirebuf marc convert --to json`
  writes (also for MARCXML input, and with --threads 1 and 2);
- a bad record is reported with its byte offset and skipped; with --strict
  nothing is committed (not even the table);
- a table with rows is refused without --truncate/--append; --truncate
  replaces, --append continues the ids.

Usage: test_marc_load.py BUILD/wirebuf ../shared/data/marc
(exit 77 without WB_PG_HOST or the shared files)."""
import glob
import json
import os
import subprocess
import sys
import tempfile

if "WB_PG_HOST" not in os.environ:
    print("test_marc_load: no PostgreSQL (run under scripts/with_pg.sh); skipped")
    sys.exit(77)
WB, DATA = sys.argv[1], sys.argv[2]
if not os.path.isdir(DATA):
    print(f"test_marc_load: {DATA} not found (the shared MARC files live beside the project); skipped")
    sys.exit(77)
try:
    import psycopg2
except ImportError:
    print("test_marc_load: python3-psycopg2 not installed; skipped")
    sys.exit(77)

ENV = os.environ
CONN = "host=%s port=%s dbname=%s user=wb_trust" % (ENV["WB_PG_HOST"], ENV["WB_PG_PORT"], ENV["WB_PG_DB"])
failures = checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what, file=sys.stderr)


def load(*args):
    return subprocess.run([WB, "marc", "load", *args], capture_output=True, text=True)


def query(sql, *params):
    with psycopg2.connect(CONN) as c, c.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall() if cur.description else None


def table_exists(name):
    return query("select to_regclass(%s) is not null", name)[0][0]


def cli_json(path, *extra):
    r = subprocess.run([WB, "marc", "convert", "-q", "--threads", "1", "--to", "json", *extra, path],
                       capture_output=True)
    return json.loads(r.stdout)


records = sorted(glob.glob(os.path.join(DATA, "records", "*")))
one = os.path.join(DATA, "records", "loc-bibliographic-386.mrc")

# --- everything in records/, in order, jsonb == the CLI's JSON ---------------
for threads in ("1", "2"):
    tbl = "load_t" + threads
    r = load("--threads", threads, CONN, tbl, *records)
    check(r.returncode in (0, 1), f"load --threads {threads}: rc {r.returncode}: {r.stderr}")
    want = []
    for f in records:
        for rec in cli_json(f):
            want.append((f, rec))
    rows = query(f"select id, file, byte_offset, leader, control_number, title, record from {tbl} order by id")
    check(len(rows) == len(want), f"--threads {threads}: {len(rows)} rows, CLI gives {len(want)} records")
    check(f"{len(want)} rows committed to {tbl}" in r.stdout, f"committed count printed: {r.stdout!r}")
    check([row[0] for row in rows] == list(range(1, len(rows) + 1)), "ids are 1..N")
    same = sum(1 for row, (f, rec) in zip(rows, want) if row[6] == rec and row[1] == f)
    check(same == len(want), f"--threads {threads}: {same} of {len(want)} jsonb values equal the CLI's JSON")
    for row, (f, rec) in zip(rows, want):
        fields = rec["fields"]
        c001 = next((v["001"] for v in fields if "001" in v), None)
        f245 = next((v["245"] for v in fields if "245" in v), None)
        title = None
        if f245:
            a = next((s["a"] for s in f245["subfields"] if "a" in s), None)
            b = next((s["b"] for s in f245["subfields"] if "b" in s), None)
            title = a + (" " + b if a and b is not None else "") if a is not None else None
        ok = row[3] == rec["leader"] and row[4] == c001 and row[5] == title
        check(ok, f"row {row[0]}: leader/001/title {row[3:6]} vs {(rec['leader'], c001, title)}")
        if not ok:
            break
    # byte offsets: the first record of each file is at byte 0
    firsts = query(f"select file, min(byte_offset) from {tbl} group by file")
    check(all(off == 0 for _, off in firsts), f"first byte_offset of every file is 0: {firsts}")

# the byte offset of a later record is where it starts in the file
raw = open(one, "rb").read()
rows = query("select byte_offset, leader from load_t1 where file = %s order by id", one)
check(all(raw[o:o + 5].decode() == ld[:5] for o, ld in rows[:50]), "byte_offset points at the record's leader")

# --- a table with rows: refused, --truncate replaces, --append continues ---------
r = load(CONN, "load_t1", one)
check(r.returncode == 2 and "--truncate" in r.stderr, f"table with rows refused: {r.returncode} {r.stderr}")
n_before = query("select count(*) from load_t1")[0][0]
check(n_before == len(want), "refused load changed nothing")
r = load("--truncate", CONN, "load_t1", one)
check(r.returncode in (0, 1), f"--truncate: {r.stderr}")
n386 = query("select count(*), min(id), max(id) from load_t1")[0]
check(n386 == (386, 1, 386), f"--truncate leaves the new records only: {n386}")
r = load("--append", CONN, "load_t1", one)
check(r.returncode in (0, 1), f"--append: {r.stderr}")
n = query("select count(*), min(id), max(id) from load_t1")[0]
check(n == (772, 1, 772), f"--append continues the ids: {n}")
same = query("select count(*) from load_t1 a join load_t1 b on b.id = a.id + 386 where a.record = b.record")[0][0]
check(same == 386, f"appended records equal the first load: {same}")

# --- MARCXML input gives the same jsonb -----------------------------------------
with tempfile.TemporaryDirectory() as tmp:
    xml = os.path.join(tmp, "one.xml")
    with open(xml, "wb") as fh:
        fh.write(subprocess.run([WB, "marc", "convert", "-q", "--to", "marcxml", one], capture_output=True).stdout)
    r = load(CONN, "load_xml", xml)
    check(r.returncode in (0, 1), f"MARCXML load: {r.stderr}")
    got = [row[0] for row in query("select record from load_xml order by id")]
    check(got == cli_json(one), "MARCXML input: jsonb equals the ISO 2709 record's JSON")

    # --- bad records: reported with the offset and skipped; --strict commits nothing
    recs = raw.split(b"\x1d")[:5]
    recs = [x + b"\x1d" for x in recs]
    bad = recs[2].replace(b"\x1e", b"x")  # no field terminator at all: cannot be parsed
    nul = bytearray(recs[3])
    k = nul.index(b"\x1f", 30)
    nul[k + 2] = 0  # a NUL byte in a subfield value
    mixed = recs[0] + recs[1] + bytes(bad) + bytes(nul) + recs[4]
    path = os.path.join(tmp, "mixed.mrc")
    with open(path, "wb") as fh:
        fh.write(mixed)
    r = load(CONN, "load_bad", path)
    off_nul = len(recs[0]) + len(recs[1]) + len(bad)
    check(r.returncode == 1, f"bad records: exit 1, got {r.returncode}")
    check("record 3 at byte" in r.stderr and "(skipped)" in r.stderr, f"bad record reported: {r.stderr}")
    check(f"at byte {off_nul}" in r.stderr and "NUL" in r.stderr, f"NUL record reported at its offset: {r.stderr}")
    got = query("select id, byte_offset from load_bad order by id")
    check([g[1] for g in got] == [0, len(recs[0]), off_nul + len(nul)], f"good records loaded, bad skipped: {got}")
    check("3 rows committed" in r.stdout, f"committed count: {r.stdout!r}")

    r = load("--strict", CONN, "load_strict", path)
    check(r.returncode == 1 and "0 rows committed" in r.stderr, f"--strict aborts: {r.returncode} {r.stderr}")
    check(not table_exists("load_strict"), "--strict with a bad record commits nothing (no table either)")
    r = load("--strict", "--append", CONN, "load_bad", path)
    check(r.returncode == 1 and query("select count(*) from load_bad")[0][0] == 3,
          "--strict --append with a bad record adds nothing")
    good = os.path.join(tmp, "good.mrc")
    with open(good, "wb") as fh:
        fh.write(recs[0] + recs[1])
    r = load("--strict", CONN, "load_strict", good)
    check(r.returncode == 0 and query("select count(*) from load_strict")[0][0] == 2, f"--strict clean load: {r.stderr}")

# --- usage and connection errors ---------------------------------------------------
r = load(CONN, "x")
check(r.returncode == 2, "missing FILE is a usage error")
r = load("--truncate", "--append", CONN, "x", one)
check(r.returncode == 2, "--truncate with --append is a usage error")
r = load(CONN, "x", "/nonexistent/file.mrc")
check(r.returncode == 2 and "cannot open" in r.stderr, "unreadable file: exit 2")
r = load("host=/nonexistent port=1 dbname=x user=x", "x", one)
check(r.returncode == 1 and "0 rows committed" in r.stderr, f"no server: {r.stderr}")

print(f"test_marc_load: {checks - failures} of {checks} checks passed")
sys.exit(1 if failures else 0)
