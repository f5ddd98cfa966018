#!/usr/bin/env bash
# Installs the SSIMULACRA2 reference CLI (ssimulacra2_rs) into .tools/bin; the quality tests compare our
# TypeScript port against it and measure the auto floors with it. Idempotent: does nothing when present.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="$root/.tools/bin/ssimulacra2_rs"
if [[ -x "$bin" ]]; then
  exit 0
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "install-ssimulacra2: cargo is missing; install Rust (https://rustup.rs) so the quality tests can" >&2
  echo "build the reference SSIMULACRA2 implementation (ssimulacra2_rs from crates.io)." >&2
  exit 1
fi
echo "install-ssimulacra2: building ssimulacra2_rs into $root/.tools (a few minutes on first run)" >&2
# --no-default-features drops the video (vapoursynth/ffmpeg) inputs; only the image comparison is needed.
cargo install ssimulacra2_rs --no-default-features --locked --root "$root/.tools"
