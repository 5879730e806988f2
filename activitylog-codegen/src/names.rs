//! Domain names for the schemas the upstream spec declares inline.
//!
//! The upstream document nests the whole event payload inside
//! `GetByContractResponse`; progenitor would name those types after their
//! path (`GetByContractResponseHitsHitsItemSource...`). [`for_property`] and
//! [`for_item`] give them names from the domain instead, and derive a
//! readable fallback for anything a future spec adds, so an update never
//! breaks the build.

/// Components renamed outright: `(upstream name, domain name)`.
pub const RENAMED_COMPONENTS: &[(&str, &str)] = &[("GetByContractResponse", "ActivityPage")];

/// Inline schemas under an object property: `(parent, property, name)`.
const PROPERTY_NAMES: &[(&str, &str, &str)] = &[
    ("ActivityPage", "hits", "Hits"),
    ("Hit", "_source", "Activity"),
    ("Activity", "principal", "Principal"),
    ("Activity", "meta", "Meta"),
    ("Activity", "event", "Event"),
    ("Principal", "identity", "Identity"),
    ("Event", "param", "EventParam"),
    ("Event", "status", "EventStatus"),
    ("EventParam", "error", "EventError"),
    ("EventParam", "action", "HttpMethod"),
];

/// Inline schemas of array items under a property: `(parent, property, name)`.
const ITEM_NAMES: &[(&str, &str, &str)] = &[
    ("Hits", "hits", "Hit"),
    ("Event", "resources", "Resource"),
    ("EventError", "messages", "ErrorMessage"),
];

/// The component name for the inline schema of `parent.property`.
pub fn for_property(parent: &str, property: &str) -> String {
    lookup(PROPERTY_NAMES, parent, property)
        .unwrap_or_else(|| format!("{parent}{}", pascal_case(property)))
}

/// The component name for the inline item schema of the array `parent.property`.
pub fn for_item(parent: &str, property: &str) -> String {
    lookup(ITEM_NAMES, parent, property)
        .unwrap_or_else(|| format!("{parent}{}Item", pascal_case(property)))
}

fn lookup(table: &[(&str, &str, &str)], parent: &str, property: &str) -> Option<String> {
    table
        .iter()
        .find(|(p, prop, _)| *p == parent && *prop == property)
        .map(|(_, _, name)| (*name).to_string())
}

/// `"_source"` → `"Source"`, `"@uuid"` → `"Uuid"`, `"queue-ref_id"` → `"QueueRefId"`.
pub fn pascal_case(raw: &str) -> String {
    raw.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `base`, or `base2`, `base3`, ... : the first name `taken` does not hold.
pub fn unique(base: String, taken: impl Fn(&str) -> bool) -> String {
    if !taken(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}{n}"))
        .find(|candidate| !taken(candidate))
        .expect("an unbounded range always yields a free name")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_inline_schemas_get_domain_names() {
        assert_eq!(for_property("Hit", "_source"), "Activity");
        assert_eq!(for_item("Event", "resources"), "Resource");
    }

    #[test]
    fn unknown_inline_schemas_get_derived_names() {
        assert_eq!(
            for_property("Activity", "geoLocation"),
            "ActivityGeoLocation"
        );
        assert_eq!(for_item("Event", "tags"), "EventTagsItem");
        assert_eq!(pascal_case("@uuid"), "Uuid");
    }

    #[test]
    fn unique_names_skip_taken_ones() {
        let taken = ["Meta", "Meta2"];
        assert_eq!(unique("Meta".into(), |n| taken.contains(&n)), "Meta3");
        assert_eq!(unique("Other".into(), |n| taken.contains(&n)), "Other");
    }
}
