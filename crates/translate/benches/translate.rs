//! Translation time and memory at 5,000 and 50,000 routes.
//!
//! The configuration is the seed's shape at scale: one virtual service delegating by selector to
//! one route table per team, each table with 50 routes doing a header canary and a weighted
//! split between two subsets of its own upstream. Criterion times `translate`; before that the
//! peak resident memory of one translation is printed (Linux), since the target is about memory
//! as much as time: 50,000 routes in under 250 ms and 200 MB on one core.

use criterion::{Criterion, criterion_group};
use lockgate_api::{Document, Snapshot};
use lockgate_translate::{PolicyState, translate};

const ROUTES_PER_TABLE: usize = 50;

fn config(routes: usize) -> Snapshot {
    let teams = routes / ROUTES_PER_TABLE;
    let mut yaml = String::from(
        "apiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {name: app, namespace: gloo-system}\nspec: {virtualHost: {domains: ['*'], routes: [{matchers: [{prefix: /}], delegateAction: {selector: {namespaces: ['*'], labels: {gateway: app}}}}]}}\n",
    );
    for t in 0..teams {
        yaml.push_str(&format!(
            "---\napiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {{name: svc, namespace: team{t}}}\nspec: {{kube: {{selector: {{app: svc}}, serviceNamespace: team{t}, subsetSpec: {{selectors: [{{keys: [version]}}]}}}}}}\n"
        ));
        for v in 1..=2 {
            yaml.push_str(&format!(
                "---\napiVersion: gloo.solo.io/v1\nkind: Endpoint\nmetadata: {{name: svc-v{v}, namespace: team{t}, labels: {{app: svc, version: v{v}}}}}\nspec: {{address: 127.0.0.{v}, port: {}}}\n",
                10000 + t
            ));
        }
        yaml.push_str(&format!("---\napiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: routes, namespace: team{t}, labels: {{gateway: app}}}}\nspec:\n  routes:\n"));
        for r in 0..ROUTES_PER_TABLE / 2 {
            yaml.push_str(&format!(
                "    - matchers: [{{prefix: /team{t}/svc{r}, headers: [{{name: stage, value: canary}}]}}]\n      routeAction: {{single: {{upstream: {{name: svc}}, subset: {{values: {{version: v2}}}}}}}}\n    - matchers: [{{prefix: /team{t}/svc{r}}}]\n      routeAction: {{multi: {{destinations: [{{weight: 90, destination: {{upstream: {{name: svc}}, subset: {{values: {{version: v1}}}}}}}}, {{weight: 10, destination: {{upstream: {{name: svc}}, subset: {{values: {{version: v2}}}}}}}}]}}}}\n"
            ));
        }
    }
    let resources = lockgate_api::decode_documents(&yaml).into_iter().map(|d| {
        match d.expect("bench config decodes") {
            Document::Resource(r) => r,
            Document::Skipped(s) => panic!("{s}"),
        }
    });
    Snapshot::from_resources(resources)
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("translate");
    group.sample_size(10);
    for routes in [5_000, 50_000] {
        let snapshot = config(routes);
        let outcome = translate(&snapshot, &PolicyState::default());
        assert_eq!(outcome.config.route_count(), routes);
        assert!(!outcome.reports.any_rejected());
        group.bench_function(format!("{routes} routes"), |b| {
            b.iter(|| translate(&snapshot, &PolicyState::default()))
        });
    }
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    // Memory first, in a fresh process state: one translation of the largest configuration.
    let before = peak_rss_mib();
    let snapshot = config(50_000);
    let after_decode = peak_rss_mib();
    let outcome = translate(&snapshot, &PolicyState::default());
    let after_translate = peak_rss_mib();
    if let (Some(a), Some(b), Some(c)) = (before, after_decode, after_translate) {
        println!(
            "memory: peak RSS {a:.0} MiB at start, {b:.0} MiB with 50,000 routes' resources decoded, {c:.0} MiB after translating them ({} routes, {} clusters)",
            outcome.config.route_count(),
            outcome.config.clusters.len()
        );
    }
    drop((outcome, snapshot));
    benches();
    Criterion::default().configure_from_args().final_summary();
}
