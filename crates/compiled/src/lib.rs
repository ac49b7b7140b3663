//! The compiled route configuration: what the translator produces and the proxy executes.
//!
//! Everything that needs thought happens before a value of [`CompiledConfig`] exists: routes are
//! in their final order (the first match wins), regular expressions are built, header names are
//! lower-cased, destinations point at clusters by index, and every cluster holds the addresses to
//! dial. The proxy only scans and dials. The whole configuration serialises, so that the
//! controller can persist the last one served and serve it again after a restart before anything
//! is translated, and so that `/config_dump` can show exactly what runs.

mod host_index;
mod pattern;
mod publish;
mod upstream;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use host_index::HostIndex;
pub use pattern::Pattern;
pub use publish::Publish;
pub use upstream::{CircuitBreakers, OutlierDetection};

/// The configuration the proxy executes, published as one immutable value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(from = "RawConfig")]
pub struct CompiledConfig {
    pub virtual_hosts: Vec<VirtualHost>,
    pub clusters: Vec<Cluster>,
    #[serde(skip)]
    hosts: HostIndex,
}

#[derive(Deserialize)]
struct RawConfig {
    virtual_hosts: Vec<VirtualHost>,
    clusters: Vec<Cluster>,
}

impl From<RawConfig> for CompiledConfig {
    fn from(raw: RawConfig) -> Self {
        CompiledConfig::new(raw.virtual_hosts, raw.clusters)
    }
}

impl CompiledConfig {
    /// Builds the configuration and its domain index. Virtual hosts are expected without
    /// conflicting domains (the translator rejects those); should two claim one domain anyway,
    /// the first wins.
    pub fn new(mut virtual_hosts: Vec<VirtualHost>, mut clusters: Vec<Cluster>) -> Self {
        // Built by pushing as routes are found, a list holds up to twice the room it needs, and
        // the configuration lives as long as it is served (a route is ~450 bytes: 7 MB of
        // slack at 50,000 routes).
        for host in &mut virtual_hosts {
            host.routes.shrink_to_fit();
        }
        virtual_hosts.shrink_to_fit();
        clusters.shrink_to_fit();
        let hosts = HostIndex::build(&virtual_hosts);
        CompiledConfig {
            virtual_hosts,
            clusters,
            hosts,
        }
    }

    /// The virtual host serving `authority` (a Host header, with or without port): exact domain
    /// first, then the longest `*.suffix` wildcard, then `*`.
    pub fn virtual_host(&self, authority: &str) -> Option<&VirtualHost> {
        self.hosts.find(authority).map(|i| &self.virtual_hosts[i])
    }

    /// The index in `virtual_hosts` of [`CompiledConfig::virtual_host`]'s answer.
    pub fn virtual_host_index(&self, authority: &str) -> Option<usize> {
        self.hosts.find(authority)
    }

    pub fn cluster(&self, id: ClusterId) -> &Cluster {
        &self.clusters[id.0]
    }

    pub fn route_count(&self) -> usize {
        self.virtual_hosts.iter().map(|v| v.routes.len()).sum()
    }
}

/// One virtual service, compiled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VirtualHost {
    /// `namespace.name` of the VirtualService.
    pub name: String,
    /// Lower-cased; `*` and `*.suffix` are wildcards.
    pub domains: Vec<String>,
    /// In match order.
    pub routes: Vec<Arc<Route>>,
    /// What this host was translated from: its virtual service and every route table it
    /// reached, each with its generation. A host kept as the last known good keeps its
    /// sources, which is how statuses tell the generation served from the one stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceGeneration>,
}

/// One resource a virtual host was translated from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SourceGeneration {
    /// `VirtualService` or `RouteTable`.
    pub kind: String,
    /// `namespace.name`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Route {
    /// Where the route came from, for people and metrics:
    /// `gloo-system.app/routes[0] > echo.echo-routes/routes[1]`.
    pub origin: String,
    pub matcher: Matcher,
    pub action: Action,
    #[serde(default, skip_serializing_if = "RouteOptions::is_empty")]
    pub options: RouteOptions,
}

impl Route {
    /// The clusters the route forwards to, in destination order.
    pub fn cluster_ids(&self) -> impl Iterator<Item = ClusterId> + '_ {
        let destinations = match &self.action {
            Action::Forward(f) => f.destinations.as_slice(),
            _ => &[],
        };
        destinations.iter().filter_map(|d| match d.target {
            Target::Cluster(id) => Some(id),
            Target::Invalid { .. } => None,
        })
    }

    /// [`Route::cluster_ids`], to renumber.
    pub fn cluster_ids_mut(&mut self) -> impl Iterator<Item = &mut ClusterId> + '_ {
        let destinations = match &mut self.action {
            Action::Forward(f) => f.destinations.as_mut_slice(),
            _ => &mut [],
        };
        destinations.iter_mut().filter_map(|d| match &mut d.target {
            Target::Cluster(id) => Some(id),
            Target::Invalid { .. } => None,
        })
    }
}

/// All conditions must hold for the route to match.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Matcher {
    pub path: PathMatch,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub query: Vec<QueryMatch>,
    /// Upper-case method names; empty means any method.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// Path conditions of the delegating routes above this one that its own `path` could not
    /// be proven to imply: every one must hold too, so that a delegated route never matches
    /// outside what its parents matched (a regex child that alternates its way out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub within: Vec<PathMatch>,
}

/// Matched against the normalised request path (without the query string).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PathMatch {
    /// A plain string prefix, as in Gloo: `/echo` also matches `/echoes`.
    Prefix {
        value: String,
        case_sensitive: bool,
    },
    Exact {
        value: String,
        case_sensitive: bool,
    },
    /// Must match the whole path; case-insensitivity is compiled into the pattern.
    Regex(Pattern),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeaderMatch {
    /// Lower-case.
    pub name: String,
    pub value: ValueMatch,
    /// Inverts the whole condition: the route matches when the header does *not* match.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub invert: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryMatch {
    pub name: String,
    pub value: ValueMatch,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueMatch {
    /// The header or parameter only has to be present.
    Present,
    Exact(String),
    /// Must match the whole value.
    Regex(Pattern),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Forward(Forward),
    DirectResponse { status: u16, body: String },
    Redirect(Redirect),
}

/// Weighted destinations. A request picks `n` uniformly in `0..total_weight` and takes the first
/// destination whose cumulative weight exceeds `n`; destinations of weight 0 are never picked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forward {
    pub destinations: Vec<WeightedTarget>,
    /// Sum of the weights; at least 1.
    pub total_weight: u32,
}

impl Forward {
    /// The destination for a number drawn uniformly from `0..total_weight`.
    pub fn pick(&self, draw: u32) -> &WeightedTarget {
        let mut acc = 0u32;
        for dest in &self.destinations {
            acc += dest.weight;
            if draw < acc {
                return dest;
            }
        }
        // Unreachable for draw < total_weight; the last destination is a safe answer anyway.
        &self.destinations[self.destinations.len() - 1]
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightedTarget {
    pub weight: u32,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Cluster(ClusterId),
    /// An invalid destination replaced under `replaceInvalidRoutes`: answers with the configured
    /// response, keeping its share of the weight.
    Invalid {
        status: u16,
        body: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Redirect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Replaces the matched prefix of the path (only for prefix routes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_rewrite: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub status: u16,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub https: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub strip_query: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteOptions {
    /// Replaces the matched prefix before forwarding (prefix routes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_rewrite: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<Retries>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_headers_to_add: Vec<HeaderToAdd>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_headers_to_remove: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_headers_to_add: Vec<HeaderToAdd>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_headers_to_remove: Vec<String>,
    /// WebSocket upgrades are tunnelled unless the route turns them off; no other `Upgrade`
    /// protocol ever is.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub websocket_disabled: bool,
}

impl RouteOptions {
    pub fn is_empty(&self) -> bool {
        *self == RouteOptions::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Retries {
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_try_timeout_ms: Option<u64>,
    /// Envoy's retry conditions as written (`5xx`, `connect-failure`, `reset`, ...).
    pub retry_on: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeaderToAdd {
    /// Lower-case.
    pub name: String,
    pub value: String,
    /// Add beside existing values (true) or replace them (false).
    pub append: bool,
}

/// Index of a cluster in [`CompiledConfig::clusters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClusterId(pub usize);

/// Where a destination's traffic goes: the endpoints of one upstream, narrowed to one subset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cluster {
    pub key: ClusterKey,
    /// Empty means the upstream has no endpoints (or does not exist): the proxy answers 503.
    pub endpoints: Vec<SocketAddr>,
    /// The upstream's; every subset of one upstream carries the same.
    #[serde(default, skip_serializing_if = "OutlierDetection::is_default")]
    pub outlier_detection: OutlierDetection,
    #[serde(default, skip_serializing_if = "CircuitBreakers::is_default")]
    pub circuit_breakers: CircuitBreakers,
    /// The upstream's `useHttp2`: requests go out as HTTP/2 (h2c with prior knowledge), many
    /// at once on one connection per endpoint. Left out when false, so configurations
    /// persisted before the field existed read the same.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub http2: bool,
}

impl Cluster {
    /// A cluster with the default outlier detection and circuit breakers, spoken to in
    /// HTTP/1.1.
    pub fn new(key: ClusterKey, endpoints: Vec<SocketAddr>) -> Cluster {
        Cluster {
            key,
            endpoints,
            outlier_detection: OutlierDetection::default(),
            circuit_breakers: CircuitBreakers::default(),
            http2: false,
        }
    }
}

/// Identifies a cluster independently of any one configuration, so that routes kept from an
/// older configuration (last known good) can be re-linked to today's endpoints.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClusterKey {
    pub upstream_namespace: String,
    pub upstream_name: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub subset: BTreeMap<String, String>,
}

impl std::fmt::Display for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.upstream_namespace, self.upstream_name)?;
        if !self.subset.is_empty() {
            let labels: Vec<String> = self
                .subset
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            write!(f, "{{{}}}", labels.join(","))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
