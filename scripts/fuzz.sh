#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets/*.rs) for SECONDS each (default 600), not in CI.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Each target starts from its committed seed corpus (fuzz/seeds/<target>/) plus what earlier runs
# found (fuzz/corpus/<target>/, not committed). A crash stops that target: libFuzzer writes the
# input to fuzz/artifacts/<target>/; reproduce it with `cargo +nightly fuzz run <target> FILE`,
# fix the bug and add the input as a regression test in the normal suite.
# Knobs: PARALLEL (targets run at once, default 1), NICE (niceness, default 10).
# Needs the nightly toolchain and cargo-fuzz; installs them when missing (rustup, crates.io).
# Output: one line per target with its executions; exit status 1 when a target failed.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-600}
[ $# -gt 0 ] && shift
PARALLEL=${PARALLEL:-1}
NICE=${NICE:-10}
[[ $SECONDS_EACH =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: SECONDS must be a positive integer, got '$SECONDS_EACH'" >&2; exit 2; }

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing the nightly toolchain (cargo fuzz needs it)" >&2
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz.sh: installing cargo-fuzz" >&2
  cargo install cargo-fuzz --locked
fi

if [ $# -gt 0 ]; then
  targets=("$@")
else
  mapfile -t targets < <(cd fuzz && cargo +nightly fuzz list)
fi
echo "fuzz.sh: building ${#targets[@]} targets (and reaper, which reaper_argv runs)" >&2
nice -n "$NICE" cargo build --release --locked -q -p reaper >&2
export REAPER_BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/reaper
(cd fuzz && nice -n "$NICE" cargo +nightly fuzz build -O >&2)

mkdir -p fuzz/logs
run_one() {
  local t=$1
  mkdir -p "fuzz/corpus/$t" "fuzz/seeds/$t" "fuzz/artifacts/$t"
  local log="fuzz/logs/$t.log"
  if (cd fuzz && nice -n "$NICE" cargo +nightly fuzz run -O "$t" "corpus/$t" "seeds/$t" -- \
      -max_total_time="$SECONDS_EACH" -print_final_stats=1 -rss_limit_mb=2048 -timeout=10) >"$log" 2>&1; then
    local execs
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "$t: ok, ${execs:-?} executions in ${SECONDS_EACH}s (log $log)"
  else
    echo "$t: FAILED (see $log and fuzz/artifacts/$t/)"
    return 1
  fi
}

status=0
pids=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  if [ "${#pids[@]}" -ge "$PARALLEL" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || status=1; done
exit $status
