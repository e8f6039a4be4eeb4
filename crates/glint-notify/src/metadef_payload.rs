//! The payloads of the `metadef_*` notifications, field for field as
//! Glance's `format_metadef_*_notification` writes them. `deleted` is set
//! with its time for the delete events; `*_old` is the name before a
//! rename.

use glint_model::metadef::{Association, Entry, Namespace};
use glint_model::time::{Timestamp, format_iso};
use serde_json::{Map, Value, json};

/// The fields of a property definition a payload lists.
const PROPERTY_FIELDS: [&str; 16] = [
    "type",
    "title",
    "description",
    "default",
    "minimum",
    "maximum",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "confidential",
    "items",
    "uniqueItems",
    "minItems",
    "maxItems",
    "additionalItems",
];

fn deleted(payload: &mut Value, at: Option<Timestamp>) {
    payload["deleted"] = json!(at.is_some());
    payload["deleted_at"] = json!(at.map(format_iso));
}

/// `metadef_namespace.*`; `old_name` for an update that renamed it.
pub fn namespace(ns: &Namespace, old_name: Option<&str>, deleted_at: Option<Timestamp>) -> Value {
    let mut p = json!({
        "namespace": ns.namespace,
        "namespace_old": old_name.unwrap_or(&ns.namespace),
        "display_name": ns.display_name,
        "protected": ns.protected,
        "visibility": ns.visibility.as_str(),
        "owner": ns.owner,
        "description": ns.description,
        "created_at": format_iso(ns.created_at),
        "updated_at": format_iso(ns.updated_at),
    });
    deleted(&mut p, deleted_at);
    p
}

/// `metadef_object.*`.
pub fn object(
    namespace: &str,
    entry: &Entry,
    old_name: Option<&str>,
    deleted_at: Option<Timestamp>,
) -> Value {
    let properties: Vec<Value> = entry
        .body
        .get("properties")
        .and_then(Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(name, def)| {
                    let mut m = Map::new();
                    m.insert("name".into(), json!(name));
                    for field in PROPERTY_FIELDS {
                        let v = def.get(field).filter(|v| truthy(v)).cloned();
                        m.insert(field.into(), v.unwrap_or(Value::Null));
                    }
                    Value::Object(m)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut p = json!({
        "namespace": namespace,
        "name": entry.name,
        "name_old": old_name.unwrap_or(&entry.name),
        "properties": properties,
        "required": entry.body.get("required"),
        "description": entry.body.get("description"),
        "created_at": format_iso(entry.created_at),
        "updated_at": format_iso(entry.updated_at),
    });
    deleted(&mut p, deleted_at);
    p
}

/// Python's truth of a value (`x or None` keeps only true ones).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// `metadef_property.*`.
pub fn property(
    namespace: &str,
    entry: &Entry,
    old_name: Option<&str>,
    deleted_at: Option<Timestamp>,
) -> Value {
    let mut m = Map::new();
    m.insert("namespace".into(), json!(namespace));
    m.insert("name".into(), json!(entry.name));
    m.insert("name_old".into(), json!(old_name.unwrap_or(&entry.name)));
    for field in PROPERTY_FIELDS {
        m.insert(
            field.into(),
            entry.body.get(field).cloned().unwrap_or(Value::Null),
        );
    }
    let mut p = Value::Object(m);
    deleted(&mut p, deleted_at);
    p
}

/// `metadef_resource_type.*`: an association.
pub fn association(namespace: &str, assoc: &Association, deleted_at: Option<Timestamp>) -> Value {
    let mut p = json!({
        "namespace": namespace,
        "name": assoc.resource_type,
        "name_old": assoc.resource_type,
        "prefix": assoc.prefix,
        "properties_target": assoc.properties_target,
        "created_at": format_iso(assoc.created_at),
        "updated_at": format_iso(assoc.updated_at),
    });
    deleted(&mut p, deleted_at);
    p
}

/// `metadef_tag.*`.
pub fn tag(
    namespace: &str,
    entry: &Entry,
    old_name: Option<&str>,
    deleted_at: Option<Timestamp>,
) -> Value {
    let mut p = json!({
        "namespace": namespace,
        "name": entry.name,
        "name_old": old_name.unwrap_or(&entry.name),
        "created_at": format_iso(entry.created_at),
        "updated_at": format_iso(entry.updated_at),
    });
    deleted(&mut p, deleted_at);
    p
}
