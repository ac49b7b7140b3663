//! A redirect route's answer: its status and a `Location` built from the request and the
//! route's redirect fields.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use lockgate_compiled::Redirect;

use crate::body::ProxyBody;
use crate::filters::direct_response::local;

/// What the redirect needs to know about the request.
pub(crate) struct Origin<'a> {
    /// As received (Host header or `:authority`), port included.
    pub(crate) authority: &'a str,
    /// Normalised.
    pub(crate) path: &'a str,
    pub(crate) query: Option<&'a str>,
    /// How much of `path` a prefix rewrite replaces, when the route can be rewritten.
    pub(crate) rewritable_prefix: Option<usize>,
}

/// The redirect response; a `Location` that is not a valid header value (a host or path the
/// translator let through) is a 500 rather than a broken header.
pub(crate) fn respond(
    status: StatusCode,
    redirect: &Redirect,
    origin: &Origin<'_>,
) -> Response<ProxyBody> {
    let mut response = local(status, Bytes::new());
    match HeaderValue::try_from(location(redirect, origin)) {
        Ok(location) => {
            response.headers_mut().insert(header::LOCATION, location);
        }
        Err(_) => *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR,
    }
    response
}

/// Envoy's rules: `https` switches the scheme and drops the port unless one is given; `host`
/// replaces the host (and the port, if it names one); `path` replaces the path, or
/// `prefix_rewrite` replaces the matched prefix; the query is kept unless `strip_query`.
pub(crate) fn location(redirect: &Redirect, origin: &Origin<'_>) -> String {
    let scheme = if redirect.https { "https" } else { "http" };
    let (mut host, mut port) = split_authority(origin.authority);
    if let Some(new_host) = &redirect.host {
        let (h, p) = split_authority(new_host);
        host = h;
        port = p;
    }
    if redirect.https {
        port = None;
    }
    let port_text;
    if let Some(new_port) = redirect.port {
        port_text = new_port.to_string();
        port = Some(&port_text);
    }
    let mut location = String::with_capacity(64);
    location.push_str(scheme);
    location.push_str("://");
    location.push_str(host);
    if let Some(port) = port {
        location.push(':');
        location.push_str(port);
    }
    match (
        &redirect.path,
        &redirect.prefix_rewrite,
        origin.rewritable_prefix,
    ) {
        (Some(path), _, _) => location.push_str(path),
        (None, Some(rewrite), Some(prefix_len)) => {
            location.push_str(&rewrite_prefix(origin.path, prefix_len, rewrite));
        }
        _ => location.push_str(origin.path),
    }
    if let (Some(query), false) = (origin.query, redirect.strip_query) {
        location.push('?');
        location.push_str(query);
    }
    location
}

/// Replaces the first `prefix_len` bytes of `path` by `rewrite`. When the rewrite ends in `/` and
/// the rest starts with one, the two merge: `/app` rewritten to `/` turns `/app/x` into `/x`,
/// not Envoy's surprising `//x`.
pub(crate) fn rewrite_prefix(path: &str, prefix_len: usize, rewrite: &str) -> String {
    let rest = path.get(prefix_len..).unwrap_or("");
    let rest = if rewrite.ends_with('/') {
        rest.strip_prefix('/').unwrap_or(rest)
    } else {
        rest
    };
    let mut out = String::with_capacity(rewrite.len() + rest.len() + 1);
    if !rewrite.starts_with('/') {
        out.push('/');
    }
    out.push_str(rewrite);
    out.push_str(rest);
    out
}

fn split_authority(authority: &str) -> (&str, Option<&str>) {
    if let Some(end) = authority
        .strip_prefix('[')
        .and_then(|_| authority.find(']'))
    {
        let (host, rest) = authority.split_at(end + 1);
        return (host, rest.strip_prefix(':'));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            (host, Some(port))
        }
        _ => (authority, None),
    }
}

#[cfg(test)]
#[path = "redirect_test.rs"]
mod tests;
