//! Typed page decoding: what users of the generated types run on a page body.
//!
//! Any input: `serde_json::from_slice::<ActivityPage>` and, for each event the
//! engine's decoder keeps, `RawEvent::decode` and `RawEvent::uuid`. Errors are
//! fine; panics are not. A page that decodes raw and typed must agree on how
//! many events it holds.
#![no_main]

use activitylog_client::RawEvent;
use activitylog_client::types::ActivityPage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    let typed = serde_json::from_slice::<ActivityPage>(body);
    if let Ok(text) = std::str::from_utf8(body)
        && let Ok(event) = RawEvent::parse(text)
    {
        // The whole input as one event, too.
        let _ = event.uuid();
        let _ = event.decode();
    }
    let Ok((_, _, events)) = activitylog_client::internals::decode_page(body) else {
        return;
    };
    for event in &events {
        let _ = event.uuid();
        if let Ok(activity) = event.decode() {
            // Decoded events serialize again (the CLI writes them as JSON).
            serde_json::to_string(&activity).expect("a decoded event serializes");
        }
    }
    if let Ok(page) = typed {
        let typed_events = page.hits.and_then(|h| h.hits).map_or(0, |h| h.len());
        assert!(
            typed_events <= events.len(),
            "typed decoding saw {typed_events} hits, raw {}",
            events.len()
        );
    }
});
