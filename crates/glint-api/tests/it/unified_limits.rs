//! Per-project limits as with `use_keystone_limits`, read here from a
//! source the test sets (Keystone's own API is read in `keystone_limits.rs`
//! and `keystone_limits_real.rs`): `image_count_total` on create,
//! `image_size_total` and `image_count_uploading` on upload, with Glance's
//! 413 message, holding when many uploads run at once; `GET /v2/info/usage`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{Backend, TestApp, expect_error, expect_status, id_of, noise};
use futures::stream;
use glint_core::{LimitMap, LimitsError, LimitsSource};
use reqwest::{Body, StatusCode};
use serde_json::{Value, json};
use tokio::sync::Notify;

const MIB: u64 = 1024 * 1024;

/// Limits the test sets, read by the server as it would read Keystone's.
#[derive(Debug, Default)]
struct TestLimits {
    registered: Mutex<LimitMap>,
    projects: Mutex<HashMap<String, LimitMap>>,
    failure: Mutex<Option<LimitsError>>,
}

impl TestLimits {
    fn registered(limits: &[(&str, i64)]) -> Arc<TestLimits> {
        let source = TestLimits::default();
        *source.registered.lock().unwrap() = map(limits);
        Arc::new(source)
    }

    fn set_project(&self, project: &str, limits: &[(&str, i64)]) {
        let mut projects = self.projects.lock().unwrap();
        projects.insert(project.to_owned(), map(limits));
    }

    fn fail_with(&self, failure: Option<LimitsError>) {
        *self.failure.lock().unwrap() = failure;
    }

    fn check(&self) -> Result<(), LimitsError> {
        match self.failure.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn map(limits: &[(&str, i64)]) -> LimitMap {
    limits.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[async_trait::async_trait]
impl LimitsSource for TestLimits {
    async fn registered_limits(&self) -> Result<LimitMap, LimitsError> {
        self.check()?;
        Ok(self.registered.lock().unwrap().clone())
    }

    async fn project_limits(&self, project: &str) -> Result<LimitMap, LimitsError> {
        self.check()?;
        let projects = self.projects.lock().unwrap();
        Ok(projects.get(project).cloned().unwrap_or_default())
    }
}

async fn limited_app(backend: Backend, source: Arc<TestLimits>) -> TestApp {
    TestApp::builder()
        .backend(backend)
        // Ignored while Keystone limits are on, as in Glance.
        .image_config(|c| c.user_storage_quota = Some(10))
        .unified_limits(source, Duration::ZERO)
        .start()
        .await
}

/// Glance's 413 for a project over a Keystone limit.
fn over_limit(project: &str, resource: &str, limit: i64, usage: u64, delta: u64) -> String {
    format!(
        "The request returned a 413 Request Entity Too Large. This generally means that rate \
         limiting or a quota threshold was breached.\n\nThe response body:\nProject {project} \
         is over a limit for [Resource {resource} is over limit of {limit} due to current usage \
         {usage} and delta {delta}]"
    )
}

fn raw_image() -> Value {
    json!({"disk_format": "raw", "container_format": "bare"})
}

fn chunked(len: usize, seed: u64) -> Body {
    let chunks: Vec<Vec<u8>> = noise(len, seed)
        .chunks(64 * 1024)
        .map(<[u8]>::to_vec)
        .collect();
    Body::wrap_stream(stream::iter(
        chunks.into_iter().map(Ok::<_, std::io::Error>),
    ))
}

/// Waits until the image is back to `queued` (a refused upload) or
/// `active`, and returns it.
async fn settled(app: &TestApp, id: &str) -> Value {
    app.wait_for_image(id, Duration::from_secs(10), |i| {
        i["status"] == "queued" || i["status"] == "active"
    })
    .await
}

#[tokio::test]
async fn image_count_total_refuses_one_image_too_many_with_glances_message() {
    let source = TestLimits::registered(&[("image_count_total", 2)]);
    source.set_project("roomy", &[("image_count_total", -1)]);
    let app = limited_app(Backend::Sqlite, source.clone()).await;
    let p1 = app.member_of("p1");
    let first = p1.create_image(raw_image()).await;
    p1.create_image(raw_image()).await;
    let message = expect_error(p1.create(raw_image()).await, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(message, over_limit("p1", "image_count_total", 2, 2, 1));
    // A deleted image no longer counts.
    let path = format!("/v2/images/{}", id_of(&first));
    expect_status(
        p1.delete(&path).send().await.unwrap(),
        StatusCode::NO_CONTENT,
    )
    .await;
    p1.create_image(raw_image()).await;
    // A project limit overrides the registered one; -1 is unlimited.
    for _ in 0..3 {
        app.member_of("roomy").create_image(raw_image()).await;
    }
    // A resource with no limit at all allows nothing, as in oslo.limit.
    *source.registered.lock().unwrap() = LimitMap::new();
    let message = expect_error(
        app.member_of("p2").create(raw_image()).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(message, over_limit("p2", "image_count_total", 0, 0, 1));
}

#[tokio::test]
async fn image_size_total_bounds_the_project_data_instead_of_user_storage_quota() {
    let source = TestLimits::registered(&[
        ("image_count_total", -1),
        ("image_count_uploading", -1),
        ("image_size_total", 1),
    ]);
    let app = limited_app(Backend::Sqlite, source).await;
    let p1 = app.member_of("p1");
    let first = id_of(&p1.create_image(raw_image()).await);
    // Far beyond the user_storage_quota of 10 bytes, which is ignored.
    let resp = p1.upload(&first, noise(700 * 1024, 1)).await;
    expect_status(resp, StatusCode::NO_CONTENT).await;
    let second = id_of(&p1.create_image(raw_image()).await);
    let message = expect_error(
        p1.upload(&second, noise(400 * 1024, 2)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    // 700 KiB used (0 whole MiB); 1100 KiB would need 2.
    assert_eq!(message, over_limit("p1", "image_size_total", 1, 0, 2));
    assert_eq!(settled(&app, &second).await["size"], Value::Null);
    // Unknown size: cut off once past the limit.
    let message = expect_error(
        p1.upload(&second, chunked(400 * 1024, 3)).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert_eq!(message, over_limit("p1", "image_size_total", 1, 0, 2));
    assert_eq!(settled(&app, &second).await["size"], Value::Null);
    assert_eq!(app.store_files().len(), 1);
    // What fits still fits, to the byte.
    let rest = (MIB - 700 * 1024) as usize;
    let resp = p1.upload(&second, chunked(rest, 4)).await;
    expect_status(resp, StatusCode::NO_CONTENT).await;
    // Another project has its own room.
    let p2 = app.member_of("p2");
    let other = id_of(&p2.create_image(raw_image()).await);
    let resp = p2.upload(&other, noise(MIB as usize, 5)).await;
    expect_status(resp, StatusCode::NO_CONTENT).await;
}

/// A body that sends its first chunk, then waits for `release`.
fn held_body(release: Arc<Notify>, released: Arc<AtomicBool>, seed: u64) -> Body {
    let first = noise(1000, seed);
    let rest = noise(1000, seed + 1);
    let chunks = stream::unfold(0, move |step| {
        let (release, released) = (release.clone(), released.clone());
        let (first, rest) = (first.clone(), rest.clone());
        async move {
            match step {
                0 => Some((Ok::<_, std::io::Error>(first), 1)),
                1 => {
                    let notified = release.notified();
                    if !released.load(Ordering::SeqCst) {
                        notified.await;
                    }
                    Some((Ok(rest), 2))
                }
                _ => None,
            }
        }
    });
    Body::wrap_stream(chunks)
}

/// Twenty uploads of one project at once under `image_count_uploading = 3`:
/// exactly three proceed, the others are refused at once, on every
/// database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn image_count_uploading_holds_against_twenty_parallel_uploads() {
    const UPLOADS: usize = 20;
    const LIMIT: usize = 3;
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let source = TestLimits::registered(&[
            ("image_count_total", -1),
            ("image_count_uploading", LIMIT as i64),
            ("image_size_total", -1),
        ]);
        let app = limited_app(backend, source).await;
        let p1 = app.member_of("p1");
        let mut ids = Vec::new();
        for _ in 0..UPLOADS {
            ids.push(id_of(&p1.create_image(raw_image()).await));
        }
        let release = Arc::new(Notify::new());
        let released = Arc::new(AtomicBool::new(false));
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel();
        for (i, id) in ids.iter().enumerate() {
            let request = p1
                .put(&format!("/v2/images/{id}/file"))
                .header("content-type", "application/octet-stream")
                .body(held_body(release.clone(), released.clone(), i as u64 * 2));
            let done = done_tx.clone();
            tokio::spawn(async move {
                let resp = request.send().await.unwrap();
                let status = resp.status();
                let body = resp.text().await.unwrap_or_default();
                let _ = done.send((status, body));
            });
        }
        // The refused uploads answer while the others still wait.
        let mut answers = Vec::new();
        while answers.len() < UPLOADS - LIMIT {
            let answer = tokio::time::timeout(Duration::from_secs(30), done_rx.recv())
                .await
                .expect("the refused uploads answer at once")
                .unwrap();
            assert_eq!(answer.0, StatusCode::PAYLOAD_TOO_LARGE, "{}", answer.1);
            answers.push(answer);
        }
        let body: Value = serde_json::from_str(&answers[0].1).unwrap();
        let message = body["message"].as_str().unwrap();
        let message = message.split("<br /><br />").next().unwrap().trim();
        assert!(
            message.ends_with(&format!(
                "[Resource image_count_uploading is over limit of {LIMIT} due to current usage \
                 {} and delta 0]",
                LIMIT + 1
            )),
            "{message}"
        );
        released.store(true, Ordering::SeqCst);
        release.notify_waiters();
        for _ in 0..LIMIT {
            let (status, body) = done_rx.recv().await.unwrap();
            assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
        }
        let mut active = 0;
        for id in &ids {
            if settled(&app, id).await["status"] == "active" {
                active += 1;
            }
        }
        assert_eq!(active, LIMIT);
        assert_eq!(app.store_files().len(), LIMIT);
    }
}

/// Twenty uploads of one project at once, half of unknown size: whichever
/// finish, the project's data never exceeds `image_size_total`, and every
/// refused one leaves nothing behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_uploads_never_exceed_image_size_total() {
    const UPLOADS: usize = 20;
    const SIZE: usize = 300 * 1024;
    const LIMIT_MIB: u64 = 2;
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let source = TestLimits::registered(&[
            ("image_count_total", -1),
            ("image_count_uploading", -1),
            ("image_size_total", LIMIT_MIB as i64),
        ]);
        let app = limited_app(backend, source).await;
        let p1 = app.member_of("p1");
        let mut ids = Vec::new();
        for _ in 0..UPLOADS {
            ids.push(id_of(&p1.create_image(raw_image()).await));
        }
        let mut tasks = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let body = if i % 2 == 0 {
                Body::from(noise(SIZE, i as u64))
            } else {
                chunked(SIZE, i as u64)
            };
            let request = p1
                .put(&format!("/v2/images/{id}/file"))
                .header("content-type", "application/octet-stream")
                .body(body);
            tasks.push(tokio::spawn(async move {
                // A refusal may come while the body is still being sent:
                // the server answers 413 and closes, and the client may see
                // the connection end before it reads the answer.
                match request.send().await {
                    Ok(resp) => Some((resp.status(), resp.text().await.unwrap_or_default())),
                    Err(e) => {
                        assert!(e.is_request() || e.is_body(), "{e:?}");
                        None
                    }
                }
            }));
        }
        let mut stored = 0;
        for task in tasks {
            match task.await.expect("upload task") {
                Some((StatusCode::NO_CONTENT, _)) => stored += 1,
                Some((StatusCode::PAYLOAD_TOO_LARGE, body)) => {
                    assert!(
                        body.contains("Resource image_size_total is over limit of 2"),
                        "{body}"
                    )
                }
                Some((other, body)) => panic!("unexpected {other}: {body}"),
                None => {}
            }
        }
        let fit = (LIMIT_MIB * MIB) as usize / SIZE;
        assert!(stored >= 1 && stored <= fit, "{stored} stored, {fit} fit");
        let mut total = 0;
        for id in &ids {
            total += settled(&app, id).await["size"].as_u64().unwrap_or(0);
        }
        assert!(total <= LIMIT_MIB * MIB, "{total} bytes stored");
        assert_eq!(total, (stored * SIZE) as u64);
        assert_eq!(app.store_files().len(), stored);
    }
}

#[tokio::test]
async fn usage_reports_each_limit_and_what_the_project_uses_in_glances_shape() {
    let source = TestLimits::registered(&[
        ("image_size_total", 10),
        ("image_stage_total", 5),
        ("image_count_total", 100),
        ("image_count_uploading", -1),
    ]);
    source.set_project("p1", &[("image_count_total", 3)]);
    let app = limited_app(Backend::Sqlite, source).await;
    let p1 = app.member_of("p1");
    let id = id_of(&p1.create_image(raw_image()).await);
    p1.upload(&id, noise((MIB + MIB / 2) as usize, 1)).await;
    p1.create_image(raw_image()).await;
    let resp = p1.get("/v2/info/usage").send().await.unwrap();
    let text = expect_status(resp, StatusCode::OK).await;
    let usage: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        usage,
        json!({"usage": {
            "image_size_total": {"usage": 1, "limit": 10},
            "image_stage_total": {"usage": 0, "limit": 5},
            "image_count_total": {"usage": 2, "limit": 3},
            "image_count_uploading": {"usage": 0, "limit": -1},
        }})
    );
    let names: Vec<&String> = usage["usage"].as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        [
            "image_size_total",
            "image_stage_total",
            "image_count_total",
            "image_count_uploading"
        ]
    );
    // Another project sees its own.
    let p2 = app
        .member_of("p2")
        .get("/v2/info/usage")
        .send()
        .await
        .unwrap();
    let usage: Value = serde_json::from_str(&expect_status(p2, StatusCode::OK).await).unwrap();
    assert_eq!(
        usage["usage"]["image_count_total"],
        json!({"usage": 0, "limit": 100})
    );
}

#[tokio::test]
async fn usage_is_empty_without_keystone_limits_as_in_glance() {
    let app = TestApp::new().await;
    let resp = app
        .member_of("p1")
        .get("/v2/info/usage")
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_status(resp, StatusCode::OK).await,
        r#"{"usage": {}}"#
    );
}

#[tokio::test]
async fn unreadable_limits_answer_503_or_500_and_nothing_is_created() {
    let source = TestLimits::registered(&[("image_count_total", -1)]);
    let app = limited_app(Backend::Sqlite, source.clone()).await;
    let p1 = app.member_of("p1");
    source.fail_with(Some(LimitsError::Unavailable("connection refused".into())));
    let message = expect_error(
        p1.create(raw_image()).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert_eq!(
        message,
        "The server is currently unavailable. Please try again at a later time."
    );
    let resp = p1.get("/v2/info/usage").send().await.unwrap();
    expect_error(resp, StatusCode::SERVICE_UNAVAILABLE).await;
    source.fail_with(Some(LimitsError::Misconfigured(
        "Endpoint not found".into(),
    )));
    let message = expect_error(
        p1.create(raw_image()).await,
        StatusCode::INTERNAL_SERVER_ERROR,
    )
    .await;
    assert_eq!(
        message,
        "The server has either erred or is incapable of performing the requested operation."
    );
    let listed = p1.list("").await;
    assert_eq!(listed["images"], json!([]));
    source.fail_with(None);
    p1.create_image(raw_image()).await;
}

/// Twenty stagings (`PUT /stage`) of one project at once, half of unknown
/// size: the data staged never exceeds `image_stage_total`, each refusal
/// is Glance's 413 and leaves the image `queued` with nothing staged.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_stagings_never_exceed_image_stage_total() {
    const STAGINGS: usize = 20;
    const SIZE: usize = 300 * 1024;
    const LIMIT_MIB: u64 = 2;
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let source = TestLimits::registered(&[
            ("image_count_total", -1),
            ("image_count_uploading", -1),
            ("image_size_total", -1),
            ("image_stage_total", LIMIT_MIB as i64),
        ]);
        let app = limited_app(backend, source).await;
        let p1 = app.member_of("p1");
        let mut ids = Vec::new();
        for _ in 0..STAGINGS {
            ids.push(id_of(&p1.create_image(raw_image()).await));
        }
        let mut tasks = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let body = if i % 2 == 0 {
                Body::from(noise(SIZE, i as u64))
            } else {
                chunked(SIZE, i as u64)
            };
            let request = p1
                .put(&format!("/v2/images/{id}/stage"))
                .header("content-type", "application/octet-stream")
                .body(body);
            tasks.push(tokio::spawn(async move {
                match request.send().await {
                    Ok(resp) => Some((resp.status(), resp.text().await.unwrap_or_default())),
                    Err(e) => {
                        assert!(e.is_request() || e.is_body(), "{e:?}");
                        None
                    }
                }
            }));
        }
        let mut staged = 0;
        for task in tasks {
            match task.await.expect("stage task") {
                Some((StatusCode::NO_CONTENT, _)) => staged += 1,
                Some((StatusCode::PAYLOAD_TOO_LARGE, body)) => assert!(
                    body.contains("Resource image_stage_total is over limit of 2"),
                    "{body}"
                ),
                Some((other, body)) => panic!("unexpected {other}: {body}"),
                None => {}
            }
        }
        let fit = (LIMIT_MIB * MIB) as usize / SIZE;
        assert!(staged >= 1 && staged <= fit, "{staged} staged, {fit} fit");
        let mut total = 0;
        for id in &ids {
            let image = app
                .wait_for_image(id, Duration::from_secs(10), |i| {
                    i["status"] == "queued" || (i["status"] == "uploading" && i["size"].is_u64())
                })
                .await;
            total += image["size"].as_u64().unwrap_or(0);
        }
        assert!(total <= LIMIT_MIB * MIB, "{total} bytes staged");
        assert_eq!(total, (staged * SIZE) as u64);
        assert_eq!(app.staged_files().len(), staged);
        // Usage reports what is staged, in whole MiB.
        let usage: Value = p1
            .get("/v2/info/usage")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            usage["usage"]["image_stage_total"]["usage"],
            total / MIB,
            "{usage:#}"
        );
    }
}

/// A staging counts against `image_count_uploading` as in Glance, the image
/// itself included, and a refused one is put back to `queued`.
#[tokio::test]
async fn staging_counts_against_image_count_uploading() {
    let source = TestLimits::registered(&[
        ("image_count_total", -1),
        ("image_count_uploading", 1),
        ("image_size_total", -1),
        ("image_stage_total", -1),
    ]);
    let app = limited_app(Backend::Sqlite, source).await;
    let p1 = app.member_of("p1");
    let first = id_of(&p1.create_image(raw_image()).await);
    let second = id_of(&p1.create_image(raw_image()).await);
    let stage = |id: &str| {
        p1.put(&format!("/v2/images/{id}/stage"))
            .header("content-type", "application/octet-stream")
            .body(noise(1000, 1))
    };
    expect_status(stage(&first).send().await.unwrap(), StatusCode::NO_CONTENT).await;
    let message = expect_error(
        stage(&second).send().await.unwrap(),
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    assert!(
        message.contains(
            "[Resource image_count_uploading is over limit of 1 due to current usage 2 and \
             delta 0]"
        ),
        "{message}"
    );
    assert_eq!(app.image(&second).await["status"], "queued");
    assert_eq!(app.staged_files(), vec![first]);
}

/// A staging that announces more than `image_stage_total` leaves is refused
/// before anything is written, with Glance's message.
#[tokio::test]
async fn staging_over_image_stage_total_is_refused_with_glances_message() {
    let source = TestLimits::registered(&[
        ("image_count_total", -1),
        ("image_count_uploading", -1),
        ("image_size_total", -1),
        ("image_stage_total", 1),
    ]);
    let app = limited_app(Backend::Sqlite, source).await;
    let p1 = app.member_of("p1");
    let id = id_of(&p1.create_image(raw_image()).await);
    let resp = p1
        .put(&format!("/v2/images/{id}/stage"))
        .header("content-type", "application/octet-stream")
        .body(noise(2 * MIB as usize, 5))
        .send()
        .await
        .unwrap();
    let message = expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(message, over_limit("p1", "image_stage_total", 1, 0, 2));
    assert_eq!(app.image(&id).await["status"], "queued");
    assert!(app.staged_files().is_empty());
}
