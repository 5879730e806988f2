//! Which contracts `activitylog entries` reads, end to end over HTTP against
//! a sandbox in this process: `IONOS_CONTRACT_NUMBER`, the one readable
//! contract, several contracts in one run (`entries A B`, `--all-contracts`)
//! with one output, unreadable contracts, and resuming across contracts.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use activitylog_sandbox::{Credentials, FOREIGN_CONTRACT, MAIN_CONTRACT, SECOND_CONTRACT, Sandbox};
use activitylog_tests::cli::{Run, run};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

/// A command for the binary under test pointed at `sandbox`, with its token
/// and no other IONOS_ variable.
fn at(sandbox: &Sandbox) -> Command {
    activitylog_tests::cli::against(
        env!("CARGO_BIN_EXE_activitylog-under-test"),
        &activitylog_tests::cli::empty_home(),
        sandbox,
    )
}

/// A sandbox of `events` entries in the main contract that ended an hour
/// ago, whose credentials read `readable`.
async fn sandbox(events: usize, readable: &[u64]) -> Sandbox {
    Sandbox::builder()
        .events(events)
        .end(Utc::now() - TimeDelta::hours(1))
        .credentials(Credentials {
            contracts: readable.to_vec(),
            ..Credentials::default()
        })
        .start()
        .await
        .unwrap()
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `--since` and `--until` over all of the sandbox's entries.
fn whole_range(sandbox: &Sandbox) -> Vec<String> {
    vec![
        "--since".into(),
        rfc3339(sandbox.span_start()),
        "--until".into(),
        rfc3339(sandbox.end()),
    ]
}

/// `entries` with `args`, over the whole range, as NDJSON.
async fn entries(command: Command, sandbox: &Sandbox, args: &[&str]) -> Run {
    let mut words = vec!["entries"];
    words.extend(args);
    let range = whole_range(sandbox);
    words.extend(range.iter().map(String::as_str));
    words.extend(["--format", "ndjson"]);
    run(command, &words).await
}

/// What the API holds for `contract` over the whole range, as NDJSON lines.
fn ndjson(sandbox: &Sandbox, contract: u64) -> String {
    sandbox
        .event_sources(contract, sandbox.span_start(), sandbox.end())
        .iter()
        .map(|source| format!("{source}\n"))
        .collect()
}

/// How many times the contracts were listed (`GET /contracts`).
fn listings(sandbox: &Sandbox) -> usize {
    sandbox
        .requests()
        .iter()
        .filter(|r| r.path() == "/activitylog/v1/contracts")
        .count()
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "activitylog-contracts-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_variable_names_the_contract_and_an_argument_beats_it() {
    let sandbox = sandbox(300, &[MAIN_CONTRACT, SECOND_CONTRACT]).await;
    let with_variable = || {
        let mut command = at(&sandbox);
        command.env("IONOS_CONTRACT_NUMBER", SECOND_CONTRACT.to_string());
        command
    };

    let from_variable = entries(with_variable(), &sandbox, &[]).await;
    assert_eq!(listings(&sandbox), 0, "the variable needs no lookup");
    assert_eq!(from_variable.code, Some(0), "{}", from_variable.stderr);
    assert_eq!(from_variable.stdout, ndjson(&sandbox, SECOND_CONTRACT));
    assert_eq!(
        from_variable.stderr, "",
        "the variable's choice is not news"
    );

    let argument = MAIN_CONTRACT.to_string();
    let from_argument = entries(with_variable(), &sandbox, &[&argument]).await;
    assert_eq!(from_argument.code, Some(0), "{}", from_argument.stderr);
    assert_eq!(from_argument.stdout, ndjson(&sandbox, MAIN_CONTRACT));

    let config = run(with_variable(), &["config"]).await;
    assert_eq!(config.code, Some(0), "{}", config.stderr);
    assert!(
        config
            .stdout
            .contains("contract:    12345678 (from IONOS_CONTRACT_NUMBER)"),
        "{}",
        config.stdout
    );

    for bad in ["abc", "0", "-3"] {
        let mut command = at(&sandbox);
        command.env("IONOS_CONTRACT_NUMBER", bad);
        let refused = entries(command, &sandbox, &[]).await;
        assert_eq!(refused.code, Some(2), "{bad}: {}", refused.stderr);
        assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
        assert!(
            refused.stderr.contains(&format!(
                "IONOS_CONTRACT_NUMBER=`{bad}` is not a contract number"
            )),
            "{}",
            refused.stderr
        );
        assert_eq!(refused.stdout, "");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_only_readable_contract_is_read_and_named_on_stderr() {
    let sandbox = sandbox(300, &[SECOND_CONTRACT]).await;
    let result = entries(at(&sandbox), &sandbox, &[]).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    assert_eq!(
        result.stderr,
        "reading contract 12345678, the only one these credentials can read\n"
    );
    assert_eq!(result.stdout, ndjson(&sandbox, SECOND_CONTRACT));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_readable_contracts_and_none_given_exit_2_listing_them() {
    let sandbox = sandbox(300, &[MAIN_CONTRACT, SECOND_CONTRACT]).await;
    let result = entries(at(&sandbox), &sandbox, &[]).await;
    assert_eq!(result.code, Some(2), "{}", result.stderr);
    assert_eq!(result.stdout, "");
    assert_eq!(result.stderr.lines().count(), 1, "{}", result.stderr);
    for said in [
        "can read 2: 31721060, 12345678",
        "CONTRACT",
        "--all-contracts",
        "IONOS_CONTRACT_NUMBER",
    ] {
        assert!(result.stderr.contains(said), "{said}: {}", result.stderr);
    }
    assert!(!result.stderr.contains(&FOREIGN_CONTRACT.to_string()));

    // A contract given twice is a mistake.
    let twice = run(
        at(&sandbox),
        &["entries", "31721060", "12345678", "31721060"],
    )
    .await;
    assert_eq!(twice.code, Some(2), "{}", twice.stderr);
    assert!(
        twice.stderr.contains("contract 31721060 is given twice"),
        "{}",
        twice.stderr
    );

    // --follow tails one contract.
    let refused = run(
        at(&sandbox),
        &["entries", "31721060", "12345678", "--follow"],
    )
    .await;
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("one CONTRACT"),
        "{}",
        refused.stderr
    );
    let refused = run(at(&sandbox), &["entries", "--all-contracts", "--follow"]).await;
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_contracts_make_one_output_in_the_order_given() {
    let sandbox = sandbox(2_000, &[MAIN_CONTRACT, SECOND_CONTRACT, FOREIGN_CONTRACT]).await;
    let (main, second, foreign) = (
        MAIN_CONTRACT.to_string(),
        SECOND_CONTRACT.to_string(),
        FOREIGN_CONTRACT.to_string(),
    );

    // NDJSON: the lines of each contract's own run, byte for byte, in the order given.
    let alone_second = entries(at(&sandbox), &sandbox, &[&second]).await;
    let alone_main = entries(at(&sandbox), &sandbox, &[&main]).await;
    sandbox.clear_requests();
    let both = entries(at(&sandbox), &sandbox, &[&second, &main]).await;
    assert_eq!(
        listings(&sandbox),
        1,
        "several contracts are checked with one request"
    );
    assert_eq!(both.code, Some(0), "{}", both.stderr);
    assert!(!alone_second.stdout.is_empty() && !alone_main.stdout.is_empty());
    assert_eq!(
        both.stdout,
        format!("{}{}", alone_second.stdout, alone_main.stdout)
    );
    assert_eq!(
        both.stdout,
        format!(
            "{}{}",
            ndjson(&sandbox, SECOND_CONTRACT),
            ndjson(&sandbox, MAIN_CONTRACT)
        )
    );

    // --all-contracts: every readable one, in ascending order.
    let all = entries(at(&sandbox), &sandbox, &["--all-contracts"]).await;
    assert_eq!(all.code, Some(0), "{}", all.stderr);
    assert_eq!(
        all.stdout,
        format!(
            "{}{}{}",
            ndjson(&sandbox, SECOND_CONTRACT),
            ndjson(&sandbox, MAIN_CONTRACT),
            ndjson(&sandbox, FOREIGN_CONTRACT)
        )
    );

    // --limit counts across contracts.
    let in_second = ndjson(&sandbox, SECOND_CONTRACT).lines().count();
    let limit = (in_second + 5).to_string();
    let limited = entries(at(&sandbox), &sandbox, &[&second, &main, "-n", &limit]).await;
    assert_eq!(limited.code, Some(0), "{}", limited.stderr);
    let expected: String = both
        .stdout
        .split_inclusive('\n')
        .take(in_second + 5)
        .collect();
    assert_eq!(limited.stdout, expected);

    // JSON is one array, CSV has one header.
    let range = whole_range(&sandbox);
    let mut json_args = vec!["entries", &foreign, &second, "--format", "json"];
    json_args.extend(range.iter().map(String::as_str));
    let json = run(at(&sandbox), &json_args).await;
    assert_eq!(json.code, Some(0), "{}", json.stderr);
    let array: Vec<serde_json::Value> = serde_json::from_str(&json.stdout).unwrap();
    let total = ndjson(&sandbox, FOREIGN_CONTRACT).lines().count() + in_second;
    assert_eq!(array.len(), total);
    let mut csv_args = vec!["entries", &foreign, &second, "--format", "csv"];
    csv_args.extend(range.iter().map(String::as_str));
    let csv = run(at(&sandbox), &csv_args).await;
    assert_eq!(csv.code, Some(0), "{}", csv.stderr);
    let header = csv.stdout.lines().next().unwrap();
    assert_eq!(
        csv.stdout.lines().filter(|line| *line == header).count(),
        1,
        "one header"
    );
    assert_eq!(csv.stdout.lines().count(), total + 1);

    // The table is one table, with a CONTRACT column saying whose entry each row is.
    let mut table_args = vec!["entries", &foreign, &second, "--format", "table"];
    table_args.extend(range.iter().map(String::as_str));
    let table = run(at(&sandbox), &table_args).await;
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    let mut lines = table.stdout.lines();
    let header = lines.next().unwrap();
    assert!(header.contains(" CONTRACT "), "{header}");
    assert_eq!(table.stdout.lines().filter(|l| *l == header).count(), 1);
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), total);
    let whose = |row: &str| {
        row.split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    let in_foreign = total - in_second;
    assert!(
        rows[..in_foreign].iter().all(|r| whose(r) == foreign),
        "{}",
        rows[0]
    );
    assert!(
        rows[in_foreign..].iter().all(|r| whose(r) == second),
        "{}",
        rows[in_foreign]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_contract_fails_naming_it_and_nothing_is_written() {
    let sandbox = sandbox(300, &[MAIN_CONTRACT, SECOND_CONTRACT]).await;
    let dir = scratch("unreadable");
    let out = dir.join("out.ndjson");
    let out_arg = out.to_str().unwrap();
    let foreign = FOREIGN_CONTRACT.to_string();
    for (contracts, resume) in [
        (vec!["31721060", foreign.as_str()], false),
        (vec!["31721060", foreign.as_str()], true),
        (vec![foreign.as_str()], false),
    ] {
        let mut args = contracts.clone();
        args.extend(["--out", out_arg]);
        if resume {
            args.push("--resume");
        }
        let result = entries(at(&sandbox), &sandbox, &args).await;
        assert_eq!(result.code, Some(1), "{contracts:?}: {}", result.stderr);
        assert_eq!(result.stderr.lines().count(), 1, "{}", result.stderr);
        assert!(
            result
                .stderr
                .contains("forbidden (HTTP 403) for contract 98765432"),
            "{}",
            result.stderr
        );
        assert!(
            listing(&dir).is_empty(),
            "{contracts:?}: {:?}",
            listing(&dir)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_of_several_contracts_killed_in_the_second_resumes_exactly() {
    // 4,000 entries in 12345678 first, then 20,000 in 31721060, then 2,000
    // in 98765432, 100 a page, 20 ms each: killed once the checkpoint is
    // inside the second contract, so that the resumed run finishes one
    // contract from the checkpoint and reads the next one whole.
    let sandbox = Sandbox::builder()
        .events(20_000)
        .end(Utc::now() - TimeDelta::hours(1))
        .latency(Duration::from_millis(20))
        .credentials(Credentials {
            contracts: vec![MAIN_CONTRACT, SECOND_CONTRACT, FOREIGN_CONTRACT],
            ..Credentials::default()
        })
        .start()
        .await
        .unwrap();
    let dir = scratch("resume");
    let out = dir.join("both.ndjson");
    let checkpoint = dir.join("both.ndjson.checkpoint");
    let range = whole_range(&sandbox);
    let mut args: Vec<&str> = vec!["entries", "12345678", "31721060", "98765432"];
    args.extend(range.iter().map(String::as_str));
    args.extend([
        "--page-size",
        "100",
        "--concurrency",
        "1",
        "--resume",
        "--out",
    ]);
    args.push(out.to_str().unwrap());

    let mut first = at(&sandbox);
    first
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let watched = checkpoint.clone();
    let in_second = ndjson(&sandbox, SECOND_CONTRACT).lines().count() as u64;
    let state = tokio::task::spawn_blocking(move || {
        let mut child = first.spawn().unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        let state = loop {
            if let Ok(text) = std::fs::read_to_string(&watched)
                && let Ok(state) = serde_json::from_str::<serde_json::Value>(&text)
                && state["contract"].as_u64() == Some(MAIN_CONTRACT)
                && state["events"].as_u64().unwrap_or(0) > in_second
            {
                break state;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the export ended ({status}) before it reached the second contract");
            }
            assert!(
                Instant::now() < deadline,
                "no checkpoint in the second contract"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(child.try_wait().unwrap().is_none(), "finished too soon");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        state
    })
    .await
    .unwrap();
    assert_eq!(
        state["job"]["more_contracts"],
        serde_json::json!([MAIN_CONTRACT, FOREIGN_CONTRACT])
    );
    assert!(!out.exists());

    // Another list of contracts is another export.
    let mut other = args.clone();
    other[1] = "31721060";
    other[2] = "12345678";
    let refused = run(at(&sandbox), &other).await;
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("different export")
            && refused
                .stderr
                .contains("activitylog entries 12345678 31721060 98765432 --since"),
        "{}",
        refused.stderr
    );

    sandbox.clear_requests();
    let resumed = run(at(&sandbox), &args).await;
    assert_eq!(resumed.code, Some(0), "{}", resumed.stderr);
    assert!(
        resumed
            .stderr
            .starts_with("resuming the export of contracts 12345678, 31721060, 98765432 from ")
            && resumed.stderr.contains(" of contract 31721060 are in "),
        "{}",
        resumed.stderr
    );
    let asked_second = sandbox
        .requests()
        .iter()
        .any(|r| r.path().contains(&SECOND_CONTRACT.to_string()));
    assert!(!asked_second, "the finished contract was read again");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        format!(
            "{}{}{}",
            ndjson(&sandbox, SECOND_CONTRACT),
            ndjson(&sandbox, MAIN_CONTRACT),
            ndjson(&sandbox, FOREIGN_CONTRACT)
        )
    );
    assert_eq!(listing(&dir), ["both.ndjson"]);
    let _ = std::fs::remove_dir_all(&dir);
}
