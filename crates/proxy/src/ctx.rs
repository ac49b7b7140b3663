//! The request context: one per request, threaded through every phase (see `phases`).
//!
//! It holds what a phase decided for the ones after it, and what the log phase reports: who
//! the client is, which virtual host, route, cluster and endpoint were chosen, and when things
//! happened. Phases borrow from the plan the request runs on, so nothing here is cloned from the
//! configuration.

use std::net::SocketAddr;

use http::HeaderValue;
use lockgate_compiled::Route;
use tokio::time::Instant;

use crate::plan::{ClusterState, Plan, RoutePlan};
use crate::stats::Counters;

/// The scheme a client used; `:scheme` route conditions and `x-forwarded-proto` read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    Http,
}

impl Scheme {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
        }
    }

    pub(crate) fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.as_str())
    }
}

/// What the accept phase knows about a connection, shared by its requests.
pub(crate) struct Client {
    pub(crate) peer: SocketAddr,
    /// The peer's address as a header value, formatted once per connection.
    pub(crate) ip: HeaderValue,
    pub(crate) scheme: Scheme,
}

impl Client {
    pub(crate) fn new(peer: SocketAddr, scheme: Scheme) -> Client {
        Client {
            peer,
            ip: HeaderValue::try_from(peer.ip().to_string())
                .unwrap_or_else(|_| HeaderValue::from_static("unknown")),
            scheme,
        }
    }
}

/// The route a request matched, compiled and planned.
#[derive(Clone, Copy)]
pub(crate) struct Matched<'p> {
    pub(crate) index: usize,
    pub(crate) route: &'p Route,
    pub(crate) plan: &'p RoutePlan,
    /// The route's counters, taken once when it matched.
    pub(crate) counters: &'p Counters,
}

pub(crate) struct Ctx<'p> {
    pub(crate) plan: &'p Plan,
    pub(crate) client: &'p Client,
    /// When the request head had been read.
    pub(crate) start: Instant,
    pub(crate) matched: Option<Matched<'p>>,
    pub(crate) cluster: Option<&'p ClusterState>,
    /// The endpoint of the last attempt.
    pub(crate) endpoint: Option<SocketAddr>,
    /// The route timeout's end, covering the whole response.
    pub(crate) deadline: Option<Instant>,
    /// When the upstream's response head arrived.
    pub(crate) upstream_responded: Option<Instant>,
    /// The upstream gave no response (connect failure, reset, timeout): counted as an error.
    pub(crate) upstream_failed: bool,
}

impl<'p> Ctx<'p> {
    pub(crate) fn new(plan: &'p Plan, client: &'p Client, start: Instant) -> Ctx<'p> {
        Ctx {
            plan,
            client,
            start,
            matched: None,
            cluster: None,
            endpoint: None,
            deadline: None,
            upstream_responded: None,
            upstream_failed: false,
        }
    }
}
