//! The `activitylog` binary end to end, over real HTTP on 127.0.0.1 against
//! a sandbox started in this test process.
//!
//! The binary is the one cargo built beside this test (`target/<profile>/`);
//! `cargo test --workspace` builds it, `cargo build -p activitylog-cli` too.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use activitylog_sandbox::{ContractSpec, FOREIGN_CONTRACT, Faults, MAIN_CONTRACT, Sandbox};
use activitylog_tests::cli::run;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

/// The `activitylog` program, built by cargo from the current source for
/// this test run (never a stale binary left in `target/`).
fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_activitylog-under-test"))
}

/// A command for the binary with no IONOS_ variable inherited.
fn bare() -> Command {
    activitylog_tests::cli::isolated(binary(), &activitylog_tests::cli::empty_home())
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

/// Entry pages the sandbox has answered so far.
fn pages_served(sandbox: &Sandbox) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| r.path().starts_with("/activitylog/v1/contracts/") && r.status == Some(200))
        .count()
}

/// Waits until `done`, failing if the child exits first (a guard against
/// hanging, not a timed assertion).
async fn until(what: &str, child: &mut Child, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !done() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the export ended ({status}) before {what}: make it slower");
        }
        assert!(Instant::now() < deadline, "still waiting for {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
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
        assert!(Instant::now() < deadline, "the export does not end");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read;
        pipe.read_to_string(&mut stderr).unwrap();
    }
    (status.code(), stderr)
}

/// Files in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A slow sandbox: 20,000 entries an hour ago and earlier, 20 ms a page.
async fn slow_sandbox() -> Sandbox {
    Sandbox::builder()
        .events(20_000)
        .end(Utc::now() - TimeDelta::hours(1))
        .latency(Duration::from_millis(20))
        .start()
        .await
        .unwrap()
}

/// `entries` over the whole sandbox, 100 entries a page, one page at a time.
fn slow_export(sandbox: &Sandbox, out: &Path, resume: bool) -> Command {
    let mut command = at(sandbox);
    command
        .args(["entries", "31721060", "--since"])
        .arg(rfc3339(sandbox.span_start()))
        .arg("--until")
        .arg(rfc3339(sandbox.end()))
        .args(["--page-size", "100", "--concurrency", "1", "--out"])
        .arg(out)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if resume {
        command.arg("--resume");
    }
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_and_sigterm_stop_an_export_and_leave_no_file_behind() {
    let sandbox = slow_sandbox().await;
    for (signal, code, name) in [
        (libc::SIGINT, 130, "SIGINT"),
        (libc::SIGTERM, 143, "SIGTERM"),
    ] {
        let dir = scratch(&format!("signal-{name}"));
        let out = dir.join("stopped.ndjson");
        sandbox.clear_requests();
        let mut child = slow_export(&sandbox, &out, false).spawn().unwrap();
        until("a few pages are written", &mut child, || {
            pages_served(&sandbox) >= 5 && !listing(&dir).is_empty()
        })
        .await;
        send(&child, signal);
        let (exit, stderr) = finish(child).await;
        assert_eq!(exit, Some(code), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: interrupted by {name}")),
            "{stderr}"
        );
        assert!(stderr.contains("was not written"), "{stderr}");
        assert_eq!(listing(&dir), Vec::<String>::new(), "{name} left files");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_stopped_by_a_signal_resumes_exactly_and_says_so() {
    let sandbox = slow_sandbox().await;
    let dir = scratch("signal-resume");
    let out = dir.join("resumed.ndjson");
    let checkpoint = dir.join("resumed.ndjson.checkpoint");
    let before = Utc::now() - TimeDelta::seconds(1);
    let mut child = slow_export(&sandbox, &out, true).spawn().unwrap();
    let mut state = serde_json::Value::Null;
    until("a checkpoint with entries", &mut child, || {
        state = std::fs::read_to_string(&checkpoint)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default();
        state["events"].as_u64().unwrap_or(0) > 0
    })
    .await;
    send(&child, libc::SIGTERM);
    let (exit, stderr) = finish(child).await;
    assert_eq!(exit, Some(143), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: interrupted by SIGTERM"),
        "{stderr}"
    );
    assert!(stderr.contains("run the same command again"), "{stderr}");
    assert!(!out.exists());
    assert!(dir.join("resumed.ndjson.part").exists() && checkpoint.exists());

    let mut again = slow_export(&sandbox, &out, true);
    again.stderr(Stdio::piped());
    let (exit, stderr) = finish(again.spawn().unwrap()).await;
    assert_eq!(exit, Some(0), "{stderr}");
    // Said without -v: what is resumed, and since when.
    let said = stderr
        .lines()
        .find(|line| line.starts_with("resuming the export of contract 31721060"))
        .unwrap_or_else(|| panic!("the resume is not announced: {stderr}"));
    let instant = |key: &str| {
        let at: DateTime<Utc> = state[key].as_str().unwrap().parse().unwrap();
        at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    };
    assert!(
        said.contains(&format!(
            "from {} to {}",
            instant("since"),
            instant("until")
        )),
        "{said}"
    );
    let started: DateTime<Utc> = said
        .split("started ")
        .nth(1)
        .and_then(|rest| {
            rest.split(':')
                .take(3)
                .collect::<Vec<_>>()
                .join(":")
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no start time in: {said}"));
    assert!(started >= before && started <= Utc::now(), "{said}");

    let expected = sandbox.event_sources(MAIN_CONTRACT, sandbox.span_start(), sandbox.end());
    assert_exact_export(&std::fs::read_to_string(&out).unwrap(), &expected);
    assert_eq!(listing(&dir), ["resumed.ndjson"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_on_the_same_file_exits_2_and_kill_9_releases_the_lock() {
    let sandbox = slow_sandbox().await;
    let dir = scratch("lock");
    let out = dir.join("locked.ndjson");
    let mut first = slow_export(&sandbox, &out, true).spawn().unwrap();
    until("the first run writes", &mut first, || {
        dir.join("locked.ndjson.part").exists() && pages_served(&sandbox) >= 2
    })
    .await;
    for resume in [true, false] {
        let mut second = slow_export(&sandbox, &out, resume);
        second.stderr(Stdio::piped());
        let (exit, stderr) = finish(second.spawn().unwrap()).await;
        assert_eq!(exit, Some(2), "--resume {resume}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(
            stderr.starts_with("error: ")
                && stderr.contains("being written by another activitylog"),
            "{stderr}"
        );
    }
    assert!(first.try_wait().unwrap().is_none(), "the first run goes on");
    first.kill().unwrap(); // SIGKILL: no cleanup, the system drops the lock
    first.wait().unwrap();

    let (exit, stderr) = finish(slow_export(&sandbox, &out, true).spawn().unwrap()).await;
    assert_eq!(exit, Some(0), "{stderr}");
    let expected = sandbox.event_sources(MAIN_CONTRACT, sandbox.span_start(), sandbox.end());
    assert_exact_export(&std::fs::read_to_string(&out).unwrap(), &expected);
    assert_eq!(listing(&dir), ["locked.ndjson"], "the lock file is removed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_gets_the_first_lines_after_a_page_and_the_closed_pipe_ends_quietly() {
    let sandbox = Sandbox::builder()
        .events(20_000)
        .latency(Duration::from_millis(20))
        .start()
        .await
        .unwrap();
    let mut command = at(&sandbox);
    command
        .args(["entries", "31721060", "--since"])
        .arg(rfc3339(sandbox.span_start()))
        .arg("--until")
        .arg(rfc3339(sandbox.end()))
        .args(["--page-size", "20", "--concurrency", "1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = tokio::task::spawn_blocking(move || {
        use std::io::BufRead;
        let mut reader = std::io::BufReader::new(stdout);
        let mut lines = Vec::new();
        for _ in 0..3 {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            lines.push(line);
        }
        lines // the reader, and so the pipe, closes here: `head -3`
    })
    .await
    .unwrap();
    // One page was enough. The pipe (64 KiB, about 5 pages of 20 entries)
    // and the SDK's small queue bound how far the export can have run ahead
    // since; without a flush per page nothing comes out before 256 KiB (about
    // 18 pages) are buffered.
    let served = pages_served(&sandbox);
    eprintln!("{served} pages served when the third line came out");
    assert!(
        served <= 10,
        "{served} pages were fetched before 3 lines came out"
    );
    let expected = sandbox.event_sources(MAIN_CONTRACT, sandbox.span_start(), sandbox.end());
    for (line, expected) in lines.iter().zip(&expected) {
        assert_eq!(line.trim_end(), expected);
    }
    let (exit, stderr) = finish(child).await;
    assert_eq!(exit, Some(0), "{stderr}");
    assert_eq!(stderr, "", "a closed pipe is no error");
    assert!(
        pages_served(&sandbox) < 100,
        "the export stopped when the pipe closed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_that_cannot_be_shown_is_named_and_fails_the_run() {
    let event = |uuid: &str, user: &str| {
        format!(
            r#"{{"@uuid":"{uuid}","meta":{{"time":"2024-01-01T10:00:00Z"}},
               "principal":{{"identity":{{"username":"{user}"}}}},"event":{{"type":"Provision"}}}}"#
        )
        .replace('\n', "")
    };
    let events = vec![
        event("e-1", "alice@example.com"),
        // `meta` is no object: no format that needs fields can show this one.
        r#"{"@uuid":"e-2","meta":5,"event":{"type":"Provision"}}"#.to_string(),
        event("e-3", "bob@example.com"),
    ];
    let server = activitylog_tests::MockServer::serving(events.clone()).await;
    let range = ["--since", "2024-01-01", "--until", "2024-01-02"];
    let entries = |more: &[&'static str]| {
        let mut args = vec!["entries", "31721060"];
        args.extend(range);
        args.extend(more);
        args
    };

    let csv = run(against(server.url(), "t"), &entries(&["--format", "csv"])).await;
    assert_eq!(csv.code, Some(1), "{}", csv.stderr);
    let rows: Vec<&str> = csv.stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 2, "the rest is written: {}", csv.stdout);
    assert!(rows[0].contains(",e-1,") && rows[1].contains(",e-3,"));
    assert_eq!(csv.stderr.lines().count(), 1, "{}", csv.stderr);
    assert!(
        csv.stderr
            .starts_with("error: 1 entry cannot be shown as csv")
            && csv.stderr.contains("@uuid e-2"),
        "{}",
        csv.stderr
    );

    let dir = scratch("omitted");
    let file = dir.join("out.csv");
    let mut to_file = entries(&["--out"]);
    to_file.push(file.to_str().unwrap());
    let exported = run(against(server.url(), "t"), &to_file).await;
    assert_eq!(exported.code, Some(1), "{}", exported.stderr);
    assert!(exported.stderr.contains("@uuid e-2"), "{}", exported.stderr);
    assert_eq!(std::fs::read_to_string(&file).unwrap().lines().count(), 3);
    let _ = std::fs::remove_dir_all(&dir);

    let table = run(against(server.url(), "t"), &entries(&["--format", "table"])).await;
    assert_eq!(table.code, Some(1), "{}", table.stderr);
    assert!(table.stderr.contains("@uuid e-2"), "{}", table.stderr);

    let filtered = run(
        against(server.url(), "t"),
        &entries(&["--type", "Provision"]),
    )
    .await;
    assert_eq!(filtered.code, Some(1), "{}", filtered.stderr);
    assert_eq!(filtered.stdout.lines().count(), 2);
    assert!(
        filtered
            .stderr
            .contains("cannot be checked against the filters")
            && filtered.stderr.contains("@uuid e-2"),
        "{}",
        filtered.stderr
    );

    // Raw NDJSON needs no decoding: every entry, as sent.
    let raw = run(against(server.url(), "t"), &entries(&[])).await;
    assert_eq!(raw.code, Some(0), "{}", raw.stderr);
    assert_exact_export(&raw.stdout, &events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_final_rename_does_not_break_the_next_resume() {
    let sandbox = Sandbox::builder().events(3_000).start().await.unwrap();
    let (since, until) = (rfc3339(sandbox.span_start()), rfc3339(sandbox.end()));
    let dir = scratch("renamed");
    let out = dir.join("done.ndjson");
    let args = [
        "entries",
        "31721060",
        "--since",
        &since,
        "--until",
        &until,
        "--out",
        out.to_str().unwrap(),
        "--resume",
    ];
    let result = run(at(&sandbox), &args).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let complete = std::fs::read(&out).unwrap();
    let lines = complete.iter().filter(|&&b| b == b'\n').count();

    // What an earlier version left when it died between renaming FILE.part
    // to FILE and removing the checkpoint: a checkpoint through the end.
    let empty: [&str; 0] = [];
    let stale = serde_json::json!({
        "version": 1,
        "job": {
            "contract": MAIN_CONTRACT,
            "since": since,
            "until": until,
            "format": "ndjson",
            "filter": {
                "types": empty, "exclude_types": empty, "users": empty,
                "statuses": empty, "resource_types": empty, "actions": empty
            }
        },
        "since": sandbox.span_start(),
        "until": sandbox.end(),
        "through": sandbox.end(),
        "bytes": complete.len(),
        "events": lines
    });
    let checkpoint = dir.join("done.ndjson.checkpoint");
    std::fs::write(&checkpoint, stale.to_string()).unwrap();
    sandbox.clear_requests();
    let again = run(at(&sandbox), &args).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.stderr.contains("had finished"), "{}", again.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), complete, "FILE is untouched");
    assert_eq!(
        listing(&dir),
        ["done.ndjson"],
        "the stale checkpoint is gone"
    );
    assert_eq!(pages_served(&sandbox), 0, "nothing was fetched again");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cjk_and_emoji_user_names_keep_the_table_aligned() {
    use unicode_width::UnicodeWidthStr;
    let users = [
        "alice@example.com",
        "张伟@example.com",
        "🦀crab🦀@example.com",
        "山田太郎やまだたろうの長い名前@example.jp",
    ];
    let sandbox = Sandbox::builder()
        .contracts(vec![ContractSpec::new(MAIN_CONTRACT, 100).users(users)])
        .start()
        .await
        .unwrap();
    let result = run(
        at(&sandbox),
        &[
            "entries",
            "31721060",
            "--since",
            &rfc3339(sandbox.span_start()),
            "--until",
            &rfc3339(sandbox.end()),
            "--format",
            "table",
        ],
    )
    .await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let mut lines = result.stdout.lines();
    let header = lines.next().unwrap();
    let column = |line: &str, at: usize| line[..at].width();
    let ip_column = column(header, header.find("SOURCE IP").unwrap());
    let mut rows = 0;
    for row in lines {
        // The source IP follows the user: it starts where its header does.
        let ip = row
            .char_indices()
            .find(|&(i, _)| column(row, i) == ip_column)
            .map(|(i, _)| &row[i..])
            .unwrap_or_else(|| panic!("no cell starts at column {ip_column}: {row}"));
        assert!(
            ip.starts_with(|c: char| c.is_ascii_alphanumeric()),
            "misaligned at column {ip_column}: {row}"
        );
        assert!(row.width() <= 160, "wider than COLUMNS: {row}");
        rows += 1;
    }
    assert_eq!(rows, 100);
}
