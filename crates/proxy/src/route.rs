//! Route matching: the first route of the virtual host whose matcher holds wins.
//!
//! The translator has already ordered the routes and compiled the regular expressions; the plan
//! has typed the methods and header names and indexed the routes by path ([`RouteIndex`]), so a
//! request visits only the routes whose path condition can hold, in order. Everything here
//! borrows from the request; nothing allocates unless a header repeats (its values are then
//! joined with `,` as Envoy does) or a query value is escaped.

use std::borrow::{Borrow, Cow};

use http::{HeaderMap, Method};
use lockgate_compiled::{
    CompiledConfig, HeaderMatch, Matcher, PathMatch, QueryMatch, Route, ValueMatch, VirtualHost,
};

use crate::path::{self, EscapedSlashes, hex_value};
use crate::plan::{HeaderKey, MatcherPlan, VirtualHostPlan};
use crate::route_index::RouteIndex;

/// A request as [`find_route`] sees it: what routing looks at, nothing else.
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    pub method: &'a Method,
    /// The authority the virtual host is chosen by (a Host header, with or without port).
    pub authority: &'a str,
    /// The path as received, without the query; it is normalised as the proxy does.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    /// The proxy's policy for `%2F`, `%5C` and `\` (`serve --escaped-slashes`).
    pub escaped_slashes: EscapedSlashes,
}

/// Where a request goes in a configuration, as [`find_route`] answers.
#[derive(Debug, Clone)]
pub enum RouteLookup<'c> {
    /// No virtual host serves the authority (the proxy answers 404).
    NoVirtualHost,
    /// The path cannot be normalised (the proxy answers 400); the reason.
    BadPath(String),
    /// The virtual host has no route for the request (404).
    NoRoute { virtual_host: &'c VirtualHost },
    /// The first matching route, its index in the virtual host, and the normalised path it
    /// was matched against.
    Matched {
        virtual_host: &'c VirtualHost,
        index: usize,
        route: &'c Route,
        path: String,
    },
}

/// The route a request takes in `config`: the virtual host by authority, the path normalised,
/// then the first route whose matcher holds. These are the steps and the functions the proxy's
/// handler runs for every request, so the answer is what the proxy would do (for tools such
/// as an `explain-request` command, and for tests of what translation produces).
pub fn find_route<'c>(config: &'c CompiledConfig, request: &RouteRequest<'_>) -> RouteLookup<'c> {
    let Some(vh_index) = config.virtual_host_index(request.authority) else {
        return RouteLookup::NoVirtualHost;
    };
    let virtual_host = &config.virtual_hosts[vh_index];
    let normalised = match path::normalise(request.path, request.escaped_slashes) {
        Ok(normalised) => normalised,
        Err(error) => return RouteLookup::BadPath(error.to_string()),
    };
    let view = RequestView {
        method: request.method,
        path: &normalised,
        query: request.query,
        authority: request.authority,
        scheme: "http",
        headers: request.headers,
    };
    // The plan the proxy builds for this virtual host: its typed matchers and route index.
    let plan = VirtualHostPlan::build(virtual_host, config.clusters.len());
    match find(virtual_host, &plan, &view) {
        Some(index) => RouteLookup::Matched {
            virtual_host,
            index,
            route: &virtual_host.routes[index],
            path: normalised.into_owned(),
        },
        None => RouteLookup::NoRoute { virtual_host },
    }
}

/// What a matcher looks at: the request as received, with its normalised path.
pub(crate) struct RequestView<'a> {
    pub(crate) method: &'a Method,
    /// Normalised, without the query.
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) authority: &'a str,
    /// What `:scheme` matches: the scheme the client used.
    pub(crate) scheme: &'static str,
    pub(crate) headers: &'a HeaderMap,
}

/// The index of the first route of `vh` whose matcher holds, visiting only the routes the
/// index names for the path.
pub(crate) fn find(
    vh: &VirtualHost,
    plan: &VirtualHostPlan,
    request: &RequestView<'_>,
) -> Option<usize> {
    find_in(
        &vh.routes,
        &plan.index,
        |i| &plan.routes[i].matcher,
        request,
    )
}

/// [`find`] over any routes and index: `planned(i)` is the typed part of route `i`'s matcher.
pub(crate) fn find_in<'p>(
    routes: &[impl Borrow<Route>],
    index: &RouteIndex,
    planned: impl Fn(usize) -> &'p MatcherPlan,
    request: &RequestView<'_>,
) -> Option<usize> {
    debug_assert_eq!(routes.len(), index.len(), "the index is of these routes");
    index.first(request.path, |i| {
        matches(&routes[i].borrow().matcher, planned(i), request)
    })
}

pub(crate) fn matches(matcher: &Matcher, plan: &MatcherPlan, request: &RequestView<'_>) -> bool {
    path_matches(&matcher.path, request.path)
        // The delegating parents' paths a child could not be proven to stay inside.
        && matcher.within.iter().all(|p| path_matches(p, request.path))
        && plan.allows(request.method)
        && matcher
            .headers
            .iter()
            .zip(plan.headers.iter())
            .all(|(h, key)| header_matches(h, key, request))
        && matcher
            .query
            .iter()
            .all(|q| query_matches(q, request.query))
}

fn path_matches(path_match: &PathMatch, path: &str) -> bool {
    match path_match {
        PathMatch::Prefix {
            value,
            case_sensitive,
        } => {
            let (path, value) = (path.as_bytes(), value.as_bytes());
            path.len() >= value.len()
                && if *case_sensitive {
                    &path[..value.len()] == value
                } else {
                    path[..value.len()].eq_ignore_ascii_case(value)
                }
        }
        PathMatch::Exact {
            value,
            case_sensitive,
        } => {
            if *case_sensitive {
                path == value
            } else {
                path.eq_ignore_ascii_case(value)
            }
        }
        PathMatch::Regex(pattern) => pattern.is_match(path),
    }
}

fn header_matches(header: &HeaderMatch, key: &HeaderKey, request: &RequestView<'_>) -> bool {
    let found = match header_value(key, request) {
        None => false,
        Some(value) => value_matches(&header.value, &value),
    };
    found != header.invert
}

/// The value of a request header for matching. Bytes that are not UTF-8 read as U+FFFD.
fn header_value<'a>(key: &HeaderKey, request: &'a RequestView<'_>) -> Option<Cow<'a, str>> {
    let name = match key {
        HeaderKey::Authority => return Some(Cow::Borrowed(request.authority)),
        HeaderKey::Method => return Some(Cow::Borrowed(request.method.as_str())),
        HeaderKey::Path => return Some(Cow::Borrowed(request.path)),
        HeaderKey::Scheme => return Some(Cow::Borrowed(request.scheme)),
        HeaderKey::Absent => return None,
        HeaderKey::Name(name) => name,
    };
    let mut values = request.headers.get_all(name).iter();
    let first = values.next()?;
    let first = String::from_utf8_lossy(first.as_bytes());
    match values.next() {
        None => Some(first),
        Some(second) => {
            let mut joined = first.into_owned();
            for value in std::iter::once(second).chain(values) {
                joined.push(',');
                joined.push_str(&String::from_utf8_lossy(value.as_bytes()));
            }
            Some(Cow::Owned(joined))
        }
    }
}

fn value_matches(expected: &ValueMatch, value: &str) -> bool {
    match expected {
        ValueMatch::Present => true,
        ValueMatch::Exact(exact) => value == exact,
        ValueMatch::Regex(pattern) => pattern.is_match(value),
    }
}

/// The first parameter named `name` decides, as in Envoy. Values are compared percent-decoded,
/// so `?q=a%20b` matches the value `a b` as written in the route.
fn query_matches(query_match: &QueryMatch, query: Option<&str>) -> bool {
    let Some(query) = query else {
        return false;
    };
    let Some(value) = query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        (name == query_match.name).then_some(value)
    }) else {
        return false;
    };
    value_matches(&query_match.value, &percent_decode(value))
}

fn percent_decode(value: &str) -> Cow<'_, str> {
    if !value.contains('%') {
        return Cow::Borrowed(value);
    }
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = bytes.get(i + 1).copied().and_then(hex_value);
            let lo = bytes.get(i + 2).copied().and_then(hex_value);
            if let (Some(hi), Some(lo)) = (hi, lo) {
                out.push(hi << 4 | lo);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

#[cfg(test)]
#[path = "route_test.rs"]
mod tests;
