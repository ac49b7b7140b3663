//! The controller against a real embedded store: debounce (paused time), last known good
//! restored before translation, statuses and policy state written back.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use lockgate_api::{Document, Kind, Resource, ResourceKey, decode_documents};
use lockgate_compiled::{CompiledConfig, VirtualHost};
use lockgate_controller::{
    Change, Controller, ControllerHandle, ControllerOptions, LastKnownGood, Origin,
    POLICY_STATE_BLOB,
};
use lockgate_store::{EmbeddedStore, Store, status_of};
use lockgate_translate::{PolicyState, State};
use tokio::sync::watch;

fn resource(yaml: &str) -> Resource {
    match decode_documents(yaml).pop() {
        Some(Ok(Document::Resource(resource))) => resource,
        other => panic!("test resource does not decode: {other:?}"),
    }
}

fn upstream(name: &str, port: u16) -> Resource {
    resource(&format!(
        "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {{name: {name}, namespace: echo}}\nspec:\n  static:\n    hosts: [{{addr: 127.0.0.1, port: {port}}}]\n"
    ))
}

fn virtual_service(upstream: &str) -> Resource {
    resource(&format!(
        r#"apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {{name: app, namespace: gloo-system}}
spec:
  virtualHost:
    domains: ["*"]
    routes:
      - matchers: [{{prefix: /echo}}]
        routeAction:
          single:
            upstream: {{name: {upstream}, namespace: echo}}
"#
    ))
}

fn vs_key() -> ResourceKey {
    ResourceKey::new(Kind::VirtualService, "gloo-system", "app")
}

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        Fixture { _dir: dir, path }
    }

    fn store(&self) -> Arc<dyn Store> {
        Arc::new(EmbeddedStore::open(&self.path).unwrap())
    }
}

fn options() -> ControllerOptions {
    ControllerOptions {
        debounce: Duration::from_millis(50),
        max_delay: Duration::from_millis(500),
    }
}

async fn start(store: Arc<dyn Store>) -> (Controller, Arc<ArcSwap<CompiledConfig>>) {
    let config = Arc::new(ArcSwap::from_pointee(CompiledConfig::default()));
    let controller = Controller::start(store, config.clone(), options())
        .await
        .unwrap();
    (controller, config)
}

/// Waits (bounded, in tokio time) until the publication generation reaches `generation`.
async fn published(handle: &ControllerHandle, generation: u64) {
    let mut publications = handle.publications();
    let reached = tokio::time::timeout(
        Duration::from_secs(30),
        publications.wait_for(|p| p.generation >= generation),
    )
    .await;
    assert!(reached.is_ok(), "publication {generation} did not come");
}

fn generation(publications: &watch::Receiver<lockgate_controller::Publication>) -> u64 {
    publications.borrow().generation
}

#[tokio::test(start_paused = true)]
async fn a_change_after_quiet_is_translated_at_once_and_a_burst_is_debounced() {
    let fixture = Fixture::new();
    let store = fixture.store();
    let (controller, _) = start(Arc::clone(&store)).await;
    let handle = controller.handle();
    published(&handle, 1).await;
    let publications = handle.publications();
    tokio::time::sleep(Duration::from_millis(200)).await;

    // After a quiet period, a change goes out without waiting for the debounce.
    let before = tokio::time::Instant::now();
    store.put(upstream("echo", 1000), None).await.unwrap();
    published(&handle, 2).await;
    assert_eq!(
        before.elapsed(),
        Duration::ZERO,
        "no debounce wait (paused time)"
    );

    // Three more writes 20 ms apart: each restarts the 50 ms quiet period.
    for port in [1001, 1002, 1003] {
        tokio::time::sleep(Duration::from_millis(20)).await;
        store.put(upstream("echo", port), None).await.unwrap();
        assert_eq!(generation(&publications), 2, "translated inside the burst");
    }
    // 40 ms after the last write: still inside the quiet period.
    tokio::time::sleep(Duration::from_millis(40)).await;
    assert_eq!(generation(&publications), 2);
    // Past 50 ms of quiet: exactly one translation for the three writes.
    tokio::time::sleep(Duration::from_millis(15)).await;
    published(&handle, 3).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        generation(&publications),
        3,
        "one translation for the burst"
    );
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn a_store_that_never_goes_quiet_is_still_translated() {
    let fixture = Fixture::new();
    let store = fixture.store();
    let (controller, _) = start(Arc::clone(&store)).await;
    let handle = controller.handle();
    published(&handle, 1).await;
    let publications = handle.publications();
    // A write every 30 ms for 600 ms: never 50 ms of quiet, but max_delay is 500 ms.
    for port in 0..20 {
        store
            .put(upstream("busy", 2000 + port), None)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    assert!(generation(&publications) >= 2, "max_delay bounds the wait");
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn statuses_and_policy_state_are_written_back() {
    let fixture = Fixture::new();
    let store = fixture.store();
    store.put(upstream("echo", 1000), None).await.unwrap();
    store.put(virtual_service("echo"), None).await.unwrap();
    let (controller, _) = start(Arc::clone(&store)).await;
    let handle = controller.handle();
    published(&handle, 1).await;

    let up = ResourceKey::new(Kind::Upstream, "echo", "echo");
    let status = wait_for_status(&store, &up, |s| s["state"] == "Accepted").await;
    assert_eq!(status["observedGeneration"], 1);
    assert!(handle.is_ready());

    let state = LastKnownGood::restore(store.as_ref())
        .await
        .0
        .expect("persisted");
    assert_eq!(
        *state.served,
        *handle.config(),
        "the persisted state is what is served"
    );

    // A route to an upstream that does not exist rejects the virtual service.
    store.put(virtual_service("echo-typo"), None).await.unwrap();
    let status = wait_for_status(&store, &vs_key(), |s| s["state"] == "Rejected").await;
    assert_eq!(status["observedGeneration"], 2);
    let reasons = status["reasons"].to_string();
    assert!(reasons.contains("echo-typo"), "{reasons}");
    controller.stop().await;
}

async fn wait_for_status(
    store: &Arc<dyn Store>,
    key: &ResourceKey,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    for _ in 0..200 {
        let stored = store.get(key).await.unwrap();
        if let Some(status) = stored.as_ref().and_then(status_of).filter(|s| wanted(s)) {
            return status.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stored = store.get(key).await.unwrap();
    panic!(
        "{key}: status never matched; last {:?}",
        stored.as_ref().and_then(status_of)
    );
}

#[tokio::test(start_paused = true)]
async fn the_last_known_good_is_served_before_anything_is_translated() {
    let fixture = Fixture::new();
    let store = fixture.store();
    let restored = CompiledConfig::new(
        vec![VirtualHost {
            name: "gloo-system.restored".into(),
            domains: vec!["restored.example".into()],
            routes: vec![],
            sources: Vec::new(),
        }],
        vec![],
    );
    let state = PolicyState {
        served: Arc::new(restored.clone()),
        ..PolicyState::default()
    };
    // As a version before the per-virtual-host records left it: one blob.
    store
        .put_blob(POLICY_STATE_BLOB, serde_json::to_vec(&state).unwrap())
        .await
        .unwrap();

    let config = Arc::new(ArcSwap::from_pointee(CompiledConfig::default()));
    let controller = Controller::start(Arc::clone(&store), config.clone(), options())
        .await
        .unwrap();
    let handle = controller.handle();
    // start() returned and the loop has not run yet (single-threaded runtime): the restored
    // configuration is already served and the gateway is ready.
    assert_eq!(*config.load_full(), restored);
    assert!(handle.is_ready());
    assert_eq!(handle.publications().borrow().origin, Origin::Restored);
    assert_eq!(handle.latest().generation, 0, "nothing translated yet");

    published(&handle, 2).await;
    assert_eq!(handle.publications().borrow().origin, Origin::Translated);
    controller.stop().await;
    // The first translation persisted records and deleted the old blob.
    assert_eq!(store.get_blob(POLICY_STATE_BLOB).await.unwrap(), None);
    let persisted = LastKnownGood::restore(store.as_ref()).await.0;
    assert_eq!(
        persisted.map(|s| s.served),
        Some(handle.config()),
        "the records hold what is served"
    );
    assert!(!store.list_blobs("lkg/").await.unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_restart_in_the_blocked_state_serves_the_same_configuration() {
    let fixture = Fixture::new();
    let served_before = {
        let store = fixture.store();
        store.put(upstream("echo", 1000), None).await.unwrap();
        store.put(virtual_service("echo"), None).await.unwrap();
        let (controller, config) = start(Arc::clone(&store)).await;
        let handle = controller.handle();
        published(&handle, 1).await;
        let good = config.load_full();
        assert_eq!(good.route_count(), 1, "the valid virtual service is served");
        // Now block it: the typo is stored (alwaysAccept) and the last known good stays.
        store.put(virtual_service("echo-typo"), None).await.unwrap();
        published(&handle, 2).await;
        assert_eq!(
            *config.load_full(),
            *good,
            "blocked: the last known good is served"
        );
        controller.stop().await;
        good
    };
    let store = fixture.store();
    let (controller, config) = start(Arc::clone(&store)).await;
    assert_eq!(
        *config.load_full(),
        *served_before,
        "restored before translating"
    );
    let handle = controller.handle();
    published(&handle, 2).await;
    assert_eq!(
        *config.load_full(),
        *served_before,
        "and still after translating"
    );
    assert_eq!(handle.latest().reports.state(&vs_key()), State::Rejected);
    controller.stop().await;
}

#[tokio::test(start_paused = true)]
async fn validation_sees_every_acknowledged_write_and_the_change() {
    let fixture = Fixture::new();
    let store = fixture.store();
    let (controller, _) = start(Arc::clone(&store)).await;
    let handle = controller.handle();
    published(&handle, 1).await;

    store.put(upstream("echo", 1000), None).await.unwrap();
    // Validated straight after the write: the mirror catches up first.
    let good = handle
        .validate(Change::Put(virtual_service("echo")))
        .await
        .unwrap();
    assert_eq!(good.after.state(&vs_key()), State::Accepted);
    assert!(
        good.snapshot
            .upstreams
            .contains_key(&("echo".into(), "echo".into()))
    );

    let typo = handle
        .validate(Change::Put(virtual_service("echo-typo")))
        .await
        .unwrap();
    assert_eq!(typo.after.state(&vs_key()), State::Rejected);
    assert!(typo.after.error_set().len() > typo.before.error_set().len());

    // Nothing validated was stored.
    assert_eq!(store.get(&vs_key()).await.unwrap(), None);
    controller.stop().await;
}

#[tokio::test]
async fn a_watched_directory_feeds_the_controller() {
    use lockgate_store::{DirStore, DirStoreOptions};
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        // Atomically, as editors and GitOps tools do.
        let temp = dir.path().join(format!(".{name}.tmp"));
        std::fs::write(&temp, text).unwrap();
        std::fs::rename(&temp, dir.path().join(name)).unwrap();
    };
    write(
        "upstream.yaml",
        "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: echo, namespace: echo}\nspec:\n  static:\n    hosts: [{addr: 127.0.0.1, port: 1000}]\n",
    );
    let options = DirStoreOptions {
        state_dir: None,
        resync: Duration::from_millis(200),
    };
    let store: Arc<dyn Store> = Arc::new(DirStore::open(dir.path(), options));
    let (controller, config) = start(Arc::clone(&store)).await;
    let handle = controller.handle();
    published(&handle, 1).await;
    assert_eq!(config.load().route_count(), 0);

    let vs = "apiVersion: gateway.solo.io/v1\nkind: VirtualService\nmetadata: {name: app, namespace: gloo-system}\nspec:\n  virtualHost:\n    domains: ['*']\n    routes:\n      - matchers: [{prefix: /echo}]\n        delegateAction: {ref: {name: echo-routes, namespace: echo}}\n";
    let rt = "apiVersion: gateway.solo.io/v1\nkind: RouteTable\nmetadata: {name: echo-routes, namespace: echo}\nspec:\n  routes:\n    - matchers: [{prefix: /echo}]\n      routeAction: {single: {upstream: {name: echo, namespace: echo}}}\n";
    write("rt.yaml", rt);
    write("vs.yaml", vs);
    let mut publications = handle.publications();
    let served = tokio::time::timeout(
        Duration::from_secs(30),
        publications.wait_for(|_| config.load().route_count() == 1),
    )
    .await
    .is_ok_and(|r| r.is_ok());
    assert!(served, "the route of the directory is served");

    // A typo in the route table's file: it is present and Rejected, the virtual service it
    // belongs to is frozen, and its last known good keeps serving.
    let generation = publications.borrow().generation;
    write("rt.yaml", &rt.replace("prefix:", "prefx:"));
    published(&handle, generation + 1).await;
    let rt_key = ResourceKey::new(Kind::RouteTable, "echo", "echo-routes");
    assert_eq!(handle.latest().reports.state(&rt_key), State::Rejected);
    let reasons = handle
        .latest()
        .reports
        .get(&rt_key)
        .map(|r| r.reasons())
        .unwrap_or_default();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("rt.yaml") && r.contains("prefx")),
        "{reasons:?}"
    );
    assert_eq!(
        config.load().route_count(),
        1,
        "the last known good is served"
    );
    controller.stop().await;
}
