//! glint's configuration: Glance's `glance-api.conf` options (oslo.config
//! INI syntax), typed and validated once at start-up.
//!
//! Options glint implements are listed in `options.rs` and documented in
//! `etc/glance-api.conf`. Anything else in a file is reported as a warning,
//! never an error, so that an existing Glance configuration can be reused.

mod connections;
mod database;
mod import;
mod ini;
mod keystone;
mod limits;
mod notifications;
mod observability;
mod options;
mod plugins;
mod protections;
mod render;
mod scrubber;
mod sections;
mod source;
mod stores;
mod values;
mod warnings;

#[cfg(test)]
mod tests;

use std::net::IpAddr;
use std::path::PathBuf;

pub use database::DatabaseConfig;
pub use ini::IniFile;
pub use keystone::*;
pub use limits::KeystoneLimitsConfig;
pub use observability::{HealthcheckConfig, LogFormat};
pub use protections::{load_property_protections, parse_property_protections};
pub use scrubber::ScrubberOptions;
// A glob, so that types the binary does not name yet raise no warning.
pub use sections::*;
pub use stores::*;

use options::Opt;
use source::Source;

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A configuration file could not be read.
    #[error("cannot read configuration file {}: {source}", path.display())]
    Read {
        /// The file that was named on the command line.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// A line of a configuration file is not valid INI.
    #[error("{}:{line}: {message}", path.display())]
    Syntax {
        /// The file containing the line.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong, with the offending line.
        message: String,
    },
    /// An option has a value glint cannot use.
    #[error("invalid value '{value}' for option [{section}] {option}: {reason}")]
    InvalidValue {
        /// Section of the option, e.g. `DEFAULT`.
        section: String,
        /// Name of the option, e.g. `bind_port`.
        option: String,
        /// The value after `$name` substitution.
        value: String,
        /// Why it was rejected.
        reason: String,
    },
    /// Options that a chosen feature needs are not set.
    #[error("missing options in [{section}]: {options} ({reason})")]
    MissingOptions {
        /// What needs them.
        reason: String,
        /// Their section.
        section: String,
        /// Their names, comma separated.
        options: String,
    },
    /// The property protections file cannot be found, read or used.
    #[error("property protection file {}: {message}", path.display())]
    PropertyProtections {
        /// The file, as found (or as named when it was not found).
        path: PathBuf,
        /// What is wrong, naming the section and option when it is about one.
        message: String,
    },
}

impl ConfigError {
    fn invalid(opt: &Opt, value: &str, reason: impl Into<String>) -> Self {
        Self::InvalidValue {
            section: opt.section.to_owned(),
            option: opt.name.to_owned(),
            value: value.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The whole typed configuration, one field per supported section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlanceConfig {
    /// `[DEFAULT]`: API server, limits, quotas and image behaviour.
    pub default: DefaultConfig,
    /// `[database]`: where image records live.
    pub database: DatabaseConfig,
    /// `[glance_store]`: the legacy single-store choice.
    pub glance_store: GlanceStoreConfig,
    /// Every store, the default first: `enabled_backends` and their
    /// sections, or the single-store choice of `[glance_store]`.
    pub stores: StoresConfig,
    /// `[image_format]`: accepted disk and container formats.
    pub image_format: ImageFormatConfig,
    /// `[paste_deploy]`: the authentication pipeline.
    pub paste_deploy: PasteDeployConfig,
    /// `[oslo_policy]`: operator overrides of the authorization rules.
    pub oslo_policy: OsloPolicyConfig,
    /// `[keystone_authtoken]`: how Keystone tokens are validated.
    pub keystone_authtoken: KeystoneAuthtokenConfig,
    /// `use_keystone_limits` and `[oslo_limit]`: per-project quotas from
    /// Keystone's unified limits.
    pub keystone_limits: KeystoneLimitsConfig,
    /// `[glint]`: options that only glint has.
    pub glint: GlintConfig,
    /// `[oslo_messaging_notifications]`, `[oslo_messaging_rabbit]` and the
    /// notification options of `[DEFAULT]`.
    pub notifications: glint_notify::NotifierConfig,
    /// `[healthcheck]`: what `/healthcheck` checks and shows.
    pub healthcheck: HealthcheckConfig,
    /// Delayed delete's scrubber (`[DEFAULT]`, as glance-scrubber.conf).
    pub scrubber: ScrubberOptions,
    /// `[import_filtering_opts]`: the URLs imports may download from.
    pub import_filtering: glint_store::ImportFilter,
    /// `[image_import_opts]`, `[image_conversion]`,
    /// `[inject_metadata_properties]`: the import plugins.
    pub import_plugins: glint_core::PluginSettings,
    /// `[glance_download_properties] extra_properties`.
    pub download_properties: Vec<String>,
    /// `[image_import_opts] max_parallel_stores`.
    pub max_parallel_stores: usize,
    /// Directories of the configuration files read, in order; relative
    /// names of further files (the policy file) are looked up there.
    pub config_dirs: Vec<PathBuf>,
}

impl GlanceConfig {
    /// Reads `paths` in order (a later file overrides an earlier one per
    /// option) and validates the result. With no paths every option takes
    /// its default. Returns one warning per option that glint ignores. Of
    /// a `glance-registry.conf` only the `[database]` section is read.
    pub fn load(paths: &[PathBuf]) -> Result<(GlanceConfig, Vec<String>), ConfigError> {
        let mut ini = IniFile::default();
        let mut config_dirs = Vec::new();
        let mut file_warnings = Vec::new();
        for path in paths {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            let (file, warning) =
                scrubber::registry_database_only(path, IniFile::parse(&text, path)?);
            file_warnings.extend(warning);
            ini.merge(file);
            let dir = match path.parent() {
                Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if !config_dirs.contains(&dir) {
                config_dirs.push(dir);
            }
        }
        let (config, warnings) = Self::from_ini_in(ini, config_dirs)?;
        file_warnings.extend(warnings);
        Ok((config, file_warnings))
    }

    /// Builds and validates the configuration from already parsed files.
    pub fn from_ini(ini: IniFile) -> Result<(GlanceConfig, Vec<String>), ConfigError> {
        Self::from_ini_in(ini, Vec::new())
    }

    /// As [`Self::from_ini`], for files read from `config_dirs`.
    fn from_ini_in(
        ini: IniFile,
        config_dirs: Vec<PathBuf>,
    ) -> Result<(GlanceConfig, Vec<String>), ConfigError> {
        let ini = ini.with_oslo_group_names();
        let src = Source::new(&ini);
        let glance_store = GlanceStoreConfig::read(&src)?;
        let stores = StoresConfig::read(
            &ini,
            (glance_store.default_store, &glance_store.stores),
            &config_dirs,
        )?;
        let (notifications, notification_warnings) = notifications::read(&src)?;
        let default = DefaultConfig::read(&src)?;
        let config = GlanceConfig {
            healthcheck: HealthcheckConfig::read(&src, default.bind_port)?,
            default,
            database: DatabaseConfig {
                url: src.optional(&options::CONNECTION)?,
            },
            glance_store,
            stores,
            image_format: ImageFormatConfig::read(&src)?,
            paste_deploy: PasteDeployConfig::read(&src)?,
            oslo_policy: OsloPolicyConfig::read(&src)?,
            keystone_authtoken: KeystoneAuthtokenConfig::read(&src)?,
            keystone_limits: KeystoneLimitsConfig::read(&src)?,
            glint: GlintConfig::read(&src)?,
            notifications,
            scrubber: ScrubberOptions::read(&src)?,
            import_filtering: import::read(&src)?,
            import_plugins: plugins::read(&src)?,
            download_properties: import::download_properties(&src)?,
            max_parallel_stores: import::max_parallel_stores(&src)?,
            config_dirs,
        };
        if config.paste_deploy.flavor != AuthMode::NoAuth {
            config.keystone_authtoken.check_complete(&src)?;
        }
        if config.keystone_limits.use_keystone_limits {
            config.keystone_limits.check_complete(&src)?;
        }
        config.validate()?;
        let mut warnings = warnings::warnings(&ini);
        warnings.extend(notification_warnings);
        warnings.extend(config.value_warnings());
        Ok((config, warnings))
    }

    /// The sqlx URL of the image database, defaulting to SQLite in
    /// `[glint] data_dir`.
    pub fn database_url(&self) -> Result<String, ConfigError> {
        self.database.sqlx_url(&self.glint.data_dir)
    }

    /// The directory of the default file store (or of the first file
    /// store), defaulting to `<data_dir>/images`.
    #[cfg(test)]
    pub fn filesystem_store_datadir(&self) -> PathBuf {
        self.stores
            .stores
            .iter()
            .find_map(|spec| self.file_store_datadir(spec))
            .unwrap_or_else(|| self.glint.data_dir.join("images"))
    }

    /// The directory of a file store: its `filesystem_store_datadir`, else
    /// `<data_dir>/images` (single store) or `<data_dir>/images/<id>`
    /// (multi-store, so that two file stores never share a directory).
    /// `None` for other store types.
    pub fn file_store_datadir(&self, spec: &StoreSpec) -> Option<PathBuf> {
        let StoreSettings::File { datadir } = &spec.settings else {
            return None;
        };
        let default = self.glint.data_dir.join("images");
        Some(match datadir {
            Some(dir) => dir.clone(),
            None if self.stores.multi => default.join(&spec.id),
            None => self
                .glance_store
                .filesystem_store_datadir
                .clone()
                .unwrap_or(default),
        })
    }

    /// Where staged image data goes: `[os_glance_staging_store]
    /// filesystem_store_datadir`, else `node_staging_uri`, else
    /// `<data_dir>/staging`.
    pub fn staging_dir(&self) -> PathBuf {
        let d = &self.default;
        d.staging_store_datadir
            .clone()
            .or_else(|| d.node_staging_uri.clone())
            .unwrap_or_else(|| self.glint.data_dir.join("staging"))
    }

    /// The policy override file to apply, if any: an absolute
    /// `policy_file`, or a relative one found in the directory of a
    /// configuration file (the last file read wins). A file named in the
    /// configuration must exist; the default name is optional.
    pub fn policy_file_path(&self) -> Result<Option<PathBuf>, ConfigError> {
        let name = &self.oslo_policy.policy_file;
        let candidates: Vec<PathBuf> = if name.is_absolute() {
            vec![name.clone()]
        } else {
            self.config_dirs
                .iter()
                .rev()
                .map(|d| d.join(name))
                .collect()
        };
        if let Some(found) = candidates.iter().find(|p| p.is_file()) {
            return Ok(Some(found.clone()));
        }
        if !self.oslo_policy.policy_file_set {
            return Ok(None);
        }
        let looked_in = if candidates.is_empty() {
            "no configuration file was given to look next to".to_owned()
        } else {
            let list: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            format!("looked for {}", list.join(", "))
        };
        Err(ConfigError::invalid(
            &options::POLICY_FILE,
            &name.display().to_string(),
            format!("policy file not found ({looked_in})"),
        ))
    }

    /// Values glint reads but serves otherwise than Glance would.
    fn value_warnings(&self) -> Vec<String> {
        let mut warnings = import::warnings(&self.import_filtering);
        let driver = self.default.image_cache.driver;
        if driver != CacheDriver::CentralizedDb {
            warnings.push(format!(
                "option [DEFAULT] image_cache_driver = {} is served as centralized_db: glint \
                 keeps the image cache's records in its database, and GET \
                 /v2/cache/nodes/{{id}} answers",
                driver.as_str()
            ));
        }
        if self.keystone_limits.use_keystone_limits && self.default.user_storage_quota.is_some() {
            warnings.push(
                "option [DEFAULT] user_storage_quota is ignored: use_keystone_limits is on, so \
                 the image_size_total limit in Keystone applies instead (as in Glance)"
                    .to_owned(),
            );
        }
        warnings
    }

    /// Checks that involve more than one option.
    fn validate(&self) -> Result<(), ConfigError> {
        self.database_url()?;
        if self.paste_deploy.cache != CacheFlavor::Off && self.default.image_cache.dir.is_none() {
            return Err(ConfigError::MissingOptions {
                reason: "[paste_deploy] flavor caches images".to_owned(),
                section: "DEFAULT".to_owned(),
                options: "image_cache_dir".to_owned(),
            });
        }
        let bind_host = &self.default.bind_host;
        if self.paste_deploy.flavor == AuthMode::NoAuth
            && !self.glint.allow_noauth_on_public_address
            && !is_loopback(bind_host)
        {
            return Err(ConfigError::invalid(
                &options::BIND_HOST,
                bind_host,
                "without authentication ([paste_deploy] flavor is empty) glint only listens on \
                 loopback addresses; set [paste_deploy] flavor = keystone, or \
                 [glint] allow_noauth_on_public_address = true to accept the risk",
            ));
        }
        Ok(())
    }
}

/// Whether `host` can only be reached from this machine. Unknown host names
/// count as public, since they may resolve to anything.
fn is_loopback(host: &str) -> bool {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}
