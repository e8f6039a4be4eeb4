use crate::common;

use common::{at, bare_image, full_image, on_every_db};
use glint_db::{Database, DbError, Dialect, Version, Versioned};
use glint_model::{Image, ImageId, ImageStatus, Visibility};

#[tokio::test]
async fn create_then_get_round_trips_every_field() {
    on_every_db(|db| async move {
        let image = full_image("p1");
        db.create_image(&image).await.unwrap();
        let got = db.get_image(image.id).await.unwrap().expect("stored image");
        assert_eq!(got, image);
        assert_eq!(got.tags, vec!["zeta", "alpha", "Mixed Case"]);
        assert_eq!(got.locations[1].status, "pending_delete");
        assert_eq!(got.locations[0].store_id(), Some("fast"));
    })
    .await;
}

#[tokio::test]
async fn create_then_get_round_trips_an_image_with_only_nulls() {
    on_every_db(|db| async move {
        let image = bare_image(None, Visibility::Private, at(0, 1));
        db.create_image(&image).await.unwrap();
        assert_eq!(db.get_image(image.id).await.unwrap(), Some(image.clone()));
        assert_eq!(db.get_image_any(image.id).await.unwrap(), Some(image));
    })
    .await;
}

#[tokio::test]
async fn get_of_an_unknown_id_is_none() {
    on_every_db(|db| async move {
        assert_eq!(db.get_image(ImageId::new_random()).await.unwrap(), None);
        assert_eq!(db.get_image_any(ImageId::new_random()).await.unwrap(), None);
    })
    .await;
}

#[tokio::test]
async fn creating_an_existing_id_is_a_duplicate() {
    on_every_db(|db| async move {
        let image = full_image("p1");
        db.create_image(&image).await.unwrap();
        let mut again = bare_image(Some("p2"), Visibility::Shared, at(1, 0));
        again.id = image.id;
        assert!(matches!(
            db.create_image(&again).await,
            Err(DbError::Duplicate)
        ));
        assert_eq!(db.get_image(image.id).await.unwrap(), Some(image));
    })
    .await;
}

#[tokio::test]
async fn tags_differing_only_in_case_are_distinct() {
    on_every_db(|db| async move {
        let mut image = bare_image(Some("p"), Visibility::Shared, at(0, 0));
        image.tags = vec!["Tag".into(), "tag".into(), "TAG".into()];
        db.create_image(&image).await.unwrap();
        let got = db.get_image(image.id).await.unwrap().unwrap();
        assert_eq!(got.tags, image.tags);
    })
    .await;
}

/// The version of the stored image, for a save.
async fn version(db: &Database, id: ImageId) -> Version {
    let stored = db.get_image_versioned(id).await.unwrap();
    stored.expect("a live image").version
}

#[tokio::test]
async fn save_replaces_every_field_when_the_version_matches() {
    on_every_db(|db| async move {
        let original = full_image("p1");
        db.create_image(&original).await.unwrap();
        let first = version(&db, original.id).await;
        let mut changed = bare_image(Some("p2"), Visibility::Community, at(99, 7));
        changed.id = original.id;
        changed.status = ImageStatus::Deactivated;
        changed.name = Some("renamed".into());
        changed.tags = vec!["b".into(), "a".into()];
        changed.properties.insert("only".into(), "one".into());
        changed.locations = vec![glint_model::Location::new("file:///x", "other")];
        let second = db.save_image(&changed, first).await.unwrap();
        assert!(second > first);
        assert_eq!(
            db.get_image_versioned(original.id).await.unwrap(),
            Some(Versioned {
                image: changed.clone(),
                version: second
            })
        );

        changed.tags.clear();
        changed.properties.clear();
        changed.locations.clear();
        let third = db.save_image(&changed, second).await.unwrap();
        assert_eq!(version(&db, original.id).await, third);
        assert_eq!(db.get_image(original.id).await.unwrap(), Some(changed));
    })
    .await;
}

#[tokio::test]
async fn save_based_on_a_stale_read_is_a_conflict_and_changes_nothing() {
    on_every_db(|db| async move {
        let image = full_image("p1");
        db.create_image(&image).await.unwrap();
        let read = version(&db, image.id).await;
        let mut first = image.clone();
        first.properties.insert("first".into(), "kept".into());
        db.save_image(&first, read).await.unwrap();
        // A second writer that read the same version loses, whatever it
        // changed.
        let mut second = image.clone();
        second.name = Some("lost update".into());
        let result = db.save_image(&second, read).await;
        assert!(matches!(result, Err(DbError::Conflict)), "{result:?}");
        assert_eq!(db.get_image(image.id).await.unwrap(), Some(first));
    })
    .await;
}

#[tokio::test]
async fn status_moves_and_deletes_move_the_version_on() {
    on_every_db(|db| async move {
        let image = bare_image(Some("p"), Visibility::Shared, at(0, 0));
        db.create_image(&image).await.unwrap();
        let read = version(&db, image.id).await;
        db.set_status(image.id, ImageStatus::Queued, ImageStatus::Saving, at(1, 0))
            .await
            .unwrap();
        let moved = version(&db, image.id).await;
        assert!(moved > read);
        let result = db.save_image(&image, read).await;
        assert!(matches!(result, Err(DbError::Conflict)), "{result:?}");
        let result = db
            .delete_image(image.id, read, ImageStatus::Deleted, at(2, 0))
            .await;
        assert!(matches!(result, Err(DbError::Conflict)), "{result:?}");
        assert!(db.get_image(image.id).await.unwrap().is_some());
    })
    .await;
}

#[tokio::test]
async fn save_of_a_missing_or_deleted_image_is_not_found() {
    on_every_db(|db| async move {
        let missing = full_image("p1");
        let initial = {
            db.create_image(&full_image("p9")).await.unwrap();
            let all = db.images_with_status(ImageStatus::Active).await.unwrap();
            all[0].version
        };
        let result = db.save_image(&missing, initial).await;
        assert!(matches!(result, Err(DbError::NotFound)), "{result:?}");

        db.create_image(&missing).await.unwrap();
        let now = at(50, 0);
        let read = version(&db, missing.id).await;
        db.delete_image(missing.id, read, ImageStatus::Deleted, now)
            .await
            .unwrap();
        let mut gone = missing.clone();
        gone.status = ImageStatus::Deleted;
        let result = db.save_image(&gone, read).await;
        assert!(matches!(result, Err(DbError::NotFound)), "{result:?}");
    })
    .await;
}

#[tokio::test]
async fn set_status_moves_only_from_the_expected_status() {
    on_every_db(|db| async move {
        let image = bare_image(Some("p"), Visibility::Shared, at(0, 0));
        db.create_image(&image).await.unwrap();
        let now = at(5, 5);
        assert!(
            !db.set_status(image.id, ImageStatus::Saving, ImageStatus::Active, now)
                .await
                .unwrap()
        );
        assert!(
            db.set_status(image.id, ImageStatus::Queued, ImageStatus::Saving, now)
                .await
                .unwrap()
        );
        assert!(
            !db.set_status(image.id, ImageStatus::Queued, ImageStatus::Saving, now)
                .await
                .unwrap()
        );
        let got = db.get_image(image.id).await.unwrap().unwrap();
        assert_eq!(got.status, ImageStatus::Saving);
        assert_eq!(got.updated_at, now);
        assert_eq!(got.created_at, image.created_at);
        let unknown = ImageId::new_random();
        assert!(
            !db.set_status(unknown, ImageStatus::Queued, ImageStatus::Saving, now)
                .await
                .unwrap()
        );
    })
    .await;
}

#[tokio::test]
async fn concurrent_set_status_lets_exactly_one_caller_win() {
    on_every_db(|db| async move {
        let image = bare_image(Some("p"), Visibility::Shared, at(0, 0));
        db.create_image(&image).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.set_status(image.id, ImageStatus::Queued, ImageStatus::Saving, at(i, 0))
                    .await
                    .unwrap()
            }));
        }
        let mut winners = 0;
        for task in tasks {
            winners += usize::from(task.await.unwrap());
        }
        assert_eq!(winners, 1);
    })
    .await;
}

#[tokio::test]
async fn soft_delete_hides_the_image_but_keeps_the_id_taken() {
    on_every_db(|db| async move {
        let image = full_image("p1");
        db.create_image(&image).await.unwrap();
        let now = at(100, 0);
        let read = version(&db, image.id).await;
        db.delete_image(image.id, read, ImageStatus::Deleted, now)
            .await
            .unwrap();
        assert_eq!(db.get_image(image.id).await.unwrap(), None);
        let kept = db.get_image_any(image.id).await.unwrap().expect("row kept");
        assert_eq!(kept.status, ImageStatus::Deleted);
        assert_eq!(kept.deleted_at, Some(now));
        assert_eq!(kept.tags, image.tags);
        // A second delete, based on the same read, finds it changed.
        let again = db
            .delete_image(image.id, read, ImageStatus::Deleted, now)
            .await;
        assert!(matches!(again, Err(DbError::Conflict)), "{again:?}");
        let mut reuse = bare_image(Some("p1"), Visibility::Shared, at(101, 0));
        reuse.id = image.id;
        assert!(matches!(
            db.create_image(&reuse).await,
            Err(DbError::Duplicate)
        ));
    })
    .await;
}

#[tokio::test]
async fn delete_of_a_missing_image_is_not_found() {
    on_every_db(|db| async move {
        let image = bare_image(Some("p"), Visibility::Shared, at(0, 0));
        db.create_image(&image).await.unwrap();
        let read = version(&db, image.id).await;
        let result = db
            .delete_image(ImageId::new_random(), read, ImageStatus::Deleted, at(1, 0))
            .await;
        assert!(matches!(result, Err(DbError::NotFound)), "{result:?}");
        assert_eq!(db.get_image(image.id).await.unwrap(), Some(image));
    })
    .await;
}

#[tokio::test]
async fn delayed_delete_leaves_pending_delete_images_for_the_scrubber() {
    on_every_db(|db| async move {
        let image = full_image("p1");
        db.create_image(&image).await.unwrap();
        let now = at(200, 0);
        let pending = ImageStatus::PendingDelete;
        let read = version(&db, image.id).await;
        db.delete_image(image.id, read, pending, now).await.unwrap();
        assert_eq!(db.get_image(image.id).await.unwrap(), None);
        let waiting = db.images_with_status(pending).await.unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].image.locations, image.locations);
        // The scrubber then finishes the deletion.
        db.delete_image(
            image.id,
            waiting[0].version,
            ImageStatus::Deleted,
            at(300, 0),
        )
        .await
        .unwrap();
        assert!(db.images_with_status(pending).await.unwrap().is_empty());
    })
    .await;
}

#[tokio::test]
async fn images_with_status_returns_live_images_oldest_first() {
    on_every_db(|db| async move {
        let mut saving = Vec::new();
        for i in [3, 1, 2] {
            let mut image = bare_image(Some("p"), Visibility::Shared, at(i, 0));
            image.status = ImageStatus::Saving;
            image.tags = vec![format!("t{i}")];
            db.create_image(&image).await.unwrap();
            saving.push(image);
        }
        db.create_image(&bare_image(Some("p"), Visibility::Shared, at(0, 0)))
            .await
            .unwrap();
        let gone = saving.remove(0);
        let read = version(&db, gone.id).await;
        db.delete_image(gone.id, read, ImageStatus::Deleted, at(9, 0))
            .await
            .unwrap();
        saving.sort_by_key(|i| i.created_at);
        let found = db.images_with_status(ImageStatus::Saving).await.unwrap();
        let found: Vec<Image> = found.into_iter().map(|v| v.image).collect();
        assert_eq!(found, saving);
    })
    .await;
}

#[tokio::test]
async fn owner_counts_ignore_deleted_images() {
    on_every_db(|db| async move {
        assert_eq!(db.count_images_owned("p").await.unwrap(), 0);
        let mut ids = Vec::new();
        for (i, size) in [Some(10_000_000_000_u64), Some(5), None]
            .into_iter()
            .enumerate()
        {
            let mut image = bare_image(Some("p"), Visibility::Private, at(i as i64, 0));
            image.size = size;
            db.create_image(&image).await.unwrap();
            ids.push(image.id);
        }
        db.create_image(&full_image("other")).await.unwrap();
        assert_eq!(db.count_images_owned("p").await.unwrap(), 3);
        let read = version(&db, ids[1]).await;
        db.delete_image(ids[1], read, ImageStatus::Deleted, at(9, 0))
            .await
            .unwrap();
        assert_eq!(db.count_images_owned("p").await.unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn ping_answers() {
    on_every_db(|db| async move { db.ping().await.unwrap() }).await;
}

#[tokio::test]
async fn a_bounded_ping_answers_and_a_closed_database_is_unavailable() {
    on_every_db(|db| async move {
        let bound = std::time::Duration::from_secs(2);
        db.ping_within(bound).await.unwrap();
        db.close().await;
        let started = std::time::Instant::now();
        let err = db.ping_within(bound).await.unwrap_err();
        assert!(matches!(err, DbError::Unavailable(_)), "{err:?}");
        assert!(started.elapsed() < bound, "{:?}", started.elapsed());
    })
    .await;
}

#[tokio::test]
async fn in_memory_sqlite_keeps_data_across_calls() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    assert_eq!(db.dialect(), Dialect::Sqlite);
    let image = full_image("p1");
    db.create_image(&image).await.unwrap();
    assert_eq!(db.get_image(image.id).await.unwrap(), Some(image));
}

#[tokio::test]
async fn reconnecting_to_a_migrated_sqlite_file_keeps_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/glint.db", dir.path().display());
    let image = full_image("p1");
    {
        let db = Database::connect(&url).await.unwrap();
        db.create_image(&image).await.unwrap();
        db.close().await;
    }
    let db = Database::connect(&url).await.unwrap();
    assert_eq!(db.get_image(image.id).await.unwrap(), Some(image));
}

#[tokio::test]
async fn reads_after_close_are_unavailable() {
    on_every_db(|db| async move {
        let image = full_image("p1");
        db.create_image(&image).await.unwrap();
        db.close().await;
        assert!(matches!(
            db.get_image(image.id).await,
            Err(DbError::Unavailable(_))
        ));
        let listed = db
            .list_images(&Default::default(), 10, None, &Default::default())
            .await;
        assert!(matches!(listed, Err(DbError::Unavailable(_))), "{listed:?}");
    })
    .await;
}

#[tokio::test]
async fn processes_starting_together_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/glint.db", dir.path().display());
    check_parallel_connects(&url).await;
    for (var, postgres) in [
        ("GLINT_TEST_POSTGRES_URL", true),
        ("GLINT_TEST_MYSQL_URL", false),
    ] {
        if let Ok(admin) = std::env::var(var) {
            let (url, name) = common::fresh_server_database(&admin).await;
            check_parallel_connects(&url).await;
            common::drop_database(&admin, &name, postgres).await;
        }
    }
}

async fn check_parallel_connects(url: &str) {
    let connects: Vec<_> = (0..4)
        .map(|_| {
            let url = url.to_string();
            tokio::spawn(async move { Database::connect(&url).await })
        })
        .collect();
    let mut dbs = Vec::new();
    for c in connects {
        dbs.push(c.await.unwrap().expect("every concurrent connect succeeds"));
    }
    let image = full_image("p");
    dbs[0].create_image(&image).await.unwrap();
    assert_eq!(dbs[3].get_image(image.id).await.unwrap(), Some(image));
    for db in dbs {
        db.close().await;
    }
}

#[tokio::test]
async fn a_bad_url_is_an_error_not_a_panic() {
    assert!(matches!(
        Database::connect("oracle://x").await,
        Err(DbError::Internal(_))
    ));
    let unreachable = Database::connect("postgres://nobody@127.0.0.1:1/none").await;
    assert!(
        matches!(unreachable, Err(DbError::Unavailable(_))),
        "{unreachable:?}"
    );
}
