//! Where lockgate's resources live.
//!
//! Every back end offers the same revisioned list-and-watch, the shape an etcd back end has:
//! [`Store::list`] returns everything with the revision it was read at, and
//! [`Store::watch`] yields every change after a revision, or [`WatchEvent::Relist`] when that
//! history is no longer kept. The controller lists once, then watches; it never needs to know
//! which back end it talks to, and the translator only ever sees [`lockgate_api::Resource`]s.
//!
//! - [`EmbeddedStore`]: a redb database under the state directory, the default. Every
//!   acknowledged write is committed durably before the call returns.
//! - [`DirStore`]: a directory of YAML files, read-only to the API, watched for changes (GitOps).
//!   How files are read ([`scan`]) is public, so that offline validation reads a directory by
//!   exactly the rules the gateway serves it by.
//!
//! The store owns `metadata.resourceVersion` (the revision of the object's last stored write)
//! and `metadata.generation` (1 on creation, +1 whenever the spec changes). Statuses are the
//! controller's to write ([`Store::put_statuses`]); a client's `status` is never stored.
//!
//! Beside the revision, every store keeps a **content revision**: the revision of the last
//! resource write (a put that stored something, or a delete). Status and blob writes do not move
//! it, so the controller writing statuses after each translation never makes a client's write
//! conflict. A write can be made conditional on it ([`Precondition::content_revision`]): "only
//! if no resource was written since the snapshot this change was validated against". That is
//! what makes validation and write one step for several writers or gateway replicas on one
//! store; an etcd back end does the same with one Txn that compares and puts a counter key
//! beside the resource.

mod blob_dir;
mod blob_hook;
mod dir;
mod embedded;
mod event_log;
mod record;

use std::fmt;
use std::path::PathBuf;

use async_trait::async_trait;
use lockgate_api::{Kind, Resource, ResourceKey, Undecodable};

pub use blob_hook::{BlobHook, WithBlobHook};
pub use dir::{DirStore, DirStoreOptions, scan};
pub use embedded::EmbeddedStore;
pub use event_log::Watch;
pub use record::{
    check_expected, next_generation, rfc3339_utc, same_content, set_status, stamp_creation,
    status_of, would_put,
};

/// A point in the store's history. Every stored write moves it forward by one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Revision(pub u64);

impl Revision {
    pub fn next(self) -> Revision {
        Revision(self.0 + 1)
    }

    /// The revision as `metadata.resourceVersion` spells it.
    pub fn as_resource_version(self) -> String {
        self.0.to_string()
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Everything in the store at one revision.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    pub resources: Vec<Resource>,
    /// Resources known to exist that do not decode (a file with a typo in a watched directory).
    /// The translator treats them as present and invalid.
    pub undecodable: Vec<(ResourceKey, Undecodable)>,
    pub revision: Revision,
    /// The revision of the last resource write at `revision` (see the crate documentation).
    pub content_revision: Revision,
}

/// One change, in revision order. Every event but [`WatchEvent::Status`] is a resource write:
/// its revision is the store's content revision from then on.
#[derive(Debug, Clone, PartialEq)]
pub enum WatchEvent {
    /// Created or replaced.
    Put {
        resource: Resource,
        revision: Revision,
    },
    /// The resource exists but no longer decodes; what it was before is gone.
    PutUndecodable {
        key: ResourceKey,
        undecodable: Undecodable,
        revision: Revision,
    },
    Delete {
        key: ResourceKey,
        revision: Revision,
    },
    /// Only the controller's status of a resource changed (and with it its resourceVersion,
    /// now `revision`): the content revision stays.
    Status {
        key: ResourceKey,
        status: serde_json::Value,
        revision: Revision,
    },
    /// The history after the watched revision is gone: list again and watch from there.
    Relist,
}

/// What a write did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutResult {
    Created,
    /// Stored with a new revision; the generation grew if the spec changed.
    Configured,
    /// Spec, labels and annotations are what was stored already: nothing written.
    Unchanged,
}

impl PutResult {
    pub fn as_str(self) -> &'static str {
        match self {
            PutResult::Created => "created",
            PutResult::Configured => "configured",
            PutResult::Unchanged => "unchanged",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct PutOutcome {
    pub result: PutResult,
    /// The resource as stored, with its resourceVersion, generation and status.
    pub resource: Resource,
}

/// What must still hold for a put or delete to be stored. The check and the write are one
/// transaction: a write whose precondition fails stores nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Precondition {
    /// The stored object must exist with exactly this `metadata.resourceVersion`, else
    /// [`StoreError::Conflict`].
    pub resource_version: Option<String>,
    /// No resource may have been written since this content revision, else
    /// [`StoreError::StaleValidation`]. Checked before `resource_version`: a writer that
    /// validated a stale state reads again, and then learns of a conflict, if any, against
    /// what is stored now.
    pub content_revision: Option<Revision>,
    /// Not a condition: the creation time a put that creates stamps, when the writer validated
    /// the resource with one ([`would_put`] from the server's clock, never a client's), so that
    /// what is stored is exactly what was validated. The store's clock when `None`.
    pub creation_time: Option<String>,
}

/// One put of [`Store::put_batch_if`]: the resource and, optionally, the resourceVersion the
/// stored object must have (as [`Precondition::resource_version`] for one put).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchPut {
    pub resource: Resource,
    pub expected_resource_version: Option<String>,
}

impl Precondition {
    /// Only the resourceVersion, as `Store::put` and `Store::delete` take it.
    pub fn resource_version(expected: Option<&str>) -> Precondition {
        Precondition {
            resource_version: expected.map(str::to_string),
            ..Precondition::default()
        }
    }
}

/// Which back end a store is, for `/info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    Dir,
}

impl StoreKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Embedded => "embedded",
            StoreKind::Dir => "dir",
        }
    }
}

/// A problem with the source itself rather than with one resource: a file of a watched
/// directory that is not valid YAML and never defined anything, or a resource defined twice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceProblem {
    /// The file, relative to the watched directory.
    pub file: PathBuf,
    /// The resource concerned, when known.
    pub resource: Option<ResourceKey>,
    pub message: String,
}

impl fmt::Display for SourceProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.message)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(ResourceKey),
    #[error(
        "{key}: the object has been modified (resourceVersion {expected} was sent, the stored one is {}): read it again and reapply your change",
        actual.as_deref().unwrap_or("absent: the object does not exist")
    )]
    Conflict {
        key: ResourceKey,
        expected: String,
        actual: Option<String>,
    },
    #[error(
        "the configuration changed after this write was validated (against content revision {validated_at}; the store is at {current}): validate it again"
    )]
    StaleValidation {
        validated_at: Revision,
        current: Revision,
    },
    #[error(
        "this gateway serves the read-only directory {}: change the files there instead",
        .0.display()
    )]
    ReadOnly(PathBuf),
    #[error(
        "the store at {path} is in use by another lockgate process: stop it or pick another --state-dir"
    )]
    InUse { path: PathBuf },
    #[error("store database error: {0}")]
    Database(String),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the stored record of {key} is damaged: {message}")]
    Corrupt { key: String, message: String },
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Blob writes and deletes applied together by [`Store::write_blobs`].
///
/// Every back end makes each single put atomic (a reader sees the old bytes or the new ones,
/// never a torn blob, even after a crash) and applies the deletes only once every put is
/// durable; deleting a blob that does not exist is not an error. Where
/// [`BlobLimits::atomic`] holds, the whole batch is one transaction: all of it or none of it.
/// Elsewhere a failure or a crash part-way may leave any subset of the puts done. Names are
/// chosen by lockgate (`lkg/routes/3f2a...`): short, printable ASCII.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlobBatch {
    pub puts: Vec<(String, Vec<u8>)>,
    pub deletes: Vec<String>,
}

impl BlobBatch {
    /// Operations in the batch (puts and deletes), as [`BlobLimits::max_ops`] counts them.
    pub fn ops(&self) -> usize {
        self.puts.len() + self.deletes.len()
    }

    /// Bytes of names and values, as [`BlobLimits::max_bytes`] counts them.
    pub fn bytes(&self) -> usize {
        let puts: usize = self.puts.iter().map(|(n, b)| n.len() + b.len()).sum();
        puts + self.deletes.iter().map(String::len).sum::<usize>()
    }
}

/// What one [`BlobBatch`] may hold on a back end: etcd, for one, refuses requests over 1.5 MiB
/// and transactions over 128 operations by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlobLimits {
    /// Puts and deletes in one batch.
    pub max_ops: usize,
    /// Bytes of names and values in one batch; at least 1 MiB, so that every blob lockgate
    /// writes (at most 512 KiB) fits with room to spare.
    pub max_bytes: usize,
    /// Whether a batch is applied as one transaction (all or nothing).
    pub atomic: bool,
}

impl Default for BlobLimits {
    /// Within etcd's default limits, with no promise of atomicity.
    fn default() -> Self {
        BlobLimits {
            max_ops: 64,
            max_bytes: 1024 * 1024,
            atomic: false,
        }
    }
}

/// The store every back end implements. All methods are cancel-safe in the sense that matters:
/// a write either completed durably (and its result was or would have been returned) or left
/// nothing behind.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    fn kind(&self) -> StoreKind;

    /// Everything, with the revision it was read at.
    async fn list(&self) -> Result<Listing, StoreError>;

    /// The resources of one kind, in one namespace or all, sorted by namespace and name.
    async fn list_kind(
        &self,
        kind: Kind,
        namespace: Option<&str>,
    ) -> Result<Vec<Resource>, StoreError> {
        let mut out: Vec<Resource> = self
            .list()
            .await?
            .resources
            .into_iter()
            .filter(|r| r.kind() == kind)
            .filter(|r| namespace.is_none_or(|ns| r.metadata().namespace == ns))
            .collect();
        out.sort_by(|a, b| {
            let (a, b) = (a.metadata(), b.metadata());
            (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name))
        });
        Ok(out)
    }

    /// The current revision.
    async fn revision(&self) -> Result<Revision, StoreError>;

    /// The revision of the last resource write (see the crate documentation).
    async fn content_revision(&self) -> Result<Revision, StoreError>;

    /// Every change after `from`. Watching from a revision older than the kept history yields
    /// [`WatchEvent::Relist`] first.
    async fn watch(&self, from: Revision) -> Result<Watch, StoreError>;

    async fn get(&self, key: &ResourceKey) -> Result<Option<Resource>, StoreError>;

    /// Creates or replaces `resource`. With `expected_resource_version`, the stored object must
    /// have exactly that resourceVersion (and must exist), else [`StoreError::Conflict`]. The
    /// resource's own resourceVersion, generation and status are ignored: the store sets them.
    async fn put(
        &self,
        resource: Resource,
        expected_resource_version: Option<&str>,
    ) -> Result<PutOutcome, StoreError> {
        let precondition = Precondition::resource_version(expected_resource_version);
        self.put_if(resource, &precondition).await
    }

    /// [`Store::put`] under a [`Precondition`], checked in the same transaction as the write.
    /// What is stored follows [`would_put`].
    async fn put_if(
        &self,
        resource: Resource,
        precondition: &Precondition,
    ) -> Result<PutOutcome, StoreError>;

    /// Creates or replaces every resource of `puts` in one transaction, all or none: the
    /// precondition's content revision is checked once (its `resource_version` is not used:
    /// each put has its own), every created resource gets its creation time, and a failed
    /// check stores nothing. Each put stores what [`would_put`] says, in order, each with its
    /// own revision; the answers come in the order of `puts`. The keys must be distinct.
    async fn put_batch_if(
        &self,
        puts: Vec<BatchPut>,
        precondition: &Precondition,
    ) -> Result<Vec<PutOutcome>, StoreError>;

    /// Deletes a resource and returns it as it was stored.
    async fn delete(
        &self,
        key: &ResourceKey,
        expected_resource_version: Option<&str>,
    ) -> Result<Resource, StoreError> {
        let precondition = Precondition::resource_version(expected_resource_version);
        self.delete_if(key, &precondition).await
    }

    /// [`Store::delete`] under a [`Precondition`], checked in the same transaction.
    async fn delete_if(
        &self,
        key: &ResourceKey,
        precondition: &Precondition,
    ) -> Result<Resource, StoreError>;

    /// Writes statuses (all at once, in one durable transaction where the back end has them).
    /// Statuses of resources that no longer exist are skipped; an unchanged status is not
    /// written again. The content revision does not move.
    async fn put_statuses(
        &self,
        statuses: Vec<(ResourceKey, serde_json::Value)>,
    ) -> Result<(), StoreError>;

    /// A named blob of the controller's own state (the records of the persisted last known
    /// good). Blobs are not resources: no revision, no watch, and writing one moves neither
    /// revision. See [`BlobBatch`].
    async fn get_blob(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Several blobs at once, in the order asked (`None` for a missing one). Back ends with a
    /// cheaper way than one read per name override it.
    async fn get_blobs(&self, names: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            out.push(self.get_blob(name).await?);
        }
        Ok(out)
    }

    /// The names of the blobs that start with `prefix`, sorted.
    async fn list_blobs(&self, prefix: &str) -> Result<Vec<String>, StoreError>;

    /// Applies a batch of blob writes and deletes, durably, before returning (see
    /// [`BlobBatch`] for what a failure part-way may leave). A batch must stay within
    /// [`Store::blob_limits`].
    async fn write_blobs(&self, batch: BlobBatch) -> Result<(), StoreError>;

    /// What one [`BlobBatch`] may hold on this back end.
    fn blob_limits(&self) -> BlobLimits {
        BlobLimits::default()
    }

    async fn put_blob(&self, name: &str, bytes: Vec<u8>) -> Result<(), StoreError> {
        self.write_blobs(BlobBatch {
            puts: vec![(name.to_string(), bytes)],
            deletes: Vec::new(),
        })
        .await
    }

    /// Problems with the source that are not any resource's (see [`SourceProblem`]).
    fn problems(&self) -> Vec<SourceProblem> {
        Vec::new()
    }
}
