//! `/v2/info/*`: discovery of import methods, stores and quota usage.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::json::Json;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/info/import", get(show_import_info))
        .route("/info/stores", get(list_stores))
        .route("/info/usage", get(show_usage))
}

pub async fn show_import_info(State(state): State<AppState>) -> Json<Value> {
    Json(json!({"import-methods": {
        "description": "Import methods available.",
        "type": "array",
        "value": state.config.import_methods,
    }}))
}

/// Only multi-store deployments (`enabled_backends`) list their stores.
pub async fn list_stores() -> Result<Json<Value>, ApiError> {
    Err(ApiError::NotFound(
        "Multi backend is not supported at this site.".into(),
    ))
}

/// No unified-limits quotas are configured, so there is no usage to show.
pub async fn show_usage() -> Json<Value> {
    Json(json!({"usage": {}}))
}
