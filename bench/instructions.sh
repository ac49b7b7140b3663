#!/usr/bin/env bash
# User-space instructions per proxied request, counted by callgrind: a figure that does not move
# when other work shares the machine (req/s and CPU time do), so small data-plane changes can be
# compared. Kernel work (the syscalls, about 60-70% of a proxy's CPU here) is not counted.
#
#   bench/instructions.sh                      # lockgate, haproxy and nginx on /echo
#   PATHS="/echo /foxtrot" bench/instructions.sh lockgate
#   LOCKGATE_BIN=path/to/lockgate bench/instructions.sh lockgate   # another build
#
# lockgate is the full binary, `lockgate serve --workers 1 --config-dir` with the seed's
# configuration (bench/peers.sh, the same routing and header work as the peers'). Each proxy
# runs under valgrind in front of the seed's backends; wrk warms the upstream pools for 3 s, then
# the counters are zeroed, wrk runs 16 connections for 10 s, and the counters are dumped:
# instructions / requests answered. For lockgate two figures: the proxy worker thread alone,
# and the whole process (the controller, the directory watcher and the admin API on their own
# threads, idle but awake). Needs valgrind, wrk, haproxy, nginx.
set -euo pipefail

PATHS=${PATHS:-/echo}
source "$(dirname "$0")/common.sh"

wait_for() { # name url
    for _ in $(seq 150); do
        [[ $(curl -s -m 2 "$2" 2>/dev/null || true) == version:* ]] && return 0
        sleep 0.2
    done
    echo "$1 did not answer $2; its log:" >&2
    cat "$work/$1.log" >&2 || true
    exit 1
}

cargo build --release -q -p lockgate --manifest-path "$repo/Cargo.toml"
lockgate=${LOCKGATE_BIN:-$repo/target/release/lockgate}
source "$(dirname "$0")/peers.sh"
start_backends 1
write_lockgate_config

count() { # name path
    local name=$1 path=$2 port out requests dir pid
    port=$(free_port)
    dir=$work/$name-${path//\//}
    mkdir -p "$dir/tmp"
    case $name in
    lockgate)
        set -- "$lockgate" serve --config-dir "$work/config" --listen "127.0.0.1:$port" \
            --admin "127.0.0.1:$(free_port)" --state-dir "$dir/state" --workers 1
        ;;
    haproxy)
        write_haproxy_config "$port" "$dir/haproxy.cfg"
        set -- haproxy -f "$dir/haproxy.cfg"
        ;;
    nginx)
        write_nginx_config "$port" "$dir" "$dir/nginx.conf"
        set -- nginx -c "$dir/nginx.conf"
        ;;
    *) echo "unknown proxy $name" >&2; exit 2 ;;
    esac
    taskset -c 0 valgrind --tool=callgrind --separate-threads=yes \
        --callgrind-out-file="$dir/callgrind.out" "$@" >"$dir/log" 2>&1 &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 150); do
        [[ $(curl -s -m 2 "127.0.0.1:$port$path" 2>/dev/null || true) == version:* ]] && break
        sleep 0.2
    done
    taskset -c 1 wrk -t1 -c16 -d3s "http://127.0.0.1:$port$path" >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    out=$(taskset -c 1 wrk -t1 -c16 -d10s "http://127.0.0.1:$port$path")
    rm -f "$dir"/callgrind.out*
    callgrind_control -d "$pid" >/dev/null 2>&1
    sleep 1
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    requests=$(awk '/ requests in / {print $1}' <<<"$out")
    # One file per thread for the dump (the exit's files are the ones ending without `.1`).
    for file in "$dir"/callgrind.out.1*; do
        grep -h -E '^(summary|totals):' "$file" | head -1 | awk '{print $2}'
    done | sort -n | awk -v n="$name" -v p="$path" -v r="$requests" '
        { total += $1; busiest = $1 }
        END {
            printf "%-10s %-9s %8.0f instructions/request", n, p, busiest / r
            if (NR > 1) printf " (worker thread; whole process %.0f)", total / r
            printf " (%d requests)\n", r
        }'
}

for name in ${*:-lockgate haproxy nginx}; do
    for path in $PATHS; do count "$name" "$path"; done
done
