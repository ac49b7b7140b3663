//! Route matching: the first route of the virtual host whose matcher holds wins.
//!
//! The translator has already ordered the routes and compiled the regular expressions, so this
//! is a plain scan. Everything here borrows from the request; nothing allocates unless a header
//! repeats (its values are then joined with `,` as Envoy does) or a query value is escaped.

use std::borrow::Cow;

use crate::path::hex_value;
use http::{HeaderMap, Method};
use lockgate_compiled::{HeaderMatch, Matcher, PathMatch, QueryMatch, Route, ValueMatch};

/// What a matcher looks at: the request as received, with its normalised path.
pub(crate) struct RequestView<'a> {
    pub(crate) method: &'a Method,
    /// Normalised, without the query.
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    pub(crate) authority: &'a str,
    pub(crate) headers: &'a HeaderMap,
}

/// The first matching route and its index in `routes`.
pub(crate) fn find<'r>(
    routes: &'r [Route],
    request: &RequestView<'_>,
) -> Option<(usize, &'r Route)> {
    routes
        .iter()
        .enumerate()
        .find(|(_, route)| matches(&route.matcher, request))
}

pub(crate) fn matches(matcher: &Matcher, request: &RequestView<'_>) -> bool {
    path_matches(&matcher.path, request.path)
        && (matcher.methods.is_empty()
            || matcher.methods.iter().any(|m| m == request.method.as_str()))
        && matcher.headers.iter().all(|h| header_matches(h, request))
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

/// The length of the path prefix a prefix rewrite replaces: the prefix for prefix routes, the
/// whole path for exact ones; regex routes are not rewritten.
pub(crate) fn rewritable_prefix_len(path_match: &PathMatch, path: &str) -> Option<usize> {
    match path_match {
        PathMatch::Prefix { value, .. } => Some(value.len()),
        PathMatch::Exact { .. } => Some(path.len()),
        PathMatch::Regex(_) => None,
    }
}

fn header_matches(header: &HeaderMatch, request: &RequestView<'_>) -> bool {
    let found = match header_value(&header.name, request) {
        None => false,
        Some(value) => value_matches(&header.value, &value),
    };
    found != header.invert
}

/// The value of a request header for matching; the pseudo-headers of HTTP/2 are available for
/// HTTP/1.1 requests too, as in Envoy. Bytes that are not UTF-8 read as U+FFFD.
fn header_value<'a>(name: &str, request: &'a RequestView<'_>) -> Option<Cow<'a, str>> {
    match name {
        ":authority" => return Some(Cow::Borrowed(request.authority)),
        ":method" => return Some(Cow::Borrowed(request.method.as_str())),
        ":path" => return Some(Cow::Borrowed(request.path)),
        ":scheme" => return Some(Cow::Borrowed("http")),
        _ => {}
    }
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
