//! What every handler shares.

use std::sync::Arc;

use glint_core::ImageService;

use crate::auth::KeystoneAuth;

/// How callers are identified.
#[derive(Debug, Clone)]
pub enum AuthMode {
    /// Development mode: identity comes from `X-User-Id`, `X-Project-Id`
    /// and `X-Roles` headers, defaulting to an admin of project `admin`.
    NoAuth,
    /// Keystone tokens (`X-Auth-Token`), validated against Keystone v3;
    /// client-sent identity headers are ignored.
    Keystone(KeystoneAuth),
}

/// Options of the HTTP layer.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    pub auth: AuthMode,
    /// Base URL put in `Location` headers and the versions document
    /// (`public_endpoint`); the request's own host when unset.
    pub public_endpoint: Option<String>,
    /// Longest accepted `X-Openstack-Request-ID` (`max_request_id_length`).
    pub max_request_id_length: usize,
    /// Import methods announced in `OpenStack-image-import-methods`.
    pub import_methods: Vec<String>,
    /// `[glint] allow_noauth_on_public_address`: the no-auth server may be
    /// reached under names it cannot know, so it does not check `Host`.
    pub allow_noauth_on_public_address: bool,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            auth: AuthMode::NoAuth,
            public_endpoint: None,
            max_request_id_length: 64,
            import_methods: Vec::new(),
            allow_noauth_on_public_address: false,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AppState {
    pub images: ImageService,
    pub config: Arc<ApiConfig>,
}

impl AppState {
    pub fn new(images: ImageService, config: ApiConfig) -> Self {
        AppState {
            images,
            config: Arc::new(config),
        }
    }
}
