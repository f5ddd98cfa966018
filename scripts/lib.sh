# Shared by the start, test and CI scripts. Source it; do not run it.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# pnpm from PATH, else the version pinned in package.json through npx (a fresh machine has only node and npm).
pnpm_cmd() {
  if command -v pnpm >/dev/null 2>&1; then pnpm "$@"; else npx --yes "pnpm@10.21.0" "$@"; fi
}

ensure_dependencies() {
  if [ ! -d "$root/node_modules/.pnpm" ] || [ "$root/pnpm-lock.yaml" -nt "$root/node_modules/.modules.yaml" ]; then
    (cd "$root" && pnpm_cmd install --frozen-lockfile)
  fi
}

# The shared image corpus lives in ../shared beside the checkout. A clone made elsewhere (e.g. a CI check in
# /tmp) finds it beside the checkout it was cloned from. IMGPROC_CORPUS_DIR, when set, wins.
if [ -z "${IMGPROC_CORPUS_DIR:-}" ]; then
  for candidate in "$root/../shared/corpus/images" "$(git -C "$root" remote get-url origin 2>/dev/null)/../shared/corpus/images"; do
    if [ -d "$candidate" ]; then export IMGPROC_CORPUS_DIR=$(cd "$candidate" && pwd); break; fi
  done
fi

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

# start_ferretdb DATA_DIR PORT: starts FerretDB (SQLite backend) in the background, waits until it answers,
# and sets FERRETDB_PID. Fails loudly: integration tests are never skipped for want of a database.
start_ferretdb() {
  local dir=$1 port=$2
  mkdir -p "$dir"
  "$root/.tools/bin/ferretdb" --handler=sqlite --sqlite-url="file:$dir/" --state-dir="$dir" \
    --listen-addr="127.0.0.1:$port" --debug-addr=- --telemetry=disable --log-level=warn >"$dir/ferretdb.log" 2>&1 &
  FERRETDB_PID=$!
  for _ in $(seq 1 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if ! kill -0 "$FERRETDB_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "FerretDB did not start on port $port; its log:" >&2
  cat "$dir/ferretdb.log" >&2
  return 1
}
