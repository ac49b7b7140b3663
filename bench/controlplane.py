#!/usr/bin/env python3
"""Control-plane benchmark: bulk apply, propagation from `lockgate apply` to served, memory.

Starts `lockgate serve` (release build) on 127.0.0.1 with a fresh embedded store. One virtual
service delegates by selector to every route table (the hardest shape for incremental work: a
change to any table is a change to the one virtual host that holds every route). Each route table
holds `--routes-per-table` direct-response routes (so no backend is involved). At each size:

- bulk: one `lockgate apply -f DIR` of the virtual service and every route table (one file each),
  timed from the CLI's start to the proxy answering the last table's last route;
- propagation: `--rounds` times, one changed route table written to a file and applied with
  `lockgate apply -f FILE`, timed from starting the CLI to the first proxy answer carrying the new
  body (polled on a keep-alive connection); p50, p99 (nearest rank) and max;
- memory: the gateway's resident set size when idle and once loaded, and per route.

Published figures to compare with (DESIGN.md): agentgateway 10-30 ms propagation and about 40 MB
at 5,000 routes; Envoy-based gateways 0.1-2 s and 1-2 GB.

Usage: python3 bench/controlplane.py [--binary target/release/lockgate] [--sizes 5000,50000]
       [--routes-per-table 10] [--rounds 50] [--bulk-timeout 900]
Every loop is bounded in count and time; all traffic stays on 127.0.0.1.
"""

import argparse
import http.client
import json
import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def route_table(team, version, per_table):
    routes = [
        {
            "matchers": [{"prefix": f"/team{team}/svc{r}"}],
            "directResponseAction": {"status": 200, "body": f"team{team}-svc{r}-{version}"},
        }
        for r in range(per_table)
    ]
    return {
        "apiVersion": "gateway.solo.io/v1",
        "kind": "RouteTable",
        "metadata": {"name": "routes", "namespace": f"team{team}", "labels": {"gateway": "app"}},
        "spec": {"routes": routes},
    }


VIRTUAL_SERVICE = {
    "apiVersion": "gateway.solo.io/v1",
    "kind": "VirtualService",
    "metadata": {"name": "app", "namespace": "gloo-system"},
    "spec": {"virtualHost": {"domains": ["*"], "routes": [
        {"matchers": [{"prefix": "/"}],
         "delegateAction": {"selector": {"namespaces": ["*"], "labels": {"gateway": "app"}}}}
    ]}},
}


def write_json(path, body):
    with open(path, "w") as f:
        json.dump(body, f)


def get_body(conn, path):
    conn.request("GET", path)
    resp = conn.getresponse()
    return resp.status, resp.read().decode(errors="replace").strip()


def wait_for(conn, path, body, deadline):
    while time.monotonic() < deadline:
        try:
            status, got = get_body(conn, path)
            if status == 200 and got == body:
                return True
        except (ConnectionError, http.client.HTTPException, OSError):
            time.sleep(0.01)
    return False


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def nearest_rank(values, q):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def apply(binary, server, path, timeout):
    """Runs `lockgate apply -f PATH`; returns when it exits."""
    done = subprocess.run([binary, "apply", "-f", path, "--server", server],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"lockgate apply -f {path} failed: {done.stderr[-600:]!r}")


def measure(binary, routes, per_table, rounds, bulk_timeout):
    tables = routes // per_table
    listen, admin_port = free_port(), free_port()
    scratch = tempfile.mkdtemp(prefix="lockgate-bench-")
    state, config = os.path.join(scratch, "state"), os.path.join(scratch, "config")
    os.makedirs(config)
    write_json(os.path.join(config, "virtual-service.json"), VIRTUAL_SERVICE)
    for t in range(tables):
        write_json(os.path.join(config, f"team{t:05}.json"), route_table(t, "v0", per_table))
    # LOCKGATE_BENCH_WRAPPER runs the gateway under a profiler (e.g. valgrind --tool=massif).
    wrapper = os.environ.get("LOCKGATE_BENCH_WRAPPER", "").split()
    # LOCKGATE_BENCH_LOG keeps the gateway's log (with RUST_LOG=lockgate_controller=debug, the
    # time of each translation, persist and publish).
    log_path = os.environ.get("LOCKGATE_BENCH_LOG")
    log = open(log_path, "w") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen(
        wrapper + [binary, "serve", "--listen", f"127.0.0.1:{listen}", "--admin", f"127.0.0.1:{admin_port}",
                   "--state-dir", state, "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=log)
    admin = ("127.0.0.1", admin_port)
    server = f"http://127.0.0.1:{admin_port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(admin, timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        time.sleep(0.5)
        idle_rss = rss_mib(proc.pid)

        proxy = http.client.HTTPConnection("127.0.0.1", listen, timeout=10)
        started = time.monotonic()
        apply(binary, server, config, bulk_timeout)
        last = f"/team{tables - 1}/svc{per_table - 1}"
        if not wait_for(proxy, last, f"team{tables - 1}-svc{per_table - 1}-v0", started + bulk_timeout):
            raise RuntimeError("the bulk apply was never served")
        bulk_s = time.monotonic() - started
        time.sleep(1)
        loaded_rss = rss_mib(proc.pid)

        change = os.path.join(scratch, "change.json")
        propagation, cli = [], []
        for i in range(1, rounds + 1):
            team = (i * 7919) % tables
            write_json(change, route_table(team, f"v{i}", per_table))
            t0 = time.monotonic()
            apply(binary, server, change, 60)
            t1 = time.monotonic()
            path = f"/team{team}/svc{per_table // 2}"
            if not wait_for(proxy, path, f"team{team}-svc{per_table // 2}-v{i}", t1 + 30):
                raise RuntimeError(f"change {i} never served")
            t2 = time.monotonic()
            cli.append((t1 - t0) * 1000)
            propagation.append((t2 - t0) * 1000)
        peak_rss = rss_mib(proc.pid)
        return {
            "routes": routes,
            "route_tables": tables,
            "bulk_apply_s": round(bulk_s, 2),
            "propagation_ms_p50": round(statistics.median(propagation), 1),
            "propagation_ms_p99": round(nearest_rank(propagation, 0.99), 1),
            "propagation_ms_max": round(max(propagation), 1),
            "apply_cli_ms_p50": round(statistics.median(cli), 1),
            "rss_idle_mib": round(idle_rss, 1),
            "rss_loaded_mib": round(loaded_rss, 1),
            "rss_after_rounds_mib": round(peak_rss, 1),
            "rss_per_route_kib": round((loaded_rss - idle_rss) * 1024 / routes, 2),
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(scratch, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/lockgate")
    parser.add_argument("--sizes", default="5000,50000")
    parser.add_argument("--routes-per-table", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--bulk-timeout", type=float, default=900)
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} not found: cargo build --release -p lockgate")
    for size in [int(s) for s in args.sizes.split(",")]:
        result = measure(args.binary, size, args.routes_per_table, args.rounds, args.bulk_timeout)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
