//! JSON request bodies.

use axum::extract::{FromRequest, Request};
use bytes::Bytes;
use http::StatusCode;
use serde_json::Value;

use crate::error::ApiError;
use crate::noauth_guard::require_json_media_type;
use crate::state::AppState;

/// A JSON request body of any JSON type. Glance parses it whatever its
/// Content-Type; without authentication it must be labelled JSON (see
/// [`require_json_media_type`]). Scalars are valid bodies: Glance's
/// per-resource parsers then reject them with their own messages.
#[derive(Debug)]
pub struct AnyJsonBody(pub Value);

impl FromRequest<AppState> for AnyJsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        require_json_media_type(state, req.headers())?;
        read_json(req).await.map(AnyJsonBody)
    }
}

/// A JSON object or array request body, labelled as [`AnyJsonBody`] is.
#[derive(Debug)]
pub struct JsonBody(pub Value);

impl FromRequest<AppState> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let AnyJsonBody(value) = AnyJsonBody::from_request(req, state).await?;
        object_or_array(value).map(JsonBody)
    }
}

/// The most bytes of a JSON request body, enforced by the router's
/// `DefaultBodyLimit`. Glance sets none; image metadata is far smaller.
pub const JSON_BODY_LIMIT: usize = 2 * 1024 * 1024;

/// The body parsed as JSON, whatever its media type (the caller has
/// checked that). Over [`JSON_BODY_LIMIT`] it is 413.
pub async fn read_json(req: Request) -> Result<Value, ApiError> {
    let bytes = Bytes::from_request(req, &()).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::BodyTooLarge {
                limit: JSON_BODY_LIMIT,
            }
        } else {
            ApiError::BadRequest(format!("Could not read the request body: {e}"))
        }
    })?;
    if bytes.is_empty() {
        return Err(ApiError::BadRequest("Body expected in request.".into()));
    }
    serde_json::from_slice::<Value>(&bytes)
        .map_err(|_| ApiError::BadRequest("Malformed JSON in request body.".into()))
}

/// Refuses JSON scalars where an object or an array is expected.
pub fn object_or_array(value: Value) -> Result<Value, ApiError> {
    match value {
        v @ (Value::Object(_) | Value::Array(_)) => Ok(v),
        _ => Err(ApiError::BadRequest(
            "Malformed JSON in request body.".into(),
        )),
    }
}
