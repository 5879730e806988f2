//! `activitylog entries`: download a range, filter it, write it out.
//!
//! Entries are written page by page as they arrive (stdout is flushed after
//! each page, so a table fills in and `| head` returns early); a closed pipe
//! ends the run quietly. An entry that cannot be shown is counted and
//! reported at the end ([`crate::omitted`]); a signal stops the run at once
//! ([`crate::signals`]). The bytes, the checkpoints and the progress are the
//! [`Export`]'s.

use std::io::IsTerminal;

use activitylog_client::{DateBound, DateRange, Error, RangeRule, Update};

use crate::when::When;
use chrono::{DateTime, SubsecRound, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use crate::args::{EntriesArgs, Global};
use crate::error::{EXIT_USAGE, Failure};
use crate::export::{Export, Halt, Job, JobSource, JobView, Opened, Plan};
use crate::output::table::Table;
use crate::output::{self, Format};
use crate::reader::{self, Reader};
use crate::signals::{Caught, Signals};
use crate::text::{list, rfc3339};

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

/// The checked arguments of one `entries` run, resolved against one "now".
#[derive(Debug)]
struct Request<'a> {
    args: &'a EntriesArgs,
    since: Option<DateBound>,
    until: DateBound,
    /// The range by the SDK's [`RangeRule`].
    range: DateRange,
}

/// Resolves `--since`/`--until` and checks the range, before any connection
/// is made (usage errors come first). A run that reads the API resolves it
/// again, once, against the service's clock ([`Request::at`]).
fn prepare(args: &EntriesArgs) -> Result<Request<'_>, Failure> {
    prepare_at(args, Utc::now().trunc_subsecs(0))
}

impl<'a> Request<'a> {
    /// The same arguments resolved against `now` (the service's).
    fn at(&self, now: DateTime<Utc>) -> Result<Request<'a>, Failure> {
        prepare_at(self.args, now)
    }

    /// Whether the range moves with `now`: an open end, or a bound such as
    /// `7d` or `now`. A range of fixed dates needs no clock, so the service
    /// is not asked its time (one round trip before the first page).
    fn depends_on_now(&self) -> bool {
        let fixed = |when: &When| when.is_fixed();
        let range = &self.args.range;
        !(range.until.as_ref().is_some_and(fixed) && range.since.as_ref().is_none_or(fixed))
    }
}

/// [`prepare`] against a given `now`.
fn prepare_at(args: &EntriesArgs, now: DateTime<Utc>) -> Result<Request<'_>, Failure> {
    let (since, until) = args.range.bounds(now)?;
    // An open end is closed once, settle before now, so that `--since
    // 30d` and the end agree and no checkpoint claims time still filling in.
    match RangeRule::new(args.download.settle).resolve(since, until, now) {
        Ok(range) => Ok(Request {
            args,
            since,
            until: until.unwrap_or(DateBound::Instant(range.until())),
            range,
        }),
        Err(error) => Err(args.range.refusal(error, args.download.settle)),
    }
}

/// Runs `entries` (not `--follow`): checks the arguments, opens the API
/// or the archive, and reads the contracts asked for.
pub async fn run(global: &Global, args: &EntriesArgs, signals: &Signals) -> Result<(), Failure> {
    let request = prepare(args)?;
    let (reader, contracts) = signals
        .or_stop(Reader::open(global, &args.archive, &args.contracts))
        .await?;
    read(&reader, request, &contracts, global.format, signals).await
}

/// Reads `contracts` (at least one, in this order) from `reader`, with the
/// output format `--format` asked for (if any), stopping cleanly at the
/// first of `signals`. Several contracts make one output: each is
/// downloaded in turn over the same range, with the same filters, and
/// `--limit` counts across them all.
async fn read(
    reader: &Reader,
    request: Request<'_>,
    contracts: &[u64],
    format: Option<Format>,
    signals: &Signals,
) -> Result<(), Failure> {
    let Some(&first) = contracts.first() else {
        return Err(Failure::usage("no contract to read: name one"));
    };
    let args = request.args;
    let format = Format::choose(format, args.out.as_deref(), std::io::stdout().is_terminal());
    if let Some(refusal) = format.refusal(args.out.as_deref(), false) {
        return Err(Failure::usage(refusal));
    }
    if format != Format::Parquet && args.row_group_size.is_some() {
        return Err(Failure::usage(format!(
            "--row-group-size is for Parquet, and the output is {}: add --format parquet",
            format.name()
        )));
    }
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
    let request = match reader {
        Reader::Api(connection) if request.depends_on_now() => {
            request.at(crate::clock::service_now(&connection.log).await)?
        }
        Reader::Api(_) | Reader::Archive(_) => request,
    };
    let Request {
        since,
        until,
        range,
        ..
    } = request;
    let range = match reader {
        Reader::Api(_) => range,
        // An archive has no 90-day limit: by default, all of it, up to
        // where it is complete.
        Reader::Archive(archive) => {
            let start = since.map_or(DateTime::UNIX_EPOCH, |since| since.instant());
            let explicit = args.range.until.is_some();
            let range = reader::archive_range(
                archive,
                contracts,
                start,
                until.instant(),
                explicit,
                args.partial,
            )
            .await?;
            if since.is_some() {
                reader::untimed_left_out(archive, contracts).await?;
            }
            range
        }
    };

    let filter = args.filters.to_filter();
    let query = filter.query();
    let plan = Plan {
        out: args.out.as_deref(),
        resume: args.resume,
        job: Job {
            contract: first,
            more_contracts: contracts[1..].to_vec(),
            all_contracts: args.contracts.all_contracts,
            since: args.range.since.as_ref().map(|w| w.text().to_string()),
            until: args.range.until.as_ref().map(|w| w.text().to_string()),
            format,
            filter: filter.clone(),
            view: JobView::of(format, &view),
            follow: false,
            source: match reader {
                Reader::Api(_) => JobSource::Api,
                Reader::Archive(archive) => JobSource::archive(archive.location()),
            },
        },
        since: range.since(),
        until: range.until(),
        encoder: output::encoder(
            format,
            Table::terminal_width(),
            view,
            args.row_group_size.unwrap_or(output::ROW_GROUP),
        ),
        filter,
        limit: args.limit,
        progress: true,
    };
    let mut export = match Export::open(plan, signals)? {
        Opened::Ready(export) => export,
        Opened::Finished(finished) => return finished.report(format),
    };
    if let Err(halt) = export.begin().await {
        let at = Position {
            contract: first,
            later: export.pending().get(1..).unwrap_or_default().to_vec(),
            partial: false,
        };
        return Err(stopped(halt.into(), export, &at).await);
    }
    // Entries without a readable time are in no range: read (last) when
    // the range has no start.
    let since_given = args.range.since.is_some();
    let (since, end) = (export.since(), export.until());
    let pending = export.pending().to_vec();
    for (index, &contract) in pending.iter().enumerate() {
        if index > 0 && export.full() {
            break;
        }
        let from = if index == 0 {
            export.progress().through
        } else {
            since
        };
        let moved = match index {
            0 => Ok(()),
            _ => export.next_contract(contract).await.map_err(Stop::from),
        };
        let work = async {
            moved?;
            tracing::info!(contract, since = %from, until = %end, format = format.name(), "downloading");
            if from >= end {
                return Ok(());
            }
            let updates: BoxStream<'_, Result<Update, Stop>> = match reader {
                Reader::Api(connection) => {
                    let entries = args
                        .download
                        .entries(&connection.log, contract)
                        .since(DateBound::Instant(from))
                        .until(DateBound::Instant(end));
                    let bar = export.bar();
                    if !bar.is_hidden()
                        && let Ok(total) = entries.count().await
                    {
                        bar.set_length(bar.length().unwrap_or(0) + total);
                    }
                    entries.updates().map_err(Stop::Download).boxed()
                }
                Reader::Archive(archive) => {
                    reader::archived_updates(archive, contract, from, end, !since_given, &query)
                        .map_err(Stop::Archive)
                        .boxed()
                }
            };
            export.feed(updates).await
        };
        let outcome = tokio::select! {
            biased;
            caught = signals.caught() => Err(Stop::Signal(caught)),
            outcome = work => outcome,
        };
        if let Err(stop) = outcome {
            export.bar().finish_and_clear();
            let progress = export.progress();
            let partial = index > 0 || progress.fetched > 0 || progress.through > from;
            let at = Position {
                contract,
                later: pending[index + 1..].to_vec(),
                partial,
            };
            return Err(stopped(stop, export, &at).await);
        }
    }
    export.bar().finish_and_clear();

    let done = match export.commit().await {
        Ok(done) => done,
        Err(Halt::Failed(failure)) => return Err(failure),
        Err(Halt::Signal(caught)) => {
            return Err(
                caught.failure("every entry was fetched, but the output above is incomplete")
            );
        }
    };
    tracing::info!(
        fetched = done.fetched,
        written = done.written,
        omitted = done.omitted.count,
        "done"
    );
    if !done.omitted.is_empty() {
        let destination = match &args.out {
            Some(path) => path.display().to_string(),
            None => "the output".to_string(),
        };
        return Err(done.omitted.failure(format, &destination));
    }
    if let Some(path) = &args.out
        && std::io::stderr().is_terminal()
    {
        eprintln!("wrote {} entries to {}", done.written, path.display());
    }
    Ok(())
}

/// Where a download stopped: the contract being read, the ones after it,
/// and whether some output was written to stdout.
struct Position {
    contract: u64,
    later: Vec<u64>,
    partial: bool,
}

/// The failure of a download that stopped early, with what became of the output.
async fn stopped(stop: Stop, export: Export, at: &Position) -> Failure {
    let mut missing = format!(
        "entries of contract {} from {} to {} were not fetched",
        at.contract,
        rfc3339(export.progress().through),
        rfc3339(export.until())
    );
    if !at.later.is_empty() {
        missing.push_str(&format!(
            ", nor any of contract{} {}",
            if at.later.len() > 1 { "s" } else { "" },
            list(&at.later)
        ));
    }
    let partial = export.is_stdout() && at.partial;
    let note = export.abandon().await;
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
        Stop::Write(failure) if failure.is_quiet_stop() => failure,
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
            if failure.code() == EXIT_USAGE {
                Failure::usage(message)
            } else {
                Failure::other(message)
            }
        }
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
