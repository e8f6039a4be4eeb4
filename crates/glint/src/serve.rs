//! `glint serve`: wires the configuration into the layers and runs the
//! server, with its background workers, until SIGTERM or SIGINT.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use glint_api::auth::{
    KeystoneAuth, KeystoneConfig, KeystoneLimits, KeystoneValidator, NameOrId, ServiceCredentials,
};
use glint_api::{ApiConfig, AppState, AuthMode};
use glint_core::{CacheService, ImageConfig, ImageService, PropertyProtections, UnifiedLimits};
use glint_db::Database;
use glint_workers::{
    CachePrefetcher, CacheUpkeep, ImportStats, ImportWorker, Runner, ScrubberConfig, ScrubberStats,
    ScrubberWorker, StatisticsKeeper, TaskPurger, UploadReconciler,
};

use crate::config::{self, CacheFlavor, GlanceConfig};

pub fn run(config_files: &[PathBuf]) -> anyhow::Result<()> {
    let (conf, warnings) = GlanceConfig::load(config_files).context("invalid configuration")?;
    crate::logging::init(conf.glint.log_format);
    for w in &warnings {
        tracing::warn!("{w}");
    }
    check_open_file_limit(conf.glint.connections.max_connections);
    // Every scheduling tick also looks at the runtime's shared queue, where
    // new connections and the overflow of busy workers wait. Tokio's
    // default (every 61st tick) lets a worker fed by its own stream of I/O
    // wake-ups serve those first, and with thousands of busy connections
    // some waited seconds while others were served at once; checked every
    // tick, every connection waits about as long as the others.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .global_queue_interval(1)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(conf, config_files))
}

async fn serve(conf: GlanceConfig, config_files: &[PathBuf]) -> anyhow::Result<()> {
    let auth = auth_mode(&conf)?;
    std::fs::create_dir_all(&conf.glint.data_dir)
        .with_context(|| format!("cannot create data dir {}", conf.glint.data_dir.display()))?;
    let db = open_database(&conf).await?;
    sketch_statistics(&db).await;
    let stores = Arc::new(crate::stores::build(&conf)?);
    let policy = Arc::new(crate::policy::load(&conf)?);
    let remote_policy = crate::remote_policy::HttpRemoteCheck::new(
        conf.oslo_policy.remote_content_type,
        conf.oslo_policy.remote_timeout,
    )
    .context("cannot set up remote policy checks")?;
    let mut image_conf = image_config(&conf);
    image_conf.node_name = node_name();
    image_conf.property_protections = property_protections(&conf, config_files, &policy)?;
    let (notifier, publisher) = start_notifications(&conf);
    let node = image_conf.node_name.clone();
    let mut images = ImageService::new(db.clone(), stores, policy, image_conf)
        .with_remote_policy(Arc::new(remote_policy))
        .with_notifier(notifier);
    if let Some(limits) = unified_limits(&conf)? {
        images = images.with_unified_limits(limits);
    }
    images = images
        .with_staging(staging(&conf)?)
        .with_imports(import_settings(&conf));
    let reset = images
        .reconcile_interrupted_uploads()
        .await
        .context("start-up reconciliation failed")?;
    if reset > 0 {
        tracing::warn!(count = reset, "interrupted uploads returned to queued");
    }
    let addr = format!("{}:{}", conf.default.bind_host, conf.default.bind_port);
    let listener = glint_api::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let port = listener.local_addr()?.port();
    let cache = crate::cache::open(&conf, &db, &node, port).await?;
    if let Some(cache) = &cache {
        images = images.with_cache(Arc::clone(cache));
    }
    let (workers, scrubber, imports) = start_workers(&conf, &images, cache);
    let mut api = api_config(&conf, auth);
    api.import_methods = images.import_methods();
    let state = AppState::new(images, api);
    crate::metrics::register_process(&state.metrics);
    crate::metrics::register_notifications(&state.metrics, publisher.stats());
    crate::metrics::register_imports(&state.metrics, imports);
    if let Some(stats) = &scrubber {
        crate::metrics::register_scrubber(&state.metrics, stats);
    }
    if let Some(cache) = state.images.cache() {
        crate::metrics::register_cache(&state.metrics, cache.stats());
    }
    let metrics_server = match conf.glint.metrics_bind {
        Some(at) => Some(crate::metrics::listen(at, state.metrics.clone()).await?),
        None => None,
    };
    tracing::info!(address = %listener.local_addr()?, "glint API listening");
    let served = glint_api::serve(listener, state, shutdown_signal()).await;
    workers.shutdown(WORKER_SHUTDOWN_GRACE).await;
    if let Some(stats) = &scrubber {
        tracing::info!(
            scrubbed = stats.scrubbed(),
            failed = stats.failed(),
            "scrubber stopped"
        );
    }
    if let Some(server) = metrics_server {
        server.stop().await;
    }
    publisher.shutdown().await;
    served.context("server failed")?;
    tracing::info!("glint stopped");
    Ok(())
}

/// Starts the notification publisher the configuration asks for; it
/// connects to RabbitMQ in the background, so glint serves while RabbitMQ
/// is away.
fn start_notifications(conf: &GlanceConfig) -> (glint_notify::Notifier, glint_notify::Publisher) {
    let n = &conf.notifications;
    if n.drivers.is_empty() {
        tracing::info!("notifications off ([oslo_messaging_notifications] driver is not set)");
    } else {
        tracing::info!(
            drivers = ?n.drivers,
            transport = %n.transport,
            exchange = %n.exchange,
            topics = ?n.topics,
            "sending notifications"
        );
    }
    glint_notify::Notifier::start(n.clone())
}

/// Descriptors kept free for the database, image files and Keystone.
const SPARE_FILES: u64 = 256;

/// Raises the open-file limit, and warns when it leaves too few
/// descriptors for `max_connections` clients.
fn check_open_file_limit(max_connections: usize) {
    match crate::raise_open_file_limit() {
        Ok(files) => {
            let needed = max_connections as u64 + SPARE_FILES;
            if files < needed {
                tracing::warn!(
                    open_files = files,
                    max_connections,
                    "the open-file limit is below max_connections plus {SPARE_FILES}; \
                     connections may fail before the connection limit is reached"
                );
            } else {
                tracing::debug!(open_files = files, "open-file limit");
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
}

/// Opens the catalogue database of `[database] connection`: migrated on
/// the spot if it is the embedded SQLite, required at this glint's schema
/// otherwise (see [`crate::db::open_for_serving`]).
async fn open_database(conf: &GlanceConfig) -> anyhow::Result<Database> {
    let db_url = conf
        .database_url()
        .context("invalid [database] connection")?;
    crate::db::open_for_serving(&db_url, &conf.glint.database).await
}

/// Gives a catalogue loaded while no glint ran a first sample of planner
/// statistics before the server answers, so that its first lists are not
/// planned blind (see `glint_db::Database::sketch_missing_statistics`).
/// A failure only leaves that to the statistics worker.
async fn sketch_statistics(db: &Database) {
    let started = std::time::Instant::now();
    match db.sketch_missing_statistics().await {
        Ok(tables) if tables.is_empty() => {}
        Ok(tables) => tracing::info!(
            ?tables,
            duration_ms = started.elapsed().as_millis() as u64,
            "planner statistics sketched before serving"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot gather planner statistics before serving"),
    }
}

/// How long background work in flight may take to end once the server
/// has stopped; what is still running then is left to its leases.
const WORKER_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Starts the server's background work: the reset of uploads of nodes
/// that died, once per upload lease time; with an image cache, its
/// prefetcher (woken by every image queued, and every minute for retries)
/// and its cleaning and pruning (at once, then every ten minutes); and
/// the scrubber when `[glint] scrubber_in_serve` (by default
/// `delayed_delete`) asks for it.
fn start_workers(
    conf: &GlanceConfig,
    images: &ImageService,
    cache: Option<Arc<CacheService>>,
) -> (Runner, Option<Arc<ScrubberStats>>, Arc<ImportStats>) {
    let mut workers = Runner::new();
    let reconciler = UploadReconciler::new(images.clone());
    workers.spawn(reconciler, conf.glint.upload_lease_time);
    if let Some(cache) = cache {
        let prefetcher = CachePrefetcher::new(images.clone(), Arc::clone(&cache));
        workers.spawn(prefetcher, crate::cache::PREFETCH_RETRY);
        workers.spawn(CacheUpkeep::new(cache), crate::cache::UPKEEP_INTERVAL);
    }
    // Expired tasks are hidden at once; their rows go within the hour.
    workers.spawn(TaskPurger::new(images.clone()), Duration::from_secs(3600));
    // Planner statistics at start and after bulk changes, within a minute.
    workers.spawn(
        StatisticsKeeper::new(images.clone()),
        Duration::from_secs(60),
    );
    // Woken when an import is queued; the interval takes up the tasks
    // whose holder died, once their lease has expired.
    let importer = ImportWorker::new(images.clone());
    let imports = importer.stats();
    workers.spawn(importer, conf.glint.upload_lease_time / 2);
    for (set, option) in [
        (conf.scrubber.daemon, "daemon"),
        (conf.scrubber.restore.is_some(), "restore"),
    ] {
        if set {
            tracing::warn!(
                "option [DEFAULT] {option} is read by glint scrub; glint serve ignores it"
            );
        }
    }
    if !conf.glint.scrubber_in_serve {
        if conf.default.delayed_delete {
            tracing::info!(
                "delayed_delete is on and this server runs no scrubber \
                 ([glint] scrubber_in_serve = false): run `glint scrub` to remove deleted data"
            );
        }
        return (workers, None, imports);
    }
    let config = ScrubberConfig {
        scrub_time: conf.scrubber.scrub_time,
        pool_size: conf.scrubber.scrub_pool_size,
        ..ScrubberConfig::default()
    };
    let scrubber = ScrubberWorker::new(images.clone(), config);
    let stats = scrubber.stats();
    workers.spawn(scrubber, conf.scrubber.sweep_interval());
    (workers, Some(stats), imports)
}

/// The import methods of `enabled_import_methods` that glint implements;
/// the others are warned about.
fn import_settings(conf: &GlanceConfig) -> glint_core::ImportSettings {
    let enabled = &conf.default.enabled_import_methods;
    for method in enabled {
        if !glint_core::import::IMPLEMENTED_METHODS.contains(&method.as_str()) {
            tracing::warn!(method = %method, "import method not implemented by glint; not offered");
        }
    }
    let methods = glint_core::import::IMPLEMENTED_METHODS
        .iter()
        .filter(|m| enabled.iter().any(|e| e == *m))
        .map(|m| (*m).to_owned())
        .collect();
    glint_core::ImportSettings {
        methods,
        fetcher: glint_store::WebFetcher::new(conf.import_filtering.clone()),
        plugins: conf.import_plugins.clone(),
        download_properties: conf.download_properties.clone(),
        max_parallel_stores: conf.max_parallel_stores,
    }
}

/// The staging area of `PUT /v2/images/{id}/stage`: a file store in
/// [`GlanceConfig::staging_dir`].
fn staging(conf: &GlanceConfig) -> anyhow::Result<glint_core::Staging> {
    let dir = conf.staging_dir();
    let store = glint_store::FileStore::new("os_glance_staging_store", dir.clone())
        .with_context(|| format!("cannot open the staging area {}", dir.display()))?;
    let self_url = conf
        .default
        .image_cache
        .worker_self_reference_url
        .clone()
        .or_else(|| conf.default.public_endpoint.clone());
    Ok(glint_core::Staging {
        store: Arc::new(store),
        self_url,
    })
}

pub(crate) fn image_config(conf: &GlanceConfig) -> ImageConfig {
    let d = &conf.default;
    ImageConfig {
        formats: conf.image_format.formats.clone(),
        image_size_cap: d.image_size_cap,
        limit_param_default: d.limit_param_default,
        api_limit_max: d.api_limit_max,
        hashing_algorithm: d.hashing_algorithm,
        image_property_quota: d.image_property_quota,
        image_tag_quota: d.image_tag_quota,
        image_member_quota: d.image_member_quota,
        user_storage_quota: d.user_storage_quota,
        upload_lease_time: conf.glint.upload_lease_time,
        delayed_delete: d.delayed_delete,
        show_multiple_locations: d.show_multiple_locations,
        image_location_quota: d.image_location_quota,
        task_time_to_live: d.task_time_to_live,
        upload_rules: conf.image_format.upload_rules.clone(),
        // Not options: `serve` names the node after its host and compiles
        // the protections file.
        node_name: ImageConfig::default().node_name,
        property_protections: None,
    }
}

fn property_protections(
    conf: &GlanceConfig,
    config_files: &[PathBuf],
    policy: &glint_policy::Enforcer,
) -> anyhow::Result<Option<Arc<PropertyProtections>>> {
    let Some(protections) = config::load_property_protections(conf, config_files, policy)
        .context("invalid property protections")?
    else {
        return Ok(None);
    };
    for w in protections.warnings() {
        tracing::warn!("{w}");
    }
    tracing::info!(
        format = protections.format().as_str(),
        "property protections enabled"
    );
    Ok(Some(Arc::new(protections)))
}

fn api_config(conf: &GlanceConfig, auth: AuthMode) -> ApiConfig {
    ApiConfig {
        auth,
        public_endpoint: conf.default.public_endpoint.clone(),
        max_request_id_length: conf.default.max_request_id_length,
        import_methods: Vec::new(),
        allow_noauth_on_public_address: conf.glint.allow_noauth_on_public_address,
        connections: conf.glint.connections.clone(),
        show_image_direct_url: conf.default.show_image_direct_url,
        show_multiple_locations: conf.default.show_multiple_locations,
        cache_management: conf.paste_deploy.cache == CacheFlavor::Management,
        health: conf.healthcheck.health_config(),
        health_detailed: conf.healthcheck.detailed,
    }
}

/// The authentication of `[paste_deploy] flavor`, with the Keystone
/// validator built from `[keystone_authtoken]` (checked complete at load).
fn auth_mode(conf: &GlanceConfig) -> anyhow::Result<AuthMode> {
    if conf.paste_deploy.flavor == config::AuthMode::NoAuth {
        return Ok(AuthMode::NoAuth);
    }
    let ks = &conf.keystone_authtoken;
    if ks.www_authenticate_uri.is_none() {
        tracing::warn!(
            "[keystone_authtoken] www_authenticate_uri is not set; 401 answers point clients \
             at auth_url, which should then be the public identity endpoint"
        );
    }
    let validator = KeystoneValidator::new(keystone_config(conf)?)
        .map_err(|e| anyhow::anyhow!("invalid [keystone_authtoken] auth_url: {e}"))?;
    tracing::info!(
        auth_url = %ks.auth_url.as_ref().map(|u| u.as_str()).unwrap_or_default(),
        delay_auth_decision = ks.delay_auth_decision,
        allow_anonymous_access = conf.default.allow_anonymous_access,
        "Keystone token authentication on"
    );
    Ok(AuthMode::Keystone(KeystoneAuth {
        validator,
        delay_auth_decision: ks.delay_auth_decision,
        allow_anonymous_access: conf.default.allow_anonymous_access,
        www_authenticate_uri: ks.www_authenticate_uri(),
    }))
}

/// The reader of Keystone's unified limits, when `use_keystone_limits` is
/// on; it contacts Keystone only when a request needs a limit.
fn unified_limits(conf: &GlanceConfig) -> anyhow::Result<Option<Arc<UnifiedLimits>>> {
    let Some(config) = conf.keystone_limits.limits_config() else {
        return Ok(None);
    };
    tracing::info!(
        auth_url = %config.auth_url,
        endpoint = ?config.endpoint,
        cache_time_s = conf.keystone_limits.cache_time.as_secs(),
        "per-project quotas from Keystone unified limits on"
    );
    let reader = KeystoneLimits::new(config)
        .map_err(|e| anyhow::anyhow!("invalid [oslo_limit] auth_url: {e}"))?;
    let cache_time = conf.keystone_limits.cache_time;
    Ok(Some(Arc::new(UnifiedLimits::new(
        Arc::new(reader),
        cache_time,
    ))))
}

/// What the Keystone validator needs from `[keystone_authtoken]`.
fn keystone_config(conf: &GlanceConfig) -> anyhow::Result<KeystoneConfig> {
    let ks = &conf.keystone_authtoken;
    let pick = |name: &Option<String>, id: &Option<String>| match (id, name) {
        (Some(id), _) => Some(NameOrId::Id(id.clone())),
        (None, Some(name)) => Some(NameOrId::Name(name.clone())),
        (None, None) => None,
    };
    let missing = || anyhow::anyhow!("incomplete [keystone_authtoken] section");
    let credentials = ServiceCredentials {
        user: pick(&ks.username, &ks.user_id).ok_or_else(missing)?,
        user_domain: pick(&ks.user_domain_name, &ks.user_domain_id),
        password: ks.password.0.clone(),
        project: pick(&ks.project_name, &ks.project_id).ok_or_else(missing)?,
        project_domain: pick(&ks.project_domain_name, &ks.project_domain_id),
    };
    Ok(KeystoneConfig {
        auth_url: ks.auth_url.clone().ok_or_else(missing)?,
        credentials,
        include_service_catalog: ks.include_service_catalog,
        token_cache_time: ks.token_cache_time,
        token_cache_size: conf.glint.token_cache_size,
        http_timeout: ks.http_connect_timeout,
        http_max_retries: ks.http_request_max_retries,
    })
}

/// The host name, which identifies this node's leases.
pub(crate) fn node_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Resolves on SIGTERM or SIGINT.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing the work in flight");
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use glint_api::ConnectionLimits;
    use glint_db::ConnectOptions;
    use glint_format::UploadRules;
    use glint_model::properties::FormatRules;
    use glint_store::{HashAlgo, WriteStrategy};

    use super::*;
    use crate::config::IniFile;

    fn load(text: &str) -> GlanceConfig {
        let ini = IniFile::parse(text, Path::new("glance-api.conf")).unwrap();
        GlanceConfig::from_ini(ini).unwrap().0
    }

    #[test]
    fn an_empty_configuration_gives_every_layer_its_own_defaults() {
        let conf = load("");
        assert_eq!(image_config(&conf), ImageConfig::default());
        assert_eq!(api_config(&conf, AuthMode::NoAuth), ApiConfig::default());
        assert_eq!(conf.glint.connections, ConnectionLimits::default());
        assert_eq!(conf.glint.database, ConnectOptions::default());
        assert_eq!(conf.glint.write_strategy, WriteStrategy::default());
    }

    #[test]
    fn every_layer_option_reaches_the_layer_as_read() {
        let conf = load(
            "[DEFAULT]\nimage_size_cap = 5000\nlimit_param_default = 7\napi_limit_max = 70\n\
             hashing_algorithm = sha256\nimage_property_quota = 3\nimage_tag_quota = -1\n\
             image_member_quota = 0\nuser_storage_quota = 2KB\ndelayed_delete = true\n\
             public_endpoint = https://images.example.com\nmax_request_id_length = 10\n\
             [image_format]\ndisk_formats = raw\ncontainer_formats = bare,ova\n\
             require_image_format_match = false\nvmdk_allowed_types = streamOptimized\n\
             [glint]\nupload_lease_time = 60\nallow_noauth_on_public_address = true\n\
             client_header_timeout = 5\nkeepalive_timeout = 6\nclient_body_timeout = 7\n\
             max_connections = 8\nclient_send_timeout = 9\n",
        );
        let expected = ImageConfig {
            formats: FormatRules {
                disk_formats: vec!["raw".into()],
                container_formats: vec!["bare".into(), "ova".into()],
            },
            image_size_cap: 5000,
            limit_param_default: 7,
            api_limit_max: 70,
            hashing_algorithm: HashAlgo::Sha256,
            image_property_quota: Some(3),
            image_tag_quota: None,
            image_member_quota: Some(0),
            user_storage_quota: Some(2048),
            upload_lease_time: Duration::from_secs(60),
            delayed_delete: true,
            upload_rules: UploadRules {
                require_image_format_match: false,
                vmdk_allowed_types: vec!["streamOptimized".into()],
                ..UploadRules::default()
            },
            ..ImageConfig::default()
        };
        assert_eq!(image_config(&conf), expected);
        let expected = ApiConfig {
            public_endpoint: Some("https://images.example.com/".into()),
            max_request_id_length: 10,
            allow_noauth_on_public_address: true,
            connections: ConnectionLimits {
                header_read_timeout: Duration::from_secs(5),
                keep_alive_timeout: Duration::from_secs(6),
                body_idle_timeout: Duration::from_secs(7),
                send_timeout: Duration::from_secs(9),
                max_connections: 8,
            },
            ..ApiConfig::default()
        };
        assert_eq!(api_config(&conf, AuthMode::NoAuth), expected);
    }

    #[test]
    fn keystone_options_left_unset_take_the_api_layer_defaults() {
        let conf = load(
            "[paste_deploy]\nflavor = keystone\n[keystone_authtoken]\n\
             auth_url = http://127.0.0.1:5000\nauth_type = password\nusername = glance\n\
             password = secret\nproject_name = service\nuser_domain_name = Default\n\
             project_domain_name = Default\n",
        );
        let ks = keystone_config(&conf).unwrap();
        assert_eq!(
            ks.include_service_catalog,
            KeystoneConfig::DEFAULT_INCLUDE_SERVICE_CATALOG
        );
        assert_eq!(
            ks.token_cache_time,
            KeystoneConfig::DEFAULT_TOKEN_CACHE_TIME
        );
        assert_eq!(
            ks.token_cache_size,
            KeystoneConfig::DEFAULT_TOKEN_CACHE_SIZE
        );
        assert_eq!(ks.http_timeout, KeystoneConfig::DEFAULT_HTTP_TIMEOUT);
        assert_eq!(
            ks.http_max_retries,
            KeystoneConfig::DEFAULT_HTTP_MAX_RETRIES
        );
        let AuthMode::Keystone(auth) = auth_mode(&conf).unwrap() else {
            panic!("flavor keystone gave no Keystone authentication");
        };
        assert_eq!(
            auth.delay_auth_decision,
            KeystoneAuth::DEFAULT_DELAY_AUTH_DECISION
        );
        assert_eq!(
            auth.allow_anonymous_access,
            KeystoneAuth::DEFAULT_ALLOW_ANONYMOUS_ACCESS
        );
    }
}
