//! The no-auth server on the loopback address against web pages in the
//! developer's browser: requests for a foreign `Host` (DNS rebinding) or
//! from a foreign `Origin` are refused, and JSON bodies must say they are
//! JSON, which a cross-site form or `text/plain` fetch cannot do without
//! the browser asking first.

use crate::common;

use common::keystone::{AuthSettings, FakeKeystone, keystone_mode};
use common::raw::exchange;
use common::{TestApp, expect_error, expect_json, id_of, unsupported_media_type};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ORIGIN};
use serde_json::json;
use tokio::io::AsyncWriteExt;

const FOREIGN_HOST: &str = "Only requests for a loopback host name or address are served \
                            without authentication.";
const FOREIGN_ORIGIN: &str = "Requests from web pages outside this machine are not served \
                              without authentication.";
const NOT_JSON: &str = "Without authentication, request bodies must be sent as \
                        application/json.";

/// `GET /v2/images` with `Host: host`, as a raw request.
async fn list_with_host(app: &TestApp, host: Option<&str>) -> common::raw::RawResponse {
    let host_line = host.map(|h| format!("Host: {h}\r\n")).unwrap_or_default();
    let head = format!(
        "GET /v2/images HTTP/1.1\r\n{host_line}Accept: application/json\r\nConnection: close\r\n"
    );
    exchange(app.addr(), &head).await
}

#[tokio::test]
async fn foreign_host_is_403() {
    let app = TestApp::new().await;
    for host in [
        "evil.example",
        "evil.example:9292",
        "localhost.evil.example",
        "127.0.0.1.evil.example",
        "10.0.0.1",
        "[::2]:9292",
        "",
    ] {
        let resp = list_with_host(&app, Some(host)).await;
        assert_eq!(resp.status, 403, "Host: {host}");
        let body: serde_json::Value = serde_json::from_str(&resp.body).unwrap();
        assert_eq!(body["code"], "403 Forbidden", "Host: {host}");
        assert!(
            body["message"].as_str().unwrap().contains(FOREIGN_HOST),
            "Host: {host}: {body}"
        );
    }
}

#[tokio::test]
async fn loopback_host_or_none_is_served() {
    let app = TestApp::new().await;
    for host in [
        "localhost",
        "LocalHost:9292",
        "api.localhost",
        "api.localhost:80",
        "127.0.0.1",
        "127.3.2.1:9292",
        "[::1]",
        "[::1]:9292",
    ] {
        let resp = list_with_host(&app, Some(host)).await;
        assert_eq!(resp.status, 200, "Host: {host}: {}", resp.body);
    }
    let head = "GET /v2/images HTTP/1.0\r\nAccept: application/json\r\n";
    assert_eq!(exchange(app.addr(), head).await.status, 200);
}

#[tokio::test]
async fn repeated_or_smuggled_hosts_are_403() {
    let app = TestApp::new().await;
    let port = app.addr().port();
    for head in [
        format!("GET /v2/images HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\n"),
        format!("GET /v2/images HTTP/1.1\r\nHost: evil.example\r\nHost: 127.0.0.1:{port}\r\n"),
        format!("GET http://evil.example/v2/images HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"),
        format!(
            "GET /v2/images HTTP/1.1\r\nHost: localhost{}\r\n",
            "x".repeat(8000)
        ),
    ] {
        let resp = exchange(app.addr(), &format!("{head}Connection: close\r\n")).await;
        assert_eq!(resp.status, 403, "{head:.80}");
    }
    let resp = exchange(
        app.addr(),
        &format!("GET http://localhost:{port}/v2/images HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n"),
    )
    .await;
    assert_eq!(resp.status, 200);
}

#[tokio::test]
async fn one_foreign_origin_among_several_is_403() {
    let app = TestApp::new().await;
    let resp = app
        .get("/v2/images")
        .header(ORIGIN, "http://localhost:3000")
        .header(ORIGIN, "http://evil.example")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn rebound_host_cannot_create() {
    let app = TestApp::new().await;
    let body = r#"{"name": "rebound"}"#;
    let request = format!(
        "POST /v2/images HTTP/1.1\r\nHost: attacker.example:9292\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr()).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let resp = common::raw::read_response(&mut stream).await;
    assert_eq!(resp.status, 403);
    assert!(app.admin().list_names("").await.is_empty());
}

#[tokio::test]
async fn foreign_origin_is_403() {
    let app = TestApp::new().await;
    for origin in [
        "http://evil.example",
        "https://evil.example:9292",
        "null",
        "http://localhost.evil.example",
        "file://",
    ] {
        let resp = app
            .post("/v2/images")
            .header(ORIGIN, origin)
            .json(&json!({"name": "from-a-page"}))
            .send()
            .await
            .unwrap();
        let message = expect_error(resp, StatusCode::FORBIDDEN).await;
        assert_eq!(message, FOREIGN_ORIGIN, "Origin: {origin}");
        let resp = app
            .get("/v2/images")
            .header(ORIGIN, origin)
            .send()
            .await
            .unwrap();
        expect_error(resp, StatusCode::FORBIDDEN).await;
    }
    assert!(app.admin().list_names("").await.is_empty());
}

#[tokio::test]
async fn loopback_origin_is_served() {
    let app = TestApp::new().await;
    for origin in [
        "http://localhost:3000",
        "http://127.0.0.1:9292",
        "https://app.localhost",
        "http://[::1]:8080",
    ] {
        let resp = app
            .post("/v2/images")
            .header(ORIGIN, origin)
            .json(&json!({"name": origin}))
            .send()
            .await
            .unwrap();
        expect_json(resp, StatusCode::CREATED).await;
    }
}

#[tokio::test]
async fn json_bodies_need_a_json_media_type() {
    let app = TestApp::new().await;
    let id = id_of(
        &app.create_image(json!({"name": "shared", "visibility": "shared"}))
            .await,
    );
    let routes = [
        (
            reqwest::Method::POST,
            "/v2/images".to_string(),
            r#"{"name": "x"}"#,
        ),
        (
            reqwest::Method::POST,
            format!("/v2/images/{id}/members"),
            r#"{"member": "p2"}"#,
        ),
        (
            reqwest::Method::PUT,
            format!("/v2/images/{id}/members/p2"),
            r#"{"status": "accepted"}"#,
        ),
    ];
    for (method, path, body) in &routes {
        for content_type in [
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("multipart/form-data; boundary=x"),
            Some("application/jsonp"),
            None,
        ] {
            let mut req = app.request(method.clone(), path).body(*body);
            if let Some(t) = content_type {
                req = req.header(CONTENT_TYPE, t);
            }
            let resp = req.send().await.unwrap();
            let message = expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
            let shown = content_type.unwrap_or("None");
            assert_eq!(
                message,
                format!("{} {NOT_JSON}", unsupported_media_type(shown)),
                "{method} {path} as {content_type:?}"
            );
        }
    }
    assert_eq!(app.admin().list_names("").await, ["shared"]);
    let members = app
        .get(&format!("/v2/images/{id}/members"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_json(members, StatusCode::OK).await["members"],
        json!([])
    );
}

#[tokio::test]
async fn json_media_types_are_accepted() {
    let app = TestApp::new().await;
    let id = id_of(
        &app.create_image(json!({"name": "shared", "visibility": "shared"}))
            .await,
    );
    for content_type in [
        "application/json",
        "Application/JSON; charset=UTF-8",
        "application/vnd.example+json",
    ] {
        let resp = app
            .post("/v2/images")
            .header(CONTENT_TYPE, content_type)
            .body(r#"{"name": "typed"}"#)
            .send()
            .await
            .unwrap();
        expect_json(resp, StatusCode::CREATED).await;
    }
    let resp = app
        .post(&format!("/v2/images/{id}/members"))
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(r#"{"member": "p2"}"#)
        .send()
        .await
        .unwrap();
    expect_json(resp, StatusCode::OK).await;
}

#[tokio::test]
async fn patch_keeps_its_own_media_types() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("patched").await;
    let ops = json!([{"op": "replace", "path": "/name", "value": "renamed"}]);
    let resp = app.admin().patch_as(&id, "text/plain", ops.clone()).await;
    let message = expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert!(
        message.contains("Image PATCH expects Content-Type one of"),
        "{message}"
    );
    let resp = app.admin().patch(&id, ops).await;
    assert_eq!(expect_json(resp, StatusCode::OK).await["name"], "renamed");
}

#[tokio::test]
async fn public_address_option_skips_only_the_host_check() {
    let app = TestApp::builder()
        .api_config(|c| c.allow_noauth_on_public_address = true)
        .start()
        .await;
    let resp = list_with_host(&app, Some("images.example.com:9292")).await;
    assert_eq!(resp.status, 200, "{}", resp.body);
    let resp = app
        .get("/v2/images")
        .header(ORIGIN, "http://evil.example")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::FORBIDDEN).await;
    let resp = app
        .post("/v2/images")
        .header(CONTENT_TYPE, "text/plain")
        .body(r#"{"name": "x"}"#)
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}

#[tokio::test]
async fn keystone_mode_parses_json_whatever_the_content_type_or_host() {
    let ks = FakeKeystone::start().await;
    let mode = keystone_mode(&ks.url(), AuthSettings::default());
    let app = TestApp::builder()
        .api_config(|c| c.auth = mode)
        .start()
        .await;
    let token = ks.issue(
        "alice",
        "alpha",
        &["member", "reader"],
        std::time::Duration::from_secs(3600),
    );
    let resp = app
        .post("/v2/images")
        .header("X-Auth-Token", &token)
        .header(CONTENT_TYPE, "text/plain")
        .header(ORIGIN, "http://evil.example")
        .body(r#"{"name": "plain"}"#)
        .send()
        .await
        .unwrap();
    let image = expect_json(resp, StatusCode::CREATED).await;
    assert_eq!(image["name"], "plain");
    let head = format!(
        "GET /v2/images HTTP/1.1\r\nHost: images.example.com\r\nX-Auth-Token: {token}\r\n\
         Connection: close\r\n"
    );
    assert_eq!(exchange(app.addr(), &head).await.status, 200);
}
