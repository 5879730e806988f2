//! `--follow` and [`Entries::follow`](activitylog_client::Entries::follow)
//! end to end, over real HTTP against a live sandbox: entries keep arriving
//! (some late), and what was followed up to the last checkpoint is exactly
//! what the sandbox holds there.

use std::collections::HashSet;
use std::time::Duration;

use activitylog_client::{ActivityLog, Config, Credentials, Error, RawEvent, RetryPolicy, Update};
use activitylog_sandbox::{Faults, MAIN_CONTRACT, Sandbox};
use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;

/// A client that retries fast and often (faults are injected on purpose).
fn patient_log(sandbox: &Sandbox, token: &str) -> ActivityLog {
    log_with(sandbox, token, 10)
}

/// A client that makes `attempts` attempts per request, fast.
fn log_with(sandbox: &Sandbox, token: &str, attempts: u32) -> ActivityLog {
    let retry = RetryPolicy::default()
        .max_attempts(attempts)
        .initial_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(20));
    ActivityLog::new(
        Config::new(Credentials::token(token))
            .api_url(sandbox.url())
            .retry(retry),
    )
    .unwrap()
}

/// A sandbox whose log grows every 20 ms, each entry visible up to 300 ms late.
async fn live_sandbox(faults: Option<Faults>) -> Sandbox {
    let mut builder = Sandbox::builder()
        .events(200)
        .live(Duration::from_millis(20))
        .ingestion_lag(Duration::from_millis(300));
    if let Some(faults) = faults {
        builder = builder.faults(faults);
    }
    builder.start().await.unwrap()
}

/// What a follow yielded until it was dropped.
struct Followed {
    events: Vec<RawEvent>,
    through: DateTime<Utc>,
    checkpoints: usize,
}

/// Follows for `run`, failing on any error item.
async fn follow_for(log: &ActivityLog, since: DateTime<Utc>, run: Duration) -> Followed {
    let mut stream = log
        .entries(MAIN_CONTRACT)
        .since(since)
        .settle(Duration::from_secs(1))
        .page_size(50)
        .follow(Duration::from_millis(200));
    let mut followed = Followed {
        events: Vec::new(),
        through: since,
        checkpoints: 0,
    };
    let deadline = tokio::time::sleep(run);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            item = stream.next() => match item.expect("a follow never ends by itself") {
                Ok(Update::Events(batch)) => followed.events.extend(batch),
                Ok(Update::Completed { through }) => {
                    assert!(through > followed.through, "checkpoints only move forward");
                    followed.through = through;
                    followed.checkpoints += 1;
                }
                Ok(_) => {}
                Err(error) => panic!("the follow failed: {error}"),
            },
        }
    }
    followed
}

/// Checks that every entry was yielded once, and that those before the last
/// checkpoint are exactly the sandbox's.
async fn assert_exact(sandbox: &Sandbox, since: DateTime<Utc>, followed: &Followed) {
    // Past the lag: everything stamped before the checkpoint is stored by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids: Vec<String> = followed
        .events
        .iter()
        .map(|e| e.uuid().expect("sandbox events have @uuid").into_owned())
        .collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an entry was yielded twice");
    let before: HashSet<String> = followed
        .events
        .iter()
        .filter(|e| e.time().is_some_and(|t| t < followed.through))
        .map(|e| e.uuid().unwrap_or_default().into_owned())
        .collect();
    let expected: HashSet<String> = sandbox
        .event_uuids(MAIN_CONTRACT, since, followed.through)
        .into_iter()
        .collect();
    assert!(
        followed.checkpoints >= 2,
        "the follow checkpointed only {} times",
        followed.checkpoints
    );
    assert!(
        expected.len() > 20,
        "the live log was too quiet: {}",
        expected.len()
    );
    let missing: Vec<_> = expected.difference(&before).take(5).collect();
    let extra: Vec<_> = before.difference(&expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?} (of {} expected)",
        expected.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_yields_every_live_entry_once_late_ones_included() {
    let sandbox = live_sandbox(None).await;
    let since = Utc::now() - TimeDelta::seconds(5);
    let log = patient_log(&sandbox, &sandbox.credentials().token);
    let followed = follow_for(&log, since, Duration::from_secs(3)).await;
    assert_exact(&sandbox, since, &followed).await;
}

/// Entries that show up later than the settle time (here up to 1.5 s late
/// with a 1 s settle) are caught by the overlap each poll re-reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_later_than_the_settle_time_are_caught_by_the_overlap() {
    let sandbox = Sandbox::builder()
        .events(200)
        .live(Duration::from_millis(20))
        .ingestion_lag(Duration::from_millis(1_500))
        .start()
        .await
        .unwrap();
    let since = Utc::now() - TimeDelta::seconds(5);
    let log = patient_log(&sandbox, &sandbox.credentials().token);
    let mut followed = follow_for(&log, since, Duration::from_secs(4)).await;
    // Those stamped in the last overlap may still be on their way.
    followed.through -= TimeDelta::seconds(1);
    assert_exact(&sandbox, since, &followed).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_keeps_going_through_faults_and_stays_exact() {
    let sandbox = live_sandbox(Some(Faults::rate(0.3))).await;
    let since = Utc::now() - TimeDelta::seconds(5);
    // Two attempts per request: many polls fail and the follow itself retries.
    let log = log_with(&sandbox, &sandbox.credentials().token, 2);
    let followed = follow_for(&log, since, Duration::from_secs(4)).await;
    assert_exact(&sandbox, since, &followed).await;
}

#[tokio::test]
async fn a_rejected_token_ends_the_follow_with_unauthorized() {
    let sandbox = live_sandbox(None).await;
    let log = patient_log(&sandbox, "not-the-token");
    let mut stream = log
        .entries(MAIN_CONTRACT)
        .since(Utc::now() - TimeDelta::seconds(30))
        .settle(Duration::from_secs(1))
        .follow(Duration::from_millis(200));
    let first = stream.next().await.expect("an error item");
    assert!(matches!(first, Err(Error::Unauthorized)), "{first:?}");
    assert!(stream.next().await.is_none(), "the follow ended");
}

// The CLI: `activitylog entries --follow`, the binary cargo built from the
// current source (see `binary()` in tests/tests/cli.rs).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// The `activitylog` program, built by cargo from the current source.
fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_activitylog-under-test"))
}

/// A command for the binary pointed at the sandbox, no IONOS_ variable inherited.
fn at(sandbox: &Sandbox) -> Command {
    activitylog_tests::cli::against(binary(), &activitylog_tests::cli::empty_home(), sandbox)
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("activitylog-follow-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Sends `signal` to the child.
fn send(child: &Child, signal: i32) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on a child we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill failed");
}

/// Waits for the child to exit; its exit code and stderr.
async fn finish(mut child: Child) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the follow does not end");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read;
        pipe.read_to_string(&mut stderr).unwrap();
    }
    (status.code(), stderr)
}

/// Lets the child run for `run`, failing if it ends by itself.
async fn running_for(child: &mut Child, run: Duration) {
    tokio::time::sleep(run).await;
    if let Some(status) = child.try_wait().unwrap() {
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            use std::io::Read;
            pipe.read_to_string(&mut stderr).unwrap();
        }
        panic!("the follow ended by itself ({status}): {stderr}");
    }
}

/// The `@uuid` and `meta.time` of each NDJSON line; fails on a duplicate.
fn entries_once(text: &str) -> Vec<(String, DateTime<Utc>)> {
    let mut seen = HashSet::new();
    text.lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("an NDJSON line");
            let uuid = value["@uuid"].as_str().expect("@uuid").to_string();
            let time = value["meta"]["time"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .expect("meta.time");
            assert!(seen.insert(uuid.clone()), "{uuid} was written twice");
            (uuid, time)
        })
        .collect()
}

/// Checks the followed entries before `through` against the sandbox's.
async fn assert_followed(
    sandbox: &Sandbox,
    since: DateTime<Utc>,
    through: DateTime<Utc>,
    entries: &[(String, DateTime<Utc>)],
) {
    tokio::time::sleep(Duration::from_millis(500)).await; // past the lag
    let before: HashSet<&str> = entries
        .iter()
        .filter(|(_, time)| *time < through)
        .map(|(uuid, _)| uuid.as_str())
        .collect();
    let expected = sandbox.event_uuids(MAIN_CONTRACT, since, through);
    assert!(
        expected.len() > 20,
        "the live log was too quiet: {}",
        expected.len()
    );
    let expected: HashSet<&str> = expected.iter().map(String::as_str).collect();
    let missing: Vec<_> = expected.difference(&before).take(5).collect();
    let extra: Vec<_> = before.difference(&expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?} (of {} expected)",
        expected.len()
    );
}

fn follow_args(since: &str) -> Vec<String> {
    [
        "entries",
        &MAIN_CONTRACT.to_string(),
        "--since",
        since,
        "--follow",
        "--interval",
        "200ms",
        "--settle",
        "1s",
        "--format",
        "ndjson",
        "-v",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_to_stdout_until_sigint_writes_every_entry_once() {
    let sandbox = live_sandbox(None).await;
    let dir = scratch("stdout");
    let since = rfc3339(Utc::now() - TimeDelta::seconds(5));
    let stdout = std::fs::File::create(dir.join("out.ndjson")).unwrap();
    let mut child = at(&sandbox)
        .args(follow_args(&since))
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    running_for(&mut child, Duration::from_secs(3)).await;
    send(&child, libc::SIGINT);
    let (code, stderr) = finish(child).await;
    assert_eq!(code, Some(130), "{stderr}");
    // "interrupted by SIGINT: followed contract N through T, ..."
    let through = stderr
        .split("through ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        .unwrap_or_else(|| panic!("no `through` in {stderr}"));
    let text = std::fs::read_to_string(dir.join("out.ndjson")).unwrap();
    let entries = entries_once(&text);
    assert_followed(&sandbox, since.parse().unwrap(), through, &entries).await;
    let _ = std::fs::remove_dir_all(&dir);
}

/// `through` and the entries of a resumable follow's checkpoint and part.
fn resumable_state(out: &Path) -> (DateTime<Utc>, Vec<(String, DateTime<Utc>)>) {
    let checkpoint = out.with_file_name("out.ndjson.checkpoint");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(checkpoint).unwrap()).unwrap();
    let through = state["through"].as_str().unwrap().parse().unwrap();
    let bytes = usize::try_from(state["bytes"].as_u64().unwrap()).unwrap();
    let part = std::fs::read(out.with_file_name("out.ndjson.part")).unwrap();
    let text = String::from_utf8(part[..bytes].to_vec()).unwrap();
    (through, entries_once(&text))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumable_follow_killed_and_rerun_has_no_gap_and_no_duplicate() {
    let sandbox = live_sandbox(None).await;
    let dir = scratch("resume");
    let out = dir.join("out.ndjson");
    let since = rfc3339(Utc::now() - TimeDelta::seconds(5));
    let command = |sandbox: &Sandbox| {
        let mut command = at(sandbox);
        command
            .args(follow_args(&since))
            .args(["--out", out.to_str().unwrap(), "--resume"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        command
    };
    let mut first = command(&sandbox).spawn().unwrap();
    running_for(&mut first, Duration::from_secs(2)).await;
    send(&first, libc::SIGKILL);
    let (code, _) = finish(first).await;
    assert_eq!(code, None, "killed");
    let (killed_at, _) = resumable_state(&out);

    let mut second = command(&sandbox).spawn().unwrap();
    running_for(&mut second, Duration::from_secs(2)).await;
    send(&second, libc::SIGTERM);
    let (code, stderr) = finish(second).await;
    assert_eq!(code, Some(143), "{stderr}");
    assert!(stderr.contains("resuming"), "{stderr}");
    let (through, entries) = resumable_state(&out);
    assert!(through > killed_at, "the rerun followed on");
    assert_followed(&sandbox, since.parse().unwrap(), through, &entries).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn follow_with_until_is_a_usage_error() {
    let sandbox = live_sandbox(None).await;
    let output = at(&sandbox)
        .args([
            "entries",
            &MAIN_CONTRACT.to_string(),
            "--follow",
            "--until",
            "now",
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_follow_from_now_stopped_by_sigterm_is_a_complete_array() {
    let sandbox = live_sandbox(None).await;
    let dir = scratch("json");
    let stdout = std::fs::File::create(dir.join("out.json")).unwrap();
    let mut child = at(&sandbox)
        .args([
            "entries",
            &MAIN_CONTRACT.to_string(),
            "--since",
            "now",
            "-f",
            "--interval",
            "200ms",
            "--settle",
            "1s",
            "--format",
            "json",
        ])
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    running_for(&mut child, Duration::from_secs(3)).await;
    send(&child, libc::SIGTERM);
    let (code, stderr) = finish(child).await;
    assert_eq!(code, Some(143), "{stderr}");
    let text = std::fs::read_to_string(dir.join("out.json")).unwrap();
    let array: Vec<serde_json::Value> =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not a JSON array ({e}): {text}"));
    assert!(!array.is_empty(), "entries after the start were followed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_ends_a_cli_follow_with_exit_1() {
    let sandbox = live_sandbox(None).await;
    let output = at(&sandbox)
        .env("IONOS_TOKEN", "not-the-token")
        .args(follow_args("1m"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("unauthorized (HTTP 401)"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_follow_applies_filters_and_writes_the_header_once() {
    let sandbox = live_sandbox(None).await;
    let dir = scratch("csv");
    let stdout = std::fs::File::create(dir.join("out.csv")).unwrap();
    let since = rfc3339(Utc::now() - TimeDelta::seconds(5));
    let mut args = follow_args(&since);
    for arg in &mut args {
        if arg == "ndjson" {
            *arg = "csv".to_string();
        }
    }
    args.extend(["--type", "Provision"].map(String::from));
    let mut child = at(&sandbox)
        .args(&args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    running_for(&mut child, Duration::from_secs(3)).await;
    send(&child, libc::SIGINT);
    let (code, stderr) = finish(child).await;
    assert_eq!(code, Some(130), "{stderr}");
    let text = std::fs::read_to_string(dir.join("out.csv")).unwrap();
    let mut lines = text.lines();
    let header = lines.next().expect("a header");
    assert!(header.starts_with("time,uuid,"), "{header}");
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    assert!(!rows.is_empty(), "no Provision entry was followed");
    let uuids: HashSet<&str> = rows.iter().map(|row| row[1]).collect();
    assert_eq!(uuids.len(), rows.len(), "a row was written twice");
    for row in &rows {
        assert!(row.contains(&"Provision"), "{row:?}");
        assert_ne!(row[0], "time", "the header was written again");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// With the service's clock 5 minutes behind this machine's, `--follow`
/// wrote the first few entries and then nothing, silently: its polls asked
/// for time the service had not reached, and checkpointed past it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_against_a_service_clock_behind_writes_every_entry_it_appends() {
    let behind = TimeDelta::minutes(5);
    let sandbox = Sandbox::builder()
        .events(200)
        .live(Duration::from_millis(20))
        .ingestion_lag(Duration::from_millis(300))
        .clock_offset(-behind)
        .start()
        .await
        .unwrap();
    let dir = scratch("service-clock");
    let since = rfc3339(Utc::now() - behind - TimeDelta::seconds(5));
    let stdout = std::fs::File::create(dir.join("out.ndjson")).unwrap();
    let mut child = at(&sandbox)
        .args(follow_args(&since))
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Longer than the other follows: the `Date` header has whole seconds,
    // so the service's now is known up to a second early.
    running_for(&mut child, Duration::from_secs(5)).await;
    send(&child, libc::SIGINT);
    let (code, stderr) = finish(child).await;
    assert_eq!(code, Some(130), "{stderr}");
    let through = stderr
        .split("through ")
        .nth(1)
        .and_then(|rest| rest.split(',').next())
        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        .unwrap_or_else(|| panic!("no `through` in {stderr}"));
    let service_now = Utc::now() - behind;
    assert!(
        through <= service_now,
        "checkpointed through {through}, past the service's now {service_now}"
    );
    let text = std::fs::read_to_string(dir.join("out.ndjson")).unwrap();
    let entries = entries_once(&text);
    assert_followed(&sandbox, since.parse().unwrap(), through, &entries).await;
    let appended = entries
        .iter()
        .filter(|(_, time)| *time > since.parse::<DateTime<Utc>>().unwrap() + TimeDelta::seconds(5))
        .count();
    assert!(
        appended > 20,
        "only {appended} of the entries appended while following were written"
    );
    assert!(
        stderr.contains("warning: the service's clock is 5m") && stderr.contains("behind"),
        "the clocks' difference is not said: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
