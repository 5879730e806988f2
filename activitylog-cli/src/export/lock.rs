//! One export per FILE at a time: `FILE.lock`, locked (advisory, `flock`)
//! for the whole run. The system releases the lock when the process ends,
//! however it ends (`kill -9` included); a run that ends normally also
//! removes the file.
//!
//! Removing a lock file is only safe with a check: a second process may
//! have opened the file just before the first removed it, and lock it just
//! after. So a lock counts only if the locked file is still the one at
//! `FILE.lock`; otherwise the process tries again with the new file.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};

use super::paths::beside;
use crate::error::Failure;

/// Attempts before giving up when the lock file keeps being replaced.
const ATTEMPTS: usize = 10;

/// A held lock on `FILE.lock`; dropping it removes the file and unlocks.
#[derive(Debug)]
pub struct Lock {
    /// `None` where the file system cannot lock (the run goes on unlocked).
    held: Option<(File, PathBuf)>,
}

impl Lock {
    /// Locks `FILE.lock` for `target` (FILE), or fails with exit code 2
    /// when another process holds it.
    pub fn acquire(target: &Path) -> Result<Lock, Failure> {
        let path = beside(target, ".lock", false);
        for _ in 0..ATTEMPTS {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(|e| {
                    Failure::other(format!(
                        "could not create {}: {e}; check that the directory exists and is writable",
                        path.display()
                    ))
                })?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Err(busy(target, &path)),
                Err(TryLockError::Error(e)) if e.kind() == ErrorKind::Unsupported => {
                    tracing::warn!(path = %path.display(), "this file system cannot lock files");
                    drop(file);
                    let _ = fs::remove_file(&path);
                    return Ok(Lock { held: None });
                }
                Err(TryLockError::Error(e)) => {
                    return Err(Failure::other(format!(
                        "could not lock {}: {e}",
                        path.display()
                    )));
                }
            }
            if is_at(&file, &path) {
                // For people looking: who holds it.
                let _ = file
                    .set_len(0)
                    .and_then(|()| writeln!(file, "{}", std::process::id()));
                return Ok(Lock {
                    held: Some((file, path)),
                });
            }
            // Its holder finished and removed it meanwhile: lock the new one.
        }
        Err(busy(target, &path))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if let Some((file, path)) = self.held.take() {
            let _ = fs::remove_file(&path); // while still locked, then unlock
            drop(file);
        }
    }
}

/// The failure when another process holds the lock.
fn busy(target: &Path, path: &Path) -> Failure {
    let holder = fs::read_to_string(path)
        .ok()
        .and_then(|text| text.trim().parse::<u32>().ok())
        .map(|pid| format!(" (process {pid})"))
        .unwrap_or_default();
    Failure::usage(format!(
        "{} is being written by another activitylog{holder}: wait for it to finish or stop it \
         ({} is locked while it runs)",
        target.display(),
        path.display()
    ))
}

/// Whether `file` is still the file at `path`.
#[cfg(unix)]
fn is_at(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(held), Ok(named)) => held.dev() == named.dev() && held.ino() == named.ino(),
        _ => false,
    }
}

/// Whether `file` is still the file at `path` (elsewhere an open file
/// cannot be removed, so it is).
#[cfg(not(unix))]
fn is_at(_file: &File, path: &Path) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("activitylog-lock-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_second_lock_on_the_same_file_is_refused_until_the_first_is_dropped() {
        let dir = temp_dir("twice");
        let target = dir.join("out.ndjson");
        let first = Lock::acquire(&target).unwrap();
        assert!(dir.join("out.ndjson.lock").exists());
        let refused = Lock::acquire(&target).unwrap_err();
        assert_eq!(refused.code(), crate::error::EXIT_USAGE);
        let message = refused.message();
        assert!(message.contains("another activitylog"), "{message}");
        assert!(
            message.contains(&format!("process {}", std::process::id())),
            "{message}"
        );
        drop(first);
        assert!(!dir.join("out.ndjson.lock").exists(), "removed when done");
        let again = Lock::acquire(&target).unwrap();
        drop(again);
        let _ = fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_lock_on_a_removed_file_does_not_count() {
        let dir = temp_dir("replaced");
        let path = dir.join("out.ndjson.lock");
        let stale = File::create(&path).unwrap();
        fs::remove_file(&path).unwrap();
        assert!(!is_at(&stale, &path));
        let fresh = File::create(&path).unwrap();
        assert!(is_at(&fresh, &path));
        let _ = fs::remove_dir_all(&dir);
    }
}
