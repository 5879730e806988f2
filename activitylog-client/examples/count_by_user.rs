//! Counts a contract's entries by user over a range, most active first: an
//! aggregate over the complete download, in memory bounded by the users.
//!
//! ```sh
//! activitylog sandbox &            # prints the IONOS_* variables to export
//! cargo run -p activitylog-client --example count_by_user -- 31721060 2024-01-01
//! ```

use std::collections::HashMap;

use activitylog_client::{ActivityLog, DateBound};
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(contract), Some(since)) = (args.next(), args.next()) else {
        return Err("usage: count_by_user CONTRACT SINCE (a date: 2024-01-01, or RFC 3339)".into());
    };
    let log = ActivityLog::from_env()?;
    let mut events = log
        .entries(contract.parse()?)
        .since(since.parse::<DateBound>()?)
        .stream();
    let mut by_user: HashMap<String, u64> = HashMap::new();
    while let Some(event) = events.try_next().await? {
        let user = event
            .principal
            .and_then(|p| p.identity)
            .and_then(|i| i.username)
            .unwrap_or_else(|| "(unknown)".to_string());
        *by_user.entry(user).or_default() += 1;
    }
    let mut rows: Vec<(String, u64)> = by_user.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    for (user, count) in rows {
        println!("{count:>8}  {user}");
    }
    Ok(())
}
