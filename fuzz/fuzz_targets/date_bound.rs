//! `DateBound::from_str` and its rendering.
//!
//! Properties: no panic; a parsed bound renders to text in the API's form
//! (four-digit year) that parses to the same instant (that text is what goes
//! to the API); its instant, ranges
//! built from it, and a download's range (`Entries::range`, which closes an
//! open start 90 days back) do not panic.
#![no_main]

use std::sync::OnceLock;

use activitylog_client::{ActivityLog, Config, Credentials, DateBound, DateRange};
use libfuzzer_sys::fuzz_target;

fn log() -> &'static ActivityLog {
    static LOG: OnceLock<ActivityLog> = OnceLock::new();
    LOG.get_or_init(|| {
        ActivityLog::new(Config::new(Credentials::token("fuzz"))).expect("an offline client")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(bound) = text.parse::<DateBound>() else {
        return;
    };
    let rendered = bound.to_string();
    // The API's form: a four-digit year first (RFC 3339 has no other).
    let bytes = rendered.as_bytes();
    assert!(
        bytes.len() >= 10 && bytes[..4].iter().all(u8::is_ascii_digit) && bytes[4] == b'-',
        "{text:?} renders as {rendered:?}, not a date the API takes"
    );
    let again: DateBound = rendered
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} renders as {rendered:?}, which does not parse: {e}"));
    assert_eq!(
        again.instant(),
        bound.instant(),
        "{text:?} renders as {rendered:?}, a different instant"
    );
    assert_eq!(again.to_string(), rendered, "rendering is not stable");
    let _ = DateRange::new(bound, bound);
    let _ = log().entries(1).until(bound).range();
    let _ = log().entries(1).since(bound).range();
});
