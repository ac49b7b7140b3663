//! Upstreams with `useHttp2`: requests go out as HTTP/2 with prior knowledge (h2c), many at
//! once on one connection per endpoint, with `te: trailers` kept and response trailers (gRPC's
//! `grpc-status`) passed back; a restarted backend is reached on a new connection; without the
//! setting, upstreams still get HTTP/1.1.
//!
//! `#[tokio::test]` runs on one thread, so the gateway under test is one worker: "one
//! connection per endpoint and worker" means exactly one connection here.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, Version};
use http_body::Frame;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use lockgate_compiled::CompiledConfig;
use tokio::net::TcpSocket;
use tokio::sync::{Barrier, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};

/// What the backend saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    version: Version,
    authority: Option<String>,
    host: Option<String>,
    te: Option<String>,
    path: String,
}

/// How a [`Backend`] behaves besides answering.
#[derive(Default, Clone)]
struct Behaviour {
    /// Holds every answer until this many requests wait together.
    barrier: Option<Arc<Barrier>>,
    /// A request for this path on the first connection closes that connection, unanswered.
    kill_first_connection_on: Option<&'static str>,
}

/// A backend speaking HTTP/1.1 and h2c (prior knowledge) that records each request, counts the
/// connections it accepts, and answers `hello` with the trailer `grpc-status: 0`. It can be
/// stopped (every connection closed) and started again on the same address.
struct Backend {
    addr: SocketAddr,
    accepts: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Carries whether to stop gracefully.
    stop: Option<oneshot::Sender<bool>>,
    task: Option<JoinHandle<()>>,
}

impl Backend {
    async fn start(behaviour: Behaviour) -> Backend {
        Backend::start_on("127.0.0.1:0".parse().unwrap(), behaviour).await
    }

    async fn start_on(addr: SocketAddr, behaviour: Behaviour) -> Backend {
        let socket = TcpSocket::new_v4().unwrap();
        // The same port again after a stop: its old connections may linger in TIME_WAIT.
        socket.set_reuseaddr(true).unwrap();
        socket.bind(addr).unwrap();
        let listener = socket.listen(128).unwrap();
        let addr = listener.local_addr().unwrap();
        let accepts = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop, mut stopped) = oneshot::channel::<bool>();
        let (drain_tx, drain) = watch::channel(false);
        let (counted, recorded) = (accepts.clone(), seen.clone());
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            let graceful = loop {
                let stream = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                    graceful = &mut stopped => break graceful.unwrap_or(false),
                };
                let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
                let (kill, killed) = oneshot::channel::<()>();
                let shared = Shared {
                    seen: recorded.clone(),
                    barrier: behaviour.barrier.clone(),
                    kill: behaviour
                        .kill_first_connection_on
                        .filter(|_| first)
                        .map(|path| (path, Arc::new(Mutex::new(Some(kill))))),
                };
                let mut drain = drain.clone();
                connections.spawn(async move {
                    let service = service_fn(move |req| answer(req, shared.clone()));
                    let builder = auto::Builder::new(TokioExecutor::new());
                    let serving = builder.serve_connection(TokioIo::new(stream), service);
                    let mut serving = std::pin::pin!(serving);
                    let killed = async {
                        if killed.await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    };
                    // Killed: the connection (and its socket) is dropped mid-request.
                    tokio::select! {
                        _ = serving.as_mut() => return,
                        () = killed => return,
                        _ = drain.wait_for(|drain| *drain) => {}
                    }
                    // HTTP/2 clients get a GOAWAY; the connection ends once its streams have.
                    serving.as_mut().graceful_shutdown();
                    let _ = serving.await;
                });
            };
            if graceful {
                let _ = drain_tx.send(true);
                while connections.join_next().await.is_some() {}
            } else {
                // Aborts every connection and waits until each is dropped (its socket closed).
                connections.shutdown().await;
            }
        });
        Backend {
            addr,
            accepts,
            seen,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Closes the listener and every connection at once; returns once they are closed.
    async fn stop(&mut self) {
        self.stop_with(false).await;
    }

    /// Closes the listener, then every connection as a server that shuts down does: HTTP/2
    /// clients are told with a GOAWAY.
    async fn stop_gracefully(&mut self) {
        self.stop_with(true).await;
    }

    async fn stop_with(&mut self, graceful: bool) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(graceful);
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap();
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// The first request for the path takes the switch and closes the connection with it.
type KillSwitch = (&'static str, Arc<Mutex<Option<oneshot::Sender<()>>>>);

/// What every request of one backend connection shares.
#[derive(Clone)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    barrier: Option<Arc<Barrier>>,
    kill: Option<KillSwitch>,
}

async fn answer(req: Request<Incoming>, shared: Shared) -> Result<Response<TestBody>, Infallible> {
    let Shared {
        seen,
        barrier,
        kill,
    } = shared;
    let text = |name: http::header::HeaderName| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap_or("?").to_string())
    };
    seen.lock().unwrap().push(Seen {
        version: req.version(),
        authority: req.uri().authority().map(|a| a.to_string()),
        host: text(http::header::HOST),
        te: text(http::header::TE),
        path: req.uri().path().to_string(),
    });
    let kill = kill
        .filter(|(path, _)| req.uri().path() == *path)
        .and_then(|(_, kill)| kill.lock().unwrap().take());
    if let Some(kill) = kill {
        let _ = kill.send(());
        std::future::pending::<()>().await;
    }
    // Read the request body whole, as a gRPC server reads its message.
    let _ = req.into_body().collect().await;
    if let Some(barrier) = barrier {
        barrier.wait().await;
    }
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let frames = vec![
        Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"hello"))),
        Ok(Frame::trailers(trailers)),
    ];
    let body = StreamBody::new(futures_util::stream::iter(frames))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    Ok(response)
}

fn config(backend: SocketAddr, http2: bool) -> CompiledConfig {
    let mut c = cluster("grpc", &[backend]);
    c.http2 = http2;
    single(
        vec![route("grpc/routes[0]", prefix("/"), to_cluster(0))],
        vec![c],
    )
}

/// A response read whole, trailers included.
struct Answer {
    status: StatusCode,
    version: Version,
    body: Bytes,
    trailers: Option<HeaderMap>,
}

async fn call(client: &HttpClient, request: Request<TestBody>) -> Answer {
    let response = client.request(request).await.unwrap();
    let (status, version) = (response.status(), response.version());
    let collected = response.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned();
    Answer {
        status,
        version,
        body: collected.to_bytes(),
        trailers,
    }
}

fn grpc_call(gateway: &Gateway, te: Option<&str>) -> Request<TestBody> {
    let mut request = Request::post(gateway.url("/pkg.Echo/Say"))
        .header("content-type", "application/grpc")
        .body(
            Full::new(Bytes::from_static(b"\0\0\0\0\x03abc"))
                .map_err(|never| match never {})
                .boxed(),
        )
        .unwrap();
    if let Some(te) = te {
        request.headers_mut().insert("te", te.parse().unwrap());
    }
    request
}

#[tokio::test]
async fn an_http2_upstream_gets_http2_and_te_trailers_and_its_trailers_reach_an_h2c_client() {
    let mut backend = Backend::start(Behaviour::default()).await;
    let gateway = Gateway::start(config(backend.addr, true)).await;
    let answer = call(&h2c_client(), grpc_call(&gateway, Some("trailers"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.version, Version::HTTP_2);
    assert_eq!(answer.body, "hello");
    let trailers = answer.trailers.expect("the upstream's trailers");
    assert_eq!(trailers["grpc-status"], "0");
    let seen = backend.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].version, Version::HTTP_2);
    assert_eq!(seen[0].te.as_deref(), Some("trailers"));
    assert_eq!(seen[0].path, "/pkg.Echo/Say");
    // The routed authority travels as `:authority`, without a `Host` header beside it.
    assert_eq!(seen[0].authority, Some(gateway.addr.to_string()));
    assert_eq!(seen[0].host, None);
    backend.stop().await;
}

#[tokio::test]
async fn an_http1_client_reaches_an_http2_upstream_with_its_host_as_authority() {
    let mut backend = Backend::start(Behaviour::default()).await;
    let gateway = Gateway::start(config(backend.addr, true)).await;
    let client = client();
    for te in [Some("gzip, trailers"), Some("gzip"), None] {
        let mut request = grpc_call(&gateway, te);
        request
            .headers_mut()
            .insert("host", HeaderValue::from_static("grpc.example.com"));
        let answer = call(&client, request).await;
        assert_eq!(answer.status, StatusCode::OK, "te {te:?}");
        assert_eq!(answer.body, "hello");
    }
    let seen = backend.seen();
    let te: Vec<Option<&str>> = seen.iter().map(|s| s.te.as_deref()).collect();
    // Only `trailers` is allowed in HTTP/2, and only when the client accepts trailers.
    assert_eq!(te, [Some("trailers"), None, None]);
    for seen in &seen {
        assert_eq!(seen.version, Version::HTTP_2);
        assert_eq!(seen.authority.as_deref(), Some("grpc.example.com"));
        assert_eq!(seen.host, None);
    }
    assert_eq!(backend.accepts.load(Ordering::SeqCst), 1);
    backend.stop().await;
}

#[tokio::test]
async fn concurrent_requests_share_one_upstream_connection() {
    const REQUESTS: usize = 32;
    // The backend answers none until all are in flight: they are concurrent upstream.
    let barrier = Arc::new(Barrier::new(REQUESTS));
    let mut backend = Backend::start(Behaviour {
        barrier: Some(barrier),
        ..Behaviour::default()
    })
    .await;
    let gateway = Gateway::start(config(backend.addr, true)).await;
    // HTTP/1.1 clients: one gateway connection per request, so the sharing is the gateway's.
    let client = client();
    let mut calls = JoinSet::new();
    for _ in 0..REQUESTS {
        let (client, request) = (client.clone(), grpc_call(&gateway, Some("trailers")));
        calls.spawn(async move { call(&client, request).await });
    }
    let all = tokio::time::timeout(Duration::from_secs(30), calls.join_all())
        .await
        .expect("every request is answered");
    assert!(
        all.iter()
            .all(|a| a.status == StatusCode::OK && a.body == "hello")
    );
    assert_eq!(backend.seen().len(), REQUESTS);
    assert_eq!(backend.accepts.load(Ordering::SeqCst), 1, "one connection");
    backend.stop().await;
}

#[tokio::test]
async fn a_restarted_backend_is_reached_on_a_new_connection() {
    for graceful in [false, true] {
        restart(graceful).await;
    }
}

async fn restart(graceful: bool) {
    let mut backend = Backend::start(Behaviour::default()).await;
    let addr = backend.addr;
    let gateway = Gateway::start(config(addr, true)).await;
    let client = client();
    let reply = get(&client, &gateway, "grpc.example.com", "/first").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "hello"));
    if graceful {
        backend.stop_gracefully().await;
    } else {
        backend.stop().await;
    }
    let mut restarted = Backend::start_on(addr, Behaviour::default()).await;
    // The gateway's connection to the old process is closed, whether or not it has noticed yet.
    for path in ["/second", "/third"] {
        let reply = get(&client, &gateway, "grpc.example.com", path).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (200, "hello"),
            "{path}, graceful: {graceful}"
        );
    }
    assert_eq!(restarted.accepts.load(Ordering::SeqCst), 1);
    let paths: Vec<String> = restarted.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/second", "/third"]);
    restarted.stop().await;
}

#[tokio::test]
async fn a_connection_lost_under_a_request_is_replaced_and_an_idempotent_request_sent_again() {
    let mut backend = Backend::start(Behaviour {
        kill_first_connection_on: Some("/lost"),
        ..Behaviour::default()
    })
    .await;
    let gateway = Gateway::start(config(backend.addr, true)).await;
    let client = client();
    let reply = get(&client, &gateway, "grpc.example.com", "/first").await;
    assert_eq!(reply.status, 200);
    // The connection closes with the stream open: a GET without a body goes out again, once,
    // on a new connection (and does not count as one of the route's retries).
    let reply = get(&client, &gateway, "grpc.example.com", "/lost").await;
    assert_eq!((reply.status, reply.body.as_str()), (200, "hello"));
    assert_eq!(backend.accepts.load(Ordering::SeqCst), 2);
    let paths: Vec<String> = backend.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(paths, ["/first", "/lost", "/lost"]);
    backend.stop().await;
}

#[tokio::test]
async fn a_request_with_a_body_lost_with_its_connection_is_not_sent_again() {
    let mut backend = Backend::start(Behaviour {
        kill_first_connection_on: Some("/pkg.Echo/Say"),
        ..Behaviour::default()
    })
    .await;
    let gateway = Gateway::start(config(backend.addr, true)).await;
    let answer = call(&client(), grpc_call(&gateway, Some("trailers"))).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert_eq!(backend.seen().len(), 1);
    // The next request gets a new connection.
    let answer = call(&client(), grpc_call(&gateway, Some("trailers"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(backend.accepts.load(Ordering::SeqCst), 2);
    backend.stop().await;
}

#[tokio::test(start_paused = true)]
async fn an_upstream_that_goes_silent_is_given_up_on_by_ping() {
    // A peer that reads whatever comes and never writes: a host gone without a FIN.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (closed_tx, closed) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let mut buf = [0u8; 4096];
        while let Ok(1..) = tokio::io::AsyncReadExt::read(&mut stream, &mut buf).await {}
        let _ = closed_tx.send(());
        // Later connections (a replay) stay in the backlog, unanswered.
        std::future::pending::<()>().await;
    });
    let mut c = config(addr, true);
    // No route timeout: only the unanswered PING can end the request.
    std::sync::Arc::make_mut(&mut c.virtual_hosts[0].routes[0])
        .options
        .timeout_ms = Some(0);
    let gateway = Gateway::start(c).await;
    let reply = get(&client(), &gateway, "grpc.example.com", "/").await;
    // Connected, then given up on: not a failure to connect.
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            502,
            "upstream connect error: connection reset before the response"
        )
    );
    tokio::time::timeout(Duration::from_secs(3600), closed)
        .await
        .expect("the gateway closed the silent connection")
        .unwrap();
}

#[tokio::test]
async fn without_use_http2_upstreams_still_get_http1() {
    let mut backend = Backend::start(Behaviour::default()).await;
    let gateway = Gateway::start(config(backend.addr, false)).await;
    let answer = call(&h2c_client(), grpc_call(&gateway, Some("trailers"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    let seen = backend.seen();
    assert_eq!(seen[0].version, Version::HTTP_11);
    assert_eq!(seen[0].host, Some(gateway.addr.to_string()));
    // TE is hop-by-hop and not re-added for HTTP/1.1 upstreams.
    assert_eq!(seen[0].te, None);
    backend.stop().await;
}

#[tokio::test]
async fn the_http2_connection_counts_under_the_circuit_breakers() {
    let mut backend = Backend::start(Behaviour::default()).await;
    let client = client();
    for (field, set) in [
        (
            "maxConnections",
            (|c: &mut lockgate_compiled::CircuitBreakers| c.max_connections = 0) as fn(&mut _),
        ),
        ("maxPendingRequests", |c| c.max_pending_requests = 0),
    ] {
        let mut c = config(backend.addr, true);
        set(&mut c.clusters[0].circuit_breakers);
        let gateway = Gateway::start(c).await;
        let reply = get(&client, &gateway, "grpc.example.com", "/").await;
        assert_eq!(reply.status, 503, "{field}");
        assert_eq!(reply.body, format!("upstream overflow: {field} reached"));
    }
    assert_eq!(backend.accepts.load(Ordering::SeqCst), 0);
    // With room, the open connection is counted as one.
    let gateway = Gateway::start(config(backend.addr, true)).await;
    let reply = get(&client, &gateway, "grpc.example.com", "/").await;
    assert_eq!(reply.status, 200);
    let id = lockgate_proxy::UpstreamId {
        namespace: "test".into(),
        name: "grpc".into(),
    };
    assert_eq!(gateway.proxy.stats().upstreams[&id].connections, 1);
    backend.stop().await;
}
