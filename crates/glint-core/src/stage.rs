//! Staging of image data for a `glance-direct` import
//! (`PUT /v2/images/{id}/stage`).
//!
//! As Glance does, the image moves `queued → uploading` in one
//! compare-and-set save, its data streams through the ingest wrapper
//! (capped at `image_size_cap`) into the staging store, and a second save
//! records the staged size and, when this node has a self reference URL,
//! `os_glance_stage_host`. Any failure after the first save removes the
//! staged data and puts the image back to `queued`.

use std::sync::Arc;

use glint_db::Versioned;
use glint_model::{ImageId, ImageStatus, time};
use glint_store::{ByteStream, IngestConfig, Store, StoreError};

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;
use crate::intake::{STAGE_HOST, Staging};
use crate::limits::Resource;
use crate::quota::MIB;

fn missing(id: ImageId) -> CoreError {
    CoreError::image_not_found(id, Lookup::Image)
}

impl ImageService {
    /// Stages data into `staging` for `glance-direct` imports.
    pub fn with_staging(mut self, staging: Staging) -> Self {
        self.staging = Some(Arc::new(staging));
        self
    }

    /// The staging store, when staging is configured.
    pub fn staging(&self) -> Option<&Staging> {
        self.staging.as_deref()
    }

    /// `PUT /v2/images/{id}/stage`.
    pub async fn stage(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        data: ByteStream,
        announced_size: Option<u64>,
    ) -> Result<(), CoreError> {
        let enabled = self.import_methods().iter().any(|m| m == "glance-direct");
        let Some(staging) = self.staging.clone().filter(|_| enabled) else {
            return Err(CoreError::MethodUnavailable {
                method: "glance-direct".into(),
            });
        };
        self.check_stage_quota(ctx, announced_size).await?;
        let stored = self.load_visible_versioned(ctx, id, Lookup::Image).await?;
        self.authz
            .enforce_image(ctx, &stored.image, "modify_image")
            .await?;
        let limit = self.config.image_size_cap;
        if let Some(size) = announced_size.filter(|s| *s > limit) {
            return Err(CoreError::ImageTooLarge {
                announced: Some(size),
                limit,
            });
        }
        let reload = Reload::ForCaller {
            ctx,
            rule: "modify_image",
            by: Lookup::Image,
        };
        let begun = self
            .change_image(stored, reload, Save::Image, |image| {
                image.transition(ImageStatus::Uploading)?;
                image.updated_at = time::now();
                Ok(Step::Save)
            })
            .await?;
        let Some(saved) = begun.saved else {
            return Err(CoreError::Internal("stage began without a save".into()));
        };
        let current = Versioned {
            image: begun.image,
            version: saved.version,
        };
        let svc = self.clone();
        // In its own task, so that a client that goes away cannot leave
        // the image in `uploading` with half its data.
        let work = async move {
            svc.write_staged(staging, current, data, announced_size)
                .await
        };
        tokio::spawn(tracing::Instrument::instrument(
            work,
            tracing::Span::current(),
        ))
        .await
        .map_err(|e| CoreError::Internal(format!("stage task failed: {e}")))?
    }

    /// Keystone's `image_stage_total`, checked with the announced size as
    /// Glance does (in whole MiB, before anything is written).
    async fn check_stage_quota(
        &self,
        ctx: &RequestContext,
        announced: Option<u64>,
    ) -> Result<(), CoreError> {
        let project = ctx.project_id();
        let Some(limits) = self.project_limits(project).await? else {
            return Ok(());
        };
        let Some(limit) = limits.bound(Resource::ImageStageTotal) else {
            return Ok(());
        };
        let usage = self.db.project_usage(project).await?.staging / MIB;
        let delta = announced.unwrap_or(0) / MIB;
        if usage.saturating_add(delta) > limit {
            return Err(CoreError::LimitExceeded {
                project: project.map(str::to_owned),
                resource: Resource::ImageStageTotal,
                limit,
                usage,
                delta,
            });
        }
        Ok(())
    }

    async fn write_staged(
        &self,
        staging: Arc<Staging>,
        current: Versioned,
        data: ByteStream,
        announced: Option<u64>,
    ) -> Result<(), CoreError> {
        let id = current.image.id;
        let cfg = IngestConfig {
            hash_algo: self.config.hashing_algorithm,
            size_cap: self.config.image_size_cap,
            expected_size: announced,
            inspect: false,
        };
        let (stream, handle) = glint_store::ingest(data, cfg);
        let outcome = match staging.store.put(id, stream).await {
            Ok(_) => match handle.finish().await {
                Ok(ingested) => self.record_staged(&staging, current, ingested.size).await,
                Err(e) => Err(e.into()),
            },
            Err(e) => {
                drop(handle);
                Err(e.into())
            }
        };
        if let Err(e) = outcome {
            tracing::info!(image.id = %id, error = %e, "staging failed; image returned to queued");
            self.unstage(&staging, id).await;
            return Err(e);
        }
        tracing::info!(image.id = %id, "image data staged");
        Ok(())
    }

    async fn record_staged(
        &self,
        staging: &Staging,
        current: Versioned,
        size: u64,
    ) -> Result<(), CoreError> {
        let id = current.image.id;
        let reload = Reload::ForService { missing };
        self.change_image(current, reload, Save::Image, |image| {
            if image.status != ImageStatus::Uploading {
                return Err(CoreError::InvalidTransition {
                    from: image.status,
                    to: ImageStatus::Uploading,
                });
            }
            image.size = Some(size);
            if let Some(url) = &staging.self_url {
                image.properties.insert(STAGE_HOST.into(), url.clone());
            }
            image.updated_at = time::now();
            Ok(Step::Save)
        })
        .await
        .map(|_| ())
        .map_err(|e| match e {
            CoreError::ImageNotFound { .. } => CoreError::DeletedDuringUpload { id },
            e => e,
        })
    }

    /// Removes the staged data of `id` and puts the image back to `queued`
    /// if it is still `uploading` (Glance's `_unstage`).
    pub(crate) async fn unstage(&self, staging: &Staging, id: ImageId) {
        match staging.store.discard(id).await {
            Ok(()) | Err(StoreError::NotFound(_)) => {}
            Err(e) => {
                tracing::error!(image.id = %id, error = %e, "cannot remove staged image data")
            }
        }
        let current = match self.db.get_image_versioned(id).await {
            Ok(Some(current)) => current,
            Ok(None) => return,
            Err(e) => {
                tracing::error!(image.id = %id, error = %e, "cannot return image to queued");
                return;
            }
        };
        let reload = Reload::ForService { missing };
        let reset = self
            .change_image(current, reload, Save::Image, |image| {
                if image.status != ImageStatus::Uploading {
                    return Ok(Step::Keep);
                }
                image.transition(ImageStatus::Queued)?;
                image.size = None;
                image.properties.remove(STAGE_HOST);
                image.updated_at = time::now();
                Ok(Step::Save)
            })
            .await;
        match reset {
            Ok(_) | Err(CoreError::ImageNotFound { .. }) => {}
            Err(e) => {
                tracing::error!(image.id = %id, error = %e, "cannot return image to queued")
            }
        }
    }
}
