"""Python reading benchmark: every record of the corpus, touching
record['245'] and one subfield, with MARCReader(threads=1) and (threads=2).
Each run is a fresh process so peak RSS (ru_maxrss) is per configuration.

    /usr/bin/python3 bench/bench_marc_py.py BUILD_DIR CORPUS [RUNS]
Prints one line per configuration: threads, records, best seconds, rec/s, peak RSS KB.
"""
import os
import subprocess
import sys

CHILD = r"""
import resource, sys, time
sys.path.insert(0, sys.argv[1])
import wirebuf.marc as pymarc
t = time.perf_counter(); n = 0
for record in pymarc.MARCReader(sys.argv[2], threads=int(sys.argv[3]), permissive=True):
    if record is None:
        continue
    try:
        record['245']['a']
    except KeyError:
        pass
    n += 1
dt = time.perf_counter() - t
print(n, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def main():
    build, corpus = sys.argv[1], sys.argv[2]
    runs = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    for threads in (1, 2):
        best = None
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-c", CHILD, os.path.join(build, "python"), corpus, str(threads)],
                                 check=True, capture_output=True, text=True).stdout.split()
            n, dt, rss = int(out[0]), float(out[1]), int(out[2])
            if best is None or dt < best[1]:
                best = (n, dt, rss)
        n, dt, rss = best
        print(threads, n, "%.3f" % dt, int(n / dt), rss)


if __name__ == "__main__":
    main()
