#!/bin/sh
# Every real-client test in one environment, with a summary line per test:
#   scripts/with_serve.sh tests/clients/run_all.sh     # against wirebuf serve
#   scripts/with_pg.sh tests/clients/run_all.sh        # against PostgreSQL 15
#   ... tests/clients/run_all.sh psycopg2 jdbc         # some of them
# Names: psql pgbench psycopg2 psycopg3 asyncpg pg8000 concurrent node_pg
# postgresjs jdbc auth (auth needs WB_SERVE_AUTH against wirebuf serve).
# Exit 1 if any failed. (ctest runs each one on its own
# server: see CMakeLists.txt.)
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
names=${*:-psql pgbench psycopg2 psycopg3 asyncpg pg8000 concurrent node_pg postgresjs jdbc auth}
cmd() {
  case $1 in
    psql|pgbench|jdbc) echo "sh $HERE/test_$1.sh" ;;
    node_pg|postgresjs) echo "sh $ROOT/tests/node/run.sh $ROOT/tests/node/test_$1.js" ;;
    *) echo "/usr/bin/python3 $HERE/test_$1.py" ;;
  esac
}
summary=""
bad=0
for n in $names; do
  echo "== $n"
  # shellcheck disable=SC2046
  $(cmd "$n")
  rc=$?
  case $rc in 0) r=passed ;; 77) r=skipped ;; *) r="FAILED (exit $rc)"; bad=1 ;; esac
  summary="$summary$n: $r
"
done
echo "== summary (${WB_PG_TARGET:-postgres})"
printf '%s' "$summary"
exit $bad
