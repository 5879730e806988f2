//! Counts a contract's entries by keys (`user,day`, `action`, ...) over a
//! range with [`activitylog_client::summary::Summary`], largest groups first.
//!
//! ```sh
//! activitylog sandbox &            # prints the IONOS_* variables to export
//! cargo run -p activitylog-client --example summary -- 31721060 2024-01-01 user,day
//! ```

use activitylog_client::summary::{Key, Summary};
use activitylog_client::{ActivityLog, DateBound};
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(contract), Some(since), Some(keys)) = (args.next(), args.next(), args.next()) else {
        return Err(
            "usage: summary CONTRACT SINCE KEYS (e.g. 31721060 2024-01-01 user,day)".into(),
        );
    };
    let log = ActivityLog::from_env()?;
    let mut summary = Summary::new(Key::list(&keys)?);
    let mut events = log
        .entries(contract.parse()?)
        .since(since.parse::<DateBound>()?)
        .raw();
    while let Some(event) = events.try_next().await? {
        summary.add_event(&event);
    }
    for group in summary.groups() {
        let values: Vec<&str> = group
            .values
            .iter()
            .map(|v| v.as_deref().unwrap_or("-"))
            .collect();
        println!(
            "{:>8} {:>6} failed  {}",
            group.count,
            group.failed,
            values.join("  ")
        );
    }
    Ok(())
}
