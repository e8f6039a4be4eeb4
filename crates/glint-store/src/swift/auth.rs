//! Logging in to Swift (v1 auth or Keystone v3) and keeping the token.
//!
//! One token is shared by every request of a store. It is renewed before the
//! next request once it is within `expire_soon_interval` of its expiry (the
//! Keystone `expires_at`, or v1's `X-Auth-Token-Expires`), and dropped when
//! Swift answers 401, so the next request logs in again. Concurrent requests
//! that find no usable token wait for one login instead of each making their
//! own.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::json;

use super::answers::{transport_error, unexpected_status};
use crate::{Secret, StoreError, SwiftAuthVersion, SwiftConfig};

/// A token and the account it opens.
#[derive(Debug)]
pub(crate) struct Session {
    /// The account's storage URL, without a trailing slash.
    pub storage_url: String,
    pub token: Secret,
    /// When to log in again rather than use this token; `None` when the
    /// server did not say when it expires.
    renew_at: Option<Instant>,
}

impl Session {
    fn is_fresh(&self) -> bool {
        self.renew_at.is_none_or(|at| Instant::now() < at)
    }
}

#[derive(Debug)]
pub(crate) struct Auth {
    config: SwiftConfig,
    current: Mutex<Option<Arc<Session>>>,
    /// Held while logging in, so that one login serves every waiting request.
    login: tokio::sync::Mutex<()>,
    logins: AtomicU64,
}

impl Auth {
    pub fn new(config: SwiftConfig) -> Self {
        Self {
            config,
            current: Mutex::new(None),
            login: tokio::sync::Mutex::new(()),
            logins: AtomicU64::new(0),
        }
    }

    /// How long Swift may leave a request without a byte of answer.
    pub fn read_timeout(&self) -> std::time::Duration {
        self.config.read_timeout
    }

    pub fn logins(&self) -> u64 {
        self.logins.load(Ordering::Relaxed)
    }

    fn cached(&self) -> Option<Arc<Session>> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().filter(|s| s.is_fresh()).cloned()
    }

    /// A usable token, logging in first when there is none or it is about to
    /// expire.
    pub async fn session(&self, client: &reqwest::Client) -> Result<Arc<Session>, StoreError> {
        if let Some(session) = self.cached() {
            return Ok(session);
        }
        let _login = self.login.lock().await;
        // Another request may have logged in while this one waited.
        if let Some(session) = self.cached() {
            return Ok(session);
        }
        self.logins.fetch_add(1, Ordering::Relaxed);
        let session = Arc::new(match self.config.auth_version {
            SwiftAuthVersion::V1 => self.login_v1(client).await?,
            SwiftAuthVersion::V3 => self.login_v3(client).await?,
        });
        tracing::debug!(
            auth_address = %self.config.auth_address,
            storage_url = %session.storage_url,
            "logged in to swift"
        );
        *self.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&session));
        Ok(session)
    }

    /// Forgets a token Swift refused, unless another request already
    /// replaced it.
    pub fn invalidate(&self, refused: &Arc<Session>) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if current.as_ref().is_some_and(|s| Arc::ptr_eq(s, refused)) {
            *current = None;
        }
    }

    /// Replaces the token with one Swift will refuse, keeping the storage URL.
    pub fn spoil(&self) {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(session) = current.as_ref() {
            *current = Some(Arc::new(Session {
                storage_url: session.storage_url.clone(),
                token: Secret::new("AUTH_tk_no_such_token"),
                renew_at: None,
            }));
        }
    }

    fn renew_at(&self, lifetime: Duration) -> Instant {
        Instant::now() + lifetime.saturating_sub(self.config.expire_soon_interval)
    }

    async fn login_v1(&self, client: &reqwest::Client) -> Result<Session, StoreError> {
        let config = &self.config;
        let response = client
            .get(&config.auth_address)
            .header("X-Auth-User", &config.user)
            .header("X-Auth-Key", config.key.expose())
            .send()
            .await
            .map_err(|e| transport_error("cannot reach the Swift auth service", &e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.login_refused(status, response).await);
        }
        let headers = response.headers();
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let token = header("x-auth-token").or_else(|| header("x-storage-token"));
        let storage_url = config
            .endpoint
            .as_deref()
            .or_else(|| header("x-storage-url"));
        let (Some(token), Some(storage_url)) = (token, storage_url) else {
            return Err(StoreError::Unavailable(format!(
                "the Swift auth service at {} answered {status} without a token and storage URL",
                config.auth_address
            )));
        };
        let renew_at = header("x-auth-token-expires")
            .and_then(|s| s.trim().parse::<u64>().ok())
            .map(|secs| self.renew_at(Duration::from_secs(secs)));
        Ok(Session {
            storage_url: storage_url.trim_end_matches('/').to_owned(),
            token: Secret::new(token),
            renew_at,
        })
    }

    async fn login_v3(&self, client: &reqwest::Client) -> Result<Session, StoreError> {
        let config = &self.config;
        let (project, user) = config.user.split_once(':').ok_or_else(|| {
            StoreError::Refused("for Keystone auth, `user` must be `project:user`".to_owned())
        })?;
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": user,
                "domain": domain(&config.user_domain_id, &config.user_domain_name),
                "password": config.key.expose(),
            }}},
            "scope": {"project": {
                "name": project,
                "domain": domain(&config.project_domain_id, &config.project_domain_name),
            }},
        }});
        let url = format!("{}/auth/tokens", config.auth_address.trim_end_matches('/'));
        let response = client
            .post(&url)
            .json(&body)
            .send()
            .await
            .map_err(|e| transport_error("cannot reach Keystone", &e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.login_refused(status, response).await);
        }
        let token = response
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(Secret::new)
            .ok_or_else(|| {
                StoreError::Unavailable(format!("Keystone at {url} answered without a token"))
            })?;
        let answer: TokenAnswer = response.json().await.map_err(|e| {
            StoreError::Unavailable(format!("Keystone at {url} sent an unreadable token: {e}"))
        })?;
        let storage_url = match &config.endpoint {
            Some(endpoint) => endpoint.clone(),
            None => self.catalog_url(&answer.token.catalog)?,
        };
        let renew_at = time::OffsetDateTime::parse(
            &answer.token.expires_at,
            &time::format_description::well_known::Rfc3339,
        )
        .ok()
        .map(|expires| {
            let left = expires - time::OffsetDateTime::now_utc();
            self.renew_at(left.try_into().unwrap_or(Duration::ZERO))
        });
        Ok(Session {
            storage_url: storage_url.trim_end_matches('/').to_owned(),
            token,
            renew_at,
        })
    }

    /// The storage URL of the configured service type, interface and region.
    fn catalog_url(&self, catalog: &[CatalogEntry]) -> Result<String, StoreError> {
        let config = &self.config;
        let interface = config
            .endpoint_type
            .strip_suffix("URL")
            .unwrap_or(&config.endpoint_type);
        catalog
            .iter()
            .filter(|entry| entry.service_type == config.service_type)
            .flat_map(|entry| &entry.endpoints)
            .find(|e| {
                e.interface == interface
                    && config.region.as_ref().is_none_or(|region| {
                        e.region_id.as_ref() == Some(region) || e.region.as_ref() == Some(region)
                    })
            })
            .map(|e| e.url.clone())
            .ok_or_else(|| {
                StoreError::Refused(format!(
                    "the Keystone catalog has no {} endpoint of type {}{}",
                    config.service_type,
                    config.endpoint_type,
                    config
                        .region
                        .as_ref()
                        .map(|r| format!(" in region {r}"))
                        .unwrap_or_default(),
                ))
            })
    }

    async fn login_refused(
        &self,
        status: reqwest::StatusCode,
        response: reqwest::Response,
    ) -> StoreError {
        if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
            return StoreError::Refused(format!(
                "{} refused the credentials of user {} ({status})",
                self.config.auth_address, self.config.user
            ));
        }
        unexpected_status(&format!("login at {}", self.config.auth_address), response).await
    }
}

fn domain(id: &Option<String>, name: &Option<String>) -> serde_json::Value {
    match (id, name) {
        (Some(id), _) => json!({ "id": id }),
        (None, Some(name)) => json!({ "name": name }),
        (None, None) => json!({ "id": "default" }),
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    token: TokenBody,
}

#[derive(Deserialize)]
struct TokenBody {
    expires_at: String,
    #[serde(default)]
    catalog: Vec<CatalogEntry>,
}

#[derive(Deserialize)]
struct CatalogEntry {
    #[serde(rename = "type")]
    service_type: String,
    #[serde(default)]
    endpoints: Vec<Endpoint>,
}

#[derive(Deserialize)]
struct Endpoint {
    interface: String,
    url: String,
    region_id: Option<String>,
    region: Option<String>,
}
