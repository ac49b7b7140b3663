//! The request headers phase: the head's size, counted as Envoy counts it, and the authority
//! the request is routed by (see `authority`).

use http::Response;
use http::StatusCode;
use http::request::Parts;

use crate::authority::{self, Routed};
use crate::body::ProxyBody;
use crate::filters::direct_response::local;
use crate::headers;
use crate::limits::Limits;

/// The authority to route by, or the answer that refuses the request.
#[allow(clippy::result_large_err)] // the `Err` is the client's answer, see `phases`
pub(crate) fn check<'a>(
    parts: &'a Parts,
    limits: &Limits,
) -> Result<Routed<'a>, Response<ProxyBody>> {
    if headers::head_bytes(parts) > limits.max_request_header_bytes {
        return Err(local(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request headers too large",
        ));
    }
    authority::routed(parts).map_err(|error| local(StatusCode::BAD_REQUEST, error.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(host: Option<&str>, extra: usize) -> Parts {
        let mut builder = http::Request::get("/echo");
        if let Some(host) = host {
            builder = builder.header("host", host);
        }
        if extra > 0 {
            builder = builder.header("x-filler", "a".repeat(extra));
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn a_head_within_the_limit_is_routed_by_its_host() {
        let parts = parts(Some("example.com"), 0);
        let routed = check(&parts, &Limits::default()).ok().unwrap();
        assert_eq!(routed.authority, "example.com");
    }

    #[test]
    fn a_head_beyond_the_limit_gets_431() {
        let limits = Limits {
            max_request_header_bytes: 100,
            ..Limits::default()
        };
        let parts = parts(Some("example.com"), 100);
        let refused = check(&parts, &limits).err().unwrap();
        assert_eq!(
            refused.status(),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
        );
    }

    #[test]
    fn a_request_without_a_host_gets_400() {
        let parts = parts(None, 0);
        let refused = check(&parts, &Limits::default()).err().unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    }
}
