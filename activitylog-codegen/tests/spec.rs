//! The spec in `openapi/` is complete and well-formed.

use std::collections::BTreeSet;

use serde_json::Value;

fn spec_json() -> Value {
    let text = std::fs::read_to_string(activitylog_codegen::SPEC_PATH).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn refs(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                match (key.as_str(), child.as_str()) {
                    ("$ref", Some(target)) => {
                        found.insert(target.to_string());
                    }
                    _ => refs(child, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| refs(item, found)),
        _ => {}
    }
}

fn assert_refs_resolve(doc: &Value) {
    let mut found = BTreeSet::new();
    refs(doc, &mut found);
    assert!(!found.is_empty());
    for target in found {
        let pointer = target.strip_prefix('#').expect("only local references");
        assert!(doc.pointer(pointer).is_some(), "{target} does not resolve");
    }
}

#[test]
fn spec_parses_as_openapi_3_0() {
    let spec = activitylog_codegen::load(activitylog_codegen::SPEC_PATH.as_ref()).unwrap();
    assert!(spec.openapi.starts_with("3.0."));
    assert_eq!(spec.servers[0].url, "https://api.ionos.com");
    let schemes = &spec.components.as_ref().unwrap().security_schemes;
    assert!(schemes.contains_key("Basic_Authentication"));
    assert!(schemes.contains_key("Token_Authentication"));
}

#[test]
fn every_reference_resolves_before_and_after_normalization() {
    assert_refs_resolve(&spec_json());
    let spec = activitylog_codegen::load(activitylog_codegen::SPEC_PATH.as_ref()).unwrap();
    assert_refs_resolve(
        &serde_json::to_value(activitylog_codegen::normalize(spec).unwrap()).unwrap(),
    );
}

#[test]
fn every_operation_has_an_operation_id() {
    let spec = activitylog_codegen::load(activitylog_codegen::SPEC_PATH.as_ref()).unwrap();
    let ids: BTreeSet<String> = spec
        .operations()
        .map(|(path, method, op)| {
            op.operation_id
                .clone()
                .unwrap_or_else(|| panic!("{method} {path} has no operationId"))
        })
        .collect();
    let expected = ["getAvailableContracts", "getByContract", "getInfo"];
    assert_eq!(ids, expected.iter().map(|s| s.to_string()).collect());
}

#[test]
fn get_by_contract_takes_the_documented_parameters() {
    let doc = spec_json();
    let params = doc["paths"]["/activitylog/v1/contracts/{contractNumber}"]["get"]["parameters"]
        .as_array()
        .unwrap();
    let names: Vec<&str> = params.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["contractNumber", "dateStart", "dateEnd", "offset", "limit"]
    );
}
