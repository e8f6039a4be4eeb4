//! `[database] connection`: Glance writes SQLAlchemy URLs, glint's database
//! layer wants sqlx URLs. This module translates one into the other.

use std::path::Path;

use super::{ConfigError, options};

/// The `[database]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseConfig {
    /// `connection`, as written (SQLAlchemy style, e.g.
    /// `mysql+pymysql://glance:secret@db/glance`). `None` selects the
    /// embedded SQLite database `<data_dir>/glint.sqlite`. Checked at load
    /// time, so [`DatabaseConfig::sqlx_url`] only fails for values built by
    /// hand.
    pub url: Option<String>,
}

impl DatabaseConfig {
    /// The connection URL in the form sqlx expects: `sqlite://path?mode=rwc`
    /// (creating the file if missing), `sqlite::memory:`, `postgres://…` or
    /// `mysql://…`. `data_dir` places the default SQLite file.
    pub fn sqlx_url(&self, data_dir: &Path) -> Result<String, ConfigError> {
        match &self.url {
            Some(url) => normalize_database_url(url)
                .map_err(|reason| ConfigError::invalid(&options::CONNECTION, url, reason)),
            None => Ok(sqlite_file_url(&data_dir.join("glint.sqlite"))),
        }
    }
}

/// Translates a SQLAlchemy URL: the `+driver` suffix of the dialect is
/// dropped, `postgresql` becomes `postgres`, and SQLite paths lose the extra
/// slash SQLAlchemy uses (`sqlite:///rel` is relative, `sqlite:////abs` is
/// absolute).
pub(super) fn normalize_database_url(url: &str) -> Result<String, String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        "not a database URL (expected e.g. sqlite:////var/lib/glint/glint.sqlite \
         or mysql+pymysql://user:password@host/glance)"
            .to_owned()
    })?;
    let dialect = scheme
        .split_once('+')
        .map_or(scheme, |(dialect, _driver)| dialect)
        .to_ascii_lowercase();
    match dialect.as_str() {
        "sqlite" => sqlite_url(rest),
        "postgresql" | "postgres" => server_url("postgres", rest),
        "mysql" | "mariadb" => server_url("mysql", rest),
        other => Err(format!(
            "unsupported database dialect '{other}' (glint supports sqlite, postgresql and mysql)"
        )),
    }
}

fn sqlite_url(rest: &str) -> Result<String, String> {
    // SQLAlchemy's SQLite query options (e.g. check_same_thread) mean nothing
    // to sqlx, so they are dropped.
    let path = rest.split_once('?').map_or(rest, |(path, _query)| path);
    if path.is_empty() || path == "/:memory:" {
        return Ok("sqlite::memory:".to_owned());
    }
    match path.strip_prefix('/') {
        Some(file) if !file.is_empty() => Ok(format!("sqlite://{file}?mode=rwc")),
        _ => Err(
            "SQLite URLs take the form sqlite:///relative/path or sqlite:////absolute/path"
                .to_owned(),
        ),
    }
}

fn server_url(scheme: &str, rest: &str) -> Result<String, String> {
    let url = format!("{scheme}://{rest}");
    url::Url::parse(&url).map_err(|error| format!("not a valid URL: {error}"))?;
    Ok(url)
}

/// A sqlx SQLite URL for a path that was not written as a URL; sqlx
/// percent-decodes the path and splits off parameters at `?`.
fn sqlite_file_url(path: &Path) -> String {
    let path = path
        .to_string_lossy()
        .replace('%', "%25")
        .replace('?', "%3F");
    format!("sqlite://{path}?mode=rwc")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalize(url: &str) -> String {
        normalize_database_url(url).unwrap()
    }

    #[test]
    fn sqlalchemy_sqlite_urls_become_sqlx_paths() {
        assert_eq!(
            normalize("sqlite:////var/lib/glance/glance.sqlite"),
            "sqlite:///var/lib/glance/glance.sqlite?mode=rwc"
        );
        assert_eq!(
            normalize("sqlite:///glance.sqlite"),
            "sqlite://glance.sqlite?mode=rwc"
        );
        assert_eq!(
            normalize("sqlite:///rel/dir/db.sqlite?check_same_thread=false"),
            "sqlite://rel/dir/db.sqlite?mode=rwc"
        );
        assert_eq!(
            normalize("sqlite+pysqlite:////abs.db"),
            "sqlite:///abs.db?mode=rwc"
        );
    }

    #[test]
    fn sqlite_without_a_path_is_in_memory() {
        assert_eq!(normalize("sqlite://"), "sqlite::memory:");
        assert_eq!(normalize("sqlite:///:memory:"), "sqlite::memory:");
    }

    #[test]
    fn sqlite_url_with_a_host_part_is_rejected() {
        assert!(normalize_database_url("sqlite://rel/path").is_err());
        assert!(normalize_database_url("sqlite:///").is_err());
    }

    #[test]
    fn server_dialects_drop_the_driver_suffix() {
        assert_eq!(
            normalize("postgresql://glance:pw@db:5432/glance"),
            "postgres://glance:pw@db:5432/glance"
        );
        assert_eq!(
            normalize("postgresql+psycopg2://glance:pw@db/glance"),
            "postgres://glance:pw@db/glance"
        );
        assert_eq!(normalize("postgres://db/glance"), "postgres://db/glance");
        assert_eq!(
            normalize("mysql+pymysql://glance:pw@db/glance?charset=utf8"),
            "mysql://glance:pw@db/glance?charset=utf8"
        );
        assert_eq!(
            normalize("mysql://glance:pw@db/glance"),
            "mysql://glance:pw@db/glance"
        );
        assert_eq!(
            normalize("mariadb+pymysql://db/glance"),
            "mysql://db/glance"
        );
    }

    #[test]
    fn unknown_dialects_and_non_urls_are_rejected() {
        let error = normalize_database_url("oracle://db/glance").unwrap_err();
        assert!(
            error.contains("unsupported database dialect 'oracle'"),
            "{error}"
        );
        assert!(normalize_database_url("/var/lib/glance.sqlite").is_err());
        assert!(normalize_database_url("postgresql://db:notaport/glance").is_err());
    }

    #[test]
    fn unset_connection_uses_sqlite_in_the_data_dir() {
        let config = DatabaseConfig { url: None };
        let url = config.sqlx_url(Path::new("./glint-data")).unwrap();
        assert_eq!(url, "sqlite://./glint-data/glint.sqlite?mode=rwc");
        let url = config.sqlx_url(Path::new("/srv/50%?")).unwrap();
        assert_eq!(url, "sqlite:///srv/50%25%3F/glint.sqlite?mode=rwc");
    }

    #[test]
    fn configured_connection_is_normalized_by_sqlx_url() {
        let config = DatabaseConfig {
            url: Some("mysql+pymysql://db/glance".to_owned()),
        };
        assert_eq!(
            config.sqlx_url(Path::new("/unused")).unwrap(),
            "mysql://db/glance"
        );
        let config = DatabaseConfig {
            url: Some("nope".to_owned()),
        };
        let error = config
            .sqlx_url(Path::new("/unused"))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("invalid value 'nope' for option [database] connection: "),
            "{error}"
        );
    }
}
