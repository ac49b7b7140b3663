use bytes::BytesMut;

use super::*;

/// Decodes `body` fed in reads of `split` bytes, then an EOF: the data and how it ended.
fn decode_in(
    mut decoder: Decoder,
    body: &[u8],
    split: usize,
) -> (Vec<u8>, Result<(), Error>, BytesMut) {
    let mut buf = BytesMut::new();
    let mut data = Vec::new();
    let mut reads = body.chunks(split.max(1));
    // Every turn either consumes input or ends.
    for _ in 0..body.len() * 4 + 8 {
        match decoder.decode(&mut buf) {
            Ok(Step::Data(d)) => {
                assert!(!d.is_empty(), "no empty data frames");
                data.extend_from_slice(&d);
            }
            Ok(Step::Done) => return (data, Ok(()), buf),
            Ok(Step::More) => match reads.next() {
                Some(read) => buf.extend_from_slice(read),
                None => return (data, decoder.eof(), buf),
            },
            Err(error) => return (data, Err(error), buf),
        }
    }
    panic!("the decoder made no progress");
}

fn chunked(body: &[u8]) -> (Vec<u8>, Result<(), Error>, BytesMut) {
    decode_in(Decoder::new(Framing::Chunked), body, body.len())
}

fn reason(result: Result<(), Error>) -> String {
    result.expect_err("an error").to_string()
}

#[test]
fn chunked_bodies_decode_the_same_at_every_split() {
    let body = b"5;name=value\r\nhello\r\n6 ; x\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n";
    for split in 1..=body.len() {
        let (data, end, rest) = decode_in(Decoder::new(Framing::Chunked), body, split);
        assert_eq!(
            (data.as_slice(), end.is_ok()),
            (&b"hello world"[..], true),
            "split {split}"
        );
        assert!(rest.is_empty(), "split {split}");
    }
}

#[test]
fn a_zero_chunk_alone_is_an_empty_body_and_bytes_after_it_stay() {
    let (data, end, rest) = chunked(b"0\r\n\r\nHTTP/1.1");
    assert!(data.is_empty());
    assert!(end.is_ok());
    assert_eq!(&rest[..], b"HTTP/1.1");
}

#[test]
fn the_terminator_after_the_last_chunk_completes_the_body_without_another_read() {
    let mut decoder = Decoder::new(Framing::Chunked);
    let mut buf = BytesMut::from(&b"3\r\nabc\r\n0\r\n\r\n"[..]);
    assert_eq!(decoder.decode(&mut buf).unwrap(), Step::Data("abc".into()));
    decoder.settle(&mut buf).unwrap();
    assert!(decoder.is_done());
    assert!(buf.is_empty());
}

#[test]
fn bad_chunk_sizes_are_errors() {
    for (body, why) in [
        (&b"zz\r\nhello\r\n0\r\n\r\n"[..], "invalid chunk size"),
        (b"\r\n", "invalid chunk size"),
        (b"-1\r\n", "invalid chunk size"),
        (b"+5\r\n", "invalid chunk size"),
        (b"5 x\r\nhello\r\n", "invalid chunk size line"),
        (b"5;\x01\r\nhello\r\n", "invalid chunk size line"),
        (b"5\nhello\r\n", "bare LF"),
        (b"5\r\nhelloXY0\r\n\r\n", "not followed by CRLF"),
        (b"10000000000000000\r\n", "overflows"),
        (b"fffffffffffffffffff\r\nx\r\n", "overflows"),
    ] {
        let error = reason(chunked(body).1);
        assert!(error.contains(why), "{body:?}: {error}");
    }
}

#[test]
fn the_largest_chunk_size_parses_and_then_needs_its_data() {
    let (data, end, _) = chunked(b"ffffffffffffffff\r\nabc");
    assert_eq!(data, b"abc");
    assert!(matches!(end, Err(Error::UnexpectedEof)));
}

#[test]
fn chunk_lines_and_trailers_are_bounded() {
    let mut long = b"5;".to_vec();
    long.extend(std::iter::repeat_n(b'x', MAX_CHUNK_LINE + 10));
    let error = reason(chunked(&long).1);
    assert!(error.contains("too long"), "{error}");

    let mut trailers = b"0\r\n".to_vec();
    for _ in 0..(MAX_TRAILER_BYTES / 10 + 1) {
        trailers.extend_from_slice(b"x-t: 1234\r\n");
    }
    trailers.extend_from_slice(b"\r\n");
    let error = reason(chunked(&trailers).1);
    assert!(error.contains("too long"), "{error}");
}

#[test]
fn a_chunked_body_cut_short_is_an_error() {
    for body in [
        &b"5\r\nhel"[..],
        b"5\r\nhello\r\n",
        b"5\r\nhello\r\n0\r\n",
        b"5",
    ] {
        assert!(
            matches!(chunked(body).1, Err(Error::UnexpectedEof)),
            "{body:?}"
        );
    }
}

#[test]
fn a_length_body_ends_at_its_length_and_leaves_what_follows() {
    for split in 1..8 {
        let (data, end, rest) = decode_in(Decoder::new(Framing::Length(5)), b"helloEXTRA", split);
        assert_eq!(data, b"hello");
        assert!(end.is_ok());
        // The extra bytes after the end are left for the caller to see (and refuse reuse).
        assert!(split >= 10 || rest.len() <= "EXTRA".len());
    }
    let (data, end, _) = decode_in(Decoder::new(Framing::Length(5)), b"hel", 2);
    assert_eq!(data, b"hel");
    assert!(matches!(end, Err(Error::UnexpectedEof)));
}

#[test]
fn an_eof_body_ends_at_the_close() {
    let (data, end, _) = decode_in(Decoder::new(Framing::Eof), b"all of it", 3);
    assert_eq!(data, b"all of it");
    assert!(end.is_ok());
}

#[test]
fn remaining_is_known_only_for_lengths() {
    assert_eq!(Decoder::new(Framing::Length(7)).remaining(), Some(7));
    assert_eq!(Decoder::new(Framing::Empty).remaining(), Some(0));
    assert_eq!(Decoder::new(Framing::Chunked).remaining(), None);
    assert_eq!(Decoder::new(Framing::Eof).remaining(), None);
}
