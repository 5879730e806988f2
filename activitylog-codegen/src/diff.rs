//! What changed in the API between two versions of the spec.
//!
//! [`compare`] reads two *normalized* documents (see
//! [`crate::normalize_tolerant`]), so domain names and wire rules apply to
//! both and only what the generated client exposes can differ: operations,
//! their parameters and response statuses, the component types, their
//! fields and enum values. Descriptions, examples and defaults are not
//! compared. [`crate::changelog`] renders the result.
//!
//! ```
//! use activitylog_codegen::{diff, load, normalize};
//! let spec = load(activitylog_codegen::SPEC_PATH.as_ref()).unwrap();
//! let doc = serde_json::to_value(normalize(spec).unwrap()).unwrap();
//! assert!(diff::compare(&doc, &doc).is_empty());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value};

/// How a [`Change`] affects code written against the generated client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Impact {
    /// Such code may stop compiling or working: something removed, a type
    /// changed, an operation moved or renamed, a parameter newly required, a
    /// field's required-ness changed (`T` against `Option<T>`), an enum value
    /// gone.
    Breaking,
    /// Something new: an operation, an optional parameter, a response, a
    /// type, a field, an enum value.
    Addition,
    /// Neither: a parameter that is no longer required.
    Compatible,
}

/// The part of the API a [`Change`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// An operation: a method of the generated client.
    Operation {
        /// Its `operationId`, or `METHOD /path` when it has none.
        id: String,
        /// `METHOD /path`, as in the old spec (the new one when added).
        endpoint: String,
    },
    /// A parameter of an operation.
    Parameter {
        /// The operation's id (as in [`Subject::Operation`]; the new one when renamed).
        operation: String,
        /// `path`, `query`, `header` or `cookie`.
        location: String,
        /// The parameter's name.
        name: String,
    },
    /// A response status of an operation.
    Response {
        /// The operation's id (as in [`Subject::Operation`]; the new one when renamed).
        operation: String,
        /// `200`, `4XX`, `default`, ...
        status: String,
    },
    /// A component schema: a type of the generated client.
    Type {
        /// The component's name.
        name: String,
    },
    /// A property of a component schema: a field of a generated type.
    Field {
        /// The component's name.
        type_name: String,
        /// The property's name, as on the wire.
        name: String,
    },
}

/// What happened to a [`Subject`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    /// It is gone.
    Removed,
    /// It is new.
    Added {
        /// Its type: of a parameter, a field, or a response's body.
        ty: Option<String>,
        /// Whether it must be present (parameters and fields).
        required: Option<bool>,
    },
    /// Its type is different (for a response, the type of its body).
    TypeChanged {
        /// The old type.
        from: String,
        /// The new type.
        to: String,
    },
    /// It became required (`now`), or stopped being required.
    RequiredChanged {
        /// Whether it is required in the new spec.
        now: bool,
    },
    /// An operation's method or path changed.
    Moved {
        /// The new `METHOD /path`.
        to: String,
    },
    /// An operation's `operationId` changed (same method and path).
    Renamed {
        /// The new `operationId`.
        to: String,
    },
    /// An enum lists a new value.
    EnumValueAdded {
        /// The value (a string as is, anything else as JSON).
        value: String,
    },
    /// An enum no longer lists a value.
    EnumValueRemoved {
        /// The value (a string as is, anything else as JSON).
        value: String,
    },
}

/// One difference between two versions of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// What changed.
    pub subject: Subject,
    /// How.
    pub kind: ChangeKind,
}

impl Change {
    /// Whether the change breaks code written against the old API.
    pub fn impact(&self) -> Impact {
        use ChangeKind::*;
        let is_parameter = matches!(self.subject, Subject::Parameter { .. });
        match &self.kind {
            Removed | TypeChanged { .. } | Moved { .. } | Renamed { .. } => Impact::Breaking,
            EnumValueRemoved { .. } => Impact::Breaking,
            Added {
                required: Some(true),
                ..
            } if is_parameter => Impact::Breaking,
            Added { .. } | EnumValueAdded { .. } => Impact::Addition,
            RequiredChanged { now: false } if is_parameter => Impact::Compatible,
            RequiredChanged { .. } => Impact::Breaking,
        }
    }

    /// The order of a changelog: impact, then operations (each with its
    /// parameters and responses) before types (each with its fields).
    fn sort_key(&self) -> (Impact, u8, &str, u8, &str, &str, &ChangeKind) {
        let (scope, owner, rank, first, second) = match &self.subject {
            Subject::Operation { id, endpoint } => (0, id, 0, endpoint.as_str(), ""),
            Subject::Parameter {
                operation,
                location,
                name,
            } => (0, operation, 1, location.as_str(), name.as_str()),
            Subject::Response { operation, status } => (0, operation, 2, status.as_str(), ""),
            Subject::Type { name } => (1, name, 0, "", ""),
            Subject::Field { type_name, name } => (1, type_name, 1, name.as_str(), ""),
        };
        (self.impact(), scope, owner, rank, first, second, &self.kind)
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Operation { id, endpoint } if id == endpoint => {
                write!(f, "operation {endpoint}")
            }
            Subject::Operation { id, endpoint } => write!(f, "operation `{id}` ({endpoint})"),
            Subject::Parameter {
                operation,
                location,
                name,
            } => write!(f, "`{operation}`: {location} parameter `{name}`"),
            Subject::Response { operation, status } => {
                write!(f, "`{operation}`: response {status}")
            }
            Subject::Type { name } => write!(f, "type `{name}`"),
            Subject::Field { type_name, name } => write!(f, "field `{type_name}.{name}`"),
        }
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.subject)?;
        match &self.kind {
            ChangeKind::Removed => write!(f, " removed"),
            ChangeKind::Added { ty, required } => {
                write!(f, " added")?;
                let required = required.map(|r| if r { "required" } else { "optional" });
                let details: Vec<&str> = ty.as_deref().into_iter().chain(required).collect();
                if details.is_empty() {
                    Ok(())
                } else {
                    write!(f, " ({})", details.join(", "))
                }
            }
            ChangeKind::TypeChanged { from, to } => {
                write!(f, " changed type from `{from}` to `{to}`")
            }
            ChangeKind::RequiredChanged { now: true } => write!(f, " is now required"),
            ChangeKind::RequiredChanged { now: false } => write!(f, " is no longer required"),
            ChangeKind::Moved { to } => write!(f, " moved to {to}"),
            ChangeKind::Renamed { to } => write!(f, " renamed to `{to}`"),
            ChangeKind::EnumValueAdded { value } => write!(f, ": enum value `{value}` added"),
            ChangeKind::EnumValueRemoved { value } => write!(f, ": enum value `{value}` removed"),
        }
    }
}

/// The changes from the normalized document `old` to the normalized
/// document `new` (both as JSON, `serde_json::to_value(normalized_spec)`),
/// breaking ones first, each group in a stable order.
///
/// Operations are matched by `operationId`, then by method and path (a
/// changed `operationId`); parameters by location and name (a renamed
/// parameter is one removed and one added); types by component name.
/// Anything that is not shaped as OpenAPI says counts as absent.
pub fn compare(old: &Value, new: &Value) -> Vec<Change> {
    let mut changes = Changes::default();
    compare_operations(old, new, &mut changes);
    compare_types(old, new, &mut changes);
    let mut changes = changes.0;
    changes.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    changes
}

/// The list being built.
#[derive(Default)]
struct Changes(Vec<Change>);

impl Changes {
    fn push(&mut self, subject: Subject, kind: ChangeKind) {
        self.0.push(Change { subject, kind });
    }
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// An operation of a document, with what it needs for comparison.
struct Operation<'a> {
    id: String,
    endpoint: String,
    path_item: &'a Value,
    operation: &'a Value,
}

/// The operations of `doc`, by id.
fn operations(doc: &Value) -> BTreeMap<String, Operation<'_>> {
    let mut found = BTreeMap::new();
    let Some(paths) = doc.get("paths").and_then(Value::as_object) else {
        return found;
    };
    for (path, path_item) in paths {
        let path_item = resolve(doc, path_item);
        for method in METHODS {
            let Some(operation) = path_item.get(method).filter(|op| op.is_object()) else {
                continue;
            };
            let endpoint = format!("{} {path}", method.to_ascii_uppercase());
            let id = operation
                .get("operationId")
                .and_then(Value::as_str)
                .map_or_else(|| endpoint.clone(), str::to_owned);
            found.insert(
                id.clone(),
                Operation {
                    id,
                    endpoint,
                    path_item,
                    operation,
                },
            );
        }
    }
    found
}

fn compare_operations(old_doc: &Value, new_doc: &Value, changes: &mut Changes) {
    let old = operations(old_doc);
    let mut new = operations(new_doc);
    let mut gone = Vec::new();
    for (id, before) in &old {
        match new.remove(id) {
            Some(after) => {
                if before.endpoint != after.endpoint {
                    changes.push(
                        operation_subject(before),
                        ChangeKind::Moved {
                            to: after.endpoint.clone(),
                        },
                    );
                }
                compare_operation((old_doc, before), (new_doc, &after), changes);
            }
            None => gone.push(before),
        }
    }
    let mut fresh: Vec<Operation<'_>> = new.into_values().collect();
    for before in gone {
        match fresh
            .iter()
            .position(|after| after.endpoint == before.endpoint)
        {
            Some(at) => {
                let after = fresh.remove(at);
                changes.push(
                    operation_subject(before),
                    ChangeKind::Renamed {
                        to: after.id.clone(),
                    },
                );
                compare_operation((old_doc, before), (new_doc, &after), changes);
            }
            None => changes.push(operation_subject(before), ChangeKind::Removed),
        }
    }
    for after in &fresh {
        changes.push(
            operation_subject(after),
            ChangeKind::Added {
                ty: None,
                required: None,
            },
        );
    }
}

fn operation_subject(operation: &Operation<'_>) -> Subject {
    Subject::Operation {
        id: operation.id.clone(),
        endpoint: operation.endpoint.clone(),
    }
}

/// Compares the parameters and responses of one operation; changes are
/// filed under the new operation's id.
fn compare_operation(
    (old_doc, before): (&Value, &Operation<'_>),
    (new_doc, after): (&Value, &Operation<'_>),
    changes: &mut Changes,
) {
    let operation = &after.id;
    let old = parameters(old_doc, before);
    let new = parameters(new_doc, after);
    for key in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
        let (location, name) = key;
        let subject = || Subject::Parameter {
            operation: operation.clone(),
            location: location.clone(),
            name: name.clone(),
        };
        match (old.get(key), new.get(key)) {
            (Some(_), None) => changes.push(subject(), ChangeKind::Removed),
            (None, Some(param)) => changes.push(
                subject(),
                ChangeKind::Added {
                    ty: Some(param.ty.clone()),
                    required: Some(param.required),
                },
            ),
            (Some(before), Some(after)) => {
                compare_typed(&before.ty, &after.ty, subject, changes);
                if before.required != after.required {
                    changes.push(
                        subject(),
                        ChangeKind::RequiredChanged {
                            now: after.required,
                        },
                    );
                }
                compare_enums(&before.values, &after.values, subject, changes);
            }
            (None, None) => {}
        }
    }

    let old = responses(old_doc, before.operation);
    let new = responses(new_doc, after.operation);
    for status in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
        let subject = || Subject::Response {
            operation: operation.clone(),
            status: status.clone(),
        };
        match (old.get(status), new.get(status)) {
            (Some(_), None) => changes.push(subject(), ChangeKind::Removed),
            (None, Some(body)) => changes.push(
                subject(),
                ChangeKind::Added {
                    ty: Some(body.clone()),
                    required: None,
                },
            ),
            (Some(before), Some(after)) => compare_typed(before, after, subject, changes),
            (None, None) => {}
        }
    }
}

/// A parameter, as far as the generated client exposes it.
struct Parameter {
    required: bool,
    ty: String,
    values: BTreeMap<String, String>,
}

/// The parameters of an operation (the path's, overridden by the
/// operation's own), by `(location, name)`.
fn parameters(doc: &Value, operation: &Operation<'_>) -> BTreeMap<(String, String), Parameter> {
    let mut found = BTreeMap::new();
    let lists = [operation.path_item, operation.operation]
        .into_iter()
        .filter_map(|owner| owner.get("parameters").and_then(Value::as_array));
    for parameter in lists.flatten() {
        let parameter = resolve(doc, parameter);
        let (Some(name), Some(location)) = (
            parameter.get("name").and_then(Value::as_str),
            parameter.get("in").and_then(Value::as_str),
        ) else {
            continue;
        };
        let schema = parameter.get("schema").or_else(|| {
            parameter
                .get("content")
                .and_then(Value::as_object)
                .and_then(|content| content.values().next())
                .and_then(|media| media.get("schema"))
        });
        let required = parameter.get("required").and_then(Value::as_bool) == Some(true);
        found.insert(
            (location.to_string(), name.to_string()),
            Parameter {
                required,
                ty: schema.map_or_else(|| "any".to_string(), describe),
                values: schema.map(enum_values).unwrap_or_default(),
            },
        );
    }
    found
}

/// The responses of an operation: status → the type of the body.
fn responses(doc: &Value, operation: &Value) -> BTreeMap<String, String> {
    let Some(responses) = operation.get("responses").and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    responses
        .iter()
        .map(|(status, response)| (status.clone(), body(resolve(doc, response))))
        .collect()
}

/// The type of a response's body: its schema's type for JSON alone,
/// `media/type: type, ...` otherwise.
fn body(response: &Value) -> String {
    let Some(content) = response
        .get("content")
        .and_then(Value::as_object)
        .filter(|content| !content.is_empty())
    else {
        return "no body".to_string();
    };
    let describe_media = |media: &Value| media.get("schema").map_or("any".into(), describe);
    if let (1, Some(json)) = (content.len(), content.get("application/json")) {
        return describe_media(json);
    }
    let mut parts: Vec<String> = content
        .iter()
        .map(|(media_type, media)| format!("{media_type}: {}", describe_media(media)))
        .collect();
    parts.sort();
    parts.join(", ")
}

fn compare_types(old_doc: &Value, new_doc: &Value, changes: &mut Changes) {
    let empty = Map::new();
    let old = schemas(old_doc).unwrap_or(&empty);
    let new = schemas(new_doc).unwrap_or(&empty);
    for name in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
        let subject = || Subject::Type { name: name.clone() };
        match (old.get(name), new.get(name)) {
            (Some(_), None) => changes.push(subject(), ChangeKind::Removed),
            (None, Some(_)) => changes.push(
                subject(),
                ChangeKind::Added {
                    ty: None,
                    required: None,
                },
            ),
            (Some(before), Some(after)) => {
                compare_typed(&describe(before), &describe(after), subject, changes);
                compare_enums(&enum_values(before), &enum_values(after), subject, changes);
                compare_fields(name, before, after, changes);
            }
            (None, None) => {}
        }
    }
}

fn schemas(doc: &Value) -> Option<&Map<String, Value>> {
    doc.pointer("/components/schemas")?.as_object()
}

/// A field, as far as the generated type exposes it.
struct Field {
    required: bool,
    ty: String,
}

/// The properties of an object schema, by name.
fn fields(schema: &Value) -> BTreeMap<&str, Field> {
    let required: BTreeSet<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return BTreeMap::new();
    };
    properties
        .iter()
        .map(|(name, property)| {
            let field = Field {
                required: required.contains(name.as_str()),
                ty: describe(property),
            };
            (name.as_str(), field)
        })
        .collect()
}

fn compare_fields(type_name: &str, before: &Value, after: &Value, changes: &mut Changes) {
    let old = fields(before);
    let new = fields(after);
    for name in old.keys().chain(new.keys()).collect::<BTreeSet<_>>() {
        let subject = || Subject::Field {
            type_name: type_name.to_string(),
            name: (*name).to_string(),
        };
        match (old.get(name), new.get(name)) {
            (Some(_), None) => changes.push(subject(), ChangeKind::Removed),
            (None, Some(field)) => changes.push(
                subject(),
                ChangeKind::Added {
                    ty: Some(field.ty.clone()),
                    required: Some(field.required),
                },
            ),
            (Some(before), Some(after)) => {
                compare_typed(&before.ty, &after.ty, subject, changes);
                if before.required != after.required {
                    changes.push(
                        subject(),
                        ChangeKind::RequiredChanged {
                            now: after.required,
                        },
                    );
                }
            }
            (None, None) => {}
        }
    }
}

fn compare_typed(before: &str, after: &str, subject: impl Fn() -> Subject, changes: &mut Changes) {
    if before != after {
        changes.push(
            subject(),
            ChangeKind::TypeChanged {
                from: before.to_string(),
                to: after.to_string(),
            },
        );
    }
}

fn compare_enums(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    subject: impl Fn() -> Subject,
    changes: &mut Changes,
) {
    for (key, value) in before {
        if !after.contains_key(key) {
            let value = value.clone();
            changes.push(subject(), ChangeKind::EnumValueRemoved { value });
        }
    }
    for (key, value) in after {
        if !before.contains_key(key) {
            let value = value.clone();
            changes.push(subject(), ChangeKind::EnumValueAdded { value });
        }
    }
}

/// The values an enum schema lists, its own and those of its alternatives
/// (an open enum keeps them in `oneOf`): JSON text → text for people.
fn enum_values(schema: &Value) -> BTreeMap<String, String> {
    let alternatives = ["oneOf", "anyOf", "allOf"]
        .iter()
        .filter_map(|key| schema.get(key).and_then(Value::as_array))
        .flatten();
    std::iter::once(schema)
        .chain(alternatives)
        .filter_map(|schema| schema.get("enum").and_then(Value::as_array))
        .flatten()
        .map(|value| {
            let json = value.to_string();
            let text = value.as_str().map_or_else(|| json.clone(), str::to_owned);
            (json, text)
        })
        .collect()
}

/// How deep [`describe`] looks into nested schemas.
const MAX_DEPTH: usize = 16;

/// The type of a schema, for people: `ActivityPage` (a reference),
/// `integer (int64)`, `array of Hit`, `map of string`, `one of Text: string |
/// Number: number`, `nullable array of Resource`, `any`.
pub fn describe(schema: &Value) -> String {
    describe_at(schema, 0)
}

fn describe_at(schema: &Value, depth: usize) -> String {
    if depth > MAX_DEPTH {
        return "…".to_string();
    }
    let Some(map) = schema.as_object() else {
        return "any".to_string();
    };
    if let Some(target) = map.get("$ref").and_then(Value::as_str) {
        return target.rsplit('/').next().unwrap_or(target).to_string();
    }
    let nested = |schema: &Value| describe_at(schema, depth + 1);
    let combined = [
        ("oneOf", "one of"),
        ("anyOf", "any of"),
        ("allOf", "all of"),
    ]
    .iter()
    .find_map(|(key, word)| {
        let alternatives = map.get(*key)?.as_array()?;
        let parts: Vec<String> = alternatives
            .iter()
            .map(
                |alternative| match alternative.get("title").and_then(Value::as_str) {
                    Some(title) => format!("{title}: {}", nested(alternative)),
                    None => nested(alternative),
                },
            )
            .collect();
        Some(format!("{word} {}", parts.join(" | ")))
    });
    let mut text = combined.unwrap_or_else(|| match map.get("type").and_then(Value::as_str) {
        Some("array") => format!("array of {}", map.get("items").map_or("any".into(), nested)),
        Some("object") | None if map.contains_key("properties") => "object".to_string(),
        Some("object") => match map.get("additionalProperties") {
            Some(values) if values.as_object().is_some_and(|v| !v.is_empty()) => {
                format!("map of {}", nested(values))
            }
            _ => "object".to_string(),
        },
        Some(ty) => match map.get("format").and_then(Value::as_str) {
            Some(format) => format!("{ty} ({format})"),
            None => ty.to_string(),
        },
        None => "any".to_string(),
    });
    if map.contains_key("enum") {
        text.push_str(" enum");
    }
    if map.get("nullable") == Some(&Value::Bool(true)) {
        text.insert_str(0, "nullable ");
    }
    text
}

/// Follows local `$ref`s (`#/components/parameters/...`) a few hops; what
/// does not resolve stays as it is.
fn resolve<'a>(doc: &'a Value, mut value: &'a Value) -> &'a Value {
    for _ in 0..MAX_DEPTH {
        let Some(target) = value
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|target| target.strip_prefix('#'))
            .and_then(|pointer| doc.pointer(pointer))
        else {
            break;
        };
        value = target;
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_read_like_the_generated_code() {
        let cases = [
            (json!({"$ref": "#/components/schemas/Hit"}), "Hit"),
            (
                json!({"type": "integer", "format": "int64"}),
                "integer (int64)",
            ),
            (
                json!({"type": "array", "nullable": true, "items": {"$ref": "#/x/Resource"}}),
                "nullable array of Resource",
            ),
            (
                json!({"type": "object", "additionalProperties": {"type": "string"}}),
                "map of string",
            ),
            (
                json!({"oneOf": [{"title": "Text", "type": "string"}, {"type": "number"}]}),
                "one of Text: string | number",
            ),
            (json!({"type": "string", "enum": ["A"]}), "string enum"),
            (json!({}), "any"),
            (json!(7), "any"),
        ];
        for (schema, text) in cases {
            assert_eq!(describe(&schema), text, "{schema}");
        }
    }

    #[test]
    fn nesting_beyond_the_limit_is_cut_short() {
        let mut schema = json!({"type": "string"});
        for _ in 0..100 {
            schema = json!({"type": "array", "items": schema});
        }
        assert!(describe(&schema).ends_with("array of …"));
    }

    #[test]
    fn anything_shaped_oddly_counts_as_absent() {
        let odd = json!({"paths": {"/x": {"get": 3, "post": {"parameters": [1, {"name": "a"}],
                          "responses": []}}}, "components": {"schemas": []}});
        let changes = compare(&json!({}), &odd);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].to_string(), "operation POST /x added");
        assert_eq!(compare(&json!(null), &json!("text")), []);
    }

    #[test]
    fn references_resolve_and_cycles_end() {
        let doc = json!({"components": {"parameters": {
            "A": {"$ref": "#/components/parameters/B"},
            "B": {"name": "b", "in": "query"},
            "C": {"$ref": "#/components/parameters/C"}
        }}});
        let a = json!({"$ref": "#/components/parameters/A"});
        assert_eq!(resolve(&doc, &a)["name"], "b");
        let c = json!({"$ref": "#/components/parameters/C"});
        assert!(resolve(&doc, &c).get("$ref").is_some());
    }
}
