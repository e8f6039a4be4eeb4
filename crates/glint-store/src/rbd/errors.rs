//! librados errno values in the store's terms.

use super::RbdConfig;
use super::ffi::CephError;
use crate::store::StoreError;

/// Why a connection could not be made. A missing or unreadable configuration
/// and refused credentials are an operator's to fix (`Refused`); anything
/// else means the cluster cannot be reached now (`Unavailable`).
pub(crate) fn connect_error(config: &RbdConfig, err: CephError) -> StoreError {
    let user = config.user.as_deref().unwrap_or("admin");
    match (err.call, err.errno) {
        ("rados_conf_read_file", _) => StoreError::Refused(match &config.ceph_conf {
            Some(path) => format!(
                "cannot read the Ceph configuration {} ({err})",
                path.display()
            ),
            None => format!("no Ceph configuration found in librados' default places ({err})"),
        }),
        ("rados_create" | "rados_conf_set", _) => {
            StoreError::Refused(format!("invalid Ceph client settings ({err})"))
        }
        ("rados_connect", libc::EACCES | libc::EPERM) => StoreError::Refused(format!(
            "the Ceph cluster refused client.{user}: check rbd_store_user and its keyring ({err})"
        )),
        ("rados_connect", libc::ENOENT) => StoreError::Refused(format!(
            "no keyring for client.{user} in the Ceph configuration ({err})"
        )),
        _ => StoreError::Unavailable(format!("cannot connect to the Ceph cluster ({err})")),
    }
}

/// An operation's failure; `what` names the image or pool it was about.
pub(crate) fn op_error(err: CephError, what: &str) -> StoreError {
    match err.errno {
        libc::ENOENT => StoreError::NotFound(what.to_owned()),
        libc::ETIMEDOUT | libc::ESHUTDOWN | libc::ENOTCONN | libc::ECONNREFUSED => {
            StoreError::Unavailable(format!("{what}: {err}"))
        }
        libc::ENOSPC | libc::EDQUOT => StoreError::StorageFull,
        libc::EPERM | libc::EACCES => {
            StoreError::Refused(format!("{what}: permission denied by the cluster ({err})"))
        }
        libc::EBUSY => StoreError::InUse(format!("{what} ({err})")),
        errno => {
            let kind = std::io::Error::from_raw_os_error(errno).kind();
            StoreError::Io(std::io::Error::new(kind, format!("{what}: {err}")))
        }
    }
}

/// The pool of a request could not be opened.
pub(crate) fn pool_error(err: CephError, pool: &str) -> StoreError {
    match err.errno {
        libc::ENOENT => StoreError::Refused(format!("the Ceph pool {pool} does not exist")),
        _ => op_error(err, &format!("pool {pool}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ceph(call: &'static str, errno: i32) -> CephError {
        CephError { call, errno }
    }

    #[test]
    fn unreachable_cluster_is_unavailable_and_bad_credentials_refused() {
        let config = RbdConfig {
            user: Some("glint".to_owned()),
            ..RbdConfig::default()
        };
        let err = connect_error(&config, ceph("rados_connect", libc::ETIMEDOUT));
        assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
        let err = connect_error(&config, ceph("rados_connect", libc::EACCES));
        assert!(
            matches!(&err, StoreError::Refused(m) if m.contains("client.glint")),
            "{err:?}"
        );
        let err = connect_error(&config, ceph("rados_conf_read_file", libc::ENOENT));
        assert!(matches!(err, StoreError::Refused(_)), "{err:?}");
    }

    #[test]
    fn operation_errors_keep_their_meaning() {
        let cases = [
            (libc::ENOENT, "NotFound"),
            (libc::ETIMEDOUT, "Unavailable"),
            (libc::ENOSPC, "StorageFull"),
            (libc::EBUSY, "InUse"),
            (libc::EACCES, "Refused"),
            (libc::EIO, "Io"),
        ];
        for (errno, variant) in cases {
            let err = op_error(ceph("rbd_open", errno), "image x");
            assert!(format!("{err:?}").starts_with(variant), "{errno}: {err:?}");
        }
    }
}
