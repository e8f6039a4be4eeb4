//! Bounded metadata: the tag and property quotas are checked before any
//! per-item work, and an image's properties and tags together hold at most
//! 256 KiB.

use crate::common;

use std::time::Instant;

use common::{Backend, TestApp, expect_error, expect_json, id_of};
use glint_model::{Image, ImageId, time};
use reqwest::StatusCode;
use serde_json::json;

fn tags(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("tag{i}")).collect()
}

async fn quota_app(tags: u64, properties: u64) -> TestApp {
    TestApp::builder()
        .image_config(|c| {
            c.image_tag_quota = Some(tags);
            c.image_property_quota = Some(properties);
        })
        .start()
        .await
}

#[tokio::test]
async fn tens_of_thousands_of_tags_are_refused_by_the_quota_at_once() {
    let app = TestApp::new().await;
    let body = json!({"name": "many", "tags": tags(80_000)});
    let started = Instant::now();
    let resp = app.member_of("p1").create(body).await;
    let message = expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await;
    let took = started.elapsed();
    eprintln!("80,000 tags refused in {took:?}");
    // Counting them is all the work there is; a quadratic pass took ~15 s.
    assert!(took.as_secs() < 5, "{took:?}");
    assert_eq!(
        message,
        "The limit has been exceeded on the number of allowed image tags. Attempted: 80000, Maximum: 128"
    );
    let started = Instant::now();
    app.member_of("p2").list("").await;
    assert!(started.elapsed().as_secs() < 5);
}

#[tokio::test]
async fn the_tag_quota_counts_tags_as_sent() {
    let app = quota_app(3, 3).await;
    let member = app.member_of("p1");
    let message = expect_error(
        member.create(json!({"tags": ["a", "b", "a", "b"]})).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(message.ends_with("Attempted: 4, Maximum: 3"), "{message}");
    let id = id_of(&member.create_image(json!({"tags": ["a", "b", "a"]})).await);
    let ops = json!([{"op": "replace", "path": "/tags", "value": ["x", "x", "y", "z"]}]);
    let message = expect_error(member.patch(&id, ops).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(message.ends_with("Attempted: 4, Maximum: 3"), "{message}");
    let ops = json!([{"op": "replace", "path": "/tags", "value": ["x", 1, "y", "z"]}]);
    let message = expect_error(member.patch(&id, ops).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(message.contains("image tags"), "{message}");
}

#[tokio::test]
async fn the_property_quota_is_checked_before_the_properties() {
    let app = quota_app(3, 2).await;
    let member = app.member_of("p1");
    let body = json!({"name": "p", "a": "1", "b": 2, "c": "3", "os_glance_x": "y"});
    let message = expect_error(member.create(body).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(
        message,
        "The limit has been exceeded on the number of allowed image properties. Attempted: 3, Maximum: 2"
    );
    let id = id_of(&member.create_image(json!({"a": "1", "b": "2"})).await);
    let ops = json!([{"op": "add", "path": "/c", "value": "3"}]);
    expect_error(member.patch(&id, ops).await, StatusCode::PAYLOAD_TOO_LARGE).await;
}

#[tokio::test]
async fn an_image_over_a_lowered_quota_may_still_change_and_lose_properties() {
    let app = quota_app(1, 1).await;
    // Stored before an operator lowered the quotas to one tag, one property.
    let mut image = Image::queued(ImageId::new_random(), time::now());
    image.owner = Some("p1".into());
    image.tags = vec!["x".into(), "y".into()];
    for (k, v) in [("a", "1"), ("b", "2")] {
        image.properties.insert(k.into(), v.into());
    }
    app.db().create_image(&image).await.unwrap();
    let id = image.id.to_string();
    let member = app.member_of("p1");
    let ops = json!([{"op": "replace", "path": "/a", "value": "10"},
                     {"op": "replace", "path": "/name", "value": "renamed"}]);
    let shown = expect_json(member.patch(&id, ops).await, StatusCode::OK).await;
    assert_eq!(shown["a"], "10");
    let ops = json!([{"op": "remove", "path": "/b"}]);
    expect_json(member.patch(&id, ops).await, StatusCode::OK).await;
    let resp = member
        .delete(&format!("/v2/images/{id}/tags/y"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let ops = json!([{"op": "add", "path": "/c", "value": "3"}]);
    expect_error(member.patch(&id, ops).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    let resp = member
        .put(&format!("/v2/images/{id}/tags/z"))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await;
}

#[tokio::test]
async fn the_tags_api_answers_glance_quota_message() {
    let app = quota_app(2, 2).await;
    let id = id_of(&app.create_image(json!({"tags": ["a", "b"]})).await);
    let resp = app
        .put(&format!("/v2/images/{id}/tags/a"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let resp = app
        .put(&format!("/v2/images/{id}/tags/c"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(
        message,
        format!(
            "Image tag limit exceeded for image {id}: The limit has been exceeded on the number of allowed image tags. Attempted: 3, Maximum: 2:"
        )
    );
}

#[tokio::test]
async fn many_large_patches_cannot_grow_an_image_without_bound_on_every_backend() {
    for backend in Backend::configured() {
        let app = TestApp::builder()
            .backend(backend)
            .image_config(|c| c.image_property_quota = None)
            .start()
            .await;
        grow_until_refused(&app).await;
    }
}

async fn grow_until_refused(app: &TestApp) {
    let member = app.member_of("p1");
    let id = id_of(&member.create_image(json!({"name": "grow"})).await);
    let big = "x".repeat(1_900_000);
    let ops = json!([{"op": "add", "path": "/big", "value": big}]);
    expect_error(member.patch(&id, ops).await, StatusCode::BAD_REQUEST).await;
    // Each property takes 4 + 60,002 bytes as JSON: four fit in 256 KiB.
    let value = "v".repeat(60_000);
    let mut accepted = 0;
    for i in 0..100 {
        let ops = json!([{"op": "add", "path": format!("/p{i}"), "value": value}]);
        let resp = member.patch(&id, ops).await;
        if resp.status() != StatusCode::OK {
            let message = expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await;
            assert_eq!(
                message,
                "The image's properties and tags would take 300030 bytes; the limit is 262144 bytes."
            );
            break;
        }
        accepted += 1;
    }
    assert_eq!(accepted, 4);
    let image = app.image(&id).await;
    let stored: usize = (0..5)
        .filter_map(|i| image[format!("p{i}")].as_str())
        .map(str::len)
        .sum();
    assert_eq!(stored, 4 * 60_000);
}

#[tokio::test]
async fn the_metadata_bound_applies_to_create_patch_and_the_tags_api() {
    let app = TestApp::new().await;
    let member = app.member_of("p1");
    let value = "v".repeat(60_000);
    let mut body = json!({});
    for i in 0..5 {
        body[format!("p{i}")] = json!(value);
    }
    let message = expect_error(member.create(body).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert!(message.contains("the limit is 262144 bytes"), "{message}");
    let mut body = json!({});
    for i in 0..4 {
        body[format!("p{i}")] = json!(value);
    }
    // 240,024 bytes of properties leave room for 87 tags of 252 bytes.
    let id = id_of(&member.create_image(body).await);
    let tags = |n: usize| (0..n).map(|i| format!("{i:0>250}")).collect::<Vec<_>>();
    let ops = json!([{"op": "add", "path": "/tags", "value": tags(88)}]);
    expect_error(member.patch(&id, ops).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    let ops = json!([{"op": "add", "path": "/tags", "value": tags(85)}]);
    expect_json(member.patch(&id, ops).await, StatusCode::OK).await;
    for i in 0..3 {
        let tag = format!("{:0>250}", 100 + i);
        let resp = member
            .put(&format!("/v2/images/{id}/tags/{tag}"))
            .send()
            .await
            .unwrap();
        if i < 2 {
            assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        } else {
            let message = expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await;
            assert!(message.contains("the limit is 262144 bytes"), "{message}");
        }
    }
    assert_eq!(app.image(&id).await["tags"].as_array().unwrap().len(), 87);
}
