use std::time::Duration;

use super::*;

fn config() -> OutlierDetection {
    OutlierDetection {
        consecutive_5xx: 3,
        base_ejection_time_ms: 30_000,
        max_ejection_time_ms: 100_000,
        interval_ms: 10_000,
        max_ejection_percent: 50,
        ..OutlierDetection::default()
    }
}

fn endpoints(n: usize) -> Vec<Arc<EndpointHealth>> {
    (0..n).map(|_| Arc::default()).collect()
}

fn fail(
    detector: &Detector,
    config: &OutlierDetection,
    e: &[Arc<EndpointHealth>],
    i: usize,
    n: u32,
) -> bool {
    let mut ejected = false;
    for _ in 0..n {
        ejected |= detector.record(config, e, i, Outcome::ServerError);
    }
    ejected
}

#[tokio::test(start_paused = true)]
async fn consecutive_failures_eject_for_the_base_time_then_the_endpoint_comes_back() {
    let detector = Detector::new();
    let config = config();
    let e = endpoints(4);
    assert!(!fail(&detector, &config, &e, 0, 2));
    // A success in between starts the count again.
    detector.record(&config, &e, 0, Outcome::Success);
    assert!(!fail(&detector, &config, &e, 0, 2));
    assert!(detector.record(&config, &e, 0, Outcome::ServerError));
    assert!(e[0].is_ejected(detector.now()));
    assert_eq!(detector.ejections(), 1);
    tokio::time::advance(Duration::from_millis(29_999)).await;
    assert!(e[0].is_ejected(detector.now()));
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(!e[0].is_ejected(detector.now()));
}

#[tokio::test(start_paused = true)]
async fn each_ejection_lasts_longer_up_to_the_maximum_and_healthy_intervals_shorten_it_again() {
    let detector = Detector::new();
    let config = config();
    let e = endpoints(2);
    let mut lengths = Vec::new();
    for _ in 0..5 {
        assert!(fail(&detector, &config, &e, 0, 3));
        let start = detector.now();
        let mut waited = 0;
        while e[0].is_ejected(detector.now()) && waited < 1_000 {
            tokio::time::advance(Duration::from_secs(1)).await;
            waited += 1;
        }
        lengths.push(detector.now() - start);
    }
    assert_eq!(lengths, [30_000, 60_000, 90_000, 100_000, 100_000]);
    // 35 s healthy: three intervals off a multiplier of 5, so the next ejection is 3 x 30 s.
    tokio::time::advance(Duration::from_secs(35)).await;
    assert!(fail(&detector, &config, &e, 0, 3));
    let start = detector.now();
    tokio::time::advance(Duration::from_millis(89_999)).await;
    assert!(e[0].is_ejected(detector.now()));
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(
        !e[0].is_ejected(detector.now()),
        "{}",
        detector.now() - start
    );
}

#[tokio::test(start_paused = true)]
async fn the_last_endpoint_and_those_beyond_the_percentage_are_never_ejected() {
    let detector = Detector::new();
    let config = config();
    let single = endpoints(1);
    assert!(!fail(&detector, &config, &single, 0, 30));
    assert!(!single[0].is_ejected(detector.now()));
    // 50% of 4: two may be out at once.
    let e = endpoints(4);
    assert!(fail(&detector, &config, &e, 0, 3));
    assert!(fail(&detector, &config, &e, 1, 3));
    assert!(!fail(&detector, &config, &e, 2, 30));
    // 10% of 2 is less than one, but one may still go; the other stays whatever it does.
    let low = OutlierDetection {
        max_ejection_percent: 10,
        ..config
    };
    let pair = endpoints(2);
    assert!(fail(&detector, &low, &pair, 0, 3));
    assert!(!fail(&detector, &low, &pair, 1, 30));
    assert!(!pair[1].is_ejected(detector.now()));
    assert_eq!(detector.ejections(), 3);
}

#[tokio::test(start_paused = true)]
async fn gateway_failures_count_for_both_detectors_and_enforcement_can_turn_one_off() {
    let detector = Detector::new();
    let e = endpoints(3);
    let off = OutlierDetection {
        enforcing_consecutive_5xx: 0,
        ..config()
    };
    for _ in 0..20 {
        assert!(!detector.record(&off, &e, 0, Outcome::GatewayFailure));
    }
    let gateway_only = OutlierDetection {
        enforcing_consecutive_5xx: 0,
        consecutive_gateway_failure: 2,
        enforcing_consecutive_gateway_failure: 100,
        ..config()
    };
    assert!(!detector.record(&gateway_only, &e, 1, Outcome::GatewayFailure));
    // A 500 breaks a run of gateway failures.
    assert!(!detector.record(&gateway_only, &e, 1, Outcome::ServerError));
    assert!(!detector.record(&gateway_only, &e, 1, Outcome::GatewayFailure));
    assert!(detector.record(&gateway_only, &e, 1, Outcome::GatewayFailure));
    assert_eq!(Outcome::of_status(503), Outcome::GatewayFailure);
    assert_eq!(Outcome::of_status(500), Outcome::ServerError);
    assert_eq!(Outcome::of_status(404), Outcome::Success);
}
