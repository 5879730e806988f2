//! `activitylog-codegen [--spec PATH] [--out PATH] [--normalized]`: prints or
//! writes the generated client (or the normalized spec) for people to read.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

const USAGE: &str = "usage: activitylog-codegen [--spec PATH] [--out PATH] [--normalized]\n\
    \n  --spec PATH     OpenAPI document to read (default: the workspace's openapi/activitylog.json)\
    \n  --out PATH      write to PATH instead of standard output\
    \n  --normalized    emit the normalized spec (JSON) instead of Rust code";

fn main() {
    if let Err(error) = run() {
        eprintln!("error: {error:#}");
        std::process::exit(2);
    }
}

fn run() -> Result<()> {
    let mut spec = PathBuf::from(activitylog_codegen::SPEC_PATH);
    let mut out = None;
    let mut normalized_only = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--spec" => spec = args.next().context("--spec needs a path")?.into(),
            "--out" => out = Some(PathBuf::from(args.next().context("--out needs a path")?)),
            "--normalized" => normalized_only = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => bail!("unknown argument `{other}`\n{USAGE}"),
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
