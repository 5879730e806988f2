//! The counting `summary` and the MCP server's `summarize` share: every
//! entry that passes a filter, as the facts a summary groups by.

use activitylog_client::RawEvent;
use activitylog_client::summary::Facts;
use futures::{Stream, StreamExt};

use crate::filter::Filter;
use crate::omitted::Omitted;

/// Hands the facts of every event of `events` that passes `filter` to
/// `add`; an event the filter cannot check (it does not decode) goes to
/// `omitted` instead. Stops at the first error: an incomplete count is
/// never a result.
pub async fn count<S, E>(
    mut events: S,
    filter: &Filter,
    omitted: &mut Omitted,
    mut add: impl FnMut(&Facts),
) -> Result<(), E>
where
    S: Stream<Item = Result<RawEvent, E>> + Unpin,
{
    while let Some(event) = events.next().await {
        let event = event?;
        if !filter.is_empty() {
            match event.decode() {
                Ok(activity) if filter.matches(&activity) => {}
                Ok(_) => continue,
                Err(_) => {
                    omitted.add(event.uuid().as_deref());
                    continue;
                }
            }
        }
        add(&Facts::of(&event));
    }
    Ok(())
}
