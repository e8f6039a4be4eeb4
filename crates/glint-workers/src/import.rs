//! Runs the `api_image_import` tasks of `POST /v2/images/{id}/import`
//! (see `glint_core::import`): each unfinished task is claimed with a job
//! lease, so that one process runs it, and one whose holder died is taken
//! up again once its lease has expired.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use glint_core::ImageService;
use tokio_util::sync::CancellationToken;

use crate::worker::{Pass, Worker};

/// Tasks looked at per pass.
const BATCH: u64 = 20;

/// Counters of an import worker, cheap to read from anywhere (metrics).
#[derive(Debug, Default)]
pub struct ImportStats {
    queued: AtomicU64,
}

impl ImportStats {
    /// Import tasks waiting or running on every node, as counted after
    /// the last pass of this worker.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }
}

/// Imports images, woken when an import is queued.
#[derive(Debug, Clone)]
pub struct ImportWorker {
    images: ImageService,
    stats: Arc<ImportStats>,
}

impl ImportWorker {
    pub fn new(images: ImageService) -> ImportWorker {
        ImportWorker {
            images,
            stats: Arc::default(),
        }
    }

    pub fn stats(&self) -> Arc<ImportStats> {
        Arc::clone(&self.stats)
    }

    async fn count_queued(&self) {
        match self.images.unfinished_import_count().await {
            Ok(count) => self.stats.queued.store(count, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "cannot count import tasks"),
        }
    }
}

#[async_trait]
impl Worker for ImportWorker {
    fn name(&self) -> &'static str {
        "importer"
    }

    async fn work(&mut self, stop: &CancellationToken) -> anyhow::Result<Pass> {
        let tasks = self.images.unfinished_imports(BATCH).await?;
        let mut pass = Pass::default();
        for task in tasks {
            if stop.is_cancelled() {
                break;
            }
            let id = task.id;
            match self.images.claim_and_run_import(task).await {
                Ok(true) => pass.done += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(task.id = %id, error = %e, "import task left for a later pass");
                    pass.failed += 1;
                }
            }
        }
        self.count_queued().await;
        Ok(pass)
    }

    async fn wait_for_work(&mut self) {
        self.images.import_queued().await
    }
}
