//! Answers to odd paths and methods, as Glance's version negotiation and
//! router give them: `/versions` under any method or below, the bare
//! `/v2` redirect, and `Allow` headers listing Glance's methods only.

use crate::common;

use common::raw::exchange;
use common::{TestApp, expect_error, expect_json};
use reqwest::{Method, StatusCode};

const MISSING: &str = "4a4c7f11-5b8e-4c6e-9b3f-0c2d1e0f9a87";

#[tokio::test]
async fn versions_answers_any_method_and_subpath_with_200() {
    let app = TestApp::new().await;
    let expected = expect_json(app.get("/versions").send().await.unwrap(), StatusCode::OK).await;
    for (method, path) in [
        (Method::GET, "/versions/"),
        (Method::GET, "/versions/anything"),
        (Method::POST, "/versions"),
        (Method::PUT, "/versions/"),
        (Method::DELETE, "/versions"),
    ] {
        let resp = app.request(method.clone(), path).send().await.unwrap();
        let doc = expect_json(resp, StatusCode::OK).await;
        assert_eq!(doc, expected, "{method} {path}");
    }
}

#[tokio::test]
async fn root_answers_any_method_with_300() {
    let app = TestApp::new().await;
    for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
        let resp = app.request(method.clone(), "/").send().await.unwrap();
        expect_json(resp, StatusCode::MULTIPLE_CHOICES).await;
    }
}

#[tokio::test]
async fn bare_v2_redirects_to_v2_slash_which_is_404() {
    let app = TestApp::new().await;
    for path in ["/v2", "/v2.1", "/v2.17"] {
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            app.addr()
        );
        let resp = exchange(app.addr(), &head).await;
        assert_eq!(resp.status, 302, "{path}: {resp:?}");
        assert_eq!(resp.header("location"), Some("/v2/"), "{path}");
    }
    for path in ["/v2/", "/v2.5/"] {
        let resp = app.get(path).send().await.unwrap();
        let message = expect_error(resp, StatusCode::NOT_FOUND).await;
        assert_eq!(message, "The resource could not be found.", "{path}");
    }
}

#[tokio::test]
async fn allow_header_lists_glance_methods_without_head() {
    let app = TestApp::new().await;
    let cases = [
        (Method::PUT, "/v2/images".to_string(), "GET, POST"),
        (
            Method::POST,
            format!("/v2/images/{MISSING}"),
            "GET, PATCH, DELETE",
        ),
        (
            Method::POST,
            format!("/v2/images/{MISSING}/file"),
            "GET, PUT",
        ),
        (
            Method::GET,
            format!("/v2/images/{MISSING}/tags/t"),
            "PUT, DELETE",
        ),
        (
            Method::GET,
            format!("/v2/images/{MISSING}/actions/deactivate"),
            "POST",
        ),
        (
            Method::PATCH,
            format!("/v2/images/{MISSING}/members"),
            "GET, POST",
        ),
        (
            Method::POST,
            format!("/v2/images/{MISSING}/members/p2"),
            "GET, PUT, DELETE",
        ),
        (Method::DELETE, "/v2/schemas/image".to_string(), "GET"),
        (Method::POST, "/v2/info/import".to_string(), "GET"),
    ];
    for (method, path, allow) in cases {
        let resp = app.request(method.clone(), &path).send().await.unwrap();
        assert_eq!(resp.headers()["allow"], allow, "{method} {path}");
        expect_error(resp, StatusCode::METHOD_NOT_ALLOWED).await;
    }
}
