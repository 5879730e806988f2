//! The entries of one contract in a range: from the API through the SDK's
//! download engine (which cuts ranges longer than the service's 90 days),
//! or from an archive (narrowed in SQL by the filter's [`Query`]).
//! Dropping a stream stops the download.

use activitylog_archive::Query;
use activitylog_client::summary::Summary;
use activitylog_client::{DateRange, RawEvent, RequestCount, Update};
use futures::stream::{self, BoxStream};
use futures::{StreamExt, TryStreamExt};

use crate::counting;
use crate::filter::Filter;
use crate::omitted::Omitted;
use crate::reader::{self, Reader};

/// A read of one contract's range: its updates, and the HTTP requests it
/// sends (none from an archive).
pub struct Read<'a> {
    /// Pages of entries, each followed by how far the read is complete
    /// (the engine's windows; an archive's pages, read in time order, are
    /// complete up to their last entry's time). An error is one sentence.
    pub updates: BoxStream<'a, Result<Update, String>>,
    /// Requests sent so far.
    pub requests: RequestCount,
}

/// Reads `range` of `contract`. An archive leaves out what `query` rules
/// out; the caller's filter still runs on every page.
pub fn read<'a>(reader: &'a Reader, contract: u64, range: &DateRange, query: &Query) -> Read<'a> {
    match reader {
        Reader::Api(connection) => {
            let entries = connection
                .log
                .entries(contract)
                .since(range.since())
                .until(range.until());
            let requests = entries.requests();
            Read {
                updates: entries.updates().map_err(|e| e.to_string()).boxed(),
                requests,
            }
        }
        Reader::Archive(archive) => Read {
            updates: reader::archived_updates(
                archive,
                contract,
                range.since(),
                range.until(),
                false,
                query,
            )
            .map_err(|e| e.to_string())
            .map_ok(|update| {
                // In (time, @uuid) order: every entry before the page's
                // last time is in hand.
                let through = match &update {
                    Update::Events(page) => page.last().and_then(RawEvent::time),
                    _ => None,
                };
                let completed = through.map(|through| Ok(Update::Completed { through }));
                stream::iter(std::iter::once(Ok(update)).chain(completed))
            })
            .try_flatten()
            .boxed(),
            requests: RequestCount::default(),
        },
    }
}

/// The pages of a read, without its checkpoints.
pub fn pages<'a>(
    updates: BoxStream<'a, Result<Update, String>>,
) -> BoxStream<'a, Result<Vec<RawEvent>, String>> {
    updates
        .try_filter_map(|update| async move {
            Ok(match update {
                Update::Events(events) => Some(events),
                _ => None,
            })
        })
        .boxed()
}

/// Counts `filter`'s entries of `contract` in `range` into each of
/// `summaries`, in one read; entries the filter cannot check make the
/// count an error. Returns the HTTP requests it took.
pub async fn count(
    reader: &Reader,
    contract: u64,
    range: &DateRange,
    filter: &Filter,
    summaries: &mut [&mut Summary],
) -> Result<u64, String> {
    let mut omitted = Omitted::default();
    let read = read(reader, contract, range, &filter.query());
    let events = pages(read.updates)
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
    Ok(read.requests.get())
}
