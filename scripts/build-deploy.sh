#!/usr/bin/env bash
# build-deploy.sh APP OUT: type-checks the workspace and writes a self-contained production copy of apps/APP
# (its bundle, dist/bundle/main.js, + production dependencies only) to OUT. The Dockerfiles run exactly this;
# so does a test.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
app=$1 out=$2
cd "$root"
pnpm_cmd exec tsc -b "apps/$app"
node scripts/bundle/build.mjs "$app"
rm -rf "$out"
pnpm_cmd --filter "@imgproc/$app" deploy --prod --legacy "$out" >/dev/null
