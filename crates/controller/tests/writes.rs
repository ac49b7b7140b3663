//! The validated-write service against a real embedded store: a write validated against a
//! state that changed before it was stored is validated again (never stored on the old
//! validation), and two replicas racing conflicting changes never both win.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use arc_swap::ArcSwap;
use lockgate_api::{Document, Kind, Resource, ResourceKey, Snapshot, decode_documents};
use lockgate_compiled::CompiledConfig;
use lockgate_controller::{
    Controller, ControllerOptions, WRITE_ATTEMPTS, WriteError, WriteOptions, WriteResult,
};
use lockgate_store::{EmbeddedStore, Store};
use serde_json::json;

fn resource(yaml: &str) -> Resource {
    match decode_documents(yaml).pop() {
        Some(Ok(Document::Resource(resource))) => resource,
        other => panic!("test resource does not decode: {other:?}"),
    }
}

fn upstream(name: &str) -> Resource {
    resource(&format!(
        "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {{name: {name}, namespace: echo}}\nspec:\n  static:\n    hosts: [{{addr: 127.0.0.1, port: 1000}}]\n"
    ))
}

/// Team echo's route table, routing to its upstream `u`.
fn route_table() -> Resource {
    resource(
        r#"apiVersion: gateway.solo.io/v1
kind: RouteTable
metadata: {name: rt, namespace: echo}
spec:
  routes:
    - matchers: [{prefix: /echo}]
      routeAction:
        single:
          upstream: {name: u, namespace: echo}
"#,
    )
}

/// The virtual service that delegates to echo's route tables.
fn virtual_service() -> Resource {
    resource(
        r#"apiVersion: gateway.solo.io/v1
kind: VirtualService
metadata: {name: app, namespace: gloo-system}
spec:
  virtualHost:
    domains: ["*"]
    routes:
      - matchers: [{prefix: /echo}]
        delegateAction:
          selector: {namespaces: [echo]}
"#,
    )
}

fn strict_settings() -> Resource {
    resource(
        "apiVersion: gloo.solo.io/v1\nkind: Settings\nmetadata: {name: default, namespace: gloo-system}\nspec:\n  gateway:\n    validation: {alwaysAccept: false}\n",
    )
}

fn upstream_key(name: &str) -> ResourceKey {
    ResourceKey::new(Kind::Upstream, "echo", name)
}

fn rt_key() -> ResourceKey {
    ResourceKey::new(Kind::RouteTable, "echo", "rt")
}

struct Fixture {
    _dir: tempfile::TempDir,
    store: Arc<dyn Store>,
}

/// A store with Settings refusing invalid writes, upstream `echo.u` and the virtual service.
async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(EmbeddedStore::open(dir.path().join("store.redb")).unwrap());
    for resource in [strict_settings(), upstream("u"), virtual_service()] {
        store.put(resource, None).await.unwrap();
    }
    Fixture { _dir: dir, store }
}

/// A controller on `store`: one replica of the gateway.
async fn replica(store: &Arc<dyn Store>) -> Controller {
    let config = Arc::new(ArcSwap::from_pointee(CompiledConfig::default()));
    Controller::start(Arc::clone(store), config, ControllerOptions::default())
        .await
        .unwrap()
}

/// The errors translation finds in namespace echo, for everything stored.
async fn echo_errors(store: &dyn Store) -> Vec<(ResourceKey, String)> {
    let mut snapshot = Snapshot::default();
    for resource in store.list().await.unwrap().resources {
        snapshot.insert(resource);
    }
    lockgate_translate::validate(&snapshot)
        .error_set()
        .into_iter()
        .filter(|(key, _)| key.namespace == "echo")
        .map(|(key, problem)| (key, problem.to_string()))
        .collect()
}

#[tokio::test]
async fn a_write_whose_state_changed_before_it_was_stored_is_validated_again_and_refused() {
    let fixture = fixture().await;
    let controller = replica(&fixture.store).await;
    let writes = controller.handle().writes();
    let calls = AtomicU32::new(0);
    let store = Arc::clone(&fixture.store);
    let result = writes
        .put_with(&rt_key(), &WriteOptions::default(), |_| {
            let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
            let store = Arc::clone(&store);
            async move {
                if first {
                    // Another replica deletes the upstream after this write's snapshot was
                    // taken: the route table was valid against that snapshot, and is not now.
                    store.delete(&upstream_key("u"), None).await?;
                }
                Ok::<_, WriteError>(route_table())
            }
        })
        .await;
    let Err(WriteError::Refused(refused)) = result else {
        panic!("expected a refusal, got {result:?}");
    };
    assert!(
        refused.added_errors.iter().any(|(key, _)| *key == rt_key()),
        "{refused}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "prepared and validated twice"
    );
    assert_eq!(fixture.store.get(&rt_key()).await.unwrap(), None);
    assert_eq!(echo_errors(fixture.store.as_ref()).await, Vec::new());
    controller.stop().await;
}

#[tokio::test]
async fn a_write_that_still_holds_after_another_write_is_stored_on_the_next_attempt() {
    let fixture = fixture().await;
    let controller = replica(&fixture.store).await;
    let writes = controller.handle().writes();
    let calls = AtomicU32::new(0);
    let store = Arc::clone(&fixture.store);
    let written = writes
        .put_with(&rt_key(), &WriteOptions::default(), |_| {
            let first = calls.fetch_add(1, Ordering::SeqCst) == 0;
            let store = Arc::clone(&store);
            async move {
                if first {
                    store.put(upstream("other"), None).await?;
                }
                Ok::<_, WriteError>(route_table())
            }
        })
        .await
        .unwrap();
    assert_eq!(
        (written.result, written.attempts),
        (WriteResult::Created, 2)
    );
    assert!(
        written
            .validation
            .snapshot
            .upstreams
            .contains_key(&("echo".into(), "other".into())),
        "the write that was stored was validated against the other write"
    );
    assert_eq!(
        fixture.store.get(&rt_key()).await.unwrap().as_ref(),
        Some(&written.resource)
    );
    controller.stop().await;
}

#[tokio::test]
async fn status_writes_between_validation_and_write_cost_no_second_attempt() {
    let fixture = fixture().await;
    let controller = replica(&fixture.store).await;
    let writes = controller.handle().writes();
    let store = Arc::clone(&fixture.store);
    let written = writes
        .put_with(&rt_key(), &WriteOptions::default(), |_| {
            let store = Arc::clone(&store);
            async move {
                let status = json!({"state": "Accepted", "reasons": ["from a test"]});
                store
                    .put_statuses(vec![(upstream_key("u"), status)])
                    .await?;
                Ok::<_, WriteError>(route_table())
            }
        })
        .await
        .unwrap();
    assert_eq!(written.attempts, 1);
    controller.stop().await;
}

#[tokio::test]
async fn a_store_that_keeps_changing_gives_up_after_a_few_attempts_and_stores_nothing() {
    let fixture = fixture().await;
    let controller = replica(&fixture.store).await;
    let writes = controller.handle().writes();
    let calls = AtomicU32::new(0);
    let store = Arc::clone(&fixture.store);
    let result = writes
        .put_with(&rt_key(), &WriteOptions::default(), |_| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            let store = Arc::clone(&store);
            async move {
                store.put(upstream(&format!("churn-{n}")), None).await?;
                Ok::<_, WriteError>(route_table())
            }
        })
        .await;
    let Err(err @ WriteError::Contended { attempts, .. }) = result else {
        panic!("expected Contended, got {result:?}");
    };
    assert_eq!(attempts, WRITE_ATTEMPTS);
    assert_eq!(calls.load(Ordering::SeqCst), WRITE_ATTEMPTS);
    assert!(err.to_string().contains("retry"), "{err}");
    assert_eq!(fixture.store.get(&rt_key()).await.unwrap(), None);
    controller.stop().await;
}

#[tokio::test]
async fn a_dry_run_answers_with_what_the_store_would_keep_and_stores_nothing() {
    let fixture = fixture().await;
    let controller = replica(&fixture.store).await;
    let writes = controller.handle().writes();
    let dry_run = WriteOptions {
        dry_run: true,
        ..WriteOptions::default()
    };
    // The content revision: the controller's own status writes may land meanwhile.
    let revision = fixture.store.content_revision().await.unwrap();
    let would = writes.put(route_table(), &dry_run).await.unwrap();
    assert_eq!(would.result, WriteResult::Created);
    assert_eq!(would.resource.metadata().generation, Some(1));
    assert!(would.resource.metadata().creation_timestamp.is_some());
    let deleted = writes.delete(&upstream_key("u"), &dry_run).await.unwrap();
    assert_eq!(deleted.result, WriteResult::Deleted);
    assert_eq!(fixture.store.content_revision().await.unwrap(), revision);
    assert!(
        fixture
            .store
            .get(&upstream_key("u"))
            .await
            .unwrap()
            .is_some()
    );
    controller.stop().await;
}

fn outcome(result: &Result<lockgate_controller::Written, WriteError>) -> String {
    match result {
        Ok(written) => format!(
            "{} on attempt {}",
            written.result.as_str(),
            written.attempts
        ),
        Err(err) => format!("failed: {err}"),
    }
}

/// Two replicas of the gateway on one store, each with its own write service (so its own
/// write queue: only the store's precondition stands between them). Every round, one deletes
/// upstream `u` while the other creates a route table routing to it: each is valid against
/// the state both read, and the two together are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_racing_conflicting_writes_never_both_win() {
    const ROUNDS: usize = 30;
    let fixture = fixture().await;
    let (one, two) = (replica(&fixture.store).await, replica(&fixture.store).await);
    let (deleter, putter) = (one.handle().writes(), two.handle().writes());
    let mut wins = [0usize; 2];
    for round in 0..ROUNDS {
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let delete = {
            let (writes, barrier) = (deleter.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                writes
                    .delete(&upstream_key("u"), &WriteOptions::default())
                    .await
            })
        };
        let put = {
            let (writes, barrier) = (putter.clone(), Arc::clone(&barrier));
            tokio::spawn(async move {
                barrier.wait().await;
                writes.put(route_table(), &WriteOptions::default()).await
            })
        };
        let (deleted, put) = (delete.await.unwrap(), put.await.unwrap());
        let lost = |result: &Result<_, WriteError>| {
            matches!(
                result,
                Err(WriteError::Refused(_) | WriteError::Contended { .. })
            )
        };
        match (&deleted, &put) {
            (Ok(_), other) if lost(other) => wins[0] += 1,
            (other, Ok(_)) if lost(other) => wins[1] += 1,
            _ => panic!(
                "round {round}: exactly one must win: delete {}, put {}",
                outcome(&deleted),
                outcome(&put)
            ),
        }
        let errors = echo_errors(fixture.store.as_ref()).await;
        assert_eq!(
            errors,
            Vec::new(),
            "round {round}: an invalid state was stored"
        );

        // Back to the start: the upstream, no route table.
        let store = &fixture.store;
        if store.get(&rt_key()).await.unwrap().is_some() {
            store.delete(&rt_key(), None).await.unwrap();
        }
        store.put(upstream("u"), None).await.unwrap();
    }
    assert_eq!(wins[0] + wins[1], ROUNDS);
    one.stop().await;
    two.stop().await;
}

/// The translation a stored write was validated with is the one published: the controller does
/// not translate the same snapshot again, and what it publishes is what a fresh translation of
/// the store gives.
#[tokio::test]
async fn a_stored_write_is_published_from_its_own_validation() {
    let fixture = fixture().await;
    let controller = replica(&fixture.store).await;
    let handle = controller.handle();
    let mut publications = handle.publications();
    publications.wait_for(|p| p.generation >= 1).await.unwrap();
    let reused = handle.metrics().prepared_publishes.get();

    let written = handle
        .writes()
        .put(route_table(), &WriteOptions::default())
        .await
        .unwrap();
    assert_eq!(written.result, WriteResult::Created);
    let published = tokio::time::timeout(
        std::time::Duration::from_secs(30),
        publications.wait_for(|p| p.generation >= 2),
    )
    .await;
    assert!(published.is_ok(), "the write was never published");
    assert_eq!(handle.metrics().prepared_publishes.get(), reused + 1);

    let mut snapshot = Snapshot::default();
    for resource in fixture.store.list().await.unwrap().resources {
        snapshot.insert(resource);
    }
    let fresh = lockgate_translate::translate(&snapshot, &Default::default());
    assert_eq!(*handle.config(), *fresh.config);
    assert_eq!(*handle.latest().reports, fresh.reports);
    controller.stop().await;
}
