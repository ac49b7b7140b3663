//! Circuit breakers per upstream: beyond a limit a request gets 503 with a short body that names
//! no address, and the overflow is counted.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use common::*;
use http::StatusCode;
use lockgate_compiled::{CircuitBreakers, Retries, RouteOptions};
use lockgate_proxy::{UpstreamCounts, UpstreamId};
use tokio::sync::{Semaphore, mpsc};

/// A backend that tells when a request arrived and answers only when `gate` lets it.
async fn gated() -> (
    std::net::SocketAddr,
    Arc<Semaphore>,
    mpsc::UnboundedReceiver<()>,
) {
    let gate = Arc::new(Semaphore::new(0));
    let (arrived_tx, arrived) = mpsc::unbounded_channel();
    let held = gate.clone();
    let addr = backend(move |_req| {
        let gate = held.clone();
        let arrived = arrived_tx.clone();
        async move {
            let _ = arrived.send(());
            if let Ok(permit) = gate.acquire().await {
                permit.forget();
            }
            full(StatusCode::OK, "done")
        }
    })
    .await;
    (addr, gate, arrived)
}

fn config(
    endpoint: std::net::SocketAddr,
    limits: CircuitBreakers,
    options: RouteOptions,
) -> lockgate_compiled::CompiledConfig {
    let mut c = cluster("backend", &[endpoint]);
    c.circuit_breakers = limits;
    let mut r = route("app/routes[0]", prefix("/"), to_cluster(0));
    r.options = options;
    single(vec![r], vec![c])
}

fn counts(gateway: &Gateway) -> UpstreamCounts {
    let id = UpstreamId {
        namespace: "test".into(),
        name: "backend".into(),
    };
    gateway.proxy.stats().upstreams[&id].clone()
}

/// Starts one request that waits in the backend; returns once the backend has it.
async fn hold_one(
    gateway: &Gateway,
    arrived: &mut mpsc::UnboundedReceiver<()>,
) -> tokio::task::JoinHandle<Reply> {
    let url = gateway.url("/held");
    let held = tokio::spawn(async move {
        let request = http::Request::get(url)
            .header("host", "h")
            .body(empty())
            .unwrap();
        send(&client(), request).await
    });
    arrived.recv().await.unwrap();
    held
}

#[tokio::test]
async fn requests_beyond_max_requests_get_503_until_one_finishes() {
    let (addr, gate, mut arrived) = gated().await;
    let limits = CircuitBreakers {
        max_requests: 1,
        ..CircuitBreakers::default()
    };
    let gateway = Gateway::start(config(addr, limits, RouteOptions::default())).await;
    let held = hold_one(&gateway, &mut arrived).await;
    let refused = get(&client(), &gateway, "h", "/").await;
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (503, "upstream overflow: maxRequests reached")
    );
    assert!(!refused.body.contains("127.0.0.1"));
    gate.add_permits(1);
    assert_eq!(held.await.unwrap().status, 200);
    // The place was given back with the end of the response body.
    gate.add_permits(1);
    assert_eq!(get(&client(), &gateway, "h", "/").await.status, 200);
    let counts = counts(&gateway);
    assert_eq!((counts.overflow_requests, counts.requests), (1, 0));
}

#[tokio::test]
async fn a_new_connection_beyond_max_connections_gets_503() {
    let (addr, gate, mut arrived) = gated().await;
    let limits = CircuitBreakers {
        max_connections: 1,
        ..CircuitBreakers::default()
    };
    let gateway = Gateway::start(config(addr, limits, RouteOptions::default())).await;
    let held = hold_one(&gateway, &mut arrived).await;
    let refused = get(&client(), &gateway, "h", "/").await;
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (503, "upstream overflow: maxConnections reached")
    );
    gate.add_permits(2);
    assert_eq!(held.await.unwrap().status, 200);
    // The one connection, idle again, serves the next request.
    assert_eq!(get(&client(), &gateway, "h", "/").await.status, 200);
    let counts = counts(&gateway);
    assert_eq!((counts.overflow_connections, counts.connections), (1, 1));
}

#[tokio::test]
async fn zero_pending_requests_refuses_every_new_connection() {
    let addr = echo("hi").await;
    let limits = CircuitBreakers {
        max_pending_requests: 0,
        ..CircuitBreakers::default()
    };
    let gateway = Gateway::start(config(addr, limits, RouteOptions::default())).await;
    let refused = get(&client(), &gateway, "h", "/").await;
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (503, "upstream overflow: maxPendingRequests reached")
    );
    assert_eq!(counts(&gateway).overflow_pending_requests, 1);
}

#[tokio::test]
async fn retries_beyond_max_retries_are_not_made() {
    let tries = Arc::new(AtomicU32::new(0));
    let seen = tries.clone();
    let addr = backend(move |_req| {
        let n = seen.fetch_add(1, Ordering::SeqCst);
        async move {
            if n == 0 {
                full(StatusCode::INTERNAL_SERVER_ERROR, "first")
            } else {
                full(StatusCode::OK, "again")
            }
        }
    })
    .await;
    let options = RouteOptions {
        retries: Some(Retries {
            attempts: 2,
            per_try_timeout_ms: None,
            retry_on: vec!["5xx".into()],
        }),
        ..RouteOptions::default()
    };
    let limits = CircuitBreakers {
        max_retries: 0,
        ..CircuitBreakers::default()
    };
    let gateway = Gateway::start(config(addr, limits, options)).await;
    let reply = get(&client(), &gateway, "h", "/").await;
    assert_eq!((reply.status, reply.body.as_str()), (500, "first"));
    assert_eq!(tries.load(Ordering::SeqCst), 1);
    assert_eq!(counts(&gateway).overflow_retries, 1);
}
