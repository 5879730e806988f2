//! Baseline: a plain sequential client, written the way most users would,
//! minus the planning it is handed.
//!
//! `baseline-plain CONTRACT PLAN OUT` with `IONOS_API_URL` and
//! `IONOS_TOKEN`. It pages through the windows of the plan file PLAN (the
//! very windows the transfer floor pages, see `activitylog_bench::plan`)
//! one request at a time, with offset and limit=1000 until the page's
//! `hits.total` is reached or a page comes back empty; each page is parsed
//! into a `serde_json::Value` and each hit's `_source` written to OUT as an
//! NDJSON line. The file is flushed and fsynced at the end, as the CLI does.
//! Prints `{"requests":…,"entries":…}`.

use std::fs::File;
use std::io::{BufWriter, Write};

use activitylog_bench::plan;
use serde_json::Value;

const LIMIT: u64 = 1000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [contract, plan_file, out] = &args[..] else {
        return Err("usage: baseline-plain CONTRACT PLAN OUT".into());
    };
    let base = std::env::var("IONOS_API_URL")?;
    let token = std::env::var("IONOS_TOKEN")?;
    let url = format!(
        "{}/activitylog/v1/contracts/{contract}",
        base.trim_end_matches('/')
    );
    let windows = plan::parse(&std::fs::read_to_string(plan_file)?)?;

    // reqwest's rustls comes without a crypto provider here: install *ring*.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let mut out = BufWriter::new(File::create(out)?);
    let (mut requests, mut entries) = (0u64, 0u64);
    for window in &windows {
        let mut offset = 0;
        loop {
            let page: Value = client
                .get(&url)
                .bearer_auth(&token)
                .query(&[
                    ("dateStart", plan::instant(window.start)),
                    ("dateEnd", plan::instant(window.end)),
                    ("offset", offset.to_string()),
                    ("limit", LIMIT.to_string()),
                ])
                .send()
                .await?
                .error_for_status()?
                .json()
                .await?;
            requests += 1;
            let total = page["hits"]["total"].as_u64().unwrap_or(0);
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
    out.flush()?;
    out.get_ref().sync_all()?;
    println!(r#"{{"requests":{requests},"entries":{entries}}}"#);
    Ok(())
}
