//! `ndjson`: the events exactly as the server sent them, one per line.
//!
//! Each event's `_source` text is written byte for byte; every field is
//! kept, including those this tool does not know. [`one_line`] is shared
//! with [`super::json_array`].

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
}
