//! Policy states built by hand for the persistence tests: hosts of routes forwarding to
//! clusters (weighted, with invalid destinations), direct responses, kept last valid resources.

use std::collections::BTreeMap;
use std::sync::Arc;

use lockgate_api::{RouteTable, VirtualService};
use lockgate_compiled::{
    Action, Cluster, ClusterId, ClusterKey, CompiledConfig, Forward, Matcher, PathMatch, Route,
    RouteOptions, Target, VirtualHost, WeightedTarget,
};
use lockgate_translate::PolicyState;

pub(crate) fn key(upstream: usize) -> ClusterKey {
    ClusterKey {
        upstream_namespace: format!("team{upstream}"),
        upstream_name: "svc".into(),
        subset: BTreeMap::new(),
    }
}

pub(crate) fn cluster(upstream: usize, port: u16) -> Cluster {
    Cluster::new(
        key(upstream),
        vec![format!("127.0.0.1:{port}").parse().expect("address")],
    )
}

/// Route `r` of host `h`: every fifth a direct response, the others a split between cluster
/// `h` and an invalid destination or cluster `h + 1`.
pub(crate) fn route(h: usize, r: usize, cluster_of: impl Fn(usize) -> usize) -> Route {
    let action = if r % 5 == 4 {
        Action::DirectResponse {
            status: 200,
            body: format!("host {h} route {r}"),
        }
    } else {
        let second = if r.is_multiple_of(2) {
            Target::Invalid {
                status: 404,
                body: "gone".into(),
            }
        } else {
            Target::Cluster(ClusterId(cluster_of(h + 1)))
        };
        Action::Forward(Forward {
            destinations: vec![
                WeightedTarget {
                    weight: 90,
                    target: Target::Cluster(ClusterId(cluster_of(h))),
                },
                WeightedTarget {
                    weight: 10,
                    target: second,
                },
            ],
            total_weight: 100,
        })
    };
    Route {
        origin: format!("gloo-system.app/routes[0] > team{h}.routes/routes[{r}]"),
        matcher: Matcher {
            path: PathMatch::Prefix {
                value: format!("/team{h}/svc{r}"),
                case_sensitive: true,
            },
            headers: Vec::new(),
            query: Vec::new(),
            methods: Vec::new(),
            within: Vec::new(),
        },
        action,
        options: RouteOptions::default(),
    }
}

/// `hosts` virtual hosts of `routes` routes each, over clusters `0..=hosts` (sorted by key, as
/// the translator numbers them).
pub(crate) fn config(hosts: usize, routes: usize) -> CompiledConfig {
    let mut keys: Vec<usize> = (0..=hosts).collect();
    keys.sort_by_key(|u| key(*u));
    let position = |u: usize| keys.iter().position(|k| *k == u).expect("cluster");
    let clusters = keys
        .iter()
        .map(|u| cluster(*u, 10_000 + *u as u16))
        .collect();
    let hosts = (0..hosts)
        .map(|h| VirtualHost {
            name: format!("team{h}.app"),
            domains: vec![format!("team{h}.example")],
            routes: (0..routes)
                .map(|r| Arc::new(route(h, r, position)))
                .collect(),
            sources: Vec::new(),
        })
        .collect();
    CompiledConfig::new(hosts, clusters)
}

pub(crate) fn route_table(name: &str, prefix: &str) -> Arc<RouteTable> {
    Arc::new(
        serde_json::from_value(serde_json::json!({
            "apiVersion": "gateway.solo.io/v1",
            "kind": "RouteTable",
            "metadata": {"name": name, "namespace": "team0", "generation": 3},
            "spec": {"routes": [{
                "matchers": [{"prefix": prefix}],
                "directResponseAction": {"status": 200, "body": "kept"}
            }]}
        }))
        .expect("route table"),
    )
}

pub(crate) fn virtual_service(name: &str) -> Arc<VirtualService> {
    Arc::new(
        serde_json::from_value(serde_json::json!({
            "apiVersion": "gateway.solo.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": name, "namespace": "gloo-system", "generation": 2},
            "spec": {"virtualHost": {"domains": ["kept.example"], "routes": []}}
        }))
        .expect("virtual service"),
    )
}

pub(crate) fn state(config: CompiledConfig) -> PolicyState {
    PolicyState {
        served: Arc::new(config),
        last_valid_route_tables: BTreeMap::from([(
            "team0.routes".to_string(),
            route_table("routes", "/team0"),
        )]),
        last_valid_virtual_services: BTreeMap::from([(
            "gloo-system.app".to_string(),
            virtual_service("app"),
        )]),
    }
}

/// The same configuration with route `r` of host `h` answering differently.
pub(crate) fn with_changed_route(config: &CompiledConfig, h: usize, r: usize) -> CompiledConfig {
    let mut hosts = config.virtual_hosts.clone();
    Arc::make_mut(&mut hosts[h].routes[r]).action = Action::DirectResponse {
        status: 503,
        body: "changed".into(),
    };
    CompiledConfig::new(hosts, config.clusters.clone())
}
