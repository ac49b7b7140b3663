//! The data plane: executes a [`CompiledConfig`] for HTTP/1.1 and h2c clients.
//!
//! The controller publishes configurations with [`Proxy::publish`] (the proxy is its
//! [`Publish`] target). Each publish builds an executable plan (`plan`: typed headers, methods,
//! retry conditions and timeouts, cluster state, a route index per virtual host) once, off the
//! request path, and swaps it in with an [`ArcSwap`]; every request takes the plan once and runs
//! entirely on it, so a reload never changes a request half-way and never drops a connection.
//! Nothing here reaches back into a store or the translator: the compiled configuration says
//! everything (routes in final order, regexes built, clusters with their endpoints).
//!
//! A request runs through fixed phases over one request context (`phases`, `ctx`; features are
//! filters in `filters/`): the authority checked and decided (see `authority`: absolute-form and
//! HTTP/2's `:authority` win, several or invalid `Host` headers get 400); the virtual host by it;
//! the path normalised (see `path`, and [`EscapedSlashes`] for `%2F`, `%5C` and `\`) before the
//! first matching route is found through the index; then a direct response, a redirect, or a weighted pick of a
//! destination and a round-robin pick of its endpoint, with the route's timeout (15 s unless
//! set), retries (for requests without a body) and header manipulation. Bodies stream both ways;
//! nothing is buffered whole; `Upgrade` requests (WebSocket) are spliced through. Upstream
//! connections are HTTP/1.1, kept alive in a lock-free pool per worker thread, or HTTP/2 (h2c)
//! for clusters whose Upstream says `useHttp2`, one multiplexed connection per endpoint and
//! worker thread (see `h2_pool`). Every request is
//! counted per route and per cluster ([`Stats`]). Error bodies never name an upstream address.
//!
//! Clients are bounded by [`Limits`]: request head bytes, a first-byte, header and idle timeout,
//! and connections per listener. Framing: hyper refuses what RFC 9112 refuses; a request with
//! both `Content-Length` and `Transfer-Encoding` is read by its chunked encoding alone (hyper
//! drops the `Content-Length` before the proxy sees it) and its connection is closed after the
//! response, so nothing can be smuggled behind it; a malformed chunked body gets 400, not 502.
//!
//! ```no_run
//! # use std::sync::Arc;
//! # async fn run(config: lockgate_compiled::CompiledConfig) -> std::io::Result<()> {
//! let proxy = lockgate_proxy::Proxy::new(config);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! // Elsewhere, `proxy.publish(Arc::new(new_config))` publishes a new configuration.
//! proxy.serve(listener, async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```

mod authority;
mod body;
mod conn;
mod ctx;
mod filters;
mod forward;
#[doc(hidden)]
pub mod fuzzing;
mod h1;
mod h2_pool;
mod headers;
mod limits;
mod local_plan;
mod outlier;
mod path;
mod phases;
mod plan;
mod pool;
mod registry;
mod rng;
mod route;
mod route_index;
mod stats;
mod upgrade;
mod upstream;

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use lockgate_compiled::{CompiledConfig, Publish};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, mpsc, watch};

pub use limits::Limits;
pub use path::{EscapedSlashes, UnknownPolicy};
pub use route::{RouteLookup, RouteRequest, find_route};
pub use stats::{
    Counts, LATENCY_BUCKETS_MICROS, Latency, RouteId, Stats, UpstreamCounts, UpstreamId,
};

use crate::conn::{Activity, Monitored, Tracked};
use crate::ctx::{Client, Scheme};
use crate::plan::Plan;
use crate::registry::Registry;

/// The proxy. Cloning is cheap; clones share the configuration and the counters (upstream
/// connections are pooled per worker thread, whichever proxy opened them).
#[derive(Clone)]
pub struct Proxy {
    inner: Arc<Inner>,
}

struct Inner {
    /// The plan of the configuration published last (see [`Proxy::publish`]).
    plan: ArcSwap<Plan>,
    registry: Registry,
    limits: Limits,
    escaped_slashes: EscapedSlashes,
}

/// Builds a [`Proxy`] with limits and policies other than the defaults.
///
/// ```
/// # use std::sync::Arc;
/// # let config = lockgate_compiled::CompiledConfig::new(vec![], vec![]);
/// let mut limits = lockgate_proxy::Limits::default();
/// limits.max_connections = 1_000;
/// let proxy = lockgate_proxy::Proxy::builder(config)
///     .limits(limits)
///     .escaped_slashes(lockgate_proxy::EscapedSlashes::Keep)
///     .build();
/// ```
pub struct ProxyBuilder {
    config: Arc<CompiledConfig>,
    limits: Limits,
    escaped_slashes: EscapedSlashes,
}

impl ProxyBuilder {
    /// Limits on clients (default: [`Limits::default`]).
    pub fn limits(mut self, limits: Limits) -> ProxyBuilder {
        self.limits = limits;
        self
    }

    /// What `%2F`, `%5C` and `\` in paths do (default: [`EscapedSlashes::Reject`]).
    pub fn escaped_slashes(mut self, policy: EscapedSlashes) -> ProxyBuilder {
        self.escaped_slashes = policy;
        self
    }

    pub fn build(self) -> Proxy {
        let registry = Registry::new();
        let plan = Plan::build(self.config, &registry);
        Proxy {
            inner: Arc::new(Inner {
                plan: ArcSwap::from_pointee(plan),
                registry,
                limits: self.limits,
                escaped_slashes: self.escaped_slashes,
            }),
        }
    }
}

impl Proxy {
    /// A proxy serving `config` until the next [`Proxy::publish`], with the default [`Limits`]
    /// and [`EscapedSlashes`] policy.
    pub fn new(config: impl Into<Arc<CompiledConfig>>) -> Proxy {
        Proxy::builder(config).build()
    }

    /// A proxy with limits or policies of its own.
    pub fn builder(config: impl Into<Arc<CompiledConfig>>) -> ProxyBuilder {
        let config = config.into();
        ProxyBuilder {
            config,
            limits: Limits::default(),
            escaped_slashes: EscapedSlashes::default(),
        }
    }

    /// Accepts HTTP/1.1 and h2c (prior knowledge) connections on `listener` until `shutdown`
    /// completes, then stops accepting and waits for the open connections to finish their
    /// requests: idle keep-alive connections are closed, HTTP/2 clients get a GOAWAY. Bound the
    /// drain with a timeout around this future if needed.
    ///
    /// Errors of single connections are logged and never end the server.
    pub async fn serve(
        &self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let slots = Arc::new(Semaphore::new(connection_slots(&self.inner.limits)));
        self.serve_with(listener, slots, shutdown).await
    }

    /// [`Proxy::serve`], with the connection slots shared by every thread of one listener.
    async fn serve_with(
        &self,
        listener: TcpListener,
        slots: Arc<Semaphore>,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let limits = &self.inner.limits;
        let mut builder = auto::Builder::new(TokioExecutor::new());
        // One buffer and one `send` per response rather than `writev` (see `pool::connect`).
        // The read buffer's limit is the request head's: hyper answers 431 beyond it.
        // hyper's own header timer is off: it costs a boxed timer per request, and the
        // connection's watcher (`conn`) times every head, the first and each later one.
        builder
            .http1()
            .timer(TokioTimer::new())
            .writev(false)
            .header_read_timeout(None)
            .max_buf_size(
                limits
                    .max_request_header_bytes
                    .max(limits::MIN_HTTP1_BUFFER),
            );
        builder
            .http2()
            .timer(TokioTimer::new())
            .max_header_list_size(
                u32::try_from(limits.max_request_header_bytes).unwrap_or(u32::MAX),
            );
        // Connections are told to stop through `stop`; each holds a clone of `open`, so that
        // the receiver ends when the last one has finished.
        let (stop_tx, stop) = watch::channel(false);
        let (open, mut all_closed) = mpsc::channel::<()>(1);
        let mut shutdown = std::pin::pin!(shutdown);
        'accept: loop {
            // At the limit, stop accepting until a connection closes (see `Limits`).
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let (stream, peer) = loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => break accepted,
                        Err(error) => back_off_after(&error).await,
                    },
                    () = &mut shutdown => break 'accept,
                }
            };
            let _ = stream.set_nodelay(true);
            // Phase 1, accept: what the connection's requests share.
            let client = Arc::new(Client::new(peer, Scheme::Http));
            let activity = Activity::new();
            let inner = self.inner.clone();
            let counted = activity.clone();
            let service = service_fn(move |request| {
                let in_flight = counted.begin();
                // This worker's handle on the plan published now: no shared reference count
                // is touched per request (see `local_plan`).
                let local = local_plan::current(&inner);
                let client = client.clone();
                async move {
                    let response = local.inner.handle(&local.plan, &client, request).await;
                    Ok::<_, Infallible>(response.map(|body| Tracked::new(body, in_flight)))
                }
            });
            let io = TokioIo::new(Monitored::new(stream, activity.clone()));
            let connection = builder
                .serve_connection_with_upgrades(io, service)
                .into_owned();
            let inner = self.inner.clone();
            let mut stop = stop.clone();
            let open = open.clone();
            tokio::spawn(async move {
                let _slot = slot;
                let _open = open;
                let mut connection = std::pin::pin!(connection);
                tokio::select! {
                    result = connection.as_mut() => {
                        log_end(peer, result);
                        return;
                    }
                    why = conn::expired(&activity, &inner.limits) => {
                        tracing::debug!(%peer, ?why, "closing a connection that outlived its timers");
                        if why == conn::Expired::Head {
                            // No request to finish: close now rather than wait for a head.
                            return;
                        }
                    }
                    _ = stop.wait_for(|stop| *stop) => {}
                }
                connection.as_mut().graceful_shutdown();
                log_end(peer, connection.await);
            });
        }
        drop(listener);
        let _ = stop_tx.send(true);
        drop(open);
        let _ = all_closed.recv().await;
        Ok(())
    }

    /// Like [`Proxy::serve`], on `workers` threads of its own, each running a single-threaded
    /// tokio runtime that accepts from `listener` (thread per core). The proxy keeps its
    /// upstream connections and counters per thread already, so nothing is shared between the
    /// threads on the request path; and tokio's current-thread scheduler costs less CPU per
    /// proxied request than its multi-threaded one (10-30% in runs of `examples/forward.rs`,
    /// one worker each, pinned to one core). Returns when `shutdown` completes and every thread
    /// has drained its connections, or early with the first thread's error.
    pub async fn serve_on_threads(
        &self,
        listener: std::net::TcpListener,
        workers: usize,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        listener.set_nonblocking(true)?;
        let slots = Arc::new(Semaphore::new(connection_slots(&self.inner.limits)));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<io::Result<()>>();
        let workers = workers.max(1);
        for index in 0..workers {
            let listener = listener.try_clone()?;
            let proxy = self.clone();
            let slots = slots.clone();
            let mut stop = stop_rx.clone();
            let done = done_tx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("lockgate-proxy-{index}"))
                .spawn(move || {
                    let result = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .and_then(|runtime| {
                            runtime.block_on(async move {
                                let listener = TcpListener::from_std(listener)?;
                                let stopped = async move {
                                    let _ = stop.wait_for(|stop| *stop).await;
                                };
                                proxy.serve_with(listener, slots, stopped).await
                            })
                        });
                    let _ = done.send(result);
                });
            if let Err(error) = spawned {
                let _ = stop_tx.send(true);
                return Err(error);
            }
        }
        drop(done_tx);
        let mut shutdown = std::pin::pin!(shutdown);
        let mut outcome = Ok(());
        let mut finished = 0;
        tokio::select! {
            () = &mut shutdown => {}
            // A thread that ends before the shutdown failed to start or to serve.
            early = done_rx.recv() => {
                finished += 1;
                outcome = early.unwrap_or_else(|| Err(io::Error::other("proxy threads died")));
            }
        }
        let _ = stop_tx.send(true);
        while let Some(result) = done_rx.recv().await {
            finished += 1;
            if outcome.is_ok() {
                outcome = result;
            }
        }
        // A thread that panicked dropped its sender without a word.
        if finished < workers && outcome.is_ok() {
            outcome = Err(io::Error::other("a proxy thread panicked"));
        }
        outcome
    }

    /// Sums every counter. Counters are kept by names that survive reloads (see [`Stats`]).
    pub fn stats(&self) -> Stats {
        self.inner.registry.read()
    }

    /// Serves `config` from now on. Its plan is built here, once, before it is swapped in:
    /// requests in flight finish on the plan they started with, new ones take the new one, and
    /// no connection is dropped.
    pub fn publish(&self, config: Arc<CompiledConfig>) {
        // Publishes come from one controller; were two to race, each plan is still right for
        // its configuration (it only borrows route plans from whichever was current).
        let plan = Plan::build_after(config, &self.inner.registry, &self.inner.plan.load());
        self.inner.plan.store(Arc::new(plan));
    }

    /// The configuration served now.
    pub fn current(&self) -> Arc<CompiledConfig> {
        self.inner.plan.load().config.clone()
    }
}

/// The controller publishes straight into the proxy.
impl Publish for Proxy {
    fn publish(&self, config: Arc<CompiledConfig>) {
        Proxy::publish(self, config);
    }

    fn current(&self) -> Arc<CompiledConfig> {
        Proxy::current(self)
    }
}

fn connection_slots(limits: &Limits) -> usize {
    limits.max_connections.clamp(1, Semaphore::MAX_PERMITS)
}

fn log_end(
    peer: std::net::SocketAddr,
    result: Result<(), Box<dyn std::error::Error + Send + Sync>>,
) {
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "downstream connection ended with an error");
    }
}

async fn back_off_after(error: &io::Error) {
    use io::ErrorKind::*;
    if matches!(
        error.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    ) {
        return;
    }
    // Out of file descriptors or memory: wait for it to pass instead of spinning.
    tracing::warn!(%error, "accept failed, backing off");
    tokio::time::sleep(Duration::from_millis(50)).await;
}
