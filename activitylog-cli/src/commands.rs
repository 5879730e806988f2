//! The small commands: `info`, `contracts`, `completions`.

use std::io::{IsTerminal, Write};

use activitylog_client::ActivityLog;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::args::Cli;
use crate::destination::stdout_failure;
use crate::error::Failure;
use crate::output::Format;
use crate::output::records::Records;

/// `activitylog info`: the API's name and version.
pub async fn info(log: &ActivityLog, format: Option<Format>) -> Result<(), Failure> {
    let info = log.info().await?;
    let text = |value: &Option<String>| value.clone().unwrap_or_default();
    let records = Records {
        columns: vec!["NAME", "VERSION", "HREF"],
        rows: vec![vec![
            text(&info.name),
            text(&info.version),
            text(&info.href),
        ]],
        json: vec![serde_json::to_value(&info).unwrap_or_default()],
    };
    print(&records, format, true)
}

/// `activitylog contracts`: the contracts the credentials may read.
pub async fn contracts(log: &ActivityLog, format: Option<Format>) -> Result<(), Failure> {
    let contracts = log.contracts().await?;
    let records = Records {
        columns: vec!["CONTRACT", "TYPE", "HREF"],
        rows: contracts
            .iter()
            .map(|c| {
                vec![
                    c.id.map(|id| id.to_string()).unwrap_or_default(),
                    c.type_.clone().unwrap_or_default(),
                    c.href.clone().unwrap_or_default(),
                ]
            })
            .collect(),
        json: contracts
            .iter()
            .map(|c| serde_json::to_value(c).unwrap_or_default())
            .collect(),
    };
    print(&records, format, false)
}

/// `activitylog completions SHELL`: the completion script on stdout.
pub fn completions(shell: Shell) -> Result<(), Failure> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "activitylog", &mut out);
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(&out)
        .and_then(|()| stdout.flush())
        .map_err(stdout_failure)
}

fn print(records: &Records, format: Option<Format>, single: bool) -> Result<(), Failure> {
    let format = Format::choose(format, None, std::io::stdout().is_terminal());
    let mut stdout = std::io::stdout().lock();
    records
        .write(&mut stdout, format, single)
        .and_then(|()| stdout.flush())
        .map_err(stdout_failure)
}
