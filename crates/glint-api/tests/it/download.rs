//! Downloading image data (`GET /v2/images/{id}/file`), whole and by range.

use crate::common;

use common::{TestApp, expect_error, expect_status, id_of, md5_hex, noise};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use reqwest::{Response, StatusCode};
use serde_json::json;

const SIZE: usize = 1 << 20;

/// An app with one active raw image of [`SIZE`] known bytes.
async fn app_with_image() -> (TestApp, String, Vec<u8>) {
    let app = TestApp::new().await;
    let id = app.create_raw_image("downloadable").await;
    let data = noise(SIZE, 42);
    app.upload_ok(&id, data.clone()).await;
    (app, id, data)
}

async fn get_range(app: &TestApp, id: &str, range: &str) -> Response {
    app.get(&format!("/v2/images/{id}/file"))
        .header(RANGE, range)
        .send()
        .await
        .unwrap()
}

fn header(resp: &Response, name: impl reqwest::header::AsHeaderName) -> String {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

#[tokio::test]
async fn download_returns_the_exact_bytes_with_md5_and_length() {
    let (app, id, data) = app_with_image().await;
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(header(&resp, CONTENT_TYPE), "application/octet-stream");
    assert_eq!(header(&resp, CONTENT_LENGTH), SIZE.to_string());
    assert_eq!(header(&resp, "content-md5"), md5_hex(&data));
    let body = resp.bytes().await.unwrap();
    assert!(body[..] == data[..], "downloaded bytes differ");
}

#[tokio::test]
async fn download_first_hundred_bytes_is_206_with_content_range() {
    let (app, id, data) = app_with_image().await;
    let resp = get_range(&app, &id, "bytes=0-99").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&resp, CONTENT_RANGE), format!("bytes 0-99/{SIZE}"));
    assert_eq!(header(&resp, CONTENT_LENGTH), "100");
    assert_eq!(resp.bytes().await.unwrap()[..], data[..100]);
}

#[tokio::test]
async fn download_open_ended_range_returns_the_rest() {
    let (app, id, data) = app_with_image().await;
    let resp = get_range(&app, &id, "bytes=100-").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(&resp, CONTENT_RANGE),
        format!("bytes 100-{}/{SIZE}", SIZE - 1)
    );
    assert!(resp.bytes().await.unwrap()[..] == data[100..]);
}

#[tokio::test]
async fn download_suffix_range_returns_the_last_bytes() {
    let (app, id, data) = app_with_image().await;
    let resp = get_range(&app, &id, "bytes=-10").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(&resp, CONTENT_RANGE),
        format!("bytes {}-{}/{SIZE}", SIZE - 10, SIZE - 1)
    );
    assert_eq!(resp.bytes().await.unwrap()[..], data[SIZE - 10..]);
}

#[tokio::test]
async fn download_range_ending_past_the_data_is_clamped() {
    let (app, id, data) = app_with_image().await;
    let resp = get_range(&app, &id, &format!("bytes={}-{}", SIZE - 5, SIZE + 100)).await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await.unwrap()[..], data[SIZE - 5..]);
}

#[tokio::test]
async fn download_range_starting_beyond_the_size_is_416() {
    let (app, id, _) = app_with_image().await;
    let resp = get_range(&app, &id, &format!("bytes={SIZE}-")).await;
    expect_error(resp, StatusCode::RANGE_NOT_SATISFIABLE).await;
    let resp = get_range(&app, &id, &format!("bytes={}-{}", SIZE + 10, SIZE + 20)).await;
    expect_error(resp, StatusCode::RANGE_NOT_SATISFIABLE).await;
}

#[tokio::test]
async fn download_range_starting_beyond_the_size_has_webob_explanation() {
    let (app, id, _) = app_with_image().await;
    let resp = get_range(&app, &id, &format!("bytes={SIZE}-")).await;
    let message = expect_error(resp, StatusCode::RANGE_NOT_SATISFIABLE).await;
    assert_eq!(
        message,
        format!(
            "The Range requested is not available. Invalid start position in Range header. \
             Start position MUST be in the inclusive range [0, {}].",
            SIZE - 1
        )
    );
}

#[tokio::test]
async fn download_with_several_ranges_is_400() {
    let (app, id, _) = app_with_image().await;
    let resp = get_range(&app, &id, "bytes=0-9,20-29").await;
    expect_error(resp, StatusCode::BAD_REQUEST).await;
}

#[tokio::test]
async fn download_with_several_ranges_has_glance_message() {
    let (app, id, _) = app_with_image().await;
    let resp = get_range(&app, &id, "bytes=0-9,20-29").await;
    let message = expect_error(resp, StatusCode::BAD_REQUEST).await;
    assert_eq!(
        message,
        "Requests with multiple ranges are not supported in Glance. \
         You may make multiple single-range requests instead."
    );
}

#[tokio::test]
async fn download_range_carries_the_whole_image_content_md5() {
    let (app, id, data) = app_with_image().await;
    let resp = get_range(&app, &id, "bytes=0-99").await;
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&resp, "content-md5"), md5_hex(&data));
}

#[tokio::test]
async fn download_with_legacy_content_range_request_header_works() {
    let (app, id, data) = app_with_image().await;
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .header(CONTENT_RANGE, format!("bytes 10-19/{SIZE}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await.unwrap()[..], data[10..20]);
}

#[tokio::test]
async fn download_of_queued_image_is_204() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("no-data").await;
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    let body = expect_status(resp, StatusCode::NO_CONTENT).await;
    assert!(body.is_empty());
}

#[tokio::test]
async fn download_of_deleted_image_is_404() {
    let (app, id, _) = app_with_image().await;
    let resp = app
        .delete(&format!("/v2/images/{id}"))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_eq!(message, format!("No image found with ID {id}"));
}

/// A public, active, then deactivated image owned by admin.
async fn deactivated_public_image(app: &TestApp) -> String {
    let image = app
        .create_image(
            json!({"visibility": "public", "disk_format": "raw", "container_format": "bare"}),
        )
        .await;
    let id = id_of(&image);
    app.upload_ok(&id, vec![8u8; 512]).await;
    let resp = app
        .post(&format!("/v2/images/{id}/actions/deactivate"))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;
    id
}

#[tokio::test]
async fn download_of_deactivated_image_by_non_admin_is_403() {
    let app = TestApp::new().await;
    let id = deactivated_public_image(&app).await;
    let resp = app
        .member_of("p2")
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "The requested image has been deactivated. Image data download is forbidden."
    );
}

#[tokio::test]
async fn download_of_deactivated_image_by_admin_succeeds() {
    let app = TestApp::new().await;
    let id = deactivated_public_image(&app).await;
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap()[..], [8u8; 512]);
}

#[tokio::test]
async fn download_of_deactivated_image_not_visible_to_caller_is_404() {
    let app = TestApp::new().await;
    let image = app
        .create_image(
            json!({"visibility": "private", "disk_format": "raw", "container_format": "bare"}),
        )
        .await;
    let id = id_of(&image);
    app.upload_ok(&id, vec![8u8; 512]).await;
    let path = format!("/v2/images/{id}/actions/deactivate");
    expect_status(
        app.post(&path).send().await.unwrap(),
        StatusCode::NO_CONTENT,
    )
    .await;
    let resp = app
        .member_of("p2")
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_eq!(message, format!("No image found with ID {id}"));
}

#[tokio::test]
async fn download_of_public_image_by_reader_only_is_403() {
    let app = TestApp::new().await;
    let image = app
        .create_image(
            json!({"visibility": "public", "disk_format": "raw", "container_format": "bare"}),
        )
        .await;
    let id = id_of(&image);
    app.upload_ok(&id, vec![8u8; 512]).await;
    let reader = app.as_user("p2", "reader");
    assert_eq!(reader.image(&id).await["status"], "active");
    let resp = reader
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::FORBIDDEN).await;
    assert_eq!(
        message,
        "You are not authorized to complete download_image action."
    );
}

#[tokio::test]
async fn download_of_public_image_by_other_projects_member_succeeds() {
    let app = TestApp::new().await;
    let image = app
        .create_image(
            json!({"visibility": "public", "disk_format": "raw", "container_format": "bare"}),
        )
        .await;
    let id = id_of(&image);
    app.upload_ok(&id, vec![6u8; 256]).await;
    let resp = app
        .member_of("p2")
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap()[..], [6u8; 256]);
}
