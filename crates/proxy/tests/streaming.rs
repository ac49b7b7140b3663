//! Bodies stream through the proxy both ways and are never held whole: the proxy forwards the
//! first chunk before the rest exists, and a reader that stops reading stops the writer once the
//! buffers along the way are full, far short of the body's size.

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use futures_util::stream;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use lockgate_compiled::RouteOptions;
use tokio::sync::{Notify, mpsc};

const CHUNK: usize = 1 << 20;
const CHUNKS: u64 = 64;
const TOTAL: u64 = CHUNKS * CHUNK as u64;
/// What the buffers between writer and reader (two sockets each way, the proxy's and the
/// client's read buffers) may hold, about 7 MiB here, at most half the body; a proxy that
/// buffered the body would exceed it.
const IN_FLIGHT_BOUND: u64 = 32 << 20;

/// How long to give a writer to run ahead before counting what it got rid of. Waiting longer
/// only makes the check stricter; it never makes a streaming proxy fail.
const RUN_AHEAD: Duration = Duration::from_millis(500);

/// Bounds a step that should complete, so a regression fails instead of hanging.
async fn bounded<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), future)
        .await
        .unwrap_or_else(|_| panic!("{what} did not happen"))
}

fn small_buffered_listener() -> tokio::net::TcpListener {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(64 << 10).unwrap();
    socket.set_recv_buffer_size(64 << 10).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    socket.listen(64).unwrap()
}

fn small_buffered_client() -> HttpClient {
    let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
    connector.set_recv_buffer_size(Some(64 << 10));
    connector.set_send_buffer_size(Some(64 << 10));
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(connector)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_response_streams_and_a_slow_reader_holds_back_the_backend() {
    let first_chunk_read = Arc::new(Notify::new());
    let produced = Arc::new(AtomicU64::new(0));
    let listener = small_buffered_listener();
    let backend_addr = listener.local_addr().unwrap();
    {
        let first_chunk_read = first_chunk_read.clone();
        let produced = produced.clone();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper::service::service_fn(move |_req| {
                let first_chunk_read = first_chunk_read.clone();
                let produced = produced.clone();
                async move {
                    let chunk = Bytes::from(vec![7u8; CHUNK]);
                    let chunks = stream::unfold(0u64, move |sent| {
                        let first_chunk_read = first_chunk_read.clone();
                        let produced = produced.clone();
                        let chunk = chunk.clone();
                        async move {
                            if sent == CHUNKS {
                                return None;
                            }
                            if sent == 1 {
                                // The rest exists only once the client has read the first.
                                first_chunk_read.notified().await;
                            }
                            produced.fetch_add(CHUNK as u64, Ordering::SeqCst);
                            Some((Ok::<_, Infallible>(Frame::data(chunk)), sent + 1))
                        }
                    });
                    let body = StreamBody::new(chunks)
                        .map_err(|never| -> Box<dyn std::error::Error + Send + Sync> {
                            match never {}
                        })
                        .boxed();
                    Ok::<_, Infallible>(Response::new(body))
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
    let gateway = Gateway::start(single(
        vec![route("big", prefix("/"), to_cluster(0))],
        vec![cluster("big", &[backend_addr])],
    ))
    .await;
    let client = small_buffered_client();
    let request = http::Request::get(gateway.url("/download"))
        .header("host", "h")
        .body(empty())
        .unwrap();
    let response = bounded("response headers", client.request(request))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = bounded("the first chunk", body.frame())
        .await
        .unwrap()
        .unwrap();
    let mut received = first.into_data().unwrap().len() as u64;
    assert!(received > 0);
    first_chunk_read.notify_one();

    // Not reading: the backend may only fill the buffers on the way.
    tokio::time::sleep(RUN_AHEAD).await;
    let ahead = produced.load(Ordering::SeqCst) - received;
    eprintln!("download: the backend got {ahead} bytes ahead");
    assert!(
        ahead < IN_FLIGHT_BOUND,
        "the backend got {ahead} bytes ahead of the reader"
    );

    while let Some(frame) = bounded("the next chunk", body.frame()).await {
        received += frame.unwrap().into_data().map_or(0, |d| d.len() as u64);
    }
    assert_eq!(received, TOTAL);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_upload_streams_and_a_slow_backend_holds_back_the_client() {
    let (first_chunk_tx, mut first_chunk_rx) = mpsc::channel::<()>(1);
    let go_on = Arc::new(Notify::new());
    let listener = small_buffered_listener();
    let backend_addr = listener.local_addr().unwrap();
    {
        let go_on = go_on.clone();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let service =
                hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let first_chunk_tx = first_chunk_tx.clone();
                    let go_on = go_on.clone();
                    async move {
                        let mut body = req.into_body();
                        let mut received = 0u64;
                        while let Some(frame) = body.frame().await {
                            let first = received == 0;
                            received += frame.unwrap().into_data().map_or(0, |d| d.len() as u64);
                            if first {
                                let _ = first_chunk_tx.send(()).await;
                                go_on.notified().await;
                            }
                        }
                        Ok::<_, Infallible>(full(StatusCode::OK, format!("received {received}")))
                    }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
    let gateway = Gateway::start(single(
        vec![route("up", prefix("/"), to_cluster(0))],
        vec![cluster("up", &[backend_addr])],
    ))
    .await;

    let sent = Arc::new(AtomicU64::new(0));
    let (chunk_tx, mut chunk_rx) = mpsc::channel::<Bytes>(1);
    let body = StreamBody::new(stream::poll_fn(move |cx| {
        chunk_rx
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok::<_, Infallible>(Frame::data(c))))
    }))
    .map_err(|never| -> Box<dyn std::error::Error + Send + Sync> { match never {} })
    .boxed();
    let request = http::Request::post(gateway.url("/upload"))
        .header("host", "h")
        .body(body)
        .unwrap();
    let client = small_buffered_client();
    let response = tokio::spawn(async move { send(&client, request).await });

    let producer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let chunk = Bytes::from(vec![9u8; CHUNK]);
            for _ in 0..CHUNKS {
                if chunk_tx.send(chunk.clone()).await.is_err() {
                    return;
                }
                sent.fetch_add(CHUNK as u64, Ordering::SeqCst);
            }
        })
    };
    bounded("the backend reading the first chunk", first_chunk_rx.recv()).await;
    // The backend stopped reading: the client may only fill the buffers on the way.
    tokio::time::sleep(RUN_AHEAD).await;
    let ahead = sent.load(Ordering::SeqCst);
    eprintln!("upload: the client got {ahead} bytes ahead");
    assert!(
        ahead < IN_FLIGHT_BOUND,
        "the client got {ahead} bytes ahead of the backend"
    );
    go_on.notify_one();

    let reply = bounded("the response", response).await.unwrap();
    assert_eq!(
        (reply.status, reply.body),
        (200, format!("received {TOTAL}"))
    );
    producer.await.unwrap();
}

// Paused time: the route timeout fires as soon as nothing else can happen, and exactly.
#[tokio::test(start_paused = true)]
async fn streamed_responses_are_cut_at_the_route_timeout() {
    let (_hold, held) = mpsc::channel::<Bytes>(1);
    let held = Arc::new(tokio::sync::Mutex::new(Some(held)));
    let backend = backend(move |_req| {
        let held = held.clone();
        async move {
            let mut rx = held.lock().await.take().unwrap();
            let first = stream::once(async {
                Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"partial")))
            });
            let rest = stream::poll_fn(move |cx| {
                rx.poll_recv(cx)
                    .map(|c| c.map(|c| Ok::<_, Infallible>(Frame::data(c))))
            });
            let body = StreamBody::new(futures_util::StreamExt::chain(first, rest))
                .map_err(|never| -> Box<dyn std::error::Error + Send + Sync> { match never {} })
                .boxed();
            Response::new(body)
        }
    })
    .await;
    let mut r = route("r", prefix("/"), to_cluster(0));
    r.options = RouteOptions {
        timeout_ms: Some(200),
        ..RouteOptions::default()
    };
    let gateway = Gateway::start(single(vec![r], vec![cluster("b", &[backend])])).await;
    let request = http::Request::get(gateway.url("/"))
        .header("host", "h")
        .body(empty())
        .unwrap();
    let started = tokio::time::Instant::now();
    let response = client().request(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = bounded("the first chunk", body.frame())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "partial");
    let rest = bounded("the cut", body.collect()).await;
    assert!(
        rest.is_err(),
        "the body must end in an error, not look complete"
    );
    // The deadline covers the whole response, from the request's start.
    assert_eq!(started.elapsed(), Duration::from_millis(200));
}
