#!/bin/sh
# The pooling proxy (`wirebuf serve --upstream`, issue 12) vs PgBouncer 1.18,
# same run, same throwaway PostgreSQL 15 (scripts/with_pg.sh, fsync off),
# same pool mode (transaction) and pool size, both proxies up the whole time
# (scripts/with_proxy.sh twice, nested), every measurement alternating:
#   pgbench -S -M simple, 64 clients, 2 threads, pool of 8: tps (best of N
#     runs) and the proxy's CPU time per transaction (utime + stime of the
#     proxy process from /proc/PID/stat, all its threads, before/after the
#     run, divided by the transactions of the run; best of N);
#   pgbench -S -M prepared, 64 clients: through wirebuf (tps), and what
#     PgBouncer 1.18 does with it in transaction mode (its error);
#   10,000 idle clients (bench/idle_sessions.py, on the fresh proxies): RSS;
#   added latency per query: `SELECT 1` round trips from one client (a
#     small Python client of this script's, each round trip timed: not
#     pgbench -l, whose lazy clock logs 0 us for many direct transactions),
#     p50/p95 through each proxy and straight to PostgreSQL.
# Results: bench/results_proxy.md.
# usage: bench/bench_proxy.sh [BUILD_DIR]
# env: WB_BENCH_SECONDS (seconds per pgbench run, default 10),
#      WB_BENCH_ROUNDS (runs per proxy and mode, default 3),
#      WB_BENCH_SCALE (pgbench scale, default 10), WB_BENCH_IDLE (clients,
#      default 10000), WB_BENCH_POOL (pool size, default 8),
#      WB_BENCH_CLIENTS (pgbench clients, default 64)
set -eu
cd "$(dirname "$0")/.."

# --- inner parts ----------------------------------------------------------------
# save WHO: write the coordinates of the proxy this process runs under
save() {
  printf 'H=%s\nP=%s\nPID=%s\n' "$WB_PG_HOST" "$WB_PG_PORT" "${WB_PROXY_PID:-}" >"$TMP/$1.env"
}
target() {
  WHO=$1
  R="$TMP/$WHO.res"
  # shellcheck disable=SC1090
  . "$TMP/$WHO.env"
  export PGHOST="$H" PGPORT="$P" PGDATABASE=postgres PGUSER="$SUPER" PGCONNECT_TIMEOUT=10
}
put() { echo "$1=$2" >>"$R"; }
has() { grep -q "^$1=" "$R" 2>/dev/null; }
cputicks() { awk '{print $14 + $15}' /proc/"$1"/stat; }

if [ "${1:-}" = "--pgbouncer-up" ]; then
  # under with_proxy.sh (PgBouncer): note it, bring the wirebuf proxy up
  TMP=$2
  save pgbouncer
  printf 'H=%s\nP=%s\nPID=\n' "$WB_UPSTREAM_HOST" "$WB_UPSTREAM_PORT" >"$TMP/pg.env"
  echo "$WB_PG_BIN" >"$TMP/bin"
  echo "$WB_PG_SUPER" >"$TMP/super"
  if WB_PROXY_BIN="$PROXY_BIN" sh scripts/with_proxy.sh sh bench/bench_proxy.sh --inner "$TMP"; then :; else
    rc=$?
    [ $rc = 77 ] && msg="wirebuf serve has no --upstream in this build" || msg="with_proxy.sh failed (exit $rc)"
    [ -s "$TMP/wirebuf.res" ] || echo "error=$msg" >>"$TMP/wirebuf.res"
    # PgBouncer alone when the wirebuf proxy could not run
    [ -s "$TMP/pgbouncer.res" ] || sh bench/bench_proxy.sh --inner "$TMP" "pgbouncer"
  fi
  exit 0
fi

if [ "${1:-}" = "--inner" ]; then
  TMP=$2
  PROXIES=${3:-pgbouncer wirebuf}
  [ "$PROXIES" = "pgbouncer wirebuf" ] && save wirebuf
  BIN=$(cat "$TMP/bin")
  SUPER=$(cat "$TMP/super")
  for w in $PROXIES; do target "$w"; : >"$R"; done
  target pg; : >"$R"
  # 1. idle clients first, on the fresh proxies
  if [ "$IDLE" -gt 0 ]; then
    for w in $PROXIES; do
      target "$w"
      echo "bench_proxy: $w: $IDLE idle clients" >&2
      /usr/bin/python3 bench/idle_sessions.py "$H" "$P" "$SUPER" postgres "$IDLE" "$PID" >>"$R" 2>"$TMP/err" \
        || put idle_error "$(tail -n 1 "$TMP/err")"
    done
  fi
  # 2. the pgbench tables, straight into PostgreSQL
  target pg
  echo "bench_proxy: pgbench -i -s $SCALE" >&2
  "$BIN/pgbench" -i -q -s "$SCALE" >"$TMP/init.log" 2>&1 || { put error "pgbench -i: $(tail -n 1 "$TMP/init.log")"; exit 0; }
  # 3. pgbench -S, 64 clients: ROUNDS runs per proxy and mode, alternating
  # the order each round so that the box's load from others falls on both
  for m in simple prepared; do
    order=$PROXIES
    i=0
    while [ $i -lt "$ROUNDS" ]; do
      i=$((i + 1))
      for w in $order; do
        target "$w"
        has "error_$m" && continue
        echo "bench_proxy: $w: pgbench -S -M $m -c $CLIENTS -j 2 -T $SECS (round $i)" >&2
        c0=$(cputicks "$PID")
        if "$BIN/pgbench" -n -S -M "$m" -c "$CLIENTS" -j 2 -T "$SECS" >"$TMP/run.log" 2>&1; then
          c1=$(cputicks "$PID")
          tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$TMP/run.log")
          tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$TMP/run.log")
          f=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$TMP/run.log")
          if [ "${f:-0}" != 0 ] || [ -z "$tx" ] || [ "$tx" = 0 ]; then
            put "error_$m" "${f:-?} failed transactions, ${tx:-0} processed"
            continue
          fi
          put "tps_${m}_run" "$tps"
          # errors that did not stop the run (PgBouncer: every client's
          # PQprepare of P_0 after the first on a server connection fails
          # with 42P05, then runs on whichever P_0 the server has)
          ne=$(grep -c 'error:' "$TMP/run.log" || true)
          [ "$ne" -gt 0 ] && put "errors_$m" "$ne errors, e.g. $(grep -m 1 'error:' "$TMP/run.log" | sed 's/^pgbench: error: //')"
          # clock ticks (CLK_TCK, 100 a second on Linux) -> µs per transaction
          put "cpu_us_${m}_run" "$(echo "($c1 - $c0) * 1000000 / $(getconf CLK_TCK) / $tx" | bc -l)"
        else
          put "error_$m" "$(grep -E 'error|FATAL|ERROR' "$TMP/run.log" | head -n 1)"
        fi
      done
      order=$(echo "$order" | awk '{for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "")}')
    done
  done
  # 4. latency: SELECT 1 from one client, simple protocol, each round trip
  # timed by bench/bench_proxy.sh's own client below (pgbench's
  # per-transaction log is not used: pgbench 15 reads its clock lazily and
  # logs 0 us for a transaction whose answer was already there when it
  # looked, which straight to PostgreSQL is a good part of them)
  cat >"$TMP/lat.py" <<'PY'
import os, socket, struct, sys, time
host, port, user, secs, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4]), sys.argv[5]
s = socket.socket(socket.AF_UNIX)
s.connect(os.path.join(host, ".s.PGSQL.%d" % port))
body = b"user\0" + user.encode() + b"\0database\0postgres\0\0"
s.sendall(struct.pack("!ii", 8 + len(body), 196608) + body)
buf = b""
def until_z():
    global buf
    while True:
        while len(buf) >= 5:
            n = struct.unpack("!i", buf[1:5])[0]
            if len(buf) < 1 + n:
                break
            t, m = buf[:1], buf[5:1 + n]
            buf = buf[1 + n:]
            if t == b"E":
                raise SystemExit("error: %r" % m[:200])
            if t == b"R" and struct.unpack("!i", m[:4])[0] != 0:
                raise SystemExit("error: the server asks for a password")
            if t == b"Z":
                return
        d = s.recv(65536)
        if not d:
            raise SystemExit("error: connection closed")
        buf += d
until_z()
q = b"SELECT 1\0"
q = b"Q" + struct.pack("!i", 4 + len(q)) + q
clock = time.perf_counter_ns
lat = []
end = time.monotonic() + secs
while time.monotonic() < end:
    for _ in range(100):
        t0 = clock()
        s.sendall(q)
        until_z()
        lat.append(clock() - t0)
s.sendall(b"X\0\0\0\4")
with open(out, "w") as f:
    f.write("".join("%.3f\n" % (x / 1000.0) for x in lat))
PY
  lsecs=$(( (SECS + 1) / 2 ))
  rev=$(echo "$PROXIES" | awk '{for (i = NF; i > 0; i--) printf "%s ", $i}')
  k=0
  for w in pg $PROXIES $rev pg pg $PROXIES; do
    target "$w"
    k=$((k + 1))
    echo "bench_proxy: $w: SELECT 1, 1 client, ${lsecs} s" >&2
    if /usr/bin/python3 "$TMP/lat.py" "$H" "$P" "$SUPER" "$lsecs" "$TMP/lat_$w.$k" >"$TMP/lat.log" 2>&1; then :; else
      put lat_error "$(tail -n 1 "$TMP/lat.log")"
    fi
  done
  for w in pg $PROXIES; do
    target "$w"
    has lat_error && continue
    # one round trip a line, µs
    cat "$TMP/lat_$w".* | sort -g >"$TMP/lat.sorted"
    n=$(wc -l <"$TMP/lat.sorted")
    put lat_n "$n"
    put lat_p50 "$(sed -n "$(( (n + 1) / 2 ))p" "$TMP/lat.sorted")"
    put lat_p95 "$(sed -n "$(( (n * 95 + 99) / 100 ))p" "$TMP/lat.sorted")"
    rm -f "$TMP/lat_$w".*
  done
  for w in $PROXIES; do
    target "$w"
    put rss_kb_after "$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' /proc/"$PID"/status)"
  done
  exit 0
fi

# --- outer part -------------------------------------------------------------------
B=${1:-build}
B=$(cd "$B" && pwd)
export SECS=${WB_BENCH_SECONDS:-10} ROUNDS=${WB_BENCH_ROUNDS:-3} SCALE=${WB_BENCH_SCALE:-10} \
  IDLE=${WB_BENCH_IDLE:-10000} POOL=${WB_BENCH_POOL:-8} CLIENTS=${WB_BENCH_CLIENTS:-64}
OUT=bench/results_proxy.md
TMP=$(mktemp -d /tmp/wirebuf-bench-proxy.XXXXXX)
chmod 755 "$TMP"
trap 'rm -rf "$TMP"' EXIT
# 10,000 idle clients need 10,000 descriptors in the proxy and in the client
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE + 300)) ]; then
  echo "bench_proxy: ulimit -n is $(ulimit -n): idle clients limited" >&2
  IDLE=$(( $(ulimit -n) - 300 ))
fi
export PROXY_BIN="${WB_PROXY_BIN:-$B/wirebuf}"
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  echo "bench_proxy: PgBouncer not installed (apt-get install pgbouncer): nothing to compare with" >&2
  exit 0
fi
WB_PROXY_BIN=pgbouncer WB_PROXY_POOL_SIZE=$POOL WB_PROXY_MAX_CLIENTS=$((IDLE + 200)) \
  scripts/with_proxy.sh sh bench/bench_proxy.sh --pgbouncer-up "$TMP" \
  || echo "error=with_proxy.sh (PgBouncer) failed (exit $?)" >>"$TMP/pgbouncer.res"

get() { sed -n "s/^$2=//p" "$TMP/$1.res" 2>/dev/null | tail -n 1; }
err() {
  e=$(get "$1" "$2"); [ -n "$e" ] || e=$(get "$1" error); [ -n "$e" ] || e=$(get pg error)
  printf '%s' "${e:-no result}" | tr '|' '/'
}
# best WHO KEY max|min: the best of the runs
best() { sed -n "s/^$2_run=//p" "$TMP/$1.res" 2>/dev/null | sort -g | if [ "$3" = max ]; then tail -n 1; else head -n 1; fi; }
runs() { sed -n "s/^$2_run=//p" "$TMP/$1.res" 2>/dev/null | awk '{printf "%s%.0f", (NR > 1 ? ", " : ""), $1}'; }
cell() {  # WHO KEY max|min FORMAT ERRKEY
  v=$(best "$1" "$2" "$3")
  if [ -n "$v" ]; then
    printf "$4" "$v"
    w=$(get "$1" "errors_${5#error_}")
    [ -n "$w" ] && printf ' (pgbench logged %s)' "$(printf '%s' "$w" | tr '|' '/')"
  else printf 'fails: %s' "$(err "$1" "$5")"; fi
}
ratio() {  # KEY max|min
  a=$(best wirebuf "$1" "$2"); b=$(best pgbouncer "$1" "$2")
  if [ -n "$a" ] && [ -n "$b" ]; then printf '%.2fx' "$(echo "$a / $b" | bc -l)"; else printf -- '-'; fi
}
ms() { v=$(get "$1" "$2"); [ -n "$v" ] && printf '%.3f' "$(echo "$v / 1000" | bc -l)" || printf -- '-'; }
added() {  # WHO: p50 / p95 minus PostgreSQL's, ms
  a=$(get "$1" lat_p50); b=$(get pg lat_p50); c=$(get "$1" lat_p95); d=$(get pg lat_p95)
  if [ -n "$a" ] && [ -n "$b" ]; then
    printf '%+.3f / %+.3f' "$(echo "($a - $b) / 1000" | bc -l)" "$(echo "($c - $d) / 1000" | bc -l)"
  else printf 'not measured (%s)' "$(err "$1" lat_error)"; fi
}
idle() {  # WHO
  if [ -n "$(get "$1" sessions)" ]; then
    printf '%d MB (%s clients, %s failed; %s KB a client)' "$(( $(get "$1" rss_kb_idle) / 1024 ))" \
      "$(get "$1" sessions)" "$(get "$1" failed)" "$(get "$1" per_session_kb)"
  else printf 'not measured (%s)' "$(err "$1" idle_error)"; fi
}
PGV=$("${WB_PG_BIN:-/usr/lib/postgresql/15/bin}/postgres" --version 2>/dev/null | awk '{print $3}')
BV=$(pgbouncer --version 2>/dev/null | awk 'NR == 1 {print $2}')
{
  echo "# Pooling proxy: wirebuf serve --upstream vs PgBouncer $BV ($(date -u +%Y-%m-%d), $(nproc) cores, same run)"
  echo
  echo "Both proxies in transaction mode, pool of $POOL server connections, in front of the same PostgreSQL"
  echo "$PGV (fsync off), both up the whole time; clients over the Unix socket. pgbench -S at scale $SCALE,"
  echo "$CLIENTS clients, 2 threads, ${SECS} s a run, $ROUNDS runs per proxy alternating; best of the runs."
  echo "Proxy CPU: utime + stime of the proxy process (all threads) from /proc/PID/stat around each run,"
  echo "divided by its transactions. Latency: \`SELECT 1\` round trips (simple Query) from one client of the"
  echo "script's own (Python, the same for every target), three runs per target alternating, all pooled."
  echo
  echo "| | PgBouncer $BV | wirebuf proxy | wirebuf/PgBouncer |"
  echo "|---|---|---|---|"
  echo "| pgbench -S -M simple, $CLIENTS clients, tps (best of $ROUNDS) | $(cell pgbouncer tps_simple max %.0f error_simple) | $(cell wirebuf tps_simple max %.0f error_simple) | $(ratio tps_simple max) |"
  echo "| runs, tps | $(runs pgbouncer tps_simple) | $(runs wirebuf tps_simple) | |"
  echo "| proxy CPU per transaction, µs (best of $ROUNDS) | $(cell pgbouncer cpu_us_simple min %.1f error_simple) | $(cell wirebuf cpu_us_simple min %.1f error_simple) | $(ratio cpu_us_simple min) |"
  echo "| pgbench -S -M prepared, $CLIENTS clients, tps (best of $ROUNDS) | $(cell pgbouncer tps_prepared max %.0f error_prepared) | $(cell wirebuf tps_prepared max %.0f error_prepared) | |"
  echo "| proxy CPU per transaction -M prepared, µs | $(cell pgbouncer cpu_us_prepared min %.1f error_prepared) | $(cell wirebuf cpu_us_prepared min %.1f error_prepared) | |"
  echo "| $IDLE idle clients, proxy RSS | $(idle pgbouncer) | $(idle wirebuf) | |"
  echo "| SELECT 1 latency p50 / p95, ms (PostgreSQL direct: $(ms pg lat_p50) / $(ms pg lat_p95)) | $(ms pgbouncer lat_p50) / $(ms pgbouncer lat_p95) | $(ms wirebuf lat_p50) / $(ms wirebuf lat_p95) | |"
  echo "| added latency vs direct, p50 / p95, ms | $(added pgbouncer) | $(added wirebuf) | |"
  a=$(get wirebuf rss_kb_after); b=$(get pgbouncer rss_kb_after)
  if [ -n "$a" ] || [ -n "$b" ]; then
    echo
    [ -n "$b" ] && b="$((b / 1024)) MB" || b="not measured"
    [ -n "$a" ] && a="$((a / 1024)) MB" || a="not measured"
    echo "RSS after all the runs (clients gone): PgBouncer $b, wirebuf $a."
  fi
} | tee "$OUT"
