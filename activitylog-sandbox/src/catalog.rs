//! Static tables of realistic values, and how an event's attributes derive from its id.

use crate::data::{ContractLog, EventId, StoredEvent};
use crate::rng::{hash3, pick, unit};

/// One operation a principal can perform: resource action, HTTP method and URI.
#[derive(Debug)]
pub(crate) struct Operation {
    /// `<domain>.<resourceType>.<verb>`, e.g. `vr.server.create`.
    pub action: &'static str,
    /// The resource type, e.g. `server`.
    pub resource_type: &'static str,
    /// HTTP method of the originating request.
    pub method: &'static str,
    /// URI template; `{dc}` and `{id}` are replaced by the datacenter and resource ids.
    pub uri: &'static str,
}

const fn op(
    action: &'static str,
    resource_type: &'static str,
    method: &'static str,
    uri: &'static str,
) -> Operation {
    Operation {
        action,
        resource_type,
        method,
        uri,
    }
}

/// Operations recorded through the Cloud API, the DCD and the SDKs.
static OPERATIONS: &[Operation] = &[
    op(
        "vr.datacenter.create",
        "datacenter",
        "POST",
        "/cloudapi/v6/datacenters",
    ),
    op(
        "vr.datacenter.update",
        "datacenter",
        "PATCH",
        "/cloudapi/v6/datacenters/{id}",
    ),
    op(
        "vr.datacenter.delete",
        "datacenter",
        "DELETE",
        "/cloudapi/v6/datacenters/{id}",
    ),
    op(
        "vr.server.create",
        "server",
        "POST",
        "/cloudapi/v6/datacenters/{dc}/servers",
    ),
    op(
        "vr.server.update",
        "server",
        "PUT",
        "/cloudapi/v6/datacenters/{dc}/servers/{id}",
    ),
    op(
        "vr.server.start",
        "server",
        "POST",
        "/cloudapi/v6/datacenters/{dc}/servers/{id}/start",
    ),
    op(
        "vr.server.stop",
        "server",
        "POST",
        "/cloudapi/v6/datacenters/{dc}/servers/{id}/stop",
    ),
    op(
        "vr.server.reboot",
        "server",
        "POST",
        "/cloudapi/v6/datacenters/{dc}/servers/{id}/reboot",
    ),
    op(
        "vr.server.delete",
        "server",
        "DELETE",
        "/cloudapi/v6/datacenters/{dc}/servers/{id}",
    ),
    op(
        "vr.volume.create",
        "volume",
        "POST",
        "/cloudapi/v6/datacenters/{dc}/volumes",
    ),
    op(
        "vr.volume.update",
        "volume",
        "PATCH",
        "/cloudapi/v6/datacenters/{dc}/volumes/{id}",
    ),
    op(
        "vr.volume.delete",
        "volume",
        "DELETE",
        "/cloudapi/v6/datacenters/{dc}/volumes/{id}",
    ),
    op(
        "vr.nic.create",
        "nic",
        "POST",
        "/cloudapi/v6/datacenters/{dc}/servers/{id}/nics",
    ),
    op(
        "vr.firewallrule.create",
        "firewallrule",
        "POST",
        "/cloudapi/v6/datacenters/{dc}/servers/{id}/nics/{id}/firewallrules",
    ),
    op(
        "vr.firewallrule.delete",
        "firewallrule",
        "DELETE",
        "/cloudapi/v6/datacenters/{dc}/servers/{id}/nics/{id}/firewallrules/{id}",
    ),
    op(
        "vr.firewall.activate",
        "nic",
        "PATCH",
        "/cloudapi/v6/datacenters/{dc}/servers/{id}/nics/{id}",
    ),
    op(
        "vr.lan.create",
        "lan",
        "POST",
        "/cloudapi/v6/datacenters/{dc}/lans",
    ),
    op(
        "vr.loadbalancer.create",
        "loadbalancer",
        "POST",
        "/cloudapi/v6/datacenters/{dc}/loadbalancers",
    ),
    op(
        "vr.backupUnit.create",
        "backupUnit",
        "POST",
        "/cloudapi/v6/backupunits",
    ),
    op(
        "vr.backupUnit.delete",
        "backupUnit",
        "DELETE",
        "/cloudapi/v6/backupunits/{id}",
    ),
    op("sec.user.create", "user", "POST", "/cloudapi/v6/um/users"),
    op(
        "sec.user.update",
        "user",
        "PUT",
        "/cloudapi/v6/um/users/{id}",
    ),
    op(
        "sec.user.delete",
        "user",
        "DELETE",
        "/cloudapi/v6/um/users/{id}",
    ),
    op(
        "sec.group.create",
        "group",
        "POST",
        "/cloudapi/v6/um/groups",
    ),
    op(
        "sec.group.addUser",
        "group",
        "POST",
        "/cloudapi/v6/um/groups/{id}/users",
    ),
    op("sec.token.list", "token", "GET", "/auth/v1/tokens"),
    op(
        "sec.token.generate",
        "token",
        "GET",
        "/auth/v1/tokens/generate",
    ),
    op(
        "ip.ipblock.reserve",
        "ipblock",
        "POST",
        "/cloudapi/v6/ipblocks",
    ),
    op(
        "ip.ipblock.release",
        "ipblock",
        "DELETE",
        "/cloudapi/v6/ipblocks/{id}",
    ),
    op(
        "sn.snapshot.create",
        "snapshot",
        "POST",
        "/cloudapi/v6/datacenters/{dc}/volumes/{id}/create-snapshot",
    ),
    op(
        "sn.snapshot.restore",
        "snapshot",
        "POST",
        "/cloudapi/v6/datacenters/{dc}/volumes/{id}/restore-snapshot",
    ),
    op(
        "sn.snapshot.delete",
        "snapshot",
        "DELETE",
        "/cloudapi/v6/snapshots/{id}",
    ),
];

/// Operations behind `DCDUserEvent` events.
static DCD_USER_OPERATIONS: &[Operation] = &[
    op("sec.user.login", "user", "POST", "/dcd/api/login"),
    op("sec.user.logout", "user", "POST", "/dcd/api/logout"),
    op(
        "sec.user.changePassword",
        "user",
        "PUT",
        "/dcd/api/users/{id}/password",
    ),
];

/// `(principal.sourceService, weight)`.
static SOURCE_SERVICES: &[(&str, u32)] = &[
    ("PUBLIC_REST_V6", 45),
    ("DCD", 20),
    ("SDK_GO", 12),
    ("SDK_PYTHON", 6),
    ("Reseller_V1", 5),
    ("PUBLIC_REST_V5", 4),
    ("IONOSCTL", 4),
    ("SDK_JAVA", 4),
];

static API_HOSTS: &[&str] = &[
    "api-fra-1.cloud.ionos.internal",
    "api-fra-2.cloud.ionos.internal",
    "api-fkb-1.cloud.ionos.internal",
    "api-txl-1.cloud.ionos.internal",
];

static DCD_HOSTS: &[&str] = &[
    "dcd-fra-1.cloud.ionos.internal",
    "dcd-fkb-1.cloud.ionos.internal",
];

static RESELLER_HOSTS: &[&str] = &["reseller-fra-1.cloud.ionos.internal"];

/// An error an `Error` event reports.
#[derive(Debug)]
pub(crate) struct ErrorSpec {
    /// HTTP status as a string, e.g. `"422"`.
    pub http_status: &'static str,
    /// IONOS error code.
    pub error_code: &'static str,
    /// Human-readable message.
    pub message: &'static str,
}

static ERRORS: &[ErrorSpec] = &[
    ErrorSpec {
        http_status: "422",
        error_code: "100",
        message: "[VDC-5-1808] Attribute 'cores' must be a positive integer",
    },
    ErrorSpec {
        http_status: "422",
        error_code: "200",
        message: "[VDC-13-4] Resource quota exceeded: cores",
    },
    ErrorSpec {
        http_status: "400",
        error_code: "100",
        message: "[VDC-4-7] Malformed JSON: unexpected end of input",
    },
    ErrorSpec {
        http_status: "404",
        error_code: "309",
        message: "Resource does not exist",
    },
    ErrorSpec {
        http_status: "409",
        error_code: "310",
        message: "[VDC-8-1] Resource is locked by another provisioning request",
    },
    ErrorSpec {
        http_status: "403",
        error_code: "315",
        message: "Access denied: the user lacks the privilege for this operation",
    },
];

/// `event.type` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    RequestAccepted,
    RequestStatusUpdate,
    Provision,
    Error,
    DcdUserEvent,
}

impl EventType {
    /// The wire name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            EventType::RequestAccepted => "RequestAccepted",
            EventType::RequestStatusUpdate => "RequestStatusUpdate",
            EventType::Provision => "Provision",
            EventType::Error => "Error",
            EventType::DcdUserEvent => "DCDUserEvent",
        }
    }
}

// Salts: one per derived attribute.
const S_TYPE: u64 = 1;
const S_OP: u64 = 2;
const S_USER: u64 = 3;
const S_SERVICE: u64 = 4;
const S_HOST: u64 = 5;
const S_IP: u64 = 6;
const S_REQUEST: u64 = 7;
const S_TRANSACTION: u64 = 8;
const S_QUEUE: u64 = 9;
const S_RESOURCE: u64 = 10;
const S_DC: u64 = 11;
const S_STATUS: u64 = 12;
const S_ERROR: u64 = 13;
const RESOURCE_SALT: u64 = 0x0E50_0ECE;
/// How many distinct resources of each type a contract has.
const RESOURCE_POOL: u64 = 12;

/// A resource id: a UUID, or a short number (users, as in the API docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResourceId {
    Uuid(EventId),
    Number(u64),
}

/// Everything an event says, before it is laid out as JSON.
#[derive(Debug)]
pub(crate) struct EventDetails<'a> {
    pub id: EventId,
    pub time_ms: i64,
    pub contract_number: u64,
    pub username: &'a str,
    pub source_ip: String,
    pub source_service: &'static str,
    pub service_host: &'static str,
    pub request_id: EventId,
    pub transaction_id: EventId,
    pub queue_ref_id: u64,
    pub event_type: EventType,
    pub status: &'static str,
    /// The message, in parts to concatenate.
    pub message: [&'static str; 3],
    pub operation: &'static Operation,
    /// Datacenter id substituted for `{dc}` in the URI template.
    pub datacenter_id: EventId,
    pub param_source_service: &'static str,
    pub resource_id: ResourceId,
    pub error: Option<&'static ErrorSpec>,
}

/// Derives every attribute of a stored event of `contract`.
pub(crate) fn describe(contract: &ContractLog, event: StoredEvent) -> EventDetails<'_> {
    let id = event.id;
    let roll = unit(id.attr(S_TYPE));
    let event_type = match roll {
        r if r < 0.35 => EventType::RequestAccepted,
        r if r < 0.63 => EventType::RequestStatusUpdate,
        r if r < 0.84 => EventType::Provision,
        r if r < 0.92 => EventType::Error,
        _ => EventType::DcdUserEvent,
    };
    let user_index = pick(id.attr(S_USER), contract.users.len());
    let username = contract.users[user_index].as_str();
    let source_service = if event_type == EventType::DcdUserEvent {
        "DCD"
    } else {
        weighted(SOURCE_SERVICES, id.attr(S_SERVICE))
    };
    let hosts = match source_service {
        "DCD" => DCD_HOSTS,
        "Reseller_V1" => RESELLER_HOSTS,
        _ => API_HOSTS,
    };
    let service_host = hosts[pick(id.attr(S_HOST), hosts.len())];
    let operation = if event_type == EventType::DcdUserEvent {
        &DCD_USER_OPERATIONS[pick(id.attr(S_OP), DCD_USER_OPERATIONS.len())]
    } else {
        &OPERATIONS[pick(id.attr(S_OP), OPERATIONS.len())]
    };
    let status_roll = unit(id.attr(S_STATUS));
    let error =
        (event_type == EventType::Error).then(|| &ERRORS[pick(id.attr(S_ERROR), ERRORS.len())]);
    let resource = operation.resource_type;
    let (status, message) = match event_type {
        EventType::RequestAccepted => ("QUEUED", ["Request accepted", "", ""]),
        EventType::RequestStatusUpdate if status_roll < 0.4 => {
            ("RUNNING", ["Request is being processed", "", ""])
        }
        EventType::RequestStatusUpdate => ("DONE", ["Request successfully completed", "", ""]),
        EventType::Provision if status_roll < 0.12 => {
            ("FAILED", ["Provisioning of ", resource, " failed"])
        }
        EventType::Provision => ("DONE", ["Provisioning of ", resource, " finished"]),
        EventType::Error => ("FAILED", [error.map_or("", |e| e.message), "", ""]),
        EventType::DcdUserEvent => ("DONE", [dcd_message(operation.action), "", ""]),
    };
    let param_source_service = match (event_type, source_service) {
        (EventType::Provision, _) => "Provisioning",
        (_, "DCD") => "DCD",
        _ => "PUBLIC_REST",
    };
    EventDetails {
        id,
        time_ms: event.time_ms,
        contract_number: contract.number,
        username,
        source_ip: source_ip(contract.number, user_index, id.attr(S_IP)),
        source_service,
        service_host,
        request_id: EventId::v4(id.attr(S_REQUEST), id.attr(S_REQUEST + 100)),
        transaction_id: EventId::v4(id.attr(S_TRANSACTION), id.attr(S_TRANSACTION + 100)),
        queue_ref_id: 100_000_000 + id.attr(S_QUEUE) % 900_000_000,
        event_type,
        status,
        message,
        operation,
        datacenter_id: pooled_uuid(contract.number, "datacenter", id.attr(S_DC)),
        param_source_service,
        resource_id: resource_id(contract.number, resource, id.attr(S_RESOURCE)),
        error,
    }
}

fn dcd_message(action: &str) -> &'static str {
    match action {
        "sec.user.login" => "User logged in to the Data Center Designer",
        "sec.user.logout" => "User logged out of the Data Center Designer",
        _ => "User changed the password",
    }
}

fn weighted(table: &[(&'static str, u32)], h: u64) -> &'static str {
    let total: u32 = table.iter().map(|(_, w)| w).sum();
    let mut at = pick(h, total as usize) as u32;
    for &(name, weight) in table {
        if at < weight {
            return name;
        }
        at -= weight;
    }
    table[0].0
}

/// The id of one of a contract's pooled resources of a type.
fn pooled_uuid(contract: u64, resource_type: &str, h: u64) -> EventId {
    let k = h % RESOURCE_POOL;
    let type_hash = resource_type.bytes().fold(0u64, |acc, b| {
        acc.wrapping_mul(31).wrapping_add(u64::from(b))
    });
    EventId::v4(
        hash3(contract, type_hash, k ^ RESOURCE_SALT),
        hash3(contract, type_hash, k ^ RESOURCE_SALT ^ 1),
    )
}

/// Users carry short numeric ids (as in the API docs); everything else a UUID.
fn resource_id(contract: u64, resource_type: &str, h: u64) -> ResourceId {
    if resource_type == "user" {
        ResourceId::Number(1_400 + (contract + h % RESOURCE_POOL) % 200)
    } else {
        ResourceId::Uuid(pooled_uuid(contract, resource_type, h))
    }
}

/// Mostly the user's usual address (from documentation ranges), sometimes another.
fn source_ip(contract: u64, user_index: usize, h: u64) -> String {
    let home = hash3(contract, user_index as u64, 0x1F);
    let (base, bits) = if unit(h) < 0.8 {
        (home, home)
    } else {
        (h, h >> 8)
    };
    match base % 3 {
        0 => format!("203.0.113.{}", 1 + bits % 254),
        1 => format!("198.51.100.{}", 1 + bits % 254),
        _ if bits % 5 == 0 => format!("2001:db8:{:x}::{:x}", bits % 0xFFFF, (bits >> 16) % 0xFFFF),
        _ => format!("192.0.2.{}", 1 + bits % 254),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_follow_domain_type_verb() {
        for op in OPERATIONS.iter().chain(DCD_USER_OPERATIONS) {
            let parts: Vec<&str> = op.action.split('.').collect();
            assert_eq!(parts.len(), 3, "{}", op.action);
            assert!(["vr", "sec", "ip", "sn"].contains(&parts[0]));
            assert!(["GET", "POST", "PATCH", "PUT", "DELETE"].contains(&op.method));
        }
    }

    #[test]
    fn weighted_covers_every_entry() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..10_000 {
            seen.insert(weighted(SOURCE_SERVICES, crate::rng::mix(i)));
        }
        assert_eq!(seen.len(), SOURCE_SERVICES.len());
    }
}
