//! The directory store: a directory of YAML files, read-only to the API and watched, for GitOps.
//!
//! A background thread rescans the directory whenever `notify` reports a change under it, and
//! also every few seconds, which covers what file watching can miss (an inotify queue
//! overflow, a directory created after start, a ConfigMap's symlinks swapped). Opening or
//! reading a file is not a change: the rescan's own reads would otherwise wake the next one. A
//! rescan reads every file and decodes only those whose bytes changed, then turns the
//! difference into watch events. Revisions and generations are kept in memory: they restart
//! with the process, which the list-and-watch protocol allows. Statuses are kept in memory
//! too, so the API shows them, and move no revision: every revision here is a resource write,
//! so the content revision is the revision. Which files count and what their text means are
//! the rules of [`scan`], shared with `lockgate validate`; `rescan` applies them incrementally.

mod rescan;
pub mod scan;
mod walk;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use lockgate_api::{Resource, ResourceKey};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};

use crate::blob_dir::BlobDir;
use crate::event_log::EventLog;
use crate::record::{next_generation, same_content, set_status};
use crate::{
    BatchPut, BlobBatch, BlobLimits, Listing, Precondition, PutOutcome, Revision, SourceProblem,
    Store, StoreError, StoreKind, Watch, WatchEvent,
};
use rescan::Scanner;
use scan::Entry;

/// Quiet time after a file event before the directory is read.
const SETTLE: Duration = Duration::from_millis(30);
/// A directory that never stops changing is still read this often.
const MAX_SETTLE: Duration = Duration::from_millis(500);

#[derive(Debug, Clone)]
pub struct DirStoreOptions {
    /// Where the controller's blobs (the persisted policy state) go; in memory when `None`.
    pub state_dir: Option<PathBuf>,
    /// How often the directory is rescanned even without file events.
    pub resync: Duration,
}

impl Default for DirStoreOptions {
    fn default() -> Self {
        DirStoreOptions {
            state_dir: None,
            resync: Duration::from_secs(2),
        }
    }
}

/// See the module documentation.
pub struct DirStore {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    wake: mpsc::Sender<()>,
}

struct Shared {
    root: PathBuf,
    /// Only the rescan takes it: files are read without holding `state`, so API reads never
    /// wait for disk I/O.
    scanner: Mutex<Scanner>,
    state: Mutex<DirState>,
    log: Arc<EventLog>,
    blobs: BlobDir,
    watcher: Mutex<Option<RecommendedWatcher>>,
}

struct Stored {
    /// Shared with the scanner, which hands out the same `Arc` while the file is unchanged.
    entry: Arc<Entry>,
    generation: i64,
    resource_version: Revision,
}

struct DirState {
    root: PathBuf,
    current: BTreeMap<ResourceKey, Stored>,
    statuses: HashMap<ResourceKey, serde_json::Value>,
    problems: Vec<SourceProblem>,
    revision: Revision,
}

impl DirStore {
    /// Reads `root` once (a missing or empty directory holds nothing) and starts watching it.
    pub fn open(root: impl Into<PathBuf>, options: DirStoreOptions) -> DirStore {
        let shared = Arc::new(Shared::new(root.into(), options.state_dir.clone()));
        let (wake, events) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        shared.ensure_watching(&wake);
        shared.rescan();
        let thread_shared = Arc::clone(&shared);
        let thread_stop = Arc::clone(&stop);
        let thread_wake = wake.clone();
        let spawned = std::thread::Builder::new()
            .name("lockgate-dir-watch".into())
            .spawn(move || {
                // A file event or the resync period, until the store is dropped.
                while let Ok(()) | Err(RecvTimeoutError::Timeout) =
                    events.recv_timeout(options.resync)
                {
                    // Let a burst of file events settle into one rescan: an in-place write is
                    // a truncate then a write, and reading between them sees an empty file.
                    let settle_until = std::time::Instant::now() + MAX_SETTLE;
                    while std::time::Instant::now() < settle_until
                        && events.recv_timeout(SETTLE).is_ok()
                    {}
                    if thread_stop.load(Ordering::Acquire) {
                        break;
                    }
                    thread_shared.ensure_watching(&thread_wake);
                    thread_shared.rescan();
                }
            });
        if let Err(e) = spawned {
            tracing::error!(
                "cannot start the directory watch thread: {e}; changes will not be seen"
            );
        }
        DirStore { shared, stop, wake }
    }

    pub fn root(&self) -> PathBuf {
        self.shared.root.clone()
    }
}

impl Drop for DirStore {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        let _ = self.wake.send(());
        // Dropping the watcher stops its thread and the events it would send.
        self.shared
            .watcher
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
    }
}

impl Shared {
    /// Holds nothing yet and watches nothing: `DirStore::open` rescans and starts the watch.
    fn new(root: PathBuf, state_dir: Option<PathBuf>) -> Shared {
        Shared {
            root: root.clone(),
            scanner: Mutex::new(Scanner::new(root.clone())),
            state: Mutex::new(DirState {
                root,
                current: BTreeMap::new(),
                statuses: HashMap::new(),
                problems: Vec::new(),
                revision: Revision(0),
            }),
            log: EventLog::new(Revision(0), Revision(0)),
            blobs: BlobDir::new(state_dir),
            watcher: Mutex::new(None),
        }
    }

    fn lock(&self) -> MutexGuard<'_, DirState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Watches the root once it exists (again). A watch on a directory that was removed is
    /// dead, so it is dropped and re-established when the directory comes back.
    fn ensure_watching(&self, wake: &mpsc::Sender<()>) {
        let root = self.root.clone();
        let mut watcher = self.watcher.lock().unwrap_or_else(|p| p.into_inner());
        if !root.is_dir() {
            *watcher = None;
            return;
        }
        if watcher.is_some() {
            return;
        }
        let wake = wake.clone();
        let created = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            if wakes_rescan(&event) {
                let _ = wake.send(());
            }
        });
        match created {
            Ok(mut new) => match new.watch(&root, RecursiveMode::Recursive) {
                Ok(()) => *watcher = Some(new),
                Err(e) => tracing::warn!(
                    dir = %root.display(),
                    "cannot watch the directory ({e}); rescanning it periodically instead"
                ),
            },
            Err(e) => tracing::warn!("cannot start a file watcher ({e}); rescanning periodically"),
        }
    }

    fn rescan(&self) {
        let mut scanner = self.scanner.lock().unwrap_or_else(|p| p.into_inner());
        let result = scanner.scan();
        let mut state = self.lock();
        if result.problems != state.problems {
            for problem in &result.problems {
                tracing::warn!(dir = %self.root.display(), "{problem}");
            }
            state.problems = result.problems;
        }
        // No file changed: what is stored is what the directory says.
        let Some(entries) = result.entries else {
            return;
        };
        let mut events = Vec::new();
        let removed: Vec<ResourceKey> = state
            .current
            .keys()
            .filter(|k| !entries.contains_key(*k))
            .cloned()
            .collect();
        for key in removed {
            state.current.remove(&key);
            state.statuses.remove(&key);
            state.revision = state.revision.next();
            events.push(WatchEvent::Delete {
                key,
                revision: state.revision,
            });
        }
        for (key, entry) in entries {
            let previous = state.current.get(&key);
            // The same decoding of the same bytes, from a file that did not change.
            if previous.is_some_and(|p| Arc::ptr_eq(&p.entry, &entry)) {
                continue;
            }
            let generation = match (previous.map(|p| &*p.entry), &*entry) {
                (Some(Entry::Resource(old)), Entry::Resource(new)) if same_content(old, new) => {
                    continue;
                }
                (Some(Entry::Undecodable(old)), Entry::Undecodable(new)) if old == new => continue,
                (Some(Entry::Resource(old)), Entry::Resource(new)) => {
                    let mut old = old.clone();
                    old.metadata_mut().generation = previous.map(|p| p.generation);
                    next_generation(Some(&old), new)
                }
                (Some(_), _) => previous.map(|p| p.generation + 1).unwrap_or(1),
                (None, _) => 1,
            };
            state.revision = state.revision.next();
            let revision = state.revision;
            let event = match &*entry {
                Entry::Resource(resource) => {
                    let mut resource = resource.clone();
                    stamp(&mut resource, revision, generation);
                    WatchEvent::Put { resource, revision }
                }
                Entry::Undecodable(undecodable) => WatchEvent::PutUndecodable {
                    key: key.clone(),
                    undecodable: undecodable.clone(),
                    revision,
                },
            };
            events.push(event);
            state.current.insert(
                key,
                Stored {
                    entry,
                    generation,
                    resource_version: revision,
                },
            );
        }
        tracing::debug!(
            dir = %self.root.display(),
            files_decoded = result.decoded,
            events = events.len(),
            "directory changed"
        );
        // Appended under the state lock, so a list never misses an event it does not include.
        for event in events {
            self.log.append(event);
        }
    }
}

/// Whether a file event can mean the directory changed. Opening, reading and closing a file
/// unwritten change nothing, and the rescan itself does all three to every file: waking on
/// them made each rescan schedule the next, so the directory was read continuously instead of
/// on changes and every `resync`. Errors (an overflowed queue among them) do wake it.
fn wakes_rescan(event: &notify::Result<notify::Event>) -> bool {
    use notify::event::{AccessKind, AccessMode, EventKind};
    match event {
        Ok(event) => !matches!(
            event.kind,
            EventKind::Access(
                AccessKind::Open(_) | AccessKind::Read | AccessKind::Close(AccessMode::Read)
            )
        ),
        Err(_) => true,
    }
}

fn stamp(resource: &mut Resource, revision: Revision, generation: i64) {
    let metadata = resource.metadata_mut();
    metadata.resource_version = Some(revision.as_resource_version());
    metadata.generation = Some(generation);
    // Files have no creation time the gateway can vouch for (anyone editing the directory
    // could backdate one): virtual services tie on namespace and name here.
    metadata.creation_timestamp = None;
}

impl DirState {
    fn resource(&self, key: &ResourceKey) -> Option<Resource> {
        let stored = self.current.get(key)?;
        let Entry::Resource(resource) = &*stored.entry else {
            return None;
        };
        let mut resource = resource.clone();
        stamp(&mut resource, stored.resource_version, stored.generation);
        set_status(&mut resource, self.statuses.get(key).cloned());
        Some(resource)
    }

    fn read_only(&self) -> StoreError {
        StoreError::ReadOnly(self.root.clone())
    }
}

#[async_trait]
impl Store for DirStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Dir
    }

    async fn list(&self) -> Result<Listing, StoreError> {
        let state = self.shared.lock();
        let mut listing = Listing {
            revision: state.revision,
            content_revision: state.revision,
            ..Listing::default()
        };
        for (key, stored) in &state.current {
            match &*stored.entry {
                Entry::Resource(_) => listing.resources.extend(state.resource(key)),
                Entry::Undecodable(u) => listing.undecodable.push((key.clone(), u.clone())),
            }
        }
        Ok(listing)
    }

    async fn revision(&self) -> Result<Revision, StoreError> {
        Ok(self.shared.lock().revision)
    }

    async fn content_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.shared.lock().revision)
    }

    async fn watch(&self, from: Revision) -> Result<Watch, StoreError> {
        Ok(self.shared.log.watch(from))
    }

    async fn get(&self, key: &ResourceKey) -> Result<Option<Resource>, StoreError> {
        Ok(self.shared.lock().resource(key))
    }

    async fn put_if(&self, _: Resource, _: &Precondition) -> Result<PutOutcome, StoreError> {
        Err(self.shared.lock().read_only())
    }

    async fn delete_if(&self, _: &ResourceKey, _: &Precondition) -> Result<Resource, StoreError> {
        Err(self.shared.lock().read_only())
    }

    async fn put_batch_if(
        &self,
        _: Vec<BatchPut>,
        _: &Precondition,
    ) -> Result<Vec<PutOutcome>, StoreError> {
        Err(self.shared.lock().read_only())
    }

    async fn put_statuses(
        &self,
        statuses: Vec<(ResourceKey, serde_json::Value)>,
    ) -> Result<(), StoreError> {
        let mut state = self.shared.lock();
        for (key, status) in statuses {
            if state.current.contains_key(&key) {
                state.statuses.insert(key, status);
            }
        }
        Ok(())
    }

    async fn get_blob(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let (shared, name) = (Arc::clone(&self.shared), name.to_string());
        tokio::task::spawn_blocking(move || shared.blobs.get(&name))
            .await
            .map_err(|e| StoreError::Database(format!("blob task failed: {e}")))?
    }

    async fn list_blobs(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let (shared, prefix) = (Arc::clone(&self.shared), prefix.to_string());
        tokio::task::spawn_blocking(move || shared.blobs.list(&prefix))
            .await
            .map_err(|e| StoreError::Database(format!("blob task failed: {e}")))?
    }

    async fn write_blobs(&self, batch: BlobBatch) -> Result<(), StoreError> {
        let shared = Arc::clone(&self.shared);
        tokio::task::spawn_blocking(move || shared.blobs.write(&batch))
            .await
            .map_err(|e| StoreError::Database(format!("blob task failed: {e}")))?
    }

    /// Files, one rename each: no transaction, and no limit but the disk.
    fn blob_limits(&self) -> BlobLimits {
        BlobLimits {
            max_ops: usize::MAX,
            max_bytes: usize::MAX,
            atomic: false,
        }
    }

    fn problems(&self) -> Vec<SourceProblem> {
        self.shared.lock().problems.clone()
    }
}

#[cfg(test)]
#[path = "dir_test.rs"]
mod tests;
