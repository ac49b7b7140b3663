//! Sending a request to a cluster: endpoint choice, the route timeout, retries, and the
//! translation of upstream failures into the answers a client can read.

use std::net::SocketAddr;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::uri::PathAndQuery;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use http_body::Body as _;
use tokio::time::Instant;

use crate::body::{ProxyBody, RequestBody, UpstreamBody};
use crate::h2_pool;
use crate::headers;
use crate::outlier::Outcome;
use crate::plan::{ClusterState, RetryPolicy};
use crate::pool::{self, Lease, Limits, SendError};
use crate::rng;
use crate::upstream::{Limit, Permit};

/// Envoy's base retry back-off; each retry doubles it, with full jitter.
const RETRY_BACK_OFF: Duration = Duration::from_millis(25);

/// An upstream request, ready to be sent (again, if the route retries).
pub(crate) struct Outgoing {
    pub(crate) method: Method,
    pub(crate) path_and_query: PathAndQuery,
    pub(crate) headers: HeaderMap,
    pub(crate) body: RequestBody,
}

/// Why no upstream response came back. The details (which endpoint, what the socket said) are
/// for the log; the client's answer names no address.
#[derive(Debug)]
pub(crate) enum Failure {
    Connect(String),
    Reset(String),
    Timeout,
    /// A circuit breaker of the upstream is full.
    Overflow(Limit),
}

impl Failure {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Failure::Connect(_) | Failure::Reset(_) => StatusCode::BAD_GATEWAY,
            Failure::Timeout => StatusCode::GATEWAY_TIMEOUT,
            Failure::Overflow(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// What the log says: the endpoint and the error.
    pub(crate) fn detail(&self) -> &str {
        match self {
            Failure::Connect(detail) | Failure::Reset(detail) => detail,
            Failure::Timeout => "timeout",
            Failure::Overflow(limit) => limit.field(),
        }
    }

    /// What the client reads: Envoy's kind of words, never an address.
    pub(crate) fn body(&self) -> String {
        match self {
            Failure::Connect(_) => "upstream connect error: connection failure".to_string(),
            Failure::Reset(_) => {
                "upstream connect error: connection reset before the response".to_string()
            }
            Failure::Timeout => "upstream request timeout".to_string(),
            Failure::Overflow(limit) => format!("upstream overflow: {} reached", limit.field()),
        }
    }
}

/// Picks the next endpoint in round-robin order, skipping ejected ones. When every endpoint is
/// ejected (possible when subsets of one upstream overlap), the turn's endpoint is used anyway:
/// a cluster always has somewhere to send.
pub(crate) fn pick(cluster: &ClusterState) -> usize {
    let count = cluster.endpoints.len();
    let turn = cluster.counters.next_round_robin() % count;
    if !cluster.outlier_detection.enabled() {
        return turn;
    }
    let now = cluster.upstream.detector.now();
    (0..count)
        .map(|step| (turn + step) % count)
        .find(|&i| !cluster.health.get(i).is_some_and(|h| h.is_ejected(now)))
        .unwrap_or(turn)
}

/// Sends `outgoing` to the cluster's endpoints in round-robin order until an answer is final:
/// retries happen only when the route asks for them, the request has no body to replay, and the
/// upstream's `maxRetries` allows one more. Each attempt takes a place under `maxRequests`
/// (kept with the response body) and tells outlier detection how its endpoint did.
pub(crate) async fn send(
    cluster: &ClusterState,
    outgoing: Outgoing,
    retries: Option<&RetryPolicy>,
    deadline: Option<Instant>,
) -> Result<(Response<UpstreamBody>, Lease), Failure> {
    let retries = retries.filter(|_| matches!(outgoing.body, RequestBody::Empty));
    let per_try = retries.and_then(|r| r.per_try_timeout);
    let attempts = 1 + retries.map_or(0, |r| r.attempts);
    let limits = Limits {
        upstream: &cluster.upstream,
        breakers: &cluster.circuit_breakers,
    };
    let mut attempt = 1;
    let mut retrying: Option<Permit> = None;
    let mut outgoing = Some(outgoing);
    loop {
        let index = pick(cluster);
        let endpoint = cluster.endpoints[index];
        let last = attempt >= attempts;
        // Only a request without a body is retried, so a copy needs no body.
        let this_try = match (&outgoing, last) {
            (Some(original), false) => Outgoing {
                method: original.method.clone(),
                path_and_query: original.path_and_query.clone(),
                headers: original.headers.clone(),
                body: RequestBody::Empty,
            },
            _ => match outgoing.take() {
                Some(original) => original,
                None => {
                    return Err(Failure::Reset(format!(
                        "{endpoint}: retry without a request"
                    )));
                }
            },
        };
        let permit = cluster
            .upstream
            .acquire(Limit::Requests, cluster.circuit_breakers.max_requests)
            .map_err(Failure::Overflow)?;
        let request = build(this_try, endpoint);
        let try_deadline = match (deadline, per_try) {
            (Some(d), Some(p)) => Some(d.min(Instant::now() + p)),
            (d, p) => d.or_else(|| p.map(|p| Instant::now() + p)),
        };
        let result = attempt_once(request, endpoint, try_deadline, limits, cluster.http2)
            .await
            .map(|(response, mut lease)| {
                lease.hold(permit, endpoint);
                (response, lease)
            });
        record(cluster, index, &result);
        let retry = !last
            && retries.is_some_and(|policy| match &result {
                Ok((response, _)) => policy.on_status(response.status()),
                Err(failure) => {
                    let route_deadline_reached =
                        matches!(failure, Failure::Timeout) && try_deadline == deadline;
                    !route_deadline_reached && policy.on_failure(failure)
                }
            });
        if !retry {
            return result;
        }
        let back_off = jittered_back_off(attempt);
        if deadline.is_some_and(|d| Instant::now() + back_off >= d) {
            return result;
        }
        // The previous retry's place is given back before asking for the next one.
        drop(retrying.take());
        match cluster
            .upstream
            .acquire(Limit::Retries, cluster.circuit_breakers.max_retries)
        {
            Ok(permit) => drop(retrying.replace(permit)),
            Err(_) => return result,
        }
        drop(result);
        tokio::time::sleep(back_off).await;
        attempt += 1;
    }
}

/// The client's response from the upstream's: hop-by-hop headers removed (a `101` keeps the
/// upgrade's), the body streamed and cut at the route's deadline, the pooled connection given
/// back when the body ends.
pub(crate) fn stream_back(
    response: Response<UpstreamBody>,
    lease: Option<Lease>,
    deadline: Option<Instant>,
) -> Response<ProxyBody> {
    let (mut head, body) = response.into_parts();
    if head.status != StatusCode::SWITCHING_PROTOCOLS {
        headers::remove_hop_by_hop(&mut head.headers);
    }
    let body = if body.is_end_stream() {
        // Nothing will poll an empty body to its end: release the connection now.
        if let Some(lease) = lease {
            lease.release();
        }
        ProxyBody::Empty
    } else {
        match deadline {
            Some(deadline) => ProxyBody::Deadline {
                body,
                deadline: tokio::time::sleep_until(deadline),
                lease,
            },
            None => ProxyBody::Streaming { body, lease },
        }
    };
    Response::from_parts(head, body)
}

/// Tells outlier detection how an attempt went: failures to connect, resets and timeouts count
/// as gateway failures, as Envoy maps them; a full circuit breaker says nothing about the
/// endpoint.
fn record(
    cluster: &ClusterState,
    index: usize,
    result: &Result<(Response<UpstreamBody>, Lease), Failure>,
) {
    if !cluster.outlier_detection.enabled() {
        return;
    }
    let outcome = match result {
        Ok((response, _)) => Outcome::of_status(response.status().as_u16()),
        Err(Failure::Overflow(_)) => return,
        Err(_) => Outcome::GatewayFailure,
    };
    cluster
        .upstream
        .detector
        .record(&cluster.outlier_detection, &cluster.health, index, outcome);
}

async fn attempt_once(
    request: Request<RequestBody>,
    endpoint: SocketAddr,
    deadline: Option<Instant>,
    limits: Limits<'_>,
    http2: bool,
) -> Result<(Response<UpstreamBody>, Lease), Failure> {
    let result = if http2 {
        // A stream on a shared connection: nothing goes back to a pool at the end.
        let sent = h2_pool::send(endpoint, request, limits);
        within(deadline, sent)
            .await?
            .map(|response| (response.map(UpstreamBody::Hyper), Lease::default()))
    } else {
        within(deadline, pool::send(endpoint, request, limits)).await?
    };
    let (response, lease) = result.map_err(|error| failure(endpoint, error))?;
    if response.status() == StatusCode::SWITCHING_PROTOCOLS {
        // No upgrade was asked for (those go through `upgrade`): switching protocols here would
        // open a tunnel the route never allowed.
        return Err(Failure::Reset(format!(
            "{endpoint}: 101 Switching Protocols to a request without an upgrade"
        )));
    }
    Ok((response, lease))
}

/// `sent`, cut off at `deadline`.
async fn within<T>(
    deadline: Option<Instant>,
    sent: impl Future<Output = Result<T, SendError>>,
) -> Result<Result<T, SendError>, Failure> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, sent)
            .await
            .map_err(|_| Failure::Timeout),
        None => Ok(sent.await),
    }
}

pub(crate) fn failure(endpoint: SocketAddr, error: SendError) -> Failure {
    let failure = match error {
        SendError::Connect(detail) => Failure::Connect(format!("{endpoint}: {detail}")),
        SendError::Upstream(error) => Failure::Reset(format!("{endpoint}: {error}")),
        SendError::Hyper(error) => Failure::Reset(format!("{endpoint}: {error}")),
        SendError::Overflow(limit) => Failure::Overflow(limit),
    };
    tracing::debug!(detail = failure.detail(), "upstream request failed");
    failure
}

pub(crate) fn build(outgoing: Outgoing, endpoint: SocketAddr) -> Request<RequestBody> {
    let mut request = Request::new(outgoing.body);
    *request.method_mut() = outgoing.method;
    // Origin-form: the request line carries only the path; the Host header names the site.
    *request.uri_mut() = Uri::from(outgoing.path_and_query);
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = outgoing.headers;
    if !request.headers().contains_key(header::HOST) {
        // HTTP/1.1 requires a Host; a client that sent none gets the endpoint's address.
        if let Ok(host) = HeaderValue::try_from(endpoint.to_string()) {
            request.headers_mut().insert(header::HOST, host);
        }
    }
    request
}

fn jittered_back_off(attempt: u32) -> Duration {
    let ceiling = RETRY_BACK_OFF * 2u32.saturating_pow(attempt.saturating_sub(1).min(8));
    let millis = u32::try_from(ceiling.as_millis())
        .unwrap_or(u32::MAX)
        .max(1);
    Duration::from_millis(u64::from(rng::below(millis)))
}
