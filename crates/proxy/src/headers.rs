//! Message hygiene on the way through: hop-by-hop removal, `Expect`, split cookies, and the
//! size of a request head.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// Removes the headers that describe one connection (RFC 9110 section 7.6.1) and every header
/// the `Connection` header names, so that nothing meant for this hop leaks to the next.
pub(crate) fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none: one pass over the names costs less than seven hashed removals.
    if !headers.keys().any(is_hop_by_hop) {
        return;
    }
    if let Some(connection) = headers.get(header::CONNECTION) {
        // Only tokens beyond the usual `keep-alive`/`close`/`upgrade` need a second look.
        let named = header_names_in(connection);
        let extra: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .skip(1)
            .flat_map(header_names_in)
            .chain(named)
            .collect();
        for name in extra {
            headers.remove(name);
        }
    }
    headers.remove(header::CONNECTION);
    headers.remove(&KEEP_ALIVE);
    headers.remove(&PROXY_CONNECTION);
    headers.remove(header::TE);
    headers.remove(header::TRAILER);
    headers.remove(header::TRANSFER_ENCODING);
    headers.remove(header::UPGRADE);
}

/// Whether the client's `TE` accepts trailers. gRPC needs `te: trailers` on HTTP/2 and
/// hop-by-hop removal drops `TE`, so an HTTP/2 upstream gets exactly `trailers` back when this
/// holds (no other `TE` value is allowed in HTTP/2, RFC 9113 section 8.2.2).
pub(crate) fn asks_for_trailers(headers: &HeaderMap) -> bool {
    headers.get_all(header::TE).iter().any(|value| {
        value.to_str().unwrap_or("").split(',').any(|coding| {
            let name = coding.split(';').next().unwrap_or("");
            name.trim().eq_ignore_ascii_case("trailers")
        })
    })
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    name == header::CONNECTION
        || name == KEEP_ALIVE
        || name == PROXY_CONNECTION
        || name == header::TE
        || name == header::TRAILER
        || name == header::TRANSFER_ENCODING
        || name == header::UPGRADE
}

/// The client's `Expect: 100-continue` was answered by this hop (hyper sends `100 Continue` when
/// the proxy starts reading the body); the upstream gets the body without being asked, as Envoy
/// does.
pub(crate) fn remove_expect_continue(headers: &mut HeaderMap) {
    if headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
    {
        headers.remove(header::EXPECT);
    }
}

fn header_names_in(value: &HeaderValue) -> impl Iterator<Item = HeaderName> + '_ {
    value
        .to_str()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|token| {
            !token.eq_ignore_ascii_case("close") && !token.eq_ignore_ascii_case("keep-alive")
        })
        .filter_map(|token| HeaderName::from_bytes(token.as_bytes()).ok())
}

/// HTTP/2 may split `cookie` into one field per cookie; an HTTP/1.1 upstream must get them as one
/// field joined by `; ` (RFC 9113 section 8.2.3).
pub(crate) fn join_cookies(headers: &mut HeaderMap) {
    let mut cookies = headers.get_all(header::COOKIE).iter();
    let (Some(first), Some(_)) = (cookies.next(), cookies.next()) else {
        return;
    };
    let mut joined = first.as_bytes().to_vec();
    for cookie in headers.get_all(header::COOKIE).iter().skip(1) {
        joined.extend_from_slice(b"; ");
        joined.extend_from_slice(cookie.as_bytes());
    }
    if let Ok(value) = HeaderValue::from_bytes(&joined) {
        headers.insert(header::COOKIE, value);
    }
}

/// The size of a request's head as Envoy counts it for `max_request_headers_kb`: the method,
/// the target and every header's name and value. hyper's read-buffer limit stops a larger head
/// only roughly (it reads in growing chunks), so the proxy checks this exactly.
pub(crate) fn head_bytes(parts: &http::request::Parts) -> usize {
    let target = parts.uri.path_and_query().map_or(0, |p| p.as_str().len())
        + parts.uri.authority().map_or(0, |a| a.as_str().len());
    parts.headers.iter().fold(
        parts.method.as_str().len() + target,
        |sum, (name, value)| sum + name.as_str().len() + value.len(),
    )
}

#[cfg(test)]
#[path = "headers_test.rs"]
mod tests;
