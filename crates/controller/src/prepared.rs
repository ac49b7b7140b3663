//! A validated write's translation, handed on so that the same work is not done twice.
//!
//! Write validation translates the stored snapshot with the change, against the last
//! translation's policy state: exactly what the controller would translate once the write lands
//! and nothing else has. So a write that is stored offers its translation ([`Prepared`]), and the
//! next translation publishes it instead of translating again when its snapshot has the same
//! content and its history is the same policy state. Its reports are also the "before" of the
//! next write. Translation is deterministic, so this saves time and changes no result.
//!
//! Snapshots are compared by content ([`same_content`]), cheaply: the mirror and the snapshots
//! it hands out share their resources (`Arc`), so only the entries a write replaced are compared
//! by value.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use lockgate_api::{ResourceKey, Snapshot};
use lockgate_compiled::CompiledConfig;
use lockgate_translate::{Outcome, PolicyState, Reports, Served};

/// One translation of `snapshot` against `previous`, shared by a write's answer and the worker.
pub(crate) struct Prepared {
    pub(crate) snapshot: Arc<Snapshot>,
    pub(crate) previous: Arc<PolicyState>,
    pub(crate) config: Arc<CompiledConfig>,
    pub(crate) reports: Arc<Reports>,
    pub(crate) served: Arc<BTreeMap<ResourceKey, Served>>,
    pub(crate) state: Arc<PolicyState>,
}

impl Prepared {
    pub(crate) fn new(
        snapshot: Arc<Snapshot>,
        previous: Arc<PolicyState>,
        outcome: Outcome,
    ) -> Prepared {
        Prepared {
            snapshot,
            previous,
            config: outcome.config,
            reports: Arc::new(outcome.reports),
            served: Arc::new(outcome.served),
            state: Arc::new(outcome.state),
        }
    }

    /// Whether this is the translation of `snapshot` against `previous`.
    pub(crate) fn is_for(&self, snapshot: &Snapshot, previous: &Arc<PolicyState>) -> bool {
        Arc::ptr_eq(&self.previous, previous) && same_content(&self.snapshot, snapshot)
    }
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("routes", &self.config.route_count())
            .field("resources", &self.reports.iter().count())
            .finish_non_exhaustive()
    }
}

/// How many resources `snapshot` holds: a cheap first test of [`same_content`].
pub(crate) fn resource_count(snapshot: &Snapshot) -> usize {
    snapshot.upstreams.len()
        + snapshot.endpoints.len()
        + snapshot.virtual_services.len()
        + snapshot.route_tables.len()
        + snapshot.undecodable.len()
}

/// Whether translation sees the same in `a` and `b`: shared resources by pointer, the others
/// by value.
pub(crate) fn same_content(a: &Snapshot, b: &Snapshot) -> bool {
    fn same<T: PartialEq>(
        a: &BTreeMap<(String, String), Arc<T>>,
        b: &BTreeMap<(String, String), Arc<T>>,
    ) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|((ka, va), (kb, vb))| ka == kb && (Arc::ptr_eq(va, vb) || va == vb))
    }
    // Every field by name: a field added to Snapshot must be compared here too.
    let Snapshot {
        upstreams,
        endpoints,
        virtual_services,
        route_tables,
        settings,
        undecodable,
    } = a;
    std::ptr::eq(a, b)
        || (same(route_tables, &b.route_tables)
            && same(virtual_services, &b.virtual_services)
            && same(upstreams, &b.upstreams)
            && same(endpoints, &b.endpoints)
            && *settings == b.settings
            && *undecodable == b.undecodable)
}

#[cfg(test)]
#[path = "prepared_test.rs"]
mod tests;
