//! Response bodies as they arrive: `Content-Length`, chunked (RFC 9112 section 7.1), or until
//! the close. Pure: it works on the bytes read so far and says when it needs more, so every
//! split of a body across reads decodes the same.

use bytes::{Bytes, BytesMut};

use super::Error;
use super::decode::Framing;

/// A chunk-size line (size and extensions, which are ignored) may be no longer than this.
const MAX_CHUNK_LINE: usize = 4096;
/// Trailer lines after the last chunk (read and dropped) may add up to no more than this.
const MAX_TRAILER_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decoder {
    Length(u64),
    Chunked(Chunk),
    Eof,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk {
    Size,
    Data(u64),
    /// The CRLF after a chunk's data.
    DataEnd,
    /// Trailer lines after the last chunk, and how many bytes of them were seen.
    Trailers(usize),
}

/// What the decoder got out of the buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    Data(Bytes),
    /// Read more, then ask again.
    More,
    Done,
}

impl Decoder {
    pub(crate) fn new(framing: Framing) -> Decoder {
        match framing {
            Framing::Empty => Decoder::Done,
            Framing::Length(n) => Decoder::Length(n),
            Framing::Chunked => Decoder::Chunked(Chunk::Size),
            Framing::Eof => Decoder::Eof,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        *self == Decoder::Done
    }

    /// What is left when it is known.
    pub(crate) fn remaining(&self) -> Option<u64> {
        match self {
            Decoder::Length(n) => Some(*n),
            Decoder::Done => Some(0),
            _ => None,
        }
    }

    /// The next piece of body from the front of `buf`.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<Step, Error> {
        self.settle(buf)?;
        let available = buf.len() as u64;
        match self {
            Decoder::Done => Ok(Step::Done),
            _ if available == 0 => Ok(Step::More),
            Decoder::Length(n) => {
                let take = (*n).min(available);
                *n -= take;
                if *n == 0 {
                    *self = Decoder::Done;
                }
                Ok(Step::Data(buf.split_to(take as usize).freeze()))
            }
            Decoder::Eof => Ok(Step::Data(buf.split().freeze())),
            Decoder::Chunked(Chunk::Data(n)) => {
                let take = (*n).min(available);
                *n -= take;
                if *n == 0 {
                    *self = Decoder::Chunked(Chunk::DataEnd);
                }
                Ok(Step::Data(buf.split_to(take as usize).freeze()))
            }
            // `settle` stopped short of data: the framing needs more bytes.
            Decoder::Chunked(_) => Ok(Step::More),
        }
    }

    /// Consumes the framing already in `buf` up to the next data or the end, so that a body
    /// whose last chunk and terminator arrived together is known complete with that chunk.
    pub(crate) fn settle(&mut self, buf: &mut BytesMut) -> Result<(), Error> {
        // Each turn consumes a line or ends: bounded by the buffer's length.
        loop {
            let Decoder::Chunked(chunk) = self else {
                return Ok(());
            };
            match *chunk {
                Chunk::Data(_) => return Ok(()),
                Chunk::Size => {
                    let Some(line) = line(buf, MAX_CHUNK_LINE)? else {
                        return Ok(());
                    };
                    let size = chunk_size(&line)?;
                    *chunk = if size == 0 {
                        Chunk::Trailers(0)
                    } else {
                        Chunk::Data(size)
                    };
                }
                Chunk::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(());
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(Error::Parse("chunk data not followed by CRLF"));
                    }
                    let _ = buf.split_to(2);
                    *chunk = Chunk::Size;
                }
                Chunk::Trailers(seen) => {
                    let room = MAX_TRAILER_BYTES.saturating_sub(seen);
                    let Some(line) = line(buf, room)? else {
                        return Ok(());
                    };
                    if line.is_empty() {
                        *self = Decoder::Done;
                        return Ok(());
                    }
                    *chunk = Chunk::Trailers(seen + line.len() + 2);
                }
            }
        }
    }

    /// The upstream closed the connection: the end of the body only when it is delimited so.
    pub(crate) fn eof(&mut self) -> Result<(), Error> {
        match self {
            Decoder::Eof | Decoder::Done => {
                *self = Decoder::Done;
                Ok(())
            }
            _ => Err(Error::UnexpectedEof),
        }
    }
}

/// Takes one CRLF-terminated line (without the CRLF) off `buf`, if a whole one is there.
fn line(buf: &mut BytesMut, max: usize) -> Result<Option<BytesMut>, Error> {
    let window = &buf[..buf.len().min(max.saturating_add(2))];
    match window.iter().position(|&b| b == b'\n') {
        Some(end) if end > 0 && window[end - 1] == b'\r' => {
            let mut line = buf.split_to(end + 1);
            line.truncate(end - 1);
            Ok(Some(line))
        }
        Some(_) => Err(Error::Parse("bare LF in chunked framing")),
        None if window.len() >= max.saturating_add(2) => Err(Error::Parse("chunk line too long")),
        None => Ok(None),
    }
}

/// `1*HEXDIG [ BWS ";" extensions ]`; extensions are ignored but may hold no control bytes.
fn chunk_size(line: &[u8]) -> Result<u64, Error> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(Error::Parse("invalid chunk size"));
    }
    let mut size = 0u64;
    for &d in &line[..digits] {
        let value = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => d - b'A' + 10,
        };
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(value)))
            .ok_or(Error::Parse("chunk size overflows"))?;
    }
    let rest = &line[digits..];
    let rest = &rest[rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count()..];
    match rest.first() {
        None => Ok(size),
        Some(b';') if !rest.iter().any(|&b| b.is_ascii_control() && b != b'\t') => Ok(size),
        _ => Err(Error::Parse("invalid chunk size line")),
    }
}

#[cfg(test)]
#[path = "framing_test.rs"]
mod tests;
