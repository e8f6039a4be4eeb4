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

/// The versions multi-store adds (`enabled_backends`), listed where Glance
/// lists them: after 2.15, before 2.9, and 2.8 after 2.9.
const MULTI_STORE_VERSIONS: [&str; 5] = ["2.13", "2.12", "2.11", "2.10", "2.8"];

/// Whether `v2.N` names a version this server speaks.
pub fn is_known_minor(minor: &str) -> bool {
    VERSIONS
        .iter()
        .map(|(v, _)| *v)
        .chain(MULTI_STORE_VERSIONS)
        .any(|v| v.strip_prefix("2.") == Some(minor))
}

/// The versions listed, in Glance's order.
fn listed(multi_store: bool) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::with_capacity(VERSIONS.len() + MULTI_STORE_VERSIONS.len());
    for (v, status) in VERSIONS {
        if multi_store && v == "2.9" {
            out.extend(MULTI_STORE_VERSIONS[..4].iter().map(|m| (*m, "SUPPORTED")));
        }
        out.push((v, status));
        if multi_store && v == "2.9" {
            out.push((MULTI_STORE_VERSIONS[4], "SUPPORTED"));
        }
    }
    out
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

pub fn document(base: &str, multi_store: bool) -> Value {
    let versions: Vec<Value> = listed(multi_store)
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
    crate::json::Json(document(
        &base_url(&state, &headers),
        state.images.stores().is_multi_store(),
    ))
    .into_response()
}

/// `GET /` and unknown versions: 300 Multiple Choices.
pub async fn choose_version(State(state): State<AppState>, headers: HeaderMap) -> Response {
    (
        StatusCode::MULTIPLE_CHOICES,
        crate::json::Json(document(
            &base_url(&state, &headers),
            state.images.stores().is_multi_store(),
        )),
    )
        .into_response()
}
