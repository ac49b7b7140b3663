use crate::{Document, Resource, decode_documents};

fn upstream(spec: &str) -> Result<super::Upstream, Box<crate::DecodeError>> {
    let text = format!(
        "apiVersion: gloo.solo.io/v1\nkind: Upstream\nmetadata: {{name: echo, namespace: echo}}\nspec:\n{spec}"
    );
    let mut all = decode_documents(&text);
    assert_eq!(all.len(), 1);
    match all.remove(0).map_err(Box::new)? {
        Document::Resource(Resource::Upstream(u)) => Ok(u),
        other => panic!("not an upstream: {other:?}"),
    }
}

#[test]
fn outlier_detection_and_circuit_breakers_decode_with_gloo_names_and_units() {
    let u = upstream(
        "  static: {hosts: [{addr: 127.0.0.1, port: 80}]}
  outlierDetection:
    consecutive5xx: 3
    enforcingConsecutive5xx: 100
    consecutiveGatewayFailure: 2
    enforcingConsecutiveGatewayFailure: 50
    interval: 5s
    baseEjectionTime: 0.5s
    maxEjectionTime: 120s
    maxEjectionPercent: 50
  circuitBreakers: {maxConnections: 10, maxPendingRequests: 2, maxRequests: 20, maxRetries: 1, trackRemaining: true}
",
    )
    .unwrap();
    let od = u.spec.outlier_detection.unwrap();
    assert_eq!(od.consecutive_5xx, Some(3));
    assert_eq!(od.enforcing_consecutive_5xx, Some(100));
    assert_eq!(od.consecutive_gateway_failure, Some(2));
    assert_eq!(od.enforcing_consecutive_gateway_failure, Some(50));
    assert_eq!(od.interval.unwrap().0.as_secs(), 5);
    assert_eq!(od.base_ejection_time.unwrap().0.as_millis(), 500);
    assert_eq!(od.max_ejection_time.unwrap().0.as_secs(), 120);
    assert_eq!(od.max_ejection_percent, Some(50));
    let cb = u.spec.circuit_breakers.unwrap();
    assert_eq!(
        (
            cb.max_connections,
            cb.max_pending_requests,
            cb.max_requests,
            cb.max_retries
        ),
        (Some(10), Some(2), Some(20), Some(1))
    );
}

#[test]
fn unsupported_outlier_fields_are_refused_with_their_path() {
    let err = upstream(
        "  static: {hosts: [{addr: 127.0.0.1, port: 80}]}\n  outlierDetection: {successRateMinimumHosts: 3}\n",
    )
    .unwrap_err();
    assert_eq!(err.path, "spec.outlierDetection.successRateMinimumHosts");
    let err = upstream("  circuitBreakers: {maxConnection: 3}\n").unwrap_err();
    assert_eq!(err.path, "spec.circuitBreakers.maxConnection");
    let err = upstream("  outlierDetection: {interval: 10}\n").unwrap_err();
    assert_eq!(err.path, "spec.outlierDetection.interval");
}

#[test]
fn use_http2_decodes_as_gloo_writes_it_and_null_means_unset() {
    let spec = |line: &str| format!("  static: {{hosts: [{{addr: 127.0.0.1, port: 80}}]}}\n{line}");
    let on = upstream(&spec("  useHttp2: true\n")).unwrap();
    assert_eq!(on.spec.use_http2, Some(true));
    let off = upstream(&spec("  useHttp2: false\n")).unwrap();
    assert_eq!(off.spec.use_http2, Some(false));
    let null = upstream(&spec("  useHttp2: null\n")).unwrap();
    assert_eq!(null.spec.use_http2, None);
    let unset = upstream(&spec("")).unwrap();
    assert_eq!(unset.spec.use_http2, None);
    let err = upstream(&spec("  useHttp2: yes please\n")).unwrap_err();
    assert_eq!(err.path, "spec.useHttp2");
    let err = upstream(&spec("  useHTTP2: true\n")).unwrap_err();
    assert_eq!(err.path, "spec.useHTTP2");
}
