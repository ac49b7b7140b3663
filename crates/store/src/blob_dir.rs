//! Named blobs for the directory store, which has no database: files under the state
//! directory, replaced atomically (write, fsync, rename, fsync the directory) so that a crash
//! leaves either the old or the new blob, never a torn one. Without a state directory the blobs
//! live in memory only.

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::StoreError;

pub(crate) struct BlobDir {
    dir: Option<PathBuf>,
    memory: Mutex<HashMap<String, Vec<u8>>>,
}

impl BlobDir {
    pub(crate) fn new(dir: Option<PathBuf>) -> BlobDir {
        BlobDir {
            dir,
            memory: Mutex::new(HashMap::new()),
        }
    }

    fn file(dir: &Path, name: &str) -> PathBuf {
        // Blob names are chosen by lockgate itself; keep them to one path component anyway.
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        dir.join(format!("{safe}.blob"))
    }

    pub(crate) fn get(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(dir) = &self.dir else {
            let memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
            return Ok(memory.get(name).cloned());
        };
        let path = BlobDir::file(dir, name);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(path, e)),
        }
    }

    pub(crate) fn put(&self, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
        let Some(dir) = &self.dir else {
            let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
            memory.insert(name.to_string(), bytes.to_vec());
            return Ok(());
        };
        fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
        let path = BlobDir::file(dir, name);
        let temp = path.with_extension("blob.tmp");
        let write = || -> std::io::Result<()> {
            let mut file = File::create(&temp)?;
            file.write_all(bytes)?;
            file.sync_all()?;
            fs::rename(&temp, &path)?;
            File::open(dir)?.sync_all()
        };
        write().map_err(|e| StoreError::io(&path, e))
    }
}
