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
    /// Accepted for compatibility with Gloo's Settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_rate: Option<serde_json::Value>,
    /// Accepted for compatibility with Gloo's Settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_artifact_source: Option<serde_json::Value>,
    /// Accepted for compatibility with Gloo's Settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_config_source: Option<serde_json::Value>,
    /// Accepted for compatibility with Gloo's Settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kubernetes_secret_source: Option<serde_json::Value>,
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
