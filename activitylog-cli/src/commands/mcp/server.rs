//! The protocol side: what the server says of itself, the tool list, and
//! tool calls, each failure an error result the model reads (the server
//! goes on serving).

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use super::budget::Budget;
use super::state::State;
use super::tools;
use crate::reader::Reader;

/// What the server tells the assistant when a session starts.
const INSTRUCTIONS: &str = "Read-only access to the IONOS Cloud Activity Log (the audit trail \
    of a contract: who did what, when, from where). Nothing can be changed through this server. \
    Answers are exact over any range: search_entries lists matching entries (a page at a time, \
    with a cursor), summarize counts them by user, action, day and more, get_entry shows one \
    whole, user_activity describes one user and flags new source addresses, list_contracts names \
    the contracts. Times are UTC. Answers are limited in size and say when they were cut and how \
    to narrow the question.";

/// The server: one per session, all sharing the reader.
#[derive(Clone)]
pub struct Server {
    state: Arc<State>,
    tools: Arc<Vec<Tool>>,
}

impl Server {
    /// A server reading `contracts` from `reader`, answers within `budget` bytes.
    pub fn new(reader: Reader, contracts: Vec<u64>, budget: usize) -> Server {
        Server {
            state: Arc::new(State {
                reader,
                contracts,
                budget: Budget::new(budget),
            }),
            tools: Arc::new(tools::all()),
        }
    }
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("activitylog", env!("CARGO_PKG_VERSION"))
                    .with_title("IONOS Cloud Activity Log (read-only)"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools.to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        let arguments = request.arguments.unwrap_or_default();
        tracing::info!(tool = %name, "call");
        let outcome = tokio::select! {
            outcome = tools::call(&self.state, &name, arguments) => outcome,
            () = context.ct.cancelled() => Err("the call was cancelled".to_string()),
        };
        Ok(match outcome {
            Ok(answer) => CallToolResult::structured(answer),
            Err(message) => {
                tracing::info!(tool = %name, %message, "tool error");
                CallToolResult::error(vec![ContentBlock::text(message)])
            }
        }
        .into())
    }
}
