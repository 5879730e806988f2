//! `activitylog entries --follow`: the range, then new entries as they
//! become final, until Ctrl-C (exit 130) or SIGTERM (exit 143).
//!
//! Built on [`Entries::follow`](activitylog_client::Entries::follow): every
//! poll is a complete download of `[last checkpoint − settle, now − settle)`
//! deduplicated against what was written, so each entry is written once.
//! Entries are written as they arrive and stdout is flushed after every page
//! (a table fills in row by row; NDJSON and CSV can be piped on); filters
//! apply as without `--follow`. Transient failures never stop the follow
//! (`-v` reports them); a permanent one (401, 403, ...) ends it with its
//! usual message and exit code.
//!
//! Stopped by a signal:
//!
//! - to stdout, the output is closed properly (a JSON array gets its `]`);
//! - `--out FILE`, FILE is written with everything followed so far;
//! - `--out FILE --resume`, `FILE.part` and `FILE.checkpoint` stay: the
//!   checkpoint is written after every poll, recording `through`, the
//!   instant before which every entry is in `FILE.part`, and its length
//!   then. A rerun (after a signal or `kill -9`) cuts `FILE.part` to that
//!   length and follows on from `through` without an overlap: the engine's
//!   windows are exact (`[start, end)`, cut at whole seconds), and entries
//!   before `through − settle` were final when read, so it continues with
//!   no gap and no duplicate. The overlap dedupe within one run only adds
//!   entries that took longer than `--settle` to show up; a rerun does not
//!   look for those before its checkpoint. The checkpoint's recorded `until`
//!   is the end of the first run's first range; a follow never finishes,
//!   so it only says how far that first range went.

use std::io::{self, IsTerminal};

use activitylog_client::{ActivityLog, DateBound, Error, RangeError, RangeRule};
use chrono::{DateTime, SubsecRound, Utc};
use futures::TryStreamExt;

use crate::args::{EntriesArgs, Global};
use crate::error::{EXIT_USAGE, Failure};
use crate::export::{Export, Halt, Job, JobSource, JobView, Opened, Plan};
use crate::output::table::Table;
use crate::output::{EventWriter, Format};
use crate::reader::Reader;
use crate::signals::{Caught, Signals};
use crate::text::rfc3339;

/// Why a follow stopped.
enum Stop {
    /// The SDK gave up: a permanent error.
    Download(Error),
    /// Writing stopped.
    Write(Halt),
}

impl From<Halt> for Stop {
    fn from(halt: Halt) -> Self {
        Stop::Write(halt)
    }
}

/// Runs `entries --follow`: checks the arguments, connects, and follows
/// the one contract asked for until a signal or a permanent error.
pub async fn run(global: &Global, args: &EntriesArgs, signals: &Signals) -> Result<(), Failure> {
    // Usage errors first, by this machine's clock, before any connection.
    first_range(args, Utc::now().trunc_subsecs(0))?;
    let (reader, contracts) = signals
        .or_stop(Reader::open(global, &args.archive, &args.contracts))
        .await?;
    let Some(&contract) = contracts.first() else {
        return Err(Failure::usage("no contract to read: name one"));
    };
    let Reader::Api(connection) = &reader else {
        return Err(Failure::usage(
            "--follow polls the API: it does not go with --db",
        ));
    };
    let log = &connection.log;
    // The first range, by the SDK's range rule at the service's now.
    let (begin, end) = first_range(args, crate::clock::service_now(log).await)?;
    follow(log, args, contract, (begin, end), global.format, signals).await
}

/// The first range of a follow at `now`: `[begin, end)` by the SDK's
/// range rule, except that its start may lie after its end (`--since
/// now`): the follow then waits until the start is final.
fn first_range(
    args: &EntriesArgs,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), Failure> {
    let (since, until) = args.range.bounds(now)?;
    if args.contracts.numbers.len() > 1 {
        return Err(Failure::usage(
            "--follow tails one contract: give one CONTRACT (run one `activitylog entries \
             CONTRACT --follow` per contract to tail several)",
        ));
    }
    match RangeRule::new(args.download.settle).resolve(since, until, now) {
        Ok(range) => Ok((range.since(), range.until())),
        // A follow waits for a start that is not final yet.
        Err(RangeError::NotSettled { end, .. }) => {
            Ok((since.map_or(end, |since| since.instant()), end))
        }
        Err(error) => Err(args.range.refusal(error, args.download.settle)),
    }
}

/// Follows `contract` from the first range `[begin, end)` on.
async fn follow(
    log: &ActivityLog,
    args: &EntriesArgs,
    contract: u64,
    (begin, end): (DateTime<Utc>, DateTime<Utc>),
    format: Option<Format>,
    signals: &Signals,
) -> Result<(), Failure> {
    let format = Format::choose(format, args.out.as_deref(), io::stdout().is_terminal());
    if let Some(refusal) = format.refusal(args.out.as_deref(), true) {
        return Err(Failure::usage(refusal));
    }
    let filter = args.filters.to_filter();
    let view = args.view.to_view();
    let plan = Plan {
        out: args.out.as_deref(),
        resume: args.resume,
        job: Job {
            contract,
            more_contracts: Vec::new(),
            all_contracts: false,
            since: args.range.since.as_ref().map(|w| w.text().to_string()),
            until: None,
            format,
            filter: filter.clone(),
            view: JobView::of(format, &view),
            follow: true,
            source: JobSource::Api,
        },
        since: begin,
        until: end.max(begin),
        encoder: Box::new(EventWriter::new(format, Table::terminal_width(), view)),
        filter,
        limit: None,
        progress: false,
    };
    let mut export = match Export::open(plan, signals)? {
        Opened::Ready(export) => export,
        Opened::Finished(finished) => {
            return Err(Failure::other(format!(
                "{} is left finished by an earlier run; a follow never finishes: \
                 delete it and its checkpoint to start over",
                finished.path.display()
            )));
        }
    };
    export.begin().await?;
    let start = export.progress().through;
    tracing::info!(contract, since = %start, interval = ?args.interval, format = format.name(), "following");

    let updates = args
        .download
        .entries(log, contract)
        .since(DateBound::Instant(start))
        .follow(args.interval)
        .map_err(Stop::Download);
    // Written on the writer's thread: a blocked stdout still lets a signal
    // through (the writer watches for it while it waits).
    let ended: Result<Caught, Failure> = tokio::select! {
        biased;
        caught = signals.caught() => Ok(caught),
        fed = export.feed(updates) => match fed {
            Ok(()) => Err(Failure::other(
                "the follow ended without saying why (a bug: please report it)",
            )),
            Err(Stop::Write(Halt::Signal(caught))) => Ok(caught),
            Err(Stop::Write(Halt::Failed(failure))) => Err(failure),
            Err(Stop::Download(error)) => Err(Failure::from(error)),
        },
    };
    let caught = match ended {
        Ok(caught) => caught,
        Err(failure) => return Err(failed(failure, export.abandon().await)),
    };
    let progress = export.progress();
    let detail = format!(
        "followed contract {} through {}, {} entries written",
        contract,
        rfc3339(progress.through),
        progress.written
    );
    let note = match (&args.out, args.resume) {
        (Some(_), true) => export.abandon().await,
        // Stdout gets a moment to take the end (a JSON array's `]`).
        (out, _) => match export.commit().await {
            Ok(_) => out.as_ref().map(|path| format!("wrote {}", path.display())),
            Err(Halt::Signal(_)) => Some("the output above is incomplete".to_string()),
            Err(Halt::Failed(failure)) => return Err(failure),
        },
    };
    let detail = match note {
        Some(note) => format!("{detail}; {note}"),
        None => detail,
    };
    Err(caught.failure(&detail))
}

/// A permanent error's failure, with what became of the output.
fn failed(failure: Failure, note: Option<String>) -> Failure {
    let Some(note) = note else {
        return failure;
    };
    let message = format!("{}; {note}", failure.message());
    if failure.code() == EXIT_USAGE {
        Failure::usage(message)
    } else {
        Failure::with_code(message, failure.code())
    }
}
