#!/usr/bin/env bash
# libFuzzer over pay-core's parsers and verifiers (pay-core/fuzz, `cargo fuzz`).
#   scripts/fuzz.sh            a short bounded pass of each target (the test command runs this)
#   scripts/fuzz.sh --long     10 million executions of each target (the documented local run)
#   FUZZ_SECS=N / FUZZ_RUNS=N  override the bound of a pass; FUZZ_TARGETS="bill ..." picks targets
# Built with debug assertions (integer overflow panics) and without AddressSanitizer: pay-core
# forbids unsafe code, so ASan would only slow the search down ~10x. A crash leaves its input in
# pay-core/fuzz/artifacts/<target>/ and fails the pass; make it a unit test beside the code it broke and
# keep the input in the corpus as regression-… (each pass runs it again).
set -euo pipefail
. "$(dirname "$0")/env.sh"
cd "$WXC_ROOT/pay-core/fuzz"
# cargo fuzz passes -Z flags to rustc; the stable toolchain accepts them with RUSTC_BOOTSTRAP.
export RUSTC_BOOTSTRAP=1
targets="${FUZZ_TARGETS:-v3_notification v2_notification bill merchant_json}"
long=false
[ "${1:-}" = "--long" ] && long=true
if $long; then
  bound=(-runs="${FUZZ_RUNS:-10000000}")
else
  bound=(-max_total_time="${FUZZ_SECS:-20}")
fi
cargo fuzz build -O -a -s none >/dev/null 2>&1 || cargo fuzz build -O -a -s none
for target in $targets; do
  log="$WXC_ROOT/tmp/fuzz-$target.log"
  started=$(date +%s)
  # The long run grows the committed corpus (minimize it after: cargo fuzz cmin); a short pass
  # reads it and writes what it finds to a scratch folder, leaving the checkout as it was.
  if $long; then
    corpora=("corpus/$target")
  else
    scratch="$WXC_ROOT/tmp/fuzz-corpus/$target"
    mkdir -p "$scratch"
    corpora=("$scratch" "corpus/$target")
  fi
  # -timeout: an input taking 10 s is a hang; -rss_limit_mb/-malloc_limit_mb: unbounded allocation.
  if ! cargo fuzz run -O -a -s none "$target" "${corpora[@]}" -- "${bound[@]}" -timeout=10 -rss_limit_mb=1024 \
      -malloc_limit_mb=256 -print_final_stats=1 >"$log" 2>&1; then
    tail -40 "$log"
    echo "[fuzz] $target FAILED: the input is in pay-core/fuzz/artifacts/$target/" >&2
    exit 1
  fi
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
  corpus=$(ls "corpus/$target" | wc -l)
  echo "[fuzz] $target: $runs executions in $(( $(date +%s) - started )) s, no crash, hang or oversized allocation (corpus $corpus inputs)"
  total=$(( ${total:-0} + ${runs//\?/0} ))
done
echo "[fuzz] $(wc -w <<<"$targets") targets, $total executions in all, no crash, hang or oversized allocation (the 10M-per-target run: pay-core/fuzz/README.md)"
