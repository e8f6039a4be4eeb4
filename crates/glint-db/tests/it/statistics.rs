//! Planner statistics kept by glint: gathered for tables that have none,
//! not again while little changed.

use crate::common;

use common::listing::share;
use common::{at, bare_image, on_every_db};
use glint_db::{CATALOGUE_TABLES, Database, Dialect};
use glint_model::{ImageStatus, MemberStatus, Visibility};

async fn load(db: &Database, count: i64) {
    for i in 0..count {
        let mut image = bare_image(Some("p1"), Visibility::Shared, at(i, 0));
        image.name = Some(format!("image-{i}"));
        image.status = ImageStatus::Active;
        image.tags = vec!["t".into()];
        image.properties.insert("os_distro".into(), "cirros".into());
        db.create_image(&image).await.unwrap();
        share(db, &image, "p2", MemberStatus::Accepted).await;
    }
}

#[tokio::test]
async fn statistics_are_gathered_for_a_loaded_catalogue_then_left_alone() {
    on_every_db(|db| async move {
        load(&db, 50).await;
        let mut first = db.refresh_statistics().await.unwrap();
        first.sort_unstable();
        let mut all = CATALOGUE_TABLES.to_vec();
        all.sort_unstable();
        assert_eq!(first, all);
        assert_eq!(db.refresh_statistics().await.unwrap(), Vec::<&str>::new());
        if db.dialect() == Dialect::Sqlite {
            let rows = glint_db::testing::scalar(
                &db,
                "SELECT COUNT(*) FROM sqlite_stat1 WHERE tbl = 'images'",
            )
            .await
            .unwrap();
            assert!(rows > 0, "no statistics for images");
        }
        if db.dialect() == Dialect::Postgres {
            // Vacuumed too: pages every transaction sees are marked, so an
            // index can be read without its table.
            let pages = glint_db::testing::scalar(
                &db,
                "SELECT relallvisible::bigint FROM pg_class WHERE relname = 'images' \
                 AND relnamespace = current_schema()::regnamespace",
            )
            .await
            .unwrap();
            assert!(pages > 0, "images not vacuumed");
        }
    })
    .await;
}

/// A table left empty (no image has a tag here) is not analyzed again at
/// every refresh, and is once it holds rows.
#[tokio::test]
async fn an_empty_table_is_not_analyzed_at_every_refresh() {
    on_every_db(|db| async move {
        for i in 0..20 {
            let mut image = bare_image(Some("p1"), Visibility::Private, at(i, 0));
            image.properties.insert("os_distro".into(), "cirros".into());
            db.create_image(&image).await.unwrap();
        }
        db.refresh_statistics().await.unwrap();
        assert_eq!(db.refresh_statistics().await.unwrap(), Vec::<&str>::new());
        assert_eq!(db.refresh_statistics().await.unwrap(), Vec::<&str>::new());
        if db.dialect() == Dialect::Sqlite {
            // (On PostgreSQL and MariaDB a table is analyzed again only
            // after a number of changed rows, tested above.)
            let mut image = bare_image(Some("p1"), Visibility::Private, at(30, 0));
            image.tags = vec!["t".into()];
            db.create_image(&image).await.unwrap();
            assert_eq!(db.refresh_statistics().await.unwrap(), vec!["image_tags"]);
            assert_eq!(db.refresh_statistics().await.unwrap(), Vec::<&str>::new());
        }
    })
    .await;
}

/// A catalogue with rows and no statistics is sketched on PostgreSQL, and
/// analyzed in full at the next refresh; elsewhere nothing is sketched.
#[tokio::test]
async fn missing_statistics_are_sketched_then_gathered_in_full() {
    on_every_db(|db| async move {
        load(&db, 30).await;
        let sketched = db.sketch_missing_statistics().await.unwrap();
        if db.dialect() != Dialect::Postgres {
            assert_eq!(sketched, Vec::<&str>::new());
            return;
        }
        let mut all = CATALOGUE_TABLES.to_vec();
        all.sort_unstable();
        let mut sorted = sketched.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, all);
        let analyses = "SELECT analyze_count FROM pg_stat_user_tables \
                        WHERE relname = 'images' AND schemaname = current_schema()";
        let columns = "SELECT COUNT(*) FROM pg_stats \
                       WHERE tablename = 'images' AND schemaname = current_schema()";
        assert!(glint_db::testing::scalar(&db, columns).await.unwrap() > 0);
        // Statistics now exist: nothing more to sketch.
        assert_eq!(
            db.sketch_missing_statistics().await.unwrap(),
            Vec::<&str>::new()
        );
        // The sketch is followed by a full analysis, then nothing.
        let mut full = db.refresh_statistics().await.unwrap();
        full.sort_unstable();
        assert_eq!(full, all);
        assert_eq!(db.refresh_statistics().await.unwrap(), Vec::<&str>::new());
        // (The server's counters reach the view a moment later.)
        let mut counted = 0;
        for _ in 0..50 {
            counted = glint_db::testing::scalar(&db, analyses).await.unwrap();
            if counted >= 2 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(counted, 2);
    })
    .await;
}

/// A table's sketch held up (here behind another analysis's lock) gives up
/// within its bound, so a server starts without that table's rather than
/// wait; the other tables' samples are kept.
#[tokio::test]
async fn a_sketch_held_up_gives_up_within_its_bound() {
    common::on_every_empty_db(|url, dialect| async move {
        if dialect != Dialect::Postgres {
            return;
        }
        use sqlx::Connection;
        let db = Database::connect(&url).await.unwrap();
        load(&db, 5).await;
        let mut other = sqlx::PgConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("BEGIN; LOCK TABLE images IN SHARE UPDATE EXCLUSIVE MODE")
            .execute(&mut other)
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let held = db.sketch_missing_statistics().await;
        let waited = started.elapsed();
        assert!(held.is_err(), "{held:?}");
        let bound = glint_db::SKETCH_TIMEOUT_MS as u128;
        assert!(waited.as_millis() >= bound - 100, "{waited:?}");
        assert!(waited.as_millis() < bound + 3_000, "{waited:?}");
        sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
        // The other tables kept their samples; the one held up is
        // sketched now.
        assert_eq!(
            db.sketch_missing_statistics().await.unwrap(),
            vec!["images"]
        );
        assert_eq!(
            db.sketch_missing_statistics().await.unwrap(),
            Vec::<&str>::new()
        );
        // All four are analyzed in full at the next refresh.
        assert_eq!(db.refresh_statistics().await.unwrap().len(), 4);
        db.close().await;
    })
    .await;
}

#[tokio::test]
async fn analyze_catalogue_gathers_statistics_for_every_list_table() {
    on_every_db(|db| async move {
        load(&db, 10).await;
        db.analyze_catalogue().await.unwrap();
        assert_eq!(db.refresh_statistics().await.unwrap(), Vec::<&str>::new());
    })
    .await;
}

/// An index added to a table already analyzed (as a migration adds one)
/// is analyzed at the next refresh: SQLite takes an index without
/// statistics beside analyzed ones for a selective one.
#[tokio::test]
async fn an_index_added_to_an_analyzed_table_is_analyzed_at_the_next_refresh() {
    on_every_db(|db| async move {
        if db.dialect() != Dialect::Sqlite {
            return;
        }
        load(&db, 20).await;
        db.refresh_statistics().await.unwrap();
        glint_db::testing::run_statement(
            &db,
            "CREATE INDEX ix_test_added ON images (sort_disk_format, sort_name)",
            &[],
        )
        .await
        .unwrap();
        let stats = "SELECT COUNT(*) FROM sqlite_stat1 WHERE idx = 'ix_test_added'";
        assert_eq!(glint_db::testing::scalar(&db, stats).await.unwrap(), 0);
        assert_eq!(db.refresh_statistics().await.unwrap(), vec!["images"]);
        assert_eq!(glint_db::testing::scalar(&db, stats).await.unwrap(), 1);
        assert_eq!(db.refresh_statistics().await.unwrap(), Vec::<&str>::new());
    })
    .await;
}
