//! `activitylog sync` into a lake (`file://` and `s3://` on a real Garage
//! server, see [`activitylog_tests::garage`]), read back by real engines
//! (DuckDB and Apache Spark from PyPI, tests/lake/install.sh) and by
//! `entries --db`, against a sandbox over real HTTP: what every reader sees
//! equals the API's export of the range, each entry once, through faults, a
//! `kill -9`, the two crash points of a commit, incremental syncs of a log
//! with late entries; no object is ever rewritten; `verify` names every
//! change.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use std::time::Duration;

use activitylog_sandbox::{Faults, MAIN_CONTRACT, Sandbox, SandboxBuilder};
use activitylog_tests::cli::{self, Run};
use activitylog_tests::garage::Garage;
use activitylog_tests::lake;
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_activitylog-under-test"))
}

/// The CLI pointed at `sandbox`.
fn at(sandbox: &Sandbox) -> Command {
    cli::against(binary(), &cli::empty_home(), sandbox)
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn end() -> DateTime<Utc> {
    "2025-01-01T00:00:00Z".parse().unwrap()
}

fn start() -> DateTime<Utc> {
    end() - TimeDelta::days(30)
}

/// A sandbox to build whose entries lie in the 30 days before [`end`].
fn in_span() -> SandboxBuilder {
    Sandbox::builder().end(end()).span(TimeDelta::days(30))
}

/// A lake directory for one test, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir =
            std::env::temp_dir().join(format!("activitylog-lake-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Dir(dir)
    }

    fn url(&self) -> String {
        format!("file://{}", self.0.display())
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `target/lake-tools`, where Garage is installed (tests/lake/garage.sh).
fn tools() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/lake-tools")
}

/// Runs `script` (in tests/lake) with `args`; its stdout as JSON.
fn run_python(script: &str, args: &[&str]) -> Value {
    let path = format!("{}/lake/{script}", env!("CARGO_MANIFEST_DIR"));
    let output = Command::new(lake::python())
        .arg(&path)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {path}: {e}"));
    assert!(
        output.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON from the engine")
}

/// What a reader saw: every `@uuid` (a repeat counts twice) and the count per user.
#[derive(Debug, PartialEq, Eq)]
struct Seen {
    count: u64,
    uuids: BTreeSet<String>,
    users: BTreeMap<String, u64>,
}

impl Seen {
    /// Asserts that the reader saw exactly `want`, each entry once.
    fn assert_equals(&self, want: &Seen, reader: &str) {
        assert_eq!(
            self.count,
            self.uuids.len() as u64,
            "{reader} saw an entry twice ({} rows, {} @uuids)",
            self.count,
            self.uuids.len()
        );
        let missing: Vec<_> = want.uuids.difference(&self.uuids).take(3).collect();
        let extra: Vec<_> = self.uuids.difference(&want.uuids).take(3).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{reader} saw {} of {}: missing {missing:?}, extra {extra:?}",
            self.uuids.len(),
            want.uuids.len()
        );
        assert_eq!(self.users, want.users, "{reader}: GROUP BY user");
    }
}

/// The glob a user gives DuckDB for the lake at `root`.
fn glob(root: &str) -> String {
    format!("read_parquet('{root}/**/*.parquet', hive_partitioning = true)")
}

/// DuckDB's view of the lake at `root` (a directory, or `s3://…` with
/// `setup` naming the S3 endpoint), rows with a time in `[since, until)`.
fn duckdb(root: &str, setup: &[String], since: DateTime<Utc>, until: DateTime<Utc>) -> Seen {
    let from = glob(root);
    let range = format!(
        "time >= TIMESTAMPTZ '{}' AND time < TIMESTAMPTZ '{}'",
        rfc3339(since),
        rfc3339(until)
    );
    let mut queries: Vec<String> = setup.to_vec();
    queries.extend([
        format!("SELECT count(*) FROM {from} WHERE {range}"),
        format!("SELECT uuid FROM {from} WHERE {range}"),
        format!("SELECT \"user\", count(*) FROM {from} WHERE {range} GROUP BY \"user\""),
    ]);
    let answers = lake::duckdb(&queries);
    let answers = &answers[setup.len()..];
    let text = |value: &Value| value.as_str().unwrap().to_string();
    Seen {
        count: answers[0][0][0].as_u64().unwrap(),
        uuids: answers[1].iter().map(|row| text(&row[0])).collect(),
        users: answers[2]
            .iter()
            .map(|row| (text(&row[0]), row[1].as_u64().unwrap()))
            .collect(),
    }
}

/// Spark's view of the lake directory (`spark.read.parquet(DIR)`, all of it).
fn spark(dir: &Path) -> Seen {
    let answer = run_python("spark_query.py", &[dir.to_str().unwrap()]);
    Seen {
        count: answer["count"].as_u64().unwrap(),
        uuids: answer["uuids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap().to_string())
            .collect(),
        users: answer["users"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(user, n)| (user.clone(), n.as_u64().unwrap()))
            .collect(),
    }
}

/// The entries of `[since, until)` as `entries --format ndjson` prints them
/// from `source` (the API, or `--db` a lake).
async fn exported(
    command: Command,
    db: Option<&str>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Seen {
    let contract = MAIN_CONTRACT.to_string();
    let (since, until) = (rfc3339(since), rfc3339(until));
    let mut args = vec!["entries", &contract, "--since", &since, "--until", &until];
    args.extend(["--format", "ndjson"]);
    if let Some(db) = db {
        args.extend(["--db", db]);
    }
    let run = cli::run(command, &args).await;
    assert_eq!(run.code, Some(0), "entries: {}", run.stderr);
    let mut seen = Seen {
        count: 0,
        uuids: BTreeSet::new(),
        users: BTreeMap::new(),
    };
    for line in run.stdout.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        seen.count += 1;
        seen.uuids
            .insert(entry["@uuid"].as_str().unwrap().to_string());
        let user = entry["principal"]["identity"]["username"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        *seen.users.entry(user).or_default() += 1;
    }
    seen
}

/// `sync` of the main contract into `url` over `[start, end)`, with `extra` arguments.
async fn sync(sandbox: &Sandbox, url: &str, extra: &[&str], env: &[(&'static str, String)]) -> Run {
    let mut command = at(sandbox);
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    let contract = MAIN_CONTRACT.to_string();
    let (since, until) = (rfc3339(start()), rfc3339(end()));
    let mut args = vec![
        "sync", &contract, "--db", url, "--since", &since, "--until", &until,
    ];
    args.extend(extra);
    cli::run(command, &args).await
}

/// `verify --db url`.
async fn verify(url: &str, env: &[(&'static str, String)]) -> Run {
    let mut command = cli::isolated(binary(), &cli::empty_home());
    command.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    cli::run(command, &["verify", "--db", url]).await
}

/// Every file of the lake directory with what changes when it is
/// rewritten (size, modification time, inode).
fn objects(dir: &Path) -> BTreeMap<String, (u64, std::time::SystemTime, u64)> {
    use std::os::unix::fs::MetadataExt;
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            } else {
                let key = entry.path().display().to_string();
                found.insert(key, (meta.len(), meta.modified().unwrap(), meta.ino()));
            }
        }
    }
    found
}

/// The data objects (`*.parquet` under the partitions) of `objects`.
fn parquet(objects: &BTreeMap<String, (u64, std::time::SystemTime, u64)>) -> Vec<String> {
    objects
        .keys()
        .filter(|k| k.ends_with(".parquet") && !k.contains("/_"))
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_directory_lake_reads_in_duckdb_spark_and_entries_as_the_api_exports_it() {
    let sandbox = in_span().events(3000).start().await.unwrap();
    let lake = Dir::new("read");
    let run = sync(&sandbox, &lake.url(), &[], &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("3000 new"), "{}", run.stderr);

    let want = exported(at(&sandbox), None, start(), end()).await;
    assert_eq!(want.count, 3000);
    let root = lake.0.display().to_string();
    duckdb(&root, &[], start(), end()).assert_equals(&want, "DuckDB");
    spark(&lake.0).assert_equals(&want, "Spark");
    let offline = cli::isolated(binary(), &cli::empty_home());
    exported(offline, Some(&lake.url()), start(), end())
        .await
        .assert_equals(&want, "entries --db");

    // summary --db reads the lake as summary reads the API.
    let (since, until) = (rfc3339(start()), rfc3339(end()));
    let contract = MAIN_CONTRACT.to_string();
    let args = [
        "summary", &contract, "--since", &since, "--until", &until, "--by", "user",
    ];
    let from_api = cli::run(at(&sandbox), &args).await;
    let offline = cli::isolated(binary(), &cli::empty_home());
    let from_lake = cli::run(offline, &[&args[..], &["--db", &lake.url()]].concat()).await;
    assert_eq!(from_lake.code, Some(0), "{}", from_lake.stderr);
    assert_eq!(from_lake.stdout, from_api.stdout, "summary --db");

    // Partition pruning: DuckDB reads one day's directory alone.
    let day = (start() + TimeDelta::days(3)).date_naive();
    let one_day = format!("{root}/contract={MAIN_CONTRACT}/day={day}");
    let since = day.and_hms_opt(0, 0, 0).unwrap().and_utc();
    let of_day = exported(at(&sandbox), None, since, since + TimeDelta::days(1)).await;
    assert!(of_day.count > 0);
    duckdb(&one_day, &[], since, since + TimeDelta::days(1)).assert_equals(&of_day, "one day");

    let verified = verify(&lake.url(), &[]).await;
    assert_eq!(verified.code, Some(0), "{}", verified.stderr);
    assert!(verified.stdout.contains("intact"), "{}", verified.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_s3_lake_on_garage_reads_in_duckdb_and_entries_and_verifies() {
    let garage = Garage::start(&tools());
    let sandbox = in_span()
        .events(2000)
        .faults(Faults::rate(0.2))
        .start()
        .await
        .unwrap();
    let url = format!("s3://{}/audit", garage.bucket);
    let endpoint = garage.endpoint();
    let s3 = ["--s3-endpoint", endpoint.as_str()];
    let env = garage.env();
    let run = sync(
        &sandbox,
        &url,
        &[&s3[..], &["--commit-every", "500"]].concat(),
        &env,
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(sandbox.fault_counts().total() > 0, "no fault was injected");

    let want = exported(at(&sandbox), None, start(), end()).await;
    assert_eq!(want.count, 2000);
    // DuckDB reads the bucket itself (httpfs, path-style, plain HTTP).
    duckdb(&url, &s3_setup(&garage), start(), end()).assert_equals(&want, "DuckDB on S3");
    let mut offline = cli::isolated(binary(), &cli::empty_home());
    offline.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
    offline.env("AWS_ENDPOINT_URL", &endpoint);
    exported(offline, Some(&url), start(), end())
        .await
        .assert_equals(&want, "entries --db s3://");

    // A second sync adds nothing, and rewrites nothing (ETags and keys).
    let before = garage_objects(&garage, &url);
    let again = sync(&sandbox, &url, &s3, &env).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert!(again.stderr.contains(", 0 new"), "{}", again.stderr);
    let after = garage_objects(&garage, &url);
    for (key, etag) in &before {
        assert_eq!(after.get(key), Some(etag), "{key} was rewritten or removed");
    }
    let mut verify_env = env.clone();
    verify_env.push(("AWS_ENDPOINT_URL", endpoint.clone()));
    let verified = verify(&url, &verify_env).await;
    assert_eq!(
        verified.code,
        Some(0),
        "{}{}",
        verified.stdout,
        verified.stderr
    );
    assert!(
        verified.stdout.contains("2000 entries"),
        "{}",
        verified.stdout
    );
}

/// The httpfs extension as PyPI's `duckdb-ext-httpfs` installs it (asked
/// of the Python that has it).
fn httpfs() -> String {
    let script = "import duckdb, duckdb_ext, glob, os\n\
                  root = list(duckdb_ext.__path__)[0]\n\
                  print(glob.glob(os.path.join(root, 'extensions', 'v' + duckdb.__version__, \
                  '*', 'httpfs.duckdb_extension'))[0])";
    let output = Command::new(lake::python())
        .arg("-c")
        .arg(script)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "no httpfs extension (PyPI duckdb-ext-httpfs): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// DuckDB's statements that reach Garage: httpfs, and the key as a secret.
fn s3_setup(garage: &Garage) -> Vec<String> {
    vec![
        format!("LOAD '{}'", httpfs()),
        format!(
            "CREATE SECRET garage (TYPE s3, KEY_ID '{}', SECRET '{}', REGION '{}', \
             ENDPOINT '{}', URL_STYLE 'path', USE_SSL false)",
            garage.key_id,
            garage.secret,
            activitylog_tests::garage::REGION,
            garage.endpoint().trim_start_matches("http://")
        ),
    ]
}

/// Every object under `root` in Garage with its MD5 and modification time,
/// as DuckDB's `read_blob` lists them (not through the code under test).
fn garage_objects(garage: &Garage, root: &str) -> BTreeMap<String, String> {
    let mut queries = s3_setup(garage);
    queries.push(format!(
        "SELECT filename, md5(content) || ' ' || last_modified FROM read_blob('{root}/**')"
    ));
    let answers = lake::duckdb(&queries);
    answers[queries.len() - 1]
        .iter()
        .map(|row| {
            (
                row[0].as_str().unwrap().to_string(),
                row[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The entries of `[start, end)` that DuckDB sees in the lake directory.
fn duckdb_dir(dir: &Path) -> Seen {
    duckdb(&dir.display().to_string(), &[], start(), end())
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_sync_then_resync_is_seen_exactly_once() {
    let sandbox = in_span()
        .events(6000)
        .latency(Duration::from_millis(40))
        .start()
        .await
        .unwrap();
    let lake = Dir::new("kill");
    let mut command = at(&sandbox);
    command
        .args(["sync", &MAIN_CONTRACT.to_string(), "--db", &lake.url()])
        .args(["--since", &rfc3339(start()), "--until", &rfc3339(end())])
        .args([
            "--page-size",
            "200",
            "--concurrency",
            "1",
            "--commit-every",
            "500",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = command.spawn().unwrap();
    // Killed once a commit is in and objects are staged for the next.
    let manifest = lake.0.join("_manifest");
    let mut midway = false;
    for _ in 0..1200 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let commits = std::fs::read_dir(&manifest).map_or(0, |d| d.count());
        if commits >= 2 {
            midway = true;
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(
        status.code().is_none() && midway,
        "the sync ended before the kill"
    );
    let partial = duckdb_dir(&lake.0);
    assert!(
        partial.count > 0 && partial.count < 6000,
        "{} seen",
        partial.count
    );
    assert_eq!(
        partial.count,
        partial.uuids.len() as u64,
        "an entry seen twice"
    );

    let run = sync(&sandbox, &lake.url(), &[], &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let want = exported(at(&sandbox), None, start(), end()).await;
    duckdb_dir(&lake.0).assert_equals(&want, "DuckDB after the resync");
    assert_eq!(verify(&lake.url(), &[]).await.code, Some(0));
}

/// The two points a kill can stop a commit at, set up as they are left:
/// (1) objects staged, no manifest names them; (2) the manifest written,
/// an object not yet copied out of `_staging/`. The next sync publishes (2)
/// and removes (1).
#[tokio::test(flavor = "multi_thread")]
async fn a_commit_cut_before_or_after_its_manifest_is_never_seen_twice() {
    let sandbox = in_span().events(3000).start().await.unwrap();
    let lake = Dir::new("cut");
    let run = sync(&sandbox, &lake.url(), &["--commit-every", "1000"], &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let want = exported(at(&sandbox), None, start(), end()).await;
    let committed = parquet(&objects(&lake.0));
    // (2): a committed object back in staging, as before its copy.
    let unpublished = &committed[0];
    let relative = unpublished
        .strip_prefix(&format!("{}/", lake.0.display()))
        .unwrap();
    let staged = lake
        .0
        .join("_staging")
        .join(relative.replace(".parquet", ".pending"));
    std::fs::create_dir_all(staged.parent().unwrap()).unwrap();
    std::fs::rename(unpublished, &staged).unwrap();
    // (1): an uncommitted copy of another object, staged under a new name.
    let orphan = lake
        .0
        .join("_staging")
        .join(relative.replace(".parquet", "-orphan.pending"));
    std::fs::copy(&committed[1], &orphan).unwrap();

    let checked = verify(&lake.url(), &[]).await;
    assert!(
        checked.stdout.contains("missing (its staged copy is there")
            && checked
                .stderr
                .contains("1 staged object of commits that never happened"),
        "{checked:?}"
    );
    let seen = duckdb_dir(&lake.0);
    assert_eq!(seen.count, seen.uuids.len() as u64, "an entry seen twice");
    assert!(seen.count < 3000, "the unpublished object is visible");
    let spark_seen = spark(&lake.0);
    assert_eq!(spark_seen.count, seen.count, "Spark reads staged objects");
    // entries --db reads the committed object from staging meanwhile.
    let offline = cli::isolated(binary(), &cli::empty_home());
    exported(offline, Some(&lake.url()), start(), end())
        .await
        .assert_equals(&want, "entries --db");

    // The next sync publishes what was committed, and nothing else.
    let run = sync(&sandbox, &lake.url(), &[], &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains(", 0 new"), "{}", run.stderr);
    duckdb_dir(&lake.0).assert_equals(&want, "DuckDB after the next sync");
    spark(&lake.0).assert_equals(&want, "Spark after the next sync");
    assert!(Path::new(unpublished).exists());
    // ... and removes the uncommitted object, which no commit can name now.
    assert!(!orphan.exists(), "a leftover of a cut commit stayed staged");
    let names: Vec<String> = objects(&lake.0).into_keys().collect();
    assert!(
        !names.iter().any(|name| name.contains("orphan")),
        "an uncommitted object was published: {names:?}"
    );
}

/// Incremental syncs of a live log whose entries show up to 2 s late: each
/// sync re-reads the overlap before the lake's mark, writes what is new
/// into new objects, and never rewrites one; readers see each entry once.
#[tokio::test(flavor = "multi_thread")]
async fn incremental_syncs_catch_late_entries_in_new_objects_only() {
    let sandbox = Sandbox::builder()
        .events(300)
        .live(Duration::from_millis(20))
        .ingestion_lag(Duration::from_secs(2))
        .start()
        .await
        .unwrap();
    let lake = Dir::new("live");
    let url = lake.url();
    let contract = MAIN_CONTRACT.to_string();
    let mut seen_objects = BTreeMap::new();
    let mut late = 0;
    for round in 0..4 {
        let mut args = vec!["sync", &contract, "--db", &url, "--settle", "500ms"];
        if round == 0 {
            args.extend(["--since", "100d"]);
        }
        let run = cli::run(at(&sandbox), &args).await;
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        if round > 0 && !run.stderr.contains(" 0 new") {
            late += 1;
        }
        let now = objects(&lake.0);
        for (key, version) in &seen_objects {
            assert_eq!(
                now.get(key),
                Some(version),
                "{key} was rewritten or removed"
            );
        }
        seen_objects = now;
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    assert!(late > 0, "no sync found entries past the previous mark");
    // Past the lag, one more sync; then the lake holds what the log holds
    // before its mark, each once.
    let lake_mark = || async {
        let lake = activitylog_lake::Lake::open(&url, &Default::default()).unwrap();
        lake.through(MAIN_CONTRACT).await.unwrap().unwrap()
    };
    let before = lake_mark().await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let run = cli::run(
        at(&sandbox),
        &["sync", &contract, "--db", &url, "--settle", "500ms"],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(lake_mark().await > before, "the mark did not move");
    // Entries before the previous mark are all visible by now (to the
    // millisecond, as the query's bound is written).
    let mark = chrono::DurationRound::duration_trunc(before, TimeDelta::milliseconds(1)).unwrap();
    let since = DateTime::<Utc>::UNIX_EPOCH;
    let uuids: BTreeSet<String> = sandbox
        .event_uuids(MAIN_CONTRACT, since, mark)
        .into_iter()
        .collect();
    assert!(
        uuids.len() > 350,
        "the live log was too quiet: {}",
        uuids.len()
    );
    let seen = duckdb(&lake.0.display().to_string(), &[], since, mark);
    let missing: Vec<_> = uuids.difference(&seen.uuids).take(3).collect();
    let extra: Vec<_> = seen.uuids.difference(&uuids).take(3).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the lake has {} of {} before its mark {mark}: missing {missing:?}, extra {extra:?}",
        seen.uuids.len(),
        uuids.len()
    );
    assert_eq!(seen.count, seen.uuids.len() as u64, "an entry seen twice");
    for (key, version) in &seen_objects {
        assert_eq!(
            objects(&lake.0).get(key),
            Some(version),
            "{key} was rewritten"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_names_a_flipped_byte_a_deleted_an_extra_object_and_a_rewritten_record() {
    let sandbox = in_span().events(2000).start().await.unwrap();
    let lake = Dir::new("verify");
    for until in [end() - TimeDelta::days(10), end()] {
        let mut command = at(&sandbox);
        let (since, until) = (rfc3339(start()), rfc3339(until));
        command.args(["sync", &MAIN_CONTRACT.to_string(), "--db", &lake.url()]);
        command.args(["--since", &since, "--until", &until]);
        let run = cli::run(command, &[]).await;
        assert_eq!(run.code, Some(0), "{}", run.stderr);
    }
    let intact = verify(&lake.url(), &[]).await;
    assert_eq!(intact.code, Some(0), "{}{}", intact.stdout, intact.stderr);
    assert!(
        intact.stdout.contains("2 commits") && intact.stdout.contains("2000 entries"),
        "{}",
        intact.stdout
    );

    let files = parquet(&objects(&lake.0));
    let root = format!("{}/", lake.0.display());
    let key = |path: &str| path.strip_prefix(&root).unwrap().to_string();
    // A flipped byte in one object.
    let mut bytes = std::fs::read(&files[0]).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&files[0], bytes).unwrap();
    // A deleted object.
    std::fs::remove_file(&files[1]).unwrap();
    // An extra object (a copy of another, in a partition).
    let extra = files[2].replace(".parquet", "-extra.parquet");
    std::fs::copy(&files[2], &extra).unwrap();
    let run = verify(&lake.url(), &[]).await;
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    for (name, what) in [
        (&files[0], "changed"),
        (&files[1], "missing"),
        (&extra, "not in the chain"),
    ] {
        let line = format!("{}: {what}", key(name));
        assert!(run.stdout.contains(&line), "no `{line}` in {}", run.stdout);
    }
    assert!(run.stderr.contains("3 problems"), "{}", run.stderr);

    // A rewritten manifest record: the first commit's first object says
    // another entry count (as one would to hide a removed entry).
    let first = lake.0.join("_manifest/000000000001.ndjson");
    let text = std::fs::read_to_string(&first).unwrap();
    let rewritten = text.replacen("\"entries\":", "\"entries\":1", 1);
    assert_ne!(rewritten, text);
    std::fs::write(&first, rewritten).unwrap();
    let run = verify(&lake.url(), &[]).await;
    assert_eq!(run.code, Some(1));
    assert!(
        run.stdout
            .contains("_manifest/000000000001.ndjson line 2: the record before it was rewritten"),
        "{}",
        run.stdout
    );
    // A sync refuses to add to a lake that fails verification.
    let refused = sync(&sandbox, &lake.url(), &[], &[]).await;
    assert_eq!(refused.code, Some(1), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("fails verification"),
        "{}",
        refused.stderr
    );
}

/// The README's DuckDB and Spark queries, as written there, on a lake
/// synced here: both count per user what the API exports.
#[tokio::test(flavor = "multi_thread")]
async fn the_readme_queries_run_on_a_synced_lake() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let sandbox = in_span().events(1500).start().await.unwrap();
    let lake = Dir::new("readme");
    let run = sync(&sandbox, &lake.url(), &[], &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let want = exported(at(&sandbox), None, start(), end()).await.users;
    let here = lake.0.display().to_string();

    let duckdb_line = readme
        .lines()
        .filter(|l| l.contains("/srv/audit-lake"))
        .find_map(|l| l.strip_prefix("duckdb -c \""))
        .expect("the README's DuckDB query");
    let query = duckdb_line
        .strip_suffix('"')
        .unwrap()
        .replace("\\\"", "\"")
        .replace("/srv/audit-lake", &here);
    let answer = lake::duckdb(&[query]);
    let users: BTreeMap<String, u64> = answer[0]
        .iter()
        .map(|row| {
            (
                row[0].as_str().unwrap().to_string(),
                row[1].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(users, want, "the README's DuckDB query");

    let spark_line = readme
        .lines()
        .find_map(|l| l.split_once("# then: ").map(|(_, code)| code))
        .expect("the README's Spark query");
    let expression = spark_line
        .strip_suffix(".show()")
        .unwrap()
        .replace("/srv/audit-lake", &here);
    let script = format!(
        "import json\nfrom pyspark.sql import SparkSession\n\
         spark = SparkSession.builder.master('local[1]').config('spark.ui.enabled', 'false').getOrCreate()\n\
         spark.sparkContext.setLogLevel('ERROR')\n\
         rows = {expression}.collect()\n\
         print(json.dumps({{row['user']: row['count'] for row in rows}}))\n"
    );
    let output = Command::new(lake::python())
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let users: BTreeMap<String, u64> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(users, want, "the README's Spark query");
}

/// What `entries` printed with `args` from `command`: its exit code,
/// stdout, and the stderr lines about entries that do not decode.
async fn filtered(command: Command, args: &[&str]) -> (Option<i32>, String, Vec<String>) {
    let run = cli::run(command, args).await;
    let omitted = run
        .stderr
        .lines()
        .filter(|line| line.contains("not decode"))
        .map(str::to_string)
        .collect();
    (run.code, run.stdout, omitted)
}

/// Filter flags of every kind the lake narrows by, with `values` found in
/// the export (odd case where the CLI ignores it).
fn flag_sets(values: &BTreeMap<&str, String>) -> Vec<Vec<String>> {
    let value = |name: &str| values[name].clone();
    let upper = |name: &str| values[name].to_ascii_uppercase();
    let sets: Vec<Vec<String>> = vec![
        vec!["--user".into(), upper("user")],
        vec!["--user".into(), "nobody@example.com".into()],
        vec![
            "--exclude-user".into(),
            format!("{},{}", value("user"), upper("other_user")),
        ],
        vec!["--type".into(), value("type").to_ascii_lowercase()],
        vec!["--exclude-type".into(), upper("type")],
        vec!["--status".into(), value("status").to_ascii_lowercase()],
        vec!["--resource-type".into(), upper("resource_type")],
        vec!["--resource-id".into(), upper("resource_id")],
        vec!["--resource-id".into(), "no-such-resource".into()],
        vec!["--action".into(), upper("action")[..3].to_string()],
        vec!["--request-id".into(), value("request_id")],
        vec!["--request-id".into(), "no-such-request".into()],
        vec![
            "--user".into(),
            format!("{},{}", value("user"), value("other_user")),
            "--type".into(),
            value("type"),
            "--exclude-type".into(),
            "Provision".into(),
        ],
    ];
    sets
}

/// A filtered `entries --db` of a lake prints byte for byte what the same
/// filters print of the API's export of the range, and `summary --db`
/// counts what they count: for every filter kind
/// the lake narrows by, over a sandbox's entries with wire variants and
/// users in odd case.
#[tokio::test(flavor = "multi_thread")]
async fn filtered_reads_of_a_lake_print_what_the_filtered_api_export_prints() {
    let users = [
        "Alice@Example.com",
        "bob@example.com",
        "CAROL@example.com",
        "dave@example.com",
    ];
    let sandbox = in_span()
        .contracts(vec![
            activitylog_sandbox::ContractSpec::new(MAIN_CONTRACT, 1500).users(users),
        ])
        .wire_variants(0.3)
        .start()
        .await
        .unwrap();
    let lake = Dir::new("filtered");
    let run = sync(&sandbox, &lake.url(), &[], &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);

    let contract = MAIN_CONTRACT.to_string();
    let (since, until) = (rfc3339(start()), rfc3339(end()));
    let range = [
        "entries", &contract, "--since", &since, "--until", &until, "--format", "ndjson",
    ];
    let whole = cli::run(at(&sandbox), &range).await;
    assert_eq!(whole.code, Some(0), "{}", whole.stderr);
    // Values of one entry with every field, and another user.
    let entries: Vec<Value> = whole
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let full = entries
        .iter()
        .find(|e| {
            e["meta"]["requestId"].is_string()
                && e["event"]["status"].is_string()
                && e["event"]["resources"][0]["action"][0].is_string()
                && e["event"]["resources"][0]["id"].is_string()
        })
        .expect("an entry with every field");
    let text = |v: &Value| v.as_str().unwrap().to_string();
    let user = text(&full["principal"]["identity"]["username"]);
    let other_user = users
        .iter()
        .find(|u| !u.eq_ignore_ascii_case(&user))
        .unwrap()
        .to_string();
    let values: BTreeMap<&str, String> = [
        ("user", user),
        ("other_user", other_user),
        ("type", text(&full["event"]["type"])),
        ("status", text(&full["event"]["status"])),
        (
            "resource_type",
            text(&full["event"]["resources"][0]["type"]),
        ),
        ("resource_id", text(&full["event"]["resources"][0]["id"])),
        ("action", text(&full["event"]["resources"][0]["action"][0])),
        ("request_id", text(&full["meta"]["requestId"])),
    ]
    .into();

    for flags in flag_sets(&values) {
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let args = [&range[..], &flags].concat();
        let from_api = filtered(at(&sandbox), &args).await;
        let offline = cli::isolated(binary(), &cli::empty_home());
        let from_lake = filtered(offline, &[&args[..], &["--db", &lake.url()]].concat()).await;
        assert_eq!(from_api.0, Some(0), "{flags:?}");
        assert!(
            from_lake == from_api,
            "{flags:?}: the lake printed {} lines, the API {}",
            from_lake.1.lines().count(),
            from_api.1.lines().count()
        );
        // summary --db counts what the same filters count of the API.
        let by = [
            "summary", &contract, "--since", &since, "--until", &until, "--by", "user",
        ];
        let args = [&by[..], &flags].concat();
        let from_api = cli::run(at(&sandbox), &args).await;
        let offline = cli::isolated(binary(), &cli::empty_home());
        let from_lake = cli::run(offline, &[&args[..], &["--db", &lake.url()]].concat()).await;
        assert_eq!(
            from_api.code,
            Some(0),
            "summary {flags:?}: {}",
            from_api.stderr
        );
        assert_eq!(
            from_lake.code,
            Some(0),
            "summary {flags:?}: {}",
            from_lake.stderr
        );
        assert_eq!(from_lake.stdout, from_api.stdout, "summary {flags:?}");
    }
}

/// Entries as the service may send them: odd case, several resources, a
/// NUL, and two the SDK cannot decode (a numeric status, a numeric request
/// id), all on 2024-12-10.
const CRAFTED: &[&str] = &[
    r#"{"@uuid":"c-01","meta":{"time":"2024-12-10T00:00:01Z","requestId":"REQ-A"},"principal":{"sourceIP":"192.0.2.1","identity":{"contractNumber":31721060,"username":"Alice@Example.COM"}},"event":{"type":"requestaccepted","status":"done","resources":[{"type":"Server","id":"S-1","action":["VR.server.create","vr.a_b%c"]},{"type":"nic","id":"n-2"}]}}"#,
    r#"{"@uuid":"c-02","meta":{"time":"2024-12-10T00:00:02Z"},"principal":{"identity":{"contractNumber":31721060,"username":"alice@example.com"}},"event":{"type":"Provision"}}"#,
    r#"{"@uuid":"c-03","meta":{"time":"2024-12-10T00:00:03Z"},"principal":null,"event":null}"#,
    r#"{"@uuid":"c-04","meta":{"time":"2024-12-10T00:00:04Z"},"principal":{"identity":{"contractNumber":31721060,"username":"zed@example.com"}},"event":{"type":"Error","status":7}}"#,
    r#"{"@uuid":"c-05","meta":{"time":"2024-12-10T00:00:05Z","requestId":5},"principal":{"identity":{"contractNumber":31721060,"username":"zed@example.com"}}}"#,
    r#"{"@uuid":"c-06","meta":{"time":"2024-12-10T00:00:06Z","requestId":"req-b"},"principal":{"identity":{"contractNumber":31721060,"username":"BOB@example.com"}},"event":{"type":"RequestAccepted","resources":[{"type":"volume","id":"V-9","action":null},{"type":null,"id":"s-1"}]}}"#,
    r#"{"@uuid":"c-07","meta":{"time":"2024-12-10T00:00:07Z"},"principal":{"identity":{"contractNumber":31721060,"username":"a\u0000b"}}}"#,
    r#"{"@uuid":"c-08","meta":{"time":"2024-12-10T00:00:08Z","requestId":"REQ-a"},"principal":{"identity":{"contractNumber":31721060,"username":"carol_%@example.com"}},"event":{"type":"provision","status":"FAILED","resources":[{"type":"SERVER","id":"s-1","action":["sec.user.create"]},{"type":"lan","id":"l-1","action":["vr.lan.update"]}]}}"#,
];

/// Entries the SDK cannot decode are printed and reported by a filtered
/// `entries --db` of a lake exactly as by the same filters on the API's
/// export (a server that sends [`CRAFTED`]).
#[tokio::test(flavor = "multi_thread")]
async fn filtered_reads_of_a_lake_report_entries_that_do_not_decode_as_the_api_export_does() {
    let served: Vec<String> = CRAFTED.iter().map(|e| e.to_string()).collect();
    let server = activitylog_tests::MockServer::serving(served).await;
    let api = || {
        let mut command = cli::isolated(binary(), &cli::empty_home());
        command
            .env("IONOS_API_URL", server.url())
            .env("IONOS_TOKEN", "t");
        command
    };
    let lake = Dir::new("crafted");
    let contract = MAIN_CONTRACT.to_string();
    let (since, until) = ("2024-12-10T00:00:00Z", "2024-12-11T00:00:00Z");
    let run = cli::run(
        api(),
        &[
            "sync",
            &contract,
            "--db",
            &lake.url(),
            "--since",
            since,
            "--until",
            until,
        ],
    )
    .await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stderr.contains("8 new"), "{}", run.stderr);

    let range = [
        "entries", &contract, "--since", since, "--until", until, "--format", "ndjson",
    ];
    let sets: &[&[&str]] = &[
        &["--user", "ALICE@example.com"],
        &["--user", "nobody@example.com"],
        &["--user", "carol_%@example.com"],
        &["--exclude-user", "alice@example.com,ZED@example.com"],
        &["--type", "REQUESTACCEPTED"],
        &["--exclude-type", "Provision"],
        &["--status", "Done,failed"],
        &["--resource-type", "volume,LAN"],
        &["--resource-id", "s-1"],
        &["--resource-id", "no-such-resource"],
        &["--action", "vr.a_b%,SEC."],
        &["--request-id", "req-a"],
        &["--request-id", "REQ-NONE"],
        &[
            "--resource-id",
            "S-1",
            "--exclude-user",
            "alice@example.com",
            "--status",
            "failed",
        ],
    ];
    for flags in sets {
        let args = [&range[..], flags].concat();
        let from_api = filtered(api(), &args).await;
        let offline = cli::isolated(binary(), &cli::empty_home());
        let from_lake = filtered(offline, &[&args[..], &["--db", &lake.url()]].concat()).await;
        assert_eq!(from_api.0, Some(1), "{flags:?}: c-04 and c-05 fail the run");
        assert_eq!(from_lake, from_api, "{flags:?}");
    }
    // Every kind of lookup reports the two that do not decode.
    let offline = cli::isolated(binary(), &cli::empty_home());
    let none = filtered(
        offline,
        &[
            &range[..],
            &["--request-id", "REQ-NONE", "--db", &lake.url()],
        ]
        .concat(),
    )
    .await;
    assert_eq!(none.1, "");
    assert!(
        none.2
            .iter()
            .any(|l| l.contains("c-04") && l.contains("c-05")),
        "{none:?}"
    );
}

/// `entries --db -v` says how many entries it read of a lake: a filter
/// reads those of the user alone (and the ones that do not decode), a
/// lookup that matches nothing reads none.
#[tokio::test(flavor = "multi_thread")]
async fn verbose_reads_of_a_lake_say_filters_read_only_the_entries_they_keep() {
    let users = ["alice@example.com", "bob@example.com", "carol@example.com"];
    let sandbox = in_span()
        .contracts(vec![
            activitylog_sandbox::ContractSpec::new(MAIN_CONTRACT, 1200).users(users),
        ])
        .start()
        .await
        .unwrap();
    let lake = Dir::new("verbose");
    let run = sync(&sandbox, &lake.url(), &[], &[]).await;
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let contract = MAIN_CONTRACT.to_string();
    let (since, until) = (rfc3339(start()), rfc3339(end()));
    let read = |flags: &'static [&'static str]| {
        let url = lake.url();
        let (contract, since, until) = (contract.clone(), since.clone(), until.clone());
        async move {
            let mut args = vec![
                "entries", &contract, "--since", &since, "--until", &until, "--format", "ndjson",
                "--db", &url, "-v",
            ];
            args.extend(flags);
            let run = cli::run(cli::isolated(binary(), &cli::empty_home()), &args).await;
            assert_eq!(run.code, Some(0), "{}", run.stderr);
            let line = run
                .stderr
                .lines()
                .find(|l| l.contains("entries of the range: read "))
                .unwrap_or_else(|| panic!("no count of entries read: {}", run.stderr))
                .to_string();
            let numbers: Vec<u64> = line
                .split("read ")
                .nth(1)
                .unwrap()
                .split(' ')
                .filter_map(|w| w.parse().ok())
                .collect();
            (
                run.stdout.lines().count() as u64,
                numbers[0],
                numbers[1],
                line,
            )
        }
    };
    let (printed, parsed, held, line) = read(&[]).await;
    assert_eq!((printed, parsed, held), (1200, 1200, 1200), "{line}");
    let (printed, parsed, held, line) = read(&["--user", "BOB@example.com"]).await;
    assert!(printed > 200 && printed < 600, "{printed} of bob's");
    assert_eq!((parsed, held), (printed, 1200), "{line}");
    for lookup in [
        &["--user", "nobody@example.com"][..],
        &["--resource-id", "no-such-resource"],
        &["--request-id", "no-such-request"],
    ] {
        let (printed, parsed, held, line) = read(lookup).await;
        assert_eq!((printed, parsed, held), (0, 0, 1200), "{lookup:?}: {line}");
    }
}
