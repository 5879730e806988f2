//! `json`: the events exactly as the server sent them, as one array.
//!
//! Each element is an event's `_source` text, made [one line](one_line) as
//! in `ndjson`; every field is kept, including those this tool does not know.

use std::io::{self, Write};

use super::ndjson::one_line;

/// Opens the array.
pub fn write_start(out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"[")
}

/// Writes one element of the array; `first` tells whether it is the
/// array's first element.
pub fn write_element(out: &mut impl Write, json: &str, first: bool) -> io::Result<()> {
    out.write_all(if first { b"\n" } else { b",\n" })?;
    out.write_all(one_line(json).as_bytes())
}

/// Closes the array.
pub fn write_end(out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"\n]\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_are_valid_json_empty_or_not() {
        for events in [vec![], vec![r#"{"a":1}"#], vec![r#"{"a":1}"#, r#"{"b":2}"#]] {
            let mut out = Vec::new();
            write_start(&mut out).unwrap();
            for (i, event) in events.iter().enumerate() {
                write_element(&mut out, event, i == 0).unwrap();
            }
            write_end(&mut out).unwrap();
            let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(value.as_array().unwrap().len(), events.len());
        }
    }
}
