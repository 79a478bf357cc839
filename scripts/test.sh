#!/usr/bin/env bash
# `make test`: every test. Installs what is missing first (including Chromium, as root).
#   1. formatting and clippy (-D warnings) on every crate, for the targets it builds for
#   2. cargo unit tests, natively (pay-core: official vectors V1–V7, V11, V12; widget views;
#      edge-worker: the route table against the OpenAPI document, query parsing, prepay reuse,
#      event names, configuration; back-office: its settings are the edge's; worker-kit),
#      then a short bounded libFuzzer pass over each of pay-core's fuzz targets
#   3. in headless Chromium (wasm-bindgen-test + chromedriver): pay-core's Web Crypto backend
#      against the same vectors, and the widget's rendering
#   4. the widget's release build and size report (fails above 45 KB gzip), and its TypeScript
#      declarations compiled against a usage example
#   5. oracle cross-check: random cases byte for byte against PyPI wechatpayv3 and wechatpy
#   6. end to end: the Workers under `wrangler dev` (simulator; edge-worker with the back office), the demo shop and merchant pages driven in
#      headless Chromium (per scene with its browser's user agent); the adversarial suite:
#      schemathesis on the OpenAPI document, abuse and access, crashes mid-flight, chaos
#   7. the benchmarks in quick mode (`make bench` with BENCH_QUICK=1): they must run; figures are
#      printed, never asserted
set -euo pipefail
here="$(dirname "$0")"
bash "$here/tools.sh" --browser
. "$here/env.sh"
cd "$WXC_ROOT"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "format and lints"
cargo fmt --all --check
cargo fmt --manifest-path pay-core/fuzz/Cargo.toml --check
cargo clippy -p pay-core -p worker-kit -p checkout-service -p edge-worker -p back-office --all-targets --quiet -- -D warnings
cargo clippy -p worker-kit -p checkout-service -p edge-worker -p back-office -p platform-sandbox -p checkout-wasm --target wasm32-unknown-unknown --all-targets --quiet -- -D warnings
cargo clippy -p edge-worker --features bench --target wasm32-unknown-unknown --quiet -- -D warnings
cargo clippy -p edge-worker --features test-routes --target wasm32-unknown-unknown --quiet -- -D warnings
cargo clippy -p pay-core --features webcrypto --target wasm32-unknown-unknown --lib --test webcrypto --quiet -- -D warnings

step "cargo unit tests (native)"
cargo test -p pay-core -p checkout-wasm -p worker-kit -p checkout-service -p edge-worker -p back-office
python3 tests/schema/books_schema_matches_d1.py

step "fuzzing: a short bounded pass of each target (scripts/fuzz.sh --long is the 10M run)"
FUZZ_SECS="${FUZZ_SECS:-20}" bash scripts/fuzz.sh

step "in headless Chromium (wasm-bindgen-test): Web Crypto backend vectors, widget"
export CHROMEDRIVER="$(command -v chromedriver)"
cargo test -p pay-core --target wasm32-unknown-unknown --test webcrypto
cargo test -p checkout-wasm --target wasm32-unknown-unknown --test web

step "widget: release build, size report (budget 45 KB gzip), TypeScript declarations"
bash scripts/build-widget.sh
node_modules/.bin/tsc -p tests/types/tsconfig.json
echo "[widget types] web/checkout.d.ts compiles against tests/types/usage.ts"

# A Python virtualenv in the tool cache with `requirements` installed (again when they change).
python_venv() {
  local venv="$WXC_TOOLS/$1" requirements="$2"
  if [ ! -f "$venv/.installed" ] || [ "$requirements" -nt "$venv/.installed" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    touch "$venv/.installed"
  fi
}

step "oracle cross-check against wechatpayv3 and wechatpy (PyPI)"
python_venv oracle-venv tests/oracle/requirements.txt
cargo build -p pay-core --example wire --quiet
"$WXC_TOOLS/oracle-venv/bin/python" tests/oracle/cross_check.py

step "end to end: wrangler dev (simulator + edge-worker) and headless Chromium; API fuzzing, abuse, crashes, chaos"
python_venv schemathesis-venv tests/api/requirements.txt
node "$WXC_ROOT/scripts/devkeys.mjs"
node --test --test-concurrency=1 --test-reporter=spec --test-timeout=900000 tests/e2e/*.test.mjs

step "benchmarks, quick mode (figures printed, not asserted; \`make bench\` for the real run)"
BENCH_QUICK=1 node scripts/bench.mjs
