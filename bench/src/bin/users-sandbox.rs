//! A sandbox for the archive-read benchmark (docs/benchmarks.md, "Archive
//! reads"): `users-sandbox EVENTS PORT` serves EVENTS entries of contract
//! 31721060 over 2021, made by 50 users `user00@example.com` …
//! `user49@example.com` (2% each), on 127.0.0.1:PORT until killed
//! (`activitylog sandbox` has five users, a fifth each). Token: `sandbox-token`.

use activitylog_sandbox::{ContractSpec, MAIN_CONTRACT, Sandbox};
use chrono::{DateTime, TimeDelta, Utc};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [events, port] = args.as_slice() else {
        return Err("usage: users-sandbox EVENTS PORT".into());
    };
    let users: Vec<String> = (0..50).map(|i| format!("user{i:02}@example.com")).collect();
    let end: DateTime<Utc> = "2022-01-01T00:00:00Z".parse()?;
    let sandbox = Sandbox::builder()
        .contracts(vec![
            ContractSpec::new(MAIN_CONTRACT, events.parse()?).users(users),
        ])
        .end(end)
        .span(TimeDelta::days(365))
        .port(port.parse()?)
        .start()
        .await?;
    println!("{}", sandbox.url());
    std::future::pending::<()>().await;
    Ok(())
}
