use std::sync::Arc;

use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use super::*;
use crate::upstream::{Limit, UpstreamState};

/// A connection to an upstream that reads the request head, then writes `script` and closes.
async fn scripted(script: &'static [u8]) -> (Conn, tokio::task::JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let upstream = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 256];
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let _ = stream.write_all(script).await;
        head
    });
    let stream = TcpStream::connect(addr).await.unwrap();
    let permit = Arc::new(UpstreamState::new())
        .acquire(Limit::Connections, u32::MAX)
        .unwrap();
    (Conn::new(stream, permit), upstream)
}

/// Whether the idle `conn` is found unusable within a bounded number of reactor turns (a close
/// or a byte reaches the reactor after some turns).
async fn becomes_unusable(conn: &Conn) -> bool {
    for _ in 0..1000 {
        if !conn.is_usable_idle() {
            return true;
        }
        tokio::task::yield_now().await;
        let _ = conn.stream.readable().await;
    }
    false
}

const HEAD: &[u8] = b"GET / HTTP/1.1\r\nhost: h\r\n\r\n";

async fn exchange_on(conn: &mut Conn) -> Result<Exchanged, Failed> {
    exchange(
        conn,
        HEAD,
        BodyFraming::AsIs,
        &mut RequestBody::Empty,
        false,
    )
    .await
}

#[tokio::test]
async fn the_head_goes_out_in_one_piece_and_the_response_head_comes_back() {
    let (mut conn, upstream) =
        scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello").await;
    let exchanged = exchange_on(&mut conn).await.unwrap();
    assert_eq!(upstream.await.unwrap(), HEAD);
    assert_eq!(exchanged.head.status, 200);
    assert_eq!(exchanged.head.headers["x-a"], "1");
    assert!(exchanged.reusable);
    let endpoint = "127.0.0.1:9".parse().unwrap();
    let decoder = framing::Decoder::new(exchanged.head.framing);
    // Not reusable here so that the test's thread pool stays empty.
    let body = Body::new(conn, decoder, false, endpoint);
    let data = body.collect().await.unwrap().to_bytes();
    assert_eq!(&data[..], b"hello");
}

#[tokio::test]
async fn a_close_before_any_response_byte_is_told_apart() {
    let (mut conn, _upstream) = scripted(b"").await;
    let failed = exchange_on(&mut conn).await.err().unwrap();
    assert!(failed.before_response);
    assert!(!failed.unsent);
    assert!(matches!(failed.error, Error::ClosedBeforeResponse));

    let (mut conn, _upstream) = scripted(b"HTTP/1.1 200 OK\r\n").await;
    let failed = exchange_on(&mut conn).await.err().unwrap();
    assert!(!failed.before_response);
    assert!(matches!(failed.error, Error::UnexpectedEof));
}

#[tokio::test]
async fn a_response_that_says_close_is_not_reusable() {
    let (mut conn, _upstream) =
        scripted(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n").await;
    assert!(!exchange_on(&mut conn).await.unwrap().reusable);
}

#[tokio::test]
async fn an_idle_connection_closed_by_its_upstream_is_seen_closed() {
    let (mut conn, upstream) = scripted(b"HTTP/1.1 204 No Content\r\n\r\n").await;
    assert!(exchange_on(&mut conn).await.unwrap().reusable);
    // The upstream task ends and drops its socket.
    upstream.await.unwrap();
    // The close reaches the reactor after some turns; bounded.
    let seen = becomes_unusable(&conn).await;
    assert!(seen);
}

#[tokio::test]
async fn a_settled_idle_connection_still_shows_its_upstreams_close() {
    let (mut conn, upstream) = scripted(b"HTTP/1.1 204 No Content\r\n\r\n").await;
    assert!(exchange_on(&mut conn).await.unwrap().reusable);
    // What the pool does when the connection goes idle: the stale readiness is dropped.
    conn.settle_idle();
    upstream.await.unwrap();
    let seen = becomes_unusable(&conn).await;
    assert!(seen, "a close after settling must still be seen");
}

#[tokio::test]
async fn a_settled_idle_connection_that_stays_open_is_usable_and_unasked_bytes_show() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (send_late, late) = tokio::sync::oneshot::channel::<()>();
    let upstream = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 256];
        let _ = stream.read(&mut buf).await;
        stream
            .write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .await
            .unwrap();
        let _ = late.await;
        // Bytes nobody asked for, on an idle connection.
        stream.write_all(b"HTTP/1.1 200 OK\r\n").await.unwrap();
        stream
    });
    let stream = TcpStream::connect(addr).await.unwrap();
    let permit = Arc::new(UpstreamState::new())
        .acquire(Limit::Connections, u32::MAX)
        .unwrap();
    let mut conn = Conn::new(stream, permit);
    assert!(exchange_on(&mut conn).await.unwrap().reusable);
    conn.settle_idle();
    assert!(conn.is_usable_idle(), "nothing came after the response");
    send_late.send(()).unwrap();
    let seen = becomes_unusable(&conn).await;
    assert!(seen, "unasked bytes after settling must still be seen");
    drop(upstream);
}
