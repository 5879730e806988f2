//! What every tool reads from: the reader, its contracts, and the size
//! limit of answers.

use crate::commands::mcp::budget::Budget;
use crate::reader::Reader;

/// What every tool reads from.
pub struct State {
    /// The API or the archive.
    pub reader: Reader,
    /// The contracts it reads (or holds), ascending.
    pub contracts: Vec<u64>,
    /// The size limit of answers.
    pub budget: Budget,
}
