//! The response body: owns the upstream connection and reads it as hyper's server polls.

use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use super::framing::{Decoder, Step};
use super::{Conn, Error};
use crate::pool;

/// A response body read straight off its upstream connection. The connection goes back to the
/// pool as soon as the body is known complete (with its last frame when the length says so,
/// since the server then stops polling), if it can carry another request; a body dropped
/// before its end closes it.
pub(crate) struct Body {
    /// `None` once the body is complete.
    conn: Option<Conn>,
    decoder: Decoder,
    /// The exchange allows another request on the connection after this body.
    reusable: bool,
    endpoint: SocketAddr,
}

impl Body {
    /// A body that is already complete (no body at all) hands its connection back at once.
    pub(crate) fn new(conn: Conn, decoder: Decoder, reusable: bool, endpoint: SocketAddr) -> Body {
        let mut body = Body {
            conn: Some(conn),
            decoder,
            reusable,
            endpoint,
        };
        if let Some(conn) = body.conn.as_mut() {
            // A head whose body arrived with it may be complete already.
            if body.decoder.settle(&mut conn.read).is_ok() && body.decoder.is_done() {
                body.finish();
            }
        }
        body
    }

    /// Ends the body: the connection returns to the pool only if the exchange allows it and
    /// nothing arrived beyond the response.
    fn finish(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.reusable
            && conn.read.is_empty()
        {
            pool::release(self.endpoint, conn);
        }
    }

    fn fail(&mut self, error: Error) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        self.conn = None;
        Poll::Ready(Some(Err(error)))
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = self.get_mut();
        // Each turn reads more or returns; the reads are bounded by the decoder's needs.
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match this.decoder.decode(&mut conn.read) {
                Err(error) => return this.fail(error),
                Ok(Step::Data(data)) => {
                    // An error in what follows shows at the next poll; the data is good.
                    if this.decoder.settle(&mut conn.read).is_ok() && this.decoder.is_done() {
                        this.finish();
                    }
                    return Poll::Ready(Some(Ok(Frame::data(data))));
                }
                Ok(Step::Done) => {
                    this.finish();
                    return Poll::Ready(None);
                }
                Ok(Step::More) => match ready!(conn.poll_fill(cx)) {
                    Ok(0) => match this.decoder.eof() {
                        Ok(()) => {
                            // Delimited by the close: nothing more can go on this connection.
                            this.conn = None;
                            return Poll::Ready(None);
                        }
                        Err(error) => return this.fail(error),
                    },
                    Ok(_) => {}
                    Err(error) => return this.fail(Error::Io(error)),
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.conn.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.decoder.remaining() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}
