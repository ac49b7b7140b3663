//! One client connection: the timers of [`Limits`] that hyper does not run itself.
//!
//! hyper's HTTP/1.1 server times the reading of a request head, but nothing before hyper-util
//! has told HTTP/1.1 from HTTP/2 (a connection that sends nothing, or half a preface, waits
//! forever) and nothing on an idle HTTP/2 connection. So each connection counts its requests in
//! flight ([`Activity`]) and notes when the last one ended and its first byte ([`Monitored`]),
//! and a watcher beside it ([`expired`]) shuts it down gracefully when a timer of [`Limits`]
//! runs out while no request is in flight.
//!
//! The watcher is a coarse timer: it is never woken by requests, only by its own deadline,
//! and then reads what happened meanwhile. A request costs the connection two atomic
//! operations and a clock read, not a task wake-up and a timer re-armed.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::body::{BodyError, ProxyBody};
use crate::limits::Limits;

/// The requests in flight on one connection and when it first spoke.
pub(crate) struct Activity {
    accepted: Instant,
    in_flight: AtomicUsize,
    /// When the last request ended, in nanoseconds after `accepted`; 0 until one has.
    last_end: AtomicU64,
    /// When the first byte after the last request's end arrived (the start of the next head),
    /// in nanoseconds after `accepted`; 0 until the first byte.
    head_started: AtomicU64,
}

impl Activity {
    pub(crate) fn new() -> Arc<Activity> {
        Arc::new(Activity {
            accepted: Instant::now(),
            in_flight: AtomicUsize::new(0),
            last_end: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
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

    fn last_end(&self) -> Option<Instant> {
        self.at(self.last_end.load(Ordering::Acquire))
    }

    /// When the head being read now started: a byte came after the last request ended.
    fn head_started(&self) -> Option<Instant> {
        let started = self.head_started.load(Ordering::Acquire);
        (started > self.last_end.load(Ordering::Acquire))
            .then(|| self.at(started))
            .flatten()
    }

    fn at(&self, nanos: u64) -> Option<Instant> {
        (nanos != 0).then(|| self.accepted + std::time::Duration::from_nanos(nanos))
    }

    fn now_nanos(&self) -> u64 {
        u64::try_from(self.accepted.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    /// Bytes arrived: the first ones after a request's end start the next head's timer. Costs
    /// a clock read once per request, not per read.
    fn note_read(&self) {
        if self.head_started.load(Ordering::Relaxed) <= self.last_end.load(Ordering::Relaxed) {
            self.head_started.store(self.now_nanos(), Ordering::Release);
        }
    }

    #[cfg(test)]
    pub(crate) fn first_byte_now(&self) {
        self.note_read();
    }
}

/// Why a connection's watcher ended it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expired {
    /// Nothing in flight for the idle timeout: close gracefully (HTTP/2 gets a GOAWAY).
    Idle,
    /// No first byte, or a head not complete in time: there is no request to be graceful to.
    Head,
}

/// One request in flight.
pub(crate) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let activity = &self.0;
        // Stored before the count drops, so a watcher that sees the connection idle also sees
        // when it became idle.
        activity
            .last_end
            .store(activity.now_nanos(), Ordering::Release);
        activity.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Completes when the connection has had no request in flight for longer than its limits
/// allow (see [`Limits`] for the three timers): no first byte within the first-byte timeout,
/// a head (the first or any later one) not complete within the header timeout of its first
/// byte, or nothing at all for the idle timeout after a request ended.
pub(crate) async fn expired(activity: &Activity, limits: &Limits) -> Expired {
    loop {
        let now = Instant::now();
        let (deadline, why) = if activity.busy() {
            // A request in flight is never cut: look again later, by when it may have ended
            // (its end then restarts the idle timer, exactly).
            (now + limits.idle_timeout, None)
        } else {
            let (deadline, why) = match (activity.head_started(), activity.last_end()) {
                (Some(started), _) => (started + limits.header_read_timeout, Expired::Head),
                (None, Some(end)) => (end + limits.idle_timeout, Expired::Idle),
                (None, None) => (activity.accepted + limits.first_byte_timeout, Expired::Head),
            };
            (deadline, Some(why))
        };
        if let Some(why) = why
            && now >= deadline
        {
            return why;
        }
        // A head may start at any moment without waking the watcher; looking again at least
        // every header timeout finds it before its own deadline has passed.
        tokio::time::sleep_until(deadline.min(now + limits.header_read_timeout)).await;
    }
}

/// The client's socket, noting when each head starts.
pub(crate) struct Monitored {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl Monitored {
    pub(crate) fn new(stream: TcpStream, activity: Arc<Activity>) -> Monitored {
        Monitored { stream, activity }
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
        if buf.filled().len() > before {
            this.activity.note_read();
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
    /// A response body that keeps its request counted as in flight until it is done: its last
    /// frame produced (hyper may keep a finished body a while before dropping it, and the
    /// next head's timer must not wait for that), or the body dropped.
    pub(crate) struct Tracked {
        #[pin]
        body: ProxyBody,
        in_flight: Option<InFlight>,
    }
}

impl Tracked {
    pub(crate) fn new(body: ProxyBody, in_flight: InFlight) -> Tracked {
        let done = body.is_end_stream();
        Tracked {
            body,
            in_flight: (!done).then_some(in_flight),
        }
    }
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let mut this = self.project();
        let frame = this.body.as_mut().poll_frame(cx);
        let done = match &frame {
            Poll::Ready(None | Some(Err(_))) => true,
            Poll::Ready(Some(Ok(_))) => this.body.is_end_stream(),
            Poll::Pending => false,
        };
        if done {
            this.in_flight.take();
        }
        frame
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
