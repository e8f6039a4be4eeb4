//! The one table of options glint implements, with their defaults, and the
//! warnings for everything else found in a configuration file.
//!
//! To support a new option: add a constant here, list it in `SUPPORTED`,
//! read it in `sections.rs` and document it in `etc/glance-api.conf` (a test
//! checks the sample against this table).

use super::ini::IniFile;

/// One supported option. `default` is written the way it would be in a
/// configuration file and goes through the same conversion as a file value;
/// an empty default means "unset".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Opt {
    pub section: &'static str,
    pub name: &'static str,
    pub default: &'static str,
}

const fn opt(section: &'static str, name: &'static str, default: &'static str) -> Opt {
    Opt {
        section,
        name,
        default,
    }
}

pub(super) const BIND_HOST: Opt = opt("DEFAULT", "bind_host", "127.0.0.1");
pub(super) const BIND_PORT: Opt = opt("DEFAULT", "bind_port", "9292");
pub(super) const IMAGE_SIZE_CAP: Opt = opt("DEFAULT", "image_size_cap", "1099511627776");
pub(super) const LIMIT_PARAM_DEFAULT: Opt = opt("DEFAULT", "limit_param_default", "25");
pub(super) const API_LIMIT_MAX: Opt = opt("DEFAULT", "api_limit_max", "1000");
pub(super) const HASHING_ALGORITHM: Opt = opt("DEFAULT", "hashing_algorithm", "sha512");
pub(super) const IMAGE_PROPERTY_QUOTA: Opt = opt("DEFAULT", "image_property_quota", "128");
pub(super) const IMAGE_TAG_QUOTA: Opt = opt("DEFAULT", "image_tag_quota", "128");
pub(super) const IMAGE_MEMBER_QUOTA: Opt = opt("DEFAULT", "image_member_quota", "128");
pub(super) const USER_STORAGE_QUOTA: Opt = opt("DEFAULT", "user_storage_quota", "0");
pub(super) const PUBLIC_ENDPOINT: Opt = opt("DEFAULT", "public_endpoint", "");
pub(super) const MAX_REQUEST_ID_LENGTH: Opt = opt("DEFAULT", "max_request_id_length", "64");
pub(super) const DELAYED_DELETE: Opt = opt("DEFAULT", "delayed_delete", "false");
pub(super) const ALLOW_ANONYMOUS_ACCESS: Opt = opt("DEFAULT", "allow_anonymous_access", "false");
pub(super) const PROPERTY_PROTECTION_FILE: Opt = opt("DEFAULT", "property_protection_file", "");
pub(super) const PROPERTY_PROTECTION_RULE_FORMAT: Opt =
    opt("DEFAULT", "property_protection_rule_format", "roles");

pub(super) const CONNECTION: Opt = opt("database", "connection", "");

pub(super) const DEFAULT_STORE: Opt = opt("glance_store", "default_store", "file");
pub(super) const STORES: Opt = opt("glance_store", "stores", "file,http");
pub(super) const FILESYSTEM_STORE_DATADIR: Opt =
    opt("glance_store", "filesystem_store_datadir", "");

pub(super) const DISK_FORMATS: Opt = opt(
    "image_format",
    "disk_formats",
    "ami,ari,aki,vhd,vhdx,vmdk,raw,qcow2,vdi,iso,ploop",
);
pub(super) const CONTAINER_FORMATS: Opt = opt(
    "image_format",
    "container_formats",
    "ami,ari,aki,bare,ovf,ova,docker,compressed",
);
pub(super) const REQUIRE_IMAGE_FORMAT_MATCH: Opt =
    opt("image_format", "require_image_format_match", "true");
pub(super) const VMDK_ALLOWED_TYPES: Opt = opt(
    "image_format",
    "vmdk_allowed_types",
    "streamOptimized,monolithicSparse",
);

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
    opt("keystone_authtoken", "delay_auth_decision", "true");
pub(super) const INCLUDE_SERVICE_CATALOG: Opt =
    opt("keystone_authtoken", "include_service_catalog", "true");
pub(super) const TOKEN_CACHE_TIME: Opt = opt("keystone_authtoken", "token_cache_time", "300");
pub(super) const HTTP_CONNECT_TIMEOUT: Opt =
    opt("keystone_authtoken", "http_connect_timeout", "10");
pub(super) const HTTP_REQUEST_MAX_RETRIES: Opt =
    opt("keystone_authtoken", "http_request_max_retries", "3");

pub(super) const ALLOW_NOAUTH_ON_PUBLIC_ADDRESS: Opt =
    opt("glint", "allow_noauth_on_public_address", "false");
pub(super) const DATA_DIR: Opt = opt("glint", "data_dir", "./glint-data");
pub(super) const TOKEN_CACHE_SIZE: Opt = opt("glint", "token_cache_size", "10000");
pub(super) const FILESYSTEM_STORE_DIRECT_IO: Opt =
    opt("glint", "filesystem_store_direct_io", "true");
pub(super) const CLIENT_HEADER_TIMEOUT: Opt = opt("glint", "client_header_timeout", "30");
pub(super) const KEEPALIVE_TIMEOUT: Opt = opt("glint", "keepalive_timeout", "60");
pub(super) const CLIENT_BODY_TIMEOUT: Opt = opt("glint", "client_body_timeout", "120");
pub(super) const CLIENT_SEND_TIMEOUT: Opt = opt("glint", "client_send_timeout", "60");
pub(super) const MAX_CONNECTIONS: Opt = opt("glint", "max_connections", "4096");
pub(super) const DATABASE_STATEMENT_TIMEOUT: Opt = opt("glint", "database_statement_timeout", "30");
pub(super) const UPLOAD_LEASE_TIME: Opt = opt("glint", "upload_lease_time", "300");

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
    IMAGE_MEMBER_QUOTA,
    USER_STORAGE_QUOTA,
    PUBLIC_ENDPOINT,
    MAX_REQUEST_ID_LENGTH,
    DELAYED_DELETE,
    ALLOW_ANONYMOUS_ACCESS,
    PROPERTY_PROTECTION_FILE,
    PROPERTY_PROTECTION_RULE_FORMAT,
    CONNECTION,
    DEFAULT_STORE,
    STORES,
    FILESYSTEM_STORE_DATADIR,
    DISK_FORMATS,
    CONTAINER_FORMATS,
    REQUIRE_IMAGE_FORMAT_MATCH,
    VMDK_ALLOWED_TYPES,
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
];

/// Glance options that change behaviour and that glint does not implement
/// yet; `None` covers a whole section. They get a more specific warning than
/// options glint has no plans for.
const NOT_YET_IMPLEMENTED: &[(&str, Option<&str>)] = &[
    ("keystone_authtoken", Some("service_token_roles")),
    ("keystone_authtoken", Some("service_token_roles_required")),
    ("keystone_authtoken", Some("cafile")),
    ("keystone_authtoken", Some("certfile")),
    ("keystone_authtoken", Some("keyfile")),
    ("keystone_authtoken", Some("insecure")),
    ("oslo_limit", None),
    ("oslo_messaging_notifications", None),
    ("oslo_policy", Some("remote_ssl_verify_server_crt")),
    ("oslo_policy", Some("remote_ssl_ca_crt_file")),
    ("oslo_policy", Some("remote_ssl_client_crt_file")),
    ("oslo_policy", Some("remote_ssl_client_key_file")),
    ("DEFAULT", Some("enabled_backends")),
    ("DEFAULT", Some("enabled_import_methods")),
    ("DEFAULT", Some("image_location_quota")),
    ("DEFAULT", Some("show_image_direct_url")),
    ("DEFAULT", Some("show_multiple_locations")),
    ("glance_store", Some("default_backend")),
    ("DEFAULT", Some("use_keystone_limits")),
    ("DEFAULT", Some("image_cache_dir")),
    ("DEFAULT", Some("image_cache_max_size")),
    ("DEFAULT", Some("image_cache_stall_time")),
    ("DEFAULT", Some("node_staging_uri")),
    ("DEFAULT", Some("worker_self_reference_url")),
    ("DEFAULT", Some("scrub_time")),
    ("DEFAULT", Some("disabled_notifications")),
    ("DEFAULT", Some("transport_url")),
    ("task", Some("task_time_to_live")),
    ("task", Some("work_dir")),
    ("import_filtering_opts", None),
];

/// Options that are read by Glance but deliberately have no glint meaning.
const IGNORED: &[(&str, &str, &str)] = &[
    (
        "glance_store",
        "filesystem_store_chunk_size",
        "the file store writes in 4 MiB blocks and serves reads from a mapping of the file",
    ),
    (
        "paste_deploy",
        "config_file",
        "glint builds its request pipeline from [paste_deploy] flavor",
    ),
    (
        "oslo_policy",
        "enforce_new_defaults",
        "glint always enforces Glance's current (secure RBAC) default rules",
    ),
    (
        "oslo_policy",
        "enforce_scope",
        "glint always checks the token scope of rules that declare one",
    ),
    (
        "oslo_policy",
        "policy_dirs",
        "put every rule override in the file named by [oslo_policy] policy_file",
    ),
    (
        "keystone_authtoken",
        "memcached_servers",
        "glint caches validated tokens in its own memory ([glint] token_cache_size)",
    ),
    (
        "keystone_authtoken",
        "memcache_security_strategy",
        "glint caches validated tokens in its own memory, keyed by their SHA-256",
    ),
    (
        "keystone_authtoken",
        "memcache_secret_key",
        "glint caches validated tokens in its own memory, keyed by their SHA-256",
    ),
];

/// Sections Glance (or a library it configures) reads. Unknown options in
/// these are reported one by one; a section outside this list is reported
/// once as a whole.
const KNOWN_SECTIONS: &[&str] = &[
    "DEFAULT",
    "database",
    "glance_store",
    "image_format",
    "paste_deploy",
    "glint",
    "keystone_authtoken",
    "oslo_policy",
    "oslo_limit",
    "oslo_messaging_notifications",
    "oslo_messaging_rabbit",
    "oslo_concurrency",
    "oslo_middleware",
    "task",
    "taskflow_executor",
    "wsgi",
    "image_import_opts",
    "import_filtering_opts",
    "image_conversion",
    "inject_metadata_properties",
    "backend_defaults",
    "os_glance_staging_store",
    "os_glance_tasks_store",
    "cors",
    "healthcheck",
    "profiler",
];

/// The built-in default of a supported option.
pub(super) fn default_of(section: &str, name: &str) -> Option<&'static str> {
    SUPPORTED
        .iter()
        .find(|opt| opt.section == section && opt.name == name)
        .map(|opt| opt.default)
}

fn is_whole_section_pending(section: &str) -> bool {
    NOT_YET_IMPLEMENTED.contains(&(section, None))
}

/// One warning per option (or unknown section) that glint will not act on.
pub(super) fn warnings(ini: &IniFile) -> Vec<String> {
    let mut warnings = Vec::new();
    for section in ini.sections() {
        if is_whole_section_pending(section) {
            warnings.push(format!(
                "section [{section}] is not implemented by glint yet and is ignored"
            ));
        } else if !KNOWN_SECTIONS.contains(&section) {
            warnings.push(format!(
                "section [{section}] is not supported by glint and is ignored"
            ));
        }
    }
    for (section, name) in ini.keys() {
        if KNOWN_SECTIONS.contains(&section) && !is_whole_section_pending(section) {
            warnings.extend(option_warning(section, name));
        }
    }
    warnings
}

fn option_warning(section: &str, name: &str) -> Option<String> {
    if default_of(section, name).is_some() {
        return None;
    }
    if let Some((_, _, reason)) = IGNORED.iter().find(|(s, n, _)| *s == section && *n == name) {
        return Some(format!("option [{section}] {name} is ignored: {reason}"));
    }
    if NOT_YET_IMPLEMENTED.contains(&(section, Some(name))) {
        return Some(format!(
            "option [{section}] {name} is not implemented by glint yet and is ignored"
        ));
    }
    Some(format!(
        "option [{section}] {name} is not supported by glint and is ignored"
    ))
}
