//! Glance's status and words for every 413 of the quotas of
//! `glance-api.conf`, on each path that reaches one: create, PATCH, upload,
//! and a location added by PATCH or by the location API, which also counts
//! against `user_storage_quota` (the image's size once per new location,
//! as Glance counts it).

use std::sync::Arc;
use std::time::Duration;

use crate::common::{TestApp, expect_error, expect_json, expect_status, id_of, noise};
use futures::stream;
use glint_store::{FileStore, HttpStore, StoreMeta, StoreRegistry};
use reqwest::{Body, StatusCode};
use serde_json::{Value, json};

const TOO_LARGE: &str = "The incoming image is too large: The provided image is too large.";

fn limit_words(what: &str, attempted: u64, maximum: u64) -> String {
    format!(
        "The limit has been exceeded on the number of allowed image {what}. Attempted: \
         {attempted}, Maximum: {maximum}"
    )
}

#[tokio::test]
async fn image_size_cap_is_worded_as_glances_upload_handler_words_it() {
    let app = TestApp::builder().image_size_cap(1000).start().await;
    let known = app.create_raw_image("known").await;
    let message = expect_error(
        app.upload(&known, vec![0u8; 2000]).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(message, TOO_LARGE);
    let chunks = stream::iter((0..4).map(|_| Ok::<_, std::io::Error>(vec![1u8; 500])));
    let message = expect_error(
        app.upload(&known, Body::wrap_stream(chunks)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(message, TOO_LARGE);
}

#[tokio::test]
async fn tag_and_property_quotas_answer_alike_on_create_and_patch() {
    let app = TestApp::builder()
        .image_config(|c| {
            c.image_tag_quota = Some(2);
            c.image_property_quota = Some(2);
        })
        .start()
        .await;
    let p1 = app.member_of("p1");
    let message = expect_error(
        p1.create(json!({"tags": ["a", "b", "c"]})).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(message, limit_words("tags", 3, 2));
    let id = id_of(&p1.create_image(json!({"tags": ["a"], "x": "1"})).await);
    let replace = json!([{"op": "replace", "path": "/tags", "value": ["a", "b", "c"]}]);
    let message = expect_error(p1.patch(&id, replace).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(message, limit_words("tags", 3, 2));
    let add = json!([
        {"op": "add", "path": "/y", "value": "2"},
        {"op": "add", "path": "/z", "value": "3"}
    ]);
    let message = expect_error(p1.patch(&id, add).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(message, limit_words("properties", 3, 2));
    let image = p1.image(&id).await;
    assert_eq!(image["tags"], json!(["a"]));
    assert_eq!(image.get("y"), None);
}

/// A multi-store server whose `web` store reads http locations (the test
/// server's own downloads), showing locations, with a storage quota.
async fn location_app(quota: u64, location_quota: u64) -> TestApp {
    TestApp::builder()
        .stores(|dir| {
            let file = FileStore::new("local", dir.join("local")).unwrap();
            let web = HttpStore::new("web", Duration::from_secs(2)).unwrap();
            let kind = |k: &str, read_only| StoreMeta {
                kind: k.into(),
                read_only,
                ..StoreMeta::default()
            };
            let mut registry =
                StoreRegistry::with_meta(Arc::new(file), kind("file", false)).multi_store();
            registry.add_with_meta(Arc::new(web), kind("http", true));
            registry
        })
        .api_config(|c| c.show_multiple_locations = true)
        .image_config(|c| {
            c.show_multiple_locations = true;
            c.user_storage_quota = Some(quota);
            c.image_location_quota = Some(location_quota);
        })
        .start()
        .await
}

/// An active image of project `p1` holding `size` bytes, and the URL its
/// data is served at.
async fn uploaded(app: &TestApp, size: usize, seed: u64) -> (String, String) {
    let p1 = app.member_of("p1");
    let id = id_of(
        &p1.create_image(json!({"disk_format": "raw", "container_format": "bare"}))
            .await,
    );
    expect_status(
        p1.upload(&id, noise(size, seed)).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let url = app.url(&format!("/v2/images/{id}/file"));
    (id, url)
}

fn add_location(url: &str) -> Value {
    json!([{"op": "add", "path": "/locations/-", "value": {"url": url, "metadata": {}}}])
}

/// A queued image of project `p1`.
async fn queued(app: &TestApp) -> String {
    let body = json!({"disk_format": "raw", "container_format": "bare"});
    id_of(&app.member_of("p1").create_image(body).await)
}

#[tokio::test]
async fn a_location_added_by_patch_counts_against_user_storage_quota() {
    let app = location_app(10_000, 10).await;
    let (_, url) = uploaded(&app, 4000, 1).await;
    let (id, _) = uploaded(&app, 4000, 2).await;
    let p1 = app.member_of("p1");
    // Glance: 4000 more bytes, with 2000 left beside both images.
    let message = expect_error(
        p1.patch(&id, add_location(&url)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(
        message,
        "Denying attempt to upload image because it exceeds the quota: The size of the data \
         4000 will exceed the limit. 2000 bytes remaining."
    );
    assert_eq!(
        p1.image(&id).await["locations"].as_array().unwrap().len(),
        1
    );
    // A replace on a queued image: two copies, 8000 bytes, where 2000 are
    // left beside the other images.
    let empty = queued(&app).await;
    let replace = json!([{"op": "replace", "path": "/locations", "value": [
        {"url": url, "metadata": {"copy": "1"}}, {"url": url, "metadata": {"copy": "2"}}]}]);
    let message = expect_error(
        p1.patch(&empty, replace).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(
        message.ends_with("The size of the data 8000 will exceed the limit. 2000 bytes remaining."),
        "{message}"
    );
    assert_eq!(p1.image(&empty).await["status"], "queued");
}

#[tokio::test]
async fn a_location_that_fits_user_storage_quota_to_the_byte_is_added() {
    let app = location_app(12_000, 10).await;
    let (_, url) = uploaded(&app, 4000, 1).await;
    let (id, _) = uploaded(&app, 4000, 2).await;
    let p1 = app.member_of("p1");
    let image = expect_json(p1.patch(&id, add_location(&url)).await, StatusCode::OK).await;
    assert_eq!(image["locations"].as_array().unwrap().len(), 2);
    // Full now: even an empty image's first location is refused.
    let empty = queued(&app).await;
    let message = expect_error(
        p1.patch(&empty, add_location(&url)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(
        message.ends_with("4000 will exceed the limit. 0 bytes remaining."),
        "{message}"
    );
}

#[tokio::test]
async fn the_location_api_counts_against_user_storage_quota() {
    let app = location_app(10_000, 10).await;
    let (_, url) = uploaded(&app, 4000, 1).await;
    uploaded(&app, 4000, 2).await;
    let p1 = app.member_of("p1");
    let id = queued(&app).await;
    let resp = p1
        .post(&format!("/v2/images/{id}/locations"))
        .json(&json!({"url": url}))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(
        message,
        "Denying attempt to upload image because it exceeds the quota: The size of the data \
         4000 will exceed the limit. 2000 bytes remaining."
    );
    let image = p1.image(&id).await;
    assert_eq!(image["status"], "queued");
    assert_eq!(image["locations"], json!([]));
}

#[tokio::test]
async fn image_location_quota_counts_a_replace_as_its_new_list() {
    let app = location_app(1_000_000, 2).await;
    let (_, url) = uploaded(&app, 100, 1).await;
    let id = queued(&app).await;
    let three = json!([{"op": "replace", "path": "/locations", "value": [
        {"url": url, "metadata": {"copy": "1"}},
        {"url": url, "metadata": {"copy": "2"}},
        {"url": url, "metadata": {"copy": "3"}}]}]);
    let p1 = app.member_of("p1");
    let message = expect_error(p1.patch(&id, three).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(message, limit_words("locations", 3, 2));
}
