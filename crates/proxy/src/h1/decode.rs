//! Response heads: parsing (httparse), limits, and how the body is framed (RFC 9112 section 6.3).

use std::mem::MaybeUninit;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};

use super::Error;

/// An upstream may send no more head than this (status line, headers and the blank line).
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Nor more header lines than this.
pub(crate) const MAX_HEADERS: usize = 128;
/// Interim (1xx) responses skipped before the final one: each is consumed as it comes, so this
/// only stops an upstream from holding a request with an endless stream of them.
const MAX_INTERIM: usize = 32;

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// HEAD, 1xx, 204, 304, or `Content-Length: 0`.
    Empty,
    Length(u64),
    Chunked,
    /// Until the upstream closes: the connection cannot carry another request.
    Eof,
}

/// A final response head.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
    pub(crate) framing: Framing,
    /// The upstream lets the connection carry another request (framing aside).
    pub(crate) keep_alive: bool,
}

/// Takes the final response head off the front of `buf`, skipping interim 1xx responses.
/// `Ok(None)`: the head is not complete yet, read more. `head_request`: the request was HEAD,
/// so no body follows whatever the headers say.
pub(crate) fn parse(buf: &mut BytesMut, head_request: bool) -> Result<Option<Head>, Error> {
    for _ in 0..=MAX_INTERIM {
        let Some(head) = parse_one(buf, head_request)? else {
            return Ok(None);
        };
        match head.status.as_u16() {
            // Switching protocols is only asked for on the upgrade path, which is not this one:
            // going along would open a tunnel the route never allowed.
            101 => return Err(Error::UnaskedUpgrade),
            100..=199 => continue,
            _ => return Ok(Some(head)),
        }
    }
    Err(Error::Parse("too many interim responses"))
}

/// Where one header's name and value sit in the head.
#[derive(Clone, Copy, Default)]
struct Span {
    name: (u32, u32),
    value: (u32, u32),
}

fn parse_one(buf: &mut BytesMut, head_request: bool) -> Result<Option<Head>, Error> {
    if buf.is_empty() {
        return Ok(None);
    }
    // Uninitialised slots: filling 128 empty headers first costs more than parsing a small head.
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut spans = [Span::default(); MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        buf,
        &mut slots,
    );
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD_BYTES => {
            return Err(Error::Parse("response head larger than 64 KiB"));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Error::Parse("more than 128 response headers"));
        }
        Err(error) => return Err(Error::Parse(reason(error))),
    };
    if len > MAX_HEAD_BYTES {
        return Err(Error::Parse("response head larger than 64 KiB"));
    }
    let status = response
        .code
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or(Error::Parse("invalid status code"))?;
    let version = match response.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    // The header slices borrow `buf`; their offsets survive the freeze below, which turns the
    // head into shared bytes the header values can point into without a copy.
    let base = buf.as_ptr() as usize;
    let count = response.headers.len();
    for (span, header) in spans.iter_mut().zip(response.headers.iter()) {
        let offset = |s: &[u8]| (s.as_ptr() as usize - base) as u32;
        span.name = (offset(header.name.as_bytes()), header.name.len() as u32);
        span.value = (offset(header.value), header.value.len() as u32);
    }
    let head = buf.split_to(len).freeze();
    let mut headers = HeaderMap::with_capacity(count);
    let mut seen = Seen::default();
    for span in &spans[..count] {
        let (name, value) = (range(&head, span.name), range(&head, span.value));
        let name =
            HeaderName::from_bytes(&name).map_err(|_| Error::Parse("invalid header name"))?;
        let value = HeaderValue::from_maybe_shared(value)
            .map_err(|_| Error::Parse("invalid header value"))?;
        // Noted on the way, so that most heads need no lookups for their framing afterwards.
        seen.note(&name);
        headers.append(name, value);
    }
    let framing = framing(status, head_request, seen, &mut headers)?;
    let keep_alive = !seen.connection && version == Version::HTTP_11
        || seen.connection && keep_alive(version, &headers);
    Ok(Some(Head {
        status,
        version,
        headers,
        framing,
        keep_alive,
    }))
}

fn range(head: &Bytes, (start, len): (u32, u32)) -> Bytes {
    head.slice(start as usize..(start + len) as usize)
}

fn reason(error: httparse::Error) -> &'static str {
    match error {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status line",
        httparse::Error::Token => "invalid token",
        httparse::Error::TooManyHeaders => "more than 128 response headers",
        httparse::Error::Version => "invalid HTTP version",
    }
}

/// RFC 9112 section 6.3, in its order. `Transfer-Encoding` wins over `Content-Length`, which is
/// then removed so that the client is not told a length the body may not have.
/// Which of the headers that decide framing and reuse a head has.
#[derive(Clone, Copy, Default)]
struct Seen {
    connection: bool,
    transfer_encoding: bool,
    content_length: bool,
}

impl Seen {
    fn note(&mut self, name: &HeaderName) {
        if name == header::CONNECTION {
            self.connection = true;
        } else if name == header::TRANSFER_ENCODING {
            self.transfer_encoding = true;
        } else if name == header::CONTENT_LENGTH {
            self.content_length = true;
        }
    }
}

fn framing(
    status: StatusCode,
    head_request: bool,
    seen: Seen,
    headers: &mut HeaderMap,
) -> Result<Framing, Error> {
    let code = status.as_u16();
    if head_request || (100..200).contains(&code) || code == 204 || code == 304 {
        return Ok(Framing::Empty);
    }
    if seen.transfer_encoding {
        let chunked = headers
            .get_all(header::TRANSFER_ENCODING)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .map(<[u8]>::trim_ascii)
            .rfind(|coding| !coding.is_empty())
            .is_some_and(|coding| coding.eq_ignore_ascii_case(b"chunked"));
        headers.remove(header::CONTENT_LENGTH);
        // Chunked must be the last coding to delimit the body; otherwise only the close does.
        return Ok(if chunked {
            Framing::Chunked
        } else {
            Framing::Eof
        });
    }
    if !seen.content_length {
        return Ok(Framing::Eof);
    }
    let mut length = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        for item in value.as_bytes().split(|&b| b == b',') {
            let parsed =
                parse_length(item.trim_ascii()).ok_or(Error::Parse("invalid content-length"))?;
            match length {
                Some(seen) if seen != parsed => {
                    return Err(Error::Parse("conflicting content-length values"));
                }
                _ => length = Some(parsed),
            }
        }
    }
    Ok(match length {
        Some(0) => Framing::Empty,
        Some(n) => Framing::Length(n),
        None => Framing::Eof,
    })
}

fn parse_length(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &d| {
        d.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
            .flatten()
    })
}

/// HTTP/1.1 keeps the connection unless told `close`; HTTP/1.0 only when told `keep-alive`.
fn keep_alive(version: Version, headers: &HeaderMap) -> bool {
    let says = |token: &[u8]| {
        headers
            .get_all(header::CONNECTION)
            .iter()
            .flat_map(|v| v.as_bytes().split(|&b| b == b','))
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
    };
    if version == Version::HTTP_10 {
        says(b"keep-alive") && !says(b"close")
    } else {
        !says(b"close")
    }
}

#[cfg(test)]
#[path = "decode_test.rs"]
mod tests;
