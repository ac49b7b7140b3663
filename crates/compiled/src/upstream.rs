//! What a cluster carries besides its endpoints: passive outlier detection and circuit breakers,
//! resolved from the Upstream with Envoy's defaults filled in, so the proxy never guesses.

use serde::{Deserialize, Serialize};

/// Consecutive-failure outlier detection, in Envoy's terms and units (milliseconds here).
///
/// On by default with Envoy's defaults: five consecutive 5xx answers (or failures to connect,
/// resets, timeouts) eject an endpoint for 30 s, longer each time it is ejected again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutlierDetection {
    /// At least 1.
    pub consecutive_5xx: u32,
    /// Percent (0-100); 0 turns the detector off.
    pub enforcing_consecutive_5xx: u32,
    /// At least 1.
    pub consecutive_gateway_failure: u32,
    /// Percent (0-100); Envoy's default is 0, off.
    pub enforcing_consecutive_gateway_failure: u32,
    /// At least 1.
    pub interval_ms: u64,
    /// At least 1.
    pub base_ejection_time_ms: u64,
    pub max_ejection_time_ms: u64,
    /// Percent (0-100).
    pub max_ejection_percent: u32,
}

impl Default for OutlierDetection {
    fn default() -> Self {
        OutlierDetection {
            consecutive_5xx: 5,
            enforcing_consecutive_5xx: 100,
            consecutive_gateway_failure: 5,
            enforcing_consecutive_gateway_failure: 0,
            interval_ms: 10_000,
            base_ejection_time_ms: 30_000,
            max_ejection_time_ms: 300_000,
            max_ejection_percent: 10,
        }
    }
}

impl OutlierDetection {
    pub fn is_default(&self) -> bool {
        *self == OutlierDetection::default()
    }

    /// Whether any detector can eject.
    pub fn enabled(&self) -> bool {
        self.enforcing_consecutive_5xx > 0 || self.enforcing_consecutive_gateway_failure > 0
    }
}

/// Envoy's circuit-breaker thresholds for one upstream; 1024 each by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CircuitBreakers {
    /// Open connections to the upstream's endpoints, tunnels included.
    pub max_connections: u32,
    /// Requests waiting for a new connection to be established.
    pub max_pending_requests: u32,
    /// Requests in flight, from sending to the end of the response body.
    pub max_requests: u32,
    /// Retries in flight (a route's retries, not the replay of a request that lost a race with
    /// an upstream closing a pooled connection).
    pub max_retries: u32,
}

impl Default for CircuitBreakers {
    fn default() -> Self {
        CircuitBreakers {
            max_connections: 1024,
            max_pending_requests: 1024,
            max_requests: 1024,
            max_retries: 3,
        }
    }
}

impl CircuitBreakers {
    pub fn is_default(&self) -> bool {
        *self == CircuitBreakers::default()
    }
}
