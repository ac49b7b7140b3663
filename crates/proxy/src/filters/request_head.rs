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
