//! `/v2/metadefs/…`: the metadata definitions catalogue. Each module
//! serves the URLs its name mirrors (`namespaces/{ns}/objects` in
//! `objects`, and so on).

use axum::Router;

use crate::state::AppState;

pub mod namespaces;
pub mod objects;
pub mod properties;
pub mod resource_types;
pub mod tags;

pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(namespaces::routes())
        .merge(objects::routes())
        .merge(properties::routes())
        .merge(tags::routes())
        .merge(resource_types::routes())
}

/// The value of the query parameter `name`.
fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
}
