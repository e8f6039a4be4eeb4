//! Test support: a glint API server on a free loopback port with its own
//! database and file store, and a client that talks real HTTP to it.
//!
//! ```ignore
//! let app = TestApp::new().await;
//! let image = app.create_image(json!({"name": "x"})).await;
//! let resp = app.as_user("p1", "member,reader").get("/v2/images").send().await?;
//! ```
#![allow(
    dead_code,
    unused_imports,
    reason = "every test file uses a different part of this module"
)]

mod data;
mod databases;
pub mod keystone;
pub mod logs;
pub mod raw;

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use glint_api::{ApiConfig, AppState};
use glint_core::{
    CacheConfig, CacheService, ImageConfig, ImageService, PropertyProtections, ProtectionSection,
    RuleFormat, UnifiedLimits,
};
use glint_db::{ConnectOptions, Database};
use glint_policy::Enforcer;
use glint_store::{FileStore, StoreRegistry};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderValue};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::Value;
use tokio::sync::oneshot;

pub use data::{md5_hex, noise, qcow2_with_backing_file, qemu_img, sha512_hex};
pub use databases::Backend;
use databases::ServerDatabase;

/// The JSON-patch media type of API v2.1.
pub const PATCH_V21: &str = "application/openstack-images-v2.1-json-patch";
/// The deprecated draft-4 JSON-patch media type of API v2.0.
pub const PATCH_V20: &str = "application/openstack-images-v2.0-json-patch";

/// A running server; stopped (and its database dropped) on drop.
pub struct TestApp {
    addr: SocketAddr,
    client: reqwest::Client,
    db: Database,
    /// The URL `db` was opened with, for a second server on the same data.
    db_url: String,
    images: ImageService,
    backend: Backend,
    dir: tempfile::TempDir,
    store_dir: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    server_db: Option<ServerDatabase>,
    /// The notification publisher, when notifications are on.
    publisher: Option<glint_notify::Publisher>,
    /// The image cache's directory, when the cache is on.
    cache_dir: Option<PathBuf>,
    /// Runs the prefetcher as `glint serve` does; stopped on drop.
    prefetcher: Option<tokio::task::JoinHandle<()>>,
    metrics: glint_api::metrics::Metrics,
    /// The background workers `glint serve` runs (the import worker).
    _workers: glint_workers::Runner,
}

/// The database and file store of a running app, for a second server on
/// the same host and data.
struct SharedData {
    db_url: String,
    store_dir: PathBuf,
}

/// Configures a [`TestApp`] before it starts.
pub struct TestAppBuilder {
    image: ImageConfig,
    api: ApiConfig,
    backend: Backend,
    policy_overrides: Option<String>,
    protections: Option<(RuleFormat, Vec<ProtectionSection>)>,
    db_options: ConnectOptions,
    shared: Option<SharedData>,
    old_images: Vec<glint_model::Image>,
    stores: Option<StoresFn>,
    wrap_store: Option<StoreWrapper>,
    notifications: Option<glint_notify::NotifierConfig>,
    cache: Option<CacheConfig>,
    prefetcher: bool,
    limits: Option<Arc<UnifiedLimits>>,
    stage_host: Option<String>,
    stage_host_self: bool,
    import_methods: Vec<String>,
    import_filter: glint_store::ImportFilter,
    import_plugins: glint_core::PluginSettings,
    download_properties: Vec<String>,
    max_parallel_stores: usize,
}

/// Builds the stores of a test server from its temporary directory.
pub type StoresFn = Box<dyn FnOnce(&std::path::Path) -> StoreRegistry + Send>;

/// Puts a store of the test's own around the file store.
pub type StoreWrapper = Box<dyn FnOnce(Arc<dyn glint_store::Store>) -> Arc<dyn glint_store::Store>>;

/// One section of a property protections file: the expression and the
/// create, read, update and delete values, in that order.
pub type Protection<'a> = (&'a str, [&'a str; 4]);

impl TestAppBuilder {
    /// Serves the stores `make` builds (in the server's temporary
    /// directory) instead of one file store.
    pub fn stores(
        mut self,
        make: impl FnOnce(&std::path::Path) -> StoreRegistry + Send + 'static,
    ) -> Self {
        self.stores = Some(Box::new(make));
        self
    }

    /// Changes any [`ImageConfig`] option (quotas, size cap, limits…).
    pub fn image_config(mut self, change: impl FnOnce(&mut ImageConfig)) -> Self {
        change(&mut self.image);
        self
    }

    pub fn image_size_cap(self, bytes: u64) -> Self {
        self.image_config(|c| c.image_size_cap = bytes)
    }

    pub fn api_config(mut self, change: impl FnOnce(&mut ApiConfig)) -> Self {
        change(&mut self.api);
        self
    }

    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// How the server's database connections are set up (statement
    /// timeout…).
    pub fn database_options(mut self, change: impl FnOnce(&mut ConnectOptions)) -> Self {
        change(&mut self.db_options);
        self
    }

    /// Starts on a database that a glint of schema version 1 left holding
    /// `images` (rows without the children copy), which the server then
    /// migrates.
    pub fn images_of_schema_version_1(mut self, images: Vec<glint_model::Image>) -> Self {
        self.old_images = images;
        self
    }

    /// Serves the database and file store of `other`, as a second glint
    /// process on the same host would (`other` must outlive this app).
    pub fn sharing_data_with(mut self, other: &TestApp) -> Self {
        self.shared = Some(SharedData {
            db_url: other.db_url.clone(),
            store_dir: other.store_dir.clone(),
        });
        self.backend = other.backend.clone();
        self
    }

    /// Serves image data through `wrap(file store)` (a store that fails on
    /// demand…).
    pub fn wrap_store(mut self, wrap: StoreWrapper) -> Self {
        self.wrap_store = Some(wrap);
        self
    }

    /// Sends notifications as `config` says (drivers, RabbitMQ, topics…).
    pub fn notifications(mut self, config: glint_notify::NotifierConfig) -> Self {
        self.notifications = Some(config);
        self
    }

    /// Turns the image cache on (in the app's temporary directory), serving
    /// downloads, with Glance's default sizes and times, then `change`.
    /// The prefetcher runs, as in `glint serve`, unless
    /// [`TestAppBuilder::without_prefetcher`] is used.
    pub fn image_cache(mut self, change: impl FnOnce(&mut CacheConfig)) -> Self {
        let mut config = CacheConfig {
            max_size: CacheConfig::DEFAULT_MAX_SIZE,
            stall_time: CacheConfig::DEFAULT_STALL_TIME,
            node_reference: format!("http://node-{}:9292", uuid_like()),
            serve_downloads: true,
        };
        change(&mut config);
        self.cache = Some(config);
        self.prefetcher = true;
        self
    }

    /// Enforces per-project limits read from `source` (as with
    /// `use_keystone_limits`), each kept for `cache_time`.
    pub fn unified_limits(
        mut self,
        source: Arc<dyn glint_core::LimitsSource>,
        cache_time: Duration,
    ) -> Self {
        self.limits = Some(Arc::new(UnifiedLimits::new(source, cache_time)));
        self
    }

    /// Leaves queued images in the queue: no prefetcher runs.
    /// Names this node `url` to the others (`worker_self_reference_url`),
    /// as recorded on staged images.
    pub fn stage_host(mut self, url: &str) -> Self {
        self.stage_host = Some(url.to_owned());
        self
    }

    /// Names this server by its own URL as the node that staged data
    /// (`worker_self_reference_url`), as each node of a cluster does.
    pub fn stage_host_self(mut self) -> Self {
        self.stage_host_self = true;
        self
    }

    /// The import methods served (`enabled_import_methods`).
    pub fn import_methods(mut self, methods: &[&str]) -> Self {
        self.import_methods = methods.iter().map(|m| (*m).to_owned()).collect();
        self
    }

    /// `[image_import_opts]` and the plugins' options.
    pub fn import_plugins(mut self, plugins: glint_core::PluginSettings) -> Self {
        self.import_plugins = plugins;
        self
    }

    /// `[glance_download_properties] extra_properties`.
    pub fn download_properties(mut self, prefixes: &[&str]) -> Self {
        self.download_properties = prefixes.iter().map(|p| (*p).to_owned()).collect();
        self
    }

    /// `[image_import_opts] max_parallel_stores`.
    pub fn max_parallel_stores(mut self, n: usize) -> Self {
        self.max_parallel_stores = n;
        self
    }

    /// `[import_filtering_opts]` of web-download.
    pub fn import_filter(mut self, filter: glint_store::ImportFilter) -> Self {
        self.import_filter = filter;
        self
    }

    pub fn without_prefetcher(mut self) -> Self {
        self.prefetcher = false;
        self
    }

    /// Policy rules (policy.yaml text) applied over Glance's defaults.
    pub fn policy_overrides(mut self, yaml: &str) -> Self {
        self.policy_overrides = Some(yaml.to_owned());
        self
    }

    /// Turns property protections on with these sections, in order.
    pub fn property_protections(mut self, format: RuleFormat, sections: &[Protection<'_>]) -> Self {
        let sections = sections
            .iter()
            .map(|(name, values)| ProtectionSection {
                name: (*name).to_owned(),
                options: ["create", "read", "update", "delete"]
                    .into_iter()
                    .zip(values)
                    .map(|(op, value)| (op.to_owned(), (*value).to_owned()))
                    .collect(),
            })
            .collect();
        self.protections = Some((format, sections));
        self
    }

    pub async fn start(mut self) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, server_db) = match (&self.shared, &self.backend) {
            (Some(shared), _) => (shared.db_url.clone(), None),
            (None, Backend::Sqlite) => (
                format!("sqlite://{}/glint.sqlite?mode=rwc", dir.path().display()),
                None,
            ),
            (None, server) => {
                let created = ServerDatabase::create(server).await;
                (created.url.clone(), Some(created))
            }
        };
        if !self.old_images.is_empty() {
            let old = glint_db::testing::connect_at_version(&url, 1)
                .await
                .expect("open at version 1");
            for image in &self.old_images {
                glint_db::testing::create_image_v1(&old, image)
                    .await
                    .expect("store as version 1 did");
            }
            old.close().await;
        }
        let db = Database::connect_with(&url, &self.db_options)
            .await
            .expect("open the database");
        let store_dir = match &self.shared {
            Some(shared) => shared.store_dir.clone(),
            None => dir.path().join("images"),
        };
        let stores = match self.stores.take() {
            Some(make) => Arc::new(make(dir.path())),
            None => {
                let file_store = FileStore::new("file", store_dir.clone()).expect("file store");
                let mut store: Arc<dyn glint_store::Store> = Arc::new(file_store);
                if let Some(wrap) = self.wrap_store.take() {
                    store = wrap(store);
                }
                Arc::new(StoreRegistry::new(store))
            }
        };
        let mut policy = Enforcer::with_glance_defaults();
        if let Some(yaml) = &self.policy_overrides {
            policy
                .load_overrides(yaml, "policy.yaml")
                .expect("valid policy overrides");
        }
        if let Some((format, sections)) = &self.protections {
            let protections =
                PropertyProtections::new(*format, sections, &policy).expect("valid protections");
            self.image.property_protections = Some(Arc::new(protections));
        }
        let (notifier, publisher) =
            glint_notify::Notifier::start(self.notifications.take().unwrap_or_default());
        let mut images = ImageService::new(db.clone(), stores, Arc::new(policy), self.image)
            .with_notifier(notifier);
        if let Some(limits) = self.limits.take() {
            images = images.with_unified_limits(limits);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a free port");
        let addr = listener.local_addr().expect("local address");
        if self.stage_host_self {
            self.stage_host = Some(format!("http://{addr}"));
        }
        // As `glint serve` does: a staging area in the data directory.
        let staging_store =
            FileStore::new("os_glance_staging_store", dir.path().join("staging")).expect("staging");
        images = images
            .with_staging(glint_core::Staging {
                store: Arc::new(staging_store),
                self_url: self.stage_host.take(),
            })
            .with_imports(glint_core::ImportSettings {
                methods: self.import_methods.clone(),
                fetcher: glint_store::WebFetcher::new(self.import_filter.clone()),
                plugins: self.import_plugins.clone(),
                download_properties: self.download_properties.clone(),
                max_parallel_stores: self.max_parallel_stores,
            });
        if self.api.import_methods.is_empty() {
            self.api.import_methods = images.import_methods();
        }
        let cache_dir = self.cache.as_ref().map(|_| dir.path().join("cache"));
        if let (Some(config), Some(cache_dir)) = (self.cache.take(), &cache_dir) {
            let files =
                glint_store::ImageCache::open(cache_dir, glint_store::WriteStrategy::Buffered)
                    .expect("cache directory");
            let cache = CacheService::open(db.clone(), files, config)
                .await
                .expect("open the image cache");
            images = images.with_cache(cache);
        }
        let prefetcher = (self.prefetcher && cache_dir.is_some()).then(|| {
            let images = images.clone();
            tokio::spawn(async move { run_prefetcher(images).await })
        });
        // As `glint serve` does: imports run by the import worker.
        let mut workers = glint_workers::Runner::new();
        workers.spawn(
            glint_workers::ImportWorker::new(images.clone()),
            Duration::from_secs(1),
        );
        // As `glint serve` does before it listens.
        images
            .reconcile_interrupted_uploads()
            .await
            .expect("start-up reconciliation");
        let state = AppState::new(images.clone(), self.api);
        let metrics = state.metrics.clone();
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(glint_api::serve(listener, state, async {
            let _ = rx.await;
        }));
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let client = reqwest::Client::builder()
            .default_headers(headers)
            .build()
            .expect("http client");
        TestApp {
            addr,
            client,
            db,
            db_url: url,
            images,
            backend: self.backend,
            dir,
            store_dir,
            shutdown: Some(tx),
            server_db,
            publisher: Some(publisher),
            cache_dir,
            prefetcher,
            metrics,
            _workers: workers,
        }
    }
}

/// Prefetches whenever an image is queued, and every 200 ms, as the loop
/// of `glint serve` does.
async fn run_prefetcher(images: ImageService) {
    let Some(cache) = images.cache().cloned() else {
        return;
    };
    loop {
        if let Err(e) = images.prefetch_pending().await {
            eprintln!("prefetch failed: {e}");
        }
        tokio::select! {
            () = cache.prefetch_requested() => {}
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
}

/// Eight hex digits, unique enough to name a test's node.
pub fn uuid_like() -> String {
    glint_model::ImageId::new_random().to_string()[..8].to_owned()
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server_db) = self.server_db.take() {
            server_db.drop_now();
        }
        if let Some(prefetcher) = self.prefetcher.take() {
            prefetcher.abort();
        }
    }
}

impl TestApp {
    /// Tells the server to stop: it stops accepting connections and lets
    /// the requests in flight finish.
    pub fn begin_shutdown(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }

    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            image: ImageConfig::default(),
            api: ApiConfig::default(),
            backend: Backend::Sqlite,
            policy_overrides: None,
            protections: None,
            stores: None,
            db_options: ConnectOptions::default(),
            shared: None,
            old_images: Vec::new(),
            wrap_store: None,
            notifications: None,
            cache: None,
            prefetcher: false,
            limits: None,
            stage_host: None,
            stage_host_self: false,
            // Glance's default `enabled_import_methods`.
            import_methods: ["glance-direct", "web-download", "copy-image"]
                .map(str::to_owned)
                .to_vec(),
            import_filter: glint_store::ImportFilter::default(),
            import_plugins: glint_core::PluginSettings::default(),
            download_properties: ["hw_", "trait:", "os_distro", "os_secure_boot", "os_type"]
                .map(str::to_owned)
                .to_vec(),
            max_parallel_stores: 1,
        }
    }

    /// A server with Glance's default configuration on SQLite.
    pub async fn new() -> TestApp {
        TestApp::builder().start().await
    }

    /// Stops the notification publisher, which first sends what is queued
    /// (within its drain time).
    pub async fn stop_notifications(&mut self) {
        if let Some(publisher) = self.publisher.take() {
            publisher.shutdown().await;
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The database behind the server, for setting up what the API cannot.
    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The URL of the server's database, for a connection of the test's own.
    pub fn database_url(&self) -> &str {
        &self.db_url
    }

    /// `sqlite`, `postgres` or `mysql`.
    pub fn backend_label(&self) -> String {
        format!("{:?}", self.backend)
    }

    /// The use cases behind the server, for what a running glint does
    /// besides answering requests (reconciliation).
    pub fn service(&self) -> &ImageService {
        &self.images
    }

    /// The image cache's directory; panics when the cache is off.
    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir.clone().expect("the image cache is on")
    }

    /// The names of the files directly in the cache directory (complete
    /// entries), sorted.
    pub fn cached_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.cache_dir())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// The server's metrics registry.
    pub fn metrics(&self) -> &glint_api::metrics::Metrics {
        &self.metrics
    }

    /// The file store's directory.
    pub fn store_dir(&self) -> PathBuf {
        self.store_dir.clone()
    }

    /// The names of the files in the staging area, sorted.
    pub fn staged_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.dir.path().join("staging"))
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The temporary directory of this app (for scratch files).
    pub fn scratch_dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Every entry of the store directory, hidden partial files included.
    pub fn store_files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.store_dir())
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// How many open files and mappings of this process lie in the store
    /// directory: a download in progress holds its image file open, so
    /// this falls to zero once every download has stopped reading.
    pub fn store_files_in_use(&self) -> usize {
        let dir = self.store_dir();
        let fds = std::fs::read_dir("/proc/self/fd")
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| std::fs::read_link(e.path()).ok())
                    .filter(|target| target.starts_with(&dir))
                    .count()
            })
            .unwrap_or(0);
        let dir = dir.to_string_lossy().into_owned();
        let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
        fds + maps.lines().filter(|l| l.contains(dir.as_str())).count()
    }

    /// Polls until [`TestApp::store_files_in_use`] satisfies `check`;
    /// panics after `timeout`.
    pub async fn wait_for_store_files_in_use(
        &self,
        timeout: Duration,
        check: impl Fn(usize) -> bool,
    ) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let in_use = self.store_files_in_use();
            if check(in_use) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{in_use} store files still in use"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The caller every request defaults to: admin of project `admin`.
    pub fn admin(&self) -> Caller<'_> {
        Caller {
            app: self,
            identity: None,
        }
    }

    /// A caller of `project` with `roles` (comma separated).
    pub fn as_user(&self, project: &str, roles: &str) -> Caller<'_> {
        Caller {
            app: self,
            identity: Some((format!("user-{project}"), project.into(), roles.into())),
        }
    }

    /// A `member,reader` of `project`: the usual non-admin user.
    pub fn member_of(&self, project: &str) -> Caller<'_> {
        self.as_user(project, "member,reader")
    }

    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> RequestBuilder {
        self.request(Method::PUT, path)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    /// Creates an image as admin; panics unless 201.
    pub async fn create_image(&self, body: Value) -> Value {
        self.admin().create_image(body).await
    }

    /// Creates a raw/bare image named `name` as admin.
    pub async fn create_raw_image(&self, name: &str) -> String {
        let image = self
            .create_image(serde_json::json!({
                "name": name, "disk_format": "raw", "container_format": "bare"
            }))
            .await;
        id_of(&image)
    }

    /// Uploads `data` as admin.
    pub async fn upload(&self, id: &str, data: impl Into<reqwest::Body>) -> Response {
        self.admin().upload(id, data).await
    }

    /// Uploads as admin; panics unless 204.
    pub async fn upload_ok(&self, id: &str, data: impl Into<reqwest::Body>) {
        expect_status(self.upload(id, data).await, StatusCode::NO_CONTENT).await;
    }

    /// Shows an image as admin; panics unless 200.
    pub async fn image(&self, id: &str) -> Value {
        self.admin().image(id).await
    }

    /// Polls the image (as admin) until `check` holds; panics after `timeout`.
    pub async fn wait_for_image(
        &self,
        id: &str,
        timeout: Duration,
        check: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let image = self.image(id).await;
            if check(&image) {
                return image;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "image {id} never reached the expected state; last seen: {image:#}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Polls until the store directory holds exactly `expected` entries.
    pub async fn wait_for_store_files(&self, expected: &[&str], timeout: Duration) {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let files = self.store_files();
            if files == expected {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "store directory holds {files:?}, expected {expected:?}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Requests made with one identity.
#[derive(Clone)]
pub struct Caller<'a> {
    app: &'a TestApp,
    /// (user, project, roles); `None` sends no identity headers.
    identity: Option<(String, String, String)>,
}

impl Caller<'_> {
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let builder = self.app.request(method, path);
        match &self.identity {
            None => builder,
            Some((user, project, roles)) => builder
                .header("X-User-Id", user)
                .header("X-Project-Id", project)
                .header("X-Roles", roles),
        }
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.request(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.request(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> RequestBuilder {
        self.request(Method::PUT, path)
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.request(Method::DELETE, path)
    }

    /// `POST /v2/images` with a JSON body.
    pub async fn create(&self, body: Value) -> Response {
        self.post("/v2/images").json(&body).send().await.unwrap()
    }

    /// Creates an image; panics unless 201.
    pub async fn create_image(&self, body: Value) -> Value {
        expect_json(self.create(body).await, StatusCode::CREATED).await
    }

    /// `GET /v2/images/{id}`; panics unless 200.
    pub async fn image(&self, id: &str) -> Value {
        let resp = self.get(&format!("/v2/images/{id}")).send().await.unwrap();
        expect_json(resp, StatusCode::OK).await
    }

    /// `PUT /v2/images/{id}/file` as `application/octet-stream`.
    pub async fn upload(&self, id: &str, data: impl Into<reqwest::Body>) -> Response {
        self.put(&format!("/v2/images/{id}/file"))
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(data)
            .send()
            .await
            .unwrap()
    }

    /// `PATCH /v2/images/{id}` with the v2.1 JSON-patch media type.
    pub async fn patch(&self, id: &str, ops: Value) -> Response {
        self.patch_as(id, PATCH_V21, ops).await
    }

    pub async fn patch_as(&self, id: &str, content_type: &str, ops: Value) -> Response {
        self.request(Method::PATCH, &format!("/v2/images/{id}"))
            .header(CONTENT_TYPE, content_type)
            .body(ops.to_string())
            .send()
            .await
            .unwrap()
    }

    /// `GET /v2/images?<query>`; panics unless 200.
    pub async fn list(&self, query: &str) -> Value {
        let path = if query.is_empty() {
            "/v2/images".to_string()
        } else {
            format!("/v2/images?{query}")
        };
        expect_json(self.get(&path).send().await.unwrap(), StatusCode::OK).await
    }

    /// Names of the images of one list page, in order.
    pub async fn list_names(&self, query: &str) -> Vec<String> {
        names(&self.list(query).await)
    }
}

/// The `id` of an image view.
pub fn id_of(image: &Value) -> String {
    image["id"].as_str().expect("image id").to_string()
}

/// The `name` of every image of a list page.
pub fn names(page: &Value) -> Vec<String> {
    page["images"]
        .as_array()
        .expect("images array")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or("<null>").to_string())
        .collect()
}

/// Sorted copy, for comparing sets of names.
pub fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Panics with the body unless the response has `status`; returns the body.
pub async fn expect_status(resp: Response, status: StatusCode) -> String {
    let got = resp.status();
    let body = resp.text().await.unwrap_or_default();
    assert_eq!(got, status, "unexpected status; body: {body}");
    body
}

/// Panics unless the response has `status`; returns its JSON body.
pub async fn expect_json(resp: Response, status: StatusCode) -> Value {
    let body = expect_status(resp, status).await;
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Checks an error response (requested with `Accept: application/json`)
/// and returns its message as a client shows it: the parts of webob's
/// body template (explanation, detail) joined by a space.
pub async fn expect_error(resp: Response, status: StatusCode) -> String {
    let body = expect_json(resp, status).await;
    assert_eq!(
        body["code"],
        format!("{} {}", status.as_u16(), reason(status))
    );
    assert_eq!(body["title"], reason(status));
    let message = body["message"].as_str().expect("message string");
    message
        .split("<br /><br />")
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The first sentence of webob's 415 body, which names the request's type;
/// Glance's own text follows it as the detail.
pub fn unsupported_media_type(content_type: &str) -> String {
    format!("The request media type {content_type} is not supported by this server.")
}

/// webob's title of an error status, where it differs from the
/// reason phrase of RFC 9110.
fn reason(status: StatusCode) -> &'static str {
    match status.as_u16() {
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        416 => "Request Range Not Satisfiable",
        _ => status.canonical_reason().unwrap_or(""),
    }
}

/// Runs `test` once per configured database backend (SQLite always;
/// PostgreSQL and MariaDB when their URLs are set).
pub async fn on_every_backend<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        test(TestApp::builder().backend(backend).start().await).await;
    }
}
