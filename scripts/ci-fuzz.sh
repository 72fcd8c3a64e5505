#!/usr/bin/env bash
# Fuzzes every cargo-fuzz target in fuzz/ for a bounded time, starting from the committed corpus
# in fuzz/corpus/<target>/, and fails on any crash, panic, leak, timeout or out-of-memory.
#
#   scripts/ci-fuzz.sh                # every target, 60 s each
#   FUZZ_SECONDS=10 scripts/ci-fuzz.sh jwt_decode
#
# Needs a nightly toolchain (installed here if missing) and cargo-fuzz (likewise). New inputs
# found during the run go to a scratch directory, so the committed corpus is left as it is; a
# crashing input is kept in fuzz/artifacts/<target>/ and printed, to turn into a regression test.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${FUZZ_SECONDS:-60}"
export CARGO_TERM_COLOR=never

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
    echo "== installing the nightly toolchain"
    rustup toolchain install nightly --profile minimal
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

echo "== building ${#targets[@]} fuzz targets"
cargo +nightly fuzz build

scratch="$(mktemp -d)"
# The targets keep the services' journals in /dev/shm/tixgo-fuzz-<target>-<pid> (or the temp
# dir); libFuzzer never returns to remove them, so this does, after each target.
sweep() { rm -rf /dev/shm/tixgo-fuzz-* "${TMPDIR:-/tmp}"/tixgo-fuzz-*; }
trap 'rm -rf "$scratch"; sweep' EXIT

passed=0
failed=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "$scratch/$target"
    log="$scratch/$target.log"
    seeds=$(find "corpus/$target" -type f | wc -l)
    echo "== $target: ${seconds} s from ${seeds} corpus inputs"
    if cargo +nightly fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1 \
        >"$log" 2>&1; then
        runs=$(grep -Eo 'Done [0-9]+ runs' "$log" | tail -n 1 | grep -Eo '[0-9]+' || echo "?")
        found=$(find "$scratch/$target" -type f | wc -l)
        echo "PASS $target: $runs executions in ${seconds} s, $found new inputs beyond the corpus"
        passed=$((passed + 1))
    else
        echo "FAIL $target; what went wrong, then the last lines of its log:"
        grep -n -m 3 -A 15 -E 'panicked at|ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)' "$log" || true
        echo "----"
        tail -n 40 "$log"
        ls -l "artifacts/$target" 2>/dev/null || true
        failed=$((failed + 1))
    fi
    sweep
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
