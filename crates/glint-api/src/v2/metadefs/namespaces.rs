//! `/v2/metadefs/namespaces` and `/v2/metadefs/namespaces/{ns}`, with the
//! deletion of all of a namespace's properties, objects or tags.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use glint_core::NamespaceListRequest;
use glint_model::metadef::EntryKind;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;

use super::param;
use crate::body::AnyJsonBody;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::json::Json;
use crate::metadef_views;
use crate::state::AppState;
use crate::v2::images::query_pairs;
use crate::versions;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/metadefs/namespaces",
            get(list_namespaces).post(create_namespace),
        )
        .route(
            "/v2/metadefs/namespaces/{ns}",
            get(show_namespace)
                .put(update_namespace)
                .delete(delete_namespace),
        )
}

pub async fn list_namespaces(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = query_pairs(raw);
    let req = NamespaceListRequest {
        limit: param(&params, "limit"),
        marker: param(&params, "marker"),
        sort_key: param(&params, "sort_key"),
        sort_dir: param(&params, "sort_dir"),
        visibility: param(&params, "visibility"),
        resource_types: param(&params, "resource_types"),
    };
    let page = state.metadefs.list_namespaces(&ctx, &req).await?;
    Ok(Json(metadef_views::namespace_list(&page, &params)))
}

pub async fn create_namespace(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    AnyJsonBody(body): AnyJsonBody,
) -> Result<Response, ApiError> {
    let detail = state.metadefs.create_namespace(&ctx, &body).await?;
    let location = format!(
        "{}{}",
        versions::base_url(&state, &headers),
        metadef_views::namespace_href(&detail.namespace.namespace)
    );
    let view = metadef_views::namespace_detail(&detail);
    let mut resp = (StatusCode::CREATED, Json(view)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    Ok(resp)
}

pub async fn show_namespace(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(ns): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<Value>, ApiError> {
    let params = query_pairs(raw);
    let resource_type = param(&params, "resource_type");
    let detail = (state.metadefs)
        .show_namespace(&ctx, &ns, resource_type.as_deref())
        .await?;
    Ok(Json(metadef_views::namespace_detail(&detail)))
}

pub async fn update_namespace(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(ns): Path<String>,
    AnyJsonBody(body): AnyJsonBody,
) -> Result<Json<Value>, ApiError> {
    let updated = state.metadefs.update_namespace(&ctx, &ns, &body).await?;
    Ok(Json(metadef_views::namespace(&updated)))
}

pub async fn delete_namespace(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path(ns): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.metadefs.delete_namespace(&ctx, &ns).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE …/{ns}/properties`, `…/objects` or `…/tags`.
pub async fn delete_all(
    state: &AppState,
    ctx: &glint_core::RequestContext,
    ns: &str,
    kind: EntryKind,
) -> Result<StatusCode, ApiError> {
    (state.metadefs)
        .delete_namespace_entries(ctx, ns, kind)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
