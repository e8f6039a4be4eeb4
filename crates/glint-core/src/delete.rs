//! `DELETE /v2/images/{id}`: the image leaves the catalogue (or waits for
//! the scrubber in `pending_delete`), then its data leaves the stores.

use glint_model::{Image, ImageId, ImageStatus, time};

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
        let save = Save::Delete { now: time::now() };
        let deleted = self
            .change_image(stored, reload, save, |image| self.mark_deleted(image))
            .await?;
        let image = deleted.image;
        if image.status == ImageStatus::Deleted {
            self.delete_data(&image).await;
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

    /// Removes every location's data, logging (not failing on) errors: the
    /// record is already gone, a leftover object is an operator matter.
    pub(crate) async fn delete_data(&self, image: &Image) {
        for loc in &image.locations {
            let Some(store) = self.stores.for_url(&loc.url) else {
                tracing::warn!(image.id = %image.id, "no store for location; data left in place");
                continue;
            };
            match store.delete(&loc.url).await {
                Ok(()) | Err(glint_store::StoreError::NotFound(_)) => {}
                Err(e) => {
                    tracing::error!(image.id = %image.id, store.id = store.id(), error = %e, "failed to delete image data")
                }
            }
        }
    }
}
