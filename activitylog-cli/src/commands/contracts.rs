//! `activitylog contracts`: the contracts the credentials may read (which
//! contracts a command reads is [`crate::which_contracts`]'s).

use activitylog_client::ActivityLog;

use crate::args::Global;
use crate::connect;
use crate::error::{Failure, stdout_failure};
use crate::output::Format;
use crate::output::records::Records;
use crate::signals::Signals;

/// `activitylog contracts`: the contracts the credentials may read.
pub async fn run(global: &Global, signals: &Signals) -> Result<(), Failure> {
    signals
        .or_stop(async {
            let connection = connect::connect(global).await?;
            contracts(&connection.log, global.format).await
        })
        .await
}

async fn contracts(log: &ActivityLog, format: Option<Format>) -> Result<(), Failure> {
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
    records.print(format, false).map_err(stdout_failure)
}
