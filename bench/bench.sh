#!/bin/sh
# MARC benchmark: wirebuf vs yaz-marcdump on the same >= 100 MB corpus, in the
# same run. Corpus: ../shared/data/marc/records/* concatenated, repeated.
# Prints a Markdown table (also written to bench/results.md). Each command is
# run RUNS times (default 3); the best wall time counts.
set -eu
WB=${1:-build/wirebuf}
RUNS=${RUNS:-3}
cd "$(dirname "$0")/.."
DATA=../shared/data/marc/records
[ -d "$DATA" ] || { echo "bench: $DATA not found" >&2; exit 1; }
corpus=bench/corpus.mrc
# A symbolic link is used as it is (stat -L sizes its target); only a missing
# or short regular file is (re)built, and the build loop stops on a write error
# or when appending makes no progress (it once filled the disk: stat without
# -L sized the link, which never grew).
if [ -L "$corpus" ]; then
  [ "$(stat -L -c %s "$corpus")" -ge 100000000 ] ||
    { echo "bench: $corpus is a link to a file under 100 MB; remove it" >&2; exit 1; }
elif [ ! -f "$corpus" ] || [ "$(stat -c %s "$corpus")" -lt 100000000 ]; then
  cat "$DATA"/* > bench/one.mrc
  [ -s bench/one.mrc ] || { echo "bench: no records in $DATA" >&2; exit 1; }
  : > "$corpus"
  while [ "$(stat -c %s "$corpus")" -lt 100000000 ]; do cat bench/one.mrc >> "$corpus" || exit 1; done
  rm -f bench/one.mrc
fi
bytes=$(stat -L -c %s "$corpus")
records=$("$WB" marc count -q "$corpus" | cut -f1)

best() { # "WALL CPU": best wall and best CPU (user+sys) seconds of RUNS runs of "$@"
  /usr/bin/python3 bench/runbest.py "$RUNS" "$@"
}
w() { echo "${1% *}"; }   # wall part
c() { echo "${1#* }"; }   # CPU part
mbs() { echo "scale=0; $bytes / $(w "$1") / 1000000" | bc -l; }
ratio() { awk -v a="$(w "$1")" -v b="$(w "$2")" 'BEGIN{printf "%.1f", b / a}'; }    # by wall time
cratio() { awk -v a="$(c "$1")" -v b="$(c "$2")" 'BEGIN{printf "%.1f", b / a}'; }   # by CPU time

cat "$corpus" > /dev/null # warm the page cache
v_wb=$(best "$WB" marc validate -q --threads 1 "$corpus")
v_yaz=$(best yaz-marcdump -n "$corpus")
x_wb=$(best "$WB" marc convert --to marcxml -q --threads 1 "$corpus")
x2_wb=$(best "$WB" marc convert --to marcxml -q --threads 2 "$corpus")
x_yaz=$(best yaz-marcdump -o marcxml "$corpus")
j_wb=$(best "$WB" marc convert --to json -q --threads 1 "$corpus")
j_yaz=$(best yaz-marcdump -o json "$corpus")
i_wb=$(best "$WB" marc convert --to iso2709 -q --threads 1 "$corpus")
py=$(/usr/bin/python3 bench/bench_marc_py.py "$(dirname "$WB")" "$corpus" "$RUNS")
rss() { /usr/bin/time -f %M "$WB" marc convert --to marcxml -q --threads "$1" -o /dev/null "$corpus" 2>&1 >/dev/null | tail -1; }
rss1=$(rss 1); rss2=$(rss 2)
i_yaz=$(best yaz-marcdump -o marc "$corpus")
# marc load vs pymarc + psycopg2 COPY, one throwaway server (WB_PYMARC_SRC: a
# pymarc source checkout; without it the baseline is skipped with a message)
load=$(scripts/with_pg.sh /usr/bin/python3 bench/bench_marc_load.py "$WB" "$corpus" "$RUNS" 2>/dev/null) ||
  load="marc load benchmark failed (PostgreSQL or psycopg2 missing?)"

out=bench/results.md
{
  echo "Corpus: $bytes bytes, $records records ($DATA/* repeated), best of $RUNS, $(nproc) cores; the first table is single-threaded (--threads 1)."
  echo
  echo "| job | wirebuf | yaz-marcdump | wirebuf / yaz (wall) | wirebuf / yaz (CPU) | target |"
  echo "|---|---|---|---|---|---|"
  echo "| validate (parse only) vs \`yaz-marcdump -n\` | $(mbs "$v_wb") MB/s | $(mbs "$v_yaz") MB/s | $(ratio "$v_wb" "$v_yaz")x | $(cratio "$v_wb" "$v_yaz")x | >= 8x |"
  echo "| ISO 2709 -> MARCXML vs \`-o marcxml\` | $(mbs "$x_wb") MB/s | $(mbs "$x_yaz") MB/s | $(ratio "$x_wb" "$x_yaz")x | $(cratio "$x_wb" "$x_yaz")x | >= 15x |"
  echo "| ISO 2709 -> MARC-in-JSON vs \`-o json\` | $(mbs "$j_wb") MB/s | $(mbs "$j_yaz") MB/s | $(ratio "$j_wb" "$j_yaz")x | $(cratio "$j_wb" "$j_yaz")x | >= 10x |"
  echo "| ISO 2709 -> ISO 2709 vs \`-o marc\` | $(mbs "$i_wb") MB/s | $(mbs "$i_yaz") MB/s | $(ratio "$i_wb" "$i_yaz")x | $(cratio "$i_wb" "$i_yaz")x | |"
  echo
  echo "Parallel pipeline (same corpus, same run):"
  echo
  echo "| job | 1 thread | 2 threads | speed-up (wall) | CPU 1 / 2 threads | peak RSS 1 / 2 threads |"
  echo "|---|---|---|---|---|---|"
  echo "| CLI ISO 2709 -> MARCXML (\`--threads N\`, target >= 1.8x) | $(mbs "$x_wb") MB/s | $(mbs "$x2_wb") MB/s | $(ratio "$x2_wb" "$x_wb")x | $(c "$x_wb") s / $(c "$x2_wb") s | $rss1 KB / $rss2 KB |"
  echo "$py" | awk 'NR==1{n=$2; r1=$4; m1=$5} NR==2{r2=$4; m2=$5} END{printf "| Python MARCReader, record[\x27245\x27][\x27a\x27] on %d records | %d rec/s | %d rec/s | %.2fx | | %d KB / %d KB |\n", n, r1, r2, r2/r1, m1, m2}'
  echo
  echo "pymarc is not installable here (no PyPI), so the Python reader has no pymarc line; the issue measured pymarc 5.3.1 at 5,200 rec/s on this machine."
  echo
  echo "\`wirebuf marc load\` into PostgreSQL 15 (throwaway server, fsync off, Unix socket), same corpus, same run; target >= 20x pymarc + psycopg2:"
  echo
  echo "| loader | records | best wall time | records/s | client CPU |"
  echo "|---|---|---|---|---|"
  echo "$load"
} > "$out"
cat "$out"
