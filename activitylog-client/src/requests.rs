//! How many HTTP requests a download sent: [`RequestCount`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The number of HTTP requests a download has sent so far: every attempt
/// counts, retries included, as do the `getInfo` that learns the service's
/// time and [`Entries::count`](crate::Entries::count)'s requests.
///
/// A handle shared with the download (clones count together), readable
/// while it runs and after; see [`Entries::requests`](crate::Entries::requests).
///
/// ```
/// let count = activitylog_client::RequestCount::default();
/// assert_eq!(count.get(), 0);
/// ```
#[derive(Clone, Debug, Default)]
pub struct RequestCount(Arc<AtomicU64>);

impl RequestCount {
    /// Requests sent so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Counts one request.
    pub(crate) fn add_one(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}
