//! Builds the caller's request context from the request.

use axum::extract::FromRequestParts;
use glint_core::RequestContext;
use http::request::Parts;

use crate::error::ApiError;
use crate::request_id::RequestId;
use crate::state::{AppState, AuthMode};

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
        match state.config.auth {
            AuthMode::NoAuth => no_auth_context(parts, state, request_id),
        }
    }
}

/// Trusts the identity headers an auth middleware would have set; each one
/// the client leaves out defaults to the development admin, as the
/// reference deployment without Keystone does.
fn no_auth_context(parts: &Parts, state: &AppState, request_id: String) -> Result<Ctx, ApiError> {
    if header(parts, "x-identity-status").is_some_and(|s| !s.eq_ignore_ascii_case("confirmed")) {
        return Err(ApiError::Unauthorized(
            "This server could not verify that you are authorized to access the document you \
             requested. Either you supplied the wrong credentials (e.g., bad password), or your \
             browser does not understand how to supply the credentials required."
                .into(),
        ));
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
