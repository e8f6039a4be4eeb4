//! `/v2/metadefs/namespaces/{ns}/objects[/{name}]`.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::get;
use glint_model::metadef::EntryKind;
use http::StatusCode;
use serde_json::Value;

use crate::body::AnyJsonBody;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::json::Json;
use crate::metadef_views;
use crate::state::AppState;

const KIND: EntryKind = EntryKind::Object;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/metadefs/namespaces/{ns}/objects",
            get(list_objects).post(create_object).delete(delete_objects),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/objects/{name}",
            get(show_object).put(update_object).delete(delete_object),
        )
}

pub async fn list_objects(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(ns): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let objects = state.metadefs.list_entries(&ctx, &ns, KIND).await?;
    Ok(Json(metadef_views::object_list(&ns, &objects)))
}

pub async fn create_object(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(ns): Path<String>,
    AnyJsonBody(body): AnyJsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let object = state.metadefs.create_entry(&ctx, &ns, KIND, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(metadef_views::object(&ns, &object)),
    ))
}

pub async fn show_object(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let object = state.metadefs.show_entry(&ctx, &ns, KIND, &name).await?;
    Ok(Json(metadef_views::object(&ns, &object)))
}

pub async fn update_object(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path((ns, name)): Path<(String, String)>,
    AnyJsonBody(body): AnyJsonBody,
) -> Result<Json<Value>, ApiError> {
    let object = (state.metadefs)
        .update_entry(&ctx, &ns, KIND, &name, &body)
        .await?;
    Ok(Json(metadef_views::object(&ns, &object)))
}

pub async fn delete_object(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path((ns, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.metadefs.delete_entry(&ctx, &ns, KIND, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_objects(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(ns): Path<String>,
) -> Result<StatusCode, ApiError> {
    super::namespaces::delete_all(&state, &ctx, &ns, KIND).await
}
