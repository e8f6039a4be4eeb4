//! The one table of options glint implements, with where their defaults
//! come from.
//!
//! To support a new option: add a constant here, list it in `SUPPORTED`,
//! read it in `sections.rs` and document it in `etc/glance-api.conf` (a test
//! checks the sample against this table). An option whose value a layer
//! uses takes its default from that layer's own `Default` or constant, so
//! that the documented default and the one a server runs with cannot
//! drift apart.

use std::fmt;

use glint_api::auth::{KeystoneAuth, KeystoneConfig, LimitsConfig};
use glint_api::{ApiConfig, ConnectionLimits};
use glint_core::{CacheConfig, HealthConfig, ImageConfig, RuleFormat, UnifiedLimits};
use glint_db::ConnectOptions;
use glint_notify::NotifierConfig;
use glint_store::{ImportFilterLists, WriteStrategy};
use glint_workers::ScrubberConfig;

use super::render;

/// One supported option.
#[derive(Clone, Copy)]
pub(super) struct Opt {
    pub section: &'static str,
    pub name: &'static str,
    default: DefaultSource,
}

/// Where an option's default comes from.
#[derive(Clone, Copy)]
enum DefaultSource {
    /// Written here, as in a file: options that only the binary uses.
    Text(&'static str),
    /// Rendered from the default of the layer that uses the value.
    Layer(fn() -> String),
}

impl Opt {
    /// The default written the way a configuration file would write it; it
    /// goes through the same conversion as a file value. An empty default
    /// means "unset".
    pub(super) fn default_text(&self) -> String {
        match self.default {
            DefaultSource::Text(text) => text.to_owned(),
            DefaultSource::Layer(render) => render(),
        }
    }
}

impl fmt::Debug for Opt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.section, self.name)
    }
}

const fn opt(section: &'static str, name: &'static str, default: &'static str) -> Opt {
    Opt {
        section,
        name,
        default: DefaultSource::Text(default),
    }
}

const fn layer(section: &'static str, name: &'static str, default: fn() -> String) -> Opt {
    Opt {
        section,
        name,
        default: DefaultSource::Layer(default),
    }
}

fn image() -> ImageConfig {
    ImageConfig::default()
}

fn api() -> ApiConfig {
    ApiConfig::default()
}

fn connections() -> ConnectionLimits {
    ConnectionLimits::default()
}

fn scrubber() -> ScrubberConfig {
    ScrubberConfig::default()
}

pub(super) const BIND_HOST: Opt = opt("DEFAULT", "bind_host", "127.0.0.1");
pub(super) const BIND_PORT: Opt = opt("DEFAULT", "bind_port", "9292");
pub(super) const IMAGE_SIZE_CAP: Opt = layer("DEFAULT", "image_size_cap", || {
    image().image_size_cap.to_string()
});
pub(super) const LIMIT_PARAM_DEFAULT: Opt = layer("DEFAULT", "limit_param_default", || {
    image().limit_param_default.to_string()
});
pub(super) const API_LIMIT_MAX: Opt = layer("DEFAULT", "api_limit_max", || {
    image().api_limit_max.to_string()
});
pub(super) const HASHING_ALGORITHM: Opt = layer("DEFAULT", "hashing_algorithm", || {
    image().hashing_algorithm.as_str().to_owned()
});
pub(super) const IMAGE_PROPERTY_QUOTA: Opt = layer("DEFAULT", "image_property_quota", || {
    render::quota(image().image_property_quota)
});
pub(super) const IMAGE_TAG_QUOTA: Opt = layer("DEFAULT", "image_tag_quota", || {
    render::quota(image().image_tag_quota)
});
pub(super) const IMAGE_LOCATION_QUOTA: Opt = layer("DEFAULT", "image_location_quota", || {
    render::quota(image().image_location_quota)
});
pub(super) const IMAGE_MEMBER_QUOTA: Opt = layer("DEFAULT", "image_member_quota", || {
    render::quota(image().image_member_quota)
});
pub(super) const USER_STORAGE_QUOTA: Opt = layer("DEFAULT", "user_storage_quota", || {
    render::storage_quota(image().user_storage_quota)
});
pub(super) const USE_KEYSTONE_LIMITS: Opt = opt("DEFAULT", "use_keystone_limits", "false");
pub(super) const PUBLIC_ENDPOINT: Opt = layer("DEFAULT", "public_endpoint", || {
    api().public_endpoint.unwrap_or_default()
});
pub(super) const MAX_REQUEST_ID_LENGTH: Opt = layer("DEFAULT", "max_request_id_length", || {
    api().max_request_id_length.to_string()
});
pub(super) const DELAYED_DELETE: Opt = layer("DEFAULT", "delayed_delete", || {
    image().delayed_delete.to_string()
});
pub(super) const SHOW_IMAGE_DIRECT_URL: Opt = layer("DEFAULT", "show_image_direct_url", || {
    api().show_image_direct_url.to_string()
});
pub(super) const SHOW_MULTIPLE_LOCATIONS: Opt = layer("DEFAULT", "show_multiple_locations", || {
    api().show_multiple_locations.to_string()
});
pub(super) const ALLOW_ANONYMOUS_ACCESS: Opt = layer("DEFAULT", "allow_anonymous_access", || {
    KeystoneAuth::DEFAULT_ALLOW_ANONYMOUS_ACCESS.to_string()
});
pub(super) const PROPERTY_PROTECTION_FILE: Opt = opt("DEFAULT", "property_protection_file", "");
pub(super) const PROPERTY_PROTECTION_RULE_FORMAT: Opt =
    layer("DEFAULT", "property_protection_rule_format", || {
        RuleFormat::default().as_str().to_owned()
    });

pub(super) const IMAGE_CACHE_DIR: Opt = opt("DEFAULT", "image_cache_dir", "");
pub(super) const IMAGE_CACHE_MAX_SIZE: Opt = layer("DEFAULT", "image_cache_max_size", || {
    CacheConfig::DEFAULT_MAX_SIZE.to_string()
});
pub(super) const IMAGE_CACHE_STALL_TIME: Opt = layer("DEFAULT", "image_cache_stall_time", || {
    render::seconds(CacheConfig::DEFAULT_STALL_TIME)
});
pub(super) const IMAGE_CACHE_DRIVER: Opt = opt("DEFAULT", "image_cache_driver", "centralized_db");
pub(super) const WORKER_SELF_REFERENCE_URL: Opt = opt("DEFAULT", "worker_self_reference_url", "");
pub(super) const ENABLED_IMPORT_METHODS: Opt = opt(
    "DEFAULT",
    "enabled_import_methods",
    "glance-direct,web-download,copy-image",
);
pub(super) const NODE_STAGING_URI: Opt = opt("DEFAULT", "node_staging_uri", "");
pub(super) const STAGING_STORE_DATADIR: Opt =
    opt("os_glance_staging_store", "filesystem_store_datadir", "");
pub(super) const SCRUB_TIME: Opt = layer("DEFAULT", "scrub_time", || {
    scrubber().scrub_time.as_secs().to_string()
});
pub(super) const SCRUB_POOL_SIZE: Opt = layer("DEFAULT", "scrub_pool_size", || {
    scrubber().pool_size.to_string()
});
pub(super) const WAKEUP_TIME: Opt = layer("DEFAULT", "wakeup_time", || {
    ScrubberConfig::DEFAULT_WAKEUP_TIME.as_secs().to_string()
});
pub(super) const DAEMON: Opt = opt("DEFAULT", "daemon", "false");
pub(super) const RESTORE: Opt = opt("DEFAULT", "restore", "");

pub(super) const CONNECTION: Opt = opt("database", "connection", "");
pub(super) const POOL_TIMEOUT: Opt = layer("database", "pool_timeout", || {
    render::seconds(ConnectOptions::default().acquire_timeout)
});

pub(super) const ENABLED_BACKENDS: Opt = opt("DEFAULT", "enabled_backends", "");
pub(super) const DEFAULT_BACKEND: Opt = opt("glance_store", "default_backend", "");
pub(super) const DEFAULT_STORE: Opt = opt("glance_store", "default_store", "file");
pub(super) const STORES: Opt = opt("glance_store", "stores", "file,http");
pub(super) const FILESYSTEM_STORE_DATADIR: Opt =
    opt("glance_store", "filesystem_store_datadir", "");

pub(super) const DISK_FORMATS: Opt = layer("image_format", "disk_formats", || {
    render::list(&image().formats.disk_formats)
});
pub(super) const CONTAINER_FORMATS: Opt = layer("image_format", "container_formats", || {
    render::list(&image().formats.container_formats)
});
pub(super) const REQUIRE_IMAGE_FORMAT_MATCH: Opt =
    layer("image_format", "require_image_format_match", || {
        image().upload_rules.require_image_format_match.to_string()
    });
pub(super) const VMDK_ALLOWED_TYPES: Opt = layer("image_format", "vmdk_allowed_types", || {
    render::list(&image().upload_rules.vmdk_allowed_types)
});
pub(super) const GPT_SAFETY_CHECKS_NONFATAL: Opt =
    layer("image_format", "gpt_safety_checks_nonfatal", || {
        render::list(&image().upload_rules.gpt_safety_checks_nonfatal)
    });

pub(super) const FLAVOR: Opt = opt("paste_deploy", "flavor", "");

pub(super) const POLICY_FILE: Opt = opt("oslo_policy", "policy_file", "policy.yaml");
pub(super) const REMOTE_CONTENT_TYPE: Opt = opt(
    "oslo_policy",
    "remote_content_type",
    "application/x-www-form-urlencoded",
);
pub(super) const REMOTE_TIMEOUT: Opt = opt("oslo_policy", "remote_timeout", "60");
pub(super) const WWW_AUTHENTICATE_URI: Opt = opt("keystone_authtoken", "www_authenticate_uri", "");
pub(super) const AUTH_URI: Opt = opt("keystone_authtoken", "auth_uri", "");
pub(super) const AUTH_URL: Opt = opt("keystone_authtoken", "auth_url", "");
pub(super) const AUTH_TYPE: Opt = opt("keystone_authtoken", "auth_type", "");
pub(super) const USERNAME: Opt = opt("keystone_authtoken", "username", "");
pub(super) const USER_ID: Opt = opt("keystone_authtoken", "user_id", "");
pub(super) const PASSWORD: Opt = opt("keystone_authtoken", "password", "");
pub(super) const USER_DOMAIN_NAME: Opt = opt("keystone_authtoken", "user_domain_name", "");
pub(super) const USER_DOMAIN_ID: Opt = opt("keystone_authtoken", "user_domain_id", "");
pub(super) const PROJECT_NAME: Opt = opt("keystone_authtoken", "project_name", "");
pub(super) const PROJECT_ID: Opt = opt("keystone_authtoken", "project_id", "");
pub(super) const PROJECT_DOMAIN_NAME: Opt = opt("keystone_authtoken", "project_domain_name", "");
pub(super) const PROJECT_DOMAIN_ID: Opt = opt("keystone_authtoken", "project_domain_id", "");
pub(super) const DELAY_AUTH_DECISION: Opt =
    layer("keystone_authtoken", "delay_auth_decision", || {
        KeystoneAuth::DEFAULT_DELAY_AUTH_DECISION.to_string()
    });
pub(super) const INCLUDE_SERVICE_CATALOG: Opt =
    layer("keystone_authtoken", "include_service_catalog", || {
        KeystoneConfig::DEFAULT_INCLUDE_SERVICE_CATALOG.to_string()
    });
pub(super) const TOKEN_CACHE_TIME: Opt = layer("keystone_authtoken", "token_cache_time", || {
    render::cache_time(KeystoneConfig::DEFAULT_TOKEN_CACHE_TIME)
});
pub(super) const HTTP_CONNECT_TIMEOUT: Opt =
    layer("keystone_authtoken", "http_connect_timeout", || {
        render::seconds(KeystoneConfig::DEFAULT_HTTP_TIMEOUT)
    });
pub(super) const HTTP_REQUEST_MAX_RETRIES: Opt =
    layer("keystone_authtoken", "http_request_max_retries", || {
        KeystoneConfig::DEFAULT_HTTP_MAX_RETRIES.to_string()
    });

pub(super) const LIMIT_AUTH_URL: Opt = opt("oslo_limit", "auth_url", "");
pub(super) const LIMIT_AUTH_TYPE: Opt = opt("oslo_limit", "auth_type", "");
pub(super) const LIMIT_USERNAME: Opt = opt("oslo_limit", "username", "");
pub(super) const LIMIT_USER_ID: Opt = opt("oslo_limit", "user_id", "");
pub(super) const LIMIT_PASSWORD: Opt = opt("oslo_limit", "password", "");
pub(super) const LIMIT_USER_DOMAIN_NAME: Opt = opt("oslo_limit", "user_domain_name", "");
pub(super) const LIMIT_USER_DOMAIN_ID: Opt = opt("oslo_limit", "user_domain_id", "");
pub(super) const LIMIT_PROJECT_NAME: Opt = opt("oslo_limit", "project_name", "");
pub(super) const LIMIT_PROJECT_ID: Opt = opt("oslo_limit", "project_id", "");
pub(super) const LIMIT_PROJECT_DOMAIN_NAME: Opt = opt("oslo_limit", "project_domain_name", "");
pub(super) const LIMIT_PROJECT_DOMAIN_ID: Opt = opt("oslo_limit", "project_domain_id", "");
pub(super) const LIMIT_DOMAIN_NAME: Opt = opt("oslo_limit", "domain_name", "");
pub(super) const LIMIT_DOMAIN_ID: Opt = opt("oslo_limit", "domain_id", "");
pub(super) const LIMIT_SYSTEM_SCOPE: Opt = opt("oslo_limit", "system_scope", "");
pub(super) const LIMIT_ENDPOINT_ID: Opt = opt("oslo_limit", "endpoint_id", "");
pub(super) const LIMIT_ENDPOINT_SERVICE_NAME: Opt = opt("oslo_limit", "endpoint_service_name", "");
pub(super) const LIMIT_ENDPOINT_SERVICE_TYPE: Opt = opt("oslo_limit", "endpoint_service_type", "");
pub(super) const LIMIT_ENDPOINT_REGION_NAME: Opt = opt("oslo_limit", "endpoint_region_name", "");
pub(super) const LIMIT_ENDPOINT_INTERFACE: Opt = opt(
    "oslo_limit",
    "endpoint_interface",
    LimitsConfig::DEFAULT_INTERFACE,
);
pub(super) const LIMIT_TIMEOUT: Opt = layer("oslo_limit", "timeout", || {
    render::seconds(LimitsConfig::DEFAULT_HTTP_TIMEOUT)
});
pub(super) const LIMIT_CONNECT_RETRIES: Opt = opt("oslo_limit", "connect_retries", "0");

pub(super) const ALLOW_NOAUTH_ON_PUBLIC_ADDRESS: Opt =
    layer("glint", "allow_noauth_on_public_address", || {
        api().allow_noauth_on_public_address.to_string()
    });
pub(super) const DATA_DIR: Opt = opt("glint", "data_dir", "./glint-data");
pub(super) const TOKEN_CACHE_SIZE: Opt = layer("glint", "token_cache_size", || {
    KeystoneConfig::DEFAULT_TOKEN_CACHE_SIZE.to_string()
});
pub(super) const FILESYSTEM_STORE_DIRECT_IO: Opt =
    layer("glint", "filesystem_store_direct_io", || {
        (WriteStrategy::default() == WriteStrategy::Direct).to_string()
    });
pub(super) const CLIENT_HEADER_TIMEOUT: Opt = layer("glint", "client_header_timeout", || {
    render::seconds(connections().header_read_timeout)
});
pub(super) const KEEPALIVE_TIMEOUT: Opt = layer("glint", "keepalive_timeout", || {
    render::seconds(connections().keep_alive_timeout)
});
pub(super) const CLIENT_BODY_TIMEOUT: Opt = layer("glint", "client_body_timeout", || {
    render::seconds(connections().body_idle_timeout)
});
pub(super) const CLIENT_SEND_TIMEOUT: Opt = layer("glint", "client_send_timeout", || {
    render::seconds(connections().send_timeout)
});
pub(super) const MAX_CONNECTIONS: Opt = layer("glint", "max_connections", || {
    connections().max_connections.to_string()
});
pub(super) const DATABASE_STATEMENT_TIMEOUT: Opt =
    layer("glint", "database_statement_timeout", || {
        render::timeout(ConnectOptions::default().statement_timeout)
    });
pub(super) const UPLOAD_LEASE_TIME: Opt = layer("glint", "upload_lease_time", || {
    render::seconds(image().upload_lease_time)
});
pub(super) const KEYSTONE_LIMITS_CACHE_TIME: Opt =
    layer("glint", "keystone_limits_cache_time", || {
        render::seconds(UnifiedLimits::DEFAULT_CACHE_TIME)
    });
pub(super) const TASK_TIME_TO_LIVE: Opt = layer("task", "task_time_to_live", || {
    (image().task_time_to_live.as_secs() / 3600).to_string()
});
pub(super) const METRICS_BIND: Opt = opt("glint", "metrics_bind", "");
pub(super) const LOG_FORMAT: Opt = opt("glint", "log_format", "text");

pub(super) const HEALTHCHECK_DETAILED: Opt = layer("healthcheck", "detailed", || {
    api().health_detailed.to_string()
});
pub(super) const HEALTHCHECK_BACKENDS: Opt = layer("healthcheck", "backends", || {
    let checks = HealthConfig::default().checks;
    let names: Vec<String> = checks
        .iter()
        .map(|c| super::observability::backend_name(c).to_owned())
        .collect();
    render::list(&names)
});
pub(super) const DISABLE_BY_FILE_PATH: Opt = opt(
    "healthcheck",
    "disable_by_file_path",
    HealthConfig::DEFAULT_DISABLE_BY_FILE_PATH,
);
pub(super) const DISABLE_BY_FILE_PATHS: Opt = opt("healthcheck", "disable_by_file_paths", "");
pub(super) const ENABLE_BY_FILE_PATHS: Opt = opt("healthcheck", "enable_by_file_paths", "");

fn notifier() -> NotifierConfig {
    NotifierConfig::default()
}

pub(super) const NOTIFICATION_DRIVER: Opt = opt("oslo_messaging_notifications", "driver", "");
pub(super) const NOTIFICATION_TRANSPORT_URL: Opt =
    opt("oslo_messaging_notifications", "transport_url", "");
pub(super) const NOTIFICATION_TOPICS: Opt = layer("oslo_messaging_notifications", "topics", || {
    render::list(&notifier().topics)
});
pub(super) const TRANSPORT_URL: Opt = opt("DEFAULT", "transport_url", "rabbit://");
pub(super) const CONTROL_EXCHANGE: Opt =
    layer("DEFAULT", "control_exchange", || notifier().exchange);
pub(super) const DEFAULT_PUBLISHER_ID: Opt = layer("DEFAULT", "default_publisher_id", || {
    notifier().publisher_id
});
pub(super) const DISABLED_NOTIFICATIONS: Opt = opt("DEFAULT", "disabled_notifications", "");
pub(super) const AMQP_DURABLE_QUEUES: Opt =
    layer("oslo_messaging_rabbit", "amqp_durable_queues", || {
        notifier().durable.to_string()
    });
pub(super) const AMQP_AUTO_DELETE: Opt = layer("oslo_messaging_rabbit", "amqp_auto_delete", || {
    notifier().auto_delete.to_string()
});
pub(super) const RABBIT_QUORUM_QUEUE: Opt =
    layer("oslo_messaging_rabbit", "rabbit_quorum_queue", || {
        notifier().quorum_queues.to_string()
    });
pub(super) const RABBIT_HA_QUEUES: Opt = layer("oslo_messaging_rabbit", "rabbit_ha_queues", || {
    notifier().ha_queues.to_string()
});
pub(super) const RABBIT_RETRY_INTERVAL: Opt =
    layer("oslo_messaging_rabbit", "rabbit_retry_interval", || {
        render::seconds(notifier().retry_interval)
    });
pub(super) const RABBIT_INTERVAL_MAX: Opt =
    layer("oslo_messaging_rabbit", "rabbit_interval_max", || {
        render::seconds(notifier().retry_interval_max)
    });
pub(super) const RABBIT_SSL: Opt = opt("oslo_messaging_rabbit", "ssl", "false");
pub(super) const NOTIFICATION_QUEUE_SIZE: Opt = layer("glint", "notification_queue_size", || {
    notifier().queue_size.to_string()
});
/// Follows `delayed_delete` unless set: a server that leaves images
/// pending scrubs them too.
pub(super) const SCRUBBER_IN_SERVE: Opt = opt("glint", "scrubber_in_serve", "$delayed_delete");

fn import_filter() -> ImportFilterLists {
    ImportFilterLists::default()
}

fn plugins() -> glint_core::PluginSettings {
    glint_core::PluginSettings::default()
}

/// The property prefixes a `glance-download` import copies from the
/// remote image.
pub(super) const DOWNLOAD_EXTRA_PROPERTIES: Opt = opt(
    "glance_download_properties",
    "extra_properties",
    "hw_,trait:,os_distro,os_secure_boot,os_type",
);
/// How many stores one import writes to at the same time.
pub(super) const MAX_PARALLEL_STORES: Opt = opt("image_import_opts", "max_parallel_stores", "1");
pub(super) const IMAGE_IMPORT_PLUGINS: Opt = opt("image_import_opts", "image_import_plugins", "");
pub(super) const OUTPUT_FORMAT: Opt = layer("image_conversion", "output_format", || {
    plugins().conversion.output_format.as_str().to_owned()
});
pub(super) const IGNORE_USER_ROLES: Opt =
    layer("inject_metadata_properties", "ignore_user_roles", || {
        render::list(&plugins().inject.ignore_user_roles)
    });
pub(super) const INJECT: Opt = opt("inject_metadata_properties", "inject", "");

pub(super) const ALLOWED_SCHEMES: Opt = layer("import_filtering_opts", "allowed_schemes", || {
    render::list(&import_filter().allowed_schemes)
});
pub(super) const DISALLOWED_SCHEMES: Opt = opt("import_filtering_opts", "disallowed_schemes", "");
pub(super) const ALLOWED_HOSTS: Opt = opt("import_filtering_opts", "allowed_hosts", "");
pub(super) const DISALLOWED_HOSTS: Opt = opt("import_filtering_opts", "disallowed_hosts", "");
pub(super) const ALLOWED_PORTS: Opt = layer("import_filtering_opts", "allowed_ports", || {
    let ports: Vec<String> = import_filter()
        .allowed_ports
        .iter()
        .map(u16::to_string)
        .collect();
    render::list(&ports)
});
pub(super) const DISALLOWED_PORTS: Opt = opt("import_filtering_opts", "disallowed_ports", "");

/// Every option glint reads; anything else in a file produces a warning.
pub(super) const SUPPORTED: &[Opt] = &[
    BIND_HOST,
    BIND_PORT,
    IMAGE_SIZE_CAP,
    LIMIT_PARAM_DEFAULT,
    API_LIMIT_MAX,
    HASHING_ALGORITHM,
    IMAGE_PROPERTY_QUOTA,
    IMAGE_TAG_QUOTA,
    IMAGE_LOCATION_QUOTA,
    IMAGE_MEMBER_QUOTA,
    TASK_TIME_TO_LIVE,
    USER_STORAGE_QUOTA,
    USE_KEYSTONE_LIMITS,
    PUBLIC_ENDPOINT,
    MAX_REQUEST_ID_LENGTH,
    DELAYED_DELETE,
    SHOW_IMAGE_DIRECT_URL,
    SHOW_MULTIPLE_LOCATIONS,
    ALLOW_ANONYMOUS_ACCESS,
    PROPERTY_PROTECTION_FILE,
    PROPERTY_PROTECTION_RULE_FORMAT,
    IMAGE_CACHE_DIR,
    IMAGE_CACHE_MAX_SIZE,
    IMAGE_CACHE_STALL_TIME,
    IMAGE_CACHE_DRIVER,
    WORKER_SELF_REFERENCE_URL,
    ENABLED_IMPORT_METHODS,
    NODE_STAGING_URI,
    STAGING_STORE_DATADIR,
    SCRUB_TIME,
    SCRUB_POOL_SIZE,
    WAKEUP_TIME,
    DAEMON,
    RESTORE,
    CONNECTION,
    POOL_TIMEOUT,
    ENABLED_BACKENDS,
    DEFAULT_BACKEND,
    DEFAULT_STORE,
    STORES,
    FILESYSTEM_STORE_DATADIR,
    DISK_FORMATS,
    CONTAINER_FORMATS,
    REQUIRE_IMAGE_FORMAT_MATCH,
    VMDK_ALLOWED_TYPES,
    GPT_SAFETY_CHECKS_NONFATAL,
    FLAVOR,
    POLICY_FILE,
    REMOTE_CONTENT_TYPE,
    REMOTE_TIMEOUT,
    WWW_AUTHENTICATE_URI,
    AUTH_URI,
    AUTH_URL,
    AUTH_TYPE,
    USERNAME,
    USER_ID,
    PASSWORD,
    USER_DOMAIN_NAME,
    USER_DOMAIN_ID,
    PROJECT_NAME,
    PROJECT_ID,
    PROJECT_DOMAIN_NAME,
    PROJECT_DOMAIN_ID,
    DELAY_AUTH_DECISION,
    INCLUDE_SERVICE_CATALOG,
    TOKEN_CACHE_TIME,
    HTTP_CONNECT_TIMEOUT,
    HTTP_REQUEST_MAX_RETRIES,
    LIMIT_AUTH_URL,
    LIMIT_AUTH_TYPE,
    LIMIT_USERNAME,
    LIMIT_USER_ID,
    LIMIT_PASSWORD,
    LIMIT_USER_DOMAIN_NAME,
    LIMIT_USER_DOMAIN_ID,
    LIMIT_PROJECT_NAME,
    LIMIT_PROJECT_ID,
    LIMIT_PROJECT_DOMAIN_NAME,
    LIMIT_PROJECT_DOMAIN_ID,
    LIMIT_DOMAIN_NAME,
    LIMIT_DOMAIN_ID,
    LIMIT_SYSTEM_SCOPE,
    LIMIT_ENDPOINT_ID,
    LIMIT_ENDPOINT_SERVICE_NAME,
    LIMIT_ENDPOINT_SERVICE_TYPE,
    LIMIT_ENDPOINT_REGION_NAME,
    LIMIT_ENDPOINT_INTERFACE,
    LIMIT_TIMEOUT,
    LIMIT_CONNECT_RETRIES,
    KEYSTONE_LIMITS_CACHE_TIME,
    ALLOW_NOAUTH_ON_PUBLIC_ADDRESS,
    DATA_DIR,
    TOKEN_CACHE_SIZE,
    FILESYSTEM_STORE_DIRECT_IO,
    CLIENT_HEADER_TIMEOUT,
    KEEPALIVE_TIMEOUT,
    CLIENT_BODY_TIMEOUT,
    CLIENT_SEND_TIMEOUT,
    MAX_CONNECTIONS,
    DATABASE_STATEMENT_TIMEOUT,
    UPLOAD_LEASE_TIME,
    NOTIFICATION_DRIVER,
    NOTIFICATION_TRANSPORT_URL,
    NOTIFICATION_TOPICS,
    TRANSPORT_URL,
    CONTROL_EXCHANGE,
    DEFAULT_PUBLISHER_ID,
    DISABLED_NOTIFICATIONS,
    AMQP_DURABLE_QUEUES,
    AMQP_AUTO_DELETE,
    RABBIT_QUORUM_QUEUE,
    RABBIT_HA_QUEUES,
    RABBIT_RETRY_INTERVAL,
    RABBIT_INTERVAL_MAX,
    RABBIT_SSL,
    NOTIFICATION_QUEUE_SIZE,
    METRICS_BIND,
    LOG_FORMAT,
    HEALTHCHECK_DETAILED,
    HEALTHCHECK_BACKENDS,
    DISABLE_BY_FILE_PATH,
    DISABLE_BY_FILE_PATHS,
    ENABLE_BY_FILE_PATHS,
    SCRUBBER_IN_SERVE,
    ALLOWED_SCHEMES,
    DISALLOWED_SCHEMES,
    ALLOWED_HOSTS,
    DISALLOWED_HOSTS,
    ALLOWED_PORTS,
    DISALLOWED_PORTS,
    IMAGE_IMPORT_PLUGINS,
    OUTPUT_FORMAT,
    IGNORE_USER_ROLES,
    INJECT,
    DOWNLOAD_EXTRA_PROPERTIES,
    MAX_PARALLEL_STORES,
];

/// A supported option by section and name.
pub(super) fn find(section: &str, name: &str) -> Option<&'static Opt> {
    SUPPORTED
        .iter()
        .find(|opt| opt.section == section && opt.name == name)
}
