#!/usr/bin/env bash
# Builds the checkout widget into web/pkg: release wasm, wasm-bindgen's ES module glue, wasm-opt -Oz.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$WXC_ROOT"
cargo build -p checkout-wasm --target wasm32-unknown-unknown --release --quiet
wasm-bindgen --target web --no-typescript --out-dir web/pkg target/wasm32-unknown-unknown/release/checkout_wasm.wasm
wasm-opt -Oz --enable-bulk-memory --enable-reference-types --enable-multivalue --enable-sign-ext \
  --enable-nontrapping-float-to-int --enable-mutable-globals \
  web/pkg/checkout_wasm_bg.wasm -o web/pkg/checkout_wasm_bg.wasm
echo "[widget] web/pkg: $(wc -c < web/pkg/checkout_wasm_bg.wasm) B wasm ($(gzip -9c web/pkg/checkout_wasm_bg.wasm | wc -c) B gzip), $(wc -c < web/pkg/checkout_wasm.js) B JS"
