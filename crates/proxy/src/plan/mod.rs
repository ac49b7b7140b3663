//! The executable plan: what [`crate::Proxy::publish`] makes of a [`CompiledConfig`], once per
//! publish and off the request path.
//!
//! The compiled configuration is the contract with the translator and the persisted format: it
//! holds strings, because it must serialise and read back. Everything a request would otherwise
//! redo from those strings is done here instead: header names and values parsed into
//! [`HeaderName`](http::HeaderName)/[`HeaderValue`](http::HeaderValue)s ([`HeaderOps`]), methods
//! as [`Method`]s, retry conditions as a bit set ([`RetryPolicy`]), timeouts as [`Duration`]s,
//! direct-response bodies as [`Bytes`], weighted destinations as cumulative weights, the state of
//! every cluster (endpoints, health, circuit breakers, counters) resolved from the
//! [`Registry`], and each virtual host's [`RouteIndex`] built.
//!
//! Route counters are the one thing left lazy: a configuration of 50,000 routes would otherwise
//! allocate 50,000 sharded counter sets whether or not a route is ever used. Each route's slot is
//! filled on its first request, once per plan, and keeps counting across publishes (the
//! registry keys counters by names that survive reloads).

mod header_ops;
mod matcher;
mod retry;
mod reuse;

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use lockgate_compiled::{
    Action, CircuitBreakers, ClusterId, CompiledConfig, OutlierDetection, Redirect, Route, Target,
    VirtualHost,
};

pub(crate) use header_ops::HeaderOps;
pub(crate) use matcher::{HeaderKey, MatcherPlan};
pub(crate) use retry::RetryPolicy;
use reuse::Earlier;

use crate::outlier::EndpointHealth;
use crate::registry::Registry;
use crate::route_index::RouteIndex;
use crate::stats::{Counters, RouteId};
use crate::upstream::UpstreamState;

/// Envoy's default route timeout.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

pub(crate) struct Plan {
    pub(crate) config: Arc<CompiledConfig>,
    /// Beside `config.virtual_hosts`, in the same order.
    pub(crate) virtual_hosts: Box<[VirtualHostPlan]>,
    /// Beside `config.clusters`, in the same order.
    pub(crate) clusters: Box<[ClusterState]>,
}

pub(crate) struct VirtualHostPlan {
    /// Beside the compiled virtual host's routes, in match order. Shared with the plans
    /// before and after while the route itself is (see [`Plan::build_after`]).
    pub(crate) routes: Box<[Arc<RoutePlan>]>,
    pub(crate) index: Arc<RouteIndex>,
}

pub(crate) struct RoutePlan {
    pub(crate) matcher: MatcherPlan,
    pub(crate) action: ActionPlan,
    pub(crate) request_headers: HeaderOps,
    pub(crate) response_headers: HeaderOps,
    /// `None`: no timeout (`timeout: 0s`, as in Envoy).
    pub(crate) timeout: Option<Duration>,
    pub(crate) retries: Option<RetryPolicy>,
    counters: OnceLock<Arc<Counters>>,
}

pub(crate) enum ActionPlan {
    Forward(ForwardPlan),
    Direct {
        status: StatusCode,
        body: Bytes,
    },
    /// The `Location` depends on the request; the compiled redirect says how to build it.
    Redirect {
        status: StatusCode,
    },
}

/// Weighted destinations as cumulative upper bounds: a draw in `0..total` takes the first
/// destination whose bound exceeds it (weight 0 is never taken).
pub(crate) struct ForwardPlan {
    destinations: Box<[(u32, TargetPlan)]>,
    pub(crate) total: u32,
}

pub(crate) enum TargetPlan {
    Cluster(usize),
    /// An invalid destination replaced under `replaceInvalidRoutes`, or a dangling cluster.
    Local {
        status: StatusCode,
        body: Bytes,
    },
}

/// What the proxy keeps for one cluster: endpoints, their health, the upstream's circuit
/// breakers and outlier detection, and the cluster's counters.
pub(crate) struct ClusterState {
    pub(crate) counters: Arc<Counters>,
    pub(crate) endpoints: Box<[SocketAddr]>,
    /// Beside `endpoints`, in the same order.
    pub(crate) health: Box<[Arc<EndpointHealth>]>,
    pub(crate) upstream: Arc<UpstreamState>,
    pub(crate) outlier_detection: OutlierDetection,
    pub(crate) circuit_breakers: CircuitBreakers,
    /// The Upstream's `useHttp2`: requests go through `h2_pool` rather than `pool`.
    pub(crate) http2: bool,
}

impl Plan {
    pub(crate) fn build(config: Arc<CompiledConfig>, registry: &Registry) -> Plan {
        Plan::build_with(config, registry, None)
    }

    /// The plan of `config`, taking from `earlier` what still holds (see `reuse`).
    pub(crate) fn build_after(
        config: Arc<CompiledConfig>,
        registry: &Registry,
        earlier: &Plan,
    ) -> Plan {
        Plan::build_with(config, registry, Some(earlier))
    }

    fn build_with(
        config: Arc<CompiledConfig>,
        registry: &Registry,
        earlier: Option<&Plan>,
    ) -> Plan {
        let clusters = config
            .clusters
            .iter()
            .map(|cluster| {
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
            })
            .collect();
        let cluster_count = config.clusters.len();
        let earlier = Earlier::of(earlier, cluster_count);
        let virtual_hosts = config
            .virtual_hosts
            .iter()
            .map(|vh| VirtualHostPlan::build_reusing(vh, cluster_count, &earlier))
            .collect();
        Plan {
            config,
            virtual_hosts,
            clusters,
        }
    }

    /// The virtual host serving `authority`, compiled and planned.
    pub(crate) fn virtual_host(&self, authority: &str) -> Option<(&VirtualHost, &VirtualHostPlan)> {
        let index = self.config.virtual_host_index(authority)?;
        Some((
            &self.config.virtual_hosts[index],
            &self.virtual_hosts[index],
        ))
    }

    pub(crate) fn cluster(&self, index: usize) -> Option<&ClusterState> {
        self.clusters.get(index)
    }
}

impl VirtualHostPlan {
    /// The plan of one virtual host of a configuration with `cluster_count` clusters.
    pub(crate) fn build(vh: &VirtualHost, cluster_count: usize) -> VirtualHostPlan {
        VirtualHostPlan::build_reusing(vh, cluster_count, &Earlier::default())
    }

    fn build_reusing(
        vh: &VirtualHost,
        cluster_count: usize,
        earlier: &Earlier<'_>,
    ) -> VirtualHostPlan {
        VirtualHostPlan {
            routes: vh
                .routes
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    earlier
                        .route_plan(&vh.name, i, r)
                        .unwrap_or_else(|| Arc::new(RoutePlan::build(r, cluster_count)))
                })
                .collect(),
            index: earlier
                .index(vh)
                .unwrap_or_else(|| Arc::new(RouteIndex::build(&vh.routes))),
        }
    }
}

impl RoutePlan {
    fn build(route: &Route, cluster_count: usize) -> RoutePlan {
        let options = &route.options;
        RoutePlan {
            matcher: MatcherPlan::build(&route.matcher),
            action: ActionPlan::build(&route.action, cluster_count),
            request_headers: HeaderOps::build(
                &options.request_headers_to_remove,
                &options.request_headers_to_add,
            ),
            response_headers: HeaderOps::build(
                &options.response_headers_to_remove,
                &options.response_headers_to_add,
            ),
            timeout: match options.timeout_ms {
                None => Some(DEFAULT_TIMEOUT),
                Some(0) => None,
                Some(ms) => Some(Duration::from_millis(ms)),
            },
            retries: options.retries.as_ref().map(RetryPolicy::build),
            counters: OnceLock::new(),
        }
    }

    /// The route's counters, taken from the registry on the route's first request.
    pub(crate) fn counters(
        &self,
        registry: &Registry,
        vh: &VirtualHost,
        route: &Route,
    ) -> &Counters {
        self.counters.get_or_init(|| {
            registry.route(RouteId {
                virtual_host: vh.name.clone(),
                origin: route.origin.clone(),
            })
        })
    }
}

impl ActionPlan {
    fn build(action: &Action, cluster_count: usize) -> ActionPlan {
        match action {
            Action::DirectResponse { status, body } => ActionPlan::Direct {
                status: status_code(*status),
                body: Bytes::copy_from_slice(body.as_bytes()),
            },
            Action::Redirect(redirect) => ActionPlan::Redirect {
                status: redirect_status(redirect),
            },
            Action::Forward(forward) => {
                let mut bound = 0u32;
                let destinations = forward
                    .destinations
                    .iter()
                    .map(|d| {
                        bound = bound.saturating_add(d.weight);
                        (bound, TargetPlan::build(&d.target, cluster_count))
                    })
                    .collect();
                ActionPlan::Forward(ForwardPlan {
                    destinations,
                    total: bound,
                })
            }
        }
    }
}

impl ForwardPlan {
    /// The destination for a number drawn uniformly from `0..total`; `None` only for a forward
    /// without destinations (the translator never compiles one).
    pub(crate) fn pick(&self, draw: u32) -> Option<&TargetPlan> {
        self.destinations
            .iter()
            .find(|(bound, _)| draw < *bound)
            .or(self.destinations.last())
            .map(|(_, target)| target)
    }
}

impl TargetPlan {
    fn build(target: &Target, cluster_count: usize) -> TargetPlan {
        match target {
            Target::Cluster(ClusterId(index)) if *index < cluster_count => {
                TargetPlan::Cluster(*index)
            }
            // The translator never links a cluster that does not exist; should one slip
            // through, the request gets a 500 rather than the worker a panic.
            Target::Cluster(_) => TargetPlan::Local {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                body: Bytes::from_static(b"route names an unknown cluster"),
            },
            Target::Invalid { status, body } => TargetPlan::Local {
                status: status_code(*status),
                body: Bytes::copy_from_slice(body.as_bytes()),
            },
        }
    }
}

fn redirect_status(redirect: &Redirect) -> StatusCode {
    if redirect.status == 0 {
        StatusCode::MOVED_PERMANENTLY
    } else {
        status_code(redirect.status)
    }
}

fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

#[cfg(test)]
#[path = "plan_test.rs"]
mod tests;
