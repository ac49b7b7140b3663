//! Upstream connections for clusters whose Upstream says `useHttp2`: HTTP/2 with prior
//! knowledge (h2c; h2 over TLS comes with TLS), one connection per endpoint and worker thread.
//!
//! HTTP/2 multiplexes, so unlike HTTP/1.1 (see `pool`) a connection is never one request's:
//! there is nothing to lease and give back. Each worker thread keeps one connection per
//! endpoint in a thread-local map, as `pool` does and for the same reason (no lock shared
//! between workers); a request clones the connection's sender (a reference count) and opens a
//! stream on it. Requests that find no connection wait for one connect through the slot's
//! `OnceCell`, rather than each dialling its own, and each counts as pending under
//! `maxPendingRequests` while it waits. The connection holds its place under `maxConnections`
//! for as long as it lives. One found closed (the upstream went away, or sent GOAWAY and
//! finished its streams) is replaced by the request that finds it so; one unused for
//! [`IDLE_TIMEOUT`] is dropped at the next sweep, since its endpoint may have left the
//! configuration while the connection kept its place under `maxConnections`.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http::uri::{Authority, PathAndQuery, Scheme};
use http::{Request, Response, Uri, Version, header};
use hyper::body::Incoming;
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::body::RequestBody;
use crate::pool::{self, EndpointHasher, Limits, SendError};
use crate::upstream::Limit;

/// As `pool`'s: upstream servers close idle connections too, and an endpoint that left the
/// configuration should not keep a connection open.
const IDLE_TIMEOUT: Duration = Duration::from_secs(50);
/// How often a thread sweeps its map for idle and closed connections.
const SWEEP_INTERVAL: Duration = Duration::from_secs(10);
/// While streams are open and nothing has arrived for this long, the connection is PINGed.
/// A timed-out stream does not close an HTTP/2 connection, so without this an upstream that
/// vanished without a FIN (a host gone, a partition) would take every later request on the
/// shared connection into the route timeout.
const PING_INTERVAL: Duration = Duration::from_secs(10);
/// A PING unanswered this long closes the connection; the next request opens a new one.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

type Sender = http2::SendRequest<RequestBody>;
/// One endpoint's connection: empty until the first connect succeeds.
type Cell = Arc<OnceCell<Sender>>;

struct Slot {
    cell: Cell,
    last_used: Instant,
}

#[derive(Default)]
struct Connections {
    slots: HashMap<SocketAddr, Slot, BuildHasherDefault<EndpointHasher>>,
    last_sweep: Option<Instant>,
}

thread_local! {
    static CONNECTIONS: RefCell<Connections> = RefCell::new(Connections::default());
}

/// Sends `request` (origin-form URI, with a `Host` header) to `endpoint` as HTTP/2, on this
/// thread's connection to it, or a new one.
///
/// A connection can close between the check and the send (the upstream restarted, or sent
/// GOAWAY). A request it hands back unsent, or one that is safe to send twice
/// ([`pool::replayable`]) and lost to the close before any answer, goes out once more on a
/// new connection, as `pool::send` does for HTTP/1.1; anything else is reported.
pub(crate) async fn send(
    endpoint: SocketAddr,
    request: Request<RequestBody>,
    limits: Limits<'_>,
) -> Result<Response<Incoming>, SendError> {
    let request = absolute(request, endpoint)?;
    let replay = pool::replayable(request.method(), request.body()).then(|| Replay::of(&request));
    let (mut sender, cell) = connection(endpoint, limits, None).await?;
    let request = match sender.try_send_request(request).await {
        Ok(response) => return Ok(response),
        Err(mut error) => match error.take_message() {
            Some(unsent) => unsent,
            None => {
                let error = error.into_error();
                match replay {
                    Some(replay) if lost_to_a_close(&error) => replay.into_request(),
                    _ => return Err(SendError::Hyper(error)),
                }
            }
        },
    };
    tracing::debug!(%endpoint, "HTTP/2 connection closed under the request; sending it on a new one");
    let (mut sender, _) = connection(endpoint, limits, Some(&cell)).await?;
    sender.send_request(request).await.map_err(SendError::Hyper)
}

/// Whether `error` means the stream never got an answer because its connection went away:
/// what `pool` says for HTTP/1.1 (the socket failed or closed), or a stream the upstream
/// refused or cut off with GOAWAY. A graceful shutdown's first GOAWAY races the streams opened
/// meanwhile, which the upstream then never processes (RFC 9113, section 6.8).
fn lost_to_a_close(error: &hyper::Error) -> bool {
    socket_lost(error)
        || std::error::Error::source(error)
            .and_then(|source| source.downcast_ref::<h2::Error>())
            .is_some_and(unprocessed)
}

/// The connection went away before a response arrived, rather than the upstream answering
/// something unreadable.
fn socket_lost(error: &hyper::Error) -> bool {
    if error.is_parse() || error.is_user() || error.is_timeout() {
        return false;
    }
    error.is_incomplete_message()
        || error.is_canceled()
        || error.is_closed()
        || std::error::Error::source(error).is_some_and(|source| source.is::<std::io::Error>())
}

/// The head of a request without a body, kept to send it again on a new connection.
struct Replay {
    method: http::Method,
    uri: http::Uri,
    version: http::Version,
    headers: http::HeaderMap,
}

impl Replay {
    fn of(request: &Request<RequestBody>) -> Replay {
        Replay {
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            headers: request.headers().clone(),
        }
    }

    fn into_request(self) -> Request<RequestBody> {
        let mut request = Request::new(RequestBody::Empty);
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        *request.version_mut() = self.version;
        *request.headers_mut() = self.headers;
        request
    }
}

fn unprocessed(error: &h2::Error) -> bool {
    error.is_go_away() || error.reason() == Some(h2::Reason::REFUSED_STREAM)
}

/// HTTP/2 carries the target as `:scheme`, `:authority` and `:path`, taken from an absolute
/// URI: the authority is the `Host` header's (the one routed on), else the endpoint's address.
/// The `Host` header itself goes, since `:authority` replaces it.
fn absolute(
    mut request: Request<RequestBody>,
    endpoint: SocketAddr,
) -> Result<Request<RequestBody>, SendError> {
    let authority = request
        .headers_mut()
        .remove(header::HOST)
        .and_then(|host| Authority::try_from(host.as_bytes()).ok())
        .or_else(|| Authority::try_from(endpoint.to_string()).ok());
    let mut target = std::mem::take(request.uri_mut()).into_parts();
    target.scheme = Some(Scheme::HTTP);
    target.authority = authority;
    if target.path_and_query.is_none() {
        target.path_and_query = Some(PathAndQuery::from_static("/"));
    }
    // Not reachable with the parts above (a scheme, an authority and a path); nothing is sent.
    *request.uri_mut() = Uri::from_parts(target)
        .map_err(|error| SendError::Connect(format!("HTTP/2 request target: {error}")))?;
    *request.version_mut() = Version::HTTP_2;
    Ok(request)
}

/// This thread's open connection to `endpoint`, connecting if there is none. `stale` is a
/// connection the caller saw fail: it is replaced, unless another request already did.
async fn connection(
    endpoint: SocketAddr,
    limits: Limits<'_>,
    stale: Option<&Cell>,
) -> Result<(Sender, Cell), SendError> {
    let cell = slot(endpoint, stale);
    if let Some(sender) = cell.get().filter(|sender| !sender.is_closed()) {
        return Ok((sender.clone(), cell));
    }
    // Waiting for a connection to be established is what Envoy counts as pending. lockgate
    // does not queue beyond the limit: the request fails at once (503).
    let _pending = limits
        .upstream
        .acquire(Limit::PendingRequests, limits.breakers.max_pending_requests)
        .map_err(SendError::Overflow)?;
    let sender = cell
        .get_or_try_init(|| connect(endpoint, limits))
        .await?
        .clone();
    Ok((sender, cell))
}

/// The slot of `endpoint` on this thread, with a new (empty) cell in place of a closed
/// connection or of `stale`.
fn slot(endpoint: SocketAddr, stale: Option<&Cell>) -> Cell {
    let now = Instant::now();
    CONNECTIONS.with(|connections| {
        // Never borrowed across an await, so never busy; should it be, a cell of its own
        // still connects (and closes when the request is done with it).
        let Ok(mut connections) = connections.try_borrow_mut() else {
            return Cell::default();
        };
        sweep(&mut connections, now);
        let slot = connections.slots.entry(endpoint).or_insert_with(|| Slot {
            cell: Cell::default(),
            last_used: now,
        });
        let dead = slot.cell.get().is_some_and(Sender::is_closed)
            || stale.is_some_and(|stale| Arc::ptr_eq(stale, &slot.cell));
        if dead {
            slot.cell = Cell::default();
        }
        slot.last_used = now;
        slot.cell.clone()
    })
}

/// Drops the connections that closed or went unused for [`IDLE_TIMEOUT`]; dropping the last
/// sender lets hyper close the connection once its streams have finished.
fn sweep(connections: &mut Connections, now: Instant) {
    if connections
        .last_sweep
        .is_some_and(|last| now.duration_since(last) < SWEEP_INTERVAL)
    {
        return;
    }
    connections.last_sweep = Some(now);
    connections.slots.retain(|_, slot| {
        now.duration_since(slot.last_used) < IDLE_TIMEOUT
            && !slot.cell.get().is_some_and(Sender::is_closed)
    });
}

async fn connect(endpoint: SocketAddr, limits: Limits<'_>) -> Result<Sender, SendError> {
    let permit = limits
        .upstream
        .acquire(Limit::Connections, limits.breakers.max_connections)
        .map_err(SendError::Overflow)?;
    let stream = pool::connect_tcp(endpoint).await?;
    let (sender, connection) = http2::Builder::new(TokioExecutor::new())
        .timer(TokioTimer::new())
        .keep_alive_interval(PING_INTERVAL)
        .keep_alive_timeout(PING_TIMEOUT)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|error| SendError::Connect(format!("HTTP/2 handshake: {error}")))?;
    tokio::spawn(async move {
        let _open = permit;
        if let Err(error) = connection.await {
            tracing::debug!(%endpoint, %error, "HTTP/2 upstream connection ended with an error");
        }
    });
    Ok(sender)
}

#[cfg(test)]
#[path = "h2_pool_test.rs"]
mod tests;
