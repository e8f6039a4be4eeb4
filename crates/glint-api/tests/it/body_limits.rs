//! JSON request bodies over the limit are refused with 413 in Glance's
//! error shape, announced or not.

use crate::common;

use common::{TestApp, expect_error, id_of};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

/// The most bytes a JSON request body may have.
const LIMIT: usize = 2 * 1024 * 1024;

fn oversized() -> String {
    format!(r#"{{"name": "{}"}}"#, "x".repeat(LIMIT))
}

#[tokio::test]
async fn json_body_over_the_limit_is_413() {
    let app = TestApp::new().await;
    let shared = id_of(&app.create_image(json!({"visibility": "shared"})).await);
    let expected = format!("A JSON request body may be at most {LIMIT} bytes.");
    for (method, path) in [
        (reqwest::Method::POST, "/v2/images".to_string()),
        (
            reqwest::Method::POST,
            format!("/v2/images/{shared}/members"),
        ),
        (
            reqwest::Method::PUT,
            format!("/v2/images/{shared}/members/p2"),
        ),
    ] {
        let resp = app
            .request(method.clone(), &path)
            .header(CONTENT_TYPE, "application/json")
            .body(oversized())
            .send()
            .await
            .unwrap();
        let message = expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await;
        assert_eq!(message, expected, "{method} {path}");
    }
    // Sent in chunks, without announcing its length.
    let chunks = futures::stream::iter(
        oversized()
            .into_bytes()
            .chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let resp = app
        .post("/v2/images")
        .header(CONTENT_TYPE, "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await,
        expected
    );
    let patch = json!([{"op": "replace", "path": "/name", "value": "x".repeat(LIMIT)}]);
    let resp = app.admin().patch(&shared, patch).await;
    assert_eq!(
        expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await,
        expected
    );
    assert_eq!(app.admin().list_names("").await.len(), 1);
}

/// A body just under the limit is read and judged on its content: here
/// the property value is refused by its own, smaller bound, which proves
/// the whole body reached the parser.
#[tokio::test]
async fn json_body_just_under_the_limit_is_read() {
    let app = TestApp::new().await;
    let value_len = LIMIT - 64;
    let body = format!(r#"{{"name": "big", "note": "{}"}}"#, "x".repeat(value_len));
    let resp = app
        .post("/v2/images")
        .header(CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_error(resp, StatusCode::BAD_REQUEST).await,
        format!(
            "Value of property 'note' is too long: {value_len} bytes, the limit is 65535 bytes."
        )
    );
}
