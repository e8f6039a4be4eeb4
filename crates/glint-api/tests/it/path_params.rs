//! Path segments that are not UTF-8 once percent-decoded get a 400 in
//! Glance's error shape on every route, never the framework's plain text.

use crate::common;

use common::{PATCH_V21, TestApp, expect_error, expect_status};
use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};

/// A request to make: method, path and, for routes that read one, the
/// body with its media type.
type Call = (Method, String, Option<(&'static str, &'static str)>);

const NOT_UTF8: &str = "The path of the request is not valid UTF-8 once percent-decoded.";

#[tokio::test]
async fn path_segment_that_is_not_utf8_is_400_on_every_route() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("target").await;
    let json = "application/json";
    let octets = "application/octet-stream";
    let routes: Vec<Call> = vec![
        (Method::GET, "/v2/images/%FF".into(), None),
        (
            Method::PATCH,
            "/v2/images/%FF".into(),
            Some((PATCH_V21, "[]")),
        ),
        (Method::DELETE, "/v2/images/%FF".into(), None),
        (
            Method::POST,
            "/v2/images/%FF/actions/deactivate".into(),
            None,
        ),
        (
            Method::POST,
            "/v2/images/%FF/actions/reactivate".into(),
            None,
        ),
        (Method::GET, "/v2/images/%FF/file".into(), None),
        (
            Method::PUT,
            "/v2/images/%FF/file".into(),
            Some((octets, "x")),
        ),
        (Method::PUT, format!("/v2/images/{id}/tags/%FF"), None),
        (Method::DELETE, format!("/v2/images/{id}/tags/%FF"), None),
        (Method::PUT, "/v2/images/%FF/tags/t".into(), None),
        (Method::GET, "/v2/images/%FF/members".into(), None),
        (
            Method::POST,
            "/v2/images/%FF/members".into(),
            Some((json, r#"{"member": "p2"}"#)),
        ),
        (Method::GET, format!("/v2/images/{id}/members/%FF"), None),
        (
            Method::PUT,
            format!("/v2/images/{id}/members/%FF"),
            Some((json, r#"{"status": "accepted"}"#)),
        ),
        (Method::DELETE, format!("/v2/images/{id}/members/%FF"), None),
        (Method::GET, "/v2/images/%FF/members/p2".into(), None),
        (Method::GET, "/v2/images/%C3%28".into(), None),
    ];
    for (method, path, body) in routes {
        let mut req = app.request(method.clone(), &path);
        if let Some((content_type, body)) = body {
            req = req.header(CONTENT_TYPE, content_type).body(body);
        }
        let resp = req.send().await.unwrap();
        let message = expect_error(resp, StatusCode::BAD_REQUEST).await;
        assert_eq!(message, NOT_UTF8, "{method} {path}");
    }
    assert_eq!(app.image(&id).await["tags"], serde_json::json!([]));
}

#[tokio::test]
async fn percent_encoded_utf8_segments_still_work() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("tagged").await;
    let resp = app
        .put(&format!("/v2/images/{id}/tags/caf%C3%A9"))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;
    assert_eq!(app.image(&id).await["tags"], serde_json::json!(["café"]));
}
