//! The embedded store: revisions, generations, conditional writes, watch, durability.

mod common;

use std::time::Duration;

use common::{resource, upstream};
use lockgate_api::{Kind, ResourceKey, SYSTEM_NAMESPACE, Settings};
use lockgate_store::{
    EmbeddedStore, PutResult, Revision, Store, StoreError, WatchEvent, status_of,
};
use serde_json::json;

fn open(dir: &tempfile::TempDir) -> EmbeddedStore {
    EmbeddedStore::open(dir.path().join("store.redb")).expect("store opens")
}

fn key(name: &str) -> ResourceKey {
    ResourceKey::new(Kind::Upstream, "echo", name)
}

fn rv(resource: &lockgate_api::Resource) -> String {
    resource
        .metadata()
        .resource_version
        .clone()
        .unwrap_or_default()
}

#[tokio::test]
async fn first_start_holds_the_default_settings() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let listing = store.list().await.unwrap();
    assert_eq!(listing.revision, Revision(1));
    assert_eq!(listing.resources.len(), 1);
    let settings_key = ResourceKey::new(Kind::Settings, SYSTEM_NAMESPACE, "default");
    let stored = store
        .get(&settings_key)
        .await
        .unwrap()
        .expect("settings exist");
    assert_eq!(
        stored.spec_json(),
        lockgate_api::Resource::Settings(Settings::default()).spec_json()
    );
    assert_eq!(stored.metadata().generation, Some(1));

    // Deleting them is allowed, and a restart does not bring them back behind the user's back.
    store.delete(&settings_key, None).await.unwrap();
    drop(store);
    let store = open(&dir);
    assert_eq!(store.get(&settings_key).await.unwrap(), None);
}

#[tokio::test]
async fn revisions_and_generations_follow_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);

    let created = store.put(upstream("echo", 1000), None).await.unwrap();
    assert_eq!(created.result, PutResult::Created);
    assert_eq!(created.resource.metadata().generation, Some(1));
    assert_eq!(rv(&created.resource), "2");

    let same = store.put(upstream("echo", 1000), None).await.unwrap();
    assert_eq!(same.result, PutResult::Unchanged);
    assert_eq!(rv(&same.resource), "2", "an unchanged write stores nothing");
    assert_eq!(store.revision().await.unwrap(), Revision(2));

    let changed = store.put(upstream("echo", 2000), None).await.unwrap();
    assert_eq!(changed.result, PutResult::Configured);
    assert_eq!(changed.resource.metadata().generation, Some(2));
    assert_eq!(rv(&changed.resource), "3");

    // Labels are stored (selectors read them) but are not the spec: same generation.
    let mut labelled = upstream("echo", 2000);
    labelled
        .metadata_mut()
        .labels
        .insert("team".into(), "echo".into());
    let relabelled = store.put(labelled, None).await.unwrap();
    assert_eq!(relabelled.result, PutResult::Configured);
    assert_eq!(relabelled.resource.metadata().generation, Some(2));
    assert_eq!(rv(&relabelled.resource), "4");

    // What the client says about resourceVersion and generation is not what gets stored.
    let mut forged = upstream("echo", 3000);
    forged.metadata_mut().generation = Some(99);
    let stored = store.put(forged, None).await.unwrap();
    assert_eq!(stored.resource.metadata().generation, Some(3));
}

#[tokio::test]
async fn conditional_writes_conflict_on_a_stale_resource_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let first = store.put(upstream("echo", 1000), None).await.unwrap();
    let version = rv(&first.resource);

    let ok = store
        .put(upstream("echo", 2000), Some(&version))
        .await
        .unwrap();
    assert_eq!(ok.result, PutResult::Configured);

    let stale = store.put(upstream("echo", 3000), Some(&version)).await;
    assert!(
        matches!(stale, Err(StoreError::Conflict { .. })),
        "{stale:?}"
    );
    let missing = store.put(upstream("nope", 3000), Some("1")).await;
    assert!(
        matches!(missing, Err(StoreError::Conflict { actual: None, .. })),
        "{missing:?}"
    );
    let stale_delete = store.delete(&key("echo"), Some(&version)).await;
    assert!(matches!(stale_delete, Err(StoreError::Conflict { .. })));

    // Nothing of the refused writes was stored.
    let stored = store.get(&key("echo")).await.unwrap().unwrap();
    assert_eq!(stored, ok.resource);
    assert_eq!(store.get(&key("nope")).await.unwrap(), None);

    let gone = store
        .delete(&key("echo"), Some(&rv(&ok.resource)))
        .await
        .unwrap();
    assert_eq!(gone, ok.resource);
    assert!(matches!(
        store.delete(&key("echo"), None).await,
        Err(StoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn statuses_are_kept_across_spec_writes_and_bump_the_resource_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.put(upstream("echo", 1000), None).await.unwrap();
    let status = json!({"state": "Accepted", "reasons": [], "observedGeneration": 1});
    store
        .put_statuses(vec![
            (key("echo"), status.clone()),
            (key("absent"), status.clone()),
        ])
        .await
        .unwrap();
    let with_status = store.get(&key("echo")).await.unwrap().unwrap();
    assert_eq!(status_of(&with_status), Some(&status));
    assert_eq!(rv(&with_status), "3");
    assert_eq!(store.get(&key("absent")).await.unwrap(), None);

    // The same status again writes nothing.
    store
        .put_statuses(vec![(key("echo"), status.clone())])
        .await
        .unwrap();
    assert_eq!(store.revision().await.unwrap(), Revision(3));

    // A client's spec write keeps the controller's status.
    let mut with_client_status = upstream("echo", 2000);
    lockgate_store::set_status(&mut with_client_status, Some(json!({"state": "forged"})));
    let replaced = store.put(with_client_status, None).await.unwrap();
    assert_eq!(status_of(&replaced.resource), Some(&status));
}

async fn next(watch: &mut lockgate_store::Watch) -> WatchEvent {
    tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("an event within 5 s")
}

#[tokio::test]
async fn watch_yields_every_change_after_a_revision_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let start = store.list().await.unwrap().revision;
    let mut watch = store.watch(start).await.unwrap();

    let created = store.put(upstream("a", 1), None).await.unwrap().resource;
    store.put(upstream("a", 1), None).await.unwrap(); // unchanged: no event
    let replaced = store.put(upstream("a", 2), None).await.unwrap().resource;
    store.delete(&key("a"), None).await.unwrap();

    assert_eq!(
        next(&mut watch).await,
        WatchEvent::Put {
            resource: created,
            revision: Revision(2)
        }
    );
    assert_eq!(
        next(&mut watch).await,
        WatchEvent::Put {
            resource: replaced,
            revision: Revision(3)
        }
    );
    assert_eq!(
        next(&mut watch).await,
        WatchEvent::Delete {
            key: key("a"),
            revision: Revision(4)
        }
    );

    // A new process has no history from before it started: watching from there asks to relist.
    drop(watch);
    drop(store);
    let store = open(&dir);
    let mut stale = store.watch(Revision(2)).await.unwrap();
    assert_eq!(next(&mut stale).await, WatchEvent::Relist);
}

#[tokio::test]
async fn list_kind_filters_and_sorts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.put(upstream("b", 1), None).await.unwrap();
    store.put(upstream("a", 1), None).await.unwrap();
    let other_ns = resource(
        "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {name: z, namespace: aaa}\nspec: {}\n",
    );
    store.put(other_ns, None).await.unwrap();
    let names = |v: Vec<lockgate_api::Resource>| {
        v.iter()
            .map(|r| r.key().qualified_name())
            .collect::<Vec<_>>()
    };
    let all = store.list_kind(Kind::Upstream, None).await.unwrap();
    assert_eq!(names(all), ["aaa.z", "echo.a", "echo.b"]);
    let echo = store.list_kind(Kind::Upstream, Some("echo")).await.unwrap();
    assert_eq!(names(echo), ["echo.a", "echo.b"]);
    assert!(
        store
            .list_kind(Kind::RouteTable, None)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn blobs_survive_a_restart_and_a_second_process_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    assert_eq!(store.get_blob("policy-state").await.unwrap(), None);
    store
        .put_blob("policy-state", b"{\"a\":1}".to_vec())
        .await
        .unwrap();
    let second = EmbeddedStore::open(dir.path().join("store.redb"));
    assert!(matches!(second, Err(StoreError::InUse { .. })));
    drop(store);
    let store = open(&dir);
    assert_eq!(
        store.get_blob("policy-state").await.unwrap(),
        Some(b"{\"a\":1}".to_vec())
    );
}

#[tokio::test]
async fn blob_batches_are_atomic_transactions_that_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    assert!(store.blob_limits().atomic);
    common::blob_batches_put_delete_list_and_read(&store).await;
    drop(store);
    let store = open(&dir);
    assert_eq!(
        store.list_blobs("lkg/routes/").await.unwrap(),
        ["lkg/routes/bb", "lkg/routes/cc"]
    );
}

#[tokio::test]
async fn creation_time_is_the_stores_and_survives_updates_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let created_at = |r: &lockgate_api::Resource| r.metadata().creation_timestamp.clone();
    let mut backdated = upstream("echo", 1000);
    backdated.metadata_mut().creation_timestamp = Some("1970-01-01T00:00:00Z".into());
    let created = store.put(backdated, None).await.unwrap().resource;
    let stamp = created_at(&created).expect("the store sets a creation time");
    assert_ne!(
        stamp, "1970-01-01T00:00:00Z",
        "the client's value is ignored"
    );
    assert!(stamp.ends_with('Z') && stamp.len() == "2026-12-01T23:16:28.123456Z".len());

    let mut changed = upstream("echo", 2000);
    changed.metadata_mut().creation_timestamp = Some("1970-01-01T00:00:00Z".into());
    let updated = store.put(changed, None).await.unwrap().resource;
    assert_eq!(created_at(&updated).as_ref(), Some(&stamp));
    drop(store);
    let store = open(&dir);
    let stored = store.get(&key("echo")).await.unwrap().unwrap();
    assert_eq!(created_at(&stored).as_ref(), Some(&stamp));
    // And clients see it, as in `get -o yaml`.
    assert_eq!(
        stored.to_json()["metadata"]["creationTimestamp"],
        json!(stamp)
    );
}
