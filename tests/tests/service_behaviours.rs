//! Every entry exactly once, or a loud error, whatever the real service does.
//!
//! Each test turns on one behaviour of the live service that the spec does
//! not describe (a sandbox knob) and checks what a user would: the exact set
//! of entries, or an error that names what was not fetched. Each would fail
//! on an engine that ignored the behaviour.

use std::collections::HashSet;
use std::time::Duration;

use activitylog_client::{ActivityLog, Config, Credentials, Error, RawEvent, RetryPolicy, Update};
use activitylog_sandbox::{
    BadPageKind, BadPages, ContractSpec, FaultKind, Faults, MAIN_CONTRACT, Sandbox, SandboxBuilder,
    TotalForm,
};
use chrono::{DateTime, TimeDelta, Utc};
use futures::{StreamExt, TryStreamExt};

/// A fixed end, so that runs are repeatable: the data lies in the year before.
fn end_of_2021() -> DateTime<Utc> {
    "2022-01-01T00:00:00Z".parse().unwrap()
}

/// A year of `events` entries in the main contract, ending at [`end_of_2021`].
fn year_of(events: usize) -> SandboxBuilder {
    Sandbox::builder()
        .contracts(vec![ContractSpec::new(MAIN_CONTRACT, events)])
        .end(end_of_2021())
        .span(TimeDelta::days(365))
}

/// A client that retries quickly and often, assuming the usual result window.
fn patient_log(sandbox: &Sandbox) -> ActivityLog {
    log_assuming(sandbox, 10_000)
}

/// The `@uuid`s of `events`, checked for duplicates, as a set.
fn exactly_once(events: &[RawEvent]) -> HashSet<String> {
    let ids: Vec<String> = events
        .iter()
        .map(|e| e.uuid().expect("sandbox events have @uuid").into_owned())
        .collect();
    let set: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "an entry was yielded twice");
    set
}

fn expected(sandbox: &Sandbox, since: DateTime<Utc>, until: DateTime<Utc>) -> HashSet<String> {
    sandbox
        .event_uuids(MAIN_CONTRACT, since, until)
        .into_iter()
        .collect()
}

async fn download(
    log: &ActivityLog,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> activitylog_client::Result<Vec<RawEvent>> {
    log.entries(MAIN_CONTRACT)
        .since(since)
        .until(until)
        .raw()
        .try_collect()
        .await
}

/// Elasticsearch counts to 10,000 unless asked otherwise: a year of 50,000
/// entries reports 10,000 as an integer, or as `{value, relation: "gte"}`.
/// Taking the integer at its word loses 40,000 entries without a word.
#[tokio::test]
async fn capped_totals_lose_no_entry() {
    for form in [TotalForm::Integer, TotalForm::Tracked] {
        let sandbox = year_of(50_000)
            .total_cap(Some(10_000))
            .total_form(form)
            .start()
            .await
            .unwrap();
        let (since, until) = (sandbox.span_start(), sandbox.end());
        let events = download(&patient_log(&sandbox), since, until)
            .await
            .unwrap();
        let got = exactly_once(&events);
        assert_eq!(got.len(), 50_000, "{form:?}");
        assert_eq!(got, expected(&sandbox, since, until), "{form:?}");
    }
}

/// A gateway that answers 200 with an HTML page, `{}`, a body without
/// `hits` or `hits.total`, or a page under a non-JSON content type: each is
/// retried like a 503, never taken for an empty or complete window.
#[tokio::test]
async fn answers_that_are_not_pages_are_retried_not_counted() {
    let sandbox = year_of(20_000)
        .bad_pages(BadPages::rate(0.2))
        .start()
        .await
        .unwrap();
    let (since, until) = (sandbox.span_start(), sandbox.end());
    let events: Vec<RawEvent> = patient_log(&sandbox)
        .entries(MAIN_CONTRACT)
        .since(since)
        .until(until)
        .page_size(250)
        .raw()
        .try_collect()
        .await
        .unwrap();
    assert_eq!(exactly_once(&events), expected(&sandbox, since, until));
    assert!(
        sandbox.bad_pages_served() > 10,
        "the sandbox served {} bad pages: this test proved nothing",
        sandbox.bad_pages_served()
    );
}

/// When every answer is the maintenance page, the download fails after its
/// retries with one line that names the window not fetched and what came.
#[tokio::test]
async fn a_lasting_maintenance_page_fails_loudly_naming_the_window() {
    let sandbox = year_of(1_000)
        .bad_pages(BadPages::rate(1.0).only([BadPageKind::HtmlMaintenance]))
        .start()
        .await
        .unwrap();
    let log = ActivityLog::new(
        Config::new(Credentials::token(&sandbox.credentials().token))
            .api_url(sandbox.url())
            .retry(
                RetryPolicy::default()
                    .max_attempts(3)
                    .initial_delay(Duration::from_millis(1)),
            ),
    )
    .unwrap();
    let error = download(&log, sandbox.span_start(), sandbox.end())
        .await
        .unwrap_err();
    assert!(
        error.is_transient(),
        "a gateway's page may go away: {error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("incomplete download")
            && message.contains(&format!("contract {MAIN_CONTRACT} from 2021-"))
            && message.contains("text/html"),
        "{message}"
    );
    assert!(!message.contains('\n'), "{message}");
    let first_window = sandbox
        .requests()
        .iter()
        .filter(|r| {
            r.target
                .replace("%3A", ":")
                .contains("dateStart=2021-01-01T00:00:00Z")
        })
        .count();
    assert_eq!(
        first_window, 3,
        "the first window's page was tried exactly max_attempts times"
    );
}

/// Without a sort the service returns index order, different per range:
/// splits, pages and window boundaries must not rely on time order.
#[tokio::test]
async fn entries_in_any_order_arrive_exactly_once() {
    let sandbox = year_of(40_000)
        .unordered(true)
        .total_cap(Some(10_000))
        .start()
        .await
        .unwrap();
    let (since, until) = (sandbox.span_start(), sandbox.end());
    let log = patient_log(&sandbox);
    for concurrency in [1, 6] {
        let events: Vec<RawEvent> = log
            .entries(MAIN_CONTRACT)
            .since(since)
            .until(until)
            .page_size(700)
            .concurrency(concurrency)
            .raw()
            .try_collect()
            .await
            .unwrap();
        assert_eq!(
            exactly_once(&events),
            expected(&sandbox, since, until),
            "concurrency {concurrency}"
        );
    }
}

/// Entries become visible a while after their timestamp. An open-ended
/// download stops at `now − settle`, so it never claims a stretch that can
/// still fill in: what it delivered up to its last checkpoint is everything
/// the service will ever hold there.
#[tokio::test]
async fn late_arrivals_are_never_skipped() {
    let sandbox = Sandbox::builder()
        .events(2_000)
        .live(Duration::from_millis(5))
        .ingestion_lag(Duration::from_millis(700))
        .start()
        .await
        .unwrap();
    // Let the live log run well past the settle time, so that the range
    // holds live entries and late ones are in flight at its end.
    tokio::time::sleep(Duration::from_millis(3_000)).await;
    let since = Utc::now() - TimeDelta::minutes(10);
    let mut updates = patient_log(&sandbox)
        .entries(MAIN_CONTRACT)
        .since(since)
        .settle(Duration::from_secs(1))
        .page_size(100)
        .updates();
    let mut events = Vec::new();
    let mut through = None;
    while let Some(update) = updates.next().await {
        match update.unwrap() {
            Update::Events(batch) => events.extend(batch),
            Update::Completed { through: t } => through = Some(t),
            _ => {}
        }
    }
    // The engine reads its clock when it starts, some time after this test
    // could: on a loaded machine, tens of milliseconds. The only bound this
    // side can state without a race is the end of the download; an engine
    // that ignored the settle time still fails the exact comparison below,
    // which misses the entries that were not yet visible.
    let finished = Utc::now();
    let through = through.expect("a checkpoint");
    assert!(
        through <= finished - TimeDelta::seconds(1),
        "the download claimed {through}, within the settle time of {finished}, when it ended"
    );
    // Everything stamped before the checkpoint is visible by now (lag < settle).
    let got = exactly_once(&events);
    let all = expected(&sandbox, since, through);
    assert!(all.len() > 100, "the live log was too quiet: {}", all.len());
    assert_eq!(
        got, all,
        "entries before the checkpoint are missing or extra"
    );
}

/// More entries in one second than the result window can never be paged
/// through: a permanent error naming the second and the count.
#[tokio::test]
async fn a_crowded_second_is_a_permanent_error_naming_it() {
    let second: DateTime<Utc> = "2021-06-01T12:00:00Z".parse().unwrap();
    let sandbox = Sandbox::builder()
        .contracts(vec![
            ContractSpec::new(MAIN_CONTRACT, 5_000).burst(second, 10_001),
        ])
        .end(end_of_2021())
        .span(TimeDelta::days(365))
        .start()
        .await
        .unwrap();
    let error = download(&patient_log(&sandbox), sandbox.span_start(), sandbox.end())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::CrowdedSecond { .. }), "{error:?}");
    assert!(!error.is_transient());
    let message = error.to_string();
    assert!(
        message.contains("10001 entries") && message.contains("2021-06-01T12:00:00Z"),
        "{message}"
    );
}

/// Cuts fall on whole seconds everywhere, the user's fractional bounds
/// included, so a service that drops fractions of seconds gives neither
/// an entry before the start nor loses one before the end.
#[tokio::test]
async fn fractional_bounds_are_exact_on_a_whole_second_service() {
    let first: DateTime<Utc> = "2021-03-01T08:00:00Z".parse().unwrap();
    let last: DateTime<Utc> = "2021-03-01T09:00:00Z".parse().unwrap();
    let data = Sandbox::builder()
        .contracts(vec![
            ContractSpec::new(MAIN_CONTRACT, 3_000)
                .burst(first, 800)
                .burst(last, 800),
        ])
        .end(end_of_2021())
        .span(TimeDelta::days(365));
    let sandbox = data.clone().whole_second_dates(true).start().await.unwrap();
    // The same data on a service that honours fractions tells what is right.
    let reference = data.start().await.unwrap();
    let since = first + TimeDelta::milliseconds(500);
    let until = last + TimeDelta::milliseconds(500);
    let events = download(&patient_log(&sandbox), since, until)
        .await
        .unwrap();
    let want = expected(&reference, since, until);
    let outside = expected(&reference, first, since).len();
    let inside_last = expected(&reference, last, until).len();
    assert!(
        outside > 100 && inside_last > 100,
        "the bursts must straddle both bounds ({outside}, {inside_last})"
    );
    assert_eq!(exactly_once(&events), want);
}

/// A second that holds many entries, but fewer than the result window, is
/// read whole, whatever splits fall around it.
#[tokio::test]
async fn a_busy_second_inside_a_large_range_is_read_whole() {
    let second: DateTime<Utc> = "2021-09-09T09:09:09Z".parse().unwrap();
    let sandbox = Sandbox::builder()
        .contracts(vec![
            ContractSpec::new(MAIN_CONTRACT, 30_000).burst(second, 9_000),
        ])
        .end(end_of_2021())
        .span(TimeDelta::days(365))
        .total_cap(Some(10_000))
        .start()
        .await
        .unwrap();
    let (since, until) = (sandbox.span_start(), sandbox.end());
    let events = download(&patient_log(&sandbox), since, until)
        .await
        .unwrap();
    let got = exactly_once(&events);
    assert_eq!(got.len(), 39_000);
    assert_eq!(got, expected(&sandbox, since, until));
}

/// The `activitylog` binary built from this source, pointed at `sandbox`.
fn cli_at(sandbox: &Sandbox) -> std::process::Command {
    activitylog_tests::cli::against(
        env!("CARGO_BIN_EXE_activitylog-under-test"),
        &activitylog_tests::cli::empty_home(),
        sandbox,
    )
}

/// A 429 with `Retry-After: 18446744073709551615` ended the run with
/// "internal error … overflow when adding durations". A wait longer than
/// the retry policy allows is an error that names the wait and what was
/// not fetched, at once (no sleep), whatever its form.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_longer_than_the_policy_fails_naming_the_wait() {
    for (retry_after, wait) in [
        ("18446744073709551615", "584942417355 years"),
        ("Fri, 31 Dec 9999 23:59:59 GMT", " years"),
    ] {
        let sandbox = year_of(1_000)
            .faults(Faults::rate(1.0).only([FaultKind::TooManyRequests]))
            .retry_after(retry_after)
            .start()
            .await
            .unwrap();
        let run = activitylog_tests::cli::run(
            cli_at(&sandbox),
            &[
                "entries",
                &MAIN_CONTRACT.to_string(),
                "--since",
                "2021-06-01",
                "--until",
                "2021-07-01",
                "--format",
                "ndjson",
            ],
        )
        .await;
        assert_eq!(run.code, Some(1), "{retry_after}: {}", run.stderr);
        let stderr = &run.stderr;
        assert!(!stderr.contains("internal error"), "{stderr}");
        assert!(
            stderr.contains("the service asked to wait")
                && stderr.contains(wait)
                && stderr.contains("(Retry-After), longer than the retry policy allows"),
            "the wait is not named: {stderr}"
        );
        assert!(
            stderr.contains("not fetched") && stderr.contains(&MAIN_CONTRACT.to_string()),
            "what was not fetched is not named: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

/// A `Retry-After` date in the past means "now": retried as usual, and
/// the download is exact.
#[tokio::test]
async fn a_retry_after_in_the_past_is_retried_as_usual() {
    let sandbox = year_of(3_000)
        .faults(Faults::rate(0.3).only([FaultKind::TooManyRequests]))
        .retry_after("Sun, 06 Nov 1994 08:49:37 GMT")
        .start()
        .await
        .unwrap();
    let (since, until) = (end_of_2021() - TimeDelta::days(365), end_of_2021());
    let events = download(&patient_log(&sandbox), since, until)
        .await
        .unwrap();
    assert_eq!(exactly_once(&events), expected(&sandbox, since, until));
    assert!(
        sandbox.fault_counts().get(FaultKind::TooManyRequests) > 0,
        "no 429 was sent"
    );
}

/// With the service's clock 5 minutes behind this machine's, a download
/// without an end reached 3 minutes past the service's `now − settle`: its
/// checkpoints claimed entries the service had not finished. The SDK asks
/// the service its time first (its `Date` header) and ends the range by it.
#[tokio::test]
async fn an_open_range_ends_by_the_service_clock() {
    let behind = TimeDelta::minutes(5);
    let sandbox = Sandbox::builder()
        .contracts(vec![ContractSpec::new(MAIN_CONTRACT, 5_000)])
        .span(TimeDelta::days(1))
        .clock_offset(-behind)
        .start()
        .await
        .unwrap();
    let log = patient_log(&sandbox);
    let since = Utc::now() - behind - TimeDelta::hours(2);
    let mut updates = log.entries(MAIN_CONTRACT).since(since).updates();
    let mut through = None;
    let mut events = Vec::new();
    while let Some(update) = updates.next().await {
        match update.unwrap() {
            Update::Events(batch) => events.extend(batch),
            Update::Completed { through: t } => through = Some(t),
            _ => {}
        }
    }
    let service_settled = Utc::now() - behind - TimeDelta::minutes(2);
    let through = through.expect("a checkpoint");
    assert!(
        through <= service_settled,
        "checkpointed through {through}, past the service's now − settle ({service_settled})"
    );
    assert_eq!(log.clock_offset().map(|o| o.num_minutes()), Some(-5));
    assert_eq!(exactly_once(&events), expected(&sandbox, since, through));
}

/// A patient client that assumes the result window is `result_window`.
fn log_assuming(sandbox: &Sandbox, result_window: u64) -> ActivityLog {
    let retry = RetryPolicy::default()
        .max_attempts(10)
        .initial_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(20));
    ActivityLog::new(
        Config::new(Credentials::token(&sandbox.credentials().token))
            .api_url(sandbox.url())
            .retry(retry)
            .result_window(result_window),
    )
    .unwrap()
}

/// The whole year of `sandbox` in pages of 250.
async fn export_year(
    log: &ActivityLog,
    sandbox: &Sandbox,
) -> activitylog_client::Result<Vec<RawEvent>> {
    log.entries(MAIN_CONTRACT)
        .since(sandbox.span_start())
        .until(sandbox.end())
        .page_size(250)
        .raw()
        .try_collect()
        .await
}

/// Requests the sandbox answered with 400.
fn refused(sandbox: &Sandbox) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| r.status == Some(400))
        .count()
}

/// A count capped below the result window (5,000 of 10,000 on a service
/// like Elasticsearch; here 500 of 1,000, and on down to 0), written either
/// way, is no reason to stop: a window ends where its pages end.
#[tokio::test]
async fn totals_capped_below_the_result_window_lose_no_entry() {
    for cap in [500, 100, 1, 0] {
        for form in [TotalForm::Integer, TotalForm::Tracked] {
            let sandbox = year_of(30_000)
                .result_window(Some(1_000))
                .total_cap(Some(cap))
                .total_form(form)
                .start()
                .await
                .unwrap();
            let events = export_year(&log_assuming(&sandbox, 1_000), &sandbox)
                .await
                .unwrap_or_else(|e| panic!("cap {cap}, {form:?}: {e}"));
            let got = exactly_once(&events);
            let want = expected(&sandbox, sandbox.span_start(), sandbox.end());
            assert_eq!(want.len(), 30_000);
            assert_eq!(got.len(), want.len(), "cap {cap}, {form:?}");
            assert_eq!(got, want, "cap {cap}, {form:?}");
            assert_eq!(refused(&sandbox), 0, "nothing paged past the window");
        }
    }
}

/// A count that changes from page to page (a live count, or a sloppy one),
/// still claiming to be exact: the windows are read until two reads agree.
#[tokio::test]
async fn a_total_that_changes_from_page_to_page_loses_no_entry() {
    for form in [TotalForm::Integer, TotalForm::Tracked] {
        let sandbox = year_of(30_000)
            .result_window(Some(1_000))
            .total_jitter(Some(40))
            .total_form(form)
            .start()
            .await
            .unwrap();
        let events = export_year(&log_assuming(&sandbox, 1_000), &sandbox)
            .await
            .unwrap_or_else(|e| panic!("{form:?}: {e}"));
        let want = expected(&sandbox, sandbox.span_start(), sandbox.end());
        assert_eq!(exactly_once(&events), want, "{form:?}");
    }
}

/// The service pages to 500 while the client assumes 1,000: the refusal
/// teaches the engine the real window (from its message, or by halving when
/// the message does not say), and the export goes on, complete. The client
/// keeps what it learned: a second export is refused nothing.
#[tokio::test]
async fn a_smaller_result_window_is_learned_not_fatal() {
    for unstated in [false, true] {
        let sandbox = year_of(30_000)
            .result_window(Some(500))
            .result_window_unstated(unstated)
            .start()
            .await
            .unwrap();
        let log = log_assuming(&sandbox, 1_000);
        let events = export_year(&log, &sandbox)
            .await
            .unwrap_or_else(|e| panic!("unstated {unstated}: {e}"));
        let want = expected(&sandbox, sandbox.span_start(), sandbox.end());
        assert_eq!(exactly_once(&events), want, "unstated {unstated}");
        let first = refused(&sandbox);
        assert!(
            first > 0,
            "the service never refused: this test proved nothing"
        );
        let again = export_year(&log, &sandbox).await.unwrap();
        assert_eq!(exactly_once(&again), want);
        assert_eq!(
            refused(&sandbox),
            first,
            "the second export was refused again"
        );
    }
}

/// The CLI says once, at `-v`, which result window it found.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_says_once_which_result_window_it_found() {
    let sandbox = year_of(30_000)
        .result_window(Some(5_000))
        .start()
        .await
        .unwrap();
    let command = activitylog_tests::cli::against(
        env!("CARGO_BIN_EXE_activitylog-under-test"),
        &activitylog_tests::cli::empty_home(),
        &sandbox,
    );
    let since = sandbox.span_start().to_rfc3339();
    let until = sandbox.end().to_rfc3339();
    let contract = MAIN_CONTRACT.to_string();
    let run = activitylog_tests::cli::run(
        command,
        &[
            "-v", "entries", &contract, "--since", &since, "--until", &until,
        ],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 30_000);
    let said = "the service's result window is 5000, not 10000; using 5000";
    assert_eq!(run.stderr.matches(said).count(), 1, "{}", run.stderr);
}
