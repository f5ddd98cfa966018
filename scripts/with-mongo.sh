#!/usr/bin/env bash
# Runs a command with MONGODB_URI pointing at a MongoDB-protocol server: the one given, or a throwaway FerretDB
# started for the command and stopped after it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
ensure_dependencies

if [ -z "${MONGODB_URI:-}" ]; then
  bash scripts/install-ferretdb.sh
  dbdir=$(mktemp -d)
  port=$(free_port)
  start_ferretdb "$dbdir" "$port"
  trap 'kill $FERRETDB_PID 2>/dev/null; rm -rf "$dbdir"' EXIT
  export MONGODB_URI="mongodb://127.0.0.1:$port/"
  export FERRETDB_PID # the benchmark reports the database's CPU time too
fi
export FERRETDB_BIN=${FERRETDB_BIN:-$root/.tools/bin/ferretdb}
"$@"
