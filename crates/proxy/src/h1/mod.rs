//! lockgate's own HTTP/1.1 client for upstream requests, driven inside the request's task.
//!
//! hyper's client runs each connection in a task of its own and hands requests and responses
//! across channels: per proxied request that is a dispatch, a callback, several task wake-ups
//! and a whole connection task's worth of polling (about a third of the proxy's instructions
//! per request, measured with callgrind). Here, as in Pingora, the request's own future writes
//! the head ([`exchange`]), reads and parses the response head, and returns; the response
//! [`Body`] owns the connection and reads it when hyper's server polls it, in the client
//! connection's task. When the body ends and the connection can carry another request, the body
//! puts it back into the pool itself: no task, no channel.
//!
//! What it does not do, because nothing upstream of the proxy needs it: pipelining, `Expect:
//! 100-continue` (the proxy removes it), upgrades (those stay on hyper, see `pool::send_upgrade`),
//! request trailers (dropped). Whatever an upstream sends is bounded ([`decode::MAX_HEAD_BYTES`],
//! [`decode::MAX_HEADERS`], the chunk line limits in [`framing`]) and never panics.

mod body;
pub(crate) mod decode;
pub(crate) mod encode;
pub(crate) mod framing;

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes, BytesMut};
use http_body::Body as _;
use tokio::io::{AsyncWrite, Interest};
use tokio::net::TcpStream;

pub(crate) use body::Body;
use decode::Head;
use encode::BodyFraming;

use crate::body::RequestBody;
use crate::upstream::Permit;

/// Reads ask for at least this much room, so a large body arrives in few reads.
const READ_CHUNK: usize = 16 * 1024;

/// Why an upstream exchange failed. Named in the log with the endpoint, never to the client.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("connection closed before the response")]
    ClosedBeforeResponse,
    #[error("connection closed in the middle of the response")]
    UnexpectedEof,
    #[error("invalid response: {0}")]
    Parse(&'static str),
    #[error("101 Switching Protocols to a request without an upgrade")]
    UnaskedUpgrade,
    #[error("reading the client's request body failed")]
    RequestBody,
}

/// An upstream connection, idle in the pool or carrying one exchange.
pub(crate) struct Conn {
    stream: TcpStream,
    /// What has been read and not yet consumed: never anything between two exchanges.
    read: BytesMut,
    /// Its place under the upstream's `maxConnections`, for as long as it is open.
    _open: Permit,
    /// The last read took less than it had room for: the socket had nothing more then.
    drained: bool,
}

impl Conn {
    pub(crate) fn new(stream: TcpStream, open: Permit) -> Conn {
        Conn {
            stream,
            read: BytesMut::new(),
            _open: open,
            drained: false,
        }
    }

    /// Whether an idle connection can still be used: the upstream has neither closed it nor
    /// sent anything unasked. Costs no system call unless the reactor saw the socket readable
    /// since it went idle (see [`Conn::settle_idle`]).
    pub(crate) fn is_usable_idle(&self) -> bool {
        let mut probe = [0u8; 1];
        matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    /// Going idle: the reactor still calls the socket readable after the last read (it only
    /// learns otherwise from a read that finds nothing), so the probe of [`Conn::is_usable_idle`]
    /// would cost a `recvfrom` on every reuse. When the last read left the socket empty, that
    /// readiness is stale and is cleared here without a system call; tokio clears only the
    /// readiness the last read saw, so a close or a byte that arrived since still shows.
    pub(crate) fn settle_idle(&self) {
        if self.drained {
            let _ = self.stream.try_io(Interest::READABLE, || {
                Err::<(), _>(io::ErrorKind::WouldBlock.into())
            });
        }
    }

    /// Reads what the socket has into `read`; `Ok(0)` at the upstream's close.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.read.capacity() - self.read.len() < READ_CHUNK / 4 {
            self.read.reserve(READ_CHUNK);
        }
        // A turn after readiness that turns out spurious clears it, so the next one waits.
        loop {
            let room = self.read.capacity() - self.read.len();
            match self.stream.try_read_buf(&mut self.read) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    ready!(self.stream.poll_read_ready(cx))?;
                }
                Ok(read) => {
                    self.drained = read < room;
                    return Poll::Ready(Ok(read));
                }
                result => return Poll::Ready(result),
            }
        }
    }
}

/// A response head, and whether the connection may carry another request once its body ends.
pub(crate) struct Exchanged {
    pub(crate) head: Head,
    /// The request went out whole and the upstream keeps the connection (framing aside).
    pub(crate) reusable: bool,
}

/// An exchange that got no response head.
#[derive(Debug)]
pub(crate) struct Failed {
    pub(crate) error: Error,
    /// Not a byte of response arrived: a pooled connection may have lost a race with the
    /// upstream's close.
    pub(crate) before_response: bool,
    /// The head did not go out whole, so the upstream cannot have acted on the request, and
    /// none of the body was read.
    pub(crate) unsent: bool,
}

/// Sends `head` and `body` on `conn` and reads the response head, both at once: an upstream
/// may answer before the request body ends (then the rest is not sent, and the connection is
/// not reused), and a large body goes out only as fast as the upstream reads it.
pub(crate) async fn exchange(
    conn: &mut Conn,
    head: &[u8],
    framing: BodyFraming,
    body: &mut RequestBody,
    head_request: bool,
) -> Result<Exchanged, Failed> {
    let mut upload = Upload {
        head,
        written: 0,
        pending: VecDeque::new(),
        chunked: framing == BodyFraming::Chunked,
        ended: false,
        state: Sending::Going,
    };
    let mut received = false;
    std::future::poll_fn(|cx| {
        if let Sending::Going = upload.state {
            match upload.poll(&mut conn.stream, body, cx) {
                Poll::Ready(Ok(())) => upload.state = Sending::Done,
                Poll::Ready(Err(UploadError::Io(error))) => upload.state = Sending::Failed(error),
                Poll::Ready(Err(UploadError::Body)) => {
                    return Poll::Ready(Err(Failed {
                        error: Error::RequestBody,
                        before_response: !received,
                        unsent: false,
                    }));
                }
                Poll::Pending => {}
            }
        }
        let unsent = upload.written < head.len();
        // Each turn reads more or returns: bounded by what the upstream sends, itself bounded
        // by the head limits.
        loop {
            match decode::parse(&mut conn.read, head_request) {
                Ok(Some(head)) => {
                    let reusable = matches!(upload.state, Sending::Done) && head.keep_alive;
                    return Poll::Ready(Ok(Exchanged { head, reusable }));
                }
                Ok(None) => {}
                Err(error) => {
                    return Poll::Ready(Err(Failed {
                        error,
                        before_response: false,
                        unsent,
                    }));
                }
            }
            let fill = conn.poll_fill(cx);
            let failed = |error| {
                Poll::Ready(Err(Failed {
                    error,
                    before_response: !received,
                    unsent,
                }))
            };
            match fill {
                Poll::Ready(Ok(0)) => {
                    let error = match std::mem::replace(&mut upload.state, Sending::Done) {
                        Sending::Failed(error) => Error::Io(error),
                        _ if received => Error::UnexpectedEof,
                        _ => Error::ClosedBeforeResponse,
                    };
                    return failed(error);
                }
                Poll::Ready(Ok(_)) => received = true,
                Poll::Ready(Err(error)) => return failed(Error::Io(error)),
                // The write failed and nothing more is there to read: a response that came
                // before the failure would have been read by now.
                Poll::Pending => {
                    return match std::mem::replace(&mut upload.state, Sending::Done) {
                        Sending::Failed(error) => failed(Error::Io(error)),
                        state => {
                            upload.state = state;
                            Poll::Pending
                        }
                    };
                }
            }
        }
    })
    .await
}

enum Sending {
    Going,
    Done,
    /// Writing failed; a response the upstream sent before closing may still be read.
    Failed(io::Error),
}

enum UploadError {
    Io(io::Error),
    /// The client's body failed (its `failed` flag is set).
    Body,
}

impl From<io::Error> for UploadError {
    fn from(error: io::Error) -> UploadError {
        UploadError::Io(error)
    }
}

/// The request on its way out: the head, then the body frame by frame. A frame is read from
/// the client only once the previous one is written, so the socket's buffer is the only buffer.
struct Upload<'a> {
    head: &'a [u8],
    written: usize,
    pending: VecDeque<Bytes>,
    chunked: bool,
    /// The client's body ended; what is pending is the last of it.
    ended: bool,
    state: Sending,
}

impl Upload<'_> {
    fn poll(
        &mut self,
        stream: &mut TcpStream,
        body: &mut RequestBody,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), UploadError>> {
        while self.written < self.head.len() {
            let n = ready!(Pin::new(&mut *stream).poll_write(cx, &self.head[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()));
            }
            self.written += n;
        }
        // Each turn writes a frame or ends; the client's body is finite and the socket's
        // readiness runs under tokio's cooperative budget.
        loop {
            while let Some(front) = self.pending.front_mut() {
                let n = ready!(Pin::new(&mut *stream).poll_write(cx, front))?;
                if n == 0 {
                    return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()));
                }
                front.advance(n);
                if front.is_empty() {
                    self.pending.pop_front();
                }
            }
            if self.ended || (body.is_end_stream() && !self.chunked) {
                return Poll::Ready(Ok(()));
            }
            match ready!(Pin::new(&mut *body).poll_frame(cx)) {
                None => {
                    if self.chunked {
                        self.pending.push_back(encode::LAST_CHUNK);
                    }
                    self.ended = true;
                }
                Some(Ok(frame)) => {
                    // Trailers are dropped: few upstreams read them, and none needs them.
                    if let Ok(data) = frame.into_data()
                        && !data.is_empty()
                    {
                        if self.chunked {
                            self.pending.push_back(encode::chunk_size_line(data.len()));
                            self.pending.push_back(data);
                            self.pending.push_back(encode::CHUNK_END);
                        } else {
                            self.pending.push_back(data);
                        }
                    }
                }
                Some(Err(_)) => return Poll::Ready(Err(UploadError::Body)),
            }
        }
    }
}

#[cfg(test)]
#[path = "mod_test.rs"]
mod tests;
