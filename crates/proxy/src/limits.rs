//! What one client may hold of the proxy: header bytes, time, connections.

use std::time::Duration;

/// The proxy's limits on its clients, given when it is built ([`crate::Proxy::builder`]). The
/// defaults are those of [`Limits::default`]; each field says what happens beyond it.
///
/// Timers of a client connection, in order:
/// 1. accepted, nothing received: closed after [`first_byte_timeout`](Limits::first_byte_timeout);
/// 2. a head's first byte received (the first request's, or a later one's on a kept-alive
///    connection): the head must be complete within
///    [`header_read_timeout`](Limits::header_read_timeout) of it, else the connection is
///    closed at once (this also bounds HTTP/2's 24-byte preface);
/// 3. between requests (none in flight, nothing received): closed after
///    [`idle_timeout`](Limits::idle_timeout), HTTP/2 with a GOAWAY.
///
/// The connection's watcher (`conn`) runs all three with one timer per connection, woken by
/// its deadline only; hyper's own per-request header timer is off.
///
/// A request in flight is never cut by these timers; its route's timeout governs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of one request's head, counted as Envoy counts `max_request_headers_kb`: the
    /// method, the target and every header's name and value. Beyond: `431 Request Header
    /// Fields Too Large`. It also sizes hyper's HTTP/1.1 read buffer (at least 8 KiB), so a
    /// head far beyond never gets buffered whole (hyper answers 431 and closes), and HTTP/2's
    /// `SETTINGS_MAX_HEADER_LIST_SIZE`. Default 60 KiB.
    pub max_request_header_bytes: usize,
    /// How long a new connection may stay silent. Default 10 s.
    pub first_byte_timeout: Duration,
    /// How long a request head may take to arrive, counted from its first byte (the
    /// connection's first byte for the first request, the first byte after the previous
    /// request ended for later ones). Beyond: the connection is closed. Default 30 s (hyper's).
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request in flight. Default 60 s.
    pub idle_timeout: Duration,
    /// Client connections open at once on one listener (all threads of
    /// [`crate::Proxy::serve_on_threads`] together). At the limit the listener **stops
    /// accepting**: new connections wait in the kernel's backlog (and beyond it, are refused by
    /// the kernel) until one closes; connections already open are not disturbed. Keep it below
    /// the process's file-descriptor limit, less the upstream connections (up to one per client
    /// connection) and the admin API's. Default 10,000; at least 1.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_request_header_bytes: 60 * 1024,
            first_byte_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: 10_000,
        }
    }
}

/// hyper refuses a read buffer below this (`max_buf_size` panics).
pub(crate) const MIN_HTTP1_BUFFER: usize = 8 * 1024;
