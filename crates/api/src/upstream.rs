//! Upstreams (where traffic goes) and Endpoints (the addresses behind a kube upstream).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Duration, ObjectMeta, ResourceRef, Subset};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Upstream {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: UpstreamSpec,
    /// Ignored on input: statuses are the gateway's to write.
    #[serde(default, skip_serializing)]
    pub status: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UpstreamSpec {
    #[serde(default, rename = "static", skip_serializing_if = "Option::is_none")]
    pub static_: Option<StaticUpstream>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kube: Option<KubeUpstream>,
    /// Passive health checking: endpoints that keep failing are ejected for a while.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
    /// Limits on the connections and requests the gateway sends this upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breakers: Option<CircuitBreakers>,
    /// Gloo's `useHttp2` (a `BoolValue`: `null` is the same as leaving it out): speak HTTP/2
    /// to the endpoints, as gRPC needs. Without TLS this is h2c with prior knowledge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_http2: Option<bool>,
}

/// Envoy's `OutlierDetection` as Gloo embeds it, limited to the consecutive-failure detectors
/// (success-rate detection is not supported and refused as an unknown field). Every field is
/// optional; what is left out takes Envoy's default (see `docs/upstreams.md`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OutlierDetection {
    /// Consecutive 5xx responses (or failures to connect, resets, timeouts) before an ejection.
    #[serde(
        default,
        rename = "consecutive5xx",
        skip_serializing_if = "Option::is_none"
    )]
    pub consecutive_5xx: Option<u32>,
    /// Percent chance that a consecutive-5xx detection ejects; 0 turns that detector off.
    #[serde(
        default,
        rename = "enforcingConsecutive5xx",
        skip_serializing_if = "Option::is_none"
    )]
    pub enforcing_consecutive_5xx: Option<u32>,
    /// Consecutive 502, 503 and 504 answers (or local failures) before an ejection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consecutive_gateway_failure: Option<u32>,
    /// Percent chance that a gateway-failure detection ejects; Envoy's default is 0 (off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcing_consecutive_gateway_failure: Option<u32>,
    /// How often the ejection multiplier of a healthy endpoint decreases by one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    /// An ejection lasts this long times the number of times the endpoint has been ejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_ejection_time: Option<Duration>,
    /// The longest an ejection lasts (never shorter than `baseEjectionTime`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ejection_time: Option<Duration>,
    /// At most this percentage of a cluster's endpoints is ejected at once (at least one, but
    /// never the last one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ejection_percent: Option<u32>,
}

/// Gloo's `CircuitBreakerConfig`: Envoy's thresholds for the default priority.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CircuitBreakers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_pending_requests: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_requests: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    /// Accepted for compatibility; lockgate's counters always track what is in use.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub track_remaining: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticUpstream {
    #[serde(default)]
    pub hosts: Vec<StaticHost>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_tls: Option<bool>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StaticHost {
    pub addr: String,
    pub port: u16,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubeUpstream {
    #[serde(default)]
    pub service_name: String,
    #[serde(default)]
    pub service_namespace: String,
    /// Kept for compatibility: the port dialled is the Endpoint's own.
    #[serde(default)]
    pub service_port: u32,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset_spec: Option<SubsetSpec>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubsetSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<SubsetSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_policy: Option<FallbackPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_subset: Option<Subset>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SubsetSelector {
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub single_host_per_subset: bool,
}

/// What a route's subset falls back to when no endpoint carries its labels.
/// lockgate's default is `ANY_ENDPOINT` (the seed relies on it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FallbackPolicy {
    #[default]
    AnyEndpoint,
    NoFallback,
    DefaultSubset,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Endpoint {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: EndpointSpec,
    #[serde(default, skip_serializing)]
    pub status: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EndpointSpec {
    /// Upstreams this endpoint belongs to explicitly, besides any kube upstream selecting it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstreams: Vec<ResourceRef>,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub port: u16,
}

#[cfg(test)]
#[path = "upstream_test.rs"]
mod tests;
