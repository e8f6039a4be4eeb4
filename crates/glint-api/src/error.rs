//! The one mapping from errors to HTTP responses.
//!
//! Glance answers errors with webob's bodies, whose shape follows the
//! request's `Accept` header: JSON `{"message", "code", "title"}`, an HTML
//! page, or plain text. Handlers return [`ApiError`]; it becomes a response
//! carrying an [`ErrorExplanation`], and [`render_errors`] (a middleware
//! that saw the request's `Accept`) writes the body in the right shape.

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use glint_core::CoreError;
use http::header::{self, HeaderValue};
use http::{HeaderMap, StatusCode};

/// An error on its way to the client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Core(#[from] CoreError),
    #[error("{0}")]
    BadRequest(String),
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
}

/// The explanation of an error response, rendered by [`render_errors`].
#[derive(Debug, Clone)]
pub struct ErrorExplanation(pub String);

/// The detail webob prints after the explanation, when an error has one.
#[derive(Debug, Clone)]
pub struct ErrorDetail(pub String);

const FORBIDDEN_EXPLANATION: &str = "Access was denied to this resource.";
const UNAVAILABLE_EXPLANATION: &str =
    "The server is currently unavailable. Please try again at a later time.";

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Core(e) => core_status(e),
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::ReadOnly => StatusCode::FORBIDDEN,
            ApiError::IdentityUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        }
    }
}

fn core_status(e: &CoreError) -> StatusCode {
    match e {
        CoreError::BadRequest(_) => StatusCode::BAD_REQUEST,
        CoreError::Forbidden(_) => StatusCode::FORBIDDEN,
        CoreError::NotFound(_) => StatusCode::NOT_FOUND,
        CoreError::Conflict(_) => StatusCode::CONFLICT,
        CoreError::Gone(_) => StatusCode::GONE,
        CoreError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        CoreError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        CoreError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
        CoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        CoreError::StorageQuotaExceeded { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        CoreError::ChangedConcurrently { .. } => StatusCode::CONFLICT,
        CoreError::InvalidInput(_) => StatusCode::BAD_REQUEST,
        CoreError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The wording of the core errors that carry data rather than a message.
fn core_explanation(e: &CoreError) -> String {
    match e {
        // Glance's StorageQuotaFull, as its upload handler words it; Python
        // prints an unknown size as None.
        CoreError::StorageQuotaExceeded { size, remaining } => format!(
            "Image exceeds the storage quota: The size of the data {} will exceed the limit. \
             {remaining} bytes remaining.",
            size.map_or_else(|| "None".to_owned(), |s| s.to_string())
        ),
        CoreError::ChangedConcurrently { id } => format!(
            "Image {id} was changed by other requests each time this request tried to \
             apply its change; retry."
        ),
        CoreError::InvalidInput(what) => format!("Invalid input: the request contains {what}."),
        other => other.to_string(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut headers = HeaderMap::new();
        let detail = matches!(self, ApiError::ReadOnly | ApiError::IdentityUnavailable)
            .then(|| ErrorDetail(self.to_string()));
        let explanation = match self {
            ApiError::ReadOnly => FORBIDDEN_EXPLANATION.to_string(),
            ApiError::IdentityUnavailable => UNAVAILABLE_EXPLANATION.to_string(),
            ApiError::Core(CoreError::Internal(detail)) => {
                tracing::error!(error = %detail, "internal error");
                "The server has either erred or is incapable of performing the requested operation."
                    .to_string()
            }
            ApiError::Core(CoreError::Unavailable(detail)) => {
                tracing::error!(error = %detail, "dependency unavailable");
                UNAVAILABLE_EXPLANATION.to_string()
            }
            ApiError::Core(CoreError::RangeNotSatisfiable { size }) => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                    headers.insert(header::CONTENT_RANGE, v);
                }
                "The Range requested is not available.".to_string()
            }
            ApiError::Core(
                core @ (CoreError::StorageQuotaExceeded { .. }
                | CoreError::ChangedConcurrently { .. }
                | CoreError::InvalidInput(_)),
            ) => core_explanation(&core),
            ApiError::UnsupportedMediaType {
                message,
                accept_patch,
            } => {
                if let Some(v) = accept_patch {
                    headers.insert("accept-patch", HeaderValue::from_static(v));
                }
                message
            }
            other => other.to_string(),
        };
        let mut resp = (status, headers).into_response();
        resp.extensions_mut().insert(ErrorExplanation(explanation));
        if let Some(detail) = detail {
            resp.extensions_mut().insert(detail);
        }
        resp
    }
}

/// The body format webob picks for an error, from the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorFormat {
    Json,
    Html,
    Plain,
}

/// Chooses like webob: among `text/html` and `application/json`, the one
/// the client accepts with the higher quality (HTML first on a tie); plain
/// text when neither is acceptable or there is no `Accept` header.
pub fn choose_format(accept: Option<&str>) -> ErrorFormat {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return ErrorFormat::Plain;
    };
    let html = quality(accept, "text", "html");
    let json = quality(accept, "application", "json");
    if html > 0.0 && html >= json {
        ErrorFormat::Html
    } else if json > 0.0 {
        ErrorFormat::Json
    } else {
        ErrorFormat::Plain
    }
}

fn quality(accept: &str, ty: &str, sub: &str) -> f32 {
    let mut best: Option<(u8, f32)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.trim().strip_prefix("q="))
            .find_map(|v| v.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let (t, s) = media.split_once('/').unwrap_or((media.as_str(), ""));
        let specificity = match (t, s) {
            (t, s) if t == ty && s == sub => 2,
            (t, "*") if t == ty => 1,
            ("*", "*") => 0,
            _ => continue,
        };
        if best.is_none_or(|(sp, _)| specificity > sp) {
            best = Some((specificity, q));
        }
    }
    best.map(|(_, q)| q).unwrap_or(0.0)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Which of webob's body templates an error uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyTemplate {
    /// `explanation<br /><br />\ndetail\n\n`
    Default,
    /// The default template with a non-empty detail.
    WithDetail { detail: String },
    /// 405: names the method; the explanation is the (empty) detail.
    MethodNotAllowed { method: String },
    /// 415: names the request's media type; the explanation is the detail.
    UnsupportedMediaType { content_type: String },
}

/// What webob's `_make_body` produces, with `escape` applied to the
/// substituted values.
fn make_body(template: &BodyTemplate, explanation: &str, escape: fn(&str) -> String) -> String {
    match template {
        BodyTemplate::Default => format!("{}<br /><br />\n\n\n", escape(explanation)),
        BodyTemplate::WithDetail { detail } => format!(
            "{}<br /><br />\n{}\n\n",
            escape(explanation),
            escape(detail)
        ),
        BodyTemplate::MethodNotAllowed { method } => format!(
            "The method {} is not allowed for this resource. <br /><br />\n{}",
            escape(method),
            escape(explanation)
        ),
        BodyTemplate::UnsupportedMediaType { content_type } => format!(
            "The request media type {} is not supported by this server.\n<br /><br />\n{}",
            escape(content_type),
            escape(explanation)
        ),
    }
}

fn no_escape(s: &str) -> String {
    s.to_string()
}

/// webob's `strip_tags`: newlines become spaces, `<br />` becomes a newline,
/// other tags disappear.
fn strip_tags(s: &str) -> String {
    let s = s.replace('\n', " ").replace("<br />", "\n");
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

/// Renders an error body the way webob does.
pub fn render_body(
    status: StatusCode,
    template: &BodyTemplate,
    explanation: &str,
    format: ErrorFormat,
) -> (String, &'static str) {
    let title = status.canonical_reason().unwrap_or("Error");
    let status_line = format!("{} {}", status.as_u16(), title);
    match format {
        ErrorFormat::Json => {
            let body = serde_json::json!({
                "message": make_body(template, explanation, no_escape),
                "code": status_line,
                "title": title,
            });
            let text = crate::json::to_vec(&body)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .unwrap_or_default();
            (text, "application/json")
        }
        ErrorFormat::Html => (
            format!(
                "<html>\n <head>\n  <title>{status_line}</title>\n </head>\n <body>\n  <h1>{status_line}</h1>\n  {}\n </body>\n</html>",
                make_body(template, explanation, html_escape)
            ),
            "text/html; charset=UTF-8",
        ),
        ErrorFormat::Plain => (
            format!(
                "{status_line}\n\n{}",
                strip_tags(&make_body(template, explanation, no_escape))
            ),
            "text/plain; charset=UTF-8",
        ),
    }
}

fn default_explanation(status: StatusCode) -> Option<String> {
    match status {
        StatusCode::NOT_FOUND => Some("The resource could not be found.".into()),
        StatusCode::METHOD_NOT_ALLOWED => Some(String::new()),
        _ => None,
    }
}

/// Middleware: gives every error response its webob-shaped body.
pub async fn render_errors(req: Request, next: Next) -> Response {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let method = req.method().to_string();
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("None")
        .to_string();
    let resp = next.run(req).await;
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let explanation = match resp.extensions().get::<ErrorExplanation>() {
        Some(e) => e.0.clone(),
        None => match default_explanation(status) {
            Some(e) => e,
            None => return resp,
        },
    };
    let (mut parts, _) = resp.into_parts();
    let template = match status {
        StatusCode::METHOD_NOT_ALLOWED => BodyTemplate::MethodNotAllowed { method },
        StatusCode::UNSUPPORTED_MEDIA_TYPE => BodyTemplate::UnsupportedMediaType { content_type },
        _ => match parts.extensions.get::<ErrorDetail>() {
            Some(detail) => BodyTemplate::WithDetail {
                detail: detail.0.clone(),
            },
            None => BodyTemplate::Default,
        },
    };
    let format = choose_format(accept.as_deref());
    let (body, body_type) = render_body(status, &template, &explanation, format);
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(body_type));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_header_chooses_the_error_shape() {
        assert_eq!(choose_format(None), ErrorFormat::Plain);
        assert_eq!(choose_format(Some("application/json")), ErrorFormat::Json);
        assert_eq!(choose_format(Some("*/*")), ErrorFormat::Html);
        assert_eq!(
            choose_format(Some("text/html;q=0.5, application/json")),
            ErrorFormat::Json
        );
        assert_eq!(choose_format(Some("text/plain")), ErrorFormat::Plain);
        assert_eq!(choose_format(Some("application/*")), ErrorFormat::Json);
    }

    #[test]
    fn json_error_body_matches_webob() {
        let (body, ct) = render_body(
            StatusCode::NOT_FOUND,
            &BodyTemplate::Default,
            "No image found with ID x",
            ErrorFormat::Json,
        );
        assert_eq!(ct, "application/json");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["code"], "404 Not Found");
        assert_eq!(v["title"], "Not Found");
        assert_eq!(v["message"], "No image found with ID x<br /><br />\n\n\n");
    }
}
