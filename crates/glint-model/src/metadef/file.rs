//! Glance's metadefs catalogue files (`etc/metadefs/*.json`): one
//! namespace per file, with its resource type associations, properties,
//! objects and tags. Reading one checks it with the rules of a namespace
//! create body; writing one gives every field, so that a file written here
//! loads back to the same catalogue (in glint or in Glance).

use serde_json::{Map, Value, json};

use super::NamespaceDocument;

/// The file of `doc`.
pub fn to_file(doc: &NamespaceDocument) -> Value {
    let ns = &doc.namespace;
    let associations: Vec<Value> = doc
        .associations
        .iter()
        .map(|a| {
            json!({
                "name": a.resource_type,
                "prefix": a.prefix,
                "properties_target": a.properties_target,
            })
        })
        .collect();
    let properties: Map<String, Value> = doc
        .properties
        .iter()
        .map(|p| (p.name.clone(), Value::Object(p.body.clone())))
        .collect();
    let objects: Vec<Value> = doc
        .objects
        .iter()
        .map(|o| {
            let mut m = Map::new();
            m.insert("name".into(), json!(o.name));
            for key in ["description", "required", "properties"] {
                if let Some(v) = o.body.get(key) {
                    m.insert(key.into(), v.clone());
                }
            }
            Value::Object(m)
        })
        .collect();
    let tags: Vec<Value> = doc.tags.iter().map(|t| json!({"name": t.name})).collect();
    json!({
        "namespace": ns.namespace,
        "display_name": ns.display_name,
        "description": ns.description,
        "visibility": ns.visibility.as_str(),
        "protected": ns.protected,
        "owner": ns.owner,
        "resource_type_associations": associations,
        "properties": properties,
        "objects": objects,
        "tags": tags,
    })
}

/// A file's JSON as a namespace create body: Glance's export writes
/// `null` for fields without a value, which a body leaves out.
pub fn as_body(file: &Value) -> Value {
    let mut body = file.clone();
    if let Value::Object(map) = &mut body {
        map.retain(|_, v| !v.is_null());
        if let Some(Value::Array(assocs)) = map.get_mut("resource_type_associations") {
            for a in assocs.iter_mut() {
                if let Value::Object(a) = a {
                    a.retain(|_, v| !v.is_null());
                }
            }
        }
        if let Some(Value::Array(objects)) = map.get_mut("objects") {
            for o in objects.iter_mut() {
                if let Value::Object(o) = o {
                    o.retain(|_, v| !v.is_null());
                }
            }
        }
    }
    body
}

/// The file name Glance's export gives a namespace: its display name (or
/// else its name) without anything but letters and digits.
pub fn file_name(doc: &NamespaceDocument) -> String {
    let ns = &doc.namespace;
    let base: String = ns
        .display_name
        .as_deref()
        .unwrap_or(&ns.namespace)
        .chars()
        .filter(|c| c.is_alphanumeric())
        .collect();
    if base.is_empty() {
        format!("{}.json", ns.id)
    } else {
        format!("{base}.json")
    }
}
