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

/// An instant as the CLI writes it (whole seconds, `Z`).
fn seconds(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// The `@uuid`s of NDJSON lines, in order.
fn uuids(ndjson: &str) -> Vec<String> {
    ndjson
        .lines()
        .map(|line| json(line)["@uuid"].as_str().unwrap().to_string())
        .collect()
}

/// Runs `sql` (statements separated by `;`) on the archive at `url`.
async fn execute(url: &str, sql: &str) {
    if url.starts_with("sqlite:") {
        let pool = sqlx::SqlitePool::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await.unwrap();
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }
}

/// Stores an entry of `contract` without a readable time straight into the
/// archive (as a sync stores one the service sent without `meta.time`).
async fn store_untimed(url: &str, contract: u64, uuid: &str) {
    // SQLite keeps '' for no time, PostgreSQL NULL.
    let time = if url.starts_with("sqlite:") {
        "''"
    } else {
        "NULL"
    };
    let document = format!(r#"{{"@uuid":"{uuid}","meta":{{"time":"not a time"}}}}"#);
    execute(
        url,
        &format!(
            "INSERT INTO entries (uuid, contract, time) VALUES ('{uuid}', {contract}, {time});
             INSERT INTO entries_json (entry, json) SELECT entry, '{document}' FROM entries \
             WHERE uuid = '{uuid}' AND contract = {contract}"
        ),
    )
    .await;
}

/// `entries --db` and `summary --db` know where the archive is complete:
/// without --until they stop there and say so; a range past it exits 1
/// naming the mark and the sync, unless --partial (which says what is
/// missing); entries without a readable time come last without --since, and
/// a range read says how many it left out; a contract no sync completed is
/// refused.
async fn reads_know_the_completeness_mark(url: &str) {
    let sandbox = Sandbox::builder()
        .events(2_000)
        .end(end())
        .span(TimeDelta::days(30))
        .start()
        .await
        .unwrap();
    let start = end() - TimeDelta::days(30);
    let mark = end() - TimeDelta::days(10);
    let contract = "31721060";
    let synced = cli::run(
        at(&sandbox),
        &[
            "sync",
            contract,
            "--db",
            url,
            "--since",
            &rfc3339(start),
            "--until",
            &rfc3339(mark),
        ],
    )
    .await;
    ok(synced, "sync of the first 20 days");
    let main = 31721060;
    let before_mark: Vec<String> = sandbox.event_uuids(main, start, mark);
    assert!(before_mark.len() > 500, "{}", before_mark.len());
    store_untimed(url, main, "untimed-b").await;
    store_untimed(url, main, "untimed-a").await;
    let sync_command = format!("activitylog sync {contract} --db {url}");

    // Without --until: up to the mark, said on stderr; untimed entries last.
    let all = cli::run(
        offline(),
        &["entries", contract, "--db", url, "--format", "ndjson"],
    )
    .await;
    assert_eq!(all.code, Some(0), "{}", all.stderr);
    assert!(
        all.stderr
            .contains(&format!("complete through {}", seconds(mark)))
            && all.stderr.contains(&sync_command),
        "{}",
        all.stderr
    );
    let read = uuids(&all.stdout);
    assert_eq!(read.len(), before_mark.len() + 2, "{}", all.stderr);
    assert_eq!(
        read[read.len() - 2..],
        ["untimed-a", "untimed-b"],
        "untimed entries come last"
    );
    let mut timed: Vec<String> = read[..read.len() - 2].to_vec();
    timed.sort();
    let mut want = before_mark.clone();
    want.sort();
    assert_eq!(timed, want);

    // A range past the mark: exit 1, naming it and the sync that fills it.
    let whole = ["entries", contract, "--db", url, "--format", "ndjson"];
    let past = over_range(offline(), &whole).await;
    assert_eq!(past.code, Some(1), "{}", past.stderr);
    assert!(
        past.stderr.contains(&seconds(mark))
            && past.stderr.contains(&sync_command)
            && past.stderr.contains("--partial"),
        "{}",
        past.stderr
    );
    assert_eq!(past.stderr.lines().count(), 1, "{}", past.stderr);
    assert!(past.stdout.is_empty(), "{}", past.stdout);
    let summary = ["summary", contract, "--db", url, "--by", "user"];
    let past = over_range(offline(), &summary).await;
    assert_eq!(past.code, Some(1), "summary: {}", past.stderr);
    assert!(past.stderr.contains(&seconds(mark)), "{}", past.stderr);

    // --partial reads what is there and says what is missing; a range read
    // says how many entries without a time it left out.
    let partial = over_range(offline(), &[&whole[..], &["--partial"]].concat()).await;
    assert_eq!(partial.code, Some(0), "{}", partial.stderr);
    assert!(
        partial.stderr.contains(&format!(
            "entries from {} to {} may be missing",
            seconds(mark),
            seconds(end())
        )),
        "{}",
        partial.stderr
    );
    assert!(
        partial.stderr.contains("2 entries of contract 31721060")
            && partial.stderr.contains("no readable time"),
        "{}",
        partial.stderr
    );
    let mut read = uuids(&partial.stdout);
    read.sort();
    assert_eq!(read, want);
    let counted = over_range(
        offline(),
        &[&summary[..], &["--partial", "--format", "json"]].concat(),
    )
    .await;
    let counted = json(&ok(counted, "summary --partial"));
    let total: u64 = counted
        .as_array()
        .unwrap()
        .iter()
        .map(|group| group["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total as usize, want.len());

    // Without --until, summary stops at the mark too, and counts the untimed entries.
    let counted = cli::run(
        offline(),
        &[
            "summary", contract, "--db", url, "--by", "user", "--format", "json",
        ],
    )
    .await;
    assert!(
        counted.stderr.contains("complete through"),
        "{}",
        counted.stderr
    );
    let counted = json(&ok(counted, "summary up to the mark"));
    let total: u64 = counted
        .as_array()
        .unwrap()
        .iter()
        .map(|group| group["count"].as_u64().unwrap())
        .sum();
    assert_eq!(total as usize, want.len() + 2);

    // Entries of a contract that no sync completed: refused, naming the sync.
    store_untimed(url, 55_555, "orphan").await;
    let never = cli::run(offline(), &["entries", "55555", "--db", url]).await;
    assert_eq!(never.code, Some(1), "{}", never.stderr);
    assert!(
        never.stderr.contains("no sync of it completed")
            && never.stderr.contains("activitylog sync 55555"),
        "{}",
        never.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_reads_know_the_completeness_mark() {
    let dir = std::env::temp_dir().join(format!("activitylog-mark-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite:{}", dir.join("archive.sqlite").display());
    reads_know_the_completeness_mark(&url).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_reads_know_the_completeness_mark() {
    let server = Postgres::start();
    reads_know_the_completeness_mark(&server.database("mark")).await;
}
