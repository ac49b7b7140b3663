use std::time::Duration;

use super::*;

fn secs(s: u64) -> Option<api::Duration> {
    Some(api::Duration(Duration::from_secs(s)))
}

#[test]
fn unset_fields_take_envoys_defaults() {
    assert_eq!(outlier_detection(None), Ok(OutlierDetection::default()));
    let partial = api::OutlierDetection {
        consecutive_5xx: Some(2),
        base_ejection_time: secs(1),
        ..Default::default()
    };
    let got = outlier_detection(Some(&partial)).unwrap();
    assert_eq!(
        got,
        OutlierDetection {
            consecutive_5xx: 2,
            base_ejection_time_ms: 1000,
            ..OutlierDetection::default()
        }
    );
    let defaults = OutlierDetection::default();
    assert_eq!(
        (
            defaults.consecutive_5xx,
            defaults.base_ejection_time_ms,
            defaults.max_ejection_time_ms,
            defaults.max_ejection_percent
        ),
        (5, 30_000, 300_000, 10)
    );
    let limits = circuit_breakers(Some(&api::CircuitBreakers {
        max_requests: Some(7),
        ..Default::default()
    }));
    assert_eq!(
        (
            limits.max_connections,
            limits.max_pending_requests,
            limits.max_requests,
            limits.max_retries
        ),
        (1024, 1024, 7, 3)
    );
}

#[test]
fn out_of_range_values_are_errors_with_field_paths() {
    let bad = api::OutlierDetection {
        consecutive_5xx: Some(0),
        max_ejection_percent: Some(101),
        interval: secs(0),
        ..Default::default()
    };
    let errors = outlier_detection(Some(&bad)).unwrap_err();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0]
            .to_string()
            .starts_with("spec.outlierDetection.consecutive5xx: must be at least 1")
    );
    assert!(
        errors[1]
            .to_string()
            .starts_with("spec.outlierDetection.maxEjectionPercent: 101")
    );
    assert!(
        errors[2]
            .to_string()
            .starts_with("spec.outlierDetection.interval: must be longer than 0s")
    );
}
