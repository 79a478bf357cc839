#!/usr/bin/env bash
# `make test`: every test. Installs what is missing first (including Chromium, as root).
#   1. formatting and clippy (-D warnings) on every crate, for the targets it builds for
#   2. cargo unit tests, natively (pay-core vectors, widget views)
#   3. wasm-bindgen tests of the widget in headless Chromium (chromedriver)
#   4. end to end: both Workers under `wrangler dev`, the demo shop driven in headless Chromium
set -euo pipefail
here="$(dirname "$0")"
bash "$here/tools.sh" --browser
. "$here/env.sh"
cd "$WXC_ROOT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "format and lints"
cargo fmt --all --check
cargo clippy -p pay-core --all-targets --quiet -- -D warnings
cargo clippy -p edge-worker -p platform-sandbox -p checkout-wasm --target wasm32-unknown-unknown --all-targets --quiet -- -D warnings

step "cargo unit tests (native)"
cargo test -p pay-core -p checkout-wasm

step "widget tests in headless Chromium (wasm-bindgen-test)"
CHROMEDRIVER="$(command -v chromedriver)" cargo test -p checkout-wasm --target wasm32-unknown-unknown --test web

step "end to end: wrangler dev (simulator + edge-worker) and headless Chromium"
node "$WXC_ROOT/scripts/devkeys.mjs"
node --test --test-reporter=spec --test-timeout=600000 tests/e2e/*.test.mjs
