//! `/v2/images/{id}/tags/{tag}`.

use axum::Router;
use axum::extract::State;
use axum::routing::put;
use glint_core::{Lookup, NewTag};
use http::StatusCode;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::path::ImageItemPath;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/v2/images/{id}/tags/{tag}",
        put(add_tag).delete(delete_tag),
    )
}

/// The tag is checked before the image is looked up, as Glance checks it
/// while reading the request.
pub async fn add_tag(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImageItemPath,
) -> Result<StatusCode, ApiError> {
    let tag = NewTag::parse(&path.item)?;
    let id = path.image(Lookup::Image)?;
    state.images.add_tag(&ctx, id, &tag).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn delete_tag(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImageItemPath,
) -> Result<StatusCode, ApiError> {
    let id = path.image(Lookup::Image)?;
    state.images.delete_tag(&ctx, id, &path.item).await?;
    Ok(StatusCode::NO_CONTENT)
}
