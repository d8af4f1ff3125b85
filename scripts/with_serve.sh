#!/bin/sh
# Run a command against a throwaway `wirebuf serve`, then stop it and remove
# everything (also on failure or signal).
#
#   scripts/with_serve.sh COMMAND [ARGS...]
#
# Starts WB_SERVE_BIN (default: build/wirebuf beside this script) as
#   wirebuf serve -D TMP/data -h 127.0.0.1 -p PORT -k TMP [$WB_SERVE_ARGS]
# on a fresh DATADIR, a kernel-chosen free TCP port and a socket directory in
# a temp dir, waits until pg_isready says the server accepts connections
# (30 s at most), runs COMMAND, then sends SIGTERM and waits for the server to
# exit (15 s at most, then SIGKILL).
#
# Environment for COMMAND, the same shape as scripts/with_pg.sh's, so that a
# test program runs unchanged against either:
#   WB_PG_TARGET    "serve" (with_pg.sh leaves it unset: real PostgreSQL)
#   WB_PG_HOST      the socket directory      WB_PG_PORT     the TCP port
#   WB_PG_ADDR      127.0.0.1 (TCP address)
#   WB_PG_DB        database "postgres"       WB_PG_SUPER    role "postgres"
#   WB_PG_PASSWORD  "wb secret", the password of every role in the passwords
#                   file (postgres, wb_clear, wb_md5, wb_scram)
#   WB_PG_BIN       PostgreSQL client binaries (psql, pgbench), if installed
#   WB_SERVE_DATA   the DATADIR               WB_SERVE_PID   the server's pid
#   WB_SERVE_LOG    the server's stdout+stderr
#   WB_SERVE_PASSWORDS  the passwords file (role:password lines)
# Options through the environment:
#   WB_SERVE_AUTH   trust|password|md5|scram-sha-256: adds
#                   --auth METHOD --passwords FILE (default: the server's)
#   WB_SERVE_TLS=1  make a self-signed certificate (SAN localhost, 127.0.0.1)
#                   and add --ssl-cert/--ssl-key; WB_PG_CA is then its path
#                   (use as sslrootcert), as with_pg.sh's
#   WB_SERVE_ARGS   more arguments for `wirebuf serve` (word-split)
#
# Exit status: COMMAND's; 1 if the server did not start, died while COMMAND
# ran, exited non-zero after SIGTERM or had to be killed; 77 (skip) when
# `wirebuf serve` is not built or pg_isready is missing.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")/.." && pwd)
# A sanitizer runtime preloaded for the command (make asan) must not reach
# the shell tools here; the command gets it back.
WB_SAVED_PRELOAD=${LD_PRELOAD:-}
unset LD_PRELOAD

BIN=${WB_SERVE_BIN:-$HERE/build/wirebuf}
if [ ! -x "$BIN" ]; then
  echo "with_serve: $BIN not built (make)" >&2
  exit 77
fi
PGBIN=""
for v in 15 16 17; do
  [ -x /usr/lib/postgresql/$v/bin/pg_isready ] && { PGBIN=/usr/lib/postgresql/$v/bin; break; }
done
ISREADY=${PGBIN:+$PGBIN/}pg_isready
if ! command -v "$ISREADY" >/dev/null 2>&1; then
  echo "with_serve: pg_isready not installed (apt-get install postgresql-client)" >&2
  exit 77
fi

DIR=$(mktemp -d /tmp/wirebuf-serve.XXXXXX)
SPID=""
CPID=""
cleanup() {
  rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$CPID" ]; then
    kill -TERM "$CPID" 2>/dev/null || true
    wait "$CPID" 2>/dev/null || true
  fi
  if [ -n "$SPID" ] && kill -0 "$SPID" 2>/dev/null; then
    kill -TERM "$SPID" 2>/dev/null || true
    i=0
    while kill -0 "$SPID" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$SPID" 2>/dev/null; then
      echo "with_serve: the server did not exit 15 s after SIGTERM; killed" >&2
      kill -KILL "$SPID" 2>/dev/null || true
      [ $rc = 0 ] && rc=1
    fi
    wait "$SPID" 2>/dev/null && src=0 || src=$?
    if [ "$src" != 0 ]; then
      echo "with_serve: the server exited with status $src after SIGTERM; its log:" >&2
      tail -n 30 "$DIR/serve.log" >&2 || true
      [ $rc = 0 ] && rc=1
    fi
  fi
  rm -rf "$DIR"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null \
    || echo $((20000 + $$ % 20000))
}

printf 'postgres:wb secret\nwb_clear:wb secret\nwb_md5:wb secret\nwb_scram:wb secret\n' >"$DIR/passwords"
chmod 600 "$DIR/passwords"
AUTHARGS=""
[ -n "${WB_SERVE_AUTH:-}" ] && AUTHARGS="--auth $WB_SERVE_AUTH --passwords $DIR/passwords"
WB_PG_CA=""
if [ "${WB_SERVE_TLS:-0}" = 1 ]; then
  # a self-signed certificate as with_pg.sh makes (SAN localhost, 127.0.0.1)
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$DIR/server.key" -out "$DIR/server.crt" >/dev/null 2>&1 \
    || { echo "with_serve: openssl could not make a certificate" >&2; exit 1; }
  chmod 600 "$DIR/server.key"
  AUTHARGS="$AUTHARGS --ssl-cert $DIR/server.crt --ssl-key $DIR/server.key"
  WB_PG_CA="$DIR/server.crt"
fi

# the kernel's free port may be taken before the server binds it: try 3 ports
tries=0
while :; do
  tries=$((tries + 1))
  PORT=$(free_port)
  rm -rf "$DIR/data"
  # shellcheck disable=SC2086 # AUTHARGS and WB_SERVE_ARGS are word lists
  "$BIN" serve -D "$DIR/data" -h 127.0.0.1 -p "$PORT" -k "$DIR" $AUTHARGS ${WB_SERVE_ARGS:-} \
    >"$DIR/serve.log" 2>&1 </dev/null &
  SPID=$!
  i=0
  ready=0
  while [ $i -lt 300 ]; do
    kill -0 "$SPID" 2>/dev/null || break
    if "$ISREADY" -q -h "$DIR" -p "$PORT" -U postgres -d postgres -t 1 >/dev/null 2>&1; then ready=1; break; fi
    sleep 0.1
    i=$((i + 1))
  done
  [ $ready = 1 ] && break
  if kill -0 "$SPID" 2>/dev/null; then
    echo "with_serve: the server is not ready after 30 s; its log:" >&2
    cat "$DIR/serve.log" >&2
    exit 1
  fi
  wait "$SPID" 2>/dev/null || true
  SPID=""
  if [ $tries -lt 3 ] && grep -qi 'in use' "$DIR/serve.log"; then continue; fi
  echo "with_serve: \`wirebuf serve\` did not start; its log:" >&2
  cat "$DIR/serve.log" >&2
  exit 1
done

export WB_PG_TARGET=serve WB_PG_HOST="$DIR" WB_PG_ADDR=127.0.0.1 WB_PG_PORT="$PORT" \
  WB_PG_DB=postgres WB_PG_SUPER=postgres WB_PG_PASSWORD="wb secret" \
  WB_PG_BIN="${PGBIN:-/usr/bin}" WB_SERVE_DATA="$DIR/data" WB_SERVE_PID="$SPID" \
  WB_SERVE_LOG="$DIR/serve.log" WB_SERVE_PASSWORDS="$DIR/passwords" WB_PG_CA
# the command runs in the background so that a signal reaches our trap at
# once (a shell defers traps while a foreground command runs); fd 3 keeps
# our stdin for it (an asynchronous command would get /dev/null)
exec 3<&0
set +e
if [ -n "$WB_SAVED_PRELOAD" ]; then
  LD_PRELOAD="$WB_SAVED_PRELOAD" "$@" <&3 3<&- &
else
  "$@" <&3 3<&- &
fi
CPID=$!
wait "$CPID"
rc=$?
CPID=""
set -e
if ! kill -0 "$SPID" 2>/dev/null; then
  echo "with_serve: the server died while the command ran; its log:" >&2
  tail -n 30 "$DIR/serve.log" >&2
  [ $rc = 0 ] && rc=1
fi
exit $rc
