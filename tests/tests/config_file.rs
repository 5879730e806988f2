//! The IONOS config file end to end: the `activitylog` binary reads its
//! profiles and endpoints, in the order flags, environment, file, defaults,
//! against a sandbox started in this test process.

use std::path::{Path, PathBuf};
use std::process::Command;

use activitylog_sandbox::Sandbox;
use activitylog_tests::cli::{Run, run};

/// The `activitylog` program built from the current source.
fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_activitylog-under-test"))
}

/// A fresh directory for one test's files, used as its HOME.
fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("activitylog-config-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A command with no IONOS_ variable inherited and `home` as HOME.
fn bare(home: &Path) -> Command {
    activitylog_tests::cli::isolated(binary(), home)
}

/// A command whose config file is `file` (through IONOS_CONFIG_FILE).
fn with_file(home: &Path, file: &Path) -> Command {
    let mut command = bare(home);
    command.env("IONOS_CONFIG_FILE", file);
    command
}

const WRONG: &str = "s3cr3t-wrong-token";

/// A config file with profiles `good` (the sandbox's token) and `bad` (a
/// wrong one), both on the environment whose activitylog endpoint is the
/// sandbox, `current` as currentProfile, and fields this tool does not know.
fn config_text(sandbox: &Sandbox, current: &str) -> String {
    format!(
        "\
version: 1.0
currentProfile: {current}
futureSetting: {{ nested: [1, 2, 3] }}
profiles:
  - name: good
    environment: sandbox
    credentials:
      token: {token}
    colour: blue
  - name: bad
    environment: sandbox
    credentials:
      token: {WRONG}
environments:
  - name: sandbox
    certificateAuthData: ''
    products:
      - name: cloud
        endpoints:
          - name: https://api.ionos.com/cloudapi/v6
      - name: activitylog
        endpoints:
          - name: {url}/activitylog/v1/
            location: ''
            skipTlsVerify: false
            unknownToo: 1
",
        token = sandbox.credentials().token,
        url = sandbox.url(),
    )
}

fn write(path: &Path, text: &str) -> PathBuf {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::write(path, text).unwrap();
    path.to_path_buf()
}

fn assert_no_secret(result: &Run, sandbox: &Sandbox) {
    for output in [&result.stdout, &result.stderr] {
        assert!(!output.contains(WRONG), "a token leaked: {output}");
        assert!(
            !output.contains(&sandbox.credentials().token),
            "the token leaked: {output}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_current_profile_gives_token_and_endpoint_and_unknown_fields_are_ignored() {
    let sandbox = Sandbox::builder().events(100).start().await.unwrap();
    let home = scratch("current");
    let file = write(&home.join(".ionos/config"), &config_text(&sandbox, "good"));
    // Found at ~/.ionos/config, no variable set.
    let result = run(bare(&home), &["contracts", "--format", "ndjson"]).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    assert!(result.stdout.contains("31721060"), "{}", result.stdout);
    assert!(
        !sandbox.requests().is_empty(),
        "the file's endpoint is used"
    );
    assert_no_secret(&result, &sandbox);

    // A wrong token in the current profile: 401, exit 1, never shown.
    write(&file, &config_text(&sandbox, "bad"));
    let result = run(bare(&home), &["contracts"]).await;
    assert_eq!(result.code, Some(1), "{}", result.stderr);
    assert!(result.stderr.contains("HTTP 401"), "{}", result.stderr);
    assert_no_secret(&result, &sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_beats_the_file() {
    let sandbox = Sandbox::builder().events(100).start().await.unwrap();
    let home = scratch("env-wins");
    let file = write(&home.join("ionos.yaml"), &config_text(&sandbox, "bad"));
    let mut command = with_file(&home, &file);
    command.env("IONOS_TOKEN", &sandbox.credentials().token);
    let result = run(command, &["contracts"]).await;
    assert_eq!(result.code, Some(0), "IONOS_TOKEN wins: {}", result.stderr);

    write(&file, &config_text(&sandbox, "good"));
    let mut command = with_file(&home, &file);
    command.env("IONOS_TOKEN", WRONG);
    let result = run(command, &["contracts"]).await;
    assert_eq!(result.code, Some(1), "IONOS_TOKEN wins: {}", result.stderr);
    assert_no_secret(&result, &sandbox);

    // IONOS_API_URL beats the file's endpoint.
    let closed_port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut command = with_file(&home, &file);
    command.env("IONOS_API_URL", format!("http://127.0.0.1:{closed_port}"));
    let result = run(command, &["config"]).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    assert!(
        result.stdout.contains(&format!(
            "http://127.0.0.1:{closed_port} (from IONOS_API_URL)"
        )),
        "{}",
        result.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_flag_and_current_profile_variable_choose_the_profile() {
    let sandbox = Sandbox::builder().events(100).start().await.unwrap();
    let home = scratch("choose");
    let file = write(&home.join("config"), &config_text(&sandbox, "bad"));

    let result = run(with_file(&home, &file), &["contracts"]).await;
    assert_eq!(
        result.code,
        Some(1),
        "currentProfile is bad: {}",
        result.stderr
    );

    let mut command = with_file(&home, &file);
    command.env("IONOS_CURRENT_PROFILE", "good");
    let result = run(command, &["contracts"]).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);

    let mut command = with_file(&home, &file);
    command.env("IONOS_CURRENT_PROFILE", "bad");
    let result = run(command, &["--profile", "good", "contracts"]).await;
    assert_eq!(result.code, Some(0), "--profile wins: {}", result.stderr);

    let mut command = with_file(&home, &file);
    command.env("IONOS_CURRENT_PROFILE", "good");
    let result = run(command, &["contracts", "--profile", "bad"]).await;
    assert_eq!(result.code, Some(1), "--profile wins: {}", result.stderr);
    assert_no_secret(&result, &sandbox);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_yaml_in_home_is_read_when_config_is_not_there() {
    let sandbox = Sandbox::builder().events(100).start().await.unwrap();
    let home = scratch("yaml-fallback");
    write(
        &home.join(".ionos/config.yaml"),
        &config_text(&sandbox, "good"),
    );
    let result = run(bare(&home), &["contracts"]).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let result = run(bare(&home), &["config"]).await;
    assert!(
        result.stdout.contains(".ionos/config.yaml (from default)"),
        "{}",
        result.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_file_exits_2_naming_the_file_and_the_line() {
    let home = scratch("malformed");
    let file = write(
        &home.join("broken-config"),
        "version: 1.0\nprofiles:\n  - name: p\n    credentials:\n      token: hunter2-secret\n   oops: [\n",
    );
    for args in [&["contracts"][..], &["config"]] {
        let result = run(with_file(&home, &file), args).await;
        assert_eq!(result.code, Some(2), "{args:?}: {}", result.stderr);
        assert_eq!(result.stderr.lines().count(), 1, "{}", result.stderr);
        assert!(
            result.stderr.contains(&file.display().to_string()) && result.stderr.contains("line 6"),
            "{}",
            result.stderr
        );
        assert!(!result.stderr.contains("hunter2"), "{}", result.stderr);
    }
    // A file IONOS_CONFIG_FILE names that is not there.
    let missing = home.join("nowhere");
    let result = run(with_file(&home, &missing), &["contracts"]).await;
    assert_eq!(result.code, Some(2), "{}", result.stderr);
    assert!(
        result.stderr.contains("IONOS_CONFIG_FILE"),
        "{}",
        result.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_profile_exits_2_listing_the_profiles() {
    let sandbox = Sandbox::builder().events(100).start().await.unwrap();
    let home = scratch("missing-profile");
    let file = write(&home.join("config"), &config_text(&sandbox, "good"));
    let result = run(with_file(&home, &file), &["--profile", "prod", "contracts"]).await;
    assert_eq!(result.code, Some(2), "{}", result.stderr);
    assert!(
        result.stderr.contains("`prod`") && result.stderr.contains("good, bad"),
        "{}",
        result.stderr
    );
    assert!(sandbox.requests().is_empty());
    // --profile without any config file.
    let empty = scratch("no-file");
    let result = run(bare(&empty), &["--profile", "prod", "contracts"]).await;
    assert_eq!(result.code, Some(2), "{}", result.stderr);
    assert!(result.stderr.contains(".ionos/config"), "{}", result.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_shows_each_source_and_never_the_secret() {
    let sandbox = Sandbox::builder().events(100).start().await.unwrap();
    let home = scratch("show");
    let file = write(&home.join("config"), &config_text(&sandbox, "good"));
    let path = file.display().to_string();

    let result = run(with_file(&home, &file), &["config"]).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let out = &result.stdout;
    assert!(
        out.contains(&format!("{path} (from IONOS_CONFIG_FILE)")),
        "{out}"
    );
    assert!(out.contains(&format!("good (from {path})")), "{out}");
    assert!(
        out.contains(&format!("{} (from {path}, profile good)", sandbox.url())),
        "{out}"
    );
    assert!(
        out.contains(&format!("******** (from {path}, profile good)")),
        "{out}"
    );
    assert_no_secret(&result, &sandbox);
    assert!(sandbox.requests().is_empty(), "config sends nothing");

    let mut command = with_file(&home, &file);
    command
        .env("IONOS_TOKEN", WRONG)
        .env("IONOS_CURRENT_PROFILE", "bad");
    let result = run(command, &["--api-url", "example.com", "config"]).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let out = &result.stdout;
    assert!(
        out.contains("token:       ******** (from IONOS_TOKEN)"),
        "{out}"
    );
    assert!(out.contains("bad (from IONOS_CURRENT_PROFILE)"), "{out}");
    assert!(
        out.contains("https://example.com (from --api-url)"),
        "{out}"
    );
    assert_no_secret(&result, &sandbox);

    let mut command = bare(&scratch("show-basic"));
    command
        .env("IONOS_USERNAME", "me@example.com")
        .env("IONOS_PASSWORD", "hunter2-password");
    let result = run(command, &["config"]).await;
    let out = &result.stdout;
    assert!(out.contains("config file: none"), "{out}");
    assert!(
        out.contains("https://api.ionos.com (from default)"),
        "{out}"
    );
    assert!(
        out.contains("me@example.com (from IONOS_USERNAME, IONOS_PASSWORD)"),
        "{out}"
    );
    assert!(!out.contains("hunter2"), "{out}");

    let result = run(bare(&home), &["--help"]).await;
    assert!(
        result.stdout.contains("~/.ionos/config") && result.stdout.contains("--profile"),
        "{}",
        result.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ionos_log_level_logs_requests_and_never_the_token() {
    let sandbox = Sandbox::builder().events(100).start().await.unwrap();
    let home = scratch("log-level");
    let file = write(&home.join("config"), &config_text(&sandbox, "good"));

    let result = run(with_file(&home, &file), &["contracts"]).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    assert!(
        result.stderr.is_empty(),
        "no log unless asked: {}",
        result.stderr
    );

    let mut command = with_file(&home, &file);
    command.env("IONOS_LOG_LEVEL", "DEBUG");
    let result = run(command, &["contracts"]).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    assert!(
        result.stderr.contains("answered") && result.stderr.contains("status=200"),
        "{}",
        result.stderr
    );
    assert!(
        !result.stderr.contains("authorization"),
        "{}",
        result.stderr
    );

    let mut command = with_file(&home, &file);
    command.env("IONOS_LOG_LEVEL", "trace");
    let result = run(command, &["contracts"]).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    assert!(
        result.stderr.contains("authorization") && result.stderr.contains("[REDACTED]"),
        "{}",
        result.stderr
    );
    assert_no_secret(&result, &sandbox);

    let mut command = with_file(&home, &file);
    command.env("IONOS_LOG_LEVEL", "loud");
    let result = run(command, &["contracts"]).await;
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    assert!(
        result.stderr.contains("IONOS_LOG_LEVEL"),
        "{}",
        result.stderr
    );
}
