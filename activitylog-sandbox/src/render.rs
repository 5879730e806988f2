//! JSON rendering of API answers, including the live service's deviations from the spec.

use chrono::{DateTime, SecondsFormat};
use serde::Serialize;
use serde_json::Value;

use crate::catalog::{EventDetails, describe};
use crate::data::{ContractLog, StoredEvent};
use crate::rng::{pick, unit};

const S_WIRE: u64 = 0x0E1E;
const S_WIRE_MASK: u64 = 0x0E1F;
const S_WIRE_PICK: u64 = 0x0E20;

/// Deviations from the spec a single event may carry (bit flags).
mod wire {
    pub const CONTRACT_AS_INTEGER: u16 = 1 << 0;
    pub const AUDIT_VERSION_AS_NUMBER: u16 = 1 << 1;
    pub const QUEUE_REF_AS_STRING: u16 = 1 << 2;
    pub const UNKNOWN_STATUS: u16 = 1 << 3;
    pub const UNKNOWN_ACTION: u16 = 1 << 4;
    pub const EXTRA_FIELDS: u16 = 1 << 5;
    pub const NULL_FIELDS: u16 = 1 << 6;
    pub const SPARSE: u16 = 1 << 7;
    pub const COUNT: u32 = 8;
}

/// Which deviations an event carries when a fraction `wire_variants` of events deviate.
fn wire_flags(details: &EventDetails<'_>, wire_variants: f64) -> u16 {
    if wire_variants.is_nan()
        || wire_variants <= 0.0
        || unit(details.id.attr(S_WIRE)) >= wire_variants
    {
        return 0;
    }
    let mask = (details.id.attr(S_WIRE_MASK) & 0xFF) as u16;
    if mask == 0 {
        1 << pick(details.id.attr(S_WIRE_PICK), wire::COUNT as usize)
    } else {
        mask
    }
}

#[derive(Serialize)]
struct Source<'a> {
    #[serde(rename = "@uuid")]
    uuid: String,
    meta: Meta,
    principal: Principal<'a>,
    event: Event,
    #[serde(rename = "x-trace", skip_serializing_if = "Option::is_none")]
    trace: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Meta {
    audit_version: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    queue_ref_id: Option<Value>,
    time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    transaction_id: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Principal<'a> {
    #[serde(rename = "sourceIP")]
    source_ip: String,
    identity: Identity<'a>,
    source_service: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_host: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    geo: Option<Geo>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Identity<'a> {
    contract_number: Value,
    username: &'a str,
}

#[derive(Serialize)]
struct Geo {
    country: &'static str,
}

#[derive(Serialize)]
struct Event {
    param: Param,
    resources: Vec<Resource>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    severity: Option<&'static str>,
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Param {
    #[serde(skip_serializing_if = "Option::is_none")]
    action: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<ParamError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    initiator: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_service: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_version: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ParamError {
    http_status: &'static str,
    messages: Vec<ErrorMessage>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorMessage {
    error_code: &'static str,
    message: &'static str,
}

#[derive(Serialize)]
struct Resource {
    action: Vec<&'static str>,
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
}

fn format_time(time_ms: i64) -> String {
    DateTime::from_timestamp_millis(time_ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

/// Lays out one event as the `_source` object, applying wire deviations.
fn source<'a>(d: &'a EventDetails<'a>, flags: u16) -> Source<'a> {
    let has = |flag: u16| flags & flag != 0;
    let sparse = has(wire::SPARSE);
    let nulls = has(wire::NULL_FIELDS);
    let extra = has(wire::EXTRA_FIELDS);
    let unknown_pick = d.id.attr(S_WIRE_PICK);

    let status = if has(wire::UNKNOWN_STATUS) {
        ["CANCELLED", "SCHEDULED", "PARTIALLY_DONE"][pick(unknown_pick, 3)]
    } else {
        d.status
    };
    let method = if has(wire::UNKNOWN_ACTION) {
        ["HEAD", "OPTIONS"][pick(unknown_pick >> 8, 2)]
    } else {
        d.operation.method
    };
    let param = if sparse {
        Param::default()
    } else {
        Param {
            action: Some(method),
            error: d.error.map(|e| ParamError {
                http_status: e.http_status,
                messages: vec![ErrorMessage {
                    error_code: e.error_code,
                    message: e.message,
                }],
            }),
            uri: Some(d.uri.clone()),
            initiator: Some(d.source_service),
            error_code: d.error.map(|e| e.error_code),
            source_service: Some(d.param_source_service),
            client_version: extra.then_some("6.1.9"),
        }
    };
    Source {
        uuid: d.id.uuid(),
        meta: Meta {
            audit_version: if has(wire::AUDIT_VERSION_AS_NUMBER) {
                Value::from(0.1)
            } else {
                Value::from("0.1")
            },
            request_id: (!sparse).then(|| d.request_id.clone()),
            queue_ref_id: (!sparse).then(|| {
                if has(wire::QUEUE_REF_AS_STRING) {
                    Value::from(d.queue_ref_id.to_string())
                } else {
                    Value::from(d.queue_ref_id)
                }
            }),
            time: format_time(d.time_ms),
            transaction_id: if nulls {
                Some(Value::Null)
            } else {
                (!sparse).then(|| Value::from(d.transaction_id.clone()))
            },
            region: extra.then_some("de/fra"),
        },
        principal: Principal {
            source_ip: d.source_ip.clone(),
            identity: Identity {
                contract_number: if has(wire::CONTRACT_AS_INTEGER) {
                    Value::from(d.contract_number)
                } else {
                    Value::from(d.contract_number.to_string())
                },
                username: d.username,
            },
            source_service: d.source_service,
            service_host: if nulls {
                Some(Value::Null)
            } else {
                (!sparse).then(|| Value::from(d.service_host))
            },
            geo: extra.then_some(Geo { country: "DE" }),
        },
        event: Event {
            param,
            resources: vec![Resource {
                action: vec![d.operation.action],
                id: d.resource_id.clone(),
                kind: d.operation.resource_type,
                name: extra
                    .then(|| format!("{}-{}", d.operation.resource_type, &d.resource_id[..4])),
            }],
            message: if nulls {
                Some(Value::Null)
            } else {
                (!sparse).then(|| Value::from(d.message.clone()))
            },
            status: (!sparse || has(wire::UNKNOWN_STATUS)).then_some(status),
            kind: d.event_type.name(),
            severity: extra.then_some("INFO"),
        },
        trace: extra.then(|| format!("00-{:032x}-{:016x}-01", d.id.attr(1), d.id.attr(2))),
    }
}

/// One element of `hits.hits`.
#[derive(Serialize)]
struct Hit<'a> {
    #[serde(rename = "_index", skip_serializing_if = "Option::is_none")]
    index: Option<String>,
    #[serde(rename = "_type", skip_serializing_if = "Option::is_none")]
    doc_type: Option<&'static str>,
    #[serde(rename = "_id", skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(rename = "_score", skip_serializing_if = "Option::is_none")]
    score: Option<Value>,
    #[serde(rename = "_source")]
    source: Source<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sort: Option<(i64, String)>,
}

#[derive(Serialize)]
struct Hits<'a> {
    total: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_score: Option<Value>,
    hits: Vec<Hit<'a>>,
}

#[derive(Serialize)]
struct Page<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    took: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timed_out: Option<bool>,
    hits: Hits<'a>,
}

/// Renders one `_source` object (for expectations in tests and tooling).
pub(crate) fn event_json(contract: &ContractLog, event: StoredEvent, wire_variants: f64) -> String {
    let details = describe(contract, event);
    let flags = wire_flags(&details, wire_variants);
    serde_json::to_string(&source(&details, flags)).unwrap_or_default()
}

/// Renders a page answer: `{"hits": {"total": N, "hits": [{"_source": ...}]}}`.
///
/// With wire variants on, the page also carries Elasticsearch's envelope fields.
pub(crate) fn page_json(
    contract: &ContractLog,
    total: usize,
    events: &[StoredEvent],
    wire_variants: f64,
) -> Vec<u8> {
    let envelope = wire_variants > 0.0;
    let details: Vec<EventDetails<'_>> = events.iter().map(|&e| describe(contract, e)).collect();
    let hits = details
        .iter()
        .map(|d| {
            let uuid = d.id.uuid();
            Hit {
                index: envelope.then(|| format!("activitylog-{}", contract.number)),
                doc_type: envelope.then_some("_doc"),
                id: envelope.then(|| uuid.clone()),
                score: envelope.then_some(Value::Null),
                source: source(d, wire_flags(d, wire_variants)),
                sort: envelope.then_some((d.time_ms, uuid)),
            }
        })
        .collect();
    let page = Page {
        took: envelope.then_some(3),
        timed_out: envelope.then_some(false),
        hits: Hits {
            total,
            max_score: envelope.then_some(Value::Null),
            hits,
        },
    };
    serde_json::to_vec(&page).unwrap_or_default()
}

/// `GET /activitylog/v1`.
pub(crate) fn info_json(base: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "href": format!("{base}/activitylog/v1"),
        "name": "Activity Log Service API",
        "version": "v1",
    }))
    .unwrap_or_default()
}

/// `GET /activitylog/v1/contracts`.
pub(crate) fn contracts_json(base: &str, contracts: &[u64]) -> Vec<u8> {
    let list: Vec<Value> = contracts
        .iter()
        .map(|id| {
            serde_json::json!({
                "id": id,
                "type": "contracts",
                "href": format!("{base}/activitylog/v1/contracts/{id}"),
            })
        })
        .collect();
    serde_json::to_vec(&list).unwrap_or_default()
}

/// The IONOS error shape: `{"httpStatus": 400, "messages": [{"errorCode", "message"}]}`.
pub(crate) fn error_json(status: u16, error_code: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "httpStatus": status,
        "messages": [{"errorCode": error_code, "message": message}],
    }))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{MAIN_CONTRACT, SandboxConfig, default_contracts};
    use crate::data::EventStore;

    fn store(events: usize) -> EventStore {
        let config = SandboxConfig {
            contracts: default_contracts(events),
            ..SandboxConfig::default()
        };
        EventStore::generate(&config, "2024-06-01T00:00:00Z".parse().unwrap())
    }

    fn sources(wire: f64) -> Vec<Value> {
        let store = store(2_000);
        let main = store.contract(MAIN_CONTRACT).unwrap();
        main.slice(0..main.len())
            .iter()
            .map(|&e| serde_json::from_str(&event_json(main, e, wire)).unwrap())
            .collect()
    }

    #[test]
    fn spec_shaped_events_by_default() {
        let all = sources(0.0);
        for s in &all {
            assert!(s["@uuid"].is_string());
            assert_eq!(s["meta"]["auditVersion"], "0.1");
            assert!(s["meta"]["queueRefId"].is_u64());
            assert!(s["meta"]["requestId"].is_string());
            assert!(s["meta"]["transactionId"].is_string());
            let time = s["meta"]["time"].as_str().unwrap();
            assert!(time.ends_with('Z') && time.len() == 24, "{time}");
            assert_eq!(s["principal"]["identity"]["contractNumber"], "31721060");
            assert!(s["principal"]["serviceHost"].is_string());
            let status = s["event"]["status"].as_str().unwrap();
            assert!(["DONE", "RUNNING", "QUEUED", "FAILED"].contains(&status));
            let action = s["event"]["param"]["action"].as_str().unwrap();
            assert!(["GET", "POST", "PATCH", "PUT", "DELETE"].contains(&action));
            assert!(s["event"]["message"].is_string());
            assert!(s.get("x-trace").is_none());
            let res = &s["event"]["resources"][0];
            assert!(res["action"][0].as_str().unwrap().contains('.'));
            if s["event"]["type"] == "Error" {
                assert!(s["event"]["param"]["errorCode"].is_string());
                assert!(s["event"]["param"]["error"]["httpStatus"].is_string());
            }
        }
        let types: std::collections::HashSet<&str> = all
            .iter()
            .map(|s| s["event"]["type"].as_str().unwrap())
            .collect();
        assert_eq!(types.len(), 5);
    }

    #[test]
    fn wire_variants_show_every_deviation() {
        let all = sources(0.3);
        let count = |f: &dyn Fn(&Value) -> bool| all.iter().filter(|s| f(s)).count();
        let deviant = count(&|s| {
            s["meta"]["auditVersion"] != "0.1"
                || !s["principal"]["identity"]["contractNumber"].is_string()
                || s.get("x-trace").is_some()
                || s["event"]["param"].as_object().unwrap().is_empty()
                || s["event"]["message"].is_null()
                || s["meta"]["queueRefId"].is_string()
                || !["DONE", "RUNNING", "QUEUED", "FAILED"]
                    .contains(&s["event"]["status"].as_str().unwrap_or("DONE"))
                || s["event"]["param"]["action"] == "HEAD"
                || s["event"]["param"]["action"] == "OPTIONS"
        });
        assert!((450..750).contains(&deviant), "{deviant}");
        assert!(count(&|s| s["principal"]["identity"]["contractNumber"].is_u64()) > 0);
        assert!(count(&|s| s["meta"]["auditVersion"].is_f64()) > 0);
        assert!(count(&|s| s["meta"]["queueRefId"].is_string()) > 0);
        assert!(count(&|s| s["event"]["status"] == "CANCELLED") > 0);
        assert!(count(&|s| s["event"]["param"]["action"] == "HEAD") > 0);
        assert!(count(&|s| s["principal"]["geo"]["country"] == "DE") > 0);
        assert!(count(&|s| s["x-trace"].is_string()) > 0);
        assert!(
            count(&|s| s["event"]["message"].is_null() && s["event"].get("message").is_some()) > 0
        );
        assert!(count(&|s| s["event"]["param"].as_object().unwrap().is_empty()) > 0);
    }

    #[test]
    fn error_shape() {
        let v: Value = serde_json::from_slice(&error_json(400, "100", "bad")).unwrap();
        assert_eq!(v["httpStatus"], 400);
        assert_eq!(v["messages"][0]["errorCode"], "100");
        assert_eq!(v["messages"][0]["message"], "bad");
    }
}
