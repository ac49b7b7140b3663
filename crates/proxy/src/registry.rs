//! Every counter and every piece of upstream state the proxy keeps, by names that survive
//! reloads: a plan built on publish takes its clusters' state from here (and each route's
//! counters on the route's first request), so a canary controller judging a destination over
//! minutes sees one continuous series across publishes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use lockgate_compiled::ClusterKey;

use crate::stats::{Counters, RouteId, Stats, UpstreamId};
use crate::upstream::UpstreamState;

/// Every counter the proxy has, by stable name. Locked when a plan is built, when a route's counters are first used and when
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

    pub(crate) fn route(&self, id: RouteId) -> Arc<Counters> {
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        routes
            .entry(id)
            .or_insert_with(|| Arc::new(Counters::new()))
            .clone()
    }

    pub(crate) fn cluster(&self, key: &ClusterKey) -> Arc<Counters> {
        let mut clusters = self.clusters.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(counters) = clusters.get(key) {
            return counters.clone();
        }
        let counters = Arc::new(Counters::new());
        clusters.insert(key.clone(), counters.clone());
        counters
    }

    pub(crate) fn upstream(&self, key: &ClusterKey) -> Arc<UpstreamState> {
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
