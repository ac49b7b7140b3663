//! An upstream that closes kept-alive connections shortly after a response (without saying
//! `Connection: close`) must never fail an idempotent request: the request that lost the race
//! goes out again, once, on a fresh connection.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use common::*;
use http::Request;
use lockgate_compiled::RouteOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Answers the first request of each connection with keep-alive semantics, then closes the
/// connection `1..=max_delay_ms` later, whatever arrived meanwhile (left unanswered).
async fn closing_backend(max_delay_ms: u64) -> (std::net::SocketAddr, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicU32::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            // xorshift: a different delay per connection, no dependency needed.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let delay = Duration::from_millis(1 + seed % max_delay_ms);
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                if stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                    .await
                    .is_err()
                {
                    return;
                }
                tokio::time::sleep(delay).await;
                drop(stream);
            });
        }
    });
    (addr, accepted)
}

async fn gateway_to(addr: std::net::SocketAddr) -> Gateway {
    let mut r = route("app/routes[0]", prefix("/"), to_cluster(0));
    r.options = RouteOptions::default();
    Gateway::start(single(vec![r], vec![cluster("backend", &[addr])])).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_requests_survive_an_upstream_closing_after_each_response() {
    let (addr, accepted) = closing_backend(20).await;
    let gateway = gateway_to(addr).await;
    let client = client();
    let mut failures = Vec::new();
    let mut gap = 7u64;
    for i in 0..100u64 {
        let method = ["GET", "HEAD", "OPTIONS", "DELETE"][(i % 4) as usize];
        let request = Request::builder()
            .method(method)
            .uri(gateway.url("/"))
            .header("host", "h")
            .body(empty())
            .unwrap();
        let reply = send(&client, request).await;
        if reply.status != 200 {
            failures.push((i, method, reply.status, reply.body));
        }
        // Gaps of 0-24 ms land before, at and after the upstream's close.
        gap = (gap * 31 + 11) % 25;
        tokio::time::sleep(Duration::from_millis(gap)).await;
    }
    assert!(
        failures.is_empty(),
        "{} failed: {failures:?}",
        failures.len()
    );
    assert!(
        accepted.load(Ordering::SeqCst) >= 2,
        "the upstream's closes were exercised"
    );
    let counts = gateway
        .proxy
        .stats()
        .route("gloo-system.app", "app/routes[0]")
        .cloned()
        .unwrap();
    assert_eq!((counts.requests, counts.errors), (100, 0));
}
