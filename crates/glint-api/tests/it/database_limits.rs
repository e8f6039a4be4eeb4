//! The database's own limits: statements that run too long answer 503,
//! values a database cannot store answer 400, and text is stored and
//! matched exactly (no trailing-space folding) on every backend.

use crate::common;

use std::time::{Duration, Instant};

use common::{Backend, TestApp, expect_error, expect_status, id_of, names, on_every_backend};
use reqwest::StatusCode;
use serde_json::json;
use sqlx::{AnyConnection, AssertSqlSafe, Connection};

const STATEMENT_TIMEOUT: Duration = Duration::from_millis(500);
/// How long the test holds its lock at most: far beyond the timeout.
const LOCK_HELD: Duration = Duration::from_secs(20);

/// A connection of the test's own holding image `id`'s row locked, in a
/// transaction, until [`release`]d (PostgreSQL and MySQL/MariaDB).
async fn lock_image_row(app: &TestApp, id: &str) -> AnyConnection {
    let placeholder = if app.database_url().starts_with("postgres") {
        "$1"
    } else {
        "?"
    };
    let mut holder = AnyConnection::connect(app.database_url()).await.unwrap();
    sqlx::raw_sql("BEGIN").execute(&mut holder).await.unwrap();
    let lock = format!("SELECT id FROM images WHERE id = {placeholder} FOR UPDATE");
    sqlx::query(AssertSqlSafe(lock))
        .bind(id.to_string())
        .fetch_all(&mut holder)
        .await
        .unwrap();
    holder
}

async fn release(mut holder: AnyConnection) {
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    holder.close().await.unwrap();
}

/// A statement waiting on a row lock longer than the statement timeout is
/// cancelled by the server: the request answers 503 in Glance's shape, and
/// the server goes on answering other requests at once.
#[tokio::test]
async fn a_statement_running_past_the_timeout_answers_503() {
    for backend in Backend::configured() {
        if matches!(backend, Backend::Sqlite) {
            continue;
        }
        eprintln!("running on {backend:?}");
        let app = TestApp::builder()
            .backend(backend)
            .database_options(|o| o.statement_timeout = Some(STATEMENT_TIMEOUT))
            .start()
            .await;
        let id = app.create_raw_image("locked").await;
        let holder = lock_image_row(&app, &id).await;

        let started = Instant::now();
        let ops = json!([{"op": "add", "path": "/k", "value": "v"}]);
        let admin = app.admin();
        let patch = admin.patch(&id, ops);
        let resp = tokio::time::timeout(LOCK_HELD, patch)
            .await
            .expect("the server gave up waiting for the lock");
        let waited = started.elapsed();
        let message = expect_error(resp, StatusCode::SERVICE_UNAVAILABLE).await;
        assert_eq!(
            message,
            "The server is currently unavailable. Please try again at a later time."
        );
        assert!(waited >= STATEMENT_TIMEOUT, "answered after {waited:?}");
        let started = Instant::now();
        app.image(&id).await;
        assert!(
            started.elapsed() < STATEMENT_TIMEOUT,
            "the server still answers"
        );
        release(holder).await;
        let ops = json!([{"op": "add", "path": "/k", "value": "v"}]);
        expect_status(app.admin().patch(&id, ops).await, StatusCode::OK).await;
    }
}

/// A request whose client leaves while it waits on the database runs to
/// its end all the same, as Glance's workers do: given up halfway, its
/// database exchange would be dropped in the middle, and the pooled
/// connection could be lost for good (cut short often enough, every
/// connection of the pool, and each request after answered 503). More
/// clients than the pool has connections leave while their changes wait
/// on a row lock; once it is released, their changes are made, and the
/// server answers at once.
#[tokio::test]
async fn requests_whose_clients_left_run_to_their_end() {
    const CUT: usize = 12;
    for backend in Backend::configured() {
        if matches!(backend, Backend::Sqlite) {
            continue;
        }
        eprintln!("running on {backend:?}");
        let app = TestApp::builder().backend(backend).start().await;
        let id = app.create_raw_image("locked").await;
        let holder = lock_image_row(&app, &id).await;
        let admin = app.admin();
        for i in 0..CUT {
            let ops = json!([{"op": "add", "path": format!("/left-{i}"), "value": "v"}]);
            let cut = tokio::time::timeout(Duration::from_millis(200), admin.patch(&id, ops)).await;
            assert!(cut.is_err(), "a change answered while its row was locked");
        }
        release(holder).await;
        // The changes waited for the row: once it is free they are made in
        // turn, or refused where one made first changed what they read.
        let started = Instant::now();
        let made = loop {
            let image = app.image(&id).await;
            let made = (0..CUT)
                .filter(|i| image.get(format!("left-{i}")).is_some())
                .count();
            if made > 0 || started.elapsed() > LOCK_HELD {
                break made;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        assert!(made >= 1, "no change made once its client had left");
        let started = Instant::now();
        let ops = json!([{"op": "add", "path": "/stayed", "value": "v"}]);
        expect_status(app.admin().patch(&id, ops).await, StatusCode::OK).await;
        app.admin().list("limit=5").await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the pool's connections came back ({:?})",
            started.elapsed()
        );
    }
}

/// A NUL character cannot be stored in PostgreSQL text: a client error
/// on every database, never a server error.
#[tokio::test]
async fn a_nul_character_is_never_a_server_error() {
    // glint refuses NUL on every database alike (PostgreSQL could not
    // store it), before the database is asked.
    on_every_backend(|app: TestApp| async move {
        let resp = app.admin().create(json!({"name": "nul\u{0}name"})).await;
        check_refused_or_kept(resp, true).await;
        let id = app.create_raw_image("target").await;
        let ops = json!([{"op": "add", "path": "/k", "value": "v\u{0}v"}]);
        check_refused_or_kept(app.admin().patch(&id, ops).await, true).await;
        let resp = app
            .put(&format!("/v2/images/{id}/tags/a%00b"))
            .send()
            .await
            .unwrap();
        check_refused_or_kept(resp, true).await;
    })
    .await;
}

/// A disk format name longer than its column (an operator may configure
/// one) is a client error on the databases that check lengths.
#[tokio::test]
async fn a_value_longer_than_its_column_is_never_a_server_error() {
    let long_format = "f".repeat(40);
    for backend in Backend::configured() {
        let server = !matches!(backend, Backend::Sqlite);
        let format = long_format.clone();
        let app = TestApp::builder()
            .backend(backend)
            .image_config(|c| c.formats.disk_formats.push(format))
            .start()
            .await;
        let body = json!({"disk_format": long_format, "container_format": "bare"});
        check_refused_or_kept(app.admin().create(body).await, server).await;
    }
}

/// `refused`: 400 in Glance's shape; otherwise the value was stored.
async fn check_refused_or_kept(resp: reqwest::Response, refused: bool) {
    let status = resp.status();
    assert!(
        !status.is_server_error(),
        "{status}: {}",
        resp.text().await.unwrap_or_default()
    );
    if refused {
        expect_error(resp, StatusCode::BAD_REQUEST).await;
    } else {
        assert!(status.is_success(), "{status}");
    }
}

#[tokio::test]
async fn tags_differing_only_by_trailing_spaces_are_two_tags() {
    on_every_backend(|app: TestApp| async move {
        let id = app.create_raw_image("spaced").await;
        for tag in ["a", "a%20", "a%20%20"] {
            let resp = app
                .put(&format!("/v2/images/{id}/tags/{tag}"))
                .send()
                .await
                .unwrap();
            expect_status(resp, StatusCode::NO_CONTENT).await;
        }
        assert_eq!(app.image(&id).await["tags"], json!(["a", "a ", "a  "]));
        let created = app
            .create_image(json!({"name": "in-body", "tags": ["b", "b "]}))
            .await;
        assert_eq!(created["tags"], json!(["b", "b "]));
        let id = id_of(&created);
        expect_status(
            app.delete(&format!("/v2/images/{id}/tags/b%20"))
                .send()
                .await
                .unwrap(),
            StatusCode::NO_CONTENT,
        )
        .await;
        assert_eq!(app.image(&id).await["tags"], json!(["b"]));
    })
    .await;
}

#[tokio::test]
async fn filters_match_names_and_properties_exactly() {
    on_every_backend(|app: TestApp| async move {
        for (name, value) in [("a", "v"), ("a ", "v ")] {
            app.create_image(json!({"name": name, "prop": value, "prop ": "other"}))
                .await;
        }
        assert_eq!(app.admin().list_names("name=a").await, ["a"]);
        assert_eq!(app.admin().list_names("name=a%20").await, ["a "]);
        assert_eq!(app.admin().list_names("prop=v").await, ["a"]);
        assert_eq!(app.admin().list_names("prop=v%20").await, ["a "]);
        let page = app.admin().list("").await;
        let image = &page["images"][0];
        assert_eq!(image["prop "], "other", "{image:#}");
        let listed = names(&page);
        assert_eq!(listed.len(), 2);
        let id = id_of(image);
        let shown = app.image(&id).await;
        assert!(shown["prop"] == "v" || shown["prop"] == "v ");
    })
    .await;
}
