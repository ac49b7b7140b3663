//! The one body type the proxy sends both ways, so that nothing is boxed per request.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use tokio::time::Sleep;

use crate::h1;
use crate::pool::Lease;

pin_project_lite::pin_project! {
    /// A response body on its way to the client.
    #[project = Projection]
    pub(crate) enum ProxyBody {
        Empty,
        /// A local answer: 404, 503, a direct response.
        Full { data: Option<Bytes> },
        /// Streamed as it arrives; the upstream connection goes back to the pool at the end.
        Streaming { #[pin] body: UpstreamBody, lease: Option<Lease> },
        /// Streamed, and cut off at the route's deadline: the route timeout covers the whole
        /// response, as Envoy's does.
        Deadline { #[pin] body: UpstreamBody, #[pin] deadline: Sleep, lease: Option<Lease> },
    }
}

impl ProxyBody {
    pub(crate) fn full(data: impl Into<Bytes>) -> ProxyBody {
        let data: Bytes = data.into();
        if data.is_empty() {
            ProxyBody::Empty
        } else {
            ProxyBody::Full { data: Some(data) }
        }
    }
}

/// A request body on its way to an upstream. Kept apart from [`ProxyBody`] because the upstream
/// client needs an `Unpin` body, and a request needs no deadline of its own.
pub(crate) enum RequestBody {
    Empty,
    /// The client's body. `failed` is set when reading it fails (malformed chunked encoding, a
    /// client gone mid-body): the upstream request then fails too, and the handler must not
    /// blame the upstream for it.
    Streaming {
        body: Incoming,
        failed: Arc<AtomicBool>,
    },
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        match self.get_mut() {
            RequestBody::Empty => Poll::Ready(None),
            RequestBody::Streaming { body, failed } => {
                let frame = ready!(Pin::new(body).poll_frame(cx));
                if let Some(Err(_)) = &frame {
                    failed.store(true, Ordering::Relaxed);
                }
                Poll::Ready(frame)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            RequestBody::Empty => true,
            RequestBody::Streaming { body, .. } => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Empty => SizeHint::with_exact(0),
            RequestBody::Streaming { body, .. } => body.size_hint(),
        }
    }
}

/// A response body from an upstream: read by lockgate's own HTTP/1.1 client, or by hyper (an
/// upgrade's answer when the upstream declined it).
pub(crate) enum UpstreamBody {
    H1(h1::Body),
    Hyper(Incoming),
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        // Both are `Unpin`: no projection needed.
        match self.get_mut() {
            UpstreamBody::H1(body) => Pin::new(body)
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(BodyError::Upstream))),
            UpstreamBody::Hyper(body) => Pin::new(body)
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(BodyError::Peer))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            UpstreamBody::H1(body) => body.is_end_stream(),
            UpstreamBody::Hyper(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            UpstreamBody::H1(body) => body.size_hint(),
            UpstreamBody::Hyper(body) => body.size_hint(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum BodyError {
    #[error(transparent)]
    Peer(#[from] hyper::Error),
    #[error(transparent)]
    Upstream(h1::Error),
    #[error("route timeout reached while streaming the response body")]
    Timeout,
}

/// Releases the upstream connection as soon as the body is known to be complete: at its end,
/// or with its last frame when the length was known (the server then stops polling and never
/// sees the end). On an error the connection is dropped, which closes it.
fn settle(
    frame: Option<Result<Frame<Bytes>, BodyError>>,
    ended: bool,
    lease: &mut Option<Lease>,
) -> Option<Result<Frame<Bytes>, BodyError>> {
    let complete = match &frame {
        None => true,
        Some(Ok(_)) => ended,
        Some(Err(_)) => {
            lease.take();
            false
        }
    };
    if complete && let Some(lease) = lease.take() {
        lease.release();
    }
    frame
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match self.project() {
            Projection::Empty => Poll::Ready(None),
            Projection::Full { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            Projection::Streaming { mut body, lease } => {
                let frame = ready!(body.as_mut().poll_frame(cx));
                Poll::Ready(settle(frame, body.is_end_stream(), lease))
            }
            Projection::Deadline {
                mut body,
                deadline,
                lease,
            } => {
                if let Poll::Ready(frame) = body.as_mut().poll_frame(cx) {
                    return Poll::Ready(settle(frame, body.is_end_stream(), lease));
                }
                ready!(deadline.poll(cx));
                lease.take();
                Poll::Ready(Some(Err(BodyError::Timeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Empty => true,
            ProxyBody::Full { data } => data.is_none(),
            ProxyBody::Streaming { body, .. } | ProxyBody::Deadline { body, .. } => {
                body.is_end_stream()
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Empty => SizeHint::with_exact(0),
            ProxyBody::Full { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            ProxyBody::Streaming { body, .. } | ProxyBody::Deadline { body, .. } => {
                body.size_hint()
            }
        }
    }
}
