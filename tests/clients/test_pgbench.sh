#!/bin/sh
# pgbench against the target of scripts/with_serve.sh or scripts/with_pg.sh:
# `pgbench -i` (COPY, ALTER TABLE ADD PRIMARY KEY, VACUUM), then -S and the
# default TPC-B script in -M simple, extended and prepared, short runs
# bounded by a transaction count, every transaction must succeed; then
#   sum(abalance) = sum(bbalance) = sum(tbalance) = sum(delta)
# and one pgbench_history row per TPC-B transaction (no lost updates).
set -u
[ -n "${WB_PG_PORT:-}" ] || { echo "SKIP: no server: run under scripts/with_serve.sh or scripts/with_pg.sh"; exit 77; }
BIN=${WB_PG_BIN:-/usr/bin}
PGBENCH=$BIN/pgbench; [ -x "$PGBENCH" ] || PGBENCH=$(command -v pgbench || true)
PSQL=$BIN/psql; [ -x "$PSQL" ] || PSQL=$(command -v psql || true)
[ -n "$PGBENCH" ] && [ -n "$PSQL" ] || { echo "SKIP: pgbench/psql not installed (apt-get install postgresql-contrib or postgresql)"; exit 77; }
export PGHOST="$WB_PG_HOST" PGPORT="$WB_PG_PORT" PGDATABASE="$WB_PG_DB" PGUSER="$WB_PG_SUPER" \
  PGPASSWORD="${WB_PG_PASSWORD:-}" PGCONNECT_TIMEOUT=10
CLIENTS=${WB_PGBENCH_CLIENTS:-4}
# through a pooling proxy with fewer server connections than clients: one
# thread per client (WB_PGBENCH_THREADS=CLIENTS). pgbench -M prepared
# prepares with a synchronous PQprepare inside its event loop, so a thread
# waiting for a pooled connection stalls the other clients of that thread,
# one of which holds the connection in its transaction: with PgBouncer as
# with any pooler, a deadlock.
THREADS=${WB_PGBENCH_THREADS:-2}
TX=${WB_PGBENCH_TX:-100}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0
ok() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
q() { timeout 60 "$PSQL" -X -q -t -A -v ON_ERROR_STOP=1 -c "$1" 2>&1; }

if timeout 120 "$PGBENCH" -i -s 1 -q >"$TMP/init.log" 2>&1; then
  ok "pgbench -i -s 1"
else
  fail "pgbench -i -s 1:"; tail -n 15 "$TMP/init.log"
  echo "test_pgbench.sh: initialisation failed, nothing else to run"; exit 1
fi
got=$(q "SELECT (SELECT count(*) FROM pgbench_accounts), (SELECT count(*) FROM pgbench_branches), (SELECT count(*) FROM pgbench_tellers), (SELECT count(*) FROM pgbench_history), (SELECT sum(aid) FROM pgbench_accounts)")
[ "$got" = "100000|1|10|0|5000050000" ] && ok "tables after -i: $got" || fail "tables after -i: '$got' (want 100000|1|10|0|5000050000)"

total_tpcb=0
# run SCRIPT_ARGS MODE: check the summary says every transaction ran
run() {
  name=$1; shift
  timeout 120 "$PGBENCH" -n -c "$CLIENTS" -j "$THREADS" -t "$TX" "$@" >"$TMP/run.log" 2>&1
  rc=$?
  want=$((CLIENTS * TX))
  done_=$(sed -n 's/^number of transactions actually processed: \([0-9]*\)\/.*/\1/p' "$TMP/run.log")
  failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$TMP/run.log")
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$TMP/run.log")
  if [ $rc = 0 ] && [ "$done_" = "$want" ] && [ "${failed:-0}" = 0 ]; then
    ok "$name: $done_/$want transactions, tps $tps"
    return 0
  fi
  fail "$name: exit $rc, $done_/$want transactions, ${failed:-?} failed:"
  grep -v '^progress' "$TMP/run.log" | head -n 15
  return 1
}
for m in simple extended prepared; do
  run "pgbench -S -M $m" -S -M "$m"
  if run "pgbench TPC-B -M $m" -M "$m"; then total_tpcb=$((total_tpcb + CLIENTS * TX)); fi
done

got=$(q "SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(bbalance) FROM pgbench_branches), (SELECT sum(tbalance) FROM pgbench_tellers), (SELECT sum(delta) FROM pgbench_history)")
a=$(echo "$got" | cut -d'|' -f1)
if [ -n "$a" ] && [ "$got" = "$a|$a|$a|$a" ]; then
  ok "sum(abalance) = sum(bbalance) = sum(tbalance) = sum(delta) = $a"
else
  fail "balances: sum(abalance)|sum(bbalance)|sum(tbalance)|sum(delta) = '$got'"
fi
got=$(q "SELECT count(*) FROM pgbench_history")
[ "$got" = "$total_tpcb" ] && ok "pgbench_history: $got rows, one per TPC-B transaction" \
  || fail "pgbench_history: '$got' rows, want $total_tpcb"
got=$(q "SELECT count(*) FROM pgbench_accounts a JOIN (SELECT aid, sum(delta) AS d FROM pgbench_history GROUP BY aid) h USING (aid) WHERE a.abalance <> h.d")
[ "$got" = 0 ] && ok "every account's balance is the sum of its history" || fail "accounts whose balance is not their history's sum: '$got'"

[ $fails = 0 ] && { echo "test_pgbench.sh: all checks passed"; exit 0; }
echo "test_pgbench.sh: $fails checks failed"
exit 1
