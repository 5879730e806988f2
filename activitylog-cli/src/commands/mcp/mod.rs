//! `activitylog mcp`: a read-only Model Context Protocol server over the
//! same readers as `entries` and `summary` (the API through the download
//! engine, or an archive), for AI assistants.
//!
//! - `server`: the protocol side (rmcp's [`rmcp::ServerHandler`]): the tool
//!   list, dispatch, and every failure turned into a tool error.
//! - `tools`: one module per tool, its arguments and its answer.
//! - `scope`: which contract and which range a question is about.
//! - `read`: the entries of a contract and range, as pages.
//! - `position`: time order (time, then `@uuid`), and the first matches
//!   after a position.
//! - `filters`: the CLI's filters, as tool arguments.
//! - `state`: what every tool reads from.
//! - `budget`: the size limit of answers, and answers as JSON.
//! - `transport`: stdio, or streamable HTTP on a loopback address.

mod budget;
mod filters;
mod position;
mod read;
mod scope;
mod server;
mod state;
mod tools;
mod transport;

use crate::args::{ContractArgs, Global, McpArgs};
use crate::error::Failure;
use crate::reader::Reader;

/// Serves until the client hangs up (stdio) or a signal ends the process
/// (`--listen`).
pub async fn serve(global: &Global, args: &McpArgs) -> Result<(), Failure> {
    if let Some(address) = args.listen
        && !address.ip().is_loopback()
    {
        return Err(Failure::usage(format!(
            "--listen {address} is not a loopback address: the server has no authentication, \
             so it only listens on this machine (e.g. --listen 127.0.0.1:8765)"
        )));
    }
    if global.token_stdin && args.listen.is_none() {
        return Err(Failure::usage(
            "--token-stdin reads stdin, which the MCP client speaks on: pass the token in \
             IONOS_TOKEN (or a profile), or serve HTTP with --listen",
        ));
    }
    // Every contract the credentials read (or the archive holds): the tools
    // choose among them.
    let every = ContractArgs {
        numbers: Vec::new(),
        all_contracts: true,
    };
    #[allow(clippy::needless_update)] // `lake` adds the S3 settings (from AWS_* here)
    let db = crate::args::ArchiveArgs {
        db: args.db.clone(),
        ..Default::default()
    };
    let (reader, contracts) = Reader::open(global, &db, &every).await?;
    let server = server::Server::new(reader, contracts, args.max_answer_bytes as usize);
    match args.listen {
        None => transport::stdio(server).await,
        Some(address) => transport::http(server, address).await,
    }
}
