//! What an upload records and refuses after inspecting the data: safety
//! checks for every container format, virtual sizes no column can hold,
//! and the virtual size of empty data.

mod common;

use common::{TestApp, expect_error, id_of, on_every_backend, qcow2_with_backing_file, qemu_img};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A plain qcow2 image of 16 MiB whose header is then made to claim `size`.
fn qcow2_claiming(app: &TestApp, size: u64) -> Vec<u8> {
    let dir = app.scratch_dir();
    qemu_img(dir, &["create", "-q", "-f", "qcow2", "plain.qcow2", "16M"]);
    let mut data = std::fs::read(dir.join("plain.qcow2")).unwrap();
    data[24..32].copy_from_slice(&size.to_be_bytes());
    data
}

async fn create(app: &TestApp, disk: &str, container: &str) -> String {
    let body = json!({"disk_format": disk, "container_format": container});
    id_of(&app.member_of("p1").create_image(body).await)
}

async fn assert_queued_without_data(app: &TestApp, id: &str) {
    let image = app.image(id).await;
    assert_eq!(image["status"], "queued");
    assert_eq!(image["size"], Value::Null);
    assert!(app.store_files().is_empty(), "{:?}", app.store_files());
}

#[tokio::test]
async fn an_unsafe_image_is_refused_whatever_its_container_format() {
    let app = TestApp::new().await;
    let data = qcow2_with_backing_file(app.scratch_dir());
    for container in [
        "bare",
        "ovf",
        "ova",
        "docker",
        "compressed",
        "ami",
        "aki",
        "ari",
    ] {
        for disk in ["qcow2", "raw"] {
            let id = create(&app, disk, container).await;
            let resp = app.member_of("p1").upload(&id, data.clone()).await;
            let message = expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
            assert!(
                message.ends_with("Image fails safety check: image refers to a backing file"),
                "{disk}/{container}: {message}"
            );
            assert_queued_without_data(&app, &id).await;
        }
    }
}

#[tokio::test]
async fn other_containers_still_skip_the_format_match_and_the_virtual_size() {
    let app = TestApp::new().await;
    let dir = app.scratch_dir();
    qemu_img(dir, &["create", "-q", "-f", "qcow2", "disk.qcow2", "16M"]);
    let data = std::fs::read(dir.join("disk.qcow2")).unwrap();
    let id = create(&app, "vmdk", "ova").await;
    app.member_of("p1").upload(&id, data).await;
    let image = app.image(&id).await;
    assert_eq!(image["status"], "active");
    assert_eq!(image["virtual_size"], Value::Null);
}

#[tokio::test]
async fn a_virtual_size_beyond_a_signed_64_bit_column_is_refused() {
    let app = TestApp::new().await;
    for size in [1u64 << 63, u64::MAX] {
        let id = create(&app, "qcow2", "bare").await;
        let resp = app
            .member_of("p1")
            .upload(&id, qcow2_claiming(&app, size))
            .await;
        let message = expect_error(resp, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        assert!(message.contains("virtual size"), "{message}");
        assert_queued_without_data(&app, &id).await;
    }
}

#[tokio::test]
async fn the_largest_virtual_size_is_stored_exactly_on_every_backend() {
    on_every_backend(|app: TestApp| async move {
        let largest = i64::MAX as u64;
        let id = create(&app, "qcow2", "bare").await;
        app.member_of("p1")
            .upload(&id, qcow2_claiming(&app, largest))
            .await;
        let image = app.image(&id).await;
        assert_eq!(image["status"], "active");
        assert_eq!(image["virtual_size"], largest);
        let listed = app
            .admin()
            .list("virtual_size_min=9223372036854775807")
            .await;
        assert_eq!(listed["images"][0]["virtual_size"], largest);
    })
    .await;
}

#[tokio::test]
async fn an_empty_upload_records_no_virtual_size() {
    let app = TestApp::new().await;
    for disk in ["raw", "ami", "ploop"] {
        let id = create(&app, disk, "bare").await;
        app.upload_ok(&id, Vec::<u8>::new()).await;
        let image = app.image(&id).await;
        assert_eq!(image["status"], "active", "{disk}");
        assert_eq!(image["size"], 0, "{disk}");
        assert_eq!(image["virtual_size"], Value::Null, "{disk}");
    }
}
