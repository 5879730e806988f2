//! Where an export's bytes go: stdout, or a file that appears only when the
//! export is complete, with checkpoints for `--resume`.
//!
//! - `--out FILE`: the entries go to a temporary file beside FILE
//!   (`.FILE.<pid>.tmp`), renamed to FILE at the end; a failed run removes it.
//! - `--out FILE --resume`: the entries go to `FILE.part`, and after every
//!   completed stretch of time `FILE.checkpoint` records (after the data
//!   before it is flushed and fsynced) the export's arguments, its resolved
//!   range, the instant `through` which everything is written, and the
//!   length of `FILE.part` at that moment. Run again, the export truncates
//!   `FILE.part` to that length and continues from `through` to the recorded
//!   end, so a run killed at any moment and resumed writes every entry
//!   exactly once. On success `FILE.part` becomes FILE and the checkpoint goes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Seek, SeekFrom, Stdout, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::Failure;
use crate::filter::Filter;
use crate::output::Format;

/// Checkpoint layout version.
const VERSION: u32 = 1;

/// What an export was asked for: a checkpoint only resumes the same job.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Job {
    /// The contract.
    pub contract: u64,
    /// `--since` as written (`30d` means 30 days before the first run).
    pub since: Option<String>,
    /// `--until` as written.
    pub until: Option<String>,
    /// The output format.
    pub format: Format,
    /// The filters.
    pub filter: Filter,
}

impl Job {
    /// The arguments that repeat this job, for messages.
    pub fn command(&self, path: &Path) -> String {
        let mut words = vec![format!("activitylog entries {}", self.contract)];
        if let Some(since) = &self.since {
            words.push(format!("--since {since}"));
        }
        if let Some(until) = &self.until {
            words.push(format!("--until {until}"));
        }
        words.push(format!("--format {}", self.format.name()));
        let filter = &self.filter;
        for (flag, values) in [
            ("--type", &filter.types),
            ("--exclude-type", &filter.exclude_types),
            ("--user", &filter.users),
            ("--status", &filter.statuses),
            ("--resource-type", &filter.resource_types),
            ("--action", &filter.actions),
        ] {
            if !values.is_empty() {
                words.push(format!("{flag} {}", values.join(",")));
            }
        }
        words.push(format!("--out {} --resume", path.display()));
        words.join(" ")
    }
}

/// The state of a resumable export, as stored in `FILE.checkpoint`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Layout version.
    pub version: u32,
    /// The arguments.
    pub job: Job,
    /// Start of the resolved range, inclusive.
    pub since: DateTime<Utc>,
    /// End of the resolved range, exclusive: kept, never resolved again.
    pub until: DateTime<Utc>,
    /// Every matching entry before this instant is in `FILE.part`.
    pub through: DateTime<Utc>,
    /// Length of `FILE.part` at that moment.
    pub bytes: u64,
    /// Entries in `FILE.part` at that moment.
    pub events: u64,
}

/// A writer that counts the bytes it passes on.
#[derive(Debug)]
pub struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.count += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A file export in progress.
#[derive(Debug)]
pub struct FileOutput {
    path: PathBuf,
    part: PathBuf,
    out: Counting<BufWriter<File>>,
    /// Set with `--resume`.
    resume: Option<Resume>,
}

#[derive(Debug)]
struct Resume {
    checkpoint: PathBuf,
    state: Checkpoint,
}

/// Where an export's bytes go.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per run
pub enum Output {
    /// Standard output.
    Stdout(BufWriter<Stdout>),
    /// A file (see the module docs).
    File(FileOutput),
}

/// An opened output, and how far an earlier run already got.
#[derive(Debug)]
pub struct Opened {
    /// The output, positioned where the next entry goes.
    pub output: Output,
    /// The checkpoint resumed from; `None` when starting afresh.
    pub resumed: Option<Checkpoint>,
}

impl Output {
    /// Standard output, buffered.
    pub fn stdout() -> Self {
        Output::Stdout(BufWriter::with_capacity(256 * 1024, std::io::stdout()))
    }

    /// Opens `path` for `job` over `[since, until)`; with `resume`, continues
    /// the export its checkpoint describes, if there is one.
    pub fn file(
        path: &Path,
        resume: bool,
        job: &Job,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Opened, Failure> {
        if path.as_os_str().is_empty() || path.is_dir() {
            return Err(Failure::usage(format!(
                "--out `{}` is a directory: give a file name",
                path.display()
            )));
        }
        if !resume {
            let part = beside(path, &format!(".{}.tmp", std::process::id()), true);
            let file = create(&part)?;
            if sibling(path, ".checkpoint").exists() {
                eprintln!(
                    "warning: {} is left from an interrupted export; add --resume to continue it",
                    sibling(path, ".checkpoint").display()
                );
            }
            return Ok(Opened {
                output: Output::File(FileOutput::new(path, part, file, 0, None)),
                resumed: None,
            });
        }
        let part = sibling(path, ".part");
        let checkpoint = sibling(path, ".checkpoint");
        let Some(state) = read_checkpoint(&checkpoint)? else {
            let file = create(&part)?;
            let state = Checkpoint {
                version: VERSION,
                job: job.clone(),
                since,
                until,
                through: since,
                bytes: 0,
                events: 0,
            };
            let resume = Resume { checkpoint, state };
            return Ok(Opened {
                output: Output::File(FileOutput::new(path, part, file, 0, Some(resume))),
                resumed: None,
            });
        };
        if state.job != *job {
            return Err(Failure::other(format!(
                "{} belongs to a different export: continue it with `{}`, or delete {} and {} to start over",
                checkpoint.display(),
                state.job.command(path),
                checkpoint.display(),
                part.display()
            )));
        }
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&part)
            .map_err(|e| {
                Failure::other(format!(
                    "cannot resume: {} cannot be opened ({e}); delete {} to start over",
                    part.display(),
                    checkpoint.display()
                ))
            })?;
        let length = file.metadata().map(|m| m.len()).unwrap_or(0);
        if length < state.bytes {
            return Err(Failure::other(format!(
                "cannot resume: {} holds {length} bytes but the checkpoint recorded {}; \
                 delete {} and {} to start over",
                part.display(),
                state.bytes,
                checkpoint.display(),
                part.display()
            )));
        }
        file.set_len(state.bytes)
            .and_then(|()| file.seek(SeekFrom::End(0)).map(drop))
            .and_then(|()| file.sync_all())
            .map_err(|e| io_failure(&part, e))?;
        tracing::info!(
            through = %state.through,
            until = %state.until,
            events = state.events,
            "resuming"
        );
        let bytes = state.bytes;
        let resumed = state.clone();
        let resume = Resume { checkpoint, state };
        Ok(Opened {
            output: Output::File(FileOutput::new(path, part, file, bytes, Some(resume))),
            resumed: Some(resumed),
        })
    }

    /// Records that every entry before `through` is written (`events` in all):
    /// with `--resume`, flushes, fsyncs and writes the checkpoint; otherwise
    /// nothing.
    pub fn checkpoint(&mut self, through: DateTime<Utc>, events: u64) -> Result<(), Failure> {
        let Output::File(file) = self else {
            return Ok(());
        };
        let Some(resume) = &mut file.resume else {
            return Ok(());
        };
        file.out
            .flush()
            .and_then(|()| file.out.inner.get_ref().sync_data())
            .map_err(|e| io_failure(&file.part, e))?;
        resume.state.through = through;
        resume.state.bytes = file.out.count;
        resume.state.events = events;
        write_checkpoint(&resume.checkpoint, &resume.state)
    }

    /// Finishes: flushes stdout, or moves the complete file into place.
    pub fn commit(self) -> Result<(), Failure> {
        match self {
            Output::Stdout(mut out) => out.flush().map_err(stdout_failure),
            Output::File(mut file) => {
                file.out
                    .flush()
                    .and_then(|()| file.out.inner.get_ref().sync_all())
                    .map_err(|e| io_failure(&file.part, e))?;
                drop(file.out);
                fs::rename(&file.part, &file.path).map_err(|e| {
                    Failure::other(format!(
                        "could not rename {} to {}: {e}",
                        file.part.display(),
                        file.path.display()
                    ))
                })?;
                if let Some(resume) = &file.resume {
                    let _ = fs::remove_file(&resume.checkpoint);
                }
                sync_dir(&file.path);
                Ok(())
            }
        }
    }

    /// Gives up after a failure; says what became of the file (`None` for stdout).
    pub fn abandon(self) -> Option<String> {
        let file = match self {
            Output::Stdout(mut out) => {
                let _ = out.flush();
                return None;
            }
            Output::File(file) => file,
        };
        let FileOutput {
            path,
            part,
            out,
            resume,
        } = file;
        drop(out); // with --resume, what follows the checkpoint is cut off on resume
        Some(match resume {
            None => {
                let _ = fs::remove_file(&part);
                format!(
                    "{} was not written (add --resume to keep partial exports)",
                    path.display()
                )
            }
            Some(resume) => format!(
                "{} keeps the {} entries before {}: run the same command again to continue",
                part.display(),
                resume.state.events,
                resume
                    .state
                    .through
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ),
        })
    }

    /// Whether this output is stdout.
    pub fn is_stdout(&self) -> bool {
        matches!(self, Output::Stdout(_))
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(out) => out.write(buf),
            Output::File(file) => file.out.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(out) => out.write_all(buf),
            Output::File(file) => file.out.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout(out) => out.flush(),
            Output::File(file) => file.out.flush(),
        }
    }
}

impl FileOutput {
    fn new(path: &Path, part: PathBuf, file: File, count: u64, resume: Option<Resume>) -> Self {
        FileOutput {
            path: path.to_path_buf(),
            part,
            out: Counting {
                inner: BufWriter::with_capacity(256 * 1024, file),
                count,
            },
            resume,
        }
    }

    /// The file being written.
    pub fn part(&self) -> &Path {
        &self.part
    }
}

/// An I/O error on `path`, as a failure.
pub fn io_failure(path: &Path, error: io::Error) -> Failure {
    Failure::other(format!("could not write {}: {error}", path.display()))
}

/// An I/O error on stdout, as a failure (a closed pipe ends quietly).
pub fn stdout_failure(error: io::Error) -> Failure {
    if error.kind() == io::ErrorKind::BrokenPipe {
        Failure::broken_pipe()
    } else {
        Failure::other(format!("could not write to stdout: {error}"))
    }
}

/// `FILE` + `suffix` (`out.ndjson.part`).
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    beside(path, suffix, false)
}

/// A name beside `path`: `path` + `suffix`, hidden with a leading dot if asked.
fn beside(path: &Path, suffix: &str, hidden: bool) -> PathBuf {
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

fn create(path: &Path) -> Result<File, Failure> {
    File::create(path).map_err(|e| {
        Failure::other(format!(
            "could not create {}: {e}; check that the directory exists and is writable",
            path.display()
        ))
    })
}

fn read_checkpoint(path: &Path) -> Result<Option<Checkpoint>, Failure> {
    let text = match fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Failure::other(format!(
                "could not read {}: {e}",
                path.display()
            )));
        }
    };
    let state: Checkpoint = serde_json::from_str(&text).map_err(|e| {
        Failure::other(format!(
            "{} is not a checkpoint this version can read ({e}); delete it to start over",
            path.display()
        ))
    })?;
    if state.version != VERSION {
        return Err(Failure::other(format!(
            "{} has checkpoint version {}, this tool writes {VERSION}; delete it to start over",
            path.display(),
            state.version
        )));
    }
    Ok(Some(state))
}

/// Writes the checkpoint atomically: a temporary file, fsynced, renamed over it.
fn write_checkpoint(path: &Path, state: &Checkpoint) -> Result<(), Failure> {
    let temporary = beside(path, ".tmp", false);
    let text = serde_json::to_string_pretty(state)
        .map_err(|e| Failure::other(format!("could not encode the checkpoint: {e}")))?;
    let result = File::create(&temporary)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()
        })
        .and_then(|()| fs::rename(&temporary, path));
    result.map_err(|e| io_failure(path, e))?;
    sync_dir(path);
    Ok(())
}

/// Makes a rename in `path`'s directory durable (best effort).
fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if let Ok(dir) = File::open(dir) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Job {
            contract: 31721060,
            since: Some("30d".into()),
            until: None,
            format: Format::Ndjson,
            filter: Filter::default(),
        }
    }

    fn instant(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("activitylog-export-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_plain_export_appears_only_when_committed() {
        let dir = temp_dir("plain");
        let path = dir.join("out.ndjson");
        let since = instant("2024-01-01T00:00:00Z");
        let until = instant("2024-02-01T00:00:00Z");
        let mut opened = Output::file(&path, false, &job(), since, until).unwrap();
        opened.output.write_all(b"line\n").unwrap();
        assert!(!path.exists());
        opened.output.commit().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "line\n");
        assert_eq!(
            fs::read_dir(&dir).unwrap().count(),
            1,
            "no temporary file left"
        );

        let opened = Output::file(&path, false, &job(), since, until).unwrap();
        let note = opened.output.abandon().unwrap();
        assert!(note.contains("not written"), "{note}");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "line\n",
            "the old file stays"
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
    }

    #[test]
    fn resuming_cuts_what_followed_the_checkpoint_and_keeps_the_range() {
        let dir = temp_dir("resume");
        let path = dir.join("out.ndjson");
        let since = instant("2024-01-01T00:00:00Z");
        let until = instant("2024-02-01T00:00:00Z");
        let mut opened = Output::file(&path, true, &job(), since, until).unwrap();
        assert!(opened.resumed.is_none());
        opened.output.write_all(b"a\nb\n").unwrap();
        opened
            .output
            .checkpoint(instant("2024-01-10T00:00:00Z"), 2)
            .unwrap();
        opened.output.write_all(b"half-written").unwrap();
        opened.output.flush().unwrap();
        drop(opened); // as if killed

        // Another "now" would resolve another range: the recorded one wins.
        let later = instant("2024-03-01T00:00:00Z");
        let mut opened = Output::file(&path, true, &job(), since, later).unwrap();
        let resumed = opened.resumed.clone().unwrap();
        assert_eq!(resumed.through, instant("2024-01-10T00:00:00Z"));
        assert_eq!(resumed.until, until);
        assert_eq!((resumed.bytes, resumed.events), (4, 2));
        opened.output.write_all(b"c\n").unwrap();
        opened.output.commit().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "a\nb\nc\n");
        assert!(!sibling(&path, ".checkpoint").exists());
        assert!(!sibling(&path, ".part").exists());
    }

    #[test]
    fn a_checkpoint_of_another_job_is_refused_with_its_command() {
        let dir = temp_dir("mismatch");
        let path = dir.join("out.ndjson");
        let since = instant("2024-01-01T00:00:00Z");
        let until = instant("2024-02-01T00:00:00Z");
        let mut opened = Output::file(&path, true, &job(), since, until).unwrap();
        opened.output.checkpoint(since, 0).unwrap();
        drop(opened);
        let other = Job {
            format: Format::Csv,
            ..job()
        };
        let error = Output::file(&path, true, &other, since, until).unwrap_err();
        let message = error.message();
        assert!(message.contains("different export"), "{message}");
        assert!(message.contains("--since 30d --format ndjson"), "{message}");
    }

    #[test]
    fn a_part_shorter_than_its_checkpoint_is_refused() {
        let dir = temp_dir("short");
        let path = dir.join("out.ndjson");
        let since = instant("2024-01-01T00:00:00Z");
        let until = instant("2024-02-01T00:00:00Z");
        let mut opened = Output::file(&path, true, &job(), since, until).unwrap();
        opened.output.write_all(b"abc\n").unwrap();
        opened.output.checkpoint(since, 1).unwrap();
        drop(opened);
        fs::write(sibling(&path, ".part"), b"ab").unwrap();
        let error = Output::file(&path, true, &job(), since, until).unwrap_err();
        assert!(
            error.message().contains("start over"),
            "{}",
            error.message()
        );
    }
}
