//! The drift guard: the normalized spec and the generated client are
//! snapshotted, so any change to the spec or to codegen is a reviewable diff.
//! Update workflow: replace the spec, `cargo test`, `cargo insta review`.

use activitylog_codegen::{generate, load, normalize};
use openapiv3::OpenAPI;
use serde_json::{Value, json};

fn spec() -> OpenAPI {
    load(activitylog_codegen::SPEC_PATH.as_ref()).unwrap()
}

#[test]
fn normalized_spec() {
    let normalized = serde_json::to_string_pretty(&normalize(spec()).unwrap()).unwrap();
    insta::assert_snapshot!(normalized);
}

#[test]
fn generated_client() {
    insta::assert_snapshot!(generate(&normalize(spec()).unwrap()).unwrap());
}

#[test]
fn generated_types_have_domain_names() {
    let code = generate(&normalize(spec()).unwrap()).unwrap();
    for name in [
        "ActivityPage",
        "Hits",
        "Hit",
        "Activity",
        "Principal",
        "Identity",
        "Meta",
        "Event",
        "EventParam",
        "EventError",
        "ErrorMessage",
        "Resource",
        "EventStatus",
        "HttpMethod",
        "ContractNumber",
        "AuditVersion",
        "QueueRefId",
    ] {
        let declared = code.contains(&format!("pub struct {name} "))
            || code.contains(&format!("pub enum {name} "));
        assert!(declared, "no type named {name}");
    }
    assert!(
        !code.contains("GetByContractResponseHits"),
        "path-derived names leaked"
    );
}

#[test]
fn normalization_is_idempotent() {
    let once = normalize(spec()).unwrap();
    let twice = normalize(once.clone()).unwrap();
    assert_eq!(
        serde_json::to_value(once).unwrap(),
        serde_json::to_value(twice).unwrap()
    );
}

/// The spec with a new optional query parameter and a new event field.
fn changed_spec() -> OpenAPI {
    let mut doc = serde_json::to_value(spec()).unwrap();
    doc["paths"]["/activitylog/v1/contracts/{contractNumber}"]["get"]["parameters"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "name": "eventType", "in": "query", "required": false,
            "description": "Only events of this type.", "schema": {"type": "string"}
        }));
    let source = &mut doc["components"]["schemas"]["GetByContractResponse"]["properties"]["hits"]["properties"]
        ["hits"]["items"]["properties"]["_source"]["properties"];
    source.as_object_mut().unwrap().insert(
        "geoLocation".into(),
        json!({"type": "object", "description": "Where the request came from.",
               "properties": {"country": {"type": "string"}}}),
    );
    serde_json::from_value::<OpenAPI>(doc).unwrap()
}

#[test]
fn a_spec_change_shows_up_exactly_where_it_was_made() {
    let before = generate(&normalize(spec()).unwrap()).unwrap();
    let after = generate(&normalize(changed_spec()).unwrap()).unwrap();
    assert_ne!(before, after, "the guard would not notice the change");
    let diff = similar::TextDiff::from_lines(&before, &after);
    let mut hunks = 0;
    for group in diff.grouped_ops(0) {
        hunks += 1;
        let changed: String = group
            .iter()
            .flat_map(|op| diff.iter_changes(op))
            .filter(|change| change.tag() != similar::ChangeTag::Equal)
            .map(|change| change.value().to_string())
            .collect();
        let about_the_change = [
            "event_type",
            "eventType",
            "geo_location",
            "geoLocation",
            "ActivityGeoLocation",
        ]
        .iter()
        .any(|mark| changed.contains(mark));
        assert!(
            about_the_change,
            "a change unrelated to the spec edit:\n{changed}"
        );
    }
    assert!(hunks >= 2, "both edits should show up, got {hunks} hunk(s)");
    assert!(
        after.contains("pub struct ActivityGeoLocation"),
        "new inline schema gets a derived name"
    );
}

#[test]
fn every_wire_rule_is_documented_and_applied() {
    let normalized = serde_json::to_value(normalize(spec()).unwrap()).unwrap();
    let schemas = &normalized["components"]["schemas"];
    assert!(schemas["Activity"]["properties"]["@uuid"].is_object());
    for name in [
        "ContractNumber",
        "AuditVersion",
        "QueueRefId",
        "EventStatus",
        "HttpMethod",
    ] {
        assert_eq!(
            schemas[name]["oneOf"].as_array().map(Vec::len),
            Some(2),
            "{name}"
        );
    }
    assert_eq!(
        schemas["Event"]["properties"]["resources"]["nullable"],
        Value::Bool(true)
    );
    assert_eq!(schemas["Meta"]["additionalProperties"], json!({}));
    for rule in activitylog_codegen::wire::RULES {
        assert!(!rule.observed.is_empty() && !rule.name.is_empty());
    }
}
