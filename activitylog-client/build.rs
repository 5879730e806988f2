//! Generates the progenitor client from `openapi/activitylog.json` into
//! `OUT_DIR/activitylog.rs`; `src/generated.rs` includes it.
//!
//! `openapi/activitylog.json` in this crate is a symbolic link to the
//! workspace's `openapi/activitylog.json`, the single source of truth;
//! `cargo package` follows it, so the published crate carries the spec.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let spec = manifest.join("openapi/activitylog.json");
    let out =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("set by cargo")).join("activitylog.rs");
    println!("cargo::rerun-if-changed={}", spec.display());
    if let Err(error) = activitylog_codegen::generate_file(&spec, &out) {
        panic!(
            "generating the Activity Log client from {}: {error:#}",
            spec.display()
        );
    }
}
