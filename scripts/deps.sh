#!/bin/sh
# Install the Debian packages wirebuf needs to build, test and benchmark.
# Run as root (apt-get); as another user it prints what to install instead.
set -e
PKGS="build-essential cmake pkg-config libexpat1-dev libjansson-dev yaz python3 python3-dev python3-pytest clang libclang-rt-14-dev valgrind bc libssl-dev openssl postgresql libpq-dev strace python3-psycopg2 python3-asyncpg python3-psycopg libpg-query-dev libprotobuf-c-dev libsqlite3-dev libevent-dev pgbouncer python3-pg8000 python3-sqlalchemy libpostgresql-jdbc-java default-jdk-headless libhnswlib-dev libidn-dev postgresql-server-dev-15"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "wirebuf: missing Debian packages:$missing" >&2
  echo "install them with: sudo apt-get install -y$missing" >&2
  exit 1
fi
echo "wirebuf: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $missing >/dev/null
