//! A lake in a directory. A new object is written to a temporary file,
//! synced, then hard-linked to its name, which fails when the name exists:
//! an object appears whole or not at all, and is never replaced.

use std::io::{ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::{Created, Listed};
use crate::{Error, Result};

/// A lake's directory.
#[derive(Clone, Debug)]
pub struct Files {
    root: PathBuf,
}

impl Files {
    pub(crate) fn new(root: PathBuf) -> Files {
        Files { root }
    }

    fn path(&self, key: &str) -> PathBuf {
        self.root.join(key)
    }

    fn failed(&self, key: &str, error: std::io::Error) -> Error {
        Error::Store {
            location: format!("{}", self.path(key).display()),
            message: error.to_string(),
        }
    }

    pub(crate) async fn create(&self, key: &str, body: Bytes) -> Result<Created> {
        let path = self.path(key);
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || create(&root, &path, &body))
            .await
            .map_err(|e| Error::Store {
                location: key.to_string(),
                message: e.to_string(),
            })?
            .map_err(|e| self.failed(key, e))
    }

    pub(crate) async fn get(&self, key: &str) -> Result<Option<Bytes>> {
        match tokio::fs::read(self.path(key)).await {
            Ok(bytes) => Ok(Some(bytes.into())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.failed(key, e)),
        }
    }

    pub(crate) async fn list(&self, prefix: &str) -> Result<Vec<Listed>> {
        let root = self.root.clone();
        let wanted = prefix.to_string();
        tokio::task::spawn_blocking(move || {
            let mut found = Vec::new();
            walk(&root, &root, &mut found)?;
            found.retain(|listed: &Listed| listed.key.starts_with(&wanted));
            found.sort_by(|a, b| a.key.cmp(&b.key));
            Ok::<_, std::io::Error>(found)
        })
        .await
        .map_err(|e| Error::Store {
            location: prefix.to_string(),
            message: e.to_string(),
        })?
        .map_err(|e| self.failed("", e))
    }

    pub(crate) async fn copy(&self, from: &str, to: &str) -> Result<Created> {
        let (source, target) = (self.path(from), self.path(to));
        if let Some(dir) = target.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| self.failed(to, e))?;
        }
        match tokio::fs::hard_link(&source, &target).await {
            Ok(()) => {
                sync_dir(target.parent()).map_err(|e| self.failed(to, e))?;
                Ok(Created::New)
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(Created::Exists),
            Err(e) => Err(self.failed(from, e)),
        }
    }

    pub(crate) async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(self.failed(key, e)),
        }
        // Directories left empty go too (a directory in use is not empty).
        let mut dir = path.parent();
        while let Some(parent) = dir.filter(|d| *d != self.root && d.starts_with(&self.root)) {
            if tokio::fs::remove_dir(parent).await.is_err() {
                break;
            }
            dir = parent.parent();
        }
        Ok(())
    }
}

/// Writes `body` to a temporary file beside the lake's objects, syncs it,
/// and links it to `path` (refused when `path` exists).
fn create(root: &Path, path: &Path, body: &[u8]) -> std::io::Result<Created> {
    let dir = path.parent().unwrap_or(root);
    std::fs::create_dir_all(dir)?;
    let temporary = root.join(format!(".tmp-{:016x}", fastrand::u64(..)));
    let written = (|| {
        let mut file = std::fs::File::create_new(&temporary)?;
        file.write_all(body)?;
        file.sync_all()?;
        match std::fs::hard_link(&temporary, path) {
            Ok(()) => {
                sync_dir(Some(dir))?;
                Ok(Created::New)
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(Created::Exists),
            Err(e) => Err(e),
        }
    })();
    let _ = std::fs::remove_file(&temporary);
    written
}

fn sync_dir(dir: Option<&Path>) -> std::io::Result<()> {
    match dir {
        Some(dir) => std::fs::File::open(dir)?.sync_all(),
        None => Ok(()),
    }
}

/// Every file under `dir` (keys relative to `root`, `/`-separated), except
/// the temporary files of writes in progress.
fn walk(root: &Path, dir: &Path, found: &mut Vec<Listed>) -> std::io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let meta = entry.metadata()?;
        if meta.is_dir() {
            walk(root, &path, found)?;
        } else if !entry.file_name().to_string_lossy().starts_with(".tmp-") {
            let key = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            found.push(Listed {
                key,
                size: meta.len(),
                version: format!("{}.{}:{}", meta.mtime(), meta.mtime_nsec(), meta.ino()),
            });
        }
    }
    Ok(())
}
