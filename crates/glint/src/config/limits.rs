//! `use_keystone_limits` and `[oslo_limit]`: Glance's per-project quotas
//! from Keystone's unified limits, with the options oslo.limit and
//! keystoneauth read from that section.

use std::time::Duration;

use glint_api::auth::{EndpointChoice, LimitsConfig, NameOrId, Scope};
use url::Url;

use super::keystone::{PasswordUser, Secret, check_password_plugin, parse_auth_url};
use super::options::*;
use super::source::Source;
use super::{ConfigError, values};

/// `[DEFAULT] use_keystone_limits`, the `[oslo_limit]` section and
/// `[glint] keystone_limits_cache_time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoneLimitsConfig {
    /// Enforce the project limits registered in Keystone; then
    /// `user_storage_quota` is ignored, as in Glance.
    pub use_keystone_limits: bool,
    /// Identity endpoint of the user that reads the limits.
    pub auth_url: Option<Url>,
    /// Only `password` (or `v3password`).
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
    pub domain_name: Option<String>,
    pub domain_id: Option<String>,
    /// `all` for a system-scoped token (what Glance's guide configures).
    pub system_scope: Option<String>,
    /// The image service's endpoint in Keystone, whose service and region
    /// the limits are registered for.
    pub endpoint_id: Option<String>,
    /// Or the endpoint found by its service's name and/or type, region and
    /// interface.
    pub endpoint_service_name: Option<String>,
    pub endpoint_service_type: Option<String>,
    pub endpoint_region_name: Option<String>,
    pub endpoint_interface: String,
    /// Time limit of each request to Keystone (keystoneauth's `timeout`).
    pub timeout: Duration,
    /// Retries of a request that could not reach Keystone.
    pub connect_retries: u32,
    /// How long limits read from Keystone are used before they are read
    /// again; 0 reads them for every request that needs them.
    pub cache_time: Duration,
}

fn parse_interface(value: &str) -> Result<String, String> {
    const CHOICES: [&str; 6] = [
        "public",
        "publicURL",
        "internal",
        "internalURL",
        "admin",
        "adminURL",
    ];
    if CHOICES.contains(&value) {
        Ok(value.to_owned())
    } else {
        Err("must be public, internal or admin (or publicURL, internalURL, adminURL)".to_owned())
    }
}

fn parse_system_scope(value: &str) -> Result<Option<String>, String> {
    match value {
        "" => Ok(None),
        "all" => Ok(Some("all".to_owned())),
        _ => Err("the only system scope is all".to_owned()),
    }
}

impl KeystoneLimitsConfig {
    pub(super) fn read(src: &Source<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            use_keystone_limits: src.bool(&USE_KEYSTONE_LIMITS)?,
            auth_url: src.parse(&LIMIT_AUTH_URL, parse_auth_url)?,
            auth_type: src.optional(&LIMIT_AUTH_TYPE)?,
            username: src.optional(&LIMIT_USERNAME)?,
            user_id: src.optional(&LIMIT_USER_ID)?,
            password: Secret(src.string(&LIMIT_PASSWORD)?),
            user_domain_name: src.optional(&LIMIT_USER_DOMAIN_NAME)?,
            user_domain_id: src.optional(&LIMIT_USER_DOMAIN_ID)?,
            project_name: src.optional(&LIMIT_PROJECT_NAME)?,
            project_id: src.optional(&LIMIT_PROJECT_ID)?,
            project_domain_name: src.optional(&LIMIT_PROJECT_DOMAIN_NAME)?,
            project_domain_id: src.optional(&LIMIT_PROJECT_DOMAIN_ID)?,
            domain_name: src.optional(&LIMIT_DOMAIN_NAME)?,
            domain_id: src.optional(&LIMIT_DOMAIN_ID)?,
            system_scope: src.parse(&LIMIT_SYSTEM_SCOPE, parse_system_scope)?,
            endpoint_id: src.optional(&LIMIT_ENDPOINT_ID)?,
            endpoint_service_name: src.optional(&LIMIT_ENDPOINT_SERVICE_NAME)?,
            endpoint_service_type: src.optional(&LIMIT_ENDPOINT_SERVICE_TYPE)?,
            endpoint_region_name: src.optional(&LIMIT_ENDPOINT_REGION_NAME)?,
            endpoint_interface: src.parse(&LIMIT_ENDPOINT_INTERFACE, parse_interface)?,
            timeout: src.parse(&LIMIT_TIMEOUT, |v| {
                values::parse_u64_in(v, 1, 3600).map(Duration::from_secs)
            })?,
            connect_retries: src.parse(&LIMIT_CONNECT_RETRIES, |v| {
                values::parse_u64_in(v, 0, 10).map(|n| n as u32)
            })?,
            cache_time: src.parse(&KEYSTONE_LIMITS_CACHE_TIME, |v| {
                values::parse_u64_in(v, 0, 3600).map(Duration::from_secs)
            })?,
        })
    }

    /// With `use_keystone_limits`: the user, its scope and the endpoint are
    /// all given, and `auth_type` is one glint implements.
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
        let project = self.project_id.is_some() || self.project_name.is_some();
        let domain = self.domain_id.is_some() || self.domain_name.is_some();
        if self.system_scope.is_none() && !project && !domain {
            missing.push("system_scope (or project_name, project_id, domain_name, domain_id)");
        }
        if self.system_scope.is_none()
            && self.project_id.is_none()
            && self.project_name.is_some()
            && self.project_domain_name.is_none()
            && self.project_domain_id.is_none()
        {
            missing.push("project_domain_name (or project_domain_id)");
        }
        if self.endpoint_id.is_none()
            && self.endpoint_service_type.is_none()
            && self.endpoint_service_name.is_none()
        {
            missing.push("endpoint_id (or endpoint_service_type, endpoint_service_name)");
        }
        if !missing.is_empty() {
            return Err(ConfigError::MissingOptions {
                reason: "[DEFAULT] use_keystone_limits is on".into(),
                section: "oslo_limit".into(),
                options: missing.join(", "),
            });
        }
        check_password_plugin(&self.auth_type, src, &LIMIT_AUTH_TYPE)
    }

    /// What the reader of limits needs, when `use_keystone_limits` is on
    /// (the section was checked complete at load).
    pub fn limits_config(&self) -> Option<LimitsConfig> {
        if !self.use_keystone_limits {
            return None;
        }
        let pick = |name: &Option<String>, id: &Option<String>| match (id, name) {
            (Some(id), _) => Some(NameOrId::Id(id.clone())),
            (None, Some(name)) => Some(NameOrId::Name(name.clone())),
            (None, None) => None,
        };
        // keystoneauth's order: system, then project, then domain.
        let scope = match (
            &self.system_scope,
            pick(&self.project_name, &self.project_id),
            pick(&self.domain_name, &self.domain_id),
        ) {
            (Some(_), _, _) => Scope::System,
            (None, Some(project), _) => Scope::Project {
                project,
                domain: pick(&self.project_domain_name, &self.project_domain_id),
            },
            (None, None, Some(domain)) => Scope::Domain(domain),
            (None, None, None) => return None,
        };
        let endpoint = match &self.endpoint_id {
            Some(id) => EndpointChoice::Id(id.clone()),
            None => EndpointChoice::Lookup {
                service_type: self.endpoint_service_type.clone(),
                service_name: self.endpoint_service_name.clone(),
                region_name: self.endpoint_region_name.clone(),
                interface: self.endpoint_interface.clone(),
            },
        };
        Some(LimitsConfig {
            auth_url: self.auth_url.clone()?,
            user: pick(&self.username, &self.user_id)?,
            user_domain: pick(&self.user_domain_name, &self.user_domain_id),
            password: self.password.0.clone(),
            scope,
            endpoint,
            http_timeout: self.timeout,
            http_max_retries: self.connect_retries,
        })
    }
}
