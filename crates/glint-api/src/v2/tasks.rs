//! `/v2/tasks` (the legacy task API, admin-only by default) and
//! `/v2/images/{id}/tasks`.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use glint_core::{Lookup, TaskListRequest};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;

use crate::body::AnyJsonBody;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::json::Json;
use crate::path::ImagePath;
use crate::state::AppState;
use crate::task_views;
use crate::v2::images::query_pairs;
use crate::versions;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/tasks", get(list_tasks).post(create_task))
        .route("/v2/tasks/{id}", get(show_task).delete(delete_task))
        .route("/v2/images/{id}/tasks", get(list_image_tasks))
}

fn list_request(params: &[(String, String)]) -> TaskListRequest {
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    TaskListRequest {
        status: get("status"),
        kind: get("type"),
        sort_key: get("sort_key"),
        sort_dir: get("sort_dir"),
        marker: get("marker"),
        limit: get("limit"),
    }
}

pub async fn list_tasks(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = query_pairs(raw);
    let page = state
        .images
        .list_tasks(&ctx, &list_request(&params))
        .await?;
    Ok(Json(task_views::task_list(&page, &params)))
}

pub async fn show_task(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let task = state.images.show_task(&ctx, &id).await?;
    Ok(Json(task_views::task(&task)))
}

pub async fn create_task(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    AnyJsonBody(body): AnyJsonBody,
) -> Result<Response, ApiError> {
    let task = state.images.create_task(&ctx, &body).await?;
    let location = format!(
        "{}/v2/tasks/{}",
        versions::base_url(&state, &headers),
        task.id
    );
    let mut resp = (StatusCode::CREATED, Json(task_views::task(&task))).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

/// Tasks are never deleted by request (405); they expire.
pub async fn delete_task(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<StatusCode, ApiError> {
    state.images.delete_task(&ctx).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn list_image_tasks(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
) -> Result<Json<Value>, ApiError> {
    let id = path.image(Lookup::Image)?;
    let tasks = state.images.image_tasks(&ctx, id).await?;
    Ok(Json(task_views::image_tasks(&tasks)))
}
