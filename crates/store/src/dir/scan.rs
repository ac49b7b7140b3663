//! One way to read files of resources: what `serve --config-dir DIR` serves is what `validate
//! -f DIR` judges, because both read the directory here.
//!
//! [`scan_dir`] lists the files (the rules of [`list_files`]: recursive, hidden names skipped,
//! symbolic links followed once, path order), decodes each, and keeps the first definition of
//! each resource. [`Scan::add_file`] takes a file from anywhere else (`validate -f FILE`,
//! standard input) by the same rules. The watched directory store
//! ([`crate::DirStore`]) keeps its own incremental rescan on top of the same pieces.
//!
//! What a file's text means, document by document:
//! - a resource that decodes is defined by the file; files carry no creation time anyone can
//!   vouch for (anyone editing the directory could backdate one), so a `creationTimestamp`
//!   written in a file is dropped and virtual services tie on namespace and name;
//! - a document that names its resource but does not decode makes that resource *undecodable*:
//!   present and invalid, with the field path and the file in its reason, so that the policy
//!   freezes or replaces what it served instead of its routes silently disappearing;
//! - a document of another API group (Namespace, Deployment, ...) is skipped, with a notice for
//!   the tools that print one;
//! - text that is not UTF-8, not YAML, or a document that names no resource (no `apiVersion`,
//!   no name) is a problem of the file ([`SourceProblem`]), and the rest of the file still
//!   counts: what decoded before a syntax error, and every other document.
//!
//! A resource defined twice, in two files or twice in one, is defined by its first definition
//! in path order (document order within a file); every later one is ignored and is a problem of
//! the file it is in. Which one wins never depends on the order files were written in.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use lockgate_api::{
    DecodeError, Document, Resource, ResourceKey, Skipped, Snapshot, Undecodable, decode_documents,
};

use crate::SourceProblem;

pub use super::walk::{Files, MAX_DEPTH, is_resource_file, list_files};

/// What a file says should exist under one key.
// Almost every entry is a resource: boxing it would cost an allocation each to save space on
// the rare undecodable one.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    Resource(Resource),
    /// It names its resource but does not decode.
    Undecodable(Undecodable),
}

impl Entry {
    pub fn labels(&self) -> &BTreeMap<String, String> {
        match self {
            Entry::Resource(resource) => &resource.metadata().labels,
            Entry::Undecodable(undecodable) => &undecodable.labels,
        }
    }
}

/// One file's documents, decoded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DecodedFile {
    /// In document order; a key may appear twice (a resource defined twice in one file).
    pub entries: Vec<(ResourceKey, Entry)>,
    pub skipped: Vec<Skipped>,
    /// What could not be read as any resource (not UTF-8, not YAML, a document that names no
    /// resource), in document order.
    pub errors: Vec<String>,
}

impl DecodedFile {
    /// The file's own problem, when it has one: its errors, in one line.
    pub fn problem(&self) -> Option<String> {
        (!self.errors.is_empty()).then(|| self.errors.join("; "))
    }
}

/// Decodes the text of the file `name` (named as problems and reasons should name it).
pub fn decode_file(name: &Path, bytes: &[u8]) -> DecodedFile {
    let mut out = DecodedFile::default();
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            out.errors.push(format!("not UTF-8 text: {e}"));
            return out;
        }
    };
    for document in decode_documents(text) {
        match document {
            Ok(Document::Resource(mut resource)) => {
                resource.metadata_mut().creation_timestamp = None;
                out.entries
                    .push((resource.key(), Entry::Resource(resource)));
            }
            Ok(Document::Skipped(skipped)) => out.skipped.push(skipped),
            Err(err) => match err.resource.clone() {
                Some(key) => {
                    let undecodable = Undecodable {
                        labels: err.labels.clone(),
                        errors: vec![undecodable_reason(name, &err)],
                    };
                    out.entries.push((key, Entry::Undecodable(undecodable)));
                }
                None => out.errors.push(err.to_string()),
            },
        }
    }
    out
}

/// `spec.routes[0].matchers[0].prefx: unknown field ... (in echo/rt.yaml)`: the field path
/// first, as every other reason on a report starts, then the file to fix.
fn undecodable_reason(file: &Path, err: &DecodeError) -> String {
    let reason = if err.path.is_empty() {
        err.message.clone()
    } else {
        format!("{}: {}", err.path, err.message)
    };
    in_file(&reason, file)
}

/// `reason (in file)`.
pub(crate) fn in_file(reason: &str, file: &Path) -> String {
    format!("{reason} (in {})", file.display())
}

/// The rule for a resource defined more than once: the first definition counts.
#[derive(Debug, Clone, Default)]
pub(crate) struct FirstDefinitions {
    defined_in: HashMap<ResourceKey, PathBuf>,
}

impl FirstDefinitions {
    /// `Ok` when this is the first definition of `key`; else the problem of `file`, whose
    /// definition is ignored.
    pub(crate) fn define(&mut self, key: &ResourceKey, file: &Path) -> Result<(), SourceProblem> {
        if let Some(first) = self.defined_in.get(key) {
            return Err(SourceProblem {
                file: file.to_path_buf(),
                resource: Some(key.clone()),
                message: format!(
                    "{key} is also defined in {}; this definition is ignored",
                    first.display()
                ),
            });
        }
        self.defined_in.insert(key.clone(), file.to_path_buf());
        Ok(())
    }
}

/// Files read by the rules of this module, in the order they were added.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// The first definition of each resource, in the order the files define them.
    pub entries: Vec<(ResourceKey, Entry)>,
    /// Problems of the files rather than of any resource, in the order they were found.
    pub problems: Vec<SourceProblem>,
    /// Documents of other API groups, with the file they are in.
    pub skipped: Vec<(PathBuf, Skipped)>,
    definitions: FirstDefinitions,
}

/// Reads the directory `root`: its files are named relative to it, as `serve --config-dir`
/// names them.
pub fn scan_dir(root: &Path) -> Scan {
    let mut scan = Scan::default();
    scan.add_dir(root);
    scan
}

impl Scan {
    /// Adds every resource file under `root`, named relative to it, in path order.
    pub fn add_dir(&mut self, root: &Path) {
        let Files { files, problems } = list_files(root);
        self.problems.extend(problems);
        for relative in files {
            match fs::read(root.join(&relative)) {
                Ok(bytes) => self.add_file(&relative, &bytes),
                // Removed between listing and reading: it is simply not there.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => self.problems.push(SourceProblem {
                    file: relative,
                    resource: None,
                    message: format!("cannot be read: {e}"),
                }),
            }
        }
    }

    /// Adds the text of one file, named `name` in problems and reasons.
    pub fn add_file(&mut self, name: &Path, bytes: &[u8]) {
        let decoded = decode_file(name, bytes);
        if let Some(message) = decoded.problem() {
            self.problems.push(SourceProblem {
                file: name.to_path_buf(),
                resource: None,
                message,
            });
        }
        for (key, entry) in decoded.entries {
            match self.definitions.define(&key, name) {
                Ok(()) => self.entries.push((key, entry)),
                Err(problem) => self.problems.push(problem),
            }
        }
        let skipped = decoded.skipped.into_iter();
        self.skipped
            .extend(skipped.map(|skipped| (name.to_path_buf(), skipped)));
    }

    /// Everything defined, as the translator takes it.
    pub fn snapshot(&self) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for (key, entry) in &self.entries {
            match entry {
                Entry::Resource(resource) => snapshot.insert(resource.clone()),
                Entry::Undecodable(undecodable) => {
                    snapshot.insert_undecodable(key.clone(), undecodable.clone());
                }
            }
        }
        snapshot
    }
}

#[cfg(test)]
#[path = "scan_test.rs"]
mod tests;
