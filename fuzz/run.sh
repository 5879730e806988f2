#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for SECONDS each and prints, per
# target, the executions, the time and the findings (crash, timeout, leak and
# out-of-memory inputs libFuzzer saved under fuzz/artifacts/TARGET/).
#
#   fuzz/run.sh [SECONDS] [TARGET...]      # default 300 seconds, all targets
#
# Needs `cargo install cargo-fuzz`. On a stable toolchain the script sets
# RUSTC_BOOTSTRAP=1 (cargo-fuzz passes nightly-only `-Z` flags to rustc).
# FUZZ_SANITIZER=none|address (default address) picks the sanitizer.
# After a finding the target is restarted on the same corpus until its time
# is up, so one run reports every crash it meets, not just the first.
# The working corpora (fuzz/corpus/, grown from fuzz/seeds/) and the logs
# (fuzz/logs/) are not committed.
set -euo pipefail

cd "$(dirname "$0")"
seconds=${1:-300}
shift || true
all_targets=(page_typed page_raw date_bound when)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
sanitizer=${FUZZ_SANITIZER:-address}

if ! command -v cargo-fuzz >/dev/null; then
    echo "fuzz/run.sh: cargo-fuzz is missing: cargo install cargo-fuzz" >&2
    exit 2
fi
if ! rustc --version | grep -q nightly; then
    export RUSTC_BOOTSTRAP=1
fi

seeds_of() {
    case $1 in
        page_typed | page_raw) echo seeds/page ;;
        date_bound) echo seeds/date ;;
        when) echo seeds/when ;;
        *) echo "fuzz/run.sh: unknown target $1" >&2; exit 2 ;;
    esac
}
dict_of() {
    case $1 in
        page_typed | page_raw) echo dicts/json.dict ;;
        *) echo dicts/when.dict ;;
    esac
}

build=(--release --debug-assertions --sanitizer "$sanitizer")
for target in "${targets[@]}"; do
    if ! cargo fuzz build "${build[@]}" "$target" >/dev/null 2>&1; then
        echo "fuzz/run.sh: building $target failed; see: cargo fuzz build ${build[*]} $target" >&2
        exit 1
    fi
done

mkdir -p logs
summary=()
failed=0
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target" "artifacts/$target"
    before=$(find "artifacts/$target" -type f | sort)
    log="logs/$target.log"
    : >"$log"
    found=0
    started=$(date +%s)
    while :; do
        left=$((seconds - ($(date +%s) - started)))
        [ "$left" -gt 0 ] || break
        # Exits non-zero on a finding; then the loop goes on with the time left.
        cargo fuzz run "${build[@]}" "$target" "corpus/$target" "$(seeds_of "$target")" -- \
            -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 \
            -dict="$(dict_of "$target")" -print_final_stats=1 >>"$log" 2>&1 || true
        now=$(find "artifacts/$target" -type f | sort | comm -13 <(echo "$before") - | grep -c . || true)
        # No new finding: the run used up its time (or could not start).
        [ "$now" -gt "$found" ] || break
        found=$now
    done
    executions=$(grep -a '^stat::number_of_executed_units:' "$log" | awk '{s += $2} END {print s + 0}')
    elapsed=$(($(date +%s) - started))
    new=$(find "artifacts/$target" -type f | sort | comm -13 <(echo "$before") -)
    findings=$(printf '%s' "$new" | grep -c . || true)
    corpus=$(find "corpus/$target" -type f | wc -l)
    line=$(printf '%-11s %12s executions in %5ss, corpus %6s, findings %s' \
        "$target" "$executions" "$elapsed" "$corpus" "$findings")
    summary+=("$line")
    echo "$line"
    if [ "$findings" -gt 0 ]; then
        failed=1
        printf '%s\n' "$new" | sed 's/^/    /'
    fi
done

echo
echo "summary (sanitizer: $sanitizer, $seconds s per target)"
printf '%s\n' "${summary[@]}"
exit "$failed"
