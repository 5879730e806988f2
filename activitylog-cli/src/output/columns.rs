//! `--columns a,b,c`: which of the CSV columns the table and CSV show.

use std::fmt;
use std::str::FromStr;

/// The CSV columns, each with the event field it holds.
pub const COLUMNS: &[(&str, &str)] = &[
    (
        "time",
        "meta.time, as sent (RFC 3339, UTC; --tz/--local convert it)",
    ),
    ("uuid", "@uuid"),
    ("contract", "principal.identity.contractNumber"),
    ("user", "principal.identity.username"),
    ("source_ip", "principal.sourceIP"),
    ("source_service", "principal.sourceService"),
    ("type", "event.type"),
    ("status", "event.status"),
    ("method", "event.param.action (the HTTP method)"),
    ("uri", "event.param.uri"),
    ("resource_types", "event.resources[].type, joined by ';'"),
    (
        "resource_ids",
        "event.resources[].id, joined by ';' (same order)",
    ),
    ("actions", "every event.resources[].action[], joined by ';'"),
    ("error_code", "event.param.errorCode"),
    ("message", "event.message"),
    ("request_id", "meta.requestId"),
];

/// A choice of columns, by their CSV header names, in the order given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Columns {
    /// Indexes into [`COLUMNS`].
    picked: Vec<usize>,
}

impl Columns {
    /// Every column, in [`COLUMNS`] order (CSV's default).
    pub fn all() -> Self {
        Columns {
            picked: (0..COLUMNS.len()).collect(),
        }
    }

    /// The picked indexes into [`COLUMNS`], in order.
    pub fn indexes(&self) -> &[usize] {
        &self.picked
    }

    /// The picked names, in order.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.picked
            .iter()
            .filter_map(|&i| COLUMNS.get(i))
            .map(|(name, _)| *name)
    }

    /// The valid names, for messages.
    pub fn valid_names() -> String {
        COLUMNS
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl FromStr for Columns {
    type Err = String;

    /// `time,user,uri`: names separated by commas, case ignored; at least one.
    fn from_str(text: &str) -> Result<Self, String> {
        let mut picked = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let index = COLUMNS
                .iter()
                .position(|(known, _)| known.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    format!(
                        "`{name}` is not a column: use some of {}",
                        Columns::valid_names()
                    )
                })?;
            picked.push(index);
        }
        if picked.is_empty() {
            return Err(format!(
                "--columns needs at least one of {}",
                Columns::valid_names()
            ));
        }
        Ok(Columns { picked })
    }
}

impl fmt::Display for Columns {
    /// The names joined by commas, as `--columns` takes them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().collect::<Vec<_>>().join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_picked_in_the_order_given() {
        let columns: Columns = " USER, time ,uri".parse().unwrap();
        assert_eq!(columns.names().collect::<Vec<_>>(), ["user", "time", "uri"]);
        assert_eq!(columns.to_string(), "user,time,uri");
        assert_eq!(columns.indexes(), [3, 0, 9]);
        assert_eq!(Columns::all().indexes().len(), COLUMNS.len());
    }

    #[test]
    fn unknown_or_no_names_are_refused_listing_the_valid_ones() {
        for bad in ["usr", "time,nope", "", " , "] {
            let error = bad.parse::<Columns>().unwrap_err();
            assert!(
                error.contains("source_ip, source_service"),
                "{bad}: {error}"
            );
            assert_eq!(error.lines().count(), 1);
        }
        assert!(
            "time,nope"
                .parse::<Columns>()
                .unwrap_err()
                .contains("`nope`")
        );
    }

    #[test]
    fn a_column_may_repeat() {
        let columns: Columns = "uuid,uuid".parse().unwrap();
        assert_eq!(columns.indexes(), [1, 1]);
    }
}
