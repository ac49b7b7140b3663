use super::*;
use crate::route_options::{compile_options, merge_options};
use lockgate_api::{
    Endpoint, EndpointSpec, ObjectMeta, Resource, ResourceRef, StaticHost, StaticUpstream,
    Upstream, UpstreamSpec,
};

fn meta(ns: &str, name: &str, labels: &[(&str, &str)]) -> ObjectMeta {
    ObjectMeta {
        name: name.into(),
        namespace: ns.into(),
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn endpoint(
    ns: &str,
    name: &str,
    labels: &[(&str, &str)],
    port: u16,
    upstreams: Vec<ResourceRef>,
) -> Resource {
    Resource::Endpoint(Endpoint {
        metadata: meta(ns, name, labels),
        spec: EndpointSpec {
            upstreams,
            address: "127.0.0.1".into(),
            port,
        },
        ..Default::default()
    })
}

fn key(ns: &str, name: &str) -> ClusterKey {
    ClusterKey {
        upstream_namespace: ns.into(),
        upstream_name: name.into(),
        subset: Default::default(),
    }
}

#[test]
fn static_hosts_accept_localhost_and_skip_bad_addresses() {
    let snapshot = Snapshot::from_resources([Resource::Upstream(Upstream {
        metadata: meta("gloo-system", "s", &[]),
        spec: UpstreamSpec {
            static_: Some(StaticUpstream {
                hosts: vec![
                    StaticHost {
                        addr: "localhost".into(),
                        port: 80,
                    },
                    StaticHost {
                        addr: "example.com".into(),
                        port: 80,
                    },
                    StaticHost {
                        addr: "::1".into(),
                        port: 81,
                    },
                ],
                use_tls: None,
            }),
            ..Default::default()
        },
        ..Default::default()
    })]);
    let eps: Vec<String> = endpoints(
        &snapshot,
        &ExplicitMembers::index(&snapshot),
        &key("gloo-system", "s"),
    )
    .iter()
    .map(|a| a.to_string())
    .collect();
    assert_eq!(eps, ["127.0.0.1:80", "[::1]:81"]);
    let mut reports = Reports::default();
    check_upstreams_and_endpoints(&snapshot, &mut reports);
    let report = reports.iter().next().unwrap().1;
    assert!(
        report.reasons()[0]
            .starts_with("spec.static.hosts[1].addr: \"example.com\" is not an IP address")
    );
}

#[test]
fn kube_upstreams_select_by_labels_in_the_service_namespace_or_by_reference() {
    let upstream = Resource::Upstream(Upstream {
        metadata: meta("gloo-system", "k", &[]),
        spec: UpstreamSpec {
            kube: Some(api::KubeUpstream {
                service_namespace: "apps".into(),
                selector: [("app".to_string(), "k".to_string())].into(),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    });
    let by_ref = ResourceRef {
        name: "k".into(),
        namespace: "gloo-system".into(),
    };
    let snapshot = Snapshot::from_resources([
        upstream,
        endpoint("apps", "a", &[("app", "k")], 1, vec![]),
        endpoint("elsewhere", "b", &[("app", "k")], 2, vec![]),
        endpoint("elsewhere", "c", &[], 3, vec![by_ref]),
        endpoint("apps", "d", &[("app", "other")], 4, vec![]),
    ]);
    let ports: Vec<u16> = endpoints(
        &snapshot,
        &ExplicitMembers::index(&snapshot),
        &key("gloo-system", "k"),
    )
    .iter()
    .map(|a| a.port())
    .collect();
    assert_eq!(ports, [1, 3]);
    assert!(
        endpoints(
            &snapshot,
            &ExplicitMembers::index(&snapshot),
            &key("gloo-system", "missing")
        )
        .is_empty()
    );
}

fn static_upstream(spec: UpstreamSpec) -> Snapshot {
    Snapshot::from_resources([Resource::Upstream(Upstream {
        metadata: meta("echo", "u", &[]),
        spec: UpstreamSpec {
            static_: Some(StaticUpstream {
                hosts: vec![StaticHost {
                    addr: "127.0.0.1".into(),
                    port: 80,
                }],
                use_tls: None,
            }),
            ..spec
        },
        ..Default::default()
    })])
}

#[test]
fn clusters_carry_their_upstreams_outlier_detection_and_circuit_breakers() {
    let snapshot = static_upstream(UpstreamSpec {
        outlier_detection: Some(api::OutlierDetection {
            consecutive_5xx: Some(2),
            ..Default::default()
        }),
        circuit_breakers: Some(api::CircuitBreakers {
            max_requests: Some(9),
            ..Default::default()
        }),
        ..Default::default()
    });
    let explicit = ExplicitMembers::index(&snapshot);
    let c = cluster(&snapshot, &explicit, key("echo", "u"));
    assert_eq!(c.endpoints.len(), 1);
    assert_eq!(c.outlier_detection.consecutive_5xx, 2);
    assert_eq!(c.outlier_detection.base_ejection_time_ms, 30_000);
    assert_eq!(c.circuit_breakers.max_requests, 9);
    assert_eq!(c.circuit_breakers.max_connections, 1024);
    let missing = cluster(&snapshot, &explicit, key("echo", "missing"));
    assert!(missing.endpoints.is_empty() && missing.outlier_detection.is_default());
}

#[test]
fn a_wrong_outlier_setting_is_an_error_on_the_upstream_and_the_cluster_runs_the_defaults() {
    let snapshot = static_upstream(UpstreamSpec {
        outlier_detection: Some(api::OutlierDetection {
            max_ejection_percent: Some(200),
            ..Default::default()
        }),
        ..Default::default()
    });
    let mut reports = Reports::default();
    check_upstreams_and_endpoints(&snapshot, &mut reports);
    let (resource, report) = reports.iter().next().unwrap();
    assert_eq!(resource.to_string(), "Upstream echo.u");
    assert_eq!(
        report.reasons(),
        ["spec.outlierDetection.maxEjectionPercent: 200 is more than 100 (percent)"]
    );
    let c = cluster(
        &snapshot,
        &ExplicitMembers::index(&snapshot),
        key("echo", "u"),
    );
    assert!(c.outlier_detection.is_default());
}

fn upgrades(entries: Vec<api::ProtocolUpgradeConfig>) -> Result<compiled::RouteOptions, String> {
    let options = api::RouteOptions {
        upgrades: entries,
        ..Default::default()
    };
    let path = compiled::PathMatch::Prefix {
        value: "/".into(),
        case_sensitive: true,
    };
    compile_options(Some(&options), &path, "spec.routes[0]").map_err(|e| e.to_string())
}

fn websocket(enabled: Option<bool>) -> api::ProtocolUpgradeConfig {
    api::ProtocolUpgradeConfig {
        websocket: Some(api::ProtocolUpgradeSpec { enabled }),
    }
}

#[test]
fn websocket_upgrades_are_allowed_unless_a_route_turns_them_off() {
    assert!(!upgrades(vec![]).unwrap().websocket_disabled);
    assert!(!upgrades(vec![websocket(None)]).unwrap().websocket_disabled);
    assert!(
        !upgrades(vec![websocket(Some(true))])
            .unwrap()
            .websocket_disabled
    );
    assert!(
        upgrades(vec![websocket(Some(false))])
            .unwrap()
            .websocket_disabled
    );
    assert_eq!(
        upgrades(vec![api::ProtocolUpgradeConfig::default()]).unwrap_err(),
        "spec.routes[0].options.upgrades[0]: set websocket"
    );
    assert_eq!(
        upgrades(vec![websocket(None), websocket(Some(false))]).unwrap_err(),
        "spec.routes[0].options.upgrades[1].websocket: websocket is configured twice"
    );
    // A child that says nothing about upgrades keeps its parent's decision.
    let parent = api::RouteOptions {
        upgrades: vec![websocket(Some(false))],
        ..Default::default()
    };
    let child = api::RouteOptions {
        timeout: Some(api::Duration(std::time::Duration::from_secs(1))),
        ..Default::default()
    };
    let merged = merge_options(Some(&parent), Some(&child)).unwrap();
    assert_eq!(merged.upgrades, parent.upgrades);
}
