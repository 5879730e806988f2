//! The names beside FILE and how they change: `FILE.part`, `FILE.lock`,
//! `FILE.checkpoint`, the temporary `.FILE.<pid>.tmp` and the rule that
//! removes a killed run's; renames made durable by syncing the directory.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use crate::error::Failure;

/// Removes a file when dropped, unless disarmed.
#[derive(Debug)]
pub(super) struct Discard(pub(super) Option<PathBuf>);

impl Drop for Discard {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = fs::remove_file(path);
        }
    }
}

/// An I/O error on `path`, as a failure.
pub(super) fn io_failure(path: &Path, error: io::Error) -> Failure {
    Failure::other(format!("could not write {}: {error}", path.display()))
}

/// `FILE` + `suffix` (`out.ndjson.part`).
pub(super) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    beside(path, suffix, false)
}

/// A name beside `path`: `path` + `suffix`, hidden with a leading dot if asked.
pub(super) fn beside(path: &Path, suffix: &str, hidden: bool) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = if hidden {
        format!(".{name}{suffix}")
    } else {
        format!("{name}{suffix}")
    };
    path.with_file_name(name)
}

/// Removes the temporary files (`.FILE.<pid>.tmp`) of earlier runs that
/// were killed before they could: with the lock held, no other run owns one.
pub(super) fn remove_stale_temporaries(path: &Path) {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let prefix = format!(".{name}.");
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|rest| rest.strip_suffix(".tmp"))
        else {
            continue;
        };
        if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
            tracing::debug!(file = %entry.path().display(), "removing a killed run's temporary file");
            let _ = fs::remove_file(entry.path());
        }
    }
}

pub(super) fn create(path: &Path) -> Result<File, Failure> {
    File::create(path).map_err(|e| {
        Failure::other(format!(
            "could not create {}: {e}; check that the directory exists and is writable",
            path.display()
        ))
    })
}

pub(super) fn open_part(part: &Path) -> Result<File, Failure> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(part)
        .map_err(|e| {
            Failure::other(format!(
                "cannot resume: {} cannot be opened ({e}); delete it and its checkpoint to start over",
                part.display()
            ))
        })
}

/// Cuts what follows the checkpoint off `FILE.part`, durably.
pub(super) fn cut(file: &File, part: &Path, bytes: u64) -> Result<(), Failure> {
    file.set_len(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io_failure(part, e))
}

/// Renames the complete `part` to `path`, durably.
pub(super) fn rename(part: &Path, path: &Path) -> Result<(), Failure> {
    fs::rename(part, path).map_err(|e| {
        Failure::other(format!(
            "could not rename {} to {}: {e}",
            part.display(),
            path.display()
        ))
    })?;
    sync_dir(path);
    Ok(())
}

pub(super) fn remove_checkpoint(checkpoint: &Path) -> Result<(), Failure> {
    match fs::remove_file(checkpoint) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(Failure::other(format!(
                "could not remove {}: {e}",
                checkpoint.display()
            )));
        }
    }
    sync_dir(checkpoint);
    Ok(())
}

/// Makes a rename in `path`'s directory durable (best effort).
pub(super) fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}
