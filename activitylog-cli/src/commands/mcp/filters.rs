//! The CLI's filters (`--user`, `--type`, ...) as tool arguments: the same
//! [`Filter`], so that a tool and `entries` select the same entries.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::filter::Filter;

/// One value or several (alternatives).
#[derive(Clone, Debug, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Values {
    /// One value.
    One(String),
    /// Several values: any of them matches.
    Many(Vec<String>),
}

impl Values {
    fn list(values: Option<&Values>) -> Vec<String> {
        let all = match values {
            None => Vec::new(),
            Some(Values::One(one)) => vec![one.clone()],
            Some(Values::Many(many)) => many.clone(),
        };
        all.into_iter()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect()
    }
}

/// Which entries count: every filter given must match; the values of one
/// filter are alternatives. Text comparisons ignore case.
#[derive(Clone, Debug, Default, Deserialize, JsonSchema)]
pub struct Filters {
    /// Keep entries by this user (e-mail address), or any of these.
    pub user: Option<Values>,
    /// Drop entries by this user, or any of these.
    pub exclude_user: Option<Values>,
    /// Keep entries of this event type (RequestAccepted, RequestStatusUpdate, Provision, ...).
    #[serde(rename = "type")]
    pub event_type: Option<Values>,
    /// Drop entries of this event type.
    pub exclude_type: Option<Values>,
    /// Keep entries with this status (DONE, FAILED, RUNNING, QUEUED, ...).
    pub status: Option<Values>,
    /// Keep entries with a resource action starting with this (`vr.` or `sec.user.create`).
    pub action: Option<Values>,
    /// Keep entries touching a resource of this type (server, datacenter, firewallrule, ...).
    pub resource_type: Option<Values>,
    /// Keep entries touching the resource with this id.
    pub resource_id: Option<Values>,
    /// Keep entries sent from this address or CIDR block (192.0.2.7, 192.0.2.0/24, 2001:db8::/32).
    pub source_ip: Option<Values>,
    /// Keep entries of this request id (meta.requestId).
    pub request_id: Option<Values>,
    /// Keep entries whose URI or message matches this regular expression (case ignored).
    pub text: Option<Values>,
}

/// Each value parsed; the first that does not parse is the error.
fn parsed<T: std::str::FromStr<Err = String>>(
    values: Option<&Values>,
    what: &str,
) -> Result<Vec<T>, String> {
    Values::list(values)
        .iter()
        .map(|v| v.parse().map_err(|e| format!("{what} `{v}`: {e}")))
        .collect()
}

impl Filters {
    /// The CLI's filter these arguments describe; a bad address or pattern
    /// is an error in one sentence.
    pub fn to_filter(&self) -> Result<Filter, String> {
        Ok(Filter {
            types: Values::list(self.event_type.as_ref()),
            exclude_types: Values::list(self.exclude_type.as_ref()),
            users: Values::list(self.user.as_ref()),
            statuses: Values::list(self.status.as_ref()),
            resource_types: Values::list(self.resource_type.as_ref()),
            actions: Values::list(self.action.as_ref()),
            resource_ids: Values::list(self.resource_id.as_ref()),
            source_ips: parsed(self.source_ip.as_ref(), "source_ip")?,
            request_ids: Values::list(self.request_id.as_ref()),
            exclude_users: Values::list(self.exclude_user.as_ref()),
            grep: parsed(self.text.as_ref(), "text")?,
        })
    }
}
