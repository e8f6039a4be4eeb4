//! Uploading image data (`PUT /v2/images/{id}/file`) that succeeds, and
//! the refusals that happen before any byte is stored.

use crate::common;

use common::{
    TestApp, expect_error, expect_status, id_of, md5_hex, noise, qemu_img, sha512_hex,
    unsupported_media_type,
};
use futures::stream;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Body, StatusCode};
use serde_json::json;

#[tokio::test]
async fn upload_answers_204_and_activates_the_image_with_its_hashes() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("data").await;
    let data = noise(1 << 20, 1);
    app.upload_ok(&id, data.clone()).await;
    let image = app.image(&id).await;
    assert_eq!(image["status"], "active");
    assert_eq!(image["size"], data.len());
    assert_eq!(image["virtual_size"], data.len());
    assert_eq!(image["checksum"], md5_hex(&data));
    assert_eq!(image["os_hash_algo"], "sha512");
    assert_eq!(image["os_hash_value"], sha512_hex(&data));
    assert_eq!(app.store_files(), [id]);
}

#[tokio::test]
async fn upload_of_qcow2_sets_virtual_size_from_the_header() {
    let app = TestApp::new().await;
    qemu_img(
        app.scratch_dir(),
        &["create", "-q", "-f", "qcow2", "disk.qcow2", "64M"],
    );
    let data = std::fs::read(app.scratch_dir().join("disk.qcow2")).unwrap();
    let image = app
        .create_image(json!({"name": "cirros", "disk_format": "qcow2", "container_format": "bare"}))
        .await;
    let id = id_of(&image);
    app.upload_ok(&id, data.clone()).await;
    let image = app.image(&id).await;
    assert_eq!(image["status"], "active");
    assert_eq!(image["virtual_size"], 67_108_864);
    assert_eq!(image["size"], data.len());
    assert_eq!(image["checksum"], md5_hex(&data));
}

#[tokio::test]
async fn chunked_upload_without_length_succeeds() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("chunked").await;
    let chunks: Vec<Vec<u8>> = (0..16u64).map(|i| noise(64 * 1024, i + 1)).collect();
    let all: Vec<u8> = chunks.concat();
    let body = Body::wrap_stream(stream::iter(
        chunks.into_iter().map(Ok::<_, std::io::Error>),
    ));
    let resp = app.upload(&id, body).await;
    expect_status(resp, StatusCode::NO_CONTENT).await;
    let image = app.image(&id).await;
    assert_eq!(image["size"], all.len());
    assert_eq!(image["checksum"], md5_hex(&all));
    assert_eq!(image["os_hash_value"], sha512_hex(&all));
}

#[tokio::test]
async fn upload_with_matching_announced_size_succeeds() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("sized").await;
    let resp = app
        .put(&format!("/v2/images/{id}/file"))
        .header(CONTENT_TYPE, "application/octet-stream")
        .header("x-openstack-image-size", "300")
        .body(vec![3u8; 300])
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;
    assert_eq!(app.image(&id).await["size"], 300);
}

#[tokio::test]
async fn upload_of_empty_body_makes_an_active_empty_image() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("empty").await;
    app.upload_ok(&id, Vec::<u8>::new()).await;
    let image = app.image(&id).await;
    assert_eq!(image["status"], "active");
    assert_eq!(image["size"], 0);
    assert_eq!(image["checksum"], md5_hex(b""));
}

#[tokio::test]
async fn upload_with_json_content_type_is_415() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("typed").await;
    let resp = app
        .put(&format!("/v2/images/{id}/file"))
        .header(CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert!(
        message.ends_with("Invalid content type application/json"),
        "{message}"
    );
    assert_eq!(app.image(&id).await["status"], "queued");
}

#[tokio::test]
async fn upload_with_json_content_type_has_webob_415_message() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("typed").await;
    let resp = app
        .put(&format!("/v2/images/{id}/file"))
        .header(CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let expected = format!(
        "{} Invalid content type application/json",
        unsupported_media_type("application/json")
    );
    assert_eq!(message, expected);
}

#[tokio::test]
async fn upload_without_content_type_is_415() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("untyped").await;
    let resp = app
        .put(&format!("/v2/images/{id}/file"))
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
}

#[tokio::test]
async fn second_upload_is_409_transition_not_allowed() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("once").await;
    app.upload_ok(&id, vec![1u8; 100]).await;
    let message = expect_error(app.upload(&id, vec![2u8; 100]).await, StatusCode::CONFLICT).await;
    assert_eq!(
        message,
        "Image status transition from active to saving is not allowed"
    );
    assert_eq!(app.image(&id).await["checksum"], md5_hex(&[1u8; 100]));
}

#[tokio::test]
async fn upload_without_disk_format_is_400_and_image_stays_queued() {
    let app = TestApp::new().await;
    let image = app.create_image(json!({"container_format": "bare"})).await;
    let id = id_of(&image);
    let message = expect_error(
        app.upload(&id, vec![1u8; 10]).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.contains("disk_format"), "{message}");
    assert_eq!(app.image(&id).await["status"], "queued");
    assert!(app.store_files().is_empty());
}

#[tokio::test]
async fn upload_without_container_format_is_400() {
    let app = TestApp::new().await;
    let id = id_of(&app.create_image(json!({"disk_format": "raw"})).await);
    let message = expect_error(
        app.upload(&id, vec![1u8; 10]).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(message.contains("container_format"), "{message}");
}

#[tokio::test]
async fn upload_to_missing_image_is_404() {
    let app = TestApp::new().await;
    let id = "c5a2a9d4-6b4f-4a7e-9f8e-0d3c2b1a0f9e";
    let message = expect_error(app.upload(id, vec![1u8; 10]).await, StatusCode::NOT_FOUND).await;
    assert_eq!(message, format!("No image found with ID {id}"));
}

#[tokio::test]
async fn upload_by_member_of_owning_project_succeeds() {
    let app = TestApp::new().await;
    let p1 = app.member_of("p1");
    let image = p1
        .create_image(json!({"disk_format": "raw", "container_format": "bare"}))
        .await;
    let id = id_of(&image);
    expect_status(p1.upload(&id, vec![5u8; 64]).await, StatusCode::NO_CONTENT).await;
    assert_eq!(p1.image(&id).await["status"], "active");
}

#[tokio::test]
async fn upload_by_reader_of_owning_project_is_403() {
    let app = TestApp::new().await;
    let image = app
        .member_of("p1")
        .create_image(json!({"disk_format": "raw", "container_format": "bare"}))
        .await;
    let id = id_of(&image);
    let resp = app.as_user("p1", "reader").upload(&id, vec![5u8; 64]).await;
    let message = expect_error(resp, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "You are not authorized to complete upload_image action."
    );
    assert_eq!(app.image(&id).await["status"], "queued");
}

#[tokio::test]
async fn upload_to_other_projects_public_image_is_403() {
    let app = TestApp::new().await;
    let image = app
        .create_image(
            json!({"visibility": "public", "disk_format": "raw", "container_format": "bare"}),
        )
        .await;
    let resp = app
        .member_of("p2")
        .upload(&id_of(&image), vec![5u8; 64])
        .await;
    expect_error(resp, StatusCode::FORBIDDEN).await;
}

#[tokio::test]
async fn upload_with_non_integer_announced_size_is_400() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("bad-size").await;
    let resp = app
        .put(&format!("/v2/images/{id}/file"))
        .header(CONTENT_TYPE, "application/octet-stream")
        .header("x-openstack-image-size", "ten")
        .body(vec![0u8; 10])
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST).await;
    assert_eq!(app.image(&id).await["status"], "queued");
}
