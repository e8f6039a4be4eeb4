use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use glint_core::RuleFormat;
use glint_store::{HashAlgo, WriteStrategy};
use url::Url;

use super::*;

mod connections;
mod import;
mod limits;
mod notifications;
mod observability;
mod plugins;
mod protections;
mod sample;
mod scrubber;
mod stores;

fn load_text(text: &str) -> Result<(GlanceConfig, Vec<String>), ConfigError> {
    GlanceConfig::from_ini(IniFile::parse(text, Path::new("glance-api.conf"))?)
}

fn config(text: &str) -> GlanceConfig {
    let (config, _warnings) = load_text(text).unwrap();
    config
}

fn warnings(text: &str) -> Vec<String> {
    load_text(text).unwrap().1
}

fn error(text: &str) -> String {
    load_text(text).unwrap_err().to_string()
}

fn defaults() -> GlanceConfig {
    GlanceConfig::load(&[]).unwrap().0
}

/// Writes `text` to a fresh file under the system temp directory.
fn temp_file(text: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("glint-config-{}-{n}.conf", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn no_file_gives_glance_defaults_with_glint_bind_host() {
    let (config, warnings) = GlanceConfig::load(&[]).unwrap();
    assert!(warnings.is_empty());
    let d = &config.default;
    assert_eq!(d.bind_host, "127.0.0.1");
    assert_eq!(d.bind_port, 9292);
    assert_eq!(d.image_size_cap, 1_099_511_627_776);
    assert_eq!((d.limit_param_default, d.api_limit_max), (25, 1000));
    assert_eq!(d.hashing_algorithm, HashAlgo::Sha512);
    assert_eq!(d.image_property_quota, Some(128));
    assert_eq!(d.image_tag_quota, Some(128));
    assert_eq!(d.image_member_quota, Some(128));
    assert_eq!(d.user_storage_quota, None);
    assert!(!d.delayed_delete && !d.allow_anonymous_access);
    assert_eq!(d.public_endpoint, None);
    assert_eq!(d.max_request_id_length, 64);
    assert_eq!(d.property_protection_file, None);
    assert_eq!(d.property_protection_rule_format, RuleFormat::Roles);
    assert_eq!(config.database.url, None);
    let store = &config.glance_store;
    assert_eq!(store.default_store, StoreType::File);
    assert_eq!(store.stores, [StoreType::File, StoreType::Http]);
    assert_eq!(store.filesystem_store_datadir, None);
    let formats = &config.image_format;
    assert_eq!(
        formats.formats.disk_formats.join(","),
        "ami,ari,aki,vhd,vhdx,vmdk,raw,qcow2,vdi,iso,ploop"
    );
    assert_eq!(
        formats.formats.container_formats.join(","),
        "ami,ari,aki,bare,ovf,ova,docker,compressed"
    );
    assert!(formats.upload_rules.require_image_format_match);
    assert_eq!(
        formats.upload_rules.vmdk_allowed_types,
        ["streamOptimized", "monolithicSparse"]
    );
    assert_eq!(config.paste_deploy.flavor, AuthMode::NoAuth);
    assert!(!config.glint.allow_noauth_on_public_address);
    assert_eq!(config.glint.data_dir, Path::new("./glint-data"));
}

#[test]
fn defaults_place_database_and_images_in_the_data_dir() {
    let config = defaults();
    assert_eq!(
        config.database_url().unwrap(),
        "sqlite://./glint-data/glint.sqlite?mode=rwc"
    );
    assert_eq!(
        config.filesystem_store_datadir(),
        Path::new("./glint-data/images")
    );
}

const NON_DEFAULTS: &str = "
[DEFAULT]
bind_host = 0.0.0.0
bind_port = 19292
image_size_cap = 9223372036854775808
limit_param_default = 10
api_limit_max = 500
hashing_algorithm = sha256
image_property_quota = 5
image_tag_quota = -1
image_member_quota = 0
user_storage_quota = 5GB
public_endpoint = https://images.example.com/
max_request_id_length = 128
delayed_delete = on
allow_anonymous_access = 1
property_protection_file = /etc/glance/property-protections.conf
property_protection_rule_format = policies
image_cache_dir = /var/cache/glint
image_cache_max_size = 1000
image_cache_stall_time = 60
image_cache_driver = sqlite
worker_self_reference_url = http://node-1:9292
[database]
connection = mysql+pymysql://glance:secret@db.example.com/glance?charset=utf8
[glance_store]
default_store = filesystem
stores = file
filesystem_store_datadir = /srv/images
[image_format]
disk_formats = raw,qcow2
container_formats = bare
require_image_format_match = false
vmdk_allowed_types = streamOptimized
[paste_deploy]
flavor = keystone+cachemanagement
[keystone_authtoken]
www_authenticate_uri = https://keystone.example.com/identity
auth_uri = https://old.example.com/identity
auth_url = http://keystone.internal:5000/v3
auth_type = password
username = glance
user_id = 0123abc
password = pa$$word
user_domain_name = Default
user_domain_id = default
project_name = service
project_id = 4567def
project_domain_name = Default
project_domain_id = default
delay_auth_decision = false
include_service_catalog = false
token_cache_time = 60
http_connect_timeout = 3
http_request_max_retries = 0
[glint]
allow_noauth_on_public_address = true
data_dir = /var/lib/glint
token_cache_size = 50
filesystem_store_direct_io = false
database_statement_timeout = 2.5
upload_lease_time = 60
";

#[test]
fn every_option_is_read_when_set() {
    let (config, warnings) = load_text(NON_DEFAULTS).unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].starts_with("option [DEFAULT] image_cache_driver = sqlite is served as"));
    let d = &config.default;
    assert_eq!((d.bind_host.as_str(), d.bind_port), ("0.0.0.0", 19292));
    assert_eq!(d.image_size_cap, 1 << 63);
    assert_eq!((d.limit_param_default, d.api_limit_max), (10, 500));
    assert_eq!(d.hashing_algorithm, HashAlgo::Sha256);
    assert_eq!(d.image_property_quota, Some(5));
    assert_eq!(d.image_tag_quota, None);
    assert_eq!(d.image_member_quota, Some(0));
    assert_eq!(d.user_storage_quota, Some(5 << 30));
    assert!(d.delayed_delete && d.allow_anonymous_access);
    assert_eq!(
        d.public_endpoint.as_deref(),
        Some("https://images.example.com/")
    );
    assert_eq!(d.max_request_id_length, 128);
    assert_eq!(
        d.property_protection_file.as_deref(),
        Some(Path::new("/etc/glance/property-protections.conf"))
    );
    assert_eq!(d.property_protection_rule_format, RuleFormat::Policies);
    assert_eq!(
        config.database_url().unwrap(),
        "mysql://glance:secret@db.example.com/glance?charset=utf8"
    );
    let store = &config.glance_store;
    assert_eq!(
        (store.default_store, store.stores.as_slice()),
        (StoreType::File, &[StoreType::File][..])
    );
    assert_eq!(config.filesystem_store_datadir(), Path::new("/srv/images"));
    let formats = &config.image_format;
    assert_eq!(
        (
            formats.formats.disk_formats.as_slice(),
            formats.formats.container_formats.as_slice()
        ),
        (
            &["raw".to_owned(), "qcow2".to_owned()][..],
            &["bare".to_owned()][..]
        )
    );
    assert!(!formats.upload_rules.require_image_format_match);
    assert_eq!(formats.upload_rules.vmdk_allowed_types, ["streamOptimized"]);
    assert_eq!(config.paste_deploy.flavor, AuthMode::Keystone);
    assert_eq!(config.paste_deploy.cache, CacheFlavor::Management);
    assert_eq!(
        config.default.image_cache,
        ImageCacheConfig {
            dir: Some("/var/cache/glint".into()),
            max_size: 1000,
            stall_time: std::time::Duration::from_secs(60),
            driver: CacheDriver::Sqlite,
            worker_self_reference_url: Some("http://node-1:9292".into()),
        }
    );
    assert!(config.glint.allow_noauth_on_public_address);
    assert_eq!(config.glint.data_dir, Path::new("/var/lib/glint"));
    assert_eq!(config.glint.token_cache_size, 50);
    assert_eq!(config.glint.write_strategy, WriteStrategy::Buffered);
    assert_eq!(
        config.glint.database.statement_timeout,
        Some(std::time::Duration::from_millis(2500))
    );
    assert_eq!(
        config.glint.upload_lease_time,
        std::time::Duration::from_secs(60)
    );
    let ks = &config.keystone_authtoken;
    assert_eq!(
        ks.www_authenticate_uri(),
        "https://keystone.example.com/identity"
    );
    assert_eq!(
        ks.auth_url.as_ref().map(Url::as_str),
        Some("http://keystone.internal:5000/v3")
    );
    assert_eq!(ks.auth_type.as_deref(), Some("password"));
    assert_eq!(
        (ks.username.as_deref(), ks.user_id.as_deref()),
        (Some("glance"), Some("0123abc"))
    );
    assert_eq!(ks.password, Secret("pa$word".into()));
    assert_eq!(
        (ks.user_domain_name.as_deref(), ks.user_domain_id.as_deref()),
        (Some("Default"), Some("default"))
    );
    assert_eq!(
        (ks.project_name.as_deref(), ks.project_id.as_deref()),
        (Some("service"), Some("4567def"))
    );
    assert_eq!(
        (
            ks.project_domain_name.as_deref(),
            ks.project_domain_id.as_deref()
        ),
        (Some("Default"), Some("default"))
    );
    assert!(!ks.delay_auth_decision && !ks.include_service_catalog);
    assert_eq!(ks.token_cache_time, Some(Duration::from_secs(60)));
    assert_eq!(ks.http_connect_timeout, Duration::from_secs(3));
    assert_eq!(ks.http_request_max_retries, 0);
}

/// A complete `[keystone_authtoken]` section for the given flavor.
fn keystone(flavor: &str) -> String {
    format!(
        "[paste_deploy]\nflavor = {flavor}\n[keystone_authtoken]\n\
         auth_url = http://127.0.0.1:5000\nauth_type = password\nusername = glance\n\
         password = secret\nproject_name = service\nuser_domain_name = Default\n\
         project_domain_name = Default\n"
    )
}

#[test]
fn keystone_defaults_follow_glance_pipeline_and_keystonemiddleware() {
    let config = config(&keystone("keystone"));
    let ks = &config.keystone_authtoken;
    assert!(ks.delay_auth_decision, "Glance's paste pipeline sets it");
    assert!(ks.include_service_catalog);
    assert_eq!(ks.token_cache_time, Some(Duration::from_secs(300)));
    assert_eq!(ks.http_connect_timeout, Duration::from_secs(10));
    assert_eq!(ks.http_request_max_retries, 3);
    assert_eq!(ks.www_authenticate_uri(), "http://127.0.0.1:5000");
    assert_eq!(config.glint.token_cache_size, 10_000);
    assert_eq!(config.glint.write_strategy, WriteStrategy::Direct);
    assert_eq!(format!("{:?}", ks.password), "\"***\"");
}

#[test]
fn keystone_flavor_names_every_missing_option() {
    assert_eq!(
        error("[paste_deploy]\nflavor = keystone\n"),
        "missing options in [keystone_authtoken]: auth_url, auth_type, username (or user_id), \
         password, project_name (or project_id) ([paste_deploy] flavor selects Keystone \
         authentication)"
    );
    let partial = "[paste_deploy]\nflavor = keystone+caching\n[keystone_authtoken]\n\
                   auth_url = http://k:5000\nauth_type = password\nusername = glance\n\
                   password = x\nproject_name = service\n";
    assert_eq!(
        error(partial),
        "missing options in [keystone_authtoken]: user_domain_name (or user_domain_id), \
         project_domain_name (or project_domain_id) ([paste_deploy] flavor selects Keystone \
         authentication)"
    );
    let by_id = "[paste_deploy]\nflavor = keystone\n[keystone_authtoken]\n\
                 auth_url = http://k:5000\nauth_type = v3password\nuser_id = u1\n\
                 password = x\nproject_id = p1\n";
    config(by_id);
}

#[test]
fn keystone_section_is_not_required_without_the_flavor() {
    let config = config("[keystone_authtoken]\nauth_type = token\n");
    assert_eq!(config.paste_deploy.flavor, AuthMode::NoAuth);
}

#[test]
fn keystone_options_with_bad_values_are_rejected() {
    let with = |line: &str| format!("{}{line}\n", keystone("keystone"));
    assert_rejected(&[
        (
            &with("auth_type = v3token"),
            "invalid value 'v3token' for option [keystone_authtoken] auth_type: glint supports \
             only the password authentication plugin",
        ),
        (
            &with("auth_url = https://keystone.example.com"),
            "[keystone_authtoken] auth_url: this build of glint talks to the identity service \
             over plain http only",
        ),
        (
            &with("auth_url = keystone:5000"),
            "[keystone_authtoken] auth_url: must be an http URL",
        ),
        (
            &with("token_cache_time = -5"),
            "[keystone_authtoken] token_cache_time: must be at least 0 (or -1 to disable",
        ),
        (
            &with("http_connect_timeout = 0"),
            "[keystone_authtoken] http_connect_timeout: must be at least 1",
        ),
        (
            &with("delay_auth_decision = perhaps"),
            "[keystone_authtoken] delay_auth_decision: not a boolean",
        ),
        (
            "[glint]\ntoken_cache_size = 0",
            "[glint] token_cache_size: must be at least 1",
        ),
    ]);
}

#[test]
fn token_cache_time_of_minus_one_or_zero_disables_the_cache() {
    for value in ["-1", "0"] {
        let text = format!("{}token_cache_time = {value}\n", keystone("keystone"));
        assert_eq!(config(&text).keystone_authtoken.token_cache_time, None);
    }
}

#[test]
fn www_authenticate_uri_falls_back_to_auth_uri_then_auth_url() {
    let text = format!("{}auth_uri = http://public:5000\n", keystone("keystone"));
    assert_eq!(
        config(&text).keystone_authtoken.www_authenticate_uri(),
        "http://public:5000"
    );
}

#[test]
fn flavors_map_to_auth_modes() {
    let flavor = |f: &str| config(&keystone(f)).paste_deploy.flavor;
    assert_eq!(flavor(""), AuthMode::NoAuth);
    assert_eq!(flavor("keystone"), AuthMode::Keystone);
}

#[test]
fn caching_flavors_turn_the_cache_middleware_on_and_need_a_cache_dir() {
    let cache = |f: &str| {
        let text = format!("{}[DEFAULT]\nimage_cache_dir = /tmp/c\n", keystone(f));
        let config = config(&text);
        (config.paste_deploy.flavor, config.paste_deploy.cache)
    };
    assert_eq!(cache(""), (AuthMode::NoAuth, CacheFlavor::Off));
    assert_eq!(cache("caching"), (AuthMode::NoAuth, CacheFlavor::Caching));
    assert_eq!(
        cache("cachemanagement"),
        (AuthMode::NoAuth, CacheFlavor::Management)
    );
    assert_eq!(cache("keystone"), (AuthMode::Keystone, CacheFlavor::Off));
    assert_eq!(
        cache("keystone+caching"),
        (AuthMode::Keystone, CacheFlavor::Caching)
    );
    assert_eq!(
        cache("keystone+cachemanagement"),
        (AuthMode::Keystone, CacheFlavor::Management)
    );
    for flavor in ["caching", "keystone+cachemanagement"] {
        assert_eq!(
            error(&keystone(flavor)),
            "missing options in [DEFAULT]: image_cache_dir ([paste_deploy] flavor caches images)"
        );
    }
}

#[test]
fn image_cache_options_take_glances_defaults_and_refuse_bad_values() {
    let cache = config("").default.image_cache;
    assert_eq!(cache.dir, None);
    assert_eq!(cache.max_size, 10 * 1024 * 1024 * 1024);
    assert_eq!(cache.stall_time, std::time::Duration::from_secs(86_400));
    assert_eq!(cache.driver, CacheDriver::CentralizedDb);
    assert_eq!(cache.worker_self_reference_url, None);
    for (text, message) in [
        (
            "image_cache_max_size = -1",
            "invalid value '-1' for option [DEFAULT] image_cache_max_size",
        ),
        (
            "image_cache_driver = memcached",
            "invalid value 'memcached' for option [DEFAULT] image_cache_driver: must be centralized_db, sqlite or xattr",
        ),
        (
            "worker_self_reference_url = ftp://node",
            "invalid value 'ftp://node' for option [DEFAULT] worker_self_reference_url: must be an http or https URL",
        ),
        (
            "image_cache_stall_time = soon",
            "invalid value 'soon' for option [DEFAULT] image_cache_stall_time",
        ),
    ] {
        let got = error(&format!("[DEFAULT]\n{text}\n"));
        assert!(got.starts_with(message), "{got}");
    }
}

#[test]
fn other_cache_drivers_are_served_as_centralized_db_with_a_warning() {
    let (_, warnings) =
        load_text("[DEFAULT]\nimage_cache_driver = xattr\nimage_cache_sqlite_db = c.db\n").unwrap();
    assert!(
        warnings.iter().any(|w| w.starts_with(
            "option [DEFAULT] image_cache_driver = xattr is served as centralized_db"
        )),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("option [DEFAULT] image_cache_sqlite_db is ignored")),
        "{warnings:?}"
    );
    let (_, warnings) = load_text("[DEFAULT]\nimage_cache_driver = centralized_db\n").unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn files_load_in_order_with_later_files_winning() {
    let first = temp_file("[DEFAULT]\nbind_port = 1000\nimage_tag_quota = 7\n");
    let second = temp_file("[DEFAULT]\nbind_port = 2000\n");
    let result = GlanceConfig::load(&[first.clone(), second.clone()]);
    let _ = (std::fs::remove_file(first), std::fs::remove_file(second));
    let config = result.unwrap().0;
    assert_eq!(config.default.bind_port, 2000);
    assert_eq!(config.default.image_tag_quota, Some(7));
}

#[test]
fn missing_file_is_a_read_error_naming_the_path() {
    let path = PathBuf::from("/nonexistent/glint/glance-api.conf");
    let error = GlanceConfig::load(&[path]).unwrap_err();
    assert!(matches!(error, ConfigError::Read { .. }));
    assert!(
        error
            .to_string()
            .starts_with("cannot read configuration file /nonexistent/glint/glance-api.conf")
    );
}

#[test]
fn syntax_error_names_file_and_line() {
    let path = temp_file("[DEFAULT]\nbind_port = 1\nnonsense\n");
    let result = GlanceConfig::load(std::slice::from_ref(&path));
    let _ = std::fs::remove_file(&path);
    let error = result.unwrap_err();
    assert!(
        matches!(error, ConfigError::Syntax { line: 3, .. }),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}:3: no ':' or '='", path.display()))
    );
}

#[test]
fn non_integer_port_is_rejected_with_section_option_value_and_reason() {
    assert_eq!(
        error("[DEFAULT]\nbind_port = abc\n"),
        "invalid value 'abc' for option [DEFAULT] bind_port: not an integer"
    );
    assert_eq!(
        error("[DEFAULT]\nbind_port = 70000\n"),
        "invalid value '70000' for option [DEFAULT] bind_port: must be at most 65535"
    );
}

fn assert_rejected(cases: &[(&str, &str)]) {
    for (text, expected) in cases {
        let message = error(text);
        assert!(message.contains(expected), "{text:?} gave {message:?}");
    }
}

#[test]
fn bad_values_in_default_section_are_rejected() {
    assert_rejected(&[
        (
            "[DEFAULT]\nlimit_param_default = -5",
            "[DEFAULT] limit_param_default: must be at least 1",
        ),
        (
            "[DEFAULT]\napi_limit_max = 0",
            "[DEFAULT] api_limit_max: must be at least 1",
        ),
        (
            "[DEFAULT]\nimage_size_cap = 9223372036854775809",
            "[DEFAULT] image_size_cap: must be at most",
        ),
        (
            "[DEFAULT]\nhashing_algorithm = blake2b",
            "[DEFAULT] hashing_algorithm: unsupported hashing algorithm",
        ),
        (
            "[DEFAULT]\nhashing_algorithm = SHA512",
            "[DEFAULT] hashing_algorithm: unsupported hashing algorithm",
        ),
        (
            "[DEFAULT]\nimage_tag_quota = lots",
            "[DEFAULT] image_tag_quota: not an integer",
        ),
        (
            "[DEFAULT]\nuser_storage_quota = 5 GB",
            "[DEFAULT] user_storage_quota: expected a non-negative integer",
        ),
        (
            "[DEFAULT]\npublic_endpoint = not a url",
            "[DEFAULT] public_endpoint: not a valid URL",
        ),
        (
            "[DEFAULT]\npublic_endpoint = ftp://x/",
            "[DEFAULT] public_endpoint: must be an http or https URL",
        ),
        (
            "[DEFAULT]\nbind_host = ",
            "[DEFAULT] bind_host: not an IP address or host name",
        ),
        (
            "[DEFAULT]\nproperty_protection_rule_format = Roles",
            "[DEFAULT] property_protection_rule_format: must be roles or policies",
        ),
    ]);
}

#[test]
fn bad_values_in_other_sections_are_rejected() {
    assert_rejected(&[
        (
            "[database]\nconnection = oracle://db/x",
            "[database] connection: unsupported database dialect",
        ),
        (
            "[glance_store]\nstores = file,cinder",
            "[glance_store] stores: unsupported store 'cinder'",
        ),
        (
            "[glance_store]\nstores = http",
            "[glance_store] default_store: not one of [glance_store] stores",
        ),
        (
            "[glance_store]\ndefault_store = http",
            "[glance_store] default_store: the http store is read-only",
        ),
        (
            "[image_format]\nrequire_image_format_match = sure",
            "[image_format] require_image_format_match: not a boolean",
        ),
        (
            "[paste_deploy]\nflavor = trusted-auth",
            "invalid value 'trusted-auth' for option [paste_deploy] flavor: unsupported flavor",
        ),
        ("[glint]\ndata_dir =", "[glint] data_dir: must not be empty"),
    ]);
}

#[test]
fn no_auth_refuses_a_public_bind_host() {
    let message = error("[DEFAULT]\nbind_host = 0.0.0.0\n");
    assert!(
        message.starts_with(
            "invalid value '0.0.0.0' for option [DEFAULT] bind_host: without authentication"
        ),
        "{message}"
    );
    assert!(load_text("[DEFAULT]\nbind_host = glance.example.com\n").is_err());
}

#[test]
fn no_auth_accepts_loopback_addresses() {
    for host in [
        "127.0.0.1",
        "127.0.0.2",
        "::1",
        "[::1]",
        "localhost",
        "::ffff:127.0.0.1",
    ] {
        assert_eq!(
            config(&format!("[DEFAULT]\nbind_host = {host}\n"))
                .default
                .bind_host,
            host
        );
    }
}

#[test]
fn public_bind_host_is_allowed_with_keystone_or_explicit_override() {
    config(&format!(
        "[DEFAULT]\nbind_host = 0.0.0.0\n{}",
        keystone("keystone")
    ));
    config("[DEFAULT]\nbind_host = 0.0.0.0\n[glint]\nallow_noauth_on_public_address = true\n");
}

#[test]
fn unknown_and_unimplemented_options_warn_but_do_not_fail() {
    let text = "[DEFAULT]\nfoo = 1\ndebug = true\n\
                [keystone_authtoken]\nauth_url = http://k\nmemcached_servers = m:11211\n\
                cafile = /etc/ca.pem\n[oslo_policy]\nenforce_scope = false\n\
                [paste_deploy]\nconfig_file = glance-api-paste.ini\n\
                [glint]\ntypo = 1\n[my_backend]\nstore_description = x\n";
    assert_eq!(
        warnings(text),
        [
            "section [my_backend] is not supported by glint and is ignored",
            "option [DEFAULT] foo is not supported by glint and is ignored",
            "option [DEFAULT] debug is not supported by glint and is ignored",
            "option [keystone_authtoken] memcached_servers is ignored: glint caches validated \
             tokens in its own memory ([glint] token_cache_size)",
            "option [keystone_authtoken] cafile is not implemented by glint yet and is ignored",
            "option [oslo_policy] enforce_scope is ignored: glint always checks the token scope of rules that declare one",
            "option [paste_deploy] config_file is ignored: glint builds its request pipeline from [paste_deploy] flavor",
            "option [glint] typo is not supported by glint and is ignored",
        ]
    );
}

/// Glance options that glint reads no meaning from yet: setting one must
/// say so at start instead of silently doing nothing.
#[test]
fn options_without_effect_are_warned_about() {
    let text = "[task]\nwork_dir = /tmp/work\n\
                [glance_store]\nfilesystem_store_chunk_size = 1048576\n";
    let pending = |section: &str, name: &str| {
        format!("option [{section}] {name} is not implemented by glint yet and is ignored")
    };
    assert_eq!(
        warnings(text),
        [
            pending("task", "work_dir"),
            "option [glance_store] filesystem_store_chunk_size is ignored: the file store \
             writes in 4 MiB blocks and serves reads from a mapping of the file"
                .to_owned(),
        ]
    );
}

#[test]
fn section_names_other_than_default_are_case_insensitive() {
    let config = config("[Database]\nconnection = sqlite:////tmp/g.db\n");
    assert_eq!(
        config.database_url().unwrap(),
        "sqlite:///tmp/g.db?mode=rwc"
    );
    assert_eq!(
        warnings("[default]\nbind_port = 1\n"),
        ["section [default] is not supported by glint and is ignored"]
    );
}

#[test]
fn substitution_reads_same_section_default_section_and_built_in_defaults() {
    let text = "[DEFAULT]\nstate_path = /srv/glance\n\
                [glance_store]\nfilesystem_store_datadir = $state_path/images\n\
                [glint]\ndata_dir = ${state_path}/glint\n";
    let config = config(text);
    assert_eq!(
        config.filesystem_store_datadir(),
        Path::new("/srv/glance/images")
    );
    assert_eq!(config.glint.data_dir, Path::new("/srv/glance/glint"));
    let config = self::config("[glance_store]\nfilesystem_store_datadir = ${glint.data_dir}/img\n");
    assert_eq!(
        config.filesystem_store_datadir(),
        Path::new("./glint-data/img")
    );
    let config =
        self::config("[DEFAULT]\napi_limit_max = 40\nlimit_param_default = $api_limit_max\n");
    assert_eq!(config.default.limit_param_default, 40);
    // An unset option a layer owns stands for that layer's default.
    let config = self::config("[DEFAULT]\nlimit_param_default = $api_limit_max\n");
    assert_eq!(
        config.default.limit_param_default,
        glint_core::ImageConfig::default().api_limit_max
    );
}

#[test]
fn unknown_substitution_reference_is_an_error_and_dollars_can_be_escaped() {
    assert_eq!(
        error("[database]\nconnection = mysql://glance:pa$word@db/glance\n"),
        "invalid value 'mysql://glance:pa$word@db/glance' for option [database] connection: unknown substitution reference $word"
    );
    let config = config("[database]\nconnection = mysql://glance:pa$$word@db/glance\n");
    assert_eq!(
        config.database.url.as_deref(),
        Some("mysql://glance:pa$word@db/glance")
    );
}

#[test]
fn default_policy_file_is_optional() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("glance-api.conf");
    std::fs::write(&conf, "[DEFAULT]\n").unwrap();
    let (config, _) = GlanceConfig::load(&[conf]).unwrap();
    assert_eq!(config.policy_file_path().unwrap(), None);
    assert_eq!(defaults().policy_file_path().unwrap(), None);
}

#[test]
fn default_policy_file_next_to_the_config_file_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("glance-api.conf");
    std::fs::write(&conf, "[DEFAULT]\n").unwrap();
    std::fs::write(dir.path().join("policy.yaml"), "{}\n").unwrap();
    let (config, _) = GlanceConfig::load(&[conf]).unwrap();
    assert_eq!(
        config.policy_file_path().unwrap(),
        Some(dir.path().join("policy.yaml"))
    );
}

#[test]
fn relative_policy_file_is_found_next_to_the_last_config_file_that_has_it() {
    let first = tempfile::tempdir().unwrap();
    let second = tempfile::tempdir().unwrap();
    let a = first.path().join("a.conf");
    let b = second.path().join("b.conf");
    std::fs::write(&a, "[oslo_policy]\npolicy_file = rules.json\n").unwrap();
    std::fs::write(&b, "[DEFAULT]\n").unwrap();
    std::fs::write(first.path().join("rules.json"), "{}").unwrap();
    let (config, _) = GlanceConfig::load(&[a.clone(), b.clone()]).unwrap();
    assert_eq!(
        config.policy_file_path().unwrap(),
        Some(first.path().join("rules.json"))
    );
    std::fs::write(second.path().join("rules.json"), "{}").unwrap();
    let (config, _) = GlanceConfig::load(&[a, b]).unwrap();
    assert_eq!(
        config.policy_file_path().unwrap(),
        Some(second.path().join("rules.json"))
    );
}

#[test]
fn named_policy_file_that_does_not_exist_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("glance-api.conf");
    std::fs::write(&conf, "[oslo_policy]\npolicy_file = missing.yaml\n").unwrap();
    let (config, _) = GlanceConfig::load(&[conf]).unwrap();
    let err = config.policy_file_path().unwrap_err().to_string();
    assert!(
        err.starts_with("invalid value 'missing.yaml' for option [oslo_policy] policy_file"),
        "{err}"
    );
    assert!(err.contains("missing.yaml"), "{err}");

    let absolute = dir.path().join("nope.yaml");
    let text = format!("[oslo_policy]\npolicy_file = {}\n", absolute.display());
    let err = config_policy_error(&text);
    assert!(err.contains("policy file not found"), "{err}");
}

fn config_policy_error(text: &str) -> String {
    config(text).policy_file_path().unwrap_err().to_string()
}

#[test]
fn gpt_safety_checks_nonfatal_is_read_as_a_list() {
    let c = config("");
    assert!(
        c.image_format
            .upload_rules
            .gpt_safety_checks_nonfatal
            .is_empty()
    );
    let c = config("[image_format]\ngpt_safety_checks_nonfatal = mbr\n");
    assert_eq!(
        c.image_format.upload_rules.gpt_safety_checks_nonfatal,
        ["mbr"]
    );
}

#[test]
fn an_empty_vmdk_allowed_types_allows_no_vmdk() {
    let c = config("[image_format]\nvmdk_allowed_types =\n");
    assert!(c.image_format.upload_rules.vmdk_allowed_types.is_empty());
    let c = config("[image_format]\nvmdk_allowed_types = [streamOptimized]\n");
    assert_eq!(
        c.image_format.upload_rules.vmdk_allowed_types,
        ["streamOptimized"]
    );
}

#[test]
fn remote_check_options_are_validated() {
    let c = config("[oslo_policy]\nremote_content_type = application/json\nremote_timeout = 2.5\n");
    assert_eq!(c.oslo_policy.remote_content_type, RemoteContentType::Json);
    assert_eq!(
        c.oslo_policy.remote_timeout,
        std::time::Duration::from_millis(2500)
    );
    assert_eq!(
        defaults().oslo_policy.remote_content_type,
        RemoteContentType::Form
    );
    assert!(
        error("[oslo_policy]\nremote_content_type = text/plain\n").contains("remote_content_type")
    );
    assert!(error("[oslo_policy]\nremote_timeout = -1\n").contains("remote_timeout"));
}

#[test]
fn task_time_to_live_is_read_in_hours() {
    let d = defaults();
    assert_eq!(d.default.task_time_to_live.as_secs(), 48 * 3600);
    let conf = config("[task]\ntask_time_to_live = 2\n");
    assert_eq!(conf.default.task_time_to_live.as_secs(), 7200);
    assert!(warnings("[task]\ntask_time_to_live = 2\n").is_empty());
    assert!(error("[task]\ntask_time_to_live = soon\n").contains("task_time_to_live"));
}
