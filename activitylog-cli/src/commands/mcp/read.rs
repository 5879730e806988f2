//! The entries of one contract in a range, page by page: from the API
//! through the SDK's download engine (which cuts ranges longer than the
//! service's 90 days), or from an archive. Dropping the stream stops the
//! download.

use activitylog_client::{DateRange, RawEvent, Update};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};

use crate::reader::Reader;

/// Pages of entries, in the engine's window order; an error is one sentence.
pub fn pages<'a>(
    reader: &'a Reader,
    contract: u64,
    range: &DateRange,
) -> BoxStream<'a, Result<Vec<RawEvent>, String>> {
    match reader {
        Reader::Api(connection) => connection
            .log
            .entries(contract)
            .since(range.since())
            .until(range.until())
            .updates()
            .map_err(|e| e.to_string())
            .try_filter_map(|update| async move {
                Ok(match update {
                    Update::Events(events) => Some(events),
                    _ => None,
                })
            })
            .boxed(),
        Reader::Archive(archive) => archive
            .pages(contract, range.since(), range.until())
            .map_err(|e| e.to_string())
            .boxed(),
    }
}

/// What reading took: pages (each one request to the API) and entries.
#[derive(Clone, Copy, Debug, Default)]
pub struct Tally {
    /// Pages read.
    pub pages: u64,
    /// Entries read, before filtering.
    pub entries: u64,
}

impl Tally {
    /// Counts one page.
    pub fn add(&mut self, page: &[RawEvent]) {
        self.pages += 1;
        self.entries += page.len() as u64;
    }
}
