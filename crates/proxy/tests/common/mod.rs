//! The in-process harness: the proxy on 127.0.0.1:0, real backends, a real client.
#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use lockgate_compiled::{
    Action, Cluster, ClusterId, ClusterKey, CompiledConfig, Forward, Matcher, PathMatch, Route,
    RouteOptions, Target, VirtualHost, WeightedTarget,
};
use lockgate_proxy::{EscapedSlashes, Limits, Proxy};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub type TestBody = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

pub struct Gateway {
    pub addr: SocketAddr,
    pub proxy: Proxy,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Gateway {
    pub async fn start(config: CompiledConfig) -> Gateway {
        Gateway::start_with(config, Limits::default(), EscapedSlashes::default()).await
    }

    pub async fn start_with(
        config: CompiledConfig,
        limits: Limits,
        escaped_slashes: EscapedSlashes,
    ) -> Gateway {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let proxy = Proxy::builder(config)
            .limits(limits)
            .escaped_slashes(escaped_slashes)
            .build();
        let (tx, rx) = oneshot::channel::<()>();
        let serving = proxy.clone();
        let task = tokio::spawn(async move {
            serving
                .serve(listener, async {
                    let _ = rx.await;
                })
                .await
        });
        Gateway {
            addr,
            proxy,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub fn publish(&self, config: CompiledConfig) {
        self.proxy.publish(Arc::new(config));
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Signals shutdown and returns the serve task, which ends once connections drained.
    pub fn shut_down(&mut self) -> JoinHandle<std::io::Result<()>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().unwrap()
    }
}

pub async fn echo(text: &str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(lockgate_echo::serve(listener, text.to_string()));
    addr
}

/// A backend answering with `handler`, over HTTP/1.1 and h2c.
pub async fn backend<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<TestBody>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req).await) }
                });
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// A backend that answers with what it received: `path`, then `name: value` lines.
pub async fn inspector() -> SocketAddr {
    backend(|req: Request<Incoming>| async move {
        let mut text = format!("{} {}\n", req.method(), req.uri());
        for (name, value) in req.headers() {
            text.push_str(&format!("{}: {}\n", name, value.to_str().unwrap_or("?")));
        }
        full(StatusCode::OK, text)
    })
    .await
}

pub fn full(status: StatusCode, body: impl Into<Bytes>) -> Response<TestBody> {
    let mut response = Response::new(
        Full::new(body.into())
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
}

/// An address nothing listens on.
pub async fn closed_port() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

pub type HttpClient = Client<HttpConnector, TestBody>;

pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub fn h2c_client() -> HttpClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub version: http::Version,
    pub headers: HeaderMap,
    pub body: String,
}

pub fn empty() -> TestBody {
    Empty::new().map_err(|never| match never {}).boxed()
}

pub async fn send(client: &HttpClient, request: Request<TestBody>) -> Reply {
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let version = response.version();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply {
        status,
        version,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// GET `path` on the gateway with the Host header `host`.
pub async fn get(client: &HttpClient, gateway: &Gateway, host: &str, path: &str) -> Reply {
    let request = Request::get(gateway.url(path))
        .header("host", host)
        .body(empty())
        .unwrap();
    send(client, request).await
}

// ---- configuration builders ----

pub fn cluster(name: &str, endpoints: &[SocketAddr]) -> Cluster {
    Cluster::new(
        ClusterKey {
            upstream_namespace: "test".into(),
            upstream_name: name.into(),
            subset: BTreeMap::new(),
        },
        endpoints.to_vec(),
    )
}

pub fn prefix(value: &str) -> Matcher {
    Matcher {
        path: PathMatch::Prefix {
            value: value.into(),
            case_sensitive: true,
        },
        headers: vec![],
        query: vec![],
        methods: vec![],
        within: vec![],
    }
}

pub fn to_cluster(id: usize) -> Action {
    weighted(&[(id, 1)])
}

pub fn weighted(destinations: &[(usize, u32)]) -> Action {
    Action::Forward(Forward {
        destinations: destinations
            .iter()
            .map(|&(id, weight)| WeightedTarget {
                weight,
                target: Target::Cluster(ClusterId(id)),
            })
            .collect(),
        total_weight: destinations.iter().map(|d| d.1).sum(),
    })
}

pub fn route(origin: &str, matcher: Matcher, action: Action) -> Route {
    Route {
        origin: origin.into(),
        matcher,
        action,
        options: RouteOptions::default(),
    }
}

pub fn vhost(name: &str, domains: &[&str], routes: Vec<Route>) -> VirtualHost {
    VirtualHost {
        name: name.into(),
        domains: domains.iter().map(|d| d.to_string()).collect(),
        routes: routes.into_iter().map(Arc::new).collect(),
        sources: Vec::new(),
    }
}

/// One virtual host for every domain.
pub fn single(routes: Vec<Route>, clusters: Vec<Cluster>) -> CompiledConfig {
    CompiledConfig::new(vec![vhost("gloo-system.app", &["*"], routes)], clusters)
}

/// Writes `request` as raw bytes (what a client library would refuse to send) and reads until
/// the gateway closes the connection (bounded).
pub async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut out),
    )
    .await
    .expect("the gateway closes the connection");
    // A reset after the response (the gateway closing with unread input) still leaves it read.
    let _ = read;
    String::from_utf8_lossy(&out).into_owned()
}

/// The status code of the first response in `text`, 0 if there is none.
pub fn status_of(text: &str) -> u16 {
    text.strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// The body of the first response in `text` (everything after its head).
pub fn body_of(text: &str) -> &str {
    text.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}
