//! The cache API (`/v2/cache…`, API 2.14 and 2.18) and the legacy cache
//! management paths (`/v2/cached_images`, `/v2/queued_images`), in Glance's
//! order of checks: the image is looked up first where the request names
//! one, then the rule is enforced, then the cache must be on.

use std::sync::Arc;

use glint_db::CachedImage;
use glint_model::{Image, ImageId, ImageStatus};
use glint_policy::Target;

use super::{CacheCleaned, CacheService, Pruned};
use crate::authz::image_target;
use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;

/// What `GET /v2/cache` shows: this node's cached images (least recently
/// served first) and its queue (oldest first).
#[derive(Debug, Clone)]
pub struct CacheState {
    pub cached: Vec<CachedImage>,
    pub queued: Vec<ImageId>,
}

/// What `DELETE /v2/cache` clears (`x-image-cache-clear-target`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearTarget {
    Cache,
    Queue,
    Both,
}

impl ClearTarget {
    /// The header's value, compared without case; missing or empty means
    /// both. `None` for anything else.
    pub fn parse(header: Option<&str>) -> Option<ClearTarget> {
        match header.unwrap_or("").to_ascii_lowercase().as_str() {
            "" => Some(ClearTarget::Both),
            "cache" => Some(ClearTarget::Cache),
            "queue" => Some(ClearTarget::Queue),
            _ => None,
        }
    }
}

/// What a clear removed: cached files and queued images, for the targets
/// it cleared.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cleared {
    pub cache: Option<u64>,
    pub queue: Option<u64>,
}

impl ImageService {
    /// Serves this node's image cache (`image_cache_dir` is set).
    pub fn with_cache(mut self, cache: Arc<CacheService>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// This node's image cache, when it has one.
    pub fn cache(&self) -> Option<&Arc<CacheService>> {
        self.cache.as_ref()
    }

    /// `GET /v2/cache` (`cache_list`).
    pub async fn cache_state(&self, ctx: &RequestContext) -> Result<CacheState, CoreError> {
        let cache = self.cache_for(ctx, "cache_list", None).await?;
        Ok(CacheState {
            cached: self.db.cached_images(cache.node).await?,
            queued: self.db.queued_prefetches(cache.node).await?,
        })
    }

    /// `PUT /v2/cache/{id}` (`cache_image`): queues an active image for the
    /// prefetcher, unless this node caches it already.
    pub async fn queue_for_cache(&self, ctx: &RequestContext, id: &str) -> Result<(), CoreError> {
        let image = self.cache_lookup(ctx, id).await?;
        let cache = self.cache_for(ctx, "cache_image", Some(&image)).await?;
        if image.status != ImageStatus::Active {
            return Err(CoreError::NotCacheable { id: image.id });
        }
        self.queue_prefetch(cache, &image).await
    }

    /// `DELETE /v2/cache/{id}` (`cache_delete`): removes the image from
    /// this node's cache and queue. An image that no longer exists may
    /// still be removed while the node caches or queues it.
    pub async fn delete_cache_entry(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<(), CoreError> {
        let image = match self.cache_lookup(ctx, id).await {
            Ok(image) => Some(image),
            Err(missing @ CoreError::ImageNotFound { .. }) => {
                let known = match (ImageId::parse(id), &self.cache) {
                    (Some(image), Some(cache)) => self.cache_knows(cache, image).await?,
                    _ => false,
                };
                if !known {
                    return Err(missing);
                }
                None
            }
            Err(e) => return Err(e),
        };
        let cache = self.cache_for(ctx, "cache_delete", image.as_ref()).await?;
        let image_id = image.map(|i| i.id).or_else(|| ImageId::parse(id));
        if let Some(image_id) = image_id {
            cache.uncache(image_id).await?;
            self.db.dequeue_prefetch(cache.node, image_id).await?;
        }
        Ok(())
    }

    /// `DELETE /v2/cache` (`cache_delete`): empties this node's cache,
    /// queue or both, as `x-image-cache-clear-target` says.
    pub async fn clear_cache(
        &self,
        ctx: &RequestContext,
        target: Option<&str>,
    ) -> Result<Cleared, CoreError> {
        let cache = self.cache_for(ctx, "cache_delete", None).await?;
        let target = ClearTarget::parse(target).ok_or(CoreError::InvalidCacheTarget)?;
        let mut cleared = Cleared::default();
        if matches!(target, ClearTarget::Cache | ClearTarget::Both) {
            cleared.cache = Some(uncache_all(cache).await?);
        }
        if matches!(target, ClearTarget::Queue | ClearTarget::Both) {
            cleared.queue = Some(self.db.clear_prefetch_queue(cache.node).await?);
        }
        Ok(cleared)
    }

    /// `GET /v2/cache/nodes/{id}` (`list_cached_nodes`): the references of
    /// the nodes caching the image.
    pub async fn cached_nodes(
        &self,
        ctx: &RequestContext,
        id: &str,
    ) -> Result<Vec<String>, CoreError> {
        self.cache_for(ctx, "list_cached_nodes", None).await?;
        let image = self.cache_lookup(ctx, id).await?;
        Ok(self.db.cached_image_nodes(image.id).await?)
    }

    /// `POST /v2/cache/clean` (`cache_clean`).
    pub async fn clean_cache(&self, ctx: &RequestContext) -> Result<CacheCleaned, CoreError> {
        self.cache_for(ctx, "cache_clean", None)
            .await?
            .clean()
            .await
    }

    /// `POST /v2/cache/prune` (`cache_prune`).
    pub async fn prune_cache(&self, ctx: &RequestContext) -> Result<Pruned, CoreError> {
        self.cache_for(ctx, "cache_prune", None)
            .await?
            .prune()
            .await
    }

    /// `GET /v2/cached_images` (legacy, `manage_image_cache`).
    pub async fn list_cached_images(
        &self,
        ctx: &RequestContext,
    ) -> Result<Vec<CachedImage>, CoreError> {
        let cache = self.cache_for(ctx, "manage_image_cache", None).await?;
        Ok(self.db.cached_images(cache.node).await?)
    }

    /// `DELETE /v2/cached_images/{id}` (legacy): removes the image from
    /// this node's cache, if there.
    pub async fn uncache_image(&self, ctx: &RequestContext, id: &str) -> Result<(), CoreError> {
        let cache = self.cache_for(ctx, "manage_image_cache", None).await?;
        cache.uncache(legacy_id(id)?).await.map(drop)
    }

    /// `DELETE /v2/cached_images` (legacy): how many files were removed.
    pub async fn uncache_all(&self, ctx: &RequestContext) -> Result<u64, CoreError> {
        uncache_all(self.cache_for(ctx, "manage_image_cache", None).await?).await
    }

    /// `GET /v2/queued_images` (legacy).
    pub async fn list_queued_images(
        &self,
        ctx: &RequestContext,
    ) -> Result<Vec<ImageId>, CoreError> {
        let cache = self.cache_for(ctx, "manage_image_cache", None).await?;
        Ok(self.db.queued_prefetches(cache.node).await?)
    }

    /// `PUT /v2/queued_images/{id}` (legacy): queues the image, whatever
    /// its status; the prefetcher skips images it cannot cache.
    pub async fn queue_image(&self, ctx: &RequestContext, id: &str) -> Result<(), CoreError> {
        let cache = self.cache_for(ctx, "manage_image_cache", None).await?;
        let image = legacy_id(id)?;
        match self.db.get_image(image).await? {
            Some(found) => self.queue_prefetch(cache, &found).await,
            None => {
                self.db
                    .queue_prefetch(cache.node, image, glint_model::time::now())
                    .await?;
                cache.queued.notify_one();
                Ok(())
            }
        }
    }

    /// `DELETE /v2/queued_images/{id}` (legacy).
    pub async fn dequeue_image(&self, ctx: &RequestContext, id: &str) -> Result<(), CoreError> {
        let cache = self.cache_for(ctx, "manage_image_cache", None).await?;
        self.db.dequeue_prefetch(cache.node, legacy_id(id)?).await?;
        Ok(())
    }

    /// `DELETE /v2/queued_images` (legacy): how many images were queued.
    pub async fn dequeue_all(&self, ctx: &RequestContext) -> Result<u64, CoreError> {
        let cache = self.cache_for(ctx, "manage_image_cache", None).await?;
        Ok(self.db.clear_prefetch_queue(cache.node).await?)
    }

    /// Enforces `rule` (on `image`, or an empty target), then requires the
    /// cache to be on, as Glance's cache controller does.
    async fn cache_for(
        &self,
        ctx: &RequestContext,
        rule: &'static str,
        image: Option<&Image>,
    ) -> Result<&Arc<CacheService>, CoreError> {
        let target = image.map_or_else(Target::new, |i| image_target(ctx, i));
        if !self.authz.check(ctx, rule, &target).await {
            return Err(CoreError::CacheDenied { rule });
        }
        self.cache.as_ref().ok_or(CoreError::CacheDisabled)
    }

    /// The image a cache request names, as the caller may see it.
    async fn cache_lookup(&self, ctx: &RequestContext, id: &str) -> Result<Image, CoreError> {
        let image = ImageId::parse(id).ok_or_else(|| CoreError::ImageNotFound {
            id: id.to_owned(),
            by: Lookup::Cache,
        })?;
        self.load_visible(ctx, image, Lookup::Cache).await
    }

    /// Queues `image` on this node unless the node holds it or is filling
    /// it now, and wakes the prefetcher.
    async fn queue_prefetch(&self, cache: &CacheService, image: &Image) -> Result<(), CoreError> {
        if cache.files.is_filling(image.id) || cache.holds(image).await? {
            tracing::info!(image.id = %image.id, "not queued: cached already");
            return Ok(());
        }
        self.db
            .queue_prefetch(cache.node, image.id, glint_model::time::now())
            .await?;
        cache.queued.notify_one();
        Ok(())
    }

    /// Whether this node caches or queues `image`, whatever its data.
    async fn cache_knows(&self, cache: &CacheService, image: ImageId) -> Result<bool, CoreError> {
        if self.db.cached_image(cache.node, image).await?.is_some() {
            return Ok(true);
        }
        if self
            .db
            .queued_prefetches(cache.node)
            .await?
            .contains(&image)
        {
            return Ok(true);
        }
        Ok(cache.files.files().await?.iter().any(|f| f.image == image))
    }
}

/// The id a legacy path names; one that is not an image id names nothing.
fn legacy_id(id: &str) -> Result<ImageId, CoreError> {
    ImageId::parse(id).ok_or_else(|| CoreError::ImageNotFound {
        id: id.to_owned(),
        by: Lookup::Cache,
    })
}

/// Removes every cached file of this node and its records; how many files.
async fn uncache_all(cache: &CacheService) -> Result<u64, CoreError> {
    let mut removed = 0;
    for file in cache.files.files().await? {
        if cache.files.remove(file.image).await? {
            removed += 1;
        }
    }
    cache.db.forget_cached_images(cache.node).await?;
    Ok(removed)
}
