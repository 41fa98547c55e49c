#!/usr/bin/env bash
# Runs both fuzz targets and prints libFuzzer's final stats. Needs a nightly toolchain and
# cargo-fuzz: `rustup toolchain install nightly`, `cargo install cargo-fuzz`.
#
#   fuzz/run.sh [SECONDS]          each target for SECONDS (default 600)
#   RUNS=11000000 fuzz/run.sh      each target for that many executions instead
#   SANITIZER=address fuzz/run.sh  with AddressSanitizer (default: none; see README.md)
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
sanitizer="${SANITIZER:-none}"
limit=(-max_total_time="$secs")
if [ -n "${RUNS:-}" ]; then
    limit=(-runs="$RUNS")
fi
for target in ${TARGETS:-decode connection}; do
    mkdir -p "corpus/$target"
    cargo +nightly fuzz run -O -s "$sanitizer" "$target" "corpus/$target" "seeds/$target" -- \
        "${limit[@]}" -print_final_stats=1 -rss_limit_mb=1024 2>&1 | tee "/tmp/fuzz-$target.log" \
        | grep -E "^(#|Done|stat::|==)" | tail -20
done
