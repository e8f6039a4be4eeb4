//! `/v2/cache…`: the image cache API (2.14, and 2.18 for clean and prune).
//! It answers 404 when the cache is off (after the policy check, as
//! Glance does).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use glint_core::cache::CacheState;
use glint_core::cache::CachedImage;
use glint_model::ImageId;
use glint_model::time::{Timestamp, to_micros};
use serde::Serialize;
use serde_json::json;

use crate::context::Ctx;
use crate::error::ApiError;
use crate::json::Json;
use crate::path::ImagePath;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/cache", get(show_cache).delete(clear_cache))
        .route(
            "/v2/cache/{id}",
            put(queue_image).delete(delete_cached_image),
        )
        .route("/v2/cache/nodes/{id}", get(list_cached_nodes))
        .route("/v2/cache/clean", post(clean_cache))
        .route("/v2/cache/prune", post(prune_cache))
}

/// A cached image as Glance's `centralized_db` driver lists it, times in
/// seconds since the epoch.
#[derive(Debug, Serialize)]
pub(crate) struct CachedImageView<'a> {
    id: i64,
    image_id: String,
    last_accessed: f64,
    last_modified: f64,
    size: u64,
    hits: u64,
    checksum: Option<&'a str>,
}

impl<'a> From<&'a CachedImage> for CachedImageView<'a> {
    fn from(c: &'a CachedImage) -> Self {
        CachedImageView {
            id: c.id,
            image_id: c.image_id.to_string(),
            last_accessed: seconds(c.last_accessed),
            last_modified: seconds(c.last_modified),
            size: c.size,
            hits: c.hits,
            checksum: c.checksum.as_deref(),
        }
    }
}

fn seconds(t: Timestamp) -> f64 {
    to_micros(t) as f64 / 1e6
}

pub(crate) fn cached_views(cached: &[CachedImage]) -> Vec<CachedImageView<'_>> {
    cached.iter().map(CachedImageView::from).collect()
}

pub(crate) fn id_strings(ids: &[ImageId]) -> Vec<String> {
    ids.iter().map(ToString::to_string).collect()
}

/// `GET /v2/cache`.
pub async fn show_cache(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Response, ApiError> {
    let CacheState { cached, queued } = state.images.cache_state(&ctx).await?;
    let body = json!({
        "cached_images": cached_views(&cached),
        "queued_images": id_strings(&queued),
    });
    Ok(Json(body).into_response())
}

/// `PUT /v2/cache/{id}`: 202, the prefetcher caches the image.
pub async fn queue_image(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
) -> Result<StatusCode, ApiError> {
    state.images.queue_for_cache(&ctx, path.as_str()).await?;
    Ok(StatusCode::ACCEPTED)
}

/// `DELETE /v2/cache/{id}`: out of this node's cache and queue.
pub async fn delete_cached_image(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
) -> Result<StatusCode, ApiError> {
    state.images.delete_cache_entry(&ctx, path.as_str()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /v2/cache`, with `x-image-cache-clear-target`.
pub async fn clear_cache(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let target = headers
        .get("x-image-cache-clear-target")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).trim().to_owned());
    state.images.clear_cache(&ctx, target.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v2/cache/nodes/{id}`: the references of the nodes caching it.
pub async fn list_cached_nodes(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(state.images.cached_nodes(&ctx, path.as_str()).await?))
}

/// `POST /v2/cache/clean`: 200 without a body.
pub async fn clean_cache(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<StatusCode, ApiError> {
    state.images.clean_cache(&ctx).await?;
    Ok(StatusCode::OK)
}

/// `POST /v2/cache/prune`.
pub async fn prune_cache(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Json<serde_json::Value>, ApiError> {
    let pruned = state.images.prune_cache(&ctx).await?;
    Ok(Json(json!({
        "total_files_pruned": pruned.files,
        "total_bytes_pruned": pruned.bytes,
    })))
}
