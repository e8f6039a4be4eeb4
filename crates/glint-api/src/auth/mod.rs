//! Who is calling: Keystone token authentication.
//!
//! With Keystone on, [`authenticate`] runs before the v2 routes, as
//! keystonemiddleware's `auth_token` and Glance's context middleware do in
//! Glance's pipeline. It removes every identity header the client sent, so
//! identity can only come from a validated token, then either attaches a
//! [`Caller`] to the request or answers 401 (or 503 when Keystone cannot
//! be asked). The versions document and `/healthcheck` are answered
//! without a token, as in Glance.

pub mod cache;
pub mod keystone;
pub mod limits;
mod session;
mod token;

use std::sync::Arc;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use glint_policy::Credentials;
use http::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};
use time::OffsetDateTime;

pub use keystone::{AuthError, KeystoneConfig, KeystoneValidator, ServiceCredentials};
pub use limits::{EndpointChoice, KeystoneLimits, LimitsConfig};
pub use session::{NameOrId, Scope};
pub use token::parse_token;

use crate::error::ApiError;
use crate::state::{AppState, AuthMode};

/// What a validated token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: String,
    pub user_name: Option<String>,
    pub user_domain_id: Option<String>,
    /// Set for project-scoped tokens.
    pub project_id: Option<String>,
    pub project_domain_id: Option<String>,
    /// Set for domain-scoped tokens.
    pub domain_id: Option<String>,
    /// `all` for system-scoped tokens.
    pub system_scope: Option<String>,
    /// Role names, implied roles included.
    pub roles: Vec<String>,
    pub is_admin_project: bool,
    pub expires_at: OffsetDateTime,
    /// The image service's endpoints of the token's catalog (empty when
    /// validations ask for no catalog).
    pub image_endpoints: Vec<glint_core::ImageEndpoint>,
}

impl Identity {
    /// The policy credentials oslo.context would build from the headers
    /// keystonemiddleware sets for this token.
    pub fn credentials(&self) -> Credentials {
        let mut credentials = Credentials {
            user_id: Some(self.user_id.clone()),
            project_id: self.project_id.clone(),
            domain_id: self.domain_id.clone(),
            system_scope: self.system_scope.clone(),
            ..Credentials::default()
        }
        .with_roles(&self.roles);
        let flag = if self.is_admin_project {
            "True"
        } else {
            "False"
        };
        credentials
            .extra
            .insert("is_admin_project".into(), flag.into());
        for (name, value) in [
            ("user_domain_id", &self.user_domain_id),
            ("project_domain_id", &self.project_domain_id),
        ] {
            if let Some(value) = value {
                credentials.extra.insert(name.into(), value.clone());
            }
        }
        credentials
    }
}

/// The caller of a request that passed authentication.
#[derive(Debug, Clone)]
pub enum Caller {
    /// Holder of a valid token.
    Token(Arc<Identity>),
    /// No (valid) token, admitted by `allow_anonymous_access`: no user, no
    /// project, no roles, read-only.
    Anonymous,
}

/// Keystone authentication as configured.
#[derive(Debug, Clone, PartialEq)]
pub struct KeystoneAuth {
    pub validator: KeystoneValidator,
    /// Let requests without a valid token through to the context decision
    /// (anonymous access or 401) instead of refusing them at once.
    pub delay_auth_decision: bool,
    /// `[DEFAULT] allow_anonymous_access`.
    pub allow_anonymous_access: bool,
    /// Sent in `WWW-Authenticate: Keystone uri="…"` with every 401.
    pub www_authenticate_uri: String,
}

impl KeystoneAuth {
    /// Glance's paste pipeline sets `delay_auth_decision` for its
    /// `authtoken` filter, so tokens are judged by the context.
    pub const DEFAULT_DELAY_AUTH_DECISION: bool = true;
    /// Without a token a request is refused unless the operator opts in.
    pub const DEFAULT_ALLOW_ANONYMOUS_ACCESS: bool = false;
}

/// Headers through which an auth middleware passes identity downstream.
/// A client must never be able to set them itself (keystonemiddleware's
/// list, plus the scope header it sets alongside).
const IDENTITY_HEADERS: &[&str] = &[
    "x-identity-status",
    "x-service-identity-status",
    "x-service-catalog",
    "x-is-admin-project",
    "openstack-system-scope",
    "x-role",
    "x-roles",
    "x-user",
    "x-tenant",
    "x-tenant-id",
    "x-tenant-name",
    "x-domain-id",
    "x-domain-name",
    "x-project-id",
    "x-project-name",
    "x-project-domain-id",
    "x-project-domain-name",
    "x-user-id",
    "x-user-name",
    "x-user-domain-id",
    "x-user-domain-name",
    "x-service-roles",
    "x-service-domain-id",
    "x-service-domain-name",
    "x-service-project-id",
    "x-service-project-name",
    "x-service-project-domain-id",
    "x-service-project-domain-name",
    "x-service-user-id",
    "x-service-user-name",
    "x-service-user-domain-id",
    "x-service-user-domain-name",
];

/// Removes every client-sent identity header.
pub fn strip_identity_headers(headers: &mut HeaderMap) {
    for name in IDENTITY_HEADERS {
        headers.remove(*name);
    }
}

/// Paths Glance answers before its auth middleware.
fn is_public_path(path: &str) -> bool {
    matches!(path, "/" | "/versions" | "/versions/" | "/healthcheck")
}

/// The token of the request: `X-Auth-Token`, or the older `X-Storage-Token`.
pub(crate) fn user_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("x-auth-token")
        .or_else(|| headers.get("x-storage-token"))
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Establishes the [`Caller`] of every request that needs one, in the
/// request's extensions; `Err` holds the answer to a request refused here.
/// `Ok(true)`: the answer to the request must go through [`challenge`].
pub async fn authenticate(state: &AppState, req: &mut Request) -> Result<bool, Response> {
    let AuthMode::Keystone(auth) = &state.config.auth else {
        return Ok(false);
    };
    strip_identity_headers(req.headers_mut());
    if is_public_path(req.uri().path()) {
        return Ok(false);
    }
    let outcome = match user_token(req.headers()) {
        Some(token) => auth.validator.validate(token).await.map(Caller::Token),
        None => Err(AuthError::InvalidToken("no token".into())),
    };
    let caller = match outcome {
        Ok(caller) => caller,
        Err(AuthError::Unavailable(reason)) => {
            tracing::error!(%reason, "cannot validate the token");
            return Err(ApiError::IdentityUnavailable.into_response());
        }
        Err(AuthError::InvalidToken(reason)) => {
            tracing::info!(%reason, "request without a valid token");
            if !auth.delay_auth_decision {
                return Err(requires_authentication(auth));
            }
            if !auth.allow_anonymous_access {
                let mut resp =
                    ApiError::Unauthorized(crate::context::UNAUTHORIZED.into()).into_response();
                add_www_authenticate(auth, resp.headers_mut());
                return Err(resp);
            }
            Caller::Anonymous
        }
    };
    req.extensions_mut().insert(caller);
    Ok(true)
}

/// A 401 of an authenticated request's handler says where to get a token.
pub fn challenge(state: &AppState, mut resp: Response) -> Response {
    if let AuthMode::Keystone(auth) = &state.config.auth
        && resp.status() == StatusCode::UNAUTHORIZED
    {
        add_www_authenticate(auth, resp.headers_mut());
    }
    resp
}

fn add_www_authenticate(auth: &KeystoneAuth, headers: &mut HeaderMap) {
    let value = format!("Keystone uri=\"{}\"", auth.www_authenticate_uri);
    if let Ok(v) = HeaderValue::from_str(&value) {
        headers.insert(WWW_AUTHENTICATE, v);
    }
}

/// keystonemiddleware's own refusal: always JSON, whatever `Accept` says.
fn requires_authentication(auth: &KeystoneAuth) -> Response {
    const BODY: &str = "{\"error\": {\"code\": 401, \"title\": \"Unauthorized\", \
                        \"message\": \"The request you have made requires authentication.\"}}";
    let mut resp = (StatusCode::UNAUTHORIZED, BODY).into_response();
    resp.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    add_www_authenticate(auth, resp.headers_mut());
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_identity_header_is_stripped_and_others_kept() {
        let mut headers = HeaderMap::new();
        for name in IDENTITY_HEADERS {
            headers.insert(*name, HeaderValue::from_static("forged"));
        }
        headers.insert("X-Roles", HeaderValue::from_static("admin"));
        headers.insert("x-auth-token", HeaderValue::from_static("t"));
        headers.insert("x-openstack-request-id", HeaderValue::from_static("req-1"));
        strip_identity_headers(&mut headers);
        let mut left: Vec<_> = headers.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["x-auth-token", "x-openstack-request-id"]);
    }

    #[test]
    fn identity_becomes_oslo_policy_credentials() {
        let identity = Identity {
            user_id: "u".into(),
            user_name: Some("alice".into()),
            user_domain_id: Some("default".into()),
            project_id: Some("p".into()),
            project_domain_id: Some("default".into()),
            domain_id: None,
            system_scope: None,
            roles: vec!["Member".into(), "reader".into()],
            is_admin_project: true,
            expires_at: OffsetDateTime::now_utc(),
            image_endpoints: Vec::new(),
        };
        let c = identity.credentials();
        assert_eq!(c.user_id.as_deref(), Some("u"));
        assert_eq!(c.project_id.as_deref(), Some("p"));
        assert_eq!(c.roles, ["member", "reader"]);
        assert_eq!(c.extra["is_admin_project"], "True");
        assert_eq!(c.extra["user_domain_id"], "default");
        assert_eq!(c.extra["project_domain_id"], "default");
    }

    #[test]
    fn token_comes_from_x_auth_token_then_x_storage_token() {
        let mut headers = HeaderMap::new();
        assert_eq!(user_token(&headers), None);
        headers.insert("x-storage-token", HeaderValue::from_static("s"));
        assert_eq!(user_token(&headers), Some("s"));
        headers.insert("x-auth-token", HeaderValue::from_static(" a "));
        assert_eq!(user_token(&headers), Some("a"));
    }
}
