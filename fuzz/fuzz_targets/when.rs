//! The CLI's `WHEN` parser (`--since`, `--until`): dates, instants,
//! durations back from now, `now`.
//!
//! The parser comes from the CLI's library target (`activitylog_cli::when`).
//! Properties: no panic; a parsed argument parses again from its kept text
//! (checkpoints compare it); resolving it against a few "now"s either fails
//! with a message or gives a bound that renders to text the API date parser
//! reads back as the same instant.
#![no_main]

use activitylog_client::DateBound;
use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;

use activitylog_cli::when::When;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(when) = text.parse::<When>() else {
        return;
    };
    let again: When = when.text().parse().expect("the kept text parses again");
    assert_eq!(again, when);
    let _ = when.to_string();
    for now in [
        "2024-05-10T12:00:00Z",
        "1970-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ] {
        let now: DateTime<Utc> = now.parse().unwrap();
        let Ok(bound) = when.resolve(now) else {
            continue;
        };
        let rendered = bound.to_string();
        let back: DateBound = rendered.parse().unwrap_or_else(|e| {
            panic!("{text:?} resolves to {rendered:?}, which does not parse: {e}")
        });
        assert_eq!(back.instant(), bound.instant(), "{text:?} via {rendered:?}");
    }
});
