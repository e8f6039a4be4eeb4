//! Test support: image services on a fresh database of every configured
//! dialect, over in-memory stores that count, fail or hold their deletes.
#![allow(dead_code, reason = "each test file uses a different part")]

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use glint_core::{ImageConfig, ImageService, RequestContext};
use glint_db::Database;
use glint_model::{Image, ImageId, ImageStatus, Location, time};
use glint_policy::Enforcer;
use glint_store::{
    ByteRange, ByteStream, MemoryStore, ObjectData, Store, StoreError, StoreRegistry, Stored,
};
use tokio::sync::watch;

/// Runs `test` with the URL of a fresh, migrated database: a SQLite file,
/// then PostgreSQL and MariaDB when `GLINT_TEST_POSTGRES_URL` and
/// `GLINT_TEST_MYSQL_URL` are set.
pub async fn on_every_db<F, Fut>(test: F)
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = format!("sqlite://{}/glint.db", dir.path().display());
    eprintln!("running on sqlite");
    Database::connect(&sqlite)
        .await
        .expect("migrate")
        .close()
        .await;
    test(sqlite).await;
    for (var, postgres) in [
        ("GLINT_TEST_POSTGRES_URL", true),
        ("GLINT_TEST_MYSQL_URL", false),
    ] {
        let Ok(admin) = std::env::var(var) else {
            continue;
        };
        eprintln!("running on {var}");
        let (url, name) = glint_db::testing::create_database(&admin, "glint_workers").await;
        Database::connect(&url)
            .await
            .expect("migrate")
            .close()
            .await;
        let outcome = tokio::spawn(test(url)).await;
        glint_db::testing::drop_database(&admin, &name, postgres).await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// A memory store whose deletes are counted per location, can be made to
/// fail, and can be held until the test lets them go.
#[derive(Debug)]
pub struct ProbeStore {
    inner: MemoryStore,
    deletes: Mutex<HashMap<String, usize>>,
    failures_left: AtomicUsize,
    /// Deletes wait while this is `true`.
    held: watch::Sender<bool>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl ProbeStore {
    pub fn new(id: &str) -> Arc<ProbeStore> {
        Arc::new(ProbeStore {
            inner: MemoryStore::new(id),
            deletes: Mutex::default(),
            failures_left: AtomicUsize::new(0),
            held: watch::Sender::new(false),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        })
    }

    /// The next `n` deletes fail as a store out of reach would.
    pub fn fail_next_deletes(&self, n: usize) {
        self.failures_left.store(n, Ordering::SeqCst);
    }

    /// Deletes wait from now on, until [`ProbeStore::release`].
    pub fn hold(&self) {
        self.held.send_replace(true);
    }

    pub fn release(&self) {
        self.held.send_replace(false);
    }

    /// Deletes asked of this store for `url` (successful or not).
    pub fn deletes_of(&self, url: &str) -> usize {
        self.deletes.lock().unwrap().get(url).copied().unwrap_or(0)
    }

    pub fn delete_calls(&self) -> HashMap<String, usize> {
        self.deletes.lock().unwrap().clone()
    }

    /// Deletes running right now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
    }

    pub fn most_in_flight(&self) -> usize {
        self.most_in_flight.load(Ordering::SeqCst)
    }

    pub async fn holds(&self, url: &str) -> bool {
        self.inner.size(url).await.is_ok()
    }

    pub fn object_count(&self) -> usize {
        self.inner.object_count()
    }
}

#[async_trait::async_trait]
impl Store for ProbeStore {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn owns(&self, url: &str) -> bool {
        self.inner.owns(url)
    }

    async fn put(&self, image_id: ImageId, data: ByteStream) -> Result<Stored, StoreError> {
        self.inner.put(image_id, data).await
    }

    async fn get(&self, url: &str, range: Option<ByteRange>) -> Result<ObjectData, StoreError> {
        self.inner.get(url, range).await
    }

    async fn delete(&self, url: &str) -> Result<(), StoreError> {
        *self
            .deletes
            .lock()
            .unwrap()
            .entry(url.to_owned())
            .or_default() += 1;
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let _leave = Leave(&self.in_flight);
        let mut held = self.held.subscribe();
        held.wait_for(|held| !held).await.expect("the store lives");
        let failing = self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(StoreError::Unavailable("the test store is down".into()));
        }
        self.inner.delete(url).await
    }

    async fn discard(&self, image_id: ImageId) -> Result<(), StoreError> {
        self.inner.discard(image_id).await
    }
}

struct Leave<'a>(&'a AtomicUsize);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An image service over `stores` (the first the default), with delayed
/// delete on, as one node of a deployment: each has its own process
/// identity within the leases (`instance`).
pub async fn service(url: &str, stores: &[Arc<ProbeStore>]) -> ImageService {
    let db = Database::connect(url).await.expect("connect");
    let mut registry = StoreRegistry::new(stores[0].clone());
    for store in &stores[1..] {
        registry.add(store.clone());
    }
    let registry = registry.multi_store();
    let config = ImageConfig {
        delayed_delete: true,
        node_name: "test-node".into(),
        ..ImageConfig::default()
    };
    ImageService::new(
        db,
        Arc::new(registry),
        Arc::new(Enforcer::with_glance_defaults()),
        config,
    )
}

pub fn admin(images: &ImageService) -> RequestContext {
    RequestContext::new(
        "req-test".into(),
        Some("admin-user".into()),
        Some("admin-project".into()),
        vec!["admin".into(), "member".into(), "reader".into()],
        images.policy(),
    )
}

/// An active image with its data in each of `stores`, created through the
/// database as an upload would leave it.
pub async fn active_image(images: &ImageService, stores: &[&Arc<ProbeStore>]) -> Image {
    let id = ImageId::new_random();
    let mut image = Image::queued(id, time::now());
    image.owner = Some("admin-project".into());
    image.status = ImageStatus::Active;
    image.disk_format = Some("raw".into());
    image.container_format = Some("bare".into());
    image.size = Some(4);
    for store in stores {
        let data: ByteStream = Box::pin(futures::stream::once(async {
            Ok(Bytes::from_static(b"data"))
        }));
        let stored = store.put(id, data).await.expect("put");
        image.locations.push(Location::new(stored.url, store.id()));
    }
    images
        .database()
        .create_image(&image)
        .await
        .expect("create");
    image
}

/// [`active_image`], then deleted through the use case: with delayed
/// delete on it waits in `pending_delete`.
pub async fn pending_image(images: &ImageService, stores: &[&Arc<ProbeStore>]) -> Image {
    let image = active_image(images, stores).await;
    images
        .delete(&admin(images), image.id)
        .await
        .expect("delete");
    let stored = images.database().get_image_any(image.id).await.unwrap();
    assert_eq!(stored.unwrap().status, ImageStatus::PendingDelete);
    image
}

/// The image as stored, deleted or not.
pub async fn stored(images: &ImageService, id: ImageId) -> Image {
    let found = images.database().get_image_any(id).await.unwrap();
    found.expect("an image row")
}
