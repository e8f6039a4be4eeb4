//! Reconciliation of interrupted uploads: an image left in `saving` by a
//! process that died (its upload lease expired, or its holder ran on this
//! machine and has ended, or it never had a lease) goes back to `queued`,
//! and whatever partial data the stores hold for it is removed; so does an
//! image left in `uploading` by a staging whose lease is so, its partial
//! staged data removed. Run at
//! start-up and then once per lease time, by every node (a worker of
//! `glint serve`): a live upload renews its lease well before it expires,
//! so it is never taken for an interrupted one, whichever node or run
//! started it.

use glint_db::UploadLease;
use glint_model::{ImageStatus, time};

use crate::error::CoreError;
use crate::images::ImageService;
use crate::liveness;

impl ImageService {
    /// Resets the uploads that no live process is writing. Returns how many
    /// images were reset.
    pub async fn reconcile_interrupted_uploads(&self) -> Result<usize, CoreError> {
        let now = time::now();
        // Not the holder of this process's own uploads: should one of them
        // have missed its renewals, it must lose its lease, not keep it.
        let holder = format!("{}/reclaim", self.lease_holder());
        let holders = self.db.upload_holders().await?;
        let ended = liveness::ended_holders(&self.config.node_name, holders);
        let mut reset = 0;
        for stale in self.db.interrupted_uploads(now, &ended).await? {
            let id = stale.image.id;
            let lease = UploadLease {
                holder: holder.clone(),
                expires_at: self.lease_expiry(),
            };
            if !self
                .db
                .take_over_upload(id, stale.version, &lease, now, &ended)
                .await?
            {
                continue;
            }
            if stale.image.status == ImageStatus::Uploading {
                if let Some(staging) = &self.staging {
                    self.discard_staged(staging, id).await;
                }
            } else {
                for store in self.stores.ids().filter_map(|id| self.stores.get(id)) {
                    if let Err(e) = store.discard(id).await {
                        tracing::error!(image.id = %id, store.id = store.id(), error = %e, "cannot remove partial data");
                    }
                }
            }
            self.abandon_upload(id, &holder).await;
            tracing::warn!(image.id = %id, status = %stale.image.status, "interrupted upload reset to queued");
            reset += 1;
        }
        Ok(reset)
    }
}
