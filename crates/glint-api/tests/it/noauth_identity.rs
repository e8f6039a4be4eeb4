//! No-auth identity headers: only an absent header takes the development
//! admin's default; a sent header is read as it is (bytes as Latin-1, as a
//! WSGI server hands them to Glance), so an empty or unusual value can never
//! turn a caller into the admin.

use crate::common;

use common::{TestApp, expect_error, expect_status, id_of, on_every_backend};
use reqwest::header::HeaderValue;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::json;

/// `reader,member,rôle`, once as UTF-8 and once as a raw Latin-1 byte.
const ODD_ROLES: [&[u8]; 2] = [b"reader,member,r\xc3\xb4le", b"reader,member,r\xf4le"];
/// Project ids that are not ASCII: UTF-8 and raw Latin-1.
const ODD_PROJECTS: [&[u8]; 2] = [b"adm\xc3\xafn", b"adm\xefn"];

fn raw(value: &[u8]) -> HeaderValue {
    HeaderValue::from_bytes(value).expect("a valid header value")
}

/// A request carrying exactly the identity headers given.
fn request(app: &TestApp, method: Method, path: &str, headers: &[(&str, &[u8])]) -> RequestBuilder {
    headers
        .iter()
        .fold(app.request(method, path), |req, (name, value)| {
            req.header(*name, raw(value))
        })
}

#[tokio::test]
async fn empty_roles_header_is_a_caller_without_roles() {
    let app = TestApp::new().await;
    let headers: [(&str, &[u8]); 3] = [
        ("X-User-Id", b"u1"),
        ("X-Project-Id", b"p1"),
        ("X-Roles", b""),
    ];
    let resp = request(&app, Method::POST, "/v2/images", &headers)
        .json(&json!({"name": "nobody"}))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "You are not authorized to complete add_image action."
    );
    let resp = request(&app, Method::GET, "/v2/images", &headers)
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::FORBIDDEN).await;
    assert_eq!(app.admin().list_names("").await, Vec::<String>::new());
}

#[tokio::test]
async fn roles_with_other_bytes_never_make_an_admin() {
    on_every_backend(|app| async move {
        let secret = app
            .member_of("p2")
            .create_image(json!({"name": "secret", "visibility": "private"}))
            .await;
        let id = id_of(&secret);
        for roles in ODD_ROLES {
            let headers = [
                ("X-User-Id", b"u1".as_slice()),
                ("X-Project-Id", b"p1"),
                ("X-Roles", roles),
            ];
            let path = format!("/v2/images/{id}");
            let resp = request(&app, Method::GET, &path, &headers)
                .send()
                .await
                .unwrap();
            expect_error(resp, StatusCode::NOT_FOUND).await;
            let resp = request(&app, Method::PATCH, &path, &headers)
                .header("Content-Type", common::PATCH_V21)
                .body(
                    json!([{"op": "replace", "path": "/visibility", "value": "public"}])
                        .to_string(),
                )
                .send()
                .await
                .unwrap();
            expect_error(resp, StatusCode::NOT_FOUND).await;
            let resp = request(&app, Method::GET, "/v2/images", &headers)
                .send()
                .await
                .unwrap();
            let page: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(page["images"], json!([]), "{roles:?}");
            // The known roles still count: a member of p1 creates, but an
            // admin-only change is refused.
            let resp = request(&app, Method::POST, "/v2/images", &headers)
                .json(&json!({"name": "mine", "visibility": "public"}))
                .send()
                .await
                .unwrap();
            expect_error(resp, StatusCode::FORBIDDEN).await;
        }
        assert_eq!(app.image(&id).await["visibility"], "private");
    })
    .await;
}

#[tokio::test]
async fn project_with_other_bytes_is_nobody_elses_project() {
    on_every_backend(|app| async move {
        let id = id_of(
            &app.create_image(json!({"name": "admins", "visibility": "private"}))
                .await,
        );
        let path = format!("/v2/images/{id}");
        for header in ["X-Project-Id", "X-Tenant-Id"] {
            for project in ODD_PROJECTS {
                let headers = [(header, project), ("X-Roles", b"member,reader")];
                let resp = request(&app, Method::GET, &path, &headers)
                    .send()
                    .await
                    .unwrap();
                expect_error(resp, StatusCode::NOT_FOUND).await;
                let resp = request(&app, Method::DELETE, &path, &headers)
                    .send()
                    .await
                    .unwrap();
                expect_error(resp, StatusCode::NOT_FOUND).await;
            }
        }
        assert_eq!(app.image(&id).await["status"], "queued");
    })
    .await;
}

#[tokio::test]
async fn project_with_other_bytes_owns_what_it_creates() {
    let app = TestApp::new().await;
    let headers = [
        ("X-Project-Id", b"p\xe9".as_slice()),
        ("X-User-Id", b"\xfcser"),
        ("X-Roles", b"member,reader"),
    ];
    let resp = request(&app, Method::POST, "/v2/images", &headers)
        .json(&json!({"name": "latin"}))
        .send()
        .await
        .unwrap();
    let body = expect_status(resp, StatusCode::CREATED).await;
    let image: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(image["owner"], "p\u{e9}");
}

#[tokio::test]
async fn empty_user_or_project_is_400() {
    let app = TestApp::new().await;
    let id = id_of(
        &app.create_image(json!({"name": "admins", "visibility": "private"}))
            .await,
    );
    let path = format!("/v2/images/{id}");
    for (header, message) in [
        ("X-User-Id", "The X-User-Id header must not be empty."),
        ("X-Project-Id", "The X-Project-Id header must not be empty."),
        ("X-Tenant-Id", "The X-Tenant-Id header must not be empty."),
    ] {
        for value in [b"".as_slice(), b"   "] {
            let headers = [(header, value), ("X-Roles", b"member,reader")];
            for method in [Method::GET, Method::DELETE] {
                let resp = request(&app, method.clone(), &path, &headers)
                    .send()
                    .await
                    .unwrap();
                let got = expect_error(resp, StatusCode::BAD_REQUEST).await;
                assert_eq!(got, message, "{method} with {header}: {value:?}");
            }
        }
    }
    assert_eq!(app.image(&id).await["status"], "queued");
}

#[tokio::test]
async fn identity_status_other_than_confirmed_is_401_whatever_its_bytes() {
    let app = TestApp::new().await;
    for status in [b"".as_slice(), b"Confirm\xe9d", b"Confirmed\xc3\xa9"] {
        let headers = [("X-Identity-Status", status)];
        let resp = request(&app, Method::GET, "/v2/images", &headers)
            .send()
            .await
            .unwrap();
        expect_error(resp, StatusCode::UNAUTHORIZED).await;
    }
}

#[tokio::test]
async fn repeated_identity_headers_are_joined_as_a_wsgi_server_joins_them() {
    let app = TestApp::new().await;
    let id = id_of(
        &app.member_of("p1")
            .create_image(json!({"name": "p1-only", "visibility": "private"}))
            .await,
    );
    // Two projects make one unknown project "p1,p2", never p1.
    let resp = app
        .get(&format!("/v2/images/{id}"))
        .header("X-Project-Id", "p1")
        .header("X-Project-Id", "p2")
        .header("X-Roles", "member,reader")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND).await;
    // Roles sent in two headers add up.
    let resp = app
        .post("/v2/images")
        .header("X-Project-Id", "p3")
        .header("X-Roles", "reader")
        .header("X-Roles", "member")
        .json(&json!({"name": "by-two-headers"}))
        .send()
        .await
        .unwrap();
    let body = expect_status(resp, StatusCode::CREATED).await;
    assert!(body.contains("\"owner\": \"p3\""), "{body}");
}
