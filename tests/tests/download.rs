//! Downloads of whole ranges: complete, any size, stable on a live log,
//! concurrent yet ordered, and held back by a slow reader.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use activitylog_client::{
    ActivityLog, Config, Credentials, DateBound, Error, RawEvent, RetryPolicy,
};
use activitylog_sandbox::{Faults, Sandbox};
use activitylog_tests::{MockServer, Recorded, Reply};
use chrono::{DateTime, TimeDelta, Utc};
use futures::TryStreamExt;

const CONTRACT: u64 = 31721060;

fn log_for(url: &str, token: &str) -> ActivityLog {
    let retry = RetryPolicy::default().initial_delay(Duration::from_millis(5));
    ActivityLog::new(
        Config::new(Credentials::token(token))
            .api_url(url)
            .retry(retry),
    )
    .unwrap()
}

fn sandbox_log(sandbox: &Sandbox) -> ActivityLog {
    log_for(sandbox.url(), &sandbox.credentials().token)
}

fn uuids(events: &[RawEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| {
            e.uuid()
                .expect("every sandbox event has @uuid")
                .into_owned()
        })
        .collect()
}

fn assert_no_duplicates(ids: &[String]) {
    let distinct: HashSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len(), "an entry was yielded twice");
}

/// Query parameter `name` of a sandbox request target.
fn param<'a>(target: &'a str, name: &str) -> Option<&'a str> {
    target
        .split_once('?')?
        .1
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

fn instant(text: &str) -> DateTime<Utc> {
    let decoded = text.replace("%3A", ":");
    decoded
        .parse()
        .unwrap_or_else(|_| panic!("not an instant: {text}"))
}

#[tokio::test]
async fn pages_by_what_the_server_returns_when_it_caps_the_limit() {
    let sandbox = Sandbox::builder()
        .events(2_500)
        .max_limit(Some(100))
        .start()
        .await
        .unwrap();
    let (since, until) = (sandbox.span_start(), sandbox.end());
    let events: Vec<RawEvent> = sandbox_log(&sandbox)
        .entries(CONTRACT)
        .since(since)
        .until(until)
        .page_size(1000)
        .raw()
        .try_collect()
        .await
        .unwrap();
    let expected = sandbox.event_uuids(CONTRACT, since, until);
    assert!(expected.len() > 2_000);
    assert_eq!(uuids(&events), expected);
}

#[tokio::test]
async fn downloads_fifty_thousand_entries_through_window_and_range_limits() {
    let sandbox = Sandbox::builder()
        .events(50_000)
        .span(TimeDelta::days(200))
        .result_window(Some(10_000))
        .max_range(Some(TimeDelta::days(90)))
        .start()
        .await
        .unwrap();
    let (since, until) = (sandbox.span_start(), sandbox.end());
    let events: Vec<RawEvent> = sandbox_log(&sandbox)
        .entries(CONTRACT)
        .since(since)
        .until(until)
        .concurrency(4)
        .raw()
        .try_collect()
        .await
        .unwrap();
    let expected = sandbox.event_uuids(CONTRACT, since, until);
    assert_eq!(expected.len(), 50_000);
    let got = uuids(&events);
    assert_no_duplicates(&got);
    assert_eq!(got, expected, "every entry, once, in the server's order");

    for request in sandbox.requests() {
        assert_eq!(request.status, Some(200), "{}", request.target);
        let offset: u64 = param(&request.target, "offset").unwrap().parse().unwrap();
        let limit: u64 = param(&request.target, "limit").unwrap().parse().unwrap();
        assert!(offset + limit <= 10_000, "{}", request.target);
        let start = instant(param(&request.target, "dateStart").unwrap());
        let end = instant(param(&request.target, "dateEnd").unwrap());
        assert!(end - start <= TimeDelta::days(90), "{}", request.target);
    }
}

#[tokio::test]
async fn survives_injected_faults_with_exactly_the_right_entries() {
    let sandbox = Sandbox::builder()
        .events(5_000)
        .faults(Faults::rate(0.2))
        .start()
        .await
        .unwrap();
    let (since, until) = (sandbox.span_start(), sandbox.end());
    let log = ActivityLog::new(
        Config::new(Credentials::token(&sandbox.credentials().token))
            .api_url(sandbox.url())
            .page_size(250)
            .retry(
                RetryPolicy::default()
                    .max_attempts(10)
                    .initial_delay(Duration::from_millis(1))
                    .max_delay(Duration::from_millis(20)),
            ),
    )
    .unwrap();
    let entries = log.entries(CONTRACT).since(since).until(until);
    let requests = entries.requests();
    let events: Vec<RawEvent> = entries.raw().try_collect().await.unwrap();
    assert_eq!(uuids(&events), sandbox.event_uuids(CONTRACT, since, until));
    let faults = sandbox
        .requests()
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    assert!(
        faults > 0,
        "the sandbox injected no fault, so this test proved nothing"
    );
    // Every attempt is a request, retries included.
    assert_eq!(requests.get(), sandbox.requests().len() as u64);
}

#[tokio::test]
async fn an_open_ended_download_is_closed_when_it_starts() {
    let sandbox = Sandbox::builder()
        .events(3_000)
        .live(Duration::from_millis(2))
        .start()
        .await
        .unwrap();
    let since = sandbox.span_start();
    let before = sandbox.event_uuids(CONTRACT, since, Utc::now() - TimeDelta::seconds(1));
    let events: Vec<RawEvent> = sandbox_log(&sandbox)
        .entries(CONTRACT)
        .since(since)
        .settle(Duration::ZERO) // this test is about closing the range, not settling it
        .page_size(200)
        .raw()
        .try_collect()
        .await
        .unwrap();
    let got = uuids(&events);
    assert_no_duplicates(&got);
    let got_set: HashSet<&String> = got.iter().collect();
    assert!(
        before.iter().all(|id| got_set.contains(id)),
        "an entry that existed at the start is missing"
    );
    let existing_now: HashSet<String> = sandbox
        .event_uuids(CONTRACT, since, Utc::now())
        .into_iter()
        .collect();
    assert!(got.iter().all(|id| existing_now.contains(id)));
    let appended_since = existing_now.len() - before.len();
    assert!(
        got.len() < before.len() + appended_since,
        "the range did not close: it kept reading new entries"
    );
}

/// A server whose window gains an entry at its head after the first request.
fn shifting_server(
    events: Arc<Mutex<Vec<&'static str>>>,
    grow: Vec<&'static str>,
) -> impl Fn(&Recorded) -> Reply {
    let grow = Mutex::new(grow);
    move |request| {
        let offset: usize = request.param("offset").unwrap_or("0").parse().unwrap();
        let limit: usize = request.param("limit").unwrap_or("20").parse().unwrap();
        let page = {
            let list = events.lock().unwrap();
            page_json(&list, offset, limit)
        };
        if let Some(new) = grow.lock().unwrap().pop() {
            events.lock().unwrap().insert(0, new);
        }
        Reply::json(page)
    }
}

fn page_json(list: &[&str], offset: usize, limit: usize) -> String {
    let hits: Vec<String> = list
        .iter()
        .skip(offset)
        .take(limit)
        .map(|id| {
            format!(r#"{{"_source":{{"@uuid":"{id}","meta":{{"time":"2024-01-01T00:00:00Z"}}}}}}"#)
        })
        .collect();
    format!(
        r#"{{"hits":{{"total":{},"hits":[{}]}}}}"#,
        list.len(),
        hits.join(",")
    )
}

#[tokio::test]
async fn a_window_that_changes_while_read_is_read_again_without_duplicates() {
    let events = Arc::new(Mutex::new(vec!["a", "b", "c"]));
    let server = MockServer::start(shifting_server(events, vec!["x"])).await;
    let since: DateBound = "2024-01-01".parse().unwrap();
    let until: DateBound = "2024-01-02".parse().unwrap();
    let got: Vec<RawEvent> = log_for(server.url(), "t")
        .entries(CONTRACT)
        .since(since)
        .until(until)
        .page_size(2)
        .raw()
        .try_collect()
        .await
        .unwrap();
    let mut ids = uuids(&got);
    assert_no_duplicates(&ids);
    ids.sort();
    assert_eq!(ids, ["a", "b", "c", "x"]);
}

#[tokio::test]
async fn a_window_that_never_settles_fails_loudly() {
    let events = Arc::new(Mutex::new(vec!["a", "b", "c"]));
    let growth: Vec<&'static str> = (0..100)
        .map(|i| &*Box::leak(format!("n{i}").into_boxed_str()))
        .collect();
    let server = MockServer::start(shifting_server(events, growth)).await;
    let since: DateBound = "2024-01-01".parse().unwrap();
    let until: DateBound = "2024-01-02".parse().unwrap();
    let result: Result<Vec<RawEvent>, Error> = log_for(server.url(), "t")
        .entries(CONTRACT)
        .since(since)
        .until(until)
        .page_size(2)
        .raw()
        .try_collect()
        .await;
    let error = result.unwrap_err();
    assert!(matches!(error, Error::Incomplete { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains("31721060") && message.contains("2024-01-01T00:00:00Z"),
        "{message}"
    );
}

#[tokio::test]
async fn fetches_pages_concurrently_and_yields_them_in_order() {
    let ids: Vec<&'static str> = (0..400)
        .map(|i| &*Box::leak(format!("e{i:04}").into_boxed_str()))
        .collect();
    let list = ids.clone();
    let server = MockServer::start_with_delay(Duration::from_millis(20), move |request| {
        let offset: usize = request.param("offset").unwrap().parse().unwrap();
        let limit: usize = request.param("limit").unwrap().parse().unwrap();
        Reply::json(page_json(&list, offset, limit))
    })
    .await;
    let got: Vec<RawEvent> = log_for(server.url(), "t")
        .entries(CONTRACT)
        .since("2024-01-01".parse::<DateBound>().unwrap())
        .until("2024-01-02".parse::<DateBound>().unwrap())
        .page_size(20)
        .concurrency(4)
        .raw()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(uuids(&got), ids);
    assert_eq!(
        server.most_concurrent(),
        4,
        "pages should be fetched four at a time"
    );
}

#[tokio::test]
async fn a_429_is_waited_out_not_hammered() {
    let list: Vec<&'static str> = (0..200)
        .map(|i| &*Box::leak(format!("e{i:04}").into_boxed_str()))
        .collect();
    let limited_until: Mutex<Option<std::time::Instant>> = Mutex::new(None);
    let server = MockServer::start_with_delay(Duration::from_millis(10), move |request| {
        let offset: usize = request.param("offset").unwrap().parse().unwrap();
        let limit: usize = request.param("limit").unwrap().parse().unwrap();
        let mut until = limited_until.lock().unwrap();
        let now = std::time::Instant::now();
        // The third request trips the rate limit for one second.
        if offset == 40 && until.is_none() {
            *until = Some(now + Duration::from_secs(1));
        }
        match *until {
            Some(end) if now < end => Reply::status(429, "{}").with_header("retry-after", "1"),
            _ => Reply::json(page_json(&list, offset, limit)),
        }
    })
    .await;
    let got: Vec<RawEvent> = log_for(server.url(), "t")
        .entries(CONTRACT)
        .since("2024-01-01".parse::<DateBound>().unwrap())
        .until("2024-01-02".parse::<DateBound>().unwrap())
        .page_size(20)
        .concurrency(4)
        .raw()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(got.len(), 200);
    let requests = server.requests().len();
    // 10 full pages and the empty one at offset 200 that shows the end
    // (the count alone is never proof); only the requests already in flight
    // when the limit tripped (at most the concurrency, 4) may meet it.
    assert!(
        requests <= 11 + 4,
        "{requests} requests: the client kept hammering a rate-limited server"
    );
}

#[tokio::test]
async fn a_slow_reader_holds_the_download_back() {
    let sandbox = Sandbox::builder().events(20_000).start().await.unwrap();
    let mut events = sandbox_log(&sandbox)
        .entries(CONTRACT)
        .since(sandbox.span_start())
        .until(sandbox.end())
        .page_size(100)
        .concurrency(4)
        .raw();
    let first = events.try_next().await.unwrap();
    assert!(first.is_some());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let requests = sandbox.requests().len();
    // Bounded by the design, not by the 200 pages of the range: the first
    // probe, `concurrency` pages in flight, at most `concurrency` pages
    // buffered for windows probed ahead, and the 3 pages the reader and the
    // stream's channel hold.
    assert!(
        requests <= 1 + 4 + 4 + 3,
        "{requests} pages fetched ahead of a reader that took one entry"
    );
}

#[tokio::test]
async fn typed_events_decode_wire_variants_from_the_sandbox() {
    let sandbox = Sandbox::builder()
        .events(1_000)
        .wire_variants(0.3)
        .start()
        .await
        .unwrap();
    let events: Vec<_> = sandbox_log(&sandbox)
        .entries(CONTRACT)
        .since(sandbox.span_start())
        .until(sandbox.end())
        .stream()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        events.len(),
        sandbox.event_count(CONTRACT, sandbox.span_start(), sandbox.end())
    );
    let with_extra = events.iter().filter(|e| !e.extra.is_empty()).count();
    assert!(
        with_extra > 0,
        "the sandbox sent no unknown top-level field"
    );
}

/// The engine sends pages as the generated `getByContract` builds them:
/// the spec's path, parameter names and headers (a spec change changes what
/// the engine sends, or stops the build where a builder method changed).
#[tokio::test]
async fn pages_are_requested_as_the_generated_operation_builds_them() {
    let server = MockServer::start(|_| Reply::json(r#"{"hits":{"total":0,"hits":[]}}"#)).await;
    let log = log_for(server.url(), "t");
    let (since, until) = (
        instant("2024-01-01T00:00:00Z"),
        instant("2024-01-02T00:00:00Z"),
    );
    let events: Vec<RawEvent> = log
        .entries(CONTRACT)
        .since(since)
        .until(until)
        .page_size(500)
        .raw()
        .try_collect()
        .await
        .unwrap();
    assert!(events.is_empty());
    let _ = log
        .client()
        .get_by_contract()
        .contract_number(CONTRACT) // the same u64 the SDK takes
        .date_start("2024-01-01T00:00:00Z")
        .date_end("2024-01-02T00:00:00Z")
        .offset(0)
        .limit(500)
        .send()
        .await
        .unwrap();
    let requests = server.requests();
    let [engine, generated] = &requests[..] else {
        panic!("{} requests", requests.len());
    };
    assert_eq!(engine.path, generated.path);
    let sorted = |r: &Recorded| {
        let mut query = r.query.clone();
        query.sort();
        query
    };
    assert_eq!(sorted(engine), sorted(generated));
    for header in ["api-version", "accept", "authorization"] {
        assert!(generated.header(header).is_some(), "{header}");
        assert_eq!(engine.header(header), generated.header(header), "{header}");
    }
}
