//! The one mapping from errors to HTTP responses.
//!
//! Glance answers errors with webob's bodies, whose shape follows the
//! request's `Accept` header: JSON `{"message", "code", "title"}`, an HTML
//! page, or plain text. Handlers return [`ApiError`]; it becomes a response
//! carrying an [`ErrorExplanation`], and [`ErrorShape`] (taken from the
//! request, its `Accept` included) writes the body in the right shape.
//! The status and words of each error of the use cases are chosen in
//! `domain`.

use axum::response::{IntoResponse, Response};
use glint_core::CoreError;
use glint_model::ModelError;
use http::header::{self, HeaderValue};
use http::{HeaderMap, StatusCode};

use crate::log_text::capped;

/// An error on its way to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Unauthorized(String),
    /// An anonymous caller tried to change something.
    #[error("Read-only access")]
    ReadOnly,
    /// Keystone could not be asked about the caller's token.
    #[error("The Keystone service is temporarily unavailable.")]
    IdentityUnavailable,
    #[error("{message}")]
    UnsupportedMediaType {
        message: String,
        accept_patch: Option<&'static str>,
    },
    /// An `X-Openstack-Request-ID` longer than `max_request_id_length`.
    #[error("x-openstack-request-id is too long, max size {limit}")]
    RequestIdTooLong { limit: usize },
    /// A JSON request body longer than the server reads.
    #[error("A JSON request body may be at most {limit} bytes.")]
    BodyTooLarge { limit: usize },
    /// A well-formed range of the `header` request header that starts at or
    /// beyond the end of data of `size` bytes.
    #[error("Invalid start position in {header} header. Start position MUST be in the inclusive range [0, {last}].", last = i128::from(*size) - 1)]
    RangeNotSatisfiable { size: u64, header: &'static str },
    /// The node holding an image's staged data could not be asked to run
    /// its import: 504 when it could not be reached in time, else 502.
    #[error("Stage host is unavailable")]
    StageHostUnavailable { gateway_timeout: bool },
    /// The node holding an image's staged data refused its import with
    /// `status`; answered alike, as Glance answers.
    #[error("{reason}")]
    Proxied { status: StatusCode, reason: String },
}

/// The explanation of an error response, rendered by [`ErrorShape`].
#[derive(Debug, Clone)]
pub struct ErrorExplanation(pub String);

/// The detail webob prints after the explanation, when an error has one.
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub String);

const FORBIDDEN_EXPLANATION: &str = "Access was denied to this resource.";

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Core(e) => domain::status(e),
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::ReadOnly => StatusCode::FORBIDDEN,
            ApiError::IdentityUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RequestIdTooLong { .. } => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ApiError::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::StageHostUnavailable {
                gateway_timeout: true,
            } => StatusCode::GATEWAY_TIMEOUT,
            ApiError::StageHostUnavailable { .. } => StatusCode::BAD_GATEWAY,
            ApiError::Proxied { status, .. } => *status,
        }
    }
}

impl From<ModelError> for ApiError {
    /// A request the model's parsers refused, answered as the use cases
    /// answer the same refusal.
    fn from(e: ModelError) -> Self {
        ApiError::Core(e.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut headers = HeaderMap::new();
        let (explanation, detail) = self.explain(&mut headers);
        let mut resp = (status, headers).into_response();
        resp.extensions_mut().insert(ErrorExplanation(explanation));
        if let Some(detail) = detail {
            resp.extensions_mut().insert(ErrorDetail(detail));
        }
        resp
    }
}

impl ApiError {
    /// webob's explanation and detail of this error, and the headers that
    /// go with it. Internal details are logged (bounded), never sent.
    fn explain(self, headers: &mut HeaderMap) -> (String, Option<String>) {
        match self {
            ApiError::ReadOnly => (FORBIDDEN_EXPLANATION.into(), Some(self.to_string())),
            ApiError::IdentityUnavailable => (
                domain::UNAVAILABLE_EXPLANATION.into(),
                Some(self.to_string()),
            ),
            ApiError::RequestIdTooLong { .. } => (
                "The request header fields were too large".into(),
                Some(self.to_string()),
            ),
            ApiError::Core(e) => (explain_core(&e, headers), None),
            ApiError::RangeNotSatisfiable { size, .. } => {
                unsatisfiable_range(headers, size);
                (domain::RANGE_EXPLANATION.into(), Some(self.to_string()))
            }
            ApiError::UnsupportedMediaType {
                message,
                accept_patch,
            } => {
                if let Some(v) = accept_patch {
                    headers.insert("accept-patch", HeaderValue::from_static(v));
                }
                (message, None)
            }
            other => (other.to_string(), None),
        }
    }
}

/// The explanation of a core error, after logging the detail of internal
/// ones (once, here, at the boundary) and setting the headers some need.
fn explain_core(e: &CoreError, headers: &mut HeaderMap) -> String {
    match e {
        CoreError::Internal(detail) => {
            tracing::error!(error = %capped(detail), "internal error");
        }
        CoreError::Unavailable(detail) => {
            tracing::error!(error = %capped(detail), "dependency unavailable");
        }
        CoreError::RangeNotSatisfiable { size } => unsatisfiable_range(headers, *size),
        _ => {}
    }
    domain::explanation(e)
}

/// `Content-Range: bytes */size`, which RFC 9110 asks of a 416.
fn unsatisfiable_range(headers: &mut HeaderMap, size: u64) {
    if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
        headers.insert(header::CONTENT_RANGE, v);
    }
}

mod domain;
mod metadef;
mod render;

/// webob's explanation of a bare 404, which Glance sends where it raises
/// `HTTPNotFound()` without a message.
const NOT_FOUND_EXPLANATION: &str = "The resource could not be found.";

pub use render::{
    BodyTemplate, ErrorFormat, ErrorShape, choose_format, glance_allow_header, render_body,
};
pub(crate) use render::{html_escape, quality};

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged_by(error: ApiError) -> (StatusCode, String) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        let status =
            tracing::subscriber::with_default(subscriber, || error.into_response().status());
        let text = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
        (status, text)
    }

    #[test]
    fn huge_internal_error_detail_is_logged_bounded() {
        let detail = format!("database said: {}", "x\n".repeat(2 << 20));
        let (status, text) = logged_by(ApiError::Core(CoreError::Internal(detail)));
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(text.len() < 2048, "{} bytes logged", text.len());
        assert!(text.contains("database said: x\\nx\\n"), "{text}");
        assert!(text.contains("[cut: 4194319 bytes]"), "{text}");
    }

    #[test]
    fn huge_unavailable_detail_is_logged_bounded() {
        let detail = "y".repeat(3 << 20);
        let (status, text) = logged_by(ApiError::Core(CoreError::Unavailable(detail)));
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(text.len() < 2048, "{} bytes logged", text.len());
        assert!(text.contains("[cut: 3145728 bytes]"), "{text}");
    }
}
