//! `[healthcheck]` (oslo.middleware's options, which Glance's health check
//! reads) and glint's `[glint] metrics_bind` and `log_format`.

use std::net::SocketAddr;
use std::path::PathBuf;

use glint_core::{HealthCheck, HealthConfig};

use super::ConfigError;
use super::options::{
    DISABLE_BY_FILE_PATH, DISABLE_BY_FILE_PATHS, ENABLE_BY_FILE_PATHS, HEALTHCHECK_BACKENDS,
    HEALTHCHECK_DETAILED, LOG_FORMAT, METRICS_BIND,
};
use super::source::Source;
use super::values;

/// The `[healthcheck]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthcheckConfig {
    /// `detailed`: responses name each check and give its details.
    pub detailed: bool,
    /// `backends`, with the files each one watches.
    pub checks: Vec<HealthCheck>,
}

/// The backends glint knows: oslo.middleware's three file checks and
/// glint's `database` and `stores`.
const BACKENDS: [&str; 5] = [
    "disable_by_file",
    "disable_by_files_ports",
    "enable_by_files",
    "database",
    "stores",
];

/// The name of a check in `backends`.
pub(super) fn backend_name(check: &HealthCheck) -> &'static str {
    match check {
        HealthCheck::DisableByFile { .. } => BACKENDS[0],
        HealthCheck::DisableByFilesPorts { .. } => BACKENDS[1],
        HealthCheck::EnableByFiles { .. } => BACKENDS[2],
        HealthCheck::Database => BACKENDS[3],
        HealthCheck::Stores => BACKENDS[4],
    }
}

impl HealthcheckConfig {
    /// Reads the section; `port` is the API's `bind_port`, which picks
    /// the file of `disable_by_file_paths`.
    pub(super) fn read(src: &Source<'_>, port: u16) -> Result<Self, ConfigError> {
        let names = src.list(&HEALTHCHECK_BACKENDS)?;
        if let Some(unknown) = names.iter().find(|n| !BACKENDS.contains(&n.as_str())) {
            let value = src.value(&HEALTHCHECK_BACKENDS)?;
            let reason = format!("unknown backend {unknown} (use {})", BACKENDS.join(", "));
            return Err(ConfigError::invalid(&HEALTHCHECK_BACKENDS, &value, reason));
        }
        if names.iter().any(|n| n == BACKENDS[0]) && names.iter().any(|n| n == BACKENDS[2]) {
            let value = src.value(&HEALTHCHECK_BACKENDS)?;
            let reason = "disable_by_file and enable_by_files cannot be used together";
            return Err(ConfigError::invalid(&HEALTHCHECK_BACKENDS, &value, reason));
        }
        let mut checks = Vec::new();
        for name in names {
            let check = match name.as_str() {
                "disable_by_file" => HealthCheck::DisableByFile {
                    path: src.optional(&DISABLE_BY_FILE_PATH)?.map(PathBuf::from),
                },
                "disable_by_files_ports" => HealthCheck::DisableByFilesPorts {
                    path: src.parse(&DISABLE_BY_FILE_PATHS, |v| path_for_port(v, port))?,
                },
                "enable_by_files" => HealthCheck::EnableByFiles {
                    paths: src
                        .list(&ENABLE_BY_FILE_PATHS)?
                        .into_iter()
                        .map(PathBuf::from)
                        .collect(),
                },
                "database" => HealthCheck::Database,
                _ => HealthCheck::Stores,
            };
            if !checks
                .iter()
                .any(|c| backend_name(c) == backend_name(&check))
            {
                checks.push(check);
            }
        }
        Ok(Self {
            detailed: src.bool(&HEALTHCHECK_DETAILED)?,
            checks,
        })
    }

    /// The core's configuration of the checks.
    pub fn health_config(&self) -> HealthConfig {
        HealthConfig {
            checks: self.checks.clone(),
            ..HealthConfig::default()
        }
    }
}

/// The file `port:path, …` gives for `port`.
fn path_for_port(value: &str, port: u16) -> Result<Option<PathBuf>, String> {
    let mut found = None;
    for entry in values::parse_list(value)? {
        let (p, path) = entry
            .split_once(':')
            .ok_or_else(|| format!("{entry:?} is not port:path"))?;
        let p: u16 = p
            .trim()
            .parse()
            .map_err(|_| format!("{p:?} in {entry:?} is not a port"))?;
        if p == port && found.is_none() {
            found = Some(PathBuf::from(path.trim()));
        }
    }
    Ok(found)
}

/// How log lines are written (`[glint] log_format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One line of text per event, as glint always wrote them.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

pub(super) fn read_log_format(src: &Source<'_>) -> Result<LogFormat, ConfigError> {
    src.parse(&LOG_FORMAT, |v| match v {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("must be text or json".to_owned()),
    })
}

pub(super) fn read_metrics_bind(src: &Source<'_>) -> Result<Option<SocketAddr>, ConfigError> {
    src.parse(&METRICS_BIND, |v| {
        if v.is_empty() {
            return Ok(None);
        }
        v.parse::<SocketAddr>()
            .map(Some)
            .map_err(|_| "must be an IP address and a port, e.g. 127.0.0.1:9191".to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_of_this_port_is_chosen() {
        let value = "9292:/run/a, 9393:/run/b";
        assert_eq!(
            path_for_port(value, 9393).unwrap(),
            Some(PathBuf::from("/run/b"))
        );
        assert_eq!(path_for_port(value, 1).unwrap(), None);
        assert!(path_for_port("/run/a", 9292).is_err());
        assert!(path_for_port("x:/run/a", 9292).is_err());
    }
}
