//! Named blobs for the directory store, which has no database: one file per blob under the
//! state directory, replaced atomically (write a temporary file, fsync, rename, fsync the
//! directory) so that a crash leaves either the old or the new blob, never a torn one. A batch
//! is not atomic: its puts are all durable before its deletes start, nothing more. Without a
//! state directory the blobs live in memory only.
//!
//! A blob's file name is its name with every byte other than an ASCII letter, a digit or `-`
//! written as `_` and two hex digits (`lkg/manifest` is `lkg_2fmanifest.blob`), so that names
//! map to files one to one and a listing can give the names back.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{BlobBatch, StoreError};

const SUFFIX: &str = ".blob";

pub(crate) struct BlobDir {
    dir: Option<PathBuf>,
    memory: Mutex<BTreeMap<String, Vec<u8>>>,
}

fn file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + SUFFIX.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("_{b:02x}"));
        }
    }
    out.push_str(SUFFIX);
    out
}

/// The blob name a file holds, or `None` for a file that is not a blob (a temporary file left
/// by a crash, anything put there by hand).
fn blob_name(file: &str) -> Option<String> {
    let stem = file.strip_suffix(SUFFIX)?.as_bytes();
    let mut out = Vec::with_capacity(stem.len());
    let mut i = 0;
    while i < stem.len() {
        if stem[i] == b'_' {
            let hex = std::str::from_utf8(stem.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(stem[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl BlobDir {
    pub(crate) fn new(dir: Option<PathBuf>) -> BlobDir {
        BlobDir {
            dir,
            memory: Mutex::new(BTreeMap::new()),
        }
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.memory.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(dir) = &self.dir else {
            return Ok(self.memory().get(name).cloned());
        };
        let path = dir.join(file_name(name));
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    pub(crate) fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let Some(dir) = &self.dir else {
            let memory = self.memory();
            let names = memory.range(prefix.to_string()..).map(|(name, _)| name);
            return Ok(names
                .take_while(|name| name.starts_with(prefix))
                .cloned()
                .collect());
        };
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::io(dir, e)),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(dir, e))?;
            let name = entry.file_name();
            if let Some(name) = name.to_str().and_then(blob_name)
                && name.starts_with(prefix)
            {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    pub(crate) fn write(&self, batch: &BlobBatch) -> Result<(), StoreError> {
        let Some(dir) = &self.dir else {
            let mut memory = self.memory();
            for (name, bytes) in &batch.puts {
                memory.insert(name.clone(), bytes.clone());
            }
            for name in &batch.deletes {
                memory.remove(name);
            }
            return Ok(());
        };
        fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        for (name, bytes) in &batch.puts {
            let path = dir.join(file_name(name));
            let temp = path.with_extension("blob.tmp");
            let write = || -> std::io::Result<()> {
                let mut file = File::create(&temp)?;
                file.write_all(bytes)?;
                file.sync_all()?;
                fs::rename(&temp, &path)
            };
            write().map_err(|e| StoreError::io(&path, e))?;
        }
        // One directory sync makes every rename of the batch durable before any delete.
        if !batch.puts.is_empty() {
            sync_dir(dir).map_err(|e| StoreError::io(dir, e))?;
        }
        for name in &batch.deletes {
            let path = dir.join(file_name(name));
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(path, e)),
            }
        }
        if !batch.deletes.is_empty() {
            sync_dir(dir).map_err(|e| StoreError::io(dir, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "blob_dir_test.rs"]
mod tests;
