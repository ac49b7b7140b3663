use super::*;
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
            kube: None,
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
        report.errors[0]
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
            static_: None,
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
