//! Test support: a fresh, migrated database per test on every configured
//! dialect, and image builders.
#![allow(dead_code, reason = "each test crate uses a different part")]

pub mod listing;

use std::future::Future;

use glint_db::{Database, Dialect};
use glint_model::time::{Timestamp, from_micros};
use glint_model::{Image, ImageId, ImageStatus, Location, Visibility};

/// A database to run one test against; dropped (server) or deleted with its
/// directory (SQLite) afterwards.
struct Target {
    label: &'static str,
    db: Database,
    server: Option<Server>,
    _dir: Option<tempfile::TempDir>,
}

struct Server {
    admin_url: String,
    name: String,
    postgres: bool,
}

/// Runs `test` on a fresh SQLite file, and on fresh PostgreSQL and MariaDB
/// databases when `GLINT_TEST_POSTGRES_URL` / `GLINT_TEST_MYSQL_URL` are set.
pub async fn on_every_db<F, Fut>(test: F)
where
    F: Fn(Database) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    for target in targets().await {
        eprintln!("running on {}", target.label);
        let outcome = tokio::spawn(test(target.db.clone())).await;
        target.db.close().await;
        if let Some(server) = &target.server {
            drop_server_db(server).await;
        }
        if let Err(e) = outcome {
            eprintln!("failed on {}", target.label);
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// Runs `test` on a fresh SQLite file only.
pub async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Database) -> Fut,
    Fut: Future<Output = ()>,
{
    let target = sqlite_target().await;
    test(target.db.clone()).await;
}

async fn targets() -> Vec<Target> {
    let mut out = vec![sqlite_target().await];
    if let Ok(url) = std::env::var("GLINT_TEST_POSTGRES_URL") {
        out.push(server_target("postgres", &url, true).await);
    }
    if let Ok(url) = std::env::var("GLINT_TEST_MYSQL_URL") {
        out.push(server_target("mysql", &url, false).await);
    }
    out
}

async fn sqlite_target() -> Target {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/glint.db", dir.path().display());
    let db = Database::connect(&url).await.expect("connect to sqlite");
    Target {
        label: "sqlite",
        db,
        server: None,
        _dir: Some(dir),
    }
}

async fn server_target(label: &'static str, admin_url: &str, postgres: bool) -> Target {
    let (url, name) = fresh_server_database(admin_url).await;
    let db = Database::connect(&url)
        .await
        .expect("connect to the test database");
    Target {
        label,
        db,
        server: Some(Server {
            admin_url: admin_url.to_string(),
            name,
            postgres,
        }),
        _dir: None,
    }
}

/// Runs `test` with the URL of a fresh, empty database (nothing migrated
/// yet) on every configured dialect, for tests that connect themselves.
pub async fn on_every_empty_db<F, Fut>(test: F)
where
    F: Fn(String, Dialect) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite = format!("sqlite://{}/glint.db", dir.path().display());
    eprintln!("running on sqlite");
    test(sqlite, Dialect::Sqlite).await;
    for (var, dialect) in [
        ("GLINT_TEST_POSTGRES_URL", Dialect::Postgres),
        ("GLINT_TEST_MYSQL_URL", Dialect::MySql),
    ] {
        let Ok(admin) = std::env::var(var) else {
            continue;
        };
        eprintln!("running on {dialect:?}");
        let (url, name) = fresh_server_database(&admin).await;
        let outcome = tokio::spawn(test(url, dialect)).await;
        drop_database(&admin, &name, dialect == Dialect::Postgres).await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

/// A fresh database on the same server, for tests that connect themselves.
/// Returns its URL and a guard-less name to pass to [`drop_database`].
pub async fn fresh_server_database(admin_url: &str) -> (String, String) {
    glint_db::testing::create_database(admin_url, "glint_test").await
}

pub use glint_db::testing::drop_database;

async fn drop_server_db(server: &Server) {
    drop_database(&server.admin_url, &server.name, server.postgres).await;
}

/// 2026-01-01T00:00:00Z plus `seconds` and `micros`.
pub fn at(seconds: i64, micros: i64) -> Timestamp {
    from_micros(1_767_225_600_000_000 + seconds * 1_000_000 + micros)
}

/// A queued image with every optional field empty.
pub fn bare_image(owner: Option<&str>, visibility: Visibility, created: Timestamp) -> Image {
    Image {
        visibility,
        owner: owner.map(str::to_string),
        ..Image::queued(ImageId::new_random(), created)
    }
}

/// An active image with every field set, including children.
pub fn full_image(owner: &str) -> Image {
    let mut image = bare_image(Some(owner), Visibility::Public, at(10, 123_456));
    image.name = Some("cirros-0.6.2".into());
    image.status = ImageStatus::Active;
    image.protected = true;
    image.os_hidden = true;
    image.checksum = Some("d41d8cd98f00b204e9800998ecf8427e".into());
    image.os_hash_algo = Some("sha512".into());
    image.os_hash_value = Some("cf83e1357eefb8bdf1542850d66d8007".repeat(4));
    image.size = Some(21_430_272);
    image.virtual_size = Some(117_440_512);
    image.container_format = Some("bare".into());
    image.disk_format = Some("qcow2".into());
    image.min_ram = 512;
    image.min_disk = 1;
    image.updated_at = at(20, 654_321);
    image.tags = vec!["zeta".into(), "alpha".into(), "Mixed Case".into()];
    image.properties.insert("hw_disk_bus".into(), "scsi".into());
    image.properties.insert("os_distro".into(), "cirros".into());
    image.properties.insert(
        "description".into(),
        "ünïcode ✓ and a long text ".repeat(20),
    );
    let mut first = Location::new("file:///var/lib/glint/images/a", "fast");
    first.metadata.insert(
        "nested".into(),
        serde_json::json!({"k": [1, 2, 3], "b": true}),
    );
    let mut second = Location::new("s3://bucket/a", "slow");
    second.status = "pending_delete".into();
    image.locations = vec![first, second];
    image
}
