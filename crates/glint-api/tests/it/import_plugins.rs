//! The import plugins (`[image_import_opts] image_import_plugins`) on
//! glance-direct and web-download imports: decompression, conversion by
//! qemu-img, metadata injection, their order and their failures.

use crate::common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::{TestApp, expect_status, noise};
use glint_core::{ImportPlugin, PluginSettings};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::{Value, json};

fn settings(plugins: &[ImportPlugin]) -> PluginSettings {
    PluginSettings {
        plugins: plugins.to_vec(),
        ..PluginSettings::default()
    }
}

async fn app_with(plugins: PluginSettings) -> TestApp {
    TestApp::builder().import_plugins(plugins).start().await
}

/// Creates an image with these formats as `caller`, stages `data` and
/// starts a glance-direct import; returns the image id.
async fn stage_and_import(
    caller: common::Caller<'_>,
    disk_format: &str,
    container_format: &str,
    data: Vec<u8>,
) -> String {
    let image = caller
        .create_image(json!({
            "name": "plugged", "disk_format": disk_format, "container_format": container_format
        }))
        .await;
    let id = image["id"].as_str().unwrap().to_owned();
    let resp = caller
        .put(&format!("/v2/images/{id}/stage"))
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(data)
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::NO_CONTENT).await;
    let resp = caller
        .post(&format!("/v2/images/{id}/import"))
        .json(&json!({"method": {"name": "glance-direct"}}))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::ACCEPTED).await;
    id
}

/// The image's import task once it has ended.
async fn finished_task(app: &TestApp, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let resp = app
            .admin()
            .get(&format!("/v2/images/{id}/tasks"))
            .send()
            .await
            .unwrap();
        let body: Value = serde_json::from_str(&expect_status(resp, StatusCode::OK).await).unwrap();
        if let Some(task) = body["tasks"].as_array().and_then(|t| {
            t.iter()
                .find(|t| t["status"] == "success" || t["status"] == "failure")
        }) {
            return task.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no finished task: {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The import succeeded: the image is active with `data` stored.
async fn assert_imported(app: &TestApp, id: &str, data: &[u8]) -> Value {
    let task = finished_task(app, id).await;
    assert_eq!(task["status"], "success", "{task:#}");
    let image = app.image(id).await;
    assert_eq!(image["status"], "active", "{image:#}");
    assert_eq!(image["size"], data.len(), "{image:#}");
    assert_eq!(image["checksum"], common::md5_hex(data));
    assert_eq!(image["os_hash_value"], common::sha512_hex(data));
    let resp = app
        .get(&format!("/v2/images/{id}/file"))
        .send()
        .await
        .unwrap();
    assert!(
        resp.bytes().await.unwrap().as_ref() == data,
        "stored data differs"
    );
    assert_eq!(app.staged_files(), Vec::<String>::new());
    image
}

/// The import failed with `message`: the image is back to queued, with no
/// staged or stored data left.
async fn assert_failed(app: &TestApp, id: &str, message: &str) -> Value {
    let task = finished_task(app, id).await;
    assert_eq!(task["status"], "failure", "{task:#}");
    let got = task["message"].as_str().unwrap_or_default();
    assert!(
        got.contains(message),
        "task message {got:?}, expected {message:?}"
    );
    let image = app
        .wait_for_image(id, Duration::from_secs(5), |i| i["status"] == "queued")
        .await;
    assert!(image.get("os_glance_import_task").is_none(), "{image:#}");
    assert_eq!(app.staged_files(), Vec::<String>::new());
    assert_eq!(app.store_files(), Vec::<String>::new());
    image
}

struct Tools {
    dir: tempfile::TempDir,
}

impl Tools {
    fn new() -> Self {
        Tools {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, data: &[u8]) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, data).unwrap();
        path
    }

    /// Runs `program args` in the work directory; panics unless it succeeds.
    fn run(&self, program: &str, args: &[&str]) {
        let out = Command::new(program)
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .unwrap_or_else(|e| panic!("run {program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// `data` compressed by the command-line tool of `kind`.
    fn compressed(&self, kind: &str, data: &[u8]) -> Vec<u8> {
        self.write("payload", data);
        let out = match kind {
            "gzip" => {
                self.run("gzip", &["-kf", "payload"]);
                "payload.gz"
            }
            "zip" => {
                self.run("zip", &["-q", "one.zip", "payload"]);
                "one.zip"
            }
            "zstd" => {
                self.run("zstd", &["-qf", "payload", "-o", "payload.zst"]);
                "payload.zst"
            }
            "xz" => {
                self.run("xz", &["-kf", "payload"]);
                "payload.xz"
            }
            other => panic!("no tool for {other}"),
        };
        std::fs::read(self.path(out)).unwrap()
    }

    /// A qcow2 image of `raw` made by qemu-img.
    fn qcow2_of(&self, raw: &[u8], extra: &[&str]) -> Vec<u8> {
        self.write("source.raw", raw);
        let mut args = vec!["convert", "-q", "-f", "raw", "-O", "qcow2"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["source.raw", "out.qcow2"]);
        self.run("qemu-img", &args);
        std::fs::read(self.path("out.qcow2")).unwrap()
    }
}

fn is_qcow2(data: &[u8]) -> bool {
    data.starts_with(b"QFI\xfb")
}

#[tokio::test]
async fn compressed_images_are_decompressed_and_activated_on_every_database() {
    let tools = Tools::new();
    let payload = noise(300_000, 5);
    for backend in common::Backend::configured() {
        let app = TestApp::builder()
            .backend(backend.clone())
            .import_plugins(settings(&[ImportPlugin::Decompression]))
            .start()
            .await;
        for kind in ["gzip", "zip", "zstd", "xz"] {
            let archive = tools.compressed(kind, &payload);
            assert_ne!(archive, payload);
            let id = stage_and_import(app.admin(), "raw", "bare", archive).await;
            let image = assert_imported(&app, &id, &payload).await;
            assert_eq!(image["disk_format"], "raw", "{backend:?} {kind}");
            assert_eq!(image["virtual_size"], payload.len(), "{backend:?} {kind}");
        }
    }
}

#[tokio::test]
async fn uncompressed_and_compressed_container_images_are_left_as_they_are() {
    let tools = Tools::new();
    let app = app_with(settings(&[ImportPlugin::Decompression])).await;
    let plain = noise(50_000, 1);
    let id = stage_and_import(app.admin(), "raw", "bare", plain.clone()).await;
    assert_imported(&app, &id, &plain).await;
    // container_format compressed: the archive is the image.
    let archive = tools.compressed("gzip", &plain);
    let id = stage_and_import(app.admin(), "raw", "compressed", archive.clone()).await;
    assert_imported(&app, &id, &archive).await;
}

#[tokio::test]
async fn lha_archives_are_refused() {
    let app = app_with(settings(&[ImportPlugin::Decompression])).await;
    let mut lha = b"\x2a\x00-lh5-".to_vec();
    lha.extend(noise(1000, 2));
    let id = stage_and_import(app.admin(), "raw", "bare", lha).await;
    assert_failed(&app, &id, "LHA archives are not supported").await;
}

#[tokio::test]
async fn zip_archives_of_several_files_are_refused() {
    let tools = Tools::new();
    tools.write("a", &noise(1000, 1));
    tools.write("b", &noise(1000, 2));
    tools.run("zip", &["-q", "two.zip", "a", "b"]);
    let two = std::fs::read(tools.path("two.zip")).unwrap();
    let app = app_with(settings(&[ImportPlugin::Decompression])).await;
    let id = stage_and_import(app.admin(), "raw", "bare", two).await;
    assert_failed(&app, &id, "Archive contains more than one file.").await;
}

#[tokio::test]
async fn a_decompression_bomb_stops_at_the_image_size_cap() {
    let tools = Tools::new();
    for kind in ["gzip", "zstd", "xz", "zip"] {
        let bomb = tools.compressed(kind, &vec![0; 4 << 20]);
        assert!(bomb.len() < 100_000, "{kind}: {}", bomb.len());
        let app = TestApp::builder()
            .import_plugins(settings(&[ImportPlugin::Decompression]))
            .image_size_cap(1 << 20)
            .start()
            .await;
        let id = stage_and_import(app.admin(), "raw", "bare", bomb).await;
        assert_failed(&app, &id, "exceeds the size limit of 1048576 bytes").await;
    }
}

#[tokio::test]
async fn corrupt_archives_fail_the_import() {
    let tools = Tools::new();
    let app = app_with(settings(&[ImportPlugin::Decompression])).await;
    let archive = tools.compressed("gzip", &noise(100_000, 3));
    let id = stage_and_import(
        app.admin(),
        "raw",
        "bare",
        archive[..archive.len() / 2].to_vec(),
    )
    .await;
    assert_failed(&app, &id, "corrupt gzip data").await;
}

fn conversion() -> PluginSettings {
    settings(&[ImportPlugin::Conversion])
}

/// Conversion whose qemu-img cannot be run: proof that it was never
/// started when the import fails with another reason.
fn conversion_without_qemu_img() -> PluginSettings {
    let mut plugins = conversion();
    plugins.conversion.qemu_img = PathBuf::from("/nonexistent/qemu-img");
    plugins
}

#[tokio::test]
async fn qcow2_is_converted_to_raw_with_the_checksum_of_the_raw_data() {
    let tools = Tools::new();
    let raw = noise(3 << 20, 8);
    let qcow2 = tools.qcow2_of(&raw, &[]);
    assert!(is_qcow2(&qcow2));
    let app = app_with(conversion()).await;
    let id = stage_and_import(app.admin(), "qcow2", "bare", qcow2).await;
    let image = assert_imported(&app, &id, &raw).await;
    assert_eq!(image["disk_format"], "raw");
    assert_eq!(image["container_format"], "bare");
    assert_eq!(image["virtual_size"], raw.len());
}

#[tokio::test]
async fn an_image_already_in_the_output_format_is_not_converted() {
    let app = app_with(conversion_without_qemu_img()).await;
    let raw = noise(100_000, 4);
    let id = stage_and_import(app.admin(), "raw", "bare", raw.clone()).await;
    assert_imported(&app, &id, &raw).await;
}

#[tokio::test]
async fn a_failed_conversion_returns_the_image_to_queued_without_its_data() {
    let tools = Tools::new();
    let qcow2 = tools.qcow2_of(&noise(1 << 20, 8), &[]);
    let mut plugins = conversion();
    // Too little address space for qemu-img to even start.
    plugins.conversion.limits.address_space = 1 << 20;
    let app = app_with(plugins).await;
    let id = stage_and_import(app.admin(), "qcow2", "bare", qcow2).await;
    let image = assert_failed(&app, &id, "Image conversion failed").await;
    assert_eq!(image["disk_format"], "qcow2");
}

#[tokio::test]
async fn a_conversion_past_its_wall_clock_limit_is_killed_and_fails() {
    let tools = Tools::new();
    let qcow2 = tools.qcow2_of(&noise(1 << 20, 8), &[]);
    let mut plugins = conversion();
    plugins.conversion.limits.timeout = Duration::ZERO;
    let app = app_with(plugins).await;
    let id = stage_and_import(app.admin(), "qcow2", "bare", qcow2).await;
    assert_failed(&app, &id, "Image conversion timed out").await;
}

#[tokio::test]
async fn a_qcow2_with_a_backing_file_is_refused_before_conversion() {
    let tools = Tools::new();
    tools.run(
        "qemu-img",
        &["create", "-q", "-f", "qcow2", "base.qcow2", "1M"],
    );
    tools.run(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-b",
            "base.qcow2",
            "-F",
            "qcow2",
            "top.qcow2",
        ],
    );
    let top = std::fs::read(tools.path("top.qcow2")).unwrap();
    let app = app_with(conversion_without_qemu_img()).await;
    let id = stage_and_import(app.admin(), "qcow2", "bare", top).await;
    assert_failed(&app, &id, "Image has disallowed configuration").await;
}

#[tokio::test]
async fn a_qcow2_with_an_external_data_file_is_refused_before_conversion() {
    let tools = Tools::new();
    tools.run(
        "qemu-img",
        &[
            "create",
            "-q",
            "-f",
            "qcow2",
            "-o",
            "data_file=disk.data",
            "disk.qcow2",
            "1M",
        ],
    );
    let image = std::fs::read(tools.path("disk.qcow2")).unwrap();
    let app = app_with(conversion_without_qemu_img()).await;
    let id = stage_and_import(app.admin(), "qcow2", "bare", image).await;
    assert_failed(&app, &id, "Image has disallowed configuration").await;
}

#[tokio::test]
async fn data_that_is_not_its_disk_format_is_refused_before_conversion() {
    let tools = Tools::new();
    let qcow2 = tools.qcow2_of(&noise(100_000, 1), &[]);
    let app = app_with(conversion_without_qemu_img()).await;
    let id = stage_and_import(app.admin(), "vmdk", "bare", qcow2).await;
    assert_failed(&app, &id, "Image format mismatch").await;
    let id = stage_and_import(app.admin(), "qcow2", "bare", noise(100_000, 1)).await;
    assert_failed(&app, &id, "Image format mismatch").await;
}

fn injecting() -> PluginSettings {
    let mut plugins = settings(&[ImportPlugin::InjectMetadata]);
    plugins.inject.inject = vec![
        ("hw_watchdog_action".into(), "reset".into()),
        ("os_glance_secret".into(), "dropped".into()),
    ];
    plugins
}

#[tokio::test]
async fn metadata_is_injected_unless_the_caller_has_an_ignored_role() {
    for backend in common::Backend::configured() {
        let app = TestApp::builder()
            .backend(backend.clone())
            .import_plugins(injecting())
            .start()
            .await;
        let data = noise(10_000, 6);
        let id = stage_and_import(app.member_of("tenant"), "raw", "bare", data.clone()).await;
        let image = assert_imported(&app, &id, &data).await;
        assert_eq!(
            image["hw_watchdog_action"], "reset",
            "{backend:?} {image:#}"
        );
        assert!(image.get("os_glance_secret").is_none(), "{image:#}");
        // The roles kept for the plugin are not part of the task's input.
        let task = finished_task(&app, &id).await;
        let shown = app
            .admin()
            .get(&format!("/v2/tasks/{}", task["id"].as_str().unwrap()))
            .send()
            .await
            .unwrap();
        let shown: Value =
            serde_json::from_str(&expect_status(shown, StatusCode::OK).await).unwrap();
        assert_eq!(
            shown["input"]
                .as_object()
                .unwrap()
                .keys()
                .collect::<Vec<_>>(),
            vec!["image_id", "import_req", "backend"],
            "{shown:#}"
        );

        // admin is ignored by default.
        let id = stage_and_import(app.admin(), "raw", "bare", data.clone()).await;
        let image = assert_imported(&app, &id, &data).await;
        assert!(
            image.get("hw_watchdog_action").is_none(),
            "{backend:?} {image:#}"
        );
    }
}

#[tokio::test]
async fn plugins_run_in_the_configured_order() {
    let tools = Tools::new();
    let raw = noise(1 << 20, 9);
    let qcow2 = tools.qcow2_of(&raw, &[]);
    let packed = tools.compressed("gzip", &qcow2);

    let app = app_with(settings(&[
        ImportPlugin::NoOp,
        ImportPlugin::Decompression,
        ImportPlugin::Conversion,
    ]))
    .await;
    let id = stage_and_import(app.admin(), "qcow2", "bare", packed.clone()).await;
    let image = assert_imported(&app, &id, &raw).await;
    assert_eq!(image["disk_format"], "raw");

    // Converting first sees gzip data, not the qcow2 it claims to be.
    let app = app_with(settings(&[
        ImportPlugin::Conversion,
        ImportPlugin::Decompression,
    ]))
    .await;
    let id = stage_and_import(app.admin(), "qcow2", "bare", packed).await;
    assert_failed(&app, &id, "Image format mismatch").await;
}

async fn serve_bytes(data: Vec<u8>) -> std::net::SocketAddr {
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

#[tokio::test]
async fn a_web_download_lands_in_staging_before_its_plugins_run() {
    let tools = Tools::new();
    let raw = noise(2 << 20, 10);
    let packed = tools.compressed("xz", &tools.qcow2_of(&raw, &[]));
    let addr = serve_bytes(packed).await;
    let lists = glint_store::ImportFilterLists {
        allowed_hosts: vec!["127.0.0.1".into()],
        allowed_ports: Vec::new(),
        ..Default::default()
    };
    let app = TestApp::builder()
        .import_filter(glint_store::ImportFilter::new(&lists).unwrap())
        .import_plugins(settings(&[
            ImportPlugin::Decompression,
            ImportPlugin::Conversion,
        ]))
        .start()
        .await;
    let id = app
        .create_image(json!({"name": "web", "disk_format": "qcow2", "container_format": "bare"}))
        .await;
    let id = id["id"].as_str().unwrap().to_owned();
    let resp = app
        .admin()
        .post(&format!("/v2/images/{id}/import"))
        .json(&json!({"method": {"name": "web-download", "uri": format!("http://{addr}/image")}}))
        .send()
        .await
        .unwrap();
    expect_status(resp, StatusCode::ACCEPTED).await;
    let image = assert_imported(&app, &id, &raw).await;
    assert_eq!(image["disk_format"], "raw");
}
