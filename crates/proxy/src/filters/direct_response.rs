//! Responses the proxy makes itself: a route's direct response, and every refusal (400, 404,
//! 431, 502, 503, 504). The body is plain text and never names an upstream address.

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};

use crate::body::ProxyBody;

/// A response the proxy makes itself.
pub(crate) fn local(status: StatusCode, body: impl Into<Bytes>) -> Response<ProxyBody> {
    let body: Bytes = body.into();
    let mut response = Response::new(ProxyBody::Empty);
    *response.status_mut() = status;
    if !body.is_empty() {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        *response.body_mut() = ProxyBody::full(body);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body;

    #[test]
    fn a_body_gets_a_text_content_type_and_an_empty_one_none() {
        let response = local(StatusCode::NOT_FOUND, "no route matched");
        assert_eq!(response.status(), 404);
        assert_eq!(
            response.headers()[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        assert_eq!(response.body().size_hint().exact(), Some(16));
        let empty = local(StatusCode::NO_CONTENT, Bytes::new());
        assert!(empty.headers().is_empty());
        assert!(empty.body().is_end_stream());
    }
}
