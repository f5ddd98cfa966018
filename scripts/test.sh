#!/usr/bin/env bash
# Runs every test: type-check, then tap (unit tests beside the code, integration tests in test/).
# Uses MONGODB_URI when set; otherwise starts a throwaway FerretDB for the run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
bash scripts/install-ssimulacra2.sh # the quality tests compare against the SSIMULACRA2 reference CLI
ensure_dependencies
pnpm_cmd exec tsc -b
pnpm_cmd exec tsc -p test/tsconfig.json
# tap compiles its plugin set once per install; ours drops the ts-node plugin (tests run through tsx instead).
pnpm_cmd exec tap build >/dev/null
exec bash scripts/with-mongo.sh bash -c 'echo "tests use MongoDB at $MONGODB_URI"; '"$(printf '%q ' "$root/node_modules/.bin/tap" "$@")"
