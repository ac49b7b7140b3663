//! `Store::put_batch_if` in the embedded store: every put of a batch in one transaction, all
//! or none, each with its own revision and watch event, under one content-revision check.

mod common;

use common::upstream;
use lockgate_api::{Kind, ResourceKey};
use lockgate_store::{
    BatchPut, EmbeddedStore, Precondition, PutResult, Revision, Store, StoreError, WatchEvent,
};

fn open(dir: &tempfile::TempDir) -> EmbeddedStore {
    EmbeddedStore::open(dir.path().join("store.redb")).expect("store opens")
}

fn put(name: &str, port: u16) -> BatchPut {
    BatchPut {
        resource: upstream(name, port),
        expected_resource_version: None,
    }
}

fn key(name: &str) -> ResourceKey {
    ResourceKey::new(Kind::Upstream, "echo", name)
}

fn at(content_revision: Revision) -> Precondition {
    Precondition {
        content_revision: Some(content_revision),
        creation_time: Some("2026-12-02T12:00:00.5Z".into()),
        ..Precondition::default()
    }
}

#[tokio::test]
async fn a_batch_stores_every_put_with_its_own_revision_and_event_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    store.put(upstream("b", 1), None).await.unwrap();
    let start = store.content_revision().await.unwrap();
    let mut watch = store.watch(start).await.unwrap();

    let outcomes = store
        .put_batch_if(
            vec![put("a", 1), put("b", 1), put("b2", 2), put("c", 3)],
            &at(start),
        )
        .await
        .unwrap();
    let results: Vec<PutResult> = outcomes.iter().map(|o| o.result).collect();
    assert_eq!(
        results,
        [
            PutResult::Created,
            PutResult::Unchanged,
            PutResult::Created,
            PutResult::Created
        ]
    );
    // Three writes, three revisions; the unchanged one moved nothing.
    let end = Revision(start.0 + 3);
    assert_eq!(store.content_revision().await.unwrap(), end);
    assert_eq!(store.revision().await.unwrap(), end);
    for (name, revision) in [("a", start.0 + 1), ("b2", start.0 + 2), ("c", start.0 + 3)] {
        match watch.next().await {
            WatchEvent::Put {
                resource,
                revision: r,
            } => {
                assert_eq!((resource.key(), r), (key(name), Revision(revision)));
            }
            other => panic!("expected the put of {name}, got {other:?}"),
        }
        let stored = store.get(&key(name)).await.unwrap().unwrap();
        assert_eq!(
            stored.metadata().creation_timestamp.as_deref(),
            Some("2026-12-02T12:00:00.5Z"),
            "a create gets the batch's creation time"
        );
        assert_eq!(stored.metadata().generation, Some(1));
    }
}

#[tokio::test]
async fn a_stale_batch_or_one_conflicting_put_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&dir);
    let first = store.put(upstream("b", 1), None).await.unwrap();
    let validated_at = store.content_revision().await.unwrap();
    store.put(upstream("other", 1), None).await.unwrap();
    let current = store.content_revision().await.unwrap();

    let stale = store
        .put_batch_if(vec![put("a", 1)], &at(validated_at))
        .await;
    assert!(
        matches!(stale, Err(StoreError::StaleValidation { .. })),
        "{stale:?}"
    );

    // The second put expects a resourceVersion that is no longer b's: nothing is stored, not
    // even the first put.
    let mut conflicting = put("b", 2);
    conflicting.expected_resource_version = Some("1".into());
    assert_ne!(
        first.resource.metadata().resource_version.as_deref(),
        Some("1")
    );
    let conflict = store
        .put_batch_if(vec![put("a", 1), conflicting], &at(current))
        .await;
    assert!(
        matches!(conflict, Err(StoreError::Conflict { .. })),
        "{conflict:?}"
    );
    assert_eq!(store.get(&key("a")).await.unwrap(), None);
    assert_eq!(store.content_revision().await.unwrap(), current);
}
