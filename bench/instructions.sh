#!/usr/bin/env bash
# User-space instructions per proxied request, counted by callgrind: a figure that does not move
# when other work shares the machine (req/s and CPU time do), so small data-plane changes can be
# compared. Kernel work (the syscalls, about 60-70% of a proxy's CPU here) is not counted.
#
#   bench/instructions.sh               # lockgate (examples/forward), haproxy and nginx
#   bench/instructions.sh lockgate      # or any of them; PROXY_BIN=path/to/forward to compare builds
#
# Each proxy runs under valgrind in front of the seed's http-echo (`lockgate echo`); wrk warms the
# upstream pool for 3 s, then the counters are zeroed, wrk runs 16 connections for 10 s, and the
# counters are dumped: instructions / requests answered. Needs valgrind, wrk, haproxy, nginx.
set -euo pipefail

source "$(dirname "$0")/common.sh"

cargo build --release -q -p lockgate --manifest-path "$repo/Cargo.toml"
cargo build --release -q -p lockgate-proxy --example forward --manifest-path "$repo/Cargo.toml"
forward=${PROXY_BIN:-$repo/target/release/examples/forward}

backend_port=$(free_port)
taskset -c 1 "$repo/target/release/lockgate" echo --text version:echo-v1 \
    --listen "127.0.0.1:$backend_port" >/dev/null 2>&1 &
pids+=($!)

count() { # name
    local name=$1 port out requests total dir
    port=$(free_port)
    dir=$work/$name
    mkdir -p "$dir/tmp"
    case $name in
    lockgate) set -- "$forward" "127.0.0.1:$port" "127.0.0.1:$backend_port" 1 ;;
    haproxy)
        printf '%s\n' "global" "  nbthread 1" "defaults" "  mode http" "  timeout connect 5s" \
            "  timeout client 30s" "  timeout server 30s" "  option http-keep-alive" \
            "frontend gateway" "  bind 127.0.0.1:$port" "  default_backend echo" "backend echo" \
            "  http-reuse always" "  server echo-v1 127.0.0.1:$backend_port" >"$dir/haproxy.cfg"
        set -- haproxy -f "$dir/haproxy.cfg"
        ;;
    nginx)
        cat >"$dir/nginx.conf" <<CFG
worker_processes 1;
daemon off;
master_process off;
pid $dir/nginx.pid;
error_log $dir/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $dir/tmp;
  proxy_temp_path $dir/tmp;
  keepalive_requests 1000000;
  upstream echo { server 127.0.0.1:$backend_port; keepalive 128; }
  server {
    listen 127.0.0.1:$port;
    location / { proxy_pass http://echo; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CFG
        set -- nginx -c "$dir/nginx.conf"
        ;;
    *) echo "unknown proxy $name" >&2; exit 2 ;;
    esac
    taskset -c 0 valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.%p" "$@" \
        >"$dir/log" 2>&1 &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        curl -sf "127.0.0.1:$port/echo" >/dev/null 2>&1 && break
        sleep 0.2
    done
    taskset -c 1 wrk -t1 -c16 -d3s "http://127.0.0.1:$port/echo" >/dev/null
    callgrind_control -z "$pid" >/dev/null 2>&1
    out=$(taskset -c 1 wrk -t1 -c16 -d10s "http://127.0.0.1:$port/echo")
    callgrind_control -d "$pid" >/dev/null 2>&1
    sleep 1
    kill "$pid" 2>/dev/null || true
    requests=$(awk '/ requests in / {print $1}' <<<"$out")
    total=$(grep -h -E '^(summary|totals):' "$(ls -t "$dir"/callgrind.*.* | head -1)" | head -1 |
        awk '{print $2}')
    awk -v n="$name" -v t="$total" -v r="$requests" \
        'BEGIN {printf "%-10s %8.0f instructions/request (%d requests)\n", n, t / r, r}'
}

for name in "${@:-lockgate haproxy nginx}"; do
    for each in $name; do count "$each"; done
done
