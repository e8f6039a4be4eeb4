//! Where image data lives: `enabled_backends = id:type, …` with one section
//! per store (Glance's multi-store), or the legacy single-store
//! `[glance_store] stores` / `default_store`, whose store options sit in
//! `[glance_store]` itself. Store options keep glance_store's names; sizes
//! given in MiB there are bytes in the typed settings.

use std::path::{Path, PathBuf};
use std::time::Duration;

use glint_store::{RbdConfig, S3Config, S3UrlFormat, Secret, SwiftAuthVersion, SwiftConfig};

use super::ConfigError;
use super::ini::IniFile;
use super::options;
use super::values::{self, substitute};

const MIB: u64 = 1024 * 1024;

/// A store type glint implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreType {
    /// Local filesystem (`file`, alias `filesystem`).
    File,
    /// Read-only HTTP locations (`http`, alias `https`).
    Http,
    /// OpenStack Swift (`swift`).
    Swift,
    /// Any S3-compatible object store (`s3`).
    S3,
    /// Ceph RBD (`rbd`).
    Rbd,
}

impl StoreType {
    pub(super) fn parse(value: &str) -> Result<Self, String> {
        match value {
            "file" | "filesystem" => Ok(Self::File),
            "http" | "https" => Ok(Self::Http),
            "swift" => Ok(Self::Swift),
            "s3" => Ok(Self::S3),
            "rbd" => Ok(Self::Rbd),
            _ => Err(format!(
                "unsupported store '{value}' (glint supports file, http, swift, s3 and rbd)"
            )),
        }
    }

    /// The name Glance gives the type (`/v2/info/stores/detail`).
    pub fn name(self) -> &'static str {
        match self {
            Self::File => "file",
            Self::Http => "http",
            Self::Swift => "swift",
            Self::S3 => "s3",
            Self::Rbd => "rbd",
        }
    }

    /// The options a store of this type reads from its section.
    fn options(self) -> &'static [&'static str] {
        match self {
            Self::File => FILE_OPTIONS,
            Self::Http => &[],
            Self::Swift => SWIFT_OPTIONS,
            Self::S3 => S3_OPTIONS,
            Self::Rbd => RBD_OPTIONS,
        }
    }
}

const FILE_OPTIONS: &[&str] = &["filesystem_store_datadir"];
const SWIFT_OPTIONS: &[&str] = &[
    "default_swift_reference",
    "swift_store_config_file",
    "swift_store_auth_address",
    "swift_store_user",
    "swift_store_key",
    "swift_store_auth_version",
    "swift_store_container",
    "swift_store_create_container_on_put",
    "swift_store_multiple_containers_seed",
    "swift_store_large_object_size",
    "swift_store_large_object_chunk_size",
    "swift_store_region",
    "swift_store_endpoint_type",
    "swift_store_service_type",
    "swift_store_endpoint",
    "swift_store_expire_soon_interval",
    "swift_store_retry_get_count",
];
const S3_OPTIONS: &[&str] = &[
    "s3_store_host",
    "s3_store_access_key",
    "s3_store_secret_key",
    "s3_store_bucket",
    "s3_store_create_bucket_on_put",
    "s3_store_bucket_url_format",
    "s3_store_region_name",
    "s3_store_large_object_size",
    "s3_store_large_object_chunk_size",
    "s3_store_thread_pools",
    "s3_store_cacert",
];
const RBD_OPTIONS: &[&str] = &[
    "rbd_store_pool",
    "rbd_store_user",
    "rbd_store_ceph_conf",
    "rbd_store_chunk_size",
    "rbd_thin_provisioning",
    "rbd_store_thin_provisioning",
    "rados_connect_timeout",
];
/// Options of every store section in multi-store mode.
const BACKEND_OPTIONS: &[&str] = &["store_description", "weight"];

/// Whether `name` is a store option glint reads in `[glance_store]` (single
/// store) or `[backend_defaults]`.
pub(super) fn is_store_option(name: &str) -> bool {
    [
        StoreType::File,
        StoreType::Swift,
        StoreType::S3,
        StoreType::Rbd,
    ]
    .iter()
    .any(|t| t.options().contains(&name))
}

/// Whether `name` is an option of a multi-store backend section of type `kind`.
pub(super) fn is_backend_option(kind: StoreType, name: &str) -> bool {
    BACKEND_OPTIONS.contains(&name) || kind.options().contains(&name)
}

/// The stores `enabled_backends` names in a file, as (id, type); types glint
/// does not know are left out (the configuration is refused elsewhere).
pub(super) fn enabled_backends(ini: &IniFile) -> Vec<(String, StoreType)> {
    let Some(raw) = ini.get("DEFAULT", "enabled_backends") else {
        return Vec::new();
    };
    parse_backends(raw)
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// `id:type, id:type` (oslo's `DictOpt`).
fn parse_backends(value: &str) -> Result<Vec<(String, StoreType)>, String> {
    let mut out: Vec<(String, StoreType)> = Vec::new();
    for item in values::parse_list(value)? {
        let (id, kind) = item
            .split_once(':')
            .ok_or_else(|| format!("'{item}' is not of the form id:type"))?;
        let (id, kind) = (id.trim(), kind.trim());
        if id.is_empty() {
            return Err(format!("'{item}' has an empty store id"));
        }
        if id.starts_with("os_glance_") {
            return Err(format!(
                "store id '{id}' uses the reserved prefix os_glance_"
            ));
        }
        if out.iter().any(|(seen, _)| seen == id) {
            return Err(format!("store id '{id}' appears twice"));
        }
        out.push((id.to_owned(), StoreType::parse(kind)?));
    }
    Ok(out)
}

/// The stores of this deployment, the default first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoresConfig {
    /// Configured through `enabled_backends` (multi-store API shown).
    pub multi: bool,
    pub stores: Vec<StoreSpec>,
}

/// One store to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreSpec {
    pub id: String,
    pub kind: StoreType,
    /// `store_description`.
    pub description: Option<String>,
    /// `weight`.
    pub weight: i64,
    pub settings: StoreSettings,
}

/// The settings of one store, by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSettings {
    /// `filesystem_store_datadir`; `None` means `<data_dir>/images`.
    File {
        datadir: Option<PathBuf>,
    },
    Http,
    Swift(Box<SwiftConfig>),
    S3(Box<S3Config>),
    Rbd(RbdConfig),
}

impl StoresConfig {
    /// Reads the stores. `single` is the legacy `[glance_store]` choice,
    /// used when `enabled_backends` is not set; `dirs` are where relative
    /// file names (`swift_store_config_file`) are looked for.
    pub(super) fn read(
        ini: &IniFile,
        single: (StoreType, &[StoreType]),
        dirs: &[PathBuf],
    ) -> Result<Self, ConfigError> {
        let Some(raw) = ini
            .get("DEFAULT", "enabled_backends")
            .filter(|v| !v.trim().is_empty())
        else {
            return Self::read_single(ini, single, dirs);
        };
        let backends = parse_backends(raw).map_err(|reason| ConfigError::InvalidValue {
            section: "DEFAULT".into(),
            option: "enabled_backends".into(),
            value: raw.to_owned(),
            reason,
        })?;
        let default = ini
            .get("glance_store", "default_backend")
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ConfigError::MissingOptions {
                reason: "enabled_backends is set, so one of its stores must be the default".into(),
                section: "glance_store".into(),
                options: "default_backend".into(),
            })?;
        let Some(first) = backends.iter().position(|(id, _)| id == default) else {
            return Err(ConfigError::InvalidValue {
                section: "glance_store".into(),
                option: "default_backend".into(),
                value: default.to_owned(),
                reason: "not one of the stores of [DEFAULT] enabled_backends".into(),
            });
        };
        if backends[first].1 == StoreType::Http {
            return Err(ConfigError::InvalidValue {
                section: "glance_store".into(),
                option: "default_backend".into(),
                value: default.to_owned(),
                reason: "the http store is read-only and cannot receive uploads".into(),
            });
        }
        let mut order: Vec<usize> = (0..backends.len()).collect();
        order.remove(first);
        order.insert(0, first);
        let mut stores = Vec::with_capacity(backends.len());
        for i in order {
            let (id, kind) = &backends[i];
            let section = Section::new(ini, id, Some("backend_defaults"));
            stores.push(StoreSpec {
                id: id.clone(),
                kind: *kind,
                description: section.text("store_description"),
                weight: section.parse("weight", "0", |v| {
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| "not an integer".to_owned())
                })?,
                settings: read_settings(&section, *kind, id, dirs)?,
            });
        }
        Ok(Self {
            multi: true,
            stores,
        })
    }

    fn read_single(
        ini: &IniFile,
        (default, enabled): (StoreType, &[StoreType]),
        dirs: &[PathBuf],
    ) -> Result<Self, ConfigError> {
        let section = Section::new(ini, "glance_store", None);
        let mut kinds = vec![default];
        kinds.extend(enabled.iter().copied().filter(|k| *k != default));
        let stores = kinds
            .into_iter()
            .map(|kind| {
                Ok(StoreSpec {
                    id: kind.name().to_owned(),
                    kind,
                    description: None,
                    weight: 0,
                    settings: read_settings(&section, kind, kind.name(), dirs)?,
                })
            })
            .collect::<Result<_, ConfigError>>()?;
        Ok(Self {
            multi: false,
            stores,
        })
    }
}

fn read_settings(
    section: &Section<'_>,
    kind: StoreType,
    id: &str,
    dirs: &[PathBuf],
) -> Result<StoreSettings, ConfigError> {
    Ok(match kind {
        StoreType::File => StoreSettings::File {
            datadir: section.text("filesystem_store_datadir").map(PathBuf::from),
        },
        StoreType::Http => StoreSettings::Http,
        StoreType::Swift => StoreSettings::Swift(Box::new(read_swift(section, id, dirs)?)),
        StoreType::S3 => StoreSettings::S3(Box::new(read_s3(section)?)),
        StoreType::Rbd => StoreSettings::Rbd(read_rbd(section)?),
    })
}

/// Megabytes as bytes, at least `min` MiB.
fn mib(min: u64) -> impl Fn(&str) -> Result<u64, String> {
    move |v| Ok(values::parse_u64_in(v, min, u64::MAX / MIB)? * MIB)
}

fn read_swift(
    section: &Section<'_>,
    id: &str,
    dirs: &[PathBuf],
) -> Result<SwiftConfig, ConfigError> {
    let reference = section
        .text("default_swift_reference")
        .unwrap_or_else(|| "ref1".to_owned());
    let credentials = match section.text("swift_store_config_file") {
        Some(file) => reference_credentials(section, &file, &reference, dirs)?,
        None => {
            let missing: Vec<&str> = [
                "swift_store_auth_address",
                "swift_store_user",
                "swift_store_key",
            ]
            .into_iter()
            .filter(|name| section.text(name).is_none())
            .collect();
            if !missing.is_empty() {
                return Err(ConfigError::MissingOptions {
                    reason: format!(
                        "the swift store {id} needs credentials, here or in a \
                         swift_store_config_file"
                    ),
                    section: section.name.to_owned(),
                    options: missing.join(", "),
                });
            }
            let version = section.parse("swift_store_auth_version", "3", parse_auth_version)?;
            SwiftCredentials {
                auth_address: section.text("swift_store_auth_address").unwrap_or_default(),
                auth_version: version,
                user: section.text("swift_store_user").unwrap_or_default(),
                key: Secret::new(section.text("swift_store_key").unwrap_or_default()),
                user_domain_id: Some("default".into()),
                user_domain_name: None,
                project_domain_id: Some("default".into()),
                project_domain_name: None,
            }
        }
    };
    let mut config = SwiftConfig::new(
        reference,
        credentials.auth_address,
        credentials.auth_version,
        credentials.user,
        credentials.key,
    );
    config.user_domain_id = credentials.user_domain_id;
    config.user_domain_name = credentials.user_domain_name;
    config.project_domain_id = credentials.project_domain_id;
    config.project_domain_name = credentials.project_domain_name;
    if let Some(container) = section.text("swift_store_container") {
        config.container = container;
    }
    config.create_container_on_put = section.parse(
        "swift_store_create_container_on_put",
        "false",
        values::parse_bool,
    )?;
    config.multiple_containers_seed =
        section.parse("swift_store_multiple_containers_seed", "0", |v| {
            values::parse_u64_in(v, 0, 32).map(|n| n as u32)
        })?;
    config.large_object_size = section.parse("swift_store_large_object_size", "5120", mib(1))?;
    config.large_object_chunk_size =
        section.parse("swift_store_large_object_chunk_size", "200", mib(1))?;
    config.region = section.text("swift_store_region");
    config.endpoint_type =
        section.parse("swift_store_endpoint_type", "publicURL", |v| match v {
            "publicURL" | "internalURL" | "adminURL" => Ok(v.to_owned()),
            _ => Err("must be publicURL, internalURL or adminURL".to_owned()),
        })?;
    if let Some(service_type) = section.text("swift_store_service_type") {
        config.service_type = service_type;
    }
    config.endpoint = section.text("swift_store_endpoint");
    config.expire_soon_interval = section.parse("swift_store_expire_soon_interval", "60", |v| {
        values::parse_u64_in(v, 0, 86_400).map(Duration::from_secs)
    })?;
    config.retry_get_count = section.parse("swift_store_retry_get_count", "0", |v| {
        values::parse_u64_in(v, 0, 100).map(|n| n as u32)
    })?;
    Ok(config)
}

struct SwiftCredentials {
    auth_address: String,
    auth_version: SwiftAuthVersion,
    user: String,
    key: Secret,
    user_domain_id: Option<String>,
    user_domain_name: Option<String>,
    project_domain_id: Option<String>,
    project_domain_name: Option<String>,
}

fn parse_auth_version(value: &str) -> Result<SwiftAuthVersion, String> {
    match value.trim() {
        "1" | "1.0" => Ok(SwiftAuthVersion::V1),
        "3" | "3.0" => Ok(SwiftAuthVersion::V3),
        "2" | "2.0" => Err("Keystone v2 is no longer served by Keystone; use 3".to_owned()),
        _ => Err("must be 1 (Swift's own auth) or 3 (Keystone v3)".to_owned()),
    }
}

/// Credentials from the `swift_store_config_file` (glance-swift.conf),
/// section `reference`.
fn reference_credentials(
    section: &Section<'_>,
    file: &str,
    reference: &str,
    dirs: &[PathBuf],
) -> Result<SwiftCredentials, ConfigError> {
    let path = find_file(file, dirs);
    let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
        path: path.clone(),
        source,
    })?;
    let refs = IniFile::parse(&text, &path)?;
    if !refs.sections().any(|s| s == reference) {
        return Err(ConfigError::InvalidValue {
            section: section.name.to_owned(),
            option: "default_swift_reference".into(),
            value: reference.to_owned(),
            reason: format!("{} has no section [{reference}]", path.display()),
        });
    }
    let get = |name: &str| {
        refs.get(reference, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let missing: Vec<&str> = ["auth_address", "user", "key"]
        .into_iter()
        .filter(|name| get(name).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(ConfigError::MissingOptions {
            reason: format!("swift reference in {}", path.display()),
            section: reference.to_owned(),
            options: missing.join(", "),
        });
    }
    let version_text = get("auth_version").unwrap_or_else(|| "3".to_owned());
    let auth_version =
        parse_auth_version(&version_text).map_err(|reason| ConfigError::InvalidValue {
            section: reference.to_owned(),
            option: "auth_version".into(),
            value: version_text.clone(),
            reason,
        })?;
    let user_domain_name = get("user_domain_name");
    let project_domain_name = get("project_domain_name");
    Ok(SwiftCredentials {
        auth_address: get("auth_address").unwrap_or_default(),
        auth_version,
        user: get("user").unwrap_or_default(),
        key: Secret::new(get("key").unwrap_or_default()),
        // A domain named by name needs no id; otherwise `default`.
        user_domain_id: get("user_domain_id")
            .or_else(|| user_domain_name.is_none().then(|| "default".to_owned())),
        user_domain_name,
        project_domain_id: get("project_domain_id")
            .or_else(|| project_domain_name.is_none().then(|| "default".to_owned())),
        project_domain_name,
    })
}

/// An absolute name as is; a relative one in the directory of the last
/// configuration file that has it, else as given (relative to the working
/// directory).
fn find_file(name: &str, dirs: &[PathBuf]) -> PathBuf {
    let path = Path::new(name);
    if path.is_absolute() {
        return path.to_path_buf();
    }
    dirs.iter()
        .rev()
        .map(|d| d.join(path))
        .find(|p| p.exists())
        .unwrap_or_else(|| path.to_path_buf())
}

fn read_s3(section: &Section<'_>) -> Result<S3Config, ConfigError> {
    let required = [
        "s3_store_host",
        "s3_store_access_key",
        "s3_store_secret_key",
        "s3_store_bucket",
    ];
    let missing: Vec<&str> = required
        .into_iter()
        .filter(|name| section.text(name).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(ConfigError::MissingOptions {
            reason: "the s3 store needs an endpoint, credentials and a bucket".into(),
            section: section.name.to_owned(),
            options: missing.join(", "),
        });
    }
    let mut config = S3Config::new(
        section.text("s3_store_host").unwrap_or_default(),
        section.text("s3_store_access_key").unwrap_or_default(),
        Secret::new(section.text("s3_store_secret_key").unwrap_or_default()),
        section.text("s3_store_bucket").unwrap_or_default(),
    );
    config.create_bucket_on_put =
        section.parse("s3_store_create_bucket_on_put", "false", values::parse_bool)?;
    config.bucket_url_format =
        section.parse("s3_store_bucket_url_format", "auto", |v| match v {
            "auto" => Ok(S3UrlFormat::Auto),
            "path" => Ok(S3UrlFormat::Path),
            "virtual" => Ok(S3UrlFormat::Virtual),
            _ => Err("must be auto, path or virtual".to_owned()),
        })?;
    config.region_name = section.text("s3_store_region_name");
    config.large_object_size = section.parse("s3_store_large_object_size", "100", mib(1))?;
    // S3 refuses parts under 5 MiB (all but the last).
    config.large_object_chunk_size =
        section.parse("s3_store_large_object_chunk_size", "10", mib(5))?;
    config.thread_pools = section.parse("s3_store_thread_pools", "10", |v| {
        values::parse_u64_in(v, 1, 64).map(|n| n as usize)
    })?;
    config.cacert = section.text("s3_store_cacert").map(PathBuf::from);
    Ok(config)
}

fn read_rbd(section: &Section<'_>) -> Result<RbdConfig, ConfigError> {
    let mut config = RbdConfig::default();
    if let Some(pool) = section.text("rbd_store_pool") {
        config.pool = pool;
    }
    config.user = section.text("rbd_store_user");
    config.ceph_conf = section.text("rbd_store_ceph_conf").map(PathBuf::from);
    config.chunk_size = section.parse("rbd_store_chunk_size", "8", |v| {
        let bytes = mib(1)(v)?;
        if bytes.is_power_of_two() {
            Ok(bytes)
        } else {
            Err("must be a power of two (MiB)".to_owned())
        }
    })?;
    let thin = if section.text("rbd_thin_provisioning").is_some() {
        "rbd_thin_provisioning"
    } else {
        "rbd_store_thin_provisioning"
    };
    config.thin_provisioning = section.parse(thin, "false", values::parse_bool)?;
    config.connect_timeout = section.parse("rados_connect_timeout", "-1", |v| {
        let seconds: i64 = v.trim().parse().map_err(|_| "not an integer".to_owned())?;
        Ok(Duration::from_secs(seconds.max(0).unsigned_abs()))
    })?;
    Ok(config)
}

/// The options of one section, falling back to another (`[backend_defaults]`).
struct Section<'a> {
    ini: &'a IniFile,
    name: &'a str,
    fallback: Option<&'a str>,
}

impl<'a> Section<'a> {
    fn new(ini: &'a IniFile, name: &'a str, fallback: Option<&'a str>) -> Self {
        Self {
            ini,
            name,
            fallback,
        }
    }

    /// The raw value and the section it came from.
    fn raw(&self, option: &str) -> Option<(&'a str, &'a str)> {
        if let Some(v) = self.ini.get(self.name, option) {
            return Some((self.name, v));
        }
        let fallback = self.fallback?;
        self.ini.get(fallback, option).map(|v| (fallback, v))
    }

    /// The value after `$name` substitution (`$group.name`, the same
    /// section, then `[DEFAULT]`, as for every other option); an
    /// unresolvable reference is kept as written.
    fn value(&self, option: &str) -> Option<(&'a str, String)> {
        let (section, raw) = self.raw(option)?;
        let lookup = |group: &str, name: &str| {
            self.ini
                .get(group, name)
                .map(str::to_owned)
                .or_else(|| options::find(group, name).map(|opt| opt.default_text()))
        };
        let value = substitute(raw, |name| {
            if let Some((group, option)) = name.split_once('.')
                && let Some(value) = lookup(group, option)
            {
                return Some(value);
            }
            lookup(section, name).or_else(|| lookup("DEFAULT", name))
        })
        .unwrap_or_else(|_| raw.to_owned());
        Some((section, value))
    }

    /// A string option; empty means unset, as in glance_store.
    fn text(&self, option: &str) -> Option<String> {
        self.value(option)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    fn parse<T>(
        &self,
        option: &str,
        default: &str,
        convert: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        let (section, value) = self
            .value(option)
            .filter(|(_, v)| !v.trim().is_empty())
            .unwrap_or((self.name, default.to_owned()));
        convert(value.trim()).map_err(|reason| ConfigError::InvalidValue {
            section: section.to_owned(),
            option: option.to_owned(),
            value: value.clone(),
            reason,
        })
    }
}
