//! Upload leases and the storage quota, at the database level.

use crate::common;

use std::time::Duration;

use common::{at, bare_image, on_every_db};
use glint_db::{DataKind, Database, DbError, StorageQuota, UploadLease, Version};
use glint_model::time::{Timestamp, now};
use glint_model::{Image, ImageStatus, Location, Visibility};

fn lease(holder: &str, expires_at: Timestamp) -> UploadLease {
    UploadLease {
        holder: holder.into(),
        expires_at,
    }
}

fn in_a_while() -> Timestamp {
    now() + Duration::from_secs(600)
}

/// A queued raw image of `owner`, stored; with its version.
async fn queued(db: &Database, owner: &str, seconds: i64) -> (Image, Version) {
    let mut image = bare_image(Some(owner), Visibility::Private, at(seconds, 0));
    image.disk_format = Some("raw".into());
    image.container_format = Some("bare".into());
    db.create_image(&image).await.unwrap();
    let read = db.get_image_versioned(image.id).await.unwrap().unwrap();
    (image, read.version)
}

/// Moves `image` to `saving` under `holder`'s lease.
async fn begin(
    db: &Database,
    image: &mut Image,
    version: Version,
    holder: &UploadLease,
    quota: Option<&StorageQuota<'_>>,
) -> Result<Version, DbError> {
    let mut saving = image.clone();
    saving.status = ImageStatus::Saving;
    let started = db.begin_upload(&saving, version, holder, quota).await?;
    *image = saving;
    Ok(started.version)
}

fn activated(image: &Image, size: u64) -> Image {
    let mut active = image.clone();
    active.status = ImageStatus::Active;
    active.size = Some(size);
    active.locations = vec![Location::new(format!("file:///{}", image.id), "file")];
    active
}

#[tokio::test]
async fn an_upload_holds_its_lease_until_it_ends() {
    on_every_db(|db| async move {
        let (mut image, version) = queued(&db, "p", 0).await;
        let mine = lease("node/run-1", in_a_while());
        let version = begin(&db, &mut image, version, &mine, None).await.unwrap();
        assert_eq!(db.upload_lease(image.id).await.unwrap(), Some(mine.clone()));
        let later = in_a_while() + Duration::from_secs(60);
        assert!(
            db.renew_upload_lease(image.id, "node/run-1", later)
                .await
                .unwrap()
        );
        // Renewing leaves the image's version alone.
        let read = db.get_image_versioned(image.id).await.unwrap().unwrap();
        assert_eq!(read.version, version);
        assert!(
            !db.renew_upload_lease(image.id, "node/run-2", later)
                .await
                .unwrap()
        );
        // Only the holder ends it.
        let active = activated(&image, 10);
        let stolen = db.end_upload(&active, version, "node/run-2", None).await;
        assert!(matches!(stolen, Err(DbError::LeaseLost)), "{stolen:?}");
        db.end_upload(&active, version, "node/run-1", None)
            .await
            .unwrap();
        assert_eq!(db.upload_lease(image.id).await.unwrap(), None);
        assert_eq!(db.get_image(image.id).await.unwrap(), Some(active));
    })
    .await;
}

/// A lease whose holder is known to have died is interrupted at once,
/// however long it had to run; other holders' valid leases are not.
#[tokio::test]
async fn leases_of_dead_holders_are_interrupted_before_they_expire() {
    on_every_db(|db| async move {
        let (mut live, version) = queued(&db, "p", 0).await;
        begin(&db, &mut live, version, &lease("a/1", in_a_while()), None)
            .await
            .unwrap();
        let (mut orphan, version) = queued(&db, "p", 1).await;
        let version = begin(&db, &mut orphan, version, &lease("a/0", in_a_while()), None)
            .await
            .unwrap();
        let mut holders = db.upload_holders().await.unwrap();
        holders.sort();
        assert_eq!(holders, ["a/0", "a/1"]);
        assert!(db.interrupted_uploads(now(), &[]).await.unwrap().is_empty());
        let dead = ["a/0".to_owned()];
        let found = db.interrupted_uploads(now(), &dead).await.unwrap();
        let ids: Vec<_> = found.iter().map(|v| v.image.id).collect();
        assert_eq!(ids, [orphan.id]);
        let reclaimer = lease("a/2", in_a_while());
        let ignored = db.take_over_upload(orphan.id, version, &reclaimer, now(), &[]);
        assert!(!ignored.await.unwrap());
        let taken = db.take_over_upload(orphan.id, version, &reclaimer, now(), &dead);
        assert!(taken.await.unwrap());
        assert_eq!(db.upload_lease(orphan.id).await.unwrap(), Some(reclaimer));
    })
    .await;
}

#[tokio::test]
async fn only_expired_or_missing_leases_are_interrupted_and_taken_over() {
    on_every_db(|db| async move {
        let (mut live, version) = queued(&db, "p", 0).await;
        begin(&db, &mut live, version, &lease("a/1", in_a_while()), None)
            .await
            .unwrap();
        let (mut dead, version) = queued(&db, "p", 1).await;
        let expired = now() - Duration::from_secs(1);
        begin(&db, &mut dead, version, &lease("b/1", expired), None)
            .await
            .unwrap();
        // Left in saving by a glint without leases.
        let mut legacy = bare_image(Some("p"), Visibility::Private, at(2, 0));
        legacy.status = ImageStatus::Saving;
        db.create_image(&legacy).await.unwrap();

        let found = db.interrupted_uploads(now(), &[]).await.unwrap();
        let ids: Vec<_> = found.iter().map(|v| v.image.id).collect();
        assert_eq!(ids, [dead.id, legacy.id]);

        let reclaimer = lease("c/1", in_a_while());
        for stale in &found {
            let taken = db
                .take_over_upload(stale.image.id, stale.version, &reclaimer, now(), &[])
                .await
                .unwrap();
            assert!(taken);
            // A second reclaimer finds the lease valid again.
            let other = lease("d/1", in_a_while());
            let again = db
                .take_over_upload(stale.image.id, stale.version, &other, now(), &[])
                .await
                .unwrap();
            assert!(!again);
        }
        assert!(db.interrupted_uploads(now(), &[]).await.unwrap().is_empty());
        // The original holder of the expired lease can no longer renew it.
        assert!(
            !db.renew_upload_lease(dead.id, "b/1", in_a_while())
                .await
                .unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn a_lease_renewed_in_time_is_not_taken_over() {
    on_every_db(|db| async move {
        let (mut image, version) = queued(&db, "p", 0).await;
        let soon = now() + Duration::from_millis(1);
        begin(&db, &mut image, version, &lease("a/1", soon), None)
            .await
            .unwrap();
        let found = db
            .interrupted_uploads(soon + Duration::from_secs(1), &[])
            .await
            .unwrap();
        assert_eq!(found.len(), 1);
        // The holder renews between the reclaimer's look and its move.
        assert!(
            db.renew_upload_lease(image.id, "a/1", in_a_while())
                .await
                .unwrap()
        );
        let taken = db
            .take_over_upload(
                image.id,
                found[0].version,
                &lease("b/1", in_a_while()),
                now(),
                &[],
            )
            .await
            .unwrap();
        assert!(!taken);
        assert_eq!(
            db.upload_lease(image.id).await.unwrap().unwrap().holder,
            "a/1"
        );
    })
    .await;
}

#[tokio::test]
async fn a_changed_image_is_not_taken_over() {
    on_every_db(|db| async move {
        let (mut image, version) = queued(&db, "p", 0).await;
        let expired = now() - Duration::from_secs(1);
        let version = begin(&db, &mut image, version, &lease("a/1", expired), None)
            .await
            .unwrap();
        let mut renamed = image.clone();
        renamed.name = Some("renamed".into());
        db.save_image(&renamed, version).await.unwrap();
        let taken = db
            .take_over_upload(image.id, version, &lease("b/1", in_a_while()), now(), &[])
            .await
            .unwrap();
        assert!(!taken);
    })
    .await;
}

#[tokio::test]
async fn the_storage_quota_counts_stored_data_and_reservations() {
    on_every_db(|db| async move {
        let quota = |size| StorageQuota {
            project: Some("p"),
            kind: DataKind::Stored,
            limit: 1000,
            size,
        };
        // 600 bytes stored (one location) and 300 reserved.
        let (mut stored, version) = queued(&db, "p", 0).await;
        let holder = lease("a/1", in_a_while());
        let version = begin(&db, &mut stored, version, &holder, Some(&quota(Some(600))))
            .await
            .unwrap();
        db.end_upload(
            &activated(&stored, 600),
            version,
            "a/1",
            Some(&quota(Some(600))),
        )
        .await
        .unwrap();
        let (mut reserving, version) = queued(&db, "p", 1).await;
        begin(
            &db,
            &mut reserving,
            version,
            &holder,
            Some(&quota(Some(300))),
        )
        .await
        .unwrap();
        // Another project's data does not count.
        let (mut other, version) = queued(&db, "q", 2).await;
        let q = StorageQuota {
            project: Some("q"),
            kind: DataKind::Stored,
            limit: 1000,
            size: Some(900),
        };
        begin(&db, &mut other, version, &holder, Some(&q))
            .await
            .unwrap();

        let (mut next, version) = queued(&db, "p", 3).await;
        let refused = begin(&db, &mut next, version, &holder, Some(&quota(Some(101)))).await;
        assert!(
            matches!(
                refused,
                Err(DbError::StorageQuotaExceeded { remaining: 100 })
            ),
            "{refused:?}"
        );
        // Refused: nothing changed.
        assert_eq!(
            db.get_image(next.id).await.unwrap().unwrap().status,
            ImageStatus::Queued
        );
        let started = db
            .begin_upload(
                &Image {
                    status: ImageStatus::Saving,
                    ..next.clone()
                },
                version,
                &holder,
                Some(&quota(None)),
            )
            .await
            .unwrap();
        assert_eq!(started.remaining, Some(100));
        // The final check counts what the others hold now.
        let over = db
            .end_upload(
                &activated(&next, 101),
                started.version,
                "a/1",
                Some(&quota(Some(101))),
            )
            .await;
        assert!(
            matches!(over, Err(DbError::StorageQuotaExceeded { remaining: 100 })),
            "{over:?}"
        );
        db.end_upload(
            &activated(&next, 100),
            started.version,
            "a/1",
            Some(&quota(Some(100))),
        )
        .await
        .unwrap();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_final_checks_never_exceed_the_quota() {
    on_every_db(|db| async move {
        let quota = |size| StorageQuota {
            project: Some("p"),
            kind: DataKind::Stored,
            limit: 1000,
            size,
        };
        let holder = lease("a/1", in_a_while());
        let mut uploads = Vec::new();
        for i in 0..8 {
            let (mut image, version) = queued(&db, "p", i).await;
            let version = begin(&db, &mut image, version, &holder, Some(&quota(None)))
                .await
                .unwrap();
            uploads.push((image, version));
        }
        let tasks: Vec<_> = uploads
            .into_iter()
            .map(|(image, version)| {
                let db = db.clone();
                tokio::spawn(async move {
                    let q = StorageQuota {
                        project: Some("p"),
                        kind: DataKind::Stored,
                        limit: 1000,
                        size: Some(300),
                    };
                    db.end_upload(&activated(&image, 300), version, "a/1", Some(&q))
                        .await
                })
            })
            .collect();
        let mut activated_count = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => activated_count += 1,
                Err(DbError::StorageQuotaExceeded { .. }) => {}
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(activated_count, 3);
    })
    .await;
}
