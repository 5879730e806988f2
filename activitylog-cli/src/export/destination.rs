//! Where an export's bytes go: stdout, or a file that appears only when the
//! export is complete, with checkpoints for `--resume`.
//!
//! - Every `--out FILE` run first locks `FILE.lock` ([`super::lock`]): a
//!   second run on the same FILE exits 2 instead of writing beside it.
//! - `--out FILE`: the entries go to a temporary file beside FILE
//!   (`.FILE.<pid>.tmp`), renamed to FILE at the end. A run that fails or
//!   is interrupted removes it, whatever way it stops (the file is removed
//!   when the output is dropped without being committed). Only `kill -9`
//!   leaves one; the next run on FILE, holding the lock, removes it.
//! - `--out FILE --resume`: the entries go to `FILE.part`, and after every
//!   completed stretch of time `FILE.checkpoint` ([`super::checkpoint`])
//!   records (after the data before it is flushed and fsynced) the export's
//!   arguments, its resolved range, when it started, the instant `through`
//!   which everything is written, and the length of `FILE.part` at that
//!   moment. Run again, the export truncates `FILE.part` to that length and
//!   continues from `through` to the recorded end, so a run killed at any
//!   moment and resumed writes every entry exactly once.
//! - Finishing with `--resume` takes three steps: a checkpoint marked
//!   `finished` (with the complete length), the rename of `FILE.part` to
//!   FILE, the removal of the checkpoint. A rerun after a crash between any
//!   two of them completes the export without fetching or writing anything
//!   again; [`super::checkpoint::next`] states the rule.

use std::fs::{self, File};
use std::io::{self, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SubsecRound, Utc};

use super::checkpoint::{self, Checkpoint, Found, Job, Next};
use super::lock::Lock;
use super::paths::{
    Discard, beside, create, cut, io_failure, open_part, remove_checkpoint,
    remove_stale_temporaries, rename, sibling,
};
use super::writeback::Writeback;
use crate::error::{Failure, stdout_failure};
use crate::omitted::Omitted;

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

/// A file export in progress. Dropped without [`Output::commit`], it
/// removes its temporary file (not `FILE.part`: that is for resuming) and
/// then its lock.
#[derive(Debug)]
pub struct FileOutput {
    path: PathBuf,
    part: PathBuf,
    out: Counting<BufWriter<File>>,
    /// Sends what is written to disk on the way, for a short final fsync.
    writeback: Writeback,
    /// Set with `--resume`.
    resume: Option<Resume>,
    /// Removes the temporary file unless committed (nothing with `--resume`).
    discard: Discard,
    /// Held until the output is gone; dropped last.
    _lock: Lock,
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
    Stdout(BufWriter<StdoutDescriptor>),
    /// A file (see the module docs).
    File(FileOutput),
}

/// What opening `--out FILE` found.
#[derive(Debug)]
#[allow(clippy::large_enum_variant)] // one per run
pub enum Opened {
    /// Ready for entries.
    Ready {
        /// The output, positioned where the next entry goes.
        output: Output,
        /// The checkpoint resumed from; `None` when starting afresh.
        resumed: Option<Checkpoint>,
    },
    /// An earlier run of this export had finished all but its last steps;
    /// they are done now and FILE is complete.
    Complete {
        /// That run's final checkpoint.
        checkpoint: Checkpoint,
        /// Whether `FILE.part` was renamed now (else only the checkpoint was left).
        renamed: bool,
    },
}

impl Output {
    /// Standard output, buffered (entries are flushed page by page).
    ///
    /// On Unix the bytes go to a duplicate of descriptor 1 rather than
    /// through `std::io::stdout()`: what is still buffered there when the
    /// program exits is flushed at exit, which would hang the exit after a
    /// signal on a stdout nobody reads ([`super::writer`]).
    pub fn stdout() -> Self {
        Output::Stdout(BufWriter::with_capacity(256 * 1024, stdout_descriptor()))
    }

    /// Opens `path` for `job` over `[since, until)`, locked; with `resume`,
    /// continues the export its checkpoint describes, if there is one.
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
        let lock = Lock::acquire(path)?;
        remove_stale_temporaries(path);
        let checkpoint = sibling(path, ".checkpoint");
        if !resume {
            let part = beside(path, &format!(".{}.tmp", std::process::id()), true);
            let file = create(&part)?;
            let discard = Discard(Some(part.clone()));
            if checkpoint.exists() {
                eprintln!(
                    "warning: {} is left from an interrupted export; add --resume to continue it",
                    checkpoint.display()
                );
            }
            return Ok(Opened::Ready {
                output: Output::File(FileOutput::new(path, part, file, 0, None, discard, lock)),
                resumed: None,
            });
        }
        let part = sibling(path, ".part");
        let Some(mut state) = checkpoint::read(&checkpoint)? else {
            let file = create(&part)?;
            let started = Utc::now().trunc_subsecs(0);
            let state = Checkpoint::new(job.clone(), since, until, started);
            let resume = Resume { checkpoint, state };
            let output = FileOutput::new(path, part, file, 0, Some(resume), Discard(None), lock);
            return Ok(Opened::Ready {
                output: Output::File(output),
                resumed: None,
            });
        };
        if state.job.source != job.source {
            return Err(Failure::usage(format!(
                "{} is the checkpoint of an export from {}, and this run reads {}: resume it \
                 with `{}`, or delete {} and {} to start over",
                checkpoint.display(),
                state.job.source.describe(),
                job.source.describe(),
                state.job.command(path),
                checkpoint.display(),
                part.display()
            )));
        }
        if state.job != *job {
            return Err(Failure::other(format!(
                "{} belongs to a different export: continue it with `{}`, or delete {} and {} to start over",
                checkpoint.display(),
                state.job.command(path),
                checkpoint.display(),
                part.display()
            )));
        }
        let length = |path: &Path| {
            fs::metadata(path)
                .ok()
                .filter(|m| m.is_file())
                .map(|m| m.len())
        };
        let found = Found {
            part: length(&part),
            file: length(path),
        };
        let start_over = format!(
            "delete {} and {} to start over",
            checkpoint.display(),
            part.display()
        );
        match checkpoint::next(&state, found) {
            Next::PartShort(length) => Err(Failure::other(format!(
                "cannot resume: {} holds {length} bytes but the checkpoint recorded {}; {start_over}",
                part.display(),
                state.bytes,
            ))),
            Next::PartMissing => Err(Failure::other(format!(
                "cannot resume: {} is missing; {start_over}",
                part.display()
            ))),
            Next::Done => {
                remove_checkpoint(&checkpoint)?;
                Ok(Opened::Complete {
                    checkpoint: state,
                    renamed: false,
                })
            }
            Next::Rename => {
                let file = open_part(&part)?;
                cut(&file, &part, state.bytes)?;
                drop(file);
                rename(&part, path)?;
                remove_checkpoint(&checkpoint)?;
                Ok(Opened::Complete {
                    checkpoint: state,
                    renamed: true,
                })
            }
            Next::Continue => {
                let mut file = open_part(&part)?;
                cut(&file, &part, state.bytes)?;
                file.seek(SeekFrom::End(0))
                    .map_err(|e| io_failure(&part, e))?;
                if state.started.is_none() {
                    // A version 1 checkpoint: the part was created when the export started.
                    state.started = fs::metadata(&part)
                        .and_then(|m| m.created())
                        .ok()
                        .map(|created| DateTime::<Utc>::from(created).trunc_subsecs(0));
                }
                let bytes = state.bytes;
                let resumed = state.clone();
                let resume = Resume { checkpoint, state };
                let output =
                    FileOutput::new(path, part, file, bytes, Some(resume), Discard(None), lock);
                Ok(Opened::Ready {
                    output: Output::File(output),
                    resumed: Some(resumed),
                })
            }
        }
    }

    /// Records that the contracts before `contract` are complete and that
    /// `contract` is read next, from `since` (a checkpoint, as [`Output::checkpoint`]).
    pub fn next_contract(
        &mut self,
        contract: u64,
        since: DateTime<Utc>,
        events: u64,
        omitted: &Omitted,
        encoder: Option<String>,
    ) -> Result<(), Failure> {
        if let Output::File(FileOutput {
            resume: Some(resume),
            ..
        }) = self
        {
            resume.state.contract = Some(contract);
        }
        self.checkpoint(since, events, omitted, encoder)
    }

    /// Records that every entry before `through` is written (`events` in
    /// all, `omitted` left out, `encoder` what the format needs to continue):
    /// with `--resume`, flushes, fsyncs and writes the checkpoint; otherwise
    /// nothing.
    pub fn checkpoint(
        &mut self,
        through: DateTime<Utc>,
        events: u64,
        omitted: &Omitted,
        encoder: Option<String>,
    ) -> Result<(), Failure> {
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
        resume.state.omitted = omitted.clone();
        resume.state.encoder = encoder;
        checkpoint::write(&resume.checkpoint, &resume.state)
    }

    /// Finishes: flushes stdout, or moves the complete file into place
    /// (`events` in all, `omitted` left out; see the module docs).
    pub fn commit(self, events: u64, omitted: &Omitted) -> Result<(), Failure> {
        let file = match self {
            Output::Stdout(mut out) => return out.flush().map_err(stdout_failure),
            Output::File(file) => file,
        };
        let FileOutput {
            path,
            part,
            out,
            writeback,
            resume,
            mut discard,
            _lock,
        } = file;
        writeback.finish();
        let bytes = out.count;
        let file = out
            .inner
            .into_inner()
            .map_err(|e| io_failure(&part, e.into_error()))?;
        file.sync_all().map_err(|e| io_failure(&part, e))?;
        drop(file);
        if let Some(Resume { checkpoint, state }) = &resume {
            let finished = Checkpoint {
                through: state.until,
                bytes,
                events,
                omitted: omitted.clone(),
                finished: true,
                encoder: None,
                ..state.clone()
            };
            checkpoint::write(checkpoint, &finished)?;
        }
        rename(&part, &path)?;
        discard.0 = None;
        if let Some(Resume { checkpoint, .. }) = &resume {
            remove_checkpoint(checkpoint)?;
        }
        Ok(())
    }

    /// Gives up after a failure; says what becomes of the file (`None` for
    /// stdout). The temporary file goes when the output is dropped.
    pub fn abandon(self) -> Option<String> {
        let file = match self {
            Output::Stdout(mut out) => {
                let _ = out.flush();
                return None;
            }
            Output::File(file) => file,
        };
        // With --resume, what follows the checkpoint is cut off on resume.
        Some(match &file.resume {
            None => format!(
                "{} was not written (add --resume to keep partial exports)",
                file.path.display()
            ),
            Some(resume) => format!(
                "{} keeps the {} entries before {}: run the same command again to continue",
                file.part.display(),
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

    /// The failure for an I/O error writing to this output.
    pub fn failure(&self, error: io::Error) -> Failure {
        match self {
            Output::File(file) => io_failure(&file.part, error),
            Output::Stdout(_) => stdout_failure(error),
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout(out) => out.write(buf),
            Output::File(file) => {
                let written = file.out.write(buf)?;
                file.writeback.wrote(file.out.count);
                Ok(written)
            }
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            Output::Stdout(out) => out.write_all(buf),
            Output::File(file) => {
                file.out.write_all(buf)?;
                file.writeback.wrote(file.out.count);
                Ok(())
            }
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
    fn new(
        path: &Path,
        part: PathBuf,
        file: File,
        count: u64,
        resume: Option<Resume>,
        discard: Discard,
        lock: Lock,
    ) -> Self {
        FileOutput {
            path: path.to_path_buf(),
            writeback: Writeback::start(&part, count),
            part,
            out: Counting {
                inner: BufWriter::with_capacity(256 * 1024, file),
                count,
            },
            resume,
            discard,
            _lock: lock,
        }
    }
}

/// Standard output, written to directly where the system allows it.
pub struct StdoutDescriptor(Box<dyn Write + Send>);

impl std::fmt::Debug for StdoutDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StdoutDescriptor")
    }
}

impl Write for StdoutDescriptor {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

fn stdout_descriptor() -> StdoutDescriptor {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        if let Ok(descriptor) = io::stdout().as_fd().try_clone_to_owned() {
            return StdoutDescriptor(Box::new(File::from(descriptor)));
        }
    }
    // Elsewhere (and when no descriptor is left), the standard handle: on a
    // Windows console it also turns UTF-8 into what the console shows.
    StdoutDescriptor(Box::new(io::stdout()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::filter::Filter;
    use crate::output::Format;

    pub(crate) fn job() -> Job {
        Job {
            contract: 31721060,
            more_contracts: Vec::new(),
            all_contracts: false,
            since: Some("30d".into()),
            until: None,
            format: Format::Ndjson,
            filter: Filter::default(),
            view: None,
            follow: false,
            source: super::checkpoint::JobSource::Api,
        }
    }

    fn instant(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    pub(crate) fn range() -> (DateTime<Utc>, DateTime<Utc>) {
        (
            instant("2024-01-01T00:00:00Z"),
            instant("2024-02-01T00:00:00Z"),
        )
    }

    pub(crate) fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("activitylog-export-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    pub(crate) fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn open(path: &Path, resume: bool) -> Result<Opened, Failure> {
        let (since, until) = range();
        Output::file(path, resume, &job(), since, until)
    }

    fn ready(opened: Opened) -> (Output, Option<Checkpoint>) {
        match opened {
            Opened::Ready { output, resumed } => (output, resumed),
            Opened::Complete { .. } => panic!("complete already"),
        }
    }

    #[test]
    fn a_plain_export_appears_only_when_committed() {
        let dir = temp_dir("plain");
        let path = dir.join("out.ndjson");
        let (mut output, _) = ready(open(&path, false).unwrap());
        output.write_all(b"line\n").unwrap();
        assert!(!path.exists());
        output.commit(1, &Omitted::default()).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "line\n");
        assert_eq!(
            names(&dir),
            ["out.ndjson"],
            "no temporary or lock file left"
        );

        let (output, _) = ready(open(&path, false).unwrap());
        let note = output.abandon().unwrap();
        assert!(note.contains("not written"), "{note}");
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "line\n",
            "the old file stays"
        );
        assert_eq!(names(&dir), ["out.ndjson"]);
    }

    #[test]
    fn an_export_dropped_midway_leaves_nothing_without_resume() {
        let dir = temp_dir("dropped");
        let path = dir.join("out.ndjson");
        let (mut output, _) = ready(open(&path, false).unwrap());
        output.write_all(b"line\n").unwrap();
        assert_eq!(names(&dir).len(), 2, "a temporary file and the lock");
        drop(output); // a failure or signal unwinding the run
        assert!(names(&dir).is_empty(), "{:?}", names(&dir));
    }

    #[test]
    fn a_killed_runs_temporary_file_is_removed_by_the_next_run() {
        let dir = temp_dir("stale");
        let path = dir.join("out.ndjson");
        fs::write(dir.join(".out.ndjson.4242.tmp"), "half").unwrap();
        fs::write(dir.join(".out.ndjson.mine.tmp"), "not ours").unwrap();
        fs::write(dir.join(".other.ndjson.4242.tmp"), "another file's").unwrap();
        let (output, _) = ready(open(&path, false).unwrap());
        output.commit(0, &Omitted::default()).unwrap();
        assert_eq!(
            names(&dir),
            [
                ".other.ndjson.4242.tmp",
                ".out.ndjson.mine.tmp",
                "out.ndjson"
            ]
        );
    }

    #[test]
    fn a_second_export_of_the_same_file_is_refused_while_the_first_runs() {
        let dir = temp_dir("locked");
        let path = dir.join("out.ndjson");
        let (first, _) = ready(open(&path, true).unwrap());
        for resume in [true, false] {
            let refused = open(&path, resume).unwrap_err();
            assert_eq!(refused.code(), crate::error::EXIT_USAGE);
            assert!(refused.message().contains("another activitylog"));
        }
        drop(first);
        assert!(open(&path, true).is_ok());
    }

    #[test]
    fn resuming_cuts_what_followed_the_checkpoint_and_keeps_the_range() {
        let dir = temp_dir("resume");
        let path = dir.join("out.ndjson");
        let (mut output, resumed) = ready(open(&path, true).unwrap());
        assert!(resumed.is_none());
        output.write_all(b"a\nb\n").unwrap();
        let mut omitted = Omitted::default();
        omitted.add(Some("bad-1"));
        output
            .checkpoint(instant("2024-01-10T00:00:00Z"), 2, &omitted, None)
            .unwrap();
        output.write_all(b"half-written").unwrap();
        output.flush().unwrap();
        drop(output); // as if killed

        // Another "now" would resolve another range: the recorded one wins.
        let (since, until) = range();
        let later = instant("2024-03-01T00:00:00Z");
        let (mut output, resumed) = ready(Output::file(&path, true, &job(), since, later).unwrap());
        let resumed = resumed.unwrap();
        assert_eq!(resumed.through, instant("2024-01-10T00:00:00Z"));
        assert_eq!(resumed.until, until);
        assert_eq!((resumed.bytes, resumed.events), (4, 2));
        assert_eq!(
            resumed.omitted, omitted,
            "entries left out earlier are remembered"
        );
        assert!(resumed.started.is_some());
        output.write_all(b"c\n").unwrap();
        output.commit(3, &omitted).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "a\nb\nc\n");
        assert_eq!(names(&dir), ["out.ndjson"]);
    }

    /// Leaves what a run that crashed during its last steps leaves: a
    /// finished checkpoint over `content`, and `content` in `FILE.part`
    /// (`renamed: false`) or in FILE (`renamed: true`).
    fn crashed_while_finishing(path: &Path, content: &str, renamed: bool) {
        let (since, until) = range();
        let mut state = Checkpoint::new(job(), since, until, since);
        state.through = until;
        state.bytes = content.len() as u64;
        state.events = content.lines().count() as u64;
        state.finished = true;
        checkpoint::write(&sibling(path, ".checkpoint"), &state).unwrap();
        let target = if renamed {
            path.to_path_buf()
        } else {
            sibling(path, ".part")
        };
        fs::write(target, content).unwrap();
    }

    #[test]
    fn a_crash_before_the_final_rename_is_completed_by_the_next_run() {
        let dir = temp_dir("before-rename");
        let path = dir.join("out.ndjson");
        fs::write(&path, "an older export\n").unwrap();
        crashed_while_finishing(&path, "a\nb\n", false);
        let Opened::Complete {
            checkpoint,
            renamed,
        } = open(&path, true).unwrap()
        else {
            panic!("not complete");
        };
        assert!(renamed);
        assert_eq!(checkpoint.events, 2);
        assert_eq!(fs::read_to_string(&path).unwrap(), "a\nb\n");
        assert_eq!(names(&dir), ["out.ndjson"]);
    }

    #[test]
    fn a_crash_after_the_final_rename_is_completed_by_the_next_run() {
        let dir = temp_dir("after-rename");
        let path = dir.join("out.ndjson");
        crashed_while_finishing(&path, "a\nb\n", true);
        let Opened::Complete { renamed, .. } = open(&path, true).unwrap() else {
            panic!("not complete");
        };
        assert!(!renamed);
        assert_eq!(fs::read_to_string(&path).unwrap(), "a\nb\n", "untouched");
        assert_eq!(names(&dir), ["out.ndjson"]);

        // A FILE of another length is not this export's: refused, not overwritten.
        crashed_while_finishing(&path, "a\nb\n", true);
        fs::write(&path, "something else\n").unwrap();
        let message = open(&path, true).unwrap_err().message();
        assert!(message.contains("is missing"), "{message}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "something else\n");
    }

    #[test]
    fn a_checkpoint_of_another_job_is_refused_with_its_command() {
        let dir = temp_dir("mismatch");
        let path = dir.join("out.ndjson");
        let (since, until) = range();
        let (mut output, _) = ready(open(&path, true).unwrap());
        output
            .checkpoint(since, 0, &Omitted::default(), None)
            .unwrap();
        drop(output);
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
    fn a_checkpoint_of_another_source_is_refused_as_a_usage_error() {
        use super::checkpoint::JobSource;
        let dir = temp_dir("source");
        let path = dir.join("out.ndjson");
        let (since, until) = range();
        let (mut output, _) = ready(open(&path, true).unwrap());
        output
            .checkpoint(since, 0, &Omitted::default(), None)
            .unwrap();
        drop(output);
        let text = std::fs::read_to_string(sibling(&path, ".checkpoint")).unwrap();
        assert!(
            !text.contains("\"source\""),
            "from the API, as before: {text}"
        );
        let archive = |url: &str| Job {
            source: JobSource::archive(url),
            ..job()
        };
        let from_archive = archive("postgres://al:***@db/log");
        let error = Output::file(&path, true, &from_archive, since, until).unwrap_err();
        assert_eq!(error.code(), crate::error::EXIT_USAGE);
        let message = error.message();
        assert!(
            message.contains(
                "an export from the API, and this run reads the archive postgres://al:***@db/log"
            ),
            "{message}"
        );
        assert!(!message.contains('\n'), "one line: {message}");

        // Written from one archive: another, or the API, is refused too.
        let other = temp_dir("source-archive").join("out.ndjson");
        let sqlite = archive("sqlite:a.sqlite");
        let (mut output, _) = ready(Output::file(&other, true, &sqlite, since, until).unwrap());
        output
            .checkpoint(since, 0, &Omitted::default(), None)
            .unwrap();
        drop(output);
        for refused in [job(), archive("sqlite:b.sqlite")] {
            let error = Output::file(&other, true, &refused, since, until).unwrap_err();
            assert_eq!(error.code(), crate::error::EXIT_USAGE, "{error}");
            assert!(error.message().contains("--db sqlite:/"), "{error}");
        }
        let same = archive("sqlite:./a.sqlite");
        assert!(Output::file(&other, true, &same, since, until).is_ok());
    }

    #[test]
    fn a_part_shorter_than_its_checkpoint_is_refused() {
        let dir = temp_dir("short");
        let path = dir.join("out.ndjson");
        let (since, _) = range();
        let (mut output, _) = ready(open(&path, true).unwrap());
        output.write_all(b"abc\n").unwrap();
        output
            .checkpoint(since, 1, &Omitted::default(), None)
            .unwrap();
        drop(output);
        fs::write(sibling(&path, ".part"), b"ab").unwrap();
        let error = open(&path, true).unwrap_err();
        assert!(
            error.message().contains("start over"),
            "{}",
            error.message()
        );
    }
}
