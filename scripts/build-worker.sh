#!/usr/bin/env bash
# Builds one Worker crate (edge-worker or platform-sandbox) into <crate>/build with worker-build,
# its three helper tools pointed at local binaries so nothing is downloaded. With `--bench`
# (edge-worker only): the bench build, with its `/bench/…` routes, into <crate>/build-bench.
# wrangler runs this as its [build] command; WXC_PREBUILT=1 (set by scripts/stack.mjs after it
# has built everything once) makes it a no-op.
set -euo pipefail
. "$(dirname "$0")/env.sh"
crate="$1"
if [ "${2:-}" = --bench ]; then
  out=build-bench
  extra=(. --features bench)
else
  out=build
  extra=()
fi
if [ "${WXC_PREBUILT:-}" = 1 ] && [ -f "$WXC_ROOT/$crate/$out/index.js" ]; then
  exit 0
fi
cd "$WXC_ROOT/$crate"
export WASM_BINDGEN_BIN="$WXC_TOOLS/cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$WXC_ROOT/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$WXC_ROOT/node_modules/.bin/esbuild"
worker-build --release --out-dir "$out" "${extra[@]}"
# worker-build's wasm-opt pass keeps the name sections (about 120 KB) and optimizes for speed:
# the bundle every isolate loads is stripped and optimized for size once more.
"$WASM_OPT_BIN" -Oz --strip-debug --strip-producers --enable-bulk-memory --enable-reference-types \
  --enable-multivalue --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals \
  --enable-exception-handling "$out/index_bg.wasm" -o "$out/index_bg.wasm"
