//! The swift store's settings, named after glance_store's options. The
//! binary reads them from a backend's section (or `[glance_store]`) and from
//! the `swift_store_config_file` reference; this crate only uses them.

use std::time::Duration;

use crate::Secret;

/// How the store logs in (`auth_version` of the reference, or
/// `swift_store_auth_version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SwiftAuthVersion {
    /// Swift's own v1 auth (tempauth, swauth, radosgw): `X-Auth-User` and
    /// `X-Auth-Key` against `auth_address`, which answers `X-Storage-Url`.
    V1,
    /// Keystone v3 password auth; the storage URL comes from the catalog
    /// (`service_type`, `region`, `endpoint_type`) unless `endpoint` is set.
    V3,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SwiftConfig {
    /// Name of the credentials in location URLs: `swift+config://<reference>/…`
    /// (`default_swift_reference`; the store id when the credentials are set
    /// in the store's own section). Locations never hold the credentials.
    pub reference: String,
    /// `auth_address` / `swift_store_auth_address`: the v1 auth URL or the
    /// Keystone v3 URL.
    pub auth_address: String,
    pub auth_version: SwiftAuthVersion,
    /// `user` / `swift_store_user`: `account:user` for v1, `project:user`
    /// for Keystone.
    pub user: String,
    /// `key` / `swift_store_key`.
    pub key: Secret,
    /// Keystone v3 domains (`user_domain_id`, `user_domain_name`,
    /// `project_domain_id`, `project_domain_name`; ids default to `default`).
    pub user_domain_id: Option<String>,
    pub user_domain_name: Option<String>,
    pub project_domain_id: Option<String>,
    pub project_domain_name: Option<String>,
    /// `swift_store_container` (`glance`).
    pub container: String,
    /// `swift_store_create_container_on_put` (false).
    pub create_container_on_put: bool,
    /// `swift_store_multiple_containers_seed` (0 = one container; N in 1..=32
    /// = `<container>_<first N characters of the image id>`).
    pub multiple_containers_seed: u32,
    /// `swift_store_large_object_size` in bytes (glance_store: MiB, 5120):
    /// bigger images are stored as a Static Large Object.
    pub large_object_size: u64,
    /// `swift_store_large_object_chunk_size` in bytes (MiB, 200): the segment size.
    pub large_object_chunk_size: u64,
    /// `swift_store_region`: which catalog region to use (Keystone only).
    pub region: Option<String>,
    /// `swift_store_endpoint_type` (`publicURL`, `internalURL`, `adminURL`).
    pub endpoint_type: String,
    /// `swift_store_service_type` (`object-store`).
    pub service_type: String,
    /// `swift_store_endpoint`: a storage URL that overrides the catalog's.
    pub endpoint: Option<String>,
    /// `swift_store_expire_soon_interval` (60 s): a token this close to its
    /// expiry is renewed before the next request.
    pub expire_soon_interval: Duration,
    /// `swift_store_retry_get_count` (0): times a download that breaks is
    /// resumed from where it stopped.
    pub retry_get_count: u32,
    /// glint's own: how long Swift may leave a request without a byte of
    /// answer before it fails as unavailable (120 s).
    pub read_timeout: Duration,
}

impl SwiftConfig {
    /// glance_store's defaults around the given credentials.
    pub fn new(
        reference: impl Into<String>,
        auth_address: impl Into<String>,
        auth_version: SwiftAuthVersion,
        user: impl Into<String>,
        key: Secret,
    ) -> Self {
        const MIB: u64 = 1024 * 1024;
        Self {
            reference: reference.into(),
            auth_address: auth_address.into(),
            auth_version,
            user: user.into(),
            key,
            user_domain_id: None,
            user_domain_name: None,
            project_domain_id: None,
            project_domain_name: None,
            container: "glance".to_owned(),
            create_container_on_put: false,
            multiple_containers_seed: 0,
            large_object_size: 5120 * MIB,
            large_object_chunk_size: 200 * MIB,
            region: None,
            endpoint_type: "publicURL".to_owned(),
            service_type: "object-store".to_owned(),
            endpoint: None,
            expire_soon_interval: Duration::from_secs(60),
            retry_get_count: 0,
            read_timeout: Duration::from_secs(120),
        }
    }
}
