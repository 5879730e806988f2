//! `activitylog-codegen [--spec PATH] [--out PATH] [--normalized]`: prints or
//! writes the generated client (or the normalized spec) for people to read.
//!
//! `activitylog-codegen diff OLD.json NEW.json`: prints the API changes
//! between two versions of the spec, breaking ones first.
//!
//! Errors are one `error:` line on standard error and exit status 2.

use std::ffi::OsString;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: activitylog-codegen [--spec PATH] [--out PATH] [--normalized]\n\
    \x20      activitylog-codegen diff OLD.json NEW.json\n\
    \n  --spec PATH     OpenAPI document to read (default: the workspace's openapi/activitylog.json)\
    \n  --out PATH      write to PATH instead of standard output\
    \n  --normalized    emit the normalized spec (JSON) instead of Rust code\
    \n  diff OLD NEW    print the API changes from OLD to NEW (both normalized), breaking first";

const DIFF_USAGE: &str = "usage: activitylog-codegen diff OLD.json NEW.json\n\
    \nPrints the API changes from OLD to NEW, both normalized (domain names, wire rules):\
    \nbreaking changes, then additions, then compatible changes, one a line;\
    \n\"no changes to the API\" when there are none. Exit status 0 either way.";

fn main() {
    if let Err(error) = run(std::env::args_os().skip(1).collect()) {
        eprintln!("error: {error:#}");
        std::process::exit(2);
    }
}

fn run(args: Vec<OsString>) -> Result<()> {
    match args.split_first() {
        Some((command, rest)) if command == "diff" => diff(rest),
        _ => generate(args),
    }
}

/// The flag `arg` spells, if it is one (`-h`, `--out`); `-` alone is not.
fn flag(arg: &OsString) -> Option<&str> {
    arg.to_str()
        .filter(|text| text.starts_with('-') && *text != "-")
}

fn generate(args: Vec<OsString>) -> Result<()> {
    let mut spec = PathBuf::from(activitylog_codegen::SPEC_PATH);
    let mut out = None;
    let mut normalized_only = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--spec") => spec = args.next().context("--spec needs a path")?.into(),
            Some("--out") => out = Some(PathBuf::from(args.next().context("--out needs a path")?)),
            Some("--normalized") => normalized_only = true,
            Some("-h" | "--help") => {
                println!("{USAGE}");
                return Ok(());
            }
            _ => bail!(
                "unknown argument {} (see activitylog-codegen --help)",
                quoted(&arg)
            ),
        }
    }
    let normalized = activitylog_codegen::normalize(activitylog_codegen::load(&spec)?)?;
    let text = if normalized_only {
        serde_json::to_string_pretty(&normalized)? + "\n"
    } else {
        activitylog_codegen::generate(&normalized)?
    };
    match out {
        Some(path) => {
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
        }
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn diff(args: &[OsString]) -> Result<()> {
    let mut files = Vec::new();
    for arg in args {
        match flag(arg) {
            Some("-h" | "--help") => {
                println!("{DIFF_USAGE}");
                return Ok(());
            }
            Some(other) => bail!(
                "unknown argument `{other}` for diff (usage: activitylog-codegen diff OLD.json \
                 NEW.json)"
            ),
            None => files.push(PathBuf::from(arg)),
        }
    }
    let [old, new] = files.as_slice() else {
        bail!(
            "diff needs two files, got {} (usage: activitylog-codegen diff OLD.json NEW.json)",
            files.len()
        );
    };
    print!("{}", activitylog_codegen::diff_files(old, new)?);
    Ok(())
}

/// `arg` in backticks, or debug-quoted when it is not UTF-8.
fn quoted(arg: &OsString) -> String {
    match arg.to_str() {
        Some(text) => format!("`{text}`"),
        None => format!("{arg:?}"),
    }
}
