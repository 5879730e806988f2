//! `activitylog info`: the API's name and version.

use activitylog_client::ActivityLog;

use crate::args::Global;
use crate::connect;
use crate::error::{Failure, stdout_failure};
use crate::output::Format;
use crate::output::records::Records;
use crate::signals::Signals;

/// `activitylog info`: the API's name and version.
pub async fn run(global: &Global, signals: &Signals) -> Result<(), Failure> {
    signals
        .or_stop(async {
            let connection = connect::connect(global).await?;
            info(&connection.log, global.format).await
        })
        .await
}

async fn info(log: &ActivityLog, format: Option<Format>) -> Result<(), Failure> {
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
    records.print(format, true).map_err(stdout_failure)
}
