//! One shared, lazily made connection to the cluster. A failed connection is
//! not kept: the next request tries again, so the store recovers by itself
//! once the cluster is back.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::RbdConfig;
use super::errors::connect_error;
use super::ffi::{CephError, IoCtx, Rados};
use crate::store::StoreError;

/// A connected cluster and its fsid.
pub(crate) struct Connection {
    pub rados: Arc<Rados>,
    pub fsid: String,
}

impl Connection {
    /// An I/O context on `pool` (blocking).
    pub(crate) fn ioctx(&self, pool: &str) -> Result<IoCtx, CephError> {
        IoCtx::new(Arc::clone(&self.rados), pool)
    }
}

pub(crate) struct Cluster {
    config: Arc<RbdConfig>,
    /// Held while connecting, so concurrent requests wait for one attempt.
    current: tokio::sync::Mutex<Slot>,
    /// The fsid of the last connection, for `owns` (which cannot wait).
    known_fsid: Mutex<Option<String>>,
}

#[derive(Default)]
struct Slot {
    connection: Option<Arc<Connection>>,
    /// When the last attempt failed, and why: requests that were already
    /// waiting for that attempt share its answer rather than each waiting
    /// out a timeout of their own.
    failure: Option<(Instant, StoreError)>,
}

impl Cluster {
    pub(crate) fn new(config: Arc<RbdConfig>) -> Cluster {
        Cluster {
            config,
            current: tokio::sync::Mutex::new(Slot::default()),
            known_fsid: Mutex::new(None),
        }
    }

    pub(crate) fn known_fsid(&self) -> Option<String> {
        self.known_fsid
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The current connection, made now if there is none.
    pub(crate) async fn connection(&self) -> Result<Arc<Connection>, StoreError> {
        let asked = Instant::now();
        let mut slot = self.current.lock().await;
        if let Some(connection) = &slot.connection {
            return Ok(Arc::clone(connection));
        }
        if let Some((when, err)) = &slot.failure
            && *when >= asked
        {
            return Err(copy_error(err));
        }
        let config = Arc::clone(&self.config);
        let made = tokio::task::spawn_blocking(move || connect(&config))
            .await
            .map_err(|e| StoreError::Unavailable(format!("connecting to Ceph failed: {e}")))?;
        match made {
            Ok(connection) => {
                let connection = Arc::new(connection);
                *self
                    .known_fsid
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) = Some(connection.fsid.clone());
                slot.connection = Some(Arc::clone(&connection));
                slot.failure = None;
                Ok(connection)
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot connect to the Ceph cluster");
                slot.failure = Some((Instant::now(), copy_error(&err)));
                Err(err)
            }
        }
    }

    /// Drops a connection librados has given up on (this client was
    /// blocklisted, or shut down), so the next request makes a new one.
    pub(crate) async fn forget(&self, connection: &Arc<Connection>) {
        let mut slot = self.current.lock().await;
        if slot
            .connection
            .as_ref()
            .is_some_and(|c| Arc::ptr_eq(c, connection))
        {
            let old = slot.connection.take();
            // Shutting a handle down joins librados' threads: not on a worker.
            tokio::task::spawn_blocking(move || drop(old));
        }
    }
}

/// `StoreError` holds an `io::Error` and is not `Clone`; the variants a
/// connection can fail with are all text.
fn copy_error(err: &StoreError) -> StoreError {
    match err {
        StoreError::Refused(m) => StoreError::Refused(m.clone()),
        other => StoreError::Unavailable(other.to_string()),
    }
}

fn connect(config: &RbdConfig) -> Result<Connection, StoreError> {
    let mut options = Vec::new();
    if !config.connect_timeout.is_zero() {
        // librados takes whole seconds; round up so a short timeout is not 0
        // (which librados reads as "wait forever").
        let secs =
            config.connect_timeout.as_secs() + u64::from(config.connect_timeout.subsec_nanos() > 0);
        for option in [
            "client_mount_timeout",
            "rados_mon_op_timeout",
            "rados_osd_op_timeout",
        ] {
            options.push((option, secs.to_string()));
        }
    }
    let started = Instant::now();
    let rados = Rados::connect(
        config.user.as_deref(),
        config.ceph_conf.as_deref(),
        &options,
    )
    .map_err(|e| connect_error(config, e))?;
    let fsid = rados.fsid().map_err(|e| connect_error(config, e))?;
    tracing::info!(
        ceph.fsid = %fsid,
        duration_ms = started.elapsed().as_millis() as u64,
        "connected to the Ceph cluster"
    );
    Ok(Connection {
        rados: Arc::new(rados),
        fsid,
    })
}
