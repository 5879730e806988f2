//! Entries an export could not show: an entry that does not decode cannot
//! be a table row or a CSV row, nor be checked against a filter. It is never
//! dropped silently: the export writes every other entry, then fails with one
//! line that counts them and names the first few by `@uuid`. Checkpoints
//! carry the tally, so a resumed export reports those of earlier runs too.

use serde::{Deserialize, Serialize};

use crate::error::Failure;
use crate::output::Format;

/// How many `@uuid`s the message names.
pub const NAMED: usize = 5;

/// The entries left out so far.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Omitted {
    /// How many.
    pub count: u64,
    /// The `@uuid`s of the first [`NAMED`] that have one.
    pub uuids: Vec<String>,
}

impl Omitted {
    /// Counts one more, named by its `@uuid` if it has one.
    pub fn add(&mut self, uuid: Option<&str>) {
        self.count += 1;
        if let Some(uuid) = uuid
            && self.uuids.len() < NAMED
        {
            self.uuids.push(uuid.to_string());
        }
    }

    /// True when nothing was left out.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The failure that reports them: why they could not be shown (in
    /// `format`, or for the filters), and that `destination` (`the output`,
    /// a file name) holds every other entry.
    pub fn failure(&self, format: Format, destination: &str) -> Failure {
        let one = self.count == 1;
        let what = if one {
            "1 entry".to_string()
        } else {
            format!("{} entries", self.count)
        };
        let why = if format.needs_decoding() {
            format!("cannot be shown as {}", format.name())
        } else {
            "cannot be checked against the filters".to_string()
        };
        let (they, verb) = if one { ("it", "does") } else { ("they", "do") };
        Failure::other(format!(
            "{what} {why}: {they} {verb} not decode ({}); {destination} has every other entry; \
             --format ndjson without filters keeps every entry as sent",
            self.names()
        ))
    }

    /// `@uuid a, b and 3 more`.
    fn names(&self) -> String {
        if self.uuids.is_empty() {
            return "no @uuid to name".to_string();
        }
        let mut names = format!("@uuid {}", self.uuids.join(", "));
        let more = self.count - self.uuids.len() as u64;
        if more > 0 {
            names.push_str(&format!(" and {more} more"));
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_entry_is_named() {
        let mut omitted = Omitted::default();
        assert!(omitted.is_empty());
        omitted.add(Some("e-2"));
        let message = omitted.failure(Format::Csv, "out.csv").message();
        assert_eq!(
            message,
            "1 entry cannot be shown as csv: it does not decode (@uuid e-2); out.csv has every \
             other entry; --format ndjson without filters keeps every entry as sent"
        );
    }

    #[test]
    fn many_entries_name_the_first_few_and_count_the_rest() {
        let mut omitted = Omitted::default();
        for i in 0..12 {
            omitted.add(Some(&format!("u{i}")));
        }
        omitted.add(None);
        assert_eq!(omitted.uuids.len(), NAMED);
        let failure = omitted.failure(Format::Ndjson, "the output");
        assert_eq!(failure.code(), crate::error::EXIT_FAILURE);
        let message = failure.message();
        assert!(message.starts_with("13 entries cannot be checked against the filters"));
        assert!(
            message.contains("@uuid u0, u1, u2, u3, u4 and 8 more"),
            "{message}"
        );
    }

    #[test]
    fn entries_without_uuid_are_still_counted() {
        let mut omitted = Omitted::default();
        omitted.add(None);
        let message = omitted.failure(Format::Table, "the output").message();
        assert!(
            message.contains("1 entry") && message.contains("no @uuid"),
            "{message}"
        );
    }
}
