use std::sync::Mutex;

use async_trait::async_trait;
use lockgate_compiled::CompiledConfig;
use lockgate_store::{BlobHook, DirStore, DirStoreOptions, EmbeddedStore, WithBlobHook};

use super::fixtures::{self, config, state, with_changed_route};
use super::*;

/// How a write the store was told to fail on goes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Crash {
    /// The process dies before the batch reaches the store.
    Before,
    /// It dies part-way: half the puts are done (only where batches are not atomic).
    HalfThePuts,
    /// It dies once every put is done, part-way through the deletes (not atomic either).
    HalfTheDeletes,
    /// The batch is done but the answer never comes back.
    AfterTheBatch,
}

/// A real store whose blob writes stop after a number of batches, as a process killed there
/// would, and that takes small batches so that one persist is many of them.
struct Crashing {
    limits: BlobLimits,
    /// Batches still allowed, and what the first one past that does.
    budget: Mutex<Option<(usize, Crash)>>,
    batches: Mutex<Vec<BlobBatch>>,
}

impl Crashing {
    fn new(inner: Arc<dyn Store>, atomic: bool) -> WithBlobHook<Crashing> {
        let hook = Crashing {
            limits: BlobLimits {
                max_ops: 4,
                max_bytes: 1024 * 1024,
                atomic,
            },
            budget: Mutex::new(None),
            batches: Mutex::new(Vec::new()),
        };
        WithBlobHook::new(inner, hook)
    }

    fn crash_after(&self, batches: usize, crash: Crash) {
        *self.budget.lock().unwrap() = Some((batches, crash));
    }

    fn heal(&self) {
        *self.budget.lock().unwrap() = None;
    }

    fn batches(&self) -> Vec<BlobBatch> {
        std::mem::take(&mut *self.batches.lock().unwrap())
    }
}

fn crashed() -> StoreError {
    StoreError::Database("the writer was killed".into())
}

#[async_trait]
impl BlobHook for Crashing {
    fn blob_limits(&self, _inner: &dyn Store) -> BlobLimits {
        self.limits
    }
    async fn write_blobs(&self, inner: &dyn Store, batch: BlobBatch) -> Result<(), StoreError> {
        assert!(batch.ops() <= self.limits.max_ops && batch.bytes() <= self.limits.max_bytes);
        self.batches.lock().unwrap().push(batch.clone());
        let crash = {
            let mut budget = self.budget.lock().unwrap();
            match budget.as_mut() {
                Some((0, crash)) => Some(*crash),
                Some((left, _)) => {
                    *left -= 1;
                    None
                }
                None => None,
            }
        };
        let Some(crash) = crash else {
            return inner.write_blobs(batch).await;
        };
        assert!(
            !self.limits.atomic || matches!(crash, Crash::Before | Crash::AfterTheBatch),
            "an atomic batch cannot be half done"
        );
        let half = |items: usize| items.div_ceil(2);
        let done = match crash {
            Crash::Before => BlobBatch::default(),
            Crash::HalfThePuts => BlobBatch {
                puts: batch.puts[..half(batch.puts.len())].to_vec(),
                deletes: Vec::new(),
            },
            Crash::HalfTheDeletes => BlobBatch {
                deletes: batch.deletes[..half(batch.deletes.len())].to_vec(),
                ..batch
            },
            Crash::AfterTheBatch => batch,
        };
        inner.write_blobs(done).await?;
        Err(crashed())
    }
}

/// A state before, and one after changes of every sort: routes changed, a host gone and one
/// new, an endpoint moved, a kept route table replaced and a kept virtual service dropped.
fn before_and_after() -> (Arc<PolicyState>, Arc<PolicyState>) {
    let before = state(config(6, 40));
    let changed = with_changed_route(&with_changed_route(&before.served, 1, 20), 3, 39);
    let mut hosts = changed.virtual_hosts.clone();
    hosts.remove(5);
    let mut new_host = hosts[0].clone();
    new_host.name = "team9.app".into();
    new_host.domains = vec!["team9.example".into()];
    hosts.push(new_host);
    let mut clusters = changed.clusters.clone();
    clusters[2] = fixtures::cluster(2, 30_000);
    let mut after = state(CompiledConfig::new(hosts, clusters));
    after.last_valid_route_tables.insert(
        "team0.routes".into(),
        fixtures::route_table("routes", "/moved"),
    );
    after.last_valid_virtual_services.clear();
    (Arc::new(before), Arc::new(after))
}

/// What the store holds is exactly what its manifest names: no leftovers, no old blob.
async fn assert_only_referenced(store: &dyn Store) {
    let (found, lkg) = LastKnownGood::restore(store).await;
    assert!(found.is_some(), "the records restore");
    let mut wanted: Vec<String> = lkg.present.into_iter().collect();
    wanted.push(MANIFEST.to_string());
    wanted.sort();
    assert_eq!(store.list_blobs(PREFIX).await.unwrap(), wanted);
    assert_eq!(store.get_blob(POLICY_STATE_BLOB).await.unwrap(), None);
}

async fn restored(store: &dyn Store) -> Option<PolicyState> {
    LastKnownGood::restore(store).await.0
}

enum Backend {
    Embedded,
    Dir,
}

/// A real store in `dir`: the embedded one (atomic batches) or a directory store's state
/// directory (one file per blob).
fn open(backend: &Backend, dir: &tempfile::TempDir) -> Arc<dyn Store> {
    match backend {
        Backend::Embedded => Arc::new(EmbeddedStore::open(dir.path().join("store.redb")).unwrap()),
        Backend::Dir => {
            let options = DirStoreOptions {
                state_dir: Some(dir.path().join("state")),
                ..DirStoreOptions::default()
            };
            Arc::new(DirStore::open(dir.path().join("config"), options))
        }
    }
}

/// Persists `before`, then `after` with the writer killed after each number of batches in
/// turn: a restart restores one of the two whole, and the next persist leaves no leftovers,
/// whether it is the restarted process's or the same one's once the store answers again.
async fn a_crash_at_any_write_restores_one_state_whole(backend: Backend, crash: Crash) {
    let (before, after) = before_and_after();
    let atomic = matches!(backend, Backend::Embedded);
    let total = {
        let dir = tempfile::tempdir().unwrap();
        let store = Crashing::new(open(&backend, &dir), atomic);
        let mut lkg = LastKnownGood::restore(&store).await.1;
        lkg.persist(&store, Arc::clone(&before)).await.unwrap();
        store.batches();
        lkg.persist(&store, Arc::clone(&after)).await.unwrap();
        store.batches().len()
    };
    assert!(total >= 3, "the change takes {total} batches");
    let mut seen = (false, false);
    for killed_after in 0..total {
        for restart in [true, false] {
            let dir = tempfile::tempdir().unwrap();
            let store = Crashing::new(open(&backend, &dir), atomic);
            let mut lkg = LastKnownGood::restore(&store).await.1;
            lkg.persist(&store, Arc::clone(&before)).await.unwrap();
            store.crash_after(killed_after, crash);
            let context = format!("{crash:?} after {killed_after} of {total} batches");
            assert!(
                lkg.persist(&store, Arc::clone(&after)).await.is_err(),
                "{context}"
            );
            store.heal();

            let (found, mut restarted) = LastKnownGood::restore(&store).await;
            let found = found.expect("a state is restored");
            assert!(
                found == *before || found == *after,
                "{context}: a mix of the two states"
            );
            seen = (seen.0 || found == *before, seen.1 || found == *after);
            // Either process goes on to persist, and repairs what the crash left.
            let next = if restart { &after } else { &before };
            let writer = if restart { &mut restarted } else { &mut lkg };
            writer.persist(&store, Arc::clone(next)).await.unwrap();
            assert_eq!(
                restored(&store).await.as_ref(),
                Some(next.as_ref()),
                "{context}"
            );
            assert_only_referenced(&store).await;
        }
    }
    if crash != Crash::HalfTheDeletes {
        assert_eq!(
            seen,
            (true, true),
            "{crash:?}: both states were restored at some point"
        );
    }
}

#[tokio::test]
async fn a_crash_between_two_transactions_restores_the_old_or_the_new_state() {
    for crash in [Crash::Before, Crash::AfterTheBatch] {
        a_crash_at_any_write_restores_one_state_whole(Backend::Embedded, crash).await;
    }
}

#[tokio::test]
async fn a_crash_inside_a_batch_of_files_restores_the_old_or_the_new_state() {
    for crash in [
        Crash::Before,
        Crash::HalfThePuts,
        Crash::HalfTheDeletes,
        Crash::AfterTheBatch,
    ] {
        a_crash_at_any_write_restores_one_state_whole(Backend::Dir, crash).await;
    }
}

#[tokio::test]
async fn a_change_to_one_route_writes_its_record_and_the_manifest_in_one_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&Backend::Embedded, &dir);
    let (before, _) = before_and_after();
    let mut lkg = LastKnownGood::restore(store.as_ref()).await.1;
    let first = lkg
        .persist(store.as_ref(), Arc::clone(&before))
        .await
        .unwrap();
    assert_eq!(first.batches, 1, "everything fits one transaction");

    let changed = PolicyState {
        served: Arc::new(with_changed_route(&before.served, 4, 27)),
        ..before.as_ref().clone()
    };
    let written = lkg
        .persist(store.as_ref(), Arc::new(changed.clone()))
        .await
        .unwrap();
    assert_eq!(
        (written.records, written.deleted, written.batches),
        (3, 2, 1),
        "the route record, the host record naming it and the manifest written, the old two deleted: {written:?}"
    );
    assert!(
        written.bytes * 5 < first.bytes,
        "{written:?} after {first:?}"
    );
    assert_eq!(restored(store.as_ref()).await, Some(changed.clone()));
    assert_only_referenced(store.as_ref()).await;

    let again = lkg
        .persist(store.as_ref(), Arc::new(changed))
        .await
        .unwrap();
    assert_eq!(
        again,
        Persisted::default(),
        "nothing changed, nothing written"
    );
}

#[tokio::test]
async fn an_upgrade_restores_the_old_single_blob_once_then_deletes_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&Backend::Embedded, &dir);
    let (before, after) = before_and_after();
    let legacy = serde_json::to_vec(before.as_ref()).unwrap();
    store
        .put_blob(POLICY_STATE_BLOB, legacy.clone())
        .await
        .unwrap();

    let (found, mut lkg) = LastKnownGood::restore(store.as_ref()).await;
    assert_eq!(found.as_ref(), Some(before.as_ref()));
    lkg.persist(store.as_ref(), Arc::clone(&before))
        .await
        .unwrap();
    assert_only_referenced(store.as_ref()).await;
    assert_eq!(
        restored(store.as_ref()).await.as_ref(),
        Some(before.as_ref())
    );

    // A crash between the first manifest and deleting the old blob: the records win, and the
    // next persist deletes the old blob.
    store.put_blob(POLICY_STATE_BLOB, legacy).await.unwrap();
    let (found, mut lkg) = LastKnownGood::restore(store.as_ref()).await;
    assert_eq!(found.as_ref(), Some(before.as_ref()));
    lkg.persist(store.as_ref(), Arc::clone(&after))
        .await
        .unwrap();
    assert_only_referenced(store.as_ref()).await;
}

#[tokio::test]
async fn damaged_records_restore_nothing_and_the_next_persist_rewrites_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(&Backend::Dir, &dir);
    let (before, _) = before_and_after();
    let mut lkg = LastKnownGood::restore(store.as_ref()).await.1;
    lkg.persist(store.as_ref(), Arc::clone(&before))
        .await
        .unwrap();
    let victim = store.list_blobs("lkg/routes/").await.unwrap()[0].clone();
    store.put_blob(&victim, b"[]".to_vec()).await.unwrap();

    let (found, mut lkg) = LastKnownGood::restore(store.as_ref()).await;
    assert_eq!(
        found, None,
        "a damaged record restores nothing rather than a mix"
    );
    lkg.persist(store.as_ref(), Arc::clone(&before))
        .await
        .unwrap();
    assert_eq!(
        restored(store.as_ref()).await.as_ref(),
        Some(before.as_ref())
    );
    assert_only_referenced(store.as_ref()).await;

    store
        .write_blobs(BlobBatch {
            puts: Vec::new(),
            deletes: vec![victim],
        })
        .await
        .unwrap();
    assert_eq!(restored(store.as_ref()).await, None, "a missing record too");
}

#[tokio::test]
async fn a_record_larger_than_the_store_takes_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Crashing::new(open(&Backend::Embedded, &dir), true);
    store.limits.max_bytes = 1024;
    let (before, _) = before_and_after();
    let mut lkg = LastKnownGood::restore(&store).await.1;
    let err = lkg.persist(&store, before).await.unwrap_err();
    assert!(matches!(err, PersistError::TooLarge { .. }), "{err}");
    assert!(store.batches().is_empty());
    assert!(store.list_blobs(PREFIX).await.unwrap().is_empty());
}

#[tokio::test]
async fn no_batch_passes_the_limits_and_the_manifest_follows_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = Crashing::new(open(&Backend::Dir, &dir), false);
    let (before, _) = before_and_after();
    let mut lkg = LastKnownGood::restore(&store).await.1;
    let written = lkg.persist(&store, before).await.unwrap();
    let batches = store.batches();
    assert_eq!(written.batches, batches.len());
    let manifest_at = batches
        .iter()
        .position(|b| b.puts.iter().any(|(n, _)| n == MANIFEST))
        .expect("a manifest");
    assert_eq!(
        batches[manifest_at].puts.len(),
        1,
        "alone, where batches are not atomic"
    );
    assert!(batches[..manifest_at].iter().all(|b| b.deletes.is_empty()));
    assert!(batches[manifest_at + 1..].iter().all(|b| b.puts.is_empty()));
    assert!(written.largest_record <= records::PART_MAX);
}

/// A deep copy: equal to `state`, sharing no allocation with it.
fn copied(state: &PolicyState) -> Arc<PolicyState> {
    Arc::new(PolicyState {
        served: Arc::new(state.served.as_ref().clone()),
        ..state.clone()
    })
}

#[tokio::test]
async fn an_unchanged_configuration_is_neither_serialised_nor_written_again() {
    let dir = tempfile::tempdir().unwrap();
    let store = Crashing::new(open(&Backend::Embedded, &dir), true);
    let (before, _) = before_and_after();
    let mut lkg = LastKnownGood::restore(&store).await.1;
    let first = lkg.persist(&store, Arc::clone(&before)).await.unwrap();
    assert!(
        first.serialised > 6,
        "every record is cut the first time: {first:?}"
    );
    store.batches();

    for (what, same) in [
        ("the same", Arc::clone(&before)),
        ("a copy", copied(&before)),
    ] {
        let again = lkg.persist(&store, same).await.unwrap();
        assert_eq!(
            again,
            Persisted::default(),
            "{what}: nothing cut, nothing written"
        );
        assert!(store.batches().is_empty(), "{what}: no blob write at all");
    }

    // New endpoints: the routes name clusters by key, so only the cluster record is cut again.
    let mut clusters = before.served.clusters.clone();
    clusters[2] = fixtures::cluster(2, 31_000);
    let moved = Arc::new(PolicyState {
        served: Arc::new(CompiledConfig::new(
            before.served.virtual_hosts.clone(),
            clusters,
        )),
        ..before.as_ref().clone()
    });
    let written = lkg.persist(&store, Arc::clone(&moved)).await.unwrap();
    assert_eq!(
        (written.cut, written.serialised),
        (1, 1),
        "only the cluster list is cut and one of its records serialised: {written:?}"
    );
    assert_eq!(
        (written.records, written.deleted),
        (2, 1),
        "the cluster record and the manifest written, the old one deleted: {written:?}"
    );

    // A restarted process knows the records it restored just as well.
    store.batches();
    let (found, mut restarted) = LastKnownGood::restore(&store).await;
    assert_eq!(found.as_ref(), Some(moved.as_ref()));
    let again = restarted.persist(&store, copied(&moved)).await.unwrap();
    assert_eq!(again, Persisted::default(), "after a restart too");
    assert!(store.batches().is_empty());
}
