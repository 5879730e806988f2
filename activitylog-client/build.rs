//! Generates the progenitor client from `openapi/activitylog.json` into
//! `OUT_DIR/activitylog.rs`; `src/generated.rs` includes it.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let spec = manifest.join("../openapi/activitylog.json");
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
