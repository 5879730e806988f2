//! The one path from events to bytes: [`Export`] takes a download's
//! updates (from the API, an archive, or a follow), filters and encodes the
//! events, and writes them to stdout or `--out FILE` with the file protocol
//! of this folder.
//!
//! Invariants:
//! - [`Export`] alone holds how far the export got ([`Progress`]); a
//!   checkpoint saves it ([`checkpoint`]), and a resumed export starts
//!   from the saved one.
//! - A checkpoint never claims bytes still queued: it is an order on the
//!   writer thread ([`writer`]), after the pages sent before it.
//! - `--out FILE` is complete or absent; `FILE.part` holds what its last
//!   checkpoint says ([`destination`]); one run at a time writes FILE
//!   ([`lock`]); the names beside FILE and the stale-file rule are in
//!   [`paths`].
//! - How events look is the encoder's ([`Encode`]): the export counts them
//!   and decides where their bytes go, whatever the format.

pub mod checkpoint;
mod destination;
mod lock;
mod paths;
mod whole_file;
mod writeback;
mod writer;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use activitylog_client::{RawEvent, Update};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use indicatif::ProgressBar;

pub use checkpoint::{Checkpoint, Job, JobSource, JobView};
pub use destination::Output;
pub use whole_file::WholeFile;
pub use writer::{Halt, Writer};

use crate::error::Failure;
use crate::filter::Filter;
use crate::omitted::Omitted;
use crate::output::{Encode, Format, Settled};
use crate::progress;
use crate::signals::Signals;
use crate::text::{list, rfc3339};

/// What an export is asked to do.
pub struct Plan<'a> {
    /// `--out FILE`; `None` for stdout.
    pub out: Option<&'a Path>,
    /// `--resume`: keep `FILE.part` and `FILE.checkpoint`, continue from them.
    pub resume: bool,
    /// What a checkpoint records of the command.
    pub job: Job,
    /// The range this run resolved, start inclusive (a resumed export
    /// keeps the one its checkpoint recorded).
    pub since: DateTime<Utc>,
    /// The range this run resolved, end exclusive.
    pub until: DateTime<Utc>,
    /// How the events look.
    pub encoder: Box<dyn Encode>,
    /// Which events are written.
    pub filter: Filter,
    /// `--limit`: stop once this many entries are written.
    pub limit: Option<u64>,
    /// Whether a progress bar shows (on a terminal's stderr).
    pub progress: bool,
}

/// How far an export got: the one record of its progress, saved by every
/// checkpoint.
#[derive(Clone, Debug)]
pub struct Progress {
    /// Every entry of the contract being read before this instant is written.
    pub through: DateTime<Utc>,
    /// Entries written, earlier runs of a resumed export included.
    pub written: u64,
    /// Entries fetched by this run (before filtering).
    pub fetched: u64,
    /// Entries that could not be shown, earlier runs of a resumed export included.
    pub omitted: Omitted,
}

/// What opening an export found.
#[allow(clippy::large_enum_variant)] // one per run
pub enum Opened {
    /// Ready for events.
    Ready(Export),
    /// An earlier run had finished all but its last steps; they are done
    /// now and FILE is complete.
    Finished(Finished),
}

/// An export an earlier `--resume` run had finished.
pub struct Finished {
    /// FILE.
    pub path: PathBuf,
    /// That run's final checkpoint.
    pub checkpoint: Checkpoint,
    /// Whether `FILE.part` was renamed now (else only the checkpoint was left).
    pub renamed: bool,
}

/// An export in progress: events in, bytes out, progress kept.
pub struct Export {
    out: Writer,
    encoder: Box<dyn Encode>,
    filter: Filter,
    /// Whether the encoder or the filter needs decoded events.
    decode: bool,
    limit: Option<u64>,
    bar: ProgressBar,
    /// The range every contract is read over.
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    /// The contracts still to read, the one `through` belongs to first.
    pending: Vec<u64>,
    /// Whether this run continues an earlier one.
    resumed: bool,
    progress: Progress,
}

impl Export {
    /// Opens the destination (locked, with `--resume` continuing what its
    /// checkpoint describes, and saying so on stderr) and starts its writer.
    pub fn open(plan: Plan<'_>, signals: &Signals) -> Result<Opened, Failure> {
        let (output, resumed) = match plan.out {
            None => (Output::stdout(), None),
            Some(path) => {
                match Output::file(path, plan.resume, &plan.job, plan.since, plan.until)? {
                    destination::Opened::Ready { output, resumed } => (output, resumed),
                    destination::Opened::Complete {
                        checkpoint,
                        renamed,
                    } => {
                        return Ok(Opened::Finished(Finished {
                            path: path.to_path_buf(),
                            checkpoint,
                            renamed,
                        }));
                    }
                }
            }
        };
        let bar = if plan.progress {
            progress::bar()
        } else {
            ProgressBar::hidden()
        };
        // Rows and the progress bar share the terminal.
        let shared = (plan.progress && output.is_stdout() && std::io::stdout().is_terminal())
            .then(|| bar.clone());
        let mut encoder = plan.encoder;
        if let (Some(checkpoint), Some(path)) = (&resumed, plan.out) {
            encoder
                .resume(checkpoint.bytes, checkpoint.encoder.as_deref())
                .map_err(|e| {
                    Failure::other(format!(
                        "cannot resume: {e}; delete {} and {} to start over",
                        paths::sibling(path, ".checkpoint").display(),
                        paths::sibling(path, ".part").display()
                    ))
                })?;
        }
        let out = Writer::start(output, shared, signals);
        if let (Some(checkpoint), Some(path)) = (&resumed, plan.out) {
            eprintln!("{}", resuming(checkpoint, path));
        }
        let decode = encoder.needs_decoding() || !plan.filter.is_empty();
        let export = match resumed {
            Some(checkpoint) => Export {
                since: checkpoint.since,
                until: checkpoint.until,
                pending: checkpoint.pending(),
                resumed: true,
                progress: Progress {
                    through: checkpoint.through,
                    written: checkpoint.events,
                    fetched: 0,
                    omitted: checkpoint.omitted,
                },
                out,
                encoder,
                filter: plan.filter,
                decode,
                limit: plan.limit,
                bar,
            },
            None => Export {
                since: plan.since,
                until: plan.until,
                pending: plan.job.contracts(),
                resumed: false,
                progress: Progress {
                    through: plan.since,
                    written: 0,
                    fetched: 0,
                    omitted: Omitted::default(),
                },
                out,
                encoder,
                filter: plan.filter,
                decode,
                limit: plan.limit,
                bar,
            },
        };
        Ok(Opened::Ready(export))
    }

    /// Starts a fresh export: its header (or `[`) shows at once, before the
    /// first page, and the first checkpoint is written. Nothing for a
    /// resumed one.
    pub async fn begin(&mut self) -> Result<(), Halt> {
        if self.resumed {
            return Ok(());
        }
        self.encoder.begin(&mut self.out).map_err(|e| {
            Halt::Failed(Failure::other(format!("could not write the header: {e}")))
        })?;
        let Settled::Here(state) = self.settle(true)? else {
            return Ok(());
        };
        self.out
            .checkpoint(self.progress.through, 0, &self.progress.omitted, state)
            .await
    }

    /// Asks the encoder whether a checkpoint can be taken now (`force`: it
    /// must be), writing what it holds back first.
    fn settle(&mut self, force: bool) -> Result<Settled, Halt> {
        self.encoder
            .settle(&mut self.out, force)
            .map_err(|e| Halt::Failed(Failure::other(format!("could not write an entry: {e}"))))
    }

    /// How far the export got.
    pub fn progress(&self) -> &Progress {
        &self.progress
    }

    /// The range every contract is read over, start inclusive.
    pub fn since(&self) -> DateTime<Utc> {
        self.since
    }

    /// The range every contract is read over, end exclusive.
    pub fn until(&self) -> DateTime<Utc> {
        self.until
    }

    /// The contracts still to read, in order: the one [`Progress::through`]
    /// belongs to first.
    pub fn pending(&self) -> &[u64] {
        &self.pending
    }

    /// The progress bar (hidden unless asked for and stderr is a terminal).
    pub fn bar(&self) -> &ProgressBar {
        &self.bar
    }

    /// Whether the bytes go to stdout.
    pub fn is_stdout(&self) -> bool {
        self.out.is_stdout()
    }

    /// Whether `--limit` entries are written.
    pub fn full(&self) -> bool {
        self.limit
            .is_some_and(|limit| self.progress.written >= limit)
    }

    /// Records that the contracts before `contract` are complete and that
    /// `contract` is read next, from the start of the range.
    pub async fn next_contract(&mut self, contract: u64) -> Result<(), Halt> {
        self.progress.through = self.since;
        let Settled::Here(state) = self.settle(true)? else {
            return Ok(());
        };
        self.out
            .next_contract(
                contract,
                self.since,
                self.progress.written,
                &self.progress.omitted,
                state,
            )
            .await
    }

    /// Writes a download's updates until they end, fail, or `--limit`
    /// entries are written (then the download is dropped: nothing more is
    /// fetched), checkpointing after every completed stretch of time.
    pub async fn feed<E: From<Halt>>(
        &mut self,
        mut updates: impl Stream<Item = Result<Update, E>> + Unpin,
    ) -> Result<(), E> {
        while let Some(update) = updates.next().await {
            match update? {
                Update::Events(events) => {
                    self.progress.fetched += events.len() as u64;
                    self.bar.inc(events.len() as u64);
                    self.page(&events).await?;
                    if self.full() {
                        tracing::debug!(written = self.progress.written, "--limit reached");
                        return Ok(());
                    }
                }
                Update::Completed { through } => self.completed(through).await?,
                // Reports a newer SDK may add say nothing an export needs.
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes one page's events (up to `--limit`) that pass the filter,
    /// and sends them to the writer (stdout is flushed after each page).
    async fn page(&mut self, events: &[RawEvent]) -> Result<(), Halt> {
        for event in events {
            if self.full() {
                break;
            }
            let activity = if self.decode {
                match event.decode() {
                    Ok(activity) => Some(activity),
                    Err(error) => {
                        tracing::debug!(%error, "an entry could not be decoded");
                        self.progress.omitted.add(event.uuid().as_deref());
                        continue;
                    }
                }
            } else {
                None
            };
            if let Some(activity) = &activity
                && !self.filter.matches(activity)
            {
                continue;
            }
            let first = self.progress.written == 0;
            self.encoder
                .write(&mut self.out, event, activity.as_ref(), first)
                .map_err(|e| {
                    Halt::Failed(Failure::other(format!("could not write an entry: {e}")))
                })?;
            self.progress.written += 1;
        }
        self.out.send().await
    }

    /// Records that every entry before `through` is written: a checkpoint,
    /// unless the encoder holds entries back (then the one before stays).
    async fn completed(&mut self, through: DateTime<Utc>) -> Result<(), Halt> {
        match self.settle(false)? {
            Settled::Here(state) => {
                self.out
                    .checkpoint(
                        through,
                        self.progress.written,
                        &self.progress.omitted,
                        state,
                    )
                    .await?;
                tracing::debug!(%through, written = self.progress.written, "checkpoint");
            }
            Settled::Later => {
                tracing::debug!(%through, "no checkpoint: the encoder holds entries back");
            }
        }
        self.progress.through = through;
        Ok(())
    }

    /// Finishes: writes the end (a JSON array's `]`) and commits the
    /// output (stdout flushed, FILE moved into place); how far it got.
    pub async fn commit(mut self) -> Result<Progress, Halt> {
        self.encoder
            .finish(&mut self.out)
            .map_err(|e| Halt::Failed(Failure::other(format!("could not write the end: {e}"))))?;
        self.out
            .commit(self.progress.written, &self.progress.omitted)
            .await?;
        Ok(self.progress)
    }

    /// Gives up after a failure or a signal; says what becomes of the file
    /// (`None` for stdout).
    pub async fn abandon(self) -> Option<String> {
        self.out.abandon().await
    }
}

impl Finished {
    /// Says on stderr that the export had finished; fails, as the run that
    /// finished it would have, when entries could not be shown.
    pub fn report(&self, format: Format) -> Result<(), Failure> {
        let Finished {
            path,
            checkpoint,
            renamed,
        } = self;
        let how = if *renamed {
            format!(
                "its complete {}.part is now {}",
                path.display(),
                path.display()
            )
        } else {
            format!(
                "{} was complete; removed the leftover checkpoint",
                path.display()
            )
        };
        eprintln!(
            "resuming the export of {} from {} to {} {}: it had finished with {} entries; {how}",
            contracts_of(checkpoint),
            rfc3339(checkpoint.since),
            rfc3339(checkpoint.until),
            started(checkpoint),
            checkpoint.events,
        );
        if checkpoint.omitted.is_empty() {
            Ok(())
        } else {
            Err(checkpoint
                .omitted
                .failure(format, &path.display().to_string()))
        }
    }
}

/// What a `--resume` run that continues an earlier one says first.
fn resuming(checkpoint: &Checkpoint, path: &Path) -> String {
    let pending = checkpoint.pending();
    let position = if checkpoint.job.more_contracts.is_empty() {
        String::new()
    } else {
        format!(
            " of contract {}",
            pending.first().copied().unwrap_or(checkpoint.job.contract)
        )
    };
    format!(
        "resuming the export of {} from {} to {} {}: {} entries before {}{position} are in {}.part",
        contracts_of(checkpoint),
        rfc3339(checkpoint.since),
        rfc3339(checkpoint.until),
        started(checkpoint),
        checkpoint.events,
        rfc3339(checkpoint.through),
        path.display()
    )
}

/// `contract 1`, or `contracts 1, 2, 3`.
fn contracts_of(checkpoint: &Checkpoint) -> String {
    let contracts = checkpoint.job.contracts();
    let plural = if contracts.len() > 1 { "s" } else { "" };
    format!("contract{plural} {}", list(&contracts))
}

/// `started 2024-05-01T12:00:00Z`, or that the start is not known.
fn started(checkpoint: &Checkpoint) -> String {
    match checkpoint.started {
        Some(started) => format!("started {}", rfc3339(started)),
        None => "started at an unknown time".to_string(),
    }
}
