//! Micro-benchmarks of the SDK's hot paths: `cargo bench -p activitylog-client`.
//!
//! - `page`: one 1,000-entry page as the sandbox renders it (fetched once over
//!   HTTP at start-up), decoded raw (the download engine's decoder, each
//!   `_source` kept as bytes), raw plus the `@uuid` the engine deduplicates
//!   on, raw then every event typed (what `Entries::stream` does), raw then
//!   the columns of each (what an archive or a Parquet file stores), typed in
//!   one go (`types::ActivityPage`), and as a `serde_json::Value` (how a plain
//!   client reads it).
//! - `dates`: parsing and rendering `DateBound`s.
//! - `window`: cutting ranges into 90-day spans and splitting crowded windows.

use std::hint::black_box;
use std::time::Duration;

use activitylog_client::internals::Window;
use activitylog_client::{BorrowedColumns, DateBound, RawEvent, types};
use activitylog_sandbox::{MAIN_CONTRACT, Sandbox};
use chrono::{DateTime, TimeDelta, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// The engine's raw page decoder.
fn decode_raw(body: &[u8]) -> Vec<RawEvent> {
    activitylog_client::internals::decode_page(body)
        .expect("the fixture decodes")
        .2
}

/// A 1,000-entry page from a sandbox of 10,000 events (fixed seed and end).
fn fixture_page() -> Vec<u8> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let end: DateTime<Utc> = "2024-06-01T00:00:00Z".parse().expect("a date");
        let sandbox = Sandbox::builder()
            .events(10_000)
            .seed(5)
            .end(end)
            .request_log(false)
            .start()
            .await
            .expect("the sandbox starts");
        let url = format!(
            "{}/activitylog/v1/contracts/{MAIN_CONTRACT}?dateStart=2024-03-05&dateEnd=2024-06-01&offset=2000&limit=1000",
            sandbox.url()
        );
        let _ = rustls::crypto::ring::default_provider().install_default();
        let body = reqwest::Client::new()
            .get(url)
            .bearer_auth(&sandbox.credentials().token)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .expect("the page")
            .bytes()
            .await
            .expect("the body");
        sandbox.shutdown().await;
        body.to_vec()
    })
}

fn page(c: &mut Criterion) {
    let body = fixture_page();
    assert_eq!(decode_raw(&body).len(), 1000, "a full page");
    let mut group = c.benchmark_group("page of 1000");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("raw (engine decoder)", |b| {
        b.iter(|| decode_raw(black_box(&body)))
    });
    group.bench_function("raw + uuid of each", |b| {
        b.iter(|| {
            let events = decode_raw(black_box(&body));
            events.iter().filter(|e| e.uuid().is_some()).count()
        })
    });
    group.bench_function("raw, then RawEvent::decode each", |b| {
        b.iter(|| {
            let events = decode_raw(black_box(&body));
            events
                .iter()
                .map(|e| e.decode().expect("typed"))
                .collect::<Vec<_>>()
        })
    });
    group.bench_function("raw, then BorrowedColumns of each", |b| {
        b.iter(|| {
            let events = decode_raw(black_box(&body));
            events
                .iter()
                .map(|e| BorrowedColumns::of(e).resources.len())
                .sum::<usize>()
        })
    });
    group.bench_function("typed ActivityPage", |b| {
        b.iter(|| serde_json::from_slice::<types::ActivityPage>(black_box(&body)).expect("typed"))
    });
    group.bench_function("serde_json::Value", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(black_box(&body)).expect("json"))
    });
    group.finish();
}

fn dates(c: &mut Criterion) {
    let mut group = c.benchmark_group("dates");
    for (name, text) in [
        ("parse date", "2016-07-01"),
        ("parse instant", "2021-09-23T13:43:51+02:00"),
        ("parse instant with millis", "2016-09-23T12:02:52.394Z"),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| black_box(text).parse::<DateBound>().expect("a date"))
        });
    }
    let date: DateBound = "2016-07-01".parse().expect("a date");
    let instant: DateBound = "2021-09-23T11:43:51Z".parse().expect("an instant");
    let millis: DateBound = "2016-09-23T12:02:52.394Z".parse().expect("an instant");
    for (name, bound) in [
        ("render date", date),
        ("render instant", instant),
        ("render instant with millis", millis),
    ] {
        group.bench_function(name, |b| b.iter(|| black_box(bound).to_string()));
    }
    group.finish();
}

fn window(c: &mut Criterion) {
    let at = |text: &str| text.parse::<DateTime<Utc>>().expect("an instant");
    let ten_years = Window {
        start: at("2015-01-01T00:00:00Z"),
        end: at("2025-01-01T00:00:00Z"),
    };
    let quarter = Window {
        start: at("2024-01-01T00:00:00.250Z"),
        end: at("2024-01-01T00:00:00Z") + TimeDelta::days(90),
    };
    let span = Duration::from_secs(90 * 86_400);
    let mut group = c.benchmark_group("window");
    group.bench_function("cut 10 years into 90 days", |b| {
        b.iter(|| black_box(ten_years).cut(span))
    });
    group.bench_function("split 90 days in 27", |b| {
        b.iter(|| black_box(quarter).split(27))
    });
    group.bench_function("split 90 days in 64", |b| {
        b.iter(|| black_box(quarter).split(64))
    });
    group.finish();
}

criterion_group!(benches, page, dates, window);
criterion_main!(benches);
