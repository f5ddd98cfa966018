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

# mongod for the embedded database: the pinned binary on linux-x64 (installed on first use), otherwise the
# official one that mongodb-memory-server downloads.
ensure_mongod() {
  bash "$root/scripts/install-mongod.sh"
  if [ -x "$root/.tools/mongodb/bin/mongod" ]; then
    export MONGOMS_SYSTEM_BINARY="$root/.tools/mongodb/bin/mongod" MONGOMS_VERSION=6.0.5
  fi
}

# The shared image corpus lives in ../shared beside the checkout. A clone made elsewhere (e.g. a CI check in
# /tmp) finds it beside the checkout it was cloned from. IMGPROC_CORPUS_DIR, when set, wins.
if [ -z "${IMGPROC_CORPUS_DIR:-}" ]; then
  for candidate in "$root/../shared/corpus/images" "$(git -C "$root" remote get-url origin 2>/dev/null)/../shared/corpus/images"; do
    if [ -d "$candidate" ]; then export IMGPROC_CORPUS_DIR=$(cd "$candidate" && pwd); break; fi
  done
fi

# WEBHOOK_SECRET for `npm start`: made once (random, readable by the owner only) and kept in DIR/webhook-secret,
# so signatures stay valid across restarts and no public default is ever used. An exported one wins.
ensure_webhook_secret() {
  local file="$1/webhook-secret"
  if [ -z "${WEBHOOK_SECRET:-}" ]; then
    if [ ! -s "$file" ]; then
      mkdir -p "$1"
      (umask 077 && node -e 'process.stdout.write(require("crypto").randomBytes(32).toString("hex"))' >"$file.tmp" && mv "$file.tmp" "$file")
    fi
    WEBHOOK_SECRET=$(cat "$file")
  fi
  export WEBHOOK_SECRET
}
