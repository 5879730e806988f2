//! The `activitylog` binary end to end, over real HTTP on 127.0.0.1 against
//! a sandbox started in this test process.
//!
//! The binary is the one cargo built beside this test (`target/<profile>/`);
//! `cargo test --workspace` builds it, `cargo build -p activitylog-cli` too.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use activitylog_sandbox::{ContractSpec, FOREIGN_CONTRACT, Faults, MAIN_CONTRACT, Sandbox};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

/// The `activitylog` binary next to this test executable.
fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    // target/<profile>/deps/cli-<hash> → target/<profile>/activitylog
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let binary = profile_dir.join(format!("activitylog{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.exists(),
        "{} is missing: run `cargo build -p activitylog-cli` (or `cargo test --workspace`) first",
        binary.display()
    );
    binary
}

/// A command for the binary with no IONOS_ variable inherited.
fn bare() -> Command {
    let mut command = Command::new(binary());
    for name in [
        "IONOS_TOKEN",
        "IONOS_USERNAME",
        "IONOS_PASSWORD",
        "IONOS_API_URL",
    ] {
        command.env_remove(name);
    }
    command.env("COLUMNS", "160").stdin(Stdio::null());
    command
}

/// A command for the binary pointed at `url` with `token`.
fn against(url: &str, token: &str) -> Command {
    let mut command = bare();
    command.env("IONOS_API_URL", url).env("IONOS_TOKEN", token);
    command
}

/// A command for the binary pointed at the sandbox with its token.
fn at(sandbox: &Sandbox) -> Command {
    against(sandbox.url(), &sandbox.credentials().token)
}

/// What a finished run left.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `command` with `args` without blocking the runtime the sandbox serves on.
async fn run(mut command: Command, args: &[&str]) -> Run {
    command.args(args);
    let output: Output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("the runner thread finished")
        .expect("the activitylog binary runs");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("activitylog-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Checks an NDJSON export against `expected`, the sandbox's `_source` texts
/// of the range in API order: every entry, in order, each once, each line
/// byte for byte what the API sent.
fn assert_exact_export(text: &str, expected: &[String]) {
    let lines: Vec<&str> = text.lines().collect();
    let distinct: HashSet<&str> = lines.iter().copied().collect();
    assert_eq!(distinct.len(), lines.len(), "a line appears twice");
    assert_eq!(lines.len(), expected.len(), "entry count");
    if let Some(i) = (0..lines.len()).find(|&i| lines[i] != expected[i]) {
        panic!(
            "line {} is not what the API sent there:\n  got      {}\n  expected {}",
            i + 1,
            lines[i],
            expected[i]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_command_prints_a_table_of_entries() {
    let result = run(
        bare(),
        &[
            "--sandbox",
            "entries",
            "31721060",
            "--since",
            "30d",
            "--format",
            "table",
        ],
    )
    .await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    assert!(result.stderr.is_empty(), "stderr: {}", result.stderr);
    let mut lines = result.stdout.lines();
    let header = lines.next().expect("a header line");
    for column in [
        "TIME (UTC)",
        "USER",
        "SOURCE IP",
        "TYPE",
        "STATUS",
        "RESOURCES",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let rows: Vec<&str> = lines.collect();
    // 10,000 entries over 90 days: about a third fall in the last 30 days.
    assert!(rows.len() > 1_000, "{} rows", rows.len());
    let month_ago = Utc::now() - TimeDelta::days(30) - TimeDelta::minutes(5);
    for row in &rows {
        assert!(row.chars().count() <= 160, "wider than COLUMNS: {row}");
        let time: DateTime<Utc> = row
            .split_whitespace()
            .next()
            .and_then(|t| t.parse().ok())
            .unwrap_or_else(|| panic!("a row starts with its time: {row}"));
        assert!(time >= month_ago, "{row}");
        assert!(row.contains("@example.com"), "{row}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ndjson_export_of_100k_entries_is_exactly_the_sandbox_set() {
    let sandbox = Sandbox::builder()
        .events(100_000)
        .wire_variants(0.2)
        .request_log(false)
        .start()
        .await
        .unwrap();
    let (since, until) = (sandbox.span_start(), sandbox.end());
    let expected = sandbox.event_sources(MAIN_CONTRACT, since, until);
    assert_eq!(expected.len(), 100_000);
    let dir = scratch("export");
    for concurrency in ["1", "4"] {
        let out = dir.join(format!("c{concurrency}.ndjson"));
        let started = Instant::now();
        let result = run(
            at(&sandbox),
            &[
                "entries",
                "31721060",
                "--since",
                &rfc3339(since),
                "--until",
                &rfc3339(until),
                "--concurrency",
                concurrency,
                "--out",
                out.to_str().unwrap(),
            ],
        )
        .await;
        eprintln!(
            "100,000 entries at concurrency {concurrency}: {:?}",
            started.elapsed()
        );
        assert_eq!(result.code, Some(0), "{}", result.stderr);
        assert!(result.stdout.is_empty(), "--out writes nothing to stdout");
        let text = std::fs::read_to_string(&out).unwrap();
        assert_exact_export(&text, &expected);
        assert!(
            text.lines().filter(|l| l.contains("\"x-trace\"")).count() > 100,
            "entries with fields the spec does not know are kept"
        );
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| !name.ends_with(".ndjson"))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_through_10_percent_faults_is_still_exact() {
    let sandbox = Sandbox::builder()
        .events(20_000)
        .faults(Faults::rate(0.1))
        .start()
        .await
        .unwrap();
    let (since, until) = (sandbox.span_start(), sandbox.end());
    let dir = scratch("faults");
    let out = dir.join("faults.ndjson");
    let result = run(
        at(&sandbox),
        &[
            "entries",
            "31721060",
            "--since",
            &rfc3339(since),
            "--until",
            &rfc3339(until),
            "--page-size",
            "500",
            "--out",
            out.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let expected = sandbox.event_sources(MAIN_CONTRACT, since, until);
    assert_exact_export(&std::fs::read_to_string(&out).unwrap(), &expected);
    let faults = sandbox
        .requests()
        .iter()
        .filter(|r| r.fault.is_some())
        .count();
    assert!(faults > 0, "no fault was injected, so this proved nothing");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Waits until the checkpoint beside `out` records written entries.
fn wait_for_checkpoint(child: &mut Child, checkpoint: &Path) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(text) = std::fs::read_to_string(checkpoint)
            && let Ok(state) = serde_json::from_str::<serde_json::Value>(&text)
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
async fn an_export_killed_mid_way_and_resumed_has_every_entry_once() {
    // Entries keep arriving ("live"), and the range is open-ended: the resumed
    // run must keep the first run's end instead of resolving "now" again.
    let sandbox = Sandbox::builder()
        .events(30_000)
        .end(Utc::now() - TimeDelta::hours(1))
        .latency(Duration::from_millis(15))
        .live(Duration::from_millis(20))
        .start()
        .await
        .unwrap();
    let dir = scratch("resume");
    let out = dir.join("resume.ndjson");
    let part = dir.join("resume.ndjson.part");
    let checkpoint = dir.join("resume.ndjson.checkpoint");
    let args = [
        "entries",
        "31721060",
        "--since",
        "91d",
        "--page-size",
        "250",
        "--concurrency",
        "1",
        "--out",
        out.to_str().unwrap(),
        "--resume",
    ];

    let mut first = at(&sandbox);
    first.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    let checkpoint_path = checkpoint.clone();
    let state = tokio::task::spawn_blocking(move || {
        let mut child = first.spawn().expect("the activitylog binary starts");
        let state = wait_for_checkpoint(&mut child, &checkpoint_path);
        assert!(
            child.try_wait().unwrap().is_none(),
            "the export finished before it could be killed: make it slower"
        );
        child.kill().expect("SIGKILL"); // kill(2) with SIGKILL on Unix
        child.wait().unwrap();
        state
    })
    .await
    .unwrap();
    assert!(
        !out.exists(),
        "a killed export must not leave {}",
        out.display()
    );
    assert!(part.exists() && checkpoint.exists());
    let through: DateTime<Utc> = state["through"].as_str().unwrap().parse().unwrap();
    let until: DateTime<Utc> = state["until"].as_str().unwrap().parse().unwrap();

    // Resuming asks only for what follows the checkpoint.
    sandbox.clear_requests();
    let result = run(at(&sandbox), &args).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
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

    let text = std::fs::read_to_string(&out).unwrap();
    let first_event = sandbox.span_start() - TimeDelta::days(2);
    let expected = sandbox.event_sources(MAIN_CONTRACT, first_event, until);
    assert_exact_export(&text, &expected);
    assert!(!part.exists() && !checkpoint.exists(), "resume files left");

    // Other arguments than the checkpoint's are refused.
    let mut other: Vec<&str> = args.to_vec();
    other[3] = "30d";
    let stale = dir.join("resume.ndjson.checkpoint");
    std::fs::write(
        &stale,
        serde_json::to_string(&serde_json::json!({
            "version": 1,
            "job": state["job"],
            "since": state["since"],
            "until": state["until"],
            "through": state["since"],
            "bytes": 0,
            "events": 0
        }))
        .unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("resume.ndjson.part"), b"").unwrap();
    let refused = run(at(&sandbox), &other).await;
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("different export") && refused.stderr.contains("--since 91d"),
        "{}",
        refused.stderr
    );
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_exits_2_with_one_line() {
    let sandbox = Sandbox::builder().events(100).start().await.unwrap();
    for args in [
        &["entries", "31721060", "--since", "yesterday"][..],
        &[
            "entries",
            "31721060",
            "--since",
            "2024-02-01",
            "--until",
            "2024-01-01",
        ],
        &["entries", "31721060", "--colour"],
        &["entries", "thirty-one"],
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
async fn server_side_failures_exit_1_and_never_show_the_token() {
    let sandbox = Sandbox::builder().events(1_000).start().await.unwrap();
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let unreachable = format!("http://127.0.0.1:{closed_port}");
    let secret = "s3cr3t-wrong-token-value";
    let cases: [(Command, &[&str], &str); 3] = [
        (
            against(&unreachable, secret),
            &["entries", "31721060", "--since", "1d"],
            "could not connect",
        ),
        (
            against(sandbox.url(), secret),
            &["entries", "31721060", "--since", "1d"],
            "unauthorized (HTTP 401)",
        ),
        (
            at(&sandbox),
            &["entries", "98765432", "--since", "1d"],
            "forbidden (HTTP 403) for contract 98765432",
        ),
    ];
    assert_eq!(FOREIGN_CONTRACT, 98765432);
    for (command, args, expected) in cases {
        let result = run(command, args).await;
        assert_eq!(result.code, Some(1), "{args:?}: {}", result.stderr);
        assert_eq!(
            result.stderr.lines().count(),
            1,
            "{args:?}: {}",
            result.stderr
        );
        assert!(
            result.stderr.starts_with("error: ") && result.stderr.contains(expected),
            "{args:?}: {}",
            result.stderr
        );
        for output in [&result.stdout, &result.stderr] {
            assert!(!output.contains(secret), "the token leaked: {output}");
            assert!(
                !output.contains(&sandbox.credentials().token),
                "the token leaked: {output}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_and_csv_select_the_same_entries_as_the_raw_data() {
    let sandbox = Sandbox::builder().events(5_000).start().await.unwrap();
    let (since, until) = (sandbox.span_start(), sandbox.end());
    let sources = sandbox.event_sources(MAIN_CONTRACT, since, until);
    let expected: Vec<String> = sources
        .iter()
        .map(|s| serde_json::from_str::<serde_json::Value>(s).unwrap())
        .filter(|e| {
            e["principal"]["identity"]["username"] == "alice@example.com"
                && e["event"]["type"] != "Provision"
                && e["event"]["resources"].as_array().is_some_and(|rs| {
                    rs.iter().any(|r| {
                        r["action"].as_array().is_some_and(|a| {
                            a.iter()
                                .any(|a| a.as_str().unwrap_or("").starts_with("vr."))
                        })
                    })
                })
        })
        .map(|e| e["@uuid"].as_str().unwrap().to_string())
        .collect();
    assert!(!expected.is_empty());
    let result = run(
        at(&sandbox),
        &[
            "entries",
            "31721060",
            "--since",
            &rfc3339(since),
            "--until",
            &rfc3339(until),
            "--user",
            "ALICE@example.com",
            "--exclude-type",
            "Provision",
            "--action",
            "vr.",
            "--format",
            "csv",
        ],
    )
    .await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let mut lines = result.stdout.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("time,uuid,contract,user,"), "{header}");
    let uuids: Vec<String> = lines
        .map(|line| line.split(',').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(uuids, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_command_serves_other_tools() {
    let mut child = bare()
        .args(["sandbox", "--port", "0", "--events", "500"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let variables = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(stdout).lines();
        let mut variables = Vec::new();
        while variables.len() < 4 {
            let line = lines.next().expect("four export lines").unwrap();
            let (name, value) = line
                .strip_prefix("export ")
                .and_then(|rest| rest.split_once('='))
                .unwrap_or_else(|| panic!("not an export line: {line}"));
            variables.push((name.to_string(), value.to_string()));
        }
        variables
    })
    .await
    .unwrap();
    let mut command = bare();
    command.envs(
        variables
            .iter()
            .filter(|(name, _)| name != "IONOS_USERNAME" && name != "IONOS_PASSWORD")
            .cloned(),
    );
    let result = run(command, &["contracts", "--format", "json"]).await;
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let contracts: serde_json::Value = serde_json::from_str(&result.stdout).unwrap();
    let ids: Vec<u64> = contracts
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_u64().unwrap())
        .collect();
    assert!(ids.contains(&MAIN_CONTRACT), "{ids:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn csv_cells_a_spreadsheet_would_run_are_written_as_text() {
    let formulas = [
        "=HYPERLINK(\"http://attacker.example\",\"click\")",
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
    ];
    let sandbox = Sandbox::builder()
        .contracts(vec![ContractSpec::new(MAIN_CONTRACT, 200).users(formulas)])
        .start()
        .await
        .unwrap();
    let (since, until) = (sandbox.span_start(), sandbox.end());
    let result = run(
        at(&sandbox),
        &[
            "entries",
            "31721060",
            "--since",
            &rfc3339(since),
            "--until",
            &rfc3339(until),
            "--format",
            "csv",
        ],
    )
    .await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let rows: Vec<&str> = result.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 200);
    let mut seen = HashSet::new();
    for row in &rows {
        // time,uuid,contract,user,...: the user is the fourth cell.
        let user = formulas
            .iter()
            .find(|f| row.contains(&f.replace('"', "\"\"")))
            .unwrap_or_else(|| panic!("no known user in {row}"));
        seen.insert(*user);
        let cell = if user.contains([',', '"']) {
            format!(",\"'{}\",", user.replace('"', "\"\""))
        } else {
            format!(",'{user},")
        };
        assert!(row.contains(&cell), "{user} is not defused in {row}");
        for (i, cell) in row.split(',').enumerate() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@']),
                "cell {i} of {row} would run as a formula"
            );
        }
    }
    assert_eq!(seen.len(), formulas.len(), "every user appears");
}

/// The latest `dateEnd` the sandbox was asked for.
fn last_date_end(sandbox: &Sandbox) -> DateTime<Utc> {
    sandbox
        .requests()
        .iter()
        .filter_map(|r| r.query_param("dateEnd")?.parse::<DateTime<Utc>>().ok())
        .max()
        .expect("entries were asked for")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_range_ends_settle_before_now() {
    // Entries stamped "now" keep arriving: the newest are still settling.
    let sandbox = Sandbox::builder()
        .events(2_000)
        .live(Duration::from_millis(20))
        .start()
        .await
        .unwrap();
    for (settle, flag) in [
        (TimeDelta::minutes(2), None),
        (TimeDelta::minutes(10), Some("10m")),
    ] {
        sandbox.clear_requests();
        let before = Utc::now() - TimeDelta::seconds(1);
        let mut args = vec!["entries", "31721060", "--since", "1d"];
        if let Some(flag) = flag {
            args.extend(["--settle", flag]);
        }
        let result = run(at(&sandbox), &args).await;
        let after = Utc::now();
        assert_eq!(result.code, Some(0), "{}", result.stderr);
        let end = last_date_end(&sandbox);
        assert!(end <= after - settle, "asked up to {end}, settle {settle}");
        assert!(
            end >= before - settle,
            "asked up to {end} only, settle {settle}"
        );
        let newest = result
            .stdout
            .lines()
            .map(|line| {
                let event: serde_json::Value = serde_json::from_str(line).unwrap();
                event["meta"]["time"]
                    .as_str()
                    .unwrap()
                    .parse::<DateTime<Utc>>()
                    .unwrap()
            })
            .max()
            .expect("entries of the last day");
        assert!(newest < end, "an entry at {newest} is past the end {end}");
    }
}
