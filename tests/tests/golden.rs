//! What users read, pinned: every `--help`, `activitylog config`, and a
//! table, a CSV and summaries of a fixed sandbox, compared with the files in
//! `tests/snapshots/` (insta), so that a change to any of them shows up in
//! review like the spec snapshots do.
//!
//! Review or update after a deliberate change:
//! `INSTA_UPDATE=always cargo test -p activitylog-tests --test golden`, then
//! `git diff` (or `cargo insta review`). CI sets `CI=true`: nothing is
//! written there and any difference fails.
//!
//! The output is made deterministic: no IONOS_ variable inherited, 120
//! columns, no colour, UTC, a temporary HOME (shown as `[HOME]`), and a
//! sandbox with a fixed seed and end.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use activitylog_sandbox::Sandbox;
use chrono::{DateTime, TimeDelta, Utc};

/// The `activitylog` program built from the current source.
fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_activitylog-under-test"))
}

/// A HOME of its own for one test, empty.
fn home(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("activitylog-golden-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The program in a fixed environment: HOME `home`, 120 columns, UTC, no colour.
fn program(home: &Path) -> Command {
    let mut command = activitylog_tests::cli::isolated(binary(), home);
    command
        .env("COLUMNS", "120")
        .env("TZ", "UTC")
        .env("NO_COLOR", "1")
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs `command` with `args`; its stdout, which must come with exit 0 and
/// nothing on stderr. `home` is shown as `[HOME]`.
fn stdout_of(mut command: Command, args: &[&str], home: &Path) -> String {
    let output = command.args(args).output().unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(0), "{args:?}: {stderr}");
    assert_eq!(stderr, "", "{args:?}");
    stdout.replace(&home.display().to_string(), "[HOME]")
}

/// The subcommands the top-level help lists (but `help`).
fn subcommands(help: &str) -> Vec<String> {
    let section = help
        .split("Commands:\n")
        .nth(1)
        .expect("a Commands: section");
    section
        .lines()
        .take_while(|line| !line.trim().is_empty())
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect()
}

#[test]
fn every_help_is_pinned() {
    let home = home("help");
    let help = stdout_of(program(&home), &["--help"], &home);
    insta::assert_snapshot!("help", help);
    let commands = subcommands(&help);
    assert!(commands.len() >= 8, "{commands:?}");
    for command in commands {
        let text = stdout_of(program(&home), &[&command, "--help"], &home);
        insta::assert_snapshot!(format!("help-{command}"), text);
    }
    let _ = std::fs::remove_dir_all(&home);
}

/// A config file with two profiles; the current one reads its token and
/// the activitylog endpoint from it.
const CONFIG_FILE: &str = "\
version: 1.0
currentProfile: team
profiles:
  - name: team
    environment: staging
    credentials:
      token: golden-secret-token-1
  - name: robot
    environment: staging
    credentials:
      username: robot@example.com
      password: golden-secret-password-2
environments:
  - name: staging
    products:
      - name: activitylog
        endpoints:
          - name: https://activitylog.staging.example.com/activitylog/v1/
            skipTlsVerify: false
";

/// A snapshot's name, the environment variables set, the arguments.
type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [&'a str]);

#[test]
fn config_shows_settings_and_sources_with_secrets_hidden() {
    let home = home("config");
    std::fs::create_dir_all(home.join(".ionos")).unwrap();
    std::fs::write(home.join(".ionos/config"), CONFIG_FILE).unwrap();
    let cases: [Case; 4] = [
        ("config-from-the-file", &[], &["config"]),
        (
            "config-profile-and-contract-from-the-environment",
            &[
                ("IONOS_CURRENT_PROFILE", "robot"),
                ("IONOS_CONTRACT_NUMBER", "31721060"),
            ],
            &["config"],
        ),
        (
            "config-the-environment-and-flags-beat-the-file",
            &[("IONOS_TOKEN", "golden-secret-token-3")],
            &["--api-url", "https://api.example.com", "config"],
        ),
        ("config-sandbox", &[], &["--sandbox", "config"]),
    ];
    for (name, variables, args) in cases {
        let mut command = program(&home);
        command.envs(variables.iter().copied());
        let text = stdout_of(command, args, &home);
        assert!(!text.contains("golden-secret"), "{name}: {text}");
        insta::assert_snapshot!(name, text);
    }
    let empty = self::home("config-none");
    let text = stdout_of(program(&empty), &["config"], &empty);
    insta::assert_snapshot!("config-nothing-set", text);
    let _ = std::fs::remove_dir_all(&home);
    let _ = std::fs::remove_dir_all(&empty);
}

/// The end of the fixed sandbox's entries.
fn end() -> DateTime<Utc> {
    "2026-11-20T00:00:00Z".parse().unwrap()
}

/// 400 entries over the five days before [`end`], always the same ones.
async fn fixed_sandbox() -> Sandbox {
    Sandbox::builder()
        .events(400)
        .seed(20261120)
        .end(end())
        .span(TimeDelta::days(5))
        .start()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_csv_and_summaries_of_a_fixed_sandbox_are_pinned() {
    let sandbox = fixed_sandbox().await;
    let home = home("outputs");
    let since = (end() - TimeDelta::days(5)).to_rfc3339();
    let until = end().to_rfc3339();
    let range = ["--since", &since, "--until", &until];
    let cases: [(&str, &[&str]); 7] = [
        (
            "entries-table",
            &["entries", "31721060", "--format", "table", "--limit", "25"],
        ),
        (
            "entries-csv",
            &["entries", "31721060", "--format", "csv", "--limit", "10"],
        ),
        (
            "entries-table-columns-in-a-zone",
            &[
                "entries",
                "31721060",
                "--format",
                "table",
                "--limit",
                "10",
                "--columns",
                "time,user,actions,status",
                "--tz",
                "Europe/Berlin",
            ],
        ),
        (
            "summary-by-user",
            &["summary", "31721060", "--by", "user", "--format", "table"],
        ),
        (
            "summary-by-day",
            &["summary", "31721060", "--by", "day", "--format", "table"],
        ),
        (
            "summary-by-day-top-3",
            &[
                "summary", "31721060", "--by", "day", "--top", "3", "--format", "table",
            ],
        ),
        (
            "summary-by-status-and-day-csv",
            &[
                "summary",
                "31721060",
                "--by",
                "status,day",
                "--format",
                "csv",
            ],
        ),
    ];
    for (name, args) in cases {
        let mut command = activitylog_tests::cli::against(binary(), &home, &sandbox);
        command
            .env("COLUMNS", "120")
            .env("TZ", "UTC")
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let args: Vec<&str> = args.iter().chain(range.iter()).copied().collect();
        let text = stdout_of(command, &args, &home);
        insta::assert_snapshot!(name, text);
    }
    let _ = std::fs::remove_dir_all(&home);
}
