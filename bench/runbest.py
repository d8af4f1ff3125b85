#!/usr/bin/python3
"""usage: runbest.py RUNS CMD [ARGS...]
Run CMD RUNS times (stdout and stderr to /dev/null) and print the best wall
time and the best CPU time (user + system of the child, from wait4) in
seconds: "WALL CPU". On a shared machine the CPU time is the stable measure
of single-core speed; the wall time is what a user waits."""
import os
import subprocess
import sys
import time

runs, cmd = int(sys.argv[1]), sys.argv[2:]
best_wall = best_cpu = None
with open(os.devnull, "wb") as null:
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=null, stderr=null)
        _, _, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t
        cpu = ru.ru_utime + ru.ru_stime
        best_wall = wall if best_wall is None else min(best_wall, wall)
        best_cpu = cpu if best_cpu is None else min(best_cpu, cpu)
print(f"{best_wall:.4f} {best_cpu:.4f}")
