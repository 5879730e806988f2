//! `--follow` and [`Entries::follow`](activitylog_client::Entries::follow)
//! end to end, over real HTTP against a live sandbox: entries keep arriving
//! (some late), and what was followed up to the last checkpoint is exactly
//! what the sandbox holds there.

use std::collections::HashSet;
use std::time::Duration;

use activitylog_client::{ActivityLog, Config, Credentials, Error, RawEvent, RetryPolicy, Update};
use activitylog_sandbox::{Faults, MAIN_CONTRACT, Sandbox};
use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;

/// A client that retries fast and often (faults are injected on purpose).
fn patient_log(sandbox: &Sandbox, token: &str) -> ActivityLog {
    log_with(sandbox, token, 10)
}

/// A client that makes `attempts` attempts per request, fast.
fn log_with(sandbox: &Sandbox, token: &str, attempts: u32) -> ActivityLog {
    let retry = RetryPolicy::default()
        .max_attempts(attempts)
        .initial_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(20));
    ActivityLog::new(
        Config::new(Credentials::token(token))
            .api_url(sandbox.url())
            .retry(retry),
    )
    .unwrap()
}

/// A sandbox whose log grows every 20 ms, each entry visible up to 300 ms late.
async fn live_sandbox(faults: Option<Faults>) -> Sandbox {
    let mut builder = Sandbox::builder()
        .events(200)
        .live(Duration::from_millis(20))
        .ingestion_lag(Duration::from_millis(300));
    if let Some(faults) = faults {
        builder = builder.faults(faults);
    }
    builder.start().await.unwrap()
}

/// What a follow yielded until it was dropped.
struct Followed {
    events: Vec<RawEvent>,
    through: DateTime<Utc>,
    checkpoints: usize,
}

/// Follows for `run`, failing on any error item.
async fn follow_for(log: &ActivityLog, since: DateTime<Utc>, run: Duration) -> Followed {
    let mut stream = log
        .entries(MAIN_CONTRACT)
        .since(since)
        .settle(Duration::from_secs(1))
        .page_size(50)
        .follow(Duration::from_millis(200));
    let mut followed = Followed {
        events: Vec::new(),
        through: since,
        checkpoints: 0,
    };
    let deadline = tokio::time::sleep(run);
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            item = stream.next() => match item.expect("a follow never ends by itself") {
                Ok(Update::Events(batch)) => followed.events.extend(batch),
                Ok(Update::Completed { through }) => {
                    assert!(through > followed.through, "checkpoints only move forward");
                    followed.through = through;
                    followed.checkpoints += 1;
                }
                Ok(_) => {}
                Err(error) => panic!("the follow failed: {error}"),
            },
        }
    }
    followed
}

/// Checks that every entry was yielded once, and that those before the last
/// checkpoint are exactly the sandbox's.
async fn assert_exact(sandbox: &Sandbox, since: DateTime<Utc>, followed: &Followed) {
    // Past the lag: everything stamped before the checkpoint is stored by now.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ids: Vec<String> = followed
        .events
        .iter()
        .map(|e| e.uuid().expect("sandbox events have @uuid").into_owned())
        .collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an entry was yielded twice");
    let before: HashSet<String> = followed
        .events
        .iter()
        .filter(|e| e.time().is_some_and(|t| t < followed.through))
        .map(|e| e.uuid().unwrap_or_default().into_owned())
        .collect();
    let expected: HashSet<String> = sandbox
        .event_uuids(MAIN_CONTRACT, since, followed.through)
        .into_iter()
        .collect();
    assert!(
        followed.checkpoints >= 2,
        "the follow checkpointed only {} times",
        followed.checkpoints
    );
    assert!(
        expected.len() > 50,
        "the live log was too quiet: {}",
        expected.len()
    );
    let missing: Vec<_> = expected.difference(&before).take(5).collect();
    let extra: Vec<_> = before.difference(&expected).take(5).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?} (of {} expected)",
        expected.len()
    );
}

#[tokio::test]
async fn a_follow_yields_every_live_entry_once_late_ones_included() {
    let sandbox = live_sandbox(None).await;
    let since = Utc::now() - TimeDelta::seconds(5);
    let log = patient_log(&sandbox, &sandbox.credentials().token);
    let followed = follow_for(&log, since, Duration::from_secs(3)).await;
    assert_exact(&sandbox, since, &followed).await;
}

#[tokio::test]
async fn a_follow_keeps_going_through_faults_and_stays_exact() {
    let sandbox = live_sandbox(Some(Faults::rate(0.3))).await;
    let since = Utc::now() - TimeDelta::seconds(5);
    // Two attempts per request: many polls fail and the follow itself retries.
    let log = log_with(&sandbox, &sandbox.credentials().token, 2);
    let followed = follow_for(&log, since, Duration::from_secs(4)).await;
    assert_exact(&sandbox, since, &followed).await;
}

#[tokio::test]
async fn a_rejected_token_ends_the_follow_with_unauthorized() {
    let sandbox = live_sandbox(None).await;
    let log = patient_log(&sandbox, "not-the-token");
    let mut stream = log
        .entries(MAIN_CONTRACT)
        .since(Utc::now() - TimeDelta::seconds(30))
        .settle(Duration::from_secs(1))
        .follow(Duration::from_millis(200));
    let first = stream.next().await.expect("an error item");
    assert!(matches!(first, Err(Error::Unauthorized)), "{first:?}");
    assert!(stream.next().await.is_none(), "the follow ended");
}
