//! The binary: `diff` prints a changelog and exits 0; bad arguments and
//! unreadable or invalid files are one `error:` line and exit 2; codegen
//! stops on a wire rule without a target.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_activitylog-codegen");
const SPEC: &str = activitylog_codegen::SPEC_PATH;

fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// A file for this test in the target's scratch directory.
fn scratch(name: &str, text: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}"));
    std::fs::write(&path, text).unwrap();
    path
}

/// The spec with `edit` applied, written to a scratch file.
fn edited_spec(name: &str, edit: impl FnOnce(&mut Value)) -> PathBuf {
    let mut doc: Value = serde_json::from_str(&std::fs::read_to_string(SPEC).unwrap()).unwrap();
    edit(&mut doc);
    scratch(name, &serde_json::to_string_pretty(&doc).unwrap())
}

fn meta_properties(doc: &mut Value) -> &mut serde_json::Map<String, Value> {
    doc.pointer_mut(
        "/components/schemas/GetByContractResponse/properties/hits/properties/hits/items\
         /properties/_source/properties/meta/properties",
    )
    .and_then(Value::as_object_mut)
    .unwrap()
}

/// Exit 2 with exactly one line on standard error, starting `error:`.
fn assert_one_error_line(output: &Output, mentions: &str) {
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = stderr(output);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.contains(mentions),
        "{stderr} does not mention {mentions}"
    );
    assert!(output.stdout.is_empty());
}

#[test]
fn diff_of_the_spec_against_itself() {
    let output = run(&["diff", SPEC, SPEC]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(stdout(&output), "no changes to the API\n");
}

#[test]
fn diff_prints_breaking_changes_first_and_exits_0() {
    let new = edited_spec("diff-new.json", |doc| {
        let info = doc["paths"]["/activitylog/v1"].clone();
        let mut stats = info;
        stats["get"]["operationId"] = json!("getStats");
        doc["paths"]["/activitylog/v1/stats"] = stats;
        meta_properties(doc).remove("requestId");
    });
    let output = run(&["diff", SPEC, new.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        stdout(&output),
        "Breaking:\n\
         - field `Meta.requestId` removed\n\
         \n\
         Additions:\n\
         - operation `getStats` (GET /activitylog/v1/stats) added\n"
    );
}

#[test]
fn diff_lists_wire_rules_that_lost_their_target() {
    let new = edited_spec("diff-stale.json", |doc| {
        meta_properties(doc).remove("queueRefId");
    });
    let output = run(&["diff", SPEC, new.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = stdout(&output);
    assert!(text.starts_with("Breaking:\n"), "{text}");
    assert!(
        text.contains("- field `Meta.queueRefId` removed\n"),
        "{text}"
    );
    assert!(text.contains("- type `QueueRefId` removed\n"), "{text}");
    assert!(
        text.ends_with(
            "- wire rule `queue_ref_id_number_or_text`: `Meta.queueRefId` is not in the spec \
             any more; remove or update the rule\n"
        ),
        "{text}"
    );
}

#[test]
fn codegen_fails_naming_the_wire_rule_that_lost_its_target() {
    let spec = edited_spec("codegen-stale.json", |doc| {
        meta_properties(doc).remove("queueRefId");
    });
    let output = run(&["--spec", spec.to_str().unwrap(), "--normalized"]);
    assert_one_error_line(&output, "wire rule `queue_ref_id_number_or_text`");
}

#[test]
fn diff_refuses_bad_arguments() {
    assert_one_error_line(&run(&["diff"]), "diff needs two files, got 0");
    assert_one_error_line(&run(&["diff", SPEC]), "diff needs two files, got 1");
    assert_one_error_line(&run(&["diff", SPEC, SPEC, SPEC]), "got 3");
    assert_one_error_line(
        &run(&["diff", "--out", SPEC, SPEC]),
        "unknown argument `--out`",
    );
    assert_one_error_line(&run(&["--frobnicate"]), "unknown argument `--frobnicate`");
}

#[test]
fn diff_refuses_unreadable_and_invalid_files() {
    let missing = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-does-not-exist.json");
    let missing = missing.to_str().unwrap();
    assert_one_error_line(&run(&["diff", missing, SPEC]), "cli-does-not-exist.json");

    let garbage = scratch("garbage.json", "{ not json");
    assert_one_error_line(
        &run(&["diff", SPEC, garbage.to_str().unwrap()]),
        "garbage.json as OpenAPI 3.0",
    );
    let not_openapi = scratch("not-openapi.json", r#"{"hello": "world"}"#);
    assert_one_error_line(
        &run(&["diff", not_openapi.to_str().unwrap(), SPEC]),
        "not-openapi.json as OpenAPI 3.0",
    );
    let directory = env!("CARGO_TARGET_TMPDIR");
    assert_one_error_line(&run(&["diff", directory, SPEC]), "reading");
}

#[test]
fn diff_help_and_the_existing_flags_still_work() {
    let help = run(&["diff", "--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(stdout(&help).starts_with("usage: activitylog-codegen diff OLD.json NEW.json"));

    let normalized = run(&["--spec", SPEC, "--normalized"]);
    assert_eq!(normalized.status.code(), Some(0), "{normalized:?}");
    let doc: Value = serde_json::from_slice(&normalized.stdout).unwrap();
    assert!(doc["components"]["schemas"]["ActivityPage"].is_object());

    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-client.rs");
    let code = run(&["--out", out.to_str().unwrap()]);
    assert_eq!(code.status.code(), Some(0), "{code:?}");
    assert!(
        std::fs::read_to_string(out)
            .unwrap()
            .contains("pub struct Activity ")
    );
}
