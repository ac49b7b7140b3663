//! Settings `gloo-system.default`: the invalid-configuration policy and write validation.

use serde::{Deserialize, Serialize};

use crate::{Kind, ObjectMeta};

/// Where Settings `default` lives.
pub const SYSTEM_NAMESPACE: &str = "gloo-system";

/// Gloo's own wording, kept so that scripts written for Gloo see the same body.
pub const DEFAULT_INVALID_ROUTE_BODY: &str = "Gloo Gateway has invalid configuration. Administrators should run `glooctl check` to find and fix config errors.";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: SettingsSpec,
    #[serde(default, skip_serializing)]
    pub status: Option<serde_json::Value>,
}

impl Default for Settings {
    /// Settings `gloo-system.default` with Gloo's defaults, as it exists from the first start.
    fn default() -> Self {
        Settings {
            api_version: Kind::Settings.api_version(),
            kind: Kind::Settings.as_str().to_string(),
            metadata: ObjectMeta {
                name: "default".into(),
                namespace: SYSTEM_NAMESPACE.into(),
                ..ObjectMeta::default()
            },
            spec: SettingsSpec {
                gloo: GlooSettings {
                    invalid_config_policy: InvalidConfigPolicy {
                        replace_invalid_routes: Some(false),
                        invalid_route_response_code: Some(404),
                        invalid_route_response_body: Some(DEFAULT_INVALID_ROUTE_BODY.into()),
                        keep_last_valid: None,
                    },
                },
                gateway: GatewaySettings {
                    validation: ValidationSettings {
                        always_accept: Some(true),
                        allow_warnings: Some(true),
                    },
                    ..GatewaySettings::default()
                },
                ..SettingsSpec::default()
            },
            status: None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SettingsSpec {
    #[serde(default)]
    pub gloo: GlooSettings,
    #[serde(default)]
    pub gateway: GatewaySettings,
    /// Accepted for compatibility with Gloo's Settings; lockgate has no discovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_namespace: Option<String>,
    /// Accepted for compatibility with Gloo's Settings (boxed, like the fields below: they are
    /// rarely set, and every `Resource` is as large as the largest kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_rate: Option<Box<serde_json::Value>>,
    /// Accepted for compatibility with Gloo's Settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_artifact_source: Option<Box<serde_json::Value>>,
    /// Accepted for compatibility with Gloo's Settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_config_source: Option<Box<serde_json::Value>>,
    /// Accepted for compatibility with Gloo's Settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_secret_source: Option<Box<serde_json::Value>>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GlooSettings {
    #[serde(default)]
    pub invalid_config_policy: InvalidConfigPolicy,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InvalidConfigPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_invalid_routes: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_route_response_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_route_response_body: Option<String>,
    /// lockgate's own: an invalid route table keeps serving its last valid generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_last_valid: Option<bool>,
}

impl InvalidConfigPolicy {
    pub fn replace_invalid_routes(&self) -> bool {
        self.replace_invalid_routes.unwrap_or(false)
    }

    pub fn keep_last_valid(&self) -> bool {
        self.keep_last_valid.unwrap_or(false)
    }

    pub fn response_code(&self) -> u16 {
        self.invalid_route_response_code.unwrap_or(404)
    }

    pub fn response_body(&self) -> &str {
        self.invalid_route_response_body
            .as_deref()
            .unwrap_or(DEFAULT_INVALID_ROUTE_BODY)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewaySettings {
    #[serde(default)]
    pub validation: ValidationSettings,
    /// lockgate's own: the namespaces whose VirtualServices are served (`*` means all).
    /// Default `[gloo-system]`: a VirtualService elsewhere is Rejected and claims nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_service_namespaces: Option<Vec<String>>,
    /// lockgate's own: the namespaces whose VirtualServices and RouteTables may delegate to
    /// route tables in *other* namespaces (`*` means all). Default `[gloo-system]`. Delegating
    /// within one's own namespace is always allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegating_namespaces: Option<Vec<String>>,
}

impl GatewaySettings {
    /// `virtualServiceNamespaces`, or its default.
    pub fn virtual_service_namespaces(&self) -> Vec<String> {
        self.virtual_service_namespaces
            .clone()
            .unwrap_or_else(|| vec![SYSTEM_NAMESPACE.to_string()])
    }

    /// `delegatingNamespaces`, or its default.
    pub fn delegating_namespaces(&self) -> Vec<String> {
        self.delegating_namespaces
            .clone()
            .unwrap_or_else(|| vec![SYSTEM_NAMESPACE.to_string()])
    }

    /// Whether VirtualServices in `namespace` are served.
    pub fn allows_virtual_services_in(&self, namespace: &str) -> bool {
        names(self.virtual_service_namespaces.as_deref(), namespace)
    }

    /// Whether resources in `namespace` may delegate to other namespaces' route tables.
    pub fn allows_delegation_from(&self, namespace: &str) -> bool {
        names(self.delegating_namespaces.as_deref(), namespace)
    }
}

/// Whether a namespace list (absent: the default `[gloo-system]`) names `namespace` or `*`.
fn names(list: Option<&[String]>, namespace: &str) -> bool {
    match list {
        None => namespace == SYSTEM_NAMESPACE,
        Some(list) => list.iter().any(|n| n == "*" || n == namespace),
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ValidationSettings {
    /// Default true: store a change even if it adds errors (the policy then decides what serves).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub always_accept: Option<bool>,
    /// Default true: with `alwaysAccept: false`, whether a change that adds warnings is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_warnings: Option<bool>,
}

impl ValidationSettings {
    pub fn always_accept(&self) -> bool {
        self.always_accept.unwrap_or(true)
    }

    pub fn allow_warnings(&self) -> bool {
        self.allow_warnings.unwrap_or(true)
    }
}
