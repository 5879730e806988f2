//! Fault injection: which requests fail, how, and how often it happened.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::rng::{hash3, pick, unit};

/// One kind of failure the sandbox can inject instead of a normal answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// 429 with `Retry-After: 0` or `Retry-After: 1`.
    TooManyRequests,
    /// 500 with an IONOS error body.
    InternalServerError,
    /// 502 with an HTML body, as a gateway would send.
    BadGateway,
    /// 503 with an IONOS error body.
    ServiceUnavailable,
    /// 504 with an HTML body, as a gateway would send.
    GatewayTimeout,
    /// The TCP connection is closed (with RST) without any response.
    ConnectionReset,
    /// Headers announce the full `Content-Length`, then only part of the body is sent.
    TruncatedBody,
}

impl FaultKind {
    /// Every fault kind, in a fixed order.
    pub const ALL: [FaultKind; 7] = [
        FaultKind::TooManyRequests,
        FaultKind::InternalServerError,
        FaultKind::BadGateway,
        FaultKind::ServiceUnavailable,
        FaultKind::GatewayTimeout,
        FaultKind::ConnectionReset,
        FaultKind::TruncatedBody,
    ];

    /// The HTTP status this fault answers with, if it answers with an error status.
    pub fn status(self) -> Option<u16> {
        match self {
            FaultKind::TooManyRequests => Some(429),
            FaultKind::InternalServerError => Some(500),
            FaultKind::BadGateway => Some(502),
            FaultKind::ServiceUnavailable => Some(503),
            FaultKind::GatewayTimeout => Some(504),
            FaultKind::ConnectionReset | FaultKind::TruncatedBody => None,
        }
    }

    fn slot(self) -> usize {
        match self {
            FaultKind::TooManyRequests => 0,
            FaultKind::InternalServerError => 1,
            FaultKind::BadGateway => 2,
            FaultKind::ServiceUnavailable => 3,
            FaultKind::GatewayTimeout => 4,
            FaultKind::ConnectionReset => 5,
            FaultKind::TruncatedBody => 6,
        }
    }
}

/// How often to inject faults, and which kinds.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Probability in `[0, 1]` that a request gets a fault.
    pub rate: f64,
    /// The kinds to choose from, uniformly; empty means no faults.
    pub kinds: Vec<FaultKind>,
}

impl Faults {
    /// No faults at all (the default).
    pub fn none() -> Self {
        Self {
            rate: 0.0,
            kinds: Vec::new(),
        }
    }

    /// Faults of every kind at the given rate (clamped to `[0, 1]`).
    pub fn rate(rate: f64) -> Self {
        Self {
            rate,
            kinds: FaultKind::ALL.to_vec(),
        }
    }

    /// Restricts injected faults to the given kinds.
    pub fn only<I: IntoIterator<Item = FaultKind>>(mut self, kinds: I) -> Self {
        self.kinds = kinds.into_iter().collect();
        self
    }

    fn effective_rate(&self) -> f64 {
        if self.rate.is_nan() || self.kinds.is_empty() {
            0.0
        } else {
            self.rate.clamp(0.0, 1.0)
        }
    }
}

impl Default for Faults {
    fn default() -> Self {
        Self::none()
    }
}

/// A decision to fail one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fault {
    /// What goes wrong.
    pub kind: FaultKind,
    /// Seconds for `Retry-After` (only used by 429).
    pub retry_after: u8,
}

/// How many faults of each kind were injected so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    counts: [u64; 7],
}

impl FaultCounts {
    /// Faults of one kind injected so far.
    pub fn get(&self, kind: FaultKind) -> u64 {
        self.counts[kind.slot()]
    }

    /// All faults injected so far.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// `(kind, count)` for every kind, in [`FaultKind::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (FaultKind, u64)> + '_ {
        FaultKind::ALL.iter().map(|&kind| (kind, self.get(kind)))
    }
}

const FAULT_SALT: u64 = 0xFA17_FA17;

/// Draws faults per request from a seeded stream and counts them.
#[derive(Debug)]
pub(crate) struct FaultInjector {
    faults: Faults,
    rate: f64,
    seed: u64,
    requests: AtomicU64,
    counts: [AtomicU64; 7],
}

impl FaultInjector {
    /// An injector for the given settings.
    pub(crate) fn new(faults: Faults, seed: u64) -> Self {
        let rate = faults.effective_rate();
        Self {
            faults,
            rate,
            seed,
            requests: AtomicU64::new(0),
            counts: Default::default(),
        }
    }

    /// Decides whether the next request fails; counts the fault if so.
    pub(crate) fn draw(&self) -> Option<Fault> {
        if self.rate <= 0.0 {
            return None;
        }
        let n = self.requests.fetch_add(1, Ordering::Relaxed);
        if unit(hash3(self.seed, n, FAULT_SALT)) >= self.rate {
            return None;
        }
        let choice = hash3(self.seed, n, FAULT_SALT + 1);
        let kind = self.faults.kinds[pick(choice, self.faults.kinds.len())];
        self.counts[kind.slot()].fetch_add(1, Ordering::Relaxed);
        Some(Fault {
            kind,
            retry_after: (choice & 1) as u8,
        })
    }

    /// A snapshot of the counters.
    pub(crate) fn counts(&self) -> FaultCounts {
        let mut out = FaultCounts::default();
        for (slot, count) in out.counts.iter_mut().zip(&self.counts) {
            *slot = count.load(Ordering::Relaxed);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_faults_by_default() {
        let injector = FaultInjector::new(Faults::default(), 1);
        assert!((0..1000).all(|_| injector.draw().is_none()));
        assert_eq!(injector.counts().total(), 0);
    }

    #[test]
    fn rate_is_roughly_respected_and_counted() {
        let injector = FaultInjector::new(Faults::rate(0.2), 42);
        let hits = (0..10_000).filter(|_| injector.draw().is_some()).count();
        assert!((1_700..2_300).contains(&hits), "{hits}");
        let counts = injector.counts();
        assert_eq!(counts.total(), hits as u64);
        assert!(counts.iter().all(|(_, n)| n > 0));
    }

    #[test]
    fn only_restricts_kinds() {
        let injector = FaultInjector::new(Faults::rate(1.0).only([FaultKind::BadGateway]), 3);
        for _ in 0..100 {
            assert_eq!(injector.draw().unwrap().kind, FaultKind::BadGateway);
        }
        assert_eq!(injector.counts().get(FaultKind::BadGateway), 100);
    }

    #[test]
    fn nan_rate_means_off() {
        let injector = FaultInjector::new(Faults::rate(f64::NAN), 3);
        assert!(injector.draw().is_none());
    }
}
