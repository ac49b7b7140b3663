//! lockgate's own upstream HTTP/1.1 client against scripted upstreams: when a connection is
//! reused and when not, framings a real server rarely sends, limits, and early answers.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use futures_util::stream;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads one request head from `stream` (its body is not read). `false` at the close.
async fn read_head(stream: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // Bounded by what the gateway sends; a byte at a time so that nothing after the head is
    // consumed.
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

/// An upstream that answers every request head with `response`, then closes if `close`.
/// Counts the connections it accepted.
async fn scripted(response: &'static [u8], close: bool) -> (std::net::SocketAddr, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicU32::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                while read_head(&mut stream).await {
                    if stream.write_all(response).await.is_err() || close {
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

async fn gateway_to(addr: std::net::SocketAddr) -> Gateway {
    Gateway::start(single(
        vec![route("app/routes[0]", prefix("/"), to_cluster(0))],
        vec![cluster("backend", &[addr])],
    ))
    .await
}

/// Sends `method /` twice and returns both replies and how many connections the upstream saw.
async fn twice(response: &'static [u8], close: bool, method: Method) -> (Vec<Reply>, u32) {
    let (addr, accepted) = scripted(response, close).await;
    let gateway = gateway_to(addr).await;
    let client = client();
    let mut replies = Vec::new();
    for _ in 0..2 {
        let request = Request::builder()
            .method(method.clone())
            .uri(gateway.url("/"))
            .header("host", "h")
            .body(empty())
            .unwrap();
        replies.push(send(&client, request).await);
    }
    (replies, accepted.load(Ordering::SeqCst))
}

#[tokio::test]
async fn connections_are_reused_only_when_the_exchange_allows_it() {
    let cases: [(&str, &'static [u8], &str, u32); 9] = [
        ("keep-alive", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", 1),
        ("connection close", b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", "ok", 2),
        ("HTTP/1.0", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", 2),
        ("HTTP/1.0 keep-alive", b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", "ok", 1),
        ("chunked with trailers", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;a=b\r\no\r\n1\r\nk\r\n0\r\nx-t: 1\r\n\r\n", "ok", 1),
        ("extra bytes", b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n", "ok", 2),
        ("no content", b"HTTP/1.1 204 No Content\r\n\r\n", "", 1),
        ("interim first", b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", "ok", 1),
        ("zero length", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "", 1),
    ];
    for (name, response, body, connections) in cases {
        let (replies, accepted) = twice(response, false, Method::GET).await;
        for reply in &replies {
            assert_eq!(
                (reply.status, reply.body.as_str()),
                (
                    if body.is_empty() && name == "no content" {
                        204
                    } else {
                        200
                    },
                    body
                ),
                "{name}"
            );
        }
        assert_eq!(accepted, connections, "{name}");
    }
}

#[tokio::test]
async fn a_body_delimited_by_the_close_is_forwarded_whole() {
    let (replies, accepted) =
        twice(b"HTTP/1.1 200 OK\r\n\r\nuntil the close", true, Method::GET).await;
    for reply in replies {
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, "until the close")
        );
    }
    assert_eq!(accepted, 2);
}

#[tokio::test]
async fn a_head_request_reads_no_body_and_keeps_the_connection() {
    let (replies, accepted) = twice(
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
        false,
        Method::HEAD,
    )
    .await;
    for reply in replies {
        assert_eq!((reply.status, reply.body.as_str()), (200, ""));
        assert_eq!(reply.headers["content-length"], "10");
    }
    assert_eq!(accepted, 1);
}

#[tokio::test]
async fn unreadable_responses_answer_502() {
    let huge: &'static [u8] = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\nx-big: {}\r\n\r\n",
            "a".repeat(70 * 1024)
        )
        .into_bytes()
        .into_boxed_slice(),
    );
    let many: &'static [u8] = Box::leak({
        let mut head = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..129 {
            head.push_str(&format!("x-h{i}: v\r\n"));
        }
        head.push_str("\r\n");
        head.into_bytes().into_boxed_slice()
    });
    let cases: [(&str, &'static [u8]); 6] = [
        (
            "conflicting lengths",
            b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        ),
        (
            "invalid length",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\nab",
        ),
        ("not HTTP", b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
        ("bad header", b"HTTP/1.1 200 OK\r\nbad header: x\r\n\r\n"),
        ("head too large", huge),
        ("too many headers", many),
    ];
    for (name, response) in cases {
        let (addr, _) = scripted(response, true).await;
        let gateway = gateway_to(addr).await;
        let reply = get(&client(), &gateway, "h", "/").await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (
                502,
                "upstream connect error: connection reset before the response"
            ),
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_body_cut_short_fails_the_client_response_instead_of_looking_complete() {
    let (addr, _) = scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", true).await;
    let gateway = gateway_to(addr).await;
    let request = Request::get(gateway.url("/"))
        .header("host", "h")
        .body(empty())
        .unwrap();
    // Depending on when the server notices, the head may or may not have gone out: either way
    // the exchange fails for the client.
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        let response = client().request(request).await.map_err(|_| ())?;
        assert_eq!(response.status(), StatusCode::OK);
        response
            .into_body()
            .collect()
            .await
            .map(|_| ())
            .map_err(|_| ())
    })
    .await
    .expect("the exchange ends");
    assert!(outcome.is_err());
}

/// An upstream that answers as soon as it has the head, without reading the body, and keeps
/// the connection open.
#[tokio::test]
async fn an_answer_before_the_upload_ends_reaches_the_client_and_the_connection_is_not_reused() {
    let (addr, accepted) = scripted(
        b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig",
        false,
    )
    .await;
    let gateway = gateway_to(addr).await;
    let client = client();
    let (chunk_tx, mut chunk_rx) = tokio::sync::mpsc::channel::<Bytes>(1);
    let body = StreamBody::new(stream::poll_fn(move |cx| {
        chunk_rx
            .poll_recv(cx)
            .map(|c| c.map(|c| Ok::<_, std::convert::Infallible>(Frame::data(c))))
    }))
    .map_err(|never| -> Box<dyn std::error::Error + Send + Sync> { match never {} })
    .boxed();
    chunk_tx
        .send(Bytes::from_static(b"first part"))
        .await
        .unwrap();
    let request = Request::post(gateway.url("/upload"))
        .header("host", "h")
        .body(body)
        .unwrap();
    // The upload never ends while the answer is awaited: the answer must not wait for it.
    let reply = tokio::time::timeout(Duration::from_secs(10), send(&client, request))
        .await
        .expect("the early answer");
    assert_eq!((reply.status, reply.body.as_str()), (413, "big"));
    drop(chunk_tx);
    let reply = get(&client, &gateway, "h", "/").await;
    assert_eq!(reply.status, 413);
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}
