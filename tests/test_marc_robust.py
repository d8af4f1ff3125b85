#!/usr/bin/python3
"""Robustness of the MARC CLI on damaged input (issue 15 §1), run by ctest.

usage: test_marc_robust.py BUILD/wirebuf ../shared/data/marc

Every input is built here from the shared real files (records truncated,
bytes flipped, junk inserted). Each case asserts the exact set of intact
records that comes out, the reports on stderr, well-formed MARCXML / JSON
(Python's xml and json modules), and that --threads 1 and 2 give
byte-identical stdout and stderr. A bounded mutation test (seeded, a few
seconds) checks that no intact record is lost or altered.

Exit 77 (skipped) when ../shared is missing.
"""
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import xml.dom.minidom

WB, DATA = sys.argv[1], sys.argv[2]
if not os.path.isdir(DATA):
    print(f"SKIP: {DATA} not found (the shared MARC files live beside the project)")
    sys.exit(77)

passed = failed = 0
TMP = tempfile.mkdtemp(prefix="wb_robust_")


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def wb(*args, stdin=None, timeout=60):
    return subprocess.run([WB, *args], capture_output=True, input=stdin, timeout=timeout)


def split(data):
    """ISO 2709 records of a well-formed file (each with its 0x1D)."""
    return [r + b"\x1d" for r in data.split(b"\x1d") if r]


def by_length(data):
    """Records of our own ISO 2709 output, by the leader lengths it writes
    (a 0x1D inside a field's data must not split a record)."""
    out, i = [], 0
    while i + 5 <= len(data):
        n = int(data[i:i + 5])
        out.append(data[i:i + n])
        i += n
    return out


def write(name, data):
    path = os.path.join(TMP, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


def well_formed(data, fmt):
    try:
        if fmt == "marcxml":
            xml.dom.minidom.parseString(data)
        else:
            json.loads(data.decode("utf-8"))
        return True
    except Exception as e:  # noqa: BLE001 - any parse failure is the finding
        print("   not well-formed:", e)
        return False


def convert(path, fmt="iso2709", *extra):
    """Run the conversion with --threads 1 and 2; they must agree byte for
    byte (stdout and stderr). Returns the --threads 1 result."""
    r1 = wb("marc", "convert", "--to", fmt, "--threads", "1", *extra, path)
    r2 = wb("marc", "convert", "--to", fmt, "--threads", "2", *extra, path)
    check(r1.stdout == r2.stdout and r1.stderr == r2.stderr and r1.returncode == r2.returncode,
          f"{os.path.basename(path)} --to {fmt}: --threads 1 and 2 differ")
    return r1


R = split(open(DATA + "/records/loc-bibliographic-386.mrc", "rb").read())[:8]
GOOD = b"".join(R)


def case(name, data, want, reports):
    """want: indices into R of the records that must come out, in order, and
    nothing else; reports: regexes that must each match a line of stderr."""
    path = write(name + ".mrc", data)
    r = convert(path)
    got = split(r.stdout)
    idx = [R.index(x) if x in R else "made-up" for x in got]
    check(idx == want, f"{name}: records {idx} != {want}\n   {r.stderr.decode()}")
    err = r.stderr.decode()
    for rx in reports:
        check(re.search(rx, err, re.M), f"{name}: no report matching {rx!r} in\n   {err}")
    check(r.returncode == 1, f"{name}: exit {r.returncode} (want 1: problems reported)")
    for fmt in ("marcxml", "json"):
        check(well_formed(convert(path, fmt).stdout, fmt), f"{name}: {fmt} not well-formed")
    return err


# A truncated record followed by complete ones: no record made up of the
# truncated one and the next, the next comes out intact.
case("truncated", R[0] + R[1][:300] + b"".join(R[2:]), [0, 2, 3, 4, 5, 6, 7],
     [r"record 2 at byte \d+: truncated record: .*\(skipped\)"])
# Digits as junk before the records: junk at byte 0, record numbers not shifted.
err = case("digits", b"12345" + GOOD, list(range(8)), [r"junk at byte 0: 5 bytes of junk before a leader"])
check("record 0" not in err and "record 1 " not in err, "digits: junk got a record number")
# A stray copy of a leader between records.
case("stray_leader", R[0] + R[5][:24] + b"".join(R[1:]), list(range(8)),
     [r"junk at byte %d: 24 bytes of junk before a leader" % len(R[0])])
# A stray leader inside a record: that record cannot be trusted, the others
# come out.
case("stray_inside", R[0] + R[1][:100] + R[5][:24] + R[1][100:] + b"".join(R[2:]), [0, 2, 3, 4, 5, 6, 7],
     [r"record 2 at byte \d+: damaged record .*not trusted.*\(skipped\)"])
# A deleted 0x1D: the record is whole (its directory proves it), rebuilt.
case("deleted_rt", R[0][:-1] + b"".join(R[1:]), list(range(8)),
     [r"record 1 at byte \d+: .*record terminator \(0x1D\) missing, rebuilt \(recovered\)"])
# An overwritten 0x1D.
case("overwritten_rt", R[0][:-1] + b"X" + b"".join(R[1:]), list(range(8)),
     [r"record 1 at byte \d+: .*record terminator \(0x1D\) overwritten, rebuilt \(recovered\)"])
# A length field that lands on a later terminator: the data proves the
# earlier boundary.
L = len(R[0]) + len(R[1])
case("length_later", b"%05d" % L + R[0][5:] + b"".join(R[1:]), list(range(8)),
     [r"record 1 at byte 0: record length %d in leader is wrong, record ends at the terminator %d" % (L, len(R[0]))])
# Junk in the middle: later record numbers are positions of records.
bad = bytearray(R[4])
bad[12:17] = b"00099"
err = case("junk_numbering", b"garbage!" + b"".join(R[:4]) + b"\x1d\x1d\x1d" + bytes(bad) + b"".join(R[5:]),
           list(range(8)), [r"record 5 at byte \d+: base address '00099' wrong, using \d+ \(recovered\)"])
# (the writer recomputes the base address: the repaired record is R[4] again)

# A 1 MB run of 0x1D: a few lines on stderr, not a million.
path = write("rts.mrc", b"\x1d" * (1 << 20) + GOOD)
r = convert(path, "iso2709")
lines = r.stderr.decode().splitlines()
check(split(r.stdout) == R and len(lines) <= 5 and "more of the same problem" in r.stderr.decode(),
      f"1 MB of 0x1D: {len(lines)} stderr lines, {len(split(r.stdout))} records")

# validate: every problem of a record, including bytes that are not
# printable ASCII in leader, tag and indicator positions.
rec = bytearray(R[2])
base = int(rec[12:17])
rec[12:17] = b"00099"                     # wrong base address
rec[24 + 3:24 + 7] = b"9x99"              # bad directory entry 1
ent = 24 + 12 * 5                          # a data field's entry
start = int(rec[ent + 7:ent + 12])
rec[base + start] = 0xFF                   # indicator byte
rec[ent + 1] = 0xC3                        # tag byte
i = rec.index(b"\x1fa", base + start)
rec[i + 2] = 0xFF                          # invalid UTF-8 in data
rec[7] = 0x85                              # leader byte
path = write("multi.mrc", R[0] + bytes(rec) + R[3])
for t in ("1", "2"):
    r = wb("marc", "validate", "--threads", t, path)
    e = r.stderr.decode()
    for what in (r"leader/07 byte 0x85 not ASCII", r"base address '00099' wrong", r"directory entry 1 \(",
                 r"tag bytes .. c3 .. not ASCII", r"indicator bytes ff .. not ASCII", r"invalid UTF-8"):
        check(re.search(r"record 2 at byte \d+: .*%s" % what, e),
              f"validate --threads {t}: '{what}' not reported in\n   {e}")
    check(r.returncode == 1 and "3 records, 1 with errors" in e, f"validate --threads {t}: summary {e!r}")
for fmt in ("marcxml", "json"):
    check(well_formed(convert(path, fmt).stdout, fmt), f"multi: {fmt} not well-formed")


# A data field without indicators (a real Internet Archive record has
# "040 $aCaSfIA"): its content is kept and the repair reported.
def iso(leader, fields):
    d, body = b"", b""
    for tag, data in fields:
        d += tag + b"%04d%05d" % (len(data) + 1, len(body))
        body += data + b"\x1e"
    base = 24 + len(d) + 1
    total = base + len(body) + 1
    return b"%05d" % min(total, 99999) + leader[5:12] + b"%05d" % base + leader[17:] + d + b"\x1e" + body + b"\x1d"


noind = iso(b"00000nam a2200000 a 4500", [(b"001", b"ia123"), (b"040", b"\x1faCaSfIA"), (b"245", b"10\x1faTitle")])
path = write("noind.mrc", R[0] + noind)
r = convert(path, "marcxml")
check(b'<datafield tag="040" ind1=" " ind2=" ">' in r.stdout and b'<subfield code="a">CaSfIA</subfield>' in r.stdout,
      "040 without indicators lost its content")
check(re.search(r"record 2 at byte \d+: .*data field 040 has no indicator\(s\): blank supplied, content kept",
                r.stderr.decode()), f"040 without indicators not reported: {r.stderr!r}")

# A directory entry that starts inside a multi-byte character of a record
# whose bytes are valid UTF-8 as a whole (a fuzz finding: the whole-record
# UTF-8 check let the cut field through, and MARCXML/JSON were not UTF-8).
cut = iso(b"00000nam a2200000 a 4500", [(b"001", b"cut1"), (b"245", b"10\x1fa\xe6\x97\xa5\xe6\x9c\xac"),
                                          (b"500", b"  \x1faNote")])
d245 = 24 + 12  # the 245 entry: length at +3, start at +7
ln, st = int(cut[d245 + 3:d245 + 7]), int(cut[d245 + 7:d245 + 12])
cut = cut[:d245 + 3] + b"%04d%05d" % (ln - 5, st + 5) + cut[d245 + 12:]
assert cut.decode("utf-8")
path = write("cut.mrc", cut)
for fmt in ("marcxml", "json"):
    r = wb("marc", "convert", "--to", fmt, "-q", path)
    check(r.returncode in (0, 1) and well_formed(r.stdout, fmt), f"field cut inside a character: {fmt} not well-formed")

# ... and one with neither indicators nor a subfield delimiter keeps its
# text as $a.
nodelim = iso(b"00000nam a2200000 a 4500", [(b"001", b"ia124"), (b"040", b"CaSfIA"), (b"245", b"10\x1faTitle")])
path = write("nodelim.mrc", nodelim)
r = convert(path, "marcxml")
check(b'<datafield tag="040" ind1=" " ind2=" ">\n    <subfield code="a">CaSfIA</subfield>' in r.stdout and
      b"data field 040 has no subfield delimiter: its content kept as $a" in r.stderr,
      f"040 without a subfield delimiter lost its content: {r.stdout[-400:]!r} {r.stderr!r}")

# convert -o x x: refused, x untouched.
path = write("self.mrc", GOOD)
r = wb("marc", "convert", "--to", "iso2709", "-o", path, path)
check(r.returncode == 2 and b"is the input" in r.stderr and open(path, "rb").read() == GOOD,
      "convert -o x x was not refused or changed x")
link = os.path.join(TMP, "self_link.mrc")
os.link(path, link)
r = wb("marc", "convert", "--to", "marcxml", "-o", link, path)
check(r.returncode == 2 and open(path, "rb").read() == GOOD, "convert -o onto a hard link of the input")

# Pipes: each byte scanned once, junk buffering bounded. 64 MB of zeros and
# 16 MB of junk without terminators through a pipe, then a 40 MB record.
import resource  # noqa: E402
for what, cmd in (("zeros", "head -c 128M /dev/zero"),
                  ("junk", "head -c 96M /dev/zero | tr '\\000' 'x'"),
                  ("digits then junk", "(printf 00000; head -c 96M /dev/zero | tr '\\000' 'x')")):
    t0 = time.time()
    p = subprocess.run(f"{cmd} | {WB} marc count -", shell=True, capture_output=True, timeout=60)
    dt = time.time() - t0
    check(p.stdout.startswith(b"0\t") and dt < 10, f"pipe of {what}: {dt:.1f} s, {p.stdout!r}")
    check(b"more of the same problem" in p.stderr or what == "zeros", f"pipe of {what}: junk reports not collapsed")
# no child so far held more than a few MB (the junk was dropped, not buffered)
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
if not os.environ.get("WB_SANITIZED"):
    check(rss < 48 * 1024, f"junk through a pipe: a process grew to {rss} KB")
big = iso(b"99999nam a2200000 a 4500", [(b"001", b"big"), (b"500", b"  \x1fa" + b"x" * (40 << 20))])
path = write("big.mrc", big)
t0 = time.time()
p = subprocess.run(f"cat {path} | {WB} marc count -", shell=True, capture_output=True, timeout=60)
dt = time.time() - t0
check(p.stdout.startswith(b"1\t") and dt < 10, f"40 MB record through a pipe: {dt:.1f} s, {p.stdout!r}")

# Over 99,999 bytes to ISO 2709: an error, unless --allow-oversize.
r = wb("marc", "convert", "--to", "iso2709", path)
check(r.returncode == 1 and r.stdout == b"" and b"--allow-oversize" in r.stderr, "oversize record written silently")
r = wb("marc", "convert", "--to", "iso2709", "--allow-oversize", path)
check(len(split(r.stdout)) == 1 and r.stdout[:5] == b"99999", "--allow-oversize did not write the record")
os.unlink(path)

# A truncated MARC-in-JSON array keeps its complete records.
js = wb("marc", "convert", "--to", "json", DATA + "/records/pymarc-test.dat").stdout
n_all = len(json.loads(js))
cut = js[: len(js) * 2 // 3]
path = write("cut.json", cut)
r = wb("marc", "convert", "--to", "marcxml", path)
complete = cut.count(b'\n{"leader"') + (1 if cut.startswith(b'[{"leader"') or cut.startswith(b'[\n{"leader"') else 0)
got = r.stdout.count(b"<record")
check(r.returncode == 2 and 0 < got < n_all and b"complete records before it kept" in r.stderr,
      f"truncated JSON array: {got} of {n_all} records, exit {r.returncode}: {r.stderr!r}")
check(well_formed(r.stdout, "marcxml"), "truncated JSON array: MARCXML not well-formed")


# ---- mutation test --------------------------------------------------------
# Seeded mutations of real files; for each: the records the mutation did not
# touch must all come out unchanged and in order (compared with the clean
# file's conversion), MARCXML and JSON must be well-formed. A fixed number of
# mutations (WB_MUTATIONS, default 60), so the test checks the same cases
# however busy the machine is.
FILES = ["records/loc-bibliographic-386.mrc", "records/loc-authority-150.mrc", "records/marc4j-pride-and-prejudice.mrc",
         "records/pymarc-test.dat", "records/marc4j-selectedRecs.mrc"]
rng = random.Random(15)
want_runs = int(os.environ.get("WB_MUTATIONS", "60"))
runs = lost = made_up = attempts = 0
while runs < want_runs and attempts < 20 * want_runs:
    attempts += 1
    fname = rng.choice(FILES)
    raw = open(os.path.join(DATA, fname), "rb").read()
    recs = split(raw)
    take = rng.randint(3, 12)
    first = rng.randrange(0, max(1, len(recs) - take))
    recs = recs[first:first + take]
    data = b"".join(recs)
    starts = [0]
    for x in recs:
        starts.append(starts[-1] + len(x))
    clean = split(wb("marc", "convert", "--to", "iso2709", "-q", "--allow-oversize", write("clean.mrc", data)).stdout)
    if len(clean) != len(recs):
        continue
    i = rng.randrange(len(recs))
    s, e = starts[i], starts[i + 1]
    kind = rng.choice(["flip", "truncate", "junk", "digits", "delrt", "overrt", "leader", "length", "between"])
    touched = {i}
    if kind == "flip":
        p = rng.randrange(s, e)
        m = data[:p] + bytes([rng.choice([0x1D, 0x1E, 0x1F, 0xFF, 0xC3, 0x00, rng.randrange(256)])]) + data[p + 1:]
    elif kind == "truncate":
        p = rng.randrange(s + 1, e)
        m = data[:p] + data[min(e, p + rng.randint(1, 400)):]
    elif kind in ("junk", "digits", "leader"):
        p = rng.randrange(s, e)
        ins = {"junk": bytes(rng.randrange(256) for _ in range(rng.randint(1, 40))),
               "digits": b"%d" % rng.randrange(10, 10**7),
               "leader": recs[rng.randrange(len(recs))][:24]}[kind]
        m = data[:p] + ins + data[p:]
        if p == s:
            touched = set()
    elif kind == "between":
        ins = rng.choice([b"12345", b"\x1d" * 50, recs[0][:24], b"garbage\r\n"])
        m = data[:s] + ins + data[s:]
        touched = set()
    elif kind == "delrt":
        m = data[:e - 1] + data[e:]
    elif kind == "overrt":
        m = data[:e - 1] + bytes([rng.randrange(0x20, 0x7F)]) + data[e:]
    else:  # length: land on a later terminator
        if i + 1 >= len(recs) or e - s + len(recs[i + 1]) > 99999:
            continue
        m = data[:s] + b"%05d" % (e - s + len(recs[i + 1])) + data[s + 5:]
    path = write("mut.mrc", m)
    runs += 1
    out = by_length(wb("marc", "convert", "--to", "iso2709", "-q", "--allow-oversize", path).stdout)
    want = [clean[j] for j in range(len(recs)) if j not in touched]
    # every intact record, unchanged and in order
    k = 0
    for x in out:
        if k < len(want) and x == want[k]:
            k += 1
    # and nothing made up: at most one record out per touched record
    if len(out) - k > len(touched):
        made_up += 1
        print(f"  mutation {kind} of record {i + 1} in {fname} [{first}:{first + take}]: "
              f"{len(out) - k} records out beyond the intact ones")
    if k != len(want):
        lost += 1
        print(f"  mutation {kind} of record {i + 1} in {fname} [{first}:{first + take}]: "
              f"{len(want) - k} intact records lost or altered")
    for fmt in ("marcxml", "json"):
        if not well_formed(wb("marc", "convert", "--to", fmt, "-q", path).stdout, fmt):
            check(False, f"mutation {kind} of {fname}: {fmt} not well-formed")
    if runs % 10 == 0:  # thread counts agree
        convert(path, "marcxml")
check(runs == want_runs, f"mutation test ran only {runs} of {want_runs} mutations")
check(lost == 0, f"mutation test: {lost} of {runs} mutations lost or altered intact records")
check(made_up == 0, f"mutation test: {made_up} of {runs} mutations made up records")
print(f"mutation test: {runs} mutations, {lost} lost intact records")

print(f"marc_robust: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
