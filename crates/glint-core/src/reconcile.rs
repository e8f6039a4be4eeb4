//! Start-up reconciliation: uploads that a dead process left in `saving`
//! go back to `queued`, and their partial data is removed.

use std::time::Duration;

use glint_model::{Image, ImageStatus, time};

use crate::data::UPLOAD_LEASE;
use crate::error::CoreError;
use crate::images::ImageService;

impl ImageService {
    /// Resets the uploads that no live process is writing: those started by
    /// an earlier run of this node (every upload of this node is one, when
    /// called at start-up), those without a lease, and those whose lease has
    /// not been renewed for `stale_after` (a node that died for good).
    /// Returns how many images were reset.
    pub async fn reconcile_interrupted_uploads(
        &self,
        stale_after: Duration,
    ) -> Result<usize, CoreError> {
        let saving = self.db.images_with_status(ImageStatus::Saving).await?;
        let mut reset = 0;
        for image in saving {
            if !self.is_abandoned(&image, stale_after) {
                continue;
            }
            for store in self.stores.ids().filter_map(|id| self.stores.get(id)) {
                if let Err(e) = store.discard(image.id).await {
                    tracing::error!(image.id = %image.id, store.id = store.id(), error = %e, "cannot remove partial data");
                }
            }
            self.abandon_upload(&image).await;
            tracing::warn!(image.id = %image.id, "interrupted upload reset to queued");
            reset += 1;
        }
        Ok(reset)
    }

    fn is_abandoned(&self, image: &Image, stale_after: Duration) -> bool {
        let lease = image.properties.get(UPLOAD_LEASE);
        let Some((node, run)) = lease.and_then(|l| l.rsplit_once('/')) else {
            return true;
        };
        if node == self.config.node_name && run != self.instance_id().to_string() {
            return true;
        }
        let age = time::now() - image.updated_at;
        age > stale_after
    }
}
