//! The limits of `lockgate_proxy::Limits` through a real listener, on paused time: silent,
//! half-open and idle connections are closed, and the listener stops accepting at its limit.

mod common;

use std::time::Duration;

use common::*;
use lockgate_compiled::{Action, CompiledConfig};
use lockgate_proxy::{EscapedSlashes, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

fn direct() -> CompiledConfig {
    let ok = Action::DirectResponse {
        status: 200,
        body: "ok".into(),
    };
    single(vec![route("ok", prefix("/"), ok)], vec![])
}

fn limits() -> Limits {
    Limits {
        first_byte_timeout: Duration::from_secs(10),
        header_read_timeout: Duration::from_secs(30),
        idle_timeout: Duration::from_secs(60),
        ..Limits::default()
    }
}

async fn gateway(limits: Limits) -> Gateway {
    Gateway::start_with(direct(), limits, EscapedSlashes::default()).await
}

/// Reads until the gateway closes the connection; what it sent before, if anything.
async fn until_closed(stream: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(3600), stream.read_to_end(&mut out)).await;
    assert!(read.is_ok(), "the gateway closed the connection");
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(start_paused = true)]
async fn silent_and_half_open_connections_are_closed() {
    let gateway = gateway(limits()).await;
    let mut silent = Vec::new();
    for _ in 0..20 {
        silent.push(TcpStream::connect(gateway.addr).await.unwrap());
    }
    // Half an HTTP/2 preface: hyper-util waits for the rest with no timer of its own.
    let mut half_preface = TcpStream::connect(gateway.addr).await.unwrap();
    half_preface.write_all(b"PRI * HTTP/2").await.unwrap();
    // Half an HTTP/1.1 head.
    let mut half_head = TcpStream::connect(gateway.addr).await.unwrap();
    half_head.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    for stream in &mut silent {
        assert_eq!(until_closed(stream).await, "");
    }
    until_closed(&mut half_preface).await;
    until_closed(&mut half_head).await;
}

#[tokio::test(start_paused = true)]
async fn an_idle_keep_alive_connection_is_closed_after_its_request() {
    let gateway = gateway(limits()).await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    let text = until_closed(&mut stream).await;
    assert_eq!(status_of(&text), 200, "{text}");
    assert_eq!(body_of(&text), "ok");
}

#[tokio::test(start_paused = true)]
async fn an_idle_h2_connection_is_closed() {
    let gateway = gateway(limits()).await;
    let stream = TcpStream::connect(gateway.addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .unwrap();
    let connection = tokio::spawn(connection);
    let request = http::Request::get("http://h/")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    drop(response);
    // The gateway's GOAWAY ends the client's connection.
    let ended = tokio::time::timeout(Duration::from_secs(3600), connection).await;
    assert!(ended.is_ok(), "the gateway closed the HTTP/2 connection");
}

#[tokio::test(start_paused = true)]
async fn at_the_connection_limit_the_listener_waits_for_a_free_slot() {
    let gateway = gateway(Limits {
        max_connections: 1,
        ..limits()
    })
    .await;
    let start = Instant::now();
    let mut holder = TcpStream::connect(gateway.addr).await.unwrap();
    // Let the gateway accept it before the second client comes.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut waiting = TcpStream::connect(gateway.addr).await.unwrap();
    waiting
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let text = until_closed(&mut waiting).await;
    assert_eq!(status_of(&text), 200, "{text}");
    assert!(
        start.elapsed() >= Duration::from_secs(10),
        "served only once the silent holder of the one slot was closed (paused time)"
    );
    assert_eq!(until_closed(&mut holder).await, "");
}

#[tokio::test(start_paused = true)]
async fn a_slow_head_on_a_kept_alive_connection_is_cut_at_the_header_timeout() {
    let gateway = gateway(limits()).await;
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 512];
    let read = stream.read(&mut first).await.unwrap();
    assert_eq!(status_of(&String::from_utf8_lossy(&first[..read])), 200);
    // Slowloris on the second request: part of a head, then nothing.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let started = Instant::now();
    stream.write_all(b"GET / HTTP/1.1\r\nHo").await.unwrap();
    assert_eq!(until_closed(&mut stream).await, "");
    // The header timeout of its first byte, not the idle timeout of the connection.
    assert_eq!(started.elapsed(), Duration::from_secs(30));
}
