//! Deletes the rows of expired tasks (see `glint_core::tasks`): reads hide
//! them as soon as they expire, this worker reclaims their space.

use async_trait::async_trait;
use glint_core::ImageService;
use tokio_util::sync::CancellationToken;

use crate::worker::{Pass, Worker};

/// Expired tasks deleted per pass.
const BATCH: u64 = 500;

/// Deletes expired tasks, a batch per pass, any number of nodes at once.
#[derive(Debug, Clone)]
pub struct TaskPurger {
    images: ImageService,
}

impl TaskPurger {
    pub fn new(images: ImageService) -> TaskPurger {
        TaskPurger { images }
    }
}

#[async_trait]
impl Worker for TaskPurger {
    fn name(&self) -> &'static str {
        "task-purger"
    }

    async fn work(&mut self, _stop: &CancellationToken) -> anyhow::Result<Pass> {
        let gone = self.images.purge_expired_tasks(BATCH).await?;
        Ok(Pass {
            done: gone,
            more: gone == BATCH,
            ..Pass::default()
        })
    }
}
