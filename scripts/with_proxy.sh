#!/bin/sh
# Run a command against a throwaway transaction-pooling proxy in front of a
# throwaway PostgreSQL 15, then stop both and remove everything (also on
# failure or signal).
#
#   scripts/with_proxy.sh COMMAND [ARGS...]
#
# PostgreSQL comes from scripts/with_pg.sh (this script runs itself under it
# unless it already runs inside one: WB_PG_DATA set, WB_PG_TARGET unset; or
# inside another with_proxy.sh: then the new proxy fronts the same
# PostgreSQL, WB_UPSTREAM_*). In
# front of it the proxy listens on 127.0.0.1 at a kernel-chosen free port and
# on a Unix socket in a temp dir:
#   WB_PROXY_BIN unset or a wirebuf binary (default build/wirebuf beside this
#   script):
#     wirebuf serve --upstream "host=PGSOCKETDIR port=PGPORT password=..."
#       --pool-mode transaction --pool-size N -h 127.0.0.1 -p PORT -k TMP
#       --max-connections M [auth, TLS] [$WB_PROXY_ARGS]
#   WB_PROXY_BIN=pgbouncer (or a path ending in pgbouncer): PgBouncer (Debian's
#   1.18) with an ini written here: the same pool mode and size, every
#   database (`*`) to the same upstream, the same listen address, port and
#   socket dir, auth_type trust unless WB_PROXY_AUTH; as root it runs as the
#   `postgres` user (it refuses root). $WB_PROXY_ARGS lines are appended to
#   its [pgbouncer] section (e.g. "server_reset_query_always = 1").
# It waits until pg_isready says the proxy accepts connections (30 s at
# most), runs COMMAND, then sends SIGTERM (PgBouncer: SIGINT, its safe
# shutdown) and waits for the proxy to exit (15 s at most, then SIGKILL).
#
# Environment for COMMAND, the same shape as with_pg.sh's and with_serve.sh's,
# so that a test program runs unchanged against any of them:
#   WB_PG_TARGET    "proxy"
#   WB_PG_HOST      the proxy's socket directory   WB_PG_PORT  its TCP port
#   WB_PG_ADDR      127.0.0.1 (the proxy's TCP address)
#   WB_PG_DB        database "postgres" (not "wirebuf": that name is the
#                   proxy's admin console; PgBouncer's is "pgbouncer")
#   WB_PG_SUPER     the upstream's superuser (trusted on the upstream)
#   WB_PG_PASSWORD  "wb secret": the password of wb_clear, wb_md5, wb_scram
#                   upstream and of every role in the proxy's passwords file
#   WB_PG_BIN       PostgreSQL binaries (psql, pgbench)
#   WB_PG_CA        the proxy's certificate with WB_PROXY_TLS=1, else empty
#   WB_PROXY_KIND   "wirebuf" or "pgbouncer"    WB_PROXY_PID  its pid
#   WB_PROXY_LOG    its log file               WB_PROXY_POOL_SIZE  N
#   WB_PROXY_PASSWORDS  the passwords file (role:password lines; PgBouncer's
#                   auth_file beside it has the same roles)
#   WB_UPSTREAM_HOST, WB_UPSTREAM_PORT, WB_UPSTREAM_DATA  the PostgreSQL
#                   behind the proxy (socket dir, port, data dir: to look at
#                   its backends, e.g. pg_stat_activity, or connect directly)
# Options through the environment:
#   WB_PROXY_POOL_SIZE   server connections per (database, user) pool (default 4)
#   WB_PROXY_MAX_CLIENTS client connections at most (default 1000); the
#                   descriptor limit is raised to fit
#   WB_PROXY_AUTH   trust|password|md5|scram-sha-256: client authentication at
#                   the proxy (--auth METHOD --passwords FILE; PgBouncer:
#                   auth_type trust|plain|md5|scram-sha-256 with auth_file).
#                   Default: trust (loopback and the socket)
#   WB_PROXY_TLS=1  a self-signed certificate (SAN localhost, 127.0.0.1) for
#                   client TLS at the proxy; WB_PG_CA is its path
#   WB_PROXY_ARGS   more arguments for `wirebuf serve` (word-split), or more
#                   ini lines for PgBouncer
#
# Exit status: COMMAND's; 1 if the proxy did not start, died while COMMAND
# ran, exited non-zero after SIGTERM or had to be killed; 77 (skip) when the
# proxy is not built (or `wirebuf serve` has no --upstream yet), PgBouncer is
# not installed, or pg_isready is missing.
set -eu
[ $# -ge 1 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")/.." && pwd)
SELF="$HERE/scripts/with_proxy.sh"

BIN=${WB_PROXY_BIN:-$HERE/build/wirebuf}
case $BIN in
  pgbouncer|*/pgbouncer)
    KIND=pgbouncer
    [ "$BIN" = pgbouncer ] && BIN=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
    if [ ! -x "$BIN" ]; then
      echo "with_proxy: PgBouncer not installed (apt-get install pgbouncer)" >&2
      exit 77
    fi ;;
  *)
    KIND=wirebuf
    if [ ! -x "$BIN" ]; then
      echo "with_proxy: $BIN not built (make)" >&2
      exit 77
    fi
    if ! "$BIN" serve --help 2>&1 | grep -q -- --upstream; then
      echo "with_proxy: $BIN serve has no --upstream (the proxy is not built in)" >&2
      exit 77
    fi ;;
esac

# inside another with_proxy.sh: a second proxy in front of the same
# PostgreSQL (bench/bench_proxy.sh runs PgBouncer and wirebuf side by side)
if [ "${WB_PG_TARGET:-}" = proxy ] && [ -n "${WB_UPSTREAM_DATA:-}" ]; then
  WB_PG_HOST=$WB_UPSTREAM_HOST WB_PG_PORT=$WB_UPSTREAM_PORT WB_PG_DATA=$WB_UPSTREAM_DATA
  unset WB_PG_TARGET
fi
# outside a throwaway PostgreSQL: start one and come back inside it
if [ -z "${WB_PG_DATA:-}" ] || [ -n "${WB_PG_TARGET:-}" ]; then
  unset WB_PG_TARGET WB_PG_DATA
  exec sh "$HERE/scripts/with_pg.sh" sh "$SELF" "$@"
fi

# A sanitizer runtime preloaded for the command (make asan) must not reach
# the shell tools here; the command gets it back.
WB_SAVED_PRELOAD=${LD_PRELOAD:-}
unset LD_PRELOAD

PGBIN=${WB_PG_BIN:-}
ISREADY=${PGBIN:+$PGBIN/}pg_isready
if ! command -v "$ISREADY" >/dev/null 2>&1; then
  echo "with_proxy: pg_isready not installed (apt-get install postgresql-client)" >&2
  exit 77
fi

POOL=${WB_PROXY_POOL_SIZE:-4}
MAXC=${WB_PROXY_MAX_CLIENTS:-1000}
UP_HOST=$WB_PG_HOST
UP_PORT=$WB_PG_PORT
SUPER=$WB_PG_SUPER
PASSWORD=${WB_PG_PASSWORD:-wb secret}

# descriptors: one per client and per server connection, and some
want=$((MAXC + POOL * 4 + 100))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $want ]; then
  ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi

DIR=$(mktemp -d /tmp/wirebuf-proxy.XXXXXX)
chmod 755 "$DIR"
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
    # PgBouncer: SIGINT is its safe shutdown (SIGTERM waits for clients)
    if [ $KIND = pgbouncer ]; then kill -INT "$SPID" 2>/dev/null || true; else kill -TERM "$SPID" 2>/dev/null || true; fi
    i=0
    while kill -0 "$SPID" 2>/dev/null && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
    if kill -0 "$SPID" 2>/dev/null; then
      echo "with_proxy: the proxy did not exit 15 s after SIGTERM; killed" >&2
      kill -KILL "$SPID" 2>/dev/null || true
      [ $rc = 0 ] && rc=1
    fi
    wait "$SPID" 2>/dev/null && src=0 || src=$?
    if [ "$src" != 0 ]; then
      echo "with_proxy: the proxy exited with status $src after SIGTERM; its log:" >&2
      tail -n 30 "$DIR/proxy.log" >&2 || true
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

# the proxy's passwords: every role the tests log in as, one password
printf '%s:%s\nwb_trust:%s\nwb_clear:%s\nwb_md5:%s\nwb_scram:%s\n' "$SUPER" "$PASSWORD" \
  "$PASSWORD" "$PASSWORD" "$PASSWORD" "$PASSWORD" >"$DIR/passwords"
# PgBouncer's auth_file: "role" "password" (plain text: PgBouncer logs in
# upstream with it, md5 or SCRAM, and checks clients against it)
sed 's/^\([^:]*\):\(.*\)$/"\1" "\2"/' "$DIR/passwords" >"$DIR/userlist.txt"
chmod 600 "$DIR/passwords" "$DIR/userlist.txt"
AUTH=${WB_PROXY_AUTH:-}
case $AUTH in ""|trust|password|md5|scram-sha-256) ;; *)
  echo "with_proxy: WB_PROXY_AUTH=$AUTH: want trust, password, md5 or scram-sha-256" >&2; exit 2 ;;
esac
WB_PG_CA=""
if [ "${WB_PROXY_TLS:-0}" = 1 ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$DIR/server.key" -out "$DIR/server.crt" >/dev/null 2>&1 \
    || { echo "with_proxy: openssl could not make a certificate" >&2; exit 1; }
  chmod 600 "$DIR/server.key"
  WB_PG_CA="$DIR/server.crt"
fi

RUNAS=""
if [ $KIND = pgbouncer ] && [ "$(id -u)" = 0 ]; then
  RUNAS="setpriv --reuid postgres --regid postgres --init-groups"
fi

start_wirebuf() {
  set -- serve --upstream "host=$UP_HOST port=$UP_PORT password='$PASSWORD'" \
    --pool-mode transaction --pool-size "$POOL" --max-connections "$MAXC" \
    -h 127.0.0.1 -p "$PORT" -k "$DIR"
  [ -n "$AUTH" ] && set -- "$@" --auth "$AUTH" --passwords "$DIR/passwords"
  [ -n "$WB_PG_CA" ] && set -- "$@" --ssl-cert "$DIR/server.crt" --ssl-key "$DIR/server.key"
  # shellcheck disable=SC2086 # WB_PROXY_ARGS is a word list
  "$BIN" "$@" ${WB_PROXY_ARGS:-} >"$DIR/proxy.log" 2>&1 </dev/null &
  SPID=$!
}

start_pgbouncer() {
  case $AUTH in ""|trust) bauth=trust ;; password) bauth=plain ;; *) bauth=$AUTH ;; esac
  {
    echo "[databases]"
    echo "* = host=$UP_HOST port=$UP_PORT"
    echo "[pgbouncer]"
    echo "listen_addr = 127.0.0.1"
    echo "listen_port = $PORT"
    echo "unix_socket_dir = $DIR"
    echo "auth_type = $bauth"
    echo "auth_file = $DIR/userlist.txt"
    echo "pool_mode = transaction"
    echo "default_pool_size = $POOL"
    echo "min_pool_size = 0"
    echo "reserve_pool_size = 0"
    echo "max_client_conn = $MAXC"
    echo "admin_users = $SUPER"
    # pgjdbc, psycopg and others send these at startup
    echo "ignore_startup_parameters = extra_float_digits,options"
    echo "logfile = $DIR/proxy.log"
    echo "log_connections = 0"
    echo "log_disconnections = 0"
    if [ -n "$WB_PG_CA" ]; then
      echo "client_tls_sslmode = allow"
      echo "client_tls_cert_file = $DIR/server.crt"
      echo "client_tls_key_file = $DIR/server.key"
    fi
    [ -n "${WB_PROXY_ARGS:-}" ] && printf '%s\n' "$WB_PROXY_ARGS"
  } >"$DIR/pgbouncer.ini"
  : >"$DIR/proxy.log"
  [ -n "$RUNAS" ] && chown -R postgres "$DIR"
  # shellcheck disable=SC2086 # RUNAS is a word list
  $RUNAS "$BIN" "$DIR/pgbouncer.ini" >>"$DIR/proxy.out" 2>&1 </dev/null &
  SPID=$!
}

# the kernel's free port may be taken before the proxy binds it: try 3 ports
tries=0
while :; do
  tries=$((tries + 1))
  PORT=$(free_port)
  if [ $KIND = pgbouncer ]; then start_pgbouncer; else start_wirebuf; fi
  i=0
  ready=0
  while [ $i -lt 300 ]; do
    kill -0 "$SPID" 2>/dev/null || break
    if "$ISREADY" -q -h "$DIR" -p "$PORT" -U "$SUPER" -d postgres -t 1 >/dev/null 2>&1; then ready=1; break; fi
    sleep 0.1
    i=$((i + 1))
  done
  [ $ready = 1 ] && break
  [ -f "$DIR/proxy.out" ] && cat "$DIR/proxy.out" >>"$DIR/proxy.log"
  if kill -0 "$SPID" 2>/dev/null; then
    echo "with_proxy: the proxy ($KIND) is not ready after 30 s; its log:" >&2
    cat "$DIR/proxy.log" >&2
    exit 1
  fi
  wait "$SPID" 2>/dev/null || true
  SPID=""
  if [ $tries -lt 3 ] && grep -qi 'in use' "$DIR/proxy.log"; then continue; fi
  echo "with_proxy: the proxy ($KIND) did not start; its log:" >&2
  cat "$DIR/proxy.log" >&2
  exit 1
done

export WB_PG_TARGET=proxy WB_PG_HOST="$DIR" WB_PG_ADDR=127.0.0.1 WB_PG_PORT="$PORT" \
  WB_PG_DB=postgres WB_PG_SUPER="$SUPER" WB_PG_PASSWORD="$PASSWORD" WB_PG_BIN="$PGBIN" WB_PG_CA \
  WB_PROXY_KIND=$KIND WB_PROXY_PID="$SPID" WB_PROXY_LOG="$DIR/proxy.log" WB_PROXY_POOL_SIZE="$POOL" \
  WB_PROXY_PASSWORDS="$DIR/passwords" WB_PROXY_AUTH="$AUTH" \
  WB_UPSTREAM_HOST="$UP_HOST" WB_UPSTREAM_PORT="$UP_PORT" WB_UPSTREAM_DATA="$WB_PG_DATA"
unset WB_PG_DATA
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
  echo "with_proxy: the proxy died while the command ran; its log:" >&2
  tail -n 30 "$DIR/proxy.log" >&2
  [ $rc = 0 ] && rc=1
fi
exit $rc
