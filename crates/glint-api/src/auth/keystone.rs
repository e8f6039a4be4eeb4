//! Validation of user tokens against the Keystone v3 API, the way
//! keystonemiddleware's `auth_token` does it: glint holds a token of its
//! own service user and asks `GET /v3/auth/tokens` about each user token
//! it has not seen recently.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use time::OffsetDateTime;
use url::Url;

use super::Identity;
use super::cache::{TokenCache, token_key};
use super::session::{NameOrId, Scope, Session, SessionError, password_auth_body, remaining};
use super::token::parse_token;

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

impl From<SessionError> for AuthError {
    fn from(e: SessionError) -> Self {
        AuthError::Unavailable(e.to_string())
    }
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
    session: Session,
    /// `<identity>/v3/auth/tokens`.
    tokens_url: Url,
    config: KeystoneConfig,
    cache: TokenCache<Arc<Identity>, AuthError>,
}

impl KeystoneValidator {
    /// Builds the validator; nothing is sent to Keystone until the first
    /// request needs it.
    pub fn new(config: KeystoneConfig) -> Result<Self, String> {
        let c = &config.credentials;
        let scope = Scope::Project {
            project: c.project.clone(),
            domain: c.project_domain.clone(),
        };
        let body = password_auth_body(&c.user, &c.user_domain, &c.password, &scope);
        let session = Session::new(
            &config.auth_url,
            body,
            config.http_timeout,
            config.http_max_retries,
        )?;
        let capacity = match config.token_cache_time {
            Some(_) => config.token_cache_size,
            None => 0,
        };
        Ok(KeystoneValidator {
            inner: Arc::new(Inner {
                tokens_url: session.url("auth/tokens"),
                session,
                cache: TokenCache::new(capacity),
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
        let service = self.session.token(None).await?;
        let identity = match self.ask_keystone(&service, token).await? {
            Some(identity) => identity,
            None => {
                tracing::info!("identity service rejected the service token; obtaining a new one");
                let renewed = self.session.token(Some(&service)).await?;
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
            .session
            .send(|| {
                self.session
                    .http()
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
