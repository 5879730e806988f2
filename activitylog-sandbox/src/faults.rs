//! Fault injection: which requests fail, how, and how often it happened.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::injection::{Draws, Injection, Kind};

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

impl Kind for FaultKind {
    const EVERY: &'static [Self] = &FaultKind::ALL;
}

/// How often to inject faults, and which kinds: `Faults::rate(0.1)`,
/// `.only([FaultKind::BadGateway])`, `Faults::none()` (the default).
pub type Faults = Injection<FaultKind>;

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
    draws: Draws<FaultKind>,
    counts: [AtomicU64; 7],
}

impl FaultInjector {
    /// An injector for the given settings.
    pub(crate) fn new(faults: Faults, seed: u64) -> Self {
        Self {
            draws: Draws::new(&faults, seed, FAULT_SALT),
            counts: Default::default(),
        }
    }

    /// Decides whether the next request fails; counts the fault if so.
    pub(crate) fn draw(&self) -> Option<Fault> {
        let (kind, choice) = self.draws.draw()?;
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
