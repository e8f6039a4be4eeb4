//! Builds the caller's request context from the request.

use axum::extract::FromRequestParts;
use glint_core::RequestContext;
use http::request::Parts;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::request_id::RequestId;
use crate::state::{AppState, AuthMode};

/// webob's explanation of a 401, which Glance's context middleware sends
/// when no identity was confirmed.
pub const UNAUTHORIZED: &str = "This server could not verify that you are authorized to access \
     the document you requested. Either you supplied the wrong credentials (e.g., bad password), \
     or your browser does not understand how to supply the credentials required.";

/// The caller of this request.
#[derive(Debug, Clone)]
pub struct Ctx(pub RequestContext);

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

impl FromRequestParts<AppState> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        match &state.config.auth {
            AuthMode::NoAuth => no_auth_context(parts, state, request_id),
            AuthMode::Keystone(_) => keystone_context(parts, state, request_id),
        }
    }
}

/// The context of the caller the auth middleware established. An
/// anonymous caller may only read, as Glance's `mutating` guard enforces
/// before any handler runs.
fn keystone_context(parts: &Parts, state: &AppState, request_id: String) -> Result<Ctx, ApiError> {
    let policy = state.images.policy();
    match parts.extensions.get::<Caller>() {
        Some(Caller::Token(identity)) => Ok(Ctx(RequestContext::from_credentials(
            request_id,
            identity.credentials(),
            policy,
        ))),
        Some(Caller::Anonymous) => {
            if !matches!(parts.method, http::Method::GET | http::Method::HEAD) {
                return Err(ApiError::ReadOnly);
            }
            Ok(Ctx(RequestContext::new(
                request_id,
                None,
                None,
                Vec::new(),
                policy,
            )))
        }
        None => Err(ApiError::Unauthorized(UNAUTHORIZED.into())),
    }
}

/// Trusts the identity headers an auth middleware would have set; each one
/// the client leaves out defaults to the development admin, as the
/// reference deployment without Keystone does.
fn no_auth_context(parts: &Parts, state: &AppState, request_id: String) -> Result<Ctx, ApiError> {
    if header(parts, "x-identity-status").is_some_and(|s| !s.eq_ignore_ascii_case("confirmed")) {
        return Err(ApiError::Unauthorized(UNAUTHORIZED.into()));
    }
    let user = header(parts, "x-user-id").unwrap_or("admin").to_string();
    let project = header(parts, "x-project-id")
        .or_else(|| header(parts, "x-tenant-id"))
        .unwrap_or("admin")
        .to_string();
    let roles: Vec<String> = header(parts, "x-roles")
        .unwrap_or("admin,member,reader")
        .split(',')
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    let ctx = RequestContext::new(
        request_id,
        Some(user),
        Some(project),
        roles,
        state.images.policy(),
    );
    Ok(Ctx(ctx))
}
