//! Request heads and chunked request bodies, as bytes for the wire.
//!
//! Everything written comes from validated types (`Method`, `PathAndQuery`, `HeaderName`,
//! `HeaderValue`), none of which can hold CR or LF, so nothing a client sent can split the head.

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};

/// How the request body is delimited on the way up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// No body, or one of the length the client's `Content-Length` (still in the headers) says.
    AsIs,
    /// A streamed body of unknown length: `Transfer-Encoding: chunked` is added.
    Chunked,
}

/// The request line and headers in one buffer, ready for one write; kept to send the request
/// again when a pooled connection turns out closed.
pub(crate) fn head(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    framing: BodyFraming,
) -> Vec<u8> {
    let target = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let chunked = framing == BodyFraming::Chunked;
    let mut len = method.as_str().len() + target.len() + " HTTP/1.1\r\n\r\n".len() + 1;
    for (name, value) in headers {
        len += name.as_str().len() + value.len() + 4;
    }
    if chunked {
        len += TRANSFER_ENCODING_CHUNKED.len();
    }
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if chunked {
        out.extend_from_slice(TRANSFER_ENCODING_CHUNKED);
    }
    out.extend_from_slice(b"\r\n");
    out
}

const TRANSFER_ENCODING_CHUNKED: &[u8] = b"transfer-encoding: chunked\r\n";

/// The size line that goes before a chunk of `len` bytes.
pub(crate) fn chunk_size_line(len: usize) -> Bytes {
    let mut line = Vec::with_capacity(18);
    line.extend_from_slice(format!("{len:x}").as_bytes());
    line.extend_from_slice(b"\r\n");
    Bytes::from(line)
}

/// What follows each chunk's data.
pub(crate) const CHUNK_END: Bytes = Bytes::from_static(b"\r\n");
/// The last chunk of a chunked body, without trailers.
pub(crate) const LAST_CHUNK: Bytes = Bytes::from_static(b"0\r\n\r\n");

#[cfg(test)]
#[path = "encode_test.rs"]
mod tests;
