//! `/v2/images` and `/v2/images/{id}`, plus the deactivate and reactivate
//! actions.

use axum::Router;
use axum::extract::{FromRequest, Path, RawQuery, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use glint_core::{Lookup, NewImageRequest, RequestContext};
use glint_model::Image;
use glint_model::patch::{self, MEDIA_TYPE_V20, MEDIA_TYPE_V21, PatchDialect, PatchOp};
use glint_model::query::ImageListQuery;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::body::{JsonBody, object_or_array, read_json};
use crate::context::Ctx;
use crate::error::ApiError;
use crate::json::Written;
use crate::path::ImagePath;
use crate::state::AppState;
use crate::{versions, views};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v2/images", get(list_images).post(create_image))
        .route(
            "/v2/images/{id}",
            get(show_image).patch(update_image).delete(delete_image),
        )
        .route("/v2/images/{id}/import", post(import_image))
        .route("/v2/images/{id}/actions/deactivate", post(deactivate_image))
        .route("/v2/images/{id}/actions/reactivate", post(reactivate_image))
        .route("/v2/stores/{store}/{id}", delete(delete_from_store))
}

/// `DELETE /v2/stores/{store}/{id}`: one store's copy of the image.
pub async fn delete_from_store(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    Path((store, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let Ok(id) = id.parse() else {
        return Err(ApiError::NotFound(format!(
            "Failed to find image {}",
            glint_model::limits::clip(&id)
        )));
    };
    state.images.delete_from_store(&ctx, &store, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// What the caller sees of an image's locations: `stores` in multi-store
/// mode; `direct_url` and `locations` when configured and the caller may
/// read locations.
pub async fn placement<'a>(
    state: &'a AppState,
    ctx: &RequestContext,
    image: &Image,
) -> views::Placement<'a> {
    let stores = state.images.stores();
    let config = &state.config;
    let wanted = config.show_image_direct_url || config.show_multiple_locations;
    let readable = wanted && state.images.may_read_locations(ctx, image).await;
    views::Placement {
        stores: stores.is_multi_store().then_some(stores),
        direct_url: readable && config.show_image_direct_url,
        locations: readable && config.show_multiple_locations,
    }
}

/// The query string as ordered pairs (keys may repeat).
pub fn query_pairs(raw: Option<String>) -> Vec<(String, String)> {
    raw.map(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    })
    .unwrap_or_default()
}

pub async fn list_images(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let params = query_pairs(raw);
    let query = ImageListQuery::from_pairs(&params)?;
    let page = state.images.list(&ctx, &query).await?;
    let mut placements = Vec::with_capacity(page.images.len());
    for image in &page.images {
        placements.push(placement(&state, &ctx, image).await);
    }
    Ok(Written(views::image_list(&page, &params).placed(placements)).into_response())
}

pub async fn create_image(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    headers: HeaderMap,
    CreateBody(request): CreateBody,
) -> Result<Response, ApiError> {
    let image = state.images.create(&ctx, request).await?;
    let placed = placement(&state, &ctx, &image).await;
    let location = format!(
        "{}/v2/images/{}",
        versions::base_url(&state, &headers),
        image.id
    );
    let mut resp = (
        StatusCode::CREATED,
        Written(views::image_placed(&image, placed)),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(header::LOCATION, v);
    }
    if !state.config.import_methods.is_empty()
        && let Ok(v) = HeaderValue::from_str(&state.config.import_methods.join(","))
    {
        resp.headers_mut()
            .insert("openstack-image-import-methods", v);
    }
    let stores = state.images.stores();
    if stores.is_multi_store()
        && let Ok(v) = HeaderValue::from_str(&stores.ids().collect::<Vec<_>>().join(","))
    {
        resp.headers_mut().insert("openstack-image-store-ids", v);
    }
    Ok(resp)
}

pub async fn show_image(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
) -> Result<Response, ApiError> {
    let image = state.images.get(&ctx, path.image(Lookup::Image)?).await?;
    let placed = placement(&state, &ctx, &image).await;
    Ok(Written(views::image_placed(&image, placed)).into_response())
}

pub async fn update_image(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
    PatchBody(ops): PatchBody,
) -> Result<Response, ApiError> {
    let id = path.image(Lookup::Image)?;
    let image = state.images.update(&ctx, id, &ops).await?;
    let placed = placement(&state, &ctx, &image).await;
    Ok(Written(views::image_placed(&image, placed)).into_response())
}

pub async fn delete_image(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
) -> Result<StatusCode, ApiError> {
    state
        .images
        .delete(&ctx, path.image(Lookup::Delete)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn deactivate_image(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
) -> Result<StatusCode, ApiError> {
    state
        .images
        .deactivate(&ctx, path.image(Lookup::Image)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn reactivate_image(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
) -> Result<StatusCode, ApiError> {
    state
        .images
        .reactivate(&ctx, path.image(Lookup::Image)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A create body (`POST /v2/images`), parsed with the configured formats
/// and quotas.
#[derive(Debug)]
pub struct CreateBody(pub NewImageRequest);

impl FromRequest<AppState> for CreateBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let JsonBody(body) = JsonBody::from_request(req, state).await?;
        let formats = &state.images.config().formats;
        let request = NewImageRequest::from_json(&body, formats, state.images.quotas())?;
        Ok(CreateBody(request))
    }
}

/// The operations of a PATCH body, in the dialect its media type names,
/// parsed with the configured formats and quotas.
#[derive(Debug)]
pub struct PatchBody(pub Vec<PatchOp>);

const ACCEPT_PATCH: &str =
    "application/openstack-images-v2.0-json-patch, application/openstack-images-v2.1-json-patch";

impl FromRequest<AppState> for PatchBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let Some(dialect) = PatchDialect::from_content_type(content_type) else {
            return Err(ApiError::UnsupportedMediaType {
                message: format!(
                    "Image PATCH expects Content-Type one of: {MEDIA_TYPE_V20}, {MEDIA_TYPE_V21}"
                ),
                accept_patch: Some(ACCEPT_PATCH),
            });
        };
        let body = object_or_array(read_json(req).await?)?;
        let config = state.images.config();
        let ops = patch::parse_patch(&body, dialect, &config.formats, state.images.quotas())?;
        Ok(PatchBody(ops))
    }
}

/// `POST /v2/images/{id}/import`: 202 once the import task is queued.
pub async fn import_image(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    crate::context::Lent(lent): crate::context::Lent,
    path: ImagePath,
    headers: HeaderMap,
    crate::body::AnyJsonBody(body): crate::body::AnyJsonBody,
) -> Result<StatusCode, ApiError> {
    let id = path.image(glint_core::Lookup::Image)?;
    let ctx = match lent {
        Some(delegation) => ctx.with_delegation(delegation),
        None => ctx,
    };
    let store = headers
        .get("x-image-meta-store")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let requested = state.images.import_image(&ctx, id, &body, store).await?;
    if let glint_core::import::ImportRequested::AtStageHost(host) = requested {
        let path = format!("/v2/images/{id}/import");
        state
            .stage_proxy
            .forward(&host, &path, &headers, &body)
            .await?;
    }
    Ok(StatusCode::ACCEPTED)
}
