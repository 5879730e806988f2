//! The entries of one contract in a range, page by page: from the API
//! through the SDK's download engine (which cuts ranges longer than the
//! service's 90 days), or from an archive (narrowed in SQL by the
//! filter's [`Query`]). Dropping the stream stops the download.

use activitylog_archive::Query;
use activitylog_client::summary::Summary;
use activitylog_client::{DateRange, RawEvent, Update};
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};

use crate::counting;
use crate::filter::Filter;
use crate::omitted::Omitted;
use crate::reader::{self, Reader};

/// Pages of entries, in the engine's window order (an archive's: time
/// order); an error is one sentence. An archive leaves out what `query`
/// rules out; the caller's filter still runs on every page.
pub fn pages<'a>(
    reader: &'a Reader,
    contract: u64,
    range: &DateRange,
    query: &Query,
) -> BoxStream<'a, Result<Vec<RawEvent>, String>> {
    let updates = match reader {
        Reader::Api(connection) => connection
            .log
            .entries(contract)
            .since(range.since())
            .until(range.until())
            .updates()
            .map_err(|e| e.to_string())
            .boxed(),
        Reader::Archive(archive) => reader::archived_updates(
            archive,
            contract,
            range.since(),
            range.until(),
            false,
            query,
        )
        .map_err(|e| e.to_string())
        .boxed(),
    };
    updates
        .try_filter_map(|update| async move {
            Ok(match update {
                Update::Events(events) => Some(events),
                _ => None,
            })
        })
        .boxed()
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

/// Counts `filter`'s entries of `contract` in `range` into each of
/// `summaries`, in one read; entries the filter cannot check make the
/// count an error.
pub async fn count(
    reader: &Reader,
    contract: u64,
    range: &DateRange,
    filter: &Filter,
    summaries: &mut [&mut Summary],
) -> Result<Tally, String> {
    let mut tally = Tally::default();
    let mut omitted = Omitted::default();
    let events = pages(reader, contract, range, &filter.query())
        .inspect_ok(|page| tally.add(page))
        .map_ok(|page| stream::iter(page.into_iter().map(Ok::<_, String>)))
        .try_flatten();
    counting::count(events, filter, &mut omitted, |facts| {
        for summary in summaries.iter_mut() {
            summary.add(facts);
        }
    })
    .await?;
    if !omitted.is_empty() {
        return Err(format!(
            "{} entries could not be read, so the filters cannot check them: count without \
             filters, or export them with `activitylog entries --format json`",
            omitted.count
        ));
    }
    Ok(tally)
}
