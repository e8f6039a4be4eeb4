//! Typed contents of each supported section and how they are read.

use std::path::PathBuf;

use glint_core::RuleFormat;
use glint_db::ConnectOptions;
use glint_format::UploadRules;
use glint_model::properties::FormatRules;
use glint_store::{HashAlgo, WriteStrategy};
use url::Url;

use super::ConfigError;
use super::connections;
use super::options::*;
use super::source::Source;
use super::stores::StoreType;
use super::values;

/// Options of the `[DEFAULT]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultConfig {
    /// Address to listen on. glint defaults to `127.0.0.1` rather than
    /// Glance's `0.0.0.0` because the default (no-auth) mode must not be
    /// reachable from other hosts.
    pub bind_host: String,
    /// Port to listen on; 0 lets the operating system choose.
    pub bind_port: u16,
    /// Largest image, in bytes, that may be uploaded (1 to 8 EiB).
    pub image_size_cap: u64,
    /// Page size of list requests that do not pass `limit`.
    pub limit_param_default: u64,
    /// Upper bound applied to a request's `limit`.
    pub api_limit_max: u64,
    /// Algorithm for the `os_hash_algo` / `os_hash_value` multihash.
    pub hashing_algorithm: HashAlgo,
    /// Most additional properties per image; `None` is unlimited.
    pub image_property_quota: Option<u64>,
    /// Most tags per image; `None` is unlimited.
    pub image_tag_quota: Option<u64>,
    /// Most locations an image may have; `None` is unlimited.
    pub image_location_quota: Option<u64>,
    /// How long a finished task is kept (`[task] task_time_to_live`, hours).
    pub task_time_to_live: std::time::Duration,
    /// Most members per image; `None` is unlimited.
    pub image_member_quota: Option<u64>,
    /// Most bytes of image data per project; `None` is unlimited.
    pub user_storage_quota: Option<u64>,
    /// Base URL advertised in the versions document instead of the request's
    /// own host: an http or https URL, as `Url` writes it.
    pub public_endpoint: Option<String>,
    /// Longest `X-Openstack-Request-ID` accepted from a client.
    pub max_request_id_length: usize,
    /// Whether deleting an image leaves it `pending_delete` for a scrubber
    /// instead of removing its data at once.
    pub delayed_delete: bool,
    /// Whether images show `direct_url`, their best location.
    pub show_image_direct_url: bool,
    /// Whether images show `locations` (deprecated in Glance).
    pub show_multiple_locations: bool,
    /// Whether unauthenticated requests may read public images.
    pub allow_anonymous_access: bool,
    /// INI file of property protections; `None` leaves properties
    /// unprotected. A relative path is looked for next to the configuration
    /// files, then in `~/.glance`, `~`, `/etc/glance` and `/etc`.
    pub property_protection_file: Option<PathBuf>,
    /// How the protections file names who may do what: roles or policies.
    pub property_protection_rule_format: RuleFormat,
    /// The image cache: `image_cache_*` and `worker_self_reference_url`.
    pub image_cache: ImageCacheConfig,
    /// `enabled_import_methods`, as written.
    pub enabled_import_methods: Vec<String>,
    /// The directory of `node_staging_uri` (a `file://` URI).
    pub node_staging_uri: Option<PathBuf>,
    /// `[os_glance_staging_store] filesystem_store_datadir`, which Glance
    /// prefers to `node_staging_uri`.
    pub staging_store_datadir: Option<PathBuf>,
}

/// The image cache options of `[DEFAULT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageCacheConfig {
    /// Directory of this node's cache; the cache is off when unset.
    pub dir: Option<PathBuf>,
    /// Bytes the cache is pruned down to after each image it caches.
    pub max_size: u64,
    /// Age at which a file of `incomplete/` counts as stalled and is
    /// removed by cleaning.
    pub stall_time: std::time::Duration,
    /// The driver Glance would use; glint always keeps the records in its
    /// database (`centralized_db`).
    pub driver: CacheDriver,
    /// This node's name in the cache records (`GET /v2/cache/nodes/{id}`);
    /// `None` lets `serve` name it after the host and port.
    pub worker_self_reference_url: Option<String>,
}

/// `image_cache_driver`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheDriver {
    CentralizedDb,
    /// Glance's deprecated per-node SQLite file, served as `centralized_db`.
    Sqlite,
    /// Glance's extended-attribute driver, served as `centralized_db`.
    Xattr,
}

impl CacheDriver {
    fn parse(value: &str) -> Result<Self, String> {
        match value.to_ascii_lowercase().as_str() {
            "centralized_db" => Ok(Self::CentralizedDb),
            "sqlite" => Ok(Self::Sqlite),
            "xattr" => Ok(Self::Xattr),
            _ => Err("must be centralized_db, sqlite or xattr".to_owned()),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CentralizedDb => "centralized_db",
            Self::Sqlite => "sqlite",
            Self::Xattr => "xattr",
        }
    }
}

impl ImageCacheConfig {
    fn read(src: &Source<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            dir: src.optional(&IMAGE_CACHE_DIR)?.map(PathBuf::from),
            max_size: src.u64_in(&IMAGE_CACHE_MAX_SIZE, 0, i64::MAX as u64)?,
            stall_time: src.parse(&IMAGE_CACHE_STALL_TIME, |v| {
                values::parse_u64_in(v, 0, u64::from(u32::MAX)).map(std::time::Duration::from_secs)
            })?,
            driver: src.parse(&IMAGE_CACHE_DRIVER, CacheDriver::parse)?,
            worker_self_reference_url: src.parse(&WORKER_SELF_REFERENCE_URL, parse_node_url)?,
        })
    }
}

/// An http or https URL, kept as written (it names the node in records
/// other nodes read), at most as long as its database column.
fn parse_node_url(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let url = Url::parse(value).map_err(|error| format!("not a valid URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".to_owned());
    }
    if value.len() > 255 {
        return Err("longer than 255 characters".to_owned());
    }
    Ok(Some(value.to_owned()))
}

impl DefaultConfig {
    pub(super) fn read(src: &Source<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            bind_host: src.parse(&BIND_HOST, parse_host)?,
            bind_port: src.parse(&BIND_PORT, values::parse_port)?,
            image_size_cap: src.u64_in(&IMAGE_SIZE_CAP, 1, 1 << 63)?,
            limit_param_default: src.u64_in(&LIMIT_PARAM_DEFAULT, 1, u64::MAX)?,
            api_limit_max: src.u64_in(&API_LIMIT_MAX, 1, u64::MAX)?,
            hashing_algorithm: src.parse(&HASHING_ALGORITHM, parse_hash_algo)?,
            image_property_quota: src.quota(&IMAGE_PROPERTY_QUOTA)?,
            image_tag_quota: src.quota(&IMAGE_TAG_QUOTA)?,
            image_location_quota: src.quota(&IMAGE_LOCATION_QUOTA)?,
            task_time_to_live: src.parse(&TASK_TIME_TO_LIVE, |v| {
                values::parse_u64_in(v, 0, 100 * 365 * 24)
                    .map(|h| std::time::Duration::from_secs(h * 3600))
            })?,
            image_member_quota: src.quota(&IMAGE_MEMBER_QUOTA)?,
            user_storage_quota: src.parse(&USER_STORAGE_QUOTA, values::parse_storage_quota)?,
            public_endpoint: src.parse(&PUBLIC_ENDPOINT, parse_endpoint)?,
            max_request_id_length: src.parse(&MAX_REQUEST_ID_LENGTH, |value| {
                let length = values::parse_u64_in(value, 0, u64::from(u32::MAX))?;
                usize::try_from(length).map_err(|_| "out of range".to_owned())
            })?,
            delayed_delete: src.bool(&DELAYED_DELETE)?,
            show_image_direct_url: src.bool(&SHOW_IMAGE_DIRECT_URL)?,
            show_multiple_locations: src.bool(&SHOW_MULTIPLE_LOCATIONS)?,
            allow_anonymous_access: src.bool(&ALLOW_ANONYMOUS_ACCESS)?,
            property_protection_file: src.optional(&PROPERTY_PROTECTION_FILE)?.map(PathBuf::from),
            property_protection_rule_format: src.parse(&PROPERTY_PROTECTION_RULE_FORMAT, |v| {
                RuleFormat::from_name(v).ok_or_else(|| "must be roles or policies".to_owned())
            })?,
            image_cache: ImageCacheConfig::read(src)?,
            enabled_import_methods: src.list(&ENABLED_IMPORT_METHODS)?,
            node_staging_uri: src.parse(&NODE_STAGING_URI, parse_staging_uri)?,
            staging_store_datadir: src.optional(&STAGING_STORE_DATADIR)?.map(PathBuf::from),
        })
    }
}

/// `node_staging_uri`: a `file://` URI naming a directory.
fn parse_staging_uri(value: &str) -> Result<Option<PathBuf>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    match value.strip_prefix("file://") {
        Some(path) if path.starts_with('/') => Ok(Some(PathBuf::from(path))),
        _ => Err("must be a file:// URI with an absolute path".to_owned()),
    }
}

fn parse_host(value: &str) -> Result<String, String> {
    let valid = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '_' | '[' | ']'));
    if valid {
        Ok(value.to_owned())
    } else {
        Err("not an IP address or host name".to_owned())
    }
}

fn parse_endpoint(value: &str) -> Result<Option<String>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let url = Url::parse(value).map_err(|error| format!("not a valid URL: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".to_owned());
    }
    Ok(Some(url.into()))
}

/// The names Glance stores in `os_hash_algo`, exactly: `hashlib` would
/// also take other spellings, which would then be stored as written.
fn parse_hash_algo(value: &str) -> Result<HashAlgo, String> {
    HashAlgo::ALL
        .into_iter()
        .find(|algorithm| algorithm.as_str() == value)
        .ok_or_else(|| {
            "unsupported hashing algorithm (use md5, sha1, sha224, sha256, sha384 or sha512)"
                .to_owned()
        })
}

/// The `[glance_store]` section (single-store mode).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlanceStoreConfig {
    /// Store that receives uploaded image data; must be in `stores`.
    pub default_store: StoreType,
    /// Stores enabled for reading and writing locations.
    pub stores: Vec<StoreType>,
    /// Directory of the file store; `None` means `<data_dir>/images`
    /// (Glance's default is `/var/lib/glance/images`).
    pub filesystem_store_datadir: Option<PathBuf>,
}

impl GlanceStoreConfig {
    pub(super) fn read(src: &Source<'_>) -> Result<Self, ConfigError> {
        let default_store = src.parse(&DEFAULT_STORE, StoreType::parse)?;
        let stores = src.parse(&STORES, parse_stores)?;
        let problem = if !stores.contains(&default_store) {
            Some("not one of [glance_store] stores")
        } else if default_store == StoreType::Http {
            Some("the http store is read-only and cannot receive uploads")
        } else {
            None
        };
        if let Some(reason) = problem {
            let value = src.value(&DEFAULT_STORE)?;
            return Err(ConfigError::invalid(&DEFAULT_STORE, &value, reason));
        }
        Ok(Self {
            default_store,
            stores,
            filesystem_store_datadir: src.optional(&FILESYSTEM_STORE_DATADIR)?.map(PathBuf::from),
        })
    }
}

/// `stores`, with aliases folded together and duplicates dropped.
fn parse_stores(value: &str) -> Result<Vec<StoreType>, String> {
    let mut stores = Vec::new();
    for name in values::parse_list(value)? {
        let store = StoreType::parse(&name)?;
        if !stores.contains(&store) {
            stores.push(store);
        }
    }
    Ok(stores)
}

/// The `[image_format]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageFormatConfig {
    /// Values accepted for an image's `disk_format` and `container_format`.
    pub formats: FormatRules,
    /// Whether uploaded data must be of the image's declared `disk_format`,
    /// and the VMDK `createType` subformats accepted.
    pub upload_rules: UploadRules,
}

impl ImageFormatConfig {
    pub(super) fn read(src: &Source<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            formats: FormatRules {
                disk_formats: src.list(&DISK_FORMATS)?,
                container_formats: src.list(&CONTAINER_FORMATS)?,
            },
            upload_rules: UploadRules {
                require_image_format_match: src.bool(&REQUIRE_IMAGE_FORMAT_MATCH)?,
                vmdk_allowed_types: src.list(&VMDK_ALLOWED_TYPES)?,
                gpt_safety_checks_nonfatal: src.list(&GPT_SAFETY_CHECKS_NONFATAL)?,
            },
        })
    }
}

/// The `[paste_deploy]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasteDeployConfig {
    /// How the pipeline chosen by `flavor` authenticates.
    pub flavor: AuthMode,
    /// What the pipeline chosen by `flavor` does with the image cache.
    pub cache: CacheFlavor,
}

/// How requests are authenticated, from `[paste_deploy] flavor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// No `keystone` in the flavor: no authentication; callers act as an
    /// admin. Only allowed on a loopback address unless explicitly
    /// overridden.
    NoAuth,
    /// Keystone tokens (`keystone`, `keystone+caching`,
    /// `keystone+cachemanagement`).
    Keystone,
}

/// The image cache middleware a flavor's pipeline holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheFlavor {
    /// No cache middleware (`keystone`, empty).
    Off,
    /// Downloads are served from and fill the cache (`caching`,
    /// `keystone+caching`).
    Caching,
    /// As `Caching`, with the legacy management paths
    /// (`cachemanagement`, `keystone+cachemanagement`).
    Management,
}

impl PasteDeployConfig {
    fn parse(value: &str) -> Result<(AuthMode, CacheFlavor), String> {
        use AuthMode::*;
        use CacheFlavor::*;
        match value {
            "" => Ok((NoAuth, Off)),
            "caching" => Ok((NoAuth, Caching)),
            "cachemanagement" => Ok((NoAuth, Management)),
            "keystone" => Ok((Keystone, Off)),
            "keystone+caching" => Ok((Keystone, Caching)),
            "keystone+cachemanagement" => Ok((Keystone, Management)),
            _ => Err(
                "unsupported flavor (use an empty value, caching or cachemanagement for no \
                 authentication, or keystone, keystone+caching or keystone+cachemanagement)"
                    .to_owned(),
            ),
        }
    }

    pub(super) fn read(src: &Source<'_>) -> Result<Self, ConfigError> {
        let (flavor, cache) = src.parse(&FLAVOR, Self::parse)?;
        Ok(Self { flavor, cache })
    }
}

/// The `[oslo_policy]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OsloPolicyConfig {
    /// Rule overrides (YAML or JSON). A relative name is looked up in the
    /// directories of the configuration files.
    pub policy_file: PathBuf,
    /// Whether a configuration file names `policy_file`; only then is a
    /// missing file an error (the default name is optional, as in Glance).
    pub policy_file_set: bool,
    /// How `http:`/`https:` checks send their data.
    pub remote_content_type: RemoteContentType,
    /// How long a remote check may take before it counts as a denial.
    pub remote_timeout: std::time::Duration,
}

/// Body format of remote (`http:`) policy checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoteContentType {
    /// `rule`, `target` and `credentials` as JSON strings in a form.
    Form,
    /// One JSON object with `rule`, `target` and `credentials`.
    Json,
}

impl RemoteContentType {
    fn parse(value: &str) -> Result<Self, String> {
        match value {
            "application/x-www-form-urlencoded" => Ok(Self::Form),
            "application/json" => Ok(Self::Json),
            _ => Err("must be application/x-www-form-urlencoded or application/json".to_owned()),
        }
    }
}

impl OsloPolicyConfig {
    pub(super) fn read(src: &Source<'_>) -> Result<Self, ConfigError> {
        let policy_file = src.string(&POLICY_FILE)?;
        if policy_file.is_empty() {
            return Err(ConfigError::invalid(&POLICY_FILE, "", "must not be empty"));
        }
        Ok(Self {
            policy_file: PathBuf::from(policy_file),
            policy_file_set: src.is_set(&POLICY_FILE),
            remote_content_type: src.parse(&REMOTE_CONTENT_TYPE, RemoteContentType::parse)?,
            remote_timeout: src.parse(&REMOTE_TIMEOUT, values::parse_seconds)?,
        })
    }
}

/// The glint-only `[glint]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlintConfig {
    /// Lets no-auth mode listen on a non-loopback `bind_host`. Anyone who can
    /// reach the port then has full admin rights. The server then cannot
    /// know the names it is reached under, so it no longer refuses requests
    /// whose `Host` is not a loopback name; it still refuses foreign
    /// `Origin`s and JSON bodies not sent as JSON.
    pub allow_noauth_on_public_address: bool,
    /// Directory holding the embedded SQLite database and, unless
    /// `filesystem_store_datadir` is set, the file store.
    pub data_dir: PathBuf,
    /// Most validated Keystone tokens kept in memory; the oldest are
    /// evicted first when it is full.
    pub token_cache_size: usize,
    /// How the file store writes uploads: with direct I/O (bypassing the
    /// page cache) where the file system supports it
    /// (`filesystem_store_direct_io = true`), or through the page cache.
    pub write_strategy: WriteStrategy,
    /// Limits on client connections.
    pub connections: glint_api::ConnectionLimits,
    /// How database connections are set up: `database_statement_timeout`,
    /// the longest a statement may run on PostgreSQL or MySQL/MariaDB
    /// before the server cancels it (the request then answers 503); `None`
    /// (0 in the file) for no limit. Also `[database] pool_timeout`, the
    /// longest a request waits for a connection.
    pub database: ConnectOptions,
    /// How long an upload's lease lasts unless renewed; the upload renews
    /// it every third of that, and an upload whose lease expired (its
    /// process died) is reset by any node within about twice that time.
    pub upload_lease_time: std::time::Duration,
    /// `metrics_bind`: the address of a second listener serving
    /// `/metrics` only, without authentication; `None` for none.
    pub metrics_bind: Option<std::net::SocketAddr>,
    /// `log_format`: text (the default) or one JSON object per line.
    pub log_format: super::LogFormat,
    /// Whether `glint serve` runs delayed delete's scrubber beside the API
    /// (with `scrub_time`, `scrub_pool_size` and `wakeup_time`); by default
    /// it does when `delayed_delete` is on.
    pub scrubber_in_serve: bool,
}

impl GlintConfig {
    pub(super) fn read(src: &Source<'_>) -> Result<Self, ConfigError> {
        let data_dir = src.string(&DATA_DIR)?;
        if data_dir.is_empty() {
            return Err(ConfigError::invalid(&DATA_DIR, "", "must not be empty"));
        }
        Ok(Self {
            allow_noauth_on_public_address: src.bool(&ALLOW_NOAUTH_ON_PUBLIC_ADDRESS)?,
            data_dir: PathBuf::from(data_dir),
            token_cache_size: src.parse(&TOKEN_CACHE_SIZE, |v| {
                values::parse_u64_in(v, 1, 10_000_000).map(|n| n as usize)
            })?,
            write_strategy: match src.bool(&FILESYSTEM_STORE_DIRECT_IO)? {
                true => WriteStrategy::Direct,
                false => WriteStrategy::Buffered,
            },
            connections: connections::read(src)?,
            database: ConnectOptions {
                statement_timeout: src
                    .parse(&DATABASE_STATEMENT_TIMEOUT, values::parse_seconds)
                    .map(|t| Some(t).filter(|t| !t.is_zero()))?,
                acquire_timeout: src.parse(&POOL_TIMEOUT, |v| {
                    values::parse_seconds(v).and_then(|t| {
                        (!t.is_zero())
                            .then_some(t)
                            .ok_or("must be more than 0".into())
                    })
                })?,
            },
            upload_lease_time: src.parse(&UPLOAD_LEASE_TIME, |v| {
                values::parse_u64_in(v, 1, 7 * 24 * 3600).map(std::time::Duration::from_secs)
            })?,
            metrics_bind: super::observability::read_metrics_bind(src)?,
            log_format: super::observability::read_log_format(src)?,
            scrubber_in_serve: src.bool(&SCRUBBER_IN_SERVE)?,
        })
    }
}
