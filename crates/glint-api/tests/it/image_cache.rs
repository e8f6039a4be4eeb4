//! The transparent image cache on `GET /v2/images/{id}/file`: the first
//! whole download fills the cache, later ones are served from it (ranges
//! too), only whole, verified data is ever kept, and an entry stops being
//! served when its image is deleted, deactivated or changed.

use crate::common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use common::{TestApp, expect_status, id_of, md5_hex, noise, sha512_hex};
use futures::StreamExt;
use glint_model::ImageId;
use glint_store::{ByteRange, ByteStream, ObjectData, Store, StoreError, Stored};
use reqwest::StatusCode;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

/// A store in front of the file store that counts reads and, on demand,
/// flips a byte of what it reads or holds a read back after its first MiB.
#[derive(Debug, Default)]
struct Probe {
    inner: OnceLock<Arc<dyn Store>>,
    reads: AtomicUsize,
    corrupt: AtomicBool,
    gate: OnceLock<Arc<Notify>>,
}

impl Probe {
    /// The probe, and the wrapper that puts it around the app's file store.
    fn new() -> (Arc<Probe>, common::StoreWrapper) {
        let probe = Arc::new(Probe::default());
        let wrapped = Arc::clone(&probe);
        let wrap: common::StoreWrapper = Box::new(move |inner| {
            wrapped.inner.set(inner).expect("wrapped once");
            wrapped
        });
        (probe, wrap)
    }

    fn inner(&self) -> &Arc<dyn Store> {
        self.inner.get().expect("the app has started")
    }

    fn reads(&self) -> usize {
        self.reads.load(Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl Store for Probe {
    fn id(&self) -> &str {
        self.inner().id()
    }

    fn owns(&self, url: &str) -> bool {
        self.inner().owns(url)
    }

    async fn put(&self, image_id: ImageId, data: ByteStream) -> Result<Stored, StoreError> {
        self.inner().put(image_id, data).await
    }

    async fn get(&self, url: &str, range: Option<ByteRange>) -> Result<ObjectData, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        let data = self.inner().get(url, range).await?;
        let corrupt = self.corrupt.load(Ordering::SeqCst);
        let gate = self.gate.get().cloned();
        let mut sent = 0_usize;
        // Small pieces, so a held-back read has more to send once let go.
        let stream = data
            .stream
            .flat_map(|chunk| {
                let pieces: Vec<Result<Bytes, StoreError>> = match chunk {
                    Ok(bytes) => (0..bytes.len())
                        .step_by(64 * 1024)
                        .map(|at| Ok(bytes.slice(at..bytes.len().min(at + 64 * 1024))))
                        .collect(),
                    Err(e) => vec![Err(e)],
                };
                futures::stream::iter(pieces)
            })
            .then(move |piece| {
                let gate = gate.clone();
                let first = sent == 0;
                let before = sent;
                sent += piece.as_ref().map_or(0, Bytes::len);
                let at_gate = before < 1024 * 1024 && sent >= 1024 * 1024;
                async move {
                    if let (Some(gate), true) = (gate, at_gate) {
                        gate.notified().await;
                    }
                    match piece {
                        Ok(bytes) if corrupt && first => {
                            let mut flipped = bytes.to_vec();
                            flipped[0] ^= 0xff;
                            Ok(Bytes::from(flipped))
                        }
                        other => other,
                    }
                }
            })
            .boxed();
        Ok(ObjectData { stream, ..data })
    }

    async fn delete(&self, url: &str) -> Result<(), StoreError> {
        self.inner().delete(url).await
    }

    async fn discard(&self, image_id: ImageId) -> Result<(), StoreError> {
        self.inner().discard(image_id).await
    }
}

async fn cached_app(probe: common::StoreWrapper) -> TestApp {
    TestApp::builder()
        .wrap_store(probe)
        .image_cache(|_| {})
        .start()
        .await
}

async fn image_with(app: &TestApp, data: &[u8]) -> String {
    let id = app.create_raw_image("cached").await;
    app.upload_ok(&id, data.to_vec()).await;
    id
}

async fn download(app: &TestApp, id: &str) -> reqwest::Response {
    app.get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap()
}

async fn download_ok(app: &TestApp, id: &str) -> (reqwest::header::HeaderMap, Bytes) {
    let resp = download(app, id).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let headers = resp.headers().clone();
    (headers, resp.bytes().await.unwrap())
}

async fn cache_list(app: &TestApp) -> Value {
    let resp = app.get("/v2/cache").send().await.unwrap();
    serde_json::from_str(&expect_status(resp, StatusCode::OK).await).unwrap()
}

fn cache_stats(app: &TestApp) -> (u64, u64, u64) {
    let stats = app.service().cache().unwrap().stats();
    (stats.hits(), stats.misses(), stats.bytes_served())
}

#[tokio::test]
async fn the_first_download_fills_the_cache_and_the_next_comes_from_it() {
    let (probe, wrap) = Probe::new();
    let app = cached_app(wrap).await;
    let data = noise(3_000_000, 1);
    let id = image_with(&app, &data).await;

    let (headers, body) = download_ok(&app, &id).await;
    assert_eq!(body, data);
    assert_eq!(headers["content-md5"], md5_hex(&data));
    assert_eq!(app.cached_files(), std::slice::from_ref(&id));
    assert_eq!(probe.reads(), 1);
    assert_eq!(cache_stats(&app), (0, 1, 0));

    for _ in 0..2 {
        let (headers, body) = download_ok(&app, &id).await;
        assert_eq!(body, data);
        assert_eq!(headers["content-md5"], md5_hex(&data));
        assert_eq!(headers["content-length"], data.len().to_string());
        assert_eq!(headers["content-type"], "application/octet-stream");
    }
    assert_eq!(probe.reads(), 1, "served from the cache");
    assert_eq!(cache_stats(&app), (2, 1, 6_000_000));
    let listed = cache_list(&app).await;
    let entry = &listed["cached_images"][0];
    assert_eq!(entry["image_id"], id.as_str());
    assert_eq!(entry["hits"], 2);
    assert_eq!(entry["size"], 3_000_000);
    assert_eq!(entry["checksum"], md5_hex(&data));
    assert!(entry["last_accessed"].as_f64().unwrap() >= entry["last_modified"].as_f64().unwrap());
}

#[tokio::test]
async fn ranges_are_served_from_the_cache_but_never_fill_it() {
    let (probe, wrap) = Probe::new();
    let app = cached_app(wrap).await;
    let data = noise(500_000, 2);
    let id = image_with(&app, &data).await;
    let range = |spec: &'static str| {
        app.get(&format!("/v2/images/{id}/file"))
            .header("Range", spec)
            .send()
    };

    let resp = range("bytes=10-19").await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await.unwrap(), &data[10..20]);
    assert!(
        app.cached_files().is_empty(),
        "a range does not fill the cache"
    );

    download_ok(&app, &id).await;
    let reads = probe.reads();
    let resp = range("bytes=-5").await.unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        resp.headers()["content-range"],
        "bytes 499995-499999/500000"
    );
    assert_eq!(resp.headers()["content-length"], "5");
    assert_eq!(resp.bytes().await.unwrap(), &data[499_995..]);
    let resp = range("bytes=600000-").await.unwrap();
    assert_eq!(resp.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(probe.reads(), reads, "the range came from the cache");
    assert_eq!(cache_list(&app).await["cached_images"][0]["hits"], 1);
}

#[tokio::test]
async fn data_that_does_not_match_the_image_is_never_cached() {
    let (probe, wrap) = Probe::new();
    let app = cached_app(wrap).await;
    let data = noise(2_000_000, 3);
    let id = image_with(&app, &data).await;
    probe.corrupt.store(true, Ordering::SeqCst);

    let resp = download(&app, &id).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.bytes().await;
    assert!(
        body.is_err() || body.as_ref().unwrap().len() < data.len(),
        "the client is not handed the corrupt data as a whole download"
    );
    assert!(app.cached_files().is_empty());
    assert_eq!(
        std::fs::read_dir(app.cache_dir().join("invalid"))
            .unwrap()
            .count(),
        1
    );
    assert!(
        cache_list(&app).await["cached_images"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(app.service().cache().unwrap().stats().rejected(), 1);

    probe.corrupt.store(false, Ordering::SeqCst);
    assert_eq!(download_ok(&app, &id).await.1, data);
    assert_eq!(app.cached_files(), [id]);
    let resp = app.post("/v2/cache/clean").send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        std::fs::read_dir(app.cache_dir().join("invalid"))
            .unwrap()
            .count(),
        0
    );
}

#[tokio::test]
async fn a_client_that_goes_away_mid_download_leaves_no_entry() {
    let (probe, wrap) = Probe::new();
    let gate = Arc::new(Notify::new());
    probe.gate.set(Arc::clone(&gate)).unwrap();
    let app = cached_app(wrap).await;
    let data = noise(6_000_000, 4);
    let id = image_with(&app, &data).await;

    let mut socket = tokio::net::TcpStream::connect(app.addr()).await.unwrap();
    let request = format!("GET /v2/images/{id}/file HTTP/1.1\r\nHost: localhost\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut first = vec![0; 64 * 1024];
    socket.read_exact(&mut first).await.unwrap();
    drop(socket);
    // Let the held-back read go on: the server finds its client gone.
    for _ in 0..50 {
        gate.notify_waiters();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let incomplete = app.cache_dir().join("incomplete");
    for _ in 0..200 {
        if std::fs::read_dir(&incomplete).unwrap().count() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(std::fs::read_dir(&incomplete).unwrap().count(), 0);
    assert!(app.cached_files().is_empty());
    assert!(
        cache_list(&app).await["cached_images"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn deleting_an_image_drops_its_entry() {
    let (_probe, wrap) = Probe::new();
    let app = cached_app(wrap).await;
    let id = image_with(&app, &noise(100_000, 5)).await;
    download_ok(&app, &id).await;
    assert_eq!(app.cached_files(), std::slice::from_ref(&id));

    let resp = app
        .delete(&format!("/v2/images/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert!(app.cached_files().is_empty());
    assert!(
        cache_list(&app).await["cached_images"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert_eq!(download(&app, &id).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn deactivated_images_are_not_served_from_the_cache() {
    let (probe, wrap) = Probe::new();
    let app = cached_app(wrap).await;
    let data = noise(100_000, 6);
    let image = app
        .create_image(serde_json::json!({
            "name": "shared", "disk_format": "raw", "container_format": "bare",
            "visibility": "public"
        }))
        .await;
    let id = id_of(&image);
    app.upload_ok(&id, data.clone()).await;
    download_ok(&app, &id).await;
    let action = |verb: &str| app.post(&format!("/v2/images/{id}/actions/{verb}")).send();

    assert_eq!(
        action("deactivate").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let member = app.member_of("someone-else");
    let resp = member
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    let reads = probe.reads();
    assert_eq!(download_ok(&app, &id).await.1, data);
    assert_eq!(
        probe.reads(),
        reads + 1,
        "an admin reads a deactivated image from its store"
    );

    assert_eq!(
        action("reactivate").await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    let resp = member
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap(), data);
    assert_eq!(probe.reads(), reads + 1, "served from the cache again");
}

#[tokio::test]
async fn an_entry_whose_image_data_changed_is_not_served() {
    let (probe, wrap) = Probe::new();
    let app = cached_app(wrap).await;
    let (old, new) = (noise(200_000, 7), noise(150_000, 8));
    let id = image_with(&app, &old).await;
    download_ok(&app, &id).await;

    // The image now says other data is its own (as a changed location
    // would), and its store holds that data.
    let image_id = ImageId::parse(&id).unwrap();
    let stored = app
        .db()
        .get_image_versioned(image_id)
        .await
        .unwrap()
        .unwrap();
    let mut image = stored.image.clone();
    image.size = Some(new.len() as u64);
    image.checksum = Some(md5_hex(&new));
    image.os_hash_value = Some(sha512_hex(&new));
    std::fs::write(app.store_dir().join(&id), &new).unwrap();
    app.db().save_image(&image, stored.version).await.unwrap();

    let reads = probe.reads();
    assert_eq!(download_ok(&app, &id).await.1, new);
    assert_eq!(probe.reads(), reads + 1);
    assert_eq!(download_ok(&app, &id).await.1, new);
    assert_eq!(probe.reads(), reads + 1, "the new data was cached");
    let entry = &cache_list(&app).await["cached_images"][0];
    assert_eq!(entry["size"], 150_000);
    assert_eq!(entry["checksum"], md5_hex(&new));
}

#[tokio::test]
async fn without_a_caching_flavor_downloads_bypass_the_cache_but_prefetch_works() {
    let (probe, wrap) = Probe::new();
    let app = TestApp::builder()
        .wrap_store(wrap)
        .image_cache(|c| c.serve_downloads = false)
        .start()
        .await;
    let data = noise(100_000, 9);
    let id = image_with(&app, &data).await;
    download_ok(&app, &id).await;
    assert!(app.cached_files().is_empty());

    let resp = app.put(&format!("/v2/cache/{id}")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    for _ in 0..200 {
        if !app.cached_files().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(app.cached_files(), std::slice::from_ref(&id));
    let reads = probe.reads();
    download_ok(&app, &id).await;
    assert_eq!(probe.reads(), reads + 1, "downloads still read the store");
}
