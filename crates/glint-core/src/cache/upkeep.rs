//! Keeping the cache in bounds and in step with the catalogue: pruning to
//! `image_cache_max_size` (least recently served first) and cleaning
//! (invalid and stalled files, and entries whose record and file disagree
//! or whose image is gone or changed).

use std::collections::{HashMap, HashSet};
use std::time::SystemTime;

use glint_model::{ImageId, ImageStatus};

use super::{CacheService, cached_data};
use crate::error::CoreError;

/// What a prune removed (Glance's `total_files_pruned`,
/// `total_bytes_pruned`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub files: u64,
    pub bytes: u64,
}

/// What a clean removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheCleaned {
    /// Files of `invalid/`.
    pub invalid: usize,
    /// Files of `incomplete/` older than `image_cache_stall_time`.
    pub stalled: usize,
    /// Entries dropped because their file, record or image disagreed.
    pub stale: usize,
}

impl CacheService {
    /// Removes cached images, least recently served first, until the cache
    /// holds at most `image_cache_max_size` bytes. Files without a record
    /// go first. One prune runs at a time.
    pub async fn prune(&self) -> Result<Pruned, CoreError> {
        let _turn = self.prune_turn.lock().await;
        let files = self.files.files().await?;
        let mut total: u64 = files.iter().map(|f| f.size).sum();
        let max = self.config.max_size;
        if total <= max {
            return Ok(Pruned::default());
        }
        let sizes: HashMap<ImageId, u64> = files.iter().map(|f| (f.image, f.size)).collect();
        let records = self.db.cached_images(self.node).await?;
        let recorded: HashSet<ImageId> = records.iter().map(|r| r.image_id).collect();
        let unrecorded = files
            .iter()
            .map(|f| f.image)
            .filter(|i| !recorded.contains(i));
        let least_recent_first = unrecorded.chain(records.iter().map(|r| r.image_id));
        let mut pruned = Pruned::default();
        for image in least_recent_first {
            if total <= max {
                break;
            }
            let Some(&size) = sizes.get(&image) else {
                continue;
            };
            self.files.remove(image).await?;
            self.db.forget_cached_image(self.node, image).await?;
            tracing::debug!(image.id = %image, size_bytes = size, "pruned from the image cache");
            total -= size;
            pruned.files += 1;
            pruned.bytes += size;
        }
        Ok(pruned)
    }

    /// Removes the files of `invalid/` and those of `incomplete/` older
    /// than `image_cache_stall_time`, then the entries whose file has no
    /// record or whose record has no file, and those whose image was
    /// deleted or no longer matches what was cached. One clean runs at a
    /// time.
    pub async fn clean(&self) -> Result<CacheCleaned, CoreError> {
        let _turn = self.clean_turn.lock().await;
        let cleaned = self
            .files
            .clean(self.config.stall_time, SystemTime::now())
            .await?;
        let stale = self.drop_stale_entries().await?;
        Ok(CacheCleaned {
            invalid: cleaned.invalid,
            stalled: cleaned.stalled,
            stale,
        })
    }

    async fn drop_stale_entries(&self) -> Result<usize, CoreError> {
        let files: HashSet<ImageId> = self.files.files().await?.iter().map(|f| f.image).collect();
        let records = self.db.cached_images(self.node).await?;
        let recorded: HashSet<ImageId> = records.iter().map(|r| r.image_id).collect();
        let mut stale = 0;
        for image in files.iter().filter(|i| !recorded.contains(i)) {
            if !self.files.is_filling(*image) && self.files.remove(*image).await? {
                tracing::info!(image.id = %image, "removed a cached file without a record");
                stale += 1;
            }
        }
        for record in &records {
            let image = record.image_id;
            if self.files.is_filling(image) {
                continue;
            }
            let current = match self.db.get_image(image).await? {
                Some(found)
                    if matches!(found.status, ImageStatus::Active | ImageStatus::Deactivated) =>
                {
                    cached_data(&found).is_some_and(|d| {
                        d.size == record.size && d.checksum == record.checksum.as_deref()
                    })
                }
                _ => false,
            };
            if !current || !files.contains(&image) {
                self.uncache(image).await?;
                tracing::info!(image.id = %image, "removed a stale image cache entry");
                stale += 1;
            }
        }
        Ok(stale)
    }
}
