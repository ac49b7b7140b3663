//! Persisting the last known good as separate records, so that no write grows with the whole
//! configuration (etcd refuses requests over 1.5 MiB) and a change to one virtual host writes
//! that host's records and the manifest, not everything (see `records.rs` for the records).
//!
//! One persist, crash-safe at every point:
//! 1. the records the new manifest names that the store lacks are written, in as many batches
//!    as the store's [`BlobLimits`] take;
//! 2. the manifest is written (atomically: one blob);
//! 3. records no manifest names any more are deleted.
//!
//! A crash before 2 leaves the old manifest, whose records are all still there (nothing it
//! names is deleted before 2); a crash after 2 leaves the new one, whose records were all
//! written first. Records are named by their content, so an old and a new manifest can share
//! them and nothing is ever overwritten in place. Leftovers of a crash (records written but
//! never named, or named no more) are deleted by the first persist after the restart. Where a
//! batch is a transaction ([`BlobLimits::atomic`]) and everything fits, the three steps are
//! one batch.

mod chunks;
#[cfg(test)]
mod fixtures;
mod records;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use lockgate_store::{BlobBatch, BlobLimits, Store, StoreError};
use lockgate_translate::PolicyState;

use crate::POLICY_STATE_BLOB;
use records::{Index, MANIFEST, Manifest, PREFIX, Split};

/// The persisted last known good, as the store holds it and as this process last wrote it.
#[derive(Debug, Default)]
pub struct LastKnownGood {
    /// What the stored records hold, to reuse those of unchanged content.
    index: Index,
    /// Records certainly in the store.
    present: HashSet<String>,
    /// Records that may be in the store (a superset of `present`): what a persist deletes when
    /// its manifest does not name them.
    known: HashSet<String>,
    /// The manifest certainly in the store.
    manifest: Option<Vec<u8>>,
}

/// What one persist wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Persisted {
    /// Records written, the manifest included (0 when the state was already persisted).
    pub records: usize,
    /// Bytes of names and values written.
    pub bytes: usize,
    /// Records deleted.
    pub deleted: usize,
    /// Batches (transactions, where the store has them).
    pub batches: usize,
    /// The largest single blob written.
    pub largest_record: usize,
    /// Records serialised to learn their names: those whose content is unchanged since the
    /// last persist are reused without, so 0 when nothing changed.
    pub serialised: usize,
    /// Lists (a host's routes, the clusters, the hosts) cut into chunks to compare them:
    /// unchanged ones keep their chunks, so 0 when nothing changed.
    pub cut: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    #[error("cannot write the last known good records: {0}")]
    Store(#[from] StoreError),
    #[error("cannot encode the last known good: {0}")]
    Encode(String),
    #[error(
        "the last known good {name} is {bytes} bytes, more than one write to this store may hold ({limit})"
    )]
    TooLarge {
        name: String,
        bytes: usize,
        limit: usize,
    },
}

impl LastKnownGood {
    /// Reads the persisted last known good: the records a manifest names or, when there is no
    /// manifest, the single `policy-state` blob older versions wrote (deleted by the first
    /// persist). A damaged or incomplete set of records is reported and ignored: nothing is
    /// restored rather than a mix.
    pub async fn restore(store: &dyn Store) -> (Option<PolicyState>, LastKnownGood) {
        let mut lkg = LastKnownGood::default();
        match store.list_blobs(PREFIX).await {
            Ok(names) => lkg
                .known
                .extend(names.into_iter().filter(|n| n != MANIFEST)),
            Err(e) => tracing::warn!("cannot list the persisted last known good: {e}"),
        }
        // Left behind by an upgrade that crashed between writing the manifest and deleting it.
        if let Ok(names) = store.list_blobs(POLICY_STATE_BLOB).await {
            lkg.known
                .extend(names.into_iter().filter(|n| n == POLICY_STATE_BLOB));
        }
        match read_records(store).await {
            Ok(Some(records)) => {
                lkg.present = records.names;
                lkg.index = records.index;
                lkg.manifest = Some(records.manifest);
                return (Some(records.state), lkg);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!("ignoring the persisted last known good: {e}");
                return (None, lkg);
            }
        }
        let state = match store.get_blob(POLICY_STATE_BLOB).await {
            Ok(Some(bytes)) => {
                lkg.known.insert(POLICY_STATE_BLOB.to_string());
                serde_json::from_slice(&bytes)
                    .inspect_err(|e| {
                        tracing::warn!(
                            "ignoring the persisted policy state, which does not decode: {e}"
                        )
                    })
                    .ok()
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!("cannot read the persisted policy state: {e}");
                None
            }
        };
        (state, lkg)
    }

    /// Persists `state`, writing only the records the store does not hold yet. After an error
    /// the store holds the previous state or this one, whole; the next persist repairs the rest.
    pub async fn persist(
        &mut self,
        store: &dyn Store,
        state: Arc<PolicyState>,
    ) -> Result<Persisted, PersistError> {
        let previous = std::mem::take(&mut self.index);
        let present = std::mem::take(&mut self.present);
        // Comparing and serialising 50,000 routes is work for a blocking thread.
        let (split, present) = tokio::task::spawn_blocking(move || {
            (records::split(&state, &previous, &present), present)
        })
        .await
        .map_err(|e| PersistError::Encode(format!("the task failed: {e}")))?;
        self.present = present;
        let split = split.map_err(PersistError::Encode)?;
        let Split {
            manifest,
            referenced,
            fresh,
            index,
            serialised,
            cut,
        } = split;
        self.index = index;

        let mut deletes: Vec<String> = (self.known.iter())
            .filter(|name| !referenced.contains(*name))
            .cloned()
            .collect();
        deletes.sort();
        if fresh.is_empty() && deletes.is_empty() && self.manifest.as_ref() == Some(&manifest) {
            return Ok(Persisted {
                serialised,
                cut,
                ..Persisted::default()
            });
        }
        let batches = plan(fresh, manifest, deletes, store.blob_limits())?;
        let mut report = Persisted {
            serialised,
            cut,
            ..Persisted::default()
        };
        for batch in batches {
            self.write(store, batch, &mut report).await?;
        }
        Ok(report)
    }

    /// Writes one batch, keeping `present` and `known` true whatever happens.
    async fn write(
        &mut self,
        store: &dyn Store,
        batch: BlobBatch,
        report: &mut Persisted,
    ) -> Result<(), PersistError> {
        let manifest = batch
            .puts
            .iter()
            .find(|(name, _)| name == MANIFEST)
            .map(|(_, bytes)| bytes.clone());
        // Until the batch is known to be done, what it deletes may be gone and what it puts may
        // be there.
        for name in &batch.deletes {
            self.present.remove(name);
        }
        if manifest.is_some() {
            self.manifest = None;
        }
        let puts: Vec<String> = batch
            .puts
            .iter()
            .map(|(name, _)| name.clone())
            .filter(|name| name != MANIFEST)
            .collect();
        self.known.extend(puts.iter().cloned());
        let (records, bytes, deleted) = (batch.puts.len(), batch.bytes(), batch.deletes.clone());
        let largest = batch.puts.iter().map(|(_, b)| b.len()).max().unwrap_or(0);
        store.write_blobs(batch).await?;
        self.present.extend(puts);
        for name in &deleted {
            self.known.remove(name);
        }
        self.manifest = manifest.or(self.manifest.take());
        report.records += records;
        report.bytes += bytes;
        report.deleted += deleted.len();
        report.batches += 1;
        report.largest_record = report.largest_record.max(largest);
        Ok(())
    }
}

/// What a stored manifest names, read back and checked.
struct Records {
    state: PolicyState,
    index: Index,
    /// Every record the manifest names.
    names: HashSet<String>,
    manifest: Vec<u8>,
}

/// The records the stored manifest names; `None` without a manifest.
async fn read_records(store: &dyn Store) -> Result<Option<Records>, String> {
    let Some(bytes) = store.get_blob(MANIFEST).await.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    let manifest = Manifest::decode(&bytes).map_err(|e| format!("{MANIFEST}: {e}"))?;
    let mut parts = BTreeMap::new();
    read_checked(store, manifest.names(), &mut parts).await?;
    // The route records are named by the host records just read.
    let routes = records::route_names(&manifest, &parts)?;
    read_checked(store, routes, &mut parts).await?;
    let names = parts.keys().cloned().collect();
    let (state, index) = records::join(&manifest, &parts)?;
    Ok(Some(Records {
        state,
        index,
        names,
        manifest: bytes,
    }))
}

/// Reads `names` into `parts`, each checked against its name.
async fn read_checked(
    store: &dyn Store,
    names: BTreeSet<String>,
    parts: &mut BTreeMap<String, Vec<u8>>,
) -> Result<(), String> {
    let names: Vec<String> = names.into_iter().collect();
    let values = store.get_blobs(&names).await.map_err(|e| e.to_string())?;
    for (name, value) in names.into_iter().zip(values) {
        let value = value.ok_or_else(|| format!("{name}, which {MANIFEST} names, is missing"))?;
        if !records::matches_name(&name, &value) {
            return Err(format!(
                "{name} is damaged: its bytes are not what its name says"
            ));
        }
        parts.insert(name, value);
    }
    Ok(())
}

/// The batches of one persist, in order: records, then the manifest, then deletes; within the
/// store's limits, and with the manifest in a batch after every record's unless a batch is a
/// transaction.
fn plan(
    fresh: BTreeMap<String, Vec<u8>>,
    manifest: Vec<u8>,
    deletes: Vec<String>,
    limits: BlobLimits,
) -> Result<Vec<BlobBatch>, PersistError> {
    let mut plan = Planner {
        limits,
        batches: vec![BlobBatch::default()],
    };
    for (name, bytes) in fresh {
        plan.put(name, bytes)?;
    }
    if !limits.atomic {
        plan.cut();
    }
    plan.put(MANIFEST.to_string(), manifest)?;
    for name in deletes {
        plan.delete(name);
    }
    Ok(plan.batches)
}

struct Planner {
    limits: BlobLimits,
    /// Never empty; the last one is being filled.
    batches: Vec<BlobBatch>,
}

impl Planner {
    /// The batch to add an operation of `bytes` to.
    fn batch(&mut self, bytes: usize) -> &mut BlobBatch {
        let fits = self.batches.last().is_some_and(|last| {
            last.ops() < self.limits.max_ops && last.bytes() + bytes <= self.limits.max_bytes
        });
        if !fits {
            self.cut();
        }
        self.batches.last_mut().expect("never empty")
    }

    /// Starts a new batch unless the last one is empty.
    fn cut(&mut self) {
        if self.batches.last().is_none_or(|last| last.ops() > 0) {
            self.batches.push(BlobBatch::default());
        }
    }

    fn put(&mut self, name: String, bytes: Vec<u8>) -> Result<(), PersistError> {
        let size = name.len() + bytes.len();
        if size > self.limits.max_bytes {
            return Err(PersistError::TooLarge {
                name,
                bytes: bytes.len(),
                limit: self.limits.max_bytes,
            });
        }
        self.batch(size).puts.push((name, bytes));
        Ok(())
    }

    fn delete(&mut self, name: String) {
        self.batch(name.len()).deletes.push(name);
    }
}

#[cfg(test)]
#[path = "persist_test.rs"]
mod tests;
