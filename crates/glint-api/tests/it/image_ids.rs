//! An id in a path that is not an image id names no image: every route
//! answers it with the 404 Glance words for that route, and only after the
//! checks Glance makes while reading the request (media type, headers,
//! body), which come first.

use crate::common;

use common::{PATCH_V21, TestApp, expect_error};
use reqwest::header::{CONTENT_TYPE, RANGE};
use reqwest::{Method, StatusCode};

const JSON: &str = "application/json";
const OCTETS: &str = "application/octet-stream";

/// A request to make: method, path and, for routes that read one, the
/// body with its media type.
type Call = (Method, &'static str, Option<(&'static str, &'static str)>);

async fn send(app: &TestApp, (method, path, body): &Call) -> reqwest::Response {
    let mut req = app.request(method.clone(), path);
    if let Some((content_type, body)) = body {
        req = req.header(CONTENT_TYPE, *content_type).body(*body);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn an_id_that_is_not_an_image_id_is_each_routes_404() {
    let app = TestApp::new().await;
    let image = "No image found with ID not-a-uuid";
    let delete = "Failed to find image not-a-uuid to delete";
    let members = "Image not-a-uuid not found.";
    let calls: Vec<(Call, &str)> = vec![
        ((Method::GET, "/v2/images/not-a-uuid", None), image),
        (
            (
                Method::PATCH,
                "/v2/images/not-a-uuid",
                Some((PATCH_V21, "[]")),
            ),
            image,
        ),
        ((Method::DELETE, "/v2/images/not-a-uuid", None), delete),
        (
            (
                Method::POST,
                "/v2/images/not-a-uuid/actions/deactivate",
                None,
            ),
            image,
        ),
        (
            (
                Method::POST,
                "/v2/images/not-a-uuid/actions/reactivate",
                None,
            ),
            image,
        ),
        ((Method::GET, "/v2/images/not-a-uuid/file", None), image),
        (
            (
                Method::PUT,
                "/v2/images/not-a-uuid/file",
                Some((OCTETS, "x")),
            ),
            image,
        ),
        ((Method::PUT, "/v2/images/not-a-uuid/tags/t", None), image),
        (
            (Method::DELETE, "/v2/images/not-a-uuid/tags/t", None),
            image,
        ),
        (
            (Method::GET, "/v2/images/not-a-uuid/members", None),
            members,
        ),
        (
            (
                Method::POST,
                "/v2/images/not-a-uuid/members",
                Some((JSON, r#"{"member": "p2"}"#)),
            ),
            members,
        ),
        (
            (Method::GET, "/v2/images/not-a-uuid/members/p2", None),
            members,
        ),
        (
            (
                Method::PUT,
                "/v2/images/not-a-uuid/members/p2",
                Some((JSON, r#"{"status": "accepted"}"#)),
            ),
            members,
        ),
        (
            (Method::DELETE, "/v2/images/not-a-uuid/members/p2", None),
            members,
        ),
    ];
    for (call, expected) in &calls {
        let message = expect_error(send(&app, call).await, StatusCode::NOT_FOUND).await;
        assert_eq!(message, *expected, "{} {}", call.0, call.1);
    }
}

#[tokio::test]
async fn what_glance_reads_with_the_request_is_refused_before_the_missing_image() {
    let app = TestApp::new().await;
    let long_tag = format!("/v2/images/not-a-uuid/tags/{}", "t".repeat(256));
    let long_tag: &'static str = Box::leak(long_tag.into_boxed_str());
    let calls: Vec<(Call, StatusCode)> = vec![
        (
            (Method::PATCH, "/v2/images/not-a-uuid", Some((JSON, "[]"))),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        (
            (
                Method::PATCH,
                "/v2/images/not-a-uuid",
                Some((PATCH_V21, "[")),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            (
                Method::PATCH,
                "/v2/images/not-a-uuid",
                Some((PATCH_V21, r#"[{"op": "move", "path": "/name"}]"#)),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            (
                Method::PATCH,
                "/v2/images/not-a-uuid",
                Some((
                    PATCH_V21,
                    r#"[{"op": "replace", "path": "/status", "value": "active"}]"#,
                )),
            ),
            StatusCode::FORBIDDEN,
        ),
        (
            (Method::PUT, "/v2/images/not-a-uuid/file", Some((JSON, "x"))),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
        ),
        ((Method::PUT, long_tag, None), StatusCode::BAD_REQUEST),
        (
            (
                Method::POST,
                "/v2/images/not-a-uuid/members",
                Some((JSON, "{}")),
            ),
            StatusCode::BAD_REQUEST,
        ),
        (
            (
                Method::PUT,
                "/v2/images/not-a-uuid/members/p2",
                Some((JSON, "{}")),
            ),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (call, status) in &calls {
        let resp = send(&app, call).await;
        assert_eq!(resp.status(), *status, "{} {}", call.0, call.1);
    }
    let resp = app
        .put("/v2/images/not-a-uuid/file")
        .header(CONTENT_TYPE, OCTETS)
        .header("x-openstack-image-size", "many")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = app
        .get("/v2/images/not-a-uuid/file")
        .header(RANGE, "bytes=0-1,3-4")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn what_glance_checks_once_it_has_the_image_comes_after_the_missing_image() {
    let app = TestApp::new().await;
    let calls: Vec<Call> = vec![
        // The status value is checked once the caller may change the
        // membership, and the member id once it fits the quota.
        (
            Method::PUT,
            "/v2/images/not-a-uuid/members/p2",
            Some((JSON, r#"{"status": "bogus"}"#)),
        ),
        (
            Method::POST,
            "/v2/images/not-a-uuid/members",
            Some((JSON, r#"{"member": "p\u0000"}"#)),
        ),
    ];
    for call in &calls {
        let message = expect_error(send(&app, call).await, StatusCode::NOT_FOUND).await;
        assert_eq!(
            message, "Image not-a-uuid not found.",
            "{} {}",
            call.0, call.1
        );
    }
}

#[tokio::test]
async fn an_image_id_in_upper_case_names_the_image() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("upper").await;
    let upper = id.to_uppercase();
    let resp = app
        .get(&format!("/v2/images/{upper}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let shown: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(shown["id"], id.as_str());
    let resp = app
        .put(&format!("/v2/images/{upper}/tags/t"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.image(&id).await["tags"], serde_json::json!(["t"]));
    // A missing image is quoted in the form ids are read in.
    let missing = "43FDC94A-F59F-4C48-AEC1-A3931591DA4E";
    let resp = app
        .get(&format!("/v2/images/{missing}"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_eq!(
        message,
        format!("No image found with ID {}", missing.to_lowercase())
    );
}

#[tokio::test]
async fn a_long_id_is_quoted_cut_by_every_route() {
    let app = TestApp::new().await;
    let long = "x".repeat(1000);
    let cut = format!("{}...(truncated)", "x".repeat(200));
    for (method, path) in [
        (Method::GET, format!("/v2/images/{long}")),
        (Method::GET, format!("/v2/images/{long}/file")),
        (
            Method::POST,
            format!("/v2/images/{long}/actions/deactivate"),
        ),
        (Method::PUT, format!("/v2/images/{long}/tags/t")),
    ] {
        let resp = app.request(method.clone(), &path).send().await.unwrap();
        let message = expect_error(resp, StatusCode::NOT_FOUND).await;
        assert_eq!(
            message,
            format!("No image found with ID {cut}"),
            "{method} {path}"
        );
    }
    let resp = app
        .put(&format!("/v2/images/{long}/file"))
        .header(CONTENT_TYPE, OCTETS)
        .body("x")
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_eq!(message, format!("No image found with ID {cut}"));
    let resp = app
        .delete(&format!("/v2/images/{long}"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_eq!(message, format!("Failed to find image {cut} to delete"));
}
