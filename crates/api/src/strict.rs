//! Reading a document as a plain JSON value, refusing duplicate keys, with the field path of
//! the duplicate: YAML and JSON parsers keep the last of two equal keys, which would let a pasted
//! second `routeAction` silently replace the first.

use std::fmt;

use serde::Deserialize;
use serde_json::Value;

use crate::limits::Limits;
use crate::{DecodeError, ResourceKey};

/// The start of the message of a duplicate key; the key follows between backticks.
const DUPLICATE: &str = "duplicate key `";

/// A failure to read a document as a value: `(field path, message)`, the path empty for syntax
/// errors, and `duplicate` set when the failure is a repeated key.
pub(crate) struct ReadFailure {
    pub(crate) path: String,
    pub(crate) message: String,
    pub(crate) duplicate: bool,
}

/// Reads one document with `deserializer`, refusing duplicate keys.
pub(crate) fn read_strict<'de, D>(deserializer: D) -> Result<Value, ReadFailure>
where
    D: serde::Deserializer<'de>,
    D::Error: fmt::Display,
{
    serde_path_to_error::deserialize::<_, StrictValue>(deserializer)
        .map(|v| v.0)
        .map_err(|err| {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            // The error is raised by the mapping holding the key: the key completes the path.
            // (YAML errors may put a location before it, both may put one after.)
            let found = message.find(DUPLICATE).and_then(|start| {
                let rest = &message[start + DUPLICATE.len()..];
                let key = rest.rfind('`').map(|end| rest[..end].to_string())?;
                Some((key, message[start..].to_string()))
            });
            match found {
                Some((key, message)) => ReadFailure {
                    path: if path == "." {
                        key
                    } else {
                        format!("{path}.{key}")
                    },
                    message,
                    duplicate: true,
                },
                None => ReadFailure {
                    path: String::new(),
                    message,
                    duplicate: false,
                },
            }
        })
}

/// Parses a JSON body (the admin API's): within `limits`' size and depth, duplicate keys
/// refused with the resource (when its metadata can be read) and the field path.
#[allow(clippy::result_large_err)] // one per body; the error is the answer
pub fn parse_json(bytes: &[u8], limits: &Limits) -> Result<Value, DecodeError> {
    let fail = |resource: Option<ResourceKey>, path: String, message: String| DecodeError {
        document: 1,
        resource,
        path,
        message,
        labels: Default::default(),
    };
    if let Some(problem) = limits.size_problem(bytes.len()) {
        return Err(fail(None, String::new(), problem));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = read_strict(&mut deserializer).and_then(|value| {
        deserializer.end().map_err(|e| ReadFailure {
            path: String::new(),
            message: e.to_string(),
            duplicate: false,
        })?;
        Ok(value)
    });
    let value = match value {
        Ok(value) => value,
        Err(failure) if failure.duplicate => {
            // Read again, keeping the last value, only to name the resource.
            let resource = serde_json::from_slice::<Value>(bytes)
                .ok()
                .and_then(|v| crate::decode::resource_key(&v));
            return Err(fail(resource, failure.path, failure.message));
        }
        Err(failure) => {
            let message = format!("not valid JSON: {}", failure.message);
            return Err(fail(None, String::new(), message));
        }
    };
    if let Some(problem) = limits.value_depth_problem(&value) {
        return Err(fail(None, String::new(), problem));
    }
    Ok(value)
}

/// A JSON value that refuses duplicate keys.
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
                return Err(serde::de::Error::custom(format!("{DUPLICATE}{key}`")));
            }
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}
