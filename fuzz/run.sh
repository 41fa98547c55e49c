#!/usr/bin/env bash
# Runs both fuzz targets for a while each (default 600 s) and prints libFuzzer's final stats.
# Needs a nightly toolchain and cargo-fuzz: `rustup toolchain install nightly`,
# `cargo install cargo-fuzz`.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
for target in decode connection; do
    mkdir -p "corpus/$target"
    cargo +nightly fuzz run "$target" "corpus/$target" "seeds/$target" -- \
        -max_total_time="$secs" -print_final_stats=1 2>&1 | tee "/tmp/fuzz-$target.log" | grep -E "^(#|Done|stat::|==)" | tail -20
done
