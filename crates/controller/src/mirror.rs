//! The controller's copy of the store: what the next translation will see.
//!
//! Resources are kept without their resourceVersion and status, so that a status write (which
//! moves the resourceVersion) is recognised as no change at all and does not cause another
//! translation. The statuses are kept beside them, to write only those that change.
//!
//! The mirror also knows the store's content revision it reflects (the revision of the last
//! resource write it applied): the listing says it, and every event but a status write moves
//! it. A validated write is stored only if the store's content revision is still that one.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use lockgate_api::{Resource, ResourceKey, Snapshot};
use lockgate_store::{Listing, Revision, WatchEvent, set_status, status_of};
use serde_json::Value;

#[derive(Default)]
pub(crate) struct Mirror {
    /// Every resource translation sees, decoded or not. Its resources are shared (`Arc`) with
    /// the snapshots handed out, so the mirror never holds a second copy of the routes.
    content: Snapshot,
    /// Settings other than `gloo-system.default`: stored, but nothing to translate.
    other_settings: BTreeMap<ResourceKey, Resource>,
    /// Every decoded resource that exists, with its generation. The snapshot alone cannot tell
    /// a stored Settings `default` from the built-in defaults.
    present: BTreeMap<ResourceKey, Option<i64>>,
    pub(crate) statuses: HashMap<ResourceKey, Value>,
    pub(crate) revision: Revision,
    /// The store's content revision that `content` reflects.
    pub(crate) content_revision: Revision,
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
            content_revision: listing.content_revision,
            ..Mirror::default()
        };
        for resource in listing.resources {
            mirror.put(resource);
        }
        for (key, undecodable) in listing.undecodable {
            mirror.present.remove(&key);
            mirror.content.remove(&key);
            mirror.content.insert_undecodable(key, undecodable);
        }
        mirror
    }

    /// Whether translation would see the same in both (statuses and revisions aside).
    pub(crate) fn same_content(&self, other: &Mirror) -> bool {
        self.content == other.content
            && self.present == other.present
            && self.other_settings == other.other_settings
    }

    /// Applies one change; returns whether translation would see anything new.
    pub(crate) fn apply(&mut self, event: WatchEvent) -> bool {
        let changed = match event {
            WatchEvent::Put { resource, revision } => {
                self.moved_to(revision, true);
                self.put(resource)
            }
            WatchEvent::PutUndecodable {
                key,
                undecodable,
                revision,
            } => {
                self.moved_to(revision, true);
                self.present.remove(&key);
                self.statuses.remove(&key);
                self.content.remove(&key);
                self.content.insert_undecodable(key, undecodable);
                true
            }
            WatchEvent::Delete { key, revision } => {
                self.moved_to(revision, true);
                self.statuses.remove(&key);
                let existed = self.present.remove(&key).is_some()
                    || self.content.undecodable.contains_key(&key);
                self.other_settings.remove(&key);
                self.content.remove(&key);
                existed
            }
            WatchEvent::Status {
                key,
                status,
                revision,
            } => {
                self.moved_to(revision, false);
                if self.present.contains_key(&key) {
                    self.statuses.insert(key, status);
                }
                false
            }
            // The caller relists.
            WatchEvent::Relist => false,
        };
        if changed {
            self.snapshot = None;
        }
        changed
    }

    fn moved_to(&mut self, revision: Revision, content: bool) {
        self.revision = revision;
        if content {
            self.content_revision = revision;
        }
    }

    fn put(&mut self, resource: Resource) -> bool {
        let key = resource.key();
        let (resource, status) = strip(resource);
        match status {
            Some(status) => self.statuses.insert(key.clone(), status),
            None => self.statuses.remove(&key),
        };
        let generation = resource.metadata().generation;
        let was_undecodable = self.content.undecodable.contains_key(&key);
        let known = self.present.insert(key.clone(), generation).is_some();
        if Snapshot::concerns(&key) {
            if known && !was_undecodable && self.content.holds(&resource) {
                return false;
            }
            self.content.insert(resource);
        } else {
            if self.other_settings.get(&key) == Some(&resource) {
                return false;
            }
            self.other_settings.insert(key, resource);
        }
        self.snapshot = None;
        true
    }

    /// The snapshot of everything mirrored, built once per change.
    /// What the next snapshot will hold.
    pub(crate) fn content(&self) -> &Snapshot {
        &self.content
    }

    pub(crate) fn snapshot(&mut self) -> Arc<Snapshot> {
        if let Some(snapshot) = &self.snapshot {
            return Arc::clone(snapshot);
        }
        // Cheap: the resources are shared, only the maps' nodes are new.
        let snapshot = Arc::new(self.content.clone());
        self.snapshot = Some(Arc::clone(&snapshot));
        snapshot
    }

    /// Every resource the translation sees, with its generation, for statuses and `/check`.
    pub(crate) fn keys(&self) -> Vec<(ResourceKey, Option<i64>)> {
        let resources = self.present.iter().map(|(k, g)| (k.clone(), *g));
        let undecodable = self.content.undecodable.keys().map(|k| (k.clone(), None));
        resources.chain(undecodable).collect()
    }
}

#[cfg(test)]
mod tests {
    use lockgate_api::{Document, Kind, Undecodable, decode_documents};
    use serde_json::json;

    use super::*;

    fn upstream(port: u16, revision: u64) -> Resource {
        let yaml = format!(
            "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {{name: u, namespace: echo, resourceVersion: '{revision}', generation: 1}}\nspec:\n  static:\n    hosts: [{{addr: 127.0.0.1, port: {port}}}]\n"
        );
        match decode_documents(&yaml).pop() {
            Some(Ok(Document::Resource(resource))) => resource,
            other => panic!("{other:?}"),
        }
    }

    fn key() -> ResourceKey {
        ResourceKey::new(Kind::Upstream, "echo", "u")
    }

    #[test]
    fn a_status_write_is_no_change_but_its_status_is_kept() {
        let mut mirror = Mirror::default();
        let put = |resource, revision| WatchEvent::Put {
            resource,
            revision: Revision(revision),
        };
        assert!(mirror.apply(put(upstream(1, 1), 1)));
        let first = mirror.snapshot();

        let mut with_status = upstream(1, 2);
        set_status(&mut with_status, Some(json!({"state": "Accepted"})));
        assert!(
            !mirror.apply(put(with_status, 2)),
            "only the status and version moved"
        );
        assert_eq!(
            mirror.statuses.get(&key()),
            Some(&json!({"state": "Accepted"}))
        );
        assert_eq!(mirror.revision, Revision(2));
        assert!(
            Arc::ptr_eq(&first, &mirror.snapshot()),
            "the snapshot is reused"
        );

        assert!(mirror.apply(put(upstream(2, 3), 3)));
        assert!(!Arc::ptr_eq(&first, &mirror.snapshot()));
    }

    #[test]
    fn undecodable_resources_replace_and_are_replaced_by_decoded_ones() {
        let mut mirror = Mirror::default();
        mirror.apply(WatchEvent::Put {
            resource: upstream(1, 1),
            revision: Revision(1),
        });
        let broken = WatchEvent::PutUndecodable {
            key: key(),
            undecodable: Undecodable {
                labels: Default::default(),
                errors: vec!["u.yaml: spec.static: unknown field".into()],
            },
            revision: Revision(2),
        };
        assert!(mirror.apply(broken));
        let snapshot = mirror.snapshot();
        assert!(snapshot.upstreams.is_empty());
        assert!(snapshot.undecodable.contains_key(&key()));
        assert_eq!(mirror.keys(), vec![(key(), None)]);

        assert!(mirror.apply(WatchEvent::Put {
            resource: upstream(1, 3),
            revision: Revision(3),
        }));
        assert!(mirror.snapshot().undecodable.is_empty());
        assert!(mirror.apply(WatchEvent::Delete {
            key: key(),
            revision: Revision(4),
        }));
        assert!(mirror.keys().is_empty());
    }

    #[test]
    fn a_relisted_mirror_with_the_same_resources_is_the_same_content() {
        let listing = |port| Listing {
            resources: vec![upstream(port, 7)],
            undecodable: Vec::new(),
            revision: Revision(7),
            content_revision: Revision(7),
        };
        let mut mirror = Mirror::from_listing(listing(1));
        mirror.apply(WatchEvent::Put {
            resource: upstream(1, 9),
            revision: Revision(9),
        });
        assert!(mirror.same_content(&Mirror::from_listing(listing(1))));
        assert!(!mirror.same_content(&Mirror::from_listing(listing(2))));
    }

    #[test]
    fn status_events_keep_the_content_revision_and_resource_writes_move_it() {
        let mut mirror = Mirror::from_listing(Listing {
            resources: vec![upstream(1, 7)],
            undecodable: Vec::new(),
            revision: Revision(8),
            content_revision: Revision(7),
        });
        assert_eq!(mirror.content_revision, Revision(7));
        let status = WatchEvent::Status {
            key: key(),
            status: json!({"state": "Accepted"}),
            revision: Revision(9),
        };
        assert!(!mirror.apply(status), "a status is nothing to translate");
        assert_eq!(
            (mirror.revision, mirror.content_revision),
            (Revision(9), Revision(7))
        );
        assert_eq!(
            mirror.statuses.get(&key()),
            Some(&json!({"state": "Accepted"}))
        );
        // The status of a resource the mirror does not hold is not kept.
        let stray = WatchEvent::Status {
            key: ResourceKey::new(Kind::Upstream, "echo", "gone"),
            status: json!({"state": "Accepted"}),
            revision: Revision(10),
        };
        mirror.apply(stray);
        assert_eq!(mirror.statuses.len(), 1);

        assert!(mirror.apply(WatchEvent::Put {
            resource: upstream(2, 11),
            revision: Revision(11),
        }));
        assert_eq!(mirror.content_revision, Revision(11));
        assert!(mirror.apply(WatchEvent::Delete {
            key: key(),
            revision: Revision(12),
        }));
        assert_eq!(mirror.content_revision, Revision(12));
    }
}
