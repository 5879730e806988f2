//! The service's clock: every open end is closed at `now − settle` by the
//! service's time when it is behind this machine's (by the machine's, the
//! earlier, when it is ahead; see [`ActivityLog::now`]); when the two
//! differ by more than a few seconds, stderr says so once per run.

use std::sync::atomic::{AtomicBool, Ordering};

use activitylog_client::ActivityLog;
use chrono::{DateTime, SubsecRound, Utc};

/// Whether the clocks' difference was shown already.
static SHOWN: AtomicBool = AtomicBool::new(false);

/// Now by the service's clock (asking the service once if nothing was heard
/// from it yet); says on stderr, once, when it differs from this machine's.
pub async fn service_now(log: &ActivityLog) -> DateTime<Utc> {
    let now = log.now().await.trunc_subsecs(0);
    if let Some(offset) = log.clock_offset()
        && !SHOWN.swap(true, Ordering::Relaxed)
    {
        let amount = std::time::Duration::from_secs(offset.num_seconds().unsigned_abs());
        let (side, used) = if offset < chrono::TimeDelta::zero() {
            ("behind", "the service's time")
        } else {
            ("ahead of", "this machine's time, the earlier of the two")
        };
        eprintln!(
            "warning: the service's clock is {} {side} this machine's (by its Date header); \
             ranges end by {used}",
            humantime::format_duration(amount)
        );
    }
    now
}
