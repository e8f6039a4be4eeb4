//! The rbd store: each image is an RBD image named by its id in one pool,
//! with a protected snapshot `snap` that Nova and Cinder clone from, at
//! `rbd://<fsid>/<pool>/<image>/snap`, as glance_store keeps it. librados and
//! librbd are loaded when the store is made (`ffi`), the cluster connection
//! when it is first needed (`cluster`).

mod cluster;
mod config;
mod errors;
mod ffi;
mod location;
mod read;
mod write;

use std::sync::Arc;

use glint_model::ImageId;

use self::cluster::{Cluster, Connection};
use self::errors::{op_error, pool_error};
use self::ffi::IoCtx;
use self::location::RbdLocation;
use crate::store::{ByteRange, ByteStream, ObjectData, Store, StoreError, Stored};
pub use config::*;

/// The snapshot every upload ends with.
const SNAPSHOT: &str = "snap";

/// RBD objects are 4 KiB to 32 MiB.
const ORDERS: std::ops::RangeInclusive<u8> = 12..=25;

pub struct RbdStore {
    id: String,
    config: Arc<RbdConfig>,
    /// log2 of `chunk_size`: the object size of new images.
    order: u8,
    cluster: Cluster,
}

impl std::fmt::Debug for RbdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RbdStore")
            .field("id", &self.id)
            .field("pool", &self.config.pool)
            .field("user", &self.config.user)
            .finish_non_exhaustive()
    }
}

impl RbdStore {
    /// Loads librados and librbd (an error says they are not installed) and
    /// checks the settings; the cluster is connected to when first used.
    pub fn new(id: &str, config: RbdConfig) -> Result<RbdStore, StoreError> {
        ffi::load().map_err(StoreError::Unavailable)?;
        let order = order_of(config.chunk_size)?;
        let config = Arc::new(config);
        Ok(RbdStore {
            id: id.to_owned(),
            cluster: Cluster::new(Arc::clone(&config)),
            config,
            order,
        })
    }

    /// The cluster's fsid (connecting if need be).
    pub async fn fsid(&self) -> Result<String, StoreError> {
        Ok(self.cluster.connection().await?.fsid.clone())
    }

    /// The connection and pool a location is read from; a location of
    /// another cluster is refused.
    async fn resolve(&self, url: &str) -> Result<(Arc<Connection>, RbdLocation), StoreError> {
        let location = RbdLocation::parse(url)?;
        let connection = self.cluster.connection().await?;
        if let Some(fsid) = &location.fsid
            && *fsid != connection.fsid
        {
            return Err(StoreError::InvalidLocation(format!(
                "{url}: the location is in Ceph cluster {fsid}, this store's cluster is {}",
                connection.fsid
            )));
        }
        Ok((connection, location))
    }

    fn pool_of<'a>(&'a self, location: &'a RbdLocation) -> &'a str {
        location.pool.as_deref().unwrap_or(&self.config.pool)
    }

    /// Runs blocking librados work; a connection the cluster has become
    /// unreachable through is dropped, so the next request makes a new one.
    async fn blocking<T: Send + 'static>(
        &self,
        connection: Arc<Connection>,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&connection);
        let span = tracing::Span::current();
        let result = tokio::task::spawn_blocking(move || span.in_scope(|| work(&conn)))
            .await
            .unwrap_or_else(|e| Err(StoreError::Io(std::io::Error::other(e.to_string()))));
        self.after(&connection, result).await
    }

    async fn after<T>(
        &self,
        connection: &Arc<Connection>,
        result: Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if let Err(StoreError::Unavailable(_)) = &result {
            self.cluster.forget(connection).await;
        }
        result
    }
}

fn order_of(chunk_size: u64) -> Result<u8, StoreError> {
    // glance_store: int(log2(chunk size)), so a size that is not a power of
    // two rounds down.
    let order = u8::try_from(chunk_size.checked_ilog2().unwrap_or(0)).unwrap_or(u8::MAX);
    if chunk_size == 0 || !ORDERS.contains(&order) {
        return Err(StoreError::Refused(format!(
            "rbd_store_chunk_size of {chunk_size} bytes: RBD objects are 4 KiB to 32 MiB"
        )));
    }
    Ok(order)
}

/// Removes an image and, first, its snapshot `snapshot` (unprotected if need
/// be). A snapshot with clones is `InUse`, and nothing is changed; an image
/// with other snapshots goes to the pool's trash, as glance_store does.
pub(crate) fn remove_image(
    io: &IoCtx,
    image: &str,
    snapshot: Option<&str>,
) -> Result<(), StoreError> {
    let what = format!("RBD image {image}");
    if let Some(snapshot) = snapshot {
        let handle = io
            .open(image, None, false)
            .map_err(|e| op_error(e, &what))?;
        let protected = match handle.snap_is_protected(snapshot) {
            Ok(protected) => Some(protected),
            Err(e) if e.errno == libc::ENOENT => None,
            Err(e) => return Err(op_error(e, &what)),
        };
        if protected == Some(true) {
            match handle.snap_unprotect(snapshot) {
                // EINVAL: someone else unprotected it meanwhile.
                Ok(()) => {}
                Err(e) if e.errno == libc::EINVAL => {}
                Err(e) if e.errno == libc::EBUSY => {
                    return Err(StoreError::InUse(format!(
                        "{what}: snapshot {snapshot} has clones (copy-on-write volumes or instances)"
                    )));
                }
                Err(e) => return Err(op_error(e, &what)),
            }
        }
        if protected.is_some() {
            match handle.snap_remove(snapshot) {
                Err(e) if e.errno != libc::ENOENT => return Err(op_error(e, &what)),
                _ => {}
            }
        }
    }
    match io.remove_image(image) {
        Ok(()) => Ok(()),
        Err(e) if e.errno == libc::ENOTEMPTY => {
            tracing::warn!(
                rbd.image = image,
                "image has other snapshots; moved to the trash"
            );
            io.trash_image(image).map_err(|e| op_error(e, &what))
        }
        Err(e) if e.errno == libc::EBUSY => {
            Err(StoreError::InUse(format!("{what} is open elsewhere ({e})")))
        }
        Err(e) => Err(op_error(e, &what)),
    }
}

#[async_trait::async_trait]
impl Store for RbdStore {
    fn id(&self) -> &str {
        &self.id
    }

    /// Any well-formed rbd location, except one naming another cluster than
    /// the one this store last connected to.
    fn owns(&self, url: &str) -> bool {
        let Ok(location) = RbdLocation::parse(url) else {
            return false;
        };
        match (location.fsid, self.cluster.known_fsid()) {
            (Some(fsid), Some(known)) => fsid == known,
            _ => true,
        }
    }

    async fn put(&self, image_id: ImageId, data: ByteStream) -> Result<Stored, StoreError> {
        let connection = self.cluster.connection().await?;
        let image = image_id.to_string();
        let target = write::Target {
            pool: self.config.pool.clone(),
            image: image.clone(),
            order: self.order,
            thin_provisioning: self.config.thin_provisioning,
        };
        let written = write::put(Arc::clone(&connection), target, data).await;
        let size = self.after(&connection, written).await?;
        Ok(Stored {
            url: RbdLocation::url(&connection.fsid, &self.config.pool, &image, SNAPSHOT),
            size,
        })
    }

    async fn get(&self, url: &str, range: Option<ByteRange>) -> Result<ObjectData, StoreError> {
        let (connection, location) = self.resolve(url).await?;
        let source = read::Source {
            pool: self.pool_of(&location).to_owned(),
            image: location.image.clone(),
            snapshot: location.snapshot.clone(),
            url: url.to_owned(),
        };
        let object = read::get(Arc::clone(&connection), source, range).await;
        self.after(&connection, object).await
    }

    async fn size(&self, url: &str) -> Result<u64, StoreError> {
        let (connection, location) = self.resolve(url).await?;
        let source = read::Source {
            pool: self.pool_of(&location).to_owned(),
            image: location.image.clone(),
            snapshot: location.snapshot.clone(),
            url: url.to_owned(),
        };
        self.blocking(connection, move |c| read::size(c, &source))
            .await
    }

    async fn delete(&self, url: &str) -> Result<(), StoreError> {
        let (connection, location) = self.resolve(url).await?;
        let pool = self.pool_of(&location).to_owned();
        let url = url.to_owned();
        self.blocking(connection, move |c| {
            let io = c.ioctx(&pool).map_err(|e| op_error(e, &url))?;
            remove_image(&io, &location.image, location.snapshot.as_deref()).map_err(|e| match e {
                StoreError::NotFound(_) => StoreError::NotFound(url),
                other => other,
            })
        })
        .await
    }

    async fn discard(&self, image_id: ImageId) -> Result<(), StoreError> {
        let connection = self.cluster.connection().await?;
        let pool = self.config.pool.clone();
        self.blocking(connection, move |c| {
            let io = c.ioctx(&pool).map_err(|e| pool_error(e, &pool))?;
            match remove_image(&io, &image_id.to_string(), Some(SNAPSHOT)) {
                Ok(()) | Err(StoreError::NotFound(_)) => Ok(()),
                Err(err) => Err(err),
            }
        })
        .await
    }

    /// Connects (if need be), opens the pool, and looks up an image name
    /// no image has: one read of an OSD, answered "no such image" by a
    /// working cluster.
    async fn check(&self) -> Result<(), StoreError> {
        let connection = self.cluster.connection().await?;
        let pool = self.config.pool.clone();
        self.blocking(connection, move |c| {
            let io = c.ioctx(&pool).map_err(|e| pool_error(e, &pool))?;
            match io.open(HEALTH_PROBE, None, true) {
                Ok(_) => Ok(()),
                Err(e) => match op_error(e, &format!("pool {pool}")) {
                    StoreError::NotFound(_) => Ok(()),
                    other => Err(other),
                },
            }
        })
        .await
    }
}

/// The image name the health check looks up; image ids are UUIDs, so no
/// image has it.
const HEALTH_PROBE: &str = "glint-health-check";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_size_becomes_the_object_order() {
        assert_eq!(order_of(8 << 20).unwrap(), 23);
        assert_eq!(order_of(1 << 20).unwrap(), 20);
        // glance_store rounds down a size that is not a power of two.
        assert_eq!(order_of(12 << 20).unwrap(), 23);
        for bad in [0, 1, 2048, 64 << 20] {
            assert!(
                matches!(order_of(bad), Err(StoreError::Refused(_))),
                "{bad}"
            );
        }
    }
}
