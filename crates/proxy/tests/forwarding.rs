//! Forwarding: headers on the way, upstream failures, retries, weights, round robin, counters.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::*;
use http::StatusCode;
use lockgate_compiled::{Retries, RouteOptions};
use lockgate_proxy::RouteId;

async fn gateway_to(endpoints: &[std::net::SocketAddr], options: RouteOptions) -> Gateway {
    let mut r = route("app/routes[0]", prefix("/"), to_cluster(0));
    r.options = options;
    Gateway::start(single(vec![r], vec![cluster("backend", endpoints)])).await
}

#[tokio::test]
async fn hop_by_hop_headers_are_removed_and_forwarded_headers_set() {
    let backend = backend(|_req| async {
        let mut response = full(StatusCode::OK, "ok");
        let headers = response.headers_mut();
        headers.insert("connection", "x-internal".parse().unwrap());
        headers.insert("x-internal", "1".parse().unwrap());
        headers.insert("keep-alive", "timeout=5".parse().unwrap());
        headers.insert("x-kept", "1".parse().unwrap());
        response
    })
    .await;
    let inspector = inspector().await;
    let client = client();

    let gateway = gateway_to(&[inspector], RouteOptions::default()).await;
    let request = http::Request::get(gateway.url("/"))
        .header("host", "h")
        .header("connection", "x-hop")
        .header("x-hop", "1")
        .header("keep-alive", "timeout=5")
        .header("proxy-connection", "keep-alive")
        .header("te", "trailers")
        .header("x-forwarded-for", "203.0.113.9")
        .header("x-forwarded-proto", "https")
        .body(empty())
        .unwrap();
    let reply = send(&client, request).await;
    let received = reply.body.to_lowercase();
    for gone in [
        "x-hop",
        "keep-alive",
        "proxy-connection",
        "te:",
        "connection",
    ] {
        assert!(
            !received.contains(gone),
            "{gone} reached the upstream:\n{received}"
        );
    }
    assert!(
        received.contains("x-forwarded-for: 203.0.113.9, 127.0.0.1\n"),
        "{received}"
    );
    assert!(received.contains("x-forwarded-proto: http\n"), "{received}");
    let id_line = received
        .lines()
        .find(|l| l.starts_with("x-request-id: "))
        .unwrap();
    assert_eq!(id_line.len(), "x-request-id: ".len() + 36, "{id_line}");

    let request = http::Request::get(gateway.url("/"))
        .header("host", "h")
        .header("x-request-id", "abc")
        .body(empty())
        .unwrap();
    assert!(
        send(&client, request)
            .await
            .body
            .contains("x-request-id: abc\n")
    );

    let gateway = gateway_to(&[backend], RouteOptions::default()).await;
    let reply = get(&client, &gateway, "h", "/").await;
    assert_eq!(reply.status, 200);
    assert!(!reply.headers.contains_key("x-internal"));
    assert!(!reply.headers.contains_key("keep-alive"));
    assert_eq!(reply.headers["x-kept"], "1");
}

#[tokio::test]
async fn a_cluster_without_endpoints_answers_503_without_naming_it() {
    let gateway = gateway_to(&[], RouteOptions::default()).await;
    let reply = get(&client(), &gateway, "h", "/").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (503, "no healthy upstream")
    );
}

#[tokio::test]
async fn a_refused_connection_answers_502_without_naming_the_endpoint() {
    let closed = closed_port().await;
    let gateway = gateway_to(&[closed], RouteOptions::default()).await;
    let reply = get(&client(), &gateway, "h", "/").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (502, "upstream connect error: connection failure")
    );
    assert!(!reply.body.contains(&closed.port().to_string()));
    let stats = gateway.proxy.stats();
    let counts = stats.route("gloo-system.app", "app/routes[0]").unwrap();
    assert_eq!(
        (counts.requests, counts.errors, counts.server_errors()),
        (1, 1, 1)
    );
}

#[tokio::test]
async fn a_reset_before_the_response_answers_502() {
    // A backend that accepts, reads a little and hangs up without answering.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await;
            drop(stream);
        }
    });
    let gateway = gateway_to(&[addr], RouteOptions::default()).await;
    let reply = get(&client(), &gateway, "h", "/").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            502,
            "upstream connect error: connection reset before the response"
        )
    );
    assert!(!reply.body.contains(&addr.port().to_string()));
}

// Paused time: the timers fire when the runtime has nothing else to do, so the test waits
// on no real clock and the times it checks are exact.
#[tokio::test(start_paused = true)]
async fn a_slow_upstream_answers_504_at_the_route_timeout() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let rx = Arc::new(tokio::sync::Mutex::new(Some(rx)));
    let slow = backend(move |_req| {
        let rx = rx.clone();
        async move {
            // Never answers before the test is over.
            if let Some(rx) = rx.lock().await.take() {
                let _ = rx.await;
            }
            full(StatusCode::OK, "late")
        }
    })
    .await;
    let gateway = gateway_to(
        &[slow],
        RouteOptions {
            timeout_ms: Some(100),
            ..RouteOptions::default()
        },
    )
    .await;
    let started = tokio::time::Instant::now();
    let reply = get(&client(), &gateway, "h", "/").await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (504, "upstream request timeout")
    );
    // Paused time moves only when timers fire: exactly the route timeout passed.
    assert_eq!(started.elapsed(), Duration::from_millis(100));
    drop(tx);
}

/// Answers 503 to the first `failures` requests, then 200.
async fn flaky(failures: u32) -> (std::net::SocketAddr, Arc<AtomicU32>) {
    let seen = Arc::new(AtomicU32::new(0));
    let counter = seen.clone();
    let addr = backend(move |_req| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if n < failures {
                full(StatusCode::SERVICE_UNAVAILABLE, "not yet")
            } else {
                full(StatusCode::OK, "finally")
            }
        }
    })
    .await;
    (addr, seen)
}

fn retries(attempts: u32, on: &str) -> RouteOptions {
    RouteOptions {
        retries: Some(Retries {
            attempts,
            per_try_timeout_ms: None,
            retry_on: vec![on.into()],
        }),
        ..RouteOptions::default()
    }
}

#[tokio::test(start_paused = true)]
async fn retries_turn_5xx_into_success_for_requests_without_a_body() {
    let (addr, seen) = flaky(2).await;
    let gateway = gateway_to(&[addr], retries(2, "5xx")).await;
    let started = tokio::time::Instant::now();
    let reply = get(&client(), &gateway, "h", "/").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "finally"));
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    // Two back-offs with full jitter under Envoy's 25 ms base: at most 25 ms, then 50 ms.
    assert!(
        started.elapsed() <= Duration::from_millis(75),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn retries_give_up_after_their_attempts() {
    let (addr, seen) = flaky(10).await;
    let gateway = gateway_to(&[addr], retries(1, "gateway-error")).await;
    let reply = get(&client(), &gateway, "h", "/").await;
    assert_eq!(reply.status, 503);
    assert_eq!(seen.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn requests_with_a_body_are_not_retried() {
    let (addr, seen) = flaky(1).await;
    let gateway = gateway_to(&[addr], retries(3, "5xx")).await;
    let request = http::Request::post(gateway.url("/"))
        .header("host", "h")
        .body(full_body("payload"))
        .unwrap();
    let reply = send(&client(), request).await;
    assert_eq!(reply.status, 503);
    assert_eq!(seen.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn connect_failures_retry_on_the_next_endpoint() {
    let closed = closed_port().await;
    let good = echo("good").await;
    let gateway = gateway_to(&[closed, good], retries(1, "connect-failure")).await;
    let client = client();
    for _ in 0..4 {
        let reply = get(&client, &gateway, "h", "/").await;
        assert_eq!((reply.status, reply.body.as_str()), (200, "good\n"));
    }
}

fn full_body(text: &'static str) -> TestBody {
    use http_body_util::BodyExt;
    http_body_util::Full::new(bytes::Bytes::from_static(text.as_bytes()))
        .map_err(|never| match never {})
        .boxed()
}

#[tokio::test]
async fn endpoints_take_turns() {
    let a = echo("a").await;
    let b = echo("b").await;
    let c = echo("c").await;
    let gateway = gateway_to(&[a, b, c], RouteOptions::default()).await;
    let client = client();
    let mut seen = HashMap::new();
    for _ in 0..30 {
        let reply = get(&client, &gateway, "h", "/").await;
        *seen.entry(reply.body).or_insert(0) += 1;
    }
    // Round robin is exact per worker thread; a test runs on one thread.
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert!(seen.values().all(|&n| n == 10), "{seen:?}");
}

/// 2,000 requests split 30/70. The count for the first destination is binomial with mean 600
/// and standard deviation 20.5; the bounds are 10 deviations wide, so a correct proxy fails
/// this with probability below 1e-22.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weighted_destinations_split_traffic_by_weight() {
    let v1 = echo("v1").await;
    let v2 = echo("v2").await;
    let config = single(
        vec![route("canary", prefix("/"), weighted(&[(0, 30), (1, 70)]))],
        vec![cluster("v1", &[v1]), cluster("v2", &[v2])],
    );
    let gateway = Gateway::start(config).await;
    let client = client();
    let mut v1_count = 0;
    for _ in 0..2000 {
        let reply = get(&client, &gateway, "h", "/").await;
        assert_eq!(reply.status, 200);
        if reply.body == "v1\n" {
            v1_count += 1;
        }
    }
    assert!((395..=805).contains(&v1_count), "v1 got {v1_count} of 2000");
    let stats = gateway.proxy.stats();
    let v1_stats = &stats.clusters[&cluster("v1", &[]).key];
    let v2_stats = &stats.clusters[&cluster("v2", &[]).key];
    assert_eq!(v1_stats.requests, v1_count);
    assert_eq!(v1_stats.requests + v2_stats.requests, 2000);
    assert_eq!(v2_stats.responses[1], 2000 - v1_count);
    let route = &stats.routes[&RouteId {
        virtual_host: "gloo-system.app".into(),
        origin: "canary".into(),
    }];
    assert_eq!(
        (route.requests, route.responses[1], route.latency.count),
        (2000, 2000, 2000)
    );
    assert_eq!(stats.listener.requests, 2000);
}

#[tokio::test(start_paused = true)]
async fn per_try_timeout_retries_a_hung_attempt() {
    let seen = Arc::new(AtomicU32::new(0));
    let counter = seen.clone();
    let addr = backend(move |_req| {
        let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first {
                // Hangs far beyond the per-try timeout; the test ends before.
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            full(StatusCode::OK, "second try")
        }
    })
    .await;
    let mut options = retries(1, "5xx");
    if let Some(r) = options.retries.as_mut() {
        r.per_try_timeout_ms = Some(100);
    }
    let gateway = gateway_to(&[addr], options).await;
    let started = tokio::time::Instant::now();
    let reply = get(&client(), &gateway, "h", "/").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "second try"));
    // The per-try timeout, then one back-off of at most 25 ms.
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(100) && elapsed <= Duration::from_millis(125),
        "{elapsed:?}"
    );
}

/// A backend on its own accept loop that counts the connections it accepted.
async fn counting_backend(close_each: bool) -> (std::net::SocketAddr, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicU32::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_req| async move {
                    let mut response = full(StatusCode::OK, "counted");
                    if close_each {
                        response
                            .headers_mut()
                            .insert("connection", "close".parse().unwrap());
                    }
                    Ok::<_, std::convert::Infallible>(response)
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn upstream_connections_are_kept_alive_and_reused() {
    let (addr, accepted) = counting_backend(false).await;
    let gateway = gateway_to(&[addr], RouteOptions::default()).await;
    let client = client();
    for _ in 0..20 {
        let reply = get(&client, &gateway, "h", "/").await;
        assert_eq!((reply.status, reply.body.as_str()), (200, "counted"));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_upstream_closing_its_connections_fails_no_request() {
    let (addr, accepted) = counting_backend(true).await;
    let gateway = gateway_to(&[addr], RouteOptions::default()).await;
    let client = client();
    for _ in 0..20 {
        let reply = get(&client, &gateway, "h", "/").await;
        assert_eq!((reply.status, reply.body.as_str()), (200, "counted"));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_pooled_connection_closed_by_the_upstream_is_not_used() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // Answers one request per connection with keep-alive semantics, then hangs up silently,
    // as an upstream does when its idle timeout fires.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (closed_tx, mut closed_rx) = tokio::sync::mpsc::channel::<()>(16);
    tokio::spawn(async move {
        loop {
            let (mut stream, _) = listener.accept().await.unwrap();
            let closed_tx = closed_tx.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = stream.read(&mut buf).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&buf[..n]);
                }
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nidle")
                    .await
                    .unwrap();
                drop(stream);
                let _ = closed_tx.send(()).await;
            });
        }
    });
    let gateway = gateway_to(&[addr], RouteOptions::default()).await;
    let client = client();
    for _ in 0..10 {
        let reply = get(&client, &gateway, "h", "/").await;
        assert_eq!((reply.status, reply.body.as_str()), (200, "idle"));
        closed_rx.recv().await.unwrap();
    }
}
