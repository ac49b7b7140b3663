//! Translation that remembers: a [`Translator`] gives exactly what [`crate::translate`] gives,
//! faster when most of the snapshot did not change since its last call.
//!
//! Every write is validated by translating everything stored, and the controller translates
//! again to publish; with thousands of route tables under one virtual service, walking every
//! table for a change to one dominates. What is remembered is the walk of each leaf route table
//! under its parent (`delegation::leaves` says why that walk depends on nothing else but the
//! upstreams), and the cluster interner whose ids those walks hold. The rest of a translation
//! runs as always, so every rule stays in one place and the cache can only ever make a walk
//! cheaper, never different.
//!
//! Invalidation is by comparison, not by being told: the upstreams of each call are compared
//! with those the cache was filled under (by pointer first, since snapshots share their
//! resources), and the whole cache goes when they differ. The compiled clusters of the last
//! call are kept too, while the upstreams and endpoints they were compiled from stay the same,
//! and so are its finished routes while the clusters are numbered the same (`crate::finish`):
//! an unchanged route is then one shared `Arc` from one outcome to the next.
//! Growth is bounded twice: leaf walks not used by a call are dropped at its end, and the
//! interner (ids of every cluster ever seen) is rebuilt, with the cache, once it holds far more
//! clusters than are served.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use lockgate_api::{Endpoint, Snapshot, Upstream};
use lockgate_compiled::{Cluster, ClusterKey};

use crate::delegation::LeafCache;
use crate::destination::ClusterInterner;
use crate::finish::FinishedRoutes;
use crate::{Outcome, PolicyState, policy};

/// Interned clusters beyond those served that are tolerated before the interner is rebuilt:
/// a rebuild costs one full walk, so it should not happen on every small change.
const SPARE_CLUSTERS: usize = 1024;

/// Translates snapshot after snapshot, reusing what an unchanged part of the snapshot gave the
/// last time. `Translator::translate(s, p) == lockgate_translate::translate(s, p)` always.
///
/// ```
/// use lockgate_api::Snapshot;
/// use lockgate_translate::{PolicyState, Translator, translate};
///
/// let mut translator = Translator::default();
/// let snapshot = Snapshot::default();
/// let first = translator.translate(&snapshot, &PolicyState::default());
/// assert_eq!(first, translate(&snapshot, &PolicyState::default()));
/// let second = translator.translate(&snapshot, &first.state);
/// assert_eq!(second, translate(&snapshot, &first.state));
/// ```
#[derive(Default)]
pub struct Translator {
    clusters: ClusterInterner,
    leaves: LeafCache,
    /// The upstreams every remembered leaf walk resolved its destinations against.
    upstreams: ByName<Upstream>,
    /// The served clusters of the last call, compiled: a cluster is its upstream and the
    /// endpoints it selects, so these hold while both are unchanged.
    compiled: HashMap<ClusterKey, Cluster>,
    endpoints: ByName<Endpoint>,
    /// Clusters the last outcome served, to tell when the interner has grown far past them.
    served_clusters: usize,
    /// The last outcome's routes by the drafts they were finished from.
    finished: FinishedRoutes,
}

impl Translator {
    /// Translates `snapshot` against `previous`, as [`crate::translate`] does.
    pub fn translate(&mut self, snapshot: &Snapshot, previous: &PolicyState) -> Outcome {
        if !same(&self.upstreams, &snapshot.upstreams) {
            self.leaves.clear();
            self.compiled.clear();
            self.upstreams = snapshot.upstreams.clone();
        }
        if !same(&self.endpoints, &snapshot.endpoints) {
            self.compiled.clear();
            self.endpoints = snapshot.endpoints.clone();
        }
        if self.clusters.len() > 2 * self.served_clusters + SPARE_CLUSTERS {
            // Cached drafts hold ids of this interner: they go with it.
            self.clusters = ClusterInterner::default();
            self.leaves.clear();
        }
        self.leaves.begin();
        let memory = policy::Memory {
            clusters: &mut self.clusters,
            leaves: Some(&mut self.leaves),
            compiled: Some(&mut self.compiled),
            finished: &mut self.finished,
        };
        let outcome = policy::apply(snapshot, previous, memory);
        self.leaves.finish();
        self.served_clusters = outcome.config.clusters.len();
        outcome
    }

    /// How many draft routes are remembered (about one per route of the leaf route tables
    /// reached), for measuring what the cache costs.
    pub fn remembered_routes(&self) -> usize {
        self.leaves.draft_count()
    }

    /// How many clusters the interner holds, served or not.
    pub fn interned_clusters(&self) -> usize {
        self.clusters.len()
    }
}

type ByName<T> = BTreeMap<(String, String), Arc<T>>;

/// Whether two maps of resources hold the same resources: shared (`Arc`) or equal.
fn same<T: PartialEq>(a: &ByName<T>, b: &ByName<T>) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((ka, va), (kb, vb))| ka == kb && (Arc::ptr_eq(va, vb) || va == vb))
}

#[cfg(test)]
#[path = "incremental_test.rs"]
mod tests;
