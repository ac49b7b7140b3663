//! What the proxy keeps per upstream across publishes: circuit-breaker gauges, the outlier
//! detector, and each endpoint's health. Shared by every worker thread through atomics; the
//! map of endpoints is locked only when a table slot fills (once per cluster and publish).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::outlier::{Detector, EndpointHealth};
use crate::stats::UpstreamCounts;

/// A circuit breaker's threshold, by Gloo's field name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    Connections = 0,
    PendingRequests = 1,
    Requests = 2,
    Retries = 3,
}

impl Limit {
    pub(crate) fn field(self) -> &'static str {
        match self {
            Limit::Connections => "maxConnections",
            Limit::PendingRequests => "maxPendingRequests",
            Limit::Requests => "maxRequests",
            Limit::Retries => "maxRetries",
        }
    }
}

pub(crate) struct UpstreamState {
    in_use: [AtomicU32; 4],
    overflows: [AtomicU64; 4],
    pub(crate) detector: Detector,
    endpoints: Mutex<HashMap<SocketAddr, Arc<EndpointHealth>>>,
}

impl UpstreamState {
    pub(crate) fn new() -> UpstreamState {
        UpstreamState {
            in_use: Default::default(),
            overflows: Default::default(),
            detector: Detector::new(),
            endpoints: Mutex::default(),
        }
    }

    /// The health of `endpoints`, in their order: the same values for an address that stays
    /// from one publish to the next. Addresses no longer listed are forgotten.
    pub(crate) fn health(&self, endpoints: &[SocketAddr]) -> Box<[Arc<EndpointHealth>]> {
        let mut known = self
            .endpoints
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let health: Box<[Arc<EndpointHealth>]> = endpoints
            .iter()
            .map(|addr| known.entry(*addr).or_default().clone())
            .collect();
        // Subset clusters of one upstream list different endpoints: keep whatever a table
        // still holds (the map's own reference is then not the only one).
        known.retain(|addr, h| endpoints.contains(addr) || Arc::strong_count(h) > 1);
        health
    }

    /// Takes one unit of `limit` if fewer than `max` are in use; otherwise counts an overflow.
    pub(crate) fn acquire(self: &Arc<Self>, limit: Limit, max: u32) -> Result<Permit, Limit> {
        let gauge = &self.in_use[limit as usize];
        if gauge.fetch_add(1, Ordering::AcqRel) >= max {
            gauge.fetch_sub(1, Ordering::AcqRel);
            self.overflows[limit as usize].fetch_add(1, Ordering::Relaxed);
            return Err(limit);
        }
        Ok(Permit {
            upstream: self.clone(),
            limit,
        })
    }

    pub(crate) fn read(&self) -> UpstreamCounts {
        let load = |i: Limit| self.overflows[i as usize].load(Ordering::Relaxed);
        let gauge = |i: Limit| u64::from(self.in_use[i as usize].load(Ordering::Relaxed));
        UpstreamCounts {
            ejections: self.detector.ejections(),
            overflow_connections: load(Limit::Connections),
            overflow_pending_requests: load(Limit::PendingRequests),
            overflow_requests: load(Limit::Requests),
            overflow_retries: load(Limit::Retries),
            connections: gauge(Limit::Connections),
            requests: gauge(Limit::Requests),
        }
    }
}

/// One unit of a circuit breaker's budget, given back when dropped.
pub(crate) struct Permit {
    upstream: Arc<UpstreamState>,
    limit: Limit,
}

impl Drop for Permit {
    fn drop(&mut self) {
        self.upstream.in_use[self.limit as usize].fetch_sub(1, Ordering::AcqRel);
    }
}
