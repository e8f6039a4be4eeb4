use crate::common;

use common::{at, full_image, on_every_db, on_sqlite};
use glint_db::Database;
use glint_model::ImageStatus;

/// Creates an image then moves it through two compare-and-set saves.
async fn create_and_save(db: Database, worker: i64) {
    for round in 0..5 {
        let mut image = full_image(&format!("p{worker}"));
        image.created_at = at(worker * 100 + round, 0);
        db.create_image(&image).await.expect("create never fails");
        let read = db.get_image_versioned(image.id).await.unwrap().unwrap();
        image.status = ImageStatus::Deactivated;
        image.tags.push(format!("w{worker}"));
        let saved = db
            .save_image(&image, read.version)
            .await
            .expect("save never fails");
        image.status = ImageStatus::Active;
        image.properties.insert("round".into(), round.to_string());
        db.save_image(&image, saved)
            .await
            .expect("save never fails");
        let listed = db.get_image(image.id).await.expect("read never fails");
        assert_eq!(listed, Some(image));
    }
}

async fn sixteen_writers(db: Database) {
    let tasks: Vec<_> = (0..16)
        .map(|worker| tokio::spawn(create_and_save(db.clone(), worker)))
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }
    assert_eq!(db.count_images_owned("p7").await.unwrap(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_concurrent_sqlite_writers_never_see_a_lock_error() {
    on_sqlite(sixteen_writers).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_sqlite_handles_on_one_file_write_concurrently() {
    // Two pools stand in for two processes sharing the file: only SQLite's
    // own locking (BEGIN IMMEDIATE + busy_timeout) keeps them apart.
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/glint.db", dir.path().display());
    let one = Database::connect(&url).await.unwrap();
    let two = Database::connect(&url).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|worker| {
            let db = if worker % 2 == 0 {
                one.clone()
            } else {
                two.clone()
            };
            tokio::spawn(create_and_save(db, worker))
        })
        .collect();
    for task in tasks {
        task.await.expect("writer task");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_succeed_on_every_dialect() {
    on_every_db(|db| async move { sixteen_writers(db).await }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn more_concurrent_reads_than_connections_all_succeed() {
    on_every_db(|db| async move {
        let image = full_image("p1");
        db.create_image(&image).await.unwrap();
        let reads: Vec<_> = (0..64)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move { db.get_image(image.id).await })
            })
            .collect();
        for read in reads {
            let found = read.await.expect("read task").expect("read never fails");
            assert_eq!(found.as_ref().map(|i| i.id), Some(image.id));
            assert_eq!(found.unwrap().locations.len(), 2);
        }
    })
    .await;
}
