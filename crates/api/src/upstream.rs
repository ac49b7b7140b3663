//! Upstreams (where traffic goes) and Endpoints (the addresses behind a kube upstream).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{ObjectMeta, ResourceRef, Subset};

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
