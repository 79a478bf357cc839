SHELL := /bin/bash
# The two commands. Both install what is missing first (scripts/tools.sh).
.PHONY: dev test bench

# Runs the demo shop, the widget, the edge-worker and the WeChat Pay simulator locally.
dev:
	@bash scripts/tools.sh
	@. scripts/env.sh && node scripts/dev.mjs

# Runs every test: cargo (native), wasm-bindgen in headless Chromium, end to end under wrangler dev.
test:
	@bash scripts/test.sh

# Speed and size, side by side with a peer, as one table (scripts/bench.mjs). BENCH_QUICK=1: short.
bench:
	@bash scripts/tools.sh --browser
	@. scripts/env.sh && node scripts/bench.mjs
