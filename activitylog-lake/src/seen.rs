//! The entries a sync has seen, told apart as [`codec::identity`] does,
//! kept compactly: a sync of a million entries holds a million identities.

use std::collections::HashSet;

use activitylog_client::RawEvent;

use crate::codec;

/// A set of entry identities: each `@uuid` in the canonical form
/// (lowercase, hyphenated) as its 128-bit number, anything else as text.
/// Both forms map one to one onto the text identity, so the set answers
/// exactly as a set of texts would.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    uuids: HashSet<u128>,
    others: HashSet<String>,
}

impl Seen {
    /// Adds `event`'s identity; false when it was there already.
    pub(crate) fn insert(&mut self, event: &RawEvent) -> bool {
        if let Some(uuid) = event.uuid()
            && let Some(number) = canonical(&uuid)
        {
            return self.uuids.insert(number);
        }
        self.others.insert(codec::identity(event))
    }

    /// How many identities it holds.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.uuids.len() + self.others.len()
    }
}

/// The number of a UUID written as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`
/// in lowercase hex; `None` for any other text (kept as text, so that two
/// texts are never taken for one).
fn canonical(text: &str) -> Option<u128> {
    let bytes = text.as_bytes();
    if bytes.len() != 36 {
        return None;
    }
    let mut number: u128 = 0;
    for (i, &byte) in bytes.iter().enumerate() {
        let digit = match (i, byte) {
            (8 | 13 | 18 | 23, b'-') => continue,
            (8 | 13 | 18 | 23, _) => return None,
            (_, b'0'..=b'9') => byte - b'0',
            (_, b'a'..=b'f') => byte - b'a' + 10,
            _ => return None,
        };
        number = (number << 4) | u128::from(digit);
    }
    Some(number)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(uuid: &str) -> RawEvent {
        RawEvent::parse(&format!(
            r#"{{"@uuid":"{uuid}","meta":{{"time":"2024-05-01T00:00:00Z"}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn tells_entries_apart_as_their_text_identities_do() {
        let mut seen = Seen::default();
        let a = "5b1a0c3e-1d2f-4a5b-8c7d-9e0f1a2b3c4d";
        assert!(seen.insert(&event(a)));
        assert!(!seen.insert(&event(a)), "the same uuid twice");
        // Texts that a looser reading would take for `a` stay apart.
        for other in [
            "5B1A0C3E-1D2F-4A5B-8C7D-9E0F1A2B3C4D",
            "5b1a0c3e1d2f4a5b8c7d9e0f1a2b3c4d",
            "{5b1a0c3e-1d2f-4a5b-8c7d-9e0f1a2b3c4d}",
            "5b1a0c3e-1d2f-4a5b-8c7d-9e0f1a2b3c4",
            "not-a-uuid",
        ] {
            assert!(seen.insert(&event(other)), "{other} taken for another");
            assert!(!seen.insert(&event(other)), "{other} twice");
        }
        assert!(seen.insert(&event("5b1a0c3e-1d2f-4a5b-8c7d-9e0f1a2b3c4e")));
        let untimed = RawEvent::parse(r#"{"meta":{}}"#).unwrap();
        assert!(
            seen.insert(&untimed),
            "an entry without a uuid, by its text"
        );
        assert!(!seen.insert(&untimed));
        assert_eq!(seen.len(), 8);
    }

    #[test]
    fn reads_the_canonical_form_only() {
        assert_eq!(
            canonical("00000000-0000-0000-0000-00000000001f"),
            Some(0x1f)
        );
        assert_eq!(
            canonical("ffffffff-ffff-ffff-ffff-ffffffffffff"),
            Some(u128::MAX)
        );
        assert_eq!(canonical("0000000000000-0000-0000-00000000001f"), None);
        assert_eq!(canonical("00000000-0000-0000-0000-00000000001g"), None);
    }
}
