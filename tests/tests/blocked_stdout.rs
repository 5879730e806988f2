//! Signals while stdout is blocked: a reader that stops reading without
//! closing the pipe (a paused pager, a stalled consumer) must not keep
//! SIGINT or SIGTERM from ending the program with 130 or 143.
//!
//! Each test fills the pipe the program writes to and never reads it, so
//! the program's next write to stdout blocks; then it sends the signal.
//! The waits only guard against hanging forever.

#![cfg(target_os = "linux")]

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use activitylog_sandbox::{MAIN_CONTRACT, Sandbox};
use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

/// How long a test waits for the program to exit after the signal before
/// it gives up (a guard against hanging, not a timed assertion).
const GUARD: Duration = Duration::from_secs(20);

/// The `activitylog` program built from the current source.
fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_activitylog-under-test"))
}

/// The program pointed at `sandbox`, stdout a pipe, stderr captured.
fn at(sandbox: &Sandbox) -> Command {
    let home = activitylog_tests::cli::empty_home();
    let mut command = activitylog_tests::cli::against(binary(), &home, sandbox);
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

fn rfc3339(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A sandbox of 20,000 entries ending an hour ago: megabytes of output.
async fn sandbox() -> Sandbox {
    Sandbox::builder()
        .events(20_000)
        .end(Utc::now() - TimeDelta::hours(1))
        .start()
        .await
        .unwrap()
}

/// Bytes waiting in the pipe behind `stdout`, and the pipe's capacity.
fn pipe_fill(stdout: &ChildStdout) -> (usize, usize) {
    let fd = stdout.as_raw_fd();
    let mut waiting: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int; F_GETPIPE_SZ takes no argument.
    let capacity = unsafe {
        assert_eq!(libc::ioctl(fd, libc::FIONREAD, &mut waiting), 0);
        libc::fcntl(fd, libc::F_GETPIPE_SZ)
    };
    (
        usize::try_from(waiting).unwrap(),
        usize::try_from(capacity).unwrap_or(64 * 1024),
    )
}

/// Waits until the program has filled its stdout pipe (the last page of
/// the pipe may stay part empty), so that its next write blocks.
async fn until_the_pipe_is_full(child: &mut Child, stdout: &ChildStdout) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (waiting, capacity) = pipe_fill(stdout);
        if waiting + 4096 >= capacity {
            break;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the program ended ({status}) before filling the pipe");
        }
        assert!(
            Instant::now() < deadline,
            "the pipe never filled ({waiting} bytes)"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Still running, and so blocked on the full pipe.
    assert!(child.try_wait().unwrap().is_none());
}

/// Sends `signal` to the child.
fn send(child: &Child, signal: i32) {
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on a child we spawned and have not reaped.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "kill failed");
}

/// Waits for the child to exit (killing it after [`GUARD`]); its exit code
/// and stderr. `stdout` stays open and unread until then.
async fn exit_of(mut child: Child, stdout: ChildStdout, what: &str) -> (Option<i32>, String) {
    let deadline = Instant::now() + GUARD;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running {GUARD:?} after the signal, stuck on its blocked stdout");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    drop(stdout);
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read;
        pipe.read_to_string(&mut stderr).unwrap();
    }
    (status.code(), stderr)
}

/// Runs `command`, blocks its stdout, sends `signal`; its exit code and stderr.
async fn stopped_while_blocked(
    mut command: Command,
    signal: i32,
    what: &str,
) -> (Option<i32>, String) {
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    until_the_pipe_is_full(&mut child, &stdout).await;
    send(&child, signal);
    exit_of(child, stdout, what).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_and_sigterm_end_an_export_whose_stdout_is_not_read() {
    let sandbox = sandbox().await;
    for (signal, code, name) in [
        (libc::SIGTERM, 143, "SIGTERM"),
        (libc::SIGINT, 130, "SIGINT"),
    ] {
        let mut command = at(&sandbox);
        command
            .args(["entries", "31721060", "--format", "ndjson", "--since"])
            .arg(rfc3339(sandbox.span_start()))
            .arg("--until")
            .arg(rfc3339(sandbox.end()));
        let (exit, stderr) = stopped_while_blocked(command, signal, name).await;
        assert_eq!(exit, Some(code), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: {stderr}");
        assert!(
            stderr.starts_with(&format!("error: interrupted by {name}")),
            "{stderr}"
        );
        assert!(
            stderr.contains("the output above is incomplete"),
            "{stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_ends_a_follow_whose_stdout_is_not_read() {
    let sandbox = sandbox().await;
    let mut command = at(&sandbox);
    command
        .args([
            "entries", "31721060", "--follow", "--format", "csv", "--since",
        ])
        .arg(rfc3339(sandbox.span_start()));
    let (exit, stderr) = stopped_while_blocked(command, libc::SIGINT, "follow").await;
    assert_eq!(exit, Some(130), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: interrupted by SIGINT: followed contract 31721060"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_summary_whose_stdout_is_not_read() {
    let sandbox = sandbox().await;
    let mut command = at(&sandbox);
    // One line an hour over 90 days: far more than a pipe holds.
    command
        .args([
            "summary", "31721060", "--by", "hour", "--format", "csv", "--since",
        ])
        .arg(rfc3339(sandbox.span_start()))
        .arg("--until")
        .arg(rfc3339(sandbox.end()));
    let (exit, stderr) = stopped_while_blocked(command, libc::SIGTERM, "summary").await;
    assert_eq!(exit, Some(143), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: interrupted by SIGTERM"),
        "{stderr}"
    );
}

/// The first `bytes` of `part`, which must be whole lines.
fn prefix(part: &Path, bytes: u64) -> String {
    let text = std::fs::read(part).unwrap();
    let bytes = usize::try_from(bytes).unwrap();
    assert!(
        text.len() >= bytes,
        "{} is shorter than its checkpoint",
        part.display()
    );
    String::from_utf8(text[..bytes].to_vec()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_while_a_resumable_export_writes_leaves_a_true_checkpoint() {
    let sandbox = Sandbox::builder()
        .events(60_000)
        .end(Utc::now() - TimeDelta::hours(1))
        .start()
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("activitylog-blocked-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("export.ndjson");
    let part = dir.join("export.ndjson.part");
    let checkpoint = dir.join("export.ndjson.checkpoint");
    let export = || {
        let mut command = at(&sandbox);
        command
            .args([
                "entries",
                "31721060",
                "--resume",
                "--page-size",
                "1000",
                "--since",
            ])
            .arg(rfc3339(sandbox.span_start()))
            .arg("--until")
            .arg(rfc3339(sandbox.end()))
            .arg("--out")
            .arg(&out)
            .stdout(Stdio::null());
        command
    };
    let expected = sandbox.event_sources(MAIN_CONTRACT, sandbox.span_start(), sandbox.end());

    // Stopped while pages are being written as fast as they come.
    let mut child = export().spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let events = std::fs::read_to_string(&checkpoint)
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|state| state["events"].as_u64())
            .unwrap_or(0);
        if events > 0 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the export ended too soon"
        );
        assert!(Instant::now() < deadline, "no checkpoint came");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    send(&child, libc::SIGTERM);
    let deadline = Instant::now() + GUARD;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the export does not end");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert_eq!(status.code(), Some(143));
    // The lock is released and no temporary file is left: the program
    // waited for its writer to put down the file.
    let mut left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["export.ndjson.checkpoint", "export.ndjson.part"]);

    // What the checkpoint claims is in FILE.part, entry for entry.
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&checkpoint).unwrap()).unwrap();
    let (bytes, events) = (
        state["bytes"].as_u64().unwrap(),
        state["events"].as_u64().unwrap(),
    );
    let claimed = prefix(&part, bytes);
    let lines: Vec<&str> = claimed.lines().collect();
    assert_eq!(lines.len() as u64, events, "the checkpoint's count");
    assert!(claimed.is_empty() || claimed.ends_with('\n'), "a cut line");
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(*line, expected[i], "line {} of the part", i + 1);
    }

    // And the resumed run is exact.
    let resumed = export().stderr(Stdio::piped()).output().unwrap();
    assert!(resumed.status.success(), "{resumed:?}");
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), expected.len());
    assert!(
        lines.iter().zip(&expected).all(|(a, b)| a == b),
        "not the sandbox's set"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
