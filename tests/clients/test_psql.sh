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
# want NAME: run the check NAME unless WB_TEST_ONLY leaves it out or
# WB_TEST_SKIP names it
want() {
  case ",${WB_TEST_SKIP:-}," in *",$1,"*) printf 'skip %s (WB_TEST_SKIP)\n' "$1"; return 1 ;; esac
  [ -z "${WB_TEST_ONLY:-}" ] && return 0
  case ",$WB_TEST_ONLY," in *",$1,"*) return 0 ;; esac
  return 1
}
psql_() { timeout 60 "$PSQL" -X "$@"; }

# 1. the workflow and the expressions, each compared with PostgreSQL's output
for script in workflow expressions; do
  psql_ -f "$HERE/psql/$script.sql" >out.log 2>&1
  rc=$?
  # the script's path is part of psql's error prefix
  sed "s|$HERE/psql/||" out.log >"$script.out"
  if [ "${WB_PSQL_REGEN:-}" = 1 ]; then cp "$script.out" "$HERE/psql/$script.expected"; fi
  want "$script" || continue
  if [ $rc = 0 ] && diff -u "$HERE/psql/$script.expected" "$script.out" >diff.txt; then
    ok "$script: output equals PostgreSQL's"
  else
    fail "$script (psql exit $rc): output differs from PostgreSQL's:"
    head -n 80 diff.txt
  fi
done

# 2. what \copy wrote in the workflow
want_txt=$(printf 'apple\t1.50\t11\t2024-01-01\tred\nplum\t\\N\t6\t\\N\ttab\\tinside\nkiwi\t0.00\t3\t\\N\t\\N\nfig\t0.25\t7\t\\N\t\\N\ndate\t10.00\t1\t\\N\tdried\ncherry, sour\t3.10\t12\t2023-12-24\t\\N\nlime\t\\N\t4\t\\N\t\\N\nquote"d\t0.99\t0\t2024-07-04\t\\N')
if want copy_text; then
  if [ "$(cat out.txt 2>/dev/null)" = "$want_txt" ]; then ok "copy_text: \\copy TO a text file"; else
    fail "copy_text: \\copy TO a text file: got:"; cat out.txt 2>/dev/null; fi
fi
want_csv=$(printf 'name,qty\napple,11\nplum,6\nkiwi,3\nfig,7\ndate,1\n"cherry, sour",12\nlime,4\n"quote""d",0')
if want copy_csv; then
  if [ "$(cat out.csv 2>/dev/null)" = "$want_csv" ]; then ok "copy_csv: \\copy TO a csv file with HEADER"; else
    fail "copy_csv: \\copy TO csv: got:"; cat out.csv 2>/dev/null; fi
fi

# 3. ON_ERROR_STOP, single transaction, a multi-statement Query
q() { psql_ -q -t -A -c "$1" 2>&1; }
q "DROP TABLE IF EXISTS ps_stop; CREATE TABLE ps_stop (v text)" >/dev/null
cat >stop.sql <<'SQL'
INSERT INTO ps_stop VALUES ('before');
INSERT INTO ps_stop VALUES (1/0);
INSERT INTO ps_stop VALUES ('after');
SQL
if want on_error_stop; then
  q "TRUNCATE ps_stop" >/dev/null
  psql_ -q -v ON_ERROR_STOP=1 -f stop.sql >/dev/null 2>&1
  rc=$?
  got=$(q "SELECT string_agg(v, ',' ORDER BY v) FROM ps_stop")
  if [ $rc = 3 ] && [ "$got" = before ]; then ok "on_error_stop: ON_ERROR_STOP=1: exit 3, stops after the error"; else
    fail "on_error_stop: ON_ERROR_STOP=1: exit $rc (want 3), rows '$got' (want 'before')"; fi
fi
if want single_transaction; then
  q "TRUNCATE ps_stop" >/dev/null
  psql_ -q -1 -v ON_ERROR_STOP=1 -f stop.sql >/dev/null 2>&1
  rc=$?
  got=$(q "SELECT count(*) FROM ps_stop")
  if [ $rc = 3 ] && [ "$got" = 0 ]; then ok "single_transaction: -1 ON_ERROR_STOP=1: exit 3, all rolled back"; else
    fail "single_transaction: -1 ON_ERROR_STOP=1: exit $rc (want 3), $got rows (want 0)"; fi
fi
if want no_error_stop; then
  q "TRUNCATE ps_stop" >/dev/null
  psql_ -q -f stop.sql >/dev/null 2>&1
  rc=$?
  got=$(q "SELECT string_agg(v, ',' ORDER BY v) FROM ps_stop")
  if [ $rc = 0 ] && [ "$got" = "after,before" ]; then ok "no_error_stop: without ON_ERROR_STOP: goes on, exit 0"; else
    fail "no_error_stop: without ON_ERROR_STOP: exit $rc (want 0), rows '$got' (want 'after,before')"; fi
fi
if want multi_statement_query; then
  q "TRUNCATE ps_stop" >/dev/null
  out=$(psql_ -q -t -A -c "INSERT INTO ps_stop VALUES ('x'); SELECT 1/0; INSERT INTO ps_stop VALUES ('y')" 2>&1)
  rc=$?
  got=$(q "SELECT count(*) FROM ps_stop")
  case "$out" in *division*|*22012*) e=1 ;; *) e=0 ;; esac
  if [ $rc = 1 ] && [ "$got" = 0 ] && [ $e = 1 ]; then ok "multi_statement_query: -c with 3 statements: implicit transaction rolled back"; else
    fail "multi_statement_query: -c with 3 statements: exit $rc (want 1), $got rows (want 0), output: $out"; fi
fi
if want gset; then
  out=$(printf 'SELECT 40 + 2 AS answer \\gset\n\\echo :answer\nSELECT :answer * 2;\n' | psql_ -q -t -A 2>&1)
  if [ "$out" = "$(printf '42\n84')" ]; then ok "gset: \\gset and variables from stdin"; else fail "gset: \\gset: got '$out'"; fi
fi
if want unaligned; then
  out=$(psql_ -q -t -A -F, -c "SELECT 1, 'a' UNION ALL SELECT 2, 'b'" 2>&1)
  if [ "$out" = "$(printf '1,a\n2,b')" ]; then ok "unaligned: unaligned output"; else fail "unaligned: unaligned output: got '$out'"; fi
fi
if want server_version; then
  out=$(psql_ -q -t -A -c "SHOW server_version" 2>&1)
  case "$out" in 15.*) ok "server_version: server_version 15.x" ;; *) fail "server_version: server_version: '$out'" ;; esac
fi

[ $fails = 0 ] && { echo "test_psql.sh: all checks passed"; exit 0; }
echo "test_psql.sh: $fails checks failed"
exit 1
