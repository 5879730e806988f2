//! The service's clock, learned from the `Date` header of its answers.
//!
//! An open end is `now − settle` by the service's time: with a machine clock
//! minutes ahead, a range closed by the machine's clock would reach into
//! time the service has not finished writing, and a checkpoint would claim
//! it. Every answer (any status) goes through [`ServiceClock::observe`]; the
//! offset of the last one is kept for the whole client (all its clones).
//!
//! The `Date` header has whole seconds and is stamped before the answer
//! leaves, so the offset measured is at most about a second (plus the
//! network's latency) behind the true one: the service's time as estimated
//! here is never later than its real time, which errs on the safe side.
//! Offsets within [`TOLERANCE`] are noise and are not applied.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::SystemTime;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::{DATE, HeaderMap};

/// Clocks closer than this are taken to agree (the `Date` header has whole
/// seconds, and answers take time to arrive).
pub(crate) const TOLERANCE: TimeDelta = TimeDelta::seconds(5);

/// The offset between the service's clock and this machine's, shared by
/// every request of one client.
#[derive(Debug, Default)]
pub(crate) struct ServiceClock {
    /// The service's time minus the machine's, in milliseconds.
    offset_ms: AtomicI64,
    /// Whether an answer has been seen.
    known: AtomicBool,
    /// Whether a difference beyond the tolerance was logged already.
    warned: AtomicBool,
}

impl ServiceClock {
    /// Learns the service's time from an answer's `Date` header, if it has
    /// one that parses (anything else is ignored).
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        let Some(date) = headers
            .get(DATE)
            .and_then(|value| value.to_str().ok())
            .and_then(|text| httpdate::parse_http_date(text.trim()).ok())
        else {
            return;
        };
        self.observe_at(date, SystemTime::now());
    }

    /// Records that the service said `date` when this machine said `local`.
    pub(crate) fn observe_at(&self, date: SystemTime, local: SystemTime) {
        let offset_ms = match date.duration_since(local) {
            Ok(ahead) => i64::try_from(ahead.as_millis()).unwrap_or(i64::MAX),
            Err(behind) => i64::try_from(behind.duration().as_millis())
                .map_or(i64::MIN, |ms| ms.saturating_neg()),
        };
        self.offset_ms.store(offset_ms, Ordering::Relaxed);
        self.known.store(true, Ordering::Release);
        if let Some(offset) = self.offset()
            && !self.warned.swap(true, Ordering::Relaxed)
        {
            tracing::warn!("{}; {}", describe_offset(offset), consequence(offset));
        }
    }

    /// Whether an answer has told the service's time yet.
    pub(crate) fn is_known(&self) -> bool {
        self.known.load(Ordering::Acquire)
    }

    /// The service's clock minus this machine's, when they differ by more
    /// than [`TOLERANCE`]; `None` when they agree or nothing was heard yet.
    pub(crate) fn offset(&self) -> Option<TimeDelta> {
        if !self.is_known() {
            return None;
        }
        let offset = TimeDelta::milliseconds(self.offset_ms.load(Ordering::Relaxed).clamp(
            -TimeDelta::MAX.num_milliseconds(),
            TimeDelta::MAX.num_milliseconds(),
        ));
        (offset.abs() > TOLERANCE).then_some(offset)
    }

    /// Now by the service's clock as last heard when it is behind this
    /// machine's; this machine's clock otherwise (while the two agree,
    /// before any answer, and when the service's runs ahead).
    ///
    /// The earlier of the two clocks is always safe: a range that ends
    /// earlier is only read a little later, while one that ends past the
    /// service's now claims entries it has not written. A service clock
    /// ahead is not followed: an answer claiming the year 9999 must not
    /// mark an archive complete through it.
    pub(crate) fn now(&self) -> DateTime<Utc> {
        let machine = Utc::now();
        match self.offset() {
            Some(offset) if offset < TimeDelta::zero() => machine
                .checked_add_signed(offset)
                .unwrap_or(DateTime::<Utc>::MIN_UTC),
            _ => machine,
        }
    }
}

/// What the SDK does about a clock `offset`: the earlier clock closes ranges.
pub(crate) fn consequence(offset: TimeDelta) -> &'static str {
    if offset < TimeDelta::zero() {
        "ranges end by the service's time"
    } else {
        "ranges end by this machine's time, the earlier of the two"
    }
}

/// "the service's clock is 5m behind this machine's (by its Date header)".
pub(crate) fn describe_offset(offset: TimeDelta) -> String {
    let seconds = offset.num_seconds().unsigned_abs();
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut amount = String::new();
    if hours > 0 {
        amount.push_str(&format!("{hours}h "));
    }
    if hours > 0 || minutes > 0 {
        amount.push_str(&format!("{minutes}m "));
    }
    amount.push_str(&format!("{seconds}s"));
    let side = if offset < TimeDelta::zero() {
        "behind"
    } else {
        "ahead of"
    };
    format!("the service's clock is {amount} {side} this machine's (by its Date header)")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn nothing_heard_means_the_machine_clock() {
        let clock = ServiceClock::default();
        assert!(!clock.is_known());
        assert_eq!(clock.offset(), None);
    }

    #[test]
    fn a_few_seconds_are_noise_more_is_the_service_time() {
        let clock = ServiceClock::default();
        let local = SystemTime::now();
        clock.observe_at(local - Duration::from_secs(3), local);
        assert!(clock.is_known());
        assert_eq!(clock.offset(), None, "3 s is within the tolerance");
        clock.observe_at(local - Duration::from_secs(300), local);
        assert_eq!(clock.offset(), Some(TimeDelta::seconds(-300)));
        let behind = Utc::now() - clock.now();
        assert!(
            behind >= TimeDelta::seconds(299) && behind <= TimeDelta::seconds(301),
            "{behind}"
        );
        clock.observe_at(local + Duration::from_secs(90), local);
        assert_eq!(clock.offset(), Some(TimeDelta::seconds(90)));
    }

    /// A service clock ahead is never followed: the machine's, earlier, is
    /// safe; a `Date` in the year 9999 must not end ranges there.
    #[test]
    fn a_service_clock_ahead_leaves_the_machine_clock() {
        let clock = ServiceClock::default();
        let local = SystemTime::now();
        clock.observe_at(local + Duration::from_secs(8000 * 365 * 24 * 3600), local);
        assert!(clock.offset().is_some_and(|o| o > TimeDelta::days(365)));
        let ahead = clock.now() - Utc::now();
        assert!(ahead <= TimeDelta::zero(), "{ahead}");
    }

    #[test]
    fn absurd_dates_never_panic() {
        let clock = ServiceClock::default();
        let local = SystemTime::now();
        clock.observe_at(SystemTime::UNIX_EPOCH, local);
        let _ = clock.now();
        clock.observe_at(
            local + Duration::from_secs(u64::from(u32::MAX) * 1000),
            local,
        );
        let _ = clock.now();
    }

    #[test]
    fn the_date_header_is_read_and_garbage_ignored() {
        let clock = ServiceClock::default();
        let mut headers = HeaderMap::new();
        headers.insert(DATE, "yesterday".parse().unwrap());
        clock.observe(&headers);
        assert!(!clock.is_known());
        let past = SystemTime::now() - Duration::from_secs(600);
        headers.insert(DATE, httpdate::fmt_http_date(past).parse().unwrap());
        clock.observe(&headers);
        let offset = clock.offset().unwrap();
        assert!(offset <= TimeDelta::seconds(-600) && offset > TimeDelta::seconds(-602));
    }

    #[test]
    fn offsets_read_as_people_say_them() {
        assert_eq!(
            describe_offset(TimeDelta::seconds(-300)),
            "the service's clock is 5m 0s behind this machine's (by its Date header)"
        );
        assert_eq!(
            describe_offset(TimeDelta::seconds(3725)),
            "the service's clock is 1h 2m 5s ahead of this machine's (by its Date header)"
        );
    }
}
