//! `list_contracts`: the contracts the credentials read, or the archive
//! holds (with how far each is complete).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::commands::mcp::budget::json;
use crate::commands::mcp::state::State;
use crate::reader::Reader;
use crate::text::rfc3339;

/// The tool's name.
pub const NAME: &str = "list_contracts";
/// What it does, for the model.
pub const DESCRIPTION: &str = "The contract numbers this server reads: those the credentials \
    can read (the API), or those the archive holds, with the instant each is complete through \
    and its number of entries. Other tools take one of them as `contract`.";

/// No arguments.
#[derive(Debug, Default, Deserialize, JsonSchema)]
pub struct Args {}

/// One contract.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Contract {
    /// The contract number.
    pub contract: u64,
    /// Archive only: every entry before this instant is in the archive (null: no sync of it
    /// completed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete_through: Option<Option<String>>,
    /// Archive only: entries held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<u64>,
}

/// The answer.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Answer {
    /// `api` or the archive's location.
    pub source: String,
    /// The contracts, ascending.
    pub contracts: Vec<Contract>,
}

/// Lists the contracts.
pub async fn run(state: &State, _: Args) -> Result<Value, String> {
    let mut contracts = Vec::with_capacity(state.contracts.len());
    let source = match &state.reader {
        Reader::Api(_) => {
            for &contract in &state.contracts {
                contracts.push(Contract {
                    contract,
                    complete_through: None,
                    entries: None,
                });
            }
            "api".to_string()
        }
        Reader::Archive(archive) => {
            for &contract in &state.contracts {
                let mark = archive.through(contract).await.map_err(|e| e.to_string())?;
                let entries = archive.count(contract).await.map_err(|e| e.to_string())?;
                contracts.push(Contract {
                    contract,
                    complete_through: Some(mark.map(rfc3339)),
                    entries: Some(entries),
                });
            }
            archive.location().to_string()
        }
    };
    Ok(json(&Answer { source, contracts }))
}
