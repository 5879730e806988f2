//! `diff::compare` on the spec against edited copies of itself: each edit
//! shows up once, in the right group, as a readable line.

use activitylog_codegen::changelog::render;
use activitylog_codegen::diff::{Change, Impact, compare};
use activitylog_codegen::{load, normalize};
use serde_json::{Map, Value, json};

const BY_CONTRACT: &str = "/paths/~1activitylog~1v1~1contracts~1{contractNumber}/get";
const SOURCE: &str = "/components/schemas/GetByContractResponse/properties/hits/properties/hits\
                      /items/properties/_source/properties";

/// The upstream spec, as JSON.
fn upstream() -> Value {
    serde_json::to_value(load(activitylog_codegen::SPEC_PATH.as_ref()).unwrap()).unwrap()
}

/// The normalized document of an upstream document.
fn normalized(doc: Value) -> Value {
    serde_json::to_value(normalize(serde_json::from_value(doc).unwrap()).unwrap()).unwrap()
}

fn object<'a>(doc: &'a mut Value, pointer: &str) -> &'a mut Map<String, Value> {
    doc.pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("{pointer} is not an object"))
}

fn parameters(doc: &mut Value) -> &mut Vec<Value> {
    doc.pointer_mut(&format!("{BY_CONTRACT}/parameters"))
        .and_then(Value::as_array_mut)
        .unwrap()
}

/// The changes from the spec to the spec edited by `edit`, as lines per group.
fn changes_after(edit: impl FnOnce(&mut Value)) -> Vec<(Impact, String)> {
    let mut doc = upstream();
    edit(&mut doc);
    lines(&compare(&normalized(upstream()), &normalized(doc)))
}

fn lines(changes: &[Change]) -> Vec<(Impact, String)> {
    changes
        .iter()
        .map(|change| (change.impact(), change.to_string()))
        .collect()
}

#[test]
fn the_spec_against_itself_has_no_changes() {
    let doc = normalized(upstream());
    assert_eq!(compare(&doc, &doc), []);
    assert_eq!(render(&[], &[]), "no changes to the API\n");
}

#[test]
fn a_renamed_parameter_is_one_removed_and_one_added() {
    let changes = changes_after(|doc| parameters(doc)[1]["name"] = json!("startDate"));
    assert_eq!(
        changes,
        [
            (
                Impact::Breaking,
                "`getByContract`: query parameter `dateStart` removed".into()
            ),
            (
                Impact::Addition,
                "`getByContract`: query parameter `startDate` added (string, optional)".into()
            ),
        ]
    );
}

#[test]
fn a_new_required_parameter_breaks_and_a_new_optional_one_adds() {
    let changes = changes_after(|doc| {
        let parameters = parameters(doc);
        parameters.push(json!({"name": "eventType", "in": "query", "required": true,
                               "schema": {"type": "string"}}));
        parameters.push(json!({"name": "X-Trace", "in": "header",
                               "schema": {"type": "string", "format": "uuid"}}));
    });
    assert_eq!(
        changes,
        [
            (
                Impact::Breaking,
                "`getByContract`: query parameter `eventType` added (string, required)".into()
            ),
            (
                Impact::Addition,
                "`getByContract`: header parameter `X-Trace` added (string (uuid), optional)"
                    .into()
            ),
        ]
    );
}

#[test]
fn a_parameter_that_becomes_required_breaks_and_one_that_stops_being_required_does_not() {
    let tightened = changes_after(|doc| parameters(doc)[3]["required"] = json!(true));
    assert_eq!(
        tightened,
        [(
            Impact::Breaking,
            "`getByContract`: query parameter `offset` is now required".into()
        )]
    );
    let mut required = upstream();
    parameters(&mut required)[3]["required"] = json!(true);
    let loosened = lines(&compare(&normalized(required), &normalized(upstream())));
    assert_eq!(
        loosened,
        [(
            Impact::Compatible,
            "`getByContract`: query parameter `offset` is no longer required".into()
        )]
    );
}

#[test]
fn a_removed_field_breaks() {
    let changes = changes_after(|doc| {
        object(doc, &format!("{SOURCE}/event/properties")).remove("message");
    });
    assert_eq!(
        changes,
        [(Impact::Breaking, "field `Event.message` removed".into())]
    );
}

#[test]
fn a_field_with_another_type_breaks() {
    let changes = changes_after(|doc| {
        object(doc, &format!("{SOURCE}/meta/properties/time"))
            .extend([("format".to_string(), json!("date-time"))]);
        object(
            doc,
            &format!("{SOURCE}/principal/properties/identity/properties"),
        )
        .insert("username".into(), json!({"type": "integer"}));
    });
    assert_eq!(
        changes,
        [
            (
                Impact::Breaking,
                "field `Identity.username` changed type from `string` to `integer`".into()
            ),
            (
                Impact::Breaking,
                "field `Meta.time` changed type from `string` to `string (date-time)`".into()
            ),
        ]
    );
}

#[test]
fn enum_values_added_and_removed() {
    let changes = changes_after(|doc| {
        let status = doc
            .pointer_mut(&format!("{SOURCE}/event/properties/status/enum"))
            .and_then(Value::as_array_mut)
            .unwrap();
        status.push(json!("CANCELLED"));
        status.retain(|value| value != "QUEUED");
    });
    assert_eq!(
        changes,
        [
            (
                Impact::Breaking,
                "type `EventStatus`: enum value `QUEUED` removed".into()
            ),
            (
                Impact::Addition,
                "type `EventStatus`: enum value `CANCELLED` added".into()
            ),
        ]
    );
}

#[test]
fn an_added_operation_is_one_addition() {
    let changes = changes_after(|doc| {
        let info = doc["paths"]["/activitylog/v1"].clone();
        let mut stats = info;
        stats["get"]["operationId"] = json!("getStats");
        object(doc, "/paths").insert("/activitylog/v1/stats".into(), stats);
    });
    assert_eq!(
        changes,
        [(
            Impact::Addition,
            "operation `getStats` (GET /activitylog/v1/stats) added".into()
        )]
    );
}

#[test]
fn operations_moved_renamed_and_removed() {
    let changes = changes_after(|doc| {
        let paths = object(doc, "/paths");
        let info = paths.remove("/activitylog/v1").unwrap();
        paths.insert("/activitylog/v2".into(), info);
        let contracts = &mut paths["/activitylog/v1/contracts"]["get"];
        contracts["operationId"] = json!("listContracts");
        paths["/activitylog/v1/contracts/{contractNumber}"]["get"]["responses"]
            .as_object_mut()
            .unwrap()
            .remove("403");
    });
    assert_eq!(
        changes,
        [
            (
                Impact::Breaking,
                "operation `getAvailableContracts` (GET /activitylog/v1/contracts) renamed to \
                 `listContracts`"
                    .into()
            ),
            (
                Impact::Breaking,
                "`getByContract`: response 403 removed".into()
            ),
            (
                Impact::Breaking,
                "operation `getInfo` (GET /activitylog/v1) moved to GET /activitylog/v2".into()
            ),
        ]
    );
}

#[test]
fn the_changelog_puts_breaking_changes_first() {
    let mut doc = upstream();
    parameters(&mut doc)[1]["name"] = json!("startDate");
    object(&mut doc, &format!("{SOURCE}/event/properties")).insert(
        "geoLocation".into(),
        json!({"type": "object", "properties": {"country": {"type": "string"}}}),
    );
    let changes = compare(&normalized(upstream()), &normalized(doc));
    assert_eq!(
        render(&changes, &[]),
        "Breaking:\n\
         - `getByContract`: query parameter `dateStart` removed\n\
         \n\
         Additions:\n\
         - `getByContract`: query parameter `startDate` added (string, optional)\n\
         - field `Event.geoLocation` added (EventGeoLocation, optional)\n\
         - type `EventGeoLocation` added\n"
    );
}
