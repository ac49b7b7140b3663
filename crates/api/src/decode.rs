//! Decoding multi-document YAML or JSON into resources, with an error path for every mistake.
//!
//! Each document is first read as a generic value, so that its `apiVersion` and `kind` decide
//! the type, and then decoded through `serde_path_to_error`, which records where in the document
//! the failure happened. The error names the resource when its metadata could be read.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::limits::{Limits, ScanProblem};
use crate::meta::{name_problem, namespace_problem};
use crate::strict::read_strict;
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
    pub labels: BTreeMap<String, String>,
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

/// Decodes every document of a YAML (or JSON) text within the default [`Limits`]. Empty
/// documents are ignored; a document that fails does not stop the others.
pub fn decode_documents(text: &str) -> Vec<Result<Document, DecodeError>> {
    decode_documents_with(text, &Limits::default())
}

/// [`decode_documents`] within `limits`. A text too large or too deep is refused whole, before
/// it is decoded (see [`crate::limits`]).
pub fn decode_documents_with(text: &str, limits: &Limits) -> Vec<Result<Document, DecodeError>> {
    let refused = |document: usize, message: String| DecodeError {
        document,
        resource: None,
        path: String::new(),
        message,
        labels: Default::default(),
    };
    match limits.scan_yaml(text) {
        Ok(()) => {}
        Err(ScanProblem::TooLarge(message)) => return vec![Err(refused(1, message))],
        Err(ScanProblem::TooDeep { document, message }) => {
            return vec![Err(refused(document, message))];
        }
        // Small texts go on to the decoder, whose messages are the familiar ones; a large
        // text could make it spend quadratic time where the pre-scan could not measure.
        Err(ScanProblem::Syntax { document, message }) if text.len() > UNSCANNED_BYTES => {
            return vec![Err(refused(document, format!("not valid YAML: {message}")))];
        }
        Err(ScanProblem::Syntax { .. }) => {}
    }
    let mut out = Vec::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let number = index + 1;
        match read_strict(document) {
            Ok(Value::Null) => {}
            Ok(value) => out.push(decode_value_with(value, limits).map_err(|mut e| {
                e.document = number;
                e
            })),
            Err(failure) if failure.duplicate => {
                // Read the document again, keeping the last value, only to name the resource;
                // the stream goes on after it.
                let lenient = serde_yaml_ng::Deserializer::from_str(text)
                    .nth(index)
                    .and_then(|d| Value::deserialize(d).ok());
                out.push(Err(DecodeError {
                    document: number,
                    resource: lenient.as_ref().and_then(resource_key),
                    path: failure.path,
                    message: failure.message,
                    labels: lenient.as_ref().map(labels_of).unwrap_or_default(),
                }));
            }
            Err(failure) => {
                out.push(Err(refused(
                    number,
                    format!("not valid YAML: {}", failure.message),
                )));
                // The YAML stream cannot be resynchronised after a syntax error.
                break;
            }
        }
    }
    out
}

/// Below this, a text the pre-scan cannot read is still given to the YAML decoder (16 KiB of
/// `[` cost it a few milliseconds).
const UNSCANNED_BYTES: usize = 16 * 1024;

fn labels_of(value: &Value) -> BTreeMap<String, String> {
    value
        .get("metadata")
        .and_then(|m| m.get("labels"))
        .and_then(Value::as_object)
        .map(|l| {
            l.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// The resource a document describes, when its kind, namespace and name can be read.
pub(crate) fn resource_key(value: &Value) -> Option<ResourceKey> {
    let text = |pointer: &str| value.pointer(pointer).and_then(Value::as_str);
    let kind = Kind::from_type_meta(text("/apiVersion")?, text("/kind")?)?;
    let (namespace, name) = (text("/metadata/namespace")?, text("/metadata/name")?);
    (!namespace.is_empty() && !name.is_empty()).then(|| ResourceKey::new(kind, namespace, name))
}

/// Decodes one document already read as JSON (the admin API's request bodies, the store's
/// records) within the default [`Limits`].
pub fn decode_value(value: Value) -> Result<Document, DecodeError> {
    decode_value_with(value, &Limits::default())
}

/// [`decode_value`] within `limits` (nesting depth and routes per resource).
#[allow(clippy::result_large_err)] // as decode_value: one per document, the error is the answer
pub fn decode_value_with(value: Value, limits: &Limits) -> Result<Document, DecodeError> {
    let labels = labels_of(&value);
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
    if let Some(reason) = name_problem(&name) {
        return Err(fail(Some(key), "metadata.name", reason));
    }
    if let Some(reason) = namespace_problem(&namespace) {
        return Err(fail(Some(key), "metadata.namespace", reason));
    }
    if let Some(problem) = limits.value_depth_problem(&value) {
        return Err(fail(Some(key), "", problem));
    }
    if let Some((path, problem)) = limits.routes_problem(&value) {
        return Err(fail(Some(key), &path, problem));
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
