#!/usr/bin/env bash
# schemathesis.sh BASE_URL: a bounded schemathesis pass against a running API's /openapi.json. It starts nothing:
# give it an API with no worker (uploads then stay Pending, so no generated image or webhook URL is ever fetched).
# Fails on any 5xx or any response that does not match the documented schema. Installs schemathesis (PyPI) into
# .tools/schemathesis on first use. Bounds: SCHEMATHESIS_MAX_EXAMPLES per operation (default 50) and
# SCHEMATHESIS_MAX_TIME seconds in all (default 180); SCHEMATHESIS_SEED makes a run repeatable.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
base=${1:?usage: scripts/schemathesis.sh BASE_URL (e.g. http://127.0.0.1:3000)}
base=${base%/}
venv="$root/.tools/schemathesis"
version=4.32.5
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$version"
fi
# Its caches and reports stay with the tool, not in the checkout.
cd "$venv"
exec "$venv/bin/st" run "$base/openapi.json" --url "$base" \
  --checks not_a_server_error,response_schema_conformance \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-50}" --max-time "${SCHEMATHESIS_MAX_TIME:-180}" \
  ${SCHEMATHESIS_SEED:+--seed "$SCHEMATHESIS_SEED"} \
  --workers 1 --request-timeout 15 --generation-database none --no-color --warnings off
