//! `x-openstack-request-id` on every response, and a tracing span per
//! request carrying it.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use tracing::Instrument;

use crate::error::ApiError;
use crate::state::AppState;

pub const HEADER: &str = "x-openstack-request-id";

/// The request id of the current request, for handlers that want it.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// Honours a client-sent id of acceptable length, else makes `req-<uuid>`.
pub async fn assign_request_id(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let incoming = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if let Some(id) = &incoming
        && id.len() > state.config.max_request_id_length
    {
        let err = ApiError::BadRequest(format!(
            "Request ID is too long: the limit is {} characters.",
            state.config.max_request_id_length
        ));
        return err.into_response();
    }
    let id = match incoming {
        Some(id) if id.starts_with("req-") => id,
        Some(id) => format!("req-{id}"),
        None => format!("req-{}", uuid::Uuid::new_v4()),
    };
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let started = std::time::Instant::now();
    let mut resp = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::debug!(
            status = resp.status().as_u16(),
            duration_ms = started.elapsed().as_millis() as u64,
            "request done"
        );
    });
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert(HEADER, v);
    }
    resp
}
