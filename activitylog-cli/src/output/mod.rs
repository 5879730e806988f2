//! Output formats: how events (and `info`/`contracts` answers) are written.
//!
//! One module per format: [`table`] for people, [`csv`] for spreadsheets,
//! [`ndjson`] for `ndjson` and [`json_array`] for `json` (the raw events,
//! every field kept), and `parquet` (the `lake` feature) for `--out FILE.parquet`.

pub mod chart;
pub mod columns;
pub mod csv;
pub mod fields;
pub mod json_array;
pub mod ndjson;
#[cfg(feature = "lake")]
pub mod parquet;
pub mod records;
pub mod table;
pub mod zone;

use std::io::{self, Write};
use std::path::Path;

use activitylog_client::RawEvent;
use activitylog_client::types::Activity;
use serde::{Deserialize, Serialize};

/// `--format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Aligned columns fitted to the terminal (the default on a terminal).
    Table,
    /// One JSON array of the events as received.
    Json,
    /// One event per line, exactly as received (the default when piped).
    Ndjson,
    /// Columns listed in `activitylog entries --help` (--columns picks some).
    Csv,
    /// A Parquet file (`entries --out FILE.parquet`): a column per field
    /// filters use, and each event as received.
    Parquet,
}

impl Format {
    /// The format to use: the one asked for; else the one `--out`'s
    /// extension names (`.csv`, `.json`, `.ndjson`/`.jsonl`, `.parquet`); else
    /// `table` on a terminal and `ndjson` otherwise.
    pub fn choose(asked: Option<Format>, out: Option<&Path>, stdout_is_terminal: bool) -> Format {
        if let Some(format) = asked {
            return format;
        }
        if let Some(path) = out {
            let extension = path
                .extension()
                .and_then(|e| e.to_str())
                .map(str::to_ascii_lowercase);
            return match extension.as_deref() {
                Some("csv") => Format::Csv,
                Some("json") => Format::Json,
                Some("parquet") => Format::Parquet,
                _ => Format::Ndjson,
            };
        }
        if stdout_is_terminal {
            Format::Table
        } else {
            Format::Ndjson
        }
    }

    /// Whether writing needs the decoded event (not just its raw text).
    pub fn needs_decoding(self) -> bool {
        matches!(self, Format::Table | Format::Csv)
    }

    /// The name `--format` takes.
    pub fn name(self) -> &'static str {
        match self {
            Format::Table => "table",
            Format::Json => "json",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Parquet => "parquet",
        }
    }

    /// Why this format cannot be written where asked (`None`: it can):
    /// Parquet needs a file (its footer comes last) and an end (not
    /// `--follow`), and this build to have the `lake` feature.
    pub fn refusal(self, out: Option<&Path>, follow: bool) -> Option<String> {
        if self != Format::Parquet {
            return None;
        }
        if !cfg!(feature = "lake") {
            return Some(
                "this activitylog was built without Parquet: install it with \
                 `cargo install activitylog-cli --features lake`"
                    .into(),
            );
        }
        if follow {
            return Some(
                "--format parquet writes a file that is complete only at its end, and --follow \
                 never ends: use --format ndjson"
                    .into(),
            );
        }
        if out.is_none() {
            return Some("--format parquet writes a file: add --out FILE.parquet".into());
        }
        None
    }
}

/// Where an export may take a checkpoint ([`Encode::settle`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Settled {
    /// Here: every event written so far is in the bytes out, and this is
    /// what the encoder needs to continue after them (`None`: nothing).
    Here(Option<String>),
    /// Not yet: the encoder holds events back (a Parquet row group not full
    /// yet); the checkpoint before stays the one to resume from.
    #[cfg_attr(not(feature = "lake"), allow(dead_code))]
    Later,
}

/// How the table and CSV show events (`--columns`, `--tz`/`--local`);
/// NDJSON and JSON ignore it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// The columns picked, else the format's usual ones.
    pub columns: Option<columns::Columns>,
    /// The zone times are shown in.
    pub zone: zone::Zone,
    /// Whether the usual table shows a CONTRACT column (a run over several contracts).
    pub contract: bool,
}

/// Turns events into the bytes of one format. The export counts the events
/// and decides where the bytes go; an encoder says only how they look, so
/// that another format plugs in beside [`EventWriter`]'s.
pub trait Encode {
    /// Whether [`write`](Self::write) needs the decoded event.
    fn needs_decoding(&self) -> bool;

    /// Writes what comes before the first event (header, `[`), once per file.
    fn begin(&mut self, out: &mut dyn Write) -> io::Result<()>;

    /// Writes one event; `first` when no event precedes it in the output
    /// (earlier runs of a resumed export included). `activity` is its
    /// decoded form, given when [`needs_decoding`](Self::needs_decoding).
    fn write(
        &mut self,
        out: &mut dyn Write,
        event: &RawEvent,
        activity: Option<&Activity>,
        first: bool,
    ) -> io::Result<()>;

    /// Writes what comes after the last event (`]`).
    fn finish(&mut self, out: &mut dyn Write) -> io::Result<()>;

    /// Says whether a checkpoint can be taken now, writing what it needs
    /// first; `force` when one must (a new contract, the start). Formats
    /// that hold nothing back are always [`Settled::Here`].
    fn settle(&mut self, _out: &mut dyn Write, _force: bool) -> io::Result<Settled> {
        Ok(Settled::Here(None))
    }

    /// Continues an output cut back to a checkpoint: `bytes` long, with the
    /// `state` [`settle`](Self::settle) gave then. Called instead of
    /// [`begin`](Self::begin) by a resumed export.
    fn resume(&mut self, _bytes: u64, _state: Option<&str>) -> io::Result<()> {
        Ok(())
    }
}

/// Entries per Parquet row group unless `--row-group-size` says otherwise.
pub const ROW_GROUP: u64 = 65536;

/// The encoder of `format` (tables fitted to `width`, table and CSV rows
/// shown as `view` says, Parquet row groups of at most `row_group` entries).
pub fn encoder(format: Format, width: usize, view: View, row_group: u64) -> Box<dyn Encode> {
    #[cfg(feature = "lake")]
    if format == Format::Parquet {
        return Box::new(parquet::ParquetWriter::new(row_group));
    }
    let _ = row_group;
    Box::new(EventWriter::new(format, width, view))
}

/// The encoder of the four text `--format`s: [`begin`](Encode::begin) once per
/// file, [`write`](Encode::write) per event, [`finish`](Encode::finish) at the end.
#[derive(Debug)]
pub struct EventWriter {
    format: Format,
    table: table::Table,
    view: View,
}

impl EventWriter {
    /// A writer for `format`, with tables fitted to `width` and table and
    /// CSV rows shown as `view` says.
    pub fn new(format: Format, width: usize, view: View) -> Self {
        EventWriter {
            format,
            table: table::Table::view(width, view.columns.as_ref(), view.zone, view.contract),
            view,
        }
    }
}

impl Encode for EventWriter {
    fn needs_decoding(&self) -> bool {
        self.format.needs_decoding()
    }

    fn begin(&mut self, mut out: &mut dyn Write) -> io::Result<()> {
        match self.format {
            Format::Table => self.table.write_header(&mut out),
            Format::Csv => match &self.view.columns {
                Some(columns) => csv::write_header_of(&mut out, columns),
                None => csv::write_header(&mut out),
            },
            Format::Json => json_array::write_start(&mut out),
            Format::Ndjson | Format::Parquet => Ok(()),
        }
    }

    fn write(
        &mut self,
        mut out: &mut dyn Write,
        event: &RawEvent,
        activity: Option<&Activity>,
        first: bool,
    ) -> io::Result<()> {
        match (self.format, activity) {
            (Format::Ndjson, _) => ndjson::write_line(&mut out, event.json()),
            (Format::Json, _) => json_array::write_element(&mut out, event.json(), first),
            (Format::Table, Some(activity)) => self.table.write_row(&mut out, activity),
            (Format::Csv, Some(activity)) => {
                let all = columns::Columns::all();
                let columns = self.view.columns.as_ref().unwrap_or(&all);
                csv::write_row_of(&mut out, activity, columns, &self.view.zone)
            }
            (Format::Table | Format::Csv, None) => Err(io::Error::other(
                "internal: this format needs the decoded event",
            )),
            (Format::Parquet, _) => Err(io::Error::other(
                "internal: Parquet is written by its own encoder",
            )),
        }
    }

    fn finish(&mut self, mut out: &mut dyn Write) -> io::Result<()> {
        match self.format {
            Format::Json => json_array::write_end(&mut out),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_follows_the_destination() {
        let path = |p: &'static str| Some(Path::new(p));
        assert_eq!(Format::choose(None, None, true), Format::Table);
        assert_eq!(Format::choose(None, None, false), Format::Ndjson);
        assert_eq!(Format::choose(None, path("a.CSV"), true), Format::Csv);
        assert_eq!(Format::choose(None, path("a.json"), true), Format::Json);
        assert_eq!(Format::choose(None, path("a.jsonl"), true), Format::Ndjson);
        assert_eq!(Format::choose(None, path("a"), true), Format::Ndjson);
        assert_eq!(
            Format::choose(None, path("a.Parquet"), false),
            Format::Parquet
        );
        assert_eq!(
            Format::choose(Some(Format::Csv), path("a.json"), true),
            Format::Csv
        );
    }

    #[test]
    fn json_resumed_after_events_continues_the_array() {
        let event = RawEvent::parse(r#"{"a":1}"#).unwrap();
        let mut first = Vec::new();
        let mut writer = EventWriter::new(Format::Json, 120, View::default());
        writer.begin(&mut first).unwrap();
        writer.write(&mut first, &event, None, true).unwrap();
        let mut rest = Vec::new();
        let mut resumed = EventWriter::new(Format::Json, 120, View::default());
        resumed.write(&mut rest, &event, None, false).unwrap();
        resumed.finish(&mut rest).unwrap();
        first.extend(rest);
        let value: serde_json::Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(value, serde_json::json!([{"a": 1}, {"a": 1}]));
    }
}
