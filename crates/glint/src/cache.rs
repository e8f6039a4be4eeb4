//! The image cache of `glint serve`: opened from `image_cache_dir`, and
//! its background work (the prefetcher, cleaning and pruning) run by one
//! task that `serve` starts and stops.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use glint_core::{CacheConfig, CacheService, ImageService};
use glint_db::Database;
use glint_store::ImageCache;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::{CacheFlavor, GlanceConfig};

/// How often queued images whose prefetch failed, or whose lease expired,
/// are tried again.
const PREFETCH_RETRY: Duration = Duration::from_secs(60);
/// How often the cache is cleaned (invalid, stalled and stale entries) and
/// pruned, besides the prune after each image cached.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(600);

/// Opens this node's image cache when `image_cache_dir` is set. `port` is
/// the one the server listens on, which names the node when
/// `worker_self_reference_url` is not set.
pub async fn open(
    conf: &GlanceConfig,
    db: &Database,
    node_name: &str,
    port: u16,
) -> anyhow::Result<Option<Arc<CacheService>>> {
    let options = &conf.default.image_cache;
    let Some(dir) = &options.dir else {
        return Ok(None);
    };
    let files = ImageCache::open(dir, conf.glint.write_strategy)
        .with_context(|| format!("cannot open image_cache_dir {}", dir.display()))?;
    let node_reference = options
        .worker_self_reference_url
        .clone()
        .unwrap_or_else(|| format!("http://{node_name}:{port}"));
    let config = CacheConfig {
        max_size: options.max_size,
        stall_time: options.stall_time,
        node_reference,
        serve_downloads: conf.paste_deploy.cache != CacheFlavor::Off,
    };
    if !config.serve_downloads {
        tracing::info!(
            "[paste_deploy] flavor has no caching: downloads are not served from the image \
             cache; the cache API and the prefetcher work"
        );
    }
    tracing::info!(
        dir = %dir.display(),
        max_size_bytes = config.max_size,
        node = %config.node_reference,
        serve_downloads = config.serve_downloads,
        "image cache on"
    );
    let cache = CacheService::open(db.clone(), files, config)
        .await
        .context("cannot register this node's image cache")?;
    Ok(Some(cache))
}

/// The cache's background task; stop it with [`CacheTasks::stop`].
pub struct CacheTasks {
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl CacheTasks {
    /// Starts the prefetcher (woken by every image queued, and every
    /// minute for retries) and the periodic clean and prune (at once, then
    /// every ten minutes).
    pub fn start(images: ImageService, cache: Arc<CacheService>) -> CacheTasks {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(images, cache, stopped));
        CacheTasks { stop, task }
    }

    /// Stops the task, dropping a prefetch in progress (its image stays
    /// queued, and what it wrote is removed), and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if let Err(e) = self.task.await {
            tracing::error!(error = %e, "the image cache task failed");
        }
    }
}

async fn run(images: ImageService, cache: Arc<CacheService>, mut stopped: watch::Receiver<bool>) {
    let mut upkeep = tokio::time::interval(UPKEEP_INTERVAL);
    let mut retry = tokio::time::interval(PREFETCH_RETRY);
    loop {
        tokio::select! {
            _ = stopped.changed() => return,
            () = cache.prefetch_requested() => {}
            _ = retry.tick() => {}
            _ = upkeep.tick() => {
                tokio::select! {
                    _ = stopped.changed() => return,
                    () = keep_up(&cache) => {}
                }
            }
        }
        tokio::select! {
            _ = stopped.changed() => return,
            prefetched = images.prefetch_pending() => match prefetched {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "images prefetched into the cache"),
                Err(e) => tracing::warn!(error = %e, "prefetching failed"),
            },
        }
    }
}

async fn keep_up(cache: &CacheService) {
    match cache.clean().await {
        Ok(cleaned) if cleaned.invalid + cleaned.stalled + cleaned.stale > 0 => {
            tracing::info!(
                invalid = cleaned.invalid,
                stalled = cleaned.stalled,
                stale = cleaned.stale,
                "image cache cleaned"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot clean the image cache"),
    }
    match cache.prune().await {
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
