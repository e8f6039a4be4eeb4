//! The image store becomes unavailable (`StoreError::Unavailable`: a
//! remote store unreachable, timing out): uploads and downloads answer 503
//! in Glance's error shape, images stay as they were (an upload cut short
//! leaves its image `queued`, never `saving`), and the same server works
//! again once the store is back.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use common::{TestApp, expect_error, md5_hex};
use futures::StreamExt;
use glint_model::ImageId;
use glint_store::{ByteRange, ByteStream, ObjectData, Store, StoreError, Stored};
use reqwest::StatusCode;
use serde_json::Value;

const UNAVAILABLE: &str = "The server is currently unavailable. Please try again at a later time.";

/// How the store behaves.
const WORKING: u8 = 0;
/// Every call fails at once.
const DOWN: u8 = 1;
/// Writes fail once part of the data has arrived; reads work.
const FAILS_MID_WRITE: u8 = 2;

/// Bytes a write takes before it fails, in [`FAILS_MID_WRITE`].
const TAKEN_BEFORE_FAILING: usize = 64 * 1024;

/// A store in front of the file store that fails on demand.
#[derive(Debug)]
struct FlakyStore {
    inner: Arc<dyn Store>,
    mode: Arc<AtomicU8>,
}

impl FlakyStore {
    fn check(&self) -> Result<(), StoreError> {
        match self.mode.load(Ordering::SeqCst) {
            DOWN => Err(StoreError::Unavailable("test store is down".into())),
            _ => Ok(()),
        }
    }
}

#[async_trait::async_trait]
impl Store for FlakyStore {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn owns(&self, url: &str) -> bool {
        self.inner.owns(url)
    }

    async fn put(&self, image_id: ImageId, data: ByteStream) -> Result<Stored, StoreError> {
        self.check()?;
        if self.mode.load(Ordering::SeqCst) != FAILS_MID_WRITE {
            return self.inner.put(image_id, data).await;
        }
        let mut data = data;
        let mut taken = 0;
        while taken < TAKEN_BEFORE_FAILING {
            match data.next().await {
                Some(Ok(chunk)) => taken += chunk.len(),
                Some(Err(e)) => return Err(e),
                None => break,
            }
        }
        Err(StoreError::Unavailable(
            "test store went away mid-write".into(),
        ))
    }

    async fn get(&self, url: &str, range: Option<ByteRange>) -> Result<ObjectData, StoreError> {
        self.check()?;
        self.inner.get(url, range).await
    }

    async fn delete(&self, url: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.delete(url).await
    }

    async fn discard(&self, image_id: ImageId) -> Result<(), StoreError> {
        self.check()?;
        self.inner.discard(image_id).await
    }
}

async fn flaky_app() -> (TestApp, Arc<AtomicU8>) {
    let mode = Arc::new(AtomicU8::new(WORKING));
    let shared = mode.clone();
    let app = TestApp::builder()
        .wrap_store(Box::new(move |inner| {
            Arc::new(FlakyStore {
                inner,
                mode: shared,
            })
        }))
        .start()
        .await;
    (app, mode)
}

/// The image is `queued` with no data recorded, and the store holds none.
async fn assert_untouched_queued(app: &TestApp, id: &str) {
    let image = app.image(id).await;
    assert_eq!(image["status"], "queued", "{image:#}");
    assert_eq!(image["size"], Value::Null);
    assert_eq!(image["checksum"], Value::Null);
    app.wait_for_store_files(&[], Duration::from_secs(5)).await;
}

#[tokio::test]
async fn an_upload_to_an_unavailable_store_is_503_and_leaves_the_image_queued() {
    let (app, mode) = flaky_app().await;
    let id = app.create_raw_image("waiting").await;
    mode.store(DOWN, Ordering::SeqCst);
    let message = expect_error(
        app.upload(&id, vec![1u8; 1 << 20]).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert_eq!(message, UNAVAILABLE);
    assert_untouched_queued(&app, &id).await;

    mode.store(WORKING, Ordering::SeqCst);
    let data = vec![2u8; 1 << 20];
    app.upload_ok(&id, data.clone()).await;
    assert_eq!(app.image(&id).await["checksum"], md5_hex(&data));
}

#[tokio::test]
async fn an_upload_cut_short_by_the_store_is_503_and_leaves_the_image_queued() {
    let (app, mode) = flaky_app().await;
    let id = app.create_raw_image("cut short").await;
    mode.store(FAILS_MID_WRITE, Ordering::SeqCst);
    let resp = app.upload(&id, vec![3u8; 4 << 20]).await;
    let message = expect_error(resp, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(message, UNAVAILABLE);
    assert_untouched_queued(&app, &id).await;

    mode.store(WORKING, Ordering::SeqCst);
    app.upload_ok(&id, vec![4u8; 4096]).await;
    assert_eq!(app.image(&id).await["status"], "active");
}

#[tokio::test]
async fn a_download_from_an_unavailable_store_is_503_and_the_image_stays_active() {
    let (app, mode) = flaky_app().await;
    let id = app.create_raw_image("stored").await;
    let data = vec![5u8; 8192];
    app.upload_ok(&id, data.clone()).await;
    let before = app.image(&id).await;

    mode.store(DOWN, Ordering::SeqCst);
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(message, UNAVAILABLE);
    assert_eq!(app.image(&id).await, before);

    mode.store(WORKING, Ordering::SeqCst);
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap()[..], data[..]);
}
