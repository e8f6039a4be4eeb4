//! The `glance-download` import method: an image taken from another image
//! service (here a second glint, or a small fake of one) through the
//! caller's catalog, with the caller's token.

use crate::common;
use crate::image_import::{import, wait_for_task};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode as AxumStatus};
use axum::response::{IntoResponse, Response};
use common::keystone::{AuthSettings, FakeKeystone, keystone_mode};
use common::{TestApp, expect_error, expect_status, noise};
use reqwest::StatusCode;
use serde_json::{Value, json};

const REGION: &str = "RegionTwo";

/// A filter that lets imports reach servers on this machine.
fn local_filter() -> glint_store::ImportFilter {
    let lists = glint_store::ImportFilterLists {
        allowed_hosts: vec!["127.0.0.1".into()],
        allowed_ports: Vec::new(),
        ..Default::default()
    };
    glint_store::ImportFilter::new(&lists).unwrap()
}

/// The importing server: glance-download enabled, local servers allowed.
async fn importer() -> TestApp {
    TestApp::builder()
        .import_methods(&["glance-direct", "web-download", "glance-download"])
        .import_filter(local_filter())
        .start()
        .await
}

fn glance_download(remote_id: &str) -> Value {
    json!({"method": {"name": "glance-download", "glance_region": REGION,
                      "glance_image_id": remote_id}})
}

/// keystonemiddleware's `X-Service-Catalog` naming `url` as the image
/// service of [`REGION`].
fn catalog(url: &str) -> String {
    json!([{"type": "image", "name": "glance", "endpoints": [
        {"region": REGION, "publicURL": url, "internalURL": url}]}])
    .to_string()
}

/// `POST /import` as a no-auth admin whose middleware passed on `catalog`.
async fn import_with_catalog(app: &TestApp, id: &str, body: Value, url: &str) -> reqwest::Response {
    app.admin()
        .post(&format!("/v2/images/{id}/import"))
        .header("x-service-catalog", catalog(url))
        .header("x-auth-token", "user-token")
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A queued image on `app` with formats set (an import needs them).
async fn queued_image(app: &TestApp, name: &str) -> String {
    let image = app
        .create_image(
            json!({"name": name, "disk_format": "qcow2", "container_format": "bare",
                             "hw_disk_bus": "ide"}),
        )
        .await;
    image["id"].as_str().unwrap().to_owned()
}

/// An active image on `remote` holding `data`, with properties of which
/// the default `extra_properties` name some.
async fn remote_image(remote: &TestApp, data: &[u8]) -> Value {
    let image = remote
        .create_image(json!({
            "name": "golden", "disk_format": "raw", "container_format": "ovf",
            "hw_disk_bus": "scsi", "hw_qemu_guest_agent": "yes", "os_distro": "cirros",
            "trait:CUSTOM_FAST": "required", "os_type": "linux", "owner_note": "not copied",
            "min_ram": 64
        }))
        .await;
    let id = image["id"].as_str().unwrap();
    remote.upload_ok(id, data.to_vec()).await;
    remote.image(id).await
}

/// The image's tasks once `count` of them have failed.
async fn failed_tasks(app: &TestApp, id: &str, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let tasks = crate::image_import::tasks_of(app, id).await;
        if tasks.iter().filter(|t| t["status"] == "failure").count() >= count {
            return tasks;
        }
        assert!(tokio::time::Instant::now() < deadline, "{tasks:#?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The image went back to `queued` as it was before the import: its own
/// formats, none of the remote properties, no lock, no data.
async fn assert_put_back(app: &TestApp, id: &str) {
    let image = app
        .wait_for_image(id, Duration::from_secs(10), |i| i["status"] == "queued")
        .await;
    assert_eq!(image["disk_format"], "qcow2", "{image:#}");
    assert_eq!(image["container_format"], "bare", "{image:#}");
    assert_eq!(image["hw_disk_bus"], "ide", "{image:#}");
    for key in ["os_distro", "hw_qemu_guest_agent", "os_glance_import_task"] {
        assert!(image.get(key).is_none(), "{key} left: {image:#}");
    }
    assert_eq!(image["size"], Value::Null);
    assert_eq!(app.store_files(), Vec::<String>::new());
    assert_eq!(app.staged_files(), Vec::<String>::new());
}

#[tokio::test]
async fn glance_download_takes_the_data_formats_and_named_properties_of_the_remote_image() {
    let remote = TestApp::new().await;
    let data = noise(300_000, 21);
    let source = remote_image(&remote, &data).await;
    let app = importer().await;
    let info: Value = app
        .admin()
        .get("/v2/info/import")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        info["import-methods"]["value"],
        json!(["glance-direct", "web-download", "glance-download"])
    );
    let id = queued_image(&app, "copy").await;
    let body = glance_download(source["id"].as_str().unwrap());
    let resp = import_with_catalog(&app, &id, body, &remote.url("")).await;
    expect_status(resp, StatusCode::ACCEPTED).await;
    let image = crate::image_import::imported(&app, &id).await;
    assert_eq!(image["checksum"], source["checksum"]);
    assert_eq!(image["os_hash_value"], source["os_hash_value"]);
    assert_eq!(image["size"], 300_000);
    assert_eq!(
        (&image["disk_format"], &image["container_format"]),
        (&json!("raw"), &json!("ovf"))
    );
    for key in [
        "hw_disk_bus",
        "hw_qemu_guest_agent",
        "os_distro",
        "trait:CUSTOM_FAST",
        "os_type",
    ] {
        assert_eq!(image[key], source[key], "{key}: {image:#}");
    }
    // Neither other properties nor attributes of the remote image.
    assert!(image.get("owner_note").is_none(), "{image:#}");
    assert_eq!(image["name"], "copy");
    assert_eq!(image["min_ram"], 0);
    assert!(image.get("os_glance_import_task").is_none(), "{image:#}");
    let downloaded = app
        .admin()
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), &data[..]);
    // The task's input is the request as Glance keeps it (the interface
    // filled in), without what glint keeps for itself.
    let task = wait_for_task(&app, &id, "success").await;
    let method = &task["input"]["import_req"]["method"];
    assert_eq!(method["glance_service_interface"], "public", "{task:#}");
    assert_eq!(method["glance_region"], REGION);
    let input = task["input"].as_object().unwrap();
    assert!(input.keys().all(|k| !k.starts_with("delegat")), "{task:#}");
}

#[tokio::test]
async fn the_token_goes_to_the_remote_service_and_the_catalog_comes_from_keystone() {
    let keystone = FakeKeystone::start().await;
    let settings = AuthSettings {
        include_service_catalog: true,
        ..AuthSettings::default()
    };
    // Both services check tokens with the same Keystone: the remote one
    // answers only because the importer sent the caller's token.
    let remote = TestApp::builder()
        .api_config(|c| c.auth = keystone_mode(&keystone.url(), settings.clone()))
        .start()
        .await;
    let app = TestApp::builder()
        .api_config(|c| c.auth = keystone_mode(&keystone.url(), settings.clone()))
        .import_methods(&["glance-download"])
        .import_filter(local_filter())
        .start()
        .await;
    keystone.add_image_endpoint("regiontwo", "public", &remote.url(""));
    keystone.add_image_endpoint("RegionOne", "public", &app.url(""));
    let token = keystone.issue("u1", "p1", &["member", "reader"], Duration::from_secs(600));
    let call = |app: &TestApp, method: reqwest::Method, path: &str| {
        app.client()
            .request(method, app.url(path))
            .header("x-auth-token", token.clone())
    };
    let data = noise(70_000, 4);
    let created: Value = call(&remote, reqwest::Method::POST, "/v2/images")
        .json(
            &json!({"name": "src", "disk_format": "raw", "container_format": "bare",
                      "hw_firmware_type": "uefi"}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let remote_id = created["id"].as_str().unwrap().to_owned();
    let put = call(
        &remote,
        reqwest::Method::PUT,
        &format!("/v2/images/{remote_id}/file"),
    )
    .header("content-type", "application/octet-stream")
    .body(data.clone())
    .send()
    .await
    .unwrap();
    assert_eq!(put.status(), StatusCode::NO_CONTENT);
    let local: Value = call(&app, reqwest::Method::POST, "/v2/images")
        .json(&json!({"name": "dst", "disk_format": "qcow2", "container_format": "bare"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = local["id"].as_str().unwrap().to_owned();
    // A client's own X-Service-Catalog is never believed with Keystone on.
    let resp = call(
        &app,
        reqwest::Method::POST,
        &format!("/v2/images/{id}/import"),
    )
    .header("x-service-catalog", catalog("http://127.0.0.1:1"))
    .json(&glance_download(&remote_id))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), StatusCode::ACCEPTED);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let image = loop {
        let image: Value = call(&app, reqwest::Method::GET, &format!("/v2/images/{id}"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if image["status"] == "active" || tokio::time::Instant::now() > deadline {
            break image;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    };
    assert_eq!(image["status"], "active", "{image:#}");
    assert_eq!(image["checksum"], common::md5_hex(&data));
    assert_eq!(image["hw_firmware_type"], "uefi");
    assert_eq!(image["disk_format"], "raw");
}

#[tokio::test]
async fn without_a_catalog_entry_for_the_region_the_import_fails_and_nothing_changes() {
    let remote = TestApp::new().await;
    let source = remote_image(&remote, &noise(1000, 2)).await;
    let app = importer().await;
    let id = queued_image(&app, "nowhere").await;
    let mut body = glance_download(source["id"].as_str().unwrap());
    body["method"]["glance_region"] = json!("Nowhere");
    let resp = import_with_catalog(&app, &id, body, &remote.url("")).await;
    expect_status(resp, StatusCode::ACCEPTED).await;
    let task = wait_for_task(&app, &id, "failure").await;
    assert_eq!(
        task["message"], "public glance endpoint not found for region Nowhere",
        "{task:#}"
    );
    assert_put_back(&app, &id).await;
    // The internal interface of the region is found when asked for.
    let mut body = glance_download(source["id"].as_str().unwrap());
    body["method"]["glance_service_interface"] = json!("admin");
    expect_status(
        import_with_catalog(&app, &id, body, &remote.url("")).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let tasks = failed_tasks(&app, &id, 2).await;
    assert!(
        tasks
            .iter()
            .any(|t| t["message"] == "admin glance endpoint not found for region RegionTwo"),
        "{tasks:#?}"
    );
    assert_put_back(&app, &id).await;
}

#[tokio::test]
async fn a_remote_image_that_is_not_active_is_refused() {
    let remote = TestApp::new().await;
    let source = remote
        .create_image(json!({"name": "empty", "disk_format": "raw", "container_format": "bare"}))
        .await;
    let app = importer().await;
    let id = queued_image(&app, "from-queued").await;
    let body = glance_download(source["id"].as_str().unwrap());
    let resp = import_with_catalog(&app, &id, body, &remote.url("")).await;
    expect_status(resp, StatusCode::ACCEPTED).await;
    let task = wait_for_task(&app, &id, "failure").await;
    assert_eq!(
        task["message"], "Source image status should be active instead of queued",
        "{task:#}"
    );
    assert_put_back(&app, &id).await;
    // An image the remote service does not know.
    let body = glance_download("5f0b6c8e-1111-4222-8333-444455556666");
    expect_status(
        import_with_catalog(&app, &id, body, &remote.url("")).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let tasks = failed_tasks(&app, &id, 2).await;
    assert!(
        tasks
            .iter()
            .any(|t| t["message"].as_str().unwrap_or_default().contains("404")),
        "{tasks:#?}"
    );
    assert_put_back(&app, &id).await;
}

#[tokio::test]
async fn the_default_filter_refuses_a_local_endpoint() {
    let remote = TestApp::new().await;
    let source = remote_image(&remote, &noise(1000, 3)).await;
    let app = TestApp::builder()
        .import_methods(&["glance-download"])
        .start()
        .await;
    let id = queued_image(&app, "filtered").await;
    let body = glance_download(source["id"].as_str().unwrap());
    let resp = import_with_catalog(&app, &id, body, &remote.url("")).await;
    expect_status(resp, StatusCode::ACCEPTED).await;
    let task = wait_for_task(&app, &id, "failure").await;
    let message = task["message"].as_str().unwrap_or_default();
    assert!(message.contains("import_filtering_opts"), "{task:#}");
    assert_put_back(&app, &id).await;
}

/// What a fake remote image service saw and answers.
#[derive(Default)]
struct FakeRemote {
    /// The image document answered for every id.
    document: Value,
    /// The data answered at `/file`, or a redirect there.
    data: Vec<u8>,
    redirect_file_to: Option<String>,
    /// `X-Auth-Token` of each request, by path.
    tokens: Vec<(String, Option<String>)>,
}

async fn serve_fake(fake: Arc<Mutex<FakeRemote>>) -> String {
    let token = |headers: &HeaderMap| {
        headers
            .get("x-auth-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let doc_fake = Arc::clone(&fake);
    let file_fake = Arc::clone(&fake);
    let app = axum::Router::new()
        .route(
            "/v2/images/{id}",
            axum::routing::get(move |Path(id): Path<String>, headers: HeaderMap| {
                let fake = Arc::clone(&doc_fake);
                async move {
                    let mut fake = fake.lock().unwrap();
                    fake.tokens
                        .push((format!("/v2/images/{id}"), token(&headers)));
                    axum::Json(fake.document.clone()).into_response()
                }
            }),
        )
        .route(
            "/v2/images/{id}/file",
            axum::routing::get(move |Path(id): Path<String>, headers: HeaderMap| {
                let fake = Arc::clone(&file_fake);
                async move {
                    let mut fake = fake.lock().unwrap();
                    fake.tokens
                        .push((format!("/v2/images/{id}/file"), token(&headers)));
                    let resp: Response = match &fake.redirect_file_to {
                        Some(to) => (AxumStatus::FOUND, [("location", to.clone())]).into_response(),
                        None => fake.data.clone().into_response(),
                    };
                    resp
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

fn active_document(size: u64) -> Value {
    json!({"status": "active", "size": size, "disk_format": "raw", "container_format": "bare",
           "os_distro": "fake"})
}

#[tokio::test]
async fn data_of_another_size_than_the_remote_image_says_is_refused() {
    let fake = Arc::new(Mutex::new(FakeRemote {
        document: active_document(10),
        data: b"short".to_vec(),
        ..Default::default()
    }));
    let url = serve_fake(Arc::clone(&fake)).await;
    let app = importer().await;
    let id = queued_image(&app, "short").await;
    let body = glance_download("5f0b6c8e-1111-4222-8333-444455556666");
    expect_status(
        import_with_catalog(&app, &id, body, &url).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let task = wait_for_task(&app, &id, "failure").await;
    let message = task["message"].as_str().unwrap_or_default();
    assert!(message.contains("10") && message.contains('5'), "{task:#}");
    assert_put_back(&app, &id).await;
    // And more than it says.
    fake.lock().unwrap().data = noise(11, 1);
    let body = glance_download("5f0b6c8e-1111-4222-8333-444455556666");
    expect_status(
        import_with_catalog(&app, &id, body, &url).await,
        StatusCode::ACCEPTED,
    )
    .await;
    failed_tasks(&app, &id, 2).await;
    assert_put_back(&app, &id).await;
}

#[tokio::test]
async fn the_token_is_not_sent_along_a_redirect_to_another_origin() {
    let data = noise(5000, 8);
    // Another port: another origin.
    let elsewhere = Arc::new(Mutex::new(FakeRemote {
        data: data.clone(),
        ..Default::default()
    }));
    let elsewhere_url = serve_fake(Arc::clone(&elsewhere)).await;
    let fake = Arc::new(Mutex::new(FakeRemote {
        document: active_document(5000),
        redirect_file_to: Some(format!("{elsewhere_url}/v2/images/moved/file")),
        ..Default::default()
    }));
    let url = serve_fake(Arc::clone(&fake)).await;
    let app = importer().await;
    let id = queued_image(&app, "redirected").await;
    let remote_id = "5f0b6c8e-1111-4222-8333-444455556666";
    expect_status(
        import_with_catalog(&app, &id, glance_download(remote_id), &url).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let image = crate::image_import::imported(&app, &id).await;
    assert_eq!(image["checksum"], common::md5_hex(&data));
    assert_eq!(image["os_distro"], "fake");
    let tokens = fake.lock().unwrap().tokens.clone();
    assert_eq!(
        tokens,
        [
            (format!("/v2/images/{remote_id}"), Some("user-token".into())),
            (
                format!("/v2/images/{remote_id}/file"),
                Some("user-token".into())
            ),
        ]
    );
    let tokens = elsewhere.lock().unwrap().tokens.clone();
    assert_eq!(tokens, [("/v2/images/moved/file".to_owned(), None)]);
}

#[tokio::test]
async fn import_requests_are_checked_as_glance_checks_them() {
    let app = importer().await;
    let id = queued_image(&app, "checked").await;
    let url = "http://127.0.0.1:1";
    let uuid = "5f0b6c8e-1111-4222-8333-444455556666";
    let cases = [
        (
            json!({"method": {"name": "glance-download", "glance_image_id": uuid}}),
            "'glance_region' needs to be set for glance-download import method",
        ),
        (
            json!({"method": {"name": "glance-download", "glance_region": REGION}}),
            "'glance_image_id' needs to be set for glance-download import method",
        ),
        (
            json!({"method": {"name": "glance-download", "glance_region": REGION,
                              "glance_image_id": "not-a-uuid"}}),
            "Remote image id does not look like a UUID: not-a-uuid",
        ),
        (
            json!({"method": {"name": "glance-download", "glance_region": REGION,
                              "glance_image_id": "x".repeat(100_000)}}),
            "Remote image id does not look like a UUID: xxxx",
        ),
        (
            json!({"method": {"name": "glance-download", "glance_region": [REGION],
                              "glance_image_id": uuid}}),
            "'glance_region' must be a non-empty string",
        ),
        (
            json!({"method": {"name": "glance-download", "glance_region": REGION,
                              "glance_image_id": uuid, "glance_service_interface": 1}}),
            "'glance_service_interface' must be a non-empty string",
        ),
        (
            json!({"method": {"name": "glance-download", "glance_region": "Region\0Two",
                              "glance_image_id": uuid}}),
            "'glance_region' must be a non-empty string",
        ),
        (
            json!({"method": {"name": "glance-download", "glance_region": REGION,
                              "glance_image_id": uuid, "glance_service_interface": "pub\0"}}),
            "'glance_service_interface' must be a non-empty string",
        ),
    ];
    for (body, expected) in cases {
        let msg = expect_error(
            import_with_catalog(&app, &id, body.clone(), url).await,
            StatusCode::BAD_REQUEST,
        )
        .await;
        assert!(msg.contains(expected), "{body}: {msg}");
        assert!(msg.len() < 1000, "{msg}");
    }
    let image = app.image(&id).await;
    assert_eq!(image["status"], "queued");
    assert!(image.get("os_glance_import_task").is_none(), "{image:#}");
    // Glance checks the image first: a staged image is 409 whatever the
    // method's fields.
    expect_status(
        crate::image_import::stage(&app, &id, noise(10, 1)).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let msg = expect_error(
        import_with_catalog(
            &app,
            &id,
            json!({"method": {"name": "glance-download"}}),
            url,
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert!(
        msg.contains("Image needs to be in 'queued' state to use 'glance-download' method"),
        "{msg}"
    );
    // Not enabled (Glance's default list): an unknown method.
    let plain = TestApp::new().await;
    let id = queued_image(&plain, "plain").await;
    let msg = expect_error(
        import(&plain, &id, glance_download(uuid)).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert!(
        msg.contains("Unknown import method name 'glance-download'"),
        "{msg}"
    );
}

/// Sets up what a process that took a glance-download request and then
/// stopped leaves: the image `importing` under the lock of a `processing`
/// task whose lent credentials were held by `holder` until `until`, and
/// whose job lease has expired.
async fn orphaned_download(
    app: &TestApp,
    id: &str,
    holder: &str,
    until: glint_model::time::Timestamp,
) -> String {
    let mut req = glance_download("5f0b6c8e-1111-4222-8333-444455556666");
    req["method"]["glance_service_interface"] = json!("public");
    let input = json!({"image_id": id, "import_req": req, "backend": [],
                       "delegated_to": holder,
                       "delegation_expires_at": glint_model::time::format_iso(until)});
    let expired = glint_model::time::now();
    crate::image_import::interrupted_task(app, id, input, holder, expired).await
}

#[tokio::test]
async fn a_download_whose_credentials_are_gone_fails_cleanly_once_nobody_can_run_it() {
    let app = importer().await;
    // Held by a process on another machine whose token is still valid:
    // only that process could run it, so it is left alone.
    let waiting = queued_image(&app, "waiting").await;
    let later = glint_model::time::now() + Duration::from_secs(3600);
    orphaned_download(&app, &waiting, "elsewhere/0/1", later).await;
    // Its token expired: nobody can run it any more; it fails cleanly.
    let lost = queued_image(&app, "lost").await;
    let past = glint_model::time::now() - Duration::from_secs(1);
    let task_id = orphaned_download(&app, &lost, "elsewhere/0/2", past).await;
    failed_for_lost_credentials(&app, &lost, &task_id).await;
    // The other one still waits for its holder.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.image(&waiting).await["status"], "importing");
    let tasks = crate::image_import::tasks_of(&app, &waiting).await;
    assert_eq!(tasks[0]["status"], "processing", "{tasks:#?}");
}

/// The task `task_id` of image `id` failed for want of the caller's
/// credentials, and the image is back to `queued` without its lock.
async fn failed_for_lost_credentials(app: &TestApp, id: &str, task_id: &str) {
    let task = wait_for_task(app, id, "failure").await;
    assert_eq!(task["id"], task_id);
    assert!(
        task["message"]
            .as_str()
            .unwrap_or_default()
            .contains("credentials"),
        "{task:#}"
    );
    let image = app.image(id).await;
    assert_eq!(image["status"], "queued", "{image:#}");
    assert!(image.get("os_glance_import_task").is_none(), "{image:#}");
}

/// A lease holder of this node (`localhost` in tests) naming a process of
/// this machine that has ended: this process's pid with another start
/// time.
fn ended_holder_here() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let ns = std::fs::read_link("/proc/self/ns/pid").unwrap();
    let ns = ns.to_str().unwrap();
    let ns = ns.trim_start_matches("pid:[").trim_end_matches(']');
    format!(
        "localhost/gone/{}.1@{}:{ns}",
        std::process::id(),
        boot.trim()
    )
}

#[tokio::test]
async fn a_download_whose_holder_process_ended_on_this_machine_fails_at_once() {
    let app = importer().await;
    let id = queued_image(&app, "restarted").await;
    // The token is still valid for an hour, but the process holding it
    // is gone (a restart): nobody can run the task.
    let later = glint_model::time::now() + Duration::from_secs(3600);
    let task_id = orphaned_download(&app, &id, &ended_holder_here(), later).await;
    failed_for_lost_credentials(&app, &id, &task_id).await;
}
