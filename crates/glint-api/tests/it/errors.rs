//! Error bodies in webob's three shapes, request ids, unknown routes and
//! methods, and authentication failures.

use crate::common;

use common::raw::exchange;
use common::{TestApp, expect_error, expect_json, expect_status};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};

const MISSING: &str = "4a4c7f11-5b8e-4c6e-9b3f-0c2d1e0f9a87";
const REQUEST_ID: &str = "x-openstack-request-id";

async fn get_missing(app: &TestApp, accept: &str) -> reqwest::Response {
    app.get(&format!("/v2/images/{MISSING}"))
        .header(ACCEPT, accept)
        .send()
        .await
        .unwrap()
}

fn content_type(resp: &reqwest::Response) -> String {
    resp.headers()[CONTENT_TYPE].to_str().unwrap().to_string()
}

#[tokio::test]
async fn error_with_accept_json_is_a_json_body() {
    let app = TestApp::new().await;
    let resp = get_missing(&app, "application/json").await;
    assert!(content_type(&resp).starts_with("application/json"));
    let body = expect_json(resp, StatusCode::NOT_FOUND).await;
    let message = body["message"].as_str().unwrap();
    assert!(message.starts_with(&format!("No image found with ID {MISSING}<br /><br />")));
    assert_eq!(body["code"], "404 Not Found");
    assert_eq!(body["title"], "Not Found");
    assert_eq!(body.as_object().unwrap().len(), 3);
}

#[tokio::test]
async fn error_with_accept_html_or_anything_is_an_html_page() {
    let app = TestApp::new().await;
    for accept in ["text/html", "*/*"] {
        let resp = get_missing(&app, accept).await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        assert_eq!(content_type(&resp), "text/html; charset=UTF-8", "{accept}");
        let body = resp.text().await.unwrap();
        assert!(body.starts_with("<html>"), "{body}");
        assert!(body.contains("<title>404 Not Found</title>"), "{body}");
        assert!(body.contains("<h1>404 Not Found</h1>"), "{body}");
        assert!(
            body.contains(&format!("No image found with ID {MISSING}")),
            "{body}"
        );
    }
}

#[tokio::test]
async fn error_without_accept_is_plain_text() {
    let app = TestApp::new().await;
    let head = format!(
        "GET /v2/images/{MISSING} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        app.addr()
    );
    let resp = exchange(app.addr(), &head).await;
    assert_eq!(resp.status, 404);
    assert_eq!(
        resp.header("content-type"),
        Some("text/plain; charset=UTF-8")
    );
    assert!(
        resp.body.starts_with(&format!(
            "404 Not Found\n\nNo image found with ID {MISSING}"
        )),
        "{:?}",
        resp.body
    );
}

#[tokio::test]
async fn error_without_accept_is_webobs_exact_plain_text() {
    let app = TestApp::new().await;
    let head = format!(
        "GET /v2/images/{MISSING} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
        app.addr()
    );
    let resp = exchange(app.addr(), &head).await;
    assert_eq!(
        resp.body,
        format!("404 Not Found\n\nNo image found with ID {MISSING}\n\n   ")
    );
}

#[tokio::test]
async fn error_with_accept_html_is_webobs_exact_page() {
    let app = TestApp::new().await;
    let body = get_missing(&app, "text/html").await.text().await.unwrap();
    let expected = format!(
        "<html>\n <head>\n  <title>404 Not Found</title>\n </head>\n <body>\n  \
         <h1>404 Not Found</h1>\n  No image found with ID {MISSING}<br /><br />\n\n\n\n \
         </body>\n</html>"
    );
    assert_eq!(body, expected);
}

#[tokio::test]
async fn error_with_unrelated_accept_is_plain_text() {
    let app = TestApp::new().await;
    let resp = get_missing(&app, "text/plain").await;
    assert!(content_type(&resp).starts_with("text/plain"));
}

#[tokio::test]
async fn error_404_json_body_snapshot() {
    let app = TestApp::new().await;
    let body = expect_json(
        get_missing(&app, "application/json").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    insta::assert_json_snapshot!("error_404", body);
}

#[tokio::test]
async fn error_409_json_body_snapshot() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("twice").await;
    app.upload_ok(&id, vec![1u8; 8]).await;
    let body = expect_json(app.upload(&id, vec![1u8; 8]).await, StatusCode::CONFLICT).await;
    insta::assert_json_snapshot!("error_409", body);
}

#[tokio::test]
async fn error_415_json_body_snapshot() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("typed").await;
    let resp = app
        .put(&format!("/v2/images/{id}/file"))
        .header(CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let body = expect_json(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    insta::assert_json_snapshot!("error_415", body);
}

#[tokio::test]
async fn every_response_carries_a_generated_request_id() {
    let app = TestApp::new().await;
    let created = app
        .post("/v2/images")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let missing = get_missing(&app, "application/json").await;
    let versions = app.get("/versions").send().await.unwrap();
    let unknown = app.get("/nowhere").send().await.unwrap();
    let mut seen = Vec::new();
    for resp in [created, missing, versions, unknown] {
        let id = resp.headers()[REQUEST_ID].to_str().unwrap().to_string();
        assert!(id.starts_with("req-"), "{id}");
        assert_eq!(id.len(), "req-".len() + 36, "{id}");
        seen.push(id);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 4, "ids are unique");
}

#[tokio::test]
async fn incoming_request_id_is_echoed() {
    let app = TestApp::new().await;
    let resp = app
        .get("/v2/images")
        .header(REQUEST_ID, "req-from-the-client")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()[REQUEST_ID], "req-from-the-client");
}

#[tokio::test]
async fn incoming_request_id_without_req_prefix_gets_one() {
    let app = TestApp::new().await;
    let resp = app
        .get("/v2/images")
        .header(REQUEST_ID, "from-the-client")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()[REQUEST_ID], "req-from-the-client");
}

#[tokio::test]
async fn request_id_longer_than_the_limit_is_431() {
    let app = TestApp::new().await;
    let resp = app
        .get("/v2/images")
        .header(REQUEST_ID, "r".repeat(65))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::from_u16(431).unwrap());
    let id = resp.headers()[REQUEST_ID].to_str().unwrap().to_string();
    assert!(id.starts_with("req-") && id.len() == 40, "{id}");
    let message = expect_error(resp, StatusCode::from_u16(431).unwrap()).await;
    assert_eq!(
        message,
        "The request header fields were too large \
         x-openstack-request-id is too long, max size 64"
    );
    let resp = app
        .get("/v2/images")
        .header(REQUEST_ID, "r".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()[REQUEST_ID],
        format!("req-{}", "r".repeat(64))
    );
}

#[tokio::test]
async fn wrong_method_is_405_with_allow_header() {
    let app = TestApp::new().await;
    for (method, path, allowed) in [
        (
            reqwest::Method::PUT,
            "/v2/images".to_string(),
            vec!["GET", "POST"],
        ),
        (
            reqwest::Method::POST,
            format!("/v2/images/{MISSING}"),
            vec!["GET", "PATCH", "DELETE"],
        ),
        (
            reqwest::Method::POST,
            format!("/v2/images/{MISSING}/file"),
            vec!["GET", "PUT"],
        ),
        (
            reqwest::Method::PATCH,
            format!("/v2/images/{MISSING}/members"),
            vec!["GET", "POST"],
        ),
        (
            reqwest::Method::POST,
            format!("/v2/images/{MISSING}/members/p2"),
            vec!["GET", "PUT", "DELETE"],
        ),
        (
            reqwest::Method::DELETE,
            "/v2/schemas/image".to_string(),
            vec!["GET"],
        ),
    ] {
        let resp = app.request(method.clone(), &path).send().await.unwrap();
        assert_eq!(
            resp.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        let allow = resp.headers()["allow"].to_str().unwrap().to_string();
        for m in allowed {
            assert!(allow.contains(m), "{method} {path}: Allow: {allow}");
        }
        expect_error(resp, StatusCode::METHOD_NOT_ALLOWED).await;
    }
}

#[tokio::test]
async fn wrong_method_has_webobs_405_message() {
    let app = TestApp::new().await;
    let resp = app.put("/v2/images").send().await.unwrap();
    let body = expect_json(resp, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(
        body["message"],
        "The method PUT is not allowed for this resource. <br /><br />\n"
    );
}

#[tokio::test]
async fn unknown_path_under_v2_is_404() {
    let app = TestApp::new().await;
    for path in ["/v2/nothing", "/v2/images/x/y/z", "/v2.5/nothing"] {
        let resp = app.get(path).send().await.unwrap();
        expect_error(resp, StatusCode::NOT_FOUND).await;
    }
}

#[tokio::test]
async fn path_outside_any_api_version_answers_with_the_versions_document() {
    let app = TestApp::new().await;
    let versions = expect_json(app.get("/versions").send().await.unwrap(), StatusCode::OK).await;
    for path in ["/v3/images", "/v1/images", "/nowhere", "/images"] {
        let resp = app.get(path).send().await.unwrap();
        let doc = expect_json(resp, StatusCode::MULTIPLE_CHOICES).await;
        assert_eq!(doc, versions, "{path}");
    }
}

#[tokio::test]
async fn version_in_accept_media_type_selects_the_v2_api() {
    let app = TestApp::new().await;
    app.create_raw_image("by-media-type").await;
    let resp = app
        .get("/images")
        .header(ACCEPT, "application/vnd.openstack.images-v2.5")
        .send()
        .await
        .unwrap();
    let page = expect_json(resp, StatusCode::OK).await;
    assert_eq!(page["images"][0]["name"], "by-media-type");
}

#[tokio::test]
async fn body_on_requests_that_take_none_is_400() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("bodiless").await;
    for (method, path) in [
        (reqwest::Method::GET, format!("/v2/images/{id}")),
        (reqwest::Method::DELETE, format!("/v2/images/{id}")),
        (reqwest::Method::GET, format!("/v2/images/{id}/file")),
        (reqwest::Method::PUT, format!("/v2/images/{id}/tags/t")),
        (
            reqwest::Method::POST,
            format!("/v2/images/{id}/actions/deactivate"),
        ),
        (reqwest::Method::GET, "/v2/schemas/image".to_string()),
    ] {
        let resp = app
            .request(method.clone(), &path)
            .body("{}")
            .send()
            .await
            .unwrap();
        let message = expect_error(resp, StatusCode::BAD_REQUEST).await;
        assert_eq!(
            message, "A body is not expected with this request.",
            "{method} {path}"
        );
    }
    assert_eq!(app.image(&id).await["tags"], json!([]));
}

#[tokio::test]
async fn identity_status_invalid_is_401() {
    let app = TestApp::new().await;
    let resp = app
        .get("/v2/images")
        .header("X-Identity-Status", "Invalid")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNAUTHORIZED).await;
    let resp = app
        .post("/v2/images")
        .header("X-Identity-Status", "Invalid")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::UNAUTHORIZED).await;
    let page: Value = app.admin().list("").await;
    assert_eq!(page["images"], json!([]), "nothing was created");
}

#[tokio::test]
async fn identity_status_invalid_has_webobs_401_explanation() {
    let app = TestApp::new().await;
    let resp = app
        .get("/v2/images")
        .header("X-Identity-Status", "Invalid")
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::UNAUTHORIZED).await;
    assert_eq!(
        message,
        "This server could not verify that you are authorized to access the document you \
         requested. Either you supplied the wrong credentials (e.g., bad password), or your \
         browser does not understand how to supply the credentials required."
    );
}

#[tokio::test]
async fn identity_status_confirmed_is_accepted() {
    let app = TestApp::new().await;
    let resp = app
        .get("/v2/images")
        .header("X-Identity-Status", "Confirmed")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn x_tenant_id_names_the_project_like_x_project_id() {
    let app = TestApp::new().await;
    let resp = app
        .post("/v2/images")
        .header("X-Tenant-Id", "tenant9")
        .header("X-Roles", "member,reader")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let image = expect_json(resp, StatusCode::CREATED).await;
    assert_eq!(image["owner"], "tenant9");
}

#[tokio::test]
async fn roles_header_is_case_insensitive() {
    let app = TestApp::new().await;
    let image = app
        .as_user("p1", "Member,READER")
        .create_image(json!({}))
        .await;
    assert_eq!(image["owner"], "p1");
}
