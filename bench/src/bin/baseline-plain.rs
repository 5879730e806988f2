//! Baseline: a plain sequential client, written the way most users would.
//!
//! `baseline-plain CONTRACT SINCE UNTIL OUT` with `IONOS_API_URL` and
//! `IONOS_TOKEN`: one request at a time, each page parsed into a
//! `serde_json::Value`, each hit's `_source` written as an NDJSON line. It
//! walks the range day by day (a day usually holds fewer entries than the
//! server's 10,000-entry result window; a day that holds more is halved until
//! each part fits) and pages with offset and limit until a page comes back
//! short. The file is flushed and fsynced at the end, as the CLI does.

use std::fs::File;
use std::io::{BufWriter, Write};

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::Value;

const LIMIT: u64 = 1000;
const RESULT_WINDOW: u64 = 10_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [contract, since, until, out] = &args[..] else {
        return Err("usage: baseline-plain CONTRACT SINCE UNTIL OUT".into());
    };
    let base = std::env::var("IONOS_API_URL")?;
    let token = std::env::var("IONOS_TOKEN")?;
    let url = format!(
        "{}/activitylog/v1/contracts/{contract}",
        base.trim_end_matches('/')
    );
    let since: DateTime<Utc> = since.parse()?;
    let until: DateTime<Utc> = until.parse()?;

    let client = reqwest::Client::new();
    let mut out = BufWriter::new(File::create(out)?);
    let mut entries = 0u64;
    let mut day = since;
    while day < until {
        let day_end = (day + TimeDelta::days(1)).min(until);
        let mut windows = vec![(day, day_end)];
        while let Some((start, end)) = windows.pop() {
            let mut offset = 0;
            loop {
                let page: Value = client
                    .get(&url)
                    .bearer_auth(&token)
                    .query(&[
                        ("dateStart", instant(start)),
                        ("dateEnd", instant(end)),
                        ("offset", offset.to_string()),
                        ("limit", LIMIT.to_string()),
                    ])
                    .send()
                    .await?
                    .error_for_status()?
                    .json()
                    .await?;
                let total = page["hits"]["total"].as_u64().unwrap_or(0);
                if offset == 0 && total > RESULT_WINDOW {
                    let half = TimeDelta::seconds((end - start).num_seconds() / 2);
                    if half.is_zero() {
                        return Err(format!("{total} entries in one second at {start}").into());
                    }
                    windows.push((start + half, end));
                    windows.push((start, start + half));
                    break;
                }
                let hits = page["hits"]["hits"]
                    .as_array()
                    .map_or(&[][..], Vec::as_slice);
                for hit in hits {
                    serde_json::to_writer(&mut out, &hit["_source"])?;
                    out.write_all(b"\n")?;
                }
                entries += hits.len() as u64;
                offset += hits.len() as u64;
                if hits.is_empty() || offset >= total {
                    break;
                }
            }
        }
        day = day_end;
    }
    out.flush()?;
    out.get_ref().sync_all()?;
    eprintln!("{entries} entries");
    Ok(())
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}
