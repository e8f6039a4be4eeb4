//! `/v2/images/{id}/file`: upload and download of image data.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use futures::{StreamExt, TryStreamExt};
use glint_core::{CoreError, Lookup};
use glint_store::{ByteStream, StoreError};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::context::Ctx;
use crate::error::ApiError;
use crate::path::ImagePath;
use crate::state::AppState;
use crate::v2::range::{RequestedRange, SeveralRanges, parse_range_header};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v2/images/{id}/file",
            get(download_image_data)
                .put(upload_image_data)
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/v2/images/{id}/stage",
            put(stage_image_data).layer(DefaultBodyLimit::disable()),
        )
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The size the client announced: `x-openstack-image-size`, else
/// `Content-Length`.
fn announced_size(headers: &HeaderMap) -> Result<Option<u64>, ApiError> {
    if let Some(v) = header_str(headers, "x-openstack-image-size") {
        return v.parse().map(Some).map_err(|_| {
            ApiError::BadRequest(format!(
                "Invalid value '{v}' for header x-openstack-image-size: it must be a non-negative integer."
            ))
        });
    }
    Ok(header_str(headers, header::CONTENT_LENGTH.as_str()).and_then(|v| v.parse().ok()))
}

/// The body of an upload or a stage: `application/octet-stream` (else
/// 415, as Glance), with the size the client announced.
fn octet_stream(headers: &HeaderMap, body: Body) -> Result<(ByteStream, Option<u64>), ApiError> {
    let content_type = header_str(headers, header::CONTENT_TYPE.as_str()).unwrap_or("None");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/octet-stream") {
        return Err(ApiError::UnsupportedMediaType {
            message: format!("Invalid content type {content_type}"),
            accept_patch: None,
        });
    }
    let size = announced_size(headers)?;
    let stream: ByteStream = body
        .into_data_stream()
        .map_err(|e| StoreError::Source(e.to_string()))
        .boxed();
    Ok((stream, size))
}

pub async fn upload_image_data(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let (stream, size) = octet_stream(&headers, body)?;
    let id = path.image(Lookup::Image)?;
    let store = header_str(&headers, "x-image-meta-store");
    state
        .images
        .upload_to(&ctx, id, stream, size, store)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /v2/images/{id}/stage`: data for a later `glance-direct` import.
pub async fn stage_image_data(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    if state.images.staging().is_none()
        || !state
            .images
            .import_methods()
            .iter()
            .any(|m| m == "glance-direct")
    {
        return Err(CoreError::MethodUnavailable {
            method: "glance-direct".into(),
        }
        .into());
    }
    let (stream, size) = octet_stream(&headers, body)?;
    let id = path.image(Lookup::Image)?;
    state.images.stage(&ctx, id, stream, size).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The single range asked for by `Range` (or the legacy request
/// `Content-Range`), with the name of the header that asked; see
/// [`parse_range_header`].
fn requested_range(headers: &HeaderMap) -> Result<Option<RequestedRange>, ApiError> {
    let range = header_str(headers, header::RANGE.as_str());
    let content_range = header_str(headers, header::CONTENT_RANGE.as_str());
    parse_range_header(range, content_range).map_err(|SeveralRanges| {
        ApiError::BadRequest(
            "Requests with multiple ranges are not supported in Glance. You may make multiple single-range requests instead.".into(),
        )
    })
}

/// The stores `?prefer=a,b` names (repeated parameters add up), in order,
/// each once.
fn preferred_stores(raw: Option<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    crate::v2::images::query_pairs(raw)
        .into_iter()
        .filter(|(key, _)| key == "prefer")
        .flat_map(|(_, value)| {
            value
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .filter(|store| seen.insert(store.clone()))
        .collect()
}

pub async fn download_image_data(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let range = requested_range(&headers)?;
    let asked_by = range.map(|r| r.header);
    let id = path.image(Lookup::Image)?;
    let prefer = preferred_stores(query);
    let download = state
        .images
        .download_from(&ctx, id, range.map(|r| r.range), &prefer)
        .await
        .map_err(|e| match (e, asked_by) {
            (CoreError::RangeNotSatisfiable { size }, Some(header)) => {
                ApiError::RangeNotSatisfiable { size, header }
            }
            (e, _) => ApiError::from(e),
        })?;
    let Some(data) = download.data else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let (status, length) = match data.range {
        Some(r) => (StatusCode::PARTIAL_CONTENT, r.end - r.start + 1),
        None => (StatusCode::OK, data.total_size),
    };
    let body = Body::from_stream(data.stream.map_err(std::io::Error::other));
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    if let Some(r) = data.range {
        let v = format!("bytes {}-{}/{}", r.start, r.end, data.total_size);
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(header::CONTENT_RANGE, v);
        }
    }
    if let Some(md5) = download.image.checksum.as_deref()
        && let Ok(v) = HeaderValue::from_str(md5)
    {
        h.insert("content-md5", v);
    }
    Ok(resp)
}
