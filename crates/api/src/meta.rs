//! Object metadata and the identity of a resource.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The kinds lockgate understands, with their API group and version as Gloo spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Kind {
    Upstream,
    Endpoint,
    VirtualService,
    RouteTable,
    Settings,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Settings,
        Kind::Upstream,
        Kind::Endpoint,
        Kind::VirtualService,
        Kind::RouteTable,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Upstream => "Upstream",
            Kind::Endpoint => "Endpoint",
            Kind::VirtualService => "VirtualService",
            Kind::RouteTable => "RouteTable",
            Kind::Settings => "Settings",
        }
    }

    /// The API group, as in `apiVersion: <group>/v1`.
    pub fn group(self) -> &'static str {
        match self {
            Kind::VirtualService | Kind::RouteTable => "gateway.solo.io",
            Kind::Upstream | Kind::Endpoint | Kind::Settings => "gloo.solo.io",
        }
    }

    pub fn version(self) -> &'static str {
        "v1"
    }

    pub fn api_version(self) -> String {
        format!("{}/{}", self.group(), self.version())
    }

    /// The lower-case plural used in admin API paths (`/apis/gateway.solo.io/v1/.../routetables`).
    pub fn plural(self) -> &'static str {
        match self {
            Kind::Upstream => "upstreams",
            Kind::Endpoint => "endpoints",
            Kind::VirtualService => "virtualservices",
            Kind::RouteTable => "routetables",
            Kind::Settings => "settings",
        }
    }

    /// Parses a kind as a person types it: `RouteTable`, `routetables`, `rt`, `vs`, `us`, ...
    pub fn parse(text: &str) -> Option<Kind> {
        let lower = text.to_ascii_lowercase();
        let kind = match lower.as_str() {
            "upstream" | "upstreams" | "us" => Kind::Upstream,
            "endpoint" | "endpoints" | "ep" => Kind::Endpoint,
            "virtualservice" | "virtualservices" | "vs" => Kind::VirtualService,
            "routetable" | "routetables" | "rt" => Kind::RouteTable,
            "settings" | "setting" => Kind::Settings,
            _ => {
                // Accept `routetables.gateway.solo.io` as kubectl does.
                let (head, group) = lower.split_once('.')?;
                let kind = Kind::parse(head)?;
                return (kind.group() == group).then_some(kind);
            }
        };
        Some(kind)
    }

    /// The kind with this `apiVersion` and `kind`, or `None` for anything lockgate does not serve.
    pub fn from_type_meta(api_version: &str, kind: &str) -> Option<Kind> {
        let found = Kind::ALL.into_iter().find(|k| k.as_str() == kind)?;
        (found.api_version() == api_version).then_some(found)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Kubernetes-style object metadata. Fields that Kubernetes tooling writes (`uid`,
/// `creationTimestamp`, `managedFields`, ...) are accepted so that `kubectl get -o yaml` output
/// can be applied again; lockgate keeps only what it uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Opaque to clients; the store sets it on every write and checks it on conditional writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// Incremented by the store whenever the spec changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    #[serde(default, skip_serializing)]
    pub uid: Option<serde_json::Value>,
    /// When the resource was first stored (RFC 3339, UTC). The embedded store sets it on create
    /// and keeps it on every update, whatever a client sends; the oldest virtual service wins a
    /// domain nobody held before. The directory store has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(default, skip_serializing)]
    pub managed_fields: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub self_link: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub owner_references: Option<serde_json::Value>,
    #[serde(default, skip_serializing)]
    pub finalizers: Option<serde_json::Value>,
}

/// A reference to a resource by name and namespace, as Gloo writes it in `upstream:` and `ref:`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceRef {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
}

impl ResourceRef {
    /// The namespace, defaulting to the referring resource's own, as Gloo does.
    pub fn namespace_or<'a>(&'a self, owner_namespace: &'a str) -> &'a str {
        if self.namespace.is_empty() {
            owner_namespace
        } else {
            &self.namespace
        }
    }
}

/// The identity of one resource: kind, namespace and name. Displays as `RouteTable echo.echo-routes`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceKey {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
}

impl ResourceKey {
    pub fn new(kind: Kind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ResourceKey {
            kind,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    /// `namespace.name`, the way Gloo names resources in its messages.
    pub fn qualified_name(&self) -> String {
        format!("{}.{}", self.namespace, self.name)
    }
}

impl fmt::Display for ResourceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}.{}", self.kind, self.namespace, self.name)
    }
}

/// Why `text` is not a valid resource name, if it is not: names are DNS-1123 subdomains, as in
/// Kubernetes (at most 253 characters; dot-separated parts of lower-case letters, digits and
/// '-', each starting and ending with a letter or digit).
pub fn name_problem(text: &str) -> Option<String> {
    if text.len() > 253 {
        return Some(format!(
            "{:?}... is {} characters long: a name has at most 253",
            truncated(text),
            text.len()
        ));
    }
    if !text.split('.').all(is_label) {
        return Some(format!(
            "{text:?} is not a valid name: use lower-case letters, digits, '-' and '.', each dot-separated part starting and ending with a letter or digit (a DNS-1123 subdomain)"
        ));
    }
    None
}

/// Why `text` is not a valid namespace, if it is not: namespaces are DNS-1123 labels, as in
/// Kubernetes, so that `namespace.name` reads back unambiguously.
pub fn namespace_problem(text: &str) -> Option<String> {
    if text.len() > 63 {
        return Some(format!(
            "{:?}... is {} characters long: a namespace has at most 63",
            truncated(text),
            text.len()
        ));
    }
    if !is_label(text) {
        return Some(format!(
            "{text:?} is not a valid namespace: use lower-case letters, digits and '-', starting and ending with a letter or digit (a DNS-1123 label)"
        ));
    }
    None
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters.
fn is_label(text: &str) -> bool {
    let alphanumeric = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes = text.as_bytes();
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) => {
            bytes.len() <= 63
                && alphanumeric(first)
                && alphanumeric(last)
                && bytes.iter().all(|&c| alphanumeric(c) || c == b'-')
        }
        _ => false,
    }
}

/// The first 40 characters, for messages about overlong names.
fn truncated(text: &str) -> String {
    text.chars().take(40).collect()
}
