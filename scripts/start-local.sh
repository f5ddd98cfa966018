#!/usr/bin/env bash
# One command for a newcomer: an embedded MongoDB replica set (data under ./data/mongodb), the API and one worker.
# With MONGODB_URI set, that server is used instead and no local database is started.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$root"
ensure_dependencies

if [ -z "${MONGODB_URI:-}" ]; then
  # Start the embedded database, then run this script again inside it with MONGODB_URI set.
  ensure_mongod
  exec node scripts/embedded-mongo.mjs --data "$root/data/mongodb" --port "${MONGO_PORT:-27017}" -- bash "$0"
fi

pids=()
# pnpm does not pass signals on to the node processes it starts, so whole process trees are stopped (children first).
kill_tree() { local child; for child in $(pgrep -P "$1"); do kill_tree "$child"; done; kill "$1" 2>/dev/null || true; }
cleanup() { for pid in "${pids[@]}"; do kill_tree "$pid"; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

export STORAGE_DIR=${STORAGE_DIR:-$root/data/storage}
export ALLOW_PRIVATE_NETWORKS=${ALLOW_PRIVATE_NETWORKS:-false}
ensure_webhook_secret "$root/data"
# Memory as in production (infra/Dockerfile.*; why each setting: docs/benchmark.md#memory-settings): the minified bundle under
# plain node (tsx holds ~35 MB more per process), at most 2 glibc malloc arenas (libvips threads otherwise each
# grow and keep their own), 1 MB V8 semi-spaces and a 512 MB old space; the API also returns freed blocks of
# 32 KB and more to the system.
export MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-2} NODE_OPTIONS="--max-semi-space-size=1 --max-old-space-size=512 ${NODE_OPTIONS:-}"
node scripts/bundle/build.mjs api worker

MALLOC_MMAP_THRESHOLD_=${MALLOC_MMAP_THRESHOLD_:-32768} node apps/api/dist/bundle/main.js & pids+=($!)
# libuv's pool runs sharp's pipelines and file calls: a thread per compression slot (WORKER_CONCURRENCY, the
# cores by default, at least 2) and its usual 4. Node starts the pool before any code of ours runs, so it is set here.
UV_THREADPOOL_SIZE=${UV_THREADPOOL_SIZE:-$(( ${WORKER_CONCURRENCY:-$(( $(nproc) > 2 ? $(nproc) : 2 ))} + 4 ))} node apps/worker/dist/bundle/main.js & pids+=($!)
port=${PORT:-3000}
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
echo
echo "  Image processor running at ${PUBLIC_BASE_URL:-http://127.0.0.1:$port}  (API docs: /docs, MongoDB: $MONGODB_URI)"
echo "  Ctrl-C stops everything."
echo
wait -n "${pids[@]}"
