#!/usr/bin/env python3
"""Control-plane benchmark: propagation time and memory per route at 5,000 and 50,000 routes.

Starts `lockgate serve` (release build) on 127.0.0.1 with a fresh embedded store, loads one
virtual service delegating by selector to route tables of 1,000 routes each (direct responses, so no
backend is involved), then measures, several times at each size:

- propagation: from the admin API acknowledging a PUT of one changed route table (the "accepted
  change") to the first proxy answer carrying the new body, polled on a keep-alive connection;
- write latency: how long that PUT itself takes (it validates the change against everything stored);
- memory: the gateway's resident set size, and per route.

Published figures to compare with (DESIGN.md): agentgateway 10-30 ms propagation and about 40 MB
at 5,000 routes; Envoy-based gateways 0.1-2 s and 1-2 GB.

Usage: python3 bench/controlplane.py [--binary target/release/lockgate] [--sizes 5000,50000]
Every loop is bounded in count and time; all traffic stays on 127.0.0.1.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROUTES_PER_TABLE = 1000


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def route_table(team, version):
    routes = [
        {
            "matchers": [{"prefix": f"/team{team}/svc{r}"}],
            "directResponseAction": {"status": 200, "body": f"team{team}-svc{r}-{version}"},
        }
        for r in range(ROUTES_PER_TABLE)
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


def put(admin, path, body):
    conn = http.client.HTTPConnection(*admin, timeout=120)
    conn.request("PUT", path, json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    if resp.status not in (200, 201):
        raise RuntimeError(f"PUT {path}: {resp.status} {data[:300]!r}")


def rt_path(team):
    return f"/apis/gateway.solo.io/v1/namespaces/team{team}/routetables/routes"


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


def measure(binary, routes, rounds):
    tables = routes // ROUTES_PER_TABLE
    listen, admin_port = free_port(), free_port()
    state = tempfile.mkdtemp(prefix="lockgate-bench-")
    # LOCKGATE_BENCH_WRAPPER runs the gateway under a profiler (e.g. valgrind --tool=massif).
    wrapper = os.environ.get("LOCKGATE_BENCH_WRAPPER", "").split()
    proc = subprocess.Popen(
        wrapper + [binary, "serve", "--listen", f"127.0.0.1:{listen}", "--admin", f"127.0.0.1:{admin_port}",
         "--state-dir", state, "--workers", "1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    admin = ("127.0.0.1", admin_port)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                socket.create_connection(admin, timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        idle_rss = rss_mib(proc.pid)
        started = time.monotonic()
        put(admin, "/apis/gateway.solo.io/v1/namespaces/gloo-system/virtualservices/app", VIRTUAL_SERVICE)
        for t in range(tables):
            put(admin, rt_path(t), route_table(t, "v0"))
        proxy = http.client.HTTPConnection("127.0.0.1", listen, timeout=10)
        last = f"/team{tables - 1}/svc{ROUTES_PER_TABLE - 1}"
        if not wait_for(proxy, last, f"team{tables - 1}-svc{ROUTES_PER_TABLE - 1}-v0", time.monotonic() + 300):
            raise RuntimeError("initial configuration never served")
        load_s = time.monotonic() - started
        loaded_rss = rss_mib(proc.pid)

        propagation, writes = [], []
        for i in range(1, rounds + 1):
            team = i % tables
            body = route_table(team, f"v{i}")
            t0 = time.monotonic()
            put(admin, rt_path(team), body)
            t1 = time.monotonic()
            path = f"/team{team}/svc{ROUTES_PER_TABLE // 2}"
            if not wait_for(proxy, path, f"team{team}-svc{ROUTES_PER_TABLE // 2}-v{i}", t1 + 30):
                raise RuntimeError(f"change {i} never served")
            t2 = time.monotonic()
            writes.append((t1 - t0) * 1000)
            propagation.append((t2 - t1) * 1000)
        return {
            "routes": routes,
            "initial_load_s": round(load_s, 2),
            "write_ms_median": round(statistics.median(writes), 1),
            "propagation_ms_median": round(statistics.median(propagation), 1),
            "propagation_ms_max": round(max(propagation), 1),
            "rss_idle_mib": round(idle_rss, 1),
            "rss_loaded_mib": round(loaded_rss, 1),
            "rss_per_route_kib": round((loaded_rss - idle_rss) * 1024 / routes, 2),
        }
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/lockgate")
    parser.add_argument("--sizes", default="5000,50000")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} not found: cargo build --release -p lockgate")
    for size in [int(s) for s in args.sizes.split(",")]:
        print(json.dumps(measure(args.binary, size, args.rounds)), flush=True)


if __name__ == "__main__":
    main()
