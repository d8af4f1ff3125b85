#!/bin/sh
# Short fixed-time fuzz run of each target, seeded from ../shared/data/marc.
# usage: fuzz.sh BUILD_DIR [SECONDS per target, default 30]
# WB_FUZZ_SEED (default 1): libFuzzer's random seed, fixed so that a CI run
# repeats the exploration a developer ran (0 = a new seed each run).
set -e
B=$1
SECS=${2:-30}
cd "$(dirname "$0")/.."
DATA=../shared/data/marc
for t in fuzz_iso2709 fuzz_mrk fuzz_pg_backend fuzz_pg_frontend fuzz_sql_translate fuzz_proxy_sql fuzz_proxy_relay; do
  corpus=$(mktemp -d)
  if [ -d "$DATA" ]; then
    case $t in
      fuzz_iso2709) cp $DATA/records/* $DATA/broken/* $DATA/encodings/*.mrc $DATA/encodings/*.dat "$corpus"/ ;;
      fuzz_mrk) cp $DATA/encodings/*.mrk* "$corpus"/; cp examples/sample.mrk "$corpus"/ ;;
    esac
  fi
  if [ $t = fuzz_pg_backend ]; then
    # seeds: a result set (RowDescription int4 + DataRow + CommandComplete +
    # ReadyForQuery), an ErrorResponse, SASL and MD5 requests, a binary array
    printf 'T\000\000\000\032\000\001a\000\000\000\000\000\000\000\000\000\000\027\000\004\377\377\377\377\000\001D\000\000\000\016\000\001\000\000\000\004\000\000\000\052C\000\000\000\015SELECT 1\000Z\000\000\000\005I' >"$corpus/rows"
    printf 'E\000\000\000\054SERROR\000VERROR\000C22012\000Mdivision by zero\000\000' >"$corpus/error"
    printf 'R\000\000\000\027\000\000\000\012SCRAM-SHA-256\000\000R\000\000\000\014\000\000\000\005salt' >"$corpus/auth"
    printf 'D\000\000\000\046\000\001\000\000\000\034\000\000\000\001\000\000\000\000\000\000\000\027\000\000\000\001\000\000\000\001\000\000\000\004\000\000\000\007' >"$corpus/array"
  fi
  if [ $t = fuzz_pg_frontend ]; then
    # seeds (first byte: auth method and chunk size): a trust startup then a
    # simple Query, a pipelined Parse/Bind/Execute/Sync, an SSLRequest, a
    # CancelRequest, an md5 exchange
    printf '\200\000\000\000\051\000\003\000\000user\000postgres\000database\000postgres\000\000Q\000\000\000\015SELECT 1\000X\000\000\000\004' >"$corpus/query"
    printf '\003\000\000\000\027\000\003\000\000user\000postgres\000\000P\000\000\000\021\000SELECT $1\000\000\000B\000\000\000\021\000\000\000\000\000\001\000\000\000\001x\000\000E\000\000\000\011\000\000\000\000\000S\000\000\000\004' >"$corpus/extended"
    printf '\200\000\000\000\010\004\322\026\057' >"$corpus/ssl"
    printf '\200\000\000\000\020\004\322\026\056\000\000\000\001\000\000\000\002' >"$corpus/cancel"
    printf '\202\000\000\000\027\000\003\000\000user\000postgres\000\000p\000\000\000\050md5000000000000000000000000000000000\000' >"$corpus/md5"
  fi
  if [ $t = fuzz_sql_translate ]; then
    # seeds: what pgbench, psql and the drivers send
    printf 'SELECT abalance FROM pgbench_accounts WHERE aid = 351;' >"$corpus/select"
    printf "INSERT INTO t (a, b) VALUES (1, 'x'), (\$1, \$2) ON CONFLICT (a) DO UPDATE SET b = EXCLUDED.b RETURNING *" >"$corpus/insert"
    printf "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT n, row_number() OVER (ORDER BY n DESC) FROM r" >"$corpus/cte"
    printf "create table x (id serial primary key, a numeric(10,2) default 0, b text[], c timestamptz default now()) with (fillfactor=90); alter table x add primary key (id); drop table if exists x cascade" >"$corpus/ddl"
    printf "select o.n, p.partstrat from pg_catalog.pg_class as c cross join lateral (select pg_catalog.array_position(pg_catalog.current_schemas(true), 'x')) as o(n) left join pg_catalog.pg_partitioned_table as p on (p.partrelid = c.oid) where c.relname = 'a' and a ~* 'x' and b = any(\$1::int[]) group by 1, 2 order by 1 limit 1" >"$corpus/probe"
    printf "BEGIN; SET search_path TO public; COPY t (a) FROM STDIN WITH (FORMAT csv, HEADER); DECLARE c CURSOR WITH HOLD FOR SELECT 1; FETCH 5 c; COMMIT" >"$corpus/utility"
    printf "create domain e as int check (value > 0); create table u (x d, y d default 'z'); insert into t (c) values (\$1), ('a'::d); update t set c = \$1 || 'x'::d; drop domain d" >"$corpus/domain"
  fi
  if [ $t = fuzz_proxy_sql ]; then
    # seeds: what the pooling proxy must see through quoting, and console commands
    printf 'PREPARE "My Stmt" (int, text) AS SELECT $1, $2; EXECUTE "My Stmt"(1, $$a;b$$); DEALLOCATE PREPARE ALL' >"$corpus/prepare"
    printf '/* c /* n */ */ -- x\nSET SESSION TIME ZONE %sUTC%s; SET LOCAL a = E%s\\%s%s;%s; RESET ALL; DISCARD ALL' "'" "'" "'" "'" "'" "'" >"$corpus/set"
    printf 'BEGIN; SELECT %sa%s\n%sb;%s; LISTEN x; UNLISTEN *; COMMIT' "'" "'" "'" "'" >"$corpus/txn"
    printf 'SELECT U&"d\\0061t", x%sff%s, B%s1%s, $q$;$q$; END' "'" "'" "'" "'" >"$corpus/quotes"
    printf 'SHOW POOLS;' >"$corpus/console"
    printf 'pause "db"' >"$corpus/pause"
  fi
  if [ $t = fuzz_proxy_relay ]; then
    # seeds (scripts: who speaks, then what): a prepared statement's
    # Parse/Bind/Execute/Sync answered, SQL PREPARE/EXECUTE, a COPY
    printf '\001\001\002\003\001\000\001\003\000\003\001\001\005\000\000\001\007\000\011\000\000\012\000\000\012\001\000\003\000\000\000' >"$corpus/extended"
    printf '\001\001\000\000\002\000\000\003\000\000\005\000\000\000\001\001\000\004\000\000\003\000\000\000' >"$corpus/prepare"
    printf '\001\001\000\000\020\000\023\017\001\012\001\013\001\000\003\000\000\000' >"$corpus/copy"
  fi
  echo "fuzz: $t for ${SECS}s"
  # the fuzzer's own exit status decides (a pipe into tail would hide it)
  log=$(mktemp)
  rc=0
  "$B/$t" -seed="${WB_FUZZ_SEED:-1}" -max_total_time="$SECS" -max_len=200000 -print_final_stats=0 "$corpus" >"$log" 2>&1 || rc=$?
  if [ $rc -ne 0 ]; then
    grep -E -A30 'ERROR|runtime error|deadly signal' "$log" | head -60
    tail -3 "$log"
    rm -rf "$corpus" "$log"
    echo "fuzz: $t failed (exit $rc); the input is in ./crash-* (or leak-*/timeout-*/oom-*)" >&2
    exit 1
  fi
  tail -3 "$log"
  rm -rf "$corpus" "$log"
done
