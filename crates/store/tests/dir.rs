//! The directory store, driven by real file operations.

mod common;

use std::fs;
use std::path::Path;
use std::time::Duration;

use common::{route_table_yaml, upstream_yaml};
use lockgate_api::{Kind, ResourceKey};
use lockgate_store::{DirStore, DirStoreOptions, Revision, Store, StoreError, Watch, WatchEvent};

fn options() -> DirStoreOptions {
    DirStoreOptions {
        state_dir: None,
        resync: Duration::from_millis(200),
    }
}

fn rt(name: &str) -> ResourceKey {
    ResourceKey::new(Kind::RouteTable, "echo", name)
}

/// Waits (bounded) for the first event that `wanted` accepts, skipping others.
async fn wait_for(
    watch: &mut Watch,
    what: &str,
    wanted: impl Fn(&WatchEvent) -> bool,
) -> WatchEvent {
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let event = watch.next().await;
            if wanted(&event) {
                return event;
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("no event within 10 s: {what}"))
}

fn is_put(event: &WatchEvent, name: &str, generation: i64) -> bool {
    matches!(event, WatchEvent::Put { resource, .. }
        if resource.metadata().name == name && resource.metadata().generation == Some(generation))
}

fn write_atomically(path: &Path, text: &str) {
    let temp = path.with_extension("tmp-write");
    fs::write(&temp, text).unwrap();
    fs::rename(&temp, path).unwrap();
}

#[tokio::test]
async fn missing_directory_serves_nothing_then_is_picked_up() {
    let parent = tempfile::tempdir().unwrap();
    let root = parent.path().join("config");
    let store = DirStore::open(&root, options());
    let listing = store.list().await.unwrap();
    assert!(listing.resources.is_empty() && listing.undecodable.is_empty());
    assert!(store.problems().is_empty());

    let mut watch = store.watch(listing.revision).await.unwrap();
    fs::create_dir_all(root.join("team")).unwrap();
    fs::write(root.join("team/rt.yaml"), route_table_yaml("late", "/late")).unwrap();
    wait_for(&mut watch, "late route table", |e| is_put(e, "late", 1)).await;
}

#[tokio::test]
async fn files_added_replaced_edited_and_removed_become_events() {
    let root = tempfile::tempdir().unwrap();
    fs::write(
        root.path().join("upstream.yaml"),
        upstream_yaml("echo", 1000),
    )
    .unwrap();
    let store = DirStore::open(root.path(), options());
    let listing = store.list().await.unwrap();
    assert_eq!(listing.resources.len(), 1);
    let mut watch = store.watch(listing.revision).await.unwrap();

    let file = root.path().join("rt.yaml");
    fs::write(&file, route_table_yaml("routes", "/a")).unwrap();
    wait_for(&mut watch, "added", |e| is_put(e, "routes", 1)).await;

    write_atomically(&file, &route_table_yaml("routes", "/b"));
    wait_for(&mut watch, "atomically replaced", |e| {
        is_put(e, "routes", 2)
    })
    .await;

    // In place: the same inode, truncated and rewritten. (A rescan that caught the file empty
    // would see a delete and a re-creation, so only the content is asserted here.)
    fs::write(&file, route_table_yaml("routes", "/c")).unwrap();
    let edited = wait_for(&mut watch, "edited in place", |e| {
        matches!(e, WatchEvent::Put { resource, .. }
            if resource.spec_json()["routes"][0]["matchers"][0]["prefix"] == "/c")
    })
    .await;
    let WatchEvent::Put { resource, revision } = edited else {
        unreachable!()
    };
    assert_eq!(
        resource.metadata().resource_version,
        Some(revision.to_string())
    );

    // Touching a file without changing it is not a change.
    fs::write(&file, route_table_yaml("routes", "/c")).unwrap();
    fs::remove_file(&file).unwrap();
    let removed = wait_for(&mut watch, "removed", |e| {
        matches!(e, WatchEvent::Delete { .. })
    })
    .await;
    assert!(matches!(removed, WatchEvent::Delete { key, .. } if key == rt("routes")));
    assert_eq!(store.get(&rt("routes")).await.unwrap(), None);
    let upstream = ResourceKey::new(Kind::Upstream, "echo", "echo");
    assert!(store.get(&upstream).await.unwrap().is_some());
}

#[tokio::test]
async fn a_bad_file_is_reported_and_the_rest_keeps_serving() {
    let root = tempfile::tempdir().unwrap();
    fs::write(
        root.path().join("upstream.yaml"),
        upstream_yaml("echo", 1000),
    )
    .unwrap();
    fs::write(
        root.path().join("rt.yaml"),
        route_table_yaml("routes", "/a"),
    )
    .unwrap();
    let typo = route_table_yaml("typo", "/t").replace("prefix:", "prefx:");
    fs::write(root.path().join("typo.yaml"), typo).unwrap();
    fs::write(root.path().join("garbage.yaml"), "kind: [unclosed\n").unwrap();
    fs::write(root.path().join("notes.txt"), "not a resource file").unwrap();

    let store = DirStore::open(root.path(), options());
    let listing = store.list().await.unwrap();
    let names: Vec<_> = listing
        .resources
        .iter()
        .map(|r| r.metadata().name.clone())
        .collect();
    assert_eq!(names, ["echo", "routes"]);

    // The typo names its resource: it is present and invalid, with the field path and the file.
    assert_eq!(listing.undecodable.len(), 1);
    let (key, undecodable) = &listing.undecodable[0];
    assert_eq!(key, &rt("typo"));
    assert_eq!(
        undecodable.labels.get("team").map(String::as_str),
        Some("echo")
    );
    let error = &undecodable.errors[0];
    assert!(
        error.starts_with("spec.routes[0].matchers[0]") && error.ends_with("(in typo.yaml)"),
        "{error}"
    );
    assert!(error.contains("prefx"), "{error}");

    // The file that never parsed is the file's problem.
    let problems = store.problems();
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].file, Path::new("garbage.yaml"));
    assert!(
        problems[0].message.contains("not valid YAML"),
        "{}",
        problems[0]
    );

    // A file that stops parsing keeps its resources, as invalid, instead of dropping them.
    let mut watch = store.watch(listing.revision).await.unwrap();
    fs::write(root.path().join("rt.yaml"), "apiVersion: [\n").unwrap();
    let event = wait_for(&mut watch, "broken file", |e| {
        matches!(e, WatchEvent::PutUndecodable { .. })
    })
    .await;
    let WatchEvent::PutUndecodable {
        key, undecodable, ..
    } = event
    else {
        unreachable!()
    };
    assert_eq!(key, rt("routes"));
    assert_eq!(
        undecodable.labels.get("team").map(String::as_str),
        Some("echo")
    );
    assert!(
        undecodable.errors[0].ends_with(" (in rt.yaml)"),
        "{:?}",
        undecodable.errors
    );

    // Fixing it brings the resource back; the broken version counted as a spec change.
    fs::write(
        root.path().join("rt.yaml"),
        route_table_yaml("routes", "/fixed"),
    )
    .unwrap();
    wait_for(&mut watch, "fixed", |e| is_put(e, "routes", 3)).await;
}

#[tokio::test]
async fn the_directory_is_read_only_and_duplicates_are_reported() {
    let root = tempfile::tempdir().unwrap();
    fs::write(root.path().join("a.yaml"), route_table_yaml("routes", "/a")).unwrap();
    fs::create_dir(root.path().join("b")).unwrap();
    fs::write(
        root.path().join("b/again.yml"),
        route_table_yaml("routes", "/b"),
    )
    .unwrap();
    let store = DirStore::open(root.path(), options());

    let stored = store.get(&rt("routes")).await.unwrap().unwrap();
    assert_eq!(
        stored.spec_json()["routes"][0]["matchers"][0]["prefix"],
        "/a"
    );
    let problems = store.problems();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].file, Path::new("b/again.yml"));
    assert!(
        problems[0].message.contains("also defined in a.yaml"),
        "{}",
        problems[0]
    );

    let put = store.put(stored.clone(), None).await;
    assert!(matches!(put, Err(StoreError::ReadOnly(_))), "{put:?}");
    let delete = store.delete(&rt("routes"), None).await;
    assert!(matches!(delete, Err(StoreError::ReadOnly(_))));
    let message = StoreError::ReadOnly(root.path().to_path_buf()).to_string();
    assert!(message.contains("read-only directory"), "{message}");

    // Statuses are kept in memory so the API can show them.
    let status = serde_json::json!({"state": "Accepted"});
    store
        .put_statuses(vec![(rt("routes"), status.clone())])
        .await
        .unwrap();
    let with_status = store.get(&rt("routes")).await.unwrap().unwrap();
    assert_eq!(lockgate_store::status_of(&with_status), Some(&status));
    assert_eq!(store.revision().await.unwrap(), Revision(1));
}

#[tokio::test]
async fn blobs_persist_under_the_state_dir() {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let with_state = DirStoreOptions {
        state_dir: Some(state.path().to_path_buf()),
        ..options()
    };
    let store = DirStore::open(root.path(), with_state.clone());
    store
        .put_blob("policy-state", b"{}".to_vec())
        .await
        .unwrap();
    drop(store);
    let store = DirStore::open(root.path(), with_state);
    assert_eq!(
        store.get_blob("policy-state").await.unwrap(),
        Some(b"{}".to_vec())
    );

    let in_memory = DirStore::open(root.path(), options());
    assert_eq!(in_memory.get_blob("policy-state").await.unwrap(), None);
}

#[tokio::test]
async fn blob_batches_under_the_state_dir_and_in_memory() {
    let root = tempfile::tempdir().unwrap();
    let state = tempfile::tempdir().unwrap();
    let with_state = DirStoreOptions {
        state_dir: Some(state.path().to_path_buf()),
        ..options()
    };
    let store = DirStore::open(root.path(), with_state.clone());
    assert!(!store.blob_limits().atomic);
    common::blob_batches_put_delete_list_and_read(&store).await;
    drop(store);
    let store = DirStore::open(root.path(), with_state);
    assert_eq!(
        store.list_blobs("lkg/routes/").await.unwrap(),
        ["lkg/routes/bb", "lkg/routes/cc"]
    );
    common::blob_batches_put_delete_list_and_read(&DirStore::open(root.path(), options())).await;
}
