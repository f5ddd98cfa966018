#!/usr/bin/env bash
# Installs FerretDB v1 (MongoDB wire protocol over SQLite) into .tools/bin from the Go module proxy.
#
# Why not plain `go install …@v1.24.x`: the proxy refuses the module's version list (which `go install` reads to
# check deprecation) and v1.24.0/1, so we build v1.24.2 from a throwaway module. FerretDB also panics at start-up
# unless build/version/version.txt exists (it is generated in FerretDB's own CI), so we build from a copy of the
# module source with that file written.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=${FERRETDB_VERSION:-v1.24.2}
bin="$root/.tools/bin/ferretdb"

if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "${version}"; then
  exit 0
fi
command -v go >/dev/null || { echo "install-ferretdb: Go is required (https://go.dev/dl/)" >&2; exit 1; }

work=$(mktemp -d)
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cd "$work"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
go mod init ferretdb-build >/dev/null 2>&1
go mod download -x "github.com/FerretDB/FerretDB@${version}" 2>/dev/null || go mod download "github.com/FerretDB/FerretDB@${version}"
src=$(go mod download -json "github.com/FerretDB/FerretDB@${version}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
cp -r "$src" ferretdb-src && chmod -R u+w ferretdb-src
printf '%s' "${version}" > ferretdb-src/build/version/version.txt
printf 'unknown' > ferretdb-src/build/version/commit.txt
printf 'unknown' > ferretdb-src/build/version/branch.txt
printf 'source' > ferretdb-src/build/version/package.txt
cat > go.mod <<MOD
module ferretdb-build

go 1.22

require github.com/FerretDB/FerretDB ${version}

replace github.com/FerretDB/FerretDB => ./ferretdb-src
MOD
printf '//go:build tools\n\npackage tools\n\nimport _ "github.com/FerretDB/FerretDB/cmd/ferretdb"\n' > tools.go
go mod tidy >/dev/null 2>&1 || go mod tidy
mkdir -p "$(dirname "$bin")"
go build -o "$bin" github.com/FerretDB/FerretDB/cmd/ferretdb
echo "install-ferretdb: $("$bin" --version 2>&1 | head -1)"
