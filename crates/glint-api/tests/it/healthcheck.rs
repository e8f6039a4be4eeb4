//! `/healthcheck` as oslo.middleware answers it in Glance (plain `OK`,
//! 204 for `HEAD`, JSON or HTML by `Accept`, `DISABLED BY FILE`), plus
//! glint's checks of the database and the stores: a failing one gives 503
//! with its reason, its details only in detailed mode and without secrets,
//! and a flood of health checks reaches the dependencies once per second.

use crate::common;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::TestApp;
use glint_core::{HealthCheck, HealthConfig};
use glint_model::ImageId;
use glint_store::{ByteRange, ByteStream, ObjectData, Store, StoreError, Stored};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::Value;

/// A store whose check fails on demand, with an error text holding
/// credentials, and which counts its checks.
#[derive(Debug)]
struct CheckedStore {
    inner: Arc<dyn Store>,
    down: Arc<AtomicBool>,
    checks: Arc<AtomicUsize>,
}

const SECRET_URL: &str =
    "https://glance:s3cr3t-pass@objects.example:8443/v1/AUTH_x?temp_url_sig=f00d";

#[async_trait::async_trait]
impl Store for CheckedStore {
    fn id(&self) -> &str {
        self.inner.id()
    }
    fn owns(&self, url: &str) -> bool {
        self.inner.owns(url)
    }
    async fn put(&self, image_id: ImageId, data: ByteStream) -> Result<Stored, StoreError> {
        self.inner.put(image_id, data).await
    }
    async fn get(&self, url: &str, range: Option<ByteRange>) -> Result<ObjectData, StoreError> {
        self.inner.get(url, range).await
    }
    async fn delete(&self, url: &str) -> Result<(), StoreError> {
        self.inner.delete(url).await
    }
    async fn discard(&self, image_id: ImageId) -> Result<(), StoreError> {
        self.inner.discard(image_id).await
    }
    async fn check(&self) -> Result<(), StoreError> {
        self.checks.fetch_add(1, Ordering::SeqCst);
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(format!(
                "error sending request for url ({SECRET_URL}): connection refused"
            )));
        }
        self.inner.check().await
    }
}

struct Health {
    app: TestApp,
    disable_file: PathBuf,
    store_down: Arc<AtomicBool>,
    store_checks: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

async fn health_app(detailed: bool) -> Health {
    let dir = tempfile::tempdir().unwrap();
    let disable_file = dir.path().join("healthcheck_disable");
    let (down, checks) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let (store_down, store_checks) = (Arc::clone(&down), Arc::clone(&checks));
    let path = disable_file.clone();
    let app = TestApp::builder()
        .api_config(move |c| {
            c.health_detailed = detailed;
            c.health.checks = vec![
                HealthCheck::DisableByFile { path: Some(path) },
                HealthCheck::Database,
                HealthCheck::Stores,
            ];
        })
        .wrap_store(Box::new(move |inner| {
            Arc::new(CheckedStore {
                inner,
                down: store_down,
                checks: store_checks,
            })
        }))
        .start()
        .await;
    Health {
        app,
        disable_file,
        store_down: down,
        store_checks: checks,
        _dir: dir,
    }
}

/// Status, content type and body of `GET /healthcheck` with `accept`.
async fn get(app: &TestApp, accept: Option<&str>) -> (StatusCode, String, String) {
    // No default headers: the client of the app sends JSON's Accept.
    let client = reqwest::Client::new();
    let mut request = client.get(app.url("/healthcheck"));
    if let Some(accept) = accept {
        request = request.header(ACCEPT, accept);
    }
    let resp = request.send().await.unwrap();
    let status = resp.status();
    let content_type = resp.headers()[CONTENT_TYPE].to_str().unwrap().to_owned();
    (status, content_type, resp.text().await.unwrap())
}

/// Waits out the reuse of the last report.
async fn next_report() {
    tokio::time::sleep(HealthConfig::default().reuse_for + Duration::from_millis(50)).await;
}

#[tokio::test]
async fn a_healthy_node_answers_ok_in_every_shape() {
    let h = health_app(false).await;
    let (status, content_type, body) = get(&h.app, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/plain; charset=UTF-8");
    assert_eq!(body, "OK\nOK\nOK");

    let (status, content_type, body) = get(&h.app, Some("application/json")).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, "application/json")
    );
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"detailed": false, "reasons": ["OK", "OK", "OK"]})
    );
    assert!(body.contains("\n    \"detailed\": false"), "{body}");

    let (status, content_type, body) = get(&h.app, Some("text/html")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/html; charset=UTF-8");
    assert!(body.starts_with("<HTML>"), "{body}");
    assert!(body.contains("<H2>Result of 3 checks:</H2>"), "{body}");
    assert!(
        !body.contains("Details"),
        "no details unless detailed: {body}"
    );

    let resp = reqwest::Client::new()
        .head(h.app.url("/healthcheck"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(resp.text().await.unwrap(), "");
}

#[tokio::test]
async fn the_disable_file_takes_the_node_out() {
    let h = health_app(false).await;
    std::fs::write(&h.disable_file, b"").unwrap();
    let (status, _, body) = get(&h.app, None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, "DISABLED BY FILE\nOK\nOK");
    let resp = reqwest::Client::new()
        .head(h.app.url("/healthcheck"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);

    std::fs::remove_file(&h.disable_file).unwrap();
    next_report().await;
    assert_eq!(get(&h.app, None).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_store_that_is_down_gives_503_and_details_only_when_detailed() {
    for detailed in [false, true] {
        let h = health_app(detailed).await;
        h.store_down.store(true, Ordering::SeqCst);
        let (status, _, body) = get(&h.app, None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body, "OK\nOK\nSTORE UNAVAILABLE: file");

        let (status, _, body) = get(&h.app, Some("application/json")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        let (_, _, html) = get(&h.app, Some("text/html")).await;
        for shown in [&body, &html] {
            for secret in ["s3cr3t-pass", "glance:", "temp_url_sig", "f00d"] {
                assert!(!shown.contains(secret), "{secret} shown: {shown}");
            }
        }
        let json: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["detailed"], detailed);
        if !detailed {
            assert!(!body.contains("objects.example"), "{body}");
            assert!(!html.contains("objects.example"), "{html}");
            continue;
        }
        let store = &json["reasons"][2];
        assert_eq!(store["class"], "StoreHealthcheck");
        assert_eq!(store["reason"], "STORE UNAVAILABLE: file");
        let details = store["details"].as_str().unwrap();
        assert!(
            details.contains("https://objects.example:8443/v1/AUTH_x"),
            "the URL, redacted: {details}"
        );
        assert_eq!(json["reasons"][1]["class"], "DatabaseHealthcheck");
        assert!(
            json["now"].is_string() && json["platform"].is_string(),
            "{json:#}"
        );
        assert!(html.contains("<TD>StoreHealthcheck</TD>"), "{html}");

        h.store_down.store(false, Ordering::SeqCst);
        next_report().await;
        assert_eq!(get(&h.app, None).await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_database_that_is_down_gives_503_quickly() {
    let h = health_app(true).await;
    h.app.db().close().await;
    let started = Instant::now();
    let (status, _, body) = get(&h.app, Some("application/json")).await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        json["reasons"][1]["reason"], "DATABASE UNAVAILABLE",
        "{json:#}"
    );
    assert_eq!(json["reasons"][0]["reason"], "OK");
    assert_eq!(json["reasons"][2]["reason"], "OK");
}

#[tokio::test]
async fn needs_no_identity_and_ignores_forged_roles() {
    let h = health_app(false).await;
    let resp = h
        .app
        .as_user("p1", "reader")
        .get("/healthcheck")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_flood_of_health_checks_reaches_the_store_once_per_interval() {
    let h = health_app(false).await;
    let started = Instant::now();
    let requests = (0..200).map(|_| get(&h.app, None));
    let answers = futures::future::join_all(requests).await;
    assert!(answers.iter().all(|(status, ..)| *status == StatusCode::OK));
    let intervals =
        started.elapsed().as_secs_f64() / HealthConfig::default().reuse_for.as_secs_f64();
    let checks = h.store_checks.load(Ordering::SeqCst);
    assert!(
        checks as f64 <= intervals.ceil() + 1.0,
        "{checks} store checks in {:?}",
        started.elapsed()
    );
}
