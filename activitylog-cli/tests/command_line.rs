//! The binary's offline surface: help, version, completions, usage errors.
//! (Its presence also makes `cargo test --workspace` build the binary that
//! the end-to-end tests in `tests/tests/cli.rs` drive.)

use std::process::{Command, Output};

fn activitylog(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_activitylog"))
        .args(args)
        .env_remove("IONOS_TOKEN")
        .env_remove("IONOS_USERNAME")
        .env_remove("IONOS_PASSWORD")
        .env_remove("IONOS_API_URL")
        .output()
        .expect("the activitylog binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_teaches_credentials_examples_and_exit_codes() {
    let output = activitylog(&["--help"]);
    assert!(output.status.success());
    let help = text(&output.stdout);
    for needle in [
        "IONOS_TOKEN",
        "IONOS_USERNAME",
        "--sandbox",
        "Examples:",
        "Exit codes",
    ] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
}

#[test]
fn entries_help_documents_when_filters_resume_and_csv_columns() {
    let output = activitylog(&["entries", "--help"]);
    assert!(output.status.success());
    let help = text(&output.stdout);
    for needle in [
        "7d",
        "--resume",
        "--action",
        "--exclude-type",
        "CSV columns",
        "resource_types",
        "request_id",
    ] {
        assert!(
            help.contains(needle),
            "entries --help lacks {needle}:\n{help}"
        );
    }
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let output = activitylog(&["completions", shell]);
        assert!(output.status.success(), "{shell}");
        assert!(text(&output.stdout).contains("activitylog"), "{shell}");
    }
}

#[test]
fn usage_errors_exit_2_with_one_line() {
    for args in [
        &["entries", "31721060", "--since", "last tuesday"][..],
        &[
            "entries",
            "31721060",
            "--since",
            "2024-02-01",
            "--until",
            "2024-01-01",
        ],
        &["entries", "not-a-number"],
        &["entries", "31721060", "--no-such-flag"],
        &["entries", "31721060", "--resume"],
        &["frobnicate"],
    ] {
        let output = activitylog(args);
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn missing_credentials_say_which_variables_to_set() {
    let output = activitylog(&["info"]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("IONOS_TOKEN") && stderr.contains("--sandbox"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
