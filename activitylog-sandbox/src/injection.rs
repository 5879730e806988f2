//! What faults and bad pages share: how often to misbehave and in which
//! ways, and a seeded, counted stream of decisions.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::rng::{hash3, pick, unit};

/// A family of misbehaviours the sandbox can inject ([`crate::FaultKind`],
/// [`crate::BadPageKind`]).
pub trait Kind: Copy + std::fmt::Debug + PartialEq + 'static {
    /// Every kind of the family, the default choice.
    const EVERY: &'static [Self];
}

/// How often to misbehave, and which kinds to choose from.
///
/// ```
/// use activitylog_sandbox::{FaultKind, Faults};
/// let gateway_trouble = Faults::rate(0.1).only([FaultKind::BadGateway, FaultKind::GatewayTimeout]);
/// assert_eq!(gateway_trouble.kinds.len(), 2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Injection<K> {
    /// Probability in `[0, 1]` that an eligible answer misbehaves.
    pub rate: f64,
    /// The kinds to choose from, uniformly; empty means never.
    pub kinds: Vec<K>,
}

impl<K: Kind> Injection<K> {
    /// Never (the default).
    pub fn none() -> Self {
        Self {
            rate: 0.0,
            kinds: Vec::new(),
        }
    }

    /// Every kind, at the given rate (clamped to `[0, 1]`).
    pub fn rate(rate: f64) -> Self {
        Self {
            rate,
            kinds: K::EVERY.to_vec(),
        }
    }

    /// Restricts the choice to the given kinds.
    pub fn only<I: IntoIterator<Item = K>>(mut self, kinds: I) -> Self {
        self.kinds = kinds.into_iter().collect();
        self
    }

    /// The rate in force: 0 when NaN or when no kind is left to choose.
    fn effective_rate(&self) -> f64 {
        if self.rate.is_nan() || self.kinds.is_empty() {
            0.0
        } else {
            self.rate.clamp(0.0, 1.0)
        }
    }
}

impl<K: Kind> Default for Injection<K> {
    fn default() -> Self {
        Self::none()
    }
}

/// Draws decisions from a seeded stream: the same seed and salt give the
/// same decisions in the same order.
#[derive(Debug)]
pub(crate) struct Draws<K> {
    kinds: Vec<K>,
    rate: f64,
    seed: u64,
    salt: u64,
    drawn: AtomicU64,
}

impl<K: Kind> Draws<K> {
    /// A stream for `injection`, under `seed`, kept apart from others by `salt`.
    pub(crate) fn new(injection: &Injection<K>, seed: u64, salt: u64) -> Self {
        Self {
            kinds: injection.kinds.clone(),
            rate: injection.effective_rate(),
            seed,
            salt,
            drawn: AtomicU64::new(0),
        }
    }

    /// Whether the next eligible answer misbehaves: the kind, and random
    /// bits for the details of that kind.
    pub(crate) fn draw(&self) -> Option<(K, u64)> {
        if self.rate <= 0.0 {
            return None;
        }
        let n = self.drawn.fetch_add(1, Ordering::Relaxed);
        if unit(hash3(self.seed, n, self.salt)) >= self.rate {
            return None;
        }
        let choice = hash3(self.seed, n, self.salt + 1);
        Some((self.kinds[pick(choice, self.kinds.len())], choice))
    }
}
