//! The one trait of background work.

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

/// What one pass of a worker did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Items of work completed (images scrubbed, uploads reset, …).
    pub done: u64,
    /// Items that failed and are left for a later pass.
    pub failed: u64,
    /// More work is waiting now: the runner calls again at once rather
    /// than after the worker's interval.
    pub more: bool,
}

impl Pass {
    /// Adds another pass's counts (for a run of several passes).
    pub fn add(&mut self, other: Pass) {
        self.done += other.done;
        self.failed += other.failed;
        self.more = other.more;
    }
}

/// A kind of background work, run by a [`crate::Runner`] (or by
/// [`crate::run_until_idle`] in a one-shot command).
///
/// A pass does a bounded amount of work: a batch of jobs, not "everything".
/// It must be safe to stop anywhere (its jobs are leased in the database,
/// so a pass that never ends leaves them to the next holder) and to run
/// again (work done twice does no harm). Errors that end a pass are
/// returned; the runner logs them and tries again at the next interval.
/// Failures of single items belong in [`Pass::failed`], logged by the
/// worker with what they concern.
#[async_trait]
pub trait Worker: Send + 'static {
    /// Names the worker in logs (`scrubber`).
    fn name(&self) -> &'static str;

    /// Runs one pass. `stop` is cancelled when the runner shuts down: the
    /// worker should then start no new item and return once the items in
    /// flight end.
    async fn work(&mut self, stop: &CancellationToken) -> anyhow::Result<Pass>;

    /// Returns when work has arrived that the worker learns of by itself
    /// (an image queued for prefetching), so the runner calls it before
    /// its interval has passed. By default, never.
    async fn wait_for_work(&mut self) {
        std::future::pending::<()>().await
    }
}
