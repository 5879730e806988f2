//! Baseline: the transfer floor, the least a client can do to move the bytes.
//!
//! `baseline-floor CONTRACT SINCE UNTIL` with `IONOS_API_URL` and
//! `IONOS_TOKEN`. First, untimed, it plans: it counts the entries of each day
//! (an hour, for days over the 10,000-entry result window) and merges
//! consecutive days into windows that fit the result window. Then, timed, it
//! requests every page of every window sequentially over one keep-alive
//! connection, reads the bodies chunk by chunk, and parses nothing. It prints
//! `{"pages":…,"bytes":…,"seconds":…,"plan_seconds":…}`; `seconds` covers
//! the transfer only.

use std::time::Instant;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

const LIMIT: u64 = 1000;
const RESULT_WINDOW: u64 = 10_000;

/// `[start, end)` and how many entries it holds.
type Window = (DateTime<Utc>, DateTime<Utc>, u64);

struct Api {
    client: reqwest::Client,
    url: String,
    token: String,
}

impl Api {
    fn page(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        offset: u64,
        limit: u64,
    ) -> reqwest::RequestBuilder {
        self.client.get(&self.url).bearer_auth(&self.token).query(&[
            ("dateStart", instant(start)),
            ("dateEnd", instant(end)),
            ("offset", offset.to_string()),
            ("limit", limit.to_string()),
        ])
    }

    async fn count(
        &self,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<u64, Box<dyn std::error::Error>> {
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
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [contract, since, until] = &args[..] else {
        return Err("usage: baseline-floor CONTRACT SINCE UNTIL".into());
    };
    let base = std::env::var("IONOS_API_URL")?;
    let api = Api {
        client: reqwest::Client::new(),
        url: format!(
            "{}/activitylog/v1/contracts/{contract}",
            base.trim_end_matches('/')
        ),
        token: std::env::var("IONOS_TOKEN")?,
    };
    let since: DateTime<Utc> = since.parse()?;
    let until: DateTime<Utc> = until.parse()?;

    let planning = Instant::now();
    let mut counted: Vec<Window> = Vec::new();
    let mut day = since;
    while day < until {
        let day_end = (day + TimeDelta::days(1)).min(until);
        let total = api.count(day, day_end).await?;
        if total <= RESULT_WINDOW {
            counted.push((day, day_end, total));
        } else {
            let mut hour = day;
            while hour < day_end {
                let hour_end = (hour + TimeDelta::hours(1)).min(day_end);
                let total = api.count(hour, hour_end).await?;
                if total > RESULT_WINDOW {
                    return Err(format!("{total} entries in the hour from {hour}").into());
                }
                counted.push((hour, hour_end, total));
                hour = hour_end;
            }
        }
        day = day_end;
    }
    let windows = merge(&counted);
    let plan_seconds = planning.elapsed().as_secs_f64();

    let transfer = Instant::now();
    let (mut pages, mut bytes) = (0u64, 0u64);
    for &(start, end, total) in &windows {
        let mut offset = 0;
        while offset < total {
            let limit = LIMIT.min(total - offset);
            let mut response = api
                .page(start, end, offset, limit)
                .send()
                .await?
                .error_for_status()?;
            while let Some(chunk) = response.chunk().await? {
                bytes += chunk.len() as u64;
            }
            pages += 1;
            offset += limit;
        }
    }
    let seconds = transfer.elapsed().as_secs_f64();
    println!(
        r#"{{"pages":{pages},"bytes":{bytes},"seconds":{seconds:.6},"plan_seconds":{plan_seconds:.6}}}"#
    );
    Ok(())
}

/// Merges consecutive windows while the merged one fits the result window
/// and the API's 90-day range.
fn merge(counted: &[Window]) -> Vec<Window> {
    let mut merged: Vec<Window> = Vec::new();
    for &(start, end, total) in counted {
        match merged.last_mut() {
            Some(last)
                if last.2 + total <= RESULT_WINDOW && end - last.0 <= TimeDelta::days(90) =>
            {
                last.1 = end;
                last.2 += total;
            }
            _ => merged.push((start, end, total)),
        }
    }
    merged.retain(|w| w.2 > 0);
    merged
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
