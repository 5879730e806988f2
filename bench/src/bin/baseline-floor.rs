//! Baseline: the transfer floor, the least a client can do to move the bytes.
//!
//! Two commands, both with `IONOS_API_URL` and `IONOS_TOKEN`:
//!
//! - `baseline-floor plan CONTRACT SINCE UNTIL PLAN`, run once and untimed
//!   by the bench: counts the entries of each 90-day block of the range, of
//!   each day of a block that holds more than the 10,000-entry result
//!   window, and of each hour of such a day; merges consecutive pieces into
//!   windows that fit the result window and the 90-day range, and writes
//!   them to the plan file PLAN (`activitylog_bench::plan`). Prints
//!   `{"windows":…,"requests":…,"entries":…,"count_requests":…}`.
//! - `baseline-floor CONTRACT PLAN`, timed: requests every page of 1,000 of
//!   every window of PLAN sequentially over one keep-alive connection, reads
//!   the bodies chunk by chunk, and parses nothing. Prints
//!   `{"requests":…,"bytes":…,"seconds":…}`; `seconds` covers the transfer
//!   alone (not the process's start-up).

use std::collections::VecDeque;
use std::time::Instant;

use activitylog_bench::plan::{self, PAGE, RESULT_WINDOW, Window};
use chrono::{DateTime, TimeDelta, Utc};

type Error = Box<dyn std::error::Error>;

const USAGE: &str =
    "usage: baseline-floor plan CONTRACT SINCE UNTIL PLAN | baseline-floor CONTRACT PLAN";

/// The API of one contract.
struct Api {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    /// From `IONOS_API_URL` and `IONOS_TOKEN`.
    fn from_env(contract: &str) -> Result<Api, Error> {
        let base = std::env::var("IONOS_API_URL")?;
        // reqwest's rustls comes without a crypto provider here: install *ring*.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Ok(Api {
            client: reqwest::Client::new(),
            url: format!(
                "{}/activitylog/v1/contracts/{contract}",
                base.trim_end_matches('/')
            ),
            token: std::env::var("IONOS_TOKEN")?,
        })
    }

    fn page(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        offset: u64,
        limit: u64,
    ) -> reqwest::RequestBuilder {
        self.client.get(&self.url).bearer_auth(&self.token).query(&[
            ("dateStart", plan::instant(start)),
            ("dateEnd", plan::instant(end)),
            ("offset", offset.to_string()),
            ("limit", limit.to_string()),
        ])
    }

    /// The entries in `[start, end)`, from a one-entry page's total.
    async fn count(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Result<u64, Error> {
        let page: serde_json::Value = self
            .page(start, end, 0, 1)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        Ok(page["hits"]["total"].as_u64().unwrap_or(0))
    }
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match &args[..] {
        [command, contract, since, until, plan_file] if command == "plan" => {
            let api = Api::from_env(contract)?;
            make_plan(&api, since.parse()?, until.parse()?, plan_file).await
        }
        [contract, plan_file] => {
            let api = Api::from_env(contract)?;
            let windows = plan::parse(&std::fs::read_to_string(plan_file)?)?;
            transfer(&api, &windows).await
        }
        _ => Err(USAGE.into()),
    }
}

/// The lengths of the pieces counted: 90-day blocks, days, hours.
fn steps() -> [TimeDelta; 3] {
    [plan::max_range(), TimeDelta::days(1), TimeDelta::hours(1)]
}

/// `[start, end)` cut into pieces of `step` (the last one shorter).
fn pieces(
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    step: TimeDelta,
) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
    let mut pieces = Vec::new();
    let mut at = start;
    while at < end {
        let next = (at + step).min(end);
        pieces.push((at, next));
        at = next;
    }
    pieces
}

/// Counts `[since, until)` piece by piece, finer where a piece is over the
/// result window, and writes the merged windows to `plan_file`.
async fn make_plan(
    api: &Api,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
    plan_file: &str,
) -> Result<(), Error> {
    let steps = steps();
    let mut todo: VecDeque<(DateTime<Utc>, DateTime<Utc>, usize)> = pieces(since, until, steps[0])
        .into_iter()
        .map(|(start, end)| (start, end, 0))
        .collect();
    let (mut counted, mut count_requests) = (Vec::new(), 0u64);
    while let Some((start, end, level)) = todo.pop_front() {
        let entries = api.count(start, end).await?;
        count_requests += 1;
        if entries <= RESULT_WINDOW {
            counted.push(Window {
                start,
                end,
                entries,
            });
            continue;
        }
        let Some(&step) = steps.get(level + 1) else {
            return Err(
                format!("{entries} entries from {start} to {end}: over the result window").into(),
            );
        };
        for (start, end) in pieces(start, end, step).into_iter().rev() {
            todo.push_front((start, end, level + 1));
        }
    }
    let windows = plan::merge(&counted);
    std::fs::write(plan_file, plan::to_text(&windows))?;
    println!(
        r#"{{"windows":{},"requests":{},"entries":{},"count_requests":{count_requests}}}"#,
        windows.len(),
        plan::requests(&windows),
        plan::entries(&windows)
    );
    Ok(())
}

/// Moves every page of every window, sequentially, and reports the bytes.
async fn transfer(api: &Api, windows: &[Window]) -> Result<(), Error> {
    let started = Instant::now();
    let (mut requests, mut bytes) = (0u64, 0u64);
    for window in windows {
        let mut offset = 0;
        while offset < window.entries {
            let mut response = api
                .page(window.start, window.end, offset, PAGE)
                .send()
                .await?
                .error_for_status()?;
            while let Some(chunk) = response.chunk().await? {
                bytes += chunk.len() as u64;
            }
            requests += 1;
            offset += PAGE;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(r#"{{"requests":{requests},"bytes":{bytes},"seconds":{seconds:.6}}}"#);
    Ok(())
}
