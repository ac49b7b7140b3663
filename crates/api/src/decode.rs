//! Decoding multi-document YAML or JSON into resources, with an error path for every mistake.
//!
//! Each document is first read as a generic value, so that its `apiVersion` and `kind` decide
//! the type, and then decoded through `serde_path_to_error`, which records where in the document
//! the failure happened. The error names the resource when its metadata could be read.

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::{Kind, Resource, ResourceKey};

/// One document of an applied file.
#[derive(Debug, Clone, PartialEq)]
pub enum Document {
    Resource(Resource),
    /// A kind from another API group (Namespace, Deployment, ...): not lockgate's to serve.
    Skipped(Skipped),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub api_version: String,
    pub kind: String,
    pub namespace: String,
    pub name: String,
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}.{}", self.namespace, self.name)
        };
        write!(
            f,
            "skipped {} {} {}: not a lockgate resource",
            self.api_version, self.kind, name
        )
    }
}

/// A document that is not a valid resource: which one, which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DecodeError {
    /// 1-based position of the document in its file.
    pub document: usize,
    /// The resource, when its kind, namespace and name could be read.
    pub resource: Option<ResourceKey>,
    /// The field path inside the document (`spec.routes[1].matchers[0].prefx`), empty for
    /// problems with the document as a whole.
    pub path: String,
    pub message: String,
    /// The resource's labels, when its metadata could be read: a store that keeps undecodable
    /// resources visible to delegation selectors needs them (see `Snapshot::undecodable`).
    pub labels: std::collections::BTreeMap<String, String>,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.resource {
            Some(key) => write!(f, "{key}")?,
            None => write!(f, "document {}", self.document)?,
        }
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Decodes every document of a YAML (or JSON) text. Empty documents are ignored; a document that
/// fails does not stop the others.
pub fn decode_documents(text: &str) -> Vec<Result<Document, DecodeError>> {
    let mut out = Vec::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let number = index + 1;
        match StrictValue::deserialize(document).map(|v| v.0) {
            Ok(Value::Null) => {}
            Ok(value) => out.push(decode_value(value).map_err(|mut e| {
                e.document = number;
                e
            })),
            Err(err) => {
                out.push(Err(DecodeError {
                    document: number,
                    resource: None,
                    path: String::new(),
                    message: format!("not valid YAML: {err}"),
                    labels: Default::default(),
                }));
                // The YAML stream cannot be resynchronised after a syntax error.
                break;
            }
        }
    }
    out
}

/// Decodes one document already read as JSON (the admin API's request bodies).
pub fn decode_value(value: Value) -> Result<Document, DecodeError> {
    let labels: std::collections::BTreeMap<String, String> = value
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|l| {
            l.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let fail = |resource: Option<ResourceKey>, path: &str, message: String| DecodeError {
        document: 1,
        resource,
        path: path.to_string(),
        message,
        labels: labels.clone(),
    };
    let Value::Object(map) = &value else {
        return Err(fail(
            None,
            "",
            "expected a mapping with apiVersion, kind, metadata and spec".into(),
        ));
    };
    let text = |field: &str| {
        map.get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (api_version, kind_name) = (text("apiVersion"), text("kind"));
    let metadata = map.get("metadata").and_then(Value::as_object);
    let meta_text = |field: &str| {
        metadata
            .and_then(|m| m.get(field))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (namespace, name) = (meta_text("namespace"), meta_text("name"));

    if api_version.is_empty() {
        return Err(fail(
            None,
            "apiVersion",
            "missing: every resource needs apiVersion and kind".into(),
        ));
    }
    if kind_name.is_empty() {
        return Err(fail(
            None,
            "kind",
            "missing: every resource needs apiVersion and kind".into(),
        ));
    }
    let Some(kind) = Kind::from_type_meta(&api_version, &kind_name) else {
        let group = api_version.split('/').next().unwrap_or_default();
        if let Some(known) = Kind::ALL.into_iter().find(|k| k.as_str() == kind_name) {
            return Err(fail(
                None,
                "apiVersion",
                format!("{kind_name} is {}, not {api_version}", known.api_version()),
            ));
        }
        if group.ends_with("solo.io") {
            return Err(fail(
                None,
                "kind",
                format!(
                    "{api_version} {kind_name} is not supported by lockgate (it serves Upstream, Endpoint, VirtualService, RouteTable and Settings)"
                ),
            ));
        }
        return Ok(Document::Skipped(Skipped {
            api_version,
            kind: kind_name,
            namespace,
            name,
        }));
    };

    let key = ResourceKey::new(kind, namespace.clone(), name.clone());
    if name.is_empty() {
        return Err(fail(
            None,
            "metadata.name",
            format!("missing: every {kind} needs a name"),
        ));
    }
    if namespace.is_empty() {
        return Err(fail(
            Some(key),
            "metadata.namespace",
            "missing: lockgate resources are namespaced; set metadata.namespace".into(),
        ));
    }
    for (field, text) in [("metadata.name", &name), ("metadata.namespace", &namespace)] {
        if let Some(reason) = name_problem(text) {
            return Err(fail(Some(key), field, reason));
        }
    }
    // Namespaces are DNS labels, as in Kubernetes: `namespace.name` then reads back unambiguously.
    if namespace.contains('.') {
        return Err(fail(
            Some(key),
            "metadata.namespace",
            format!(
                "{namespace:?} is not a valid namespace: use lower-case letters, digits and '-'"
            ),
        ));
    }

    let decoded = match kind {
        Kind::Upstream => typed(value).map(Resource::Upstream),
        Kind::Endpoint => typed(value).map(Resource::Endpoint),
        Kind::VirtualService => typed(value).map(Resource::VirtualService),
        Kind::RouteTable => typed(value).map(Resource::RouteTable),
        Kind::Settings => typed(value).map(Resource::Settings),
    };
    decoded
        .map(Document::Resource)
        .map_err(|(path, message)| fail(Some(key), &path, message))
}

/// A JSON value read from YAML that refuses duplicate keys: YAML parsers keep the last of two
/// equal keys, which would let a pasted second `routeAction` silently replace the first.
struct StrictValue(Value);

impl<'de> Deserialize<'de> for StrictValue {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor).map(StrictValue)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML or JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v)
            .map(Value::Number)
            .unwrap_or(Value::Null))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(StrictValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(StrictValue(key)) = map.next_key()? {
            let key = match key {
                Value::String(s) => s,
                other => other.to_string(),
            };
            let StrictValue(value) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

/// Why a name or namespace is not a DNS-1123 label (Kubernetes' rule), if it is not.
fn name_problem(text: &str) -> Option<String> {
    let valid_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    if text.len() > 253 {
        return Some(format!("{text:?} is longer than 253 characters"));
    }
    if !text.chars().all(valid_char) || text.starts_with(['-', '.']) || text.ends_with(['-', '.']) {
        return Some(format!(
            "{text:?} is not a valid name: use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit"
        ));
    }
    None
}

fn typed<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, (String, String)> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let path = if path == "." { String::new() } else { path };
        (path, err.into_inner().to_string())
    })
}

#[cfg(test)]
#[path = "decode_test.rs"]
mod tests;
