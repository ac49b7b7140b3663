//! Reading the files a command is pointed at (`-f FILE|DIR|-`) and decoding their documents.
//!
//! A directory is read by the rules the gateway serves one by (`lockgate_store::scan`), so that
//! what is applied or validated from a directory is what `serve --config-dir` would serve.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use lockgate_api::{DecodeError, Document, Resource, Skipped};
use lockgate_store::scan::{self, Scan};

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

/// A document that failed to decode.
#[derive(Debug, Clone)]
pub(crate) struct Invalid {
    pub(crate) error: DecodeError,
}

impl Invalid {
    /// The whole error, naming the file and document, for the terminal.
    pub(crate) fn describe(&self, source: &str) -> String {
        match self.error.resource {
            // The error's own text starts with `document N` when it cannot name the resource.
            None => format!("{source}: {}", self.error),
            Some(_) => format!("{source}: document {}: {}", self.error.document, self.error),
        }
    }
}

/// Reads every path for the commands that send what they read (`apply`, `delete`): files as
/// they are, directories as the files the gateway would serve from them (the rules of
/// [`lockgate_store::scan`]: recursive, hidden names skipped, path order), `-` as standard input.
/// A directory that cannot be read whole is refused rather than sent in part.
pub(crate) fn read_sources(paths: &[PathBuf]) -> anyhow::Result<Vec<Source>> {
    let mut sources = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("reading standard input")?;
            sources.push(Source {
                name: STDIN.into(),
                text,
            });
        } else if path.is_dir() {
            let listed = scan::list_files(path);
            if !listed.problems.is_empty() {
                let problems: Vec<String> = listed.problems.iter().map(|p| p.to_string()).collect();
                anyhow::bail!(
                    "cannot read directory {} whole: {}",
                    path.display(),
                    problems.join("; ")
                );
            }
            for file in listed.files {
                sources.push(read_file(&path.join(file))?);
            }
        } else {
            sources.push(read_file(path)?);
        }
    }
    Ok(sources)
}

/// Reads every path for `validate`, by the rules `serve --config-dir` reads a directory by (see
/// [`lockgate_store::scan`]): a directory's files are named relative to it, as the gateway
/// names them; a file as it was given; standard input as `<stdin>`. All of them make one set of
/// files, so a resource defined twice anywhere among them is defined by its first definition.
pub(crate) fn scan_paths(paths: &[PathBuf]) -> anyhow::Result<Scan> {
    let mut scan = Scan::default();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .context("reading standard input")?;
            scan.add_file(Path::new(STDIN), &bytes);
        } else if path.is_dir() {
            scan.add_dir(path);
        } else {
            let bytes =
                std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            scan.add_file(path, &bytes);
        }
    }
    Ok(scan)
}

const STDIN: &str = "<stdin>";

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
    lockgate_api::decode_documents(text)
        .into_iter()
        .map(|result| match result {
            Ok(Document::Resource(resource)) => Item::Resource(Box::new(resource)),
            Ok(Document::Skipped(skipped)) => Item::Skipped(skipped),
            Err(error) => Item::Invalid(Invalid { error }),
        })
        .collect()
}

#[cfg(test)]
#[path = "sources_test.rs"]
mod tests;
