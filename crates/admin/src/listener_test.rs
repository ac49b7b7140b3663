use std::time::Duration;

use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::*;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A router with `/healthz`, served within `max` connections.
async fn start(max: usize) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = Router::new().route("/healthz", get(|| async { "ok" }));
    let limits = AdminLimits {
        max_connections: max,
        header_timeout: TIMEOUT,
    };
    tokio::spawn(serve_router(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    address
}

/// Reads until the server closes the connection (bounded by the paused clock's auto-advance).
async fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let read = tokio::time::timeout(TIMEOUT * 3, stream.read_to_end(&mut all)).await;
    assert!(read.is_ok(), "the server closed the connection");
    all
}

async fn healthz(address: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    String::from_utf8(read_to_close(&mut stream).await).unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_silent_connection_is_closed_after_the_header_timeout() {
    let address = start(4).await;
    let started = Instant::now();
    let mut silent = TcpStream::connect(address).await.unwrap();
    let answer = read_to_close(&mut silent).await;
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 408"),
        "{answer:?}"
    );
    let waited = started.elapsed();
    assert!(waited >= TIMEOUT && waited < TIMEOUT * 2, "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn a_trickled_head_and_an_idle_keep_alive_are_closed_too() {
    let address = start(4).await;
    let started = Instant::now();
    let mut trickle = TcpStream::connect(address).await.unwrap();
    trickle.write_all(b"GET /hea").await.unwrap();
    read_to_close(&mut trickle).await;
    assert!(started.elapsed() >= TIMEOUT);

    let mut kept = TcpStream::connect(address).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let idle = Instant::now();
    read_to_close(&mut kept).await;
    assert!(idle.elapsed() >= TIMEOUT, "{:?}", idle.elapsed());
}

#[tokio::test(start_paused = true)]
async fn a_flood_of_silent_connections_cannot_lock_out_a_request() {
    let address = start(3).await;
    let started = Instant::now();
    let mut flood = Vec::new();
    for _ in 0..10 {
        flood.push(TcpStream::connect(address).await.unwrap());
    }
    // Each new silent connection pushed out an older one; a real request still gets through,
    // long before any header timeout.
    let answer = healthz(address).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("ok"), "{answer}");
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    // The oldest silent connections were closed to make room.
    let mut oldest = flood.remove(0);
    let mut byte = [0u8; 1];
    let read = tokio::time::timeout(TIMEOUT / 2, oldest.read(&mut byte)).await;
    assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
}

#[tokio::test(start_paused = true)]
async fn a_connection_in_a_request_is_never_the_one_closed() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (release, released) = tokio::sync::watch::channel(false);
    let router = Router::new()
        .route(
            "/slow",
            get(move || {
                let mut released = released.clone();
                async move {
                    let _ = released.wait_for(|r| *r).await;
                    "slow"
                }
            }),
        )
        .route("/healthz", get(|| async { "ok" }));
    let limits = AdminLimits {
        max_connections: 2,
        header_timeout: TIMEOUT * 100,
    };
    tokio::spawn(serve_router(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    let mut slow = TcpStream::connect(address).await.unwrap();
    slow.write_all(b"GET /slow HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    // Two more: the second pushes out the first silent one, not the slow request.
    let _silent = TcpStream::connect(address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let answer = healthz(address).await;
    assert!(answer.ends_with("ok"), "{answer}");
    release.send(true).unwrap();
    let answer = String::from_utf8(read_to_close(&mut slow).await).unwrap();
    assert!(answer.ends_with("slow"), "{answer}");
}

#[tokio::test]
async fn shutdown_finishes_and_returns() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = Router::new().route("/healthz", get(|| async { "ok" }));
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve_router(
        listener,
        router,
        AdminLimits::default(),
        async move {
            let _ = stopped.await;
        },
    ));
    assert!(healthz(address).await.ends_with("ok"));
    let _idle = TcpStream::connect(address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    stop.send(()).unwrap();
    let done = tokio::time::timeout(Duration::from_secs(30), server).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "{done:?}");
}
