//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use glint_core::{HealthConfig, HealthService, ImageService, MetadefService};

use crate::auth::KeystoneAuth;
use crate::metrics::Metrics;

/// How callers are identified.
#[derive(Debug, Clone, PartialEq)]
pub enum AuthMode {
    /// Development mode: identity comes from `X-User-Id`, `X-Project-Id`
    /// and `X-Roles` headers, defaulting to an admin of project `admin`.
    NoAuth,
    /// Keystone tokens (`X-Auth-Token`), validated against Keystone v3;
    /// client-sent identity headers are ignored.
    Keystone(KeystoneAuth),
}

/// Options of the HTTP layer. Its `Default` is the configuration of a
/// server given no options: the binary documents and applies these values.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    pub auth: AuthMode,
    /// Base URL put in `Location` headers and the versions document
    /// (`public_endpoint`); the request's own host when unset.
    pub public_endpoint: Option<String>,
    /// Longest accepted `X-Openstack-Request-ID` (`max_request_id_length`).
    pub max_request_id_length: usize,
    /// Import methods announced in `OpenStack-image-import-methods`.
    pub import_methods: Vec<String>,
    /// `[glint] allow_noauth_on_public_address`: the no-auth server may be
    /// reached under names it cannot know, so it does not check `Host`.
    pub allow_noauth_on_public_address: bool,
    /// How long clients may take and how many may be connected at once.
    pub connections: ConnectionLimits,
    /// `show_image_direct_url`: images show their best location.
    pub show_image_direct_url: bool,
    /// `show_multiple_locations`: images show their locations, and PATCH
    /// may change them.
    pub show_multiple_locations: bool,
    /// A `+cachemanagement` flavor: the legacy cache management paths
    /// (`/v2/cached_images`, `/v2/queued_images`) are served.
    pub cache_management: bool,
    /// The checks of `/healthcheck` (`[healthcheck] backends`…).
    pub health: HealthConfig,
    /// `[healthcheck] detailed`: `/healthcheck` shows each check's details,
    /// the time and the platform.
    pub health_detailed: bool,
}

/// Bounds on client connections, so that slow, stalled or numerous
/// clients cannot hold the server's sockets, tasks and images forever. The
/// defaults are far beyond what a working client needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Time a client has to send a request's head (request line and
    /// headers): from the opening of the connection, or from the first
    /// byte of a following request on a kept-alive one.
    pub header_read_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request.
    pub keep_alive_timeout: Duration,
    /// Time a request body (an upload included) may go without a byte
    /// while the server waits for one; the request then fails, and an
    /// upload returns its image to `queued`.
    pub body_idle_timeout: Duration,
    /// Time a response may wait for the client to take any of its bytes:
    /// counted only while the socket's send buffer is full and the client
    /// acknowledges nothing, never while the server is producing the
    /// response. The connection is then reset, which stops a download's
    /// store read.
    pub send_timeout: Duration,
    /// Most connections open at once; further ones are closed as soon as
    /// they are accepted.
    pub max_connections: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(60),
            body_idle_timeout: Duration::from_secs(120),
            send_timeout: Duration::from_secs(60),
            max_connections: 4096,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            auth: AuthMode::NoAuth,
            public_endpoint: None,
            max_request_id_length: 64,
            import_methods: Vec::new(),
            allow_noauth_on_public_address: false,
            connections: ConnectionLimits::default(),
            show_image_direct_url: false,
            show_multiple_locations: false,
            cache_management: false,
            health: HealthConfig::default(),
            health_detailed: false,
        }
    }
}

/// What every request handler reads. Cloned for each request by every
/// layer and extractor that takes it, so it is one shared allocation: a
/// clone is one reference count, not one per service.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Shared>);

/// The services and settings behind an [`AppState`].
#[derive(Debug)]
pub struct Shared {
    pub images: ImageService,
    /// The metadata definitions catalogue, over the same database.
    pub metadefs: MetadefService,
    pub config: Arc<ApiConfig>,
    pub health: HealthService,
    /// What `/metrics` shows; more can be registered before serving.
    pub metrics: Metrics,
    /// Passes imports on to the node that staged their data.
    pub stage_proxy: crate::stage_proxy::StageProxy,
}

impl AppState {
    /// The state of a server: the health checks of `config` over the
    /// service's database and stores, and a metrics registry holding the
    /// HTTP metrics and the service's transfers in flight.
    pub fn new(images: ImageService, config: ApiConfig) -> Self {
        let health = HealthService::new(
            images.database().clone(),
            images.stores().clone(),
            config.health.clone(),
        );
        let metrics = Metrics::new();
        register_transfers(&metrics, &images);
        AppState(Arc::new(Shared {
            metadefs: MetadefService::new(&images),
            images,
            config: Arc::new(config),
            health,
            metrics,
            stage_proxy: crate::stage_proxy::StageProxy::new(),
        }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

fn register_transfers(metrics: &Metrics, images: &ImageService) {
    let transfers = images.transfers();
    let gauges = [
        (
            "glint_uploads_in_flight",
            "Image uploads in progress (from the move to saving to their end).",
            &transfers.uploads_in_flight,
        ),
        (
            "glint_downloads_in_flight",
            "Image downloads whose data is still being sent.",
            &transfers.downloads_in_flight,
        ),
    ];
    for (name, help, value) in gauges {
        // Fresh registry, fixed valid names: cannot fail.
        let _ = metrics.register_gauge(name, help, Arc::clone(value));
    }
}
