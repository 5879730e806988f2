//! Wire-compatibility rules: what the live service sends that the upstream
//! spec does not say.
//!
//! Each rule is small, named, and states the deviation it absorbs and the
//! part of the spec it fixes (its target). They run after hoisting:
//! [`OPERATION_RULES`] on the operations, then [`RULES`] on the named
//! components.
//!
//! A rule whose target already says what the rule adds (upstream fixed it)
//! passes quietly. A rule whose target is gone reports it, and
//! [`crate::normalize`] fails with a [`RuleMissing`] naming the rule: a rule
//! that silently does nothing is a deviation nobody absorbs any more, or one
//! that moved where the rule no longer looks.

use serde_json::{Map, Value, json};

use crate::normalize::reference;

/// A named adjustment of the component schemas.
pub struct Rule {
    /// Short identifier, used in docs, tests and errors.
    pub name: &'static str,
    /// The deviation of the live service that makes the rule necessary.
    pub observed: &'static str,
    /// The part of the spec the rule fixes, for people (`` `Meta.queueRefId` ``).
    pub target: &'static str,
    /// Applies the rule to `components.schemas`; `false` when the target is absent.
    pub apply: fn(&mut Map<String, Value>) -> bool,
}

/// A rule whose target is not in the spec: codegen stops until the rule is
/// removed or updated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleMissing {
    /// The rule's [`Rule::name`] (or [`OperationRule::name`]).
    pub rule: &'static str,
    /// What it looked for: its [`Rule::target`] (or [`OperationRule::target`]).
    pub target: &'static str,
}

impl std::fmt::Display for RuleMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "wire rule `{}`: {} is not in the spec any more; remove or update the rule",
            self.rule, self.target
        )
    }
}

impl std::error::Error for RuleMissing {}

/// All rules, in the order [`crate::normalize`] applies them.
pub const RULES: &[Rule] = &[
    Rule {
        name: "event_uuid",
        observed: "every event carries `@uuid` (see the documented example exchange); \
                   the schema omits it",
        target: "the object `Activity`",
        apply: event_uuid,
    },
    Rule {
        name: "contract_number_text_or_number",
        observed: "`principal.identity.contractNumber` arrives as a JSON string or integer",
        target: "`Identity.contractNumber`",
        apply: contract_number_text_or_number,
    },
    Rule {
        name: "audit_version_text_or_number",
        observed: "`meta.auditVersion` arrives as a string (\"0.1\") or a number (0.1)",
        target: "`Meta.auditVersion`",
        apply: audit_version_text_or_number,
    },
    Rule {
        name: "queue_ref_id_number_or_text",
        observed: "`meta.queueRefId` arrives as an integer or a string",
        target: "`Meta.queueRefId`",
        apply: queue_ref_id_number_or_text,
    },
    Rule {
        name: "open_enums",
        observed: "enums (`event.status`, `event.param.action`) gain values the spec does \
                   not list; an unknown value must stay readable, not fail the page",
        target: "a string enum",
        apply: open_enums,
    },
    Rule {
        name: "nullable_arrays",
        observed: "optional fields arrive as `null`, arrays included",
        target: "an array property",
        apply: nullable_arrays,
    },
    Rule {
        name: "unknown_fields_kept",
        observed: "objects gain fields; nothing the server sent may be lost, so every \
                   object keeps unknown fields in `extra`",
        target: "an object with properties",
        apply: unknown_fields_kept,
    },
];

/// A named adjustment of the operations: an answer the service gives that
/// the spec does not list. Applied to the whole document, before [`RULES`].
pub struct OperationRule {
    /// Short identifier, used in docs, tests and errors.
    pub name: &'static str,
    /// The behaviour of the live service that makes the rule necessary.
    pub observed: &'static str,
    /// The part of the spec the rule fixes, for people.
    pub target: &'static str,
    /// Applies the rule to the OpenAPI document; `false` when the target is absent.
    pub apply: fn(&mut Value) -> bool,
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
        target: "the responses of `getByContract`",
        apply: bad_request_documented,
    },
    OperationRule {
        name: "error_bodies_described",
        observed: "error answers (400, 401, 403, 500) carry the IONOS error body \
               (`{\"httpStatus\": 401, \"messages\": [{\"errorCode\": \"315\", \
               \"message\": \"…\"}]}`); the spec describes none, so the generated \
               builders dropped what the service said",
        target: "an error answer (4xx or 5xx)",
        apply: error_bodies_described,
    },
    OperationRule {
        name: "contract_numbers_unsigned",
        observed: "contract numbers are positive (`31721060`); the spec types the \
               `contractNumber` path parameter as any integer, which made the generated \
               builders take `i64` while the SDK takes `u64`",
        target: "the `contractNumber` parameter of `getByContract`",
        apply: contract_numbers_unsigned,
    },
];

/// Types the `contractNumber` parameter as an unsigned 64-bit integer (`u64`
/// in Rust), so that one contract-number type runs through the SDK and the
/// generated builders. Answers stay as lenient as the spec: `ReferenceById.id`
/// remains any integer, since a page must never fail on what a server sends.
fn contract_numbers_unsigned(doc: &mut Value) -> bool {
    let unsigned = |schema: &mut Value| {
        if let Some(schema) = schema.as_object_mut()
            && schema.get("type") == Some(&json!("integer"))
        {
            schema.insert("format".into(), json!("uint64"));
            schema.insert("minimum".into(), json!(0));
        }
    };
    let Some(parameter) = operation_mut(doc, "getByContract")
        .and_then(|operation| operation.get_mut("parameters"))
        .and_then(Value::as_array_mut)
        .and_then(|parameters| {
            parameters
                .iter_mut()
                .find(|p| p.get("name") == Some(&json!("contractNumber")))
        })
    else {
        return false;
    };
    if let Some(schema) = parameter.get_mut("schema") {
        unsigned(schema);
    }
    true
}

/// Describes every 4xx/5xx answer without a body as the IONOS error body
/// (`ApiError`), so that the generated builders hand callers what the
/// service said (`Error::ErrorResponse` with the decoded body; a body that
/// is not JSON still reaches them as `Error::InvalidResponsePayload`).
///
/// The target is any error answer; one that already has a body is left as
/// the spec says it.
fn error_bodies_described(doc: &mut Value) -> bool {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return false;
    };
    let mut found = false;
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
            let Some(response) = response.as_object_mut().filter(|_| is_error) else {
                continue;
            };
            found = true;
            if !response.contains_key("content") {
                response.insert(
                    "content".into(),
                    json!({"application/json": {"schema": reference("ApiError")}}),
                );
                described = true;
            }
        }
    }
    if !described {
        return found;
    }
    let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    else {
        return found;
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
    found
}

/// Adds `400` to `getByContract`'s responses; `error_bodies_described` then
/// gives it the error body, like 401/403/500. A `400` the spec lists wins.
fn bad_request_documented(doc: &mut Value) -> bool {
    let Some(responses) = operation_mut(doc, "getByContract")
        .and_then(|operation| operation.get_mut("responses"))
        .and_then(Value::as_object_mut)
    else {
        return false;
    };
    responses.entry("400").or_insert_with(|| {
        json!({
            "description": "Bad Request: a parameter the service cannot use \
                            (wire rule `bad_request_documented`)"
        })
    });
    true
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

/// Adds `@uuid` to `Activity`, unless the spec lists it.
fn event_uuid(schemas: &mut Map<String, Value>) -> bool {
    let Some(properties) = properties_mut(schemas, "Activity") else {
        return false;
    };
    properties.entry("@uuid").or_insert_with(|| {
        json!({
            "type": "string",
            "description": "Unique identifier of the activity event."
        })
    });
    true
}

fn contract_number_text_or_number(schemas: &mut Map<String, Value>) -> bool {
    alternatives(
        schemas,
        ("Identity", "contractNumber"),
        "ContractNumber",
        &[
            ("Text", json!({"type": "string"})),
            ("Number", json!({"type": "integer", "format": "int64"})),
        ],
    )
}

fn audit_version_text_or_number(schemas: &mut Map<String, Value>) -> bool {
    alternatives(
        schemas,
        ("Meta", "auditVersion"),
        "AuditVersion",
        &[
            ("Text", json!({"type": "string"})),
            ("Number", json!({"type": "number"})),
        ],
    )
}

fn queue_ref_id_number_or_text(schemas: &mut Map<String, Value>) -> bool {
    alternatives(
        schemas,
        ("Meta", "queueRefId"),
        "QueueRefId",
        &[
            ("Number", json!({"type": "integer", "format": "int64"})),
            ("Text", json!({"type": "string"})),
        ],
    )
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
///
/// The target is any string enum component, closed or already open.
fn open_enums(schemas: &mut Map<String, Value>) -> bool {
    let mut found = false;
    for (name, schema) in schemas.iter_mut() {
        if is_open_string_enum(schema) {
            found = true;
        }
        if !is_string_enum(schema) {
            continue;
        }
        found = true;
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
    found
}

/// A closed string enum: `{"type": "string", "enum": [...]}`.
fn is_string_enum(schema: &Value) -> bool {
    schema.get("enum").is_some() && schema.get("type") == Some(&json!("string"))
}

/// A string enum `open_enums` already opened (or upstream did the same way).
fn is_open_string_enum(schema: &Value) -> bool {
    schema
        .get("oneOf")
        .and_then(Value::as_array)
        .is_some_and(|alternatives| alternatives.iter().any(is_string_enum))
}

/// Makes every array property nullable. The target is any array property.
fn nullable_arrays(schemas: &mut Map<String, Value>) -> bool {
    let mut found = false;
    for schema in schemas.values_mut() {
        let Some(properties) = schema.get_mut("properties").and_then(Value::as_object_mut) else {
            continue;
        };
        for property in properties.values_mut() {
            if property.get("type") == Some(&json!("array")) {
                property["nullable"] = json!(true);
                found = true;
            }
        }
    }
    found
}

/// Lets every object keep unknown fields, unless the spec says what
/// `additionalProperties` are. The target is any object with properties.
fn unknown_fields_kept(schemas: &mut Map<String, Value>) -> bool {
    let mut found = false;
    for schema in schemas.values_mut() {
        if schema.get("properties").is_none() {
            continue;
        }
        found = true;
        if schema.get("additionalProperties").is_none() {
            schema["additionalProperties"] = json!({});
        }
    }
    found
}

/// Moves the schema of `parent.property` into the component `name`, which
/// accepts any of `variants` (each a titled alternative).
///
/// `false` when `parent.property` is absent; a property that is already a
/// `$ref` (normalized before, or named upstream) is left alone.
fn alternatives(
    schemas: &mut Map<String, Value>,
    (parent, property): (&str, &str),
    name: &str,
    variants: &[(&str, Value)],
) -> bool {
    let Some(slot) = properties_mut(schemas, parent).and_then(|p| p.get_mut(property)) else {
        return false;
    };
    if slot.get("$ref").is_some() {
        return true;
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
    true
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
        assert!(bad_request_documented(&mut doc));
        let once = doc.clone();
        assert!(bad_request_documented(&mut doc));
        assert_eq!(doc, once);
        let responses =
            &doc["paths"]["/activitylog/v1/contracts/{contractNumber}"]["get"]["responses"];
        assert!(responses["400"]["description"].is_string());

        let upstream = json!({"description": "Bad Request", "content": {}});
        let mut doc = spec_with(json!({"400": upstream.clone()}));
        assert!(bad_request_documented(&mut doc), "fixed upstream: quiet");
        assert_eq!(
            doc["paths"]["/activitylog/v1/contracts/{contractNumber}"]["get"]["responses"]["400"],
            upstream
        );
    }

    #[test]
    fn a_rule_without_its_target_says_so_and_changes_nothing() {
        let mut unrelated = json!({"paths": {}});
        assert!(!bad_request_documented(&mut unrelated));
        assert!(!error_bodies_described(&mut unrelated));
        assert_eq!(unrelated, json!({"paths": {}}));

        let mut schemas = Map::new();
        schemas.insert(
            "Meta".into(),
            json!({"properties": {"time": {"type": "string"}}}),
        );
        let before = schemas.clone();
        assert!(!queue_ref_id_number_or_text(&mut schemas));
        assert!(!event_uuid(&mut schemas));
        assert!(!open_enums(&mut schemas));
        assert!(!nullable_arrays(&mut schemas));
        assert_eq!(schemas, before);
    }

    #[test]
    fn a_target_that_already_says_it_passes_quietly() {
        let mut schemas = Map::new();
        schemas.insert(
            "Meta".into(),
            json!({"properties": {"queueRefId": reference("QueueRefId")}}),
        );
        schemas.insert(
            "Activity".into(),
            json!({"properties": {"@uuid": {"type": "string", "format": "uuid"}}}),
        );
        let before = schemas.clone();
        assert!(queue_ref_id_number_or_text(&mut schemas));
        assert!(event_uuid(&mut schemas));
        assert_eq!(schemas, before);
    }

    #[test]
    fn a_missing_rule_names_itself_and_its_target() {
        let missing = RuleMissing {
            rule: "queue_ref_id_number_or_text",
            target: "`Meta.queueRefId`",
        };
        assert_eq!(
            missing.to_string(),
            "wire rule `queue_ref_id_number_or_text`: `Meta.queueRefId` is not in the spec \
             any more; remove or update the rule"
        );
    }

    #[test]
    fn every_rule_is_documented() {
        for rule in OPERATION_RULES {
            assert!(!rule.observed.is_empty() && !rule.name.is_empty() && !rule.target.is_empty());
        }
        for rule in RULES {
            assert!(!rule.observed.is_empty() && !rule.name.is_empty() && !rule.target.is_empty());
        }
    }
}
