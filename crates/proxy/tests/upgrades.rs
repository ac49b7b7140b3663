//! Upgrades: WebSocket is tunnelled where the route allows it (by default), nothing else ever
//! is, and only forward routes reach the upgrade path.

mod common;

use common::*;
use lockgate_compiled::{Action, RouteOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A backend that switches to a byte-echo protocol on any `Upgrade`, and otherwise answers
/// 400 "no upgrade".
async fn upgrading_backend() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    |mut req: http::Request<hyper::body::Incoming>| async move {
                        let protocol = req.headers().get("upgrade").cloned();
                        let asked = req
                            .headers()
                            .get("connection")
                            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"upgrade"));
                        let Some(protocol) = protocol.filter(|_| asked) else {
                            return Ok::<_, std::convert::Infallible>(full(
                                http::StatusCode::BAD_REQUEST,
                                "no upgrade",
                            ));
                        };
                        let on_upgrade = hyper::upgrade::on(&mut req);
                        tokio::spawn(async move {
                            let Ok(upgraded) = on_upgrade.await else {
                                return;
                            };
                            let mut io = hyper_util::rt::TokioIo::new(upgraded);
                            let (mut reader, mut writer) = tokio::io::split(&mut io);
                            let _ = tokio::io::copy(&mut reader, &mut writer).await;
                        });
                        let mut response = full(http::StatusCode::SWITCHING_PROTOCOLS, "");
                        let headers = response.headers_mut();
                        headers.insert("connection", "upgrade".parse().unwrap());
                        headers.insert("upgrade", protocol);
                        Ok(response)
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

async fn gateway(action: Action, options: RouteOptions, backend: std::net::SocketAddr) -> Gateway {
    let mut r = route("app/routes[0]", prefix("/"), action);
    r.options = options;
    Gateway::start(single(vec![r], vec![cluster("backend", &[backend])])).await
}

/// Sends an upgrade request for `protocol` and returns the stream and the response head.
async fn ask(gateway: &Gateway, protocol: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(gateway.addr).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: {protocol}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        let mut byte = [0u8; 1];
        assert_eq!(
            stream.read(&mut byte).await.unwrap(),
            1,
            "closed in the head: {head:?}"
        );
        head.push(byte[0]);
    }
    (stream, String::from_utf8(head).unwrap().to_lowercase())
}

async fn body_of(stream: &mut TcpStream, head: &str) -> String {
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.unwrap();
    String::from_utf8(body).unwrap()
}

#[tokio::test]
async fn websocket_upgrades_are_tunnelled_by_default() {
    let backend = upgrading_backend().await;
    let gateway = gateway(to_cluster(0), RouteOptions::default(), backend).await;
    let (mut stream, head) = ask(&gateway, "websocket").await;
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket\r\n"), "{head}");
    for message in [&b"ping"[..], b"second message"] {
        stream.write_all(message).await.unwrap();
        let mut echoed = vec![0u8; message.len()];
        stream.read_exact(&mut echoed).await.unwrap();
        assert_eq!(echoed, message);
    }
}

#[tokio::test]
async fn a_route_that_turns_websocket_off_forwards_the_request_as_plain_http() {
    let backend = upgrading_backend().await;
    let options = RouteOptions {
        websocket_disabled: true,
        ..RouteOptions::default()
    };
    let gateway = gateway(to_cluster(0), options, backend).await;
    let (mut stream, head) = ask(&gateway, "websocket").await;
    assert!(head.starts_with("http/1.1 400"), "{head}");
    assert_eq!(body_of(&mut stream, &head).await, "no upgrade");
}

#[tokio::test]
async fn other_upgrade_protocols_are_never_tunnelled() {
    let backend = upgrading_backend().await;
    let gateway = gateway(to_cluster(0), RouteOptions::default(), backend).await;
    for protocol in ["echo", "h2c", "websocket, echo", "tls/1.0"] {
        let (mut stream, head) = ask(&gateway, protocol).await;
        assert!(head.starts_with("http/1.1 400"), "{protocol}: {head}");
        assert_eq!(
            body_of(&mut stream, &head).await,
            "no upgrade",
            "{protocol}"
        );
    }
}

#[tokio::test]
async fn direct_responses_and_redirects_never_open_a_tunnel() {
    let backend = upgrading_backend().await;
    let direct = Action::DirectResponse {
        status: 200,
        body: "direct".into(),
    };
    let gateway = gateway(direct, RouteOptions::default(), backend).await;
    let (mut stream, head) = ask(&gateway, "websocket").await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("upgrade"), "{head}");
    assert_eq!(body_of(&mut stream, &head).await, "direct");
    // The connection is still plain HTTP: a second request gets an ordinary answer.
    stream
        .write_all(b"GET /again HTTP/1.1\r\nHost: h\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).await.unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");

    let redirect = Action::Redirect(lockgate_compiled::Redirect {
        host: Some("elsewhere.example".into()),
        path: None,
        prefix_rewrite: None,
        port: None,
        status: 302,
        https: false,
        strip_query: false,
    });
    let gateway = self::gateway(redirect, RouteOptions::default(), backend).await;
    let (_, head) = ask(&gateway, "websocket").await;
    assert!(head.starts_with("http/1.1 302"), "{head}");
    assert!(
        head.contains("location: http://elsewhere.example/ws"),
        "{head}"
    );
}

#[tokio::test]
async fn an_upstream_switching_protocols_unasked_gets_a_502_not_a_tunnel() {
    // Answers every request with 101, asked or not.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..10 {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf).await;
                let _ = stream
                    .write_all(b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
                    .await;
                let _ = stream.read(&mut buf).await;
            });
        }
    });
    let gateway = gateway(to_cluster(0), RouteOptions::default(), addr).await;
    let (_, head) = ask(&gateway, "echo").await;
    assert!(head.starts_with("http/1.1 502"), "{head}");
    let reply = get(&client(), &gateway, "h", "/plain").await;
    assert_eq!(reply.status, 502);
}
