//! Keeps the database's planner statistics fresh (see
//! `glint_db::Database::refresh_statistics`): at start, so a catalogue
//! loaded while glint was down is planned with statistics, then at every
//! interval, so one loaded through the API is too. Off the request path:
//! a request never waits for an analysis.

use async_trait::async_trait;
use glint_core::ImageService;
use tokio_util::sync::CancellationToken;

use crate::worker::{Pass, Worker};

/// Refreshes the statistics of the tables that changed much, any number
/// of nodes at once (an analysis twice over does no harm).
#[derive(Debug, Clone)]
pub struct StatisticsKeeper {
    images: ImageService,
}

impl StatisticsKeeper {
    pub fn new(images: ImageService) -> StatisticsKeeper {
        StatisticsKeeper { images }
    }
}

#[async_trait]
impl Worker for StatisticsKeeper {
    fn name(&self) -> &'static str {
        "statistics"
    }

    async fn work(&mut self, _stop: &CancellationToken) -> anyhow::Result<Pass> {
        let analyzed = self.images.refresh_statistics().await?;
        if !analyzed.is_empty() {
            tracing::info!(tables = ?analyzed, "planner statistics gathered");
        }
        Ok(Pass {
            done: analyzed.len() as u64,
            ..Pass::default()
        })
    }
}
