//! The reset of interrupted uploads, as a worker (see
//! `glint_core::reconcile`).

use async_trait::async_trait;
use glint_core::ImageService;
use tokio_util::sync::CancellationToken;

use crate::worker::{Pass, Worker};

/// Resets the uploads whose process died (lease expired, or holder ended
/// on this node) to `queued`. Run it once per upload lease time.
#[derive(Debug, Clone)]
pub struct UploadReconciler {
    images: ImageService,
}

impl UploadReconciler {
    pub fn new(images: ImageService) -> UploadReconciler {
        UploadReconciler { images }
    }
}

#[async_trait]
impl Worker for UploadReconciler {
    fn name(&self) -> &'static str {
        "upload-reconciler"
    }

    async fn work(&mut self, _stop: &CancellationToken) -> anyhow::Result<Pass> {
        let reset = self.images.reconcile_interrupted_uploads().await?;
        if reset > 0 {
            tracing::warn!(count = reset, "interrupted uploads returned to queued");
        }
        Ok(Pass {
            done: reset as u64,
            ..Pass::default()
        })
    }
}
