#!/usr/bin/env bash
# Runs a command with MONGODB_URI pointing at MongoDB: the server given in MONGODB_URI, or a throwaway embedded
# single-node replica set started for the command and stopped after it.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
ensure_dependencies
ensure_mongod # tests also start their own mongod (standalone, outage) through the same binary

if [ -n "${MONGODB_URI:-}" ]; then exec "$@"; fi
exec node scripts/embedded-mongo.mjs -- "$@"
