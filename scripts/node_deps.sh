#!/bin/sh
# Install the npm packages of the node client tests (tests/node: pg,
# pg-cursor, pg-copy-streams, postgres) exactly as package-lock.json pins
# them, with `npm ci`, into tests/node/node_modules (git-ignored). Does
# nothing when they are already installed from the same lock file. Without
# node/npm or the registry it says so and exits 0: the node tests then skip
# (ctest exit 77) with a message.
set -u
cd "$(dirname "$0")/../tests/node"
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
  echo "wirebuf: node/npm not installed: the node client tests will be skipped" >&2
  exit 0
fi
stamp=node_modules/.wirebuf-lock
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
  exit 0
fi
if npm ci --no-audit --no-fund --loglevel=error >/dev/null 2>npm-ci.log; then
  cp package-lock.json "$stamp"
  rm -f npm-ci.log
else
  echo "wirebuf: npm ci failed in tests/node (the node client tests will be skipped):" >&2
  tail -n 5 npm-ci.log >&2
  rm -f npm-ci.log
fi
exit 0
