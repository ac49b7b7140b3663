//! An Upstream's `outlierDetection` and `circuitBreakers`, checked and resolved with Envoy's
//! defaults into what the proxy runs. A value out of range is an error on the Upstream, named by
//! its field path; its cluster then runs the defaults rather than a half-read setting.

use lockgate_api as api;
use lockgate_compiled::{CircuitBreakers, OutlierDetection};

use crate::problem::{Code, Flaw};

/// Resolves `spec.outlierDetection`; `None` gives Envoy's defaults.
pub(crate) fn outlier_detection(
    given: Option<&api::OutlierDetection>,
) -> Result<OutlierDetection, Vec<Flaw>> {
    let mut out = OutlierDetection::default();
    let Some(o) = given else {
        return Ok(out);
    };
    let at = "spec.outlierDetection";
    let mut errors = Vec::new();
    let flaw = |field: &str, message: String| {
        Flaw::new(Code::InvalidUpstreamError, format!("{at}.{field}"), message)
    };
    let mut count = |value: Option<u32>, field: &str, slot: &mut u32| {
        if let Some(value) = value {
            if value == 0 {
                errors.push(flaw(field, "must be at least 1 (to turn the detector off, set its enforcing percentage to 0)".into()));
            } else {
                *slot = value;
            }
        }
    };
    count(
        o.consecutive_5xx,
        "consecutive5xx",
        &mut out.consecutive_5xx,
    );
    count(
        o.consecutive_gateway_failure,
        "consecutiveGatewayFailure",
        &mut out.consecutive_gateway_failure,
    );
    let mut percent = |value: Option<u32>, field: &str, slot: &mut u32| {
        if let Some(value) = value {
            if value > 100 {
                errors.push(flaw(field, format!("{value} is more than 100 (percent)")));
            } else {
                *slot = value;
            }
        }
    };
    percent(
        o.enforcing_consecutive_5xx,
        "enforcingConsecutive5xx",
        &mut out.enforcing_consecutive_5xx,
    );
    percent(
        o.enforcing_consecutive_gateway_failure,
        "enforcingConsecutiveGatewayFailure",
        &mut out.enforcing_consecutive_gateway_failure,
    );
    percent(
        o.max_ejection_percent,
        "maxEjectionPercent",
        &mut out.max_ejection_percent,
    );
    let mut millis = |value: Option<api::Duration>, field: &str, slot: &mut u64, zero_ok: bool| {
        if let Some(value) = value {
            let ms = u64::try_from(value.0.as_millis()).unwrap_or(u64::MAX);
            if ms == 0 && !zero_ok {
                errors.push(flaw(field, "must be longer than 0s".into()));
            } else {
                *slot = ms;
            }
        }
    };
    millis(o.interval, "interval", &mut out.interval_ms, false);
    millis(
        o.base_ejection_time,
        "baseEjectionTime",
        &mut out.base_ejection_time_ms,
        false,
    );
    millis(
        o.max_ejection_time,
        "maxEjectionTime",
        &mut out.max_ejection_time_ms,
        true,
    );
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Resolves `spec.circuitBreakers`; what is left out takes Envoy's default. Any number is
/// valid: 0 refuses every request of that kind, as in Envoy.
pub(crate) fn circuit_breakers(given: Option<&api::CircuitBreakers>) -> CircuitBreakers {
    let mut out = CircuitBreakers::default();
    if let Some(c) = given {
        out.max_connections = c.max_connections.unwrap_or(out.max_connections);
        out.max_pending_requests = c.max_pending_requests.unwrap_or(out.max_pending_requests);
        out.max_requests = c.max_requests.unwrap_or(out.max_requests);
        out.max_retries = c.max_retries.unwrap_or(out.max_retries);
    }
    out
}

#[cfg(test)]
#[path = "upstream_options_test.rs"]
mod tests;
