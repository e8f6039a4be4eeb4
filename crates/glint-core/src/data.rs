//! Image data: upload (`PUT …/file`) and download (`GET …/file`).
//!
//! An upload moves the image `queued → saving` with a compare-and-set,
//! streams the bytes through the ingest wrapper (md5, multihash, size,
//! format inspection) into the default store, then moves it
//! `saving → active`. Any failure removes the partial data and puts the
//! image back to `queued`. The work runs in its own task so that a client
//! that disconnects cannot leave the image half-way.

use glint_model::{Image, ImageStatus, Location, time};
use glint_store::{ByteRange, ByteStream, IngestConfig, Ingested, ObjectData, StoreError};

use crate::context::RequestContext;
use crate::error::CoreError;
use crate::images::ImageService;

/// Hidden property naming the node run that is writing an image's data.
pub const UPLOAD_LEASE: &str = "os_glance_upload_lease";

/// A single byte range as a client asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeRequest {
    /// `bytes=a-b`
    FromTo(u64, u64),
    /// `bytes=a-`
    From(u64),
    /// `bytes=-n`: the last n bytes.
    Suffix(u64),
}

impl RangeRequest {
    /// Resolves against the data size; `None` when unsatisfiable.
    pub fn resolve(self, size: u64) -> Option<ByteRange> {
        let (start, end) = match self {
            RangeRequest::FromTo(a, b) if a <= b => (a, b.min(size.saturating_sub(1))),
            RangeRequest::FromTo(..) => return None,
            RangeRequest::From(a) => (a, size.saturating_sub(1)),
            RangeRequest::Suffix(0) => return None,
            RangeRequest::Suffix(n) => (size.saturating_sub(n), size.saturating_sub(1)),
        };
        (start < size).then_some(ByteRange { start, end })
    }
}

/// What a download hands to the API layer.
pub struct Download {
    pub image: Image,
    /// `None` when the image has no data (204).
    pub data: Option<ObjectData>,
}

impl std::fmt::Debug for Download {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Download")
            .field("image", &self.image.id)
            .field("has_data", &self.data.is_some())
            .finish()
    }
}

impl ImageService {
    /// `PUT /v2/images/{id}/file`.
    pub async fn upload(
        &self,
        ctx: &RequestContext,
        id: &str,
        data: ByteStream,
        announced_size: Option<u64>,
    ) -> Result<(), CoreError> {
        let not_found = || CoreError::NotFound(format!("No image found with ID {id}"));
        let mut image = self.load_visible(ctx, id, not_found).await?;
        self.authz.enforce_image(ctx, &image, "upload_image")?;
        if let Some(size) = announced_size.filter(|s| *s > self.config.image_size_cap) {
            return Err(CoreError::TooLarge(format!(
                "Image exceeds the storage quota: The provided image is too large ({size} bytes; the limit is {} bytes).",
                self.config.image_size_cap
            )));
        }
        if image.status != ImageStatus::Queued {
            return Err(CoreError::Conflict(format!(
                "Image status transition from {} to saving is not allowed",
                image.status
            )));
        }
        image.transition(ImageStatus::Saving)?;
        image.properties.insert(UPLOAD_LEASE.into(), self.lease());
        image.updated_at = time::now();
        self.save(&image, ImageStatus::Queued)
            .await
            .map_err(|e| match e {
                CoreError::Conflict(_) => CoreError::Conflict(
                    "Image status transition from queued to saving is not allowed".into(),
                ),
                other => other,
            })?;
        let svc = self.clone();
        let task = tokio::spawn(async move { svc.write_data(image, data, announced_size).await });
        task.await
            .map_err(|e| CoreError::Internal(format!("upload task failed: {e}")))?
    }

    /// The value of the upload lease for this run of this node.
    pub(crate) fn lease(&self) -> String {
        format!("{}/{}", self.config.node_name, self.instance_id())
    }

    async fn write_data(
        &self,
        image: Image,
        data: ByteStream,
        announced_size: Option<u64>,
    ) -> Result<(), CoreError> {
        let store = self.stores.default_store().clone();
        let cfg = IngestConfig {
            hash_algo: self.config.hashing_algorithm,
            size_cap: self.config.image_size_cap,
            expected_size: announced_size,
            inspect: true,
        };
        let (stream, handle) = glint_store::ingest(data, cfg);
        let stored = match store.put(image.id, stream).await {
            Ok(stored) => stored,
            Err(e) => {
                drop(handle);
                self.abandon_upload(&image).await;
                return Err(e.into());
            }
        };
        let outcome = match handle.finish().await {
            Ok(ingested) => {
                self.activate(image.clone(), &stored.url, store.id(), ingested)
                    .await
            }
            Err(e) => Err(CoreError::from(e)),
        };
        if let Err(e) = outcome {
            if let Err(del) = store.delete(&stored.url).await {
                tracing::error!(image.id = %image.id, error = %del, "failed to remove rejected data");
            }
            self.abandon_upload(&image).await;
            return Err(e);
        }
        Ok(())
    }

    async fn activate(
        &self,
        mut image: Image,
        url: &str,
        store_id: &str,
        ingested: Ingested,
    ) -> Result<(), CoreError> {
        let virtual_size = match &ingested.inspection {
            Some(inspection) => glint_format::check_upload(
                image.disk_format.as_deref(),
                image.container_format.as_deref(),
                inspection,
                self.config.require_image_format_match,
            )
            .map_err(|e| CoreError::UnsupportedMediaType(e.to_string()))?,
            None => None,
        };
        image.size = Some(ingested.size);
        image.virtual_size = virtual_size;
        image.checksum = Some(ingested.checksum);
        image.os_hash_algo = Some(ingested.os_hash_algo);
        image.os_hash_value = Some(ingested.os_hash_value);
        image.locations = vec![Location::new(url, store_id)];
        image.properties.remove(UPLOAD_LEASE);
        image.transition(ImageStatus::Active)?;
        image.updated_at = time::now();
        match self.save(&image, ImageStatus::Saving).await {
            Ok(()) => {
                tracing::info!(image.id = %image.id, size_bytes = ingested.size, store.id = store_id, "image data stored");
                Ok(())
            }
            Err(CoreError::Conflict(_)) | Err(CoreError::NotFound(_)) => {
                Err(CoreError::Gone(format!(
                    "Image {} could not be found after upload. The image may have been deleted during the upload.",
                    image.id
                )))
            }
            Err(e) => Err(e),
        }
    }

    /// Puts an image whose upload failed back to `queued`, unless something
    /// else (a delete) moved it meanwhile.
    pub(crate) async fn abandon_upload(&self, image: &Image) {
        let current = match self.db.get_image(image.id).await {
            Ok(Some(img)) if img.status == ImageStatus::Saving => img,
            Ok(_) => return,
            Err(e) => {
                tracing::error!(image.id = %image.id, error = %e, "cannot reload image after failed upload");
                return;
            }
        };
        let mut reset = current;
        reset.properties.remove(UPLOAD_LEASE);
        if reset.transition(ImageStatus::Queued).is_err() {
            return;
        }
        reset.updated_at = time::now();
        if let Err(e) = self.db.save_image(&reset, ImageStatus::Saving).await {
            tracing::error!(image.id = %image.id, error = %e, "cannot return image to queued");
        }
    }

    /// `GET /v2/images/{id}/file`.
    pub async fn download(
        &self,
        ctx: &RequestContext,
        id: &str,
        range: Option<RangeRequest>,
    ) -> Result<Download, CoreError> {
        let not_found = || CoreError::NotFound(format!("No image found with ID {id}"));
        let image = self.load_visible(ctx, id, not_found).await?;
        self.authz.enforce_image(ctx, &image, "download_image")?;
        if image.status == ImageStatus::Deactivated && !ctx.is_admin() {
            return Err(CoreError::Forbidden(
                "The requested image has been deactivated. Image data download is forbidden."
                    .into(),
            ));
        }
        let Some(location) = image.active_locations().next().cloned() else {
            return Ok(Download { image, data: None });
        };
        let store = self.stores.for_url(&location.url).ok_or_else(|| {
            CoreError::Internal(format!(
                "no store serves the location of image {}",
                image.id
            ))
        })?;
        let byte_range = match range {
            None => None,
            Some(r) => {
                let size = image.size.unwrap_or(0);
                Some(
                    r.resolve(size)
                        .ok_or(CoreError::RangeNotSatisfiable { size })?,
                )
            }
        };
        let data = store
            .get(&location.url, byte_range)
            .await
            .map_err(|e| match e {
                StoreError::InvalidRange => CoreError::RangeNotSatisfiable {
                    size: image.size.unwrap_or(0),
                },
                StoreError::NotFound(_) => CoreError::NotFound(format!(
                    "The data of image {} is missing from its store.",
                    image.id
                )),
                other => other.into(),
            })?;
        Ok(Download {
            image,
            data: Some(data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_against_the_size() {
        let r = |req: RangeRequest| req.resolve(100).map(|b| (b.start, b.end));
        assert_eq!(r(RangeRequest::FromTo(0, 9)), Some((0, 9)));
        assert_eq!(r(RangeRequest::FromTo(90, 200)), Some((90, 99)));
        assert_eq!(r(RangeRequest::From(50)), Some((50, 99)));
        assert_eq!(r(RangeRequest::Suffix(10)), Some((90, 99)));
        assert_eq!(r(RangeRequest::Suffix(500)), Some((0, 99)));
        assert_eq!(r(RangeRequest::From(100)), None);
        assert_eq!(r(RangeRequest::FromTo(5, 4)), None);
        assert_eq!(r(RangeRequest::Suffix(0)), None);
    }
}
