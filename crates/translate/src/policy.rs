//! The invalid-configuration policies: what is served when something is invalid.
//!
//! 1. Last known good, per virtual service (the default, Gloo's): a virtual service with any
//!    error, its own or a sub route table's, keeps serving what it served before.
//! 2. Replace invalid routes (`replaceInvalidRoutes`, Gloo's): only invalid routes, and invalid
//!    destinations of weighted routes (keeping their weights), answer with the configured response.
//! 3. Keep last valid, per resource (`keepLastValid`, lockgate's own): an invalid route table or
//!    virtual service is translated from its last valid generation while everything else moves
//!    on; what still has no valid generation falls back to policy 2.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use lockgate_api::{Kind, ResourceKey, RouteTable, Snapshot, VirtualService};
use lockgate_compiled::{self as compiled, ClusterId, ClusterKey, CompiledConfig};
use serde::{Deserialize, Serialize};

use crate::delegation::LeafCache;
use crate::destination::{self, ClusterInterner, DraftAction, DraftTarget};
use crate::finish::FinishedRoutes;
use crate::problem::{Code, Flaw};
use crate::virtual_service::{DraftHost, translate_hosts};
use crate::{Outcome, Report, Reports, served};

/// What the policies remember between translations. The controller persists it with every
/// publish so that a restart serves exactly what was served before.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PolicyState {
    /// The configuration last published: per virtual service, the last known good. Shared with
    /// the [`Outcome`] that published it, never copied.
    pub served: Arc<CompiledConfig>,
    /// `namespace.name` of a route table to its last generation that translated without errors.
    #[serde(default)]
    pub last_valid_route_tables: BTreeMap<String, Arc<RouteTable>>,
    /// `namespace.name` of a virtual service to its last generation without errors of its own.
    #[serde(default)]
    pub last_valid_virtual_services: BTreeMap<String, Arc<VirtualService>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    LastKnownGood,
    ReplaceInvalid,
}

/// What a translation may reuse from earlier ones (see `crate::incremental`); the outcome
/// never depends on what it holds.
pub(crate) struct Memory<'m> {
    pub(crate) clusters: &'m mut ClusterInterner,
    pub(crate) leaves: Option<&'m mut LeafCache>,
    /// Compiled clusters by key, valid for the snapshot's upstreams and endpoints; replaced by
    /// the ones this translation serves.
    pub(crate) compiled: Option<&'m mut HashMap<ClusterKey, compiled::Cluster>>,
    pub(crate) finished: &'m mut FinishedRoutes,
}

/// Translates and applies the policy.
pub(crate) fn apply(snapshot: &Snapshot, previous: &PolicyState, memory: Memory<'_>) -> Outcome {
    let Memory {
        clusters,
        mut leaves,
        compiled,
        finished,
    } = memory;
    let mut reports = Reports::default();
    let mut hosts = translate_hosts(
        snapshot,
        &mut reports,
        clusters,
        leaves.as_deref_mut(),
        &previous.served,
    );
    let wanted: served::Wanted = hosts
        .iter()
        .map(|h| (h.key.clone(), h.sources.clone()))
        .collect();
    let policy = &snapshot.settings.spec.gloo.invalid_config_policy;
    let state_last_valid = remember_last_valid(snapshot, &reports, previous);

    let mode = if policy.keep_last_valid() {
        if let Some(substituted) = substitute_last_valid(snapshot, &reports, &state_last_valid) {
            for (key, generation) in &substituted.1 {
                let note = match generation {
                    Some(g) => {
                        format!("serving its last valid generation ({g}) until this is fixed")
                    }
                    None => "serving its last valid generation until this is fixed".to_string(),
                };
                reports.warning(key, Flaw::new(Code::ServingLastValidWarning, "", note));
            }
            // The substituted snapshot's own reports are not the truth about today's resources;
            // only its routes are used. Its upstreams are today's, so the leaf walks remembered
            // for it are as valid as for the first pass; clusters the first pass interned and
            // nothing uses now are left out by `assemble`.
            hosts = translate_hosts(
                &substituted.0,
                &mut Reports::default(),
                clusters,
                leaves,
                &previous.served,
            );
        }
        Mode::ReplaceInvalid
    } else if policy.replace_invalid_routes() {
        Mode::ReplaceInvalid
    } else {
        Mode::LastKnownGood
    };

    let frozen: served::Frozen = hosts
        .iter()
        .filter(|h| frozen(h, mode))
        .map(|h| h.key.clone())
        .collect();
    let code = policy.response_code();
    let invalid = (
        if (100..=599).contains(&code) {
            code
        } else {
            404
        },
        policy.response_body().to_string(),
    );
    let config = Arc::new(assemble(
        hosts, clusters, compiled, finished, mode, &invalid, previous, snapshot,
    ));
    let served = served::compute(snapshot, &reports, &config, &wanted, &frozen);
    let state = PolicyState {
        served: Arc::clone(&config),
        last_valid_route_tables: state_last_valid.0,
        last_valid_virtual_services: state_last_valid.1,
    };
    Outcome {
        config,
        reports,
        served,
        state,
    }
}

impl PolicyState {
    /// The state worth persisting next to the store that holds `snapshot`: last valid
    /// generations that *are* the snapshot's current ones are left out, since the store keeps
    /// them. Restoring from it loses nothing: a resource that is valid now is its own last valid
    /// generation on the next translation, and only invalid ones need their older copy.
    pub fn persistable(&self, snapshot: &Snapshot) -> PolicyState {
        PolicyState {
            served: Arc::clone(&self.served),
            last_valid_route_tables: not_current(
                &self.last_valid_route_tables,
                &snapshot.route_tables,
            ),
            last_valid_virtual_services: not_current(
                &self.last_valid_virtual_services,
                &snapshot.virtual_services,
            ),
        }
    }
}

/// The kept generations (by `namespace.name`; namespaces have no dots) that differ from the
/// current ones.
fn not_current<T: PartialEq>(
    kept: &BTreeMap<String, Arc<T>>,
    current: &BTreeMap<(String, String), Arc<T>>,
) -> BTreeMap<String, Arc<T>> {
    kept.iter()
        .filter(|(id, kept)| {
            let now = id
                .split_once('.')
                .and_then(|(ns, name)| current.get(&(ns.to_string(), name.to_string())));
            !now.is_some_and(|now| Arc::ptr_eq(now, kept) || now == *kept)
        })
        .map(|(id, kept)| (id.clone(), Arc::clone(kept)))
        .collect()
}

/// A resource translated from its last valid generation, and that generation's number.
type Substituted = (ResourceKey, Option<i64>);

type LastValid = (
    BTreeMap<String, Arc<RouteTable>>,
    BTreeMap<String, Arc<VirtualService>>,
);

/// Route tables and virtual services without errors of their own become their last valid
/// generation; invalid ones keep the previous one; deleted ones are forgotten.
fn remember_last_valid(
    snapshot: &Snapshot,
    reports: &Reports,
    previous: &PolicyState,
) -> LastValid {
    let mut tables = BTreeMap::new();
    for ((ns, name), t) in &snapshot.route_tables {
        let id = format!("{ns}.{name}");
        let key = ResourceKey::new(Kind::RouteTable, ns, name);
        if reports.get(&key).is_none_or(|r| !r.has_errors()) {
            tables.insert(id, t.clone());
        } else if let Some(old) = previous.last_valid_route_tables.get(&id) {
            tables.insert(id, old.clone());
        }
    }
    let mut services = BTreeMap::new();
    for ((ns, name), vs) in &snapshot.virtual_services {
        let id = format!("{ns}.{name}");
        let key = ResourceKey::new(Kind::VirtualService, ns, name);
        let own_errors = reports.get(&key).is_some_and(Report::has_own_errors);
        if !own_errors {
            services.insert(id, vs.clone());
        } else if let Some(old) = previous.last_valid_virtual_services.get(&id) {
            services.insert(id, old.clone());
        }
    }
    for key in snapshot.undecodable.keys() {
        let id = key.qualified_name();
        match key.kind {
            Kind::RouteTable => {
                if let Some(old) = previous.last_valid_route_tables.get(&id) {
                    tables.insert(id, old.clone());
                }
            }
            Kind::VirtualService => {
                if let Some(old) = previous.last_valid_virtual_services.get(&id) {
                    services.insert(id, old.clone());
                }
            }
            _ => {}
        }
    }
    (tables, services)
}

/// The snapshot with every invalid route table and virtual service replaced by its last valid
/// generation, and which were replaced; `None` when nothing was.
fn substitute_last_valid(
    snapshot: &Snapshot,
    reports: &Reports,
    last_valid: &LastValid,
) -> Option<(Snapshot, Vec<Substituted>)> {
    let mut out = snapshot.clone();
    let mut replaced = Vec::new();
    for (key, report) in reports.iter() {
        let id = key.qualified_name();
        if !report.has_own_errors() {
            continue;
        }
        match key.kind {
            Kind::RouteTable => {
                if let Some(old) = last_valid.0.get(&id).filter(|old| {
                    Some(*old)
                        != snapshot
                            .route_tables
                            .get(&(key.namespace.clone(), key.name.clone()))
                }) {
                    out.undecodable.remove(key);
                    out.route_tables
                        .insert((key.namespace.clone(), key.name.clone()), old.clone());
                    replaced.push((key.clone(), old.metadata.generation));
                }
            }
            Kind::VirtualService => {
                if let Some(old) = last_valid.1.get(&id).filter(|old| {
                    Some(*old)
                        != snapshot
                            .virtual_services
                            .get(&(key.namespace.clone(), key.name.clone()))
                }) {
                    out.undecodable.remove(key);
                    out.virtual_services
                        .insert((key.namespace.clone(), key.name.clone()), old.clone());
                    replaced.push((key.clone(), old.metadata.generation));
                }
            }
            _ => {}
        }
    }
    (!replaced.is_empty()).then_some((out, replaced))
}

/// Whether `host` keeps what it served before instead of this translation: it cannot be served
/// at all (its domains), or it has an error under the last-known-good policy.
fn frozen(host: &DraftHost, mode: Mode) -> bool {
    host.host_error || (mode == Mode::LastKnownGood && host.rejected)
}

/// Builds the configuration to serve from the translated hosts, the policy mode and what was
/// served before.
#[allow(clippy::too_many_arguments)]
fn assemble(
    hosts: Vec<DraftHost>,
    clusters: &mut ClusterInterner,
    remembered: Option<&mut HashMap<ClusterKey, compiled::Cluster>>,
    finished: &mut FinishedRoutes,
    mode: Mode,
    invalid: &(u16, String),
    previous: &PolicyState,
    snapshot: &Snapshot,
) -> CompiledConfig {
    enum Source<'a> {
        Draft(DraftHost),
        /// A virtual host kept from the previous configuration, with its clusters interned:
        /// previous cluster index to interned id.
        Kept(&'a compiled::VirtualHost, HashMap<usize, u32>),
    }
    let mut sources = Vec::with_capacity(hosts.len());
    for host in hosts {
        if !frozen(&host, mode) {
            sources.push(Source::Draft(host));
            continue;
        }
        let name = host.key.qualified_name();
        // A virtual service with no valid generation ever served is not served at all.
        if let Some(old) = previous
            .served
            .virtual_hosts
            .iter()
            .find(|v| v.name == name)
        {
            let mut ids = HashMap::new();
            for id in forwarded_clusters(old) {
                if let Some(cluster) = previous.served.clusters.get(id.0) {
                    ids.insert(id.0, clusters.intern(cluster.key.clone()));
                }
            }
            sources.push(Source::Kept(old, ids));
        }
    }

    // Only clusters that a served route uses, numbered in key order so that the output never
    // depends on the order things were visited in.
    let mut used = vec![false; clusters.len()];
    for source in &sources {
        match source {
            Source::Draft(h) => {
                for r in &h.routes {
                    if let DraftAction::Forward(targets) = &r.action {
                        for (_, t) in targets {
                            if let DraftTarget::Cluster(id) = t {
                                used[*id as usize] = true;
                            }
                        }
                    }
                }
            }
            Source::Kept(_, ids) => ids.values().for_each(|id| used[*id as usize] = true),
        }
    }
    let mut order: Vec<u32> = (0..clusters.len() as u32)
        .filter(|id| used[*id as usize])
        .collect();
    order.sort_by(|a, b| clusters.key(*a).cmp(clusters.key(*b)));
    let mut final_id = vec![ClusterId(usize::MAX); clusters.len()];
    for (position, id) in order.iter().enumerate() {
        final_id[*id as usize] = ClusterId(position);
    }
    let explicit = destination::ExplicitMembers::index(snapshot);
    let compile = |key: &ClusterKey| destination::cluster(snapshot, &explicit, key.clone());
    let compiled_clusters = match remembered {
        None => order.iter().map(|id| compile(clusters.key(*id))).collect(),
        Some(remembered) => {
            let mut kept = HashMap::with_capacity(order.len());
            let out = order
                .iter()
                .map(|id| {
                    let key = clusters.key(*id);
                    let cluster = remembered.remove(key).unwrap_or_else(|| compile(key));
                    kept.insert(key.clone(), cluster.clone());
                    cluster
                })
                .collect();
            *remembered = kept;
            out
        }
    };

    finished.begin(&final_id, invalid);
    let mut virtual_hosts = Vec::with_capacity(sources.len());
    for source in sources {
        match source {
            Source::Draft(h) => virtual_hosts.push(compiled::VirtualHost {
                name: h.key.qualified_name(),
                domains: h.domains,
                sources: h.sources,
                routes: h.routes.into_iter().map(|r| finished.finish(r)).collect(),
            }),
            Source::Kept(v, ids) => {
                let mut kept = v.clone();
                for route in &mut kept.routes {
                    renumber_clusters(route, |id| match ids.get(&id.0) {
                        Some(interned) => final_id[*interned as usize],
                        None => id,
                    });
                }
                virtual_hosts.push(kept);
            }
        }
    }
    finished.end();
    CompiledConfig::new(virtual_hosts, compiled_clusters)
}

/// The clusters a compiled virtual host forwards to.
fn forwarded_clusters(v: &compiled::VirtualHost) -> impl Iterator<Item = ClusterId> + '_ {
    v.routes.iter().flat_map(|r| r.cluster_ids())
}

/// Renumbers the clusters `route` forwards to by `renumber`, copying the route only when a
/// number changes (routes are shared with the configuration they were kept from).
fn renumber_clusters(route: &mut Arc<compiled::Route>, renumber: impl Fn(ClusterId) -> ClusterId) {
    if route.cluster_ids().all(|id| renumber(id) == id) {
        return;
    }
    for id in Arc::make_mut(route).cluster_ids_mut() {
        *id = renumber(*id);
    }
}
