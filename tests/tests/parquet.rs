//! `entries --format parquet --out FILE.parquet` end to end, read back by
//! DuckDB (PyPI `duckdb`, installed by tests/lake/install.sh the first time):
//! the same entries as the NDJSON export of the same range, the entries
//! exactly as received in `raw`, a killed export resumed exactly, and the
//! bad uses refused in one line.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use activitylog_sandbox::{MAIN_CONTRACT, Sandbox};
use activitylog_tests::cli::run;
use activitylog_tests::lake::{duckdb, sql_text};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_activitylog-under-test"))
}

/// The binary pointed at `url` with `token`, no IONOS_ variable inherited.
fn against(url: &str, token: &str) -> Command {
    let mut command =
        activitylog_tests::cli::isolated(binary(), &activitylog_tests::cli::empty_home());
    command.env("IONOS_API_URL", url).env("IONOS_TOKEN", token);
    command
}

fn at(sandbox: &Sandbox) -> Command {
    against(sandbox.url(), &sandbox.credentials().token)
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("activitylog-parquet-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn text(value: &Value) -> String {
    value.as_str().map(str::to_string).unwrap_or_default()
}

/// The `@uuid`s of `lines` (JSON texts).
fn uuids_of<'a>(lines: impl Iterator<Item = &'a str>) -> HashSet<String> {
    lines
        .map(|line| {
            let value: Value = serde_json::from_str(line).unwrap();
            text(&value["@uuid"])
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duckdb_reads_the_entries_of_the_ndjson_export_of_the_same_range() {
    let end = DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    // Wire variants: unknown fields and enum values, numbers for strings.
    let sandbox = Sandbox::builder()
        .end(end)
        .span(TimeDelta::days(30))
        .events(3000)
        .wire_variants(0.3)
        .start()
        .await
        .unwrap();
    let dir = scratch("duckdb");
    let range = [
        "--since".to_string(),
        rfc3339(end - TimeDelta::days(30)),
        "--until".to_string(),
        rfc3339(end),
    ];
    let export = |file: &Path| {
        let mut args = vec!["entries".to_string(), "31721060".to_string()];
        args.extend(range.iter().cloned());
        args.extend(["--out".to_string(), file.display().to_string()]);
        args
    };
    let ndjson = dir.join("entries.ndjson");
    let parquet = dir.join("entries.parquet");
    for file in [&ndjson, &parquet] {
        let args = export(file);
        let words: Vec<&str> = args.iter().map(String::as_str).collect();
        let result = run(at(&sandbox), &words).await;
        assert_eq!(result.code, Some(0), "{}", result.stderr);
    }
    let lines: Vec<String> = std::fs::read_to_string(&ndjson)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert!(lines.len() > 2500, "{} entries", lines.len());
    let mut users: BTreeMap<String, u64> = BTreeMap::new();
    for line in &lines {
        let value: Value = serde_json::from_str(line).unwrap();
        let user = value["principal"]["identity"]["username"].as_str();
        *users
            .entry(user.unwrap_or("(none)").to_string())
            .or_default() += 1;
    }

    let file = sql_text(&parquet);
    let answers = duckdb(&[
        format!("SELECT count(*) FROM {file}"),
        format!("SELECT uuid FROM {file}"),
        format!("SELECT coalesce(\"user\", '(none)'), count(*) FROM {file} GROUP BY 1"),
        format!("SELECT raw FROM {file}"),
        format!("SELECT count(*) FROM {file} WHERE contract = 31721060"),
    ]);
    assert_eq!(answers[0][0][0], lines.len() as u64, "count");
    let uuids: HashSet<String> = answers[1].iter().map(|row| text(&row[0])).collect();
    assert_eq!(
        uuids,
        uuids_of(lines.iter().map(String::as_str)),
        "@uuid set"
    );
    let grouped: BTreeMap<String, u64> = answers[2]
        .iter()
        .map(|row| (text(&row[0]), row[1].as_u64().unwrap()))
        .collect();
    assert_eq!(grouped, users, "GROUP BY user");
    let mut raw: Vec<String> = answers[3].iter().map(|row| text(&row[0])).collect();
    let mut sent = lines.clone();
    raw.sort();
    sent.sort();
    assert!(raw == sent, "raw is not every entry byte for byte as sent");
    assert_eq!(
        answers[4][0][0],
        lines.len() as u64,
        "the contract, sent as a string or a number, is a number"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_that_do_not_decode_or_are_unknown_keep_their_text() {
    let events = [
        r#"{"@uuid":"e-1","meta":{"time":"2024-01-01T10:00:00Z"},"principal":{"identity":{"contractNumber":31721060,"username":"alice@example.com"}},"event":{"type":"Provision","status":"DONE"}}"#,
        // `meta` is no object: the SDK cannot decode it.
        r#"{"@uuid":"e-2","meta":5,"event":{"type":"Provision"}}"#,
        // A status and a field this version does not know.
        r#"{"@uuid":"e-3","meta":{"time":"2024-01-01T11:00:00Z"},"event":{"type":"Provision","status":"FROBNICATED","newField":{"a":[1,2]}}}"#,
    ];
    let served: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    let server = activitylog_tests::MockServer::serving(served).await;
    let dir = scratch("odd");
    let file = dir.join("odd.parquet");
    let args = [
        "entries",
        "31721060",
        "--since",
        "2024-01-01",
        "--until",
        "2024-01-02",
        "--out",
        file.to_str().unwrap(),
    ];
    let result = run(against(server.url(), "t"), &args).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let answers = duckdb(&[format!(
        "SELECT uuid, undecodable, status, raw FROM {} ORDER BY uuid",
        sql_text(&file)
    )]);
    let rows = &answers[0];
    assert_eq!(rows.len(), 3, "{rows:?}");
    for (row, sent) in rows.iter().zip(events) {
        assert_eq!(text(&row[3]), sent, "raw is the entry as sent");
    }
    assert_eq!(rows[1][1], Value::Bool(true), "e-2 does not decode");
    assert_eq!(rows[0][1], Value::Bool(false));
    assert_eq!(
        text(&rows[2][2]),
        "FROBNICATED",
        "an unknown status is kept"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until the checkpoint at `path` records written entries.
fn wait_for_checkpoint(child: &mut std::process::Child, path: &Path) -> Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(text) = std::fs::read_to_string(path)
            && let Ok(state) = serde_json::from_str::<Value>(&text)
            && state["events"].as_u64().unwrap_or(0) > 0
        {
            return state;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the export ended ({status}) before a checkpoint with entries appeared");
        }
        assert!(Instant::now() < deadline, "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_parquet_export_resumed_has_every_entry_once() {
    let sandbox = Sandbox::builder()
        .events(30_000)
        .end(Utc::now() - TimeDelta::hours(1))
        .latency(Duration::from_millis(15))
        .start()
        .await
        .unwrap();
    let dir = scratch("resume");
    let out = dir.join("resume.parquet");
    let checkpoint = dir.join("resume.parquet.checkpoint");
    let args = [
        "entries",
        "31721060",
        "--since",
        "91d",
        "--page-size",
        "250",
        "--concurrency",
        "1",
        // A stretch completes every ~7,500 entries here: with row groups of
        // 20,000, the first stretch's checkpoint must wait for half a row
        // group (the next stretch's), as a row group ends only there.
        "--row-group-size",
        "20000",
        "--out",
        out.to_str().unwrap(),
        "--resume",
    ];
    let mut first = at(&sandbox);
    first.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    let path = checkpoint.clone();
    let state = tokio::task::spawn_blocking(move || {
        let mut child = first.spawn().expect("the activitylog binary starts");
        let state = wait_for_checkpoint(&mut child, &path);
        assert!(
            child.try_wait().unwrap().is_none(),
            "the export finished before it could be killed: make it slower"
        );
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
        state
    })
    .await
    .unwrap();
    assert!(!out.exists(), "a killed export must not leave its file");
    assert!(
        state["encoder"].is_string(),
        "the checkpoint records the row groups: {state}"
    );
    let through: DateTime<Utc> = state["through"].as_str().unwrap().parse().unwrap();
    let until: DateTime<Utc> = state["until"].as_str().unwrap().parse().unwrap();

    sandbox.clear_requests();
    let result = run(at(&sandbox), &args).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    assert!(result.stderr.contains("resuming"), "{}", result.stderr);
    let resumed_from = sandbox
        .requests()
        .iter()
        .filter_map(|r| {
            let query = r.query()?;
            let start = query
                .split('&')
                .find_map(|pair| pair.strip_prefix("dateStart="))?;
            start.replace("%3A", ":").parse::<DateTime<Utc>>().ok()
        })
        .min()
        .expect("the resumed run fetched entries");
    assert!(
        resumed_from >= through,
        "the resumed run started over ({resumed_from} < {through})"
    );

    let expected = sandbox.event_sources(
        MAIN_CONTRACT,
        sandbox.span_start() - TimeDelta::days(2),
        until,
    );
    let file = sql_text(&out);
    let answers = duckdb(&[
        format!("SELECT count(*), count(DISTINCT uuid) FROM {file}"),
        format!("SELECT uuid FROM {file}"),
        format!("SELECT count(*) FROM parquet_metadata({file}) WHERE column_id = 0"),
    ]);
    assert_eq!(
        answers[0][0],
        [expected.len() as u64, expected.len() as u64],
        "every entry once"
    );
    let uuids: HashSet<String> = answers[1].iter().map(|row| text(&row[0])).collect();
    assert_eq!(uuids, uuids_of(expected.iter().map(String::as_str)));
    assert!(
        answers[2][0][0].as_u64().unwrap() >= 2,
        "row groups of both runs: {:?}",
        answers[2]
    );
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(left.len(), 1, "only the file is left: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parquet_where_it_cannot_be_written_is_refused_in_one_line() {
    let dir = scratch("refused");
    let file = dir.join("x.parquet");
    let file = file.to_str().unwrap();
    let cases: [(&[&str], &str); 5] = [
        (
            &["entries", "31721060", "--format", "parquet"],
            "add --out FILE.parquet",
        ),
        (
            &["summary", "31721060", "--by", "user", "--format", "parquet"],
            "use it with `activitylog entries --out FILE.parquet`",
        ),
        (
            &["entries", "31721060", "--follow", "--out", file],
            "--follow",
        ),
        (
            &[
                "entries",
                "31721060",
                "--format",
                "csv",
                "--row-group-size",
                "9",
            ],
            "--row-group-size is for Parquet",
        ),
        (
            &[
                "entries",
                "31721060",
                "--out",
                file,
                "--row-group-size",
                "0",
            ],
            "--row-group-size",
        ),
    ];
    for (args, said) in cases {
        let result = run(against("http://127.0.0.1:9", "t"), args).await;
        assert_eq!(result.code, Some(2), "{args:?}: {}", result.stderr);
        assert_eq!(
            result.stderr.lines().count(),
            1,
            "{args:?}: {}",
            result.stderr
        );
        assert!(result.stderr.contains(said), "{args:?}: {}", result.stderr);
        assert!(result.stdout.is_empty(), "{args:?}: {}", result.stdout);
    }
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "no file written"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
