//! The one runner: owns the workers' tasks, schedules their passes, stops
//! them on shutdown.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::worker::{Pass, Worker};

/// Wakes a worker for a pass now, without waiting for its interval. A
/// wake while the worker is busy brings one more pass once it is done.
#[derive(Debug, Clone)]
pub struct Wake(Arc<Notify>);

impl Wake {
    pub fn wake(&self) {
        self.0.notify_one();
    }
}

/// Runs workers, each in a task of its own, until [`Runner::shutdown`].
/// Dropping a runner aborts its tasks: none outlives it.
#[derive(Debug)]
pub struct Runner {
    stop: CancellationToken,
    tasks: JoinSet<&'static str>,
}

impl Default for Runner {
    fn default() -> Self {
        Runner::new()
    }
}

impl Runner {
    pub fn new() -> Runner {
        Runner {
            stop: CancellationToken::new(),
            tasks: JoinSet::new(),
        }
    }

    /// Runs `worker`: a pass at once, another at once while a pass reports
    /// more work, else after `every`, when woken through the returned
    /// [`Wake`], or when the worker says work has arrived
    /// ([`Worker::wait_for_work`]). A pass that fails or panics is
    /// logged; the next follows after `every`.
    pub fn spawn(&mut self, mut worker: impl Worker, every: Duration) -> Wake {
        let notify = Arc::new(Notify::new());
        let wake = Wake(notify.clone());
        let stop = self.stop.clone();
        let name = worker.name();
        self.tasks.spawn(async move {
            tracing::info!(
                worker = name,
                every_s = every.as_secs_f64(),
                "worker started"
            );
            while !stop.is_cancelled() {
                let more = run_pass(&mut worker, &stop).await.is_some_and(|p| p.more);
                if more {
                    continue;
                }
                tokio::select! {
                    () = stop.cancelled() => {}
                    () = tokio::time::sleep(every) => {}
                    () = notify.notified() => {}
                    () = worker.wait_for_work() => {}
                }
            }
            name
        });
        wake
    }

    /// Stops every worker: tells them to stop, gives the passes in flight
    /// `grace` to end, then aborts the rest (whose jobs their leases hand
    /// to a later run). Logs how each ended.
    pub async fn shutdown(mut self, grace: Duration) {
        self.stop.cancel();
        let tasks = &mut self.tasks;
        let ended = tokio::time::timeout(grace, async {
            while let Some(joined) = tasks.join_next().await {
                log_end(joined);
            }
        })
        .await;
        if ended.is_err() {
            tracing::warn!(
                grace_s = grace.as_secs_f64(),
                "workers still busy after the shutdown grace; aborting them"
            );
            self.tasks.abort_all();
            while let Some(joined) = self.tasks.join_next().await {
                log_end(joined);
            }
        }
    }
}

fn log_end(joined: Result<&'static str, tokio::task::JoinError>) {
    match joined {
        Ok(name) => tracing::info!(worker = name, "worker stopped"),
        Err(e) if e.is_cancelled() => tracing::warn!("worker aborted during shutdown"),
        Err(e) => tracing::error!(error = %e, "worker task failed"),
    }
}

/// One pass, its outcome logged; `None` if it failed or panicked.
async fn run_pass(worker: &mut impl Worker, stop: &CancellationToken) -> Option<Pass> {
    let name = worker.name();
    let started = std::time::Instant::now();
    match AssertUnwindSafe(worker.work(stop)).catch_unwind().await {
        Ok(Ok(pass)) => {
            let duration_ms = started.elapsed().as_millis() as u64;
            if pass.done > 0 || pass.failed > 0 {
                tracing::info!(
                    worker = name,
                    done = pass.done,
                    failed = pass.failed,
                    duration_ms,
                    "worker pass"
                );
            } else {
                tracing::debug!(
                    worker = name,
                    duration_ms,
                    "worker pass found nothing to do"
                );
            }
            Some(pass)
        }
        Ok(Err(e)) => {
            tracing::error!(
                worker = name,
                error = format!("{e:#}"),
                "worker pass failed"
            );
            None
        }
        Err(_) => {
            tracing::error!(worker = name, "worker pass panicked");
            None
        }
    }
}

/// Runs passes of `worker` until one finds no more work waiting, or
/// `stop` is cancelled; the passes' counts summed. The first failed pass
/// ends the run with its error. For one-shot commands (`glint scrub` run
/// from cron).
pub async fn run_until_idle(
    worker: &mut impl Worker,
    stop: &CancellationToken,
) -> anyhow::Result<Pass> {
    let mut total = Pass::default();
    loop {
        let pass = worker.work(stop).await?;
        total.add(pass);
        if !pass.more || stop.is_cancelled() {
            total.more = false;
            return Ok(total);
        }
    }
}
