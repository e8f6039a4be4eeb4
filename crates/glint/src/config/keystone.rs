//! `[keystone_authtoken]`: keystonemiddleware's options for validating
//! Keystone tokens, with glint's reading of them.

use std::time::Duration;

use url::Url;

use super::options::*;
use super::source::Source;
use super::{ConfigError, values};

/// A configuration value that must not appear in logs or debug output.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"***\"" })
    }
}

/// The `[keystone_authtoken]` section. Every option may be empty unless
/// `[paste_deploy] flavor` selects Keystone, when [`Self::check_complete`]
/// requires the service user's credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoneAuthtokenConfig {
    /// Public identity endpoint announced in `WWW-Authenticate` on 401s;
    /// falls back to the deprecated `auth_uri`, then to `auth_url`.
    pub www_authenticate_uri: Option<String>,
    /// Identity endpoint used to obtain the service token and validate
    /// tokens (with or without its `/v3` suffix).
    pub auth_url: Option<Url>,
    /// Authentication plugin of the service user; only `password` (or its
    /// alias `v3password`) is supported.
    pub auth_type: Option<String>,
    pub username: Option<String>,
    pub user_id: Option<String>,
    pub password: Secret,
    pub user_domain_name: Option<String>,
    pub user_domain_id: Option<String>,
    pub project_name: Option<String>,
    pub project_id: Option<String>,
    pub project_domain_name: Option<String>,
    pub project_domain_id: Option<String>,
    /// Let requests without a valid token reach the context decision
    /// (anonymous access or 401) instead of being refused at once.
    pub delay_auth_decision: bool,
    /// Whether validations ask for the service catalog.
    pub include_service_catalog: bool,
    /// How long a validated token is trusted; `None` (-1) disables caching.
    pub token_cache_time: Option<Duration>,
    /// Time limit of each request to the identity service.
    pub http_connect_timeout: Duration,
    /// Retries of a request that could not reach the identity service.
    pub http_request_max_retries: u32,
}

impl KeystoneAuthtokenConfig {
    pub(super) fn read(src: &Source<'_>) -> Result<Self, ConfigError> {
        let www = src
            .optional(&WWW_AUTHENTICATE_URI)?
            .or(src.optional(&AUTH_URI)?);
        Ok(Self {
            www_authenticate_uri: www,
            auth_url: src.parse(&AUTH_URL, parse_auth_url)?,
            auth_type: src.optional(&AUTH_TYPE)?,
            username: src.optional(&USERNAME)?,
            user_id: src.optional(&USER_ID)?,
            password: Secret(src.string(&PASSWORD)?),
            user_domain_name: src.optional(&USER_DOMAIN_NAME)?,
            user_domain_id: src.optional(&USER_DOMAIN_ID)?,
            project_name: src.optional(&PROJECT_NAME)?,
            project_id: src.optional(&PROJECT_ID)?,
            project_domain_name: src.optional(&PROJECT_DOMAIN_NAME)?,
            project_domain_id: src.optional(&PROJECT_DOMAIN_ID)?,
            delay_auth_decision: src.bool(&DELAY_AUTH_DECISION)?,
            include_service_catalog: src.bool(&INCLUDE_SERVICE_CATALOG)?,
            token_cache_time: src.parse(&TOKEN_CACHE_TIME, parse_cache_time)?,
            http_connect_timeout: src.parse(&HTTP_CONNECT_TIMEOUT, |v| {
                values::parse_u64_in(v, 1, 3600).map(Duration::from_secs)
            })?,
            http_request_max_retries: src.parse(&HTTP_REQUEST_MAX_RETRIES, |v| {
                values::parse_u64_in(v, 0, 10).map(|n| n as u32)
            })?,
        })
    }

    /// With Keystone selected: the service user's credentials are all
    /// there and `auth_type` is one glint implements.
    pub(super) fn check_complete(&self, src: &Source<'_>) -> Result<(), ConfigError> {
        let mut missing = Vec::new();
        if self.auth_url.is_none() {
            missing.push("auth_url");
        }
        PasswordUser {
            auth_type: &self.auth_type,
            username: &self.username,
            user_id: &self.user_id,
            password: &self.password,
            user_domain_name: &self.user_domain_name,
            user_domain_id: &self.user_domain_id,
        }
        .add_missing(&mut missing);
        if self.project_name.is_none() && self.project_id.is_none() {
            missing.push("project_name (or project_id)");
        }
        if self.project_id.is_none()
            && self.project_name.is_some()
            && self.project_domain_name.is_none()
            && self.project_domain_id.is_none()
        {
            missing.push("project_domain_name (or project_domain_id)");
        }
        if !missing.is_empty() {
            return Err(ConfigError::MissingOptions {
                reason: "[paste_deploy] flavor selects Keystone authentication".into(),
                section: "keystone_authtoken".into(),
                options: missing.join(", "),
            });
        }
        check_password_plugin(&self.auth_type, src, &AUTH_TYPE)
    }

    /// The URI announced in `WWW-Authenticate`.
    pub fn www_authenticate_uri(&self) -> String {
        match (&self.www_authenticate_uri, &self.auth_url) {
            (Some(uri), _) => uri.clone(),
            (None, Some(url)) => url.as_str().trim_end_matches('/').to_owned(),
            (None, None) => String::new(),
        }
    }
}

/// The service user of keystoneauth's password plugin, as both
/// `[keystone_authtoken]` and `[oslo_limit]` give it.
pub(super) struct PasswordUser<'a> {
    pub auth_type: &'a Option<String>,
    pub username: &'a Option<String>,
    pub user_id: &'a Option<String>,
    pub password: &'a Secret,
    pub user_domain_name: &'a Option<String>,
    pub user_domain_id: &'a Option<String>,
}

impl PasswordUser<'_> {
    /// Adds to `missing` the options the user lacks.
    pub(super) fn add_missing(&self, missing: &mut Vec<&'static str>) {
        if self.auth_type.is_none() {
            missing.push("auth_type");
        }
        if self.username.is_none() && self.user_id.is_none() {
            missing.push("username (or user_id)");
        }
        if self.password.0.is_empty() {
            missing.push("password");
        }
        if self.user_id.is_none()
            && self.username.is_some()
            && self.user_domain_name.is_none()
            && self.user_domain_id.is_none()
        {
            missing.push("user_domain_name (or user_domain_id)");
        }
    }
}

/// `auth_type` (option `opt`) names a plugin glint implements.
pub(super) fn check_password_plugin(
    auth_type: &Option<String>,
    src: &Source<'_>,
    opt: &Opt,
) -> Result<(), ConfigError> {
    if let Some(auth_type) = auth_type
        && !matches!(auth_type.as_str(), "password" | "v3password")
    {
        let value = src.value(opt)?;
        return Err(ConfigError::invalid(
            opt,
            &value,
            "glint supports only the password authentication plugin (password, v3password)",
        ));
    }
    Ok(())
}

pub(super) fn parse_auth_url(value: &str) -> Result<Option<Url>, String> {
    if value.is_empty() {
        return Ok(None);
    }
    let url = Url::parse(value).map_err(|e| format!("not a valid URL: {e}"))?;
    match url.scheme() {
        "http" => Ok(Some(url)),
        "https" => Err(
            "this build of glint talks to the identity service over plain http \
                        only; use an http endpoint (e.g. on a private network or through a \
                        local TLS proxy)"
                .to_owned(),
        ),
        _ => Err("must be an http URL".to_owned()),
    }
}

/// keystonemiddleware's `token_cache_time`: seconds, -1 disables the cache.
fn parse_cache_time(value: &str) -> Result<Option<Duration>, String> {
    if value.trim() == "-1" {
        return Ok(None);
    }
    values::parse_u64_in(value, 0, 86_400 * 365)
        .map(|secs| (secs > 0).then(|| Duration::from_secs(secs)))
        .map_err(|e| format!("{e} (or -1 to disable the cache)"))
}
