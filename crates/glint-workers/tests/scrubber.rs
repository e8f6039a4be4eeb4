//! The scrubber against a real database (every dialect) and stores that
//! count, fail or hold their deletes.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{ProbeStore, active_image, on_every_db, pending_image, service, stored};
use glint_core::{CoreError, ImageService, ScrubOutcome};
use glint_db::{JobLease, SCRUB_JOB};
use glint_model::{ImageStatus, time};
use glint_workers::{
    CancellationToken, Pass, ScrubberConfig, ScrubberWorker, Worker, run_until_idle,
};

fn config(scrub_time: Duration) -> ScrubberConfig {
    ScrubberConfig {
        scrub_time,
        ..ScrubberConfig::default()
    }
}

async fn sweep(worker: &mut ScrubberWorker) -> Pass {
    run_until_idle(worker, &CancellationToken::new())
        .await
        .expect("a sweep")
}

#[tokio::test]
async fn pending_deletes_are_scrubbed_from_every_store_once_scrub_time_has_passed() {
    on_every_db(|url| async move {
        let (fast, slow) = (ProbeStore::new("fast"), ProbeStore::new("slow"));
        let images = service(&url, &[fast.clone(), slow.clone()]).await;
        let image = pending_image(&images, &[&fast, &slow]).await;
        let (in_fast, in_slow) = (&image.locations[0].url, &image.locations[1].url);
        // Not due yet: the data stays.
        let mut waiting = ScrubberWorker::new(images.clone(), config(Duration::from_secs(3600)));
        assert_eq!(sweep(&mut waiting).await, Pass::default());
        assert!(fast.holds(in_fast).await && slow.holds(in_slow).await);
        assert_eq!(waiting.stats().pending(), 1);
        assert_eq!(
            stored(&images, image.id).await.status,
            ImageStatus::PendingDelete
        );
        // Due: gone from both stores, the image deleted.
        let mut due = ScrubberWorker::new(images.clone(), config(Duration::ZERO));
        let stats = due.stats();
        let pass = sweep(&mut due).await;
        assert_eq!((pass.done, pass.failed), (1, 0));
        assert!(!fast.holds(in_fast).await && !slow.holds(in_slow).await);
        assert_eq!((fast.deletes_of(in_fast), slow.deletes_of(in_slow)), (1, 1));
        let after = stored(&images, image.id).await;
        assert_eq!(after.status, ImageStatus::Deleted);
        assert!(after.locations.iter().all(|l| l.status == "deleted"));
        assert_eq!(
            (stats.scrubbed(), stats.failed(), stats.pending()),
            (1, 0, 0)
        );
        assert_eq!(stats.sweeps(), 1);
        // Nothing is left for a later sweep.
        assert_eq!(sweep(&mut due).await, Pass::default());
        assert!(
            images
                .database()
                .job(SCRUB_JOB, &image.id.to_string())
                .await
                .unwrap()
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn data_already_gone_counts_as_scrubbed() {
    on_every_db(|url| async move {
        let store = ProbeStore::new("file");
        let images = service(&url, std::slice::from_ref(&store)).await;
        let image = pending_image(&images, &[&store]).await;
        glint_store::Store::delete(&*store, &image.locations[0].url)
            .await
            .unwrap();
        let outcome = images.scrub_pending_delete(image.id, Duration::from_secs(60));
        assert_eq!(outcome.await.unwrap(), ScrubOutcome::Scrubbed);
        assert_eq!(stored(&images, image.id).await.status, ImageStatus::Deleted);
    })
    .await;
}

#[tokio::test]
async fn a_failed_store_delete_leaves_the_image_pending_until_a_later_sweep_succeeds() {
    on_every_db(|url| async move {
        let (good, flaky) = (ProbeStore::new("good"), ProbeStore::new("flaky"));
        let images = service(&url, &[good.clone(), flaky.clone()]).await;
        let both = pending_image(&images, &[&good, &flaky]).await;
        let other = pending_image(&images, &[&good]).await;
        flaky.fail_next_deletes(1);
        let mut worker = ScrubberWorker::new(images.clone(), config(Duration::ZERO));
        let stats = worker.stats();
        let pass = sweep(&mut worker).await;
        assert_eq!((pass.done, pass.failed), (1, 1));
        assert_eq!(stored(&images, other.id).await.status, ImageStatus::Deleted);
        // The copy in the good store is gone and marked so; the other stays.
        let left = stored(&images, both.id).await;
        assert_eq!(left.status, ImageStatus::PendingDelete);
        assert_eq!(left.locations[0].status, "deleted");
        assert_eq!(left.locations[1].status, "active");
        assert!(flaky.holds(&both.locations[1].url).await);
        let job = images.database().job(SCRUB_JOB, &both.id.to_string()).await;
        let job = job.unwrap().expect("the failure is kept");
        assert_eq!(job.attempts, 1);
        assert!(job.last_error.unwrap().contains("the test store is down"));
        assert_eq!((stats.failed(), stats.pending()), (1, 1));
        // The next sweep tries again, and only what is left.
        let pass = sweep(&mut worker).await;
        assert_eq!((pass.done, pass.failed), (1, 0));
        assert_eq!(stored(&images, both.id).await.status, ImageStatus::Deleted);
        assert_eq!(good.deletes_of(&both.locations[0].url), 1);
        assert_eq!(flaky.deletes_of(&both.locations[1].url), 2);
        assert!(!flaky.holds(&both.locations[1].url).await);
        assert_eq!((stats.scrubbed(), stats.pending()), (2, 0));
    })
    .await;
}

#[tokio::test]
async fn a_location_no_store_serves_is_never_marked_scrubbed() {
    on_every_db(|url| async move {
        let (kept, gone) = (ProbeStore::new("kept"), ProbeStore::new("gone"));
        let everywhere = service(&url, &[kept.clone(), gone.clone()]).await;
        let image = pending_image(&everywhere, &[&gone]).await;
        // A node that lacks the store: the data must not be forgotten.
        let partial = service(&url, std::slice::from_ref(&kept)).await;
        let outcome = partial.scrub_pending_delete(image.id, Duration::from_secs(60));
        let ScrubOutcome::Failed { error } = outcome.await.unwrap() else {
            panic!("scrubbed without its store");
        };
        assert!(
            error.contains("no store of this node serves store gone"),
            "{error}"
        );
        assert_eq!(
            stored(&partial, image.id).await.locations[0].status,
            "active"
        );
        let outcome = everywhere.scrub_pending_delete(image.id, Duration::from_secs(60));
        assert_eq!(outcome.await.unwrap(), ScrubOutcome::Scrubbed);
        assert!(!gone.holds(&image.locations[0].url).await);
    })
    .await;
}

#[tokio::test]
async fn two_scrubbers_on_one_database_scrub_each_image_once() {
    on_every_db(|url| async move {
        let (a_store, b_store) = (ProbeStore::new("a"), ProbeStore::new("b"));
        let stores = [a_store.clone(), b_store.clone()];
        let first = service(&url, &stores).await;
        let second = service(&url, &stores).await;
        let mut pending = Vec::new();
        for n in 0..24 {
            let at: &[&Arc<ProbeStore>] = if n % 3 == 0 {
                &[&a_store, &b_store]
            } else {
                &[&a_store]
            };
            pending.push(pending_image(&first, at).await);
        }
        let racing = ScrubberConfig {
            pool_size: 4,
            batch: 5,
            ..config(Duration::ZERO)
        };
        let mut one = ScrubberWorker::new(first.clone(), racing.clone());
        let mut two = ScrubberWorker::new(second.clone(), racing);
        let (p1, p2) = tokio::join!(sweep(&mut one), sweep(&mut two));
        assert_eq!((p1.failed, p2.failed), (0, 0));
        assert_eq!(p1.done + p2.done, 24, "{p1:?} {p2:?}");
        for image in &pending {
            assert_eq!(stored(&first, image.id).await.status, ImageStatus::Deleted);
            for location in &image.locations {
                let store = if location.store_id() == Some("a") {
                    &a_store
                } else {
                    &b_store
                };
                assert_eq!(store.deletes_of(&location.url), 1, "{}", image.id);
            }
        }
        assert_eq!(a_store.object_count() + b_store.object_count(), 0);
    })
    .await;
}

#[tokio::test]
async fn scrub_pool_size_images_are_scrubbed_at_once() {
    on_every_db(|url| async move {
        let store = ProbeStore::new("file");
        let images = service(&url, std::slice::from_ref(&store)).await;
        for _ in 0..6 {
            pending_image(&images, &[&store]).await;
        }
        store.hold();
        let config = ScrubberConfig {
            pool_size: 3,
            ..config(Duration::ZERO)
        };
        let mut worker = ScrubberWorker::new(images.clone(), config);
        let running = tokio::spawn(async move { sweep(&mut worker).await });
        wait_for(|| store.in_flight() == 3).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(store.in_flight(), 3);
        store.release();
        let pass = running.await.unwrap();
        assert_eq!(pass.done, 6);
        assert_eq!(store.most_in_flight(), 3);
    })
    .await;
}

#[tokio::test]
async fn a_scrub_whose_holder_died_or_expired_is_taken_over_and_a_live_one_is_not() {
    on_every_db(|url| async move {
        let store = ProbeStore::new("file");
        let images = service(&url, std::slice::from_ref(&store)).await;
        let image = pending_image(&images, &[&store]).await;
        let db = images.database();
        let now = time::now();
        let elsewhere = JobLease {
            holder: "other-node/run/123.456@boot:ns".into(),
            expires_at: now + Duration::from_secs(600),
        };
        assert!(
            db.claim_scrub(image.id, &elsewhere, now, &[])
                .await
                .unwrap()
                .is_some()
        );
        let outcome = images.scrub_pending_delete(image.id, Duration::from_secs(60));
        assert_eq!(outcome.await.unwrap(), ScrubOutcome::NotClaimed);
        assert!(store.holds(&image.locations[0].url).await);
        // Its lease runs out (the other node died): taken over.
        let key = image.id.to_string();
        db.renew_job(SCRUB_JOB, &key, &elsewhere.holder, now)
            .await
            .unwrap();
        let outcome = images.scrub_pending_delete(image.id, Duration::from_secs(60));
        assert_eq!(outcome.await.unwrap(), ScrubOutcome::Scrubbed);
        // A holder of this node whose process has ended: taken over at once.
        let second = pending_image(&images, &[&store]).await;
        let ended = std::process::Command::new("true").spawn().unwrap();
        let dead = dead_holder(ended);
        let lease = JobLease {
            holder: dead,
            expires_at: now + Duration::from_secs(600),
        };
        assert!(
            db.claim_scrub(second.id, &lease, now, &[])
                .await
                .unwrap()
                .is_some()
        );
        let outcome = images.scrub_pending_delete(second.id, Duration::from_secs(60));
        assert_eq!(outcome.await.unwrap(), ScrubOutcome::Scrubbed);
    })
    .await;
}

/// A lease holder naming a process of this node that has ended, in the
/// form glint writes (`node/run/pid.start@boot:pid-namespace`).
fn dead_holder(mut child: std::process::Child) -> String {
    let pid = child.id();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let start: u64 = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    child.wait().unwrap();
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let ns = ns.to_str().unwrap();
    let ns = &ns["pid:[".len()..ns.len() - 1];
    format!("test-node/run/{pid}.{start}@{}:{ns}", boot.trim())
}

#[tokio::test]
async fn a_lease_is_renewed_while_the_stores_work() {
    on_every_db(|url| async move {
        let store = ProbeStore::new("file");
        let images = service(&url, std::slice::from_ref(&store)).await;
        let other = service(&url, std::slice::from_ref(&store)).await;
        let image = pending_image(&images, &[&store]).await;
        store.hold();
        // Long enough that a renewal delayed by a loaded machine (two
        // cores, every database, and a release build beside the tests:
        // 2 s once lost the lease on MariaDB) still lands in time.
        let lease_time = Duration::from_secs(4);
        let scrubbing = {
            let images = images.clone();
            tokio::spawn(async move { images.scrub_pending_delete(image.id, lease_time).await })
        };
        wait_for(|| store.in_flight() == 1).await;
        // Well past the first lease time: renewed, so not another's.
        tokio::time::sleep(lease_time * 2).await;
        let late = other
            .scrub_pending_delete(image.id, lease_time)
            .await
            .unwrap();
        assert_eq!(late, ScrubOutcome::NotClaimed);
        store.release();
        assert_eq!(scrubbing.await.unwrap().unwrap(), ScrubOutcome::Scrubbed);
        assert_eq!(store.deletes_of(&image.locations[0].url), 1);
    })
    .await;
}

#[tokio::test]
async fn a_restore_before_the_scrub_wins_and_one_after_it_began_is_refused() {
    on_every_db(|url| async move {
        let store = ProbeStore::new("file");
        let images = service(&url, std::slice::from_ref(&store)).await;
        // Restored first: the scrubber finds nothing to do.
        let saved = pending_image(&images, &[&store]).await;
        let back = images.restore_pending_delete(saved.id).await.unwrap();
        assert_eq!(back.status, ImageStatus::Active);
        assert_eq!(back.locations[0].status, "active");
        let mut worker = ScrubberWorker::new(images.clone(), config(Duration::ZERO));
        assert_eq!(sweep(&mut worker).await, Pass::default());
        let live = images
            .database()
            .get_image(saved.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(live.status, ImageStatus::Active);
        assert!(store.holds(&saved.locations[0].url).await);
        // A scrub holding it: the restore is refused, the scrub finishes.
        let doomed = pending_image(&images, &[&store]).await;
        store.hold();
        let running = tokio::spawn(async move { sweep(&mut worker).await });
        wait_for(|| store.in_flight() == 1).await;
        let refused = images.restore_pending_delete(doomed.id).await;
        assert!(
            matches!(refused, Err(CoreError::ScrubStarted { .. })),
            "{refused:?}"
        );
        store.release();
        assert_eq!(running.await.unwrap().done, 1);
        assert_eq!(
            stored(&images, doomed.id).await.status,
            ImageStatus::Deleted
        );
        // Neither gone nor pending: refused with what the image is.
        let again = images.restore_pending_delete(doomed.id).await;
        assert!(
            matches!(
                again,
                Err(CoreError::NotPendingDelete {
                    status: ImageStatus::Deleted,
                    ..
                })
            ),
            "{again:?}"
        );
        let active = active_image(&images, &[&store]).await;
        let refused = images.restore_pending_delete(active.id).await;
        assert!(
            matches!(
                refused,
                Err(CoreError::NotPendingDelete {
                    status: ImageStatus::Active,
                    ..
                })
            ),
            "{refused:?}"
        );
        let unknown = images
            .restore_pending_delete(glint_model::ImageId::new_random())
            .await;
        assert!(
            matches!(unknown, Err(CoreError::ImageNotFound { .. })),
            "{unknown:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_restore_after_a_failed_scrub_is_refused_and_the_next_sweep_finishes() {
    on_every_db(|url| async move {
        let store = ProbeStore::new("file");
        let images: ImageService = service(&url, std::slice::from_ref(&store)).await;
        let image = pending_image(&images, &[&store]).await;
        store.fail_next_deletes(1);
        let outcome = images.scrub_pending_delete(image.id, Duration::from_secs(60));
        assert!(matches!(
            outcome.await.unwrap(),
            ScrubOutcome::Failed { .. }
        ));
        let refused = images.restore_pending_delete(image.id).await;
        assert!(
            matches!(refused, Err(CoreError::ScrubStarted { .. })),
            "{refused:?}"
        );
        let mut worker = ScrubberWorker::new(images.clone(), config(Duration::ZERO));
        assert_eq!(sweep(&mut worker).await.done, 1);
    })
    .await;
}

#[tokio::test]
async fn a_stopped_scrubber_starts_no_new_image() {
    on_every_db(|url| async move {
        let store = ProbeStore::new("file");
        let images = service(&url, std::slice::from_ref(&store)).await;
        for _ in 0..3 {
            pending_image(&images, &[&store]).await;
        }
        store.hold();
        let stop = CancellationToken::new();
        let mut worker = ScrubberWorker::new(images.clone(), config(Duration::ZERO));
        let running = {
            let stop = stop.clone();
            tokio::spawn(async move { worker.work(&stop).await.unwrap() })
        };
        wait_for(|| store.in_flight() == 1).await;
        stop.cancel();
        store.release();
        let pass = running.await.unwrap();
        assert_eq!((pass.done, pass.more), (1, false));
        assert_eq!(images.pending_delete_count().await.unwrap(), 2);
    })
    .await;
}

/// Polls `condition` every 10 ms for up to 10 seconds.
async fn wait_for(condition: impl Fn() -> bool) {
    for _ in 0..1000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition never met");
}
