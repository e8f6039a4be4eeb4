//! `glint db sync | version | purge | purge-images-table` on the real
//! binary, and the schema policy of `glint serve`: it migrates the embedded
//! SQLite database itself, and refuses to start on a PostgreSQL or
//! MySQL/MariaDB database that is not at its schema version.

use crate::common;

use common::{Output, ServerDatabase, ServerKind, Setup};
use glint_db::schema::latest_version;
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The first line `glint db version` prints: the version number.
fn version_of(output: &Output) -> i64 {
    let first = output.stdout.lines().next().unwrap_or_default();
    first
        .parse()
        .unwrap_or_else(|_| panic!("no version in {output:#?}"))
}

/// Starts `glint serve` expecting it to refuse; returns its log.
async fn refused_start(setup: &Setup) -> String {
    let mut server = setup.start();
    let status = server.wait_exit().await;
    assert!(!status.success(), "glint serve started:\n{}", server.logs());
    server.logs()
}

async fn serves(setup: &Setup) {
    let client = reqwest::Client::new();
    let mut server = setup.start();
    server.wait_ready(&client).await;
    let body = json!({"name": "after sync", "disk_format": "raw", "container_format": "bare"});
    server.create_image(&client, body).await;
}

#[tokio::test]
async fn serve_refuses_a_fresh_shared_database_until_db_sync() {
    for (kind, admin) in ServerKind::configured() {
        eprintln!("running on {kind:?}");
        let db = ServerDatabase::create(kind, &admin).await;
        let setup = Setup::on_database(&db.url, "");

        let version = setup.glint(&["db", "version"]).ok();
        assert_eq!(version_of(&version), 0);
        assert!(
            version.stdout.contains("no glint schema yet")
                && version.stdout.contains("glint db sync"),
            "{version:#?}"
        );
        let log = refused_start(&setup).await;
        assert!(log.contains("no glint schema yet"), "{log}");
        assert!(log.contains("run `glint db sync`"), "{log}");

        let synced = setup.glint(&["db", "sync"]).ok();
        let lines: Vec<&str> = synced.stdout.lines().collect();
        assert_eq!(
            lines,
            [
                format!(
                    "Database schema migrated from version 0 to {}.",
                    latest_version()
                )
                .as_str(),
                "Loaded the built-in metadata definitions (5 namespaces).",
            ]
        );
        let version = setup.glint(&["db", "version"]).ok();
        assert_eq!(version.stdout.trim(), latest_version().to_string());
        serves(&setup).await;
        let again = setup.glint(&["db", "sync"]).ok();
        assert_eq!(
            again.stdout.trim(),
            format!(
                "Database schema is at version {} already.",
                latest_version()
            )
        );
    }
}

#[tokio::test]
async fn serve_refuses_a_shared_database_of_an_older_schema_until_db_sync() {
    for (kind, admin) in ServerKind::configured() {
        eprintln!("running on {kind:?}");
        let db = ServerDatabase::create(kind, &admin).await;
        glint_db::testing::connect_at_version(&db.url, 1)
            .await
            .expect("a database of schema version 1")
            .close()
            .await;
        let setup = Setup::on_database(&db.url, "");
        let version = setup.glint(&["db", "version"]).ok();
        assert_eq!(version_of(&version), 1);
        assert!(version.stdout.contains("behind"), "{version:#?}");

        let log = refused_start(&setup).await;
        let expected = format!(
            "the database schema is at version 1, behind this glint's version {}",
            latest_version()
        );
        assert!(log.contains(&expected), "{log}");
        assert!(log.contains("run `glint db sync`"), "{log}");

        let synced = setup.glint(&["db", "sync"]).ok();
        assert_eq!(
            synced.stdout.lines().next().unwrap_or_default(),
            format!(
                "Database schema migrated from version 1 to {}.",
                latest_version()
            )
        );
        serves(&setup).await;
    }
}

/// Nodes started at once for a rolling deployment may all run `db sync`:
/// the migration lock lets one migrate, the others find it done.
#[tokio::test]
async fn db_sync_run_by_several_nodes_at_once_migrates_once() {
    for (kind, admin) in ServerKind::configured() {
        eprintln!("running on {kind:?}");
        let db = ServerDatabase::create(kind, &admin).await;
        let setup = Setup::on_database(&db.url, "");
        let config = setup.config.clone();
        let runs: Vec<_> = (0..4)
            .map(|_| {
                let config = config.clone();
                std::thread::spawn(move || common::glint(&["db", "sync"], &config))
            })
            .collect();
        let outputs: Vec<Output> = runs.into_iter().map(|r| r.join().unwrap().ok()).collect();
        let migrated = outputs
            .iter()
            .filter(|o| o.stdout.contains("migrated from version 0"))
            .count();
        assert_eq!(migrated, 1, "{outputs:#?}");
        let version = setup.glint(&["db", "version"]).ok();
        assert_eq!(version.stdout.trim(), latest_version().to_string());
    }
}

#[tokio::test]
async fn serve_migrates_the_embedded_sqlite_database_itself() {
    let setup = Setup::new();
    serves(&setup).await;
    let version = setup.glint(&["db", "version"]).ok();
    assert_eq!(version.stdout.trim(), latest_version().to_string());
    let synced = setup.glint(&["db", "sync"]).ok();
    assert!(synced.stdout.contains("already"), "{synced:#?}");
}

#[test]
fn purge_refuses_a_negative_age_as_glance_manage_does() {
    let setup = Setup::new();
    for command in ["purge", "purge-images-table", "purge_images_table"] {
        let out = setup.glint(&["db", command, "--age-in-days", "-1"]);
        assert!(!out.success, "{out:#?}");
        assert!(
            out.stderr
                .contains("Must supply a non-negative value for age."),
            "{out:#?}"
        );
        let out = setup.glint(&["db", command, "--age_in_days", "1", "--max_rows", "-2"]);
        assert!(!out.success, "{out:#?}");
        assert!(out.stderr.contains("Minimal rows limit is -1."), "{out:#?}");
    }
}

/// `(table, rows)` from the lines `glint db purge` prints.
fn purged(output: &Output) -> Vec<(String, u64)> {
    output
        .stdout
        .lines()
        .map(|line| {
            // "Deleted N row(s) from table T", "Emptied N row(s) of table T …"
            let words: Vec<&str> = line.split_whitespace().collect();
            (words[5].to_owned(), words[1].parse().expect("a row count"))
        })
        .collect()
}

fn rows(output: &Output, table: &str) -> u64 {
    purged(output)
        .into_iter()
        .find(|(t, _)| t == table)
        .unwrap_or_else(|| panic!("no count for {table}: {output:#?}"))
        .1
}

/// Runs the purge scenario against a running server on `setup`'s database,
/// `backdate` moving deletions 40 days into the past.
async fn purge_scenario(setup: &Setup, db: &glint_db::Database) {
    let client = reqwest::Client::new();
    let mut server = setup.start();
    server.wait_ready(&client).await;
    let api = |path: &str| server.url(path);
    let mut ids = Vec::new();
    for n in 0..3 {
        let body = json!({"name": format!("old {n}"), "disk_format": "raw",
            "container_format": "bare", "visibility": "shared",
            "tags": ["a", "b"], "os_distro": "cirros", "extra": "x"});
        let id = server.create_image(&client, body).await;
        let resp = client
            .post(api(&format!("/v2/images/{id}/members")))
            .json(&json!({"member": "other-project"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        let resp = client
            .put(api(&format!("/v2/images/{id}/file")))
            .header("Content-Type", "application/octet-stream")
            .body(vec![n as u8; 1024])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
        ids.push(id);
    }
    for id in &ids[..2] {
        let resp = client
            .delete(api(&format!("/v2/images/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    }
    // A member removed from the image that stays.
    let resp = client
        .delete(api(&format!("/v2/images/{}/members/other-project", ids[2])))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);

    let young = setup.glint(&["db", "purge", "--age-in-days", "30"]).ok();
    assert!(purged(&young).iter().all(|(_, n)| *n == 0), "{young:#?}");

    let forty_days = 40 * 86_400 * 1_000_000_i64;
    for statement in [
        format!("UPDATE images SET deleted_at = deleted_at - {forty_days} WHERE deleted = 1"),
        format!(
            "UPDATE image_members SET updated_at = updated_at - {forty_days} WHERE deleted = 1"
        ),
    ] {
        glint_db::testing::run_statement(db, &statement, &[])
            .await
            .expect(&statement);
    }

    let one = setup
        .glint(&["db", "purge", "--age-in-days", "30", "--max-rows", "1"])
        .ok();
    assert_eq!(rows(&one, "image_properties"), 2, "{one:#?}");
    assert_eq!(rows(&one, "image_tags"), 2, "{one:#?}");
    assert_eq!(rows(&one, "image_locations"), 1, "{one:#?}");
    assert_eq!(rows(&one, "images"), 1, "{one:#?}");
    // One image's deleted member, then (the member batch) the live image's
    // removed member.
    assert_eq!(rows(&one, "image_members"), 2, "{one:#?}");

    let rest = setup.glint(&["db", "purge", "--age_in_days", "30"]).ok();
    assert_eq!(rows(&rest, "image_properties"), 2, "{rest:#?}");
    assert_eq!(rows(&rest, "image_tags"), 2, "{rest:#?}");
    assert_eq!(rows(&rest, "image_members"), 1, "{rest:#?}");
    assert_eq!(rows(&rest, "images"), 1, "{rest:#?}");
    let nothing = setup
        .glint(&["db", "purge", "--age-in-days", "0", "--max-rows", "-1"])
        .ok();
    assert!(
        purged(&nothing).iter().all(|(_, n)| *n == 0),
        "{nothing:#?}"
    );

    // The image that was not deleted keeps everything.
    let kept: Value = client
        .get(api(&format!("/v2/images/{}", ids[2])))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(kept["tags"], json!(["a", "b"]));
    assert_eq!(kept["os_distro"], "cirros");
    assert_eq!(kept["status"], "active");

    // Purged image rows still hold their ids; purge-images-table frees them.
    let reuse = json!({"id": ids[0], "name": "reused"});
    let resp = client
        .post(api("/v2/images"))
        .json(&reuse)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let table = setup
        .glint(&[
            "db",
            "purge-images-table",
            "--age-in-days",
            "30",
            "--max-rows",
            "-1",
        ])
        .ok();
    assert_eq!(rows(&table, "images"), 2, "{table:#?}");
    let resp = client
        .post(api("/v2/images"))
        .json(&reuse)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED, "{}", server.logs());
}

#[tokio::test]
async fn db_purge_removes_what_old_deleted_images_left_on_sqlite() {
    let setup = Setup::new();
    let url = format!("sqlite://{}/data/glint.sqlite", setup.dir.path().display());
    // Created by the server's own migration in purge_scenario: open it
    // once that has happened, through a first `db sync`.
    setup.glint(&["db", "sync"]).ok();
    let db = glint_db::Database::open(&url, &glint_db::ConnectOptions::default())
        .await
        .expect("open the SQLite file");
    purge_scenario(&setup, &db).await;
    db.close().await;
}

#[tokio::test]
async fn db_purge_removes_what_old_deleted_images_left_on_servers() {
    for (kind, admin) in ServerKind::configured() {
        eprintln!("running on {kind:?}");
        let server_db = ServerDatabase::create(kind, &admin).await;
        let setup = Setup::on_database(&server_db.url, "");
        setup.glint(&["db", "sync"]).ok();
        let db = server_db.open().await;
        purge_scenario(&setup, &db).await;
        db.close().await;
    }
}
