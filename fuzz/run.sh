#!/usr/bin/env bash
# Runs every cargo-fuzz target of this folder for SECONDS each (default 30), after building them.
#
#   fuzz/run.sh [SECONDS]
#
# Installs cargo-fuzz when it is missing. cargo-fuzz needs nightly's -Z flags: with a nightly
# toolchain installed it is used (with AddressSanitizer); with stable only, RUSTC_BOOTSTRAP=1
# unlocks the flags and the targets run without a sanitizer (lockgate's crates have no unsafe
# code; a panic, a hang or an out-of-memory is what the fuzzer looks for).
# New inputs go to fuzz/corpus/TARGET (ignored by git); crashes to fuzz/artifacts/TARGET, and the
# script exits non-zero with the reproduction command. The seed corpus is fuzz/seeds/TARGET, plus
# the seed workflow's YAML in ../seed.
set -euo pipefail

seconds="${1:-30}"
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

toolchain=()
sanitizer=()
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
else
    export RUSTC_BOOTSTRAP=1
    sanitizer=(--sanitizer none)
fi

shared_seed="$here/../seed"

status=0
for target in $(cargo "${toolchain[@]}" fuzz list); do
    corpora=("corpus/$target" "seeds/$target")
    mkdir -p "corpus/$target"
    if [ -d "$shared_seed" ] && [ "$target" != path ]; then
        for dir in "$shared_seed"/*/; do corpora+=("$dir"); done
    fi
    echo "fuzz/run.sh: $target for ${seconds}s" >&2
    # -timeout: an input that takes 10 s is a hang; -rss_limit_mb: one that takes 2 GiB a leak.
    if ! cargo "${toolchain[@]}" fuzz run "${sanitizer[@]}" "$target" "${corpora[@]}" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -print_final_stats=1; then
        echo "fuzz/run.sh: $target failed; reproduce with:" >&2
        echo "  cd fuzz && cargo ${toolchain[*]} fuzz run ${sanitizer[*]} $target artifacts/$target/<file>" >&2
        status=1
    fi
done
exit "$status"
