//! Measures start-up time and page latency for a large sandbox.

use std::time::Instant;

#[tokio::main]
async fn main() {
    let events: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let t = Instant::now();
    let sandbox = activitylog_sandbox::Sandbox::builder()
        .events(events)
        .start()
        .await
        .expect("start");
    println!("start {events}: {:?}", t.elapsed());
    let t = Instant::now();
    let n = sandbox
        .event_uuids(activitylog_sandbox::MAIN_CONTRACT, None, None)
        .len();
    println!("event_uuids {n}: {:?}", t.elapsed());
    let t = Instant::now();
    let _ = sandbox
        .event_sources(activitylog_sandbox::MAIN_CONTRACT, None, None)
        .len()
        .min(1);
    println!("event_sources: {:?}", t.elapsed());
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status
            .lines()
            .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        {
            println!("{line}");
        }
    }
    sandbox.shutdown().await;
}
