//! The upstream request learns who asked: the client's address appended to `x-forwarded-for`,
//! the scheme it used in `x-forwarded-proto`, and an `x-request-id` when it came without one
//! (a random UUID, as Envoy generates), so one request can be followed through every hop.

use http::header::{Entry, HeaderMap, HeaderName, HeaderValue};

use crate::ctx::Scheme;
use crate::rng;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Appends the client's address to `x-forwarded-for`, states the scheme the client used, and
/// gives the request an id when it has none.
pub(crate) fn set_forwarded(headers: &mut HeaderMap, client_ip: &HeaderValue, scheme: Scheme) {
    // One hash lookup per header (the entry API), not a lookup and then an insert.
    match headers.entry(&X_FORWARDED_FOR) {
        Entry::Vacant(vacant) => {
            vacant.insert(client_ip.clone());
        }
        Entry::Occupied(mut occupied) => {
            let existing = occupied.get();
            let mut joined = Vec::with_capacity(existing.len() + 2 + client_ip.len());
            joined.extend_from_slice(existing.as_bytes());
            joined.extend_from_slice(b", ");
            joined.extend_from_slice(client_ip.as_bytes());
            // Both parts were valid header values, so is the join; keep the old one otherwise.
            if let Ok(value) = HeaderValue::from_bytes(&joined) {
                occupied.insert(value);
            }
        }
    }
    headers.insert(&X_FORWARDED_PROTO, scheme.header_value());
    if let Entry::Vacant(vacant) = headers.entry(&X_REQUEST_ID) {
        vacant.insert(request_id());
    }
}

/// A random UUID (version 4), as Envoy generates.
fn request_id() -> HeaderValue {
    let bits = rng::next_u128();
    let bytes = (bits & !(0xf000 << 64) | (0x4000 << 64)) & !(0xc << 60) | (0x8 << 60);
    let mut text = [0u8; 36];
    let mut n = 0;
    for (i, byte) in bytes.to_be_bytes().iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text[n] = b'-';
            n += 1;
        }
        text[n] = HEX_LOWER[usize::from(byte >> 4)];
        text[n + 1] = HEX_LOWER[usize::from(byte & 0xf)];
        n += 2;
    }
    HeaderValue::from_bytes(&text).unwrap_or_else(|_| HeaderValue::from_static("0"))
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| (HeaderName::from_static(n), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn forwarded_for_appends_and_proto_is_set() {
        let ip = HeaderValue::from_static("10.0.0.2");
        let mut headers = map(&[("x-forwarded-proto", "https")]);
        set_forwarded(&mut headers, &ip, Scheme::Http);
        assert_eq!(headers["x-forwarded-for"], "10.0.0.2");
        assert_eq!(headers["x-forwarded-proto"], "http");

        let mut headers = map(&[("x-forwarded-for", "1.2.3.4")]);
        set_forwarded(&mut headers, &ip, Scheme::Http);
        assert_eq!(headers["x-forwarded-for"], "1.2.3.4, 10.0.0.2");
    }

    #[test]
    fn request_id_is_generated_only_when_absent() {
        let ip = HeaderValue::from_static("127.0.0.1");
        let mut headers = map(&[("x-request-id", "given")]);
        set_forwarded(&mut headers, &ip, Scheme::Http);
        assert_eq!(headers["x-request-id"], "given");

        let mut a = HeaderMap::new();
        let mut b = HeaderMap::new();
        set_forwarded(&mut a, &ip, Scheme::Http);
        set_forwarded(&mut b, &ip, Scheme::Http);
        let id = a["x-request-id"].to_str().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4", "version 4: {id}");
        assert!(
            matches!(&id[19..20], "8" | "9" | "a" | "b"),
            "variant: {id}"
        );
        assert_eq!(id.matches('-').count(), 4);
        assert_ne!(a["x-request-id"], b["x-request-id"]);
    }
}
