//! The prefetcher: caches the images queued on this node. Each image of
//! the queue is claimed with a lease, renewed while its data is read, and
//! leaves the queue once cached, or once there is nothing to cache (the
//! image is gone, not active, or too big). An image whose store failed
//! stays queued and is tried again when its lease has expired, by this
//! process or by the node's next run.

use std::sync::Arc;

use futures::StreamExt;
use glint_model::{ImageId, ImageStatus, Location};
use glint_store::StoreError;

use super::{CacheService, PREFETCH_LEASE};
use crate::error::CoreError;
use crate::images::ImageService;

/// What became of one queued image.
enum Prefetched {
    Cached,
    /// Nothing to do for it: it leaves the queue.
    Skipped,
    /// A fill of it by a download is running: try again later.
    Busy,
}

impl ImageService {
    /// Caches every image queued on this node that can be claimed now; how
    /// many were cached. Safe to run from several tasks or processes at
    /// once: each image is claimed by one of them.
    pub async fn prefetch_pending(&self) -> Result<usize, CoreError> {
        let Some(cache) = &self.cache else {
            return Ok(0);
        };
        let mut cached = 0;
        loop {
            let now = glint_model::time::now();
            let until = now + PREFETCH_LEASE;
            let Some(image) = self
                .db
                .claim_prefetch(cache.node, &cache.holder, now, until)
                .await?
            else {
                return Ok(cached);
            };
            match self.prefetch_one(cache, image).await {
                Ok(Prefetched::Busy) => {}
                Ok(outcome) => {
                    if matches!(outcome, Prefetched::Cached) {
                        cached += 1;
                    }
                    self.db
                        .end_prefetch(cache.node, image, &cache.holder)
                        .await?;
                }
                Err(e) => {
                    tracing::warn!(image.id = %image, error = %e, "prefetch failed; it stays queued");
                }
            }
        }
    }

    async fn prefetch_one(
        &self,
        cache: &Arc<CacheService>,
        id: ImageId,
    ) -> Result<Prefetched, CoreError> {
        let image = match self.db.get_image(id).await? {
            Some(image) if image.status == ImageStatus::Active => image,
            Some(image) => {
                tracing::warn!(image.id = %id, status = %image.status, "queued image is not active; not cached");
                return Ok(Prefetched::Skipped);
            }
            None => {
                tracing::warn!(image.id = %id, "queued image not found");
                return Ok(Prefetched::Skipped);
            }
        };
        if cache.files.is_filling(id) {
            return Ok(Prefetched::Busy);
        }
        if cache.holds(&image).await? {
            return Ok(Prefetched::Cached);
        }
        if !cache.may_hold(&image) {
            tracing::warn!(image.id = %id, size_bytes = image.size, "queued image has no data or is larger than image_cache_max_size; not cached");
            return Ok(Prefetched::Skipped);
        }
        let mut locations: Vec<Location> = image.active_locations().cloned().collect();
        self.stores.sort_by_weight(&mut locations, |l| l.store_id());
        let mut failure = None;
        for location in &locations {
            let Some(store) = self.store_for(location) else {
                continue;
            };
            let data = match store.get(&location.url, None).await {
                Ok(data) => data,
                Err(e) => {
                    tracing::warn!(image.id = %id, store.id = store.id(), error = %e, "cannot read a location to prefetch");
                    failure = Some(e);
                    continue;
                }
            };
            let Ok(data) = cache.fill(&image, data) else {
                return Ok(if cache.files.is_filling(id) {
                    Prefetched::Busy
                } else {
                    Prefetched::Skipped
                });
            };
            self.read_renewing(cache, id, data.stream).await?;
            return Ok(if cache.holds(&image).await? {
                Prefetched::Cached
            } else {
                Prefetched::Skipped
            });
        }
        match failure {
            Some(StoreError::NotFound(_)) | None => Ok(Prefetched::Skipped),
            Some(e) => Err(e.into()),
        }
    }

    /// Reads `stream` to its end, renewing the lease on the prefetch of
    /// `id` every third of the lease time. A stream that ends with an
    /// error fails the prefetch, except data that does not match the
    /// image, which another try would read again the same.
    async fn read_renewing(
        &self,
        cache: &CacheService,
        id: ImageId,
        mut stream: glint_store::ByteStream,
    ) -> Result<(), CoreError> {
        let mut renew = tokio::time::interval(PREFETCH_LEASE / 3);
        renew.tick().await;
        loop {
            tokio::select! {
                item = stream.next() => match item {
                    None => return Ok(()),
                    Some(Ok(_)) => {}
                    Some(Err(StoreError::Io(e))) if e.kind() == std::io::ErrorKind::InvalidData => {
                        tracing::error!(image.id = %id, error = %e, "prefetched data does not match the image");
                        return Ok(());
                    }
                    Some(Err(e)) => return Err(e.into()),
                },
                _ = renew.tick() => {
                    let until = glint_model::time::now() + PREFETCH_LEASE;
                    if !self.db.renew_prefetch(cache.node, id, &cache.holder, until).await? {
                        tracing::info!(image.id = %id, "prefetch no longer queued; stopped");
                        return Ok(());
                    }
                }
            }
        }
    }
}
