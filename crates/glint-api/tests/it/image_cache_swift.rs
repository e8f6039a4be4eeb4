//! The image cache in front of an object store, the case it exists for:
//! images in the Swift kit (tempauth), the first download fills the node's
//! cache, and later ones are served from it once the object is gone from
//! Swift, and while Swift cannot be reached.
//!
//! Needs `SWIFT_AUTH_URL`, `SWIFT_USER` and `SWIFT_KEY`; skipped without
//! them unless `GLINT_REQUIRE_STORES` is set.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::{TestApp, noise};
use glint_model::ImageId;
use glint_store::{
    ByteRange, ByteStream, ObjectData, Secret, Store, StoreError, StoreRegistry, Stored,
    SwiftAuthVersion, SwiftConfig, SwiftStore,
};
use reqwest::StatusCode;

fn swift_config() -> Option<SwiftConfig> {
    let get = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (get("SWIFT_AUTH_URL"), get("SWIFT_USER"), get("SWIFT_KEY")) {
        (Some(url), Some(user), Some(key)) => {
            let mut config =
                SwiftConfig::new("swift", url, SwiftAuthVersion::V1, user, Secret::new(key));
            let id = ImageId::new_random().to_string().replace('-', "");
            config.container = format!("glint-cache-{}", &id[..16]);
            config.create_container_on_put = true;
            Some(config)
        }
        _ if std::env::var_os("GLINT_REQUIRE_STORES").is_some() => {
            panic!("SWIFT_AUTH_URL, SWIFT_USER and SWIFT_KEY must be set")
        }
        _ => {
            eprintln!("skipped: SWIFT_AUTH_URL is not set");
            None
        }
    }
}

/// The swift store, made unreachable on demand.
#[derive(Debug)]
struct Cuttable {
    inner: SwiftStore,
    cut: AtomicBool,
}

impl Cuttable {
    fn check(&self) -> Result<(), StoreError> {
        if self.cut.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("connection refused".into()));
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Store for Cuttable {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn owns(&self, url: &str) -> bool {
        self.inner.owns(url)
    }

    async fn put(&self, image_id: ImageId, data: ByteStream) -> Result<Stored, StoreError> {
        self.check()?;
        self.inner.put(image_id, data).await
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

/// Removes the test's container, on a runtime of its own with a store of
/// its own (the test's connections belong to the test's runtime).
struct RemoveContainer(SwiftConfig);

impl Drop for RemoveContainer {
    fn drop(&mut self) {
        let config = self.0.clone();
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let container = config.container.clone();
            let store = SwiftStore::new("swift", config).unwrap();
            runtime.block_on(async {
                if let Err(e) = store.remove_container(&container).await {
                    eprintln!("could not remove test container {container}: {e}");
                }
            });
        })
        .join();
    }
}

#[tokio::test]
async fn images_of_an_object_store_are_served_from_the_cache_once_cached() {
    let Some(config) = swift_config() else {
        return;
    };
    let _cleanup = RemoveContainer(config.clone());
    let swift = SwiftStore::new("swift", config).unwrap();
    let store = Arc::new(Cuttable {
        inner: swift,
        cut: AtomicBool::new(false),
    });
    let registered: Arc<dyn Store> = store.clone();
    let app = TestApp::builder()
        .stores(move |_| StoreRegistry::new(registered))
        .image_cache(|_| {})
        .start()
        .await;
    let data = noise(3_500_000, 21);
    let id = app.create_raw_image("in swift").await;
    app.upload_ok(&id, data.clone()).await;
    let download = || app.get(&format!("/v2/images/{id}/file")).send();

    let resp = download().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap(), data);
    assert_eq!(app.cached_files(), std::slice::from_ref(&id));

    // The object is gone from Swift: the cache still serves the image.
    let location = app
        .service()
        .database()
        .get_image(ImageId::parse(&id).unwrap())
        .await
        .unwrap()
        .unwrap()
        .locations[0]
        .url
        .clone();
    store.delete(&location).await.unwrap();
    let resp = download().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap(), data);

    // And while Swift cannot be reached at all.
    store.cut.store(true, Ordering::SeqCst);
    let resp = download().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.bytes().await.unwrap(), data);
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(resp.bytes().await.unwrap(), &data[100..200]);
    let stats = app.service().cache().unwrap().stats();
    assert_eq!((stats.hits(), stats.misses()), (3, 1));
}
