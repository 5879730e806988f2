//! Wire-compatibility rules: what the live service sends that the upstream
//! spec does not say.
//!
//! Each rule is small, named, and states the deviation it absorbs. They run
//! after hoisting: [`OPERATION_RULES`] on the operations, then [`RULES`] on
//! the named components. Each one does nothing when the part of the spec it
//! fixes is absent or already says it (a future spec may fix it upstream), so
//! they never break a regeneration.

use serde_json::{Map, Value, json};

use crate::normalize::reference;

/// A named adjustment of the component schemas.
pub struct Rule {
    /// Short identifier, used in docs and tests.
    pub name: &'static str,
    /// The deviation of the live service that makes the rule necessary.
    pub observed: &'static str,
    /// Applies the rule to `components.schemas`.
    pub apply: fn(&mut Map<String, Value>),
}

/// All rules, in the order [`crate::normalize`] applies them.
pub const RULES: &[Rule] = &[
    Rule {
        name: "event_uuid",
        observed: "every event carries `@uuid` (see the documented example exchange); \
                   the schema omits it",
        apply: event_uuid,
    },
    Rule {
        name: "contract_number_text_or_number",
        observed: "`principal.identity.contractNumber` arrives as a JSON string or integer",
        apply: contract_number_text_or_number,
    },
    Rule {
        name: "audit_version_text_or_number",
        observed: "`meta.auditVersion` arrives as a string (\"0.1\") or a number (0.1)",
        apply: audit_version_text_or_number,
    },
    Rule {
        name: "queue_ref_id_number_or_text",
        observed: "`meta.queueRefId` arrives as an integer or a string",
        apply: queue_ref_id_number_or_text,
    },
    Rule {
        name: "open_enums",
        observed: "enums (`event.status`, `event.param.action`) gain values the spec does \
                   not list; an unknown value must stay readable, not fail the page",
        apply: open_enums,
    },
    Rule {
        name: "nullable_arrays",
        observed: "optional fields arrive as `null`, arrays included",
        apply: nullable_arrays,
    },
    Rule {
        name: "unknown_fields_kept",
        observed: "objects gain fields; nothing the server sent may be lost, so every \
                   object keeps unknown fields in `extra`",
        apply: unknown_fields_kept,
    },
];

/// A named adjustment of the operations: an answer the service gives that
/// the spec does not list. Applied to the whole document, before [`RULES`].
pub struct OperationRule {
    /// Short identifier, used in docs and tests.
    pub name: &'static str,
    /// The behaviour of the live service that makes the rule necessary.
    pub observed: &'static str,
    /// Applies the rule to the OpenAPI document.
    pub apply: fn(&mut Value),
}

/// All operation rules, in the order [`crate::normalize`] applies them.
pub const OPERATION_RULES: &[OperationRule] = &[
    OperationRule {
        name: "bad_request_documented",
        observed: "`getByContract` answers 400 with the IONOS error body \
               (`{\"httpStatus\": 400, \"messages\": [{\"errorCode\", \"message\"}]}`) \
               for parameters it cannot use: a contract number that is not an integer, a \
               date that is neither YYYY-MM-DD nor RFC 3339, a negative offset or limit, \
               dateStart not before dateEnd, a range longer than allowed, offset + limit \
               beyond the result window; the spec lists only 200, 401, 403 and 500",
        apply: bad_request_documented,
    },
    OperationRule {
        name: "error_bodies_described",
        observed: "error answers (400, 401, 403, 500) carry the IONOS error body \
               (`{\"httpStatus\": 401, \"messages\": [{\"errorCode\": \"315\", \
               \"message\": \"…\"}]}`); the spec describes none, so the generated \
               builders dropped what the service said",
        apply: error_bodies_described,
    },
];

/// Describes every 4xx/5xx answer without a body as the IONOS error body
/// (`ApiError`), so that the generated builders hand callers what the
/// service said (`Error::ErrorResponse` with the decoded body; a body that
/// is not JSON still reaches them as `Error::InvalidResponsePayload`).
fn error_bodies_described(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    let mut described = false;
    for operation in paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
    {
        let Some(responses) = operation
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        else {
            continue;
        };
        for (status, response) in responses.iter_mut() {
            let is_error = status.starts_with('4') || status.starts_with('5');
            let Some(response) = response.as_object_mut() else {
                continue;
            };
            if is_error && !response.contains_key("content") {
                response.insert(
                    "content".into(),
                    json!({"application/json": {"schema": reference("ApiError")}}),
                );
                described = true;
            }
        }
    }
    if !described {
        return;
    }
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    schemas.entry("ApiError").or_insert_with(|| {
        json!({
            "type": "object",
            "description": "The IONOS error body (wire rule `error_bodies_described`).",
            "properties": {
                "httpStatus": {
                    "type": "integer",
                    "description": "The HTTP status, repeated."
                },
                "messages": {
                    "type": "array",
                    "items": reference("ApiErrorMessage"),
                    "description": "What went wrong, one message each."
                }
            }
        })
    });
    schemas.entry("ApiErrorMessage").or_insert_with(|| {
        json!({
            "type": "object",
            "description": "One message of an IONOS error body.",
            "properties": {
                "errorCode": {
                    "description": "The service's code for the error (a string, or a number)."
                },
                "message": {
                    "type": "string",
                    "description": "What went wrong, in words."
                }
            }
        })
    });
}

/// Adds `400` to `getByContract`'s responses; `error_bodies_described` then
/// gives it the error body, like 401/403/500.
fn bad_request_documented(doc: &mut Value) {
    let Some(responses) = operation_mut(doc, "getByContract")
        .and_then(|operation| operation.get_mut("responses"))
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    responses.entry("400").or_insert_with(|| {
        json!({
            "description": "Bad Request: a parameter the service cannot use \
                            (wire rule `bad_request_documented`)"
        })
    });
}

/// The operation with `operation_id`, under any path and method.
fn operation_mut<'a>(doc: &'a mut Value, operation_id: &str) -> Option<&'a mut Value> {
    doc.get_mut("paths")?
        .as_object_mut()?
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .find(|operation| operation.get("operationId") == Some(&json!(operation_id)))
}

fn event_uuid(schemas: &mut Map<String, Value>) {
    let Some(properties) = properties_mut(schemas, "Activity") else {
        return;
    };
    properties.entry("@uuid").or_insert_with(|| {
        json!({
            "type": "string",
            "description": "Unique identifier of the activity event."
        })
    });
}

fn contract_number_text_or_number(schemas: &mut Map<String, Value>) {
    alternatives(
        schemas,
        ("Identity", "contractNumber"),
        "ContractNumber",
        &[
            ("Text", json!({"type": "string"})),
            ("Number", json!({"type": "integer", "format": "int64"})),
        ],
    );
}

fn audit_version_text_or_number(schemas: &mut Map<String, Value>) {
    alternatives(
        schemas,
        ("Meta", "auditVersion"),
        "AuditVersion",
        &[
            ("Text", json!({"type": "string"})),
            ("Number", json!({"type": "number"})),
        ],
    );
}

fn queue_ref_id_number_or_text(schemas: &mut Map<String, Value>) {
    alternatives(
        schemas,
        ("Meta", "queueRefId"),
        "QueueRefId",
        &[
            ("Number", json!({"type": "integer", "format": "int64"})),
            ("Text", json!({"type": "string"})),
        ],
    );
}

/// Every string enum component `X` becomes `X::Known(XKnown)` (the listed
/// values) or `X::Other(String)`, so a new value decodes and round-trips verbatim.
///
/// The `oneOf` is read the way typify and serde read it (untagged: the first
/// alternative that fits wins), which is JSON Schema's `anyOf`: to a strict
/// validator a listed value fits both alternatives and fails `oneOf`. Neither
/// `anyOf` (typify makes a struct of optional parts) nor excluding the listed
/// values from `Other` (typify makes `Other` a checked newtype) keeps
/// `X::Other(String)`, so the document stays as it is, and tools that validate
/// against the normalized spec (`conformance/run.sh`) read these as `anyOf`.
fn open_enums(schemas: &mut Map<String, Value>) {
    for (name, schema) in schemas.iter_mut() {
        let is_closed_string_enum =
            schema.get("enum").is_some() && schema.get("type") == Some(&json!("string"));
        if !is_closed_string_enum {
            continue;
        }
        let description = schema.get("description").cloned();
        let mut known = std::mem::take(schema);
        if let Some(map) = known.as_object_mut() {
            map.remove("description");
            // Titles name both the variants (typify strips their common
            // prefix) and the type of the known values: `EventStatusKnown`.
            map.insert("title".into(), json!(format!("{name}Known")));
        }
        let mut open = json!({
            "oneOf": [
                known,
                {
                    "type": "string",
                    "title": format!("{name}Other"),
                    "description": "A value the spec does not list, kept verbatim."
                }
            ]
        });
        if let Some(description) = description {
            open["description"] = description;
        }
        *schema = open;
    }
}

fn nullable_arrays(schemas: &mut Map<String, Value>) {
    for schema in schemas.values_mut() {
        let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for property in properties.values_mut() {
            if property.get("type") == Some(&json!("array")) {
                property["nullable"] = json!(true);
            }
        }
    }
}

fn unknown_fields_kept(schemas: &mut Map<String, Value>) {
    for schema in schemas.values_mut() {
        if schema.get("properties").is_some() && schema.get("additionalProperties").is_none() {
            schema["additionalProperties"] = json!({});
        }
    }
}

/// Moves the schema of `parent.property` into the component `name`, which
/// accepts any of `variants` (each a titled alternative).
fn alternatives(
    schemas: &mut Map<String, Value>,
    (parent, property): (&str, &str),
    name: &str,
    variants: &[(&str, Value)],
) {
    let Some(slot) = properties_mut(schemas, parent).and_then(|p| p.get_mut(property)) else {
        return;
    };
    if slot.get("$ref").is_some() {
        return;
    }
    let description = slot.get("description").cloned();
    *slot = reference(name);
    let one_of: Vec<Value> = variants
        .iter()
        .map(|(title, schema)| {
            let mut schema = schema.clone();
            schema["title"] = json!(title);
            schema
        })
        .collect();
    let mut component = json!({ "oneOf": one_of });
    if let Some(description) = description {
        component["description"] = description;
    }
    schemas.insert(name.to_string(), component);
}

fn properties_mut<'a>(
    schemas: &'a mut Map<String, Value>,
    component: &str,
) -> Option<&'a mut Map<String, Value>> {
    schemas
        .get_mut(component)?
        .get_mut("properties")?
        .as_object_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_with(responses: Value) -> Value {
        json!({"paths": {"/activitylog/v1/contracts/{contractNumber}": {"get": {
            "operationId": "getByContract", "responses": responses
        }}}})
    }

    #[test]
    fn bad_request_is_added_once_and_never_overrides_the_spec() {
        let mut doc = spec_with(json!({"200": {"description": "ok"}}));
        bad_request_documented(&mut doc);
        let once = doc.clone();
        bad_request_documented(&mut doc);
        assert_eq!(doc, once);
        let responses =
            &doc["paths"]["/activitylog/v1/contracts/{contractNumber}"]["get"]["responses"];
        assert!(responses["400"]["description"].is_string());

        let upstream = json!({"description": "Bad Request", "content": {}});
        let mut doc = spec_with(json!({"400": upstream.clone()}));
        bad_request_documented(&mut doc);
        assert_eq!(
            doc["paths"]["/activitylog/v1/contracts/{contractNumber}"]["get"]["responses"]["400"],
            upstream
        );

        let mut unrelated = json!({"paths": {}});
        bad_request_documented(&mut unrelated);
        assert_eq!(unrelated, json!({"paths": {}}));
    }

    #[test]
    fn operation_rules_are_documented() {
        for rule in OPERATION_RULES {
            assert!(!rule.observed.is_empty() && !rule.name.is_empty());
        }
    }
}
