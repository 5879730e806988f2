//! The commands, one module each. A command is a leaf: only the dispatch
//! in `lib.rs` calls it, and no module imports from one; what two commands
//! share lives in a lower layer.

pub mod completions;
pub mod config;
pub mod contracts;
pub mod entries;
pub mod follow;
pub mod info;
#[cfg(feature = "mcp")]
pub mod mcp;
pub mod sandbox;
pub mod summary;
pub mod sync;
#[cfg(feature = "lake")]
pub mod verify;
