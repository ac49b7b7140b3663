//! The embedded store: one redb database file under the state directory.
//!
//! redb commits are copy-on-write with a checksummed root switched atomically, and every write
//! here commits with `Durability::Immediate` (fsync) before it is acknowledged, so a kill -9 at
//! any moment loses no acknowledged write and never leaves a torn record. Writes are serialised
//! by one lock held across the transaction and the append to the event log, so events reach
//! watchers in revision order. A write's [`Precondition`] (resourceVersion, content revision)
//! is checked inside its write transaction: redb has one writer at a time, so nothing can come
//! between the check and the write.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use lockgate_api::{Kind, Resource, ResourceKey, Settings};
use redb::{Database, Durability, ReadableTable, TableDefinition, WriteTransaction};

use crate::event_log::EventLog;
use crate::record::{
    check_expected, decode, encode, rfc3339_utc, set_status, status_of, would_put,
};
use crate::{
    BatchPut, BlobBatch, BlobLimits, Listing, Precondition, PutOutcome, PutResult, Revision,
    SourceProblem, Store, StoreError, StoreKind, Watch, WatchEvent,
};

/// `Kind/namespace/name` → record (see `record.rs`).
const RESOURCES: TableDefinition<&str, &[u8]> = TableDefinition::new("resources");
/// `revision`, `content-revision`, `seeded`.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const BLOBS: TableDefinition<&str, &[u8]> = TableDefinition::new("blobs");

const REVISION: &str = "revision";
/// The revision of the last resource write (see the crate documentation).
const CONTENT_REVISION: &str = "content-revision";
const SEEDED: &str = "seeded";

/// See the module documentation. Cheap to clone.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    path: PathBuf,
    log: Arc<EventLog>,
    writer: Mutex<()>,
    /// Records that no longer decode (e.g. written by a newer lockgate), reported by `/check`.
    damaged: Mutex<Vec<SourceProblem>>,
}

fn db_error(err: impl Into<redb::Error>) -> StoreError {
    StoreError::Database(err.into().to_string())
}

/// The store's page cache. redb keeps every page a commit writes in it, so a large one fills
/// with records nothing reads again (29 of 32 MiB at 50,000 routes); the rare reads (start,
/// admin) are served by the kernel's page cache.
const CACHE_BYTES: usize = 4 * 1024 * 1024;

fn storage_key(key: &ResourceKey) -> String {
    format!("{}/{}/{}", key.kind, key.namespace, key.name)
}

impl EmbeddedStore {
    /// Opens (or creates) the database at `path`. On first creation the store holds Settings
    /// `gloo-system.default` with Gloo's defaults.
    pub fn open(path: impl AsRef<Path>) -> Result<EmbeddedStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
        }
        // redb caches up to 1 GiB by default. The controller keeps its own copy of every
        // resource, so the store is read at start and for admin reads only: a small cache is enough.
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|err| match err {
                redb::DatabaseError::DatabaseAlreadyOpen => {
                    StoreError::InUse { path: path.clone() }
                }
                other => StoreError::Database(format!("{}: {other}", path.display())),
            })?;
        let (revision, content) = initialise(&db)?;
        Ok(EmbeddedStore {
            inner: Arc::new(Inner {
                db,
                path,
                log: EventLog::new(revision, content),
                writer: Mutex::new(()),
                damaged: Mutex::new(Vec::new()),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Inner) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&inner))
            .await
            .map_err(|e| StoreError::Database(format!("store task failed: {e}")))?
    }
}

/// Creates the tables and, the first time, the default Settings. Returns the current revision
/// and content revision.
fn initialise(db: &Database) -> Result<(Revision, Revision), StoreError> {
    let txn = begin_durable(db)?;
    let revisions = {
        let mut meta = txn.open_table(META).map_err(db_error)?;
        let mut resources = txn.open_table(RESOURCES).map_err(db_error)?;
        txn.open_table(BLOBS).map_err(db_error)?;
        let mut revision = read_revision(&meta)?;
        let seeded = meta.get(SEEDED).map_err(db_error)?.is_some();
        if !seeded {
            revision = revision.next();
            let mut settings = Resource::Settings(Settings::default());
            let meta_of = settings.metadata_mut();
            meta_of.resource_version = Some(revision.as_resource_version());
            meta_of.generation = Some(1);
            meta_of.creation_timestamp = Some(rfc3339_utc(std::time::SystemTime::now()));
            let key = storage_key(&settings.key());
            resources
                .insert(key.as_str(), encode(&settings).as_slice())
                .map_err(db_error)?;
            meta.insert(REVISION, revision.0).map_err(db_error)?;
            meta.insert(SEEDED, 1).map_err(db_error)?;
        }
        // A database from before content revisions: count its last write as a resource write.
        if meta.get(CONTENT_REVISION).map_err(db_error)?.is_none() {
            meta.insert(CONTENT_REVISION, revision.0)
                .map_err(db_error)?;
        }
        (revision, read_content_revision(&meta)?)
    };
    txn.commit().map_err(db_error)?;
    Ok(revisions)
}

fn begin_durable(db: &Database) -> Result<WriteTransaction, StoreError> {
    let mut txn = db.begin_write().map_err(db_error)?;
    txn.set_durability(Durability::Immediate);
    Ok(txn)
}

fn read_counter(
    meta: &impl ReadableTable<&'static str, u64>,
    name: &str,
) -> Result<Revision, StoreError> {
    Ok(Revision(
        meta.get(name)
            .map_err(db_error)?
            .map(|v| v.value())
            .unwrap_or(0),
    ))
}

fn read_revision(meta: &impl ReadableTable<&'static str, u64>) -> Result<Revision, StoreError> {
    read_counter(meta, REVISION)
}

fn read_content_revision(
    meta: &impl ReadableTable<&'static str, u64>,
) -> Result<Revision, StoreError> {
    read_counter(meta, CONTENT_REVISION)
}

/// The content-revision precondition, read in the write's own transaction.
fn check_content(
    meta: &impl ReadableTable<&'static str, u64>,
    precondition: &Precondition,
) -> Result<(), StoreError> {
    let Some(validated_at) = precondition.content_revision else {
        return Ok(());
    };
    let current = read_content_revision(meta)?;
    if current == validated_at {
        Ok(())
    } else {
        Err(StoreError::StaleValidation {
            validated_at,
            current,
        })
    }
}

/// Moves both counters to `revision`: a resource write.
fn record_content_write(
    meta: &mut redb::Table<'_, &'static str, u64>,
    revision: Revision,
) -> Result<(), StoreError> {
    meta.insert(REVISION, revision.0).map_err(db_error)?;
    meta.insert(CONTENT_REVISION, revision.0)
        .map_err(db_error)?;
    Ok(())
}

impl Inner {
    fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn note_damaged(&self, err: &StoreError) {
        tracing::warn!(path = %self.path.display(), "{err}");
        let mut damaged = self.damaged.lock().unwrap_or_else(|p| p.into_inner());
        let problem = SourceProblem {
            file: self.path.clone(),
            resource: None,
            message: err.to_string(),
        };
        if !damaged.contains(&problem) {
            damaged.push(problem);
        }
    }

    /// Decodes a stored record; a damaged one is reported and treated as absent.
    fn decode_or_report(&self, key: &str, bytes: &[u8]) -> Option<Resource> {
        decode(key, bytes)
            .map_err(|err| self.note_damaged(&err))
            .ok()
    }

    fn put(
        &self,
        resource: Resource,
        precondition: &Precondition,
    ) -> Result<PutOutcome, StoreError> {
        let put = BatchPut {
            resource,
            expected_resource_version: precondition.resource_version.clone(),
        };
        let mut outcomes = self.put_batch(vec![put], precondition)?;
        Ok(outcomes.pop().expect("one answer per put"))
    }

    /// Every put in one durable transaction (one fsync for the lot); see `Store::put_batch_if`.
    fn put_batch(
        &self,
        puts: Vec<BatchPut>,
        precondition: &Precondition,
    ) -> Result<Vec<PutOutcome>, StoreError> {
        let _writer = self.lock_writer();
        let txn = begin_durable(&self.db)?;
        let mut outcomes = Vec::with_capacity(puts.len());
        let mut events = Vec::new();
        {
            let mut table = txn.open_table(RESOURCES).map_err(db_error)?;
            let mut meta = txn.open_table(META).map_err(db_error)?;
            check_content(&meta, precondition)?;
            let mut revision = read_revision(&meta)?;
            for put in puts {
                let key = put.resource.key();
                let skey = storage_key(&key);
                let existing = match table.get(skey.as_str()).map_err(db_error)? {
                    Some(bytes) => self.decode_or_report(&skey, bytes.value()),
                    None => None,
                };
                check_expected(
                    &key,
                    existing.as_ref(),
                    put.expected_resource_version.as_deref(),
                )?;
                let (result, resource) = would_put(
                    put.resource,
                    existing.as_ref(),
                    Some(revision.next()),
                    precondition.creation_time.as_deref(),
                );
                if result != PutResult::Unchanged {
                    revision = revision.next();
                    table
                        .insert(skey.as_str(), encode(&resource).as_slice())
                        .map_err(db_error)?;
                    events.push(WatchEvent::Put {
                        resource: resource.clone(),
                        revision,
                    });
                }
                outcomes.push(PutOutcome { result, resource });
            }
            if events.is_empty() {
                drop((table, meta));
                txn.abort().map_err(db_error)?;
                return Ok(outcomes);
            }
            record_content_write(&mut meta, revision)?;
        }
        txn.commit().map_err(db_error)?;
        self.log.append_all(events);
        Ok(outcomes)
    }

    fn delete(
        &self,
        key: &ResourceKey,
        precondition: &Precondition,
    ) -> Result<Resource, StoreError> {
        let skey = storage_key(key);
        let _writer = self.lock_writer();
        let txn = begin_durable(&self.db)?;
        let (existing, revision) = {
            let mut table = txn.open_table(RESOURCES).map_err(db_error)?;
            let mut meta = txn.open_table(META).map_err(db_error)?;
            check_content(&meta, precondition)?;
            let Some(bytes) = table.remove(skey.as_str()).map_err(db_error)? else {
                return Err(StoreError::NotFound(key.clone()));
            };
            // A damaged record cannot be shown, so it cannot be deleted through the API
            // either; the transaction is dropped, which aborts it.
            let existing = decode(&skey, bytes.value())?;
            drop(bytes);
            check_expected(
                key,
                Some(&existing),
                precondition.resource_version.as_deref(),
            )?;
            let revision = read_revision(&meta)?.next();
            record_content_write(&mut meta, revision)?;
            (existing, revision)
        };
        txn.commit().map_err(db_error)?;
        self.log.append(WatchEvent::Delete {
            key: key.clone(),
            revision,
        });
        Ok(existing)
    }

    fn put_statuses(
        &self,
        statuses: Vec<(ResourceKey, serde_json::Value)>,
    ) -> Result<(), StoreError> {
        let _writer = self.lock_writer();
        let txn = begin_durable(&self.db)?;
        let mut events = Vec::new();
        {
            let mut table = txn.open_table(RESOURCES).map_err(db_error)?;
            let mut meta = txn.open_table(META).map_err(db_error)?;
            let mut revision = read_revision(&meta)?;
            for (key, status) in statuses {
                let skey = storage_key(&key);
                let existing = match table.get(skey.as_str()).map_err(db_error)? {
                    Some(bytes) => self.decode_or_report(&skey, bytes.value()),
                    None => None,
                };
                let Some(mut resource) = existing else {
                    continue;
                };
                if status_of(&resource) == Some(&status) {
                    continue;
                }
                revision = revision.next();
                resource.metadata_mut().resource_version = Some(revision.as_resource_version());
                set_status(&mut resource, Some(status.clone()));
                table
                    .insert(skey.as_str(), encode(&resource).as_slice())
                    .map_err(db_error)?;
                events.push(WatchEvent::Status {
                    key,
                    status,
                    revision,
                });
            }
            if events.is_empty() {
                drop((table, meta));
                txn.abort().map_err(db_error)?;
                return Ok(());
            }
            // Not the content revision: a status is not a resource write.
            meta.insert(REVISION, revision.0).map_err(db_error)?;
        }
        txn.commit().map_err(db_error)?;
        for event in events {
            self.log.append(event);
        }
        Ok(())
    }

    /// The resources under `prefix` (all without), with the revision and content revision
    /// they were read at.
    fn scan(
        &self,
        prefix: Option<String>,
    ) -> Result<(Vec<Resource>, Revision, Revision), StoreError> {
        let txn = self.db.begin_read().map_err(db_error)?;
        let table = txn.open_table(RESOURCES).map_err(db_error)?;
        let meta = txn.open_table(META).map_err(db_error)?;
        let revision = read_revision(&meta)?;
        let content_revision = read_content_revision(&meta)?;
        let range = match &prefix {
            // Names never contain '/', and '0' is the character after it.
            Some(prefix) => {
                let end = format!("{}0", prefix.trim_end_matches('/'));
                table.range(prefix.as_str()..end.as_str())
            }
            None => table.range::<&str>(..),
        }
        .map_err(db_error)?;
        let mut out = Vec::new();
        for entry in range {
            let (key, value) = entry.map_err(db_error)?;
            if let Some(resource) = self.decode_or_report(key.value(), value.value()) {
                out.push(resource);
            }
        }
        Ok((out, revision, content_revision))
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    fn kind(&self) -> StoreKind {
        StoreKind::Embedded
    }

    async fn list(&self) -> Result<Listing, StoreError> {
        let (resources, revision, content_revision) =
            self.blocking(|inner| inner.scan(None)).await?;
        Ok(Listing {
            resources,
            undecodable: Vec::new(),
            revision,
            content_revision,
        })
    }

    async fn list_kind(
        &self,
        kind: Kind,
        namespace: Option<&str>,
    ) -> Result<Vec<Resource>, StoreError> {
        let prefix = match namespace {
            Some(ns) => format!("{kind}/{ns}/"),
            None => format!("{kind}/"),
        };
        // Keys sort by kind, namespace, name: the range is already in the promised order.
        Ok(self
            .blocking(move |inner| inner.scan(Some(prefix)))
            .await?
            .0)
    }

    async fn revision(&self) -> Result<Revision, StoreError> {
        Ok(self.inner.log.current())
    }

    async fn content_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.inner.log.content())
    }

    async fn watch(&self, from: Revision) -> Result<Watch, StoreError> {
        Ok(self.inner.log.watch(from))
    }

    async fn get(&self, key: &ResourceKey) -> Result<Option<Resource>, StoreError> {
        let skey = storage_key(key);
        self.blocking(move |inner| {
            let txn = inner.db.begin_read().map_err(db_error)?;
            let table = txn.open_table(RESOURCES).map_err(db_error)?;
            let found = table.get(skey.as_str()).map_err(db_error)?;
            Ok(found.and_then(|bytes| inner.decode_or_report(&skey, bytes.value())))
        })
        .await
    }

    async fn put_if(
        &self,
        resource: Resource,
        precondition: &Precondition,
    ) -> Result<PutOutcome, StoreError> {
        let precondition = precondition.clone();
        self.blocking(move |inner| inner.put(resource, &precondition))
            .await
    }

    async fn put_batch_if(
        &self,
        puts: Vec<BatchPut>,
        precondition: &Precondition,
    ) -> Result<Vec<PutOutcome>, StoreError> {
        let precondition = precondition.clone();
        self.blocking(move |inner| inner.put_batch(puts, &precondition))
            .await
    }

    async fn delete_if(
        &self,
        key: &ResourceKey,
        precondition: &Precondition,
    ) -> Result<Resource, StoreError> {
        let (key, precondition) = (key.clone(), precondition.clone());
        self.blocking(move |inner| inner.delete(&key, &precondition))
            .await
    }

    async fn put_statuses(
        &self,
        statuses: Vec<(ResourceKey, serde_json::Value)>,
    ) -> Result<(), StoreError> {
        if statuses.is_empty() {
            return Ok(());
        }
        self.blocking(move |inner| inner.put_statuses(statuses))
            .await
    }

    async fn get_blob(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let name = name.to_string();
        self.blocking(move |inner| {
            let txn = inner.db.begin_read().map_err(db_error)?;
            let table = txn.open_table(BLOBS).map_err(db_error)?;
            let found = table.get(name.as_str()).map_err(db_error)?;
            Ok(found.map(|bytes| bytes.value().to_vec()))
        })
        .await
    }

    async fn get_blobs(&self, names: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let names = names.to_vec();
        // One read transaction: every blob as of one commit.
        self.blocking(move |inner| {
            let txn = inner.db.begin_read().map_err(db_error)?;
            let table = txn.open_table(BLOBS).map_err(db_error)?;
            names
                .iter()
                .map(|name| {
                    let found = table.get(name.as_str()).map_err(db_error)?;
                    Ok(found.map(|bytes| bytes.value().to_vec()))
                })
                .collect()
        })
        .await
    }

    async fn list_blobs(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let prefix = prefix.to_string();
        self.blocking(move |inner| {
            let txn = inner.db.begin_read().map_err(db_error)?;
            let table = txn.open_table(BLOBS).map_err(db_error)?;
            let mut names = Vec::new();
            for entry in table.range(prefix.as_str()..).map_err(db_error)? {
                let (name, _) = entry.map_err(db_error)?;
                if !name.value().starts_with(prefix.as_str()) {
                    break;
                }
                names.push(name.value().to_string());
            }
            Ok(names)
        })
        .await
    }

    async fn write_blobs(&self, batch: BlobBatch) -> Result<(), StoreError> {
        if batch.ops() == 0 {
            return Ok(());
        }
        self.blocking(move |inner| {
            let txn = begin_durable(&inner.db)?;
            {
                let mut table = txn.open_table(BLOBS).map_err(db_error)?;
                for (name, bytes) in &batch.puts {
                    table
                        .insert(name.as_str(), bytes.as_slice())
                        .map_err(db_error)?;
                }
                for name in &batch.deletes {
                    table.remove(name.as_str()).map_err(db_error)?;
                }
            }
            txn.commit().map_err(db_error)
        })
        .await
    }

    /// One redb transaction per batch, so a batch is atomic; its size is bounded only so that
    /// one persist of a very large configuration does not hold the writer for long.
    fn blob_limits(&self) -> BlobLimits {
        BlobLimits {
            max_ops: 4096,
            max_bytes: 64 * 1024 * 1024,
            atomic: true,
        }
    }

    fn problems(&self) -> Vec<SourceProblem> {
        self.inner
            .damaged
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}
