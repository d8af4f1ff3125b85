#!/bin/sh
# Run a node client test (tests/node/*.js); skip (exit 77) without node.
command -v node >/dev/null 2>&1 || { echo "SKIP: node not installed (apt-get install nodejs npm)"; exit 77; }
exec node "$@"
