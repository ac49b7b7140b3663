//! Which files under a directory hold resources, and in what order.
//!
//! The rules, shared by everything that reads a directory (`serve --config-dir`, `validate -f
//! DIR`, `apply -f DIR`), so that what CI validates is what the gateway serves:
//! - every `*.yaml`, `*.yml` and `*.json` file (the case counts), at any depth up to
//!   [`MAX_DEPTH`] directories below the top;
//! - a name that starts with `.` is skipped, file or directory: those hold editors', version
//!   control's and Kubernetes' bookkeeping (`.rt.yaml.swp`, `.git`, a ConfigMap's `..data`);
//! - symbolic links are followed, as a mounted ConfigMap needs. A directory reached a second
//!   time (a link back up to one of its parents, or a second link to one directory) is not read
//!   again: that would only define everything in it twice, or forever;
//! - within a directory, entries go in byte order of their names, a subdirectory's files where
//!   its name sorts (`b/x.yaml` before `b.yaml`): path order, the same on every machine, which
//!   is what decides the first definition of a resource defined twice.
//!
//! What cannot be followed is a problem of its path, never a silent gap: a directory that
//! cannot be read, one nested too deep, one reached again, a resource file that is a link to
//! nothing. A top directory that does not exist holds nothing (a gateway may start before its
//! directory is mounted).

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::SourceProblem;

/// Directories nested deeper than this below the top are not read (and that is reported).
pub const MAX_DEPTH: usize = 32;

/// The resource files found under a directory, and what could not be followed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Files {
    /// Relative to the top directory, in path order.
    pub files: Vec<PathBuf>,
    /// Each names its path relative to the top (`.` for the top itself).
    pub problems: Vec<SourceProblem>,
}

/// Whether a file of this name holds resources (see the module documentation).
pub fn is_resource_file(name: &str) -> bool {
    !name.starts_with('.')
        && [".yaml", ".yml", ".json"]
            .iter()
            .any(|ext| name.ends_with(ext))
}

/// Lists the resource files under `root` (see the module documentation for the rules).
pub fn list_files(root: &Path) -> Files {
    let mut walk = Walk {
        root,
        out: Files::default(),
        seen: BTreeMap::new(),
    };
    match fs::metadata(root).and_then(|meta| directory_id(root, &meta)) {
        Ok(id) => {
            walk.seen.insert(id, PathBuf::new());
            walk.directory(Path::new(""), 0);
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => walk.problem(Path::new(""), format!("directory cannot be read: {e}")),
    }
    walk.out
}

/// What makes a directory the same one by whatever path it is reached: its device and inode,
/// which the metadata the walk reads anyway holds (a real path would cost a system call per
/// component). A map ordered by it, not hashed: a few comparisons of two integers are cheaper
/// than hashing them.
#[cfg(unix)]
type DirectoryId = (u64, u64);

#[cfg(unix)]
fn directory_id(_: &Path, meta: &fs::Metadata) -> std::io::Result<DirectoryId> {
    use std::os::unix::fs::MetadataExt;
    Ok((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
type DirectoryId = PathBuf;

#[cfg(not(unix))]
fn directory_id(full: &Path, _: &fs::Metadata) -> std::io::Result<DirectoryId> {
    fs::canonicalize(full)
}

struct Walk<'a> {
    root: &'a Path,
    out: Files,
    /// Every directory read so far, with the path it was first reached by.
    seen: BTreeMap<DirectoryId, PathBuf>,
}

impl Walk<'_> {
    fn problem(&mut self, relative: &Path, message: String) {
        self.out.problems.push(SourceProblem {
            file: shown(relative),
            resource: None,
            message,
        });
    }

    fn directory(&mut self, relative: &Path, depth: usize) {
        let entries = match fs::read_dir(self.root.join(relative)) {
            Ok(entries) => entries,
            // Removed since it was seen: the next scan sees it gone.
            Err(e) if e.kind() == ErrorKind::NotFound => return,
            Err(e) => return self.problem(relative, format!("directory cannot be read: {e}")),
        };
        let mut names: Vec<_> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names {
            // Lossy only to apply the rules: the file itself is opened by its real name.
            let text = name.to_string_lossy();
            if text.starts_with('.') {
                continue;
            }
            let child = relative.join(&name);
            let full = self.root.join(&child);
            let meta = match fs::metadata(&full) {
                Ok(meta) => meta,
                Err(e) if e.kind() == ErrorKind::NotFound => {
                    // Gone since the listing (nothing to say), or a link that leads nowhere.
                    if let Some(target) = is_resource_file(&text)
                        .then(|| fs::read_link(&full).ok())
                        .flatten()
                    {
                        let message = format!(
                            "is a symbolic link to {}, which does not exist",
                            target.display()
                        );
                        self.problem(&child, message);
                    }
                    continue;
                }
                Err(e) => {
                    self.problem(&child, format!("cannot be read: {e}"));
                    continue;
                }
            };
            if meta.is_dir() {
                self.subdirectory(child, &full, &meta, depth + 1);
            } else if meta.is_file() && is_resource_file(&text) {
                self.out.files.push(child);
            }
        }
    }

    fn subdirectory(&mut self, relative: PathBuf, full: &Path, meta: &fs::Metadata, depth: usize) {
        if depth > MAX_DEPTH {
            let message = format!("nested deeper than {MAX_DEPTH} directories: not read");
            return self.problem(&relative, message);
        }
        let id = match directory_id(full, meta) {
            Ok(id) => id,
            Err(e) if e.kind() == ErrorKind::NotFound => return,
            Err(e) => return self.problem(&relative, format!("directory cannot be read: {e}")),
        };
        if let Some(first) = self.seen.get(&id) {
            let message = format!(
                "is the directory {} again (through a symbolic link): not read twice",
                shown(first).display()
            );
            return self.problem(&relative, message);
        }
        self.seen.insert(id, relative.clone());
        self.directory(&relative, depth);
    }
}

/// A path as problems name it: the top directory itself is `.`.
fn shown(relative: &Path) -> PathBuf {
    if relative.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        relative.to_path_buf()
    }
}

#[cfg(test)]
#[path = "walk_test.rs"]
mod tests;
