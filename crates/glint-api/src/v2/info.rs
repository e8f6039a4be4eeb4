//! `/v2/info/*`: discovery of import methods, stores and quota usage.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use glint_store::{PropertyValue, StoreEntry};
use serde_json::{Map, Value, json};

use crate::context::Ctx;
use crate::error::ApiError;
use crate::json::Json;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/info/import", get(show_import_info))
        .route("/v2/info/stores", get(list_stores))
        .route("/v2/info/stores/detail", get(list_store_details))
        .route("/v2/info/usage", get(show_usage))
}

pub async fn show_import_info(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"import-methods": {
        "description": "Import methods available.",
        "type": "array",
        "value": state.config.import_methods,
    }}))
}

const NOT_MULTI_STORE: &str = "Multi backend is not supported at this site.";

/// One store as `/v2/info/stores` shows it; Glance writes its flags as
/// strings.
fn store_view(entry: &StoreEntry, default: bool) -> Map<String, Value> {
    let mut view = Map::new();
    view.insert("id".into(), json!(entry.id()));
    if let Some(description) = &entry.meta.description {
        view.insert("description".into(), json!(description));
    }
    if default {
        view.insert("default".into(), json!("true"));
    }
    if entry.meta.read_only {
        view.insert("read-only".into(), json!("true"));
    }
    view
}

fn property(value: &PropertyValue) -> Value {
    match value {
        PropertyValue::Text(t) => json!(t),
        PropertyValue::Int(i) => json!(i),
        PropertyValue::Bool(b) => json!(b),
    }
}

/// Only multi-store deployments (`enabled_backends`) list their stores.
pub async fn list_stores(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let stores = state
        .images
        .list_stores()
        .map_err(|_| ApiError::NotFound(NOT_MULTI_STORE.into()))?;
    let views: Vec<Value> = stores
        .iter()
        .enumerate()
        .map(|(i, entry)| Value::Object(store_view(entry, i == 0)))
        .collect();
    Ok(Json(json!({ "stores": views })))
}

/// The stores with their type, weight and settings (`stores_info_detail`).
pub async fn list_store_details(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Json<Value>, ApiError> {
    if !state.images.stores().is_multi_store() {
        return Err(ApiError::NotFound(NOT_MULTI_STORE.into()));
    }
    let stores = state.images.list_store_details(&ctx).await?;
    let views: Vec<Value> = stores
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            let mut view = store_view(entry, i == 0);
            view.insert("type".into(), json!(entry.meta.kind));
            let properties: Map<String, Value> = entry
                .meta
                .properties
                .iter()
                .map(|(k, v)| (k.clone(), property(v)))
                .collect();
            view.insert("properties".into(), Value::Object(properties));
            view.insert("weight".into(), json!(entry.meta.weight));
            Value::Object(view)
        })
        .collect();
    Ok(Json(json!({ "stores": views })))
}

/// The caller's project's Keystone limits and usage, each resource as
/// `{"usage": …, "limit": …}` (Glance's order); `{"usage": {}}` when
/// `use_keystone_limits` is off, as Glance answers then.
pub async fn show_usage(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Json<Value>, ApiError> {
    let usage = state.images.usage(&ctx).await?;
    let view: Map<String, Value> = usage
        .unwrap_or_default()
        .iter()
        .map(|u| {
            let entry = json!({"usage": u.usage, "limit": u.limit});
            (u.resource.as_str().to_owned(), entry)
        })
        .collect();
    Ok(Json(json!({ "usage": view })))
}
