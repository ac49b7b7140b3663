//! One client connection: the timers of [`Limits`] that hyper does not run itself.
//!
//! hyper's HTTP/1.1 server times the reading of a request head, but nothing before hyper-util
//! has told HTTP/1.1 from HTTP/2 (a connection that sends nothing, or half a preface, waits
//! forever) and nothing on an idle HTTP/2 connection. So each connection counts its requests in
//! flight ([`Activity`]), notes its first byte ([`Monitored`]), and a watcher beside it
//! ([`expired`]) shuts it down gracefully when a timer of [`Limits`] runs out while no request
//! is in flight.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::body::{BodyError, ProxyBody};
use crate::limits::Limits;

/// The requests in flight on one connection and when it first spoke.
pub(crate) struct Activity {
    accepted: Instant,
    in_flight: AtomicUsize,
    /// Signalled when the last request in flight ends (a stored permit if nobody waits).
    idle: Notify,
    first_byte: OnceLock<Instant>,
}

impl Activity {
    pub(crate) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            accepted: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
            first_byte: OnceLock::new(),
        })
    }

    /// A request starts; it ends when the guard drops (with its response body).
    pub(crate) fn begin(self: &Arc<Activity>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    fn busy(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) > 0
    }
}

/// One request in flight.
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_one();
        }
    }
}

/// Completes when the connection has had no request in flight for longer than its limits
/// allow (see [`Limits`] for the three timers).
pub(crate) async fn expired(activity: &Activity, limits: &Limits) {
    // `None` until a request has ended: the connection is still on its first request.
    let mut idle_since: Option<Instant> = None;
    loop {
        if activity.busy() {
            activity.idle.notified().await;
            idle_since = Some(Instant::now());
            continue;
        }
        let deadline = match (idle_since, activity.first_byte.get()) {
            (Some(since), _) => since + limits.idle_timeout,
            (None, None) => activity.accepted + limits.first_byte_timeout,
            (None, Some(&first)) => first + limits.header_read_timeout,
        };
        if Instant::now() >= deadline {
            return;
        }
        tokio::select! {
            // Woken at the deadline: the next turn looks again (a first byte or a request may
            // have come meanwhile).
            () = tokio::time::sleep_until(deadline) => {}
            () = activity.idle.notified() => idle_since = Some(Instant::now()),
        }
    }
}

/// The client's socket, noting the time of its first byte.
pub(crate) struct Monitored {
    stream: TcpStream,
    activity: Arc<Activity>,
    seen: bool,
}

impl Monitored {
    pub(crate) fn new(stream: TcpStream, activity: Arc<Activity>) -> Monitored {
        Monitored {
            stream,
            activity,
            seen: false,
        }
    }
}

impl AsyncRead for Monitored {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if !this.seen && buf.filled().len() > before {
            this.seen = true;
            let _ = this.activity.first_byte.set(Instant::now());
        }
        polled
    }
}

impl AsyncWrite for Monitored {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

pin_project_lite::pin_project! {
    /// A response body that keeps its request counted as in flight until it is done.
    pub(crate) struct Tracked {
        #[pin]
        body: ProxyBody,
        in_flight: InFlight,
    }
}

impl Tracked {
    pub(crate) fn new(body: ProxyBody, in_flight: InFlight) -> Tracked {
        Tracked { body, in_flight }
    }
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.project().body.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
#[path = "conn_test.rs"]
mod tests;
