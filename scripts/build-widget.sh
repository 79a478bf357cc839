#!/usr/bin/env bash
# Builds the checkout widget into web/: checkout.wasm (release, wasm-opt -Oz, short import and
# export names: scripts/minify-wasm-names.mjs), checkout.js (the
# loader bundled with wasm-bindgen's glue, minified by esbuild) and checkout.css (minified);
# wrangler runs it in its [build] command (WXC_PREBUILT=1 makes it a no-op, as for the Workers);
# then prints the size report (scripts/widget-size.mjs), which fails above the 45 KB budget.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$WXC_ROOT"
if [ "${WXC_PREBUILT:-}" = 1 ] && [ -f web/checkout.wasm ]; then
  exit 0
fi
cargo build -p checkout-wasm --target wasm32-unknown-unknown --release --quiet
wasm-bindgen --target web --no-typescript --out-dir checkout-wasm/pkg target/wasm32-unknown-unknown/release/checkout_wasm.wasm
wasm-opt -Oz --strip-debug --strip-producers --enable-bulk-memory --enable-reference-types --enable-multivalue \
  --enable-sign-ext --enable-nontrapping-float-to-int --enable-mutable-globals \
  checkout-wasm/pkg/checkout_wasm_bg.wasm -o checkout-wasm/pkg/checkout_wasm_opt.wasm
node scripts/minify-wasm-names.mjs checkout-wasm/pkg/checkout_wasm_opt.wasm checkout-wasm/pkg/checkout_wasm.js web/checkout.wasm
esbuild="$WXC_ROOT/node_modules/.bin/esbuild"
"$esbuild" checkout-wasm/js/checkout.js --bundle --format=esm --minify --target=es2022 --log-level=warning --outfile=web/checkout.js
"$esbuild" checkout-wasm/js/checkout.css --minify --log-level=warning --outfile=web/checkout.css
node scripts/widget-size.mjs
