//! Uploads that fail after they start: every one must leave the image
//! `queued` with no size and the store directory without any file.

use crate::common;

use std::time::Duration;

use common::raw::{self, read_response, send_chunk, start_chunked_upload};
use common::{
    TestApp, expect_error, id_of, noise, qcow2_with_backing_file, qemu_img, unsupported_media_type,
};
use futures::stream;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Body, StatusCode};
use serde_json::{Value, json};

const CAP: u64 = 1024;

/// The image went back to `queued`, forgot any size, and left no file.
async fn assert_reset(app: &TestApp, id: &str) {
    let image = app
        .wait_for_image(id, Duration::from_secs(5), |i| i["status"] == "queued")
        .await;
    assert_eq!(image["size"], Value::Null);
    assert_eq!(image["virtual_size"], Value::Null);
    assert_eq!(image["checksum"], Value::Null);
    app.wait_for_store_files(&[], Duration::from_secs(5)).await;
}

async fn capped_app() -> (TestApp, String) {
    let app = TestApp::builder().image_size_cap(CAP).start().await;
    let id = app.create_raw_image("capped").await;
    (app, id)
}

#[tokio::test]
async fn upload_over_size_cap_with_content_length_is_413_and_leaves_image_queued() {
    let (app, id) = capped_app().await;
    let resp = app.upload(&id, vec![0u8; 2 * CAP as usize]).await;
    expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_reset(&app, &id).await;
}

#[tokio::test]
async fn upload_with_announced_size_over_cap_is_413_before_reading_the_body() {
    let (app, id) = capped_app().await;
    // Announces a body far larger than the cap and sends none of it: only a
    // server that decides from the header alone can answer.
    let head = format!(
        "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: 1073741824\r\n",
        app.addr()
    );
    let resp = raw::exchange(app.addr(), &head).await;
    assert_eq!(resp.status, 413, "{resp:?}");
    assert_reset(&app, &id).await;
}

#[tokio::test]
async fn upload_with_image_size_header_over_cap_is_413_before_reading_the_body() {
    let (app, id) = capped_app().await;
    let mut stream = start_chunked_upload_with(&app, &id, "x-openstack-image-size: 4096\r\n").await;
    let resp = read_response(&mut stream).await;
    assert_eq!(resp.status, 413, "{resp:?}");
    assert_reset(&app, &id).await;
}

/// Like [`start_chunked_upload`] with extra header lines.
async fn start_chunked_upload_with(app: &TestApp, id: &str, extra: &str) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(app.addr()).await.unwrap();
    let head = format!(
        "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: {}\r\nAccept: application/json\r\n\
         Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n{extra}\r\n",
        app.addr()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

#[tokio::test]
async fn chunked_upload_over_size_cap_is_413_and_leaves_no_file() {
    let (app, id) = capped_app().await;
    let chunks: Vec<Vec<u8>> = (0..3).map(|_| vec![9u8; 512]).collect();
    let body = Body::wrap_stream(stream::iter(
        chunks.into_iter().map(Ok::<_, std::io::Error>),
    ));
    let resp = app.upload(&id, body).await;
    expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_reset(&app, &id).await;
}

#[tokio::test]
async fn upload_of_exactly_the_size_cap_succeeds() {
    let (app, id) = capped_app().await;
    app.upload_ok(&id, vec![1u8; CAP as usize]).await;
    assert_eq!(app.image(&id).await["size"], CAP);
}

#[tokio::test]
async fn upload_shorter_than_announced_image_size_is_400_and_leaves_image_queued() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("short").await;
    let resp = app
        .put(&format!("/v2/images/{id}/file"))
        .header(CONTENT_TYPE, "application/octet-stream")
        .header("x-openstack-image-size", "100")
        .body(vec![0u8; 50])
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST).await;
    assert_reset(&app, &id).await;
}

#[tokio::test]
async fn upload_longer_than_announced_image_size_is_400_and_leaves_image_queued() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("long").await;
    let resp = app
        .put(&format!("/v2/images/{id}/file"))
        .header(CONTENT_TYPE, "application/octet-stream")
        .header("x-openstack-image-size", "10")
        .body(vec![0u8; 50])
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::BAD_REQUEST).await;
    assert_reset(&app, &id).await;
}

#[tokio::test]
async fn upload_of_raw_bytes_as_qcow2_is_415_and_leaves_image_queued() {
    let app = TestApp::new().await;
    let image = app
        .create_image(json!({"disk_format": "qcow2", "container_format": "bare"}))
        .await;
    let id = id_of(&image);
    let message = expect_error(
        app.upload(&id, noise(64 * 1024, 7)).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert!(
        message.ends_with("Image disk_format qcow2 does not match stream data raw"),
        "{message}"
    );
    assert_reset(&app, &id).await;
}

#[tokio::test]
async fn upload_of_raw_bytes_as_qcow2_has_webob_415_message() {
    let app = TestApp::new().await;
    let image = app
        .create_image(json!({"disk_format": "qcow2", "container_format": "bare"}))
        .await;
    let resp = app.upload(&id_of(&image), noise(64 * 1024, 7)).await;
    let message = expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    let expected = format!(
        "{} Image disk_format qcow2 does not match stream data raw",
        unsupported_media_type("application/octet-stream")
    );
    assert_eq!(message, expected);
}

#[tokio::test]
async fn upload_of_qcow2_with_backing_file_is_415_and_leaves_image_queued() {
    let app = TestApp::new().await;
    let data = qcow2_with_backing_file(app.scratch_dir());
    let image = app
        .create_image(json!({"disk_format": "qcow2", "container_format": "bare"}))
        .await;
    let id = id_of(&image);
    expect_error(
        app.upload(&id, data).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
    )
    .await;
    assert_reset(&app, &id).await;
}

#[tokio::test]
async fn upload_of_qcow2_as_raw_is_accepted_with_actual_size() {
    let app = TestApp::new().await;
    qemu_img(
        app.scratch_dir(),
        &["create", "-q", "-f", "qcow2", "d.qcow2", "64M"],
    );
    let data = std::fs::read(app.scratch_dir().join("d.qcow2")).unwrap();
    let id = app.create_raw_image("claimed-raw").await;
    app.upload_ok(&id, data.clone()).await;
    let image = app.image(&id).await;
    assert_eq!(image["status"], "active");
    assert_eq!(image["virtual_size"], data.len());
}

#[tokio::test]
async fn client_disconnecting_mid_upload_leaves_image_queued_and_no_file() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("abandoned").await;
    let mut stream = start_chunked_upload(app.addr(), &id).await;
    for i in 0..8 {
        send_chunk(&mut stream, &noise(64 * 1024, i + 1)).await;
    }
    app.wait_for_image(&id, Duration::from_secs(5), |i| i["status"] == "saving")
        .await;
    drop(stream);
    assert_reset(&app, &id).await;
    app.upload_ok(&id, vec![4u8; 1000]).await;
    assert_eq!(app.image(&id).await["size"], 1000);
}

#[tokio::test]
async fn upload_while_another_is_in_progress_is_409() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("busy").await;
    let mut stream = start_chunked_upload(app.addr(), &id).await;
    send_chunk(&mut stream, &[1u8; 4096]).await;
    app.wait_for_image(&id, Duration::from_secs(5), |i| i["status"] == "saving")
        .await;
    let message = expect_error(app.upload(&id, vec![2u8; 10]).await, StatusCode::CONFLICT).await;
    assert_eq!(
        message,
        "Image status transition from saving to saving is not allowed"
    );
    drop(stream);
    assert_reset(&app, &id).await;
}
