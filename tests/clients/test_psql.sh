#!/bin/sh
# psql against the target of scripts/with_serve.sh or scripts/with_pg.sh:
# a workflow script (DDL, DML, errors, COPY, \copy both ways) compared with
# the output PostgreSQL 15 gives (psql/workflow.expected), the files \copy
# wrote, and ON_ERROR_STOP / single-transaction / multi-statement -c
# behaviour. WB_PSQL_REGEN=1 rewrites workflow.expected (run it against
# real PostgreSQL only).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
[ -n "${WB_PG_PORT:-}" ] || { echo "SKIP: no server: run under scripts/with_serve.sh or scripts/with_pg.sh"; exit 77; }
PSQL=${WB_PG_BIN:-/usr/bin}/psql
[ -x "$PSQL" ] || PSQL=$(command -v psql || true)
[ -n "$PSQL" ] || { echo "SKIP: psql not installed (apt-get install postgresql-client)"; exit 77; }
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cp "$HERE/psql/in.csv" "$TMP/"
cd "$TMP"
export PGHOST="$WB_PG_HOST" PGPORT="$WB_PG_PORT" PGDATABASE="$WB_PG_DB" PGUSER="$WB_PG_SUPER" \
  PGPASSWORD="${WB_PG_PASSWORD:-}" PGCONNECT_TIMEOUT=10 PGOPTIONS= PGTZ=UTC
fails=0
ok() { printf 'ok   %s\n' "$1"; }
fail() { printf 'FAIL %s\n' "$1"; fails=$((fails + 1)); }
psql_() { timeout 60 "$PSQL" -X "$@"; }

# 1. the workflow, compared with PostgreSQL's output
psql_ -f "$HERE/psql/workflow.sql" >out.log 2>&1
rc=$?
# the script's path is part of psql's error prefix
sed "s|$HERE/psql/||" out.log >workflow.out
if [ "${WB_PSQL_REGEN:-}" = 1 ]; then cp workflow.out "$HERE/psql/workflow.expected"; fi
if [ $rc = 0 ] && diff -u "$HERE/psql/workflow.expected" workflow.out >diff.txt; then
  ok "workflow output equals PostgreSQL's"
else
  fail "workflow (psql exit $rc): output differs from PostgreSQL's:"
  head -n 60 diff.txt
fi

# 2. what \copy wrote
want_txt=$(printf 'apple\t1.50\t11\t2024-01-01\tred\nplum\t\\N\t6\t\\N\ttab\\tinside\nkiwi\t0.00\t3\t\\N\t\\N\nfig\t0.25\t7\t\\N\t\\N\ndate\t10.00\t1\t\\N\tdried\ncherry, sour\t3.10\t12\t2023-12-24\t\\N\nlime\t\\N\t4\t\\N\t\\N\nquote"d\t0.99\t0\t2024-07-04\t\\N')
if [ "$(cat out.txt 2>/dev/null)" = "$want_txt" ]; then ok "\\copy TO text file"; else
  fail "\\copy TO text file: got:"; cat out.txt 2>/dev/null; fi
want_csv=$(printf 'name,qty\napple,11\nplum,6\nkiwi,3\nfig,7\ndate,1\n"cherry, sour",12\nlime,4\n"quote""d",0')
if [ "$(cat out.csv 2>/dev/null)" = "$want_csv" ]; then ok "\\copy TO csv file with HEADER"; else
  fail "\\copy TO csv: got:"; cat out.csv 2>/dev/null; fi

# 3. ON_ERROR_STOP, single transaction, a multi-statement Query
q() { psql_ -q -t -A -c "$1" 2>&1; }
q "DROP TABLE IF EXISTS ps_stop; CREATE TABLE ps_stop (v text)" >/dev/null
cat >stop.sql <<'SQL'
INSERT INTO ps_stop VALUES ('before');
INSERT INTO ps_stop VALUES (1/0);
INSERT INTO ps_stop VALUES ('after');
SQL
psql_ -q -v ON_ERROR_STOP=1 -f stop.sql >/dev/null 2>&1
rc=$?
got=$(q "SELECT string_agg(v, ',' ORDER BY v) FROM ps_stop")
if [ $rc = 3 ] && [ "$got" = before ]; then ok "ON_ERROR_STOP=1: exit 3, stops after the error"; else
  fail "ON_ERROR_STOP=1: exit $rc (want 3), rows '$got' (want 'before')"; fi
q "TRUNCATE ps_stop" >/dev/null
psql_ -q -1 -v ON_ERROR_STOP=1 -f stop.sql >/dev/null 2>&1
rc=$?
got=$(q "SELECT count(*) FROM ps_stop")
if [ $rc = 3 ] && [ "$got" = 0 ]; then ok "-1 ON_ERROR_STOP=1: exit 3, all rolled back"; else
  fail "-1 ON_ERROR_STOP=1: exit $rc (want 3), $got rows (want 0)"; fi
psql_ -q -f stop.sql >/dev/null 2>&1
rc=$?
got=$(q "SELECT string_agg(v, ',' ORDER BY v) FROM ps_stop")
if [ $rc = 0 ] && [ "$got" = "after,before" ]; then ok "without ON_ERROR_STOP: goes on, exit 0"; else
  fail "without ON_ERROR_STOP: exit $rc (want 0), rows '$got' (want 'after,before')"; fi
q "TRUNCATE ps_stop" >/dev/null
out=$(psql_ -q -t -A -c "INSERT INTO ps_stop VALUES ('x'); SELECT 1/0; INSERT INTO ps_stop VALUES ('y')" 2>&1)
rc=$?
got=$(q "SELECT count(*) FROM ps_stop")
case "$out" in *division*|*22012*) e=1 ;; *) e=0 ;; esac
if [ $rc = 1 ] && [ "$got" = 0 ] && [ $e = 1 ]; then ok "-c with 3 statements: implicit transaction rolled back"; else
  fail "-c with 3 statements: exit $rc (want 1), $got rows (want 0), output: $out"; fi
out=$(printf 'SELECT 40 + 2 AS answer \\gset\n\\echo :answer\nSELECT :answer * 2;\n' | psql_ -q -t -A 2>&1)
if [ "$out" = "$(printf '42\n84')" ]; then ok "\\gset and variables from stdin"; else fail "\\gset: got '$out'"; fi
out=$(psql_ -q -t -A -F, -c "SELECT 1, 'a' UNION ALL SELECT 2, 'b'" 2>&1)
if [ "$out" = "$(printf '1,a\n2,b')" ]; then ok "unaligned output"; else fail "unaligned output: got '$out'"; fi
out=$(psql_ -q -t -A -c "SHOW server_version" 2>&1)
case "$out" in 15.*) ok "server_version 15.x" ;; *) fail "server_version: '$out'" ;; esac

[ $fails = 0 ] && { echo "test_psql.sh: all checks passed"; exit 0; }
echo "test_psql.sh: $fails checks failed"
exit 1
