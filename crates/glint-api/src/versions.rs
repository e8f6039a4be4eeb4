//! The versions document (`GET /` and `GET /versions`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use crate::state::AppState;

/// Minor versions served, in the order Glance lists them when neither
/// multiple stores nor the image cache are configured.
const VERSIONS: [(&str, &str); 11] = [
    ("2.15", "SUPPORTED"),
    ("2.9", "SUPPORTED"),
    ("2.17", "CURRENT"),
    ("2.7", "SUPPORTED"),
    ("2.6", "SUPPORTED"),
    ("2.5", "SUPPORTED"),
    ("2.4", "SUPPORTED"),
    ("2.3", "SUPPORTED"),
    ("2.2", "SUPPORTED"),
    ("2.1", "SUPPORTED"),
    ("2.0", "SUPPORTED"),
];

/// Whether `v2.N` names a version this server speaks.
pub fn is_known_minor(minor: &str) -> bool {
    VERSIONS
        .iter()
        .any(|(v, _)| v.strip_prefix("2.") == Some(minor))
}

/// The base URL for links: `public_endpoint`, else the request's host.
pub fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(ep) = &state.config.public_endpoint {
        return ep.trim_end_matches('/').to_string();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

pub fn document(base: &str) -> Value {
    let versions: Vec<Value> = VERSIONS
        .iter()
        .map(|(v, status)| {
            json!({"id": format!("v{v}"), "status": status,
                   "links": [{"rel": "self", "href": format!("{base}/v2/")}]})
        })
        .collect();
    json!({ "versions": versions })
}

/// `GET /versions`: 200.
pub async fn list_versions(State(state): State<AppState>, headers: HeaderMap) -> Response {
    crate::json::Json(document(&base_url(&state, &headers))).into_response()
}

/// `GET /` and unknown versions: 300 Multiple Choices.
pub async fn choose_version(State(state): State<AppState>, headers: HeaderMap) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        crate::json::Json(document(&base_url(&state, &headers))),
    )
        .into_response()
}
