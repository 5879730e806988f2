//! `--grep`: a regular expression, matched ignoring case.

use std::fmt;
use std::str::FromStr;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Compiled regexes may use at most this much memory (a hostile or careless
/// pattern is refused instead of exhausting memory).
const SIZE_LIMIT: usize = 10 * 1024 * 1024;

/// A compiled `--grep` pattern; compared and serialized as its text.
#[derive(Clone, Debug)]
pub struct Pattern {
    regex: Regex,
}

impl Pattern {
    /// Whether the pattern matches anywhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }

    /// The pattern as given.
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }
}

impl FromStr for Pattern {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        RegexBuilder::new(text)
            .case_insensitive(true)
            .size_limit(SIZE_LIMIT)
            .build()
            .map(|regex| Pattern { regex })
            .map_err(|error| {
                let reason = error.to_string();
                // The regex crate explains over several lines; keep the last, the reason.
                let reason = reason
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("invalid")
                    .trim()
                    .trim_start_matches("error: ");
                format!("`{text}` is not a regular expression: {reason}")
            })
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Pattern {}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_anywhere_ignoring_case() {
        let pattern: Pattern = "servers/[a-f0-9-]+$".parse().unwrap();
        assert!(pattern.is_match("/cloudapi/v6/datacenters/d/SERVERS/ab-12"));
        assert!(!pattern.is_match("/cloudapi/v6/datacenters/d/servers/ab-12/nics"));
    }

    #[test]
    fn a_bad_pattern_is_one_line_naming_it() {
        for bad in ["(", "[a-", "a{2,1}", "\\"] {
            let error = bad.parse::<Pattern>().unwrap_err();
            assert!(error.contains("not a regular expression"), "{error}");
            assert!(error.contains(bad), "{error}");
            assert_eq!(error.lines().count(), 1, "{error}");
        }
    }

    #[test]
    fn serializes_as_its_text() {
        let pattern: Pattern = "a|b,c".parse().unwrap();
        let json = serde_json::to_string(&pattern).unwrap();
        assert_eq!(json, "\"a|b,c\"");
        assert_eq!(serde_json::from_str::<Pattern>(&json).unwrap(), pattern);
        assert!(serde_json::from_str::<Pattern>("\"(\"").is_err());
    }
}
