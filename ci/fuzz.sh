#!/usr/bin/env bash
# Runs every cargo-fuzz target under fuzz/ for a time budget, one after the other, starting
# from the committed corpus in fuzz/corpus/<target>/, and prints per target the CPU time it
# ran, the executions and any crash. Exits non-zero when a target crashed (or timed out).
# Run on demand (not by ci/test.sh).
#
#   ci/fuzz.sh                                   # every target, 60 s each
#   FUZZ_SECONDS=600 FUZZ_TARGETS="command session_default" ci/fuzz.sh
#   FUZZ_UPDATE_CORPUS=1 ci/fuzz.sh              # merge what was found into fuzz/corpus/
#
# Stable Rust is enough: cargo-fuzz passes nightly-only flags (-Zsanitizer=address and the
# sanitizer-coverage passes), which RUSTC_BOOTSTRAP=1 lets a stable rustc accept; the
# address sanitizer's runtime ships with the stable x86_64 Linux standard library. A nightly
# toolchain, when it is the default one, is used as is.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
sanitizer=${FUZZ_SANITIZER:-address}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz from crates.io"
    cargo install --locked cargo-fuzz
fi
if ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi

cd fuzz
targets=${FUZZ_TARGETS:-$(cargo fuzz list)}
echo "== building: $(echo $targets)"
# shellcheck disable=SC2086
for target in $targets; do
    cargo fuzz build -O --sanitizer "$sanitizer" "$target"
done

triple=$(rustc -vV | sed -n 's/^host: //p')
binaries=target/$triple/release
work=target/corpus-work
failed=()
summary=()
for target in $targets; do
    mkdir -p "corpus/$target" "$work/$target" "artifacts/$target"
    log=$work/$target.log
    echo "== $target: ${seconds}s from $(find "corpus/$target" -type f | wc -l) committed inputs"
    start=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
    status=0
    # New inputs go to the work folder; the committed corpus is only read.
    "$binaries/$target" "$work/$target" "corpus/$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="artifacts/$target/" >"$log" 2>&1 || status=$?
    end=$(awk '{print $14 + $15 + $16 + $17}' /proc/$$/stat)
    ticks=$(getconf CLK_TCK)
    cpu=$(awk -v a="$start" -v b="$end" -v t="$ticks" 'BEGIN { printf "%.1f", (b - a) / t }')
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
    cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)
    crash=$(grep -oE "(crash|leak|timeout|oom|slow-unit)-[0-9a-f]+" "$log" | head -1 || true)
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        line="$target: CRASHED after ${cpu}s CPU, ${runs:-?} executions: artifacts/$target/${crash:-?} (log: fuzz/$log)"
        grep -E "panicked at|ERROR: AddressSanitizer|ERROR: libFuzzer" "$log" | head -3 | sed 's/^/    /' || true
    else
        line="$target: ok, ${cpu}s CPU, ${runs:-?} executions, coverage ${cov:-?}"
    fi
    echo "$line"
    summary+=("$line")
    if [ "${FUZZ_UPDATE_CORPUS:-0}" = 1 ]; then
        # Only the inputs that add coverage join the committed corpus.
        "$binaries/$target" -merge=1 "corpus/$target" "$work/$target" >"$work/$target.merge.log" 2>&1 || true
        echo "   corpus/$target: $(find "corpus/$target" -type f | wc -l) inputs, $(du -sh "corpus/$target" | cut -f1)"
    fi
done

echo
echo "== summary (${seconds}s per target)"
printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "crashed: ${failed[*]}"
    exit 1
fi
