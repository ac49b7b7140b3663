//! Publishing a new configuration under load, and shutting down, without failing a request.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use http::StatusCode;
use lockgate_compiled::{Action, CompiledConfig};
use tokio::sync::{mpsc, oneshot};

fn to(text_cluster: usize, clusters: &[std::net::SocketAddr]) -> CompiledConfig {
    single(
        vec![route(
            &format!("gen{text_cluster}"),
            prefix("/"),
            to_cluster(text_cluster),
        )],
        vec![
            cluster("one", &clusters[..1]),
            cluster("two", &clusters[1..]),
        ],
    )
}

async fn bounded<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reloads_during_a_stream_of_requests_fail_none() {
    let backends = [echo("one").await, echo("two").await];
    let gateway = Arc::new(Gateway::start(to(0, &backends)).await);
    let done = Arc::new(AtomicBool::new(false));
    let publisher = {
        let gateway = gateway.clone();
        let done = done.clone();
        tokio::spawn(async move {
            let mut generation = 0usize;
            while !done.load(Ordering::SeqCst) {
                generation += 1;
                gateway.publish(to(generation % 2, &backends));
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            generation
        })
    };
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let gateway = gateway.clone();
            tokio::spawn(async move {
                let client = if i % 2 == 0 { client() } else { h2c_client() };
                // Over HTTP/2 a `host` must agree with `:authority` (the URL's).
                let host = if i % 2 == 0 {
                    "h".to_string()
                } else {
                    gateway.addr.to_string()
                };
                for _ in 0..250 {
                    let reply = get(&client, &gateway, &host, "/").await;
                    assert_eq!(reply.status, 200, "{}", reply.body);
                    assert!(
                        matches!(reply.body.as_str(), "one\n" | "two\n"),
                        "{}",
                        reply.body
                    );
                }
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let generations = publisher.await.unwrap();
    assert!(
        generations > 1,
        "the configuration changed during the requests"
    );

    // And each publication takes effect for the next request.
    let client = client();
    gateway.publish(to(0, &backends));
    assert_eq!(get(&client, &gateway, "h", "/").await.body, "one\n");
    gateway.publish(to(1, &backends));
    assert_eq!(get(&client, &gateway, "h", "/").await.body, "two\n");
    let stats = gateway.proxy.stats();
    assert_eq!(stats.listener.requests, 1002);
    assert_eq!(stats.listener.responses[1], 1002, "all 2xx across reloads");
}

/// A backend that tells when a request arrived and answers when released.
async fn held_backend() -> (std::net::SocketAddr, mpsc::Receiver<oneshot::Sender<()>>) {
    let (arrived_tx, arrived_rx) = mpsc::channel::<oneshot::Sender<()>>(4);
    let addr = backend(move |_req| {
        let arrived_tx = arrived_tx.clone();
        async move {
            let (release_tx, release_rx) = oneshot::channel();
            let _ = arrived_tx.send(release_tx).await;
            let _ = release_rx.await;
            full(StatusCode::OK, "old configuration")
        }
    })
    .await;
    (addr, arrived_rx)
}

#[tokio::test]
async fn a_request_in_flight_finishes_on_the_configuration_it_started_with() {
    let (held, mut arrived) = held_backend().await;
    let gateway = Arc::new(
        Gateway::start(single(
            vec![route("old", prefix("/"), to_cluster(0))],
            vec![cluster("held", &[held])],
        ))
        .await,
    );
    let client = client();
    let in_flight = {
        let gateway = gateway.clone();
        let client = client.clone();
        tokio::spawn(async move { get(&client, &gateway, "h", "/").await })
    };
    let release = bounded("the request reaching the backend", arrived.recv())
        .await
        .unwrap();
    // The new configuration has no cluster at all: the old request must not look at it.
    gateway.publish(single(
        vec![route(
            "new",
            prefix("/"),
            Action::DirectResponse {
                status: 200,
                body: "new configuration".into(),
            },
        )],
        vec![],
    ));
    assert_eq!(
        get(&client, &gateway, "h", "/").await.body,
        "new configuration"
    );
    release.send(()).unwrap();
    let reply = bounded("the old request", in_flight).await.unwrap();
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "old configuration")
    );
    let stats = gateway.proxy.stats();
    assert_eq!(
        stats.route("gloo-system.app", "old").unwrap().responses[1],
        1
    );
    assert_eq!(
        stats.route("gloo-system.app", "new").unwrap().responses[1],
        1
    );
}

#[tokio::test]
async fn shutdown_stops_accepting_and_drains_requests_in_flight() {
    let (held, mut arrived) = held_backend().await;
    let mut gateway = Gateway::start(single(
        vec![route("r", prefix("/"), to_cluster(0))],
        vec![cluster("held", &[held])],
    ))
    .await;
    let idle_client = client();
    // An idle keep-alive connection must not hold the shutdown up.
    let echo_addr = echo("x").await;
    let idle_gateway = Gateway::start(single(
        vec![route("r", prefix("/"), to_cluster(0))],
        vec![cluster("x", &[echo_addr])],
    ))
    .await;
    assert_eq!(get(&idle_client, &idle_gateway, "h", "/").await.status, 200);

    let addr = gateway.addr;
    let url = gateway.url("/");
    let in_flight = tokio::spawn(async move {
        let request = http::Request::get(url)
            .header("host", "h")
            .body(empty())
            .unwrap();
        send(&client(), request).await
    });
    let release = bounded("the request reaching the backend", arrived.recv())
        .await
        .unwrap();
    let mut serving = gateway.shut_down();
    // Serving goes on while a request is in flight. (Waiting longer only makes this stricter.)
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut serving)
            .await
            .is_err(),
        "serve returned with a request in flight"
    );
    // No new connections once shutting down.
    bounded("the listener closing", async {
        loop {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    release.send(()).unwrap();
    let reply = bounded("the request in flight", in_flight).await.unwrap();
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (200, "old configuration")
    );
    bounded("serve returning", serving).await.unwrap().unwrap();

    let mut idle_gateway = idle_gateway;
    bounded("an idle gateway shutting down", idle_gateway.shut_down())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn serving_on_threads_of_its_own_answers_and_drains() {
    let backend = echo("threaded").await;
    let config = single(
        vec![route("r", prefix("/"), to_cluster(0))],
        vec![cluster("b", &[backend])],
    );
    let proxy = lockgate_proxy::Proxy::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let serving = {
        let proxy = proxy.clone();
        tokio::spawn(async move {
            proxy
                .serve_on_threads(listener, 2, async {
                    let _ = stop_rx.await;
                })
                .await
        })
    };
    let clients: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(async move {
                let client = client();
                for _ in 0..25 {
                    let request = http::Request::get(format!("http://{addr}/"))
                        .header("host", "h")
                        .body(empty())
                        .unwrap();
                    let reply = send(&client, request).await;
                    assert_eq!((reply.status, reply.body.as_str()), (200, "threaded\n"));
                }
            })
        })
        .collect();
    for client in clients {
        bounded("the clients", client).await.unwrap();
    }
    assert_eq!(proxy.stats().listener.requests, 100);
    stop_tx.send(()).unwrap();
    bounded("the threads draining", serving)
        .await
        .unwrap()
        .unwrap();
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "no longer accepting"
    );
}
