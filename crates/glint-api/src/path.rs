//! Path parameters whose refusals are Glance-shaped errors.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use glint_core::CoreError;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

const NOT_UTF8: &str = "The path of the request is not valid UTF-8 once percent-decoded.";

/// The route's path parameters, like axum's `Path`. A segment that is not
/// UTF-8 once percent-decoded is 400 in Glance's error shape. Glance, whose
/// WSGI stack decodes the path as UTF-8 before routing, fails such
/// requests with a server error; no image, tag or member can have such a
/// name, and bad input is never a 500.
#[derive(Debug)]
pub struct PathParams<T>(pub T);

impl<T, S> FromRequestParts<S> for PathParams<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(params)) => Ok(PathParams(params)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => match e.kind() {
                ErrorKind::InvalidUtf8InPathParam { .. } => {
                    Err(ApiError::BadRequest(NOT_UTF8.into()))
                }
                _ => Err(ApiError::BadRequest("Invalid path parameter.".into())),
            },
            // A handler asking for parameters its route does not have.
            Err(e) => Err(ApiError::Core(CoreError::Internal(e.body_text()))),
        }
    }
}
