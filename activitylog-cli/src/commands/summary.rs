//! `activitylog summary`: count a range's entries by keys as they stream in,
//! then show the groups (table, JSON, CSV, NDJSON), bars on a terminal, and
//! write the `--chart` SVG and the `--html` report.
//!
//! The counting ([`activitylog_client::summary`], through
//! [`counting::count`]) takes the API download or an archive's entries
//! alike.

use std::io::{self, IsTerminal, Write};

use activitylog_client::summary::{Facts, Group, Key, Summary};
use activitylog_client::{ActivityLog, DateBound, DateRange, RangeError, RangeRule};
use chrono::{DateTime, SubsecRound, Utc};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Map, Value};

use crate::args::{Global, SummaryArgs};
use crate::counting;
use crate::error::{EXIT_USAGE, Failure, stdout_failure};
use crate::export::{Halt, Output, WholeFile, Writer};
use crate::omitted::Omitted;
use crate::output::records::Records;
use crate::output::table::Table;
use crate::output::zone::Zone;
use crate::output::{Format, chart, csv, ndjson};
use crate::progress;
use crate::reader::{self, Reader};
use crate::report::{self, Sections, Timeline, bucket_for, summary_in};
use crate::signals::Signals;
use crate::text::rfc3339;

/// The checked arguments of one `summary` run, its files opened.
#[derive(Debug)]
struct Request<'a> {
    args: &'a SummaryArgs,
    range: DateRange,
    chart: Option<WholeFile>,
    html: Option<WholeFile>,
}

/// Resolves the range and opens the `--chart`/`--html` files, before any
/// connection is made (usage errors come first).
fn prepare(args: &SummaryArgs) -> Result<Request<'_>, Failure> {
    prepare_at(args, Utc::now().trunc_subsecs(0))
}

fn prepare_at(args: &SummaryArgs, now: DateTime<Utc>) -> Result<Request<'_>, Failure> {
    let range = range_at(args, now)?;
    let chart = args
        .chart
        .as_deref()
        .map(|path| WholeFile::create(path, "--chart"))
        .transpose()?;
    let html = args
        .html
        .as_deref()
        .map(|path| WholeFile::create(path, "--html"))
        .transpose()?;
    Ok(Request {
        args,
        range,
        chart,
        html,
    })
}

/// The range of `--since`/`--until` against `now`, by the SDK's
/// [`RangeRule`]; from an archive (`--db`), all of it by default.
fn range_at(args: &SummaryArgs, now: DateTime<Utc>) -> Result<DateRange, Failure> {
    let (since, until) = args.range.bounds(now)?;
    // An archive has no 90-day limit: by default, all of it.
    let since = match (since, &args.archive.db) {
        (None, Some(_)) => Some(DateBound::Instant(DateTime::UNIX_EPOCH)),
        (since, _) => since,
    };
    RangeRule::new(args.download.settle)
        .resolve(since, until, now)
        .map_err(|error| match error {
            RangeError::NotSettled { .. } => Failure::usage(format!(
                "--since is less than --settle {} ago, and entries that young may not be \
                 visible yet: use an earlier --since, a shorter --settle, or an explicit --until",
                humantime::format_duration(args.download.settle)
            )),
            other => args.range.refusal(other, args.download.settle),
        })
}

/// Everything one run counts: the groups asked for, and what the bars,
/// the chart and the report need.
#[derive(Debug)]
pub struct Tallies {
    /// Grouped by `--by`.
    pub main: Summary,
    /// Grouped by the bucket and status (bars, chart, report).
    pub timeline: Option<Summary>,
    /// The report's tables.
    pub sections: Option<Sections>,
}

impl Tallies {
    fn add(&mut self, facts: &Facts) {
        self.main.add(facts);
        if let Some(timeline) = &mut self.timeline {
            timeline.add(facts);
        }
        if let Some(sections) = &mut self.sections {
            sections.add(facts);
        }
    }
}

/// Runs `summary`: checks the arguments, opens the API or the archive,
/// and counts the contracts asked for.
pub async fn run(global: &Global, args: &SummaryArgs, signals: &Signals) -> Result<(), Failure> {
    let request = prepare(args)?;
    let (reader, contracts) = signals
        .or_stop(Reader::open(global, &args.archive, &args.contracts))
        .await?;
    count_all(&reader, request, &contracts, global.format, signals).await
}

/// Reads the range of each contract in turn (from the API or an archive),
/// counts them together, writes the results.
async fn count_all(
    reader: &Reader,
    request: Request<'_>,
    contracts: &[u64],
    format: Option<Format>,
    signals: &Signals,
) -> Result<(), Failure> {
    let Request {
        args,
        range,
        chart,
        html,
    } = request;
    // Resolved once: by the service's clock when reading the API; an
    // archive's range ends at its completeness mark.
    let range = match reader {
        Reader::Api(connection) => {
            range_at(args, crate::clock::service_now(&connection.log).await)?
        }
        Reader::Archive(archive) => {
            let range = reader::archive_range(
                archive,
                contracts,
                range.since(),
                range.until(),
                args.range.until.is_some(),
                args.partial,
            )
            .await?;
            if args.range.since.is_some() {
                reader::untimed_left_out(archive, contracts).await?;
            }
            range
        }
    };
    let terminal = std::io::stdout().is_terminal();
    let format = Format::choose(format, None, terminal);
    let zone = args.zone();
    let keys = &args.by.0;
    let bucket = bucket_for(keys, &range);
    let bars = terminal && format == Format::Table && keys.iter().any(|k| k.is_time());
    let mut tallies = Tallies {
        main: summary_in(keys.iter().copied(), zone),
        timeline: (bars || chart.is_some() || html.is_some())
            .then(|| summary_in([bucket, Key::Status], zone)),
        sections: html.is_some().then(|| Sections::new(zone)),
    };
    // Entries a filter could not check (they do not decode).
    let mut omitted = Omitted::default();

    let entries_of = |log: &ActivityLog, contract: u64| {
        args.download
            .entries(log, contract)
            .since(range.since())
            .until(range.until())
    };
    let filter = args.filters.to_filter();
    let query = filter.query();
    let bar = progress::bar();
    let work = async {
        for &contract in contracts {
            let events = match reader {
                Reader::Api(connection) => {
                    let entries = entries_of(&connection.log, contract);
                    if !bar.is_hidden()
                        && let Ok(total) = entries.count().await
                    {
                        bar.inc_length(total);
                    }
                    entries.raw().map_err(Failure::from).boxed()
                }
                // Entries without a readable time are in no range: counted
                // too when the range has no start.
                Reader::Archive(archive) => {
                    let untimed = args.range.since.is_none();
                    reader::archived_events(archive, contract, &range, untimed, &query).boxed()
                }
            };
            let events = events.inspect_ok(|_| bar.inc(1));
            counting::count(events, &filter, &mut omitted, |facts| tallies.add(facts)).await?;
        }
        Ok::<(), Failure>(())
    };
    let outcome = tokio::select! {
        biased;
        caught = signals.caught() => {
            bar.finish_and_clear();
            return Err(caught.failure("nothing was counted to the end; no summary was written"));
        }
        outcome = work => outcome,
    };
    bar.finish_and_clear();
    if let Err(failure) = outcome {
        let message = format!("{failure}; no summary was written");
        return Err(match failure.code() {
            EXIT_USAGE => Failure::usage(message),
            _ => Failure::other(message),
        });
    }

    let (events, failed) = (tallies.main.events(), tallies.main.failed());
    let keys = tallies.main.keys().to_vec();
    let order = tallies.main.order();
    let mut groups = tallies.main.into_groups();
    let total_groups = groups.len();
    if let Some(top) = args.top {
        // The largest groups, shown in the summary's order (a timeline's in time order).
        groups.sort_by(Group::rank);
        groups.truncate(usize::try_from(top).unwrap_or(usize::MAX));
        groups.sort_by(order);
    }
    let timeline = tallies
        .timeline
        .as_ref()
        .map(|summary| Timeline::of(summary, bucket, zone));
    let meta = report::Meta {
        contracts: contracts.to_vec(),
        since: range.since(),
        until: range.until(),
        zone,
        entries: events,
        failed,
    };
    if let (Some(file), Some(timeline)) = (chart, &timeline) {
        file.commit(report::svg::render(timeline, &meta).as_bytes())?;
    }
    if let (Some(file), Some(timeline), Some(sections)) = (html, &timeline, &tallies.sections) {
        file.commit(report::html::render(timeline, sections, &meta).as_bytes())?;
    }

    // Written on the writer's thread, so that a stdout nobody reads does not
    // keep a signal from ending the run.
    let mut stdout = Writer::start(Output::stdout(), None, signals);
    let written = write_groups(&mut stdout, &keys, &groups, events, format, zone)
        .and_then(|()| {
            if format != Format::Table {
                return Ok(());
            }
            let shown = match args.top {
                Some(_) if groups.len() < total_groups => {
                    format!("; the top {} shown", groups.len())
                }
                _ => String::new(),
            };
            writeln!(
                stdout,
                "{events} entries ({failed} failed) in {total_groups} groups{shown}"
            )?;
            match (&timeline, bars) {
                (Some(timeline), true) => {
                    let rows = timeline.totals();
                    writeln!(stdout, "\nentries per {} ({})", bucket.name(), zone.label())?;
                    stdout.write_all(chart::bars(&rows, Table::terminal_width()).as_bytes())
                }
                _ => Ok(()),
            }
        })
        .and_then(|()| stdout.flush());
    written.map_err(stdout_failure)?;
    match stdout.commit(0, &Omitted::default()).await {
        Ok(()) => {}
        Err(Halt::Failed(failure)) => return Err(failure),
        Err(Halt::Signal(caught)) => {
            return Err(caught.failure("the summary above is incomplete"));
        }
    }
    if !omitted.is_empty() {
        return Err(omitted.failure(Format::Ndjson, "the summary"));
    }
    Ok(())
}

/// Writes the groups in `format`, one at a time but for the table (whose
/// column widths need every row): the keys under their `--by` names, then
/// count, (share in the table), failed, first and last.
fn write_groups(
    out: &mut impl Write,
    keys: &[Key],
    groups: &[Group],
    events: u64,
    format: Format,
    zone: Zone,
) -> io::Result<()> {
    match format {
        Format::Table => {
            let mut columns: Vec<&'static str> = keys.iter().map(|k| header(*k)).collect();
            columns.extend(["COUNT", "SHARE", "FAILED", "FIRST", "LAST"]);
            let rows = groups
                .iter()
                .map(|group| cells(group, Some(events), zone))
                .collect();
            let records = Records {
                columns,
                rows,
                json: Vec::new(),
            };
            records.write(out, Format::Table, false)
        }
        Format::Csv => {
            let mut header: Vec<&str> = keys.iter().map(|k| k.name()).collect();
            header.extend(["count", "failed", "first", "last"]);
            writeln!(out, "{}", header.join(","))?;
            for group in groups {
                let row: Vec<String> = cells(group, None, Zone::Utc)
                    .iter()
                    .map(|cell| csv::quote(cell).into_owned())
                    .collect();
                writeln!(out, "{}", row.join(","))?;
            }
            Ok(())
        }
        Format::Ndjson => {
            for group in groups {
                ndjson::write_line(out, &object(keys, group).to_string())?;
            }
            Ok(())
        }
        Format::Json => {
            out.write_all(b"[")?;
            for (i, group) in groups.iter().enumerate() {
                out.write_all(if i == 0 { b"\n  " } else { b",\n  " })?;
                serde_json::to_writer(&mut *out, &object(keys, group))?;
            }
            out.write_all(if groups.is_empty() { b"]\n" } else { b"\n]\n" })
        }
        Format::Parquet => Err(io::Error::other(
            "parquet is a format of entries (`entries --out FILE.parquet`)",
        )),
    }
}

/// A group's cells: its values, count, share of `events` (the table),
/// failed, first and last (in `zone`, to the second, in the table; RFC 3339
/// UTC otherwise). A missing value is `-` in the table, empty in CSV.
fn cells(group: &Group, share_of: Option<u64>, zone: Zone) -> Vec<String> {
    let table = share_of.is_some();
    let mut row: Vec<String> = group
        .values
        .iter()
        .map(|v| match (v, table) {
            (Some(v), _) => v.clone(),
            (None, true) => "-".to_string(),
            (None, false) => String::new(),
        })
        .collect();
    row.push(group.count.to_string());
    if let Some(events) = share_of {
        let share = group.count as f64 * 100.0 / events.max(1) as f64;
        row.push(format!("{share:.1}%"));
    }
    row.push(group.failed.to_string());
    for time in [group.first, group.last] {
        let text = time.map(rfc3339).unwrap_or_default();
        row.push(if table { zone.short(&text) } else { text });
    }
    row
}

/// A group as JSON: the keys under their `--by` names (`null` when
/// missing), then count, failed, first and last.
fn object(keys: &[Key], group: &Group) -> Value {
    let mut object = Map::new();
    for (key, value) in keys.iter().zip(&group.values) {
        object.insert(key.name().to_string(), value.clone().into());
    }
    object.insert("count".into(), group.count.into());
    object.insert("failed".into(), group.failed.into());
    object.insert("first".into(), group.first.map(rfc3339).into());
    object.insert("last".into(), group.last.map(rfc3339).into());
    Value::Object(object)
}

fn header(key: Key) -> &'static str {
    match key {
        Key::User => "USER",
        Key::Type => "TYPE",
        Key::Status => "STATUS",
        Key::Method => "METHOD",
        Key::ResourceType => "RESOURCE-TYPE",
        Key::Action => "ACTION",
        Key::SourceIp => "SOURCE-IP",
        Key::Service => "SERVICE",
        Key::Day => "DAY",
        Key::Hour => "HOUR",
    }
}

#[cfg(test)]
mod tests {
    use activitylog_client::RawEvent;
    use clap::Parser;

    use super::*;
    use crate::args::{Cli, Command};

    fn args(words: &[&str]) -> SummaryArgs {
        let cli = Cli::try_parse_from(["activitylog", "summary", "1"].iter().chain(words)).unwrap();
        match cli.command {
            Command::Summary(args) => args,
            _ => unreachable!(),
        }
    }

    #[test]
    fn keys_are_required_and_unknown_ones_are_refused() {
        assert!(Cli::try_parse_from(["activitylog", "summary", "1"]).is_err());
        let error = Cli::try_parse_from(["activitylog", "summary", "1", "--by", "user,colour"])
            .unwrap_err();
        let message = crate::error::clap_message(&error);
        assert!(message.contains("`colour` is not a key"), "{message}");
        assert!(message.contains("resource-type"), "{message}");
        assert_eq!(args(&["--by", "user,day"]).by.0, [Key::User, Key::Day]);
    }

    #[test]
    fn an_unwritable_chart_is_a_usage_error_before_anything_is_fetched() {
        let args = args(&[
            "--by",
            "day",
            "--chart",
            "/nonexistent-dir/x.svg",
            "--since",
            "2024-01-01",
            "--until",
            "2024-01-02",
        ]);
        let failure = prepare(&args).unwrap_err();
        assert_eq!(failure.code(), crate::error::EXIT_USAGE);
        assert!(
            failure
                .message()
                .starts_with("--chart `/nonexistent-dir/x.svg` cannot be written")
        );
    }

    #[test]
    fn every_format_holds_keys_counts_and_utc_times() {
        let mut summary = Summary::new([Key::User, Key::Day]);
        for json in [
            r#"{"principal":{"identity":{"username":"a,b"}},"meta":{"time":"2024-05-01T10:00:00Z"},"event":{"status":"FAILED"}}"#,
            r#"{"meta":{"time":"2024-05-01T11:00:00.5Z"}}"#,
        ] {
            summary.add_event(&RawEvent::parse(json).unwrap());
        }
        let keys = summary.keys().to_vec();
        let groups = summary.groups();
        let render = |format: Format| {
            let mut out = Vec::new();
            write_groups(&mut out, &keys, &groups, 2, format, Zone::Utc).unwrap();
            String::from_utf8(out).unwrap()
        };
        let json: Value = serde_json::from_str(&render(Format::Json)).unwrap();
        assert_eq!(
            json[0],
            serde_json::json!({"user": "a,b", "day": "2024-05-01", "count": 1, "failed": 1,
                               "first": "2024-05-01T10:00:00Z", "last": "2024-05-01T10:00:00Z"})
        );
        assert_eq!(json[1]["user"], Value::Null);
        assert_eq!(json[1]["first"], "2024-05-01T11:00:00.500Z");
        let lines: Vec<Value> = render(Format::Ndjson)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(Value::Array(lines), json);
        assert_eq!(
            render(Format::Csv),
            "user,day,count,failed,first,last\n\
             \"a,b\",2024-05-01,1,1,2024-05-01T10:00:00Z,2024-05-01T10:00:00Z\n\
             ,2024-05-01,1,0,2024-05-01T11:00:00.500Z,2024-05-01T11:00:00.500Z\n"
        );
        let table = render(Format::Table);
        let lines: Vec<&str> = table.lines().collect();
        assert!(
            lines[0].starts_with("USER  DAY         COUNT  SHARE  FAILED  FIRST"),
            "{table}"
        );
        assert!(
            lines[2].starts_with("-     2024-05-01  1      50.0%  0"),
            "{table}"
        );
        let empty = {
            let mut out = Vec::new();
            write_groups(&mut out, &keys, &[], 0, Format::Json, Zone::Utc).unwrap();
            out
        };
        assert_eq!(
            serde_json::from_slice::<Value>(&empty).unwrap(),
            serde_json::json!([])
        );
    }
}
