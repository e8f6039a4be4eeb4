//! `Range` values at the edges of the syntax: numbers too large for any
//! counter, a zero-length suffix, the unit in another case, spaces.
//! Numbers are compared as the decimal values they write, however long:
//! a first byte beyond the data is 416, a last byte or a suffix beyond it
//! covers the data to its end (RFC 9110, and Glance).

use crate::common;

use common::{TestApp, expect_error, noise};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE};

const SIZE: usize = 1000;
const HUGE: &str = "99999999999999999999999";

async fn app_with_image() -> (TestApp, String, Vec<u8>) {
    let app = TestApp::new().await;
    let id = app.create_raw_image("edges").await;
    let data = noise(SIZE, 11);
    app.upload_ok(&id, data.clone()).await;
    (app, id, data)
}

/// Downloads with `header` and checks a 206 carrying bytes `first..=last`.
async fn expect_part(app: &TestApp, id: &str, header: (&str, &str), first: usize, last: usize) {
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .header(header.0, header.1)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT, "{header:?}");
    assert_eq!(
        resp.headers()[CONTENT_RANGE],
        format!("bytes {first}-{last}/{SIZE}"),
        "{header:?}"
    );
    assert_eq!(
        resp.headers()[CONTENT_LENGTH],
        (last - first + 1).to_string()
    );
    let body = resp.bytes().await.unwrap();
    assert!(body[..] == noise(SIZE, 11)[first..=last], "{header:?}");
}

async fn expect_416(app: &TestApp, id: &str, range: &str) {
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .header("Range", range)
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()
            .get(CONTENT_RANGE)
            .map(|v| v.to_str().unwrap()),
        Some(format!("bytes */{SIZE}").as_str()),
        "Range: {range}"
    );
    expect_error(resp, StatusCode::RANGE_NOT_SATISFIABLE).await;
}

#[tokio::test]
async fn numbers_beyond_any_counter_are_read_as_the_values_they_write() {
    let (app, id, _) = app_with_image().await;
    let last = SIZE - 1;
    expect_part(&app, &id, ("Range", &format!("bytes=0-{HUGE}")), 0, last).await;
    expect_part(
        &app,
        &id,
        ("Range", &format!("bytes=990-{HUGE}")),
        990,
        last,
    )
    .await;
    expect_part(&app, &id, ("Range", &format!("bytes=-{HUGE}")), 0, last).await;
    expect_part(&app, &id, ("Range", "bytes=-18446744073709551616"), 0, last).await;
    expect_part(
        &app,
        &id,
        ("Range", "bytes=000000000000000000000000000010-11"),
        10,
        11,
    )
    .await;
    expect_416(&app, &id, &format!("bytes={HUGE}-")).await;
    expect_416(&app, &id, "bytes=18446744073709551616-18446744073709551617").await;
    expect_part(
        &app,
        &id,
        ("Content-Range", &format!("bytes 5-{HUGE}/*")),
        5,
        last,
    )
    .await;
}

#[tokio::test]
async fn a_first_byte_after_the_last_is_ignored_even_beyond_any_counter() {
    let (app, id, data) = app_with_image().await;
    for range in [
        format!("bytes={HUGE}-{}", &HUGE[1..]),
        "bytes=18446744073709551617-18446744073709551616".to_owned(),
    ] {
        let resp = app
            .get(&format!("/v2/images/{id}/file"))
            .header("Range", &range)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "Range: {range}");
        assert!(resp.bytes().await.unwrap()[..] == data[..]);
    }
}

#[tokio::test]
async fn an_empty_suffix_is_416() {
    let (app, id, _) = app_with_image().await;
    expect_416(&app, &id, "bytes=-0").await;
    expect_416(&app, &id, "bytes=-000").await;
}

#[tokio::test]
async fn the_unit_is_read_in_any_case_and_spaces_around_the_numbers_are_allowed() {
    let (app, id, _) = app_with_image().await;
    for range in [
        "Bytes=0-9",
        "BYTES=0-9",
        " bytes=0-9 ",
        "bytes = 0 - 9",
        "bytes=\t0\t-\t9",
    ] {
        expect_part(&app, &id, ("Range", range), 0, 9).await;
    }
    expect_part(&app, &id, ("Content-Range", "Bytes 3-4/*"), 3, 4).await;
}
