#!/usr/bin/python3
"""`wirebuf pg export|import` against the real PostgreSQL started by
scripts/with_pg.sh, with psql as the oracle: export --format csv must be
byte-identical to COPY (QUERY) TO STDOUT WITH (FORMAT csv, HEADER), tsv to
COPY's text format with HEADER; import must load exactly what export wrote.
Usage: test_pg_cli.py BUILD/wirebuf   (exit 77 without WB_PG_HOST)."""
import json
import os
import subprocess
import sys
import tempfile

# private scratch files: several test runs may share /tmp
SCRATCH = tempfile.mkdtemp(prefix="wb_pg_cli_")

if "WB_PG_HOST" not in os.environ:
    print("test_pg_cli: no PostgreSQL (run under scripts/with_pg.sh); skipped")
    sys.exit(77)

WB = sys.argv[1]
ENV = os.environ
CONN = "host=%s port=%s dbname=%s user=wb_trust" % (ENV["WB_PG_HOST"], ENV["WB_PG_PORT"], ENV["WB_PG_DB"])
PSQL = os.path.join(ENV.get("WB_PG_BIN", "/usr/bin"), "psql")
if not os.path.exists(PSQL):
    PSQL = "psql"
failures = 0
checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what, file=sys.stderr)


def psql(sql, stdin=None):
    r = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", CONN, "-c", sql], input=stdin,
                       capture_output=True)
    if r.returncode:
        raise RuntimeError(r.stderr.decode())
    return r.stdout


def psql_copy_out(query, opts):
    r = subprocess.run([PSQL, "-X", "-q", CONN, "-c", "COPY (%s) TO STDOUT WITH (%s)" % (query, opts)],
                       capture_output=True, check=True)
    return r.stdout


def wb(*args, stdin=None):
    return subprocess.run([WB, "pg"] + list(args), input=stdin, capture_output=True)


psql("""
drop table if exists tricky;
create table tricky(id int4, t text, n numeric, f float8, b bool, ts timestamptz, j jsonb, a int4[], by bytea, d date);
insert into tricky values
 (1, 'plain', 1.50, 0.1, true, '2024-01-02 03:04:05.678+00', '{"k": [1, "x"]}', '{1,2,NULL}', '\\x00ff', '2024-02-29'),
 (2, '', -0.000, 1e300, false, '1999-12-31 23:59:59+00', '"str"', '{}', '', '0044-03-15 BC'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 'comma, "quote" and
newline', 'NaN', 'NaN', true, 'infinity', 'null', '{3}', '\\x5c2e', 'infinity'),
 (5, 'tab	back\\slash \\. cr' || chr(13) || 'end', 123456789.123456789, '-Infinity', false, '-infinity', '[]', '{-1}', '\\x22', '2000-01-01'),
 (6, '\\.', 0, -0.0, true, '2000-01-01 00:00:00+00', '{}', '{0}', '\\x2c', '1970-01-01'),
 (7, 'Grüße 日本語 🎉', 1e-20, 3.14159, true, '2024-06-01 12:00:00+00', '{"ü": "é"}', '{7,8}', '\\xe29c93', '2024-06-01');
""")

queries = ["select * from tricky order by id", "select t from tricky order by id",
           "select id, t as \"weird, name\", t as \"q\"\"uote\" from tricky order by id",
           "select 1 as x where false"]
for q in queries:
    for fmt, opts in (("csv", "FORMAT csv, HEADER"), ("tsv", "FORMAT text, HEADER")):
        want = psql_copy_out(q, opts)
        r = wb("export", "--format", fmt, CONN, q)
        check(r.returncode == 0, "export %s exit %d: %s" % (fmt, r.returncode, r.stderr))
        check(r.stdout == want, "export --format %s of %r differs from COPY:\n%r\n%r" % (fmt, q, r.stdout, want))
    # without a header
    want = psql_copy_out(q, "FORMAT csv")
    r = wb("export", "--no-header", CONN, q)
    check(r.stdout == want, "export --no-header of %r differs" % q)

# jsonl: one valid object per row, types kept
r = wb("export", "--format", "jsonl", CONN, "select id, t, n, f, b, j, a from tricky order by id")
check(r.returncode == 0, "jsonl exit")
rows = [json.loads(line) for line in r.stdout.decode().splitlines()]
check(len(rows) == 7, "jsonl row count")
check(rows[0] == {"id": 1, "t": "plain", "n": 1.5, "f": 0.1, "b": True, "j": {"k": [1, "x"]}, "a": "{1,2,NULL}"},
      "jsonl row 1: %r" % rows[0])
check(rows[2]["t"] is None and rows[2]["j"] is None, "jsonl NULLs")
check(rows[3]["n"] == "NaN" and rows[3]["f"] == "NaN" and rows[3]["j"] is None, "jsonl NaN / json null: %r" % rows[3])
check(rows[6]["t"] == "Grüße 日本語 🎉" and rows[6]["j"] == {"ü": "é"}, "jsonl unicode")

# -o FILE, and the row count on stderr
out = os.path.join(SCRATCH, "export.csv")
r = wb("export", "-o", out, CONN, "select * from tricky order by id")
check(r.returncode == 0 and b"7 rows" in r.stderr, "export -o: %r" % r.stderr)

# import what export wrote (csv and tsv) and compare the tables
for fmt in ("csv", "tsv"):
    psql("drop table if exists tricky2; create table tricky2 (like tricky)")
    data = wb("export", "--format", fmt, CONN, "select * from tricky order by id").stdout
    r = wb("import", "--format", fmt, CONN, "tricky2", "-", stdin=data)
    check(r.returncode == 0 and b"7 rows committed into tricky2" in r.stderr, "import %s: %r" % (fmt, r.stderr))
    diff = psql("select count(*) from ((table tricky except all table tricky2) union all "
                "(table tricky2 except all table tricky)) x").split()
    check(b"0" in diff, "import %s round trip differs: %r" % (fmt, diff))

# --columns, a file argument, a larger load
psql("drop table if exists big; create table big(id int8, name text, extra text default 'd')")
path = os.path.join(SCRATCH, "big.csv")
BAD_CSV = os.path.join(SCRATCH, "bad.csv")
with open(path, "w") as f:
    f.write("id,name\n")
    for i in range(200000):
        f.write("%d,name %d\n" % (i, i))
r = wb("import", "--columns", "id,name", CONN, "big", path)
check(r.returncode == 0 and b"200000 rows" in r.stderr, "big import: %r" % r.stderr)
s = psql("select count(*), sum(id), count(*) filter (where extra = 'd') from big").decode()
check("200000 | 19999900000 | 200000" in s, "big import contents: %s" % s)

# bad data: exit 1, the server's error with the line, nothing committed
with open(BAD_CSV, "w") as f:
    f.write("id,name\n1,a\n2,b\nthree,c\n")
r = wb("import", "--columns", "id,name", CONN, "big", BAD_CSV)
check(r.returncode == 1 and b"invalid input syntax" in r.stderr and b"line 4" in r.stderr
      and b"0 rows committed" in r.stderr, "bad import: %r" % r.stderr)
s = psql("select count(*) from big").decode()
check("200000" in s, "bad import committed rows")
# errors: bad query, missing table, unreachable server, usage
r = wb("export", CONN, "select nope")
check(r.returncode == 1 and b"column \"nope\" does not exist" in r.stderr, "export bad query: %r" % r.stderr)
r = wb("import", CONN, "no_such_table", BAD_CSV)
check(r.returncode == 1 and b"does not exist" in r.stderr, "import missing table: %r" % r.stderr)
r = wb("export", "host=127.0.0.1 port=1", "select 1")
check(r.returncode == 1 and b"refused" in r.stderr, "export unreachable: %r" % r.stderr)
r = wb("export", "--format", "xml", CONN, "select 1")
check(r.returncode == 2, "bad format usage")
r = wb("import", CONN, "big", "/nonexistent/file.csv")
check(r.returncode == 2 and b"cannot open" in r.stderr, "import missing file")
# ---- issue 13 ----
import signal
import socket
import struct
import tempfile
import threading
import time

# 7. a header-less file with the default "has a header": an error naming the
# mismatch (COPY HEADER MATCH), nothing committed -- never a silently eaten row
psql("drop table if exists nh; create table nh(id int4, t text)")
r = wb("import", CONN, "nh", "-", stdin=b"1,a\n2,b\n3,c\n")
check(r.returncode == 1 and b"header" in r.stderr and b"--no-header" in r.stderr and b"0 rows committed" in r.stderr,
      "header-less import: %r" % r.stderr)
check(b"0" in psql("select count(*) from nh"), "header-less import committed rows")
r = wb("import", "--no-header", CONN, "nh", "-", stdin=b"1,a\n2,b\n3,c\n")
check(r.returncode == 0 and b"3 rows committed" in r.stderr, "import --no-header: %r" % r.stderr)
r = wb("import", CONN, "nh", "-", stdin=b"id,t\n4,d\n")
check(r.returncode == 0 and b"1 rows committed" in r.stderr, "import with a matching header: %r" % r.stderr)
check(b"4" in psql("select count(*) from nh"), "nh rows")

# identifiers are quoted: a mixed-case, spaced table and column, a schema
psql('drop table if exists "Odd Table"; create table "Odd Table"("Id" int4, "the name" text)')
r = wb("import", "--columns", "Id, the name", CONN, "public.Odd Table", "-", stdin=b"Id,the name\n1,x\n")
check(r.returncode == 0 and b"1 rows committed" in r.stderr, "quoted identifiers: %r" % r.stderr)
r = wb("import", "--no-header", CONN, "nh; drop table nh", "-", stdin=b"1,a\n")
check(r.returncode == 1 and b"does not exist" in r.stderr, "a table name is an identifier, not SQL: %r" % r.stderr)
check(b"4" in psql("select count(*) from nh"), "nh survived")

# 11. a line \. ends COPY's data: refused with its line number
r = wb("import", "--no-header", CONN, "nh", "-", stdin=b"5,e\n\\.\n6,f\n")
check(r.returncode == 1 and b"line 2" in r.stderr and b"0 rows committed" in r.stderr, "\\. line: %r" % r.stderr)
r = wb("import", "--no-header", "--format", "tsv", CONN, "nh", "-", stdin=b"5\te\n6\tf\n\\.")
check(r.returncode == 1 and b"line 3" in r.stderr, "\\. last line: %r" % r.stderr)
r = wb("import", "--no-header", CONN, "nh", "-", stdin=b'5,"x\n\\.\ny"\n')  # inside CSV quotes: data
check(r.returncode == 0, "\\. inside quotes is data: %r" % r.stderr)
check(b"5" in psql("select count(*) from nh"), "nh rows after \\. cases")

# 11. export: one result set only; jsonl keys unique
r = wb("export", CONN, "select 1 as a; select 2 as b")
check(r.returncode == 1 and b"more than one result set" in r.stderr, "two result sets: %r" % r.stderr)
r = wb("export", CONN, "set application_name = 'x'; select 2 as b")
check(r.returncode == 0 and r.stdout == b"b\n2\n", "one result set after a SET: %r" % r.stdout)
r = wb("export", "--format", "jsonl", CONN, "select 1 as a, 2 as a, 3 as a_2")
check(r.returncode == 0 and json.loads(r.stdout) == {"a": 1, "a_3": 2, "a_2": 3} and
      r.stdout.count(b'"a"') == 1, "jsonl duplicate names: %r" % r.stdout)

# 11. Ctrl-C during export cancels the query on the server
proc = subprocess.Popen([WB, "pg", "export", CONN, "select pg_sleep(30), 'wb_sigint_marker'"],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
time.sleep(1.0)
proc.send_signal(signal.SIGINT)
try:
    _, err = proc.communicate(timeout=10)
except subprocess.TimeoutExpired:
    proc.kill()
    _, err = proc.communicate()
check(proc.returncode == 130 and b"cancel" in err, "export SIGINT: %d %r" % (proc.returncode, err))
time.sleep(0.3)
left = psql("select count(*) from pg_stat_activity where query like '%wb_sigint_marker%' and pid <> pg_backend_pid()")
check(b" 0" in left or left.strip().endswith(b"0"), "the query still runs after Ctrl-C: %r" % left)


# 8. a fake server that drops the connection after CopyDone, before
# CommandComplete: "outcome unknown" and exit 3, never "0 rows committed"
def fake_copy_server(close_before_done, version=b"15.0", columns=None, finish=False, seen=None):
    d = tempfile.mkdtemp(prefix="wb_clifake_")
    path = os.path.join(d, ".s.PGSQL.5432")
    ls = socket.socket(socket.AF_UNIX)
    ls.bind(path)
    ls.listen(4)

    def recv_msg(s, first=False):
        def exact(n):
            b = b""
            while len(b) < n:
                k = s.recv(n - len(b))
                if not k:
                    raise EOFError
                b += k
            return b
        if first:
            n = struct.unpack("!I", exact(4))[0]
            return None, exact(n - 4)
        t = exact(1)
        n = struct.unpack("!I", exact(4))[0]
        return t, exact(n - 4)

    def msg(t, body):
        return t + struct.pack("!I", len(body) + 4) + body

    def serve():
        s, _ = ls.accept()
        try:
            recv_msg(s, first=True)
            s.sendall(msg(b"R", b"\0\0\0\0") + msg(b"K", b"\0\0\0\1\0\0\0\2") +
                      msg(b"S", b"server_version\x00" + version + b"\0") + msg(b"Z", b"I"))
            while True:
                t, body = recv_msg(s)
                if seen is not None:
                    seen.append((t, body))
                if t == b"Q" and body.lower().startswith(b"select"):
                    # RowDescription of the table's columns (text), no rows
                    desc = struct.pack("!H", len(columns)) + b"".join(
                        c + b"\0" + struct.pack("!IhIhih", 0, 0, 25, -1, -1, 0) for c in columns)
                    s.sendall(msg(b"T", desc) + msg(b"C", b"SELECT 0\0") + msg(b"Z", b"I"))
                elif t == b"Q":
                    s.sendall(msg(b"G", b"\0\0\0"))
                elif t == b"d" and close_before_done:
                    break
                elif t == b"c":
                    if finish:
                        s.sendall(msg(b"C", b"COPY 2\0") + msg(b"Z", b"I"))
                        continue
                    break
                elif t == b"X":
                    break
        except EOFError:
            pass
        s.close()
        ls.close()
        os.unlink(path)
        os.rmdir(d)

    th = threading.Thread(target=serve)
    th.start()
    return "host=%s port=5432 user=x dbname=x" % d, th


data = b"".join(b"%d,x\n" % i for i in range(200000))
dsn, th = fake_copy_server(False)
r = wb("import", "--no-header", dsn, "t", "-", stdin=data)
th.join()
check(r.returncode == 3 and b"outcome unknown" in r.stderr and b"check the table" in r.stderr
      and b"0 rows committed" not in r.stderr, "lost after CopyDone: %d %r" % (r.returncode, r.stderr))
dsn, th = fake_copy_server(True)
r = wb("import", "--no-header", dsn, "t", "-", stdin=data)
th.join()
check(r.returncode == 1 and b"0 rows committed" in r.stderr, "lost before CopyDone: %d %r" % (r.returncode, r.stderr))

# 7. before PostgreSQL 15 (no HEADER MATCH) the client checks the header
# line against the table's columns and does not send it
seen = []
dsn, th = fake_copy_server(False, version=b"14.11", columns=[b"id", b"name"], finish=True, seen=seen)
r = wb("import", dsn, "t", "-", stdin=b"id,name\n1,x\n2,y\n")
th.join()
copy_q = [b for t, b in seen if t == b"Q" and b.startswith(b"COPY")]
sent = b"".join(b for t, b in seen if t == b"d")
check(r.returncode == 0 and b"2 rows committed" in r.stderr, "pre-15 header import: %d %r" % (r.returncode, r.stderr))
check(copy_q and b"HEADER" not in copy_q[0] and sent == b"1,x\n2,y\n", "pre-15 header skipped: %r %r" % (copy_q, sent))
seen = []
dsn, th = fake_copy_server(False, version=b"14.11", columns=[b"id", b"name"], finish=True, seen=seen)
r = wb("import", dsn, "t", "-", stdin=b"1,x\n2,y\n")
th.join()
check(r.returncode == 1 and b"header" in r.stderr and b"--no-header" in r.stderr
      and not [b for t, b in seen if t == b"Q" and b.startswith(b"COPY")],
      "pre-15 header-less import refused: %d %r" % (r.returncode, r.stderr))

import shutil  # noqa: E402
shutil.rmtree(SCRATCH, ignore_errors=True)
print("test_pg_cli: %d checks, %d failed" % (checks, failures))
sys.exit(1 if failures else 0)
