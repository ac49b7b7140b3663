//! What the proxy keeps beside one configuration: counter slots, filled on first use.
//!
//! A [`Table`] is built the first time a request sees a new configuration (a cheap pass that
//! allocates one empty slot per route and cluster) and is shared by every request on that
//! configuration. Slots fill on first use from the [`Registry`], which owns the counters under
//! names that survive reloads; so a configuration of 50,000 routes costs a few bytes per route
//! until a route is actually used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use lockgate_compiled::{
    CircuitBreakers, ClusterId, ClusterKey, CompiledConfig, OutlierDetection, VirtualHost,
};

use crate::outlier::EndpointHealth;
use crate::stats::{Counters, RouteId, Stats, UpstreamId};
use crate::upstream::UpstreamState;

pub(crate) struct Table {
    pub(crate) config: Arc<CompiledConfig>,
    /// Where each virtual host's routes start in `routes`.
    route_offsets: Box<[usize]>,
    routes: Box<[OnceLock<Arc<Counters>>]>,
    clusters: Box<[OnceLock<ClusterState>]>,
}

pub(crate) struct ClusterState {
    pub(crate) counters: Arc<Counters>,
    pub(crate) endpoints: Box<[std::net::SocketAddr]>,
    /// Beside `endpoints`, in the same order.
    pub(crate) health: Box<[Arc<EndpointHealth>]>,
    pub(crate) upstream: Arc<UpstreamState>,
    pub(crate) outlier_detection: OutlierDetection,
    pub(crate) circuit_breakers: CircuitBreakers,
    /// The cluster's `http2`: requests go through `h2_pool` rather than `pool`.
    pub(crate) http2: bool,
}

impl Table {
    pub(crate) fn new(config: Arc<CompiledConfig>) -> Table {
        let mut route_offsets = Vec::with_capacity(config.virtual_hosts.len());
        let mut total = 0;
        for vh in &config.virtual_hosts {
            route_offsets.push(total);
            total += vh.routes.len();
        }
        Table {
            route_offsets: route_offsets.into(),
            routes: (0..total).map(|_| OnceLock::new()).collect(),
            clusters: config.clusters.iter().map(|_| OnceLock::new()).collect(),
            config,
        }
    }

    /// The counters of route `route` of `vh`, which must belong to this table's configuration.
    pub(crate) fn route_counters(
        &self,
        registry: &Registry,
        vh: &VirtualHost,
        route: usize,
    ) -> &Counters {
        // `vh` is an element of `config.virtual_hosts` (it came from `config.virtual_host`), so
        // its address says its index, without a search.
        let base = self.config.virtual_hosts.as_ptr() as usize;
        let vh_index = (vh as *const VirtualHost as usize - base) / size_of::<VirtualHost>();
        let slot = &self.routes[self.route_offsets[vh_index] + route];
        slot.get_or_init(|| {
            registry.route(RouteId {
                virtual_host: vh.name.clone(),
                origin: vh.routes[route].origin.clone(),
            })
        })
    }

    /// The cluster `id` names; `None` only if the configuration is inconsistent.
    pub(crate) fn cluster(&self, registry: &Registry, id: ClusterId) -> Option<&ClusterState> {
        let cluster = self.config.clusters.get(id.0)?;
        let slot = self.clusters.get(id.0)?;
        Some(slot.get_or_init(|| {
            let upstream = registry.upstream(&cluster.key);
            ClusterState {
                counters: registry.cluster(&cluster.key),
                endpoints: cluster.endpoints.as_slice().into(),
                health: upstream.health(&cluster.endpoints),
                upstream,
                outlier_detection: cluster.outlier_detection,
                circuit_breakers: cluster.circuit_breakers,
                http2: cluster.http2,
            }
        }))
    }
}

/// Every counter the proxy has, by stable name. Locked only when a table slot fills and when
/// statistics are read, never per request.
pub(crate) struct Registry {
    routes: Mutex<HashMap<RouteId, Arc<Counters>>>,
    clusters: Mutex<HashMap<ClusterKey, Arc<Counters>>>,
    upstreams: Mutex<HashMap<UpstreamId, Arc<UpstreamState>>>,
    pub(crate) listener: Counters,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            routes: Mutex::default(),
            clusters: Mutex::default(),
            upstreams: Mutex::default(),
            listener: Counters::new(),
        }
    }

    fn route(&self, id: RouteId) -> Arc<Counters> {
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        routes
            .entry(id)
            .or_insert_with(|| Arc::new(Counters::new()))
            .clone()
    }

    fn cluster(&self, key: &ClusterKey) -> Arc<Counters> {
        let mut clusters = self.clusters.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(counters) = clusters.get(key) {
            return counters.clone();
        }
        let counters = Arc::new(Counters::new());
        clusters.insert(key.clone(), counters.clone());
        counters
    }

    fn upstream(&self, key: &ClusterKey) -> Arc<UpstreamState> {
        let id = UpstreamId {
            namespace: key.upstream_namespace.clone(),
            name: key.upstream_name.clone(),
        };
        let mut upstreams = self
            .upstreams
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        upstreams
            .entry(id)
            .or_insert_with(|| Arc::new(UpstreamState::new()))
            .clone()
    }

    pub(crate) fn read(&self) -> Stats {
        let routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let clusters = self.clusters.lock().unwrap_or_else(PoisonError::into_inner);
        let upstreams = self
            .upstreams
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Stats {
            upstreams: upstreams
                .iter()
                .map(|(k, u)| (k.clone(), u.read()))
                .collect(),
            listener: self.listener.read(),
            routes: routes.iter().map(|(k, c)| (k.clone(), c.read())).collect(),
            clusters: clusters
                .iter()
                .map(|(k, c)| (k.clone(), c.read()))
                .collect(),
        }
    }
}
