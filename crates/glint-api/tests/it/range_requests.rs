//! `Range` headers a server cannot use are ignored, as RFC 9110 says: the
//! whole image comes back. A well-formed range that starts beyond the data
//! is 416 with Glance's message and `Content-Range: bytes */size`.

use crate::common;

use common::{TestApp, expect_error, noise};
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE};
use reqwest::{Response, StatusCode};

const SIZE: usize = 4096;

async fn app_with_image() -> (TestApp, String, Vec<u8>) {
    let app = TestApp::new().await;
    let id = app.create_raw_image("ranged").await;
    let data = noise(SIZE, 7);
    app.upload_ok(&id, data.clone()).await;
    (app, id, data)
}

async fn download(app: &TestApp, id: &str, header: (&str, &str)) -> Response {
    app.get(&format!("/v2/images/{id}/file"))
        .header(header.0, header.1)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn unusable_range_is_ignored() {
    let (app, id, data) = app_with_image().await;
    for range in [
        "bytes=abc",
        "items=0-1",
        "bytes=5-2",
        "bytes=",
        "bytes=-",
        "bytes=1-2-3",
        "bytes=0x10-",
        "bytes=--5",
        "0-10",
    ] {
        let resp = download(&app, &id, ("Range", range)).await;
        assert_eq!(resp.status(), StatusCode::OK, "Range: {range}");
        assert!(
            resp.headers().get(CONTENT_RANGE).is_none(),
            "Range: {range}"
        );
        assert_eq!(resp.headers()[CONTENT_LENGTH], SIZE.to_string());
        assert!(
            resp.bytes().await.unwrap()[..] == data[..],
            "Range: {range}"
        );
    }
}

#[tokio::test]
async fn unusable_legacy_content_range_is_ignored() {
    let (app, id, data) = app_with_image().await;
    for value in ["bytes abc/10", "items 0-1/10", "bytes 5-2/*", "garbage"] {
        let resp = download(&app, &id, ("Content-Range", value)).await;
        assert_eq!(resp.status(), StatusCode::OK, "Content-Range: {value}");
        assert!(resp.bytes().await.unwrap()[..] == data[..]);
    }
}

#[tokio::test]
async fn range_starting_beyond_the_data_is_416_with_glance_message() {
    let (app, id, _) = app_with_image().await;
    for range in [
        format!("bytes={SIZE}-"),
        format!("bytes={}-{}", SIZE + 1, SIZE + 9),
    ] {
        let resp = download(&app, &id, ("Range", &range)).await;
        assert_eq!(resp.headers()[CONTENT_RANGE], format!("bytes */{SIZE}"));
        let message = expect_error(resp, StatusCode::RANGE_NOT_SATISFIABLE).await;
        assert_eq!(
            message,
            format!(
                "The Range requested is not available. Invalid start position in Range \
                 header. Start position MUST be in the inclusive range [0, {}].",
                SIZE - 1
            ),
            "Range: {range}"
        );
    }
    let resp = download(
        &app,
        &id,
        ("Content-Range", &format!("bytes {SIZE}-{}/*", SIZE + 5)),
    )
    .await;
    let message = expect_error(resp, StatusCode::RANGE_NOT_SATISFIABLE).await;
    assert!(
        message.contains("Invalid start position in Content-Range header"),
        "{message}"
    );
}

#[tokio::test]
async fn status_416_has_webobs_title() {
    let (app, id, _) = app_with_image().await;
    let resp = download(&app, &id, ("Range", &format!("bytes={SIZE}-"))).await;
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "416 Request Range Not Satisfiable");
    assert_eq!(body["title"], "Request Range Not Satisfiable");
}

#[tokio::test]
async fn several_ranges_stay_400() {
    let (app, id, _) = app_with_image().await;
    let resp = download(&app, &id, ("Range", "bytes=0-1,5-6")).await;
    expect_error(resp, StatusCode::BAD_REQUEST).await;
}
