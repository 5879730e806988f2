//! Reading a contract's entries back from a lake: only the committed
//! objects of the contract and the days of the range are read (partition
//! pruning by the manifest, no listing), each day in time order.

use std::collections::BTreeMap;

use activitylog_client::RawEvent;
use chrono::{DateTime, NaiveDate, Utc};
use futures::{Stream, StreamExt, TryStreamExt};

use crate::lake::Lake;
use crate::manifest::{Committed, Manifest};
use crate::{Error, Result, codec, layout};

impl Lake {
    /// The entries of `contract` with a time in `[start, end)`, one page a
    /// day, in time order (then `@uuid`).
    pub fn pages<'a>(
        &'a self,
        manifest: &'a Manifest,
        contract: u64,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
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
        futures::stream::iter(days.into_values())
            .then(move |objects| self.read_all(objects))
            .map_ok(move |mut events| {
                events.retain(|e| e.time().is_some_and(|t| start <= t && t < end));
                sort(&mut events);
                events
            })
            .try_filter(|events| futures::future::ready(!events.is_empty()))
    }

    /// The entries of `contract` without a readable time, in `@uuid` order.
    pub async fn untimed(&self, manifest: &Manifest, contract: u64) -> Result<Vec<RawEvent>> {
        let objects = manifest
            .objects
            .iter()
            .filter(|o| o.contract == contract && o.day.is_none())
            .collect();
        let mut events = self.read_all(objects).await?;
        sort(&mut events);
        Ok(events)
    }

    /// The entries of `objects`, read from where readers see them (or from
    /// `_staging/` while a crashed sync's commit is not published yet).
    async fn read_all(&self, objects: Vec<&Committed>) -> Result<Vec<RawEvent>> {
        let mut events = Vec::new();
        for object in objects {
            let bytes = match self.store.get(&object.key).await? {
                Some(bytes) => bytes,
                None => self
                    .store
                    .get(&layout::staged_key(&object.key))
                    .await?
                    .ok_or_else(|| Error::Missing(object.key.clone()))?,
            };
            events.extend(codec::events(bytes)?);
        }
        Ok(events)
    }
}

fn sort(events: &mut [RawEvent]) {
    events.sort_by_cached_key(|e| (e.time(), e.uuid().map(|u| u.into_owned())));
}
