#!/usr/bin/env bash
# Builds one Worker crate (edge-worker or platform-sandbox) into <crate>/build with worker-build,
# its three helper tools pointed at local binaries so nothing is downloaded.
# wrangler runs this as its [build] command; WXC_PREBUILT=1 (set by scripts/stack.mjs after it
# has built everything once) makes it a no-op.
set -euo pipefail
. "$(dirname "$0")/env.sh"
crate="$1"
if [ "${WXC_PREBUILT:-}" = 1 ] && [ -f "$WXC_ROOT/$crate/build/index.js" ]; then
  exit 0
fi
cd "$WXC_ROOT/$crate"
export WASM_BINDGEN_BIN="$WXC_TOOLS/cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$WXC_ROOT/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$WXC_ROOT/node_modules/.bin/esbuild"
exec worker-build --release
