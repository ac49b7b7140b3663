//! Translation time and memory at 5,000 and 50,000 routes.
//!
//! The configuration is the seed's shape at scale: one virtual service delegating by selector to
//! one route table per team, each table with 50 routes doing a header canary and a weighted
//! split between two subsets of its own upstream. Criterion times `translate`; before that the
//! peak resident memory of one translation is printed (Linux), since the target is about memory
//! as much as time: 50,000 routes in under 250 ms and 200 MB on one core.
//!
//! "one route table changed" times what the controller pays per write: the same configuration
//! with one team's table edited, translated afresh and by a warm `Translator`, at the seed's shape
//! and at tables of 10 routes (many teams, each change a small part of the whole). What a warm
//! `Translator` keeps between calls is printed too (live heap bytes, counted by the allocator).

use std::alloc::{GlobalAlloc, Layout};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use criterion::{Criterion, criterion_group};
use lockgate_api::{Document, Snapshot};
use lockgate_translate::{PolicyState, Translator, translate};
use mimalloc::MiMalloc;

/// The seed's shape: few teams with many routes each.
const ROUTES_PER_TABLE: usize = 50;
/// Many small teams: where a change to one table is a small part of the whole.
const SMALL_TABLES: usize = 10;

fn config(routes: usize) -> Snapshot {
    config_of(routes, ROUTES_PER_TABLE)
}

fn config_of(routes: usize, per_table: usize) -> Snapshot {
    let teams = routes / per_table;
    // Decoded a team at a time: one document stream of everything would pass the decoder's
    // size bound.
    let mut documents = vec![String::from(
        "apiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {name: app, namespace: gloo-system}\nspec: {virtualHost: {domains: ['*'], routes: [{matchers: [{prefix: /}], delegateAction: {selector: {namespaces: ['*'], labels: {gateway: app}}}}]}}\n",
    )];
    for t in 0..teams {
        let mut yaml = String::new();
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
        for r in 0..per_table / 2 {
            yaml.push_str(&format!(
                "    - matchers: [{{prefix: /team{t}/svc{r}, headers: [{{name: stage, value: canary}}]}}]\n      routeAction: {{single: {{upstream: {{name: svc}}, subset: {{values: {{version: v2}}}}}}}}\n    - matchers: [{{prefix: /team{t}/svc{r}}}]\n      routeAction: {{multi: {{destinations: [{{weight: 90, destination: {{upstream: {{name: svc}}, subset: {{values: {{version: v1}}}}}}}}, {{weight: 10, destination: {{upstream: {{name: svc}}, subset: {{values: {{version: v2}}}}}}}}]}}}}\n"
            ));
        }
        documents.push(yaml);
    }
    let resources = documents.iter().flat_map(|yaml| {
        lockgate_api::decode_documents(yaml).into_iter().map(|d| {
            match d.expect("bench config decodes") {
                Document::Resource(r) => r,
                Document::Skipped(s) => panic!("{s}"),
            }
        })
    });
    Snapshot::from_resources(resources)
}

/// `snapshot` with one route table's first split changed (90/10 to 80/20 and back), as one
/// team's edit would: every other resource is shared with `snapshot`.
fn with_table_changed(snapshot: &Snapshot, team: usize) -> Snapshot {
    let mut changed = snapshot.clone();
    let id = (format!("team{team}"), "routes".to_string());
    let mut table = (*changed.route_tables[&id]).clone();
    if let Some(multi) = table.spec.routes[1]
        .route_action
        .as_mut()
        .and_then(|a| a.multi.as_mut())
    {
        let first = &mut multi.destinations[0].weight;
        *first = if *first == 90 { 80 } else { 90 };
        multi.destinations[1].weight = 100 - *first;
    }
    changed.route_tables.insert(id, Arc::new(table));
    changed
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Counts live heap bytes, so that what the [`Translator`] keeps between calls is measured
/// exactly rather than read off the resident set. Allocates with mimalloc, as the `lockgate`
/// binary does: with glibc's malloc, freeing the last outcome's million small allocations
/// costs as much as translating.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to mimalloc unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is the allocator's.
        unsafe { MiMalloc.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { MiMalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { MiMalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

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

/// One route table changed between calls, at both shapes: a fresh `translate` against a warm
/// `Translator`, each alternating between the two generations of the table.
fn bench_one_table_changed(c: &mut Criterion) {
    let mut group = c.benchmark_group("one route table changed");
    group.sample_size(20);
    for per_table in [SMALL_TABLES, ROUTES_PER_TABLE] {
        for routes in [5_000, 50_000] {
            let teams = routes / per_table;
            let snapshots = [config_of(routes, per_table), {
                let base = config_of(routes, per_table);
                with_table_changed(&base, teams / 2)
            }];
            let previous = translate(&snapshots[0], &PolicyState::default()).state;
            let mut translator = Translator::default();
            for s in &snapshots {
                let warm = translator.translate(s, &previous);
                assert_eq!(warm, translate(s, &previous));
                assert_eq!(warm.config.route_count(), routes);
            }
            let name = format!("{routes} routes, {per_table} per table");
            let mut turn = 0;
            group.bench_function(format!("{name}/translate"), |b| {
                b.iter(|| {
                    turn ^= 1;
                    translate(&snapshots[turn], &previous)
                })
            });
            group.bench_function(format!("{name}/Translator"), |b| {
                b.iter(|| {
                    turn ^= 1;
                    translator.translate(&snapshots[turn], &previous)
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench, bench_one_table_changed);

/// What a warm [`Translator`] keeps between calls at 50,000 routes in tables of 10.
fn translator_memory() {
    let snapshot = config_of(50_000, SMALL_TABLES);
    let outcome = translate(&snapshot, &PolicyState::default());
    let before = LIVE.load(Ordering::Relaxed);
    let mut translator = Translator::default();
    drop(translator.translate(&snapshot, &outcome.state));
    let kept = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    println!(
        "memory: a warm Translator keeps {:.1} MiB at 50,000 routes ({} draft routes, {} clusters interned); the outcome it gives holds {:.1} MiB",
        kept as f64 / (1024.0 * 1024.0),
        translator.remembered_routes(),
        translator.interned_clusters(),
        {
            let before = LIVE.load(Ordering::Relaxed);
            let again = translate(&snapshot, &outcome.state);
            let held = LIVE.load(Ordering::Relaxed).saturating_sub(before);
            drop(again);
            held as f64 / (1024.0 * 1024.0)
        }
    );
}

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
    translator_memory();
    benches();
    Criterion::default().configure_from_args().final_summary();
}
