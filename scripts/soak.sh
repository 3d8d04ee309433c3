#!/usr/bin/env bash
# Soak runs with a leak check, server side and client side.
#
#   scripts/soak.sh server|client|smoke|all [--no-build]
#
# server  `pier serve --runtime tokio` on an ephemeral port, driven by the
#         `conns` load driver (benches/): a warm-up pass (C connections, W
#         requests each) so buffers and allocator pools reach steady state,
#         the server's VmRSS, a main pass of R requests over C keep-alive
#         connections, VmRSS, then a second main pass and VmRSS again.
#         Fails unless every request succeeded and VmRSS after each main
#         pass is within SOAK_MAX_GROWTH % (+ SOAK_SLACK_KIB) of the figure
#         after the warm-up.
# client  `client_soak` (benches/): R requests over C concurrent loops
#         through ONE Agent (max_sockets = C, keep-alive) against
#         `hello_server` (pier-tokio's example), every response checked;
#         the same memory rule on the client's own VmRSS, the agent must
#         never hold more than C sockets, and none may stay open after
#         agent.destroy().
# smoke   both, scaled down (20,000 requests over 500 connections): CI-sized.
# all     server, then client.
#
# Full runs: R = 1,000,000, C = 10,000. Overrides: SOAK_CONNECTIONS,
# SOAK_REQUESTS, SOAK_WARMUP (W, requests per connection in the warm-up;
# default R / C, the main pass's shape: a lighter warm-up leaves the
# allocator below the high-water mark a main pass reaches, see
# docs/reliability.md), SOAK_MAX_GROWTH (percent, default 5), SOAK_SLACK_KIB
# (default 0; 512 in smoke mode, where RSS is only a few MiB and allocator
# noise alone moves it by a few percent), SOAK_MALLOC_ARENA_MAX (default 1,
# exported as MALLOC_ARENA_MAX to the measured processes: with glibc's
# per-thread arenas, freed memory stays spread over several heaps and VmRSS
# creeps up pass after pass without any leak; empty keeps glibc's default).
#
# Builds the release binaries first (cargo under `flock /tmp/pier-cargo.lock`
# when flock exists, so it queues behind other builds on shared machines);
# --no-build uses what target/release already holds. Needs `ulimit -n` above
# C (raised to the hard limit when possible). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
    echo "usage: $0 server|client|smoke|all [--no-build]" >&2
    exit 2
}
[[ $# -ge 1 ]] || usage
mode=$1
shift
build=1
for a in "$@"; do
    case $a in
        --no-build) build=0 ;;
        *) usage ;;
    esac
done
case $mode in
    server | client | all)
        conns=${SOAK_CONNECTIONS:-10000}
        requests=${SOAK_REQUESTS:-1000000}
        slack=${SOAK_SLACK_KIB:-0}
        ;;
    smoke)
        conns=${SOAK_CONNECTIONS:-500}
        requests=${SOAK_REQUESTS:-20000}
        slack=${SOAK_SLACK_KIB:-512}
        ;;
    *) usage ;;
esac
growth=${SOAK_MAX_GROWTH:-5}
per_conn=$((requests / conns))
warmup=${SOAK_WARMUP:-$per_conn}
if ((per_conn < 1 || warmup < 1)); then
    echo "soak: need at least one request per connection" >&2
    exit 2
fi
arena_env=()
if [[ -n ${SOAK_MALLOC_ARENA_MAX-1} ]]; then
    arena_env=(env "MALLOC_ARENA_MAX=${SOAK_MALLOC_ARENA_MAX-1}")
fi

rel=target/release
tmp=$(mktemp -d)
server_pid=

# Stops the server this script started, if it still runs.
stop_server() {
    if [[ -n $server_pid ]]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}

cleanup() {
    stop_server
    rm -rf "$tmp"
}
trap cleanup EXIT

cargo_locked() {
    if command -v flock >/dev/null 2>&1; then
        flock /tmp/pier-cargo.lock cargo "$@"
    else
        cargo "$@"
    fi
}

if [[ $build == 1 ]]; then
    cargo_locked build --release --quiet -p pier-cli -p pier-benches
    cargo_locked build --release --quiet -p pier-tokio --example hello_server
fi

# Each side holds C sockets plus a few files of its own.
need=$((conns + 64))
if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < need)); then
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    if [[ $(ulimit -n) != unlimited ]] && (($(ulimit -n) < need)); then
        echo "soak: ulimit -n is $(ulimit -n); $need needed for $conns connections" >&2
        exit 1
    fi
fi

# Resident and peak resident set of a process, in KiB.
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# Waits until the server has let go of the driver's connections (its open
# files are back to the idle count), so VmRSS is read at the same point of
# every pass.
wait_idle() {
    local pid=$1 idle=$2 i
    for ((i = 0; i < 300; i++)); do
        (($(fd_count "$pid") <= idle)) && return 0
        sleep 0.1
    done
    echo "soak: the server still holds $(($(fd_count "$pid") - idle)) connections after 30 s" >&2
    return 1
}

# within BASE AFTER: whether AFTER <= BASE * (1 + growth%) + slack.
within() {
    awk -v b="$1" -v a="$2" -v g="$growth" -v s="$slack" 'BEGIN { exit !(a <= b * (1 + g / 100) + s) }'
}
pct() { awk -v b="$1" -v a="$2" 'BEGIN { printf "%+.2f%%", (a / b - 1) * 100 }'; }
field() { grep -o "$1=[0-9.]*" <<<"$2" | head -1 | cut -d= -f2; }

# Runs one conns pass and echoes its summary line; a failed run still
# prints its line (the errors are in it).
conns_pass() {
    local addr=$1 per_conn=$2 out
    out=$("$rel/conns" "$addr" --connections "$conns" --requests "$per_conn") || true
    echo "$out"
}

server_soak() {
    : >"$tmp/serve.out"
    # Its per-request log goes to /dev/null: a million lines would only
    # measure the terminal.
    "${arena_env[@]}" "$rel/pier" serve --runtime tokio --port 0 >"$tmp/serve.out" 2>/dev/null &
    server_pid=$!
    local addr= i
    for ((i = 0; i < 100; i++)); do
        addr=$(sed -n 's|^pier: listening on \(http://\)\{0,1\}||p' "$tmp/serve.out")
        [[ -n $addr ]] && break
        kill -0 "$server_pid" 2>/dev/null || { echo "soak: pier serve exited" >&2; return 1; }
        sleep 0.1
    done
    [[ -n $addr ]] || { echo "soak: pier serve did not print its address" >&2; return 1; }
    local idle
    idle=$(fd_count "$server_pid")
    echo "server soak: pier serve pid $server_pid on $addr, $conns connections, $((per_conn * conns)) requests per main pass"

    local warm main1 main2 before after1 after2
    warm=$(conns_pass "$addr" "$warmup")
    echo "  warm-up: $warm"
    wait_idle "$server_pid" "$idle" || return 1
    before=$(rss_kib "$server_pid")
    main1=$(conns_pass "$addr" "$per_conn")
    echo "  pass 1:  $main1"
    wait_idle "$server_pid" "$idle" || return 1
    after1=$(rss_kib "$server_pid")
    main2=$(conns_pass "$addr" "$per_conn")
    echo "  pass 2:  $main2"
    wait_idle "$server_pid" "$idle" || return 1
    after2=$(rss_kib "$server_pid")

    local errors=0 e
    for e in "$(field errors "$warm")" "$(field errors "$main1")" "$(field errors "$main2")"; do
        errors=$((errors + ${e:-1}))
    done
    local verdict=PASS
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "soak: pier serve died during the run" >&2
        verdict=FAIL
    elif ((errors > 0)) || ! within "$before" "$after1" || ! within "$before" "$after2"; then
        verdict=FAIL
    fi
    echo "soak server: connections=$conns requests=$(field requests "$main1") errors=$errors" \
        "rss_before_kib=$before rss_after_kib=$after1 growth=$(pct "$before" "$after1")" \
        "rss_after_pass2_kib=$after2 growth2=$(pct "$before" "$after2") peak_rss_kib=$(hwm_kib "$server_pid")" \
        "rps=$(field rps "$main1") p50_us=$(field p50_us "$main1") p99_us=$(field p99_us "$main1")" \
        "limit=+$growth%+${slack}KiB ${arena_env[*]:1} result=$verdict"
    stop_server
    [[ $verdict == PASS ]]
}

# A port below the ephemeral range that nothing listens on.
free_port() {
    local p
    for ((i = 0; i < 50; i++)); do
        p=$((20000 + RANDOM % 12000))
        if ! ss -Htln "sport = :$p" | grep -q .; then
            echo "$p"
            return 0
        fi
    done
    return 1
}

client_soak() {
    local port i attempt
    for ((attempt = 0; attempt < 5; attempt++)); do
        port=$(free_port)
        PORT=$port "$rel/examples/hello_server" &
        server_pid=$!
        for ((i = 0; i < 100; i++)); do
            ss -Htln "sport = :$port" | grep -q . && break
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -0 "$server_pid" 2>/dev/null && ss -Htln "sport = :$port" | grep -q . && break
        stop_server
    done
    [[ -n $server_pid ]] || { echo "soak: hello_server did not start" >&2; return 1; }
    echo "client soak: one Agent, $conns connections, $((per_conn * conns)) requests per main pass, hello_server pid $server_pid on 127.0.0.1:$port"
    local status=0
    "${arena_env[@]}" "$rel/client_soak" "http://127.0.0.1:$port/" --connections "$conns" \
        --requests "$((per_conn * conns))" --warmup "$warmup" --passes 2 --max-growth "$growth" --slack-kib "$slack" 2>&1 | sed 's/^/  /' || status=$?
    # pipefail: the status is client_soak's unless sed failed.
    echo "soak client: hello_server peak_rss_kib=$(hwm_kib "$server_pid") result=$([[ $status == 0 ]] && echo PASS || echo FAIL)"
    stop_server
    return "$status"
}

status=0
if [[ $mode != client ]]; then
    server_soak || status=1
    stop_server
fi
if [[ $mode != server ]]; then
    client_soak || status=1
    stop_server
fi
exit $status
