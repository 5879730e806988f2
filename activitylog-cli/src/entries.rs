//! `activitylog entries`: download a range, filter it, write it out.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Duration;

use activitylog_client::{
    ActivityLog, DEFAULT_LOOKBACK, DateBound, DateRange, Entries, Error, Update,
};
use chrono::{DateTime, Datelike, SubsecRound, TimeDelta, Utc};
use futures::StreamExt;
use indicatif::ProgressBar;

use crate::args::EntriesArgs;
use crate::error::Failure;
use crate::export::{Job, Opened, Output, stdout_failure};
use crate::filter::Filter;
use crate::output::table::Table;
use crate::output::{EventWriter, Format};
use crate::progress;
use crate::when::When;

/// Why a download stopped early.
enum Stop {
    /// The SDK gave up (its message says what was not fetched).
    Download(Error),
    /// Writing failed.
    Write(Failure),
    /// Ctrl-C.
    Interrupted,
}

/// How far a download got.
struct Progress {
    /// Everything before this instant is written.
    through: DateTime<Utc>,
    /// Entries fetched by this run (before filtering).
    fetched: u64,
    /// Entries that could not be decoded for a format or filter that needs it.
    undecodable: u64,
}

/// The checked arguments of one `entries` run, resolved against one "now".
#[derive(Debug)]
pub struct Request<'a> {
    args: &'a EntriesArgs,
    since: Option<DateBound>,
    until: DateBound,
}

/// Resolves `--since`/`--until` and checks the range, before any connection
/// is made (usage errors come first).
pub fn prepare(args: &EntriesArgs) -> Result<Request<'_>, Failure> {
    prepare_at(args, Utc::now().trunc_subsecs(0))
}

/// [`prepare`] against a given `now`.
fn prepare_at(args: &EntriesArgs, now: DateTime<Utc>) -> Result<Request<'_>, Failure> {
    let since = resolve(args.since.as_ref(), now)?;
    let until = match resolve(args.until.as_ref(), now)? {
        Some(until) => until,
        // An open end is closed once, settle before now, so that `--since
        // 30d` and the end agree and no checkpoint claims time still filling in.
        None => DateBound::Instant(settled(now, args.settle)?),
    };
    let lookback = TimeDelta::from_std(DEFAULT_LOOKBACK).unwrap_or(TimeDelta::days(90));
    let start = since.unwrap_or(DateBound::Instant(until.instant() - lookback));
    if args.until.is_none() && start.instant() >= until.instant() {
        return Err(Failure::usage(format!(
            "--since {} is less than --settle {} ago, and entries that young may not be \
             visible yet: use an earlier --since, a shorter --settle, or an explicit --until",
            args.since.as_ref().map(When::text).unwrap_or_default(),
            humantime::format_duration(args.settle)
        )));
    }
    DateRange::new(start, until)?;
    Ok(Request { args, since, until })
}

/// `now − settle`, the default end of a range.
fn settled(now: DateTime<Utc>, settle: Duration) -> Result<DateTime<Utc>, Failure> {
    TimeDelta::from_std(settle)
        .ok()
        .and_then(|settle| now.checked_sub_signed(settle))
        .filter(|end| end.year() >= 0)
        .ok_or_else(|| {
            Failure::usage(format!(
                "--settle {} reaches back too far: the earliest moment is 0000-01-01",
                humantime::format_duration(settle)
            ))
        })
}

/// Runs `entries` with the output format `--format` asked for (if any).
pub async fn run(
    log: &ActivityLog,
    request: Request<'_>,
    format: Option<Format>,
) -> Result<(), Failure> {
    let Request { args, since, until } = request;
    let format = Format::choose(format, args.out.as_deref(), std::io::stdout().is_terminal());
    let filter = args.filters.to_filter();

    let mut base = log.entries(args.contract).settle(args.settle);
    if let Some(size) = args.page_size {
        base = base.page_size(size);
    }
    if let Some(pages) = args.concurrency {
        base = base.concurrency(usize::from(pages));
    }
    let mut asked = base.clone();
    if let Some(since) = since {
        asked = asked.since(since);
    }
    asked = asked.until(until);
    let range = asked.range()?;

    let job = Job {
        contract: args.contract,
        since: args.since.as_ref().map(|w| w.text().to_string()),
        until: args.until.as_ref().map(|w| w.text().to_string()),
        format,
        filter: filter.clone(),
    };
    let Opened {
        mut output,
        resumed,
    } = match &args.out {
        None => Opened {
            output: Output::stdout(),
            resumed: None,
        },
        Some(path) => Output::file(path, args.resume, &job, range.since(), range.until())?,
    };
    let (start, end, written) = match &resumed {
        Some(checkpoint) => (checkpoint.through, checkpoint.until, checkpoint.events),
        None => (range.since(), range.until(), 0),
    };
    let mut writer = EventWriter::new(format, written, Table::terminal_width());
    if resumed.is_none() {
        if let Err(error) = writer.begin(&mut output) {
            return Err(write_failure(&output, args.out.as_deref(), error));
        }
        output.checkpoint(start, 0)?;
    }
    tracing::info!(contract = args.contract, since = %start, until = %end, format = format.name(), "downloading");

    let bar = progress::bar(args.out.is_some());
    let outcome = if start < end {
        let entries = base
            .since(DateBound::Instant(start))
            .until(DateBound::Instant(end));
        if !bar.is_hidden()
            && let Ok(total) = entries.count().await
        {
            bar.set_length(total);
        }
        download(
            entries,
            &mut output,
            &mut writer,
            &filter,
            format,
            &bar,
            start,
        )
        .await
    } else {
        Ok(Progress {
            through: end,
            fetched: 0,
            undecodable: 0,
        })
    };
    bar.finish_and_clear();

    let progress = match outcome {
        Ok(progress) => progress,
        Err((stop, progress)) => {
            let missing = format!(
                "entries of contract {} from {} to {} were not fetched",
                args.contract,
                progress
                    .through
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
                end.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            );
            let stdout = output.is_stdout();
            let note = output.abandon();
            let tail = |message: String| match note {
                Some(note) => format!("{message}; {note}"),
                None => message,
            };
            return Err(match stop {
                Stop::Interrupted => Failure::other(tail(format!("interrupted: {missing}"))),
                Stop::Write(failure) if failure.code() == 0 => failure,
                Stop::Write(failure) => Failure::other(tail(format!("{failure}; {missing}"))),
                Stop::Download(error) => {
                    let partial = progress.fetched > 0 || progress.through > start;
                    let said = matches!(error, Error::Incomplete { .. });
                    let message = match (partial && stdout, said) {
                        (true, true) => format!("{error}; the output above is incomplete"),
                        (true, false) => {
                            format!("{error}; {missing}: the output above is incomplete")
                        }
                        _ => error.to_string(),
                    };
                    let failure = Failure::from(error);
                    let message = tail(message);
                    if failure.code() == crate::error::EXIT_USAGE {
                        Failure::usage(message)
                    } else {
                        Failure::other(message)
                    }
                }
            });
        }
    };

    if let Err(error) = writer.finish(&mut output) {
        return Err(write_failure(&output, args.out.as_deref(), error));
    }
    output.commit()?;
    if progress.undecodable > 0 {
        eprintln!(
            "warning: {} entries could not be decoded and are not in the {} output; \
             --format ndjson without filters keeps every entry as sent",
            progress.undecodable,
            format.name()
        );
    }
    tracing::info!(
        fetched = progress.fetched,
        written = writer.written(),
        "done"
    );
    if let Some(path) = &args.out
        && std::io::stderr().is_terminal()
    {
        eprintln!("wrote {} entries to {}", writer.written(), path.display());
    }
    Ok(())
}

/// Resolves a `WHEN` argument against the command's `now`.
fn resolve(when: Option<&When>, now: DateTime<Utc>) -> Result<Option<DateBound>, Failure> {
    when.map(|w| w.resolve(now).map_err(Failure::usage))
        .transpose()
}

fn write_failure(output: &Output, path: Option<&Path>, error: std::io::Error) -> Failure {
    match (output, path) {
        (Output::File(file), _) => crate::export::io_failure(file.part(), error),
        (Output::Stdout(_), _) => stdout_failure(error),
    }
}

/// Streams the download into `output`, checkpointing after every completed
/// stretch of time, until done, failed or interrupted.
async fn download(
    entries: Entries,
    output: &mut Output,
    writer: &mut EventWriter,
    filter: &Filter,
    format: Format,
    bar: &ProgressBar,
    start: DateTime<Utc>,
) -> Result<Progress, (Stop, Progress)> {
    let decode = format.needs_decoding() || !filter.is_empty();
    let mut progress = Progress {
        through: start,
        fetched: 0,
        undecodable: 0,
    };
    let mut updates = entries.updates();
    let interrupt = tokio::signal::ctrl_c();
    tokio::pin!(interrupt);
    loop {
        let update = tokio::select! {
            update = updates.next() => update,
            _ = &mut interrupt => return Err((Stop::Interrupted, progress)),
        };
        match update {
            None => return Ok(progress),
            Some(Err(error)) => return Err((Stop::Download(error), progress)),
            Some(Ok(Update::Events(events))) => {
                progress.fetched += events.len() as u64;
                bar.inc(events.len() as u64);
                for event in &events {
                    let activity = if decode {
                        match event.decode() {
                            Ok(activity) => Some(activity),
                            Err(error) => {
                                tracing::debug!(%error, "an entry could not be decoded");
                                progress.undecodable += 1;
                                continue;
                            }
                        }
                    } else {
                        None
                    };
                    if let Some(activity) = &activity
                        && !filter.matches(activity)
                    {
                        continue;
                    }
                    if let Err(error) = writer.write(output, event, activity.as_ref()) {
                        let failure = match output {
                            Output::File(file) => crate::export::io_failure(file.part(), error),
                            Output::Stdout(_) => stdout_failure(error),
                        };
                        return Err((Stop::Write(failure), progress));
                    }
                }
            }
            Some(Ok(Update::Completed { through })) => {
                if let Err(failure) = output.checkpoint(through, writer.written()) {
                    return Err((Stop::Write(failure), progress));
                }
                tracing::debug!(%through, written = writer.written(), "checkpoint");
                progress.through = through;
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
