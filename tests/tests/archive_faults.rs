//! The archive against real faults and a real network setup, with the real
//! components: PostgreSQL over TLS (a certificate made here, a server that
//! takes only TLS), the server restarted in the middle of a sync, two syncs
//! into one archive at once, and a full disk (a small tmpfs mounted here)
//! under `entries --out --resume` and under a SQLite archive.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use activitylog_archive::Archive;
use activitylog_sandbox::{MAIN_CONTRACT, Sandbox};
use activitylog_tests::cli::{self, Run};
use activitylog_tests::postgres::{PASSWORD, Postgres};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use futures::TryStreamExt;

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_activitylog-under-test"))
}

/// The CLI pointed at `sandbox`.
fn at(sandbox: &Sandbox) -> Command {
    cli::against(binary(), &cli::empty_home(), sandbox)
}

/// The CLI with no way to reach any API.
fn offline() -> Command {
    cli::isolated(binary(), &cli::empty_home())
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

async fn sandbox(events: usize, latency: Option<Duration>) -> Sandbox {
    let mut builder = Sandbox::builder()
        .events(events)
        .end(end())
        .span(TimeDelta::days(30));
    if let Some(latency) = latency {
        builder = builder.latency(latency);
    }
    builder.start().await.unwrap()
}

/// The words of a sync of the main contract over the sandbox's span into `url`.
fn sync_words(url: &str) -> Vec<String> {
    [
        "sync",
        &MAIN_CONTRACT.to_string(),
        "--db",
        url,
        "--since",
        &rfc3339(start()),
        "--until",
        &rfc3339(end()),
    ]
    .map(String::from)
    .to_vec()
}

async fn sync(sandbox: &Sandbox, url: &str) -> Run {
    let words = sync_words(url);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    cli::run(at(sandbox), &words).await
}

/// The sandbox's own set of `@uuid`s of the main contract.
fn expected(sandbox: &Sandbox) -> BTreeSet<String> {
    sandbox
        .event_uuids(MAIN_CONTRACT, start(), end())
        .into_iter()
        .collect()
}

/// The archived `@uuid`s of the main contract, checking none is there twice.
async fn archived(url: &str) -> BTreeSet<String> {
    let archive = Archive::open(url).await.unwrap();
    let events: Vec<_> = archive
        .entries(MAIN_CONTRACT, start(), end())
        .try_collect()
        .await
        .unwrap();
    let count = archive.count(MAIN_CONTRACT).await.unwrap();
    archive.close().await;
    let uuids: BTreeSet<String> = events
        .iter()
        .map(|e| e.uuid().unwrap().into_owned())
        .collect();
    assert_eq!(uuids.len(), events.len(), "an entry is archived twice");
    assert_eq!(count as usize, events.len(), "rows outside the range");
    uuids
}

fn assert_same(archived: &BTreeSet<String>, expected: &BTreeSet<String>) {
    let missing: Vec<_> = expected.difference(archived).take(5).collect();
    let extra: Vec<_> = archived.difference(expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "archived {} of {}: missing {missing:?}, extra {extra:?}",
        archived.len(),
        expected.len()
    );
}

/// A failure's stderr: one line, saying `error:`.
fn one_line(run: &Run) -> &str {
    let text = run.stderr.trim_end();
    assert_eq!(text.lines().count(), 1, "not one line: {}", run.stderr);
    assert!(text.starts_with("error:"), "{text}");
    text
}

// ---------------------------------------------------------------- TLS

/// A CA, and a server certificate for `localhost` only signed by it: PEMs
/// of (CA certificate, server certificate, server key).
fn certificates() -> (String, String, String) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "activitylog test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = rcgen::CertifiedIssuer::self_signed(ca, ca_key).unwrap();
    let server = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server = server.signed_by(&server_key, &ca).unwrap();
    (ca.pem(), server.pem(), server_key.serialize_pem())
}

/// A CA that signed nothing here.
fn stranger() -> String {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let key = rcgen::KeyPair::generate().unwrap();
    ca.self_signed(&key).unwrap().pem()
}

/// `sslmode=require` and `verify-full` with the right root reach a server
/// that takes only TLS (with a password); `verify-full` refuses a host
/// name the certificate does not name, and a root that did not sign it,
/// each with one line; `require` against a server without TLS fails
/// rather than sending the password in clear text. The password shows
/// nowhere.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_over_tls_verifies_what_it_is_asked_to() {
    let (ca, cert, key) = certificates();
    let dir = std::env::temp_dir().join(format!("activitylog-pg-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let (root, other) = (dir.join("root.pem"), dir.join("other.pem"));
    std::fs::write(&root, &ca).unwrap();
    std::fs::write(&other, stranger()).unwrap();
    let server = Postgres::start_tls(&cert, &key);
    server.database("tls");
    let url = |host: &str, query: &str| {
        format!(
            "postgres://postgres:{PASSWORD}@{host}:{}/tls?{query}",
            server.port()
        )
    };
    let sandbox = sandbox(500, None).await;

    let require = url("127.0.0.1", "sslmode=require");
    let synced = sync(&sandbox, &require).await;
    assert_eq!(synced.code, Some(0), "{}", synced.stderr);
    assert!(!synced.stderr.contains(PASSWORD), "{}", synced.stderr);
    let full = url(
        "localhost",
        &format!("sslmode=verify-full&sslrootcert={}", root.display()),
    );
    assert_same(&archived(&full).await, &expected(&sandbox));
    let read = cli::run(
        offline(),
        &["entries", "31721060", "--db", &full, "--format", "ndjson"],
    )
    .await;
    assert_eq!(read.code, Some(0), "{}", read.stderr);
    assert_eq!(read.stdout.lines().count(), 500);

    // The server takes no plain connection.
    let plain = cli::run(
        offline(),
        &[
            "entries",
            "31721060",
            "--db",
            &url("127.0.0.1", "sslmode=disable"),
        ],
    )
    .await;
    assert_eq!(plain.code, Some(1), "{}", plain.stderr);

    for (refused, why) in [
        (
            url(
                "127.0.0.1",
                &format!("sslmode=verify-full&sslrootcert={}", root.display()),
            ),
            "a host the certificate does not name",
        ),
        (
            url(
                "localhost",
                &format!("sslmode=verify-full&sslrootcert={}", other.display()),
            ),
            "a root that did not sign it",
        ),
    ] {
        let run = cli::run(offline(), &["entries", "31721060", "--db", &refused]).await;
        assert_eq!(run.code, Some(1), "{why}: {}", run.stderr);
        let line = one_line(&run);
        assert!(line.contains("invalid peer certificate"), "{why}: {line}");
        assert!(!line.contains(PASSWORD), "{line}");
    }

    // Asked for TLS, a server without it is refused before any password is sent.
    let without = Postgres::start();
    without.database("plain");
    let run = cli::run(
        offline(),
        &[
            "entries",
            "31721060",
            "--db",
            &format!(
                "postgres://postgres:{PASSWORD}@127.0.0.1:{}/plain?sslmode=require",
                without.port()
            ),
        ],
    )
    .await;
    assert_eq!(run.code, Some(1), "{}", run.stderr);
    let line = one_line(&run);
    assert!(line.contains("does not support TLS"), "{line}");
    assert!(!line.contains(PASSWORD), "{line}");
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------- restart

/// The server stopped and started again in the middle of a sync: the sync
/// fails with one line, or reconnects and finishes; the next sync completes
/// the exact set.
#[tokio::test(flavor = "multi_thread")]
async fn postgres_restarted_mid_sync_then_resync_gives_the_exact_set() {
    let server = Postgres::start();
    let url = server.database("restart");
    let sandbox = sandbox(20_000, Some(Duration::from_millis(20))).await;
    let words = sync_words(&url);
    let child = at(&sandbox)
        .args(&words)
        .args(["--page-size", "200", "--concurrency", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once some windows are committed, and before the last.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut stored = 0;
    while stored == 0 {
        assert!(Instant::now() < deadline, "nothing was committed");
        tokio::time::sleep(Duration::from_millis(100)).await;
        stored = count(&url).await;
    }
    assert!(stored < 20_000, "the sync ended before the restart");
    server.stop();
    server.restart();
    let output = tokio::task::spawn_blocking(move || child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let first = Run {
        code: output.status.code(),
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    match first.code {
        Some(0) => {}
        Some(1) => {
            one_line(&first);
        }
        other => panic!("exit {other:?}: {}", first.stderr),
    }
    let again = sync(&sandbox, &url).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_same(&archived(&url).await, &expected(&sandbox));
}

/// Entries archived so far, 0 while the archive is not there yet.
async fn count(url: &str) -> i64 {
    let Ok(pool) = sqlx::PgPool::connect(url).await else {
        return 0;
    };
    let count = sqlx::query_scalar("SELECT count(*) FROM entries")
        .fetch_one(&pool)
        .await
        .unwrap_or(0);
    pool.close().await;
    count
}

// ---------------------------------------------------------------- two syncs

/// Two syncs into one archive at once: both finish, or one exits 2 saying
/// why in one line; the set is exact, nothing twice.
async fn two_syncs_at_once(url: &str) {
    let sandbox = sandbox(6_000, Some(Duration::from_millis(5))).await;
    let words = sync_words(url);
    let spawn = || {
        at(&sandbox)
            .args(&words)
            .args(["--page-size", "500"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (one, two) = (spawn(), spawn());
    let wait =
        |child: std::process::Child| tokio::task::spawn_blocking(move || child.wait_with_output());
    let (one, two) = (wait(one), wait(two));
    let mut finished = 0;
    for output in [one.await.unwrap().unwrap(), two.await.unwrap().unwrap()] {
        let run = Run {
            code: output.status.code(),
            stdout: String::new(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        match run.code {
            Some(0) => finished += 1,
            Some(2) => {
                one_line(&run);
            }
            other => panic!("exit {other:?}: {}", run.stderr),
        }
    }
    assert!(finished >= 1, "neither sync finished");
    assert_same(&archived(url).await, &expected(&sandbox));
}

#[tokio::test(flavor = "multi_thread")]
async fn sqlite_two_syncs_at_once_give_the_exact_set() {
    let dir = std::env::temp_dir().join(format!("activitylog-two-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    two_syncs_at_once(&format!("sqlite:{}", dir.join("a.sqlite").display())).await;
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_two_syncs_at_once_give_the_exact_set() {
    let server = Postgres::start();
    two_syncs_at_once(&server.database("two")).await;
}

// ---------------------------------------------------------------- full disk

/// A tmpfs of `size` mounted for one test, unmounted when dropped (also
/// when the test fails); `None` (the test is skipped, saying so) when not
/// root outside CI. In CI (`CI` set) a test that cannot mount fails.
struct Tmpfs {
    dir: PathBuf,
}

impl Tmpfs {
    fn mount(name: &str, size: &str) -> Option<Tmpfs> {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        if !root {
            assert!(
                std::env::var_os("CI").is_none(),
                "the full-disk tests mount a tmpfs and need root in CI"
            );
            eprintln!("skipped: mounting a tmpfs needs root (run as root, as CI does)");
            return None;
        }
        let dir =
            std::env::temp_dir().join(format!("activitylog-full-{name}-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .expect("mount runs");
        assert!(status.success(), "mount -t tmpfs {}", dir.display());
        Some(Tmpfs { dir })
    }

    /// Gives the filesystem `size` (space freed).
    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.dir)
            .status()
            .expect("mount runs");
        assert!(status.success(), "remount {}", self.dir.display());
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.dir).status();
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// The `@uuid`s of an NDJSON file, checking none is there twice.
fn uuids_of(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let uuids: Vec<String> = text
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).unwrap();
            value["@uuid"].as_str().unwrap().to_string()
        })
        .collect();
    let set: BTreeSet<String> = uuids.iter().cloned().collect();
    assert_eq!(set.len(), uuids.len(), "an entry is in the file twice");
    set
}

/// `entries --out FILE --resume` on a full disk: exit 1 naming the file,
/// the checkpoint still valid; once space is freed, the resumed run
/// completes the exact set.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_under_an_export_is_named_and_the_resumed_run_is_exact() {
    let Some(disk) = Tmpfs::mount("export", "1m") else {
        return;
    };
    let sandbox = sandbox(6_000, None).await;
    let out = disk.path("out.ndjson");
    let words = [
        "entries",
        "31721060",
        "--since",
        &rfc3339(start()),
        "--until",
        &rfc3339(end()),
        "--format",
        "ndjson",
        "--page-size",
        "500",
        "--out",
        out.to_str().unwrap(),
        "--resume",
    ];
    let full = cli::run(at(&sandbox), &words).await;
    assert_eq!(full.code, Some(1), "{}", full.stderr);
    let line = one_line(&full);
    assert!(
        line.contains(&disk.dir.display().to_string()),
        "names the file: {line}"
    );
    let checkpoint = disk.path("out.ndjson.checkpoint");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&checkpoint).unwrap())
            .expect("the checkpoint is still valid JSON");
    let part = std::fs::metadata(disk.path("out.ndjson.part"))
        .unwrap()
        .len();
    assert!(
        state["bytes"].as_u64().unwrap() <= part,
        "the checkpoint claims no more than the part holds"
    );

    disk.resize("64m");
    let resumed = cli::run(at(&sandbox), &words).await;
    assert_eq!(resumed.code, Some(0), "{}", resumed.stderr);
    assert!(resumed.stderr.contains("resuming"), "{}", resumed.stderr);
    assert_same(&uuids_of(&out), &expected(&sandbox));
}

/// A SQLite archive on a full disk: the sync exits 1 naming the archive;
/// once space is freed, the next sync completes the exact set.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_under_a_sqlite_archive_is_named_and_the_resync_is_exact() {
    let Some(disk) = Tmpfs::mount("sqlite", "2m") else {
        return;
    };
    let sandbox = sandbox(6_000, None).await;
    let url = format!("sqlite:{}", disk.path("archive.sqlite").display());
    let full = sync(&sandbox, &url).await;
    assert_eq!(full.code, Some(1), "{}", full.stderr);
    let line = one_line(&full);
    assert!(line.contains(&url) && line.contains("full"), "{line}");

    disk.resize("64m");
    let again = sync(&sandbox, &url).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    assert_same(&archived(&url).await, &expected(&sandbox));
}
