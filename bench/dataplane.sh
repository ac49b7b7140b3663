#!/usr/bin/env bash
# Data plane throughput and tail latency: lockgate against HAProxy and nginx, each pinned to one
# core, in front of the same backends, on the seed's two routes in their canary phases: `/echo`
# header-matched (`stage: canary` goes to v2; the measured requests carry no header, so every
# request first fails the canary route) and `/foxtrot` weighted 90/10 between v1 and v2.
#
#   bench/dataplane.sh                 # 10 s per proxy and path, 64 connections
#   DURATION=30s CONNECTIONS=128 ROUNDS=3 PATHS=/echo bench/dataplane.sh
#   LOCKGATE_BIN=path/to/lockgate bench/dataplane.sh    # another build of lockgate
#
# Like for like: the peers do what lockgate does (see bench/peers.sh for their configurations).
#
# Layout: every proxy runs pinned to PROXY_CORE (default 0) with one worker; the backend
# (`lockgate echo`, the seed's http-echo) and wrk share LOAD_CORE (default: the last core), so the
# proxy's core is the one being measured. Proxies run one after another, never at once; with
# ROUNDS > 1 they alternate and the best round of each is reported, which damps noise from other
# work on the machine. Prints requests per second and p99 latency, and each as a ratio to
# HAProxy (req/s: higher is better; p99: lower is better), and the CPU time the proxy process
# spent per request (user + system, from /proc/PID/stat around each wrk run): unlike req/s, it
# barely moves when other work on the machine takes the load generator's or the backend's CPU.
#
# Needs: haproxy, nginx (nginx-light) and wrk (installed with apt-get when missing), cargo.
set -euo pipefail

DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
ROUNDS=${ROUNDS:-1}
PATHS=${PATHS:-/echo /foxtrot}
CORES=$(nproc)
PROXY_CORE=${PROXY_CORE:-0}
LOAD_CORE=${LOAD_CORE:-$((CORES - 1))}

source "$(dirname "$0")/common.sh"
LOCKGATE_PORT=${LOCKGATE_PORT:-$(free_port)}
ADMIN_PORT=${ADMIN_PORT:-$(free_port)}
HAPROXY_PORT=${HAPROXY_PORT:-$(free_port)}
NGINX_PORT=${NGINX_PORT:-$(free_port)}

need() {
    local missing=()
    for tool in haproxy nginx wrk; do
        command -v "$tool" >/dev/null || missing+=("$tool")
    done
    if ((${#missing[@]})); then
        echo "installing haproxy nginx-light wrk (missing: ${missing[*]})" >&2
        apt-get install -y haproxy nginx-light wrk >/dev/null
    fi
}

# Waits (at most 10 s) until `url` answers with one of the seed's bodies (`version:...`).
wait_for() {
    local name=$1 url=$2
    for _ in $(seq 100); do
        if [[ $(curl -s -m 1 "$url" 2>/dev/null || true) == version:* ]]; then
            return 0
        fi
        sleep 0.1
    done
    echo "$name did not answer $url with a version; its log:" >&2
    cat "$work/$name.log" >&2 || true
    exit 1
}


# CPU time (user + system, clock ticks) a process has used so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS_PER_SECOND=$(getconf CLK_TCK)

need
echo "building lockgate (release)..." >&2
cargo build --release -q -p lockgate --manifest-path "$repo/Cargo.toml"
lockgate=${LOCKGATE_BIN:-$repo/target/release/lockgate}

source "$(dirname "$0")/peers.sh"
start_backends "$LOAD_CORE"
write_lockgate_config
start lockgate "$PROXY_CORE" "$lockgate" serve --config-dir "$work/config" \
    --listen "127.0.0.1:$LOCKGATE_PORT" --admin "127.0.0.1:$ADMIN_PORT" \
    --state-dir "$work/state" --workers 1
wait_for lockgate "http://127.0.0.1:$LOCKGATE_PORT/echo"

write_haproxy_config "$HAPROXY_PORT" "$work/haproxy.cfg"
start haproxy "$PROXY_CORE" haproxy -f "$work/haproxy.cfg"
wait_for haproxy "http://127.0.0.1:$HAPROXY_PORT/echo"

write_nginx_config "$NGINX_PORT" "$work" "$work/nginx.conf"
start nginx "$PROXY_CORE" nginx -c "$work/nginx.conf"
wait_for nginx "http://127.0.0.1:$NGINX_PORT/echo"

declare -A best_rps best_p99 best_cpu
measure() { # name port path
    local name=$3:$1 port=$2 out rps p99 ticks requests cpu
    ticks=$(cpu_ticks "${pid_of[$1]}")
    out=$(taskset -c "$LOAD_CORE" wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency \
        "http://127.0.0.1:$port$3")
    ticks=$(($(cpu_ticks "${pid_of[$1]}") - ticks))
    requests=$(awk '/ requests in / {print $1}' <<<"$out")
    cpu=$(awk -v t="$ticks" -v n="$requests" -v hz="$TICKS_PER_SECOND" 'BEGIN {print t * 1e6 / hz / n}')
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    # wrk prints latencies as 1.23ms, 456.00us or 1.02s; normalise to milliseconds.
    p99=$(awk '$1 == "99%" {v = $2; u = v; gsub(/[0-9.]/, "", u); gsub(/[a-z]/, "", v);
        if (u == "us") v /= 1000; else if (u == "s") v *= 1000; print v}' <<<"$out")
    if grep -q "Non-2xx" <<<"$out"; then
        echo "$name answered non-2xx responses:" >&2
        echo "$out" >&2
        exit 1
    fi
    echo "  round: $name $rps req/s, p99 $p99 ms, $cpu us CPU/request" >&2
    if [[ -z ${best_rps[$name]:-} ]] || awk "BEGIN {exit !($rps > ${best_rps[$name]})}"; then
        best_rps[$name]=$rps
    fi
    if [[ -z ${best_p99[$name]:-} ]] || awk "BEGIN {exit !($p99 < ${best_p99[$name]})}"; then
        best_p99[$name]=$p99
    fi
    if [[ -z ${best_cpu[$name]:-} ]] || awk "BEGIN {exit !($cpu < ${best_cpu[$name]})}"; then
        best_cpu[$name]=$cpu
    fi
}

echo "wrk: $CONNECTIONS connections, $DURATION per run, $ROUNDS round(s); proxies on core $PROXY_CORE, backend and wrk on core $LOAD_CORE" >&2
for _ in $(seq "$ROUNDS"); do
    for path in $PATHS; do
        measure haproxy "$HAPROXY_PORT" "$path"
        measure nginx "$NGINX_PORT" "$path"
        measure lockgate "$LOCKGATE_PORT" "$path"
    done
done

for path in $PATHS; do
    printf '\n%s\n%-10s %12s %10s %14s %12s %14s %12s\n' "$path" proxy "req/s" "p99 ms" \
        "req/s ratio" "p99 ratio" "CPU us/req" "CPU ratio"
    for proxy in haproxy nginx lockgate; do
        name=$path:$proxy base=$path:haproxy
        awk -v n="$proxy" -v r="${best_rps[$name]}" -v p="${best_p99[$name]}" -v c="${best_cpu[$name]}" \
            -v hr="${best_rps[$base]}" -v hp="${best_p99[$base]}" -v hc="${best_cpu[$base]}" \
            'BEGIN {printf "%-10s %12.0f %10.2f %13.2fx %11.2fx %14.1f %11.2fx\n", n, r, p, r / hr, p / hp, c, c / hc}'
    done
done
