//! Reading of an object only the entries a read may keep: the columns of
//! [`crate::row`] decide which rows can match before their `raw` is read.
//!
//! - Row groups are skipped by their column chunk statistics: a time range
//!   outside the read's, a user, type, status or request id whose min/max
//!   leave out every value asked (unless the group holds an entry the SDK
//!   cannot decode), a `@uuid` outside min/max.
//! - In the row groups left, predicates on the filter columns (Parquet's
//!   row filter) select the rows, and `raw` is decoded and parsed for those
//!   rows alone.
//!
//! A sync writes each day's entries ordered by user, in row groups of 128
//! (`sync::by_user`, `codec::encode`), so that a user's entries share a
//! few row groups and the others' min and max leave that user out.
//!
//! The narrowing keeps a superset, as an archive's does
//! ([`Query`]): every entry that matches, compared as the CLI compares
//! (ASCII case ignored), every entry the SDK cannot decode (`undecodable`),
//! and the caller's own filter decides.

use std::fmt;

use activitylog_client::{Query, RawEvent};
use arrow_array::cast::AsArray;
use arrow_array::types::TimestampMicrosecondType;
use arrow_array::{Array, BooleanArray, RecordBatch, StringArray};
use arrow_schema::ArrowError;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowPredicate, ArrowPredicateFn, ParquetRecordBatchReaderBuilder, RowFilter,
};
use parquet::file::metadata::RowGroupMetaData;
use parquet::file::statistics::Statistics;

use crate::row::{RAW, TIME, UUID};
use crate::{Error, Result};

/// The `undecodable` column.
const UNDECODABLE: &str = "undecodable";
/// The `resources` column.
const RESOURCES: &str = "resources";

/// What a read of objects keeps.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wanted<'a> {
    /// The hints.
    pub query: &'a Query,
    /// Entries with a time in `[start, end)` (`None`: any time, or none).
    pub range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// The entry with this `@uuid` alone.
    pub uuid: Option<&'a str>,
}

/// What reads of objects did: rows in the objects, rows whose `raw` was
/// read, row groups skipped by their statistics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scanned {
    pub objects: u64,
    pub rows: u64,
    pub parsed: u64,
    pub row_groups: u64,
    pub skipped_row_groups: u64,
}

impl std::ops::AddAssign for Scanned {
    fn add_assign(&mut self, other: Scanned) {
        self.objects += other.objects;
        self.rows += other.rows;
        self.parsed += other.parsed;
        self.row_groups += other.row_groups;
        self.skipped_row_groups += other.skipped_row_groups;
    }
}

impl fmt::Display for Scanned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read {} of {} entries in {} object{} ({} of {} row groups skipped by their statistics)",
            self.parsed,
            self.rows,
            self.objects,
            if self.objects == 1 { "" } else { "s" },
            self.skipped_row_groups,
            self.row_groups
        )
    }
}

/// The entries of the Parquet object `file` that `wanted` may keep, in
/// file order.
pub(crate) fn read(file: Bytes, wanted: &Wanted<'_>) -> Result<(Vec<RawEvent>, Scanned)> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let metadata = std::sync::Arc::clone(builder.metadata());
    let mut scanned = Scanned {
        objects: 1,
        rows: metadata.file_metadata().num_rows().max(0) as u64,
        row_groups: metadata.num_row_groups() as u64,
        ..Scanned::default()
    };
    let bounds = wanted.range.map(micros);
    let kept: Vec<usize> = (0..metadata.num_row_groups())
        .filter(|&i| may_match(metadata.row_group(i), wanted, bounds))
        .collect();
    scanned.skipped_row_groups = scanned.row_groups - kept.len() as u64;
    if kept.is_empty() {
        return Ok((Vec::new(), scanned));
    }
    let inside = bounds.is_none_or(|bounds| {
        kept.iter()
            .all(|&i| time_within(metadata.row_group(i), bounds))
    });
    let schema = builder.schema().clone();
    let parquet = builder.parquet_schema();
    let root = |name: &str| {
        schema
            .index_of(name)
            .map_err(|_| Error::Schema(format!("no `{name}` column")))
    };
    let mask = |names: &[&str]| -> Result<ProjectionMask> {
        let roots = names.iter().map(|n| root(n)).collect::<Result<Vec<_>>>()?;
        Ok(ProjectionMask::roots(parquet, roots))
    };
    let mut predicates: Vec<Box<dyn ArrowPredicate>> = Vec::new();
    if let Some(uuid) = wanted.uuid {
        let uuid = uuid.to_string();
        predicates.push(Box::new(ArrowPredicateFn::new(
            mask(&[UUID])?,
            move |batch: RecordBatch| {
                let column = strings(&batch, UUID)?;
                Ok(column
                    .iter()
                    .map(|u| Some(u == Some(uuid.as_str())))
                    .collect())
            },
        )));
    }
    if let (Some((low, high)), false) = (bounds, inside) {
        predicates.push(Box::new(ArrowPredicateFn::new(
            mask(&[TIME])?,
            move |batch: RecordBatch| {
                let column = column(&batch, TIME)?.as_primitive::<TimestampMicrosecondType>();
                // An entry without a time column is kept: `raw` decides.
                Ok(column
                    .iter()
                    .map(|t| Some(t.is_none_or(|t| low <= t && t < high)))
                    .collect())
            },
        )));
    }
    for hint in hints(wanted.query) {
        let names = [UNDECODABLE, hint.column()];
        predicates.push(Box::new(ArrowPredicateFn::new(
            mask(&names)?,
            move |batch: RecordBatch| hint.select(&batch),
        )));
    }
    let raw = mask(&[RAW])?;
    let mut builder = builder.with_row_groups(kept).with_projection(raw);
    if !predicates.is_empty() {
        builder = builder.with_row_filter(RowFilter::new(predicates));
    }
    let mut events = Vec::new();
    for batch in builder.build()? {
        let batch = batch?;
        let raw = strings(&batch, RAW)?;
        for i in 0..raw.len() {
            if raw.is_null(i) {
                return Err(Error::Schema(format!("a null `{RAW}`")));
            }
            events.push(RawEvent::parse(raw.value(i))?);
        }
    }
    scanned.parsed = events.len() as u64;
    Ok((events, scanned))
}

/// `[start, end)` as microseconds that keep every entry of the range
/// (the column holds times truncated to microseconds).
fn micros((start, end): (DateTime<Utc>, DateTime<Utc>)) -> (i64, i64) {
    let low = start.timestamp_micros();
    let high = end.timestamp_micros();
    let high = if end.timestamp_subsec_nanos() % 1000 == 0 {
        high
    } else {
        high.saturating_add(1)
    };
    (low, high)
}

/// The column `name` of `batch`.
fn column<'b>(
    batch: &'b RecordBatch,
    name: &str,
) -> std::result::Result<&'b dyn Array, ArrowError> {
    batch
        .column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| ArrowError::SchemaError(format!("no `{name}` column")))
}

/// The string column `name` of `batch`.
fn strings<'b>(
    batch: &'b RecordBatch,
    name: &str,
) -> std::result::Result<&'b StringArray, ArrowError> {
    column(batch, name)?
        .as_string_opt::<i32>()
        .ok_or_else(|| ArrowError::SchemaError(format!("`{name}` is not a string")))
}

/// One list of a [`Query`], as a test of a row.
#[derive(Debug, Clone)]
enum Hint {
    /// The column's value is one of these.
    OneOf(&'static str, Vec<String>),
    /// The column's value is none of these (null passes).
    NoneOf(&'static str, Vec<String>),
    /// A resource's field (`type`, `id`) is one of these.
    Resource(&'static str, Vec<String>),
    /// A resource's `action` starts with one of these.
    ActionPrefix(Vec<String>),
}

/// The tests of `query`, the most selective first (each predicate reads
/// only the rows the ones before it kept).
fn hints(query: &Query) -> Vec<Hint> {
    let one_of = |name, values: &Vec<String>| Hint::OneOf(name, values.clone());
    let none_of = |name, values: &Vec<String>| Hint::NoneOf(name, values.clone());
    let candidates = [
        (&query.request_ids, one_of("request_id", &query.request_ids)),
        (
            &query.resource_ids,
            Hint::Resource("id", query.resource_ids.clone()),
        ),
        (&query.users, one_of("user", &query.users)),
        (&query.types, one_of("type", &query.types)),
        (&query.statuses, one_of("status", &query.statuses)),
        (
            &query.resource_types,
            Hint::Resource("type", query.resource_types.clone()),
        ),
        (
            &query.action_prefixes,
            Hint::ActionPrefix(query.action_prefixes.clone()),
        ),
        (&query.exclude_users, none_of("user", &query.exclude_users)),
        (&query.exclude_types, none_of("type", &query.exclude_types)),
    ];
    candidates
        .into_iter()
        .filter(|(values, _)| !values.is_empty())
        .map(|(_, hint)| hint)
        .collect()
}

fn one_of(values: &[String], value: &str) -> bool {
    values.iter().any(|v| v.eq_ignore_ascii_case(value))
}

fn starts_with_one_of(prefixes: &[String], text: &str) -> bool {
    prefixes.iter().any(|prefix| {
        text.len() >= prefix.len()
            && text.is_char_boundary(prefix.len())
            && text[..prefix.len()].eq_ignore_ascii_case(prefix)
    })
}

impl Hint {
    /// The root column it reads.
    fn column(&self) -> &'static str {
        match self {
            Hint::OneOf(name, _) | Hint::NoneOf(name, _) => name,
            Hint::Resource(..) | Hint::ActionPrefix(_) => RESOURCES,
        }
    }

    /// Which rows of `batch` (the hint's column and `undecodable`) may
    /// match: those that do, and those the SDK cannot decode.
    fn select(&self, batch: &RecordBatch) -> std::result::Result<BooleanArray, ArrowError> {
        let undecodable = column(batch, UNDECODABLE)?
            .as_boolean_opt()
            .ok_or_else(|| ArrowError::SchemaError(format!("`{UNDECODABLE}` is not boolean")))?;
        let passes: Vec<bool> = match self {
            Hint::OneOf(name, values) => strings(batch, name)?
                .iter()
                .map(|v| v.is_some_and(|v| one_of(values, v)))
                .collect(),
            Hint::NoneOf(name, values) => strings(batch, name)?
                .iter()
                .map(|v| v.is_none_or(|v| !one_of(values, v)))
                .collect(),
            Hint::Resource(field, values) => {
                resources(batch, field, |v| v.is_some_and(|v| one_of(values, v)))?
            }
            Hint::ActionPrefix(prefixes) => resources(batch, "action", |v| {
                v.is_some_and(|v| starts_with_one_of(prefixes, v))
            })?,
        };
        Ok(passes
            .into_iter()
            .enumerate()
            .map(|(i, pass)| Some(pass || undecodable.value(i)))
            .collect())
    }
}

/// For each row of `batch`, whether one of its `resources` has a `field`
/// that passes `test`.
fn resources(
    batch: &RecordBatch,
    field: &str,
    test: impl Fn(Option<&str>) -> bool,
) -> std::result::Result<Vec<bool>, ArrowError> {
    let list = column(batch, RESOURCES)?
        .as_list_opt::<i32>()
        .ok_or_else(|| ArrowError::SchemaError(format!("`{RESOURCES}` is not a list")))?;
    let elements = list
        .values()
        .as_struct_opt()
        .ok_or_else(|| ArrowError::SchemaError(format!("`{RESOURCES}` holds no structs")))?;
    let values = elements
        .column_by_name(field)
        .and_then(|c| c.as_string_opt::<i32>())
        .ok_or_else(|| ArrowError::SchemaError(format!("no `{RESOURCES}.{field}` string")))?;
    let offsets = list.value_offsets();
    Ok((0..list.len())
        .map(|row| {
            let (from, to) = (offsets[row] as usize, offsets[row + 1] as usize);
            !list.is_null(row)
                && (from..to).any(|i| test((!values.is_null(i)).then(|| values.value(i))))
        })
        .collect())
}

/// The statistics of the column `path` in `group`.
fn statistics<'g>(group: &'g RowGroupMetaData, path: &str) -> Option<&'g Statistics> {
    group
        .columns()
        .iter()
        .find(|c| c.column_path().string() == path)?
        .statistics()
}

/// Whether every time of `group` lies in `[low, high)` (microseconds).
fn time_within(group: &RowGroupMetaData, (low, high): (i64, i64)) -> bool {
    match statistics(group, TIME) {
        Some(Statistics::Int64(s)) => {
            s.null_count_opt() == Some(0)
                && s.min_opt().is_some_and(|&min| low <= min)
                && s.max_opt().is_some_and(|&max| max < high)
        }
        _ => false,
    }
}

/// Whether `group` may hold an entry `wanted` keeps, as its statistics say.
fn may_match(group: &RowGroupMetaData, wanted: &Wanted<'_>, bounds: Option<(i64, i64)>) -> bool {
    if let Some((low, high)) = bounds
        && let Some(Statistics::Int64(s)) = statistics(group, TIME)
        && let (Some(&min), Some(&max)) = (s.min_opt(), s.max_opt())
        && (max < low || min >= high)
        && s.null_count_opt() == Some(0)
    {
        return false;
    }
    if let Some(uuid) = wanted.uuid
        && !may_hold(group, UUID, |min, max| {
            min <= uuid.as_bytes() && uuid.as_bytes() <= max
        })
    {
        return false;
    }
    let undecodable = match statistics(group, UNDECODABLE) {
        Some(Statistics::Boolean(s)) => s.max_opt().is_none_or(|&max| max),
        _ => true,
    };
    if undecodable {
        return true;
    }
    let query = wanted.query;
    [
        ("user", &query.users),
        ("type", &query.types),
        ("status", &query.statuses),
        ("request_id", &query.request_ids),
    ]
    .into_iter()
    .filter(|(_, values)| !values.is_empty())
    .all(|(path, values)| {
        may_hold(group, path, |min, max| {
            values.iter().any(|v| {
                least_spelling_from(v.as_bytes(), min).is_some_and(|s| s.as_slice() <= max)
            })
        })
    })
}

/// The least spelling of `value` (ASCII letters in either case) that is
/// not below `min`, byte-wise; `None` when every spelling is below it.
fn least_spelling_from(value: &[u8], min: &[u8]) -> Option<Vec<u8>> {
    fn from(value: &[u8], min: &[u8], at: usize, out: &mut Vec<u8>) -> bool {
        if at == min.len() {
            // Equal to `min` so far, which ends here: the least rest.
            out.extend(value[at..].iter().map(u8::to_ascii_uppercase));
            return true;
        }
        let Some(&byte) = value.get(at) else {
            // A proper prefix of `min` is below it.
            return false;
        };
        let mut spellings = [byte.to_ascii_uppercase(), byte.to_ascii_lowercase()];
        spellings.sort_unstable();
        for (i, spelling) in spellings.into_iter().enumerate() {
            if i == 1 && spellings[0] == spelling {
                break;
            }
            if spelling > min[at] {
                out.push(spelling);
                out.extend(value[at + 1..].iter().map(u8::to_ascii_uppercase));
                return true;
            }
            if spelling == min[at] {
                out.push(spelling);
                if from(value, min, at + 1, out) {
                    return true;
                }
                out.pop();
            }
        }
        false
    }
    let mut out = Vec::with_capacity(value.len());
    from(value, min, 0, &mut out).then_some(out)
}

/// Whether the non-null values of `path` in `group` may hold one that
/// `fits` (given their min and max); `true` without statistics. A column
/// of nulls alone holds none.
fn may_hold(group: &RowGroupMetaData, path: &str, fits: impl Fn(&[u8], &[u8]) -> bool) -> bool {
    let Some(stats) = statistics(group, path) else {
        return true;
    };
    if stats.null_count_opt() == Some(group.num_rows().max(0) as u64) {
        return false;
    }
    match (stats.min_bytes_opt(), stats.max_bytes_opt()) {
        (Some(min), Some(max)) => fits(min, max),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EntryWriter, Limits};

    /// Entries in row groups of 4: (uuid, minute, user, type, request id,
    /// resources); `u-07` has a numeric status (the SDK cannot decode it).
    const ENTRIES: &[&str] = &[
        r#"{"@uuid":"u-00","meta":{"time":"2024-05-01T10:00:00Z","requestId":"REQ-A"},"principal":{"identity":{"username":"Alice@Example.COM"}},"event":{"type":"RequestAccepted","status":"DONE","resources":[{"type":"Server","id":"S-1","action":["vr.server.create"]}]}}"#,
        r#"{"@uuid":"u-01","meta":{"time":"2024-05-01T10:01:00Z","requestId":"req-b"},"principal":{"identity":{"username":"alice@example.com"}},"event":{"type":"Provision"}}"#,
        r#"{"@uuid":"u-02","meta":{"time":"2024-05-01T10:02:00Z"},"principal":{"identity":{"username":"bob@example.com"}},"event":{"type":"Provision","resources":[{"type":"nic","id":"n-2"},{"type":"lan","id":"s-1","action":["sec.x"]}]}}"#,
        r#"{"@uuid":"u-03","meta":{"time":"2024-05-01T10:03:00Z"},"principal":{}}"#,
        r#"{"@uuid":"u-04","meta":{"time":"2024-05-01T10:04:00Z"},"principal":{"identity":{"username":"carol@example.com"}}}"#,
        r#"{"@uuid":"u-05","meta":{"time":"2024-05-01T10:05:00Z"},"principal":{"identity":{"username":"carol@example.com"}}}"#,
        r#"{"@uuid":"u-06","meta":{"time":"2024-05-01T10:06:00Z"},"principal":{"identity":{"username":"dave@example.com"}}}"#,
        r#"{"@uuid":"u-07","meta":{"time":"2024-05-01T10:07:00Z"},"principal":{"identity":{"username":"dave@example.com"}},"event":{"status":7}}"#,
        r#"{"@uuid":"u-08","meta":{"time":"2024-05-01T10:08:00Z"},"principal":{"identity":{"username":"erin@example.com"}}}"#,
        r#"{"@uuid":"u-09","meta":{"time":"2024-05-01T10:09:00Z"},"principal":{"identity":{"username":"erin@example.com"}}}"#,
    ];

    fn file() -> Bytes {
        let limits = Limits {
            row_group_rows: 4,
            batch_rows: 2,
            ..Limits::default()
        };
        let mut writer = EntryWriter::with_limits(Vec::new(), limits).unwrap();
        for json in ENTRIES {
            writer.write(&RawEvent::parse(json).unwrap()).unwrap();
        }
        Bytes::from(writer.finish().unwrap())
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    fn time(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    /// The `@uuid`s read, and what the read did.
    fn read_with(
        query: Query,
        range: Option<(&str, &str)>,
        uuid: Option<&str>,
    ) -> (Vec<String>, Scanned) {
        let wanted = Wanted {
            query: &query,
            range: range.map(|(s, e)| (time(s), time(e))),
            uuid,
        };
        let (events, scanned) = read(file(), &wanted).unwrap();
        let uuids = events
            .iter()
            .map(|e| e.uuid().unwrap().into_owned())
            .collect();
        (uuids, scanned)
    }

    #[test]
    fn only_rows_that_may_match_are_parsed_and_undecodable_ones_always() {
        let all = read_with(Query::default(), None, None);
        assert_eq!(all.0.len(), 10);
        assert_eq!((all.1.parsed, all.1.rows, all.1.row_groups), (10, 10, 3));
        let cases: [(Query, &[&str]); 8] = [
            (
                Query {
                    users: strings(&["ALICE@example.com"]),
                    ..Query::default()
                },
                &["u-00", "u-01", "u-07"],
            ),
            (
                Query {
                    users: strings(&["nobody@example.com"]),
                    ..Query::default()
                },
                &["u-07"],
            ),
            (
                Query {
                    exclude_users: strings(&[
                        "alice@EXAMPLE.com",
                        "carol@example.com",
                        "dave@example.com",
                        "erin@example.com",
                    ]),
                    ..Query::default()
                },
                &["u-02", "u-03", "u-07"],
            ),
            (
                Query {
                    resource_ids: strings(&["S-1"]),
                    ..Query::default()
                },
                &["u-00", "u-02", "u-07"],
            ),
            (
                Query {
                    resource_types: strings(&["SERVER"]),
                    action_prefixes: strings(&["VR."]),
                    ..Query::default()
                },
                &["u-00", "u-07"],
            ),
            (
                Query {
                    request_ids: strings(&["req-a", "no-such"]),
                    ..Query::default()
                },
                &["u-00", "u-07"],
            ),
            (
                Query {
                    types: strings(&["provision"]),
                    statuses: strings(&["done"]),
                    ..Query::default()
                },
                &["u-07"],
            ),
            (
                Query {
                    exclude_types: strings(&["PROVISION"]),
                    users: strings(&["bob@example.com", "alice@example.com"]),
                    ..Query::default()
                },
                &["u-00", "u-07"],
            ),
        ];
        for (query, want) in cases {
            let (uuids, scanned) = read_with(query.clone(), None, None);
            assert_eq!(uuids, want, "{query:?}");
            assert_eq!(
                scanned.parsed,
                want.len() as u64,
                "{query:?}: only they are parsed"
            );
        }
    }

    #[test]
    fn row_groups_their_statistics_rule_out_are_skipped() {
        // Alice's entries: the last group's users (erin…erin, min and
        // max) leave out every spelling of hers, and it is skipped; the
        // second's (carol…dave) too, but it holds u-07, which does not
        // decode, and is read for it.
        let (uuids, scanned) = read_with(
            Query {
                users: strings(&["ALICE@example.com"]),
                ..Query::default()
            },
            None,
            None,
        );
        assert_eq!(uuids, ["u-00", "u-01", "u-07"]);
        assert_eq!(scanned.skipped_row_groups, 1, "{scanned}");
        // A range in the second group's minutes: the others are skipped,
        // and of it only the rows of the range are parsed.
        let (uuids, scanned) = read_with(
            Query::default(),
            Some(("2024-05-01T10:04:30Z", "2024-05-01T10:06:00Z")),
            None,
        );
        assert_eq!(uuids, ["u-05"]);
        assert_eq!(
            (scanned.skipped_row_groups, scanned.parsed),
            (2, 1),
            "{scanned}"
        );
        // One @uuid: the groups whose min/max leave it out are skipped.
        let (uuids, scanned) = read_with(Query::default(), None, Some("u-09"));
        assert_eq!(uuids, ["u-09"]);
        assert_eq!(
            (scanned.skipped_row_groups, scanned.parsed),
            (2, 1),
            "{scanned}"
        );
        let (uuids, scanned) = read_with(Query::default(), None, Some("u-0"));
        assert!(uuids.is_empty());
        assert_eq!(scanned.parsed, 0);
    }

    #[test]
    fn the_least_spelling_not_below_min() {
        let least = |v: &str, min: &str| {
            least_spelling_from(v.as_bytes(), min.as_bytes()).map(|s| String::from_utf8(s).unwrap())
        };
        assert_eq!(least("erin@x", "Alice").as_deref(), Some("ERIN@X"));
        assert_eq!(least("erin@x", "alice").as_deref(), Some("eRIN@X"));
        assert_eq!(least("erin@x", "erin@x").as_deref(), Some("erin@x"));
        assert_eq!(least("Erin@X", "erin@xa"), None);
        assert_eq!(least("ab", "aB").as_deref(), Some("aB"));
        assert_eq!(least("ab", "aC").as_deref(), Some("ab"));
        assert_eq!(least("a-1", "a-2"), None);
        assert_eq!(least("a", "").as_deref(), Some("A"));
    }

    #[test]
    fn a_range_keeps_every_time_truncated_to_microseconds() {
        assert_eq!(
            micros((
                time("2024-05-01T10:00:00Z"),
                time("2024-05-01T10:00:00.000001Z")
            )),
            (1714557600000000, 1714557600000001)
        );
        let (low, high) = micros((
            time("2024-05-01T10:00:00.0000005Z"),
            time("2024-05-01T10:00:00.0000015Z"),
        ));
        assert_eq!((low, high), (1714557600000000, 1714557600000002));
    }
}
