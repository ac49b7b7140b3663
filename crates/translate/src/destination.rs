//! Where traffic goes: upstreams and endpoints checked, destinations resolved to clusters, and a
//! route's non-delegating action compiled.
//!
//! Clusters are resolved from the snapshot by their [`ClusterKey`] (upstream plus subset), never
//! copied from an older configuration, so that routes kept as last known good still dial
//! today's endpoints.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use lockgate_api::{self as api, FallbackPolicy, Kind, ResourceKey, Snapshot};
use lockgate_compiled::{self as compiled, ClusterKey};

use crate::problem::{Code, Flaw};
use crate::{Reports, upstream_options};

/// A destination as translation sees it, before clusters are numbered.
/// Numbers cluster keys as destinations are resolved, so that routes carry a small number and
/// the final configuration resolves each distinct cluster once.
#[derive(Debug, Default)]
pub(crate) struct ClusterInterner {
    ids: HashMap<ClusterKey, u32>,
    keys: Vec<ClusterKey>,
}

impl ClusterInterner {
    pub(crate) fn intern(&mut self, key: ClusterKey) -> u32 {
        if let Some(id) = self.ids.get(&key) {
            return *id;
        }
        let id = self.keys.len() as u32;
        self.keys.push(key.clone());
        self.ids.insert(key, id);
        id
    }

    pub(crate) fn key(&self, id: u32) -> &ClusterKey {
        &self.keys[id as usize]
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DraftTarget {
    /// An interned cluster: see [`ClusterInterner`].
    Cluster(u32),
    /// A destination with an error: replaced by the invalid-route response under
    /// `replaceInvalidRoutes`, keeping its weight.
    Invalid,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum DraftAction {
    Forward(Vec<(u32, DraftTarget)>),
    DirectResponse {
        status: u16,
        body: String,
    },
    Redirect(compiled::Redirect),
    /// The whole action is invalid.
    Invalid,
}

/// Checks every Upstream and Endpoint, reporting problems on them.
pub(crate) fn check_upstreams_and_endpoints(snapshot: &Snapshot, reports: &mut Reports) {
    for u in snapshot.upstreams.values() {
        let key = ResourceKey::new(Kind::Upstream, &u.metadata.namespace, &u.metadata.name);
        if let Err(errors) = upstream_options::outlier_detection(u.spec.outlier_detection.as_ref())
        {
            for error in errors {
                reports.error(&key, error);
            }
        }
        match (&u.spec.static_, &u.spec.kube) {
            (None, None) => reports.error(&key, upstream_flaw("spec", "set either static or kube")),
            (Some(_), Some(_)) => reports.error(
                &key,
                upstream_flaw("spec", "set only one of static and kube"),
            ),
            (Some(s), None) => {
                for (i, host) in s.hosts.iter().enumerate() {
                    if parse_ip(&host.addr).is_none() {
                        reports.error(&key, upstream_flaw(format!("spec.static.hosts[{i}].addr"), format!("{:?} is not an IP address (lockgate does not resolve DNS names yet)", host.addr)));
                    }
                    if host.port == 0 {
                        reports.error(
                            &key,
                            upstream_flaw(
                                format!("spec.static.hosts[{i}].port"),
                                "must be between 1 and 65535",
                            ),
                        );
                    }
                }
                if s.hosts.is_empty() {
                    reports.warning(
                        &key,
                        Flaw::new(
                            Code::ProcessingWarning,
                            "spec.static.hosts",
                            "empty; routes to this upstream answer 503",
                        ),
                    );
                }
            }
            (None, Some(kube)) => {
                if let Some(spec) = &kube.subset_spec
                    && spec.fallback_policy == Some(FallbackPolicy::DefaultSubset)
                    && spec.default_subset.is_none()
                {
                    reports.error(
                        &key,
                        upstream_flaw(
                            "spec.kube.subsetSpec.defaultSubset",
                            "required when fallbackPolicy is DEFAULT_SUBSET",
                        ),
                    );
                }
            }
        }
        // Last, so that the key moves in: a clean upstream still shows as Accepted.
        reports.touch_owned(key);
    }
    for e in snapshot.endpoints.values() {
        let key = ResourceKey::new(Kind::Endpoint, &e.metadata.namespace, &e.metadata.name);
        if parse_ip(&e.spec.address).is_none() {
            reports.error(
                &key,
                upstream_flaw(
                    "spec.address",
                    format!("{:?} is not an IP address", e.spec.address),
                ),
            );
        }
        if e.spec.port == 0 {
            reports.error(
                &key,
                upstream_flaw("spec.port", "must be between 1 and 65535"),
            );
        }
        reports.touch_owned(key);
    }
}

fn parse_ip(text: &str) -> Option<IpAddr> {
    if text == "localhost" {
        return Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    text.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Endpoints that name their upstreams in `spec.upstreams`, by upstream `(namespace, name)`.
/// Built once per translation so that resolving every cluster stays linear in the endpoints.
pub(crate) struct ExplicitMembers<'a>(HashMap<(&'a str, &'a str), Vec<&'a api::Endpoint>>);

impl<'a> ExplicitMembers<'a> {
    pub(crate) fn index(snapshot: &'a Snapshot) -> Self {
        let mut map: HashMap<(&str, &str), Vec<&api::Endpoint>> = HashMap::new();
        for e in snapshot.endpoints.values() {
            for r in &e.spec.upstreams {
                map.entry((r.namespace_or(&e.metadata.namespace), r.name.as_str()))
                    .or_default()
                    .push(e);
            }
        }
        ExplicitMembers(map)
    }
}

/// The cluster `key` names: its endpoints, its upstream's outlier detection and circuit
/// breakers, and whether it speaks HTTP/2 (the defaults where the upstream sets none, or sets them wrongly: that error is
/// reported on the upstream by [`check_upstreams_and_endpoints`]).
pub(crate) fn cluster(
    snapshot: &Snapshot,
    explicit: &ExplicitMembers<'_>,
    key: ClusterKey,
) -> compiled::Cluster {
    let mut cluster = compiled::Cluster::new(key, Vec::new());
    cluster.endpoints = endpoints(snapshot, explicit, &cluster.key);
    let id = (
        cluster.key.upstream_namespace.clone(),
        cluster.key.upstream_name.clone(),
    );
    if let Some(upstream) = snapshot.upstreams.get(&id) {
        cluster.outlier_detection =
            upstream_options::outlier_detection(upstream.spec.outlier_detection.as_ref())
                .unwrap_or_default();
        cluster.circuit_breakers =
            upstream_options::circuit_breakers(upstream.spec.circuit_breakers.as_ref());
        cluster.http2 = upstream.spec.use_http2.unwrap_or(false);
    }
    cluster
}

/// The addresses a cluster dials, sorted and without duplicates. Empty when the upstream does not
/// exist or has no endpoints (the proxy answers 503).
pub(crate) fn endpoints(
    snapshot: &Snapshot,
    explicit: &ExplicitMembers<'_>,
    key: &ClusterKey,
) -> Vec<SocketAddr> {
    let id = (key.upstream_namespace.clone(), key.upstream_name.clone());
    let Some(upstream) = snapshot.upstreams.get(&id) else {
        return Vec::new();
    };
    if let Some(s) = &upstream.spec.static_ {
        let addrs = s
            .hosts
            .iter()
            .filter_map(|h| Some(SocketAddr::new(parse_ip(&h.addr)?, h.port)));
        return sorted(addrs.filter(|a| a.port() != 0));
    }
    let Some(kube) = &upstream.spec.kube else {
        return Vec::new();
    };
    // Label selection only looks inside the service namespace: a range of the sorted map.
    let namespace = kube.service_namespace.as_str();
    let mut members: Vec<&api::Endpoint> = if kube.selector.is_empty() {
        Vec::new()
    } else {
        snapshot
            .endpoints
            .range((namespace.to_string(), String::new())..)
            .take_while(|((ns, _), _)| ns == namespace)
            .map(|(_, e)| e.as_ref())
            .filter(|e| {
                kube.selector
                    .iter()
                    .all(|(k, v)| e.metadata.labels.get(k) == Some(v))
            })
            .collect()
    };
    if let Some(named) = explicit
        .0
        .get(&(key.upstream_namespace.as_str(), key.upstream_name.as_str()))
    {
        members.extend(named.iter().copied());
    }
    if key.subset.is_empty() {
        return addresses(&members, None);
    }
    let chosen = addresses(&members, Some(&key.subset));
    if !chosen.is_empty() {
        return chosen;
    }
    let spec = kube.subset_spec.as_ref();
    match spec.and_then(|s| s.fallback_policy).unwrap_or_default() {
        FallbackPolicy::AnyEndpoint => addresses(&members, None),
        FallbackPolicy::NoFallback => Vec::new(),
        FallbackPolicy::DefaultSubset => match spec.and_then(|s| s.default_subset.as_ref()) {
            Some(default) => addresses(&members, Some(&default.values)),
            None => Vec::new(),
        },
    }
}

/// The valid addresses of `members` carrying every label of `subset` (all of them for `None`).
fn addresses(
    members: &[&api::Endpoint],
    subset: Option<&BTreeMap<String, String>>,
) -> Vec<SocketAddr> {
    let in_subset = |e: &api::Endpoint| {
        subset.is_none_or(|values| {
            values
                .iter()
                .all(|(k, v)| e.metadata.labels.get(k) == Some(v))
        })
    };
    sorted(
        members
            .iter()
            .filter(|e| in_subset(e) && e.spec.port != 0)
            .filter_map(|e| Some(SocketAddr::new(parse_ip(&e.spec.address)?, e.spec.port))),
    )
}

fn sorted(addrs: impl Iterator<Item = SocketAddr>) -> Vec<SocketAddr> {
    addrs.collect::<BTreeSet<_>>().into_iter().collect()
}

/// Compiles a non-delegating action. Errors are returned as messages with their field paths;
/// the action returned still says which parts are usable (valid destinations of a weighted route).
pub(crate) fn compile_action(
    route: &api::Route,
    field: &str,
    owner_namespace: &str,
    snapshot: &Snapshot,
    clusters: &mut ClusterInterner,
) -> (DraftAction, Vec<Flaw>) {
    let mut errors = Vec::new();
    let action = if let Some(action) = &route.route_action {
        // Field paths are built only when there is something to say: this runs per route.
        let at = || format!("{field}.routeAction");
        match (&action.single, &action.multi) {
            (Some(single), None) => {
                match destination(
                    single,
                    &|| format!("{}.single", at()),
                    owner_namespace,
                    snapshot,
                ) {
                    Ok(key) => {
                        DraftAction::Forward(vec![(1, DraftTarget::Cluster(clusters.intern(key)))])
                    }
                    Err(e) => {
                        errors.push(e);
                        DraftAction::Invalid
                    }
                }
            }
            (None, Some(multi)) => {
                let mut targets = Vec::with_capacity(multi.destinations.len());
                for (i, d) in multi.destinations.iter().enumerate() {
                    let dest_at = || format!("{}.multi.destinations[{i}].destination", at());
                    match destination(&d.destination, &dest_at, owner_namespace, snapshot) {
                        Ok(key) => {
                            targets.push((d.weight, DraftTarget::Cluster(clusters.intern(key))))
                        }
                        Err(e) => {
                            errors.push(e);
                            targets.push((d.weight, DraftTarget::Invalid));
                        }
                    }
                }
                let total: u64 = multi.destinations.iter().map(|d| u64::from(d.weight)).sum();
                if multi.destinations.is_empty() {
                    errors.push(action_flaw(
                        format!("{}.multi.destinations", at()),
                        "at least one destination is required",
                    ));
                    DraftAction::Invalid
                } else if total < 1 {
                    errors.push(action_flaw(format!("{}.multi.destinations", at()), "the weights sum to 0; at least one destination needs a weight of 1 or more"));
                    DraftAction::Invalid
                } else if total > u64::from(u32::MAX) {
                    errors.push(action_flaw(
                        format!("{}.multi.destinations", at()),
                        format!("the weights sum to {total}, more than {}", u32::MAX),
                    ));
                    DraftAction::Invalid
                } else {
                    DraftAction::Forward(targets)
                }
            }
            (None, None) => {
                errors.push(action_flaw(at(), "set single or multi"));
                DraftAction::Invalid
            }
            (Some(_), Some(_)) => {
                errors.push(action_flaw(at(), "set only one of single and multi"));
                DraftAction::Invalid
            }
        }
    } else if let Some(direct) = &route.direct_response_action {
        if (100..=599).contains(&direct.status) {
            DraftAction::DirectResponse {
                status: direct.status,
                body: direct.body.clone().unwrap_or_default(),
            }
        } else {
            errors.push(action_flaw(
                format!("{field}.directResponseAction.status"),
                format!("{} is not an HTTP status (100-599)", direct.status),
            ));
            DraftAction::Invalid
        }
    } else if let Some(redirect) = &route.redirect_action {
        let at = format!("{field}.redirectAction");
        if redirect.path_redirect.is_some() && redirect.prefix_rewrite.is_some() {
            errors.push(action_flaw(
                at,
                "set only one of pathRedirect and prefixRewrite",
            ));
            DraftAction::Invalid
        } else if let Some(bad) = redirect
            .path_redirect
            .as_deref()
            .filter(|p| !p.starts_with('/'))
        {
            errors.push(action_flaw(
                format!("{at}.pathRedirect"),
                format!("{bad:?} must start with '/'"),
            ));
            DraftAction::Invalid
        } else {
            DraftAction::Redirect(compiled::Redirect {
                host: redirect.host_redirect.clone(),
                path: redirect.path_redirect.clone(),
                prefix_rewrite: redirect.prefix_rewrite.clone(),
                port: redirect.port_redirect,
                status: redirect.response_code.unwrap_or_default().status(),
                https: redirect.https_redirect,
                strip_query: redirect.strip_query,
            })
        }
    } else {
        errors.push(action_flaw(field, "a route needs an action: routeAction, directResponseAction, redirectAction or delegateAction"));
        DraftAction::Invalid
    };
    (action, errors)
}

/// Resolves one destination to its cluster key, or explains why it cannot be.
fn destination(
    d: &api::Destination,
    at: &dyn Fn() -> String,
    owner_namespace: &str,
    snapshot: &Snapshot,
) -> Result<ClusterKey, Flaw> {
    let Some(reference) = &d.upstream else {
        return Err(action_flaw(format!("{}.upstream", at()), "required"));
    };
    let namespace = reference.namespace_or(owner_namespace);
    let id = (namespace.to_string(), reference.name.clone());
    let Some(upstream) = snapshot.upstreams.get(&id) else {
        // Gloo's wording, which people search for.
        return Err(Flaw::new(
            Code::InvalidDestinationWarning,
            at(),
            format!(
                "Route Warning: InvalidDestinationWarning. Reason: *v1.Upstream {{{namespace}.{}}} not found",
                reference.name
            ),
        ));
    };
    let subset = d
        .subset
        .as_ref()
        .map(|s| s.values.clone())
        .unwrap_or_default();
    if !subset.is_empty() {
        let selectors = upstream
            .spec
            .kube
            .as_ref()
            .and_then(|k| k.subset_spec.as_ref())
            .map(|s| &s.selectors);
        let Some(selectors) = selectors.filter(|s| !s.is_empty()) else {
            return Err(Flaw::new(
                Code::InvalidDestinationWarning,
                format!("{}.subset", at()),
                format!(
                    "upstream {namespace}.{} declares no subsetSpec, so it cannot be divided into subsets",
                    reference.name
                ),
            ));
        };
        let declares = |s: &api::SubsetSelector| {
            let distinct: BTreeSet<&String> = s.keys.iter().collect();
            distinct.len() == subset.len() && distinct.iter().all(|k| subset.contains_key(*k))
        };
        if !selectors.iter().any(declares) {
            let declared: Vec<String> = selectors.iter().map(|s| format!("{:?}", s.keys)).collect();
            let keys: Vec<&String> = subset.keys().collect();
            return Err(Flaw::new(
                Code::InvalidDestinationWarning,
                format!("{}.subset", at()),
                format!(
                    "keys {:?} match none of the subset selectors of upstream {namespace}.{} ({})",
                    keys,
                    reference.name,
                    declared.join(", ")
                ),
            ));
        }
    }
    Ok(ClusterKey {
        upstream_namespace: namespace.to_string(),
        upstream_name: reference.name.clone(),
        subset,
    })
}

fn upstream_flaw(field: impl Into<String>, message: impl Into<String>) -> Flaw {
    Flaw::new(Code::InvalidUpstreamError, field, message)
}

fn action_flaw(field: impl Into<String>, message: impl Into<String>) -> Flaw {
    Flaw::new(Code::InvalidRouteActionError, field, message)
}

#[cfg(test)]
#[path = "destination_test.rs"]
mod tests;
