//! `/v2/metadefs/namespaces/{ns}/tags[/{name}]`.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::routing::get;
use glint_core::TagListRequest;
use glint_model::metadef::EntryKind;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::param;
use crate::body::AnyJsonBody;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::json::Json;
use crate::metadef_views;
use crate::state::AppState;
use crate::v2::images::query_pairs;

const KIND: EntryKind = EntryKind::Tag;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/metadefs/namespaces/{ns}/tags",
            get(list_tags).post(create_tags).delete(delete_tags),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/tags/{name}",
            get(show_tag)
                .post(create_tag)
                .put(update_tag)
                .delete(delete_tag),
        )
}

/// `X-Openstack-Append` as oslo's `bool_from_string` reads it.
fn appends(headers: &HeaderMap) -> bool {
    headers
        .get("x-openstack-append")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| matches!(v.as_str(), "1" | "t" | "true" | "on" | "y" | "yes"))
}

pub async fn list_tags(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(ns): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = query_pairs(raw);
    let req = TagListRequest {
        limit: param(&params, "limit"),
        marker: param(&params, "marker"),
        sort_key: param(&params, "sort_key"),
        sort_dir: param(&params, "sort_dir"),
    };
    let tags = state.metadefs.list_tags(&ctx, &ns, &req).await?;
    Ok(Json(metadef_views::tag_list(&tags)))
}

pub async fn create_tags(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(ns): Path<String>,
    headers: HeaderMap,
    AnyJsonBody(body): AnyJsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tags = (state.metadefs)
        .create_tags(&ctx, &ns, &body, appends(&headers))
        .await?;
    Ok((StatusCode::CREATED, Json(metadef_views::tag_list(&tags))))
}

pub async fn create_tag(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path((ns, name)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let tag = state.metadefs.create_tag(&ctx, &ns, &name).await?;
    Ok((StatusCode::CREATED, Json(metadef_views::tag(&tag))))
}

pub async fn show_tag(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path((ns, name)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let tag = state.metadefs.show_entry(&ctx, &ns, KIND, &name).await?;
    Ok(Json(metadef_views::tag(&tag)))
}

pub async fn update_tag(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path((ns, name)): Path<(String, String)>,
    AnyJsonBody(body): AnyJsonBody,
) -> Result<Json<Value>, ApiError> {
    let tag = (state.metadefs)
        .update_entry(&ctx, &ns, KIND, &name, &body)
        .await?;
    Ok(Json(metadef_views::tag(&tag)))
}

pub async fn delete_tag(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path((ns, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.metadefs.delete_entry(&ctx, &ns, KIND, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_tags(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(ns): Path<String>,
) -> Result<StatusCode, ApiError> {
    super::namespaces::delete_all(&state, &ctx, &ns, KIND).await
}
