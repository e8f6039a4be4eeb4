//! The runner: when it calls a worker, what it does with failures, and
//! how it stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use glint_workers::{CancellationToken, Pass, Runner, Worker, run_until_idle};

/// A worker that counts its passes and behaves as told per pass number
/// (counted from 1).
struct Scripted {
    passes: Arc<AtomicU64>,
    script: fn(u64) -> Step,
}

enum Step {
    Done(Pass),
    Fail,
    Panic,
    /// Ignores the stop signal for this long.
    Stall(Duration),
}

#[async_trait]
impl Worker for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }

    async fn work(&mut self, _stop: &CancellationToken) -> anyhow::Result<Pass> {
        let n = self.passes.fetch_add(1, Ordering::SeqCst) + 1;
        match (self.script)(n) {
            Step::Done(pass) => Ok(pass),
            Step::Fail => anyhow::bail!("pass {n} failed"),
            Step::Panic => panic!("pass {n} panicked"),
            Step::Stall(t) => {
                tokio::time::sleep(t).await;
                Ok(Pass::default())
            }
        }
    }
}

fn scripted(script: fn(u64) -> Step) -> (Scripted, Arc<AtomicU64>) {
    let passes = Arc::new(AtomicU64::new(0));
    let worker = Scripted {
        passes: passes.clone(),
        script,
    };
    (worker, passes)
}

const LONG: Duration = Duration::from_secs(3600);

async fn wait_for(what: &AtomicU64, at_least: u64) {
    for _ in 0..1000 {
        if what.load(Ordering::SeqCst) >= at_least {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("only {} passes", what.load(Ordering::SeqCst));
}

#[tokio::test]
async fn a_worker_runs_at_once_again_while_more_work_waits_then_only_when_woken() {
    let (worker, passes) = scripted(|n| {
        Step::Done(Pass {
            done: 1,
            failed: 0,
            more: n < 3,
        })
    });
    let mut runner = Runner::new();
    let wake = runner.spawn(worker, LONG);
    wait_for(&passes, 3).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(passes.load(Ordering::SeqCst), 3);
    wake.wake();
    wait_for(&passes, 4).await;
    runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn a_worker_runs_again_after_its_interval() {
    let (worker, passes) = scripted(|_| Step::Done(Pass::default()));
    let mut runner = Runner::new();
    runner.spawn(worker, Duration::from_millis(20));
    wait_for(&passes, 5).await;
    runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn failed_and_panicking_passes_are_followed_by_the_next() {
    let (worker, passes) = scripted(|n| match n {
        1 => Step::Fail,
        2 => Step::Panic,
        _ => Step::Done(Pass::default()),
    });
    let mut runner = Runner::new();
    runner.spawn(worker, Duration::from_millis(10));
    wait_for(&passes, 4).await;
    runner.shutdown(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn shutdown_waits_for_a_pass_within_the_grace_and_aborts_one_beyond_it() {
    let (quick, quick_passes) = scripted(|_| Step::Stall(Duration::from_millis(200)));
    let (stuck, stuck_passes) = scripted(|_| Step::Stall(LONG));
    let mut runner = Runner::new();
    runner.spawn(quick, LONG);
    runner.spawn(stuck, LONG);
    wait_for(&quick_passes, 1).await;
    wait_for(&stuck_passes, 1).await;
    let started = Instant::now();
    runner.shutdown(Duration::from_secs(1)).await;
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(1), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // Neither ran again after the shutdown.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(quick_passes.load(Ordering::SeqCst), 1);
    assert_eq!(stuck_passes.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn dropping_a_runner_stops_its_workers() {
    let (worker, passes) = scripted(|_| Step::Done(Pass::default()));
    let mut runner = Runner::new();
    runner.spawn(worker, Duration::from_millis(10));
    wait_for(&passes, 1).await;
    drop(runner);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after_drop = passes.load(Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(passes.load(Ordering::SeqCst), after_drop);
}

#[tokio::test]
async fn a_one_shot_run_sums_its_passes_and_ends_on_the_first_error() {
    let (mut worker, _) = scripted(|n| {
        Step::Done(Pass {
            done: n,
            failed: 1,
            more: n < 3,
        })
    });
    let total = run_until_idle(&mut worker, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(
        total,
        Pass {
            done: 6,
            failed: 3,
            more: false
        }
    );
    let (mut failing, passes) = scripted(|n| match n {
        1 => Step::Done(Pass {
            more: true,
            ..Pass::default()
        }),
        _ => Step::Fail,
    });
    let error = run_until_idle(&mut failing, &CancellationToken::new()).await;
    assert_eq!(error.unwrap_err().to_string(), "pass 2 failed");
    assert_eq!(passes.load(Ordering::SeqCst), 2);
}

/// A worker told of its work by someone else (as the prefetcher is by an
/// image queued): a signal it waits on between passes.
struct Signalled {
    passes: Arc<AtomicU64>,
    arrived: Arc<tokio::sync::Notify>,
}

#[async_trait]
impl Worker for Signalled {
    fn name(&self) -> &'static str {
        "signalled"
    }

    async fn work(&mut self, _stop: &CancellationToken) -> anyhow::Result<Pass> {
        self.passes.fetch_add(1, Ordering::SeqCst);
        Ok(Pass::default())
    }

    async fn wait_for_work(&mut self) {
        self.arrived.notified().await
    }
}

#[tokio::test]
async fn a_worker_that_learns_of_work_itself_runs_when_it_arrives() {
    let passes = Arc::new(AtomicU64::new(0));
    let arrived = Arc::new(tokio::sync::Notify::new());
    let worker = Signalled {
        passes: passes.clone(),
        arrived: arrived.clone(),
    };
    let mut runner = Runner::new();
    runner.spawn(worker, LONG);
    wait_for(&passes, 1).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(passes.load(Ordering::SeqCst), 1);
    arrived.notify_one();
    wait_for(&passes, 2).await;
    arrived.notify_one();
    wait_for(&passes, 3).await;
    runner.shutdown(Duration::from_secs(5)).await;
}
