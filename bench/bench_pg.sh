#!/bin/sh
# PostgreSQL client benchmark: wirebuf vs libpq (C), and COPY vs psql \copy,
# same server, same run, Unix socket. Results: bench/results_pg.md.
# usage: bench/bench_pg.sh BUILD_DIR   (runs itself under scripts/with_pg.sh)
set -eu
cd "$(dirname "$0")/.."
B=${1:-build}
B=$(cd "$B" && pwd)
if [ -z "${WB_PG_HOST:-}" ]; then
  exec scripts/with_pg.sh sh bench/bench_pg.sh "$B"
fi
[ -x "$B/bench_pg" ] || { echo "bench_pg not built (apt-get install libpq-dev)" >&2; exit 1; }
CI="host=$WB_PG_HOST port=$WB_PG_PORT dbname=$WB_PG_DB user=wb_trust"
PSQL="$WB_PG_BIN/psql"
OUT=bench/results_pg.md
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
q() { "$PSQL" -X -q -v ON_ERROR_STOP=1 "$CI" -c "$1"; }

q "CREATE TABLE bench_rows(id int4 primary key, name text, score float8, created timestamptz, flag bool, qty int8, note varchar(64));
   INSERT INTO bench_rows SELECT g, 'name ' || g, g * 0.5, '2024-01-01'::timestamptz + g * interval '1 minute',
     g % 2 = 0, g * 1000, 'note ' || (g % 97) FROM generate_series(1, 100000) g;
   CREATE TABLE bench_many(id int4, name text, score float8);
   CREATE TABLE bench_copy (LIKE bench_rows);
"
q "VACUUM ANALYZE"

{
echo "# PostgreSQL client benchmark ($(date -u +%Y-%m-%d), $(nproc) cores, Unix socket, PostgreSQL $("$PSQL" -X -t -A "$CI" -c 'SHOW server_version'))"
echo
echo "## Fetch (median wall per fetch; client CPU per fetch from getrusage)"
echo
echo '```'
"$B/bench_pg" "$CI" fetch 1000 300
"$B/bench_pg" "$CI" fetch 10000 60
"$B/bench_pg" "$CI" fetch 100000 15
echo '```'
echo
# the server alone: produce and format the 100,000 rows, send nothing
"$PSQL" -X -q "$CI" -c '\timing on' -c "COPY (SELECT * FROM bench_rows) TO '/dev/null'" >"$TMP/srv1" 2>&1
"$PSQL" -X -q "$CI" -c '\timing on' -c "COPY (SELECT * FROM bench_rows) TO '/dev/null'" >"$TMP/srv2" 2>&1
echo "Server alone (COPY (SELECT * FROM bench_rows) TO '/dev/null', server side): $(grep -h Time "$TMP/srv1" "$TMP/srv2" | sed 's/Time: //' | tr '\n' ' ')"
echo
echo "## Syscalls for one 100,000-row fetch (strace -c, whole process incl. connect)"
echo
echo '```'
for who in wirebuf libpq; do
  strace -f -c -o "$TMP/st.$who" "$B/bench_pg" "$CI" fetch1 $who 100000 2>/dev/null
  tot=$(awk '/total/ {print $(NF-1) == "" ? $3 : $4}' "$TMP/st.$who")
  calls=$(awk '$NF=="total" {print $(NF-2)}' "$TMP/st.$who")
  reads=$(awk '$NF=="read" || $NF=="recvfrom" {s+=$4} END {print s+0}' "$TMP/st.$who")
  echo "$who: $calls syscalls in total, $reads read/recvfrom"
done
echo '```'
echo
echo "## executemany (one Parse, N Bind/Execute, one Sync) vs libpq pipeline mode"
echo
echo '```'
"$B/bench_pg" "$CI" many 10000 7
echo '```'
echo
printf '%s\n' "## COPY 1,000,000 rows (CSV file, 7 columns): wirebuf pg import vs psql \\copy (best of 4, alternating order)"
echo
"$PSQL" -X -q "$CI" -c "\\copy (SELECT g, 'name ' || g, g * 0.5, '2024-01-01'::timestamptz + g * interval '1 second', g % 2 = 0, g * 1000, 'note ' || (g % 97) FROM generate_series(1, 1000000) g) TO '$TMP/copy.csv' WITH (FORMAT csv)"
bw=999999; bp=999999
# alternate which client goes first (the server's state after a TRUNCATE
# favours whoever runs second otherwise)
for i in 1 2 3 4; do
  for who in $( [ $((i % 2)) = 1 ] && echo "wb psql" || echo "psql wb" ); do
    q "TRUNCATE bench_copy"
    q "CHECKPOINT"
    t0=$(date +%s.%N)
    if [ $who = wb ]; then
      "$B/wirebuf" pg import --no-header "$CI" bench_copy "$TMP/copy.csv" 2>/dev/null
    else
      "$PSQL" -X -q "$CI" -c "\\copy bench_copy FROM '$TMP/copy.csv' WITH (FORMAT csv)"
    fi
    t1=$(date +%s.%N)
    t=$(echo "($t1 - $t0) * 1000" | bc)
    if [ $who = wb ]; then [ $(echo "$t < $bw" | bc) = 1 ] && bw=$t; else [ $(echo "$t < $bp" | bc) = 1 ] && bp=$t; fi
  done
done
printf '```\nwirebuf pg import %.0f ms | psql \\copy %.0f ms | wirebuf/psql time %.2fx\n```\n' "$bw" "$bp" "$(echo "$bw / $bp" | bc -l)"
echo
echo "## Python: wirebuf.pg vs psycopg2, asyncpg, psycopg 3 (bench/bench_pg_py.py)"
echo
echo '```'
/usr/bin/python3 bench/bench_pg_py.py "$B"
echo '```'
} | tee "$OUT"
