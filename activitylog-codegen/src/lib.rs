//! Build-time generator of the IONOS Cloud Activity Log client.
//!
//! Two steps, both pure functions of the OpenAPI document:
//!
//! 1. [`normalize`] rewrites the upstream spec so that the generated API reads
//!    like hand-written Rust: inline schemas become named components with
//!    domain names ([`names`]), and the deviations of the live service from
//!    the spec are folded in as small named rules ([`wire`]); a rule whose
//!    target is gone from the spec fails it, naming the rule.
//! 2. [`generate`] runs progenitor (builder interface) on the normalized spec
//!    and formats the result with prettyplease.
//!
//! `activitylog-client`'s `build.rs` calls [`generate_file`]; the binary of
//! this crate prints the same code for people to read, and with `diff` the
//! API changes between two versions of the spec ([`diff_files`]).
//!
//! ```
//! let spec = activitylog_codegen::load(activitylog_codegen::SPEC_PATH.as_ref()).unwrap();
//! let code = activitylog_codegen::generate(&activitylog_codegen::normalize(spec).unwrap()).unwrap();
//! assert!(code.contains("pub struct Activity"));
//! ```

pub mod changelog;
pub mod diff;
pub mod names;
mod normalize;
pub mod wire;

use std::path::Path;

use anyhow::{Context, Result};
use openapiv3::OpenAPI;
use progenitor::{GenerationSettings, Generator, InterfaceStyle, TagStyle};

pub use normalize::{Normalized, RulesMissing, normalize, normalize_tolerant};

/// Path of the workspace's spec, for tools run from the workspace.
pub const SPEC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/activitylog.json");

/// The type the generated `Client` carries for the client crate's hooks.
///
/// `activitylog-client` defines it and implements `ClientHooks` with it
/// (retries, tracing); the generated code only stores it.
pub const HOOKS_INNER_TYPE: &str = "crate::hooks::Hooks";

/// Reads and parses an OpenAPI document (JSON).
pub fn load(path: &Path) -> Result<OpenAPI> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("parsing {} as OpenAPI 3.0", path.display()))
}

/// Generates the client's Rust source from a (normalized) spec.
///
/// The client uses the builder interface and expects the including crate to
/// provide [`HOOKS_INNER_TYPE`] and a `ClientHooks` implementation for it.
pub fn generate(spec: &OpenAPI) -> Result<String> {
    let inner: proc_macro2::TokenStream = HOOKS_INNER_TYPE
        .parse()
        .map_err(|e| anyhow::anyhow!("inner type: {e}"))?;
    let mut settings = GenerationSettings::default();
    settings
        .with_interface(InterfaceStyle::Builder)
        .with_tag(TagStyle::Merged)
        .with_inner_type(inner)
        .with_hooks(progenitor::HooksMode::Expected)
        .with_derive("PartialEq");
    let tokens = Generator::new(&settings)
        .generate_tokens(spec)
        .context("progenitor could not generate the client")?;
    let file = syn::parse2(tokens).context("progenitor produced unparsable Rust")?;
    Ok(prettyplease::unparse(&file))
}

/// Loads `spec_path`, normalizes it and writes the generated client to `out`.
///
/// This is what `activitylog-client/build.rs` runs.
pub fn generate_file(spec_path: &Path, out: &Path) -> Result<()> {
    let code = generate(&normalize(load(spec_path)?)?)?;
    std::fs::write(out, code).with_context(|| format!("writing {}", out.display()))
}

/// The changelog between the specs at `old` and `new`, as
/// `activitylog-codegen diff` prints it ([`changelog::render`]).
///
/// Both are normalized first, so names and wire rules apply to both; a wire
/// rule that no longer finds its target in `new` is listed at the end
/// rather than failing, since that is what a spec update is reviewed for.
pub fn diff_files(old: &Path, new: &Path) -> Result<String> {
    let normalized = |path: &Path| -> Result<(serde_json::Value, Normalized)> {
        let normalized = normalize_tolerant(load(path)?)
            .with_context(|| format!("normalizing {}", path.display()))?;
        let doc = serde_json::to_value(&normalized.spec)
            .with_context(|| format!("serializing {}", path.display()))?;
        Ok((doc, normalized))
    };
    let (old_doc, _) = normalized(old)?;
    let (new_doc, new) = normalized(new)?;
    let changes = diff::compare(&old_doc, &new_doc);
    Ok(changelog::render(&changes, &new.missing))
}
