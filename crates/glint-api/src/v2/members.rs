//! `/v2/images/{id}/members` and `/v2/images/{id}/members/{member_id}`.

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use http::StatusCode;
use serde_json::Value;

use crate::body::AnyJsonBody;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::json::Json;
use crate::path::PathParams;
use crate::state::AppState;
use crate::views;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/images/{id}/members", get(list_members).post(add_member))
        .route(
            "/images/{id}/members/{member_id}",
            get(show_member).put(update_member).delete(delete_member),
        )
}

pub async fn list_members(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PathParams(id): PathParams<String>,
) -> Result<Json<Value>, ApiError> {
    let members = state.images.list_members(&ctx, &id).await?;
    Ok(Json(views::member_list(&members)))
}

/// Answers 200, not 201, as Glance does.
pub async fn add_member(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PathParams(id): PathParams<String>,
    AnyJsonBody(body): AnyJsonBody,
) -> Result<Json<Value>, ApiError> {
    let member = state.images.add_member(&ctx, &id, &body).await?;
    Ok(Json(views::member(&member)))
}

pub async fn show_member(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PathParams((id, member_id)): PathParams<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let member = state.images.get_member(&ctx, &id, &member_id).await?;
    Ok(Json(views::member(&member)))
}

pub async fn update_member(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PathParams((id, member_id)): PathParams<(String, String)>,
    AnyJsonBody(body): AnyJsonBody,
) -> Result<Json<Value>, ApiError> {
    let member = state
        .images
        .update_member(&ctx, &id, &member_id, &body)
        .await?;
    Ok(Json(views::member(&member)))
}

pub async fn delete_member(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PathParams((id, member_id)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.images.delete_member(&ctx, &id, &member_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
