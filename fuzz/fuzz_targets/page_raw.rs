//! The download engine's page decoder (each `_source` kept byte for byte).
//!
//! Properties: no panic; every kept event is one JSON value that
//! `RawEvent::parse` accepts again unchanged; the total counts at least the
//! events on the page.
#![no_main]

use activitylog_client::RawEvent;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let Ok((total, _lower_bound, events)) = activitylog_client::internals::decode_page(body) else {
        return;
    };
    assert!(
        total >= events.len() as u64,
        "total {total} < {} events",
        events.len()
    );
    for event in &events {
        let again = RawEvent::parse(event.json()).expect("a kept event parses again");
        assert_eq!(again.json(), event.json());
        let _ = event.uuid();
    }
});
