//! Exports a contract's entries as NDJSON on stdout, byte for byte as the
//! service sent them, every entry exactly once.
//!
//! ```sh
//! activitylog sandbox &            # prints the IONOS_* variables to export
//! cargo run -p activitylog-client --example export_ndjson -- 31721060 2024-01-01 > audit.ndjson
//! ```

use std::io::Write;

use activitylog_client::{ActivityLog, DateBound};
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(contract), Some(since)) = (args.next(), args.next()) else {
        return Err(
            "usage: export_ndjson CONTRACT SINCE [UNTIL] (dates: 2024-01-01 or RFC 3339)".into(),
        );
    };
    let contract: u64 = contract.parse()?;
    let since: DateBound = since.parse()?;
    let log = ActivityLog::from_env()?;
    let mut entries = log.entries(contract).since(since);
    if let Some(until) = args.next() {
        entries = entries.until(until.parse::<DateBound>()?);
    }
    let mut events = entries.raw();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut count = 0u64;
    while let Some(event) = events.try_next().await? {
        writeln!(out, "{}", event.json())?;
        count += 1;
    }
    out.flush()?;
    eprintln!("{count} entries");
    Ok(())
}
