//! Pending deletes and their scrub jobs: claims with leases, progress and
//! the end of a scrub, restores, on every dialect.

use crate::common;

use std::sync::Arc;

use common::listing::admin;
use common::{at, full_image, on_every_db};
use glint_db::{Database, DbError, JobLease, RestoreOutcome, SCRUB_JOB, ScrubCursor, Versioned};
use glint_model::{Image, ImageId, ImageStatus, Member, MemberStatus};
use tokio::sync::Barrier;

/// An active image with two locations, deleted with delayed delete at
/// `deleted` seconds: it waits in `pending_delete`.
async fn pending(db: &Database, deleted: i64) -> Image {
    let mut image = full_image("p1");
    image.protected = false;
    for loc in &mut image.locations {
        loc.status = "active".into();
    }
    db.create_image(&image).await.unwrap();
    let read = db.get_image_versioned(image.id).await.unwrap().unwrap();
    let pending = ImageStatus::PendingDelete;
    db.delete_image(image.id, read.version, pending, at(deleted, 0))
        .await
        .unwrap();
    stored(db, image.id).await.image
}

async fn stored(db: &Database, id: ImageId) -> Versioned {
    db.get_image_any_versioned(id)
        .await
        .unwrap()
        .expect("a row")
}

fn lease(holder: &str, until: i64) -> JobLease {
    JobLease {
        holder: holder.into(),
        expires_at: at(until, 0),
    }
}

/// Claims the scrub of `id` for `holder` until `until` seconds.
async fn claim(
    db: &Database,
    id: ImageId,
    holder: &str,
    until: i64,
    now: glint_model::time::Timestamp,
    dead: &[String],
) -> Result<Option<Versioned>, DbError> {
    db.claim_scrub(id, &lease(holder, until), now, dead).await
}

fn ids(found: &[Versioned]) -> Vec<ImageId> {
    found.iter().map(|v| v.image.id).collect()
}

/// The image as a scrub ends it: every location deleted, status deleted.
fn scrubbed(mut image: Image) -> Image {
    for loc in &mut image.locations {
        loc.status = "deleted".into();
    }
    image.status = ImageStatus::Deleted;
    image
}

#[tokio::test]
async fn pending_deletes_are_counted_and_due_ones_listed_oldest_first() {
    on_every_db(|db| async move {
        let late = pending(&db, 300).await;
        let early = pending(&db, 100).await;
        let live = full_image("p1");
        db.create_image(&live).await.unwrap();
        assert_eq!(db.count_pending_deletes().await.unwrap(), 2);
        let now = at(1000, 0);
        let due = db.scrub_candidates(at(300, 0), None, now, &[], 10);
        assert_eq!(ids(&due.await.unwrap()), [early.id, late.id]);
        // Deleted after the cutoff: not due yet.
        let due = db.scrub_candidates(at(299, 0), None, now, &[], 10);
        assert_eq!(ids(&due.await.unwrap()), [early.id]);
        // Pages follow the cursor.
        let first = db.scrub_candidates(at(300, 0), None, now, &[], 1);
        let first = first.await.unwrap();
        assert_eq!(ids(&first), [early.id]);
        let cursor = ScrubCursor {
            deleted_at: first[0].image.deleted_at.unwrap(),
            id: early.id,
        };
        let next = db.scrub_candidates(at(300, 0), Some(cursor), now, &[], 1);
        assert_eq!(ids(&next.await.unwrap()), [late.id]);
    })
    .await;
}

#[tokio::test]
async fn a_claimed_scrub_is_no_candidate_until_its_lease_expires_or_its_holder_dies() {
    on_every_db(|db| async move {
        let image = pending(&db, 10).await;
        let claimed = claim(&db, image.id, "a", 100, at(20, 0), &[]);
        let claimed = claimed.await.unwrap().expect("claimed");
        assert_eq!(claimed.image, image);
        let job = db.job(SCRUB_JOB, &image.id.to_string()).await.unwrap();
        assert_eq!(job.unwrap().holder, "a");
        // Held by a live holder: another may neither list nor claim it.
        let due = db.scrub_candidates(at(10, 0), None, at(50, 0), &[], 10);
        assert!(due.await.unwrap().is_empty());
        let other = claim(&db, image.id, "b", 200, at(50, 0), &[]);
        assert_eq!(other.await.unwrap(), None);
        // Its holder is known to have died: taken over at once.
        let dead = vec!["a".to_owned()];
        let due = db.scrub_candidates(at(10, 0), None, at(50, 0), &dead, 10);
        assert_eq!(ids(&due.await.unwrap()), [image.id]);
        let taken = claim(&db, image.id, "b", 200, at(50, 0), &dead);
        assert!(taken.await.unwrap().is_some());
        // Expired: taken over by anyone.
        let due = db.scrub_candidates(at(10, 0), None, at(201, 0), &[], 10);
        assert_eq!(ids(&due.await.unwrap()), [image.id]);
        let taken = claim(&db, image.id, "c", 400, at(201, 0), &[]);
        assert!(taken.await.unwrap().is_some());
        let job = db.job(SCRUB_JOB, &image.id.to_string()).await.unwrap();
        assert_eq!(job.unwrap().holder, "c");
    })
    .await;
}

#[tokio::test]
async fn only_pending_deletes_can_be_claimed() {
    on_every_db(|db| async move {
        let live = full_image("p1");
        db.create_image(&live).await.unwrap();
        let claimed = claim(&db, live.id, "a", 100, at(20, 0), &[]);
        assert_eq!(claimed.await.unwrap(), None);
        let unknown = claim(&db, ImageId::new_random(), "a", 100, at(20, 0), &[]);
        assert_eq!(unknown.await.unwrap(), None);
        assert_eq!(db.job(SCRUB_JOB, &live.id.to_string()).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn a_scrub_saves_progress_and_ends_only_while_its_holder_holds_the_lease() {
    on_every_db(|db| async move {
        let image = pending(&db, 10).await;
        let claimed = claim(&db, image.id, "a", 100, at(20, 0), &[]);
        let Versioned { mut image, version } = claimed.await.unwrap().unwrap();
        let claimed_at = version;
        image.locations[0].status = "deleted".into();
        let lost = db.save_scrub_progress(&image, version, "b").await;
        assert!(matches!(lost, Err(DbError::LeaseLost)), "{lost:?}");
        let version = db.save_scrub_progress(&image, version, "a").await.unwrap();
        let now = stored(&db, image.id).await;
        assert_eq!(now.image.locations[0].status, "deleted");
        assert_eq!(now.image.locations[1].status, "active");
        assert_eq!(now.version, version);
        // Still waiting for the scrubber, still invisible.
        assert_eq!(db.get_image(image.id).await.unwrap(), None);
        let done = scrubbed(image.clone());
        let stale = db.finish_scrub(&done, claimed_at, "a").await;
        assert!(matches!(stale, Err(DbError::Conflict)), "{stale:?}");
        let lost = db.finish_scrub(&done, version, "b").await;
        assert!(matches!(lost, Err(DbError::LeaseLost)), "{lost:?}");
        db.finish_scrub(&done, version, "a").await.unwrap();
        let after = stored(&db, image.id).await;
        assert_eq!(after.image.status, ImageStatus::Deleted);
        assert!(after.image.locations.iter().all(|l| l.status == "deleted"));
        assert_eq!(
            db.job(SCRUB_JOB, &image.id.to_string()).await.unwrap(),
            None
        );
        assert_eq!(db.count_pending_deletes().await.unwrap(), 0);
        let due = db.scrub_candidates(at(1000, 0), None, at(1000, 0), &[], 10);
        assert!(due.await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn a_failed_scrub_counts_its_attempts_and_waits_for_the_next_run() {
    on_every_db(|db| async move {
        let image = pending(&db, 10).await;
        let key = image.id.to_string();
        claim(&db, image.id, "a", 100, at(20, 0), &[])
            .await
            .unwrap()
            .unwrap();
        assert!(
            !db.fail_job(SCRUB_JOB, &key, "b", "x", at(30, 0))
                .await
                .unwrap()
        );
        let long = "store unavailable ".repeat(50);
        assert!(
            db.fail_job(SCRUB_JOB, &key, "a", &long, at(30, 0))
                .await
                .unwrap()
        );
        let job = db.job(SCRUB_JOB, &key).await.unwrap().unwrap();
        assert_eq!(job.attempts, 1);
        let error = job.last_error.unwrap();
        assert!(error.starts_with("store unavailable"), "{error}");
        assert!(error.len() < 400, "{error}");
        // Free for the next run at once, which may fail again.
        let due = db.scrub_candidates(at(10, 0), None, at(31, 0), &[], 10);
        assert_eq!(ids(&due.await.unwrap()), [image.id]);
        let again = claim(&db, image.id, "b", 200, at(31, 0), &[]);
        assert!(again.await.unwrap().is_some());
        assert!(
            db.fail_job(SCRUB_JOB, &key, "b", "again", at(40, 0))
                .await
                .unwrap()
        );
        let job = db.job(SCRUB_JOB, &key).await.unwrap().unwrap();
        assert_eq!(
            (job.attempts, job.last_error.as_deref()),
            (2, Some("again"))
        );
    })
    .await;
}

fn restored(mut image: Image) -> Image {
    image.status = ImageStatus::Active;
    image.deleted_at = None;
    image
}

#[tokio::test]
async fn a_restore_brings_back_the_image_and_the_members_its_delete_removed() {
    on_every_db(|db| async move {
        let mut image = full_image("p1");
        image.protected = false;
        image.os_hidden = false;
        image.visibility = glint_model::Visibility::Shared;
        db.create_image(&image).await.unwrap();
        let member = |name: &str, s| Member {
            image_id: image.id,
            member_id: name.into(),
            status: MemberStatus::Accepted,
            created_at: at(s, 0),
            updated_at: at(s, 0),
        };
        db.add_member(&member("kept", 1), None).await.unwrap();
        db.add_member(&member("removed", 2), None).await.unwrap();
        db.delete_member(image.id, "removed").await.unwrap();
        let read = db.get_image_versioned(image.id).await.unwrap().unwrap();
        let pd = ImageStatus::PendingDelete;
        db.delete_image(image.id, read.version, pd, at(50, 0))
            .await
            .unwrap();
        assert_eq!(db.count_members(image.id).await.unwrap(), 0);
        // Its tags leave the walk along a tag's index (every filter
        // counting as matching many, so the tag leads the list)...
        glint_db::testing::set_few_rows(&db, 1);
        let pairs = [("tag", image.tags[0].as_str())];
        let admin = admin(None);
        let by_tag = || common::listing::names(&db, &pairs, &admin);
        assert!(by_tag().await.is_empty());
        // (By size too, along the copies of its sort keys.)
        let by_size = [pairs[0], ("sort_key", "size")];
        let by_tag_size = || common::listing::names(&db, &by_size, &admin);
        assert!(by_tag_size().await.is_empty());
        let stored = stored(&db, image.id).await;
        let deleted_at = stored.image.deleted_at;
        let back = restored(stored.image.clone());
        let stale = db.restore_pending_delete(&back, read.version, deleted_at, at(60, 0));
        assert!(matches!(stale.await, Err(DbError::Conflict)));
        let outcome = db.restore_pending_delete(&back, stored.version, deleted_at, at(60, 0));
        assert_eq!(outcome.await.unwrap(), RestoreOutcome::Restored);
        let live = db.get_image(image.id).await.unwrap().expect("live again");
        assert_eq!(live, back);
        // ... and come back with it.
        assert_eq!(by_tag().await.len(), 1);
        assert_eq!(by_tag_size().await.len(), 1);
        assert_eq!(db.count_pending_deletes().await.unwrap(), 0);
        let members = db.list_members(image.id).await.unwrap();
        let names: Vec<&str> = members.iter().map(|m| m.member_id.as_str()).collect();
        assert_eq!(names, ["kept"]);
        // Restored, it is no pending delete any more: no scrubber claims it.
        let claimed = claim(&db, image.id, "a", 100, at(70, 0), &[]);
        assert_eq!(claimed.await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn no_restore_once_a_scrub_began_even_if_it_failed_or_expired() {
    on_every_db(|db| async move {
        let image = pending(&db, 10).await;
        claim(&db, image.id, "a", 100, at(20, 0), &[])
            .await
            .unwrap()
            .unwrap();
        let key = image.id.to_string();
        db.fail_job(SCRUB_JOB, &key, "a", "store down", at(30, 0))
            .await
            .unwrap();
        let current = stored(&db, image.id).await;
        let back = restored(current.image.clone());
        let outcome = db.restore_pending_delete(&back, current.version, None, at(500, 0));
        assert_eq!(outcome.await.unwrap(), RestoreOutcome::ScrubStarted);
        assert_eq!(db.get_image(image.id).await.unwrap(), None);
        assert_eq!(stored(&db, image.id).await, current);
    })
    .await;
}

#[tokio::test]
async fn of_concurrent_claims_and_a_restore_exactly_one_wins() {
    on_every_db(|db| async move {
        for round in 0..4 {
            let image = pending(&db, 10).await;
            let current = stored(&db, image.id).await;
            let racers = 6;
            let barrier = Arc::new(Barrier::new(racers + 1));
            let mut claims = Vec::new();
            for n in 0..racers {
                let (db, barrier) = (db.clone(), barrier.clone());
                claims.push(tokio::spawn(async move {
                    barrier.wait().await;
                    let holder = format!("scrubber-{n}");
                    claim(&db, image.id, &holder, 100, at(20, 0), &[])
                        .await
                        .unwrap()
                        .is_some()
                }));
            }
            let restore = {
                let (db, barrier) = (db.clone(), barrier.clone());
                let back = restored(current.image.clone());
                let version = current.version;
                tokio::spawn(async move {
                    barrier.wait().await;
                    let outcome = db.restore_pending_delete(&back, version, None, at(20, 0));
                    outcome.await.unwrap() == RestoreOutcome::Restored
                })
            };
            let mut winners = 0;
            for claim in claims {
                winners += usize::from(claim.await.unwrap());
            }
            let restored = restore.await.unwrap();
            winners += usize::from(restored);
            assert_eq!(winners, 1, "round {round}");
            let job = db.job(SCRUB_JOB, &image.id.to_string()).await.unwrap();
            assert_eq!(job.is_some(), !restored, "round {round}");
            let live = db.get_image(image.id).await.unwrap();
            assert_eq!(live.is_some(), restored, "round {round}");
        }
    })
    .await;
}
