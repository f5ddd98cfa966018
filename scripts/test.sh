#!/usr/bin/env bash
# Runs every test: type-check, then tap (unit tests beside the code, integration tests in test/).
# Uses MONGODB_URI when set; otherwise starts a throwaway FerretDB for the run.
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
fi
echo "tests use MongoDB at $MONGODB_URI"

pnpm_cmd exec tsc -b
# tap compiles its plugin set once per install; ours drops the ts-node plugin (tests run through tsx instead).
pnpm_cmd exec tap build >/dev/null
pnpm_cmd exec tap "$@"
