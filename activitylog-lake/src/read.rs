//! Reading a contract's entries back from a lake: only the committed
//! objects of the contract and the days of the range are read (partition
//! pruning by the manifest, no listing), each day in time order; of each
//! object, only the rows a [`Query`] may keep (row-group and row pruning on
//! the filter columns, see [`crate::narrow`]).
//!
//! Each read logs (at `info`, `activitylog -v`) how many entries it read
//! of how many the objects hold, and the row groups it skipped.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use activitylog_client::{Query, RawEvent};
use chrono::{DateTime, NaiveDate, Utc};
use futures::{Stream, StreamExt, TryStreamExt};

use crate::lake::Lake;
use crate::manifest::{Committed, Manifest};
use crate::narrow::{self, Scanned, Wanted};
use crate::{Error, Result, layout};

impl Lake {
    /// The entries of `contract` with a time in `[start, end)`, one page a
    /// day, in time order (then `@uuid`). `query` narrows the read: every
    /// entry that matches it is returned, and perhaps others (see
    /// [`Query`]); the rows it rules out are never parsed.
    pub fn pages<'a>(
        &'a self,
        manifest: &'a Manifest,
        contract: u64,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        query: &Query,
    ) -> impl Stream<Item = Result<Vec<RawEvent>>> + 'a {
        let (first, last) = (start.date_naive(), end.date_naive());
        let mut days: BTreeMap<NaiveDate, Vec<&'a Committed>> = BTreeMap::new();
        for object in &manifest.objects {
            if let Some(day) = object.day
                && object.contract == contract
                && (first..=last).contains(&day)
            {
                days.entry(day).or_default().push(object);
            }
        }
        let query = Arc::new(query.clone());
        let total = Arc::new(Mutex::new(Scanned::default()));
        let tally = Arc::clone(&total);
        futures::stream::iter(days.into_values())
            .then(move |objects| {
                let query = Arc::clone(&query);
                async move {
                    let wanted = Wanted {
                        query: &query,
                        range: Some((start, end)),
                        uuid: None,
                    };
                    self.read_all(objects, wanted).await
                }
            })
            .map_ok(move |(mut events, scanned)| {
                if let Ok(mut total) = tally.lock() {
                    *total += scanned;
                }
                events.retain(|e| e.time().is_some_and(|t| start <= t && t < end));
                sort(&mut events);
                events
            })
            .chain(futures::stream::once(async move {
                if let Ok(total) = total.lock() {
                    report(contract, "of the range", &total);
                }
                Ok(Vec::new())
            }))
            .try_filter(|events| futures::future::ready(!events.is_empty()))
    }

    /// The entries of `contract` without a readable time, in `@uuid` order,
    /// narrowed by `query` as [`Lake::pages`] narrows.
    pub async fn untimed(
        &self,
        manifest: &Manifest,
        contract: u64,
        query: &Query,
    ) -> Result<Vec<RawEvent>> {
        let objects = manifest
            .objects
            .iter()
            .filter(|o| o.contract == contract && o.day.is_none())
            .collect();
        let wanted = Wanted {
            query,
            range: None,
            uuid: None,
        };
        let (mut events, scanned) = self.read_all(objects, wanted).await?;
        report(contract, "without a readable time", &scanned);
        sort(&mut events);
        Ok(events)
    }

    /// The entry of `contract` with this `@uuid`, if the lake holds it: of
    /// each object of the contract, the `uuid` column is read (row groups
    /// whose min/max leave it out are skipped), and the `raw` of the one
    /// row that has it.
    pub async fn entry(
        &self,
        manifest: &Manifest,
        contract: u64,
        uuid: &str,
    ) -> Result<Option<RawEvent>> {
        let query = Query::default();
        let wanted = Wanted {
            query: &query,
            range: None,
            uuid: Some(uuid),
        };
        let mut scanned = Scanned::default();
        for object in manifest.objects.iter().filter(|o| o.contract == contract) {
            let (events, one) = self.read_all(vec![object], wanted).await?;
            scanned += one;
            if let Some(event) = events.into_iter().next() {
                report(contract, "for one @uuid", &scanned);
                return Ok(Some(event));
            }
        }
        report(contract, "for one @uuid", &scanned);
        Ok(None)
    }

    /// The entries of `objects` that `wanted` may keep, read from where
    /// readers see them (or from `_staging/` while a crashed sync's commit
    /// is not published yet).
    async fn read_all(
        &self,
        objects: Vec<&Committed>,
        wanted: Wanted<'_>,
    ) -> Result<(Vec<RawEvent>, Scanned)> {
        let mut events = Vec::new();
        let mut scanned = Scanned::default();
        for object in objects {
            let bytes = match self.store.get(&object.key).await? {
                Some(bytes) => bytes,
                None => self
                    .store
                    .get(&layout::staged_key(&object.key))
                    .await?
                    .ok_or_else(|| Error::Missing(object.key.clone()))?,
            };
            let (read, one) = narrow::read(bytes, &wanted)?;
            events.extend(read);
            scanned += one;
        }
        Ok((events, scanned))
    }
}

/// Logs what a read of `contract`'s entries (`what`) did.
fn report(contract: u64, what: &str, scanned: &Scanned) {
    tracing::info!("the lake, contract {contract}, entries {what}: {scanned}");
}

fn sort(events: &mut [RawEvent]) {
    events.sort_by_cached_key(|e| (e.time(), e.uuid().map(|u| u.into_owned())));
}
