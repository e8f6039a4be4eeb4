//! The warnings for everything in a configuration file that glint will not
//! act on: options it does not implement (yet), ignores, or does not know.

use super::ini::IniFile;
use super::options;
use super::stores;

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
    ("oslo_policy", Some("remote_ssl_verify_server_crt")),
    ("oslo_policy", Some("remote_ssl_ca_crt_file")),
    ("oslo_policy", Some("remote_ssl_client_crt_file")),
    ("oslo_policy", Some("remote_ssl_client_key_file")),
    ("task", Some("work_dir")),
    ("healthcheck", Some("allowed_source_ranges")),
    ("healthcheck", Some("ignore_proxied_requests")),
];

/// Options that are read by Glance but deliberately have no glint meaning.
const IGNORED: &[(&str, &str, &str)] = &[
    (
        "DEFAULT",
        "image_cache_sqlite_db",
        "glint keeps the image cache's records in its database (image_cache_driver = \
         centralized_db)",
    ),
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
        "oslo_messaging_notifications",
        "retry",
        "glint retries until a notification is sent; new ones are dropped while its queue \
         ([glint] notification_queue_size) is full",
    ),
    (
        "healthcheck",
        "path",
        "glint answers health checks at /healthcheck, where Glance's paste pipeline mounts them",
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
    "glance_download_properties",
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

fn is_whole_section_pending(section: &str) -> bool {
    NOT_YET_IMPLEMENTED.contains(&(section, None))
}

/// One warning per option (or unknown section) that glint will not act on.
pub(super) fn warnings(ini: &IniFile) -> Vec<String> {
    let mut warnings = Vec::new();
    let backends = stores::enabled_backends(ini);
    let backend = |section: &str| {
        backends
            .iter()
            .find(|(id, _)| id == section)
            .map(|(_, kind)| *kind)
    };
    for section in ini.sections() {
        if backend(section).is_some() {
            continue;
        }
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
        if let Some(kind) = backend(section) {
            if !stores::is_backend_option(kind, name) {
                warnings.push(format!(
                    "option [{section}] {name} is not an option of a {} store in glint and is ignored",
                    kind.name()
                ));
            }
            continue;
        }
        let store_section = matches!(section, "glance_store" | "backend_defaults");
        if store_section && stores::is_store_option(name) {
            continue;
        }
        if KNOWN_SECTIONS.contains(&section) && !is_whole_section_pending(section) {
            warnings.extend(option_warning(section, name));
        }
    }
    warnings
}

fn option_warning(section: &str, name: &str) -> Option<String> {
    if options::find(section, name).is_some() {
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
