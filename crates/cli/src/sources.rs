//! Reading the files a command is pointed at (`-f FILE|DIR|-`) and decoding their documents.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use lockgate_api::{DecodeError, Document, Resource, Skipped};
use serde::Deserialize;

/// The text of one file (or of standard input), with the name to show in messages.
#[derive(Debug, Clone)]
pub(crate) struct Source {
    pub(crate) name: String,
    pub(crate) text: String,
}

/// One document of a source, decoded.
#[derive(Debug, Clone)]
pub(crate) enum Item {
    /// Boxed: a resource is large, and most documents of a file are resources anyway.
    Resource(Box<Resource>),
    /// Another API group's kind (Namespace, Deployment, ...).
    Skipped(Skipped),
    Invalid(Invalid),
}

/// A document that failed to decode, with what could still be read of it.
#[derive(Debug, Clone)]
pub(crate) struct Invalid {
    pub(crate) error: DecodeError,
    /// Its labels, when its metadata could be read: delegation selectors still see it.
    pub(crate) labels: BTreeMap<String, String>,
}

impl Invalid {
    /// The reason as it appears on the resource's report: the field path and the message.
    pub(crate) fn reason(&self) -> String {
        if self.error.path.is_empty() {
            self.error.message.clone()
        } else {
            format!("{}: {}", self.error.path, self.error.message)
        }
    }

    /// The whole error, naming the file and document, for the terminal.
    pub(crate) fn describe(&self, source: &str) -> String {
        match self.error.resource {
            // The error's own text starts with `document N` when it cannot name the resource.
            None => format!("{source}: {}", self.error),
            Some(_) => format!("{source}: document {}: {}", self.error.document, self.error),
        }
    }
}

/// Reads every path: files as they are, directories as their YAML and JSON files (not
/// recursive, hidden files skipped, sorted by name so the order is the same on every machine),
/// `-` as standard input.
pub(crate) fn read_sources(paths: &[PathBuf]) -> anyhow::Result<Vec<Source>> {
    let mut sources = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading standard input")?;
            sources.push(Source {
                name: "<stdin>".into(),
                text,
            });
        } else if path.is_dir() {
            for file in directory_files(path)? {
                sources.push(read_file(&file)?);
            }
        } else {
            sources.push(read_file(path)?);
        }
    }
    Ok(sources)
}

fn directory_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read directory {}", dir.display()))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read directory {}", dir.display()))?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let wanted = [".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| name.ends_with(ext));
        if wanted && !name.starts_with('.') && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn read_file(path: &Path) -> anyhow::Result<Source> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(Source {
        name: path.display().to_string(),
        text,
    })
}

/// Decodes every document of `text`. A document that fails keeps the others going.
pub(crate) fn decode(text: &str) -> Vec<Item> {
    let mut raw: Option<Vec<serde_json::Value>> = None;
    lockgate_api::decode_documents(text)
        .into_iter()
        .map(|result| match result {
            Ok(Document::Resource(resource)) => Item::Resource(Box::new(resource)),
            Ok(Document::Skipped(skipped)) => Item::Skipped(skipped),
            Err(error) => {
                // Only failures need the raw documents (for their labels): read them lazily.
                let raw = raw.get_or_insert_with(|| raw_documents(text));
                let labels = raw
                    .get(error.document.saturating_sub(1))
                    .map(labels_of)
                    .unwrap_or_default();
                Item::Invalid(Invalid { error, labels })
            }
        })
        .collect()
}

/// Every document of `text` as a plain value, numbered as `decode_documents` numbers them
/// (index + 1, empty documents included).
fn raw_documents(text: &str) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for document in serde_yaml_ng::Deserializer::from_str(text) {
        match serde_json::Value::deserialize(document) {
            Ok(value) => out.push(value),
            Err(_) => break,
        }
    }
    out
}

fn labels_of(document: &serde_json::Value) -> BTreeMap<String, String> {
    let Some(labels) = document
        .pointer("/metadata/labels")
        .and_then(serde_json::Value::as_object)
    else {
        return BTreeMap::new();
    };
    labels
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
        .collect()
}

#[cfg(test)]
#[path = "sources_test.rs"]
mod tests;
