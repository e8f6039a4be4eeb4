//! `/v2/images/{id}/tags/{tag}`.

use axum::Router;
use axum::extract::State;
use axum::routing::put;
use http::StatusCode;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::path::PathParams;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/images/{id}/tags/{tag}", put(add_tag).delete(delete_tag))
}

pub async fn add_tag(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PathParams((id, tag)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.images.add_tag(&ctx, &id, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_tag(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    PathParams((id, tag)): PathParams<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.images.delete_tag(&ctx, &id, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}
