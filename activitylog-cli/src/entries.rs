//! `activitylog entries`: download a range, filter it, write it out.
//!
//! Entries are written page by page as they arrive (stdout is flushed after
//! each page, so a table fills in and `| head` returns early); a closed pipe
//! ends the run quietly. An entry that cannot be shown is counted and
//! reported at the end ([`crate::omitted`]); a signal stops the run at once
//! ([`crate::signals`]).

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use activitylog_client::{
    ActivityLog, DateBound, DateRange, Error, RangeError, RangeRule, RawEvent, Update,
};
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use indicatif::ProgressBar;

use crate::args::EntriesArgs;
use crate::checkpoint::{Checkpoint, Job, JobSource, JobView};
use crate::destination::{Opened, Output};
use crate::error::Failure;
use crate::filter::Filter;
use crate::omitted::Omitted;
use crate::output::table::Table;
use crate::output::{EventWriter, Format};
use crate::progress;
use crate::signals::{Caught, Signals};
use crate::when::When;
use crate::writer::{Halt, Writer};

/// Why a download stopped early.
enum Stop {
    /// The SDK gave up (its message says what was not fetched).
    Download(Error),
    /// Writing failed.
    Write(Failure),
    /// SIGINT or SIGTERM.
    Signal(Caught),
    /// Reading the archive failed.
    Archive(Failure),
}

impl From<Halt> for Stop {
    fn from(halt: Halt) -> Self {
        match halt {
            Halt::Signal(caught) => Stop::Signal(caught),
            Halt::Failed(failure) => Stop::Write(failure),
        }
    }
}

/// Where `entries` reads from: the API, or an archive (`--db`).
#[derive(Clone, Copy, Debug)]
pub enum Source<'a> {
    /// The Activity Log API.
    Api(&'a ActivityLog),
    /// An archive written by `activitylog sync`: offline, any range.
    Archive(&'a activitylog_archive::Archive),
}

/// How far a download got.
struct Tally {
    /// Everything before this instant is written.
    through: DateTime<Utc>,
    /// Entries fetched by this run (before filtering).
    fetched: u64,
    /// Entries that could not be shown, earlier runs of a resumed export included.
    omitted: Omitted,
}

/// The checked arguments of one `entries` run, resolved against one "now".
#[derive(Debug)]
pub struct Request<'a> {
    pub(crate) args: &'a EntriesArgs,
    pub(crate) since: Option<DateBound>,
    pub(crate) until: DateBound,
    /// The range by the SDK's [`RangeRule`]; `None` for a follow whose
    /// start is not final yet.
    pub(crate) range: Option<DateRange>,
}

/// Resolves `--since`/`--until` and checks the range, before any connection
/// is made (usage errors come first). A run that reads the API resolves it
/// again, once, against the service's clock ([`Request::at`]).
pub fn prepare(args: &EntriesArgs) -> Result<Request<'_>, Failure> {
    prepare_at(args, Utc::now().trunc_subsecs(0))
}

impl<'a> Request<'a> {
    /// The same arguments resolved against `now` (the service's).
    pub(crate) fn at(&self, now: DateTime<Utc>) -> Result<Request<'a>, Failure> {
        prepare_at(self.args, now)
    }

    /// Whether the range moves with `now`: an open end, or a bound such as
    /// `7d` or `now`. A range of fixed dates needs no clock, so the service
    /// is not asked its time (one round trip before the first page).
    fn depends_on_now(&self) -> bool {
        let fixed = |when: &When| when.is_fixed();
        !(self.args.until.as_ref().is_some_and(fixed) && self.args.since.as_ref().is_none_or(fixed))
    }
}

/// [`prepare`] against a given `now`.
fn prepare_at(args: &EntriesArgs, now: DateTime<Utc>) -> Result<Request<'_>, Failure> {
    let since = resolve(args.since.as_ref(), now)?;
    let until = resolve(args.until.as_ref(), now)?;
    if args.follow && args.contracts.numbers.len() > 1 {
        return Err(Failure::usage(
            "--follow tails one contract: give one CONTRACT (run one `activitylog entries \
             CONTRACT --follow` per contract to tail several)",
        ));
    }
    // An open end is closed once, settle before now, so that `--since
    // 30d` and the end agree and no checkpoint claims time still filling in.
    match RangeRule::new(args.settle).resolve(since, until, now) {
        Ok(range) => Ok(Request {
            args,
            since,
            until: until.unwrap_or(DateBound::Instant(range.until())),
            range: Some(range),
        }),
        // A follow waits for a start that is not final yet.
        Err(RangeError::NotSettled { end, .. }) if args.follow => Ok(Request {
            args,
            since,
            until: DateBound::Instant(end),
            range: None,
        }),
        Err(error) => Err(range_failure(error, args.since.as_ref(), args.settle)),
    }
}

/// The CLI's words for a range the rule refuses: in terms of its flags.
pub(crate) fn range_failure(error: RangeError, since: Option<&When>, settle: Duration) -> Failure {
    match error {
        RangeError::NotSettled { .. } => Failure::usage(format!(
            "--since {} is less than --settle {} ago, and entries that young may not be \
             visible yet: use an earlier --since, a shorter --settle, or an explicit --until",
            since.map(When::text).unwrap_or_default(),
            humantime::format_duration(settle)
        )),
        RangeError::SettleTooFar { .. } => Failure::usage(format!(
            "--settle {} reaches back too far: the earliest moment is 0000-01-01",
            humantime::format_duration(settle)
        )),
        other => Failure::from(Error::from(other)),
    }
}

/// Runs `entries` on `contracts` (at least one, in this order) with the
/// output format `--format` asked for (if any), stopping cleanly at the
/// first of `signals`. Several contracts make one output: each is
/// downloaded in turn over the same range, with the same filters, and
/// `--limit` counts across them all.
pub async fn run(
    source: Source<'_>,
    request: Request<'_>,
    contracts: &[u64],
    format: Option<Format>,
    signals: &Signals,
) -> Result<(), Failure> {
    let Some(&first) = contracts.first() else {
        return Err(Failure::usage("no contract to read: name one"));
    };
    if request.args.follow {
        let Source::Api(log) = source else {
            return Err(Failure::usage(
                "--follow polls the API: it does not go with --db",
            ));
        };
        let request = request.at(crate::clock::service_now(log).await)?;
        return crate::follow::run(log, request, first, format, signals).await;
    }
    let args = request.args;
    let format = Format::choose(format, args.out.as_deref(), std::io::stdout().is_terminal());
    let filter = args.filters.to_filter();
    let mut view = args.view.to_view();
    view.contract = contracts.len() > 1;
    if view.columns.is_some() && !format.needs_decoding() {
        return Err(Failure::usage(format!(
            "--columns picks table and CSV columns, and the output is {}: add --format csv \
             or --format table",
            format.name()
        )));
    }
    // Resolved once (after the usage errors), by the service's clock when
    // reading the API.
    let request = match source {
        Source::Api(log) if request.depends_on_now() => {
            request.at(crate::clock::service_now(log).await)?
        }
        Source::Api(_) | Source::Archive(_) => request,
    };
    let Request {
        since,
        until,
        range,
        ..
    } = request;

    let base = |log: &ActivityLog, contract: u64| {
        let mut base = log.entries(contract).settle(args.settle);
        if let Some(size) = args.page_size {
            base = base.page_size(size);
        }
        if let Some(pages) = args.concurrency {
            base = base.concurrency(usize::from(pages));
        }
        base
    };
    let range = match (source, range) {
        (Source::Api(_), Some(range)) => range,
        (Source::Api(_), None) => DateRange::new(
            since.unwrap_or(DateBound::Instant(DateTime::UNIX_EPOCH)),
            until,
        )?,
        // An archive has no 90-day limit: by default, all of it, up to
        // where it is complete.
        (Source::Archive(archive), _) => {
            let start = since.map_or(DateTime::UNIX_EPOCH, |since| since.instant());
            let explicit = args.until.is_some();
            let range = crate::reader::archive_range(
                archive,
                contracts,
                start,
                until.instant(),
                explicit,
                args.partial,
            )
            .await?;
            if since.is_some() {
                crate::reader::untimed_left_out(archive, contracts).await?;
            }
            range
        }
    };

    let job = Job {
        contract: first,
        more_contracts: contracts[1..].to_vec(),
        all_contracts: args.contracts.all_contracts,
        since: args.since.as_ref().map(|w| w.text().to_string()),
        until: args.until.as_ref().map(|w| w.text().to_string()),
        format,
        filter: filter.clone(),
        view: JobView::of(format, &view),
        follow: false,
        source: match source {
            Source::Api(_) => JobSource::Api,
            Source::Archive(archive) => JobSource::archive(archive.location()),
        },
    };
    let (output, resumed) = match &args.out {
        None => (Output::stdout(), None),
        Some(path) => match Output::file(path, args.resume, &job, range.since(), range.until())? {
            Opened::Ready { output, resumed } => (output, resumed),
            Opened::Complete {
                checkpoint,
                renamed,
            } => return completed_earlier(path, &checkpoint, renamed, format),
        },
    };
    let bar = progress::bar();
    // Rows and the progress bar share the terminal.
    let shared = (output.is_stdout() && std::io::stdout().is_terminal()).then(|| bar.clone());
    let mut output = Writer::start(output, shared, signals);
    if let (Some(checkpoint), Some(path)) = (&resumed, &args.out) {
        eprintln!("{}", resuming(checkpoint, path));
    }
    let fresh = resumed.is_none();
    // Entries without a readable time are in no range: read (last) when
    // the range has no start.
    let since_given = args.since.is_some();
    // The range every contract is read over, the contracts still to read,
    // and where the first of them starts.
    let (since, pending, start, end, written, omitted) = match resumed {
        Some(checkpoint) => (
            checkpoint.since,
            checkpoint.pending(),
            checkpoint.through,
            checkpoint.until,
            checkpoint.events,
            checkpoint.omitted,
        ),
        None => (
            range.since(),
            contracts.to_vec(),
            range.since(),
            range.until(),
            0,
            Omitted::default(),
        ),
    };
    let mut writer = EventWriter::new(format, written, Table::terminal_width(), view);
    let mut tally = Tally {
        through: start,
        fetched: 0,
        omitted,
    };
    if fresh {
        writer
            .begin(&mut output)
            .map_err(|e| Failure::other(format!("could not write the header: {e}")))?;
        // The header (or `[`) shows at once, before the first page.
        if let Err(halt) = output.checkpoint(start, 0, &tally.omitted).await {
            let at = Position {
                contract: first,
                later: pending.get(1..).unwrap_or_default(),
                end,
                partial: false,
            };
            return Err(stopped(halt.into(), output, &tally, &at).await);
        }
    }

    for (index, &contract) in pending.iter().enumerate() {
        let from = if index == 0 { start } else { since };
        if index > 0 {
            if args.limit.is_some_and(|limit| writer.written() >= limit) {
                break;
            }
            tally.through = from;
        }
        let work = async {
            if index > 0 {
                output
                    .next_contract(contract, from, writer.written(), &tally.omitted)
                    .await?;
            }
            tracing::info!(contract, since = %from, until = %end, format = format.name(), "downloading");
            if from >= end {
                return Ok(());
            }
            let updates: BoxStream<'_, Result<Update, Stop>> = match source {
                Source::Api(log) => {
                    let entries = base(log, contract)
                        .since(DateBound::Instant(from))
                        .until(DateBound::Instant(end));
                    if !bar.is_hidden()
                        && let Ok(total) = entries.count().await
                    {
                        bar.set_length(bar.length().unwrap_or(0) + total);
                    }
                    entries.updates().map(|u| u.map_err(Stop::Download)).boxed()
                }
                Source::Archive(archive) => {
                    archived(archive, contract, from, end, since_given).boxed()
                }
            };
            let mut sink = Sink {
                output: &mut output,
                writer: &mut writer,
                filter: &filter,
                decode: format.needs_decoding() || !filter.is_empty(),
                bar: &bar,
                limit: args.limit,
            };
            sink.download(updates, &mut tally).await
        };
        let outcome = tokio::select! {
            biased;
            caught = signals.caught() => Err(Stop::Signal(caught)),
            outcome = work => outcome,
        };
        if let Err(stop) = outcome {
            bar.finish_and_clear();
            let partial = index > 0 || tally.fetched > 0 || tally.through > from;
            let at = Position {
                contract,
                later: &pending[index + 1..],
                end,
                partial,
            };
            return Err(stopped(stop, output, &tally, &at).await);
        }
    }
    bar.finish_and_clear();

    writer
        .finish(&mut output)
        .map_err(|e| Failure::other(format!("could not write the end: {e}")))?;
    match output.commit(writer.written(), &tally.omitted).await {
        Ok(()) => {}
        Err(Halt::Failed(failure)) => return Err(failure),
        Err(Halt::Signal(caught)) => {
            return Err(
                caught.failure("every entry was fetched, but the output above is incomplete")
            );
        }
    }
    tracing::info!(
        fetched = tally.fetched,
        written = writer.written(),
        omitted = tally.omitted.count,
        "done"
    );
    if !tally.omitted.is_empty() {
        let destination = match &args.out {
            Some(path) => path.display().to_string(),
            None => "the output".to_string(),
        };
        return Err(tally.omitted.failure(format, &destination));
    }
    if let Some(path) = &args.out
        && std::io::stderr().is_terminal()
    {
        eprintln!("wrote {} entries to {}", writer.written(), path.display());
    }
    Ok(())
}

/// Where a download stopped: the contract being read, the ones after it,
/// the end of the range, and whether some output was written to stdout.
struct Position<'a> {
    contract: u64,
    later: &'a [u64],
    end: DateTime<Utc>,
    partial: bool,
}

/// The failure of a download that stopped early, with what became of the output.
async fn stopped(stop: Stop, output: Writer, tally: &Tally, at: &Position<'_>) -> Failure {
    let mut missing = format!(
        "entries of contract {} from {} to {} were not fetched",
        at.contract,
        rfc3339(tally.through),
        rfc3339(at.end)
    );
    if !at.later.is_empty() {
        missing.push_str(&format!(
            ", nor any of contract{} {}",
            if at.later.len() > 1 { "s" } else { "" },
            crate::contracts::list(at.later)
        ));
    }
    let stdout = output.is_stdout();
    let partial = stdout && at.partial;
    let note = output.abandon().await;
    let tail = |message: String| match &note {
        Some(note) => format!("{message}; {note}"),
        None => message,
    };
    match stop {
        Stop::Signal(caught) => {
            let mut message = missing;
            if partial {
                message.push_str(": the output above is incomplete");
            }
            caught.failure(&tail(message))
        }
        Stop::Write(failure) if failure.code() == 0 => failure,
        Stop::Write(failure) | Stop::Archive(failure) => {
            Failure::other(tail(format!("{failure}; {missing}")))
        }
        Stop::Download(error) => {
            let said = matches!(error, Error::Incomplete { .. });
            let message = match (partial, said) {
                (true, true) if at.later.is_empty() => {
                    format!("{error}; the output above is incomplete")
                }
                (true, _) => format!("{error}; {missing}: the output above is incomplete"),
                (false, _) if at.later.is_empty() => error.to_string(),
                (false, _) => format!("{error}; {missing}"),
            };
            let failure = Failure::from(error);
            let message = tail(message);
            if failure.code() == crate::error::EXIT_USAGE {
                Failure::usage(message)
            } else {
                Failure::other(message)
            }
        }
    }
}

/// What a `--resume` run that continues an earlier one says first.
pub(crate) fn resuming(checkpoint: &Checkpoint, path: &Path) -> String {
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

/// A `--resume` run that found its export finished but for the last steps.
fn completed_earlier(
    path: &Path,
    checkpoint: &Checkpoint,
    renamed: bool,
    format: Format,
) -> Result<(), Failure> {
    let how = if renamed {
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

/// `contract 1`, or `contracts 1, 2, 3`.
fn contracts_of(checkpoint: &Checkpoint) -> String {
    let contracts = checkpoint.job.contracts();
    let plural = if contracts.len() > 1 { "s" } else { "" };
    format!("contract{plural} {}", crate::contracts::list(&contracts))
}

/// `started 2024-05-01T12:00:00Z`, or that the start is not known.
fn started(checkpoint: &Checkpoint) -> String {
    match checkpoint.started {
        Some(started) => format!("started {}", rfc3339(started)),
        None => "started at an unknown time".to_string(),
    }
}

pub(crate) fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// An archive's entries of `[start, end)` as a download's updates: pages
/// in time order, then (unless `since_given`) the entries without a
/// readable time, in `@uuid` order, then the whole range complete.
fn archived(
    archive: &activitylog_archive::Archive,
    contract: u64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    since_given: bool,
) -> impl Stream<Item = Result<Update, Stop>> + '_ {
    let untimed = if since_given {
        futures::stream::empty().boxed()
    } else {
        archive.untimed(contract).boxed()
    };
    archive
        .pages(contract, start, end)
        .chain(untimed)
        .map(|page| {
            page.map(Update::Events)
                .map_err(|e| Stop::Archive(crate::sync::failure(e)))
        })
        .chain(futures::stream::once(async move {
            Ok(Update::Completed { through: end })
        }))
}

/// Resolves a `WHEN` argument against the command's `now`.
pub(crate) fn resolve(
    when: Option<&When>,
    now: DateTime<Utc>,
) -> Result<Option<DateBound>, Failure> {
    when.map(|w| w.resolve(now).map_err(Failure::usage))
        .transpose()
}

/// Where downloaded entries go: filtered, decoded when needed, written.
pub(crate) struct Sink<'a> {
    pub(crate) output: &'a mut Writer,
    pub(crate) writer: &'a mut EventWriter,
    pub(crate) filter: &'a Filter,
    /// Whether the format or the filters need decoded entries.
    pub(crate) decode: bool,
    pub(crate) bar: &'a ProgressBar,
    /// `--limit`: stop once this many entries are written.
    pub(crate) limit: Option<u64>,
}

impl Sink<'_> {
    /// Streams the download into the output, checkpointing after every
    /// completed stretch of time, until done, failed, or `--limit` entries
    /// are written (then the download is dropped: nothing more is fetched).
    async fn download(
        &mut self,
        mut updates: impl Stream<Item = Result<Update, Stop>> + Unpin,
        tally: &mut Tally,
    ) -> Result<(), Stop> {
        while let Some(update) = updates.next().await {
            match update? {
                Update::Events(events) => {
                    tally.fetched += events.len() as u64;
                    self.bar.inc(events.len() as u64);
                    self.page(&events, &mut tally.omitted).await?;
                    if self.full() {
                        tracing::debug!(written = self.writer.written(), "--limit reached");
                        return Ok(());
                    }
                }
                Update::Completed { through } => {
                    self.output
                        .checkpoint(through, self.writer.written(), &tally.omitted)
                        .await?;
                    tracing::debug!(%through, written = self.writer.written(), "checkpoint");
                    tally.through = through;
                }
                // Reports a newer SDK may add say nothing this loop needs.
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether `--limit` entries are written.
    fn full(&self) -> bool {
        self.limit
            .is_some_and(|limit| self.writer.written() >= limit)
    }

    /// Writes one page's entries (up to `--limit`) and sends them to the
    /// writer (stdout is flushed after each page).
    pub(crate) async fn page(
        &mut self,
        events: &[RawEvent],
        omitted: &mut Omitted,
    ) -> Result<(), Halt> {
        for event in events {
            if self.full() {
                break;
            }
            let activity = if self.decode {
                match event.decode() {
                    Ok(activity) => Some(activity),
                    Err(error) => {
                        tracing::debug!(%error, "an entry could not be decoded");
                        omitted.add(event.uuid().as_deref());
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
            self.writer
                .write(self.output, event, activity.as_ref())
                .map_err(|e| {
                    Halt::Failed(Failure::other(format!("could not write an entry: {e}")))
                })?;
        }
        self.output.send().await
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    fn entries(args: &[&str]) -> EntriesArgs {
        let cli = Cli::try_parse_from(["activitylog", "entries", "1"].iter().chain(args)).unwrap();
        match cli.command {
            Command::Entries(args) => args,
            _ => unreachable!(),
        }
    }

    fn instant(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn an_open_range_ends_settle_before_now() {
        let now = instant("2024-05-01T12:00:00Z");
        let args = entries(&["--since", "1d"]);
        let request = prepare_at(&args, now).unwrap();
        assert_eq!(request.until.instant(), instant("2024-05-01T11:58:00Z"));
        assert_eq!(
            request.since.unwrap().instant(),
            instant("2024-04-30T12:00:00Z"),
            "--since still counts back from now"
        );
        let args = entries(&["--since", "1d", "--settle", "30s"]);
        let request = prepare_at(&args, now).unwrap();
        assert_eq!(request.until.instant(), instant("2024-05-01T11:59:30Z"));
    }

    #[test]
    fn an_explicit_until_is_honoured_as_given() {
        let now = instant("2024-05-01T12:00:00Z");
        let args = entries(&["--since", "1d", "--until", "now"]);
        assert_eq!(prepare_at(&args, now).unwrap().until.instant(), now);
        let args = entries(&["--since", "2024-01-01", "--until", "2024-06-01"]);
        assert_eq!(
            prepare_at(&args, now).unwrap().until.instant(),
            instant("2024-06-01T00:00:00Z")
        );
    }

    #[test]
    fn a_start_inside_the_settle_time_is_a_usage_error_that_says_so() {
        let now = instant("2024-05-01T12:00:00Z");
        let args = entries(&["--since", "1m"]);
        let failure = prepare_at(&args, now).unwrap_err();
        assert_eq!(failure.code(), crate::error::EXIT_USAGE);
        assert!(failure.message().contains("--settle 2m"), "{failure}");
        let args = entries(&["--settle", "100000y"]);
        assert_eq!(
            prepare_at(&args, now).unwrap_err().code(),
            crate::error::EXIT_USAGE
        );
    }
}
