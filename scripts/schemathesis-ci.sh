#!/usr/bin/env bash
# CI step: a bounded schemathesis pass (zero 5xx, zero response-schema violations) against a real API process.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
ensure_dependencies
exec bash scripts/with-mongo.sh node --conditions=imgproc-source --import tsx test/schemathesis/run.ts
