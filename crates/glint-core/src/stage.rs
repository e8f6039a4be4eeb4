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

use glint_db::{CountLimit, UploadLease, Versioned};
use glint_model::{ImageId, ImageStatus, time};
use glint_store::{ByteStream, IngestConfig, Store, StoreError};

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;
use crate::intake::{STAGE_HOST, Staging};
use crate::limits::Resource;
use crate::quota::{StorageBound, cut_off};
use crate::upload::refused;

fn missing(id: ImageId) -> CoreError {
    CoreError::image_not_found(id, Lookup::Image)
}

/// A staging under way: the image as moved to `uploading`, this process's
/// lease on it and what the project's stage limit left.
struct Stage {
    current: Versioned,
    holder: String,
    project: Option<String>,
    bound: Option<StorageBound>,
    /// Bytes the stage limit still allowed when the staging began.
    remaining: Option<u64>,
    announced: Option<u64>,
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
        let staged = self.begin_stage(ctx, stored, announced_size).await?;
        let svc = self.clone();
        // In its own task, so that a client that goes away cannot leave
        // the image in `uploading` with half its data.
        let work = async move {
            let (id, holder) = (staged.current.image.id, staged.holder.clone());
            tokio::select! {
                biased;
                outcome = svc.write_staged(staging, staged, data) => outcome,
                never = svc.keep_lease(id, &holder) => match never {},
            }
        };
        tokio::spawn(tracing::Instrument::instrument(
            work,
            tracing::Span::current(),
        ))
        .await
        .map_err(|e| CoreError::Internal(format!("stage task failed: {e}")))?
    }

    /// Moves the image to `uploading` under this process's lease, once the
    /// project's `image_stage_total` allows the announced size (reserved
    /// until the staging ends) and its `image_count_uploading` one more
    /// upload, both decided under the project's quota lock. Glance checks
    /// the announced size before it writes, so parallel stagings can
    /// together pass the limit; here they cannot.
    async fn begin_stage(
        &self,
        ctx: &RequestContext,
        stored: Versioned,
        announced: Option<u64>,
    ) -> Result<Stage, CoreError> {
        let project = ctx.project_id().map(str::to_owned);
        let limits = self.project_limits(project.as_deref()).await?;
        let bound = limits
            .as_ref()
            .and_then(|l| l.bound(Resource::ImageStageTotal))
            .map(|mib| StorageBound::StageTotal { mib });
        let uploads = limits.and_then(|l| l.bound(Resource::ImageCountUploading));
        let holder = self.lease_holder();
        let lease = UploadLease {
            holder: holder.clone(),
            expires_at: self.lease_expiry(),
        };
        let reload = Reload::ForCaller {
            ctx,
            rule: "modify_image",
            by: Lookup::Image,
        };
        let save = Save::BeginUpload {
            lease: &lease,
            quota: bound.map(|b| b.quota(project.as_deref(), announced)),
            uploads: uploads.map(|limit| CountLimit {
                project: project.as_deref(),
                limit,
            }),
        };
        let begun = self
            .change_image(stored, reload, save, |image| {
                image.transition(ImageStatus::Uploading)?;
                image.updated_at = time::now();
                Ok(Step::Save)
            })
            .await
            .map_err(|e| refused(e, bound, uploads, project.as_deref(), announced))?;
        let Some(saved) = begun.saved else {
            return Err(CoreError::Internal("stage began without a save".into()));
        };
        Ok(Stage {
            current: Versioned {
                image: begun.image,
                version: saved.version,
            },
            holder,
            project,
            bound,
            remaining: saved.remaining,
            announced,
        })
    }

    async fn write_staged(
        &self,
        staging: Arc<Staging>,
        stage: Stage,
        data: ByteStream,
    ) -> Result<(), CoreError> {
        let id = stage.current.image.id;
        // The stage limit caps the stream when it leaves less than the
        // size cap.
        let room = stage
            .remaining
            .filter(|room| *room < self.config.image_size_cap);
        let cfg = IngestConfig {
            hash_algo: self.config.hashing_algorithm,
            size_cap: room.unwrap_or(self.config.image_size_cap),
            expected_size: stage.announced,
            inspect: false,
        };
        let cut = |e| cut_off(e, room, stage.bound, stage.project.as_deref());
        let (stream, handle) = glint_store::ingest(data, cfg);
        let outcome = match staging.store.put(id, stream).await {
            Ok(_) => match handle.finish().await {
                Ok(ingested) => self.record_staged(&staging, &stage, ingested.size).await,
                Err(e) => Err(cut(e)),
            },
            Err(e) => {
                drop(handle);
                Err(cut(e))
            }
        };
        if let Err(e) = outcome {
            tracing::info!(image.id = %id, error = %e, "staging failed; image returned to queued");
            self.discard_staged(&staging, id).await;
            self.abandon_upload(id, &stage.holder).await;
            return Err(e);
        }
        tracing::info!(image.id = %id, "image data staged");
        Ok(())
    }

    /// Records the staged size (and this node as the stage host) and ends
    /// the lease, the staged data counted against `image_stage_total`
    /// again, exactly, under the project's lock.
    async fn record_staged(
        &self,
        staging: &Staging,
        stage: &Stage,
        size: u64,
    ) -> Result<(), CoreError> {
        let id = stage.current.image.id;
        let reload = Reload::ForService { missing };
        let save = Save::EndUpload {
            holder: &stage.holder,
            quota: stage
                .bound
                .map(|b| b.quota(stage.project.as_deref(), Some(size))),
        };
        self.change_image(stage.current.clone(), reload, save, |image| {
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
            e => refused(e, stage.bound, None, stage.project.as_deref(), Some(size)),
        })
    }

    /// Removes the staged data of `id`, if any.
    pub(crate) async fn discard_staged(&self, staging: &Staging, id: ImageId) {
        match staging.store.discard(id).await {
            Ok(()) | Err(StoreError::NotFound(_)) => {}
            Err(e) => {
                tracing::error!(image.id = %id, error = %e, "cannot remove staged image data")
            }
        }
    }
}
