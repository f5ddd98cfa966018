#!/usr/bin/env bash
# Runs every test, installing first whatever they need: dependencies, mongod, Chromium for the page test.
# Type-check, then tap (unit tests beside the code, integration tests in test/) against MongoDB: MONGODB_URI
# when set, otherwise an embedded single-node replica set started for the run.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
bash scripts/install-ssimulacra2.sh # the quality tests compare against the SSIMULACRA2 reference CLI
ensure_dependencies
ensure_mongod
bash scripts/install-system-packages.sh
bash scripts/install-versitygw.sh # the S3 server the storage tests start
bash scripts/install-client-generators.sh # the client-compatibility test generates Python and Go clients
# The metric's WebAssembly kernels: install builds them, but an install is skipped when up to date.
pnpm_cmd --filter @imgproc/ssimulacra2 run build:wasm
pnpm_cmd exec tsc -b
pnpm_cmd exec tsc -p test/tsconfig.json
# tap compiles its plugin set once per install; ours drops the ts-node plugin (tests run through tsx instead).
pnpm_cmd exec tap build >/dev/null
exec bash scripts/with-mongo.sh bash -c 'echo "tests use MongoDB at $MONGODB_URI"; '"$(printf '%q ' "$root/node_modules/.bin/tap" "$@")"
