#!/bin/sh
# The extension under valgrind on the real files: no invalid accesses and no
# definite leaks (PYTHONMALLOC=malloc so valgrind sees every allocation).
# Usage: valgrind.sh BUILD_DIR SHARED_MARC_DIR. Exit 77 (skip) without them.
build=$1 shared=$2
[ -d "$shared/records" ] || { echo "skip: $shared not found"; exit 77; }
command -v valgrind >/dev/null || { echo "skip: valgrind not installed"; exit 77; }
log=$(mktemp)
PYTHONMALLOC=malloc valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite --error-exitcode=3 --log-file="$log" \
  /usr/bin/python3 "$(dirname "$0")/valgrind_workload.py" "$build" "$shared"
rc=$?
cat "$log"
grep -q "definitely lost: [1-9]" "$log" && rc=3
rm -f "$log"
exit $rc
