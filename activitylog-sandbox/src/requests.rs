//! The request log: what was asked and what was answered.

use std::sync::Mutex;

use crate::faults::FaultKind;

/// One request the sandbox received, and how it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method, e.g. `GET`.
    pub method: String,
    /// Path and query string as sent, e.g. `/activitylog/v1/contracts/31721060?offset=0&limit=100`.
    pub target: String,
    /// Status sent; `None` when the connection was reset without an answer.
    pub status: Option<u16>,
    /// The injected fault, if any.
    pub fault: Option<FaultKind>,
}

impl RequestRecord {
    /// The path without the query string.
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The raw query string, if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// The first value of a query parameter, percent-decoded (`None` if absent or undecodable).
    pub fn query_param(&self, name: &str) -> Option<String> {
        crate::query::query_pairs(self.query()?)
            .ok()?
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }

    /// `offset` as sent, if present and a non-negative integer.
    pub fn offset(&self) -> Option<u64> {
        self.query_param("offset")?.parse().ok()
    }

    /// `limit` as sent (before any capping), if present and a non-negative integer.
    pub fn limit(&self) -> Option<u64> {
        self.query_param("limit")?.parse().ok()
    }
}

/// A thread-safe, optionally disabled list of [`RequestRecord`]s.
#[derive(Debug)]
pub(crate) struct RequestLog {
    enabled: bool,
    records: Mutex<Vec<RequestRecord>>,
}

impl RequestLog {
    /// A log that records only when `enabled`.
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            records: Mutex::new(Vec::new()),
        }
    }

    /// Appends a record.
    pub(crate) fn record(&self, record: RequestRecord) {
        if self.enabled {
            self.lock().push(record);
        }
    }

    /// A copy of all records so far.
    pub(crate) fn snapshot(&self) -> Vec<RequestRecord> {
        self.lock().clone()
    }

    /// Forgets all records.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RequestRecord>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_accessors() {
        let r = RequestRecord {
            method: "GET".into(),
            target:
                "/activitylog/v1/contracts/1?offset=20&limit=10&dateStart=2021-01-01T00%3A00%3A00Z"
                    .into(),
            status: Some(200),
            fault: None,
        };
        assert_eq!(r.path(), "/activitylog/v1/contracts/1");
        assert_eq!(r.offset(), Some(20));
        assert_eq!(r.limit(), Some(10));
        assert_eq!(
            r.query_param("dateStart").as_deref(),
            Some("2021-01-01T00:00:00Z")
        );
        assert_eq!(r.query_param("dateEnd"), None);
    }

    #[test]
    fn disabled_log_stays_empty() {
        let log = RequestLog::new(false);
        log.record(RequestRecord {
            method: "GET".into(),
            target: "/".into(),
            status: Some(404),
            fault: None,
        });
        assert!(log.snapshot().is_empty());
    }
}
