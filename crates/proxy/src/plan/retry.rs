//! A route's retry policy, typed at publish: Envoy's retry conditions as a bit set, the per-try
//! timeout as a [`Duration`].

use std::time::Duration;

use http::StatusCode;
use lockgate_compiled::Retries;

use crate::forward::Failure;

const ANY_5XX: u8 = 1;
const GATEWAY_ERROR: u8 = 1 << 1;
const CONNECT_FAILURE: u8 = 1 << 2;
const RESET: u8 = 1 << 3;

pub(crate) struct RetryPolicy {
    /// Retries after the first attempt.
    pub(crate) attempts: u32,
    pub(crate) per_try_timeout: Option<Duration>,
    on: u8,
}

impl RetryPolicy {
    pub(crate) fn build(retries: &Retries) -> RetryPolicy {
        let mut on = 0;
        for condition in retries.retry_on.iter().flat_map(|c| c.split(',')) {
            on |= match condition.trim() {
                // `5xx` also covers failures to connect and resets, as in Envoy.
                "5xx" => ANY_5XX,
                "gateway-error" => GATEWAY_ERROR,
                "connect-failure" => CONNECT_FAILURE,
                "reset" | "refused-stream" => RESET,
                // The translator warns about the conditions that do not apply to HTTP/1.1.
                _ => 0,
            };
        }
        RetryPolicy {
            attempts: retries.attempts,
            per_try_timeout: retries.per_try_timeout_ms.map(Duration::from_millis),
            on,
        }
    }

    fn has(&self, bit: u8) -> bool {
        self.on & bit != 0
    }

    /// Whether a response with `status` is retried.
    pub(crate) fn on_status(&self, status: StatusCode) -> bool {
        (self.has(ANY_5XX) && status.is_server_error())
            || (self.has(GATEWAY_ERROR) && matches!(status.as_u16(), 502..=504))
    }

    /// Whether an attempt that got no response is retried.
    pub(crate) fn on_failure(&self, failure: &Failure) -> bool {
        let gateway = self.has(ANY_5XX) || self.has(GATEWAY_ERROR);
        match failure {
            Failure::Connect(_) => gateway || self.has(CONNECT_FAILURE),
            Failure::Reset(_) => gateway || self.has(RESET),
            // Only a per-try timeout gets here; the route's own deadline ends the request.
            Failure::Timeout => gateway,
            // A full circuit breaker is the upstream asking for less traffic, not more.
            Failure::Overflow(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::Limit;

    fn policy(on: &[&str]) -> RetryPolicy {
        RetryPolicy::build(&Retries {
            attempts: 2,
            per_try_timeout_ms: Some(250),
            retry_on: on.iter().map(|s| s.to_string()).collect(),
        })
    }

    #[test]
    fn conditions_are_read_once_including_comma_lists() {
        let p = policy(&["connect-failure, reset", "unknown"]);
        assert_eq!(p.attempts, 2);
        assert_eq!(p.per_try_timeout, Some(Duration::from_millis(250)));
        assert!(p.on_failure(&Failure::Connect(String::new())));
        assert!(p.on_failure(&Failure::Reset(String::new())));
        assert!(!p.on_failure(&Failure::Timeout));
        assert!(!p.on_status(StatusCode::BAD_GATEWAY));
    }

    #[test]
    fn five_xx_covers_statuses_failures_and_per_try_timeouts() {
        let p = policy(&["5xx"]);
        assert!(p.on_status(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(!p.on_status(StatusCode::NOT_FOUND));
        assert!(p.on_failure(&Failure::Connect(String::new())));
        assert!(p.on_failure(&Failure::Timeout));
        assert!(!p.on_failure(&Failure::Overflow(Limit::Requests)));
    }

    #[test]
    fn gateway_error_is_502_to_504_only() {
        let p = policy(&["gateway-error"]);
        assert!(p.on_status(StatusCode::BAD_GATEWAY));
        assert!(p.on_status(StatusCode::GATEWAY_TIMEOUT));
        assert!(!p.on_status(StatusCode::INTERNAL_SERVER_ERROR));
        assert!(!policy(&[]).on_status(StatusCode::BAD_GATEWAY));
    }
}
