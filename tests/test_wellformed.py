#!/usr/bin/python3
"""Well-formed output whatever the input, and --threads 1 == --threads 2.

Records from ../shared/data/marc get bytes >= 0x80 and control bytes put into
structural positions (leader, directory tags, indicators, subfield codes);
every MARCXML output must then parse as XML (expat: UTF-8 and XML 1.0
characters), every JSON output as JSON, every mrk output decode as UTF-8, each
with as many records as went in, with U+FFFD where the bad bytes were; and the
CLI's output with --threads 2 must be byte-identical to --threads 1 for every
format on every shared file.

Usage: test_wellformed.py BUILD/wirebuf ../shared/data/marc (exit 77 without
the shared files)."""
import glob
import json
import os
import random
import subprocess
import sys
import tempfile
import xml.parsers.expat

WB, DATA = sys.argv[1], sys.argv[2]
if not os.path.isdir(DATA):
    print(f"test_wellformed: {DATA} not found (the shared MARC files live beside the project); skipped")
    sys.exit(77)

failures = checks = 0


def check(cond, what):
    global failures, checks
    checks += 1
    if not cond:
        failures += 1
        print("FAIL:", what, file=sys.stderr)


def convert(path, to, threads="1"):
    r = subprocess.run([WB, "marc", "convert", "-q", "--threads", threads, "--to", to, path], capture_output=True)
    return r.returncode, r.stdout


def xml_records(data):
    n = [0]
    p = xml.parsers.expat.ParserCreate()

    def start(name, attrs):
        if name.endswith("record"):
            n[0] += 1
    p.StartElementHandler = start
    p.Parse(data, True)
    return n[0]


def mutate(rec, rng):
    """Put bad bytes into the leader, a tag, an indicator and a subfield code."""
    rec = bytearray(rec)
    base = int(rec[12:17])
    nent = (base - 1 - 24) // 12
    bad = [0x80, 0xE9, 0xFF, 0xC3, 0x01, 0x0B, 0x1B, 0x7F]
    rec[rng.choice([5, 6, 7, 8, 17, 18, 19])] = rng.choice(bad)
    e = rng.randrange(nent)
    rec[24 + 12 * e + rng.randrange(3)] = rng.choice(bad)
    for e in range(nent):
        tag = bytes(rec[24 + 12 * e:24 + 12 * e + 3])
        if tag.isdigit() and not tag.startswith(b"00"):
            start = base + int(rec[24 + 12 * e + 7:24 + 12 * e + 12])
            rec[start + rng.randrange(2)] = rng.choice(bad)
            if rec[start + 2] == 0x1F:
                rec[start + 3] = rng.choice(bad)
            break
    return bytes(rec)


rng = random.Random(15)
src = open(os.path.join(DATA, "records", "loc-bibliographic-386.mrc"), "rb").read()
recs = [r + b"\x1d" for r in src.split(b"\x1d") if len(r) > 24]
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "mutated.mrc")
    with open(path, "wb") as fh:
        fh.write(b"".join(mutate(r, rng) for r in recs))
    for threads in ("1", "2"):
        rc, out = convert(path, "marcxml", threads)
        try:
            n = xml_records(out)
            check(n == len(recs), f"MARCXML ({threads} threads): {n} records of {len(recs)}")
        except xml.parsers.expat.ExpatError as e:
            check(False, f"MARCXML ({threads} threads) is not well-formed: {e}")
        check("\ufffd".encode() in out, "MARCXML has U+FFFD for the bad bytes")
        rc, out = convert(path, "json", threads)
        try:
            doc = json.loads(out.decode("utf-8"))
            check(len(doc) == len(recs), f"JSON ({threads} threads): {len(doc)} records of {len(recs)}")
        except ValueError as e:
            check(False, f"JSON ({threads} threads) is not valid: {e}")
        rc, out = convert(path, "mrk", threads)
        try:
            text = out.decode("utf-8")
            check(text.count("=LDR  ") == len(recs), "mrk: every record")
        except UnicodeDecodeError as e:
            check(False, f"mrk ({threads} threads) is not UTF-8: {e}")

    # one record, byte by byte: every single structural byte value in the tag
    one = recs[0]
    for v in list(range(0, 0x20)) + list(range(0x7F, 0x100)):
        if v in (0x1D, 0x1E):
            continue
        r = bytearray(one)
        r[24 + 12 + 1] = v  # second directory entry's tag
        r[7] = v            # leader/07
        p1 = os.path.join(tmp, "one.mrc")
        with open(p1, "wb") as fh:
            fh.write(bytes(r))
        _, out = convert(p1, "marcxml")
        try:
            xml_records(out)
        except xml.parsers.expat.ExpatError as e:
            check(False, f"tag/leader byte 0x{v:02x}: MARCXML not well-formed: {e}")
        _, out = convert(p1, "json")
        try:
            json.loads(out.decode("utf-8"))
        except ValueError as e:
            check(False, f"tag/leader byte 0x{v:02x}: JSON not valid: {e}")
        checks += 2

# --threads 1 and 2 byte-identical on every shared file, every format
for f in sorted(glob.glob(os.path.join(DATA, "*", "*"))):
    if not os.path.isfile(f):
        continue
    for to in ("marcxml", "json", "mrk", "iso2709"):
        a, b = convert(f, to, "1"), convert(f, to, "2")
        check(a == b, f"{os.path.basename(f)} -> {to}: --threads 2 differs from --threads 1")

print(f"test_wellformed: {checks - failures} of {checks} checks passed")
sys.exit(1 if failures else 0)
