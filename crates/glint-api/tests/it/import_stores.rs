//! Imports into several stores (`stores`, `all_stores`,
//! `all_stores_must_succeed`), `copy-image`, and the import lock's rules
//! for a stale lock.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::common::{self, Backend, TestApp, expect_error, expect_status, noise};
use crate::image_import::{import, serve_bytes, stage, tasks_of, wait_for_task};
use glint_model::task::{API_IMAGE_IMPORT, Task};
use glint_model::{ImageId, time};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// Three file stores, `fast` (the default), `cold` and `spare`.
async fn three_stores(backend: Backend) -> TestApp {
    three_stores_written(backend, 1).await
}

/// [`three_stores`], an import writing up to `width` of them at a time.
async fn three_stores_written(backend: Backend, width: usize) -> TestApp {
    TestApp::builder()
        .backend(backend)
        .max_parallel_stores(width)
        .stores(|dir| {
            let store = |id: &str| Arc::new(glint_store::FileStore::new(id, dir.join(id)).unwrap());
            let mut registry = glint_store::StoreRegistry::new(store("fast")).multi_store();
            registry.add(store("cold"));
            registry.add(store("spare"));
            registry
        })
        .start()
        .await
}

/// Makes the store `id` fail every write: its directory becomes a file.
fn break_store(app: &TestApp, id: &str) {
    let dir = app.scratch_dir().join(id);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// The stores holding the image (its `stores` property), sorted.
fn store_urls(image: &Value) -> Vec<String> {
    let mut stores: Vec<String> = image["stores"]
        .as_str()
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    stores.sort();
    stores
}

async fn staged_image(app: &TestApp, data: &[u8]) -> String {
    let id = app.create_raw_image("imported").await;
    expect_status(stage(app, &id, data.to_vec()).await, StatusCode::NO_CONTENT).await;
    id
}

async fn settled(app: &TestApp, id: &str) -> Value {
    app.wait_for_image(id, Duration::from_secs(10), |i| {
        i["status"] != "importing" && i.get("os_glance_import_task").is_none()
    })
    .await
}

#[tokio::test]
async fn glance_direct_to_all_stores_puts_the_same_bytes_in_each() {
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let app = three_stores(backend).await;
        let data = noise(300_000, 1);
        let id = staged_image(&app, &data).await;
        let body = json!({"method": {"name": "glance-direct"}, "all_stores": true});
        expect_status(import(&app, &id, body).await, StatusCode::ACCEPTED).await;
        let task = wait_for_task(&app, &id, "success").await;
        assert_eq!(task["input"]["backend"], json!(["fast", "cold", "spare"]));
        let image = settled(&app, &id).await;
        assert_eq!(image["status"], "active", "{image:#}");
        assert_eq!(image["checksum"], common::md5_hex(&data));
        assert_eq!(store_urls(&image), ["cold", "fast", "spare"]);
        assert!(
            image.get("os_glance_importing_to_stores").is_none(),
            "{image:#}"
        );
        assert!(image.get("os_glance_failed_import").is_none(), "{image:#}");
        for store in ["fast", "cold", "spare"] {
            let stored = std::fs::read(app.scratch_dir().join(store).join(&id)).unwrap();
            assert_eq!(stored, data, "{store}");
        }
        assert!(app.staged_files().is_empty());
        // Each copy can be deleted on its own, and served from the others.
        let resp = app
            .admin()
            .delete(&format!("/v2/stores/fast/{id}"))
            .send()
            .await
            .unwrap();
        expect_status(resp, StatusCode::NO_CONTENT).await;
        let resp = app
            .get(&format!("/v2/images/{id}/file"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.bytes().await.unwrap().as_ref(), data.as_slice());
    }
}

#[tokio::test]
async fn a_store_that_fails_undoes_the_whole_import_when_all_must_succeed() {
    let app = three_stores(Backend::Sqlite).await;
    let data = noise(100_000, 2);
    let id = staged_image(&app, &data).await;
    break_store(&app, "spare");
    let body = json!({"method": {"name": "glance-direct"}, "stores": ["fast", "cold", "spare"]});
    expect_status(import(&app, &id, body).await, StatusCode::ACCEPTED).await;
    let task = wait_for_task(&app, &id, "failure").await;
    assert!(!task["message"].as_str().unwrap().is_empty(), "{task:#}");
    let image = settled(&app, &id).await;
    assert_eq!(image["status"], "queued", "{image:#}");
    assert!(store_urls(&image).is_empty(), "{image:#}");
    assert_eq!(image["checksum"], Value::Null);
    assert_eq!(image["size"], Value::Null);
    assert_eq!(image["os_glance_failed_import"], "spare", "{image:#}");
    // What was written to the stores that worked is gone too.
    assert!(files_in(&app.scratch_dir().join("fast")).is_empty());
    assert!(files_in(&app.scratch_dir().join("cold")).is_empty());
    assert!(app.staged_files().is_empty());
}

#[tokio::test]
async fn without_all_stores_must_succeed_a_failed_store_is_listed_and_the_rest_kept() {
    let app = three_stores(Backend::Sqlite).await;
    let data = noise(100_000, 3);
    let id = staged_image(&app, &data).await;
    break_store(&app, "cold");
    let body = json!({
        "method": {"name": "glance-direct"},
        "stores": ["fast", "cold", "spare"],
        "all_stores_must_succeed": false
    });
    expect_status(import(&app, &id, body).await, StatusCode::ACCEPTED).await;
    wait_for_task(&app, &id, "success").await;
    let image = settled(&app, &id).await;
    assert_eq!(image["status"], "active", "{image:#}");
    assert_eq!(store_urls(&image), ["fast", "spare"]);
    assert_eq!(image["os_glance_failed_import"], "cold", "{image:#}");
    assert!(
        image.get("os_glance_importing_to_stores").is_none(),
        "{image:#}"
    );

    // Every store failing fails the import, as Glance's "None of the
    // uploads finished!".
    let other = staged_image(&app, &data).await;
    break_store(&app, "spare");
    let body = json!({
        "method": {"name": "glance-direct"},
        "stores": ["cold", "spare"],
        "all_stores_must_succeed": false
    });
    expect_status(import(&app, &other, body).await, StatusCode::ACCEPTED).await;
    let task = wait_for_task(&app, &other, "failure").await;
    assert!(
        task["message"]
            .as_str()
            .unwrap()
            .contains("None of the uploads finished"),
        "{task:#}"
    );
    let image = settled(&app, &other).await;
    assert_eq!(image["status"], "queued");
    assert_eq!(image["os_glance_failed_import"], "cold,spare", "{image:#}");
}

#[tokio::test]
async fn web_download_to_two_stores_downloads_once() {
    let data = noise(200_000, 4);
    let addr = serve_bytes(data.clone()).await;
    let lists = glint_store::ImportFilterLists {
        allowed_hosts: vec!["127.0.0.1".into()],
        allowed_ports: Vec::new(),
        ..Default::default()
    };
    let app = TestApp::builder()
        .import_filter(glint_store::ImportFilter::new(&lists).unwrap())
        .stores(|dir| {
            let store = |id: &str| Arc::new(glint_store::FileStore::new(id, dir.join(id)).unwrap());
            let mut registry = glint_store::StoreRegistry::new(store("fast")).multi_store();
            registry.add(store("cold"));
            registry
        })
        .start()
        .await;
    let id = app.create_raw_image("downloaded").await;
    let body = json!({
        "method": {"name": "web-download", "uri": format!("http://{addr}/image")},
        "stores": ["cold", "fast"]
    });
    expect_status(import(&app, &id, body).await, StatusCode::ACCEPTED).await;
    wait_for_task(&app, &id, "success").await;
    let image = settled(&app, &id).await;
    assert_eq!(image["status"], "active", "{image:#}");
    assert_eq!(store_urls(&image), ["cold", "fast"]);
    assert_eq!(image["os_hash_value"], common::sha512_hex(&data));
    assert!(app.staged_files().is_empty());
}

/// An active image in `fast` only.
async fn image_in_fast(app: &TestApp, data: &[u8]) -> String {
    let id = app.create_raw_image("copied").await;
    let resp = app
        .admin()
        .put(&format!("/v2/images/{id}/file"))
        .header("content-type", "application/octet-stream")
        .header("x-image-meta-store", "fast")
        .body(data.to_vec())
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;
    id
}

fn copy_to(stores: &[&str]) -> Value {
    json!({"method": {"name": "copy-image"}, "stores": stores})
}

#[tokio::test]
async fn copy_image_adds_the_image_to_more_stores_and_it_stays_active() {
    for backend in Backend::configured() {
        eprintln!("running on {backend:?}");
        let app = three_stores(backend).await;
        let data = noise(250_000, 5);
        let id = image_in_fast(&app, &data).await;
        expect_status(
            import(&app, &id, copy_to(&["cold"])).await,
            StatusCode::ACCEPTED,
        )
        .await;
        let task = wait_for_task(&app, &id, "success").await;
        assert_eq!(task["result"]["image_id"], id);
        let image = settled(&app, &id).await;
        assert_eq!(image["status"], "active");
        assert_eq!(store_urls(&image), ["cold", "fast"]);
        assert_eq!(image["checksum"], common::md5_hex(&data));
        assert!(
            image.get("os_glance_importing_to_stores").is_none(),
            "{image:#}"
        );
        let copy = std::fs::read(app.scratch_dir().join("cold").join(&id)).unwrap();
        assert_eq!(copy, data);

        // A store that already has it, named: 400; `all_stores` copies to
        // the rest only, and once in all of them there is nothing to do.
        let msg = expect_error(
            import(&app, &id, copy_to(&["fast", "spare"])).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(
            msg.contains("Image is already present at store 'fast'"),
            "{msg}"
        );
        let all = json!({"method": {"name": "copy-image"}, "all_stores": true});
        expect_status(import(&app, &id, all.clone()).await, StatusCode::ACCEPTED).await;
        app.wait_for_image(&id, Duration::from_secs(10), |i| {
            i["stores"]
                .as_str()
                .is_some_and(|s| s.split(',').count() == 3)
                && i.get("os_glance_import_task").is_none()
        })
        .await;
        let before = tasks_of(&app, &id).await.len();
        expect_status(import(&app, &id, all).await, StatusCode::ACCEPTED).await;
        assert_eq!(
            tasks_of(&app, &id).await.len(),
            before,
            "no task for nothing to copy"
        );
    }
}

#[tokio::test]
async fn copy_image_is_refused_as_glance_refuses_it() {
    let app = three_stores(Backend::Sqlite).await;
    // Not active.
    let queued = app.create_raw_image("queued").await;
    let msg = expect_error(
        import(&app, &queued, copy_to(&["cold"])).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        msg.contains("Only images with status active can be targeted for copying"),
        "{msg}"
    );
    // Another method on an active image.
    let id = image_in_fast(&app, &noise(1000, 6)).await;
    let msg = expect_error(
        import(&app, &id, json!({"method": {"name": "glance-direct"}})).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        msg.contains("Image with status active cannot be target for import"),
        "{msg}"
    );
    // copy_image is for admins by default, even to the image's owner.
    let owner_image = {
        let p1 = app.member_of("p1");
        let created = p1
            .create_image(json!({"disk_format": "raw", "container_format": "bare"}))
            .await;
        let id = common::id_of(&created);
        let resp = p1
            .put(&format!("/v2/images/{id}/file"))
            .header("content-type", "application/octet-stream")
            .body(noise(1000, 7))
            .send()
            .await
            .unwrap();
        expect_status(resp, StatusCode::NO_CONTENT).await;
        id
    };
    let resp = app
        .member_of("p1")
        .post(&format!("/v2/images/{owner_image}/import"))
        .json(&copy_to(&["cold"]))
        .send()
        .await
        .unwrap();
    expect_error(resp, StatusCode::FORBIDDEN).await;
    // Unknown and read-only stores, and mixing all_stores with stores.
    let msg = expect_error(
        import(&app, &id, copy_to(&["warm"])).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(msg.contains("warm"), "{msg}");
    let mixed = json!({"method": {"name": "copy-image"}, "all_stores": true, "stores": ["cold"]});
    expect_error(import(&app, &id, mixed).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(store_urls(&app.image(&id).await), ["fast"]);
}

#[tokio::test]
async fn a_copy_that_fails_leaves_the_image_as_it_was() {
    let app = three_stores(Backend::Sqlite).await;
    let data = noise(50_000, 8);
    let id = image_in_fast(&app, &data).await;
    break_store(&app, "spare");
    expect_status(
        import(&app, &id, copy_to(&["cold", "spare"])).await,
        StatusCode::ACCEPTED,
    )
    .await;
    wait_for_task(&app, &id, "failure").await;
    let image = settled(&app, &id).await;
    assert_eq!(image["status"], "active");
    assert_eq!(store_urls(&image), ["fast"]);
    assert_eq!(image["os_glance_failed_import"], "spare", "{image:#}");
    assert!(files_in(&app.scratch_dir().join("cold")).is_empty());
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.bytes().await.unwrap().as_ref(), data.as_slice());
}

/// Puts `task` (as the database holds it) on the image as its import lock.
async fn lock_with(app: &TestApp, id: &str, task_id: &str) {
    let image_id = ImageId::parse(id).unwrap();
    let stored = app
        .db()
        .get_image_versioned(image_id)
        .await
        .unwrap()
        .unwrap();
    let mut image = stored.image.clone();
    image
        .properties
        .insert("os_glance_import_task".into(), task_id.into());
    image
        .properties
        .insert("os_glance_importing_to_stores".into(), "spare".into());
    app.db().save_image(&image, stored.version).await.unwrap();
}

/// A task that last changed `age` ago.
async fn task_aged(app: &TestApp, id: &str, age: Duration) -> Task {
    let mut task = Task::pending(
        API_IMAGE_IMPORT,
        json!({"image_id": id, "backend": ["spare"]}),
        time::now() - age,
    );
    task.image_id = Some(ImageId::parse(id).unwrap());
    app.db().insert_task(&task).await.unwrap();
    task
}

#[tokio::test]
async fn a_stale_import_lock_is_broken_as_glance_breaks_it() {
    let app = three_stores(Backend::Sqlite).await;
    let id = image_in_fast(&app, &noise(2000, 9)).await;

    // A lock of a task that changed a minute ago holds.
    let fresh = task_aged(&app, &id, Duration::from_secs(60)).await;
    lock_with(&app, &id, &fresh.id.to_string()).await;
    let msg = expect_error(
        import(&app, &id, copy_to(&["cold"])).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(msg.contains("Image has active task"), "{msg}");

    // A pending task holds it for two hours, not one.
    let pending = task_aged(&app, &id, Duration::from_secs(90 * 60)).await;
    lock_with(&app, &id, &pending.id.to_string()).await;
    expect_error(
        import(&app, &id, copy_to(&["cold"])).await,
        StatusCode::CONFLICT,
    )
    .await;

    // Past that, the lock is broken, its task failed, its progress cleaned
    // up, and the new import runs.
    let old = task_aged(&app, &id, Duration::from_secs(3 * 60 * 60)).await;
    lock_with(&app, &id, &old.id.to_string()).await;
    expect_status(
        import(&app, &id, copy_to(&["cold"])).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let image = settled(&app, &id).await;
    assert_eq!(store_urls(&image), ["cold", "fast"]);
    assert!(
        image.get("os_glance_importing_to_stores").is_none(),
        "{image:#}"
    );
    let broken = app.db().task(old.id, time::now()).await.unwrap().unwrap();
    assert_eq!(broken.status.as_str(), "failure");
    assert_eq!(broken.message, "Expired lock preempted");

    // A lock naming a task that does not exist is stale at once.
    lock_with(&app, &id, "3b1d0f0e-8f1c-4a52-9f8e-1e2a3b4c5d6e").await;
    expect_status(
        import(&app, &id, copy_to(&["spare"])).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let image = app
        .wait_for_image(&id, Duration::from_secs(10), |i| {
            i["stores"].as_str().is_some_and(|s| s.contains("spare"))
        })
        .await;
    assert_eq!(store_urls(&image), ["cold", "fast", "spare"]);
}

/// A long import shows its progress on its task, as Glance's does.
#[tokio::test]
async fn a_running_import_reports_what_it_copied_on_its_task() {
    use futures::stream;
    let app_router = axum::Router::new().route(
        "/slow",
        axum::routing::get(|| async {
            let chunks = stream::unfold(0u32, |n| async move {
                if n == 8 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(1500)).await;
                Some((Ok::<_, std::io::Error>(vec![7u8; 1 << 20]), n + 1))
            });
            axum::body::Body::from_stream(chunks)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app_router).await.unwrap() });
    let lists = glint_store::ImportFilterLists {
        allowed_hosts: vec!["127.0.0.1".into()],
        allowed_ports: Vec::new(),
        ..Default::default()
    };
    let app = TestApp::builder()
        .import_filter(glint_store::ImportFilter::new(&lists).unwrap())
        .start()
        .await;
    let id = app.create_raw_image("slow").await;
    let body = json!({"method": {"name": "web-download", "uri": format!("http://{addr}/slow")}});
    expect_status(import(&app, &id, body).await, StatusCode::ACCEPTED).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let progress = loop {
        let tasks = tasks_of(&app, &id).await;
        let task = tasks.first().cloned().unwrap_or_default();
        if task["status"] == "processing"
            && task["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("Copied "))
        {
            break task;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no progress: {tasks:#?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        progress["message"].as_str().unwrap().ends_with(" MiB"),
        "{progress:#}"
    );
    let done = wait_for_task(&app, &id, "success").await;
    assert_eq!(done["message"], "");
    assert_eq!(app.image(&id).await["size"], 8 << 20);
}

/// Hostile import bodies: a huge store name or method name is quoted back
/// cut short, thousands of repeats of a store are one store, and an empty
/// `stores` list is nothing to copy, or a 400 for an import that would
/// leave the image in no store.
#[tokio::test]
async fn hostile_import_bodies_get_short_answers() {
    let app = three_stores(Backend::Sqlite).await;
    let id = image_in_fast(&app, &noise(1000, 11)).await;
    let huge = "x".repeat(50_000);
    let msg = expect_error(
        import(&app, &id, copy_to(&[&huge])).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(msg.len() < 1000, "{} bytes", msg.len());
    assert!(msg.contains("...(truncated)"), "{msg}");
    let body = json!({"method": {"name": huge}});
    let msg = expect_error(import(&app, &id, body).await, StatusCode::BAD_REQUEST).await;
    assert!(msg.len() < 1000, "{} bytes", msg.len());
    let msg = expect_error(
        import(&app, &id, copy_to(&["cold\0"])).await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(msg.contains("not found"), "{msg}");

    let before = tasks_of(&app, &id).await.len();
    expect_status(import(&app, &id, copy_to(&[])).await, StatusCode::ACCEPTED).await;
    assert_eq!(tasks_of(&app, &id).await.len(), before, "nothing to copy");

    let repeated = vec!["cold"; 10_000];
    expect_status(
        import(&app, &id, copy_to(&repeated)).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let task = wait_for_task(&app, &id, "success").await;
    assert_eq!(task["input"]["backend"], json!(["cold"]));
    assert_eq!(store_urls(&settled(&app, &id).await), ["cold", "fast"]);

    let staged = staged_image(&app, &noise(1000, 12)).await;
    let body = json!({"method": {"name": "glance-direct"}, "stores": []});
    let msg = expect_error(import(&app, &staged, body).await, StatusCode::BAD_REQUEST).await;
    assert!(msg.contains("Invalid stores"), "{msg}");
    assert_eq!(app.image(&staged).await["status"], "uploading");
}

// ---- max_parallel_stores ----

/// A store in front of a file store whose writes wait at a rendezvous
/// with the writes of the other stores: they all go through only when
/// they run at the same time. Written one after the other, the first one
/// gives up after a while and the import fails.
#[derive(Debug)]
struct Rendezvous {
    inner: Arc<dyn glint_store::Store>,
    meet: Arc<tokio::sync::Barrier>,
}

#[async_trait::async_trait]
impl glint_store::Store for Rendezvous {
    fn id(&self) -> &str {
        self.inner.id()
    }

    fn owns(&self, url: &str) -> bool {
        self.inner.owns(url)
    }

    async fn put(
        &self,
        image_id: ImageId,
        data: glint_store::ByteStream,
    ) -> Result<glint_store::Stored, glint_store::StoreError> {
        let met = tokio::time::timeout(Duration::from_secs(5), self.meet.wait()).await;
        if met.is_err() {
            return Err(glint_store::StoreError::Unavailable(
                "the other stores' writes never came".into(),
            ));
        }
        self.inner.put(image_id, data).await
    }

    async fn get(
        &self,
        url: &str,
        range: Option<glint_store::ByteRange>,
    ) -> Result<glint_store::ObjectData, glint_store::StoreError> {
        self.inner.get(url, range).await
    }

    async fn delete(&self, url: &str) -> Result<(), glint_store::StoreError> {
        self.inner.delete(url).await
    }

    async fn discard(&self, image_id: ImageId) -> Result<(), glint_store::StoreError> {
        self.inner.discard(image_id).await
    }
}

/// Three stores whose writes meet (see [`Rendezvous`]), imported to
/// `width` at a time.
async fn meeting_stores(width: usize) -> TestApp {
    TestApp::builder()
        .max_parallel_stores(width)
        .stores(|dir| {
            let meet = Arc::new(tokio::sync::Barrier::new(3));
            let store = |id: &str| -> Arc<dyn glint_store::Store> {
                Arc::new(Rendezvous {
                    inner: Arc::new(glint_store::FileStore::new(id, dir.join(id)).unwrap()),
                    meet: Arc::clone(&meet),
                })
            };
            let mut registry = glint_store::StoreRegistry::new(store("fast")).multi_store();
            registry.add(store("cold"));
            registry.add(store("spare"));
            registry
        })
        .start()
        .await
}

#[tokio::test]
async fn max_parallel_stores_writes_the_stores_at_the_same_time() {
    let app = meeting_stores(3).await;
    let data = noise(400_000, 11);
    let id = staged_image(&app, &data).await;
    let body = json!({"method": {"name": "glance-direct"}, "all_stores": true});
    expect_status(import(&app, &id, body).await, StatusCode::ACCEPTED).await;
    wait_for_task(&app, &id, "success").await;
    let image = settled(&app, &id).await;
    assert_eq!(image["status"], "active", "{image:#}");
    assert_eq!(image["checksum"], common::md5_hex(&data));
    assert_eq!(store_urls(&image), ["cold", "fast", "spare"]);
    assert!(
        image.get("os_glance_importing_to_stores").is_none(),
        "{image:#}"
    );
    for store in ["fast", "cold", "spare"] {
        let stored = std::fs::read(app.scratch_dir().join(store).join(&id)).unwrap();
        assert_eq!(stored, data, "{store}");
    }
    assert!(app.staged_files().is_empty());
}

#[tokio::test]
async fn stores_written_one_at_a_time_never_meet() {
    // The same stores with the default (1): the first write waits for
    // the others in vain, and the import fails cleanly.
    let app = meeting_stores(1).await;
    let id = staged_image(&app, &noise(1000, 12)).await;
    let body = json!({"method": {"name": "glance-direct"}, "all_stores": true});
    expect_status(import(&app, &id, body).await, StatusCode::ACCEPTED).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let task = loop {
        let tasks = tasks_of(&app, &id).await;
        if let Some(t) = tasks.iter().find(|t| t["status"] == "failure") {
            break t.clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "{tasks:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        task["message"]
            .as_str()
            .unwrap_or_default()
            .contains("never came"),
        "{task:#}"
    );
    assert_eq!(settled(&app, &id).await["status"], "queued");
}

#[tokio::test]
async fn in_parallel_a_failing_store_undoes_everything_when_all_must_succeed() {
    let app = three_stores_written(Backend::Sqlite, 3).await;
    let data = noise(2_000_000, 13);
    let id = staged_image(&app, &data).await;
    break_store(&app, "cold");
    let body = json!({"method": {"name": "glance-direct"}, "all_stores": true});
    expect_status(import(&app, &id, body).await, StatusCode::ACCEPTED).await;
    wait_for_task(&app, &id, "failure").await;
    let image = settled(&app, &id).await;
    assert_eq!(image["status"], "queued", "{image:#}");
    assert!(store_urls(&image).is_empty(), "{image:#}");
    assert_eq!(image["checksum"], Value::Null);
    // No copy is left in the stores that worked, whole or partial.
    assert!(files_in(&app.scratch_dir().join("fast")).is_empty());
    assert!(files_in(&app.scratch_dir().join("spare")).is_empty());
    assert!(app.staged_files().is_empty());
}

/// Imports the staged `data` of `id` to every store without
/// `all_stores_must_succeed`, where `spare` fails: the image is active in
/// the two others with `spare` listed as failed. The image settled.
async fn import_keeping_the_rest(app: &TestApp, id: &str, data: &[u8]) -> Value {
    let body = json!({
        "method": {"name": "glance-direct"},
        "all_stores": true,
        "all_stores_must_succeed": false
    });
    expect_status(import(app, id, body).await, StatusCode::ACCEPTED).await;
    wait_for_task(app, id, "success").await;
    let image = settled(app, id).await;
    assert_eq!(image["status"], "active", "{image:#}");
    assert_eq!(store_urls(&image), ["cold", "fast"]);
    assert_eq!(image["os_glance_failed_import"], "spare", "{image:#}");
    assert_eq!(image["checksum"], common::md5_hex(data));
    image
}

/// A store that fails only once its data is written (its object's name is
/// taken by a directory, so the final rename fails) fails while the other
/// stores are saving the image: the failure is recorded and the import
/// ends. (The failure was once recorded outside the writes, which were
/// not polled meanwhile: one paused holding the image's write turn and
/// the import hung in `processing`.)
#[tokio::test]
async fn a_store_failing_late_while_others_save_does_not_hold_the_import() {
    let app = three_stores_written(Backend::Sqlite, 3).await;
    for round in 0..8 {
        let data = noise(200_000, 40 + round);
        let id = staged_image(&app, &data).await;
        let taken = app.scratch_dir().join("spare").join(&id);
        std::fs::create_dir_all(&taken).unwrap();
        std::fs::write(taken.join("keep"), b"x").unwrap();
        import_keeping_the_rest(&app, &id, &data).await;
        assert!(taken.join("keep").exists(), "round {round}");
    }
}

#[tokio::test]
async fn in_parallel_without_all_stores_must_succeed_the_rest_is_kept() {
    let app = three_stores_written(Backend::Sqlite, 3).await;
    let data = noise(300_000, 14);
    let id = staged_image(&app, &data).await;
    break_store(&app, "spare");
    let image = import_keeping_the_rest(&app, &id, &data).await;
    assert!(
        image.get("os_glance_importing_to_stores").is_none(),
        "{image:#}"
    );
    assert!(app.staged_files().is_empty());
    // copy-image stays serial, as in Glance, and still works.
    std::fs::remove_file(app.scratch_dir().join("spare")).unwrap();
    std::fs::create_dir(app.scratch_dir().join("spare")).unwrap();
    let copy = json!({"method": {"name": "copy-image"}, "stores": ["spare"]});
    expect_status(import(&app, &id, copy).await, StatusCode::ACCEPTED).await;
    let image = app
        .wait_for_image(&id, Duration::from_secs(10), |i| {
            store_urls(i).len() == 3 && i.get("os_glance_import_task").is_none()
        })
        .await;
    assert_eq!(image["status"], "active");
}
