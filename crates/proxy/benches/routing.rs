//! Routing cost at 10 and at 50,000 routes: the virtual host by authority, then the route.
//!
//! The 50,000 routes are the scale, translated from real resources: one virtual service
//! delegating `/` by selector to 2,500 route tables of 20 routes each (ten services a table,
//! each with a header-matched canary route before its default route, prefixes like
//! `/team-0042/svc-07`), plus 1,000 other virtual hosts of one route each. The 10 routes are one
//! such table of five services under one virtual service. Requests hit routes spread over every
//! table, a quarter of them with the canary header.
//!
//! Printed first: heap bytes of the compiled configuration and of the route indexes at 50,000
//! routes (a counting global allocator), and a rough ns-per-lookup of both sizes with their ratio
//! (the target is within 1.2x). Then criterion times the same lookups, and the linear scan
//! at 50,000 routes for comparison. Requests are spread uniformly over 50,000 routes, so the
//! large case also measures cache misses on the routes the matcher reads, which the 10 routes
//! never have; the instruction count (`ROUTING_INSTRUCTIONS`, below) leaves those out.
//!
//! The bench compiles the proxy's routing modules into itself (`#[path]`), since they are private
//! to the crate; it runs exactly the code the proxy runs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group};
use http::{HeaderMap, HeaderValue, Method};
use lockgate_api::{Document, Snapshot};
use lockgate_compiled::CompiledConfig;
use lockgate_translate::{PolicyState, translate};

use lockgate_proxy::fuzzing::Router;

/// Counts live heap bytes, to report what the configuration and the index hold.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only a counter is kept beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const DOMAIN: &str = "api.example.com";

/// One virtual service delegating to `tables` route tables of `services` pairs of routes each,
/// and `other_hosts` virtual hosts of one route.
fn snapshot(tables: usize, services: usize, other_hosts: usize) -> Snapshot {
    let mut yaml = format!(
        "apiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {{name: app, namespace: gloo-system}}\nspec: {{virtualHost: {{domains: ['{DOMAIN}'], routes: [{{matchers: [{{prefix: /}}], delegateAction: {{selector: {{namespaces: ['*'], labels: {{gateway: app}}}}}}}}]}}}}\n"
    );
    for h in 0..other_hosts {
        yaml.push_str(&format!(
            "---\napiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {{name: host-{h:04}, namespace: gloo-system}}\nspec: {{virtualHost: {{domains: [host-{h:04}.example.com], routes: [{{matchers: [{{prefix: /}}], directResponseAction: {{status: 200, body: ok}}}}]}}}}\n"
        ));
    }
    for t in 0..tables {
        yaml.push_str(&format!(
            "---\napiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {{name: svc, namespace: team-{t:04}}}\nspec: {{kube: {{selector: {{app: svc}}, serviceNamespace: team-{t:04}, subsetSpec: {{selectors: [{{keys: [version]}}]}}}}}}\n"
        ));
        for v in 1..=2 {
            yaml.push_str(&format!(
                "---\napiVersion: gloo.solo.io/v1\nkind: Endpoint\nmetadata: {{name: svc-v{v}, namespace: team-{t:04}, labels: {{app: svc, version: v{v}}}}}\nspec: {{address: 127.0.0.{v}, port: {}}}\n",
                10000 + t
            ));
        }
        yaml.push_str(&format!("---\napiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: routes, namespace: team-{t:04}, labels: {{gateway: app}}}}\nspec:\n  routes:\n"));
        for s in 0..services {
            yaml.push_str(&format!(
                "    - matchers: [{{prefix: /team-{t:04}/svc-{s:02}, headers: [{{name: stage, value: canary}}]}}]\n      routeAction: {{single: {{upstream: {{name: svc}}, subset: {{values: {{version: v2}}}}}}}}\n    - matchers: [{{prefix: /team-{t:04}/svc-{s:02}}}]\n      routeAction: {{multi: {{destinations: [{{weight: 90, destination: {{upstream: {{name: svc}}, subset: {{values: {{version: v1}}}}}}}}, {{weight: 10, destination: {{upstream: {{name: svc}}, subset: {{values: {{version: v2}}}}}}}}]}}}}\n"
            ));
        }
    }
    // Decoded a few thousand documents at a time: one text of 50,000 routes is over the
    // decoder's size limit.
    let mut resources = Vec::new();
    for chunk in yaml.split("---\n").collect::<Vec<_>>().chunks(2_000) {
        for document in lockgate_api::decode_documents(&chunk.join("---\n")) {
            match document.expect("bench config decodes") {
                Document::Resource(r) => resources.push(r),
                Document::Skipped(s) => panic!("{s}"),
            }
        }
    }
    Snapshot::from_resources(resources)
}

/// A translated configuration as the proxy's plan holds it.
struct Scale {
    router: Router,
    requests: Vec<Request>,
}

struct Request {
    path: String,
    headers: HeaderMap,
}

fn scale(tables: usize, services: usize, other_hosts: usize, report: bool) -> Scale {
    let snapshot = snapshot(tables, services, other_hosts);
    let outcome = translate(&snapshot, &PolicyState::default());
    assert!(!outcome.reports.any_rejected(), "bench config translates");
    drop(snapshot);
    let before = LIVE.load(Ordering::Relaxed);
    // Unshared, so that its bytes are counted alone.
    let config = std::sync::Arc::new(CompiledConfig::clone(&outcome.config));
    let config_bytes = LIVE.load(Ordering::Relaxed) - before;
    drop(outcome);
    let routes = config.route_count();
    let hosts = config.virtual_hosts.len();
    assert_eq!(routes, tables * services * 2 + other_hosts);
    let before = LIVE.load(Ordering::Relaxed);
    let router = Router::new(config);
    let plan_bytes = LIVE.load(Ordering::Relaxed) - before;
    if report {
        println!(
            "memory at {routes} routes ({hosts} virtual hosts): compiled configuration {:.1} MiB, the proxy's plan {:.1} MiB ({} bytes a route), {:.1} MiB in all",
            config_bytes as f64 / (1 << 20) as f64,
            plan_bytes as f64 / (1 << 20) as f64,
            plan_bytes / routes,
            (config_bytes + plan_bytes) as f64 / (1 << 20) as f64,
        );
    }
    // Spread over the tables and services by a fixed linear congruential sequence.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let requests = (0..1024)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let t = (x >> 33) as usize % tables;
            let s = (x >> 17) as usize % services;
            let mut headers = HeaderMap::new();
            headers.insert("user-agent", HeaderValue::from_static("bench"));
            if x & 3 == 0 {
                headers.insert("stage", HeaderValue::from_static("canary"));
            }
            Request {
                path: format!("/team-{t:04}/svc-{s:02}/items/{}", x % 1000),
                headers,
            }
        })
        .collect();
    Scale { router, requests }
}

/// What the proxy does per request: the virtual host, then the route through its index.
fn lookup(scale: &Scale, request: &Request) -> Option<(usize, usize)> {
    scale
        .router
        .route(&Method::GET, DOMAIN, &request.path, &request.headers)
}

/// The same by the linear scan of every route, as before the index.
fn lookup_scan(scale: &Scale, request: &Request) -> Option<(usize, usize)> {
    scale
        .router
        .scan(&Method::GET, DOMAIN, &request.path, &request.headers)
}

fn check(scale: &Scale) {
    for request in &scale.requests {
        let picked = lookup(scale, request);
        assert!(picked.is_some(), "{} routes", request.path);
        assert_eq!(picked, lookup_scan(scale, request));
    }
}

/// Nanoseconds a lookup, over about `budget` of repeated passes over the requests.
fn rough_ns(scale: &Scale, budget: Duration) -> f64 {
    let start = Instant::now();
    let mut lookups = 0u64;
    // Bounded: at most 100,000 passes even if the clock misbehaves.
    for _ in 0..100_000 {
        for request in &scale.requests {
            black_box(lookup(scale, black_box(request)));
        }
        lookups += scale.requests.len() as u64;
        if start.elapsed() >= budget {
            break;
        }
    }
    start.elapsed().as_nanos() as f64 / lookups as f64
}

fn bench(c: &mut Criterion) {
    let small = scale(1, 5, 0, false);
    let large = scale(2_500, 10, 1_000, false);
    let mut group = c.benchmark_group("routing");
    for (name, scale) in [("10 routes", &small), ("50,000 routes", &large)] {
        group.throughput(Throughput::Elements(scale.requests.len() as u64));
        group.bench_function(format!("{name}, indexed"), |b| {
            b.iter(|| {
                for request in &scale.requests {
                    black_box(lookup(scale, black_box(request)));
                }
            })
        });
    }
    group.throughput(Throughput::Elements(scale_requests_scanned() as u64));
    group.sample_size(10);
    group.bench_function("50,000 routes, linear scan", |b| {
        b.iter(|| {
            for request in &large.requests[..scale_requests_scanned()] {
                black_box(lookup_scan(&large, black_box(request)));
            }
        })
    });
    group.finish();
}

/// The scan of 50,000 routes is slow; a few requests are enough to see it.
fn scale_requests_scanned() -> usize {
    32
}

criterion_group!(benches, bench);

/// `passes` passes over the requests, kept out of line so that callgrind can count only it
/// (`--toggle-collect='*routing*passes*'`).
#[inline(never)]
fn passes(scale: &Scale, passes: usize) {
    for _ in 0..passes {
        for request in &scale.requests {
            black_box(lookup(scale, black_box(request)));
        }
    }
}

fn main() {
    // `ROUTING_INSTRUCTIONS=small|large` runs 100 passes of one case and nothing else, for an
    // instruction count that other processes on the machine cannot disturb:
    // valgrind --tool=callgrind --toggle-collect='*routing*passes*' target/release/deps/routing-*
    // (instructions a lookup = Ir / 102,400).
    if let Ok(case) = std::env::var("ROUTING_INSTRUCTIONS") {
        let scale = match case.as_str() {
            "large" => scale(2_500, 10, 1_000, false),
            // `ROUTING_SERVICES=n` for other small sizes (2n routes) than 10.
            _ => {
                let services = std::env::var("ROUTING_SERVICES").ok();
                scale(
                    1,
                    services.and_then(|s| s.parse().ok()).unwrap_or(5),
                    0,
                    false,
                )
            }
        };
        check(&scale);
        passes(&scale, 100);
        return;
    }
    let small = scale(1, 5, 0, false);
    let large = scale(2_500, 10, 1_000, true);
    check(&small);
    check(&large);
    let budget = Duration::from_millis(500);
    let (a, b) = (rough_ns(&small, budget), rough_ns(&large, budget));
    println!(
        "lookup (virtual host + route): {a:.0} ns at 10 routes, {b:.0} ns at 50,000 routes: {:.2}x",
        b / a
    );
    drop((small, large));
    benches();
    Criterion::default().configure_from_args().final_summary();
}
