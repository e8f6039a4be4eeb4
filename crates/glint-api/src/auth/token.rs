//! The token documents of Keystone v3 (`{"token": {...}}`), read into an
//! [`Identity`] the way keystoneauth's `AccessInfo` reads them.

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use glint_core::ImageEndpoint;

use super::Identity;

#[derive(Deserialize)]
struct TokenBody {
    token: TokenData,
}

#[derive(Deserialize)]
struct TokenData {
    expires_at: String,
    user: Option<Named>,
    project: Option<Named>,
    domain: Option<Named>,
    system: Option<serde_json::Value>,
    #[serde(default)]
    roles: Vec<Role>,
    is_admin_project: Option<bool>,
    #[serde(default)]
    catalog: Vec<CatalogService>,
}

#[derive(Deserialize)]
struct CatalogService {
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    endpoints: Vec<CatalogEndpoint>,
}

#[derive(Deserialize)]
struct CatalogEndpoint {
    interface: Option<String>,
    region_id: Option<String>,
    region: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct Named {
    id: String,
    name: Option<String>,
    domain: Option<Box<Named>>,
}

#[derive(Deserialize)]
struct Role {
    name: String,
}

/// Reads the `{"token": {...}}` answer of Keystone v3.
pub fn parse_token(body: &[u8]) -> Result<Identity, String> {
    let TokenBody { token } = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let expires_at = OffsetDateTime::parse(&token.expires_at, &Rfc3339)
        .map_err(|e| format!("bad expires_at '{}': {e}", token.expires_at))?;
    let user = token.user.ok_or("the token has no user")?;
    let domain_of = |n: &Named| n.domain.as_ref().map(|d| d.id.clone());
    let system_all = token
        .system
        .as_ref()
        .and_then(|s| s.get("all"))
        .and_then(serde_json::Value::as_bool)
        == Some(true);
    Ok(Identity {
        user_domain_id: domain_of(&user),
        user_name: user.name,
        user_id: user.id,
        project_domain_id: token.project.as_ref().and_then(domain_of),
        project_id: token.project.map(|p| p.id),
        domain_id: token.domain.map(|d| d.id),
        system_scope: system_all.then(|| "all".to_owned()),
        roles: token.roles.into_iter().map(|r| r.name).collect(),
        // keystonemiddleware treats a missing flag as the admin project.
        is_admin_project: token.is_admin_project.unwrap_or(true),
        expires_at,
        image_endpoints: image_endpoints(token.catalog),
    })
}

/// The image service's endpoints of a v3 catalog (only those are kept: a
/// cloud's whole catalog can be large, and each cached token holds this).
fn image_endpoints(catalog: Vec<CatalogService>) -> Vec<ImageEndpoint> {
    catalog
        .into_iter()
        .filter(|s| s.kind.as_deref() == Some("image"))
        .flat_map(|s| s.endpoints)
        .filter_map(|e| {
            Some(ImageEndpoint {
                region: e.region_id.or(e.region)?,
                interface: e.interface?,
                url: e.url?,
            })
        })
        .take(MAX_IMAGE_ENDPOINTS)
        .collect()
}

/// The most image endpoints kept of one token's catalog.
const MAX_IMAGE_ENDPOINTS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_image_services_endpoints_of_the_catalog_are_kept() {
        let body = br#"{"token": {"expires_at": "2999-01-01T00:00:00Z", "user": {"id": "u"},
            "catalog": [
              {"type": "compute", "endpoints": [{"interface": "public", "region_id": "R1",
                "url": "http://nova"}]},
              {"type": "image", "name": "glance", "endpoints": [
                {"interface": "public", "region_id": "R1", "region": "R1", "url": "http://a"},
                {"interface": "internal", "region": "R2", "url": "http://b"},
                {"interface": "public", "url": "http://no-region"}]}]}}"#;
        let id = parse_token(body).unwrap();
        let got: Vec<_> = id
            .image_endpoints
            .iter()
            .map(|e| (e.region.as_str(), e.interface.as_str(), e.url.as_str()))
            .collect();
        assert_eq!(
            got,
            [("R1", "public", "http://a"), ("R2", "internal", "http://b")]
        );
    }

    #[test]
    fn token_body_gives_identity_with_keystonemiddleware_defaults() {
        let body = br#"{"token": {"expires_at": "2999-01-01T00:00:00.000000Z",
            "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
            "project": {"id": "p1", "name": "alpha", "domain": {"id": "default", "name": "Default"}},
            "roles": [{"id": "r1", "name": "member"}, {"id": "r2", "name": "Reader"}]}}"#;
        let id = parse_token(body).unwrap();
        assert_eq!(id.user_id, "u1");
        assert_eq!(id.project_id.as_deref(), Some("p1"));
        assert_eq!(id.roles, ["member", "Reader"]);
        assert_eq!(id.user_domain_id.as_deref(), Some("default"));
        assert!(id.is_admin_project);
        assert_eq!(id.system_scope, None);
    }

    #[test]
    fn system_scoped_token_and_bad_bodies() {
        let body = br#"{"token": {"expires_at": "2999-01-01T00:00:00Z",
            "user": {"id": "u1"}, "system": {"all": true}, "is_admin_project": false,
            "roles": [{"name": "admin"}]}}"#;
        let id = parse_token(body).unwrap();
        assert_eq!(id.system_scope.as_deref(), Some("all"));
        assert_eq!(id.project_id, None);
        assert!(!id.is_admin_project);
        assert!(id.image_endpoints.is_empty());
        assert!(parse_token(b"{}").is_err());
        assert!(parse_token(br#"{"token": {"expires_at": "soon", "user": {"id": "u"}}}"#).is_err());
    }
}
