//! Passive outlier detection: endpoints that keep failing are ejected for a back-off period.
//!
//! Every attempt's outcome is recorded on its endpoint with relaxed atomics. An endpoint that
//! reaches `consecutive5xx` failures in a row (5xx answers; failures to connect, resets and
//! timeouts count as 5xx, as in Envoy) or `consecutiveGatewayFailure` 502/503/504s in a row is
//! ejected for `baseEjectionTime` times the number of times it has been ejected, at most
//! `max(maxEjectionTime, baseEjectionTime)`; each `interval` it spends back in service takes one
//! off that multiplier. Ejections end on their own: the endpoint pick skips an endpoint while
//! its deadline lies ahead, so nothing sweeps. At most `maxEjectionPercent` of a cluster's
//! endpoints (at least one) are out at once, and never the last one.
//!
//! The request path reads one atomic per endpoint it considers; the ejection decision, rare,
//! takes a try-flag per upstream (never waited for: a thread that finds it taken skips the
//! ejection, and the next failure decides again) so two threads cannot both eject past the limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use lockgate_compiled::OutlierDetection;
use tokio::time::Instant;

use crate::rng;

/// What one attempt said about its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Success,
    /// A 5xx other than 502-504.
    ServerError,
    /// A 502, 503 or 504, or a failure to connect, a reset or a timeout.
    GatewayFailure,
}

impl Outcome {
    pub(crate) fn of_status(status: u16) -> Outcome {
        match status {
            502..=504 => Outcome::GatewayFailure,
            500..=599 => Outcome::ServerError,
            _ => Outcome::Success,
        }
    }
}

/// One endpoint's state, shared by every worker thread and kept across publishes.
#[derive(Debug, Default)]
pub(crate) struct EndpointHealth {
    consecutive_5xx: AtomicU32,
    consecutive_gateway_failures: AtomicU32,
    /// On the [`Detector`]'s clock; 0 if never ejected.
    ejected_until: AtomicU64,
    /// Multiplies the base ejection time; decays by one per healthy interval.
    times_ejected: AtomicU32,
}

impl EndpointHealth {
    pub(crate) fn is_ejected(&self, now: u64) -> bool {
        self.ejected_until.load(Ordering::Relaxed) > now
    }
}

/// One upstream's detector: its clock, its decision flag and its ejection count.
#[derive(Debug)]
pub(crate) struct Detector {
    epoch: Instant,
    deciding: AtomicBool,
    ejections: AtomicU64,
}

impl Detector {
    pub(crate) fn new() -> Detector {
        Detector {
            epoch: Instant::now(),
            deciding: AtomicBool::new(false),
            ejections: AtomicU64::new(0),
        }
    }

    /// Milliseconds since the detector was made, plus one, so that 0 means "never".
    pub(crate) fn now(&self) -> u64 {
        let elapsed = Instant::now().saturating_duration_since(self.epoch);
        u64::try_from(elapsed.as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    /// Ejections so far, over every endpoint of the upstream.
    pub(crate) fn ejections(&self) -> u64 {
        self.ejections.load(Ordering::Relaxed)
    }

    /// Records `outcome` for `endpoints[index]`, ejecting it if it crossed a threshold and the
    /// cluster can spare it. Returns whether it was ejected.
    pub(crate) fn record(
        &self,
        config: &OutlierDetection,
        endpoints: &[Arc<EndpointHealth>],
        index: usize,
        outcome: Outcome,
    ) -> bool {
        let Some(health) = endpoints.get(index) else {
            return false;
        };
        let reset = |counter: &AtomicU32| {
            // A load first: healthy traffic does not write the shared line.
            if counter.load(Ordering::Relaxed) != 0 {
                counter.store(0, Ordering::Relaxed);
            }
        };
        let crossed = |counter: &AtomicU32, threshold: u32, enforcing: u32| {
            let count = counter.fetch_add(1, Ordering::Relaxed).saturating_add(1);
            if count < threshold.max(1) {
                return false;
            }
            counter.store(0, Ordering::Relaxed);
            enforcing > 0 && rng::below(100) < enforcing
        };
        let detected = match outcome {
            Outcome::Success => {
                reset(&health.consecutive_5xx);
                reset(&health.consecutive_gateway_failures);
                false
            }
            Outcome::ServerError => {
                reset(&health.consecutive_gateway_failures);
                crossed(
                    &health.consecutive_5xx,
                    config.consecutive_5xx,
                    config.enforcing_consecutive_5xx,
                )
            }
            Outcome::GatewayFailure => {
                let by_5xx = crossed(
                    &health.consecutive_5xx,
                    config.consecutive_5xx,
                    config.enforcing_consecutive_5xx,
                );
                let by_gateway = crossed(
                    &health.consecutive_gateway_failures,
                    config.consecutive_gateway_failure,
                    config.enforcing_consecutive_gateway_failure,
                );
                by_5xx || by_gateway
            }
        };
        detected && self.eject(config, endpoints, index)
    }

    fn eject(
        &self,
        config: &OutlierDetection,
        endpoints: &[Arc<EndpointHealth>],
        index: usize,
    ) -> bool {
        if self
            .deciding
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        let now = self.now();
        let health = &endpoints[index];
        let total = endpoints.len();
        let out = endpoints.iter().filter(|h| h.is_ejected(now)).count();
        // Envoy ejects at least one whatever the percentage; lockgate also keeps at least one.
        let allowed = (total * config.max_ejection_percent.min(100) as usize / 100)
            .max(1)
            .min(total.saturating_sub(1));
        let ejected = !health.is_ejected(now) && out < allowed;
        if ejected {
            let before = health.ejected_until.load(Ordering::Relaxed);
            let mut times = health.times_ejected.load(Ordering::Relaxed);
            if before != 0 && now > before {
                let healthy_intervals = (now - before) / config.interval_ms.max(1);
                times = times.saturating_sub(u32::try_from(healthy_intervals).unwrap_or(u32::MAX));
            }
            times = times.saturating_add(1);
            let base = config.base_ejection_time_ms.max(1);
            let longest = config.max_ejection_time_ms.max(base);
            let duration = base.saturating_mul(u64::from(times)).min(longest);
            health.times_ejected.store(times, Ordering::Relaxed);
            health
                .ejected_until
                .store(now.saturating_add(duration), Ordering::Relaxed);
            self.ejections.fetch_add(1, Ordering::Relaxed);
        }
        self.deciding.store(false, Ordering::Release);
        ejected
    }
}

#[cfg(test)]
#[path = "outlier_test.rs"]
mod tests;
