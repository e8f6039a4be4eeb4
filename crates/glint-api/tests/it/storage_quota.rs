//! `user_storage_quota`: the image data a project keeps, summed over its
//! images, never exceeds the quota, whether the size is announced or not
//! and however many uploads run at once.

use crate::common;

use std::time::Duration;

use common::{Backend, TestApp, expect_error, id_of, noise};
use futures::stream;
use reqwest::{Body, StatusCode};
use serde_json::{Value, json};

const QUOTA: u64 = 10_000;

async fn quota_app(backend: Backend) -> TestApp {
    TestApp::builder()
        .backend(backend)
        .image_config(|c| c.user_storage_quota = Some(QUOTA))
        .start()
        .await
}

/// An upload that failed on the quota leaves the image queued, sizeless,
/// and no data behind.
async fn assert_nothing_kept(app: &TestApp, id: &str, kept_files: usize) {
    let image = app
        .wait_for_image(id, Duration::from_secs(5), |i| i["status"] == "queued")
        .await;
    assert_eq!(image["size"], Value::Null);
    assert_eq!(image["checksum"], Value::Null);
    assert!(!app.store_files().contains(&id.to_string()));
    assert_eq!(
        app.store_files().len(),
        kept_files,
        "{:?}",
        app.store_files()
    );
}

fn chunked(len: usize, seed: u64) -> Body {
    let chunks: Vec<Vec<u8>> = noise(len, seed).chunks(1000).map(<[u8]>::to_vec).collect();
    Body::wrap_stream(stream::iter(
        chunks.into_iter().map(Ok::<_, std::io::Error>),
    ))
}

#[tokio::test]
async fn an_upload_of_known_size_beyond_the_quota_is_413_with_glances_message() {
    for backend in Backend::configured() {
        let app = quota_app(backend).await;
        let first = app.create_raw_image("first").await;
        app.upload_ok(&first, noise(6000, 1)).await;
        let second = app.create_raw_image("second").await;
        let message = expect_error(
            app.upload(&second, noise(6000, 2)).await,
            StatusCode::PAYLOAD_TOO_LARGE,
        )
        .await;
        assert_eq!(
            message,
            "Image exceeds the storage quota: The size of the data 6000 will exceed the limit. \
             4000 bytes remaining."
        );
        assert_nothing_kept(&app, &second, 1).await;
        // What fits still fits, to the byte.
        app.upload_ok(&second, noise(4000, 3)).await;
        let third = app.create_raw_image("third").await;
        let message = expect_error(
            app.upload(&third, vec![1u8]).await,
            StatusCode::PAYLOAD_TOO_LARGE,
        )
        .await;
        assert!(
            message.ends_with("The size of the data 1 will exceed the limit. 0 bytes remaining."),
            "{message}"
        );
        // As in Glance, no data at all still fits in a full quota.
        let empty = app
            .put(&format!("/v2/images/{third}/file"))
            .header("content-type", "application/octet-stream")
            .header("x-openstack-image-size", "0")
            .send()
            .await
            .unwrap();
        assert_eq!(empty.status(), StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn a_chunked_upload_beyond_the_quota_is_cut_off_with_413() {
    for backend in Backend::configured() {
        let app = quota_app(backend).await;
        let first = app.create_raw_image("first").await;
        app.upload_ok(&first, chunked(6000, 1)).await;
        let second = app.create_raw_image("second").await;
        let message = expect_error(
            app.upload(&second, chunked(6000, 2)).await,
            StatusCode::PAYLOAD_TOO_LARGE,
        )
        .await;
        assert_eq!(
            message,
            "Image exceeds the storage quota: The size of the data None will exceed the limit. \
             4000 bytes remaining."
        );
        assert_nothing_kept(&app, &second, 1).await;
        // A full quota refuses an upload of unknown size before reading it.
        app.upload_ok(&second, chunked(4000, 3)).await;
        let third = app.create_raw_image("third").await;
        let message = expect_error(
            app.upload(&third, chunked(10, 4)).await,
            StatusCode::PAYLOAD_TOO_LARGE,
        )
        .await;
        assert!(
            message
                .ends_with("The size of the data None will exceed the limit. 0 bytes remaining."),
            "{message}"
        );
        assert_nothing_kept(&app, &third, 2).await;
    }
}

/// The quota counts the images of the caller's project only.
#[tokio::test]
async fn each_project_has_its_own_quota() {
    for backend in Backend::configured() {
        let app = quota_app(backend).await;
        for project in ["p1", "p2"] {
            let caller = app.member_of(project);
            let image = caller
                .create_image(json!({"disk_format": "raw", "container_format": "bare"}))
                .await;
            let resp = caller.upload(&id_of(&image), noise(8000, 1)).await;
            assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{project}");
        }
    }
}

/// Uploads of known and unknown size at once: whichever finish, the
/// project's total never goes over the quota, and every refused one leaves
/// nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploads_never_exceed_the_quota() {
    const UPLOADS: u64 = 8;
    const SIZE: usize = 3000;
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let app = quota_app(backend).await;
        let mut ids = Vec::new();
        for i in 0..UPLOADS {
            ids.push(app.create_raw_image(&format!("u{i}")).await);
        }
        let mut tasks = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let client = app.client().clone();
            let url = app.url(&format!("/v2/images/{id}/file"));
            let body = if i % 2 == 0 {
                Body::from(noise(SIZE, i as u64))
            } else {
                chunked(SIZE, i as u64)
            };
            tasks.push(tokio::spawn(async move {
                let resp = client
                    .put(url)
                    .header("content-type", "application/octet-stream")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                resp.status()
            }));
        }
        let mut stored = 0;
        for task in tasks {
            let status = task.await.expect("upload task");
            match status {
                StatusCode::NO_CONTENT => stored += 1,
                StatusCode::PAYLOAD_TOO_LARGE => {}
                other => panic!("unexpected {other}"),
            }
        }
        assert_eq!(stored, QUOTA as usize / SIZE, "as many as fit");
        let mut total = 0;
        for id in &ids {
            let image = app
                .wait_for_image(id, Duration::from_secs(5), |i| {
                    i["status"] == "active" || i["status"] == "queued"
                })
                .await;
            total += image["size"].as_u64().unwrap_or(0);
        }
        assert!(total <= QUOTA, "{total} bytes stored");
        assert_eq!(app.store_files().len(), stored);
    }
}
