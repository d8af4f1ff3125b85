#!/bin/sh
# k-NN benchmark (issue 11 section 4): wirebuf serve against PostgreSQL 15
# with pgvector, in the same run.
#
#   bench/bench_vector.sh BUILD_DIR
#
# pgvector is not packaged for Debian 12: it is built here from its public
# source (a git mirror at $PGVECTOR_SRC, default /work/.mirror/pgvector+pgvector/repo,
# e.g. a clone of github.com/pgvector/pgvector) against postgresql-server-dev-15
# and installed into Debian's PostgreSQL 15 (as root), then used by the
# throwaway cluster of scripts/with_pg.sh. Its code is never committed here.
# Without the source (or the dev package), only wirebuf is measured and a
# message says why. WB_BENCH_N / WB_BENCH_D / WB_BENCH_Q override the
# 100000 x 128 vectors and 50 queries.
set -eu
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SRC=${PGVECTOR_SRC:-/work/.mirror/pgvector+pgvector/repo}
HAVE=0
if [ -f /usr/share/postgresql/15/extension/vector.control ]; then
  HAVE=1
elif [ -d "$SRC" ] && [ -x /usr/lib/postgresql/15/bin/pg_config ] && [ -f /usr/include/postgresql/15/server/postgres.h ] \
     && [ "$(id -u)" = 0 ]; then
  TMP=$(mktemp -d)
  trap 'rm -rf "$TMP"' EXIT
  if [ -d "$SRC/.git" ] || git --git-dir="$SRC" rev-parse HEAD >/dev/null 2>&1; then
    git --git-dir="$SRC" archive HEAD | tar -x -C "$TMP"
  else
    cp -r "$SRC/." "$TMP"
  fi
  if (cd "$TMP" && make -s PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config OPTFLAGS="" >/dev/null 2>&1 &&
      make -s PG_CONFIG=/usr/lib/postgresql/15/bin/pg_config install >/dev/null 2>&1); then
    HAVE=1
  else
    echo "bench_vector: pgvector did not build from $SRC; measuring wirebuf only" >&2
  fi
else
  echo "bench_vector: pgvector source ($SRC) or postgresql-server-dev-15 not available; measuring wirebuf only" >&2
fi
exec sh "$ROOT/scripts/with_pg.sh" /usr/bin/python3 "$ROOT/bench/bench_vector.py" "$BUILD/wirebuf" "$HAVE"
