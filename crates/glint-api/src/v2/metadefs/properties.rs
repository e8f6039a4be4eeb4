//! `/v2/metadefs/namespaces/{ns}/properties[/{name}]`.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use glint_model::metadef::EntryKind;
use http::StatusCode;
use serde_json::Value;

use super::param;
use crate::body::AnyJsonBody;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::json::Json;
use crate::metadef_views;
use crate::state::AppState;
use crate::v2::images::query_pairs;

const KIND: EntryKind = EntryKind::Property;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/metadefs/namespaces/{ns}/properties",
            get(list_properties)
                .post(create_property)
                .delete(delete_properties),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/properties/{name}",
            get(show_property)
                .put(update_property)
                .delete(delete_property),
        )
}

pub async fn list_properties(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(ns): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let props = state.metadefs.list_entries(&ctx, &ns, KIND).await?;
    Ok(Json(metadef_views::property_list(&props)))
}

pub async fn create_property(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(ns): Path<String>,
    AnyJsonBody(body): AnyJsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let prop = state.metadefs.create_entry(&ctx, &ns, KIND, &body).await?;
    Ok((StatusCode::CREATED, Json(metadef_views::property(&prop))))
}

pub async fn show_property(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path((ns, name)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let resource_type = param(&query_pairs(raw), "resource_type").filter(|rt| !rt.is_empty());
    let prop = match resource_type {
        Some(rt) => {
            (state.metadefs)
                .show_prefixed_property(&ctx, &ns, &name, &rt)
                .await?
        }
        None => state.metadefs.show_entry(&ctx, &ns, KIND, &name).await?,
    };
    Ok(Json(metadef_views::property(&prop)))
}

pub async fn update_property(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path((ns, name)): Path<(String, String)>,
    AnyJsonBody(body): AnyJsonBody,
) -> Result<Json<Value>, ApiError> {
    let prop = (state.metadefs)
        .update_entry(&ctx, &ns, KIND, &name, &body)
        .await?;
    Ok(Json(metadef_views::property(&prop)))
}

pub async fn delete_property(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path((ns, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.metadefs.delete_entry(&ctx, &ns, KIND, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_properties(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(ns): Path<String>,
) -> Result<StatusCode, ApiError> {
    super::namespaces::delete_all(&state, &ctx, &ns, KIND).await
}
