//! `/v2/images/{id}/locations` (2.17): the location API for services.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use glint_core::{Lookup, ValidationData};
use http::StatusCode;
use serde_json::{Value, json};

use crate::body::JsonBody;
use crate::context::Ctx;
use crate::error::ApiError;
use crate::json::Json;
use crate::path::ImagePath;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/v2/images/{id}/locations",
        get(list_locations).post(add_location),
    )
}

fn schema_error(detail: &str) -> ApiError {
    ApiError::BadRequest(format!(
        "Provided object does not match schema 'location': {detail}"
    ))
}

/// `{"url": "...", "validation_data": {"os_hash_algo": ..., "os_hash_value": ...}}`
fn parse_body(body: &Value) -> Result<(String, Option<ValidationData>), ApiError> {
    let Value::Object(body) = body else {
        return Err(schema_error("the body must be an object"));
    };
    let url = match body.get("url") {
        Some(Value::String(url)) if !url.is_empty() => url.clone(),
        Some(Value::String(_)) => return Err(schema_error("'url' must not be empty")),
        Some(_) => return Err(schema_error("'url' is not of type 'string'")),
        None => return Err(schema_error("'url' is a required property")),
    };
    let validation = match body.get("validation_data") {
        None | Some(Value::Null) => None,
        Some(Value::Object(data)) => {
            if let Some(extra) = data
                .keys()
                .find(|k| *k != "os_hash_algo" && *k != "os_hash_value")
            {
                return Err(schema_error(&format!(
                    "Additional properties are not allowed ('{}' was unexpected)",
                    glint_model::limits::clip(extra)
                )));
            }
            match (data.get("os_hash_algo"), data.get("os_hash_value")) {
                (None, None) => None,
                (Some(Value::String(algo)), Some(Value::String(value))) => {
                    Some(ValidationData::parse(algo, value)?)
                }
                (Some(_), None) => {
                    return Err(schema_error(
                        "'os_hash_value' is a dependency of 'os_hash_algo'",
                    ));
                }
                (None, Some(_)) => {
                    return Err(schema_error(
                        "'os_hash_algo' is a dependency of 'os_hash_value'",
                    ));
                }
                _ => return Err(schema_error("validation values must be strings")),
            }
        }
        Some(_) => return Err(schema_error("'validation_data' is not of type 'object'")),
    };
    Ok((url, validation))
}

pub async fn add_location(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
    JsonBody(body): JsonBody,
) -> Result<StatusCode, ApiError> {
    let id = path.image(Lookup::Image)?;
    let (url, validation) = parse_body(&body)?;
    state
        .images
        .add_location(&ctx, id, &url, validation)
        .await?;
    Ok(StatusCode::ACCEPTED)
}

pub async fn list_locations(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    path: ImagePath,
) -> Result<Response, ApiError> {
    let id = path.image(Lookup::Image)?;
    let locations = state.images.get_locations(&ctx, id).await?;
    let list: Vec<Value> = locations
        .iter()
        .map(|l| json!({"url": l.url, "metadata": l.metadata}))
        .collect();
    Ok(Json(Value::Array(list)).into_response())
}
