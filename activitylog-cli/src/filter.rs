//! Client-side filters on downloaded events.
//!
//! Values of one filter are alternatives (`--type A --type B` keeps either);
//! different filters must all match. Comparisons ignore ASCII case, except
//! `--action`, a case-insensitive prefix of any resource action.

use activitylog_client::types::Activity;
use serde::{Deserialize, Serialize};

/// The filters of one `entries` run. Serialized into checkpoints, so that a
/// resumed export keeps the same selection.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// Keep events whose `event.type` is one of these.
    pub types: Vec<String>,
    /// Drop events whose `event.type` is one of these.
    pub exclude_types: Vec<String>,
    /// Keep events by one of these users (`principal.identity.username`).
    pub users: Vec<String>,
    /// Keep events whose `event.status` is one of these.
    pub statuses: Vec<String>,
    /// Keep events touching a resource of one of these types.
    pub resource_types: Vec<String>,
    /// Keep events with a resource action starting with one of these.
    pub actions: Vec<String>,
}

impl Filter {
    /// True when every event passes, so events need not even be decoded.
    pub fn is_empty(&self) -> bool {
        self.types.is_empty()
            && self.exclude_types.is_empty()
            && self.users.is_empty()
            && self.statuses.is_empty()
            && self.resource_types.is_empty()
            && self.actions.is_empty()
    }

    /// Whether `activity` passes every filter.
    pub fn matches(&self, activity: &Activity) -> bool {
        let event = activity.event.as_ref();
        let event_type = event.and_then(|e| e.type_.as_deref());
        let status = event.and_then(|e| e.status.as_ref()).map(|s| s.as_str());
        let user = activity
            .principal
            .as_ref()
            .and_then(|p| p.identity.as_ref())
            .and_then(|i| i.username.as_deref());
        let resources = event
            .and_then(|e| e.resources.as_deref())
            .unwrap_or_default();

        one_of(&self.types, event_type)
            && !event_type
                .is_some_and(|t| self.exclude_types.iter().any(|x| x.eq_ignore_ascii_case(t)))
            && one_of(&self.users, user)
            && one_of(&self.statuses, status.as_deref())
            && (self.resource_types.is_empty()
                || resources
                    .iter()
                    .any(|r| one_of(&self.resource_types, r.type_.as_deref())))
            && (self.actions.is_empty()
                || resources
                    .iter()
                    .flat_map(|r| r.action.as_deref().unwrap_or_default())
                    .any(|action| {
                        self.actions
                            .iter()
                            .any(|prefix| starts_with_ignore_case(action, prefix))
                    }))
    }
}

/// True when `wanted` is empty (no filter) or `value` equals one of them.
fn one_of(wanted: &[String], value: Option<&str>) -> bool {
    wanted.is_empty() || value.is_some_and(|v| wanted.iter().any(|w| w.eq_ignore_ascii_case(v)))
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.is_char_boundary(prefix.len())
        && text[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(json: &str) -> Activity {
        serde_json::from_str(json).unwrap()
    }

    fn create_server() -> Activity {
        event(
            r#"{"@uuid":"1","principal":{"identity":{"username":"alice@example.com"}},
                "event":{"type":"RequestAccepted","status":"DONE",
                         "resources":[{"type":"server","id":"s","action":["vr.server.create"]},
                                      {"type":"datacenter","id":"d","action":["vr.datacenter.update"]}]}}"#,
        )
    }

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| v.to_string()).collect()
    }

    #[test]
    fn no_filter_keeps_everything() {
        assert!(Filter::default().is_empty());
        assert!(Filter::default().matches(&create_server()));
        assert!(Filter::default().matches(&event("{}")));
    }

    #[test]
    fn values_of_one_filter_are_alternatives() {
        let filter = Filter {
            types: strings(&["Provision", "requestaccepted"]),
            ..Filter::default()
        };
        assert!(!filter.is_empty());
        assert!(filter.matches(&create_server()));
        let filter = Filter {
            types: strings(&["Provision"]),
            ..Filter::default()
        };
        assert!(!filter.matches(&create_server()));
    }

    #[test]
    fn different_filters_must_all_match() {
        let both = Filter {
            users: strings(&["ALICE@example.com"]),
            statuses: strings(&["done"]),
            ..Filter::default()
        };
        assert!(both.matches(&create_server()));
        let wrong_status = Filter {
            statuses: strings(&["FAILED"]),
            ..both.clone()
        };
        assert!(!wrong_status.matches(&create_server()));
    }

    #[test]
    fn exclude_type_drops_only_that_type() {
        let filter = Filter {
            exclude_types: strings(&["RequestAccepted"]),
            ..Filter::default()
        };
        assert!(!filter.matches(&create_server()));
        assert!(filter.matches(&event(r#"{"event":{"type":"Provision"}}"#)));
        assert!(
            filter.matches(&event("{}")),
            "an event without type is not excluded"
        );
    }

    #[test]
    fn resource_type_matches_any_resource() {
        let filter = Filter {
            resource_types: strings(&["Datacenter"]),
            ..Filter::default()
        };
        assert!(filter.matches(&create_server()));
        let filter = Filter {
            resource_types: strings(&["volume"]),
            ..Filter::default()
        };
        assert!(!filter.matches(&create_server()));
    }

    #[test]
    fn action_is_a_prefix_of_any_resource_action() {
        for (prefix, expected) in [
            ("vr.", true),
            ("vr.datacenter", true),
            ("VR.SERVER.CREATE", true),
            ("sec.", false),
            ("vr.server.create.more", false),
        ] {
            let filter = Filter {
                actions: strings(&[prefix]),
                ..Filter::default()
            };
            assert_eq!(filter.matches(&create_server()), expected, "{prefix}");
        }
    }

    #[test]
    fn missing_fields_do_not_match_positive_filters() {
        let bare = event(r#"{"event":{"resources":null}}"#);
        for filter in [
            Filter {
                types: strings(&["x"]),
                ..Filter::default()
            },
            Filter {
                users: strings(&["x"]),
                ..Filter::default()
            },
            Filter {
                statuses: strings(&["x"]),
                ..Filter::default()
            },
            Filter {
                resource_types: strings(&["x"]),
                ..Filter::default()
            },
            Filter {
                actions: strings(&["x"]),
                ..Filter::default()
            },
        ] {
            assert!(!filter.matches(&bare), "{filter:?}");
        }
    }

    #[test]
    fn unknown_statuses_are_compared_verbatim() {
        let cancelled = event(r#"{"event":{"status":"CANCELLED"}}"#);
        let filter = Filter {
            statuses: strings(&["cancelled"]),
            ..Filter::default()
        };
        assert!(filter.matches(&cancelled));
    }

    #[test]
    fn prefix_check_is_safe_on_multibyte_text() {
        assert!(!starts_with_ignore_case("é", "\u{65}"));
        assert!(starts_with_ignore_case("éa", "é"));
    }
}
