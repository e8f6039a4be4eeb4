//! `/v2/metadefs/resource_types` and
//! `/v2/metadefs/namespaces/{ns}/resource_types[/{rt}]`.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{delete, get};
use http::StatusCode;
use serde_json::Value;

use crate::body::AnyJsonBody;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::json::Json;
use crate::metadef_views;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/metadefs/resource_types", get(list_resource_types))
        .route(
            "/v2/metadefs/namespaces/{ns}/resource_types",
            get(list_associations).post(create_association),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}/resource_types/{rt}",
            delete(delete_association),
        )
}

pub async fn list_resource_types(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Json<Value>, ApiError> {
    let types = state.metadefs.list_resource_types(&ctx).await?;
    Ok(Json(metadef_views::resource_type_list(&types)))
}

pub async fn list_associations(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(ns): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let assocs = state.metadefs.list_associations(&ctx, &ns).await?;
    Ok(Json(metadef_views::association_list(&assocs)))
}

pub async fn create_association(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(ns): Path<String>,
    AnyJsonBody(body): AnyJsonBody,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let assoc = state.metadefs.create_association(&ctx, &ns, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(metadef_views::association(&assoc)),
    ))
}

pub async fn delete_association(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path((ns, rt)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.metadefs.delete_association(&ctx, &ns, &rt).await?;
    Ok(StatusCode::NO_CONTENT)
}
