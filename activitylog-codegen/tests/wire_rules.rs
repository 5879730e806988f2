//! A wire rule whose target left the spec stops codegen, naming the rule; a
//! target that upstream fixed passes quietly.

use activitylog_codegen::{RulesMissing, load, normalize, normalize_tolerant};
use openapiv3::OpenAPI;
use serde_json::{Value, json};

fn spec_json() -> Value {
    serde_json::to_value(load(activitylog_codegen::SPEC_PATH.as_ref()).unwrap()).unwrap()
}

/// `properties` of the inline event meta (`Meta` once normalized).
fn meta_properties(doc: &mut Value) -> &mut serde_json::Map<String, Value> {
    doc.pointer_mut(
        "/components/schemas/GetByContractResponse/properties/hits/properties/hits/items\
         /properties/_source/properties/meta/properties",
    )
    .and_then(Value::as_object_mut)
    .unwrap()
}

fn parse(doc: Value) -> OpenAPI {
    serde_json::from_value(doc).unwrap()
}

#[test]
fn a_rule_whose_target_was_removed_fails_normalization_naming_the_rule() {
    let mut doc = spec_json();
    meta_properties(&mut doc).remove("queueRefId");
    let error = normalize(parse(doc.clone())).unwrap_err();
    assert_eq!(
        error.to_string(),
        "wire rule `queue_ref_id_number_or_text`: `Meta.queueRefId` is not in the spec any \
         more; remove or update the rule"
    );
    let missing = error.downcast_ref::<RulesMissing>().unwrap();
    assert_eq!(missing.0.len(), 1);
    assert_eq!(missing.0[0].rule, "queue_ref_id_number_or_text");

    let tolerant = normalize_tolerant(parse(doc)).unwrap();
    assert_eq!(tolerant.missing, missing.0);
}

#[test]
fn codegen_names_every_rule_that_lost_its_target() {
    let mut doc = spec_json();
    let meta = meta_properties(&mut doc);
    meta.remove("queueRefId");
    meta.remove("auditVersion");
    let error = normalize(parse(doc)).unwrap_err().to_string();
    let lines: Vec<&str> = error.lines().collect();
    assert_eq!(lines.len(), 2, "{error}");
    assert!(lines[0].starts_with("wire rule `audit_version_text_or_number`: `Meta.auditVersion`"));
    assert!(lines[1].starts_with("wire rule `queue_ref_id_number_or_text`: `Meta.queueRefId`"));
}

#[test]
fn a_target_fixed_upstream_passes_quietly() {
    let mut doc = spec_json();
    meta_properties(&mut doc).insert(
        "queueRefId".into(),
        json!({"$ref": "#/components/schemas/Info"}),
    );
    let normalized = serde_json::to_value(normalize(parse(doc)).unwrap()).unwrap();
    assert_eq!(
        normalized["components"]["schemas"]["Meta"]["properties"]["queueRefId"]["$ref"],
        "#/components/schemas/Info"
    );
    assert!(
        normalized["components"]["schemas"]
            .get("QueueRefId")
            .is_none()
    );
}

#[test]
fn the_current_spec_needs_every_rule() {
    let spec = load(activitylog_codegen::SPEC_PATH.as_ref()).unwrap();
    assert!(normalize_tolerant(spec).unwrap().missing.is_empty());
}
