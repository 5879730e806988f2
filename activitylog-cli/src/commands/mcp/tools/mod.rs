//! The tools: each module has its arguments (the input schema), its answer
//! (the output schema), and `run`.

pub mod counts;
pub mod get_entry;
pub mod list_contracts;
pub mod row;
pub mod search_entries;
pub mod summarize;
pub mod user_activity;

use std::sync::Arc;

use rmcp::handler::server::tool::{schema_for_output, schema_for_type};
use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::commands::mcp::state::State;

/// A tool's description for `tools/list`: read-only, idempotent.
fn describe<A: JsonSchema + 'static, R: JsonSchema + 'static>(
    name: &'static str,
    title: &str,
    description: &'static str,
) -> Tool {
    Tool::new(name, description, schema_for_type::<A>())
        .with_title(title)
        .with_raw_output_schema(schema_for_output::<R>())
        .with_annotations(
            ToolAnnotations::with_title(title)
                .read_only(true)
                .destructive(false)
                .idempotent(true)
                .open_world(false),
        )
}

/// Every tool.
pub fn all() -> Vec<Tool> {
    vec![
        describe::<list_contracts::Args, list_contracts::Answer>(
            list_contracts::NAME,
            "List contracts",
            list_contracts::DESCRIPTION,
        ),
        describe::<search_entries::Args, search_entries::Answer>(
            search_entries::NAME,
            "Search entries",
            search_entries::DESCRIPTION,
        ),
        describe::<summarize::Args, summarize::Answer>(
            summarize::NAME,
            "Count entries",
            summarize::DESCRIPTION,
        ),
        describe::<get_entry::Args, get_entry::Answer>(
            get_entry::NAME,
            "Get one entry",
            get_entry::DESCRIPTION,
        ),
        describe::<user_activity::Args, user_activity::Answer>(
            user_activity::NAME,
            "One user's activity",
            user_activity::DESCRIPTION,
        ),
    ]
}

/// Runs the tool `name` with `arguments`: its answer, or one sentence
/// saying what to change.
pub async fn call(state: &State, name: &str, arguments: JsonObject) -> Result<Value, String> {
    match name {
        list_contracts::NAME => list_contracts::run(state, parse(name, arguments)?).await,
        search_entries::NAME => search_entries::run(state, parse(name, arguments)?).await,
        summarize::NAME => summarize::run(state, parse(name, arguments)?).await,
        get_entry::NAME => get_entry::run(state, parse(name, arguments)?).await,
        user_activity::NAME => user_activity::run(state, parse(name, arguments)?).await,
        other => Err(format!(
            "there is no tool `{other}`: the tools are {}",
            all()
                .iter()
                .map(|t| t.name.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// The arguments of tool `name`; an argument its schema does not name is
/// refused (a misspelt filter must not widen the question).
fn parse<A: DeserializeOwned + JsonSchema + 'static>(
    name: &str,
    arguments: JsonObject,
) -> Result<A, String> {
    let schema: Arc<JsonObject> = schema_for_type::<A>();
    let known: Vec<&str> = schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    if let Some(unknown) = arguments.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(format!(
            "{name} has no argument `{unknown}`: it takes {}",
            known.join(", ")
        ));
    }
    serde_json::from_value(Value::Object(arguments))
        .map_err(|e| format!("{name}: bad arguments: {e}"))
}
