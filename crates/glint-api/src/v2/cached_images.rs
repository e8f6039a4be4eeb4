//! `/v2/cached_images`: a cache management path of Glance's
//! `cachemanage` middleware (`+cachemanagement` flavors), under the policy
//! `manage_image_cache`. It answers 200 with Glance's bodies (`null` where
//! its controller returns nothing); other methods are 404, as they fall
//! through to Glance's router, which has no such path.

use axum::Router;
use axum::extract::State;
use axum::routing::{MethodRouter, delete, get};
use serde_json::{Value, json};

use crate::context::Ctx;
use crate::error::ApiError;
use crate::json::Json;
use crate::path::ImagePath;
use crate::state::AppState;
use crate::v2::cache::cached_views;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/cached_images",
            or_not_found(get(list_cached_images).delete(delete_cached_images)),
        )
        .route(
            "/v2/cached_images/{id}",
            or_not_found(delete(delete_cached_image)),
        )
}

/// Methods a legacy path does not serve are 404.
pub(crate) fn or_not_found(route: MethodRouter<AppState>) -> MethodRouter<AppState> {
    route.fallback(|| async { ApiError::NotFound("The resource could not be found.".into()) })
}

/// `GET /v2/cached_images`.
pub async fn list_cached_images(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Json<Value>, ApiError> {
    let cached = state.images.list_cached_images(&ctx).await?;
    Ok(Json(json!({ "cached_images": cached_views(&cached) })))
}

/// `DELETE /v2/cached_images`.
pub async fn delete_cached_images(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Json<Value>, ApiError> {
    let removed = state.images.uncache_all(&ctx).await?;
    Ok(Json(json!({ "num_deleted": removed })))
}

/// `DELETE /v2/cached_images/{id}`.
pub async fn delete_cached_image(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
) -> Result<Json<Value>, ApiError> {
    state.images.uncache_image(&ctx, path.as_str()).await?;
    Ok(Json(Value::Null))
}
