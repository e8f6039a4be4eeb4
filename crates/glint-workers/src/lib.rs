//! Background work of glint: whatever runs outside a request, in
//! `glint serve` beside the API or in a command of its own (`glint
//! scrub`).
//!
//! Every kind of work implements one trait, [`Worker`]: a pass does one
//! bounded, idempotent unit of work and reports how much it did. One
//! [`Runner`] owns the tasks the workers run in: it calls each worker again
//! at once while there is more to do, else when its interval has passed or
//! someone wakes it ([`Wake`]), and on shutdown tells them to stop, waits a
//! grace period and aborts what is left. Nothing is spawned and forgotten,
//! and a failed or panicking pass is logged and followed by the next.
//!
//! Work that must outlive a process is a row in the database claimed with
//! a lease (`glint_db::JobLease`): a worker that dies leaves its job to the
//! next holder, so a pass may stop anywhere. The use cases themselves (and
//! every status change) live in `glint-core`; this crate schedules them.
//! It must not import the HTTP layer (`glint-api`).
//!
//! Workers: [`ScrubberWorker`] (delayed delete's scrubber),
//! [`UploadReconciler`] (the reset of uploads whose process died),
//! [`CachePrefetcher`] and [`CacheUpkeep`] (the image cache's prefetching,
//! cleaning and pruning) and [`TaskPurger`] (the deletion of expired tasks).

mod cache;
mod import;
mod reconcile;
mod runner;
mod scrubber;
mod statistics;
mod task_purge;
mod worker;

pub use cache::{CachePrefetcher, CacheUpkeep};
pub use import::{ImportStats, ImportWorker};
pub use reconcile::UploadReconciler;
pub use runner::{Runner, Wake, run_until_idle};
pub use scrubber::{ScrubberConfig, ScrubberStats, ScrubberWorker};
pub use statistics::StatisticsKeeper;
pub use task_purge::TaskPurger;
pub use tokio_util::sync::CancellationToken;
pub use worker::{Pass, Worker};
