#!/usr/bin/env bash
# Installs what the client-compatibility test (test/clients.test.ts) generates and runs clients with, as a customer
# would get it: openapi-python-client (PyPI) and the generated client's runtime dependencies into a venv at
# .tools/openapi-python-client; oapi-codegen (Go module proxy) into .tools/bin, and the modules the Go driver
# (test/clients/go) builds with into Go's module cache, so the test itself needs no network.
# Pinned; does nothing when the pinned versions are already there.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
python_version=0.29.1
python_runtime=(python-dateutil==2.9.0.post0) # httpx and attrs come with the generator
go_version=v2.4.1

venv="$root/.tools/openapi-python-client"
stamp="$venv/.installed"
if [ "$(cat "$stamp" 2>/dev/null)" != "$python_version ${python_runtime[*]}" ]; then
  command -v python3 >/dev/null || { echo "install-client-generators: python3 (3.10+) is required" >&2; exit 1; }
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "openapi-python-client==$python_version" "${python_runtime[@]}"
  printf '%s' "$python_version ${python_runtime[*]}" >"$stamp"
  echo "install-client-generators: $("$venv/bin/openapi-python-client" --version)"
fi

command -v go >/dev/null || { echo "install-client-generators: Go is required (https://go.dev/dl/)" >&2; exit 1; }
bin="$root/.tools/bin/oapi-codegen"
if ! "$bin" --version 2>/dev/null | grep -qx "$go_version"; then
  mkdir -p "$root/.tools/bin"
  GOBIN="$root/.tools/bin" GOFLAGS=-mod=mod go install "github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@$go_version"
  echo "install-client-generators: oapi-codegen $("$bin" --version | tail -1)"
fi
# Quiet and quick when the modules are already in the cache.
(cd "$root/test/clients/go" && GOFLAGS=-mod=mod go mod download)
