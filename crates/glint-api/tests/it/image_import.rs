//! Interoperable import: `PUT /v2/images/{id}/stage`.

use crate::common;

use std::time::Duration;

use common::{TestApp, expect_error, expect_status, noise};
use futures::stream;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Body, StatusCode};
use serde_json::Value;

const OCTETS: &str = "application/octet-stream";

pub(crate) async fn stage(app: &TestApp, id: &str, data: impl Into<Body>) -> reqwest::Response {
    app.admin()
        .put(&format!("/v2/images/{id}/stage"))
        .header(CONTENT_TYPE, OCTETS)
        .body(data)
        .send()
        .await
        .unwrap()
}

/// The image went back to `queued` with no size and no staged file.
async fn assert_unstaged(app: &TestApp, id: &str) {
    let image = app
        .wait_for_image(id, Duration::from_secs(5), |i| i["status"] == "queued")
        .await;
    assert_eq!(image["size"], Value::Null);
    assert!(image.get("os_glance_stage_host").is_none(), "{image:#}");
    assert_eq!(app.staged_files(), Vec::<String>::new());
}

#[tokio::test]
async fn stage_moves_a_queued_image_to_uploading_with_its_size() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("staged").await;
    let data = noise(300_000, 7);
    expect_status(stage(&app, &id, data).await, StatusCode::NO_CONTENT).await;
    let image = app.image(&id).await;
    assert_eq!(image["status"], "uploading");
    assert_eq!(image["size"], 300_000);
    // Staged data is not image data yet.
    assert_eq!(image["checksum"], Value::Null);
    assert_eq!(image["os_hash_value"], Value::Null);
    // The stage host is hidden, and unset without a self reference URL.
    assert!(image.get("os_glance_stage_host").is_none(), "{image:#}");
    assert_eq!(app.staged_files(), vec![id.clone()]);
    assert_eq!(app.store_files(), Vec::<String>::new());
    let staged = std::fs::read(app.scratch_dir().join("staging").join(&id)).unwrap();
    assert_eq!(staged.len(), 300_000);
}

#[tokio::test]
async fn stage_records_this_nodes_self_reference_url() {
    let app = TestApp::builder()
        .stage_host("http://node-a:9292")
        .start()
        .await;
    let id = app.create_raw_image("staged").await;
    expect_status(stage(&app, &id, noise(10, 1)).await, StatusCode::NO_CONTENT).await;
    let row = app
        .db()
        .get_image(id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        row.properties
            .get("os_glance_stage_host")
            .map(String::as_str),
        Some("http://node-a:9292")
    );
    // Hidden from the API, as Glance hides it.
    assert!(app.image(&id).await.get("os_glance_stage_host").is_none());
}

#[tokio::test]
async fn stage_of_an_image_not_queued_is_409() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("twice").await;
    expect_status(stage(&app, &id, noise(10, 1)).await, StatusCode::NO_CONTENT).await;
    let msg = expect_error(stage(&app, &id, noise(10, 2)).await, StatusCode::CONFLICT).await;
    assert!(msg.contains("uploading"), "{msg}");
    // The first stage's data is kept.
    assert_eq!(app.image(&id).await["status"], "uploading");
    assert_eq!(app.staged_files(), vec![id.clone()]);

    let active = app.create_raw_image("active").await;
    app.upload_ok(&active, noise(10, 3)).await;
    expect_error(
        stage(&app, &active, noise(10, 1)).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(app.image(&active).await["status"], "active");
}

#[tokio::test]
async fn stage_needs_no_formats_as_in_glance() {
    // Glance asks for the formats only when the image leaves `uploading`.
    let app = TestApp::new().await;
    let image = app.create_image(serde_json::json!({"name": "bare"})).await;
    let id = common::id_of(&image);
    expect_status(stage(&app, &id, noise(10, 1)).await, StatusCode::NO_CONTENT).await;
    assert_eq!(app.image(&id).await["status"], "uploading");
}

#[tokio::test]
async fn stage_needs_octet_stream_else_415() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("typed").await;
    for content_type in [Some("application/json"), None] {
        let mut req = app.admin().put(&format!("/v2/images/{id}/stage"));
        if let Some(t) = content_type {
            req = req.header(CONTENT_TYPE, t);
        }
        let resp = req.body("x").send().await.unwrap();
        expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    }
    assert_unstaged(&app, &id).await;
}

#[tokio::test]
async fn stage_over_the_size_cap_is_413_and_removes_the_staged_data() {
    let app = TestApp::builder().image_size_cap(1024).start().await;
    let id = app.create_raw_image("big").await;
    // Announced too large: refused before anything is read.
    let resp = stage(&app, &id, vec![0u8; 2048]).await;
    expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_unstaged(&app, &id).await;
    // Size unknown (chunked): cut off on the way, data removed.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..4).map(|_| Ok(vec![1u8; 512])).collect();
    let resp = stage(&app, &id, Body::wrap_stream(stream::iter(chunks))).await;
    expect_error(resp, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_unstaged(&app, &id).await;
    // The image can be staged again afterwards.
    expect_status(
        stage(&app, &id, vec![0u8; 1024]).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(app.image(&id).await["size"], 1024);
}

#[tokio::test]
async fn stage_cut_short_by_the_client_returns_the_image_to_queued() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("short").await;
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![
        Ok(vec![1u8; 4096]),
        Err(std::io::Error::other("client went away")),
    ];
    let resp = app
        .admin()
        .put(&format!("/v2/images/{id}/stage"))
        .header(CONTENT_TYPE, OCTETS)
        .body(Body::wrap_stream(stream::iter(chunks)))
        .send()
        .await;
    // The connection may break before an answer; either way nothing stays.
    if let Ok(resp) = resp {
        assert!(!resp.status().is_success(), "{}", resp.status());
    }
    assert_unstaged(&app, &id).await;
}

#[tokio::test]
async fn stage_of_an_image_of_another_project_is_404_or_403() {
    let app = TestApp::new().await;
    let image = app
        .member_of("p1")
        .create_image(serde_json::json!({
            "name": "theirs", "disk_format": "raw", "container_format": "bare"
        }))
        .await;
    let id = common::id_of(&image);
    let resp = app
        .member_of("p2")
        .put(&format!("/v2/images/{id}/stage"))
        .header(CONTENT_TYPE, OCTETS)
        .body("x")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND).await;
    let resp = app
        .put("/v2/images/00000000-0000-0000-0000-000000000000/stage")
        .header(CONTENT_TYPE, OCTETS)
        .body("x")
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::NOT_FOUND).await;
    assert_unstaged(&app, &id).await;
}

#[tokio::test]
async fn deleting_a_staged_image_removes_its_staged_data() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("gone").await;
    expect_status(stage(&app, &id, noise(10, 1)).await, StatusCode::NO_CONTENT).await;
    assert_eq!(app.staged_files(), vec![id.clone()]);
    let resp = app
        .admin()
        .delete(&format!("/v2/images/{id}"))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;
    assert_eq!(app.staged_files(), Vec::<String>::new());
}

// ---- POST /v2/images/{id}/import ----

pub(crate) async fn import(app: &TestApp, id: &str, body: serde_json::Value) -> reqwest::Response {
    app.admin()
        .post(&format!("/v2/images/{id}/import"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The image once its import has made it active and released its lock
/// (active comes first: the lock goes in the import's last save).
pub(crate) async fn imported(app: &TestApp, id: &str) -> Value {
    app.wait_for_image(id, Duration::from_secs(10), |i| {
        i["status"] == "active" && i.get("os_glance_import_task").is_none()
    })
    .await
}

/// The image's import tasks, newest first.
pub(crate) async fn tasks_of(app: &TestApp, id: &str) -> Vec<Value> {
    let resp = app
        .admin()
        .get(&format!("/v2/images/{id}/tasks"))
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_str(&expect_status(resp, StatusCode::OK).await).unwrap();
    body["tasks"].as_array().cloned().unwrap_or_default()
}

pub(crate) async fn wait_for_task(app: &TestApp, id: &str, status: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let tasks = tasks_of(app, id).await;
        if let Some(task) = tasks.iter().find(|t| t["status"] == status) {
            return task.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {status} task for {id}: {tasks:#?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn glance_direct() -> Value {
    serde_json::json!({"method": {"name": "glance-direct"}})
}

#[tokio::test]
async fn import_info_lists_the_methods_served() {
    let app = TestApp::new().await;
    let resp = app.get("/v2/info/import").send().await.unwrap();
    let body: Value = serde_json::from_str(&expect_status(resp, StatusCode::OK).await).unwrap();
    assert_eq!(
        body["import-methods"]["value"],
        serde_json::json!(["glance-direct", "web-download", "copy-image"])
    );
}

#[tokio::test]
async fn stage_then_glance_direct_import_activates_the_image() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("direct").await;
    let data = noise(1 << 20, 11);
    expect_status(stage(&app, &id, data.clone()).await, StatusCode::NO_CONTENT).await;
    expect_status(
        import(&app, &id, glance_direct()).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let image = imported(&app, &id).await;
    assert_eq!(image["size"], 1 << 20);
    assert_eq!(image["checksum"], common::md5_hex(&data));
    assert_eq!(image["os_hash_algo"], "sha512");
    assert_eq!(image["os_hash_value"], common::sha512_hex(&data));
    assert!(image.get("os_glance_import_task").is_none(), "{image:#}");
    // The data moved from the staging area into the store.
    assert_eq!(app.staged_files(), Vec::<String>::new());
    assert_eq!(app.store_files(), vec![id.clone()]);
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), data.as_slice());
    let task = wait_for_task(&app, &id, "success").await;
    assert_eq!(task["type"], "api_image_import");
    assert_eq!(task["image_id"], id);
}

#[tokio::test]
async fn import_validation_errors_are_glances() {
    let app = TestApp::builder()
        .import_methods(&["glance-direct"])
        .start()
        .await;
    let id = app.create_raw_image("checked").await;
    let cases = [
        (
            serde_json::json!({}),
            StatusCode::BAD_REQUEST,
            "requires a 'method' field",
        ),
        (
            serde_json::json!({"method": {}}),
            StatusCode::BAD_REQUEST,
            "requires a 'name' field",
        ),
        (
            serde_json::json!({"method": {"name": "copy-image"}}),
            StatusCode::BAD_REQUEST,
            "Unknown import method name 'copy-image'.",
        ),
        (
            serde_json::json!({"method": {"name": "glance-direct"}, "all_stores": "yes"}),
            StatusCode::BAD_REQUEST,
            "all_stores",
        ),
        (
            glance_direct(),
            StatusCode::CONFLICT,
            "Image needs to be staged before 'glance-direct' method can be used",
        ),
    ];
    for (body, status, words) in cases {
        let msg = expect_error(import(&app, &id, body.clone()).await, status).await;
        assert!(msg.contains(words), "{body}: {msg}");
    }
    assert_eq!(app.image(&id).await["status"], "queued");
    // No formats: 409 once staged.
    let bare = common::id_of(&app.create_image(serde_json::json!({"name": "bare"})).await);
    expect_status(
        stage(&app, &bare, noise(10, 1)).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let msg = expect_error(
        import(&app, &bare, glance_direct()).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        msg.contains("'container_format' needs to be set before import"),
        "{msg}"
    );
    // Active images are no import target.
    let active = app.create_raw_image("active").await;
    app.upload_ok(&active, noise(10, 3)).await;
    let msg = expect_error(
        import(&app, &active, glance_direct()).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        msg.contains("Image with status active cannot be target for import"),
        "{msg}"
    );
    // Unknown image.
    let resp = import(
        &app,
        "00000000-0000-0000-0000-000000000000",
        glance_direct(),
    )
    .await;
    expect_error(resp, StatusCode::NOT_FOUND).await;
    // No task was left behind by a refusal.
    assert_eq!(tasks_of(&app, &id).await, Vec::<Value>::new());
}

#[tokio::test]
async fn stage_is_404_when_glance_direct_is_not_enabled() {
    let app = TestApp::builder()
        .import_methods(&["web-download"])
        .start()
        .await;
    let id = app.create_raw_image("nodirect").await;
    let msg = expect_error(stage(&app, &id, noise(10, 1)).await, StatusCode::NOT_FOUND).await;
    assert!(
        msg.contains("'glance-direct' method is not available at this site."),
        "{msg}"
    );
}

#[tokio::test]
async fn a_failed_glance_direct_import_returns_the_image_to_queued() {
    let app = TestApp::new().await;
    let image = app
        .create_image(serde_json::json!({
            "name": "unsafe", "disk_format": "qcow2", "container_format": "bare"
        }))
        .await;
    let id = common::id_of(&image);
    // A qcow2 with a backing file: refused by the inspection on import.
    let dir = tempfile::tempdir().unwrap();
    let qcow2 = common::qcow2_with_backing_file(dir.path());
    expect_status(stage(&app, &id, qcow2).await, StatusCode::NO_CONTENT).await;
    expect_status(
        import(&app, &id, glance_direct()).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let task = wait_for_task(&app, &id, "failure").await;
    assert!(
        !task["message"].as_str().unwrap_or("").is_empty(),
        "{task:#}"
    );
    let image = app.image(&id).await;
    assert_eq!(image["status"], "queued", "{image:#}");
    assert!(image.get("os_glance_import_task").is_none(), "{image:#}");
    assert_eq!(app.staged_files(), Vec::<String>::new());
    assert_eq!(app.store_files(), Vec::<String>::new());
}

// ---- an import whose worker died ----

/// Sets up what a worker that died mid-import leaves: the image staged
/// and `importing` under the lock of a `processing` task whose job lease
/// is held by a dead process until `lease_until`.
async fn interrupted_import(
    app: &TestApp,
    id: &str,
    lease_until: glint_model::time::Timestamp,
) -> String {
    let input = serde_json::json!({"image_id": id, "import_req": glance_direct(), "backend": []});
    interrupted_task(app, id, input, "dead-node/0/1", lease_until).await
}

/// An import task of `input` on image `id` that was `processing` under a
/// job lease of `holder` until `lease_until`, the image `importing` under
/// its lock; the task's id.
pub(crate) async fn interrupted_task(
    app: &TestApp,
    id: &str,
    input: Value,
    holder: &str,
    lease_until: glint_model::time::Timestamp,
) -> String {
    use glint_model::task::{API_IMAGE_IMPORT, Task, TaskStatus};
    let db = app.db();
    let image_id: glint_model::ImageId = id.parse().unwrap();
    let now = glint_model::time::now();
    let mut task = Task::pending(API_IMAGE_IMPORT, input, now);
    task.image_id = Some(image_id);
    task.owner = Some("admin".into());
    task.transition(TaskStatus::Processing, now, Duration::from_secs(3600))
        .unwrap();
    db.insert_task(&task).await.unwrap();
    let task_id = task.id.to_string();
    let lease = glint_db::JobLease {
        holder: holder.into(),
        expires_at: lease_until,
    };
    assert!(
        db.claim_job("import", &task_id, &lease, now, &[])
            .await
            .unwrap()
    );
    let mut current = db.get_image_versioned(image_id).await.unwrap().unwrap();
    current.image.status = glint_model::ImageStatus::Importing;
    current
        .image
        .properties
        .insert("os_glance_import_task".into(), task_id.clone());
    db.save_image(&current.image, current.version)
        .await
        .unwrap();
    task_id
}

#[tokio::test]
async fn an_import_whose_worker_died_is_resumed_once_its_lease_expires() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("resumed").await;
    let data = noise(200_000, 5);
    expect_status(stage(&app, &id, data.clone()).await, StatusCode::NO_CONTENT).await;
    let later = glint_model::time::now() + Duration::from_secs(3600);
    let task_id = interrupted_import(&app, &id, later).await;
    // While the dead holder's lease runs, nobody takes the task over.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(app.image(&id).await["status"], "importing");
    assert_eq!(app.service().unfinished_import_count().await.unwrap(), 1);
    // Its lease expires: the worker takes the import up again.
    let now = glint_model::time::now();
    assert!(
        app.db()
            .fail_job("import", &task_id, "dead-node/0/1", "killed", now)
            .await
            .unwrap()
    );
    let image = imported(&app, &id).await;
    assert_eq!(image["checksum"], common::md5_hex(&data));
    assert!(image.get("os_glance_import_task").is_none(), "{image:#}");
    let task = wait_for_task(&app, &id, "success").await;
    assert_eq!(task["id"], task_id);
    assert_eq!(app.staged_files(), Vec::<String>::new());
    // The lease goes just after the task's outcome is saved.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while app.db().job("import", &task_id).await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the import's lease stays"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.service().unfinished_import_count().await.unwrap(), 0);
}

#[tokio::test]
async fn an_interrupted_import_that_cannot_resume_fails_cleanly() {
    let app = TestApp::new().await;
    let id = app.create_raw_image("lost").await;
    expect_status(
        stage(&app, &id, noise(1000, 5)).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    // The staged data went with the dead node.
    for name in app.staged_files() {
        std::fs::remove_file(app.scratch_dir().join("staging").join(name)).unwrap();
    }
    let expired = glint_model::time::now();
    let task_id = interrupted_import(&app, &id, expired).await;
    let task = wait_for_task(&app, &id, "failure").await;
    assert_eq!(task["id"], task_id);
    let image = app.image(&id).await;
    assert_eq!(image["status"], "queued", "{image:#}");
    assert_eq!(image["size"], Value::Null);
    assert!(image.get("os_glance_import_task").is_none(), "{image:#}");
}

// ---- web-download ----

/// Serves `data` at `http://127.0.0.1:<port>/image`.
pub(crate) async fn serve_bytes(data: Vec<u8>) -> std::net::SocketAddr {
    let app = axum::Router::new().route(
        "/image",
        axum::routing::get(move || {
            let data = data.clone();
            async move { data }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn web_download(uri: &str) -> Value {
    serde_json::json!({"method": {"name": "web-download", "uri": uri}})
}

#[tokio::test]
async fn web_download_from_an_allowed_local_server_activates_the_image() {
    let data = noise(500_000, 9);
    let addr = serve_bytes(data.clone()).await;
    let lists = glint_store::ImportFilterLists {
        allowed_hosts: vec!["127.0.0.1".into()],
        allowed_ports: Vec::new(),
        ..Default::default()
    };
    let filter = glint_store::ImportFilter::new(&lists).unwrap();
    let app = TestApp::builder().import_filter(filter).start().await;
    let id = app.create_raw_image("downloaded").await;
    let uri = format!("http://{addr}/image");
    expect_status(
        import(&app, &id, web_download(&uri)).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let image = imported(&app, &id).await;
    assert_eq!(image["size"], 500_000);
    assert_eq!(image["checksum"], common::md5_hex(&data));
    assert_eq!(image["os_hash_value"], common::sha512_hex(&data));
    wait_for_task(&app, &id, "success").await;
    assert_eq!(app.store_files(), vec![id.clone()]);
}

#[tokio::test]
async fn web_download_over_the_size_cap_fails_and_the_image_returns_to_queued() {
    let addr = serve_bytes(noise(4096, 9)).await;
    let lists = glint_store::ImportFilterLists {
        allowed_hosts: vec!["127.0.0.1".into()],
        allowed_ports: Vec::new(),
        ..Default::default()
    };
    let filter = glint_store::ImportFilter::new(&lists).unwrap();
    let app = TestApp::builder()
        .import_filter(filter)
        .image_size_cap(1024)
        .start()
        .await;
    let id = app.create_raw_image("big").await;
    let uri = format!("http://{addr}/image");
    expect_status(
        import(&app, &id, web_download(&uri)).await,
        StatusCode::ACCEPTED,
    )
    .await;
    wait_for_task(&app, &id, "failure").await;
    let image = app.image(&id).await;
    assert_eq!(image["status"], "queued", "{image:#}");
    assert_eq!(app.store_files(), Vec::<String>::new());
}

#[tokio::test]
async fn the_default_filter_refuses_local_servers() {
    let addr = serve_bytes(noise(100, 9)).await;
    let app = TestApp::new().await;
    let id = app.create_raw_image("refused").await;
    // A port outside the default list: 400 at once, as Glance.
    let uri = format!("http://{addr}/image");
    let msg = expect_error(
        import(&app, &id, web_download(&uri)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(msg.contains("does not pass filtering"), "{msg}");
    assert_eq!(app.image(&id).await["status"], "queued");
    // A name that passes the lists but resolves to a loopback address:
    // refused when the worker resolves it; the task fails, the image is
    // back to queued.
    let resp = import(&app, &id, web_download("http://localhost/image")).await;
    expect_status(resp, StatusCode::ACCEPTED).await;
    let task = wait_for_task(&app, &id, "failure").await;
    assert!(
        task["message"].as_str().unwrap_or("").contains("loopback"),
        "{task:#}"
    );
    let image = app.image(&id).await;
    assert_eq!(image["status"], "queued", "{image:#}");
    assert!(image.get("os_glance_import_task").is_none(), "{image:#}");
    // A web-download needs a queued image.
    expect_status(stage(&app, &id, noise(10, 1)).await, StatusCode::NO_CONTENT).await;
    let msg = expect_error(
        import(&app, &id, web_download("http://example.com/x")).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        msg.contains("Image needs to be in 'queued' state to use 'web-download' method"),
        "{msg}"
    );
}

#[tokio::test]
async fn glance_direct_and_a_resumed_import_on_every_database() {
    for backend in common::Backend::configured() {
        let label = format!("{backend:?}");
        let app = TestApp::builder().backend(backend).start().await;
        let id = app.create_raw_image("everywhere").await;
        let data = noise(70_000, 3);
        expect_status(stage(&app, &id, data.clone()).await, StatusCode::NO_CONTENT).await;
        expect_status(
            import(&app, &id, glance_direct()).await,
            StatusCode::ACCEPTED,
        )
        .await;
        let image = imported(&app, &id).await;
        assert_eq!(image["checksum"], common::md5_hex(&data), "{label}");
        wait_for_task(&app, &id, "success").await;

        let id = app.create_raw_image("resumed").await;
        expect_status(stage(&app, &id, data.clone()).await, StatusCode::NO_CONTENT).await;
        let task_id = interrupted_import(&app, &id, glint_model::time::now()).await;
        let image = imported(&app, &id).await;
        assert_eq!(image["os_hash_value"], common::sha512_hex(&data), "{label}");
        assert_eq!(
            wait_for_task(&app, &id, "success").await["id"],
            task_id,
            "{label}"
        );
    }
}

#[tokio::test]
async fn import_into_a_named_store_of_several() {
    use std::sync::Arc;
    let app = TestApp::builder()
        .stores(|dir| {
            let fast = glint_store::FileStore::new("fast", dir.join("fast")).unwrap();
            let cold = glint_store::FileStore::new("cold", dir.join("cold")).unwrap();
            let mut registry = glint_store::StoreRegistry::new(Arc::new(fast)).multi_store();
            registry.add(Arc::new(cold));
            registry
        })
        .start()
        .await;
    let id = app.create_raw_image("cold").await;
    let data = noise(5000, 2);
    expect_status(stage(&app, &id, data.clone()).await, StatusCode::NO_CONTENT).await;
    let unknown = serde_json::json!({"method": {"name": "glance-direct"}, "stores": ["warm"]});
    let msg = expect_error(import(&app, &id, unknown).await, StatusCode::CONFLICT).await;
    assert!(msg.contains("warm"), "{msg}");
    let both = serde_json::json!({"method": {"name": "glance-direct"}, "all_stores": true, "stores": ["cold"]});
    let msg = expect_error(import(&app, &id, both).await, StatusCode::BAD_REQUEST).await;
    assert!(msg.contains("All_stores parameter can't be used"), "{msg}");
    assert_eq!(app.image(&id).await["status"], "uploading");
    let cold = serde_json::json!({"method": {"name": "glance-direct"}, "stores": ["cold"]});
    expect_status(import(&app, &id, cold).await, StatusCode::ACCEPTED).await;
    let image = imported(&app, &id).await;
    assert_eq!(image["stores"], "cold", "{image:#}");
    assert!(
        image.get("os_glance_importing_to_stores").is_none(),
        "{image:#}"
    );
    assert!(
        app.scratch_dir().join("cold").join(&id).exists(),
        "the data is in the cold store"
    );
}

#[tokio::test]
async fn a_glance_direct_import_over_the_storage_quota_is_413() {
    let app = TestApp::builder()
        .image_config(|c| c.user_storage_quota = Some(1000))
        .start()
        .await;
    let id = app.create_raw_image("over").await;
    expect_status(
        stage(&app, &id, noise(2000, 1)).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect_error(
        import(&app, &id, glance_direct()).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;
    // Nothing changed: the image is still staged, no task was recorded.
    assert_eq!(app.image(&id).await["status"], "uploading");
    assert_eq!(tasks_of(&app, &id).await, Vec::<Value>::new());
    let fits = app.create_raw_image("fits").await;
    expect_status(
        stage(&app, &fits, noise(900, 1)).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect_status(
        import(&app, &fits, glance_direct()).await,
        StatusCode::ACCEPTED,
    )
    .await;
    imported(&app, &fits).await;
}
