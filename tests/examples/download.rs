//! Measures a download through the SDK: `cargo run --release -p activitylog-tests --example
//! download -- CONTRACT CONCURRENCY [PAGE_SIZE]` against `IONOS_API_URL` with `IONOS_TOKEN`
//! (for example a sandbox served by `activitylog sandbox --events 200000`). Prints entries,
//! seconds and entries per second; run it under `/usr/bin/time -v` for peak memory.

use std::time::Instant;

use activitylog_client::{ActivityLog, Config};
use futures::TryStreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let contract: u64 = args
        .next()
        .ok_or("usage: download CONTRACT CONCURRENCY [PAGE_SIZE]")?
        .parse()?;
    let concurrency: usize = args.next().unwrap_or_else(|| "4".into()).parse()?;
    let page_size: u32 = args.next().unwrap_or_else(|| "1000".into()).parse()?;
    let log = ActivityLog::new(
        Config::from_env()?
            .concurrency(concurrency)
            .page_size(page_size),
    )?;
    let started = Instant::now();
    let mut events = log.entries(contract).raw();
    let (mut count, mut bytes) = (0u64, 0usize);
    while let Some(event) = events.try_next().await? {
        count += 1;
        bytes += event.json().len();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{count} entries ({:.1} MB) in {seconds:.2} s: {:.0} entries/s at concurrency {concurrency}",
        bytes as f64 / 1e6,
        count as f64 / seconds
    );
    Ok(())
}
