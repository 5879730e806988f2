//! The plain-text changelog `activitylog-codegen diff` prints: one change a
//! line, breaking changes first.
//!
//! ```text
//! Breaking:
//! - `getByContract`: query parameter `dateStart` removed
//!
//! Additions:
//! - `getByContract`: query parameter `startDate` added (string, optional)
//! ```

use std::fmt::Write as _;

use crate::diff::{Change, Impact};
use crate::wire::RuleMissing;

/// What [`render`] prints when the API did not change.
pub const NO_CHANGES: &str = "no changes to the API";

/// The groups of a changelog, in order, with their headings.
pub const GROUPS: [(Impact, &str); 3] = [
    (Impact::Breaking, "Breaking:"),
    (Impact::Addition, "Additions:"),
    (Impact::Compatible, "Compatible changes:"),
];

/// Renders `changes` (in the order given within each group; [`crate::diff::compare`]
/// sorts them) under the headings of [`GROUPS`], or [`NO_CHANGES`], then
/// the wire rules that no longer find their target in the new spec, if any.
pub fn render(changes: &[Change], missing_rules: &[RuleMissing]) -> String {
    let mut out = String::new();
    if changes.is_empty() {
        out.push_str(NO_CHANGES);
        out.push('\n');
    }
    for (impact, heading) in GROUPS {
        let mut group = changes.iter().filter(|change| change.impact() == impact);
        let Some(first) = group.next() else {
            continue;
        };
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(heading);
        out.push('\n');
        for change in std::iter::once(first).chain(group) {
            // Writing to a String cannot fail.
            let _ = writeln!(out, "- {change}");
        }
    }
    if !missing_rules.is_empty() {
        out.push_str(
            "\nWire rules without a target in the new spec (codegen fails until each is \
             removed or updated):\n",
        );
        for missing in missing_rules {
            let _ = writeln!(out, "- {missing}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::{ChangeKind, Subject};

    fn change(name: &str, kind: ChangeKind) -> Change {
        Change {
            subject: Subject::Type { name: name.into() },
            kind,
        }
    }

    #[test]
    fn nothing_changed() {
        assert_eq!(render(&[], &[]), "no changes to the API\n");
    }

    #[test]
    fn groups_in_order_and_empty_ones_left_out() {
        let changes = [
            change("Gone", ChangeKind::Removed),
            change(
                "New",
                ChangeKind::Added {
                    ty: None,
                    required: None,
                },
            ),
        ];
        let missing = [RuleMissing {
            rule: "event_uuid",
            target: "the object `Activity`",
        }];
        assert_eq!(
            render(&changes, &missing),
            "Breaking:\n- type `Gone` removed\n\nAdditions:\n- type `New` added\n\n\
             Wire rules without a target in the new spec (codegen fails until each is removed \
             or updated):\n- wire rule `event_uuid`: the object `Activity` is not in the spec \
             any more; remove or update the rule\n"
        );
    }
}
