//! Keystone's unified limits of the image service, read as oslo.limit reads
//! them for Glance (`[oslo_limit]`): the service and region come from the
//! image service's endpoint (`endpoint_id`, or found by
//! `endpoint_service_type`/`endpoint_service_name`, `endpoint_region_name`
//! and `endpoint_interface`); the enforcement model must be `flat`; the
//! registered limits are `GET /v3/registered_limits?service_id=…&region_id=…`
//! and a project's limits `GET /v3/limits?…&project_id=…`.
//!
//! The endpoint and the model are looked up again with every read of the
//! registered limits, which the core's cache asks for once per
//! `keystone_limits_cache_time`, so a change in Keystone is seen as soon as
//! a limit would be.

use std::time::Duration;

use glint_core::{LimitMap, LimitsError, LimitsSource};
use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;
use url::Url;

use super::session::{NameOrId, Scope, Session, SessionError, password_auth_body};

/// How the image service's endpoint is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointChoice {
    /// `endpoint_id`.
    Id(String),
    /// The one endpoint of the one service of this type and/or name, in
    /// this region if one is named, for this interface.
    Lookup {
        service_type: Option<String>,
        service_name: Option<String>,
        region_name: Option<String>,
        interface: String,
    },
}

/// Everything the reader needs, from `[oslo_limit]`.
#[derive(Clone, PartialEq, Eq)]
pub struct LimitsConfig {
    /// Identity endpoint, with or without its trailing `/v3`.
    pub auth_url: Url,
    pub user: NameOrId,
    /// Domain of the user; needed when the user is given by name.
    pub user_domain: Option<NameOrId>,
    pub password: String,
    pub scope: Scope,
    pub endpoint: EndpointChoice,
    /// Time limit of each request to Keystone.
    pub http_timeout: Duration,
    /// Retries of a request that could not reach Keystone.
    pub http_max_retries: u32,
}

impl std::fmt::Debug for LimitsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LimitsConfig")
            .field("auth_url", &self.auth_url.as_str())
            .field("user", &self.user)
            .field("user_domain", &self.user_domain)
            .field("password", &"***")
            .field("scope", &self.scope)
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl LimitsConfig {
    /// keystoneauth's session default.
    pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_HTTP_MAX_RETRIES: u32 = 3;
    /// oslo.limit's default `endpoint_interface`.
    pub const DEFAULT_INTERFACE: &str = "public";
}

/// The service and region whose limits apply.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    service_id: String,
    region_id: Option<String>,
}

/// Reads limits from Keystone; nothing is sent until limits are needed.
#[derive(Debug)]
pub struct KeystoneLimits {
    session: Session,
    endpoint: EndpointChoice,
    resolved: Mutex<Option<Endpoint>>,
}

#[derive(Deserialize)]
struct Id {
    id: String,
}

#[derive(Deserialize)]
struct EndpointDoc {
    service_id: String,
    region_id: Option<String>,
}

#[derive(Deserialize)]
struct RegisteredLimit {
    resource_name: String,
    default_limit: i64,
}

#[derive(Deserialize)]
struct ProjectLimit {
    resource_name: String,
    resource_limit: i64,
}

fn unavailable(e: impl std::fmt::Display) -> LimitsError {
    LimitsError::Unavailable(e.to_string())
}

fn misconfigured(e: impl std::fmt::Display) -> LimitsError {
    LimitsError::Misconfigured(e.to_string())
}

impl From<SessionError> for LimitsError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Unavailable(m) => LimitsError::Unavailable(m),
            SessionError::Refused(m) => LimitsError::Misconfigured(format!("[oslo_limit]: {m}")),
        }
    }
}

impl KeystoneLimits {
    pub fn new(config: LimitsConfig) -> Result<KeystoneLimits, String> {
        let body = password_auth_body(
            &config.user,
            &config.user_domain,
            &config.password,
            &config.scope,
        );
        let session = Session::new(
            &config.auth_url,
            body,
            config.http_timeout,
            config.http_max_retries,
        )?;
        Ok(KeystoneLimits {
            session,
            endpoint: config.endpoint,
            resolved: Mutex::new(None),
        })
    }

    /// `GET <path>` under `/v3/` with `query`, as the service user; the
    /// token is renewed once if Keystone refuses it. `None` on 404.
    async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Option<T>, LimitsError> {
        let mut url = self.session.url(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let mut token = self.session.token(None).await?;
        for attempt in 0..2 {
            let resp = self
                .session
                .send(|| {
                    (self.session.http())
                        .get(url.clone())
                        .header("X-Auth-Token", token.as_str())
                })
                .await?;
            let status = resp.status();
            match status {
                StatusCode::OK => {
                    let body = resp.bytes().await.map_err(unavailable)?;
                    let doc = serde_json::from_slice(&body).map_err(|e| {
                        unavailable(format!("unreadable answer to GET /v3/{path}: {e}"))
                    })?;
                    return Ok(Some(doc));
                }
                StatusCode::NOT_FOUND => return Ok(None),
                StatusCode::UNAUTHORIZED if attempt == 0 => {
                    token = self.session.token(Some(&token)).await?;
                }
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                    return Err(misconfigured(format!(
                        "GET /v3/{path} answered {status}: the [oslo_limit] user needs the \
                         reader role on the system (or admin) to read limits and endpoints"
                    )));
                }
                s if s.is_server_error() => {
                    return Err(unavailable(format!("GET /v3/{path} answered {status}")));
                }
                _ => return Err(misconfigured(format!("GET /v3/{path} answered {status}"))),
            }
        }
        Err(unavailable(format!("GET /v3/{path}: no answer")))
    }

    /// A list document `{"<key>": [...]}`, which must exist.
    async fn list<T: DeserializeOwned>(
        &self,
        path: &str,
        key: &str,
        query: &[(&str, &str)],
    ) -> Result<Vec<T>, LimitsError> {
        let doc: serde_json::Value = self
            .get(path, query)
            .await?
            .ok_or_else(|| misconfigured(format!("GET /v3/{path} answered 404")))?;
        let items = doc.get(key).cloned().unwrap_or_default();
        serde_json::from_value(items)
            .map_err(|e| unavailable(format!("unreadable answer to GET /v3/{path}: {e}")))
    }

    /// Checks the enforcement model and finds the endpoint, as oslo.limit
    /// does each time it sets up.
    async fn resolve(&self) -> Result<Endpoint, LimitsError> {
        let model: serde_json::Value = self
            .get("limits/model", &[])
            .await?
            .ok_or_else(|| misconfigured("GET /v3/limits/model answered 404"))?;
        let name = model["model"]["name"].as_str().unwrap_or_default();
        if name != "flat" {
            return Err(misconfigured(format!(
                "Keystone's limit enforcement model is '{name}'; glint, as oslo.limit for \
                 Glance, enforces the flat model only"
            )));
        }
        let endpoint = match &self.endpoint {
            EndpointChoice::Id(id) => self.endpoint_by_id(id).await?,
            EndpointChoice::Lookup {
                service_type,
                service_name,
                region_name,
                interface,
            } => {
                self.endpoint_by_lookup(
                    service_type.as_deref(),
                    service_name.as_deref(),
                    region_name.as_deref(),
                    interface,
                )
                .await?
            }
        };
        *self.resolved.lock().await = Some(endpoint.clone());
        Ok(endpoint)
    }

    async fn endpoint_by_id(&self, id: &str) -> Result<Endpoint, LimitsError> {
        #[derive(Deserialize)]
        struct Doc {
            endpoint: EndpointDoc,
        }
        let doc: Doc = self
            .get(&format!("endpoints/{}", encode(id)), &[])
            .await?
            .ok_or_else(|| misconfigured(format!("Can't find endpoint for {id}")))?;
        Ok(Endpoint {
            service_id: doc.endpoint.service_id,
            region_id: doc.endpoint.region_id,
        })
    }

    async fn endpoint_by_lookup(
        &self,
        service_type: Option<&str>,
        service_name: Option<&str>,
        region_name: Option<&str>,
        interface: &str,
    ) -> Result<Endpoint, LimitsError> {
        let mut query = Vec::new();
        query.extend(service_type.map(|t| ("type", t)));
        query.extend(service_name.map(|n| ("name", n)));
        let services: Vec<Id> = self.list("services", "services", &query).await?;
        let service_id = match services.as_slice() {
            [one] => one.id.clone(),
            [] => return Err(misconfigured("Service not found")),
            _ => return Err(misconfigured("Multiple services found")),
        };
        let region_id = match region_name {
            Some(name) => {
                #[derive(Deserialize)]
                struct Doc {
                    region: Id,
                }
                let doc: Doc = self
                    .get(&format!("regions/{}", encode(name)), &[])
                    .await?
                    .ok_or_else(|| misconfigured("Region not found"))?;
                Some(doc.region.id)
            }
            None => None,
        };
        // oslo.limit takes `publicURL` for `public`, with a notice.
        let interface = interface.strip_suffix("URL").unwrap_or(interface);
        let mut query = vec![
            ("service_id", service_id.as_str()),
            ("interface", interface),
        ];
        query.extend(region_id.as_deref().map(|r| ("region_id", r)));
        let endpoints: Vec<EndpointDoc> = self.list("endpoints", "endpoints", &query).await?;
        match endpoints.as_slice() {
            [one] => Ok(Endpoint {
                service_id: one.service_id.clone(),
                region_id: one.region_id.clone(),
            }),
            [] => Err(misconfigured("Endpoint not found")),
            _ => Err(misconfigured("Multiple endpoints found")),
        }
    }

    async fn endpoint(&self) -> Result<Endpoint, LimitsError> {
        let known = self.resolved.lock().await.clone();
        match known {
            Some(endpoint) => Ok(endpoint),
            None => self.resolve().await,
        }
    }
}

/// The service and region filters of a limits query.
fn filters(endpoint: &Endpoint) -> Vec<(&str, &str)> {
    let mut query = vec![("service_id", endpoint.service_id.as_str())];
    query.extend(endpoint.region_id.as_deref().map(|r| ("region_id", r)));
    query
}

/// One path segment, percent-encoded.
fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[async_trait::async_trait]
impl LimitsSource for KeystoneLimits {
    async fn registered_limits(&self) -> Result<LimitMap, LimitsError> {
        let endpoint = self.resolve().await?;
        let found: Vec<RegisteredLimit> = self
            .list(
                "registered_limits",
                "registered_limits",
                &filters(&endpoint),
            )
            .await?;
        Ok(found
            .into_iter()
            .map(|l| (l.resource_name, l.default_limit))
            .collect())
    }

    async fn project_limits(&self, project: &str) -> Result<LimitMap, LimitsError> {
        let endpoint = self.endpoint().await?;
        let mut query = filters(&endpoint);
        query.push(("project_id", project));
        let found: Vec<ProjectLimit> = self.list("limits", "limits", &query).await?;
        // As oslo.limit: the first limit listed for a resource.
        let mut limits = LimitMap::new();
        for limit in found {
            limits
                .entry(limit.resource_name)
                .or_insert(limit.resource_limit);
        }
        Ok(limits)
    }
}
