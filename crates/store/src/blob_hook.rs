//! A store that is another store except for how it writes blobs: for the tests and benchmarks
//! that count, limit or break the persisting of the last known good, without each writing out
//! the whole [`Store`] trait to change one method.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use async_trait::async_trait;
use lockgate_api::{Kind, Resource, ResourceKey};

use crate::{
    BatchPut, BlobBatch, BlobLimits, Listing, Precondition, PutOutcome, Revision, SourceProblem,
    Store, StoreError, StoreKind, Watch,
};

/// What a [`WithBlobHook`] does instead of its inner store's blob writes.
#[async_trait]
pub trait BlobHook: Send + Sync + 'static {
    /// The limits the store announces; the inner store's by default.
    fn blob_limits(&self, inner: &dyn Store) -> BlobLimits {
        inner.blob_limits()
    }

    /// Writes `batch`, through `inner` or not.
    async fn write_blobs(&self, inner: &dyn Store, batch: BlobBatch) -> Result<(), StoreError>;
}

/// `inner` with its blob writes going through `hook`; dereferences to the hook, so a test
/// drives the hook through the store it hands out.
pub struct WithBlobHook<H> {
    inner: Arc<dyn Store>,
    hook: H,
}

impl<H: BlobHook> WithBlobHook<H> {
    pub fn new(inner: Arc<dyn Store>, hook: H) -> WithBlobHook<H> {
        WithBlobHook { inner, hook }
    }

    pub fn inner(&self) -> &Arc<dyn Store> {
        &self.inner
    }
}

impl<H> Deref for WithBlobHook<H> {
    type Target = H;

    fn deref(&self) -> &H {
        &self.hook
    }
}

impl<H> DerefMut for WithBlobHook<H> {
    fn deref_mut(&mut self) -> &mut H {
        &mut self.hook
    }
}

#[async_trait]
impl<H: BlobHook> Store for WithBlobHook<H> {
    fn kind(&self) -> StoreKind {
        self.inner.kind()
    }
    async fn list(&self) -> Result<Listing, StoreError> {
        self.inner.list().await
    }
    async fn list_kind(
        &self,
        kind: Kind,
        namespace: Option<&str>,
    ) -> Result<Vec<Resource>, StoreError> {
        self.inner.list_kind(kind, namespace).await
    }
    async fn revision(&self) -> Result<Revision, StoreError> {
        self.inner.revision().await
    }
    async fn content_revision(&self) -> Result<Revision, StoreError> {
        self.inner.content_revision().await
    }
    async fn watch(&self, from: Revision) -> Result<Watch, StoreError> {
        self.inner.watch(from).await
    }
    async fn get(&self, key: &ResourceKey) -> Result<Option<Resource>, StoreError> {
        self.inner.get(key).await
    }
    async fn put(&self, r: Resource, rv: Option<&str>) -> Result<PutOutcome, StoreError> {
        self.inner.put(r, rv).await
    }
    async fn put_if(&self, r: Resource, p: &Precondition) -> Result<PutOutcome, StoreError> {
        self.inner.put_if(r, p).await
    }
    async fn put_batch_if(
        &self,
        puts: Vec<BatchPut>,
        p: &Precondition,
    ) -> Result<Vec<PutOutcome>, StoreError> {
        self.inner.put_batch_if(puts, p).await
    }
    async fn delete(&self, key: &ResourceKey, rv: Option<&str>) -> Result<Resource, StoreError> {
        self.inner.delete(key, rv).await
    }
    async fn delete_if(&self, key: &ResourceKey, p: &Precondition) -> Result<Resource, StoreError> {
        self.inner.delete_if(key, p).await
    }
    async fn put_statuses(
        &self,
        statuses: Vec<(ResourceKey, serde_json::Value)>,
    ) -> Result<(), StoreError> {
        self.inner.put_statuses(statuses).await
    }
    async fn get_blob(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get_blob(name).await
    }
    async fn get_blobs(&self, names: &[String]) -> Result<Vec<Option<Vec<u8>>>, StoreError> {
        self.inner.get_blobs(names).await
    }
    async fn list_blobs(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        self.inner.list_blobs(prefix).await
    }
    fn blob_limits(&self) -> BlobLimits {
        self.hook.blob_limits(self.inner.as_ref())
    }
    async fn write_blobs(&self, batch: BlobBatch) -> Result<(), StoreError> {
        self.hook.write_blobs(self.inner.as_ref(), batch).await
    }
    fn problems(&self) -> Vec<SourceProblem> {
        self.inner.problems()
    }
}
