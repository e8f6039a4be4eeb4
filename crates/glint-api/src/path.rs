//! Path parameters whose refusals are Glance-shaped errors, and the image
//! ids they name.

use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path};
use glint_core::{CoreError, Lookup};
use glint_model::ImageId;
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

/// The `{id}` of an image route (`/images/{id}…`), as the client wrote
/// it. It is turned into an [`ImageId`] only when the handler asks
/// ([`ImagePath::image`]): Glance reads the request (media type, headers,
/// body) before it looks the image up, so a malformed request is refused
/// for that even when its image does not exist.
#[derive(Debug)]
pub struct ImagePath(String);

impl ImagePath {
    /// The image the path names. An id that is not an image id names no
    /// image: it is missing, as Glance words that for the request `by`.
    pub fn image(&self, by: Lookup) -> Result<ImageId, CoreError> {
        ImageId::parse(&self.0).ok_or_else(|| CoreError::ImageNotFound {
            id: self.0.clone(),
            by,
        })
    }

    /// The id as the client wrote it, for the use cases that decide when
    /// to look it up (the cache API looks the image up after or before its
    /// policy check, depending on the call, as Glance does).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ImagePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let PathParams(id) = PathParams::<String>::from_request_parts(parts, state).await?;
        Ok(ImagePath(id))
    }
}

/// The path of a route below an image that names one of its items
/// (`/images/{id}/tags/{tag}`, `/images/{id}/members/{member_id}`).
#[derive(Debug)]
pub struct ImageItemPath {
    image: ImagePath,
    pub item: String,
}

impl ImageItemPath {
    /// The image the path names, as [`ImagePath::image`].
    pub fn image(&self, by: Lookup) -> Result<ImageId, CoreError> {
        self.image.image(by)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ImageItemPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let PathParams((id, item)) =
            PathParams::<(String, String)>::from_request_parts(parts, state).await?;
        Ok(ImageItemPath {
            image: ImagePath(id),
            item,
        })
    }
}
