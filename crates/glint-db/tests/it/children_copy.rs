//! The copy of each image's children kept in its row: written with the
//! child rows, read instead of them, and given by the upgrade to rows
//! written before schema version 2, which lacked it.

use crate::common;

use common::listing::{admin, names, set};
use common::{at, bare_image, full_image, on_every_db, on_every_empty_db};
use glint_db::testing::{children_copy, connect_at_version, create_image_v1};
use glint_db::{Database, Dialect};
use glint_model::{Image, Location, Visibility};
use sqlx::{AnyConnection, AssertSqlSafe, Connection};

/// Images with many, few and no children, all listed by default.
fn catalogue() -> Vec<Image> {
    let mut full = full_image("p1");
    full.os_hidden = false;
    let mut few = full_image("p2");
    few.os_hidden = false;
    few.name = Some("few".into());
    few.created_at = at(11, 0);
    few.tags = vec!["only".into()];
    few.properties.retain(|k, _| k == "os_distro");
    few.locations.truncate(1);
    let none = bare_image(Some("p3"), Visibility::Public, at(12, 0));
    // Text that JSON must escape, and properties over a mebibyte in all
    // (more than MySQL builds with GROUP_CONCAT unless told otherwise; one
    // value may not pass 64 KiB there).
    let mut odd = bare_image(Some("p4"), Visibility::Public, at(13, 0));
    odd.name = Some("odd".into());
    odd.tags = vec![
        "quote \"".into(),
        "back\\slash".into(),
        "tab\there".into(),
        "ünï ✓".into(),
    ];
    odd.properties
        .insert("newline".into(), "one\ntwo\r\n".into());
    odd.properties
        .insert("control".into(), "\u{1}\u{1f}".into());
    for i in 0..30 {
        let value = format!("{i:02}").repeat(25_000);
        odd.properties.insert(format!("big-{i:02}"), value);
    }
    odd.properties.insert("empty".into(), String::new());
    let mut odd_location = Location::new("file:///a \"b\"", "store");
    odd_location
        .metadata
        .insert("nested".into(), serde_json::json!({"k": ["é", 1.5, null]}));
    odd.locations = vec![odd_location, Location::new("s3://x/y", "other")];
    vec![full, few, none, odd]
}

/// Show (live and any) and list each return `image` exactly.
async fn reads_back(db: &Database, image: &Image) {
    assert_eq!(db.get_image(image.id).await.unwrap().as_ref(), Some(image));
    assert_eq!(
        db.get_image_any(image.id).await.unwrap().as_ref(),
        Some(image)
    );
    let page = db
        .list_images(&Default::default(), 1000, None, &admin(None))
        .await
        .unwrap();
    let listed = page.iter().find(|i| i.id == image.id).expect("listed");
    assert_eq!(listed, image);
}

/// A database at schema version 1 holding `images`, then opened by this
/// build (which migrates it).
async fn upgraded(url: &str, images: &[Image]) -> Database {
    let old = connect_at_version(url, 1).await.unwrap();
    for image in images {
        create_image_v1(&old, image).await.unwrap();
    }
    old.close().await;
    Database::connect(url).await.unwrap()
}

#[tokio::test]
async fn the_upgrade_gives_images_written_before_the_copy_theirs() {
    on_every_empty_db(|url, _| async move {
        let images = catalogue();
        let db = upgraded(&url, &images).await;
        for image in &images {
            assert!(children_copy(&db, image.id).await.unwrap().is_some());
            reads_back(&db, image).await;
        }
        db.close().await;
    })
    .await;
}

#[tokio::test]
async fn images_written_before_the_copy_are_saved_and_filtered_after_the_upgrade() {
    on_every_empty_db(|url, _| async move {
        let images = catalogue();
        let db = upgraded(&url, &images).await;
        let mut changed = images[0].clone();
        changed.tags.push("added".into());
        changed.properties.insert("new".into(), "value".into());
        let read = db.get_image_versioned(changed.id).await.unwrap().unwrap();
        db.save_image(&changed, read.version).await.unwrap();
        reads_back(&db, &changed).await;
        for image in &images[1..] {
            reads_back(&db, image).await;
        }
        let tagged = names(&db, &[("tag", "added")], &admin(None)).await;
        assert_eq!(tagged, set(&["cirros-0.6.2"]));
        let quoted = names(&db, &[("tag", "quote \"")], &admin(None)).await;
        assert_eq!(quoted, set(&["odd"]));
        db.close().await;
    })
    .await;
}

#[tokio::test]
async fn a_migration_cut_short_after_adding_its_column_completes() {
    on_every_empty_db(|url, dialect| async move {
        // SQLite applies the DDL and the version record in one transaction.
        if dialect == Dialect::Sqlite {
            return;
        }
        let image = catalogue().remove(0);
        let old = connect_at_version(&url, 1).await.unwrap();
        create_image_v1(&old, &image).await.unwrap();
        old.close().await;
        // What a crash between the ALTER and its version record leaves.
        let column = match dialect {
            Dialect::MySql => "LONGTEXT",
            _ => "TEXT",
        };
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        let alter = format!("ALTER TABLE images ADD COLUMN children {column}");
        sqlx::raw_sql(AssertSqlSafe(alter))
            .execute(&mut conn)
            .await
            .unwrap();

        let db = Database::connect(&url).await.expect("migration completes");
        let newest: i64 = sqlx::query_scalar("SELECT MAX(version) FROM glint_schema_migrations")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(newest, glint_db::schema::latest_version());
        conn.close().await.unwrap();
        assert!(children_copy(&db, image.id).await.unwrap().is_some());
        reads_back(&db, &image).await;
        let read = db.get_image_versioned(image.id).await.unwrap().unwrap();
        db.save_image(&image, read.version).await.unwrap();
        reads_back(&db, &image).await;
        db.close().await;
    })
    .await;
}

#[tokio::test]
async fn every_save_keeps_the_copy_and_the_child_tables_alike() {
    on_every_db(|db| async move {
        let mut image = catalogue().remove(0);
        db.create_image(&image).await.unwrap();
        assert!(children_copy(&db, image.id).await.unwrap().is_some());
        reads_back(&db, &image).await;

        let steps: [fn(&mut Image); 7] = [
            |i| {
                i.properties.insert("added".into(), "a \"quoted\" ✓".into());
            },
            |i| {
                i.properties.insert("os_distro".into(), "replaced".into());
            },
            |i| {
                i.properties.remove("hw_disk_bus");
            },
            |i| i.tags.push("new-tag".into()),
            |i| i.tags.retain(|t| t != "zeta"),
            |i| {
                i.locations.push(Location::new("file:///third", "fast"));
                i.locations[0].status = "deleted".into();
                i.locations[1].metadata.insert("n".into(), 1.into());
            },
            |i| {
                i.tags.clear();
                i.properties.clear();
                i.locations.clear();
            },
        ];
        for step in steps {
            step(&mut image);
            let read = db.get_image_versioned(image.id).await.unwrap().unwrap();
            db.save_image(&image, read.version).await.unwrap();
            reads_back(&db, &image).await;
            // The child tables, which the list filters read, agree.
            for tag in &image.tags {
                let found = names(&db, &[("tag", tag)], &admin(None)).await;
                assert_eq!(found, set(&["cirros-0.6.2"]), "tag {tag}");
            }
            for (name, value) in &image.properties {
                let found = names(&db, &[(name, value)], &admin(None)).await;
                assert_eq!(found, set(&["cirros-0.6.2"]), "property {name}");
            }
        }
        assert!(
            names(&db, &[("tag", "zeta")], &admin(None))
                .await
                .is_empty()
        );
    })
    .await;
}

/// A save writes only the child rows and columns that changed; what it
/// leaves is exactly what deleting every child row and writing them afresh
/// leaves, step after step: properties and tags added, removed, changed
/// and moved, sort keys (name, status, formats, size, update time)
/// changed with them or alone, locations changed, everything at once, and
/// a case-only change of a tag and a property name.
#[tokio::test]
async fn a_save_leaves_the_child_rows_a_rewrite_of_them_would() {
    on_every_db(|db| async move {
        let images = catalogue();
        for image in &images {
            db.create_image(image).await.unwrap();
        }
        let steps: [fn(&mut Image); 12] = [
            |i| i.updated_at = at(20, 0),
            |i| {
                i.properties.insert("added".into(), "new".into());
                i.updated_at = at(20, 1);
            },
            |i| {
                i.properties.insert("os_distro".into(), "replaced".into());
                i.name = Some("renamed".into());
            },
            |i| {
                i.properties.remove("hw_disk_bus");
                i.properties.remove("newline");
            },
            |i| {
                i.tags.push("new-tag".into());
                i.tags.rotate_left(1);
            },
            |i| {
                i.tags.retain(|t| t != "zeta" && t != "only");
                i.tags.reverse();
            },
            |i| {
                i.status = glint_model::ImageStatus::Active;
                i.size = Some(12_345);
                i.disk_format = Some("qcow2".into());
                i.container_format = Some("ovf".into());
            },
            |i| {
                i.locations.push(Location::new("file:///third", "fast"));
                i.locations[0].status = "deleted".into();
            },
            |i| {
                let tags = std::mem::take(&mut i.tags);
                i.tags = tags.iter().map(|t| t.to_uppercase()).collect();
                i.tags.dedup();
                if let Some(value) = i.properties.remove("added") {
                    i.properties.insert("ADDED".into(), value);
                }
            },
            |i| {
                i.tags = vec!["one".into(), "two".into()];
                i.properties = [("a".to_string(), "1".to_string())].into();
                i.name = None;
                i.size = None;
            },
            |i| {
                i.tags.clear();
                i.properties.clear();
                i.locations.clear();
            },
            |i| {
                i.tags = vec!["back".into()];
                i.properties = [("b".to_string(), "2".to_string())].into();
                i.locations = vec![Location::new("file:///back", "fast")];
                i.updated_at = at(21, 0);
            },
        ];
        for mut image in images {
            for (n, step) in steps.iter().enumerate() {
                step(&mut image);
                let read = db.get_image_versioned(image.id).await.unwrap().unwrap();
                db.save_image(&image, read.version).await.unwrap();
                reads_back(&db, &image).await;
                let saved = glint_db::testing::image_rows(&db, image.id).await.unwrap();
                glint_db::testing::rewrite_children(&db, image.id)
                    .await
                    .unwrap();
                let rewritten = glint_db::testing::image_rows(&db, image.id).await.unwrap();
                assert_eq!(saved, rewritten, "{:?} after step {n}", image.name);
            }
        }
    })
    .await;
}

/// The upgrade gives the tag and property rows of images written before
/// schema version 18 the copies of their images' sort keys (and, from
/// versions 11 and 17, their creation time) exactly as writing them afresh
/// does.
#[tokio::test]
async fn the_upgrade_copies_the_sort_keys_beside_tags_and_properties_as_a_save_does() {
    on_every_empty_db(|url, _| async move {
        let images = catalogue();
        let db = upgraded(&url, &images).await;
        let side_rows = |rows: Vec<String>| -> Vec<String> {
            rows.into_iter()
                .filter(|row| {
                    row.starts_with("image_tags:") || row.starts_with("image_properties:")
                })
                .collect()
        };
        for image in &images {
            let upgraded = side_rows(glint_db::testing::image_rows(&db, image.id).await.unwrap());
            glint_db::testing::rewrite_children(&db, image.id)
                .await
                .unwrap();
            let saved = side_rows(glint_db::testing::image_rows(&db, image.id).await.unwrap());
            assert_eq!(upgraded, saved, "{:?}", image.name);
            let tagged = image.tags.len() + image.properties.len();
            assert_eq!(saved.len(), tagged, "{:?}", image.name);
        }
        db.close().await;
    })
    .await;
}
