#!/usr/bin/env bash
# Installs versitygw (an Apache-2.0 S3 gateway) into .tools/bin from the Go module proxy: the S3 server the
# storage tests start. Idempotent: does nothing when the pinned version is already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=${VERSITYGW_VERSION:-v1.8.0}
bin="$root/.tools/bin/versitygw"
stamp="$root/.tools/bin/.versitygw-version"

if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
command -v go >/dev/null || { echo "install-versitygw: Go is required (https://go.dev/dl/)" >&2; exit 1; }

mkdir -p "$root/.tools/bin"
GOBIN="$root/.tools/bin" GOFLAGS=-mod=mod go install "github.com/versity/versitygw/cmd/versitygw@${version}"
printf '%s' "$version" > "$stamp"
echo "install-versitygw: $("$bin" --version 2>&1 | head -1)"
