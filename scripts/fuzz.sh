#!/usr/bin/env bash
# Runs pier-proto's libFuzzer targets (fuzz/, a cargo-fuzz crate).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS: time per target (default 60). TARGET: server, client, chunked,
# roundtrip (default: all, one after another).
#
# Steps: installs cargo-fuzz if missing; builds every requested target
# (nightly toolchain); copies fuzz/seeds/<target>/ into the working corpus
# fuzz/corpus/<target>/; runs each target with its dictionary
# fuzz/dict/<target>.dict. Crash inputs land in fuzz/artifacts/<target>/,
# logs in fuzz/artifacts/logs/. Exits non-zero if any target crashed,
# timed out or ran out of memory.
#
# Environment:
#   PIER_CARGO_LOCK       when set, every cargo command holds
#                         `flock /tmp/pier-cargo.lock` (shared machines);
#                         the fuzzing itself runs without the lock.
#   PIER_FUZZ_SANITIZER   cargo-fuzz sanitizer (default none: pier-proto is
#                         forbid(unsafe_code), and without ASan a run makes
#                         about twice the executions; use `address` to check
#                         the dependencies' unsafe code too).
#   PIER_FUZZ_STRICT      passed to the targets: also fail on the known
#                         issues listed in fuzz/README.md.
#   PIER_FUZZ_JOBS        parallel fuzzing processes per target (default 1).
set -euo pipefail

seconds=${1:-60}
if [[ $# -gt 0 ]]; then shift; fi
all_targets=(server head client chunked roundtrip)
if [[ $# -gt 0 ]]; then targets=("$@"); else targets=("${all_targets[@]}"); fi
if ! [[ $seconds =~ ^[0-9]+$ ]] || [[ $seconds -eq 0 ]]; then
    echo "usage: $0 [SECONDS] [TARGET...]   (targets: ${all_targets[*]})" >&2
    exit 2
fi
for t in "${targets[@]}"; do
    if [[ ! " ${all_targets[*]} " == *" $t "* ]]; then
        echo "unknown target '$t' (targets: ${all_targets[*]})" >&2
        exit 2
    fi
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz="$root/fuzz"
sanitizer=${PIER_FUZZ_SANITIZER:-none}
jobs=${PIER_FUZZ_JOBS:-1}

# Cargo commands hold the shared lock only when asked to.
cargo_locked() {
    if [[ -n "${PIER_CARGO_LOCK:-}" ]]; then
        flock /tmp/pier-cargo.lock cargo "$@"
    else
        cargo "$@"
    fi
}

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzz.sh: no nightly toolchain (rustup toolchain install nightly)" >&2
    exit 2
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz" >&2
    cargo_locked install cargo-fuzz --locked
fi

# Build everything first (the only step that needs the lock), then fuzz.
echo "fuzz.sh: building ${targets[*]} (sanitizer: $sanitizer)" >&2
for t in "${targets[@]}"; do
    (cd "$fuzz" && cargo_locked +nightly fuzz build -s "$sanitizer" "$t")
done
triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
bin_dir="$fuzz/target/$triple/release"

mkdir -p "$fuzz/artifacts/logs"
failed=()
summary=()
for t in "${targets[@]}"; do
    corpus="$fuzz/corpus/$t"
    artifacts="$fuzz/artifacts/$t"
    log="$fuzz/artifacts/logs/$t.log"
    mkdir -p "$corpus" "$artifacts"
    cp -n "$fuzz/seeds/$t/"* "$corpus/" 2>/dev/null || true
    before=$(find "$artifacts" -type f | wc -l)
    echo "fuzz.sh: $t for ${seconds}s (log: ${log#"$root"/})" >&2
    args=(
        -max_total_time="$seconds"
        -dict="$fuzz/dict/$t.dict"
        -artifact_prefix="$artifacts/"
        -timeout=10
        -rss_limit_mb=2048
        -max_len=4096
        -print_final_stats=1
    )
    if [[ $jobs -gt 1 ]]; then
        args+=(-fork="$jobs" -ignore_crashes=0)
    fi
    status=0
    "$bin_dir/$t" "${args[@]}" "$corpus" >"$log" 2>&1 || status=$?
    after=$(find "$artifacts" -type f | wc -l)
    # The last status line: "#N DONE cov: C ft: F corp: K/S lim: L exec/s: E rss: R".
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9]*[a-zA-Z]*\).*/\1/p' <<<"$last")
    result=ok
    if [[ $status -ne 0 || $after -gt $before ]]; then
        result="FAILED (exit $status)"
        failed+=("$t")
        grep -E 'panicked at|^  left|^ right|SUMMARY|Test unit written' "$log" | head -n 12 >&2 || true
    fi
    summary+=("$(printf '%-10s %-14s execs %-10s exec/s %-7s cov %-6s ft %-6s corpus %s' \
        "$t" "$result" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}")")
done

echo
echo "fuzz.sh summary (${seconds}s per target):"
printf '  %s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
    echo "fuzz.sh: crashes in: ${failed[*]} (inputs in fuzz/artifacts/<target>/;" \
        "replay with fuzz/target/$triple/release/<target> <file>)" >&2
    exit 1
fi
