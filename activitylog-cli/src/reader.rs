//! Where `entries` and `summary` read from: the API (connected as
//! configured) or what `sync` stored (`--db`, offline: an archive or a
//! lake), and which contracts.

use activitylog_archive::Query;
use activitylog_client::{DateBound, DateRange, RawEvent, Update};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt, TryStreamExt};

use crate::args::{ArchiveArgs, ContractArgs, Global};
use crate::connect::{self, Connection};
use crate::error::Failure;
use crate::stored::Stored;
use crate::text::{list, rfc3339};
use crate::which_contracts;

/// What a reading command holds open while it runs (one per run: its size
/// does not matter).
#[allow(clippy::large_enum_variant)]
pub enum Reader {
    /// The API, with what connecting made (a `--sandbox` included).
    Api(Connection),
    /// An archive or a lake written by `activitylog sync`.
    Archive(Stored),
}

impl Reader {
    /// Opens the archive or lake `--db` names, else connects to the API;
    /// then picks the contracts `asked` names from those it holds or can read.
    pub async fn open(
        global: &Global,
        db: &ArchiveArgs,
        asked: &ContractArgs,
    ) -> Result<(Reader, Vec<u64>), Failure> {
        match db.db.as_deref() {
            Some(url) => {
                let archive = Stored::open(url, db).await?;
                let chosen = which_contracts::in_archive(asked, &archive).await?;
                Ok((Reader::Archive(archive), chosen))
            }
            None => {
                let connection = connect::connect(global).await?;
                let chosen = which_contracts::readable_by(asked, &connection).await?;
                Ok((Reader::Api(connection), chosen))
            }
        }
    }
}

/// An archive's entries of `[start, end)` as a download's updates: pages
/// in time order, then (with `untimed`) the entries without a readable
/// time, in `@uuid` order, then the whole range complete. The archive
/// skips what `query` rules out; the caller's filter still runs on the rest.
pub fn archived_updates<'a>(
    archive: &'a Stored,
    contract: u64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    untimed: bool,
    query: &Query,
) -> impl Stream<Item = Result<Update, Failure>> + 'a {
    let untimed = if untimed {
        archive.untimed_where(contract, query).boxed()
    } else {
        futures::stream::empty().boxed()
    };
    archive
        .pages_where(contract, start, end, query)
        .chain(untimed)
        .map_ok(Update::Events)
        .chain(futures::stream::once(async move {
            Ok(Update::Completed { through: end })
        }))
}

/// An archive's entries of `range`, one at a time, then (with `untimed`)
/// the entries without a readable time; narrowed by `query` as above.
pub fn archived_events<'a>(
    archive: &'a Stored,
    contract: u64,
    range: &DateRange,
    untimed: bool,
    query: &Query,
) -> impl Stream<Item = Result<RawEvent, Failure>> + 'a {
    let untimed = if untimed {
        archive
            .untimed_where(contract, query)
            .map_ok(|page| futures::stream::iter(page.into_iter().map(Ok)))
            .try_flatten()
            .boxed()
    } else {
        futures::stream::empty().boxed()
    };
    archive
        .pages_where(contract, range.since(), range.until(), query)
        .map_ok(|page| futures::stream::iter(page.into_iter().map(Ok)))
        .try_flatten()
        .chain(untimed)
}

/// An archive read of `contracts` as asked (`start`, and `until`: given
/// with `--until` when `explicit`, else the open end), held to what the
/// archive holds completely: each contract's completeness mark
/// ([`Archive::through`]).
///
/// - Without `--until`, the range ends at the earliest mark, and stderr
///   says so, with the sync that reads further.
/// - A range past a mark (a later `--until`, or a `--since` at or after
///   the mark) exits 1 naming the mark and the sync that fills it; with
///   `partial`, the range is read as asked and stderr says what is missing.
/// - A contract no sync completed a window of (no mark): exits 1, or with
///   `partial` is read as asked.
pub async fn archive_range(
    archive: &Stored,
    contracts: &[u64],
    start: DateTime<Utc>,
    until: DateTime<Utc>,
    explicit: bool,
    partial: bool,
) -> Result<DateRange, Failure> {
    let (kind, location) = (archive.kind(), archive.location());
    let sync = |contracts: &[u64]| {
        let numbers: Vec<String> = contracts.iter().map(u64::to_string).collect();
        format!("activitylog sync {} --db {location}", numbers.join(" "))
    };
    let mut marks = Vec::with_capacity(contracts.len());
    for &contract in contracts {
        let mark = archive.through(contract).await?;
        marks.push((contract, mark));
    }
    let refuse = |what: String| {
        Failure::other(format!(
            "{what}; or add --partial to read what the {kind} holds"
        ))
    };
    if let Some(&(contract, _)) = marks.iter().find(|(_, mark)| mark.is_none())
        && !partial
    {
        return Err(refuse(format!(
            "the {kind} {location} holds entries of contract {contract}, but no sync of it \
             completed: run `{}` to complete it",
            sync(&[contract])
        )));
    }
    let earliest = marks.iter().filter_map(|(_, mark)| *mark).min();
    let end = match earliest {
        Some(mark) if !explicit && !partial => {
            if start >= mark {
                return Err(refuse(format!(
                    "the {kind} {location} is complete through {} for contract{} {}, and the \
                     range starts at {}: run `{}` for later entries",
                    rfc3339(mark),
                    if contracts.len() > 1 { "s" } else { "" },
                    list(contracts),
                    rfc3339(start),
                    sync(contracts)
                )));
            }
            eprintln!(
                "complete through {}: the {kind} {location} holds every entry of contract{} {} \
                 before it; run `{}` for later entries",
                rfc3339(mark),
                if contracts.len() > 1 { "s" } else { "" },
                list(contracts),
                sync(contracts)
            );
            mark
        }
        _ => {
            let behind: Vec<(u64, Option<DateTime<Utc>>)> = marks
                .iter()
                .copied()
                .filter(|(_, mark)| mark.is_none_or(|mark| mark < until))
                .collect();
            if let Some(&(contract, Some(mark))) = behind.first()
                && !partial
            {
                return Err(refuse(format!(
                    "the {kind} {location} is complete through {} for contract {contract}, \
                     before the end of the range, {}: run `{}` to fill it",
                    rfc3339(mark),
                    rfc3339(until),
                    sync(&[contract])
                )));
            }
            for (contract, mark) in behind {
                let from = mark.map_or(start, |mark| mark.max(start));
                eprintln!(
                    "--partial: the {kind} {location} is complete through {} for contract \
                     {contract}: entries from {} to {} may be missing; run `{}` to fill them",
                    mark.map_or_else(|| "no instant".to_string(), rfc3339),
                    rfc3339(from),
                    rfc3339(until),
                    sync(&[contract])
                );
            }
            until
        }
    };
    Ok(DateRange::new(
        DateBound::Instant(start),
        DateBound::Instant(end),
    )?)
}

/// Says on stderr how many entries of `contracts` without a readable time
/// a range read leaves out (they are in no range; a read without --since
/// has them).
pub async fn untimed_left_out(archive: &Stored, contracts: &[u64]) -> Result<(), Failure> {
    let location = archive.location();
    for &contract in contracts {
        let count = archive.untimed_count(contract).await?;
        if count > 0 {
            eprintln!(
                "{count} entr{} of contract {contract} in {location} ha{} no readable time and \
                 {} in no range: left out; without --since they are read too (last)",
                if count == 1 { "y" } else { "ies" },
                if count == 1 { "s" } else { "ve" },
                if count == 1 { "is" } else { "are" },
            );
        }
    }
    Ok(())
}
