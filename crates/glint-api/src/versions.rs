//! The versions document (`GET /` and `GET /versions`).

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use crate::state::AppState;

/// Minor versions every configuration serves, after the ones that depend
/// on it.
const BASE_VERSIONS: [&str; 8] = ["2.7", "2.6", "2.5", "2.4", "2.3", "2.2", "2.1", "2.0"];

/// The versions multi-store adds (`enabled_backends`): 2.8 and 2.10–2.13,
/// listed around 2.9 as Glance lists them.
const MULTI_STORE_VERSIONS: [&str; 5] = ["2.13", "2.12", "2.11", "2.10", "2.8"];

/// The versions the image cache adds (`image_cache_dir`): the cache API
/// (2.14), 2.16 and its clean and prune calls (2.18), which is then the
/// current version.
const CACHE_VERSIONS: [&str; 3] = ["2.18", "2.16", "2.14"];

/// Whether `v2.N` names a version this server speaks: as Glance's version
/// negotiation, the cache's versions only with the cache on.
pub fn is_known_minor(minor: &str, cache: bool) -> bool {
    let known = |v: &str| v.strip_prefix("2.") == Some(minor);
    ["2.9", "2.15", "2.17"].into_iter().any(known)
        || BASE_VERSIONS.into_iter().any(known)
        || MULTI_STORE_VERSIONS.into_iter().any(known)
        || (cache && CACHE_VERSIONS.into_iter().any(known))
}

/// The versions listed, in Glance's order (`glance/api/versions.py`).
fn listed(multi_store: bool, cache: bool) -> Vec<(&'static str, &'static str)> {
    const SUPPORTED: &str = "SUPPORTED";
    let mut out = Vec::with_capacity(20);
    if cache {
        out.push(("2.18", "CURRENT"));
        out.extend(["2.17", "2.16", "2.15", "2.14"].map(|v| (v, SUPPORTED)));
    } else {
        out.push(("2.15", SUPPORTED));
    }
    if multi_store {
        out.extend(MULTI_STORE_VERSIONS[..4].iter().map(|v| (*v, SUPPORTED)));
        out.push(("2.9", SUPPORTED));
        out.push((MULTI_STORE_VERSIONS[4], SUPPORTED));
    } else {
        out.push(("2.9", SUPPORTED));
    }
    if !cache {
        out.push(("2.17", "CURRENT"));
    }
    out.extend(BASE_VERSIONS.map(|v| (v, SUPPORTED)));
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

pub fn document(base: &str, multi_store: bool, cache: bool) -> Value {
    let versions: Vec<Value> = listed(multi_store, cache)
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
        state.images.cache().is_some(),
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
            state.images.cache().is_some(),
        )),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(multi_store: bool, cache: bool) -> Vec<String> {
        listed(multi_store, cache)
            .iter()
            .map(|(v, s)| format!("{v} {s}"))
            .collect()
    }

    #[test]
    fn the_cache_adds_its_versions_first_and_makes_2_18_current() {
        let listed = ids(false, true);
        assert_eq!(
            listed[..7],
            [
                "2.18 CURRENT",
                "2.17 SUPPORTED",
                "2.16 SUPPORTED",
                "2.15 SUPPORTED",
                "2.14 SUPPORTED",
                "2.9 SUPPORTED",
                "2.7 SUPPORTED"
            ]
        );
        assert_eq!(listed.len(), 14);
        let both = ids(true, true);
        assert_eq!(
            both[5..11],
            [
                "2.13 SUPPORTED",
                "2.12 SUPPORTED",
                "2.11 SUPPORTED",
                "2.10 SUPPORTED",
                "2.9 SUPPORTED",
                "2.8 SUPPORTED"
            ]
        );
        assert_eq!(both.len(), 19);
    }

    #[test]
    fn without_the_cache_2_17_is_current_and_the_cache_versions_are_unknown() {
        let listed = ids(false, false);
        assert_eq!(
            listed[..3],
            ["2.15 SUPPORTED", "2.9 SUPPORTED", "2.17 CURRENT"]
        );
        for minor in ["14", "16", "18"] {
            assert!(!is_known_minor(minor, false));
            assert!(is_known_minor(minor, true));
        }
        assert!(is_known_minor("17", false) && is_known_minor("8", false));
        assert!(!is_known_minor("19", true));
    }
}
