//! `DELETE /v2/images/{id}`: the image leaves the catalogue (or waits for
//! the scrubber in `pending_delete`), then its data leaves the stores.

use glint_model::{Image, ImageId, ImageStatus, Location, time};
use glint_store::{Store, StoreError};

use crate::change::{Reload, Save, Step};
use crate::context::RequestContext;
use crate::error::{CoreError, Lookup};
use crate::images::ImageService;

impl ImageService {
    /// `DELETE /v2/images/{id}`.
    pub async fn delete(&self, ctx: &RequestContext, id: ImageId) -> Result<(), CoreError> {
        let stored = self.load_visible_versioned(ctx, id, Lookup::Delete).await?;
        self.authz
            .enforce_image(ctx, &stored.image, "delete_image")
            .await?;
        let reload = Reload::ForCaller {
            ctx,
            rule: "delete_image",
            by: Lookup::Delete,
        };
        // As Glance, the data goes before the record: a store that must keep
        // it (in use) or cannot be reached leaves the image as it was.
        let mut probe = stored.image.clone();
        let data_first =
            self.mark_deleted(&mut probe).is_ok() && probe.status == ImageStatus::Deleted;
        if data_first {
            self.delete_data_first(&stored.image).await?;
        }
        let staged = matches!(
            stored.image.status,
            ImageStatus::Uploading | ImageStatus::Importing
        );
        let save = Save::Delete { now: time::now() };
        let deleted = self
            .change_image(stored, reload, save, |image| self.mark_deleted(image))
            .await?;
        let image = deleted.image;
        if image.status == ImageStatus::Deleted && !data_first {
            self.delete_locations_data(image.id, &image.locations).await;
        }
        if let Some(cache) = &self.cache {
            cache.forget_image(image.id).await;
        }
        // As Glance, the data staged for an import goes with the image.
        if let (true, Some(staging)) = (staged, &self.staging)
            && let Err(e) = staging.store.discard(image.id).await
        {
            tracing::error!(image.id = %image.id, error = %e, "cannot remove staged image data");
        }
        tracing::info!(image.id = %image.id, status = %image.status, "image deleted");
        Ok(())
    }

    /// Moves an image (in memory) to the status a delete gives it, if it
    /// may be deleted.
    fn mark_deleted(&self, image: &mut Image) -> Result<Step, CoreError> {
        if image.protected {
            return Err(CoreError::ImageProtected { id: image.id });
        }
        let has_data = image.active_locations().next().is_some();
        let to = if self.config.delayed_delete && has_data {
            ImageStatus::PendingDelete
        } else {
            ImageStatus::Deleted
        };
        image.status.check_move(to)?;
        image.status = to;
        Ok(Step::Save)
    }

    /// Removes every location's data before the image is marked deleted:
    /// data in use or a store out of reach fails the delete; other errors
    /// are logged, as after the fact.
    async fn delete_data_first(&self, image: &Image) -> Result<(), CoreError> {
        for loc in &image.locations {
            match self.delete_location_data(image.id, loc).await {
                Ok(_) => {}
                Err(StoreError::InUse(_)) => {
                    return Err(CoreError::DataInUse {
                        id: image.id,
                        one_store: false,
                    });
                }
                Err(e @ StoreError::Unavailable(_)) => return Err(e.into()),
                Err(e) => {
                    tracing::error!(image.id = %image.id, error = %e, "failed to delete image data")
                }
            }
        }
        Ok(())
    }

    /// Removes the data of `locations`, logging (not failing on) errors:
    /// the record no longer names them, a leftover object is an operator
    /// matter.
    pub(crate) async fn delete_locations_data(&self, id: ImageId, locations: &[Location]) {
        for loc in locations {
            if let Err(e) = self.delete_location_data(id, loc).await {
                tracing::error!(image.id = %id, error = %e, "failed to delete image data")
            }
        }
    }

    /// Removes one location's data. Data already gone, a read-only (http)
    /// location, which is not glint's to remove, and a location no store
    /// of this node serves are not errors; the outcome tells which it was.
    pub(crate) async fn delete_location_data(
        &self,
        id: ImageId,
        loc: &Location,
    ) -> Result<DataRemoval, StoreError> {
        let Some(store) = self.store_for(loc) else {
            tracing::warn!(image.id = %id, "no store for location; data left in place");
            return Ok(DataRemoval::NoStore);
        };
        match store.delete(&loc.url).await {
            Ok(()) => Ok(DataRemoval::Removed),
            Err(StoreError::NotFound(_)) => Ok(DataRemoval::AlreadyGone),
            Err(StoreError::ReadOnly(_)) => Ok(DataRemoval::NotOurs),
            Err(e) => Err(e),
        }
    }
}

/// What became of one location's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DataRemoval {
    Removed,
    /// The store had no data there.
    AlreadyGone,
    /// A read-only store's location (http): not glint's data to remove.
    NotOurs,
    /// No store of this node serves the location: the data stays.
    NoStore,
}
