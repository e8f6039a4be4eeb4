//! The database goes away under a running `glint serve`: every request
//! answers 503 in Glance's error shape within the configured bounds (none
//! hangs, none is a 500), images stay as they were, and once the database
//! is back the same process serves again without a restart. The database
//! is reached through a forwarder the test controls (`common::proxy`),
//! stopped (unreachable) or paused (frozen).

use crate::common;

use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

use common::proxy::Proxy;
use common::{Server, ServerDatabase, ServerKind, Setup};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};

/// `[database] pool_timeout`: how long a request waits for a connection.
const POOL_TIMEOUT: Duration = Duration::from_secs(1);
/// `[glint] database_statement_timeout`.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(1);
/// The longest any request may take while the database is away: the
/// connection wait, or the statement timeout and glint's grace, with room
/// for a busy machine.
const ANSWER_WITHIN: Duration = Duration::from_secs(12);

const UNAVAILABLE: &str = "The server is currently unavailable. Please try again at a later time.";

/// `url` with its host and port replaced by the proxy's.
fn through(url: &str, proxy: &Proxy) -> String {
    let mut url = url::Url::parse(url).expect("database URL");
    url.set_host(Some("127.0.0.1")).unwrap();
    url.set_port(Some(proxy.port)).unwrap();
    url.to_string()
}

fn target_of(url: &str) -> std::net::SocketAddr {
    let url = url::Url::parse(url).expect("database URL");
    let host = url.host_str().expect("host");
    let port = url.port_or_known_default().unwrap_or(match url.scheme() {
        "mysql" => 3306,
        _ => 5432,
    });
    (host, port).to_socket_addrs().unwrap().next().unwrap()
}

/// A 503 with Glance's error body.
async fn expect_unavailable(resp: Response, what: &str) {
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE, "{what}");
    let body: Value = resp.json().await.expect("a JSON error body");
    assert_eq!(body["code"], "503 Service Unavailable", "{what}: {body:#}");
    assert_eq!(body["title"], "Service Unavailable", "{what}: {body:#}");
    let message = body["message"].as_str().unwrap_or_default();
    assert!(message.starts_with(UNAVAILABLE), "{what}: {body:#}");
    assert!(
        !message.contains("database"),
        "no internal detail: {body:#}"
    );
}

/// Every kind of request, each answered 503 within [`ANSWER_WITHIN`].
async fn every_request_is_unavailable(client: &Client, server: &Server, id: &str) {
    let image = server.url(&format!("/v2/images/{id}"));
    let requests = vec![
        ("show", client.get(&image)),
        ("list", client.get(server.url("/v2/images"))),
        (
            "patch",
            client
                .patch(&image)
                .header(
                    "Content-Type",
                    "application/openstack-images-v2.1-json-patch",
                )
                .body(json!([{"op": "add", "path": "/k", "value": "v"}]).to_string()),
        ),
        ("add tag", client.put(format!("{image}/tags/t"))),
        ("members", client.get(format!("{image}/members"))),
        (
            "upload",
            client
                .put(format!("{image}/file"))
                .header("Content-Type", "application/octet-stream")
                .body(vec![1u8; 4096]),
        ),
        ("download", client.get(format!("{image}/file"))),
        ("delete", client.delete(&image)),
        (
            "create",
            client
                .post(server.url("/v2/images"))
                .json(&json!({"name": "n"})),
        ),
    ];
    answered_503(server, requests).await;
}

async fn answered_503(server: &Server, requests: Vec<(&str, reqwest::RequestBuilder)>) {
    for (what, request) in requests {
        let started = Instant::now();
        let request = request.header("Accept", "application/json");
        let resp = tokio::time::timeout(ANSWER_WITHIN, request.send())
            .await
            .unwrap_or_else(|_| panic!("{what} hung:\n{}", server.logs()))
            .unwrap();
        expect_unavailable(resp, what).await;
        eprintln!("{what}: 503 after {:?}", started.elapsed());
    }
}

/// Waits for the server to answer a show with 200 again; the image.
async fn served_again(client: &Client, server: &Server, id: &str) -> Value {
    let deadline = Instant::now() + ANSWER_WITHIN;
    loop {
        let resp = client
            .get(server.url(&format!("/v2/images/{id}")))
            .send()
            .await
            .unwrap();
        if resp.status() == StatusCode::OK {
            return resp.json().await.unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "still {} after the database came back:\n{}",
            resp.status(),
            server.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn still_works(client: &Client, server: &Server, id: &str) {
    let resp = client
        .patch(server.url(&format!("/v2/images/{id}")))
        .header(
            "Content-Type",
            "application/openstack-images-v2.1-json-patch",
        )
        .body(json!([{"op": "add", "path": "/after", "value": "yes"}]).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK, "{}", server.logs());
    let body = json!({"name": "later", "disk_format": "raw", "container_format": "bare"});
    let later = server.create_image(client, body).await;
    let resp = client
        .put(server.url(&format!("/v2/images/{later}/file")))
        .header("Content-Type", "application/octet-stream")
        .body(vec![2u8; 4096])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT, "{}", server.logs());
}

/// A server on `db` through `proxy`, with an active image and a queued one.
async fn serving(
    db: &ServerDatabase,
    proxy: &Proxy,
    client: &Client,
) -> (Setup, Server, String, String) {
    let direct = Setup::on_database(&db.url, "");
    direct.glint(&["db", "sync"]).ok();
    let setup = Setup::with_config(&format!(
        "database_statement_timeout = {}\n\n[database]\nconnection = {}\npool_timeout = {}\n",
        STATEMENT_TIMEOUT.as_secs(),
        through(&db.url, proxy),
        POOL_TIMEOUT.as_secs(),
    ));
    let mut server = setup.start();
    server.wait_ready(client).await;
    let body = json!({"name": "kept", "disk_format": "raw", "container_format": "bare",
                      "tags": ["before"]});
    let active = server.create_image(client, body).await;
    let resp = client
        .put(server.url(&format!("/v2/images/{active}/file")))
        .header("Content-Type", "application/octet-stream")
        .body(vec![9u8; 8192])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let body = json!({"name": "empty", "disk_format": "raw", "container_format": "bare"});
    let queued = server.create_image(client, body).await;
    (setup, server, active, queued)
}

async fn image(client: &Client, server: &Server, id: &str) -> Value {
    served_again(client, server, id).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_gives_503_and_the_same_process_serves_when_it_is_back() {
    for (kind, admin) in ServerKind::configured() {
        eprintln!("running on {kind:?}");
        let db = ServerDatabase::create(kind, &admin).await;
        let proxy = Proxy::start(target_of(&db.url)).await;
        let client = Client::new();
        let (setup, mut server, active, queued) = serving(&db, &proxy, &client).await;
        let before = (
            image(&client, &server, &active).await,
            image(&client, &server, &queued).await,
        );

        proxy.stop();
        every_request_is_unavailable(&client, &server, &active).await;
        let upload = client
            .put(server.url(&format!("/v2/images/{queued}/file")))
            .header("Content-Type", "application/octet-stream")
            .body(vec![1u8; 4096]);
        answered_503(&server, vec![("upload of a queued image", upload)]).await;
        proxy.restart().await;

        let after = (
            served_again(&client, &server, &active).await,
            image(&client, &server, &queued).await,
        );
        assert_eq!(after, before, "the images are as they were");
        assert_eq!(
            setup.store_files(),
            std::slice::from_ref(&active),
            "no data but the active image's"
        );
        still_works(&client, &server, &queued).await;
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "the same process"
        );
        let logs = server.logs();
        assert!(logs.contains("dependency unavailable"), "{logs}");
        assert!(!logs.contains("internal error"), "{logs}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_database_gives_503_within_bounds_and_service_resumes() {
    for (kind, admin) in ServerKind::configured() {
        eprintln!("running on {kind:?}");
        let db = ServerDatabase::create(kind, &admin).await;
        let proxy = Proxy::start(target_of(&db.url)).await;
        let client = Client::new();
        let (_setup, server, active, queued) = serving(&db, &proxy, &client).await;
        let before = image(&client, &server, &queued).await;

        proxy.pause();
        every_request_is_unavailable(&client, &server, &queued).await;
        proxy.resume();
        assert_eq!(served_again(&client, &server, &queued).await, before);

        // A statement already running when the database freezes: the
        // server's own cancellation cannot arrive, glint stops waiting.
        let mut holder = lock_row(kind, &db.url, &queued).await;
        let url = server.url(&format!("/v2/images/{queued}"));
        let patch = client
            .patch(url)
            .header("Accept", "application/json")
            .header(
                "Content-Type",
                "application/openstack-images-v2.1-json-patch",
            )
            .body(json!([{"op": "add", "path": "/k", "value": "v"}]).to_string());
        let started = Instant::now();
        let waiting = tokio::spawn(patch.send());
        tokio::time::sleep(Duration::from_millis(500)).await;
        proxy.pause();
        let resp = tokio::time::timeout(ANSWER_WITHIN, waiting)
            .await
            .unwrap_or_else(|_| panic!("the PATCH hung:\n{}", server.logs()))
            .unwrap()
            .unwrap();
        let waited = started.elapsed();
        expect_unavailable(resp, "patch waiting on a lock").await;
        let deadline = STATEMENT_TIMEOUT + glint_db::ANSWER_GRACE;
        assert!(waited >= deadline, "answered after {waited:?}");
        eprintln!("patch in flight: 503 after {waited:?}");
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut holder)
            .await
            .unwrap();
        proxy.resume();

        assert_eq!(served_again(&client, &server, &queued).await, before);
        still_works(&client, &server, &active).await;
    }
}

/// A connection of the test's own, straight to the database, holding the
/// row of image `id` locked.
async fn lock_row(kind: ServerKind, url: &str, id: &str) -> sqlx::AnyConnection {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(url).await.expect("connect");
    sqlx::raw_sql("BEGIN").execute(&mut conn).await.unwrap();
    let placeholder = match kind {
        ServerKind::Postgres => "$1",
        ServerKind::Mysql => "?",
    };
    let lock = format!("SELECT id FROM images WHERE id = {placeholder} FOR UPDATE");
    sqlx::query(sqlx::AssertSqlSafe(lock))
        .bind(id.to_owned())
        .fetch_all(&mut conn)
        .await
        .expect("lock the image row");
    conn
}
