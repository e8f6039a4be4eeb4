//! The image cache's use cases: serving downloads from this node's cache
//! and filling it on a miss, the cache API, the prefetcher, pruning and
//! cleaning.
//!
//! The files are `glint_store::ImageCache`'s; the records (which image this
//! node caches, its size and md5, hits, last access, and the prefetch
//! queue) are rows of the database, as Glance's `centralized_db` driver
//! keeps them. An entry is served only while its record still matches the
//! image (size and md5) and the image is active; a fill is recorded before
//! its file is put in place, and prunes the cache back under
//! `image_cache_max_size` once it is.

mod manage;
mod prefetch;
mod upkeep;

use std::sync::Arc;
use std::time::Duration;

use glint_db::{CacheNode, CachedData, Database};
use glint_model::{Image, ImageId, ImageStatus};
use glint_store::{
    ByteRange, CacheStats, Expected, FillCommit, HashAlgo, ImageCache, ObjectData, StoreError,
};
use tokio::sync::{Mutex, Notify};

use crate::error::CoreError;

pub use glint_db::CachedImage;
pub use manage::{CacheState, ClearTarget, Cleared};
pub use upkeep::{CacheCleaned, Pruned};

/// The cache options (Glance's `image_cache_*`, `worker_self_reference_url`
/// and the `[paste_deploy] flavor`), validated by the binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// Size the cache is pruned down to, least recently used first
    /// (`image_cache_max_size`).
    pub max_size: u64,
    /// Age after which an incomplete file counts as stalled
    /// (`image_cache_stall_time`).
    pub stall_time: Duration,
    /// This node's name in the cache records (`worker_self_reference_url`).
    pub node_reference: String,
    /// Whether downloads are served from the cache and fill it (a
    /// `+caching` or `+cachemanagement` flavor). The cache API and the
    /// prefetcher work either way, as in Glance.
    pub serve_downloads: bool,
}

impl CacheConfig {
    /// Glance's `image_cache_max_size` default: 10 GiB.
    pub const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024 * 1024;
    /// Glance's `image_cache_stall_time` default: one day.
    pub const DEFAULT_STALL_TIME: Duration = Duration::from_secs(86_400);
}

/// How long a prefetcher holds an image of the queue unless it renews the
/// lease; it renews it every third of that while the image is read.
pub(crate) const PREFETCH_LEASE: Duration = Duration::from_secs(60);

/// This node's image cache. Shared by every request and the background
/// work.
#[derive(Debug)]
pub struct CacheService {
    files: Arc<ImageCache>,
    db: Database,
    node: CacheNode,
    config: CacheConfig,
    /// Who claims prefetches: this node and this run of the process.
    holder: String,
    /// Prunes, and cleans, run one at a time.
    prune_turn: Mutex<()>,
    clean_turn: Mutex<()>,
    /// Rung when an image is queued, so the prefetcher starts at once.
    queued: Notify,
}

impl CacheService {
    /// Registers this node (`config.node_reference`) in the database and
    /// serves the cache in `files`.
    pub async fn open(
        db: Database,
        files: ImageCache,
        config: CacheConfig,
    ) -> Result<Arc<CacheService>, CoreError> {
        let node = db.register_cache_node(&config.node_reference).await?;
        let holder = format!("{} {}", config.node_reference, uuid::Uuid::new_v4());
        Ok(Arc::new(CacheService {
            files: Arc::new(files),
            db,
            node,
            config,
            holder,
            prune_turn: Mutex::new(()),
            clean_turn: Mutex::new(()),
            queued: Notify::new(),
        }))
    }

    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Hit, miss and byte counters, for metrics.
    pub fn stats(&self) -> &Arc<CacheStats> {
        self.files.stats()
    }

    pub fn files(&self) -> &ImageCache {
        &self.files
    }

    /// Returns once an image has been queued for prefetching since the
    /// last call (or at once if one was queued meanwhile).
    pub async fn prefetch_requested(&self) {
        self.queued.notified().await
    }

    /// The data of `image` (or its `range`) from the cache, counting a hit;
    /// `None` when the cache does not hold the image's current data, which
    /// counts as a miss. Errors of the cache are logged and answered `None`:
    /// the image's stores still serve it.
    pub(crate) async fn serve(
        &self,
        image: &Image,
        range: Option<ByteRange>,
    ) -> Option<ObjectData> {
        let served = self.try_serve(image, range).await;
        match served {
            Ok(Some(data)) => {
                self.stats().record_hit();
                tracing::debug!(image.id = %image.id, "served from the image cache");
                Some(data)
            }
            Ok(None) => {
                self.stats().record_miss();
                None
            }
            Err(e) => {
                self.stats().record_miss();
                tracing::warn!(image.id = %image.id, error = %e, "image cache unusable; reading the store");
                None
            }
        }
    }

    async fn try_serve(
        &self,
        image: &Image,
        range: Option<ByteRange>,
    ) -> Result<Option<ObjectData>, CoreError> {
        let Some(data) = cached_data(image) else {
            return Ok(None);
        };
        let now = glint_model::time::now();
        if !self
            .db
            .touch_cached_image(self.node, image.id, data, now)
            .await?
        {
            return Ok(None);
        }
        match self.files.read(image.id, range).await? {
            Some(data) => Ok(Some(data)),
            None => {
                // Recorded, but the file is gone (removed by hand, or a
                // fill between its record and its move into place).
                if !self.files.is_filling(image.id) {
                    self.db.forget_cached_image(self.node, image.id).await?;
                }
                Ok(None)
            }
        }
    }

    /// Makes a download of the whole of `image` fill the cache, when the
    /// cache may hold it: an active image, whose data is as long as its
    /// size and within `image_cache_max_size`. `Err` gives `data` back
    /// when it does not fill the cache.
    pub(crate) fn fill(
        self: &Arc<Self>,
        image: &Image,
        data: ObjectData,
    ) -> Result<ObjectData, ObjectData> {
        let Some(expected) = self.expected(image, &data) else {
            return Err(data);
        };
        let record = Arc::new(FillRecord {
            cache: Arc::clone(self),
            checksum: image.checksum.clone(),
        });
        match self.files.fill(image.id, expected, data.stream, record) {
            Ok(stream) => Ok(ObjectData { stream, ..data }),
            Err(stream) => Err(ObjectData { stream, ..data }),
        }
    }

    /// Whether the cache may hold `image` at all.
    pub(crate) fn may_hold(&self, image: &Image) -> bool {
        image.status == ImageStatus::Active
            && image
                .size
                .is_some_and(|size| size > 0 && size <= self.config.max_size)
    }

    fn expected(&self, image: &Image, data: &ObjectData) -> Option<Expected> {
        let size = image.size?;
        if image.status != ImageStatus::Active || data.range.is_some() || size == 0 {
            return None;
        }
        if data.total_size != size {
            tracing::warn!(image.id = %image.id, size_bytes = size, stored_bytes = data.total_size, "the store holds data of another size than the image; not cached");
            return None;
        }
        if size > self.config.max_size {
            tracing::info!(image.id = %image.id, size_bytes = size, "image larger than image_cache_max_size; not cached");
            return None;
        }
        let multihash = match (&image.os_hash_algo, &image.os_hash_value) {
            (Some(algo), Some(value)) => algo.parse::<HashAlgo>().ok().map(|a| (a, value.clone())),
            _ => None,
        };
        Some(Expected {
            size,
            checksum: image.checksum.clone(),
            multihash,
        })
    }

    /// Whether this node holds the current data of `image`, without
    /// counting a hit.
    pub(crate) async fn holds(&self, image: &Image) -> Result<bool, CoreError> {
        let Some(data) = cached_data(image) else {
            return Ok(false);
        };
        let recorded = self.db.cached_image(self.node, image.id).await?;
        let current =
            recorded.is_some_and(|c| c.size == data.size && c.checksum.as_deref() == data.checksum);
        Ok(current
            && self
                .files
                .files()
                .await?
                .iter()
                .any(|f| f.image == image.id))
    }

    /// Removes `image` from this node's cache and queue, and its records
    /// on every node: the image is gone.
    pub(crate) async fn forget_image(&self, image: ImageId) {
        if let Err(e) = self.files.remove(image).await {
            tracing::warn!(image.id = %image, error = %e, "cannot remove a cached image");
        }
        if let Err(e) = self.db.forget_image_in_caches(image).await {
            tracing::warn!(image.id = %image, error = %e, "cannot remove the cache records of an image");
        }
    }

    /// Removes `image` from this node's cache; whether it held it.
    pub(crate) async fn uncache(&self, image: ImageId) -> Result<bool, CoreError> {
        let had_file = self.files.remove(image).await?;
        let had_record = self.db.forget_cached_image(self.node, image).await?;
        Ok(had_file || had_record)
    }
}

/// What a cache entry of `image` must hold: its size and md5. `None` for an
/// image without a size, which has no data to cache.
fn cached_data(image: &Image) -> Option<CachedData<'_>> {
    Some(CachedData {
        size: image.size?,
        checksum: image.checksum.as_deref(),
    })
}

/// Records a fill in the database: before its file is put in place, so
/// that no file is ever served without a record matching its image.
#[derive(Debug)]
struct FillRecord {
    cache: Arc<CacheService>,
    checksum: Option<String>,
}

#[async_trait::async_trait]
impl FillCommit for FillRecord {
    async fn verified(&self, image: ImageId, size: u64) -> Result<(), StoreError> {
        let data = CachedData {
            size,
            checksum: self.checksum.as_deref(),
        };
        let cache = &self.cache;
        cache
            .db
            .record_cached_image(cache.node, image, data, glint_model::time::now())
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot record the cached image: {e}")))
    }

    async fn withdrawn(&self, image: ImageId) {
        if let Err(e) = self
            .cache
            .db
            .forget_cached_image(self.cache.node, image)
            .await
        {
            tracing::warn!(image.id = %image, error = %e, "cannot remove the record of an image not cached");
        }
    }

    async fn committed(&self, _image: ImageId, _size: u64) {
        match self.cache.prune().await {
            Ok(pruned) if pruned.files > 0 => {
                tracing::info!(
                    files = pruned.files,
                    size_bytes = pruned.bytes,
                    "image cache pruned"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot prune the image cache"),
        }
    }
}
