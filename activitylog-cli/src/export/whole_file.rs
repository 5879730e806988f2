//! Files written whole at the end (the `--chart` SVG, the `--html` report).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::paths::{Discard, beside, io_failure, rename};
use crate::error::Failure;

/// A file written whole at the end (`--chart`, `--html`): created empty as
/// a temporary file beside `path` up front (so an unwritable place fails
/// before any download), filled and renamed into place by
/// [`WholeFile::commit`]; dropped uncommitted, it removes the temporary file.
#[derive(Debug)]
pub struct WholeFile {
    path: PathBuf,
    part: PathBuf,
    file: File,
    discard: Discard,
}

impl WholeFile {
    /// Prepares `path`, named by `flag` in errors (exit 2 when it cannot be written).
    pub fn create(path: &Path, flag: &str) -> Result<WholeFile, Failure> {
        if path.as_os_str().is_empty() || path.is_dir() {
            return Err(Failure::usage(format!(
                "{flag} `{}` is a directory: give a file name",
                path.display()
            )));
        }
        let part = beside(path, &format!(".{}.tmp", std::process::id()), true);
        let file = File::create(&part).map_err(|e| {
            Failure::usage(format!(
                "{flag} `{}` cannot be written ({e}): check that the directory exists and is writable",
                path.display()
            ))
        })?;
        let discard = Discard(Some(part.clone()));
        Ok(WholeFile {
            path: path.to_path_buf(),
            part,
            file,
            discard,
        })
    }

    /// Writes `bytes` durably and renames the file into place.
    pub fn commit(mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.file
            .write_all(bytes)
            .and_then(|()| self.file.sync_all())
            .map_err(|e| io_failure(&self.path, e))?;
        rename(&self.part, &self.path)?;
        self.discard.0 = None;
        Ok(())
    }
}
