#!/bin/sh
# The main job (make run): compile the shipped mnemonic sample to ISO 2709
# with our own CLI, convert that to MARCXML on stdout, then one summary line.
set -e
WB=${1:-build/wirebuf}
cd "$(dirname "$0")/.."
out=build/sample.mrc
"$WB" marc convert --from mrk --to iso2709 --keep-marc8 -o "$out" examples/sample.mrk
"$WB" marc convert --to marcxml "$out"
n=$("$WB" marc count "$out" | cut -f1)
"$WB" marc validate -q "$out" 2>/dev/null && status="all valid" || status="with errors"
echo "wirebuf: $n records from examples/sample.mrk -> $out ($(wc -c <"$out") bytes, ISO 2709) -> MARCXML on stdout, $status" >&2
