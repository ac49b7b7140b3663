//! Which authority a request is routed by, and the `Host` the upstream gets for it.
//!
//! Routing and forwarding must agree on the host, or a client can be routed as one site and
//! served as another. So there is exactly one answer per request (RFC 9112 section 3.2, RFC 9113
//! section 8.3.1):
//! - an absolute-form target (`GET http://a.example/x`) or HTTP/2's `:authority` wins over the
//!   `Host` header, and the upstream gets a `Host` rebuilt from it;
//! - more than one `Host` header, a missing `Host` on HTTP/1.1 (absolute-form included) or
//!   HTTP/2, and an HTTP/2 `host` header that differs from `:authority` are refused;
//! - every authority is checked as an RFC 3986 `host [":" port]`, more strictly than the RFC in
//!   one way: a registered name may hold only unreserved characters (letters, digits, `-._~`).
//!   Percent-escapes, sub-delimiters and user information are valid URI syntax but appear in no
//!   DNS name, and each is a way to make the gateway and an upstream read one host differently.

use std::net::Ipv6Addr;

use http::Version;
use http::header::{self, HeaderValue};
use http::request::Parts;

/// Why a request's host cannot be trusted; the proxy answers 400 with this text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AuthorityError {
    #[error("more than one Host header")]
    MultipleHost,
    #[error("missing Host header")]
    MissingHost,
    #[error("invalid Host header")]
    InvalidHost,
    #[error("invalid authority in the request target")]
    InvalidAuthority,
    #[error("Host header differs from :authority")]
    Mismatch,
}

/// The authority a request is routed by.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Routed<'a> {
    /// Empty only for an HTTP/1.0 request without `Host` (only a `*` domain matches it).
    pub(crate) authority: &'a str,
    /// The `Host` header must be replaced with `authority` before forwarding: it is absent or
    /// names something else (absolute-form).
    pub(crate) rebuild_host: bool,
}

/// Decides the authority of a request, or why it is refused.
pub(crate) fn routed(parts: &Parts) -> Result<Routed<'_>, AuthorityError> {
    let mut hosts = parts.headers.get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(AuthorityError::MultipleHost);
    }
    let host = match host {
        None => None,
        Some(value) => Some(valid_host_header(value)?),
    };
    let needs_host = parts.version == Version::HTTP_11 || parts.version == Version::HTTP_2;
    match parts.uri.authority() {
        Some(target) => {
            let target = target.as_str();
            if !is_valid_authority(target) {
                return Err(AuthorityError::InvalidAuthority);
            }
            match host {
                None if parts.version == Version::HTTP_11 => Err(AuthorityError::MissingHost),
                Some(host)
                    if parts.version == Version::HTTP_2 && !host.eq_ignore_ascii_case(target) =>
                {
                    Err(AuthorityError::Mismatch)
                }
                _ => Ok(Routed {
                    authority: target,
                    rebuild_host: host != Some(target),
                }),
            }
        }
        None => match host {
            Some(host) => Ok(Routed {
                authority: host,
                rebuild_host: false,
            }),
            None if needs_host => Err(AuthorityError::MissingHost),
            None => Ok(Routed {
                authority: "",
                rebuild_host: false,
            }),
        },
    }
}

fn valid_host_header(value: &HeaderValue) -> Result<&str, AuthorityError> {
    let text = value.to_str().map_err(|_| AuthorityError::InvalidHost)?;
    if is_valid_authority(text) {
        Ok(text)
    } else {
        Err(AuthorityError::InvalidHost)
    }
}

/// `host [":" port]`: an IPv6 literal in brackets or a non-empty name of unreserved
/// characters (IPv4 addresses are such names), and a port of 1 to 5 digits up to 65535.
pub(crate) fn is_valid_authority(text: &str) -> bool {
    let (host_ok, rest) = if let Some(literal) = text.strip_prefix('[') {
        match literal.split_once(']') {
            Some((address, rest)) => (address.parse::<Ipv6Addr>().is_ok(), rest),
            None => return false,
        }
    } else {
        let (name, rest) = match text.find(':') {
            Some(colon) => text.split_at(colon),
            None => (text, ""),
        };
        let name_ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        (name_ok, rest)
    };
    host_ok
        && match rest.strip_prefix(':') {
            None => rest.is_empty(),
            Some(port) => {
                (1..=5).contains(&port.len())
                    && port.bytes().all(|b| b.is_ascii_digit())
                    && port.parse::<u32>().is_ok_and(|p| p <= 65535)
            }
        }
}

#[cfg(test)]
#[path = "authority_test.rs"]
mod tests;
