//! Image data upload (`PUT /v2/images/{id}/file`).
//!
//! An upload moves the image `queued → saving` and takes a lease on it, in
//! one compare-and-set save that also checks the project's quotas (the
//! storage bound, `user_storage_quota` or Keystone's `image_size_total`, and
//! Keystone's `image_count_uploading`); streams the bytes through the
//! ingest wrapper (md5, multihash, size, format inspection) into the
//! default store, capped at what the storage bound allows; then moves it
//! `saving → active` and drops the lease, checking the bound again in the
//! same transaction. Any failure removes the data and puts the
//! image back to `queued`. The two saves apply their own fields to the
//! image as it is at that moment, so changes made meanwhile (a PATCH, tags)
//! are kept.
//!
//! The work runs in its own task, in the request's tracing span, so that a
//! client that disconnects cannot leave the image half-way. While it runs
//! the task renews its lease; a process that finds an image in `saving`
//! whose lease has expired takes the upload over and resets it (see
//! [`crate::reconcile`]), and the original upload then fails at its end.

use std::convert::Infallible;
use std::sync::Arc;

use glint_db::{CountLimit, DataKind, StorageQuota, UploadLease, Version, Versioned};
use glint_model::{Image, ImageId, ImageStatus, Location, time};
use glint_store::{ByteStream, IngestConfig, Ingested, Store};
use tracing::Instrument;

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;
use crate::intake::STAGE_HOST;
use crate::limits::Resource;
use crate::liveness;
use crate::quota::{StorageBound, cut_off};
use crate::transfers::InFlight;

/// The hidden property in which glint before schema version 5 recorded an
/// upload's lease; dropped when such an upload is reset.
const LEGACY_UPLOAD_LEASE: &str = "os_glance_upload_lease";

/// An upload in progress, as its task knows it.
struct Upload {
    /// The image as saved in `saving`, and its version then.
    image: Image,
    version: Version,
    holder: String,
    /// The project whose quotas the data counts against (the caller's, as
    /// in Glance).
    project: Option<String>,
    /// What bounds the project's data (`user_storage_quota` or Keystone's
    /// `image_size_total`), read when the upload began.
    bound: Option<StorageBound>,
    /// What that bound allowed when the upload began.
    remaining: Option<u64>,
    announced: Option<u64>,
    /// Where the data goes.
    store: Arc<dyn Store>,
}

fn gone_after_upload(id: ImageId) -> CoreError {
    CoreError::DeletedDuringUpload { id }
}

fn missing(id: ImageId) -> CoreError {
    CoreError::image_not_found(id, Lookup::Image)
}

/// Moves a queued image to `saving`.
fn start_saving(image: &mut Image) -> Result<Step, CoreError> {
    if image.status != ImageStatus::Queued {
        return Err(CoreError::InvalidTransition {
            from: image.status,
            to: ImageStatus::Saving,
        });
    }
    image.transition(ImageStatus::Saving)?;
    image.updated_at = time::now();
    Ok(Step::Save)
}

/// Sets what the upload learnt of its data on the image.
pub(crate) fn record_data(
    image: &mut Image,
    ingested: &Ingested,
    virtual_size: Option<u64>,
    at: Location,
) {
    image.size = Some(ingested.size);
    image.virtual_size = virtual_size;
    image.checksum = Some(ingested.checksum.clone());
    image.os_hash_algo = Some(ingested.os_hash_algo.clone());
    image.os_hash_value = Some(ingested.os_hash_value.clone());
    image.locations = vec![at];
    image.properties.remove(LEGACY_UPLOAD_LEASE);
}

/// Words a refusal of the database by the bound it checked: the data of
/// `size` bytes (`None`: unknown) did not fit, or `uploads` was reached.
pub(crate) fn refused(
    e: CoreError,
    bound: Option<StorageBound>,
    uploads: Option<u64>,
    project: Option<&str>,
    size: Option<u64>,
) -> CoreError {
    match (e, bound) {
        (CoreError::StorageQuotaExceeded { remaining, .. }, Some(bound)) => {
            bound.refusal(project, size, remaining)
        }
        (CoreError::CountLimitReached { usage }, _) => CoreError::LimitExceeded {
            project: project.map(str::to_owned),
            resource: Resource::ImageCountUploading,
            limit: uploads.unwrap_or(0),
            usage,
            delta: 0,
        },
        (other, _) => other,
    }
}

impl ImageService {
    /// `PUT /v2/images/{id}/file` into the default store.
    pub async fn upload(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        data: ByteStream,
        announced_size: Option<u64>,
    ) -> Result<(), CoreError> {
        self.upload_to(ctx, id, data, announced_size, None).await
    }

    /// The store an upload goes to: the one `X-Image-Meta-Store` names in
    /// multi-store mode (ignored otherwise, as Glance does), else the
    /// default.
    pub(crate) fn upload_store(
        &self,
        requested: Option<&str>,
    ) -> Result<Arc<dyn Store>, CoreError> {
        let entry = match requested {
            Some(id) if self.stores.is_multi_store() => {
                self.stores
                    .entry(id)
                    .ok_or_else(|| CoreError::UnknownUploadStore {
                        store: id.to_owned(),
                    })?
            }
            _ => self
                .stores
                .entries()
                .next()
                .ok_or_else(|| CoreError::Internal("no store configured".into()))?,
        };
        if entry.meta.read_only {
            return Err(CoreError::StoreReadOnly);
        }
        Ok(Arc::clone(&entry.store))
    }

    /// `PUT /v2/images/{id}/file` into the store `store` names (see
    /// [`Self::upload`] for none).
    pub async fn upload_to(
        &self,
        ctx: &RequestContext,
        id: ImageId,
        data: ByteStream,
        announced_size: Option<u64>,
        store: Option<&str>,
    ) -> Result<(), CoreError> {
        let target = self.upload_store(store)?;
        let stored = self.load_visible_versioned(ctx, id, Lookup::Image).await?;
        self.authz
            .enforce_image(ctx, &stored.image, "upload_image")
            .await?;
        let limit = self.config.image_size_cap;
        if let Some(size) = announced_size.filter(|s| *s > limit) {
            return Err(CoreError::ImageTooLarge {
                announced: Some(size),
                limit,
            });
        }
        let upload = self
            .begin_upload(ctx, stored, announced_size, target)
            .await?;
        let backend = self.stores.is_multi_store().then(|| upload.store.id());
        self.notify_prepare(&upload.image, backend);
        let svc = self.clone();
        let work = async move { svc.run_upload(upload, data).await };
        let task = tokio::spawn(work.instrument(tracing::Span::current()));
        task.await
            .map_err(|e| CoreError::Internal(format!("upload task failed: {e}")))?
    }

    /// Who holds the leases of this process's uploads: the node, this run
    /// of the service, and the process as the kernel knows it (see
    /// [`crate::liveness`]).
    pub(crate) fn lease_holder(&self) -> String {
        format!(
            "{}/{}/{}",
            self.config.node_name,
            self.instance_id(),
            liveness::process_token()
        )
    }

    /// When a lease taken or renewed now expires.
    pub(crate) fn lease_expiry(&self) -> time::Timestamp {
        time::now() + self.config.upload_lease_time
    }

    /// Moves the image to `saving` under this process's lease, once the
    /// storage quota allows the announced size (or, size unknown, anything).
    async fn begin_upload(
        &self,
        ctx: &RequestContext,
        stored: Versioned,
        announced: Option<u64>,
        store: Arc<dyn Store>,
    ) -> Result<Upload, CoreError> {
        let holder = self.lease_holder();
        let project = ctx.project_id().map(str::to_owned);
        let limits = self.project_limits(project.as_deref()).await?;
        let bound = self.storage_bound(limits.as_ref());
        let quota = bound.map(|bound| StorageQuota {
            project: project.as_deref(),
            kind: DataKind::Stored,
            limit: bound.bytes(),
            size: announced,
        });
        let uploads = limits.and_then(|l| l.bound(Resource::ImageCountUploading));
        let uploading = uploads.map(|limit| CountLimit {
            project: project.as_deref(),
            limit,
        });
        let lease = UploadLease {
            holder: holder.clone(),
            expires_at: self.lease_expiry(),
        };
        let reload = Reload::ForCaller {
            ctx,
            rule: "upload_image",
            by: Lookup::Image,
        };
        let save = Save::BeginUpload {
            lease: &lease,
            quota,
            uploads: uploading,
        };
        let begun = self
            .change_image(stored, reload, save, start_saving)
            .await
            .map_err(|e| refused(e, bound, uploads, project.as_deref(), announced))?;
        let Some(started) = begun.saved else {
            return Err(CoreError::Internal("upload began without a save".into()));
        };
        Ok(Upload {
            image: begun.image,
            version: started.version,
            holder,
            project,
            bound,
            remaining: started.remaining,
            announced,
            store,
        })
    }

    /// Writes and activates, renewing the lease until done.
    async fn run_upload(&self, upload: Upload, data: ByteStream) -> Result<(), CoreError> {
        let _counted = InFlight::start(&self.transfers.uploads_in_flight);
        let (id, holder) = (upload.image.id, upload.holder.clone());
        tokio::select! {
            biased;
            outcome = self.write_data(upload, data) => outcome,
            never = self.keep_lease(id, &holder) => match never {},
        }
    }

    /// Renews the lease every third of its life; never returns. Once the
    /// lease is lost (another process reclaimed the upload), it stops: the
    /// upload fails when it tries to end.
    pub(crate) async fn keep_lease(&self, id: ImageId, holder: &str) -> Infallible {
        let every = self.config.upload_lease_time / 3;
        loop {
            tokio::time::sleep(every).await;
            match self
                .db
                .renew_upload_lease(id, holder, self.lease_expiry())
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    tracing::warn!(image.id = %id, "upload lease lost: the image was deleted, or its upload reclaimed");
                    return std::future::pending().await;
                }
                Err(e) => {
                    tracing::warn!(image.id = %id, error = %e, "cannot renew the upload lease")
                }
            }
        }
    }

    async fn write_data(&self, upload: Upload, data: ByteStream) -> Result<(), CoreError> {
        let store = Arc::clone(&upload.store);
        let id = upload.image.id;
        // The quota caps the stream when it leaves less than the size cap.
        let quota_room = upload
            .remaining
            .filter(|room| *room < self.config.image_size_cap);
        let cfg = IngestConfig {
            hash_algo: self.config.hashing_algorithm,
            size_cap: quota_room.unwrap_or(self.config.image_size_cap),
            expected_size: upload.announced,
            inspect: true,
        };
        let cut = |e| cut_off(e, quota_room, upload.bound, upload.project.as_deref());
        let (stream, handle) = glint_store::ingest(data, cfg);
        let stored = match store.put(id, stream).await {
            Ok(stored) => stored,
            Err(e) => {
                drop(handle);
                let e = cut(e);
                self.notify_upload_failed(id, &e);
                self.abandon_upload(id, &upload.holder).await;
                return Err(e);
            }
        };
        let outcome = match handle.finish().await {
            Ok(ingested) => {
                self.activate(&upload, &stored.url, store.id(), ingested)
                    .await
            }
            Err(e) => Err(cut(e)),
        };
        if let Err(e) = outcome {
            if let Err(del) = store.delete(&stored.url).await {
                tracing::error!(image.id = %id, error = %del, "failed to remove rejected data");
            }
            self.notify_upload_failed(id, &e);
            self.abandon_upload(id, &upload.holder).await;
            return Err(e);
        }
        Ok(())
    }

    async fn activate(
        &self,
        upload: &Upload,
        url: &str,
        store_id: &str,
        ingested: Ingested,
    ) -> Result<(), CoreError> {
        let id = upload.image.id;
        let virtual_size = self.checked_virtual_size(&upload.image, &ingested)?;
        let quota = upload.bound.map(|bound| StorageQuota {
            project: upload.project.as_deref(),
            kind: DataKind::Stored,
            limit: bound.bytes(),
            size: Some(ingested.size),
        });
        let current = Versioned {
            image: upload.image.clone(),
            version: upload.version,
        };
        let reload = Reload::ForService {
            missing: gone_after_upload,
        };
        let save = Save::EndUpload {
            holder: &upload.holder,
            quota,
        };
        let done = self
            .change_image(current, reload, save, |image| {
                if image.status != ImageStatus::Saving {
                    return Err(gone_after_upload(id));
                }
                record_data(image, &ingested, virtual_size, Location::new(url, store_id));
                image.transition(ImageStatus::Active)?;
                image.updated_at = time::now();
                Ok(Step::Save)
            })
            .await;
        match done {
            Ok(done) => {
                tracing::info!(image.id = %id, size_bytes = ingested.size, store.id = store_id, "image data stored");
                self.notify_activated(&done.image);
                Ok(())
            }
            Err(CoreError::DeletedDuringUpload { .. } | CoreError::UploadTakenOver) => {
                Err(gone_after_upload(id))
            }
            Err(e) => Err(refused(
                e,
                upload.bound,
                None,
                upload.project.as_deref(),
                Some(ingested.size),
            )),
        }
    }

    /// The virtual size the format inspection found, once it accepted the
    /// data as the image's formats.
    pub(crate) fn checked_virtual_size(
        &self,
        image: &Image,
        ingested: &Ingested,
    ) -> Result<Option<u64>, CoreError> {
        let Some(inspection) = &ingested.inspection else {
            return Ok(None);
        };
        glint_format::check_upload(
            image.disk_format.as_deref(),
            image.container_format.as_deref(),
            inspection,
            &self.config.upload_rules,
        )
        .map_err(CoreError::from)
    }

    /// Puts an image whose upload failed (or that another process left
    /// behind and `holder` took over) back to `queued`, unless something
    /// else (a delete) moved it meanwhile or `holder` no longer holds it.
    pub(crate) async fn abandon_upload(&self, id: ImageId, holder: &str) {
        match self.reset_upload(id, holder).await {
            Ok(()) | Err(CoreError::ImageNotFound { .. }) => {}
            Err(CoreError::UploadTakenOver) => {
                tracing::info!(image.id = %id, "upload taken over by another process; not reset here")
            }
            Err(e) => {
                tracing::error!(image.id = %id, error = %e, "cannot return image to queued")
            }
        }
    }

    async fn reset_upload(&self, id: ImageId, holder: &str) -> Result<(), CoreError> {
        let Some(current) = self.db.get_image_versioned(id).await? else {
            return Ok(());
        };
        let reload = Reload::ForService { missing };
        let save = Save::EndUpload {
            holder,
            quota: None,
        };
        let reset = self
            .change_image(current, reload, save, |image| {
                match image.status {
                    ImageStatus::Saving => {
                        image.properties.remove(LEGACY_UPLOAD_LEASE);
                    }
                    // A staging: its staged size and host go with the data.
                    ImageStatus::Uploading => {
                        image.size = None;
                        image.properties.remove(STAGE_HOST);
                    }
                    _ => return Ok(Step::Keep),
                }
                image.transition(ImageStatus::Queued)?;
                image.updated_at = time::now();
                Ok(Step::Save)
            })
            .await?;
        if reset.saved.is_some() {
            self.notify_image(glint_notify::EventType::ImageUpdate, &reset.image);
        }
        Ok(())
    }
}
