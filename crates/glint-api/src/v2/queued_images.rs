//! `/v2/queued_images`: a cache management path of Glance's `cachemanage`
//! middleware (`+cachemanagement` flavors), under the policy
//! `manage_image_cache`; see `cached_images`.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, put};
use serde_json::{Value, json};

use crate::context::Ctx;
use crate::error::ApiError;
use crate::json::Json;
use crate::path::ImagePath;
use crate::state::AppState;
use crate::v2::cache::id_strings;
use crate::v2::cached_images::or_not_found;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/queued_images",
            or_not_found(get(list_queued_images).delete(delete_queued_images)),
        )
        .route(
            "/v2/queued_images/{id}",
            or_not_found(put(queue_image).delete(delete_queued_image)),
        )
}

/// `GET /v2/queued_images`.
pub async fn list_queued_images(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Json<Value>, ApiError> {
    let queued = state.images.list_queued_images(&ctx).await?;
    Ok(Json(json!({ "queued_images": id_strings(&queued) })))
}

/// `DELETE /v2/queued_images`.
pub async fn delete_queued_images(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Json<Value>, ApiError> {
    let removed = state.images.dequeue_all(&ctx).await?;
    Ok(Json(json!({ "num_deleted": removed })))
}

/// `PUT /v2/queued_images/{id}`.
pub async fn queue_image(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
) -> Result<Json<Value>, ApiError> {
    state.images.queue_image(&ctx, path.as_str()).await?;
    Ok(Json(Value::Null))
}

/// `DELETE /v2/queued_images/{id}`.
pub async fn delete_queued_image(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
) -> Result<Json<Value>, ApiError> {
    state.images.dequeue_image(&ctx, path.as_str()).await?;
    Ok(Json(Value::Null))
}
