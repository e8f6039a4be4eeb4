//! Builds the caller's request context from the request.

use axum::extract::FromRequestParts;
use glint_core::RequestContext;
use http::HeaderName;
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

// The identity headers, named once: a name given as text is parsed
// again at every lookup.
const X_SERVICE_CATALOG: HeaderName = HeaderName::from_static("x-service-catalog");
const X_IDENTITY_STATUS: HeaderName = HeaderName::from_static("x-identity-status");
const X_USER_ID: HeaderName = HeaderName::from_static("x-user-id");
const X_PROJECT_ID: HeaderName = HeaderName::from_static("x-project-id");
const X_TENANT_ID: HeaderName = HeaderName::from_static("x-tenant-id");
const X_ROLES: HeaderName = HeaderName::from_static("x-roles");

/// A header as the client sent it, each byte one character (ISO-8859-1),
/// as a WSGI server hands header values to Glance; a repeated header is
/// joined with commas, as a WSGI server joins it; leading and trailing
/// blanks removed. `None` only when the header is absent.
fn header(parts: &Parts, name: &HeaderName) -> Option<String> {
    let mut values = parts.headers.get_all(name).iter();
    let first = values.next()?;
    let mut joined: String = first.as_bytes().iter().map(|&b| char::from(b)).collect();
    for value in values {
        joined.push(',');
        joined.extend(value.as_bytes().iter().map(|&b| char::from(b)));
    }
    let trimmed = joined.trim_matches([' ', '\t']);
    if trimmed.len() == joined.len() {
        return Some(joined);
    }
    Some(trimmed.to_string())
}

/// An identity header that names someone: its default when absent, 400
/// when sent empty (an empty project could own nothing and would match
/// nothing).
fn named(parts: &Parts, name: &HeaderName) -> Result<Option<String>, ApiError> {
    match header(parts, name) {
        Some(v) if v.is_empty() => Err(ApiError::BadRequest(format!(
            "The {} header must not be empty.",
            display_name(name.as_str())
        ))),
        other => Ok(other),
    }
}

fn display_name(name: &str) -> &'static str {
    match name {
        "x-user-id" => "X-User-Id",
        "x-project-id" => "X-Project-Id",
        _ => "X-Tenant-Id",
    }
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

/// What the caller lends glint to act for them at another image service
/// (`glance-download`): with Keystone, the request's token and the image
/// endpoints of its validated catalog; without, the `X-Auth-Token` and the
/// `X-Service-Catalog` (keystonemiddleware's JSON) a middleware in front
/// of glint passed on, as the other identity headers are trusted then.
/// Only the import route asks for it.
#[derive(Debug, Clone)]
pub struct Lent(pub Option<glint_core::Delegation>);

impl FromRequestParts<AppState> for Lent {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = crate::auth::user_token(&parts.headers).map(str::to_owned);
        match &state.config.auth {
            AuthMode::Keystone(_) => {
                let Some(Caller::Token(identity)) = parts.extensions.get::<Caller>() else {
                    return Ok(Lent(None));
                };
                Ok(Lent(token.map(|token| {
                    glint_core::Delegation::new(
                        token,
                        identity.image_endpoints.clone(),
                        Some(identity.expires_at),
                    )
                })))
            }
            AuthMode::NoAuth => {
                let endpoints = match header(parts, &X_SERVICE_CATALOG) {
                    Some(text) => catalog_header(&text)?,
                    None => Vec::new(),
                };
                Ok(Lent(Some(glint_core::Delegation::new(
                    token.unwrap_or_default(),
                    endpoints,
                    None,
                ))))
            }
        }
    }
}

/// The image endpoints of keystonemiddleware's `X-Service-Catalog` header:
/// a JSON list of services, each with its `type` and `endpoints`, each
/// endpoint with its `region` and a `publicURL`, `internalURL` and
/// `adminURL`.
fn catalog_header(text: &str) -> Result<Vec<glint_core::ImageEndpoint>, ApiError> {
    let invalid = || ApiError::BadRequest("Invalid service catalog json.".into());
    let services: serde_json::Value = serde_json::from_str(text).map_err(|_| invalid())?;
    let services = services.as_array().ok_or_else(invalid)?;
    let mut found = Vec::new();
    for service in services {
        if service.get("type").and_then(|t| t.as_str()) != Some("image") {
            continue;
        }
        let endpoints = service.get("endpoints").and_then(|e| e.as_array());
        for endpoint in endpoints.into_iter().flatten() {
            let Some(region) = endpoint.get("region").and_then(|r| r.as_str()) else {
                continue;
            };
            for interface in ["public", "internal", "admin"] {
                if let Some(url) = endpoint
                    .get(format!("{interface}URL"))
                    .and_then(|u| u.as_str())
                {
                    found.push(glint_core::ImageEndpoint {
                        region: region.to_owned(),
                        interface: interface.to_owned(),
                        url: url.to_owned(),
                    });
                }
            }
        }
    }
    Ok(found)
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
/// reference deployment without Keystone does. A header that was sent is
/// never replaced by its default, whatever its bytes: an unknown role or
/// project then simply matches nothing.
fn no_auth_context(parts: &Parts, state: &AppState, request_id: String) -> Result<Ctx, ApiError> {
    if header(parts, &X_IDENTITY_STATUS).is_some_and(|s| !s.eq_ignore_ascii_case("confirmed")) {
        return Err(ApiError::Unauthorized(UNAUTHORIZED.into()));
    }
    let user = named(parts, &X_USER_ID)?.unwrap_or_else(|| "admin".into());
    let project = match named(parts, &X_PROJECT_ID)? {
        Some(project) => project,
        None => named(parts, &X_TENANT_ID)?.unwrap_or_else(|| "admin".into()),
    };
    let roles: Vec<String> = header(parts, &X_ROLES)
        .unwrap_or_else(|| "admin,member,reader".into())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_header_gives_each_interface_of_each_image_endpoint() {
        let text = r#"[{"type": "compute", "endpoints": [{"region": "R1", "publicURL": "http://n"}]},
            {"type": "image", "endpoints": [
              {"region": "R1", "publicURL": "http://a", "internalURL": "http://a-int"},
              {"publicURL": "http://no-region"}]}]"#;
        let found = catalog_header(text).unwrap();
        let got: Vec<_> = found
            .iter()
            .map(|e| (e.region.as_str(), e.interface.as_str(), e.url.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("R1", "public", "http://a"),
                ("R1", "internal", "http://a-int")
            ]
        );
        for bad in ["", "{}", "not json", "[1, 2"] {
            assert!(
                matches!(catalog_header(bad), Err(ApiError::BadRequest(_))),
                "{bad}"
            );
        }
        assert!(catalog_header("[]").unwrap().is_empty());
    }
}
