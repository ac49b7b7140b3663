# Shared by the benchmark scripts: a scratch directory whose processes and files are removed on
# exit, and free loopback ports. Source it after `set -euo pipefail`.

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d -t "lockgate-$(basename "$0" .sh).XXXXXX")
pids=()

cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# A port nothing listens on (the machine may be running other gateways) and that no earlier call
# handed out: ports are picked before anything binds them. Callers use `$(free_port)`, a
# subshell, so the ports handed out are remembered in a file.
free_port() {
    local port
    while :; do
        port=$((20000 + RANDOM % 40000))
        grep -qx "$port" "$work/ports" 2>/dev/null && continue
        if ! ss -ltn | awk '{print $4}' | grep -q ":$port\$"; then
            echo "$port" >>"$work/ports"
            echo "$port"
            return
        fi
    done
}

# Starts a command pinned to a core, its output in $work/NAME.log; its pid in pid_of[NAME].
declare -A pid_of
start() { # name core command...
    local name=$1 core=$2
    shift 2
    taskset -c "$core" "$@" >"$work/$name.log" 2>&1 &
    pids+=($!)
    pid_of[$name]=$!
}
