//! Served versus desired: which generation of each resource the data plane serves, and when that
//! is not the stored one, what holds it back.
//!
//! A virtual host remembers the generations it was translated from (its virtual service and the
//! route tables it reached), and a host kept as the last known good keeps them. So the served
//! configuration says what is served, this translation says what is wanted, and the reports say
//! why the two differ: the resources with errors of their own on the way (the causes), and the
//! virtual service that, frozen, keeps serving an older generation.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use lockgate_api::{Kind, ResourceKey, Snapshot};
use lockgate_compiled::{CompiledConfig, SourceGeneration};
use serde::{Deserialize, Serialize};

use crate::{Reports, State};

/// Why a resource holds another one back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum BlockReason {
    /// It has errors of its own: the cause.
    Rejected,
    /// A virtual service that serves its last known good because of the causes.
    ServingLastKnownGood,
    /// A virtual service with no valid generation ever served.
    NotServed,
}

impl BlockReason {
    /// Whether the blocker is the cause, rather than a virtual service frozen by the cause.
    pub fn is_cause(self) -> bool {
        self == BlockReason::Rejected
    }
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BlockReason::Rejected => "Rejected",
            BlockReason::ServingLastKnownGood => "serving its last known good",
            BlockReason::NotServed => "not served",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Blocker {
    pub resource: ResourceKey,
    pub reason: BlockReason,
}

/// What is served of one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Served {
    /// The generation served (the oldest, where several virtual services serve different
    /// ones); `None` when nothing of it is served.
    pub generation: Option<i64>,
    /// When `generation` is not the stored one: causes first, then the virtual services they
    /// freeze.
    pub blocked_by: Vec<Blocker>,
}

impl Served {
    /// Whether the stored `generation` waits on something: it is not what is served, and
    /// something other than nothing-reaches-it holds it back.
    pub fn is_blocked(&self, generation: Option<i64>) -> bool {
        self.generation != generation && !self.blocked_by.is_empty()
    }

    /// Whether what holds `own` back includes another resource's errors: what the team that
    /// owns it cannot see from its own report.
    pub fn is_held_back_by_others(&self, own: &ResourceKey, generation: Option<i64>) -> bool {
        self.is_blocked(generation)
            && self
                .blocked_by
                .iter()
                .any(|b| b.reason.is_cause() && b.resource != *own)
    }
}

/// Per virtual service: the sources this translation wanted to serve.
pub(crate) type Wanted = Vec<(ResourceKey, Vec<SourceGeneration>)>;

/// The virtual services kept at their last known good (or not served, having none) instead of
/// this translation.
pub(crate) type Frozen = BTreeSet<ResourceKey>;

/// The served state of every decoded resource of `snapshot`.
pub(crate) fn compute(
    snapshot: &Snapshot,
    reports: &Reports,
    config: &CompiledConfig,
    wanted: &Wanted,
    frozen: &Frozen,
) -> BTreeMap<ResourceKey, Served> {
    // Per resource (kind, namespace, name: namespaces have no dots, so `ns.name` splits at the
    // first), every generation of it that some served host holds. Looked up by borrowed parts,
    // so that no name is built per resource.
    let mut served: HashMap<(&str, &str, &str), Vec<Option<i64>>> = HashMap::new();
    for host in &config.virtual_hosts {
        for s in &host.sources {
            let (namespace, name) = s.name.split_once('.').unwrap_or(("", &s.name));
            served
                .entry((s.kind.as_str(), namespace, name))
                .or_default()
                .push(s.generation);
        }
    }
    let served_generation = |key: &ResourceKey, current: Option<i64>| {
        let generations =
            served.get(&(key.kind.as_str(), key.namespace.as_str(), key.name.as_str()))?;
        generations
            .iter()
            .copied()
            .find(|g| *g != current)
            .or(Some(current))
            .flatten()
    };

    // Gathered, then built at once: a map built from a sorted run costs less than as many
    // inserts, and there is an entry per resource.
    let mut out = Vec::with_capacity(
        snapshot.virtual_services.len()
            + snapshot.route_tables.len()
            + snapshot.upstreams.len()
            + snapshot.endpoints.len()
            + 1,
    );
    for (key, current) in routing_resources(snapshot) {
        let generation = served_generation(&key, current);
        let blocked_by = if generation == current {
            Vec::new()
        } else {
            blockers(&key, reports, wanted, frozen, config)
        };
        out.push((
            key,
            Served {
                generation,
                blocked_by,
            },
        ));
    }
    // Upstreams, endpoints and Settings are read afresh by every translation (a frozen host
    // re-links to today's endpoints): their stored generation is in force unless invalid.
    let others = snapshot
        .upstreams
        .values()
        .map(|u| (Kind::Upstream, &u.metadata))
        .chain(
            snapshot
                .endpoints
                .values()
                .map(|e| (Kind::Endpoint, &e.metadata)),
        )
        .chain(std::iter::once((
            Kind::Settings,
            &snapshot.settings.metadata,
        )));
    for (kind, meta) in others {
        let key = ResourceKey::new(kind, &meta.namespace, &meta.name);
        let generation = meta
            .generation
            .filter(|_| reports.state(&key) != State::Rejected);
        out.push((
            key,
            Served {
                generation,
                blocked_by: Vec::new(),
            },
        ));
    }
    out.into_iter().collect()
}

fn routing_resources(snapshot: &Snapshot) -> impl Iterator<Item = (ResourceKey, Option<i64>)> {
    let services = snapshot.virtual_services.values().map(|vs| {
        let m = &vs.metadata;
        (
            ResourceKey::new(Kind::VirtualService, &m.namespace, &m.name),
            m.generation,
        )
    });
    let tables = snapshot.route_tables.values().map(|t| {
        let m = &t.metadata;
        (
            ResourceKey::new(Kind::RouteTable, &m.namespace, &m.name),
            m.generation,
        )
    });
    services.chain(tables)
}

/// What holds `key` back: its own errors, and in every virtual service that wants it but does
/// not serve its generation, the errors there and the virtual service itself if it is frozen.
fn blockers(
    key: &ResourceKey,
    reports: &Reports,
    wanted: &Wanted,
    frozen_services: &Frozen,
    config: &CompiledConfig,
) -> Vec<Blocker> {
    let mut causes = BTreeSet::new();
    let mut frozen = BTreeSet::new();
    if reports.get(key).is_some_and(|r| r.has_own_errors()) {
        causes.insert(key.clone());
    }
    let name = key.qualified_name();
    for (service, sources) in wanted {
        if !sources
            .iter()
            .any(|s| s.kind == key.kind.as_str() && s.name == name)
        {
            continue;
        }
        if let Some(report) = reports.get(service) {
            causes.extend(report.errors().map(|p| p.resource.clone()));
        }
        if service != key && frozen_services.contains(service) {
            let name = service.qualified_name();
            let reason = if config.virtual_hosts.iter().any(|v| v.name == name) {
                BlockReason::ServingLastKnownGood
            } else {
                BlockReason::NotServed
            };
            frozen.insert((service.clone(), reason));
        }
    }
    let mut out: Vec<Blocker> = causes
        .iter()
        .map(|resource| Blocker {
            resource: resource.clone(),
            reason: BlockReason::Rejected,
        })
        .collect();
    out.extend(
        frozen
            .into_iter()
            .filter(|(service, _)| !causes.contains(service))
            .map(|(resource, reason)| Blocker { resource, reason }),
    );
    out
}

#[cfg(test)]
#[path = "served_test.rs"]
mod tests;
