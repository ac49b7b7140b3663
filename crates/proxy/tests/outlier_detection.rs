//! Passive outlier detection through the proxy: a failing endpoint stops getting traffic after
//! its consecutive failures, the last endpoint never does, and ejections survive a publish.

mod common;

use common::*;
use http::StatusCode;
use lockgate_proxy::UpstreamId;

fn backend_id() -> UpstreamId {
    UpstreamId {
        namespace: "test".into(),
        name: "backend".into(),
    }
}

async fn answering(status: StatusCode, text: &'static str) -> std::net::SocketAddr {
    backend(move |_req| async move { full(status, text) }).await
}

async fn statuses(gateway: &Gateway, count: usize) -> Vec<u16> {
    let client = client();
    let mut out = Vec::new();
    for _ in 0..count {
        out.push(get(&client, gateway, "h", "/").await.status);
    }
    out
}

fn config(endpoints: &[std::net::SocketAddr]) -> lockgate_compiled::CompiledConfig {
    single(
        vec![route("app/routes[0]", prefix("/"), to_cluster(0))],
        vec![cluster("backend", endpoints)],
    )
}

#[tokio::test]
async fn five_consecutive_5xx_eject_an_endpoint_and_the_rest_take_its_traffic() {
    let bad = answering(StatusCode::INTERNAL_SERVER_ERROR, "bad").await;
    let good = answering(StatusCode::OK, "good").await;
    let gateway = Gateway::start(config(&[bad, good])).await;
    let first = statuses(&gateway, 20).await;
    assert_eq!(first.iter().filter(|s| **s == 500).count(), 5, "{first:?}");
    assert!(first[10..].iter().all(|s| *s == 200), "{first:?}");
    let stats = gateway.proxy.stats();
    assert_eq!(stats.upstreams[&backend_id()].ejections, 1);
    // A new configuration with the same endpoints keeps the ejection.
    let mut next = config(&[bad, good]);
    std::sync::Arc::make_mut(&mut next.virtual_hosts[0].routes[0]).origin =
        "app/routes[0] (new)".into();
    gateway.publish(next);
    let after = statuses(&gateway, 10).await;
    assert!(after.iter().all(|s| *s == 200), "{after:?}");
    assert_eq!(gateway.proxy.stats().upstreams[&backend_id()].ejections, 1);
}

#[tokio::test]
async fn failures_to_connect_count_as_failures() {
    let closed = closed_port().await;
    let good = answering(StatusCode::OK, "good").await;
    let gateway = Gateway::start(config(&[closed, good])).await;
    let replies = statuses(&gateway, 20).await;
    assert_eq!(
        replies.iter().filter(|s| **s == 502).count(),
        5,
        "{replies:?}"
    );
    assert!(replies[10..].iter().all(|s| *s == 200), "{replies:?}");
}

#[tokio::test]
async fn the_last_endpoint_of_a_cluster_is_never_ejected() {
    let bad = answering(StatusCode::SERVICE_UNAVAILABLE, "bad").await;
    let gateway = Gateway::start(config(&[bad])).await;
    let replies = statuses(&gateway, 20).await;
    assert!(replies.iter().all(|s| *s == 503), "{replies:?}");
    assert_eq!(gateway.proxy.stats().upstreams[&backend_id()].ejections, 0);
}

#[tokio::test]
async fn an_upstream_can_turn_detection_off() {
    let bad = answering(StatusCode::INTERNAL_SERVER_ERROR, "bad").await;
    let good = answering(StatusCode::OK, "good").await;
    let mut off = config(&[bad, good]);
    off.clusters[0].outlier_detection.enforcing_consecutive_5xx = 0;
    let gateway = Gateway::start(off).await;
    let replies = statuses(&gateway, 20).await;
    assert_eq!(
        replies.iter().filter(|s| **s == 500).count(),
        10,
        "{replies:?}"
    );
    assert_eq!(gateway.proxy.stats().upstreams[&backend_id()].ejections, 0);
}
