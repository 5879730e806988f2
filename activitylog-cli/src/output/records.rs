//! Small answers (`info`, `contracts`) in every format.

use std::io::{self, IsTerminal, Write};

use serde_json::Value;

use super::table::{pad, width};
use super::{Format, csv, ndjson};

/// A small list of records: column names, one row of text per record, and
/// each record as JSON (what `json` and `ndjson` print).
#[derive(Debug, Default)]
pub struct Records {
    /// Column names (table header, CSV header).
    pub columns: Vec<&'static str>,
    /// Cells, one row per record.
    pub rows: Vec<Vec<String>>,
    /// The records as JSON.
    pub json: Vec<Value>,
}

impl Records {
    /// Prints the records on stdout in `format`, else the usual one for
    /// stdout (see [`Records::write`] for `single`).
    pub fn print(&self, format: Option<Format>, single: bool) -> io::Result<()> {
        let format = Format::choose(format, None, io::stdout().is_terminal());
        let mut stdout = io::stdout().lock();
        self.write(&mut stdout, format, single)
            .and_then(|()| stdout.flush())
    }

    /// Writes the records in `format`; `json` prints a single record as an
    /// object when `single`, else an array.
    pub fn write(&self, out: &mut impl Write, format: Format, single: bool) -> io::Result<()> {
        match format {
            Format::Table => self.write_table(out),
            Format::Csv => {
                let header: Vec<String> = self.columns.iter().map(|c| c.to_string()).collect();
                for row in std::iter::once(&header).chain(&self.rows) {
                    let cells: Vec<_> = row.iter().map(|cell| csv::quote(cell)).collect();
                    writeln!(out, "{}", cells.join(","))?;
                }
                Ok(())
            }
            Format::Ndjson => {
                for record in &self.json {
                    ndjson::write_line(out, &record.to_string())?;
                }
                Ok(())
            }
            Format::Json => {
                let value = match (single, self.json.as_slice()) {
                    (true, [one]) => one.clone(),
                    _ => Value::Array(self.json.clone()),
                };
                let text = serde_json::to_string_pretty(&value).map_err(io::Error::other)?;
                writeln!(out, "{text}")
            }
            Format::Parquet => Err(io::Error::other(
                "parquet is a format of entries (`entries --out FILE.parquet`)",
            )),
        }
    }

    fn write_table(&self, out: &mut impl Write) -> io::Result<()> {
        let mut widths: Vec<usize> = self.columns.iter().map(|c| width(c)).collect();
        for row in &self.rows {
            for (most, cell) in widths.iter_mut().zip(row) {
                *most = (*most).max(width(cell));
            }
        }
        let header: Vec<String> = self.columns.iter().map(|c| c.to_string()).collect();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (i, (cell, column)) in row.iter().zip(&widths).enumerate() {
                line.push_str(cell);
                if i + 1 < row.len() {
                    pad(&mut line, column - width(cell) + 2);
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records() -> Records {
        Records {
            columns: vec!["CONTRACT", "TYPE"],
            rows: vec![
                vec!["31721060".into(), "contract".into()],
                vec!["1".into(), "a,b".into()],
            ],
            json: vec![
                serde_json::json!({"id": 31721060}),
                serde_json::json!({"id": 1}),
            ],
        }
    }

    fn render(format: Format) -> String {
        let mut out = Vec::new();
        records().write(&mut out, format, false).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn every_format_renders() {
        assert_eq!(
            render(Format::Table),
            "CONTRACT  TYPE\n31721060  contract\n1         a,b\n"
        );
        assert_eq!(
            render(Format::Csv),
            "CONTRACT,TYPE\n31721060,contract\n1,\"a,b\"\n"
        );
        assert_eq!(render(Format::Ndjson), "{\"id\":31721060}\n{\"id\":1}\n");
        let json: Value = serde_json::from_str(&render(Format::Json)).unwrap();
        assert_eq!(json.as_array().unwrap().len(), 2);
    }
}
