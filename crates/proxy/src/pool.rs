//! Upstream connections: HTTP/1.1 ([`crate::h1`]), keep-alive, pooled per worker thread
//! without locks.
//!
//! A shared pool behind a mutex (hyper-util's legacy client) puts every request of every worker
//! through one lock and a boxed future; here each worker thread keeps its own idle connections
//! per endpoint in a thread-local map, so taking and returning a connection touches no shared
//! memory. A connection goes back to the pool when its response body has been read to the end
//! (the body does it, see [`h1::Body`]), which is exactly when HTTP/1.1 can carry the next
//! request. Tasks may move between worker threads; a connection returns to whichever thread
//! finished with it, which is harmless. Idle connections are closed after [`IDLE_TIMEOUT`].
//! Upgrades (WebSocket) still go through hyper's client ([`send_upgrade`]).

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, header};
use hyper::body::Incoming;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use lockgate_compiled::CircuitBreakers;
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::body::{RequestBody, UpstreamBody};
use crate::h1::decode::Framing;
use crate::h1::encode::BodyFraming;
use crate::h1::framing::Decoder;
use crate::h1::{self, Conn, Exchanged};
use crate::upstream::{Limit, Permit, UpstreamState};

/// Envoy's default connect timeout for a cluster.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Idle upstream connections older than this are closed rather than reused: upstream servers
/// close idle connections too (nginx after 75 s), and reusing one they are closing fails.
const IDLE_TIMEOUT: Duration = Duration::from_secs(50);
/// Idle connections kept per endpoint and worker; beyond, returned connections are closed.
const MAX_IDLE_PER_ENDPOINT: usize = 256;
/// How often a thread sweeps its whole pool for expired and closed connections.
const SWEEP_INTERVAL: Duration = Duration::from_secs(10);

struct Idle {
    conn: Conn,
    since: Instant,
}

#[derive(Default)]
struct ThreadPool {
    idle: HashMap<SocketAddr, Vec<Idle>, BuildHasherDefault<EndpointHasher>>,
    last_sweep: Option<Instant>,
}

/// The pool is looked up twice per request (take and release) by endpoint, which comes from
/// the configuration and not from clients: SipHash's flooding resistance buys nothing here and
/// costs more than the rest of the lookup. This is FxHash's multiply-rotate.
#[derive(Default)]
pub(crate) struct EndpointHasher(u64);

impl Hasher for EndpointHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.write_u64(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

thread_local! {
    static POOL: RefCell<ThreadPool> = RefCell::new(ThreadPool::default());
}

/// A request's hold on its upstream while the response streams: its place under the
/// upstream's `maxRequests`, given back with [`Lease::release`] or when dropped. The connection
/// itself travels with the response body, which returns it to the pool (see [`h1::Body`]).
#[derive(Default)]
pub(crate) struct Lease {
    permit: Option<Permit>,
    /// The endpoint that answered, for the request's log.
    endpoint: Option<SocketAddr>,
}

/// The circuit breakers a request is sent under.
#[derive(Clone, Copy)]
pub(crate) struct Limits<'a> {
    pub(crate) upstream: &'a Arc<UpstreamState>,
    pub(crate) breakers: &'a CircuitBreakers,
}

impl Lease {
    /// Keeps `permit` until the lease is released or dropped; `endpoint` answered.
    pub(crate) fn hold(&mut self, permit: Permit, endpoint: SocketAddr) {
        self.permit = Some(permit);
        self.endpoint = Some(endpoint);
    }

    /// The endpoint that answered.
    pub(crate) fn endpoint(&self) -> Option<SocketAddr> {
        self.endpoint
    }

    /// The response has ended.
    pub(crate) fn release(self) {}
}

/// Puts `conn`, whose last response has been read whole, into this thread's pool.
pub(crate) fn release(endpoint: SocketAddr, conn: Conn) {
    let now = Instant::now();
    POOL.with(|pool| {
        let Ok(mut pool) = pool.try_borrow_mut() else {
            return;
        };
        let idle = pool.idle.entry(endpoint).or_default();
        if idle.len() < MAX_IDLE_PER_ENDPOINT {
            conn.settle_idle();
            idle.push(Idle { conn, since: now });
        }
        if pool
            .last_sweep
            .is_none_or(|last| now.duration_since(last) >= SWEEP_INTERVAL)
        {
            pool.last_sweep = Some(now);
            pool.idle.retain(|_, idle| {
                idle.retain(|c| {
                    c.conn.is_usable_idle() && now.duration_since(c.since) < IDLE_TIMEOUT
                });
                !idle.is_empty()
            });
        }
    });
}

/// Why a request got no response.
#[derive(Debug)]
pub(crate) enum SendError {
    /// No connection could be made; nothing was sent.
    Connect(String),
    /// The connection failed after the request was (perhaps partly) sent, or the response was
    /// unreadable.
    Upstream(h1::Error),
    /// The hyper connection of an upgrade failed.
    Hyper(hyper::Error),
    /// A circuit breaker of the upstream is full; nothing was sent.
    Overflow(Limit),
}

/// Sends `request` (origin-form URI) to `endpoint` on an idle pooled connection, or a new one.
///
/// A pooled connection can be closed by the upstream at any moment (after its own idle timeout,
/// or after each response without saying `Connection: close`). One seen closed (or sending
/// unasked bytes) when taken is discarded and the next one tried. One that fails before any
/// response byte arrived lost a race with the upstream's close: the request goes out once more
/// on a fresh connection if it is safe to send twice ([`replayable`]) or its head did not even
/// go out whole. The encoded head is the copy that is sent again. This happens whatever the
/// route's retry policy says and does not count as one of its retries; a fresh connection that
/// fails is a real failure and is reported.
pub(crate) async fn send(
    endpoint: SocketAddr,
    request: Request<RequestBody>,
    limits: Limits<'_>,
) -> Result<(Response<UpstreamBody>, Lease), SendError> {
    let (parts, mut body) = request.into_parts();
    let framing = match body {
        RequestBody::Streaming { .. } if !parts.headers.contains_key(header::CONTENT_LENGTH) => {
            BodyFraming::Chunked
        }
        _ => BodyFraming::AsIs,
    };
    let head_request = parts.method == Method::HEAD;
    let replay = replayable(&parts.method, &body);
    let head = h1::encode::head(&parts.method, &parts.uri, &parts.headers, framing);
    drop(parts);
    if let Some(mut conn) = take_idle(endpoint) {
        match h1::exchange(&mut conn, &head, framing, &mut body, head_request).await {
            Ok(exchanged) => return Ok(respond(endpoint, conn, exchanged)),
            Err(failed) if failed.before_response && (replay || failed.unsent) => {
                tracing::debug!(%endpoint, error = %failed.error, "pooled connection was closed under the request; sending it again on a fresh connection");
            }
            Err(failed) => return Err(SendError::Upstream(failed.error)),
        }
    }
    let mut conn = connect(endpoint, limits).await?;
    match h1::exchange(&mut conn, &head, framing, &mut body, head_request).await {
        Ok(exchanged) => Ok(respond(endpoint, conn, exchanged)),
        Err(failed) => Err(SendError::Upstream(failed.error)),
    }
}

fn respond(
    endpoint: SocketAddr,
    conn: Conn,
    exchanged: Exchanged,
) -> (Response<UpstreamBody>, Lease) {
    let Exchanged { head, reusable } = exchanged;
    let reusable = reusable && head.framing != Framing::Eof;
    let body = h1::Body::new(conn, Decoder::new(head.framing), reusable, endpoint);
    let mut response = Response::new(UpstreamBody::H1(body));
    *response.status_mut() = head.status;
    *response.version_mut() = head.version;
    *response.headers_mut() = head.headers;
    (response, Lease::default())
}

/// Whether sending a request twice is harmless: an idempotent method (RFC 9110, 9.2.2) and no
/// body to replay. POST and PATCH never are; neither is anything with a streaming body.
pub(crate) fn replayable(method: &Method, body: &RequestBody) -> bool {
    matches!(body, RequestBody::Empty)
        && matches!(
            *method,
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::TRACE
                | Method::PUT
                | Method::DELETE
        )
}

/// The most recently used connection that is still usable: it is the least likely to have
/// been closed by the upstream. Closed and expired ones met on the way are dropped.
fn take_idle(endpoint: SocketAddr) -> Option<Conn> {
    let now = Instant::now();
    POOL.with(|pool| {
        let mut pool = pool.try_borrow_mut().ok()?;
        let idle = pool.idle.get_mut(&endpoint)?;
        while let Some(idle) = idle.pop() {
            if now.duration_since(idle.since) < IDLE_TIMEOUT && idle.conn.is_usable_idle() {
                return Some(idle.conn);
            }
        }
        None
    })
}

/// Takes a place under `maxConnections` for as long as the connection lives, and one under
/// `maxPendingRequests` while it is being established. lockgate does not queue: a request
/// beyond either limit fails at once (503).
fn admit(limits: Limits<'_>) -> Result<(Permit, Permit), SendError> {
    let connection = limits
        .upstream
        .acquire(Limit::Connections, limits.breakers.max_connections)
        .map_err(SendError::Overflow)?;
    let pending = limits
        .upstream
        .acquire(Limit::PendingRequests, limits.breakers.max_pending_requests)
        .map_err(SendError::Overflow)?;
    Ok((connection, pending))
}

async fn connect(endpoint: SocketAddr, limits: Limits<'_>) -> Result<Conn, SendError> {
    let (permit, pending) = admit(limits)?;
    let stream = connect_tcp(endpoint).await?;
    drop(pending);
    Ok(Conn::new(stream, permit))
}

/// Sends an `Upgrade` request on a connection of its own: if the upstream agrees, the
/// connection becomes the tunnel and never returns to the pool. The permit is the tunnel's
/// place under `maxConnections`: keep it as long as the tunnel.
pub(crate) async fn send_upgrade(
    endpoint: SocketAddr,
    request: Request<RequestBody>,
    limits: Limits<'_>,
) -> Result<(Response<Incoming>, Permit), SendError> {
    let (permit, pending) = admit(limits)?;
    let stream = connect_tcp(endpoint).await?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| SendError::Connect(format!("handshake: {error}")))?;
    drop(pending);
    tokio::spawn(async move {
        if let Err(error) = connection.with_upgrades().await {
            tracing::debug!(%endpoint, %error, "upstream connection ended with an error");
        }
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(SendError::Hyper)?;
    Ok((response, permit))
}

pub(crate) async fn connect_tcp(endpoint: SocketAddr) -> Result<TcpStream, SendError> {
    let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(endpoint)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return Err(SendError::Connect(format!("tcp connect error: {error}"))),
        Err(_) => {
            return Err(SendError::Connect(format!(
                "tcp connect timeout after {}s",
                CONNECT_TIMEOUT.as_secs()
            )));
        }
    };
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_idempotent_methods_without_a_body_are_replayed() {
        for method in [
            Method::GET,
            Method::HEAD,
            Method::OPTIONS,
            Method::TRACE,
            Method::PUT,
            Method::DELETE,
        ] {
            assert!(replayable(&method, &RequestBody::Empty), "{method}");
        }
        for method in [Method::POST, Method::PATCH, Method::CONNECT] {
            assert!(!replayable(&method, &RequestBody::Empty), "{method}");
        }
    }
}
