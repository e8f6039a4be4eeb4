//! The image cache's background work, as two workers: the prefetcher,
//! which caches the images queued through the cache API, and the upkeep,
//! which cleans and prunes the cache (Glance leaves both to cron jobs
//! running `glance-cache-prefetcher`, `-cleaner` and `-pruner`).

use std::sync::Arc;

use async_trait::async_trait;
use glint_core::{CacheService, ImageService};
use tokio_util::sync::CancellationToken;

use crate::worker::{Pass, Worker};

/// Caches the images queued for prefetching on this node. Woken as soon
/// as an image is queued; run it every minute or so as well, for queued
/// images whose prefetch failed or whose claim on another run expired.
#[derive(Debug, Clone)]
pub struct CachePrefetcher {
    images: ImageService,
    cache: Arc<CacheService>,
}

impl CachePrefetcher {
    pub fn new(images: ImageService, cache: Arc<CacheService>) -> CachePrefetcher {
        CachePrefetcher { images, cache }
    }
}

#[async_trait]
impl Worker for CachePrefetcher {
    fn name(&self) -> &'static str {
        "cache-prefetcher"
    }

    /// Stopping drops the prefetch in progress: its image stays queued
    /// (its claim expires) and what it wrote is removed.
    async fn work(&mut self, stop: &CancellationToken) -> anyhow::Result<Pass> {
        let cached = tokio::select! {
            () = stop.cancelled() => return Ok(Pass::default()),
            cached = self.images.prefetch_pending() => cached?,
        };
        Ok(Pass {
            done: cached as u64,
            ..Pass::default()
        })
    }

    async fn wait_for_work(&mut self) {
        self.cache.prefetch_requested().await
    }
}

/// Removes invalid, stalled and stale cache entries, then prunes the cache
/// to `image_cache_max_size` (each image cached also prunes; this catches
/// what a lowered limit or a crash left over).
#[derive(Debug, Clone)]
pub struct CacheUpkeep {
    cache: Arc<CacheService>,
}

impl CacheUpkeep {
    pub fn new(cache: Arc<CacheService>) -> CacheUpkeep {
        CacheUpkeep { cache }
    }
}

#[async_trait]
impl Worker for CacheUpkeep {
    fn name(&self) -> &'static str {
        "cache-upkeep"
    }

    async fn work(&mut self, _stop: &CancellationToken) -> anyhow::Result<Pass> {
        let cleaned = self.cache.clean().await?;
        if cleaned.invalid + cleaned.stalled + cleaned.stale > 0 {
            tracing::info!(
                invalid = cleaned.invalid,
                stalled = cleaned.stalled,
                stale = cleaned.stale,
                "image cache cleaned"
            );
        }
        let pruned = self.cache.prune().await?;
        if pruned.files > 0 {
            tracing::info!(
                files = pruned.files,
                size_bytes = pruned.bytes,
                "image cache pruned"
            );
        }
        let removed = cleaned.invalid + cleaned.stalled + cleaned.stale;
        Ok(Pass {
            done: removed as u64 + pruned.files,
            ..Pass::default()
        })
    }
}
