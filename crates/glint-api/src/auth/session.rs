//! A service user's session with the identity service, as keystoneauth
//! keeps one: a token obtained by password authentication and renewed
//! before it expires (or once Keystone refuses it), and requests sent with
//! retries of connection failures. The token validator and the reader of
//! unified limits each hold one.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::{Mutex, RwLock};
use url::Url;

use super::token::parse_token;

/// A name or an id, as keystoneauth's password plugin accepts either.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameOrId {
    Name(String),
    Id(String),
}

/// Service tokens are renewed this long before they expire, as keystoneauth
/// does, so that a request never goes out with a token about to die.
const SERVICE_TOKEN_MARGIN: Duration = Duration::from_secs(120);
/// How long an idle connection to Keystone is kept for reuse.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(4);

/// First pause before retrying a connection failure; doubled each time.
const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);

/// Why a session could not do its work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SessionError {
    /// No usable answer: unreachable, timed out, 5xx, unreadable.
    #[error("{0}")]
    Unavailable(String),
    /// The identity service refused the user's credentials.
    #[error("{0}")]
    Refused(String),
}

#[derive(Debug)]
pub(crate) struct Session {
    http: reqwest::Client,
    /// `<identity>/v3/`, under which every path is resolved.
    base: Url,
    /// The body of `POST /v3/auth/tokens` that authenticates the user.
    auth_body: Value,
    max_retries: u32,
    token: RwLock<Option<ServiceToken>>,
    /// Held while a new token is being obtained.
    renewing: Mutex<()>,
}

#[derive(Debug, Clone)]
struct ServiceToken {
    id: String,
    renew_at: Instant,
}

impl Session {
    /// A session that authenticates with `auth_body` at `auth_url`; nothing
    /// is sent until the first request.
    pub(crate) fn new(
        auth_url: &Url,
        auth_body: Value,
        timeout: Duration,
        max_retries: u32,
    ) -> Result<Session, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            // Keystone's web servers close idle kept-alive connections after
            // a few seconds (Apache's KeepAliveTimeout is 5 s); one reused
            // as the server closes it fails the request. Idle connections
            // are dropped before that.
            .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
            .user_agent(concat!("glint/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Session {
            http,
            base: identity_base(auth_url)?,
            auth_body,
            max_retries,
            token: RwLock::new(None),
            renewing: Mutex::new(()),
        })
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// `path` (relative, e.g. `auth/tokens`) under the identity endpoint's
    /// `/v3/`.
    pub(crate) fn url(&self, path: &str) -> Url {
        let mut url = self.base.clone();
        url.set_path(&format!("{}{path}", self.base.path()));
        url
    }

    /// A token that is not about to expire. `stale` is one the identity
    /// service refused: it is replaced unless another request already did
    /// so.
    pub(crate) async fn token(&self, stale: Option<&str>) -> Result<String, SessionError> {
        let usable = |t: &Option<ServiceToken>| {
            t.as_ref()
                .filter(|t| t.renew_at > Instant::now() && Some(t.id.as_str()) != stale)
                .map(|t| t.id.clone())
        };
        if let Some(id) = usable(&*self.token.read().await) {
            return Ok(id);
        }
        let _renewing = self.renewing.lock().await;
        if let Some(id) = usable(&*self.token.read().await) {
            return Ok(id);
        }
        let fresh = self.obtain_token().await?;
        let id = fresh.id.clone();
        *self.token.write().await = Some(fresh);
        Ok(id)
    }

    /// `POST /v3/auth/tokens` with the user's password.
    async fn obtain_token(&self) -> Result<ServiceToken, SessionError> {
        let mut url = self.url("auth/tokens");
        url.set_query(Some("nocatalog"));
        let resp = self
            .send(|| self.http.post(url.clone()).json(&self.auth_body))
            .await?;
        let status = resp.status();
        if status != StatusCode::CREATED && status != StatusCode::OK {
            tracing::error!(status = status.as_u16(), "cannot obtain a service token");
            let why = format!("authentication of the service user answered {status}");
            return Err(if status.is_client_error() {
                SessionError::Refused(why)
            } else {
                SessionError::Unavailable(why)
            });
        }
        let id = resp
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| SessionError::Unavailable("no X-Subject-Token in the answer".into()))?;
        let body = resp
            .bytes()
            .await
            .map_err(|e| SessionError::Unavailable(format!("reading the service token: {e}")))?;
        let expires_at = parse_token(&body)
            .map_err(|e| SessionError::Unavailable(format!("unreadable service token: {e}")))?
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
    /// `max_retries` times with a doubling pause, as keystoneauth does.
    pub(crate) async fn send(
        &self,
        request: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, SessionError> {
        let mut delay = FIRST_RETRY_DELAY;
        let mut attempt = 0;
        loop {
            match request().send().await {
                Ok(resp) => return Ok(resp),
                Err(e) if attempt < self.max_retries => {
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
                    return Err(SessionError::Unavailable(format!(
                        "the identity service is {what}"
                    )));
                }
            }
        }
    }
}

/// `…/v3/` under the identity endpoint, with or without its `/v3`.
fn identity_base(auth_url: &Url) -> Result<Url, String> {
    let mut url = auth_url.clone();
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/');
    if path.ends_with("/v2.0") {
        return Err("the Identity v2.0 API is not supported; use a v3 auth_url".into());
    }
    let base = path.strip_suffix("/v3").unwrap_or(path).to_owned();
    url.set_path(&format!("{base}/v3/"));
    Ok(url)
}

fn name_or_id(v: &NameOrId) -> Value {
    match v {
        NameOrId::Name(name) => json!({ "name": name }),
        NameOrId::Id(id) => json!({ "id": id }),
    }
}

/// `{"name": …, "domain": …}` or `{"id": …}`: a domain only goes with a
/// name.
pub(crate) fn with_domain(v: &NameOrId, domain: &Option<NameOrId>) -> Value {
    let mut obj = name_or_id(v);
    if let (Some(domain), NameOrId::Name(_)) = (domain, v) {
        obj["domain"] = name_or_id(domain);
    }
    obj
}

/// What a token is scoped to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// A project, given by id, or by name with its domain.
    Project {
        project: NameOrId,
        domain: Option<NameOrId>,
    },
    /// A domain.
    Domain(NameOrId),
    /// The whole deployment (`system_scope = all`).
    System,
}

/// The body of a password authentication of `user` (with its domain),
/// scoped to `scope`.
pub(crate) fn password_auth_body(
    user: &NameOrId,
    user_domain: &Option<NameOrId>,
    password: &str,
    scope: &Scope,
) -> Value {
    let mut user = with_domain(user, user_domain);
    user["password"] = json!(password);
    let scope = match scope {
        Scope::Project { project, domain } => json!({ "project": with_domain(project, domain) }),
        Scope::Domain(domain) => json!({ "domain": name_or_id(domain) }),
        Scope::System => json!({ "system": { "all": true } }),
    };
    json!({
        "auth": {
            "identity": { "methods": ["password"], "password": { "user": user } },
            "scope": scope
        }
    })
}

/// How long until `expires_at`, zero if past.
pub(crate) fn remaining(expires_at: OffsetDateTime) -> Duration {
    let left = expires_at - OffsetDateTime::now_utc();
    Duration::try_from(left).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_resolve_under_v3_for_bare_and_versioned_endpoints() {
        let url = |s: &str| {
            let auth_url = Url::parse(s).unwrap();
            identity_base(&auth_url).map(|base| {
                let session = Session::new(&auth_url, Value::Null, Duration::from_secs(1), 0);
                assert_eq!(session.unwrap().base, base);
                let mut tokens = base.clone();
                tokens.set_path(&format!("{}auth/tokens", base.path()));
                tokens.to_string()
            })
        };
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
    fn password_bodies_scope_to_a_project_a_domain_or_the_system() {
        let user = NameOrId::Name("glint".into());
        let default = Some(NameOrId::Name("Default".into()));
        let project = Scope::Project {
            project: NameOrId::Id("p1".into()),
            domain: default.clone(),
        };
        let body = password_auth_body(&user, &default, "pw", &project);
        let sent = &body["auth"]["identity"]["password"]["user"];
        assert_eq!(sent["name"], "glint");
        assert_eq!(sent["domain"]["name"], "Default");
        assert_eq!(sent["password"], "pw");
        assert_eq!(body["auth"]["scope"], json!({"project": {"id": "p1"}}));
        let system = password_auth_body(&user, &default, "pw", &Scope::System);
        assert_eq!(system["auth"]["scope"], json!({"system": {"all": true}}));
        let domain = Scope::Domain(NameOrId::Id("d1".into()));
        let body = password_auth_body(&user, &default, "pw", &domain);
        assert_eq!(body["auth"]["scope"], json!({"domain": {"id": "d1"}}));
    }
}
