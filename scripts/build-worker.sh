#!/usr/bin/env bash
# Builds one Worker crate (edge-worker, back-office or platform-sandbox) into <crate>/build with
# worker-build, its three helper tools pointed at local binaries so nothing is downloaded.
# edge-worker only: `--bench`, the bench build with its `/bench/…` routes, into
# <crate>/build-bench; `--test`, the end-to-end tests' build with its `/_test/…` routes, into
# <crate>/build-test. A build newer than every source it is made from is kept as it is. wrangler
# runs this as its [build] command; WXC_PREBUILT=1 (set by scripts/stack.mjs after it has built
# everything once) makes it a no-op.
set -euo pipefail
. "$(dirname "$0")/env.sh"
crate="$1"
case "${2:-}" in
  --bench) out=build-bench; extra=(. --features bench) ;;
  --test) out=build-test; extra=(. --features test-routes) ;;
  *) out=build; extra=() ;;
esac
if [ "${WXC_PREBUILT:-}" = 1 ] && [ -f "$WXC_ROOT/$crate/$out/index.js" ]; then
  exit 0
fi
cd "$WXC_ROOT/$crate"
built="$out/index_bg.wasm"
# The edge-worker and the back office are built on checkout-service: its sources count too.
layers=(); [ "$crate" != platform-sandbox ] && layers=(../checkout-service/src ../checkout-service/Cargo.toml)
if [ -f "$built" ] && [ -f "$out/index.js" ] && [ -z "$(find src "${layers[@]}" ../pay-core/src ../worker-kit/src Cargo.toml ../pay-core/Cargo.toml ../worker-kit/Cargo.toml ../Cargo.toml ../Cargo.lock \
    ../scripts/build-worker.sh -newer "$built" -print -quit)" ]; then
  echo "[build-worker] $crate/$out is newer than its sources: kept"
  exit 0
fi
export WASM_BINDGEN_BIN="$WXC_TOOLS/cargo/bin/wasm-bindgen"
export WASM_OPT_BIN="$WXC_ROOT/node_modules/.bin/wasm-opt"
export ESBUILD_BIN="$WXC_ROOT/node_modules/.bin/esbuild"
worker-build --release --out-dir "$out" "${extra[@]}"
# worker-build's wasm-opt pass keeps the name sections (about 120 KB) and optimizes for speed:
# the bundle every isolate loads is stripped and optimized for size once more.
"$WASM_OPT_BIN" -Oz --strip-debug --strip-producers --enable-bulk-memory --enable-reference-types \
  --enable-multivalue --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals \
  --enable-exception-handling "$out/index_bg.wasm" -o "$out/index_bg.wasm"
