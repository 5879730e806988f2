//! Client-side filters on downloaded events.
//!
//! Values of one filter are alternatives (`--type A --type B` keeps either);
//! different filters must all match. Comparisons ignore ASCII case, except
//! `--action`, a case-insensitive prefix of any resource action,
//! `--source-ip`, an address or CIDR block ([`network`]), and `--grep`, a
//! regular expression ([`pattern`]).

pub mod network;
pub mod pattern;

use activitylog_client::types::Activity;
use serde::{Deserialize, Serialize};

pub use network::Network;
pub use pattern::Pattern;

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
    /// Keep events touching a resource with one of these ids (`event.resources[].id`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_ids: Vec<String>,
    /// Keep events sent from an address in one of these blocks (`principal.sourceIP`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_ips: Vec<Network>,
    /// Keep events whose `meta.requestId` is one of these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request_ids: Vec<String>,
    /// Drop events by one of these users.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_users: Vec<String>,
    /// Keep events whose `event.param.uri` or `event.message` one of these matches.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grep: Vec<Pattern>,
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
            && self.resource_ids.is_empty()
            && self.source_ips.is_empty()
            && self.request_ids.is_empty()
            && self.exclude_users.is_empty()
            && self.grep.is_empty()
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
        let source_ip = activity
            .principal
            .as_ref()
            .and_then(|p| p.source_ip.as_deref());
        let request_id = activity.meta.as_ref().and_then(|m| m.request_id.as_deref());
        let uri = event
            .and_then(|e| e.param.as_ref())
            .and_then(|p| p.uri.as_deref());
        let message = event.and_then(|e| e.message.as_deref());

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
            && (self.resource_ids.is_empty()
                || resources
                    .iter()
                    .any(|r| one_of(&self.resource_ids, r.id.as_deref())))
            && (self.source_ips.is_empty()
                || source_ip.is_some_and(|ip| self.source_ips.iter().any(|n| n.contains_text(ip))))
            && one_of(&self.request_ids, request_id)
            && !user.is_some_and(|u| self.exclude_users.iter().any(|x| x.eq_ignore_ascii_case(u)))
            && (self.grep.is_empty()
                || self.grep.iter().any(|pattern| {
                    uri.is_some_and(|t| pattern.is_match(t))
                        || message.is_some_and(|t| pattern.is_match(t))
                }))
    }
}

impl Filter {
    /// What an archive read can narrow by before these filters run
    /// (everything but `--source-ip` and `--grep`); the filters still
    /// decide which entries are kept.
    pub fn query(&self) -> activitylog_archive::Query {
        activitylog_archive::Query {
            users: self.users.clone(),
            exclude_users: self.exclude_users.clone(),
            types: self.types.clone(),
            exclude_types: self.exclude_types.clone(),
            statuses: self.statuses.clone(),
            resource_types: self.resource_types.clone(),
            resource_ids: self.resource_ids.clone(),
            action_prefixes: self.actions.clone(),
            request_ids: self.request_ids.clone(),
        }
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

    fn detailed() -> Activity {
        event(
            r#"{"@uuid":"2","meta":{"requestId":"REQ-1"},
                "principal":{"sourceIP":"2001:db8::7","identity":{"username":"bob@example.com"}},
                "event":{"message":"Server created","param":{"uri":"/cloudapi/v6/datacenters/d/servers"},
                         "resources":[{"type":"server","id":"S-1"},{"type":"nic","id":"n-2"}]}}"#,
        )
    }

    #[test]
    fn new_filters_match_their_fields() {
        let cases: Vec<(Filter, bool)> = vec![
            (
                Filter {
                    resource_ids: strings(&["s-1"]),
                    ..Filter::default()
                },
                true,
            ),
            (
                Filter {
                    resource_ids: strings(&["x", "N-2"]),
                    ..Filter::default()
                },
                true,
            ),
            (
                Filter {
                    resource_ids: strings(&["s"]),
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    source_ips: vec!["2001:db8::/32".parse().unwrap()],
                    ..Filter::default()
                },
                true,
            ),
            (
                Filter {
                    source_ips: vec!["192.0.2.0/24".parse().unwrap()],
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    request_ids: strings(&["req-1"]),
                    ..Filter::default()
                },
                true,
            ),
            (
                Filter {
                    request_ids: strings(&["req-2"]),
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    exclude_users: strings(&["BOB@example.com"]),
                    ..Filter::default()
                },
                false,
            ),
            (
                Filter {
                    exclude_users: strings(&["alice@example.com"]),
                    ..Filter::default()
                },
                true,
            ),
            (
                Filter {
                    grep: vec!["servers$".parse().unwrap()],
                    ..Filter::default()
                },
                true,
            ),
            (
                Filter {
                    grep: vec!["^server CREATED$".parse().unwrap()],
                    ..Filter::default()
                },
                true,
            ),
            (
                Filter {
                    grep: vec!["volume".parse().unwrap(), "nic".parse().unwrap()],
                    ..Filter::default()
                },
                false,
            ),
        ];
        for (filter, expected) in cases {
            assert!(!filter.is_empty());
            assert_eq!(filter.matches(&detailed()), expected, "{filter:?}");
        }
    }

    #[test]
    fn new_filters_combine_with_the_others() {
        let filter = Filter {
            users: strings(&["bob@example.com"]),
            resource_ids: strings(&["S-1"]),
            grep: vec!["servers".parse().unwrap()],
            ..Filter::default()
        };
        assert!(filter.matches(&detailed()));
        let filter = Filter {
            request_ids: strings(&["other"]),
            ..filter
        };
        assert!(!filter.matches(&detailed()));
    }

    #[test]
    fn missing_fields_fail_the_new_positive_filters_and_pass_exclude_user() {
        let bare = event("{}");
        assert!(
            !Filter {
                resource_ids: strings(&["x"]),
                ..Filter::default()
            }
            .matches(&bare)
        );
        assert!(
            !Filter {
                source_ips: vec!["::/0".parse().unwrap()],
                ..Filter::default()
            }
            .matches(&bare)
        );
        assert!(
            !Filter {
                request_ids: strings(&["x"]),
                ..Filter::default()
            }
            .matches(&bare)
        );
        assert!(
            !Filter {
                grep: vec![".*".parse().unwrap()],
                ..Filter::default()
            }
            .matches(&bare)
        );
        assert!(
            Filter {
                exclude_users: strings(&["x"]),
                ..Filter::default()
            }
            .matches(&bare)
        );
    }

    #[test]
    fn old_checkpoints_without_the_new_filters_still_load() {
        let old = r#"{"types":[],"exclude_types":[],"users":["a"],"statuses":[],"resource_types":[],"actions":[]}"#;
        let filter: Filter = serde_json::from_str(old).unwrap();
        assert_eq!(filter.users, ["a"]);
        assert_eq!(serde_json::to_string(&filter).unwrap(), old);
        let new = Filter {
            source_ips: vec!["192.0.2.0/24".parse().unwrap()],
            grep: vec!["a,b".parse().unwrap()],
            ..Filter::default()
        };
        let json = serde_json::to_string(&new).unwrap();
        assert_eq!(serde_json::from_str::<Filter>(&json).unwrap(), new);
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
