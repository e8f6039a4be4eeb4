//! `x-openstack-request-id` on every response, and a tracing span per
//! request carrying it.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;

use crate::error::ApiError;
use crate::log_text::capped;
use crate::state::AppState;

pub const HEADER: &str = "x-openstack-request-id";

/// The request id of the current request, for handlers that want it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The id given to one request, and the span its work runs in.
#[derive(Debug)]
pub struct Assigned {
    id: String,
    span: tracing::Span,
    started: std::time::Instant,
    /// The id the client sent was longer than allowed.
    too_long: Option<usize>,
}

/// Honours a client-sent id made of letters, digits, `-`, `_` and `.`
/// (prefixed with `req-` as Glance does); any other id is replaced by a
/// fresh `req-<uuid>`, so that what a client sends can neither forge log
/// fields nor break the response header. An id longer than
/// `max_request_id_length` (0: no limit) is refused with 431, as Glance's
/// context middleware refuses it (see [`Assigned::refusal`]). The id goes
/// into the request's extensions.
pub fn assign(state: &AppState, req: &mut Request) -> Assigned {
    let limit = state.config.max_request_id_length;
    let incoming = req.headers().get(HEADER).map(HeaderValue::as_bytes);
    let too_long = incoming.is_some_and(|id| limit > 0 && id.len() > limit);
    let id = match incoming.and_then(|id| std::str::from_utf8(id).ok()) {
        Some(id) if !too_long && is_safe(id) && id.starts_with("req-") => id.to_string(),
        Some(id) if !too_long && is_safe(id) => format!("req-{id}"),
        _ => format!("req-{}", uuid::Uuid::new_v4()),
    };
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = %capped(&id),
        method = %req.method(),
        path = %capped(req.uri().path()),
    );
    Assigned {
        id,
        span,
        started: std::time::Instant::now(),
        too_long: too_long.then_some(limit),
    }
}

impl Assigned {
    /// The span the request's work runs in.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// The answer to a request whose id is too long, which is not handled.
    pub fn refusal(&self) -> Option<Response> {
        self.too_long
            .map(|limit| ApiError::RequestIdTooLong { limit }.into_response())
    }

    /// `resp` with the request's id, the request's end logged.
    pub fn finish(self, mut resp: Response) -> Response {
        tracing::debug!(
            parent: &self.span,
            status = resp.status().as_u16(),
            duration_ms = self.started.elapsed().as_millis() as u64,
            "request done"
        );
        if let Ok(v) = HeaderValue::from_str(&self.id) {
            resp.headers_mut().insert(HEADER, v);
        }
        resp
    }
}

fn is_safe(id: &str) -> bool {
    !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}
