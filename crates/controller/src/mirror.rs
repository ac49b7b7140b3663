//! The controller's copy of the store: what the next translation will see.
//!
//! Resources are kept without their resourceVersion and status, so that a status write (which
//! moves the resourceVersion) is recognised as no change at all and does not cause another
//! translation. The statuses are kept beside them, to write only those that change.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use lockgate_api::{Resource, ResourceKey, Snapshot, Undecodable};
use lockgate_store::{Listing, Revision, WatchEvent, set_status, status_of};
use serde_json::Value;

#[derive(Default)]
pub(crate) struct Mirror {
    resources: BTreeMap<ResourceKey, Resource>,
    undecodable: BTreeMap<ResourceKey, Undecodable>,
    pub(crate) statuses: HashMap<ResourceKey, Value>,
    pub(crate) revision: Revision,
    snapshot: Option<Arc<Snapshot>>,
}

fn strip(mut resource: Resource) -> (Resource, Option<Value>) {
    let status = status_of(&resource).cloned();
    set_status(&mut resource, None);
    resource.metadata_mut().resource_version = None;
    (resource, status)
}

impl Mirror {
    pub(crate) fn from_listing(listing: Listing) -> Mirror {
        let mut mirror = Mirror {
            revision: listing.revision,
            ..Mirror::default()
        };
        for resource in listing.resources {
            mirror.put(resource);
        }
        mirror.undecodable = listing.undecodable.into_iter().collect();
        mirror
    }

    /// Applies one change; returns whether translation would see anything new.
    pub(crate) fn apply(&mut self, event: WatchEvent) -> bool {
        let changed = match event {
            WatchEvent::Put { resource, revision } => {
                self.revision = revision;
                self.put(resource)
            }
            WatchEvent::PutUndecodable {
                key,
                undecodable,
                revision,
            } => {
                self.revision = revision;
                self.resources.remove(&key);
                self.statuses.remove(&key);
                self.undecodable.insert(key, undecodable);
                true
            }
            WatchEvent::Delete { key, revision } => {
                self.revision = revision;
                self.statuses.remove(&key);
                let removed = self.resources.remove(&key).is_some();
                self.undecodable.remove(&key).is_some() || removed
            }
            // The caller relists.
            WatchEvent::Relist => false,
        };
        if changed {
            self.snapshot = None;
        }
        changed
    }

    fn put(&mut self, resource: Resource) -> bool {
        let key = resource.key();
        let (resource, status) = strip(resource);
        match status {
            Some(status) => self.statuses.insert(key.clone(), status),
            None => self.statuses.remove(&key),
        };
        let undecodable = self.undecodable.remove(&key).is_some();
        if self.resources.get(&key) == Some(&resource) && !undecodable {
            return false;
        }
        self.resources.insert(key, resource);
        self.snapshot = None;
        true
    }

    /// The snapshot of everything mirrored, built once per change.
    pub(crate) fn snapshot(&mut self) -> Arc<Snapshot> {
        if let Some(snapshot) = &self.snapshot {
            return Arc::clone(snapshot);
        }
        let mut snapshot = Snapshot::from_resources(self.resources.values().cloned());
        for (key, undecodable) in &self.undecodable {
            snapshot.insert_undecodable(key.clone(), undecodable.clone());
        }
        let snapshot = Arc::new(snapshot);
        self.snapshot = Some(Arc::clone(&snapshot));
        snapshot
    }

    /// Every resource the translation sees, with its generation, for statuses and `/check`.
    pub(crate) fn keys(&self) -> Vec<(ResourceKey, Option<i64>)> {
        let resources = self
            .resources
            .iter()
            .map(|(k, r)| (k.clone(), r.metadata().generation));
        let undecodable = self.undecodable.keys().map(|k| (k.clone(), None));
        resources.chain(undecodable).collect()
    }
}
