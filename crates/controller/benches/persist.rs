//! What persisting the last known good writes at 50,000 routes, before and after the records.
//!
//! Two shapes of 50,000 routes: 1,000 virtual services with a route table of 50 routes each,
//! and one virtual service delegating to 2,500 route tables of 20 routes. For each: the size
//! of the single `policy-state` blob older versions rewrote on every change, then what
//! [`LastKnownGood`] writes on the first persist and after a change to one route table, into a
//! real embedded store, once with its own limits and once with etcd's (64 operations and
//! 1 MiB per batch, not atomic). Run with `cargo bench -p lockgate-controller --bench persist`
//! (add `--profile dev` for a quick look; bytes do not depend on the profile, times do).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use lockgate_api::{Document, Snapshot};
use lockgate_controller::{LastKnownGood, Persisted};
use lockgate_store::{
    BlobBatch, BlobHook, BlobLimits, EmbeddedStore, Store, StoreError, WithBlobHook,
};
use lockgate_translate::{PolicyState, translate};

fn upstream(t: usize) -> String {
    let mut yaml = format!(
        "---\napiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {{name: svc, namespace: team{t}}}\nspec: {{kube: {{selector: {{app: svc}}, serviceNamespace: team{t}, subsetSpec: {{selectors: [{{keys: [version]}}]}}}}}}\n"
    );
    for v in 1..=2 {
        yaml.push_str(&format!(
            "---\napiVersion: gloo.solo.io/v1\nkind: Endpoint\nmetadata: {{name: svc-v{v}, namespace: team{t}, labels: {{app: svc, version: v{v}}}}}\nspec: {{address: 127.0.0.{v}, port: {}}}\n",
            10000 + t
        ));
    }
    yaml
}

/// Team `t`'s route table of `routes` routes (pairs: a header canary, then a 90/10 split, or
/// `canary`/100 - `canary` in the changed version).
fn route_table(t: usize, routes: usize, label: &str, canary: u32) -> String {
    let mut yaml = format!(
        "---\napiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {{name: routes, namespace: team{t}, labels: {{gateway: {label}}}}}\nspec:\n  routes:\n"
    );
    for r in 0..routes / 2 {
        yaml.push_str(&format!(
            "    - matchers: [{{prefix: /team{t}/svc{r}, headers: [{{name: stage, value: canary}}]}}]\n      routeAction: {{single: {{upstream: {{name: svc}}, subset: {{values: {{version: v2}}}}}}}}\n    - matchers: [{{prefix: /team{t}/svc{r}}}]\n      routeAction: {{multi: {{destinations: [{{weight: {}, destination: {{upstream: {{name: svc}}, subset: {{values: {{version: v1}}}}}}}}, {{weight: {canary}, destination: {{upstream: {{name: svc}}, subset: {{values: {{version: v2}}}}}}}}]}}}}\n",
            100 - canary
        ));
    }
    yaml
}

fn virtual_service(name: &str, domain: &str, label: &str) -> String {
    format!(
        "---\napiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {{name: {name}, namespace: gloo-system}}\nspec: {{virtualHost: {{domains: ['{domain}'], routes: [{{matchers: [{{prefix: /}}], delegateAction: {{selector: {{namespaces: ['*'], labels: {{gateway: {label}}}}}}}}}]}}}}\n"
    )
}

/// 1,000 virtual services of 50 routes (`many_hosts`) or one of 2,500 route tables of 20.
/// `changed` is the team whose route table moves its canary to 20%.
fn snapshot(many_hosts: bool, changed: Option<usize>) -> Snapshot {
    let (teams, routes) = if many_hosts { (1_000, 50) } else { (2_500, 20) };
    let mut yaml = String::new();
    if !many_hosts {
        yaml.push_str(&virtual_service("app", "*", "app"));
    }
    for t in 0..teams {
        let label = if many_hosts {
            format!("team{t}")
        } else {
            "app".into()
        };
        if many_hosts {
            yaml.push_str(&virtual_service(
                &format!("team{t}"),
                &format!("team{t}.example"),
                &label,
            ));
        }
        yaml.push_str(&upstream(t));
        let canary = if changed == Some(t) { 20 } else { 10 };
        yaml.push_str(&route_table(t, routes, &label, canary));
    }
    // Decoded a document at a time: the whole is more than one apply may hold.
    let resources = yaml
        .split("---\n")
        .filter(|doc| !doc.trim().is_empty())
        .flat_map(lockgate_api::decode_documents)
        .map(|d| match d.expect("bench config decodes") {
            Document::Resource(r) => r,
            Document::Skipped(s) => panic!("{s}"),
        });
    Snapshot::from_resources(resources)
}

/// The embedded store, reporting its own limits or etcd's, and counting what is written.
struct Counting {
    limits: Option<BlobLimits>,
    largest_batch: std::sync::Mutex<(usize, usize)>,
}

#[async_trait]
impl BlobHook for Counting {
    fn blob_limits(&self, inner: &dyn Store) -> BlobLimits {
        self.limits.unwrap_or_else(|| inner.blob_limits())
    }
    async fn write_blobs(&self, inner: &dyn Store, batch: BlobBatch) -> Result<(), StoreError> {
        {
            let mut largest = self.largest_batch.lock().unwrap();
            largest.0 = largest.0.max(batch.ops());
            largest.1 = largest.1.max(batch.bytes());
        }
        inner.write_blobs(batch).await
    }
}

fn kib(bytes: usize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

fn line(what: &str, p: &Persisted, ms: f64) -> String {
    format!(
        "  {what:<34} {:>5} records {:>11} in {:>3} batches, {:>4} deleted, largest record {:>9}, {:>4} lists cut, {:>4} serialised, {ms:>7.1} ms",
        p.records,
        kib(p.bytes),
        p.batches,
        p.deleted,
        kib(p.largest_record),
        p.cut,
        p.serialised,
    )
}

async fn measure(many_hosts: bool) {
    let shape = if many_hosts {
        "1,000 virtual services x 50 routes"
    } else {
        "1 virtual service, 2,500 route tables x 20 routes"
    };
    let before = snapshot(many_hosts, None);
    let after = snapshot(many_hosts, Some(7));
    let first = translate(&before, &PolicyState::default());
    let second = translate(&after, &first.state);
    assert_eq!(second.config.route_count(), 50_000);
    let (first, second) = (
        Arc::new(first.state.persistable(&before)),
        Arc::new(second.state.persistable(&after)),
    );

    let started = Instant::now();
    let legacy = serde_json::to_vec(second.as_ref())
        .expect("serialises")
        .len();
    let legacy_ms = started.elapsed().as_secs_f64() * 1e3;
    println!(
        "{shape}: {} routes, {} clusters",
        second.served.route_count(),
        second.served.clusters.len()
    );
    println!(
        "  before: one policy-state blob of {} rewritten on every change ({legacy_ms:.1} ms to serialise)",
        kib(legacy)
    );

    for (limits, name) in [
        (None, "embedded limits"),
        (Some(BlobLimits::default()), "etcd limits"),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = WithBlobHook::new(
            Arc::new(EmbeddedStore::open(dir.path().join("store.redb")).expect("store")),
            Counting {
                limits,
                largest_batch: Default::default(),
            },
        );
        println!("  after, {name} ({:?}):", store.blob_limits());
        let mut lkg = LastKnownGood::restore(&store).await.1;
        let started = Instant::now();
        let written = lkg
            .persist(&store, Arc::clone(&first))
            .await
            .expect("persists");
        println!(
            "{}",
            line(
                "first persist",
                &written,
                started.elapsed().as_secs_f64() * 1e3
            )
        );
        let started = Instant::now();
        let written = lkg
            .persist(&store, Arc::clone(&second))
            .await
            .expect("persists");
        println!(
            "{}",
            line(
                "one route table changed",
                &written,
                started.elapsed().as_secs_f64() * 1e3
            )
        );
        let started = Instant::now();
        let written = lkg
            .persist(&store, Arc::clone(&second))
            .await
            .expect("persists");
        println!(
            "{}",
            line(
                "nothing changed",
                &written,
                started.elapsed().as_secs_f64() * 1e3
            )
        );
        // What a translation of the same resources hands over: equal, but no longer shared.
        let copy = Arc::new(PolicyState {
            served: Arc::new(second.served.as_ref().clone()),
            ..second.as_ref().clone()
        });
        let started = Instant::now();
        let written = lkg.persist(&store, copy).await.expect("persists");
        println!(
            "{}",
            line(
                "nothing changed, an equal copy",
                &written,
                started.elapsed().as_secs_f64() * 1e3
            )
        );
        let started = Instant::now();
        let (restored, _) = LastKnownGood::restore(&store).await;
        let restore_ms = started.elapsed().as_secs_f64() * 1e3;
        assert_eq!(
            restored.as_ref(),
            Some(second.as_ref()),
            "restores what was persisted"
        );
        let manifest = store
            .get_blob("lkg/manifest")
            .await
            .unwrap()
            .unwrap_or_default()
            .len();
        let (ops, bytes) = *store.largest_batch.lock().unwrap();
        println!(
            "  manifest {}, largest batch {ops} operations / {}, restore {restore_ms:.1} ms",
            kib(manifest),
            kib(bytes)
        );
    }
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    measure(true).await;
    measure(false).await;
}
