//! Walks of leaf route tables, remembered between translations.
//!
//! A route table with no `delegateAction` walked under a delegating route depends on three
//! things only: the table itself, what the parent hands down (`Parent`: matcher, guard, inherit
//! flags, options, origin prefix) and the snapshot's upstreams (`compile_action` resolves
//! destinations against them and reads nothing else of the snapshot). With no delegation inside,
//! the chain (cycles), Settings (who may delegate where) and undecodable resources play no part.
//! So the walk's effects - the draft routes it appends, the problems it raises, the clusters it
//! interns - are a function of (table, parent), and are replayed on a hit. The interned cluster
//! ids stay valid because the interner lives as long as the cache (`crate::incremental`), and
//! whoever owns the cache drops it when the upstreams change.
//!
//! Tables that delegate further are walked as before; their leaf children still hit.

use std::collections::HashMap;
use std::sync::Arc;

use lockgate_api::{self as api, ResourceKey};

use super::{DraftRoute, Parent, Walker};
use crate::problem::Problem;

/// Remembered leaf walks by route table, each under the parent it was walked under.
#[derive(Default)]
pub(crate) struct LeafCache {
    entries: HashMap<ResourceKey, Vec<Leaf>>,
    /// Moves once per translation; entries not used in the current one are dropped at its end,
    /// so that the cache holds no more than one translation's leaf walks.
    epoch: u64,
    /// Walks replayed and walks done in the current translation, for tests and measurement.
    pub(crate) hits: usize,
    pub(crate) misses: usize,
}

struct Leaf {
    table: Arc<api::RouteTable>,
    parent: Arc<Parent>,
    /// Shared with the translations that replayed them, so that a replay copies pointers.
    drafts: Vec<Arc<DraftRoute>>,
    /// Every problem the walk raised, in order (all on the table itself).
    problems: Vec<Problem>,
    epoch: u64,
}

impl LeafCache {
    /// Starts a translation: what it does not use is dropped by [`LeafCache::finish`].
    pub(crate) fn begin(&mut self) {
        self.epoch += 1;
        self.hits = 0;
        self.misses = 0;
    }

    /// Ends a translation, forgetting tables and parents that are gone.
    pub(crate) fn finish(&mut self) {
        let epoch = self.epoch;
        self.entries.retain(|_, leaves| {
            leaves.retain(|l| l.epoch == epoch);
            !leaves.is_empty()
        });
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    /// How many draft routes the cache holds.
    pub(crate) fn draft_count(&self) -> usize {
        self.entries
            .values()
            .flatten()
            .map(|l| l.drafts.len())
            .sum()
    }

    fn find(
        &mut self,
        key: &ResourceKey,
        table: &Arc<api::RouteTable>,
        parent: &Arc<Parent>,
    ) -> Option<&mut Leaf> {
        self.entries.get_mut(key)?.iter_mut().find(|l| {
            (Arc::ptr_eq(&l.table, table) || l.table == *table)
                && (Arc::ptr_eq(&l.parent, parent) || l.parent == *parent)
        })
    }
}

fn is_leaf(table: &api::RouteTable) -> bool {
    table
        .spec
        .routes
        .iter()
        .all(|r| r.delegate_action.is_none())
}

impl Walker<'_> {
    /// Walks one selected route table under `parent`, from the cache when it is a leaf that was
    /// walked under an equal parent before.
    pub(super) fn walk_table(
        &mut self,
        table: &Arc<api::RouteTable>,
        key: &ResourceKey,
        parent: &Arc<Parent>,
        chain: &mut Vec<ResourceKey>,
        out: &mut Vec<Arc<DraftRoute>>,
    ) {
        let routes = &table.spec.routes;
        let prefix = parent.origin_prefix.as_str();
        let cached = self.leaves.is_some() && is_leaf(table);
        let Some(cache) = self.leaves.take_if(|_| cached) else {
            self.walk_routes(routes, key, "spec.routes", Some(parent), chain, prefix, out);
            return;
        };
        let epoch = cache.epoch;
        if let Some(hit) = cache.find(key, table, parent) {
            hit.epoch = epoch;
            // The parent compared equal: keep today's, so the next lookups under it are a
            // pointer comparison.
            hit.parent = Arc::clone(parent);
            out.extend(hit.drafts.iter().cloned());
            let problems = hit.problems.clone();
            cache.hits += 1;
            self.leaves = Some(cache);
            for problem in problems {
                self.problem(problem);
            }
            return;
        }
        let start = out.len();
        self.recording = Some(Vec::new());
        self.walk_routes(routes, key, "spec.routes", Some(parent), chain, prefix, out);
        let problems = self.recording.take().unwrap_or_default();
        cache.misses += 1;
        // An older generation of the table stays until the end of the translation: under
        // keepLastValid, the substituted snapshot walks it again.
        cache.entries.entry(key.clone()).or_default().push(Leaf {
            table: Arc::clone(table),
            parent: Arc::clone(parent),
            drafts: out[start..].to_vec(),
            problems,
            epoch,
        });
        self.leaves = Some(cache);
    }
}
