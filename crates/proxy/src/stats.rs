//! Counters per route and per cluster, cheap enough to keep on every request.
//!
//! Each counter set is split into cache-line-aligned shards, one per worker thread (modulo the
//! shard count): a request adds to its own thread's shard with uncontended relaxed atomics, and
//! [`crate::Proxy::stats`] sums the shards when asked. Counters are keyed by names that outlive a
//! configuration (the virtual host's name and the route's origin; the cluster's key), so they
//! keep counting across reloads: a Canary controller judging a destination over minutes sees
//! one continuous series.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use lockgate_compiled::ClusterKey;

/// Upper bounds of the latency histogram's buckets, in microseconds; a last bucket counts
/// everything slower.
pub const LATENCY_BUCKETS_MICROS: [u64; 12] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000,
];
const BUCKETS: usize = LATENCY_BUCKETS_MICROS.len() + 1;

/// A point-in-time reading of every counter.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stats {
    /// Every request the listener answered, including those no route matched.
    pub listener: Counts,
    pub routes: BTreeMap<RouteId, Counts>,
    /// Per destination: a cluster is one upstream narrowed to one subset.
    pub clusters: BTreeMap<ClusterKey, Counts>,
    /// Per upstream (all its subsets): outlier ejections and circuit-breaker overflows.
    pub upstreams: BTreeMap<UpstreamId, UpstreamCounts>,
}

/// An Upstream by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UpstreamId {
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for UpstreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.namespace, self.name)
    }
}

/// What an upstream's outlier detection and circuit breakers did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpstreamCounts {
    /// Endpoints ejected by outlier detection, counted per ejection.
    pub ejections: u64,
    /// Requests answered 503 because `maxConnections` connections were open.
    pub overflow_connections: u64,
    /// Requests answered 503 because `maxPendingRequests` were waiting for a connection.
    pub overflow_pending_requests: u64,
    /// Requests answered 503 because `maxRequests` were in flight.
    pub overflow_requests: u64,
    /// Retries not made because `maxRetries` were in flight.
    pub overflow_retries: u64,
    /// Connections open now.
    pub connections: u64,
    /// Requests in flight now.
    pub requests: u64,
}

impl Stats {
    pub fn route(&self, virtual_host: &str, origin: &str) -> Option<&Counts> {
        self.routes.get(&RouteId {
            virtual_host: virtual_host.to_string(),
            origin: origin.to_string(),
        })
    }
}

/// A route by names that survive reloads.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RouteId {
    /// `namespace.name` of the VirtualService.
    pub virtual_host: String,
    /// The route's origin, e.g. `gloo-system.app/routes[0] > echo.echo-routes/routes[1]`.
    pub origin: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub requests: u64,
    /// Responses by status class: index 0 counts 1xx, index 4 counts 5xx.
    pub responses: [u64; 5],
    /// Requests that got no answer from an upstream: connect failures, resets, timeouts. Their
    /// 502 and 504 responses are also counted in `responses`.
    pub errors: u64,
    /// Time from receiving the request to sending the response headers.
    pub latency: Latency,
}

impl Counts {
    /// Responses with a 5xx status.
    pub fn server_errors(&self) -> u64 {
        self.responses[4]
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Latency {
    pub count: u64,
    pub sum_micros: u64,
    /// `buckets[i]` counts responses at most `LATENCY_BUCKETS_MICROS[i]`, and above the one
    /// before; the last counts the rest. Not cumulative.
    pub buckets: [u64; BUCKETS],
}

/// One set of counters, sharded per thread.
pub(crate) struct Counters {
    shards: Box<[Shard]>,
}

#[repr(align(128))]
#[derive(Default)]
struct Shard {
    requests: AtomicU64,
    classes: [AtomicU64; 5],
    errors: AtomicU64,
    latency_sum_micros: AtomicU64,
    latency: [AtomicU64; BUCKETS],
    /// Round robin over a cluster's endpoints, per thread: exact per thread, no contention.
    round_robin: AtomicUsize,
}

impl Counters {
    pub(crate) fn new() -> Counters {
        Counters {
            shards: (0..shard_count()).map(|_| Shard::default()).collect(),
        }
    }

    fn shard(&self) -> &Shard {
        &self.shards[thread_index() & (self.shards.len() - 1)]
    }

    pub(crate) fn request(&self) {
        self.shard().requests.fetch_add(1, Relaxed);
    }

    pub(crate) fn error(&self) {
        self.shard().errors.fetch_add(1, Relaxed);
    }

    pub(crate) fn response(&self, status: u16, elapsed: Duration) {
        let shard = self.shard();
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        shard.classes[class].fetch_add(1, Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        shard.latency_sum_micros.fetch_add(micros, Relaxed);
        let bucket = LATENCY_BUCKETS_MICROS.partition_point(|&bound| bound < micros);
        shard.latency[bucket].fetch_add(1, Relaxed);
    }

    pub(crate) fn next_round_robin(&self) -> usize {
        self.shard().round_robin.fetch_add(1, Relaxed)
    }

    pub(crate) fn read(&self) -> Counts {
        let mut counts = Counts::default();
        for shard in self.shards.iter() {
            counts.requests += shard.requests.load(Relaxed);
            counts.errors += shard.errors.load(Relaxed);
            for (sum, class) in counts.responses.iter_mut().zip(&shard.classes) {
                *sum += class.load(Relaxed);
            }
            counts.latency.sum_micros += shard.latency_sum_micros.load(Relaxed);
            for (sum, bucket) in counts.latency.buckets.iter_mut().zip(&shard.latency) {
                *sum += bucket.load(Relaxed);
            }
        }
        counts.latency.count = counts.latency.buckets.iter().sum();
        counts
    }
}

/// A power of two near the number of cores: enough that worker threads rarely share a shard.
fn shard_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(16)
            .next_power_of_two()
    })
}

fn thread_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static INDEX: usize = NEXT.fetch_add(1, Relaxed);
    }
    INDEX.with(|i| *i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_sum_over_threads_and_bucket_latency() {
        let counters = std::sync::Arc::new(Counters::new());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let counters = counters.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        counters.request();
                        counters.response(200, Duration::from_micros(700));
                    }
                    counters.request();
                    counters.error();
                    counters.response(502, Duration::from_secs(10));
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        let counts = counters.read();
        assert_eq!(counts.requests, 4004);
        assert_eq!(counts.responses, [0, 4000, 0, 0, 4]);
        assert_eq!(counts.server_errors(), 4);
        assert_eq!(counts.errors, 4);
        assert_eq!(counts.latency.count, 4004);
        assert_eq!(
            counts.latency.buckets[1], 4000,
            "700us is in the 1ms bucket"
        );
        assert_eq!(counts.latency.buckets[BUCKETS - 1], 4);
        assert_eq!(counts.latency.sum_micros, 4000 * 700 + 4 * 10_000_000);
    }

    #[test]
    fn odd_statuses_land_in_the_nearest_class() {
        let counters = Counters::new();
        counters.response(99, Duration::ZERO);
        counters.response(600, Duration::ZERO);
        assert_eq!(counters.read().responses, [1, 0, 0, 0, 1]);
    }
}
