//! The content revision and the write precondition on it, in the embedded store: resource
//! writes move it, status and blob writes do not, and a write validated at an older one
//! stores nothing.

mod common;

use std::time::Duration;

use common::upstream;
use lockgate_api::{Kind, ResourceKey};
use lockgate_store::{
    EmbeddedStore, Precondition, PutResult, Revision, Store, StoreError, WatchEvent,
};
use serde_json::json;

fn open(dir: &tempfile::TempDir) -> EmbeddedStore {
    EmbeddedStore::open(dir.path().join("store.redb")).expect("store opens")
}

fn key(name: &str) -> ResourceKey {
    ResourceKey::new(Kind::Upstream, "echo", name)
}

fn at(content_revision: Revision) -> Precondition {
    Precondition {
        resource_version: None,
        content_revision: Some(content_revision),
        creation_time: None,
    }
}

async fn revisions(store: &EmbeddedStore) -> (Revision, Revision) {
    (
        store.revision().await.unwrap(),
        store.content_revision().await.unwrap(),
    )
}

#[tokio::test]
async fn resource_writes_move_the_content_revision_and_status_and_blob_writes_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    // The default Settings are the first resource write.
    assert_eq!(revisions(&store).await, (Revision(1), Revision(1)));

    store.put(upstream("echo", 1000), None).await.unwrap();
    assert_eq!(revisions(&store).await, (Revision(2), Revision(2)));

    let status = json!({"state": "Accepted", "reasons": [], "observedGeneration": 1});
    store
        .put_statuses(vec![(key("echo"), status)])
        .await
        .unwrap();
    assert_eq!(
        revisions(&store).await,
        (Revision(3), Revision(2)),
        "a status write moves the revision only"
    );

    store
        .put_blob("policy-state", b"{}".to_vec())
        .await
        .unwrap();
    store.put(upstream("echo", 1000), None).await.unwrap(); // unchanged: nothing written
    assert_eq!(revisions(&store).await, (Revision(3), Revision(2)));

    let listing = store.list().await.unwrap();
    assert_eq!(
        (listing.revision, listing.content_revision),
        (Revision(3), Revision(2))
    );

    store.delete(&key("echo"), None).await.unwrap();
    assert_eq!(revisions(&store).await, (Revision(4), Revision(4)));

    // Both are kept across a restart.
    drop(store);
    let store = open(&dir);
    assert_eq!(revisions(&store).await, (Revision(4), Revision(4)));
    let listing = store.list().await.unwrap();
    assert_eq!(listing.content_revision, Revision(4));
}

#[tokio::test]
async fn a_write_validated_at_an_older_content_revision_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let validated_at = store.content_revision().await.unwrap();
    store.put(upstream("other", 1), None).await.unwrap();
    let before = revisions(&store).await;

    let put = store
        .put_if(upstream("echo", 1000), &at(validated_at))
        .await;
    match put {
        Err(StoreError::StaleValidation {
            validated_at: sent,
            current,
        }) => {
            assert_eq!((sent, current), (validated_at, before.1));
        }
        other => panic!("expected StaleValidation, got {other:?}"),
    }
    let delete = store.delete_if(&key("other"), &at(validated_at)).await;
    assert!(
        matches!(delete, Err(StoreError::StaleValidation { .. })),
        "{delete:?}"
    );
    assert_eq!(store.get(&key("echo")).await.unwrap(), None);
    assert!(store.get(&key("other")).await.unwrap().is_some());
    assert_eq!(revisions(&store).await, before, "nothing was written");

    // At the current content revision both go through, and each moves it.
    let created = store
        .put_if(upstream("echo", 1000), &at(before.1))
        .await
        .unwrap();
    assert_eq!(created.result, PutResult::Created);
    let now = store.content_revision().await.unwrap();
    assert!(now > before.1);
    store.delete_if(&key("other"), &at(now)).await.unwrap();
    assert!(store.content_revision().await.unwrap() > now);
}

#[tokio::test]
async fn status_writes_never_make_a_validated_write_stale() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.put(upstream("echo", 1000), None).await.unwrap();
    let validated_at = store.content_revision().await.unwrap();
    // The controller writes statuses after every translation, between any validation and write.
    for n in 0..3 {
        let status = json!({"state": "Accepted", "reasons": [], "observedGeneration": n});
        store
            .put_statuses(vec![(key("echo"), status)])
            .await
            .unwrap();
    }
    let written = store
        .put_if(upstream("echo", 2000), &at(validated_at))
        .await
        .unwrap();
    assert_eq!(written.result, PutResult::Configured);
}

#[tokio::test]
async fn a_stale_content_revision_is_reported_before_a_resource_version_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let validated_at = store.content_revision().await.unwrap();
    let first = store.put(upstream("echo", 1000), None).await.unwrap();
    store.put(upstream("echo", 2000), None).await.unwrap();
    let stale_version = first.resource.metadata().resource_version.clone();
    let both = Precondition {
        resource_version: stale_version.clone(),
        content_revision: Some(validated_at),
        creation_time: None,
    };
    let put = store.put_if(upstream("echo", 3000), &both).await;
    assert!(
        matches!(put, Err(StoreError::StaleValidation { .. })),
        "{put:?}"
    );
    // Validated again at the current content revision, the resourceVersion is what conflicts.
    let current = Precondition {
        resource_version: stale_version,
        content_revision: Some(store.content_revision().await.unwrap()),
        creation_time: None,
    };
    let put = store.put_if(upstream("echo", 3000), &current).await;
    assert!(matches!(put, Err(StoreError::Conflict { .. })), "{put:?}");
}

#[tokio::test]
async fn status_writes_are_watched_as_status_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.put(upstream("echo", 1000), None).await.unwrap();
    let mut watch = store.watch(store.revision().await.unwrap()).await.unwrap();
    let status = json!({"state": "Accepted", "reasons": [], "observedGeneration": 1});
    store
        .put_statuses(vec![(key("echo"), status.clone())])
        .await
        .unwrap();
    let event = tokio::time::timeout(Duration::from_secs(5), watch.next())
        .await
        .expect("an event within 5 s");
    assert_eq!(
        event,
        WatchEvent::Status {
            key: key("echo"),
            status,
            revision: Revision(3),
        }
    );
}

#[tokio::test]
async fn the_directory_store_counts_every_revision_as_content_and_refuses_writes() {
    use lockgate_store::{DirStore, DirStoreOptions};
    let root = tempfile::tempdir().unwrap();
    std::fs::write(
        root.path().join("u.yaml"),
        common::upstream_yaml("echo", 1000),
    )
    .unwrap();
    let store = DirStore::open(root.path(), DirStoreOptions::default());
    let revision = store.revision().await.unwrap();
    assert!(revision > Revision(0));
    assert_eq!(store.content_revision().await.unwrap(), revision);
    let listing = store.list().await.unwrap();
    assert_eq!(listing.content_revision, listing.revision);

    // Statuses live in memory and move nothing.
    let status = json!({"state": "Accepted", "reasons": [], "observedGeneration": 1});
    store
        .put_statuses(vec![(key("echo"), status)])
        .await
        .unwrap();
    assert_eq!(store.content_revision().await.unwrap(), revision);

    let put = store.put_if(upstream("echo", 2000), &at(revision)).await;
    assert!(matches!(put, Err(StoreError::ReadOnly(_))), "{put:?}");
    let delete = store.delete_if(&key("echo"), &at(revision)).await;
    assert!(matches!(delete, Err(StoreError::ReadOnly(_))), "{delete:?}");
}

#[tokio::test]
async fn a_create_is_stamped_with_the_creation_time_it_was_validated_with_and_an_update_never_is() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let validated = Precondition {
        creation_time: Some("2026-12-02T10:00:00.000001Z".into()),
        ..Precondition::default()
    };
    let created = store
        .put_if(upstream("echo", 1000), &validated)
        .await
        .unwrap();
    assert_eq!(
        created.resource.metadata().creation_timestamp.as_deref(),
        Some("2026-12-02T10:00:00.000001Z")
    );
    // An update keeps the stored creation time whatever the writer says.
    let later = Precondition {
        creation_time: Some("2020-01-01T00:00:00Z".into()),
        ..Precondition::default()
    };
    let updated = store.put_if(upstream("echo", 2000), &later).await.unwrap();
    assert_eq!(
        updated.resource.metadata().creation_timestamp.as_deref(),
        Some("2026-12-02T10:00:00.000001Z")
    );
}
