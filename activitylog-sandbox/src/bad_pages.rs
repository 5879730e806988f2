//! 200 answers that are not a page: what a gateway or a broken backend may send instead.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::injection::{Draws, Injection, Kind};

/// One kind of 200 answer to a contract page request that is not a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BadPageKind {
    /// `text/html`: a maintenance page, as a gateway in front of the service sends it.
    HtmlMaintenance,
    /// `application/json` with the body `{}`.
    EmptyObject,
    /// `application/json` without `hits`: `{"took":3,"timed_out":false}`.
    NoHits,
    /// `application/json` with `hits.hits` holding the real page's hits but no `hits.total`.
    NoTotal,
    /// The real page's JSON body, sent as `Content-Type: text/plain`.
    WrongContentType,
}

impl BadPageKind {
    /// Every bad page kind, in a fixed order.
    pub const ALL: [BadPageKind; 5] = [
        BadPageKind::HtmlMaintenance,
        BadPageKind::EmptyObject,
        BadPageKind::NoHits,
        BadPageKind::NoTotal,
        BadPageKind::WrongContentType,
    ];
}

impl Kind for BadPageKind {
    const EVERY: &'static [Self] = &BadPageKind::ALL;
}

/// How often contract pages that would have been served are replaced by a
/// bad page, and by which kinds: `BadPages::rate(0.05)`, `.only([..])`,
/// `BadPages::none()` (the default).
pub type BadPages = Injection<BadPageKind>;

const BAD_PAGE_SALT: u64 = 0xBAD_9A6E;

/// Draws bad pages per eligible answer from a seeded stream and counts them.
#[derive(Debug)]
pub(crate) struct BadPageInjector {
    draws: Draws<BadPageKind>,
    served: AtomicU64,
}

impl BadPageInjector {
    /// An injector for the given settings.
    pub(crate) fn new(bad: &BadPages, seed: u64) -> Self {
        Self {
            draws: Draws::new(bad, seed, BAD_PAGE_SALT),
            served: AtomicU64::new(0),
        }
    }

    /// Decides whether the next page answer is replaced; counts it if so.
    pub(crate) fn draw(&self) -> Option<BadPageKind> {
        let (kind, _) = self.draws.draw()?;
        self.served.fetch_add(1, Ordering::Relaxed);
        Some(kind)
    }

    /// Bad pages served so far.
    pub(crate) fn served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }
}

/// The maintenance page a gateway shows while the service is down for maintenance.
pub(crate) const MAINTENANCE_HTML: &str = "<!DOCTYPE html>\r\n<html>\r\n<head><title>Scheduled maintenance</title></head>\r\n<body>\r\n<h1>We&rsquo;ll be back soon</h1>\r\n<p>The service is undergoing scheduled maintenance. Please try again later.</p>\r\n</body>\r\n</html>\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_by_default() {
        let injector = BadPageInjector::new(&BadPages::default(), 1);
        assert!((0..1000).all(|_| injector.draw().is_none()));
        assert_eq!(injector.served(), 0);
        let nan = BadPageInjector::new(&BadPages::rate(f64::NAN), 1);
        assert!(nan.draw().is_none());
    }

    #[test]
    fn rate_kinds_and_count() {
        let injector = BadPageInjector::new(&BadPages::rate(0.25), 9);
        let hits: Vec<BadPageKind> = (0..8_000).filter_map(|_| injector.draw()).collect();
        assert!((1_700..2_300).contains(&hits.len()), "{}", hits.len());
        assert_eq!(injector.served(), hits.len() as u64);
        for kind in BadPageKind::ALL {
            assert!(hits.contains(&kind), "{kind:?}");
        }
        let only = BadPageInjector::new(&BadPages::rate(1.0).only([BadPageKind::NoTotal]), 9);
        assert!((0..100).all(|_| only.draw() == Some(BadPageKind::NoTotal)));
    }

    #[test]
    fn same_seed_same_draws() {
        let draws = |seed| {
            let injector = BadPageInjector::new(&BadPages::rate(0.5), seed);
            (0..200).map(|_| injector.draw()).collect::<Vec<_>>()
        };
        assert_eq!(draws(3), draws(3));
        assert_ne!(draws(3), draws(4));
    }
}
