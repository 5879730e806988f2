//! What downloads learn about the service and keep for the next ones on the
//! same client: the result window it really has and the page size it
//! really gives.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Error;

/// Limits of the service found out by downloads, shared by every download of
/// one [`ActivityLog`](crate::ActivityLog) (and its clones).
#[derive(Debug)]
pub(crate) struct Learned {
    /// The deepest `offset + limit` the service accepts, once it refused one
    /// (`u64::MAX` until then: the configuration's value holds).
    result_window: AtomicU64,
    /// The most entries the service returned in one page so far: a page
    /// shorter than this and than asked can only be the end of a window.
    page_size: AtomicU64,
}

impl Default for Learned {
    fn default() -> Self {
        Learned {
            result_window: AtomicU64::new(u64::MAX),
            page_size: AtomicU64::new(0),
        }
    }
}

impl Learned {
    /// The result window to start a download with: the configured one, or
    /// the smaller one a refusal taught.
    pub(crate) fn result_window(&self, configured: u64) -> u64 {
        configured.min(self.result_window.load(Ordering::Relaxed))
    }

    /// Lowers the result window; says so (at `-v`) when this is news.
    pub(crate) fn lower_result_window(&self, assumed: u64, window: u64, stated: bool) {
        let before = self.result_window.fetch_min(window, Ordering::Relaxed);
        if window >= before.min(assumed) {
            return; // another download of this client learned it already
        }
        if stated {
            tracing::info!(
                "the service's result window is {window}, not {assumed}; using {window}"
            );
        } else {
            tracing::info!(
                "the service refused to page deeper than it allows without saying how deep it \
                 goes; its result window is below {assumed}: using {window}"
            );
        }
    }

    /// The most entries one page held so far.
    pub(crate) fn page_size(&self) -> u64 {
        self.page_size.load(Ordering::Relaxed)
    }

    /// Records a page of `entries`.
    pub(crate) fn saw_page(&self, entries: u64) {
        self.page_size.fetch_max(entries, Ordering::Relaxed);
    }
}

/// Whether `error` is the service refusing `offset + limit` as deeper than
/// its result window, and the window it states if it states one:
/// Elasticsearch says "Result window is too large, from + size must be less
/// than or equal to: [N] but was [M]". `deep` says whether the request paged
/// past the first entry: a 400 there, for a window whose first page was
/// taken, can only be about depth, whatever its words.
pub(crate) fn refused_depth(error: &Error, deep: bool) -> Option<Option<u64>> {
    let Error::BadRequest { status, messages } = error else {
        return None;
    };
    let mut about_depth = deep && *status == 400;
    let mut stated = None;
    for message in messages {
        let lower = message.to_ascii_lowercase();
        if !lower.contains("result window") {
            continue;
        }
        about_depth = true;
        stated = stated.or_else(|| stated_window(&lower));
    }
    about_depth.then_some(stated)
}

/// The `N` of "less than or equal to: [N]".
fn stated_window(message: &str) -> Option<u64> {
    let (_, after) = message.split_once("less than or equal to")?;
    let after = after.trim_start_matches([':', ' ']);
    let digits = after.strip_prefix('[')?.split(']').next()?;
    digits.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad_request(message: &str) -> Error {
        Error::BadRequest {
            status: 400,
            messages: vec![message.to_string()],
        }
    }

    #[test]
    fn the_result_window_is_read_from_elasticsearch_words() {
        let refusal = bad_request(
            "102: Result window is too large, from + size must be less than or equal to: \
             [5000] but was [6000]. See the scroll api for a more efficient way to request \
             large data sets.",
        );
        assert_eq!(refused_depth(&refusal, false), Some(Some(5000)));
        let unstated = bad_request("Result window is too large");
        assert_eq!(refused_depth(&unstated, false), Some(None));
        let garbage = bad_request("result window: less than or equal to: [lots]");
        assert_eq!(refused_depth(&garbage, false), Some(None));
        let huge = bad_request("Result window ... less than or equal to: [99999999999999999999]");
        assert_eq!(refused_depth(&huge, false), Some(None));
    }

    #[test]
    fn other_refusals_are_about_depth_only_past_the_first_page() {
        let other = bad_request("dateStart is invalid");
        assert_eq!(refused_depth(&other, false), None);
        assert_eq!(refused_depth(&other, true), Some(None));
        let conflict = Error::BadRequest {
            status: 409,
            messages: vec!["conflict".into()],
        };
        assert_eq!(refused_depth(&conflict, true), None);
        assert_eq!(refused_depth(&Error::Unauthorized, true), None);
    }

    #[test]
    fn a_learned_window_only_ever_shrinks() {
        let learned = Learned::default();
        assert_eq!(learned.result_window(10_000), 10_000);
        learned.lower_result_window(10_000, 5_000, true);
        assert_eq!(learned.result_window(10_000), 5_000);
        learned.lower_result_window(10_000, 7_000, true);
        assert_eq!(learned.result_window(10_000), 5_000);
        assert_eq!(learned.result_window(1_000), 1_000);
        learned.saw_page(300);
        learned.saw_page(100);
        assert_eq!(learned.page_size(), 300);
    }
}
