//! Serves a sandbox for measurements: `cargo run --release -p activitylog-tests --example
//! sandbox -- EVENTS PORT [LATENCY_MS]`; prints the URL and token, serves until killed.

use std::time::Duration;

use activitylog_sandbox::Sandbox;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let events: usize = args.next().unwrap_or_else(|| "200000".into()).parse()?;
    let port: u16 = args.next().unwrap_or_else(|| "0".into()).parse()?;
    let latency_ms: u64 = args.next().unwrap_or_else(|| "0".into()).parse()?;
    let mut builder = Sandbox::builder()
        .events(events)
        .port(port)
        .request_log(false);
    if latency_ms > 0 {
        builder = builder.latency(Duration::from_millis(latency_ms));
    }
    let sandbox = builder.start().await?;
    println!("{} {}", sandbox.url(), sandbox.credentials().token);
    sandbox.serve_until(std::future::pending::<()>()).await;
    Ok(())
}
