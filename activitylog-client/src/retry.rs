//! Retries: which faults are retried, how long to wait, and the shared
//! throttle that makes a 429 slow down every request of a client.

use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RETRY_AFTER};
use tokio::time::Instant;

/// How failed attempts are retried.
///
/// Retried: HTTP 429, 500, 502, 503, 504, connection errors, timeouts and
/// bodies cut off mid-response. Never retried: any other 4xx.
///
/// ```
/// use std::time::Duration;
/// use activitylog_client::RetryPolicy;
/// let patient = RetryPolicy::default().max_attempts(8).max_total_wait(Duration::from_secs(300));
/// assert_eq!(patient.attempts(), 8);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    max_total_wait: Duration,
    initial_delay: Duration,
    max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 200 ms doubling up to 10 s (with jitter), 60 s of waiting at most.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            max_total_wait: Duration::from_secs(60),
            initial_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn none() -> Self {
        RetryPolicy::default().max_attempts(1)
    }

    /// Attempts per request, the first included (at least 1).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// The most time spent waiting between attempts of one request.
    pub fn max_total_wait(mut self, wait: Duration) -> Self {
        self.max_total_wait = wait;
        self
    }

    /// The first backoff delay; later ones double, with jitter.
    pub fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// The largest single backoff delay (a server's `Retry-After` may ask for more,
    /// within the total wait).
    pub fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// The configured number of attempts.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    fn backoff(&self) -> impl Iterator<Item = Duration> {
        ExponentialBuilder::default()
            .with_min_delay(self.initial_delay)
            .with_max_delay(self.max_delay)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
    }
}

/// Whether an HTTP status is worth another attempt.
pub(crate) fn is_retryable_status(status: StatusCode) -> bool {
    matches!(status.as_u16(), 429 | 500 | 502 | 503 | 504)
}

/// The server's `Retry-After`, in seconds or as an HTTP date; `None` when
/// absent or not one of those (garbage is ignored: the policy's own backoff
/// applies). Never panics: a number too large for any clock saturates, a
/// date in the past means now.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(
            value
                .parse::<u64>()
                .map_or(Duration::MAX, Duration::from_secs),
        );
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// A wait as people say it: `1h 2m 5s`, `3 days 4h`, `584942417355 years`.
pub(crate) fn human(wait: Duration) -> String {
    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    const YEAR: u64 = 365 * DAY;
    let seconds = wait.as_secs();
    if seconds >= YEAR {
        return format!("{} years", seconds / YEAR);
    }
    if seconds >= DAY {
        return format!("{} days {}h", seconds / DAY, seconds % DAY / HOUR);
    }
    if seconds >= HOUR {
        return format!(
            "{}h {}m {}s",
            seconds / HOUR,
            seconds % HOUR / MINUTE,
            seconds % MINUTE
        );
    }
    if seconds >= MINUTE {
        return format!("{}m {}s", seconds / MINUTE, seconds % MINUTE);
    }
    if seconds > 0 {
        return format!("{seconds}s");
    }
    format!("{}ms", wait.as_millis())
}

/// What one attempt came to.
pub(crate) enum Attempt<T, E> {
    /// Finished: a value, or an answer that retrying cannot change.
    Done(Result<T, E>),
    /// A transient fault.
    Retry(Fault),
}

/// A transient fault, as reported when retries run out.
#[derive(Debug)]
pub(crate) struct Fault {
    pub status: Option<u16>,
    pub reason: String,
    pub retry_after: Option<Duration>,
}

/// Retries ran out: the last fault, and how much was tried.
#[derive(Debug)]
pub(crate) struct Exhausted {
    pub fault: Fault,
    pub attempts: u32,
    pub waited: Duration,
}

/// A client-wide pause: after a 429 no request of this client starts before
/// the server's retry time, so concurrent requests back off together.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    not_before: Mutex<Option<Instant>>,
}

impl Throttle {
    /// Waits until the client may send again; returns how long that took.
    pub(crate) async fn ready(&self) -> Duration {
        let until = *self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        match until {
            Some(until) => {
                let now = Instant::now();
                tokio::time::sleep_until(until).await;
                until.saturating_duration_since(now)
            }
            None => Duration::ZERO,
        }
    }

    /// Holds every request back for `pause`.
    fn hold(&self, pause: Duration) {
        let now = Instant::now();
        // A pause too long for the clock holds as long as it can.
        let until = now
            .checked_add(pause)
            .unwrap_or_else(|| now + Duration::from_secs(365 * 24 * 3600));
        let mut slot = self.not_before.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none_or(|current| current < until) {
            *slot = Some(until);
        }
    }
}

/// Runs `attempt` until it is done or the policy gives up.
pub(crate) async fn run<T, E, F, Fut>(
    policy: &RetryPolicy,
    throttle: &Throttle,
    operation: &'static str,
    mut attempt: F,
) -> Result<Result<T, E>, Exhausted>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Attempt<T, E>>,
{
    let mut delays = policy.backoff();
    let mut waited = Duration::ZERO;
    let mut attempts = 0;
    loop {
        // Time held back by another request's 429 is time this one waited too.
        waited += throttle.ready().await;
        attempts += 1;
        let fault = match attempt().await {
            Attempt::Done(result) => return Ok(result),
            Attempt::Retry(fault) => fault,
        };
        let backoff = delays.next().unwrap_or(policy.max_delay);
        // The server's time, plus jitter so that clients it held back
        // together do not all come back in the same instant.
        let wait = fault.retry_after.map_or(backoff, |after| {
            after.saturating_add(jitter(after.max(policy.initial_delay)))
        });
        let budget_left = policy.max_total_wait.saturating_sub(waited);
        if attempts >= policy.max_attempts || wait > budget_left {
            let mut fault = fault;
            // A wait the policy never allows is not worth a sleep: say so.
            if let Some(after) = fault.retry_after.filter(|after| *after > budget_left) {
                fault.reason = format!(
                    "{}; the service asked to wait {} before retrying (Retry-After), longer \
                     than the retry policy allows (at most {} in all)",
                    fault.reason,
                    human(after),
                    human(policy.max_total_wait)
                );
            }
            tracing::warn!(
                operation,
                attempts,
                status = fault.status,
                reason = %fault.reason,
                "giving up"
            );
            return Err(Exhausted {
                fault,
                attempts,
                waited,
            });
        }
        tracing::debug!(
            operation,
            attempt = attempts,
            status = fault.status,
            reason = %fault.reason,
            wait_ms = wait.as_millis() as u64,
            "retrying"
        );
        if fault.status == Some(429) {
            throttle.hold(wait);
        }
        tokio::time::sleep(wait).await;
        waited += wait;
    }
}

/// Up to a fifth of `base`, at random (at most a day: never an overflow).
fn jitter(base: Duration) -> Duration {
    base.min(Duration::from_secs(5 * 24 * 3600))
        .mul_f64(fastrand::f64() * 0.2)
}

/// The error inside a boxed error or an io::Error (whose `source()` skip
/// the error they wrap).
fn unwrapped<'a>(
    mut error: &'a (dyn std::error::Error + 'static),
) -> &'a (dyn std::error::Error + 'static) {
    loop {
        if let Some(inner) = error
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            error = inner;
        } else {
            return error;
        }
    }
}

/// Classifies a transport error: connection-level errors are transient;
/// a certificate the client does not accept and a request that could not
/// even be built are not (retrying cannot change them).
pub(crate) fn transport_error(error: &reqwest::Error) -> Result<Fault, crate::Error> {
    if error.is_builder() {
        return Err(crate::Error::Config(format!(
            "the request could not be built: {}",
            error_chain(error)
        )));
    }
    if let Some(reason) = certificate_problem(error) {
        return Err(crate::Error::Certificate { reason });
    }
    Ok(transport_fault(error))
}

/// The TLS certificate problem behind an error, if that is what it is.
fn certificate_problem(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    let mut source = Some(error);
    while let Some(cause) = source {
        let cause = unwrapped(cause);
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return match tls {
                rustls::Error::InvalidCertificate(problem) => {
                    Some(crate::tls::refusal_message(problem))
                }
                _ => None,
            };
        }
        source = cause.source();
    }
    None
}

/// Classifies a transport error as a transient fault (a body cut off
/// mid-way is one: the connection was already accepted).
pub(crate) fn transport_fault(error: &reqwest::Error) -> Fault {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_decode() {
        "the response body was cut off"
    } else {
        "the connection failed"
    };
    Fault {
        status: error.status().map(|s| s.as_u16()),
        reason: format!("{kind} ({})", error_chain(error)),
        retry_after: None,
    }
}

/// An error and its sources on one line, without URLs' query strings.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    /// A 503 without `Retry-After`.
    fn busy() -> Fault {
        Fault {
            status: Some(503),
            reason: "busy".into(),
            retry_after: None,
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3)));
        let later = SystemTime::now() + Duration::from_secs(120);
        headers.insert(RETRY_AFTER, httpdate::fmt_http_date(later).parse().unwrap());
        let wait = retry_after(&headers).unwrap();
        assert!(
            wait > Duration::from_secs(100) && wait <= Duration::from_secs(120),
            "{wait:?}"
        );
        headers.insert(RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&headers), None);
    }

    /// Seen against a service that answered `Retry-After: 18446744073709551615`:
    /// "internal error … overflow when adding durations".
    #[test]
    fn retry_after_of_any_size_never_panics() {
        let mut headers = HeaderMap::new();
        for (text, expected) in [
            ("18446744073709551615", Some(Duration::from_secs(u64::MAX))),
            ("99999999999999999999999999", Some(Duration::MAX)),
            ("0", Some(Duration::ZERO)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(Duration::ZERO)),
            ("-5", None),
            ("1.5", None),
            ("", None),
            ("Fri, 31 Dec 9999 23:59:59 GMT", None), // checked below
        ] {
            headers.insert(RETRY_AFTER, HeaderValue::from_str(text).unwrap());
            let got = retry_after(&headers);
            if text.starts_with("Fri") {
                assert!(
                    got.unwrap() > Duration::from_secs(7000 * 365 * 24 * 3600),
                    "{got:?}"
                );
            } else {
                assert_eq!(got, expected, "{text}");
            }
        }
        headers.insert(RETRY_AFTER, HeaderValue::from_bytes(b"\xff\xfe").unwrap());
        assert_eq!(retry_after(&headers), None);
    }

    /// A `Retry-After` longer than the policy's whole wait ends the request
    /// at once with an error naming the wait, whatever its size: no sleep,
    /// no panic.
    #[tokio::test(start_paused = true)]
    async fn a_retry_after_beyond_the_policy_is_an_error_naming_the_wait() {
        for after in [
            Duration::from_secs(u64::MAX),
            Duration::MAX,
            Duration::from_secs(3600),
        ] {
            let policy = RetryPolicy::default();
            let started = Instant::now();
            let result: Result<Result<(), ()>, _> =
                run(&policy, &Throttle::default(), "test", || async move {
                    Attempt::Retry(Fault {
                        status: Some(429),
                        reason: "HTTP 429 Too Many Requests".into(),
                        retry_after: Some(after),
                    })
                })
                .await;
            let exhausted = result.unwrap_err();
            assert_eq!(exhausted.attempts, 1, "{after:?}");
            assert_eq!(Instant::now(), started, "it slept");
            let reason = exhausted.fault.reason;
            assert!(
                reason.contains(&format!("asked to wait {} before retrying", human(after)))
                    && reason.contains("at most 1m 0s"),
                "{reason}"
            );
        }
        assert_eq!(human(Duration::from_secs(u64::MAX)), "584942417355 years");
    }

    /// A huge pause never overflows the throttle's clock.
    #[tokio::test]
    async fn the_throttle_holds_any_pause_without_panicking() {
        Throttle::default().hold(Duration::MAX);
    }

    #[test]
    fn only_throttling_and_gateway_faults_are_retried() {
        for code in [429, 500, 502, 503, 504] {
            assert!(
                is_retryable_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
        for code in [400, 401, 403, 404, 409, 422, 501] {
            assert!(
                !is_retryable_status(StatusCode::from_u16(code).unwrap()),
                "{code}"
            );
        }
    }

    #[tokio::test]
    async fn gives_up_after_the_attempt_bound() {
        let policy = RetryPolicy::default()
            .max_attempts(3)
            .initial_delay(Duration::from_millis(1));
        let mut calls = 0;
        let result: Result<Result<(), ()>, _> = run(&policy, &Throttle::default(), "test", || {
            calls += 1;
            async { Attempt::Retry(busy()) }
        })
        .await;
        let exhausted = result.unwrap_err();
        assert_eq!((calls, exhausted.attempts), (3, 3));
    }

    /// A 429 seen by one request holds back the next request of the same
    /// client until the server's retry time (virtual time: nothing sleeps).
    #[tokio::test(start_paused = true)]
    async fn a_429_holds_back_every_request_of_the_client() {
        let throttle = std::sync::Arc::new(Throttle::default());
        let policy = RetryPolicy::default();
        let started = Instant::now();
        let first = {
            let throttle = throttle.clone();
            let policy = policy.clone();
            tokio::spawn(async move {
                let mut calls = 0;
                run(&policy, &throttle, "first", || {
                    calls += 1;
                    let limited = calls == 1;
                    async move {
                        if limited {
                            Attempt::Retry(Fault {
                                status: Some(429),
                                reason: "slow down".into(),
                                retry_after: Some(Duration::from_secs(2)),
                            })
                        } else {
                            Attempt::Done(Ok::<(), ()>(()))
                        }
                    }
                })
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        let second_sent_at = run(&policy, &throttle, "second", || async {
            Attempt::Done(Ok::<Instant, ()>(Instant::now()))
        })
        .await
        .unwrap()
        .unwrap();
        assert!(
            second_sent_at - started >= Duration::from_secs(2),
            "{:?}",
            second_sent_at - started
        );
        assert!(first.await.unwrap().is_ok());
    }

    /// Clients held back by the same `Retry-After` do not all return in the
    /// same instant (virtual time: nothing sleeps).
    #[tokio::test(start_paused = true)]
    async fn retry_after_gets_jitter() {
        let policy = RetryPolicy::default();
        let mut waits = Vec::new();
        for _ in 0..8 {
            let mut calls = 0;
            let started = Instant::now();
            let result: Result<Result<(), ()>, _> =
                run(&policy, &Throttle::default(), "test", || {
                    calls += 1;
                    let first = calls == 1;
                    async move {
                        if first {
                            Attempt::Retry(Fault {
                                status: Some(503),
                                reason: "busy".into(),
                                retry_after: Some(Duration::from_secs(1)),
                            })
                        } else {
                            Attempt::Done(Ok(()))
                        }
                    }
                })
                .await;
            assert!(result.unwrap().is_ok());
            waits.push(Instant::now() - started);
        }
        assert!(
            waits
                .iter()
                .all(|w| *w >= Duration::from_secs(1) && *w <= Duration::from_millis(1200)),
            "{waits:?}"
        );
        waits.dedup();
        assert!(waits.len() > 1, "every wait was the same: {waits:?}");
    }

    /// Time spent held back by another request's 429 counts toward the
    /// total wait: a request that already waited its budget gives up.
    #[tokio::test(start_paused = true)]
    async fn throttle_waits_count_toward_the_wait_budget() {
        let throttle = Throttle::default();
        throttle.hold(Duration::from_secs(50));
        let policy = RetryPolicy::default()
            .max_total_wait(Duration::from_secs(60))
            .initial_delay(Duration::from_secs(20))
            .max_delay(Duration::from_secs(20));
        let mut calls = 0;
        let result: Result<Result<(), ()>, _> = run(&policy, &throttle, "test", || {
            calls += 1;
            async { Attempt::Retry(busy()) }
        })
        .await;
        let exhausted = result.unwrap_err();
        assert_eq!(calls, 1, "a 20 s backoff does not fit in the 10 s left");
        assert!(exhausted.waited >= Duration::from_secs(50), "{exhausted:?}");
    }

    /// An error whose cause is rustls refusing the server's certificate.
    #[derive(Debug)]
    struct Wrapped(rustls::Error);

    impl std::fmt::Display for Wrapped {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }

    impl std::error::Error for Wrapped {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    /// An error whose cause is an io::Error.
    #[derive(Debug)]
    struct Wrapped2(std::io::Error);

    impl std::fmt::Display for Wrapped2 {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("client error (Connect)")
        }
    }

    impl std::error::Error for Wrapped2 {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn certificate_errors_are_recognised_through_the_chain() {
        let refused = Wrapped(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        let reason = certificate_problem(&refused).unwrap();
        assert!(
            reason.contains("CA this machine does not trust"),
            "{reason}"
        );
        assert!(reason.contains("IONOS_PINNED_CERT"), "{reason}");
        // As hyper-rustls reports it: inside an io::Error, whose `source()` skips it.
        let in_io = Wrapped2(std::io::Error::other(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        )));
        assert!(certificate_problem(&in_io).is_some());
        let other = Wrapped(rustls::Error::DecryptError);
        assert_eq!(certificate_problem(&other), None);
    }

    #[tokio::test]
    async fn gives_up_when_retry_after_exceeds_the_wait_budget() {
        let policy = RetryPolicy::default().max_total_wait(Duration::from_secs(5));
        let result: Result<Result<(), ()>, _> =
            run(&policy, &Throttle::default(), "test", || async {
                Attempt::Retry(Fault {
                    status: Some(429),
                    reason: "slow down".into(),
                    retry_after: Some(Duration::from_secs(3600)),
                })
            })
            .await;
        assert_eq!(result.unwrap_err().attempts, 1);
    }
}
