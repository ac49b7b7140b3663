//! Reading a directory of YAML files into resources.
//!
//! Files are read whole and compared with what was read last time, so an unchanged file costs
//! one read and no decoding. The bytes decide, not the modification time: an edit can keep the
//! length and land within the time's granularity (or set the time back), and reading a small
//! file costs far less than decoding it. A scan in which no file was added, removed or changed
//! says so, and the store compares nothing; the entries a file decoded to are shared (`Arc`)
//! from one scan to the next, so the store recognises an unchanged one by identity instead of
//! comparing specs. What a file that stops decoding means is decided here:
//! - a document that names its resource but does not decode makes that resource *undecodable*
//!   (present and invalid, so the policy freezes or replaces what it served, instead of its
//!   routes silently disappearing);
//! - a file that no longer parses as YAML at all (no resource can be named) turns every
//!   resource it defined before into an undecodable one for the same reason; a file that never
//!   parsed is reported as a problem of the file.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lockgate_api::{DecodeError, Document, Resource, ResourceKey, Undecodable, decode_documents};

use crate::SourceProblem;

/// What the directory says should exist.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Entry {
    Resource(Resource),
    Undecodable(Undecodable),
}

/// Directory walks stop here, so that a symlink loop cannot run forever.
const MAX_DEPTH: usize = 16;

struct FileState {
    content: Vec<u8>,
    /// What this file contributed last time, by key.
    entries: Vec<(ResourceKey, Arc<Entry>)>,
    problems: Vec<SourceProblem>,
}

pub(crate) struct Scanner {
    root: PathBuf,
    /// In path order, the order the walk finds them in (and a map's `Ord` would sort them in,
    /// at a cost: `Path` compares component by component).
    files: Vec<(PathBuf, FileState)>,
    /// The files' own problems and their duplicate definitions, as of the last change.
    file_problems: Vec<SourceProblem>,
}

pub(crate) struct ScanResult {
    /// What the directory says should exist, or `None` when no file was added, removed or
    /// changed since the last scan: the directory says what it said then.
    pub(crate) entries: Option<BTreeMap<ResourceKey, Arc<Entry>>>,
    pub(crate) problems: Vec<SourceProblem>,
    /// How many files were decoded (new ones and those whose bytes changed).
    pub(crate) decoded: usize,
}

impl Scanner {
    pub(crate) fn new(root: PathBuf) -> Scanner {
        Scanner {
            root,
            files: Vec::new(),
            file_problems: Vec::new(),
        }
    }

    /// Reads the directory as it is now. A missing directory holds nothing.
    pub(crate) fn scan(&mut self) -> ScanResult {
        let mut paths = Vec::new();
        let mut problems = Vec::new();
        collect_files(&self.root, Path::new(""), 0, &mut paths, &mut problems);
        debug_assert!(paths.is_sorted(), "the walk lists files in path order");

        // Both lists are in path order, so a merge finds each file's previous state.
        let mut before = std::mem::take(&mut self.files).into_iter().peekable();
        let mut files = Vec::with_capacity(paths.len());
        let mut decoded = 0;
        let mut removed_any = false;
        for relative in paths {
            let mut previous = None;
            while let Some((path, _)) = before.peek() {
                if *path == relative {
                    previous = before.next().map(|(_, state)| state);
                    break;
                }
                if *path > relative {
                    break;
                }
                removed_any = true;
                before.next();
            }
            let full = self.root.join(&relative);
            let content = match fs::read(&full) {
                Ok(content) => content,
                // Removed between listing and reading: the next event rescans.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    removed_any |= previous.is_some();
                    continue;
                }
                Err(e) => {
                    problems.push(SourceProblem {
                        file: relative.clone(),
                        resource: None,
                        message: format!("cannot be read: {e}"),
                    });
                    removed_any |= previous.is_some();
                    continue;
                }
            };
            let state = match previous {
                Some(previous) if previous.content == content => previous,
                previous => {
                    decoded += 1;
                    decode_file(&relative, content, previous.as_ref())
                }
            };
            files.push((relative, state));
        }
        removed_any |= before.next().is_some();
        self.files = files;
        if decoded == 0 && !removed_any {
            problems.extend(self.file_problems.iter().cloned());
            return ScanResult {
                entries: None,
                problems,
                decoded,
            };
        }

        let mut file_problems = Vec::new();
        let mut entries = BTreeMap::new();
        let mut defined_in: BTreeMap<ResourceKey, &Path> = BTreeMap::new();
        for (file, state) in &self.files {
            file_problems.extend(state.problems.iter().cloned());
            for (key, entry) in &state.entries {
                if let Some(first) = defined_in.get(key) {
                    file_problems.push(SourceProblem {
                        file: file.clone(),
                        resource: Some(key.clone()),
                        message: format!(
                            "{key} is also defined in {}; this definition is ignored",
                            first.display()
                        ),
                    });
                    continue;
                }
                defined_in.insert(key.clone(), file);
                entries.insert(key.clone(), Arc::clone(entry));
            }
        }
        problems.extend(file_problems.iter().cloned());
        self.file_problems = file_problems;
        ScanResult {
            entries: Some(entries),
            problems,
            decoded,
        }
    }
}

fn is_resource_file(name: &str) -> bool {
    !name.starts_with('.')
        && [".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

fn collect_files(
    root: &Path,
    relative: &Path,
    depth: usize,
    out: &mut Vec<PathBuf>,
    problems: &mut Vec<SourceProblem>,
) {
    let dir = root.join(relative);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            problems.push(SourceProblem {
                file: relative.to_path_buf(),
                resource: None,
                message: format!("directory cannot be read: {e}"),
            });
            return;
        }
    };
    let mut names: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        let Some(text) = name.to_str() else { continue };
        let child = relative.join(&name);
        // Follows symlinks, as a mounted ConfigMap needs.
        let Ok(meta) = fs::metadata(root.join(&child)) else {
            continue;
        };
        if meta.is_dir() {
            // Hidden directories hold editors' and Kubernetes' bookkeeping (`..data`).
            if !text.starts_with('.') && depth < MAX_DEPTH {
                collect_files(root, &child, depth + 1, out, problems);
            }
        } else if meta.is_file() && is_resource_file(text) {
            out.push(child);
        }
    }
}

fn decode_file(file: &Path, content: Vec<u8>, previous: Option<&FileState>) -> FileState {
    let mut entries: Vec<(ResourceKey, Arc<Entry>)> = Vec::new();
    let mut problems = Vec::new();
    let mut file_errors = Vec::new();
    match std::str::from_utf8(&content) {
        Err(e) => file_errors.push(format!("not UTF-8 text: {e}")),
        Ok(text) => {
            for document in decode_documents(text) {
                match document {
                    Ok(Document::Resource(resource)) => {
                        entries.push((resource.key(), Arc::new(Entry::Resource(resource))));
                    }
                    // Namespaces, Deployments and friends are not lockgate's to serve.
                    Ok(Document::Skipped(_)) => {}
                    Err(err) => match err.resource.clone() {
                        Some(key) => {
                            let undecodable = Undecodable {
                                labels: err.labels.clone(),
                                errors: vec![describe(file, &err)],
                            };
                            entries.push((key, Arc::new(Entry::Undecodable(undecodable))));
                        }
                        None => file_errors.push(err.to_string()),
                    },
                }
            }
        }
    }
    if !file_errors.is_empty() {
        let message = file_errors.join("; ");
        let now_defined: BTreeSet<ResourceKey> = entries.iter().map(|(k, _)| k.clone()).collect();
        let carried: Vec<ResourceKey> = previous
            .map(|p| p.entries.iter().map(|(k, _)| k.clone()).collect())
            .unwrap_or_default();
        let mut carried_any = false;
        for key in carried.into_iter().filter(|k| !now_defined.contains(k)) {
            carried_any = true;
            let labels = previous
                .and_then(|p| p.entries.iter().find(|(k, _)| *k == key))
                .map(|(_, entry)| match &**entry {
                    Entry::Resource(r) => r.metadata().labels.clone(),
                    Entry::Undecodable(u) => u.labels.clone(),
                })
                .unwrap_or_default();
            let undecodable = Undecodable {
                labels,
                errors: vec![format!("{}: {message}", file.display())],
            };
            entries.push((key, Arc::new(Entry::Undecodable(undecodable))));
        }
        problems.push(SourceProblem {
            file: file.to_path_buf(),
            resource: None,
            message: if carried_any {
                format!("{message} (the resources this file defined are kept as invalid)")
            } else {
                message
            },
        });
    }
    FileState {
        content,
        entries,
        problems,
    }
}

/// `echo/rt.yaml: spec.routes[0].matchers[0].prefx: unknown field ...`
fn describe(file: &Path, err: &DecodeError) -> String {
    if err.path.is_empty() {
        format!("{}: {}", file.display(), err.message)
    } else {
        format!("{}: {}: {}", file.display(), err.path, err.message)
    }
}

#[cfg(test)]
#[path = "scan_test.rs"]
mod tests;
