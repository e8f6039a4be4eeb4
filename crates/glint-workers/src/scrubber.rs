//! Delayed delete's scrubber: removes the data of images left in
//! `pending_delete` once they have waited `scrub_time`, and marks them
//! `deleted`.
//!
//! A sweep fixes its cutoff (now minus `scrub_time`) when it starts and
//! walks the pending deletes due by then, oldest deletion first, in
//! batches: one batch per pass, `scrub_pool_size` images at a time. Each
//! image is claimed with a lease in the database
//! ([`ImageService::scrub_pending_delete`]), so any number of scrubbers
//! (in `glint serve` or `glint scrub`, on any node) share the work and
//! scrub each image once. An image whose data could not be removed stays
//! pending; the sweep moves past it, and the next sweep tries it again.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use glint_core::{ImageService, PendingDelete, ScrubOutcome};
use glint_model::time::{self, Timestamp};
use tokio_util::sync::CancellationToken;

use crate::worker::{Pass, Worker};

/// How the scrubber works (glance-scrubber's options, and its lease).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScrubberConfig {
    /// How long an image waits in `pending_delete` before its data is
    /// removed (`scrub_time`).
    pub scrub_time: Duration,
    /// How many images are scrubbed at once (`scrub_pool_size`, at least 1).
    pub pool_size: usize,
    /// How long a claim on an image lasts unless renewed; the scrubber
    /// renews it every third of that while the stores work, and another
    /// scrubber takes over an image whose claim expired (its holder died
    /// on another node: one on this node is taken over at once).
    pub lease_time: Duration,
    /// Images per pass.
    pub batch: u64,
}

impl ScrubberConfig {
    /// Time between sweeps in daemon mode (`wakeup_time`).
    pub const DEFAULT_WAKEUP_TIME: Duration = Duration::from_secs(300);
}

impl Default for ScrubberConfig {
    fn default() -> Self {
        ScrubberConfig {
            scrub_time: Duration::ZERO,
            pool_size: 1,
            lease_time: Duration::from_secs(300),
            batch: 100,
        }
    }
}

/// Counters of a scrubber, cheap to read from anywhere (for metrics).
#[derive(Debug, Default)]
pub struct ScrubberStats {
    pending: AtomicU64,
    scrubbed: AtomicU64,
    failed: AtomicU64,
    sweeps: AtomicU64,
}

impl ScrubberStats {
    /// Images waiting in `pending_delete`, due or not, as counted at the
    /// end of the last sweep.
    pub fn pending(&self) -> u64 {
        self.pending.load(Ordering::Relaxed)
    }

    /// Images this scrubber scrubbed.
    pub fn scrubbed(&self) -> u64 {
        self.scrubbed.load(Ordering::Relaxed)
    }

    /// Attempts of this scrubber that left an image pending (its data not
    /// all removed); each is retried by a later sweep.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }

    /// Sweeps completed.
    pub fn sweeps(&self) -> u64 {
        self.sweeps.load(Ordering::Relaxed)
    }
}

/// Where the current sweep stands.
#[derive(Debug, Clone, Copy)]
struct Sweep {
    /// Images deleted at or before this are due.
    cutoff: Timestamp,
    /// The last image of the previous batch.
    after: Option<PendingDelete>,
}

/// The scrubber as a [`Worker`].
#[derive(Debug)]
pub struct ScrubberWorker {
    images: ImageService,
    config: ScrubberConfig,
    stats: Arc<ScrubberStats>,
    sweep: Option<Sweep>,
}

impl ScrubberWorker {
    pub fn new(images: ImageService, config: ScrubberConfig) -> ScrubberWorker {
        ScrubberWorker {
            images,
            config,
            stats: Arc::default(),
            sweep: None,
        }
    }

    /// The scrubber's counters, updated as it works.
    pub fn stats(&self) -> Arc<ScrubberStats> {
        self.stats.clone()
    }

    /// Scrubs `due`, `pool_size` at a time, starting none once `stop` is
    /// cancelled; how many were scrubbed and how many failed.
    async fn scrub_all(&self, due: Vec<PendingDelete>, stop: &CancellationToken) -> (u64, u64) {
        let images = &self.images;
        let lease_time = self.config.lease_time;
        let mut outcomes = futures::stream::iter(due)
            .take_while(|_| std::future::ready(!stop.is_cancelled()))
            .map(|pending| async move {
                let outcome = images.scrub_pending_delete(pending.id, lease_time).await;
                (pending.id, outcome)
            })
            .buffer_unordered(self.config.pool_size.max(1));
        let (mut done, mut failed) = (0, 0);
        while let Some((id, outcome)) = outcomes.next().await {
            match outcome {
                Ok(ScrubOutcome::Scrubbed) => done += 1,
                // Logged where it happened, with its reason.
                Ok(ScrubOutcome::Failed { .. }) => failed += 1,
                Ok(ScrubOutcome::NotClaimed | ScrubOutcome::LeaseLost) => {}
                Err(e) => {
                    failed += 1;
                    tracing::error!(image.id = %id, error = %e, "scrub failed");
                }
            }
        }
        (done, failed)
    }

    async fn count_pending(&self) {
        match self.images.pending_delete_count().await {
            Ok(count) => self.stats.pending.store(count, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "cannot count pending deletes"),
        }
    }
}

#[async_trait]
impl Worker for ScrubberWorker {
    fn name(&self) -> &'static str {
        "scrubber"
    }

    async fn work(&mut self, stop: &CancellationToken) -> anyhow::Result<Pass> {
        let scrub_time = self.config.scrub_time;
        let sweep = *self.sweep.get_or_insert_with(|| Sweep {
            cutoff: time::now() - scrub_time,
            after: None,
        });
        let batch = self.config.batch.max(1);
        let due = (self.images)
            .due_pending_deletes(sweep.cutoff, sweep.after, batch)
            .await?;
        let full = due.len() as u64 == batch;
        let last = due.last().copied();
        let (done, failed) = self.scrub_all(due, stop).await;
        self.stats.scrubbed.fetch_add(done, Ordering::Relaxed);
        self.stats.failed.fetch_add(failed, Ordering::Relaxed);
        let more = full && !stop.is_cancelled();
        if more {
            self.sweep = Some(Sweep {
                after: last,
                ..sweep
            });
        } else {
            self.sweep = None;
            self.stats.sweeps.fetch_add(1, Ordering::Relaxed);
            self.count_pending().await;
        }
        Ok(Pass { done, failed, more })
    }
}
