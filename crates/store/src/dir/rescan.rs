//! The directory store's rescan: the rules of [`super::scan`], read incrementally.
//!
//! Files are read whole and compared with what was read last time, so an unchanged file costs
//! one read and no decoding. The bytes decide, not the modification time: an edit can keep the
//! length and land within the time's granularity (or set the time back), and reading a small
//! file costs far less than decoding it. A scan in which no file was added, removed or changed
//! says so, and the store compares nothing; the entries a file decoded to are shared (`Arc`)
//! from one scan to the next, so the store recognises an unchanged one by identity instead of
//! comparing specs.
//!
//! Only one rule is the rescan's own, because only it remembers: a file that no longer parses
//! as YAML at all (no resource can be named) turns every resource it defined before into an
//! undecodable one, so that the policy keeps what they served instead of their routes silently
//! disappearing. A file that never parsed is a problem of the file, as [`super::scan`] says.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use lockgate_api::{ResourceKey, Undecodable};

use super::scan::{Entry, Files, FirstDefinitions, decode_file, in_file, list_files};
use crate::SourceProblem;

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
        let Files {
            files: paths,
            mut problems,
        } = list_files(&self.root);
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
                    decode(&relative, content, previous.as_ref())
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
        let mut definitions = FirstDefinitions::default();
        for (file, state) in &self.files {
            file_problems.extend(state.problems.iter().cloned());
            for (key, entry) in &state.entries {
                match definitions.define(key, file) {
                    Ok(()) => drop(entries.insert(key.clone(), Arc::clone(entry))),
                    Err(problem) => file_problems.push(problem),
                }
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

fn decode(file: &Path, content: Vec<u8>, previous: Option<&FileState>) -> FileState {
    let decoded = decode_file(file, &content);
    let mut problems = Vec::new();
    let message = decoded.problem();
    let mut entries: Vec<(ResourceKey, Arc<Entry>)> = decoded
        .entries
        .into_iter()
        .map(|(key, entry)| (key, Arc::new(entry)))
        .collect();
    if let Some(message) = message {
        let now_defined: BTreeSet<ResourceKey> = entries.iter().map(|(k, _)| k.clone()).collect();
        let mut carried_any = false;
        let before = previous.map(|p| p.entries.as_slice()).unwrap_or_default();
        for (key, entry) in before.iter().filter(|(k, _)| !now_defined.contains(k)) {
            carried_any = true;
            let undecodable = Undecodable {
                labels: entry.labels().clone(),
                errors: vec![in_file(&message, file)],
            };
            entries.push((key.clone(), Arc::new(Entry::Undecodable(undecodable))));
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

#[cfg(test)]
#[path = "rescan_test.rs"]
mod tests;
