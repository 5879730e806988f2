//! `ndjson` and `json`: the events exactly as the server sent them.
//!
//! `ndjson` writes each event's `_source` text byte for byte, one per line;
//! `json` writes the same texts as the elements of one array. Every field is
//! kept, including those this tool does not know.

use std::borrow::Cow;
use std::io::{self, Write};

/// One event's text as one line: the server's bytes, unless it sent the
/// event over several lines (then the line breaks, which JSON only allows as
/// whitespace between tokens, become spaces).
pub fn one_line(json: &str) -> Cow<'_, str> {
    // One vectorised search for both bytes: this runs for every event.
    if memchr::memchr2(b'\n', b'\r', json.as_bytes()).is_some() {
        Cow::Owned(json.replace(['\n', '\r'], " "))
    } else {
        Cow::Borrowed(json)
    }
}

/// Writes one event as an NDJSON line.
pub fn write_line(out: &mut impl Write, json: &str) -> io::Result<()> {
    out.write_all(one_line(json).as_bytes())?;
    out.write_all(b"\n")
}

/// Opens the `json` array.
pub fn write_array_start(out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"[")
}

/// Writes one element of the `json` array; `first` tells whether it is the
/// array's first element.
pub fn write_element(out: &mut impl Write, json: &str, first: bool) -> io::Result<()> {
    out.write_all(if first { b"\n" } else { b",\n" })?;
    out.write_all(one_line(json).as_bytes())
}

/// Closes the `json` array.
pub fn write_array_end(out: &mut impl Write) -> io::Result<()> {
    out.write_all(b"\n]\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_the_bytes_as_sent() {
        let mut out = Vec::new();
        write_line(&mut out, r#"{"b":1,  "a":"x\ny","new":{"z":null}}"#).unwrap();
        assert_eq!(out, b"{\"b\":1,  \"a\":\"x\\ny\",\"new\":{\"z\":null}}\n");
    }

    #[test]
    fn multi_line_events_still_make_one_line_of_the_same_json() {
        let pretty = "{\n  \"a\": \"b\"\r\n}";
        let line = one_line(pretty);
        assert!(!line.contains('\n'));
        let value: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value, serde_json::json!({"a": "b"}));
    }

    #[test]
    fn arrays_are_valid_json_empty_or_not() {
        for events in [vec![], vec![r#"{"a":1}"#], vec![r#"{"a":1}"#, r#"{"b":2}"#]] {
            let mut out = Vec::new();
            write_array_start(&mut out).unwrap();
            for (i, event) in events.iter().enumerate() {
                write_element(&mut out, event, i == 0).unwrap();
            }
            write_array_end(&mut out).unwrap();
            let value: serde_json::Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(value.as_array().unwrap().len(), events.len());
        }
    }
}
