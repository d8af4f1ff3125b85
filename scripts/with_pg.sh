#!/bin/sh
# Run a command against a throwaway PostgreSQL 15 cluster, then remove it.
#
#   scripts/with_pg.sh COMMAND [ARGS...]
#
# Installs Debian's postgresql and openssl when missing (as root), creates a
# cluster in a temp dir, starts it on a Unix socket in that dir and on
# 127.0.0.1 at a free port, with TLS (self-signed certificate made by
# openssl, SAN localhost + 127.0.0.1) and these roles in pg_hba.conf:
#   wb_trust (trust), wb_clear (password), wb_md5 (md5), wb_scram
#   (scram-sha-256), password "wb secret" for the last three, and the
#   superuser the server runs as (trust).
# PostgreSQL refuses to run as root: as root the server runs as the
# `postgres` user. The command sees:
#   WB_PG_HOST      the socket directory      WB_PG_PORT     the TCP port
#   WB_PG_DB        database "wirebuf"        WB_PG_SUPER    superuser name
#   WB_PG_CA        the server certificate (use as sslrootcert)
#   WB_PG_PASSWORD  the password of wb_clear/wb_md5/wb_scram
#   WB_PG_DATA      the data directory        WB_PG_BIN      server binaries
# The cluster is stopped and removed on exit, also on failure or signal.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
# A sanitizer runtime preloaded for the command (make asan) must not reach
# initdb, postgres, psql or openssl: keep it aside and give it back to the
# command only.
WB_SAVED_PRELOAD=${LD_PRELOAD:-}
unset LD_PRELOAD

PGBIN=""
for v in 15 16 17; do
  [ -x /usr/lib/postgresql/$v/bin/initdb ] && { PGBIN=/usr/lib/postgresql/$v/bin; break; }
done
if [ -z "$PGBIN" ] || ! command -v openssl >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    echo "with_pg: installing postgresql and openssl" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq postgresql openssl >/dev/null
    PGBIN=/usr/lib/postgresql/15/bin
  else
    echo "with_pg: PostgreSQL server not installed (sudo apt-get install postgresql openssl)" >&2
    exit 77
  fi
fi

DIR=$(mktemp -d /tmp/wirebuf-pg.XXXXXX)
RUNAS=""
SUPER=$(id -un)
if [ "$(id -u)" = 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
  RUNAS="postgres"
  SUPER=postgres
  chown postgres "$DIR"
  chmod 755 "$DIR"
fi
as_server() {
  if [ -n "$RUNAS" ]; then
    # runuser keeps this process's environment out of the server's
    runuser -u "$RUNAS" -- "$@"
  else
    "$@"
  fi
}
cleanup() {
  rc=$?
  trap - EXIT INT TERM HUP
  as_server "$PGBIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# a free TCP port: ask the kernel for one
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + $$ % 20000)))

as_server "$PGBIN/initdb" -D "$DIR/data" -U "$SUPER" -A trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 \
  || { cat "$DIR/initdb.log" >&2; exit 1; }

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
  -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$DIR/data/server.key" -out "$DIR/data/server.crt" >/dev/null 2>&1
cp "$DIR/data/server.crt" "$DIR/ca.crt"
chmod 600 "$DIR/data/server.key"
[ -n "$RUNAS" ] && chown "$RUNAS" "$DIR/data/server.key" "$DIR/data/server.crt"
chmod 644 "$DIR/ca.crt"

cat >>"$DIR/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
max_connections = 60
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
max_wal_size = 2GB
log_min_messages = warning
CONF
cat >"$DIR/data/pg_hba.conf" <<HBA
local  all  wb_trust  trust
local  all  wb_clear  password
local  all  wb_md5    md5
local  all  wb_scram  scram-sha-256
local  all  all       trust
host   all  wb_trust  127.0.0.1/32  trust
host   all  wb_clear  127.0.0.1/32  password
host   all  wb_md5    127.0.0.1/32  md5
host   all  wb_scram  127.0.0.1/32  scram-sha-256
host   all  all       127.0.0.1/32  trust
HBA
[ -n "$RUNAS" ] && chown "$RUNAS" "$DIR/data/pg_hba.conf" "$DIR/data/postgresql.conf"

as_server "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 start >/dev/null \
  || { cat "$DIR/server.log" >&2; exit 1; }

PSQL="$PGBIN/psql"
[ -x "$PSQL" ] || PSQL=psql
"$PSQL" -X -q -h "$DIR" -p "$PORT" -U "$SUPER" -d postgres -v ON_ERROR_STOP=1 >/dev/null <<SQL
CREATE DATABASE wirebuf;
CREATE ROLE wb_trust LOGIN SUPERUSER;
SET password_encryption = 'md5';
CREATE ROLE wb_md5 LOGIN SUPERUSER PASSWORD 'wb secret';
SET password_encryption = 'scram-sha-256';
CREATE ROLE wb_scram LOGIN SUPERUSER PASSWORD 'wb secret';
CREATE ROLE wb_clear LOGIN SUPERUSER PASSWORD 'wb secret';
SQL

export WB_PG_HOST="$DIR" WB_PG_PORT="$PORT" WB_PG_DB=wirebuf WB_PG_SUPER="$SUPER" \
  WB_PG_CA="$DIR/ca.crt" WB_PG_PASSWORD="wb secret" WB_PG_DATA="$DIR/data" WB_PG_BIN="$PGBIN"
set +e
if [ -n "$WB_SAVED_PRELOAD" ]; then
  LD_PRELOAD="$WB_SAVED_PRELOAD" "$@"
else
  "$@"
fi
rc=$?
set -e
exit $rc
