//! The database's own limits: statement timeouts, bounded error text,
//! values a database refuses, and exact text comparison.

use crate::common;

use std::time::{Duration, Instant};

use common::listing::{admin, names, set};
use common::{at, bare_image, drop_database, fresh_server_database, on_every_db};
use glint_db::testing::{
    holding_a_connection, postgres_plans_made_without_values, run_statement, scalar, scalar_read,
};
use glint_db::{ConnectOptions, Database, DbError, Dialect, ErrorText, InvalidValue};
use glint_model::Visibility;

/// Every configured server database, opened with a short statement timeout.
async fn with_timeout(timeout: Duration, test: impl AsyncFn(&Database)) {
    for var in ["GLINT_TEST_POSTGRES_URL", "GLINT_TEST_MYSQL_URL"] {
        let Ok(admin_url) = std::env::var(var) else {
            continue;
        };
        let (url, name) = fresh_server_database(&admin_url).await;
        let options = ConnectOptions {
            statement_timeout: Some(timeout),
            ..ConnectOptions::default()
        };
        let db = Database::connect_with(&url, &options).await.unwrap();
        test(&db).await;
        db.close().await;
        drop_database(&admin_url, &name, var.contains("POSTGRES")).await;
    }
}

fn sleep_sql(db: &Database, seconds: u32) -> String {
    match db.dialect() {
        Dialect::Postgres => format!("SELECT pg_sleep({seconds})"),
        _ => format!("SELECT SLEEP({seconds})"),
    }
}

#[tokio::test]
async fn a_statement_over_the_timeout_is_cancelled_as_unavailable() {
    let timeout = Duration::from_millis(300);
    with_timeout(timeout, async |db: &Database| {
        let started = Instant::now();
        let result = run_statement(db, &sleep_sql(db, 20), &[]).await;
        let took = started.elapsed();
        assert!(matches!(result, Err(DbError::Unavailable(_))), "{result:?}");
        assert!(
            took >= timeout && took < Duration::from_secs(10),
            "{took:?}"
        );
        // The connection goes on serving, under the same limit.
        db.ping().await.unwrap();
        let again = run_statement(db, &sleep_sql(db, 20), &[]).await;
        assert!(matches!(again, Err(DbError::Unavailable(_))), "{again:?}");
    })
    .await;
}

fn connection_id_sql(db: &Database) -> &'static str {
    match db.dialect() {
        Dialect::Postgres => "SELECT pg_backend_pid()::bigint",
        _ => "SELECT CAST(CONNECTION_ID() AS SIGNED)",
    }
}

/// A list page's statements run on one connection its handle holds. A
/// statement that fails there (cancelled at the timeout, or its connection
/// cut) gives the connection back to the pool, and the handle's next read
/// takes one from the pool again.
#[tokio::test]
async fn a_held_connection_serves_its_handle_until_a_statement_fails() {
    let timeout = Duration::from_millis(300);
    with_timeout(timeout, async |db: &Database| {
        let held = holding_a_connection(db).await.unwrap();
        let id = connection_id_sql(db);
        let first = scalar_read(&held, id).await.unwrap();
        // Meanwhile the pool serves others with other connections.
        assert_ne!(scalar(db, id).await.unwrap(), first);
        let query = Default::default();
        let listed = held.list_images(&query, 10, None, &admin(None)).await;
        assert!(listed.unwrap().is_empty());
        for _ in 0..3 {
            assert_eq!(scalar_read(&held, id).await.unwrap(), first);
        }
        let late = scalar_read(&held, &sleep_sql(db, 20)).await;
        assert!(matches!(late, Err(DbError::Unavailable(_))), "{late:?}");
        let next = scalar_read(&held, id).await.unwrap();
        assert_eq!(scalar_read(&held, id).await.unwrap(), next);
        let kill = match db.dialect() {
            // (Waiting up to 5 s for the backend to be gone.)
            Dialect::Postgres => format!("SELECT pg_terminate_backend({next}, 5000)"),
            _ => format!("KILL {next}"),
        };
        run_statement(db, &kill, &[]).await.unwrap();
        assert!(scalar_read(&held, id).await.is_err());
        let after = scalar_read(&held, id).await.unwrap();
        assert_ne!(after, next);
        assert_eq!(scalar_read(&held, id).await.unwrap(), after);
    })
    .await;
}

/// A list page dropped while one of its statements runs (its client went
/// away) drops the connection it held mid-statement: the pool settles it,
/// and both the pool and the handle go on serving.
#[tokio::test]
async fn a_held_connection_dropped_mid_statement_leaves_the_pool_serving() {
    let timeout = Duration::from_millis(300);
    with_timeout(timeout, async |db: &Database| {
        let held = holding_a_connection(db).await.unwrap();
        let id = connection_id_sql(db);
        scalar_read(&held, id).await.unwrap();
        let sleep = sleep_sql(db, 20);
        let dropped = tokio::time::timeout(Duration::from_millis(50), scalar_read(&held, &sleep));
        assert!(dropped.await.is_err(), "the read should still be running");
        let started = Instant::now();
        let next = scalar_read(&held, id).await.unwrap();
        assert_eq!(scalar_read(&held, id).await.unwrap(), next);
        scalar(db, id).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    })
    .await;
}

/// A SQLite statement that would count for minutes.
const LONG_SQLITE_READ: &str = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL \
     SELECT x + 1 FROM c WHERE x < 100000000000) SELECT COUNT(*) FROM c";

/// A SQLite file whose readers have `timeout` as their time limit.
async fn sqlite_with_timeout(dir: &tempfile::TempDir, timeout: Option<Duration>) -> Database {
    let url = format!("sqlite://{}/glint.db", dir.path().display());
    let options = ConnectOptions {
        statement_timeout: timeout,
        ..ConnectOptions::default()
    };
    Database::connect_with(&url, &options).await.unwrap()
}

/// SQLite has no statement timeout; a read on its readers is stopped at
/// the time limit all the same, as unavailable (503), and the reader goes
/// on serving.
#[tokio::test]
async fn a_sqlite_read_over_the_timeout_is_stopped_as_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let timeout = Duration::from_millis(300);
    let db = sqlite_with_timeout(&dir, Some(timeout)).await;
    for _ in 0..2 {
        let started = Instant::now();
        let result = glint_db::testing::read_scalar(&db, LONG_SQLITE_READ).await;
        let took = started.elapsed();
        assert!(matches!(result, Err(DbError::Unavailable(_))), "{result:?}");
        assert!(
            took >= timeout && took < Duration::from_secs(10),
            "{took:?}"
        );
    }
    let quick = glint_db::testing::read_scalar(&db, "SELECT 7").await;
    assert_eq!(quick.unwrap(), 7);
    db.close().await;
}

/// A read whose caller stopped waiting (its request was cancelled, its
/// client went away) stops too, without a time limit: the readers, a
/// handful, are free again at once rather than held until every
/// abandoned read ends.
#[tokio::test]
async fn an_abandoned_sqlite_read_stops_and_frees_its_reader() {
    let dir = tempfile::tempdir().unwrap();
    let db = sqlite_with_timeout(&dir, None).await;
    // More than there are readers.
    let reads: Vec<_> = (0..8)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { glint_db::testing::read_scalar(&db, LONG_SQLITE_READ).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for read in &reads {
        assert!(!read.is_finished(), "a long read ended by itself");
        read.abort();
    }
    let started = Instant::now();
    let quick = tokio::time::timeout(
        Duration::from_secs(20),
        glint_db::testing::read_scalar(&db, "SELECT 7"),
    )
    .await
    .expect("a reader is free again");
    assert_eq!(quick.unwrap(), 7);
    assert!(started.elapsed() < Duration::from_secs(5));
    db.close().await;
}

/// A throw-away database is dropped even while a session on it is in the
/// middle of a transaction, as a worker of a test's app may be when the
/// test ends (MariaDB's drop once waited for its locks for ten minutes).
#[tokio::test]
async fn a_test_database_is_dropped_under_an_open_transaction() {
    use sqlx::Connection;
    for var in ["GLINT_TEST_POSTGRES_URL", "GLINT_TEST_MYSQL_URL"] {
        let Ok(admin_url) = std::env::var(var) else {
            continue;
        };
        let postgres = var.contains("POSTGRES");
        let (url, name) = fresh_server_database(&admin_url).await;
        let db = Database::connect(&url).await.unwrap();
        db.close().await;
        sqlx::any::install_default_drivers();
        let mut held = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::raw_sql("BEGIN").execute(&mut held).await.unwrap();
        sqlx::raw_sql("SELECT COUNT(*) FROM images")
            .execute(&mut held)
            .await
            .unwrap();
        tokio::time::timeout(
            Duration::from_secs(30),
            drop_database(&admin_url, &name, postgres),
        )
        .await
        .expect("the drop waited on the open transaction");
        // The held session was ended.
        let after = sqlx::raw_sql("SELECT 1").execute(&mut held).await;
        assert!(after.is_err(), "{var}: the session is still open");
    }
}

/// PostgreSQL starts no parallel workers for glint's statements (pages and
/// bounded counts, which the workers' start-up outlasted).
#[tokio::test]
async fn postgres_sessions_start_no_parallel_workers() {
    on_every_db(|db| async move {
        if db.dialect() != Dialect::Postgres {
            return;
        }
        let sql = "SELECT current_setting('max_parallel_workers_per_gather')::bigint";
        // On each connection of the pool, not only the first.
        let (a, b, c, d) = tokio::join!(
            scalar(&db, sql),
            scalar(&db, sql),
            scalar(&db, sql),
            scalar(&db, sql)
        );
        for workers in [a, b, c, d] {
            assert_eq!(workers.unwrap(), 0);
        }
    })
    .await;
}

/// PostgreSQL plans every statement of a list page for its values: a plan
/// made without them, which it may keep for a prepared statement after
/// five executions, was ten times slower for a member's page behind two
/// tags.
#[tokio::test]
async fn postgres_plans_every_statement_for_its_values() {
    on_every_db(|db| async move {
        if db.dialect() != Dialect::Postgres {
            return;
        }
        for name in ["a", "b", "c"] {
            common::listing::add(&db, name, Some("p"), Visibility::Public).await;
        }
        let member = glint_db::Viewer {
            project_id: Some("p".into()),
            is_admin: false,
        };
        for _ in 0..20 {
            assert_eq!(
                names(&db, &[("sort_key", "name")], &member).await,
                set(&["a", "b", "c"])
            );
            assert_eq!(
                names(&db, &[("name", "b")], &admin(None)).await,
                set(&["b"])
            );
        }
        let generic = postgres_plans_made_without_values(&db).await.unwrap();
        assert_eq!(generic, 0, "plans made without the values");
    })
    .await;
}

#[tokio::test]
async fn migrations_are_not_bound_by_the_statement_timeout() {
    // A timeout shorter than any migration: connecting (which migrates a
    // fresh database) still succeeds.
    with_timeout(Duration::from_millis(1), async |db: &Database| {
        let image = bare_image(Some("p"), Visibility::Public, at(0, 0));
        match db.create_image(&image).await {
            Ok(()) | Err(DbError::Unavailable(_)) => {}
            Err(e) => panic!("{e}"),
        }
    })
    .await;
}

#[tokio::test]
async fn error_text_never_carries_a_whole_value() {
    on_every_db(|db| async move {
        let huge = "x".repeat(8 * 1024 * 1024);
        // PostgreSQL quotes the value in its message.
        let sql = match db.dialect() {
            Dialect::Postgres => "SELECT CAST($1 AS BIGINT)",
            Dialect::MySql => "SELECT * FROM no_such_table WHERE x = ?",
            Dialect::Sqlite => "SELECT * FROM no_such_table WHERE x = ?",
        };
        let err = run_statement(&db, sql, &[&huge]).await.unwrap_err();
        let text = err.to_string();
        assert!(text.len() < ErrorText::MAX + 100, "{} bytes", text.len());
        assert!(matches!(err, DbError::Internal(_)), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn values_the_database_cannot_store_are_invalid_not_internal() {
    on_every_db(|db| async move {
        let mut nul = bare_image(Some("p"), Visibility::Public, at(0, 0));
        nul.properties.insert("k".into(), "a\u{0}b".into());
        let result = db.create_image(&nul).await;
        match db.dialect() {
            Dialect::Postgres => assert!(
                matches!(result, Err(DbError::InvalidValue(InvalidValue::Character))),
                "{result:?}"
            ),
            _ => assert_eq!(db.get_image(nul.id).await.unwrap(), Some(nul)),
        }
        let mut long = bare_image(Some("p"), Visibility::Public, at(1, 0));
        long.disk_format = Some("f".repeat(40));
        let result = db.create_image(&long).await;
        match db.dialect() {
            Dialect::Sqlite => result.unwrap(),
            _ => assert!(
                matches!(result, Err(DbError::InvalidValue(InvalidValue::TooLong))),
                "{result:?}"
            ),
        }
    })
    .await;
}

#[tokio::test]
async fn text_is_stored_and_matched_exactly() {
    on_every_db(|db| async move {
        let mut plain = bare_image(Some("p"), Visibility::Public, at(0, 0));
        plain.name = Some("a".into());
        plain.tags = vec!["t".into(), "t ".into()];
        plain.properties.insert("k".into(), "v".into());
        plain.properties.insert("k ".into(), "v ".into());
        db.create_image(&plain).await.unwrap();
        let mut spaced = bare_image(Some("p "), Visibility::Public, at(1, 0));
        spaced.name = Some("a ".into());
        db.create_image(&spaced).await.unwrap();
        assert_eq!(db.get_image(plain.id).await.unwrap(), Some(plain.clone()));

        let viewer = admin(None);
        assert_eq!(names(&db, &[("name", "a")], &viewer).await, set(&["a"]));
        assert_eq!(names(&db, &[("name", "a ")], &viewer).await, set(&["a "]));
        assert_eq!(names(&db, &[("k", "v")], &viewer).await, set(&["a"]));
        assert!(names(&db, &[("k", "v ")], &viewer).await.is_empty());
        assert_eq!(names(&db, &[("owner", "p")], &viewer).await, set(&["a"]));
        assert_eq!(db.count_images_owned("p ").await.unwrap(), 1);
    })
    .await;
}
