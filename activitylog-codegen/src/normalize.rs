//! The normalization pass: named components for every inline schema, then
//! the wire-compatibility rules.

use anyhow::{Context, Result};
use openapiv3::OpenAPI;
use serde_json::{Map, Value, json};

use crate::names;
use crate::wire::{self, RuleMissing};

const REF_PREFIX: &str = "#/components/schemas/";

/// Rewrites a spec so the generated client reads like hand-written Rust and
/// survives what the live service actually sends.
///
/// - components named in [`names::RENAMED_COMPONENTS`] get their domain name;
/// - every inline object or enum schema is hoisted into a named component
///   ([`names::for_property`], [`names::for_item`]);
/// - the rules in [`wire::OPERATION_RULES`], then [`wire::RULES`], are applied, in order.
///
/// Fails with [`RulesMissing`] when a wire rule does not find the part of
/// the spec it fixes (a rule whose target already says what the rule adds
/// passes). The pass is idempotent: normalizing a normalized spec changes nothing.
pub fn normalize(spec: OpenAPI) -> Result<OpenAPI> {
    let Normalized { spec, missing } = normalize_tolerant(spec)?;
    if missing.is_empty() {
        Ok(spec)
    } else {
        Err(RulesMissing(missing).into())
    }
}

/// A spec normalized by [`normalize_tolerant`].
#[derive(Debug, Clone)]
pub struct Normalized {
    /// The normalized spec.
    pub spec: OpenAPI,
    /// The wire rules that did not find their target, in the order they ran.
    pub missing: Vec<RuleMissing>,
}

/// Like [`normalize`], but wire rules without a target are reported in
/// [`Normalized::missing`] instead of failing: for reviewing a spec update
/// (`activitylog-codegen diff`) before the rules are brought up to date.
pub fn normalize_tolerant(spec: OpenAPI) -> Result<Normalized> {
    let mut doc = serde_json::to_value(spec).context("serializing the spec")?;
    rename_components(&mut doc);
    hoist_inline_schemas(&mut doc);
    let mut missing = Vec::new();
    for rule in wire::OPERATION_RULES {
        if !(rule.apply)(&mut doc) {
            missing.push(RuleMissing {
                rule: rule.name,
                target: rule.target,
            });
        }
    }
    for rule in wire::RULES {
        if !(rule.apply)(schemas_mut(&mut doc)) {
            missing.push(RuleMissing {
                rule: rule.name,
                target: rule.target,
            });
        }
    }
    let spec = serde_json::from_value(doc)
        .context("normalization did not keep the document a valid OpenAPI 3.0")?;
    Ok(Normalized { spec, missing })
}

/// The error of [`normalize`]: wire rules whose target is not in the spec,
/// one line each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesMissing(pub Vec<RuleMissing>);

impl std::fmt::Display for RulesMissing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, missing) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{missing}")?;
        }
        Ok(())
    }
}

impl std::error::Error for RulesMissing {}

/// The `components.schemas` map, created if the spec has none.
fn schemas_mut(doc: &mut Value) -> &mut Map<String, Value> {
    let components = doc
        .as_object_mut()
        .expect("an OpenAPI document is an object")
        .entry("components")
        .or_insert_with(|| json!({}));
    let schemas = components
        .as_object_mut()
        .expect("components is an object")
        .entry("schemas")
        .or_insert_with(|| json!({}));
    if !schemas.is_object() {
        *schemas = json!({});
    }
    schemas.as_object_mut().expect("just made an object")
}

fn rename_components(doc: &mut Value) {
    for (old, new) in names::RENAMED_COMPONENTS {
        let schemas = schemas_mut(doc);
        if schemas.contains_key(*new) {
            continue;
        }
        let Some(schema) = schemas.remove(*old) else {
            continue;
        };
        schemas.insert((*new).to_string(), schema);
        rewrite_refs(
            doc,
            &format!("{REF_PREFIX}{old}"),
            &format!("{REF_PREFIX}{new}"),
        );
    }
}

fn rewrite_refs(value: &mut Value, old: &str, new: &str) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "$ref" && child.as_str() == Some(old) {
                    *child = Value::String(new.to_string());
                } else {
                    rewrite_refs(child, old, new);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|child| rewrite_refs(child, old, new)),
        _ => {}
    }
}

/// Hoists inline schemas of component properties (and of array items) into
/// components of their own, until none is left.
fn hoist_inline_schemas(doc: &mut Value) {
    let schemas = schemas_mut(doc);
    let mut pending: Vec<String> = schemas.keys().cloned().collect();
    while let Some(parent) = pending.pop() {
        let Some(properties) = schemas
            .get(&parent)
            .and_then(|schema| schema.get("properties"))
            .and_then(Value::as_object)
        else {
            continue;
        };
        let mut inline: Vec<(String, bool)> = Vec::new();
        for (property, schema) in properties {
            if deserves_a_name(schema) {
                inline.push((property.clone(), false));
            } else if schema.get("items").is_some_and(deserves_a_name) {
                inline.push((property.clone(), true));
            }
        }
        for (property, is_item) in inline {
            let wanted = if is_item {
                names::for_item(&parent, &property)
            } else {
                names::for_property(&parent, &property)
            };
            let name = names::unique(wanted, |n| schemas.contains_key(n));
            let slot = &mut schemas[&parent]["properties"][&property];
            let slot = if is_item { &mut slot["items"] } else { slot };
            let schema = std::mem::replace(slot, reference(&name));
            schemas.insert(name.clone(), schema);
            pending.push(name);
        }
    }
}

/// Inline objects with properties and inline enums become named types.
fn deserves_a_name(schema: &Value) -> bool {
    schema.get("$ref").is_none()
        && (schema.get("properties").is_some() || schema.get("enum").is_some())
}

/// A `$ref` to the component `name`.
pub(crate) fn reference(name: &str) -> Value {
    json!({ "$ref": format!("{REF_PREFIX}{name}") })
}
