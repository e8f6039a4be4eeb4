//! The JSON shapes of the metadefs catalogue, as Glance's metadef models
//! write them: attributes in their declared order, those without a value
//! left out, and `updated_at` only once the thing has been changed (Glance
//! leaves the column empty until then).

use glint_core::{NamespaceDetail, NamespacePage};
use glint_model::metadef::{Association, Entry, Namespace, ResourceType};
use glint_model::time::{Timestamp, format_iso};
use serde_json::{Map, Value, json};

/// The href of a namespace (names are written into paths as they are,
/// as Glance does).
pub fn namespace_href(name: &str) -> String {
    format!("/v2/metadefs/namespaces/{name}")
}

fn times(m: &mut Map<String, Value>, created: Timestamp, updated: Timestamp) {
    m.insert("created_at".into(), json!(format_iso(created)));
    if updated != created {
        m.insert("updated_at".into(), json!(format_iso(updated)));
    }
}

fn put_opt(m: &mut Map<String, Value>, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(key.into(), json!(v));
    }
}

fn namespace_fields(ns: &Namespace) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("namespace".into(), json!(ns.namespace));
    put_opt(&mut m, "display_name", &ns.display_name);
    put_opt(&mut m, "description", &ns.description);
    m.insert("visibility".into(), json!(ns.visibility.as_str()));
    m.insert("protected".into(), json!(ns.protected));
    put_opt(&mut m, "owner", &ns.owner);
    times(&mut m, ns.created_at, ns.updated_at);
    m
}

fn finish_namespace(mut m: Map<String, Value>, ns: &Namespace) -> Value {
    m.insert("self".into(), json!(namespace_href(&ns.namespace)));
    m.insert("schema".into(), json!("/v2/schemas/metadefs/namespace"));
    Value::Object(m)
}

/// A namespace's own fields (the answer to a PUT).
pub fn namespace(ns: &Namespace) -> Value {
    finish_namespace(namespace_fields(ns), ns)
}

/// A namespace with what it holds (show, create).
pub fn namespace_detail(d: &NamespaceDetail) -> Value {
    let ns = &d.namespace;
    let mut m = namespace_fields(ns);
    if !d.associations.is_empty() {
        m.insert(
            "resource_type_associations".into(),
            associations_array(&d.associations),
        );
    }
    if !d.properties.is_empty() {
        m.insert("properties".into(), properties_map(&d.properties));
    }
    if !d.objects.is_empty() {
        let objects = d.objects.iter().map(|o| object(&ns.namespace, o)).collect();
        m.insert("objects".into(), Value::Array(objects));
    }
    if !d.tags.is_empty() {
        m.insert("tags".into(), tag_names(&d.tags));
    }
    finish_namespace(m, ns)
}

/// `GET /v2/metadefs/namespaces`: `first` is the query without its
/// marker, `next` the same with the last namespace as marker.
pub fn namespace_list(page: &NamespacePage, params: &[(String, String)]) -> Value {
    let kept: Vec<(&str, &str)> = params
        .iter()
        .filter(|(k, _)| k != "marker")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let encode = |pairs: &[(&str, &str)]| {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs.iter().copied())
            .finish()
    };
    let base = "/v2/metadefs/namespaces";
    let namespaces: Vec<Value> = page
        .namespaces
        .iter()
        .map(|(ns, assocs)| {
            let mut m = namespace_fields(ns);
            if !assocs.is_empty() {
                m.insert(
                    "resource_type_associations".into(),
                    associations_array(assocs),
                );
            }
            finish_namespace(m, ns)
        })
        .collect();
    let mut m = Map::new();
    m.insert("namespaces".into(), Value::Array(namespaces));
    if let Some(marker) = &page.next_marker {
        let mut next = kept.clone();
        next.push(("marker", marker));
        m.insert("next".into(), json!(format!("{base}?{}", encode(&next))));
    }
    m.insert("schema".into(), json!("/v2/schemas/metadefs/namespaces"));
    let query = encode(&kept);
    let first = if query.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{query}")
    };
    m.insert("first".into(), json!(first));
    Value::Object(m)
}

/// A resource type association.
pub fn association(a: &Association) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(a.resource_type));
    put_opt(&mut m, "prefix", &a.prefix);
    put_opt(&mut m, "properties_target", &a.properties_target);
    times(&mut m, a.created_at, a.updated_at);
    Value::Object(m)
}

fn associations_array(assocs: &[Association]) -> Value {
    Value::Array(assocs.iter().map(association).collect())
}

/// `GET …/namespaces/{ns}/resource_types`.
pub fn association_list(assocs: &[Association]) -> Value {
    json!({ "resource_type_associations": associations_array(assocs) })
}

/// `GET /v2/metadefs/resource_types`.
pub fn resource_type_list(types: &[ResourceType]) -> Value {
    let types: Vec<Value> = types
        .iter()
        .map(|t| {
            let mut m = Map::new();
            m.insert("name".into(), json!(t.name));
            times(&mut m, t.created_at, t.updated_at);
            Value::Object(m)
        })
        .collect();
    json!({ "resource_types": types })
}

fn properties_map(props: &[Entry]) -> Value {
    Value::Object(
        props
            .iter()
            .map(|p| (p.name.clone(), Value::Object(p.body.clone())))
            .collect(),
    )
}

/// One property definition, with its name.
pub fn property(p: &Entry) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(p.name));
    m.extend(p.body.clone());
    Value::Object(m)
}

/// `GET …/properties`.
pub fn property_list(props: &[Entry]) -> Value {
    json!({ "properties": properties_map(props) })
}

/// One object of the namespace `namespace`.
pub fn object(namespace: &str, o: &Entry) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(o.name));
    for key in ["required", "description", "properties"] {
        if let Some(v) = o.body.get(key) {
            m.insert(key.into(), v.clone());
        }
    }
    times(&mut m, o.created_at, o.updated_at);
    m.insert(
        "self".into(),
        json!(format!("{}/objects/{}", namespace_href(namespace), o.name)),
    );
    m.insert("schema".into(), json!("/v2/schemas/metadefs/object"));
    Value::Object(m)
}

/// `GET …/objects`; the schema link is relative, as Glance writes it.
pub fn object_list(namespace: &str, objects: &[Entry]) -> Value {
    let objects: Vec<Value> = objects.iter().map(|o| object(namespace, o)).collect();
    json!({ "objects": objects, "schema": "v2/schemas/metadefs/objects" })
}

/// One tag.
pub fn tag(t: &Entry) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(t.name));
    times(&mut m, t.created_at, t.updated_at);
    Value::Object(m)
}

fn tag_names(tags: &[Entry]) -> Value {
    Value::Array(tags.iter().map(|t| json!({ "name": t.name })).collect())
}

/// `GET …/tags` and the answer to `POST …/tags`: names only.
pub fn tag_list(tags: &[Entry]) -> Value {
    json!({ "tags": tag_names(tags) })
}
