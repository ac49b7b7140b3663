use http::{HeaderMap, HeaderValue, Method, Uri};

use super::*;

#[test]
fn a_head_is_the_request_line_the_headers_and_a_blank_line() {
    let mut headers = HeaderMap::new();
    headers.insert("host", HeaderValue::from_static("example.com"));
    headers.append("x-many", HeaderValue::from_static("1"));
    headers.append("x-many", HeaderValue::from_static("2"));
    let uri = Uri::from_static("/a/b?c=d");
    let head = head(&Method::GET, &uri, &headers, BodyFraming::AsIs);
    assert_eq!(
        String::from_utf8(head).unwrap(),
        "GET /a/b?c=d HTTP/1.1\r\nhost: example.com\r\nx-many: 1\r\nx-many: 2\r\n\r\n"
    );
}

#[test]
fn a_streamed_body_without_a_length_is_sent_chunked() {
    let head = head(
        &Method::POST,
        &Uri::from_static("/"),
        &HeaderMap::new(),
        BodyFraming::Chunked,
    );
    assert_eq!(
        String::from_utf8(head).unwrap(),
        "POST / HTTP/1.1\r\ntransfer-encoding: chunked\r\n\r\n"
    );
}

#[test]
fn a_uri_without_a_path_asks_for_the_root() {
    let head = head(
        &Method::GET,
        &Uri::default(),
        &HeaderMap::new(),
        BodyFraming::AsIs,
    );
    assert!(head.starts_with(b"GET / HTTP/1.1\r\n"));
}

#[test]
fn chunk_size_lines_are_hexadecimal() {
    assert_eq!(&chunk_size_line(1)[..], b"1\r\n");
    assert_eq!(&chunk_size_line(255)[..], b"ff\r\n");
    assert_eq!(&chunk_size_line(1 << 20)[..], b"100000\r\n");
}
