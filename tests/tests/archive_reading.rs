//! Reading an archive like the API: `summary --db` gives what `summary`
//! gives, and `entries`/`summary --db` choose contracts from those the
//! archive holds (`--all-contracts`, `IONOS_CONTRACT_NUMBER`, the only one),
//! for SQLite and a real PostgreSQL server, after `sync --all-contracts`
//! from a sandbox over real HTTP.

use std::path::PathBuf;
use std::process::Command;

use activitylog_sandbox::Sandbox;
use activitylog_tests::cli::{self, Run};
use activitylog_tests::postgres::Postgres;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;

const OTHER_CONTRACT: &str = "12345678";
const UNREADABLE_CONTRACT: &str = "98765432";

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_activitylog-under-test"))
}

/// The CLI pointed at `sandbox`, no other IONOS_ variable inherited.
fn at(sandbox: &Sandbox) -> Command {
    cli::against(binary(), &cli::empty_home(), sandbox)
}

/// The CLI with no way to reach any API: what it reads must come from the archive.
fn offline() -> Command {
    let mut command = cli::isolated(binary(), &cli::empty_home());
    command.env("IONOS_API_URL", "http://127.0.0.1:9");
    command
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn end() -> DateTime<Utc> {
    "2025-01-01T00:00:00Z".parse().unwrap()
}

/// `words` then the sandbox's whole range.
async fn over_range(command: Command, words: &[&str]) -> Run {
    let (since, until) = (rfc3339(end() - TimeDelta::days(30)), rfc3339(end()));
    let mut args = words.to_vec();
    args.extend(["--since", &since, "--until", &until]);
    cli::run(command, &args).await
}

fn ok(run: Run, what: &str) -> String {
    assert_eq!(run.code, Some(0), "{what}: {}", run.stderr);
    run.stdout
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).expect("one JSON document")
}

async fn archive_reads_like_the_api(url: &str) {
    let sandbox = Sandbox::builder()
        .events(3_000)
        .end(end())
        .span(TimeDelta::days(30))
        .start()
        .await
        .unwrap();
    let synced = over_range(at(&sandbox), &["sync", "--all-contracts", "--db", url]).await;
    ok(synced, "sync --all-contracts");

    // summary --db over both contracts equals summary over the API.
    let by = ["--by", "user,status,day", "--format", "json"];
    let api = over_range(
        at(&sandbox),
        &[&["summary", "--all-contracts"][..], &by].concat(),
    )
    .await;
    let api = json(&ok(api, "summary from the API"));
    let words = [&["summary", "--all-contracts", "--db", url][..], &by].concat();
    let archived = json(&ok(over_range(offline(), &words).await, "summary --db"));
    assert!(
        api.as_array().is_some_and(|groups| groups.len() > 10),
        "{api}"
    );
    assert_eq!(archived, api, "summary --db differs from summary");

    // The variable names the contract in the archive, as it does for the API.
    let mut command = offline();
    command.env("IONOS_CONTRACT_NUMBER", OTHER_CONTRACT);
    let words = ["summary", "--db", url, "--by", "user", "--format", "json"];
    let from_variable = json(&ok(
        over_range(command, &words).await,
        "IONOS_CONTRACT_NUMBER",
    ));
    let words = [
        &["summary", OTHER_CONTRACT, "--by", "user"][..],
        &["--format", "json"],
    ]
    .concat();
    let of_api = json(&ok(
        over_range(at(&sandbox), &words).await,
        "summary of one",
    ));
    assert_eq!(from_variable, of_api);

    // Two contracts archived and none named: exit 2, listing them.
    let run = over_range(offline(), &["entries", "--db", url]).await;
    assert_eq!(run.code, Some(2), "{}", run.stderr);
    assert!(
        run.stderr.contains("31721060") && run.stderr.contains(OTHER_CONTRACT),
        "{}",
        run.stderr
    );

    // A contract the archive does not hold: exit 1, naming the sync that fills it in.
    let run = over_range(offline(), &["entries", UNREADABLE_CONTRACT, "--db", url]).await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("activitylog sync {UNREADABLE_CONTRACT}")),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_archives_read_like_the_api() {
    let dir = std::env::temp_dir().join(format!("activitylog-reading-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite:{}", dir.join("archive.sqlite").display());
    archive_reads_like_the_api(&url).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_archives_read_like_the_api() {
    let server = Postgres::start();
    archive_reads_like_the_api(&server.database("reading")).await;
}
