use bytes::BytesMut;
use proptest::prelude::*;

use super::*;
use crate::h1::framing::{Decoder, Step};

/// Reads `response` in pieces cut at `splits`, as a connection would: the head, then the body
/// to its end (an EOF after the last piece). What came out, or the first error.
fn read(response: &[u8], splits: &[usize], head_request: bool) -> Result<(Head, Vec<u8>), Error> {
    let mut cuts: Vec<usize> = splits.iter().map(|s| s % (response.len() + 1)).collect();
    cuts.push(response.len());
    cuts.sort_unstable();
    let mut pieces = Vec::new();
    let mut at = 0;
    for cut in cuts {
        pieces.push(&response[at..cut]);
        at = cut;
    }
    let mut pieces = pieces.into_iter();
    let mut buf = BytesMut::new();
    let head = loop {
        if let Some(head) = parse(&mut buf, head_request)? {
            break head;
        }
        match pieces.next() {
            Some(piece) => buf.extend_from_slice(piece),
            None if buf.is_empty() => return Err(Error::ClosedBeforeResponse),
            None => return Err(Error::UnexpectedEof),
        }
    };
    let mut decoder = Decoder::new(head.framing);
    let mut body = Vec::new();
    for _ in 0..response.len() * 4 + 8 {
        match decoder.decode(&mut buf)? {
            Step::Data(data) => body.extend_from_slice(&data),
            Step::Done => return Ok((head, body)),
            Step::More => match pieces.next() {
                Some(piece) => buf.extend_from_slice(piece),
                None => {
                    decoder.eof()?;
                    return Ok((head, body));
                }
            },
        }
    }
    panic!("no progress");
}

fn whole(response: &[u8]) -> Result<(Head, Vec<u8>), Error> {
    read(response, &[], false)
}

fn error_of(response: &[u8]) -> String {
    whole(response).expect_err("an error").to_string()
}

#[test]
fn a_response_decodes_the_same_at_every_split_point() {
    let responses: [&[u8]; 3] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3;e=1\r\nllo\r\n0\r\nt: 1\r\n\r\n",
        b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nhello",
    ];
    for response in responses {
        let (reference, body) = whole(response).unwrap();
        assert_eq!(body, b"hello");
        for a in 0..=response.len() {
            for b in [a, a + 1, a + 7, response.len()] {
                let (head, body) = read(response, &[a, b], false).unwrap();
                assert_eq!(body, b"hello", "splits {a} {b}");
                assert_eq!(
                    (head.status, head.version, head.framing, head.headers),
                    (
                        reference.status,
                        reference.version,
                        reference.framing,
                        reference.headers.clone()
                    )
                );
            }
        }
    }
}

#[test]
fn header_values_point_into_the_head() {
    let mut buf = BytesMut::from(
        &b"HTTP/1.1 200 OK\r\nX-Custom: some value\r\nContent-Length: 0\r\n\r\n"[..],
    );
    let head = parse(&mut buf, false).unwrap().unwrap();
    assert_eq!(head.headers["x-custom"], "some value");
    assert_eq!(head.framing, Framing::Empty);
    assert!(buf.is_empty());
}

#[test]
fn no_body_follows_head_requests_and_bodiless_statuses() {
    let (head, body) = read(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", &[], true).unwrap();
    assert_eq!((head.framing, body.len()), (Framing::Empty, 0));
    assert_eq!(
        head.headers["content-length"], "10",
        "a HEAD's length is kept"
    );
    for status in ["204 No Content", "304 Not Modified"] {
        let response = format!("HTTP/1.1 {status}\r\nContent-Length: 10\r\n\r\n");
        assert_eq!(
            whole(response.as_bytes()).unwrap().0.framing,
            Framing::Empty
        );
    }
}

#[test]
fn interim_responses_are_skipped_but_switching_protocols_is_refused() {
    let (head, body) = whole(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").unwrap();
    assert_eq!((head.status.as_u16(), body.as_slice()), (200, &b"ok"[..]));
    assert!(head.headers.get("link").is_none());
    assert!(matches!(
        whole(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n"),
        Err(Error::UnaskedUpgrade)
    ));
    let endless = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(MAX_INTERIM + 2);
    assert!(error_of(&endless).contains("interim"));
}

#[test]
fn content_length_conflicts_and_garbage_are_errors() {
    for length in [
        "Content-Length: 1\r\nContent-Length: 2",
        "Content-Length: 1, 2",
        "Content-Length: x",
        "Content-Length: -1",
        "Content-Length: +1",
        "Content-Length: ",
        "Content-Length: 99999999999999999999",
    ] {
        let response = format!("HTTP/1.1 200 OK\r\n{length}\r\n\r\nx");
        assert!(
            error_of(response.as_bytes()).contains("content-length"),
            "{length}"
        );
    }
    let (head, body) =
        whole(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok").unwrap();
    assert_eq!(
        (head.framing, body.as_slice()),
        (Framing::Length(2), &b"ok"[..])
    );
}

#[test]
fn transfer_encoding_wins_over_content_length_which_is_removed() {
    let (head, body) = whole(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n").unwrap();
    assert_eq!(
        (head.framing, body.as_slice()),
        (Framing::Chunked, &b"ok"[..])
    );
    assert!(head.headers.get("content-length").is_none());
    let (head, _) =
        whole(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nzz").unwrap();
    assert_eq!(
        head.framing,
        Framing::Eof,
        "chunked not last: delimited by the close"
    );
    let (head, _) = whole(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n").unwrap();
    assert_eq!(head.framing, Framing::Chunked);
}

#[test]
fn without_framing_the_body_runs_to_the_close() {
    let (head, body) = whole(b"HTTP/1.1 200 OK\r\n\r\nuntil the end").unwrap();
    assert_eq!(
        (head.framing, body.as_slice()),
        (Framing::Eof, &b"until the end"[..])
    );
}

#[test]
fn keep_alive_follows_the_version_and_the_connection_header() {
    let keep = |response: &[u8]| whole(response).unwrap().0.keep_alive;
    assert!(keep(b"HTTP/1.1 204 No Content\r\n\r\n"));
    assert!(!keep(
        b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"
    ));
    assert!(!keep(
        b"HTTP/1.1 204 No Content\r\nConnection: x-a, Close\r\n\r\n"
    ));
    assert!(!keep(b"HTTP/1.0 204 No Content\r\n\r\n"));
    assert!(keep(
        b"HTTP/1.0 204 No Content\r\nConnection: keep-alive\r\n\r\n"
    ));
}

#[test]
fn heads_are_limited_in_size_and_header_count() {
    let mut big = b"HTTP/1.1 200 OK\r\n".to_vec();
    while big.len() <= MAX_HEAD_BYTES {
        big.extend_from_slice(format!("x-filler: {}\r\n", "0".repeat(1000)).as_bytes());
    }
    assert!(error_of(&big).contains("64 KiB"), "an unfinished head");
    big.extend_from_slice(b"\r\n");
    assert!(error_of(&big).contains("64 KiB"), "a finished one");

    let headers = |count: usize| {
        let mut response = b"HTTP/1.1 204 No Content\r\n".to_vec();
        for i in 0..count {
            response.extend_from_slice(format!("x-h{i}: v\r\n").as_bytes());
        }
        response.extend_from_slice(b"\r\n");
        response
    };
    assert_eq!(
        whole(&headers(MAX_HEADERS)).unwrap().0.headers.len(),
        MAX_HEADERS
    );
    assert!(error_of(&headers(MAX_HEADERS + 1)).contains("128"));
}

#[test]
fn malformed_heads_are_errors_with_a_reason() {
    for (response, why) in [
        (&b"HTTP/2 200 OK\r\n\r\n"[..], "version"),
        (b"HTTP/1.1 20 OK\r\n\r\n", "status"),
        (b"HTTP/1.1 000 Zero\r\n\r\n", "status"),
        (b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "header name"),
        (b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n", "header value"),
        (b"garbage\r\n\r\n", "invalid"),
    ] {
        let error = error_of(response);
        assert!(error.contains(why), "{response:?}: {error}");
    }
    assert!(matches!(whole(b""), Err(Error::ClosedBeforeResponse)));
    assert!(matches!(
        whole(b"HTTP/1.1 200 OK\r\n"),
        Err(Error::UnexpectedEof)
    ));
}

fn valid_response() -> impl Strategy<Value = Vec<u8>> {
    let body = proptest::collection::vec(any::<u8>(), 0..64);
    (body, 0..4u8, proptest::collection::vec(1usize..16, 0..5)).prop_map(|(body, kind, chunks)| {
        let mut response = b"HTTP/1.1 200 OK\r\nServer: t\r\n".to_vec();
        match kind {
            0 => {
                response.extend_from_slice(
                    format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                );
                response.extend_from_slice(&body);
            }
            1 => {
                response.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                let mut rest = &body[..];
                for size in chunks.iter().cycle().take(body.len() + 1) {
                    if rest.is_empty() {
                        break;
                    }
                    let (chunk, tail) = rest.split_at((*size).min(rest.len()));
                    response.extend_from_slice(format!("{:x};ext\r\n", chunk.len()).as_bytes());
                    response.extend_from_slice(chunk);
                    response.extend_from_slice(b"\r\n");
                    rest = tail;
                }
                response.extend_from_slice(b"0\r\ntrailer: x\r\n\r\n");
            }
            2 => {
                response.extend_from_slice(b"\r\n");
                response.extend_from_slice(&body);
            }
            _ => {
                let mut interim = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
                interim.extend_from_slice(&response);
                response = interim;
                response.extend_from_slice(
                    format!("content-length: {}\r\n\r\n", body.len()).as_bytes(),
                );
                response.extend_from_slice(&body);
            }
        }
        response
    })
}

proptest! {
    #[test]
    fn valid_responses_decode_the_same_whatever_the_reads(
        response in valid_response(),
        splits in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let (reference, body) = whole(&response).unwrap();
        let (head, split_body) = read(&response, &splits, false).unwrap();
        prop_assert_eq!(body, split_body);
        prop_assert_eq!(reference.headers, head.headers);
        prop_assert_eq!(reference.framing, head.framing);
    }

    #[test]
    fn garbage_never_panics_and_splits_do_not_change_the_verdict(
        mut response in valid_response(),
        noise in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..6),
        splits in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        for (at, byte) in noise {
            let at = at % (response.len() + 1);
            response.insert(at, byte);
        }
        let reference = whole(&response);
        let split = read(&response, &splits, false);
        prop_assert_eq!(reference.is_ok(), split.is_ok(), "{:?} vs {:?}", reference.as_ref().err(), split.as_ref().err());
        if let (Ok((_, a)), Ok((_, b))) = (reference, split) {
            prop_assert_eq!(a, b);
        }
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512), splits in proptest::collection::vec(any::<usize>(), 0..8)) {
        let _ = read(&bytes, &splits, false);
        let _ = read(&bytes, &splits, true);
    }
}
