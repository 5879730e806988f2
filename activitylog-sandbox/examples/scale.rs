//! Measures start-up time, memory and page latency for a large sandbox.
//!
//! `cargo run --release -p activitylog-sandbox --example scale -- 1000000`

use std::time::Instant;

use activitylog_sandbox::{MAIN_CONTRACT, Sandbox};

#[tokio::main]
async fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let t = Instant::now();
    let sandbox = Sandbox::builder()
        .events(events)
        .start()
        .await
        .expect("start");
    println!(
        "start with {events} main-contract events: {:?}",
        t.elapsed()
    );
    print_memory();

    // reqwest's rustls comes without a crypto provider here: install *ring*.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let url = format!(
        "{}/activitylog/v1/contracts/{MAIN_CONTRACT}?offset=5000&limit=1000",
        sandbox.url()
    );
    let t = Instant::now();
    let mut bytes = 0;
    for _ in 0..10 {
        let body = client
            .get(&url)
            .bearer_auth(&sandbox.credentials().token)
            .send()
            .await
            .expect("send")
            .bytes()
            .await
            .expect("body");
        bytes += body.len();
    }
    println!(
        "10 pages of 1000 events: {:?} ({} KiB each)",
        t.elapsed(),
        bytes / 10 / 1024
    );

    let t = Instant::now();
    let n = sandbox.event_uuids(MAIN_CONTRACT, None, None).len();
    println!("event_uuids ({n}): {:?}", t.elapsed());
    sandbox.shutdown().await;
}

/// Prints resident memory (Linux only).
fn print_memory() {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status
            .lines()
            .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        {
            println!("{line}");
        }
    }
}
