//! The rbd store's settings, named after glance_store's options.

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RbdConfig {
    /// `rbd_store_pool` (`images`).
    pub pool: String,
    /// `rbd_store_user`: the cephx id (`glint` for `client.glint`); none
    /// means librados' default (`admin`).
    pub user: Option<String>,
    /// `rbd_store_ceph_conf`: none means librados' default search.
    pub ceph_conf: Option<PathBuf>,
    /// `rbd_store_chunk_size` in bytes (glance_store: MiB, 8; a power of
    /// two): the RBD object size of new images.
    pub chunk_size: u64,
    /// `rbd_thin_provisioning` (false): skip writing runs of zeros.
    pub thin_provisioning: bool,
    /// `rados_connect_timeout` (0 = librados' own).
    pub connect_timeout: Duration,
}

impl Default for RbdConfig {
    fn default() -> Self {
        Self {
            pool: "images".to_owned(),
            user: None,
            ceph_conf: None,
            chunk_size: 8 * 1024 * 1024,
            thin_provisioning: false,
            connect_timeout: Duration::ZERO,
        }
    }
}
