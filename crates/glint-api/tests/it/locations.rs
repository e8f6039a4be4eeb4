//! The location API (2.17): services add the location of data they wrote
//! to a queued image and read locations back. The data here is served over
//! HTTP by the test server itself, as an http store location.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{TestApp, expect_error, expect_json, expect_status};
use glint_store::{FileStore, HttpStore, StoreMeta, StoreRegistry};
use http::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

async fn app() -> TestApp {
    TestApp::builder()
        .stores(|dir| {
            let file = FileStore::new("local", dir.join("local")).unwrap();
            let web = HttpStore::new("web", Duration::from_secs(2)).unwrap();
            let mut registry = StoreRegistry::with_meta(
                Arc::new(file),
                StoreMeta {
                    kind: "file".into(),
                    ..StoreMeta::default()
                },
            )
            .multi_store();
            registry.add_with_meta(
                Arc::new(web),
                StoreMeta {
                    kind: "http".into(),
                    read_only: true,
                    ..StoreMeta::default()
                },
            );
            registry
        })
        .start()
        .await
}

/// An active image with `data`, and the URL its data is served at.
async fn served(app: &TestApp, data: &[u8]) -> String {
    let id = app.create_raw_image("source").await;
    app.upload_ok(&id, data.to_vec()).await;
    app.url(&format!("/v2/images/{id}/file"))
}

async fn add(app: &TestApp, roles: &str, id: &str, body: Value) -> reqwest::Response {
    app.as_user("p1", roles)
        .post(&format!("/v2/images/{id}/locations"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn settled(app: &TestApp, id: &str, wanted: &str) -> Value {
    for _ in 0..200 {
        let image = app.image(id).await;
        if image["status"] == wanted && (wanted != "active" || image["checksum"].is_string()) {
            return image;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("image {id} never became {wanted}: {}", app.image(id).await);
}

#[tokio::test]
async fn an_http_location_activates_a_queued_image_and_its_hashes_follow() {
    let app = app().await;
    let data = b"the data behind an http location".repeat(1000);
    let url = served(&app, &data).await;
    let target = app.as_user("p1", "member,reader");
    let image = target
        .create_image(json!({"name": "by-url", "disk_format": "raw", "container_format": "bare"}))
        .await;
    let id = image["id"].as_str().unwrap().to_owned();
    expect_status(
        add(&app, "member,reader", &id, json!({"url": url})).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let image = settled(&app, &id, "active").await;
    assert_eq!(image["size"], data.len());
    assert_eq!(image["stores"], "web");
    assert_eq!(image["checksum"], hex(&md5::Md5::digest(&data)));
    let body = target
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(body.bytes().await.unwrap().as_ref(), &data[..]);
}

#[tokio::test]
async fn validation_data_is_checked_against_the_data() {
    let app = app().await;
    let data = vec![42_u8; 70_000];
    let url = served(&app, &data).await;
    let good = hex(&Sha256::digest(&data));
    let bad = hex(&Sha256::digest(b"something else"));
    for (hash, outcome) in [(good.clone(), "active"), (bad, "queued")] {
        let id = own_image(&app).await;
        let body = json!({"url": url, "validation_data":
                          {"os_hash_algo": "sha256", "os_hash_value": hash}});
        expect_status(add(&app, SERVICE, &id, body).await, StatusCode::ACCEPTED).await;
        // `importing` while the data is read back.
        let image = settled(&app, &id, outcome).await;
        if outcome == "active" {
            assert_eq!(image["os_hash_algo"], "sha256");
            assert_eq!(image["os_hash_value"], good);
        } else {
            assert_eq!(image["size"], Value::Null);
            assert!(image.get("stores").is_none(), "{image}");
        }
    }
}

#[tokio::test]
async fn only_services_add_other_stores_locations_and_only_to_queued_images() {
    let app = app().await;
    let url = served(&app, b"abc").await;
    let id = own_image(&app).await;
    let file_url = "file:///etc/passwd";
    let message = expect_error(
        add(&app, "member,reader", &id, json!({"url": file_url})).await,
        StatusCode::FORBIDDEN,
    )
    .await;
    assert_eq!(
        message,
        "http store must be enabled to use location API by normal user."
    );
    let message = expect_error(
        add(&app, SERVICE, &id, json!({"url": "ftp://x/y"})).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(message, "Invalid location: ftp://x/y");
    expect_status(
        add(&app, SERVICE, &id, json!({"url": url})).await,
        StatusCode::ACCEPTED,
    )
    .await;
    settled(&app, &id, "active").await;
    let message = expect_error(
        add(&app, SERVICE, &id, json!({"url": url})).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(
        message,
        "It's not allowed to add locations if image status is active."
    );
}

#[tokio::test]
async fn bodies_are_checked_before_anything_else() {
    let app = app().await;
    let id = own_image(&app).await;
    for (body, expected) in [
        (json!({}), "'url' is a required property"),
        (json!({"url": 5}), "'url' is not of type 'string'"),
        (
            json!({"url": "http://x", "validation_data": {"os_hash_algo": "sha256"}}),
            "'os_hash_value' is a dependency of 'os_hash_algo'",
        ),
        (
            json!({"url": "http://x", "validation_data": {"os_hash_algo": "crc32", "os_hash_value": "00"}}),
            "'crc32' is not one of ['sha1', 'sha256', 'sha512', 'md5']",
        ),
        (
            json!({"url": "http://x", "validation_data": {"os_hash_algo": "md5", "os_hash_value": "zz"}}),
            "os_hash_value (zz) is not a valid hexadecimal value",
        ),
        (
            json!({"url": "http://x", "validation_data": {"os_hash_algo": "md5", "os_hash_value": "00ff"}}),
            "os_hash_value: (00ff) is not the correct size for (md5) (should be (16) bytes)",
        ),
        (
            json!({"url": "http://x", "validation_data": {"checksum": "x"}}),
            "Additional properties are not allowed ('checksum' was unexpected)",
        ),
    ] {
        let message =
            expect_error(add(&app, SERVICE, &id, body).await, StatusCode::BAD_REQUEST).await;
        assert!(message.contains(expected), "{message}");
    }
    assert_eq!(app.image(&id).await["status"], "queued");
}

#[tokio::test]
async fn locations_are_listed_for_services_only() {
    let app = app().await;
    let id = own_image(&app).await;
    let owner = app.member_of("p1");
    expect_status(
        owner.upload(&id, vec![1_u8; 10]).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let listed = expect_json(
        app.as_user("p1", SERVICE)
            .get(&format!("/v2/images/{id}/locations"))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed[0]["metadata"], json!({"store": "local"}));
    assert!(listed[0]["url"].as_str().unwrap().starts_with("file://"));
    let resp = app
        .member_of("p1")
        .get(&format!("/v2/images/{id}/locations"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::FORBIDDEN).await;
    assert!(message.contains("fetch_image_location"), "{message}");
}

/// How Nova and Cinder call: a user's token with the service role.
const SERVICE: &str = "member,reader,service";

/// A queued raw image of project p1.
async fn own_image(app: &TestApp) -> String {
    let image = app
        .member_of("p1")
        .create_image(json!({"name": "x", "disk_format": "raw", "container_format": "bare"}))
        .await;
    image["id"].as_str().unwrap().to_owned()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
