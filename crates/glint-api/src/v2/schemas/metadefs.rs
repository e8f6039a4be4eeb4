//! `/v2/schemas/metadefs/*`: the metadefs schemas, as Glance serves them
//! (generated from its schema definitions; its API reference's samples
//! predate the 80-character bound on property names).

use std::sync::OnceLock;

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::Value;

use crate::json::Json;
use crate::state::AppState;

/// The schema name in the URL and its document.
const SCHEMAS: [(&str, &str); 10] = [
    (
        "namespace",
        include_str!("../../../schemas/metadefs/namespace.json"),
    ),
    (
        "namespaces",
        include_str!("../../../schemas/metadefs/namespaces.json"),
    ),
    (
        "object",
        include_str!("../../../schemas/metadefs/object.json"),
    ),
    (
        "objects",
        include_str!("../../../schemas/metadefs/objects.json"),
    ),
    (
        "property",
        include_str!("../../../schemas/metadefs/property.json"),
    ),
    (
        "properties",
        include_str!("../../../schemas/metadefs/properties.json"),
    ),
    (
        "resource_type",
        include_str!("../../../schemas/metadefs/resource_type.json"),
    ),
    (
        "resource_types",
        include_str!("../../../schemas/metadefs/resource_types.json"),
    ),
    ("tag", include_str!("../../../schemas/metadefs/tag.json")),
    ("tags", include_str!("../../../schemas/metadefs/tags.json")),
];

/// The metadefs schema `name`, parsed once.
pub fn metadef_schema(name: &str) -> Value {
    static PARSED: OnceLock<Vec<(&'static str, Value)>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| {
        SCHEMAS
            .iter()
            .map(|(n, text)| (*n, serde_json::from_str(text).unwrap_or(Value::Null)))
            .collect()
    });
    parsed
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(Value::Null, |(_, v)| v.clone())
}

pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for (name, _) in SCHEMAS {
        router = router.route(
            &format!("/v2/schemas/metadefs/{name}"),
            get(move |State(_): State<AppState>| async move { Json(metadef_schema(name)) }),
        );
    }
    router
}
