#!/bin/sh
# `wirebuf serve` vs PostgreSQL 15 on the same box, same run (issue 10 §4):
#   pgbench -S, 8 clients, 2 threads, fixed duration, -M simple and
#   -M prepared: tps, p50/p95 latency from pgbench -l per-transaction logs;
#   COPY FROM STDIN of 1,000,000 rows (bigint, text, float8, timestamp)
#   through psql \copy (best of 2);
#   10,000 idle sessions against wirebuf serve: server RSS
#   (bench/idle_sessions.py).
# PostgreSQL runs under scripts/with_pg.sh (fsync off, as bench_pg.sh) and
# wirebuf serve under scripts/with_serve.sh inside it: both are up the whole
# time and every measurement alternates between them.
# Results: bench/results_serve.md.
# usage: bench/bench_serve.sh [BUILD_DIR]
# env: WB_BENCH_SECONDS (pgbench duration per mode, default 15),
#      WB_BENCH_SCALE (pgbench scale, default 10), WB_BENCH_IDLE (sessions,
#      default 10000), WB_BENCH_COPY_ROWS (default 1000000)
set -eu
cd "$(dirname "$0")/.."

# --- inner part: both servers up (with_pg.sh around with_serve.sh) -----------
# target TARGET: point psql/pgbench at "pg" or "serve" (PG*) and set R, the
# result file of that target
target() {
  WHO=$1
  R="$TMP/$WHO.res"
  # shellcheck disable=SC1090
  . "$TMP/$WHO.env"
  export PGHOST="$H" PGPORT="$P" PGDATABASE="$D" PGUSER="$U" PGPASSWORD="${PW:-}" PGCONNECT_TIMEOUT=10
}
q() { "$BIN/psql" -X -q -t -A -v ON_ERROR_STOP=1 -c "$1"; }
put() { echo "$1=$2" >>"$R"; }
has() { grep -q "^$1=" "$R" 2>/dev/null; }

if [ "${1:-}" = "--pg-up" ]; then
  # under with_pg.sh: keep PostgreSQL's coordinates, bring wirebuf serve up
  TMP=$2
  printf 'H=%s\nP=%s\nD=%s\nU=%s\nPID=\n' "$WB_PG_HOST" "$WB_PG_PORT" "$WB_PG_DB" "$WB_PG_SUPER" >"$TMP/pg.env"
  echo "$WB_PG_BIN" >"$TMP/bin"
  if ! WB_SERVE_BIN="$SERVE_BIN" WB_SERVE_ARGS="--max-connections $((IDLE + 100)) ${WB_BENCH_SERVE_ARGS:-}" \
      scripts/with_serve.sh sh bench/bench_serve.sh --inner "$TMP"; then
    [ -s "$TMP/serve.res" ] || echo "error=wirebuf serve: with_serve.sh failed (see above)" >>"$TMP/serve.res"
    # PostgreSQL alone when wirebuf serve could not run
    [ -s "$TMP/pg.res" ] || sh bench/bench_serve.sh --inner "$TMP" pg
  fi
  exit 0
fi

if [ "${1:-}" = "--inner" ]; then
  TMP=$2
  WHOS=${3:-pg serve}
  BIN=$(cat "$TMP/bin")
  if [ -n "${WB_SERVE_PID:-}" ]; then
    printf 'H=%s\nP=%s\nD=%s\nU=%s\nPID=%s\n' "$WB_PG_HOST" "$WB_PG_PORT" "$WB_PG_DB" "$WB_PG_SUPER" "$WB_SERVE_PID" >"$TMP/serve.env"
  fi
  for w in $WHOS; do target "$w"; : >"$R"; done
  # idle sessions first, on the fresh servers: wirebuf serve, and PgBouncer
  # in front of PostgreSQL as the peer (PostgreSQL forks a process per session)
  for w in $WHOS; do
    target "$w"
    [ "$IDLE" -gt 0 ] || break
    if [ "$w" = serve ]; then
      echo "bench_serve: serve: $IDLE idle sessions" >&2
      /usr/bin/python3 bench/idle_sessions.py "$H" "$P" "$U" "$D" "$IDLE" "$PID" >>"$R" 2>"$TMP/err" \
        || put idle_error "$(tail -n 1 "$TMP/err")"
      continue
    fi
    command -v pgbouncer >/dev/null 2>&1 || { put pgbouncer_idle_error "pgbouncer not installed"; continue; }
    echo "bench_serve: pgbouncer: $IDLE idle sessions" >&2
    B=$TMP/pgb
    mkdir -p "$B"
    BPORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    printf '"%s" ""\n' "$U" >"$B/users.txt"
    cat >"$B/pgbouncer.ini" <<INI
[databases]
$D = host=$H port=$P dbname=$D
[pgbouncer]
listen_addr =
listen_port = $BPORT
unix_socket_dir = $B
auth_type = trust
auth_file = $B/users.txt
pool_mode = transaction
max_client_conn = $((IDLE + 100))
default_pool_size = 4
logfile = $B/pgbouncer.log
INI
    RUNAS=""
    if [ "$(id -u)" = 0 ]; then chown -R postgres "$B"; RUNAS="setpriv --reuid postgres --regid postgres --init-groups"; fi
    $RUNAS pgbouncer -q "$B/pgbouncer.ini" &
    BPID=$!
    i=0
    until [ -S "$B/.s.PGSQL.$BPORT" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
    /usr/bin/python3 bench/idle_sessions.py "$B" "$BPORT" "$U" "$D" "$IDLE" "$BPID" 2>"$TMP/err" \
      | sed 's/^/pgbouncer_/' >>"$R" || put pgbouncer_idle_error "$(tail -n 1 "$TMP/err")"
    kill -TERM "$BPID" 2>/dev/null; wait "$BPID" 2>/dev/null || true
  done
  for w in $WHOS; do
    target "$w"
    echo "bench_serve: $w: pgbench -i -s $SCALE" >&2
    t0=$(date +%s.%N)
    if "$BIN/pgbench" -i -q -s "$SCALE" >"$TMP/$w.init.log" 2>&1; then
      put init_seconds "$(echo "$(date +%s.%N) - $t0" | bc)"
    else
      put init_error "$(tail -n 1 "$TMP/$w.init.log")"
    fi
  done
  # pgbench -S: two runs of SECS/2 per target and mode, in alternating order
  # (pg serve, serve pg), so that the box's load from others falls on both
  half=$(( (SECS + 1) / 2 ))
  for m in simple prepared; do
    for order in "$WHOS" "$(echo "$WHOS" | awk '{for (i = NF; i > 0; i--) printf "%s%s", $i, (i > 1 ? " " : "")}')"; do
      for w in $order; do
        target "$w"
        has init_error && continue
        has "error_$m" && continue
        echo "bench_serve: $w: pgbench -S -M $m -c 8 -j 2 -T $half" >&2
        if "$BIN/pgbench" -n -S -M "$m" -c 8 -j 2 -T "$half" -l --log-prefix="$TMP/lat_${w}_$m" >"$TMP/$w.$m.log" 2>&1; then
          sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' "$TMP/$w.$m.log" >>"$TMP/$w.$m.tps"
          f=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$TMP/$w.$m.log")
          [ "${f:-0}" = 0 ] || put "error_$m" "$f failed transactions"
        else
          put "error_$m" "$(grep -v '^progress' "$TMP/$w.$m.log" | tail -n 1)"
        fi
      done
    done
    for w in $WHOS; do
      target "$w"
      [ -s "$TMP/$w.$m.tps" ] || continue
      has "error_$m" && continue
      put "tps_$m" "$(awk '{s += $1} END {printf "%.0f", s / NR}' "$TMP/$w.$m.tps")"
      # per-transaction log: client tx latency_us script epoch epoch_us
      cat "$TMP/lat_${w}_$m".* | awk '{print $3}' | sort -n >"$TMP/lat.sorted"
      n=$(wc -l <"$TMP/lat.sorted")
      put "n_$m" "$n"
      put "p50_$m" "$(sed -n "$(( (n + 1) / 2 ))p" "$TMP/lat.sorted")"
      put "p95_$m" "$(sed -n "$(( (n * 95 + 99) / 100 ))p" "$TMP/lat.sorted")"
      rm -f "$TMP/lat_${w}_$m".*
    done
  done
  # COPY: best of 2 per target, order pg serve serve pg
  for w in $WHOS; do
    target "$w"
    q "DROP TABLE IF EXISTS bench_copy; CREATE TABLE bench_copy (id bigint, t text, f float8, ts timestamp)" >/dev/null 2>"$TMP/err" \
      || put copy_error "$(head -n 1 "$TMP/err")"
  done
  for w in $WHOS $(echo "$WHOS" | awk '{for (i = NF; i > 0; i--) printf "%s ", $i}'); do
    target "$w"
    has copy_error && continue
    echo "bench_serve: $w: COPY $ROWS rows" >&2
    q "TRUNCATE bench_copy" >/dev/null
    [ "$w" = pg ] && q "CHECKPOINT" >/dev/null
    t0=$(date +%s.%N)
    if ! "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -c "\\copy bench_copy FROM '$TMP/copy.txt'" 2>"$TMP/err"; then
      put copy_error "$(head -n 1 "$TMP/err")"; continue
    fi
    t=$(echo "($(date +%s.%N) - $t0) * 1000" | bc)
    got=$(q "SELECT count(*), sum(id) FROM bench_copy")
    want="$ROWS|$((ROWS * (ROWS + 1) / 2))"
    if [ "$got" != "$want" ]; then put copy_error "after COPY: count|sum = $got, want $want"; continue; fi
    best=$(sed -n 's/^copy_ms=//p' "$R" | tail -n 1)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then put copy_ms "$t"; fi
  done
  for w in $WHOS; do
    target "$w"
    [ -n "$PID" ] && put rss_kb_after_load "$(sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' /proc/"$PID"/status)"
  done
  exit 0
fi

# --- outer part ---------------------------------------------------------------
B=${1:-build}
B=$(cd "$B" && pwd)
export SECS=${WB_BENCH_SECONDS:-15} SCALE=${WB_BENCH_SCALE:-10} IDLE=${WB_BENCH_IDLE:-10000} \
  ROWS=${WB_BENCH_COPY_ROWS:-1000000}
OUT=bench/results_serve.md
TMP=$(mktemp -d /tmp/wirebuf-bench-serve.XXXXXX)
chmod 755 "$TMP"
trap 'rm -rf "$TMP"' EXIT
# 1,000,000 rows: bigint, text, float8, timestamp (PostgreSQL's text format)
awk -v n="$ROWS" 'BEGIN { for (i = 1; i <= n; i++)
  printf "%d\tname %d\t%.2f\t2024-01-%02d %02d:%02d:%02d\n", i, i, i / 8, 1 + i % 28, i % 24, i % 60, (i * 7) % 60 }' >"$TMP/copy.txt"
chmod 644 "$TMP/copy.txt"
# 10,000 idle sessions need 10,000 descriptors in the server and in the client
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((IDLE + 200)) ]; then
  echo "bench_serve: ulimit -n is $(ulimit -n): idle sessions limited" >&2
  IDLE=$(( $(ulimit -n) - 200 ))
fi

export SERVE_BIN="${WB_SERVE_BIN:-$B/wirebuf}"
scripts/with_pg.sh sh bench/bench_serve.sh --pg-up "$TMP" || echo "error=with_pg.sh failed (exit $?)" >>"$TMP/pg.res"

get() { sed -n "s/^$2=//p" "$TMP/$1.res" 2>/dev/null | tail -n 1; }
cell() {  # value (printf format $4, default %.0f) or the error that stopped it
  v=$(get "$1" "$2")
  if [ -n "$v" ]; then printf "${4:-%.0f}" "$v"; return; fi
  e=$(get "$1" "$3"); [ -n "$e" ] || e=$(get "$1" init_error); [ -n "$e" ] || e=$(get "$1" error)
  printf 'not measured (%s)' "${e:-no result}"
}
ratio() {
  a=$(get serve "$1"); b=$(get pg "$1")
  if [ -n "$a" ] && [ -n "$b" ]; then printf '%.2fx' "$(echo "$a / $b" | bc -l)"; else printf -- '-'; fi
}
ms() { v=$(get "$1" "$2"); [ -n "$v" ] && printf '%.3f' "$(echo "$v / 1000" | bc -l)" || printf -- '-'; }
{
  echo "# wirebuf serve vs PostgreSQL $("${WB_PG_BIN:-/usr/lib/postgresql/15/bin}/postgres" --version 2>/dev/null | awk '{print $3}') ($(date -u +%Y-%m-%d), $(nproc) cores, same run)"
  echo
  echo "pgbench -S, scale $SCALE, 8 clients, 2 threads, Unix socket, ${SECS} s per mode and server as two"
  echo "runs in alternating order (both servers up the whole time); tps the mean of the two runs,"
  echo "latency per transaction from pgbench -l logs (ms). PostgreSQL with fsync off."
  echo
  echo "| | PostgreSQL 15 | wirebuf serve | serve/PostgreSQL |"
  echo "|---|---|---|---|"
  for m in simple prepared; do
    echo "| tps -M $m | $(cell pg tps_$m error_$m) | $(cell serve tps_$m error_$m) | $(ratio tps_$m) |"
    echo "| p50 / p95 ms -M $m | $(ms pg p50_$m) / $(ms pg p95_$m) | $(ms serve p50_$m) / $(ms serve p95_$m) | |"
  done
  echo "| pgbench -i -s $SCALE (s) | $(cell pg init_seconds init_error %.2f) | $(cell serve init_seconds init_error %.2f) | |"
  echo "| psql \\\\copy $ROWS rows (bigint, text, float8, timestamp), best of 2 (alternating), ms | $(cell pg copy_ms copy_error) | $(cell serve copy_ms copy_error) | $(ratio copy_ms) (time) |"
  echo
  echo "Idle sessions, measured first on the fresh servers (bench/idle_sessions.py: $IDLE sessions complete startup"
  echo "over the Unix socket, then stay idle; RSS of the server process from /proc; PgBouncer in front of the"
  echo "PostgreSQL above as the peer):"
  echo
  echo "| | sessions | failed (retried) | connect s | RSS before | RSS idle | peak RSS | per session |"
  echo "|---|---|---|---|---|---|---|---|"
  row() {  # label file prefix
    if [ -n "$(get "$2" "${3}sessions")" ]; then
      echo "| $1 | $(get "$2" "${3}sessions") | $(get "$2" "${3}failed") ($(get "$2" "${3}retried")) | $(get "$2" "${3}connect_seconds") | $(( $(get "$2" "${3}rss_kb_before") / 1024 )) MB | $(( $(get "$2" "${3}rss_kb_idle") / 1024 )) MB | $(( $(get "$2" "${3}hwm_kb") / 1024 )) MB | $(get "$2" "${3}per_session_kb") KB |"
      if [ -n "$(get "$2" "${3}first_error")" ]; then
        echo "| | first failure: $(get "$2" "${3}first_error") | | | | | | |"
      fi
    else
      echo "| $1 | not measured ($(get "$2" "${3}idle_error")$(get "$2" error)) | | | | | | |"
    fi
  }
  row "wirebuf serve" serve ""
  row "PgBouncer" pg pgbouncer_
  a=$(get serve rss_kb_after_load)
  if [ -n "$a" ]; then
    echo
    echo "wirebuf serve's RSS after the pgbench and COPY runs above (sessions closed): $((a / 1024)) MB."
  fi
} | tee "$OUT"
