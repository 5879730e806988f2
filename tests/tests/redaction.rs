//! Secrets stay secret: Debug output and every trace line at TRACE level.
//! Its own test binary, so that no concurrent test races the subscriber.

use std::io::Write;

use base64::Engine as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use activitylog_client::{ActivityLog, Config, Credentials, RetryPolicy};
use activitylog_tests::{MockServer, Reply};

const CONTRACTS: &str = r#"[{"id": 31721060, "type": "contracts", "href": "x"}]"#;

fn fast_retries() -> RetryPolicy {
    RetryPolicy::default()
        .initial_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
}

/// A `tracing` subscriber writing into a buffer.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn secrets_never_appear_in_debug_output_or_traces() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server =
        MockServer::scripted(vec![Reply::status(503, "busy"), Reply::json(CONTRACTS)]).await;
    for credentials in [
        Credentials::token("SECRET-TOKEN-1"),
        Credentials::basic("user@example.com", "SECRET-PASSWORD-2"),
    ] {
        let config = Config::new(credentials)
            .api_url(server.url())
            .retry(fast_retries());
        let log = ActivityLog::new(config.clone()).unwrap();
        log.contracts().await.unwrap();
        let shown = format!("{config:?} {log:?} {:?}", log.client());
        let pair =
            base64::engine::general_purpose::STANDARD.encode("user@example.com:SECRET-PASSWORD-2");
        assert!(
            !shown.contains("SECRET") && !shown.contains(&pair),
            "{shown}"
        );
    }
    let traces = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        traces.contains("retrying"),
        "no retry was traced, so nothing was checked: {traces}"
    );
    // What Basic auth sends: the base64 of the whole `user:password` pair.
    let pair =
        base64::engine::general_purpose::STANDARD.encode("user@example.com:SECRET-PASSWORD-2");
    assert!(
        !traces.contains("SECRET") && !traces.contains(&pair),
        "{traces}"
    );
}
