#!/bin/sh
# pgjdbc against the target of scripts/with_serve.sh or scripts/with_pg.sh:
# compiles tests/clients/jdbc/JdbcTest.java with javac against Debian's
# /usr/share/java/postgresql.jar into a temp dir and runs it.
#   tests/clients/test_jdbc.sh [CLASS]   CLASS: JdbcTest (default) or
#   JdbcMultiplexTest (many sessions through a pooling proxy)
set -u
CLASS=${1:-JdbcTest}
[ -n "${WB_PG_PORT:-}" ] || { echo "SKIP: no server: run under scripts/with_serve.sh or scripts/with_pg.sh"; exit 77; }
JAR=${WB_PGJDBC_JAR:-/usr/share/java/postgresql.jar}
[ -f "$JAR" ] || { echo "SKIP: pgjdbc not installed ($JAR; apt-get install libpostgresql-jdbc-java)"; exit 77; }
command -v javac >/dev/null 2>&1 && command -v java >/dev/null 2>&1 \
  || { echo "SKIP: javac/java not installed (apt-get install default-jdk-headless)"; exit 77; }
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# the JVM sized for a small test on a shared machine
JOPTS="-Xshare:auto -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xmx256m"
javac -J-XX:+UseSerialGC -J-XX:TieredStopAtLevel=1 -nowarn -d "$TMP" -cp "$JAR" "$HERE/jdbc/$CLASS.java" || exit 1
# shellcheck disable=SC2086
exec timeout 300 java $JOPTS -cp "$TMP:$JAR" "$CLASS"
