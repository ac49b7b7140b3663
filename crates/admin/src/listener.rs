//! The admin API's own listener, with a connection budget and a header timeout separate from
//! the proxy's, so that a flood of silent connections cannot take the admin API down.
//!
//! - At most [`AdminLimits::max_connections`] connections are served at once. When all are
//!   taken, the oldest connection that is not in the middle of a request (silent, trickling a
//!   request head, or idle between requests) is closed to make room: a flood of silent
//!   connections then only ever pushes out other silent connections, and an operator who
//!   connects and sends a request is served.
//! - A connection must deliver a complete request head within
//!   [`AdminLimits::header_timeout`] of being accepted (and of its previous response, when it is
//!   kept alive), or it is closed. HTTP/1.1 only: the admin API has no use for h2c.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot, watch};
use tower_service::Service;

/// The admin listener's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminLimits {
    /// Connections served at once.
    pub max_connections: usize,
    /// From a connection's start (or its previous response) to the end of a request head.
    pub header_timeout: Duration,
}

/// 256 connections.
pub const DEFAULT_MAX_CONNECTIONS: usize = 256;
/// 10 seconds.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

impl Default for AdminLimits {
    fn default() -> Self {
        AdminLimits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
        }
    }
}

/// The connections being served, to choose one to close when the budget is spent.
#[derive(Default)]
struct Connections {
    next: u64,
    live: HashMap<u64, Live>,
}

struct Live {
    /// Requests between their head and the end of their response body.
    busy: Arc<AtomicUsize>,
    close: Option<oneshot::Sender<()>>,
}

impl Connections {
    fn add(&mut self, busy: Arc<AtomicUsize>, close: oneshot::Sender<()>) -> u64 {
        self.next += 1;
        let live = Live {
            busy,
            close: Some(close),
        };
        self.live.insert(self.next, live);
        self.next
    }

    /// Closes the oldest connection (the first accepted) that no request is using; false when
    /// every one is busy.
    fn close_oldest_idle(&mut self) -> bool {
        let oldest = self
            .live
            .iter_mut()
            .filter(|(_, live)| live.close.is_some() && live.busy.load(Ordering::Acquire) == 0)
            .min_by_key(|(id, _)| **id);
        match oldest.and_then(|(_, live)| live.close.take()) {
            Some(close) => {
                let _ = close.send(());
                true
            }
            None => false,
        }
    }
}

/// Counts a request as in progress until dropped (with the response body).
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn enter(count: &Arc<AtomicUsize>) -> Busy {
        count.fetch_add(1, Ordering::AcqRel);
        Busy(Arc::clone(count))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its request counted as in progress until it is sent.
struct Counted {
    body: Body,
    _busy: Busy,
}

impl http_body::Body for Counted {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes, then lets the
/// requests in progress finish.
pub(crate) async fn serve_router(
    listener: TcpListener,
    router: Router,
    limits: AdminLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let max = limits.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(max));
    let connections = Arc::new(Mutex::new(Connections::default()));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, most likely: wait for some to be freed.
                tracing::warn!("admin API: cannot accept a connection: {e}");
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(Duration::from_millis(50)) => continue,
                }
            }
        };
        let permit = match Arc::clone(&permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                let closed = lock(&connections).close_oldest_idle();
                if !closed {
                    tracing::warn!(
                        max,
                        "admin API: every connection is in a request; the new one waits"
                    );
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    permit = Arc::clone(&permits).acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                }
            }
        };
        let busy = Arc::new(AtomicUsize::new(0));
        let (close, closed) = oneshot::channel();
        let id = lock(&connections).add(Arc::clone(&busy), close);
        let connections = Arc::clone(&connections);
        let router = router.clone();
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                let busy = Busy::enter(&busy);
                let mut router = router.clone();
                async move {
                    let response = router.call(request.map(Body::new)).await?;
                    Ok::<_, std::convert::Infallible>(
                        response.map(|body| Counted { body, _busy: busy }),
                    )
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_timeout)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!("admin API connection: {e}");
                    }
                }
                // Made room for a newer connection: it was between requests.
                _ = closed => {}
                _ = async { stopping.wait_for(|s| *s).await.map(|_| ()) } => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
            lock(&connections).live.remove(&id);
            drop(permit);
        });
    }
    let _ = stop.send(true);
    // Every permit back: every connection has finished.
    let _ = permits
        .acquire_many(u32::try_from(max).unwrap_or(u32::MAX))
        .await;
    Ok(())
}

fn lock(connections: &Mutex<Connections>) -> std::sync::MutexGuard<'_, Connections> {
    // The map stays consistent even if a holder panicked: each update is one insert or remove.
    connections
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
#[path = "listener_test.rs"]
mod tests;
