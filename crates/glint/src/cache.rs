//! The image cache of `glint serve`: opened from `image_cache_dir`, and
//! its background work (the prefetcher, cleaning and pruning) handed to
//! the server's workers.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use glint_core::{CacheConfig, CacheService};
use glint_db::Database;
use glint_store::ImageCache;

use crate::config::{CacheFlavor, GlanceConfig};

/// How often queued images whose prefetch failed, or whose lease expired,
/// are tried again.
pub const PREFETCH_RETRY: Duration = Duration::from_secs(60);
/// How often the cache is cleaned (invalid, stalled and stale entries) and
/// pruned, besides the prune after each image cached.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(600);

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
