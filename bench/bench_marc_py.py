"""Python reading benchmark: every record of a corpus, touching
record['245']['a'], each configuration in a fresh process (so peak RSS,
ru_maxrss, is per configuration), best of RUNS.

    /usr/bin/python3 bench/bench_marc_py.py BUILD_DIR CORPUS [RUNS]

stdout, for bench.sh: two lines, MARCReader(CORPUS, recover=True,
threads=1) and threads=2 (the parallel pipeline): threads, records, best
seconds, rec/s, peak RSS KB.

Then the pymarc-compatibility comparison (written to
bench/results_marc_py.md and to stderr) on the 10,250-record real corpus
(../shared/data/marc/records/* concatenated 10 times), all in this run:
MARCReader(path), MARCReader(open(path, 'rb')), MARCReader(bytes),
MARCReader(io.BytesIO) and, when WB_PYMARC_SRC names a pymarc source tree
(the directory holding pymarc/), pymarc's MARCReader(open(path, 'rb')).
"""
import os
import subprocess
import sys
import tempfile

CHILD = r"""
import io, resource, sys, time
sys.path.insert(0, sys.argv[1])
kind, path, threads = sys.argv[3], sys.argv[2], sys.argv[4]
if kind == "pymarc":
    sys.path.insert(0, sys.argv[5])
    import pymarc
else:
    import wirebuf.marc as pymarc
kw = {}
if kind == "recover":
    kw = {"recover": True, "threads": int(threads)}
data = open(path, "rb").read() if kind in ("bytes", "bytesio") else None
t = time.perf_counter(); c = time.process_time(); n = 0
if kind in ("path", "recover"):
    src = path
elif kind in ("fileobj", "pymarc"):
    src = open(path, "rb")
elif kind == "bytes":
    src = data
else:
    src = io.BytesIO(data)
for record in pymarc.MARCReader(src, **kw):
    if record is None:
        continue
    try:
        record['245']['a']
    except KeyError:
        pass
    n += 1
dt = time.perf_counter() - t
print(n, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.process_time() - c)
"""


def best(build, corpus, kind, runs, threads=1, extra=""):
    res = None
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", CHILD, os.path.join(build, "python"), corpus, kind, str(threads),
                              extra], check=True, capture_output=True, text=True).stdout.split()
        n, dt, rss, cpu = int(out[0]), float(out[1]), int(out[2]), float(out[3])
        if res is None or dt < res[1]:
            res = (n, dt, rss, res[3] if res and res[3] < cpu else cpu)
        elif cpu < res[3]:
            res = (res[0], res[1], res[2], cpu)
    return res


def main():
    build, corpus = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    for threads in (1, 2):
        n, dt, rss, _ = best(build, corpus, "recover", runs, threads)
        print(threads, n, "%.3f" % dt, int(n / dt), rss)
    sys.stdout.flush()

    records = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "marc",
                           "records")
    if not os.path.isdir(records):
        print("bench_marc_py: %s not found: no pymarc-compatibility comparison" % records, file=sys.stderr)
        return
    one = b"".join(open(os.path.join(records, f), "rb").read() for f in sorted(os.listdir(records)))
    with tempfile.NamedTemporaryFile(suffix=".mrc", delete=False) as tmp:
        tmp.write(one * 10)
    try:
        rows = []
        for kind, label in (("path", "MARCReader(path)"), ("fileobj", "MARCReader(open(path, 'rb'))"),
                            ("bytes", "MARCReader(bytes)"), ("bytesio", "MARCReader(io.BytesIO(...))")):
            rows.append((label, best(build, tmp.name, kind, runs)))
        src = os.environ.get("WB_PYMARC_SRC")
        peer = None
        why = "pymarc not measured: set WB_PYMARC_SRC to a pymarc 5.3.1 source tree."
        if src and os.path.isdir(os.path.join(src, "pymarc")):
            # pymarc before 5 (no Subfield) returns None for a missing tag
            # instead of raising KeyError: the loop would not be the same
            five = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import pymarc; "
                                   "sys.exit(0 if hasattr(pymarc, 'Subfield') else 3)", src]).returncode == 0
            if five:
                peer = best(build, tmp.name, "pymarc", min(runs, 3), 1, src)
            else:
                why = "pymarc not measured: %s is not pymarc 5 (no pymarc.Subfield); set WB_PYMARC_SRC to 5.3.1." % src
                print("bench_marc_py: " + why, file=sys.stderr)
        lines = ["Python, pymarc-compatible MARCReader: %d records decoded (records/* x 10: 10,250 in the file, 10 that pymarc too rejects), record['245']['a'], "
                 "best of %d, fresh process each" % (rows[0][1][0], runs), "",
                 "(wall: best wall-clock time; CPU: best process CPU time of all threads, steadier on a shared machine; "
                 "wirebuf.marc runs with its default threads: one decoding worker beside the Python thread; "
                 "pymarc is single-threaded)", "",
                 "| reader | records | wall s | rec/s | CPU s | time vs path (wall / CPU) | vs pymarc 5.3.1 (wall / CPU) |",
                 "|---|---|---|---|---|---|---|"]
        path_dt, path_cpu = rows[0][1][1], rows[0][1][3]
        for label, (n, dt, rss, cpu) in rows:
            vs = "%.1fx / %.1fx" % (peer[1] / dt, peer[3] / cpu) if peer else "n/a"
            lines.append("| wirebuf.marc %s | %d | %.3f | %d | %.3f | %.2f / %.2f | %s |"
                         % (label, n, dt, n / dt, cpu, dt / path_dt, cpu / path_cpu, vs))
        if peer:
            lines.append("| pymarc 5.3.1 MARCReader(open(path, 'rb')) | %d | %.3f | %d | %.3f | | 1.0x |"
                         % (peer[0], peer[1], peer[0] / peer[1], peer[3]))
        else:
            lines.append("")
            lines.append(why)
        text = "\n".join(lines) + "\n"
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "results_marc_py.md"), "w") as f:
            f.write(text)
        sys.stderr.write(text)
    finally:
        os.unlink(tmp.name)


if __name__ == "__main__":
    main()
