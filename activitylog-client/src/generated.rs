//! The client progenitor generates from `openapi/activitylog.json` at build
//! time (see `build.rs` and the `activitylog-codegen` crate). Never edited by
//! hand: change the spec or the codegen, then review the snapshot diff.

#![allow(clippy::all, missing_docs, unused_imports, unreachable_pub)]

include!(concat!(env!("OUT_DIR"), "/activitylog.rs"));
