//! The `activitylog entries` filters and views end to end, over real HTTP on
//! 127.0.0.1 against a sandbox started in this test process: each filter
//! keeps exactly the entries a direct look at the unfiltered NDJSON export
//! keeps.

use std::path::PathBuf;
use std::process::Command;

use activitylog_sandbox::Sandbox;
use activitylog_tests::cli::run;
use chrono::{DateTime, SecondsFormat, Timelike, Utc};
use serde_json::Value;

/// The `activitylog` program, built by cargo from the current source for
/// this test run (as in `cli.rs`).
fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_activitylog-under-test"))
}

/// A command for the binary pointed at the sandbox, no other IONOS_ variable inherited.
fn at(sandbox: &Sandbox) -> Command {
    activitylog_tests::cli::against(binary(), &activitylog_tests::cli::empty_home(), sandbox)
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `entries` over the sandbox's whole range with `extra` flags; fails the
/// test unless it exits 0.
async fn entries(sandbox: &Sandbox, extra: &[&str]) -> String {
    let since = rfc3339(sandbox.span_start());
    let until = rfc3339(sandbox.end());
    let mut args = vec!["entries", "31721060", "--since", &since, "--until", &until];
    args.extend_from_slice(extra);
    let result = run(at(sandbox), &args).await;
    assert_eq!(result.code, Some(0), "{extra:?}: {}", result.stderr);
    result.stdout
}

/// The unfiltered NDJSON export, parsed.
async fn everything(sandbox: &Sandbox) -> Vec<Value> {
    entries(sandbox, &["--format", "ndjson"])
        .await
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is JSON"))
        .collect()
}

/// The uuids of NDJSON lines.
fn uuids(ndjson: &str) -> Vec<String> {
    ndjson
        .lines()
        .map(|line| {
            let event: Value = serde_json::from_str(line).expect("each line is JSON");
            uuid(&event)
        })
        .collect()
}

fn uuid(event: &Value) -> String {
    event["@uuid"].as_str().unwrap_or_default().to_string()
}

fn text<'a>(event: &'a Value, pointer: &str) -> &'a str {
    event.pointer(pointer).and_then(Value::as_str).unwrap_or("")
}

/// Whether a sandbox `sourceIP` starts with the given textual prefix (what a
/// /24 of IPv4 or a /32 of `2001:db8::` selects for the addresses it makes).
fn ip_starts(event: &Value, prefix: &str) -> bool {
    text(event, "/principal/sourceIP").starts_with(prefix)
}

fn resource_ids(event: &Value) -> Vec<&str> {
    event["event"]["resources"]
        .as_array()
        .map(|rs| rs.iter().filter_map(|r| r["id"].as_str()).collect())
        .unwrap_or_default()
}

type Expectation = Box<dyn Fn(&Value) -> bool>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_filter_keeps_what_the_raw_export_says() {
    let sandbox = Sandbox::builder().events(3_000).start().await.unwrap();
    let all = everything(&sandbox).await;
    assert_eq!(all.len(), 3_000);
    let some = &all[7];
    let other = &all[1_234];
    let some_resource = resource_ids(some)[0].to_string();
    let other_resource = resource_ids(other)[0].to_string();
    let some_request = text(some, "/meta/requestId").to_string();
    let other_request = text(other, "/meta/requestId").to_string();
    let some_ip = text(some, "/principal/sourceIP").to_string();

    let cases: Vec<(Vec<String>, Expectation)> = vec![
        (
            vec!["--resource-id".into(), some_resource.to_uppercase()],
            Box::new({
                let id = some_resource.clone();
                move |e| resource_ids(e).contains(&id.as_str())
            }),
        ),
        (
            vec![
                "--resource-id".into(),
                some_resource.clone(),
                "--resource-id".into(),
                other_resource.clone(),
            ],
            Box::new({
                let (a, b) = (some_resource.clone(), other_resource.clone());
                move |e| {
                    let ids = resource_ids(e);
                    ids.contains(&a.as_str()) || ids.contains(&b.as_str())
                }
            }),
        ),
        (
            vec!["--source-ip".into(), "192.0.2.0/24".into()],
            Box::new(|e| ip_starts(e, "192.0.2.")),
        ),
        (
            vec!["--source-ip".into(), "2001:db8::/32".into()],
            Box::new(|e| ip_starts(e, "2001:db8:")),
        ),
        (
            vec!["--source-ip".into(), "203.0.113.0/24,2001:db8::/32".into()],
            Box::new(|e| ip_starts(e, "203.0.113.") || ip_starts(e, "2001:db8:")),
        ),
        (
            vec!["--source-ip".into(), some_ip.clone()],
            Box::new({
                let ip = some_ip.clone();
                move |e| text(e, "/principal/sourceIP") == ip
            }),
        ),
        (
            vec![
                "--request-id".into(),
                format!("{some_request},{other_request}"),
            ],
            Box::new({
                let (a, b) = (some_request.clone(), other_request.clone());
                move |e| {
                    let id = text(e, "/meta/requestId");
                    id == a || id == b
                }
            }),
        ),
        (
            vec![
                "--exclude-user".into(),
                "ALICE@example.com".into(),
                "--exclude-user".into(),
                "bob@example.com".into(),
            ],
            Box::new(|e| {
                let user = text(e, "/principal/identity/username");
                user != "alice@example.com" && user != "bob@example.com"
            }),
        ),
        (
            vec![
                "--grep".into(),
                "IPBLOCKS".into(),
                "--grep".into(),
                "^request accepted$".into(),
            ],
            Box::new(|e| {
                let uri = text(e, "/event/param/uri").to_lowercase();
                let message = text(e, "/event/message").to_lowercase();
                uri.contains("ipblocks")
                    || message.contains("ipblocks")
                    || message == "request accepted"
            }),
        ),
        (
            // AND across filters, OR within one.
            vec![
                "--source-ip".into(),
                "198.51.100.0/24,192.0.2.0/24".into(),
                "--exclude-user".into(),
                "alice@example.com".into(),
                "--grep".into(),
                "/servers".into(),
                "--type".into(),
                "Provision".into(),
            ],
            Box::new(|e| {
                (ip_starts(e, "198.51.100.") || ip_starts(e, "192.0.2."))
                    && text(e, "/principal/identity/username") != "alice@example.com"
                    && (text(e, "/event/param/uri").contains("/servers")
                        || text(e, "/event/message").contains("/servers"))
                    && text(e, "/event/type") == "Provision"
            }),
        ),
    ];
    for (flags, keep) in cases {
        let expected: Vec<String> = all.iter().filter(|e| keep(e)).map(uuid).collect();
        assert!(
            !expected.is_empty(),
            "{flags:?} selects nothing in the data"
        );
        assert!(expected.len() < all.len(), "{flags:?} selects everything");
        let mut args: Vec<&str> = vec!["--format", "ndjson"];
        args.extend(flags.iter().map(String::as_str));
        let got = uuids(&entries(&sandbox, &args).await);
        assert_eq!(got, expected, "{flags:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_filter_and_view_values_exit_2_with_one_line_before_any_request() {
    let sandbox = Sandbox::builder().events(100).start().await.unwrap();
    for args in [
        &["entries", "31721060", "--grep", "("][..],
        &["entries", "31721060", "--grep", "[a-"],
        &["entries", "31721060", "--source-ip", "192.0.2.0/33"],
        &["entries", "31721060", "--source-ip", "not-an-ip"],
        &["entries", "31721060", "--source-ip", "2001:db8::/129"],
        &["entries", "31721060", "--limit", "0"],
        &["entries", "31721060", "-n", "many"],
        &[
            "entries",
            "31721060",
            "--columns",
            "time,nope",
            "--format",
            "csv",
        ],
        &["entries", "31721060", "--columns", "", "--format", "csv"],
        &[
            "entries",
            "31721060",
            "--columns",
            "time",
            "--format",
            "ndjson",
        ],
        &["entries", "31721060", "--tz", "Mars/Olympus_Mons"],
        &["entries", "31721060", "--tz", "Asia/Tokyo", "--local"],
    ] {
        let result = run(at(&sandbox), args).await;
        assert_eq!(result.code, Some(2), "{args:?}: {}", result.stderr);
        assert_eq!(
            result.stderr.lines().count(),
            1,
            "{args:?}: {}",
            result.stderr
        );
        assert!(
            result.stderr.starts_with("error: "),
            "{args:?}: {}",
            result.stderr
        );
        assert!(result.stdout.is_empty(), "{args:?}: {}", result.stdout);
    }
    assert!(
        sandbox.requests().is_empty(),
        "usage errors are found before any request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limit_writes_exactly_n_entries_exits_0_and_stops_fetching() {
    let sandbox = Sandbox::builder().events(3_000).start().await.unwrap();
    let all = everything(&sandbox).await;
    let before = sandbox.requests().len();
    let paged = entries(&sandbox, &["--format", "ndjson", "--page-size", "100"]).await;
    assert_eq!(paged.lines().count(), all.len());
    let full_run = sandbox.requests().len() - before;
    let first_five: Vec<String> = all.iter().take(5).map(uuid).collect();

    let before = sandbox.requests().len();
    let out = entries(
        &sandbox,
        &["--format", "ndjson", "--limit", "5", "--page-size", "100"],
    )
    .await;
    let limited_run = sandbox.requests().len() - before;
    assert_eq!(out.lines().count(), 5, "{out}");
    assert_eq!(uuids(&out), first_five);
    eprintln!("{limited_run} requests for 5 entries, {full_run} for all of them");
    assert!(
        full_run >= 30 && limited_run * 3 < full_run,
        "{limited_run} requests for 5 entries, {full_run} for all of them"
    );

    // After filtering, and in every format: -n counts written entries.
    let alice: Vec<String> = all
        .iter()
        .filter(|e| text(e, "/principal/identity/username") == "alice@example.com")
        .take(3)
        .map(uuid)
        .collect();
    let out = entries(
        &sandbox,
        &[
            "--format",
            "ndjson",
            "-n",
            "3",
            "--user",
            "alice@example.com",
        ],
    )
    .await;
    assert_eq!(uuids(&out), alice);
    let csv = entries(&sandbox, &["--format", "csv", "-n", "5"]).await;
    assert_eq!(csv.lines().count(), 6, "a header and 5 rows: {csv}");

    // A limited export to a file is a complete file of N entries.
    let dir = std::env::temp_dir().join(format!("activitylog-filters-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("five.json");
    let _ = std::fs::remove_file(&file);
    let path = file.to_string_lossy().into_owned();
    entries(&sandbox, &["--out", &path, "-n", "5"]).await;
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let got: Vec<String> = json.as_array().unwrap().iter().map(uuid).collect();
    assert_eq!(got, first_five);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn columns_pick_exactly_those_csv_headers_in_that_order() {
    let sandbox = Sandbox::builder().events(500).start().await.unwrap();
    let all = everything(&sandbox).await;
    let csv = entries(
        &sandbox,
        &[
            "--format",
            "csv",
            "--columns",
            "uuid,source_ip,request_id,time",
        ],
    )
    .await;
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("uuid,source_ip,request_id,time"));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), all.len());
    for (row, event) in rows.iter().zip(&all) {
        let expected = [
            uuid(event),
            text(event, "/principal/sourceIP").to_string(),
            text(event, "/meta/requestId").to_string(),
            text(event, "/meta/time").to_string(),
        ]
        .join(",");
        assert_eq!(*row, expected);
    }

    // The table takes the same names, in the same order.
    let table = entries(
        &sandbox,
        &[
            "--format",
            "table",
            "--columns",
            "request_id,user",
            "-n",
            "2",
        ],
    )
    .await;
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("REQUEST ID"), "{header}");
    assert!(header.trim_end().ends_with("USER"), "{header}");
    let first = lines.next().unwrap();
    assert!(
        first.starts_with(text(&all[0], "/meta/requestId")),
        "{first}"
    );
    assert!(
        first
            .trim_end()
            .ends_with(text(&all[0], "/principal/identity/username")),
        "{first}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tz_shifts_table_and_csv_times_and_never_ndjson() {
    let sandbox = Sandbox::builder().events(200).start().await.unwrap();
    let all = everything(&sandbox).await;
    let table_times = |table: &str| -> Vec<DateTime<chrono::FixedOffset>> {
        table
            .lines()
            .skip(1)
            .map(|row| {
                let cell = row.split_whitespace().next().unwrap_or_default();
                DateTime::parse_from_rfc3339(cell).unwrap_or_else(|_| panic!("{row}"))
            })
            .collect()
    };
    let utc = entries(&sandbox, &["--format", "table"]).await;
    let tokyo = entries(&sandbox, &["--format", "table", "--tz", "Asia/Tokyo"]).await;
    assert!(utc.starts_with("TIME (UTC)"), "{utc}");
    assert!(tokyo.starts_with("TIME (Asia/Tokyo)"), "{tokyo}");
    let (utc_times, tokyo_times) = (table_times(&utc), table_times(&tokyo));
    assert_eq!(utc_times.len(), all.len());
    assert_eq!(utc_times, tokyo_times, "the same instants");
    for (u, t) in utc_times.iter().zip(&tokyo_times) {
        assert_eq!(u.offset().local_minus_utc(), 0);
        assert_eq!(t.offset().local_minus_utc(), 9 * 3600);
        assert_eq!(
            t.naive_local() - u.naive_local(),
            chrono::TimeDelta::hours(9)
        );
    }
    let sent: DateTime<Utc> = text(&all[0], "/meta/time").parse().unwrap();
    assert_eq!(utc_times[0], sent.with_nanosecond(0).unwrap());

    // --local follows TZ; CSV converts too, keeping the milliseconds.
    let mut command = at(&sandbox);
    command.env("TZ", "Asia/Tokyo");
    let since = rfc3339(sandbox.span_start());
    let until = rfc3339(sandbox.end());
    let local = run(
        command,
        &[
            "entries",
            "31721060",
            "--since",
            &since,
            "--until",
            &until,
            "--local",
            "--format",
            "csv",
            "--columns",
            "time",
            "-n",
            "1",
        ],
    )
    .await;
    assert_eq!(local.code, Some(0), "{}", local.stderr);
    let expected = sent
        .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).unwrap())
        .to_rfc3339_opts(SecondsFormat::AutoSi, false);
    assert_eq!(local.stdout, format!("time\n{expected}\n"));

    let ndjson = entries(&sandbox, &["--format", "ndjson", "--tz", "Asia/Tokyo"]).await;
    let plain = entries(&sandbox, &["--format", "ndjson"]).await;
    assert_eq!(ndjson, plain, "NDJSON stays exactly as received");
}
