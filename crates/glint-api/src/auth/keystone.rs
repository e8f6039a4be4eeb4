//! Validation of user tokens against the Keystone v3 API, the way
//! keystonemiddleware's `auth_token` does it: glint holds a token of its
//! own service user and asks `GET /v3/auth/tokens` about each user token
//! it has not seen recently.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::{Mutex, RwLock};
use url::Url;

use super::Identity;
use super::cache::{TokenCache, token_key};
use super::token::parse_token;

/// Service tokens are renewed this long before they expire, as keystoneauth
/// does, so that a validation never goes out with a token about to die.
const SERVICE_TOKEN_MARGIN: Duration = Duration::from_secs(120);
/// First pause before retrying a connection failure; doubled each time.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);

/// A name or an id, as keystoneauth's password plugin accepts either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameOrId {
    Name(String),
    Id(String),
}

/// The service user's password credentials (`auth_type = password`).
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceCredentials {
    pub user: NameOrId,
    /// Domain of the user; needed when the user is given by name.
    pub user_domain: Option<NameOrId>,
    pub password: String,
    pub project: NameOrId,
    /// Domain of the project; needed when the project is given by name.
    pub project_domain: Option<NameOrId>,
}

impl std::fmt::Debug for ServiceCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceCredentials")
            .field("user", &self.user)
            .field("user_domain", &self.user_domain)
            .field("password", &"***")
            .field("project", &self.project)
            .field("project_domain", &self.project_domain)
            .finish()
    }
}

/// Everything the validator needs, from `[keystone_authtoken]`.
#[derive(Debug, Clone)]
pub struct KeystoneConfig {
    /// Identity endpoint, with or without its trailing `/v3`.
    pub auth_url: Url,
    pub credentials: ServiceCredentials,
    /// Whether validations ask Keystone for the service catalog.
    pub include_service_catalog: bool,
    /// How long a validated token is trusted without asking again;
    /// `None` disables the cache.
    pub token_cache_time: Option<Duration>,
    /// Most tokens kept in the cache.
    pub token_cache_size: usize,
    /// Time limit of each request to Keystone.
    pub http_timeout: Duration,
    /// Retries of a request that could not reach Keystone.
    pub http_max_retries: u32,
}

/// Why a token was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The token is unknown, revoked, expired or unreadable: 401.
    #[error("invalid token: {0}")]
    InvalidToken(String),
    /// Keystone could not give an answer: 503.
    #[error("identity service unavailable: {0}")]
    Unavailable(String),
}

impl KeystoneConfig {
    /// keystonemiddleware's defaults, which an unset option takes.
    pub const DEFAULT_INCLUDE_SERVICE_CATALOG: bool = true;
    pub const DEFAULT_TOKEN_CACHE_TIME: Option<Duration> = Some(Duration::from_secs(300));
    pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_HTTP_MAX_RETRIES: u32 = 3;
    /// glint's own option (keystonemiddleware caches in memcached).
    pub const DEFAULT_TOKEN_CACHE_SIZE: usize = 10_000;
}

/// Validates user tokens; cheap to clone.
#[derive(Debug, Clone)]
pub struct KeystoneValidator {
    inner: Arc<Inner>,
}

/// Validators are equal when they are the same one: clones share their
/// service token and cache, two validators built alike do not.
impl PartialEq for KeystoneValidator {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

#[derive(Debug)]
struct Inner {
    http: reqwest::Client,
    /// `<identity>/v3/auth/tokens`.
    tokens_url: Url,
    config: KeystoneConfig,
    service_token: RwLock<Option<ServiceToken>>,
    /// Held while a new service token is being obtained.
    renewing: Mutex<()>,
    cache: TokenCache<Arc<Identity>, AuthError>,
}

#[derive(Debug, Clone)]
struct ServiceToken {
    id: String,
    renew_at: Instant,
}

impl KeystoneValidator {
    /// Builds the validator; nothing is sent to Keystone until the first
    /// request needs it.
    pub fn new(config: KeystoneConfig) -> Result<Self, String> {
        let tokens_url = tokens_url(&config.auth_url)?;
        let http = reqwest::Client::builder()
            .timeout(config.http_timeout)
            .connect_timeout(config.http_timeout)
            .user_agent(concat!("glint/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let capacity = match config.token_cache_time {
            Some(_) => config.token_cache_size,
            None => 0,
        };
        Ok(KeystoneValidator {
            inner: Arc::new(Inner {
                http,
                tokens_url,
                cache: TokenCache::new(capacity),
                service_token: RwLock::new(None),
                renewing: Mutex::new(()),
                config,
            }),
        })
    }

    /// The identity behind `token`, from the cache or from Keystone.
    pub async fn validate(&self, token: &str) -> Result<Arc<Identity>, AuthError> {
        let inner = &self.inner;
        let max_age = inner.config.token_cache_time.unwrap_or_default();
        let identity = inner
            .cache
            .get_or_validate(token_key(token), max_age, || async {
                let identity = inner.validate_with_keystone(token).await?;
                let until = identity.valid_until();
                Ok((Arc::new(identity), until))
            })
            .await?;
        // A cached entry never outlives its token, but the clock may have
        // passed the expiry between the insert and now.
        if identity.expires_at <= OffsetDateTime::now_utc() {
            return Err(AuthError::InvalidToken("token expired".into()));
        }
        Ok(identity)
    }

    /// Number of tokens currently cached.
    pub fn cached_tokens(&self) -> usize {
        self.inner.cache.len()
    }
}

impl Inner {
    /// Asks Keystone, renewing the service token and asking again once if
    /// Keystone says the service token is no good.
    async fn validate_with_keystone(&self, token: &str) -> Result<Identity, AuthError> {
        let service = self.service_token(None).await?;
        let identity = match self.ask_keystone(&service, token).await? {
            Some(identity) => identity,
            None => {
                tracing::info!("identity service rejected the service token; obtaining a new one");
                let renewed = self.service_token(Some(&service)).await?;
                self.ask_keystone(&renewed, token).await?.ok_or_else(|| {
                    AuthError::Unavailable(
                        "the identity service rejected the authorization needed to validate \
                         tokens"
                            .into(),
                    )
                })?
            }
        };
        if identity.expires_at <= OffsetDateTime::now_utc() {
            return Err(AuthError::InvalidToken("token expired".into()));
        }
        Ok(identity)
    }

    /// Keystone's answer about `token`; `None` when it refused the service
    /// token itself (401).
    async fn ask_keystone(
        &self,
        service: &str,
        token: &str,
    ) -> Result<Option<Identity>, AuthError> {
        let mut url = self.tokens_url.clone();
        if !self.config.include_service_catalog {
            url.set_query(Some("nocatalog"));
        }
        let resp = self
            .send(|| {
                self.http
                    .get(url.clone())
                    .header("X-Auth-Token", service)
                    .header("X-Subject-Token", token)
            })
            .await?;
        match resp.status() {
            StatusCode::OK => {
                let body = resp.bytes().await.map_err(|e| {
                    AuthError::Unavailable(format!("reading the validation answer failed: {e}"))
                })?;
                parse_token(&body).map(Some).map_err(|e| {
                    tracing::warn!(error = %e, "identity service returned unreadable token data");
                    AuthError::InvalidToken(format!("invalid token contents: {e}"))
                })
            }
            StatusCode::NOT_FOUND => Err(AuthError::InvalidToken(
                "the identity service does not know the token".into(),
            )),
            StatusCode::UNAUTHORIZED => Ok(None),
            status => Err(AuthError::Unavailable(format!(
                "token validation answered {status}"
            ))),
        }
    }

    /// A service token that is not about to expire. `stale` is one the
    /// identity service refused: it is replaced unless another request
    /// already did so.
    async fn service_token(&self, stale: Option<&str>) -> Result<String, AuthError> {
        let usable = |t: &Option<ServiceToken>| {
            t.as_ref()
                .filter(|t| t.renew_at > Instant::now() && Some(t.id.as_str()) != stale)
                .map(|t| t.id.clone())
        };
        if let Some(id) = usable(&*self.service_token.read().await) {
            return Ok(id);
        }
        let _renewing = self.renewing.lock().await;
        if let Some(id) = usable(&*self.service_token.read().await) {
            return Ok(id);
        }
        let fresh = self.obtain_service_token().await?;
        let id = fresh.id.clone();
        *self.service_token.write().await = Some(fresh);
        Ok(id)
    }

    /// `POST /v3/auth/tokens` with the service user's password.
    async fn obtain_service_token(&self) -> Result<ServiceToken, AuthError> {
        let body = password_auth_body(&self.config.credentials);
        let mut url = self.tokens_url.clone();
        url.set_query(Some("nocatalog"));
        let resp = self
            .send(|| self.http.post(url.clone()).json(&body))
            .await?;
        let status = resp.status();
        if status != StatusCode::CREATED && status != StatusCode::OK {
            tracing::error!(status = status.as_u16(), "cannot obtain a service token");
            return Err(AuthError::Unavailable(format!(
                "authentication of the service user answered {status}"
            )));
        }
        let id = resp
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| AuthError::Unavailable("no X-Subject-Token in the answer".into()))?;
        let body = resp
            .bytes()
            .await
            .map_err(|e| AuthError::Unavailable(format!("reading the service token: {e}")))?;
        let expires_at = parse_token(&body)
            .map_err(|e| AuthError::Unavailable(format!("unreadable service token: {e}")))?
            .expires_at;
        let lifetime = remaining(expires_at);
        tracing::info!(
            lifetime_s = lifetime.as_secs(),
            "obtained a service token from the identity service"
        );
        Ok(ServiceToken {
            id,
            renew_at: Instant::now() + lifetime.saturating_sub(SERVICE_TOKEN_MARGIN),
        })
    }

    /// Sends a request, retrying connection failures and timeouts up to
    /// `http_max_retries` times with a doubling pause, as keystoneauth does.
    async fn send(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, AuthError> {
        let mut delay = FIRST_RETRY_DELAY;
        let mut attempt = 0;
        loop {
            match request().send().await {
                Ok(resp) => return Ok(resp),
                Err(e) if attempt < self.config.http_max_retries => {
                    tracing::warn!(error = %e, attempt, "identity service unreachable; retrying");
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                    attempt += 1;
                }
                Err(e) => {
                    tracing::error!(error = %e, "identity service unreachable");
                    let what = if e.is_timeout() {
                        "timed out"
                    } else {
                        "unreachable"
                    };
                    return Err(AuthError::Unavailable(format!(
                        "the identity service is {what}"
                    )));
                }
            }
        }
    }
}

/// `…/v3/auth/tokens` under the identity endpoint.
fn tokens_url(auth_url: &Url) -> Result<Url, String> {
    let mut url = auth_url.clone();
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/');
    if path.ends_with("/v2.0") {
        return Err("the Identity v2.0 API is not supported; use a v3 auth_url".into());
    }
    let base = path.strip_suffix("/v3").unwrap_or(path).to_owned();
    url.set_path(&format!("{base}/v3/auth/tokens"));
    Ok(url)
}

fn name_or_id(v: &NameOrId) -> serde_json::Value {
    match v {
        NameOrId::Name(name) => json!({ "name": name }),
        NameOrId::Id(id) => json!({ "id": id }),
    }
}

fn with_domain(v: &NameOrId, domain: &Option<NameOrId>) -> serde_json::Value {
    let mut obj = name_or_id(v);
    if let (Some(domain), NameOrId::Name(_)) = (domain, v) {
        obj["domain"] = name_or_id(domain);
    }
    obj
}

/// The body of a project-scoped password authentication.
fn password_auth_body(c: &ServiceCredentials) -> serde_json::Value {
    let mut user = with_domain(&c.user, &c.user_domain);
    user["password"] = json!(c.password);
    json!({
        "auth": {
            "identity": { "methods": ["password"], "password": { "user": user } },
            "scope": { "project": with_domain(&c.project, &c.project_domain) }
        }
    })
}

/// How long until `expires_at`, zero if past.
fn remaining(expires_at: OffsetDateTime) -> Duration {
    let left = expires_at - OffsetDateTime::now_utc();
    Duration::try_from(left).unwrap_or_default()
}

impl Identity {
    /// The instant after which the token must not be trusted any more.
    fn valid_until(&self) -> Instant {
        Instant::now() + remaining(self.expires_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_url_accepts_bare_and_versioned_endpoints() {
        let url = |s: &str| tokens_url(&Url::parse(s).unwrap()).map(|u| u.to_string());
        assert_eq!(
            url("http://k:5000").unwrap(),
            "http://k:5000/v3/auth/tokens"
        );
        assert_eq!(
            url("http://k:5000/v3/").unwrap(),
            "http://k:5000/v3/auth/tokens"
        );
        assert_eq!(
            url("https://k/identity?x=1").unwrap(),
            "https://k/identity/v3/auth/tokens"
        );
        assert!(url("http://k:5000/v2.0").is_err());
    }

    #[test]
    fn password_body_scopes_to_the_project_with_domains_for_names() {
        let body = password_auth_body(&ServiceCredentials {
            user: NameOrId::Name("glint".into()),
            user_domain: Some(NameOrId::Name("Default".into())),
            password: "pw".into(),
            project: NameOrId::Id("p1".into()),
            project_domain: Some(NameOrId::Name("Default".into())),
        });
        let user = &body["auth"]["identity"]["password"]["user"];
        assert_eq!(user["name"], "glint");
        assert_eq!(user["domain"]["name"], "Default");
        assert_eq!(user["password"], "pw");
        assert_eq!(body["auth"]["scope"]["project"], json!({"id": "p1"}));
    }

    #[test]
    fn service_credentials_debug_hides_the_password() {
        let creds = ServiceCredentials {
            user: NameOrId::Name("glint".into()),
            user_domain: None,
            password: "hunter2".into(),
            project: NameOrId::Name("service".into()),
            project_domain: None,
        };
        assert!(!format!("{creds:?}").contains("hunter2"));
    }
}
