#!/bin/sh
# Short fixed-time fuzz run of each target, seeded from ../shared/data/marc.
# usage: fuzz.sh BUILD_DIR [SECONDS per target, default 30]
set -e
B=$1
SECS=${2:-30}
cd "$(dirname "$0")/.."
DATA=../shared/data/marc
for t in fuzz_iso2709 fuzz_mrk; do
  corpus=$(mktemp -d)
  if [ -d "$DATA" ]; then
    case $t in
      fuzz_iso2709) cp $DATA/records/* $DATA/broken/* $DATA/encodings/*.mrc $DATA/encodings/*.dat "$corpus"/ ;;
      fuzz_mrk) cp $DATA/encodings/*.mrk* "$corpus"/; cp examples/sample.mrk "$corpus"/ ;;
    esac
  fi
  echo "fuzz: $t for ${SECS}s"
  "$B/$t" -max_total_time="$SECS" -max_len=200000 -print_final_stats=0 "$corpus" 2>&1 | tail -3
  rm -rf "$corpus"
done
